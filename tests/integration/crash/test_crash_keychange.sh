#!/usr/bin/env bash
# Issue 12 §1: recovery opens the committed state at every crash point of a
# RecoveryKeys change. MODE: single (1 key), xor (2 of 2), shamir (2 of 3).
#
# Three operations (B only in single mode) are driven through every fsync/rename/unlink the
# Coordinator does in its seal directory (tests/integration/crash/
# crashshim.c, LD_PRELOAD): A) manifest set with RecoveryKeys K0 from state 2,
# B) a user starts an update to a manifest with RecoveryKeys K1, C) the
# second user's acknowledgement applies it (new data key). At the N-th event
# the shim SIGSTOPs the process; the seal directory copied then is exactly
# what kill -9 at that point leaves on disk. The process is continued so the
# client still receives the recovery secrets of its request. For C, when the
# crash left the update pending, the acknowledgement is repeated on the
# crashed state and interrupted at the same point again (the issue's "second
# interrupted change"). Each crash image is then
#   (a) restarted with the seal key: it must load; this is the committed state;
#   (b) restarted WITHOUT the seal key: state 1, and the recovery secrets of
#       the committed manifest's RecoveryKeys must recover exactly that state.
. "$(dirname "$0")/../governance/lib.sh"
MODE=${1:?usage: test_crash_keychange.sh single|xor|shamir}
SHIM=${CAIRN_TEST_BIN_DIR:-$CAIRN_BIN_DIR/../tests}/libcairn_crashshim.so
[ -f "$SHIM" ] || { echo "SKIP: $SHIM not built"; exit 77; }
# LD_PRELOAD splits its value at spaces and colons (no escaping): preload a
# copy from WORK, so a build tree under a path with a space works too.
cp "$SHIM" "$WORK/crashshim.so" && SHIM=$WORK/crashshim.so
[ -r /proc/self/stat ] || { echo "SKIP: no /proc"; exit 77; }

case $MODE in
  single) K0=(a0); K1=(a1); CONF='{}'; NEED=1 ;;
  xor) K0=(a0 b0); K1=(a1 b1); CONF='{}'; NEED=2 ;;
  shamir) K0=(a0 b0 c0); K1=(a1 b1 c1); CONF='{"RecoveryThreshold": 2}'; NEED=2 ;;
  *) echo "unknown mode $MODE"; exit 2 ;;
esac
for k in "${K0[@]}" "${K1[@]}"; do mkreckey "$k"; done
mkuser alice
mkuser bob
SIGNER=1111111111111111111111111111111111111111111111111111111111111111
# manifest FILE KEY...: both users must acknowledge a full update
manifest() {
  local f=$1; shift
  local keys="{" sep=""
  for k in "$@"; do keys="$keys$sep\"$k\": $(pemjson "$WORK/$k.pub")"; sep=","; done
  cat >"$f" <<JSON
{
  "Packages": {"pkg": {"SignerID": "$SIGNER", "ProductID": 1, "SecurityVersion": 1}},
  "Marbles": {"web": {"Package": "pkg"}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["upd"]},
            "bob": {"Certificate": $(pemjson "$WORK/bob.crt"), "Roles": ["upd"]}},
  "Roles": {"upd": {"ResourceType": "Manifest", "Actions": ["UpdateManifest"]}},
  "RecoveryKeys": $keys},
  "Config": $CONF
}
JSON
}
manifest "$WORK/m0.json" "${K0[@]}"
manifest "$WORK/m1.json" "${K1[@]}"

# keep_secrets ANSWER DIR KEY...: decrypts the recovery secrets of a manifest
# set / applying acknowledgement answer into DIR/KEY.secret
keep_secrets() {
  local ans=$1 dir=$2; shift 2
  mkdir -p "$dir"
  for k in "$@"; do
    jq -r "(.data.RecoverySecrets // .data.recoverySecrets).$k // empty" "$ans" 2>/dev/null | base64 -d \
      >"$dir/$k.enc" 2>/dev/null || true
    openssl pkeyutl -decrypt -inkey "$WORK/$k.key" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
      -pkeyopt rsa_mgf1_md:sha256 -in "$dir/$k.enc" -out "$dir/$k.secret" 2>/dev/null || rm -f "$dir/$k.secret"
  done
}
# recover_set DIR KEY...: uploads the first NEED secrets; 0 when recovered
recover_set() {
  local dir=$1 i=0; shift
  for k in "$@"; do
    [ $i -lt "$NEED" ] || break
    i=$((i+1))
    [ -s "$dir/$k.secret" ] || { BODY="no secret of $k in $dir"; return 1; }
    local sig
    sig=$(openssl dgst -sha256 -sign "$WORK/$k.key" "$dir/$k.secret" | base64 -w0)
    req POST /api/v2/recover -d "{\"recoverySecret\":\"$(b64f "$dir/$k.secret")\",\"recoverySecretSignature\":\"$sig\"}"
    [ "$CODE" = 200 ] || return 1
  done
  [ "$(jqv .data.message)" = "Recovery successful." ]
}

