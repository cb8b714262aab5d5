#!/usr/bin/env bash
# MarbleRun TestMonotonicCounter: FeatureGates ["MonotonicCounter"]; the
# counterMarble marble calls /api/v2/monotonic-counter with its
# marble certificate: name "foo" value 2 answers 0, value 3 answers 2.
. "$(dirname "$0")/lib.sh"
render mesh.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
jqf "$WORK/m.json" '.Config.FeatureGates = ["MonotonicCounter"]'
start_coord c
set_manifest "$WORK/m.json"
check "manifest with FeatureGates [MonotonicCounter] set" eq "$CODE" 200
check "the monotonic-counter marble succeeds (0, then 2)" start_marble_client counterMarble localhost
finish
