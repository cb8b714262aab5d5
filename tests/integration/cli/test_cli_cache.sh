#!/usr/bin/env bash
# The root-certificate cache with MarbleRun's semantics (docs/cli.md "The root
# cache"): one file per Coordinator address; manifest set/verify (and get
# --keep-cert) write it, -i neither reads nor writes it in the cached-root
# commands; status/manifest log trust just the cached root (no policy flag);
# ./era-config.json is the attesting commands' default policy; a changed
# root is refused by `certificate` and by the pinned TLS of the cached-root
# commands, and `manifest verify` replaces it. Last, a Coordinator in
# recovery mode (state 1, temporary root) queried with `status` leaves the
# cache holding the real root.
source "$(dirname "$0")/harness.sh"
M=$(cd "$(dirname "$0")/../../.." && pwd)/samples/demo/manifest.json
XDG="$WORK/xdg"
cachef() { echo "$XDG/cairn/coordinators/127.0.0.1_${1##*:}.pem"; }

start_coordinator A
start_coordinator B
start_coordinator C

# --- one file per address: two deployments do not collide ---------------------
cli manifest set "$M" "$A_CLIENT" -i >/dev/null 2>&1 && cli manifest set "$M" "$B_CLIENT" -i >/dev/null 2>&1 \
  && ok "manifest set -i on A and B" || bad "manifest set on A/B"
[ -f "$(cachef "$A_CLIENT")" ] && [ -f "$(cachef "$B_CLIENT")" ] && ! cmp -s "$(cachef "$A_CLIENT")" "$(cachef "$B_CLIENT")" \
  && ok "two cache files, one per address" || bad "cache files: $(ls -R "$XDG" 2>&1)"
[ "$(stat -c %a "$(cachef "$A_CLIENT")")" = 600 ] && ok "cache file mode 0600" || bad "cache mode"
grep -q "^# address: $A_CLIENT\$" "$(cachef "$A_CLIENT")" && grep -q '^# attested: no (--insecure)$' "$(cachef "$A_CLIENT")" \
  && [ "$(grep -c 'BEGIN CERTIFICATE' "$(cachef "$A_CLIENT")")" = 2 ] \
  && ok "cache header (address, attested: no) + intermediate + root" || bad "cache format: $(head -5 "$(cachef "$A_CLIENT")")"
cli certificate root "$A_CLIENT" -i -o "$WORK/rootA.pem" >/dev/null 2>&1
openssl x509 -in <(awk '/BEGIN/{n++} n==2' "$(cachef "$A_CLIENT")") -noout -fingerprint >"$WORK/fp1" 2>/dev/null
openssl x509 -in "$WORK/rootA.pem" -noout -fingerprint >"$WORK/fp2"
cmp -s "$WORK/fp1" "$WORK/fp2" && ok "the cache's second certificate is A's root" || bad "cached root != A's root"
# MarbleRun's format: `openssl verify` of the intermediate against the cached root
openssl verify -CAfile <(awk '/BEGIN/{n++} n==2' "$(cachef "$A_CLIENT")") <(awk '/BEGIN/{n++} n==1' "$(cachef "$A_CLIENT")") \
  >/dev/null 2>&1 && ok "cached intermediate chains to the cached root" || bad "cache chain"

# --- the cached-root commands need no policy flag --------------------------------
for x in A B; do
  v=${x}_CLIENT
  out=$(cli status "${!v}" 2>"$WORK/err") && [ "${out%%:*}" = 3 ] && ok "status $x with just the cached root: $out" \
    || bad "status $x: $out $(cat "$WORK/err")"
done
grep -q 'saved with --insecure (not attested)' "$WORK/err" && ok "a cache saved with -i is flagged on stderr" \
  || bad "no not-attested warning: $(cat "$WORK/err")"
cli manifest log "$A_CLIENT" >"$WORK/out" 2>/dev/null && sed -n 2p "$WORK/out" | grep -qx 'Update log:' \
  && ok "manifest log with just the cached root" || bad "manifest log: $(cat "$WORK/out")"
