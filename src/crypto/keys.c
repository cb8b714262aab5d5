/* Key generation and PKCS#8 / SubjectPublicKeyInfo encodings. */
#include "crypto/crypto_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
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

/* shared with x509.c (declared there too: crypto_internal.h belongs to the crypto owner) */
int cc__ec_named_full(const EVP_PKEY *key);

/* True when OpenSSL's encoders would write this EC key in the default shape
 * the direct encoders below produce: named curve (not explicit parameters),
 * uncompressed point and, for private keys, the public point included. Anything else goes
 * through the encoder. */
int cc__ec_named_full(const EVP_PKEY *key)
{
    char enc[32];
    size_t elen = 0;
    int inc = 1;
    const char *encoding = OSSL_PKEY_PARAM_EC_ENCODING;
    if (EVP_PKEY_get_utf8_string_param(key, encoding, enc, sizeof(enc), &elen) == 1 &&
        strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
        return 0;
    if (EVP_PKEY_get_int_param(key, OSSL_PKEY_PARAM_EC_INCLUDE_PUBLIC, &inc) == 1 && inc == 0)
        return 0;
    /* the encoded point parameter is always uncompressed, the encoders follow the key's form */
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, enc,
                                       sizeof(enc), &elen) == 1 &&
        strcmp(enc, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 0)
        return 0;
    ERR_clear_error();
    return 1;
}

/* DER header (tag + definite length) for `n` content bytes; returns its size. */
static size_t der_hdr(uint8_t *p, uint8_t tag, size_t n)
{
    p[0] = tag;
    if (n < 0x80) {
        p[1] = (uint8_t)n;
        return 2;
    }
    if (n < 0x100) {
        p[1] = 0x81;
        p[2] = (uint8_t)n;
        return 3;
    }
    p[1] = 0x82;
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    return 4;
}

static size_t der_hdr_len(size_t n)
{
    return n < 0x80 ? 2 : n < 0x100 ? 3 : 4;
}

/* PKCS#8 PrivateKeyInfo of an EC key on a named curve, written directly:
 * the same bytes OpenSSL 3.0's encoder produces (version 0, id-ecPublicKey +
 * curve OID, then ECPrivateKey version 1 with the scalar padded to the order
 * size, no [0] parameters, [1] public point), without EVP_PKEY2PKCS8's
 * encoder lookup (~50 us per P-384 key, provider locks). 1 = done, 0 = not
 * such a key (the caller falls back), negative = error. Intermediates wiped. */
static int ec_pkcs8_direct(const EVP_PKEY *key, uint8_t **out, size_t *out_len)
{
    static const uint8_t ec_oid[] = {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
    size_t nb = 0, plen = 0, glen = 0;
    char group[64];
    if (!EVP_PKEY_is_a(key, "EC") || cc__key_kind(key, &nb) < 0 || nb == 0 || nb > 66 ||
        !cc__ec_named_full(key) ||
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &glen) != 1)
        goto fallback;
    int nid = OBJ_sn2nid(group);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(group);
    const ASN1_OBJECT *curve = nid != NID_undef ? OBJ_nid2obj(nid) : NULL;
    int clen = curve != NULL ? i2d_ASN1_OBJECT(curve, NULL) : -1;
    uint8_t pt[1 + 2 * 66];
    if (clen <= 0 || clen > 16 ||
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt),
                                        &plen) != 1 ||
        plen == 0)
        goto fallback;
    BIGNUM *d = NULL;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
        goto fallback; /* a public key only: let the encoder report it */
    uint8_t scalar[66];
    int sok = BN_bn2binpad(d, scalar, (int)nb) == (int)nb;
    BN_clear_free(d);
    if (!sok) {
        OPENSSL_cleanse(scalar, sizeof(scalar));
        goto fallback;
    }
    /* ECPrivateKey ::= SEQUENCE { 1, OCTET STRING d, [1] BIT STRING point } */
    size_t bits = 1 + plen, a1 = der_hdr_len(bits) + bits;
    size_t ecpk = 3 + der_hdr_len(nb) + nb + der_hdr_len(a1) + a1;
    size_t ecseq = der_hdr_len(ecpk) + ecpk;
    size_t alg = sizeof(ec_oid) + (size_t)clen;
    size_t body = 3 + der_hdr_len(alg) + alg + der_hdr_len(ecseq) + ecseq;
    size_t total = der_hdr_len(body) + body;
    uint8_t *buf = malloc(total), *p = buf;
    if (buf == NULL) {
        OPENSSL_cleanse(scalar, sizeof(scalar));
        return CAIRN_ERR_NOMEM;
    }
    p += der_hdr(p, 0x30, body);
    *p++ = 0x02, *p++ = 0x01, *p++ = 0x00;
    p += der_hdr(p, 0x30, alg);
    memcpy(p, ec_oid, sizeof(ec_oid));
    p += sizeof(ec_oid);
    unsigned char *cp = p;
    i2d_ASN1_OBJECT(curve, &cp);
    p += clen;
    p += der_hdr(p, 0x04, ecseq);
    p += der_hdr(p, 0x30, ecpk);
    *p++ = 0x02, *p++ = 0x01, *p++ = 0x01;
    p += der_hdr(p, 0x04, nb);
    memcpy(p, scalar, nb);
    p += nb;
    OPENSSL_cleanse(scalar, sizeof(scalar));
    p += der_hdr(p, 0xa1, a1);
    p += der_hdr(p, 0x03, bits);
    *p++ = 0x00;
    memcpy(p, pt, plen);
    p += plen;
    if ((size_t)(p - buf) != total) { /* cannot happen: sizes computed above */
        cc_free_secret(buf, total);
        return CAIRN_ERR_CRYPTO;
    }
    *out = buf;
    *out_len = total;
    return 1;
fallback:
    ERR_clear_error();
    return 0;
}

static int i2d_pkcs8(const void *obj, unsigned char **pp)
{
    return i2d_PKCS8_PRIV_KEY_INFO(obj, pp);
}

int cc_key_to_pkcs8_der(const EVP_PKEY *key, uint8_t **out, size_t *out_len)
{
    if (key == NULL || out == NULL || out_len == NULL)
        return CAIRN_ERR_INVALID;
    int direct = ec_pkcs8_direct(key, out, out_len);
    if (direct != 0)
        return direct < 0 ? direct : 0;
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    if (p8 == NULL)
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    int rc = cc__i2d_malloc(p8, i2d_pkcs8, 1, out, out_len);
    PKCS8_PRIV_KEY_INFO_free(p8); /* its template wipes the key octets */
    return rc;
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

static int i2d_pubkey(const void *obj, unsigned char **pp)
{
    return i2d_PUBKEY(obj, pp);
}

int cc_pubkey_to_spki_der(const EVP_PKEY *key, uint8_t **out, size_t *out_len)
{
    if (key == NULL || out == NULL || out_len == NULL)
        return CAIRN_ERR_INVALID;
    return cc__i2d_malloc(key, i2d_pubkey, 0, out, out_len);
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
