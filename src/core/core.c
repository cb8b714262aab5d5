/* The Coordinator core: state machine, snapshots, sealed state, manifest set,
 * quote, update log, metrics and events. Activation is in activate.c. */
#include "core/core.h"

#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "attest/issuer.h"
#include "common/encoding.h"
#include "common/log.h"
#include "core/core_internal.h"
#include "core/governance.h"
#include "core/ha.h"
#include "core/pki.h"
#include "crypto/crypto.h"

#define STATE_FORMAT "cairn-state-1"

const char *core_state_message(enum core_state s)
{
    switch (s) {
    case CORE_STATE_RECOVERY:
        return "Coordinator is in recovery mode. Either upload a key to unseal the saved state, or set a new "
               "manifest. For more information on how to proceed, consult the documentation.";
    case CORE_STATE_ACCEPTING_MANIFEST:
        return "Coordinator is ready to accept a manifest.";
    case CORE_STATE_ACCEPTING_MARBLES:
        return "Coordinator is running correctly and ready to accept marbles.";
    default:
        return "Coordinator is not initialized.";
    }
}

/* ---- snapshots ---- */

static struct core_snap *snap_new(void)
{
    struct core_snap *s = calloc(1, sizeof(*s));
    if (s != NULL)
        atomic_init(&s->refs, 1);
    return s;
}

void core_snap_put(struct core_snap *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    manifest_free(s->manifest);
    free(s->manifest_raw);
    free(s->manifest_sig);
    X509_free(s->root_cert);
    EVP_PKEY_free(s->root_key);
    X509_free(s->intermediate_cert);
    EVP_PKEY_free(s->intermediate_key);
    X509_free(s->marble_root_cert);
    free(s->root_pem);
    free(s->intermediate_pem);
    free(s->marble_root_pem);
    manifest_secret_value_clear(&s->tv_root);
    manifest_secret_value_clear(&s->tv_intermediate);
    manifest_secret_value_clear(&s->tv_marble_root);
    cc_wipe(s->root_secret, sizeof(s->root_secret));
    cc_wipe(s->previous_root_secret, sizeof(s->previous_root_secret));
    manifest_secret_set_free(s->secrets);
    manifest_secret_set_free(s->previous_secrets);
    SSL_CTX_free(s->client_tls);
    SSL_CTX_free(s->mesh_tls);
    json_decref(s->quote_json);
    json_decref(s->gov);
    free(s);
}

struct core_snap *core_snap_get(struct core *c)
{
    pthread_mutex_lock(&c->lock);
    struct core_snap *s = c->snap;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&c->lock);
    return s;
}

enum core_state core_get_state(struct core *c)
{
    struct core_snap *s = core_snap_get(c);
    enum core_state st = s->state;
    core_snap_put(s);
    return st;
}

bool core_is_simulation(struct core *c)
{
    return c->cfg.simulation;
}

SSL_CTX *core_client_tls(struct core *c)
{
    struct core_snap *s = core_snap_get(c);
    SSL_CTX *ctx = s->client_tls;
    if (ctx != NULL)
        SSL_CTX_up_ref(ctx);
    core_snap_put(s);
    return ctx;
}

SSL_CTX *core_mesh_tls(struct core *c)
{
    struct core_snap *s = core_snap_get(c);
    SSL_CTX *ctx = s->mesh_tls;
    if (ctx != NULL)
        SSL_CTX_up_ref(ctx);
    core_snap_put(s);
    return ctx;
}

/* Any client certificate is accepted at the TLS layer: handlers authenticate
 * it (evidence binding for marbles, exact match for users). */
