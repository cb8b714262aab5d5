#!/usr/bin/env bash
# The governance CLI end to end against the real Coordinator: secret set|get
# (JSON and --from-pem), manifest update apply|acknowledge|cancel|get,
# manifest log, manifest get --display-update, recover and the offline steps
# (public-key, encrypt-secret, sign-secret, recover-with-signature), -c/-k
# authentication, one-line errors, --help and exit codes.
. "$(dirname "$0")/lib.sh"
[ -x "$CLI" ] || { echo "SKIP: $CLI not built"; exit 77; }

for u in alice bob carol dave; do mkuser $u; done
for k in rk1 rk2; do mkreckey $k; done
SIGNER=1111111111111111111111111111111111111111111111111111111111111111
export XDG_CONFIG_HOME=$WORK/xdg
G=(--insecure --coordinator-cert "$WORK/cache.pem")
# cli ARGS...: runs the CLI, sets RC OUT ERR
cli() {
  set +e
  "$CLI" "$@" >"$WORK/out" 2>"$WORK/err"
  RC=$?
  set -e
  OUT=$(cat "$WORK/out"); ERR=$(grep -v 'WARNING: --insecure' "$WORK/err" || true)
}
one_line() { [ "$(printf '%s\n' "$ERR" | grep -c .)" -eq 1 ]; }
AS() { local u=$1; shift; cli "$@" -c "$WORK/$u.crt" -k "$WORK/$u.key" "${G[@]}"; }

# manifest FILE CONFIG_JSON [RECOVERY_KEYS_JSON]
manifest() {
  cat >"$1" <<JSON
{
  "Packages": {"pkg": {"SignerID": "$SIGNER", "ProductID": 1, "SecurityVersion": 1}},
  "Marbles": {"web": {"Package": "pkg", "Parameters": {"Files": {"/k": "{{ hex .Secrets.user_key }}"}}}},
  "Secrets": {"user_key": {"Type": "symmetric-key", "Size": 128, "UserDefined": true},
              "user_cert": {"Type": "cert-ecdsa", "UserDefined": true},
              "note": {"Type": "plain", "UserDefined": true}},
  "Users": {
    "alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["upd", "rw"]},
    "bob": {"Certificate": $(pemjson "$WORK/bob.crt"), "Roles": ["upd"]},
    "carol": {"Certificate": $(pemjson "$WORK/carol.crt"), "Roles": ["upd"]},
    "dave": {"Certificate": $(pemjson "$WORK/dave.crt"), "Roles": ["svn"]}
  },
  "Roles": {
    "upd": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]},
    "rw": {"ResourceType": "Secrets", "ResourceNames": ["user_key", "user_cert", "note"], "Actions": ["ReadSecret", "WriteSecret"]},
    "svn": {"ResourceType": "Packages", "ResourceNames": ["pkg"], "Actions": ["UpdateSecurityVersion"]}
  },
  "RecoveryKeys": ${3:-{\}},
  "Config": $2
}
JSON
}
keys() { local o="{" sep=""; for k in "$@"; do o="$o$sep\"$k\": $(pemjson "$WORK/$k.pub")"; sep=","; done; echo "$o}"; }

# ---- help and usage ----
for c in "secret" "secret set" "secret get" "manifest update" "manifest update apply" "manifest update acknowledge" \
         "manifest update cancel" "manifest update get" "recover" "recover-with-signature"; do
  cli $c --help
  check "cairn $c --help exits 0" eq "$RC" 0
done
cli secret set
check "missing arguments: usage exit 2" eq "$RC" 2
cli manifest update apply a b --bogus
check "unknown flag: exit 2, one line" eq "$RC:$(one_line && echo 1)" "2:1"

manifest "$WORK/m1.json" '{"UpdateThreshold": 2}' "$(keys rk1)"
start_coord c
cli manifest set "$WORK/m1.json" "$CLIENT" -r "$WORK/rec.json" "${G[@]}"
check "manifest set through the CLI" eq "$RC" 0

