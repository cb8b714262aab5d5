#!/usr/bin/env bash
# Signed PCR policies (docs/confidential-containers.md "Pin a UKI"), end to end
# with implementations we did not write on the other side:
#   swtpm (direct child, ephemeral loopback ports) + tpm2-tools: an ECC AK,
#   certified by a test CA (openssl); a UKI (ld + objcopy) carrying .pcrpkey;
#   systemd-measure sign (systemd 252, through the swtpm) signs its PCR 11
#   policies; PCR 11 of the swtpm is extended exactly as systemd-stub and
#   systemd extend it (section names with NUL, contents, phase words);
#   tpm2_quote quotes it; `cairn evidence verify --pcr-signature --policy`
#   with the package `cairn tpm predict --pin-pcrpkey` wrote must accept each
#   signed phase and refuse: PCR 11 before any phase word and after a phase
#   nobody signed, a signature file made with another key, no signature file.
#   The quoted PCR 11 also equals `cairn tpm predict`'s value, and the
#   PCR-value package of `cairn tpm predict` accepts the same quote.
# Usage: test_tpm_pcrsig.sh BIN_DIR. Exit 77 (skip) when a tool is missing.
set -uo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
MEASURE=/usr/lib/systemd/systemd-measure
[ -x "$MEASURE" ] || { echo "SKIP: $MEASURE is not installed (Debian package systemd)"; exit 77; }
for t in swtpm tpm2_createek tpm2_createak tpm2_evictcontrol tpm2_readpublic tpm2_pcrextend tpm2_quote tpm2_pcrread openssl jq \
  sha256sum ld objcopy cc; do
  command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed"; exit 77; }
done
[ -x "$BIN/cairn" ] || { echo "SKIP: $BIN/cairn is not built"; exit 77; }

