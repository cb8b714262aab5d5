/* Internal: the evidence of the Confidential Containers TEE types
 * "az-snp-vtpm" and "az-tdx-vtpm" (Azure confidential VMs with a paravisor),
 * as the CoCo attestation-agent sends it in a KBS /kbs/v0/attest request,
 * verified with Cairn's own verifiers and trust directories.
 *
 * Evidence JSON (what guest-components' az-snp-vtpm / az-tdx-vtpm attesters
 * serialise; Trustee's verifiers accept the same three versions):
 *   version 1 and 2 (current agents send 2):
 *     {"version": 1|2,
 *      "tpm_quote": {"signature": hex (raw RSASSA-PKCS1v1.5 SHA-256 by the
 *                                      vTPM AK), "message": hex (TPMS_ATTEST),
 *                    "pcrs": [hex of 32 bytes, ...] (SHA-256 PCRs 0..23)},
 *      "hcl_report": base64url (azure_hcl.h),
 *      az-snp-vtpm: "vcek": base64url (DER VCEK certificate),
 *      az-tdx-vtpm: "td_quote": base64url (DCAP TD quote v4/v5 of the
 *                   HCL report's TDREPORT)}
 *   version 0 (no "version"; byte strings as JSON arrays of integers):
 *     az-snp-vtpm: {"quote": {"signature", "message", "pcrs"}, "report": HCL
 *                   report, "vcek": PEM text}
 *     az-tdx-vtpm: {"tpm_quote": {...}, "hcl_report": [...], "td_quote": [...]}
 *
 * Binding (Trustee's KBS: the expected report data is the runtime-data hash
 * of the KBS challenge, SHA-384 of the canonical JSON {"nonce",
 * "tee-pubkey"}; the attester passes it to the vTPM):
 *   - the vTPM quote's nonce (TPMS_ATTEST extraData) equals it exactly;
 *   - version 2: the HCL runtime data's "user-data" starts with it;
 *   - optional init-data: PCR 8 == SHA-256(32 zero bytes || digest) (the
 *     agent extends PCR 8 with the init-data digest once).
 *
 * Checks, all of which must pass: the HCL report parses and carries the
 * hardware report of the named TEE; the vTPM quote verifies with the AK of
 * the HCL runtime data (tpm_verify: signature, PCR digest); the nonce as
 * above; the hardware evidence verifies (snp_verify of the HCL report's SNP
 * report with the VCEK, or tdx_verify of the TD quote) with the trust of the
 * store for that type; azure_hcl_check (VMPL 0, the quoted report, report
 * data = H(runtime data)); user-data and init-data as above.
 *
 * Nothing here logs or does I/O; the evidence is untrusted and parsed with
 * caps (KBS_AZURE_EVIDENCE_MAX and per field). */
#ifndef CAIRN_ATTEST_KBS_EVIDENCE_AZURE_H
#define CAIRN_ATTEST_KBS_EVIDENCE_AZURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "attest/attest.h"
#include "attest/trust_store.h"
#include "common/error.h"

#define KBS_AZURE_EVIDENCE_MAX (1u << 20) /* version 0 spells bytes as decimal arrays */

/* True for "az-snp-vtpm" and "az-tdx-vtpm". */
bool kbs_azure_tee_known(const char *tee);

/* The attest type of the hardware evidence of `tee` (ATTEST_SNP or
 * ATTEST_TDX); CAIRN_ERR_UNSUPPORTED for other names. */
int kbs_azure_tee_type(const char *tee, enum attest_type *out, struct cairn_error *err);

/* Verifies `evidence` (JSON text of `evidence_len` bytes, exactly as the
 * agent sent it) of TEE type `tee` against the expected report data
 * (1..64 bytes; see "Binding") and, when `init_data` is not NULL, the
 * 32-byte init-data digest. Hardware trust comes from `store` for the
 * hardware type at time `at` (0 = now; `store` NULL = built-in roots, no
 * collateral). On success *out holds the hardware claims (type snp or tdx,
 * the keys of attest.h, matched by tee_policy_match like any marble's) plus
 * "tee" (the name), "evidence_version", "hcl" (azure_hcl_check), "vtpm" (the
 * vTPM quote's claims: nonce, pcrs, ...) and these checks: "hcl_runtime_data",
 * "vtpm_quote_ak_from_hcl", "vtpm_nonce_report_data", "hcl_user_data"
 * (version 2), "init_data_pcr8" (with init_data). The caller frees *out
 * with attest_claims_free. On failure *out is untouched: CAIRN_ERR_INVALID /
 * TOO_LARGE for malformed evidence, CAIRN_ERR_VERIFY when a check fails,
 * CAIRN_ERR_UNSUPPORTED for another tee. */
int kbs_evidence_azure_verify(const char *tee, const char *evidence, size_t evidence_len,
                              const uint8_t *report_data, size_t report_data_len, const uint8_t *init_data,
                              size_t init_data_len, const struct trust_store *store, time_t at,
                              struct attest_claims *out, struct cairn_error *err);

#endif
