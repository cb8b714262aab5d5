/* Shared helpers of the manifest engine: Go-style JSON field access, sorted
 * lookups, Go's base64 and RFC 3339 time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/encoding.h"
#include "manifest/manifest_internal.h"

void mf_strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void mf_file_clear(struct manifest_file *f)
{
    free(f->name);
    if (f->data != NULL) {
        /* File data may embed key material written by the operator. */
        OPENSSL_cleanse(f->data, f->len);
        free(f->data);
    }
    free(f->encoding);
    memset(f, 0, sizeof(*f));
}

bool mf_key_equal(const char *a, const char *b)
{
    /* a: the JSON key, b: the Go field name */
    return cairn_go_key_equal(a, strlen(a), b);
}

const char *mf_json_type(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

json_t *mf_obj_get(const json_t *obj, const char *field)
{
    const char *key;
    json_t *val, *found = NULL;
    if (!json_is_object(obj))
        return NULL;
    mf_trace_note(obj, field);
    /* Jansson iterates in document order; the last match wins as in Go. */
    json_object_foreach((json_t *)obj, key, val) {
        if (mf_key_equal(key, field))
            found = val;
    }
    return found;
}

int mf_get_string(const json_t *obj, const char *field, const char *path, char **out,
                  struct cairn_error *err)
{
    json_t *v = mf_obj_get(obj, field);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s%s%s: expected a string, got %s", path,
                          *path ? "." : "", field, mf_json_type(v));
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (memchr(s, '\0', n) != NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s%s%s: must not contain NUL bytes", path,
                          *path ? "." : "", field);
    char *c = strdup(s);
    if (c == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    free(*out);
    *out = c;
    return 0;
}

int mf_get_bool(const json_t *obj, const char *field, const char *path, bool *out, struct cairn_error *err)
{
    json_t *v = mf_obj_get(obj, field);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s%s%s: expected a bool, got %s", path,
                          *path ? "." : "", field, mf_json_type(v));
    *out = json_is_true(v);
    return 0;
}

int mf_get_uint(const json_t *obj, const char *field, const char *path, uint64_t max, bool *present,
                uint64_t *out, struct cairn_error *err)
{
    json_t *v = mf_obj_get(obj, field);
    const char *dot = *path ? "." : "";
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_real(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s%s%s: expected a non-negative integer, got %g", path,
                          dot, field, json_real_value(v));
    if (!json_is_integer(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s%s%s: expected a non-negative integer, got %s", path,
                          dot, field, mf_json_type(v));
    json_int_t i = json_integer_value(v);
    if (i < 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s%s%s: must not be negative (got %lld)", path, dot,
                          field, (long long)i);
    if ((uint64_t)i > max)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s%s%s: %lld is out of range (maximum %llu)", path, dot,
                          field, (long long)i, (unsigned long long)max);
    *out = (uint64_t)i;
    if (present != NULL)
        *present = true;
    return 0;
}

int mf_base64_decode_go(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
    /* Go's base64 decoder skips CR and LF anywhere in the input. */
    char *tmp = malloc(len + 1);
    if (tmp == NULL)
        return CAIRN_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\r' && s[i] != '\n')
            tmp[n++] = s[i];
    }
    tmp[n] = '\0';
    int rc = cairn_base64_decode(tmp, n, out, out_len);
    free(tmp);
    return rc;
}

int mf_get_bytes(const json_t *obj, const char *field, const char *path, uint8_t **out, size_t *out_len,
                 struct cairn_error *err)
{
    json_t *v = mf_obj_get(obj, field);
    const char *dot = *path ? "." : "";
    uint8_t *b = NULL;
    size_t n = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        int rc = mf_base64_decode_go(json_string_value(v), json_string_length(v), &b, &n);
        if (rc == CAIRN_ERR_NOMEM)
            return cairn_errf(err, rc, "out of memory");
        if (rc < 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s%s%s: invalid base64", path, dot, field);
    } else if (json_is_array(v)) {
        n = json_array_size(v);
        if (n > MANIFEST_MAX_SIZE)
            return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s%s%s: too many bytes", path, dot, field);
        b = malloc(n + 1);
        if (b == NULL)
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 255) {
                free(b);
                return cairn_errf(err, CAIRN_ERR_INVALID, "%s%s%s[%zu]: expected a byte (0..255)", path,
                                  dot, field, i);
            }
            b[i] = (uint8_t)json_integer_value(e);
        }
        b[n] = 0;
    } else {
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s%s%s: expected base64 bytes, got %s", path, dot, field,
                          mf_json_type(v));
    }
    free(*out);
    *out = b;
    *out_len = n;
    return 0;
}

const void *mf_find(const void *base, size_t n, size_t size, const char *name)
{
    size_t lo = 0, hi = n;
    if (name == NULL)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const void *e = (const uint8_t *)base + mid * size;
        const char *k = *(char *const *)e;
        int c = strcmp(name, k);
        if (c == 0)
            return e;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int digits(const char *s, int n, int *out)
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

/* Go's time.Time.UnmarshalJSON accepts RFC 3339 with optional fractional
 * seconds and a Z or ±hh:mm offset. Fractions are dropped (X.509 has none). */
int mf_time_parse(const char *s, time_t *out, bool *is_zero)
{
    int Y, M, D, h, m, sec;
    size_t len = strlen(s);
    if (len < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &m) || s[16] != ':' || digits(s + 17, 2, &sec))
        return CAIRN_ERR_INVALID;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return CAIRN_ERR_INVALID;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (strlen(p) < 6 || digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 ||
            om > 59)
            return CAIRN_ERR_INVALID;
        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return CAIRN_ERR_INVALID;
    }
    if (*p != '\0')
        return CAIRN_ERR_INVALID;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 59)
        return CAIRN_ERR_INVALID;
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M == 2 && D == 29 && !leap)
        return CAIRN_ERR_INVALID;
    *is_zero = (Y == 1 && M == 1 && D == 1 && h == 0 && m == 0 && sec == 0 && off == 0);
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    *out = t - off;
    return 0;
}
