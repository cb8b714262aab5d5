#!/usr/bin/env bash
# cairn-premain with REAL evidence: a software TPM (swtpm on ephemeral
# loopback ports) quotes the marble's key; the Coordinator verifies the quote,
# its binding, the AK chain and the PCRs of the manifest's TPM package. After a
# PCR changes, the same marble is refused and not executed. Skips (77) without swtpm.
BIN_DIR=$1
DUMP=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
AKTOOL=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
command -v swtpm >/dev/null || { echo "SKIP: swtpm is not installed"; exit 77; }
command -v tpm2_pcrextend >/dev/null || { echo "SKIP: tpm2-tools is not installed"; exit 77; }
source "$(dirname "$0")/../cli/harness.sh" "$BIN_DIR"

# swtpm on a free port pair (tests/integration/lib/swtpm.sh).
source "$(dirname "$0")/../lib/swtpm.sh"
swtpm_start "$WORK/tpm" || { echo "cannot start swtpm"; exit 1; }
"$AKTOOL" "$TCTI" "$WORK" || { bad "AK certificate"; exit 1; }

Z=0000000000000000000000000000000000000000000000000000000000000000
CA=$(sed ':a;N;$!ba;s/\n/\\n/g' "$WORK/ak-ca.pem")
cat >"$WORK/manifest.json" <<JSON
{
  "Packages": {"vm": {"TEE": "tpm", "AKRoots": ["$CA"], "PCRs": {"sha256": {"0": "$Z", "16": "$Z"}}}},
  "Marbles": {"app": {"Package": "vm", "Parameters": {"Env": {"FROM_MANIFEST": "tpm-verified"}}}}
}
JSON
start_coordinator A
cli manifest set "$WORK/manifest.json" "$A_CLIENT" -i >/dev/null 2>&1 || { bad "manifest set: TPM package"; exit 1; }
cli certificate root "$A_CLIENT" -i -o "$WORK/root.pem" 2>/dev/null

run_tpm_marble() {
  local dir=$1
  shift
  mkdir -p "$dir"
  (cd "$dir" && env EDG_MARBLE_TYPE=app EDG_MARBLE_COORDINATOR_ADDR="$A_MESH" CAIRN_EVIDENCE=tpm \
    CAIRN_TPM_TCTI="$TCTI" CAIRN_TPM_PCRS=sha256:0,16 CAIRN_TPM_AK_CERT="$WORK/ak.pem" \
    CAIRN_COORDINATOR_ROOT_CA="$WORK/root.pem" DUMP_OUT="$dir/dump.txt" DUMP_ENV=FROM_MANIFEST "$@" \
    "$BIN/cairn-premain" -- "$DUMP")
}

run_tpm_marble "$WORK/ok" 2>"$WORK/ok.log" && grep -qx "env FROM_MANIFEST=$(printf tpm-verified | od -An -tx1 -v | tr -d ' \n')" \
  "$WORK/ok/dump.txt" && ok "TPM-quoted marble activated (quote, binding, AK chain, PCRs verified)" \
  || bad "TPM activation: $(cat "$WORK/ok.log")"

TPM2TOOLS_TCTI="$TCTI" tpm2_pcrextend 16:sha256=$(printf measured | sha256sum | cut -d' ' -f1) >/dev/null 2>&1 \
  || { bad "tpm2_pcrextend"; exit 1; }
rc=0
run_tpm_marble "$WORK/changed" 2>"$WORK/changed.log" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/changed/dump.txt" ] && grep -q "403.*PCRs.sha256.16 mismatch" "$WORK/changed.log" \
  && ok "PCR16 changed: refused (403, names PCRs.sha256.16), not executed" || bad "changed PCR rc=$rc $(cat "$WORK/changed.log")"

rc=0
run_tpm_marble "$WORK/notcti" CAIRN_TPM_TCTI="swtpm:host=127.0.0.1,port=1" 2>"$WORK/notcti.log" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/notcti/dump.txt" ] && grep -q "cannot produce tpm evidence" "$WORK/notcti.log" \
  && ok "no TPM reachable: clear failure, not executed" || bad "no tpm rc=$rc $(cat "$WORK/notcti.log")"
finish
