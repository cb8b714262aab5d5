#!/usr/bin/env bash
# The metrics listener (docs/coordinator.md "Metrics"): valid Prometheus
# exposition checked by promtool (Debian's prometheus package) with only the
# documented lint exceptions (names kept from MarbleRun), no series twice
# (GET and POST on one path), coordinator_version_info with the commit;
# /healthz and /readyz over plain HTTP; the "ready" log line names the address.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../coordinator/lib.sh"
CODE= BODY=

start_coord a
check "the ready line names the metrics address" \
  grep -q ": ready in [0-9.]* ms: .*, metrics http://$METRICS/metrics" "$WORK/a/log"
for p in /healthz /readyz; do
  CODE=$(curl -s -o "$WORK/body" -w '%{http_code}' "http://$METRICS$p" || true)
  BODY=$(cat "$WORK/body")
  check "metrics listener GET $p: 200" eq "$CODE" 200
done
check "/readyz names the state" eq "$(jqv .state)" 2
check "/readyz says ready" eq "$(jqv .status)" ready

# traffic on every kind of series: GET and POST on one path, an unknown path,
# activations that succeed and that are refused
write_manifest "$WORK/m.json"
req GET /api/v2/manifest
set_manifest_file "$WORK/m.json"
check "manifest set" eq "$CODE" 200
req GET /api/v2/manifest
req POST /api/v2/manifest -d '{}'
req GET /no/such/path
activate web --uuid 3f2504e0-4f89-41d3-9a0c-0305e82c3301
check "activation" eq "$CODE" 200
activate nope --uuid 3f2504e0-4f89-41d3-9a0c-0305e82c3302
check "refused activation" eq "$CODE" 403
curl -s "http://$METRICS/metrics" >"$WORK/metrics.txt"
check "GET /metrics" grep -q '^coordinator_state 3$' "$WORK/metrics.txt"

# no series (name and label set) twice
dups=$(grep -v '^#' "$WORK/metrics.txt" | sed 's/ [^ ]*$//' | sort | uniq -d)
check "no duplicate series ($(head -c 200 <<<"$dups"))" test -z "$dups"
check "GET and POST on /api/v2/manifest: one in-flight series" \
  eq "$(grep -c '^server_client_api_http_in_flight_requests{path="/api/v2/manifest"}' "$WORK/metrics.txt")" 1
check "... and request counts for both methods" \
  eq "$(grep -o '^server_client_api_http_request_total{path="/api/v2/manifest",code="[0-9]*",method="[a-z]*"}' "$WORK/metrics.txt" | sed 's/.*method="\([a-z]*\)".*/\1/' | sort -u | tr -d '\n')" getpost

# promtool: the exposition parses; the only lint findings are the names
# MarbleRun uses (docs/coordinator.md lists them), which are kept
if command -v promtool >/dev/null; then
  rc=0
  promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1 || rc=$?
  allowed='^server_(client|mesh)_api_http_(request_duration_histogram_seconds|response_size_histogram_bytes) metric name should not include type .histogram.$'
  other=$(grep -Ev "$allowed" "$WORK/promtool.out" || true)
  check "promtool check metrics: parses (exit $rc: 0 clean, 3 lint findings)" test "$rc" = 0 -o "$rc" = 3
  check "promtool: no finding but the documented exceptions ($other)" test -z "$other"
  check "promtool: the exceptions are the four inherited names" \
    eq "$(grep -cE "$allowed" "$WORK/promtool.out")" 4
else
  echo "FAIL - promtool not installed (scripts/install-deps.sh installs prometheus)"; FAILS=$((FAILS+1))
fi

# coordinator_version_info carries the commit the binary was configured from
ver=$(sed -n 's/^coordinator_version_info{version="\([^"]*\)",commit="\([^"]*\)"} 1$/\1 \2/p' "$WORK/metrics.txt")
commit=${ver#* }
check "coordinator_version_info has a commit ($ver)" test -n "$commit"
check "... the same as --version" contains "$("$BIN" --version)" "(commit $commit)"
if [ -n "${CAIRN_SOURCE_DIR:-}" ] && git -C "$CAIRN_SOURCE_DIR" rev-parse --show-toplevel >/dev/null 2>&1; then
  check "... the checkout's HEAD" eq "$commit" "$(git -C "$CAIRN_SOURCE_DIR" rev-parse --short=12 HEAD)"
fi
stop_coord

# without a metrics listener the ready line says so
rm -rf "$WORK/b"; mkdir -p "$WORK/b"
"$BIN" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/b/seal" \
  --ready-file "$WORK/b/ready.json" --threads 1 >"$WORK/b/log" 2>&1 &
PID=$!; PIDS+=("$PID")
for _ in $(seq 1 200); do [ -s "$WORK/b/ready.json" ] && break; sleep 0.05; done
check "no metrics listener: the ready line says metrics off" grep -q ": ready in [0-9.]* ms: .*, metrics off" "$WORK/b/log"
stop_coord
finish
