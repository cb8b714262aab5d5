#!/usr/bin/env bash
# A TPM-backed Coordinator, verified end to end with REAL evidence
# (docs/coordinator-tee.md):
#   swtpm (direct child, ephemeral loopback ports) -> tpm2-tools make an AK and
#   persist it -> a test CA made with openssl certifies it -> PCR 16 extended
#   with a known digest -> cairn-coordinator --tee tpm quotes its root with that
#   AK (startup evidence and fresh evidence per ?nonce=) ->
#   `cairn manifest verify --coordinator-policy` accepts it and caches the
#   root; --nonce gets a fresh quote; a wrong PCR value, another CA, a second
#   Coordinator (new root, "root changed") are refused; cairn-premain with
#   CAIRN_COORDINATOR_POLICY verifies the Coordinator and activates a marble
#   that attests with the same TPM (the Coordinator is not --simulation, so
#   "sim" marble evidence is refused). Restart keeps the key-file sealed state.
# Usage: test_coordinator_tpm.sh BIN_DIR. Exit 77 (skip) when a tool is missing.
set -uo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
for t in swtpm tpm2_createek tpm2_createak tpm2_evictcontrol tpm2_pcrextend tpm2_readpublic openssl curl jq sha256sum; do
  command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed"; exit 77; }
done
for b in cairn-coordinator cairn cairn-premain; do
  [ -x "$BIN/$b" ] || { echo "SKIP: $BIN/$b is not built"; exit 77; }
done

T0=$(date +%s%N)
LIB=$(cd "$(dirname "$0")/../lib" && pwd)
source "$LIB/checks.sh"
source "$LIB/swtpm.sh"
checks_setup cairn-coord-tpm
ms() { echo $(( ($(date +%s%N) - T0) / 1000000 )); }
since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# ---- swtpm on a free port pair (lib/swtpm.sh)
swtpm_start "$WORK/tpmstate" || die "cannot start swtpm"
export TPM2TOOLS_TCTI="$TCTI"
export TSS2_LOG=all+NONE

# ---- the AK: ECC, made by tpm2-tools under an ECC EK, persisted at 0x81010002
AKH=0x81010002
tpm_make_ak $AKH ||
  die "tpm2-tools: AK creation ($(tail -n 3 "$WORK/tools.log"))"

# ---- test CAs (openssl): the good CA and an impostor; the AK certified by the good one
tpm_test_ca ca "Cairn coordinator_tpm AK CA" && tpm_test_ca other "Impostor AK CA" || die "openssl: CA"
tpm_certify_ak ca "$WORK/ak.pem" "swtpm Coordinator AK" || die "openssl: AK certificate"
[ "$(openssl x509 -in "$WORK/ak.pem" -noout -pubkey)" = "$(cat "$WORK/ak-pub.pem")" ] &&
  ok "AK certificate (test CA) holds the TPM's persisted AK public key" || die "AK certificate key"

# ---- PCR 16: extended with a known digest; the expected value computed here
D1=$(printf 'cairn coordinator_tpm platform v1' | sha256sum | cut -d' ' -f1)
PCR16=$({ head -c 32 /dev/zero; hexbin "$D1"; } | sha256sum | cut -d' ' -f1)
tpm2_pcrextend 16:sha256="$D1" >>"$WORK/tools.log" 2>&1 || die "tpm2_pcrextend"
WRONG16=$(printf 'not the platform' | sha256sum | cut -d' ' -f1)

# ---- TCG event logs (crypto-agile, SHA-256 bank) with one EV_IPL event on PCR 16:
# one recording D1 (replays to the quoted PCR 16), one recording another digest
tpm_eventlog_pcr16 "$D1" platform "$WORK/eventlog.bin"
tpm_eventlog_pcr16 "$WRONG16" platform "$WORK/eventlog-stale.bin"
[ "$(stat -c %s "$WORK/eventlog.bin")" = 123 ] || die "event log size $(stat -c %s "$WORK/eventlog.bin")"

