/* Internal: the Coordinator's logic (DESIGN §4, §7, §9; inventory §2, §3, §5).
 *
 * `struct core` owns the state machine (1 Recovery, 2 AcceptingManifest,
 * 3 AcceptingMarbles; it only advances), the sealed state, the PKI, the
 * activation counters, the update log, the /events ring and the metrics.
 * It knows nothing of HTTP: refusals come back as a `enum core_refusal`
 * class plus a one-line message, and src/server maps them to status codes.
 *
 * Concurrency (DESIGN §4). Everything read-mostly (state code, parsed
 * manifest, CA keys and certificates, shared secrets, TLS contexts) lives in
 * an immutable, refcounted `struct core_snap`. Readers take a reference under
 * the state lock (a pointer copy) and then work without any lock: evidence
 * verification, leaf key generation and signing, per-marble secrets and
 * templates all run outside it. The lock is taken again only to commit
 * counters (MaxActivations is re-checked there, atomically). Changes that
 * replace the snapshot (manifest set; updates and recovery in issue 6) are
 * serialised by a separate admin lock, build the new snapshot outside the
 * state lock, persist it, and swap the pointer under the state lock.
 *
 * Extension points for users/secrets/updates/recovery (issue 6):
 * core_snap_get()/core_snap_put() to read, and core_commit_snapshot() to
 * install a new snapshot atomically with persistence. */
#ifndef CAIRN_CORE_H
#define CAIRN_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "common/buf.h"
#include "attest/attest.h"
#include "attest/issuer.h"
#include "common/error.h"
#include "manifest/manifest.h"

enum core_state {
    CORE_STATE_UNINITIALIZED = 0,
    CORE_STATE_RECOVERY = 1,
    CORE_STATE_ACCEPTING_MANIFEST = 2,
    CORE_STATE_ACCEPTING_MARBLES = 3,
};

/* MarbleRun's status messages (inventory §2.1). Static. */
const char *core_state_message(enum core_state s);

struct core;

struct core_config {
    bool simulation;               /* accept "sim" evidence; seal with a key file */
    const char *seal_dir;          /* required unless memory_only */
    bool memory_only;              /* never persist (tests; SealMode Disabled is per manifest) */
    const char *const *dns_names;  /* root certificate SANs; may be NULL/0 */
    size_t n_dns_names;
    const char *gramine_dir;       /* NULL = "/dev/attestation" */
    size_t leaf_key_pool;          /* pre-generated leaf keys; 0 = none */
    unsigned leaf_key_pool_idle_ms;/* refill only after this long without activations; 0 = 50 */
    size_t events_max;             /* /events ring size; 0 = 256 */
    /* Trust directory for marble evidence (docs/trust.md; src/attest/trust_store.h):
     * <dir>/<type>/ collateral, CRLs, intermediates; <dir>/<type>/roots/ roots.
     * Loaded by core_new (an unusable directory fails core_new); borrowed only
     * during core_new. NULL = built-in Intel/AMD roots, no collateral. */
    const char *trust_dir;
    /* INSECURE, development only: the Coordinator runs without a TEE (its own
     * quote is null and its state is sealed with a key file, as in
     * simulation) but marble evidence is verified as in production: "sim"
     * evidence is refused. For testing hardware verification paths (e.g. a
     * swtpm-attested marble) on a machine without a TEE. */
    bool insecure_no_tee;
    /* The Coordinator's own TEE (docs/coordinator-tee.md). ATTEST_SIM means
     * "auto": probe as attest_probe() does (ignored in simulation and
     * insecure_no_tee, which have no TEE). Any other type is used as given;
     * core_new fails when no evidence of that type can be issued at start. */
    enum attest_type own_tee;
    /* Passed to every attest_issue()/attest_probe() for the Coordinator's own
     * evidence (TPM TCTI, PCR selection, AK certificate/context, event log).
     * The strings are borrowed for the lifetime of the core. A TPM-backed
     * Coordinator seals its state with a key file in seal_dir (as
     * simulation): TPM sealing is not implemented. */
    struct attest_issuer_config issuer;
    /* Called after a committed change moved the state (a manifest set, a
     * recovery), with the new state, on the thread that committed it and
     * with no core lock held; NULL = none. Must not call back into the core's
     * write paths. */
    void (*on_state_change)(void *arg, enum core_state state);
    void *on_state_arg;
    /* HA key sharing (src/keyshare, docs/high-availability.md): called when
     * a sealed state exists that this machine's seal does not open, before
     * falling back to recovery; on etcd, when the data key provider has no
     * key for the state's data key id (`ref`, DATAKEY_ID_SIZE bytes; NULL/0
     * with the file store, which has one key). It may obtain the data key from a running
     * replica (core_issue_evidence / core_verify_peer_evidence work on the
     * half-built core passed in). 0 with `key` filled, or an error (then the
     * Coordinator enters recovery as without the hook). NULL = no hook. */
    int (*obtain_data_key)(struct core *c, void *ctx, const uint8_t *ref, size_t ref_len, uint8_t key[32],
                           struct cairn_error *err);
    void *obtain_ctx;
    /* issue 9: replicated state on etcd (docs/high-availability.md). NULL =
     * the file store in seal_dir. Otherwise seal_dir only holds the seal key
     * file (simulation) and the state lives in etcd under etcd_prefix
     * (NULL = "/cairn/"). The strings are borrowed for the core's lifetime. */
    const char *etcd_endpoints;    /* "host:port[,host:port...]" */
    const char *etcd_prefix;
    const char *etcd_ca, *etcd_cert, *etcd_key;   /* TLS to etcd; NULL = plain HTTP */
    bool etcd_gateway;                             /* Range and Txn through etcd's JSON gateway, not gRPC */
};

