#!/usr/bin/env bash
# Rollback of etcd (docs/high-availability.md "Rollback"): whoever can write
# to etcd puts back an older sealed value that still authenticates. Old
# values are saved and written back through etcd's JSON gateway with curl
# (an implementation we did not write): the replicas refuse them (metric,
# ERROR log, 503 for writes and activations, reads stay on the newer
# snapshot), a replica restarted meanwhile refuses them from its persisted
# memory, and writing the current value back resumes service. Legit changes
# that replace values (secret writes, activations, a watch resynchronised
# after compaction) are never refused.
. "$(dirname "$0")/lib.sh"

mkuser alice
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"web": {"Package": "pkg", "MaxActivations": 3}, "free": {"Package": "pkg"}},
  "Secrets": {"user_key": {"Type": "symmetric-key", "Size": 128, "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["rw"]}},
  "Roles": {"rw": {"ResourceType": "Secrets", "ResourceNames": ["user_key"], "Actions": ["ReadSecret", "WriteSecret"]}}
}
JSON
K_STATE=/cairn/state
P_WEB=/cairn/act/$(printf web | od -An -tx1 | tr -d ' \n')/   # web's counter: one part per replica

# etcd's JSON gateway: values travel base64-encoded, byte-exact
gw() { curl -s --max-time 5 "http://127.0.0.1:${E_CPORT[$1]}/v3/$2" -d "$3"; }
b64() { printf '%s' "$1" | base64 -w0; }
getval() { gw 2 kv/range "{\"key\":\"$(b64 "$1")\"}" | jq -r '.kvs[0].value // empty'; }
firstkey() { gw 2 kv/range "{\"key\":\"$(b64 "$1")\",\"range_end\":\"$(b64 "${1%/}0")\",\"keys_only\":true}" |
  jq -r '.kvs[0].key // empty' | base64 -d; }
putval() { gw 2 kv/put "{\"key\":\"$(b64 "$1")\",\"value\":\"$2\"}" >/dev/null; }
delkey() { gw 2 kv/deleterange "{\"key\":\"$(b64 "$1")\"}" >/dev/null; }
setsec() { ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$1\"}}}"; }
refused() { metric "$1" cairn_etcd_rollback_refused_total; }
blocked() { metric "$1" cairn_etcd_rollback_blocked; }
KA=$(head -c 16 /dev/urandom | base64 -w0)
KB=$(head -c 16 /dev/urandom | base64 -w0)
KC=$(head -c 16 /dev/urandom | base64 -w0)
KD=$(head -c 16 /dev/urandom | base64 -w0)

etcd_cluster 3
replica 1
# replica 2 talks to member 1 only (the compaction part stops that member)
replica 2 --store "etcd://127.0.0.1:${E_CPORT[1]}"
on 1; req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set" eq "$CODE" 200
check "replica 2 applies it" wait_for 5 eval 'on 2; req GET /api/v2/status; [ "$(jqv .data.code)" = 3 ]'
on 1; setsec "$KA"
check "alice writes user_key = A" eq "$CODE" 200
check "replica 2 serves A" wait_for 5 eval '[ "$(getsec 2)" = "$KA" ]'
OLD_STATE=$(getval $K_STATE)
on 1; activate web
check "web activation 1" eq "$CODE" 200
K_WEB=$(firstkey "$P_WEB")   # replica 1's part
OLD_WEB=$(getval "$K_WEB")
check "old values saved" eval '[ -n "$OLD_STATE" ] && [ -n "$OLD_WEB" ]'
on 2; setsec "$KB"
check "alice writes user_key = B" eq "$CODE" 200
on 1; activate web; activate web
check "web activations 2 and 3 (replica 1's part goes 1 -> 3)" eq "$CODE" 200
on 1; activate web
check "web is at MaxActivations 3" eq "$CODE" 403
check "replica 1 serves B" wait_for 5 eval '[ "$(getsec 1)" = "$KB" ]'
on 1; req GET /api/v2/status
G1=$(jqv .data.replication.stateGeneration)
check "the state generation counts the state changes (manifest set, 2 secret writes)" eval '[ "$G1" -ge 3 ]'
CUR_STATE=$(getval $K_STATE)
for i in 1 2; do check "replica $i: nothing refused yet" eq "$(refused $i)" 0; done
sleep 1.2   # the counters reach the memory file within 1 s

# 1. the old state (user_key = A) written back
putval $K_STATE "$OLD_STATE"
for i in 1 2; do
  check "replica $i refuses the old state (metric)" wait_for 5 eval '[ "$(refused '$i')" -ge 1 ]'
  check "replica $i: blocked" eq "$(blocked $i)" 1
  check "replica $i logs the key and both generations at ERROR" eval \
    'grep "ROLLBACK REFUSED: /cairn/state" "$WORK/r'$i'/log" | grep -q "generation .* older than generation $G1"'
  check "replica $i still serves B (the overwritten A does not come back)" eq "$(getsec $i)" "$KB"
done
on 1; setsec "$KC"
check "a secret write answers 503" eq "$CODE" 503
check "and says why" eval 'echo "$BODY" | grep -q "older replicated state"'
on 2; activate free
check "an activation answers 503" eq "$CODE" 503
on 1; req GET /api/v2/status
check "status shows the refusal" eval '[ "$(jqv ".data.replication.rollbackRefused | length")" -ge 1 ]'
check "replicas are alive" eval 'kill -0 ${R_PID[1]} && kill -0 ${R_PID[2]}'

# a replica restarted now refuses the old state from its persisted memory
replica_stop 2
"$BIN" --simulation --store "etcd://127.0.0.1:${E_CPORT[1]}" --seal-dir "$WORK/seal" --client-addr 127.0.0.1:0 \
  --mesh-addr 127.0.0.1:0 >"$WORK/r2/restart.log" 2>&1 && RC=0 || RC=$?
check "a restarted replica refuses to start on the old state" eq "$RC" 1
check "and says why (both generations)" eval 'grep -q "ROLLBACK REFUSED: /cairn/state" "$WORK/r2/restart.log"'

# the current value written back: service resumes
putval $K_STATE "$CUR_STATE"
check "replica 1 unblocks" wait_for 5 eval '[ "$(blocked 1)" = 0 ]'
on 1; setsec "$KC"
check "writes resume (user_key = C)" eq "$CODE" 200
on 1; activate free
check "activations resume" eq "$CODE" 200
replica 2 --store "etcd://127.0.0.1:${E_CPORT[1]}"
check "the restarted replica serves C" wait_for 5 eval '[ "$(getsec 2)" = "$KC" ]'
sleep 1.2

# 2. the old activation counter (1 of 3) written back
CUR_WEB=$(getval "$K_WEB")
R1=$(refused 1)
putval "$K_WEB" "$OLD_WEB"
check "replica 1 refuses the old counter" wait_for 5 eval '[ "$(refused 1)" -gt "$R1" ]'
check "replica 1 logs the counter key and both values" eval \
  'grep "ROLLBACK REFUSED: $K_WEB" "$WORK/r1/log" | grep -q "value 1 at revision .* older than the value 3"'
for i in 1 2; do
  on $i; activate web
  check "replica $i: web stays refused (MaxActivations 3 not re-opened)" eval '[ "$CODE" = 403 ] || [ "$CODE" = 503 ]'
  on $i; activate free
  check "replica $i: other types keep working" eq "$CODE" 200
done
replica_stop 2
replica 2 --store "etcd://127.0.0.1:${E_CPORT[1]}"
on 2; activate web
check "a restarted replica refuses the old counter from its memory" eval '[ "$CODE" = 403 ] || [ "$CODE" = 503 ]'
check "and counts it" eval '[ "$(refused 2)" -ge 1 ]'
check "and logs it" eval 'grep -q "ROLLBACK REFUSED: $K_WEB" "$WORK/r2/log"'
# deleting the counter is a rollback to 0
R1=$(refused 1)
delkey "$K_WEB"
check "a deleted counter is refused too" wait_for 5 eval '[ "$(refused 1)" -gt "$R1" ]'
on 1; activate web
check "web stays refused after the delete" eval '[ "$CODE" = 403 ] || [ "$CODE" = 503 ]'
putval "$K_WEB" "$CUR_WEB"
check "the current counter written back: replica 1 unblocks" wait_for 5 eval '[ "$(blocked 1)" = 0 ]'
check "replica 2 unblocks" wait_for 5 eval '[ "$(blocked 2)" = 0 ]'
on 2; activate web
check "web answers as before: MaxActivations reached (403)" eq "$CODE" 403
on 2; activate free
check "replica 2 activates" eq "$CODE" 200

# 3. legit: replica 2's watch resumes after the revisions it missed were
# compacted (it reloads everything): nothing is refused
R2=$(refused 2)
etcd_stop 1
on 1; setsec "$KB"; setsec "$KD"
check "secret writes while member 1 is down (replica 1 fails over)" eq "$CODE" 200
REV=$(gw 2 kv/range "{\"key\":\"$(b64 $K_STATE)\"}" | jq -r .header.revision)
gw 2 kv/compaction "{\"revision\":\"$REV\",\"physical\":true}" >/dev/null
etcd_start 1
etcd_wait_healthy
check "replica 2 resynchronises and serves D" wait_for 20 eval '[ "$(getsec 2)" = "$KD" ]'
check "replica 2 reloaded after compaction" eval 'grep -q "watch history compacted" "$WORK/r2/log"'
check "replica 2 refused nothing in the resync" eq "$(refused 2)" "$R2"
on 2; setsec "$KA"
check "replica 2 writes after the resync" eq "$CODE" 200

# 4. legit: a manifest set on a replica in recovery (its own seal: it cannot
# open the state) commits above the generation it sees in the clear, with a
# new counterKey; the replicas that remember web at 3 take it (new epoch:
# web counts from 0 again) without refusing anything
R1=$(refused 1); R2=$(refused 2)
on 1; req GET /api/v2/status
G_BEFORE=$(jqv .data.replication.stateGeneration)
replica 3 --seal-dir "$WORK/s3" --key-api-addr 127.0.0.1:0
on 3; req GET /api/v2/status
check "replica 3 (its own seal, no peer holds a key API) is in recovery" eq "$(jqv .data.code)" 1
on 3; req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "a manifest set on the replica in recovery" eq "$CODE" 200
for i in 1 2; do
  check "replica $i applies the new state (key from replica 3's key API)" wait_for 20 eval     'on '$i'; req GET /api/v2/status; [ "$(jqv .data.replication.stateGeneration)" -gt "$G_BEFORE" ]'
done
on 1; activate web
check "web activates again under the new counterKey" eq "$CODE" 200
check "replica 1 refused nothing" eq "$(refused 1)" "$R1"
check "replica 2 refused nothing" eq "$(refused 2)" "$R2"
finish
