/* Internal: how a Coordinator replica on etcd obtains the data key (DEK)
 * of the replicated state (DESIGN §9, docs/high-availability.md).
 *
 * The replicated state in etcd is sealed_data (src/store/seal.h) under a
 * 32-byte DEK; beside it etcd holds the DEK's id (DATAKEY_ID_SIZE random
 * bytes, public), never the DEK in clear. This interface is the one place
 * where a replica gets a DEK for an id, and where a replica that created a
 * DEK (first start, manifest set, rekey) makes it obtainable for the others.
 *
 * Providers:
 *   datakey_sealed_new  the DEK sealed with the seal provider of each replica
 *                       that holds it (the file store's seal: simulation key
 *                       file, SGX ProductKey/UniqueKey), in etcd at
 *                       <prefix>datakey/<id hex>/<seal identity hex>: one
 *                       slot per seal key (seal_identity), so a replica that
 *                       got the DEK from a peer keeps a copy of its own and
 *                       its next start needs no peer. Versions before kept
 *                       one copy at <prefix>datakey/<id hex> (the creator's
 *                       seal); it is still read.
 *   (key API)           replicas hand the DEK to each other over attested
 *                       mutual TLS (src/keyshare) when no copy opens here;
 *                       src/core/ha.c asks them, then publishes a copy.
 *
 * Entries of ids the state no longer names are deleted by the commit that
 * makes the state name a new id (datakey_retire_ops in that transaction,
 * which compares the state's revision, so a concurrent commit of another id
 * fails instead of losing its key), and a copy published for a commit that
 * definitely failed is withdrawn (datakey_forget).
 *
 * Order of calls by src/core/ha.c: publish() before the state sealed under
 * the new DEK is committed (so no replica ever sees a state it cannot open
 * for lack of a published key); installed() after a DEK is in use locally
 * (created or obtained), so a key server can answer for it; obtain() when a
 * state names an id this replica has no key for (start, a peer's manifest
 * set). obtain() fails with CAIRN_ERR_NOT_FOUND when no source has the key:
 * the replica then enters recovery (state 1), as a single Coordinator that
 * cannot unseal does.
 *
 * Ownership: the provider is owned by the core (datakey_free); keys passed
 * in are borrowed for the call and must be copied (and later wiped) when
 * kept. All ops may be called from several threads. */
#ifndef CAIRN_STORE_DATAKEY_H
#define CAIRN_STORE_DATAKEY_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "store/etcd.h"

#define DATAKEY_ID_SIZE 16
#define DATAKEY_SIZE 32

#define DATAKEY_KEY_MAX 320   /* bytes of an entry's etcd key (prefix <= 200) */

struct datakey;
struct seal;

/* Where publish() put the copy and at which revision: a commit that names
 * the id compares it, so a copy deleted meanwhile fails the commit instead
 * of leaving a state no key opens. key "" = nothing to compare. */
struct datakey_guard {
    char key[DATAKEY_KEY_MAX];
    int64_t rev;
};

/* Delete operations for a commit's transaction (datakey_retire_ops). */
struct datakey_retire {
    char from[2][DATAKEY_KEY_MAX], to[2][DATAKEY_KEY_MAX];
    char list[DATAKEY_KEY_MAX];   /* every entry: listed (keys only) before the deletes, for the log */
    size_t n;                     /* ops used in `ops` (0..2) */
};

struct datakey_ops {
    const char *name;   /* for logs: "sealed", "peer", ... */
    int (*obtain)(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], uint8_t out_dek[DATAKEY_SIZE],
                  struct cairn_error *err);
    /* `also` (may be NULL): one more compare the write depends on (a copy
     * for the state in use: that state is still current); CAIRN_ERR_CONFLICT
     * when it fails. `g` (may be NULL) receives the guard. */
    int (*publish)(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t dek[DATAKEY_SIZE],
                   const struct etcd_cmp *also, struct datakey_guard *g, struct cairn_error *err);
    /* optional: the ops that delete every entry but those of `keep`; the
     * caller puts ops[0..n) into the transaction that commits the state
     * naming `keep` (and, before them, one keys-only prefix GET of r->list,
     * so it learns what was deleted). 0 = none. */
    size_t (*retire_ops)(struct datakey *dk, const uint8_t keep[DATAKEY_ID_SIZE], struct datakey_retire *r,
                         struct etcd_op ops[2]);
    /* optional: deletes this replica's entries of `id`, published for a
     * commit that definitely did not happen (no state names the id). */
    int (*forget)(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], struct cairn_error *err);
    /* optional (NULL): the DEK now in use by this replica */
    void (*installed)(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t dek[DATAKEY_SIZE]);
    void (*free)(struct datakey *dk);
};

/* Providers embed this as their first member. */
struct datakey {
    const struct datakey_ops *ops;
};

int datakey_obtain(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], uint8_t out_dek[DATAKEY_SIZE],
                   struct cairn_error *err);
int datakey_publish(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t dek[DATAKEY_SIZE],
                    const struct etcd_cmp *also, struct datakey_guard *g, struct cairn_error *err);
size_t datakey_retire_ops(struct datakey *dk, const uint8_t keep[DATAKEY_ID_SIZE], struct datakey_retire *r,
                          struct etcd_op ops[2]);
int datakey_forget(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], struct cairn_error *err);
void datakey_installed(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t dek[DATAKEY_SIZE]);
void datakey_free(struct datakey *dk);   /* NULL ok */

/* Opens one sealed copy (an etcd value: untrusted) with `seal`: at most
 * DATAKEY_SEALED_MAX bytes, a CSK2 blob this seal key authenticates, bound
 * to `id`. 0 with the DEK; CAIRN_ERR_NOT_FOUND when it is no copy this seal
 * opens (empty, too large, malformed, another seal's); CAIRN_ERR_VERIFY when
 * it opens but belongs to another id. Pure (fuzzed: fuzz_http_sealed). */
#define DATAKEY_SEALED_MAX 512   /* a CSK2 blob is 83 bytes */
int datakey_open_blob(const struct seal *seal, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t *blob, size_t len,
                      uint8_t out_dek[DATAKEY_SIZE], struct cairn_error *err);

/* The sealed provider (above). `e` and `seal` are borrowed and must
 * outlive the provider; `prefix` is copied (ends with '/'). */
int datakey_sealed_new(struct etcd *e, const char *prefix, const struct seal *seal, struct datakey **out,
                       struct cairn_error *err);

#endif
