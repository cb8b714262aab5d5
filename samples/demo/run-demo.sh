#!/usr/bin/env bash
# Cairn end-to-end demo: a voting app of three confidential services.
#
#   bash samples/demo/run-demo.sh [BUILD_DIR]      (what `make demo` runs)
#
# 1. starts a Coordinator in simulation mode (temp state dir, ephemeral ports)
# 2. the operator sets samples/demo/manifest.json with the CLI
# 3. starts demo-ballot, demo-tally and demo-web through cairn-premain: each
#    proves itself to the Coordinator and receives its TLS certificate and the
#    shared ballot key; they talk to each other over mutual TLS
# 4. an outsider verifies the deployment with the CLI (certificate root,
#    manifest verify) and then talks to the frontend over HTTPS trusting ONLY
#    the deployment's root certificate
# Everything it starts is stopped on exit (also on failure). Exit code 0 only
# when every step succeeded. Set DEMO_KEEP=1 to keep the temp dir for a look.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT_DIR/$BUILD" ;; esac
BIN="$BUILD/bin"
MANIFEST="$ROOT_DIR/samples/demo/manifest.json"

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { echo; bold "== $*"; }
say() { echo "   $*"; }
die() { echo "demo: FAILED: $*" >&2; exit 1; }

for b in cairn-coordinator cairn cairn-premain demo-web demo-ballot demo-tally; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing; build first (make build, or cmake --build $BUILD)"
done
command -v curl >/dev/null || die "curl is not installed (scripts/install-deps.sh installs it)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo.XXXXXX")
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ $rc -ne 0 ]; then
    echo "demo: logs of the failed run:" >&2
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $(basename "$f")" >&2; tail -n 20 "$f" >&2; }; done
  fi
  if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "demo: kept $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until file $1 exists (a service writes it once it listens), up to $2 s.
wait_file() {
  local i=0
  while [ ! -s "$1" ]; do
    i=$((i + 1))
    [ $i -le $(($2 * 20)) ] || return 1
    sleep 0.05
  done
}
json_field() { sed -n "s/.*\"$2\":\"\\([^\"]*\\)\".*/\\1/p" "$1"; }

# The operator and the outsider each have their own CLI config dir, so the
# outsider's root-certificate cache starts empty (trust on first use).
OPS="$WORK/operator"
OUT="$WORK/outsider"
mkdir -p "$OPS" "$OUT"

step "1. Start the Coordinator (simulation mode: no TEE on this machine)"
"$BIN/cairn-coordinator" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 \
  --seal-dir "$WORK/coordinator-state" --ready-file "$WORK/coordinator.json" >"$WORK/coordinator.log" 2>&1 &
PIDS+=($!)
wait_file "$WORK/coordinator.json" 20 || die "the Coordinator did not start (see coordinator.log)"
CLIENT=$(json_field "$WORK/coordinator.json" client)
MESH=$(json_field "$WORK/coordinator.json" mesh)
[ -n "$CLIENT" ] && [ -n "$MESH" ] || die "cannot read the Coordinator's addresses"
say "client API https://$CLIENT   mesh API $MESH   (pid ${PIDS[0]})"
STATUS=$(XDG_CONFIG_HOME=$OPS "$BIN/cairn" status "$CLIENT" --insecure 2>"$WORK/cli.log") \
  || die "cairn status failed: $(tail -n1 "$WORK/cli.log")"
say "$STATUS"

step "2. The operator sets the manifest (samples/demo/manifest.json)"
say "3 marbles: web (public HTTPS), ballot and tally (mutual TLS), and a shared 256-bit ballot key"
XDG_CONFIG_HOME=$OPS "$BIN/cairn" manifest set "$MANIFEST" "$CLIENT" --insecure 2>"$WORK/cli.log" \
  | sed 's/^/   /' || die "manifest set failed: $(tail -n1 "$WORK/cli.log")"
XDG_CONFIG_HOME=$OPS "$BIN/cairn" certificate root "$CLIENT" --insecure -o "$WORK/operator-root.pem" \
  2>>"$WORK/cli.log" || die "cannot get the root certificate"

