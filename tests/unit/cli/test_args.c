/* CLI argument parser: flags anywhere, long/short, =value, --, and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/args.h"

static const struct cli_flag global[] = {
    {"insecure", 'i', false, NULL, ""},
    {"coordinator-cert", 0, true, "FILE", ""},
    {"nonce", 0, true, "STRING", ""},
    {NULL, 0, false, NULL, NULL},
};
static const struct cli_flag cmd[] = {
    {"output", 'o', true, "FILE", ""},
    {"signature", 's', false, NULL, ""},
    {"json", 0, true, "[MODE]", ""},
    {NULL, 0, false, NULL, NULL},
};

static int parse(int argc, char **argv, struct cli_args *a, char *err)
{
    const struct cli_flag *const sets[] = {global, cmd};
    return cli_args_parse(sets, 2, argc, argv, a, err, 256);
}

static void test_mixed(void **state)
{
    (void)state;
    char *argv[] = {"m.json", "--insecure", "-o", "out.pem", "localhost:4433", "--nonce=abc=", "-s"};
    struct cli_args a;
    char err[256] = "";
    assert_int_equal(parse(7, argv, &a, err), 0);
    assert_int_equal(a.n_pos, 2);
    assert_string_equal(a.pos[0], "m.json");
    assert_string_equal(a.pos[1], "localhost:4433");
    assert_true(cli_args_has(&a, "insecure"));
    assert_true(cli_args_has(&a, "signature"));
    assert_false(cli_args_has(&a, "coordinator-cert"));
    assert_string_equal(cli_args_get(&a, "output"), "out.pem");
    assert_string_equal(cli_args_get(&a, "nonce"), "abc=");
    assert_null(cli_args_get(&a, "coordinator-cert"));
}

static void test_last_wins_and_dashdash(void **state)
{
    (void)state;
    char *argv[] = {"-o", "a", "--output", "b", "--", "--insecure", "-"};
    struct cli_args a;
    char err[256];
    assert_int_equal(parse(7, argv, &a, err), 0);
    assert_string_equal(cli_args_get(&a, "output"), "b");
    assert_false(cli_args_has(&a, "insecure"));
    assert_int_equal(a.n_pos, 2);
    assert_string_equal(a.pos[0], "--insecure");
    assert_string_equal(a.pos[1], "-");
}

static void test_errors(void **state)
{
    (void)state;
    struct cli_args a;
    char err[256];
    char *u1[] = {"--bogus"};
    assert_int_equal(parse(1, u1, &a, err), -1);
    assert_string_equal(err, "unknown flag \"--bogus\"");
    char *u2[] = {"-x"};
    assert_int_equal(parse(1, u2, &a, err), -1);
    assert_non_null(strstr(err, "-x"));
    char *u3[] = {"--output"};
    assert_int_equal(parse(1, u3, &a, err), -1);
    assert_string_equal(err, "flag \"--output\" needs a value (FILE)");
    char *u4[] = {"--insecure=yes"};
    assert_int_equal(parse(1, u4, &a, err), -1);
    assert_string_equal(err, "flag \"--insecure\" takes no value");
    char *u5[] = {"-is"};
    assert_int_equal(parse(1, u5, &a, err), -1);
    assert_null(strchr(err, '\n'));
    char *u6[] = {"--output=", "x"};
    assert_int_equal(parse(2, u6, &a, err), 0); /* an empty value is a value */
    assert_string_equal(cli_args_get(&a, "output"), "");
}

/* An optional value: "--json" alone, "--json=pretty", "--json short"; a
 * following flag is not taken as the value. */
static void test_optional_value(void **state)
{
    (void)state;
    struct cli_args a;
    char err[256];
    char *v1[] = {"--json", "--insecure"};
    assert_int_equal(parse(2, v1, &a, err), 0);
    assert_true(cli_args_has(&a, "json"));
    assert_null(cli_args_get(&a, "json"));
    assert_true(cli_args_has(&a, "insecure"));
    char *v2[] = {"--json=pretty"};
    assert_int_equal(parse(1, v2, &a, err), 0);
    assert_string_equal(cli_args_get(&a, "json"), "pretty");
    char *v3[] = {"--json", "short", "-s"};
    assert_int_equal(parse(3, v3, &a, err), 0);
    assert_string_equal(cli_args_get(&a, "json"), "short");
    assert_int_equal(a.n_pos, 0);
    char *v4[] = {"--json"};
    assert_int_equal(parse(1, v4, &a, err), 0);
    assert_null(cli_args_get(&a, "json"));
    /* a required value still needs one */
    char *v5[] = {"--output"};
    assert_int_equal(parse(1, v5, &a, err), -1);
}

static void test_too_many(void **state)
{
    (void)state;
    char *argv[CLI_MAX_ARGS + 1];
    for (int i = 0; i <= CLI_MAX_ARGS; i++)
        argv[i] = "p";
    struct cli_args a;
    char err[256];
    assert_int_equal(parse(CLI_MAX_ARGS, argv, &a, err), 0);
    assert_int_equal(parse(CLI_MAX_ARGS + 1, argv, &a, err), -1);
    assert_non_null(strstr(err, "too many"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_last_wins_and_dashdash),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_optional_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
