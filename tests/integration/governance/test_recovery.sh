#!/usr/bin/env bash
# Recovery (inventory §5) against the real Coordinator: recovery secrets on
# manifest set, state 1 after the simulated seal key is removed, POST
# /api/v2/recover with signed secrets for one key, XOR 3-of-3 and Shamir
# 2-of-3 (one share encrypted to the ephemeral key of GET
# /api/v2/recover/public-key), wrong, unsigned and foreign secrets refused
# with the state unchanged, resealing with the new local key (restart -> 3).
. "$(dirname "$0")/lib.sh"

for k in rk1 rk2 rk3 rkx; do mkreckey $k; done
mkuser alice
SIGNER=1111111111111111111111111111111111111111111111111111111111111111
# manifest FILE KEYS_JSON CONFIG_JSON
manifest() {
  cat >"$1" <<JSON
{
  "Packages": {"pkg": {"SignerID": "$SIGNER", "ProductID": 1, "SecurityVersion": 1}},
  "Marbles": {"web": {"Package": "pkg"}},
  "Secrets": {"sym": {"Type": "symmetric-key", "Size": 128, "Shared": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["read"]}},
  "Roles": {"read": {"ResourceType": "Secrets", "ResourceNames": ["sym"], "Actions": ["ReadSecret"]}},
  "RecoveryKeys": $2,
  "Config": $3
}
JSON
}
keys() { local o="{" sep=""; for k in "$@"; do o="$o$sep\"$k\": $(pemjson "$WORK/$k.pub")"; sep=","; done; echo "$o}"; }
# decrypt_secret NAME: $WORK/NAME.secret from the last manifest set answer in $WORK/rec.json
decrypt_secret() {
  jq -r ".data.RecoverySecrets.$1" "$WORK/rec.json" | base64 -d >"$WORK/$1.enc"
  openssl pkeyutl -decrypt -inkey "$WORK/$1.key" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256 -in "$WORK/$1.enc" -out "$WORK/$1.secret"
}
# sign FILE KEYNAME -> base64 signature (PKCS#1 v1.5, SHA-256)
sign() { openssl dgst -sha256 -sign "$WORK/$2.key" "$1" | base64 -w0; }
# recover SECRET_FILE SIGNING_KEY
recover() {
  req POST /api/v2/recover -d "{\"recoverySecret\":\"$(b64f "$1")\",\"recoverySecretSignature\":\"$(sign "$1" "$2")\"}"
}
# lose_seal_key NAME: restart without the simulated sealing key -> state 1
lose_seal_key() {
  stop_coord
  rm -f "$WORK/$1/seal/sim_seal_key"
  start_coord "$1"
}
status_code() { req GET /api/v2/status; jqv .data.code; }

# ================= one key =================
manifest "$WORK/m1.json" "$(keys rk1)" '{}'
start_coord one
req POST /api/v2/manifest -d "$(mbody "$WORK/m1.json")"; printf '%s' "$BODY" >"$WORK/rec.json"
check "manifest with one recovery key set" eq "$CODE" 200
check "one RecoverySecret for rk1" eq "$(jqv '.data.RecoverySecrets|keys|join(",")')" "rk1"
decrypt_secret rk1
check "the single-key secret is the 32-byte data key" eq "$(wc -c <"$WORK/rk1.secret")" 32
ureq alice GET "/api/v2/secrets?s=sym"; SYM=$(jqv .data.secrets.sym.Private)
req GET /api/v2/manifest; MAN=$BODY
req GET /api/v2/update; LOG=$BODY
req GET /api/v2/recover/public-key
check "public-key outside state 1: 409" eq "$CODE" 409
recover "$WORK/rk1.secret" rk1
check "recover outside state 1: refused" eq "$CODE:$(jqv .message | cut -d: -f1)" "409:server is not in expected state"
check "... naming the state (issue 11)" contains "$(jqv .message)" "(state 3, accepting marbles) and is not in recovery mode"

