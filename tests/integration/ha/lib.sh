# Helpers for the replicated-state tests (sourced): real etcd members
# (Debian's etcd-server) on 127.0.0.1 with free ports and temp data dirs,
# real cairn-coordinator replicas on them. Every process is stopped by the
# PID this script started. Builds on the governance helpers (req, ureq,
# mkuser, check, finish, ...).
. "$(dirname "${BASH_SOURCE[0]}")/../governance/lib.sh"

ETCD_BIN=$(command -v etcd || true)
[ -n "$ETCD_BIN" ] || { echo "SKIP: etcd (etcd-server) not installed"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
LOADGEN=${CAIRN_BENCH_BIN_DIR:-$CAIRN_BIN_DIR/../bench}/loadgen

# etcd data on tmpfs when there is one (etcd 3.4 has no --unsafe-no-fsync)
EDIR=$(mktemp -d /dev/shm/cairn-etcd.XXXXXX 2>/dev/null || mktemp -d /tmp/cairn-etcd.XXXXXX)
ha_cleanup() {
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; done
  cleanup
  rm -rf "$EDIR"
}
trap ha_cleanup EXIT

free_ports() {   # free_ports N: N distinct free TCP ports on 127.0.0.1
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

declare -a E_CPORT E_PPORT E_PID
ETCD_N=0
ETCD_EP=""
ETCD_CLUSTER=""
# etcd_cluster N: starts N members, waits until the cluster has a leader
etcd_cluster() {
  ETCD_N=$1
  local ports; read -r -a ports <<<"$(free_ports $((2 * ETCD_N)))"
  ETCD_CLUSTER=""
  ETCD_EP=""
  for i in $(seq 1 "$ETCD_N"); do
    E_CPORT[$i]=${ports[$((2 * i - 2))]}
    E_PPORT[$i]=${ports[$((2 * i - 1))]}
    ETCD_CLUSTER+="${ETCD_CLUSTER:+,}e$i=http://127.0.0.1:${E_PPORT[$i]}"
    ETCD_EP+="${ETCD_EP:+,}127.0.0.1:${E_CPORT[$i]}"
  done
  for i in $(seq 1 "$ETCD_N"); do etcd_start "$i" new; done
  etcd_wait_healthy
}
# ETCD_TLS=DIR (set before etcd_cluster): the members serve clients over
# https only and require a client certificate; etcd_tls_certs DIR makes a CA
# (ca.pem), the members' certificate (server.pem/.key, IP 127.0.0.1) and a
# client certificate (client.pem/.key) with openssl
ETCD_TLS=${ETCD_TLS:-}
etcd_tls_certs() {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" \
    -subj "/CN=cairn test etcd CA" -days 2 2>/dev/null
  local n
  for n in server client; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$n.key" -out "$d/$n.csr" \
      -subj "/CN=$n" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=%s\n' \
      "$([ $n = server ] && echo serverAuth,clientAuth || echo clientAuth)" >"$d/$n.ext"
    openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -out "$d/$n.pem" \
      -days 2 -extfile "$d/$n.ext" 2>/dev/null
  done
}
etcd_scheme() { [ -n "$ETCD_TLS" ] && echo https || echo http; }
etcd_curl_tls() { [ -n "$ETCD_TLS" ] && echo "--cacert $ETCD_TLS/ca.pem --cert $ETCD_TLS/client.pem --key $ETCD_TLS/client.key"; }
# etcd_start I [new|existing]; ETCD_EXTRA_FLAGS: more flags for every member
etcd_start() {
  local i=$1 state=${2:-existing} tls=()
  [ -n "$ETCD_TLS" ] && tls=(--cert-file "$ETCD_TLS/server.pem" --key-file "$ETCD_TLS/server.key"
    --trusted-ca-file "$ETCD_TLS/ca.pem" --client-cert-auth)
  "$ETCD_BIN" --name "e$i" --data-dir "$EDIR/e$i" "${tls[@]}" \
    --listen-client-urls "$(etcd_scheme)://127.0.0.1:${E_CPORT[$i]}" \
    --advertise-client-urls "$(etcd_scheme)://127.0.0.1:${E_CPORT[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${E_PPORT[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${E_PPORT[$i]}" \
    --initial-cluster "$ETCD_CLUSTER" --initial-cluster-state "$state" --initial-cluster-token "cairn-$$" \
    --heartbeat-interval 25 --election-timeout 250 --log-level error --logger zap ${ETCD_EXTRA_FLAGS:-} \
    >>"$EDIR/e$i.log" 2>&1 &
  E_PID[$i]=$!
  PIDS+=("${E_PID[$i]}")
}
etcd_stop() { kill "${E_PID[$1]}" 2>/dev/null || true; wait "${E_PID[$1]}" 2>/dev/null || true; }
etcd_kill9() { kill -9 "${E_PID[$1]}" 2>/dev/null || true; wait "${E_PID[$1]}" 2>/dev/null || true; }
# etcd_wait_healthy: some member reports a healthy cluster (quorum), within 30 s
etcd_wait_healthy() {
  for _ in $(seq 1 300); do
    for i in $(seq 1 "$ETCD_N"); do
      if curl -s --max-time 1 $(etcd_curl_tls) "$(etcd_scheme)://127.0.0.1:${E_CPORT[$i]}/health" |
        grep -q '"health":"true"'; then return 0; fi
    done
    sleep 0.1
  done
  echo "etcd cluster not healthy"; cat "$EDIR"/e*.log; return 1
}
etcdctl_() {
  local tls=()
  [ -n "$ETCD_TLS" ] && tls=(--cacert "$ETCD_TLS/ca.pem" --cert "$ETCD_TLS/client.pem" --key "$ETCD_TLS/client.key")
  ETCDCTL_API=3 etcdctl --endpoints="$ETCD_EP" --command-timeout=5s "${tls[@]}" "$@"
}

declare -a R_CLIENT R_MESH R_METRICS R_PID
# replica I [flags...]: starts replica rI on the etcd cluster (shared seal
# key file: the interim data key provider), sets R_*[I] and CLIENT/MESH/PID
replica() {
  local i=$1; shift
  start_coord "r$i" --store "etcd://$ETCD_EP" --seal-dir "$WORK/seal" --metrics-addr 127.0.0.1:0 "$@"
  R_CLIENT[$i]=$CLIENT
  R_MESH[$i]=$MESH
  R_PID[$i]=$PID
  R_METRICS[$i]=$(jq -r .metrics "$WORK/r$i/ready.json")
}
# state_of I: replica I's state code (GET /api/v2/status)
state_of() { on "$1"; req GET /api/v2/status; jqv .data.code; }
# on I: make replica I the target of req/ureq/activate
on() { CLIENT=${R_CLIENT[$1]}; MESH=${R_MESH[$1]}; PID=${R_PID[$1]}; }
replica_kill9() { kill -9 "${R_PID[$1]}" 2>/dev/null || true; wait "${R_PID[$1]}" 2>/dev/null || true; }
replica_stop() { kill "${R_PID[$1]}" 2>/dev/null || true; wait "${R_PID[$1]}" 2>/dev/null || true; }
metric() {   # metric I NAME: the value of an unlabelled metric of replica I
  curl -s "http://${R_METRICS[$1]}/metrics" | awk -v n="$2" '$1 == n {print $2}'
}

# activate TYPE [tool args...] on the replica selected with `on`: CODE BODY
activate() {
  local out
  out=$("$TOOL" "$MESH" "$@" || true)
  CODE=${out%%$'\n'*}
  CODE=${CODE#STATUS }
  BODY=${out#*$'\n'}
}

# the activation counter of TYPE as committed in etcd (sealed: only whether it
# exists and its revision are visible; its value is read through a replica)
etcd_has_key() { [ -n "$(etcdctl_ get --keys-only "$1")" ]; }

# wait_for SECONDS CONDITION...: polls every 0.1 s
wait_for() {
  local t=$1; shift
  for _ in $(seq 1 $((t * 10))); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  return 1
}

# getsec I: the user-defined secret user_key as user alice reads it on
# replica I (the tests' manifests give alice ReadSecret on it)
getsec() { on "$1"; ureq alice GET "/api/v2/secrets?s=user_key"; jqv .data.secrets.user_key.Private; }
# committed I TYPE: replica I's count of committed activations of TYPE
committed() {
  curl -s "http://${R_METRICS[$1]}/metrics" | awk -v t="cairn_activations_committed{type=\"$2\"}" '$1 == t {print $2}'
}
