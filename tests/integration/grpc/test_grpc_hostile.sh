#!/usr/bin/env bash
# Hostile HTTP/2 on the mesh port (h2_hostile.py, frames crafted with
# python3-hyperframe/hpack): every scenario is refused, reset or closed within
# bounds, legitimate gRPC marbles are served meanwhile, and the Coordinator
# stays up.
source "$(dirname "$0")/../coordinator/lib.sh"
source "$(dirname "$0")/lib_grpc.sh"

write_manifest "$WORK/m.json"
start_coord a
set_manifest_file "$WORK/m.json"
check "manifest set" eq "$CODE" 200

"$PY" "$GDIR/h2_hostile.py" "$MESH" all >"$WORK/hostile.out" 2>&1 &
HP=$!; PIDS+=("$HP")
# legitimate marbles while the hostile connections run
sleep 1
for i in 1 2 3; do
  mr --type free --quote sim
  check "marble $i activates during the hostile run" eq "$RC" 0
  sleep 1
done
set +e; wait "$HP"; HRC=$?; set -e
cat "$WORK/hostile.out"
check "every hostile scenario refused, reset or closed (h2_hostile.py exit 0)" eq "$HRC" 0
check "all 14 scenarios ran" eq "$(grep -c "\"ok\": true" "$WORK/hostile.out")" 14
check "the Coordinator is still running" kill -0 "$PID"
mr --type free --quote sim
check "a marble activates after the hostile run" eq "$RC" 0
check "hostile connections were logged" contains "$(cat "$WORK/a/log")" "API (HTTP/2)"
stop_coord
finish
