/* Certificate signing requests (PKCS#10). */
#include "crypto/crypto_internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

int cc_csr_create(EVP_PKEY *key, const char *common_name, const char *const *dns, size_t n_dns,
                  const char *const *ips, size_t n_ips, X509_REQ **out, struct cairn_error *err)
{
    if (key == NULL || out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "CSR: missing key or output");
    const char *md_name = NULL;
    if (cc__sig_md_for_key(key, &md_name) != 0)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "CSR: unsupported key type");
    int rc = CAIRN_ERR_CRYPTO;
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    GENERAL_NAMES *gens = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    const EVP_MD *md = NULL;
    if (req == NULL || name == NULL) {
        rc = CAIRN_ERR_NOMEM;
        goto out;
    }
    if (common_name != NULL) {
        size_t l = strlen(common_name);
        if (l == 0 || l > 1024) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "CSR common_name: must be 1..1024 bytes");
            goto out;
        }
        if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (const unsigned char *)common_name,
                                       (int)l, -1, 0) != 1) {
            rc = cc__ossl_errf(err, CAIRN_ERR_INVALID, "CSR common_name: value not allowed");
            goto out;
        }
    }
    if (X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_subject_name(req, name) != 1 ||
        X509_REQ_set_pubkey(req, key) != 1) {
        rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "CSR: setting the fields failed");
        goto out;
    }
    if (n_dns > 0 || n_ips > 0) {
        if ((rc = cc__build_sans(dns, n_dns, ips, n_ips, &gens, err)) != 0)
            goto out;
        rc = CAIRN_ERR_CRYPTO;
        exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
        if (exts == NULL || ext == NULL || sk_X509_EXTENSION_push(exts, ext) <= 0) {
            X509_EXTENSION_free(ext);
            rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "CSR: building subjectAltName failed");
            goto out;
        }
        if (X509_REQ_add_extensions(req, exts) != 1) {
            rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "CSR: adding extensions failed");
            goto out;
        }
    }
    if (md_name != NULL && (md = cc__md_get(md_name)) == NULL) {
        rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "CSR: digest %s unavailable", md_name);
        goto out;
    }
    if (X509_REQ_sign(req, key, md) <= 0) {
        rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "CSR: signing failed");
        goto out;
    }
    *out = req;
    req = NULL;
    rc = 0;
out:
    cc__md_release(md);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(gens);
    X509_NAME_free(name);
    X509_REQ_free(req);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

static int csr_from_der(const uint8_t *der, size_t len, X509_REQ **out, struct cairn_error *err)
{
    const unsigned char *p = der;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
    if (req == NULL)
        return cc__ossl_errf(err, CAIRN_ERR_INVALID, "CSR: malformed DER");
    if ((size_t)(p - der) != len) {
        X509_REQ_free(req);
        return cairn_errf(err, CAIRN_ERR_TRAILING, "CSR: %zu bytes after the DER structure",
                          len - (size_t)(p - der));
    }
    *out = req;
    return 0;
}

int cc_csr_parse_verify(const uint8_t *data, size_t len, X509_REQ **out, struct cairn_error *err)
{
    int rc = cc__check_input(data, len, CC_MAX_DER, "CSR", err);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "CSR: no output");
    X509_REQ *req = NULL;
    if (cc__looks_like_pem(data, len)) {
        BIO *bio = cc__pem_bio((const char *)data, len);
        if (bio == NULL)
            return cc__ossl_clear(CAIRN_ERR_NOMEM);
        static const char *const names[] = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"};
        uint8_t *der = NULL;
        size_t der_len = 0;
        rc = cc__pem_next(bio, names, 2, 0, &der, &der_len, NULL, err);
        BIO_free(bio);
        if (rc == CAIRN_ERR_NOT_FOUND)
            return cairn_errf(err, CAIRN_ERR_INVALID, "CSR: no CERTIFICATE REQUEST PEM block");
        if (rc != 0)
            return rc;
        rc = csr_from_der(der, der_len, &req, err);
        OPENSSL_free(der);
    } else {
        rc = csr_from_der(data, len, &req, err);
    }
    if (rc != 0)
        return rc;
    EVP_PKEY *pk = X509_REQ_get0_pubkey(req);
    if (pk == NULL || cc__key_kind(pk, NULL) < 0) {
        X509_REQ_free(req);
        return cc__ossl_errf(err, CAIRN_ERR_UNSUPPORTED, "CSR: unsupported or malformed public key");
    }
    if (X509_REQ_verify(req, pk) != 1) {
        X509_REQ_free(req);
        return cc__ossl_errf(err, CAIRN_ERR_VERIFY, "CSR: self-signature does not verify");
    }
    ERR_clear_error();
    *out = req;
    return 0;
}

