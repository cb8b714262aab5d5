/* Security review regressions for src/common (docs/security-review.md).
 *
 * log_one_line: log messages quote untrusted input (an unauthenticated
 * POST /api/v2/manifest in state 2 got "manifest set refused: manifest does
 * not contain marble package <Package value>" logged verbatim), so a newline
 * in it forged a whole log entry. A text log entry must be exactly one line.
 *
 * error_one_line: error.h promises one-line messages, which clients and logs
 * show as such, but cairn_errf() copied quoted input verbatim; found by
 * fuzz_trust_files (a PCR key holding "\n" in a reference-values file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"

/* Runs LOG_WARN("%s", msg) with stderr captured; returns what was written. */
static char *capture_log(const char *msg)
{
    char path[] = "/tmp/cairn-review-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    LOG_WARN("refused: %s", msg);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    assert_true(n > 0);
    char *buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
    close(fd);
    return buf;
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void log_one_line(void **state)
{
    (void)state;
    cairn_log_setup(CAIRN_LOG_INFO, CAIRN_LOG_TEXT, "review");
    char *out = capture_log("pkg\n2026-11-27T11:00:00.000Z info  coordinator: FORGED\r\x1b[2Jx");
    /* one entry, one line, no terminal escapes; the text around is kept */
    assert_int_equal(count_char(out, '\n'), 1);
    assert_int_equal(out[strlen(out) - 1], '\n');
    assert_null(strchr(out, '\r'));
    assert_null(strchr(out, '\x1b'));
    assert_non_null(strstr(out, "refused: pkg?2026-11-27T11:00:00.000Z info  coordinator: FORGED??[2Jx"));
    free(out);
    /* the JSON format escapes instead: also one line */
    cairn_log_setup(CAIRN_LOG_INFO, CAIRN_LOG_JSON, "review");
    out = capture_log("a\nb");
    assert_int_equal(count_char(out, '\n'), 1);
    assert_non_null(strstr(out, "a\\u000ab"));
    free(out);
    cairn_log_setup(CAIRN_LOG_INFO, CAIRN_LOG_TEXT, "cairn");
}

static void error_one_line(void **state)
{
    (void)state;
    struct cairn_error e = {0};
    assert_int_equal(cairn_errf(&e, CAIRN_ERR_INVALID, "pcrs: unknown bank \"%s\"", "a\nb\r\tc\x7f"),
                     CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "pcrs: unknown bank \"a?b??c?\"");
    assert_int_equal(e.code, CAIRN_ERR_INVALID);
    /* a prefix with a quoted name is held to the same rule */
    assert_int_equal(cairn_err_prefix(&e, "file \"%s\"", "x\ny"), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "file \"x?y\": pcrs: unknown bank \"a?b??c?\"");
    /* UTF-8 text is kept */
    assert_int_equal(cairn_errf(&e, CAIRN_ERR_INVALID, "name \"%s\"", "caf\xc3\xa9"), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "name \"caf\xc3\xa9\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(log_one_line),
        cmocka_unit_test(error_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
