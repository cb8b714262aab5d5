/* Kata initdata digests (src/attest/initdata.c): Kata's golden document,
 * the TOML forms initdata documents use at the top level, and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "attest/initdata.h"
#include "common/encoding.h"

/* The document of Kata's Go runtime test (src/runtime/pkg/oci/utils_test.go),
 * whose InitdataDigest it asserts: c6694bb7...49e5. */
static const char KATA_DOC[] = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"aa.toml\" = '''\n'''\n\n"
                               "\"cdh.toml\" = '''\n'''\n\n\"policy.rego\" = '''\n'''\n";

static int dig(const char *doc, struct initdata_digest *d, struct cairn_error *err)
{
    return initdata_digest((const uint8_t *)doc, strlen(doc), d, err);
}

static void test_kata_golden(void **state)
{
    (void)state;
    struct initdata_digest d;
    struct cairn_error err = {0};
    assert_int_equal(dig(KATA_DOC, &d, &err), 0);
    assert_string_equal(d.algorithm, "sha256");
    assert_int_equal(d.digest_len, 32);
    char *h = cairn_hex_encode(d.digest, 32);
    assert_string_equal(h, "c6694bb7a29d6f37ec72a15582e004b9f3142159682db8509a304407419a49e5");
    free(h);
    assert_memory_equal(d.host_data, d.digest, 32);
    assert_memory_equal(d.mr_config_id, d.digest, 32);
    static const uint8_t z[16];
    assert_memory_equal(d.mr_config_id + 32, z, 16);
    assert_true(d.has_pcr8);
}

static void test_forms(void **state)
{
    (void)state;
    struct initdata_digest d;
    struct cairn_error err = {0};
    static const char *const ok[] = {
        /* comments, CRLF, blank lines, literal strings, quoted keys, spacing */
        "# c\r\n\r\n  version = '0.1.0'   # v\r\nalgorithm=\"sha384\"\r\n[data]\r\n",
        "\"version\" = \"0.1.0\"\n'algorithm' = \"sha512\"\n",
        /* other top-level keys: scalars, multi-line strings (with a fake
         * algorithm line inside), dotted keys */
        "note = \"\"\"\nalgorithm = \"sha512\"\n\"\"\"\nversion = \"0.1.0\"\nalgorithm = \"sha256\"\nx = 1\ny.z = true\n",
        "lit = '''\nalgorithm = 'md5'\n'''\nversion = \"0.1.0\"\nalgorithm = \"sha256\"\n",
        /* keys after the first table are not top-level */
        "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\nalgorithm = \"md5\"\n",
    };
    static const size_t len[] = {48, 64, 32, 32, 32};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (dig(ok[i], &d, &err) != 0)
            fail_msg("doc %zu: %s", i, err.msg);
        assert_int_equal(d.digest_len, len[i]);
    }
    struct {
        const char *doc;
        int rc;
        const char *msg;
    } bad[] = {
        {"package agent_policy\n", CAIRN_ERR_INVALID, "not a bare policy"},
        {"version = \"0.1.0\"\n", CAIRN_ERR_INVALID, "no top-level algorithm"},
        {"algorithm = \"sha256\"\n[data]\nversion = \"0.1.0\"\n", CAIRN_ERR_INVALID, "no top-level version"},
        {"version = \"0.1.0\"\nalgorithm = \"sha256\"\nalgorithm = \"sha256\"\n", CAIRN_ERR_INVALID, "twice"},
        {"version = \"0.1.0\"\nalgorithm = \"sha\\u0032\"\n", CAIRN_ERR_INVALID, "escapes"},
        {"version = \"0.1.0\"\nalgorithm = \"\"\"sha256\"\"\"\n", CAIRN_ERR_INVALID, "one-line"},
        {"version = \"0.1.0\"\nalgorithm = sha256\n", CAIRN_ERR_INVALID, "must be a string"},
        {"version = \"0.1.0\"\nalgorithm = \"sha256\" x\n", CAIRN_ERR_INVALID, "text after"},
        {"version = \"0.1.0\"\nalgorithm = \"sha256\n", CAIRN_ERR_INVALID, "not closed"},
        {"version = \"0.1.0\"\nx = [1,\n2]\nalgorithm = \"sha256\"\n", CAIRN_ERR_INVALID, "array"},
        {"x = '''\nnever closed\n", CAIRN_ERR_INVALID, "never closed"},
        {"version = \"0.1.1\"\nalgorithm = \"sha256\"\n", CAIRN_ERR_UNSUPPORTED, "0.1.1"},
        {"version = \"0.1.0\"\nalgorithm = \"sha1\"\n", CAIRN_ERR_UNSUPPORTED, "sha1"},
        {"version = \"0.1.0\"\nalgorithm = \"SHA256\"\n", CAIRN_ERR_UNSUPPORTED, "SHA256"},
        {"", CAIRN_ERR_INVALID, "empty"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&d, 0xAA, sizeof(d));
        int rc = dig(bad[i].doc, &d, &err);
        if (rc != bad[i].rc || strstr(err.msg, bad[i].msg) == NULL)
            fail_msg("bad %zu: rc %d (want %d): %s", i, rc, bad[i].rc, err.msg);
        assert_int_equal(d.digest_len, (size_t)0xAAAAAAAAAAAAAAAAull); /* untouched */
    }
    uint8_t *big = malloc(INITDATA_MAX + 1);
    memset(big, '#', INITDATA_MAX + 1);
    assert_int_equal(initdata_digest(big, INITDATA_MAX + 1, &d, &err), CAIRN_ERR_TOO_LARGE);
    free(big);
}

/* Every truncation and every single-byte change of the golden document: no
 * crash, and an accepted one hashes exactly the bytes given. */
static void test_mutations(void **state)
{
    (void)state;
    size_t n = strlen(KATA_DOC);
    uint8_t *b = malloc(n);
    struct initdata_digest d, ref;
    struct cairn_error err = {0};
    assert_int_equal(dig(KATA_DOC, &ref, &err), 0);
    for (size_t k = 0; k <= n; k++) {
        memcpy(b, KATA_DOC, n);
        (void)initdata_digest(b, k, &d, &err);
    }
    for (size_t i = 0; i < n; i++) {
        for (int v = 0; v < 256; v += 51) {
            memcpy(b, KATA_DOC, n);
            if (b[i] == (uint8_t)v)
                continue;
            b[i] = (uint8_t)v;
            if (initdata_digest(b, n, &d, &err) == 0)
                assert_memory_not_equal(d.digest, ref.digest, 32); /* a changed byte changes the value */
        }
    }
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kata_golden),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
