/* Internal to src/attest: the encodings supporting files arrive in, shared
 * by the classifier (trust_classify.c) and the builder (trust_files.c,
 * trust_certs.c): PEM blocks, exact DER certificates and CRLs, and the
 * leading whitespace before a JSON document.
 *
 * Everything here is bounded and pure; nothing logs. OpenSSL's error queue
 * is cleared before returning, so a failed parse leaves nothing behind. */
#ifndef CAIRN_ATTEST_TRUST_ENCODING_H
#define CAIRN_ATTEST_TRUST_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/error.h"

#define TRUST_PEM_BLOCKS_MAX 64 /* PEM blocks in one file */

/* One PEM block: label and DER body, both owned (OPENSSL_free). */
struct trust_pem_block {
    char *label;
    uint8_t *der;
    long len;
};

/* Whether the bytes contain a "-----BEGIN " line. */
bool trust_has_pem(const uint8_t *p, size_t n);

/* The number of leading blanks (space, tab, CR, LF). */
size_t trust_skip_ws(const uint8_t *p, size_t n);

/* Every PEM block of the text into out[TRUST_PEM_BLOCKS_MAX]; text outside
 * blocks is ignored as PEM allows, but a "-----BEGIN" that does not give a
 * block is an error. `what` prefixes messages. On success the caller frees
 * the blocks with trust_pem_blocks_free(out, *n_out); on failure nothing is
 * left to free. */
int trust_pem_blocks(const char *what, const uint8_t *p, size_t n, struct trust_pem_block *out, size_t *n_out,
                     struct cairn_error *err);
void trust_pem_blocks_free(struct trust_pem_block *b, size_t n);

/* A DER certificate / CRL that spans exactly the n bytes (new object, caller
 * frees), or NULL. */
X509 *trust_der_cert(const uint8_t *p, size_t n);
X509_CRL *trust_der_crl(const uint8_t *p, size_t n);

#endif
