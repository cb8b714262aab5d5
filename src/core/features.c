/* The endpoints behind Config.FeatureGates (features.h): the monotonic
 * counters (kept in c->mono under the state lock, persisted with the sealed
 * state before an answer leaves) and sign-quote. */
#include "core/features.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "attest/attest.h"
#include "common/encoding.h"
#include "common/log.h"
#include "core/core_internal.h"
#include "core/ha.h"
#include "core/pki.h"
#include "crypto/crypto.h"

bool core_feature_enabled(struct core *c, const char *gate)
{
    struct core_snap *s = core_snap_get(c);
    bool on = false;
    for (size_t i = 0; s->manifest != NULL && i < s->manifest->config.n_feature_gates && !on; i++)
        on = strcasecmp(s->manifest->config.feature_gates[i], gate) == 0;
    core_snap_put(s);
    return on;
}

/* ---- marble authentication ---- */

/* The 16 bytes of an 8-4-4-4-12 UUID (the CN of a marble certificate). */
static bool uuid_bytes(const char *s, size_t n, uint8_t out[16])
{
    if (n != 36)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            i++;
            continue;
        }
        int hi = cairn_hex_digit(s[i]), lo = cairn_hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[k++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return k == 16;
}

int core_marble_auth(struct core *c, X509 *peer, char **type, uint8_t uuid[16], struct cairn_error *err)
{
    *type = NULL;
    if (peer == NULL)
        return cairn_errf(err, CAIRN_ERR_UNAUTHENTICATED, "unauthorized marble: no client certificate (present the "
                                                          "marble certificate the Coordinator issued at activation)");
    struct core_snap *s = core_snap_get(c);
    int rc = 0;
    STACK_OF(X509) *roots = NULL;
    if (s->state != CORE_STATE_ACCEPTING_MARBLES) {
        rc = cairn_errf(err, CAIRN_ERR_UNAUTHENTICATED, "unauthorized marble: server is not in expected state");
        goto out;
    }
    /* signed by the current Marble Root, within its validity (x509.Verify) */
    roots = sk_X509_new_null();
    if (roots == NULL || sk_X509_push(roots, s->marble_root_cert) <= 0) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    struct cairn_error ve = {0};
    if (cc_chain_verify(peer, NULL, roots, NULL, 0, &ve) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_UNAUTHENTICATED,
                        "unauthorized marble: the client certificate is not signed by the Marble Root: %s",
                        cairn_error_msg(&ve));
        goto out;
    }
    char cn[64] = {0};
    int cn_len = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
    if (cn_len < 0 || !uuid_bytes(cn, (size_t)cn_len, uuid)) {
        rc = cairn_errf(err, CAIRN_ERR_UNAUTHENTICATED, "unauthorized marble: the certificate's CN is not a UUID");
        goto out;
    }
    ASN1_OBJECT *oid = OBJ_txt2obj(PKI_MARBLE_TYPE_OID, 1);
    int idx = oid != NULL ? X509_get_ext_by_OBJ(peer, oid, -1) : -1;
    ASN1_OBJECT_free(oid);
    X509_EXTENSION *ext = idx >= 0 ? X509_get_ext(peer, idx) : NULL;
    ASN1_OCTET_STRING *v = ext != NULL ? X509_EXTENSION_get_data(ext) : NULL;
    if (v == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_UNAUTHENTICATED,
                        "unauthorized marble: MarbleType extension not found in certificate");
        goto out;
    }
    /* the raw extension value is the marble type (MarbleRun: string(ex.Value)) */
    int vl = ASN1_STRING_length(v);
    *type = malloc((size_t)vl + 1);
    if (*type == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(*type, ASN1_STRING_get0_data(v), (size_t)vl);
    (*type)[vl] = '\0';
out:
    sk_X509_free(roots);
    core_snap_put(s);
    return rc;
}

/* ---- monotonic counters ---- */

/* MarbleRun's counter ID: b64(type) ":" b64(uuid bytes) ":" b64(name), an
 * unambiguous concatenation. */
static char *counter_id(const char *type, const uint8_t uuid[16], const char *name)
{
    char *a = cairn_base64_encode(type, strlen(type)), *b = cairn_base64_encode(uuid, 16),
         *n = cairn_base64_encode(name, strlen(name));
    char *id = NULL;
    if (a != NULL && b != NULL && n != NULL) {
        size_t len = strlen(a) + strlen(b) + strlen(n) + 3;
        id = malloc(len);
        if (id != NULL)
            snprintf(id, len, "%s:%s:%s", a, b, n);
    }
    free(a);
    free(b);
    free(n);
    return id;
}

