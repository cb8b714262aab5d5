/* CCEL replay against the quote's RTMRs (see ccel_check.h). */
#include "attest/ccel_check.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "attest/eventlog.h"
#include "common/encoding.h"

int trust_ccel_check(const uint8_t *table, size_t table_len, const uint8_t *data, size_t data_len, json_t *claims,
                     struct cairn_error *err)
{
    size_t n = data_len;
    if (table != NULL) {
        uint8_t cc_type;
        uint64_t laml, lasa;
        int rc = eventlog_ccel_table_parse(table, table_len, &cc_type, &laml, &lasa, err);
        if (rc != 0)
            return rc;
        if (laml < n)
            n = (size_t)laml;
    }
    struct eventlog_replay *r = malloc(sizeof(*r));
    if (r == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "ccel: out of memory");
    int rc = eventlog_replay(data, n, EVENTLOG_CCEL, r, err);
    if (rc != 0) {
        free(r);
        return cairn_err_prefix(err, "ccel");
    }
    const struct eventlog_bank *b = eventlog_bank_get(r, TPM_ALG_SHA384);
    int compared = 0;
    for (int i = 0; i < 4 && rc == 0; i++) {
        if (!b->touched[i])
            continue;
        char key[8];
        snprintf(key, sizeof(key), "rtmr%d", i);
        const char *q = json_string_value(json_object_get(claims, key));
        uint8_t want[48];
        if (q == NULL || cairn_hex_decode_exact(q, want, 48) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "ccel: the claims have no %s", key);
            break;
        }
        if (CRYPTO_memcmp(want, b->pcr[i], 48) != 0) {
            char *got = cairn_hex_encode(b->pcr[i], 48);
            rc = cairn_errf(err, CAIRN_ERR_VERIFY, "ccel replay: RTMR%d is %s, the quote has %s", i,
                            got ? got : "?", q);
            free(got);
            break;
        }
        compared++;
    }
    free(r);
    if (rc != 0)
        return rc;
    json_t *checks = json_object_get(claims, "checks");
    if (json_object_set_new(claims, "ccel_rtmrs_compared", json_integer(compared)) != 0 ||
        (json_is_array(checks) && json_array_append_new(checks, json_string("ccel_replay")) != 0))
        return cairn_errf(err, CAIRN_ERR_NOMEM, "ccel: out of memory");
    return 0;
}