# ---- secret set|get ----
KEY=$(head -c 16 /dev/urandom | base64 -w0)
printf '{"user_key":{"Key":"%s"}}' "$KEY" >"$WORK/sec.json"
cli secret set "$WORK/sec.json" "$CLIENT" "${G[@]}"
check "secret set without -c/-k fails with a hint" eq "$RC:$(one_line && echo 1)" "1:1"
check "the hint names -c and -k" contains "$ERR" "-c CERT.pem -k KEY.pem"
AS bob secret set "$WORK/sec.json" "$CLIENT"
check "bob may not write: exit 1, one line" eq "$RC:$(one_line && echo 1)" "1:1"
check "the error names user, permission and secret" contains "$ERR" "user bob is not allowed to WriteSecret user_key"
cli secret set "$WORK/sec.json" "$CLIENT" -c "$WORK/alice.crt" -k "$WORK/bob.key" "${G[@]}"
check "mismatched certificate and key refused locally" contains "$ERR" "does not belong to the certificate"
AS alice secret set "$WORK/sec.json" "$CLIENT"
check "alice sets user_key" eq "$RC:$OUT" "0:Secret successfully set"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/uc.key" -out "$WORK/uc.crt" \
  -subj /CN=uploaded -days 2 2>/dev/null
cat "$WORK/uc.crt" "$WORK/uc.key" >"$WORK/uc.pem"
AS alice secret set "$WORK/uc.pem" "$CLIENT" --from-pem user_cert
check "secret set --from-pem (certificate + key)" eq "$RC" 0
printf '{"note":{"Key":"%s"}}' "$(printf 'hello\nworld' | base64 -w0)" >"$WORK/note.json"
AS alice secret set "$WORK/note.json" "$CLIENT"
check "alice sets the plain secret note" eq "$RC" 0
AS alice secret get user_key user_cert note "$CLIENT" -o -
check "secret get -o - prints JSON on stdout" eq "$RC:$(printf '%s' "$OUT" | jq -r .user_key.Private)" "0:$KEY"
JS=$OUT
js() { printf '%s' "$JS" | jq -r "$1"; }
# MarbleRun's text: the name, then "\t%-14s %s" per label, a blank line after each secret
line() { printf '\t%-14s %s\n' "$1" "$2"; }
{
  printf 'note:\n'; line Type: plain; line Data: "$(js .note.Public)"; echo
  printf 'user_cert:\n'; line Type: cert-ecdsa; line UserDefined: true; line Size: "$(js .user_cert.Size)"
  line "Valid For:" "$(js .user_cert.ValidFor)"; line Certificate: "$(js .user_cert.Cert)"
  line "Public Key:" "$(js .user_cert.Public)"; line "Private Key:" "$(js .user_cert.Private)"; echo
  printf 'user_key:\n'; line Type: symmetric-key; line UserDefined: true; line Size: 128; line Key: "$KEY"; echo
} >"$WORK/expected.txt"
AS alice secret get user_key user_cert note "$CLIENT"
cp "$WORK/out" "$WORK/got.txt"
check "secret get prints MarbleRun's text per type by default (names sorted)" cmp -s "$WORK/expected.txt" "$WORK/got.txt"
check "text: the symmetric key is the uploaded one" contains "$OUT" "$(line Key: "$KEY" | tr -d '\n')"
check "text: the plain secret's data (base64 of the uploaded bytes)" eq "$(js .note.Public | base64 -d)" "$(printf 'hello\nworld')"
check "text: the certificate is the uploaded DER" eq "$(js .user_cert.Cert)" \
  "$(openssl x509 -in "$WORK/uc.crt" -outform DER | base64 -w0)"
check "--from-pem stored the certificate DER" eq "$(printf "%s" "$JS" | jq -r .user_cert.Cert)" \
  "$(openssl x509 -in "$WORK/uc.crt" -outform DER | base64 -w0)"
check "--from-pem stored the key as PKCS#8" eq "$(printf "%s" "$JS" | jq -r .user_cert.Private)" \
  "$(openssl pkcs8 -topk8 -nocrypt -in "$WORK/uc.key" -outform DER | base64 -w0)"
AS alice secret get user_key "$CLIENT" -o "$WORK/got.json"
check "secret get -o writes a 0600 file" eq "$RC:$(stat -c %a "$WORK/got.json")" "0:600"
check "-o FILE: JSON in the file, MarbleRun's notice on stdout, nothing on stderr" eq \
  "$(jq -r .user_key.Private "$WORK/got.json"):$OUT:$ERR" "$KEY:Saved secrets to: $WORK/got.json:"
AS dave secret get user_key "$CLIENT"
check "dave may not read: exit 1" eq "$RC" 1
AS alice secret set "$WORK/sec.json" "$CLIENT" --from-pem user_cert
check "--from-pem on a non-PEM file refused" contains "$ERR" "neither a CERTIFICATE nor a PRIVATE KEY"

