/* Unit tests for src/crypto/shamir: GF(2^8) facts from FIPS-197, a
 * hand-computed share set, split/combine for several (k, n), subsets, and
 * rejection of malformed input; XOR splitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/shamir.h"

static void test_gf256_fips197(void **state)
{
    (void)state;
    /* FIPS-197 §4.2: {57}•{83} = {c1}; §4.2.1: {57}•{13} = {fe}; xtime({80}) = {1b}. */
    assert_int_equal(cc_gf256_mul(0x57, 0x83), 0xc1);
    assert_int_equal(cc_gf256_mul(0x83, 0x57), 0xc1);
    assert_int_equal(cc_gf256_mul(0x57, 0x13), 0xfe);
    assert_int_equal(cc_gf256_mul(0x80, 0x02), 0x1b);
    /* FIPS-197 §5.1.1 S-box derivation example: {53}^-1 = {ca}. */
    assert_int_equal(cc_gf256_inv(0x53), 0xca);
    assert_int_equal(cc_gf256_inv(0xca), 0x53);
    assert_int_equal(cc_gf256_inv(0), 0);
    assert_int_equal(cc_gf256_inv(1), 1);
    for (unsigned a = 0; a < 256; a++) {
        assert_int_equal(cc_gf256_mul((uint8_t)a, 0), 0);
        assert_int_equal(cc_gf256_mul((uint8_t)a, 1), a);
        if (a != 0)
            assert_int_equal(cc_gf256_mul((uint8_t)a, cc_gf256_inv((uint8_t)a)), 1);
        /* distributivity against a few fixed b, c */
        for (unsigned b = 1; b < 256; b += 37) {
            uint8_t c = 0x5d;
            assert_int_equal(cc_gf256_mul((uint8_t)a, (uint8_t)(b ^ c)),
                             cc_gf256_mul((uint8_t)a, (uint8_t)b) ^ cc_gf256_mul((uint8_t)a, c));
        }
    }
}

/* f(x) = 0x42 + 0x57·x (threshold 2). Shares at x = 0x83 and x = 0x01:
 * f(0x83) = 0x42 ^ {57}•{83} = 0x42 ^ 0xc1 = 0x83; f(0x01) = 0x42 ^ 0x57 = 0x15.
 * Layout is hashicorp/shamir's: y bytes then the x byte. */
static void test_shamir_hand_vector(void **state)
{
    (void)state;
    const uint8_t s1[2] = {0x83, 0x83}, s2[2] = {0x15, 0x01};
    const uint8_t *sh[2] = {s1, s2};
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(cc_shamir_combine(sh, 2, 2, &out, &out_len), 0);
    assert_int_equal(out_len, 1);
    assert_int_equal(out[0], 0x42);
    free(out);
    /* order does not matter */
    const uint8_t *rev[2] = {s2, s1};
    assert_int_equal(cc_shamir_combine(rev, 2, 2, &out, &out_len), 0);
    assert_int_equal(out[0], 0x42);
    free(out);
}

static void check_split_combine(unsigned k, unsigned n, size_t len)
{
    uint8_t *secret = malloc(len);
    cc_random(secret, len);
    uint8_t *shares = NULL;
    size_t sl = 0;
    assert_int_equal(cc_shamir_split(secret, len, n, k, &shares, &sl), 0);
    assert_int_equal(sl, len + 1);
    /* x coordinates: non-zero and distinct */
    int seen[256] = {0};
    for (unsigned i = 0; i < n; i++) {
        uint8_t x = shares[i * sl + len];
        assert_int_not_equal(x, 0);
        assert_int_equal(seen[x], 0);
        seen[x] = 1;
    }
    const uint8_t **ptrs = malloc(n * sizeof(*ptrs));
    /* k shares starting at every offset (cyclic) recover the secret */
    for (unsigned start = 0; start < n; start++) {
        for (unsigned i = 0; i < k; i++)
            ptrs[i] = shares + ((start + i) % n) * sl;
        uint8_t *out = NULL;
        size_t out_len = 0;
        assert_int_equal(cc_shamir_combine(ptrs, k, sl, &out, &out_len), 0);
        assert_int_equal(out_len, len);
        assert_memory_equal(out, secret, len);
        cc_free_secret(out, out_len);
        /* k-1 shares give something else */
        if (k - 1 >= 2) {
            assert_int_equal(cc_shamir_combine(ptrs, k - 1, sl, &out, &out_len), 0);
            assert_memory_not_equal(out, secret, len);
            cc_free_secret(out, out_len);
        }
    }
    /* all n shares also work */
    for (unsigned i = 0; i < n; i++)
        ptrs[i] = shares + i * sl;
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(cc_shamir_combine(ptrs, n, sl, &out, &out_len), 0);
    assert_memory_equal(out, secret, len);
    cc_free_secret(out, out_len);
    free(ptrs);
    cc_free_secret(shares, n * sl);
    cc_free_secret(secret, len);
}

