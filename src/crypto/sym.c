/* AES-256-GCM, HKDF-SHA256 and RSA-OAEP(SHA-256). */
#include "crypto/crypto_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>

/* ---- AES-256-GCM --------------------------------------------------------- */

/* EVP takes int lengths; keep one byte of headroom for nonce+tag arithmetic. */
#define AEAD_MAX ((size_t)INT_MAX - CC_GCM_NONCE - CC_GCM_TAG)

int cc_aead_seal(const uint8_t key[32], const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                 uint8_t **out, size_t *out_len)
{
    if (key == NULL || out == NULL || out_len == NULL || (aad == NULL && aad_len > 0) ||
        (pt == NULL && pt_len > 0))
        return CAIRN_ERR_INVALID;
    if (pt_len > AEAD_MAX || aad_len > AEAD_MAX)
        return CAIRN_ERR_TOO_LARGE;
    size_t total = CC_GCM_NONCE + pt_len + CC_GCM_TAG;
    uint8_t *buf = malloc(total);
    if (buf == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = cc_random(buf, CC_GCM_NONCE);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    rc = CAIRN_ERR_CRYPTO;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    if (c == NULL || EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), key, buf, NULL) != 1)
        goto out;
    if (aad_len > 0 && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
        goto out;
    if (pt_len > 0 && EVP_EncryptUpdate(c, buf + CC_GCM_NONCE, &n, pt, (int)pt_len) != 1)
        goto out;
    if (EVP_EncryptFinal_ex(c, buf + CC_GCM_NONCE + n, &fin) != 1 || (size_t)(n + fin) != pt_len)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CC_GCM_TAG, buf + CC_GCM_NONCE + pt_len) != 1)
        goto out;
    *out = buf;
    *out_len = total;
    buf = NULL;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(c);
    if (buf != NULL)
        cc_free_secret(buf, total); /* may hold partial keystream output */
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

int cc_aead_open(const uint8_t key[32], const void *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                 uint8_t **out, size_t *out_len)
{
    if (key == NULL || in == NULL || out == NULL || out_len == NULL || (aad == NULL && aad_len > 0))
        return CAIRN_ERR_INVALID;
    /* Anything shorter than nonce+tag cannot be authentic. */
    if (in_len < CC_GCM_NONCE + CC_GCM_TAG)
        return CAIRN_ERR_VERIFY;
    if (in_len > (size_t)INT_MAX || aad_len > AEAD_MAX)
        return CAIRN_ERR_TOO_LARGE;
    size_t ct_len = in_len - CC_GCM_NONCE - CC_GCM_TAG;
    uint8_t tag[CC_GCM_TAG];
    memcpy(tag, in + CC_GCM_NONCE + ct_len, CC_GCM_TAG);
    uint8_t *buf = malloc(ct_len > 0 ? ct_len : 1);
    if (buf == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = CAIRN_ERR_CRYPTO;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    if (c == NULL || EVP_DecryptInit_ex2(c, EVP_aes_256_gcm(), key, in, NULL) != 1)
        goto out;
    if (aad_len > 0 && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
        goto out;
    n = 0;
    if (ct_len > 0 && EVP_DecryptUpdate(c, buf, &n, in + CC_GCM_NONCE, (int)ct_len) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CC_GCM_TAG, tag) != 1)
        goto out;
    if (EVP_DecryptFinal_ex(c, buf + n, &fin) != 1) {
        rc = CAIRN_ERR_VERIFY;
        goto out;
    }
    *out = buf;
    *out_len = ct_len;
    buf = NULL;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(c);
    if (buf != NULL)
        cc_free_secret(buf, ct_len > 0 ? ct_len : 1); /* unauthenticated plaintext */
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

/* ---- HKDF ---------------------------------------------------------------- */

int cc_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len, const void *info,
                   size_t info_len, uint8_t *out, size_t out_len)
{
    if (out == NULL || out_len == 0 || out_len > 255 * 32 || (ikm == NULL && ikm_len > 0) ||
        (salt == NULL && salt_len > 0) || (info == NULL && info_len > 0))
        return CAIRN_ERR_INVALID;
    /* OpenSSL wants a non-NULL pointer even for an empty IKM. */
    static const uint8_t empty[1];
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (kctx == NULL)
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    OSSL_PARAM params[5];
    size_t i = 0;
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm_len ? (void *)ikm : (void *)empty,
                                                    ikm_len);
    /* An absent salt is HashLen zero bytes (RFC 5869 §2.2), which is what
     * HMAC does with an empty key, so empty salt is simply not passed. */
    if (salt_len > 0)
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len > 0)
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[i] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(kctx, out, out_len, params);
    EVP_KDF_CTX_free(kctx);
    if (ok != 1) {
        cc_wipe(out, out_len);
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    }
    return 0;
}

