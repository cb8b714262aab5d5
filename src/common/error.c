#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cairn_strerror(int err)
{
    switch (err) {
    case CAIRN_OK: return "success";
    case CAIRN_ERR_NOMEM: return "out of memory";
    case CAIRN_ERR_INVALID: return "invalid input";
    case CAIRN_ERR_TRUNCATED: return "input truncated";
    case CAIRN_ERR_TOO_LARGE: return "input too large";
    case CAIRN_ERR_IO: return "I/O error";
    case CAIRN_ERR_CRYPTO: return "cryptographic operation failed";
    case CAIRN_ERR_VERIFY: return "verification failed";
    case CAIRN_ERR_NOT_FOUND: return "not found";
    case CAIRN_ERR_STATE: return "not allowed in the current state";
    case CAIRN_ERR_PERMISSION: return "permission denied";
    case CAIRN_ERR_EXISTS: return "already exists";
    case CAIRN_ERR_UNSUPPORTED: return "unsupported";
    case CAIRN_ERR_EXPIRED: return "expired or not yet valid";
    case CAIRN_ERR_REVOKED: return "revoked";
    case CAIRN_ERR_POLICY: return "policy not satisfied";
    case CAIRN_ERR_NETWORK: return "network error";
    case CAIRN_ERR_TLS: return "TLS error";
    case CAIRN_ERR_PROTOCOL: return "protocol error";
    case CAIRN_ERR_TIMEOUT: return "timed out";
    case CAIRN_ERR_CONFLICT: return "conflicting concurrent change";
    case CAIRN_ERR_INTERNAL: return "internal error";
    case CAIRN_ERR_TRAILING: return "unexpected trailing data";
    case CAIRN_ERR_UNAUTHENTICATED: return "unauthenticated";
    default: return "unknown error";
    }
}

/* Messages quote untrusted input (JSON keys, request fields): a control byte
 * in it would break the one-line contract of error.h and the clients and
 * logs that show the message, so each becomes '?'. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

int cairn_errf(struct cairn_error *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        one_line(err->msg);
        err->code = code;
    }
    return code;
}

int cairn_err_prefix(struct cairn_error *err, const char *fmt, ...)
{
    if (err == NULL)
        return CAIRN_ERR_INTERNAL;
    char prefix[CAIRN_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    char old[CAIRN_ERROR_MSG_MAX];
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix,
             old[0] ? old : cairn_strerror(err->code));
    one_line(err->msg);
    if (err->code == 0)
        err->code = CAIRN_ERR_INTERNAL;
    return err->code;
}

void cairn_error_clear(struct cairn_error *err)
{
    if (err != NULL) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *cairn_error_msg(const struct cairn_error *err)
{
    if (err == NULL)
        return "unknown error";
    return err->msg[0] ? err->msg : cairn_strerror(err->code);
}
