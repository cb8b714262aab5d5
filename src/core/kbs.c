/* Key release over Trustee's KBS protocol (kbs.h). One request's whole path
 * per function, in the order the checks happen. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "attest/kbs_evidence.h"
#include "attest/kbs_evidence_azure.h"
#include "attest/policy.h"
#include "common/encoding.h"
#include "common/log.h"
#include "core/core_internal.h"
#include "core/kbs.h"
#include "crypto/crypto.h"
#include "crypto/jose.h"

#define KBS_NONCE_BYTES 32            /* as Trustee: 32 random bytes, standard base64 */
#define KBS_TOKEN_ISSUER "cairn-coordinator"
#define KBS_TOKEN_CERT_LIFETIME (24 * 3600)
/* Marks the token signer's certificate. The Intermediate also signs marble
 * leaves and cert-* secrets whose keys marbles and pods hold: without this
 * mark any of them could sign a token (security review, finding 25). No
 * other certificate Cairn issues carries it (marble leaves carry
 * 1.3.9903.2.1, secrets only the manifest's template fields). */
#define KBS_TOKEN_SIGNER_OID "1.3.9903.2.200"
static const uint8_t g_token_signer_mark[] = {0x0c, 0x10, 'c', 'a', 'i', 'r', 'n', '-', 'k', 'b', 's', '-', 't', 'o',
                                              'k', 'e', 'n', 's'};

enum sess_state { SESS_FREE = 0, SESS_AUTHED, SESS_ATTESTED };

struct session {
    enum sess_state state;
    char id[KBS_SESSION_ID_LEN + 1];
    time_t expires;
    enum kbs_tee tee;
    char nonce[64];
    char *token;                      /* SESS_ATTESTED */
};

struct kbs {
    struct core *core;
    struct kbs_config cfg;
    pthread_mutex_t lock;             /* sessions and the token certificate */
    struct session *sessions;
    EVP_PKEY *token_key;              /* P-256, this process only */
    X509 *token_cert;                 /* issued by token_issuer */
    X509 *token_issuer;               /* the Intermediate it was issued by (reference) */
    time_t token_cert_expires;
};

static const char *const g_err_types[] = {
    [KBS_OK] = "",
    [KBS_ERR_ATTESTATION] = "AttestationError",
    [KBS_ERR_TOKEN_NOT_FOUND] = "TokenNotFound",
    [KBS_ERR_TOKEN_VERIFIER] = "TokenVerifierError",
    [KBS_ERR_POLICY_DENY] = "PolicyDeny",
    [KBS_ERR_PLUGIN_INTERNAL] = "PluginInternalError",
    [KBS_ERR_JWE] = "JweError",
    [KBS_ERR_INVALID_PATH] = "InvalidRequestPath",
    [KBS_ERR_PLUGIN_NOT_FOUND] = "PluginNotFound",
};

const char *kbs_err_type(enum kbs_err e)
{
    if ((unsigned)e >= sizeof(g_err_types) / sizeof(g_err_types[0]))
        return "AttestationError";
    return g_err_types[e];
}

