#!/usr/bin/env bash
# Users, permissions and the secrets API (inventory §1.7, §2.2, §2.3) against
# the real Coordinator: every permission allowed and denied, 401 for unknown
# certificates, all-or-nothing uploads with a template dry run, "Secret set"
# log lines naming the user, marbles activated afterwards get the values,
# state unchanged after every refusal, persistence across restarts.
. "$(dirname "$0")/lib.sh"

for u in alice bob carol dave; do mkuser $u; done
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"SignerID": "1111111111111111111111111111111111111111111111111111111111111111", "ProductID": 1, "SecurityVersion": 1, "Debug": true}},
  "Marbles": {"web": {"Package": "pkg", "Parameters": {"Files": {
      "/k": "{{ hex .Secrets.user_key }}", "/plain": "{{ raw .Secrets.user_plain }}",
      "/cert": "{{ pem .Secrets.user_cert.Cert }}"}}}},
  "Secrets": {
    "sym_shared": {"Type": "symmetric-key", "Size": 128, "Shared": true},
    "cert_shared": {"Type": "cert-ecdsa", "Size": 256, "Shared": true},
    "priv_key": {"Type": "symmetric-key", "Size": 128},
    "user_key": {"Type": "symmetric-key", "Size": 256, "UserDefined": true},
    "user_cert": {"Type": "cert-ecdsa", "UserDefined": true},
    "user_plain": {"Type": "plain", "UserDefined": true}
  },
  "Users": {
    "alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["readall", "writeall"]},
    "bob": {"Certificate": $(pemjson "$WORK/bob.crt"), "Roles": ["readkey", "writekey"]},
    "carol": {"Certificate": $(pemjson "$WORK/carol.crt"), "Roles": ["svn"]}
  },
  "Roles": {
    "readall": {"ResourceType": "Secrets", "ResourceNames": ["sym_shared", "cert_shared", "user_key", "user_cert", "user_plain"], "Actions": ["ReadSecret"]},
    "writeall": {"ResourceType": "Secrets", "ResourceNames": ["user_key", "user_cert", "user_plain"], "Actions": ["WriteSecret"]},
    "readkey": {"ResourceType": "Secrets", "ResourceNames": ["user_key"], "Actions": ["readsecret"]},
    "writekey": {"ResourceType": "Secrets", "ResourceNames": ["user_key"], "Actions": ["WRITESECRET"]},
    "svn": {"ResourceType": "Packages", "ResourceNames": ["pkg"], "Actions": ["UpdateSecurityVersion"]}
  }
}
JSON

start_coord c1
req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest with users, roles and user-defined secrets set" eq "$CODE" 200

# ---- authentication ----
snapshot "$WORK/s0"
req GET "/api/v2/secrets?s=sym_shared"
check "no client certificate: 401 fail" eq "$CODE:$(jqv .status)" "401:fail"
check "401 message says unauthorized" contains "$BODY" "unauthorized user"
ureq dave GET "/api/v2/secrets?s=sym_shared"
check "certificate of no manifest user: 401" eq "$CODE" 401
check "state unchanged after 401s" unchanged "$WORK/s0"

# ---- ReadSecret ----
ureq alice GET "/api/v2/secrets?s=sym_shared&s=cert_shared"
check "alice reads shared secrets" eq "$CODE" 200
check "shared symmetric key is 16 bytes" eq "$(jqv .data.secrets.sym_shared.Private | base64 -d | wc -c)" 16
check "Private = Public for a symmetric key" eq "$(jqv .data.secrets.sym_shared.Private)" "$(jqv .data.secrets.sym_shared.Public)"
check "shared cert has Cert DER" test -n "$(jqv .data.secrets.cert_shared.Cert)"
check "secret JSON has MarbleRun's capitalized keys" eq "$(jqv '.data.secrets.sym_shared | keys | join(",")')" \
  "Cert,Private,Public,Shared,Size,Type,UserDefined,ValidFor"
