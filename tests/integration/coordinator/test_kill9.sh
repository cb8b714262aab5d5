#!/usr/bin/env bash
# kill -9 at random moments during manifest sets and during activations
# (counter commits): the state always loads again (old or new), and an
# acknowledged manifest set is never lost. 20 iterations. Then (issue 12) a
# crash loop with every fsync/rename in the seal directory slowed by 0-10 ms
# (tests/integration/crash/crashshim.c), kill -9 during manifest sets with a
# RecoveryKey: after each, an acknowledged set must also be recoverable with
# its recovery secret once the seal key is lost (at most 12 iterations, 40 s).
. "$(dirname "$0")/lib.sh"
write_manifest "$WORK/m.json"
sed -i 's/"MaxActivations": 2/"MaxActivations": 100000/' "$WORK/m.json"
start_coord base
stop_coord
cp -r "$WORK/base/seal" "$WORK/state2"   # a state-2 seal dir to copy
ms() { echo "0.$(printf '%03d' $(( RANDOM % $1 )))"; }
for i in $(seq 1 10); do   # during manifest sets
  rm -rf "$WORK/k$i"; mkdir -p "$WORK/k$i"; cp -r "$WORK/state2" "$WORK/k$i/seal"
  start_coord "k$i"
  ( curl -sk -H 'Content-Type: application/json' -o /dev/null -w '%{http_code}' "https://$CLIENT/api/v2/manifest" \
      -d "{\"manifest\":\"$(base64 -w0 "$WORK/m.json")\"}" >"$WORK/k$i/code" 2>/dev/null || echo 000 >"$WORK/k$i/code" ) &
  CURL=$!
  sleep "$(ms 120)"
  kill9_coord
  wait "$CURL" 2>/dev/null || true
  ACK=$(cat "$WORK/k$i/code")
  start_coord "k$i"
  req GET /api/v2/status
  S=$(jqv .data.code)
  check "manifest iteration $i: reloads after kill -9 (state $S, set answered $ACK)" test "$S" = 2 -o "$S" = 3
  [ "$ACK" = 200 ] && check "manifest iteration $i: acknowledged set survived" eq "$S" "3"
  stop_coord
done
rm -rf "$WORK/act"; mkdir -p "$WORK/act"; cp -r "$WORK/state2" "$WORK/act/seal"
start_coord act
set_manifest_file "$WORK/m.json"
stop_coord
for i in $(seq 11 20); do   # during activations (each one commits the counter)
  start_coord act
  ( for _ in $(seq 1 50); do "$TOOL" "$MESH" web >/dev/null 2>&1 || true; done ) &
  LOAD=$!
  sleep "0.$(( 1 + RANDOM % 5 ))"
  kill9_coord
  kill "$LOAD" 2>/dev/null || true; wait "$LOAD" 2>/dev/null || true
  start_coord act
  req GET /api/v2/status
  check "activation iteration $i: reloads after kill -9" eq "$(jqv .data.code)" "3"
  activate web
  check "activation iteration $i: activations work after the restart" eq "$CODE" "200"
  stop_coord
done

SHIM=${CAIRN_TEST_BIN_DIR:-$CAIRN_BIN_DIR/../tests}/libcairn_crashshim.so
if [ ! -f "$SHIM" ]; then
  echo "# slowed-fsync crash loop skipped: $SHIM not built"
  finish
  exit 0
fi
# LD_PRELOAD splits its value at spaces and colons (no escaping): preload a
# copy from WORK, so a build tree under a path with a space works too.
cp "$SHIM" "$WORK/crashshim.so" && SHIM=$WORK/crashshim.so
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rk.key" 2>/dev/null
openssl pkey -in "$WORK/rk.key" -pubout -out "$WORK/rk.pub" 2>/dev/null
jq --arg pem "$(cat "$WORK/rk.pub")" '.RecoveryKeys = {"rk": $pem}' "$WORK/m.json" >"$WORK/mr.json"
END=$((SECONDS + 40)); N=0; RECOVERED=0
while [ $N -lt 12 ] && [ $SECONDS -lt $END ]; do
  N=$((N+1))
  rm -rf "$WORK/s$N"; mkdir -p "$WORK/s$N"; cp -r "$WORK/state2" "$WORK/s$N/seal"
  COORD_ENV=("LD_PRELOAD=$SHIM" "CAIRN_CRASH_DIR=$WORK/s$N/seal" "CAIRN_CRASH_DELAY_MS=10")
  [ -z "${ASAN_OPTIONS:-}" ] || COORD_ENV+=("ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0")
  start_coord "s$N"
  COORD_ENV=()
  ( curl -sk -H 'Content-Type: application/json' -o "$WORK/s$N/answer" -w '%{http_code}' "https://$CLIENT/api/v2/manifest" \
      -d "{\"manifest\":\"$(base64 -w0 "$WORK/mr.json")\"}" >"$WORK/s$N/code" 2>/dev/null || echo 000 >"$WORK/s$N/code" ) &
  CURL=$!
  sleep "$(ms 150)"
  kill9_coord
  wait "$CURL" 2>/dev/null || true
  ACK=$(cat "$WORK/s$N/code")
  start_coord "s$N"
  req GET /api/v2/status
  S=$(jqv .data.code)
  check "slowed fsync $N: reloads after kill -9 (state $S, set answered $ACK)" test "$S" = 2 -o "$S" = 3
  stop_coord
  [ "$ACK" = 200 ] || continue
  check "slowed fsync $N: acknowledged set survived" eq "$S" 3
  # lose the seal key: the acknowledged recovery secret must recover the state
  jq -r .data.RecoverySecrets.rk "$WORK/s$N/answer" | base64 -d >"$WORK/s$N/rk.enc"
  openssl pkeyutl -decrypt -inkey "$WORK/rk.key" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256 -in "$WORK/s$N/rk.enc" -out "$WORK/s$N/rk.secret" 2>/dev/null || true
  rm -f "$WORK/s$N/seal/sim_seal_key"
  start_coord "s$N"
  SIG=$(openssl dgst -sha256 -sign "$WORK/rk.key" "$WORK/s$N/rk.secret" | base64 -w0)
  req POST /api/v2/recover -H 'Content-Type: application/json' \
    -d "{\"recoverySecret\":\"$(base64 -w0 "$WORK/s$N/rk.secret")\",\"recoverySecretSignature\":\"$SIG\"}"
  check "slowed fsync $N: the acknowledged recovery secret recovers the state" eq "$CODE:$(jqv .data.remaining)" "200:0"
  [ "$CODE" = 200 ] && RECOVERED=$((RECOVERED+1))
  stop_coord
done
echo "# slowed-fsync crash loop: $N kill -9 iterations, $RECOVERED acknowledged sets recovered after losing the seal key"
check "the slowed crash loop ran" test "$N" -gt 0
finish
