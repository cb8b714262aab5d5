/* SEV-SNP report parser and verifier on arbitrary bytes: the input is the
 * report; when longer than a report, the rest is the certificate blob. The
 * whole input is also tried as an auxblob certificate table. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "attest/attest.h"
#include "attest/snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct snp_report r;
    struct cairn_error err = {0};
    if (snp_report_parse(data, size, &r, &err) == 0) {
        (void)snp_report_product(&r);
        struct snp_tcb t;
        snp_tcb_decode(r.reported_tcb, SNP_PRODUCT_TURIN, &t);
    }
    char *pem = NULL;
    if (snp_certtable_to_pem(data, size, &pem, &err) == 0)
        free(pem);
    if (size > SNP_REPORT_SIZE) {
        struct attest_evidence ev = {.type = ATTEST_SNP, .quote = data, .quote_len = SNP_REPORT_SIZE,
                                     .certs = data + SNP_REPORT_SIZE, .certs_len = size - SNP_REPORT_SIZE};
        struct attest_claims c;
        if (attest_verify(&ev, NULL, NULL, 0, &c, &err) == 0)
            attest_claims_free(&c);
    }
    return 0;
}
