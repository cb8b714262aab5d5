#!/usr/bin/env bash
# Fixture for the MarbleRun suite: the keys MarbleRun's test package makes
# once per run (test/manifests.go): RecoveryPrivateKeyOne/Two (RSA-3096,
# the odd size is MarbleRun's), AdminCert (self-signed, serial 42, one year,
# key = RecoveryPrivateKeyOne), AdminOne/AdminTwo (own RSA-3096 keys).
set -euo pipefail
K=${MR_KEYS_DIR:?MR_KEYS_DIR not set}
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
rm -rf "$K.tmp"; mkdir -p "$K.tmp"
cd "$K.tmp"
rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3096 -out "$1" 2>/dev/null; }
cert() { openssl req -x509 -new -key "$1" -out "$2" -subj "/CN=$3" -set_serial 42 -days 365 2>/dev/null; }
rsa rec1.key & rsa rec2.key & rsa admin1.key & rsa admin2.key & wait
for k in rec1 rec2; do openssl pkey -in $k.key -pubout -out $k.pub; done
cert rec1.key admin.crt "Cairn scenario admin"
cert admin1.key admin1.crt "Cairn scenario custodian a"
cert admin2.key admin2.crt "Cairn scenario custodian b"
cp rec1.key admin.key
rm -rf "$K"; mv "$K.tmp" "$K"
ls "$K"
