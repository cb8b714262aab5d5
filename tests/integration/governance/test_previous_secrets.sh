#!/usr/bin/env bash
# .Previous.Secrets with MarbleRun's semantics (coordinator/clientapi
# SetManifest + updateSecrets, core generateMarbleSecrets):
#  - before any update, .Previous.Secrets.X is the current secret (user-defined
#    secrets: MarbleRun's empty placeholder, uploads never touch it);
#  - on a full update a secret's previous value is replaced only when that
#    secret is regenerated (then: its value before the update); kept secrets
#    (shared symmetric keys without RotateRootSecret, user-defined ones) keep
#    their previous value; a redefined secret starts with previous = new;
#  - the previous root secret (private keys' previous values) changes only
#    with RotateRootSecret.
. "$(dirname "$0")/lib.sh"
[ -x "$TOOL" ] || { echo "SKIP: activate_tool not built"; exit 77; }
mkuser alice
UUID=6a1c9f0e-3b52-4d7a-9e1f-0c2b8d4e5f61
manifest() {   # manifest FILE CONFIG_JSON SSYM_SIZE
  cat >"$1" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"web": {"Package": "pkg", "Parameters": {"Files": {
      "/s": "{{ hex .Secrets.ssym }}", "/ps": "{{ hex .Previous.Secrets.ssym }}",
      "/k": "{{ hex .Secrets.psym }}", "/pk": "{{ hex .Previous.Secrets.psym }}",
      "/c": "{{ pem .Secrets.scrt.Cert }}", "/pc": "{{ pem .Previous.Secrets.scrt.Cert }}",
      "/u": "{{ raw .Secrets.u }}"}}},
             "pu": {"Package": "pkg", "Parameters": {"Files": {"/pu": "{{ raw .Previous.Secrets.u }}"}}}},
  "Secrets": {"ssym": {"Type": "symmetric-key", "Size": ${3:-128}, "Shared": true},
              "psym": {"Type": "symmetric-key", "Size": 256},
              "scrt": {"Type": "cert-ecdsa", "Size": 256, "Shared": true},
              "u": {"Type": "plain", "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["upd", "w"]}},
  "Roles": {"upd": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]},
            "w": {"ResourceType": "Secrets", "ResourceNames": ["u"], "Actions": ["WriteSecret"]}},
  "Config": $2
}
JSON
}
# files PHASE: activates once and reads every file into S_PHASE, PS_PHASE, ...
files() {
  local out
  out=$("$TOOL" "$MESH" web --uuid $UUID || true)
  CODE=${out%%$'\n'*}; CODE=${CODE#STATUS }; BODY=${out#*$'\n'}
  [ "$CODE" = 200 ] || return 1
  for f in s ps k pk c pc u; do
    eval "$(printf '%s' "${f^^}")_$1=\$(printf '%s' \"\$BODY\" | jq -r '.data.files[\"/$f\"]' | base64 -d | tr -d '\n')"
  done
}
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
differ() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]; }
upload() { ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"u\":{\"Key\":\"$(printf '%s' "$1" | base64 -w0)\"}}}"; }
update() { ureq alice POST /api/v2/update -d "$(mbody "$1")"; check "update $1 applied" eq "$CODE" 200; }

manifest "$WORK/m0.json" '{}'
start_coord c
req POST /api/v2/manifest -d "$(mbody "$WORK/m0.json")"
check "manifest set" eq "$CODE" 200
upload first
check "user-defined secret uploaded" eq "$CODE" 200
check "phase 0: activation with .Previous.Secrets before any update succeeds (was HTTP 500)" files 0
check "phase 0: previous shared key == current" same "$PS_0" "$S_0"
check "phase 0: previous private key == current" same "$PK_0" "$K_0"
check "phase 0: previous shared certificate == current" same "$PC_0" "$C_0"
check "phase 0: user-defined current value" eq "$U_0" first
# the placeholder has no value: rendering it fails as in MarbleRun (EncodeSecretDataToRaw)
placeholder() {
  local out
  out=$("$TOOL" "$MESH" pu --uuid $UUID || true)
  CODE=${out%%$'\n'*}; CODE=${CODE#STATUS }; BODY=${out#*$'\n'}
  [ "$CODE" = 500 ] && [[ "$BODY" == *"tried to parse secret with empty value"* ]]
}
check "phase 0: user-defined previous is MarbleRun's empty placeholder (rendering it fails)" placeholder

# 1: RotateRootSecret: symmetric keys regenerated, previous = the values before
manifest "$WORK/m1.json" '{"RotateRootSecret": true}'
update "$WORK/m1.json"
check "phase 1: activation" files 1
check "phase 1: shared key rotated" differ "$S_1" "$S_0"
check "phase 1: previous shared key = the key before" same "$PS_1" "$S_0"
check "phase 1: private key rotated" differ "$K_1" "$K_0"
check "phase 1: previous private key = the key before" same "$PK_1" "$K_0"
check "phase 1: shared certificate regenerated, previous = the one before" same "$PC_1" "$C_0"
check "phase 1: user-defined value kept" eq "$U_1" first
check "phase 1: user-defined previous still the placeholder" placeholder

# 2: no rotation: kept secrets keep their previous values; certificates are
# regenerated (new intermediate) with previous = the one of phase 1
upload second
manifest "$WORK/m2.json" '{}'
update "$WORK/m2.json"
check "phase 2: activation" files 2
check "phase 2: shared key kept" same "$S_2" "$S_1"
check "phase 2: previous shared key NOT replaced (still the phase-0 key)" same "$PS_2" "$S_0"
check "phase 2: private key kept" same "$K_2" "$K_1"
check "phase 2: previous private key NOT replaced (previous root secret unchanged)" same "$PK_2" "$K_0"
check "phase 2: certificate regenerated" differ "$C_2" "$C_1"
check "phase 2: previous certificate = the phase-1 one" same "$PC_2" "$C_1"
check "phase 2: user-defined value (uploaded again) kept" eq "$U_2" second
check "phase 2: user-defined previous still the placeholder (uploads never touch it)" placeholder

restart_coord c
check "after a restart: activation" files 3
check "after a restart: the previous values are the same (persisted)" \
  bash -c '[ "$1" = "$2" ] && [ "$3" = "$4" ] && [ "$5" = "$6" ]' _ "$PS_3" "$PS_2" "$PK_3" "$PK_2" "$PC_3" "$PC_2"

# 4: a redefined secret is new: previous = its new value
manifest "$WORK/m4.json" '{}' 256
update "$WORK/m4.json"
check "phase 4: activation" files 4
check "phase 4: redefined shared key regenerated (32 bytes)" bash -c '[ ${#1} = 64 ] && [ "$1" != "$2" ]' _ "$S_4" "$S_3"
check "phase 4: its previous value is the new value" same "$PS_4" "$S_4"
check "Coordinator still serving" alive
finish
