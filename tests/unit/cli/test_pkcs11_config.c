/* The PKCS#11 configuration (MarbleRun's crypto11 JSON) and URIs: golden
 * vectors, Go-style case-insensitive keys, refusals with their reasons, and
 * mutations of a valid file (every byte flipped / every prefix) that must
 * parse or fail cleanly, never half-fill the result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/pkcs11.h"

static const char VALID[] = "{\"Path\":\"/usr/lib/softhsm/libsofthsm2.so\",\"TokenLabel\":\"marblerun-token\","
                            "\"Pin\":\"1234\"}";

static int parse(const char *j, struct cli_p11_config *c, char *err)
{
    return cli_p11_config_parse(j, strlen(j), c, err, 256);
}

static void test_golden(void **state)
{
    (void)state;
    struct cli_p11_config c;
    char err[256];
    assert_int_equal(parse(VALID, &c, err), 0);
    assert_string_equal(c.module, "/usr/lib/softhsm/libsofthsm2.so");
    assert_string_equal(c.token_label, "marblerun-token");
    assert_string_equal(c.pin, "1234");
    assert_null(c.token_serial);
    char *u = cli_p11_uri(&c, "ab", "my key", "private");
    /* every value %-encoded: labels with ';' or '/' cannot break the URI */
    assert_string_equal(u, "pkcs11:token=%6D%61%72%62%6C%65%72%75%6E%2D%74%6F%6B%65%6E;id=%61%62;"
                           "object=%6D%79%20%6B%65%79;type=private");
    free(u);
    u = cli_p11_uri(&c, NULL, "k", "cert");
    assert_string_equal(u, "pkcs11:token=%6D%61%72%62%6C%65%72%75%6E%2D%74%6F%6B%65%6E;object=%6B;type=cert");
    free(u);
    cli_p11_config_free(&c);
    /* Go's encoding/json matches names case-insensitively; unknown crypto11
     * tuning keys are ignored as crypto11 ignores them where unused */
    assert_int_equal(parse("{\"path\":\"/m.so\",\"TOKENSERIAL\":\"ceb8\",\"pin\":\"1\",\"MaxSessions\":4,"
                           "\"UserType\":1}",
                           &c, err),
                     0);
    assert_string_equal(c.token_serial, "ceb8");
    u = cli_p11_uri(&c, "x", NULL, "private");
    assert_string_equal(u, "pkcs11:serial=%63%65%62%38;id=%78;type=private");
    free(u);
    cli_p11_config_free(&c);
}

static void test_refusals(void **state)
{
    (void)state;
    struct cli_p11_config c;
    char err[256];
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"", "not a JSON object"},
        {"[]", "not a JSON object"},
        {"{\"TokenLabel\":\"t\"}", "\"Path\""},
        {"{\"Path\":\"\",\"TokenLabel\":\"t\"}", "\"Path\""},
        {"{\"Path\":3,\"TokenLabel\":\"t\"}", "\"Path\" must be a string"},
        {"{\"Path\":\"/m\"}", "exactly one of"},
        {"{\"Path\":\"/m\",\"TokenLabel\":\"a\",\"TokenSerial\":\"b\"}", "exactly one of"},
        {"{\"Path\":\"/m\",\"SlotNumber\":0}", "SlotNumber\" is not supported"},
        {"{\"Path\":\"/m\",\"TokenLabel\":\"a\",\"LoginNotSupported\":true}", "LoginNotSupported"},
        {"{\"Path\":\"/m\",\"TokenLabel\":\"a\",\"UserType\":0}", "UserType"},
        {"{\"Path\":\"/m\",\"TokenLabel\":\"a\\u0000b\"}", "NUL"},
        {"{\"Path\":\"/m\",\"Path\":\"/n\",\"TokenLabel\":\"a\"}", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&c, 0x5a, sizeof(c));
        err[0] = '\0';
        assert_int_equal(parse(bad[i].json, &c, err), -1);
        if (strstr(err, bad[i].why) == NULL)
            fail_msg("case %zu: \"%s\" does not name %s", i, err, bad[i].why);
        assert_null(c.module); /* nothing half-filled */
        assert_null(c.pin);
    }
}

static void test_mutations(void **state)
{
    (void)state;
    size_t n = strlen(VALID);
    char *m = malloc(n + 1);
    char err[256];
    struct cli_p11_config c;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(m, VALID, n + 1);
            m[i] = (char)(m[i] ^ (1 << bit));
            if (cli_p11_config_parse(m, n, &c, err, sizeof(err)) == 0) {
                assert_non_null(c.module);
                assert_true(c.token_label != NULL || c.token_serial != NULL);
                char *u = cli_p11_uri(&c, "i", "l", "private");
                assert_non_null(u);
                free(u);
                cli_p11_config_free(&c);
            } else {
                assert_null(c.module);
            }
        }
    }
    for (size_t len = 0; len < n; len++) /* every truncation fails */
        assert_int_equal(cli_p11_config_parse(VALID, len, &c, err, sizeof(err)), -1);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
