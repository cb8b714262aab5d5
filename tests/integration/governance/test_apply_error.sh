#!/usr/bin/env bash
# A full update that validates with dummy values but fails when applied with
# the real ones (an uploaded plain secret holding a NUL byte moved into an Env
# template): the update is cancelled with MarbleRun's log line, the running
# manifest, secrets and the rest of the state stay as they were, and the
# Coordinator keeps serving and restarts.
. "$(dirname "$0")/lib.sh"

for u in alice bob; do mkuser $u; done
# manifest FILE TEMPLATE_SECTION
manifest() {
  cat >"$1" <<JSON
{
  "Packages": {"pkg": {"SignerID": "11", "ProductID": 1, "SecurityVersion": 1}},
  "Marbles": {"web": {"Package": "pkg", "Parameters": {$2}}},
  "Secrets": {"blob": {"Type": "plain", "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["upd", "rw"]},
            "bob": {"Certificate": $(pemjson "$WORK/bob.crt"), "Roles": ["upd"]}},
  "Roles": {"upd": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]},
            "rw": {"ResourceType": "Secrets", "ResourceNames": ["blob"], "Actions": ["ReadSecret", "WriteSecret"]}}
}
JSON
}
manifest "$WORK/m1.json" '"Files": {"/blob": "{{ raw .Secrets.blob }}"}'
manifest "$WORK/m2.json" '"Env": {"BLOB": "{{ string .Secrets.blob }}"}'
start_coord c
req POST /api/v2/manifest -d "$(mbody "$WORK/m1.json")"
check "manifest with a plain secret used in a file" eq "$CODE" 200
NUL=$(printf 'a\0b' | base64 -w0)
ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"blob\":{\"Key\":\"$NUL\"}}}"
check "a plain secret with a NUL byte is fine in a file" eq "$CODE" 200
req GET /api/v2/manifest; MAN=$BODY
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m2.json")"
check "the update validates (dummy values) and waits for bob" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:1"
ureq bob POST /api/v2/update-manifest -d "$(mbody "$WORK/m2.json")"
check "applying with the real value fails" eq "$CODE" 400
check "the refusal says the update was cancelled and why" contains "$(jqv .message)" "the update was cancelled"
check "... naming the template rule" contains "$(jqv .message)" "BLOB"
req GET /api/v2/update
check "log: MarbleRun's cancel-on-error line" eq "$(jqv '.data.updateLog[-1]' | jq -r .update)" \
  "Complete Manifest update cancelled due to error during apply"
req GET /api/v2/update-manifest
check "no pending update afterwards" eq "$CODE" 404
req GET /api/v2/manifest
check "the running manifest is unchanged" eq "$BODY" "$MAN"
ureq alice GET "/api/v2/secrets?s=blob"
check "the secret is unchanged" eq "$(jqv .data.secrets.blob.Private)" "$NUL"
restart_coord c
req GET /api/v2/manifest
check "after restart: unchanged manifest" eq "$BODY" "$MAN"
check "Coordinator still serving" alive
finish
