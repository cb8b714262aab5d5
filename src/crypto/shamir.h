/* Internal: secret splitting for recovery keys (MarbleRun multi-party recovery).
 *
 * Shamir: threshold sharing over GF(2^8) with the AES polynomial
 * x^8 + x^4 + x^3 + x + 1 (0x11b), byte-compatible with hashicorp/shamir as
 * MarbleRun uses it: every share is the y-values for each secret byte followed
 * by one byte holding the share's x coordinate (distinct, random, 1..255), so a
 * share is secret_len + 1 bytes. Any `threshold` shares give the secret back;
 * fewer give an unrelated value (combining cannot tell, exactly like
 * hashicorp's Combine: callers check the result, e.g. by decrypting with it).
 *
 * XOR: n shares whose XOR is the secret (n-1 random, the last makes it fit);
 * all n are needed.
 *
 * Arithmetic is constant time (no secret-dependent branches or table indices).
 * All share and secret buffers are secret: release with cc_free_secret(). */
#ifndef CAIRN_CRYPTO_SHAMIR_H
#define CAIRN_CRYPTO_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#define CC_SHAMIR_MAX_PARTS 255
#define CC_SHAMIR_MAX_SECRET (1u << 20) /* bytes */

/* Splits secret[0..len) (1..CC_SHAMIR_MAX_SECRET bytes) into `parts` shares
 * (threshold <= parts <= 255, 2 <= threshold). On success *shares is one
 * malloc'd buffer of parts * (*share_len) bytes, share i at
 * *shares + i * (*share_len), and *share_len = len + 1. */
int cc_shamir_split(const uint8_t *secret, size_t len, unsigned parts, unsigned threshold, uint8_t **shares,
                    size_t *share_len);

/* Recombines n (2..255) shares of share_len (>= 2) bytes each. Fails with
 * CAIRN_ERR_INVALID for fewer than 2 shares, unequal or short lengths, an x
 * coordinate of 0 or two shares with the same x. *secret (share_len - 1 bytes,
 * malloc'd) is owned by the caller. */
int cc_shamir_combine(const uint8_t *const *shares, size_t n, size_t share_len, uint8_t **secret,
                      size_t *secret_len);

/* Splits secret[0..len) into n (2..255) shares of len bytes each, in one
 * malloc'd buffer of n * len bytes (share i at *shares + i * len). */
int cc_xor_split(const uint8_t *secret, size_t len, unsigned n, uint8_t **shares);

/* XORs n (>= 1) shares of len bytes each into a new malloc'd *secret. */
int cc_xor_combine(const uint8_t *const *shares, size_t n, size_t len, uint8_t **secret);

/* GF(2^8) multiply and inverse (inverse of 0 is 0), exposed for tests. */
uint8_t cc_gf256_mul(uint8_t a, uint8_t b);
uint8_t cc_gf256_inv(uint8_t a);

#endif
