/* UKI PE parsing, PCR 11 prediction and signed PCR policies (attest/uki.h).
 * Golden vectors in tests/data/uki (README.md there): a UKI built with
 * objcopy and systemd-measure 252's own calculate/sign output for it. The PE
 * parser (untrusted input) also gets synthetic layouts (zero fill, prefix
 * names, last match wins, VirtualSize 0) and a deterministic mutation loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/eventlog.h"
#include "attest/policy.h"
#include "attest/tpm.h"
#include "attest/uki.h"
#include "common/encoding.h"
#include "common/file.h"

static uint8_t *load(const char *name, size_t *n)
{
    const char *d = getenv("CAIRN_TEST_DATA_DIR");
    assert_non_null(d);
    char path[1024];
    snprintf(path, sizeof(path), "%s/uki/%s", d, name);
    uint8_t *p = NULL;
    assert_int_equal(cairn_file_read(path, 1u << 20, &p, n), 0);
    return p;
}

static EVP_PKEY *load_key(void)
{
    size_t n;
    uint8_t *p = load("pcrpkey.pem", &n);
    BIO *b = BIO_new_mem_buf(p, (int)n);
    EVP_PKEY *k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    free(p);
    assert_non_null(k);
    return k;
}

/* The golden UKI's predicted values equal systemd-measure's calculate.json. */
static void test_golden_uki(void **state)
{
    (void)state;
    size_t n, jn;
    uint8_t *pe_bytes = load("golden.efi", &n);
    uint8_t *jb = load("calculate.json", &jn);
    json_t *want = json_loadb((const char *)jb, jn, 0, NULL);
    assert_non_null(want);
    struct uki_pe pe;
    struct cairn_error err = {0};
    assert_int_equal(uki_pe_parse(pe_bytes, n, &pe, &err), 0);
    assert_int_equal(pe.machine, 0x8664);
    assert_true(pe.found[UKI_SEC_LINUX] && pe.found[UKI_SEC_OSREL] && pe.found[UKI_SEC_CMDLINE] &&
                pe.found[UKI_SEC_PCRPKEY]);
    assert_false(pe.found[UKI_SEC_INITRD] || pe.found[UKI_SEC_UNAME]);
    assert_int_equal(pe.sec[UKI_SEC_LINUX].raw_size, 25);
    assert_memory_equal(pe.sec[UKI_SEC_LINUX].raw, "cairn uki golden: kernel\n", 25);
    struct uki_digests d;
    assert_int_equal(uki_digests_from_pe(&pe, &d, &err), 0);
    int checked = 0;
    for (int b = 0; b < UKI_N_BANKS; b++) {
        uint8_t base[64];
        assert_int_equal(uki_pcr11_sections(&d, (enum uki_bank)b, base), 0);
        json_t *arr = json_object_get(want, uki_bank_name((enum uki_bank)b));
        assert_int_equal(json_array_size(arr), 4);
        for (size_t i = 0; i < 4; i++) {
            json_t *e = json_array_get(arr, i);
            assert_string_equal(json_string_value(json_object_get(e, "phase")), uki_default_phases[i]);
            uint8_t v[64];
            memcpy(v, base, sizeof(v));
            assert_int_equal(uki_pcr11_phase((enum uki_bank)b, v, uki_default_phases[i]), 0);
            char *h = cairn_hex_encode(v, uki_bank_size((enum uki_bank)b));
            assert_string_equal(h, json_string_value(json_object_get(e, "hash")));
            free(h);
            checked++;
        }
    }
    assert_int_equal(checked, 16);
    json_decref(want);
    free(jb);
    free(pe_bytes);
}

/* ---- synthetic PE files ---------------------------------------------------- */

struct sec_spec {
    const char name[9];
    uint32_t vsize, raw_size, raw_ptr;
};

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

/* DOS header (e_lfanew 0x40), PE32+ header with a 240-byte optional header,
 * the sections, data area of `size` bytes filled with 'A'+i per section. */
