#!/usr/bin/env bash
# MarbleRun TestMultiPartyRecoveryRestoreKey: two recovery keys (XOR); after
# the first secret the Coordinator stays in state 1, after the second it is
# recovered (state 3); the old root stays valid across a restart.
. "$(dirname "$0")/lib.sh"
render two-party.json "$WORK/m.json"
start_coord c
set_manifest "$WORK/m.json"
check "multi-party manifest set" eq "$CODE" 200
trigger_recovery
check "DecryptRecoveryData(recoveryA)" decrypt_recovery recoveryA "$KEYS/rec1.key" "$WORK/s1"
check "DecryptRecoveryData(recoveryB)" decrypt_recovery recoveryB "$KEYS/rec2.key" "$WORK/s2"
set_recover "$WORK/s1" "$KEYS/rec1.key" || true
check "first secret accepted" eq "$CODE" 200
check "state 1 after the first secret" eq "$(status_code)" 1
set_recover "$WORK/s2" "$KEYS/rec2.key" || true
check "second secret accepted" eq "$CODE" 200
check "state 3 after the second secret" eq "$(status_code)" 3
verify_cert_after_recovery "$WORK/before.root.pem"
finish
