#!/usr/bin/env bash
# Tests the fuzzing scripts (scripts/fuzz-long.sh, scripts/run-fuzzers.sh,
# scripts/fuzz-speed.sh) on two toy libFuzzer targets built here with clang,
# in a temporary directory: the campaign reaches its execution target across
# invocations (resume), records a crash and stops that harness, caps the jobs,
# merges new coverage into the kept corpus; the CI run starts from the kept
# corpus without writing to it, replays regression inputs and fails on one
# that crashes. Skips (77) without clang. Usage: test_fuzz_scripts.sh SRC_DIR
set -euo pipefail
SRC=$(cd "${1:?source dir}" && pwd)
if ! command -v clang >/dev/null; then
  echo "SKIP: clang not found (needed to build libFuzzer targets)"
  exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$T/b1/fuzz" "$T/b2/fuzz" "$T/corpus/toy_ok" "$T/reg"
toy=$SRC/tests/fuzz/scripts/toy_harness.c
clang -g -O1 -fsanitize=fuzzer,address "$toy" -o "$T/b1/fuzz/toy_ok"
clang -g -O1 -fsanitize=fuzzer,address -DTOY_CRASH "$toy" -o "$T/b1/fuzz/toy_crash"
cp "$T/b1/fuzz/toy_ok" "$T/b2/fuzz/toy_ok"
printf 'zz' >"$T/corpus/toy_ok/seed"

# make fuzz-long's script, first invocation: both harnesses found on their own.
export FUZZ_NO_BUILD=1 FUZZ_CORPUS_ROOT=$T/corpus FUZZ_CAMPAIGN_DIR=$T/camp
rc=0
BUILD_FUZZ=$T/b1 FUZZ_TARGET_EXECS=30000 FUZZ_SLICE=20 FUZZ_JOBS=5 \
  bash "$SRC/scripts/fuzz-long.sh" >"$T/run1.log" 2>&1 || rc=$?
