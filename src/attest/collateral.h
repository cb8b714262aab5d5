/* Internal to src/attest: Intel collateral (PCS v3/v4 JSON) for SGX and TDX
 * quotes: TCB info (SGX and TDX, versions 2 and 3) and QE identity
 * (enclaveIdentity version 2), their signatures by the Intel SGX TCB Signing
 * certificate and its chain to the Intel SGX Root CA, their validity at the
 * verification time, and Intel's TCB level matching, which yields the TCB
 * status and the advisory IDs.
 *
 * Documents are the PCS response bodies: {"tcbInfo": {...}, "signature": hex}
 * and {"enclaveIdentity": {...}, "signature": hex}. trust->tcb_info and
 * trust->qe_identity may each also be a JSON array of such documents (one per
 * FMSPC and kind, e.g. SGX and TDX, at most 256): the element whose id
 * ("SGX"/"TDX", "QE"/"TD_QE") and, for TCB info, FMSPC match the quote is
 * used, its exact text as it appears in the array. The signature covers the
 * exact bytes of the inner object as they appear in the document; the text
 * is never re-serialised. Nothing here logs or does I/O. */
#ifndef CAIRN_ATTEST_COLLATERAL_H
#define CAIRN_ATTEST_COLLATERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "attest/attest.h"
#include "attest/dcap.h"

#define COLLATERAL_DOC_MAX (1u << 20) /* a PCS document larger than this is refused */
#define COLLATERAL_LEVELS_MAX 512     /* tcbLevels entries */

/* What the quote contributes to the TCB evaluation (all borrowed). */
struct collateral_input {
    bool tdx;
    const struct dcap_pck_info *pck; /* from the verified PCK leaf */
    const uint8_t *qe_report;        /* 384-byte QE report body (signature already verified) */
    const uint8_t *tee_tcb_svn;      /* TDX: 16 bytes of the TD report */
    const uint8_t *mr_signer_seam;   /* TDX: 48 */
    const uint8_t *seam_attributes;  /* TDX: 8 */
};

struct collateral_result {
    bool evaluated;            /* false: no TCB info given (and none required) */
    char status[40];           /* converged TCB status, e.g. "SWHardeningNeeded" */
    char platform_status[40];  /* the matching TCB info level's status */
    char qe_status[40];        /* "" when no QE identity was given */
    char module_status[40];    /* TDX module identity status; "" when not applicable */
    char tcb_date[32];         /* the matching level's tcbDate */
    long long tcb_eval_number; /* tcbEvaluationDataNumber of the TCB info */
    json_t
        *advisory_ids; /* owned array of strings (platform, QE and module levels, no duplicates) */
};

void collateral_result_free(struct collateral_result *r);

/* Verifies the collateral in `trust` (tcb_info, qe_identity, collateral_chain,
 * crls) at time `at` and evaluates the TCB of `in`. Without TCB info it
 * succeeds with evaluated=false unless trust->require_collateral, which also
 * requires the QE identity. `checks` receives the names of the checks that
 * passed. `out` is written only on success (free with collateral_result_free). */
int collateral_evaluate(const struct collateral_input *in, const struct attest_trust *trust,
                        time_t at, json_t *checks, struct collateral_result *out,
                        struct cairn_error *err);

/* Lower-level, for tests, the fuzzer and tools: parses a PCS document
 * `{"<key>": {...}, "signature": "<128 hex>"}` and finds the exact text of
 * the `key` member. On success *body and *body_len point into `text` (borrowed),
 * `sig` holds r||s and *obj is the parsed inner object (owned, json_decref). */
int collateral_doc_parse(const char *what, const char *text, size_t len, const char *key,
                         const char **body, size_t *body_len, uint8_t sig[64], json_t **obj,
                         struct cairn_error *err);

/* For tests and tools: TCB level matching (and, for TDX, the TDX module
 * identity) alone on a parsed tcbInfo object whose signature, dates and FMSPC
 * are NOT checked here. Writes the converged platform status and tcbDate. */
int collateral_match_levels(const struct collateral_input *in, json_t *tcbinfo, char status[40],
                            char tcb_date[32], struct cairn_error *err);

/* Intel's status convergence: a QE (or TDX module) status of OutOfDate or
 * Revoked degrades the platform status. Returns a static string. */
const char *collateral_converge(const char *platform, const char *other);

#endif
