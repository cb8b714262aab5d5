#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan+UBSan) and runs each one for
# FUZZ_SECONDS (default 5), starting from the corpus kept in the repository
# (tests/fuzz/corpus/<name>/, grown by scripts/fuzz-long.sh). Every executable
# in $BUILD_FUZZ/fuzz/ is a harness, so a new cairn_add_fuzzer() target runs
# here without editing this script. Before fuzzing, each harness replays its
# regression inputs (tests/fuzz/regressions/<name>/*: inputs that once crashed).
# Nothing is written into the checkout: new inputs go to a temporary corpus
# directory (libFuzzer writes only to the first one it is given) and crash
# inputs to a temporary artifact directory that is printed. Prints the
# executions per harness. Skips with a message when clang is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-5}
CORPUS_ROOT=${FUZZ_CORPUS_ROOT:-tests/fuzz/corpus}
SHARED_COMPAT=${CAIRN_SHARED_DIR:-../shared}/compat/marblerun
REGRESSIONS=${FUZZ_REGRESSIONS:-tests/fuzz/regressions}
if ! command -v clang >/dev/null; then
  echo "fuzz: clang not found, skipping the fuzz harnesses"
  exit 0
fi
BUILD=${BUILD_FUZZ:-build-fuzz}
if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DCAIRN_FUZZ=ON -DCAIRN_SANITIZE=ON \
    -DCAIRN_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)"
fi
shopt -s nullglob
# A fingerprint of the kept corpora and regression inputs: the runs must leave them as they were.
fingerprint() {
  { find "$CORPUS_ROOT" "$REGRESSIONS" -type f -printf '%p %s %T@\n' 2>/dev/null || true; } | sort | md5sum
}
before=$(fingerprint)
artifacts=$(mktemp -d)
ran=0
for f in "$BUILD"/fuzz/*; do
  [ -f "$f" ] && [ -x "$f" ] || continue
  name=$(basename "$f")
  log=$(mktemp)
  regs=("$REGRESSIONS/$name"/*)
  if [ ${#regs[@]} -gt 0 ]; then
    if ! "$f" -timeout=25 -rss_limit_mb=2048 "${regs[@]}" >"$log" 2>&1; then
      cat "$log"; echo "fuzz: $name FAILED on a regression input ($REGRESSIONS/$name)"; exit 1
    fi
  fi
  work=$(mktemp -d)
  seeds=()
  [ -d "$CORPUS_ROOT/$name" ] && seeds=("$CORPUS_ROOT/$name")
  # MarbleRun's own manifests are not ours to keep in the repository (their
  # license is not ours): the manifest harness reads them, read-only, from
  # ../shared when it is there.
  if [ "$name" = fuzz_manifest ] && [ -d "$SHARED_COMPAT" ]; then seeds+=("$SHARED_COMPAT"); fi
  mkdir -p "$artifacts/$name"
  if ! "$f" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name/" "$work" "${seeds[@]}" >"$log" 2>&1; then
    cat "$log"; echo "fuzz: $name FAILED; crash input kept in $artifacts/$name/"; exit 1
  fi
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
  # libFuzzer's own count of the inputs it started from (the work dir is empty)
  seeded=$(grep -oE 'INFO: seed corpus: files: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  echo "fuzz: $name ok, $execs executions in ${SECS}s from $seeded kept inputs (${#regs[@]} regression inputs replayed)"
  rm -rf "$work" "$log"
  ran=$((ran + 1))
done
rm -rf "$artifacts"
if [ "$(fingerprint)" != "$before" ]; then
  echo "fuzz: the runs changed $CORPUS_ROOT or $REGRESSIONS in the checkout"
  exit 1
fi
echo "fuzz: $ran harnesses ran clean"
