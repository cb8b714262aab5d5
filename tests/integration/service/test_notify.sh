#!/usr/bin/env bash
# systemd readiness (docs/systemd.md): the Coordinator speaks sd_notify(3) to a
# real AF_UNIX datagram socket (notify_listener.py, the role systemd plays for
# Type=notify). Checks the messages and their order: nothing before READY=1,
# READY=1 once, with a STATUS= naming the state and the bound ports; a STATUS=
# on the state change; WATCHDOG=1 at half of WATCHDOG_USEC; STOPPING=1 last.
# systemd-run cannot be used: this container has no running systemd.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../coordinator/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }

CODE= BODY=
SOCK=$WORK/notify.sock
MSGS=$WORK/notify.jsonl
python3 "$HERE/notify_listener.py" "$SOCK" "$MSGS" 60 &
LPID=$!
PIDS+=("$LPID")
for _ in $(seq 1 100); do [ -e "$MSGS.up" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { echo "FAIL - notify listener did not start"; exit 1; }

# WATCHDOG_USEC=400 ms: pings every 200 ms
COORD_ENV=(NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=400000)
start_coord a
pc=${CLIENT##*:}
# READY=1 is sent right after the ready file is written
for _ in $(seq 1 100); do grep -q READY "$MSGS" && break; sleep 0.05; done
sleep 1.1   # about five watchdog intervals

check "no malformed datagram" eq "$(jq -s '[.[] | select(.malformed)] | length' "$MSGS")" 0
check "the first datagram is READY=1" eq "$(head -n 1 "$MSGS" | jq -r '.fields.READY')" 1
check "READY=1 once" eq "$(jq -s '[.[] | select(.fields.READY == "1")] | length' "$MSGS")" 1
status=$(head -n 1 "$MSGS" | jq -r '.fields.STATUS')
check "READY carries STATUS with state 2 and the bound client port ($status)" \
  contains "$status" "state 2: Coordinator is ready to accept a manifest" 
check "STATUS names the bound client port" contains "$status" ":$pc,"
nwd=$(jq -s '[.[] | select(.fields.WATCHDOG == "1")] | length' "$MSGS")
check "WATCHDOG=1 pings arrive (got $nwd)" test "$nwd" -ge 3
gap=$(jq -s '[.[] | select(.fields.WATCHDOG == "1") | .t] | [range(1; length) as $i | .[$i] - .[$i-1]] | (add / length)' "$MSGS")
check "watchdog interval is half of WATCHDOG_USEC (mean gap $gap s)" \
  python3 -c "import sys; sys.exit(0 if 0.15 <= $gap <= 0.40 else 1)"
grep -q "systemd watchdog: WATCHDOG=1 every 200 ms" "$WORK/a/log"; check "the log names the watchdog interval" eq $? 0

# a state change sends STATUS= again
write_manifest "$WORK/m.json"
set_manifest_file "$WORK/m.json"
check "manifest set" eq "$CODE" 200
for _ in $(seq 1 50); do grep -q '"STATUS": "state 3' "$MSGS" && break; sleep 0.05; done
check "STATUS= on the change to state 3" eq "$(jq -s '[.[] | select(.fields.STATUS // "" | startswith("state 3: Coordinator is running correctly and ready to accept marbles"))] | length' "$MSGS")" 1

stop_coord
sleep 0.3
# (a watchdog ping of a loop that had not yet seen the stop may follow
# STOPPING=1, which systemd accepts: the last datagram that is not a ping)
last=$(jq -c 'select(.fields.WATCHDOG == null)' "$MSGS" | tail -n 1 | jq -r '.fields.STOPPING // empty')
check "STOPPING=1 is the last datagram apart from watchdog pings" eq "$last" 1
order=$(jq -rs '[.[] | select(.fields.READY or .fields.STOPPING or (.fields.STATUS // "" | startswith("state 3"))) |
                 if .fields.READY then "ready" elif .fields.STOPPING then "stopping" else "state3" end] | join(",")' "$MSGS")
check "order: ready, state 3, stopping ($order)" eq "$order" "ready,state3,stopping"

# WATCHDOG_PID names another process: the watchdog is not ours, no pings
# (a listener of its own: datagrams of the first run may still be in flight)
SOCK2=$WORK/notify2.sock
MSGS2=$WORK/notify2.jsonl
python3 "$HERE/notify_listener.py" "$SOCK2" "$MSGS2" 60 &
PIDS+=("$!")
for _ in $(seq 1 100); do [ -e "$MSGS2.up" ] && break; sleep 0.05; done
COORD_ENV=(NOTIFY_SOCKET="$SOCK2" WATCHDOG_USEC=200000 WATCHDOG_PID=1)
start_coord b
for _ in $(seq 1 100); do grep -q READY "$MSGS2" && break; sleep 0.05; done
sleep 0.8
check "WATCHDOG_PID of another process: no WATCHDOG=1" eq "$(jq -s '[.[] | select(.fields.WATCHDOG)] | length' "$MSGS2")" 0
check "... but READY=1" eq "$(jq -s '[.[] | select(.fields.READY == "1")] | length' "$MSGS2")" 1
stop_coord

# no NOTIFY_SOCKET (every other test runs so): starts, and no sd_notify warning
COORD_ENV=()
start_coord c
stop_coord
check "no NOTIFY_SOCKET: no sd_notify warning" eq "$(grep -c sd_notify "$WORK/c/log" || true)" 0
finish
