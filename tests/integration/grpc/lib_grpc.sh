# Shared by the gRPC tests (sourced after ../coordinator/lib.sh).
PY=/usr/bin/python3   # Debian's interpreter: python3-grpcio, -grpc-tools, -h2 live there
[ -x "$PY" ] || { echo "SKIP: /usr/bin/python3 not installed"; exit 77; }
"$PY" -c 'import grpc, grpc_tools.protoc, cryptography, h2' 2>/dev/null ||
  { echo "SKIP: python3-grpcio, python3-grpc-tools, python3-cryptography or python3-h2 missing (scripts/install-deps.sh)"; exit 77; }
GDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MR=("$PY" "$GDIR/mr_marble.py")   # an array: the checkout path may hold spaces

# mr ARGS...: runs the test marble against $MESH in a fresh working directory
# (a new marble: its UUID file is created there); sets RC and OUT (its JSON)
mr() {
  local d
  d=$(mktemp -d "$WORK/marble.XXXXXX")
  set +e
  OUT=$(cd "$d" && "${MR[@]}" --coordinator "$MESH" "$@" 2>"$WORK/mr.err")
  RC=$?
  set -e
  [ "$RC" -le 2 ] || { echo "mr_marble failed ($RC):"; cat "$WORK/mr.err"; }
}
ov() { printf '%s' "$OUT" | jq -r "$1" 2>/dev/null; }
