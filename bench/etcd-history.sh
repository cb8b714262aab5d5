#!/usr/bin/env bash
# etcd history benchmark (docs/benchmarks.md, docs/high-availability.md "etcd
# upkeep"):   bench/etcd-history.sh [BUILD_DIR]
# Every committed activation of a marble type with MaxActivations is one etcd
# revision (a group commit: one revision for the batch). etcd keeps every old
# revision until it is compacted, so its database grows with activations even
# though Cairn's own state does not. This measures, on one etcd member and one
# replica on 127.0.0.1 (every process started here is stopped by PID):
#   - before and after HIST_ACTIVATIONS (100000) activations: etcd's revision
#     and database size, the activation latency (loadgen, 1 marble, 3 s), the
#     time a second replica needs to become ready on that etcd, and the time a
#     state change (a user secret write) takes to commit;
#   - then a compaction to the current revision and a defragmentation (what
#     etcd's --auto-compaction-* does by itself): the database size after, and
#     that both replicas keep serving (activations, a secret write).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${HIST_ACTIVATIONS:-100000}
COORD=$BUILD/bin/cairn-coordinator
LG=$BUILD/bench/loadgen
CLI=$BUILD/bin/cairn
[ -x "$COORD" ] && [ -x "$LG" ] && [ -x "$CLI" ] || { echo "bench: build $COORD, $CLI and $LG first"; exit 1; }
command -v etcd >/dev/null || { echo "bench: etcd (etcd-server) not installed"; exit 1; }
W=$(mktemp -d /tmp/cairn-histbench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
read -r CP PP <<<"$(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')"
EP=127.0.0.1:$CP
etcd --name e1 --data-dir "$W/e1" --listen-client-urls "http://$EP" --advertise-client-urls "http://$EP" \
  --listen-peer-urls "http://127.0.0.1:$PP" --initial-advertise-peer-urls "http://127.0.0.1:$PP" \
  --initial-cluster "e1=http://127.0.0.1:$PP" --log-level error --logger zap >"$W/etcd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do curl -s --max-time 1 "http://$EP/health" | grep -q '"health":"true"' && break; sleep 0.1; done

RCLIENT=(); RMESH=()
start() {   # start NAME: prints its ready_ms
  local name=$1
  "$COORD" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
    --seal-dir "$W/seal" --ready-file "$W/$name.ready" --store "etcd://$EP" >>"$W/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 1500); do [ -s "$W/$name.ready" ] && break; sleep 0.02; done
  [ -s "$W/$name.ready" ] || { echo "bench: replica $name did not become ready"; tail "$W/$name.log"; exit 1; }
  RCLIENT+=("$(jq -r .client "$W/$name.ready")"); RMESH+=("$(jq -r .mesh "$W/$name.ready")")
}
status() { curl -s -X POST "http://$EP/v3/maintenance/status" -d '{}' | jq -r '"revision \(.header.revision), database \(.dbSize) bytes (\(.dbSizeInUse) in use)"'; }
p50() { "$LG" activate "$1" limited -c 1 -t 3 -i 1 | jq -r '"p50 \(.p50_ms) ms, p99 \(.p99_ms) ms"'; }
secret_ms() {   # one user secret write through the CLI, end to end
  local t0 t1
  t0=$(date +%s%N)
  printf '{"user_secret":{"Key":"%s"}}' "$(printf 'v%s' "$2" | base64 -w0)" >"$W/secret.json"
  "$CLI" secret set "$W/secret.json" "$1" --insecure -c "$W/admin.crt" -k "$W/admin.key" >/dev/null 2>&1
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000000 )) ms"
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=admin -days 1 \
  -keyout "$W/admin.key" -out "$W/admin.crt" 2>/dev/null
python3 - "$W/admin.crt" >"$W/manifest.json" <<'PY'
import json, sys
cert = open(sys.argv[1]).read()
print(json.dumps({
    "Packages": {"pkg": {"Debug": True, "UniqueID": "00"}},
    "Marbles": {"limited": {"Package": "pkg", "MaxActivations": 100000000,
                            "Parameters": {"Env": {"K": "{{ hex .Secrets.k }}"}, "Argv": ["bench"]}}},
    "Secrets": {"k": {"Type": "symmetric-key", "Size": 256},
                "user_secret": {"Type": "plain", "UserDefined": True}},
    "Users": {"admin": {"Certificate": cert, "Roles": ["writer"]}},
    "Roles": {"writer": {"ResourceType": "Secrets", "ResourceNames": ["user_secret"], "Actions": ["ReadSecret", "WriteSecret"]}}}))
PY
start r1
curl -sk -H 'Content-Type: application/json' "https://${RCLIENT[0]}/api/v2/manifest" \
  -d "{\"manifest\":\"$(base64 -w0 "$W/manifest.json")\"}" | jq -e '.status == "success"' >/dev/null

echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
echo "== fresh: $(status)"
echo "activation latency: $(p50 "${RMESH[0]}")"
echo "user secret write: $(secret_ms "${RCLIENT[0]}" 0)"
t0=$(date +%s)
done_ok=0 done_err=0
while [ "$done_ok" -lt "$N" ]; do   # loadgen runs at most 120 s at a time
  "$LG" activate "${RMESH[0]}" limited -c 4 -n $((N - done_ok)) -t 120 -i 64 >"$W/bulk.json"
  done_ok=$((done_ok + $(jq .ok "$W/bulk.json"))); done_err=$((done_err + $(jq .errors "$W/bulk.json")))
  [ "$done_err" -lt 100 ] || { echo "bench: $done_err activation errors"; exit 1; }
done
t1=$(date +%s)
echo "== after $done_ok activations ($done_err errors, $((t1 - t0)) s, $((done_ok / (t1 - t0 + 1)))/s): $(status)"
echo "activation latency: $(p50 "${RMESH[0]}")"
echo "user secret write: $(secret_ms "${RCLIENT[0]}" 1)"
start r2
echo "a second replica on this etcd: ready in $(jq .ready_ms "$W/r2.ready") ms (inside the process)"
REV=$(curl -s -X POST "http://$EP/v3/maintenance/status" -d '{}' | jq -r .header.revision)
t0=$(date +%s%N)
curl -s -X POST "http://$EP/v3/kv/compaction" -d "{\"revision\":\"$REV\",\"physical\":true}" >/dev/null
t1=$(date +%s%N)
curl -s -X POST "http://$EP/v3/maintenance/defragment" -d '{}' >/dev/null
t2=$(date +%s%N)
echo "== compacted to revision $REV in $(( (t1 - t0) / 1000000 )) ms, defragmented in $(( (t2 - t1) / 1000000 )) ms: $(status)"
echo "activation latency, replica 1: $(p50 "${RMESH[0]}"); replica 2: $(p50 "${RMESH[1]}")"
echo "user secret write (replica 2): $(secret_ms "${RCLIENT[1]}" 2)"
