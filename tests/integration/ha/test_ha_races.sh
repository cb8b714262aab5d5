#!/usr/bin/env bash
# Races between Coordinator replicas on one etcd cluster:
#  - two `manifest set` at once on two replicas: exactly one succeeds;
#  - 1,000 activations spread over 3 replicas against MaxActivations = 500:
#    exactly 500 succeed, and every replica then knows the counter is full;
#  - far from MaxActivations, activations on 3 replicas at once do not
#    invalidate each other's transactions (each replica writes its own
#    part of the counter; a shared counter key lost about every other race),
#    etcd sends their counter parts to no watcher (the replicas read them;
#    each commit was sent to all three before), and every replica still
#    counts all of them within a second;
#  - two users writing the same user secret on two replicas at once: every
#    acknowledged write is in the update log exactly once, in one order, and
#    the value left is the one of the last write in that order.
. "$(dirname "$0")/lib.sh"
[ -x "$LOADGEN" ] || { echo "SKIP: $LOADGEN not built"; exit 77; }

mkuser alice; mkuser bob
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"lim": {"Package": "pkg", "MaxActivations": 500, "Parameters": {"Env": {"K": "{{ hex .Secrets.k }}"}}},
              "many": {"Package": "pkg", "MaxActivations": 1000000}},
  "Secrets": {"k": {"Type": "symmetric-key", "Size": 128, "Shared": true},
              "user_key": {"Type": "symmetric-key", "Size": 128, "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["rw"]},
            "bob": {"Certificate": $(pemjson "$WORK/bob.crt"), "Roles": ["rw"]}},
  "Roles": {"rw": {"ResourceType": "Secrets", "ResourceNames": ["user_key"], "Actions": ["ReadSecret", "WriteSecret"]}}
}
JSON
sed 's/"Size": 128, "Shared"/"Size": 256, "Shared"/' "$WORK/m.json" >"$WORK/m2.json"

etcd_cluster 3
for i in 1 2 3; do replica $i; done

# ---- two manifest sets at once ----
BG=()
for i in 1 2; do
  m=$WORK/m.json; [ "$i" = 2 ] && m=$WORK/m2.json
  curl -sk -o "$WORK/set$i.body" -w '%{http_code}' -X POST "https://${R_CLIENT[$i]}/api/v2/manifest" \
    -HContent-Type:application/json -d "$(mbody "$m")" >"$WORK/set$i.code" &
  BG+=($!)
done
wait "${BG[@]}" || true
C1=$(cat "$WORK/set1.code"); C2=$(cat "$WORK/set2.code")
CODE="$C1,$C2"; BODY="$(cat "$WORK/set1.body") | $(cat "$WORK/set2.body")"
check "two concurrent manifest sets: exactly one succeeds, the other is refused with 409" eval \
  '[ "$C1,$C2" = "200,409" ] || [ "$C1,$C2" = "409,200" ]'
WIN=1; [ "$C2" = 200 ] && WIN=2
state3() { on "$1"; req GET /api/v2/status; [ "$(jqv .data.code)" = 3 ]; }
for i in 1 2 3; do check "replica $i in state 3" wait_for 5 state3 $i; done
fp() { on "$1"; req GET /api/v2/manifest; jqv .data.manifestFingerprint; }
WANT=$(sha256sum "$( [ $WIN = 1 ] && echo "$WORK/m.json" || echo "$WORK/m2.json")" | cut -d' ' -f1)
for i in 1 2 3; do
  check "replica $i serves the winner's manifest" eval '[ "$(fp '$i')" = "$WANT" ]'
done

# ---- far from MaxActivations: no lost races between the replicas ----
for i in 1 2 3; do on $i; activate many; check "warm-up activation of many on replica $i" eq "$CODE" 200; done
sleep 0.5
retries() { echo $(( $(metric 1 cairn_etcd_txn_retries_total) + $(metric 2 cairn_etcd_txn_retries_total) + \
  $(metric 3 cairn_etcd_txn_retries_total) )); }
RT0=$(retries)
# events etcd sent to watchers (its own metric), all members
events() { local s=0 i; for i in 1 2 3; do
  s=$((s + $(curl -s "http://127.0.0.1:${E_CPORT[$i]}/metrics" | awk '$1 == "etcd_debugging_mvcc_events_total" {printf "%d", $2}')))
  done; echo $s; }
EV0=$(events)
BG=()
for i in 1 2 3; do
  "$LOADGEN" activate "${R_MESH[$i]}" many -c 4 -n 60 -t 60 -i 8 >"$WORK/lgm$i.json" 2>"$WORK/lgm$i.err" &
  BG+=($!)
