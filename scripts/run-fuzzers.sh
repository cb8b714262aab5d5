#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan+UBSan) and runs each one for
# FUZZ_SECONDS (default 5) on its seed corpus in tests/fuzz/corpus/<name>/.
# Prints the executions per harness. Skips with a message when clang is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-5}
if ! command -v clang >/dev/null; then
  echo "fuzz: clang not found, skipping the fuzz harnesses"
  exit 0
fi
BUILD=${BUILD_FUZZ:-build-fuzz}
CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DCAIRN_FUZZ=ON -DCAIRN_SANITIZE=ON \
  -DCAIRN_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
shopt -s nullglob
ran=0
for f in "$BUILD"/fuzz/*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  seeds=tests/fuzz/corpus/$name
  work=$(mktemp -d)
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null || true
  log=$(mktemp)
  if ! "$f" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$work" >"$log" 2>&1; then
    cat "$log"; echo "fuzz: $name FAILED"; exit 1
  fi
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
  echo "fuzz: $name ok, $execs executions in ${SECS}s"
  rm -rf "$work" "$log"
  ran=$((ran + 1))
done
echo "fuzz: $ran harnesses ran clean"
