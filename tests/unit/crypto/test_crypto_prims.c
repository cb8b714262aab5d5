/* Unit tests for src/crypto primitives: random, digests, RFC 3339 time, key
 * encodings, signatures, AES-GCM, HKDF and RSA-OAEP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "common/encoding.h"
#include "crypto/crypto.h"

static uint8_t *hex(const char *s, size_t *len)
{
    uint8_t *out = NULL;
    assert_int_equal(cairn_hex_decode(s, strlen(s), &out, len), 0);
    return out;
}

/* ---- random / digests ------------------------------------------------------ */

static void test_random_and_equal(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    assert_int_equal(cc_random(a, sizeof(a)), 0);
    assert_int_equal(cc_random(b, sizeof(b)), 0);
    /* 2^-256 chance of a false failure. */
    assert_false(cc_equal(a, b, sizeof(a)));
    memcpy(b, a, sizeof(a));
    assert_true(cc_equal(a, b, sizeof(a)));
    b[31] ^= 1;
    assert_false(cc_equal(a, b, sizeof(a)));
    cc_wipe(a, sizeof(a));
    uint8_t zero[32] = {0};
    assert_memory_equal(a, zero, sizeof(a));
    cc_free_secret(NULL, 10);
}

static void test_digests(void **state)
{
    (void)state;
    /* FIPS 180-2 "abc" vectors. */
    size_t l;
    uint8_t *exp256 = hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", &l);
    uint8_t *exp384 = hex("cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca1"
                          "34c825a7", &l);
    uint8_t *exp1 = hex("a9993e364706816aba3e25717850c26c9cd0d89d", &l);
    uint8_t out[EVP_MAX_MD_SIZE];
    cc_sha256("abc", 3, out);
    assert_memory_equal(out, exp256, 32);
    cc_sha384("abc", 3, out);
    assert_memory_equal(out, exp384, 48);
    size_t n = 0;
    assert_int_equal(cc_digest("SHA1", "abc", 3, out, &n), 0);
    assert_int_equal(n, 20);
    assert_memory_equal(out, exp1, 20);
    assert_int_equal(cc_digest("SHA512", "abc", 3, out, &n), 0);
    assert_int_equal(n, 64);
    assert_int_equal(cc_digest("SHA256", "abc", 3, out, &n), 0);
    assert_memory_equal(out, exp256, 32);
    assert_int_equal(cc_digest("NOPE-HASH", "abc", 3, out, &n), CAIRN_ERR_UNSUPPORTED);
    assert_int_equal(cc_digest("SHAKE256", "abc", 3, out, &n), CAIRN_ERR_UNSUPPORTED);
    assert_int_equal(cc_digest(NULL, "abc", 3, out, &n), CAIRN_ERR_INVALID);
    free(exp256);
    free(exp384);
    free(exp1);
}

/* ---- time ------------------------------------------------------------------ */

