/* Key generation and PKCS#8 / SubjectPublicKeyInfo encodings. */
#include "crypto/crypto_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

int cc_key_generate(enum cc_key_type type, unsigned rsa_bits, EVP_PKEY **out, struct cairn_error *err)
{
    if (out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "key: no output");
    EVP_PKEY *k = NULL;
    switch (type) {
    case CC_KEY_EC_P224: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-224"); break;
    case CC_KEY_EC_P256: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
    case CC_KEY_EC_P384: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"); break;
    case CC_KEY_EC_P521: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521"); break;
    case CC_KEY_ED25519: k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); break;
    case CC_KEY_RSA:
        if (rsa_bits < 1024 || rsa_bits > 8192)
            return cairn_errf(err, CAIRN_ERR_INVALID, "key: rsa_bits %u outside 1024..8192", rsa_bits);
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)rsa_bits);
        break;
    default:
        return cairn_errf(err, CAIRN_ERR_INVALID, "key: unknown key type %d", (int)type);
    }
    if (k == NULL)
        return cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "key: generation failed");
    *out = k;
    return 0;
}

/* ---- private keys ------------------------------------------------------- */

int cc_key_to_pkcs8_der(const EVP_PKEY *key, uint8_t **out, size_t *out_len)
{
    if (key == NULL || out == NULL || out_len == NULL)
        return CAIRN_ERR_INVALID;
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    if (p8 == NULL)
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    int n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
    if (n <= 0) {
        PKCS8_PRIV_KEY_INFO_free(p8);
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    }
    uint8_t *buf = malloc((size_t)n);
    if (buf == NULL) {
        PKCS8_PRIV_KEY_INFO_free(p8);
        return CAIRN_ERR_NOMEM;
    }
    uint8_t *p = buf;
    int m = i2d_PKCS8_PRIV_KEY_INFO(p8, &p);
    PKCS8_PRIV_KEY_INFO_free(p8); /* its template wipes the key octets */
    if (m != n) {
        cc_free_secret(buf, (size_t)n);
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    }
    *out = buf;
    *out_len = (size_t)n;
    return 0;
}

int cc_key_to_pkcs8_pem(const EVP_PKEY *key, char **out, size_t *out_len)
{
    if (key == NULL || out == NULL || out_len == NULL)
        return CAIRN_ERR_INVALID;
    /* secmem BIOs wipe their buffer when freed. */
    BIO *bio = BIO_new(BIO_s_secmem());
    if (bio == NULL)
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    int rc = CAIRN_ERR_CRYPTO;
    if (PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
        rc = cc__bio_to_string(bio, out, out_len, 1);
    BIO_free(bio);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

/* Decodes PKCS#8 PrivateKeyInfo DER, requiring that it spans the whole input. */
static int key_from_pkcs8(const uint8_t *der, size_t len, EVP_PKEY **out, struct cairn_error *err)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (p8 == NULL)
        return cc__ossl_errf(err, CAIRN_ERR_INVALID, "private key: not a PKCS#8 PrivateKeyInfo");
    if ((size_t)(p - der) != len) {
        PKCS8_PRIV_KEY_INFO_free(p8);
        return cairn_errf(err, CAIRN_ERR_TRAILING, "private key: %zu bytes after the PKCS#8 structure",
                          len - (size_t)(p - der));
    }
    EVP_PKEY *k = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (k == NULL)
        return cc__ossl_errf(err, CAIRN_ERR_INVALID, "private key: unsupported or malformed PKCS#8 key");
    *out = k;
    return 0;
}

/* Decodes a traditional (SEC1 / PKCS#1) private key of type `type`. */
static int key_from_traditional(int type, const uint8_t *der, size_t len, EVP_PKEY **out,
                                struct cairn_error *err)
{
    const unsigned char *p = der;
    EVP_PKEY *k = d2i_PrivateKey(type, NULL, &p, (long)len);
    if (k == NULL)
        return cc__ossl_errf(err, CAIRN_ERR_INVALID, "private key: malformed %s key",
                             type == EVP_PKEY_EC ? "SEC1 EC" : "PKCS#1 RSA");
    if ((size_t)(p - der) != len) {
        EVP_PKEY_free(k);
        return cairn_errf(err, CAIRN_ERR_TRAILING, "private key: trailing bytes after the key");
    }
    *out = k;
    return 0;
}

int cc_key_from_der(const uint8_t *der, size_t len, EVP_PKEY **out, struct cairn_error *err)
{
    int rc = cc__check_input(der, len, CC_MAX_DER, "private key", err);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "private key: no output");
    return key_from_pkcs8(der, len, out, err);
}

