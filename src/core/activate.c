/* Marble activation (DESIGN §7, inventory §3.2): checks in order, then the
 * leaf, per-marble secrets, templates, MARBLE_PREDEFINED_* env, counters. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/issuer.h"
#include "attest/policy.h"
#include "common/encoding.h"
#include "common/log.h"
#include "core/core_internal.h"
#include "core/ha.h"
#include "core/governance.h"
#include "core/pki.h"
#include "crypto/crypto.h"

#define ACT_MAX_STR 256   /* marbleType and uuid lengths */

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Canonical 8-4-4-4-12 hex UUID; normalised to lowercase into out[37]. */
static bool uuid_canonical(const char *s, char out[37])
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[36] = '\0';
    return true;
}

static int put_b64(json_t *o, const char *k, const uint8_t *p, size_t n)
{
    char *s = cairn_base64_encode(p, n);
    if (s == NULL)
        return CAIRN_ERR_NOMEM;
    json_t *v = json_string(s);
    cc_free_secret(s, strlen(s));
    return (v != NULL && json_object_set_new(o, k, v) == 0) ? 0 : CAIRN_ERR_NOMEM;
}

/* PEM armour around DER without going through OpenSSL's encoder framework,
 * which costs tens of microseconds per call in OpenSSL 3.0 (provider lookups);
 * the bytes are the same as PEM_write_bio_* produces. */
static char *pem_wrap(const char *label, const uint8_t *der, size_t len)
{
    char *b64 = cairn_base64_encode(der, len);
    if (b64 == NULL)
        return NULL;
    size_t bl = strlen(b64), ll = strlen(label);
    size_t cap = bl + bl / 64 + 2 + 2 * (ll + 20) + 1;
    char *out = malloc(cap);
    if (out != NULL) {
        size_t o = (size_t)snprintf(out, cap, "-----BEGIN %s-----\n", label);
        for (size_t i = 0; i < bl; i += 64) {
            size_t n = bl - i < 64 ? bl - i : 64;
            memcpy(out + o, b64 + i, n);
            o += n;
            out[o++] = '\n';
        }
        snprintf(out + o, cap - o, "-----END %s-----\n", label);
    }
    cc_free_secret(b64, bl);
    return out;
}

static char *der_key_to_pem(const uint8_t *der, size_t len)
{
    EVP_PKEY *k = NULL;
    char *pem = NULL;
    size_t n;
    if (cc_key_from_der(der, len, &k, NULL) == 0 && cc_key_to_pkcs8_pem(k, &pem, &n) != 0)
        pem = NULL;
    EVP_PKEY_free(k);
    return pem;
}

static char *der_cert_to_pem(const uint8_t *der, size_t len)
{
    X509 *x = NULL;
    char *pem = NULL;
    size_t n;
    if (cc_cert_from_der(der, len, &x, NULL) == 0 && cc_cert_to_pem(x, &pem, &n) != 0)
        pem = NULL;
    X509_free(x);
    return pem;
}

