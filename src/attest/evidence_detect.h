/* Internal: the evidence type of bytes handed over without a type name (a
 * file given to `cairn evidence verify`), and the hex/base64 text some tools
 * store evidence in.
 *
 * Bounded and pure; nothing logs. */
#ifndef CAIRN_ATTEST_EVIDENCE_DETECT_H
#define CAIRN_ATTEST_EVIDENCE_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "attest/attest.h"
#include "common/error.h"

/* Detects the evidence type from its bytes: TPMS_ATTEST (TPM_GENERATED magic),
 * DCAP quote v3 with TEE type SGX (also behind the 16-byte OE header), DCAP
 * quote v4/v5 with TEE type TDX, SNP report (0x4A0 bytes, version 2..5,
 * signature algorithm 1), an Azure HCL report (azure_hcl.h): the type of
 * the hardware report inside (snp, or tdx for a TDREPORT, which needs its
 * TD quote to verify). CAIRN_ERR_INVALID when none matches. */
int trust_evidence_detect(const uint8_t *p, size_t n, enum attest_type *out, struct cairn_error *err);

/* Evidence is sometimes stored as hex or base64 text (e.g. an SNP report in
 * a .hex or .b64 file). When `p` is such text (whitespace ignored) and does
 * not already look like evidence, *out receives the decoded bytes (malloc'd,
 * caller frees) and 1 is returned; 0 when `p` is not text to decode. */
int trust_evidence_decode_text(const uint8_t *p, size_t n, uint8_t **out, size_t *out_len);

#endif