int cc_key_from_pem(const char *pem, size_t len, EVP_PKEY **out, struct cairn_error *err)
{
    int rc = cc__check_input(pem, len, CC_MAX_DER, "private key PEM", err);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "private key: no output");
    BIO *bio = cc__pem_bio(pem, len);
    if (bio == NULL)
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    static const char *const names[] = {"PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"};
    uint8_t *der = NULL;
    size_t der_len = 0, which = 0;
    rc = cc__pem_next(bio, names, 3, 1, &der, &der_len, &which, err);
    BIO_free(bio);
    if (rc == CAIRN_ERR_NOT_FOUND)
        return cairn_errf(err, CAIRN_ERR_INVALID, "private key: no PRIVATE KEY PEM block");
    if (rc != 0)
        return rc;
    if (which == 0)
        rc = key_from_pkcs8(der, der_len, out, err);
    else
        rc = key_from_traditional(which == 1 ? EVP_PKEY_EC : EVP_PKEY_RSA, der, der_len, out, err);
    OPENSSL_secure_clear_free(der, der_len);
    return rc;
}

/* ---- public keys -------------------------------------------------------- */

int cc_pubkey_to_spki_der(const EVP_PKEY *key, uint8_t **out, size_t *out_len)
{
    if (key == NULL || out == NULL || out_len == NULL)
        return CAIRN_ERR_INVALID;
    int n = i2d_PUBKEY(key, NULL);
    if (n <= 0)
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    uint8_t *buf = malloc((size_t)n);
    if (buf == NULL)
        return CAIRN_ERR_NOMEM;
    uint8_t *p = buf;
    if (i2d_PUBKEY(key, &p) != n) {
        free(buf);
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    }
    *out = buf;
    *out_len = (size_t)n;
    return 0;
}

int cc_pubkey_to_spki_pem(const EVP_PKEY *key, char **out, size_t *out_len)
{
    if (key == NULL || out == NULL || out_len == NULL)
        return CAIRN_ERR_INVALID;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    int rc = CAIRN_ERR_CRYPTO;
    if (PEM_write_bio_PUBKEY(bio, key) == 1)
        rc = cc__bio_to_string(bio, out, out_len, 0);
    BIO_free(bio);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

int cc_pubkey_from_der(const uint8_t *der, size_t len, EVP_PKEY **out, struct cairn_error *err)
{
    int rc = cc__check_input(der, len, CC_MAX_DER, "public key", err);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "public key: no output");
    const unsigned char *p = der;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)len);
    if (k == NULL)
        return cc__ossl_errf(err, CAIRN_ERR_INVALID, "public key: not a valid SubjectPublicKeyInfo");
    if ((size_t)(p - der) != len) {
        EVP_PKEY_free(k);
        return cairn_errf(err, CAIRN_ERR_TRAILING, "public key: %zu bytes after the SubjectPublicKeyInfo",
                          len - (size_t)(p - der));
    }
    *out = k;
    return 0;
}

int cc_pubkey_from_pem(const char *pem, size_t len, EVP_PKEY **out, struct cairn_error *err)
{
    int rc = cc__check_input(pem, len, CC_MAX_DER, "public key PEM", err);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "public key: no output");
    BIO *bio = cc__pem_bio(pem, len);
    if (bio == NULL)
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    static const char *const names[] = {"PUBLIC KEY"};
    uint8_t *der = NULL;
    size_t der_len = 0;
    rc = cc__pem_next(bio, names, 1, 0, &der, &der_len, NULL, err);
    BIO_free(bio);
    if (rc == CAIRN_ERR_NOT_FOUND)
        return cairn_errf(err, CAIRN_ERR_INVALID, "public key: no PUBLIC KEY PEM block");
    if (rc != 0)
        return rc;
    rc = cc_pubkey_from_der(der, der_len, out, err);
    OPENSSL_free(der);
    return rc;
}

int cc_pubkey_from_ec_xy(enum cc_key_type curve, const uint8_t *xy, size_t len, EVP_PKEY **out)
{
    const char *group;
    size_t fb;
    switch (curve) {
    case CC_KEY_EC_P224: group = "P-224"; fb = 28; break;
    case CC_KEY_EC_P256: group = "P-256"; fb = 32; break;
    case CC_KEY_EC_P384: group = "P-384"; fb = 48; break;
    case CC_KEY_EC_P521: group = "P-521"; fb = 66; break;
    default: return CAIRN_ERR_INVALID;
    }
    if (xy == NULL || out == NULL || len != 2 * fb)
        return CAIRN_ERR_INVALID;
    uint8_t point[1 + 2 * 66];
    point[0] = 0x04; /* uncompressed SEC1 point */
    memcpy(point + 1, xy, len);

    int rc = CAIRN_ERR_CRYPTO;
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    if (bld == NULL || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + len) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
        goto out;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1)
        goto out;
    if (EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = CAIRN_ERR_INVALID; /* not a point on the curve */
        goto out;
    }
    /* Belt and braces: the point must be on the curve and not at infinity. */
    chk = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    if (chk == NULL || EVP_PKEY_public_check(chk) != 1) {
        rc = CAIRN_ERR_INVALID;
        goto out;
    }
    *out = k;
    k = NULL;
    rc = 0;
out:
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

bool cc_pubkey_equal(const EVP_PKEY *a, const EVP_PKEY *b)
{
    if (a == NULL || b == NULL)
        return false;
    int r = EVP_PKEY_eq(a, b);
    ERR_clear_error();
    return r == 1;
}