int cc_csr_to_pem(X509_REQ *csr, char **out, size_t *out_len)
{
    if (csr == NULL || out == NULL || out_len == NULL)
        return CAIRN_ERR_INVALID;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    int rc = CAIRN_ERR_CRYPTO;
    if (PEM_write_bio_X509_REQ(bio, csr) == 1)
        rc = cc__bio_to_string(bio, out, out_len, 0);
    BIO_free(bio);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

static int i2d_x509_req(const void *obj, unsigned char **pp)
{
    return i2d_X509_REQ(obj, pp);
}

int cc_csr_to_der(X509_REQ *csr, uint8_t **out, size_t *out_len)
{
    if (csr == NULL || out == NULL || out_len == NULL)
        return CAIRN_ERR_INVALID;
    return cc__i2d_malloc(csr, i2d_x509_req, 0, out, out_len);
}

static void free_strv(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int push_str(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL)
        return CAIRN_ERR_NOMEM;
    *v = nv;
    char *c = malloc(len + 1);
    if (c == NULL)
        return CAIRN_ERR_NOMEM;
    memcpy(c, s, len);
    c[len] = '\0';
    nv[(*n)++] = c;
    return 0;
}

int cc_csr_get_sans(X509_REQ *csr, char ***dns, size_t *n_dns, char ***ips, size_t *n_ips)
{
    if (csr == NULL || dns == NULL || n_dns == NULL || ips == NULL || n_ips == NULL)
        return CAIRN_ERR_INVALID;
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    ERR_clear_error();
    char **dv = NULL, **iv = NULL;
    size_t dn = 0, in = 0;
    int rc = 0;
    GENERAL_NAMES *gens = NULL;
    if (exts != NULL) {
        int crit = 0;
        gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
        if (gens == NULL && crit != -1) {
            /* -2: more than one SAN extension; otherwise a malformed one. */
            rc = cc__ossl_clear(CAIRN_ERR_INVALID);
            goto out;
        }
    }
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        int type = 0;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
        if (type == GEN_DNS) {
            const unsigned char *d = ASN1_STRING_get0_data(s);
            size_t l = (size_t)ASN1_STRING_length(s);
            if (l == 0 || memchr(d, '\0', l) != NULL) {
                rc = CAIRN_ERR_INVALID; /* an embedded NUL would truncate the name */
                goto out;
            }
            if ((rc = push_str(&dv, &dn, (const char *)d, l)) != 0)
                goto out;
        } else if (type == GEN_IPADD) {
            char txt[INET6_ADDRSTRLEN];
            int l = ASN1_STRING_length(s);
            const unsigned char *d = ASN1_STRING_get0_data(s);
            if ((l != 4 && l != 16) || inet_ntop(l == 4 ? AF_INET : AF_INET6, d, txt, sizeof(txt)) == NULL) {
                rc = CAIRN_ERR_INVALID;
                goto out;
            }
            if ((rc = push_str(&iv, &in, txt, strlen(txt))) != 0)
                goto out;
        }
        /* Other name types (email, URI, ...) are not used by the Coordinator. */
    }
out:
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (rc != 0) {
        free_strv(dv, dn);
        free_strv(iv, in);
        return rc;
    }
    *dns = dv;
    *n_dns = dn;
    *ips = iv;
    *n_ips = in;
    return 0;
}
