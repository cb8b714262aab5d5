#!/usr/bin/env bash
# The cairn CLI against real Coordinators: the happy path with MarbleRun's
# stdout line for line, --nonce, and every error path printing one line and
# exiting non-zero. The root cache: test_cli_cache.sh.
source "$(dirname "$0")/harness.sh"
M=$(cd "$(dirname "$0")/../../.." && pwd)/samples/demo/manifest.json

start_coordinator A
start_coordinator B

# --- happy path -------------------------------------------------------------
out=$(cli status "$A_CLIENT" --insecure 2>"$WORK/err") && [ "$out" = "2: Coordinator is ready to accept a manifest." ] \
  && ok "status in state 2: $out" || bad "status: $out $(cat "$WORK/err")"
grep -q '^cairn: WARNING: --insecure' "$WORK/err" && ok "--insecure prints a warning" || bad "no --insecure warning"
hash=$(cli manifest signature "$M")
[ "$hash" = "$(sha256sum "$M" | cut -d' ' -f1)" ] && ok "manifest signature = sha256 of the file" || bad "signature $hash"
# marblerun prints these lines on stdout (cmd.Println with SetOut(os.Stdout))
out=$(cli manifest set "$M" "$A_CLIENT" -i 2>/dev/null) && [ "$out" = "Warning: skipping quote verification
Successfully verified Coordinator, now uploading manifest
Manifest signature: $hash
Manifest successfully set" ] && ok "manifest set: marblerun's stdout" || bad "manifest set: $out"
out=$(cli status -i "$A_CLIENT" 2>/dev/null) && [ "${out%%:*}" = 3 ] && ok "status after set: $out" || bad "status: $out"
# `cairn status` reads the state and the replicas from one answer: exactly one
# GET /api/v2/status per run, counted by the client listener's own metric.
status_gets() {
  curl -s "http://$A_METRICS/metrics" |
    sed -n 's/^server_client_api_http_request_total{path="\/api\/v2\/status",code="200",method="get"} \([0-9]*\)$/\1/p'
}
n0=$(status_gets)
cli status -i "$A_CLIENT" >/dev/null 2>&1
n1=$(status_gets)
[ -n "$n0" ] && [ -n "$n1" ] && [ $((n1 - n0)) -eq 1 ] && ok "status: one GET /api/v2/status per run ($n0 -> $n1)" \
  || bad "status: GET /api/v2/status counted ${n0:-none} -> ${n1:-none} (expected one more)"
cli manifest get "$A_CLIENT" -i -o "$WORK/got.json" >/dev/null 2>&1 && cmp -s "$WORK/got.json" "$M" \
  && ok "manifest get returns the exact bytes" || bad "manifest get"
cli manifest get "$A_CLIENT" -i >"$WORK/get.out" 2>/dev/null && [ "$(head -2 "$WORK/get.out")" = "Warning: skipping quote verification
Successfully verified Coordinator, now requesting manifest" ] && cmp -s <(tail -n +3 "$WORK/get.out") <(cat "$M"; echo) \
  && ok "manifest get: marblerun's two lines, the manifest and a newline on stdout" || bad "manifest get: $(head -c 300 "$WORK/get.out")"
# -s: {"ManifestSignature": <hex>, "Manifest": <manifest>} in marblerun's layout
cli manifest get "$A_CLIENT" -i -s -o "$WORK/sig.json" >/dev/null 2>&1 \
  && [ "$(jq -r '.ManifestSignature' "$WORK/sig.json")" = "$hash" ] && [ "$(jq -r 'keys|join(",")' "$WORK/sig.json")" = "Manifest,ManifestSignature" ] \
  && [ "$(jq -cS .Manifest "$WORK/sig.json")" = "$(jq -cS . "$M")" ] && [ "$(head -2 "$WORK/sig.json")" = "{
\"ManifestSignature\": \"$hash\"," ] && ok "manifest get -s: marblerun's keys and layout" || bad "manifest get -s: $(head -c 300 "$WORK/sig.json")"
out=$(cli manifest verify "$M" "$A_CLIENT" -i 2>"$WORK/err") && [ "$out" = "Warning: skipping quote verification
OK" ] && grep -q "runs manifest $hash" "$WORK/err" && ok "manifest verify (file): OK on stdout, the detail on stderr" \
  || bad "manifest verify: $out"
cli manifest verify "$hash" "$A_CLIENT" -i >/dev/null 2>&1 && ok "manifest verify (hash)" || bad "manifest verify hash"
out=$(cli manifest log "$A_CLIENT" -i 2>/dev/null)
[ "$(sed -n 1,2p <<<"$out")" = "Successfully verified Coordinator, now requesting update log
Update log:" ] && sed -n 3p <<<"$out" | jq -e '.msg == "Initial manifest set" or .update == "Initial manifest set" or (tostring|test("Initial manifest set"))' >/dev/null 2>&1 \
  && ok "manifest log: marblerun's lines" || bad "manifest log: $out"
cli manifest log "$A_CLIENT" -i -o "$WORK/log.txt" >/dev/null 2>&1 && [ "$(tail -c1 "$WORK/log.txt" | od -An -c | tr -d ' ')" != '\n' ] \
  && grep -q "Initial manifest set" "$WORK/log.txt" && ok "manifest log -o: the entries, no final newline (marblerun)" || bad "manifest log -o"
for c in root:Root\ certificate intermediate:Intermediate\ certificate chain:Certificate\ chain; do
  out=$(cli certificate "${c%%:*}" "$A_CLIENT" -i -o "$WORK/${c%%:*}.pem" 2>/dev/null) && openssl x509 -in "$WORK/${c%%:*}.pem" -noout 2>/dev/null \
    && [ "$(tail -1 <<<"$out")" = "${c#*:} written to $WORK/${c%%:*}.pem" ] && ok "certificate ${c%%:*}: $(tail -1 <<<"$out")" || bad "certificate $c: $out"
done
[ "$(grep -c BEGIN "$WORK/chain.pem")" = 2 ] && cmp -s <(tail -n +$(($(wc -l <"$WORK/intermediate.pem") + 1)) "$WORK/chain.pem") "$WORK/root.pem" \
  && ok "chain = intermediate + root" || bad "chain order"
[ "$(openssl x509 -in "$WORK/root.pem" -noout -subject)" = "subject=CN = MarbleRun Coordinator" ] \
  && ok "root subject" || bad "root subject"
cache="$WORK/xdg/cairn/coordinators/127.0.0.1_${A_CLIENT##*:}.pem"
[ -f "$cache" ] && [ "$(stat -c %a "$cache")" = 600 ] && ok "root cache written (0600)" || bad "root cache"
# YAML manifests are converted like MarbleRun's CLI does.
printf 'Packages:\n  p:\n    Debug: true\n    UniqueID: "00"\nMarbles:\n  m:\n    Package: p\n' >"$WORK/m.yaml"
cli manifest signature "$WORK/m.yaml" | grep -Eq '^[0-9a-f]{64}$' && ok "YAML manifest hashed" || bad "YAML"
cli version | grep -q "cairn CLI version" && ok "version" || bad "version"
cli --help | grep -q "package-info" && ok "--help lists commands" || bad "--help"
for c in status "manifest set" "manifest get" "manifest verify" "manifest signature" "manifest log" \
  "certificate root" "certificate intermediate" "certificate chain" package-info version; do
  # shellcheck disable=SC2086
  cli $c --help | grep -q "^usage: cairn $c" && ok "$c --help" || bad "$c --help"
done

# --- --nonce ----------------------------------------------------------------
# In simulation the quote is null; what is observable: the Coordinator parses
# the nonce we send (a malformed one is a 400) and answers.
out=$(cli status "$A_CLIENT" -i --nonce "fresh-$RANDOM" 2>/dev/null) && ok "--nonce accepted by the Coordinator: $out" \
  || bad "--nonce"
code=$(curl -sk -o /dev/null -w '%{http_code}' "https://$A_CLIENT/api/v2/quote?nonce=@@@")
[ "$code" = 400 ] && ok "a malformed nonce is a 400 (so ours was parsed)" || bad "bad nonce gave $code"
expect_error "empty --nonce" "nonce.*empty" cli status "$A_CLIENT" -i --nonce ""
expect_error "oversized --nonce" "nonce" cli status "$A_CLIENT" -i --nonce "$(head -c 600 /dev/zero | tr '\0' x)"

cli status "$A_CLIENT" -i --save-sgx-quote "$WORK/q.bin" >/dev/null 2>"$WORK/err" && [ ! -e "$WORK/q.bin" ] \
  && grep -q "no quote (simulation); nothing saved" "$WORK/err" && ok "--save-sgx-quote without a quote: warning" \
  || bad "--save-sgx-quote in simulation: $(cat "$WORK/err")"


# --- error paths: one line, non-zero, names the cause -------------------------
expect_error "no policy" "no Coordinator policy.*--insecure" cli manifest get "$B_CLIENT"
echo '{"SignerID":' >"$WORK/bad-policy.json"
expect_error "bad policy JSON" "coordinator policy: invalid JSON" cli status "$A_CLIENT" --coordinator-policy "$WORK/bad-policy.json"
expect_error "missing policy file" "does not exist" cli status "$A_CLIENT" --coordinator-policy "$WORK/nope.json"
printf '{"UniqueID":"%064d","Debug":false}' 0 >"$WORK/policy.json"
expect_error "policy vs simulated Coordinator" "no quote.*simulation" cli status "$A_CLIENT" --coordinator-policy "$WORK/policy.json"
expect_error "unreachable" "cannot reach 127.0.0.1:1.*running" cli status 127.0.0.1:1 -i
expect_error "TLS failure (plain HTTP port)" "TLS with 127.0.0.1:[0-9]+ failed" cli --coordinator-cert "$WORK/c3.pem" status "$A_METRICS" -i
expect_error "the mesh port: recognised and named" \
  "HTTP 405: .*this is the Coordinator's mesh API .*client API \(default port 4433\); give the Coordinator's client API address" \
  cli --coordinator-cert "$WORK/c4.pem" status "$A_MESH" -i
expect_error "invalid address" "invalid Coordinator address" cli status "http://x" -i
expect_error "manifest set twice: says a manifest is set and what to do (was HTTP 500: server is not in expected state)" \
  "setting manifest: .*HTTP 409: .*a manifest is already set \(state 3.*cairn manifest update apply.*fresh seal directory" cli manifest set "$M" "$A_CLIENT" -i
echo '{"Packages":{}}' >"$WORK/empty.json"
expect_error "invalid manifest: a 400, not a 5xx" "HTTP 400: .*no allowed packages" cli manifest set "$WORK/empty.json" "$B_CLIENT" \
  --coordinator-cert "$WORK/b-cache.pem" -i
expect_error "manifest mismatch" "manifest mismatch" cli manifest verify "$(printf '%064d' 1)" "$A_CLIENT" -i
expect_error "manifest get without a manifest" "no manifest|HTTP" cli manifest get "$B_CLIENT" --coordinator-cert "$WORK/b-cache.pem" -i
expect_error "missing manifest file" "does not exist" cli manifest set "$WORK/none.json" "$A_CLIENT" -i
printf 'a: [b\n' >"$WORK/broken.yaml"
expect_error "unparsable manifest" "neither JSON.*nor YAML" cli manifest signature "$WORK/broken.yaml"
expect_error "unknown command" "unknown command \"frobnicate\"" cli frobnicate
expect_error "unknown subcommand" "unknown command \"frob\" for \"cairn manifest\"" cli manifest frob
expect_error "group without subcommand" "needs a command" cli certificate
expect_error "unknown flag" "unknown flag \"--bogus\"" cli status --bogus "$A_CLIENT"
expect_error "missing argument" "expects <address>" cli status
expect_error "too many arguments" "expects <manifest> <address>" cli manifest set a b c
expect_error "flag without value" "needs a value" cli certificate root "$A_CLIENT" -i -o
expect_error "package-info of a non-package" "not a signed SGX package" cli package-info "$M"
expect_error "package-info of a missing file" "does not exist" cli package-info "$WORK/none.sig"
mkdir -p "$WORK/empty-dir"
expect_error "package-info of a dir without .sig" "no .sig file" cli package-info "$WORK/empty-dir"
expect_error "output dir missing" "cannot write" cli certificate root "$A_CLIENT" -i -o "$WORK/no/such/dir/r.pem"

# --- a marble posing as the client API -------------------------------------------
# It serves a genuine marble certificate (which chains to the root through the
# intermediate) and replays the real, public /quote answer. The CLI verifies
# the quote, then must refuse the marble's TLS key for the pinned requests.
cli manifest set "$M" "$B_CLIENT" -i --coordinator-cert "$WORK/b2.pem" >/dev/null 2>&1 || true
mkdir -p "$WORK/m"
# (the manifest's Argv replaces the arguments, so the program is a script)
printf '#!/bin/sh\nprintf %%s "$MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN" >chain.pem\nprintf %%s "$MARBLE_PREDEFINED_PRIVATE_KEY" >key.pem\n' \
  >"$WORK/m/grab.sh"
chmod +x "$WORK/m/grab.sh"
(cd "$WORK/m" && env EDG_MARBLE_TYPE=web EDG_MARBLE_COORDINATOR_ADDR="$A_MESH" CAIRN_EVIDENCE=sim \
  "$BIN/cairn-premain" -- "$WORK/m/grab.sh") 2>/dev/null
curl -sk "https://$A_CLIENT/api/v2/quote" | jq -c . >"$WORK/m/quote.json" 2>/dev/null
rc=0
start_nginx "$WORK/m/ng" "ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate $WORK/m/chain.pem; ssl_certificate_key $WORK/m/key.pem;
    location = /api/v2/quote { alias $WORK/m/quote.json; }
    location = /api/v2/status { return 200 '{\"status\":\"success\",\"data\":{\"code\":3,\"message\":\"forged\"}}'; }" || rc=$?
if [ $rc = 77 ] || ! command -v jq >/dev/null; then
  echo "skip: nginx or jq missing (marble-as-client-API check)"
elif [ $rc != 0 ] || [ ! -s "$WORK/m/chain.pem" ]; then
  bad "cannot set up the marble impostor"
else
  expect_error "a marble posing as the client API" "TLS.*(public key|pinned)" cli status "localhost:$NGINX_PORT" -i
fi

# --- policy overrides -------------------------------------
expect_error "--accepted-tcb-statuses still needs a quote" "no quote" cli status "$A_CLIENT" \
  --coordinator-policy "$WORK/policy.json" --accepted-tcb-statuses OutOfDate,SWHardeningNeeded
# shell completion: test_cli_completion.sh (generated from the command table)
finish
