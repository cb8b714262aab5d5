#!/usr/bin/env bash
# Client failover over several Coordinator replicas (docs/cli.md "Several
# Coordinator replicas", docs/high-availability.md): the CLI (libcairn) and
# cairn-premain take comma-separated addresses, move on when one cannot be
# reached, show each step on stderr / in the log, and give up within a bound.
# Replicas: A serves the key API, B obtained the data key from A (--join), so
# both present the same root and manifest.
. "$(dirname "$0")/../coordinator/lib.sh"
CLI=$CAIRN_BIN_DIR/cairn
PREMAIN=$CAIRN_BIN_DIR/cairn-premain
[ -x "$CLI" ] && [ -x "$PREMAIN" ] || { echo "SKIP: cairn or cairn-premain not built"; exit 77; }
cli() { XDG_CONFIG_HOME="$WORK/xdg" "$CLI" "$@"; }
cachef() { echo "$WORK/xdg/cairn/coordinators/127.0.0.1_${1##*:}.pem"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DEAD1=127.0.0.1:$(free_port)
DEAD2=127.0.0.1:$(free_port)
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

write_manifest "$WORK/m.json"
start_coord a --key-api-addr 127.0.0.1:0
A_PID=$PID A_CLIENT=$CLIENT A_MESH=$MESH
set_manifest_file "$WORK/m.json"
check "A: manifest set" eq "$CODE" "200"
mkdir -p "$WORK/b/seal" && cp "$WORK/a/seal/sealed_data" "$WORK/b/seal/"
start_coord b --join "$(jq -r .keyapi "$WORK/a/ready.json")"
B_PID=$PID B_CLIENT=$CLIENT B_MESH=$MESH
check "B: a replica of A (same root)" eq "$(curl -sk "https://$B_CLIENT/api/v2/quote" | jq -r .data.cert)" \
  "$(curl -sk "https://$A_CLIENT/api/v2/quote" | jq -r .data.cert)"

# --- CLI: first address dead -> the next one answers; progress on stderr
LIST="$DEAD1,$A_CLIENT,$B_CLIENT"
out=$(cli manifest verify "$WORK/m.json" "$LIST" -i 2>"$WORK/err") || true
check "manifest verify over a list whose first address is dead succeeds" eq "$(printf '%s' "$out" | tail -1)" "OK"
check "  ... stderr names the dead address and the next one" grep -q "cannot reach $DEAD1.*trying $A_CLIENT" "$WORK/err"
check "  ... and which one answered" grep -q "$A_CLIENT answered" "$WORK/err"
check "the verified root is cached under every address of the list" \
  bash -c "cmp -s '$(cachef "$A_CLIENT")' '$(cachef "$B_CLIENT")' || diff <(grep -v '^#' '$(cachef "$A_CLIENT")') <(grep -v '^#' '$(cachef "$B_CLIENT")') >/dev/null"
check "  ... one file per address (B's names B)" grep -q "^# address: $B_CLIENT\$" "$(cachef "$B_CLIENT")"
out=$(cli status "$A_CLIENT,$B_CLIENT" 2>"$WORK/err") || true
check "status over the list with the cached root (A answers)" contains "$out" "3:"
check "  ... silently when the first answers" eq "$(grep -c 'trying' "$WORK/err" || true)" "0"

# --- kill the replica the client talks to: the next call goes to B
kill -9 "$A_PID"; wait "$A_PID" 2>/dev/null || true
T0=$(date +%s%N)
out=$(cli status "$A_CLIENT,$B_CLIENT" 2>"$WORK/err") || true
MS=$(ms_since "$T0")
check "after kill -9 of A, status over the list is answered by B" contains "$out" "3:"
check "  ... stderr shows the failover" grep -q "cannot reach $A_CLIENT.*trying $B_CLIENT" "$WORK/err"
echo "CLI status with A dead: $MS ms (process start included)"
out=$(cli status "$B_CLIENT" 2>/dev/null) || true
check "B alone finds its own cache entry" contains "$out" "3:"
cli manifest get "$A_CLIENT,$B_CLIENT" -i -o "$WORK/got.json" >/dev/null 2>&1 || true
out=$(jq -r .Marbles.web.Package "$WORK/got.json" 2>/dev/null || true)
check "manifest get over the list after the failover" eq "$out" "pkg"

# --- a list mixing two deployments is refused (cached roots differ)
start_coord c
C_CLIENT=$CLIENT
set_manifest_file "$WORK/m.json"
cli manifest verify "$WORK/m.json" "$C_CLIENT" -i >/dev/null 2>&1 || true
code=0; out=$(cli status "$B_CLIENT,$C_CLIENT" 2>&1) || code=$?
check "a list of two deployments (different cached roots) is refused" test "$code" -ne 0
check "  ... saying why" contains "$out" "not replicas of one deployment"
stop_coord

# --- all dead: a clear error within the bound
T0=$(date +%s%N)
code=0; out=$(cli status "$DEAD1,$DEAD2" -i 2>&1) || code=$?
MS=$(ms_since "$T0")
check "all addresses dead: non-zero exit" test "$code" -ne 0
check "  ... one clear message naming the count and passes" contains "$out" "none of 2 Coordinator addresses answered in 3 passes"
check "  ... progress per pass" contains "$out" "pass 3 of 3"
echo "CLI with every address dead gave up after $MS ms"
check "  ... within 5 s (3 passes, 100+200 ms backoff)" test "$MS" -lt 5000

# --- cairn-premain: first mesh address dead -> activated by B
run_premain() {
  env -i PATH="$PATH" EDG_MARBLE_TYPE=free EDG_MARBLE_COORDINATOR_ADDR="$1" CAIRN_EVIDENCE=sim \
    EDG_MARBLE_UUID_FILE="$WORK/uuid-$2" CAIRN_PREMAIN_RETRIES="${3:-5}" CAIRN_PREMAIN_RETRY_DELAY_MS=100 \
    "$PREMAIN" -- /usr/bin/env >"$WORK/premain-$2.out" 2>"$WORK/premain-$2.err"
}
code=0; run_premain "$A_MESH,$B_MESH" one || code=$?
check "premain over \"dead A, B\" activates and runs the program" test "$code" -eq 0
check "  ... the program got the marble's env" grep -q "^MARBLE_PREDEFINED_ROOT_CA=" "$WORK/premain-one.out"
check "  ... the log shows the failover" grep -q "failover: cannot reach $A_MESH.*trying $B_MESH" "$WORK/premain-one.err"
T0=$(date +%s%N)
code=0; run_premain "$DEAD1,$DEAD2" two 3 || code=$?
MS=$(ms_since "$T0")
check "premain with every address dead fails (no exec)" test "$code" -ne 0
check "  ... after its retries" grep -q "failed after all retries" "$WORK/premain-two.err"
check "  ... having tried both addresses each time" test "$(grep -c "failover: cannot reach $DEAD2" "$WORK/premain-two.err")" -eq 3
echo "premain with every address dead gave up after $MS ms (3 attempts, 100+200 ms)"
check "  ... within 5 s" test "$MS" -lt 5000
check "no sanitizer report in the Coordinator logs" \
  bash -c "! grep -l -E 'AddressSanitizer|LeakSanitizer|runtime error:' '$WORK'/*/log '$WORK'/premain-*.err 2>/dev/null | grep -q ."
finish