static void test_time_rfc3339(void **state)
{
    (void)state;
    time_t t = 0;
    assert_int_equal(cc_time_parse_rfc3339("2023-07-12T00:00:00Z", &t), 0);
    assert_int_equal((long long)t, 1689120000LL);
    assert_int_equal(cc_time_parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal((long long)t, 0);
    assert_int_equal(cc_time_parse_rfc3339("2023-07-12T00:00:00.123456789Z", &t), 0);
    assert_int_equal((long long)t, 1689120000LL);
    assert_int_equal(cc_time_parse_rfc3339("2023-07-12T02:30:00+02:30", &t), 0);
    assert_int_equal((long long)t, 1689120000LL);
    assert_int_equal(cc_time_parse_rfc3339("2023-07-11T19:00:00.5-05:00", &t), 0);
    assert_int_equal((long long)t, 1689120000LL);
    assert_int_equal(cc_time_parse_rfc3339("2024-02-29T12:00:00Z", &t), 0);
    assert_int_equal((long long)t, 1709208000LL);
    assert_int_equal(cc_time_parse_rfc3339("2262-04-11T23:47:16Z", &t), 0);
    assert_int_equal((long long)t, 9223372036LL);

    const char *bad[] = {
        "", "2023-07-12", "2023-07-12T00:00:00", "2023-07-12 00:00:00Z", "2023-07-12t00:00:00Z",
        "2023-07-12T00:00:00z", "2023-13-12T00:00:00Z", "2023-00-12T00:00:00Z", "2023-02-29T00:00:00Z",
        "2023-04-31T00:00:00Z", "2023-07-12T24:00:00Z", "2023-07-12T00:60:00Z", "2023-07-12T00:00:60Z",
        "2023-07-12T00:00:00.Z", "2023-07-12T00:00:00.1234567890Z", "2023-07-12T00:00:00+0100",
        "2023-07-12T00:00:00+24:00", "2023-07-12T00:00:00+01:60", "2023-07-12T00:00:00Zjunk",
        "+2023-07-12T00:00:00Z", "2023-7-12T00:00:00Z", "2023-07-12T00:00:00 Z", "2023-07-12T00:00:00+01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 42;
        if (cc_time_parse_rfc3339(bad[i], &t) == 0)
            fail_msg("accepted bad time \"%s\"", bad[i]);
        assert_int_equal((long long)t, 42); /* out-param untouched */
    }
    /* years below 1000 format zero-padded and round-trip (found by fuzzing) */
    char buf[32];
    assert_int_equal(cc_time_parse_rfc3339("0023-07-12T00:00:00Z", &t), 0);
    cc_time_format_rfc3339(t, buf);
    assert_string_equal(buf, "0023-07-12T00:00:00Z");
    assert_int_equal(cc_time_parse_rfc3339("0000-01-01T00:00:00Z", &t), 0);
    cc_time_format_rfc3339(t, buf);
    assert_string_equal(buf, "0000-01-01T00:00:00Z");
    /* offsets that move the instant outside 0000..9999 */
    assert_int_equal(cc_time_parse_rfc3339("0000-01-01T00:00:00+00:01", &t), CAIRN_ERR_INVALID);
    assert_int_equal(cc_time_parse_rfc3339("9999-12-31T23:59:59-00:01", &t), CAIRN_ERR_INVALID);
    assert_int_equal(cc_time_parse_rfc3339("9999-12-31T23:59:59Z", &t), 0);
    cc_time_format_rfc3339(1689120000, buf);
    assert_string_equal(buf, "2023-07-12T00:00:00Z");
    cc_time_format_rfc3339((time_t)9223372036LL, buf);
    assert_string_equal(buf, "2262-04-11T23:47:16Z");
    assert_int_equal(cc_time_parse_rfc3339(buf, &t), 0);
    assert_int_equal((long long)t, 9223372036LL);
}

/* ---- keys -------------------------------------------------------------------- */

struct ktype {
    enum cc_key_type type;
    unsigned bits;
    const char *md;
    const char *name;
};

static const struct ktype g_types[] = {
    {CC_KEY_EC_P224, 0, "SHA256", "P-224"},  {CC_KEY_EC_P256, 0, "SHA256", "P-256"},
    {CC_KEY_EC_P384, 0, "SHA384", "P-384"},  {CC_KEY_EC_P521, 0, "SHA512", "P-521"},
    {CC_KEY_ED25519, 0, NULL, "Ed25519"},    {CC_KEY_RSA, 2048, "SHA256", "RSA-2048"},
};
#define N_TYPES (sizeof(g_types) / sizeof(g_types[0]))

static EVP_PKEY *g_keys[N_TYPES];

static int setup_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TYPES; i++) {
        struct cairn_error err = {0};
        if (cc_key_generate(g_types[i].type, g_types[i].bits, &g_keys[i], &err) != 0)
            return -1;
    }
    return 0;
}

static int teardown_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TYPES; i++) {
        EVP_PKEY_free(g_keys[i]);
        g_keys[i] = NULL;
    }
    return 0;
}

static void test_key_generate_bad(void **state)
{
    (void)state;
    EVP_PKEY *k = (EVP_PKEY *)0x1;
    struct cairn_error err = {0};
    assert_int_equal(cc_key_generate(CC_KEY_RSA, 512, &k, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "rsa_bits"));
    assert_int_equal(cc_key_generate((enum cc_key_type)99, 0, &k, &err), CAIRN_ERR_INVALID);
    assert_ptr_equal(k, (EVP_PKEY *)0x1);
}

