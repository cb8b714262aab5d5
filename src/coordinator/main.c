/* cairn-coordinator: the daemon (DESIGN §1). Configuration by MarbleRun's
 * environment variables, overridden by flags; see --help. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>


#include "cairn_version.h"
#include "common/file.h"
#include "common/log.h"
#include "coordinator/service.h"
#include "core/core.h"
#include "core/pki.h"
#include "keyshare/keyshare.h"
#include "manifest/manifest.h"
#include "server/api.h"

/* Exit statuses (docs/systemd.md). EXIT_CONFIG (sysexits' EX_CONFIG, which
 * systemd names CONFIG) is a configuration that fails the same way on every
 * start (flags, environment, the startup manifest): the unit lists it in
 * RestartPreventExitStatus= so systemd does not restart into a loop. 1 is
 * everything else (a busy port, an unreachable TPM, an unreadable state). */
#define EXIT_CONFIG 78

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: cairn-coordinator [flags]\n"
            "\n"
            "The Cairn Coordinator: client REST API (HTTPS), mesh API for marble activation (mTLS),\n"
            "optional Prometheus metrics. Environment variables (MarbleRun's names) set the defaults;\n"
            "flags override them.\n"
            "\n"
            "  --client-addr ADDR      client REST API address     [EDG_COORDINATOR_CLIENT_ADDR, :4433]\n"
            "  --mesh-addr ADDR        mesh API address            [EDG_COORDINATOR_MESH_ADDR, :2001]\n"
            "  --dns-names LIST        root certificate SANs, comma-separated\n"
            "                                                      [EDG_COORDINATOR_DNS_NAMES, localhost]\n"
            "  --seal-dir DIR          sealed state directory      [EDG_COORDINATOR_SEAL_DIR,\n"
            "                                                       $PWD/marblerun-coordinator-data]\n"
            "  --store etcd://HOST:PORT[,HOST:PORT...]  keep the state in etcd, shared by several\n"
            "                          Coordinator replicas (docs/high-availability.md); without it the\n"
            "                          state is in the seal directory           [CAIRN_STORE, file]\n"
            "  --store-prefix PREFIX   etcd key prefix, so deployments can share one etcd\n"
            "                                                      [CAIRN_STORE_PREFIX, /cairn/]\n"
            "  --etcd-ca FILE          CA of etcd's server certificate (https to etcd) [CAIRN_ETCD_CA]\n"
            "  --etcd-cert FILE        client certificate for etcd  [CAIRN_ETCD_CERT]\n"
            "  --etcd-key FILE         its key                      [CAIRN_ETCD_KEY]\n"
            "  --etcd-wire grpc|gateway  how reads and transactions reach etcd: its native gRPC, or\n"
            "                          its JSON gateway for a proxy that passes only HTTP/1.1\n"
            "                                                      [CAIRN_ETCD_WIRE, grpc]\n"
            "  --metrics-addr ADDR     Prometheus /metrics and /events (plain HTTP), off when empty\n"
            "                                                      [EDG_COORDINATOR_PROMETHEUS_ADDR]\n"
            "  --kbs-addr ADDR         Trustee's KBS protocol for confidential-container pods (HTTPS,\n"
            "                          the client API's certificate), off when empty [CAIRN_KBS_ADDR]\n"
            "  --kbs-session-ttl S     KBS session (cookie) lifetime in seconds [300]\n"
            "  --kbs-token-ttl S       KBS attestation token lifetime in seconds [300]\n"
            "  --startup-manifest FILE manifest to set at start in state 2\n"
            "                                                      [EDG_STARTUP_MANIFEST]\n"
            "  --simulation            simulation mode: accept \"sim\" evidence, no quote, seal with a\n"
            "                          key file (INSECURE, development only)  [OE_SIMULATION=1]\n"
            "  --trust-dir DIR         trust directory for marble evidence: DIR/<sgx|tdx|snp|tpm>/ holds\n"
            "                          collateral, CRLs and intermediates, DIR/<type>/roots/ the roots\n"
            "                          (see docs/trust.md); default: built-in Intel/AMD roots, no\n"
            "                          collateral                  [CAIRN_TRUST_DIR]\n"
            "  --insecure-no-tee       the Coordinator itself runs without a TEE (null quote, state sealed\n"
            "                          with a key file) but VERIFIES marble evidence (\"sim\" refused);\n"
            "                          for testing hardware evidence, e.g. a swtpm marble (INSECURE,\n"
            "                          development only)           [CAIRN_INSECURE_NO_TEE=1]\n"
            "  --tee auto|sgx|tdx|snp|tpm  the Coordinator's own TEE for its quote; auto probes Gramine,\n"
            "                          configfs-tsm, then a TPM (see docs/coordinator-tee.md)\n"
            "                                                      [CAIRN_COORDINATOR_TEE, auto]\n"
            "  --tpm-tcti TCTI         TPM for the Coordinator's quote, e.g. swtpm:host=127.0.0.1,port=2321\n"
            "                                                      [CAIRN_TPM_TCTI, tss2 default]\n"
            "  --tpm-pcrs SEL          quoted PCRs                 [CAIRN_TPM_PCRS, sha256:0-7,16]\n"
            "  --tpm-ak-cert FILE      PEM AK certificate (+ chain) sent with the quote [CAIRN_TPM_AK_CERT]\n"
            "  --tpm-ak-context CTX    AK: persistent handle (0x81...) or context file [CAIRN_TPM_AK_CONTEXT,\n"
            "                          else a fresh AK per quote]\n"
            "  --tpm-eventlog FILE     TCG event log sent with the quote [CAIRN_TPM_EVENTLOG]\n"
            "  --tpm-pcr-signature FILE  systemd's tpm2-pcr-signature.json sent with the quote, for\n"
            "                          policies that pin PCRPublicKey [CAIRN_TPM_PCR_SIGNATURE]\n"
            "                          A TPM-backed Coordinator seals its state with a key file in the seal\n"
            "                          directory: TPM sealing is not implemented\n"
            "  --debug                 debug logging, the same as --log-level debug [EDG_DEBUG_LOGGING=1]\n"
            "  --log-level LEVEL       error, warn, info or debug  [CAIRN_LOG_LEVEL, info]\n"
            "  --log-format text|json  log format; json puts activation and governance details in\n"
            "                          fields of their own         [EDG_LOG_FORMAT, text]\n"
            "  --ready-file PATH       after the listeners are bound, write {\"client\",\"mesh\",\"metrics\"}\n"
            "                          with the actual addresses (use port 0 for ephemeral ports)\n"
            "  --threads N             event loops                 [CPUs; with --store etcd: 4 x CPUs,\n"
            "                          8..32, as an activation's loop waits for its group commit]\n"
            "  --leaf-key-pool N       pre-generated marble keys, refilled while idle [64; 0 = off]\n"
            "  --http-timeout SECONDS  timeout for slow or idle clients [10]\n"
            "  Connection limits of the listeners, each its own budget (docs/coordinator.md):\n"
            "  --handshake-timeout S   TLS handshake, and then the first request byte, within S [5]\n"
            "                          (metrics listener: the first request byte)\n"
            "  --client-max-conns N    open client API connections; at the cap one without a request\n"
            "                          is shed for a new one [1024]\n"
            "  --mesh-max-conns N      the same for the mesh API [1024]\n"
            "  --metrics-max-conns N   the same for the metrics listener (--metrics-addr) [64]\n"
            "  --max-conns-per-addr N  open connections from one source address (IPv6: /64), per\n"
            "                          listener [half the listener's cap]\n"
            "  --max-handshakes-per-addr N  connections without a completed handshake from one source\n"
            "                          address, per listener [128]\n"
            "  Several replicas (docs/high-availability.md):\n"
            "  --key-api-addr ADDR     serve the key API (mutually attested TLS) on ADDR, e.g. :5433, so\n"
            "                          other replicas can obtain the data key; off when empty\n"
            "                                                      [CAIRN_KEY_API_ADDR]\n"
            "  --join LIST             key API addresses (host:port, comma-separated) of running replicas:\n"
            "                          when this machine's seal does not open the state, obtain the data\n"
            "                          key from one of them instead of entering recovery [CAIRN_JOIN];\n"
            "                          with --store etcd the registry's replicas are asked without it\n"
            "  --key-api-wait SECONDS  how long a starting replica keeps asking holders it could not reach\n"
            "                          (refused, reset, timed out) before it enters recovery, 0..600 [20]\n"
            "                                                      [CAIRN_KEY_API_WAIT]\n"
            "  --help, --version\n");
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return (v != NULL && *v != '\0') ? v : def;
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0);
}

