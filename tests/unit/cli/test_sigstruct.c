/* package-info parsers: a SIGSTRUCT and an enclave ELF built here byte by
 * byte at the documented offsets, golden values, and mutations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/sigstruct.h"

/* SHA-256 of the modulus bytes (i*7+3) mod 256, i = 0..383, computed
 * independently (Python hashlib). */
static const char *const GOLDEN_MRSIGNER = "3d9c7f577b18b641d4d7f34641109989f8115842cb771ce0716c2de77db159b7";

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static void build_sigstruct(uint8_t s[SIGSTRUCT_SIZE], uint64_t flags)
{
    static const uint8_t h1[16] = {6, 0, 0, 0, 0xe1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
    static const uint8_t h2[16] = {1, 1, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 1, 0, 0, 0};
    memset(s, 0xee, SIGSTRUCT_SIZE); /* non-zero filler: fields must come from their offsets */
    memcpy(s, h1, 16);
    put32(s + 16, 0);          /* vendor */
    put32(s + 20, 0x20260304); /* date */
    memcpy(s + 24, h2, 16);
    for (int i = 0; i < 384; i++)
        s[128 + i] = (uint8_t)(i * 7 + 3);
    put64(s + 928, flags);
    for (int i = 0; i < 32; i++)
        s[960 + i] = (uint8_t)(0xa0 + i);
    put16(s + 1024, 0x1234);
    put16(s + 1026, 7);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_sigstruct_golden(void **state)
{
    (void)state;
    uint8_t s[SIGSTRUCT_SIZE];
    build_sigstruct(s, 0x4 | 0x2); /* MODE64BIT | DEBUG */
    struct sgx_package_info info;
    assert_int_equal(sigstruct_parse(s, sizeof(s), &info, NULL), 0);
    char h[65];
    hex(info.mrsigner, 32, h);
    assert_string_equal(h, GOLDEN_MRSIGNER);
    hex(info.mrenclave, 32, h);
    assert_string_equal(h, "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
    assert_int_equal(info.isv_prod_id, 0x1234);
    assert_int_equal(info.isv_svn, 7);
    assert_true(info.debug);
    assert_int_equal(info.date, 0x20260304);

    build_sigstruct(s, 0x4);
    assert_int_equal(sigstruct_parse(s, sizeof(s), &info, NULL), 0);
    assert_false(info.debug);
}

static void test_sigstruct_bad(void **state)
{
    (void)state;
    uint8_t s[SIGSTRUCT_SIZE + 1];
    build_sigstruct(s, 4);
    struct sgx_package_info info;
    memset(&info, 0x55, sizeof(info));
    struct cairn_error err = {0};
    assert_int_equal(sigstruct_parse(s, SIGSTRUCT_SIZE - 1, &info, &err), CAIRN_ERR_TRUNCATED);
    assert_non_null(strstr(err.msg, "1808"));
    assert_int_equal(sigstruct_parse(s, SIGSTRUCT_SIZE + 1, &info, &err), CAIRN_ERR_TRAILING);
    assert_int_equal(sigstruct_parse(s, 0, &info, &err), CAIRN_ERR_TRUNCATED);
    s[4] ^= 1;
    assert_int_equal(sigstruct_parse(s, SIGSTRUCT_SIZE, &info, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "HEADER"));
    s[4] ^= 1;
    s[30] ^= 0x80;
    assert_int_equal(sigstruct_parse(s, SIGSTRUCT_SIZE, &info, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "HEADER2"));
    s[30] ^= 0x80;
    put32(s + 16, 0x1234);
    assert_int_equal(sigstruct_parse(s, SIGSTRUCT_SIZE, &info, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "VENDOR"));
    put32(s + 16, 0x8086);
    assert_int_equal(sigstruct_parse(s, SIGSTRUCT_SIZE, &info, &err), 0);
    /* out is untouched on failure */
    struct sgx_package_info before;
    memset(&before, 0x55, sizeof(before));
    memset(&info, 0x55, sizeof(info));
    s[0] = 0;
    assert_int_not_equal(sigstruct_parse(s, SIGSTRUCT_SIZE, &info, NULL), 0);
    assert_memory_equal(&info, &before, sizeof(info));
}

/* A minimal ELF64: header, .note.sgxmeta with the metadata, .shstrtab, and
 * three section headers (null, note, strtab). */
static uint8_t *build_elf(size_t *out_len, const uint8_t *css)
{
    const char strtab[] = "\0.note.sgxmeta\0.shstrtab\0";
    size_t note_off = 64;
    size_t desc_len = SGX_METADATA_CSS_OFFSET + SIGSTRUCT_SIZE + 100;
    size_t note_len = 12 + 16 + desc_len;
    size_t str_off = note_off + note_len;
    size_t sh_off = (str_off + sizeof(strtab) + 7) & ~(size_t)7;
    size_t len = sh_off + 3 * 64;
    uint8_t *e = calloc(1, len);
    memcpy(e, "\x7f" "ELF", 4);
    e[4] = 2;  /* 64-bit */
    e[5] = 1;  /* little-endian */
    e[6] = 1;
    put16(e + 16, 3);        /* ET_DYN */
    put16(e + 18, 62);       /* x86-64 */
    put64(e + 0x28, sh_off);
    put16(e + 0x34, 64);
    put16(e + 0x3a, 64);
    put16(e + 0x3c, 3);
    put16(e + 0x3e, 2);
    uint8_t *n = e + note_off;
    put32(n, 13);
    put32(n + 4, (uint32_t)desc_len);
    put32(n + 8, 1);
    memcpy(n + 12, "sgx_metadata", 13);
    uint8_t *desc = n + 12 + 16;
    put64(desc, SGX_METADATA_MAGIC);
    put64(desc + 8, 0x200000003ULL);
    memcpy(desc + SGX_METADATA_CSS_OFFSET, css, SIGSTRUCT_SIZE);
    memcpy(e + str_off, strtab, sizeof(strtab));
    uint8_t *sh = e + sh_off;
    /* [1] .note.sgxmeta */
    put32(sh + 64, 1);
    put32(sh + 64 + 4, 7); /* SHT_NOTE */
    put64(sh + 64 + 24, note_off);
    put64(sh + 64 + 32, note_len);
    /* [2] .shstrtab */
    put32(sh + 128, 15);
    put32(sh + 128 + 4, 3); /* SHT_STRTAB */
    put64(sh + 128 + 24, str_off);
    put64(sh + 128 + 32, sizeof(strtab));
    *out_len = len;
    return e;
}

static void test_elf_golden(void **state)
{
    (void)state;
    uint8_t s[SIGSTRUCT_SIZE];
    build_sigstruct(s, 4);
    size_t len;
    uint8_t *e = build_elf(&len, s);
    struct sgx_package_info info;
    const char *kind = NULL;
    assert_int_equal(sigstruct_from_file_bytes(e, len, &info, &kind, NULL), 0);
    assert_non_null(strstr(kind, "ELF"));
    char h[65];
    hex(info.mrsigner, 32, h);
    assert_string_equal(h, GOLDEN_MRSIGNER);
    assert_int_equal(info.isv_prod_id, 0x1234);
    assert_int_equal(info.isv_svn, 7);
    /* A bare SIGSTRUCT goes the other way. */
    assert_int_equal(sigstruct_from_file_bytes(s, sizeof(s), &info, &kind, NULL), 0);
    assert_non_null(strstr(kind, "SIGSTRUCT"));
    free(e);
}

static void test_elf_bad(void **state)
{
    (void)state;
    uint8_t s[SIGSTRUCT_SIZE];
    build_sigstruct(s, 4);
    size_t len;
    uint8_t *e = build_elf(&len, s);
    struct sgx_package_info info;
    struct cairn_error err = {0};
    /* wrong magic in the metadata */
    e[64 + 28] ^= 1;
    assert_int_equal(sigstruct_from_elf(e, len, &info, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "magic"));
    e[64 + 28] ^= 1;
    /* rename the section: not found */
    e[64 + 12 + 16 + SGX_METADATA_CSS_OFFSET + SIGSTRUCT_SIZE + 100 + 2] = 'X';
    assert_int_equal(sigstruct_from_elf(e, len, &info, &err), CAIRN_ERR_NOT_FOUND);
    free(e);
    e = build_elf(&len, s);
    /* 32-bit class is unsupported */
    e[4] = 1;
    assert_int_equal(sigstruct_from_elf(e, len, &info, &err), CAIRN_ERR_UNSUPPORTED);
    free(e);
}

/* Deterministic mutations: every truncation and a bit flip at many offsets
 * must give a clean result (success or an error), never a crash (ASan). */
static void test_elf_mutations(void **state)
{
    (void)state;
    uint8_t s[SIGSTRUCT_SIZE];
    build_sigstruct(s, 4);
    size_t len;
    uint8_t *e = build_elf(&len, s);
    struct sgx_package_info info;
    size_t ok = 0, bad = 0;
    for (size_t cut = 0; cut < len; cut += 7) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, e, cut);
        if (sigstruct_from_file_bytes(copy, cut, &info, NULL, NULL) == 0)
            ok++;
        else
            bad++;
        free(copy);
    }
    assert_int_equal(ok, 0); /* the section headers sit at the end: any cut loses them */
    for (size_t i = 0; i < len; i += 3) {
        for (int bit = 0; bit < 8; bit += 3) {
            e[i] ^= (uint8_t)(1 << bit);
            (void)sigstruct_from_file_bytes(e, len, &info, NULL, NULL);
            e[i] ^= (uint8_t)(1 << bit);
        }
    }
    /* extreme header values */
    put64(e + 0x28, UINT64_MAX - 10);
    assert_int_not_equal(sigstruct_from_elf(e, len, &info, NULL), 0);
    free(e);
    assert_true(bad > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigstruct_golden), cmocka_unit_test(test_sigstruct_bad),
        cmocka_unit_test(test_elf_golden),       cmocka_unit_test(test_elf_bad),
        cmocka_unit_test(test_elf_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
