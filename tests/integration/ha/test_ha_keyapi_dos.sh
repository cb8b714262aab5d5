#!/usr/bin/env bash
# A starting replica gets the data key although the holder's key API is held
# full (docs/high-availability.md "Connections that hold the key API"):
#  A. 64 idle TCP connections (16 from each of 127.0.0.1..4, never a byte);
#  B. 128 TLS connections from 127.0.0.1..8 that finish the handshake with a
#     client certificate and then trickle a request, one byte per 0.5 s (never
#     shed: a request has started);
#  C. the same, reopened as fast as the holder closes them (30 s): the
#     newcomer gets the key from a holder that registers while it waits.
# A and B never reconnect; all of it is bounded (at most 128 sockets on
# loopback, 30 s). The holder
# closes them after its short deadlines (2 s to the first request byte, 6 s
# for a request) and the newcomer keeps passing over the holders while they
# cannot be reached (--key-api-wait, default 20 s). Before: the newcomer gave
# up after three passes in well under a second and entered recovery.
. "$(dirname "$0")/lib.sh"
cat >"$WORK/m.json" <<'JSON'
{"Packages": {"pkg": {"Debug": true, "UniqueID": "00"}}, "Marbles": {"free": {"Package": "pkg"}}}
JSON

etcd_cluster 1
replica 1 --seal-dir "$WORK/s1" --key-api-addr 127.0.0.1:0
on 1
req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set on the holder" eq "$CODE" 200
KEYAPI=$(jq -r .keyapi "$WORK/r1/ready.json")
KHOST=${KEYAPI%:*}
KPORT=${KEYAPI##*:}

# hold.py MODE PER_ADDR N_ADDRS SECONDS: opens the connections, writes
# $WORK/held (how many the holder accepted), holds them, never reconnects
mkuser atk
cat >"$WORK/hold.py" <<'PY'
import socket, ssl, sys, time
mode, per, naddr, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
host, port, work = sys.argv[5], int(sys.argv[6]), sys.argv[7]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(work + "/atk.crt", work + "/atk.key")
def opened(a):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind(("127.0.0.%d" % a, 0))
        s.connect((host, port))
        if mode != "idle":
            s = ctx.wrap_socket(s)
            s.sendall(b"GET /keyshare/v1/hello HTTP/1.1\r\nHost: x\r\n")
        return s
    except (OSError, ssl.SSLError):
        s.close()
        return None
conns = []   # (address, socket)
for a in range(1, naddr + 1):
    for _ in range(per):
        s = opened(a)
        if s is not None:
            conns.append((a, s))
open(work + "/held.tmp", "w").write(str(len(conns)))
import os; os.rename(work + "/held.tmp", work + "/held")
end = time.time() + secs
while time.time() < end and (conns or mode == "reopen"):
    time.sleep(0.5 if mode != "reopen" else 0.05)
    if mode == "idle":
        continue
    alive = []
    for a, s in conns:
        try:
            s.sendall(b"X")
            alive.append((a, s))
        except (OSError, ssl.SSLError):
            s.close()
    if mode == "reopen":   # the closed ones come back at once (still at most per x naddr)
        for a in range(1, naddr + 1):
            for _ in range(per - sum(1 for b, _s in alive if b == a)):
                s = opened(a)
                if s is not None:
                    alive.append((a, s))
    conns = alive
PY
hold() {
  rm -f "$WORK/held"
  python3 "$WORK/hold.py" "$@" "$KHOST" "$KPORT" "$WORK" >>"$WORK/hold.log" 2>&1 &
  HOLD_PID=$!
  PIDS+=("$HOLD_PID")
  wait_for 20 test -s "$WORK/held"
}

# A. idle sockets
hold idle 16 4 25
check "A: the attacker holds idle connections ($(cat "$WORK/held"))" test "$(cat "$WORK/held")" -ge 32
replica 2 --seal-dir "$WORK/s2"
check "A: the newcomer gets the key anyway: state 3" eq "$(state_of 2)" 3
check "  ... from the holder" grep -q "got the data key (id [0-9a-f]*) from $KEYAPI" "$WORK/r2/log"
KMS_A=$(jq -r .key_ms "$WORK/r2/ready.json")
echo "# A: key after $KMS_A ms"
check "  ... within the bound (--key-api-wait 20 s)" python3 -c "import sys; sys.exit(0 if $KMS_A < 20000 else 1)"
replica_stop 2
kill "$HOLD_PID" 2>/dev/null || true; wait "$HOLD_PID" 2>/dev/null || true

# B. slow requests that a handshake completed for
hold slow 16 8 25
check "B: the attacker holds slow TLS requests ($(cat "$WORK/held"))" test "$(cat "$WORK/held")" -ge 32
replica 3 --seal-dir "$WORK/s3"
check "B: the newcomer gets the key anyway: state 3" eq "$(state_of 3)" 3
KMS_B=$(jq -r .key_ms "$WORK/r3/ready.json")
echo "# B: key after $KMS_B ms"
check "  ... within the bound" python3 -c "import sys; sys.exit(0 if $KMS_B < 20000 else 1)"
check "  ... after retrying the holder it could not reach" grep -q "could not be reached; trying again" "$WORK/r3/log"
kill "$HOLD_PID" 2>/dev/null || true; wait "$HOLD_PID" 2>/dev/null || true
replica_stop 3

# C. connections reopened as fast as the holder closes them keep replica 1's
# key API full; a holder that registers while the newcomer waits is asked
# too (every pass reads the registry again) and gives the key
hold reopen 16 8 30
mkdir -p "$WORK/r5"
"$BIN" --simulation --store "etcd://$ETCD_EP" --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 \
  --seal-dir "$WORK/s5" --ready-file "$WORK/r5/ready.json" --leaf-key-pool 0 --threads 2 >>"$WORK/r5/log" 2>&1 &
NEWCOMER=$!
PIDS+=("$NEWCOMER")
check "C: the newcomer cannot reach replica 1 and keeps asking" \
  wait_for 20 grep -q "could not be reached; trying again" "$WORK/r5/log"
replica 6 --seal-dir "$WORK/s1" --key-api-addr 127.0.0.1:0   # the holder's seal: opens by itself
R6_KEYAPI=$(jq -r .keyapi "$WORK/r6/ready.json")
wait_for 30 test -s "$WORK/r5/ready.json" || true
R_CLIENT[5]=$(jq -r .client "$WORK/r5/ready.json" 2>/dev/null || true)
R_MESH[5]=$(jq -r .mesh "$WORK/r5/ready.json" 2>/dev/null || true)
R_PID[5]=$NEWCOMER
check "C: the newcomer gets the key: state 3" eq "$(state_of 5)" 3
check "  ... from the holder that registered while it waited" \
  grep -q "got the data key (id [0-9a-f]*) from $R6_KEYAPI" "$WORK/r5/log"
echo "# C: key after $(jq -r .key_ms "$WORK/r5/ready.json") ms"
kill "$HOLD_PID" 2>/dev/null || true; wait "$HOLD_PID" 2>/dev/null || true
replica_stop 6
kill "$NEWCOMER" 2>/dev/null || true; wait "$NEWCOMER" 2>/dev/null || true

# the bound: with --key-api-wait 0 the newcomer makes its three passes only
hold slow 16 8 25
replica 4 --seal-dir "$WORK/s4" --key-api-wait 0
check "--key-api-wait 0: three passes, then recovery" eq "$(state_of 4)" 1
kill "$HOLD_PID" 2>/dev/null || true; wait "$HOLD_PID" 2>/dev/null || true
finish