static void test_key_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TYPES; i++) {
        EVP_PKEY *k = g_keys[i];
        struct cairn_error err = {0};
        uint8_t *der = NULL;
        size_t der_len = 0;
        char *pem = NULL;
        size_t pem_len = 0;
        EVP_PKEY *back = NULL;

        /* private: PKCS#8 DER */
        assert_int_equal(cc_key_to_pkcs8_der(k, &der, &der_len), 0);
        assert_int_equal(cc_key_from_der(der, der_len, &back, &err), 0);
        assert_true(cc_pubkey_equal(k, back));
        assert_int_equal(EVP_PKEY_eq(k, back), 1);
        EVP_PKEY_free(back);
        /* trailing byte rejected */
        uint8_t *longer = malloc(der_len + 1);
        memcpy(longer, der, der_len);
        longer[der_len] = 0;
        back = NULL;
        assert_int_equal(cc_key_from_der(longer, der_len + 1, &back, &err), CAIRN_ERR_TRAILING);
        assert_null(back);
        /* truncated rejected */
        assert_int_not_equal(cc_key_from_der(der, der_len - 1, &back, &err), 0);
        assert_null(back);
        free(longer);
        cc_free_secret(der, der_len);

        /* private: PKCS#8 PEM */
        assert_int_equal(cc_key_to_pkcs8_pem(k, &pem, &pem_len), 0);
        assert_int_equal(strlen(pem), pem_len);
        assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
        assert_int_equal(cc_key_from_pem(pem, pem_len, &back, &err), 0);
        assert_int_equal(EVP_PKEY_eq(k, back), 1);
        EVP_PKEY_free(back);
        back = NULL;
        /* a public-key PEM is not a private key */
        cc_free_secret(pem, pem_len);

        /* public: SPKI DER + PEM */
        assert_int_equal(cc_pubkey_to_spki_der(k, &der, &der_len), 0);
        assert_int_equal(cc_pubkey_from_der(der, der_len, &back, &err), 0);
        assert_true(cc_pubkey_equal(k, back));
        EVP_PKEY_free(back);
        back = NULL;
        assert_int_not_equal(cc_key_from_der(der, der_len, &back, &err), 0); /* SPKI is not PKCS#8 */
        assert_null(back);
        free(der);
        assert_int_equal(cc_pubkey_to_spki_pem(k, &pem, &pem_len), 0);
        assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
        assert_int_equal(cc_pubkey_from_pem(pem, pem_len, &back, &err), 0);
        assert_true(cc_pubkey_equal(k, back));
        EVP_PKEY_free(back);
        back = NULL;
        assert_int_not_equal(cc_key_from_pem(pem, pem_len, &back, &err), 0);
        assert_null(back);
        free(pem);

        /* different keys differ */
        assert_false(cc_pubkey_equal(k, g_keys[(i + 1) % N_TYPES]));
    }
}

/* "EC PRIVATE KEY" / "RSA PRIVATE KEY" PEM written by the openssl CLI. */
static void test_key_traditional_pem_cli(void **state)
{
    (void)state;
    char dir[] = "/tmp/cc_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *cmds[] = {
        "openssl ecparam -name prime256v1 -genkey -out",
        "openssl genrsa -traditional -out",
    };
    const char *tails[] = {"", "1024"};
    const char *tags[] = {"EC PRIVATE KEY", "RSA PRIVATE KEY"};
    for (size_t i = 0; i < 2; i++) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "%s %s/k.pem %s 2>/dev/null", cmds[i], dir, tails[i]);
        if (system(cmd) != 0) {
            rmdir(dir);
            print_message("openssl CLI could not generate a key, skipping\n");
            skip();
        }
        char path[256];
        snprintf(path, sizeof(path), "%s/k.pem", dir);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char buf[8192];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        assert_non_null(memmem(buf, n, tags[i], strlen(tags[i])));
        EVP_PKEY *k = NULL;
        struct cairn_error err = {0};
        assert_int_equal(cc_key_from_pem(buf, n, &k, &err), 0);
        /* the key works: sign and verify */
        uint8_t *sig = NULL;
        size_t sig_len = 0;
        assert_int_equal(cc_sign(k, "SHA256", "m", 1, &sig, &sig_len), 0);
        assert_int_equal(cc_verify(k, "SHA256", "m", 1, sig, sig_len), 0);
        free(sig);
        EVP_PKEY_free(k);
        unlink(path);
    }
    rmdir(dir);
}