static int parse_uint(const char *s, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static void host_of(const char *addr, char *out, size_t n)
{
    /* the ready file carries an address tests can dial */
    const char *colon = strrchr(addr, ':');
    size_t hl = colon != NULL ? (size_t)(colon - addr) : 0;
    if (hl == 0 || (hl == 7 && strncmp(addr, "0.0.0.0", 7) == 0)) {
        snprintf(out, n, "127.0.0.1");
        return;
    }
    snprintf(out, n, "%.*s", (int)hl, addr);
}

/* MarbleRun's Coordinator environment variables that Cairn does not
 * implement (coordinator/constants, cmd/coordinator, coordinator/kube,
 * coordinator/keyrelease). A Coordinator asked for a Kubernetes store, a
 * distributed deployment, Azure HSM sealing or dev mode must not start as
 * something else: it refuses and names each variable. Values that mean what
 * Cairn does anyway pass (see docs/compatibility.md). */
struct unsupported_env {
    const char *name;
    const char *const *ok;   /* values that mean what Cairn does; NULL = none (any non-empty value refuses) */
    const char *what;        /* what the variable asks for */
};

static const char *const ok_dev_mode[] = {"0", NULL};
static const char *const ok_distributed[] = {"0", NULL};
static const char *const ok_backend[] = {"default", NULL};

static const struct unsupported_env unsupported_envs[] = {
    {"EDG_DISTRIBUTED_COORDINATOR", ok_distributed, "a distributed (multi-instance) Coordinator"},
    {"EDG_STORE_BACKEND", ok_backend, "another state store backend (k8s-secret: the state in a Kubernetes secret)"},
    {"EDG_K8S_STATE_NAME", NULL, "the Kubernetes secret store (state secret name)"},
    {"EDG_K8S_SERVICE_NAME", NULL, "the Kubernetes key distribution service"},
    {"EDG_K8S_KEK_MAP", NULL, "the Kubernetes KEK ConfigMap of a distributed Coordinator"},
    {"EDG_K8S_NAMESPACE", NULL, "the Kubernetes namespace of a distributed Coordinator"},
    {"EDG_AZURE_HSM_VAULT_URL", NULL, "Azure HSM sealing (Secure Key Release)"},
    {"EDG_AZURE_HSM_KEY_NAME", NULL, "Azure HSM sealing (Secure Key Release)"},
    {"EDG_AZURE_HSM_KEY_VERSION", NULL, "Azure HSM sealing (Secure Key Release)"},
    {"EDG_MAA_URL", NULL, "Azure HSM sealing (Microsoft Azure Attestation token)"},
    {"EDG_AZURE_CLIENT_ID", NULL, "Azure HSM sealing (Azure credentials)"},
    {"EDG_AZURE_TENANT_ID", NULL, "Azure HSM sealing (Azure credentials)"},
    {"EDG_AZURE_CLIENT_SECRET", NULL, "Azure HSM sealing (Azure credentials)"},
    {"EDG_AZURE_FEDERATED_TOKEN_FILE", NULL, "Azure HSM sealing (workload identity)"},
    {"EDG_AZURE_AUTHORITY_HOST", NULL, "Azure HSM sealing (workload identity)"},
    {"EDG_COORDINATOR_DEV_MODE", ok_dev_mode,
     "dev mode (start although the Coordinator's own quote fails); use --simulation or --insecure-no-tee"},
};

/* Returns the number of unsupported variables set (each logged to stderr). */
static int check_unsupported_env(void)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof(unsupported_envs) / sizeof(unsupported_envs[0]); i++) {
        const struct unsupported_env *u = &unsupported_envs[i];
        const char *v = getenv(u->name);
        if (v == NULL || *v == '\0')   /* MarbleRun reads "" as unset too */
            continue;
        bool ok = false;
        for (size_t k = 0; u->ok != NULL && u->ok[k] != NULL && !ok; k++)
            ok = strcmp(v, u->ok[k]) == 0;
        if (ok)
            continue;
        fprintf(stderr, "cairn-coordinator: %s=%s asks for %s, which Cairn does not implement\n", u->name, v, u->what);
        bad++;
    }
    /* MarbleRun's older switch for a distributed Coordinator */
    const char *lf = getenv("EDG_ENTERPRISE_LICENSED_FEATURES");
    if (lf != NULL && strcasestr(lf, "distributedcoordinator") != NULL) {
        fprintf(stderr,
                "cairn-coordinator: EDG_ENTERPRISE_LICENSED_FEATURES=%s asks for a distributed (multi-instance) "
                "Coordinator, which Cairn does not implement\n",
                lf);
        bad++;
    }
    if (bad > 0)
        fprintf(stderr, "cairn-coordinator: refusing to start: unset the variable%s above (docs/compatibility.md)\n",
                bad > 1 ? "s" : "");
    return bad;
}

