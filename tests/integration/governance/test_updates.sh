#!/usr/bin/env bash
# Updates (inventory §6) against the real Coordinator: package SecurityVersion
# updates (new intermediate, shared certs regenerated, symmetric keys kept,
# manifest and signature unchanged), a three-user full update with
# UpdateThreshold 2, a non-identical acknowledgement refused, cancel,
# .Previous.Secrets, RotateRootSecret, recovery secrets on changed
# RecoveryKeys, v1 paths, the update log naming the users, restarts between
# phases, state unchanged after every refusal.
. "$(dirname "$0")/lib.sh"

for u in alice bob carol dave; do mkuser $u; done
mkreckey rk1
SIGNER=1111111111111111111111111111111111111111111111111111111111111111
users_json() {
  cat <<JSON
  "Users": {
    "alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["upd", "read"]},
    "bob": {"Certificate": $(pemjson "$WORK/bob.crt"), "Roles": ["upd"]},
    "carol": {"Certificate": $(pemjson "$WORK/carol.crt"), "Roles": ["upd"]},
    "dave": {"Certificate": $(pemjson "$WORK/dave.crt"), "Roles": ["svn"]}
  },
  "Roles": {
    "upd": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]},
    "read": {"ResourceType": "Secrets", "ResourceNames": ["sym", "crt"], "Actions": ["ReadSecret"]},
    "svn": {"ResourceType": "Packages", "ResourceNames": ["pkg"], "Actions": ["UpdateSecurityVersion"]}
  }
JSON
}
# manifest FILE EXTRA_FILES_JSON CONFIG_JSON [EXTRA_TOP_JSON]
manifest() {
  cat >"$1" <<JSON
{
  "Packages": {"pkg": {"SignerID": "$SIGNER", "ProductID": 1, "SecurityVersion": 1, "Debug": true},
               "other": {"SignerID": "$SIGNER", "ProductID": 2, "SecurityVersion": 3}},
  "Marbles": {"web": {"Package": "pkg", "Parameters": {"Files": {"/sym": "{{ hex .Secrets.sym }}" $2}}}},
  "Secrets": {"sym": {"Type": "symmetric-key", "Size": 128, "Shared": true},
              "crt": {"Type": "cert-ecdsa", "Size": 256, "Shared": true}},
$(users_json),
  "Config": $3 ${4:-}
}
JSON
}
manifest "$WORK/m1.json" "" '{"UpdateThreshold": 2}'
start_coord c
req POST /api/v2/manifest -d "$(mbody "$WORK/m1.json")"
check "manifest m1 set" eq "$CODE" 200
req GET /api/v2/manifest; MAN1=$BODY
req GET /api/v2/quote; CHAIN1=$(jqv .data.cert)
ureq alice GET "/api/v2/secrets?s=sym&s=crt"; SYM1=$(jqv .data.secrets.sym.Private); CRT1=$(jqv .data.secrets.crt.Cert)

# ================= package (SecurityVersion) updates =================
printf '{"Packages":{"pkg":{"SecurityVersion":2}}}' >"$WORK/svn2.json"
printf '{"Packages":{"pkg":{"SecurityVersion":1}}}' >"$WORK/svn1.json"
printf '{"Packages":{"pkg":{"SecurityVersion":5,"UniqueID":"00"}}}' >"$WORK/svnuid.json"
printf '{"Packages":{"nope":{"SecurityVersion":5}}}' >"$WORK/svnunk.json"
printf '{"Packages":{"pkg":{"SecurityVersion":4},"other":{"SecurityVersion":4}}}' >"$WORK/svnboth.json"
snapshot "$WORK/s0"
ureq alice POST /api/v2/update -d "$(mbody "$WORK/svn2.json")"
check "alice lacks UpdateSecurityVersion: refused" eq "$CODE" 403
check "refusal names user, permission, package" contains "$(jqv .message)" "user alice is not allowed to UpdateSecurityVersion pkg"
ureq dave POST /api/v2/update -d "$(mbody "$WORK/svnboth.json")"
check "dave lacks the permission on one of two packages: refused" eq "$CODE" 403
check "the refusal names the package not granted" contains "$(jqv .message)" 'Packages "other"'
ureq dave POST /api/v2/update -d "$(mbody "$WORK/svnuid.json")"
check "update manifest setting UniqueID refused" eq "$CODE" 400
ureq dave POST /api/v2/update -d "$(mbody "$WORK/svnunk.json")"
check "unknown package refused" eq "$CODE" 403
req POST /api/v2/update -d "$(mbody "$WORK/svn2.json")"
check "no certificate: 401" eq "$CODE" 401
ureq dave POST /api/v2/update -d '{"manifest":"%%%"}'
check "bad base64: 400 fail" eq "$CODE:$(jqv .status)" "400:fail"
check "state unchanged after SVN refusals" unchanged "$WORK/s0"

