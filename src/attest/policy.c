/* TEE package policy: lifetime of struct tee_package and matching of
 * verified claims against it (DESIGN §5). */
#include "attest/policy.h"

#include "attest/sgx.h"
#include "attest/snp.h"
#include "attest/tpm.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common/encoding.h"

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void tee_package_free(struct tee_package *p)
{
    if (p == NULL)
        return;
    free(p->unique_id);
    free(p->signer_id);
    free_strv(p->accepted_tcb_statuses, p->n_accepted_tcb_statuses);
    free_strv(p->accepted_advisories, p->n_accepted_advisories);
    free(p->mrtd);
    for (int i = 0; i < 4; i++)
        free(p->rtmr[i]);
    free(p->mr_config_id);
    free(p->mr_owner);
    free(p->mr_owner_config);
    free(p->measurement);
    free(p->host_data);
    free(p->id_key_digest);
    free_strv(p->ak_roots_pem, p->n_ak_roots);
    free(p->pcr_public_key);
    for (size_t i = 0; i < p->n_pcrs; i++) {
        free(p->pcrs[i].bank);
        free(p->pcrs[i].value_hex);
    }
    free(p->pcrs);
    memset(p, 0, sizeof(*p));
}

bool tee_tcb_status_accepted(const struct tee_package *p, const char *status)
{
    if (strcmp(status, "UpToDate") == 0)
        return true;
    if (p->n_accepted_tcb_statuses == 0)
        return strcmp(status, "SWHardeningNeeded") == 0;
    for (size_t i = 0; i < p->n_accepted_tcb_statuses; i++) {
        if (strcasecmp(p->accepted_tcb_statuses[i], status) == 0)
            return true;
    }
    return false;
}

int tee_pcrs_match(const struct tee_package *p, const json_t *pcrs, struct cairn_error *err)
{
    for (size_t i = 0; i < p->n_pcrs; i++) {
        const struct tee_pcr *w = &p->pcrs[i];
        char idx[12];
        snprintf(idx, sizeof(idx), "%u", w->index);
        const char *got = json_string_value(json_object_get(json_object_get(pcrs, w->bank ? w->bank : ""), idx));
        if (got == NULL)
            return cairn_errf(err, CAIRN_ERR_POLICY, "PCRs.%s.%u: not in the quote", w->bank ? w->bank : "?",
                              w->index);
        uint8_t *a = NULL, *b = NULL;
        size_t an = 0, bn = 0;
        int ok = w->value_hex != NULL && cairn_hex_decode(w->value_hex, strlen(w->value_hex), &a, &an) == 0 &&
                 cairn_hex_decode(got, strlen(got), &b, &bn) == 0 && an == bn && CRYPTO_memcmp(a, b, an) == 0;
        free(a);
        free(b);
        if (!ok)
            return cairn_errf(err, CAIRN_ERR_POLICY, "PCRs.%s.%u mismatch: expected %s, got %s", w->bank, w->index,
                              w->value_hex ? w->value_hex : "(none)", got);
    }
    return 0;
}

/* PCRs of a tdx or snp package are those of the vTPM of an Azure
 * confidential VM: only az-snp-vtpm / az-tdx-vtpm evidence carries its
 * verified quote (claim "vtpm", kbs_evidence_azure.h); any other evidence of
 * that TEE has no PCRs and is refused. */
static int vtpm_pcrs_match(const struct tee_package *p, const struct attest_claims *c, struct cairn_error *err)
{
    if (p->n_pcrs == 0)
        return 0;
    const json_t *vt = json_object_get(c->json, "vtpm");
    if (vt == NULL)
        return cairn_errf(err, CAIRN_ERR_POLICY, "PCRs: the package pins vTPM PCRs, the %s evidence has no vTPM "
                          "quote (only az-%s-vtpm evidence of an Azure confidential VM has one)",
                          attest_type_name(p->tee), p->tee == ATTEST_SNP ? "snp" : "tdx");
    int rc = tee_pcrs_match(p, json_object_get(vt, "pcrs"), err);
    return rc != 0 ? cairn_err_prefix(err, "vTPM") : 0;
}

int tee_policy_match(const struct tee_package *p, const struct attest_claims *c, struct cairn_error *err)
{
    if (p == NULL || c == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "policy: no package or no claims");
    if (p->tee != c->type)
        return cairn_errf(err, CAIRN_ERR_POLICY, "TEE mismatch: the package expects %s evidence, got %s",
                          attest_type_name(p->tee), attest_type_name(c->type));
    switch (p->tee) {
    case ATTEST_SGX:
        return sgx_policy_match(p, c, err);
    case ATTEST_TDX: {
        int rc = tdx_policy_match(p, c, err);
        return rc != 0 ? rc : vtpm_pcrs_match(p, c, err);
    }
    case ATTEST_SNP: {
        int rc = snp_policy_match(p, c, err);
        return rc != 0 ? rc : vtpm_pcrs_match(p, c, err);
    }
    case ATTEST_TPM:
        return tpm_policy_match(p, c, err);
    default:
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "policy: %s packages are not supported",
                          attest_type_name(p->tee));
    }
}
