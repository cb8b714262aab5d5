#!/usr/bin/env bash
# TPM end to end through the running system (issue 5 item 5, docs/trust.md):
#   swtpm (direct child, ephemeral loopback ports) -> tpm2-tools make an AK and
#   persist it -> a test CA made with openssl certifies it -> PCR 16 is
#   extended with a known digest -> cairn-coordinator runs WITHOUT --simulation
#   (--insecure-no-tee: no quote of its own, but marble evidence is verified by
#   the hardware path) with a trust directory holding the CA under tpm/roots/ ->
#   cairn-premain (CAIRN_EVIDENCE=tpm, the swtpm TCTI) activates and execs its
#   program; refused and NOT exec'd after PCR 16 changes, with an AK certified
#   by another CA, without an AK certificate, and with "sim" evidence.
#   The Coordinator's metrics count the verifications by type and result.
# Usage: test_tpm_e2e.sh BIN_DIR. Exit 77 (skip) when a tool is missing.
set -uo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
for t in swtpm tpm2_createak tpm2_evictcontrol tpm2_pcrextend tpm2_pcrread openssl curl jq sha256sum; do
  command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed"; exit 77; }
done
for b in cairn-coordinator cairn-premain; do
  [ -x "$BIN/$b" ] || { echo "SKIP: $BIN/$b is not built"; exit 77; }
done

T0=$(date +%s%N)
LIB=$(cd "$(dirname "$0")/../lib" && pwd)
source "$LIB/checks.sh"
source "$LIB/swtpm.sh"
checks_setup cairn-tpm-e2e
ms() { echo $(( ($(date +%s%N) - T0) / 1000000 )); }

# ---- swtpm on a free port pair (lib/swtpm.sh)
swtpm_start "$WORK/tpmstate" || die "cannot start swtpm"
export TPM2TOOLS_TCTI="$TCTI"
export TSS2_LOG=all+NONE

# ---- the AK: ECC, made by tpm2-tools under an ECC EK, persisted at 0x81010002
AKH=0x81010002
tpm_make_ak $AKH ||
  die "tpm2-tools: AK creation ($(tail -n 3 "$WORK/tools.log"))"

# ---- test CAs (openssl) and AK certificates: the good CA and an impostor CA
tpm_test_ca ca "Cairn tpm_e2e AK CA" && tpm_test_ca other "Impostor AK CA" || die "openssl: CA"
tpm_certify_ak ca "$WORK/ak.pem" "swtpm AK" && tpm_certify_ak other "$WORK/ak-other.pem" "swtpm AK" || die "openssl: AK certificates"
# the certificate really carries the TPM's AK (not the dummy CSR key)
[ "$(openssl x509 -in "$WORK/ak.pem" -noout -pubkey)" = "$(cat "$WORK/ak-pub.pem")" ] &&
  ok "AK certificate (openssl CA) holds the TPM's AK public key" || die "AK certificate key"

# ---- PCR 16: extended with a known digest; the expected value computed here
D1=$(printf 'cairn tpm_e2e workload v1' | sha256sum | cut -d' ' -f1)
PCR16=$({ head -c 32 /dev/zero; hexbin "$D1"; } | sha256sum | cut -d' ' -f1)
tpm2_pcrextend 16:sha256="$D1" >>"$WORK/tools.log" 2>&1 || die "tpm2_pcrextend"
READ=$(tpm2_pcrread sha256:16 2>>"$WORK/tools.log" | sed -n 's/.*16 *: *0x\([0-9A-Fa-f]*\).*/\1/p' | tr 'A-F' 'a-f')
[ "$READ" = "$PCR16" ] && ok "PCR16 = SHA-256(0^32 || D1) = ${PCR16:0:16}... (tpm2_pcrread agrees)" ||
  die "PCR16 computed $PCR16, TPM says $READ"

# ---- a TCG event log (crypto-agile, SHA-256 bank) recording D1 on PCR 16,
# as boot firmware or a launcher would: the Coordinator replays it against
# the quoted PCR values
tpm_eventlog_pcr16 "$D1" workload "$WORK/eventlog.bin"
[ "$(stat -c %s "$WORK/eventlog.bin")" = 123 ] || die "event log size $(stat -c %s "$WORK/eventlog.bin")"