/* "state 2: <message>; client API ..., mesh API ..." for systemd's STATUS=. */
static char g_addrs[600];

static const char *status_line(char *buf, size_t n, enum core_state st)
{
    snprintf(buf, n, "state %d: %s; %s", (int)st, core_state_message(st), g_addrs);
    return buf;
}

static void on_state_change(void *arg, enum core_state st)
{
    (void)arg;
    char buf[1024];
    LOG_INFO("state %d: %s", (int)st, core_state_message(st));
    service_status(status_line(buf, sizeof(buf), st));
}

/* --join: the peers to ask, and when the key arrived (for the ready file). */
struct join_ctx {
    char **peers;
    size_t n;
    struct timespec got;
    bool have;
    char from[256];
    long wait_s;   /* --key-api-wait */
};

/* ks_fetch_opts.refresh on etcd: the registry's key API addresses again */
static int registry_holders(void *ctx, char ***out, size_t *out_n)
{
    return core_replica_key_addrs(ctx, out, out_n, NULL);
}

static int obtain_data_key(struct core *c, void *ctx, const uint8_t *ref, size_t ref_len, uint8_t key[32],
                           struct cairn_error *err)
{
    struct join_ctx *j = ctx;
    struct ks_ops ops;
    ks_ops_from_core(c, &ops);
    /* the peers: --join, else (etcd) the key API addresses in the registry */
    char **reg = NULL;
    size_t n_reg = 0;
    if (j->n == 0) {
        int rc = core_replica_key_addrs(c, &reg, &n_reg, err);
        if (rc != 0)
            return cairn_err_prefix(err, "listing the replicas");
        if (n_reg == 0) {
            free(reg);
            return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "no other replica serves the key API");
        }
    }
    /* three passes over the list, 200 then 400 ms apart; then, while some
     * holder could not be reached (restarting, or its key API held full by
     * idle or slow connections until its short deadlines close them), more
     * passes with the pause doubling up to 2 s, for --key-api-wait seconds
     * in all: the start stays bounded */
    struct ks_fetch_opts o = {.timeout_ms = 5000, .rounds = 3, .backoff_ms = 200, .max_backoff_ms = 2000,
                              .wait_ms = j->wait_s * 1000};
    if (j->n == 0) {   /* etcd: each pass asks the replicas registered by then */
        o.refresh = registry_holders;
        o.refresh_ctx = c;
    }
    int rc = j->n > 0 ? ks_fetch(&ops, (const char *const *)j->peers, j->n, ref, ref_len, &o, key, j->from,
                                 sizeof(j->from), err)
                      : ks_fetch(&ops, (const char *const *)reg, n_reg, ref, ref_len, &o, key, j->from,
                                 sizeof(j->from), err);
    free(reg);
    if (rc == 0) {
        clock_gettime(CLOCK_MONOTONIC, &j->got);
        j->have = true;
    }
    return rc;
}

