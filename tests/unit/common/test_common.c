/* Unit tests for src/common: errors, buffers, bounded reader, encodings, files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/encoding.h"
#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "common/reader.h"

static void test_strerror_pinned(void **state)
{
    (void)state;
    assert_int_equal(CAIRN_ERR_NOMEM, -1);
    assert_int_equal(CAIRN_ERR_TRUNCATED, -3);
    assert_int_equal(CAIRN_ERR_VERIFY, -7);
    assert_int_equal(CAIRN_ERR_UNAUTHENTICATED, -23);
    assert_string_equal(cairn_strerror(CAIRN_ERR_TRUNCATED), "input truncated");
    assert_string_equal(cairn_strerror(12345), "unknown error");
    for (int c = 0; c >= CAIRN_ERR_UNAUTHENTICATED; c--)
        assert_string_not_equal(cairn_strerror(c), "unknown error");
}

static void test_error_messages(void **state)
{
    (void)state;
    struct cairn_error e;
    cairn_error_clear(&e);
    assert_string_equal(cairn_error_msg(&e), "success");
    assert_int_equal(cairn_errf(&e, CAIRN_ERR_NOT_FOUND, "package \"%s\" not found", "x"), CAIRN_ERR_NOT_FOUND);
    cairn_err_prefix(&e, "marble \"%s\"", "backend");
    assert_string_equal(e.msg, "marble \"backend\": package \"x\" not found");
    assert_int_equal(cairn_errf(NULL, CAIRN_ERR_IO, "ignored"), CAIRN_ERR_IO);
}

static void test_buf_cap(void **state)
{
    (void)state;
    struct cairn_buf b;
    cairn_buf_init(&b, 10);
    assert_int_equal(cairn_buf_append_str(&b, "hello"), 0);
    assert_int_equal(cairn_buf_appendf(&b, "%d", 12345), 0);
    assert_string_equal((char *)b.data, "hello12345");
    assert_int_equal(cairn_buf_append_str(&b, "!"), CAIRN_ERR_TOO_LARGE);
    assert_int_equal(b.len, 10);
    assert_true(b.failed);
    assert_string_equal((char *)b.data, "hello12345");
    size_t n;
    uint8_t *d = cairn_buf_take(&b, &n);
    assert_int_equal(n, 10);
    free(d);
    cairn_buf_free(&b);

    cairn_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(cairn_buf_append(&b, "abcdefgh", 8), 0);
    assert_int_equal(b.len, 80000);
    cairn_buf_free_secret(&b);
    assert_null(b.data);
}

static void test_reader_bounds(void **state)
{
    (void)state;
    const uint8_t in[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x02, 0xAA};
    struct cairn_reader r;
    cairn_reader_init(&r, in, sizeof(in));
    uint16_t v16;
    uint32_t v32;
    assert_int_equal(cairn_reader_u16le(&r, &v16), 0);
    assert_int_equal(v16, 0x0201);
    assert_int_equal(cairn_reader_u32be(&r, &v32), 0);
    assert_int_equal(v32, 0x03040506);
    uint64_t v64;
    assert_int_equal(cairn_reader_u64le(&r, &v64), CAIRN_ERR_TRUNCATED);
    assert_int_equal(r.off, 6); /* nothing consumed on failure */
    assert_int_equal(cairn_reader_skip(&r, 2), 0);
    const uint8_t *p;
    uint16_t n;
    /* TPM2B declares 2 bytes but only 1 follows: truncated, cursor restored. */
    assert_int_equal(cairn_reader_tpm2b(&r, &p, &n), CAIRN_ERR_TRUNCATED);
    assert_int_equal(r.off, 8);
    assert_int_equal(cairn_reader_skip(&r, SIZE_MAX), CAIRN_ERR_TRUNCATED);
    assert_int_equal(cairn_reader_remaining(&r), 3);
    cairn_reader_init(&r, NULL, 100);
    assert_int_equal(cairn_reader_remaining(&r), 0);
}