# ---- trust directory: the good CA as the TPM AK root
mkdir -p "$WORK/trust/tpm/roots"
cp "$WORK/ca.pem" "$WORK/trust/tpm/roots/ak-ca.pem"

# ---- the Coordinator: real verification path, ephemeral ports
# start_coord NAME [flags]: sets CLIENT MESH METRICS PID
start_coord() {
  local n=$1
  shift
  "$BIN/cairn-coordinator" --insecure-no-tee --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 \
    --metrics-addr 127.0.0.1:0 --seal-dir "$WORK/$n-seal" --ready-file "$WORK/$n.json" --leaf-key-pool 0 \
    --threads 1 "$@" >"$WORK/$n.log" 2>&1 &
  PID=$!
  PIDS+=($PID)
  for _ in $(seq 400); do
    [ -s "$WORK/$n.json" ] && break
    kill -0 $PID 2>/dev/null || break
    sleep 0.05
  done
  [ -s "$WORK/$n.json" ] || return 1
  CLIENT=$(jq -r .client "$WORK/$n.json")
  MESH=$(jq -r .mesh "$WORK/$n.json")
  METRICS=$(jq -r .metrics "$WORK/$n.json")
}

# a bad trust directory: clear error, exit, no listener
mkdir -p "$WORK/badtrust/tpm/roots/nested"
rc=0
"$BIN/cairn-coordinator" --insecure-no-tee --trust-dir "$WORK/badtrust" --client-addr 127.0.0.1:0 \
  --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/bad-seal" --ready-file "$WORK/bad.json" >"$WORK/bad.log" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/bad.json" ] && grep -q "cannot start: --trust-dir" "$WORK/bad.log" &&
  ok "bad trust directory: exit $rc, $(grep -o 'cannot start: .*' "$WORK/bad.log" | head -c 150)" ||
  bad "bad trust directory rc=$rc $(cat "$WORK/bad.log")"
rc=0
"$BIN/cairn-coordinator" --insecure-no-tee --simulation --seal-dir "$WORK/bad-seal" >"$WORK/bad2.log" 2>&1 || rc=$?
[ $rc -eq 78 ] && grep -q "exclude each other" "$WORK/bad2.log" && ok "--insecure-no-tee with --simulation refused" ||
  bad "insecure+simulation rc=$rc"

start_coord A --trust-dir "$WORK/trust" || die "Coordinator A did not start: $(cat "$WORK/A.log")"
PID_A=$PID
grep -q "INSECURE NO-TEE MODE" "$WORK/A.log" && grep -q "trust directory $WORK/trust loaded: {\"tpm\":\[{" "$WORK/A.log" &&
  ok "Coordinator A up (no simulation; logs the trust directory it loaded)" || bad "Coordinator A log: $(cat "$WORK/A.log")"

CA_JSON=$(jq -Rs . "$WORK/ca.pem")
cat >"$WORK/manifest.json" <<JSON
{
  "Packages": {"vm": {"TEE": "tpm", "AKRoots": [$CA_JSON], "PCRs": {"sha256": {"16": "$PCR16"}}}},
  "Marbles": {"app": {"Package": "vm", "Parameters": {"Env": {"FROM_MANIFEST": "tpm-verified"}}}}
}
JSON
set_manifest() {   # set_manifest CLIENT
  curl -sk -o "$WORK/set.out" -w '%{http_code}' -X POST "https://$1/api/v2/manifest" \
    -H 'Content-Type: application/json' -d "{\"manifest\":\"$(base64 -w0 "$WORK/manifest.json")\"}"
}
code=$(set_manifest "$CLIENT")
[ "$code" = 200 ] && ok "manifest with the TPM package set" || die "manifest set: $code $(cat "$WORK/set.out")"
# the Coordinator has no quote of its own in this mode
curl -sk "https://$CLIENT/api/v2/quote" >"$WORK/quote.json"
[ "$(jq -r .data.quote "$WORK/quote.json")" = null ] && ok "Coordinator quote is null (--insecure-no-tee)" ||
  bad "quote: $(head -c 200 "$WORK/quote.json")"
