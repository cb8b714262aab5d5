/* TPM parsers on arbitrary bytes: TPMS_ATTEST, TPMT_PUBLIC, PCR values JSON (the Azure HCL
 * report has its own harness, fuzz_azure_hcl),
 * and a full tpm_verify where the input is split into quote | signature |
 * akPub | pcrs at the first three 0xFE 0xED separators. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "attest/attest.h"
#include "attest/tpm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cairn_error err = {0};
    struct tpm_attest a;
    (void)tpm_attest_parse(data, size, &a, &err);
    struct tpm_ak ak;
    if (tpm_public_parse(data, size, &ak, &err) == 0)
        tpm_ak_clear(&ak);
    static struct tpm_pcr_values v;
    (void)tpm_pcrs_parse_json(data, size, &v, &err);

    const uint8_t *part[4] = {data, NULL, NULL, NULL};
    size_t len[4] = {size, 0, 0, 0};
    int k = 0;
    for (size_t i = 0; i + 1 < size && k < 3; i++) {
        if (data[i] == 0xFE && data[i + 1] == 0xED) {
            len[k] = (size_t)(data + i - part[k]);
            part[k + 1] = data + i + 2;
            len[k + 1] = size - (i + 2);
            k++;
            i++;
        }
    }
    if (k == 3) {
        struct attest_evidence ev = {.type = ATTEST_TPM, .quote = part[0], .quote_len = len[0],
                                     .signature = part[1], .signature_len = len[1], .ak_pub = part[2],
                                     .ak_pub_len = len[2], .pcrs = part[3], .pcrs_len = len[3]};
        struct attest_claims c;
        if (attest_verify(&ev, NULL, NULL, 0, &c, &err) == 0)
            attest_claims_free(&c);
    }
    return 0;
}