# ---- SVN update, manifest get --display-update ----
printf '{"Packages":{"pkg":{"SecurityVersion":3}}}' >"$WORK/svn.json"
AS alice manifest update apply "$WORK/svn.json" "$CLIENT"
check "alice lacks UpdateSecurityVersion" contains "$ERR" "user alice is not allowed to UpdateSecurityVersion pkg"
AS dave manifest update apply "$WORK/svn.json" "$CLIENT"
check "dave raises the SVN (MarbleRun's message)" eq "$RC:$OUT" "0:Update manifest set successfully"
cli manifest get "$CLIENT" "${G[@]}"
check "manifest get: MarbleRun's two lines first" eq "$(sed -n 2p <<<"$OUT")" "Successfully verified Coordinator, now requesting manifest"
OUT=$(sed 1,2d <<<"$OUT")
check "manifest get: stored manifest unchanged (SVN 1)" eq "$(printf '%s' "$OUT" | jq .Packages.pkg.SecurityVersion)" 1
cli manifest get "$CLIENT" -u "${G[@]}"; OUT=$(sed 1,2d <<<"$OUT")
check "manifest get --display-update shows SVN 3" eq "$(printf '%s' "$OUT" | jq .Packages.pkg.SecurityVersion)" 3
cli manifest log "$CLIENT" "${G[@]}"
check "manifest log shows the SVN update by dave" contains "$OUT" '"update":"SecurityVersion increased","user":"dave"'

# ---- multi-party update ----
manifest "$WORK/m2.json" '{"UpdateThreshold": 2}' "$(keys rk1)"
jq '.Marbles.web.Parameters.Env = {"V": "2"}' "$WORK/m2.json" >"$WORK/m2b.json"; mv "$WORK/m2b.json" "$WORK/m2.json"
cp "$WORK/m2.json" "$WORK/m2x.json"; printf '\n' >>"$WORK/m2x.json"
cli manifest update get "$CLIENT" "${G[@]}"
check "update get without pending update: exit 1" eq "$RC:$ERR" "1:cairn: retrieving pending update manifest: no update in progress"
AS alice manifest update apply "$WORK/m2.json" "$CLIENT"
check "alice starts the update" eq "$RC" 0
check "apply: MarbleRun's message for one missing acknowledgement" eq "$OUT" "Update manifest submitted successfully.
Changes are pending and have not been applied yet.
1 user still needs to acknowledge the update manifest.
The following users may acknowledge the update: bob, carol"
cli manifest update get "$CLIENT" --missing "${G[@]}"
check "update get --missing (MarbleRun prints Go's []string)" eq "$OUT" "The following users have not yet acknowledged the update: [bob carol]"
cli manifest update get "$CLIENT" -o "$WORK/pending.json" "${G[@]}"
check "update get -o writes the pending manifest byte for byte" cmp -s "$WORK/pending.json" "$WORK/m2.json"
AS bob manifest update acknowledge "$WORK/m2x.json" "$CLIENT"
check "non-identical acknowledgement: exit 1" eq "$RC" 1
check "with MarbleRun's message" contains "$ERR" "provided manifest does not match the pending manifest"
AS bob manifest update acknowledge "$WORK/m2.json" "$CLIENT"
check "bob acknowledges: applied" eq "$RC:$OUT" "0:Acknowledgement successful:
All users have acknowledged the update manifest. Update successfully applied"
cli manifest verify "$WORK/m2.json" "$CLIENT" "${G[@]}"
check "manifest verify: the Coordinator runs m2" eq "$RC" 0
cli manifest get "$CLIENT" -u "${G[@]}"; OUT=$(sed 1,2d <<<"$OUT")
check "--display-update ignores SVN bumps before a full update (m2 says 1)" eq \
  "$(printf '%s' "$OUT" | jq .Packages.pkg.SecurityVersion)" 1
printf '{"Packages":{"pkg":{"SecurityVersion":2}}}' >"$WORK/svn2.json"
AS dave manifest update apply "$WORK/svn2.json" "$CLIENT"
cli manifest get "$CLIENT" --display-update "${G[@]}"; OUT=$(sed 1,2d <<<"$OUT")
check "... and applies the bumps after it" eq "$(printf '%s' "$OUT" | jq .Packages.pkg.SecurityVersion)" 2

# ---- cancel ----
manifest "$WORK/m3.json" '{}' "$(keys rk1)"
AS carol manifest update apply "$WORK/m3.json" "$CLIENT"
check "carol starts another update" eq "$RC" 0
AS dave manifest update cancel "$CLIENT"
check "dave cannot cancel" contains "$ERR" "user dave is not allowed to UpdateManifest"
AS bob manifest update cancel "$CLIENT"
check "bob cancels" eq "$RC:$OUT" "0:Cancellation successful"
AS bob manifest update cancel "$CLIENT"
check "cancel again: no update in progress" contains "$ERR" "no update in progress"

