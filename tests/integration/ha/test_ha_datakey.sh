#!/usr/bin/env bash
# The sealed copies of the data key in etcd (docs/high-availability.md
# "The data key on etcd"), with real etcd and real replicas, each with a seal
# key of its own (--seal-dir sN):
#  1. a replica that got the data key from a peer stores its own sealed copy
#     (P datakey/<id>/<seal identity>) and later starts without any peer,
#     after the replica that created the key is gone with its seal directory
#     (before: it asked a peer at every start and fell into recovery);
#  2. when the data key changes (a manifest set on a replica in recovery
#     creates a new key id), the entries of every other id are deleted in the
#     transaction that commits the state naming the new one (before: never
#     deleted);
#  3. a race of such key changes on three replicas at once: one wins, the
#     entries left are exactly those of the id the state names, and each
#     replica then restarts from its own copy (the cleanup never deleted the
#     live key).
. "$(dirname "$0")/lib.sh"
cat >"$WORK/m.json" <<'JSON'
{"Packages": {"pkg": {"Debug": true, "UniqueID": "00"}}, "Marbles": {"free": {"Package": "pkg"}},
 "Secrets": {"s": {"Type": "symmetric-key", "Size": 128}}}
JSON
P=/cairn/

# the data key id the state in etcd names (bytes 4..20 of P state), hex
state_kid() {
  etcdctl_ get -w json "${P}state" | python3 -c '
import base64, json, sys
kv = json.load(sys.stdin)["kvs"][0]
print(base64.b64decode(kv["value"])[4:20].hex())'
}
# the keys under P datakey/, one per line, without the prefix
datakey_keys() { etcdctl_ get --prefix --keys-only "${P}datakey/" | sed -n "s|^${P}datakey/||p"; }
stored() { grep -q "stored sealed with this replica's seal" "$WORK/r$1/log"; }

etcd_cluster 1
replica 1 --seal-dir "$WORK/s1" --key-api-addr 127.0.0.1:0
on 1
req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set on replica 1" eq "$CODE" 200
req GET /api/v2/quote
ROOT=$(jqv .data.cert)
KID=$(state_kid)

# 1. replica 2 joins from replica 1 and keeps a copy sealed with its own seal
replica 2 --seal-dir "$WORK/s2" --key-api-addr 127.0.0.1:0
check "replica 2 (own seal key) starts in state 3" eq "$(state_of 2)" 3
check "  ... with the key from replica 1's key API" grep -q "got the data key (id [0-9a-f]*) from" "$WORK/r2/log"
check "replica 2 stores its own sealed copy once it serves" wait_for 10 stored 2
check "two copies of the key now, one per seal, both under the state's id" \
  eq "$(datakey_keys | grep -c "^$KID/[0-9a-f]\{32\}$")" 2
check "  ... and nothing else" eq "$(datakey_keys | wc -l)" 2
# replica 1 goes for good, with its seal directory (its copy opens nowhere now)
replica_stop 1
rm -rf "$WORK/s1"
replica_stop 2
# replica 2 restarts alone: its own copy opens the state, no peer is asked
replica 3 --seal-dir "$WORK/s2" --key-api-addr 127.0.0.1:0
check "replica 2 restarted with no other replica: state 3 (not recovery)" eq "$(state_of 3)" 3
on 3; req GET /api/v2/quote
check "  ... serving the same root" eq "$(jqv .data.cert)" "$ROOT"
check "  ... from its own sealed copy, no peer asked" \
  bash -c "! grep -q 'asking the other replicas' '$WORK/r3/log'"
on 3; activate free
check "  ... and activates a marble" eq "$CODE" 200
echo "# ready: replica 2 with the key from a peer $(jq -r .ready_ms "$WORK/r2/ready.json") ms" \
  "(key at $(jq -r .key_ms "$WORK/r2/ready.json") ms); restarted from its own copy $(jq -r .ready_ms "$WORK/r3/ready.json") ms"

# 2. the key changes: every holder gone, a new replica with a new seal is in
# recovery and a manifest set there creates a new data key id
replica_stop 3
replica 4 --seal-dir "$WORK/s4" --key-api-addr 127.0.0.1:0
check "no holder: replica 4 is in recovery" eq "$(state_of 4)" 1
on 4
req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "a manifest set on the replica in recovery" eq "$CODE" 200
KID2=$(state_kid)
check "  ... names a new data key id" bash -c "[ '$KID2' != '$KID' ]"
check "the old id's entries are deleted: only the new id's copy is left" eq "$(datakey_keys)" \
  "$(datakey_keys | grep "^$KID2/[0-9a-f]\{32\}$")"
check "  ... exactly one (replica 4's)" eq "$(datakey_keys | wc -l)" 1
check "  ... the deletion is logged" grep -q "deleted the sealed copies of the data keys the state no longer names" "$WORK/r4/log"

# 3. a race of key changes: three replicas in recovery (every holder gone),
# a manifest set on each at the same moment
replica_stop 4
for round in 1; do
  for i in 5 6 7; do replica "$i" --seal-dir "$WORK/s$round$i" --key-api-addr 127.0.0.1:0; done
  for i in 5 6 7; do check "round $round: replica $i in recovery" eq "$(state_of $i)" 1; done
  for i in 5 6 7; do
    curl -sk -o /dev/null -w '%{http_code}\n' -X POST -HContent-Type:application/json \
      "https://${R_CLIENT[$i]}/api/v2/manifest" -d "$(mbody "$WORK/m.json")" >"$WORK/race$i" &
  done
  wait_all() { for i in 5 6 7; do [ -s "$WORK/race$i" ] || return 1; done; }
  wait_for 30 wait_all || true
  wins=$(cat "$WORK"/race[567] | grep -c '^200$' || true)
  check "round $round: exactly one manifest set wins ($(cat "$WORK"/race[567] | tr '\n' ' '))" eq "$wins" 1
  K=$(state_kid)
  # the losers open the winner's state with the key from its key API and store their copies
  all3() { [ "$(datakey_keys | grep -c "^$K/")" = 3 ]; }
  check "round $round: every replica stores a copy of the state's key" wait_for 30 all3
  check "round $round: no entry of any other id is left" eq "$(datakey_keys | grep -vc "^$K/" || true)" 0
  for i in 5 6 7; do replica_stop "$i"; done
  # each restarts alone from its own copy: the live key was never deleted
  for i in 5 6 7; do
    mv "$WORK/r$i/log" "$WORK/r$i/log.$round"
    replica "$i" --seal-dir "$WORK/s$round$i" --key-api-addr 127.0.0.1:0
    check "round $round: replica $i restarts alone in state 3" eq "$(state_of $i)" 3
    check "  ... without asking a peer" bash -c "! grep -q 'asking the other replicas' '$WORK/r$i/log'"
    replica_stop "$i"
  done
  rm -f "$WORK"/race[567]
done
finish
