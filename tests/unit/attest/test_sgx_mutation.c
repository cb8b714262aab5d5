/* Deterministic mutation tests of the SGX and TDX quote parsers and
 * verifiers (cf. OpenSSH test_fuzz.c): truncation at every length, padding,
 * and a bit flip in every byte of the quote. Every mutated quote must be
 * refused (or, for TDX trailing bytes, accepted with the count reported), and
 * ASan/UBSan watch every path. */
#include "test_sgx_util.h"

#include "attest/attest.h"

struct vec {
    const char *file;
    uint32_t tee;
    const char *at;
};

static const struct vec VECS[] = {
    {"sgx/mobilecoin_hw_quote.dat", DCAP_TEE_SGX, "2023-07-12T20:48:25Z"},
    {"sgx/trustee_occlum_quote.dat", DCAP_TEE_SGX, "2024-06-01T00:00:00Z"},
    {"tdx/gotdx_tdx_prod_quote_SPR_E4.dat", DCAP_TEE_TDX, "2023-07-01T01:00:00Z"},
    {"tdx/gotdx_quote_v5_sample.dat", DCAP_TEE_TDX, "2026-02-03T01:00:00Z"},
};

static int verify(uint32_t tee, const uint8_t *q, size_t n, time_t at, struct attest_claims *c,
                  struct cairn_error *err)
{
    struct attest_trust t = {.at = at};
    struct attest_evidence ev = {
        .type = tee == DCAP_TEE_TDX ? ATTEST_TDX : ATTEST_SGX, .quote = q, .quote_len = n};
    memset(c, 0, sizeof(*c));
    return attest_verify(&ev, &t, NULL, 0, c, err);
}

static void test_truncation_and_padding(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof(VECS) / sizeof(VECS[0]); v++) {
        size_t n;
        uint8_t *q = tv_load(VECS[v].file, &n);
        struct dcap_quote dq;
        struct cairn_error err = {0};
        assert_int_equal(dcap_quote_parse(q, n, VECS[v].tee, &dq, &err), 0);
        /* Every prefix shorter than the quote proper is refused by the parser,
         * with a message naming the quote kind; copies make ASan see reads past
         * the end. */
        for (size_t len = 0; len < dq.quote_size; len++) {
            uint8_t *m = malloc(len ? len : 1);
            memcpy(m, q, len);
            struct dcap_quote o;
            int rc = dcap_quote_parse(m, len, VECS[v].tee, &o, &err);
            if (rc == 0) {
                fprintf(stderr, "%s: prefix of %zu bytes parsed\n", VECS[v].file, len);
                fail();
            }
            assert_non_null(
                strstr(err.msg, VECS[v].tee == DCAP_TEE_TDX ? "tdx quote" : "sgx quote"));
            free(m);
        }
        /* Padding: SGX must be exact; TDX reports trailing bytes. */
        uint8_t *m = malloc(dq.quote_size + 3);
        memcpy(m, q, dq.quote_size);
        memset(m + dq.quote_size, 0, 3);
        struct dcap_quote o;
        int rc = dcap_quote_parse(m, dq.quote_size + 3, VECS[v].tee, &o, &err);
        if (VECS[v].tee == DCAP_TEE_SGX) {
            assert_int_equal(rc, CAIRN_ERR_TRAILING);
            assert_non_null(strstr(err.msg, "3 trailing bytes"));
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(o.trailing, 3);
            struct attest_claims c;
            assert_int_equal(
                verify(VECS[v].tee, m, dq.quote_size + 3, tv_time(VECS[v].at), &c, &err), 0);
            assert_int_equal(claim_int(c.json, "trailing_bytes"), 3);
            attest_claims_free(&c);
        }
        /* Oversized buffer */
        assert_int_equal(dcap_quote_parse(q, DCAP_QUOTE_MAX + 1, VECS[v].tee, &o, &err),
                         CAIRN_ERR_TOO_LARGE);
        /* Wrong kind */
        assert_int_equal(dcap_quote_parse(q, n,
                                          VECS[v].tee == DCAP_TEE_SGX ? DCAP_TEE_TDX : DCAP_TEE_SGX,
                                          &o, &err),
                         CAIRN_ERR_UNSUPPORTED);
        free(m);
        free(q);
    }
}

/* One bit flipped in every byte of the quote proper: always refused. */
static void test_bit_flips(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof(VECS) / sizeof(VECS[0]); v++) {
        size_t n;
        uint8_t *q = tv_load(VECS[v].file, &n);
        struct dcap_quote dq;
        struct cairn_error err = {0};
        assert_int_equal(dcap_quote_parse(q, n, VECS[v].tee, &dq, &err), 0);
        time_t at = tv_time(VECS[v].at);
        struct attest_claims c;
        assert_int_equal(verify(VECS[v].tee, q, n, at, &c, &err), 0);
        attest_claims_free(&c);
        size_t pem_start = (size_t)((const uint8_t *)dq.pck_pem - q);
        uint8_t *m = malloc(n);
        size_t tried = 0;
        for (size_t i = 0; i < dq.quote_size; i++) {
            /* In the PEM text, whitespace and the unused low bits of a final
             * base64 quantum may change without changing the certificates:
             * test every 7th byte there, each a base64 digit followed by
             * another one. */
            if (i >= pem_start) {
                if ((i - pem_start) % 7 != 0 || i + 1 >= dq.quote_size)
                    continue;
                char ch = (char)q[i], nx = (char)q[i + 1];
                bool b64 = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                           (ch >= '0' && ch <= '9');
                bool b64n = (nx >= 'A' && nx <= 'Z') || (nx >= 'a' && nx <= 'z') ||
                            (nx >= '0' && nx <= '9');
                if (!b64 || !b64n)
                    continue;
            }
            memcpy(m, q, n);
            m[i] ^= (uint8_t)(1u << (i % 8));
            int rc = verify(VECS[v].tee, m, n, at, &c, &err);
            if (rc == 0) {
                fprintf(stderr, "%s: flip of bit %zu at 0x%zx was accepted\n", VECS[v].file, i % 8,
                        i);
                attest_claims_free(&c);
                fail();
            }
            tried++;
        }
        fprintf(stderr, "%s: %zu mutated quotes refused\n", VECS[v].file, tried);
        free(m);
        free(q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncation_and_padding),
        cmocka_unit_test(test_bit_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
