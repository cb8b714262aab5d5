#!/usr/bin/env bash
# MarbleRun TestTest: sanity of the environment. A Coordinator started with
# MarbleRun's environment variables comes up; a client marble started with no
# manifest set fails (it cannot activate).
. "$(dirname "$0")/lib.sh"
start_coord c
check "Coordinator started from MarbleRun's env vars is in state 2" eq "$(status_code)" 2
check "the env vars were honoured: seal dir in EDG_COORDINATOR_SEAL_DIR" test -d "$(SEAL)"
check "the env vars were honoured: simulation mode from OE_SIMULATION=1" grep -q "SIMULATION MODE" "$WORK/c/log"
check "assert.False(StartMarbleClient(meshClient)) without a manifest" not start_marble_client meshClient localhost
check "refused as MarbleRun does: FailedPrecondition \"cannot accept marbles in current state\"" \
  refused_with FAILED_PRECONDITION "cannot accept marbles in current state"
finish
