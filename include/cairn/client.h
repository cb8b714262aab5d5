/* libcairn: the Coordinator's client REST API and Coordinator verification.
 *
 * A `struct cairn_client` talks HTTPS to one Coordinator client address
 * (default port 4433). Every call tries MarbleRun's API v2 path first and
 * falls back to the v1 (legacy) path when the Coordinator answers 405, so
 * older MarbleRun-compatible Coordinators keep working.
 *
 * Trust: a client either pins the Coordinator's root certificate (the TLS
 * server certificate of the client API IS the root certificate), or runs
 * `insecure` (no TLS server authentication at all: only for a simulated
 * Coordinator or trust on first use). cairn_coordinator_verify() obtains the
 * root by checking the Coordinator's evidence against a policy and then pins
 * it on the client, so every later call on that handle is authenticated.
 *
 * On failure every function records a one-line, human-readable reason that
 * names the cause (unreachable address, TLS failure, HTTP status and the
 * Coordinator's message, verification failure and the mismatching field);
 * read it with cairn_client_last_error().
 */
#ifndef CAIRN_CLIENT_H
#define CAIRN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cairn_client;

struct cairn_client_config {
    /* "host:port", ":port" (= localhost) or "https://host:port"; several
     * replicas comma-separated (see "several Coordinator replicas"). Required. */
    const char *address;
    /* PEM of the Coordinator root certificate to trust (pins TLS). May be NULL. */
    const char *root_ca_pem;
    /* Non-zero: do not authenticate the TLS server (INSECURE). Required when
     * root_ca_pem is NULL, except for cairn_coordinator_verify(), which pins
     * the root it verifies. */
    int insecure;
    /* Optional user credentials (PEM) for user-authenticated endpoints
     * (secrets, update, ...). The key is copied and wiped on free. */
    const char *client_cert_pem;
    const char *client_key_pem;
    /* Per-request timeout; 0 = 30000 ms. */
    long timeout_ms;
};

/* Creates a client. All strings in `cfg` are copied. *out is owned by the
 * caller: cairn_client_free(). Fails with CAIRN_ERR_INVALID on a bad address.
 * A client with neither root_ca_pem nor insecure can only call
 * cairn_coordinator_verify() (which pins the verified root); any other call
 * fails with CAIRN_ERR_STATE until a root is pinned. */
int cairn_client_new(const struct cairn_client_config *cfg, struct cairn_client **out);
void cairn_client_free(struct cairn_client *c);   /* NULL ok */

/* The last failure's one-line reason, "" if none. Borrowed: valid until the
 * next call on `c`. */
const char *cairn_client_last_error(const struct cairn_client *c);
/* The HTTP status of the last response, 0 if no response arrived. */
int cairn_client_last_http_status(const struct cairn_client *c);
/* Pins `root_pem` as the only trusted TLS server certificate from now on
 * (copied). Returns CAIRN_ERR_INVALID if it is not a PEM certificate. */
int cairn_client_set_root_ca(struct cairn_client *c, const char *root_pem);

/* ---- several Coordinator replicas (docs/high-availability.md) -------------
 *
 * `address` may list several replicas of one deployment, comma-separated
 * ("host1:4433,host2:4433"). A request goes to the replica that answered
 * last; when it cannot be reached (connection refused, reset or timed out:
 * CAIRN_ERR_NETWORK / CAIRN_ERR_TIMEOUT) the next one is tried, for a bounded
 * number of passes over the list with a growing pause between passes. Any
 * answer, including an HTTP error, ends the search. All replicas of a
 * deployment present the same root certificate, so a pinned root holds for
 * every one of them. A request that broke after it was sent may have been
 * applied by the replica that died before it answered; client API writes are
 * then repeated on the next replica (a second manifest set is refused with
 * 409, secrets are written again with the same values). */

/* One line of progress ("127.0.0.1:4433: connection refused; trying
 * 127.0.0.1:4434"), for the caller to print or log. Borrowed string. */
typedef void (*cairn_progress_fn)(void *arg, const char *message);

struct cairn_failover {
    int rounds;               /* passes over the list; 0 = 3 (1 with a single address) */
    long backoff_ms;          /* pause before the second pass, doubled after each; 0 = 100 */
    long connect_timeout_ms;  /* TCP+TLS connect per address; 0 = 2000 with several addresses */
    cairn_progress_fn progress; /* NULL = silent */
    void *progress_arg;
};