# pin the Coordinator's root for premain (last certificate of the chain)
jq -r .data.cert "$WORK/quote.json" | awk '/BEGIN CERT/{b=""} {b=b $0 "\n"} /END CERT/{last=b} END{printf "%s", last}' \
  >"$WORK/root.pem"

# run_marble NAME [VAR=value...]: premain with TPM evidence; program writes a marker
run_marble() {
  local n=$1
  shift
  mkdir -p "$WORK/m-$n"
  (cd "$WORK/m-$n" && env EDG_MARBLE_TYPE=app EDG_MARBLE_COORDINATOR_ADDR="$MESH" CAIRN_EVIDENCE=tpm \
    CAIRN_TPM_TCTI="$TCTI" CAIRN_TPM_PCRS=sha256:0,16 CAIRN_TPM_AK_CONTEXT=$AKH CAIRN_TPM_AK_CERT="$WORK/ak.pem" \
    CAIRN_COORDINATOR_ROOT_CA="$WORK/root.pem" CAIRN_PREMAIN_RETRIES=3 MARKER="$WORK/m-$n/ran" "$@" \
    "$BIN/cairn-premain" -- /bin/sh -c 'printf %s "$FROM_MANIFEST" >"$MARKER"') >"$WORK/m-$n.log" 2>&1
}
refused() {   # refused NAME RC PATTERN DESCRIPTION
  if [ "$2" -ne 0 ] && [ ! -e "$WORK/m-$1/ran" ] && grep -q "$3" "$WORK/m-$1.log"; then
    ok "$4: refused, not exec'd: $(grep -o 'failed: .*' "$WORK/m-$1.log" | head -c 220)"
  else
    bad "$4: rc=$2 marker=$([ -e "$WORK/m-$1/ran" ] && echo yes || echo no) $(tail -n 3 "$WORK/m-$1.log")"
  fi
}

t=$(date +%s%N)
rc=0; run_marble good CAIRN_TPM_EVENTLOG="$WORK/eventlog.bin" || rc=$?
[ $rc -eq 0 ] && [ "$(cat "$WORK/m-good/ran" 2>/dev/null)" = tpm-verified ] &&
  ok "TPM marble (quote + AK cert + event log) activated via cairn-premain, program ran with the manifest's env ($(( ($(date +%s%N) - t) / 1000000 )) ms)" ||
  bad "TPM marble: rc=$rc $(tail -n 5 "$WORK/m-good.log")"

rc=0; run_marble other CAIRN_TPM_AK_CERT="$WORK/ak-other.pem" || rc=$?
refused other $rc "403.*tpm AK certificate chain" "AK certified by another CA (trust dir roots)"

rc=0; run_marble nocert CAIRN_TPM_AK_CERT= || rc=$?
refused nocert $rc "403.*no AK certificate" "AK without certificate (trust dir has AK roots)"

rc=0; run_marble sim CAIRN_EVIDENCE=sim || rc=$?
refused sim $rc "403.*simulation evidence is not accepted" "\"sim\" evidence"

# ---- clients: the CLI's --trust-dir, libcairn's $CAIRN_TRUST_DIR (premain)
jq '.Packages.vm' "$WORK/manifest.json" >"$WORK/policy.json"
if [ -x "$BIN/cairn" ]; then
  clirun() { XDG_CONFIG_HOME="$WORK/xdg" "$BIN/cairn" "$@" >"$WORK/cli.out" 2>"$WORK/cli.err"; }
  rc=0; clirun status "$CLIENT" --coordinator-policy "$WORK/policy.json" --trust-dir "$WORK/nope" || rc=$?
  [ $rc -ne 0 ] && grep -q "trust directory $WORK/nope: not a directory" "$WORK/cli.err" &&
    ok "cairn --trust-dir (missing): $(head -c 160 "$WORK/cli.err")" || bad "cli missing trust dir rc=$rc $(cat "$WORK/cli.err")"
  rc=0; CAIRN_TRUST_DIR="$WORK/badtrust" clirun status "$CLIENT" --coordinator-policy "$WORK/policy.json" || rc=$?
  [ $rc -ne 0 ] && grep -q "nested: unexpected directory" "$WORK/cli.err" &&
    ok "cairn with CAIRN_TRUST_DIR (bad): refused before contacting the Coordinator" ||
    bad "cli env trust dir rc=$rc $(cat "$WORK/cli.err")"
  # a good directory loads; this Coordinator then has no quote to verify
  rc=0; CAIRN_TRUST_DIR="$WORK/badtrust" clirun status "$CLIENT" --coordinator-policy "$WORK/policy.json" \
    --trust-dir "$WORK/trust" || rc=$?
  [ $rc -ne 0 ] && grep -q "sent no quote" "$WORK/cli.err" &&
    ok "cairn --trust-dir overrides CAIRN_TRUST_DIR; the quote-less Coordinator is still refused" ||
    bad "cli good trust dir rc=$rc $(cat "$WORK/cli.err")"
