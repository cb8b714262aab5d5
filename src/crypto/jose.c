/* JOSE for the KBS protocol on libjose (see jose.h). libjose does the
 * cryptography (ECDH-ES + Concat KDF + AES key wrap, RSA-OAEP-256, RSA1_5,
 * A256GCM, ES256); this file only chooses the parameters and places them
 * where Trustee's peers look for them. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <jose/b64.h>
#include <jose/jwe.h>
#include <jose/jwk.h>
#include <jose/jws.h>
#include <jose/openssl.h>

#include "crypto/crypto.h"
#include "crypto/jose.h"

#define ECDH_ALG "ECDH-ES+A256KW"
#define ENC_ALG "A256GCM"

static int nomem(struct cairn_error *err)
{
    return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
}

/* A string member of at most CC_JWK_MAX_MEMBER bytes without NUL. */
static int member(const json_t *j, const char *name, const char **out, struct cairn_error *err)
{
    const json_t *v = json_object_get(j, name);
    if (v == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tee-pubkey: missing \"%s\"", name);
    if (!json_is_string(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "tee-pubkey: \"%s\" must be a string", name);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n > CC_JWK_MAX_MEMBER || strlen(s) != n)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tee-pubkey: \"%s\" is too long or contains NUL", name);
    *out = s;
    return 0;
}

/* Decoded size of an unpadded base64url member, or SIZE_MAX when malformed. */
static size_t b64url_size(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return SIZE_MAX;
    }
    if (n % 4 == 1)
        return SIZE_MAX;
    return jose_b64_dec_buf(s, n, NULL, 0);
}

int cc_jwk_tee_parse(const json_t *j, json_t **out, struct cairn_error *err)
{
    const char *kty, *alg;
    int rc;
    if (!json_is_object(j))
        return cairn_errf(err, CAIRN_ERR_INVALID, "tee-pubkey: expected a JSON Web Key object");
    if ((rc = member(j, "kty", &kty, err)) < 0 || (rc = member(j, "alg", &alg, err)) < 0)
        return rc;
    json_t *canon = NULL;
    if (strcmp(kty, "EC") == 0) {
        const char *crv, *x, *y;
        if ((rc = member(j, "crv", &crv, err)) < 0 || (rc = member(j, "x", &x, err)) < 0 ||
            (rc = member(j, "y", &y, err)) < 0)
            return rc;
        size_t want = strcmp(crv, "P-256") == 0 ? 32 : strcmp(crv, "P-521") == 0 ? 66 : 0;
        if (want == 0)
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tee-pubkey: curve \"%.32s\" is not supported (P-256, "
                              "P-521)", crv);
        if (strcmp(alg, ECDH_ALG) != 0)
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tee-pubkey: EC key algorithm \"%.32s\" is not "
                              "supported (" ECDH_ALG ")", alg);
        if (b64url_size(x) != want || b64url_size(y) != want)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tee-pubkey: x and y must be %zu-byte base64url "
                              "coordinates of %s", want, crv);
        canon = json_pack("{s:s, s:s, s:s, s:s, s:s}", "alg", alg, "crv", crv, "kty", "EC", "x", x, "y", y);
    } else if (strcmp(kty, "RSA") == 0) {
        const char *n, *e;
        if ((rc = member(j, "n", &n, err)) < 0 || (rc = member(j, "e", &e, err)) < 0)
            return rc;
        if (strcmp(alg, "RSA-OAEP-256") != 0 && strcmp(alg, "RSA1_5") != 0)
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tee-pubkey: RSA key algorithm \"%.32s\" is not "
                              "supported (RSA-OAEP-256, RSA1_5)", alg);
        size_t nl = b64url_size(n), el = b64url_size(e);
        if (nl == SIZE_MAX || nl < 256 || nl > 1024)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tee-pubkey: n must be a base64url modulus of 2048 to "
                              "8192 bits");
        if (el == SIZE_MAX || el == 0 || el > 8)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tee-pubkey: e must be a base64url exponent of 1 to 8 "
                              "bytes");
        canon = json_pack("{s:s, s:s, s:s, s:s}", "alg", alg, "e", e, "kty", "RSA", "n", n);
    } else {
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tee-pubkey: key type \"%.16s\" is not supported (EC, RSA)",
                          kty);
    }
    if (canon == NULL)
        return nomem(err);
    /* libjose builds the OpenSSL key: EC points off the curve and degenerate
     * RSA values are refused here, before anything is encrypted to them */
    EVP_PKEY *k = jose_openssl_jwk_to_EVP_PKEY(NULL, canon);
    bool ok = k != NULL;
    if (ok && EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(k);
        ok = bits >= 2048 && bits <= 8192;
        /* a trial wrap: OpenSSL refuses some values libjose takes (an even
         * or oversized exponent), and an accepted key must never fail at
         * /resource, after the session was attested (found by fuzz_kbs_jwk) */
        uint8_t probe[32] = {0};
        uint8_t *ct = NULL;
        size_t ctl = 0;
        ok = ok && cc_rsa_oaep_encrypt(k, probe, sizeof(probe), &ct, &ctl) == 0;
        free(ct);
    }
    EVP_PKEY_free(k);
    if (!ok) {
        json_decref(canon);
        return cairn_errf(err, CAIRN_ERR_INVALID, "tee-pubkey: not a valid %s public key", kty);
    }
    *out = canon;
    return 0;
}