static size_t make_pe(uint8_t *buf, size_t size, const struct sec_spec *s, unsigned n)
{
    memset(buf, 0, size);
    buf[0] = 'M';
    buf[1] = 'Z';
    put32(buf + 0x3C, 0x40);
    memcpy(buf + 0x40, "PE\0\0", 4);
    put16(buf + 0x44, 0x8664);
    put16(buf + 0x46, (uint16_t)n);
    put16(buf + 0x54, 240);
    put16(buf + 0x58, 0x20b);
    uint8_t *t = buf + 0x58 + 240;
    for (unsigned i = 0; i < n; i++, t += 40) {
        memcpy(t, s[i].name, strnlen(s[i].name, 8));
        put32(t + 8, s[i].vsize);
        put32(t + 12, 0x1000 * (i + 1));
        put32(t + 16, s[i].raw_size);
        put32(t + 20, s[i].raw_ptr);
        if (s[i].raw_ptr < size)
            memset(buf + s[i].raw_ptr, 'A' + (int)i,
                   s[i].raw_size < size - s[i].raw_ptr ? s[i].raw_size : size - s[i].raw_ptr);
    }
    return size;
}

/* VirtualSize > SizeOfRawData: the loader zero-fills; the stub measures the
 * zeros. Smaller: only VirtualSize bytes. Both equal hashing the same bytes as
 * plain files (what systemd-measure would be given). */
static void test_zero_fill_and_truncation(void **state)
{
    (void)state;
    static uint8_t buf[0x2000];
    const struct sec_spec s[] = {
        {".linux", 0x300, 0x200, 0x400},    /* 0x200 'A' + 0x100 zeros */
        {".osrel", 0x10, 0x200, 0x600},     /* 0x10 'B' of 0x200 */
    };
    size_t n = make_pe(buf, sizeof(buf), s, 2);
    struct uki_pe pe;
    struct cairn_error err = {0};
    assert_int_equal(uki_pe_parse(buf, n, &pe, &err), 0);
    assert_int_equal(pe.sec[UKI_SEC_LINUX].raw_size, 0x200);
    assert_int_equal(pe.sec[UKI_SEC_LINUX].zero_fill, 0x100);
    assert_int_equal(pe.sec[UKI_SEC_OSREL].raw_size, 0x10);
    assert_int_equal(pe.sec[UKI_SEC_OSREL].zero_fill, 0);
    struct uki_digests d, want = {0};
    assert_int_equal(uki_digests_from_pe(&pe, &d, &err), 0);
    uint8_t lin[0x300] = {0}, os[0x10];
    memset(lin, 'A', 0x200);
    memset(os, 'B', sizeof(os));
    struct uki_hasher *h = uki_hasher_new();
    assert_non_null(h);
    assert_int_equal(uki_hasher_update(h, lin, sizeof(lin)), 0);
    assert_int_equal(uki_hasher_final(h, UKI_SEC_LINUX, &want), 0);
    assert_int_equal(uki_hasher_update(h, os, sizeof(os)), 0);
    assert_int_equal(uki_hasher_final(h, UKI_SEC_OSREL, &want), 0);
    uki_hasher_free(h);
    assert_memory_equal(&d, &want, sizeof(d));
}

/* The 252 stub's name rule: a prefix of the 8-byte Name, the last match wins,
 * a VirtualSize of 0 is "not there"; .pcrsig and unknown names are ignored. */
