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

# sim_coord_start, stop_coord, kill9_coord, req, eq, contains, jqv: ../lib/coord.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/coord.sh"
# start_coord NAME [flags...]: seal dir $WORK/NAME; sets CLIENT MESH METRICS PID READY_MS
start_coord() {
  local name=$1; shift
  sim_coord_start "$name" --metrics-addr 127.0.0.1:0 --leaf-key-pool 4 --threads 2 --http-timeout 2 "$@"
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
