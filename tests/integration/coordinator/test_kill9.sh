#!/usr/bin/env bash
# kill -9 at random moments during manifest sets and during activations
# (counter commits): the state always loads again (old or new), and an
# acknowledged manifest set is never lost. 20 iterations.
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
  ( curl -sk -o /dev/null -w '%{http_code}' "https://$CLIENT/api/v2/manifest" \
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
finish
