#include "common/encoding.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static const char hexdig[] = "0123456789abcdef";

char *cairn_hex_encode(const void *p, size_t n)
{
    if (n > (SIZE_MAX - 1) / 2)
        return NULL;
    char *s = malloc(2 * n + 1);
    if (s == NULL)
        return NULL;
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = hexdig[b[i] >> 4];
        s[2 * i + 1] = hexdig[b[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

int cairn_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int hex_into(const char *s, size_t slen, uint8_t *out)
{
    for (size_t i = 0; i < slen / 2; i++) {
        int hi = cairn_hex_digit(s[2 * i]), lo = cairn_hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return CAIRN_ERR_INVALID;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int cairn_hex_decode(const char *s, size_t slen, uint8_t **out, size_t *out_len)
{
    if (slen % 2 != 0)
        return CAIRN_ERR_INVALID;
    uint8_t *b = malloc(slen / 2 + 1);
    if (b == NULL)
        return CAIRN_ERR_NOMEM;
    if (hex_into(s, slen, b) != 0) {
        free(b);
        return CAIRN_ERR_INVALID;
    }
    b[slen / 2] = 0;
    *out = b;
    *out_len = slen / 2;
    return 0;
}

int cairn_hex_decode_exact(const char *s, uint8_t *out, size_t n)
{
    size_t slen = strlen(s);
    if (slen != 2 * n)
        return CAIRN_ERR_INVALID;
    return hex_into(s, slen, out);
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const void *p, size_t n, const char *alpha)
{
    if (n > (SIZE_MAX - 4) / 4 * 3)
        return NULL;
    size_t olen = (n + 2) / 3 * 4;
    char *s = malloc(olen + 1);
    if (s == NULL)
        return NULL;
    const uint8_t *b = p;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)b[i + 1] << 8;
        if (i + 2 < n)
            v |= b[i + 2];
        s[o++] = alpha[(v >> 18) & 63];
        s[o++] = alpha[(v >> 12) & 63];
        s[o++] = i + 1 < n ? alpha[(v >> 6) & 63] : '=';
        s[o++] = i + 2 < n ? alpha[v & 63] : '=';
    }
    s[o] = '\0';
    return s;
}

char *cairn_base64_encode(const void *p, size_t n)
{
    return b64_encode(p, n, b64std);
}

char *cairn_base64url_encode(const void *p, size_t n)
{
    return b64_encode(p, n, b64url);
}

static int b64val(char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Strict decoder. With `pad_required`, the length must be a multiple of 4. Unused
 * low bits of the last symbol must be zero (as Go's Strict mode), so every
 * byte string has exactly one accepted encoding. */
static int b64_decode(const char *s, size_t slen, bool url, bool pad_required, uint8_t **out,
                      size_t *out_len)
{
    size_t pad = 0;
    if (slen >= 1 && s[slen - 1] == '=')
        pad = (slen >= 2 && s[slen - 2] == '=') ? 2 : 1;
    if (pad > 0 && slen % 4 != 0)
        return CAIRN_ERR_INVALID;
    if (pad_required && slen % 4 != 0)
        return CAIRN_ERR_INVALID;
    size_t data = slen - pad;
    if (data % 4 == 1)
        return CAIRN_ERR_INVALID;
    size_t olen = data / 4 * 3 + (data % 4 == 2 ? 1 : data % 4 == 3 ? 2 : 0);
    uint8_t *b = malloc(olen + 1);
    if (b == NULL)
        return CAIRN_ERR_NOMEM;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < data; i++) {
        int v = b64val(s[i], url);
        if (v < 0) {
            free(b);
            return CAIRN_ERR_INVALID;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            b[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* non-canonical trailing bits */
        free(b);
        return CAIRN_ERR_INVALID;
    }
    b[o] = 0;
    *out = b;
    *out_len = o;
    return 0;
}

int cairn_base64_decode(const char *s, size_t slen, uint8_t **out, size_t *out_len)
{
    return b64_decode(s, slen, false, true, out, out_len);
}

int cairn_base64url_decode(const char *s, size_t slen, uint8_t **out, size_t *out_len)
{
    return b64_decode(s, slen, true, false, out, out_len);
}

static char go_ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool cairn_go_key_equal(const char *key, size_t key_len, const char *field)
{
    size_t i = 0;
    for (const char *f = field; *f != '\0'; f++) {
        char lf = go_ascii_lower(*f);
        if (i < key_len && go_ascii_lower(key[i]) == lf)
            i++;
        else if (lf == 'k' && key_len - i >= 3 && memcmp(key + i, "\xE2\x84\xAA", 3) == 0)
            i += 3;   /* U+212A KELVIN SIGN */
        else if (lf == 's' && key_len - i >= 2 && memcmp(key + i, "\xC5\xBF", 2) == 0)
            i += 2;   /* U+017F LATIN SMALL LETTER LONG S */
        else
            return false;
    }
    return i == key_len;
}