T0=$(date +%s%N)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-pcrsig.XXXXXX")
PIDS=()
FAILS=0
CHECKS=0
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done   # only what this script started
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ $rc -ne 0 ] || [ $FAILS -ne 0 ]; then
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $(basename "$f")"; tail -n 15 "$f"; }; done
  fi
  rm -rf "$WORK"
  [ $FAILS -eq 0 ] || exit 1
  exit $rc
}
trap cleanup EXIT
ok() { CHECKS=$((CHECKS + 1)); echo "ok   $*"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*"; }
die() { bad "$*"; exit 1; }

# swtpm_start, tpm_make_ak, tpm_test_ca, tpm_certify_ak (use WORK and PIDS)
source "$(dirname "$0")/../lib/swtpm.sh"

# ---- swtpm on a free port pair (lib/swtpm.sh)
swtpm_start "$WORK/tpmstate" || die "cannot start swtpm"
export TPM2TOOLS_TCTI="$TCTI"
export TSS2_LOG=all+NONE

# ---- AK (ECC, persisted), certified by a test CA
AKH=0x81010003
tpm_make_ak $AKH || die "tpm2-tools: AK creation ($(tail -n 3 "$WORK/tools.log"))"
tpm_test_ca ca "Cairn pcrsig AK CA" && tpm_certify_ak ca "$WORK/ak.pem" "swtpm AK" || die "openssl: CA / AK certificate"

# ---- the UKI: sections + .pcrpkey (the signing key's public half), ld + objcopy
openssl genrsa -out "$WORK/pcr.key" 2048 2>>"$WORK/openssl.log" &&
  openssl rsa -in "$WORK/pcr.key" -pubout -out "$WORK/pcrpkey.pem" 2>>"$WORK/openssl.log" &&
  openssl genrsa -out "$WORK/other.key" 2048 2>>"$WORK/openssl.log" &&
  openssl rsa -in "$WORK/other.key" -pubout -out "$WORK/other.pem" 2>>"$WORK/openssl.log" || die "openssl: PCR keys"
head -c 20000 /dev/urandom >"$WORK/linux"
printf 'ID=cairn\nVERSION_ID=2\n' >"$WORK/osrel"
printf 'console=ttyS0 root=/dev/vda2' >"$WORK/cmdline"
head -c 3000 /dev/urandom >"$WORK/initrd"
printf 'void efi_main(void) {}\n' >"$WORK/stub.c"
cc -c -fPIC -o "$WORK/stub.o" "$WORK/stub.c" 2>>"$WORK/ld.log" &&
  ld -m i386pep --subsystem 10 -e efi_main -o "$WORK/stub.efi" "$WORK/stub.o" 2>>"$WORK/ld.log" &&
  objcopy --add-section .osrel="$WORK/osrel" --change-section-vma .osrel=0x140020000 \
    --add-section .cmdline="$WORK/cmdline" --change-section-vma .cmdline=0x140030000 \
    --add-section .pcrpkey="$WORK/pcrpkey.pem" --change-section-vma .pcrpkey=0x140040000 \
    --add-section .initrd="$WORK/initrd" --change-section-vma .initrd=0x140050000 \
    --add-section .linux="$WORK/linux" --change-section-vma .linux=0x142000000 \
    "$WORK/stub.efi" "$WORK/uki.efi" 2>>"$WORK/ld.log" || die "building the UKI ($(tail -n 2 "$WORK/ld.log"))"
SECS=(--linux="$WORK/linux" --osrel="$WORK/osrel" --cmdline="$WORK/cmdline" --initrd="$WORK/initrd"
  --pcrpkey="$WORK/pcrpkey.pem")

# ---- systemd-measure sign (systemd 252 asks the TPM for the PolicyPCR digest)
"$MEASURE" sign "${SECS[@]}" --bank=sha256 --private-key="$WORK/pcr.key" --public-key="$WORK/pcrpkey.pem" \
  --tpm2-device="$TCTI" --json=short >"$WORK/tpm2-pcr-signature.json" 2>"$WORK/measure.log" ||
  die "systemd-measure sign: $(tail -n 2 "$WORK/measure.log")"
"$MEASURE" sign "${SECS[@]}" --bank=sha256 --private-key="$WORK/other.key" --public-key="$WORK/other.pem" \
  --tpm2-device="$TCTI" --json=short >"$WORK/other-signature.json" 2>>"$WORK/measure.log" ||
  die "systemd-measure sign (other key): $(tail -n 2 "$WORK/measure.log")"
[ "$(jq '.sha256 | length' "$WORK/tpm2-pcr-signature.json")" = 4 ] &&
  ok "systemd-measure sign: 4 signed sha256 PCR 11 policies (the default phases)" || die "signature file"

# ---- the packages cairn writes
"$BIN/cairn" tpm predict --uki "$WORK/uki.efi" --pin-pcrpkey --ak-root "$WORK/ca.pem" >"$WORK/pkg-signed.json" \
  2>"$WORK/predict.log" || die "cairn tpm predict --pin-pcrpkey: $(cat "$WORK/predict.log")"
[ "$(jq -r .PCRPublicKey "$WORK/pkg-signed.json")" = "$(cat "$WORK/pcrpkey.pem")" ] && [ "$(jq -r '.PCRs' "$WORK/pkg-signed.json")" = null ] &&
  ok "package pins the UKI's .pcrpkey (no PCR values)" || bad "package: $(cat "$WORK/pkg-signed.json")"
"$BIN/cairn" tpm predict --uki "$WORK/uki.efi" --bank sha256 --ak-root "$WORK/ca.pem" >"$WORK/pkg-values.json" 2>>"$WORK/predict.log"
"$BIN/cairn" tpm predict --uki "$WORK/uki.efi" --bank sha256 --json >"$WORK/predicted.json"
# a package of another UKI's key
jq --arg k "$(cat "$WORK/other.pem")" '.PCRPublicKey = $k' "$WORK/pkg-signed.json" >"$WORK/pkg-otherkey.json"

# ---- PCR 11 as the stub and systemd extend it
ext() { tpm2_pcrextend "11:sha256=$1" >>"$WORK/tools.log" 2>&1 || die "tpm2_pcrextend"; }
for s in linux osrel cmdline initrd pcrpkey; do   # the stub's order, not the file's
  f="$WORK/$s"
  [ $s = pcrpkey ] && f="$WORK/pcrpkey.pem"
  ext "$(printf '.%s\0' $s | sha256sum | cut -d' ' -f1)"
  ext "$(sha256sum <"$f" | cut -d' ' -f1)"
done

N=0
quote() {   # quote -> $WORK/q.{msg,sig,pcrs}, nonce $NONCE
  N=$((N + 1))
  NONCE=$(printf 'cairn pcrsig %d' $N | sha256sum | cut -c1-32)
  (cd "$WORK" && tpm2_quote -c $AKH -l sha256:11 -q "$NONCE" -m q.msg -s q.sig -f plain -o q.pcrs -F values \
    -g sha256) >>"$WORK/tools.log" 2>&1 || die "tpm2_quote"
  # -F values is the raw 32-byte value; the CLI takes PCR values as JSON
  QPCR=$(od -An -tx1 -v "$WORK/q.pcrs" | tr -d ' \n')
  printf '{"hash_alg": "sha256", "pcrs": {"11": "%s"}}\n' "$QPCR" >"$WORK/q.pcrs.json"
}
verify() {   # verify POLICY [SIGFILE] -> exit code, output in $WORK/v.out
  local extra=()
  [ -n "${2:-}" ] && extra=(--pcr-signature "$2")
  "$BIN/cairn" evidence verify --type tpm "$WORK/q.msg" --signature "$WORK/q.sig" --pcrs "$WORK/q.pcrs.json" \
    --ak "$WORK/ak-pub.pem" --cert "$WORK/ak.pem" --nonce "$NONCE" --policy "$1" "${extra[@]}" >"$WORK/v.out" 2>&1
}
accept() {   # accept DESC POLICY SIGFILE
  if verify "$2" "$3"; then ok "accepted: $1"; else bad "$1: $(tail -c 300 "$WORK/v.out")"; fi
}
refuse() {   # refuse DESC PATTERN POLICY [SIGFILE]
  if verify "$3" "${4:-}"; then bad "$1: accepted"; elif grep -q -- "$2" "$WORK/v.out"; then
    ok "refused: $1 ($(grep -o -- "$2.*" "$WORK/v.out" | head -n 1 | head -c 140))"
  else bad "$1: $(tail -c 300 "$WORK/v.out")"; fi
}

quote
refuse "PCR 11 after the sections, before any phase word" "signs no sha256 policy for the quoted PCR 11" \
  "$WORK/pkg-signed.json" "$WORK/tpm2-pcr-signature.json"
i=0
for w in enter-initrd leave-initrd sysinit ready; do
  ext "$(printf '%s' $w | sha256sum | cut -d' ' -f1)"
  quote
  accept "phase $(jq -r ".sha256[$i].phase" "$WORK/predicted.json") (signed)" "$WORK/pkg-signed.json" \
    "$WORK/tpm2-pcr-signature.json"
  i=$((i + 1))
done
GOT=$QPCR
WANT=$(jq -r '.sha256[3].hash' "$WORK/predicted.json")
[ -n "$GOT" ] && [ "$GOT" = "$WANT" ] && ok "the quoted PCR 11 at ready equals cairn tpm predict ($WANT)" ||
  bad "PCR 11 $GOT, predicted $WANT"
accept "PCR-value package (cairn tpm predict --bank sha256) on the same quote" "$WORK/pkg-values.json" ""
refuse "a signature file made with another key" "pkfp differs" "$WORK/pkg-signed.json" "$WORK/other-signature.json"
refuse "a package pinning another key" "pkfp differs" "$WORK/pkg-otherkey.json" "$WORK/tpm2-pcr-signature.json"
refuse "no signature file" "none given" "$WORK/pkg-signed.json"
# a forged signature on the right policy: flip a base64 character of the ready entry's sig
jq -c '.sha256[3].sig |= (if startswith("A") then "B" + .[1:] else "A" + .[1:] end)' \
  "$WORK/tpm2-pcr-signature.json" >"$WORK/forged.json"
refuse "a forged signature over the quoted value's policy" "does not verify" "$WORK/pkg-signed.json" "$WORK/forged.json"
ext "$(printf 'shutdown' | sha256sum | cut -d' ' -f1)"
quote
refuse "PCR 11 after a phase nobody signed (shutdown)" "signs no sha256 policy" "$WORK/pkg-signed.json" \
  "$WORK/tpm2-pcr-signature.json"
refuse "PCR-value package after shutdown" "PCRs.sha256.11 mismatch" "$WORK/pkg-values.json" ""

echo "$CHECKS checks, $FAILS failed, $(( ($(date +%s%N) - T0) / 1000000 )) ms"
[ $FAILS -eq 0 ]
