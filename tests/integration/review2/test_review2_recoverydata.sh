#!/usr/bin/env bash
# Second review: `manifest set -r FILE` when FILE cannot be written. The
# manifest is already set and the Coordinator never hands the recovery
# secrets out again, so the CLI must not drop them: it prints them on stdout
# (as without -r), says so on stderr and exits non-zero.
. "$(dirname "$0")/../governance/lib.sh"
[ -x "$CLI" ] || { echo "SKIP: $CLI not built"; exit 77; }
mkreckey rk1
export XDG_CONFIG_HOME=$WORK/xdg
cat >"$WORK/m.json" <<JSON
{"Packages": {"pkg": {"SignerID": "1111111111111111111111111111111111111111111111111111111111111111",
  "ProductID": 1, "SecurityVersion": 1}},
 "Marbles": {"web": {"Package": "pkg"}},
 "RecoveryKeys": {"rk1": $(pemjson "$WORK/rk1.pub")}}
JSON
start_coord c
set +e
"$CLI" manifest set "$WORK/m.json" "$CLIENT" -r "$WORK/no/such/dir/rec.json" --insecure \
  --coordinator-cert "$WORK/cache.pem" >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
check "manifest set with an unwritable -r exits non-zero" eq "$([ $RC -ne 0 ] && echo y)" y
check "the error names the file" contains "$(cat "$WORK/err")" "$WORK/no/such/dir/rec.json"
ENC=$(grep -o '{"RecoverySecrets".*' "$WORK/out" | jq -r .RecoverySecrets.rk1 2>/dev/null || true)
check "the recovery data is still printed on stdout" eq "$([ -n "$ENC" ] && [ "$ENC" != null ] && echo y)" y
# and it is the real thing: rk1's private key opens it (RSA-OAEP SHA-256)
printf '%s' "$ENC" | base64 -d >"$WORK/rk1.enc" 2>/dev/null || true
check "rk1 decrypts the printed recovery secret" openssl pkeyutl -decrypt -inkey "$WORK/rk1.key" \
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -in "$WORK/rk1.enc" -out "$WORK/rk1.plain"

# the same for `manifest update apply -r FILE` when the update changes the
# RecoveryKeys (a single user with UpdateManifest: the update applies at once)
mkuser alice
mkreckey rk2
m2() {
  cat >"$1" <<JSON
{"Packages": {"pkg": {"SignerID": "1111111111111111111111111111111111111111111111111111111111111111",
  "ProductID": 1, "SecurityVersion": 1}},
 "Marbles": {"web": {"Package": "pkg"}},
 "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["upd"]}},
 "Roles": {"upd": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]}},
 "RecoveryKeys": {"$2": $(pemjson "$WORK/$2.pub")}}
JSON
}
m2 "$WORK/u1.json" rk1
m2 "$WORK/u2.json" rk2
stop_coord; rm -rf "$WORK/c/seal" "$WORK/cache.pem"; start_coord c
set +e
"$CLI" manifest set "$WORK/u1.json" "$CLIENT" -r "$WORK/rec1.json" --insecure --coordinator-cert "$WORK/cache.pem" \
  >/dev/null 2>&1
"$CLI" manifest update apply "$WORK/u2.json" "$CLIENT" -r "$WORK/no/such/dir/rec2.json" -c "$WORK/alice.crt" \
  -k "$WORK/alice.key" --insecure --coordinator-cert "$WORK/cache.pem" >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
check "update apply with an unwritable -r exits non-zero" eq "$([ $RC -ne 0 ] && echo y)" y
ENC=$(grep -o '{"RecoverySecrets".*' "$WORK/out" | jq -r .RecoverySecrets.rk2 2>/dev/null || true)
check "the update's recovery data is still printed on stdout" eq "$([ -n "$ENC" ] && [ "$ENC" != null ] && echo y)" y
printf '%s' "$ENC" | base64 -d >"$WORK/rk2.enc" 2>/dev/null || true
check "rk2 decrypts it" openssl pkeyutl -decrypt -inkey "$WORK/rk2.key" \
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -in "$WORK/rk2.enc" -out "$WORK/rk2.plain"
finish