static void test_names(void **state)
{
    (void)state;
    static uint8_t buf[0x2000];
    const struct sec_spec s[] = {
        {".linux", 0x10, 0x10, 0x400},
        {".linuxAB", 0x20, 0x20, 0x500},   /* matches .linux too, and comes later */
        {".initrd", 0x10, 0x10, 0x600},
        {".initrd", 0, 0x10, 0x700},       /* later, empty: .initrd is gone */
        {".pcrsig", 0x10, 0x10, 0x800},
        {".text", 0x10, 0x10, 0x900},
        {".dtb", 0x10, 0x10, 0xA00},
    };
    size_t n = make_pe(buf, sizeof(buf), s, 7);
    struct uki_pe pe;
    struct cairn_error err = {0};
    assert_int_equal(uki_pe_parse(buf, n, &pe, &err), 0);
    assert_true(pe.found[UKI_SEC_LINUX]);
    assert_int_equal(pe.sec[UKI_SEC_LINUX].raw_size, 0x20);
    assert_int_equal(pe.sec[UKI_SEC_LINUX].raw[0], 'B');
    assert_false(pe.found[UKI_SEC_INITRD]);
    assert_true(pe.found[UKI_SEC_DTB]);
    int found = 0;
    for (int i = 0; i < UKI_N_SECTIONS; i++)
        found += pe.found[i];
    assert_int_equal(found, 2);
}

static void expect_error(const uint8_t *buf, size_t n, int code, const char *needle)
{
    struct uki_pe pe;
    memset(&pe, 0x5A, sizeof(pe));
    struct uki_pe before = pe;
    struct cairn_error err = {0};
    assert_int_equal(uki_pe_parse(buf, n, &pe, &err), code);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
    assert_memory_equal(&pe, &before, sizeof(pe));   /* output untouched on failure */
}

static void test_refusals(void **state)
{
    (void)state;
    static uint8_t buf[0x2000];
    struct sec_spec s[] = {{".linux", 0x10, 0x10, 0x400}};
    size_t n = make_pe(buf, sizeof(buf), s, 1);
    expect_error(buf, 0x30, CAIRN_ERR_TRUNCATED, "shorter than a DOS header");
    buf[0] = 'X';
    expect_error(buf, n, CAIRN_ERR_INVALID, "no \"MZ\"");
    buf[0] = 'M';
    put32(buf + 0x3C, 0x3000);
    expect_error(buf, n, CAIRN_ERR_TRUNCATED, "PE header offset 0x3000 beyond");
    put32(buf + 0x3C, 0x40);
    buf[0x41] = 'X';
    expect_error(buf, n, CAIRN_ERR_INVALID, "no \"PE\\0\\0\"");
    buf[0x41] = 'E';
    put16(buf + 0x44, 0x1234);
    expect_error(buf, n, CAIRN_ERR_UNSUPPORTED, "machine 0x1234");
    put16(buf + 0x44, 0xaa64);
    put16(buf + 0x46, 97);
    expect_error(buf, n, CAIRN_ERR_INVALID, "97 sections");
    put16(buf + 0x46, 60);
    buf[0x58 + 240] = 'x';   /* ".linux" -> "xlinux": its data is not needed */
    expect_error(buf, 0x58 + 240 + 40 * 10, CAIRN_ERR_TRUNCATED, "section table truncated at entry 10");
    buf[0x58 + 240] = '.';
    put16(buf + 0x46, 1);
    put16(buf + 0x58, 0x10c);
    expect_error(buf, n, CAIRN_ERR_INVALID, "magic 0x010c");
    put16(buf + 0x58, 0x10b);
    put32(buf + 0x58 + 240 + 20, 0x1FF8);    /* raw data runs past the end */
    expect_error(buf, n, CAIRN_ERR_TRUNCATED, "section 0 (.linux): raw data 0x1ff8+0x10 beyond");
    put32(buf + 0x58 + 240 + 20, 0xFFFFFFF8);  /* pointer + size would wrap in 32 bits */
    expect_error(buf, n, CAIRN_ERR_TRUNCATED, "beyond the file");
    put32(buf + 0x58 + 240 + 20, 0x400);
    put32(buf + 0x58 + 240 + 8, 0x40000001);
    expect_error(buf, n, CAIRN_ERR_TOO_LARGE, "VirtualSize 0x40000001 over the cap");
}

/* Bit flips at every byte of the headers and truncation at every length of
 * the golden UKI: each parse succeeds or fails cleanly (ASan/UBSan catch the
 * rest), and a success only ever points inside the buffer. */
