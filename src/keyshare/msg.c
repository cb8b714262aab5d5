/* Key API messages and the evidence binding (contract in keyshare.h).
 * Parsers are pure: no I/O, no logging, output only on success. */
#include <string.h>

#include <openssl/crypto.h>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "keyshare/keyshare.h"

int ks_exporter(SSL *ssl, uint8_t out[32])
{
    if (ssl == NULL || SSL_version(ssl) != TLS1_3_VERSION)
        return CAIRN_ERR_CRYPTO;
    if (SSL_export_keying_material(ssl, out, 32, KS_EXPORTER_LABEL, strlen(KS_EXPORTER_LABEL), NULL, 0, 0) != 1)
        return CAIRN_ERR_CRYPTO;
    return 0;
}

void ks_binding_raw(const char *label, const uint8_t cert_hash[32], const uint8_t exporter[32], uint8_t out[64])
{
    /* label || 0x00 || SHA-256(cert DER) || exporter: fixed-size parts after
     * a NUL-terminated label, so no two inputs give the same bytes */
    size_t ll = strlen(label);
    uint8_t buf[128 + 65];
    if (ll > 128)
        ll = 128;
    memcpy(buf, label, ll);
    buf[ll] = 0;
    memcpy(buf + ll + 1, cert_hash, 32);
    memcpy(buf + ll + 33, exporter, 32);
    memset(out, 0, 64);
    cc_sha256(buf, ll + 65, out);
}

int ks_binding(const char *label, X509 *cert, SSL *ssl, uint8_t out[64])
{
    uint8_t exp[32], ch[32];
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (cert == NULL || cc_cert_to_der(cert, &der, &der_len) != 0)
        return CAIRN_ERR_INVALID;
    cc_sha256(der, der_len, ch);
    free(der);
    int rc = ks_exporter(ssl, exp);
    if (rc != 0)
        return rc;
    ks_binding_raw(label, ch, exp, out);
    cc_wipe(exp, sizeof(exp));
    return 0;
}

void ks_key_id(const uint8_t key[KS_KEY_SIZE], char out[17])
{
    static const char label[] = "cairn key id v1";
    uint8_t buf[sizeof(label) + KS_KEY_SIZE], h[32];
    memcpy(buf, label, sizeof(label));   /* with its NUL */
    memcpy(buf + sizeof(label), key, KS_KEY_SIZE);
    cc_sha256(buf, sizeof(buf), h);
    cc_wipe(buf, sizeof(buf));
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < 8; i++) {
        out[2 * i] = hx[h[i] >> 4];
        out[2 * i + 1] = hx[h[i] & 15];
    }
    out[16] = '\0';
}

void ks_msg_clear(struct ks_msg *m)
{
    if (m == NULL)
        return;
    attest_issued_free(&m->store);
    cc_wipe(m, sizeof(*m));
}

/* One JSON object of at most `cap` bytes; duplicate keys refused. */
static int load_object(const uint8_t *body, size_t len, size_t cap, json_t **out, struct cairn_error *err)
{
    if (len > cap)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "message of %zu bytes exceeds the %zu-byte cap", len, cap);
    if (body == NULL || len == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "empty message");
    json_error_t je;
    json_t *j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "not JSON: %s", je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_INVALID, "expected a JSON object");
    }
    *out = j;
    return 0;
}

static int hex_member(const json_t *o, const char *name, uint8_t *out, size_t n, bool *present,
                      struct cairn_error *err)
{
    const json_t *v = json_object_get(o, name);
    *present = false;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) != 2 * n ||
        cairn_hex_decode_exact(json_string_value(v), out, n) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: expected %zu hex digits", name, 2 * n);
    *present = true;
    return 0;
}

static int parse_common(const json_t *j, struct ks_msg *m, struct cairn_error *err)
{
    int rc = attest_evidence_from_json(j, &m->store, &m->ev, err);
    if (rc != 0)
        return rc;
    return hex_member(j, "simIdentity", m->sim_identity, sizeof(m->sim_identity), &m->has_sim_identity, err);
}

