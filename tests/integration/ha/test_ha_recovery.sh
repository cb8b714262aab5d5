#!/usr/bin/env bash
# Recovery on etcd with activation counters: every replica lost its seal
# key, so none can open the replicated state (state 1); the recovery secret
# (one recovery key) restores it in one transaction, and MaxActivations
# still counts what was activated before, on every replica, while a
# monotonic counter keeps its value. (A recovery that carried counters once
# sent etcd a transaction it refuses: a put inside a delete range of the
# same transaction.)
. "$(dirname "$0")/lib.sh"
mkreckey rk1
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"web": {"Package": "pkg", "MaxActivations": 3}, "free": {"Package": "pkg", "Parameters": {"Env": {"S": "{{ hex .Secrets.s }}"}}}},
  "Secrets": {"s": {"Type": "symmetric-key", "Size": 128, "Shared": true}},
  "RecoveryKeys": {"rk1": $(pemjson "$WORK/rk1.pub")},
  "Config": {"FeatureGates": ["MonotonicCounter"]}
}
JSON
secret_s() { echo "$BODY" | jq -r '.data.env.S // empty' | base64 -d 2>/dev/null; }

etcd_cluster 1
replica 1 --seal-dir "$WORK/s1" --key-api-addr 127.0.0.1:0
replica 2 --seal-dir "$WORK/s2" --key-api-addr 127.0.0.1:0
on 1
req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set on replica 1" eq "$CODE" 200
echo "$BODY" >"$WORK/rec.json"
jq -r .data.RecoverySecrets.rk1 "$WORK/rec.json" | base64 -d >"$WORK/rk1.enc"
openssl pkeyutl -decrypt -inkey "$WORK/rk1.key" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
  -pkeyopt rsa_mgf1_md:sha256 -in "$WORK/rk1.enc" -out "$WORK/rk1.secret"
check "one recovery secret (32 bytes)" eq "$(wc -c <"$WORK/rk1.secret")" 32
check "replica 2 serves the state" wait_for 10 eval '[ "$(state_of 2)" = 3 ]'
on 1; activate web; C1=$CODE
on 2; activate web; C2=$CODE
CODE="$C1,$C2"
check "web activated once on each replica (2 of 3)" eq "$CODE" "200,200"
on 1; activate free
S_BEFORE=$(secret_s)
check "a marble gets the shared secret" eval '[ -n "$S_BEFORE" ]'
# that marble's credentials, for the monotonic counter API (client port)
echo "$BODY" | jq -r .data.env.MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN | base64 -d >"$WORK/m.crt"
echo "$BODY" | jq -r .data.env.MARBLE_PREDEFINED_PRIVATE_KEY | base64 -d >"$WORK/m.key"
ctr() {   # ctr REPLICA VALUE: counter "c" := max(c, VALUE); BODY's .data.value is the value before
  on "$1"
  CODE=$(curl -sk --cert "$WORK/m.crt" --key "$WORK/m.key" -o "$WORK/body" -w '%{http_code}' \
    -H 'Content-Type: application/json' -d "{\"name\":\"c\",\"value\":$2}" \
    "https://$CLIENT/api/v2/monotonic-counter" || true)
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
ctr 2 7
check "monotonic counter c := 7 on replica 2" eq "$CODE $(jqv .data.value)" "200 0"

# every replica loses its seal key (and with it its copy of the data key)
replica_stop 1; replica_stop 2
rm -rf "$WORK/s1" "$WORK/s2"
replica 1 --seal-dir "$WORK/s1" --key-api-wait 2 --key-api-addr 127.0.0.1:0
replica 2 --seal-dir "$WORK/s2" --key-api-wait 2
for i in 1 2; do check "replica $i is in recovery (state 1)" eq "$(state_of $i)" 1; done

on 1
req POST /api/v2/recover -d "{\"recoverySecret\":\"$(base64 -w0 "$WORK/rk1.secret")\",\"recoverySecretSignature\":\"$(openssl dgst -sha256 -sign "$WORK/rk1.key" "$WORK/rk1.secret" | base64 -w0)\"}"
check "recovery on replica 1 with the recovery secret" eq "$CODE" 200
check "replica 1 serves the recovered state (state 3)" eval '[ "$(state_of 1)" = 3 ]'
check "the recovery committed (no transaction refused by etcd)" eval '! grep -q "duplicate key" "$WORK/r1/log"'
on 1; activate free
check "a marble gets the same shared secret after recovery" eq "$(secret_s)" "$S_BEFORE"
check "replica 1 counts the 2 activations of web from before" wait_for 5 eval '[ "$(committed 1 web)" = 2 ]'
ctr 1 5
check "the monotonic counter kept its value (7) across the recovery" eq "$CODE $(jqv .data.value)" "200 7"
on 1; activate web
check "web: the third activation succeeds" eq "$CODE" 200
on 1; activate web
check "web: the fourth is refused (MaxActivations 3 counted across the recovery)" eq "$CODE" 403
# replica 2 (still in recovery: the state is sealed under a key it never
# had) restarts and gets the recovered key from replica 1's key API
replica_stop 2
replica 2 --seal-dir "$WORK/s2" --key-api-wait 5
check "replica 2 serves the recovered state" eq "$(state_of 2)" 3
on 2; activate web
check "web is refused on replica 2 too (3 of 3)" eq "$CODE" 403
check "replica 2 counts 3 activations of web" wait_for 5 eval '[ "$(committed 2 web)" = 3 ]'
finish
