/* Internal to src/crypto: helpers shared by the crypto source files only. */
#ifndef CAIRN_CRYPTO_INTERNAL_H
#define CAIRN_CRYPTO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/error.h"
#include "crypto/crypto.h"

/* Hard caps on untrusted encoded inputs. A certificate, key or CSR never comes
 * close to 1 MiB; CRLs of large CAs can be a few MiB. */
#define CC_MAX_DER (1u << 20)
#define CC_MAX_CRL (16u << 20)
#define CC_MAX_PEM_CERTS 256

/* Records `code` with "<message>: <last OpenSSL reason>" and empties the
 * OpenSSL error queue so stale errors never leak into unrelated callers. */
int cc__ossl_errf(struct cairn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Empties the OpenSSL error queue and returns `code`. */
int cc__ossl_clear(int code);

/* Cached, fetched message digests ("SHA1", "SHA256", "SHA384", "SHA512");
 * other names are fetched on every call. The caller releases the result with
 * cc__md_release(), which is a no-op for cached ones. NULL when unknown. */
const EVP_MD *cc__md_get(const char *name);
void cc__md_release(const EVP_MD *md);

/* The key's kind, or -1 if it is neither an EC key on a supported curve, Ed25519
 * nor RSA. For EC keys *field_bytes receives the coordinate size. */
int cc__key_kind(const EVP_PKEY *key, size_t *field_bytes);
/* The digest name a certificate or CSR signed by `key` uses (NULL for Ed25519).
 * Returns 0 or CAIRN_ERR_UNSUPPORTED. */
int cc__sig_md_for_key(const EVP_PKEY *key, const char **md);

/* Strict DER length check: `len` must be > 0 and at most `max`. */
int cc__check_input(const void *p, size_t len, size_t max, const char *what, struct cairn_error *err);

/* A read-only memory BIO over pem[0..len) (borrowed), or NULL. */
BIO *cc__pem_bio(const char *pem, size_t len);
/* Reads the next PEM block named one of `names` from `bio`, skipping blocks with
 * other names and text between blocks. The decoded body is OPENSSL_malloc'd
 * (release with OPENSSL_free), or with `secure` (private keys) allocated so that
 * every intermediate buffer is wiped (release with OPENSSL_secure_clear_free). Blocks with headers
 * (encrypted PEM) are rejected. Returns CAIRN_ERR_NOT_FOUND at the end of input
 * and CAIRN_ERR_INVALID for a malformed block. `found` (may be NULL) receives
 * the index into `names`. */
int cc__pem_next(BIO *bio, const char *const *names, size_t n_names, int secure, uint8_t **der, size_t *der_len,
                 size_t *found, struct cairn_error *err);

/* True when the buffer starts (after ASCII whitespace) with "-----BEGIN ". */
int cc__looks_like_pem(const uint8_t *p, size_t len);

/* Builds GeneralNames (DNS names, then textual IPv4/IPv6 addresses as 4/16
 * raw bytes); *out is owned by the caller (GENERAL_NAMES_free). */
int cc__build_sans(const char *const *dns, size_t n_dns, const char *const *ips, size_t n_ips,
                   GENERAL_NAMES **out, struct cairn_error *err);

/* malloc'd copy of an i2d encoding; NULL output on failure. */
int cc__bio_to_string(BIO *bio, char **out, size_t *out_len, int secret);

/* An adapter around one OpenSSL i2d_<TYPE>() taking the object as const void *
 * (calling i2d_X509 through another function type would be undefined). */
typedef int (*cc__i2d_fn)(const void *obj, unsigned char **pp);
/* The "i2d into a malloc'd buffer" step of every DER encoder: sizes with
 * i2d(obj, NULL), encodes into a malloc'd buffer and checks the size. On
 * success *out is owned by the caller (free(); cc_free_secret() when `secret`);
 * on failure nothing is written and a half-written secret buffer is wiped.
 * Returns 0, CAIRN_ERR_NOMEM, or CAIRN_ERR_CRYPTO (OpenSSL's queue emptied). */
int cc__i2d_malloc(const void *obj, cc__i2d_fn i2d, int secret, uint8_t **out, size_t *out_len);

#endif
