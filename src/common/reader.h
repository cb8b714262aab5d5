/* Internal: bounded cursor over untrusted bytes.
 *
 * The reader never reads past `len`. Every getter either consumes exactly the
 * requested bytes and returns 0, or consumes nothing and returns
 * CAIRN_ERR_TRUNCATED. Length checks subtract instead of add, so they cannot
 * overflow. The reader borrows the bytes; it allocates nothing. */
#ifndef CAIRN_COMMON_READER_H
#define CAIRN_COMMON_READER_H

#include <stddef.h>
#include <stdint.h>

struct cairn_reader {
    const uint8_t *p;  /* borrowed */
    size_t len;
    size_t off;
};

void cairn_reader_init(struct cairn_reader *r, const void *p, size_t len);
size_t cairn_reader_remaining(const struct cairn_reader *r);
int cairn_reader_u8(struct cairn_reader *r, uint8_t *out);
int cairn_reader_u16le(struct cairn_reader *r, uint16_t *out);
int cairn_reader_u32le(struct cairn_reader *r, uint32_t *out);
int cairn_reader_u64le(struct cairn_reader *r, uint64_t *out);
int cairn_reader_u16be(struct cairn_reader *r, uint16_t *out);
int cairn_reader_u32be(struct cairn_reader *r, uint32_t *out);
int cairn_reader_u64be(struct cairn_reader *r, uint64_t *out);
/* Copies n bytes into out. */
int cairn_reader_copy(struct cairn_reader *r, void *out, size_t n);
/* Points *out at the next n bytes (borrowed from the input) and consumes them. */
int cairn_reader_bytes(struct cairn_reader *r, size_t n, const uint8_t **out);
int cairn_reader_skip(struct cairn_reader *r, size_t n);
/* Reads a u16be length then that many bytes (TPM2B style). */
int cairn_reader_tpm2b(struct cairn_reader *r, const uint8_t **out, uint16_t *out_len);

#endif
