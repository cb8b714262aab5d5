#!/usr/bin/env bash
# MarbleRun TestSettingSecrets: needsUserSecrets uses two UserDefined secrets
# in its Files; it cannot start before they are set; user "operator" sets
# them (user-secrets.json: a 16-byte key and our own Ed25519 certificate with
# its private key), then it starts.
. "$(dirname "$0")/lib.sh"
render mesh.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
start_coord c
set_manifest "$WORK/m.json"
check "manifest set" eq "$CODE" 200
check "server marble starts" start_marble_server meshServer
check "needsUserSecrets fails while its secrets are unset" not start_marble_client needsUserSecrets
# MarbleRun: Internal "customizing marble parameters: ..." (the template fails)
check "refused with Internal, naming the unset secret userKey" refused_with INTERNAL "userKey"
ureq "$KEYS/admin.key" "$KEYS/admin.crt" POST /api/v2/secrets -H 'Content-Type: application/json' \
  -d "{\"secrets\": $(cat "$DATA/user-secrets.json")}"
check "SecretSet (api.SecretSet, v2 envelope) as operator" eq "$CODE" 200
check "needsUserSecrets starts with the secrets set" start_marble_client needsUserSecrets
D=$WORK/marble$MARBLE_N
# the file the marble got: "key=<raw key>\n<pem private>"; the key is the one
# in user-secrets.json (base64 of these 16 ASCII bytes)
printf 'key=cairn-user-key16\n' >"$WORK/want"
check "its file starts with the raw user key" cmp -n "$(wc -c <"$WORK/want")" "$WORK/want" "$D/fs/srv/cairn-scenario/user/material.txt"
check "its file carries the user's Ed25519 private key as PEM" grep -q "BEGIN PRIVATE KEY" "$D/fs/srv/cairn-scenario/user/material.txt"
finish
