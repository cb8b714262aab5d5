#!/usr/bin/env bash
# MarbleRun TestExternalConnectionToMarble: publicServer
# serves without client certificates; an external client that trusts only
# the Coordinator's root, or only its intermediate, connects and gets 200.
. "$(dirname "$0")/lib.sh"
render mesh.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
start_coord c
set_manifest "$WORK/m.json"
check "manifest set" eq "$CODE" 200
check "server marble (serve-no-client-auth) starts" start_marble_server publicServer localhost
check "VerifyCoordinator" verify_coordinator "$WORK/c"
for which in root intermediate; do
  code=$(curl -s --cacert "$WORK/c.$which.pem" -o /dev/null -w '%{http_code}' "https://$MARBLE_TEST_ADDR/" || true)
  check "external client trusting only the $which reaches the marble: 200" eq "$code" 200
done
finish