# ---- policies (manifest package fields, as MarbleRun's era config)
CA_JSON=$(jq -Rs . "$WORK/ca.pem")
OTHER_JSON=$(jq -Rs . "$WORK/other.pem")
policy() {   # policy FILE CA_JSON PCR16
  printf '{"TEE":"tpm","AKRoots":[%s],"PCRs":{"sha256":{"16":"%s"}}}\n' "$2" "$3" >"$WORK/$1"
}
policy policy.json "$CA_JSON" "$PCR16"
policy policy-wrongpcr.json "$CA_JSON" "$WRONG16"
policy policy-otherca.json "$OTHER_JSON" "$PCR16"

# ---- the Coordinator with --tee tpm
TPMFLAGS=(--tee tpm --tpm-tcti "$TCTI" --tpm-pcrs sha256:0,16 --tpm-ak-context $AKH --tpm-ak-cert "$WORK/ak.pem")
# start_coord NAME [flags]: sets CLIENT MESH PID
start_coord() {
  local n=$1
  shift
  rm -f "$WORK/$n.json"
  "$BIN/cairn-coordinator" --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/$n-seal" \
    --ready-file "$WORK/$n.json" --leaf-key-pool 0 --threads 2 "$@" >>"$WORK/$n.log" 2>&1 &
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
}
stop_coord() {   # stop_coord NAME PID: SIGTERM, exit 0 and no sanitizer report
  kill "$2" 2>/dev/null
  local rc=0
  wait "$2" || rc=$?
  if [ $rc -eq 0 ] && ! grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$WORK/$1.log"; then
    ok "Coordinator $1: clean shutdown (exit 0, no sanitizer report)"
  else
    bad "Coordinator $1: exit $rc $(grep -m3 -E 'Sanitizer|runtime error' "$WORK/$1.log")"
  fi
}

