/* Internal: growable byte buffer with a hard maximum size.
 *
 * The buffer owns `data`. It is always NUL-terminated after `len` bytes (the NUL
 * is not counted), so text can be built in it. Appending beyond `max` fails with
 * CAIRN_ERR_TOO_LARGE and leaves the contents unchanged. Once an append fails,
 * later appends are still possible; callers that build in several steps check
 * each result or `failed`. */
#ifndef CAIRN_COMMON_BUF_H
#define CAIRN_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cairn_buf {
    uint8_t *data;  /* owned; NULL until the first append */
    size_t len;     /* bytes used */
    size_t cap;     /* bytes allocated (excluding the NUL slot) */
    size_t max;     /* hard cap on len */
    bool failed;    /* sticky: some append failed */
};

/* Initialises an empty buffer that may grow to `max` bytes. No allocation. */
void cairn_buf_init(struct cairn_buf *b, size_t max);
int cairn_buf_reserve(struct cairn_buf *b, size_t extra);
int cairn_buf_append(struct cairn_buf *b, const void *p, size_t n);
int cairn_buf_append_str(struct cairn_buf *b, const char *s);
int cairn_buf_appendf(struct cairn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands ownership of the data to the caller (free()) and resets the buffer.
 * Returns a valid empty string if nothing was appended. NULL on allocation failure. */
uint8_t *cairn_buf_take(struct cairn_buf *b, size_t *out_len);
/* Frees the data. */
void cairn_buf_free(struct cairn_buf *b);
/* Wipes then frees: for buffers that held secrets. */
void cairn_buf_free_secret(struct cairn_buf *b);

#endif