/* Replaces the failover settings of `c` (copied). NULL restores the defaults. */
int cairn_client_set_failover(struct cairn_client *c, const struct cairn_failover *fo);
/* The address (one element of the list) that answered the last request,
 * or the first one before any request. Borrowed: valid until the next call. */
const char *cairn_client_current_address(const struct cairn_client *c);

/* ---- Coordinator verification -------------------------------------------- */

struct cairn_verify_config {
    /* Expected TEE identity of the Coordinator: a JSON object with the fields
     * of a manifest package, e.g. {"SignerID": "...", "ProductID": 3,
     * "SecurityVersion": 3} or {"TEE": "tdx", "MRTD": "..."} (MarbleRun's
     * era-config.json is accepted as is). Required unless `insecure`. */
    const char *policy_json;
    /* Optional nonce: the Coordinator then quotes SHA-256(root DER || nonce)
     * freshly for this request. */
    const uint8_t *nonce;
    size_t nonce_size;
    /* Non-zero: skip evidence verification (a simulated Coordinator sends no
     * quote). The certificates are then trusted on first use (INSECURE). */
    int insecure;
    /* Optional trust directory (docs/trust.md): DIR/<sgx|tdx|snp|tpm>/ with
     * collateral (TCB info, QE identity), CRLs and intermediates, and
     * DIR/<type>/roots/ with roots replacing the built-in Intel/AMD ones.
     * NULL: $CAIRN_TRUST_DIR when set, else built-in roots and no collateral
     * (SGX/TDX evidence then has no TCB status and the policy must accept
     * "NoCollateral"); "": none, even when $CAIRN_TRUST_DIR is set. A
     * directory that does not load fails the call (CAIRN_ERR_NOT_FOUND or
     * CAIRN_ERR_INVALID) before anything is sent. Ignored when `insecure`. */
    const char *trust_dir;
};

struct cairn_coordinator_certs {
    char *root_pem;          /* owned; the Coordinator root certificate (PEM) */
    char *intermediate_pem;  /* owned; the current intermediate (PEM); "" if none was sent */
    int verified;            /* 1: the evidence verified and matched the policy; 0: insecure */
    char *tee;               /* owned; evidence type ("sgx", "tdx", ...), "none" when insecure */
    char *claims_json;       /* owned; verified claims as JSON, "{}" when insecure */
    uint8_t *quote;          /* owned; the raw quote as sent (SGX quote, or the "quote" of the
                              * evidence of other TEEs); NULL when the Coordinator sent none */
    size_t quote_size;
};
void cairn_coordinator_certs_free(struct cairn_coordinator_certs *certs); /* frees members */

/* Fetches GET /api/v2/quote[?nonce=] and, unless cfg->insecure, returns the
 * certificates only when all of this holds: the evidence verifies, its report
 * data binds SHA-256(root cert DER || nonce), the intermediate chains to the
 * root, and the claims match the policy. On success the root is pinned on `c`.
 * Errors: CAIRN_ERR_NETWORK / CAIRN_ERR_TLS / CAIRN_ERR_PROTOCOL (transport or
 * malformed answer), CAIRN_ERR_VERIFY (evidence or binding), CAIRN_ERR_POLICY
 * (identity mismatch; the message names the field), CAIRN_ERR_INVALID (bad
 * policy JSON), CAIRN_ERR_STATE (no quote: simulated Coordinator, use insecure). */
int cairn_coordinator_verify(struct cairn_client *c, const struct cairn_verify_config *cfg,
                             struct cairn_coordinator_certs *out);

/* ---- REST endpoints (inventory §2.2 / §2.3) -------------------------------- */

/* GET /api/v2/status (v1: /status). *out_message owned (cairn_free). */
int cairn_status_get(struct cairn_client *c, int *out_code, char **out_message);

/* One replica of a Coordinator deployment on etcd, as GET /api/v2/status
 * reports it (data.replication). Strings are owned by the list and sanitized
 * (printable ASCII, bounded); absent fields are "". */
struct cairn_replica {
    char *id;
    char *client_addr;
    char *mesh_addr;
    int self;            /* 1: the replica that answered */
};