# startup refusals: clear error, exit, no listener
refuse_start() {   # refuse_start NAME WANT_RC PATTERN DESCRIPTION -- [VAR=value...] flags
  local n=$1 want=$2 pat=$3 desc=$4 rc=0
  shift 5
  local envs=()
  while [ $# -gt 0 ] && [[ "$1" == *=* ]] && [[ "$1" != -* ]]; do envs+=("$1"); shift; done
  env "${envs[@]}" "$BIN/cairn-coordinator" --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 \
    --seal-dir "$WORK/$n-seal" --ready-file "$WORK/$n.json" "$@" >"$WORK/$n.log" 2>&1 || rc=$?
  if [ "$rc" = "$want" ] && [ ! -e "$WORK/$n.json" ] && grep -q -- "$pat" "$WORK/$n.log"; then
    ok "$desc: exit $rc, $(grep -o -- "$pat.*" "$WORK/$n.log" | head -n 1 | head -c 170)"
  else
    bad "$desc: rc=$rc (want $want) $(tail -n 2 "$WORK/$n.log")"
  fi
}
dead=$SWTPM_PORT
while ! swtpm_port_free $dead || [ $dead = $SWTPM_PORT ] || [ $dead = $((SWTPM_PORT + 1)) ]; do dead=$((20000 + RANDOM % 40000)); done
refuse_start nostart 1 "cannot start: issuing the Coordinator's tpm evidence" "--tee tpm, TPM unreachable" -- \
  --tee tpm --tpm-tcti "swtpm:host=127.0.0.1,port=$dead" --tpm-ak-context $AKH
[ ! -e "$WORK/nostart-seal/sealed_data" ] && ok "--tee tpm, TPM unreachable: no state written" ||
  bad "a state was written by a Coordinator that could not quote"
refuse_start nocert 1 "cannot read the AK certificate file" "--tee tpm, AK certificate file missing" -- "${TPMFLAGS[@]}" \
  --tpm-ak-cert "$WORK/missing.pem"
refuse_start badtee 78 "expected auto, sgx, tdx, snp or tpm, got \"tmp\"" "--tee tmp" -- --tee tmp
refuse_start envsim 78 "got \"sim\"" "CAIRN_COORDINATOR_TEE=sim" -- CAIRN_COORDINATOR_TEE=sim
refuse_start simtee 78 "--tee tpm excludes --simulation" "--tee tpm with --simulation" -- --tee tpm --simulation
refuse_start envtee 78 "--tee tpm excludes --insecure-no-tee" "CAIRN_COORDINATOR_TEE=tpm with --insecure-no-tee" -- \
  CAIRN_COORDINATOR_TEE=tpm --insecure-no-tee

# an explicit TEE that is not here is not replaced by another one (the TPM is reachable);
# the seal provider is looked for first, so that is what these name
if [ ! -e /dev/attestation/quote ]; then
  refuse_start nosgx 1 "cannot start: no sealing key (run in Gramine SGX" "--tee sgx without Gramine" -- \
    --tee sgx --tpm-tcti "$TCTI" --tpm-ak-context $AKH
fi
if [ ! -e /sys/kernel/config/tsm/report ]; then
  refuse_start notdx 1 "cannot start: no sealing key: sealing is not implemented for a tdx Coordinator" \
    "--tee tdx without configfs-tsm" -- \
    --tee tdx --tpm-tcti "$TCTI" --tpm-ak-context $AKH
fi

t=$(date +%s%N)
start_coord A "${TPMFLAGS[@]}" || die "Coordinator A did not start: $(cat "$WORK/A.log")"
PID_A=$PID
grep -q "own evidence: tpm (configured)" "$WORK/A.log" && grep -q "TPM sealing is not implemented" "$WORK/A.log" &&
  ok "Coordinator A (--tee tpm) ready in $(jq .ready_ms "$WORK/A.json") ms (startup quote included; $(since $t) ms wall); warns that TPM sealing is not implemented" ||
  bad "Coordinator A log: $(head -c 600 "$WORK/A.log")"

# ---- the quote answer: the wire form, startup evidence over SHA-256(root DER)
curl -sk "https://$CLIENT/api/v2/quote" >"$WORK/quote.json"
[ "$(jq -r '.data.evidence.type' "$WORK/quote.json")" = tpm ] && [ "$(jq -r '.data.quote' "$WORK/quote.json")" = null ] &&
  [ "$(jq -r '.data.evidence | (.quote|length>0) and (.signature|length>0) and (.akPub|length>0) and (.pcrs|length>0)' "$WORK/quote.json")" = true ] &&
  jq -r .data.evidence.certs "$WORK/quote.json" | grep -q "BEGIN CERTIFICATE" &&
  ok "quote answer: {\"quote\":null,\"evidence\":{type tpm, quote, signature, akPub, pcrs, certs}}" ||
  bad "quote answer: $(head -c 300 "$WORK/quote.json")"
jq -r .data.cert "$WORK/quote.json" | awk '/BEGIN CERT/{b=""} {b=b $0 "\n"} /END CERT/{last=b} END{printf "%s", last}' \
  >"$WORK/root.pem"
# the mesh TLS chain: Marble Root (self-signed with the intermediate key) + the Intermediate of /quote
timeout 10 openssl s_client -connect "$MESH" -showcerts </dev/null >"$WORK/sclient.out" 2>&1
awk '/BEGIN CERT/{n++} n==2{print} /END CERT/{if(n==2) exit}' "$WORK/sclient.out" >"$WORK/mesh-inter.pem"
jq -r .data.cert "$WORK/quote.json" | awk '/BEGIN CERT/{n++} n==1{print} /END CERT/{if(n==1) exit}' >"$WORK/quote-inter.pem"
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 2>/dev/null; }
[ "$(grep -c "BEGIN CERT" "$WORK/sclient.out")" = 2 ] && [ -n "$(fp "$WORK/mesh-inter.pem")" ] &&
  [ "$(fp "$WORK/mesh-inter.pem")" = "$(fp "$WORK/quote-inter.pem")" ] &&
  openssl verify -CAfile "$WORK/root.pem" "$WORK/mesh-inter.pem" >/dev/null 2>&1 &&
  ok "mesh TLS chain: Marble Root + the Intermediate of /quote (which the root verifies)" ||
  bad "mesh chain: $(grep -c "BEGIN CERT" "$WORK/sclient.out") certificates; $(grep -E "s:|i:" "$WORK/sclient.out" | head -4)"