else
  echo "note: $BIN/cairn not built, CLI checks skipped"
fi
rc=0; run_marble envtrust CAIRN_TRUST_DIR="$WORK/nope" CAIRN_COORDINATOR_POLICY="$WORK/policy.json" \
  CAIRN_COORDINATOR_CLIENT_ADDR="$CLIENT" || rc=$?
refused envtrust $rc "trust directory $WORK/nope: not a directory" "premain with CAIRN_TRUST_DIR (missing)"

# ---- a second Coordinator WITHOUT a trust directory: the package's AKRoots decide
start_coord B || die "Coordinator B did not start: $(cat "$WORK/B.log")"
PID_B=$PID
code=$(set_manifest "$CLIENT")
[ "$code" = 200 ] || die "manifest set on B: $code"
curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert |
  awk '/BEGIN CERT/{b=""} {b=b $0 "\n"} /END CERT/{last=b} END{printf "%s", last}' >"$WORK/root.pem"
rc=0; run_marble b-other CAIRN_TPM_AK_CERT="$WORK/ak-other.pem" || rc=$?
refused b-other $rc "403.*AKRoots" "no trust dir, AK certified by another CA (package AKRoots)"
rc=0; run_marble b-good || rc=$?
[ $rc -eq 0 ] && [ -e "$WORK/m-b-good/ran" ] && ok "no trust dir: the CA's AK accepted through AKRoots" ||
  bad "B good: rc=$rc $(tail -n 3 "$WORK/m-b-good.log")"
METRICS_B=$METRICS
CLIENT_B=$CLIENT

# ---- a third Coordinator whose trust directory also holds the CA's CRL revoking the AK certificate
mkdir -p "$WORK/ca-db" "$WORK/trust-crl/tpm/roots"
: >"$WORK/ca-db/index.txt"
echo 01 >"$WORK/ca-db/crlnumber"
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s\ncrlnumber=%s\ndefault_md=sha256\ndefault_crl_days=1\n' \
  "$WORK/ca-db/index.txt" "$WORK/ca-db/crlnumber" >"$WORK/ca.cnf"
openssl ca -config "$WORK/ca.cnf" -cert "$WORK/ca.pem" -keyfile "$WORK/ca.key" -revoke "$WORK/ak.pem" \
  >>"$WORK/openssl.log" 2>&1 &&
  openssl ca -config "$WORK/ca.cnf" -cert "$WORK/ca.pem" -keyfile "$WORK/ca.key" -gencrl \
    -out "$WORK/trust-crl/tpm/ak-ca.crl" >>"$WORK/openssl.log" 2>&1 || die "openssl: CRL"
cp "$WORK/ca.pem" "$WORK/trust-crl/tpm/roots/"
start_coord C --trust-dir "$WORK/trust-crl" || die "Coordinator C did not start: $(cat "$WORK/C.log")"
PID_C=$PID
grep -q '"kind":"crl"' "$WORK/C.log" && ok "Coordinator C logs the CRL among its trust files" ||
  bad "C did not log the CRL: $(grep trust "$WORK/C.log")"