static enum kbs_err fail(struct cairn_error *err, enum kbs_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum kbs_err fail(struct cairn_error *err, enum kbs_err e, const char *fmt, ...)
{
    char msg[CAIRN_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cairn_errf(err, CAIRN_ERR_PERMISSION, "%s", msg);
    return e;
}

int kbs_new(struct core *c, const struct kbs_config *cfg, struct kbs **out, struct cairn_error *err)
{
    struct kbs *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    k->core = c;
    k->cfg = *cfg;
    if (k->cfg.session_ttl_s == 0)
        k->cfg.session_ttl_s = 300;
    if (k->cfg.token_ttl_s == 0)
        k->cfg.token_ttl_s = 300;
    if (k->cfg.max_sessions == 0)
        k->cfg.max_sessions = 4096;
    k->sessions = calloc(k->cfg.max_sessions, sizeof(*k->sessions));
    int rc = k->sessions != NULL ? cc_key_generate(CC_KEY_EC_P256, 0, &k->token_key, err)
                                 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc != 0) {
        free(k->sessions);
        free(k);
        return rc;
    }
    pthread_mutex_init(&k->lock, NULL);
    *out = k;
    return 0;
}

static void session_clear(struct session *s)
{
    free(s->token);
    OPENSSL_cleanse(s, sizeof(*s));
}

void kbs_free(struct kbs *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->cfg.max_sessions; i++)
        session_clear(&k->sessions[i]);
    free(k->sessions);
    EVP_PKEY_free(k->token_key);
    X509_free(k->token_cert);
    X509_free(k->token_issuer);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

/* ---- sessions (under k->lock) ---- */

static struct session *session_find(struct kbs *k, const char *id, time_t now)
{
    if (id == NULL || strlen(id) != KBS_SESSION_ID_LEN)
        return NULL;
    for (size_t i = 0; i < k->cfg.max_sessions; i++) {
        struct session *s = &k->sessions[i];
        if (s->state == SESS_FREE)
            continue;
        if (s->expires < now) {
            session_clear(s);
            continue;
        }
        if (CRYPTO_memcmp(s->id, id, KBS_SESSION_ID_LEN) == 0)
            return s;
    }
    return NULL;
}

static struct session *session_slot(struct kbs *k, time_t now)
{
    struct session *free_slot = NULL;
    for (size_t i = 0; i < k->cfg.max_sessions; i++) {
        struct session *s = &k->sessions[i];
        if (s->state != SESS_FREE && s->expires < now)
            session_clear(s);
        if (s->state == SESS_FREE && free_slot == NULL)
            free_slot = s;
    }
    return free_slot;
}

/* ---- JSON helpers for untrusted bodies ---- */

static json_t *load_object(const uint8_t *body, size_t len, const char *what, struct cairn_error *err)
{
    json_error_t je;
    if (len > KBS_MAX_BODY) {
        cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: more than %u bytes", what, KBS_MAX_BODY);
        return NULL;
    }
    json_t *j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        cairn_errf(err, CAIRN_ERR_INVALID, "deserialize %s: invalid JSON at line %d column %d: %s", what, je.line,
                   je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        cairn_errf(err, CAIRN_ERR_INVALID, "deserialize %s: expected a JSON object", what);
        return NULL;
    }
    return j;
}

/* ---- /auth ---- */

/* "0.4.0" exactly, as Trustee's semver requirement "=0.4.0": major.minor.patch
 * without leading zeros, no pre-release (build metadata is ignored by semver
 * matching and accepted). */
static bool version_ok(const char *v)
{
    const char *want = KBS_PROTOCOL_VERSION;
    size_t n = strlen(want);
    return strncmp(v, want, n) == 0 && (v[n] == '\0' || v[n] == '+');
}

enum kbs_err kbs_auth(struct kbs *k, const uint8_t *body, size_t len, char **out_json, struct kbs_cookie *out_cookie,
                      struct cairn_error *err)
{
    struct cairn_error e = {0};
    json_t *req = load_object(body, len, "Request", &e);
    if (req == NULL)
        return fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Auth failed: %s", cairn_error_msg(&e));
    const json_t *ver = json_object_get(req, "version"), *tee = json_object_get(req, "tee");
    enum kbs_tee t;
    enum kbs_err r = KBS_OK;
    if (!json_is_string(ver) || !json_is_string(tee) || json_object_get(req, "extra-params") == NULL) {
        r = fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Auth failed: deserialize Request: expected \"version\" "
                 "and \"tee\" strings and \"extra-params\"");
    } else if (!version_ok(json_string_value(ver))) {
        r = fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Auth failed: KBS Client Protocol Version Mismatch: "
                 "expect =" KBS_PROTOCOL_VERSION " while the request is %.64s", json_string_value(ver));
    } else if (kbs_tee_parse(json_string_value(tee), &t) != 0) {
        r = fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Auth failed: deserialize Request: unknown tee \"%.32s\"",
                 json_string_value(tee));
    } else if (t == KBS_TEE_UNSUPPORTED) {
        r = fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Auth failed: tee \"%.32s\" is not verified by Cairn "
                 "(tdx, snp, az-snp-vtpm, az-tdx-vtpm; sample in simulation)", json_string_value(tee));
    } else if (t == KBS_TEE_SAMPLE && !core_is_simulation(k->core)) {
        r = fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Auth failed: tee \"sample\" is accepted only by a "
                 "Coordinator in simulation mode");
    }
    json_decref(req);
    if (r != KBS_OK)
        return r;

    uint8_t raw[KBS_NONCE_BYTES], idb[KBS_SESSION_ID_LEN / 2];
    if (cc_random(raw, sizeof(raw)) != 0 || cc_random(idb, sizeof(idb)) != 0)
        return fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Auth failed: no randomness");
    char *nonce = cairn_base64_encode(raw, sizeof(raw)), *id = cairn_hex_encode(idb, sizeof(idb));
    /* Trustee answers "extra-params": "" for every TEE but IBM SE: the guest
     * then hashes with its default, SHA-384 */
    json_t *ch = nonce != NULL ? json_pack("{s:s, s:s}", "nonce", nonce, "extra-params", "") : NULL;
    char *s = ch != NULL ? json_dumps(ch, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(ch);
    if (s == NULL || id == NULL) {
        free(nonce);
        free(id);
        free(s);
        return fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Auth failed: out of memory");
    }
    time_t now = time(NULL);
    pthread_mutex_lock(&k->lock);
    struct session *slot = session_slot(k, now);
    if (slot != NULL) {
        slot->state = SESS_AUTHED;
        memcpy(slot->id, id, KBS_SESSION_ID_LEN + 1);
        slot->expires = now + (time_t)k->cfg.session_ttl_s;
        slot->tee = t;
        snprintf(slot->nonce, sizeof(slot->nonce), "%s", nonce);
        memcpy(out_cookie->id, id, KBS_SESSION_ID_LEN + 1);
        out_cookie->expires = slot->expires;
    }
    pthread_mutex_unlock(&k->lock);
    free(nonce);
    free(id);
    if (slot == NULL) {
        free(s);
        return fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Auth failed: %zu sessions open, try again later",
                    k->cfg.max_sessions);
    }
    *out_json = s;
    return KBS_OK;
}

/* ---- the token key's certificate ---- */

/* (Re)issues the token certificate when the Intermediate changed (manifest
 * update) or it nears its end. Under k->lock. */
