/* Internal: supporting files for offline evidence verification, recognised by
 * content, turned into a struct attest_evidence + struct attest_trust.
 *
 * Used by `cairn evidence verify` (src/cli/cmd_evidence.c) and meant for any
 * component that loads trust material from files (e.g. a Coordinator trust
 * directory). Everything here is bounded and pure except trust_files_add_path
 * (one capped file read); nothing logs.
 *
 * Recognition (trust_file_classify), in this order:
 *   JSON       (first: collateral bundles carry PEM chains inside strings)
 *              {"tcbInfo":..}          -> Intel TCB info (PCS document),
 *              {"enclaveIdentity":..}  -> Intel QE identity (PCS document),
 *              {"tcb_info":.., "qe_identity":..} -> dcap-qvl collateral bundle
 *                                         (split into both documents, the
 *                                         signing chain and the CRLs),
 *              {"pcrs":..}             -> TPM PCR values;
 *   PEM text   by block label: CERTIFICATE -> certificates, X509 CRL -> CRL,
 *              PUBLIC KEY -> TPM AK public key;
 *   binary     56-byte ACPI "CCEL" table; DER certificate; DER CRL;
 *              TPMT_SIGNATURE (exact size); TPMT_PUBLIC/TPM2B_PUBLIC
 *              (parsed by tpm_public_parse); TCG event log or CCEL area
 *              (replayed; a log whose only bank is SHA-384 is a CCEL);
 *              DER ECDSA or raw RSA (128/256/384/512 bytes) signature when
 *              the evidence is TPM; at most 64 other bytes: a nonce.
 *
 * Several TCB info / QE identity files (or JSON arrays of such documents) are
 * joined into one document set; the collateral verifier uses the element
 * that matches the quote's kind (SGX/TDX) and FMSPC (collateral.h).
 *
 * Certificates are then sorted one by one: a self-signed certificate is a
 * root, a CA certificate an intermediate, anything else a leaf. Roots are
 * trusted only when named with trust_files_add(.., TRUST_FILE_ROOTS, ..)
 * (--root): a self-signed certificate found among supporting files is
 * accepted only if it is one of the built-in roots (Intel SGX Root CA, AMD
 * ARK Milan/Genoa/Turin), which are trusted anyway; any other is refused, so
 * a peer cannot make its own evidence trusted by shipping a root with it.
 * Where certificates go, per evidence type:
 *   sgx/tdx: roots -> intel_roots; leaf with the SGX PCK extension ->
 *            evidence certs (PCK chain override); other leaves (the Intel
 *            SGX TCB Signing certificate) -> collateral_chain;
 *            intermediates -> intermediates.
 *   snp:     roots -> amd_roots; intermediates (ASK/ASVK) ->
 *            amd_intermediates; the one leaf (VCEK/VLEK) -> evidence certs.
 *   tpm:     roots -> tpm_roots; intermediates -> intermediates; the one leaf
 *            (AK certificate) -> evidence certs.
 */
#ifndef CAIRN_ATTEST_TRUST_FILES_H
#define CAIRN_ATTEST_TRUST_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "attest/attest.h"
#include "common/error.h"

#define TRUST_FILE_MAX (32u << 20)     /* a CCEL area can be a few MiB; nothing is larger */
#define TRUST_FILES_MAX_ITEMS 64       /* supporting files per verification */
#define TRUST_FILES_MAX_CERTS 64
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

/* Detects the evidence type from its bytes: TPMS_ATTEST (TPM_GENERATED magic),
 * DCAP quote v3 with TEE type SGX (also behind the 16-byte OE header), DCAP
 * quote v4/v5 with TEE type TDX, SNP report (0x4A0 bytes, version 2..5,
 * signature algorithm 1). CAIRN_ERR_INVALID when none matches. */
int trust_evidence_detect(const uint8_t *p, size_t n, enum attest_type *out, struct cairn_error *err);

/* Evidence is sometimes stored as hex or base64 text (e.g. an SNP report in
 * a .hex or .b64 file). When `p` is such text (whitespace ignored) and does
 * not already look like evidence, *out receives the decoded bytes (malloc'd,
 * caller frees) and 1 is returned; 0 when `p` is not text to decode. */
int trust_evidence_decode_text(const uint8_t *p, size_t n, uint8_t **out, size_t *out_len);

/* Azure confidential VMs hand out an "HCL report": 0x00 "HCLA", 0x20 the
 * hardware report (SNP: the 0x4A0-byte report), 0x4C0 the runtime-data
 * header {data_size, version, report_type (2 = SNP, 4 = TDX), hash_type
 * (1 = SHA-256, 2 = SHA-384, 3 = SHA-512), variable_data_size} (u32 LE),
 * 0x4D4 the variable data: JSON whose JWK "HCLAkPub" is the vTPM's AK. The
 * hardware REPORTDATA starts with H(variable data), the rest is zero.
 * Parsing is bounded and pure; pointers borrow from `p`. */
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