# an independent check of the binding with the evidence verifier: the answer
# verifies against SHA-256(root DER) and the policy, not with a nonce it was not made for
rc=0; "$BIN/cairn" evidence verify "$WORK/quote.json" --policy "$WORK/policy.json" >"$WORK/ev.out" 2>&1 || rc=$?
[ $rc -eq 0 ] && ok "cairn evidence verify: the startup quote binds the root and matches the policy" ||
  bad "evidence verify rc=$rc $(tail -n 2 "$WORK/ev.out")"
rc=0; "$BIN/cairn" evidence verify "$WORK/quote.json" --nonce n1 >"$WORK/ev.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && ok "cairn evidence verify: the startup quote does not verify for nonce n1: $(head -c 140 "$WORK/ev.out")" ||
  bad "startup quote accepted for a nonce"

# ---- a manifest with a TPM package for the marble
cat >"$WORK/manifest.json" <<JSON
{
  "Packages": {"vm": {"TEE": "tpm", "AKRoots": [$CA_JSON], "PCRs": {"sha256": {"16": "$PCR16"}}}},
  "Marbles": {"app": {"Package": "vm", "Parameters": {"Env": {"FROM_MANIFEST": "coordinator-tpm-verified"}}}}
}
JSON
clirun() { XDG_CONFIG_HOME="$WORK/xdg" "$BIN/cairn" "$@" >"$WORK/cli.out" 2>"$WORK/cli.err"; }
CACHE="$WORK/xdg/cairn/coordinators/127.0.0.1_${CLIENT##*:}.pem"   # one cache file per address (docs/cli.md)
rc=0; clirun manifest set "$WORK/manifest.json" "$CLIENT" --coordinator-policy "$WORK/policy-wrongpcr.json" || rc=$?
[ $rc -ne 0 ] && grep -q "PCRs.sha256.16" "$WORK/cli.err" && [ ! -e "$CACHE" ] &&
  ok "policy with a wrong PCR 16: refused before anything is sent, naming the PCR: $(head -c 200 "$WORK/cli.err")" ||
  bad "wrong PCR policy rc=$rc $(cat "$WORK/cli.err")"
rc=0; clirun status "$CLIENT" --coordinator-policy "$WORK/policy-otherca.json" || rc=$?
[ $rc -ne 0 ] && grep -qi "AKRoots\|AK certificate" "$WORK/cli.err" && [ ! -e "$CACHE" ] &&
  ok "policy with another CA in AKRoots: refused: $(head -c 200 "$WORK/cli.err")" ||
  bad "other CA policy rc=$rc $(cat "$WORK/cli.err")"
# a TPM policy must name AKRoots (an uncertified AK proves nothing)
printf '{"TEE":"tpm","PCRs":{"sha256":{"16":"%s"}}}\n' "$PCR16" >"$WORK/policy-noroots.json"
rc=0; clirun status "$CLIENT" --coordinator-policy "$WORK/policy-noroots.json" || rc=$?
[ $rc -ne 0 ] && grep -q "TEE tpm requires AKRoots" "$WORK/cli.err" && [ ! -e "$CACHE" ] &&
  ok "a TPM policy without AKRoots is refused: $(head -c 150 "$WORK/cli.err")" ||
  bad "no-AKRoots policy rc=$rc $(cat "$WORK/cli.err")"
