/* Random bytes, wiping, digests, RFC 3339 time and helpers shared by the
 * other crypto files (OpenSSL error capture, PEM block iteration). */
#include "crypto/crypto_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

/* ---- OpenSSL error capture ---------------------------------------------- */

int cc__ossl_clear(int code)
{
    ERR_clear_error();
    return code;
}

int cc__ossl_errf(struct cairn_error *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        char what[CAIRN_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        unsigned long e = ERR_peek_last_error();
        const char *reason = e ? ERR_reason_error_string(e) : NULL;
        if (reason != NULL)
            cairn_errf(err, code, "%s: %s", what, reason);
        else
            cairn_errf(err, code, "%s", what);
    }
    ERR_clear_error();
    return code;
}

/* ---- random, wiping ----------------------------------------------------- */

int cc_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(p, chunk) != 1)
            return cc__ossl_clear(CAIRN_ERR_CRYPTO);
        p += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

void cc_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

void cc_free_secret(void *p, size_t n)
{
    if (p == NULL)
        return;
    cc_wipe(p, n);
    free(p);
}

bool cc_equal(const void *a, const void *b, size_t n)
{
    return n == 0 || CRYPTO_memcmp(a, b, n) == 0;
}

/* ---- digests ------------------------------------------------------------ */

/* Explicitly fetched digests are much cheaper than implicit fetching on every
 * call with OpenSSL 3.0 (provider lookup takes locks), so the common ones are
 * fetched once and kept for the life of the process. */
static const char *const g_md_names[] = {"SHA1", "SHA256", "SHA384", "SHA512"};
static EVP_MD *g_mds[4];
static pthread_once_t g_md_once = PTHREAD_ONCE_INIT;

static void md_init(void)
{
    for (size_t i = 0; i < sizeof(g_md_names) / sizeof(g_md_names[0]); i++)
        g_mds[i] = EVP_MD_fetch(NULL, g_md_names[i], NULL);
    ERR_clear_error();
}

static int md_cached_index(const char *name)
{
    /* OpenSSL also knows "SHA2-256" etc.; only the canonical spellings are cached. */
    for (size_t i = 0; i < sizeof(g_md_names) / sizeof(g_md_names[0]); i++)
        if (strcasecmp(name, g_md_names[i]) == 0)
            return (int)i;
    return -1;
}

const EVP_MD *cc__md_get(const char *name)
{
    if (name == NULL)
        return NULL;
    pthread_once(&g_md_once, md_init);
    int i = md_cached_index(name);
    if (i >= 0)
        return g_mds[i];
    EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
    if (md == NULL)
        ERR_clear_error();
    return md;
}

void cc__md_release(const EVP_MD *md)
{
    if (md == NULL)
        return;
    for (size_t i = 0; i < sizeof(g_mds) / sizeof(g_mds[0]); i++)
        if (md == g_mds[i])
            return;
    EVP_MD_free((EVP_MD *)md);
}

static void digest_fixed(int idx, const void *p, size_t n, uint8_t *out)
{
    pthread_once(&g_md_once, md_init);
    unsigned int len = 0;
    /* Hashing with a fetched digest only fails on allocation failure; a wrong
     * digest must never be returned silently, so this is fatal. */
    if (g_mds[idx] == NULL || EVP_Digest(p, n, out, &len, g_mds[idx], NULL) != 1) {
        fprintf(stderr, "cairn: fatal: %s digest failed\n", g_md_names[idx]);
        abort();
    }
}

void cc_sha256(const void *p, size_t n, uint8_t out[32])
{
    digest_fixed(1, p, n, out);
}

void cc_sha384(const void *p, size_t n, uint8_t out[48])
{
    digest_fixed(2, p, n, out);
}

