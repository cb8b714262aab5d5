#!/usr/bin/env bash
# Request envelopes are decoded like Go's encoding/json decodes MarbleRun's
# structs (case-insensitive keys, unknown keys ignored), and every user
# endpoint answers 401 without a user's client certificate before looking at
# the query, the body or the state, as MarbleRun's handlers do.
. "$(dirname "$0")/lib.sh"
mkuser alice
mkuser mallory
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"web": {"Package": "pkg"}},
  "Secrets": {"k": {"Type": "symmetric-key", "Size": 128, "Shared": true},
              "u": {"Type": "plain", "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["r", "w", "upd", "pk"]}},
  "Roles": {"r": {"ResourceType": "Secrets", "ResourceNames": ["k", "u"], "Actions": ["ReadSecret"]},
            "w": {"ResourceType": "Secrets", "ResourceNames": ["u"], "Actions": ["WriteSecret"]},
            "upd": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]},
            "pk": {"ResourceType": "Packages", "ResourceNames": ["pkg"], "Actions": ["UpdateSecurityVersion"]}}
}
JSON
M=$(b64f "$WORK/m.json")
start_coord env
# state 2: no users exist yet, still 401 first (MarbleRun's VerifyUser)
req GET "/api/v2/secrets?s=k"
check "state 2: GET /api/v2/secrets without a certificate: 401 fail" eq "$CODE $(jqv .status)" "401 fail"
req GET "/api/v2/secrets"
check "state 2: GET /api/v2/secrets without ?s and without a certificate: 401 (not 400)" eq "$CODE" 401
# envelope keys: ambiguous or malformed refused, nothing set
req POST /api/v2/manifest -d "{\"manifest\":\"$M\",\"Manifest\":\"$M\"}"
check "two keys naming the same field are refused (400 fail)" eq "$CODE $(jqv .status)" "400 fail"
check "... and the message names the field" contains "$(jqv .message)" "manifest: given twice"
req POST /api/v2/manifest -d '{"Manifest": 5}'
check "a wrong type is refused naming the field" eq "$CODE $(jqv .message)" "400 manifest: expected a base64 string, got number"
req POST /api/v2/manifest -d '["manifest"]'
check "a non-object body is refused" eq "$CODE" 400
req GET /api/v2/status
check "state still 2" eq "$(jqv .data.code)" 2
# Go matches {"Manifest": ...} to the field `json:"manifest"`; unknown keys are ignored
req POST /api/v2/manifest -d "{\"Manifest\":\"$M\",\"comment\":\"ignored\",\"x\":{\"y\":[1,2]}}"
check "POST /api/v2/manifest with {\"Manifest\": ...} and unknown keys: 200" eq "$CODE" 200
req GET /api/v2/status
check "manifest set (state 3)" eq "$(jqv .data.code)" 3
# user endpoints without a certificate: 401 first, for v2 (fail) and v1 (error)
for ep in "GET /api/v2/secrets?s=k" "GET /api/v2/secrets" "POST /api/v2/secrets" "POST /api/v2/update" \
          "POST /api/v2/update-manifest" "POST /api/v2/update-cancel"; do
  req ${ep% *} "${ep#* }" -d 'not json'
  check "$ep without a certificate: 401 fail" eq "$CODE $(jqv .status)" "401 fail"
done
for ep in "GET /secrets?s=k" "GET /secrets" "POST /secrets" "POST /update" "POST /update-manifest" "POST /update-cancel"; do
  req ${ep% *} "${ep#* }" -d 'not json'
  check "v1 $ep without a certificate: 401 error" eq "$CODE $(jqv .status)" "401 error"
done
ureq mallory GET "/api/v2/secrets?s=k"
check "an unknown certificate: 401" eq "$CODE" 401
ureq mallory POST /api/v2/secrets -d '{'
check "an unknown certificate with a broken body: 401 (not 400)" eq "$CODE" 401
# with the user's certificate the same case rules hold for nested envelopes
ureq alice POST /api/v2/secrets -d "{\"SECRETS\":{\"u\":{\"key\":\"$(printf hello | base64 -w0)\"}}}"
check "POST /api/v2/secrets with {\"SECRETS\": {\"u\": {\"key\": ...}}}: 200" eq "$CODE" 200
ureq alice GET "/api/v2/secrets?s=u"
check "... and the secret reads back" eq "$(jqv .data.secrets.u.Private | base64 -d)" "hello"
# U+212A KELVIN SIGN folds to k in Go's EqualFold ("\u212aey" matches Key)
ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"u\":{\"\\u212aey\":\"$(printf bye | base64 -w0)\"}}}"
check "Go's Unicode fold: \\u212aey matches Key" eq "$CODE" 200
ureq alice GET "/api/v2/secrets?s=u"
check "... the secret was written" eq "$(jqv .data.secrets.u.Private | base64 -d)" "bye"
ureq alice GET "/api/v2/secrets"
check "with a user certificate, no ?s: 400" eq "$CODE" 400
ureq alice POST /api/v2/update -d "{\"MANIFEST\":\"$(printf '{"Packages":{"pkg":{"SecurityVersion":2}}}' | base64 -w0)\"}"
check "POST /api/v2/update with {\"MANIFEST\": ...}: the package update is applied" eq "$CODE" 200
finish
