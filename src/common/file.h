/* Internal: whole-file reads with a cap, and crash-safe atomic replacement. */
#ifndef CAIRN_COMMON_FILE_H
#define CAIRN_COMMON_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads the whole file into a malloc'd, NUL-terminated buffer (caller frees).
 * Fails with CAIRN_ERR_TOO_LARGE if it holds more than `max` bytes,
 * CAIRN_ERR_NOT_FOUND if it does not exist, CAIRN_ERR_IO otherwise. */
int cairn_file_read(const char *path, size_t max, uint8_t **out, size_t *out_len);

/* Replaces `path` atomically: writes a temporary file in the same directory
 * with `mode`, fsyncs it, renames it over `path`, and fsyncs the directory.
 * After a crash at any moment the path holds either the old or the new
 * contents, never a mix. */
int cairn_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* mkdir -p with `mode` for every directory created. */
int cairn_mkdirs(const char *path, mode_t mode);

#endif