lose_seal_key one
check "without the seal key the Coordinator is in state 1" eq "$(status_code)" 1
snapshot "$WORK/s1"
req POST /api/v2/recover -d "{\"recoverySecret\":\"$(b64f "$WORK/rk1.secret")\"}"
check "unsigned secret: 400 fail" eq "$CODE:$(jqv .status)" "400:fail"
check "the refusal names the missing signature" contains "$(jqv .message)" "recoverySecretSignature"
recover "$WORK/rk1.secret" rkx
check "secret signed by a foreign key refused" eq "$CODE" 400
check "the refusal names the recovery key and the rule" contains "$(jqv .message)" 'does not verify with recovery key "rk1"'
head -c 32 /dev/urandom >"$WORK/rand.bin"
recover "$WORK/rand.bin" rk1
check "wrong secret (signed correctly) refused" eq "$CODE" 400
check "the refusal says it belongs to no key" contains "$(jqv .message)" "belongs to none of the RecoveryKeys"
head -c 100 /dev/urandom >"$WORK/junk.bin"
recover "$WORK/junk.bin" rk1
check "undecryptable secret: 400 fail" eq "$CODE:$(jqv .status)" "400:fail"
check "the refusal says decrypting failed" contains "$(jqv .message)" "decrypting the recovery secret failed"
req POST /api/v2/recover -d '{"recoverySecret":'
check "bad JSON: 400" eq "$CODE" 400
req POST /api/v2/recover -d "{\"recoverySecret\":\"$(head -c 30000 /dev/zero | base64 -w0)\",\"recoverySecretSignature\":\"AA==\"}"
check "body over 20480 bytes refused (413)" eq "$CODE" 413
check "state 1 unchanged after every refusal" unchanged "$WORK/s1"
check "Coordinator serving in state 1" alive
recover "$WORK/rk1.secret" rk1
check "correct signed secret recovers" eq "$CODE:$(jqv .data.remaining)" "200:0"
check "MarbleRun's success message" eq "$(jqv .data.message)" "Recovery successful."
check "state 3 after recovery" eq "$(status_code)" 3
req GET /api/v2/manifest
check "recovered manifest" eq "$BODY" "$MAN"
ureq alice GET "/api/v2/secrets?s=sym"
check "recovered secrets" eq "$(jqv .data.secrets.sym.Private)" "$SYM"
restart_coord one
check "resealed with the new local key: restart gives state 3" eq "$(status_code)" 3
req GET /api/v2/update
check "update log intact after recovery" eq "$BODY" "$LOG"

# ================= XOR, 3 of 3 =================
manifest "$WORK/m3.json" "$(keys rk1 rk2 rk3)" '{}'
start_coord xor
req POST /api/v2/manifest -d "$(mbody "$WORK/m3.json")"; printf '%s' "$BODY" >"$WORK/rec.json"
check "three recovery secrets" eq "$(jqv '.data.RecoverySecrets|keys|join(",")')" "rk1,rk2,rk3"
for k in rk1 rk2 rk3; do decrypt_secret $k; done
check "XOR shares are 32 bytes" eq "$(cat "$WORK"/rk?.secret | wc -c)" 96
req GET /api/v2/manifest; MAN=$BODY
lose_seal_key xor
check "XOR: state 1" eq "$(status_code)" 1
# issue 12: the recovery data is the header of sealed_data itself (written in
# the same atomic replace as the state it opens), no separate file
seal_header() { local n; n=$(od -An -tu4 -N4 "$1" | tr -d ' '); tail -c +5 "$1" | head -c "$n"; }
check "no separate recovery_data file" test ! -e "$WORK/xor/seal/recovery_data"
check "sealed_data's header: XOR recovery data for rk1..rk3" eq \
  "$(seal_header "$WORK/xor/seal/sealed_data" | jq -r '.mode + ":" + (.keys|keys|join(","))')" "xor:rk1,rk2,rk3"
recover "$WORK/rk1.secret" rk1
check "first share accepted, 2 remaining" eq "$CODE:$(jqv .data.remaining)" "200:2"
check "MarbleRun's progress message" eq "$(jqv .data.message)" \
  "Secret was processed successfully. Upload the next secret. Remaining secrets: 2"
snapshot "$WORK/sx"
recover "$WORK/rk1.secret" rk1
check "the same share twice refused" contains "$(jqv .message)" 'key "rk1" was already provided'
recover "$WORK/rk2.secret" rk3
check "share of rk2 signed by rk3 refused" contains "$(jqv .message)" 'does not verify with recovery key "rk2"'
check "XOR: state unchanged after refusals" unchanged "$WORK/sx"
recover "$WORK/rk2.secret" rk2
check "second share: 1 remaining (refusals did not count)" eq "$(jqv .data.remaining)" 1
recover "$WORK/rk3.secret" rk3
check "third share recovers" eq "$CODE:$(jqv .data.message)" "200:Recovery successful."
req GET /api/v2/manifest
check "XOR: manifest recovered" eq "$BODY" "$MAN"
restart_coord xor
check "XOR: state 3 after restart" eq "$(status_code)" 3

