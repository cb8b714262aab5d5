/* Signatures: ECDSA (DER and raw r||s), Ed25519, RSA PKCS#1 v1.5 and PSS. */
#include "crypto/crypto_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

/* Ed25519 hashes internally and must be given no digest; every other key
 * type needs one. Mixing them up is a caller bug, reported as INVALID. */
static int check_md(EVP_PKEY *key, const char *md)
{
    int kind = cc__key_kind(key, NULL);
    if (kind < 0)
        return CAIRN_ERR_UNSUPPORTED;
    if ((kind == CC_KEY_ED25519) != (md == NULL))
        return CAIRN_ERR_INVALID;
    return 0;
}

int cc_sign(EVP_PKEY *key, const char *md, const void *msg, size_t n, uint8_t **sig, size_t *sig_len)
{
    if (key == NULL || sig == NULL || sig_len == NULL || (msg == NULL && n > 0))
        return CAIRN_ERR_INVALID;
    int rc = check_md(key, md);
    if (rc != 0)
        return rc;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = CAIRN_ERR_CRYPTO;
    if (mctx == NULL || EVP_DigestSignInit_ex(mctx, NULL, md, NULL, NULL, key, NULL) != 1)
        goto out;
    if (EVP_DigestSign(mctx, NULL, &len, msg, n) != 1 || len == 0)
        goto out;
    buf = malloc(len);
    if (buf == NULL) {
        rc = CAIRN_ERR_NOMEM;
        goto out;
    }
    if (EVP_DigestSign(mctx, buf, &len, msg, n) != 1)
        goto out;
    *sig = buf;
    *sig_len = len; /* ECDSA DER may be shorter than the maximum */
    buf = NULL;
    rc = 0;
out:
    free(buf);
    EVP_MD_CTX_free(mctx);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

/* pss: 0 = default padding for the key, 1 = RSA-PSS with MGF1(md) and any salt length. */
static int verify_common(EVP_PKEY *key, const char *md, const void *msg, size_t n, const uint8_t *sig,
                         size_t sig_len, int pss)
{
    if (key == NULL || sig == NULL || sig_len == 0 || (msg == NULL && n > 0))
        return CAIRN_ERR_INVALID;
    int rc = check_md(key, md);
    if (rc != 0)
        return rc;
    if (pss && cc__key_kind(key, NULL) != CC_KEY_RSA)
        return CAIRN_ERR_INVALID;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    rc = CAIRN_ERR_CRYPTO;
    if (mctx == NULL || EVP_DigestVerifyInit_ex(mctx, &pctx, md, NULL, NULL, key, NULL) != 1)
        goto out;
    if (pss) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, NULL) != 1)
            goto out;
    }
    rc = EVP_DigestVerify(mctx, sig, sig_len, msg, n) == 1 ? 0 : CAIRN_ERR_VERIFY;
out:
    EVP_MD_CTX_free(mctx);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

int cc_verify(EVP_PKEY *key, const char *md, const void *msg, size_t n, const uint8_t *sig, size_t sig_len)
{
    return verify_common(key, md, msg, n, sig, sig_len, 0);
}

int cc_verify_rsa_pss(EVP_PKEY *key, const char *md, const void *msg, size_t n, const uint8_t *sig,
                      size_t sig_len)
{
    if (md == NULL)
        return CAIRN_ERR_INVALID;
    return verify_common(key, md, msg, n, sig, sig_len, 1);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static int i2d_ecdsa_sig(const void *obj, unsigned char **pp)
{
    return i2d_ECDSA_SIG(obj, pp);
}

int cc_ecdsa_raw_to_der(const uint8_t *rs, size_t rs_len, uint8_t **der, size_t *der_len)
{
    /* Halves are at most 66 bytes (P-521). r = 0 or s = 0 is never valid. */
    if (rs == NULL || der == NULL || der_len == NULL || rs_len == 0 || rs_len % 2 != 0 || rs_len > 2 * 66)
        return CAIRN_ERR_INVALID;
    size_t half = rs_len / 2;
    if (all_zero(rs, half) || all_zero(rs + half, half))
        return CAIRN_ERR_INVALID;
    int rc = CAIRN_ERR_CRYPTO;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, (int)half, NULL);
    BIGNUM *s = BN_bin2bn(rs + half, (int)half, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        goto out;
    r = s = NULL; /* owned by es now */
    rc = cc__i2d_malloc(es, i2d_ecdsa_sig, 0, der, der_len);
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

int cc_verify_ecdsa_raw(EVP_PKEY *key, const char *md, const void *msg, size_t n, const uint8_t *rs,
                        size_t rs_len)
{
    size_t fb = 0;
    int kind = cc__key_kind(key, &fb);
    if (kind < 0 || kind == CC_KEY_RSA || kind == CC_KEY_ED25519 || md == NULL || rs == NULL)
        return CAIRN_ERR_INVALID;
    if (rs_len != 2 * fb)
        return CAIRN_ERR_VERIFY;
    uint8_t *der = NULL;
    size_t der_len = 0;
    int rc = cc_ecdsa_raw_to_der(rs, rs_len, &der, &der_len);
    if (rc == CAIRN_ERR_INVALID)
        return CAIRN_ERR_VERIFY; /* zero r or s: a bad signature, not a bad call */
    if (rc != 0)
        return rc;
    rc = cc_verify(key, md, msg, n, der, der_len);
    free(der);
    return rc;
}
