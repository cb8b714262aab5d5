#!/usr/bin/env bash
# Measures the speed of every libFuzzer harness: each one runs alone (one
# process) for FUZZ_SECONDS (default 20) from a temporary copy of its corpus in
# tests/fuzz/corpus/<name>/ (or $FUZZ_CORPUS_ROOT/<name>/) with a fixed seed, and the script prints one
# Markdown table row per harness: executions, wall seconds, executions per wall
# second, and executions per CPU second (user+sys of the fuzzer). The CPU
# figure is the one to compare between runs: on a shared machine the wall
# clock also counts other people's work.
#
#   bash scripts/fuzz-speed.sh                 # every harness in $BUILD_FUZZ/fuzz
#   FUZZ_SECONDS=60 bash scripts/fuzz-speed.sh fuzz_collateral fuzz_manifest
#
# Expects the harnesses built (scripts/run-fuzzers.sh or scripts/fuzz-long.sh
# build them); nothing is written into the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-20}
BUILD=${BUILD_FUZZ:-build-fuzz}
CORPUS_ROOT=${FUZZ_CORPUS_ROOT:-tests/fuzz/corpus}
shopt -s nullglob
if [ $# -gt 0 ]; then
  harnesses=("$@")
else
  harnesses=()
  for f in "$BUILD"/fuzz/*; do [ -x "$f" ] && harnesses+=("$(basename "$f")"); done
fi
[ ${#harnesses[@]} -gt 0 ] || { echo "fuzz-speed: no harness in $BUILD/fuzz (build them first)" >&2; exit 1; }
echo "| harness | executions | wall s | exec/s (wall) | exec/s (CPU) |"
echo "|---|---:|---:|---:|---:|"
for name in "${harnesses[@]}"; do
  bin=$BUILD/fuzz/$name
  work=$(mktemp -d)
  [ -d "$CORPUS_ROOT/$name" ] && cp -r "$CORPUS_ROOT/$name"/. "$work"/
  log=$(mktemp)
  tf=$(mktemp)
  start=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$tf" "$bin" -seed=1 -max_total_time="$SECS" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 "$work" >"$log" 2>&1 || true
  end=$(date +%s.%N)
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  cpu=$(awk '{print $1 + $2}' "$tf")
  if grep -qE '^==[0-9]+==ERROR|SUMMARY: |deadly signal' "$log"; then note=" (stopped: $(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-z-]+|deadly signal|SUMMARY: [^ ]+ [^ ]+' "$log"))"; else note=""; fi
  awk -v n="$name" -v e="$execs" -v s="$start" -v t="$end" -v c="$cpu" -v note="$note" 'BEGIN {
    w = t - s; printf "| %s%s | %d | %.1f | %.0f | %.0f |\n", n, note, e, w, (w > 0 ? e / w : 0), (c > 0 ? e / c : 0) }'
  rm -rf "$work" "$log" "$tf"
done
