/* Certificate and CRL sorting for supporting files (see trust_certs.h). */
#include "attest/trust_certs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "attest/amd_roots.h"
#include "attest/intel_sgx_root_ca.h"
#include "attest/trust_encoding.h"

#define PCK_EXT_OID "1.2.840.113741.1.13.1"

static bool is_builtin_root(X509 *x)
{
    static const char *const pems[] = {intel_sgx_root_ca_pem, AMD_MILAN_ARK_PEM, AMD_GENOA_ARK_PEM,
                                       AMD_TURIN_ARK_PEM};
    bool found = false;
    for (size_t i = 0; i < sizeof(pems) / sizeof(pems[0]) && !found; i++) {
        BIO *b = BIO_new_mem_buf(pems[i], -1);
        X509 *r = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        found = r != NULL && X509_cmp(r, x) == 0;
        X509_free(r);
    }
    ERR_clear_error();
    return found;
}

static bool self_signed(X509 *x)
{
    bool ok = X509_check_issued(x, x) == X509_V_OK;
    EVP_PKEY *k = X509_get0_pubkey(x);
    ok = ok && k != NULL && X509_verify(x, k) == 1;
    ERR_clear_error();
    return ok;
}

static bool has_pck_extension(X509 *x)
{
    ASN1_OBJECT *o = OBJ_txt2obj(PCK_EXT_OID, 1);
    bool has = o != NULL && X509_get_ext_by_OBJ(x, o, -1) >= 0;
    ASN1_OBJECT_free(o);
    ERR_clear_error();
    return has;
}

static void cert_name(X509 *x, char *out, size_t n)
{
    out[0] = '\0';
    X509_NAME *nm = X509_get_subject_name(x);
    int i = nm ? X509_NAME_get_index_by_NID(nm, NID_commonName, -1) : -1;
    if (i >= 0) {
        ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i));
        snprintf(out, n, "\"%.*s\"", ASN1_STRING_length(d) > 80 ? 80 : ASN1_STRING_length(d),
                 (const char *)ASN1_STRING_get0_data(d));
    } else {
        snprintf(out, n, "(no CN)");
    }
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = '?';
}

void trust_cert_sets_free(struct trust_cert_sets *s)
{
    sk_X509_pop_free(s->roots, X509_free);
    sk_X509_pop_free(s->inters, X509_free);
    sk_X509_pop_free(s->leaves, X509_free);
    sk_X509_pop_free(s->collateral, X509_free);
    sk_X509_CRL_pop_free(s->crls, X509_CRL_free);
    memset(s, 0, sizeof(*s));
}

int trust_cert_sets_init(struct trust_cert_sets *s)
{
    s->roots = sk_X509_new_null();
    s->inters = sk_X509_new_null();
    s->leaves = sk_X509_new_null();
    s->collateral = sk_X509_new_null();
    s->crls = sk_X509_CRL_new_null();
    return (s->roots && s->inters && s->leaves && s->collateral && s->crls) ? 0 : -1;
}

static int move_certs(STACK_OF(X509) *from, STACK_OF(X509) *to)
{
    while (sk_X509_num(from) > 0) {
        X509 *x = sk_X509_shift(from);
        if (!sk_X509_push(to, x)) {
            X509_free(x);
            return -1;
        }
    }
    return 0;
}

int trust_cert_sets_move(struct trust_cert_sets *from, struct trust_cert_sets *to)
{
    if (move_certs(from->roots, to->roots) || move_certs(from->inters, to->inters) ||
        move_certs(from->leaves, to->leaves) || move_certs(from->collateral, to->collateral))
        return -1;
    while (sk_X509_CRL_num(from->crls) > 0) {
        X509_CRL *c = sk_X509_CRL_shift(from->crls);
        if (!sk_X509_CRL_push(to->crls, c)) {
            X509_CRL_free(c);
            return -1;
        }
    }
    return 0;
}