static int accept_any(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

/* TLS 1.2 cipher suites of the client API: ECDHE key exchange (forward
 * secrecy) and AEAD ciphers only, for the Root's ECDSA key. TLS 1.3 suites
 * are all AEAD with (EC)DHE already; OpenSSL's default set is kept. */
#define CLIENT_TLS12_CIPHERS "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305"

/* `tls12`: also accept TLS 1.2 (the client API: MarbleRun's Go clients and
 * scripts negotiate 1.2 or 1.3). The mesh API stays TLS 1.3 only: every
 * MarbleRun premain is Go and offers 1.3. */
static SSL_CTX *tls_ctx(X509 *cert, EVP_PKEY *key, bool require_client, bool tls12)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return NULL;
    if (SSL_CTX_set_min_proto_version(ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        (tls12 && SSL_CTX_set_cipher_list(ctx, CLIENT_TLS12_CIPHERS) != 1) || SSL_CTX_use_certificate(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_num_tickets(ctx, 0);   /* DESIGN §4: ~35% less CPU per handshake (TLS 1.3 tickets) */
    /* no TLS 1.2 tickets or session cache either (no resumption at all), no
     * renegotiation (a client-initiated one costs the server a handshake),
     * the server's order of the AEAD suites */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (require_client ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), accept_any);
    return ctx;
}

static int cert_value(X509 *cert, struct manifest_secret_value *v)
{
    memset(v, 0, sizeof(*v));
    return cc_cert_to_der(cert, &v->cert, &v->cert_len);
}

/* Fills the derived members (PEMs, template values, TLS contexts, own
 * evidence) of a snapshot whose certificates and keys are set. */
static int snap_finish(struct core *c, struct core_snap *s, struct cairn_error *err)
{
    size_t n;
    if (cc_cert_to_pem(s->root_cert, &s->root_pem, &n) != 0 ||
        cc_cert_to_pem(s->intermediate_cert, &s->intermediate_pem, &n) != 0 ||
        cc_cert_to_pem(s->marble_root_cert, &s->marble_root_pem, &n) != 0 || cert_value(s->root_cert, &s->tv_root) != 0 ||
        cert_value(s->intermediate_cert, &s->tv_intermediate) != 0 ||
        cert_value(s->marble_root_cert, &s->tv_marble_root) != 0)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "encoding certificates failed");
    s->client_tls = tls_ctx(s->root_cert, s->root_key, false, true);
    /* client certificates requested, not required at the TLS layer, so a missing
     * one gets a clear 401 from the handler instead of a handshake alert */
    s->mesh_tls = tls_ctx(s->marble_root_cert, s->intermediate_key, false, false);
    if (s->client_tls == NULL || s->mesh_tls == NULL)
        return cairn_errf(err, CAIRN_ERR_TLS, "creating the TLS contexts failed");
    /* The Marble Root is self-signed with the intermediate key; sending the
     * Intermediate (same key, signed by the Root) along lets a marble that
     * holds only the Root authenticate the mesh server during the handshake,
     * before its activation request leaves (src/client/marble.c). MarbleRun
     * sends the Marble Root alone and its marbles skip verification, so they
     * simply ignore the extra certificate. */
    if (SSL_CTX_add1_chain_cert(s->mesh_tls, s->intermediate_cert) != 1)
        return cairn_errf(err, CAIRN_ERR_TLS, "adding the intermediate to the mesh TLS chain failed");
    if (s->secrets == NULL && (s->secrets = manifest_secret_set_new()) == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    return core_own_evidence(c, s->root_cert, NULL, 0, &s->quote_json, err);
}

/* A TPM quotes but offers no sealing key here (TPM sealing is not
 * implemented): such a Coordinator seals with a key file, as simulation. */
static bool seal_with_key_file(const struct core *c)
{
    return c->cfg.simulation || c->tee == ATTEST_TPM;
}

/* One TPM command stream at a time for the Coordinator's own quotes: a TPM
 * has few transient object slots and swtpm serves one connection at a time,
 * so concurrent ?nonce= quotes would otherwise fail or stall each other. */
static pthread_mutex_t own_tpm_lock = PTHREAD_MUTEX_INITIALIZER;

/* The Coordinator's evidence over SHA-256(root DER [|| nonce]) (DESIGN §6). */
int core_own_evidence(struct core *c, X509 *root, const uint8_t *nonce, size_t nonce_len, json_t **out,
                      struct cairn_error *err)
{
    json_t *j = json_object();
    if (j == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (c->cfg.simulation) {
        /* as MarbleRun: no quote in simulation */
        json_object_set_new(j, "quote", json_null());
        *out = j;
        return 0;
    }
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (cc_cert_to_der(root, &der, &der_len) != 0) {
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    uint8_t *buf = malloc(der_len + nonce_len + 1);
    if (buf == NULL) {
        free(der);
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    memcpy(buf, der, der_len);
    if (nonce_len > 0)
        memcpy(buf + der_len, nonce, nonce_len);
    uint8_t rd[64] = {0};
    cc_sha256(buf, der_len + nonce_len, rd);
    free(buf);
    free(der);
    struct attest_issued iss;
    if (c->tee == ATTEST_TPM)
        pthread_mutex_lock(&own_tpm_lock);
    int rc = attest_issue(c->tee, rd, &c->cfg.issuer, &iss, err);
    if (c->tee == ATTEST_TPM)
        pthread_mutex_unlock(&own_tpm_lock);
    if (rc != 0) {
        json_decref(j);
        return cairn_err_prefix(err, "issuing the Coordinator's %s evidence", attest_type_name(c->tee));
    }
    rc = attest_evidence_to_json(&iss, j);
    attest_issued_free(&iss);
    if (rc != 0) {
        json_decref(j);
        return cairn_errf(err, rc, "encoding the Coordinator's evidence");
    }
    if (json_object_get(j, "quote") == NULL)
        json_object_set_new(j, "quote", json_null());
    *out = j;
    return 0;
}

/* ---- the state document ---- */

static int put_b64(json_t *o, const char *k, const uint8_t *p, size_t n)
{
    char *s = cairn_base64_encode(p, n);
    if (s == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = json_object_set_new(o, k, json_string(s)) == 0 ? 0 : CAIRN_ERR_NOMEM;
    cc_free_secret(s, strlen(s));
    return rc;
}

static int put_cert(json_t *o, const char *k, X509 *x)
{
    uint8_t *d = NULL;
    size_t n = 0;
    if (cc_cert_to_der(x, &d, &n) != 0)
        return CAIRN_ERR_NOMEM;
    int rc = put_b64(o, k, d, n);
    free(d);
    return rc;
}

static int put_key(json_t *o, const char *k, EVP_PKEY *key)
{
    uint8_t *d = NULL;
    size_t n = 0;
    if (cc_key_to_pkcs8_der(key, &d, &n) != 0)
        return CAIRN_ERR_CRYPTO;
    int rc = put_b64(o, k, d, n);
    cc_free_secret(d, n);
    return rc;
}

/* Serialises the snapshot plus counters (activations, monotonic counters)
 * and log; the callers pass copies taken under c->lock.
 * *out: cc_free_secret(*out, *out_len). */
static int doc_build(struct core *c, const struct core_snap *s, const json_t *acts, const json_t *mono,
                     const json_t *log, const uint8_t *ctr_key, uint64_t generation, char **out, size_t *out_len)
{
    (void)c;
    json_t *d = json_object();
    int rc = d != NULL ? 0 : CAIRN_ERR_NOMEM;
    if (rc == 0)
        rc = json_object_set_new(d, "format", json_string(STATE_FORMAT)) ||
                     json_object_set_new(d, "state", json_integer(s->state))
                 ? CAIRN_ERR_NOMEM
                 : 0;
    if (rc == 0)
        rc = put_cert(d, "rootCert", s->root_cert);
    if (rc == 0)
        rc = put_key(d, "rootKey", s->root_key);
    if (rc == 0)
        rc = put_cert(d, "intermediateCert", s->intermediate_cert);
    if (rc == 0)
        rc = put_key(d, "intermediateKey", s->intermediate_key);
    if (rc == 0)
        rc = put_cert(d, "marbleRootCert", s->marble_root_cert);
    if (rc == 0 && s->manifest_raw != NULL) {
        rc = put_b64(d, "manifest", s->manifest_raw, s->manifest_raw_len);
        if (rc == 0)
            rc = put_b64(d, "manifestSignature", s->manifest_sig, s->manifest_sig_len);
        if (rc == 0)
            rc = put_b64(d, "rootSecret", s->root_secret, sizeof(s->root_secret));
        if (rc == 0 && s->has_previous_root_secret)
            rc = put_b64(d, "previousRootSecret", s->previous_root_secret, sizeof(s->previous_root_secret));
        json_t *sj = NULL;
        if (rc == 0 && s->secrets != NULL && (rc = manifest_secret_set_to_json(s->secrets, &sj)) == 0)
            rc = json_object_set_new(d, "secrets", sj) ? CAIRN_ERR_NOMEM : 0;
        if (rc == 0 && s->previous_secrets != NULL &&
            (rc = manifest_secret_set_to_json(s->previous_secrets, &sj)) == 0)
            rc = json_object_set_new(d, "previousSecrets", sj) ? CAIRN_ERR_NOMEM : 0;
        if (rc == 0 && s->gov != NULL)   /* issue 6: SVN overrides, pending update */
            rc = json_object_set(d, "governance", s->gov) ? CAIRN_ERR_NOMEM : 0;
    }
    if (rc == 0)
        rc = json_object_set(d, "activations", (json_t *)acts) || json_object_set(d, "updateLog", (json_t *)log)
                 ? CAIRN_ERR_NOMEM
                 : 0;
    /* issue 13: MonotonicCounter feature gate (features.c); absent when none */
    if (rc == 0 && mono != NULL && json_object_size(mono) > 0)
        rc = json_object_set(d, "monotonicCounters", (json_t *)mono) ? CAIRN_ERR_NOMEM : 0;
    /* issue 9: replicas on etcd keep counters in keys of their own, sealed
     * with this key (ha.c) */
    if (rc == 0 && ctr_key != NULL)
        rc = put_b64(d, "counterKey", ctr_key, 32);
    /* replicas on etcd: the state's own version, authenticated with it, so a
     * replica refuses an older sealed state put back into etcd (ha.c,
     * store/hwm.h); a decimal string: JSON numbers are doubles elsewhere */
    if (rc == 0 && generation > 0) {
        char g[24];
        snprintf(g, sizeof(g), "%" PRIu64, generation);
        rc = json_object_set_new(d, "generation", json_string(g)) ? CAIRN_ERR_NOMEM : 0;
    }
    char *str = rc == 0 ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    if (rc == 0 && str == NULL)
        rc = CAIRN_ERR_NOMEM;
    if (rc != 0)
        return rc;
    *out = str;
    *out_len = strlen(str);
    return 0;
}

static int get_b64(const json_t *d, const char *k, bool required, uint8_t **out, size_t *out_len,
                   struct cairn_error *err)
{
    const json_t *v = json_object_get(d, k);
    if (v == NULL && !required) {
        *out = NULL;
        *out_len = 0;
        return 0;
    }
    if (!json_is_string(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "state document: %s: expected a base64 string", k);
    if (cairn_base64_decode(json_string_value(v), json_string_length(v), out, out_len) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "state document: %s: invalid base64", k);
    return 0;
}

static int get_cert(const json_t *d, const char *k, X509 **out, struct cairn_error *err)
{
    uint8_t *b;
    size_t n;
    int rc = get_b64(d, k, true, &b, &n, err);
    if (rc == 0) {
        rc = cc_cert_from_der(b, n, out, err);
        free(b);
        if (rc != 0)
            cairn_err_prefix(err, "state document: %s", k);
    }
    return rc;
}

static int get_key(const json_t *d, const char *k, EVP_PKEY **out, struct cairn_error *err)
{
    uint8_t *b;
    size_t n;
    int rc = get_b64(d, k, true, &b, &n, err);
    if (rc == 0) {
        rc = cc_key_from_der(b, n, out, err);
        cc_free_secret(b, n);
        if (rc != 0)
            cairn_err_prefix(err, "state document: %s", k);
    }
    return rc;
}

/* The counters that travel with a state through load and commit: a bundle
 * {"activations": {type: n}, "monotonic": {id: "n"}} (new reference, deep
 * copies), on etcd also "etcdRevision": the revision they were read at
 * (core_load_with_dek). Opaque to the callers of core_load_with_dek /
 * core_commit_*. */
static json_t *counters_bundle(const json_t *acts, const json_t *mono)
{
    json_t *b = json_object();
    if (b == NULL || json_object_set_new(b, "activations", acts != NULL ? json_deep_copy(acts) : json_object()) != 0 ||
        json_object_set_new(b, "monotonic", mono != NULL ? json_deep_copy(mono) : json_object()) != 0) {
        json_decref(b);
        return NULL;
    }
    return b;
}

/* Unpacks a bundle (a plain empty object = no counters: a new state). */
static void counters_unbundle(json_t *b, json_t **acts, json_t **mono)
{
    json_t *a = json_object_get(b, "activations"), *m = json_object_get(b, "monotonic");
    *acts = json_is_object(a) ? json_incref(a) : json_object();
    *mono = json_is_object(m) ? json_incref(m) : json_object();
}

static const char *seal_mode_of(const struct manifest *m)
{
    return (m != NULL && m->config.seal_mode != NULL) ? m->config.seal_mode : "";
}

/* Parses a state document into a new snapshot plus counters (a bundle, see
 * counters_bundle) and log. */
static int doc_load(struct core *c, const uint8_t *doc, size_t len, struct core_snap **out_snap, json_t **out_acts,
                    json_t **out_log, uint8_t *out_ctr_key, bool *out_has_ctr, uint64_t *out_gen,
                    struct cairn_error *err)
{
    json_error_t je;
    json_t *d = json_loadb((const char *)doc, len, JSON_REJECT_DUPLICATES, &je);
    if (d == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "state document: invalid JSON: %s", je.text);
    struct core_snap *s = snap_new();
    int rc = s != NULL ? 0 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    const json_t *fmt = json_object_get(d, "format"), *st = json_object_get(d, "state");
    if (rc == 0 && (!json_is_string(fmt) || strcmp(json_string_value(fmt), STATE_FORMAT) != 0))
        rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "state document: format: expected %s", STATE_FORMAT);
    if (rc == 0 && (!json_is_integer(st) || json_integer_value(st) < CORE_STATE_ACCEPTING_MANIFEST ||
                    json_integer_value(st) > CORE_STATE_ACCEPTING_MARBLES))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "state document: state: expected 2 or 3");
    if (rc == 0) {
        s->state = (enum core_state)json_integer_value(st);
        rc = get_cert(d, "rootCert", &s->root_cert, err);
    }
    if (rc == 0)
        rc = get_key(d, "rootKey", &s->root_key, err);
    if (rc == 0)
        rc = get_cert(d, "intermediateCert", &s->intermediate_cert, err);
    if (rc == 0)
        rc = get_key(d, "intermediateKey", &s->intermediate_key, err);
    if (rc == 0)
        rc = get_cert(d, "marbleRootCert", &s->marble_root_cert, err);
    if (rc == 0 && s->state == CORE_STATE_ACCEPTING_MARBLES) {
        rc = get_b64(d, "manifest", true, &s->manifest_raw, &s->manifest_raw_len, err);
        if (rc == 0)
            rc = get_b64(d, "manifestSignature", true, &s->manifest_sig, &s->manifest_sig_len, err);
        uint8_t *rs = NULL;
        size_t rsl = 0;
        if (rc == 0 && (rc = get_b64(d, "rootSecret", true, &rs, &rsl, err)) == 0) {
            if (rsl != 32)
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "state document: rootSecret: expected 32 bytes");
            else
                memcpy(s->root_secret, rs, 32);
            cc_free_secret(rs, rsl);
        }
        /* optional (issue 6): absent until the first full manifest update */
        if (rc == 0 && (rc = get_b64(d, "previousRootSecret", false, &rs, &rsl, err)) == 0 && rs != NULL) {
            if (rsl != 32)
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "state document: previousRootSecret: expected 32 bytes");
            else
                memcpy(s->previous_root_secret, rs, 32);
            s->has_previous_root_secret = rc == 0;
            cc_free_secret(rs, rsl);
        }
        if (rc == 0 && (rc = manifest_parse(s->manifest_raw, s->manifest_raw_len, &s->manifest, err)) != 0)
            cairn_err_prefix(err, "state document: manifest");
        if (rc == 0) {
            manifest_hash_hex(s->manifest_raw, s->manifest_raw_len, s->manifest_hash);
            s->seal_disabled = strcmp(seal_mode_of(s->manifest), "Disabled") == 0;
            s->seal_unique = strcmp(seal_mode_of(s->manifest), "UniqueKey") == 0;
        }
        const json_t *sj = json_object_get(d, "secrets");
        if (rc == 0 && sj != NULL && (rc = manifest_secret_set_from_json(sj, &s->secrets, err)) != 0)
            cairn_err_prefix(err, "state document: secrets");
        sj = json_object_get(d, "previousSecrets");
        if (rc == 0 && sj != NULL && (rc = manifest_secret_set_from_json(sj, &s->previous_secrets, err)) != 0)
            cairn_err_prefix(err, "state document: previousSecrets");
        if (rc == 0 && (rc = gov_snap_loaded(s, json_object_get(d, "governance"), err)) != 0)
            cairn_err_prefix(err, "state document: governance");
    }
    json_t *acts = json_object_get(d, "activations"), *log = json_object_get(d, "updateLog");
    if (rc == 0 && (!json_is_object(acts) || !json_is_array(log)))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "state document: activations/updateLog missing");
    if (rc == 0) {
        const char *k;
        json_t *v;
        json_object_foreach(acts, k, v) {
            if (!json_is_integer(v) || json_integer_value(v) < 0) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "state document: activations.%s: expected a count", k);
                break;
            }
        }
    }
    json_t *mono = json_object_get(d, "monotonicCounters");
    if (rc == 0 && mono != NULL)
        rc = core_mono_validate(mono, err);
    uint8_t *ck = NULL;
    size_t ckl = 0;
    if (rc == 0 && (rc = get_b64(d, "counterKey", false, &ck, &ckl, err)) == 0 && ck != NULL && ckl != 32)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "state document: counterKey: expected 32 bytes");
    if (rc == 0 && out_has_ctr != NULL)
        *out_has_ctr = ck != NULL;
    if (rc == 0 && ck != NULL && out_ctr_key != NULL)
        memcpy(out_ctr_key, ck, 32);
    if (ck != NULL)
        cc_free_secret(ck, ckl);
    /* absent: 0 (the file store, and etcd states of earlier versions) */
    const json_t *gj = json_object_get(d, "generation");
    uint64_t gen = 0;
    if (rc == 0 && gj != NULL) {
        const char *gs = json_is_string(gj) ? json_string_value(gj) : "";
        size_t gl = json_is_string(gj) ? json_string_length(gj) : 0;
        bool ok = gl > 0 && gl <= 19 && (gl == 1 || gs[0] != '0');
        for (size_t i = 0; ok && i < gl; i++)
            ok = gs[i] >= '0' && gs[i] <= '9';
        if (ok)
            gen = strtoull(gs, NULL, 10);
        if (!ok || gen == 0 || gen > ((uint64_t)1 << 62))
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "state document: generation: expected a decimal string 1..2^62");
    }
    if (rc == 0 && out_gen != NULL)
        *out_gen = gen;
    if (rc == 0)
        rc = snap_finish(c, s, err);
    if (rc != 0) {
        core_snap_put(s);
        json_decref(d);
        return rc;
    }
    *out_acts = counters_bundle(acts, mono);
    *out_log = json_deep_copy(log);
    json_decref(d);
    *out_snap = s;
    return 0;
}

