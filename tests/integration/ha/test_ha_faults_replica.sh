#!/usr/bin/env bash
# Replica faults, each followed by "nothing acknowledged is lost":
#  - kill -9 of a replica in the middle of activations;
#  - kill -9 of a replica in the middle of state changes (secret writes);
#  - a replica frozen with SIGSTOP (cut off from etcd) while the others
#    commit, then SIGCONT: it never serves or writes the old state.
. "$(dirname "$0")/lib.sh"
[ -x "$LOADGEN" ] || { echo "SKIP: $LOADGEN not built"; exit 77; }

mkuser alice
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"lim": {"Package": "pkg", "MaxActivations": 1000000},
              "sec": {"Package": "pkg", "MaxActivations": 1000000, "Parameters": {"Env": {"U": "{{ hex .Secrets.user_key }}"}}}},
  "Secrets": {"user_key": {"Type": "symmetric-key", "Size": 128, "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["rw"]}},
  "Roles": {"rw": {"ResourceType": "Secrets", "ResourceNames": ["user_key"], "Actions": ["ReadSecret", "WriteSecret"]}}
}
JSON
etcd_cluster 3
for i in 1 2 3; do replica $i; done
on 1; req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set" eq "$CODE" 200
ctr() { committed "$@"; }
val() { printf 'v%015d' "$1" | base64 -w0; }   # 16 bytes: the key size
setsec() {   # setsec REPLICA VALUE: prints the HTTP code
  curl -sk --cert "$WORK/alice.crt" --key "$WORK/alice.key" -o /dev/null -w '%{http_code}' -X POST \
    "https://${R_CLIENT[$1]}/api/v2/secrets" -HContent-Type:application/json \
    -d "{\"secrets\":{\"user_key\":{\"Key\":\"$2\"}}}" || true
}
check "secret value format is 16 bytes" eq "$(val 1 | base64 -d | wc -c)" 16
check "first secret written" eq "$(setsec 2 "$(val 0)")" 200

# ---- kill -9 a replica in the middle of activations ----
# SIGPIPE ignored: the server dies under loadgen's writes, which must then fail, not kill it
(trap '' PIPE; exec "$LOADGEN" activate "${R_MESH[1]}" lim -c 4 -t 4 -i 8 >"$WORK/lg1.json" 2>/dev/null) &
LG=$!
sleep 1.5
replica_kill9 1
wait $LG || true
ACKED=$(jq -r .ok "$WORK/lg1.json")
echo "# $ACKED activations acknowledged by replica 1 before kill -9"
check "replica 1 acknowledged activations before it died" eval '[ "$ACKED" -gt 0 ]'
sleep 0.5
C2=$(ctr 2 lim)
CODE=$C2
check "replica 2 counts every acknowledged activation (>= $ACKED)" eval '[ "$C2" -ge "$ACKED" ]'
check "and at most the in-flight ones more (<= $ACKED + 4)" eval '[ "$C2" -le $((ACKED + 4)) ]'
on 2; activate lim
check "replica 2 keeps activating" eq "$CODE" 200
on 3; activate lim
check "replica 3 keeps activating" eq "$CODE" 200
check "the killed replica's registry entry expires (lease)" wait_for 10 eval '[ "$(metric 2 cairn_replicas)" = 2 ]'

# ---- kill -9 a replica in the middle of state changes ----
replica 1
(
  k=1
  while :; do
    c=$(setsec 1 "$(val $k)")
    [ "$c" = 200 ] && echo "$k" >>"$WORK/acked"
    k=$((k + 1))
  done
) &
W=$!
sleep 2
replica_kill9 1
kill $W 2>/dev/null; wait $W 2>/dev/null || true
LASTK=$(tail -1 "$WORK/acked" 2>/dev/null || echo 0)
echo "# last acknowledged secret write before kill -9: #$LASTK"
check "some writes were acknowledged" eval '[ "$LASTK" -gt 0 ]'
GOT=$(getsec 2)
check "replica 2 holds the last acknowledged write or the one in flight" eval \
  '[ "$GOT" = "$(val $LASTK)" ] || [ "$GOT" = "$(val $((LASTK + 1)))" ]'
on 3; req GET /api/v2/update
NLOG=$(jqv '[.data.updateLog[] | fromjson? // . | select(.update == "Secret set")] | length')
check "the log has every acknowledged write once (+ at most the one in flight)" eval \
  '[ "$NLOG" -ge $((LASTK + 1)) ] && [ "$NLOG" -le $((LASTK + 2)) ]'
replica 1
check "the restarted replica serves the same value" eq "$(getsec 1)" "$GOT"

# ---- a replica frozen (SIGSTOP) while the others commit ----
kill -STOP "${R_PID[3]}"
check "secret changed on replica 1 while replica 3 is frozen" eq "$(setsec 1 "$(val 900001)")" 200
# replica 2 may answer 503 until its watch has applied the change (an
# activation is never served from a replaced state): retry as a marble does
newsec() { on "$1"; activate sec; [ "$CODE" = 200 ] && [ "$(jqv .data.env.U | base64 -d)" = "$(val 900001 | base64 -d | od -An -tx1 | tr -d ' \n')" ]; }
check "an activation on replica 2 gets the new secret (after retries)" wait_for 5 newsec 2
BEFORE=$(ctr 2 sec)
sleep 1
kill -CONT "${R_PID[3]}"
# at once: replica 3 may refuse (503: its snapshot is stale) but must never
# hand out the old secret
on 3; activate sec
S3=$CODE
check "right after SIGCONT replica 3 answers 200 with the new secret or 503, never the old one" eval \
  '[ "$S3" = 503 ] || [ "$(jqv .data.env.U | base64 -d)" = "$(val 900001 | base64 -d | od -An -tx1 | tr -d " \n")" ]'
echo "# replica 3's first answer after SIGCONT: $S3"
check "replica 3 catches up within 5 s" wait_for 5 eval '[ "$(getsec 3)" = "$(val 900001)" ]'
check "replica 3 activates with the new secret" wait_for 5 newsec 3
check "a stale write from the thawed replica cannot overwrite: its next write lands after the others'" \
  eq "$(setsec 3 "$(val 900002)")" 200
for i in 1 2 3; do check "replica $i holds the final value" wait_for 5 eval '[ "$(getsec '$i')" = "$(val 900002)" ]'; done
check "every replica counts the same sec activations" wait_for 5 eval \
  '[ "$(ctr 1 sec)" = "$(ctr 3 sec)" ] && [ "$(ctr 2 sec)" = "$(ctr 3 sec)" ] && [ "$(ctr 3 sec)" -ge $((BEFORE + 1)) ]'
finish
