#!/usr/bin/env bash
# Config.FeatureGates as MarbleRun: POST /api/v2/sign-quote (SignQuoteEndpoint)
# and POST /api/v2/monotonic-counter (MonotonicCounter) answer 403 while their
# gate is off; AzureHSMSealing is refused at manifest set. The counter is
# authenticated by the marble certificate, survives restart and kill -9 and
# never goes backwards. sign-quote verifies real SGX quotes
# ($CAIRN_SHARED_DIR/testvectors/sgx; skipped without them) and its
# signature is checked with openssl dgst against the Root certificate.
. "$(dirname "$0")/lib.sh"
BODY=""
write_manifest "$WORK/m.json"
jq '.Config.FeatureGates = ["signquoteendpoint", "MONOTONICCOUNTER"]' "$WORK/m.json" >"$WORK/gated.json"
jq '.Config.FeatureGates = ["SignQuoteEndpoint", "AzureHSMSealing"]' "$WORK/m.json" >"$WORK/hsm.json"

# gates off: 403
start_coord off
set_manifest_file "$WORK/m.json"
check "manifest without gates set" eq "$CODE" 200
req POST /api/v2/sign-quote -d '{"sgxQuote":"AAAA"}'
check "sign-quote without its gate: 403 error" eq "$CODE $(jqv .status)" "403 error"
check "... MarbleRun's message" eq "$(jqv .message)" "SignQuoteEndpoint feature is not enabled in the manifest"
req POST /api/v2/monotonic-counter -d '{"name":"c","value":1}'
check "monotonic-counter without its gate: 403 error" eq "$CODE $(jqv .status)" "403 error"
check "... MarbleRun's message" eq "$(jqv .message)" "MonotonicCounter feature is not enabled in the manifest"
stop_coord

# a gate Cairn does not implement is refused, never ignored
start_coord hsm
set_manifest_file "$WORK/hsm.json"
check "AzureHSMSealing: manifest refused (400 fail)" eq "$CODE $(jqv .status)" "400 fail"
check "... naming the gate" contains "$(jqv .message)" "feature gate AzureHSMSealing is not supported by Cairn"
req GET /api/v2/status
check "... state stays 2" eq "$(jqv .data.code)" 2
stop_coord

start_coord on
req POST /api/v2/sign-quote -d '{"sgxQuote":"AAAA"}'
check "state 2 (no manifest): sign-quote 403" eq "$CODE" 403
set_manifest_file "$WORK/gated.json"
check "manifest with both gates (any case) set" eq "$CODE" 200