/* ---- persistence ---- */

static struct seal *seal_for(struct core *c, const struct core_snap *s, struct cairn_error *err)
{
    if (seal_with_key_file(c)) {
        if (c->seal_sim == NULL && seal_open(SEAL_SIM, c->cfg.seal_dir, NULL, &c->seal_sim, err) != 0)
            return NULL;
        return c->seal_sim;
    }
    if (s->seal_unique) {
        if (c->seal_unique == NULL &&
            seal_open(SEAL_UNIQUE, NULL, c->cfg.gramine_dir, &c->seal_unique, err) != 0)
            return NULL;
        return c->seal_unique;
    }
    if (c->seal_product == NULL && seal_open(SEAL_PRODUCT, NULL, c->cfg.gramine_dir, &c->seal_product, err) != 0)
        return NULL;
    return c->seal_product;
}

/* Writes `doc` for snapshot `s`. With `new_dek` the header becomes
 * `new_hdr` (NULL: none), else the current one is kept. Caller holds
 * c->persist. */
static int persist_doc(struct core *c, const struct core_snap *s, const uint8_t *new_dek, const char *new_hdr,
                       const char *doc, size_t doc_len, struct cairn_error *err)
{
    if (c->store == NULL)
        return 0;
    if (s->seal_disabled) {
        /* SealMode Disabled: memory only; a restart must not find an old state */
        store_del(c->store, "sealed_data", NULL);
        store_del(c->store, "sealed_key", NULL);
        store_del(c->store, "sealed_key.next", NULL);
        return 0;
    }
    struct seal *seal = seal_for(c, s, err);
    if (seal == NULL)
        return err != NULL && err->code ? err->code : CAIRN_ERR_IO;
    uint8_t dek[32];
    if (new_dek != NULL)
        memcpy(dek, new_dek, 32);
    else if (c->have_dek)
        memcpy(dek, c->dek, 32);
    else if (cc_random(dek, 32) != 0)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "no randomness");
    const char *hdr = new_dek != NULL ? new_hdr : c->rec_hdr;
    char *keep = NULL;
    if (new_dek != NULL && new_hdr != NULL && (keep = strdup(new_hdr)) == NULL) {
        cc_wipe(dek, sizeof(dek));
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    int rc = sealed_state_save(c->store, seal, dek, (const uint8_t *)hdr, hdr != NULL ? strlen(hdr) : 0,
                               (const uint8_t *)doc, doc_len, err);
    if (rc == 0) {
        memcpy(c->dek, dek, 32);
        c->have_dek = true;
        c->dek_seal_kind = seal_get_kind(seal);
        if (new_dek != NULL) {
            free(c->rec_hdr);
            c->rec_hdr = keep;
            keep = NULL;
        }
    }
    free(keep);
    cc_wipe(dek, sizeof(dek));
    return rc;
}