int cc_jwe_encrypt(const json_t *jwk, const uint8_t *pt, size_t pt_len, char **out_json, struct cairn_error *err)
{
    const char *alg = json_string_value(json_object_get(jwk, "alg"));
    if (alg == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "JWE: the key has no algorithm");
    json_t *jwe = json_pack("{s:{s:s, s:s}}", "protected", "alg", alg, "enc", ENC_ALG);
    json_t *cek = json_object();
    json_t *key = json_deep_copy(jwk);
    int rc = 0;
    if (jwe == NULL || cek == NULL || key == NULL) {
        rc = nomem(err);
        goto out;
    }
    if (strcmp(alg, "RSA-OAEP-256") == 0) {
        /* Debian 12's libjose (v11) has no RSA-OAEP: OpenSSL wraps a fresh
         * content key with RSAES-OAEP (SHA-256, MGF1-SHA-256, RFC 7518
         * §4.3) and libjose does the rest of the JWE with it */
        uint8_t k[32];
        uint8_t *ek = NULL;
        size_t ekl = 0;
        EVP_PKEY *pub = jose_openssl_jwk_to_EVP_PKEY(NULL, key);
        json_t *kb = NULL, *ekb = NULL;
        if (pub == NULL || cc_random(k, sizeof(k)) != 0 || cc_rsa_oaep_encrypt(pub, k, sizeof(k), &ek, &ekl) != 0 ||
            (kb = jose_b64_enc(k, sizeof(k))) == NULL || (ekb = jose_b64_enc(ek, ekl)) == NULL ||
            json_object_set_new(cek, "kty", json_string("oct")) != 0 || json_object_set(cek, "k", kb) != 0 ||
            json_object_set(jwe, "encrypted_key", ekb) != 0)
            rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "JWE: wrapping the content key with RSA-OAEP-256 failed");
        OPENSSL_cleanse(k, sizeof(k));
        EVP_PKEY_free(pub);
        free(ek);
        json_decref(kb);
        json_decref(ekb);
        if (rc != 0)
            goto out;
    } else if (!jose_jwe_enc_jwk(NULL, jwe, NULL, key, cek)) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "JWE: wrapping the content key with %s failed", alg);
        goto out;
    }
    /* libjose leaves per-recipient parameters (the ECDH "epk") in the
     * unprotected "header"; Trustee's peers read every parameter from
     * "protected" and authenticate it as AAD, so it moves there before the
     * content is encrypted (the AAD is computed from it then). */
    json_t *prot = json_object_get(jwe, "protected"), *hdr = json_object_get(jwe, "header");
    if (hdr != NULL) {
        const json_t *epk = json_object_get(hdr, "epk");
        if (epk != NULL) {
            /* exactly {crv, kty, x, y}, the members kbs-types re-serialises */
            json_t *e = json_pack("{s:O, s:O, s:O, s:O}", "crv", json_object_get(epk, "crv"), "kty",
                                  json_object_get(epk, "kty"), "x", json_object_get(epk, "x"), "y",
                                  json_object_get(epk, "y"));
            if (e == NULL || json_object_set_new(prot, "epk", e) != 0) {
                rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "JWE: unexpected ephemeral key from libjose");
                goto out;
            }
        }
        const char *k;
        json_t *v;
        json_object_foreach(hdr, k, v) {
            if (strcmp(k, "epk") != 0 && strcmp(k, "alg") != 0) {
                rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "JWE: unexpected header parameter \"%s\"", k);
                goto out;
            }
        }
        json_object_del(jwe, "header");
    }
    if (!jose_jwe_enc_cek(NULL, jwe, cek, pt, pt_len)) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "JWE: content encryption failed");
        goto out;
    }
    char *s = json_dumps(jwe, JSON_COMPACT | JSON_SORT_KEYS);
    if (s == NULL) {
        rc = nomem(err);
        goto out;
    }
    *out_json = s;
out:
    json_decref(jwe);
    json_decref(cek);   /* libjose zeroes key material it frees; the CEK object is ours */
    json_decref(key);
    return rc;
}

json_t *cc_jwk_public(EVP_PKEY *key)
{
    json_t *j = jose_openssl_jwk_from_EVP_PKEY(NULL, key);
    if (j != NULL && !jose_jwk_pub(NULL, j)) {
        json_decref(j);
        return NULL;
    }
    if (j != NULL)
        json_object_del(j, "key_ops");
    return j;
}

