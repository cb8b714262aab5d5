#!/usr/bin/env bash
# The metrics listener (--metrics-addr: /metrics, /healthz, /readyz; plain
# HTTP) has the admission control of the TLS listeners: a connection cap
# (--metrics-max-conns), a per-source-address cap (--max-conns-per-addr,
# default half the cap) and a first-request-byte deadline
# (--handshake-timeout). Idle sockets that send nothing (bounded: 12, on
# 127.0.0.x) must not lock the probes out for longer than they stay open, nor
# stay open for the whole --http-timeout. curl plays the probe.
source "$(dirname "$0")/../coordinator/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
BODY=""   # check() prints it on a failure

# idle ADDR N SRC DIR: N TCP connections from SRC to ADDR that send nothing;
# writes DIR/open (how many the server has not closed after 0.5 s) and holds
# the rest until DIR/stop exists (at most 30 s), then closes them.
idle() {
  python3 - "$@" <<'PY' &
import os, socket, sys, time
addr, n, src, d = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
host, port = addr.rsplit(":", 1)
socks = []
for _ in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(3)
    try:
        s.connect((host, int(port)))
        socks.append(s)
    except OSError:   # reset by the server before connect() returned
        s.close()
time.sleep(0.5)
def alive(s):
    s.setblocking(False)
    try:
        s.recv(1, socket.MSG_PEEK)   # b"" (closed) or bytes (never sent unasked)
        return False
    except BlockingIOError:
        return True
    except OSError:                  # reset
        return False
with open(os.path.join(d, "open.tmp"), "w") as f:
    f.write(str(sum(alive(s) for s in socks)))
os.rename(os.path.join(d, "open.tmp"), os.path.join(d, "open"))
end = time.time() + 30
while not os.path.exists(os.path.join(d, "stop")) and time.time() < end:
    time.sleep(0.05)
for s in socks:
    s.close()
PY
  PIDS+=("$!")
  IDLE_PID=$!
}
wait_file() { for _ in $(seq 1 200); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
# probe [curl args...]: GET /healthz on $M; sets RC, CODE and MS (elapsed)
probe() {
  local t0 t1
  t0=$(date +%s%N)
  RC=0
  CODE=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$@" "http://$M/healthz") || RC=$?
  t1=$(date +%s%N)
  MS=$(((t1 - t0) / 1000000))
}

# ---- the caps: 8 connections, 4 per source address; a long first-byte
# deadline, so only the caps close connections here
start_coord caps --metrics-max-conns 8 --handshake-timeout 30 --http-timeout 30
M=$METRICS
probe
check "/healthz answers (200) with nothing else open" eq "$CODE" 200

mkdir -p "$WORK/a"
idle "$M" 12 127.0.0.1 "$WORK/a"
wait_file "$WORK/a/open" || { echo "idle sockets not in place"; exit 1; }
n=$(cat "$WORK/a/open")
echo "# 12 idle sockets from 127.0.0.1: $n still open after 0.5 s"
check "12 idle sockets from one address: the per-address cap (4) holds, the rest are closed ($n open)" eq "$n" 4
probe
echo "# /healthz from 127.0.0.1 with the address at its cap: rc=$RC code=$CODE in $MS ms"
check "a further request from that address is refused (curl rc=$RC code=$CODE)" test "$RC" -ne 0
check "... and quickly ($MS ms < 3000)" test "$MS" -lt 3000

# the listener cap: 4 more idle from a second address fill it (8); a new
# connection from a third address sheds an idle one and is served
if python3 -c "import socket; socket.socket().bind(('127.0.0.3', 0))" 2>/dev/null; then
  mkdir -p "$WORK/b"
  idle "$M" 4 127.0.0.2 "$WORK/b"
  wait_file "$WORK/b/open" || { echo "idle sockets not in place"; exit 1; }
  check "4 idle sockets from 127.0.0.2 admitted ($(cat "$WORK/b/open") open)" eq "$(cat "$WORK/b/open")" 4
  probe --interface 127.0.0.3
  check "at the listener cap, a request from another address sheds an idle socket and is served ($CODE)" eq "$CODE" 200
  touch "$WORK/b/stop"
else
  echo "# cannot bind 127.0.0.3: the listener-cap check is left out"
fi

touch "$WORK/a/stop"
wait "$IDLE_PID" 2>/dev/null || true
ok=0
for _ in $(seq 1 40); do
  probe
  [ "$CODE" = 200 ] && { ok=1; break; }
  sleep 0.1
done
check "/healthz from 127.0.0.1 is served again once the idle sockets are closed" eq "$ok" 1
stop_coord

# ---- the first-byte deadline: a socket that sends nothing is closed after
# --handshake-timeout (2 s), not after --http-timeout (30 s)
start_coord deadline --handshake-timeout 2 --http-timeout 30
M=$METRICS
secs=$(python3 - "$M" <<'PY'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=3)
s.settimeout(12)
t0 = time.time()
try:
    s.recv(1)
except socket.timeout:
    print(99); sys.exit(0)
except OSError:
    pass
print(int(time.time() - t0 + 0.999))
PY
)
echo "# an idle socket was closed after ${secs} s (99: still open after 12 s)"
check "an idle socket is closed by the first-byte deadline (${secs} s, <= 6)" test "$secs" -le 6
probe
check "/healthz still answers (200)" eq "$CODE" 200
finish