/* Serialises and persists the current state (caller holds c->persist). Under
 * the state lock only a snapshot reference and shallow copies of the counters
 * and the log (their members are never modified in place); serialising (key
 * encoding, secrets) happens outside it. *out_gen (may be NULL) receives the
 * generation written. */
static int persist_current(struct core *c, uint64_t *out_gen, struct cairn_error *err)
{
    pthread_mutex_lock(&c->lock);
    struct core_snap *s = c->snap;
    atomic_fetch_add(&s->refs, 1);
    uint64_t g = c->gen;
    json_t *acts = json_copy(c->activations), *log = json_copy(c->update_log), *mono = json_copy(c->mono);
    pthread_mutex_unlock(&c->lock);
    char *doc = NULL;
    size_t len = 0;
    int rc = (acts != NULL && log != NULL && mono != NULL) ? doc_build(c, s, acts, mono, log, NULL, 0, &doc, &len)
                                                           : CAIRN_ERR_NOMEM;
    json_decref(acts);
    json_decref(mono);
    json_decref(log);
    if (rc == 0)
        rc = persist_doc(c, s, NULL, NULL, doc, len, err);
    else
        cairn_errf(err, rc, "serialising the state failed");
    if (doc != NULL)
        cc_free_secret(doc, len);
    core_snap_put(s);
    if (rc == 0 && out_gen != NULL)
        *out_gen = g;
    return rc;
}

/* Persists the current state if nothing newer than generation `gen` was
 * written yet (activation counter commits). */
int core_persist_gen(struct core *c, uint64_t gen, struct cairn_error *err)
{
    int rc = 0;
    pthread_mutex_lock(&c->persist);
    uint64_t g = 0;
    if (c->persisted_gen < gen && (rc = persist_current(c, &g, err)) == 0)
        c->persisted_gen = g;
    pthread_mutex_unlock(&c->persist);
    return rc;
}

/* Installs `next` with new counters/log (NULL = keep), persisting first;
 * with `new_dek`, `new_hdr` is the recovery data that opens it. `new_acts`
 * is a counters bundle (counters_bundle) or a plain empty object (a new
 * state: no activation or monotonic counters). */
static int commit_ex(struct core *c, struct core_snap *expected, struct core_snap *next, const uint8_t *new_dek,
                     const char *new_hdr, json_t *new_acts, json_t *new_log, struct cairn_error *err)
{
    pthread_mutex_lock(&c->persist);
    pthread_mutex_lock(&c->lock);
    if (c->snap != expected) {
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&c->persist);
        return cairn_errf(err, CAIRN_ERR_CONFLICT, "the state changed concurrently, retry");
    }
    json_t *acts = NULL, *mono = NULL;
    if (new_acts != NULL)
        counters_unbundle(new_acts, &acts, &mono);
    else {
        acts = json_copy(c->activations);
        mono = json_copy(c->mono);
    }
    json_t *log = new_log != NULL ? json_incref(new_log) : json_copy(c->update_log);
    uint64_t g = ++c->gen;
    pthread_mutex_unlock(&c->lock);
    /* serialised outside the state lock; the persist lock keeps other writers out */
    char *doc = NULL;
    size_t len = 0;
    int rc;
    if (acts == NULL || log == NULL || mono == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    else if (c->ha != NULL)   /* issue 9: one etcd transaction against expected's revision */
        rc = ha_commit_state(c, expected, next, new_dek, new_hdr, new_acts != NULL, acts, mono, log,
                             json_integer_value(json_object_get(new_acts, "etcdRevision")), err);
    else if ((rc = doc_build(c, next, acts, mono, log, NULL, 0, &doc, &len)) != 0)
        rc = cairn_errf(err, rc, "serialising the state failed");
    else
        rc = persist_doc(c, next, new_dek, new_hdr, doc, len, err);
    json_decref(log);
    if (doc != NULL)
        cc_free_secret(doc, len);
    bool moved = false;
    enum core_state now = CORE_STATE_UNINITIALIZED;
    if (rc == 0) {
        pthread_mutex_lock(&c->lock);
        struct core_snap *old = c->snap;
        c->snap = next;
        if (new_acts != NULL) {
            json_decref(c->activations);
            c->activations = json_incref(acts);
            json_decref(c->mono);
            c->mono = json_incref(mono);
        }
        if (new_log != NULL) {
            json_decref(c->update_log);
            c->update_log = json_incref(new_log);
        }
        c->persisted_gen = g;
        moved = old->state != next->state;
        now = next->state;
        pthread_mutex_unlock(&c->lock);
        core_snap_put(old);
    }
    json_decref(acts);
    json_decref(mono);
    pthread_mutex_unlock(&c->persist);
    if (moved && c->cfg.on_state_change != NULL)
        c->cfg.on_state_change(c->cfg.on_state_arg, now);
    return rc;
}

