#!/usr/bin/env bash
# A MarbleRun-style marble (python3-grpcio) activates over gRPC on the mesh
# port; gRPC and JSON answer the same request the same way; simulation
# accepts MarbleRun's empty quote (loudly logged), a non-simulation
# Coordinator refuses it on both wires.
source "$(dirname "$0")/../coordinator/lib.sh"
source "$(dirname "$0")/lib_grpc.sh"

write_manifest "$WORK/m.json"
start_coord a
set_manifest_file "$WORK/m.json"
check "manifest set" eq "$CODE" 200
req GET /api/v2/quote
printf '%s' "$BODY" | jq -r .data.cert >"$WORK/coord-chain.pem"

# 1. activation with sim evidence over the certificate: Files, Env, Argv, chain
U1=$(cat /proc/sys/kernel/random/uuid)
mr --type web --uuid "$U1" --quote sim --marble-root "$WORK/coord-chain.pem" \
   --expect-env GREETING=hello --expect-argv '["web","--port","8080"]' \
   --expect-file-contains '/etc/cert.pem=-----BEGIN CERTIFICATE-----' \
   --write-files "$WORK/fs"
check "gRPC activation (sim evidence) -> OK with every expectation met" eq "$RC" 0
check "  certificate chains to the Marble Root and the Coordinator chain" \
  eq "$(ov '.checks | map(select(startswith("leaf chains"))) | length')" 2
check "  /etc/key is the 128-bit secret in hex" eq "$(ov '.files["/etc/key"] | test("^[0-9a-f]{32}$")')" true
check "  MARBLE_PREDEFINED_ROOT_CA is the Coordinator's, not the manifest's" \
  contains "$(ov '.env.MARBLE_PREDEFINED_ROOT_CA')" "BEGIN CERTIFICATE"
check "  files written as premain does (0600 under 0700)" \
  eq "$(stat -c %a "$WORK/fs/etc/key") $(stat -c %a "$WORK/fs/etc")" "600 700"
K1=$(ov '.files["/etc/key"]')

# 2. the same marble type over JSON gets the same parameters (same secret)
mr --type web --uuid "$U1" --quote sim --wire json --expect-env GREETING=hello \
   --expect-argv '["web","--port","8080"]' --marble-root "$WORK/coord-chain.pem"
check "JSON activation of the same UUID -> OK" eq "$RC" 0
check "  same per-marble secret on both wires" eq "$(ov '.files["/etc/key"]')" "$K1"

# 3. MaxActivations 2 is shared by both wires: the third is refused on each
for w in grpc json; do
  mr --type web --quote sim --wire $w --expect-code PERMISSION_DENIED \
     --expect-message 'reached the maximum number of activations (2) for marble type "web"'
  check "third activation over $w -> PermissionDenied/403, same message" eq "$RC" 0
done

# 4. same refusal for the same bad request on both wires
same_refusal() {   # same_refusal DESCRIPTION ARGS...
  local d=$1; shift
  mr "$@" --wire grpc; local gc=$(ov .code) gm=$(ov .message)
  mr "$@" --wire json; local jc=$(ov .code) jm=$(ov .message)
  check "$d: gRPC $gc = JSON $jc" eq "$gc" "$jc"
  check "$d: same message ($gm)" eq "$gm" "$jm"
  [ "$gc" != "OK" ] && [ -n "$gm" ] || { echo "FAIL - $d: expected a refusal"; FAILS=$((FAILS+1)); }
}
same_refusal "unknown marble type" --type nope --quote sim
same_refusal "a garbage SGX quote" --type free --quote "$GDIR/mr_marble.py"
printf '{"type":"sim","quote":"%s"}' "$(head -c 64 /dev/zero | base64 -w0)" >"$WORK/wrong-sim.json"
same_refusal "sim evidence over another key" --type free --quote "$WORK/wrong-sim.json"
printf '{"type":"nonsense"}' >"$WORK/bad-type.json"
same_refusal "unknown evidence type" --type free --quote "$WORK/bad-type.json"

# 5. MarbleRun's empty quote: accepted in simulation on both wires, logged
for w in grpc json; do
  mr --type free --quote empty --wire $w
  check "empty quote over $w in simulation -> activated" eq "$RC" 0
done
check "  every empty-quote activation is logged as insecure" \
  eq "$(grep -c 'sent an empty quote and is admitted without any evidence' "$WORK/a/log")" 2
check "  sim evidence activations are logged as insecure" \
  contains "$(cat "$WORK/a/log")" "presents simulation evidence (no TEE proof)"
stop_coord

# 6. a Coordinator that is not in simulation refuses the empty quote (both wires)
mkdir -p "$WORK/b"
"$BIN" --insecure-no-tee --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 --seal-dir "$WORK/b/seal" \
  --ready-file "$WORK/b/ready.json" --threads 2 --http-timeout 2 >>"$WORK/b/log" 2>&1 &
PID=$!; PIDS+=("$PID")
for _ in $(seq 1 200); do [ -s "$WORK/b/ready.json" ] && break; sleep 0.05; done
CLIENT=$(jq -r .client "$WORK/b/ready.json"); MESH=$(jq -r .mesh "$WORK/b/ready.json")
# before a manifest: the state refusal, MarbleRun's FailedPrecondition / our 503
same_refusal "activation before a manifest" --type free --quote empty
check "  ... is FailedPrecondition" eq "$(ov .code)" FAILED_PRECONDITION
set_manifest_file "$WORK/m.json"
for w in grpc json; do
  mr --type free --quote empty --wire $w --expect-code PERMISSION_DENIED \
     --expect-message 'empty quote (no TEE evidence): accepted only by a Coordinator in simulation mode'
  check "empty quote over $w without simulation -> PermissionDenied/403" eq "$RC" 0
done
stop_coord
finish
