/* api_json.h: request envelopes decoded with Go encoding/json semantics.
 * Golden cases (what Go's json.Unmarshal does with MarbleRun's request
 * structs), the deliberate refusals, and a mutation sweep over a valid body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/encoding.h"
#include "server/api_json.h"

struct env {   /* MarbleRun's MonotonicCounterRequest + a []byte + a map */
    char *name;
    uint64_t value;
    struct api_jbytes quote;
    const json_t *secrets;
    bool has_name, has_value, has_quote;
};

static int dec(const char *body, struct env *e, json_t **root, struct cairn_error *err)
{
    const struct api_jfield f[] = {
        {"name", API_J_STRING, &e->name, &e->has_name},
        {"value", API_J_UINT64, &e->value, &e->has_value},
        {"sgxQuote", API_J_BYTES, &e->quote, &e->has_quote},
        {"secrets", API_J_OBJECT, &e->secrets, NULL},
    };
    return api_json_decode((const uint8_t *)body, strlen(body), f, 4, root, err);
}

static void env_free(struct env *e)
{
    free(e->name);
    free(e->quote.p);
    memset(e, 0, sizeof(*e));
}

static void test_key_fold(void **state)
{
    (void)state;
    assert_true(cairn_go_key_equal("manifest", 8, "manifest"));
    assert_true(cairn_go_key_equal("Manifest", 8, "manifest"));
    assert_true(cairn_go_key_equal("MANIFEST", 8, "manifest"));
    assert_true(cairn_go_key_equal("SGXQUOTE", 8, "sgxQuote"));
    assert_true(cairn_go_key_equal("\xE2\x84\xAA" "ey", 5, "Key"));      /* KELVIN SIGN */
    assert_true(cairn_go_key_equal("\xC5\xBF" "ecrets", 8, "secrets"));  /* LONG S */
    assert_false(cairn_go_key_equal("manifests", 9, "manifest"));
    assert_false(cairn_go_key_equal("manifes", 7, "manifest"));
    assert_false(cairn_go_key_equal("manifest\0", 9, "manifest"));
    assert_false(cairn_go_key_equal("man_ifest", 9, "manifest"));
    assert_false(cairn_go_key_equal("\xC3\x9F", 2, "ss"));   /* no multi-char folds in Go */
    assert_false(cairn_go_key_equal("\xE2\x84\xAA", 3, "s"));
}

static void test_golden(void **state)
{
    (void)state;
    struct env e = {0};
    struct cairn_error err = {0};
    json_t *root = NULL;
    /* case-insensitive keys, unknown keys ignored */
    assert_int_equal(dec("{\"NAME\":\"c\",\"Value\":7,\"SgxQuote\":\"AQID\",\"other\":[1,{\"x\":null}]}", &e, &root, &err), 0);
    assert_string_equal(e.name, "c");
    assert_int_equal(e.value, 7);
    assert_int_equal(e.quote.n, 3);
    assert_memory_equal(e.quote.p, "\x01\x02\x03", 3);
    assert_true(e.has_name && e.has_value && e.has_quote);
    assert_null(e.secrets);
    json_decref(root);
    env_free(&e);
    /* null and absent keep zero values; top-level null sets nothing */
    assert_int_equal(dec("{\"name\":null}", &e, NULL, &err), 0);
    assert_null(e.name);
    assert_false(e.has_name);
    assert_int_equal(dec("null", &e, NULL, &err), 0);
    assert_int_equal(dec("{}", &e, NULL, &err), 0);
    /* []byte as base64 with CR/LF (Go skips them) or as an array of numbers */
    assert_int_equal(dec("{\"sgxQuote\":\"AQ\\r\\nID\"}", &e, NULL, &err), 0);
    assert_int_equal(e.quote.n, 3);
    env_free(&e);
    assert_int_equal(dec("{\"sgxQuote\":[1,2,255]}", &e, NULL, &err), 0);
    assert_memory_equal(e.quote.p, "\x01\x02\xff", 3);
    env_free(&e);
    /* maps stay maps: the object is borrowed from root */
    assert_int_equal(dec("{\"Secrets\":{\"a\":{\"Key\":\"AA==\"}}}", &e, &root, &err), 0);
    assert_non_null(e.secrets);
    assert_non_null(json_object_get(e.secrets, "a"));
    json_decref(root);
    env_free(&e);
    /* uint64 up to 2^63-1 */
    assert_int_equal(dec("{\"value\":9223372036854775807}", &e, NULL, &err), 0);
    assert_true(e.value == 9223372036854775807ull);
}

