#!/usr/bin/env bash
# MarbleRun TestSettingSecrets: testMarbleUnset uses two UserDefined secrets
# in its Files; it cannot start before they are set; the admin sets them
# (test.UserSecrets: a 16-byte key and an Ed25519 certificate with private
# key), then it starts.
. "$(dirname "$0")/lib.sh"
render integration.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
start_coord c
set_manifest "$WORK/m.json"
check "manifest set" eq "$CODE" 200
check "server marble starts" start_marble_server testMarbleServer
check "testMarbleUnset fails while its secrets are unset" not start_marble_client testMarbleUnset
# MarbleRun: Internal "customizing marble parameters: ..." (the template fails)
check "refused with Internal, naming the unset secret symmetricKeyUnset" refused_with INTERNAL "symmetricKeyUnset"
ureq "$KEYS/admin.key" "$KEYS/admin.crt" POST /api/v2/secrets -H 'Content-Type: application/json' \
  -d "{\"secrets\": $(cat "$DATA/user-secrets.json")}"
check "SecretSet (api.SecretSet, v2 envelope) as admin" eq "$CODE" 200
check "testMarbleUnset starts with the secrets set" start_marble_client testMarbleUnset
D=$WORK/marble$MARBLE_N
# the file the marble got: "user-defined secret: <raw key> <pem private>"
printf 'user-defined secret: ' >"$WORK/want"; printf '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f ' >>"$WORK/want"
check "its file starts with the raw user key" cmp -n "$(wc -c <"$WORK/want")" "$WORK/want" "$D/fs/tmp/coordinator_test/pqr.txt"
check "its file carries the user's Ed25519 private key as PEM" grep -q "BEGIN PRIVATE KEY" "$D/fs/tmp/coordinator_test/pqr.txt"
finish