/* MARBLE_TTLS_CONFIG (inventory §1.8). */
static int ttls_config(const struct manifest *m, const struct manifest_marble *mb, const struct core_snap *s,
                       const char *leaf_pem, const char *key_pem, const struct manifest_secret_set *secrets,
                       char **out, struct cairn_error *err)
{
    json_t *outgoing = json_object(), *incoming = json_object();
    int rc = 0;
    for (size_t t = 0; rc == 0 && t < mb->n_tls; t++) {
        const struct manifest_tls_tag *tag = manifest_find_tls(m, mb->tls[t]);
        if (tag == NULL)
            continue;
        for (size_t i = 0; rc == 0 && i < tag->n_outgoing; i++) {
            char k[600];
            snprintf(k, sizeof(k), "%s:%s", tag->outgoing[i].addr, tag->outgoing[i].port);
            json_object_set_new(outgoing, k, json_pack("{s:s, s:s, s:s}", "cacrt", s->marble_root_pem, "clicrt",
                                                       leaf_pem, "clikey", key_pem));
        }
        for (size_t i = 0; rc == 0 && i < tag->n_incoming; i++) {
            const struct manifest_tls_entry *e = &tag->incoming[i];
            char k[600];
            snprintf(k, sizeof(k), "*:%s", e->port);
            if (e->cert != NULL && e->cert[0] != '\0') {
                const struct manifest_secret_value *v = manifest_secret_set_find(secrets, e->cert);
                char *cp = v != NULL && v->cert != NULL ? der_cert_to_pem(v->cert, v->cert_len) : NULL;
                char *kp = v != NULL && v->private_key != NULL ? der_key_to_pem(v->private_key, v->private_len) : NULL;
                if (cp == NULL || kp == NULL)
                    rc = cairn_errf(err, CAIRN_ERR_INVALID, "TLS tag %s: secret %s has no certificate and key",
                                    tag->name, e->cert);
                else
                    json_object_set_new(incoming, k, json_pack("{s:s, s:s, s:s, s:b}", "cacrt", s->marble_root_pem,
                                                               "clicrt", cp, "clikey", kp, "clientAuth", 0));
                free(cp);
                if (kp != NULL)
                    cc_free_secret(kp, strlen(kp));
            } else {
                json_object_set_new(incoming, k, json_pack("{s:s, s:s, s:s, s:b}", "cacrt", s->marble_root_pem,
                                                           "clicrt", leaf_pem, "clikey", key_pem, "clientAuth",
                                                           !e->disable_client_auth));
            }
        }
    }
    json_t *j = json_pack("{s:{s:o, s:o}}", "tls", "Outgoing", outgoing, "Incoming", incoming);
    if (rc != 0 || j == NULL) {
        json_decref(j);
        return rc != 0 ? rc : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return *out != NULL ? 0 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
}

struct act {
    json_t *req;
    char type[ACT_MAX_STR + 1];
    char uuid[37];
    X509_REQ *csr;
    struct attest_issued ev_store;
    struct attest_evidence ev;
    bool no_evidence;            /* empty quote (MarbleRun premain without a TEE) */
    bool have_ev;                /* ev parsed (its type is known) */
    struct attest_claims claims;
    bool have_claims;
    EVP_PKEY *leaf_key;
    X509 *leaf;
    struct manifest_secret_set *priv, *merged, *prev;   /* prev: governance.h gov_previous_secrets */
    struct manifest_secret_value mc;
    struct manifest_params *params;
    char *leaf_pem, *key_pem, *chain_pem, *ttls;
    json_t *files, *env, *argv;
};

static void act_clear(struct act *a)
{
    json_decref(a->req);
    X509_REQ_free(a->csr);
    attest_issued_free(&a->ev_store);
    if (a->have_claims)
        attest_claims_free(&a->claims);
    EVP_PKEY_free(a->leaf_key);
    X509_free(a->leaf);
    manifest_secret_set_free(a->priv);
    manifest_secret_set_free(a->merged);
    manifest_secret_set_free(a->prev);
    manifest_secret_value_clear(&a->mc);
    manifest_params_free(a->params);
    free(a->leaf_pem);
    free(a->chain_pem);
    free(a->ttls);
    if (a->key_pem != NULL)
        cc_free_secret(a->key_pem, strlen(a->key_pem));
    json_decref(a->files);
    json_decref(a->env);
    json_decref(a->argv);
}

struct json_body {
    const uint8_t *body;
    size_t len;
};

/* The JSON wire's decoder (POST /api/v2/activate). */
static enum core_refusal decode_json(void *arg, json_t **out, struct cairn_error *err)
{
    const struct json_body *b = arg;
    json_error_t je;
    json_t *j = json_loadb((const char *)b->body, b->len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        cairn_errf(err, CAIRN_ERR_INVALID, "malformed request: invalid JSON at line %d column %d: %s", je.line,
                   je.column, je.text);
        return CORE_BAD_REQUEST;
    }
    *out = j;
    return CORE_OK;
}

/* An empty "quote" (and no "evidence"): what MarbleRun's premain sends when it
 * cannot get a quote (inventory §3.1 step 5). Accepted only in simulation. */
static bool empty_quote(const json_t *req)
{
    const json_t *ev = json_object_get(req, "evidence"), *q = json_object_get(req, "quote");
    return (ev == NULL || json_is_null(ev)) && json_is_string(q) && json_string_length(q) == 0;
}

/* Parses and validates the request structure (400 class). */
static enum core_refusal parse_request(struct act *a, core_act_decode_fn decode, void *arg, struct cairn_error *err)
{
    enum core_refusal r = decode(arg, &a->req, err);
    if (r != CORE_OK)
        return r;
    if (!json_is_object(a->req)) {
        cairn_errf(err, CAIRN_ERR_INVALID, "malformed request: expected a JSON object");
        return CORE_BAD_REQUEST;
    }
    const json_t *t = json_object_get(a->req, "marbleType"), *u = json_object_get(a->req, "uuid"),
                 *csr = json_object_get(a->req, "csr");
    if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > ACT_MAX_STR ||
        strlen(json_string_value(t)) != json_string_length(t)) {
        cairn_errf(err, CAIRN_ERR_INVALID, "malformed request: marbleType: expected a non-empty string of at most %d "
                   "bytes", ACT_MAX_STR);
        return CORE_BAD_REQUEST;
    }
    snprintf(a->type, sizeof(a->type), "%s", json_string_value(t));
    if (!json_is_string(u) || !uuid_canonical(json_string_value(u), a->uuid)) {
        cairn_errf(err, CAIRN_ERR_INVALID, "malformed request: uuid: expected a canonical UUID "
                   "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
        return CORE_BAD_REQUEST;
    }
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (!json_is_string(csr) || json_string_length(csr) == 0 ||
        cairn_base64_decode(json_string_value(csr), json_string_length(csr), &der, &der_len) != 0) {
        cairn_errf(err, CAIRN_ERR_INVALID, "malformed request: csr: expected base64 of a DER PKCS#10 request");
        return CORE_BAD_REQUEST;
    }
    struct cairn_error ce = {0};
    int rc = cc_csr_parse_verify(der, der_len, &a->csr, &ce);
    free(der);
    if (rc != 0) {
        cairn_errf(err, CAIRN_ERR_INVALID, "malformed request: csr: %s", cairn_error_msg(&ce));
        return CORE_BAD_REQUEST;
    }
    if (empty_quote(a->req)) {
        /* no evidence at all: verify_evidence decides (simulation only) */
        a->no_evidence = true;
        return CORE_OK;
    }
    struct cairn_error ee = {0};
    if (attest_evidence_from_json(a->req, &a->ev_store, &a->ev, &ee) != 0) {
        cairn_errf(err, CAIRN_ERR_INVALID, "malformed request: %s", cairn_error_msg(&ee));
        return CORE_BAD_REQUEST;
    }
    a->have_ev = true;
    return CORE_OK;
}

static enum core_refusal forbid(struct cairn_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enum core_refusal forbid(struct cairn_error *err, const char *fmt, ...)
{
    char msg[CAIRN_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cairn_errf(err, CAIRN_ERR_PERMISSION, "marble verification failed: %s", msg);
    return CORE_FORBIDDEN;
}

static uint64_t activation_count(struct core *c, const char *type)
{
    pthread_mutex_lock(&c->lock);
    json_t *v = json_object_get(c->activations, type);
    uint64_t n = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static enum core_refusal verify_evidence(struct core *c, struct core_snap *s, const struct manifest_package *pkg,
                                         X509 *peer, struct act *a, struct cairn_error *err)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (cc_cert_to_der(peer, &der, &der_len) != 0) {
        cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        return CORE_INTERNAL;
    }
    uint8_t expected[32];
    cc_sha256(der, der_len, expected);
    free(der);
    if (a->no_evidence) {
        /* MarbleRun's simulation mode: a marble that could not get a quote
         * sends an empty one, and a simulation Coordinator lets it in */
        if (!c->cfg.simulation || c->cfg.insecure_no_tee)
            return forbid(err, "the marble sent an empty quote (no TEE evidence): accepted only by a Coordinator "
                          "in simulation mode");
        core_metrics_evidence(c, ATTEST_SIM, true);
        LOG_WARN("*** INSECURE: marble %s (type \"%s\") sent an empty quote and is admitted without any "
                 "evidence because the Coordinator runs in simulation mode ***", a->uuid, a->type);
        return CORE_OK;
    }
    if (a->ev.type == ATTEST_SIM && c->cfg.simulation && !c->cfg.insecure_no_tee)
        LOG_WARN("*** INSECURE: marble %s (type \"%s\") presents simulation evidence (no TEE proof); admitted "
                 "only because the Coordinator runs in simulation mode ***", a->uuid, a->type);
    if (a->ev.type == ATTEST_SIM && !c->cfg.simulation)
        return forbid(err, "simulation evidence is not accepted: the Coordinator is not in simulation mode");
    if (a->ev.type == ATTEST_SIM && c->cfg.insecure_no_tee)
        return forbid(err, "simulation evidence is not accepted: the Coordinator verifies marble evidence "
                      "(--insecure-no-tee only makes its own quote null)");
    if (a->ev.type != ATTEST_SIM && a->ev.type != pkg->pkg.tee) {
        char m[256];
        snprintf(m, sizeof(m), "evidence type %s does not match the TEE of package %s (%s)",
                 attest_type_name(a->ev.type), pkg->name, attest_type_name(pkg->pkg.tee));
        return forbid(err, "%s", m);
    }
    /* the trust directory's roots, intermediates, CRLs and collateral for
     * this type (all-zero without one: built-in roots, no collateral) */
    struct attest_trust trust;
    core_trust_get(c, a->ev.type, &trust);
    struct cairn_error ve = {0};
    int rc = attest_verify(&a->ev, &trust, expected, sizeof(expected), &a->claims, &ve);
    if (rc == 0) {
        a->have_claims = true;
        rc = core_trust_check_claims(c, &a->claims, &ve);
    }
    core_metrics_evidence(c, a->ev.type, rc == 0);
    if (rc != 0)
        return forbid(err, "%s", cairn_error_msg(&ve));
    if (a->ev.type != ATTEST_SIM) {
        /* in simulation only "sim" evidence skips the identity check */
        struct cairn_error pe = {0};
        if (tee_policy_match(&pkg->pkg, &a->claims, &pe) != 0)
            return forbid(err, "package %s: %s", pkg->name, cairn_error_msg(&pe));
    }
    (void)s;
    return CORE_OK;
}

static enum core_refusal build_response(struct core *c, struct core_snap *s, const struct manifest_marble *mb,
                                        struct act *a, json_t **out, struct cairn_error *err)
{
    const struct manifest *m = s->manifest;
    int rc;
    a->leaf_key = keypool_take(c->pool);
    if (a->leaf_key == NULL) {
        cairn_errf(err, CAIRN_ERR_CRYPTO, "generating the marble key failed");
        return CORE_INTERNAL;
    }
    if ((rc = pki_leaf_issue(a->csr, a->uuid, a->type, s->marble_root_cert, s->intermediate_key, a->leaf_key,
                             &a->leaf, err)) != 0)
        return CORE_INTERNAL;
    if ((rc = manifest_generate_secrets(m, MANIFEST_SECRETS_PRIVATE, s->root_secret, a->uuid, a->type,
                                        s->marble_root_cert, s->intermediate_key, 0, &a->priv, err)) != 0)
        return CORE_INTERNAL;
    if ((rc = gov_previous_secrets(s, a->uuid, a->type, a->priv, &a->prev, err)) != 0)
        return CORE_INTERNAL;
    a->merged = manifest_secret_set_new();
    if (a->merged == NULL || manifest_secret_set_merge(a->merged, s->secrets) != 0 ||
        manifest_secret_set_merge(a->merged, a->priv) != 0) {
        cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        return CORE_INTERNAL;
    }
    /* one encoder call (PKCS#8); the SPKI is re-encoded from the certificate
     * and the PEMs are armoured DER */
    int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(a->leaf), NULL);
    if (cc_cert_to_der(a->leaf, &a->mc.cert, &a->mc.cert_len) != 0 ||
        cc_key_to_pkcs8_der(a->leaf_key, &a->mc.private_key, &a->mc.private_len) != 0 || spki_len <= 0 ||
        (a->mc.public_key = malloc((size_t)spki_len)) == NULL) {
        cairn_errf(err, CAIRN_ERR_NOMEM, "encoding the marble credentials failed");
        return CORE_INTERNAL;
    }
    unsigned char *sp = a->mc.public_key;
    a->mc.public_len = (size_t)i2d_X509_PUBKEY(X509_get_X509_PUBKEY(a->leaf), &sp);
    a->leaf_pem = pem_wrap("CERTIFICATE", a->mc.cert, a->mc.cert_len);
    a->key_pem = pem_wrap("PRIVATE KEY", a->mc.private_key, a->mc.private_len);
    if (a->leaf_pem == NULL || a->key_pem == NULL) {
        cairn_errf(err, CAIRN_ERR_NOMEM, "encoding the marble credentials failed");
        return CORE_INTERNAL;
    }
    struct manifest_template_data td = {
        .secrets = a->merged,
        .previous = a->prev,
        .root_ca = &s->tv_marble_root,
        .marble_cert = &a->mc,
        .coordinator_root = &s->tv_root,
        .coordinator_intermediate = &s->tv_intermediate,
    };
    if ((rc = manifest_marble_render(mb, &td, &a->params, err)) != 0)
        return CORE_INTERNAL;
    if (mb->n_tls > 0 && ttls_config(m, mb, s, a->leaf_pem, a->key_pem, a->merged, &a->ttls, err) != 0)
        return CORE_INTERNAL;
    a->files = json_object();
    a->env = json_object();
    a->argv = json_array();
    if (a->files == NULL || a->env == NULL || a->argv == NULL)
        goto oom;
    for (size_t i = 0; i < a->params->n_files; i++)
        if (put_b64(a->files, a->params->files[i].name, a->params->files[i].data, a->params->files[i].len) != 0)
            goto oom;
    for (size_t i = 0; i < a->params->n_env; i++)
        if (put_b64(a->env, a->params->env[i].name, a->params->env[i].data, a->params->env[i].len) != 0)
            goto oom;
    for (size_t i = 0; i < a->params->n_argv; i++)
        if (json_array_append_new(a->argv, json_string(a->params->argv[i])) != 0)
            goto oom;
    size_t ll = strlen(a->leaf_pem), il = strlen(s->intermediate_pem);
    a->chain_pem = malloc(ll + il + 1);
    if (a->chain_pem == NULL)
        goto oom;
    memcpy(a->chain_pem, a->leaf_pem, ll);
    memcpy(a->chain_pem + ll, s->intermediate_pem, il + 1);
    /* set last: the Coordinator's values override manifest entries of the same name */
    if (put_b64(a->env, "MARBLE_PREDEFINED_ROOT_CA", (const uint8_t *)s->marble_root_pem,
                strlen(s->marble_root_pem)) != 0 ||
        put_b64(a->env, "MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN", (const uint8_t *)a->chain_pem,
                strlen(a->chain_pem)) != 0 ||
        put_b64(a->env, "MARBLE_PREDEFINED_PRIVATE_KEY", (const uint8_t *)a->key_pem, strlen(a->key_pem)) != 0 ||
        put_b64(a->env, "MARBLE_PREDEFINED_COORDINATOR_ROOT_CA", (const uint8_t *)s->root_pem,
                strlen(s->root_pem)) != 0)
        goto oom;
    if (a->ttls != NULL && put_b64(a->env, "MARBLE_TTLS_CONFIG", (const uint8_t *)a->ttls, strlen(a->ttls)) != 0)
        goto oom;
    json_t *d = json_pack("{s:O, s:O, s:O}", "files", a->files, "env", a->env, "argv", a->argv);
    if (d == NULL)
        goto oom;
    *out = d;
    return CORE_OK;
oom:
    cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    return CORE_INTERNAL;
}

enum core_refusal core_activate(struct core *c, const uint8_t *body, size_t len, X509 *peer, json_t **out_data,
                                struct cairn_error *err)
{
    struct json_body b = {body, len};
    return core_activate_info(c, decode_json, &b, peer, out_data, NULL, err);
}

enum core_refusal core_activate_json_info(struct core *c, const uint8_t *body, size_t len, X509 *peer,
                                          json_t **out_data, struct core_act_info *info, struct cairn_error *err)
{
    struct json_body b = {body, len};
    return core_activate_info(c, decode_json, &b, peer, out_data, info, err);
}

enum core_refusal core_activate_with(struct core *c, core_act_decode_fn decode, void *arg, X509 *peer,
                                     json_t **out_data, struct cairn_error *err)
{
    return core_activate_info(c, decode, arg, peer, out_data, NULL, err);
}

enum core_refusal core_activate_info(struct core *c, core_act_decode_fn decode, void *arg, X509 *peer,
                                     json_t **out_data, struct core_act_info *info, struct cairn_error *err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct act a;
    memset(&a, 0, sizeof(a));
    json_t *data = NULL;
    enum core_refusal r;
    bool counted = false;
    struct core_snap *s = core_snap_get(c);

    if (s->state != CORE_STATE_ACCEPTING_MARBLES) {
        cairn_errf(err, CAIRN_ERR_STATE, "cannot accept marbles in current state");
        r = CORE_UNAVAILABLE;
        goto out;
    }
    if (peer == NULL) {
        cairn_errf(err, CAIRN_ERR_UNAUTHENTICATED, "no client certificate: the marble must present its "
                   "self-signed TLS certificate");
        r = CORE_UNAUTHENTICATED;
        goto out;
    }
    if ((r = parse_request(&a, decode, arg, err)) != CORE_OK)
        goto out;
    core_metrics_activation_attempt(c, a.type, a.uuid);
    counted = true;
    const struct manifest_marble *mb = manifest_find_marble(s->manifest, a.type);
    if (mb == NULL) {
        r = forbid(err, "unknown marble type requested");
        goto out;
    }
    const struct manifest_package *pkg = manifest_find_package(s->manifest, mb->package);
    if (pkg == NULL) {
        r = forbid(err, "package \"%s\" of marble type \"%s\" does not exist", mb->package, a.type);
        goto out;
    }
    if ((r = verify_evidence(c, s, pkg, peer, &a, err)) != CORE_OK)
        goto out;
    if (mb->max_activations > 0 && activation_count(c, a.type) >= mb->max_activations) {
        r = forbid(err, "reached the maximum number of activations (%llu) for marble type \"%s\"",
                   (unsigned long long)mb->max_activations, a.type);
        goto out;
    }
    if ((r = build_response(c, s, mb, &a, &data, err)) != CORE_OK)
        goto out;
    if (c->ha != NULL) {
        /* issue 9: replicas on etcd commit the counter (or, without
         * MaxActivations, check that `s` is still the committed state) in a
         * group-committed transaction before the answer leaves */
        struct cairn_error he = {0};
        int hr = ha_activation_commit(c, s, a.type, mb->max_activations, &he);
        if (hr == CAIRN_ERR_PERMISSION) {
            r = forbid(err, "reached the maximum number of activations (%llu) for marble type \"%s\"",
                       (unsigned long long)mb->max_activations, a.type);
            goto out;
        }
        if (hr != 0) {
            cairn_errf(err, hr, "%s", cairn_error_msg(&he));
            r = hr == CAIRN_ERR_NOMEM || hr == CAIRN_ERR_INTERNAL ? CORE_INTERNAL : CORE_UNAVAILABLE;
            goto out;
        }
    } else if (mb->max_activations > 0) {
        /* commit: re-check atomically, so concurrent activations cannot overshoot */
        pthread_mutex_lock(&c->lock);
        json_t *v = json_object_get(c->activations, a.type);
        uint64_t cnt = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
        uint64_t gen = 0;
        bool full = cnt >= mb->max_activations;
        if (!full) {
            json_object_set_new(c->activations, a.type, json_integer((json_int_t)(cnt + 1)));
            gen = ++c->gen;
        }
        pthread_mutex_unlock(&c->lock);
        if (full) {
            r = forbid(err, "reached the maximum number of activations (%llu) for marble type \"%s\"",
                       (unsigned long long)mb->max_activations, a.type);
            goto out;
        }
        struct cairn_error pe = {0};
        if (core_persist_gen(c, gen, &pe) != 0) {
            cairn_errf(err, CAIRN_ERR_IO, "persisting the activation counter failed: %s", cairn_error_msg(&pe));
            r = CORE_INTERNAL;
            goto out;
        }
    }
    core_event_add(c, a.type, a.uuid, a.ev.quote, a.ev.quote_len);
    *out_data = data;
    data = NULL;
    r = CORE_OK;
out:;
    double secs = since(&t0);
    core_metrics_activation_done(c, counted ? a.type : NULL, a.uuid, r, secs);
    if (info != NULL) {
        snprintf(info->marble_type, sizeof(info->marble_type), "%s", a.type);
        snprintf(info->uuid, sizeof(info->uuid), "%s", a.uuid);
        info->evidence = a.no_evidence ? "none" : a.have_ev ? attest_type_name(a.ev.type) : "";
        info->seconds = secs;
    }
    json_decref(data);
    act_clear(&a);
    core_snap_put(s);
    return r;
}
