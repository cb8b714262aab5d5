#!/usr/bin/env bash
# test_relocated.sh BUILD_DIR [PATTERN]: the tests must not depend on where the
# checkout lives. Copies the repository (its files, no build trees, no .git)
# to a temp path with `/src/` in it, as in a clone under ~/src, configures a
# build tree there (seconds; CMake writes every path-bearing file anew:
# cairn-uninstalled.pc, the CTest files), borrows the compiled programs and
# libraries of BUILD_DIR instead of compiling them again, and runs the tests
# matching PATTERN (the path-sensitive ones) from that clone with ctest.
# A second clone whose path also holds a space runs the tests that do not
# compile against libcairn with `$(pkg-config ...)` (a shell idiom that cannot
# carry a space, in any project).
set -uo pipefail
BUILD_DIR=$(cd "${1:?usage: test_relocated.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-reloc.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fails=0
cache() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD_DIR/CMakeCache.txt"; }

# relocate DIR: a copy of the repository at DIR with a configured build tree
# that links to BUILD_DIR's programs, libraries and test binaries.
relocate() {
  local d=$1 f sub
  mkdir -p "$d"
  tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$d" -xf - || return 1
  cmake -S "$d" -B "$d/build" -DCMAKE_BUILD_TYPE="$(cache CMAKE_BUILD_TYPE)" \
    -DCMAKE_C_COMPILER="$(cache CMAKE_C_COMPILER)" -DCAIRN_SANITIZE="$(cache CAIRN_SANITIZE)" \
    -DCAIRN_SHARED_DIR="$(cache CAIRN_SHARED_DIR)" >"$WORK/configure.log" 2>&1 \
    || { tail -20 "$WORK/configure.log"; return 1; }
  for sub in bin lib tests; do
    mkdir -p "$d/build/$sub"
    for f in "$BUILD_DIR/$sub"/*; do
      [ -f "$f" ] && [ ! -e "$d/build/$sub/${f##*/}" ] && ln -s "$f" "$d/build/$sub/${f##*/}"
    done
  done
  return 0
}

# run_from DIR PATTERN: ctest in the relocated tree; every matching test must pass.
run_from() {
  local d=$1 pattern=$2 n
  n=$(ctest --test-dir "$d/build" -N -R "$pattern" | sed -n 's/^Total Tests: //p')
  if [ "${n:-0}" -eq 0 ]; then echo "FAIL: no test matches $pattern in $d"; fails=$((fails + 1)); return; fi
  echo "== $n test(s) from $d: $pattern"
  if ctest --test-dir "$d/build" -R "$pattern" --output-on-failure --timeout 120 2>&1 | tee "$WORK/ctest.log" | tail -n 40; then
    if grep -q 'tests passed, 0 tests failed' "$WORK/ctest.log"; then echo "ok: $n test(s) pass from $d"
    else echo "FAIL: from $d"; fails=$((fails + 1)); fi
  else echo "FAIL: ctest from $d"; fails=$((fails + 1)); fi
}

D1="$WORK/home/u/src/cairn"
relocate "$D1" || { echo "FAIL: cannot set up $D1"; exit 1; }
run_from "$D1" "${2:-^(it_libcairn)$}"
D2="$WORK/home/u/src/my projects/cairn"
relocate "$D2" || { echo "FAIL: cannot set up $D2"; exit 1; }
run_from "$D2" "${3:-^(doc_getting-started|it_demo|grpc_test_grpc_activation)$}"
[ $fails -eq 0 ] && echo "PASS" || { echo "$fails failure(s)"; exit 1; }