# ================= Shamir, 2 of 3 =================
manifest "$WORK/m4.json" "$(keys rk1 rk2 rk3)" '{"RecoveryThreshold": 2}'
start_coord shamir
req POST /api/v2/manifest -d "$(mbody "$WORK/m4.json")"; printf '%s' "$BODY" >"$WORK/rec.json"
check "Shamir manifest set" eq "$CODE" 200
for k in rk1 rk2 rk3; do decrypt_secret $k; done
check "Shamir shares are 33 bytes" eq "$(cat "$WORK"/rk?.secret | wc -c)" 99
req GET /api/v2/manifest; MAN=$BODY
lose_seal_key shamir
check "Shamir: state 1" eq "$(status_code)" 1
# issue 13 §4: MarbleRun's clients ask GET /recover/public-key once, without
# retrying, right after the Coordinator is up in state 1: the ephemeral
# RSA-4096 key is generated before anything is served, so the very first
# request answers 200 at once (it answered 503 for 0.35-3 s before).
timed() {   # timed PATH: sets CODE, BODY and T (seconds)
  local o
  o=$(curl -sk -o "$WORK/body" -w '%{http_code} %{time_total}' "https://$CLIENT$1" || true)
  CODE=${o%% *}; T=${o##* }; BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
for attempt in 1 2 3; do
  [ "$attempt" = 1 ] || restart_coord shamir
  timed /api/v2/recover/public-key
  check "fresh start $attempt in state 1: the first public-key request answers 200 (no 503, no retry)" eq "$CODE" 200
  echo "# first public-key request after start $attempt: ${T}s"
  check "... at once (< 1 s)" awk -v t="$T" 'BEGIN { exit !(t < 1.0) }'
done
timed /api/v2/status
check "status in state 1 answers at once too" awk -v t="$T" 'BEGIN { exit !(t < 0.5) }'
timed /api/v2/recover/public-key
check "ephemeral public key: RSA" eq "$CODE:$(jqv .data.algorithm)" "200:RSA"
jqv .data.ephemeralPublicKey | base64 -d >"$WORK/eph.der"
openssl pkey -pubin -inform DER -in "$WORK/eph.der" -out "$WORK/eph.pem" 2>/dev/null
check "ephemeral key is RSA-4096" contains "$(openssl pkey -pubin -in "$WORK/eph.pem" -text -noout 2>/dev/null | head -1)" "4096"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/eph.pem" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
  -pkeyopt rsa_mgf1_md:sha256 -in "$WORK/rk3.secret" -out "$WORK/rk3.encsecret"
req POST /api/v2/recover -d "{\"recoverySecret\":\"$(b64f "$WORK/rk3.encsecret")\",\"recoverySecretSignature\":\"$(sign "$WORK/rk3.secret" rk3)\"}"
check "share encrypted to the ephemeral key accepted, 2 remaining (MarbleRun: keys minus uploaded)" \
  eq "$CODE:$(jqv .data.remaining)" "200:2"
check "the progress message says the same number" eq "$(jqv .data.message)" \
  "Secret was processed successfully. Upload the next secret. Remaining secrets: 2"
recover "$WORK/rk1.secret" rk2
check "Shamir share with the wrong key's signature refused" eq "$CODE" 400
recover "$WORK/rk1.secret" rk1
check "threshold reached: recovered" eq "$CODE:$(jqv .data.message)" "200:Recovery successful."
req GET /api/v2/manifest
check "Shamir: manifest recovered" eq "$BODY" "$MAN"
restart_coord shamir
check "Shamir: state 3 after restart" eq "$(status_code)" 3

# ================= a new manifest in state 1 discards the old state =================
lose_seal_key shamir
check "state 1 again" eq "$(status_code)" 1
req POST /api/v2/manifest -d "$(mbody "$WORK/m1.json")"
RS=$(jqv '.data.RecoverySecrets|keys|join(",")')
check "a new manifest in state 1 is accepted" eq "$CODE:$(status_code)" "200:3"
check "with fresh recovery secrets" eq "$RS" "rk1"
restart_coord shamir
check "the new state survives a restart" eq "$(status_code)" 3
check "Coordinator still serving" alive
finish
