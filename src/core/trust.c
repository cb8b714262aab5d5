/* The Coordinator's trust configuration for marble evidence (docs/trust.md).
 *
 * A trust directory (src/attest/trust_store.h: <dir>/<type>/ files and
 * <dir>/<type>/roots/) is loaded once by core_new and is read-only
 * afterwards, so activations on every loop read it without a lock. Without
 * one every verifier uses its built-in roots (Intel SGX Root CA, AMD ARKs)
 * and has no collateral: SGX/TDX evidence then carries no TCB status and the
 * package policy refuses it unless it accepts "NoCollateral" (default deny). */
#include <string.h>

#include "attest/trust_store.h"
#include "common/log.h"
#include "core/core_internal.h"

int core_trust_load(struct core *c, const char *dir, struct cairn_error *err)
{
    if (dir == NULL) {
        /* say what the default means, so a refused SGX/TDX marble is not a mystery */
        LOG_INFO("no trust directory (--trust-dir): built-in Intel/AMD roots, no collateral (SGX/TDX marbles "
                 "have no TCB status and need \"NoCollateral\" in AcceptedTCBStatuses)");
        return 0;
    }
    struct trust_store *s = NULL;
    int rc = trust_store_load(dir, &s, err);
    if (rc != 0)
        return cairn_err_prefix(err, "--trust-dir");
    json_t *d = trust_store_describe(s);
    char *text = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
    size_t n_types = d != NULL ? json_object_size(d) : 0;
    json_decref(d);
    if (n_types == 0)
        LOG_WARN("trust directory %s has no sgx/, tdx/, snp/ or tpm/ subdirectory: built-in roots only", dir);
    else
        LOG_INFO("trust directory %s loaded: %s", dir, text != NULL ? text : "(description unavailable)");
    free(text);
    c->trust = s;
    return 0;
}

void core_trust_get(const struct core *c, enum attest_type type, struct attest_trust *out)
{
    /* at = 0: every verification is at the present time, so collateral and
     * certificates that expire while the Coordinator runs stop verifying */
    if (c->trust == NULL || type == ATTEST_SIM) {
        memset(out, 0, sizeof(*out));
        return;
    }
    trust_store_get(c->trust, type, 0, out);
}

int core_trust_check_claims(const struct core *c, const struct attest_claims *claims, struct cairn_error *err)
{
    if (c->trust == NULL || claims->type != ATTEST_TPM)
        return 0;
    struct attest_trust t;
    trust_store_get(c->trust, ATTEST_TPM, 0, &t);
    if (t.tpm_roots == NULL || sk_X509_num(t.tpm_roots) == 0)
        return 0;
    /* The TPM verifier checks an AK certificate against the roots when one is
     * sent, but accepts a bare AK (a key anyone can make). When the operator
     * configured AK roots, an uncertified AK must not get through. */
    if (!json_is_true(json_object_get(claims->json, "ak_certified")))
        return cairn_errf(err, CAIRN_ERR_VERIFY,
                          "tpm: the trust directory has AK roots (tpm/roots/) but the evidence has no AK certificate "
                          "chaining to them");
    return 0;
}

void core_trust_free(struct core *c)
{
    trust_store_free(c->trust);
    c->trust = NULL;
}
