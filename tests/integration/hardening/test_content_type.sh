#!/usr/bin/env bash
# Issue 12 §4: state-changing requests on the client API need
# Content-Type: application/json (parameters allowed), else 415. A browser
# holding a user's client certificate can be made to POST cross-site, but only
# with a form encoding, text/plain or no type; application/json needs a CORS
# preflight that the Coordinator never grants. A POST without a type and
# without a body passes unless it carries Origin (MarbleRun's CLI cancels an
# update that way; browsers send Origin with every cross-site POST).
source "$(dirname "$0")/../coordinator/lib.sh"
start_coord ct
write_manifest "$WORK/m.json"
BODYJSON="{\"manifest\":\"$(base64 -w0 "$WORK/m.json")\"}"

post() {   # post PATH CONTENT-TYPE|- [curl args...]: sets CODE BODY (no default type)
  local p=$1 t=$2; shift 2
  local h=()
  [ "$t" = - ] || h=(-H "Content-Type: $t")
  CODE=$(curl -sk -o "$WORK/body" -w '%{http_code}' -X POST "https://$CLIENT$p" "${h[@]}" "$@" || true)
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}

for t in text/plain application/x-www-form-urlencoded "multipart/form-data; boundary=x" application/jsonx \
         "application/json-patch+json" "text/json"; do
  post /api/v2/manifest "$t" --data-binary "$BODYJSON"
  check "POST /api/v2/manifest as $t -> 415" eq "$CODE $(jqv .status)" "415 fail"
done
post /api/v2/manifest - --data-binary "$BODYJSON"
check "POST /api/v2/manifest with a body and no Content-Type -> 415" eq "$CODE" 415
# curl -d without -H sends application/x-www-form-urlencoded, as an HTML form does
CODE=$(curl -sk -o "$WORK/body" -w '%{http_code}' "https://$CLIENT/manifest" -d "$(cat "$WORK/m.json")" || true)
check "v1 POST /manifest as a form -> 415" eq "$CODE" 415
post /api/v2/secrets text/plain --data-binary '{}'
check "POST /api/v2/secrets as text/plain -> 415" eq "$CODE" 415
post /api/v2/update-cancel - -H "Origin: https://evil.example"
check "empty POST /api/v2/update-cancel without a type but with Origin -> 415" eq "$CODE" 415
post /api/v2/manifest "Application/JSON; charset=utf-8" --data-binary "$BODYJSON"
check "POST /api/v2/manifest as Application/JSON; charset=utf-8 -> 200" eq "$CODE $(jqv .status)" "200 success"
post /api/v2/update-cancel -
# the handler answers (no user certificate: 401), not the type check
check "empty POST /api/v2/update-cancel without a type (MarbleRun's CLI) reaches the handler" eq "$CODE" 401
req GET /api/v2/status
check "GET needs no type" eq "$CODE" 200
finish