static int commit(struct core *c, struct core_snap *expected, struct core_snap *next, const uint8_t *new_dek,
                  json_t *new_acts, json_t *new_log, struct cairn_error *err)
{
    return commit_ex(c, expected, next, new_dek, NULL, new_acts, new_log, err);
}

int core_commit_snapshot(struct core *c, struct core_snap *expected, struct core_snap *next, bool new_dek,
                         struct cairn_error *err)
{
    uint8_t dek[32];
    if (new_dek && cc_random(dek, 32) != 0)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "no randomness");
    int rc = commit(c, expected, next, new_dek ? dek : NULL, NULL, NULL, err);
    cc_wipe(dek, sizeof(dek));
    if (rc != 0)
        core_snap_put(next);
    return rc;
}

void core_admin_lock(struct core *c)
{
    pthread_mutex_lock(&c->admin);
}

void core_admin_unlock(struct core *c)
{
    pthread_mutex_unlock(&c->admin);
}

static json_t *log_line(const char *msg, json_t *fields)
{
    char ts[32];
    cc_time_format_rfc3339(time(NULL), ts);
    json_t *l = json_pack("{s:s, s:s}", "time", ts, "update", msg);
    if (l != NULL && fields != NULL)
        json_object_update(l, fields);
    char *s = l != NULL ? json_dumps(l, JSON_COMPACT) : NULL;
    json_decref(l);
    json_t *j = s != NULL ? json_string(s) : NULL;
    free(s);
    return j;
}

int core_log_update(struct core *c, const char *msg, json_t *fields)
{
    json_t *line = log_line(msg, fields);
    if (line == NULL)
        return CAIRN_ERR_NOMEM;
    pthread_mutex_lock(&c->lock);
    json_array_append_new(c->update_log, line);
    c->gen++;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int core_update_log(struct core *c, json_t **out)
{
    pthread_mutex_lock(&c->lock);
    json_t *copy = json_copy(c->update_log);
    pthread_mutex_unlock(&c->lock);
    if (copy == NULL)
        return CAIRN_ERR_NOMEM;
    *out = copy;
    return 0;
}

/* ---- creation ---- */

static int fresh_ca(struct core *c, struct core_snap *s, struct cairn_error *err)
{
    int rc = pki_root_new(c->cfg.dns_names, c->cfg.n_dns_names, &s->root_cert, &s->root_key, err);
    if (rc == 0)
        rc = pki_intermediate_new(s->root_cert, s->root_key, &s->intermediate_cert, &s->marble_root_cert,
                                  &s->intermediate_key, err);
    return rc;
}

/* After a state-3 load (issue 12): a state written before the recovery
 * data moved into sealed_data has an empty header and a separate
 * "recovery_data" file; gov_recovery_legacy picks the key set of the file
 * that belongs to the loaded manifest, and it is written into sealed_data
 * now, under the same DEK. Then the file is dropped. */
static int recovery_data_on_load(struct core *c, struct cairn_error *err)
{
    char *adopt = NULL;
    int rc = gov_recovery_legacy(c, c->snap->manifest, c->rec_hdr != NULL, &adopt);
    if (rc != 0 || adopt == NULL)
        return 0;   /* nothing to adopt (or reported loudly by gov_recovery_legacy) */
    pthread_mutex_lock(&c->persist);
    char *d = NULL;
    size_t dl = 0;
    rc = doc_build(c, c->snap, c->activations, c->mono, c->update_log, NULL, 0, &d, &dl);
    if (rc == 0)
        rc = persist_doc(c, c->snap, c->dek, adopt, d, dl, err);
    if (d != NULL)
        cc_free_secret(d, dl);
    pthread_mutex_unlock(&c->persist);
    free(adopt);
    if (rc != 0)
        return cairn_err_prefix(err, "writing the recovery data into sealed_data");
    LOG_INFO("recovery data moved from the recovery_data file into sealed_data");
    gov_recovery_legacy(c, c->snap->manifest, true, NULL);   /* drops the file */
    return 0;
}

/* seal_lookup_fn for sealed_state_load_ex: the seal of `kind` if this
 * Coordinator can have it (the key file, or Gramine's SGX keys). */
static struct seal *seal_of_kind(void *ctx, enum seal_kind kind, struct cairn_error *err)
{
    struct core *c = ctx;
    struct core_snap probe = {0};
    if (seal_with_key_file(c) != (kind == SEAL_SIM)) {
        cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "sealed with %s, which this Coordinator does not use",
                   seal_kind_name(kind));
        return NULL;
    }
    probe.seal_unique = kind == SEAL_UNIQUE;
    return seal_for(c, &probe, err);
}