static void expect_refused(const char *body, const char *msg_part)
{
    struct env e = {0};
    struct cairn_error err = {0};
    json_t *root = (json_t *)1;
    assert_int_equal(dec(body, &e, &root, &err), CAIRN_ERR_INVALID);
    assert_null(root);
    assert_null(e.name);   /* nothing half-decoded is left */
    assert_null(e.quote.p);
    assert_int_equal(e.value, 0);
    if (strstr(err.msg, msg_part) == NULL)
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", body, err.msg, msg_part);
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused("{\"name\":\"a\",\"Name\":\"b\"}", "name: given twice");
    expect_refused("{\"name\":\"a\",\"name\":\"b\"}", "invalid JSON");
    expect_refused("{\"value\":-1}", "value: must not be negative");
    expect_refused("{\"value\":1.5}", "value: expected a non-negative integer");
    expect_refused("{\"value\":1e3}", "value: expected a non-negative integer");
    expect_refused("{\"value\":\"1\"}", "value: expected a non-negative integer, got string");
    expect_refused("{\"value\":18446744073709551615}", "invalid JSON");
    expect_refused("{\"name\":1}", "name: expected a string, got number");
    expect_refused("{\"name\":\"a\\u0000b\"}", "invalid JSON");
    expect_refused("{\"sgxQuote\":\"***\"}", "sgxQuote: invalid base64");
    expect_refused("{\"sgxQuote\":[1,256]}", "sgxQuote[1]: expected a number 0..255");
    expect_refused("{\"sgxQuote\":{}}", "sgxQuote: expected a base64 string, got object");
    expect_refused("{\"secrets\":[]}", "secrets: expected an object, got array");
    expect_refused("[]", "expected a JSON object, got array");
    expect_refused("\"x\"", "expected a JSON object, got string");
    expect_refused("{\"name\":\"a\"} trailing", "invalid JSON");
    expect_refused("", "invalid JSON");
    expect_refused("{\"name\":\"a\",\"sgxQuote\":\"!\"}", "sgxQuote");   /* name freed again */
}

/* Every one-byte mutation of a valid body: decodes or is refused, never
 * leaves outputs set on failure (ASan/UBSan catch the rest). */
static void test_mutations(void **state)
{
    (void)state;
    const char *base = "{\"name\":\"ctr\",\"value\":42,\"sgxQuote\":\"AQIDBA==\",\"secrets\":{\"a\":1}}";
    size_t n = strlen(base);
    static const char subst[] = {'\0', '"', '\\', '{', '}', '[', ']', ',', ':', '-', '1', 'A', '\xE2', ' '};
    char *buf = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof(subst); k++) {
            memcpy(buf, base, n + 1);
            buf[i] = subst[k];
            struct env e = {0};
            struct cairn_error err = {0};
            json_t *root = NULL;
            const struct api_jfield f[] = {
                {"name", API_J_STRING, &e.name, NULL},
                {"value", API_J_UINT64, &e.value, NULL},
                {"sgxQuote", API_J_BYTES, &e.quote, NULL},
                {"secrets", API_J_OBJECT, &e.secrets, NULL},
            };
            int rc = api_json_decode((const uint8_t *)buf, n, f, 4, &root, &err);
            if (rc != 0) {
                assert_null(e.name);
                assert_null(e.quote.p);
                assert_null(root);
                assert_true(err.msg[0] != '\0');
            }
            json_decref(root);
            env_free(&e);
        }
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_fold),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