static void test_shamir_split_combine(void **state)
{
    (void)state;
    const unsigned kn[][2] = {{2, 2}, {2, 3}, {3, 3}, {3, 5}, {4, 7}, {5, 5}, {2, 255}, {17, 40}, {255, 255}};
    for (size_t i = 0; i < sizeof(kn) / sizeof(kn[0]); i++)
        check_split_combine(kn[i][0], kn[i][1], 32); /* MarbleRun: 32-byte key, 33-byte shares */
    check_split_combine(3, 4, 1);
    check_split_combine(2, 3, 1000);
}

/* Every 3-subset of a 3-of-5 split recovers; no 2-subset does. */
static void test_shamir_all_subsets(void **state)
{
    (void)state;
    uint8_t secret[32];
    cc_random(secret, sizeof(secret));
    uint8_t *shares = NULL;
    size_t sl = 0;
    assert_int_equal(cc_shamir_split(secret, 32, 5, 3, &shares, &sl), 0);
    int ok = 0, bad = 0;
    for (unsigned mask = 0; mask < 32; mask++) {
        const uint8_t *ptrs[5];
        size_t m = 0;
        for (unsigned i = 0; i < 5; i++)
            if (mask & (1u << i))
                ptrs[m++] = shares + i * sl;
        if (m < 2)
            continue;
        uint8_t *out = NULL;
        size_t out_len = 0;
        assert_int_equal(cc_shamir_combine(ptrs, m, sl, &out, &out_len), 0);
        if (m >= 3) {
            assert_memory_equal(out, secret, 32);
            ok++;
        } else {
            assert_memory_not_equal(out, secret, 32);
            bad++;
        }
        free(out);
    }
    assert_int_equal(ok, 16); /* C(5,3)+C(5,4)+C(5,5) */
    assert_int_equal(bad, 10);
    free(shares);
}

/* Two shares of a 3-of-n split say nothing about a 1-byte secret: for fixed
 * shares at x1, x2, every candidate third share value yields a different
 * secret, so all 256 secrets stay possible. */
static void test_shamir_k_minus_1_hides(void **state)
{
    (void)state;
    uint8_t secret = 0x99;
    uint8_t *shares = NULL;
    size_t sl = 0;
    assert_int_equal(cc_shamir_split(&secret, 1, 3, 3, &shares, &sl), 0);
    int hit[256] = {0};
    uint8_t third[2];
    third[1] = shares[2 * sl + 1];
    for (unsigned y = 0; y < 256; y++) {
        third[0] = (uint8_t)y;
        const uint8_t *ptrs[3] = {shares, shares + sl, third};
        uint8_t *out = NULL;
        size_t out_len = 0;
        assert_int_equal(cc_shamir_combine(ptrs, 3, sl, &out, &out_len), 0);
        hit[out[0]]++;
        free(out);
    }
    for (int v = 0; v < 256; v++)
        assert_int_equal(hit[v], 1);
    free(shares);
}

