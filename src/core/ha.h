/* Internal to src/core: the Coordinator's state replicated on etcd
 * (issue 9; docs/high-availability.md has the design and the argument).
 *
 * Layout under the key prefix P (default "/cairn/"):
 *   P state            "CHA2" || key id (16) || u64be generation || sealed_data
 *                      (src/store/seal.h) of the state document under the DEK:
 *                      manifest, PKI, secrets, governance, update log,
 *                      "counterKey" (32 random bytes, new with every manifest set
 *                      or recovery) and "generation" (+1 per state change; the
 *                      clear copy must equal it). "CHA1" (earlier versions): no
 *                      generation field, generation 0.
 *   P act/<hex type>/<replica id>
 *                      one replica's part of the activation counter of a marble
 *                      type with MaxActivations (the count is the sum of the
 *                      parts): AES-256-GCM under counterKey, AAD =
 *                      "cairn-ctr-v1" || key
 *   P mono/<hex id>    a monotonic counter, the same sealing
 *   P datakey/<hex id>/<hex seal identity>
 *                      the DEK sealed with one replica's seal key, one entry per
 *                      seal key that holds it (store/datakey.h); entries of ids
 *                      P state no longer names go with the commit of a new id
 *   P replicas/<id>    the registry (store/registry.h), under each replica's lease
 *
 * Writers: every state change is one etcd transaction comparing the
 * revision its snapshot was read at (mod_revision of P state; for a
 * counter part, the writer's own part exactly and the peers' parts bounded
 * by their versions, see run_batch in ha.c); a conflict refuses
 * (CAIRN_ERR_CONFLICT) or, for counters, re-reads and re-applies.
 * Activations of one replica are group-committed: concurrent ones share one
 * transaction (at most 64 of one type: peers' bounds rely on it). Every
 * replica watches P and applies a peer's counter in microseconds (decrypt
 * one value) and a peer's state change by reloading the document.
 *
 * Rollback (store/hwm.h; docs/high-availability.md "Rollback of etcd"): each
 * replica remembers the newest state generation and counter values it
 * accepted (in memory, and sealed in its seal directory) and refuses older
 * ones: not applied, logged, counted, and writes/activations answer 503
 * (CAIRN_ERR_NETWORK) until etcd shows a value at least as new.
 *
 * Concurrency: ha functions take the core's locks as documented in
 * core_internal.h (admin -> persist -> lock); the group-commit queue has its
 * own leaf mutex. */
#ifndef CAIRN_CORE_HA_H
#define CAIRN_CORE_HA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/error.h"

struct core;
struct core_snap;

#define HA_DEFAULT_PREFIX "/cairn/"

/* Connects to etcd and loads (or creates) the replicated state into `c`
 * (snapshot, counters, log), then starts the watch. Called by core_new
 * instead of the file store's load. */
int ha_open(struct core *c, struct cairn_error *err);
/* Stops the threads, revokes the lease, frees everything. NULL-safe on c->ha. */
void ha_close(struct core *c);

/* Registers this replica (after the listeners are bound: the addresses are
 * the ones clients dial) and keeps its lease alive. */
int ha_register(struct core *c, const char *client_addr, const char *mesh_addr, const char *key_addr,
                struct cairn_error *err);

/* commit_ex's persistence on etcd: builds and seals the document for
 * `next` (counters replaced when `replace_counters`: acts/mono are then the
 * new values, else they are ignored), commits it in one transaction against
 * expected's revision, and on success sets next's revision and this
 * replica's key state. `counters_rev` > 0: acts/mono are the counters read
 * at that revision (ha_recovered_counters); the commit also requires that
 * no counter changed since. Caller holds c->persist (not c->lock). */
int ha_commit_state(struct core *c, const struct core_snap *expected, struct core_snap *next, const uint8_t *new_dek,
                    const char *new_hdr, bool replace_counters, json_t *acts, json_t *mono, json_t *log,
                    int64_t counters_rev, struct cairn_error *err);

/* Recovery: the counters of the state being recovered live in etcd under
 * its counterKey `ctr_key` (the document holds none). Reads them all at one
 * revision and puts their values into `acts` ({type: sum of its parts}) and
 * `mono` ({id: "value"}); *out_rev: that revision (for ha_commit_state). A
 * part that does not open under the key counts as MaxActivations reached
 * (never fewer activations left than there were). */
int ha_recovered_counters(struct core *c, const uint8_t ctr_key[32], json_t *acts, json_t *mono, int64_t *out_rev,
                          struct cairn_error *err);

/* One activation of marble type `type` served from snapshot `s`
 * (group-committed). max 0: no limit, only the check that `s` is still the
 * current state (a linearizable read). 0 = committed; CAIRN_ERR_PERMISSION
 * = MaxActivations reached; CAIRN_ERR_CONFLICT = the state changed (retry);
 * CAIRN_ERR_NETWORK/TIMEOUT = etcd unavailable. */
int ha_activation_commit(struct core *c, const struct core_snap *s, const char *type, uint64_t max,
                         struct cairn_error *err);

/* A monotonic counter: max(current, value) committed; *prev the value before. */
int ha_mono_commit(struct core *c, const char *id, uint64_t value, uint64_t *prev, struct cairn_error *err);

/* Reads the committed state with `dek` (recovery: core_load_with_dek). */
int ha_read_sealed(struct core *c, uint8_t **out, size_t *out_len, struct cairn_error *err);

/* Metrics lines (Prometheus text) and the replicas as JSON for status. */
void ha_metrics(struct core *c, struct cairn_buf *out);
json_t *ha_status(struct core *c);   /* new reference or NULL */
/* Whether `ref` is the data key id in use (caller holds c->lock). */
bool ha_current_kid_is(struct core *c, const uint8_t *ref, size_t ref_len);
/* After a start whose data key came from a peer over the key API: stores
 * this replica's own sealed copy in etcd (its next start needs no peer).
 * Called once the replica serves (core_seal_joined); caller holds
 * c->persist. 0 also when there is nothing to store or the write failed
 * (logged: best effort). */
int ha_store_pending_key(struct core *c);
/* Key API addresses of the other live replicas (registry_list now). */
int ha_key_peers(struct core *c, char ***out, size_t *out_n, struct cairn_error *err);

#endif
