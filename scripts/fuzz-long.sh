#!/usr/bin/env bash
# A long, resumable libFuzzer campaign over every harness (`make fuzz-long`).
#
# Every executable in $BUILD_FUZZ/fuzz/ is a harness (whatever registered itself
# with cairn_add_fuzzer(), so new harnesses join without editing this script).
# Each harness is fuzzed in slices of at most FUZZ_SLICE seconds, one process
# per slice and at most FUZZ_JOBS slices at once, until it has reached
# FUZZ_TARGET_EXECS executions in total (over all invocations) or the
# invocation's FUZZ_BUDGET seconds are spent. The state lives in
# $FUZZ_CAMPAIGN_DIR/<harness>/: the growing corpus, crash artifacts, the
# executions and seconds so far, one log per slice. Run the script again and it
# continues where it stopped; harnesses that reached the target are skipped.
# At the end, the new coverage is merged into the corpus kept in the repository
# (tests/fuzz/corpus/<harness>/) with libFuzzer's -merge=1, which adds only the
# inputs that reach features the kept corpus does not.
#
#   make fuzz-long                                   # defaults below
#   FUZZ_BUDGET=3600 bash scripts/fuzz-long.sh       # one hour of this campaign
#   bash scripts/fuzz-long.sh fuzz_collateral        # only these harnesses
#   make fuzz-long FUZZ_HARNESSES="fuzz_collateral fuzz_manifest"   # the same
#
# Settings (environment):
#   FUZZ_TARGET_EXECS  executions per harness to reach              (10000000)
#   FUZZ_JOBS          harnesses fuzzed at once, at most 2 here     (2)
#   FUZZ_SLICE         seconds per fuzzer run (-max_total_time)     (600)
#   FUZZ_BUDGET        wall seconds for this invocation, 0 = none   (0)
#   FUZZ_CAMPAIGN_DIR  campaign state                   ($BUILD_FUZZ/campaign)
#   FUZZ_CORPUS_ROOT   kept corpora, one dir per harness            (tests/fuzz/corpus)
#   FUZZ_MERGE         1: merge new coverage into FUZZ_CORPUS_ROOT   (1)
#   FUZZ_MINIMIZE      1: instead rebuild each kept corpus as the minimal
#                      set covering kept + campaign corpus           (0)
#   FUZZ_MERGE_ONLY    1: no fuzzing, only the merge (or minimizing) (0)
#   BUILD_FUZZ         the clang fuzz build directory               (build-fuzz)
#   FUZZ_NO_BUILD      1: use the harnesses already built            (0)
# Crash inputs land in $FUZZ_CAMPAIGN_DIR/<harness>/crashes/; a harness that
# crashed is not fuzzed further (fix it, add the input to
# tests/fuzz/regressions/<harness>/, delete crashes/, run again).
set -euo pipefail
# The whole script is one compound command, read before it starts: a campaign
# runs for hours, and bash would otherwise read an edited file (git pull)
# from the middle.
{
cd "$(dirname "$0")/.."
TARGET=${FUZZ_TARGET_EXECS:-10000000}
JOBS=${FUZZ_JOBS:-2}
SLICE=${FUZZ_SLICE:-600}
BUDGET=${FUZZ_BUDGET:-0}
BUILD=${BUILD_FUZZ:-build-fuzz}
CAMPAIGN=${FUZZ_CAMPAIGN_DIR:-$BUILD/campaign}
CORPUS_ROOT=${FUZZ_CORPUS_ROOT:-tests/fuzz/corpus}
MERGE=${FUZZ_MERGE:-1}
MINIMIZE=${FUZZ_MINIMIZE:-0}
# The machine this runs on is shared: never more parallel fuzzers than cores,
# and never more than 2 unless FUZZ_JOBS_MAX says the machine is ours.
max_jobs=${FUZZ_JOBS_MAX:-2}
cores=$(nproc)
[ "$max_jobs" -le "$cores" ] || max_jobs=$cores
if [ "$JOBS" -gt "$max_jobs" ]; then
  echo "fuzz-long: FUZZ_JOBS=$JOBS capped at $max_jobs"
  JOBS=$max_jobs
fi
[ "$JOBS" -ge 1 ] || JOBS=1

if ! command -v clang >/dev/null; then
  echo "fuzz-long: clang not found, nothing to fuzz"
  exit 0
fi
if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DCAIRN_FUZZ=ON -DCAIRN_SANITIZE=ON \
    -DCAIRN_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$JOBS"
fi

shopt -s nullglob
harnesses=()
# shellcheck disable=SC2086 # a list of names
[ $# -eq 0 ] && [ -n "${FUZZ_HARNESSES:-}" ] && set -- $FUZZ_HARNESSES
if [ $# -gt 0 ]; then
  for n in "$@"; do
    [ -x "$BUILD/fuzz/$n" ] || { echo "fuzz-long: no harness $BUILD/fuzz/$n" >&2; exit 2; }
    harnesses+=("$n")
  done
else
  for f in "$BUILD"/fuzz/*; do [ -f "$f" ] && [ -x "$f" ] && harnesses+=("$(basename "$f")"); done
fi
[ ${#harnesses[@]} -gt 0 ] || { echo "fuzz-long: no harness in $BUILD/fuzz" >&2; exit 2; }

state() { cat "$CAMPAIGN/$1/$2" 2>/dev/null || echo 0; }
ncrash() { local c=("$CAMPAIGN/$1"/crashes/*); echo ${#c[@]}; }

for n in "${harnesses[@]}"; do
  mkdir -p "$CAMPAIGN/$n/corpus" "$CAMPAIGN/$n/crashes" "$CAMPAIGN/$n/logs"
done

# One slice of one harness, run in the background: fuzzes, then adds the
# slice's executions and seconds to the harness's totals (no other process
# writes them: a harness never runs twice at once).
run_slice() {
  local n=$1 secs=$2 d=$CAMPAIGN/$1
  local done_execs left seeds=() log start end execs rc=0
  done_execs=$(state "$n" execs)
  left=$((TARGET - done_execs))
  [ -d "$CORPUS_ROOT/$n" ] && seeds=("$CORPUS_ROOT/$n")
  log=$d/logs/$(date -u +%Y%m%dT%H%M%S).log
  start=$(date +%s.%N)
  # The first corpus directory is the only one libFuzzer writes to: the kept
  # corpus is read, never written. SIGINT makes libFuzzer print its stats.
  timeout -s INT -k 60 $((secs + 120)) "$BUILD/fuzz/$n" -max_total_time="$secs" -runs="$left" \
    -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$d/crashes/" \
    "$d/corpus" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
  if [ -z "$execs" ]; then # no final stats (killed): the last status line
    execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  fi
  execs=${execs:-0}
  echo $((done_execs + execs)) >"$d/execs"
  awk -v a="$(state "$n" seconds)" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", a + e - s }' >"$d/seconds.new"
  mv "$d/seconds.new" "$d/seconds"
  echo "$(date -u +%H:%M:%S) $n: +$execs executions in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", e - s }') s (total $((done_execs + execs)), exit $rc)"
}

t0=$(date +%s)
declare -A pid_of=()
next=0
echo "fuzz-long: ${#harnesses[@]} harnesses, target $TARGET executions each, $JOBS at once, slices of ${SLICE}s, budget ${BUDGET}s, state in $CAMPAIGN"
while :; do
  # reap finished slices
  for n in "${!pid_of[@]}"; do
    if ! kill -0 "${pid_of[$n]}" 2>/dev/null; then
      wait "${pid_of[$n]}" || true
      unset "pid_of[$n]"
    fi
  done
  left_budget=$SLICE # no budget: every slice is whole
  if [ "$BUDGET" -gt 0 ]; then left_budget=$((BUDGET - ($(date +%s) - t0))); fi
  # pick the next harness (round robin) that is idle, below target, not crashed
  pick=""
  if [ ${#pid_of[@]} -lt "$JOBS" ] && [ "$left_budget" -ge 5 ] && [ "${FUZZ_MERGE_ONLY:-0}" != 1 ]; then
    for ((k = 0; k < ${#harnesses[@]}; k++)); do
      n=${harnesses[$(((next + k) % ${#harnesses[@]}))]}
      [ -n "${pid_of[$n]:-}" ] && continue
      [ "$(state "$n" execs)" -ge "$TARGET" ] && continue
      [ "$(ncrash "$n")" -gt 0 ] && continue
      pick=$n
      next=$(((next + k + 1) % ${#harnesses[@]}))
      break
    done
  fi
  if [ -n "$pick" ]; then
    secs=$SLICE
    [ "$left_budget" -lt "$secs" ] && secs=$left_budget
    run_slice "$pick" "$secs" &
    pid_of[$pick]=$!
    continue
  fi
  [ ${#pid_of[@]} -eq 0 ] && break
  sleep 1
done

crashed=0
for n in "${harnesses[@]}"; do
  [ "$(ncrash "$n")" -gt 0 ] && crashed=$((crashed + 1))
done

# Fold the campaign's new coverage into the kept corpus. -merge=1 runs each
# input in a child process, so a crashing input does not stop it.
if [ "$MERGE" = 1 ] || [ "$MINIMIZE" = 1 ]; then
  for n in "${harnesses[@]}"; do
    kept=$CORPUS_ROOT/$n
    mkdir -p "$kept"
    before=$(find "$kept" -type f | wc -l)
    mlog=$CAMPAIGN/$n/logs/merge.log
    if [ "$MINIMIZE" = 1 ]; then
      fresh=$(mktemp -d)
      if "$BUILD/fuzz/$n" -merge=1 -timeout=25 -rss_limit_mb=2048 "$fresh" "$kept" \
        "$CAMPAIGN/$n/corpus" >"$mlog" 2>&1; then
        find "$kept" -type f -delete
        cp "$fresh"/* "$kept"/ 2>/dev/null || true
      else
        echo "fuzz-long: $n: minimizing failed, see $mlog"
      fi
      rm -rf "$fresh"
    else
      "$BUILD/fuzz/$n" -merge=1 -timeout=25 -rss_limit_mb=2048 "$kept" "$CAMPAIGN/$n/corpus" \
        >"$mlog" 2>&1 || echo "fuzz-long: $n: merge failed, see $mlog"
    fi
    after=$(find "$kept" -type f | wc -l)
    bytes=$(find "$kept" -type f -printf '%s\n' | awk '{ t += $1 } END { print t + 0 }')
    echo "fuzz-long: $n: kept corpus $before -> $after files, $bytes bytes"
  done
fi

echo
echo "| harness | executions | fuzzing s | exec/s | crashes | hours to $TARGET at this rate |"
echo "|---|---:|---:|---:|---:|---:|"
for n in "${harnesses[@]}"; do
  e=$(state "$n" execs)
  s=$(state "$n" seconds)
  c=$(ncrash "$n")
  awk -v n="$n" -v e="$e" -v s="$s" -v c="$c" -v t="$TARGET" -v j="$JOBS" 'BEGIN {
    r = (s > 0 ? e / s : 0)
    h = (e >= t ? "reached" : (c > 0 ? "stopped: crash" : (r > 0 ? sprintf("%.1f", (t - e) / r / 3600) : "?")))
    printf "| %s | %d | %.0f | %.0f | %d | %s |\n", n, e, s, r, c, h }'
done
if [ "$crashed" -gt 0 ]; then
  echo "fuzz-long: $crashed harness(es) crashed; inputs in $CAMPAIGN/<harness>/crashes/"
  exit 1
fi
exit 0
}
