#!/usr/bin/env bash
# The metrics listener (docs/coordinator.md "Metrics"): /healthz and /readyz
# over plain HTTP, and the "ready" log line names its address.
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