/* ---- RSA-OAEP ------------------------------------------------------------ */

static int oaep_setup(EVP_PKEY_CTX *ctx)
{
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA256", NULL) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", NULL) == 1;
}

int cc_rsa_oaep_encrypt(EVP_PKEY *pub, const void *pt, size_t pt_len, uint8_t **out, size_t *out_len)
{
    if (pub == NULL || out == NULL || out_len == NULL || (pt == NULL && pt_len > 0))
        return CAIRN_ERR_INVALID;
    if (cc__key_kind(pub, NULL) != CC_KEY_RSA)
        return CAIRN_ERR_INVALID;
    /* OAEP-SHA256 carries at most k - 2*32 - 2 bytes. */
    size_t k = (size_t)EVP_PKEY_get_size(pub);
    if (k < 2 * 32 + 2 || pt_len > k - 2 * 32 - 2)
        return CAIRN_ERR_TOO_LARGE;
    int rc = CAIRN_ERR_CRYPTO;
    uint8_t *buf = NULL;
    size_t len = 0;
    static const uint8_t empty[1];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
    if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) != 1 || !oaep_setup(ctx))
        goto out;
    if (EVP_PKEY_encrypt(ctx, NULL, &len, pt_len ? pt : empty, pt_len) != 1)
        goto out;
    buf = malloc(len);
    if (buf == NULL) {
        rc = CAIRN_ERR_NOMEM;
        goto out;
    }
    if (EVP_PKEY_encrypt(ctx, buf, &len, pt_len ? pt : empty, pt_len) != 1)
        goto out;
    *out = buf;
    *out_len = len;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    EVP_PKEY_CTX_free(ctx);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

int cc_rsa_oaep_decrypt(EVP_PKEY *priv, const uint8_t *ct, size_t ct_len, uint8_t **out, size_t *out_len)
{
    if (priv == NULL || ct == NULL || ct_len == 0 || out == NULL || out_len == NULL)
        return CAIRN_ERR_INVALID;
    if (cc__key_kind(priv, NULL) != CC_KEY_RSA)
        return CAIRN_ERR_INVALID;
    if (ct_len != (size_t)EVP_PKEY_get_size(priv))
        return CAIRN_ERR_VERIFY; /* wrong-size ciphertext never decodes */
    int rc = CAIRN_ERR_CRYPTO;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    if (ctx == NULL || EVP_PKEY_decrypt_init(ctx) != 1 || !oaep_setup(ctx))
        goto out;
    if (EVP_PKEY_decrypt(ctx, NULL, &cap, ct, ct_len) != 1 || cap == 0)
        goto out;
    buf = malloc(cap);
    if (buf == NULL) {
        rc = CAIRN_ERR_NOMEM;
        goto out;
    }
    len = cap;
    if (EVP_PKEY_decrypt(ctx, buf, &len, ct, ct_len) != 1) {
        rc = CAIRN_ERR_VERIFY; /* OAEP decoding failed: wrong key or modified ciphertext */
        goto out;
    }
    *out = buf;
    *out_len = len;
    buf = NULL;
    rc = 0;
out:
    if (buf != NULL)
        cc_free_secret(buf, cap);
    EVP_PKEY_CTX_free(ctx);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}