static void test_mutations(void **state)
{
    (void)state;
    size_t n;
    uint8_t *orig = load("golden.efi", &n);
    uint8_t *m = malloc(n);
    assert_non_null(m);
    size_t ok = 0, refused = 0;
    for (size_t len = 0; len <= n; len++) {
        memcpy(m, orig, n);
        struct uki_pe pe;
        struct cairn_error err = {0};
        int rc = uki_pe_parse(m, len, &pe, &err);
        rc == 0 ? ok++ : refused++;
    }
    for (size_t i = 0; i < 0x400 && i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(m, orig, n);
            m[i] ^= (uint8_t)(1u << bit);
            struct uki_pe pe;
            struct cairn_error err = {0};
            if (uki_pe_parse(m, n, &pe, &err) == 0) {
                ok++;
                for (int s = 0; s < UKI_N_SECTIONS; s++) {
                    if (!pe.found[s])
                        continue;
                    assert_true(pe.sec[s].raw >= m && pe.sec[s].raw_size <= (uint64_t)(m + n - pe.sec[s].raw));
                }
            } else {
                refused++;
                assert_true(err.msg[0] != '\0');
            }
        }
    }
    /* truncations before the last section's data must all be refused */
    assert_true(refused > 0x400);
    assert_true(ok > 0);
    free(m);
    free(orig);
}

static void test_phases(void **state)
{
    (void)state;
    char out[UKI_MAX_PHASE_LEN + 1];
    struct cairn_error err = {0};
    assert_int_equal(uki_phase_normalize("::a::b:", out, &err), 0);
    assert_string_equal(out, "a:b");
    assert_int_equal(uki_phase_normalize("::", out, &err), 0);
    assert_string_equal(out, "");
    assert_int_equal(uki_phase_normalize("x\ty", out, &err), CAIRN_ERR_INVALID);
    assert_int_equal(uki_phase_normalize("caf\xc3\xa9", out, &err), CAIRN_ERR_INVALID);
    /* "a::b" measures like "a:b" */
    uint8_t v1[64] = {0}, v2[64] = {0};
    assert_int_equal(uki_pcr11_phase(UKI_BANK_SHA256, v1, "a::b:"), 0);
    assert_int_equal(uki_pcr11_phase(UKI_BANK_SHA256, v2, "a:b"), 0);
    assert_memory_equal(v1, v2, 32);
    enum uki_bank b;
    assert_int_equal(uki_bank_parse("SHA384", &b), 0);
    assert_int_equal(b, UKI_BANK_SHA384);
    assert_int_equal(uki_bank_parse("md5", &b), CAIRN_ERR_INVALID);
}

/* ---- signed PCR policies (systemd-measure sign output) ------------------------ */

static void value_of(enum uki_bank b, const char *phase, uint8_t out[64])
{
    size_t n;
    uint8_t *pe_bytes = load("golden.efi", &n);
    struct uki_pe pe;
    struct uki_digests d;
    assert_int_equal(uki_pe_parse(pe_bytes, n, &pe, NULL), 0);
    assert_int_equal(uki_digests_from_pe(&pe, &d, NULL), 0);
    assert_int_equal(uki_pcr11_sections(&d, b, out), 0);
    assert_int_equal(uki_pcr11_phase(b, out, phase), 0);
    free(pe_bytes);
}

