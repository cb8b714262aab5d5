#!/usr/bin/env bash
# MarbleRun TestRecoveryRestoreKey: for SealMode "", ProductKey, UniqueKey:
# set the manifest (one recovery key), start a server marble, kill+restart
# (state 3 from the sealed state), trigger recovery (sealed_key removed),
# recover with the decrypted recoveryA secret signed by its key (state 3),
# the old root still authenticates the Coordinator before and after a restart.
. "$(dirname "$0")/lib.sh"
# MarbleRun's subtests t.Run("SealMode=..."): all by default; CTest runs one
# per entry (argument: the mode, "default" for the empty one)
MODES=("" ProductKey UniqueKey)
[ $# -eq 0 ] || { MODES=(); for a in "$@"; do [ "$a" = default ] && MODES+=("") || MODES+=("$a"); done; }
for mode in "${MODES[@]}"; do
  echo "# SealMode=$mode"; new_framework
  render mesh.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
  jqf "$WORK/m.json" --arg m "$mode" '.Config.SealMode = $m'
  start_coord "c$mode"
  set_manifest "$WORK/m.json"
  check "SealMode=$mode: manifest set" eq "$CODE" 200
  cp "$WORK/recdata.json" "$WORK/rec0.json"
  check "SealMode=$mode: server marble starts" start_marble_server meshServer
  stop_marble_server
  cancel_coord
  start_coord "c$mode"
  check "SealMode=$mode: restart: state 3" eq "$(status_code)" 3
  trigger_recovery || { check "SealMode=$mode: recovery mode reached" false; cancel_coord; continue; }
  check "SealMode=$mode: DecryptRecoveryData(recoveryA)" decrypt_recovery recoveryA "$KEYS/rec1.key" "$WORK/s1" "$WORK/rec0.json"
  set_recover "$WORK/s1" "$KEYS/rec1.key" || true
  check "SealMode=$mode: Recover with the secret signed by RecoveryPrivateKeyOne" eq "$CODE" 200
  check "SealMode=$mode: state 3 after recovery" eq "$(status_code)" 3
  verify_cert_after_recovery "$WORK/before.root.pem"
  cancel_coord
done
finish
