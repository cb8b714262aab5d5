/* libcairn client handle and the REST endpoints (inventory §2.2, §2.3): v2
 * first, v1 when the Coordinator answers 405. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>

#include "cairn/cairn.h"
#include "attest/trust_store.h"
#include "client/client_internal.h"
#include "common/encoding.h"

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static int g_init_rc;

static void global_init_once(void)
{
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : CAIRN_ERR_INTERNAL;
}

int cairn_global_init(void)
{
    pthread_once(&g_init_once, global_init_once);
    return g_init_rc;
}

const char *cairn_version(void)
{
    return CAIRN_VERSION;
}

void cairn_free(void *p)
{
    free(p);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int cairn_client_new(const struct cairn_client_config *cfg, struct cairn_client **out)
{
    if (cfg == NULL || out == NULL)
        return CAIRN_ERR_INVALID;
    if (cairn_global_init() != 0)
        return CAIRN_ERR_INTERNAL;
    if ((cfg->client_cert_pem == NULL) != (cfg->client_key_pem == NULL))
        return CAIRN_ERR_INVALID;
    struct cairn_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = client_addr_list(cfg->address, 4433, &c->urls, &c->n_urls, NULL);
    if (rc != 0) {
        free(c);
        return rc;
    }
    c->base_url = c->urls[0];
    c->address = c->base_url + 8;
    c->cert_pem = dup_or_null(cfg->client_cert_pem);
    c->key_pem = dup_or_null(cfg->client_key_pem);
    c->key_pem_len = cfg->client_key_pem ? strlen(cfg->client_key_pem) : 0;
    c->insecure = cfg->insecure != 0;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS;
    if (c->address == NULL || (cfg->client_cert_pem && !c->cert_pem) || (cfg->client_key_pem && !c->key_pem)) {
        cairn_client_free(c);
        return CAIRN_ERR_NOMEM;
    }
    if (cfg->root_ca_pem != NULL && (rc = cairn_client_set_root_ca(c, cfg->root_ca_pem)) != 0) {
        cairn_client_free(c);
        return rc;
    }
    c->insecure = cfg->insecure != 0;
    *out = c;
    return 0;
}

void cairn_client_free(struct cairn_client *c)
{
    if (c == NULL)
        return;
    client_addr_list_free(c->urls, c->n_urls);
    free(c->root_pem);
    free(c->root_pin);
    free(c->cert_pem);
    if (c->key_pem != NULL) {
        OPENSSL_cleanse(c->key_pem, c->key_pem_len);
        free(c->key_pem);
    }
    X509_free(c->id_cert);
    EVP_PKEY_free(c->id_key);
    free(c);
}

int client_set_identity(struct cairn_client *c, X509 *cert, EVP_PKEY *key)
{
    if (c == NULL || cert == NULL || key == NULL || !X509_up_ref(cert))
        return CAIRN_ERR_INVALID;
    if (!EVP_PKEY_up_ref(key)) {
        X509_free(cert);
        return CAIRN_ERR_INVALID;
    }
    X509_free(c->id_cert);
    EVP_PKEY_free(c->id_key);
    c->id_cert = cert;
    c->id_key = key;
    free(c->cert_pem);
    c->cert_pem = NULL;
    if (c->key_pem != NULL) {
        OPENSSL_cleanse(c->key_pem, c->key_pem_len);
        free(c->key_pem);
        c->key_pem = NULL;
    }
    return 0;
}

const char *cairn_client_last_error(const struct cairn_client *c)
{
    return c ? c->err.msg : "";
}

int cairn_client_last_http_status(const struct cairn_client *c)
{
    return c ? (int)c->last_status : 0;
}

int cairn_client_set_root_ca(struct cairn_client *c, const char *root_pem)
{
    if (c == NULL || root_pem == NULL || strstr(root_pem, "-----BEGIN CERTIFICATE-----") == NULL)
        return CAIRN_ERR_INVALID;
    char *pin = NULL;
    int rc = client_pubkey_pin(root_pem, &pin);
    if (rc != 0)
        return rc;
    char *p = strdup(root_pem);
    if (p == NULL) {
        free(pin);
        return CAIRN_ERR_NOMEM;
    }
    free(c->root_pem);
    free(c->root_pin);
    c->root_pem = p;
    c->root_pin = pin;
    c->insecure = false;
    return 0;
}

int cairn_client_set_failover(struct cairn_client *c, const struct cairn_failover *fo)
{
    if (c == NULL)
        return CAIRN_ERR_INVALID;
    memset(&c->fo, 0, sizeof(c->fo));
    if (fo != NULL)
        c->fo = *fo;
    return 0;
}

const char *cairn_client_current_address(const struct cairn_client *c)
{
    return c != NULL ? c->address : "";
}

/* GET and HEAD change nothing: they may go to the next replica after the
 * request reached one; anything else may have been applied there. */