# ---- monotonic counter ----
# a marble's credentials as MarbleRun's marbles hold them after activation
marble_creds() {   # marble_creds NAME UUID: certificate chain and key of one activation
  "$TOOL" "$MESH" free --uuid "$2" >"$WORK/$1.out"
  sed 1d "$WORK/$1.out" | jq -r .data.env.MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN | base64 -d >"$WORK/$1.crt"
  sed 1d "$WORK/$1.out" | jq -r .data.env.MARBLE_PREDEFINED_PRIVATE_KEY | base64 -d >"$WORK/$1.key"
}
marble_creds m1 11111111-2222-3333-4444-555555555555
marble_creds m2 66666666-2222-3333-4444-555555555555
check "marble credentials obtained" bash -c "grep -q 'BEGIN CERTIFICATE' '$WORK/m1.crt' && grep -q 'PRIVATE KEY' '$WORK/m1.key'"
ctr() {   # ctr MARBLE BODY [curl args]: POST /api/v2/monotonic-counter with the marble's certificate
  local m=$1 b=$2; shift 2
  CODE=$(curl -sk --cert "$WORK/$m.crt" --key "$WORK/$m.key" -o "$WORK/body" -w '%{http_code}' \
    -H 'Content-Type: application/json' -d "$b" "https://$CLIENT/api/v2/monotonic-counter" "$@" || true)
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
req POST /api/v2/monotonic-counter -d '{"name":"foo","value":2}'
check "counter without a client certificate: 401 fail" eq "$CODE $(jqv .status)" "401 fail"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/x.key" -out "$WORK/x.crt" \
  -subj /CN=11111111-2222-3333-4444-555555555555 -days 2 2>/dev/null
ctr x '{"name":"foo","value":2}'
check "counter with a certificate not signed by the Marble Root: 401 fail" eq "$CODE $(jqv .status)" "401 fail"
ctr m1 '{"name":"foo","value":2}'
check "counter foo := 2 answers the previous value 0 (MarbleRun's test)" eq "$CODE $(jqv .data.value)" "200 0"
ctr m1 '{"name":"foo","value":3}'
check "counter foo := 3 answers 2" eq "$CODE $(jqv .data.value)" "200 2"
ctr m1 '{"name":"foo","value":1}'
check "a lower value does not lower it: answers 3" eq "$CODE $(jqv .data.value)" "200 3"
ctr m1 '{"Name":"foo","VALUE":0}'
check "keys any case (Go): still 3" eq "$CODE $(jqv .data.value)" "200 3"
ctr m2 '{"name":"foo","value":7}'
check "another marble (UUID) has its own counter foo" eq "$CODE $(jqv .data.value)" "200 0"
ctr m1 '{"name":"foo","value":-1}'
check "a negative value: 400 fail" eq "$CODE $(jqv .status)" "400 fail"
ctr m1 '{"name":"foo","value":"5"}'
check "a string value: 400 fail" eq "$CODE $(jqv .status)" "400 fail"
ctr m1 "{\"name\":\"$(printf 'n%.0s' $(seq 300))\",\"value\":1}"
check "a name over 256 bytes: refused (400 fail, the state stays bounded)" eq "$CODE $(jqv .status)" "400 fail"
ctr m1 '{"name":"big","value":9223372036854775807}'
check "value 2^63-1 accepted" eq "$CODE" 200
ctr m1 '{"name":"big","value":0}' --tls-max 1.2
# (jq reads numbers as doubles: compare the text)
check "... and read back over TLS 1.2" eq "$CODE $BODY" '200 {"status":"success","data":{"value":9223372036854775807}}'
stop_coord
start_coord on
ctr m1 '{"name":"foo","value":0}'
check "after a restart the counter is 3" eq "$CODE $(jqv .data.value)" "200 3"
# kill -9 after acknowledged increments: never below the last acknowledged value
LAST=3
for i in 1 2 3 4 5; do
  start_coord on
  ( v=$LAST; while :; do v=$((v+1))
      c=$(curl -sk --cert "$WORK/m1.crt" --key "$WORK/m1.key" -o "$WORK/k.body" -w '%{http_code}' \
          -d "{\"name\":\"foo\",\"value\":$v}" "https://$CLIENT/api/v2/monotonic-counter" 2>/dev/null || true)
      [ "$c" = 200 ] && echo "$v" >"$WORK/acked.tmp" && mv "$WORK/acked.tmp" "$WORK/acked" || break
    done ) &
  LOAD=$!
  sleep "0.$(( 2 + RANDOM % 6 ))"
  kill9_coord
  wait "$LOAD" 2>/dev/null || true
  ACKED=$(cat "$WORK/acked" 2>/dev/null || echo "$LAST")
  start_coord on
  ctr m1 '{"name":"foo","value":0}'
  NOW=$(jqv .data.value)
  check "kill -9 round $i: counter $NOW >= last acknowledged $ACKED" test "$CODE" = 200 -a "${NOW:-0}" -ge "$ACKED"
  LAST=$NOW
  stop_coord
done
start_coord on

# ---- sign-quote ----
req POST /api/v2/sign-quote -d 'not json'
check "sign-quote with a broken body: 400 fail" eq "$CODE $(jqv .status)" "400 fail"
check "... data.sgxQuote as MarbleRun" eq "$(jqv .data.sgxQuote)" "failed to parse JSON data"
req POST /api/v2/sign-quote -d '{"sgxQuote":"AAECAwQF"}'
check "sign-quote of garbage: 400 fail 'quote verification failed'" eq "$CODE $(jqv .message)" "400 quote verification failed"
check "... data.sgxQuote says why" contains "$(jqv .data.sgxQuote)" "quote verification failed: "
TV=${CAIRN_SHARED_DIR:-}/testvectors/sgx
if [ -z "${CAIRN_SHARED_DIR:-}" ] || [ ! -f "$TV/mobilecoin_hw_quote.dat" ]; then
  echo "SKIP (partial): \$CAIRN_SHARED_DIR/testvectors/sgx not available: real-quote checks not run"
  stop_coord; finish; exit 0
fi
qbody() { printf '{"sgxQuote":"%s"}' "$(base64 -w0 "$1")"; }
req POST /api/v2/sign-quote -d "$(qbody "$TV/mcsgx_hw_quote.dat")"
check "a real quote without collateral: 400 (no TCB status to sign)" eq "$CODE $(jqv .message)" "400 quote verification failed"
check "... the reason names the missing TCB info" contains "$(jqv .data.sgxQuote)" "no TCB status"
cp "$TV/mcsgx_hw_quote.dat" "$WORK/bad.dat"
printf '\x99' | dd of="$WORK/bad.dat" bs=1 seek=$((0x30)) conv=notrunc status=none
req POST /api/v2/sign-quote -d "$(qbody "$WORK/bad.dat")"
check "a real quote with one byte of the report changed: 400" eq "$CODE $(jqv .message)" "400 quote verification failed"
check "... the signature is named" contains "$(jqv .data.sgxQuote)" "signature"
stop_coord

# a trust directory with the platform's collateral, at the time it was valid
FT=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1; do
  [ -f "$f" ] && FT=$f && break
done
if [ -z "$FT" ]; then
  echo "SKIP (partial): libfaketime (Debian faketime) not installed: signed-quote checks not run"
  finish; exit 0
fi
mkdir -p "$WORK/trust/sgx"
cp "$TV/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json" "$TV/mobilecoin_qe_identity.json" \
   "$TV/mobilecoin_tcb_signer.pem" "$TV/mobilecoin_root_crl.der" "$WORK/trust/sgx/"
# (under ASan libfaketime is preloaded before the ASan runtime: allow that)
ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" LD_PRELOAD=$FT FAKETIME="@2023-07-12 20:48:25" \
  FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_DONT_RESET=1 start_coord sq --trust-dir "$WORK/trust"
set_manifest_file "$WORK/gated.json"
check "time-shifted Coordinator with the collateral: manifest set" eq "$CODE" 200
req GET /api/v2/quote
printf '%s' "$BODY" | jq -r .data.cert >"$WORK/chain.pem"
# the Root is the second certificate of the chain (Intermediate, Root)
awk '/BEGIN CERT/{n++} n==2' "$WORK/chain.pem" >"$WORK/root.pem"
openssl x509 -in "$WORK/root.pem" -pubkey -noout >"$WORK/root.pub"
check "Root certificate extracted" grep -q "BEGIN PUBLIC KEY" "$WORK/root.pub"
sign_and_verify() {   # sign_and_verify DESC QUOTEFILE
  req POST /api/v2/sign-quote -d "$(qbody "$2")"
  check "$1: 200 success" eq "$CODE $(jqv .status)" "200 success"
  check "$1: TCB status from the TCB info" eq "$(jqv .data.tcbStatus)" "SWHardeningNeeded"
  jqv .data.verificationSignature | base64 -d >"$WORK/sig.der"
  { base64 -w0 "$2"; printf '%s' "$(jqv .data.tcbStatus)"; } >"$WORK/signed.txt"
  check "$1: openssl verifies ECDSA(root, SHA-256(base64(quote) || tcbStatus))" \
    openssl dgst -sha256 -verify "$WORK/root.pub" -signature "$WORK/sig.der" "$WORK/signed.txt"
  { base64 -w0 "$2"; printf 'UpToDate'; } >"$WORK/forged.txt"
  check "$1: the signature does not verify with another status" \
    bash -c "! openssl dgst -sha256 -verify '$WORK/root.pub' -signature '$WORK/sig.der' '$WORK/forged.txt' >/dev/null 2>&1"
}
sign_and_verify "raw DCAP quote (Gramine/Occlum form)" "$TV/mobilecoin_hw_quote.dat"
n=$(stat -c %s "$TV/mobilecoin_hw_quote.dat")
{ printf '\x01\x00\x00\x00\x02\x00\x00\x00'; printf "\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8)))\\x00\\x00\\x00\\x00\\x00\\x00"; cat "$TV/mobilecoin_hw_quote.dat"; } >"$WORK/oe.dat"
sign_and_verify "quote behind Open Enclave's header (EGo form)" "$WORK/oe.dat"
req POST /api/v2/sign-quote -d "$(qbody "$TV/steward_icelake_xeon_quote.dat")"
check "a quote of another platform (no TCB info for its FMSPC): 400" eq "$CODE" 400
finish