static void test_shamir_rejects(void **state)
{
    (void)state;
    uint8_t secret[32] = {1};
    uint8_t *shares = NULL;
    size_t sl = 0;
    assert_int_equal(cc_shamir_split(secret, 32, 3, 1, &shares, &sl), CAIRN_ERR_INVALID);
    assert_int_equal(cc_shamir_split(secret, 32, 2, 3, &shares, &sl), CAIRN_ERR_INVALID);
    assert_int_equal(cc_shamir_split(secret, 32, 256, 3, &shares, &sl), CAIRN_ERR_INVALID);
    assert_int_equal(cc_shamir_split(secret, 0, 3, 2, &shares, &sl), CAIRN_ERR_INVALID);
    assert_int_equal(cc_shamir_split(NULL, 32, 3, 2, &shares, &sl), CAIRN_ERR_INVALID);
    assert_null(shares);
    assert_int_equal(cc_shamir_split(secret, 32, 4, 2, &shares, &sl), 0);
    const uint8_t *p[4] = {shares, shares + sl, shares + 2 * sl, shares + 3 * sl};
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(cc_shamir_combine(p, 1, sl, &out, &out_len), CAIRN_ERR_INVALID);
    assert_int_equal(cc_shamir_combine(p, 2, 1, &out, &out_len), CAIRN_ERR_INVALID);
    const uint8_t *dup[3] = {p[0], p[1], p[0]};
    assert_int_equal(cc_shamir_combine(dup, 3, sl, &out, &out_len), CAIRN_ERR_INVALID);
    /* a different share with the same x is a duplicate too */
    uint8_t forged[33];
    memcpy(forged, p[1], sl);
    forged[0] ^= 1;
    const uint8_t *dup2[2] = {p[1], forged};
    assert_int_equal(cc_shamir_combine(dup2, 2, sl, &out, &out_len), CAIRN_ERR_INVALID);
    memcpy(forged, p[2], sl);
    forged[32] = 0;
    const uint8_t *zero[2] = {p[1], forged};
    assert_int_equal(cc_shamir_combine(zero, 2, sl, &out, &out_len), CAIRN_ERR_INVALID);
    const uint8_t *nul[2] = {p[1], NULL};
    assert_int_equal(cc_shamir_combine(nul, 2, sl, &out, &out_len), CAIRN_ERR_INVALID);
    assert_null(out);
    /* a modified y value gives a wrong secret (combining cannot detect it) */
    memcpy(forged, p[2], sl);
    forged[5] ^= 0x10;
    const uint8_t *mod[2] = {p[1], forged};
    assert_int_equal(cc_shamir_combine(mod, 2, sl, &out, &out_len), 0);
    assert_memory_not_equal(out, secret, 32);
    free(out);
    /* two splits of the same secret differ */
    uint8_t *again = NULL;
    assert_int_equal(cc_shamir_split(secret, 32, 4, 2, &again, &sl), 0);
    assert_memory_not_equal(again, shares, 4 * sl);
    free(again);
    free(shares);
}

static void test_xor(void **state)
{
    (void)state;
    uint8_t secret[32];
    cc_random(secret, sizeof(secret));
    for (unsigned n = 2; n <= 6; n++) {
        uint8_t *shares = NULL;
        assert_int_equal(cc_xor_split(secret, 32, n, &shares), 0);
        const uint8_t *p[6];
        for (unsigned i = 0; i < n; i++) {
            p[i] = shares + i * 32;
            assert_memory_not_equal(p[i], secret, 32);
        }
        uint8_t *out = NULL;
        assert_int_equal(cc_xor_combine(p, n, 32, &out), 0);
        assert_memory_equal(out, secret, 32);
        free(out);
        /* any n-1 miss it */
        for (unsigned skip = 0; skip < n; skip++) {
            const uint8_t *q[6];
            size_t m = 0;
            for (unsigned i = 0; i < n; i++)
                if (i != skip)
                    q[m++] = p[i];
            assert_int_equal(cc_xor_combine(q, m, 32, &out), 0);
            assert_memory_not_equal(out, secret, 32);
            free(out);
        }
        cc_free_secret(shares, n * 32);
    }
    uint8_t *shares = NULL;
    assert_int_equal(cc_xor_split(secret, 32, 1, &shares), CAIRN_ERR_INVALID);
    assert_int_equal(cc_xor_split(secret, 0, 3, &shares), CAIRN_ERR_INVALID);
    assert_int_equal(cc_xor_split(secret, 32, 256, &shares), CAIRN_ERR_INVALID);
    assert_null(shares);
    uint8_t *out = NULL;
    assert_int_equal(cc_xor_combine(NULL, 1, 32, &out), CAIRN_ERR_INVALID);
    const uint8_t *one[1] = {secret};
    assert_int_equal(cc_xor_combine(one, 0, 32, &out), CAIRN_ERR_INVALID);
    assert_int_equal(cc_xor_combine(one, 1, 32, &out), 0);
    assert_memory_equal(out, secret, 32);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gf256_fips197),
        cmocka_unit_test(test_shamir_hand_vector),
        cmocka_unit_test(test_shamir_split_combine),
        cmocka_unit_test(test_shamir_all_subsets),
        cmocka_unit_test(test_shamir_k_minus_1_hides),
        cmocka_unit_test(test_shamir_rejects),
        cmocka_unit_test(test_xor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