# the trust directory's tpm/roots/ decide the AK chain during verification as well
mkdir -p "$WORK/trust/tpm/roots" "$WORK/trust-other/tpm/roots"
cp "$WORK/ca.pem" "$WORK/trust/tpm/roots/"
cp "$WORK/other.pem" "$WORK/trust-other/tpm/roots/"
rc=0; clirun status "$CLIENT" --coordinator-policy "$WORK/policy.json" --trust-dir "$WORK/trust" \
  --coordinator-cert "$WORK/t-cache.pem" || rc=$?
[ $rc -eq 0 ] && grep -q "tpm evidence matches" "$WORK/cli.err" &&
  ok "--trust-dir with the CA under tpm/roots: verified" || bad "trust dir CA rc=$rc $(cat "$WORK/cli.err")"
rc=0; clirun status "$CLIENT" --coordinator-policy "$WORK/policy.json" --trust-dir "$WORK/trust-other" \
  --coordinator-cert "$WORK/t-cache2.pem" || rc=$?
[ $rc -ne 0 ] && grep -q "does not verify.*AK certificate chain" "$WORK/cli.err" && [ ! -e "$WORK/t-cache2.pem" ] &&
  ok "--trust-dir with only another CA under tpm/roots: the evidence does not verify: $(head -c 160 "$WORK/cli.err")" ||
  bad "trust dir other CA rc=$rc $(cat "$WORK/cli.err")"
rc=0; clirun manifest set "$WORK/manifest.json" "$CLIENT" --coordinator-policy "$WORK/policy.json" || rc=$?
[ $rc -eq 0 ] && grep -q "Coordinator verified (tpm evidence matches the policy)" "$WORK/cli.err" &&
  ok "cairn manifest set with --coordinator-policy: Coordinator verified (tpm), manifest set" ||
  bad "manifest set rc=$rc $(cat "$WORK/cli.err")"
t=$(date +%s%N)
rc=0; clirun manifest verify "$WORK/manifest.json" "$CLIENT" --coordinator-policy "$WORK/policy.json" || rc=$?
[ $rc -eq 0 ] && grep -q "tpm evidence matches" "$WORK/cli.err" &&
  ok "cairn manifest verify --coordinator-policy: succeeds ($(since $t) ms)" ||
  bad "manifest verify rc=$rc $(cat "$WORK/cli.err") $(cat "$WORK/cli.out")"
[ -s "$CACHE" ] && [ "$(openssl x509 -in "$WORK/root.pem" -noout -fingerprint -sha256)" = \
  "$(awk '/BEGIN CERT/{b=""} {b=b $0 "\n"} /END CERT/{last=b} END{printf "%s", last}' "$CACHE" |
     openssl x509 -noout -fingerprint -sha256)" ] &&
  ok "the root is cached ($CACHE ends with the quoted root)" || bad "root cache: $(ls -l "$WORK/xdg/cairn" 2>&1)"

# ---- fresh quotes: --nonce and ?nonce=
t=$(date +%s%N)
rc=0; clirun status "$CLIENT" --coordinator-policy "$WORK/policy.json" --nonce "fresh-$RANDOM" || rc=$?
[ $rc -eq 0 ] && grep -q "tpm evidence matches" "$WORK/cli.err" &&
  ok "cairn status --nonce: a fresh TPM quote over SHA-256(root || nonce) verifies ($(since $t) ms)" ||
  bad "--nonce rc=$rc $(cat "$WORK/cli.err")"
