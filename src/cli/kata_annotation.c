/* Kata initdata annotations (see kata_annotation.h). */
#include "cli/kata_annotation.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "attest/initdata.h"
#include "common/encoding.h"

#define ANNOTATION_TEXT_MAX (4u << 20)

static size_t skip_ws(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i;
}

bool kata_annotation_detect(const uint8_t *p, size_t n)
{
    size_t i = skip_ws(p, n);
    return n - i >= 4 && memcmp(p + i, "H4sI", 4) == 0;
}

int kata_annotation_decode(const uint8_t *p, size_t n, uint8_t **out, size_t *out_len, struct cairn_error *err)
{
    if (n > ANNOTATION_TEXT_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "initdata annotation: %zu bytes, cap %u", n, ANNOTATION_TEXT_MAX);
    char *s = malloc(n + 1);
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            s[k++] = (char)p[i];
    s[k] = '\0';
    uint8_t *gz = NULL;
    size_t gl = 0;
    int rc = cairn_base64_decode(s, k, &gz, &gl);
    free(s);
    if (rc != 0 || gl < 18 || gz[0] != 0x1f || gz[1] != 0x8b) {
        free(gz);
        return cairn_errf(err, CAIRN_ERR_INVALID, "initdata annotation: not base64 of gzip data");
    }
    uint8_t *buf = malloc(INITDATA_MAX + 1);
    if (buf == NULL) {
        free(gz);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    z_stream z;
    memset(&z, 0, sizeof(z));
    rc = 0;
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) { /* gzip wrapper only */
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "initdata annotation: inflate init failed");
        goto out;
    }
    z.next_in = gz;
    z.avail_in = (uInt)gl;
    z.next_out = buf;
    z.avail_out = INITDATA_MAX + 1; /* one byte more tells "over the cap" */
    int zr = inflate(&z, Z_FINISH);
    if (zr == Z_STREAM_END && z.total_out > INITDATA_MAX)
        zr = Z_BUF_ERROR;
    if (zr == Z_BUF_ERROR && z.avail_out == 0)
        rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "initdata annotation: more than %u bytes decompressed", INITDATA_MAX);
    else if (zr != Z_STREAM_END)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "initdata annotation: the gzip data is corrupt or truncated");
    else if (z.avail_in != 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "initdata annotation: %u bytes after the gzip data", z.avail_in);
    else if (z.total_out == 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "initdata annotation: empty document");
    if (rc == 0) {
        size_t len = z.total_out;
        buf[len] = '\0';
        *out = buf;
        *out_len = len;
        buf = NULL;
    }
    inflateEnd(&z);
out:
    free(buf);
    free(gz);
    return rc;
}
