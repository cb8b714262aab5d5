#!/bin/bash
# Second review: `-o FILE` must write INTO an existing non-regular file (FIFO,
# character device such as /dev/null) instead of replacing it
# with a regular file through the temp-file-and-rename path (which, run as
# root, would even replace /dev/null). Regular files keep the atomic replace.
# Uses the offline `recover-with-signature sign-secret` command: no network.
set -u
BIN=${1:?usage: $0 BIN_DIR}
CAIRN=$BIN/cairn
[ -x "$CAIRN" ] || { echo "SKIP: $CAIRN not built"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: no openssl tool"; exit 77; }
T=$(mktemp -d)
READER=
cleanup() { [ -n "$READER" ] && kill "$READER" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/key.pem" 2>/dev/null || fail "keygen"
head -c 16 /dev/urandom > "$T/secret"   # 16 raw bytes: a plain recovery secret
sign() { "$CAIRN" recover-with-signature sign-secret "$T/secret" -k "$T/key.pem" -o "$1"; }

# 1. regular file: written, mode 0644, content is the 256-byte RSA signature
sign "$T/sig" || fail "sign to a regular file"
[ "$(stat -c %s "$T/sig")" = 256 ] || fail "signature size $(stat -c %s "$T/sig")"
[ "$(stat -c %a "$T/sig")" = 644 ] || fail "mode $(stat -c %a "$T/sig")"

# 2. a FIFO: the reader must get the bytes and the FIFO must still be a FIFO
mkfifo "$T/fifo"
cat "$T/fifo" > "$T/from_fifo" &
READER=$!
timeout 10 bash -c "$(declare -f sign); CAIRN='$CAIRN' T='$T' sign '$T/fifo'" || fail "sign to a FIFO failed"
# unblock the reader if the writer never opened the FIFO (old behaviour: replaced it)
[ -p "$T/fifo" ] || { kill "$READER" 2>/dev/null; fail "the FIFO was replaced by a $(stat -c %F "$T/fifo")"; }
wait "$READER"; READER=
[ "$(stat -c %s "$T/from_fifo")" = 256 ] || fail "reader got $(stat -c %s "$T/from_fifo") bytes, expected 256"
ls "$T" | grep -q '\.tmp\.' && fail "temp file left behind"

# 3. a character device (a private null device in the temp dir, so the old
#    behaviour cannot damage the real /dev): must stay a device
if mknod "$T/null" c 1 3 2>/dev/null; then
    sign "$T/null" || fail "sign to a character device"
    [ -c "$T/null" ] || fail "the character device was replaced by a $(stat -c %F "$T/null")"
else
    echo "note: mknod not permitted; character-device case not run"
fi

echo "PASS: -o into a regular file, a FIFO and a character device"
