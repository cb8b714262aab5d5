#!/usr/bin/env bash
# Trustee's KBS protocol end to end: a real Coordinator (simulation) with
# --kbs-addr on 127.0.0.1, a manifest with a ConfidentialContainers workload,
# a user-defined secret uploaded with `cairn secret set`, and kbs_flow.py (a
# client written from Trustee's protocol document, jwcrypto on the JOSE side)
# doing the handshake, fetching and decrypting resources, and every refusal.
# A second Coordinator with 2-second sessions and tokens checks expiry.
# Real TDX evidence from ../shared/testvectors is sent through /attest when
# present (it reaches the verifier and is refused for its report data), and
# so is Trustee's captured Azure vTPM evidence (tests/data/azure: refused for
# its vTPM nonce, a changed byte earlier).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../coordinator/lib.sh"
CLI=${CAIRN_BIN_DIR}/cairn
[ -x "$CLI" ] || { echo "SKIP: $CLI not built"; exit 77; }
PY=/usr/bin/python3   # Debian's interpreter: python3-jwcrypto and python3-cryptography live there
"$PY" -c 'import jwcrypto, cryptography' 2>/dev/null || { echo "SKIP: python3-jwcrypto/python3-cryptography missing (scripts/install-deps.sh)"; exit 77; }

export HOME=$WORK   # the CLI's certificate cache
# root_of ADDR FILE: the deployment root (the last certificate of the quote's chain)
root_of() {
  curl -sk "https://$1/api/v2/quote" | jq -r .data.cert \
    | awk '/BEGIN CERT/{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' >"$2"
}
# a manifest user who may write the user-defined secret and read the shared one
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=alice -days 2 \
  -keyout "$WORK/alice.key" -out "$WORK/alice.pem" 2>/dev/null
jq -n --rawfile cert "$WORK/alice.pem" '{
  Packages: {"pod-tdx": {TEE: "tdx", MRTD: ("00" * 48)}, "pod-snp": {TEE: "snp", Measurement: ("11" * 48)}},
  Secrets: {
    diskKey: {Type: "symmetric-key", Size: 256, Shared: true},
    apiToken: {Type: "plain", UserDefined: true},
    webCert: {Type: "cert-ecdsa", Size: 256, Shared: true},
    unlisted: {Type: "symmetric-key", Size: 128, Shared: true}
  },
  Users: {alice: {Certificate: $cert, Roles: ["writer", "reader"]}},
  Roles: {writer: {ResourceType: "Secrets", ResourceNames: ["apiToken"], Actions: ["WriteSecret"]},
          reader: {ResourceType: "Secrets", ResourceNames: ["diskKey"], Actions: ["ReadSecret"]}},
  ConfidentialContainers: {Version: 1, Workloads: {
    "pod-a": {Package: "pod-tdx", Resources: {
      "default/key/disk": "diskKey",
      "default/token/api": "apiToken",
      "default/tls/cert": "webCert",
      "default/tls/key": {Secret: "webCert", Part: "Private"}}},
    "pod-b": {Package: "pod-snp", Resources: {"other/key/disk": "diskKey"}}}}
}' >"$WORK/manifest.json"

start_coord main --kbs-addr 127.0.0.1:0
KBS=$(jq -r .kbs "$WORK/main/ready.json")
check "ready file names the KBS listener" contains "$KBS" "127.0.0.1:"
set_manifest_file "$WORK/manifest.json"
check "manifest with a ConfidentialContainers workload and no marble is accepted" eq "$CODE" 200
root_of "$CLIENT" "$WORK/root.pem"
check "root certificate fetched" test -s "$WORK/root.pem"

printf '{"apiToken": {"Key": "%s"}}' "$(printf 's3cr3t-api-token' | base64 -w0)" >"$WORK/secrets.json"
out=$("$CLI" secret set "$WORK/secrets.json" "$CLIENT" -c "$WORK/alice.pem" -k "$WORK/alice.key" -i 2>&1 || true)
check "cairn secret set uploads the user-defined secret ($out)" contains "$out" "Secret successfully set"
BODY=$(curl -sk --cert "$WORK/alice.pem" --key "$WORK/alice.key" "https://$CLIENT/api/v2/secrets?s=diskKey")
DISK=$(jqv '.data.secrets.diskKey.Private')
check "diskKey readable by alice for the comparison" bash -c "[ -n '$DISK' ] && [ '$DISK' != null ]"

COORD_SHORT_ARGS=(--kbs-addr 127.0.0.1:0 --kbs-session-ttl 2 --kbs-token-ttl 2)
MAIN_CLIENT=$CLIENT
start_coord short "${COORD_SHORT_ARGS[@]}"
SHORT_KBS=$(jq -r .kbs "$WORK/short/ready.json")
SHORT_CLIENT=$CLIENT
set_manifest_file "$WORK/manifest.json"
check "short-lived coordinator has the manifest" eq "$CODE" 200
root_of "$SHORT_CLIENT" "$WORK/root_short.pem"

TDX_QUOTE=""
if [ -n "${CAIRN_SHARED_DIR:-}" ] && [ -f "$CAIRN_SHARED_DIR/testvectors/tdx/gotdx_quote_v5_sample.dat" ]; then
  TDX_QUOTE="$CAIRN_SHARED_DIR/testvectors/tdx/gotdx_quote_v5_sample.dat"
else
  echo "note - ../shared/testvectors absent: the real-TDX-evidence refusal is skipped"
fi

if "$PY" "$HERE/kbs_flow.py" --url "https://$KBS" --cacert "$WORK/root.pem" \
     --short-url "https://$SHORT_KBS" --short-cacert "$WORK/root_short.pem" \
     --disk-key "$DISK" --api-token 's3cr3t-api-token' --golden "$HERE/../../data/kbs/trustee" \
     --azure-dir "$HERE/../../data/azure" --init-digest-out "$WORK/init_digest" \
     ${TDX_QUOTE:+--tdx-quote "$TDX_QUOTE"}; then
  echo "ok   - kbs_flow.py: handshake, releases and refusals"
else
  echo "FAIL - kbs_flow.py"; FAILS=$((FAILS+1))
fi

# every release is in the update log: resource, secret, workload, evidence
log=$("$CLI" manifest log "$MAIN_CLIENT" -i 2>/dev/null || true)
echo "$log" | grep -c 'kbs resource released' | sed 's/^/note - releases in the update log: /'
check "update log records the releases" contains "$log" '"update":"kbs resource released"'
check "update log names resource and workload" contains "$log" '"resource":"default/token/api"'
check "update log names the evidence digest" contains "$log" '"evidence_sha256":"'
check "update log names the init-data digest of a release on an init-data session" \
  contains "$log" "\"init_data\":\"$(cat "$WORK/init_digest" 2>/dev/null || echo missing)\""
check "refusals are not releases" bash -c "! grep -q 'default/key/unlisted' <<<'$log'"

# the KBS listener is not the client API: no REST routes there
code=$(curl -sk -o /dev/null -w '%{http_code}' "https://$KBS/api/v2/status")
check "client API paths are not served on the KBS listener ($code)" eq "$code" 404
finish
