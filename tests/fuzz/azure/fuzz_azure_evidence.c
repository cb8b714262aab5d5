/* Azure evidence on arbitrary bytes. The first byte picks the surface:
 *   0: an HCL report: azure_hcl_parse, then (when it parses) the AK JWK, the
 *      user-data and the binding check against synthetic claims of the
 *      report's type whose report data is the report's own copy;
 *   1, 2: the rest is the agent's JSON for az-snp-vtpm / az-tdx-vtpm, checked
 *      with kbs_evidence_azure_verify against report data "challenge".
 * Invariants: parsed parts stay inside the input; a refusal leaves *out
 * untouched and its message is one line; nothing reads out of bounds. */
#include <stdlib.h>
#include <string.h>

#include "attest/azure_hcl.h"
#include "attest/kbs_evidence_azure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(const struct cairn_error *err)
{
    if (strchr(err->msg, '\n') != NULL)
        abort();
}

static void hcl(const uint8_t *p, size_t n)
{
    struct azure_hcl h;
    struct cairn_error err = {0};
    if (azure_hcl_parse(p, n, &h, &err) != 0) {
        one_line(&err);
        return;
    }
    if (h.hw_report < p || h.hw_report + h.hw_report_len > p + n || h.runtime_data < p ||
        h.runtime_data + h.runtime_data_len > p + n || h.report_data < h.hw_report ||
        h.report_data + 64 > h.hw_report + h.hw_report_len)
        abort();
    char *pem = NULL;
    if (azure_hcl_jwk_pem(&h, "HCLAkPub", &pem, &err) == 0)
        free(pem);
    uint8_t ud[64];
    size_t udl = 0;
    if (azure_hcl_user_data(&h, ud, &udl, &err) == 0 && udl > 64)
        abort();
    struct attest_claims c = {.type = azure_hcl_attest_type(&h), .report_data_len = 64,
                              .json = json_pack("{s:i, s:[]}", "vmpl", 0, "checks")};
    memcpy(c.report_data, h.report_data, 64);
    if (azure_hcl_check(&h, &c, &err) != 0)
        one_line(&err);
    attest_claims_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 3 == 0) {
        hcl(data + 1, size - 1);
        return 0;
    }
    const char *tee = data[0] % 3 == 1 ? "az-snp-vtpm" : "az-tdx-vtpm";
    struct attest_claims c = {0};
    struct cairn_error err = {0};
    int rc = kbs_evidence_azure_verify(tee, (const char *)data + 1, size - 1, (const uint8_t *)"challenge", 9, NULL, 0,
                                       NULL, 1748736000, &c, &err);
    if (rc != 0) {
        if (c.json != NULL)
            abort();
        one_line(&err);
    }
    attest_claims_free(&c);
    return 0;
}