static bool method_idempotent(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* One HTTP exchange with the first replica of the list that can be reached,
 * starting at the one that answered last (include/cairn/client.h). A
 * state-changing request that reached a replica but got no answer is not
 * resent to the next one: its outcome there is unknown. */
static int call_failover(struct cairn_client *c, const char *method, const char *path, const void *body,
                         size_t len, struct client_tls *tls, struct client_http_resp *r)
{
    struct cairn_failover fo;
    client_failover_effective(&c->fo, c->n_urls, &fo);
    tls->connect_timeout_ms = fo.connect_timeout_ms;
    long backoff = fo.backoff_ms;
    int rc = CAIRN_ERR_NETWORK;
    for (int round = 0; round < fo.rounds; round++) {
        if (round > 0) {
            client_progress(&fo, "no Coordinator of the %zu answered; pass %d of %d in %ld ms", c->n_urls,
                            round + 1, fo.rounds, backoff);
            client_sleep_ms(backoff);
            backoff = backoff > 30000 ? 60000 : backoff * 2;
        }
        for (size_t k = 0; k < c->n_urls; k++) {
            size_t i = (c->cur + k) % c->n_urls;
            cairn_error_clear(&c->err);
            r->request_sent = false;
            rc = client_http(c->urls[i], method, path, body, len, "application/json", tls, c->timeout_ms, r,
                             &c->err);
            bool unknown = rc != 0 && client_failover_worthy(rc) && r->request_sent && !method_idempotent(method);
            if (unknown && (c->n_urls > 1 || fo.rounds > 1))
                cairn_err_prefix(&c->err,
                                 "%s %s reached %s but no answer came back; not sent to another replica, since it "
                                 "may have been applied there (check the state before retrying)",
                                 method, path, c->urls[i] + 8);
            if (rc == 0 || !client_failover_worthy(rc) || unknown) {
                if (i != c->cur && !unknown)
                    client_progress(&fo, "%s answered", c->urls[i] + 8);
                c->cur = i;
                c->base_url = c->urls[i];
                c->address = c->base_url + 8;
                return rc;
            }
            if (k + 1 < c->n_urls)
                client_progress(&fo, "%s; trying %s", cairn_error_msg(&c->err),
                                c->urls[(i + 1) % c->n_urls] + 8);
            else if (c->n_urls > 1 || round + 1 < fo.rounds)
                client_progress(&fo, "%s", cairn_error_msg(&c->err));
        }
    }
    if (c->n_urls > 1 || fo.rounds > 1)
        cairn_err_prefix(&c->err, "none of %zu Coordinator address%s answered in %d pass%s (last: %s)", c->n_urls,
                         c->n_urls == 1 ? "" : "es", fo.rounds, fo.rounds == 1 ? "" : "es",
                         c->urls[(c->cur + c->n_urls - 1) % c->n_urls] + 8);
    return rc;
}

/* One request; decodes the JSend envelope. `trusted_only` refuses to talk
 * before a root is pinned (unless the client is insecure). */
static int call(struct cairn_client *c, const char *method, const char *path, const void *body, size_t len,
                json_t **data)
{
    cairn_error_clear(&c->err);
    c->last_status = 0;
    if (!c->insecure && c->root_pem == NULL)
        return cairn_errf(&c->err, CAIRN_ERR_STATE,
                          "the Coordinator at %s is not verified yet: verify it first or use insecure mode",
                          c->address);
    struct client_tls tls = {.root_pem = c->root_pem, .root_pin = c->root_pin, .insecure = c->insecure,
                             .cert_pem = c->cert_pem, .key_pem = c->key_pem, .id_cert = c->id_cert,
                             .id_key = c->id_key};
    struct client_http_resp r = {0};
    int rc = call_failover(c, method, path, body, len, &tls, &r);
    if (rc != 0)
        return rc;
    c->last_status = r.status;
    json_t *d = NULL;
    rc = client_jsend_parse(r.status, r.body, r.len, &d, &c->err);
    client_http_resp_free(&r);
    if (rc != 0) {
        cairn_err_prefix(&c->err, "%s %s", method, path);
        return rc;
    }
    if (data)
        *data = d;
    else
        json_decref(d);
    return 0;
}

/* A v2 call that falls back to v1 on 405 ("not allowed": an older
 * Coordinator). *used_v1 tells the caller which answer shape it got. */
static int call_v2_v1(struct cairn_client *c, const char *method, const char *v2, const void *b2, size_t l2,
                      const char *v1, const void *b1, size_t l1, json_t **data, bool *used_v1)
{
    *used_v1 = false;
    int rc = call(c, method, v2, b2, l2, data);
    if (rc == CAIRN_ERR_UNSUPPORTED && c->last_status == 405 && v1 != NULL) {
        *used_v1 = true;
        rc = call(c, method, v1, b1, l1, data);
    }
    return rc;
}

static int proto_err(struct cairn_client *c, const char *what)
{
    return cairn_errf(&c->err, CAIRN_ERR_PROTOCOL, "Coordinator answer: %s", what);
}

static int b64_member(const json_t *o, const char *key, uint8_t **out, size_t *out_len, bool allow_null)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        if (!allow_null)
            return CAIRN_ERR_PROTOCOL;
        *out = NULL;
        *out_len = 0;
        return 0;
    }
    if (!json_is_string(v))
        return CAIRN_ERR_PROTOCOL;
    return cairn_base64_decode(json_string_value(v), json_string_length(v), out, out_len) == 0
               ? 0
               : CAIRN_ERR_PROTOCOL;
}

