#!/usr/bin/env bash
# MarbleRun TestShamirRecoveryEncryptedSecrets: RecoveryThreshold 2 of three
# keys (recKey3 freshly generated), two encrypted, signed shares: MarbleRun
# reports remaining 2 after the first ("with Shamir, we don't know how many
# secrets remain"), then 0; state 1, then 3.
. "$(dirname "$0")/lib.sh"
SHAMIR=1 WANT_REMAINING1=2
. "$(dirname "$0")/recovery_encrypted.inc"
