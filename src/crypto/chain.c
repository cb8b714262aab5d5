/* Certificate chain verification and CRL parsing. */
#include "crypto/crypto_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

int cc_verify_error_code(int x509_err)
{
    switch (x509_err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
        return CAIRN_ERR_EXPIRED;
    case X509_V_ERR_CERT_REVOKED:
        return CAIRN_ERR_REVOKED;
    default:
        return CAIRN_ERR_VERIFY;
    }
}

int cc_chain_verify(X509 *leaf, STACK_OF(X509) *intermediates, STACK_OF(X509) *roots,
                    STACK_OF(X509_CRL) *crls, time_t at, struct cairn_error *err)
{
    if (leaf == NULL || roots == NULL || sk_X509_num(roots) == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "chain: missing leaf or roots");
    int rc = CAIRN_ERR_CRYPTO;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (store == NULL || ctx == NULL) {
        rc = CAIRN_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < sk_X509_num(roots); i++) {
        if (X509_STORE_add_cert(store, sk_X509_value(roots, i)) != 1) {
            rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "chain: adding root #%d failed", i);
            goto out;
        }
    }
    unsigned long flags = X509_V_FLAG_PARTIAL_CHAIN; /* every given root is an anchor, even if not self-signed */
    if (crls != NULL && sk_X509_CRL_num(crls) > 0) {
        for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
            if (X509_STORE_add_crl(store, sk_X509_CRL_value(crls, i)) != 1) {
                rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "chain: adding CRL #%d failed", i);
                goto out;
            }
        }
        flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    }
    if (X509_STORE_CTX_init(ctx, store, leaf, intermediates) != 1) {
        rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "chain: context setup failed");
        goto out;
    }
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(param, flags);
    if (at != 0)
        X509_VERIFY_PARAM_set_time(param, at);
    int ok = X509_verify_cert(ctx);
    if (ok == 1) {
        rc = 0;
        goto out;
    }
    int e = X509_STORE_CTX_get_error(ctx);
    int depth = X509_STORE_CTX_get_error_depth(ctx);
    X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
    char subj[256] = "?";
    if (bad != NULL)
        X509_NAME_oneline(X509_get_subject_name(bad), subj, sizeof(subj));
    rc = cc_verify_error_code(e);
    cairn_errf(err, rc, "chain: %s at depth %d (subject %s)", X509_verify_cert_error_string(e), depth, subj);
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return cc__ossl_clear(rc);
}

static int crl_from_der(const uint8_t *der, size_t len, X509_CRL **out, struct cairn_error *err)
{
    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
    if (crl == NULL)
        return cc__ossl_errf(err, CAIRN_ERR_INVALID, "CRL: malformed DER");
    if ((size_t)(p - der) != len) {
        X509_CRL_free(crl);
        return cairn_errf(err, CAIRN_ERR_TRAILING, "CRL: %zu bytes after the DER structure",
                          len - (size_t)(p - der));
    }
    *out = crl;
    return 0;
}

int cc_crl_from_der_or_pem(const uint8_t *data, size_t len, X509_CRL **out, struct cairn_error *err)
{
    int rc = cc__check_input(data, len, CC_MAX_CRL, "CRL", err);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "CRL: no output");
    if (!cc__looks_like_pem(data, len))
        return crl_from_der(data, len, out, err);
    BIO *bio = cc__pem_bio((const char *)data, len);
    if (bio == NULL)
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    static const char *const names[] = {"X509 CRL"};
    uint8_t *der = NULL;
    size_t der_len = 0;
    rc = cc__pem_next(bio, names, 1, 0, &der, &der_len, NULL, err);
    BIO_free(bio);
    if (rc == CAIRN_ERR_NOT_FOUND)
        return cairn_errf(err, CAIRN_ERR_INVALID, "CRL: no X509 CRL PEM block");
    if (rc != 0)
        return rc;
    rc = crl_from_der(der, der_len, out, err);
    OPENSSL_free(der);
    return rc;
}
