# A simulated Coordinator for the integration tests, and requests to its
# client API (sourced, bash). Uses the caller's BIN (the cairn-coordinator
# binary), WORK (temp dir) and PIDS (processes to stop by PID); COORD_ENV
# (VAR=VALUE words) is extra environment for the Coordinator process only.
# Used by coordinator/lib.sh and governance/lib.sh, which add their own flags.

COORD_ENV=()

# sim_coord_start NAME [flags...]: `cairn-coordinator --simulation` on
# 127.0.0.1 port 0 (client, mesh) with the seal dir $WORK/NAME/seal and
# --ready-file (no port races); log appended to $WORK/NAME/log. Waits up to
# 60 s for the ready file (a start in recovery mode generates an RSA-4096 key
# first). Sets PID, CLIENT, MESH, METRICS and READY_MS (from the ready file).
sim_coord_start() {
  local name=$1; shift
  mkdir -p "$WORK/$name"
  rm -f "$WORK/$name/ready.json"
  env ${COORD_ENV[@]+"${COORD_ENV[@]}"} "$BIN" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 \
    --seal-dir "$WORK/$name/seal" --ready-file "$WORK/$name/ready.json" "$@" >>"$WORK/$name/log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 1200); do
    [ -s "$WORK/$name/ready.json" ] && break
    if ! kill -0 "$PID" 2>/dev/null; then echo "coordinator $name exited:"; cat "$WORK/$name/log"; return 1; fi
    sleep 0.05
  done
  [ -s "$WORK/$name/ready.json" ] || { echo "coordinator $name not ready"; cat "$WORK/$name/log"; return 1; }
  CLIENT=$(jq -r .client "$WORK/$name/ready.json")
  MESH=$(jq -r .mesh "$WORK/$name/ready.json")
  METRICS=$(jq -r .metrics "$WORK/$name/ready.json")
  READY_MS=$(jq -r .ready_ms "$WORK/$name/ready.json")
}

# stop_coord / kill9_coord: the last started Coordinator (PID), by SIGTERM or SIGKILL.
stop_coord() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}
kill9_coord() {
  kill -9 "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

# the client API takes request bodies as application/json only:
# prints curl's header option unless the arguments set a Content-Type
json_ct() { [[ " $* " == *"Content-Type"* ]] || printf '%s' "-HContent-Type:application/json"; }
# req METHOD PATH [curl args...] (no client certificate): sets CODE and BODY
req() {
  local m=$1 p=$2; shift 2
  CODE=$(curl -sk -o "$WORK/body" -w '%{http_code}' -X "$m" "https://$CLIENT$p" $(json_ct "$@") "$@" || true)
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}

eq() { [ "$1" = "$2" ]; }
contains() { [[ "$1" == *"$2"* ]]; }
# jqv FILTER: FILTER applied to BODY (raw output; empty when BODY is not JSON)
jqv() { printf '%s' "$BODY" | jq -r "$1" 2>/dev/null; }
