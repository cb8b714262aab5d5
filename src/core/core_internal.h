/* Internal to src/core: the core object and helpers shared by its files. */
#ifndef CAIRN_CORE_INTERNAL_H
#define CAIRN_CORE_INTERNAL_H

#include <pthread.h>

#include "attest/attest.h"
#include "core/core.h"
#include "core/keypool.h"
#include "store/seal.h"
#include "store/store.h"

#define CORE_ACT_BUCKETS 12

struct series {            /* one (type, uuid) pair of the activation counters */
    char *type, *uuid;
    uint64_t total, success;
};

struct core {
    struct core_config cfg;
    enum attest_type tee;        /* what the Coordinator itself runs in */
    /* lock order: admin -> persist -> lock; mlock is a leaf */
    pthread_mutex_t admin;       /* serialises snapshot replacements */
    pthread_mutex_t persist;     /* serialises writes to the store */
    pthread_mutex_t lock;        /* the state lock: snap pointer, counters, log */
    struct core_snap *snap;
    json_t *activations;         /* {type: count}, only for MaxActivations > 0 */
    json_t *update_log;          /* [line, ...] */
    uint64_t gen, persisted_gen;
    struct store *store;         /* NULL when memory_only */
    struct seal *seal_sim, *seal_product, *seal_unique;
    uint8_t dek[32];
    bool have_dek;
    enum seal_kind dek_seal_kind;
    struct keypool *pool;
    /* metrics and events (mlock) */
    pthread_mutex_t mlock;
    json_t *events;
    struct series *series;       /* open addressing */
    size_t series_cap, series_n;
    uint64_t act_bucket[CORE_ACT_BUCKETS];
    uint64_t act_count;
    double act_sum;
    uint64_t evidence[5][2];     /* [attest_type][0 ok, 1 fail] */
    uint64_t refusals[6];        /* by enum core_refusal */
};

int core_own_evidence(struct core *c, X509 *root, const uint8_t *nonce, size_t nonce_len, json_t **out,
                      struct cairn_error *err);
int core_persist_gen(struct core *c, uint64_t gen, struct cairn_error *err);

/* metrics.c */
void core_metrics_activation_attempt(struct core *c, const char *type, const char *uuid);
void core_metrics_activation_done(struct core *c, const char *type, const char *uuid, enum core_refusal r,
                                  double seconds);
void core_metrics_evidence(struct core *c, enum attest_type t, bool ok);
void core_event_add(struct core *c, const char *type, const char *uuid, const uint8_t *quote, size_t quote_len);
void core_metrics_free(struct core *c);

#endif