ureq dave POST /api/v2/update -d "$(mbody "$WORK/svn2.json")"
check "dave raises pkg to SecurityVersion 2" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:0"
req GET /api/v2/update
check "log: SecurityVersion increased {user, package, new version}" eq \
  "$(jqv '.data.updateLog[-1]' | jq -r '[.update,.user,.package,(."new version"|tostring)]|join(",")')" \
  "SecurityVersion increased,dave,pkg,2"
req GET /api/v2/manifest
check "stored manifest and signature unchanged by an SVN update" eq "$BODY" "$MAN1"
req GET /api/v2/quote; CHAIN2=$(jqv .data.cert)
check "new intermediate after the SVN update" test "$(printf '%s' "$CHAIN1" | head -5)" != "$(printf '%s' "$CHAIN2" | head -5)"
check "same root after the SVN update" eq "$(printf '%s' "$CHAIN1" | tail -5)" "$(printf '%s' "$CHAIN2" | tail -5)"
ureq alice GET "/api/v2/secrets?s=sym&s=crt"
check "shared symmetric key kept" eq "$(jqv .data.secrets.sym.Private)" "$SYM1"
check "shared certificate regenerated" test "$(jqv .data.secrets.crt.Cert)" != "$CRT1"
snapshot "$WORK/s1"
ureq dave POST /api/v2/update -d "$(mbody "$WORK/svn1.json")"
check "downgrade to 1 refused" eq "$CODE" 400
check "state unchanged after the downgrade refusal" unchanged "$WORK/s1"

restart_coord c
check "restart after the SVN update: state unchanged" unchanged "$WORK/s1"
ureq dave POST /api/v2/update -d "$(mbody "$WORK/svn1.json")"
check "after restart the raised SVN (2) still refuses 1" eq "$CODE" 400
if [ -x "$TOOL" ]; then
  out=$("$TOOL" "$MESH" web --file /sym || true)
  check "marble activates after the SVN update (simulation skips identity)" eq "$(printf '%s\n' "$out" | head -1)" "STATUS 200"
fi

quiet() { "$@" >/dev/null 2>&1; }

# ================= full update, threshold 2 of 3 =================
manifest "$WORK/m2.json" ', "/prev": "{{ pem .Previous.Secrets.crt.Cert }}", "/new": "{{ hex .Secrets.added }}"' \
  '{"UpdateThreshold": 2}'
jq '.Secrets.added = {"Type": "symmetric-key", "Size": 256, "Shared": true}' "$WORK/m2.json" >"$WORK/m2b.json"
mv "$WORK/m2b.json" "$WORK/m2.json"
cp "$WORK/m2.json" "$WORK/m2x.json"; printf ' ' >>"$WORK/m2x.json"
ureq alice GET "/api/v2/secrets?s=crt"; CRT2=$(jqv .data.secrets.crt.Cert)

ureq dave POST /api/v2/update -d "$(mbody "$WORK/m2.json")"
check "dave (no UpdateManifest) cannot start a full update" eq "$CODE" 403
check "refusal names the user and UpdateManifest" contains "$(jqv .message)" "user dave is not allowed to UpdateManifest"
jq '.Marbles.web.Package = "missing"' "$WORK/m2.json" >"$WORK/bad.json"
ureq alice POST /api/v2/update -d "$(mbody "$WORK/bad.json")"
check "invalid new manifest refused with Check's message" eq "$CODE" 400
check "the Check message names the rule" contains "$(jqv .message)" "missing"
check "state unchanged after full-update refusals" unchanged "$WORK/s1"