static void test_pubkey_from_ec_xy(void **state)
{
    (void)state;
    const enum cc_key_type curves[] = {CC_KEY_EC_P256, CC_KEY_EC_P384, CC_KEY_EC_P521};
    const size_t idx[] = {1, 2, 3};
    for (size_t c = 0; c < 3; c++) {
        EVP_PKEY *k = g_keys[idx[c]];
        uint8_t pt[1 + 2 * 66];
        size_t pt_len = 0;
        assert_int_equal(EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", pt, sizeof(pt), &pt_len), 1);
        assert_int_equal(pt[0], 0x04);
        EVP_PKEY *pub = NULL;
        assert_int_equal(cc_pubkey_from_ec_xy(curves[c], pt + 1, pt_len - 1, &pub), 0);
        assert_true(cc_pubkey_equal(k, pub));
        EVP_PKEY_free(pub);
        pub = NULL;
        /* wrong length, wrong curve, point off the curve */
        assert_int_equal(cc_pubkey_from_ec_xy(curves[c], pt + 1, pt_len - 2, &pub), CAIRN_ERR_INVALID);
        assert_int_not_equal(cc_pubkey_from_ec_xy(curves[(c + 1) % 3], pt + 1, pt_len - 1, &pub), 0);
        pt[pt_len - 1] ^= 1;
        assert_int_equal(cc_pubkey_from_ec_xy(curves[c], pt + 1, pt_len - 1, &pub), CAIRN_ERR_INVALID);
        assert_null(pub);
    }
    EVP_PKEY *pub = NULL;
    uint8_t xy[64] = {0};
    assert_int_equal(cc_pubkey_from_ec_xy(CC_KEY_ED25519, xy, 64, &pub), CAIRN_ERR_INVALID);
    assert_int_equal(cc_pubkey_from_ec_xy(CC_KEY_EC_P256, xy, 64, &pub), CAIRN_ERR_INVALID);
    assert_null(pub);
}

/* ---- signatures ------------------------------------------------------------- */

static void test_sign_verify(void **state)
{
    (void)state;
    const char msg[] = "the quick brown fox";
    for (size_t i = 0; i < N_TYPES; i++) {
        EVP_PKEY *k = g_keys[i];
        uint8_t *sig = NULL;
        size_t sig_len = 0;
        assert_int_equal(cc_sign(k, g_types[i].md, msg, sizeof(msg) - 1, &sig, &sig_len), 0);
        assert_int_equal(cc_verify(k, g_types[i].md, msg, sizeof(msg) - 1, sig, sig_len), 0);
        /* tampered message */
        char m2[sizeof(msg)];
        memcpy(m2, msg, sizeof(msg));
        m2[0] ^= 1;
        assert_int_equal(cc_verify(k, g_types[i].md, m2, sizeof(msg) - 1, sig, sig_len), CAIRN_ERR_VERIFY);
        /* tampered signature: every byte position, one bit */
        for (size_t b = 0; b < sig_len; b++) {
            sig[b] ^= 0x01;
            if (cc_verify(k, g_types[i].md, msg, sizeof(msg) - 1, sig, sig_len) == 0)
                fail_msg("%s: signature with byte %zu flipped accepted", g_types[i].name, b);
            sig[b] ^= 0x01;
        }
        /* truncated signature */
        assert_int_not_equal(cc_verify(k, g_types[i].md, msg, sizeof(msg) - 1, sig, sig_len - 1), 0);
        /* wrong key */
        EVP_PKEY *other = NULL;
        assert_int_equal(cc_key_generate(g_types[i].type, g_types[i].bits, &other, NULL), 0);
        assert_int_equal(cc_verify(other, g_types[i].md, msg, sizeof(msg) - 1, sig, sig_len), CAIRN_ERR_VERIFY);
        assert_int_equal(ERR_peek_error(), 0); /* failures leave no OpenSSL error behind */
        EVP_PKEY_free(other);
        /* digest misuse is a caller error */
        assert_int_equal(cc_verify(k, g_types[i].md ? NULL : "SHA256", msg, sizeof(msg) - 1, sig, sig_len),
                         CAIRN_ERR_INVALID);
        free(sig);
    }
}

/* The PSS signature is made with raw OpenSSL so the verifier is checked
 * against an independent signer. */
static void test_rsa_pss(void **state)
{
    (void)state;
    EVP_PKEY *k = g_keys[5];
    const char msg[] = "pss message";
    const int saltlens[] = {32, 0, RSA_PSS_SALTLEN_MAX};
    for (size_t s = 0; s < 3; s++) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        EVP_PKEY_CTX *p = NULL;
        assert_int_equal(EVP_DigestSignInit_ex(m, &p, "SHA256", NULL, NULL, k, NULL), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(p, saltlens[s]), 1);
        uint8_t sig[512];
        size_t sig_len = sizeof(sig);
        assert_int_equal(EVP_DigestSign(m, sig, &sig_len, (const uint8_t *)msg, sizeof(msg) - 1), 1);
        EVP_MD_CTX_free(m);
        assert_int_equal(cc_verify_rsa_pss(k, "SHA256", msg, sizeof(msg) - 1, sig, sig_len), 0);
        /* a PSS signature is not a PKCS#1 v1.5 one */
        assert_int_equal(cc_verify(k, "SHA256", msg, sizeof(msg) - 1, sig, sig_len), CAIRN_ERR_VERIFY);
        assert_int_equal(cc_verify_rsa_pss(k, "SHA384", msg, sizeof(msg) - 1, sig, sig_len), CAIRN_ERR_VERIFY);
        sig[10] ^= 0x80;
        assert_int_equal(cc_verify_rsa_pss(k, "SHA256", msg, sizeof(msg) - 1, sig, sig_len), CAIRN_ERR_VERIFY);
        sig[10] ^= 0x80;
        assert_int_equal(cc_verify_rsa_pss(k, "SHA256", "pss messagf", sizeof(msg) - 1, sig, sig_len),
                         CAIRN_ERR_VERIFY);
    }
    /* PKCS#1 v1.5 signature rejected by the PSS verifier */
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    assert_int_equal(cc_sign(k, "SHA256", msg, sizeof(msg) - 1, &sig, &sig_len), 0);
    assert_int_equal(cc_verify_rsa_pss(k, "SHA256", msg, sizeof(msg) - 1, sig, sig_len), CAIRN_ERR_VERIFY);
    /* non-RSA key */
    assert_int_equal(cc_verify_rsa_pss(g_keys[1], "SHA256", msg, sizeof(msg) - 1, sig, sig_len),
                     CAIRN_ERR_INVALID);
    free(sig);
}