# the operations (answer into FILE; run in the background)
op_set() { curl -sk -H 'Content-Type: application/json' -o "$1" -X POST "https://$CLIENT/api/v2/manifest" -d "$(mbody "$WORK/m0.json")" || true; }
op_start() {
  curl -sk -H 'Content-Type: application/json' --cert "$WORK/alice.crt" --key "$WORK/alice.key" -o "$1" -X POST \
    "https://$CLIENT/api/v2/update" -d "$(mbody "$WORK/m1.json")" || true
}
op_ack() {
  curl -sk -H 'Content-Type: application/json' --cert "$WORK/bob.crt" --key "$WORK/bob.key" -o "$1" -X POST \
    "https://$CLIENT/api/v2/update-manifest" -d "$(mbody "$WORK/m1.json")" || true
}

shim_env() {   # shim_env NAME AT [LOG]: COORD_ENV for a shimmed run on $WORK/NAME/seal
  COORD_ENV=("LD_PRELOAD=$SHIM" "CAIRN_CRASH_DIR=$WORK/$1/seal" "CAIRN_CRASH_ARM=$WORK/$1/armed"
             "CAIRN_CRASH_AT=$2" "CAIRN_CRASH_ACTION=stop" "CAIRN_CRASH_LOG=${3:-}")
  # a sanitized Coordinator: its runtime need not come first in the preload list
  [ -z "${ASAN_OPTIONS:-}" ] || COORD_ENV+=("ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0")
}
proc_state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo gone; }

# run_op NAME OP AT OUT [LOG]: runs OP on the Coordinator started on
# $WORK/NAME/seal (already there), armed from the request on; when it stops
# at event AT, the seal dir is copied to OUT. The answer is $WORK/NAME/answer.
# Returns 0 when it stopped (OUT written), 1 when the request finished first.
run_op() {
  local name=$1 op=$2 at=$3 out=$4 log=${5:-}
  rm -f "$WORK/$name/armed" "$WORK/$name/answer"
  shim_env "$name" "$at" "$log"
  start_coord "$name"
  COORD_ENV=()
  touch "$WORK/$name/armed"
  $op "$WORK/$name/answer" &
  local cp=$! stopped=1
  for _ in $(seq 1 400); do
    if [ "$(proc_state "$PID")" = T ]; then
      rm -rf "$out"; cp -a "$WORK/$name/seal" "$out"
      kill -CONT "$PID"
      stopped=0
      break
    fi
    kill -0 "$cp" 2>/dev/null || break
    sleep 0.025
  done
  wait "$cp" || true
  rm -f "$WORK/$name/armed"
  stop_coord
  return $stopped
}

fresh() { rm -rf "$WORK/$1"; mkdir -p "$WORK/$1"; cp -a "$2" "$WORK/$1/seal"; }

# ---- images before each operation ----
start_coord base
stop_coord
cp -a "$WORK/base/seal" "$WORK/img_s2"
fresh setup "$WORK/img_s2"
start_coord setup
req POST /api/v2/manifest -d "$(mbody "$WORK/m0.json")"; printf '%s' "$BODY" >"$WORK/r0.json"
check "manifest with RecoveryKeys ${K0[*]} set" eq "$CODE" 200
keep_secrets "$WORK/r0.json" "$WORK/sets/r0" "${K0[@]}"
stop_coord
cp -a "$WORK/setup/seal" "$WORK/img_m0"
start_coord setup
ureq alice POST /api/v2/update -d "$(mbody "$WORK/m1.json")"
check "update to RecoveryKeys ${K1[*]} started, bob's acknowledgement missing" eq "$CODE:$(jqv .data.missingAcknowledgments)" "200:1"
stop_coord
cp -a "$WORK/setup/seal" "$WORK/img_p"

