#!/usr/bin/env bash
# MarbleRun TestRecoverySealedKeyStateBinding: for SealMode "", ProductKey,
# UniqueKey, with FeatureGates [MonotonicCounter]: back up sealed_key, let a
# marble change the state (monotonic counter), kill, put the old sealed_key
# back: the key is bound to the older state, so the Coordinator must enter
# recovery (state 1), never run on the stale/mismatched state; recovery with
# recoveryA then works and the old root stays valid.
. "$(dirname "$0")/lib.sh"
# MarbleRun's subtests t.Run("SealMode=..."): all by default; CTest runs one
# per entry (argument: the mode, "default" for the empty one)
MODES=("" ProductKey UniqueKey)
[ $# -eq 0 ] || { MODES=(); for a in "$@"; do [ "$a" = default ] && MODES+=("") || MODES+=("$a"); done; }
for mode in "${MODES[@]}"; do
  echo "# SealMode=$mode"; new_framework
  render mesh.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
  jqf "$WORK/m.json" --arg m "$mode" '.Config.SealMode = $m | .Config.FeatureGates = ["MonotonicCounter"]'
  start_coord "c$mode"
  set_manifest "$WORK/m.json"
  check "SealMode=$mode: manifest with FeatureGates [MonotonicCounter] set" eq "$CODE" 200
  cp "$WORK/recdata.json" "$WORK/rec0.json"
  check "SealMode=$mode: server marble starts" start_marble_server meshServer
  stop_marble_server
  cancel_coord
  start_coord "c$mode"
  check "SealMode=$mode: restart: state 3" eq "$(status_code)" 3
  check "SealMode=$mode: VerifyCoordinator" verify_coordinator "$WORK/before"
  cp "$(SEAL)/sealed_key" "$WORK/sealed_key.old"
  check "SealMode=$mode: the monotonic-counter marble changes the state" \
    start_marble_client counterMarble localhost
  cancel_coord
  check "SealMode=$mode: the state change re-sealed the key (the backup is older)" \
    not cmp -s "$WORK/sealed_key.old" "$(SEAL)/sealed_key"
  cp "$WORK/sealed_key.old" "$(SEAL)/sealed_key"
  started=yes; start_coord "c$mode" || started=no
  check "SealMode=$mode: the Coordinator starts with the rolled-back sealed_key" eq "$started" yes
  [ "$started" = yes ] || continue
  st=$(status_code)
  check "SealMode=$mode: rolled-back sealed_key -> state 1 (recovery), not the stale state" eq "$st" 1
  if [ "$st" = 1 ]; then
    check "SealMode=$mode: DecryptRecoveryData(recoveryA)" decrypt_recovery recoveryA "$KEYS/rec1.key" "$WORK/s1" "$WORK/rec0.json"
    set_recover "$WORK/s1" "$KEYS/rec1.key" || true
    check "SealMode=$mode: Recover" eq "$CODE" 200
    check "SealMode=$mode: state 3 after recovery" eq "$(status_code)" 3
    verify_cert_after_recovery "$WORK/before.root.pem"
  fi
  cancel_coord
done
finish