/* pol and pkfp as systemd computed them, for every bank and phase. */
static void test_policy_digest_golden(void **state)
{
    (void)state;
    size_t n;
    uint8_t *sb = load("tpm2-pcr-signature.json", &n);
    json_t *sig = json_loadb((const char *)sb, n, 0, NULL);
    assert_non_null(sig);
    EVP_PKEY *key = load_key();
    uint8_t fp[32];
    assert_int_equal(uki_pubkey_fingerprint(key, fp, NULL), 0);
    char *fph = cairn_hex_encode(fp, 32);
    for (int b = 0; b < UKI_N_BANKS; b++) {
        json_t *arr = json_object_get(sig, uki_bank_name((enum uki_bank)b));
        assert_int_equal(json_array_size(arr), 4);
        for (size_t i = 0; i < 4; i++) {
            uint8_t v[64], pol[32];
            value_of((enum uki_bank)b, uki_default_phases[i], v);
            assert_int_equal(uki_policy_pcr_digest((enum uki_bank)b, v, uki_bank_size((enum uki_bank)b), pol), 0);
            char *h = cairn_hex_encode(pol, 32);
            assert_string_equal(h, json_string_value(json_object_get(json_array_get(arr, i), "pol")));
            assert_string_equal(fph, json_string_value(json_object_get(json_array_get(arr, i), "pkfp")));
            free(h);
        }
    }
    free(fph);
    EVP_PKEY_free(key);
    json_decref(sig);
    free(sb);
}

static void test_pcrsig_check(void **state)
{
    (void)state;
    size_t n;
    uint8_t *sb = load("tpm2-pcr-signature.json", &n);
    EVP_PKEY *key = load_key();
    struct cairn_error err = {0};
    for (int b = 0; b < UKI_N_BANKS; b++) {
        size_t sz = uki_bank_size((enum uki_bank)b);
        for (size_t i = 0; i < 4; i++) {
            uint8_t v[64];
            value_of((enum uki_bank)b, uki_default_phases[i], v);
            assert_int_equal(uki_pcrsig_check(sb, n, key, (enum uki_bank)b, v, sz, &err), 0);
        }
        /* a PCR 11 value the file does not sign */
        uint8_t v[64];
        value_of((enum uki_bank)b, "enter-initrd:leave-initrd:sysinit:ready:shutdown", v);
        assert_int_equal(uki_pcrsig_check(sb, n, key, (enum uki_bank)b, v, sz, &err), CAIRN_ERR_POLICY);
        assert_non_null(strstr(err.msg, "signs no"));
    }
    /* another key: its fingerprint is in no entry */
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(other);
    uint8_t v[64];
    value_of(UKI_BANK_SHA256, uki_default_phases[3], v);
    assert_int_equal(uki_pcrsig_check(sb, n, other, UKI_BANK_SHA256, v, 32, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "pkfp differs"));
    EVP_PKEY_free(other);

    /* the right pkfp and pol but a forged signature byte */
    char *text = strndup((const char *)sb, n);
    char *p = strstr(strstr(text, "\"sha256\""), "\"sig\" : \"");
    assert_non_null(p);
    p += strlen("\"sig\" : \"");
    *p = *p == 'A' ? 'B' : 'A';
    /* the forged entry is the first sha256 one: enter-initrd */
    value_of(UKI_BANK_SHA256, uki_default_phases[0], v);
    assert_int_equal(uki_pcrsig_check((uint8_t *)text, strlen(text), key, UKI_BANK_SHA256, v, 32, &err),
                     CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "does not verify"));
    free(text);

    /* malformed files are refused as a whole */
    const char *bad[] = {"", "[]", "{\"sha256\": {}}", "{\"sha256\": [{\"pcrs\": [11]}]}",
                         "{\"sha256\": [1]}", "{\"sha256\": [{\"pcrs\": [11], \"pkfp\": \"zz\", \"pol\": \"00\", \"sig\": \"\"}]}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = uki_pcrsig_check((const uint8_t *)bad[i], strlen(bad[i]), key, UKI_BANK_SHA256, v, 32, &err);
        assert_true(rc == CAIRN_ERR_INVALID || rc == CAIRN_ERR_POLICY);
    }
    /* no entry for the quote's bank */
    const char *only1 = "{\"sha1\": []}";
    assert_int_equal(uki_pcrsig_check((const uint8_t *)only1, strlen(only1), key, UKI_BANK_SHA256, v, 32, &err),
                     CAIRN_ERR_POLICY);
    /* mutation loop over the real file: never accepted with a changed value, never a crash */
    uint8_t *m = malloc(n);
    assert_non_null(m);
    for (size_t i = 0; i < n; i += 7) {
        memcpy(m, sb, n);
        m[i] ^= 0x01;
        value_of(UKI_BANK_SHA256, uki_default_phases[3], v);
        v[5] ^= 0x80;   /* a value nobody signed */
        assert_int_not_equal(uki_pcrsig_check(m, n, key, UKI_BANK_SHA256, v, 32, &err), 0);
    }
    free(m);
    EVP_PKEY_free(key);
    free(sb);
}

