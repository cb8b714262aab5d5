#!/usr/bin/env bash
# MarbleRun's --pkcs11-* flags with keys held in a SoftHSM2 token (docs/cli.md
# "PKCS#11"): the token is initialised and filled with softhsm2-util and
# pkcs11-tool (OpenSC), not by us. Users authenticate `secret set|get` and
# `manifest update apply|acknowledge` with an EC and an RSA key that never
# leave the token; a recovery key in the token decrypts and signs the
# recovery secret; the configuration and flag errors are one line each.
# Skips (77) when softhsm2, pkcs11-tool or the OpenSSL pkcs11 engine is missing.
source "$(dirname "$0")/harness.sh"
MOD=$(ls /usr/lib/*/softhsm/libsofthsm2.so /usr/lib/softhsm/libsofthsm2.so 2>/dev/null | head -1 || true)
ENG=$(ls /usr/lib/*/engines-3/pkcs11.so 2>/dev/null | head -1 || true)
if [ -z "$MOD" ] || [ -z "$ENG" ] || ! command -v softhsm2-util >/dev/null || ! command -v pkcs11-tool >/dev/null; then
  echo "SKIP: needs softhsm2, opensc (pkcs11-tool) and libengine-pkcs11-openssl (scripts/install-deps.sh)"
  exit 77
fi
export SOFTHSM2_CONF="$WORK/softhsm2.conf"
mkdir -p "$WORK/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label cairn-test --pin 1234 --so-pin 5678 >/dev/null
p11() { pkcs11-tool --module "$MOD" --token-label cairn-test --login --pin 1234 "$@" >/dev/null 2>&1; }
# put NAME into the token: key label NAMEkey, certificate label NAMEcert, both with ID = hex of NAME
token_import() {
  local n=$1 id
  id=$(printf %s "$n" | od -An -tx1 | tr -d ' \n')
  openssl pkcs8 -topk8 -nocrypt -in "$WORK/$n.key" -out "$WORK/$n.p8"
  softhsm2-util --import "$WORK/$n.p8" --token cairn-test --label "${n}key" --id "$id" --pin 1234 >/dev/null
  [ -f "$WORK/$n.crt" ] && openssl x509 -in "$WORK/$n.crt" -outform DER -out "$WORK/$n.der" \
    && p11 --write-object "$WORK/$n.der" --type cert --id "$id" --label "${n}cert"
  rm -f "$WORK/$n.p8"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/alice.key" -out "$WORK/alice.crt" \
  -subj /CN=alice -days 2 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/bob.key" -out "$WORK/bob.crt" -subj /CN=bob -days 2 2>/dev/null
openssl genrsa -out "$WORK/rk.key" 3072 2>/dev/null
openssl rsa -in "$WORK/rk.key" -pubout -out "$WORK/rk.pub" 2>/dev/null
for n in alice bob rk; do token_import $n; done
rm -f "$WORK/alice.key" "$WORK/bob.key" "$WORK/rk.key"   # from here on the keys exist only in the token
pkcs11-tool --module "$MOD" --token-label cairn-test --login --pin 1234 -O 2>/dev/null | grep -c 'Private Key Object' \
  | grep -qx 3 && ok "token holds 3 private keys (imported with softhsm2-util, certificates with pkcs11-tool)" \
  || bad "token setup"
printf '{"Path":"%s","TokenLabel":"cairn-test","Pin":"1234"}' "$MOD" >"$WORK/p11.json"
# crypto11 (MarbleRun) decodes with Go's encoding/json: key names match case-insensitively
printf '{"path":"%s","tokenserial":"%s","PIN":"1234","MaxSessions":4}' "$MOD" \
  "$(softhsm2-util --show-slots | awk '/Serial number:/ && $3 {print $3; exit}')" >"$WORK/p11-serial.json"

SIGNER=1111111111111111111111111111111111111111111111111111111111111111
pemjson() { jq -Rs . <"$1"; }
manifest() {
  cat >"$1" <<JSON
{
  "Packages": {"pkg": {"SignerID": "$SIGNER", "ProductID": 1, "SecurityVersion": $2}},
  "Marbles": {"web": {"Package": "pkg"}},
  "Secrets": {"user_key": {"Type": "symmetric-key", "Size": 128, "UserDefined": true}},
  "Users": {
    "alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["upd", "rw"]},
    "bob": {"Certificate": $(pemjson "$WORK/bob.crt"), "Roles": ["upd"]}
  },
  "Roles": {
    "upd": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]},
    "rw": {"ResourceType": "Secrets", "ResourceNames": ["user_key"], "Actions": ["ReadSecret", "WriteSecret"]}
  },
  "RecoveryKeys": {"rk": $(pemjson "$WORK/rk.pub")}
}
JSON
}
manifest "$WORK/m1.json" 1
manifest "$WORK/m2.json" 2

