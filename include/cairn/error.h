/* Cairn error codes, shared by libcairn and every internal module.
 *
 * Every function that can fail returns 0 on success or one of these negative
 * codes. The numeric values are pinned: they appear in logs and in the C API,
 * so never renumber, only append. */
#ifndef CAIRN_ERROR_H
#define CAIRN_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum cairn_err {
    CAIRN_OK = 0,
    CAIRN_ERR_NOMEM = -1,         /* allocation failed */
    CAIRN_ERR_INVALID = -2,       /* malformed input or argument */
    CAIRN_ERR_TRUNCATED = -3,     /* input ends before a field it declares */
    CAIRN_ERR_TOO_LARGE = -4,     /* input or buffer exceeds its hard cap */
    CAIRN_ERR_IO = -5,            /* file system or socket I/O failed */
    CAIRN_ERR_CRYPTO = -6,        /* a cryptographic primitive failed */
    CAIRN_ERR_VERIFY = -7,        /* a signature, MAC or binding did not verify */
    CAIRN_ERR_NOT_FOUND = -8,     /* a named object does not exist */
    CAIRN_ERR_STATE = -9,         /* not allowed in the current state */
    CAIRN_ERR_PERMISSION = -10,   /* the caller lacks a permission */
    CAIRN_ERR_EXISTS = -11,       /* the object already exists */
    CAIRN_ERR_UNSUPPORTED = -12,  /* a valid but unsupported variant (version, algorithm) */
    CAIRN_ERR_EXPIRED = -13,      /* a certificate or collateral is outside its validity */
    CAIRN_ERR_REVOKED = -14,      /* a certificate is on a CRL */
    CAIRN_ERR_POLICY = -15,       /* evidence verified but does not satisfy the policy */
    CAIRN_ERR_NETWORK = -16,      /* could not reach the peer */
    CAIRN_ERR_TLS = -17,          /* TLS handshake or peer authentication failed */
    CAIRN_ERR_PROTOCOL = -18,     /* the peer answered something unexpected */
    CAIRN_ERR_TIMEOUT = -19,      /* an operation ran out of time */
    CAIRN_ERR_CONFLICT = -20,     /* a concurrent change won (compare-and-swap lost) */
    CAIRN_ERR_INTERNAL = -21,     /* a bug: an invariant was violated */
    CAIRN_ERR_TRAILING = -22,     /* unexpected bytes after the end of a structure */
    CAIRN_ERR_UNAUTHENTICATED = -23, /* no or unknown client identity */
};

/* Static, never NULL, for any int (unknown codes give "unknown error"). */
const char *cairn_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
