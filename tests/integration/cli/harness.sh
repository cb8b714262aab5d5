# Shared helpers for the CLI/premain integration tests (sourced, bash).
# Real binaries on 127.0.0.1 with ephemeral ports (port 0 + --ready-file),
# a temp dir per test, and only processes started here are stopped, by PID.
set -euo pipefail

BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
# WORK, PIDS (stopped by PID on exit), ok/bad/die: ../lib/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/checks.sh"
CHECKS_LOG_LINES=15
checks_setup cairn-it
finish() { echo "$CHECKS checks, $FAILS failed"; }

wait_file() {
  local i=0
  while [ ! -s "$1" ]; do
    i=$((i + 1)); [ $i -le $((${2:-20} * 20)) ] || return 1; sleep 0.05
  done
}
json_field() { sed -n "s/.*\"$2\":\"\\([^\"]*\\)\".*/\\1/p" "$1"; }

# start_coordinator NAME: sets NAME_CLIENT, NAME_MESH and NAME_METRICS.
start_coordinator() {
  local n=$1
  "$BIN/cairn-coordinator" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
    --seal-dir "$WORK/$n-state" --ready-file "$WORK/$n.json" >"$WORK/$n.log" 2>&1 &
  PIDS+=($!)
  wait_file "$WORK/$n.json" 20 || { echo "coordinator $n did not start"; exit 1; }
  printf -v "${n}_CLIENT" '%s' "$(json_field "$WORK/$n.json" client)"
  printf -v "${n}_MESH" '%s' "$(json_field "$WORK/$n.json" mesh)"
  printf -v "${n}_METRICS" '%s' "$(json_field "$WORK/$n.json" metrics)"
}

# cli ARGS...: the CLI with this test's own config dir (root cache).
cli() { XDG_CONFIG_HOME="$WORK/xdg" "$BIN/cairn" "$@"; }

# expect_error NAME PATTERN CMD...: CMD must exit non-zero and print exactly
# one error line on stderr (the --insecure warning aside) matching PATTERN.
expect_error() {
  local name=$1 pat=$2
  shift 2
  local rc=0
  "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  local lines
  lines=$(grep -Ev '^cairn: (WARNING|note)' "$WORK/err" | grep -c . || true)
  if [ $rc -eq 0 ]; then
    bad "$name: exit code 0 (expected failure)"
  elif [ "$lines" != 1 ]; then
    bad "$name: $lines error lines (expected 1): $(tr '\n' '|' <"$WORK/err")"
  elif ! grep -v '^cairn: WARNING' "$WORK/err" | grep -Eq -- "$pat"; then
    bad "$name: error does not match /$pat/: $(grep -v '^cairn: WARNING' "$WORK/err")"
  else
    ok "$name: rc=$rc: $(grep -v '^cairn: WARNING' "$WORK/err")"
  fi
}

# start_nginx DIR SERVER_BODY: nginx (foreground, one process) serving
# SERVER_BODY inside `server { listen 127.0.0.1:PORT ssl; ... }` on a free
# port; sets NGINX_PORT. Returns 77 when nginx is not installed.
start_nginx() {
  local dir=$1 body=$2 ng
  ng=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$ng" ] || return 77
  mkdir -p "$dir/tmp"
  NGINX_PORT=""
  for attempt in 1 2 3 4 5; do
    local port=$((20000 + RANDOM % 40000)) npid
    cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events {}
http {
  access_log $dir/access.log;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  default_type application/json;
  server {
    listen 127.0.0.1:$port ssl;
    $body
  }
}
CONF
    "$ng" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
    npid=$!
    for i in $(seq 60); do
      if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
        sleep 0.05
        # ours only if our nginx is still alive (the port may be someone else's)
        if kill -0 $npid 2>/dev/null; then NGINX_PORT=$port; PIDS+=($npid); return 0; fi
        break
      fi
      kill -0 $npid 2>/dev/null || break
      sleep 0.05
    done
    kill $npid 2>/dev/null || true; wait $npid 2>/dev/null || true
  done
  return 1
}
