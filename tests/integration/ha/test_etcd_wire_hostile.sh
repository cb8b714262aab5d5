#!/usr/bin/env bash
# The etcd client's gRPC transport against a hostile stand-in for etcd
# (fake_etcd_grpc.py, python3-h2): broken framing, a compressed message, an
# announced length far over the cap, no gRPC status, an error status with
# control bytes in its message, HTTP 503, a message that is not protobuf, a
# key holding NUL. Each one is refused with an error that names it, nothing
# crashes, and an unavailable member is skipped for the next on a read
# (never on a transaction: it may have been applied).
. "$(dirname "$0")/lib.sh"
TOOL=$CAIRN_TEST_BIN_DIR/etcd_call_tool
[ -x "$TOOL" ] || { echo "SKIP: $TOOL not built"; exit 77; }
/usr/bin/python3 -c "import h2" 2>/dev/null || { echo "SKIP: python3-h2 not installed"; exit 77; }

# fake MODE... : starts the stand-in, sets FP (its port)
fake() {
  rm -f "$WORK/port"
  /usr/bin/python3 "$(dirname "$0")/fake_etcd_grpc.py" "$WORK/port" "$@" 2>>"$WORK/fake.log" &
  FAKE_PID=$!
  PIDS+=("$FAKE_PID")
  for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
  FP=$(cat "$WORK/port")
}
unfake() { kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; }
# call ARGS...: one call; OUT = the tool's line, or "EXIT n" when it died (a sanitizer report exits non-zero)
call() { OUT=$("$TOOL" "$@" 2>>"$WORK/tool.err") || OUT="EXIT $?"; CODE=$OUT; }

fake ok ok
call "127.0.0.1:$FP" get /h/
check "a well-formed Range answer is read" eq "$OUT" "OK 1 /h/a"
call "127.0.0.1:$FP" txn /h/a
check "a well-formed Txn answer is read" eq "$OUT" "OK 1 /h/a"
unfake

expect_err() {   # expect_err MODE OP TEXT: one call answered with MODE fails naming TEXT
  fake "$1"
  call "127.0.0.1:$FP" "$2" /h/
  check "$1 ($2): refused" eval '[ "${OUT%% *}" = ERR ]'
  check "$1 ($2): the error says \"$3\"" contains "$OUT" "$3"
  unfake
}
expect_err badlen get "gRPC message of 100 bytes in an answer of 10"
expect_err compressed txn "compressed"
expect_err huge get "exceeds the limit"
expect_err notrailers txn "without grpc-status"
expect_err http503 get "HTTP 503"
expect_err garbage get "malformed RangeResponse"
expect_err garbage txn "malformed TxnResponse"
expect_err nulkey get "NUL"
expect_err unavail txn "Unavailable: no leader"
check "control bytes of grpc-message are not passed on" eval \
  '[ "$(printf %s "$OUT" | tr -d "[:print:]" | wc -c)" = 0 ]'

# unavailable on the first member: a read goes on to the next, a transaction does not
fake unavail ok unavail ok
call "127.0.0.1:$FP,127.0.0.1:$FP" get /h/
check "a read answered Unavailable moves to the next member" eq "$OUT" "OK 1 /h/a"
call "127.0.0.1:$FP,127.0.0.1:$FP" txn /h/a
check "a transaction answered Unavailable is not resent" contains "$OUT" "ERR"
unfake
check "the stand-in saw no protocol error from the client" eval '! grep -q "ProtocolError\|Traceback" "$WORK/fake.log"'
check "no sanitizer report from the client" eval '! grep -q "Sanitizer\|runtime error" "$WORK/tool.err"'
finish