"$BIN/cairn-coordinator" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/C-state" \
  --ready-file "$WORK/C.json" >"$WORK/C.log" 2>&1 &
CPID=$!; PIDS+=($CPID)
wait_file "$WORK/C.json" 20 || { echo "coordinator did not start"; exit 1; }
C=$(json_field "$WORK/C.json" client)
cli manifest set "$WORK/m1.json" "$C" -i -r "$WORK/rec.json" >/dev/null 2>&1 && ok "manifest with token users set" \
  || bad "manifest set"

ALICE=(--pkcs11-config "$WORK/p11.json" --pkcs11-key-label alicekey --pkcs11-cert-label alicecert)
# --- secret set|get authenticated with an EC key in the token (no -i: the cached root) ---
KEY=$(head -c 16 /dev/urandom | base64 -w0)
printf '{"user_key":{"Key":"%s"}}' "$KEY" >"$WORK/sec.json"
out=$(cli secret set "$WORK/sec.json" "$C" "${ALICE[@]}" 2>"$WORK/err") && [ "$out" = "Secret successfully set" ] \
  && ok "secret set as alice (P-256 key in the token, by label)" || bad "secret set: $out $(cat "$WORK/err")"
out=$(cli secret get user_key "$C" --pkcs11-config "$WORK/p11.json" --pkcs11-key-id alice --pkcs11-cert-id alice 2>"$WORK/err") \
  && grep -q "Key: *$KEY" <<<"$out" && ok "secret get as alice (by ID, the flag's bytes as crypto11 uses them)" \
  || bad "secret get: $out $(cat "$WORK/err")"
out=$(cli secret get user_key "$C" --pkcs11-config "$WORK/p11-serial.json" --pkcs11-key-label alicekey \
  --pkcs11-cert-id alice -o - 2>"$WORK/err") && [ "$(jq -r .user_key.Private <<<"$out")" = "$KEY" ] \
  && ok "token selected by TokenSerial, keys matched case-insensitively, MaxSessions ignored" \
  || bad "serial config: $out $(cat "$WORK/err")"