struct cairn_replication {
    int replicated;      /* 0: a single Coordinator on the file store (nothing else is set) */
    int etcd_available;  /* 1 while the answering replica reaches an etcd quorum */
    char *etcd_error;    /* owned; why etcd is unavailable, or NULL */
    long long state_revision;
    struct cairn_replica *replicas; /* owned array of n_replicas */
    size_t n_replicas;
};

/* GET /api/v2/status: the replication part (issue 9). A Coordinator without
 * replicas, or one that answers only the v1 API, yields replicated = 0.
 * Free with cairn_status_replication_free. */
int cairn_status_replication(struct cairn_client *c, struct cairn_replication *out);
void cairn_status_replication_free(struct cairn_replication *r);

/* cairn_status_get and cairn_status_replication from one GET /api/v2/status
 * (v1: /status), so both parts describe the same answer. *out_message is
 * owned (cairn_free; NULL out_message: not returned), *out is freed with
 * cairn_status_replication_free. The outputs are written only on success. */
int cairn_status_get_all(struct cairn_client *c, int *out_code, char **out_message, struct cairn_replication *out);

struct cairn_manifest_info {
    uint8_t *manifest;        /* owned; the raw manifest bytes as uploaded (NUL-terminated) */
    size_t manifest_size;
    char *fingerprint_hex;    /* owned; hex SHA-256 of the manifest */
    uint8_t *signature;       /* owned; ECDSA signature by the root key (DER), may be NULL */
    size_t signature_size;
};
void cairn_manifest_info_free(struct cairn_manifest_info *m); /* frees members */

/* GET /api/v2/manifest (v1: /manifest). CAIRN_ERR_NOT_FOUND if none is set. */
int cairn_manifest_get(struct cairn_client *c, struct cairn_manifest_info *out);
/* POST /api/v2/manifest with the raw manifest JSON bytes (v1: POST /manifest).
 * *out_recovery_json (may be NULL to ignore) receives the "RecoverySecrets"
 * object as JSON text, or NULL when there are none; owned (cairn_free). */
int cairn_manifest_set(struct cairn_client *c, const uint8_t *manifest, size_t size,
                       char **out_recovery_json);
/* GET /api/v2/update (v1: /update): the update log, one entry per line. */
int cairn_manifest_log(struct cairn_client *c, char **out_log);

struct cairn_quote {
    char *cert_pem;           /* owned; intermediate PEM followed by root PEM */
    uint8_t *quote;           /* owned; raw quote bytes, NULL in simulation */
    size_t quote_size;
    char *evidence_json;      /* owned; the "evidence" object for non-SGX TEEs, else NULL */
};
void cairn_quote_free(struct cairn_quote *q); /* frees members */
/* GET /api/v2/quote[?nonce=base64url] (v1: /quote, which ignores nonces). */
int cairn_quote_get(struct cairn_client *c, const uint8_t *nonce, size_t nonce_size, struct cairn_quote *out);

/* Issue-6 endpoints (user-authenticated: configure client_cert_pem/key). They
 * return the Coordinator's "data" as JSON text (owned, cairn_free) where the
 * endpoint has data. A Coordinator without them answers 405:
 * CAIRN_ERR_UNSUPPORTED. */
int cairn_secrets_get(struct cairn_client *c, const char *const *names, size_t n_names, char **out_json);
int cairn_secrets_set(struct cairn_client *c, const char *secrets_json);
int cairn_update_apply(struct cairn_client *c, const uint8_t *manifest, size_t size, char **out_json);
int cairn_update_get(struct cairn_client *c, char **out_json);
int cairn_update_acknowledge(struct cairn_client *c, const uint8_t *manifest, size_t size, char **out_json);
int cairn_update_cancel(struct cairn_client *c);
int cairn_recover(struct cairn_client *c, const uint8_t *secret, size_t secret_size, const uint8_t *signature,
                  size_t signature_size, int *out_remaining, char **out_message);
/* GET /api/v2/recover/public-key: *out_der is the RSA public key (PKIX DER), owned. */
int cairn_recover_public_key(struct cairn_client *c, uint8_t **out_der, size_t *out_size);

#ifdef __cplusplus
}
#endif
#endif