done
wait "${BG[@]}" || true
OKM=0; for i in 1 2 3; do OKM=$((OKM + $(jq -r .ok "$WORK/lgm$i.json"))); done
check "180 concurrent activations of many on 3 replicas succeed" eq "$OKM" 180
RT=$(( $(retries) - RT0 ))
echo "# transactions retried after a lost race: $RT"
CODE=$RT
check "no replica's transaction was invalidated by another's (retries < 5)" eval '[ "$RT" -lt 5 ]'
EV=$(( $(events) - EV0 ))
echo "# events etcd sent to watchers during the 180 activations: $EV"
CODE=$EV
check "the counter parts are not sent to the watchers (< 20 events for 180 activations)" eval '[ "$EV" -lt 20 ]'
for i in 1 2 3; do check "replica $i counts 183 activations of many" wait_for 5 eval \
  '[ "$(curl -s "http://${R_METRICS['$i']}/metrics" | awk '"'"'$1 == "cairn_activations_committed{type=\"many\"}" {print $2}'"'"')" = 183 ]'; done

# ---- 1,000 activations over 3 replicas, MaxActivations 500 ----
BG=()
for i in 1 2 3; do
  n=333; [ "$i" = 1 ] && n=334
  "$LOADGEN" activate "${R_MESH[$i]}" lim -c 6 -n "$n" -t 80 -i 16 >"$WORK/lg$i.json" 2>"$WORK/lg$i.err" &
  BG+=($!)
done
wait "${BG[@]}" || true
OK=0; ALL=0
for i in 1 2 3; do
  o=$(jq -r .ok "$WORK/lg$i.json"); e=$(jq -r .errors "$WORK/lg$i.json")
  echo "# replica $i: $o activated, $e refused"
  OK=$((OK + o)); ALL=$((ALL + o + e))
done
CODE=$OK; BODY=$(cat "$WORK"/lg*.err | sort | uniq -c | head -5)
check "1,000 activation attempts made" eq "$ALL" 1000
check "exactly 500 activations succeeded across the replicas" eq "$OK" 500
check "the refusals are 403 (MaxActivations), not errors" eval '! grep -q "status 5" "$WORK"/lg*.err'
ctr() { curl -s "http://${R_METRICS[$1]}/metrics" | awk '$1 == "cairn_activations_committed{type=\"lim\"}" {print $2}'; }
for i in 1 2 3; do check "replica $i knows the counter is 500" wait_for 5 eval '[ "$(ctr '$i')" = 500 ]'; done
for i in 1 2 3; do on $i; activate lim; check "activation 501 refused on replica $i" eq "$CODE" 403; done
check "batches committed several activations at once (group commit)" eval \
  '[ $(( $(metric 1 cairn_etcd_activations_batched_total) )) -gt $(( $(metric 1 cairn_etcd_activation_batches_total) )) ]'

# ---- concurrent user secret writes on two replicas ----
writer() {   # writer USER REPLICA N: writes distinct values, records the acknowledged ones
  local u=$1 r=$2 n=$3 k v code
  for k in $(seq 1 "$n"); do
    v=$(printf '%s-%02d-xxxxxxxxxx' "$u" "$k" | head -c 16 | base64 -w0)
    code=$(curl -sk --cert "$WORK/$u.crt" --key "$WORK/$u.key" -o /dev/null -w '%{http_code}' -X POST \
      "https://${R_CLIENT[$r]}/api/v2/secrets" -HContent-Type:application/json \
      -d "{\"secrets\":{\"user_key\":{\"Key\":\"$v\"}}}" || true)
    [ "$code" = 200 ] && echo "$v" >>"$WORK/acked.$u"
    echo "$code" >>"$WORK/codes.$u"
  done
}
: >"$WORK/acked.alice"; : >"$WORK/acked.bob"
writer alice 1 15 & A=$!
writer bob 2 15 & B=$!
wait $A $B || true
NA=$(wc -l <"$WORK/acked.alice"); NB=$(wc -l <"$WORK/acked.bob")
echo "# acknowledged: alice $NA, bob $NB (codes: $(sort "$WORK"/codes.* | uniq -c | tr '\n' ' '))"
check "both writers got writes through" eval '[ "$NA" -gt 0 ] && [ "$NB" -gt 0 ]'
check "refused writes are conflicts (409), nothing else" eval '! grep -vqE "^(200|409)$" "$WORK"/codes.*'
on 3
req GET /api/v2/update
LA=$(jqv '[.data.updateLog[] | fromjson? // . | select(.update == "Secret set" and .user == "alice")] | length')
LB=$(jqv '[.data.updateLog[] | fromjson? // . | select(.update == "Secret set" and .user == "bob")] | length')
LAST=$(jqv '[.data.updateLog[] | fromjson? // . | select(.update == "Secret set")] | last | .user')
check "every acknowledged write of alice is logged exactly once" eq "$LA" "$NA"
check "every acknowledged write of bob is logged exactly once" eq "$LB" "$NB"
WANTV=$(tail -1 "$WORK/acked.$LAST")
for i in 1 2 3; do
  on $i
  check "replica $i holds the value of the last write in the log's order ($LAST)" wait_for 5 eval \
    'ureq alice GET "/api/v2/secrets?s=user_key"; [ "$(jqv .data.secrets.user_key.Private)" = "$WANTV" ]'
done
finish
