/* Internal: the Coordinator's state store interface (DESIGN §9).
 *
 * A store maps a few fixed names ("sealed_data", "sealed_key", ...) to opaque
 * byte strings, each with a version that changes on every write. put() is a
 * compare-and-swap: it succeeds only when the stored version still equals
 * `expected_version` (0 = "must not exist"), else CAIRN_ERR_CONFLICT, so
 * several writers (threads now, replicas with the etcd backend later) cannot
 * lose each other's updates silently. watch() is optional (NULL for the file
 * backend: one process owns the directory).
 *
 * Backends: file (a directory; every put is an atomic replace with fsync of
 * the file and the directory, so after kill -9 at any moment a name holds its
 * old or its new bytes, never a mix) and memory (SealMode Disabled and tests).
 * All functions are thread-safe. */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define STORE_MAX_VALUE (64u * 1024 * 1024)  /* bytes of one value */
#define STORE_MAX_NAMES 16

struct store;

struct store_ops {
    const char *name;
    /* *out is malloc'd (free); CAIRN_ERR_NOT_FOUND when absent (version 0). */
    int (*get)(struct store *s, const char *name, uint8_t **out, size_t *out_len, uint64_t *out_version,
               struct cairn_error *err);
    int (*put)(struct store *s, const char *name, const uint8_t *data, size_t len, uint64_t expected_version,
               uint64_t *out_version, struct cairn_error *err);
    int (*del)(struct store *s, const char *name, struct cairn_error *err);
    uint64_t (*version)(struct store *s, const char *name);
    void (*free)(struct store *s);
    /* Atomically replaces `to` with `from` (which then no longer exists).
     * Optional: NULL falls back to get + put + del, which is not atomic but
     * leaves `to` holding the old or the new bytes at every point. */
    int (*rename)(struct store *s, const char *from, const char *to, struct cairn_error *err);
};

struct store {
    const struct store_ops *ops;
};

/* Opens (creating with mode 0700 if needed) a directory store. Stale
 * temporary files of interrupted writes are removed. *out: store_free. */
int store_file_open(const char *dir, struct store **out, struct cairn_error *err);
/* A store that keeps everything in memory. */
int store_memory_open(struct store **out);

/* Names: [A-Za-z0-9_.-]{1,64}, not starting with '.'. */
int store_get(struct store *s, const char *name, uint8_t **out, size_t *out_len, uint64_t *out_version,
              struct cairn_error *err);
int store_put(struct store *s, const char *name, const uint8_t *data, size_t len, uint64_t expected_version,
              uint64_t *out_version, struct cairn_error *err);
/* The current version of `name` without reading it (0 = absent), for a
 * following compare-and-swap put. */
uint64_t store_version(struct store *s, const char *name);
/* Replaces `to` with `from`'s bytes and removes `from`: one atomic step in
 * the file backend (rename + directory fsync). CAIRN_ERR_NOT_FOUND when
 * `from` does not exist. */
int store_rename(struct store *s, const char *from, const char *to, struct cairn_error *err);
/* Removes `name` (no error when absent). */
int store_del(struct store *s, const char *name, struct cairn_error *err);
void store_free(struct store *s);

#endif