/* {"manifest": base64(bytes)} as a JSON text (malloc'd). */
static char *manifest_body(const uint8_t *manifest, size_t size)
{
    char *b64 = cairn_base64_encode(manifest, size);
    if (b64 == NULL)
        return NULL;
    json_t *o = json_pack("{s:s}", "manifest", b64);
    free(b64);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* Copies a JSON value as compact text (NULL for json null when null_ok). */
static int dump_json(struct cairn_client *c, const json_t *v, char **out)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL)
        return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    *out = s;
    return 0;
}

/* The code and message of a status answer (v2 data or v1 body). */
static int status_code_of(struct cairn_client *c, const json_t *d, bool v1, int *out_code, char **out_message)
{
    const json_t *code = json_object_get(d, v1 ? "StatusCode" : "code");
    const json_t *msg = json_object_get(d, v1 ? "StatusMessage" : "message");
    if (!json_is_integer(code) || !json_is_string(msg))
        return proto_err(c, "status lacks code/message");
    char *m = client_sanitize(json_string_value(msg), json_string_length(msg), 1024);
    if (m == NULL)
        return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    *out_code = (int)json_integer_value(code);
    *out_message = m;
    return 0;
}

/* A bounded, sanitized copy of the string member `key` of `o`, "" when absent
 * or not a string; NULL only when out of memory. */
static char *replica_field(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return client_sanitize("", 0, 1);
    return client_sanitize(json_string_value(v), json_string_length(v), 256);
}

void cairn_status_replication_free(struct cairn_replication *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_replicas; i++) {
        free(r->replicas[i].id);
        free(r->replicas[i].client_addr);
        free(r->replicas[i].mesh_addr);
    }
    free(r->replicas);
    free(r->etcd_error);
    memset(r, 0, sizeof(*r));
}

/* The Coordinator bounds what it lists (its registry), but this is the
 * client's own bound on a hostile or broken answer. */