/* DER ECDSA -> raw r||s, padded to the field size. */
static size_t der_to_raw(const uint8_t *der, size_t der_len, size_t fb, uint8_t *rs)
{
    const uint8_t *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(s);
    const BIGNUM *r = NULL, *ss = NULL;
    ECDSA_SIG_get0(s, &r, &ss);
    assert_int_equal(BN_bn2binpad(r, rs, (int)fb), (int)fb);
    assert_int_equal(BN_bn2binpad(ss, rs + fb, (int)fb), (int)fb);
    ECDSA_SIG_free(s);
    return 2 * fb;
}

static void test_ecdsa_raw(void **state)
{
    (void)state;
    const size_t idx[] = {1, 2, 3};
    const size_t fbs[] = {32, 48, 66};
    for (size_t c = 0; c < 3; c++) {
        EVP_PKEY *k = g_keys[idx[c]];
        const char *md = g_types[idx[c]].md;
        for (int round = 0; round < 8; round++) {
            uint8_t *sig = NULL;
            size_t sig_len = 0;
            assert_int_equal(cc_sign(k, md, "raw", 3, &sig, &sig_len), 0);
            uint8_t rs[132];
            size_t rs_len = der_to_raw(sig, sig_len, fbs[c], rs);
            assert_int_equal(cc_verify_ecdsa_raw(k, md, "raw", 3, rs, rs_len), 0);
            /* raw -> DER gives back the canonical DER signature */
            uint8_t *der = NULL;
            size_t der_len = 0;
            assert_int_equal(cc_ecdsa_raw_to_der(rs, rs_len, &der, &der_len), 0);
            assert_int_equal(der_len, sig_len);
            assert_memory_equal(der, sig, sig_len);
            free(der);
            rs[rs_len - 1] ^= 1;
            assert_int_equal(cc_verify_ecdsa_raw(k, md, "raw", 3, rs, rs_len), CAIRN_ERR_VERIFY);
            rs[rs_len - 1] ^= 1;
            assert_int_equal(cc_verify_ecdsa_raw(k, md, "raX", 3, rs, rs_len), CAIRN_ERR_VERIFY);
            assert_int_equal(cc_verify_ecdsa_raw(k, md, "raw", 3, rs, rs_len - 1), CAIRN_ERR_VERIFY);
            free(sig);
        }
    }
    uint8_t zeros[64] = {0};
    uint8_t *der = NULL;
    size_t der_len = 0;
    assert_int_equal(cc_ecdsa_raw_to_der(zeros, 64, &der, &der_len), CAIRN_ERR_INVALID);
    assert_int_equal(cc_ecdsa_raw_to_der(zeros, 63, &der, &der_len), CAIRN_ERR_INVALID);
    assert_int_equal(cc_verify_ecdsa_raw(g_keys[1], "SHA256", "raw", 3, zeros, 64), CAIRN_ERR_VERIFY);
    assert_int_equal(cc_verify_ecdsa_raw(g_keys[5], "SHA256", "raw", 3, zeros, 64), CAIRN_ERR_INVALID);
    assert_null(der);
}