cat "$T/run1.log"
[ "$rc" = 1 ] || fail "a campaign with a crash must exit 1, got $rc"
grep -q 'FUZZ_JOBS=5 capped at [12]' "$T/run1.log" || fail "jobs not capped"
[ "$(cat "$T/camp/toy_ok/execs")" -eq 30000 ] || fail "toy_ok: $(cat "$T/camp/toy_ok/execs") executions, want 30000"
n=$(find "$T/camp/toy_crash/crashes" -type f | wc -l)
[ "$n" -ge 1 ] || fail "toy_crash: no crash input recorded"
head -c1 "$T/camp/toy_crash/crashes"/* | grep -q '!' || fail "the recorded crash input is not the crashing one"
grep -q '^| toy_ok | 30000 |' "$T/run1.log" || fail "summary row for toy_ok missing"
grep -qE '^\| toy_crash \| [0-9]+ \| [0-9]+ \| [0-9]+ \| [1-9]' "$T/run1.log" || fail "summary row for toy_crash missing"
# the merge added the inputs reaching the toy's branches to the kept corpus
[ "$(find "$T/corpus/toy_ok" -type f | wc -l)" -gt 1 ] || fail "no new coverage merged into the kept corpus"

# second invocation: toy_ok is done, toy_crash is not fuzzed again (its crash is unfixed)
BUILD_FUZZ=$T/b1 FUZZ_TARGET_EXECS=30000 FUZZ_SLICE=20 bash "$SRC/scripts/fuzz-long.sh" >"$T/run2.log" 2>&1 || true
grep -qE '^[0-9]{2}:[0-9]{2}:[0-9]{2} toy_(ok|crash):' "$T/run2.log" && fail "a finished or crashed harness ran again"
# third, through `make fuzz-long` (deps taken as done: no apt-get in a test):
# a higher target continues from the executions already reached
BUILD_FUZZ=$T/b1 FUZZ_TARGET_EXECS=50000 FUZZ_SLICE=20 FUZZ_HARNESSES=toy_ok make -s -C "$SRC" -o deps fuzz-long \
  >"$T/run3.log" 2>&1 ||
  fail "resumed campaign failed: $(cat "$T/run3.log")"
grep -q 'toy_ok: +20000 executions' "$T/run3.log" || fail "resume did not run the 20000 missing executions: $(cat "$T/run3.log")"
[ "$(cat "$T/camp/toy_ok/execs")" -eq 50000 ] || fail "toy_ok total $(cat "$T/camp/toy_ok/execs"), want 50000"
# merge only, minimizing: no fuzzing; duplicates leave the kept corpus, coverage stays
printf 'zz' >"$T/corpus/toy_ok/dup1"
printf 'zz' >"$T/corpus/toy_ok/dup2"
n_before=$(find "$T/corpus/toy_ok" -type f | wc -l)
BUILD_FUZZ=$T/b1 FUZZ_MERGE_ONLY=1 FUZZ_MINIMIZE=1 bash "$SRC/scripts/fuzz-long.sh" toy_ok >"$T/run5.log" 2>&1 ||
  fail "merge-only run failed: $(cat "$T/run5.log")"
grep -qE '^[0-9]{2}:[0-9]{2}:[0-9]{2} toy_ok:' "$T/run5.log" && fail "FUZZ_MERGE_ONLY fuzzed"
n_after=$(find "$T/corpus/toy_ok" -type f | wc -l)
[ "$n_after" -ge 1 ] && [ "$n_after" -lt "$n_before" ] || fail "minimizing kept $n_after of $n_before files"
# (count files that are exactly the two bytes "zz": a grep for a line "zz" also
# matched longer fuzzer-made inputs such as "zz\nq", which reach other loop
# counts in the toy and are rightly kept: the check flaked)
printf 'zz' >"$T/zz"
ndup=0
for f in "$T/corpus/toy_ok"/*; do cmp -s "$f" "$T/zz" && ndup=$((ndup + 1)); done
[ "$ndup" -le 1 ] || fail "duplicate inputs survived minimizing ($ndup copies of \"zz\")"
# a budget bounds an invocation even below the target
start=$(date +%s)
BUILD_FUZZ=$T/b1 FUZZ_TARGET_EXECS=1000000000 FUZZ_SLICE=600 FUZZ_BUDGET=6 FUZZ_MERGE=0 \
  bash "$SRC/scripts/fuzz-long.sh" toy_ok >"$T/run4.log" 2>&1 || fail "budgeted run failed"
[ $(($(date +%s) - start)) -lt 60 ] || fail "FUZZ_BUDGET=6 did not bound the run"

# scripts/run-fuzzers.sh (CI): starts from the kept corpus, leaves it alone.
before=$(find "$T/corpus" -type f -printf '%p %s %T@\n' | sort | md5sum)
BUILD_FUZZ=$T/b2 FUZZ_REGRESSIONS=$T/reg FUZZ_SECONDS=2 bash "$SRC/scripts/run-fuzzers.sh" >"$T/ci1.log" 2>&1 ||
  fail "run-fuzzers failed: $(cat "$T/ci1.log")"
grep -q 'fuzz: toy_ok ok' "$T/ci1.log" || fail "toy_ok did not run"
[ "$(find "$T/corpus" -type f -printf '%p %s %T@\n' | sort | md5sum)" = "$before" ] || fail "run-fuzzers wrote into the kept corpus"
kept=$(find "$T/corpus/toy_ok" -type f | wc -l)
grep -q "fuzz: toy_ok ok, [0-9]* executions in 2s from $kept kept inputs" "$T/ci1.log" ||
  fail "run-fuzzers did not start from the $kept kept inputs: $(cat "$T/ci1.log")"
# a regression input that crashes fails the run, naming it
mkdir -p "$T/reg/toy_ok"
printf 'cairn-regression\n' >"$T/reg/toy_ok/crash-1"
if BUILD_FUZZ=$T/b2 FUZZ_REGRESSIONS=$T/reg FUZZ_SECONDS=1 bash "$SRC/scripts/run-fuzzers.sh" >"$T/ci2.log" 2>&1; then
  fail "run-fuzzers passed with a crashing regression input"
fi
grep -q 'toy_ok FAILED on a regression input' "$T/ci2.log" || fail "the failure does not name the regression input"

# scripts/fuzz-speed.sh: one table row per harness
BUILD_FUZZ=$T/b2 FUZZ_SECONDS=1 bash "$SRC/scripts/fuzz-speed.sh" >"$T/speed.log" 2>&1 || fail "fuzz-speed failed"
grep -qE '^\| toy_ok \| [1-9][0-9]* \|' "$T/speed.log" || fail "no speed row: $(cat "$T/speed.log")"
echo "PASS: fuzz scripts"
