#include "common/reader.h"

#include <string.h>

#include "common/error.h"

void cairn_reader_init(struct cairn_reader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = p != NULL ? len : 0;
    r->off = 0;
}

size_t cairn_reader_remaining(const struct cairn_reader *r)
{
    return r->len - r->off;
}

int cairn_reader_bytes(struct cairn_reader *r, size_t n, const uint8_t **out)
{
    if (n > cairn_reader_remaining(r))
        return CAIRN_ERR_TRUNCATED;
    if (out != NULL)
        *out = r->p + r->off;
    r->off += n;
    return 0;
}

int cairn_reader_skip(struct cairn_reader *r, size_t n)
{
    return cairn_reader_bytes(r, n, NULL);
}

int cairn_reader_copy(struct cairn_reader *r, void *out, size_t n)
{
    const uint8_t *p;
    int rc = cairn_reader_bytes(r, n, &p);
    if (rc == 0 && n > 0)
        memcpy(out, p, n);
    return rc;
}

int cairn_reader_u8(struct cairn_reader *r, uint8_t *out)
{
    const uint8_t *p;
    int rc = cairn_reader_bytes(r, 1, &p);
    if (rc == 0)
        *out = p[0];
    return rc;
}

#define READ_LE(bits)                                                        \
    int cairn_reader_u##bits##le(struct cairn_reader *r, uint##bits##_t *out) \
    {                                                                        \
        const uint8_t *p;                                                    \
        int rc = cairn_reader_bytes(r, (bits) / 8, &p);                      \
        if (rc != 0)                                                         \
            return rc;                                                       \
        uint##bits##_t v = 0;                                                \
        for (int i = (bits) / 8 - 1; i >= 0; i--)                            \
            v = (uint##bits##_t)((v << 8) | p[i]);                           \
        *out = v;                                                            \
        return 0;                                                            \
    }
#define READ_BE(bits)                                                        \
    int cairn_reader_u##bits##be(struct cairn_reader *r, uint##bits##_t *out) \
    {                                                                        \
        const uint8_t *p;                                                    \
        int rc = cairn_reader_bytes(r, (bits) / 8, &p);                      \
        if (rc != 0)                                                         \
            return rc;                                                       \
        uint##bits##_t v = 0;                                                \
        for (int i = 0; i < (bits) / 8; i++)                                 \
            v = (uint##bits##_t)((v << 8) | p[i]);                           \
        *out = v;                                                            \
        return 0;                                                            \
    }
READ_LE(16)
READ_LE(32)
READ_LE(64)
READ_BE(16)
READ_BE(32)
READ_BE(64)

int cairn_reader_tpm2b(struct cairn_reader *r, const uint8_t **out, uint16_t *out_len)
{
    size_t save = r->off;
    uint16_t n;
    int rc = cairn_reader_u16be(r, &n);
    if (rc == 0)
        rc = cairn_reader_bytes(r, n, out);
    if (rc != 0) {
        r->off = save;
        return rc;
    }
    *out_len = n;
    return 0;
}