static int token_cert_ensure(struct kbs *k, struct core_snap *s, time_t now, struct cairn_error *err)
{
    if (k->token_cert != NULL && k->token_issuer != NULL && cc_cert_equal(k->token_issuer, s->intermediate_cert) &&
        k->token_cert_expires > now + (time_t)k->cfg.token_ttl_s)
        return 0;
    struct cc_cert_template t = {0};
    t.subject.common_name = "Cairn KBS attestation token signer";
    t.key_usage = CC_KU_DIGITAL_SIGNATURE;
    t.max_path_len = -1;
    t.not_before = now - 60;
    t.not_after = now + KBS_TOKEN_CERT_LIFETIME;
    struct cc_extension mark = {KBS_TOKEN_SIGNER_OID, g_token_signer_mark, sizeof(g_token_signer_mark), false};
    t.extensions = &mark;
    t.n_extensions = 1;
    X509 *cert = NULL;
    int rc = cc_cert_issue(&t, k->token_key, s->intermediate_cert, s->intermediate_key, &cert, err);
    if (rc != 0)
        return rc;
    X509_free(k->token_cert);
    X509_free(k->token_issuer);
    k->token_cert = cert;
    X509_up_ref(s->intermediate_cert);
    k->token_issuer = s->intermediate_cert;
    k->token_cert_expires = t.not_after;
    return 0;
}

X509 *kbs_token_cert(struct kbs *k)
{
    struct core_snap *s = core_snap_get(k->core);
    X509 *c = NULL;
    pthread_mutex_lock(&k->lock);
    if (s->intermediate_cert != NULL && token_cert_ensure(k, s, time(NULL), NULL) == 0) {
        X509_up_ref(k->token_cert);
        c = k->token_cert;
    }
    pthread_mutex_unlock(&k->lock);
    core_snap_put(s);
    return c;
}

static json_t *b64_der(X509 *x)
{
    uint8_t *der = NULL;
    size_t n = 0;
    if (cc_cert_to_der(x, &der, &n) != 0)
        return NULL;
    char *b = cairn_base64_encode(der, n);
    free(der);
    json_t *j = b != NULL ? json_string(b) : NULL;
    free(b);
    return j;
}

static char *issue_token(struct kbs *k, struct core_snap *s, json_t *claims, struct cairn_error *err)
{
    time_t now = time(NULL);
    char *tok = NULL;
    pthread_mutex_lock(&k->lock);
    if (token_cert_ensure(k, s, now, err) == 0) {
        json_t *x5c = json_pack("[o, o, o]", b64_der(k->token_cert), b64_der(s->intermediate_cert),
                                b64_der(s->root_cert));
        json_t *jwk = cc_jwk_public(k->token_key);
        if (x5c != NULL && jwk != NULL && json_object_set_new(claims, "jwk", jwk) == 0) {
            jwk = NULL;
            cc_jwt_sign(k->token_key, x5c, claims, &tok, err);
        }
        json_decref(jwk);
        json_decref(x5c);
    }
    pthread_mutex_unlock(&k->lock);
    return tok;
}

/* Verifies a token against the current snapshot: x5c[0] chains through the
 * current Intermediate to the Root, its key signed the token, it is within
 * its lifetime and was issued for the current manifest. *out: claims. */
static enum kbs_err verify_token(struct core_snap *s, const char *tok, json_t **out, struct cairn_error *err)
{
    struct cairn_error e = {0};
    json_t *hdr = NULL, *claims = NULL;
    X509 *leaf = NULL;
    enum kbs_err r = KBS_ERR_TOKEN_VERIFIER;
    if (cc_jwt_decode(tok, strlen(tok), &hdr, &claims, &e) != 0) {
        fail(err, r, "Token Verifier error: %s", cairn_error_msg(&e));
        goto out;
    }
    const json_t *x5c = json_object_get(hdr, "x5c");
    const char *leaf_b64 = json_string_value(json_array_get(x5c, 0));
    uint8_t *der = NULL;
    size_t dl = 0;
    if (leaf_b64 == NULL || strlen(leaf_b64) > 16384 ||
        cairn_base64_decode(leaf_b64, strlen(leaf_b64), &der, &dl) != 0 || cc_cert_from_der(der, dl, &leaf, NULL) != 0) {
        free(der);
        fail(err, r, "Token Verifier error: token header has no x5c certificate");
        goto out;
    }
    free(der);
    STACK_OF(X509) *inter = sk_X509_new_null(), *roots = sk_X509_new_null();
    int crc = CAIRN_ERR_NOMEM;
    if (inter != NULL && roots != NULL && sk_X509_push(inter, s->intermediate_cert) > 0 &&
        sk_X509_push(roots, s->root_cert) > 0)
        crc = cc_chain_verify(leaf, inter, roots, NULL, 0, &e);
    sk_X509_free(inter);
    sk_X509_free(roots);
    if (crc != 0) {
        fail(err, r, "Token Verifier error: the token certificate does not chain to this deployment's root: %s",
             cairn_error_msg(&e));
        goto out;
    }
    /* only the token signer's certificate: not a marble leaf nor a cert
     * secret, which chain to the same Intermediate */
    ASN1_OBJECT *oid = OBJ_txt2obj(KBS_TOKEN_SIGNER_OID, 1), *mt = OBJ_txt2obj("1.3.9903.2.1", 1);
    int has_mark = oid != NULL ? X509_get_ext_by_OBJ(leaf, oid, -1) : -1;
    int has_marble = mt != NULL ? X509_get_ext_by_OBJ(leaf, mt, -1) : -1;
    ASN1_OBJECT_free(oid);
    ASN1_OBJECT_free(mt);
    if (has_mark < 0 || has_marble >= 0) {
        fail(err, r, "Token Verifier error: the token is not signed by the Coordinator's token key");
        goto out;
    }
    if (cc_jwt_verify_sig(tok, strlen(tok), X509_get0_pubkey(leaf), &e) != 0) {
        fail(err, r, "Token Verifier error: %s", cairn_error_msg(&e));
        goto out;
    }
    time_t now = time(NULL);
    const json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    if (!json_is_integer(exp) || json_integer_value(exp) < now) {
        fail(err, r, "Token Verifier error: token expired");
        goto out;
    }
    if (json_is_integer(nbf) && json_integer_value(nbf) > now + 5) {
        fail(err, r, "Token Verifier error: token not yet valid");
        goto out;
    }
    const char *mh = json_string_value(json_object_get(json_object_get(claims, "cairn"), "manifest"));
    if (mh == NULL || strcmp(mh, s->manifest_hash) != 0) {
        fail(err, r, "Token Verifier error: the token was issued for another manifest; attest again");
        goto out;
    }
    *out = claims;
    claims = NULL;
    r = KBS_OK;
out:
    json_decref(hdr);
    json_decref(claims);
    X509_free(leaf);
    return r;
}

