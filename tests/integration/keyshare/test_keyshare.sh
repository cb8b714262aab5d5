#!/usr/bin/env bash
# Key API (docs/high-availability.md "Sharing the data key"): real Coordinator
# processes in simulation on 127.0.0.1. A replica whose seal does not open the
# state obtains the data key from a running replica (--join); a modified build,
# a wrong binding, replayed evidence and peers without TLS or without a client
# certificate get nothing; with no holder the newcomer enters recovery.
. "$(dirname "$0")/../coordinator/lib.sh"
KST=${CAIRN_TEST_BIN_DIR:-$CAIRN_BIN_DIR/../tests}/ks_tool
[ -x "$KST" ] || { echo "SKIP: $KST not built"; exit 77; }

write_manifest "$WORK/m.json"
FP=$(sha256sum "$WORK/m.json" | cut -d' ' -f1)
status_code() { curl -sk "https://$CLIENT/api/v2/status" | jq -r .data.code; }
root_of() { curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert; }
# newcomer NAME FROM: a replica that shares FROM's sealed_data but not its seal key
newcomer_dir() { mkdir -p "$WORK/$1/seal"; cp "$WORK/$2/seal/sealed_data" "$WORK/$1/seal/"; }

# --- the holder: state 3, key API on
start_coord a --key-api-addr 127.0.0.1:0
A_PID=$PID A_CLIENT=$CLIENT
KA=$(jq -r .keyapi "$WORK/a/ready.json")
set_manifest_file "$WORK/m.json"
check "holder: manifest set" eq "$CODE" "200"
activate web
check "holder: one activation (counter 1 of 2)" eq "$CODE" "200"
A_ROOT=$(root_of)
check "holder logs the simulation key API loudly" grep -q "warn.*SIMULATION: the key API" "$WORK/a/log"

# --- 1. a genuine newcomer (the same build) gets the key
newcomer_dir b a
start_coord b --join "$KA"
check "newcomer: ready file names the holder" eq "$(jq -r .key_from "$WORK/b/ready.json")" "$KA"
check "newcomer: state 3 without recovery" eq "$(status_code)" "3"
check "newcomer: same root certificate" eq "$(root_of)" "$A_ROOT"
req GET /api/v2/manifest
check "newcomer: same manifest" eq "$(jqv .data.manifestFingerprint)" "$FP"
activate web
check "newcomer: activation 2 of 2 (the shared counter came along)" eq "$CODE" "200"
KID=$(grep -o 'got the data key (id [0-9a-f]*' "$WORK/b/log" | grep -o '[0-9a-f]*$')
check "holder logged the same key id it gave" grep -q "gave the data key (id $KID)" "$WORK/a/log"
check "newcomer warns that sim evidence proves nothing" grep -q "warn.*SIMULATION: asking for the data key" "$WORK/b/log"
check "newcomer: the key never appears in a log" bash -c "! grep -qi '\"key\"' '$WORK/a/log' '$WORK/b/log'"
for _ in $(seq 1 100); do grep -q "now sealed with this machine's seal" "$WORK/b/log" && break; sleep 0.05; done
check "newcomer seals the state with its own seal after it is ready" \
  bash -c "grep -n 'ready in' '$WORK/b/log' | head -1 | cut -d: -f1 | { read r; s=\$(grep -n 'now sealed with this machine' '$WORK/b/log' | cut -d: -f1); [ -n \"\$s\" ] && [ \"\$s\" -gt \"\$r\" ]; }"
stop_coord
# sealed with its own seal now: a restart needs no peer
start_coord b
check "newcomer restarted without --join: still state 3 (resealed locally)" eq "$(status_code)" "3"
stop_coord

# the requester tool, genuine: same key id
out=$("$KST" "$KA" "$BIN" || true)
check "ks_tool (genuine identity) gets the key" eq "$out" "OK $KID"

# --- 2. another identity: a modified Coordinator build
cp "$BIN" "$WORK/cairn-coordinator-modified"
printf 'not the same build' >>"$WORK/cairn-coordinator-modified"
newcomer_dir c a
BIN_SAVE=$BIN
BIN="$WORK/cairn-coordinator-modified"
start_coord c --join "$KA"
BIN=$BIN_SAVE
check "modified build: refused, enters recovery (state 1)" eq "$(status_code)" "1"
check "holder names the identity mismatch" grep -q "refused the data key.*simIdentity mismatch" "$WORK/a/log"
check "modified build logs why it has no key" grep -q "no replica gave the data key" "$WORK/c/log"
stop_coord
out=$("$KST" "$KA" "$BIN" --claim "$WORK/cairn-coordinator-modified" || true)
check "ks_tool claiming another build's identity: refused" contains "$out" "REFUSED"
check "  ... for the identity" contains "$out" "simIdentity mismatch"

