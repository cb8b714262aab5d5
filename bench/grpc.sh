#!/usr/bin/env bash
# gRPC vs JSON activation on one Coordinator, one command:
#   bench/grpc.sh [BUILD_DIR]      BENCH_SECONDS (5), BENCH_CONC (16), BENCH_ROUNDS (5)
# Alternating rounds of loadgen `activate` (JSON, HTTP/1.1) and `activate-grpc`
# (MarbleRun's rpc.Marble/Activate, protobuf over HTTP/2), same marble
# identities (CSR, sim evidence), each request a new mTLS connection; server
# CPU per activation from /proc (all threads). Prints the medians and the
# gRPC/JSON ratio (issue 13 target: gRPC at most 10 % more server CPU).
# 127.0.0.1 only, temp dirs, every process stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SECS=${BENCH_SECONDS:-5}
CONC=${BENCH_CONC:-16}
ROUNDS=${BENCH_ROUNDS:-5}
CORES=$(nproc)
cmake --build "$BUILD" --target cairn-coordinator loadgen -j"$CORES" >/dev/null
COORD=$BUILD/bin/cairn-coordinator
LG=$BUILD/bench/loadgen
W=$(mktemp -d /tmp/cairn-bench-grpc.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  rm -rf "$W"
}
trap cleanup EXIT
cat >"$W/manifest.json" <<'JSON'
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"bench": {"Package": "pkg",
    "Parameters": {"Files": {"/secret/key": "{{ hex .Secrets.k }}", "/tls/cert.pem": "{{ pem .MarbleRun.MarbleCert.Cert }}"},
                   "Env": {"K": "{{ base64 .Secrets.k }}"}, "Argv": ["bench"]}}},
  "Secrets": {"k": {"Type": "symmetric-key", "Size": 256}}
}
JSON
"$COORD" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir "$W/seal" \
  --ready-file "$W/ready.json" --leaf-key-pool 64 --threads "$CORES" >"$W/log" 2>&1 &
PID=$!
for _ in $(seq 1 400); do [ -s "$W/ready.json" ] && break; sleep 0.01; done
CLIENT=$(jq -r .client "$W/ready.json"); MESH=$(jq -r .mesh "$W/ready.json")
curl -sk -o /dev/null -X POST "https://$CLIENT/api/v2/manifest" \
  -d "{\"manifest\":\"$(base64 -w0 "$W/manifest.json")\"}"
"$LG" activate "$MESH" bench -c 4 -t 1 -i 8 >/dev/null        # warm-up, both wires
"$LG" activate-grpc "$MESH" bench -c 4 -t 1 -i 8 >/dev/null
J=(); G=()
for r in $(seq 1 "$ROUNDS"); do
  RJ=$("$LG" activate "$MESH" bench -c "$CONC" -t "$SECS" -i 64 -p "$PID")
  RG=$("$LG" activate-grpc "$MESH" bench -c "$CONC" -t "$SECS" -i 64 -p "$PID")
  echo "round $r json: $RJ"
  echo "round $r grpc: $RG"
  J+=("$RJ"); G+=("$RG")
done
med() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { local f=$1; shift; for R in "$@"; do echo "$R" | jq -r ".$f"; done | med; }
errs() { for R in "$@"; do echo "$R" | jq -r .errors; done | awk '{s+=$1} END {print s+0}'; }
JC=$(field server_cpu_us_per_req "${J[@]}"); GC=$(field server_cpu_us_per_req "${G[@]}")
echo "== load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %s us (rate %s/s, p50 %s ms, errors %s)\n' "JSON activation, server CPU (median)" "$JC" \
  "$(field rate "${J[@]}")" "$(field p50_ms "${J[@]}")" "$(errs "${J[@]}")"
printf '%-44s %s us (rate %s/s, p50 %s ms, errors %s)\n' "gRPC activation, server CPU (median)" "$GC" \
  "$(field rate "${G[@]}")" "$(field p50_ms "${G[@]}")" "$(errs "${G[@]}")"
printf '%-44s %s (per round: %s)\n' "gRPC / JSON server CPU (target <= 1.10)" \
  "$(awk -v g="$GC" -v j="$JC" 'BEGIN{printf "%.3f", g/j}')" \
  "$(for i in "${!J[@]}"; do awk -v g="$(echo "${G[$i]}" | jq .server_cpu_us_per_req)" \
      -v j="$(echo "${J[$i]}" | jq .server_cpu_us_per_req)" 'BEGIN{printf "%.3f\n", g/j}'; done | paste -sd' ')"