/* ---- /attest ---- */

static enum attest_type package_tee(enum kbs_tee t)
{
    return t == KBS_TEE_SNP || t == KBS_TEE_AZ_SNP_VTPM ? ATTEST_SNP : ATTEST_TDX;
}

json_t *kbs_match_workloads(const struct manifest *m, enum kbs_tee t, const struct attest_claims *c, char *why,
                               size_t why_len)
{
    json_t *names = json_array();
    why[0] = '\0';
    for (size_t i = 0; names != NULL && i < m->coco.n_workloads; i++) {
        const struct manifest_coco_workload *w = &m->coco.workloads[i];
        const struct manifest_package *p = manifest_find_package(m, w->package);
        if (p == NULL)
            continue;
        if (t == KBS_TEE_SAMPLE) {
            /* simulation: no identity to match, as for marbles with sim evidence */
            json_array_append_new(names, json_string(w->name));
            continue;
        }
        if (p->pkg.tee != package_tee(t)) {
            if (why[0] == '\0')
                snprintf(why, why_len, "workload %s: package %s is %s, the evidence is %s", w->name, w->package,
                         attest_type_name(p->pkg.tee), kbs_tee_name(t));
            continue;
        }
        struct cairn_error pe = {0};
        if (tee_policy_match(&p->pkg, c, &pe) != 0) {
            if (why[0] == '\0')
                snprintf(why, why_len, "workload %s: package %s: %s", w->name, w->package, cairn_error_msg(&pe));
            continue;
        }
        json_array_append_new(names, json_string(w->name));
    }
    return names;
}

/* ---- init-data (Trustee's builtin attestation service: format "toml", the
 * document's own algorithm over its exact bytes) ---- */

int kbs_init_data_parse(const json_t *init, struct initdata_digest *out, struct cairn_error *err)
{
    const json_t *fmt = json_object_get(init, "format"), *body = json_object_get(init, "body");
    if (!json_is_object(init) || !json_is_string(fmt) || !json_is_string(body))
        return cairn_errf(err, CAIRN_ERR_INVALID, "deserialize Attestation: init-data must be {format, body}");
    if (strcmp(json_string_value(fmt), "toml") != 0)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "init-data: unsupported format \"%.32s\" (\"toml\", as "
                          "guest-components send it)", json_string_value(fmt));
    struct cairn_error e = {0};
    if (initdata_digest((const uint8_t *)json_string_value(body), json_string_length(body), out, &e) != 0)
        return cairn_errf(err, e.code != 0 ? e.code : CAIRN_ERR_INVALID, "init-data: %s", cairn_error_msg(&e));
    return 0;
}

/* additional_evidence: guest-components send "" without device attesters;
 * Trustee parses anything else as a JSON map TEE -> evidence, so "{}" (its
 * protocol document's example) is no device. Device evidence (nvidia, ...)
 * is refused: Cairn has no verifier for it. */
int kbs_additional_evidence_check(const json_t *add, struct cairn_error *err)
{
    if (!json_is_string(add))
        return cairn_errf(err, CAIRN_ERR_INVALID, "deserialize Attestation: additional_evidence is not a string");
    if (json_string_length(add) == 0)
        return 0;
    json_error_t je;
    json_t *aj = json_loadb(json_string_value(add), json_string_length(add), JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(aj)) {
        json_decref(aj);
        return cairn_errf(err, CAIRN_ERR_INVALID, "deserialize Attestation: additional_evidence is not a JSON object "
                          "of TEE evidence (\"\" when there is none)");
    }
    if (json_object_size(aj) == 0) {
        json_decref(aj);
        return 0;
    }
    char devs[128] = "";
    const char *kname;
    json_t *kv;
    json_object_foreach(aj, kname, kv) {
        (void)kv;
        size_t dl = strlen(devs);
        if (dl + 2 < sizeof(devs))
            snprintf(devs + dl, sizeof(devs) - dl, "%s%.24s", dl ? ", " : "", kname);
    }
    json_decref(aj);
    return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "additional evidence of attested devices (%s) is not verified by "
                      "Cairn; send none (\"\")", devs);
}

