#!/usr/bin/env bash
# Issue 12 §4: a Coordinator stopped (SIGTERM) while TLS connections have
# requests and replies in flight frees every connection. Under the ASan build
# (scripts/test-sanitizers.sh) LeakSanitizer makes the process exit non-zero
# when one connection's objects (bufferevent, SSL, buffers) are left behind,
# which happened in 2 of 3 such stops before; so the stop is repeated. Under a
# normal build the test checks a clean exit only.
source "$(dirname "$0")/../coordinator/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)
syms=$(nm -D "$BIN" 2>/dev/null || true)
if [[ $syms == *__asan_init* ]]; then
  echo "ASan build: LeakSanitizer checks every exit"
else
  echo "not an ASan build: checks a clean exit only (run scripts/test-sanitizers.sh for the leak check)"
fi
ROUNDS=${SHUTDOWN_ROUNDS:-4}
for i in $(seq 1 "$ROUNDS"); do
  start_coord "stop$i"
  python3 "$HERE/flood.py" load --addr "$CLIENT" --threads 24 --duration 8 --progress "$WORK/progress$i" \
    >"$WORK/load$i.log" 2>&1 &
  LP=$!
  PIDS+=("$LP")
  # stop once the load runs (connections open, requests and replies in flight)
  for _ in $(seq 1 100); do
    [ "$(cat "$WORK/progress$i" 2>/dev/null || echo 0)" -ge 200 ] && break
    sleep 0.05
  done
  kill -TERM "$PID"
  set +e
  wait "$PID"
  rc=$?
  set -e
  kill "$LP" 2>/dev/null || true
  wait "$LP" 2>/dev/null || true
  CODE=$rc
  BODY=$(grep -E "LeakSanitizer|ERROR: AddressSanitizer|SUMMARY" "$WORK/stop$i/log" || true)
  check "round $i: stopped after $(cat "$WORK/progress$i" 2>/dev/null || echo 0) responses under load, exit code 0, no sanitizer report" \
    eq "$rc:$BODY" "0:"
done
finish
