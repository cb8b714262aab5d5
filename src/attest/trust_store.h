/* Internal: trust directories, a Coordinator's (or any long-running
 * verifier's) trust configuration:
 *   <dir>/sgx/ <dir>/tdx/ <dir>/snp/ <dir>/tpm/   supporting files recognised by
 *       content (trust_classify.h: certificates, CRLs, TCB info / QE identity
 *       documents or sets, dcap-qvl bundles); evidence-only kinds (nonce, TPM
 *       signature, PCRs, event logs) are refused;
 *   <dir>/<type>/roots/   certificates trusted as roots for that type (they
 *       replace the built-in Intel/AMD roots; TPM has none built in).
 * A type without its subdirectory uses the built-in defaults (empty trust).
 * Dotfiles are skipped; any other subdirectory is an error. Of several CRLs
 * by one issuer only the newest (latest thisUpdate) is kept.
 *
 * Used by the Coordinator (src/core/trust.c), libcairn's verifier
 * (src/client/) and `cairn evidence verify --trust-dir`. Loading reads files
 * (each capped at TRUST_FILE_MAX); nothing logs. */
#ifndef CAIRN_ATTEST_TRUST_STORE_H
#define CAIRN_ATTEST_TRUST_STORE_H

#include <time.h>

#include <jansson.h>

#include "attest/attest.h"
#include "attest/trust_files.h"
#include "common/error.h"

struct trust_store;

/* Loads `dir`; *out is owned by the caller (trust_store_free). On failure
 * nothing is returned. */
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