SYM1=$(jqv .data.secrets.sym_shared.Private)
CERT1=$(jqv .data.secrets.cert_shared.Cert)
ureq bob GET "/api/v2/secrets?s=sym_shared"
check "bob may not read sym_shared: 403 fail" eq "$CODE:$(jqv .status)" "403:fail"
check "refusal names user, permission and secret" contains "$BODY" "user bob is not allowed to ReadSecret sym_shared"
ureq bob GET "/api/v2/secrets?s=user_key&s=sym_shared"
check "all requested names rule: one missing name refuses all" eq "$CODE" 403
check "the refusal names the missing name" contains "$(jqv .message)" "Secrets \"sym_shared\""
ureq bob GET "/api/v2/secrets?s=user_key"
check "bob reads user_key (action matched case-insensitively)" eq "$CODE" 200
check "unset user-defined secret has no value yet" eq "$(jqv .data.secrets.user_key.Private)" "null"
ureq alice GET "/api/v2/secrets?s=priv_key"
check "private secret unreadable (no role may grant it)" eq "$CODE" 403
ureq alice GET "/api/v2/secrets"
check "no s parameter: 400 fail" eq "$CODE:$(jqv .status)" "400:fail"
ureq alice GET "/api/v2/secrets?s="
check "empty s: 400 fail" eq "$CODE" 400
ureq carol GET "/api/v2/secrets?s=user_key"
check "carol (Packages role only) may not read" eq "$CODE" 403
check "state unchanged after read refusals" unchanged "$WORK/s0"

# ---- WriteSecret ----
KEY32=$(head -c 32 /dev/urandom | base64 -w0)
ureq bob POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$KEY32\"}}}"
check "bob sets user_key" eq "$CODE:$(jqv .status)" "200:success"
req GET /api/v2/update
check "log line Secret set names user, secret and type" eq \
  "$(jqv '.data.updateLog[-1]' | jq -r '[.update,.user,.secret,.type]|join(",")')" "Secret set,bob,user_key,symmetric-key"
snapshot "$WORK/s1"
ureq bob POST /api/v2/secrets -d "{\"secrets\":{\"user_plain\":{\"Key\":\"aGk=\"}}}"
check "bob may not write user_plain" eq "$CODE" 403
check "write refusal names user, permission, secret" contains "$BODY" "user bob is not allowed to WriteSecret user_plain"
ureq bob POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$KEY32\"},\"user_plain\":{\"Key\":\"aGk=\"}}}"
check "bob: one name without permission refuses the whole upload" eq "$CODE" 403
ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$(head -c 16 /dev/urandom | base64 -w0)\"}}}"
check "wrong symmetric key size refused" eq "$CODE" 400
check "size refusal names the secret" contains "$BODY" "user_key"
NEWKEY=$(head -c 32 /dev/urandom | base64 -w0)
ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$NEWKEY\"},\"user_plain\":{\"Cert\":\"$CERT1\"}}}"
check "one invalid secret refuses the whole upload" eq "$CODE" 400
ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"user_cert\":{\"Key\":\"aGk=\"}}}"
check "cert secret with Key refused" eq "$CODE" 400
ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"nope\":{\"Key\":\"aGk=\"}}}"
check "unknown secret refused" eq "$CODE" 403
ureq alice POST /api/v2/secrets -d '{"secrets":{}}'
check "empty upload refused" eq "$CODE" 400
ureq alice POST /api/v2/secrets -d '{"secrets":'
check "bad JSON: 400 fail" eq "$CODE:$(jqv .status)" "400:fail"
ureq dave POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$NEWKEY\"}}}"
check "unknown user cannot write: 401" eq "$CODE" 401
check "state unchanged after write refusals" unchanged "$WORK/s1"
ureq alice GET "/api/v2/secrets?s=user_key"
check "user_key still bob's value (all-or-nothing)" eq "$(jqv .data.secrets.user_key.Private)" "$KEY32"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/uc.key" -out "$WORK/uc.crt" \
  -subj /CN=uploaded -days 2 2>/dev/null
