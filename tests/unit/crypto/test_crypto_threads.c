/* Concurrency: several threads use src/crypto at once from a cold start
 * (the cached digests are first fetched concurrently), each issuing,
 * verifying, sealing and hashing with its own objects plus one shared CA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"

#define N_THREADS 4
#define ROUNDS 8

static EVP_PKEY *g_ca_key;
static X509 *g_ca;
static pthread_barrier_t g_start;

struct result {
    int failures;
};

static void *worker(void *arg)
{
    struct result *r = arg;
    pthread_barrier_wait(&g_start);
    /* first use of the digest cache happens here, in every thread at once */
    uint8_t h1[32], h2[32];
    cc_sha256("abc", 3, h1);
    size_t n = 0;
    if (cc_digest("SHA256", "abc", 3, h2, &n) != 0 || n != 32 || memcmp(h1, h2, 32) != 0)
        r->failures++;
    STACK_OF(X509) *roots = sk_X509_new_null();
    sk_X509_push(roots, g_ca);
    for (int i = 0; i < ROUNDS; i++) {
        EVP_PKEY *k = NULL;
        X509 *x = NULL;
        struct cc_cert_template t = {.max_path_len = -1};
        t.subject.common_name = "thread leaf";
        if (cc_key_generate(CC_KEY_EC_P256, 0, &k, NULL) != 0 ||
            cc_cert_issue(&t, k, g_ca, g_ca_key, &x, NULL) != 0 ||
            cc_chain_verify(x, NULL, roots, NULL, 0, NULL) != 0)
            r->failures++;
        uint8_t key[32], *ct = NULL, *pt = NULL;
        size_t ct_len = 0, pt_len = 0;
        cc_random(key, sizeof(key));
        if (cc_aead_seal(key, "a", 1, "msg", 3, &ct, &ct_len) != 0 ||
            cc_aead_open(key, "a", 1, ct, ct_len, &pt, &pt_len) != 0 || pt_len != 3 || memcmp(pt, "msg", 3) != 0)
            r->failures++;
        free(ct);
        free(pt);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    sk_X509_free(roots);
    return NULL;
}

static void test_concurrent_use(void **state)
{
    (void)state;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, &g_ca_key, NULL), 0);
    struct cc_cert_template t = {.max_path_len = -1, .is_ca = true};
    t.subject.common_name = "thread CA";
    t.key_usage = CC_KU_CERT_SIGN;
    assert_int_equal(cc_cert_issue(&t, g_ca_key, NULL, g_ca_key, &g_ca, NULL), 0);
    pthread_barrier_init(&g_start, NULL, N_THREADS);
    pthread_t th[N_THREADS];
    struct result res[N_THREADS];
    memset(res, 0, sizeof(res));
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, &res[i]), 0);
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(res[i].failures, 0);
    }
    pthread_barrier_destroy(&g_start);
    X509_free(g_ca);
    EVP_PKEY_free(g_ca_key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
