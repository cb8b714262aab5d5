#!/usr/bin/env bash
# Start-to-ready with a large state (docs/benchmarks.md, "Start-to-ready with
# a large state"):   bench/start-large.sh [BUILD_DIR]
# A Coordinator whose state holds a manifest of 1,000 and of 3,000 marble
# types (one package, a MaxActivations each, a secret in every Env), restarted
# 5 times: on the file store (its seal directory), and as a replica on a
# one-member etcd on 127.0.0.1. Prints the Coordinator's own ready_ms (from
# main to listeners bound, state loaded) of each start. Every process started
# here is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
[ -x "$B/bin/cairn-coordinator" ] || { echo "bench: build $B/bin/cairn-coordinator first"; exit 1; }
command -v etcd >/dev/null || { echo "bench: etcd (etcd-server) not installed"; exit 1; }
W=$(mktemp -d /tmp/cairn-startbench.XXXXXX)
E=""; P=""
trap 'for p in $P $E; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
for N in 1000 3000; do
python3 bench/many-marbles.py "$N" >"$W/m$N.json"
done
start() { # start DIR [flags] -> ready_ms
  local d=$1; shift; rm -f $d.ready
  $B/bin/cairn-coordinator --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir $d --ready-file $d.ready "$@" >>$d.log 2>&1 & P=$!
  for _ in $(seq 1500); do [ -s $d.ready ] && break; sleep 0.01; done
}
for N in 1000 3000; do
  d=$W/f$N; start $d
  printf '{"manifest":"%s"}' "$(base64 -w0 $W/m$N.json)" > $W/b$N.json
  curl -sk -H 'Content-Type: application/json' https://$(jq -r .client $d.ready)/api/v2/manifest -d @$W/b$N.json | jq -r .status
  kill $P; wait $P || true; P=""
  r=""
  for i in 1 2 3 4 5; do start $d; r+="$(jq .ready_ms $d.ready) "; kill $P; wait $P || true; P=""; done
  echo "file store, $N marbles: ready_ms $r"
done
read -r CP PP <<<"$(python3 -c 'import socket;s=[socket.socket() for _ in range(2)];[x.bind(("127.0.0.1",0)) for x in s];print(*[x.getsockname()[1] for x in s])')"
etcd --name e1 --data-dir $W/e1 --listen-client-urls http://127.0.0.1:$CP --advertise-client-urls http://127.0.0.1:$CP --listen-peer-urls http://127.0.0.1:$PP --initial-advertise-peer-urls http://127.0.0.1:$PP --initial-cluster e1=http://127.0.0.1:$PP --log-level error --logger zap >$W/etcd.log 2>&1 & E=$!
for _ in $(seq 100); do curl -s http://127.0.0.1:$CP/health | grep -q true && break; sleep 0.1; done
for N in 1000 3000; do
  d=$W/e$N; start $d --store etcd://127.0.0.1:$CP --store-prefix /p$N/
  curl -sk -H 'Content-Type: application/json' https://$(jq -r .client $d.ready)/api/v2/manifest -d @$W/b$N.json | jq -r .status
  kill $P; wait $P || true; P=""
  r=""
  for i in 1 2 3 4 5; do start $d --store etcd://127.0.0.1:$CP --store-prefix /p$N/; r+="$(jq .ready_ms $d.ready) "; kill $P; wait $P || true; P=""; done
  echo "etcd, $N marbles: ready_ms $r"
done
kill $E; wait $E || true; E=""
