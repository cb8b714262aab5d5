#!/usr/bin/env bash
# The data key between replicas on etcd over the key API
# (docs/high-availability.md "Sharing the data key"): a replica whose own seal
# has no key for the state's data key id asks the replicas that the registry
# lists with a key API address; a genuine build gets it (and then keeps a
# copy sealed with its own seal: test_ha_datakey.sh); a modified build is refused
# and enters recovery; with no holder left a newcomer enters recovery.
# Every replica has a seal key file of its own here (--seal-dir sN), so no
# sealed copy made by another replica opens for it.
. "$(dirname "$0")/lib.sh"
cat >"$WORK/m.json" <<'JSON'
{"Packages": {"pkg": {"Debug": true, "UniqueID": "00"}}, "Marbles": {"free": {"Package": "pkg"}}}
JSON

etcd_cluster 1
replica 1 --seal-dir "$WORK/s1" --key-api-addr 127.0.0.1:0
R1_KEYAPI=$(jq -r .keyapi "$WORK/r1/ready.json")
on 1
req POST /api/v2/manifest -d "$(mbody "$WORK/m.json")"
check "manifest set on replica 1" eq "$CODE" 200
req GET /api/v2/quote
ROOT=$(jqv .data.cert)

# 1. a genuine replica with another seal key: the key comes over the key API
replica 2 --seal-dir "$WORK/s2" --key-api-addr 127.0.0.1:0
check "replica 2 (own seal key) starts in state 3" eq "$(state_of 2)" 3
on 2; req GET /api/v2/quote
check "replica 2 serves the same root" eq "$(jqv .data.cert)" "$ROOT"
check "replica 2 asked replica 1's key API (from the registry)" \
  grep -q "got the data key (id [0-9a-f]*) from $R1_KEYAPI" "$WORK/r2/log"
check "replica 1 gave it after checking the evidence" grep -q "key API gave the data key" "$WORK/r1/log"
check "replica 2 named the state's data key id (keyRef)" grep -q "data key [0-9a-f]\{32\}: .*asking the other replicas" "$WORK/r2/log"
on 2; activate free
check "replica 2 activates a marble" eq "$CODE" 200

# 2. a modified build: refused by the holders, recovery
cp "$BIN" "$WORK/cairn-coordinator-modified"
printf 'not the same build' >>"$WORK/cairn-coordinator-modified"
BIN_SAVE=$BIN; BIN="$WORK/cairn-coordinator-modified"
replica 3 --seal-dir "$WORK/s3"
BIN=$BIN_SAVE
check "a modified build gets no key: recovery (state 1)" eq "$(state_of 3)" 1
check "the holders name the identity mismatch" \
  bash -c "grep -hq 'refused the data key.*simIdentity mismatch' '$WORK/r1/log' '$WORK/r2/log'"
replica_stop 3

# 3. replica 1 (the first holder) gone: a newcomer gets the key from replica 2,
# which itself got it over the key API
replica_stop 1
replica 4 --seal-dir "$WORK/s4"
check "replica 4 gets the key from replica 2" eq "$(state_of 4)" 3
check "  ... over the key API" grep -q "got the data key (id [0-9a-f]*) from" "$WORK/r4/log"
replica_stop 4

# 5. no replica holds the key: recovery
replica_stop 2
replica 5 --seal-dir "$WORK/s5"
check "no holder left: the newcomer enters recovery (state 1)" eq "$(state_of 5)" 1
check "  ... saying why" grep -q "no other replica serves the key API\|no replica gave the data key" "$WORK/r5/log"
finish