/* tpm_policy_match with PCRPublicKey, on claims as tpm_verify writes them. */
static void test_policy_match(void **state)
{
    (void)state;
    size_t n, kn;
    uint8_t *sb = load("tpm2-pcr-signature.json", &n);
    uint8_t *kb = load("pcrpkey.pem", &kn);
    uint8_t v256[64], v1[64];
    value_of(UKI_BANK_SHA256, uki_default_phases[3], v256);
    value_of(UKI_BANK_SHA1, uki_default_phases[1], v1);
    char *h256 = cairn_hex_encode(v256, 32), *h1 = cairn_hex_encode(v1, 20);
    struct tee_package pkg = {.tee = ATTEST_TPM, .pcr_public_key = (char *)kb};
    struct attest_claims c = {.type = ATTEST_TPM};
    struct cairn_error err = {0};

    c.json = json_pack("{s:{s:{s:s}}, s:s%}", "pcrs", "sha256", "11", h256, "pcr_signature", (const char *)sb, n);
    assert_non_null(c.json);
    assert_int_equal(tpm_policy_match(&pkg, &c, &err), 0);
    json_decref(c.json);

    /* the SHA-1 bank alone (another phase): any quoted bank with PCR 11 will do */
    c.json = json_pack("{s:{s:{s:s}}, s:s%}", "pcrs", "sha1", "11", h1, "pcr_signature", (const char *)sb, n);
    assert_int_equal(tpm_policy_match(&pkg, &c, &err), 0);
    json_decref(c.json);

    /* a sha256 value nobody signed next to a signed sha1 one: still accepted (sha1 passes) */
    c.json = json_pack("{s:{s:{s:s}, s:{s:s}}, s:s%}", "pcrs", "sha256", "11", h1, "sha1", "11", h1, "pcr_signature",
                       (const char *)sb, n);
    assert_non_null(c.json);
    /* h1 is not 64 hex digits: the sha256 entry is skipped as malformed, sha1 decides */
    assert_int_equal(tpm_policy_match(&pkg, &c, &err), 0);
    json_decref(c.json);

    /* refusals */
    h256[0] = h256[0] == '0' ? '1' : '0';
    c.json = json_pack("{s:{s:{s:s}}, s:s%}", "pcrs", "sha256", "11", h256, "pcr_signature", (const char *)sb, n);
    assert_int_equal(tpm_policy_match(&pkg, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "PCRPublicKey: PCR signature: the pinned key signs no sha256 policy"));
    json_decref(c.json);
    c.json = json_pack("{s:{s:{s:s}}}", "pcrs", "sha256", "16", h256);
    assert_int_equal(tpm_policy_match(&pkg, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "does not include PCR 11"));
    json_decref(c.json);
    c.json = json_pack("{s:{s:{s:s}}}", "pcrs", "sha1", "11", h1);
    assert_int_equal(tpm_policy_match(&pkg, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "none given"));
    json_decref(c.json);
    pkg.pcr_public_key = (char *)"not a key";
    c.json = json_pack("{s:{s:{s:s}}, s:s%}", "pcrs", "sha1", "11", h1, "pcr_signature", (const char *)sb, n);
    assert_int_equal(tpm_policy_match(&pkg, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "not a PEM public key"));
    json_decref(c.json);

    free(h256);
    free(h1);
    free(kb);
    free(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_uki),
        cmocka_unit_test(test_zero_fill_and_truncation),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_policy_digest_golden),
        cmocka_unit_test(test_pcrsig_check),
        cmocka_unit_test(test_policy_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