int cc_jwt_sign(EVP_PKEY *key, const json_t *x5c, const json_t *claims, char **out, struct cairn_error *err)
{
    json_t *jwk = jose_openssl_jwk_from_EVP_PKEY(NULL, key);
    char *payload = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *jws = NULL, *sig = NULL;
    int rc = 0;
    if (jwk == NULL || payload == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "JWT: cannot use the signing key");
        goto out;
    }
    json_object_del(jwk, "key_ops");
    json_object_set_new(jwk, "alg", json_string("ES256"));
    jws = json_pack("{s:o}", "payload", jose_b64_enc(payload, strlen(payload)));
    sig = json_pack("{s:{s:s, s:s}}", "protected", "alg", "ES256", "typ", "JWT");
    if (jws == NULL || sig == NULL ||
        (x5c != NULL && json_object_set(json_object_get(sig, "protected"), "x5c", (json_t *)x5c) != 0)) {
        rc = nomem(err);
        goto out;
    }
    if (!jose_jws_sig(NULL, jws, sig, jwk)) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "JWT: signing failed");
        goto out;
    }
    const char *p = json_string_value(json_object_get(jws, "protected"));
    const char *pl = json_string_value(json_object_get(jws, "payload"));
    const char *s = json_string_value(json_object_get(jws, "signature"));
    if (p == NULL || pl == NULL || s == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "JWT: unexpected JWS from libjose");
        goto out;
    }
    size_t n = strlen(p) + strlen(pl) + strlen(s) + 3;
    char *t = malloc(n);
    if (t == NULL) {
        rc = nomem(err);
        goto out;
    }
    snprintf(t, n, "%s.%s.%s", p, pl, s);
    *out = t;
out:
    json_decref(jwk);   /* holds the private scalar: libjose's jansson allocator wipes on free */
    json_decref(jws);
    json_decref(sig);
    free(payload);
    return rc;
}

/* The three parts of a compact JWS: offsets into `jwt`. */
struct jwt_parts {
    size_t off[3], len[3];
};

static int split(const char *jwt, size_t len, struct jwt_parts *p, struct cairn_error *err)
{
    if (len > CC_JWT_MAX_SIZE)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "token: more than %d bytes", CC_JWT_MAX_SIZE);
    size_t part = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || jwt[i] == '.') {
            if (part > 2)
                return cairn_errf(err, CAIRN_ERR_INVALID, "token: expected three dot-separated parts");
            p->off[part] = start;
            p->len[part] = i - start;
            part++;
            start = i + 1;
            continue;
        }
        char c = jwt[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return cairn_errf(err, CAIRN_ERR_INVALID, "token: invalid character at offset %zu", i);
    }
    if (part != 3 || p->len[0] == 0 || p->len[1] == 0 || p->len[2] == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "token: expected three non-empty dot-separated parts");
    return 0;
}

static json_t *load_part(const char *jwt, const struct jwt_parts *p, int i)
{
    if (p->len[i] % 4 == 1)
        return NULL;
    size_t n = jose_b64_dec_buf(jwt + p->off[i], p->len[i], NULL, 0);
    if (n == SIZE_MAX)
        return NULL;
    char *buf = malloc(n + 1);
    if (buf == NULL)
        return NULL;
    json_t *j = NULL;
    if (jose_b64_dec_buf(jwt + p->off[i], p->len[i], buf, n) == n)
        j = json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

int cc_jwt_decode(const char *jwt, size_t len, json_t **out_header, json_t **out_claims, struct cairn_error *err)
{
    struct jwt_parts p;
    int rc = split(jwt, len, &p, err);
    if (rc < 0)
        return rc;
    json_t *h = load_part(jwt, &p, 0), *c = load_part(jwt, &p, 1);
    if (h == NULL || c == NULL) {
        json_decref(h);
        json_decref(c);
        return cairn_errf(err, CAIRN_ERR_INVALID, "token: header and claims must be base64url JSON objects");
    }
    const char *alg = json_string_value(json_object_get(h, "alg"));
    if (alg == NULL || strcmp(alg, "ES256") != 0) {
        json_decref(h);
        json_decref(c);
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "token: signature algorithm must be ES256");
    }
    *out_header = h;
    *out_claims = c;
    return 0;
}

int cc_jwt_verify_sig(const char *jwt, size_t len, EVP_PKEY *pub, struct cairn_error *err)
{
    struct jwt_parts p;
    int rc = split(jwt, len, &p, err);
    if (rc < 0)
        return rc;
    json_t *jwk = cc_jwk_public(pub);
    json_t *jws = json_pack("{s:s%, s:s%, s:s%}", "protected", jwt + p.off[0], p.len[0], "payload",
                            jwt + p.off[1], p.len[1], "signature", jwt + p.off[2], p.len[2]);
    if (jwk == NULL || jws == NULL) {
        json_decref(jwk);
        json_decref(jws);
        return nomem(err);
    }
    json_object_set_new(jwk, "alg", json_string("ES256"));
    bool ok = jose_jws_ver(NULL, jws, NULL, jwk, false);
    json_decref(jwk);
    json_decref(jws);
    return ok ? 0 : cairn_errf(err, CAIRN_ERR_VERIFY, "token: signature does not verify");
}
