#!/usr/bin/env bash
# Bad inputs get the documented status code and a clear message, and leave
# the state unchanged (state code, manifest, counters).
. "$(dirname "$0")/lib.sh"
write_manifest "$WORK/m.json"
start_coord a

# ---- client API, state 2 ----
req POST /api/v2/manifest -d '{"manifest": '
check "malformed JSON -> 400 fail" eq "$CODE $(jqv .status)" "400 fail"
check "malformed JSON message" contains "$(jqv .message)" "invalid JSON"
req POST /api/v2/manifest -d '{"manifest": "***"}'
check "manifest not base64 -> 400" eq "$CODE $(jqv .message)" "400 manifest: invalid base64"
req POST /api/v2/manifest -d '{"manifest": 5}'
check "manifest wrong type -> 400" eq "$CODE" "400"
head -c 3000000 /dev/zero | tr '\0' 'a' >"$WORK/big"
req POST /api/v2/manifest --data-binary @"$WORK/big"
check "oversized body -> 413" eq "$CODE" "413"
# a manifest over MANIFEST_MAX_SIZE (1 MiB) inside a body under the route cap (2 MiB): 413, not 500
{ printf '{"manifest":"'; { printf '{"Packages":{},"X":"'; head -c 1100000 /dev/zero | tr '\0' 'a'; printf '"}'; } | base64 -w0; printf '"}'; } >"$WORK/bigm.json"
req POST /api/v2/manifest -H 'Content-Type: application/json' --data-binary @"$WORK/bigm.json"
check "manifest over 1 MiB -> 413 fail (issue 11: was 500)" eq "$CODE $(jqv .status)" "413 fail"
check "... saying the limit" contains "$(jqv .message)" "exceed the limit of 1048576"
echo '{"Packages": {}, "Marbles": {}}' >"$WORK/empty.json"
set_manifest_file "$WORK/empty.json"
check "invalid manifest -> 400 fail (a client error, issue 11)" eq "$CODE $(jqv .status)" "400 fail"
check "invalid manifest message from the checker" contains "$(jqv .message)" "no allowed packages defined"
printf '{"Packages": {"p": {"Debug": true, "UniqueID": "00"}}, "Marbles": {"m": {"Package": "p", "Parameters": {"Files": {"/x": "{{ pem .Secrets.nope }}"}}}}}' >"$WORK/badtmpl.json"
set_manifest_file "$WORK/badtmpl.json"
check "template referencing a missing secret -> 400" eq "$CODE" "400"
check "template error names the secret" contains "$(jqv .message)" "nope"
req POST /manifest -d 'not json'
check "v1 POST /manifest with garbage -> 400 error" eq "$CODE $(jqv .status)" "400 error"
BIGH=$(head -c 20000 /dev/zero | tr '\0' 'h')
req GET /api/v2/status -H "X-Big: $BIGH"
check "headers over the 16 KiB cap are refused" test "$CODE" != "200"
req GET /api/v2/status
check "state still 2 after bad manifests" eq "$(jqv .data.code)" "2"
check "nothing but the initial state was written" test ! -e "$WORK/a/seal/sealed_key.prev"

# ---- set the manifest; mesh API errors in state 3 ----
set_manifest_file "$WORK/m.json"
check "manifest set" eq "$CODE" "200"
activate web
check "first activation ok" eq "$CODE" "200"
snapshot() { curl -sk "https://$CLIENT/api/v2/manifest" | jq -r .data.manifestFingerprint; curl -s "http://$METRICS/metrics" | grep -E '^coordinator_state|success_total'; sha256sum "$WORK/a/seal/sealed_data" | cut -d' ' -f1; }
BEFORE=$(snapshot)
activate nope
check "unknown marble type -> 403" eq "$CODE $(jqv .message)" "403 marble verification failed: unknown marble type requested"
activate free --flaw wrong-binding
check "evidence bound to another key -> 403" eq "$CODE $(jqv .status)" "403 fail"
check "binding message" contains "$(jqv .message)" "report data binding"
activate free --flaw garbage-csr
check "garbage CSR -> 400" eq "$CODE $(jqv .status)" "400 fail"
check "garbage CSR message" contains "$(jqv .message)" "csr"
activate free --flaw unsigned-csr
check "CSR with a broken signature -> 400" eq "$CODE" "400"
check "unsigned CSR message" contains "$(jqv .message)" "signature"
activate free --flaw bad-uuid
check "bad UUID -> 400" eq "$CODE $(jqv .message)" "400 malformed request: uuid: expected a canonical UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
activate free --flaw no-evidence
check "no evidence -> 400" eq "$CODE" "400"
activate free --flaw bad-json
check "malformed JSON -> 400" eq "$CODE" "400"
activate free --flaw no-client-cert
check "no client certificate -> 401" eq "$CODE $(jqv .status)" "401 fail"
AFTER=$(snapshot)
check "refusals left the state unchanged" eq "$AFTER" "$BEFORE"
activate web
check "second web activation ok" eq "$CODE" "200"
SEALED=$(sha256sum "$WORK/a/seal/sealed_data")
activate web
check "MaxActivations exceeded -> 403" eq "$CODE" "403"
check "MaxActivations message" contains "$(jqv .message)" "maximum number of activations (2)"
check "refused activation did not write the state" eq "$(sha256sum "$WORK/a/seal/sealed_data")" "$SEALED"
# oversized activation body
head -c 5000000 /dev/zero | tr '\0' 'a' >"$WORK/bigact"
C=$(curl -sk -o /dev/null -w '%{http_code}' "https://$MESH/api/v2/activate" --data-binary @"$WORK/bigact" || true)
CODE=$C
check "oversized activation body -> 413" eq "$CODE" "413"
C=$(curl -sk -o /dev/null -w '%{http_code}' "https://$MESH/api/v2/other" || true)
CODE=$C
check "mesh unknown path -> 405" eq "$CODE" "405"
# a slow client is dropped: open TCP and send nothing
T0=$(date +%s%N)
timeout 20 bash -c "exec 3<>/dev/tcp/${CLIENT%:*}/${CLIENT##*:}; cat <&3 >/dev/null" || true
T1=$(date +%s%N)
check "idle client dropped by the timeout (2 s configured)" test $(( (T1 - T0) / 1000000 )) -lt 10000
req GET /api/v2/status
check "still serving" eq "$CODE $(jqv .data.code)" "200 3"
stop_coord
finish
