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

#define SGX_ATTR_DEBUG 0x02u   /* attributes.flags bit 1 */

/* Adds the claims of the verified collateral result to `j`. Shared with TDX. */
int intel_claims_add_tcb(json_t *j, const struct collateral_result *cr);
/* Adds "fmspc", "pck_tcb_components", "pck_pce_svn", "pck_cpu_svn", "ppid" and
 * "platform_instance_id". Shared with TDX. */
int intel_claims_add_pck(json_t *j, const struct dcap_pck_info *pck);

#endif
