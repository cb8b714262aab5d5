#!/usr/bin/env bash
# Signed PCR policies through the whole activation path: the manifest's TPM
# package pins the UKI's PCR-signing key (PCRPublicKey, no PCR 11 value);
# systemd-measure sign (systemd 252, through the swtpm) signs the UKI's PCR 11
# policies; PCR 11 of the swtpm is extended as systemd-stub and systemd do;
# cairn-premain sends the quote with CAIRN_TPM_PCR_SIGNATURE (wire member
# "pcrSignature") and the Coordinator activates it. Refused, and not executed:
# no signature file, a file signed by another key, PCR 11 after a phase nobody
# signed. Skips (77) without swtpm, tpm2-tools or systemd-measure.
BIN_DIR=$1
DUMP=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
AKTOOL=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
MEASURE=/usr/lib/systemd/systemd-measure
command -v swtpm >/dev/null || { echo "SKIP: swtpm is not installed"; exit 77; }
command -v tpm2_pcrextend >/dev/null || { echo "SKIP: tpm2-tools is not installed"; exit 77; }
[ -x "$MEASURE" ] || { echo "SKIP: $MEASURE is not installed (Debian package systemd)"; exit 77; }
source "$(dirname "$0")/../cli/harness.sh" "$BIN_DIR"
source "$(dirname "$0")/../lib/swtpm.sh"
swtpm_start "$WORK/tpm" || { echo "cannot start swtpm"; exit 1; }
"$AKTOOL" "$TCTI" "$WORK" || { bad "AK certificate"; exit 1; }

# the UKI's sections and its PCR-signing keys (ours, and another one)
head -c 30000 /dev/urandom >"$WORK/linux"
printf 'ID=cairn\n' >"$WORK/osrel"
openssl genrsa -out "$WORK/pcr.key" 2048 2>/dev/null && openssl rsa -in "$WORK/pcr.key" -pubout -out "$WORK/pcrpkey.pem" 2>/dev/null &&
  openssl genrsa -out "$WORK/other.key" 2048 2>/dev/null && openssl rsa -in "$WORK/other.key" -pubout -out "$WORK/other.pem" 2>/dev/null ||
  { bad "openssl keys"; exit 1; }
SECS=(--linux="$WORK/linux" --osrel="$WORK/osrel" --pcrpkey="$WORK/pcrpkey.pem")
"$MEASURE" sign "${SECS[@]}" --bank=sha256 --private-key="$WORK/pcr.key" --public-key="$WORK/pcrpkey.pem" \
  --tpm2-device="$TCTI" --json=short >"$WORK/sig.json" 2>"$WORK/measure.log" &&
  "$MEASURE" sign "${SECS[@]}" --bank=sha256 --private-key="$WORK/other.key" --public-key="$WORK/other.pem" \
    --tpm2-device="$TCTI" --json=short >"$WORK/other-sig.json" 2>>"$WORK/measure.log" ||
  { bad "systemd-measure sign: $(tail -n 2 "$WORK/measure.log")"; exit 1; }

CA=$(sed ':a;N;$!ba;s/\n/\\n/g' "$WORK/ak-ca.pem")
PK=$(sed ':a;N;$!ba;s/\n/\\n/g' "$WORK/pcrpkey.pem")
cat >"$WORK/manifest.json" <<JSON
{
  "Packages": {"vm": {"TEE": "tpm", "AKRoots": ["$CA"], "PCRPublicKey": "$PK"}},
  "Marbles": {"app": {"Package": "vm", "Parameters": {"Env": {"FROM_MANIFEST": "signed-uki"}}}}
}
JSON
start_coordinator A
cli manifest set "$WORK/manifest.json" "$A_CLIENT" -i >/dev/null 2>"$WORK/set.log" || { bad "manifest set: $(cat "$WORK/set.log")"; exit 1; }
ok "manifest with a PCRPublicKey package accepted by the Coordinator"
cli certificate root "$A_CLIENT" -i -o "$WORK/root.pem" 2>/dev/null

