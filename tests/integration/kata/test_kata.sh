#!/usr/bin/env bash
# `cairn kata policy-hash`: the HostData (SEV-SNP), MRConfigID (TDX) and Azure vTPM PCR 8 of a Kata
# pod's initdata, checked against values computed by other implementations over the same bytes:
# coreutils' sha256sum/sha384sum/sha512sum (then truncated or zero-padded as Kata does), gzip and
# base64 to make the pod annotation, python3's hashlib for PCR 8, and the golden value of Kata's own
# test (src/runtime/pkg/oci/utils_test.go: annotation "H4sIAFlC92c…" -> digest c6694bb7…49e5).
# Usage: test_kata.sh BIN_DIR (or env CAIRN_BIN_DIR).
set -uo pipefail
BIN=${1:-${CAIRN_BIN_DIR:-}}
CAIRN="$BIN/cairn"
[ -x "$CAIRN" ] || { echo "FAIL: no cairn binary at $CAIRN"; exit 1; }
CAIRN=$(cd "$(dirname "$CAIRN")" && pwd)/cairn
command -v jq >/dev/null || { echo "FAIL: jq is required (scripts/install-deps.sh installs it)"; exit 1; }
DATA=$(cd "${CAIRN_TEST_DATA_DIR:-$(dirname "$0")/../../data}" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-kata.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
CHECKS=0
FAILS=0
pass() { CHECKS=$((CHECKS + 1)); }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*"; }
eq() { if [ "$2" == "$3" ]; then pass; echo "ok   $1"; else fail "$1: got '$2', want '$3'"; fi; }
zeros() { head -c "$1" /dev/zero | od -An -tx1 -v | tr -d ' \n'; }
# pad HEX LEN: HEX truncated or zero-padded to LEN bytes (Kata's adjust_digest)
pad() { local h=$1 n=$(($2 * 2)); h="$h$(zeros "$2")"; echo "${h:0:$n}"; }
ph() { "$CAIRN" kata policy-hash --json "$1" >out.json 2>err.txt; }

# 1. Kata's golden value: the annotation of its Go runtime test, sha256 initdata.
echo "H4sIAFlC92cAAytLLSrOzM9TsFVQMtAz1DNQ4krMSc8vyizJyAWJFWckGpmaKXFFpySWJMZyKSUm6pXk5+YoAeXU1dW5QJhLKTklA4toQX5OZnKlXlFqej6yBABS/5JkcQAAAA==" >kata-golden.anno
GOLD=c6694bb7a29d6f37ec72a15582e004b9f3142159682db8509a304407419a49e5
if ph kata-golden.anno; then
  eq "kata golden: algorithm" "$(jq -r .algorithm out.json)" sha256
  eq "kata golden: digest = Kata's InitdataDigest" "$(jq -r .digest out.json)" $GOLD
  eq "kata golden: HostData = the digest" "$(jq -r .HostData out.json)" $GOLD
  eq "kata golden: MRConfigID = digest + 16 zero bytes" "$(jq -r .MRConfigID out.json)" "$(pad $GOLD 48)"
  eq "kata golden: annotation recognised" "$(jq -r .annotation out.json)" true
  P8=$(python3 -c "import hashlib,sys; print(hashlib.sha256(bytes(32)+bytes.fromhex(sys.argv[1])).hexdigest())" $GOLD)
  eq "kata golden: PCR8 = SHA-256(zeros || digest) (python hashlib)" "$(jq -r .PCR8 out.json)" "$P8"
else
  fail "kata golden annotation: $(cat err.txt)"
fi
# the same document decoded by gzip(1): the TOML itself gives the same digest
base64 -d kata-golden.anno | gzip -dc >kata-golden.toml
eq "kata golden: sha256sum of the decoded TOML" "$(sha256sum kata-golden.toml | cut -c1-64)" $GOLD
ph kata-golden.toml && eq "kata golden TOML: digest" "$(jq -r .digest out.json)" $GOLD

# 2. sha384 (our document) and sha512 and sha256 variants: coreutils over the same bytes.
for alg in sha384 sha512 sha256; do
  sed "s/^algorithm = .*/algorithm = \"$alg\"/" "$DATA/kata/initdata.toml" >"$alg.toml"
  want=$(${alg}sum "$alg.toml" | cut -d' ' -f1)
  if ph "$alg.toml"; then
    eq "$alg: digest (${alg}sum)" "$(jq -r .digest out.json)" "$want"
    eq "$alg: HostData (32 bytes)" "$(jq -r .HostData out.json)" "$(pad "$want" 32)"
    eq "$alg: MRConfigID (48 bytes)" "$(jq -r .MRConfigID out.json)" "$(pad "$want" 48)"
  else
    fail "$alg: $(cat err.txt)"
  fi
  # as the pod annotation, made by gzip(1) and base64(1) (wrapped lines are fine)
  gzip -9c "$alg.toml" | base64 >"$alg.anno"
  ph "$alg.anno" && eq "$alg: annotation (gzip | base64) gives the same digest" "$(jq -r .digest out.json)" "$want"
done
eq "sha384: no PCR8 (the vTPM binds sha256 only)" "$(ph sha384.toml; jq -r '.PCR8 // "none"' out.json)" none

# 3. The text form names each value.
"$CAIRN" kata policy-hash "$DATA/kata/initdata.toml" >out.txt 2>err.txt
want=$(sha384sum "$DATA/kata/initdata.toml" | cut -d' ' -f1)
eq "text: HostData line" "$(grep '^HostData' out.txt | awk '{print $NF}')" "$(pad "$want" 32)"
eq "text: MRConfigID line" "$(grep '^MRConfigID' out.txt | awk '{print $NF}')" "$want"

# 4. Refusals: exit 1, one line on stderr naming the cause.
no() {
  local desc=$1 want=$2 file=$3 rc=0
  "$CAIRN" kata policy-hash "$file" >/dev/null 2>err.txt || rc=$?
  if [ $rc -eq 1 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -qE "$want" err.txt; then
    pass; echo "ok   $desc (refused: $(cat err.txt))"
  else
    fail "$desc: exit $rc: $(cat err.txt)"
  fi
}
printf 'package agent_policy\ndefault CreateContainerRequest := true\n' >bare.rego
no "a bare Rego policy (Kata measures the initdata document)" "not a bare policy" bare.rego
sed 's/^version = .*/version = "0.2.0"/' "$DATA/kata/initdata.toml" >v2.toml
no "initdata version 0.2.0" "version \"0.2.0\"" v2.toml
sed 's/^algorithm = .*/algorithm = "md5"/' "$DATA/kata/initdata.toml" >md5.toml
no "algorithm md5" "algorithm \"md5\"" md5.toml
{ echo 'algorithm = "sha256"'; cat "$DATA/kata/initdata.toml"; } >twice.toml
no "algorithm given twice" "given twice" twice.toml
head -c 40 sha384.anno >trunc.anno
no "a truncated annotation" "gzip|base64" trunc.anno
head -c 3000000 /dev/zero | gzip -c | base64 -w0 >bomb.anno
no "an annotation that inflates past 1 MiB" "more than 1048576 bytes" bomb.anno
no "a missing file" "does not exist" "$WORK/absent.toml"

echo "kata policy-hash: $CHECKS checks, $FAILS failures"
[ $FAILS -eq 0 ]
