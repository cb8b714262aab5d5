/* Internal: what a supporting file for evidence verification is, told from
 * its bytes alone (no file name, no flag).
 *
 * Used by the builder (trust_files.h), and through it by `cairn evidence
 * verify` and trust directories (trust_store.h). Everything here is bounded
 * and pure; nothing logs.
 *
 * Recognition (trust_file_classify), in this order:
 *   JSON       (first: collateral bundles carry PEM chains inside strings)
 *              {"tcbInfo":..}          -> Intel TCB info (PCS document),
 *              {"enclaveIdentity":..}  -> Intel QE identity (PCS document),
 *              {"tcb_info":.., "qe_identity":..} -> dcap-qvl collateral bundle
 *                                         (split into both documents, the
 *                                         signing chain and the CRLs),
 *              {"pcrs":..}             -> TPM PCR values,
 *              an array of 1..TRUST_DOCS_MAX TCB info (or QE identity)
 *                                      -> a document set of that kind;
 *   PEM text   by block label: CERTIFICATE -> certificates, X509 CRL -> CRL,
 *              PUBLIC KEY -> TPM AK public key;
 *   binary     56-byte ACPI "CCEL" table; DER certificate; DER CRL;
 *              TPMT_SIGNATURE (exact size); TPMT_PUBLIC/TPM2B_PUBLIC
 *              (parsed by tpm_public_parse); TCG event log or CCEL area
 *              (replayed; a log whose only bank is SHA-384 is a CCEL);
 *              DER ECDSA or raw RSA (128/256/384/512 bytes) signature when
 *              the evidence is TPM; at most 64 other bytes: a nonce. */
#ifndef CAIRN_ATTEST_TRUST_CLASSIFY_H
#define CAIRN_ATTEST_TRUST_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "attest/attest.h"
#include "common/error.h"

#define TRUST_FILE_MAX (32u << 20)     /* a CCEL area can be a few MiB; nothing is larger */
#define TRUST_DOCS_MAX 64              /* TCB info / QE identity documents of one kind */

enum trust_file_kind {
    TRUST_FILE_UNKNOWN = 0,    /* recognise by content */
    TRUST_FILE_CERTS,          /* PEM/DER certificates, sorted per certificate */
    TRUST_FILE_ROOTS,          /* certificates the caller trusts as roots (--root) */
    TRUST_FILE_CRL,            /* DER or PEM CRL(s) */
    TRUST_FILE_TCB_INFO,       /* Intel PCS TCB info document */
    TRUST_FILE_QE_IDENTITY,    /* Intel PCS QE identity document */
    TRUST_FILE_QVL_COLLATERAL, /* dcap-qvl QuoteCollateralV3 JSON */
    TRUST_FILE_TPM_SIGNATURE,  /* TPMT_SIGNATURE, DER ECDSA or raw RSA signature */
    TRUST_FILE_TPM_PUBLIC,     /* TPMT_PUBLIC or TPM2B_PUBLIC */
    TRUST_FILE_PUBKEY_PEM,     /* PEM PUBLIC KEY (TPM AK) */
    TRUST_FILE_PCRS,           /* PCR values JSON */
    TRUST_FILE_EVENTLOG,       /* TCG PC Client event log */
    TRUST_FILE_CCEL,           /* TDX CC event log area */
    TRUST_FILE_CCEL_TABLE,     /* ACPI CCEL table */
    TRUST_FILE_NONCE,          /* raw nonce / expected report data (<= 64 bytes) */
};

/* "certificates", "crl", "tcb-info", ... (stable names, used in JSON output). */
const char *trust_file_kind_name(enum trust_file_kind k);

/* Recognises a supporting file by content (order above). `type` is the
 * evidence type (it decides TCG log vs CCEL and bare signatures). Returns 0,
 * or CAIRN_ERR_INVALID with a message saying what the bytes are not. */
int trust_file_classify(const uint8_t *p, size_t n, enum attest_type type, enum trust_file_kind *out,
                        struct cairn_error *err);

#endif