/* The hex claim `key` of `c` equals `want` (len bytes). */
static bool claim_bytes_equal(const struct attest_claims *c, const char *key, const uint8_t *want, size_t len)
{
    const char *hex = json_string_value(json_object_get(c->json, key));
    uint8_t got[64];
    return hex != NULL && len <= sizeof(got) && strlen(hex) == 2 * len && cairn_hex_decode_exact(hex, got, len) == 0 &&
           CRYPTO_memcmp(got, want, len) == 0;
}

int kbs_init_data_check(enum kbs_tee t, const struct initdata_digest *d, const struct attest_claims *c,
                        struct cairn_error *err)
{
    switch (t) {
    case KBS_TEE_TDX:
        if (!claim_bytes_equal(c, "mr_config_id", d->mr_config_id, sizeof(d->mr_config_id)))
            return cairn_errf(err, CAIRN_ERR_VERIFY, "init-data: the TD quote's MRCONFIGID is not the %s digest of "
                              "the init-data (zero-padded/truncated to 48 bytes)", d->algorithm);
        return 0;
    case KBS_TEE_SNP:
        if (!claim_bytes_equal(c, "host_data", d->host_data, sizeof(d->host_data)))
            return cairn_errf(err, CAIRN_ERR_VERIFY, "init-data: the SNP report's HOST_DATA is not the %s digest of "
                              "the init-data (zero-padded/truncated to 32 bytes)", d->algorithm);
        return 0;
    case KBS_TEE_SAMPLE:
        return 0; /* sample evidence has no such field (recorded, not bound) */
    default:
        /* az-*: PCR 8, checked inside kbs_evidence_azure_verify */
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "init-data: checked by the %s verifier", kbs_tee_name(t));
    }
}

/* The register that binds the init-data of `t` (the token names it). */
static const char *init_data_register(enum kbs_tee t)
{
    switch (t) {
    case KBS_TEE_TDX: return "MRCONFIGID";
    case KBS_TEE_SNP: return "HOST_DATA";
    case KBS_TEE_AZ_SNP_VTPM:
    case KBS_TEE_AZ_TDX_VTPM: return "PCR8";
    default: return "none (sample evidence has no init-data field; simulation only)";
    }
}