code=$(set_manifest "$CLIENT")
[ "$code" = 200 ] || die "manifest set on C: $code"
curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert |
  awk '/BEGIN CERT/{b=""} {b=b $0 "\n"} /END CERT/{last=b} END{printf "%s", last}' >"$WORK/root.pem"
rc=0; run_marble c-revoked || rc=$?
refused c-revoked $rc "403.*revoked" "trust dir with the CA's CRL: AK certificate revoked"

# ---- the workload changes: PCR 16 extended again -> refused, naming the PCR
MESH=$(jq -r .mesh "$WORK/A.json")
METRICS=$(jq -r .metrics "$WORK/A.json")
CLIENT=$(jq -r .client "$WORK/A.json")
curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert |
  awk '/BEGIN CERT/{b=""} {b=b $0 "\n"} /END CERT/{last=b} END{printf "%s", last}' >"$WORK/root.pem"
D2=$(printf 'cairn tpm_e2e workload v2' | sha256sum | cut -d' ' -f1)
tpm2_pcrextend 16:sha256="$D2" >>"$WORK/tools.log" 2>&1 || die "tpm2_pcrextend (2)"
rc=0; run_marble changed || rc=$?
refused changed $rc "403.*PCRs.sha256.16 mismatch: expected $PCR16" "PCR16 extended again"
# the old event log no longer replays to the quoted PCR 16: the evidence itself fails
rc=0; run_marble stalelog CAIRN_TPM_EVENTLOG="$WORK/eventlog.bin" || rc=$?
refused stalelog $rc "403.*sha256 PCR 16 replays to" "PCR16 extended again, stale event log"

# ---- metrics: verification counters by type and result
metric() {   # metric URL TYPE RESULT
  curl -s "http://$1/metrics" | sed -n "s/^cairn_evidence_verifications_total{type=\"$2\",result=\"$3\"} //p"
}
a_ok=$(metric "$METRICS" tpm ok); a_fail=$(metric "$METRICS" tpm fail); a_sim=$(metric "$METRICS" sim ok)
# A: good + PCR-changed verified (the PCR refusal is policy); other CA, no cert and the stale
# event log failed verification; "sim" is refused before any verification
[ "$a_ok" = 2 ] && [ "$a_fail" = 3 ] && [ "$a_sim" = 0 ] &&
  ok "A metrics: tpm ok=$a_ok fail=$a_fail, sim ok=$a_sim" || bad "A metrics: tpm ok=$a_ok fail=$a_fail sim=$a_sim"
succ=$(curl -s "http://$METRICS/metrics" | awk '/^coordinator_marble_activations_success_total/ {s+=$2} END{print s+0}')
[ "$succ" = 1 ] && ok "A: exactly 1 successful activation" || bad "A successful activations: $succ"
# informational: server-side time of the successful TPM activation (verification, leaf, secrets)
act_s=$(curl -s "http://$METRICS/metrics" | sed -n 's/^cairn_activation_duration_seconds_sum //p')
echo "info: Coordinator A served the TPM activation in ${act_s:-?} s (cairn_activation_duration_seconds_sum)"
b_ok=$(metric "$METRICS_B" tpm ok); b_fail=$(metric "$METRICS_B" tpm fail)
# B: both verified (no roots configured), the other CA refused by policy
[ "$b_ok" = 2 ] && [ "$b_fail" = 0 ] && ok "B metrics: tpm ok=$b_ok fail=$b_fail" ||
  bad "B metrics: tpm ok=$b_ok fail=$b_fail"
: "$CLIENT_B"

# ---- clean shutdown: exit 0 and, in sanitizer builds, no ASan/LSan/UBSan report
for n in A B C; do
  pv=PID_$n
  kill "${!pv}" 2>/dev/null
  rc=0; wait "${!pv}" || rc=$?
  if [ $rc -eq 0 ] && ! grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$WORK/$n.log"; then
    ok "Coordinator $n: clean shutdown (exit 0, no sanitizer report)"
  else
    bad "Coordinator $n: exit $rc $(grep -m3 -E 'Sanitizer|runtime error' "$WORK/$n.log")"
  fi
done

echo "$CHECKS checks, $FAILS failed, $(ms) ms"