/* ---- AES-GCM ------------------------------------------------------------------ */

static void test_aead(void **state)
{
    (void)state;
    uint8_t key[32], key2[32];
    cc_random(key, 32);
    memcpy(key2, key, 32);
    key2[0] ^= 1;
    const char aad[] = "header";
    const char pt[] = "secret payload of some length";
    const size_t ptl = sizeof(pt) - 1;
    uint8_t *ct = NULL, *out = NULL;
    size_t ct_len = 0, out_len = 0;
    assert_int_equal(cc_aead_seal(key, aad, 6, pt, ptl, &ct, &ct_len), 0);
    assert_int_equal(ct_len, CC_GCM_NONCE + ptl + CC_GCM_TAG);
    assert_int_equal(cc_aead_open(key, aad, 6, ct, ct_len, &out, &out_len), 0);
    assert_int_equal(out_len, ptl);
    assert_memory_equal(out, pt, ptl);
    cc_free_secret(out, out_len);
    out = NULL;

    /* two seals of the same plaintext differ (random nonce) */
    uint8_t *ct2 = NULL;
    size_t ct2_len = 0;
    assert_int_equal(cc_aead_seal(key, aad, 6, pt, ptl, &ct2, &ct2_len), 0);
    assert_memory_not_equal(ct, ct2, CC_GCM_NONCE);
    free(ct2);

    /* every single-bit flip anywhere (nonce, ciphertext, tag) is rejected */
    for (size_t i = 0; i < ct_len; i++) {
        for (int b = 0; b < 8; b++) {
            ct[i] ^= (uint8_t)(1u << b);
            if (cc_aead_open(key, aad, 6, ct, ct_len, &out, &out_len) != CAIRN_ERR_VERIFY)
                fail_msg("bit %d of byte %zu flipped not rejected", b, i);
            ct[i] ^= (uint8_t)(1u << b);
        }
    }
    assert_null(out);
    assert_int_equal(cc_aead_open(key2, aad, 6, ct, ct_len, &out, &out_len), CAIRN_ERR_VERIFY);
    assert_int_equal(cc_aead_open(key, "headeR", 6, ct, ct_len, &out, &out_len), CAIRN_ERR_VERIFY);
    assert_int_equal(cc_aead_open(key, aad, 5, ct, ct_len, &out, &out_len), CAIRN_ERR_VERIFY);
    assert_int_equal(cc_aead_open(key, NULL, 0, ct, ct_len, &out, &out_len), CAIRN_ERR_VERIFY);
    for (size_t l = 0; l < ct_len; l++)
        assert_int_equal(cc_aead_open(key, aad, 6, ct, l, &out, &out_len), CAIRN_ERR_VERIFY);
    assert_null(out);
    free(ct);

    /* empty plaintext and empty AAD */
    assert_int_equal(cc_aead_seal(key, NULL, 0, NULL, 0, &ct, &ct_len), 0);
    assert_int_equal(ct_len, CC_GCM_NONCE + CC_GCM_TAG);
    assert_int_equal(cc_aead_open(key, NULL, 0, ct, ct_len, &out, &out_len), 0);
    assert_int_equal(out_len, 0);
    free(out);
    ct[CC_GCM_NONCE] ^= 1;
    out = NULL;
    assert_int_equal(cc_aead_open(key, NULL, 0, ct, ct_len, &out, &out_len), CAIRN_ERR_VERIFY);
    free(ct);
}