b64url() { printf %s "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }   # ?nonce= carries base64url bytes
curl -sk "https://$CLIENT/api/v2/quote?nonce=$(b64url n1)" >"$WORK/quote-n1.json"
rc=0; "$BIN/cairn" evidence verify "$WORK/quote-n1.json" --nonce n1 --policy "$WORK/policy.json" >"$WORK/ev.out" 2>&1 || rc=$?
rc2=0; "$BIN/cairn" evidence verify "$WORK/quote-n1.json" --nonce n2 >"$WORK/ev2.out" 2>&1 || rc2=$?
rc3=0; "$BIN/cairn" evidence verify "$WORK/quote-n1.json" >"$WORK/ev3.out" 2>&1 || rc3=$?
[ $rc -eq 0 ] && [ $rc2 -ne 0 ] && [ $rc3 -ne 0 ] &&
  ok "?nonce=n1: the answer verifies for n1 only (n2 and no nonce refused)" ||
  bad "?nonce=n1: rc n1=$rc n2=$rc2 none=$rc3 $(head -c 200 "$WORK/ev.out")"
# concurrent fresh quotes (the Coordinator serialises its TPM use)
t=$(date +%s%N)
for i in 1 2 3 4; do curl -sk "https://$CLIENT/api/v2/quote?nonce=$(b64url "c$i")" >"$WORK/qc$i.json" & done
wait_ok=0
for i in 1 2 3 4; do
  while ! [ -s "$WORK/qc$i.json" ] || ! jq -e . "$WORK/qc$i.json" >/dev/null 2>&1; do sleep 0.05; [ $(since $t) -gt 20000 ] && break; done
done
for i in 1 2 3 4; do
  "$BIN/cairn" evidence verify "$WORK/qc$i.json" --nonce "c$i" >/dev/null 2>&1 && wait_ok=$((wait_ok + 1))
done
[ $wait_ok = 4 ] && ok "4 concurrent ?nonce= quotes: all 4 verify for their own nonce ($(since $t) ms)" ||
  bad "concurrent quotes: $wait_ok of 4 verify; $(head -c 200 "$WORK/qc1.json")"

# informational: a cached quote vs a fresh TPM quote (curl wall time, 10 each, sanitizer builds are slower)
qt() { curl -sk -o /dev/null -w '%{time_total}\n' "$1"; }
cached=$(for i in $(seq 10); do qt "https://$CLIENT/api/v2/quote"; done | awk '{s+=$1} END{printf "%.1f", s*100}')
fresh=$(for i in $(seq 10); do qt "https://$CLIENT/api/v2/quote?nonce=$(b64url "t$i")"; done | awk '{s+=$1} END{printf "%.1f", s*100}')
echo "info: GET /api/v2/quote mean ${cached} ms (cached startup evidence), ?nonce= mean ${fresh} ms (fresh TPM quote)"

# ---- cairn-premain: verifies the Coordinator by policy, attests with the TPM
run_marble() {   # run_marble NAME [VAR=value...]
  local n=$1
  shift
  mkdir -p "$WORK/m-$n"
  (cd "$WORK/m-$n" && env EDG_MARBLE_TYPE=app EDG_MARBLE_COORDINATOR_ADDR="$MESH" CAIRN_EVIDENCE=tpm \
    CAIRN_TPM_TCTI="$TCTI" CAIRN_TPM_PCRS=sha256:0,16 CAIRN_TPM_AK_CONTEXT=$AKH CAIRN_TPM_AK_CERT="$WORK/ak.pem" \
    CAIRN_COORDINATOR_POLICY="$WORK/policy.json" CAIRN_COORDINATOR_CLIENT_ADDR="$CLIENT" CAIRN_PREMAIN_RETRIES=2 \
    MARKER="$WORK/m-$n/ran" "$@" \
    "$BIN/cairn-premain" -- /bin/sh -c 'printf %s "$FROM_MANIFEST" >"$MARKER"') >"$WORK/m-$n.log" 2>&1
}
t=$(date +%s%N)
rc=0; run_marble good || rc=$?
[ $rc -eq 0 ] && [ "$(cat "$WORK/m-good/ran" 2>/dev/null)" = coordinator-tpm-verified ] &&
  ok "cairn-premain with CAIRN_COORDINATOR_POLICY: Coordinator verified by its TPM quote, marble (TPM evidence) activated, program ran ($(since $t) ms)" ||
  bad "premain good: rc=$rc $(tail -n 4 "$WORK/m-good.log")"
rc=0; run_marble wrongpcr CAIRN_COORDINATOR_POLICY="$WORK/policy-wrongpcr.json" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/m-wrongpcr/ran" ] && grep -q "PCRs.sha256.16" "$WORK/m-wrongpcr.log" &&
  ok "cairn-premain with a wrong-PCR Coordinator policy: refused, not exec'd" ||
  bad "premain wrong pcr: rc=$rc $(tail -n 3 "$WORK/m-wrongpcr.log")"
rc=0; run_marble rootonly CAIRN_COORDINATOR_POLICY= CAIRN_COORDINATOR_CLIENT_ADDR= CAIRN_COORDINATOR_ROOT_CA="$WORK/root.pem" || rc=$?
[ $rc -eq 0 ] && [ "$(cat "$WORK/m-rootonly/ran" 2>/dev/null)" = coordinator-tpm-verified ] &&
  ok "cairn-premain with only CAIRN_COORDINATOR_ROOT_CA: mesh server authenticated, marble activated" ||
  bad "premain root only: rc=$rc $(tail -n 3 "$WORK/m-rootonly.log")"
rc=0; run_marble sim CAIRN_EVIDENCE=sim || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/m-sim/ran" ] && grep -q "simulation evidence is not accepted" "$WORK/m-sim.log" &&
  ok "a \"sim\" marble is refused by the TPM-backed Coordinator (not --simulation)" ||
  bad "premain sim: rc=$rc $(tail -n 3 "$WORK/m-sim.log")"

# ---- restart: the key-file sealed state comes back (state 3, same root, quote again)
stop_coord A $PID_A
start_coord A "${TPMFLAGS[@]}" || die "Coordinator A did not restart: $(tail -n 5 "$WORK/A.log")"
PID_A=$PID
rc=0; clirun manifest verify "$WORK/manifest.json" "$CLIENT" --coordinator-policy "$WORK/policy.json" || rc=$?
[ $rc -eq 0 ] && [ -e "$WORK/A-seal/sim_seal_key" ] &&
  ok "restart: sealed state (key file) reloaded, same root (cache accepts it), manifest still set, new quote verifies" ||
  bad "restart rc=$rc $(cat "$WORK/cli.err") $(ls "$WORK/A-seal")"

# ---- a second Coordinator (new root) on the same TPM, configured by the environment
export CAIRN_COORDINATOR_TEE=tpm CAIRN_TPM_TCTI="$TCTI" CAIRN_TPM_PCRS=sha256:16 CAIRN_TPM_AK_CONTEXT=$AKH \
  CAIRN_TPM_AK_CERT="$WORK/ak.pem" CAIRN_TPM_EVENTLOG="$WORK/eventlog.bin"
start_coord B || die "Coordinator B did not start: $(cat "$WORK/B.log")"
unset CAIRN_COORDINATOR_TEE CAIRN_TPM_TCTI CAIRN_TPM_PCRS CAIRN_TPM_AK_CONTEXT CAIRN_TPM_AK_CERT CAIRN_TPM_EVENTLOG
PID_B=$PID
# B listens on another address, so its own cache file is empty: A's cache is
# named with --coordinator-cert to play "the same address, a new root"
cp "$CACHE" "$WORK/cache-A.pem"; cp "$CACHE" "$WORK/cache-A.orig"
rc=0; clirun certificate root "$CLIENT" --coordinator-policy "$WORK/policy.json" -o "$WORK/b-root.pem" --coordinator-cert "$WORK/cache-A.pem" || rc=$?
[ $rc -ne 0 ] && grep -q "root certificate of Coordinator changed" "$WORK/cli.err" && [ ! -e "$WORK/b-root.pem" ] &&
  ok "Coordinator B (env CAIRN_COORDINATOR_TEE=tpm, new root): its quote verifies but \`certificate\` refuses the changed root: $(head -c 120 "$WORK/cli.err")" ||
  bad "B certificate with cache rc=$rc $(cat "$WORK/cli.err")"
rc=0; clirun status "$CLIENT" --coordinator-cert "$WORK/cache-A.pem" || rc=$?
[ $rc -ne 0 ] && grep -q "does not present the root certificate cached" "$WORK/cli.err" &&
  ok "status of B with just the cached root (A's): the pinned TLS refuses B: $(head -c 120 "$WORK/cli.err")" ||
  bad "B status with cache rc=$rc $(cat "$WORK/cli.err")"
rc=0; clirun status "$CLIENT" --coordinator-policy "$WORK/policy.json" --coordinator-cert "$WORK/cache-A.pem" || rc=$?
[ $rc -eq 0 ] && grep -q "differs from the one cached.*cache is unchanged" "$WORK/cli.err" && cmp -s "$WORK/cache-A.orig" "$WORK/cache-A.pem" &&
  ok "status of B with a policy: attested, answered, the cache (A's root) left unchanged" ||
  bad "B status with policy rc=$rc $(cat "$WORK/cli.err")"
rc=0; clirun status "$CLIENT" --coordinator-policy "$WORK/policy.json" --coordinator-cert "$WORK/b-cache.pem" || rc=$?
[ $rc -eq 0 ] && grep -q "tpm evidence matches" "$WORK/cli.err" &&
  ok "Coordinator B with a fresh cache: verified (quotes only PCR 16, from the environment's selection)" ||
  bad "B fresh cache rc=$rc $(cat "$WORK/cli.err")"
curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.evidence.eventlog | base64 -d >"$WORK/b-eventlog.bin" 2>/dev/null
cmp -s "$WORK/b-eventlog.bin" "$WORK/eventlog.bin" &&
  ok "Coordinator B's quote answer carries its event log (CAIRN_TPM_EVENTLOG), which the verifier replayed" ||
  bad "B event log not in the answer"

# a Coordinator whose event log does not replay to the quoted PCR 16: its own evidence fails verification
start_coord D "${TPMFLAGS[@]}" --tpm-eventlog "$WORK/eventlog-stale.bin" || die "Coordinator D did not start: $(cat "$WORK/D.log")"
PID_D=$PID
rc=0; clirun status "$CLIENT" --coordinator-policy "$WORK/policy.json" --coordinator-cert "$WORK/d-cache.pem" || rc=$?
[ $rc -ne 0 ] && grep -q "does not verify.*PCR 16 replays to" "$WORK/cli.err" && [ ! -e "$WORK/d-cache.pem" ] &&
  ok "Coordinator D with an event log that does not match PCR 16: refused: $(head -c 170 "$WORK/cli.err")" ||
  bad "D stale event log rc=$rc $(cat "$WORK/cli.err")"
stop_coord D $PID_D

# ---- auto: no --tee, the TPM behind --tpm-tcti is probed (when no Gramine/configfs-tsm is here)
if [ ! -e /dev/attestation/quote ] && [ ! -e /sys/kernel/config/tsm/report ]; then
  start_coord C --tpm-tcti "$TCTI" --tpm-pcrs sha256:0,16 --tpm-ak-context $AKH --tpm-ak-cert "$WORK/ak.pem" ||
    die "Coordinator C did not start: $(cat "$WORK/C.log")"
  PID_C=$PID
  rc=0; clirun status "$CLIENT" --coordinator-policy "$WORK/policy.json" --coordinator-cert "$WORK/c-cache.pem" || rc=$?
  [ $rc -eq 0 ] && grep -q "own evidence: tpm (probed)" "$WORK/C.log" && grep -q "tpm evidence matches" "$WORK/cli.err" &&
    ok "Coordinator C (--tee auto): probed the TPM behind --tpm-tcti, verified" ||
    bad "auto rc=$rc $(cat "$WORK/cli.err") $(grep 'own evidence' "$WORK/C.log")"
  stop_coord C $PID_C
fi

stop_coord A $PID_A
stop_coord B $PID_B
echo "$CHECKS checks, $FAILS failed, $(ms) ms"