#define CAIRN_MAX_REPLICAS_LISTED 1024

/* The replication part of a status answer into *out (zeroed first; on an
 * error it is left freed and zeroed). */
static int status_replication_of(struct cairn_client *c, const json_t *d, bool v1, struct cairn_replication *out)
{
    memset(out, 0, sizeof(*out));
    const json_t *r = v1 ? NULL : json_object_get(d, "replication");
    if (r == NULL || json_is_null(r))
        return 0;
    const json_t *list = json_object_get(r, "replicas");
    if (!json_is_object(r) || !json_is_array(list) || json_array_size(list) > CAIRN_MAX_REPLICAS_LISTED)
        return proto_err(c, "status: malformed replication object");
    out->replicated = 1;
    out->etcd_available = json_is_true(json_object_get(r, "etcdAvailable"));
    const json_t *rev = json_object_get(r, "stateRevision");
    out->state_revision = json_is_integer(rev) ? (long long)json_integer_value(rev) : 0;
    const json_t *why = json_object_get(r, "etcdError");
    size_t n = json_array_size(list);
    if (json_is_string(why))
        out->etcd_error = client_sanitize(json_string_value(why), json_string_length(why), 512);
    if (n > 0)
        out->replicas = calloc(n, sizeof(*out->replicas));
    if ((json_is_string(why) && out->etcd_error == NULL) || (n > 0 && out->replicas == NULL)) {
        cairn_status_replication_free(out);
        return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(list, i);
        struct cairn_replica *rp = &out->replicas[i];
        out->n_replicas = i + 1;
        rp->id = replica_field(o, "id");
        rp->client_addr = replica_field(o, "client");
        rp->mesh_addr = replica_field(o, "mesh");
        rp->self = json_is_true(json_object_get(o, "self"));
        if (rp->id == NULL || rp->client_addr == NULL || rp->mesh_addr == NULL) {
            cairn_status_replication_free(out);
            return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
        }
    }
    return 0;
}

/* One GET /api/v2/status (v1: /status). */
static int status_fetch(struct cairn_client *c, json_t **out_d, bool *out_v1)
{
    return call_v2_v1(c, "GET", "/api/v2/status", NULL, 0, "/status", NULL, 0, out_d, out_v1);
}

/* cairn_status_get, and with out_repl also the replication part of the same
 * answer; the outputs are written only on success. */
static int status_read(struct cairn_client *c, int *out_code, char **out_message, struct cairn_replication *out_repl)
{
    json_t *d = NULL;
    bool v1;
    int rc = status_fetch(c, &d, &v1);
    if (rc != 0)
        return rc;
    int code = 0;
    char *m = NULL;
    struct cairn_replication r;
    rc = status_code_of(c, d, v1, &code, &m);
    if (rc == 0 && out_repl != NULL && (rc = status_replication_of(c, d, v1, &r)) != 0)
        free(m);
    json_decref(d);
    if (rc != 0)
        return rc;
    *out_code = code;
    if (out_message)
        *out_message = m;
    else
        free(m);
    if (out_repl != NULL)
        *out_repl = r;
    return 0;
}

int cairn_status_get(struct cairn_client *c, int *out_code, char **out_message)
{
    return status_read(c, out_code, out_message, NULL);
}

int cairn_status_get_all(struct cairn_client *c, int *out_code, char **out_message, struct cairn_replication *out)
{
    return status_read(c, out_code, out_message, out);
}

/* Only the replication part: a v2 answer without code/message still yields it. */
int cairn_status_replication(struct cairn_client *c, struct cairn_replication *out)
{
    memset(out, 0, sizeof(*out));
    json_t *d = NULL;
    bool v1;
    int rc = status_fetch(c, &d, &v1);
    if (rc != 0)
        return rc;
    rc = status_replication_of(c, d, v1, out);
    json_decref(d);
    return rc;
}

void cairn_manifest_info_free(struct cairn_manifest_info *m)
{
    if (m == NULL)
        return;
    free(m->manifest);
    free(m->fingerprint_hex);
    free(m->signature);
    memset(m, 0, sizeof(*m));
}