/* Cross-check against OpenSSL directly with a fixed nonce: NIST GCM test case
 * 14 (AES-256, zero key, zero IV, one zero block). */
static void test_aead_known_answer(void **state)
{
    (void)state;
    size_t l;
    uint8_t key[32] = {0};
    uint8_t *exp_ct = hex("cea7403d4d606b6e074ec5d3baf39d18", &l);
    uint8_t *exp_tag = hex("d0d1c8a799996bf0265b98b5d48ab919", &l);
    uint8_t in[12 + 16 + 16] = {0};
    memcpy(in + 12, exp_ct, 16);
    memcpy(in + 28, exp_tag, 16);
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(cc_aead_open(key, NULL, 0, in, sizeof(in), &out, &out_len), 0);
    uint8_t zero[16] = {0};
    assert_int_equal(out_len, 16);
    assert_memory_equal(out, zero, 16);
    free(out);
    free(exp_ct);
    free(exp_tag);
}

/* ---- HKDF --------------------------------------------------------------------- */

static void test_hkdf_rfc5869(void **state)
{
    (void)state;
    static const struct {
        const char *ikm, *salt, *info, *okm;
        size_t L;
    } tc[] = {
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865", 42},
        {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031"
         "32333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
         "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f9091"
         "92939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
         "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1"
         "e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
         "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
         82},
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8", 42},
    };
    for (size_t i = 0; i < 3; i++) {
        size_t ikm_len, salt_len = 0, info_len = 0, okm_len;
        uint8_t *ikm = hex(tc[i].ikm, &ikm_len);
        uint8_t *salt = tc[i].salt[0] ? hex(tc[i].salt, &salt_len) : NULL;
        uint8_t *info = tc[i].info[0] ? hex(tc[i].info, &info_len) : NULL;
        uint8_t *okm = hex(tc[i].okm, &okm_len);
        assert_int_equal(okm_len, tc[i].L);
        uint8_t out[82];
        assert_int_equal(cc_hkdf_sha256(ikm, ikm_len, salt, salt_len, info, info_len, out, tc[i].L), 0);
        assert_memory_equal(out, okm, tc[i].L);
        free(ikm);
        free(salt);
        free(info);
        free(okm);
    }
    uint8_t out[32];
    assert_int_equal(cc_hkdf_sha256("k", 1, NULL, 0, NULL, 0, out, 0), CAIRN_ERR_INVALID);
    uint8_t big[255 * 32 + 1];
    assert_int_equal(cc_hkdf_sha256("k", 1, NULL, 0, NULL, 0, big, sizeof(big)), CAIRN_ERR_INVALID);
    assert_int_equal(cc_hkdf_sha256("k", 1, NULL, 0, NULL, 0, big, sizeof(big) - 1), 0);
}

/* ---- RSA-OAEP ------------------------------------------------------------------ */

