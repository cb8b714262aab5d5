/* The KBS evidence shapes on arbitrary bytes: the first byte picks the tee
 * (tdx, snp, sample), the rest is the primary_evidence JSON. Invariant for
 * SNP: a decoded report, written back as serde JSON and decoded again, gives
 * the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "attest/kbs_evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const enum kbs_tee tees[] = {KBS_TEE_TDX, KBS_TEE_SNP, KBS_TEE_SAMPLE};
    enum kbs_tee t = tees[data[0] % 3];
    json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    struct kbs_evidence_store st = {0};
    struct attest_evidence ev;
    if (j != NULL && kbs_evidence_decode(t, j, &st, &ev, NULL) == 0) {
        if (t == KBS_TEE_SNP) {
            json_t *back = kbs_snp_report_to_json(ev.quote);
            json_t *wrap = json_pack("{s:o, s:O}", "attestation_report", back, "cert_chain",
                                     json_object_get(j, "cert_chain"));
            struct kbs_evidence_store st2 = {0};
            struct attest_evidence ev2;
            if (wrap == NULL || kbs_evidence_decode(t, wrap, &st2, &ev2, NULL) != 0 ||
                memcmp(ev.quote, ev2.quote, KBS_SNP_REPORT_SIZE) != 0)
                abort();
            kbs_evidence_store_free(&st2);
            json_decref(wrap);
        }
        kbs_evidence_store_free(&st);
    }
    json_decref(j);
    return 0;
}
