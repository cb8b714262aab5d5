#!/usr/bin/env bash
# MarbleRun TestClientAPI: the root certificate from /api/v2/quote
# authenticates the Coordinator (status 2); after the manifest is set, the
# admin (AdminCert, key RecoveryPrivateKeyOne) reads symmetricKeyShared:
# Type symmetric-key, Size 128.
. "$(dirname "$0")/lib.sh"
render integration.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
start_coord c
check "VerifyCoordinator (InsecureSkipVerify) gives root and intermediate" verify_coordinator "$WORK/c0"
vreq "$WORK/c0.root.pem" GET /api/v2/status
check "GetStatus with the root as trust anchor: state 2" eq "$CODE:$(jqv .data.code)" "200:2"
set_manifest "$WORK/m.json"
check "manifest set" eq "$CODE" 200
CODE=$(curl -s --cacert "$WORK/c0.root.pem" --cert "$KEYS/admin.crt" --key "$KEYS/admin.key" -o "$WORK/body" \
  -w '%{http_code}' "https://$CLIENT/api/v2/secrets?s=symmetricKeyShared" || true); BODY=$(cat "$WORK/body")
check "SecretGet symmetricKeyShared as admin" eq "$CODE" 200
check "secret Type is symmetric-key" eq "$(jqv '.data.secrets.symmetricKeyShared.Type')" symmetric-key
check "secret Size is 128" eq "$(jqv '.data.secrets.symmetricKeyShared.Size')" 128
check "secret value is 16 bytes" eq "$(jqv '.data.secrets.symmetricKeyShared.Private' | base64 -d | wc -c)" 16
finish
