#!/usr/bin/env bash
# MarbleRun TestRecoveryKeyChange: multi-party manifest (UpdateThreshold 1);
# recover with both secrets; then a full update (two-party-update.json)
# replaces the RecoveryKeys by nextRecoveryA/nextRecoveryB: the answer carries two
# new recovery secrets; the Coordinator restarts on its own (state 3); after
# another forced recovery, the new keys' secrets recover it.
. "$(dirname "$0")/lib.sh"
render two-party.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
jqf "$WORK/m.json" '.Config.UpdateThreshold = 1'
for k in new1 new2; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3096 -out "$WORK/$k.key" 2>/dev/null
  openssl pkey -in "$WORK/$k.key" -pubout -out "$WORK/$k.pub"
done
render two-party-update.json "$WORK/u.json"
jqf "$WORK/u.json" --rawfile a "$WORK/new1.pub" --rawfile b "$WORK/new2.pub" \
  '.RecoveryKeys = {nextRecoveryA: $a, nextRecoveryB: $b}'
start_coord c
set_manifest "$WORK/m.json"
check "manifest set" eq "$CODE" 200
cp "$WORK/recdata.json" "$WORK/rec0.json"
check "state 3" eq "$(status_code)" 3
trigger_recovery
check "DecryptRecoveryData(recoveryA)" decrypt_recovery recoveryA "$KEYS/rec1.key" "$WORK/s1" "$WORK/rec0.json"
check "DecryptRecoveryData(recoveryB)" decrypt_recovery recoveryB "$KEYS/rec2.key" "$WORK/s2" "$WORK/rec0.json"
set_recover "$WORK/s1" "$KEYS/rec1.key" || true
check "first secret accepted" eq "$CODE" 200
check "state 1 after the first secret" eq "$(status_code)" 1
set_recover "$WORK/s2" "$KEYS/rec2.key" || true
check "second secret accepted" eq "$CODE" 200
check "state 3 after the second secret" eq "$(status_code)" 3
verify_cert_after_recovery "$WORK/before.root.pem"
update_apply "$WORK/u.json" "$KEYS/admin1.key" "$KEYS/admin1.crt" || true
check "update changing the recovery keys applied by custodian-a" eq "$CODE" 200
check "missingAcknowledgments 0" eq "$MISSING" 0
check "two recovery secrets in the answer" eq "$(jqv '.data.recoverySecrets | keys | join(",")')" "nextRecoveryA,nextRecoveryB"
cp "$WORK/update.json" "$WORK/rec1.json"
verify_cert_after_recovery "$WORK/before.root.pem"
trigger_recovery
check "DecryptRecoveryData(nextRecoveryA)" decrypt_recovery nextRecoveryA "$WORK/new1.key" "$WORK/n1" "$WORK/rec1.json"
check "DecryptRecoveryData(nextRecoveryB)" decrypt_recovery nextRecoveryB "$WORK/new2.key" "$WORK/n2" "$WORK/rec1.json"
set_recover "$WORK/n1" "$WORK/new1.key" || true
check "first new secret accepted" eq "$CODE" 200
check "state 1 after the first new secret" eq "$(status_code)" 1
set_recover "$WORK/n2" "$WORK/new2.key" || true
check "second new secret accepted" eq "$CODE" 200
check "state 3 after the second new secret" eq "$(status_code)" 3
finish
