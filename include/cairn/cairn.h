/* libcairn: the C library behind the `cairn` CLI and `cairn-premain`.
 *
 * Include this umbrella header; link with `pkg-config --cflags --libs cairn`.
 *
 *   cairn/error.h   pinned negative error codes and cairn_strerror()
 *   cairn/client.h  the Coordinator's client REST API (v2 with v1 fallback) and
 *                   Coordinator verification (quote against an expected TEE identity)
 *   cairn/marble.h  activating a marble from code (what cairn-premain does)
 *
 * Conventions of every function in these headers:
 * - Return 0 on success or a negative enum cairn_err.
 * - Out-parameters are written only on success.
 * - Every pointer a function returns is OWNED by the caller and released with
 *   the free function named next to it (cairn_free() for plain strings and
 *   byte buffers). Input pointers are BORROWED for the duration of the call
 *   only, unless stated otherwise.
 * - Thread safety: distinct handles may be used from different threads; one
 *   handle must not be used concurrently. Call cairn_global_init() once, from
 *   the main thread, before any other thread starts (libcurl's rule).
 */
#ifndef CAIRN_CAIRN_H
#define CAIRN_CAIRN_H

#include "cairn/error.h"
#include "cairn/client.h"
#include "cairn/marble.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library version, e.g. "0.1.0". Static string. */
const char *cairn_version(void);

/* Initialises libcurl and OpenSSL once per process. Idempotent. Returns 0 or
 * CAIRN_ERR_INTERNAL. The other functions call it themselves if needed, but a
 * threaded program must call it first from its main thread. */
int cairn_global_init(void);

/* Frees memory returned by libcairn (strings, byte buffers). NULL is a no-op. */
void cairn_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
