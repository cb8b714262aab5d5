/* Internal: hex and base64 (RFC 4648 standard and URL alphabets).
 *
 * Decoders are strict: they reject bad characters, odd hex lengths and, for
 * base64, missing or misplaced padding (Go's StdEncoding/URLEncoding rules).
 * Outputs are malloc'd, NUL-terminated (not counted in the length), owned by
 * the caller (free()). */
#ifndef CAIRN_COMMON_ENCODING_H
#define CAIRN_COMMON_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lowercase hex; returns NULL on allocation failure. */
char *cairn_hex_encode(const void *p, size_t n);
/* The value of one hex digit (either case), or -1. */
int cairn_hex_digit(char c);
/* Accepts upper and lower case. */
int cairn_hex_decode(const char *s, size_t slen, uint8_t **out, size_t *out_len);
/* Decodes into a fixed-size buffer; fails unless exactly `n` bytes result. */
int cairn_hex_decode_exact(const char *s, uint8_t *out, size_t n);

char *cairn_base64_encode(const void *p, size_t n);
int cairn_base64_decode(const char *s, size_t slen, uint8_t **out, size_t *out_len);
char *cairn_base64url_encode(const void *p, size_t n); /* padded */
/* URL alphabet; padding optional (accepted when correct). */
int cairn_base64url_decode(const char *s, size_t slen, uint8_t **out, size_t *out_len);

/* Go encoding/json's match of a JSON object key against a struct field name
 * (bytes.EqualFold): ASCII letters case-insensitively, and U+212A KELVIN
 * SIGN / U+017F LATIN SMALL LETTER LONG S in the key fold to k / s (the only
 * non-ASCII members of an ASCII letter's Unicode fold orbit). `field` is the
 * Go name (ASCII); `key` need not be NUL-terminated. */
bool cairn_go_key_equal(const char *key, size_t key_len, const char *field);

#endif