# ---- recover with one key ----
jq -r .RecoverySecrets.rk1 "$WORK/rec.json" | base64 -d >"$WORK/rk1.enc"
stop_coord; rm -f "$WORK/c/seal/sim_seal_key"; start_coord c
req GET /api/v2/status
check "state 1 after losing the seal key" eq "$(jqv .data.code)" 1
cli recover "$WORK/rk1.enc" "$CLIENT" -k "$WORK/rk2.key" "${G[@]}"
check "recover with the wrong key fails locally" contains "$ERR" "cannot decrypt the recovery secret"
cli recover "$WORK/rk1.enc" "$CLIENT" -k "$WORK/rk1.key" "${G[@]}"
check "cairn recover (MarbleRun's stdout)" eq "$RC:$OUT" "0:Warning: skipping quote verification
Recovery successful."
cli status "$CLIENT" "${G[@]}"
check "status 3 after recovery (root cache still matches)" contains "$OUT" "3:"

# ---- XOR 2 of 2: recover + offline steps ----
manifest "$WORK/m4.json" '{}' "$(keys rk1 rk2)"
rm -f "$WORK/cache.pem"
stop_coord; rm -rf "$WORK/c/seal"; start_coord c
cli manifest set "$WORK/m4.json" "$CLIENT" -r "$WORK/rec2.json" "${G[@]}"
check "manifest with two recovery keys" eq "$RC" 0
jq -r .RecoverySecrets.rk1 "$WORK/rec2.json" >"$WORK/rk1.b64"
jq -r .RecoverySecrets.rk2 "$WORK/rec2.json" | base64 -d >"$WORK/rk2.enc"
stop_coord; rm -f "$WORK/c/seal/sim_seal_key"; start_coord c
# the ephemeral key is generated before the Coordinator serves (issue 13 §4)
req GET /api/v2/recover/public-key; PK_FIRST=$CODE
cli recover-with-signature public-key "$CLIENT" -o "$WORK/coord0.pem" "${G[@]}"
check "right after the start public-key answers 200" eq "$PK_FIRST" 200
check "CLI public-key succeeds" eq \
  "$RC:$(head -1 "$WORK/coord0.pem" 2>/dev/null)" "0:-----BEGIN PUBLIC KEY-----"
cli recover "$WORK/rk1.b64" "$CLIENT" -k "$WORK/rk1.key" "${G[@]}"
check "first XOR share (base64 text file) accepted" eq "$RC" 0
check "one secret remaining" contains "$OUT" "Remaining secrets: 1"
cli recover-with-signature public-key "$CLIENT" -o "$WORK/coord.pem" "${G[@]}"
check "public-key writes the ephemeral key" eq "$RC:$(head -1 "$WORK/coord.pem")" "0:-----BEGIN PUBLIC KEY-----"
check "the same ephemeral key as right after the start" cmp -s "$WORK/coord0.pem" "$WORK/coord.pem"
cli recover-with-signature encrypt-secret "$WORK/rk2.enc" --coordinator-pub-key "$WORK/coord.pem" -k "$WORK/rk2.key" -o "$WORK/rk2.toc"
check "encrypt-secret (offline)" eq "$RC" 0
cli recover-with-signature sign-secret "$WORK/rk2.enc" -k "$WORK/rk2.key" -o "$WORK/rk2.sig"
check "sign-secret (offline)" eq "$RC:$(wc -c <"$WORK/rk2.sig")" "0:256"
cli recover-with-signature "$WORK/rk2.toc" "$CLIENT" "${G[@]}"
check "recover-with-signature without -s: exit 1" eq "$RC" 1
cli recover-with-signature sign-secret "$WORK/rk2.enc" -k "$WORK/rk1.key" -o "$WORK/bad.sig"
check "sign-secret with the wrong key cannot decrypt" eq "$RC" 1
openssl dgst -sha256 -sign "$WORK/rk1.key" -out "$WORK/bad.sig" "$WORK/rk2.sig"
cli recover-with-signature "$WORK/rk2.toc" "$CLIENT" -s "$WORK/bad.sig" "${G[@]}"
check "a wrong signature is refused" contains "$ERR" 'does not verify with recovery key "rk2"'
cli recover-with-signature "$WORK/rk2.toc" "$CLIENT" -s "$WORK/rk2.sig" "${G[@]}"
check "recover-with-signature completes the recovery" eq "$RC:$(tail -1 <<<"$OUT")" "0:Recovery successful."
restart_coord c
cli manifest verify "$WORK/m4.json" "$CLIENT" "${G[@]}"
check "after recovery and restart the Coordinator runs m4 with the same root" eq "$RC" 0
finish
