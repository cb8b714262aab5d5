#!/usr/bin/env bash
# MarbleRun TestShamirRecovery: RecoveryThreshold 2 of three keys (recoveryC
# freshly generated); two plaintext shares signed by their keys: state 1
# after the first, 3 after the second; the old root stays valid.
. "$(dirname "$0")/lib.sh"
render two-party.json "$WORK/m.json"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3096 -out "$WORK/rec3.key" 2>/dev/null
openssl pkey -in "$WORK/rec3.key" -pubout -out "$WORK/rec3.pub"
jqf "$WORK/m.json" --rawfile k "$WORK/rec3.pub" '.Config.RecoveryThreshold = 2 | .RecoveryKeys.recoveryC = $k'
start_coord c
set_manifest "$WORK/m.json"
check "manifest (2 of 3) set" eq "$CODE" 200
trigger_recovery
check "DecryptRecoveryData(recoveryA)" decrypt_recovery recoveryA "$KEYS/rec1.key" "$WORK/s1"
check "DecryptRecoveryData(recoveryB)" decrypt_recovery recoveryB "$KEYS/rec2.key" "$WORK/s2"
set_recover "$WORK/s1" "$KEYS/rec1.key" || true
check "first share accepted" eq "$CODE" 200
check "state 1 after the first share" eq "$(status_code)" 1
set_recover "$WORK/s2" "$KEYS/rec2.key" || true
check "second share accepted" eq "$CODE" 200
check "state 3 after the second share" eq "$(status_code)" 3
verify_cert_after_recovery "$WORK/before.root.pem"
finish