static void test_oaep_roundtrip(void **state)
{
    (void)state;
    EVP_PKEY *k = g_keys[5];
    uint8_t secret[32];
    cc_random(secret, sizeof(secret));
    uint8_t *ct = NULL, *pt = NULL;
    size_t ct_len = 0, pt_len = 0;
    assert_int_equal(cc_rsa_oaep_encrypt(k, secret, sizeof(secret), &ct, &ct_len), 0);
    assert_int_equal(ct_len, 256);
    assert_int_equal(cc_rsa_oaep_decrypt(k, ct, ct_len, &pt, &pt_len), 0);
    assert_int_equal(pt_len, sizeof(secret));
    assert_memory_equal(pt, secret, sizeof(secret));
    cc_free_secret(pt, pt_len);
    pt = NULL;
    ct[100] ^= 4;
    assert_int_equal(cc_rsa_oaep_decrypt(k, ct, ct_len, &pt, &pt_len), CAIRN_ERR_VERIFY);
    ct[100] ^= 4;
    assert_int_equal(cc_rsa_oaep_decrypt(k, ct, ct_len - 1, &pt, &pt_len), CAIRN_ERR_VERIFY);
    EVP_PKEY *other = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_RSA, 2048, &other, NULL), 0);
    assert_int_equal(cc_rsa_oaep_decrypt(other, ct, ct_len, &pt, &pt_len), CAIRN_ERR_VERIFY);
    EVP_PKEY_free(other);
    assert_null(pt);
    free(ct);
    /* max message size: 256 - 66 = 190 bytes */
    uint8_t big[191] = {0};
    assert_int_equal(cc_rsa_oaep_encrypt(k, big, 191, &ct, &ct_len), CAIRN_ERR_TOO_LARGE);
    assert_int_equal(cc_rsa_oaep_encrypt(k, big, 190, &ct, &ct_len), 0);
    free(ct);
    assert_int_equal(cc_rsa_oaep_encrypt(g_keys[1], big, 10, &ct, &ct_len), CAIRN_ERR_INVALID);
}

/* Encrypt with `openssl pkeyutl` (OAEP, SHA-256, MGF1-SHA-256), decrypt with ours. */
static void test_oaep_cli_crosscheck(void **state)
{
    (void)state;
    if (system("command -v openssl >/dev/null 2>&1") != 0)
        skip();
    char dir[] = "/tmp/cc_oaep_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], cmd[1024];
    char *pem = NULL;
    size_t pem_len = 0;
    assert_int_equal(cc_pubkey_to_spki_pem(g_keys[5], &pem, &pem_len), 0);
    snprintf(path, sizeof(path), "%s/pub.pem", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(pem, 1, pem_len, f);
    fclose(f);
    free(pem);
    snprintf(path, sizeof(path), "%s/msg", dir);
    f = fopen(path, "wb");
    const char msg[] = "shared secret from the CLI";
    fwrite(msg, 1, sizeof(msg) - 1, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "openssl pkeyutl -encrypt -pubin -inkey %s/pub.pem -in %s/msg -out %s/ct "
             "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256",
             dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/ct", dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t ct[512];
    size_t ct_len = fread(ct, 1, sizeof(ct), f);
    fclose(f);
    assert_int_equal(ct_len, 256);
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    assert_int_equal(cc_rsa_oaep_decrypt(g_keys[5], ct, ct_len, &pt, &pt_len), 0);
    assert_int_equal(pt_len, sizeof(msg) - 1);
    assert_memory_equal(pt, msg, pt_len);
    cc_free_secret(pt, pt_len);
    /* and the SHA-1 OAEP default of the CLI must NOT decrypt with ours */
    snprintf(cmd, sizeof(cmd),
             "openssl pkeyutl -encrypt -pubin -inkey %s/pub.pem -in %s/msg -out %s/ct1 "
             "-pkeyopt rsa_padding_mode:oaep",
             dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/ct1", dir);
    f = fopen(path, "rb");
    ct_len = fread(ct, 1, sizeof(ct), f);
    fclose(f);
    pt = NULL;
    assert_int_equal(cc_rsa_oaep_decrypt(g_keys[5], ct, ct_len, &pt, &pt_len), CAIRN_ERR_VERIFY);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_and_equal),
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_time_rfc3339),
        cmocka_unit_test(test_key_generate_bad),
        cmocka_unit_test(test_key_roundtrip),
        cmocka_unit_test(test_key_traditional_pem_cli),
        cmocka_unit_test(test_pubkey_from_ec_xy),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_rsa_pss),
        cmocka_unit_test(test_ecdsa_raw),
        cmocka_unit_test(test_aead),
        cmocka_unit_test(test_aead_known_answer),
        cmocka_unit_test(test_hkdf_rfc5869),
        cmocka_unit_test(test_oaep_roundtrip),
        cmocka_unit_test(test_oaep_cli_crosscheck),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
