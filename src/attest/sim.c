/* Simulation evidence (development only, DESIGN §6): the marble sends its
 * report data in the clear. Nothing is proven about its identity; the binding
 * to the TLS key is still checked by attest_verify(). */
#include <stdlib.h>
#include <string.h>

#include "attest/verifiers.h"
#include "common/encoding.h"

int sim_verify(const struct attest_evidence *ev, const struct attest_trust *trust, struct attest_claims *out,
               struct cairn_error *err)
{
    (void)trust;
    if (ev->quote_len != 64)
        return cairn_errf(err, CAIRN_ERR_INVALID, "sim evidence: report data must be 64 bytes, got %zu",
                          ev->quote_len);
    char *hex = cairn_hex_encode(ev->quote, 64);
    json_t *j = json_pack("{s:s, s:s?, s:[], s:b}", "type", "sim", "report_data", hex, "checks", "insecure", 1);
    free(hex);
    if (j == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "sim evidence: out of memory");
    out->type = ATTEST_SIM;
    memcpy(out->report_data, ev->quote, 64);
    out->report_data_len = 64;
    out->json = j;
    return 0;
}