# --- 3. a wrong report-data binding
out=$("$KST" "$KA" "$BIN" --wrong-binding || true)
check "wrong binding: refused" contains "$out" "REFUSED"
check "  ... for the report data" contains "$out" "report data"

# --- 4. replayed evidence: same certificate and key, new connection
out=$("$KST" "$KA" "$BIN" --replay || true)
check "replay: the original exchange succeeds" contains "$out" "FIRST OK $KID"
check "replay: the replayed request is refused" contains "$out" "REFUSED"
check "  ... for the report data (other connection)" contains "$out" "report data"

# --- 5. peers without TLS or without a client certificate
code=0; curl -s -m 5 -o /dev/null "http://$KA/keyshare/v1/hello" || code=$?
check "plain HTTP peer: no answer (curl exit $code)" test "$code" -ne 0
code=0; curl -sk -m 5 -o /dev/null "https://$KA/keyshare/v1/hello" || code=$?
check "TLS peer without a client certificate: handshake refused (curl exit $code)" test "$code" -ne 0
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x -days 1 \
  -keyout "$WORK/x.key" -out "$WORK/x.crt" 2>/dev/null
out=$(curl -sk -m 5 --cert "$WORK/x.crt" --key "$WORK/x.key" "https://$KA/keyshare/v1/hello")
check "mTLS peer may say hello" eq "$(printf '%s' "$out" | jq -r .holdsKey)" "true"
out=$(curl -sk -m 5 --cert "$WORK/x.crt" --key "$WORK/x.key" -H 'Content-Type: application/json' \
  -d '{"evidence":{"type":"sim","quote":"'"$(head -c 64 /dev/zero | base64 -w0)"'"}}' -w ' %{http_code}' \
  "https://$KA/keyshare/v1/key")
check "mTLS peer with made-up evidence: 403, no key" contains "$out" " 403"
check "  ... and the body carries no key" bash -c "! printf '%s' '$out' | grep -q '\"key\"'"

# --- 6. no replica holds the key -> recovery, bounded
stop_one() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
newcomer_dir r a
start_coord r --key-api-addr 127.0.0.1:0    # no --join: its seal does not open the state -> recovery
R_PID=$PID
KR=$(jq -r .keyapi "$WORK/r/ready.json")
check "a replica in recovery serves hello with holdsKey=false" \
  eq "$(curl -sk --cert "$WORK/x.crt" --key "$WORK/x.key" "https://$KR/keyshare/v1/hello" | jq -r .holdsKey)" "false"
stop_one "$A_PID"   # the only holder is gone
newcomer_dir d a
DEAD=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_coord d --join "$KR,$DEAD"
check "no holder: the newcomer enters recovery (state 1)" eq "$(status_code)" "1"
check "  ... after asking both peers" grep -q "no data key from $DEAD" "$WORK/d/log"
check "  ... the recovery replica said it holds none" grep -q "no data key from $KR: .*holds no data key" "$WORK/d/log"
# the search is bounded: first question to giving up, from the log's own timestamps
# (the RSA-4096 recovery key generated afterwards is not part of it)
MS=$(python3 - "$WORK/d/log" <<'PY'
import sys, datetime
t = lambda l: datetime.datetime.strptime(l.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
lines = open(sys.argv[1]).read().splitlines()
a = next(l for l in lines if "key API: asking" in l)
b = next(l for l in lines if "no replica gave the data key" in l)
print(int((t(b) - t(a)).total_seconds() * 1000))
PY
)
echo "no holder: gave up after $MS ms (3 rounds over 2 peers, 200+400 ms backoff)"
check "  ... within 5 s" test "$MS" -lt 5000
stop_coord
stop_one "$R_PID"
check "no sanitizer report in the Coordinator logs" \
  bash -c "! grep -l -E 'AddressSanitizer|LeakSanitizer|runtime error:' '$WORK'/*/log '$WORK'/premain-*.err 2>/dev/null | grep -q ."
finish