int cairn_manifest_get(struct cairn_client *c, struct cairn_manifest_info *out)
{
    json_t *d = NULL;
    bool v1;
    int rc = call_v2_v1(c, "GET", "/api/v2/manifest", NULL, 0, "/manifest", NULL, 0, &d, &v1);
    if (rc != 0)
        return rc;
    struct cairn_manifest_info m = {0};
    if (!json_is_object(d)) {
        json_decref(d);
        return proto_err(c, "manifest data is not an object");
    }
    rc = b64_member(d, v1 ? "Manifest" : "manifest", &m.manifest, &m.manifest_size, true);
    if (rc == 0)
        rc = b64_member(d, v1 ? "ManifestSignatureRootECDSA" : "manifestSignatureRootECDSA", &m.signature,
                        &m.signature_size, true);
    const json_t *fp = json_object_get(d, v1 ? "ManifestSignature" : "manifestFingerprint");
    if (rc != 0) {
        json_decref(d);
        cairn_manifest_info_free(&m);
        return proto_err(c, "manifest or signature is not valid base64");
    }
    if (m.manifest == NULL || m.manifest_size == 0) {
        json_decref(d);
        cairn_manifest_info_free(&m);
        return cairn_errf(&c->err, CAIRN_ERR_NOT_FOUND, "the Coordinator has no manifest yet (set one first)");
    }
    m.fingerprint_hex = json_is_string(fp) ? client_sanitize(json_string_value(fp), json_string_length(fp), 128)
                                           : strdup("");
    json_decref(d);
    if (m.fingerprint_hex == NULL) {
        cairn_manifest_info_free(&m);
        return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    }
    *out = m;
    return 0;
}

int cairn_manifest_set(struct cairn_client *c, const uint8_t *manifest, size_t size, char **out_recovery_json)
{
    char *body = manifest_body(manifest, size);
    if (body == NULL)
        return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    json_t *d = NULL;
    bool v1;
    int rc = call_v2_v1(c, "POST", "/api/v2/manifest", body, strlen(body), "/manifest", manifest, size, &d, &v1);
    free(body);
    if (rc != 0)
        return rc;
    char *rec = NULL;
    const json_t *rs = json_is_object(d) ? json_object_get(d, "RecoverySecrets") : NULL;
    if (rs != NULL && !json_is_null(rs) && (!json_is_object(rs) || json_object_size(rs) > 0))
        rc = dump_json(c, rs, &rec);
    json_decref(d);
    if (rc != 0)
        return rc;
    if (out_recovery_json)
        *out_recovery_json = rec;
    else
        free(rec);
    return 0;
}

int cairn_manifest_log(struct cairn_client *c, char **out_log)
{
    json_t *d = NULL;
    bool v1;
    int rc = call_v2_v1(c, "GET", "/api/v2/update", NULL, 0, "/update", NULL, 0, &d, &v1);
    if (rc != 0)
        return rc;
    char *s = NULL;
    if (json_is_string(d)) { /* v1: one string, lines joined with \n */
        s = strdup(json_string_value(d));
    } else {
        const json_t *arr = json_object_get(d, "updateLog");
        if (!json_is_array(arr) && !json_is_null(arr) && arr != NULL) {
            json_decref(d);
            return proto_err(c, "updateLog is not an array");
        }
        size_t total = 1, i;
        const json_t *v;
        json_array_foreach(arr, i, v) {
            if (!json_is_string(v)) {
                json_decref(d);
                return proto_err(c, "updateLog entry is not a string");
            }
            total += json_string_length(v) + 1;
        }
        s = malloc(total);
        if (s != NULL) {
            size_t off = 0;
            json_array_foreach(arr, i, v) {
                memcpy(s + off, json_string_value(v), json_string_length(v));
                off += json_string_length(v);
                s[off++] = '\n';
            }
            s[off] = '\0';
        }
    }
    json_decref(d);
    if (s == NULL)
        return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    *out_log = s;
    return 0;
}

void cairn_quote_free(struct cairn_quote *q)
{
    if (q == NULL)
        return;
    free(q->cert_pem);
    free(q->quote);
    free(q->evidence_json);
    memset(q, 0, sizeof(*q));
}

