#!/usr/bin/env bash
# Server CPU per activation, optionally under `perf record`, for A/B work on
# the activation hot path:
#
#   bench/profile.sh BUILD_DIR [SECONDS (4)] [ROUNDS (3)] [perf]
#
# Starts one simulated Coordinator of BUILD_DIR (127.0.0.1, ephemeral ports,
# temp seal dir, the manifest of bench/run.sh, key pool 64), warms it up, then
# runs ROUNDS loadgen rounds of 32 concurrent marbles and prints one line per
# round: rate, server CPU us per activation, mean and p99 latency. With
# `perf`, the first round runs under `perf record --call-graph dwarf` and the
# data is left in BUILD_DIR/perf.data (`perf report -i BUILD_DIR/perf.data
# --children --sort symbol`); perf attached adds a few % of CPU to that round.
# A/B: run it alternately on two build directories and compare the CPU
# columns (the machine is shared: alternate, repeat, report ranges).
# BENCH_WIRE=grpc profiles MarbleRun's gRPC activation (loadgen activate-grpc)
# instead of the JSON one.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:?usage: bench/profile.sh BUILD_DIR [SECONDS] [ROUNDS] [perf]}
SECS=${2:-4}
ROUNDS=${3:-3}
MODE=${4:-}
COORD=$BUILD/bin/cairn-coordinator
LG=$BUILD/bench/loadgen
[ -x "$COORD" ] && [ -x "$LG" ] || { echo "profile: $COORD or $LG missing"; exit 1; }
W=$(mktemp -d /tmp/cairn-profile.XXXXXX)
PID=
PERF_PID=
cleanup() {
  [ -n "$PERF_PID" ] && { kill -INT "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; }
  [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  rm -rf "$W"
}
trap cleanup EXIT
# the same manifest as bench/run.sh (one private secret, two templated files)
sed -n '/^cat >"\$W\/manifest.json"/,/^JSON/p' bench/run.sh | sed '1d;$d' >"$W/manifest.json"
"$COORD" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
  --seal-dir "$W/seal" --ready-file "$W/ready.json" --leaf-key-pool 64 --threads "$(nproc)" >>"$W/log" 2>&1 &
PID=$!
for _ in $(seq 1 400); do [ -s "$W/ready.json" ] && break; sleep 0.01; done
[ -s "$W/ready.json" ] || { echo "profile: Coordinator not ready"; cat "$W/log"; exit 1; }
CLIENT=$(jq -r .client "$W/ready.json")
MESH=$(jq -r .mesh "$W/ready.json")
curl -sk -H 'Content-Type: application/json' "https://$CLIENT/api/v2/manifest" -d "{\"manifest\":\"$(base64 -w0 "$W/manifest.json")\"}" |
  jq -e '.status == "success"' >/dev/null
"$LG" activate "$MESH" bench -c 4 -t 1 -i 8 >/dev/null   # warm-up
for r in $(seq 1 "$ROUNDS"); do
  if [ "$MODE" = perf ] && [ "$r" = 1 ]; then
    perf record --call-graph dwarf,16384 -F 500 -p "$PID" -o "$BUILD/perf.data" -- sleep "$SECS" >/dev/null 2>&1 &
    PERF_PID=$!
  fi
  "$LG" "$([ "${BENCH_WIRE:-json}" = grpc ] && echo activate-grpc || echo activate)" "$MESH" bench -c 32 \
    -t "$SECS" -i 64 -p "$PID" |
    jq -c --arg b "$BUILD" --argjson r "$r" '{build: $b, round: $r, wire: "'"${BENCH_WIRE:-json}"'", rate, server_cpu_us: .server_cpu_us_per_req, mean_ms, p99_ms}'
  if [ -n "$PERF_PID" ]; then
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=
  fi
done
