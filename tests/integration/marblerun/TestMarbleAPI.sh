#!/usr/bin/env bash
# MarbleRun TestMarbleAPI: for SealMode "", Disabled, ProductKey, UniqueKey:
# set mesh.json, start meshServer (serve: mTLS with
# client certificates verified against the Marble Root), two meshClient
# marbles connect to it. The wrong-package half (MarbleRun's badMarble, our
# impostor) runs only outside simulation in
# MarbleRun (a simulation Coordinator accepts any quote): skipped here too.
. "$(dirname "$0")/lib.sh"
# MarbleRun's subtests t.Run("SealMode=..."): all by default; CTest runs one
# per entry (argument: the mode, "default" for the empty one)
MODES=("" Disabled ProductKey UniqueKey)
[ $# -eq 0 ] || { MODES=(); for a in "$@"; do [ "$a" = default ] && MODES+=("") || MODES+=("$a"); done; }
for mode in "${MODES[@]}"; do
  echo "# SealMode=$mode"; new_framework
  render mesh.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
  jqf "$WORK/m.json" --arg m "$mode" '.Config.SealMode = $m'
  start_coord "c$mode"
  set_manifest "$WORK/m.json"
  check "SealMode=$mode: manifest set" eq "$CODE" 200
  check "SealMode=$mode: server marble starts" start_marble_server meshServer
  check "SealMode=$mode: server marble got its Files" eq "$(cat "$MARBLE_DIR/fs/srv/cairn-scenario/etc/role.txt")" mesh-member
  check "SealMode=$mode: server marble got its Env" eq "$(cat "$MARBLE_DIR/env/SCENARIO_ROLE")" mesh
  check "SealMode=$mode: client marble 1 connects to the server" start_marble_client meshClient
  check "SealMode=$mode: client marble 2 connects to the server" start_marble_client meshClient
  stop_marble_server
  cancel_coord
done
finish