/* Shared by cairn_quote_get and cairn_coordinator_verify: the raw "data". */
static int quote_data(struct cairn_client *c, const uint8_t *nonce, size_t nonce_size, json_t **out)
{
    char path[1024] = "/api/v2/quote";
    if (nonce != NULL && nonce_size > 0) {
        if (nonce_size > 512)
            return cairn_errf(&c->err, CAIRN_ERR_INVALID, "nonce: at most 512 bytes");
        char *b = cairn_base64url_encode(nonce, nonce_size);
        if (b == NULL)
            return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
        snprintf(path, sizeof(path), "/api/v2/quote?nonce=%s", b);
        free(b);
    }
    json_t *d = NULL;
    bool v1;
    /* v1 /quote cannot take a nonce: no fallback then, the binding would fail anyway. */
    int rc = call_v2_v1(c, "GET", path, NULL, 0, nonce_size ? NULL : "/quote", NULL, 0, &d, &v1);
    if (rc != 0)
        return rc;
    if (!json_is_object(d)) {
        json_decref(d);
        return proto_err(c, "quote data is not an object");
    }
    if (v1) { /* {"Cert","Quote"} -> v2 names */
        json_t *n = json_pack("{s:O?, s:O?}", "cert", json_object_get(d, "Cert"), "quote",
                              json_object_get(d, "Quote"));
        json_decref(d);
        if (n == NULL)
            return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
        d = n;
    }
    *out = d;
    return 0;
}

int cairn_quote_get(struct cairn_client *c, const uint8_t *nonce, size_t nonce_size, struct cairn_quote *out)
{
    json_t *d = NULL;
    int rc = quote_data(c, nonce, nonce_size, &d);
    if (rc != 0)
        return rc;
    struct cairn_quote q = {0};
    const json_t *cert = json_object_get(d, "cert");
    const json_t *ev = json_object_get(d, "evidence");
    if (!json_is_string(cert)) {
        json_decref(d);
        return proto_err(c, "quote answer lacks \"cert\"");
    }
    q.cert_pem = strdup(json_string_value(cert));
    rc = b64_member(d, "quote", &q.quote, &q.quote_size, true);
    if (rc == 0 && ev != NULL && json_is_object(ev))
        rc = dump_json(c, ev, &q.evidence_json);
    json_decref(d);
    if (rc != 0 || q.cert_pem == NULL) {
        cairn_quote_free(&q);
        return rc == CAIRN_ERR_PROTOCOL ? proto_err(c, "quote is not valid base64")
                                        : cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    }
    *out = q;
    return 0;
}

void cairn_coordinator_certs_free(struct cairn_coordinator_certs *certs)
{
    if (certs == NULL)
        return;
    free(certs->root_pem);
    free(certs->intermediate_pem);
    free(certs->tee);
    free(certs->claims_json);
    free(certs->quote);
    memset(certs, 0, sizeof(*certs));
}