int cc_digest(const char *md_name, const void *p, size_t n, uint8_t *out, size_t *out_len)
{
    if (md_name == NULL || out == NULL || out_len == NULL || (p == NULL && n > 0))
        return CAIRN_ERR_INVALID;
    const EVP_MD *md = cc__md_get(md_name);
    if (md == NULL)
        return CAIRN_ERR_UNSUPPORTED;
    if (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF) {
        cc__md_release(md);
        return CAIRN_ERR_UNSUPPORTED;
    }
    uint8_t tmp[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int ok = EVP_Digest(p, n, tmp, &len, md, NULL);
    cc__md_release(md);
    if (ok != 1)
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    memcpy(out, tmp, len);
    *out_len = len;
    return 0;
}

/* ---- key classification -------------------------------------------------- */

int cc__key_kind(const EVP_PKEY *key, size_t *field_bytes)
{
    if (key == NULL)
        return -1;
    if (EVP_PKEY_is_a(key, "ED25519"))
        return CC_KEY_ED25519;
    if (EVP_PKEY_is_a(key, "RSA"))
        return CC_KEY_RSA;
    if (!EVP_PKEY_is_a(key, "EC"))
        return -1;
    char group[64];
    size_t glen = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) != 1) {
        ERR_clear_error();
        return -1;
    }
    static const struct {
        const char *name;
        int kind;
        size_t bytes;
    } curves[] = {
        {"secp224r1", CC_KEY_EC_P224, 28}, {"P-224", CC_KEY_EC_P224, 28},
        {"prime256v1", CC_KEY_EC_P256, 32}, {"P-256", CC_KEY_EC_P256, 32},
        {"secp384r1", CC_KEY_EC_P384, 48}, {"P-384", CC_KEY_EC_P384, 48},
        {"secp521r1", CC_KEY_EC_P521, 66}, {"P-521", CC_KEY_EC_P521, 66},
    };
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (strcmp(group, curves[i].name) == 0) {
            if (field_bytes != NULL)
                *field_bytes = curves[i].bytes;
            return curves[i].kind;
        }
    }
    return -1;
}

int cc__sig_md_for_key(const EVP_PKEY *key, const char **md)
{
    switch (cc__key_kind(key, NULL)) {
    case CC_KEY_EC_P224:
    case CC_KEY_EC_P256:
    case CC_KEY_RSA:
        *md = "SHA256";
        return 0;
    case CC_KEY_EC_P384:
        *md = "SHA384";
        return 0;
    case CC_KEY_EC_P521:
        *md = "SHA512";
        return 0;
    case CC_KEY_ED25519:
        *md = NULL;
        return 0;
    default:
        return CAIRN_ERR_UNSUPPORTED;
    }
}

/* ---- input checks and PEM ------------------------------------------------ */

int cc__check_input(const void *p, size_t len, size_t max, const char *what, struct cairn_error *err)
{
    if (p == NULL || len == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: empty input", what);
    if (len > max)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: %zu bytes exceeds the %zu byte limit", what, len,
                          (size_t)max);
    return 0;
}

int cc__looks_like_pem(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    static const char begin[] = "-----BEGIN ";
    return len - i >= sizeof(begin) - 1 && memcmp(p + i, begin, sizeof(begin) - 1) == 0;
}

BIO *cc__pem_bio(const char *pem, size_t len)
{
    if (pem == NULL || len == 0 || len > (size_t)INT_MAX)
        return NULL;
    return BIO_new_mem_buf(pem, (int)len);
}

/* Frees what PEM_read_bio_ex allocated with the matching allocator. */
static void pem_free(void *p, size_t n, int secure)
{
    if (secure)
        OPENSSL_secure_clear_free(p, n);
    else
        OPENSSL_clear_free(p, n);
}

int cc__pem_next(BIO *bio, const char *const *names, size_t n_names, int secure, uint8_t **der, size_t *der_len,
                 size_t *found, struct cairn_error *err)
{
    unsigned int flags = PEM_FLAG_EAY_COMPATIBLE | (secure ? PEM_FLAG_SECURE : 0);
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long dlen = 0;
        ERR_clear_error();
        if (PEM_read_bio_ex(bio, &name, &header, &data, &dlen, flags) != 1) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                return cc__ossl_clear(CAIRN_ERR_NOT_FOUND);
            return cc__ossl_errf(err, CAIRN_ERR_INVALID, "PEM: malformed block");
        }
        size_t idx = n_names;
        for (size_t i = 0; i < n_names; i++)
            if (strcmp(name, names[i]) == 0)
                idx = i;
        int has_header = header != NULL && header[0] != '\0';
        size_t dsz = dlen > 0 ? (size_t)dlen : 0;
        pem_free(name, name ? strlen(name) : 0, secure);
        pem_free(header, header ? strlen(header) : 0, secure);
        if (idx == n_names) {
            pem_free(data, dsz, secure);
            continue;
        }
        if (has_header) {
            pem_free(data, dsz, secure);
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                              "PEM \"%s\": headers (encrypted PEM) are not supported", names[idx]);
        }
        if (dlen <= 0) {
            pem_free(data, dsz, secure);
            return cairn_errf(err, CAIRN_ERR_INVALID, "PEM \"%s\": empty body", names[idx]);
        }
        *der = data;
        *der_len = (size_t)dlen;
        if (found != NULL)
            *found = idx;
        return 0;
    }
}

