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
 *   datakey_sealed_new  the interim provider: the DEK sealed with this
 *                       machine's seal provider (the file store's seal:
 *                       simulation key file, SGX ProductKey/UniqueKey) in
 *                       etcd at <prefix>datakey/<id hex>. Replicas that share
 *                       the seal (same seal key file in tests, same MRSIGNER
 *                       on one CPU) obtain it; others cannot.
 *   (key API)           replicas that hand the DEK to each other over
 *                       attested mutual TLS replace or wrap this provider
 *                       (the keyshare work): they implement these ops.
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

#define DATAKEY_ID_SIZE 16
#define DATAKEY_SIZE 32

struct datakey;
struct etcd;
struct seal;

struct datakey_ops {
    const char *name;   /* for logs: "sealed", "peer", ... */
    int (*obtain)(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], uint8_t out_dek[DATAKEY_SIZE],
                  struct cairn_error *err);
    int (*publish)(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t dek[DATAKEY_SIZE],
                   struct cairn_error *err);
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
                    struct cairn_error *err);
void datakey_installed(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t dek[DATAKEY_SIZE]);
void datakey_free(struct datakey *dk);   /* NULL ok */

/* The interim provider (above). `e` and `seal` are borrowed and must
 * outlive the provider; `prefix` is copied (ends with '/'). */
int datakey_sealed_new(struct etcd *e, const char *prefix, const struct seal *seal, struct datakey **out,
                       struct cairn_error *err);

#endif
