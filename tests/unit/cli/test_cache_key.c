/* The root cache's per-address file name (docs/cli.md "The root cache"):
 * normalisation of the address, escaping, IPv6, default port, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"

static const char *key(const char *addr)
{
    static char buf[300];
    if (cli_cache_key(addr, buf, sizeof(buf)) != 0)
        return NULL;
    return buf;
}

static void test_forms(void **state)
{
    (void)state;
    assert_string_equal(key("127.0.0.1:4433"), "127.0.0.1_4433");
    assert_string_equal(key("localhost:4433"), "localhost_4433");
    /* the same Coordinator written differently shares the file */
    assert_string_equal(key("https://LocalHost:4433/"), "localhost_4433");
    assert_string_equal(key("localhost"), "localhost_4433");
    assert_string_equal(key(":4433"), "localhost_4433");
    assert_string_equal(key("coord.example:25555"), "coord.example_25555");
    /* another port is another deployment */
    assert_string_equal(key("127.0.0.1:4434"), "127.0.0.1_4434");
    /* IPv6: brackets dropped, ':' escaped; '_' in a host escaped so that the
     * last '_' always starts the port */
    assert_string_equal(key("[::1]:4433"), "%3A%3A1_4433");
    assert_string_equal(key("my_host:1"), "my%5Fhost_1");
}

static void test_refusals(void **state)
{
    (void)state;
    assert_null(key(""));
    assert_null(key("http://x:1"));
    assert_null(key("a/../../etc:1"));
    assert_null(key("host:0"));
    assert_null(key("host:99999"));
    assert_null(key("a:b:c"));
    char small[8];
    assert_int_equal(cli_cache_key("localhost:4433", small, sizeof(small)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
