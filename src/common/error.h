/* Internal: error codes plus a detailed, human-readable error message.
 *
 * Most internal APIs take an optional `struct cairn_error *` (may be NULL) and
 * fill it with the code and one line that names the field and the rule that
 * failed, e.g. `marble "backend": package "x" not found`. */
#ifndef CAIRN_COMMON_ERROR_H
#define CAIRN_COMMON_ERROR_H

#include <stddef.h>
#include "cairn/error.h"

#define CAIRN_ERROR_MSG_MAX 512

struct cairn_error {
    int code;                       /* one of enum cairn_err, 0 if none */
    char msg[CAIRN_ERROR_MSG_MAX];  /* NUL-terminated, "" if none */
};

/* Records `code` and a printf-style message in `err` (if not NULL) and
 * returns `code`, so callers can write `return cairn_errf(err, ...)`.
 * The first error recorded wins only if the caller checks; this overwrites. */
int cairn_errf(struct cairn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in `err` with "prefix: " (printf-style).
 * Returns err->code (or CAIRN_ERR_INTERNAL when err is NULL or empty). */
int cairn_err_prefix(struct cairn_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Resets to "no error". */
void cairn_error_clear(struct cairn_error *err);

/* The message if one was set, else cairn_strerror(code). Never NULL. */
const char *cairn_error_msg(const struct cairn_error *err);

#endif
