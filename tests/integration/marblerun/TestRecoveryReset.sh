#!/usr/bin/env bash
# MarbleRun TestRecoveryReset: in recovery mode a new manifest can be set
# instead of recovering; the fresh state survives a restart (state 3).
. "$(dirname "$0")/lib.sh"
render mesh.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
start_coord c
set_manifest "$WORK/m.json"
check "manifest set" eq "$CODE" 200
check "server marble starts" start_marble_server meshServer
trigger_recovery
set_manifest "$WORK/m.json"
check "manifest set again in recovery mode" eq "$CODE" 200
verify_reset_after_recovery
finish