/* Sorts one certificate (takes ownership of x). */
static int sort_cert(enum attest_type type, struct trust_cert_sets *st, X509 *x, bool as_root, int index,
                     struct cairn_error *err)
{
    char nm[100];
    cert_name(x, nm, sizeof(nm));
    int rc = 0;
    STACK_OF(X509) *dest = NULL;
    if (as_root) {
        if (!self_signed(x))
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "certificate %d %s: a root must be self-signed", index, nm);
        else
            dest = st->roots;
    } else if (self_signed(x)) {
        if (!is_builtin_root(x))
            rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                            "certificate %d %s is a self-signed root that is not built in; pass it with --root to "
                            "trust it",
                            index, nm);
        /* a built-in root is trusted anyway: nothing to add */
    } else if (X509_check_ca(x) > 0) {
        dest = st->inters;
    } else if (type == ATTEST_SGX || type == ATTEST_TDX) {
        if (has_pck_extension(x))
            rc = cairn_errf(err, CAIRN_ERR_INVALID,
                            "certificate %d %s is a PCK certificate: the PCK chain is taken from the quote", index,
                            nm);
        else
            dest = st->collateral; /* the Intel SGX TCB Signing certificate */
    } else {
        dest = st->leaves;
    }
    if (rc == 0 && dest != NULL) {
        if (!sk_X509_push(dest, x))
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        else
            x = NULL;
    }
    X509_free(x);
    return rc;
}

int trust_certs_add(enum attest_type type, struct trust_cert_sets *st, const uint8_t *p, size_t n, bool as_root,
                    int *count, struct cairn_error *err)
{
    int rc = 0, k = 0;
    if (trust_has_pem(p, n)) {
        struct trust_pem_block b[TRUST_PEM_BLOCKS_MAX];
        size_t nb = 0;
        if ((rc = trust_pem_blocks("certificates", p, n, b, &nb, err)) != 0)
            return rc;
        for (size_t i = 0; i < nb && rc == 0; i++) {
            if (strcmp(b[i].label, "CERTIFICATE") != 0) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "PEM block %zu is \"%.40s\", expected CERTIFICATE", i + 1,
                                b[i].label);
                break;
            }
            X509 *x = trust_der_cert(b[i].der, (size_t)b[i].len);
            if (x == NULL) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "certificate %zu: DER does not parse", i + 1);
                break;
            }
            rc = sort_cert(type, st, x, as_root, (int)i + 1, err);
            k++;
        }
        trust_pem_blocks_free(b, nb);
    } else {
        X509 *x = trust_der_cert(p, n);
        if (x == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "not a PEM or DER certificate");
        rc = sort_cert(type, st, x, as_root, 1, err);
        k = 1;
    }
    if (rc == 0 && k == 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "no certificate in the file");
    if (rc == 0)
        *count = k;
    return rc;
}

int trust_crls_add(struct trust_cert_sets *st, const uint8_t *p, size_t n, int *count, struct cairn_error *err)
{
    int rc = 0, k = 0;
    if (trust_has_pem(p, n)) {
        struct trust_pem_block b[TRUST_PEM_BLOCKS_MAX];
        size_t nb = 0;
        if ((rc = trust_pem_blocks("crl", p, n, b, &nb, err)) != 0)
            return rc;
        for (size_t i = 0; i < nb && rc == 0; i++) {
            X509_CRL *c = strcmp(b[i].label, "X509 CRL") == 0 ? trust_der_crl(b[i].der, (size_t)b[i].len) : NULL;
            if (c == NULL)
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "PEM block %zu is not a CRL", i + 1);
            else if (!sk_X509_CRL_push(st->crls, c)) {
                X509_CRL_free(c);
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            } else
                k++;
        }
        trust_pem_blocks_free(b, nb);
    } else {
        X509_CRL *c = trust_der_crl(p, n);
        if (c == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "not a PEM or DER CRL");
        if (!sk_X509_CRL_push(st->crls, c)) {
            X509_CRL_free(c);
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        }
        k = 1;
    }
    if (rc == 0 && k == 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "no CRL in the file");
    if (rc == 0)
        *count = k;
    return rc;
}

char *trust_certs_to_pem(STACK_OF(X509) *a, STACK_OF(X509) *b)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return NULL;
    bool ok = true;
    STACK_OF(X509) *sets[2] = {a, b};
    for (int s = 0; s < 2 && ok; s++)
        for (int i = 0; sets[s] && i < sk_X509_num(sets[s]) && ok; i++)
            ok = PEM_write_bio_X509(bio, sk_X509_value(sets[s], i)) == 1;
    char *out = NULL;
    if (ok) {
        char *d;
        long n = BIO_get_mem_data(bio, &d);
        out = malloc((size_t)n + 1);
        if (out) {
            memcpy(out, d, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(bio);
    return out;
}