/* The header of a loaded sealed_data as a string (NULL when empty). */
static int take_header(struct core *c, const struct sealed_load *l, struct cairn_error *err)
{
    free(c->rec_hdr);
    c->rec_hdr = NULL;
    if (l->hdr_len == 0)
        return 0;
    if (memchr(l->hdr, 0, l->hdr_len) != NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "sealed_data: the recovery data header holds a NUL byte");
    if ((c->rec_hdr = strndup((const char *)l->hdr, l->hdr_len)) == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    return 0;
}

/* HA key sharing: asks cfg.obtain_data_key for the key and opens the stored
 * sealed_data with it. The document (NUL-terminated; cc_free_secret) or
 * NULL, then the caller goes on to recovery. Sets c->dek on success. */
static uint8_t *join_with_peer_key(struct core *c, size_t *out_len)
{
    uint8_t key[32], *data = NULL, *doc = NULL, *out = NULL;
    size_t data_len = 0, doc_len = 0;
    struct cairn_error e = {0};
    if (c->cfg.obtain_data_key(c, c->cfg.obtain_ctx, NULL, 0, key, &e) != 0) {
        LOG_WARN("no replica gave the data key: %s", cairn_error_msg(&e));
        return NULL;
    }
    if (store_get(c->store, "sealed_data", &data, &data_len, NULL, &e) != 0 ||
        sealed_data_open(key, data, data_len, &doc, &doc_len, &e) != 0) {
        LOG_WARN("the data key from a replica does not open the state here: %s", cairn_error_msg(&e));
    } else if ((out = malloc(doc_len + 1)) != NULL) {
        memcpy(out, doc, doc_len);
        out[doc_len] = 0;
        *out_len = doc_len;
        memcpy(c->dek, key, 32);
        c->have_dek = true;
    }
    free(data);
    if (doc != NULL)
        cc_free_secret(doc, doc_len);
    cc_wipe(key, sizeof(key));
    return out;
}

static int load_or_create(struct core *c, struct cairn_error *err)
{
    enum sealed_load_result res = SEALED_LOAD_EMPTY;
    bool joined = false;
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    if (c->store != NULL) {
        /* the sealed key says which provider sealed it */
        struct core_snap probe = {0};
        uint8_t *kb = NULL;
        size_t kl = 0;
        if (!seal_with_key_file(c) && store_get(c->store, "sealed_key", &kb, &kl, NULL, NULL) == 0) {
            probe.seal_unique = sealed_key_kind(kb, kl) == SEAL_UNIQUE;
            free(kb);
        }
        struct cairn_error se = {0};
        struct seal *seal = seal_for(c, &probe, &se);
        if (seal == NULL && (store_version(c->store, "sealed_data") == 0 || seal_with_key_file(c))) {
            if (err != NULL)
                *err = se;
            if (c->tee == ATTEST_TDX || c->tee == ATTEST_SNP)
                return cairn_err_prefix(err, "no sealing key: sealing is not implemented for a %s Coordinator "
                                             "(Gramine SGX seals; --tee tpm, --simulation and --insecure-no-tee "
                                             "use a key file)",
                                        attest_type_name(c->tee));
            return cairn_err_prefix(err, "no sealing key (run in Gramine SGX, or with --simulation)");
        }
        /* issue 12/13: the sealed_key bound to the data on disk opens it;
         * a missing, foreign or rolled-back one means recovery (state 1) */
        struct sealed_load l;
        int rc = sealed_state_load_ex(c->store, seal_of_kind, c, &l, err);
        if (rc != 0)
            return cairn_err_prefix(err, "cannot load the sealed state in %s", c->cfg.seal_dir);
        res = l.result;
        if (res != SEALED_LOAD_EMPTY && (rc = take_header(c, &l, err)) != 0) {
            sealed_load_clear(&l);
            return rc;
        }
        if (res == SEALED_LOAD_OK) {
            memcpy(c->dek, l.dek, 32);
            c->have_dek = true;
            c->dek_seal_kind = l.kind;
            doc = l.doc;
            doc_len = l.doc_len;
            l.doc = NULL;
        } else if (res == SEALED_LOAD_UNSEAL_FAILED) {
            LOG_WARN("cannot unseal the existing state: %s", l.why);
        }
        sealed_load_clear(&l);
        if (res == SEALED_LOAD_UNSEAL_FAILED && c->cfg.obtain_data_key != NULL &&
            (doc = join_with_peer_key(c, &doc_len)) != NULL) {
            res = SEALED_LOAD_OK;
            joined = true;
        }
    }
    if (res == SEALED_LOAD_OK) {
        struct core_snap *s = NULL;
        json_t *acts = NULL, *log = NULL;
        int rc = doc_load(c, doc, doc_len, &s, &acts, &log, NULL, NULL, NULL, err);
        cc_free_secret(doc, doc_len);
        if (rc != 0)
            return rc;
        c->snap = s;
        counters_unbundle(acts, &c->activations, &c->mono);
        json_decref(acts);
        c->update_log = log;
        /* sealed under this machine's own seal by core_seal_joined(), after
         * the replica is serving: the write (fsyncs) is not on the way to
         * ready, and until it lands a restart simply asks a peer again */
        c->reseal_pending = joined;
        return recovery_data_on_load(c, err);
    }
    struct core_snap *s = snap_new();
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    s->state = res == SEALED_LOAD_UNSEAL_FAILED ? CORE_STATE_RECOVERY : CORE_STATE_ACCEPTING_MANIFEST;
    if (s->state == CORE_STATE_RECOVERY)
        gov_recovery_start(c);   /* the ephemeral recovery key, alongside the temporary CA */
    int rc = fresh_ca(c, s, err);
    if (rc == 0)
        rc = snap_finish(c, s, err);
    if (rc != 0) {
        core_snap_put(s);
        return rc;
    }
    c->snap = s;
    c->activations = json_object();
    c->mono = json_object();
    c->update_log = json_array();
    if (s->state == CORE_STATE_RECOVERY) {
        LOG_WARN("the sealed state cannot be unsealed on this machine: Coordinator in recovery mode (state 1); "
                 "recover the state or set a new manifest (which discards the old state)");
        /* issue 13 §4: MarbleRun's clients do not retry GET
         * /recover/public-key, so the key is ready before anything is served */
        gov_recovery_wait(c);
        return 0;
    }
    /* keep the root across restarts before a manifest is set, as MarbleRun */
    pthread_mutex_lock(&c->persist);
    char *d = NULL;
    size_t dl = 0;
    rc = doc_build(c, s, c->activations, c->mono, c->update_log, NULL, 0, &d, &dl);
    if (rc == 0)
        rc = persist_doc(c, s, NULL, NULL, d, dl, err);
    if (d != NULL)
        cc_free_secret(d, dl);
    pthread_mutex_unlock(&c->persist);
    return rc;
}

/* jansson holds secrets in its own buffers that no caller can wipe: the
 * state document's keys and root secret (its tree, json_dumps' internal
 * buffer, the parser's token buffer when the state is loaded), activation
 * answers with the marble's private key, uploaded secrets. So every block
 * jansson frees is wiped first. Installed once, over the functions in place
 * (which must be malloc-based: malloc_usable_size gives the block size). */
static json_free_t g_json_prev_free;
static pthread_once_t g_json_wipe_once = PTHREAD_ONCE_INIT;

static void json_wiping_free(void *p)
{
    if (p == NULL)
        return;
    cc_wipe(p, malloc_usable_size(p));
    g_json_prev_free(p);
}

static void json_wipe_install(void)
{
    json_malloc_t m = NULL;
    json_get_alloc_funcs(&m, &g_json_prev_free);
    if (m == malloc && g_json_prev_free != NULL)
        json_set_alloc_funcs(m, json_wiping_free);
}

int core_new(const struct core_config *cfg, struct core **out, struct cairn_error *err)
{
    pthread_once(&g_json_wipe_once, json_wipe_install);
    struct core *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    c->cfg = *cfg;
    c->cfg.trust_dir = NULL;   /* borrowed only here: loaded into c->trust below */
    /* no TEE of its own: quote and sealing as in simulation; activate.c
     * still refuses "sim" marble evidence (insecure_no_tee) */
    if (c->cfg.insecure_no_tee)
        c->cfg.simulation = true;
    if (c->cfg.events_max == 0)
        c->cfg.events_max = 256;
    if (c->cfg.leaf_key_pool_idle_ms == 0)
        c->cfg.leaf_key_pool_idle_ms = 50;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->admin, NULL);
    pthread_mutex_init(&c->persist, NULL);
    pthread_mutex_init(&c->mlock, NULL);
    c->events = json_array();
    c->tee = ATTEST_SIM;
    int rc = 0;
    if (!c->cfg.simulation) {
        /* an explicit TEE is taken as given: the first attest_issue (the
         * startup evidence in load_or_create) proves it works */
        c->tee = cfg->own_tee != ATTEST_SIM ? cfg->own_tee : attest_probe(&c->cfg.issuer);
        if (c->tee == ATTEST_SIM)
            rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                            "no TEE found (no Gramine /dev/attestation, configfs-tsm or TPM): run the Coordinator "
                            "in a TEE, or with --simulation (OE_SIMULATION=1) for development");
        else
            LOG_INFO("the Coordinator's own evidence: %s (%s)", attest_type_name(c->tee),
                     cfg->own_tee != ATTEST_SIM ? "configured" : "probed");
        if (c->tee == ATTEST_TPM)
            LOG_WARN("*** TPM-backed Coordinator: its quotes come from the TPM, but TPM sealing is not implemented: "
                     "the state is sealed with a key file in %s, readable by anyone who can read that directory. "
                     "Protect the directory (or use SealMode Disabled). ***",
                     cfg->memory_only ? "(memory only)" : cfg->seal_dir);
    }
    if (rc == 0)
        rc = core_trust_load(c, cfg->trust_dir, err);
    if (rc == 0 && cfg->etcd_endpoints != NULL)
        rc = ha_open(c, err);   /* issue 9: the replicated state on etcd */
    else if (rc == 0 && !cfg->memory_only)
        rc = store_file_open(cfg->seal_dir, &c->store, err);
    if (rc == 0 && c->ha == NULL)
        rc = load_or_create(c, err);
    if (rc == 0 && cfg->leaf_key_pool > 0 &&
        (c->pool = keypool_new(cfg->leaf_key_pool, c->cfg.leaf_key_pool_idle_ms)) == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "cannot start the leaf key pool");
    if (rc == 0 && cfg->leaf_key_pool == 0)
        c->pool = keypool_new(0, 0);
    if (rc == 0 && c->pool == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc != 0) {
        core_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void core_free(struct core *c)
{
    if (c == NULL)
        return;
    ha_close(c);   /* first: its threads use the snapshot and counters */
    keypool_free(c->pool);
    core_snap_put(c->snap);
    json_decref(c->activations);
    json_decref(c->mono);
    json_decref(c->update_log);
    json_decref(c->events);
    seal_free(c->seal_sim);
    seal_free(c->seal_product);
    seal_free(c->seal_unique);
    gov_recovery_free(c->recovery);
    core_trust_free(c);
    store_free(c->store);
    cc_wipe(c->dek, sizeof(c->dek));
    free(c->rec_hdr);
    core_metrics_free(c);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->admin);
    pthread_mutex_destroy(&c->persist);
    pthread_mutex_destroy(&c->mlock);
    free(c);
}

