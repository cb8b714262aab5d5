#!/usr/bin/env bash
# Every client/mesh endpoint in every state (2 AcceptingManifest, 3
# AcceptingMarbles, 1 Recovery), with status codes and JSend shapes.
. "$(dirname "$0")/lib.sh"
write_manifest "$WORK/m.json"

endpoints_common() {   # state-independent endpoints
  local st=$1
  req GET /api/v2/status
  check "state $st: GET /api/v2/status" eq "$CODE $(jqv .status) $(jqv .data.code)" "200 success $st"
  req GET /status
  check "state $st: GET /status (v1)" eq "$CODE $(jqv .data.StatusCode)" "200 $st"
  req GET /api/v2/quote
  check "state $st: GET /api/v2/quote: quote null in simulation" eq "$CODE $(jqv .data.quote)" "200 null"
  check "state $st: quote cert = intermediate + root" eq "$(jqv .data.cert | grep -c 'BEGIN CERTIFICATE')" "2"
  req GET "/api/v2/quote?nonce=$(printf 'fresh-nonce' | base64 -w0 | tr '+/' '-_')"
  check "state $st: GET /api/v2/quote?nonce=" eq "$CODE" "200"
  req GET '/api/v2/quote?nonce=%21%21%21'
  check "state $st: bad nonce -> 400 fail" eq "$CODE $(jqv .status)" "400 fail"
  req GET /quote
  check "state $st: GET /quote (v1)" eq "$CODE $(jqv .data.Quote)" "200 null"
  check "state $st: v1 quote Cert" contains "$(jqv .data.Cert)" "BEGIN CERTIFICATE"
  req POST /recover
  check "state $st: POST /recover (v1) -> 410" eq "$CODE $(jqv .status)" "410 error"
  req GET /api/v2/nope
  check "state $st: unknown path -> 405 error" eq "$CODE $(jqv .status)" "405 error"
  req DELETE /api/v2/status
  check "state $st: wrong method -> 405" eq "$CODE" "405"
  req PUT /api/v2/manifest -d x
  check "state $st: PUT /api/v2/manifest -> 405" eq "$CODE" "405"
  req GET /healthz
  check "state $st: /healthz" eq "$CODE $(jqv .status)" "200 ok"
  req GET /readyz
  check "state $st: /readyz" eq "$CODE $(jqv .state)" "200 $st"
  local m
  m=$(curl -s "http://$METRICS/metrics")
  check "state $st: coordinator_state metric" contains "$m" "coordinator_state $st"
}

start_coord a
endpoints_common 2
req GET /api/v2/manifest
check "state 2: GET /api/v2/manifest -> 409 fail (issue 11: never a 5xx)" eq "$CODE $(jqv .status)" "409 fail"
check "state 2: ... naming the state and what to do" contains "$(jqv .message)" "no manifest is set yet (state 2, accepting a manifest): set one with \`cairn manifest set\`"
req GET /manifest
check "state 2: GET /manifest (v1) -> 200 with empty fields" eq "$CODE $(jqv .data.Manifest) $(jqv .data.ManifestSignature)" "200 null "
req GET /api/v2/update
check "state 2: GET /api/v2/update -> 409 fail" eq "$CODE $(jqv .status)" "409 fail"
req GET /update
check "state 2: GET /update (v1) -> 409 error" eq "$CODE $(jqv .status)" "409 error"
activate web
check "state 2: activation -> 503 error" eq "$CODE $(jqv .status)" "503 error"
check "state 2: activation message" eq "$(jqv .message)" "cannot accept marbles in current state"
ROOT2=$(curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert)

set_manifest_file "$WORK/m.json"
check "state 2: POST /api/v2/manifest -> 200" eq "$CODE $(jqv .status) $(jqv .data.RecoverySecrets)" "200 success null"

endpoints_common 3
req GET /api/v2/manifest
check "state 3: GET /api/v2/manifest" eq "$CODE $(jqv .data.manifestFingerprint)" "200 $(sha256sum "$WORK/m.json" | cut -d' ' -f1)"
check "state 3: manifest bytes round-trip" eq "$(jqv .data.manifest | base64 -d | sha256sum)" "$(sha256sum <"$WORK/m.json")"
# the signature is ECDSA P-384 over SHA-256(manifest) with the root key
jqv .data.manifestSignatureRootECDSA | base64 -d >"$WORK/sig.der"
curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert | awk '/BEGIN/{n++} n==2' >"$WORK/root.pem"
openssl x509 -in "$WORK/root.pem" -pubkey -noout >"$WORK/root.pub"
check "state 3: manifest signature verifies with the root key" \
  openssl dgst -sha256 -verify "$WORK/root.pub" -signature "$WORK/sig.der" "$WORK/m.json"
check "state 3: root unchanged by the manifest set" eq "$(curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert)" "$ROOT2"
req GET /manifest
check "state 3: GET /manifest (v1)" eq "$CODE $(jqv .data.ManifestSignature)" "200 $(sha256sum "$WORK/m.json" | cut -d' ' -f1)"
req GET /api/v2/update
check "state 3: GET /api/v2/update" eq "$CODE $(jqv '.data.updateLog | length')" "200 1"
check "state 3: update log line" eq "$(jqv '.data.updateLog[0]' | jq -r .update)" "Initial manifest set"
req GET /update
check "state 3: GET /update (v1) is the log as one string" eq "$(jqv .data | jq -r .update)" "Initial manifest set"
set_manifest_file "$WORK/m.json"
check "state 3: POST /api/v2/manifest -> 409 fail (was 500)" eq "$CODE $(jqv .status)" "409 fail"
check "state 3: the answer keeps MarbleRun's words first" eq "$(jqv .message | cut -d: -f1)" "server is not in expected state"
check "state 3: ... says a manifest is set and what to do" contains "$(jqv .message)" "a manifest is already set (state 3, accepting marbles): change it with \`cairn manifest update apply\`, or start the Coordinator with a fresh seal directory"
req POST /manifest --data-binary @"$WORK/m.json"
check "state 3: POST /manifest (v1) -> 409 error" eq "$CODE $(jqv .status)" "409 error"
activate web
check "state 3: activation -> 200" eq "$CODE $(jqv .status)" "200 success"
stop_coord

# state 1: the sealing key changed (another machine) -> recovery
head -c 32 /dev/urandom >"$WORK/a/seal/sim_seal_key"
start_coord a
endpoints_common 1
check "state 1: recovery logged" grep -q "recovery mode" "$WORK/a/log"
req GET /api/v2/manifest
check "state 1: GET /api/v2/manifest -> 409" eq "$CODE" "409"
check "state 1: ... naming recovery mode" contains "$(jqv .message)" "recovery mode (state 1)"
req GET /api/v2/update
check "state 1: GET /api/v2/update -> 409" eq "$CODE" "409"
activate web
check "state 1: activation -> 503" eq "$CODE" "503"
# the unsealable state is kept until a new manifest replaces it
check "state 1: sealed state untouched" test -s "$WORK/a/seal/sealed_data"
set_manifest_file "$WORK/m.json"
check "state 1: POST /api/v2/manifest -> 200 (discards the old state)" eq "$CODE" "200"
req GET /api/v2/status
check "state 1 -> 3" eq "$(jqv .data.code)" "3"
check "state 1: a new manifest makes a new root" test "$(curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert)" != "$ROOT2"
stop_coord
start_coord a
req GET /api/v2/status
check "after recovery by new manifest, restart loads state 3" eq "$(jqv .data.code)" "3"
stop_coord
finish
