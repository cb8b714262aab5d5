#!/usr/bin/env bash
# Replicated state on etcd (docs/high-availability.md): a 3-member etcd
# cluster and 3 Coordinator replicas on loopback. The manifest set on one,
# marbles activated on all three (MaxActivations cluster-wide), a user
# secret written on one and read with the update log from another, the
# registry in status and metrics, a restart of every replica at once, and a
# second deployment beside the first under another key prefix. Replica 3
# reaches etcd through its JSON gateway (--etcd-wire gateway), the others
# through native gRPC (h2c): both wires share one state.
. "$(dirname "$0")/lib.sh"

mkuser alice
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {
    "web": {"Package": "pkg", "MaxActivations": 2, "Parameters": {"Env": {"K": "{{ hex .Secrets.k }}", "U": "{{ hex .Secrets.user_key }}"}}},
    "free": {"Package": "pkg", "Parameters": {"Env": {"K": "{{ hex .Secrets.k }}"}}}
  },
  "Secrets": {"k": {"Type": "symmetric-key", "Size": 128, "Shared": true},
              "user_key": {"Type": "symmetric-key", "Size": 128, "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["rw"]}},
  "Roles": {"rw": {"ResourceType": "Secrets", "ResourceNames": ["user_key"], "Actions": ["ReadSecret", "WriteSecret"]}}
}
JSON

etcd_cluster 3
replica 1; replica 2; replica 3 --etcd-wire gateway

root_of() { on "$1"; req GET /api/v2/quote; jqv .data.cert; }
for i in 1 2 3; do check "replica $i starts in state 2" eq "$(state_of $i)" 2; done
check "the root certificate is served" eval '[ -n "$(root_of 1)" ]'
check "all replicas share one root certificate" eq "$(root_of 1)$(root_of 1)" "$(root_of 2)$(root_of 3)"

on 1
req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set on replica 1" eq "$CODE" 200
for i in 2 3; do
  check "replica $i applies the manifest (state 3) within 5 s" wait_for 5 eval '[ "$(state_of '$i')" = 3 ]'
done
on 3
req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "a second manifest set on replica 3 is refused (409, state 3)" eq "$CODE" 409

on 2
KEY=$(head -c 16 /dev/urandom | base64 -w0)
ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$KEY\"}}}"
check "alice writes a user secret on replica 2" eq "$CODE" 200
on 3
check "replica 3 serves the secret within 5 s" wait_for 5 eval \
  'ureq alice GET "/api/v2/secrets?s=user_key"; [ "$(jqv .data.secrets.user_key.Private)" = "$KEY" ]'
req GET /api/v2/update
check "replica 3's update log has the manifest set and the secret write" eval \
  'contains "$BODY" "Initial manifest set" && contains "$BODY" "Secret set"'
on 1; activate web
check "web activated on replica 1" eq "$CODE" 200
K1=$(jqv .data.env.K)
on 2; activate web
check "web activated on replica 2" eq "$CODE" 200
check "replicas hand out the same shared secret" eq "$(jqv .data.env.K)" "$K1"
check "a marble on replica 2 gets the user secret written on replica 2" eq "$(jqv .data.env.U | base64 -d)" "$(printf %s "$KEY" | base64 -d | od -An -tx1 | tr -d " \n")"
on 3; activate web
check "third web activation refused on replica 3: MaxActivations 2 holds cluster-wide" eq "$CODE" 403
check "the refusal names MaxActivations" contains "$BODY" "maximum number of activations (2)"
for i in 1 2 3; do
  on $i; activate free
  check "free activated on replica $i" eq "$CODE" 200
done
# one part per replica that activated web (replicas 1 and 2), each sealed
check "the counter is in etcd as one part per replica" eq \
  "$(etcdctl_ get --prefix --keys-only /cairn/act/776562/ | grep -c .)" 2
check "each part is sealed (no plaintext count)" eval \
  '[ -z "$(etcdctl_ get --prefix --print-value-only /cairn/act/776562/ | grep -v "^$" | awk "length(\$0) <= 20")" ]'


on 1; req GET /api/v2/status
check "status lists the three replicas" eq "$(jqv '.data.replication.replicas | length')" 3
check "status names this replica" eq "$(jqv '[.data.replication.replicas[] | select(.self)] | length')" 1
check "status shows etcd available" eq "$(jqv .data.replication.etcdAvailable)" true
for i in 1 2 3; do check "metrics of replica $i: cairn_replicas 3" eq "$(metric $i cairn_replicas)" 3; done
check "metrics: replica 3 reaches etcd through the gateway" eval \
  'curl -s "http://${R_METRICS[3]}/metrics" | grep -c "^cairn_etcd_endpoint_info{endpoint=\"http://127.0.0.1:[0-9]*\",wire=\"gateway\"} 1$" >/dev/null'
on 1; req GET /api/v2/status
check "status: replica 1 reaches etcd over gRPC" eq "$(jqv .data.replication.etcdWire)" grpc
# the CLI shows the same (a simulated Coordinator: -i, no quote to verify)
ST=$(HOME=$WORK/clihome "$CAIRN_BIN_DIR/cairn" status -i "${R_CLIENT[2]}" 2>"$WORK/status.err") || ST="cairn status failed: $(cat "$WORK/status.err")"
printf '%s\n' "$ST" | sed 's/^/# cairn status: /'
check "cairn status: state line first" eval 'printf "%s\n" "$ST" | head -1 | grep -q "^3: "'
check "cairn status: etcd reachable, 3 replicas" eval 'printf "%s\n" "$ST" | grep -q "^replicas on etcd: 3, state revision [0-9]*, etcd reachable$"'
check "cairn status: one line per replica" eq "$(printf '%s\n' "$ST" | grep -c '^  .*  client 127.0.0.1:[0-9]*  mesh ')" 3
check "cairn status: names the replica that answered" eval \
  'printf "%s\n" "$ST" | grep -qF "  client ${R_CLIENT[2]}  mesh ${R_MESH[2]}  (answered)"'
if command -v promtool >/dev/null; then
  curl -s "http://${R_METRICS[1]}/metrics" >"$WORK/metrics.txt"
  promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1 || true
  grep -E "cairn_(etcd|replica|activations_committed)" "$WORK/promtool.out" | sed "s/^/# promtool: /" || true
  check "promtool: the replication metrics parse and lint clean" eval \
    '! grep -E "cairn_(etcd|replica|activations_committed)" "$WORK/promtool.out"'
  check "promtool saw the replication metrics" eval 'grep -q "^cairn_replica_info{" "$WORK/metrics.txt"'
fi
# (captured first: `etcdctl ... | grep -q` fails under pipefail when grep
# stops reading before etcdctl's last write, depending on the key order)
check "registry holds each replica's client address" eval \
  'grep -q "\"client\":\"${R_CLIENT[2]}\"" <<<"$(etcdctl_ get --prefix /cairn/replicas/ --print-value-only)"'

# every replica restarts at once: nothing acknowledged is lost
for i in 1 2 3; do replica_stop $i; done
check "stopped replicas leave the registry at once (lease revoked)" eval \
  '[ -z "$(etcdctl_ get --prefix /cairn/replicas/ --keys-only)" ]'
replica 1; replica 2; replica 3 --etcd-wire gateway
for i in 1 2 3; do check "replica $i is in state 3 after the restart" eq "$(state_of $i)" 3; done
on 2; activate web
check "after the restart web stays at MaxActivations" eq "$CODE" 403
on 3; ureq alice GET "/api/v2/secrets?s=user_key"
check "after the restart the secret is there" eq "$(jqv .data.secrets.user_key.Private)" "$KEY"
on 1; activate free
check "after the restart the shared secret is the same" eq "$(jqv .data.env.K)" "$K1"

# another deployment on the same etcd under its own prefix
replica 4 --store-prefix /other/
check "a replica under another prefix is a separate deployment (state 2)" eq "$(state_of 4)" 2
check "its root certificate differs" eval '[ "$(root_of 4)" != "$(root_of 1)" ]'
on 4; req GET /api/v2/status
check "its registry lists only itself" eq "$(jqv '.data.replication.replicas | length')" 1

# requests go to the raft leader first (a follower would forward them):
# leadership moved to member 3 with etcdctl, every replica follows it
M3=$(etcdctl_ member list | awk -F', ' '$3 == "e3" {print $1}')
leads3() { grep "127.0.0.1:${E_CPORT[3]}," <<<"$(etcdctl_ endpoint status)" | grep -c ", true," >/dev/null; }
leads3 || etcdctl_ move-leader "$M3" >/dev/null
check "etcdctl moved the leadership to member 3" wait_for 5 leads3
for i in 1 2 3; do
  check "replica $i sends its requests to the new leader (member 3) within 15 s" wait_for 15 eval \
    'grep -q "the raft leader is http://127.0.0.1:${E_CPORT[3]};" "$WORK/r'$i'/log"'
done
# (eventually: a watch stream broken by the move sends requests to the next
# member until the next probe)
endpoint_of() { on "$1"; req GET /api/v2/status; jqv .data.replication.etcdEndpoint; }
check "status names the member replica 2 sends its requests to (member 3) within 15 s" wait_for 15 eval \
  '[ "$(endpoint_of 2)" = "http://127.0.0.1:${E_CPORT[3]}" ]'

check "a bad prefix is refused at start" eval \
  '! "$BIN" --simulation --store "etcd://$ETCD_EP" --store-prefix "no-slash" --seal-dir "$WORK/seal" \
     --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 >"$WORK/badprefix.log" 2>&1 && grep -q "store-prefix" "$WORK/badprefix.log"'
check "a bad --store is refused" eval \
  '! "$BIN" --simulation --store "redis://x" --seal-dir "$WORK/seal" >"$WORK/badstore.log" 2>&1 && grep -q "expected file or etcd" "$WORK/badstore.log"'
finish
