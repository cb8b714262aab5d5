#include "common/buf.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

void cairn_buf_init(struct cairn_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->failed = false;
}

int cairn_buf_reserve(struct cairn_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra) {
        b->failed = true;
        return CAIRN_ERR_TOO_LARGE;
    }
    size_t need = b->len + extra;
    if (need <= b->cap && b->data != NULL)
        return 0;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > b->max)
        ncap = b->max;
    /* Grow by copying, so that secret bytes are not left behind by realloc. */
    uint8_t *nd = malloc(ncap + 1);
    if (nd == NULL) {
        b->failed = true;
        return CAIRN_ERR_NOMEM;
    }
    if (b->data != NULL) {
        memcpy(nd, b->data, b->len);
        OPENSSL_cleanse(b->data, b->cap + 1);
        free(b->data);
    }
    nd[b->len] = '\0';
    b->data = nd;
    b->cap = ncap;
    return 0;
}

int cairn_buf_append(struct cairn_buf *b, const void *p, size_t n)
{
    int rc = cairn_buf_reserve(b, n);
    if (rc != 0)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int cairn_buf_append_str(struct cairn_buf *b, const char *s)
{
    return cairn_buf_append(b, s, strlen(s));
}

int cairn_buf_appendf(struct cairn_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return CAIRN_ERR_INVALID;
    }
    int rc = cairn_buf_reserve(b, (size_t)n);
    if (rc != 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

uint8_t *cairn_buf_take(struct cairn_buf *b, size_t *out_len)
{
    if (b->data == NULL && cairn_buf_reserve(b, 0) != 0)
        return NULL;
    uint8_t *d = b->data;
    if (out_len != NULL)
        *out_len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return d;
}

void cairn_buf_free(struct cairn_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void cairn_buf_free_secret(struct cairn_buf *b)
{
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->cap + 1);
    cairn_buf_free(b);
}
