#!/usr/bin/env bash
# bench/failover.sh BUILD_DIR [RUNS]: failover and join figures for
# docs/benchmarks.md ("Failover"), on 127.0.0.1 in simulation.
#  1. failover: replicas A (key API) and B (joined A with --join); a client
#     activates in a loop over "A,B" (bench/failover_bench.c, libcairn's
#     failover); A is killed with SIGKILL; the figure is the time from the
#     kill to the next successful activation (on B).
#     With etcd installed (FAILOVER_ETCD=1, the default) the same on a
#     one-member etcd: A and B share the replicated state.
#  2. join: a new replica's time from receiving the data key to ready
#     (ready file: ready_ms - key_ms), with the test manifest and with a
#     1,000-marble manifest.
# Only processes started here are stopped, by PID.
set -euo pipefail
BUILD=$(cd "${1:?usage: $0 BUILD_DIR [RUNS]}" && pwd)
RUNS=${2:-5}
BIN=$BUILD/bin/cairn-coordinator
TOOL=$BUILD/bench/failover_bench
W=$(mktemp -d /tmp/cairn-failover.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT

start() {   # start NAME [flags]: sets PID, reads $W/NAME.json
  local n=$1; shift
  "$BIN" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir "$W/$n" \
    --ready-file "$W/$n.json" --threads 1 --leaf-key-pool 16 "$@" >"$W/$n.log" 2>&1 &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 1 1200); do [ -s "$W/$n.json" ] && return 0; sleep 0.05; done
  echo "$n did not start"; cat "$W/$n.log"; exit 1
}
manifest() {   # manifest FILE N: N unlimited marble types named free, m1, ...
  python3 - "$1" "$2" <<'PY'
import json, sys
n = int(sys.argv[2])
m = {"Packages": {"pkg": {"Debug": True, "UniqueID": "00"}}, "Marbles": {"free": {"Package": "pkg"}}}
for i in range(1, n):
    m["Marbles"]["m%d" % i] = {"Package": "pkg", "Parameters": {"Env": {"I": str(i)}}}
json.dump(m, open(sys.argv[1], "w"))
PY
}
set_manifest() {   # set_manifest CLIENT FILE
  curl -sk -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"manifest\":\"$(base64 -w0 "$2")\"}" "https://$1/api/v2/manifest"
}

echo "# failover: kill -9 of the replica in use -> next successful activation ($RUNS runs)"
manifest "$W/m1.json" 1
for r in $(seq 1 "$RUNS"); do
  rm -rf "$W/a$r" "$W/b$r"
  start "a$r" --key-api-addr 127.0.0.1:0; APID=$PID
  [ "$(set_manifest "$(jq -r .client "$W/a$r.json")" "$W/m1.json")" = 200 ] || { echo "manifest set failed"; exit 1; }
  mkdir -p "$W/b$r" && cp "$W/a$r/sealed_data" "$W/b$r/"
  start "b$r" --join "$(jq -r .keyapi "$W/a$r.json")"; BPID=$PID
  "$TOOL" "$(jq -r .mesh "$W/a$r.json"),$(jq -r .mesh "$W/b$r.json")" 4 >"$W/run$r.txt" &
  TPID=$!; PIDS+=("$TPID")
  sleep 1.5
  KILL=$(date +%s%3N)
  kill -9 "$APID"; wait "$APID" 2>/dev/null || true
  wait "$TPID" || true
  python3 - "$W/run$r.txt" "$KILL" <<'PY'
import sys
kill = int(sys.argv[2])
oks = [int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("ok ")]
before = [t for t in oks if t <= kill]
after = [t for t in oks if t > kill]
fails = sum(1 for l in open(sys.argv[1]) if l.startswith("fail ") and int(l.split()[1]) > kill)
print("run: %d activations before the kill, first success after it: %d ms later (%d failed attempts in between)"
      % (len(before), after[0] - kill if after else -1, fails))