ureq alice POST /api/v2/update -d "$(mbody "$WORK/m2.json")"
check "alice starts the update" eq "$CODE" 200
check "threshold 2: one acknowledgement missing" eq "$(jqv .data.missingAcknowledgments)" 1
check "missing users are bob and carol" eq "$(jqv '.data.missingUsers|join(",")')" "bob,carol"
req GET /api/v2/update
check "log: initiated, waiting, names alice" eq "$(jqv '.data.updateLog[-1]' | jq -r '[.update,.user,(.missingAcknowledgments|tostring)]|join(",")')" \
  "Complete Manifest update initiated by user. Waiting for acknowledgments to apply the update,alice,1"
req GET /api/v2/update-manifest
check "pending update shown" eq "$CODE" 200
check "pending manifest = uploaded bytes" eq "$(jqv .data.manifest)" "$(b64f "$WORK/m2.json")"
check "pending message" eq "$(jqv .data.message)" "1 users still need to acknowledge the update manifest"
req GET /api/v2/manifest
check "manifest unchanged while pending" eq "$BODY" "$MAN1"
snapshot "$WORK/s2"
ureq bob POST /api/v2/update-manifest -d "$(mbody "$WORK/m2x.json")"
check "non-identical acknowledgement refused" eq "$CODE" 400
check "with MarbleRun's message" eq "$(jqv .message)" "provided manifest does not match the pending manifest"
ureq dave POST /api/v2/update-manifest -d "$(mbody "$WORK/m2.json")"
check "dave cannot acknowledge" contains "$(jqv .message)" "user dave is not allowed to UpdateManifest"
ureq alice POST /api/v2/update-manifest -d "$(mbody "$WORK/m2.json")"
check "alice cannot acknowledge twice" contains "$(jqv .message)" "alice has already acknowledged"
ureq carol POST /api/v2/update -d "$(mbody "$WORK/m2.json")"
check "a second update while one is pending is refused" contains "$(jqv .message)" "update already in progress"
req POST /api/v2/update-manifest -d "$(mbody "$WORK/m2.json")"
check "acknowledgement without certificate: 401" eq "$CODE" 401
check "state unchanged after acknowledgement refusals" unchanged "$WORK/s2"
restart_coord c
check "pending update survives a restart" unchanged "$WORK/s2"

ureq bob POST /api/v2/update-manifest -d "$(mbody "$WORK/m2.json")"
check "bob acknowledges: applied" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:0"
check "apply message" eq "$(jqv .data.message)" "All users have acknowledged the update manifest. Update successfully applied"
req GET /api/v2/manifest
check "manifest is now m2" eq "$(jqv .data.manifest)" "$(b64f "$WORK/m2.json")"
check "fingerprint of m2" eq "$(jqv .data.manifestFingerprint)" "$(sha256sum "$WORK/m2.json" | cut -d' ' -f1)"
jqv .data.manifestSignatureRootECDSA | base64 -d >"$WORK/sig.der"
req GET /api/v2/quote; jqv .data.cert >"$WORK/chain.pem"
awk 'BEGIN{n=0} /BEGIN CERT/{n++} n==2' "$WORK/chain.pem" >"$WORK/root.pem"
openssl x509 -in "$WORK/root.pem" -pubkey -noout >"$WORK/rootpub.pem"
check "m2 is signed by the root key" quiet openssl dgst -sha256 -verify "$WORK/rootpub.pem" -signature "$WORK/sig.der" "$WORK/m2.json"
req GET /api/v2/update
check "log: acknowledged by bob, then updated with fingerprint" eq \
  "$(jqv '.data.updateLog[-2:]' | jq -r 'map(fromjson | .update + ":" + (.user // .manifestFingerprint)) | join("|")')" \
  "Complete Manifest update acknowledged by user:bob|Complete Manifest updated:$(sha256sum "$WORK/m2.json" | cut -d' ' -f1)"
