/* libFuzzer harness: untrusted bytes into every src/crypto parser (certificate
 * DER/PEM and PEM lists, CSR, CRL, private and public keys). Besides "no crash,
 * no leak", it checks invariants: a rejection leaves the output NULL with a
 * message, and whatever is accepted re-encodes to something that parses again
 * to the same encoding.
 *
 * Speed (docs/fuzzing.md): the four PEM-only parsers run only on inputs that
 * hold "-----BEGIN " (or are short). Without that string OpenSSL's PEM reader
 * finds no start line whatever else the bytes hold, and each parser takes the
 * same "no PEM block" branch; scanning every binary input four more times
 * line by line was a third of the harness's time. Short inputs keep that
 * branch and its invariants exercised. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                        \
        }                                                                   \
    } while (0)

static void check_rejection(int rc, const void *out, const struct cairn_error *err)
{
    if (rc != 0) {
        CHECK(rc < 0);
        CHECK(out == NULL);
        CHECK(err->msg[0] != '\0');
    }
}

static void cert_roundtrip(X509 *x)
{
    uint8_t *der = NULL, *der2 = NULL;
    size_t len = 0, len2 = 0;
    CHECK(cc_cert_to_der(x, &der, &len) == 0);
    X509 *y = NULL;
    struct cairn_error err = {0};
    CHECK(cc_cert_from_der(der, len, &y, &err) == 0);
    CHECK(cc_cert_to_der(y, &der2, &len2) == 0);
    CHECK(len == len2 && memcmp(der, der2, len) == 0);
    free(der);
    free(der2);
    X509_free(y);
}

static void key_roundtrip(EVP_PKEY *k)
{
    uint8_t *der = NULL;
    size_t len = 0;
    if (cc_key_to_pkcs8_der(k, &der, &len) == 0) {
        EVP_PKEY *k2 = NULL;
        struct cairn_error err = {0};
        CHECK(cc_key_from_der(der, len, &k2, &err) == 0);
        CHECK(cc_pubkey_equal(k, k2));
        EVP_PKEY_free(k2);
        cc_free_secret(der, len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cairn_error err;
    const char *text = (const char *)data;
    bool pem = size <= 64 || memmem(data, size, "-----BEGIN ", 11) != NULL;

    X509 *x = NULL;
    cairn_error_clear(&err);
    int rc = cc_cert_from_der(data, size, &x, &err);
    check_rejection(rc, x, &err);
    if (rc == 0) {
        /* DER in means the same DER out for the signed part; the whole
         * encoding must at least be stable. */
        cert_roundtrip(x);
        X509_free(x);
    }

    if (pem) {
        x = NULL;
        cairn_error_clear(&err);
        rc = cc_cert_from_pem(text, size, &x, &err);
        check_rejection(rc, x, &err);
        if (rc == 0) {
            char *out = NULL;
            size_t pl = 0;
            CHECK(cc_cert_to_pem(x, &out, &pl) == 0);
            free(out);
            X509_free(x);
        }

        STACK_OF(X509) *sk = NULL;
        cairn_error_clear(&err);
        rc = cc_certs_from_pem(text, size, &sk, &err);
        check_rejection(rc, sk, &err);
        if (rc == 0) {
            CHECK(sk_X509_num(sk) >= 1);
            sk_X509_pop_free(sk, X509_free);
        }
    }

    X509_REQ *req = NULL;
    cairn_error_clear(&err);
    rc = cc_csr_parse_verify(data, size, &req, &err);
    check_rejection(rc, req, &err);
    if (rc == 0) {
        char **dns = NULL, **ips = NULL;
        size_t nd = 0, ni = 0;
        if (cc_csr_get_sans(req, &dns, &nd, &ips, &ni) == 0) {
            for (size_t i = 0; i < nd; i++)
                free(dns[i]);
            for (size_t i = 0; i < ni; i++)
                free(ips[i]);
            free(dns);
            free(ips);
        }
        uint8_t *der = NULL;
        size_t dl = 0;
        CHECK(cc_csr_to_der(req, &der, &dl) == 0);
        X509_REQ *again = NULL;
        CHECK(cc_csr_parse_verify(der, dl, &again, &err) == 0);
        X509_REQ_free(again);
        free(der);
        X509_REQ_free(req);
    }

    X509_CRL *crl = NULL;
    cairn_error_clear(&err);
    rc = cc_crl_from_der_or_pem(data, size, &crl, &err);
    check_rejection(rc, crl, &err);
    X509_CRL_free(crl);

    EVP_PKEY *k = NULL;
    cairn_error_clear(&err);
    rc = cc_key_from_der(data, size, &k, &err);
    check_rejection(rc, k, &err);
    if (rc == 0) {
        key_roundtrip(k);
        EVP_PKEY_free(k);
    }

    if (pem) {
        k = NULL;
        cairn_error_clear(&err);
        rc = cc_key_from_pem(text, size, &k, &err);
        check_rejection(rc, k, &err);
        if (rc == 0) {
            key_roundtrip(k);
            EVP_PKEY_free(k);
        }
    }

    k = NULL;
    cairn_error_clear(&err);
    rc = cc_pubkey_from_der(data, size, &k, &err);
    check_rejection(rc, k, &err);
    EVP_PKEY_free(k);

    if (pem) {
        k = NULL;
        cairn_error_clear(&err);
        rc = cc_pubkey_from_pem(text, size, &k, &err);
        check_rejection(rc, k, &err);
        EVP_PKEY_free(k);
    }
    return 0;
}