# --- manifest update apply|acknowledge: bob (RSA key in the token) and alice ---
out=$(cli manifest update apply "$WORK/m2.json" "$C" --pkcs11-config "$WORK/p11.json" --pkcs11-key-label bobkey \
  --pkcs11-cert-label bobcert 2>"$WORK/err") && [ "$out" = "Update manifest submitted successfully.
Changes are pending and have not been applied yet.
1 user still needs to acknowledge the update manifest.
The following users may acknowledge the update: alice" ] && ok "manifest update apply as bob (RSA key in the token)" \
  || bad "update apply: $out $(cat "$WORK/err")"
out=$(cli manifest update acknowledge "$WORK/m2.json" "$C" "${ALICE[@]}" -r "$WORK/rec2.json" 2>"$WORK/err") \
  && [ "$(head -2 <<<"$out")" = "Acknowledgement successful:
All users have acknowledged the update manifest. Update successfully applied" ] \
  && ok "manifest update acknowledge as alice: applied" || bad "acknowledge: $out $(cat "$WORK/err")"
cli manifest log "$C" >"$WORK/log" 2>/dev/null
grep -q '"user":"bob"' "$WORK/log" && grep -q '"user":"alice"' "$WORK/log" \
  && ok "the Coordinator logged bob and alice (it authenticated the token keys)" || bad "log: $(cat "$WORK/log")"

# --- errors: one line each, before any network where they can be ---------------
expect_error "unknown key label" 'no key pair found for id "" and label "nope"' \
  cli secret get user_key "$C" --pkcs11-config "$WORK/p11.json" --pkcs11-key-label nope --pkcs11-cert-label alicecert
expect_error "unknown certificate ID" 'no certificate found for id "carol"' \
  cli secret get user_key "$C" --pkcs11-config "$WORK/p11.json" --pkcs11-key-label alicekey --pkcs11-cert-id carol
expect_error "key and certificate of different users" "does not belong to its certificate" \
  cli secret get user_key "$C" --pkcs11-config "$WORK/p11.json" --pkcs11-key-label alicekey --pkcs11-cert-label bobcert
printf '{"Path":"%s","TokenLabel":"cairn-test","Pin":"0000"}' "$MOD" >"$WORK/p11-badpin.json"
expect_error "wrong PIN" "no key pair found.*Login failed" \
  cli secret get user_key "$C" --pkcs11-config "$WORK/p11-badpin.json" --pkcs11-key-label alicekey --pkcs11-cert-label alicecert
printf '{"Path":"%s","SlotNumber":0,"Pin":"1234"}' "$MOD" >"$WORK/p11-slot.json"
expect_error "SlotNumber refused with the reason" 'SlotNumber.*not supported.*libp11' \
  cli secret get user_key "$C" --pkcs11-config "$WORK/p11-slot.json" --pkcs11-key-label alicekey --pkcs11-cert-label alicecert
printf '{"Path":"/nonexistent/libnone.so","TokenLabel":"x","Pin":"1"}' >"$WORK/p11-nomod.json"
expect_error "module that does not exist" 'libnone.so.*(cannot open|does not load|Unable to load)' \
  cli secret get user_key "$C" --pkcs11-config "$WORK/p11-nomod.json" --pkcs11-key-label a --pkcs11-cert-label b
echo '{"Path": 3}' >"$WORK/p11-bad.json"
expect_error "malformed config" 'PKCS#11 config: "Path" must be a string' \
  cli secret get user_key "$C" --pkcs11-config "$WORK/p11-bad.json" --pkcs11-key-label a --pkcs11-cert-label b
expect_error "--pkcs11-config with -c" "exclude each other" \
  cli secret get user_key "$C" "${ALICE[@]}" -c "$WORK/alice.crt"
expect_error "no certificate ID or label" "needs --pkcs11-cert-id or --pkcs11-cert-label" \
  cli secret get user_key "$C" --pkcs11-config "$WORK/p11.json" --pkcs11-key-label alicekey

# --- a recovery key in the token: OAEP decryption and the signature run in it ---
# (the update kept the RecoveryKeys, so no new recovery data: -r wrote nothing)
[ ! -e "$WORK/rec2.json" ] && ok "update with the same RecoveryKeys: no new recovery data" || bad "rec2.json written"
jq -r .RecoverySecrets.rk "$WORK/rec.json" | base64 -d >"$WORK/rk.enc"
kill "$CPID"; wait "$CPID" 2>/dev/null || true
rm -f "$WORK/C-state/sim_seal_key" "$WORK/C.json"
"$BIN/cairn-coordinator" --simulation --client-addr "$C" --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/C-state" \
  --ready-file "$WORK/C.json" >>"$WORK/C.log" 2>&1 &
CPID=$!; PIDS+=($CPID)
if ! wait_file "$WORK/C.json" 20; then
  bad "the Coordinator did not restart on $C (port taken meanwhile?)"
else
  out=$(cli status "$C" -i 2>/dev/null); [ "${out%%:*}" = 1 ] && ok "recovery mode: $out" || bad "not in recovery: $out"
  out=$(cli recover "$WORK/rk.enc" "$C" -i --pkcs11-config "$WORK/p11.json" --pkcs11-key-label rkkey 2>"$WORK/err") \
    && [ "$(tail -1 <<<"$out")" = "Recovery successful." ] && ok "recover with the recovery key in the token" \
    || bad "recover: $out $(cat "$WORK/err")"
  out=$(cli status "$C" 2>/dev/null) && [ "${out%%:*}" = 3 ] && ok "state 3 after recovery: $out" || bad "status: $out"
fi
finish