/* The builder. Owns copies of every file and every parsed object. */
struct trust_files;

/* `type` must be a hardware type (sgx, tdx, snp, tpm). NULL on OOM. */
struct trust_files *trust_files_new(enum attest_type type);
void trust_files_free(struct trust_files *tf);

/* The evidence bytes (copied): SGX/TDX quote, SNP report, TPMS_ATTEST. */
int trust_files_set_evidence(struct trust_files *tf, const uint8_t *p, size_t n, struct cairn_error *err);

/* Adds a supporting file (copied). `kind` TRUST_FILE_UNKNOWN recognises it
 * by content; any other kind is what a flag named, and the content must
 * parse as that kind. `name` (a path) prefixes error messages. A second
 * file of a single-valued kind (TCB info, QE identity, signature, AK,
 * PCRs, event log, CCEL, CCEL table, nonce) is an error. On failure
 * nothing is added. *out_kind (may be NULL) receives the kind used. */
int trust_files_add(struct trust_files *tf, const char *name, const uint8_t *p, size_t n, enum trust_file_kind kind,
                    enum trust_file_kind *out_kind, struct cairn_error *err);

/* Reads `path` (capped at TRUST_FILE_MAX) and adds it. */
int trust_files_add_path(struct trust_files *tf, const char *path, enum trust_file_kind kind,
                         enum trust_file_kind *out_kind, struct cairn_error *err);

/* Builds borrowed views (valid until trust_files_free): evidence (type and
 * buffers) and trust (roots, intermediates, CRLs, collateral, `at`). */
int trust_files_build(struct trust_files *tf, time_t at, struct attest_evidence *ev, struct attest_trust *trust,
                      struct cairn_error *err);

/* The nonce file's bytes (borrowed), or NULL. */
const uint8_t *trust_files_nonce(const struct trust_files *tf, size_t *len);
/* The CCEL area and table (borrowed), or NULL. */
const uint8_t *trust_files_ccel(const struct trust_files *tf, size_t *len, const uint8_t **table, size_t *table_len);

/* A JSON array describing what each file was taken as:
 * [{"file": name, "kind": "...", "certificates": n?}, ...] (new reference). */
json_t *trust_files_describe(const struct trust_files *tf);

/* TDX: replays a CCEL area (bounded by the table's LAML when given) and
 * compares every RTMR the log extends with the quote's "rtmr0".."rtmr3"
 * claims. Adds "ccel_rtmrs_compared" (count) and the check "ccel_replay" to
 * claims on success; CAIRN_ERR_VERIFY naming the first RTMR that differs
 * (with both values) otherwise. */
int trust_ccel_check(const uint8_t *table, size_t table_len, const uint8_t *data, size_t data_len, json_t *claims,
                     struct cairn_error *err);

/* ---- trust directories -----------------------------------------------------------
 *
 * A Coordinator's (or any long-running verifier's) trust configuration:
 *   <dir>/sgx/ <dir>/tdx/ <dir>/snp/ <dir>/tpm/   supporting files recognised by
 *       content as above (certificates, CRLs, TCB info / QE identity documents
 *       or sets, dcap-qvl bundles); evidence-only kinds (nonce, TPM signature,
 *       PCRs, event logs) are refused;
 *   <dir>/<type>/roots/   certificates trusted as roots for that type (they
 *       replace the built-in Intel/AMD roots; TPM has none built in).
 * A type without its subdirectory uses the built-in defaults (empty trust).
 * Dotfiles are skipped; any other subdirectory is an error. Of several CRLs
 * by one issuer only the newest (latest thisUpdate) is kept. */
struct trust_store;

int trust_store_load(const char *dir, struct trust_store **out, struct cairn_error *err);
void trust_store_free(struct trust_store *s);

/* The trust for `type` at time `at` (0 = now). The views borrow from the
 * store, which must outlive their use; the store is read-only after load, so
 * concurrent callers (activations on several loops) need no lock. */
void trust_store_get(const struct trust_store *s, enum attest_type type, time_t at, struct attest_trust *out);

/* Adds the files of <dir>/<type of tf>/ (and its roots/) to `tf` with the
 * rules of trust_store_load; nothing when that subdirectory is absent. On
 * failure the files added before the failing one stay. */
int trust_files_add_dir(struct trust_files *tf, const char *dir, struct cairn_error *err);

/* {"sgx": [{"file":..,"kind":..}, ...], ...} (new reference) for logs/status. */
json_t *trust_store_describe(const struct trust_store *s);

#endif
