#!/usr/bin/env bash
# MarbleRun TestRootSecretRotation: multi-party manifest (UpdateThreshold 1)
# whose server marble serves the contents of its session.key and
# session.prev files ({{ raw .Secrets.sessionKey }} /
# {{ raw .Previous.Secrets.sessionKey }}). An external client trusts the root
# and every intermediate seen so far.
#  0. before any update: previous == current
#  1. update with Config.RotateRootSecret: the old root still authenticates;
#     the key changed; previous == the old key
#  2. update without rotation: neither value changes
#  3. update with rotation again: the key changes; previous == the key of 2
. "$(dirname "$0")/lib.sh"
render two-party.json "$WORK/m.json"
jqf "$WORK/m.json" '.Config.UpdateThreshold = 1 |
  .Marbles.meshServer.Parameters.Argv = ["marble-test", "secrets", "/srv/cairn-scenario/keys/session.key",
                                          "/srv/cairn-scenario/keys/session.prev"]'
cp "$WORK/m.json" "$WORK/u.json"
jqf "$WORK/u.json" '.Config.RotateRootSecret = true'
with_marble_identity "$WORK/m.json"   # f.UpdateManifest changes the test manifest only
start_coord c
set_manifest "$WORK/m.json"
check "manifest set" eq "$CODE" 200
check "VerifyCoordinator" verify_coordinator "$WORK/c0"
vreq "$WORK/c0.root.pem" GET /api/v2/status
check "the root authenticates the Coordinator: state 3" eq "$CODE:$(jqv .data.code)" "200:3"
cat "$WORK/c0.root.pem" "$WORK/c0.intermediate.pem" >"$WORK/pool.pem"

# fetch PHASE: start the server marble, read {path: b64} into CUR_PHASE/PREV_PHASE
fetch() {
  local ph=$1 cur prev
  new_marble_config meshServer   # each phase: serverCfg = framework.NewMarbleConfig(...)
  if ! start_marble_server meshServer; then return 1; fi
  CODE=$(curl -s --cacert "$WORK/pool.pem" -o "$WORK/secrets.json" -w '%{http_code}' "https://$MARBLE_TEST_ADDR/" || true)
  stop_marble_server
  [ "$CODE" = 200 ] || return 1
  cur=$(jq -r '."/srv/cairn-scenario/keys/session.key"' "$WORK/secrets.json" | base64 -d | od -An -tx1 | tr -d ' \n')
  prev=$(jq -r '."/srv/cairn-scenario/keys/session.prev"' "$WORK/secrets.json" | base64 -d | od -An -tx1 | tr -d ' \n')
  eval "CUR_$ph=\$cur; PREV_$ph=\$prev"
  [ ${#cur} = 64 ] && [ ${#prev} = 64 ]
}
# comparisons of two fetched keys: both must have been fetched
same() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" = "$2" ]; }
differ() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]; }
CUR_0="" PREV_0="" CUR_1="" PREV_1="" CUR_2="" PREV_2="" CUR_3="" PREV_3=""
update() {   # update FILE: SetUpdateManifest as custodian-a, then trust the new intermediate
  update_apply "$1" "$KEYS/admin1.key" "$KEYS/admin1.crt" || true
  check "update applied by custodian-a ($2)" eq "$CODE:$MISSING" "200:0"
  verify_coordinator "$WORK/c$3" && cat "$WORK/c$3.intermediate.pem" >>"$WORK/pool.pem"
}

check "phase 0: the server marble starts and serves its secrets" fetch 0
check "phase 0: previous == current before any update" same "$PREV_0" "$CUR_0"

update "$WORK/u.json" "RotateRootSecret" 1
vreq "$WORK/c0.root.pem" GET /api/v2/status
check "phase 1: the old root still authenticates the Coordinator: state 3" eq "$CODE:$(jqv .data.code)" "200:3"
check "phase 1: the server marble starts and serves its secrets" fetch 1
check "phase 1: the key changed" differ "$CUR_1" "$CUR_0"
check "phase 1: previous == the key before the rotation" same "$PREV_1" "$CUR_0"

jqf "$WORK/u.json" '.Config.RotateRootSecret = false'
update "$WORK/u.json" "no rotation" 2
check "phase 2: the server marble starts and serves its secrets" fetch 2
check "phase 2: the key did not rotate" same "$CUR_2" "$CUR_1"
check "phase 2: previous did not rotate" same "$PREV_2" "$PREV_1"

jqf "$WORK/u.json" '.Config.RotateRootSecret = true'
update "$WORK/u.json" "RotateRootSecret again" 3
check "phase 3: the server marble starts and serves its secrets" fetch 3
check "phase 3: the key changed" differ "$CUR_3" "$CUR_2"
check "phase 3: previous == the key of phase 2" same "$PREV_3" "$CUR_2"
finish
