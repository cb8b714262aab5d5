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
    json_t *mono;                /* monotonic counters {id: "decimal u64"} (features.c) */
    json_t *update_log;          /* [line, ...] */
    uint64_t gen, persisted_gen;
    struct store *store;         /* NULL when memory_only */
    struct seal *seal_sim, *seal_product, *seal_unique;
    uint8_t dek[32];
    bool have_dek;
    bool reseal_pending;         /* the DEK came from a replica (--join): not yet sealed here (under persist) */
    enum seal_kind dek_seal_kind;
    /* issue 12: the recovery data of the committed sealed_data (its public
     * header, JSON; NULL = none), written with every save so that it always
     * describes the DEK on disk. Under persist (set once at load before
     * any request). */
    char *rec_hdr;
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
    struct gov_recovery *recovery; /* issue 6: recovery progress in state 1 (recovery.c), under admin */
    struct trust_store *trust;   /* trust.c: cfg.trust_dir loaded at start, read-only after; NULL = built-in roots */
    struct core_ha *ha;          /* issue 9: replicated state on etcd (ha.c); NULL = file store */
};

int core_own_evidence(struct core *c, X509 *root, const uint8_t *nonce, size_t nonce_len, json_t **out,
                      struct cairn_error *err);
int core_persist_gen(struct core *c, uint64_t gen, struct cairn_error *err);
/* features.c: checks the "monotonicCounters" member of a state document. */
int core_mono_validate(const json_t *mono, struct cairn_error *err);

/* issue 6 hooks (core.c, used by users/secrets/updates/recovery.c) */
struct core_snap *core_snap_alloc(void);        /* empty snapshot, refcount 1 */
int core_snap_finish(struct core *c, struct core_snap *s, struct cairn_error *err);
json_t *core_log_line(const char *msg, json_t *fields);   /* a JSON string (new ref) or NULL */
/* commit() with an explicit new DEK (NULL = keep) and new log (NULL = keep);
 * consumes `next` on failure. Caller holds the admin lock. */
int core_commit_gov(struct core *c, struct core_snap *expected, struct core_snap *next, const uint8_t *new_dek,
                    json_t *new_log, struct cairn_error *err);
/* Opens the stored sealed_data with `dek` and parses it into a snapshot plus
 * counters and log (new references; the counters are an opaque bundle of the
 * activation and monotonic counters, to be passed to core_commit_*).
 * CAIRN_ERR_VERIFY when `dek` does not open it. */
int core_load_with_dek(struct core *c, const uint8_t dek[32], struct core_snap **out_snap, json_t **out_acts,
                       json_t **out_log, struct cairn_error *err);
/* commit() replacing counters and log (recovery). Consumes `next` on failure. */
int core_commit_all(struct core *c, struct core_snap *expected, struct core_snap *next, const uint8_t *new_dek,
                    json_t *acts, json_t *log, struct cairn_error *err);
/* commit() installing a new DEK together with the recovery data that opens
 * it (`recovery_meta` from gov_recovery_secrets, NULL when the manifest has
 * no RecoveryKeys): both go into the same sealed_data write (issue 12 §1).
 * acts/log NULL = keep. Consumes `next` on failure. Caller holds admin. */
int core_commit_rekey(struct core *c, struct core_snap *expected, struct core_snap *next, const uint8_t dek[32],
                      const json_t *recovery_meta, json_t *acts, json_t *log, struct cairn_error *err);
/* A copy of the recovery data of the committed sealed_data (NULL = none). */
char *core_recovery_header(struct core *c);

/* issue 9 (ha.c): the state document of snapshot `s` with counters, log
 * and (replicas on etcd) the counter key and the state's generation (0:
 * none); *out: cc_free_secret. */
int core_doc_build(struct core *c, const struct core_snap *s, const json_t *acts, const json_t *mono,
                   const json_t *log, const uint8_t *ctr_key, uint64_t generation, char **out, size_t *out_len);
/* Parses a state document; *out_ctr_key (may be NULL) receives its
 * counterKey, *out_has_ctr whether it had one, *out_gen (may be NULL) its
 * generation (0 when absent). */
int core_doc_load(struct core *c, const uint8_t *doc, size_t len, struct core_snap **out_snap, json_t **out_acts,
                  json_t **out_log, uint8_t *out_ctr_key, bool *out_has_ctr, uint64_t *out_gen,
                  struct cairn_error *err);
/* A fresh state in state 2 (new root CA), or state 1 with `recovery`. */
int core_fresh_snap(struct core *c, bool recovery, struct core_snap **out, struct cairn_error *err);
/* counters_bundle / counters_unbundle (core.c) */
json_t *core_counters_bundle(const json_t *acts, const json_t *mono);
void core_counters_unbundle(json_t *b, json_t **acts, json_t **mono);

/* trust.c: the trust directory (docs/trust.md). core_trust_load loads `dir`
 * (NULL: nothing) into c->trust and logs what it holds; core_trust_get gives
 * the trust for evidence of `type` at the present time (views borrow from
 * c->trust; all-zero without a trust directory); core_trust_check_claims adds
 * the Coordinator's rules on verified claims (TPM: AK roots configured =>
 * the AK must be certified). */
struct trust_store;
int core_trust_load(struct core *c, const char *dir, struct cairn_error *err);
void core_trust_get(const struct core *c, enum attest_type type, struct attest_trust *out);
int core_trust_check_claims(const struct core *c, const struct attest_claims *claims, struct cairn_error *err);
void core_trust_free(struct core *c);

/* metrics.c */
/* Appends `v` as a Prometheus label value (without the quotes): \, " and newline escaped. */
void core_metrics_label(struct cairn_buf *b, const char *v);
void core_metrics_activation_attempt(struct core *c, const char *type, const char *uuid);
void core_metrics_activation_done(struct core *c, const char *type, const char *uuid, enum core_refusal r,
                                  double seconds);
void core_metrics_evidence(struct core *c, enum attest_type t, bool ok);
void core_event_add(struct core *c, const char *type, const char *uuid, const uint8_t *quote, size_t quote_len);
void core_metrics_free(struct core *c);

#endif