PY
  kill "$BPID"; wait "$BPID" 2>/dev/null || true
done

if command -v etcd >/dev/null && [ "${FAILOVER_ETCD:-1}" = 1 ]; then
  echo "# failover on etcd (one member): replicas A and B share the state; kill -9 of A -> next activation ($RUNS runs)"
  read -r EC EP < <(python3 -c 'import socket; a=socket.socket(); a.bind(("127.0.0.1",0)); b=socket.socket(); b.bind(("127.0.0.1",0)); print(a.getsockname()[1], b.getsockname()[1])')
  etcd --name e1 --data-dir "$W/etcd" --listen-client-urls "http://127.0.0.1:$EC" --advertise-client-urls "http://127.0.0.1:$EC" \
    --listen-peer-urls "http://127.0.0.1:$EP" --initial-advertise-peer-urls "http://127.0.0.1:$EP" \
    --initial-cluster "e1=http://127.0.0.1:$EP" --log-level error --logger zap >"$W/etcd.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$EC/health" | grep -q true && break; sleep 0.1; done
  for r in $(seq 1 "$RUNS"); do
    P="--store etcd://127.0.0.1:$EC --store-prefix /bench$r/"
    start "ea$r" $P --seal-dir "$W/eseal" --key-api-addr 127.0.0.1:0; APID=$PID
    start "eb$r" $P --seal-dir "$W/eseal"; BPID=$PID
    [ "$(set_manifest "$(jq -r .client "$W/ea$r.json")" "$W/m1.json")" = 200 ] || { echo "manifest set failed"; exit 1; }
    for _ in $(seq 1 50); do
      [ "$(curl -sk "https://$(jq -r .client "$W/eb$r.json")/api/v2/status" | jq -r .data.code)" = 3 ] && break; sleep 0.1
    done
    "$TOOL" "$(jq -r .mesh "$W/ea$r.json"),$(jq -r .mesh "$W/eb$r.json")" 4 >"$W/erun$r.txt" &
    TPID=$!; PIDS+=("$TPID")
    sleep 1.5
    KILL=$(date +%s%3N)
    kill -9 "$APID"; wait "$APID" 2>/dev/null || true
    wait "$TPID" || true
    python3 - "$W/erun$r.txt" "$KILL" <<'PY'
import sys
kill = int(sys.argv[2])
oks = [int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("ok ")]
after = [t for t in oks if t > kill]
fails = sum(1 for l in open(sys.argv[1]) if l.startswith("fail ") and int(l.split()[1]) > kill)
print("run (etcd): %d activations before the kill, first success after it: %d ms later (%d failed attempts in between)"
      % (len([t for t in oks if t <= kill]), after[0] - kill if after else -1, fails))
PY
    kill "$BPID"; wait "$BPID" 2>/dev/null || true
  done
fi

echo "# join: data key received -> ready"
for n in 1 1000; do
  manifest "$W/m$n.json" "$n"
  for r in $(seq 1 "$RUNS"); do
    rm -rf "$W/h$n-$r" "$W/j$n-$r"
    start "h$n-$r" --key-api-addr 127.0.0.1:0; HPID=$PID
    [ "$(set_manifest "$(jq -r .client "$W/h$n-$r.json")" "$W/m$n.json")" = 200 ] || { echo "manifest set failed"; exit 1; }
    mkdir -p "$W/j$n-$r" && cp "$W/h$n-$r/sealed_data" "$W/j$n-$r/"
    start "j$n-$r" --join "$(jq -r .keyapi "$W/h$n-$r.json")"; JPID=$PID
    jq -r --arg n "$n" '"join, \($n)-marble manifest: key at \(.key_ms) ms, ready at \(.ready_ms) ms since start: \((.ready_ms - .key_ms) * 10 | round / 10) ms from key to ready"' "$W/j$n-$r.json"
    kill "$JPID" "$HPID"; wait "$JPID" "$HPID" 2>/dev/null || true
  done
done
