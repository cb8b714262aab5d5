/* Internal: Azure confidential VMs' "HCL report", the report the paravisor
 * (Microsoft's HCL, running at VMPL 0 / as the TD's L1) returns from the vTPM
 * NV index 0x01400001, and the binding between its runtime data and the
 * hardware evidence that carries it.
 *
 * Layout (little-endian u32s):
 *   0x000 header {"HCLA", version, report_size, request_type, status, 3 reserved}
 *   0x020 hardware report area (0x4A0 bytes):
 *         SNP (report_type 2): the 0x4A0-byte ATTESTATION_REPORT;
 *         TDX (report_type 4): the 1024-byte TDREPORT (REPORTMACSTRUCT, whose
 *         REPORTDATA is at +0x80, TEE_TCB_INFO, TDINFO), then zeros
 *   0x4C0 runtime-data header {data_size (= variable_data_size + 20), version,
 *         report_type, hash_type (1 = SHA-256, 2 = SHA-384, 3 = SHA-512),
 *         variable_data_size}
 *   0x4D4 variable data ("runtime data"): JSON {"keys": [JWK "HCLAkPub" (the
 *         vTPM's attestation key), "HCLEkPub"], "vm-configuration": {..},
 *         "user-data": hex of the 64 bytes written to NV index 0x01400002}
 * The hardware REPORTDATA is H(variable data) followed by zeros.
 *
 * An SNP report is verified from the HCL report itself; a TDREPORT is MACed
 * for the local platform only, so for TDX the TD quote of the same TDREPORT
 * is the evidence (az-tdx-vtpm ships both) and the HCL report is checked
 * against the quote's claims.
 *
 * Used by `cairn evidence verify` (src/cli/cmd_evidence.c), evidence type
 * detection (evidence_detect.h) and the KBS Azure evidence
 * (kbs_evidence_azure.h). Parsing is bounded and pure; pointers borrow from
 * the caller's bytes; nothing logs. */
#ifndef CAIRN_ATTEST_AZURE_HCL_H
#define CAIRN_ATTEST_AZURE_HCL_H

#include <stddef.h>
#include <stdint.h>

#include "attest/attest.h"
#include "common/error.h"

#define AZURE_HCL_SNP 2u          /* runtime-data report_type */
#define AZURE_HCL_TDX 4u
#define AZURE_HCL_MAX (64u * 1024u) /* HCL reports are 2600 bytes today */
#define AZURE_HCL_TDREPORT_LEN 1024u

struct azure_hcl {
    uint32_t version;                              /* header version */
    uint32_t report_type;                          /* AZURE_HCL_SNP or AZURE_HCL_TDX */
    uint32_t hash_type;                            /* 1..3 */
    const uint8_t *hw_report;  size_t hw_report_len; /* SNP report (0x4A0) or TDREPORT (1024) */
    const uint8_t *report_data;                    /* the hardware report's 64-byte REPORTDATA */
    const uint8_t *runtime_data;  size_t runtime_data_len;
};

/* Parses and bounds-checks the layout above (magic, report type, hash type,
 * sizes; for TDX the TDREPORT type byte 0x81). *out is written only on
 * success. CAIRN_ERR_TRUNCATED / TOO_LARGE / INVALID / UNSUPPORTED. */
int azure_hcl_parse(const uint8_t *p, size_t n, struct azure_hcl *out, struct cairn_error *err);

/* "snp" or "tdx" for the report type (the attest type of the hardware
 * evidence to verify with it). */
enum attest_type azure_hcl_attest_type(const struct azure_hcl *h);

/* Checks the HCL report against the *verified* hardware claims: their type
 * matches the report type; SNP: the report came from VMPL 0 (only the
 * paravisor runs there, a guest at VMPL 1..3 could bind runtime data of its
 * own); the report copy in the HCL report carries the verified REPORTDATA
 * (TDX: the TDREPORT is the quoted one); the report data starts with
 * H(runtime data) and is zero after it. Adds
 * the check "hcl_runtime_data" and the claim "hcl" {"report_type",
 * "runtime_data_hash", "runtime_data" (the parsed JSON, when it parses),
 * "ak_pub" (PEM of the HCLAkPub JWK, when present)} to claims->json.
 * CAIRN_ERR_VERIFY when a check fails. */
int azure_hcl_check(const struct azure_hcl *h, struct attest_claims *claims, struct cairn_error *err);

/* The RSA public key of JWK `kid` in the runtime data, as PEM "PUBLIC KEY"
 * (malloc'd, caller frees). CAIRN_ERR_NOT_FOUND when there is no such key,
 * CAIRN_ERR_INVALID when it is not an RSA key. */
int azure_hcl_jwk_pem(const struct azure_hcl *h, const char *kid, char **out_pem, struct cairn_error *err);

/* The runtime data's "user-data" (hex, at most 64 bytes) into out[64];
 * *out_len receives its length. CAIRN_ERR_NOT_FOUND without one,
 * CAIRN_ERR_INVALID when it is not hex of at most 64 bytes. */
int azure_hcl_user_data(const struct azure_hcl *h, uint8_t out[64], size_t *out_len, struct cairn_error *err);

#endif
