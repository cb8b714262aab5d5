#!/usr/bin/env bash
# Start-up order (docs/systemd.md): the listeners are bound before any state
# or root CA is created. A busy port (client, mesh or metrics) fails with exit
# status 1 before anything is written to the seal directory and before
# "ready" is logged or READY=1 sent; an address that does not parse is a
# configuration error (exit 78, no restart under systemd).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../coordinator/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
CODE= BODY=

# a port held by another process (listening, as a second daemon would)
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
time.sleep(120)' >"$WORK/busy.port" &
PIDS+=("$!")
for _ in $(seq 1 100); do [ -s "$WORK/busy.port" ] && break; sleep 0.05; done
BUSY=$(cat "$WORK/busy.port")
[ -n "$BUSY" ] || { echo "FAIL - could not hold a port"; exit 1; }

SOCK=$WORK/notify.sock
python3 "$HERE/notify_listener.py" "$SOCK" "$WORK/notify.jsonl" 60 &
PIDS+=("$!")
for _ in $(seq 1 100); do [ -e "$WORK/notify.jsonl.up" ] && break; sleep 0.05; done

busy_case() {   # busy_case NAME WANT_RC LOG_PATTERN flags...
  local n=$1 want=$2 pat=$3 rc=0
  shift 3
  NOTIFY_SOCKET=$SOCK "$BIN" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 \
    --seal-dir "$WORK/$n-seal" --ready-file "$WORK/$n.json" --threads 1 "$@" >"$WORK/$n.log" 2>&1 || rc=$?
  check "$n: exit $rc (want $want)" eq "$rc" "$want"
  check "$n: the log says why" grep -q -- "$pat" "$WORK/$n.log"
  check "$n: seal directory not created" test ! -e "$WORK/$n-seal"
  check "$n: no ready line" eq "$(grep -c ': ready in [0-9]' "$WORK/$n.log" || true)" 0
  check "$n: no ready file" test ! -e "$WORK/$n.json"
  check "$n: no root CA generated" eq "$(grep -ci 'state [123]' "$WORK/$n.log" || true)" 0
}
busy_case client 1 "client listener: cannot listen on 127.0.0.1:$BUSY: Address already in use" \
  --client-addr 127.0.0.1:$BUSY
busy_case mesh 1 "mesh listener: cannot listen on 127.0.0.1:$BUSY: Address already in use" \
  --mesh-addr 127.0.0.1:$BUSY
busy_case metrics 1 "metrics listener: cannot listen on 127.0.0.1:$BUSY: Address already in use" \
  --metrics-addr 127.0.0.1:$BUSY
busy_case badaddr 78 "host must be an IP address" --client-addr nosuchhost:4433
sleep 0.2
check "no READY=1 from any of them" eq "$(grep -c READY "$WORK/notify.jsonl" || true)" 0

# an existing seal directory is not touched either (a second Coordinator on
# the same directory and port, as a mistaken restart would start it)
start_coord first
write_manifest "$WORK/m.json"
set_manifest_file "$WORK/m.json"
check "first Coordinator: manifest set" eq "$CODE" 200
before=$(cd "$WORK/first/seal" && find . -type f -exec sha256sum {} + | sort)
rc=0
"$BIN" --simulation --client-addr "$CLIENT" --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/first/seal" \
  --threads 1 >"$WORK/second.log" 2>&1 || rc=$?
after=$(cd "$WORK/first/seal" && find . -type f -exec sha256sum {} + | sort)
check "second Coordinator on a busy port: exit 1" eq "$rc" 1
check "... the seal directory is byte for byte unchanged" eq "$before" "$after"
check "... no ready line" eq "$(grep -c ': ready in [0-9]' "$WORK/second.log" || true)" 0
stop_coord
finish
