# Harness for the ported MarbleRun integration suite (sourced). It plays the
# part of MarbleRun's test/integration/framework against the real
# cairn-coordinator:
# - the Coordinator is configured by MarbleRun's environment variables
#   (EDG_COORDINATOR_MESH_ADDR, _CLIENT_ADDR, _DNS_NAMES, _SEAL_DIR,
#   EDG_DEBUG_LOGGING, OE_SIMULATION=1), port 0 plus --ready-file (the only
#   flag) so that no port is raced for; "cancel" is SIGKILL, as Go's
#   exec.CommandContext does;
# - the client API is driven with curl and openssl, the way MarbleRun's api
#   package does it (JSON bodies, RSA-OAEP-SHA256 recovery data, PKCS#1 v1.5
#   signatures, the root certificate from /api/v2/quote as trust anchor);
# - a marble = one activation (mr_activate) + what MarbleRun's test marble
#   does after it (mr_testmarble.py, Python's ssl/http only).
# Only PIDs started here are stopped.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${CAIRN_BIN_DIR:?CAIRN_BIN_DIR not set}/cairn-coordinator
TOOL=${CAIRN_TEST_BIN_DIR:-$CAIRN_BIN_DIR/../tests}/activate_tool
DATA=$HERE/../../data/manifests/marblerun-scenarios
KEYS=${MR_KEYS_DIR:?MR_KEYS_DIR not set}
for t in curl jq openssl base64 python3; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
[ -x "$BIN" ] || { echo "SKIP: $BIN not built"; exit 77; }
[ -x "$TOOL" ] || { echo "SKIP: $TOOL not built"; exit 77; }

WORK=$(mktemp -d /tmp/cairn-mr.XXXXXX)
PIDS=()
FAILS=0
CHECKS=0
PENDING=()
CODE=""
BODY=""
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# The test marble's identity. MarbleRun's framework puts the built test
# marble's identity into the package its marbles use; ours is "worker" in
# tests/data/manifests/marblerun-scenarios. A simulation Coordinator does not
# check it, but the manifest carries it all the same.
MARBLE_UNIQUEID=6e6f742d612d7265616c2d756e6971756569642d6f662d612d6d6172626c6521
MARBLE_SIGNERID=43c5b08f9cd7a1d4f3d0e9b0c1a6b1e2d3c4b5a6978869504132231405f6e7d8
MARBLE_PRODUCTID=3
MARBLE_SVN=1

# ---------------------------------------------------------------- keys
# MarbleRun's test package generates once per run: two RSA-3096 recovery keys
# (RecoveryPrivateKeyOne/Two), AdminCert (self-signed, serial 42, key =
# RecoveryPrivateKeyOne) and AdminOne/AdminTwo (own RSA-3096 keys). The
# fixture test (mr_keys.sh) makes them once into $KEYS.
for f in rec1.key rec1.pub rec2.key rec2.pub admin.crt admin1.key admin1.crt admin2.key admin2.crt; do
  [ -s "$KEYS/$f" ] || { echo "missing $KEYS/$f (the marblerun_keys fixture did not run)"; exit 1; }
done

