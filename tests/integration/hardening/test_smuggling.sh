#!/usr/bin/env bash
# Issue 12 §2: the request smuggling corpus (smuggle.py, a raw python client)
# against the client, mesh and metrics listeners of a real Coordinator: every
# ambiguous framing is answered with exactly one 400 and the connection is
# closed; valid framing (controls) keeps working.
source "$(dirname "$0")/../coordinator/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)

start_coord smuggle
# the mesh listener requires a client certificate (any: the handler checks it)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=smuggler -days 1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

rc=0
python3 "$HERE/smuggle.py" --name client --addr "$CLIENT" --tls || rc=1
python3 "$HERE/smuggle.py" --name mesh --addr "$MESH" --tls --cert "$WORK/cert.pem" --key "$WORK/key.pem" || rc=1
python3 "$HERE/smuggle.py" --name metrics --addr "$METRICS" || rc=1
kill -0 "$PID" || { echo "FAIL - the coordinator died"; rc=1; }
[ $rc -eq 0 ] && echo "all checks passed"
exit $rc