int cairn_coordinator_verify(struct cairn_client *c, const struct cairn_verify_config *cfg,
                             struct cairn_coordinator_certs *out)
{
    struct tee_package pol = {0};
    bool have_pol = false;
    int rc;
    cairn_error_clear(&c->err);
    if (!cfg->insecure) {
        if (cfg->policy_json == NULL)
            return cairn_errf(&c->err, CAIRN_ERR_INVALID,
                              "no Coordinator policy given (expected TEE identity); use insecure mode only "
                              "for a simulated Coordinator");
        rc = client_policy_parse(cfg->policy_json, strlen(cfg->policy_json), &pol, &c->err);
        if (rc != 0)
            return rc;
        have_pol = true;
    }
    /* The trust directory is loaded before anything goes on the wire, so a
     * bad one fails early; it is only needed when the evidence is verified. */
    struct trust_store *ts = NULL;
    const char *tdir = cfg->insecure ? NULL : client_trust_dir(cfg->trust_dir);
    if (tdir != NULL && (rc = client_trust_open(tdir, &ts, &c->err)) != 0) {
        if (have_pol)
            tee_package_free(&pol);
        return rc;
    }
    /* The quote is fetched without TLS authentication: the evidence is what
     * authenticates the root, and the root is pinned afterwards. */
    bool saved_insecure = c->insecure;
    char *saved_root = c->root_pem, *saved_pin = c->root_pin;
    c->insecure = true;
    c->root_pem = NULL;
    c->root_pin = NULL;
    json_t *d = NULL;
    rc = quote_data(c, cfg->nonce, cfg->nonce_size, &d);
    c->insecure = saved_insecure;
    c->root_pem = saved_root;
    c->root_pin = saved_pin;
    struct cairn_coordinator_certs certs = {0};
    if (rc == 0)
        rc = client_verify_quote_data_trust(d, cfg->nonce, cfg->nonce_size, have_pol ? &pol : NULL,
                                            cfg->insecure != 0, ts, &certs, &c->err);
    trust_store_free(ts);
    if (rc == 0) {
        /* Keep the raw quote for the caller (e.g. `--save-sgx-quote`). */
        const json_t *ev = json_object_get(d, "evidence");
        const json_t *holder = json_is_object(ev) ? ev : d;
        if (b64_member(holder, "quote", &certs.quote, &certs.quote_size, true) != 0) {
            certs.quote = NULL;
            certs.quote_size = 0;
        }
    }
    json_decref(d);
    if (have_pol)
        tee_package_free(&pol);
    if (rc != 0)
        return rc;
    rc = cairn_client_set_root_ca(c, certs.root_pem);
    if (rc != 0) {
        cairn_coordinator_certs_free(&certs);
        return cairn_errf(&c->err, rc, "cannot pin the Coordinator root");
    }
    *out = certs;
    return 0;
}

/* ---- issue-6 endpoints ------------------------------------------------------- */

static int data_out(struct cairn_client *c, json_t *d, const char *member, char **out_json)
{
    const json_t *v = member && json_is_object(d) ? json_object_get(d, member) : d;
    int rc = 0;
    char *s = NULL;
    if (out_json != NULL)
        rc = dump_json(c, v ? v : json_null(), &s);
    json_decref(d);
    if (rc == 0 && out_json)
        *out_json = s;
    return rc;
}

int cairn_secrets_get(struct cairn_client *c, const char *const *names, size_t n_names, char **out_json)
{
    if (n_names == 0)
        return cairn_errf(&c->err, CAIRN_ERR_INVALID, "secrets: name at least one secret");
    size_t cap = 64;
    for (size_t i = 0; i < n_names; i++)
        cap += strlen(names[i]) * 3 + 4;
    char *v2 = malloc(cap + 16), *v1 = malloc(cap + 16);
    if (v2 == NULL || v1 == NULL) {
        free(v2);
        free(v1);
        return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    }
    strcpy(v2, "/api/v2/secrets");
    strcpy(v1, "/secrets");
    for (size_t i = 0; i < n_names; i++) {
        char *e = curl_easy_escape(NULL, names[i], 0);
        if (e == NULL) {
            free(v2);
            free(v1);
            return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
        }
        strcat(v2, i ? "&s=" : "?s=");
        strcat(v2, e);
        strcat(v1, i ? "&s=" : "?s=");
        strcat(v1, e);
        curl_free(e);
    }
    json_t *d = NULL;
    bool used_v1;
    int rc = call_v2_v1(c, "GET", v2, NULL, 0, v1, NULL, 0, &d, &used_v1);
    free(v2);
    free(v1);
    if (rc != 0)
        return rc;
    return data_out(c, d, used_v1 ? NULL : "secrets", out_json);
}

int cairn_secrets_set(struct cairn_client *c, const char *secrets_json)
{
    json_error_t je;
    json_t *s = json_loads(secrets_json, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(s)) {
        json_decref(s);
        return cairn_errf(&c->err, CAIRN_ERR_INVALID, "secrets: expected a JSON object {name: secret} (%s)",
                          je.text);
    }
    json_t *wrap = json_pack("{s:O}", "secrets", s);
    char *b2 = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
    char *b1 = json_dumps(s, JSON_COMPACT);
    json_decref(wrap);
    json_decref(s);
    if (b2 == NULL || b1 == NULL) {
        free(b2);
        free(b1);
        return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    }
    json_t *d = NULL;
    bool v1;
    int rc = call_v2_v1(c, "POST", "/api/v2/secrets", b2, strlen(b2), "/secrets", b1, strlen(b1), &d, &v1);
    free(b2);
    free(b1);
    json_decref(d);
    return rc;
}