int kbs_verify_evidence(struct core *c, enum kbs_tee t, const json_t *primary, const uint8_t *rd, size_t rd_len,
                        const struct initdata_digest *init, struct attest_claims *out, struct cairn_error *err)
{
    struct attest_claims claims = {0};
    int rc;
    enum attest_type hw = ATTEST_SIM;
    if (t == KBS_TEE_AZ_SNP_VTPM || t == KBS_TEE_AZ_TDX_VTPM) {
        /* the vTPM quote's nonce is the digest itself (Trustee compares it
         * unpadded), the HCL runtime data and the hardware report bind the AK */
        const char *name = kbs_tee_name(t);
        if ((rc = kbs_azure_tee_type(name, &hw, err)) != 0)
            return rc;
        char *text = json_dumps(primary, JSON_COMPACT);
        if (text == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s evidence: not a JSON object", name);
        if (init != NULL && init->digest_len != 32) {
            free(text);
            rc = cairn_errf(err, CAIRN_ERR_VERIFY, "init-data: %s digest; the vTPM binds a sha256 digest in PCR 8",
                            init->algorithm);
            core_metrics_evidence(c, hw, false);
            return rc;
        }
        rc = kbs_evidence_azure_verify(name, text, strlen(text), rd, rd_len, init != NULL ? init->digest : NULL,
                                       init != NULL ? init->digest_len : 0, c->trust, 0, &claims, err);
        free(text);
        if (rc == 0 && (rc = core_trust_check_claims(c, &claims, err)) != 0)
            attest_claims_free(&claims);
        core_metrics_evidence(c, hw, rc == 0);
        if (rc == 0)
            *out = claims;
        return rc;
    }
    /* kbs_auth admits no sample session outside simulation; the same rule
     * here, so that no other caller of this function can skip it */
    if (t == KBS_TEE_SAMPLE && !core_is_simulation(c))
        return cairn_errf(err, CAIRN_ERR_PERMISSION, "sample evidence is accepted only in simulation mode");
    struct kbs_evidence_store store = {0};
    struct attest_evidence ev = {0};
    if ((rc = kbs_evidence_decode(t, primary, &store, &ev, err)) != 0) {
        cairn_err_prefix(err, "%s evidence", kbs_tee_name(t));
        return rc;
    }
    struct attest_trust trust;
    core_trust_get(c, ev.type, &trust);
    rc = attest_verify(&ev, &trust, rd, rd_len, &claims, err);
    if (rc == 0 && (rc = core_trust_check_claims(c, &claims, err)) == 0 && init != NULL)
        rc = kbs_init_data_check(t, init, &claims, err);
    if (rc != 0 && claims.json != NULL)
        attest_claims_free(&claims);
    core_metrics_evidence(c, ev.type, rc == 0);
    kbs_evidence_store_free(&store);
    if (rc == 0)
        *out = claims;
    return rc;
}

enum kbs_err kbs_attest(struct kbs *k, const char *session_id, const uint8_t *body, size_t len, char **out_json,
                        struct kbs_cookie *out_cookie, struct cairn_error *err)
{
    struct cairn_error e = {0};
    time_t now = time(NULL);
    struct session sess = {0};
    if (session_id == NULL)
        return fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Attest failed: cookie not found (POST /kbs/v0/auth "
                    "first)");
    /* the session leaves the table now: whatever happens below, its nonce
     * answers no second attestation */
    pthread_mutex_lock(&k->lock);
    struct session *sp = session_find(k, session_id, now);
    enum sess_state st = sp != NULL ? sp->state : SESS_FREE;
    if (sp != NULL && sp->state == SESS_AUTHED) {
        sess = *sp;
        memset(sp, 0, sizeof(*sp));
    }
    pthread_mutex_unlock(&k->lock);
    if (st == SESS_FREE)
        return fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Attest failed: session not found or expired "
                    "(a session answers one attestation; start again with /kbs/v0/auth)");
    if (st == SESS_ATTESTED)
        return fail(err, KBS_ERR_ATTESTATION, "RCAR handshake Attest failed: session already attested (start "
                    "again with /kbs/v0/auth for a new challenge)");

    enum kbs_err r = KBS_ERR_ATTESTATION;
    json_t *req = NULL, *jwk = NULL, *wl = NULL, *claims_tok = NULL, *init_claim = NULL;
    struct attest_claims claims = {0};
    struct initdata_digest initd;
    bool have_claims = false, have_init = false;
    char *token = NULL;
    struct core_snap *s = core_snap_get(k->core);
    if (s->state != CORE_STATE_ACCEPTING_MARBLES || s->manifest == NULL) {
        fail(err, r, "RCAR handshake Attest failed: no manifest has been set");
        goto out;
    }
    if ((req = load_object(body, len, "Attestation", &e)) == NULL) {
        fail(err, r, "RCAR handshake Attest failed: %s", cairn_error_msg(&e));
        goto out;
    }
    const json_t *rd = json_object_get(req, "runtime-data"), *te = json_object_get(req, "tee-evidence"),
                 *init = json_object_get(req, "init-data");
    const json_t *nonce = json_object_get(rd, "nonce"), *pk = json_object_get(rd, "tee-pubkey");
    const json_t *primary = json_object_get(te, "primary_evidence"), *add = json_object_get(te, "additional_evidence");
    if (!json_is_string(nonce) || pk == NULL || primary == NULL || !json_is_string(add)) {
        fail(err, r, "RCAR handshake Attest failed: deserialize Attestation: expected runtime-data {nonce, "
             "tee-pubkey} and tee-evidence {primary_evidence, additional_evidence}");
        goto out;
    }
    if (init != NULL && !json_is_null(init)) {
        if (kbs_init_data_parse(init, &initd, &e) != 0) {
            fail(err, r, "RCAR handshake Attest failed: %s", cairn_error_msg(&e));
            goto out;
        }
        have_init = true;
    }
    size_t nl = json_string_length(nonce);
    if (nl != strlen(sess.nonce) || CRYPTO_memcmp(json_string_value(nonce), sess.nonce, nl) != 0) {
        fail(err, r, "RCAR handshake Attest failed: the nonce in the handshake session is different from the "
             "client side in KBS protocol's Attestation message");
        goto out;
    }
    if (cc_jwk_tee_parse(pk, &jwk, &e) != 0) {
        fail(err, r, "RCAR handshake Attest failed: %s", cairn_error_msg(&e));
        goto out;
    }
    const char *add_s = json_string_value(add);
    if (kbs_additional_evidence_check(add, &e) != 0) {
        fail(err, r, "RCAR handshake Attest failed: %s", cairn_error_msg(&e));
        goto out;
    }
    uint8_t digest[48];
    if (kbs_runtime_data_digest(sess.nonce, jwk, add_s, digest, &e) != 0) {
        fail(err, r, "RCAR handshake Attest failed: %s", cairn_error_msg(&e));
        goto out;
    }
    if (kbs_verify_evidence(k->core, sess.tee, primary, digest, sizeof(digest), have_init ? &initd : NULL, &claims,
                            &e) != 0) {
        fail(err, r, "RCAR handshake Attest failed: verify TEE evidence failed: %s", cairn_error_msg(&e));
        goto out;
    }
    have_claims = true;
    if (have_init) {
        char *dh = cairn_hex_encode(initd.digest, initd.digest_len);
        init_claim = dh != NULL ? json_pack("{s:s, s:s, s:s, s:s}", "format", "toml", "algorithm", initd.algorithm,
                                            "digest", dh, "bound_by", init_data_register(sess.tee))
                                : NULL;
        free(dh);
        if (init_claim == NULL) {
            fail(err, r, "RCAR handshake Attest failed: out of memory");
            goto out;
        }
    }
    char why[CAIRN_ERROR_MSG_MAX / 2];
    wl = kbs_match_workloads(s->manifest, sess.tee, &claims, why, sizeof(why));
    if (wl == NULL || json_array_size(wl) == 0) {
        fail(err, r, "RCAR handshake Attest failed: the evidence matches no ConfidentialContainers workload%s%s",
             why[0] != '\0' ? ": " : "", why);
        goto out;
    }
    if (sess.tee == KBS_TEE_SAMPLE)
        LOG_WARN("*** INSECURE: KBS session attested with \"sample\" evidence (no TEE proof); admitted only because "
                 "the Coordinator runs in simulation mode ***");
    /* the token: who (workloads), which evidence (digest, claims), which key */
    uint8_t evd[32];
    char *evjson = json_dumps(primary, JSON_COMPACT | JSON_SORT_KEYS);
    cc_sha256(evjson != NULL ? evjson : "", evjson != NULL ? strlen(evjson) : 0, evd);
    free(evjson);
    char *evhex = cairn_hex_encode(evd, sizeof(evd));
    uint8_t jti[16];
    cc_random(jti, sizeof(jti));
    char *jtihex = cairn_hex_encode(jti, sizeof(jti));
    claims_tok = json_pack("{s:s, s:I, s:I, s:I, s:s?, s:s, s:O, s:O, s:{s:s, s:O, s:s?, s:O*}}", "iss",
                           KBS_TOKEN_ISSUER, "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
                           (json_int_t)(now + (time_t)k->cfg.token_ttl_s), "jti", jtihex, "tee",
                           kbs_tee_name(sess.tee), "tee-pubkey", jwk, "tcb-status", claims.json, "cairn", "manifest",
                           s->manifest_hash, "workloads", wl, "evidence_sha256", evhex, "init_data", init_claim);
    free(jtihex);
    free(evhex);
    if (claims_tok == NULL || (token = issue_token(k, s, claims_tok, &e)) == NULL) {
        fail(err, r, "RCAR handshake Attest failed: issuing the token failed: %s", cairn_error_msg(&e));
        goto out;
    }
    json_t *resp = json_pack("{s:s}", "token", token);
    *out_json = resp != NULL ? json_dumps(resp, JSON_COMPACT) : NULL;
    json_decref(resp);
    if (*out_json == NULL) {
        fail(err, r, "RCAR handshake Attest failed: out of memory");
        goto out;
    }
    /* back into the table as attested, same id and expiry (Trustee keeps both) */
    pthread_mutex_lock(&k->lock);
    struct session *slot = session_slot(k, now);
    if (slot != NULL) {
        *slot = sess;
        slot->state = SESS_ATTESTED;
        slot->token = token;
        token = NULL;
    }
    pthread_mutex_unlock(&k->lock);
    memcpy(out_cookie->id, sess.id, sizeof(out_cookie->id));
    out_cookie->expires = sess.expires;
    char *names = json_dumps(wl, JSON_COMPACT);
    LOG_INFO("kbs: session attested (%s evidence) as workload(s) %s", kbs_tee_name(sess.tee), names ? names : "?");
    free(names);
    r = KBS_OK;
out:
    core_snap_put(s);
    json_decref(req);
    json_decref(jwk);
    json_decref(wl);
    json_decref(claims_tok);
    json_decref(init_claim);
    if (have_claims)
        attest_claims_free(&claims);
    OPENSSL_cleanse(&initd, sizeof(initd));
    free(token);
    OPENSSL_cleanse(&sess, sizeof(sess));
    return r;
}