int main(int argc, char **argv)
{
    const char *client_addr = env_or("EDG_COORDINATOR_CLIENT_ADDR", ":4433");
    const char *mesh_addr = env_or("EDG_COORDINATOR_MESH_ADDR", ":2001");
    const char *dns = env_or("EDG_COORDINATOR_DNS_NAMES", "localhost");
    const char *seal_dir = env_or("EDG_COORDINATOR_SEAL_DIR", NULL);
    const char *metrics_addr = env_or("EDG_COORDINATOR_PROMETHEUS_ADDR", NULL);
    const char *kbs_addr = env_or("CAIRN_KBS_ADDR", NULL);
    long kbs_session_ttl = 300, kbs_token_ttl = 300;
    const char *startup = env_or("EDG_STARTUP_MANIFEST", NULL);
    const char *log_format = env_or("EDG_LOG_FORMAT", "text");
    const char *log_level = env_or("CAIRN_LOG_LEVEL", NULL);
    const char *ready_file = NULL;
    bool simulation = env_true("OE_SIMULATION");
    const char *trust_dir = env_or("CAIRN_TRUST_DIR", NULL);
    bool insecure_no_tee = env_true("CAIRN_INSECURE_NO_TEE");
    bool debug = env_true("EDG_DEBUG_LOGGING");
    const char *tee_name = env_or("CAIRN_COORDINATOR_TEE", "auto");
    const char *key_api_addr = env_or("CAIRN_KEY_API_ADDR", NULL);
    const char *join = env_or("CAIRN_JOIN", NULL);
    const char *key_api_wait_arg = env_or("CAIRN_KEY_API_WAIT", NULL);
    long key_api_wait = 20;
    struct attest_issuer_config issuer = {
        .tpm_tcti = env_or("CAIRN_TPM_TCTI", NULL), .tpm_pcrs = env_or("CAIRN_TPM_PCRS", NULL),
        .tpm_ak_cert = env_or("CAIRN_TPM_AK_CERT", NULL), .tpm_ak_context = env_or("CAIRN_TPM_AK_CONTEXT", NULL),
        .tpm_eventlog = env_or("CAIRN_TPM_EVENTLOG", NULL),
        .tpm_pcr_signature = env_or("CAIRN_TPM_PCR_SIGNATURE", NULL),
    };
    const char *store = env_or("CAIRN_STORE", NULL);
    const char *store_prefix = env_or("CAIRN_STORE_PREFIX", NULL);
    const char *etcd_ca = env_or("CAIRN_ETCD_CA", NULL), *etcd_cert = env_or("CAIRN_ETCD_CERT", NULL),
               *etcd_key = env_or("CAIRN_ETCD_KEY", NULL), *etcd_wire = env_or("CAIRN_ETCD_WIRE", NULL);
    long threads = 0, pool = 64, timeout = 10;
    long hs_timeout = 5, client_conns = 1024, mesh_conns = 1024, metrics_conns = API_METRICS_MAX_CONNS, per_addr = 0, hs_per_addr = 128;

    enum { O_CLIENT = 256, O_MESH, O_DNS, O_SEAL, O_METRICS, O_STARTUP, O_SIM, O_DEBUG, O_LOGFMT, O_READY,
           O_THREADS, O_POOL, O_TIMEOUT, O_HELP, O_VERSION, O_TRUST_DIR, O_INSECURE_NO_TEE, O_TEE, O_TPM_TCTI,
           O_TPM_PCRS, O_TPM_AK_CERT, O_TPM_AK_CONTEXT, O_TPM_EVENTLOG, O_TPM_PCRSIG, O_HS_TIMEOUT, O_CLIENT_CONNS, O_MESH_CONNS, O_METRICS_CONNS,
           O_PER_ADDR, O_HS_PER_ADDR, O_LOGLEVEL, O_KEY_API, O_JOIN, O_STORE, O_STORE_PREFIX, O_ETCD_CA, O_ETCD_CERT,
           O_ETCD_KEY, O_ETCD_WIRE, O_KBS, O_KBS_SESSION_TTL, O_KBS_TOKEN_TTL, O_KEY_API_WAIT };
    static const struct option opts[] = {
        {"client-addr", required_argument, NULL, O_CLIENT}, {"mesh-addr", required_argument, NULL, O_MESH},
        {"dns-names", required_argument, NULL, O_DNS},      {"seal-dir", required_argument, NULL, O_SEAL},
        {"metrics-addr", required_argument, NULL, O_METRICS},
        {"kbs-addr", required_argument, NULL, O_KBS},
        {"kbs-session-ttl", required_argument, NULL, O_KBS_SESSION_TTL},
        {"kbs-token-ttl", required_argument, NULL, O_KBS_TOKEN_TTL},
        {"startup-manifest", required_argument, NULL, O_STARTUP},
        {"simulation", no_argument, NULL, O_SIM},           {"debug", no_argument, NULL, O_DEBUG},
        {"log-format", required_argument, NULL, O_LOGFMT},  {"log-level", required_argument, NULL, O_LOGLEVEL},  {"ready-file", required_argument, NULL, O_READY},
        {"threads", required_argument, NULL, O_THREADS},    {"leaf-key-pool", required_argument, NULL, O_POOL},
        {"http-timeout", required_argument, NULL, O_TIMEOUT},
        {"handshake-timeout", required_argument, NULL, O_HS_TIMEOUT},
        {"client-max-conns", required_argument, NULL, O_CLIENT_CONNS},
        {"mesh-max-conns", required_argument, NULL, O_MESH_CONNS},
        {"metrics-max-conns", required_argument, NULL, O_METRICS_CONNS},
        {"max-conns-per-addr", required_argument, NULL, O_PER_ADDR},
        {"max-handshakes-per-addr", required_argument, NULL, O_HS_PER_ADDR},
        {"trust-dir", required_argument, NULL, O_TRUST_DIR},
        {"insecure-no-tee", no_argument, NULL, O_INSECURE_NO_TEE},
        {"tee", required_argument, NULL, O_TEE},            {"tpm-tcti", required_argument, NULL, O_TPM_TCTI},
        {"tpm-pcrs", required_argument, NULL, O_TPM_PCRS},  {"tpm-ak-cert", required_argument, NULL, O_TPM_AK_CERT},
        {"tpm-ak-context", required_argument, NULL, O_TPM_AK_CONTEXT},
        {"tpm-eventlog", required_argument, NULL, O_TPM_EVENTLOG},
        {"tpm-pcr-signature", required_argument, NULL, O_TPM_PCRSIG},
        {"key-api-addr", required_argument, NULL, O_KEY_API}, {"join", required_argument, NULL, O_JOIN},
        {"key-api-wait", required_argument, NULL, O_KEY_API_WAIT},
        {"store", required_argument, NULL, O_STORE},        {"store-prefix", required_argument, NULL, O_STORE_PREFIX},
        {"etcd-ca", required_argument, NULL, O_ETCD_CA},    {"etcd-cert", required_argument, NULL, O_ETCD_CERT},
        {"etcd-key", required_argument, NULL, O_ETCD_KEY},  {"etcd-wire", required_argument, NULL, O_ETCD_WIRE},
        {"help", no_argument, NULL, O_HELP},                {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_CLIENT: client_addr = optarg; break;
        case O_MESH: mesh_addr = optarg; break;
        case O_DNS: dns = optarg; break;
        case O_SEAL: seal_dir = optarg; break;
        case O_METRICS: metrics_addr = optarg; break;
        case O_STORE: store = optarg; break;
        case O_STORE_PREFIX: store_prefix = optarg; break;
        case O_ETCD_CA: etcd_ca = optarg; break;
        case O_ETCD_CERT: etcd_cert = optarg; break;
        case O_ETCD_KEY: etcd_key = optarg; break;
        case O_ETCD_WIRE: etcd_wire = optarg; break;
        case O_KBS: kbs_addr = optarg; break;
        case O_KBS_SESSION_TTL:
        case O_KBS_TOKEN_TTL: {
            long *dst = o == O_KBS_SESSION_TTL ? &kbs_session_ttl : &kbs_token_ttl;
            if (parse_uint(optarg, 86400, dst) != 0 || *dst == 0) {
                fprintf(stderr, "cairn-coordinator: --%s: expected 1..86400 seconds, got %s\n",
                        o == O_KBS_SESSION_TTL ? "kbs-session-ttl" : "kbs-token-ttl", optarg);
                return 2;
            }
            break;
        }
        case O_STARTUP: startup = optarg; break;
        case O_SIM: simulation = true; break;
        case O_TRUST_DIR: trust_dir = optarg; break;
        case O_INSECURE_NO_TEE: insecure_no_tee = true; break;
        case O_TEE: tee_name = optarg; break;
        /* empty values mean "not set", as for the environment variables */
        case O_TPM_TCTI: issuer.tpm_tcti = *optarg ? optarg : NULL; break;
        case O_TPM_PCRS: issuer.tpm_pcrs = *optarg ? optarg : NULL; break;
        case O_TPM_AK_CERT: issuer.tpm_ak_cert = *optarg ? optarg : NULL; break;
        case O_TPM_AK_CONTEXT: issuer.tpm_ak_context = *optarg ? optarg : NULL; break;
        case O_TPM_EVENTLOG: issuer.tpm_eventlog = *optarg ? optarg : NULL; break;
        case O_TPM_PCRSIG: issuer.tpm_pcr_signature = *optarg ? optarg : NULL; break;
        /* the later of --debug and --log-level wins */
        case O_DEBUG: debug = true; log_level = NULL; break;
        case O_LOGLEVEL: log_level = optarg; debug = false; break;
        case O_LOGFMT: log_format = optarg; break;
        case O_READY: ready_file = optarg; break;
        case O_KEY_API: key_api_addr = *optarg ? optarg : NULL; break;
        case O_JOIN: join = *optarg ? optarg : NULL; break;
        case O_KEY_API_WAIT:
            key_api_wait_arg = optarg;
            break;
        case O_THREADS:
            if (parse_uint(optarg, 64, &threads) != 0) {
                fprintf(stderr, "cairn-coordinator: --threads: expected 0..64, got %s\n", optarg);
                return EXIT_CONFIG;
            }
            break;
        case O_POOL:
            if (parse_uint(optarg, 100000, &pool) != 0) {
                fprintf(stderr, "cairn-coordinator: --leaf-key-pool: expected 0..100000, got %s\n", optarg);
                return EXIT_CONFIG;
            }
            break;
        case O_TIMEOUT:
            if (parse_uint(optarg, 3600, &timeout) != 0 || timeout == 0) {
                fprintf(stderr, "cairn-coordinator: --http-timeout: expected 1..3600, got %s\n", optarg);
                return EXIT_CONFIG;
            }
            break;
        case O_HS_TIMEOUT:
        case O_CLIENT_CONNS:
        case O_MESH_CONNS:
        case O_METRICS_CONNS:
        case O_PER_ADDR:
        case O_HS_PER_ADDR: {
            long max = o == O_HS_TIMEOUT ? 3600 : 1000000;
            long *dst = o == O_HS_TIMEOUT     ? &hs_timeout
                        : o == O_CLIENT_CONNS ? &client_conns
                        : o == O_MESH_CONNS   ? &mesh_conns
                        : o == O_METRICS_CONNS ? &metrics_conns
                        : o == O_PER_ADDR     ? &per_addr
                                              : &hs_per_addr;
            if (parse_uint(optarg, max, dst) != 0 || *dst == 0) {
                const char *name = "?";
                for (const struct option *q = opts; q->name != NULL; q++)
                    if (q->val == o)
                        name = q->name;
                fprintf(stderr, "cairn-coordinator: --%s: expected 1..%ld, got %s\n", name, max, optarg);
                return EXIT_CONFIG;
            }
            break;
        }
        case O_HELP:
        case 'h':
            usage(stdout);
            return 0;
        case O_VERSION:
            printf("cairn-coordinator %s (commit %s)\n", CAIRN_VERSION, CAIRN_COMMIT_ID);
            return 0;
        default:
            usage(stderr);
            return EXIT_CONFIG;
        }
    }
    if (key_api_wait_arg != NULL && parse_uint(key_api_wait_arg, 600, &key_api_wait) != 0) {
        fprintf(stderr, "cairn-coordinator: --key-api-wait (CAIRN_KEY_API_WAIT): expected 0..600 seconds, got %s\n",
                key_api_wait_arg);
        return EXIT_CONFIG;
    }
    if (optind < argc) {
        fprintf(stderr, "cairn-coordinator: unexpected argument %s (see --help)\n", argv[optind]);
        return EXIT_CONFIG;
    }
    if (check_unsupported_env() > 0)
        return EXIT_CONFIG;
    /* "file" (the default) or etcd://HOST:PORT[,HOST:PORT...] */
    const char *etcd_endpoints = NULL;
    if (store != NULL && strcmp(store, "file") != 0) {
        if (strncmp(store, "etcd://", 7) != 0 || store[7] == '\0') {
            fprintf(stderr, "cairn-coordinator: --store (CAIRN_STORE): expected file or etcd://HOST:PORT[,HOST:PORT...], "
                            "got \"%s\"\n", store);
            return EXIT_CONFIG;
        }
        etcd_endpoints = store + 7;
        if (threads == 0) {
            /* an activation holds its loop thread while it waits for the
             * group commit (one etcd round trip): more loops keep the
             * handshakes of other marbles going and fill the batches */
            long n = sysconf(_SC_NPROCESSORS_ONLN) * 4;
            threads = n < 8 ? 8 : n > 32 ? 32 : n;
        }
        if (etcd_wire != NULL && strcmp(etcd_wire, "grpc") != 0 && strcmp(etcd_wire, "gateway") != 0) {
            fprintf(stderr, "cairn-coordinator: --etcd-wire (CAIRN_ETCD_WIRE): expected grpc or gateway, got \"%s\"\n",
                    etcd_wire);
            return EXIT_CONFIG;
        }
    } else if (store_prefix != NULL || etcd_ca != NULL || etcd_cert != NULL || etcd_key != NULL || etcd_wire != NULL) {
        fprintf(stderr, "cairn-coordinator: --store-prefix and --etcd-* need --store etcd://...\n");
        return EXIT_CONFIG;
    }
    enum cairn_log_format lf;
    if (cairn_log_format_parse(log_format, &lf) != 0) {
        fprintf(stderr, "cairn-coordinator: --log-format: expected text or json, got %s\n", log_format);
        return EXIT_CONFIG;
    }
    enum cairn_log_level lvl = debug ? CAIRN_LOG_DEBUG : CAIRN_LOG_INFO;
    if (log_level != NULL && cairn_log_level_parse(log_level, &lvl) != 0) {
        fprintf(stderr, "cairn-coordinator: --log-level: expected error, warn, info or debug, got %s\n", log_level);
        return EXIT_CONFIG;
    }
    cairn_log_setup(lvl, lf, "coordinator");
    /* a logging knob only (MarbleRun's Helm chart always sets it): accepted */
    if (getenv("EDG_HTTP_ERROR_LOG_LEVEL") != NULL)
        LOG_INFO("EDG_HTTP_ERROR_LOG_LEVEL is not used: Cairn logs refused client requests at info level");

    char cwd_dir[4096];
    if (seal_dir == NULL) {
        /* MarbleRun's default: $EDG_CWD (set inside an enclave), else the
         * working directory, plus marblerun-coordinator-data */
        const char *edg_cwd = env_or("EDG_CWD", NULL);
        if (edg_cwd != NULL) {
            if (strlen(edg_cwd) >= sizeof(cwd_dir) - 32) {
                LOG_ERROR("EDG_CWD is too long");
                return EXIT_CONFIG;
            }
            snprintf(cwd_dir, sizeof(cwd_dir), "%s", edg_cwd);
        } else if (getcwd(cwd_dir, sizeof(cwd_dir) - 32) == NULL) {
            LOG_ERROR("cannot determine the working directory for the default seal directory");
            return 1;
        }
        strcat(cwd_dir, "/marblerun-coordinator-data");
        seal_dir = cwd_dir;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    /* signals are taken by sigwait below; loop threads inherit the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (insecure_no_tee && simulation) {
        LOG_ERROR("--insecure-no-tee and --simulation exclude each other: simulation accepts \"sim\" marble "
                  "evidence, --insecure-no-tee verifies marble evidence");
        return EXIT_CONFIG;
    }
    /* "auto" keeps ATTEST_SIM, which core_new reads as "probe" */
    enum attest_type own_tee = ATTEST_SIM;
    if (strcasecmp(tee_name, "auto") != 0 &&
        (attest_type_parse(tee_name, &own_tee) != 0 || own_tee == ATTEST_SIM)) {
        LOG_ERROR("--tee (CAIRN_COORDINATOR_TEE): expected auto, sgx, tdx, snp or tpm, got \"%s\"", tee_name);
        return EXIT_CONFIG;
    }
    if (own_tee != ATTEST_SIM && (simulation || insecure_no_tee)) {
        LOG_ERROR("--tee %s excludes %s: that mode runs the Coordinator without a TEE", attest_type_name(own_tee),
                  simulation ? "--simulation" : "--insecure-no-tee");
        return EXIT_CONFIG;
    }
    if (insecure_no_tee)
        LOG_WARN("*** INSECURE NO-TEE MODE: the Coordinator runs WITHOUT a TEE: it has no quote, so clients cannot "
                 "verify it, and its state is sealed with a key file in %s. Marble evidence IS verified (\"sim\" "
                 "refused). For testing hardware evidence only; never use this in production. ***", seal_dir);
    if (simulation)
        LOG_WARN("*** SIMULATION MODE: marble identities are NOT verified, the Coordinator has no quote and its "
                 "state is sealed with a key file in %s. Never use this in production. ***", seal_dir);
    /* Bind first: a busy port or a bad address fails here, before a state
     * or a root CA is created and before anything says "ready". The loops
     * serve only once the state is loaded (api_run). */
    struct api_config ac = {.client_addr = client_addr, .mesh_addr = mesh_addr, .metrics_addr = metrics_addr,
                            .threads = (int)threads, .timeout_s = (int)timeout,
                            .handshake_timeout_s = (int)hs_timeout, .client_max_conns = (size_t)client_conns,
                            .mesh_max_conns = (size_t)mesh_conns, .metrics_max_conns = (size_t)metrics_conns,
                            .max_conns_per_addr = (size_t)per_addr,
                            .max_handshakes_per_addr = (size_t)hs_per_addr,
                            .heartbeat_ms = service_watchdog_interval_ms(), .heartbeat = service_watchdog,
                            .kbs_addr = kbs_addr,
                            .kbs = {.session_ttl_s = (unsigned)kbs_session_ttl, .token_ttl_s = (unsigned)kbs_token_ttl}};
    struct api *api = NULL;
    struct cairn_error e = {0};
    if (api_bind(&ac, &api, &e) != 0) {
        LOG_ERROR("cannot start the listeners: %s", cairn_error_msg(&e));
        return e.code == CAIRN_ERR_INVALID ? EXIT_CONFIG : 1;
    }
    if (ac.heartbeat_ms > 0)
        LOG_INFO("systemd watchdog: WATCHDOG=1 every %u ms from the event loops", ac.heartbeat_ms);
    int pc, pm, pp;
    api_ports(api, &pc, &pm, &pp);
    char hc[256], hm[256], hp[256] = "";
    host_of(client_addr, hc, sizeof(hc));
    host_of(mesh_addr, hm, sizeof(hm));
    if (pp)
        host_of(metrics_addr, hp, sizeof(hp));
    snprintf(g_addrs, sizeof(g_addrs), "client API %s:%d, mesh API %s:%d", hc, pc, hm, pm);

    char **names = NULL;
    size_t n_names = 0;
    if (pki_split_names(dns, &names, &n_names) != 0) {
        LOG_ERROR("out of memory");
        api_free(api);
        return 1;
    }
    struct core_config cc = {
        .simulation = simulation,
        .seal_dir = seal_dir,
        .dns_names = (const char *const *)names,
        .n_dns_names = n_names,
        .leaf_key_pool = (size_t)pool,
        .trust_dir = trust_dir,
        .insecure_no_tee = insecure_no_tee,
        .own_tee = own_tee,
        .issuer = issuer,
        .on_state_change = on_state_change,
        .etcd_endpoints = etcd_endpoints,
        .etcd_prefix = store_prefix,
        .etcd_ca = etcd_ca,
        .etcd_cert = etcd_cert,
        .etcd_key = etcd_key,
        .etcd_gateway = etcd_wire != NULL && strcmp(etcd_wire, "gateway") == 0,
    };
    struct join_ctx jc = {.wait_s = key_api_wait};
    if (join != NULL) {
        if (pki_split_names(join, &jc.peers, &jc.n) != 0 || jc.n == 0) {
            LOG_ERROR("--join (CAIRN_JOIN): no address in \"%s\"", join);
            api_free(api);
            pki_names_free(names, n_names);
            return EXIT_CONFIG;
        }
    }
    if (join != NULL || etcd_endpoints != NULL) {
        /* --join: these peers; on etcd without --join: the replicas in the
         * registry that serve the key API */
        cc.obtain_data_key = obtain_data_key;
        cc.obtain_ctx = &jc;
    }
    struct core *core = NULL;
    if (core_new(&cc, &core, &e) != 0) {
        LOG_ERROR("cannot start: %s", cairn_error_msg(&e));
        api_free(api);
        pki_names_free(names, n_names);
        return 1;
    }
    LOG_INFO("state %d: %s", (int)core_get_state(core), core_state_message(core_get_state(core)));
    if (startup != NULL) {
        uint8_t *raw = NULL;
        size_t len = 0;
        uint8_t *file = NULL;
        int rc = cairn_file_read(startup, MANIFEST_MAX_SIZE, &file, &len);
        /* JSON or YAML, converted as the CLI's `manifest set` does */
        if (rc == 0 && (rc = manifest_file_to_upload(file, len, &raw, &len, &e)) != 0)
            LOG_ERROR("startup manifest %s: %s", startup, cairn_error_msg(&e));
        else if (rc != 0)
            LOG_ERROR("cannot read the startup manifest %s: %s", startup, cairn_strerror(rc));
        free(file);
        if (rc != 0) {
            api_free(api);
            core_free(core);
            pki_names_free(names, n_names);
            return EXIT_CONFIG;
        }
        if (core_get_state(core) == CORE_STATE_ACCEPTING_MANIFEST) {
            json_t *rec = NULL;
            if (core_manifest_set(core, raw, len, &rec, &e) != 0) {
                LOG_ERROR("startup manifest %s: %s", startup, cairn_error_msg(&e));
                free(raw);
                api_free(api);
                core_free(core);
                pki_names_free(names, n_names);
                return e.code == CAIRN_ERR_INVALID ? EXIT_CONFIG : 1;
            }
            json_decref(rec);
            LOG_INFO("startup manifest %s set", startup);
        } else {
            LOG_INFO("startup manifest %s ignored: the state already has a manifest or is in recovery", startup);
        }
        free(raw);
    }
    if (api_run(api, core, &e) != 0) {
        LOG_ERROR("cannot start the listeners: %s", cairn_error_msg(&e));
        api_free(api);
        core_free(core);
        pki_names_free(names, n_names);
        return 1;
    }
    struct ks_server *ks = NULL;
    if (key_api_addr != NULL) {
        struct ks_ops ops;
        ks_ops_from_core(core, &ops);
        if (ks_server_start(&ops, key_api_addr, &ks, &e) != 0) {
            LOG_ERROR("cannot start the key API: %s", cairn_error_msg(&e));
            api_free(api);
            core_free(core);
            pki_names_free(names, n_names);
            pki_names_free(jc.peers, jc.n);
            return e.code == CAIRN_ERR_INVALID ? EXIT_CONFIG : 1;
        }
        LOG_INFO("key API (data key for attested replicas) on port %d", ks_server_port(ks));
    }
    if (etcd_endpoints != NULL) {
        /* the registry carries the addresses peers and clients dial */
        char a_client[300], a_mesh[300], a_key[300] = "";
        snprintf(a_client, sizeof(a_client), "%s:%d", hc, pc);
        snprintf(a_mesh, sizeof(a_mesh), "%s:%d", hm, pm);
        if (ks != NULL) {
            char hk[256];
            host_of(key_api_addr, hk, sizeof(hk));
            snprintf(a_key, sizeof(a_key), "%s:%d", hk, ks_server_port(ks));
        }
        core_register_replica(core, a_client, a_mesh, a_key[0] ? a_key : NULL, &e);
    }
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    char maddr[300] = "metrics off";
    if (pp)
        snprintf(maddr, sizeof(maddr), "metrics http://%s:%d/metrics", hp, pp);
    LOG_INFO("ready in %.1f ms: client API https port %d, mesh API port %d, %s", ms, pc, pm, maddr);
    if (api_kbs_port(api))
        LOG_INFO("KBS protocol (confidential containers) on https port %d", api_kbs_port(api));
    if (ready_file != NULL) {
        char buf[1024];
        int n;
        if (pp)
            n = snprintf(buf, sizeof(buf), "{\"client\":\"%s:%d\",\"mesh\":\"%s:%d\",\"metrics\":\"%s:%d\",\"ready_ms\":%.1f}\n",
                         hc, pc, hm, pm, hp, pp, ms);
        else
            n = snprintf(buf, sizeof(buf), "{\"client\":\"%s:%d\",\"mesh\":\"%s:%d\",\"metrics\":null,\"ready_ms\":%.1f}\n",
                         hc, pc, hm, pm, ms);
        /* HA additions: the key API address and, for a replica that got
         * the data key from a peer, when (ms since start) and from whom */
        if (n > 2 && (ks != NULL || jc.have)) {
            n -= 2;   /* reopen the object: drop "}\n" */
            if (ks != NULL) {
                char hk[256];
                host_of(key_api_addr, hk, sizeof(hk));
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",\"keyapi\":\"%s:%d\"", hk, ks_server_port(ks));
            }
            if (jc.have) {
                double km = (double)(jc.got.tv_sec - t0.tv_sec) * 1e3 + (double)(jc.got.tv_nsec - t0.tv_nsec) / 1e6;
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",\"key_ms\":%.1f,\"key_from\":\"%s\"", km,
                              jc.from);
            }
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, "}\n");
        }
        int pk = api_kbs_port(api);
        if (pk && n > 2 && (size_t)n < sizeof(buf)) {
            /* "kbs": the KBS listener's address, when it is on */
            char hk[256];
            host_of(kbs_addr, hk, sizeof(hk));
            n = n - 2 + snprintf(buf + n - 2, sizeof(buf) - (size_t)n + 2, ",\"kbs\":\"%s:%d\"}\n", hk, pk);
        }
        if (cairn_file_write_atomic(ready_file, buf, (size_t)n, 0644) != 0)
            LOG_ERROR("cannot write the ready file %s", ready_file);
    }
    if (core_seal_joined(core, &e) != 0)
        LOG_ERROR("cannot seal the state with this machine's seal (the next start asks a replica again): %s",
                  cairn_error_msg(&e));
    char status[512];
    service_ready(status_line(status, sizeof(status), core_get_state(core)));
    int sig = 0;
    sigwait(&set, &sig);
    LOG_INFO("signal %d: shutting down", sig);
    service_stopping("shutting down");
    ks_server_free(ks);
    api_free(api);
    core_free(core);
    pki_names_free(names, n_names);
    pki_names_free(jc.peers, jc.n);
    return 0;
}
