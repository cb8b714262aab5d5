#!/usr/bin/env bash
# MarbleRun TestMultiPartyRecoveryReset: multi-party manifest; in recovery
# mode the manifest is set again; the fresh state survives a restart.
. "$(dirname "$0")/lib.sh"
render two-party.json "$WORK/m.json"
start_coord c
set_manifest "$WORK/m.json"
check "multi-party manifest set" eq "$CODE" 200
trigger_recovery
set_manifest "$WORK/m.json"
check "manifest set again in recovery mode" eq "$CODE" 200
verify_reset_after_recovery
finish
