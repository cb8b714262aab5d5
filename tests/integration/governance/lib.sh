# Helpers for the governance integration tests (sourced). The real
# cairn-coordinator runs on 127.0.0.1 with port 0 and --ready-file, a temp
# seal dir and --simulation; only the PIDs started here are stopped.
set -euo pipefail

BIN=${CAIRN_BIN_DIR:?CAIRN_BIN_DIR not set}/cairn-coordinator
CLI=${CAIRN_BIN_DIR}/cairn
TOOL=${CAIRN_TEST_BIN_DIR:-$CAIRN_BIN_DIR/../tests}/activate_tool
for t in curl jq openssl base64; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
[ -x "$BIN" ] || { echo "SKIP: $BIN not built"; exit 77; }

WORK=$(mktemp -d /tmp/cairn-gov.XXXXXX)
PIDS=()
FAILS=0
CHECKS=0
CODE=""
BODY=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# sim_coord_start, stop_coord, req, eq, contains, jqv: ../lib/coord.sh (COORD_ENV:
# extra environment for the Coordinator only, e.g. the crash-injection shim of
# tests/integration/crash)
source "$(dirname "${BASH_SOURCE[0]}")/../lib/coord.sh"
# start_coord NAME [flags...]: seal dir $WORK/NAME/seal; sets CLIENT MESH PID
start_coord() {
  local name=$1; shift
  sim_coord_start "$name" --leaf-key-pool 0 --threads 2 --http-timeout 5 "$@"
}


# restart_coord NAME: stop and start again on the same seal dir
restart_coord() { stop_coord; start_coord "$1"; }

# ureq USER METHOD PATH [curl args...]: as req with USER's client certificate
ureq() {
  local u=$1; shift
  local m=$1 p=$2; shift 2
  CODE=$(curl -sk --cert "$WORK/$u.crt" --key "$WORK/$u.key" -o "$WORK/body" -w '%{http_code}' -X "$m" \
    "https://$CLIENT$p" $(json_ct "$@") "$@" || true)
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
b64f() { base64 -w0 "$1"; }
# JSON body {"manifest": b64(file)}
mbody() { printf '{"manifest":"%s"}' "$(b64f "$1")"; }

# mkuser NAME: EC P-256 key and self-signed certificate in $WORK/NAME.{key,crt}
mkuser() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$1.key" \
    -out "$WORK/$1.crt" -subj "/CN=$1" -days 2 2>/dev/null
}
# mkreckey NAME: RSA-2048 recovery key pair $WORK/NAME.key (private) / NAME.pub (PUBLIC KEY PEM)
mkreckey() {
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/$1.key" 2>/dev/null
  openssl pkey -in "$WORK/$1.key" -pubout -out "$WORK/$1.pub" 2>/dev/null
}
pemjson() { jq -Rs . <"$1"; }

# snapshot FILE: everything a refusal must leave unchanged (manifest,
# signature, status, update log, pending update)
snapshot() {
  {
    req GET /api/v2/manifest; echo "$BODY"
    req GET /api/v2/status; echo "$BODY"
    req GET /api/v2/update; echo "$BODY"
    req GET /api/v2/update-manifest; echo "$CODE $BODY"
  } >"$1"
}
# unchanged FILE: compares with the current state
unchanged() {
  local code=$CODE body=$BODY
  snapshot "$WORK/snap.now"
  CODE=$code; BODY=$body
  cmp -s "$1" "$WORK/snap.now"
}

check() {   # check DESCRIPTION CONDITION...
  local d=$1; shift
  CHECKS=$((CHECKS+1))
  if "$@"; then echo "ok   - $d"; else echo "FAIL - $d (code=${CODE:-} body=${BODY:0:400})"; FAILS=$((FAILS+1)); fi
}
alive() { kill -0 "$PID" 2>/dev/null && req GET /api/v2/status && [ "$CODE" = 200 ]; }

finish() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=()
  check "no sanitizer report in the Coordinator logs" sanitizer_clean
  echo "$CHECKS checks, $FAILS failed"
  if [ "$FAILS" -gt 0 ]; then exit 1; fi
  echo "all checks passed"
}

# sanitizer reports in any Coordinator log count as failures
sanitizer_clean() {
  ! grep -l -E "AddressSanitizer|LeakSanitizer|runtime error:" "$WORK"/*/log >/dev/null 2>&1
}