req GET /api/v2/update-manifest
check "no pending update after apply: 404" eq "$CODE:$(jqv .message)" "404:no update in progress"
ureq alice GET "/api/v2/secrets?s=sym&s=crt"
check "symmetric key kept by the full update" eq "$(jqv .data.secrets.sym.Private)" "$SYM1"
check "certificate regenerated by the full update" test "$(jqv .data.secrets.crt.Cert)" != "$CRT2"
if [ -x "$TOOL" ]; then
  out=$("$TOOL" "$MESH" web --file /prev || true)
  check ".Previous.Secrets gives the certificate before the update" eq \
    "$(printf '%s\n' "$out" | tail -n +2 | openssl x509 -outform DER 2>/dev/null | base64 -w0)" "$CRT2"
  out=$("$TOOL" "$MESH" web --file /new || true)
  check "new secret of m2 delivered" eq "$(printf '%s\n' "$out" | tail -n +2 | tr -d '\n' | wc -c)" 64
fi
restart_coord c
req GET /api/v2/manifest
check "m2 after restart" eq "$(jqv .data.manifest)" "$(b64f "$WORK/m2.json")"

# ================= cancel =================
manifest "$WORK/m3.json" "" '{"UpdateThreshold": 3}'
ureq carol POST /api/v2/update -d "$(mbody "$WORK/m3.json")"
check "carol starts an update" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:1"
ureq dave POST /api/v2/update-cancel
check "dave cannot cancel" contains "$(jqv .message)" "user dave is not allowed to UpdateManifest"
ureq bob POST /api/v2/update-cancel
check "bob cancels" eq "$CODE:$(jqv .data.message)" "200:Update successfully cancelled"
req GET /api/v2/update
check "log: cancelled by bob" eq "$(jqv '.data.updateLog[-1]' | jq -r '.update + ":" + .user')" \
  "Complete Manifest update cancelled by user:bob"
ureq bob POST /api/v2/update-cancel
check "cancel without pending update: 404" eq "$CODE:$(jqv .message)" "404:no update in progress"
ureq alice POST /api/v2/update-manifest -d "$(mbody "$WORK/m3.json")"
check "acknowledge without pending update: 404" eq "$CODE" 404
req GET /api/v2/manifest
check "manifest still m2 after the cancel" eq "$(jqv .data.manifest)" "$(b64f "$WORK/m2.json")"

# ================= threshold rule and concurrent acknowledgements =================
manifest "$WORK/m3t.json" "" '{"UpdateThreshold": 4}'
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m3t.json")"
check "UpdateThreshold above the number of updaters refused (Check)" contains "$(jqv .message)" \
  "not enough users with manifest update permissions (3) to meet the threshold of 4"
manifest "$WORK/m3c.json" ', "/c": "{{ hex .Secrets.sym }}"' '{"UpdateThreshold": 3}'
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m3c.json")"
check "an update needing all three (m2 threshold 2: one ack missing)" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:1"
ureq carol POST /api/v2/update-cancel
manifest "$WORK/m2c.json" ', "/c": "{{ hex .Secrets.sym }}"' '{"UpdateThreshold": 3}'
jq '.Config.UpdateThreshold = 0' "$WORK/m2c.json" >"$WORK/m0.json"
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m0.json")"
ureq bob POST /api/v2/update-manifest -d "$(mbody "$WORK/m0.json")"
check "m0 (UpdateThreshold 0 = all updaters) applied" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:0"
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m3c.json")"
check "threshold 0: both other updaters missing" eq "$(jqv '.data.missingUsers|join(",")')" "bob,carol"
( ureq bob POST /api/v2/update-manifest -d "$(mbody "$WORK/m3c.json")"; echo "$CODE" >"$WORK/ack.bob" ) &
A1=$!
( ureq carol POST /api/v2/update-manifest -d "$(mbody "$WORK/m3c.json")"; echo "$CODE" >"$WORK/ack.carol" ) &
A2=$!
wait "$A1" "$A2"   # only these two (the Coordinator is a child too)
check "concurrent acknowledgements both succeed" eq "$(cat "$WORK/ack.bob"):$(cat "$WORK/ack.carol")" "200:200"
req GET /api/v2/manifest
check "the update applied exactly once" eq "$(jqv .data.manifest)" "$(b64f "$WORK/m3c.json")"
req GET /api/v2/update
check "log: two acknowledgements, one update applied" eq \
  "$(jqv '.data.updateLog | map(fromjson) | .[-3:] | map(.update) | join("|")')" \
  "Complete Manifest update acknowledged by user|Complete Manifest update acknowledged by user|Complete Manifest updated"
