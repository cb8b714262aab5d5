/* Shared helpers for the Intel (SGX/TDX/collateral/policy) unit tests: load
 * shared test vectors (skipping when CAIRN_SHARED_DIR is absent), PEM
 * certificates and DER CRLs, and parse RFC 3339 times. */
#ifndef CAIRN_TEST_SGX_UTIL_H
#define CAIRN_TEST_SGX_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/dcap.h"
#include "common/file.h"

/* Reads testvectors/<rel>; skips the test when the shared data is absent. */
static __attribute__((unused)) uint8_t *tv_load(const char *rel, size_t *len)
{
    const char *dir = getenv("CAIRN_SHARED_DIR");
    if (dir == NULL) {
        fprintf(stderr, "CAIRN_SHARED_DIR not set: skipping (needs shared test vectors)\n");
        skip();
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/testvectors/%s", dir, rel);
    uint8_t *p = NULL;
    if (cairn_file_read(path, 4u << 20, &p, len) != 0) {
        fprintf(stderr, "%s absent: skipping (needs shared test vectors)\n", path);
        skip();
    }
    return p;
}

static __attribute__((unused)) STACK_OF(X509) * tv_certs(const char *rel)
{
    size_t n;
    uint8_t *p = tv_load(rel, &n);
    BIO *b = BIO_new_mem_buf(p, (int)n);
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *c;
    while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, c);
    BIO_free(b);
    free(p);
    assert_true(sk_X509_num(sk) > 0);
    return sk;
}

static __attribute__((unused)) X509_CRL *tv_crl_der(const uint8_t *p, size_t n)
{
    const unsigned char *q = p;
    X509_CRL *crl = d2i_X509_CRL(NULL, &q, (long)n);
    assert_non_null(crl);
    return crl;
}

static __attribute__((unused)) STACK_OF(X509_CRL) * tv_crls(const char *const *rels, size_t n)
{
    STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
    for (size_t i = 0; i < n; i++) {
        size_t len;
        uint8_t *p = tv_load(rels[i], &len);
        sk_X509_CRL_push(sk, tv_crl_der(p, len));
        free(p);
    }
    return sk;
}

static __attribute__((unused)) time_t tv_time(const char *s)
{
    time_t t;
    assert_int_equal(dcap_time_parse(s, &t), 0);
    return t;
}

static __attribute__((unused)) const char *claim_str(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    if (!json_is_string(v)) {
        fprintf(stderr, "claim %s missing\n", k);
        fail();
    }
    return json_string_value(v);
}

static __attribute__((unused)) long long claim_int(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    if (!json_is_integer(v)) {
        fprintf(stderr, "claim %s missing\n", k);
        fail();
    }
    return json_integer_value(v);
}

static __attribute__((unused)) bool claim_has_check(json_t *j, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "checks"), i, v)
    {
        if (strcmp(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

#endif