/* Everything read-mostly, immutable once published. */
struct core_snap {
    atomic_int refs;
    enum core_state state;
    /* manifest (NULL in states 1 and 2) */
    struct manifest *manifest;
    uint8_t *manifest_raw;     size_t manifest_raw_len;
    uint8_t *manifest_sig;     size_t manifest_sig_len;   /* DER ECDSA P-384 over SHA-256 */
    char manifest_hash[65];
    bool seal_disabled;        /* Config.SealMode "Disabled" */
    bool seal_unique;          /* Config.SealMode "UniqueKey" */
    /* PKI */
    X509 *root_cert;           EVP_PKEY *root_key;
    X509 *intermediate_cert;   EVP_PKEY *intermediate_key;
    X509 *marble_root_cert;
    char *root_pem, *intermediate_pem, *marble_root_pem;
    struct manifest_secret_value tv_root, tv_intermediate, tv_marble_root;  /* template values (Cert only) */
    uint8_t root_secret[32];
    /* the root secret before the last full update (MarbleRun's
     * previousRootSecret): per-marble .Previous.Secrets are derived from it */
    uint8_t previous_root_secret[32];
    bool has_previous_root_secret;
    struct manifest_secret_set *secrets;           /* shared + user-defined values */
    struct manifest_secret_set *previous_secrets;  /* after updates; may be NULL */
    SSL_CTX *client_tls;       /* Root cert, client certs requested */
    SSL_CTX *mesh_tls;         /* Marble Root + intermediate key, client certs required */
    /* the Coordinator's own evidence over SHA-256(root DER), cached (NULL in simulation) */
    json_t *quote_json;        /* {"quote": b64} or {"evidence": {...}} */
    /* issue 6 (governance.h): {"packageSVN": {pkg: n}, "pendingUpdate": {...}}
     * or NULL; persisted as "governance" in the state document */
    json_t *gov;
    /* issue 9: the etcd revision this snapshot was committed at (0 with the
     * file store); set before the snapshot is published */
    int64_t store_rev;
};

struct core;

/* Loads (or creates) the state. Fails with a clear message when the sealed
 * state exists but cannot be loaded for a reason other than unsealing
 * (-> the daemon exits); an unsealing failure gives state 1 (Recovery). */
int core_new(const struct core_config *cfg, struct core **out, struct cairn_error *err);
void core_free(struct core *c);   /* NULL ok; no handler may run anymore */

enum core_state core_get_state(struct core *c);
bool core_is_simulation(struct core *c);

/* Snapshot reference: valid until core_snap_put(). Never NULL after core_new. */
struct core_snap *core_snap_get(struct core *c);
void core_snap_put(struct core_snap *s);

