#!/usr/bin/env bash
# MarbleRun TestClientAPI: the root certificate from /api/v2/quote
# authenticates the Coordinator (status 2); after the manifest is set, the
# user "operator" (admin.crt, whose key is recovery key one) reads the
# shared symmetric key meshKey: Type symmetric-key, Size 256, 32 bytes.
. "$(dirname "$0")/lib.sh"
render mesh.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
start_coord c
check "VerifyCoordinator (InsecureSkipVerify) gives root and intermediate" verify_coordinator "$WORK/c0"
vreq "$WORK/c0.root.pem" GET /api/v2/status
check "GetStatus with the root as trust anchor: state 2" eq "$CODE:$(jqv .data.code)" "200:2"
set_manifest "$WORK/m.json"
check "manifest set" eq "$CODE" 200
CODE=$(curl -s --cacert "$WORK/c0.root.pem" --cert "$KEYS/admin.crt" --key "$KEYS/admin.key" -o "$WORK/body" \
  -w '%{http_code}' "https://$CLIENT/api/v2/secrets?s=meshKey" || true); BODY=$(cat "$WORK/body")
check "SecretGet meshKey as operator" eq "$CODE" 200
check "secret Type is symmetric-key" eq "$(jqv '.data.secrets.meshKey.Type')" symmetric-key
check "secret Size is 256" eq "$(jqv '.data.secrets.meshKey.Size')" 256
check "secret value is 32 bytes" eq "$(jqv '.data.secrets.meshKey.Private' | base64 -d | wc -c)" 32
finish
