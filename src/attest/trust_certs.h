/* Internal: where each certificate and CRL of a supporting file goes.
 *
 * Certificates are sorted one by one: a self-signed certificate is a root, a
 * CA certificate an intermediate, anything else a leaf. Roots are trusted
 * only when the caller names them (as_root: --root, <dir>/<type>/roots/): a
 * self-signed certificate found among supporting files is accepted only if
 * it is one of the built-in roots (Intel SGX Root CA, AMD ARK
 * Milan/Genoa/Turin), which are trusted anyway; any other is refused, so a
 * peer cannot make its own evidence trusted by shipping a root with it.
 * Where certificates go, per evidence type:
 *   sgx/tdx: roots -> roots; leaf with the SGX PCK extension -> refused (the
 *            PCK chain comes from the quote); other leaves (the Intel SGX
 *            TCB Signing certificate) -> collateral; intermediates ->
 *            inters.
 *   snp:     roots -> roots; intermediates (ASK/ASVK) -> inters; leaves
 *            (VCEK/VLEK) -> leaves.
 *   tpm:     roots -> roots; intermediates -> inters; leaves (AK
 *            certificate) -> leaves.
 * The builder (trust_files.c) stages a file's certificates in a set of its
 * own and moves them into its committed set only when the whole file is
 * accepted. Bounded and pure; nothing logs. */
#ifndef CAIRN_ATTEST_TRUST_CERTS_H
#define CAIRN_ATTEST_TRUST_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "attest/attest.h"
#include "common/error.h"

/* Certificates and CRLs by role; the set owns every object in it. */
struct trust_cert_sets {
    STACK_OF(X509) *roots, *inters, *leaves, *collateral;
    STACK_OF(X509_CRL) *crls;
};

/* 0, or -1 when out of memory (then trust_cert_sets_free cleans up). */
int trust_cert_sets_init(struct trust_cert_sets *s);
/* Frees every object and the stacks; the struct may then be reused with
 * trust_cert_sets_init. */
void trust_cert_sets_free(struct trust_cert_sets *s);
/* Moves everything of `from` to the same role in `to` (certificates, then
 * CRLs). -1 when out of memory: then part may have moved. */
int trust_cert_sets_move(struct trust_cert_sets *from, struct trust_cert_sets *to);

/* Sorts the PEM or DER certificates of p[0..n) into `st` by the rules
 * above; `as_root` trusts self-signed ones as roots for `type`. *count
 * receives how many there were. On failure, what was sorted before the
 * failing certificate stays in `st` (the caller drops the staging set). */
int trust_certs_add(enum attest_type type, struct trust_cert_sets *st, const uint8_t *p, size_t n, bool as_root,
                    int *count, struct cairn_error *err);

/* Adds the PEM or DER CRL(s) of p[0..n) to st->crls; as trust_certs_add. */
int trust_crls_add(struct trust_cert_sets *st, const uint8_t *p, size_t n, int *count, struct cairn_error *err);

/* The certificates of `a` then `b` (either may be NULL) as PEM text
 * (malloc'd, caller frees), or NULL when out of memory. */
char *trust_certs_to_pem(STACK_OF(X509) *a, STACK_OF(X509) *b);

#endif