# render TEMPLATE OUT: one of our scenario manifests with every string
# "@keys/FILE@" replaced by the PEM in $KEYS/FILE (the keys and certificates
# are made once per run, see mr_keys.sh); a placeholder naming no known file
# is an error, so a typo cannot slip through as a literal string
render() {
  jq --rawfile a "$KEYS/admin.crt" --rawfile a1 "$KEYS/admin1.crt" --rawfile a2 "$KEYS/admin2.crt" \
     --rawfile r1 "$KEYS/rec1.pub" --rawfile r2 "$KEYS/rec2.pub" '
    {"@keys/admin.crt@": $a, "@keys/admin1.crt@": $a1, "@keys/admin2.crt@": $a2,
     "@keys/rec1.pub@": $r1, "@keys/rec2.pub@": $r2} as $k
    | walk(if type == "string" and startswith("@keys/") then
             ($k[.] // error("render: unknown placeholder " + .)) else . end)' "$DATA/$1" >"$2"
}
# with_marble_identity FILE: the test marble's identity into package "worker"
# (what framework.UpdateManifest does to the test manifest)
with_marble_identity() {
  jq --arg u "$MARBLE_UNIQUEID" --arg s "$MARBLE_SIGNERID" --argjson p "$MARBLE_PRODUCTID" --argjson v "$MARBLE_SVN" \
    '.Packages.worker += {UniqueID: $u, SignerID: $s, ProductID: $p, SecurityVersion: $v}' "$1" >"$1.t" && mv "$1.t" "$1"
}
# jqf FILE FILTER [jq args]: edit a manifest in place
jqf() { local f=$1; shift; jq "$@" "$f" >"$f.t" && mv "$f.t" "$f"; }

# ---------------------------------------------------------------- Coordinator
# MR_EXTRA_ENV: more NAME=VALUE for the Coordinator (framework.NewCoordinatorConfig(extraEnv...))
MR_EXTRA_ENV=()
# start_coord NAME: framework.StartCoordinator; seal dir $WORK/NAME/seal kept
# across restarts. Sets CLIENT MESH PID. Returns 1 if the process exits.
start_coord() {
  local name=$1
  mkdir -p "$WORK/$name/seal"
  rm -f "$WORK/$name/ready.json"
  env -i PATH="$PATH" ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} ${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS} \
    ${LSAN_OPTIONS:+LSAN_OPTIONS=$LSAN_OPTIONS} \
    EDG_COORDINATOR_MESH_ADDR=127.0.0.1:0 EDG_COORDINATOR_CLIENT_ADDR=127.0.0.1:0 \
    EDG_COORDINATOR_DNS_NAMES=localhost EDG_COORDINATOR_SEAL_DIR="$WORK/$name/seal" EDG_DEBUG_LOGGING=1 \
    OE_SIMULATION=1 "${MR_EXTRA_ENV[@]}" "$BIN" --ready-file "$WORK/$name/ready.json" >>"$WORK/$name/log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  COORD_NAME=$name
  # up to 60 s: in state 1 the ephemeral RSA-4096 recovery key is made before
  # the listeners open, which takes seconds on a loaded machine
  for _ in $(seq 1 1200); do
    [ -s "$WORK/$name/ready.json" ] && break
    if ! kill -0 "$PID" 2>/dev/null; then
      wait "$PID" 2>/dev/null || true
      echo "coordinator $name exited; log tail:"; tail -5 "$WORK/$name/log"; return 1
    fi
    sleep 0.05
  done
  [ -s "$WORK/$name/ready.json" ] || { echo "coordinator $name not ready"; tail -5 "$WORK/$name/log"; return 1; }
  CLIENT=$(jq -r .client "$WORK/$name/ready.json")
  MESH=$(jq -r .mesh "$WORK/$name/ready.json")
}
# cancel_coord: Go's cmd.Cancel (SIGKILL), then wait
cancel_coord() { kill -9 "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
coord_log() { cat "$WORK/$COORD_NAME/log"; }
SEAL() { echo "$WORK/$COORD_NAME/seal"; }

# ---------------------------------------------------------------- client API
# req METHOD PATH [curl args]: no verification (InsecureSkipVerify / nil root)
req() {
  local m=$1 p=$2; shift 2
  CODE=$(curl -sk -o "$WORK/body" -w '%{http_code}' -X "$m" "https://$CLIENT$p" "$@" || true)
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
# vreq ROOTPEM METHOD PATH [curl args]: the Coordinator verified against a
# pinned root (api.GetStatus(ctx, addr, cert)); CODE=000 if TLS fails
vreq() {
  local r=$1 m=$2 p=$3; shift 3
  CODE=$(curl -s --cacert "$r" -o "$WORK/body" -w '%{http_code}' -X "$m" "https://$CLIENT$p" "$@" || true)
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
# ureq KEY CERT METHOD PATH [curl args]: with a client certificate
ureq() {
  local k=$1 c=$2 m=$3 p=$4; shift 4
  CODE=$(curl -sk --cert "$c" --key "$k" -o "$WORK/body" -w '%{http_code}' -X "$m" "https://$CLIENT$p" "$@" || true)
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
jqv() { printf '%s' "$BODY" | jq -r "$1" 2>/dev/null; }
mbody() { printf '{"manifest":"%s"}' "$(base64 -w0 "$1")"; }

# status_code: api.GetStatus(ctx, addr, nil) -> .data.code
status_code() { req GET /api/v2/status; jqv .data.code; }
# set_manifest FILE: api.ManifestSet; CODE/BODY, recovery data in $WORK/recdata.json
set_manifest() {
  req POST /api/v2/manifest -H 'Content-Type: application/json' -d "$(mbody "$1")"
  printf '%s' "$BODY" >"$WORK/recdata.json"
  return 0
}
# verify_coordinator OUTPREFIX: api.VerifyCoordinator with InsecureSkipVerify:
# OUTPREFIX.root.pem, OUTPREFIX.intermediate.pem (from /api/v2/quote)
verify_coordinator() {
  req GET /api/v2/quote
  [ "$CODE" = 200 ] || return 1
  jqv .data.cert >"$1.chain.pem"
  awk -v out="$1" '/BEGIN CERT/{n++} {print > (out ".cert" n ".pem")}' "$1.chain.pem"
  # CoordinatorCertChainFromPEM: the self-signed one is the root
  local c
  for c in "$1".cert*.pem; do
    if [ "$(openssl x509 -in "$c" -noout -subject | sed 's/^subject=//')" = \
         "$(openssl x509 -in "$c" -noout -issuer | sed 's/^issuer=//')" ]; then cp "$c" "$1.root.pem"
    else cp "$c" "$1.intermediate.pem"; fi
  done
  [ -s "$1.root.pem" ] && [ -s "$1.intermediate.pem" ]
}
# decrypt_recovery NAME KEY OUT: api.DecryptRecoveryData(recoveryData[NAME], KEY)
decrypt_recovery() {
  jq -r ".data.RecoverySecrets[\"$1\"] // .data.recoverySecrets[\"$1\"] // empty" "${4:-$WORK/recdata.json}" \
    | base64 -d >"$WORK/rd.enc"
  [ -s "$WORK/rd.enc" ] || return 1
  openssl pkeyutl -decrypt -inkey "$2" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256 -in "$WORK/rd.enc" -out "$3"
}
# recover_with_signature SECRETFILE SIGFILE_B64: api.RecoverWithSignature; sets REMAINING
recover_with_signature() {
  req POST /api/v2/recover -H 'Content-Type: application/json' \
    -d "{\"recoverySecret\":\"$(base64 -w0 "$1")\",\"recoverySecretSignature\":\"$2\"}"
  REMAINING=$(jqv .data.remaining)
  [ "$CODE" = 200 ]
}
sign_b64() { openssl dgst -sha256 -sign "$2" "$1" | base64 -w0; }   # util.SignPKCS1v15
# set_recover SECRETFILE KEY: framework.SetRecover (api.Recover)
set_recover() { recover_with_signature "$1" "$(sign_b64 "$1" "$2")"; }
# encrypt_to_ephemeral SECRET OUT: api.RecoveryPublicKey + EncryptRecoverySecretWithEphemeralKey
encrypt_to_ephemeral() {
  req GET /api/v2/recover/public-key
  [ "$CODE" = 200 ] || return 1
  jqv .data.ephemeralPublicKey | base64 -d >"$WORK/eph.der"
  openssl pkeyutl -encrypt -pubin -keyform DER -inkey "$WORK/eph.der" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$1" -out "$2"
}
# update_apply FILE KEY CERT: api.ManifestUpdateApply (POST /api/v2/update);
# sets MISSING (missingAcknowledgments), recovery data in $WORK/update.json
update_apply() {
  ureq "$2" "$3" POST /api/v2/update -H 'Content-Type: application/json' -d "$(mbody "$1")"
  printf '%s' "$BODY" >"$WORK/update.json"
  MISSING=$(jqv '.data.missingAcknowledgments')
  [ "$CODE" = 200 ]
}
update_ack() {
  ureq "$2" "$3" POST /api/v2/update-manifest -H 'Content-Type: application/json' -d "$(mbody "$1")"
  printf '%s' "$BODY" >"$WORK/update.json"
  MISSING=$(jqv '.data.missingAcknowledgments')
  [ "$CODE" = 200 ]
}

# ---------------------------------------------------------------- marbles
# mr_activate TYPE DIR [DNS_NAMES]: the marble's premain; 0 when the
# Coordinator activated it. DIR/env/NAME and DIR/fs/PATH hold the decoded
# result, DIR/argv the Argv, DIR/error the refusal.
# Wire: gRPC rpc.Marble/Activate from the independent python3-grpcio marble
# (tests/integration/grpc/mr_marble.py, MarbleRun premain's behaviour: empty
# quote in simulation) when it is in the tree; before that, Cairn's JSON
# activation through activate_tool. MR_WIRE=json forces the latter.
MR_MARBLE=$HERE/../grpc/mr_marble.py
# Debian's interpreter, where apt installs python3-grpcio (a python3 earlier in
# PATH, e.g. pyenv, does not see those modules)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
if [ "${MR_WIRE:-grpc}" = grpc ] && [ -f "$MR_MARBLE" ]; then
  "$PY" -c 'import grpc, grpc_tools, cryptography' 2>/dev/null \
    || { echo "SKIP: python3-grpcio / python3-grpc-tools / python3-cryptography not installed"; exit 77; }
  MR_ACTIVATION=grpc
else
  MR_ACTIVATION=json
fi
echo "# marbles activate over $MR_ACTIVATION"
# A marble's UUID file, as MarbleRun's MarbleConfig: one per marble type in a
# test, so that starting the same marble again reuses its UUID (as
# StartMarbleClient(clientCfg) twice does); new_marble_config TYPE starts over
# (framework.NewMarbleConfig).
uuid_file() { echo "$WORK/uuid-$1"; }
new_marble_config() { rm -f "$(uuid_file "$1")"; }
# new_framework: a fresh framework.New in a loop over seal modes: no marble config carries over
new_framework() { rm -f "$WORK"/uuid-*; }
mr_activate() {
  local type=$1 d=$2 dns=${3:-localhost} out code body rc=0
  rm -rf "$d"; mkdir -p "$d/env" "$d/fs"
  if [ "$MR_ACTIVATION" = grpc ]; then
    # EDG_MARBLE_* as MarbleRun's framework sets them (GetMarbleCmd)
    EDG_MARBLE_COORDINATOR_ADDR=$MESH EDG_MARBLE_TYPE=$type EDG_MARBLE_DNS_NAMES=$dns \
      EDG_MARBLE_UUID_FILE="$(uuid_file "$type")" timeout 60 "$PY" "$MR_MARBLE" --write-files "$d/fs" \
      >"$d/activation.json" 2>"$d/activate.err" || rc=$?
    if [ "$rc" != 0 ] || [ "$(jq -r .activated "$d/activation.json" 2>/dev/null)" != true ]; then
      echo "marble $type: activation refused (exit $rc): $(jq -c '{code, message, failures}' "$d/activation.json" 2>/dev/null || head -c 300 "$d/activate.err")" >"$d/error"
      return 1
    fi
    python3 - "$d" <<'PY'
import base64, json, os, sys
d = sys.argv[1]
a = json.load(open(os.path.join(d, "activation.json")))
def raw(v):
    return base64.b64decode(v["base64"]) if isinstance(v, dict) else v.encode()
for k, v in (a.get("env") or {}).items():
    open(os.path.join(d, "env", k), "wb").write(raw(v))
json.dump(a.get("argv") or [], open(os.path.join(d, "argv"), "w"))
PY
    return 0
  fi
  local uf; uf=$(uuid_file "$type")
  [ -s "$uf" ] || cat /proc/sys/kernel/random/uuid >"$uf"
  out=$("$TOOL" "$MESH" "$type" --uuid "$(cat "$uf")" 2>"$d/activate.err" || true)
  code=${out%%$'\n'*}; code=${code#STATUS }
  body=${out#*$'\n'}
  printf '%s' "$body" >"$d/activation.json"
  if [ "$code" != 200 ]; then
    echo "marble $type: activation refused: $code ${body:0:300}" >"$d/error"
    return 1
  fi
  python3 - "$d" <<'PY'
import base64, json, os, sys
d = sys.argv[1]
a = json.load(open(os.path.join(d, "activation.json")))["data"]
for k, v in (a.get("env") or {}).items():
    open(os.path.join(d, "env", k), "wb").write(base64.b64decode(v))
for k, v in (a.get("files") or {}).items():
    p = os.path.join(d, "fs", k.lstrip("/"))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(base64.b64decode(v))
json.dump(a.get("argv") or [], open(os.path.join(d, "argv"), "w"))
PY
}
MARBLE_N=0
# marble_mode DIR: argv[1] of the manifest ("client" if none), as marble-test's main
marble_args() { jq -r 'if length > 1 then .[1:][] else "client" end' "$1/argv"; }

# start_marble_client TYPE [DNS_NAMES]: framework.StartMarbleClient -> 0 if the marble
# process would have exited 0 (activation + its mode succeeded)
start_marble_client() {
  MARBLE_N=$((MARBLE_N+1))
  local d="$WORK/marble$MARBLE_N"
  mr_activate "$1" "$d" "${2:-client,frontend,localhost}" || { cat "$d/error"; return 1; }
  local args=()
  mapfile -t args < <(marble_args "$d")
  if EDG_TEST_ADDR=$MARBLE_TEST_ADDR EDG_COORDINATOR_CLIENT_ADDR=$CLIENT \
    timeout 60 python3 "$HERE/mr_testmarble.py" "$d" "${args[@]}" 2>>"$d/log"; then
    return 0
  fi
  sed 's/^/    marble: /' "$d/log"
  return 1
}
# start_marble_server TYPE [DNS_NAMES]: framework.StartMarbleServer; sets MARBLE_TEST_ADDR
# and SERVER_PID. Returns 1 if activation fails or the server does not listen.
start_marble_server() {
  MARBLE_N=$((MARBLE_N+1))
  local d="$WORK/marble$MARBLE_N"
  mr_activate "$1" "$d" "${2:-server,backend,localhost}" || { cat "$d/error"; return 1; }
  local args=()
  mapfile -t args < <(marble_args "$d")
  EDG_TEST_ADDR=127.0.0.1:0 python3 "$HERE/mr_testmarble.py" "$d" "${args[@]}" 2>>"$d/log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 1 200); do
    [ -s "$d/addr" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "marble server exited"; cat "$d/log"; return 1; }
    sleep 0.05
  done
  [ -s "$d/addr" ] || { echo "marble server not listening"; return 1; }
  MARBLE_TEST_ADDR=$(cat "$d/addr")
  MARBLE_DIR=$d
}
SERVER_PID=""
stop_marble_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}
# last_activation_error: why the last marble's activation was refused
last_activation_error() { cat "$WORK/marble$MARBLE_N/error" 2>/dev/null || true; }
# refused_with GRPC_CODE TEXT: the last refusal carried MarbleRun's gRPC status
# (coordinator/core/marbleapi.go) and message text; over the JSON wire only
# the text is compared
refused_with() {
  local e; e=$(last_activation_error)
  contains "$e" "$2" || return 1
  [ "$MR_ACTIVATION" != grpc ] || contains "$e" "\"code\":\"$1\""
}
MARBLE_TEST_ADDR=127.0.0.1:9   # no server yet (TestTest): the discard port, nothing listens

# ---------------------------------------------------------------- framework
# trigger_recovery: framework.TriggerRecovery. Saves the root as
# $WORK/before.root.pem, kills, removes sealed_key (MarbleRun's way to force
# recovery), restarts, expects state 1.
trigger_recovery() {
  verify_coordinator "$WORK/before" || { echo "quote failed before recovery"; return 1; }
  cancel_coord
  rm -f "$(SEAL)/sealed_key"
  local started=yes
  start_coord "$COORD_NAME" || started=no
  check "TriggerRecovery: the Coordinator starts after sealed_key was removed" eq "$started" yes
  [ "$started" = yes ] || return 1
  check "TriggerRecovery: state 1 (recovery)" eq "$(status_code)" 1
}
# verify_cert_after_recovery ROOTPEM: framework.VerifyCertAfterRecovery
verify_cert_after_recovery() {
  vreq "$1" GET /api/v2/status
  check "VerifyCertAfterRecovery: the old root still authenticates the Coordinator" eq "$CODE" 200
  cancel_coord
  start_coord "$COORD_NAME" || { check "VerifyCertAfterRecovery: restart" false; return 1; }
  check "VerifyCertAfterRecovery: state 3 after restart" eq "$(status_code)" 3
  vreq "$1" GET /api/v2/status
  check "VerifyCertAfterRecovery: the old root authenticates after restart" eq "$CODE" 200
}
# verify_reset_after_recovery: framework.VerifyResetAfterRecovery
verify_reset_after_recovery() {
  check "VerifyResetAfterRecovery: state 3" eq "$(status_code)" 3
  cancel_coord
  start_coord "$COORD_NAME" || { check "VerifyResetAfterRecovery: restart" false; return 1; }
  check "VerifyResetAfterRecovery: state 3 after restart" eq "$(status_code)" 3
}

# ---------------------------------------------------------------- results
check() {   # check DESCRIPTION CONDITION...
  local d=$1; shift
  CHECKS=$((CHECKS+1))
  if "$@"; then echo "ok   - $d"; else echo "FAIL - $d (code=${CODE:-} body=${BODY:0:400})"; FAILS=$((FAILS+1)); fi
}
# known_diff DESCRIPTION "PENDING: what, owner" CONDITION...: a check MarbleRun's
# suite makes that Cairn does not pass yet because of a difference another
# piece of work is fixing. It is reported, never counted as passed: a test
# with such a failure exits 77 (CTest: skipped) and prints the pending list.
# Once the fix is on main these become plain checks.
known_diff() {
  local d=$1 why=$2; shift 2
  CHECKS=$((CHECKS+1))
  if "$@"; then echo "ok   - $d"
  else echo "PEND - $d -- pending: $why"; PENDING+=("$d -- pending: $why"); fi
}
eq() { [ "$1" = "$2" ]; }
ne() { [ "$1" != "$2" ]; }
contains() { [[ "$1" == *"$2"* ]]; }
not() { ! "$@"; }

finish() {
  # SIGTERM here (not SIGKILL) so that a sanitizer build reports leaks
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=()
  if grep -l -E "AddressSanitizer|LeakSanitizer|runtime error:" "$WORK"/*/log >/dev/null 2>&1; then
    echo "FAIL - sanitizer report in a Coordinator log"; FAILS=$((FAILS+1))
  fi
  echo "$CHECKS checks, $FAILS failed, ${#PENDING[@]} pending"
  if [ "$FAILS" -gt 0 ]; then exit 1; fi
  if [ "${#PENDING[@]}" -gt 0 ]; then
    for p in "${PENDING[@]}"; do echo "pending: $p"; done
    exit 77
  fi
  echo "all checks passed"
}
