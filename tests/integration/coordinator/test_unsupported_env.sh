#!/usr/bin/env bash
# MarbleRun environment variables that Cairn does not implement (Kubernetes
# store, distributed Coordinator, Azure HSM sealing, dev mode) make
# cairn-coordinator refuse to start and name each one; values that mean what
# Cairn does anyway pass; EDG_CWD sets the default seal directory as in MarbleRun.
. "$(dirname "$0")/lib.sh"
# refused RUN_ENV...: the coordinator exits 78 (configuration error) before binding and names every variable
refused() {
  local out rc=0
  out=$(env "$@" timeout 20 "$BIN" --simulation --client-addr 127.0.0.1:0 --mesh-addr 127.0.0.1:0 \
        --seal-dir "$WORK/refused" --ready-file "$WORK/refused.json" 2>&1) || rc=$?
  check "$* : exit status 78" eq "$rc" 78
  for kv in "$@"; do
    check "$* : names ${kv%%=*}" contains "$out" "${kv}"
  done
  check "$* : says it refuses" contains "$out" "refusing to start"
  check "$* : no listener was started" test ! -e "$WORK/refused.json"
}
refused EDG_STORE_BACKEND=k8s-secret
refused EDG_DISTRIBUTED_COORDINATOR=1
refused EDG_ENTERPRISE_LICENSED_FEATURES=DistributedCoordinator
refused EDG_K8S_STATE_NAME=marblerun-state EDG_K8S_NAMESPACE=marblerun EDG_K8S_KEK_MAP=kek EDG_K8S_SERVICE_NAME=keys
refused EDG_AZURE_HSM_VAULT_URL=https://v.example EDG_AZURE_HSM_KEY_NAME=k EDG_MAA_URL=https://maa.example \
        EDG_AZURE_CLIENT_ID=c EDG_AZURE_TENANT_ID=t EDG_AZURE_CLIENT_SECRET=s
refused EDG_COORDINATOR_DEV_MODE=1
# values that mean what Cairn does: start normally
export EDG_STORE_BACKEND=default EDG_DISTRIBUTED_COORDINATOR=0 EDG_COORDINATOR_DEV_MODE=0 \
       EDG_HTTP_ERROR_LOG_LEVEL=error EDG_ENTERPRISE_LICENSED_FEATURES= \
       KUBERNETES_SERVICE_HOST=10.0.0.1 KUBERNETES_SERVICE_PORT=443   # set by Kubernetes in every pod
start_coord fine
req GET /api/v2/status
check "default backend, not distributed, no dev mode, inside a pod: the Coordinator runs" eq "$CODE $(jqv .data.code)" "200 2"
stop_coord
unset EDG_STORE_BACKEND EDG_DISTRIBUTED_COORDINATOR EDG_COORDINATOR_DEV_MODE EDG_HTTP_ERROR_LOG_LEVEL \
      EDG_ENTERPRISE_LICENSED_FEATURES
# EDG_CWD: MarbleRun's default seal directory is $EDG_CWD/marblerun-coordinator-data
mkdir -p "$WORK/cwd" "$WORK/elsewhere"
( cd "$WORK/elsewhere" && EDG_CWD="$WORK/cwd" exec "$BIN" --simulation --client-addr 127.0.0.1:0 \
    --mesh-addr 127.0.0.1:0 --ready-file "$WORK/cwd.json" >"$WORK/cwd.log" 2>&1 ) &
PID=$!; PIDS+=("$PID")
for _ in $(seq 1 200); do [ -s "$WORK/cwd.json" ] && break; sleep 0.05; done
check "EDG_CWD: the default seal directory is \$EDG_CWD/marblerun-coordinator-data" \
  test -s "$WORK/cwd/marblerun-coordinator-data/sealed_data"
check "EDG_CWD: nothing written to the working directory" test ! -e "$WORK/elsewhere/marblerun-coordinator-data"
stop_coord
finish