# verify IMG LABEL SETDIR_M0 SETDIR_M1: (a) and (b) above
verify() {
  local img=$1 label=$2 r0=$3 r1=$4
  PEND=""
  fresh va "$img"
  if ! start_coord va >/dev/null; then
    check "$label: the crash image loads with the seal key" false; return
  fi
  req GET /api/v2/status; local st; st=$(jqv .data.code)
  req GET /api/v2/manifest; local man=$BODY
  req GET /api/v2/update-manifest; PEND=$CODE
  stop_coord
  local which=none set="" keys=()
  if [ "$st" = 3 ]; then
    local raw; raw=$(printf '%s' "$man" | jq -r .data.manifest)
    if [ "$raw" = "$(b64f "$WORK/m0.json")" ]; then
      which=m0; set=$r0; keys=("${K0[@]}")
    elif [ "$raw" = "$(b64f "$WORK/m1.json")" ]; then
      which=m1; set=$r1; keys=("${K1[@]}")
    fi
  fi
  CRASH_STATES="$CRASH_STATES $which"
  if [ "$which" = none ]; then
    check "$label: loads with the seal key in state 2 (nothing committed) or 3" eq "$st" 2
    return
  fi
  # What (b) sees is a function of sealed_data (and a legacy recovery_data
  # file) and the secrets: crash images with the same bytes there (every
  # point before the commit of a run on the same image) are recovered once.
  local id
  id=$({ cat "$img/sealed_data"; cat "$img/recovery_data" 2>/dev/null || true; } | sha256sum | cut -c1-16)":$set"
  if [ -n "${RECOVERED[$id]:-}" ]; then
    echo "# $label: same sealed_data as ${RECOVERED[$id]}, already recovered with the $which secrets"
    return
  fi
  fresh vb "$img"
  rm -f "$WORK/vb/seal/sim_seal_key"
  if ! start_coord vb >/dev/null; then
    check "$label: without the seal key the Coordinator starts (state 1)" false; return
  fi
  req GET /api/v2/status
  if [ "$(jqv .data.code)" != 1 ]; then
    check "$label: without the seal key: state 1" eq "$(jqv .data.code)" 1; stop_coord; return
  fi
  if recover_set "$set" "${keys[@]}"; then
    req GET /api/v2/manifest
    check "$label: the secrets of the committed manifest ($which) recover exactly it" eq "$BODY" "$man"
    [ "$BODY" != "$man" ] || RECOVERED[$id]=$label
    RECOVERIES=$((RECOVERIES+1))
  else
    check "$label: the secrets of the committed manifest ($which) recover it" false
  fi
  stop_coord
}

CRASH_STATES=""
TOTAL=0
RECOVERIES=0
declare -A RECOVERED=()
# count OP IMG: the number of events of one undisturbed run of OP
count_events() {
  fresh cnt "$2"
  rm -f "$WORK/cnt.log"
  run_op cnt "$1" 0 "$WORK/cnt.img" "$WORK/cnt.log" || true
  [ -z "${CRASH_DEBUG:-}" ] || cat "$WORK/cnt.log" >&2
  wc -l <"$WORK/cnt.log" 2>/dev/null || echo 0
}

# CRASH_POINTS narrows the run when debugging
# CRASH_OPS: which operations (CMakeLists.txt splits them over several
# tests; B, a commit that keeps the data key, runs in single mode only)
for spec in ${CRASH_OPS:-A:op_set:img_s2 B:op_start:img_m0 C:op_ack:img_p}; do
  IFS=: read -r tag op img <<<"$spec"
  img=$WORK/$img
  n_ev=$(count_events "$op" "$img")
  echo "# operation $tag ($op): $n_ev fsync/rename/unlink events in the seal directory"
  check "operation $tag writes the seal directory" test "$n_ev" -gt 0
  for n in ${CRASH_POINTS:-$(seq 1 "$n_ev")}; do
    fresh run "$img"
    if ! run_op run "$op" "$n" "$WORK/crash1"; then
      check "$tag: the process stopped at event $n" false; continue
    fi
    TOTAL=$((TOTAL+1))
    case $tag in
      A) rm -rf "$WORK/sets/a"; keep_secrets "$WORK/run/answer" "$WORK/sets/a" "${K0[@]}"
         verify "$WORK/crash1" "A@$n" "$WORK/sets/a" "$WORK/sets/none" ;;
      B) verify "$WORK/crash1" "B@$n" "$WORK/sets/r0" "$WORK/sets/none" ;;
      C) rm -rf "$WORK/sets/c1" "$WORK/sets/c2"
         keep_secrets "$WORK/run/answer" "$WORK/sets/c1" "${K1[@]}"
         verify "$WORK/crash1" "C@$n" "$WORK/sets/r0" "$WORK/sets/c1"
         # still pending after the crash? then a second acknowledgement on
         # the crashed state, interrupted at the same point
         if [ "$PEND" = 200 ]; then
           fresh again "$WORK/crash1"
           if run_op again op_ack "$n" "$WORK/crash2"; then
             TOTAL=$((TOTAL+1))
             keep_secrets "$WORK/again/answer" "$WORK/sets/c2" "${K1[@]}"
             [ -z "${CRASH_DEBUG:-}" ] || { ls -la "$WORK/crash1" "$WORK/crash2"; cat "$WORK/crash2/recovery_data"; echo; cat "$WORK/crash1/recovery_data"; } >&2
             verify "$WORK/crash2" "C@$n twice" "$WORK/sets/r0" "$WORK/sets/c2"
           else
             check "C@$n twice: the process stopped at event $n again" false
           fi
         fi ;;
    esac
  done
done
echo "# $MODE: $TOTAL crash images checked, $RECOVERIES distinct sealed_data recovered without the seal key; committed state per image:$(echo "$CRASH_STATES" | tr ' ' '\n' | sort | uniq -c | tr '\n' ' ')"
check "crash points were exercised" test "$TOTAL" -ge 8
finish