/* ---- /resource ---- */

/* The bytes a resource serves (kbs_part rules in manifest.h). Owned output,
 * wiped by the caller. */
static int resource_bytes(const struct manifest_secret_value *v, enum manifest_kbs_part part, uint8_t **out,
                          size_t *out_len)
{
    bool cert = v->type == MANIFEST_SECRET_CERT_RSA || v->type == MANIFEST_SECRET_CERT_ECDSA ||
                v->type == MANIFEST_SECRET_CERT_ED25519;
    char *pem = NULL;
    size_t n = 0;
    if (!cert) {
        if (v->private_key == NULL)
            return CAIRN_ERR_NOT_FOUND;
        *out = malloc(v->private_len > 0 ? v->private_len : 1);
        if (*out == NULL)
            return CAIRN_ERR_NOMEM;
        memcpy(*out, v->private_key, v->private_len);
        *out_len = v->private_len;
        return 0;
    }
    int rc = CAIRN_ERR_NOT_FOUND;
    if (part == MANIFEST_KBS_PART_PRIVATE && v->private_key != NULL) {
        EVP_PKEY *key = NULL;
        if (cc_key_from_der(v->private_key, v->private_len, &key, NULL) == 0)
            rc = cc_key_to_pkcs8_pem(key, &pem, &n);
        EVP_PKEY_free(key);
    } else if (part == MANIFEST_KBS_PART_PUBLIC && v->public_key != NULL) {
        EVP_PKEY *key = NULL;
        if (cc_pubkey_from_der(v->public_key, v->public_len, &key, NULL) == 0)
            rc = cc_pubkey_to_spki_pem(key, &pem, &n);
        EVP_PKEY_free(key);
    } else if ((part == MANIFEST_KBS_PART_CERT || part == MANIFEST_KBS_PART_DEFAULT) && v->cert != NULL) {
        X509 *x = NULL;
        if (cc_cert_from_der(v->cert, v->cert_len, &x, NULL) == 0)
            rc = cc_cert_to_pem(x, &pem, &n);
        X509_free(x);
    }
    if (rc != 0)
        return rc;
    *out = (uint8_t *)pem;
    *out_len = n;
    return 0;
}

