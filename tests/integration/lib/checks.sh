# Scaffolding shared by the integration test scripts (sourced, bash): a temp
# dir, the processes this test started (stopped by PID, never by name), and
# ok/bad/die counters. Sets no shell options: each test keeps its own.
#
# checks_setup NAME: WORK=$(mktemp -d .../NAME.XXXXXX), PIDS=(), FAILS, CHECKS,
# and an EXIT trap that stops every PID in PIDS, prints the tail of each
# $WORK/*.log when the run failed, removes WORK and exits 1 if a check failed.
# CHECKS_LOG_LINES (20) is how much of each log a failed run prints.
checks_setup() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  PIDS=()
  FAILS=0
  CHECKS=0
  trap checks_cleanup EXIT
}

checks_cleanup() {
  local rc=$? pid f
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ $rc -ne 0 ] || [ "$FAILS" -ne 0 ]; then
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $(basename "$f")"; tail -n "${CHECKS_LOG_LINES:-20}" "$f"; }; done
  fi
  rm -rf "$WORK"
  [ "$FAILS" -eq 0 ] || exit 1
  exit $rc
}

ok() { CHECKS=$((CHECKS + 1)); echo "ok   $*"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*"; }
die() { bad "$*"; exit 1; }
