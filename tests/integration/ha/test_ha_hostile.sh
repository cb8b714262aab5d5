#!/usr/bin/env bash
# etcd is outside the TEE: whoever can write to it must not be able to raise
# MaxActivations, plant a state, or crash a replica. Values are forged with
# etcdctl (an implementation we did not write) under running replicas.
. "$(dirname "$0")/lib.sh"

cat >"$WORK/m.json" <<'JSON'
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"web": {"Package": "pkg", "MaxActivations": 3}, "api": {"Package": "pkg", "MaxActivations": 3},
              "job": {"Package": "pkg", "MaxActivations": 3}, "free": {"Package": "pkg"}}
}
JSON
etcd_cluster 1
replica 1
replica 2
on 1; req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set" eq "$CODE" 200
on 1; activate web; activate web; activate web
check "web reaches MaxActivations 3" eq "$CODE" 200
on 2; activate api
check "api activated once" eq "$CODE" 200
# the counters: one part per replica, P act/<hex type>/<replica id>
WEB=$(etcdctl_ get --prefix --keys-only "/cairn/act/$(printf web | od -An -tx1 | tr -d ' \n')/" | grep . | head -1)
API=$(etcdctl_ get --prefix --keys-only "/cairn/act/$(printf api | od -An -tx1 | tr -d ' \n')/" | grep . | head -1)
check "web and api have their parts in etcd" eval '[ -n "$WEB" ] && [ -n "$API" ]'

# a forged counter (garbage) on api, which has room left (1 of 3): blocked,
# never reopened or raised
etcdctl_ put "$API" "0" >/dev/null
sleep 0.5
on 2; activate api
check "a forged counter value blocks api instead of resetting it (refused)" eq "$CODE" 403
check "the replica logs the counter that does not authenticate" eval 'grep -q "does not authenticate" "$WORK/r2/log"'
# web's genuine sealed counter copied over api: it does not open under api's name
etcdctl_ get "$WEB" --print-value-only | head -c -1 | ETCDCTL_API=3 etcdctl --endpoints="$ETCD_EP" put "$API" >/dev/null
sleep 0.5
on 1; activate api
check "a sealed counter copied from another type does not open for api (refused)" eq "$CODE" 403
on 1; activate free
check "other types keep working" eq "$CODE" 200
on 2; activate web
check "web (untouched) is still at its maximum" eq "$CODE" 403

# a part under a replica id no replica has (job has room: 1 of 3): counted
# as full, never as zero
on 1; activate job
check "job activated once" eq "$CODE" 200
etcdctl_ put "/cairn/act/$(printf job | od -An -tx1 | tr -d ' \n')/00000000000000ff" "0" >/dev/null
sleep 0.5
on 2; activate job
check "a forged part of an unknown replica blocks job (refused)" eq "$CODE" 403

# registry junk: ignored
etcdctl_ put /cairn/replicas/ffffffffffffffff 'not json' >/dev/null
etcdctl_ put /cairn/replicas/0000000000000000 '{"id":"0000000000000000","client":"x","mesh":"y:1","key":"","version":"","started":1}' >/dev/null
sleep 0.3
on 1; req GET /api/v2/status
check "status lists only the two genuine replicas" eq "$(jqv '.data.replication.replicas | length')" 2

# a forged state: running replicas keep their snapshot, refuse to build on
# what they cannot open, and a new replica refuses to start
etcdctl_ put /cairn/state "CHA1xxxxxxxxxxxxxxxxgarbage" >/dev/null
sleep 0.5
on 1; req GET /api/v2/manifest
check "reads keep working on the old snapshot" eq "$CODE" 200
on 2; activate free
check "activations are refused (the committed state is not the one served)" eq "$CODE" 503
check "replicas are alive" eval 'kill -0 ${R_PID[1]} && kill -0 ${R_PID[2]}'
check "the replica logs the state it cannot apply" eval 'grep -q "cannot apply the state committed" "$WORK/r1/log"'
mkdir -p "$WORK/r3"
"$BIN" --simulation --store "etcd://$ETCD_EP" --seal-dir "$WORK/seal" --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 \
  >"$WORK/r3/log" 2>&1 && RC=0 || RC=$?
check "a new replica refuses to start on a forged state" eq "$RC" 1
check "and says why" eval 'grep -q "etcd state" "$WORK/r3/log"'
etcdctl_ put /cairn/state "$(head -c 3000 /dev/urandom | base64 -w0)" >/dev/null
"$BIN" --simulation --store "etcd://$ETCD_EP" --seal-dir "$WORK/seal" --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 \
  >"$WORK/r3/log2" 2>&1 && RC=0 || RC=$?
check "random bytes as state: refused at start with a clear message" eval \
  '[ "$RC" = 1 ] && grep -q "not a Cairn replicated state" "$WORK/r3/log2"'
finish
