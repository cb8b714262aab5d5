#!/usr/bin/env bash
# etcd faults under three Coordinator replicas, with "nothing acknowledged
# is lost" checked at the end:
#  - kill -9 of the etcd member the replicas talk to: they move on;
#  - two of three members stopped (no quorum): writes and activations answer
#    503 with a clear message, reads keep working; the members come back and
#    everything resumes by itself (no replica restarted).
. "$(dirname "$0")/lib.sh"

mkuser alice
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"lim": {"Package": "pkg", "MaxActivations": 1000000}, "free": {"Package": "pkg"}},
  "Secrets": {"user_key": {"Type": "symmetric-key", "Size": 128, "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["rw"]}},
  "Roles": {"rw": {"ResourceType": "Secrets", "ResourceNames": ["user_key"], "Actions": ["ReadSecret", "WriteSecret"]}}
}
JSON
etcd_cluster 3
for i in 1 2 3; do replica $i; done
on 1; req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set" eq "$CODE" 200
# ACKED: lim activations answered 200; MAYBE: lim attempts answered 5xx, which
# may have committed without an answer (a transaction whose outcome etcd did
# not report in time): the counter must lie in [ACKED, ACKED + MAYBE]
ACKED=0
MAYBE=0
act_ok() {
  on "$1"; activate "$2"
  if [ "$CODE" = 200 ]; then [ "$2" = lim ] && ACKED=$((ACKED + 1)); return 0; fi
  [ "$2" = lim ] && [ "${CODE:0:1}" = 5 ] && MAYBE=$((MAYBE + 1))
  return 1
}
setsec() {
  on "$1"
  ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$2\"}}}"
  [ "$CODE" = 200 ]
}
ctr() { curl -s "http://${R_METRICS[$1]}/metrics" | awk '$1 == "cairn_activations_committed{type=\"lim\"}" {print $2}'; }
V1=$(head -c 16 /dev/urandom | base64 -w0)
for i in 1 2 3; do check "activation on replica $i" act_ok $i lim; done
check "secret written" setsec 2 "$V1"

# ---- kill -9 the member every replica talks to first ----
etcd_kill9 1
for i in 1 2 3; do check "replica $i activates again within 10 s after member 1 died" wait_for 10 act_ok $i lim; done
V2=$(head -c 16 /dev/urandom | base64 -w0)
check "a secret write succeeds on the two remaining members" wait_for 10 setsec 3 "$V2"
etcd_start 1
etcd_wait_healthy
check "member 1 rejoined" wait_for 15 eval 'curl -s "http://127.0.0.1:${E_CPORT[1]}/health" | grep -q "\"health\":\"true\""'

# ---- no quorum ----
etcd_stop 2
etcd_stop 3
on 1; activate lim
MAYBE=$((MAYBE + 1))
check "no quorum: activation answers 503" eq "$CODE" 503
check "the message names etcd" contains "$BODY" "etcd"
on 2; activate free
check "no quorum: activation of an unlimited type answers 503 too" eq "$CODE" 503
on 2; ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$(head -c 16 /dev/urandom | base64 -w0)\"}}}"
check "no quorum: a secret write answers 503" eq "$CODE" 503
check "the write's message says the store is unavailable" contains "$BODY" "unavailable"
on 3; req GET /api/v2/status
check "no quorum: status still answers" eq "$CODE:$(jqv .data.code)" "200:3"
check "status shows etcd unavailable within 5 s" wait_for 5 eval \
  'on 3; req GET /api/v2/status; [ "$(jqv .data.replication.etcdAvailable)" = false ]'
on 3; req GET /api/v2/manifest
check "no quorum: the manifest can be read" eq "$CODE" 200
check "no quorum: the secret can be read" eq "$(getsec 1)" "$V2"
check "metrics: cairn_etcd_up 0" wait_for 5 eval '[ "$(metric 2 cairn_etcd_up)" = 0 ]'

etcd_start 2
etcd_start 3
etcd_wait_healthy
for i in 1 2 3; do check "quorum back: replica $i activates within 15 s, not restarted" wait_for 15 act_ok $i lim; done
V3=$(head -c 16 /dev/urandom | base64 -w0)
check "quorum back: secret write succeeds" wait_for 10 setsec 1 "$V3"
check "metrics: cairn_etcd_up 1 again" wait_for 5 eval '[ "$(metric 3 cairn_etcd_up)" = 1 ]'

# every member restarted (SIGTERM, one at a time, quorum kept): the HTTP/2
# connections the replicas' gRPC calls reuse are all gone; their next
# calls open new ones without a failed attempt (docs/high-availability.md,
# "The etcd client")
for m in 1 2 3; do etcd_stop $m; etcd_start $m; etcd_wait_healthy; done
sleep 0.5
for i in 1 2 3; do check "members restarted: replica $i activates at the first attempt" act_ok $i lim; done

# ---- nothing acknowledged lost ----
for i in 1 2 3; do
  echo "# replica $i: counter $(ctr $i), acknowledged $ACKED, unanswered $MAYBE"
  check "replica $i: the counter holds every acknowledged activation ($ACKED) and no more than were tried" \
    wait_for 5 eval '[ "$(ctr '$i')" -ge "$ACKED" ] && [ "$(ctr '$i')" -le $((ACKED + MAYBE)) ] && [ "$(ctr '$i')" = "$(ctr 1)" ]'
  check "replica $i: the last acknowledged secret" wait_for 5 eval '[ "$(getsec '$i')" = "$V3" ]'
done
C_BEFORE=$(ctr 1)
for i in 1 2 3; do replica_stop $i; done
for i in 1 2 3; do replica $i; done
check "after restarting every replica the counter is unchanged" eval '[ "$(ctr 2)" = "$C_BEFORE" ]'
check "after restarting every replica the secret is still the last one" eq "$(getsec 3)" "$V3"
finish