/* TLS contexts of the current snapshot (new references: SSL_CTX_free). */
SSL_CTX *core_client_tls(struct core *c);
SSL_CTX *core_mesh_tls(struct core *c);

/* ---- client API operations ---- */

/* POST /manifest. `raw` is the exact uploaded manifest. On success *out_recovery
 * is a JSON object {name: b64} or json_null() (new reference).
 * Errors: CAIRN_ERR_STATE (not in state 1 or 2), CAIRN_ERR_INVALID (manifest
 * rules, message from src/manifest), CAIRN_ERR_CONFLICT (another set won),
 * other codes for internal failures. The state is unchanged on any error. */
int core_manifest_set(struct core *c, const uint8_t *raw, size_t len, json_t **out_recovery,
                      struct cairn_error *err);

/* The Coordinator's certificate chain PEM (Intermediate then Root) and its
 * evidence as members to merge into the quote response: {"quote": b64|null}
 * plus "evidence" for non-SGX TEEs. `nonce` (may be NULL) gives fresh evidence
 * over SHA-256(root DER || nonce). *out_cert: free(); *out_quote: json_decref. */
int core_quote(struct core *c, const uint8_t *nonce, size_t nonce_len, char **out_cert, json_t **out_quote,
               struct cairn_error *err);

/* The update log lines (each one JSON object). *out: json array (new ref). */
int core_update_log(struct core *c, json_t **out);

/* ---- mesh API ---- */

enum core_refusal {
    CORE_OK = 0,
    CORE_BAD_REQUEST,     /* malformed request: JSON, UUID, CSR, evidence encoding */
    CORE_UNAUTHENTICATED, /* no client certificate */
    CORE_FORBIDDEN,       /* marble verification failed */
    CORE_UNAVAILABLE,     /* not accepting marbles in the current state */
    CORE_INTERNAL,
};

/* One activation (DESIGN §7). `body` is the untrusted request, `peer` the
 * marble's TLS certificate (borrowed, may be NULL). On CORE_OK *out_data is
 * {"files","env","argv"} (new reference; it holds secrets). Otherwise
 * err->msg holds the reason ("marble verification failed: ..." for
 * CORE_FORBIDDEN). Nothing about the state changes on a refusal. */
enum core_refusal core_activate(struct core *c, const uint8_t *body, size_t len, X509 *peer, json_t **out_data,
                                struct cairn_error *err);

/* Decodes one wire's request into the JSON wire form's object
 * ({"marbleType","uuid","csr","quote"|"evidence"}); *out: new reference.
 * Returns CORE_OK, or CORE_BAD_REQUEST with err set ("malformed request: ...").
 * Called by core_activate_with after the state and peer checks, so every wire
 * (JSON over HTTP/1.1, gRPC over HTTP/2) refuses in the same order. */
typedef enum core_refusal (*core_act_decode_fn)(void *arg, json_t **out, struct cairn_error *err);

/* core_activate with the request decoder of another wire (src/server/grpc.c);
 * everything after the decoding is the same code. */
enum core_refusal core_activate_with(struct core *c, core_act_decode_fn decode, void *arg, X509 *peer,
                                     json_t **out_data, struct cairn_error *err);

/* What one activation was, for its log line (the daemon logs every
 * activation once, in src/server/api_mesh.c). Filled on every outcome as far
 * as the request got: empty strings before the request parsed. */
struct core_act_info {
    char marble_type[257];
    char uuid[37];
    const char *evidence;   /* static: "sgx", "tdx", "snp", "tpm", "sim", "none" (an empty quote), "" (unknown) */
    double seconds;         /* time spent in the core (after the TLS handshake) */
};
/* core_activate_with / core_activate plus `info` (may be NULL). */
enum core_refusal core_activate_info(struct core *c, core_act_decode_fn decode, void *arg, X509 *peer,
                                     json_t **out_data, struct core_act_info *info, struct cairn_error *err);
enum core_refusal core_activate_json_info(struct core *c, const uint8_t *body, size_t len, X509 *peer,
                                          json_t **out_data, struct core_act_info *info, struct cairn_error *err);
