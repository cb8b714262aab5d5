#!/usr/bin/env bash
# The previous root secret (inventory §3.2 step 6, §1.10 RotateRootSecret):
# a RotateRootSecret update keeps the root secret as previousRootSecret
# (before the first one it is the current root secret, as MarbleRun),
# persisted in the sealed state; a marble activated afterwards gets its private
# (per-marble) symmetric keys of before the update via .Previous.Secrets,
# equal to what an earlier activation with the same UUID got, and new ones
# via .Secrets. Real Coordinator, restart in between.
. "$(dirname "$0")/lib.sh"
[ -x "$TOOL" ] || { echo "SKIP: activate_tool not built"; exit 77; }

mkuser alice
SIGNER=2222222222222222222222222222222222222222222222222222222222222222
UUID=6a1c9f0e-3b52-4d7a-9e1f-0c2b8d4e5f61
UUID2=0f3e2d1c-5b4a-4978-8695-a4b3c2d1e0f9
# manifest FILE CONFIG_JSON EXTRA_FILES
manifest() {
  cat >"$1" <<JSON
{
  "Packages": {"pkg": {"SignerID": "$SIGNER", "ProductID": 1, "SecurityVersion": 1}},
  "Marbles": {"web": {"Package": "pkg", "Parameters": {"Files": {
      "/k": "{{ hex .Secrets.psym }}", "/s": "{{ hex .Secrets.ssym }}" ${3:-}}}}},
  "Secrets": {"psym": {"Type": "symmetric-key", "Size": 256},
              "ssym": {"Type": "symmetric-key", "Size": 128, "Shared": true},
              "pcrt": {"Type": "cert-ecdsa", "Size": 256}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["upd"]}},
  "Roles": {"upd": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]}},
  "Config": $2
}
JSON
}
# act UUID PATH: the file's content as the marble received it
act() {
  local out
  out=$("$TOOL" "$MESH" web --uuid "$1" --file "$2" || true)
  [ "$(printf '%s\n' "$out" | head -1)" = "STATUS 200" ] || { echo "activation failed: ${out:0:300}" >&2; return 0; }
  printf '%s\n' "$out" | tail -n +2 | tr -d '\n'
}
is_hex() { [[ "$1" =~ ^[0-9a-f]{$2}$ ]]; }

manifest "$WORK/m1.json" '{}'
start_coord c
req POST /api/v2/manifest -d "$(mbody "$WORK/m1.json")"
check "manifest m1 set" eq "$CODE" 200
K1=$(act $UUID /k)
K1B=$(act $UUID2 /k)
S1=$(act $UUID /s)
check "m1: private key of UUID is 32 bytes" is_hex "$K1" 64
check "m1: private keys are bound to the UUID" test "$K1" != "$K1B"
check "m1: same UUID, same private key" eq "$(act $UUID /k)" "$K1"

# a full update WITHOUT rotation: previous root == root, so the previous
# private key equals the current one
manifest "$WORK/m2.json" '{}' ', "/pk": "{{ hex .Previous.Secrets.psym }}"'
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m2.json")"
check "m2 applied (one updater)" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:0"
check "m2: private key unchanged without RotateRootSecret" eq "$(act $UUID /k)" "$K1"
check "m2: .Previous.Secrets.psym = the same key" eq "$(act $UUID /pk)" "$K1"

# RotateRootSecret: new root secret, the old one kept as previous
manifest "$WORK/m3.json" '{"RotateRootSecret": true}' ', "/pk": "{{ hex .Previous.Secrets.psym }}", "/ps": "{{ hex .Previous.Secrets.ssym }}"'
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m3.json")"
check "m3 (RotateRootSecret) applied" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:0"
K3=$(act $UUID /k)
check "m3: a new private key via .Secrets" test "$K3" != "$K1"
check "m3: new private key is 32 bytes" is_hex "$K3" 64
check "m3: .Previous.Secrets.psym equals what UUID got before the rotation" eq "$(act $UUID /pk)" "$K1"
check "m3: previous private key of another UUID equals its earlier one" eq "$(act $UUID2 /pk)" "$K1B"
check "m3: shared symmetric key rotated" test "$(act $UUID /s)" != "$S1"
check "m3: .Previous.Secrets.ssym = the shared key before the rotation" eq "$(act $UUID /ps)" "$S1"

restart_coord c
check "after restart: .Previous.Secrets.psym still the pre-rotation key (persisted)" eq "$(act $UUID /pk)" "$K1"
check "after restart: .Secrets.psym unchanged" eq "$(act $UUID /k)" "$K3"

# a second rotation: previous is now the root secret of m3
manifest "$WORK/m4.json" '{"RotateRootSecret": true}' ', "/pk": "{{ hex .Previous.Secrets.psym }}", "/x": "1"'
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m4.json")"
check "m4 (second rotation) applied" eq "$CODE" 200
check "m4: previous private key = the m3 key" eq "$(act $UUID /pk)" "$K3"
K4=$(act $UUID /k)
check "m4: a third private key" test "$K4" != "$K3" -a "$K4" != "$K1"

# a private certificate's previous value is the marble's current one (no
# second key generation; documented deviation from MarbleRun)
manifest "$WORK/m5.json" '{}' ', "/c": "{{ pem .Secrets.pcrt.Cert }}{{ pem .Previous.Secrets.pcrt.Cert }}"'
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m5.json")"
check "m5 applied" eq "$CODE" 200
out=$("$TOOL" "$MESH" web --uuid $UUID --file /c || true)
printf '%s\n' "$out" | tail -n +2 >"$WORK/c.pem"
check "m5: the file holds two certificates" eq "$(grep -c 'BEGIN CERTIFICATE' "$WORK/c.pem")" 2
awk '/BEGIN/{n++} {print > ("'"$WORK"'/c" n ".pem")}' "$WORK/c.pem"
check "m5: .Previous.Secrets.pcrt is the marble's current private certificate" cmp -s "$WORK/c1.pem" "$WORK/c2.pem"
check "m5: it is issued by the Marble Root (issuer CN of the Intermediate CA)" contains \
  "$(openssl x509 -in "$WORK/c1.pem" -noout -issuer 2>/dev/null)" "MarbleRun Coordinator - Intermediate CA"
check "Coordinator still serving" alive
finish