/* The members only a request carries: an optional "keyRef", never a "key". */
static int request_fields(const json_t *j, struct ks_msg *m, struct cairn_error *err)
{
    const json_t *ref = json_object_get(j, "keyRef");
    if (ref != NULL && !json_is_null(ref)) {
        size_t hl = json_is_string(ref) ? json_string_length(ref) : 0;
        if (hl < 2 || hl > 2 * KS_MAX_REF || hl % 2 != 0 ||
            cairn_hex_decode_exact(json_string_value(ref), m->key_ref, hl / 2) != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "keyRef: expected 2 to %d hex digits", 2 * KS_MAX_REF);
        m->key_ref_len = hl / 2;
    }
    if (json_object_get(j, "key") != NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "a request carries no \"key\"");
    return 0;
}

/* The members only a response carries: the key and the id that names it. */
static int response_fields(const json_t *j, struct ks_msg *m, struct cairn_error *err)
{
    const json_t *k = json_object_get(j, "key"), *kid = json_object_get(j, "keyId");
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    int rc = 0;
    if (!json_is_string(k) || json_string_length(k) > 64)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "key: expected base64 of %d bytes", KS_KEY_SIZE);
    if (rc == 0 && (cairn_base64_decode(json_string_value(k), json_string_length(k), &raw, &raw_len) != 0 ||
                    raw_len != KS_KEY_SIZE))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "key: expected base64 of %d bytes", KS_KEY_SIZE);
    if (rc == 0) {
        memcpy(m->key, raw, KS_KEY_SIZE);
        m->has_key = true;
        ks_key_id(m->key, m->key_id);
        if (!json_is_string(kid) || json_string_length(kid) != 16 ||
            CRYPTO_memcmp(json_string_value(kid), m->key_id, 16) != 0)
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "keyId: does not name the key sent (damaged in transit?)");
    }
    if (raw != NULL)
        cc_free_secret(raw, raw_len);
    return rc;
}

/* One reader for both messages: the object, the evidence and simIdentity
 * they share, then the kind's own members; *out written only on success,
 * a half-parsed message (it may hold a key) wiped. */
static int parse_msg(const uint8_t *body, size_t len,
                     int (*fields)(const json_t *, struct ks_msg *, struct cairn_error *), struct ks_msg *out,
                     struct cairn_error *err)
{
    json_t *j = NULL;
    int rc = load_object(body, len, KS_MAX_MSG, &j, err);
    if (rc != 0)
        return rc;
    struct ks_msg m;
    memset(&m, 0, sizeof(m));
    rc = parse_common(j, &m, err);
    if (rc == 0)
        rc = fields(j, &m, err);
    json_decref(j);
    if (rc != 0) {
        ks_msg_clear(&m);
        return rc;
    }
    *out = m;
    return 0;
}

int ks_msg_parse_request(const uint8_t *body, size_t len, struct ks_msg *out, struct cairn_error *err)
{
    return parse_msg(body, len, request_fields, out, err);
}

int ks_msg_parse_response(const uint8_t *body, size_t len, struct ks_msg *out, struct cairn_error *err)
{
    return parse_msg(body, len, response_fields, out, err);
}

int ks_hello_parse(const uint8_t *body, size_t len, struct ks_hello *out, struct cairn_error *err)
{
    json_t *j = NULL;
    int rc = load_object(body, len, KS_MAX_HELLO, &j, err);
    if (rc != 0)
        return rc;
    struct ks_hello h = {0};
    const json_t *v = json_object_get(j, "version"), *t = json_object_get(j, "tee"),
                 *hk = json_object_get(j, "holdsKey");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "version: expected 1");
    else if (!json_is_string(t) || attest_type_parse(json_string_value(t), &h.tee) != 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "tee: expected one of sgx, tdx, snp, tpm, sim");
    else if (!json_is_boolean(hk))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "holdsKey: expected a boolean");
    if (rc == 0) {
        h.version = 1;
        h.holds_key = json_is_true(hk);
        *out = h;
    }
    json_decref(j);
    return rc;
}