enum kbs_err kbs_resource(struct kbs *k, const char *session_id, const char *token, const char *path, char **out_jwe,
                          struct cairn_error *err)
{
    if (!manifest_kbs_path_ok(path, 255))
        return fail(err, KBS_ERR_INVALID_PATH, "Request path resource/%.200s is invalid (repository/type/tag)", path);
    char *tok = NULL;
    if (session_id != NULL) {
        pthread_mutex_lock(&k->lock);
        struct session *sp = session_find(k, session_id, time(NULL));
        if (sp != NULL && sp->state == SESS_ATTESTED)
            tok = strdup(sp->token);
        pthread_mutex_unlock(&k->lock);
    }
    if (tok == NULL && token != NULL)
        tok = strdup(token);
    if (tok == NULL)
        return fail(err, KBS_ERR_TOKEN_NOT_FOUND, "Attestation Token not found (no attested session cookie and no "
                    "bearer token)");
    enum kbs_err r;
    json_t *claims = NULL;
    uint8_t *val = NULL;
    size_t vlen = 0;
    struct core_snap *s = core_snap_get(k->core);
    if (s->manifest == NULL) {
        r = fail(err, KBS_ERR_TOKEN_VERIFIER, "Token Verifier error: no manifest has been set");
        goto out;
    }
    if ((r = verify_token(s, tok, &claims, err)) != KBS_OK)
        goto out;
    /* the first workload (sorted, as listed in the token) that maps the path */
    const json_t *wl = json_object_get(json_object_get(claims, "cairn"), "workloads");
    const struct manifest_coco_workload *w = NULL;
    const struct manifest_kbs_resource *res = NULL;
    size_t i;
    const json_t *wn;
    json_array_foreach(wl, i, wn) {
        const char *name = json_string_value(wn);
        w = name != NULL ? manifest_coco_find_workload(s->manifest, name) : NULL;
        res = w != NULL ? manifest_coco_find_resource(w, path) : NULL;
        if (res != NULL)
            break;
    }
    if (res == NULL) {
        r = fail(err, KBS_ERR_POLICY_DENY, "Access denied by policy: resource %s is not in the Resources of the "
                 "attested workload", path);
        goto out;
    }
    const struct manifest_secret_value *v = manifest_secret_set_find(s->secrets, res->secret);
    if (v == NULL || resource_bytes(v, res->part, &val, &vlen) != 0) {
        r = fail(err, KBS_ERR_PLUGIN_INTERNAL, "Plugin internal error: secret %s of resource %s has no value (a "
                 "UserDefined secret is set with `cairn secret set`)", res->secret, path);
        goto out;
    }
    /* log first: a release that cannot be recorded does not happen */
    const json_t *c = json_object_get(claims, "cairn");
    json_t *fields = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:O?, s:s*}", "resource", path, "secret",
                               res->secret, "workload", w->name, "tee",
                               json_string_value(json_object_get(claims, "tee")), "evidence_sha256",
                               json_string_value(json_object_get(c, "evidence_sha256")), "token",
                               json_string_value(json_object_get(claims, "jti")), "tee-pubkey",
                               json_object_get(claims, "tee-pubkey"), "init_data",
                               json_string_value(json_object_get(json_object_get(c, "init_data"), "digest")));
    struct cairn_error pe = {0};
    json_t *line = fields != NULL ? core_log_line("kbs resource released", fields) : NULL;
    json_decref(fields);
    int prc = CAIRN_ERR_NOMEM;
    if (line != NULL) {
        pthread_mutex_lock(&k->core->lock);
        json_array_append_new(k->core->update_log, line);
        uint64_t gen = ++k->core->gen;
        pthread_mutex_unlock(&k->core->lock);
        prc = core_persist_gen(k->core, gen, &pe);
    }
    if (prc != 0) {
        r = fail(err, KBS_ERR_PLUGIN_INTERNAL, "Plugin internal error: recording the release failed: %s",
                 cairn_error_msg(&pe));
        goto out;
    }
    struct cairn_error je = {0};
    if (cc_jwe_encrypt(json_object_get(claims, "tee-pubkey"), val, vlen, out_jwe, &je) != 0) {
        r = fail(err, KBS_ERR_JWE, "JWE failed: %s", cairn_error_msg(&je));
        goto out;
    }
    LOG_INFO("kbs: released %s (secret %s) to workload %s", path, res->secret, w->name);
    r = KBS_OK;
out:
    core_snap_put(s);
    json_decref(claims);
    if (val != NULL)
        cc_free_secret(val, vlen);
    free(tok);
    return r;
}
