#!/usr/bin/env bash
# MaxActivations stays exact when a marble type has many counter parts
# (docs/high-availability.md, "Who writes"): every replica process writes its
# own part P act/<type>/<replica id>, and a restarted replica is a new id, so
# restarts leave parts behind. Up to 32 peer parts a transaction bounds each
# one; beyond that it falls back to one range compare over all parts. Here
# replica 2 is restarted 34 times with one activation each (36 parts in all),
# then replicas 1 and 3 race for the last slots: exactly MaxActivations
# activations succeed in total, and every replica agrees on the count.
# The race is real, so its power is a probability: with every peer-part
# compare removed from the transaction (a mutation tried once), it failed
# 1 of 2 runs (overshoot); the correct code passed every run.
. "$(dirname "$0")/lib.sh"

MAX=60
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"lim": {"Package": "pkg", "MaxActivations": $MAX}}
}
JSON
etcd_cluster 1
replica 1
replica 3
on 1; req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set" eq "$CODE" 200
for i in 1 3; do on $i; activate lim; check "an activation on replica $i" eq "$CODE" 200; done
RESTARTS=34
okr=0
for n in $(seq 1 $RESTARTS); do
  replica 2
  on 2; activate lim
  [ "$CODE" = 200 ] && okr=$((okr + 1))
  replica_stop 2
done
check "$RESTARTS activations on $RESTARTS successive replica-2 processes" eq "$okr" "$RESTARTS"
HEX=$(printf 'lim' | od -An -tx1 | tr -d ' \n')
PARTS=$(etcdctl_ get --prefix --keys-only "/cairn/act/$HEX/" | grep -c . || true)
check "36 counter parts in etcd (more than the 32 bounded one by one)" eq "$PARTS" 36
LEFT=$((MAX - 2 - RESTARTS))
BG=()
for i in 1 3; do
  "$LOADGEN" activate "${R_MESH[$i]}" lim -c 16 -n 40 -t 60 -i 32 >"$WORK/lg$i.json" 2>"$WORK/lg$i.err" &
  BG+=($!)
done
wait "${BG[@]}" || true
OK=$(( $(jq -r .ok "$WORK/lg1.json") + $(jq -r .ok "$WORK/lg3.json") ))
check "replicas 1 and 3 racing for the last $LEFT slots: exactly $LEFT succeed" eq "$OK" "$LEFT"
check "the refusals are 403 (MaxActivations), not errors" eval '! grep -q "status 5" "$WORK"/lg*.err'
for i in 1 3; do check "replica $i counts $MAX" wait_for 5 eval '[ "$(committed '$i' lim)" = "$MAX" ]'; done
on 1; activate lim
check "one more on replica 1 is refused" eq "$CODE" 403
finish
