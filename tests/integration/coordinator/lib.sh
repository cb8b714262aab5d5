# Shared helpers for the Coordinator integration tests (sourced).
# Starts the real binary on 127.0.0.1 with port 0 and --ready-file (no port
# races), a temp seal dir, simulation mode; stops only the PIDs it started.
set -euo pipefail

BIN=${CAIRN_BIN_DIR:?CAIRN_BIN_DIR not set}/cairn-coordinator
TOOL=${CAIRN_TEST_BIN_DIR:-$CAIRN_BIN_DIR/../tests}/activate_tool
for t in curl jq openssl; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
[ -x "$BIN" ] || { echo "SKIP: $BIN not built"; exit 77; }
[ -x "$TOOL" ] || { echo "SKIP: $TOOL not built"; exit 77; }

WORK=$(mktemp -d /tmp/cairn-it.XXXXXX)
PIDS=()
FAILS=0
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# extra environment for the Coordinator process only (VAR=VALUE words)
COORD_ENV=()
# start_coord NAME [flags...]: seal dir $WORK/NAME; sets CLIENT MESH METRICS PID READY_MS
start_coord() {
  local name=$1; shift
  mkdir -p "$WORK/$name"
  rm -f "$WORK/$name/ready.json"
  env ${COORD_ENV[@]+"${COORD_ENV[@]}"} "$BIN" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
    --seal-dir "$WORK/$name/seal" --ready-file "$WORK/$name/ready.json" --leaf-key-pool 4 --threads 2 --http-timeout 2 "$@" \
    >>"$WORK/$name/log" 2>&1 &
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

stop_coord() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

kill9_coord() {
  kill -9 "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

# the client API takes request bodies as application/json only (issue 12 §4):
# prints curl's header option unless the arguments set a Content-Type
json_ct() { [[ " $* " == *"Content-Type"* ]] || printf '%s' "-HContent-Type:application/json"; }
# req METHOD PATH [curl args...]: sets CODE and BODY (client API)
req() {
  local m=$1 p=$2; shift 2
  local out
  out=$(curl -sk -o "$WORK/body" -w '%{http_code}' -X "$m" "https://$CLIENT$p" $(json_ct "$@") "$@" || true)
  CODE=$out
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}

# activate TYPE [tool args...]: sets CODE and BODY (mesh API)
activate() {
  local out
  out=$("$TOOL" "$MESH" "$@" || true)
  # no pipes here: a reader that exits early would SIGPIPE the writer (pipefail)
  CODE=${out%%$'\n'*}
  CODE=${CODE#STATUS }
  BODY=${out#*$'\n'}
}

set_manifest_file() {
  req POST /api/v2/manifest -H 'Content-Type: application/json' -d "{\"manifest\":\"$(base64 -w0 "$1")\"}"
}

check() {   # check DESCRIPTION CONDITION...
  local d=$1; shift
  if "$@"; then echo "ok   - $d"; else echo "FAIL - $d (code=${CODE:-} body=${BODY:0:300})"; FAILS=$((FAILS+1)); fi
}
eq() { [ "$1" = "$2" ]; }
contains() { [[ "$1" == *"$2"* ]]; }
jqv() { printf '%s' "$BODY" | jq -r "$1" 2>/dev/null; }

finish() {
  if [ "$FAILS" -gt 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi
  echo "all checks passed"
}

write_manifest() {   # the test manifest: limited and unlimited marble types, templates, secrets
  cat >"$1" <<'JSON'
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {
    "web": {"Package": "pkg", "MaxActivations": 2,
            "Parameters": {"Files": {"/etc/cert.pem": "{{ pem .MarbleRun.MarbleCert.Cert }}",
                                     "/etc/key": "{{ hex .Secrets.k }}",
                                     "/etc/shared.pem": "{{ pem .Secrets.shared.Cert }}"},
                           "Env": {"GREETING": "hello", "MARBLE_PREDEFINED_ROOT_CA": "overridden?"},
                           "Argv": ["web", "--port", "8080"]}},
    "free": {"Package": "pkg"},
    "ghost": {"Package": "pkg"}
  },
  "Secrets": {"k": {"Type": "symmetric-key", "Size": 128},
              "shared": {"Type": "cert-ecdsa", "Size": 256, "Shared": true}}
}
JSON
}
