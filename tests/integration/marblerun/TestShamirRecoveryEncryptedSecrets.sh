#!/usr/bin/env bash
# MarbleRun TestShamirRecoveryEncryptedSecrets: RecoveryThreshold 2 of three
# keys (recoveryC freshly generated), two encrypted, signed shares. With
# Shamir shares the Coordinator cannot tell how many more are needed, so
# MarbleRun answers remaining 2 (keys minus uploaded) after the first, then 0;
# state 1, then 3.
. "$(dirname "$0")/lib.sh"
SHAMIR=1 WANT_REMAINING1=2
. "$(dirname "$0")/recovery_encrypted.inc"
