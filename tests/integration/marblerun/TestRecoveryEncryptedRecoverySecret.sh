#!/usr/bin/env bash
# MarbleRun TestRecoveryEncryptedRecoverySecret: the two XOR recovery secrets
# are uploaded encrypted to the Coordinator's ephemeral key
# (GET /api/v2/recover/public-key), each with a PKCS#1 v1.5 signature over
# the plaintext secret; remaining 1, then 0; state 1, then 3.
. "$(dirname "$0")/lib.sh"
SHAMIR=0 WANT_REMAINING1=1
. "$(dirname "$0")/recovery_encrypted.inc"
