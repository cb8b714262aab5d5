#!/usr/bin/env bash
# Replicated state benchmark (docs/benchmarks.md, docs/high-availability.md):
#   bench/ha.sh [BUILD_DIR]
# In one run, on 127.0.0.1 with ephemeral ports and temp dirs (every process
# it starts is stopped by PID), alternating BENCH_ROUNDS (3) rounds of each:
#   file   1 Coordinator on the file store (the reference)
#   etcd1  1 replica on a 3-member etcd cluster
#   etcd3  3 replicas on the same cluster, the load spread over them
#   etcd3gw  the same with --etcd-wire gateway (reads and transactions
#          through etcd's JSON gateway instead of its native gRPC)
# Load: loadgen, BENCH_CONC (12) concurrent simulated marbles in total for
# BENCH_SECONDS (5) s, each a new mTLS handshake + activation, for two marble
# types (BENCH_TYPES): "limited" has MaxActivations, so every activation
# commits its counter (file store: the sealed state rewritten with fsync;
# etcd: one group-committed transaction per batch); "unlimited" commits
# nothing (etcd: one linearizable read per batch). The file store's seal
# directory is on the same file system as etcd's data (tmpfs when there is
# one). Reported per setup (median round): activations/s, Coordinator CPU per
# activation (all replicas, /proc/PID/stat), etcd CPU per activation (all
# members), activations per transaction, transactions retried per batch (a
# lost race), the rate ratios and the CPU-bound ratio. Then the etcd
# gateway's round trip, the time a peer's activation takes to reach another
# replica's counts (not watched: its background read, once a second), and
# state size / commit / reload time for manifests of 10 to 3,000 marbles.
set -euo pipefail
shopt -s inherit_errexit   # a failure inside $(run ...) ends the bench, not just the round
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SECS=${BENCH_SECONDS:-5}
CONC=${BENCH_CONC:-12}
ROUNDS=${BENCH_ROUNDS:-3}
HA_FLAGS=${BENCH_HA_FLAGS:-}   # extra flags for the replicas, e.g. "--threads 8"
# flags for the etcd members (the tests' fast elections by default; etcd's
# own 100/1000 ms idle at a third of the CPU, but under this load the
# difference per activation was within the noise)
ETCD_FLAGS=${BENCH_ETCD_FLAGS---heartbeat-interval 25 --election-timeout 250}
TYPES=${BENCH_TYPES:-"limited unlimited"}
COORD=$BUILD/bin/cairn-coordinator
LG=$BUILD/bench/loadgen
[ -x "$COORD" ] && [ -x "$LG" ] || { echo "bench: build $COORD and $LG first"; exit 1; }
command -v etcd >/dev/null || { echo "bench: etcd (etcd-server) not installed"; exit 1; }
if grep -q "fsanitize=address" "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "bench: WARNING: $BUILD is a sanitizer build; figures are not representative"
fi
W=$(mktemp -d /tmp/cairn-habench.XXXXXX)
ED=$(mktemp -d /dev/shm/cairn-habench.XXXXXX 2>/dev/null || mktemp -d /tmp/cairn-habench-etcd.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$W" "$ED"
}
trap cleanup EXIT
TCK=$(getconf CLK_TCK)
cpu() {
  local s=0 p
  for p in "$@"; do
    if [ ! -r "/proc/$p/stat" ]; then
      echo "bench: process $p exited during the round; the last lines of the logs:" >&2
      tail -n 8 "$W"/*/log "$W/etcd.log" >&2 || true
      exit 1
    fi
    s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$s"
}

cat >"$W/manifest.json" <<'JSON'
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"limited": {"Package": "pkg", "MaxActivations": 100000000,
    "Parameters": {"Files": {"/secret/key": "{{ hex .Secrets.k }}", "/tls/cert.pem": "{{ pem .MarbleRun.MarbleCert.Cert }}"},
                   "Env": {"K": "{{ base64 .Secrets.k }}"}, "Argv": ["bench"]}},
               "unlimited": {"Package": "pkg",
    "Parameters": {"Files": {"/secret/key": "{{ hex .Secrets.k }}", "/tls/cert.pem": "{{ pem .MarbleRun.MarbleCert.Cert }}"},
                   "Env": {"K": "{{ base64 .Secrets.k }}"}, "Argv": ["bench"]}}},
  "Secrets": {"k": {"Type": "symmetric-key", "Size": 256}}
}
JSON

free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
EPIDS=()
EP=""
etcd_up() {   # a fresh 3-member cluster for each round (new ports if a member could not start)
  local try
  for try in 1 2 3; do etcd_up_once && return 0; etcd_down; done
  echo "bench: etcd did not start three members (see $W/etcd.log)"; exit 1
}
etcd_up_once() {
  local ports cl=""; read -r -a ports <<<"$(free_ports 6)"
  EP=""; EPIDS=()
  for i in 1 2 3; do
    cl+="${cl:+,}e$i=http://127.0.0.1:${ports[$((2*i-1))]}"
    EP+="${EP:+,}127.0.0.1:${ports[$((2*i-2))]}"
  done
  rm -rf "$ED"/e1 "$ED"/e2 "$ED"/e3
  # a new etcd is a new deployment: the replicas' memory of the last one's
  # state would (rightly) refuse an etcd without it (docs/high-availability.md "Rollback")
  rm -f "$W"/seal-ha/etcd_memory_*
  for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$ED/e$i" --listen-client-urls "http://127.0.0.1:${ports[$((2*i-2))]}" \
      --advertise-client-urls "http://127.0.0.1:${ports[$((2*i-2))]}" --listen-peer-urls "http://127.0.0.1:${ports[$((2*i-1))]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${ports[$((2*i-1))]}" --initial-cluster "$cl" \
      --initial-cluster-state new --log-level error --logger zap $ETCD_FLAGS \
      >>"$W/etcd.log" 2>&1 &
    EPIDS+=($!); PIDS+=($!)
  done
  for _ in $(seq 1 300); do
    if curl -s --max-time 1 "http://${EP%%,*}/health" | grep -q '"health":"true"'; then
      sleep 0.2
      for p in "${EPIDS[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done   # a member lost its port
      return 0
    fi
    sleep 0.1
  done
  return 1
}
etcd_down() { for p in "${EPIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; EPIDS=(); }

RP=(); RMESH=(); RCLIENT=(); RMET=()
start() {   # start NAME [flags]: appends to RP RMESH RCLIENT RMET
  local name=$1; shift
  mkdir -p "$W/$name"
  rm -f "$W/$name/ready.json"
  "$COORD" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
    --seal-dir "$W/seal-$name" --ready-file "$W/$name/ready.json" --leaf-key-pool 0 "$@" >>"$W/$name/log" 2>&1 &
  RP+=($!); PIDS+=($!)
  for _ in $(seq 1 600); do [ -s "$W/$name/ready.json" ] && break; sleep 0.02; done
  RCLIENT+=("$(jq -r .client "$W/$name/ready.json")")
  RMESH+=("$(jq -r .mesh "$W/$name/ready.json")")
  RMET+=("$(jq -r .metrics "$W/$name/ready.json")")
}
stop_all() { for p in "${RP[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; RP=(); RMESH=(); RCLIENT=(); RMET=(); }
set_manifest() {
  curl -sk -H 'Content-Type: application/json' "https://${RCLIENT[0]}/api/v2/manifest" \
    -d "{\"manifest\":\"$(base64 -w0 "$W/manifest.json")\"}" | jq -e '.status == "success"' >/dev/null
}

# run SETUP TYPE: one round; prints "rate coord_us etcd_us ok errors acts/txn retries/batch"
run() {
  local setup=$1 type=$2 n=1 i
  case $setup in
    file) rm -rf "$ED/seal-file"; start file --seal-dir "$ED/seal-file" ;;   # on the same file system as etcd's data (tmpfs when there is one)
    etcd1) etcd_up; start r1 --store "etcd://$EP" --seal-dir "$W/seal-ha" $HA_FLAGS ;;
    etcd3) etcd_up; n=3; for i in 1 2 3; do start "r$i" --store "etcd://$EP" --seal-dir "$W/seal-ha" $HA_FLAGS; done ;;
    etcd3gw) etcd_up; n=3; for i in 1 2 3; do start "r$i" --store "etcd://$EP" --seal-dir "$W/seal-ha" --etcd-wire gateway $HA_FLAGS; done ;;
  esac
  set_manifest
  sleep 0.3
  for i in $(seq 0 $((n - 1))); do "$LG" activate "${RMESH[$i]}" "$type" -c 2 -t 1 -i 4 >/dev/null 2>&1; done   # warm-up
  local c0 e0 c1 e1 per=$((CONC / n))
  c0=$(cpu "${RP[@]}"); e0=$(cpu ${EPIDS[@]+"${EPIDS[@]}"})
  local lgp=()
  for i in $(seq 0 $((n - 1))); do
    (trap "" PIPE; exec "$LG" activate "${RMESH[$i]}" "$type" -c "$per" -t "$SECS" -i 32 >"$W/lg$i.json" 2>"$W/lg$i.err") &
    lgp+=($!)
  done
  wait "${lgp[@]}"
  c1=$(cpu "${RP[@]}"); e1=$(cpu ${EPIDS[@]+"${EPIDS[@]}"})
  local ok=0 err=0 secs
  for i in $(seq 0 $((n - 1))); do
    [ -s "$W/lg$i.json" ] || { echo "bench: loadgen against ${RMESH[$i]} printed nothing" >&2; echo "{\"ok\":0,\"errors\":0,\"seconds\":1}" >"$W/lg$i.json"; }
    ok=$((ok + $(jq .ok "$W/lg$i.json"))); err=$((err + $(jq .errors "$W/lg$i.json")))
    secs=$(jq .seconds "$W/lg$i.json")
  done
  local batches=0 batched=0 retries=0
  if [ "$setup" != file ]; then
    for i in $(seq 0 $((n - 1))); do
      local m; m=$(curl -s "http://${RMET[$i]}/metrics")
      batches=$((batches + $(echo "$m" | awk '$1=="cairn_etcd_activation_batches_total"{print $2}')))
      batched=$((batched + $(echo "$m" | awk '$1=="cairn_etcd_activations_batched_total"{print $2}')))
      retries=$((retries + $(echo "$m" | awk '$1=="cairn_etcd_txn_retries_total"{print $2}')))
    done
  fi
  stop_all
  etcd_down
  awk -v ok="$ok" -v err="$err" -v s="$secs" -v c=$((c1 - c0)) -v e=$((e1 - e0)) -v t="$TCK" -v b="$batches" -v bd="$batched" \
    -v rt="$retries" 'BEGIN { printf "%.1f %.0f %.0f %d %d %.2f %.2f\n", ok/s, c*1e6/t/(ok?ok:1), e*1e6/t/(ok?ok:1), ok, err,
                             (b ? bd/b : 0), (b ? rt/b : 0) }'
}

echo "== load average at start (other processes share these cores): $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== machine: $(nproc) cores; $CONC concurrent marbles in total, ${SECS}s per round, $ROUNDS rounds alternating"
echo "== etcd flags beyond the data and listen settings: --log-level error --logger zap ${ETCD_FLAGS:-(none)}"
med() { awk '{print $'"$1"'}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for t in $TYPES; do
  declare -A RES=()
  echo "== marble type \"$t\" ($( [ "$t" = limited ] && echo "MaxActivations: every activation commits its counter" || echo "no MaxActivations: nothing to commit; etcd replicas check the state revision" ))"
  for r in $(seq 1 "$ROUNDS"); do
    for s in file etcd1 etcd3 etcd3gw; do
      out=$(run "$s" "$t")
      echo "round $r $s: rate/s coordCPU_us etcdCPU_us ok errors activations_per_txn retries_per_batch = $out"
      RES[$s]+="$out"$'\n'
    done
  done
  echo "medians ($t):"
  printf '%-7s %14s %19s %12s %9s %14s\n' setup "activations/s" "Coordinator us/act" "etcd us/act" "acts/txn" \
    "retries/batch"
  for s in file etcd1 etcd3 etcd3gw; do
    printf '%-7s %14s %19s %12s %9s %14s\n' "$s" "$(printf '%s' "${RES[$s]}" | med 1)" "$(printf '%s' "${RES[$s]}" | med 2)" \
      "$(printf '%s' "${RES[$s]}" | med 3)" "$(printf '%s' "${RES[$s]}" | med 6)" "$(printf '%s' "${RES[$s]}" | med 7)"
  done
  F=$(printf '%s' "${RES[file]}" | med 1); E3=$(printf '%s' "${RES[etcd3]}" | med 1); E1=$(printf '%s' "${RES[etcd1]}" | med 1)
  echo "ratio etcd1/file ($t): $(awk -v a="$E1" -v b="$F" 'BEGIN{printf "%.0f %%", 100*a/b}')"
  echo "ratio etcd3/file ($t): $(awk -v a="$E3" -v b="$F" 'BEGIN{printf "%.0f %%", 100*a/b}') (goal >= 80 %)"
  G3=$(printf '%s' "${RES[etcd3gw]}" | med 1)
  echo "ratio etcd3gw/file ($t): $(awk -v a="$G3" -v b="$F" 'BEGIN{printf "%.0f %%", 100*a/b}') (the same over etcd's JSON gateway)"
  # this machine's speed drifts from minute to minute: the ratio within each
  # round (adjacent runs) is steadier than the ratio of the medians
  PAIRS=$(paste <(printf '%s' "${RES[file]}" | awk '{print $1}') <(printf '%s' "${RES[etcd3]}" | awk '{print $1}') |
    awk '{printf "%.0f\n", 100*$2/$1}')
  echo "ratio etcd3/file within each round ($t): $(echo $PAIRS | sed 's/ / %, /g') %; median $(printf '%s\n' $PAIRS | med 1) %"
  # on shared, loaded cores the rates say more about scheduling than about
  # cost: the CPU-bound ratio is file CPU / (replica CPU + etcd CPU) per activation
  FC=$(printf '%s' "${RES[file]}" | med 2); C3=$(printf '%s' "${RES[etcd3]}" | med 2); X3=$(printf '%s' "${RES[etcd3]}" | med 3)
  echo "CPU-bound ratio etcd3/file ($t): $(awk -v f="$FC" -v c="$C3" -v x="$X3" 'BEGIN{printf "%.0f %%", 100*f/(c+x)}') (all on the same cores: file CPU/act / (replicas + etcd) CPU/act)"
done

echo "== etcd gateway round trip and propagation"
etcd_up
start p1 --store "etcd://$EP" --seal-dir "$W/seal-ha"
start p2 --store "etcd://$EP" --seal-dir "$W/seal-ha"
set_manifest
sleep 0.3
python3 - "${EP%%,*}" <<'PY'
import json, sys, time, urllib.request, base64
ep = sys.argv[1]
def post(path, body):
    r = urllib.request.urlopen(urllib.request.Request("http://%s%s" % (ep, path), json.dumps(body).encode()), timeout=5)
    return json.loads(r.read())
k = base64.b64encode(b"/bench/k").decode()
lat = []
for i in range(300):
    t = time.perf_counter()
    post("/v3/kv/txn", {"compare": [], "success": [{"request_put": {"key": k, "value": base64.b64encode(b"%d" % i).decode()}}]})
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
print("gateway txn (a put), python client, p50 %.2f ms p99 %.2f ms" % (lat[150], lat[296]))
PY
# a peer's activation reaches the other replica's counts (the counter parts
# are not watched: that replica's background read, once a second): time it
before=$(curl -s "http://${RMET[1]}/metrics" | awk '$1=="cairn_etcd_peer_increments_applied_total"{print $2}')
t0=$(date +%s%N)
"$LG" activate "${RMESH[0]}" limited -c 1 -n 1 -t 5 -i 1 >/dev/null 2>&1
t1=$(date +%s%N)
for _ in $(seq 1 500); do
  now=$(curl -s "http://${RMET[1]}/metrics" | awk '$1=="cairn_etcd_peer_increments_applied_total"{print $2}')
  [ "$now" != "$before" ] && break
  sleep 0.002
done
t2=$(date +%s%N)
echo "one activation on replica 1: $(( (t1 - t0) / 1000000 )) ms end to end; seen by replica 2 within $(( (t2 - t1) / 1000000 )) ms after its answer (its read of the counters runs once a second; poll granularity ~3 ms)"
stop_all
etcd_down

echo "== state size, commit and reload time by manifest size"
printf '%-8s %14s %16s %20s\n' marbles "state bytes" "manifest set ms" "peer reload ms"
for N in 10 100 1000 3000; do
  python3 bench/many-marbles.py "$N" >"$W/m$N.json"
  etcd_up
  start s1 --store "etcd://$EP" --seal-dir "$W/seal-ha"
  start s2 --store "etcd://$EP" --seal-dir "$W/seal-ha"
  t0=$(date +%s%N)
  printf '{"manifest":"%s"}' "$(base64 -w0 "$W/m$N.json")" >"$W/body$N.json"
  curl -sk -H 'Content-Type: application/json' "https://${RCLIENT[0]}/api/v2/manifest" \
    -d @"$W/body$N.json" | jq -e '.status == "success"' >/dev/null
  t1=$(date +%s%N)
  rl=""
  for _ in $(seq 1 300); do
    rl=$(curl -s "http://${RMET[1]}/metrics" | awk '$1=="cairn_etcd_state_reloads_total"{r=$2} $1=="cairn_etcd_last_reload_seconds"{m=$2*1000} END{if (r>0) print m}')
    [ -n "$rl" ] && break
    sleep 0.05
  done
  size=$(ETCDCTL_API=3 etcdctl --endpoints="$EP" get /cairn/state --print-value-only | wc -c)
  printf '%-8s %14s %16s %20s\n' "$N" "$size" "$(( (t1 - t0) / 1000000 ))" "${rl:-?}"
  stop_all
  etcd_down
done
echo "(activation counters are one small key per replica and marble type: the state does not grow with activations)"
