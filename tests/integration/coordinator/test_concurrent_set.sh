#!/usr/bin/env bash
# Two concurrent manifest sets: exactly one wins, the state holds the winner.
. "$(dirname "$0")/lib.sh"
write_manifest "$WORK/m1.json"
sed 's/"MaxActivations": 2/"MaxActivations": 7/' "$WORK/m1.json" >"$WORK/m2.json"
for round in 1 2 3; do
  start_coord "r$round"
  CP=()
  for i in 1 2; do
    ( curl -sk -o "$WORK/out$i" -w '%{http_code}' "https://$CLIENT/api/v2/manifest" -H 'Content-Type: application/json' \
        -d "{\"manifest\":\"$(base64 -w0 "$WORK/m$i.json")\"}" >"$WORK/code$i" ) &
    CP+=($!)
  done
  wait "${CP[@]}" || true
  C1=$(cat "$WORK/code1"); C2=$(cat "$WORK/code2")
  CODE="$C1 $C2"; BODY="$(cat "$WORK/out1") $(cat "$WORK/out2")"
  check "round $round: exactly one 200 and one 409" eq "$(printf '%s\n%s\n' "$C1" "$C2" | sort | tr '\n' ' ')" "200 409 "
  W=1; [ "$C2" = 200 ] && W=2
  L=$((3 - W))
  check "round $round: the loser was told the state changed" contains "$(jq -r .message "$WORK/out$L")" "not in expected state"
  req GET /api/v2/manifest
  check "round $round: the state holds the winner's manifest" eq "$(jqv .data.manifestFingerprint)" "$(sha256sum "$WORK/m$W.json" | cut -d' ' -f1)"
  stop_coord
done
finish