manifest "$WORK/m2.json" ', "/prev": "{{ pem .Previous.Secrets.crt.Cert }}", "/new": "{{ hex .Secrets.added }}"' \
  '{"UpdateThreshold": 2}'
jq '.Secrets.added = {"Type": "symmetric-key", "Size": 256, "Shared": true}' "$WORK/m2.json" >"$WORK/m2b.json"
mv "$WORK/m2b.json" "$WORK/m2.json"
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m2.json")"
ureq carol POST /api/v2/update-manifest -d "$(mbody "$WORK/m2.json")"
check "the CURRENT manifest's threshold (3) counts: one more needed" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:1"
ureq bob POST /api/v2/update-manifest -d "$(mbody "$WORK/m2.json")"
check "back to m2 after three acknowledgements" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:0"

# ================= RotateRootSecret + RecoveryKeys, via v1 =================
manifest "$WORK/m4.json" "" '{"UpdateThreshold": 2, "RotateRootSecret": true}' \
  ", \"RecoveryKeys\": {\"rk1\": $(pemjson "$WORK/rk1.pub")}"
check "m4 has RecoveryKeys and RotateRootSecret" quiet jq -e '.RecoveryKeys.rk1 and .Config.RotateRootSecret' "$WORK/m4.json"
ureq alice POST /update --data-binary @"$WORK/m4.json"
check "v1 POST /update starts the update (data null)" eq "$CODE:$(jqv .data)" "200:null"
req GET /update-manifest
check "v1 GET /update-manifest" eq "$(jqv .data.missingAcknowledgments)" 1
ureq carol POST /update-manifest --data-binary @"$WORK/m4.json"
check "v1 acknowledgement answers MarbleRun's string" eq "$(jqv .data)" \
  "All users have acknowledged the update manifest. Update successfully applied"
ureq alice GET "/api/v2/secrets?s=sym"
check "RotateRootSecret regenerated the symmetric key" test "$(jqv .data.secrets.sym.Private)" != "$SYM1"
ureq alice POST /update-cancel
check "v1 cancel without pending: 404 error" eq "$CODE:$(jqv .status)" "404:error"
# a changed RecoveryKeys set answers new recovery secrets to the last acknowledger
manifest "$WORK/m5.json" "" '{"UpdateThreshold": 1}'
jq --arg p "$(cat "$WORK/rk1.pub")" '.RecoveryKeys = {"rk1": $p, "rk1b": $p}' "$WORK/m5.json" >"$WORK/m5b.json"
mv "$WORK/m5b.json" "$WORK/m5.json"
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m5.json")"
check "update to m5 started" eq "$CODE" 200
ureq bob POST /api/v2/update-manifest -d "$(mbody "$WORK/m5.json")"
check "changed RecoveryKeys: recoverySecrets returned" eq "$(jqv '.data.recoverySecrets | keys | join(",")')" "rk1,rk1b"
jqv .data.recoverySecrets.rk1 | base64 -d >"$WORK/rs.enc"
openssl pkeyutl -decrypt -inkey "$WORK/rk1.key" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
  -pkeyopt rsa_mgf1_md:sha256 -in "$WORK/rs.enc" -out "$WORK/rs.bin" 2>/dev/null
check "recovery secret decrypts with the recovery key (32-byte XOR share)" eq "$(wc -c <"$WORK/rs.bin")" 32
manifest "$WORK/m6.json" "" '{}'
jq --arg p "$(cat "$WORK/rk1.pub")" '.RecoveryKeys = {"rk1": $p, "rk1b": $p}' "$WORK/m6.json" >"$WORK/m6b.json"
ureq carol POST /api/v2/update -d "$(mbody "$WORK/m6b.json")"
check "UpdateThreshold 1 (m5): the submitter alone applies" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:0"
check "same RecoveryKeys: no recoverySecrets" eq "$(jqv '.data.recoverySecrets // "none"')" "none"
req GET /api/v2/update
check "log: no further acknowledgements required, names carol" eq \
  "$(jqv '.data.updateLog[-2]' | jq -r '.update + ":" + .user')" \
  "Complete Manifest update initiated by user. No further acknowledgements required:carol"
restart_coord c
req GET /api/v2/manifest
check "final manifest after restart" eq "$(jqv .data.manifest)" "$(b64f "$WORK/m6b.json")"
check "Coordinator still serving" alive
finish
