/* Internal: Intel collateral documents (TCB info, QE identity) gathered
 * from supporting files and joined into the one text per kind that the
 * collateral verifier reads (collateral.h).
 *
 * Several TCB info / QE identity files (or JSON arrays of such documents)
 * are joined into one document set; the collateral verifier uses the
 * element that matches the quote's kind (SGX/TDX) and FMSPC. Document text is
 * never re-serialised: the signature covers its exact bytes. A dcap-qvl
 * QuoteCollateralV3 bundle is split here into both documents (assembled
 * around the exact signed strings), its certificate chains and its CRLs.
 * Bounded and pure; nothing logs. */
#ifndef CAIRN_ATTEST_TRUST_DOCS_H
#define CAIRN_ATTEST_TRUST_DOCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/attest.h"
#include "attest/trust_certs.h"
#include "attest/trust_classify.h"
#include "common/error.h"

/* The documents of one kind: each entry is one PCS document, or the inside of
 * a document set (the text between its brackets). Owns every text. */
struct trust_docs {
    char *text[TRUST_DOCS_MAX];
    size_t len[TRUST_DOCS_MAX];
    bool is_set[TRUST_DOCS_MAX];
    size_t n;
    char *joined;          /* built by trust_docs_join */
    size_t joined_len;
};

void trust_docs_free(struct trust_docs *d);

/* Takes ownership of `text` (a document, or a set whose brackets are
 * stripped here), which must be NUL-terminated at `len` with no NUL before.
 * CAIRN_ERR_TOO_LARGE (and `text` freed) past TRUST_DOCS_MAX entries. */
int trust_docs_add(struct trust_docs *d, char *text, size_t len, struct cairn_error *err);

/* d->joined: one document as is, else "[" entries joined by "," "]"
 * (NUL-terminated); NULL when there is no entry. */
int trust_docs_join(struct trust_docs *d, struct cairn_error *err);

/* A PCS document for `key` ("tcbInfo", "enclaveIdentity") must parse and
 * carry a signature; the collateral verifier checks the rest. */
int trust_doc_check(const char *what, const uint8_t *p, size_t n, const char *key, struct cairn_error *err);

/* Splits a dcap-qvl bundle: *tcb and *qe receive the two documents
 * (malloc'd, caller frees), the issuer chains are sorted into `st` with
 * trust_certs_add for `type` and the CRLs added with trust_crls_add;
 * *count receives the number of certificates. On failure *tcb and *qe are
 * untouched and `st` may hold part of the bundle (the caller drops it). */
int trust_qvl_bundle_split(enum attest_type type, struct trust_cert_sets *st, const uint8_t *p, size_t n, char **tcb,
                           size_t *tcb_len, char **qe, size_t *qe_len, int *count, struct cairn_error *err);

#endif