static int post_manifest(struct cairn_client *c, const char *v2, const char *v1, const uint8_t *manifest,
                         size_t size, char **out_json)
{
    char *body = manifest_body(manifest, size);
    if (body == NULL)
        return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    json_t *d = NULL;
    bool used_v1;
    int rc = call_v2_v1(c, "POST", v2, body, strlen(body), v1, manifest, size, &d, &used_v1);
    free(body);
    if (rc != 0)
        return rc;
    return data_out(c, d, NULL, out_json);
}

int cairn_update_apply(struct cairn_client *c, const uint8_t *manifest, size_t size, char **out_json)
{
    return post_manifest(c, "/api/v2/update", "/update", manifest, size, out_json);
}

int cairn_update_acknowledge(struct cairn_client *c, const uint8_t *manifest, size_t size, char **out_json)
{
    return post_manifest(c, "/api/v2/update-manifest", "/update-manifest", manifest, size, out_json);
}

int cairn_update_get(struct cairn_client *c, char **out_json)
{
    json_t *d = NULL;
    bool v1;
    int rc = call_v2_v1(c, "GET", "/api/v2/update-manifest", NULL, 0, "/update-manifest", NULL, 0, &d, &v1);
    if (rc != 0)
        return rc;
    return data_out(c, d, NULL, out_json);
}

int cairn_update_cancel(struct cairn_client *c)
{
    json_t *d = NULL;
    bool v1;
    int rc = call_v2_v1(c, "POST", "/api/v2/update-cancel", "", 0, "/update-cancel", "", 0, &d, &v1);
    json_decref(d);
    return rc;
}

int cairn_recover(struct cairn_client *c, const uint8_t *secret, size_t secret_size, const uint8_t *signature,
                  size_t signature_size, int *out_remaining, char **out_message)
{
    char *s = cairn_base64_encode(secret, secret_size);
    char *g = cairn_base64_encode(signature, signature_size);
    json_t *o = (s && g) ? json_pack("{s:s, s:s}", "recoverySecret", s, "recoverySecretSignature", g) : NULL;
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
    free(g);
    if (body == NULL)
        return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    json_t *d = NULL;
    int rc = call(c, "POST", "/api/v2/recover", body, strlen(body), &d);
    OPENSSL_cleanse(body, strlen(body));
    free(body);
    if (rc != 0)
        return rc;
    const json_t *rem = json_object_get(d, "remaining");
    const json_t *msg = json_object_get(d, "message");
    if (!json_is_integer(rem)) {
        json_decref(d);
        return proto_err(c, "recover answer lacks \"remaining\"");
    }
    char *m = json_is_string(msg) ? client_sanitize(json_string_value(msg), json_string_length(msg), 1024)
                                  : strdup("");
    if (out_remaining)
        *out_remaining = (int)json_integer_value(rem);
    json_decref(d);
    if (m == NULL)
        return cairn_errf(&c->err, CAIRN_ERR_NOMEM, "out of memory");
    if (out_message)
        *out_message = m;
    else
        free(m);
    return 0;
}

int cairn_recover_public_key(struct cairn_client *c, uint8_t **out_der, size_t *out_size)
{
    json_t *d = NULL;
    int rc = call(c, "GET", "/api/v2/recover/public-key", NULL, 0, &d);
    if (rc != 0)
        return rc;
    uint8_t *der = NULL;
    size_t n = 0;
    rc = b64_member(d, "ephemeralPublicKey", &der, &n, false);
    json_decref(d);
    if (rc != 0)
        return proto_err(c, "recover public key lacks \"ephemeralPublicKey\"");
    *out_der = der;
    *out_size = n;
    return 0;
}