static void test_hex(void **state)
{
    (void)state;
    char *s = cairn_hex_encode("\x00\xff\x10", 3);
    assert_string_equal(s, "00ff10");
    free(s);
    uint8_t *b;
    size_t n;
    assert_int_equal(cairn_hex_decode("00FF10", 6, &b, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(b, "\x00\xff\x10", 3);
    free(b);
    assert_int_equal(cairn_hex_decode("0", 1, &b, &n), CAIRN_ERR_INVALID);
    assert_int_equal(cairn_hex_decode("zz", 2, &b, &n), CAIRN_ERR_INVALID);
    uint8_t fixed[2];
    assert_int_equal(cairn_hex_decode_exact("abcd", fixed, 2), 0);
    assert_int_equal(cairn_hex_decode_exact("abcdef", fixed, 2), CAIRN_ERR_INVALID);
}

static void test_base64(void **state)
{
    (void)state;
    /* RFC 4648 §10 test vectors */
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = cairn_base64_encode(plain[i], strlen(plain[i]));
        assert_string_equal(e, enc[i]);
        free(e);
        uint8_t *d;
        size_t n;
        assert_int_equal(cairn_base64_decode(enc[i], strlen(enc[i]), &d, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        free(d);
    }
    uint8_t *d;
    size_t n;
    assert_int_equal(cairn_base64_decode("Zg", 2, &d, &n), CAIRN_ERR_INVALID);   /* no padding */
    assert_int_equal(cairn_base64_decode("Zh==", 4, &d, &n), CAIRN_ERR_INVALID); /* non-canonical */
    assert_int_equal(cairn_base64_decode("Z===", 4, &d, &n), CAIRN_ERR_INVALID);
    assert_int_equal(cairn_base64_decode("Zm9v\n", 5, &d, &n), CAIRN_ERR_INVALID);
    assert_int_equal(cairn_base64_decode("-_==", 4, &d, &n), CAIRN_ERR_INVALID);
    assert_int_equal(cairn_base64url_decode("-_8", 3, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(d, "\xfb\xff", 2);
    free(d);
    assert_int_equal(cairn_base64url_decode("-_8=", 4, &d, &n), 0);
    free(d);
}

static void test_file_atomic(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], sub[256];
    snprintf(path, sizeof(path), "%s/state", dir);
    assert_int_equal(cairn_file_write_atomic(path, "one", 3, 0600), 0);
    assert_int_equal(cairn_file_write_atomic(path, "second", 6, 0600), 0);
    uint8_t *d;
    size_t n;
    assert_int_equal(cairn_file_read(path, 100, &d, &n), 0);
    assert_int_equal(n, 6);
    assert_string_equal((char *)d, "second");
    free(d);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(cairn_file_read(path, 5, &d, &n), CAIRN_ERR_TOO_LARGE);
    snprintf(sub, sizeof(sub), "%s/missing", dir);
    assert_int_equal(cairn_file_read(sub, 5, &d, &n), CAIRN_ERR_NOT_FOUND);
    snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
    assert_int_equal(cairn_mkdirs(sub, 0700), 0);
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_log_parse(void **state)
{
    (void)state;
    enum cairn_log_level l;
    enum cairn_log_format f;
    assert_int_equal(cairn_log_level_parse("DEBUG", &l), 0);
    assert_int_equal(l, CAIRN_LOG_DEBUG);
    assert_int_equal(cairn_log_level_parse("loud", &l), CAIRN_ERR_INVALID);
    assert_int_equal(cairn_log_format_parse("json", &f), 0);
    assert_int_equal(f, CAIRN_LOG_JSON);
    cairn_log_setup(CAIRN_LOG_DEBUG, CAIRN_LOG_JSON, "test");
    LOG_INFO("a line with \"quotes\" and a\nnewline");
    cairn_log_setup(CAIRN_LOG_INFO, CAIRN_LOG_TEXT, "test");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_pinned), cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_buf_cap),         cmocka_unit_test(test_reader_bounds),
        cmocka_unit_test(test_hex),             cmocka_unit_test(test_base64),
        cmocka_unit_test(test_file_atomic),     cmocka_unit_test(test_log_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
