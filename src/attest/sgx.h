/* Internal to src/attest: SGX DCAP quote v3 verification (sgx_verify() is
 * declared in verifiers.h). The claims it produces are listed in attest.h;
 * besides those it adds "quote_version", "qe_isv_svn", "qe_tcb_status",
 * "platform_tcb_status", "tcb_date", "tcb_evaluation_data_number",
 * "pck_pce_svn", "pck_cpu_svn", "ppid" and "platform_instance_id" (when the
 * PCK certificate has one). */
#ifndef CAIRN_ATTEST_SGX_H
#define CAIRN_ATTEST_SGX_H

#include <jansson.h>

#include "attest/collateral.h"
#include "attest/dcap.h"
#include "attest/policy.h"

#define SGX_ATTR_DEBUG 0x02u /* attributes.flags bit 1 */

/* Adds the claims of the verified collateral result to `j`. Shared with TDX. */
int intel_claims_add_tcb(json_t *j, const struct collateral_result *cr);
/* Adds "fmspc", "pck_tcb_components", "pck_pce_svn", "pck_cpu_svn", "ppid" and
 * "platform_instance_id". Shared with TDX. */
int intel_claims_add_pck(json_t *j, const struct dcap_pck_info *pck);

/* What sgx_verify and tdx_verify (verifiers.h) do not share; intel_verify is
 * the path they do: parse, the quote and PCK checks (dcap.c), the collateral
 * (collateral.c), then the claims. */
struct intel_kind {
    uint32_t tee;                  /* DCAP_TEE_SGX / DCAP_TEE_TDX */
    enum attest_type type;         /* of the claims */
    const char *what;              /* "sgx quote", in messages */
    size_t report_data_off;        /* of the 64-byte report data in the quote body */
    /* Adds the kind's own collateral inputs to `in` (pck and qe_report are set); may be NULL. */
    void (*collateral_in)(const struct dcap_quote *q, struct collateral_input *in);
    /* The kind's own claims (intel_verify adds the PCK, TCB and checks ones
     * after them); 0 or CAIRN_ERR_NOMEM. */
    int (*claims)(const struct dcap_quote *q, json_t **out);
};
int intel_verify(const struct intel_kind *k, const struct attest_evidence *ev, const struct attest_trust *trust,
                 struct attest_claims *out, struct cairn_error *err);

/* Policy (called by tee_policy_match in policy.c). Each returns 0 or
 * CAIRN_ERR_POLICY naming the field, e.g. "mrenclave mismatch: expected ..,
 * got ..". See docs/attestation-intel.md for the rules. */
int sgx_policy_match(const struct tee_package *p, const struct attest_claims *c,
                     struct cairn_error *err);
int tdx_policy_match(const struct tee_package *p, const struct attest_claims *c,
                     struct cairn_error *err);
/* `want_hex` (any case) decoded must equal the claim `claim` (hex). */
int intel_policy_hex(const char *field, const char *want_hex, json_t *claims, const char *claim,
                     struct cairn_error *err);
/* TCB status (absent = "NoCollateral") via tee_tcb_status_accepted, then the
 * advisories when the status is SWHardeningNeeded and the package lists some. */
int intel_policy_tcb(const struct tee_package *p, json_t *claims, struct cairn_error *err);

/* Gramine issuer (gramine.c). `cfg->gramine_dir` defaults to "/dev/attestation".
 * gramine_issue writes report_data to <dir>/user_report_data, then reads
 * <dir>/quote (at most DCAP_QUOTE_MAX bytes) into out->quote (type ATTEST_SGX;
 * free with attest_issued_free). CAIRN_ERR_UNSUPPORTED when the directory is
 * absent or <dir>/attestation_type exists and is not "dcap".
 * gramine_probe: true when <dir>/quote is readable (and the type, if given, is dcap). */
struct attest_issuer_config;
struct attest_issued;
int gramine_issue(const uint8_t report_data[64], const struct attest_issuer_config *cfg,
                  struct attest_issued *out, struct cairn_error *err);
bool gramine_probe(const struct attest_issuer_config *cfg);

#endif