# Starts marble $1 through cairn-premain in its own directory; extra env in "$@".
# cairn-premain authenticates the Coordinator with the operator's root
# certificate before it accepts any configuration from it.
start_marble() {
  local type=$1
  shift
  mkdir -p "$WORK/$type"
  (cd "$WORK/$type" && exec env EDG_MARBLE_TYPE="$type" EDG_MARBLE_COORDINATOR_ADDR="$MESH" \
    EDG_MARBLE_UUID_FILE="$WORK/$type/uuid" EDG_MARBLE_DNS_NAMES=localhost,127.0.0.1 \
    CAIRN_COORDINATOR_ROOT_CA="$WORK/operator-root.pem" CAIRN_COORDINATOR_CLIENT_ADDR="$CLIENT" \
    CAIRN_EVIDENCE=sim DEMO_LISTEN=127.0.0.1:0 DEMO_READY_FILE="$WORK/$type.port" "$@" \
    "$BIN/cairn-premain" -- "$BIN/demo-$type") >"$WORK/$type.log" 2>&1 &
  PIDS+=($!)
  wait_file "$WORK/$type.port" 20 || die "marble $type did not come up (see $type.log)"
  say "$type: activated by the Coordinator, listening on 127.0.0.1:$(cat "$WORK/$type.port") (pid $!)"
}

step "3. Start the services through cairn-premain (each is activated by the Coordinator)"
start_marble ballot
BALLOT=127.0.0.1:$(cat "$WORK/ballot.port")
start_marble tally DEMO_BALLOT_ADDR="$BALLOT"
TALLY=127.0.0.1:$(cat "$WORK/tally.port")
start_marble web DEMO_BALLOT_ADDR="$BALLOT" DEMO_TALLY_ADDR="$TALLY"
WEB_PORT=$(cat "$WORK/web.port")

step "4. An outsider verifies the deployment with the CLI"
say "(with a real TEE this checks the Coordinator's quote against --coordinator-policy;"
say " in simulation there is no quote, so --insecure trusts it on first use)"
XDG_CONFIG_HOME=$OUT "$BIN/cairn" certificate root "$CLIENT" --insecure -o "$WORK/root.pem" 2>>"$WORK/cli.log" \
  || die "cairn certificate root failed: $(tail -n1 "$WORK/cli.log")"
say "cairn certificate root -> root.pem ($(openssl x509 -in "$WORK/root.pem" -noout -subject 2>/dev/null || echo saved))"
XDG_CONFIG_HOME=$OUT "$BIN/cairn" manifest verify "$MANIFEST" "$CLIENT" --insecure 2>>"$WORK/cli.log" \
  | sed 's/^/   cairn manifest verify: /' || die "cairn manifest verify failed: $(tail -n1 "$WORK/cli.log")"
cmp -s "$WORK/root.pem" "$WORK/operator-root.pem" || die "operator and outsider see different roots"
say "the deployment was verified: it runs exactly samples/demo/manifest.json"

step "5. Use the app over HTTPS, trusting only the deployment's root certificate"
web() { curl -sS --fail --max-time 10 --cacert "$WORK/root.pem" "https://localhost:$WEB_PORT$1"; }
web / | sed 's/^/   /' || die "the frontend did not answer over verified TLS"
for choice in cats dogs cats; do
  receipt=$(web "/vote?choice=$choice") || die "voting for $choice failed"
  say "$receipt"
done
RESULTS=$(web /results) || die "results failed"
echo "$RESULTS" | sed 's/^/   results: /'
[ "$(echo "$RESULTS" | grep -c '^cats: 2$')" = 1 ] && [ "$(echo "$RESULTS" | grep -c '^dogs: 1$')" = 1 ] \
  || die "unexpected results"
if curl -sS --max-time 10 "https://localhost:$WEB_PORT/" >/dev/null 2>&1; then
  die "the frontend was trusted without the root certificate"
fi
say "without --cacert the system trust store rejects the frontend, as it should"

step "Done: the frontend answered over TLS verified against the deployment's root; the deployment was verified."