ext() { TPM2TOOLS_TCTI="$TCTI" tpm2_pcrextend "11:sha256=$1" >/dev/null 2>&1 || { bad "tpm2_pcrextend"; exit 1; }; }
for s in linux:linux osrel:osrel pcrpkey:pcrpkey.pem; do
  ext "$(printf '.%s\0' "${s%%:*}" | sha256sum | cut -d' ' -f1)"
  ext "$(sha256sum <"$WORK/${s#*:}" | cut -d' ' -f1)"
done
for w in enter-initrd leave-initrd sysinit ready; do ext "$(printf '%s' $w | sha256sum | cut -d' ' -f1)"; done

run() {   # run DIR [VAR=value...]
  local dir=$1
  shift
  mkdir -p "$dir"
  (cd "$dir" && env EDG_MARBLE_TYPE=app EDG_MARBLE_COORDINATOR_ADDR="$A_MESH" CAIRN_EVIDENCE=tpm \
    CAIRN_TPM_TCTI="$TCTI" CAIRN_TPM_PCRS=sha256:11 CAIRN_TPM_AK_CERT="$WORK/ak.pem" \
    CAIRN_COORDINATOR_ROOT_CA="$WORK/root.pem" DUMP_OUT="$dir/dump.txt" DUMP_ENV=FROM_MANIFEST "$@" \
    "$BIN/cairn-premain" -- "$DUMP")
}
refused() {   # refused NAME PATTERN DIR [VAR=value...]
  local name=$1 pat=$2 dir=$3 rc=0
  shift 3
  run "$dir" "$@" 2>"$dir.log" || rc=$?
  [ $rc -ne 0 ] && [ ! -e "$dir/dump.txt" ] && grep -q -- "$pat" "$dir.log" &&
    ok "refused, not executed: $name ($(grep -o -- "$pat.*" "$dir.log" | head -n 1 | head -c 120))" ||
    bad "$name: rc=$rc $(tail -c 400 "$dir.log")"
}

run "$WORK/ok" CAIRN_TPM_PCR_SIGNATURE="$WORK/sig.json" 2>"$WORK/ok.log" &&
  grep -qx "env FROM_MANIFEST=$(printf signed-uki | od -An -tx1 -v | tr -d ' \n')" "$WORK/ok/dump.txt" &&
  ok "marble on the signed UKI activated (PCR 11 signed by the pinned key, sent as pcrSignature)" ||
  bad "activation: $(tail -c 400 "$WORK/ok.log")"
refused "no signature file" "403.*none given" "$WORK/nosig"
refused "a signature file by another key" "403.*pkfp differs" "$WORK/otherkey" CAIRN_TPM_PCR_SIGNATURE="$WORK/other-sig.json"
refused "a missing signature file" "PCR signature file" "$WORK/missing" CAIRN_TPM_PCR_SIGNATURE="$WORK/nope.json"
# a TPM-backed Coordinator on the same signed UKI: the CLI verifies it with a
# policy that pins the key (--tpm-pcr-signature puts the file in its evidence)
"$BIN/cairn-coordinator" --tee tpm --tpm-tcti "$TCTI" --tpm-pcrs sha256:11 --tpm-ak-cert "$WORK/ak.pem" \
  --tpm-pcr-signature "$WORK/sig.json" --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/B-seal" \
  --ready-file "$WORK/B.json" --leaf-key-pool 0 --threads 2 >"$WORK/B.log" 2>&1 &
PIDS+=($!)
wait_file "$WORK/B.json" 60 || { bad "TPM Coordinator did not start: $(tail -n 3 "$WORK/B.log")"; exit 1; }
B_CLIENT=$(sed -n 's/.*"client": *"\([^"]*\)".*/\1/p' "$WORK/B.json")
printf '{"TEE": "tpm", "AKRoots": ["%s"], "PCRPublicKey": "%s"}\n' "$CA" "$PK" >"$WORK/policy.json"
printf '{"TEE": "tpm", "AKRoots": ["%s"], "PCRPublicKey": "%s"}\n' "$CA" "$(sed ':a;N;$!ba;s/\n/\\n/g' "$WORK/other.pem")" \
  >"$WORK/policy-other.json"
cli certificate root "$B_CLIENT" --coordinator-policy "$WORK/policy.json" -o "$WORK/B-root.pem" >"$WORK/B-cli.log" 2>&1 &&
  ok "TPM Coordinator with --tpm-pcr-signature verified against a PCRPublicKey policy" ||
  bad "Coordinator verification: $(tail -c 400 "$WORK/B-cli.log")"
rc=0
cli certificate root "$B_CLIENT" --coordinator-policy "$WORK/policy-other.json" -o "$WORK/B-root2.pem" >"$WORK/B-cli2.log" 2>&1 || rc=$?
[ $rc -ne 0 ] && grep -q "pkfp differs" "$WORK/B-cli2.log" && ok "a policy pinning another key refuses that Coordinator" ||
  bad "other-key policy: rc=$rc $(tail -c 400 "$WORK/B-cli2.log")"

# the Coordinator's quote as served (JSend, evidence with "pcrSignature"), verified offline
if command -v curl >/dev/null; then
  curl -sk "https://$B_CLIENT/api/v2/quote" >"$WORK/B-quote.json" 2>/dev/null
  cli evidence verify "$WORK/B-quote.json" --policy "$WORK/policy.json" >"$WORK/B-ev.log" 2>&1 &&
    ok "cairn evidence verify on the Coordinator's served quote: its pcrSignature satisfies the PCRPublicKey policy" ||
    bad "evidence verify of the served quote: $(tail -c 400 "$WORK/B-ev.log")"
fi

ext "$(printf shutdown | sha256sum | cut -d' ' -f1)"
refused "PCR 11 after a phase nobody signed" "403.*signs no sha256 policy" "$WORK/shutdown" CAIRN_TPM_PCR_SIGNATURE="$WORK/sig.json"
finish
