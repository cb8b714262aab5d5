/* Kata initdata on arbitrary bytes: the first byte picks the TOML document
 * (initdata_digest) or the pod annotation (kata_annotation_decode, then the
 * digest of what it carries). Invariants: a decoded document is within the
 * cap and NUL-terminated; digests have the algorithm's size; HostData and
 * MRConfigID are the digest truncated or zero-padded; refusals are one line. */
#include <stdlib.h>
#include <string.h>

#include "attest/initdata.h"
#include "cli/kata_annotation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void digest(const uint8_t *p, size_t n)
{
    struct initdata_digest d;
    struct cairn_error err = {0};
    if (initdata_digest(p, n, &d, &err) != 0) {
        if (strchr(err.msg, '\n') != NULL)
            abort();
        return;
    }
    if (d.digest_len != 32 && d.digest_len != 48 && d.digest_len != 64)
        abort();
    size_t h = d.digest_len < 32 ? d.digest_len : 32, m = d.digest_len < 48 ? d.digest_len : 48;
    if (memcmp(d.host_data, d.digest, h) != 0 || memcmp(d.mr_config_id, d.digest, m) != 0)
        abort();
    for (size_t i = m; i < 48; i++)
        if (d.mr_config_id[i] != 0)
            abort();
    if (d.has_pcr8 != (d.digest_len == 32))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        digest(data + 1, size - 1);
        return 0;
    }
    uint8_t *t = NULL;
    size_t tn = 0;
    struct cairn_error err = {0};
    if (kata_annotation_decode(data + 1, size - 1, &t, &tn, &err) == 0) {
        if (tn == 0 || tn > INITDATA_MAX || t[tn] != '\0')
            abort();
        digest(t, tn);
        free(t);
    } else if (strchr(err.msg, '\n') != NULL) {
        abort();
    }
    return 0;
}
