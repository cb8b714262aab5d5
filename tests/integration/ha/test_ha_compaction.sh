#!/usr/bin/env bash
# etcd compaction under Coordinator replicas (docs/high-availability.md,
# "etcd upkeep"): etcd keeps every old revision until it is compacted, and a
# replica whose watch must resume from a revision that was compacted meanwhile
# cannot catch up event by event: it must read the whole replicated state again
# instead of serving a stale snapshot.
#  - replica 2 talks to member 2 first; it is frozen (SIGSTOP) while replica 1
#    writes a secret and activates marbles, then etcd is compacted to the
#    current revision and defragmented, and member 2 is killed;
#  - replica 2 resumes: its watch reconnects to member 1 from a compacted
#    revision; it reloads, serves the new secret and knows the counter
#    (MaxActivations holds), without a restart.
. "$(dirname "$0")/lib.sh"

mkuser alice
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"lim": {"Package": "pkg", "MaxActivations": 6}},
  "Secrets": {"user_key": {"Type": "symmetric-key", "Size": 128, "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["rw"]}},
  "Roles": {"rw": {"ResourceType": "Secrets", "ResourceNames": ["user_key"], "Actions": ["ReadSecret", "WriteSecret"]}}
}
JSON
etcd_cluster 3
replica 1
ETCD_EP="127.0.0.1:${E_CPORT[2]},127.0.0.1:${E_CPORT[1]}" replica 2
on 1; req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set" eq "$CODE" 200
setsec() {
  on "$1"
  ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$2\"}}}"
  [ "$CODE" = 200 ]
}
V1=$(head -c 16 /dev/urandom | base64 -w0)
check "secret written on replica 1" setsec 1 "$V1"
check "replica 2 sees it through its watch" wait_for 10 eval '[ "$(getsec 2)" = "$V1" ]'
on 2; activate lim
check "an activation on replica 2" eq "$CODE" 200

kill -STOP "${R_PID[2]}"
V2=$(head -c 16 /dev/urandom | base64 -w0)
check "secret rewritten on replica 1 while replica 2 is frozen" setsec 1 "$V2"
for n in 2 3 4 5 6; do on 1; activate lim; check "activation $n of 6 on replica 1" eq "$CODE" 200; done
# many revisions after the one replica 2 has seen, then compact them away
for n in $(seq 1 20); do etcdctl_ put /unrelated/k "$n" >/dev/null; done
REV=$(curl -s -X POST "http://127.0.0.1:${E_CPORT[1]}/v3/maintenance/status" -d '{}' | jq -r .header.revision)
check "etcd compacted to revision $REV" eval \
  'curl -sf -X POST "http://127.0.0.1:${E_CPORT[1]}/v3/kv/compaction" -d "{\"revision\":\"$REV\",\"physical\":true}" >/dev/null'
check "etcd defragmented" eval \
  'curl -sf -X POST "http://127.0.0.1:${E_CPORT[1]}/v3/maintenance/defragment" -d "{}" >/dev/null'
etcd_kill9 2
kill -CONT "${R_PID[2]}"

check "replica 2 resynchronised after the compaction (log)" wait_for 20 \
  grep -q "watch history compacted" "$WORK/r2/log"
check "replica 2 serves the secret written while it was frozen" wait_for 10 eval '[ "$(getsec 2)" = "$V2" ]'
# the killed member may have led the cluster: until a new leader is elected
# an activation that needs etcd answers 503 (the counter parts are not
# watched, so replica 2 may still have to read replica 1's part); never 200
CODES=""
for _ in $(seq 1 20); do
  on 2; activate lim; CODES+="$CODE "
  [ "$CODE" = 503 ] || break
  sleep 0.5
done
CODE=$CODES
check "replica 2 refuses a 7th activation (MaxActivations 6): 403, no 200 (503 only while etcd elects a leader)" \
  eval '[ "${CODES% }" = 403 ] || [[ "$CODES" =~ ^(503 )+403\ $ ]]'
check "replica 2 is the same process" eval 'kill -0 "${R_PID[2]}"'
V3=$(head -c 16 /dev/urandom | base64 -w0)
check "replica 2 writes a secret after the resync" setsec 2 "$V3"
check "replica 1 sees it" wait_for 10 eval '[ "$(getsec 1)" = "$V3" ]'
finish