/* Counter values are decimal strings: JSON integers stop at 2^63-1. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (*s == '\0' || strlen(s) > 20)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || (p == s && *p == '0' && p[1] != '\0'))
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int core_mono_validate(const json_t *mono, struct cairn_error *err)
{
    if (!json_is_object(mono) || json_object_size(mono) > CORE_MONO_MAX_COUNTERS)
        return cairn_errf(err, CAIRN_ERR_INVALID, "state document: monotonicCounters: expected an object of at "
                                                  "most %d counters", CORE_MONO_MAX_COUNTERS);
    const char *k;
    json_t *v;
    uint64_t x;
    json_object_foreach((json_t *)mono, k, v) {
        if (!json_is_string(v) || !parse_u64(json_string_value(v), &x))
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "state document: monotonicCounters.%s: expected a decimal uint64 string", k);
    }
    return 0;
}

int core_mono_set(struct core *c, const char *type, const uint8_t uuid[16], const char *name, uint64_t value,
                  uint64_t *prev, struct cairn_error *err)
{
    if (strlen(name) > CORE_MONO_NAME_MAX)
        return cairn_errf(err, CAIRN_ERR_INVALID, "name: at most %d bytes", CORE_MONO_NAME_MAX);
    char *id = counter_id(type, uuid, name);
    if (id == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (c->ha != NULL) {   /* issue 9: one etcd transaction per counter change */
        if (core_get_state(c) != CORE_STATE_ACCEPTING_MARBLES) {
            free(id);
            return cairn_errf(err, CAIRN_ERR_STATE, "server is not in expected state");
        }
        int hr = ha_mono_commit(c, id, value, prev, err);
        free(id);
        return hr;
    }
    int rc = 0;
    uint64_t cur = 0, gen;
    pthread_mutex_lock(&c->lock);
    if (c->snap->state != CORE_STATE_ACCEPTING_MARBLES) {
        pthread_mutex_unlock(&c->lock);
        free(id);
        return cairn_errf(err, CAIRN_ERR_STATE, "server is not in expected state");
    }
    const json_t *v = json_object_get(c->mono, id);
    if (v != NULL && !parse_u64(json_string_value(v), &cur))
        rc = cairn_errf(err, CAIRN_ERR_INTERNAL, "counter value unreadable");
    else if (v == NULL && json_object_size(c->mono) >= CORE_MONO_MAX_COUNTERS)
        rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "too many monotonic counters (at most %d)", CORE_MONO_MAX_COUNTERS);
    if (rc == 0 && value > cur) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRIu64, value);
        if (json_object_set_new(c->mono, id, json_string(buf)) != 0)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        else
            c->gen++;
    }
    /* the generation that holds the value answered: an unchanged counter may
     * still be waiting for another request's write, which must land first */
    gen = c->gen;
    pthread_mutex_unlock(&c->lock);
    free(id);
    if (rc != 0)
        return rc;
    if ((rc = core_persist_gen(c, gen, err)) != 0)
        return cairn_err_prefix(err, "persisting the monotonic counter");
    *prev = cur;
    return 0;
}

/* ---- sign-quote ---- */

int core_sign_quote(struct core *c, const uint8_t *quote, size_t len, char **tcb_status, uint8_t **sig,
                    size_t *sig_len, struct cairn_error *err)
{
    *tcb_status = NULL;
    *sig = NULL;
    if (len == 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "empty quote");
    struct attest_evidence ev = {.type = ATTEST_SGX, .quote = quote, .quote_len = len};
    struct attest_trust trust;
    core_trust_get(c, ATTEST_SGX, &trust);
    struct attest_claims claims = {0};
    struct cairn_error ve = {0};
    int rc = attest_verify(&ev, &trust, NULL, 0, &claims, &ve);
    if (rc != 0)
        return cairn_errf(err, rc == CAIRN_ERR_NOMEM ? rc : CAIRN_ERR_VERIFY, "%s", cairn_error_msg(&ve));
    /* MarbleRun signs whatever TCB status the verification found (also
     * OutOfDate or Revoked); without collateral there is none, and a
     * signature over an unknown status could pass a relying party that only
     * rejects known-bad ones, so that is a refusal */
    const json_t *st = json_object_get(claims.json, "tcb_status");
    if (!json_is_string(st)) {
        attest_claims_free(&claims);
        return cairn_errf(err, CAIRN_ERR_VERIFY,
                          "no TCB status: the trust directory holds no TCB info for this platform (FMSPC), so the "
                          "quote's TCB level cannot be evaluated (docs/trust.md)");
    }
    char *status = strdup(json_string_value(st));
    attest_claims_free(&claims);
    char *b64 = cairn_base64_encode(quote, len);
    if (status == NULL || b64 == NULL) {
        free(status);
        free(b64);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    /* SHA-256(base64(quote) || status), signed by the root key (ECDSA DER) */
    size_t bl = strlen(b64), sl = strlen(status);
    char *msg = malloc(bl + sl + 1);
    if (msg == NULL) {
        free(status);
        free(b64);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    memcpy(msg, b64, bl);
    memcpy(msg + bl, status, sl + 1);
    free(b64);
    struct core_snap *s = core_snap_get(c);
    rc = cc_sign(s->root_key, "SHA256", msg, bl + sl, sig, sig_len);
    core_snap_put(s);
    free(msg);
    if (rc != 0) {
        free(status);
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "signing the quote failed");
    }
    *tcb_status = status;
    return 0;
}
