#!/usr/bin/env bash
# Replicas on an etcd cluster that serves clients over TLS only and requires
# client certificates (--etcd-ca, --etcd-cert, --etcd-key), with both ways
# of reaching it side by side: replicas 1 and 3 speak etcd's native gRPC
# (HTTP/2 over TLS, ALPN h2), replica 2 its JSON gateway (--etcd-wire
# gateway). They share one state: the manifest set on one, a secret written
# on another, MaxActivations counted across all three. A replica without a
# client certificate, or trusting another CA, does not start and says why.
. "$(dirname "$0")/lib.sh"

ETCD_TLS=$WORK/etcd-tls
etcd_tls_certs "$ETCD_TLS"
mkuser alice
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"web": {"Package": "pkg", "MaxActivations": 3, "Parameters": {"Env": {"U": "{{ hex .Secrets.user_key }}"}}}},
  "Secrets": {"user_key": {"Type": "symmetric-key", "Size": 128, "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(pemjson "$WORK/alice.crt"), "Roles": ["rw"]}},
  "Roles": {"rw": {"ResourceType": "Secrets", "ResourceNames": ["user_key"], "Actions": ["ReadSecret", "WriteSecret"]}}
}
JSON

etcd_cluster 3
check "etcd refuses plain HTTP from clients" eval \
  '! curl -s --max-time 2 "http://127.0.0.1:${E_CPORT[1]}/health" | grep -q health'
TLS=(--etcd-ca "$ETCD_TLS/ca.pem" --etcd-cert "$ETCD_TLS/client.pem" --etcd-key "$ETCD_TLS/client.key")
replica 1 "${TLS[@]}"
replica 2 "${TLS[@]}" --etcd-wire gateway
replica 3 "${TLS[@]}"

on 1; req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set on replica 1 (gRPC)" eq "$CODE" 200
KEY=$(openssl rand -base64 16)
on 2; ureq alice POST /api/v2/secrets -d "{\"secrets\":{\"user_key\":{\"Key\":\"$KEY\"}}}"
check "alice writes a user secret on replica 2 (gateway)" eq "$CODE" 200
check "replica 3 (gRPC) serves it within 5 s" wait_for 5 eval '[ "$(getsec 3)" = "$KEY" ]'
for i in 1 2 3; do
  on $i; activate web
  check "web activated on replica $i" eq "$CODE" 200
done
on 2; activate web
check "a fourth activation is refused on the gateway replica: MaxActivations 3 holds across both wires" eq "$CODE" 403
on 1; activate web
check "and on a gRPC replica" eq "$CODE" 403
check "the counter parts are in etcd, read over TLS with etcdctl" eval \
  '[ "$(etcdctl_ get --prefix --keys-only /cairn/act/ | grep -c .)" -ge 3 ]'

# without a client certificate etcd ends the TLS handshake: no start, a reason
if start_coord r4 --store "etcd://$ETCD_EP" --seal-dir "$WORK/seal" --etcd-ca "$ETCD_TLS/ca.pem"; then
  check "a replica without a client certificate does not start" false
else
  check "a replica without a client certificate does not start" true
fi
check "it names etcd and the missing client certificate" eval 'grep -i "etcd" "$WORK/r4/log" | grep -c "no client certificate was offered" >/dev/null'
# a CA that did not issue etcd's certificate: the server is not trusted
etcd_tls_certs "$WORK/other-ca"
if start_coord r5 --store "etcd://$ETCD_EP" --seal-dir "$WORK/seal" --etcd-ca "$WORK/other-ca/ca.pem" \
  --etcd-cert "$ETCD_TLS/client.pem" --etcd-key "$ETCD_TLS/client.key"; then
  check "a replica trusting another CA does not start" false
else
  check "a replica trusting another CA does not start" true
fi
check "it names the certificate problem" eval 'grep -i "etcd" "$WORK/r5/log" | grep -ci "certificate\|ssl" >/dev/null'
if "$CAIRN_BIN_DIR/cairn-coordinator" --simulation --store "etcd://$ETCD_EP" --etcd-wire http3 2>"$WORK/wire.err"; then
  check "an unknown --etcd-wire is refused" false
else
  check "an unknown --etcd-wire is refused" grep -q "expected grpc or gateway" "$WORK/wire.err"
fi
finish
