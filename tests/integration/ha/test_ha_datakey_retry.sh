#!/usr/bin/env bash
# A replica that got the data key from a peer while etcd refused writes (its
# space quota exhausted: etcd's NOSPACE alarm) stores its own sealed copy as
# soon as etcd takes writes again, without a restart, and then starts alone
# (the peer gone with its seal directory) from that copy. Before: the copy
# was tried once; the replica asked a peer at every start and, with none
# left, fell into recovery. Real etcd with a small --quota-backend-bytes,
# filled and cleared with etcdctl.
. "$(dirname "$0")/lib.sh"
cat >"$WORK/m.json" <<'JSON'
{"Packages": {"pkg": {"Debug": true, "UniqueID": "00"}}, "Marbles": {"free": {"Package": "pkg"}},
 "Secrets": {"s": {"Type": "symmetric-key", "Size": 128}}}
JSON
P=/cairn/
datakey_count() { etcdctl_ get --prefix --keys-only "${P}datakey/" | grep -c . || true; }
nospace() { grep -q NOSPACE <<<"$(etcdctl_ alarm list)"; }   # not a pipe into grep -q: pipefail

ETCD_EXTRA_FLAGS="--quota-backend-bytes 8388608" etcd_cluster 1
replica 1 --seal-dir "$WORK/s1" --key-api-addr 127.0.0.1:0
on 1; req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set on replica 1" eq "$CODE" 200
check "one sealed copy of the data key in etcd (replica 1's)" eq "$(datakey_count)" 1

# fill etcd until it refuses writes (1 MB values against an 8 MiB quota)
head -c 1000000 /dev/zero | tr '\0' x >"$WORK/big"
for i in $(seq 1 20); do
  etcdctl_ put "/fill/$i" <"$WORK/big" >/dev/null 2>&1 || true
  nospace && break
done
check "etcd raised its NOSPACE alarm" nospace
PROBE=$(etcdctl_ put /probe x 2>&1 || true)
CODE=$PROBE
check "etcd refuses writes" eval 'echo "$PROBE" | grep -q "database space exceeded"'
CODE=

# replica 2 has a seal of its own: it gets the data key from replica 1
replica 2 --seal-dir "$WORK/s2"
check "replica 2 serves the state (state 3) with the key from replica 1" eq "$(state_of 2)" 3
check "replica 2 could not store its copy and says it tries again" wait_for 10 eval \
  'grep -q "not stored for this replica yet.*trying again every second" "$WORK/r2/log"'
check "still one copy in etcd" eq "$(datakey_count)" 1
check "the replica's log carries etcd's refusal as its gRPC status" eval \
  'grep -q "ResourceExhausted: etcdserver: mvcc: database space exceeded" "$WORK/r2/log"'

# etcd takes writes again: delete the filler, compact, defragment, disarm
etcdctl_ del --prefix /fill/ >/dev/null
REV=$(etcdctl_ get / --prefix --keys-only -w json | jq -r .header.revision)
etcdctl_ compact "$REV" >/dev/null
etcdctl_ defrag >/dev/null
etcdctl_ alarm disarm >/dev/null
check "etcd takes writes again" eval 'etcdctl_ put /probe x >/dev/null'
check "replica 2 stores its own copy without a restart" wait_for 15 eval \
  'grep -q "stored sealed with this replica.s seal" "$WORK/r2/log"'
check "two copies in etcd (one per seal)" eq "$(datakey_count)" 2

# replica 1 gone for good with its seal: replica 2 starts alone from its copy
replica_stop 1
rm -rf "$WORK/s1"
replica_stop 2
L=$(wc -l <"$WORK/r2/log")
replica 2 --seal-dir "$WORK/s2" --key-api-wait 2
check "replica 2 restarts alone into state 3 (no peer, no recovery)" eq "$(state_of 2)" 3
check "from its own copy (no replica asked)" eval '! tail -n +$((L + 1)) "$WORK/r2/log" | grep -q "asking the other replicas"'
finish