int cc__bio_to_string(BIO *bio, char **out, size_t *out_len, int secret)
{
    char *mem = NULL;
    long n = BIO_get_mem_data(bio, &mem);
    if (n <= 0 || mem == NULL)
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return CAIRN_ERR_NOMEM;
    memcpy(s, mem, (size_t)n);
    s[n] = '\0';
    (void)secret; /* the BIO itself wipes when it was created with BIO_s_secmem() */
    *out = s;
    *out_len = (size_t)n;
    return 0;
}

int cc__i2d_malloc(const void *obj, cc__i2d_fn i2d, int secret, uint8_t **out, size_t *out_len)
{
    int n = i2d(obj, NULL);
    if (n <= 0)
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    uint8_t *buf = malloc((size_t)n);
    if (buf == NULL)
        return CAIRN_ERR_NOMEM;
    uint8_t *p = buf;
    if (i2d(obj, &p) != n) {
        if (secret)
            cc_free_secret(buf, (size_t)n);
        else
            free(buf);
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    }
    *out = buf;
    *out_len = (size_t)n;
    return 0;
}

/* ---- RFC 3339 time -------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Exactly `n` ASCII digits at s. */
static int parse_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int cc_time_parse_rfc3339(const char *s, time_t *out)
{
    if (s == NULL || out == NULL)
        return CAIRN_ERR_INVALID;
    size_t len = strlen(s);
    /* "YYYY-MM-DDTHH:MM:SS" is 19 characters, then the fraction and zone. */
    if (len < 20 || len > 64)
        return CAIRN_ERR_INVALID;
    int Y, M, D, h, m, sec;
    if (parse_digits(s, 4, &Y) || s[4] != '-' || parse_digits(s + 5, 2, &M) || s[7] != '-' ||
        parse_digits(s + 8, 2, &D) || s[10] != 'T' || parse_digits(s + 11, 2, &h) || s[13] != ':' ||
        parse_digits(s + 14, 2, &m) || s[16] != ':' || parse_digits(s + 17, 2, &sec))
        return CAIRN_ERR_INVALID;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && is_leap(Y)) || h > 23 || m > 59 ||
        sec > 59)
        return CAIRN_ERR_INVALID;
    const char *p = s + 19;
    if (*p == '.') {
        /* Fractional seconds (1..9 digits) are accepted and truncated. */
        p++;
        int nd = 0;
        while (p[nd] >= '0' && p[nd] <= '9')
            nd++;
        if (nd < 1 || nd > 9)
            return CAIRN_ERR_INVALID;
        p += nd;
    }
    int64_t offset = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (parse_digits(p + 1, 2, &oh) || p[3] != ':' || parse_digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return CAIRN_ERR_INVALID;
        offset = (int64_t)oh * 3600 + om * 60;
        if (*p == '-')
            offset = -offset;
        p += 6;
    } else {
        return CAIRN_ERR_INVALID;
    }
    if (*p != '\0')
        return CAIRN_ERR_INVALID;
    int64_t t = days_from_civil(Y, M, D) * 86400 + (int64_t)h * 3600 + m * 60 + sec - offset;
    /* The UTC result must itself be expressible in RFC 3339 (years 0000..9999),
     * which an offset can push outside. */
    if (t < days_from_civil(0, 1, 1) * 86400 || t > days_from_civil(9999, 12, 31) * 86400 + 86399 ||
        (int64_t)(time_t)t != t)
        return CAIRN_ERR_INVALID;
    *out = (time_t)t;
    return 0;
}

void cc_time_format_rfc3339(time_t t, char out[32])
{
    /* Years are zero-padded to 4 digits (strftime's %Y is not); years outside
     * 0000..9999 have no RFC 3339 form and are printed with their sign/digits. */
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(out, 32, "invalid-time");
        return;
    }
    snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}