expect_error "status without a cache" "no cached root certificate for $C_CLIENT.*manifest verify" cli status "$C_CLIENT"

# --- -i: the cached-root commands neither read nor write the cache ----------------
cli status "$C_CLIENT" -i >/dev/null 2>&1 && [ ! -e "$(cachef "$C_CLIENT")" ] && ok "status -i writes no cache" \
  || bad "status -i wrote $(cachef "$C_CLIENT")"
cp "$(cachef "$A_CLIENT")" "$WORK/a.saved"
cp "$(cachef "$B_CLIENT")" "$(cachef "$A_CLIENT")"   # A's file now holds B's root
out=$(cli status "$A_CLIENT" -i 2>/dev/null) && [ "${out%%:*}" = 3 ] && ok "status -i ignores a wrong cache: $out" \
  || bad "status -i read the cache: $out"
expect_error "status with a changed root (pinned TLS)" "does not present the root certificate cached in.*cache is unchanged" \
  cli status "$A_CLIENT"
cmp -s "$(cachef "$A_CLIENT")" "$(cachef "$B_CLIENT")" && ok "the refusal left the cache unchanged" || bad "cache changed"
# (`certificate` refusing a changed root needs an attested Coordinator: tests/integration/coordinator_tpm)
# manifest verify replaces a changed root (MarbleRun: "Run 'marblerun manifest verify' ... to update the local cache")
out=$(cli manifest verify "$M" "$A_CLIENT" -i 2>"$WORK/err") && grep -q 'differs from the one cached' "$WORK/err" \
  && cmp -s <(grep -v '^# saved' "$(cachef "$A_CLIENT")") <(grep -v '^# saved' "$WORK/a.saved") \
  && ok "manifest verify replaced the changed root with A's (stderr says so)" || bad "verify: $out $(cat "$WORK/err")"
out=$(cli status "$A_CLIENT" 2>/dev/null) && ok "status A works again: $out" || bad "status A after verify"

# --- --coordinator-cert FILE: one file as MarbleRun's flag ---------------------
cli --coordinator-cert "$WORK/shared.pem" manifest verify "$M" "$A_CLIENT" -i >/dev/null 2>&1 \
  && [ -f "$WORK/shared.pem" ] && ok "--coordinator-cert names the cache file" || bad "--coordinator-cert"
expect_error "status of B against A's root in --coordinator-cert" "cached in \"$WORK/shared.pem\"" \
  cli --coordinator-cert "$WORK/shared.pem" status "$B_CLIENT"

# --- manifest get writes the cache only with --keep-cert (MarbleRun) --------------
cli --coordinator-cert "$WORK/c.pem" manifest set "$M" "$C_CLIENT" -i >/dev/null 2>&1
cli manifest get "$C_CLIENT" -i -o "$WORK/m.out" >/dev/null 2>&1 && [ ! -e "$(cachef "$C_CLIENT")" ] \
  && ok "manifest get without --keep-cert writes no cache" || bad "manifest get wrote the cache"
cli manifest get "$C_CLIENT" -i --keep-cert -o "$WORK/m.out" >/dev/null 2>&1 && [ -f "$(cachef "$C_CLIENT")" ] \
  && ok "manifest get --keep-cert writes the cache" || bad "--keep-cert"

# --- ./era-config.json: the attesting commands' default policy --------------------
mkdir -p "$WORK/cwd"
printf '{"SignerID":"%064d","ProductID":3,"SecurityVersion":3}' 0 >"$WORK/cwd/era-config.json"
(cd "$WORK/cwd" && XDG_CONFIG_HOME="$XDG" "$BIN/cairn" manifest get "$A_CLIENT" >"$WORK/out" 2>"$WORK/err") && rc=0 || rc=$?
[ $rc = 1 ] && [ "$(cat "$WORK/out")" = "Reusing existing config file" ] && grep -q 'no quote.*simulation' "$WORK/err" \
  && ok "manifest get uses ./era-config.json (\"Reusing existing config file\"; then no quote in simulation)" \
  || bad "era-config.json default: rc=$rc $(cat "$WORK/out" "$WORK/err")"