/* Stable lower-case names of the refusal classes ("ok", "bad_request",
 * "unauthenticated", "forbidden", "unavailable", "internal"), as in the
 * cairn_activation_refusals_total{result} metric. Static. */
const char *core_refusal_name(enum core_refusal r);

/* ---- metrics and events ---- */

/* coordinator_state, coordinator_version_info, coordinator_marble_activations_total,
 * coordinator_marble_activations_success_total, cairn_activation_duration_seconds,
 * cairn_evidence_verifications_total{type,result}, cairn_leaf_key_pool_*. */
int core_metrics_render(struct core *c, struct cairn_buf *out);
/* The /events array (new reference). */
json_t *core_events(struct core *c);

/* ---- key sharing between replicas (src/keyshare) ---- */

/* The TEE the Coordinator's own evidence comes from (ATTEST_SIM: none). */
enum attest_type core_own_tee(struct core *c);
/* Own evidence over `rd` (64 bytes), added to `out` in the activation wire
 * form ({"quote"} or {"evidence"}). */
int core_issue_evidence(struct core *c, const uint8_t rd[64], json_t *out, struct cairn_error *err);
/* Verifies another replica's evidence with the Coordinator's trust (as a
 * marble's, without a package) and the binding `rd` (32 bytes). "sim"
 * evidence only when the Coordinator itself has no TEE. *out on success
 * (attest_claims_free). */
int core_verify_peer_evidence(struct core *c, const struct attest_evidence *ev, const uint8_t rd[32],
                              struct attest_claims *out, struct cairn_error *err);
/* The data key of the loaded state: 0 and `key` filled, or
 * CAIRN_ERR_NOT_FOUND (recovery, memory only). *unique: SealMode UniqueKey. */
int core_data_key(struct core *c, uint8_t key[32], bool *unique);
/* The same for the key named `ref` (ref_len 0: the current one): on etcd the
 * state's data key id; CAIRN_ERR_NOT_FOUND unless it is the key in use. */
int core_data_key_ref(struct core *c, const uint8_t *ref, size_t ref_len, uint8_t key[32], bool *unique);
/* Key API addresses ("host:port") of the other live replicas in etcd's
 * registry (read from etcd now, not from the watch: usable during
 * core_new). *out: one allocation (free(*out)); 0 entries with the file
 * store. */
int core_replica_key_addrs(struct core *c, char ***out, size_t *out_n, struct cairn_error *err);
/* ---- replicas on etcd (issue 9, docs/high-availability.md) ---- */

/* Registers this replica in etcd's registry with the addresses clients and
 * marbles dial (after the listeners are bound) and its key API address
 * (NULL: none), and keeps it alive. A no-op with the file store. */
int core_register_replica(struct core *c, const char *client_addr, const char *mesh_addr, const char *key_addr,
                          struct cairn_error *err);
/* {"store":"etcd","etcdAvailable":..,"stateRevision":..,"replicaID":..,
 *  "replicas":[{"id","client","mesh","key","version","self"}]} or NULL with
 * the file store (new reference). */
json_t *core_replication_status(struct core *c);

/* After a start whose data key came from a replica (obtain_data_key): seals
 * the state with this machine's own seal, so the next start needs no peer.
 * Called once the Coordinator serves (the write is not on the way to ready);
 * a no-op otherwise. Until it succeeds a restart asks a replica again. On
 * etcd: stores the replica's own sealed copy of a data key it got from a
 * peer while starting (ha_store_pending_key). */
int core_seal_joined(struct core *c, struct cairn_error *err);

/* ---- extension hooks (issue 6) ---- */

/* Installs `next` (whose refcount the caller hands over) as the new snapshot
 * after persisting it, if `expected` is still the current snapshot. Must be
 * called with the admin lock held (core_admin_lock). CAIRN_ERR_CONFLICT when
 * the snapshot changed meanwhile. */
int core_commit_snapshot(struct core *c, struct core_snap *expected, struct core_snap *next, bool new_dek,
                         struct cairn_error *err);
void core_admin_lock(struct core *c);
void core_admin_unlock(struct core *c);
/* Appends one update-log line {"time": now, "update": msg, <fields>} (fields
 * may be NULL; borrowed). Persisted with the next commit. */
int core_log_update(struct core *c, const char *msg, json_t *fields);

#endif
