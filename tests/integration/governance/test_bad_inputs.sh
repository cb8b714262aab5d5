#!/usr/bin/env bash
# Malformed and hostile requests to every governance endpoint, with and
# without a valid user certificate, in states 3 and 1: each gets a JSend
# error or fail with a message, the state (manifest, status, update log,
# pending update) is unchanged, the Coordinator keeps serving and restarts.
. "$(dirname "$0")/lib.sh"

mkuser alice; mkuser bob
mkreckey rk1
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"SignerID": "11", "ProductID": 1, "SecurityVersion": 1}},
  "Marbles": {"web": {"Package": "pkg"}},
  "Secrets": {"k": {"Type": "symmetric-key", "Size": 128, "UserDefined": true},
              "c": {"Type": "cert-ecdsa", "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["upd", "rw", "svn"]},
            "bob": {"Certificate": $(pemjson "$WORK/bob.crt"), "Roles": ["upd"]}},
  "Roles": {"upd": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]},
            "rw": {"ResourceType": "Secrets", "ResourceNames": ["k", "c"], "Actions": ["ReadSecret", "WriteSecret"]},
            "svn": {"ResourceType": "Packages", "ResourceNames": ["pkg"], "Actions": ["UpdateSecurityVersion"]}},
  "RecoveryKeys": {"rk1": $(pemjson "$WORK/rk1.pub")}
}
JSON
start_coord c
req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set" eq "$CODE" 200
# a pending update, so acknowledgement and cancel paths see real state
jq '.Marbles.web.Parameters = {"Argv": ["x"]}' "$WORK/m.json" >"$WORK/m2.json"
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m2.json")"
check "pending update started" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:1"
snapshot "$WORK/s0"

head -c 3000 /dev/urandom >"$WORK/rand.bin"
BODIES=(
  ''
  'null' '[]' '"x"' '123' '{' '{}' '{"manifest":null}' '{"manifest":1}' '{"manifest":"!!!"}' '{"manifest":""}'
  '{"manifest":"e30="}' '{"manifest":"W10="}' "{\"manifest\":\"$(printf '{"Packages":{"pkg":{"SecurityVersion":-1}}}' | base64 -w0)\"}"
  "{\"manifest\":\"$(printf '{"Packages":{"pkg":{"SecurityVersion":1.5}}}' | base64 -w0)\"}"
  "{\"manifest\":\"$(printf '{"Packages":{}}' | base64 -w0)\"}"
  '{"secrets":null}' '{"secrets":[]}' '{"secrets":{"k":null}}' '{"secrets":{"k":[]}}' '{"secrets":{"k":{"Key":1}}}'
  '{"secrets":{"k":{"Key":"!!"}}}' '{"secrets":{"k":{"Key":""}}}' '{"secrets":{"c":{"Cert":"AAAA"}}}'
  '{"secrets":{"c":{"Cert":{"Raw":"AAAA"}}}}' '{"secrets":{"c":{}}}' '{"secrets":{"k":{"Key":"AAAAAAAAAAAAAAAAAAAAAA==","Cert":"AA=="}}}'
  '{"secrets":{"k":{"Key":"AAAAAAAAAAAAAAAAAAAAAA=="},"k":{"Key":"AAAAAAAAAAAAAAAAAAAAAA=="}}}'
  '{"recoverySecret":1}' '{"recoverySecret":"AA==","recoverySecretSignature":null}'
  "$(head -c 2000 "$WORK/rand.bin" | base64 -w0)"
)
POSTS=(/api/v2/update /api/v2/update-manifest /api/v2/update-cancel /api/v2/secrets /api/v2/recover
       /update /update-manifest /update-cancel /secrets)
n=0 bad=0
for p in "${POSTS[@]}"; do
  i=0
  for b in "${BODIES[@]}"; do
    i=$((i+1))
    for who in none alice; do
      # every body with alice's certificate on v2 (it reaches the deepest
      # checks); a sample of them unauthenticated and on v1 (runtime)
      if [ $who = none ] || [[ "$p" != /api/v2/* ]]; then [ $((i % 6)) -eq 1 ] || continue; fi
      # alice's update-cancel ignores the body and is a valid request: it would
      # cancel the pending update, so only the unauthenticated one is sent here
      [[ "$p" == *update-cancel && $who = alice ]] && continue
      if [ $who = none ]; then req POST "$p" --data-binary "$b"; else ureq alice POST "$p" --data-binary "$b"; fi
      n=$((n+1))
      st=$(jqv .status)
      # refusals only: 4xx/5xx with a JSend status and a message
      if [[ "$CODE" =~ ^[45] ]] && [[ "$st" = fail || "$st" = error ]] && [ -n "$(jqv .message)" ]; then :; else
        bad=$((bad+1)); echo "unexpected: $who POST $p body=${b:0:60} -> $CODE ${BODY:0:200}"
      fi
    done
  done
done
check "$n malformed POSTs: every one refused with a JSend message" eq "$bad" 0
# raw random bytes as body
for p in "${POSTS[@]}"; do [[ "$p" == *update-cancel ]] || ureq alice POST "$p" --data-binary @"$WORK/rand.bin"; done
check "random binary bodies do not change the state" unchanged "$WORK/s0"
for q in "" "?s" "?s=" "?s=nope" "?s=k&s=" "?s=%00" "?s=$(head -c 300 /dev/zero | tr '\0' a)" "?x=k" "?s=k&s=k"; do
  ureq alice GET "/api/v2/secrets$q"
  case "$q" in "?s=k&s=k") check "GET secrets$q answers" eq "$CODE" 200 ;;
    *) check "GET secrets${q:0:20} refused with a message" test -n "$(jqv .message)" ;; esac
done
req POST /api/v2/recover -d '{"recoverySecret":"AA==","recoverySecretSignature":"AA=="}'
check "recover in state 3 refused" eq "$CODE:$(jqv .message | cut -d: -f1)" "409:server is not in expected state"
check "state unchanged after every malformed request" unchanged "$WORK/s0"
check "Coordinator still serving" alive
restart_coord c
check "state unchanged after restart" unchanged "$WORK/s0"

# ---- state 1: the recovery endpoints under garbage ----
stop_coord; rm -f "$WORK/c/seal/sim_seal_key"; start_coord c
snapshot "$WORK/s1"
for b in "${BODIES[@]}"; do
  req POST /api/v2/recover --data-binary "$b"
  [[ "$CODE" =~ ^[45] ]] || { echo "unexpected recover answer $CODE for ${b:0:40}"; FAILS=$((FAILS+1)); }
done
for len in 1 15 17 31 34 64 255 256 512 513; do
  req POST /api/v2/recover -d "{\"recoverySecret\":\"$(head -c $len /dev/urandom | base64 -w0)\",\"recoverySecretSignature\":\"$(head -c 256 /dev/urandom | base64 -w0)\"}"
  [[ "$CODE" =~ ^[45] ]] || { echo "unexpected recover answer $CODE for a $len-byte secret"; FAILS=$((FAILS+1)); }
done
check "state 1: garbage recovery uploads refused, state unchanged" unchanged "$WORK/s1"
ureq alice GET "/api/v2/secrets?s=k"
# MarbleRun authenticates the user first; in recovery no users exist: 401
check "secrets in state 1: refused (401, no users in recovery)" eq "$CODE" 401
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m2.json")"
check "update in state 1: refused (401, no users in recovery)" eq "$CODE" 401
check "Coordinator in state 1 still serving" alive
finish