(cd "$WORK/cwd" && XDG_CONFIG_HOME="$XDG" "$BIN/cairn" status "$A_CLIENT" >"$WORK/out" 2>/dev/null) \
  && [ "$(cut -d: -f1 "$WORK/out")" = 3 ] && ok "status ignores ./era-config.json (cached root, as MarbleRun)" \
  || bad "status in the era-config dir: $(cat "$WORK/out")"
expect_error "no policy and no ./era-config.json" "no Coordinator policy given.*era-config.json" cli manifest get "$A_CLIENT"

# --- -n/--namespace is accepted -----------------------------------------------------
out=$(cli -n marblerun status "$A_CLIENT" 2>/dev/null) && out2=$(cli status --namespace other "$A_CLIENT" 2>/dev/null) \
  && ok "-n/--namespace accepted: $out" || bad "--namespace"

# --- recovery mode: `status` does not poison the cache ------------------------------
openssl genrsa -out "$WORK/rk1.key" 3072 2>/dev/null
openssl rsa -in "$WORK/rk1.key" -pubout -out "$WORK/rk1.pub" 2>/dev/null
jq --arg k "$(cat "$WORK/rk1.pub")" '. + {RecoveryKeys: {rk1: $k}}' "$M" >"$WORK/mrec.json"
"$BIN/cairn-coordinator" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/R-state" \
  --ready-file "$WORK/R.json" >"$WORK/R.log" 2>&1 &
RPID=$!; PIDS+=($RPID)
wait_file "$WORK/R.json" 20 || { bad "coordinator R did not start"; exit 1; }
R=$(json_field "$WORK/R.json" client)
cli manifest set "$WORK/mrec.json" "$R" -i -r "$WORK/rec.json" >/dev/null 2>&1 && ok "R: manifest with a recovery key set" \
  || bad "R: manifest set"
cp "$(cachef "$R")" "$WORK/r.saved"
kill "$RPID"; wait "$RPID" 2>/dev/null || true
rm -f "$WORK/R-state/sim_seal_key"
rm -f "$WORK/R.json"
"$BIN/cairn-coordinator" --simulation --client-addr "$R" --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/R-state" \
  --ready-file "$WORK/R.json" >>"$WORK/R.log" 2>&1 &
RPID=$!; PIDS+=($RPID)
if ! wait_file "$WORK/R.json" 20; then
  bad "R did not restart on $R (port taken meanwhile?)"
else
  out=$(cli status "$R" -i 2>/dev/null) && [ "${out%%:*}" = 1 ] && ok "status -i in recovery mode: $out" \
    || bad "status -i in recovery mode: $out"
  cmp -s "$(cachef "$R")" "$WORK/r.saved" && ok "the cache still holds the real root after status -i" \
    || bad "status -i in recovery mode changed the cache"
  expect_error "status (cached root) in recovery mode" "recovery mode \\(state 1\\) presents a temporary root.*cache is unchanged" \
    cli status "$R"
  cmp -s "$(cachef "$R")" "$WORK/r.saved" && ok "the cache still holds the real root after the refusal" \
    || bad "status in recovery mode changed the cache"
  jq -r .RecoverySecrets.rk1 "$WORK/rec.json" | base64 -d >"$WORK/rk1.enc"
  out=$(cli recover "$WORK/rk1.enc" "$R" -k "$WORK/rk1.key" -i 2>/dev/null) \
    && [ "$out" = "Warning: skipping quote verification
Recovery successful." ] && ok "recover: marblerun's stdout" || bad "recover: $out"
  cmp -s "$(cachef "$R")" "$WORK/r.saved" && ok "recover left the cache alone" || bad "recover changed the cache"
  out=$(cli status "$R" 2>/dev/null) && [ "${out%%:*}" = 3 ] && ok "after recovery the cached root works again: $out" \
    || bad "status after recovery: $out"
fi
finish
