/* PEM blocks and exact DER objects of supporting files (see trust_encoding.h). */
#include "attest/trust_encoding.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

bool trust_has_pem(const uint8_t *p, size_t n) { return memmem(p, n, "-----BEGIN ", 11) != NULL; }

size_t trust_skip_ws(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i;
}

void trust_pem_blocks_free(struct trust_pem_block *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        OPENSSL_free(b[i].label);
        OPENSSL_free(b[i].der);
    }
}

int trust_pem_blocks(const char *what, const uint8_t *p, size_t n, struct trust_pem_block *out, size_t *n_out,
                     struct cairn_error *err)
{
    if (n > INT32_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: too large for PEM", what);
    size_t begins = 0;
    for (const uint8_t *q = p; (q = memmem(q, n - (size_t)(q - p), "-----BEGIN ", 11)) != NULL; q += 11)
        begins++;
    if (begins > TRUST_PEM_BLOCKS_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: more than %d PEM blocks", what, TRUST_PEM_BLOCKS_MAX);
    BIO *b = BIO_new_mem_buf(p, (int)n);
    if (b == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", what);
    size_t k = 0;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    while (k < TRUST_PEM_BLOCKS_MAX && PEM_read_bio(b, &name, &header, &data, &len) == 1) {
        OPENSSL_free(header);
        out[k].label = name;
        out[k].der = data;
        out[k].len = len;
        k++;
    }
    BIO_free(b);
    ERR_clear_error();
    if (k != begins) {
        trust_pem_blocks_free(out, k);
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: PEM block %zu does not decode (bad base64 or END line)", what,
                          k + 1);
    }
    *n_out = k;
    return 0;
}

X509 *trust_der_cert(const uint8_t *p, size_t n)
{
    const unsigned char *q = p;
    X509 *x = d2i_X509(NULL, &q, (long)n);
    if (x != NULL && q != p + n) {
        X509_free(x);
        x = NULL;
    }
    ERR_clear_error();
    return x;
}

X509_CRL *trust_der_crl(const uint8_t *p, size_t n)
{
    const unsigned char *q = p;
    X509_CRL *c = d2i_X509_CRL(NULL, &q, (long)n);
    if (c != NULL && q != p + n) {
        X509_CRL_free(c);
        c = NULL;
    }
    ERR_clear_error();
    return c;
}
