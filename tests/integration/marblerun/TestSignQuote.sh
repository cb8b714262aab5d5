#!/usr/bin/env bash
# MarbleRun TestSignQuote. MarbleRun skips it in simulation: it needs a valid
# SGX quote to sign and takes the Coordinator's own, which a simulation
# Coordinator does not have. Here the valid quote is a stored real SGX DCAP quote
# ($CAIRN_SHARED_DIR/testvectors/sgx, in the Open Enclave-header form an EGo
# Coordinator's quote has), verified with its platform's collateral through
# the trust directory at the time the collateral was valid (libfaketime).
# FeatureGates ["SignQuoteEndpoint"]; cases as MarbleRun's:
#   valid:          sign; api.VerifySignedQuote(root, quote, sig, status) holds;
#                   it fails for status+1 (ego's tcbstatus order) and for a
#                   signature with byte 2 flipped
#   invalid quote:  byte 453 flipped (the quote signature): sign refused
#   invalid root:   a valid but different root (same CN and DNS names):
#                   verification fails
# VerifySignedQuote = ECDSA-verify(root key, SHA-256(base64(quote) || status)),
# done with openssl.
. "$(dirname "$0")/lib.sh"
TV=${CAIRN_SHARED_DIR:-}/testvectors/sgx
if [ -z "${CAIRN_SHARED_DIR:-}" ] || [ ! -f "$TV/mobilecoin_hw_quote.dat" ]; then
  echo "SKIP: \$CAIRN_SHARED_DIR/testvectors/sgx (a real SGX quote and its collateral) not available"; exit 77
fi
FT=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1; do
  [ -f "$f" ] && FT=$f && break
done
[ -n "$FT" ] || { echo "SKIP: libfaketime (Debian faketime) not installed"; exit 77; }

# the quote as an EGo Coordinator's: Open Enclave's 16-byte header + DCAP quote
n=$(stat -c %s "$TV/mobilecoin_hw_quote.dat")
{ printf '\x01\x00\x00\x00\x02\x00\x00\x00'
  printf "\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8)))\\x00\\x00\\x00\\x00\\x00\\x00"
  cat "$TV/mobilecoin_hw_quote.dat"; } >"$WORK/quote.dat"
mkdir -p "$WORK/trust/sgx"
cp "$TV/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json" "$TV/mobilecoin_qe_identity.json" \
   "$TV/mobilecoin_tcb_signer.pem" "$TV/mobilecoin_root_crl.der" "$WORK/trust/sgx/"

render mesh.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
jqf "$WORK/m.json" '.Config.FeatureGates = ["SignQuoteEndpoint"]'
MR_EXTRA_ENV=(CAIRN_TRUST_DIR="$WORK/trust" LD_PRELOAD="$FT" FAKETIME="@2023-07-12 20:48:25"
              FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_DONT_RESET=1
              # a sanitizer build: libfaketime is preloaded before the ASan runtime
              ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
start_coord c
MR_EXTRA_ENV=()
check "VerifyCoordinator: the trusted root" verify_coordinator "$WORK/c"
openssl x509 -in "$WORK/c.root.pem" -pubkey -noout >"$WORK/root.pub"
set_manifest "$WORK/m.json"
check "manifest with FeatureGates [SignQuoteEndpoint] set" eq "$CODE" 200

# sign QUOTEFILE: api.SignQuote -> SIG file, STATUS
sign() {
  req POST /api/v2/sign-quote -H 'Content-Type: application/json' -d "{\"sgxQuote\":\"$(base64 -w0 "$1")\"}"
  STATUS=$(jqv .data.tcbStatus)
  jqv .data.verificationSignature | base64 -d >"$WORK/sig.der" 2>/dev/null || true
  [ "$CODE" = 200 ]
}
# verify_signed PUBKEY QUOTEFILE SIGFILE STATUS: api.VerifySignedQuote
verify_signed() {
  { base64 -w0 "$2"; printf '%s' "$4"; } >"$WORK/signed.txt"
  openssl dgst -sha256 -verify "$1" -signature "$3" "$WORK/signed.txt" >/dev/null 2>&1
}
# ego's tcbstatus.Status order (attestation/tcbstatus): status+1
next_status() {
  local order=(UpToDate OutOfDate Revoked ConfigurationNeeded OutOfDateConfigurationNeeded SWHardeningNeeded
               ConfigurationAndSWHardeningNeeded Unknown) i
  for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && { echo "${order[$((i+1))]:-?}"; return; }; done
  echo "?"
}

echo "# valid"
check "valid: SignQuote succeeds" sign "$WORK/quote.dat"
if [ "$CODE" = 200 ]; then
  check "valid: VerifySignedQuote(root, quote, sig, $STATUS)" verify_signed "$WORK/root.pub" "$WORK/quote.dat" "$WORK/sig.der" "$STATUS"
  check "valid: not for tcbStatus+1 ($(next_status "$STATUS"))" \
    not verify_signed "$WORK/root.pub" "$WORK/quote.dat" "$WORK/sig.der" "$(next_status "$STATUS")"
  cp "$WORK/sig.der" "$WORK/sig.bad"
  printf "\\x$(printf %02x $(( $(od -An -tu1 -j2 -N1 "$WORK/sig.der") ^ 1 )))" | \
    dd of="$WORK/sig.bad" bs=1 seek=2 conv=notrunc status=none
  check "valid: not with signature byte 2 flipped" \
    not verify_signed "$WORK/root.pub" "$WORK/quote.dat" "$WORK/sig.bad" "$STATUS"

  echo "# invalid root"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$WORK/wrong.key" \
    -out "$WORK/wrong.pem" -subj "/CN=MarbleRun Coordinator" -addext "subjectAltName=DNS:localhost" -days 2 2>/dev/null
  openssl x509 -in "$WORK/wrong.pem" -pubkey -noout >"$WORK/wrong.pub"
  check "invalid root: VerifySignedQuote with a different valid root fails" \
    not verify_signed "$WORK/wrong.pub" "$WORK/quote.dat" "$WORK/sig.der" "$STATUS"
fi

echo "# invalid quote"
cp "$WORK/quote.dat" "$WORK/bad.dat"
printf "\\x$(printf %02x $(( $(od -An -tu1 -j453 -N1 "$WORK/quote.dat") ^ 1 )))" | \
  dd of="$WORK/bad.dat" bs=1 seek=453 conv=notrunc status=none
check "invalid quote: the corrupted quote differs in exactly one byte" eq "$(cmp -l "$WORK/quote.dat" "$WORK/bad.dat" | wc -l)" 1
sign "$WORK/bad.dat" || true
check "invalid quote (byte 453 flipped): SignQuote refused (400 fail)" eq "$CODE:$(jqv .status)" "400:fail"
check "... because the quote signature does not verify" contains "$(jqv .data.sgxQuote)" "signature"
finish
