/* The activation hot path's direct encoders must produce exactly the bytes
 * OpenSSL's encoders produce (docs/benchmarks.md, "What changed"):
 * - cc_key_to_pkcs8_der writes named-curve EC keys itself and falls back to
 *   EVP_PKEY2PKCS8 for every other shape;
 * - cc_cert_issue_lean writes the subject's SubjectPublicKeyInfo itself
 *   instead of X509_set_pubkey.
 * Each case compares against OpenSSL computed in the test, on fresh keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"

#define KEYS_PER_CURVE 16

/* OpenSSL's own PKCS#8 DER of `k` (the reference). */
static unsigned char *ossl_pkcs8(EVP_PKEY *k, int *len)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
    assert_non_null(p8);
    unsigned char *der = NULL;
    *len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    PKCS8_PRIV_KEY_INFO_free(p8);
    assert_true(*len > 0);
    return der;
}

static void assert_pkcs8_same(EVP_PKEY *k)
{
    uint8_t *mine = NULL;
    size_t ml = 0;
    int rl = 0;
    assert_int_equal(cc_key_to_pkcs8_der(k, &mine, &ml), 0);
    unsigned char *ref = ossl_pkcs8(k, &rl);
    assert_int_equal(ml, (size_t)rl);
    assert_memory_equal(mine, ref, ml);
    /* and it parses back to the same key */
    EVP_PKEY *back = NULL;
    assert_int_equal(cc_key_from_der(mine, ml, &back, NULL), 0);
    assert_int_equal(EVP_PKEY_eq(back, k), 1);
    EVP_PKEY_free(back);
    OPENSSL_clear_free(ref, (size_t)rl);
    cc_free_secret(mine, ml);
}

static X509 *issue(EVP_PKEY *subject, X509 *issuer, EVP_PKEY *issuer_key, bool lean)
{
    struct cc_cert_template t;
    memset(&t, 0, sizeof(t));
    t.subject.common_name = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
    t.max_path_len = -1;
    t.not_before = 1700000000;
    t.not_after = 1800000000;
    X509 *x = NULL;
    int rc = lean ? cc_cert_issue_lean(&t, subject, issuer, issuer_key, &x, NULL)
                  : cc_cert_issue(&t, subject, issuer, issuer_key, &x, NULL);
    assert_int_equal(rc, 0);
    assert_non_null(x);
    return x;
}

static void assert_spki_same(EVP_PKEY *subject, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *ref = issue(subject, issuer, issuer_key, false),
         *lean = issue(subject, issuer, issuer_key, true);
    unsigned char *a = NULL, *b = NULL;
    int al = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ref), &a),
        bl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(lean), &b);
    assert_true(al > 0);
    assert_int_equal(al, bl);
    assert_memory_equal(a, b, (size_t)al);
    /* the lean certificate verifies under the issuer, and once re-parsed
     * carries exactly the subject's key */
    assert_int_equal(X509_verify(lean, issuer_key), 1);
    uint8_t *der = NULL;
    size_t dl = 0;
    X509 *parsed = NULL;
    assert_int_equal(cc_cert_to_der(lean, &der, &dl), 0);
    assert_int_equal(cc_cert_from_der(der, dl, &parsed, NULL), 0);
    assert_non_null(X509_get0_pubkey(parsed));
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(parsed), subject), 1);
    free(der);
    X509_free(parsed);
    OPENSSL_free(a);
    OPENSSL_free(b);
    X509_free(ref);
    X509_free(lean);
}

static void test_pkcs8_named_curves(void **state)
{
    (void)state;
    const enum cc_key_type types[] = {CC_KEY_EC_P224, CC_KEY_EC_P256, CC_KEY_EC_P384,
                                      CC_KEY_EC_P521};
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        for (int i = 0; i < KEYS_PER_CURVE; i++) {
            EVP_PKEY *k = NULL;
            assert_int_equal(cc_key_generate(types[t], 0, &k, NULL), 0);
            assert_pkcs8_same(k);
            EVP_PKEY_free(k);
        }
    }
}

/* Shapes the direct writer does not produce must still come out as OpenSSL
 * writes them (fallback), not in the default shape. */
static void test_pkcs8_other_shapes(void **state)
{
    (void)state;
    EVP_PKEY *k = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, &k, NULL), 0);
    assert_int_equal(
        EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"),
        1);
    assert_pkcs8_same(k);
    assert_int_equal(EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                    "uncompressed"),
                     1);
    assert_int_equal(EVP_PKEY_set_int_param(k, OSSL_PKEY_PARAM_EC_INCLUDE_PUBLIC, 0), 1);
    assert_pkcs8_same(k);
    assert_int_equal(EVP_PKEY_set_int_param(k, OSSL_PKEY_PARAM_EC_INCLUDE_PUBLIC, 1), 1);
    assert_int_equal(EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_ENCODING, "explicit"), 1);
    assert_pkcs8_same(k);
    EVP_PKEY_free(k);
    assert_int_equal(cc_key_generate(CC_KEY_ED25519, 0, &k, NULL), 0);
    assert_pkcs8_same(k);
    EVP_PKEY_free(k);
}

static void test_lean_spki(void **state)
{
    (void)state;
    EVP_PKEY *ik = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, &ik, NULL), 0);
    X509 *ic = issue(ik, NULL, ik, false);
    const enum cc_key_type types[] = {CC_KEY_EC_P256, CC_KEY_EC_P384, CC_KEY_EC_P521,
                                      CC_KEY_ED25519};
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        for (int i = 0; i < KEYS_PER_CURVE / 4; i++) {
            EVP_PKEY *k = NULL;
            assert_int_equal(cc_key_generate(types[t], 0, &k, NULL), 0);
            assert_spki_same(k, ic, ik);
            EVP_PKEY_free(k);
        }
    }
    /* compressed and explicit-parameter subject keys: encoder fallback */
    EVP_PKEY *k = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, &k, NULL), 0);
    assert_int_equal(
        EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"),
        1);
    assert_spki_same(k, ic, ik);
    assert_int_equal(EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_ENCODING, "explicit"), 1);
    assert_spki_same(k, ic, ik);
    EVP_PKEY_free(k);
    X509_free(ic);
    EVP_PKEY_free(ik);
}

/* The documented difference: no cached key object on the lean certificate. */
static void test_lean_no_cached_key(void **state)
{
    (void)state;
    EVP_PKEY *ik = NULL, *k = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, &ik, NULL), 0);
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, &k, NULL), 0);
    X509 *ic = issue(ik, NULL, ik, false);
    X509 *ref = issue(k, ic, ik, false), *lean = issue(k, ic, ik, true);
    assert_non_null(X509_get0_pubkey(ref));
    assert_null(X509_get0_pubkey(lean));
    ERR_clear_error(); /* X509_get0_pubkey left its "cannot decode" note */
    X509_free(ref);
    X509_free(lean);
    X509_free(ic);
    EVP_PKEY_free(k);
    EVP_PKEY_free(ik);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pkcs8_named_curves),
        cmocka_unit_test(test_pkcs8_other_shapes),
        cmocka_unit_test(test_lean_spki),
        cmocka_unit_test(test_lean_no_cached_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
