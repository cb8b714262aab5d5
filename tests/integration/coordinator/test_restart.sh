#!/usr/bin/env bash
# Restart keeps the state (root, manifest, counters, log); configuration by
# MarbleRun's env vars; startup manifest; --help/--version; start-to-ready time.
. "$(dirname "$0")/lib.sh"
write_manifest "$WORK/m.json"
start_coord a
ROOT=$(curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert)
stop_coord
start_coord a
check "restart in state 2 keeps the root" eq "$(curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert)" "$ROOT"
set_manifest_file "$WORK/m.json"
check "manifest set" eq "$CODE" "200"
activate web
check "activation 1 of 2" eq "$CODE" "200"
req GET /api/v2/update
LOG=$BODY
stop_coord
start_coord a
echo "start-to-ready with an existing state: ${READY_MS} ms (this build)"
check "ready with an existing state in under 1 s (any build)" awk -v t="$READY_MS" 'BEGIN { exit !(t < 1000) }'
req GET /api/v2/status
check "restart keeps state 3" eq "$(jqv .data.code)" "3"
check "restart keeps the root" eq "$(curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert)" "$ROOT"
req GET /api/v2/manifest
check "restart keeps the manifest" eq "$(jqv .data.manifestFingerprint)" "$(sha256sum "$WORK/m.json" | cut -d' ' -f1)"
req GET /api/v2/update
check "restart keeps the update log" eq "$BODY" "$LOG"
activate web
check "activation 2 of 2 after restart" eq "$CODE" "200"
activate web
check "the counter survived the restart: activation 3 -> 403" eq "$CODE" "403"
stop_coord
start_coord a
activate web
check "and survives a second restart" eq "$CODE" "403"
stop_coord

# configuration by environment variables only (flags override them)
mkdir -p "$WORK/env"
( cd "$WORK/env" && OE_SIMULATION=1 EDG_COORDINATOR_CLIENT_ADDR=127.0.0.1:0 EDG_COORDINATOR_MESH_ADDR=127.0.0.1:0 \
  EDG_COORDINATOR_DNS_NAMES="coord.example, 10.1.2.3" EDG_STARTUP_MANIFEST="$WORK/m.json" EDG_LOG_FORMAT=json \
  exec "$BIN" --ready-file "$WORK/env/ready.json" >"$WORK/env/log" 2>&1 ) &
PID=$!
PIDS+=("$PID")
for _ in $(seq 1 200); do [ -s "$WORK/env/ready.json" ] && break; sleep 0.05; done
CLIENT=$(jq -r .client "$WORK/env/ready.json")
req GET /api/v2/status
check "env config: startup manifest applied (state 3)" eq "$(jqv .data.code)" "3"
check "env config: default seal dir under the working directory" test -s "$WORK/env/marblerun-coordinator-data/sealed_data"
check "env config: no metrics listener by default" eq "$(jq -r .metrics "$WORK/env/ready.json")" "null"
curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert | awk '/BEGIN/{n++} n==2' >"$WORK/env/root.pem"
check "env config: root SANs from EDG_COORDINATOR_DNS_NAMES" contains "$(openssl x509 -in "$WORK/env/root.pem" -noout -ext subjectAltName)" "DNS:coord.example, IP Address:10.1.2.3, IP Address:127.0.0.1"
check "env config: JSON log lines" bash -c "jq -e . '$WORK/env/log' >/dev/null"
check "simulation warning is loud" grep -q "SIMULATION MODE" "$WORK/env/log"
stop_coord
# SealMode Disabled: state in memory only; a restart finds no state (and no old one)
cat >"$WORK/disabled.json" <<'JSON'
{"Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
 "Marbles": {"m": {"Package": "pkg"}},
 "Config": {"SealMode": "Disabled"}}
JSON
start_coord dis
set_manifest_file "$WORK/disabled.json"
check "SealMode Disabled: manifest set" eq "$CODE" "200"
activate m
check "SealMode Disabled: activation works" eq "$CODE" "200"
check "SealMode Disabled: no sealed state on disk" test ! -e "$WORK/dis/seal/sealed_data"
stop_coord
start_coord dis
req GET /api/v2/status
check "SealMode Disabled: restart starts over in state 2" eq "$(jqv .data.code)" "2"
stop_coord
check "--help lists the flags" contains "$("$BIN" --help)" "--ready-file"
check "--version" contains "$("$BIN" --version)" "cairn-coordinator"
"$BIN" --bogus >/dev/null 2>&1 && R=0 || R=$?
check "unknown flag -> exit 78 (configuration error)" eq "$R" "78"
"$BIN" --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/nosim" >"$WORK/nosim.log" 2>&1 && R=0 || R=$?
check "without a TEE and without --simulation: clear error, exit 1" eq "$R" "1"
check "the error says what to do" grep -q "simulation" "$WORK/nosim.log"
finish
