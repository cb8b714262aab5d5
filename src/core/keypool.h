/* Internal: a bounded pool of pre-generated P-384 keys for marble leaves.
 *
 * A burst of activations (a deployment scaling from 0 to 100 replicas) then
 * pays only for signing. One background thread refills the pool, but only
 * while the Coordinator is idle (no key taken for `idle_ms`), so refilling
 * never competes with a burst for the CPU. With capacity 0 there is no thread
 * and every take generates a key. Thread-safe. */
#ifndef CAIRN_CORE_KEYPOOL_H
#define CAIRN_CORE_KEYPOOL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct keypool;

/* NULL on failure. The pool starts filling after `idle_ms` without takes. */
struct keypool *keypool_new(size_t capacity, unsigned idle_ms);
/* Stops the thread and frees the keys. NULL is fine. */
void keypool_free(struct keypool *kp);
/* A new P-384 key (owned by the caller): from the pool, or generated now
 * when the pool is empty. NULL only when generation fails. */
EVP_PKEY *keypool_take(struct keypool *kp);
/* Counters: keys served from the pool, keys generated on demand, keys pooled now. */
void keypool_stats(struct keypool *kp, uint64_t *hits, uint64_t *misses, size_t *available);
/* Blocks until the pool is full or `timeout_ms` passed (tests, benchmarks). */
void keypool_wait_full(struct keypool *kp, unsigned timeout_ms);

#endif
