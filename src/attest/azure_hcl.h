/* Internal: Azure confidential VMs' "HCL report" (the report the paravisor,
 * Microsoft's HCL, returns from the vTPM NV index 0x01400001), and the binding
 * between its runtime data and the hardware report it carries.
 *
 * Used by `cairn evidence verify` (src/cli/cmd_evidence.c) and by evidence
 * type detection (evidence_detect.h). Parsing is bounded and pure; pointers
 * borrow from the caller's bytes; nothing logs. */
#ifndef CAIRN_ATTEST_AZURE_HCL_H
#define CAIRN_ATTEST_AZURE_HCL_H

#include <stddef.h>
#include <stdint.h>

#include "attest/attest.h"
#include "common/error.h"

/* Layout: 0x00 "HCLA", 0x20 the hardware report (SNP: the 0x4A0-byte
 * report), 0x4C0 the runtime-data header {data_size, version, report_type
 * (2 = SNP, 4 = TDX), hash_type (1 = SHA-256, 2 = SHA-384, 3 = SHA-512),
 * variable_data_size} (u32 LE), 0x4D4 the variable data: JSON whose JWK
 * "HCLAkPub" is the vTPM's AK. The hardware REPORTDATA starts with
 * H(variable data), the rest is zero. */
struct trust_hcl {
    const uint8_t *report;  size_t report_len;   /* the SNP report */
    uint32_t report_type, hash_type;
    const uint8_t *runtime_data;  size_t runtime_data_len;
};
int trust_hcl_parse(const uint8_t *p, size_t n, struct trust_hcl *out, struct cairn_error *err);

/* Checks the binding: the verified report data (claims) starts with
 * H(runtime data) and is zero after it. Adds the check "hcl_runtime_data"
 * and the claim "hcl" {"report_type", "runtime_data_hash", "runtime_data"
 * (the parsed JSON, when it parses), "ak_pub" (PEM of the HCLAkPub JWK, when
 * present)} to claims->json. CAIRN_ERR_VERIFY when the hash differs. */
int trust_hcl_check(const struct trust_hcl *h, struct attest_claims *claims, struct cairn_error *err);

/* The RSA public key of JWK `kid` in the runtime data, as PEM "PUBLIC KEY"
 * (malloc'd, caller frees). CAIRN_ERR_NOT_FOUND when there is no such key. */
int trust_hcl_jwk_pem(const struct trust_hcl *h, const char *kid, char **out_pem, struct cairn_error *err);

#endif
