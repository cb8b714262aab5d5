#!/usr/bin/env bash
# run_guide.sh PAGE BUILD_DIR [SANITIZE] [--no-sanitize] [--requires TOOL,...]:
# runs the ```sh blocks of PAGE (a path relative to the repository, e.g.
# docs/getting-started.md) as written, in order, in one `bash -euo pipefail`
# shell, the way a user who cloned the repository and built it (`make`)
# pastes them:
#   - the working directory is a fresh copy of the repository's files in a temp
#     directory, with `build` pointing at BUILD_DIR (the guides use build/bin
#     or put it on PATH, as docs/building.md's installed layout promises);
#   - HOME and TMPDIR are inside the temp directory (nothing touches the real
#     home: the CLI's certificate cache lives there);
#   - it runs in its own network, PID and mount namespace (unshare), so the
#     guides may use the fixed ports a user would (4433, 2001, ...) without
#     meeting other tests, and nothing it started can outlive it.
# A guide that starts a process in the background must also show how to stop
# it: processes still running 10 s after the last block fail the test (they
# are then killed by PID). Skips (77) when no namespace can be created, when a
# tool of --requires is missing (scripts/install-deps.sh installs them all),
# or in a sanitizer build (SANITIZE=ON) for a --no-sanitize page (one that
# compiles programs against libcairn, which a plain compiler cannot link there).
set -uo pipefail
PAGE=${1:?usage: run_guide.sh PAGE BUILD_DIR [SANITIZE] [--no-sanitize] [--requires TOOL,...]}
BUILD_DIR=$(cd "${2:?usage: run_guide.sh PAGE BUILD_DIR}" && pwd)
SANITIZE=${3:-}
shift 2; [ $# -gt 0 ] && shift
NATIVE_ONLY="" REQUIRES=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-sanitize) NATIVE_ONLY=1 ;;
    --requires) REQUIRES=${2:-}; shift ;;
    "") ;;
    *) echo "run_guide.sh: unknown option $1"; exit 2 ;;
  esac
  shift
done
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
case "$SANITIZE" in ON|on|1|TRUE|true)
  [ -n "$NATIVE_ONLY" ] && { echo "SKIP: $PAGE builds programs against libcairn (not in a sanitizer build)"; exit 77; } ;;
esac
for t in ${REQUIRES//,/ }; do
  command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $PAGE needs $t (scripts/install-deps.sh installs it)"; exit 77; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-doc.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# The guide's script: its blocks, plus a wrapper that names the block that
# failed and checks that the guide stopped what it started.
bash "$SRC/tests/integration/docs/extract.sh" "$SRC/$PAGE" >"$WORK/blocks.sh" || exit 1
nblocks=$(grep -c '^__doc_block ' "$WORK/blocks.sh")
[ "$nblocks" -ge 1 ] || { echo "FAIL: $PAGE has no \`\`\`sh block (is it still a guide?)"; exit 1; }
cat >"$WORK/guide.sh" <<'WRAP'
__doc_where="(before the first block)"
__doc_block() { __doc_where=$1; printf '\n=== %s\n' "${1#"$__doc_src"/}" >&2; }
__doc_exit() {
  local rc=$? left i p
  set +e +x
  if [ $rc -ne 0 ]; then echo "FAIL: the command above failed (exit $rc) in the block at ${__doc_where#"$__doc_src"/}" >&2; fi
  for i in $(seq 100); do left=$(jobs -pr); [ -z "$left" ] && break; sleep 0.1; done
  if [ -n "$left" ]; then
    echo "FAIL: the guide leaves running: $(for p in $left; do tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | cut -c1-80; echo " (pid $p);"; done)" >&2
    echo "      (a guide that starts a process in the background shows how to stop it)" >&2
    for p in $left; do kill "$p" 2>/dev/null; done
    for p in $left; do wait "$p" 2>/dev/null; done
    [ $rc -ne 0 ] || rc=1
  fi
  exit $rc
}
trap __doc_exit EXIT
set -euo pipefail -x
WRAP
printf '__doc_src=%q\n' "$SRC" >>"$WORK/guide.sh"
cat "$WORK/blocks.sh" >>"$WORK/guide.sh"
# (the PAGE:LINE markers name the page by the path given to extract.sh)

# A checkout as the user has it: the repository's files (no build trees, no
# .git), `build` = the tree under test.
C=$WORK/cairn
mkdir -p "$C" "$WORK/home" "$WORK/tmp"
tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$C" -xf - || { echo "FAIL: copy"; exit 1; }
ln -s "$BUILD_DIR" "$C/build"

# Own network + PID namespace; loopback up.
NS=()
for try in "unshare --net --pid --fork --kill-child --mount-proc" "unshare --user --map-root-user --net --pid --fork --kill-child --mount-proc"; do
  # shellcheck disable=SC2086
  if $try ip link set lo up 2>/dev/null; then read -r -a NS <<<"$try"; break; fi
done
[ ${#NS[@]} -gt 0 ] || { echo "SKIP: cannot create a network namespace (unshare, ip) to run $PAGE on its fixed ports"; exit 77; }

echo "running $nblocks block(s) of $PAGE in $C"
start=$(date +%s)
# A clean environment, as a new shell has; the sanitizer settings of
# scripts/test-sanitizers.sh pass through.
env -i PATH="$PATH" HOME="$WORK/home" TMPDIR="$WORK/tmp" LANG=C.UTF-8 TERM=dumb \
  ${CC:+CC="$CC"} ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} ${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} \
  ${LSAN_OPTIONS:+LSAN_OPTIONS="$LSAN_OPTIONS"} "${NS[@]}" bash -c 'ip link set lo up && cd "$1" && exec bash "$2"' _ "$C" "$WORK/guide.sh"
rc=$?
echo "exit $rc after $(( $(date +%s) - start )) s"
if [ $rc -ne 0 ]; then
  for f in $(find "$C" "$WORK/home" "$WORK/tmp" -newer "$WORK/guide.sh" -name '*.log' -type f 2>/dev/null | head -20); do
    echo "--- ${f#"$WORK"/}"; tail -n 15 "$f"
  done
  echo "FAIL: $PAGE: its commands do not run as written"
  exit 1
fi
echo "PASS: $PAGE: $nblocks block(s) ran as written"