UCDER=$(openssl x509 -in "$WORK/uc.crt" -outform DER | base64 -w0)
UKDER=$(openssl pkcs8 -topk8 -nocrypt -in "$WORK/uc.key" -outform DER | base64 -w0)
ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"user_cert\":{\"Cert\":\"$UCDER\",\"Private\":\"$UKDER\"},\"user_plain\":{\"Key\":\"$(printf 'plain text' | base64 -w0)\"}}}"
check "alice uploads a certificate with key and a plain secret" eq "$CODE" 200
req GET /api/v2/update
check "one log line per secret" eq "$(jqv '.data.updateLog | map(fromjson | select(.update == "Secret set")) | length')" 3
ureq alice GET "/api/v2/secrets?s=user_cert&s=user_plain"
check "uploaded cert read back (DER)" eq "$(jqv .data.secrets.user_cert.Cert)" "$UCDER"
check "uploaded plain read back" eq "$(jqv .data.secrets.user_plain.Private | base64 -d)" "plain text"

# ---- marbles activated afterwards receive the values ----
if [ -x "$TOOL" ]; then
  out=$("$TOOL" "$MESH" web --file /k || true)
  check "marble activated after upload gets user_key" eq "$(printf '%s\n' "$out" | tail -n +2)" \
    "$(printf '%s' "$KEY32" | base64 -d | od -An -tx1 | tr -d ' \n')"
  out=$("$TOOL" "$MESH" web --file /plain || true)
  check "marble gets the plain secret" eq "$(printf '%s\n' "$out" | tail -n +2)" "plain text"
else
  echo "skip - activate_tool not built: marble delivery not checked"
fi

# ---- concurrent uploads: both land, nothing lost ----
CK=$(head -c 32 /dev/urandom | base64 -w0)
CP=$(printf 'concurrent' | base64 -w0)
req GET /api/v2/update; NLOG=$(jqv '.data.updateLog|length')
( ureq bob POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$CK\"}}}"; echo "$CODE" >"$WORK/c.bob" ) &
P1=$!
( ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"user_plain\":{\"Key\":\"$CP\"}}}"; echo "$CODE" >"$WORK/c.alice" ) &
P2=$!
wait "$P1" "$P2"   # only these two (the Coordinator is a child too)
check "two concurrent uploads both succeed" eq "$(cat "$WORK/c.bob"):$(cat "$WORK/c.alice")" "200:200"
ureq alice GET "/api/v2/secrets?s=user_key&s=user_plain"
check "both values stored" eq "$(jqv .data.secrets.user_key.Private):$(jqv .data.secrets.user_plain.Private)" "$CK:$CP"
req GET /api/v2/update
check "two more log lines" eq "$(jqv '.data.updateLog|length')" "$((NLOG + 2))"
KEY32=$CK

# ---- v1 paths ----
ureq bob GET "/secrets?s=user_key"
check "v1 GET /secrets unwrapped" eq "$(jqv .data.user_key.Private)" "$KEY32"
req GET "/secrets?s=user_key"
check "v1 without certificate: 401 error" eq "$CODE:$(jqv .status)" "401:error"
ureq bob POST /secrets -d "{\"user_plain\":{\"Key\":\"aGk=\"}}"
check "v1 permission refusal: 403 error" eq "$CODE:$(jqv .status)" "403:error"
ureq bob POST /secrets -d "{\"user_key\":{\"Key\":\"$NEWKEY\"}}"
check "v1 POST /secrets sets" eq "$CODE" 200
ureq bob GET "/api/v2/secrets?s=user_key"
check "v1 upload visible in v2" eq "$(jqv .data.secrets.user_key.Private)" "$NEWKEY"

# ---- restart: everything persisted ----
req GET /api/v2/update; LOG_BEFORE=$BODY
restart_coord c1
ureq alice GET "/api/v2/secrets?s=user_key&s=user_plain&s=sym_shared&s=cert_shared"
check "after restart: user secret kept" eq "$(jqv .data.secrets.user_key.Private)" "$NEWKEY"
check "after restart: shared key kept" eq "$(jqv .data.secrets.sym_shared.Private)" "$SYM1"
check "after restart: shared cert kept" eq "$(jqv .data.secrets.cert_shared.Cert)" "$CERT1"
req GET /api/v2/update
check "after restart: update log kept" eq "$BODY" "$LOG_BEFORE"
check "Coordinator still serving" alive
finish
