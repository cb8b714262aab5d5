#!/usr/bin/env bash
# `cairn manifest check` (offline): the Coordinator's own validation and a
# warning for every unknown field, with the documented exit codes (0 valid,
# 1 invalid, 2 usage, 3 valid with unknown fields), JSON and YAML. Each
# verdict is compared with what a real Coordinator does with the same file:
# check's "invalid" is the Coordinator's 400 with the same message, its
# unknown fields are the ones the Coordinator logs and ignores.
source "$(dirname "$0")/harness.sh"
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
M=$ROOT/samples/demo/manifest.json

# run_check FILE: sets RC, OUT (stdout), ERR (stderr)
run_check() { RC=0; cli manifest check "$1" >"$WORK/o" 2>"$WORK/e" || RC=$?; OUT=$(cat "$WORK/o"); ERR=$(cat "$WORK/e"); }
# set_status FILE ADDR: HTTP status of a manifest set (curl, the Coordinator's answer)
set_status() {
  jq -n --rawfile m "$1" '{manifest: ($m | @base64)}' >"$WORK/body.json"
  curl -sk -o "$WORK/set.out" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$WORK/body.json" "https://$2/api/v2/manifest"
}

# ---- valid
run_check "$M"
[ "$RC" = 0 ] && [ -z "$ERR" ] && ok "demo manifest: exit 0, nothing on stderr" || bad "demo manifest: rc=$RC $ERR"
[[ $OUT == "$M: valid: 1 package, 3 marbles, 1 secret, 0 users; manifest signature $(sha256sum "$M" | cut -d' ' -f1)" ]] \
  && ok "stdout: the counts and the manifest signature (= manifest set's)" || bad "stdout: $OUT"

# ---- unknown fields: a typo at two levels (the Coordinator accepts and ignores them)
jq '.Marbles.web.Parameters.Enviroment = {"X": "1"} | .Marbles.ballot.MaxActivation = 1' "$M" >"$WORK/typo.json"
run_check "$WORK/typo.json"
[ "$RC" = 3 ] && ok "unknown fields: exit 3" || bad "unknown fields: rc=$RC"
grep -qx 'cairn: WARNING: Marbles.web.Parameters.Enviroment: unknown field, the Coordinator ignores it (did you mean "Env"?)' "$WORK/e" \
  && ok "Enviroment: named with its path and the field it resembles" || bad "Enviroment: $ERR"
grep -qx 'cairn: WARNING: Marbles.ballot.MaxActivation: unknown field, the Coordinator ignores it (did you mean "MaxActivations"?)' "$WORK/e" \
  && ok "MaxActivation: named" || bad "MaxActivation: $ERR"
[ "$(grep -c 'unknown field,' "$WORK/e")" = 2 ] && ok "exactly the two unknown fields" || bad "unknown count: $ERR"
[[ $OUT == "$WORK/typo.json: valid:"* ]] && ok "still valid (stdout)" || bad "typo stdout: $OUT"

# ---- YAML, as manifest set takes it
{ echo "Packages:"; echo "  demo:"; echo "    Debug: true"; echo "    UniqueID: \"$(printf '%064d' 0)\"";
  echo "Marbles:"; echo "  web:"; echo "    Package: demo"; echo "    Parameters:"; echo "      Enviroment:";
  echo "        X: \"1\""; } >"$WORK/m.yaml"
run_check "$WORK/m.yaml"
[ "$RC" = 3 ] && grep -q 'Marbles.web.Parameters.Enviroment: unknown field' "$WORK/e" \
  && ok "YAML: converted as manifest set does, the unknown field found" || bad "YAML: rc=$RC $ERR $OUT"

# ---- invalid: one error line, exit 1
echo '{"Packages":{}}' >"$WORK/empty.json"
expect_error "no packages: the checker's message" \
  'manifest ".*empty.json" is invalid: no allowed packages defined; the Coordinator would refuse it' cli manifest check "$WORK/empty.json"
