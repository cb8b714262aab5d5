#!/usr/bin/env bash
# libcairn as a user gets it: samples/libcairn/coordinator-status.c compiled
# with `pkg-config --cflags --libs cairn` (the build tree's
# cairn-uninstalled.pc) against libcairn.so and, statically, libcairn.a; only
# the public headers are visible. Both binaries talk to a real Coordinator.
# Skips (77) in sanitizer builds (a plain program cannot load ASan objects).
BIN_DIR=$1
BUILD_DIR=$2
SANITIZE=$3
case "$SANITIZE" in ON|on|1|TRUE|true) echo "SKIP: sanitizer build"; exit 77 ;; esac
source "$(dirname "$0")/harness.sh" "$BIN_DIR"
SRC=$(cd "$(dirname "$0")/../../.." && pwd)/samples/libcairn/coordinator-status.c
export PKG_CONFIG_PATH="$BUILD_DIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
CC=${CC:-cc}

# Only include/ may be on the include path: internal headers must not leak.
# Compared as paths of the tree this build was configured from, not by their
# spelling: a checkout may itself live under ~/src (it_relocated runs this
# test from such a clone).
TREE=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt")
flags=$(pkg-config --cflags cairn-uninstalled)
[ -n "$TREE" ] && [ -f "$TREE/include/cairn/cairn.h" ] \
  && [[ "$flags " == "-I$TREE/include "* ]] && [[ $flags != *"-I$TREE/src"* ]] \
  && ok "cflags: the public include dir ($TREE/include), nothing under $TREE/src" \
  || bad "cflags: $flags (source tree $TREE)"
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror "$SRC" $(pkg-config --cflags --libs cairn-uninstalled) -o "$WORK/dyn" 2>"$WORK/cc.log" \
  && ok "compiles and links against libcairn.so" || bad "shared build: $(head -5 "$WORK/cc.log")"
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror "$SRC" $(pkg-config --cflags cairn-uninstalled) "$BUILD_DIR/lib/libcairn.a" \
  $(pkg-config --libs libcurl jansson openssl yaml-0.1 tss2-mu tss2-esys tss2-tctildr libprotobuf-c) -lpthread \
  -o "$WORK/static" 2>"$WORK/cc2.log" && ok "links statically against the self-contained libcairn.a" \
  || bad "static build: $(head -5 "$WORK/cc2.log")"
# captured first: `ldd | grep -q` under pipefail can fail when grep exits early
deps=$(ldd "$WORK/static" 2>&1) || bad "ldd failed on the static binary: $deps"
if [[ $deps == *libcairn* ]]; then bad "static binary needs libcairn.so"; else ok "static binary has no libcairn.so dependency"; fi

start_coordinator A
cli manifest set "$(cd "$(dirname "$0")/../../.." && pwd)/samples/demo/manifest.json" "$A_CLIENT" -i >/dev/null 2>&1
for v in dyn static; do
  out=$(LD_LIBRARY_PATH="$BUILD_DIR/lib" "$WORK/$v" "$A_CLIENT" --insecure 2>&1)
  if [[ $out == *"verified: NO, insecure"*"status: 3: "*"manifest: "[0-9a-f]* ]]; then ok "$v: verify + status + manifest"; else bad "$v: $out"; fi
done
if out=$(LD_LIBRARY_PATH="$BUILD_DIR/lib" "$WORK/dyn" "$A_CLIENT" /nonexistent.json 2>&1); then
  bad "missing policy accepted"
else
  ok "missing policy refused: $out"
fi
echo '{"SignerID":"00"}' >"$WORK/p.json"
if out=$(LD_LIBRARY_PATH="$BUILD_DIR/lib" "$WORK/dyn" "$A_CLIENT" "$WORK/p.json" 2>&1); then
  bad "policy accepted a simulated Coordinator"
elif [[ $out == *"coordinator policy"* ]]; then
  ok "invalid policy refused: $out"
else
  bad "policy: $out"
fi
# Activating a marble from code (samples/libcairn/activate.c).
ASRC=$(cd "$(dirname "$0")/../../.." && pwd)/samples/libcairn/activate.c
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror "$ASRC" $(pkg-config --cflags --libs cairn-uninstalled) -o "$WORK/activate" 2>"$WORK/cc3.log" \
  && ok "activate sample builds" || bad "activate build: $(head -5 "$WORK/cc3.log")"
cli certificate root "$A_CLIENT" -i -o "$WORK/root.pem" 2>/dev/null
out=$(LD_LIBRARY_PATH="$BUILD_DIR/lib" "$WORK/activate" "$A_MESH" web "$WORK/root.pem" sim 2>&1)
[[ $out == *"activated web as "*"(sim evidence)"*"file voting/question.txt (33 bytes)"*"env MARBLE_PREDEFINED_PRIVATE_KEY"*"argv[0] demo-web"* ]] \
  && ok "cairn_marble_activate from code" || bad "activate: $out"
if out=$(LD_LIBRARY_PATH="$BUILD_DIR/lib" "$WORK/activate" "$A_MESH" nope "$WORK/root.pem" sim 2>&1); then
  bad "unknown type activated"
elif [[ $out == *"HTTP 403"*"unknown marble type"* ]]; then
  ok "refusal reported with its HTTP status: $out"
else
  bad "refusal: $out"
fi
# The sample fails closed without the root certificate (it used to activate
# unauthenticated): a missing, empty or non-PEM file stops it before any
# request (exit 2, no "activated").
: >"$WORK/empty.pem"; echo "not a certificate" >"$WORK/junk.pem"
for rf in "$WORK/no-such-root.pem" "$WORK/empty.pem" "$WORK/junk.pem"; do
  rc=0
  out=$(LD_LIBRARY_PATH="$BUILD_DIR/lib" "$WORK/activate" "$A_MESH" web "$rf" sim 2>&1) || rc=$?
  [ $rc = 2 ] && [[ $out != *activated* ]] && [[ $out == *"not activating"* ]] \
    && ok "activate sample with $(basename "$rf"): refuses (exit 2): $out" || bad "activate sample with $rf: rc=$rc $out"
done
# The exported symbols are exactly the public API.
extra=$(nm -D --defined-only "$BUILD_DIR/lib/libcairn.so" | awk '{print $3}' | grep -v '^cairn_' || true)
[ -z "$extra" ] && ok "libcairn.so exports only cairn_* symbols" || bad "extra exports: $extra"
finish
