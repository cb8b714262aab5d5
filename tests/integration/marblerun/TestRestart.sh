#!/usr/bin/env bash
# MarbleRun TestRestart: server and clients run; the Coordinator is killed
# and restarted on its seal dir; setting the manifest again fails; new client
# marbles still authenticate with the old server marble.
. "$(dirname "$0")/lib.sh"
render mesh.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
start_coord c
set_manifest "$WORK/m.json"
check "manifest set" eq "$CODE" 200
check "server marble starts" start_marble_server meshServer
check "client marble 1" start_marble_client meshClient
check "client marble 2" start_marble_client meshClient
cancel_coord
start_coord c
check "restarted from the sealed state: state 3" eq "$(status_code)" 3
set_manifest "$WORK/m.json"
check "setting the manifest again fails" ne "$CODE" 200
check "client marble 3 (after restart) authenticates with the old server" start_marble_client meshClient
check "client marble 4 (after restart) authenticates with the old server" start_marble_client meshClient
finish