/* ---- manifest set ---- */

static void warn_cb(void *ctx, const char *msg)
{
    (void)ctx;
    LOG_WARN("manifest: %s", msg);
}

/* An ignored field is most often a typo that would otherwise go unnoticed
 * (`cairn manifest check` reports the same list before the upload). */
static void unknown_cb(void *ctx, const char *path, const char *suggestion)
{
    (void)ctx;
    if (suggestion != NULL)
        LOG_WARN("manifest: unknown field %s ignored (did you mean %s?)", path, suggestion);
    else
        LOG_WARN("manifest: unknown field %s ignored", path);
}

/* RecoverySecrets for the new DEK (inventory §5): none, one key, XOR or
 * Shamir shares; see recovery.c (issue 6). *meta: the public recovery data
 * written beside the sealed state after the commit (NULL when none). */
static int recovery_secrets(const struct manifest *m, uint8_t dek[32], json_t **out, json_t **meta,
                            struct cairn_error *err)
{
    return gov_recovery_secrets(m, dek, out, meta, err);
}

int core_manifest_set(struct core *c, const uint8_t *raw, size_t len, json_t **out_recovery,
                      struct cairn_error *err)
{
    core_admin_lock(c);
    struct core_snap *cur = core_snap_get(c);
    struct core_snap *next = NULL;
    json_t *recovery = NULL, *acts = NULL, *log = NULL, *rmeta = NULL;
    uint8_t dek[32];
    int rc = 0;
    if (cur->state != CORE_STATE_RECOVERY && cur->state != CORE_STATE_ACCEPTING_MANIFEST) {
        rc = cairn_errf(err, CAIRN_ERR_STATE, "server is not in expected state");
        goto out;
    }
    next = snap_new();
    if (next == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    next->state = CORE_STATE_ACCEPTING_MARBLES;
    if ((rc = manifest_parse_ex(raw, len, unknown_cb, NULL, &next->manifest, err)) != 0 ||
        (rc = manifest_check_ex(next->manifest, warn_cb, NULL, err)) != 0) {
        if (rc != CAIRN_ERR_NOMEM)
            rc = CAIRN_ERR_INVALID;
        goto out;
    }
    next->manifest_raw = malloc(len + 1);
    if (next->manifest_raw == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(next->manifest_raw, raw, len);
    next->manifest_raw[len] = 0;
    next->manifest_raw_len = len;
    manifest_hash_hex(raw, len, next->manifest_hash);
    next->seal_disabled = strcmp(seal_mode_of(next->manifest), "Disabled") == 0;
    next->seal_unique = strcmp(seal_mode_of(next->manifest), "UniqueKey") == 0;
    if (cur->state == CORE_STATE_RECOVERY) {
        /* a new manifest in recovery discards the old state: new root */
        if ((rc = fresh_ca(c, next, err)) != 0)
            goto out;
    } else {
        X509_up_ref(cur->root_cert);
        next->root_cert = cur->root_cert;
        EVP_PKEY_up_ref(cur->root_key);
        next->root_key = cur->root_key;
        X509_up_ref(cur->intermediate_cert);
        next->intermediate_cert = cur->intermediate_cert;
        EVP_PKEY_up_ref(cur->intermediate_key);
        next->intermediate_key = cur->intermediate_key;
        X509_up_ref(cur->marble_root_cert);
        next->marble_root_cert = cur->marble_root_cert;
    }
    if (cc_random(next->root_secret, 32) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "no randomness");
        goto out;
    }
    /* The rest of MarbleRun's SetManifest validation runs with these real
     * shared secrets and CA, so nothing expensive (cert-rsa keys, a throwaway
     * CA) is generated twice. */
    if ((rc = manifest_generate_secrets(next->manifest, MANIFEST_SECRETS_SHARED, next->root_secret, NULL, NULL,
                                        next->marble_root_cert, next->intermediate_key, 0, &next->secrets, err)) != 0 ||
        (rc = manifest_validate_with(next->manifest, next->secrets, next->marble_root_cert, next->intermediate_key,
                                     err)) != 0) {
        if (rc != CAIRN_ERR_NOMEM)
            rc = CAIRN_ERR_INVALID;
        goto out;
    }
    if ((rc = recovery_secrets(next->manifest, dek, &recovery, &rmeta, err)) != 0)
        goto out;
    if (cc_sign(next->root_key, "SHA256", raw, len, &next->manifest_sig, &next->manifest_sig_len) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "signing the manifest failed");
        goto out;
    }
    if ((rc = snap_finish(c, next, err)) != 0)
        goto out;
    acts = json_object();
    log = json_array();
    json_t *line = log_line("Initial manifest set", NULL);
    if (acts == NULL || log == NULL || line == NULL || json_array_append_new(log, line) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* issue 12: the recovery data travels in the same sealed_data write */
    rc = core_commit_rekey(c, cur, next, dek, rmeta, acts, log, err);
    next = NULL;   /* installed, or consumed on failure */
    if (rc == 0) {
        *out_recovery = recovery;
        recovery = NULL;
        LOG_INFO("manifest set (fingerprint %s); accepting marbles", c->snap->manifest_hash);
    }
out:
    cc_wipe(dek, sizeof(dek));
    json_decref(acts);
    json_decref(log);
    json_decref(recovery);
    json_decref(rmeta);
    core_snap_put(next);
    core_snap_put(cur);
    core_admin_unlock(c);
    return rc;
}

/* ---- quote ---- */

int core_quote(struct core *c, const uint8_t *nonce, size_t nonce_len, char **out_cert, json_t **out_quote,
               struct cairn_error *err)
{
    struct core_snap *s = core_snap_get(c);
    size_t a = strlen(s->intermediate_pem), b = strlen(s->root_pem);
    char *chain = malloc(a + b + 1);
    int rc = 0;
    json_t *q = NULL;
    if (chain == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    } else {
        memcpy(chain, s->intermediate_pem, a);
        memcpy(chain + a, s->root_pem, b + 1);
        if (nonce != NULL && nonce_len > 0)
            rc = core_own_evidence(c, s->root_cert, nonce, nonce_len, &q, err);
        else
            q = json_deep_copy(s->quote_json);
        if (rc == 0 && q == NULL)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    core_snap_put(s);
    if (rc != 0) {
        free(chain);
        return rc;
    }
    *out_cert = chain;
    *out_quote = q;
    return 0;
}

/* ---- issue 6 hooks (declared in core_internal.h) ---- */

struct core_snap *core_snap_alloc(void)
{
    return snap_new();
}

int core_snap_finish(struct core *c, struct core_snap *s, struct cairn_error *err)
{
    return snap_finish(c, s, err);
}

json_t *core_log_line(const char *msg, json_t *fields)
{
    return log_line(msg, fields);
}

int core_commit_gov(struct core *c, struct core_snap *expected, struct core_snap *next, const uint8_t *new_dek,
                    json_t *new_log, struct cairn_error *err)
{
    int rc = commit(c, expected, next, new_dek, NULL, new_log, err);
    if (rc != 0)
        core_snap_put(next);
    return rc;
}

int core_commit_all(struct core *c, struct core_snap *expected, struct core_snap *next, const uint8_t *new_dek,
                    json_t *acts, json_t *log, struct cairn_error *err)
{
    int rc = commit(c, expected, next, new_dek, acts, log, err);
    if (rc != 0)
        core_snap_put(next);
    return rc;
}

int core_commit_rekey(struct core *c, struct core_snap *expected, struct core_snap *next, const uint8_t dek[32],
                      const json_t *recovery_meta, json_t *acts, json_t *log, struct cairn_error *err)
{
    char *hdr = NULL;
    if (recovery_meta != NULL && (hdr = json_dumps(recovery_meta, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
        core_snap_put(next);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    int rc = commit_ex(c, expected, next, dek, hdr, acts, log, err);
    free(hdr);
    if (rc != 0)
        core_snap_put(next);
    else
        gov_recovery_legacy(c, NULL, true, NULL);   /* a recovery_data file of older versions is stale now */
    return rc;
}

char *core_recovery_header(struct core *c)
{
    pthread_mutex_lock(&c->persist);
    char *h = c->rec_hdr != NULL ? strdup(c->rec_hdr) : NULL;
    pthread_mutex_unlock(&c->persist);
    return h;
}

int core_load_with_dek(struct core *c, const uint8_t dek[32], struct core_snap **out_snap, json_t **out_acts,
                       json_t **out_log, struct cairn_error *err)
{
    if (c->store == NULL && c->ha == NULL)
        return cairn_errf(err, CAIRN_ERR_STATE, "no sealed state (memory only)");
    uint8_t *data = NULL, *doc = NULL;
    size_t data_len = 0, doc_len = 0;
    int rc = c->ha != NULL ? ha_read_sealed(c, &data, &data_len, err)
                           : store_get(c->store, "sealed_data", &data, &data_len, NULL, err);
    if (rc != 0)
        return rc;
    rc = sealed_data_open(dek, data, data_len, &doc, &doc_len, err);
    free(data);
    if (rc != 0)
        return rc;
    uint8_t ctr_key[32];
    bool has_ctr = false;
    rc = doc_load(c, doc, doc_len, out_snap, out_acts, out_log, ctr_key, &has_ctr, NULL, err);
    cc_free_secret(doc, doc_len);
    if (rc == 0 && c->ha != NULL && has_ctr) {
        /* on etcd the document holds no counters: they are keys of their
         * own under its counterKey; the recovered state carries them on */
        int64_t rev = 0;
        json_t *a = json_object_get(*out_acts, "activations"), *m = json_object_get(*out_acts, "monotonic");
        rc = ha_recovered_counters(c, ctr_key, a, m, &rev, err);
        if (rc == 0 && json_object_set_new(*out_acts, "etcdRevision", json_integer(rev)) != 0)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        if (rc != 0) {
            core_snap_put(*out_snap);
            json_decref(*out_acts);
            json_decref(*out_log);
            *out_snap = NULL;
            *out_acts = *out_log = NULL;
        }
    }
    cc_wipe(ctr_key, sizeof(ctr_key));
    return rc;
}

/* ---- key sharing between replicas (src/keyshare) ---- */

enum attest_type core_own_tee(struct core *c)
{
    return c->cfg.simulation ? ATTEST_SIM : c->tee;
}

int core_issue_evidence(struct core *c, const uint8_t rd[64], json_t *out, struct cairn_error *err)
{
    enum attest_type t = core_own_tee(c);
    struct attest_issued iss;
    if (t == ATTEST_TPM)
        pthread_mutex_lock(&own_tpm_lock);
    int rc = attest_issue(t, rd, &c->cfg.issuer, &iss, err);
    if (t == ATTEST_TPM)
        pthread_mutex_unlock(&own_tpm_lock);
    if (rc != 0)
        return cairn_err_prefix(err, "issuing the Coordinator's %s evidence", attest_type_name(t));
    rc = attest_evidence_to_json(&iss, out);
    attest_issued_free(&iss);
    return rc != 0 ? cairn_errf(err, rc, "encoding the Coordinator's evidence") : 0;
}

int core_verify_peer_evidence(struct core *c, const struct attest_evidence *ev, const uint8_t rd[32],
                              struct attest_claims *out, struct cairn_error *err)
{
    if (ev->type == ATTEST_SIM && core_own_tee(c) != ATTEST_SIM)
        return cairn_errf(err, CAIRN_ERR_POLICY, "simulation evidence is not accepted by a Coordinator in a TEE");
    struct attest_trust trust;
    core_trust_get(c, ev->type, &trust);
    int rc = attest_verify(ev, &trust, rd, 32, out, err);
    if (rc == 0 && (rc = core_trust_check_claims(c, out, err)) != 0)
        attest_claims_free(out);
    core_metrics_evidence(c, ev->type, rc == 0);
    return rc;
}

int core_data_key(struct core *c, uint8_t key[32], bool *unique)
{
    return core_data_key_ref(c, NULL, 0, key, unique);
}

int core_data_key_ref(struct core *c, const uint8_t *ref, size_t ref_len, uint8_t key[32], bool *unique)
{
    int rc = CAIRN_ERR_NOT_FOUND;
    pthread_mutex_lock(&c->persist);
    pthread_mutex_lock(&c->lock);
    /* a named key must be the one in use (etcd: its id); the file store
     * has one key and no names */
    bool named_ok = ref_len == 0 || (c->ha != NULL && ha_current_kid_is(c, ref, ref_len));
    if (named_ok && c->have_dek && c->snap->state != CORE_STATE_RECOVERY) {
        memcpy(key, c->dek, 32);
        if (unique != NULL)
            *unique = c->snap->seal_unique;
        rc = 0;
    }
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->persist);
    return rc;
}

int core_seal_joined(struct core *c, struct cairn_error *err)
{
    pthread_mutex_lock(&c->persist);
    int rc = 0;
    if (c->ha != NULL)   /* etcd: the data key from a peer, sealed for this replica */
        rc = ha_store_pending_key(c);
    if (c->reseal_pending) {
        rc = persist_current(c, NULL, err);
        if (rc == 0) {
            c->reseal_pending = false;
            LOG_INFO("the state (opened with the data key from a replica) is now sealed with this machine's seal");
        }
    }
    pthread_mutex_unlock(&c->persist);
    return rc;
}

/* ---- issue 9 hooks (core_internal.h) ---- */

int core_doc_build(struct core *c, const struct core_snap *s, const json_t *acts, const json_t *mono,
                   const json_t *log, const uint8_t *ctr_key, uint64_t generation, char **out, size_t *out_len)
{
    return doc_build(c, s, acts, mono, log, ctr_key, generation, out, out_len);
}

int core_doc_load(struct core *c, const uint8_t *doc, size_t len, struct core_snap **out_snap, json_t **out_acts,
                  json_t **out_log, uint8_t *out_ctr_key, bool *out_has_ctr, uint64_t *out_gen,
                  struct cairn_error *err)
{
    return doc_load(c, doc, len, out_snap, out_acts, out_log, out_ctr_key, out_has_ctr, out_gen, err);
}

int core_fresh_snap(struct core *c, bool recovery, struct core_snap **out, struct cairn_error *err)
{
    struct core_snap *s = snap_new();
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    s->state = recovery ? CORE_STATE_RECOVERY : CORE_STATE_ACCEPTING_MANIFEST;
    int rc = fresh_ca(c, s, err);
    if (rc == 0)
        rc = snap_finish(c, s, err);
    if (rc != 0) {
        core_snap_put(s);
        return rc;
    }
    *out = s;
    return 0;
}

json_t *core_counters_bundle(const json_t *acts, const json_t *mono)
{
    return counters_bundle(acts, mono);
}

void core_counters_unbundle(json_t *b, json_t **acts, json_t **mono)
{
    counters_unbundle(b, acts, mono);
}
