#!/usr/bin/env bash
# MarbleRun TestMultiPartyManifestUpdate: a full manifest update
# (two-party-update.json, its "gateway" package copied to "worker") needs
# both UpdateManifest users: custodian-a applies (1 acknowledgement missing, no
# recovery data), custodian-b acknowledges (0 missing, no recovery data). The
# new manifest has no meshServer, so that marble cannot start again.
. "$(dirname "$0")/lib.sh"
render two-party.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
render two-party-update.json "$WORK/u.json"
jqf "$WORK/u.json" '.Packages.worker = .Packages.gateway'   # framework.UpdateManifest
start_coord c
set_manifest "$WORK/m.json"
check "multi-party manifest set" eq "$CODE" 200
# .Previous.Secrets.sessionKey before any update = the current secret in MarbleRun
check "server marble starts (its Files use .Previous.Secrets.sessionKey)" start_marble_server meshServer
update_apply "$WORK/u.json" "$KEYS/admin1.key" "$KEYS/admin1.crt" || true
check "ManifestUpdateApply by custodian-a accepted" eq "$CODE" 200
check "missingAcknowledgments 1" eq "$MISSING" 1
check "no recovery data in the answer" eq "$(jqv '(.data.recoverySecrets // {}) | length')" 0
update_ack "$WORK/u.json" "$KEYS/admin2.key" "$KEYS/admin2.crt" || true
check "ManifestUpdateAcknowledge by custodian-b accepted" eq "$CODE" 200
check "missingAcknowledgments 0" eq "$MISSING" 0
check "no recovery data in the answer" eq "$(jqv '(.data.recoverySecrets // {}) | length')" 0
req GET /api/v2/manifest
check "the Coordinator now serves the update manifest" cmp -s <(jqv .data.manifest | base64 -d) "$WORK/u.json"
stop_marble_server
check "the server marble cannot start again after the update" not start_marble_server meshServer
check "refused as MarbleRun does: PermissionDenied \"marble verification failed: unknown marble type requested\"" \
  refused_with PERMISSION_DENIED "marble verification failed: unknown marble type requested"
finish