run_check "$WORK/empty.json"; [ "$RC" = 1 ] && ok "invalid: exit 1" || bad "invalid: rc=$RC"
# beyond the rules: the template dry run (a secret that does not exist)
jq '.Marbles.web.Parameters.Files["/x"] = "{{ pem .Secrets.nope }}"' "$M" >"$WORK/tmpl.json"
expect_error "template dry run: the missing secret named" 'is invalid: .*nope' cli manifest check "$WORK/tmpl.json"
# beyond the rules: a user certificate that is not one (the Coordinator parses it at set)
jq '.Users = {"alice": {"Certificate": "not a PEM", "Roles": []}}' "$M" >"$WORK/user.json"
expect_error "user certificate parsed" 'is invalid: .*alice' cli manifest check "$WORK/user.json"
printf '{"Packages": ' >"$WORK/broken.json"
expect_error "unparsable file" 'neither JSON.*nor YAML' cli manifest check "$WORK/broken.json"
expect_error "missing file" 'does not exist' cli manifest check "$WORK/none.json"
RC=0; cli manifest check >/dev/null 2>&1 || RC=$?; [ "$RC" = 2 ] && ok "no argument: exit 2 (usage)" || bad "usage rc=$RC"
RC=0; cli manifest check a b >/dev/null 2>&1 || RC=$?; [ "$RC" = 2 ] && ok "two arguments: exit 2 (usage)" || bad "usage rc=$RC"

# ---- the same verdicts from a real Coordinator
start_coordinator A
for f in empty tmpl user; do
  run_check "$WORK/$f.json"
  want=$(sed -n 's/^cairn: manifest ".*" is invalid: \(.*\); the Coordinator would refuse it, fix the file$/\1/p' "$WORK/e")
  code=$(set_status "$WORK/$f.json" "$A_CLIENT")
  [ "$code" = 400 ] && [ "$(jq -r .message "$WORK/set.out")" = "$want" ] \
    && ok "$f: the Coordinator refuses with check's message ($want)" || bad "$f: $code $(cat "$WORK/set.out") vs $want"
done
code=$(set_status "$WORK/typo.json" "$A_CLIENT")
[ "$code" = 200 ] && ok "typo manifest: the Coordinator accepts it (what check's exit 3 warns about)" || bad "typo set: $code"
grep -q 'unknown field Marbles.web.Parameters.Enviroment ignored (did you mean Env?)' "$WORK/A.log" \
  && ok "the Coordinator logs the ignored field too" || bad "coordinator log: $(grep -i unknown "$WORK/A.log")"

# ---- YAML at start: --startup-manifest and EDG_STARTUP_MANIFEST take what manifest set takes (same code)
{ echo "Packages:"; echo "  demo:"; echo "    Debug: true"; echo "    UniqueID: \"$(printf '%064d' 0)\"";
  echo "Marbles:"; echo "  web:"; echo "    Package: demo"; echo "    Parameters:"; echo "      Env:";
  echo "        GREETING: hello"; } >"$WORK/start.yaml"
run_check "$WORK/start.yaml"; [ "$RC" = 0 ] && ok "start.yaml is valid" || bad "start.yaml: $ERR"
want=$(cli manifest signature "$WORK/start.yaml")
for how in flag env; do
  rm -f "$WORK/s-$how.json"
  if [ $how = flag ]; then
    "$BIN/cairn-coordinator" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/s-$how" \
      --ready-file "$WORK/s-$how.json" --startup-manifest "$WORK/start.yaml" >"$WORK/s-$how.log" 2>&1 &
  else
    EDG_STARTUP_MANIFEST="$WORK/start.yaml" "$BIN/cairn-coordinator" --simulation --client-addr 127.0.0.1:0 \
      --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/s-$how" --ready-file "$WORK/s-$how.json" >"$WORK/s-$how.log" 2>&1 &
  fi
  PIDS+=($!)
  if wait_file "$WORK/s-$how.json" 60; then
    c=$(json_field "$WORK/s-$how.json" client)
    got=$(curl -sk "https://$c/api/v2/manifest" | jq -r .data.manifestFingerprint)
    [ "$got" = "$want" ] && ok "YAML startup manifest ($how) set, converted as manifest set converts it ($want)" \
      || bad "YAML startup manifest ($how): fingerprint $got, want $want; $(tail -3 "$WORK/s-$how.log")"
  else
    bad "YAML startup manifest ($how): the Coordinator did not start: $(tail -3 "$WORK/s-$how.log")"
  fi
done
printf 'Packages: [\n' >"$WORK/broken.yaml"
rc=0
timeout 60 "$BIN/cairn-coordinator" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/s-bad" \
  --startup-manifest "$WORK/broken.yaml" >"$WORK/s-bad.log" 2>&1 || rc=$?
[ $rc = 78 ] && grep -q "startup manifest .*broken.yaml: neither JSON (.*) nor YAML (" "$WORK/s-bad.log" \
  && ok "a broken startup manifest: exit 78 (configuration), naming both parse errors" || bad "broken startup: rc=$rc $(tail -2 "$WORK/s-bad.log")"
finish
