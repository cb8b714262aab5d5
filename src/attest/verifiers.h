/* Internal to src/attest: the per-type verifiers behind attest_verify().
 * Each fills `out` (type, report_data, json with at least "type" and a
 * "checks" array) only on success; the binding check is done by the caller. */
#ifndef CAIRN_ATTEST_VERIFIERS_H
#define CAIRN_ATTEST_VERIFIERS_H

#include "attest/attest.h"

/* Simulation evidence: `quote` is the 64-byte report data itself. No identity,
 * no signature: only the Coordinator's --simulation mode accepts it. */
int sim_verify(const struct attest_evidence *ev, const struct attest_trust *trust, struct attest_claims *out,
               struct cairn_error *err);

/* AMD SEV-SNP report + VCEK/VLEK (snp.c; order of checks in snp.h). */
int snp_verify(const struct attest_evidence *ev, const struct attest_trust *trust, struct attest_claims *out,
               struct cairn_error *err);

/* TPM 2.0 quote + AK + PCR values (+ event log) (tpm.c; order of checks in tpm.h). */
int tpm_verify(const struct attest_evidence *ev, const struct attest_trust *trust, struct attest_claims *out,
               struct cairn_error *err);

/* Intel SGX DCAP quote v3, optionally behind MarbleRun's 16-byte OE header
 * (sgx.c; checks in docs/attestation-intel.md). */
int sgx_verify(const struct attest_evidence *ev, const struct attest_trust *trust, struct attest_claims *out,
               struct cairn_error *err);

/* Intel TDX quote v4/v5, trailing bytes tolerated (tdx.c). */
int tdx_verify(const struct attest_evidence *ev, const struct attest_trust *trust, struct attest_claims *out,
               struct cairn_error *err);

#endif
