/* Internal: the JOSE pieces of the KBS protocol (docs/confidential-containers.md),
 * on top of libjose (Debian libjose-dev; docs/crypto.md says why not cjose).
 *
 * - cc_jwk_tee_parse(): the guest's ephemeral key ("tee-pubkey", RFC 7517) as
 *   Trustee's kbs-types accepts it: {"kty":"EC","crv","alg","x","y"} or
 *   {"kty":"RSA","alg","n","e"}; other members are dropped, as kbs-types
 *   drops them, so the canonical object is what both sides hash.
 * - cc_jwe_encrypt(): a flattened JWE (RFC 7516 §7.2.2) to such a key, with
 *   every header parameter (alg, enc and, for ECDH, epk) in the protected
 *   header and no "aad", serialised with sorted keys: byte for byte what
 *   Trustee's KBS sends and what guest-components re-serialises to compute
 *   the AAD.
 * - cc_jwt_sign() / cc_jwt_verify(): compact JWS (ES256) for the attestation
 *   token.
 * Parsers take untrusted input, are bounded and never log. */
#ifndef CAIRN_CRYPTO_JOSE_H
#define CAIRN_CRYPTO_JOSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/error.h"

#define CC_JWT_MAX_SIZE (64 * 1024)      /* bytes of a compact token we accept */
#define CC_JWK_MAX_MEMBER 2048           /* bytes of one JWK string member (RSA-8192 n is 1366) */

/* Validates the untrusted JWK `j` and returns its canonical form (new
 * reference: only the members listed above, values as received). Accepted:
 * EC P-256/P-521 with alg "ECDH-ES+A256KW" (the point must be on the curve),
 * RSA 2048..8192 bits with alg "RSA-OAEP-256" or "RSA1_5" (Trustee's list).
 * Errors: CAIRN_ERR_INVALID (shape, encoding, point), CAIRN_ERR_UNSUPPORTED. */
int cc_jwk_tee_parse(const json_t *j, json_t **out, struct cairn_error *err);

/* Encrypts `pt` to the canonical TEE key `jwk` (from cc_jwk_tee_parse) with a
 * fresh A256GCM content key. *out_json: malloc'd NUL-terminated flattened JWE
 * {"ciphertext","encrypted_key","iv","protected","tag"} (free()). */
int cc_jwe_encrypt(const json_t *jwk, const uint8_t *pt, size_t pt_len, char **out_json, struct cairn_error *err);

/* Signs `claims` as a compact JWT with the P-256 `key`: header
 * {"alg":"ES256","typ":"JWT","x5c":x5c} (x5c: array of base64 DER strings,
 * borrowed; NULL = none). *out: malloc'd (free()). */
int cc_jwt_sign(EVP_PKEY *key, const json_t *x5c, const json_t *claims, char **out, struct cairn_error *err);

/* Splits an untrusted compact JWT (at most CC_JWT_MAX_SIZE bytes) and returns
 * its header and claims (new references) without verifying anything. The
 * header must be a JSON object with "alg":"ES256". */
int cc_jwt_decode(const char *jwt, size_t len, json_t **out_header, json_t **out_claims, struct cairn_error *err);

/* Verifies the ES256 signature of `jwt` with `pub` (P-256 public key).
 * CAIRN_ERR_VERIFY on a bad signature. */
int cc_jwt_verify_sig(const char *jwt, size_t len, EVP_PKEY *pub, struct cairn_error *err);

/* The public JWK of an EC/RSA key (new reference) or NULL. */
json_t *cc_jwk_public(EVP_PKEY *key);

#endif
