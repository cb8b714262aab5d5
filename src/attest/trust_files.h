/* Internal: the supporting files of one evidence verification, gathered
 * into a struct attest_evidence + struct attest_trust.
 *
 * Used by `cairn evidence verify` (src/cli/cmd_evidence.c) and by trust
 * directories (trust_store.h). A file is recognised by content
 * (trust_classify.h) or named by the caller; certificates are sorted by
 * role (trust_certs.h), Intel collateral documents joined (trust_docs.h).
 * Everything here is bounded and pure except trust_files_add_path (one
 * capped file read); nothing logs. */
#ifndef CAIRN_ATTEST_TRUST_FILES_H
#define CAIRN_ATTEST_TRUST_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "attest/attest.h"
#include "attest/trust_classify.h"
#include "common/error.h"

#define TRUST_FILES_MAX_ITEMS 64       /* supporting files per verification */
#define TRUST_FILES_MAX_CERTS 64

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

/* ---- for trust directories (trust_store.c) ---- */

enum attest_type trust_files_type(const struct trust_files *tf);

/* Trust-material-only mode: while on, evidence kinds (nonce, TPM signature
 * and AK, PCRs, event logs, CCEL) are refused. Returns the previous mode. */
bool trust_files_set_store_mode(struct trust_files *tf, bool on);

/* Of several CRLs by one issuer keeps only the newest (latest thisUpdate). */
void trust_files_keep_newest_crls(struct trust_files *tf);

/* The trust part of trust_files_build (no evidence needed): views borrowed
 * from `tf`, valid until it changes or is freed. */
int trust_files_trust(struct trust_files *tf, time_t at, struct attest_trust *out, struct cairn_error *err);

#endif
