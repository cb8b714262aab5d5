/* The Coordinator's state replicated on etcd (ha.h; docs/high-availability.md). */
#include "core/ha.h"

#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/encoding.h"
#include "common/log.h"
#include "core/core_internal.h"
#include "core/features.h"
#include "core/governance.h"
#include "crypto/crypto.h"
#include "store/datakey.h"
#include "store/etcd.h"
#include "store/hwm.h"
#include "store/registry.h"
#include "store/seal.h"

#define STATE_MAGIC_V1 "CHA1"   /* magic || key id || sealed_data: earlier versions, generation 0 */
#define STATE_MAGIC "CHA2"      /* magic || key id || u64be generation || sealed_data */
#define HDR_LEN_V1 (4 + DATAKEY_ID_SIZE)
#define HDR_LEN (4 + DATAKEY_ID_SIZE + 8)
#define MEM_FLUSH_MS 1000       /* counters accepted are saved to the memory file within this */
#define CTR_AAD "cairn-ctr-v1"
#define BATCH_ATTEMPTS 64
#define PREFIX_MAX 200
/* At most this many activations of one marble type are granted in one
 * transaction, by every replica: peers bound a part's growth by it (see
 * run_batch). A protocol constant: replicas that disagree on it must not
 * share a state. */
#define ACT_MAX_PER_TXN 64
/* Peer parts bounded one by one up to this many (else one range compare);
 * etcd refuses a transaction with more than 128 compares (--max-txn-ops). */
#define ACT_PART_CMPS 32
#define ACT_TXN_CMPS 120
#define LEADER_PROBE_S 10        /* how often the upkeep thread asks which member leads */
#define LEADER_PROBE_TIMEOUT_MS 250   /* per member asked: a stopped one delays the upkeep by this at most */


struct act_req {
    const char *type;
    uint64_t max;
    int64_t snap_rev;
    bool granted, done;
    int rc;
    char msg[300];
    struct act_req *next;
};

struct core_ha {
    struct etcd *etcd;
    struct datakey *dk;
    struct seal *seal;
    char prefix[PREFIX_MAX + 1];
    char k_state[PREFIX_MAX + 16];
    /* the committed state this replica runs on; written under c->persist
     * (and c->lock), read under either */
    _Atomic int64_t state_rev;
    uint8_t kid[DATAKEY_ID_SIZE];
    bool have_kid;
    /* a DEK obtained from a peer while starting: its own sealed copy is
     * written once the replica serves (ha_store_pending_key); under c->persist */
    bool opening, pending_store;
    uint8_t pending_kid[DATAKEY_ID_SIZE];
    /* that copy could not be written (etcd unavailable or full): the
     * upkeep thread tries again (own_copy_retry); copy_kid under
     * c->persist, the flag atomic */
    atomic_bool copy_retry;
    uint8_t copy_kid[DATAKEY_ID_SIZE];
    uint8_t ctr_key[32];        /* under c->lock */
    bool have_ctr;
    /* activation counters, one part per replica (P act/<hex type>/<replica
     * id>): {type: {replica id: [count, version, mod_revision]}} as last
     * read (version -1: not known yet); c->activations holds their sums.
     * The watch does not carry them (see watch_main): they are read with
     * every commit of this replica's activations, after a lost race, and
     * every second (act_refresh). act_known {type: revision}: every part of
     * the type as of that revision is in act_parts (from a read of the
     * type's parts); act_all_known: the same for every type (a read of all
     * parts). ctr_epoch: counts the changes of ctr_key, so a read made
     * under one counterKey is never applied under the next. All under
     * c->lock. act_incomplete: a part could not be cached (out of memory):
     * activations with a limit are refused from then on. */
    json_t *act_parts, *act_known, *mono_rev;
    int64_t act_all_known;
    uint64_t ctr_epoch;
    bool act_incomplete;
    /* group commit of activations */
    pthread_mutex_t q_lock;
    pthread_cond_t q_cond;
    struct act_req *q_head, **q_tail;
    bool committing;
    /* threads */
    atomic_bool stop;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    pthread_t watch_th, live_th, upkeep_th;
    bool watch_started, live_started, upkeep_started;
    _Atomic int64_t watch_rev;  /* last revision the watch delivered */
    /* registry and liveness */
    pthread_mutex_t reg_lock;
    struct replica_info self;
    bool registered;
    int64_t lease;
    json_t *replicas;           /* {id: {client, mesh, key}} as seen by the watch, under reg_lock */
    atomic_bool etcd_ok;
    char last_error[256];       /* under reg_lock */
    /* rollback refusal (store/hwm.h; docs/high-availability.md "Rollback"):
     * all under c->lock */
    struct hwm mem;             /* the newest values this replica accepted */
    uint64_t state_gen;         /* generation of the installed state */
    uint64_t seen_gen;          /* highest (clear) generation of a state this replica could not open */
    bool mem_dirty;             /* counters accepted since the last save */
    bool state_refused;         /* etcd shows an older state (or none): writes and activations 503 */
    char refused_msg[400];
    json_t *ctr_refused;        /* {"act/<hex>": message} counters etcd shows older than accepted */
    char mem_dir[4096];         /* the seal directory ("" = not persisted) */
    pthread_mutex_t mem_lock;   /* serialises saves of the memory file (taken before c->lock) */
    pthread_cond_t mem_cond;    /* wakes the flush thread (with stop_lock) */
    bool mem_kick;              /* save now (a state was accepted); under stop_lock */
    pthread_t mem_th;
    bool mem_started;
    atomic_uint_fast64_t n_rollback;
    /* metrics */
    atomic_uint_fast64_t n_batches, n_batched, n_retries, n_reloads, n_peer_counters, n_unavailable;
    _Atomic double last_reload_ms;
};

/* ---- small helpers ---- */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int key_of(const struct core_ha *h, const char *kind, const char *name, char *out, size_t n)
{
    char *hex = cairn_hex_encode(name, strlen(name));
    if (hex == NULL)
        return CAIRN_ERR_NOMEM;
    int w = snprintf(out, n, "%s%s/%s", h->prefix, kind, hex);
    free(hex);
    return w > 0 && (size_t)w < n ? 0 : CAIRN_ERR_TOO_LARGE;
}

/* "<prefix>act/<hex type>/": the prefix of a marble type's counter parts. */
static int act_range_of(const struct core_ha *h, const char *type, char *out, size_t n)
{
    return key_of(h, "act", type, out, n - 1) != 0 ? CAIRN_ERR_TOO_LARGE : (strcat(out, "/"), 0);
}

/* "<prefix><area>/": every key of an area ("act": the counter parts,
 * "mono": the monotonic counters). */
static void area_of(const struct core_ha *h, const char *area, char out[PREFIX_MAX + 8])
{
    snprintf(out, PREFIX_MAX + 8, "%s%s/", h->prefix, area);
}

/* "<prefix>act/<hex type>/<replica id>": one replica's part. */
static int act_key_of(const struct core_ha *h, const char *type, const char *rid, char *out, size_t n)
{
    char *hex = cairn_hex_encode(type, strlen(type));
    if (hex == NULL)
        return CAIRN_ERR_NOMEM;
    int w = snprintf(out, n, "%sact/%s/%s", h->prefix, hex, rid);
    free(hex);
    return w > 0 && (size_t)w < n ? 0 : CAIRN_ERR_TOO_LARGE;
}

/* The name in a counter key "<prefix><kind>/<hex>" (malloc'd) or NULL. */
static char *name_of(const char *suffix_hex)
{
    uint8_t *b = NULL;
    size_t n = 0;
    if (cairn_hex_decode(suffix_hex, strlen(suffix_hex), &b, &n) != 0)
        return NULL;
    if (n == 0 || memchr(b, 0, n) != NULL) {
        free(b);
        return NULL;
    }
    return (char *)b;   /* NUL-terminated by the decoder */
}

/* The marble type (malloc'd) and replica id (*rid, inside `rest`) of a
 * part key's suffix "<hex type>/<replica id>", or NULL. */
static char *act_name_of(const char *rest, const char **rid)
{
    const char *sl = strchr(rest, '/');
    if (sl == NULL || sl == rest)
        return NULL;
    size_t rl = strlen(sl + 1);
    if (rl == 0 || rl >= sizeof(((struct replica_info *)0)->id) || strspn(sl + 1, "0123456789abcdef") != rl)
        return NULL;
    uint8_t *b = NULL;
    size_t n = 0;
    if (cairn_hex_decode(rest, (size_t)(sl - rest), &b, &n) != 0)
        return NULL;
    if (n == 0 || memchr(b, 0, n) != NULL) {
        free(b);
        return NULL;
    }
    *rid = sl + 1;
    return (char *)b;
}

/* Counter values: AES-256-GCM under counterKey, AAD binds the full key. */
static int ctr_seal(const uint8_t key[32], const char *etcd_key, uint64_t v, uint8_t **out, size_t *out_len)
{
    char aad[PREFIX_MAX + 600], pt[24];
    int al = snprintf(aad, sizeof(aad), "%s|%s", CTR_AAD, etcd_key);
    int pl = snprintf(pt, sizeof(pt), "%" PRIu64, v);
    if (al <= 0 || (size_t)al >= sizeof(aad))
        return CAIRN_ERR_TOO_LARGE;
    return cc_aead_seal(key, aad, (size_t)al, pt, (size_t)pl, out, out_len) == 0 ? 0 : CAIRN_ERR_CRYPTO;
}

static int ctr_open(const uint8_t key[32], const char *etcd_key, const uint8_t *blob, size_t len, uint64_t *v)
{
    char aad[PREFIX_MAX + 600];
    int al = snprintf(aad, sizeof(aad), "%s|%s", CTR_AAD, etcd_key);
    if (al <= 0 || (size_t)al >= sizeof(aad) || len > 256)
        return CAIRN_ERR_INVALID;
    uint8_t *pt = NULL;
    size_t pl = 0;
    if (cc_aead_open(key, aad, (size_t)al, blob, len, &pt, &pl) != 0)
        return CAIRN_ERR_VERIFY;
    int rc = 0;
    uint64_t x = 0;
    if (pl == 0 || pl > 20)
        rc = CAIRN_ERR_INVALID;
    for (size_t i = 0; rc == 0 && i < pl; i++) {
        if (pt[i] < '0' || pt[i] > '9' || x > (UINT64_MAX - 9) / 10)
            rc = CAIRN_ERR_INVALID;
        else
            x = x * 10 + (uint64_t)(pt[i] - '0');
    }
    cc_free_secret(pt, pl);
    if (rc == 0)
        *v = x;
    return rc;
}

static void set_error(struct core_ha *h, const char *msg)
{
    pthread_mutex_lock(&h->reg_lock);
    snprintf(h->last_error, sizeof(h->last_error), "%s", msg);
    pthread_mutex_unlock(&h->reg_lock);
}

/* ---- the state value ---- */

static int state_value(const uint8_t kid[DATAKEY_ID_SIZE], uint64_t gen, const uint8_t dek[32], const char *hdr,
                       const char *doc, size_t doc_len, uint8_t **out, size_t *out_len)
{
    uint8_t *sd = NULL;
    size_t sl = 0;
    int rc = sealed_data_seal(dek, (const uint8_t *)hdr, hdr != NULL ? strlen(hdr) : 0, (const uint8_t *)doc, doc_len,
                              &sd, &sl);
    if (rc != 0)
        return rc;
    uint8_t *v = malloc(HDR_LEN + sl);
    if (v == NULL) {
        free(sd);
        return CAIRN_ERR_NOMEM;
    }
    memcpy(v, STATE_MAGIC, 4);
    memcpy(v + 4, kid, DATAKEY_ID_SIZE);
    /* the generation in the clear too (the document holds it authenticated):
     * a replica that cannot open the state (recovery) still builds above it */
    for (int i = 0; i < 8; i++)
        v[4 + DATAKEY_ID_SIZE + i] = (uint8_t)(gen >> (56 - 8 * i));
    memcpy(v + HDR_LEN, sd, sl);
    free(sd);
    *out = v;
    *out_len = HDR_LEN + sl;
    return 0;
}

/* Splits an (untrusted) state value into key id, generation as written in
 * the clear (not authenticated: open_state compares it with the document's)
 * and sealed_data. A value of an earlier version (CHA1) has generation 0. */
static int state_split(const uint8_t *v, size_t n, const uint8_t **kid, uint64_t *gen, const uint8_t **sd,
                       size_t *sd_len, struct cairn_error *err)
{
    size_t hl0 = 0;
    uint64_t g = 0;
    if (n >= HDR_LEN && memcmp(v, STATE_MAGIC, 4) == 0) {
        hl0 = HDR_LEN;
        for (int i = 0; i < 8; i++)
            g = g << 8 | v[4 + DATAKEY_ID_SIZE + i];
        if (g == 0 || g > HWM_GEN_MAX)
            return cairn_errf(err, CAIRN_ERR_INVALID, "etcd state: generation %" PRIu64 " out of range", g);
    } else if (n >= HDR_LEN_V1 && memcmp(v, STATE_MAGIC_V1, 4) == 0) {
        hl0 = HDR_LEN_V1;
    } else {
        return cairn_errf(err, CAIRN_ERR_INVALID, "etcd state: not a Cairn replicated state (bad magic)");
    }
    const uint8_t *h;
    size_t hl;
    if (sealed_data_header(v + hl0, n - hl0, &h, &hl) != 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "etcd state: truncated sealed data");
    *kid = v + 4;
    *gen = g;
    *sd = v + hl0;
    *sd_len = n - hl0;
    return 0;
}

static void kid_hex(const uint8_t kid[DATAKEY_ID_SIZE], char out[2 * DATAKEY_ID_SIZE + 1])
{
    for (size_t i = 0; i < DATAKEY_ID_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", kid[i]);
}

/* Stores this replica's own sealed copy of `dek` (a DEK obtained from a
 * peer), as long as the state in etcd names `kid`: the write compares the
 * state's revision, so a copy of a key that a concurrent commit replaced is
 * not left behind (that commit deleted the old key's entries). When it
 * cannot be written, the upkeep thread tries again every second (until
 * then the next start would ask a peer again). Returns true when there is
 * nothing left to do. Caller holds c->persist. */
static bool store_own_copy(struct core *c, const uint8_t kid[DATAKEY_ID_SIZE], const uint8_t dek[32])
{
    struct core_ha *h = c->ha;
    char hex[2 * DATAKEY_ID_SIZE + 1];
    kid_hex(kid, hex);
    struct cairn_error e = {0};
    int rc = CAIRN_ERR_CONFLICT;
    for (int attempt = 0; attempt < 3 && rc == CAIRN_ERR_CONFLICT; attempt++) {
        struct etcd_kvs kvs = {0};
        const uint8_t *skid, *sd;
        size_t sl;
        memset(&e, 0, sizeof(e));
        if ((rc = etcd_get(h->etcd, h->k_state, false, false, &kvs, &e)) != 0)
            break;
        uint64_t sgen = 0;
        if (kvs.n != 1 || state_split(kvs.kv[0].value, kvs.kv[0].value_len, &skid, &sgen, &sd, &sl, &e) != 0 ||
            memcmp(skid, kid, DATAKEY_ID_SIZE) != 0) {
            etcd_kvs_clear(&kvs);
            LOG_INFO("data key %s: the state in etcd no longer names it; no copy stored", hex);
            return true;
        }
        struct etcd_cmp still = {.key = h->k_state, .target = ETCD_CMP_MOD, .rev = kvs.kv[0].mod_rev};
        etcd_kvs_clear(&kvs);
        rc = datakey_publish(h->dk, kid, dek, &still, NULL, &e);
    }
    bool retrying = atomic_load(&h->copy_retry);
    if (rc == 0) {
        LOG_INFO("data key %s: stored sealed with this replica's seal in etcd: its next start needs no peer", hex);
        atomic_store(&h->copy_retry, false);
        return true;
    }
    if (!retrying)
        LOG_WARN("data key %s from a replica: not stored for this replica yet (%s); trying again every second "
                 "(until then its next start asks a replica again)",
                 hex, cairn_error_msg(&e));
    memcpy(h->copy_kid, kid, DATAKEY_ID_SIZE);
    atomic_store(&h->copy_retry, true);
    return false;
}

/* Stores this replica's copy of data key `kid` if it is still the key in
 * use (a newer key's commit stored that one's copies); false when it is
 * not. Caller holds c->persist. */
static bool store_copy_if_current(struct core *c, const uint8_t kid_in[DATAKEY_ID_SIZE])
{
    struct core_ha *h = c->ha;
    uint8_t kid[DATAKEY_ID_SIZE], dek[32];
    memcpy(kid, kid_in, sizeof(kid));   /* kid_in may be h->copy_kid, which store_own_copy writes */
    pthread_mutex_lock(&c->lock);
    bool current = h->have_kid && c->have_dek && memcmp(h->kid, kid, DATAKEY_ID_SIZE) == 0;
    if (current)
        memcpy(dek, c->dek, 32);
    pthread_mutex_unlock(&c->lock);
    if (current)
        store_own_copy(c, kid, dek);
    cc_wipe(dek, sizeof(dek));
    return current;
}

/* Upkeep thread: writes the copy store_own_copy could not. Never waits
 * for c->persist (a commit or reload may hold it for long): then next
 * second. */
static void own_copy_retry(struct core *c)
{
    struct core_ha *h = c->ha;
    if (!atomic_load(&h->copy_retry) || pthread_mutex_trylock(&c->persist) != 0)
        return;
    if (!store_copy_if_current(c, h->copy_kid))
        atomic_store(&h->copy_retry, false);
    pthread_mutex_unlock(&c->persist);
}

int ha_store_pending_key(struct core *c)
{
    struct core_ha *h = c->ha;
    if (h == NULL || !h->pending_store)
        return 0;
    h->pending_store = false;
    store_copy_if_current(c, h->pending_kid);
    return 0;
}

/* The DEK for `kid`: the one in use, this replica's sealed copy, or from a
 * peer over the key API. Caller holds c->persist. */
static int dek_for(struct core *c, const uint8_t kid[DATAKEY_ID_SIZE], uint8_t dek[32], struct cairn_error *err)
{
    struct core_ha *h = c->ha;
    if (h->have_kid && c->have_dek && memcmp(kid, h->kid, DATAKEY_ID_SIZE) == 0) {
        memcpy(dek, c->dek, 32);
        return 0;
    }
    int rc = datakey_obtain(h->dk, kid, dek, err);
    if (rc == 0 || c->cfg.obtain_data_key == NULL)
        return rc;
    /* no copy here opens: ask the replicas that hold it over the key API
     * (src/keyshare), then keep a copy sealed for this replica */
    char hex[2 * DATAKEY_ID_SIZE + 1];
    kid_hex(kid, hex);
    LOG_INFO("data key %s: %s; asking the other replicas over the key API", hex, cairn_error_msg(err));
    struct cairn_error pe = {0};
    if (c->cfg.obtain_data_key(c, c->cfg.obtain_ctx, kid, DATAKEY_ID_SIZE, dek, &pe) != 0)
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "data key %s: %s", hex, cairn_error_msg(&pe));
    if (h->opening) {
        /* starting: the copy is written once the replica serves, off the
         * path to ready (ha_store_pending_key from core_seal_joined) */
        h->pending_store = true;
        memcpy(h->pending_kid, kid, DATAKEY_ID_SIZE);
    } else {
        store_own_copy(c, kid, dek);
    }
    return 0;
}

bool ha_current_kid_is(struct core *c, const uint8_t *ref, size_t ref_len)
{
    struct core_ha *h = c->ha;
    return h != NULL && h->have_kid && ref_len == DATAKEY_ID_SIZE && memcmp(ref, h->kid, DATAKEY_ID_SIZE) == 0;
}

int ha_key_peers(struct core *c, char ***out, size_t *out_n, struct cairn_error *err)
{
    struct core_ha *h = c->ha;
    *out = NULL;
    *out_n = 0;
    if (h == NULL)
        return 0;
    struct replica_info *ri = NULL;
    size_t n = 0, total = 0, k = 0;
    int rc = registry_list(h->etcd, h->prefix, &ri, &n, NULL, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (ri[i].key[0] != '\0' && strcmp(ri[i].id, h->self.id) != 0)
            total += strlen(ri[i].key) + 1;
    char **v = malloc((n + 1) * sizeof(char *) + total + 1);
    if (v == NULL) {
        free(ri);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    char *p = (char *)(v + n + 1);
    for (size_t i = 0; i < n; i++) {
        if (ri[i].key[0] == '\0' || strcmp(ri[i].id, h->self.id) == 0)
            continue;
        size_t l = strlen(ri[i].key) + 1;
        memcpy(p, ri[i].key, l);
        v[k++] = p;
        p += l;
    }
    free(ri);
    *out = v;
    *out_n = k;
    return 0;
}

/* A loaded state, before it is installed. */
struct loaded {
    struct core_snap *snap;
    json_t *log;
    uint8_t kid[DATAKEY_ID_SIZE];
    uint8_t dek[32];
    uint8_t ctr_key[32];
    bool has_ctr;
    char *hdr;   /* recovery data header or NULL */
    uint64_t gen;         /* the state's generation (authenticated) */
    uint8_t digest[32];   /* SHA-256 of the etcd value */
};

static void loaded_clear(struct loaded *l)
{
    core_snap_put(l->snap);
    json_decref(l->log);
    free(l->hdr);
    cc_wipe(l, sizeof(*l));
}

/* Opens a state value. CAIRN_ERR_NOT_FOUND: no data key for it here. */
static int open_state(struct core *c, const struct etcd_kv *kv, struct loaded *out, struct cairn_error *err)
{
    memset(out, 0, sizeof(*out));
    const uint8_t *kid, *sd, *hdr;
    size_t sl, hl;
    uint64_t clear_gen = 0;
    int rc = state_split(kv->value, kv->value_len, &kid, &clear_gen, &sd, &sl, err);
    if (rc != 0)
        return rc;
    out->gen = clear_gen;   /* until the document confirms it; for the caller's recovery path */
    memcpy(out->kid, kid, DATAKEY_ID_SIZE);
    if ((rc = dek_for(c, kid, out->dek, err)) != 0)
        return rc;
    sealed_data_header(sd, sl, &hdr, &hl);
    if (hl > 0 && (memchr(hdr, 0, hl) != NULL || (out->hdr = strndup((const char *)hdr, hl)) == NULL)) {
        cc_wipe(out, sizeof(*out));
        return cairn_errf(err, CAIRN_ERR_INVALID, "etcd state: bad recovery data header");
    }
    uint8_t *doc = NULL;
    size_t dl = 0;
    if ((rc = sealed_data_open(out->dek, sd, sl, &doc, &dl, err)) != 0) {
        loaded_clear(out);
        return cairn_err_prefix(err, "etcd state");
    }
    json_t *bundle = NULL;
    uint64_t doc_gen = 0;
    rc = core_doc_load(c, doc, dl, &out->snap, &bundle, &out->log, out->ctr_key, &out->has_ctr, &doc_gen, err);
    cc_free_secret(doc, dl);
    json_decref(bundle);   /* counters live in keys of their own */
    if (rc != 0) {
        loaded_clear(out);
        return cairn_err_prefix(err, "etcd state");
    }
    if (doc_gen != clear_gen) {
        loaded_clear(out);
        return cairn_errf(err, CAIRN_ERR_VERIFY,
                          "etcd state: the generation in the clear (%" PRIu64 ") is not the sealed one (%" PRIu64 ")",
                          clear_gen, doc_gen);
    }
    out->gen = doc_gen;
    cc_sha256(kv->value, kv->value_len, out->digest);
    out->snap->store_rev = kv->mod_rev;
    return 0;
}

/* ---- rollback refusal (store/hwm.h) ---- */

/* The state in etcd is older than the one this replica accepted (or gone):
 * keep serving the accepted snapshot, refuse writes and activations with
 * 503 until etcd shows it (or a newer one) again. Caller holds c->lock. */
static void refuse_state(struct core *c, int64_t rev, const char *seen)
{
    struct core_ha *h = c->ha;
    snprintf(h->refused_msg, sizeof(h->refused_msg),
             "etcd holds an older replicated state than this Coordinator replica has accepted (%s at revision %" PRId64
             "; accepted: generation %" PRIu64 "): a rollback of etcd? Writes and activations are refused until etcd "
             "shows generation %" PRIu64 " or newer",
             seen, rev, h->mem.gen, h->mem.gen);
    h->state_refused = true;
    atomic_fetch_add(&h->n_rollback, 1);
    LOG_ERROR("etcd: ROLLBACK REFUSED: %sstate: %s at revision %" PRId64 " is older than generation %" PRIu64
              " this replica accepted; it keeps serving generation %" PRIu64 " and refuses writes and activations "
              "until etcd shows that generation or a newer one",
              h->prefix, seen, rev, h->mem.gen, h->state_gen);
}

/* The memory's name of a counter key: "act/<hex>" or "mono/<hex>". */
static const char *mem_name(const struct core_ha *h, const char *etcd_key)
{
    return etcd_key + strlen(h->prefix);
}

/* Whether counter `etcd_key` at `v` (deleted: absent, i.e. 0) may be
 * applied; refuses and records it otherwise. Caller holds c->lock. */
static bool counter_fresh(struct core *c, bool act, const char *etcd_key, const char *name, uint64_t v, bool deleted,
                          int64_t rev)
{
    struct core_ha *h = c->ha;
    const char *mn = mem_name(h, etcd_key);
    uint64_t have = 0;
    if (hwm_counter_ok(&h->mem, mn, deleted ? 0 : v, &have) && !(deleted && have > 0)) {
        json_object_del(h->ctr_refused, mn);
        return true;
    }
    char seen[48], msg[400];
    if (deleted)
        snprintf(seen, sizeof(seen), "deleted");
    else
        snprintf(seen, sizeof(seen), "value %" PRIu64, v);
    snprintf(msg, sizeof(msg),
             "etcd holds an older %s counter for %s \"%s\" (%s; this Coordinator replica has accepted %" PRIu64
             "): a rollback of etcd? It is refused until etcd shows %" PRIu64 " or more",
             act ? "activation" : "monotonic", act ? "marble type" : "counter", name, seen, have, have);
    json_object_set_new(h->ctr_refused, mn, json_string(msg));
    atomic_fetch_add(&h->n_rollback, 1);
    LOG_ERROR("etcd: ROLLBACK REFUSED: %s (%s counter \"%s\"): %s at revision %" PRId64
              " is older than the value %" PRIu64 " this replica accepted; refused until etcd shows %" PRIu64
              " or more",
              etcd_key, act ? "activation" : "monotonic", name, seen, rev, have, have);
    return false;
}

/* The refusal message for an activation of `type` or counter `etcd_key`,
 * NULL when neither the state nor it is refused. Caller holds c->lock. */
static const char *refused_for(struct core_ha *h, const char *etcd_key)
{
    if (h->state_refused)
        return h->refused_msg;
    if (etcd_key == NULL)
        return NULL;
    return json_string_value(json_object_get(h->ctr_refused, mem_name(h, etcd_key)));
}

/* The refusal message for activations of `type`: the state's, or that of
 * any refused part of the type. NULL when none. Caller holds c->lock. */
static const char *refused_type(struct core_ha *h, const char *type)
{
    if (h->state_refused)
        return h->refused_msg;
    if (json_object_size(h->ctr_refused) == 0)
        return NULL;
    char range[PREFIX_MAX + 600];
    if (act_range_of(h, type, range, sizeof(range)) != 0)
        return NULL;
    const char *mr = mem_name(h, range), *k;
    size_t ml = strlen(mr);
    json_t *v;
    json_object_foreach(h->ctr_refused, k, v) {
        if (strncmp(k, mr, ml) == 0)
            return json_string_value(v);
    }
    return NULL;
}

/* ---- counters ---- */

/* After a refused monotonic counter: the cached value is at least the
 * accepted one (a replica that starts on a rolled-back counter has no
 * cached value yet). Caller holds c->lock. */
static void mono_at_least(struct core *c, const char *etcd_key, const char *name)
{
    struct core_ha *h = c->ha;
    uint64_t have = 0;
    hwm_counter_ok(&h->mem, mem_name(h, etcd_key), 0, &have);
    json_t *cur = json_object_get(c->mono, name);
    if (!json_is_string(cur) || strtoull(json_string_value(cur), NULL, 10) < have) {
        char b[24];
        snprintf(b, sizeof(b), "%" PRIu64, have);
        json_object_set_new(c->mono, name, json_string(b));
    }
}

/* Applies one monotonic counter key (put or delete) to the cache.
 * Caller holds c->lock. Returns true when it changed something. */
static bool mono_apply(struct core *c, const char *etcd_key, const char *name, const struct etcd_kv *kv,
                       bool deleted)
{
    struct core_ha *h = c->ha;
    json_int_t have = json_integer_value(json_object_get(h->mono_rev, name));
    if (kv->mod_rev <= have)
        return false;   /* older than what this replica knows (its own commit, or a stale event) */
    if (deleted) {
        /* a counter is deleted only with a new counterKey (whose state was
         * applied first, forgetting the old epoch's marks); one deleted
         * under the key in use is a rollback to 0 */
        if (!counter_fresh(c, false, etcd_key, name, 0, true, kv->mod_rev)) {
            mono_at_least(c, etcd_key, name);
            return false;
        }
        json_object_del(c->mono, name);
        json_object_del(h->mono_rev, name);
        return true;
    }
    uint64_t v = 0;
    if (!h->have_ctr || ctr_open(h->ctr_key, etcd_key, kv->value, kv->value_len, &v) != 0) {
        /* written under another counterKey (a state not applied yet) or forged */
        LOG_WARN("etcd: counter %s does not authenticate: this monotonic counter is blocked until a valid value "
                 "is committed",
                 etcd_key);
        return false;
    }
    /* authentic under the counterKey in use: not below what was accepted */
    if (!counter_fresh(c, false, etcd_key, name, v, false, kv->mod_rev)) {
        mono_at_least(c, etcd_key, name);
        return false;
    }
    if (hwm_counter_accept(&h->mem, mem_name(h, etcd_key), v) == 0)
        h->mem_dirty = true;
    char b[24];
    snprintf(b, sizeof(b), "%" PRIu64, v);
    json_object_set_new(c->mono, name, json_string(b));
    json_object_set_new(h->mono_rev, name, json_integer(kv->mod_rev));
    return true;
}

/* c->activations[type] = the sum of the type's parts (saturating).
 * Caller holds c->lock. */
static void act_sum(struct core *c, const char *type)
{
    json_t *parts = json_object_get(c->ha->act_parts, type);
    uint64_t sum = 0;
    const char *rid;
    json_t *e;
    json_object_foreach(parts, rid, e) {
        uint64_t v = (uint64_t)json_integer_value(json_array_get(e, 0));
        sum = v > (uint64_t)INT64_MAX - sum ? (uint64_t)INT64_MAX : sum + v;
    }
    if (json_object_size(parts) == 0)
        json_object_del(c->activations, type);
    else if (json_object_set_new(c->activations, type, json_integer((json_int_t)sum)) != 0)
        c->ha->act_incomplete = true;
}

/* Caches part `rid` of `type` unless the cache holds a newer one (an
 * unknown version, -1, is filled in by the same revision). Caller holds
 * c->lock. Returns true when it changed something. */
static bool part_set(struct core *c, const char *type, const char *rid, uint64_t count, int64_t version,
                     int64_t mod_rev)
{
    struct core_ha *h = c->ha;
    json_t *parts = json_object_get(h->act_parts, type);
    if (parts == NULL && (json_object_set_new(h->act_parts, type, json_object()) != 0 ||
                          (parts = json_object_get(h->act_parts, type)) == NULL)) {
        h->act_incomplete = true;
        return false;
    }
    json_t *e = json_object_get(parts, rid);
    json_int_t have = e != NULL ? json_integer_value(json_array_get(e, 2)) : 0;
    if (e != NULL && (mod_rev < have || (mod_rev == have && json_integer_value(json_array_get(e, 1)) >= 0)))
        return false;
    if (count > (uint64_t)INT64_MAX)
        count = (uint64_t)INT64_MAX;
    if (json_object_set_new(parts, rid, json_pack("[I,I,I]", (json_int_t)count, (json_int_t)version,
                                                  (json_int_t)mod_rev)) != 0) {
        h->act_incomplete = true;
        return false;
    }
    act_sum(c, type);
    return true;
}

/* After a refused part: its cached count is at least the accepted one (a
 * replica that starts on a rolled-back part has no cached value yet), so
 * MaxActivations and the metrics use it. Caller holds c->lock. */
static void part_at_least(struct core *c, const char *type, const char *rid, const char *etcd_key)
{
    struct core_ha *h = c->ha;
    uint64_t have = 0;
    hwm_counter_ok(&h->mem, mem_name(h, etcd_key), 0, &have);
    json_t *parts = json_object_get(h->act_parts, type);
    json_t *e = json_object_get(parts, rid);
    if (e != NULL && (uint64_t)json_integer_value(json_array_get(e, 0)) >= have)
        return;
    int64_t ver = e != NULL ? json_integer_value(json_array_get(e, 1)) : -1;
    int64_t mod = e != NULL ? json_integer_value(json_array_get(e, 2)) : 0;
    if (parts == NULL && (json_object_set_new(h->act_parts, type, json_object()) != 0 ||
                          (parts = json_object_get(h->act_parts, type)) == NULL)) {
        h->act_incomplete = true;
        return;
    }
    if (json_object_set_new(parts, rid, json_pack("[I,I,I]", (json_int_t)(have > INT64_MAX ? INT64_MAX : have),
                                                  (json_int_t)ver, (json_int_t)mod)) != 0)
        h->act_incomplete = true;
    act_sum(c, type);
}

/* Applies one part key (put or delete) seen in etcd to the cache, unless it
 * is older than what this replica accepted (rollback: refused and
 * recorded). Caller holds c->lock. Returns true when it changed something. */
static bool part_apply(struct core *c, const char *type, const char *rid, const struct etcd_kv *kv, bool deleted)
{
    struct core_ha *h = c->ha;
    json_t *parts = json_object_get(h->act_parts, type);
    json_t *e = json_object_get(parts, rid);
    int64_t have_mod = e != NULL ? json_integer_value(json_array_get(e, 2)) : 0;
    if (deleted) {
        if (kv->mod_rev <= have_mod)
            return false;
        /* a part is deleted only with a new counterKey; one deleted under
         * the key in use is a rollback to 0 */
        if (!counter_fresh(c, true, kv->key, type, 0, true, kv->mod_rev)) {
            part_at_least(c, type, rid, kv->key);
            return false;
        }
        if (e == NULL)
            return false;
        json_object_del(parts, rid);
        act_sum(c, type);
        return true;
    }
    if (e != NULL && (kv->mod_rev < have_mod ||
                      (kv->mod_rev == have_mod && json_integer_value(json_array_get(e, 1)) >= 0)))
        return false;
    uint64_t v = 0;
    if (h->have_ctr && ctr_open(h->ctr_key, kv->key, kv->value, kv->value_len, &v) == 0) {
        /* authentic under the counterKey in use: not below what was accepted */
        if (!counter_fresh(c, true, kv->key, type, v, false, kv->mod_rev)) {
            part_at_least(c, type, rid, kv->key);
            return false;
        }
        if (hwm_counter_accept(&h->mem, mem_name(h, kv->key), v) == 0)
            h->mem_dirty = true;
    } else {
        /* a value that does not authenticate: written under another
         * counterKey (a state this replica has not applied yet) or forged.
         * MaxActivations must not fall: the type is blocked until a valid
         * value arrives. */
        if (e == NULL || kv->mod_rev > have_mod)
            LOG_WARN("etcd: counter %s does not authenticate: activations of this marble type are blocked until a "
                     "valid value is committed",
                     kv->key);
        v = (uint64_t)INT64_MAX;
    }
    return part_set(c, type, rid, v, kv->version, kv->mod_rev);
}

/* A key under the prefix: which kind, and the name. */
enum kkind { K_OTHER, K_STATE, K_ACT, K_MONO, K_REPLICA };
static enum kkind classify(const struct core_ha *h, const char *key, const char **rest)
{
    size_t pl = strlen(h->prefix);
    if (strncmp(key, h->prefix, pl) != 0)
        return K_OTHER;
    const char *r = key + pl;
    if (strcmp(r, "state") == 0)
        return K_STATE;
    if (strncmp(r, "act/", 4) == 0) {
        *rest = r + 4;
        return K_ACT;
    }
    if (strncmp(r, "mono/", 5) == 0) {
        *rest = r + 5;
        return K_MONO;
    }
    if (strncmp(r, "replicas/", 9) == 0) {
        *rest = r + 9;
        return K_REPLICA;
    }
    return K_OTHER;
}

/* A counter key seen in etcd (watch, full read, a failed transaction's
 * reads): into the cache. Caller holds c->lock. */
static bool counter_kv(struct core *c, const struct etcd_kv *kv, bool deleted)
{
    const char *rest = NULL, *rid = NULL;
    enum kkind k = classify(c->ha, kv->key, &rest);
    char *name = k == K_ACT ? act_name_of(rest, &rid) : k == K_MONO ? name_of(rest) : NULL;
    if (name == NULL)
        return false;   /* not ours (an old layout's counter, or junk): never counted or compared */
    bool changed = k == K_ACT ? part_apply(c, name, rid, kv, deleted) : mono_apply(c, kv->key, name, kv, deleted);
    free(name);
    return changed;
}

static void counter_event(struct core *c, const struct etcd_kv *kv, bool deleted)
{
    pthread_mutex_lock(&c->lock);
    if (counter_kv(c, kv, deleted))
        atomic_fetch_add(&c->ha->n_peer_counters, 1);
    pthread_mutex_unlock(&c->lock);
}

/* A read of activation counter parts at revision `rev`: of one type (its
 * range) or, with type NULL, of all. Every part goes into the cache; a
 * cached part the read does not hold was deleted by then, which under the
 * counterKey in use is a rollback to 0 (refused like an older value). The
 * cache is then complete at `rev` for what was read. Only for a read made
 * against the state whose counterKey is in use (the caller compared the
 * state's revision in the same transaction, and ctr_epoch is unchanged
 * since). Caller holds c->lock. */
static void parts_from_read(struct core *c, const char *type, const struct etcd_kvs *kvs, int64_t rev)
{
    struct core_ha *h = c->ha;
    json_t *seen = json_object(), *gone = json_array();
    for (size_t i = 0; i < kvs->n; i++) {
        const char *rest = NULL, *rid = NULL;
        if (classify(h, kvs->kv[i].key, &rest) != K_ACT)
            continue;
        char *name = act_name_of(rest, &rid);
        bool peer = name != NULL && strcmp(rid, h->self.id) != 0;
        free(name);
        if (seen != NULL && json_object_set_new(seen, kvs->kv[i].key, json_true()) != 0) {
            json_decref(seen);
            seen = NULL;
        }
        if (counter_kv(c, &kvs->kv[i], false) && peer)
            atomic_fetch_add(&h->n_peer_counters, 1);
    }
    if (seen == NULL || gone == NULL) {
        /* without the list of what was read, deletions go unseen: the cache
         * is not complete, so nothing is marked known (activations compare
         * exactly and read again) */
        json_decref(seen);
        json_decref(gone);
        return;
    }
    const char *t, *rid;
    json_t *parts, *e;
    bool complete = true;
    json_object_foreach(h->act_parts, t, parts) {
        if (type != NULL && strcmp(t, type) != 0)
            continue;
        json_object_foreach(parts, rid, e) {
            char key[PREFIX_MAX + 600];
            if (act_key_of(h, t, rid, key, sizeof(key)) == 0 && json_object_get(seen, key) == NULL &&
                json_array_append_new(gone, json_pack("[s,s,s]", t, rid, key)) != 0)
                complete = false;
        }
    }
    size_t i;
    json_t *g;
    json_array_foreach(gone, i, g) {
        /* a part cached from a later commit (mod_revision above rev) stays */
        struct etcd_kv kv = {.key = (char *)json_string_value(json_array_get(g, 2)), .mod_rev = rev};
        if (kv.key != NULL)
            part_apply(c, json_string_value(json_array_get(g, 0)), json_string_value(json_array_get(g, 1)), &kv, true);
    }
    if (!complete) {
        /* out of memory: not known complete (see above) */
    } else if (type == NULL) {
        if (rev > h->act_all_known)
            h->act_all_known = rev;
    } else if (rev > json_integer_value(json_object_get(h->act_known, type)) &&
               json_object_set_new(h->act_known, type, json_integer(rev)) != 0) {
        h->act_incomplete = true;
    }
    json_decref(seen);
    json_decref(gone);
}

static void replica_event(struct core_ha *h, const struct etcd_kv *kv, const char *id, bool deleted)
{
    pthread_mutex_lock(&h->reg_lock);
    if (deleted) {
        json_object_del(h->replicas, id);
    } else {
        struct replica_info ri;
        if (registry_parse(kv->value, kv->value_len, id, &ri, NULL) == 0)
            json_object_set_new(h->replicas, id,
                                json_pack("{s:s, s:s, s:s, s:s}", "client", ri.client, "mesh", ri.mesh, "key", ri.key,
                                          "version", ri.version));
    }
    pthread_mutex_unlock(&h->reg_lock);
}

/* ---- install ---- */

static void counters_from_full_read(struct core *c, const struct etcd_kvs *kvs);

/* Installs a loaded state. Caller holds c->persist. A state with a new
 * counterKey (a manifest set or recovery elsewhere) forgets the counters
 * under the old key. `all`: a read of everything under the prefix at the
 * state's revision (start, resynchronisation): its counters are applied in
 * the same hold of c->lock, so no request sees the new state with the old
 * counts. */
static void install(struct core *c, struct loaded *l, int64_t rev, const struct etcd_kvs *all)
{
    struct core_ha *h = c->ha;
    pthread_mutex_lock(&c->lock);
    struct core_snap *old = c->snap;
    c->snap = l->snap;
    l->snap = NULL;
    json_decref(c->update_log);
    c->update_log = l->log;
    l->log = NULL;
    if (!h->have_ctr || !l->has_ctr || memcmp(h->ctr_key, l->ctr_key, 32) != 0) {
        json_object_clear(c->activations);
        json_object_clear(c->mono);
        json_object_clear(h->act_parts);
        json_object_clear(h->act_known);
        json_object_clear(h->mono_rev);
        json_object_clear(h->ctr_refused);   /* a new epoch: its values only */
        h->act_all_known = 0;
        h->ctr_epoch++;
    }
    memcpy(h->ctr_key, l->ctr_key, 32);
    h->have_ctr = l->has_ctr;
    uint8_t epoch[32];
    if (l->has_ctr)
        hwm_epoch_of(l->ctr_key, epoch);
    hwm_state_accept(&h->mem, l->gen, l->digest, l->has_ctr ? epoch : NULL);
    h->state_gen = l->gen;
    h->state_refused = false;
    memcpy(c->dek, l->dek, 32);
    c->have_dek = true;
    memcpy(h->kid, l->kid, DATAKEY_ID_SIZE);
    h->have_kid = true;
    free(c->rec_hdr);
    c->rec_hdr = l->hdr;
    l->hdr = NULL;
    atomic_store(&h->state_rev, rev);
    c->gen++;
    c->persisted_gen = c->gen;
    if (all != NULL)
        counters_from_full_read(c, all);
    pthread_mutex_unlock(&c->lock);
    datakey_installed(h->dk, h->kid, c->dek);
    core_snap_put(old);
}

/* The counters of a read of everything under the prefix (install at
 * start or resynchronisation): every counter into the cache, and one the
 * memory holds (this epoch) that the read lacks was deleted under the
 * counterKey in use, i.e. rolled back to 0. Caller holds c->lock. */
static void counters_from_full_read(struct core *c, const struct etcd_kvs *kvs)
{
    struct core_ha *h = c->ha;
    json_t *present = json_object();
    for (size_t i = 0; i < kvs->n; i++) {
        const char *rest = NULL;
        enum kkind k = classify(h, kvs->kv[i].key, &rest);
        if (k == K_ACT || k == K_MONO) {
            counter_kv(c, &kvs->kv[i], false);
            json_object_set_new(present, mem_name(h, kvs->kv[i].key), json_true());
        }
    }
    /* a counter the memory holds (this epoch) that etcd no longer has:
     * deleted under the counterKey in use, i.e. rolled back to 0 */
    const char *mn;
    json_t *mv;
    void *tmp;
    json_t *absent = json_object();
    json_object_foreach_safe(h->mem.ctr, tmp, mn, mv) {
        if (present != NULL && absent != NULL && json_object_get(present, mn) == NULL)
            json_object_set_new(absent, mn, json_true());
    }
    json_object_foreach(absent, mn, mv) {
        bool act = strncmp(mn, "act/", 4) == 0;
        char key[PREFIX_MAX + 1400];
        snprintf(key, sizeof(key), "%s%s", h->prefix, mn);
        const char *rid = NULL;
        /* an earlier layout's "act/<hex>" (one key per type) names no part: ignored */
        char *name = act ? act_name_of(mn + 4, &rid) : name_of(mn + 5);
        if (name != NULL && !counter_fresh(c, act, key, name, 0, true, kvs->revision)) {
            if (act)
                part_at_least(c, name, rid, key);
            else
                mono_at_least(c, key, name);
        }
        free(name);
    }
    json_decref(absent);
    json_decref(present);
    h->act_all_known = kvs->revision;   /* every part existing then is cached */
}

/* Saves the memory (sealed, in the seal directory) now: after a state is
 * accepted (synchronously: the next start must not accept an older one),
 * and from the flush thread for counters. Not under c->persist's callers'
 * c->lock. */
static void mem_save(struct core *c)
{
    struct core_ha *h = c->ha;
    if (h->mem_dir[0] == '\0')
        return;
    pthread_mutex_lock(&h->mem_lock);
    struct hwm copy;
    int rc = hwm_init(&copy);
    pthread_mutex_lock(&c->lock);
    if (rc == 0)
        rc = hwm_merge(&copy, &h->mem);
    h->mem_dirty = false;
    pthread_mutex_unlock(&c->lock);
    struct cairn_error e = {0};
    if (rc == 0)
        rc = hwm_save(h->seal, h->mem_dir, h->prefix, &copy, &e);
    if (rc != 0) {
        static _Atomic time_t logged;
        /* a lock held by a replica sharing the directory: just later */
        if (rc != CAIRN_ERR_TIMEOUT && atomic_exchange(&logged, time(NULL)) != time(NULL))
            LOG_WARN("etcd: saving the replica's memory of accepted values failed (%s): a restart may not detect a "
                     "rollback of the newest values", e.code ? cairn_error_msg(&e) : cairn_strerror(rc));
        pthread_mutex_lock(&c->lock);
        h->mem_dirty = true;   /* try again at the next flush */
        pthread_mutex_unlock(&c->lock);
    }
    hwm_clear(&copy);
    pthread_mutex_unlock(&h->mem_lock);
}

/* A state was accepted: the flush thread saves the memory now, off the
 * watch and commit paths (a save is a file write with fsync; the watch must
 * not lag behind by one per state change). */
static void mem_kick(struct core *c)
{
    struct core_ha *h = c->ha;
    pthread_mutex_lock(&c->lock);
    h->mem_dirty = true;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_lock(&h->stop_lock);
    h->mem_kick = true;
    pthread_cond_signal(&h->mem_cond);
    pthread_mutex_unlock(&h->stop_lock);
}

/* Checks a state value against the memory before it is installed; refuses
 * (and records) an older one. Caller holds c->persist. */
static bool state_fresh(struct core *c, const struct loaded *l, int64_t rev)
{
    struct core_ha *h = c->ha;
    pthread_mutex_lock(&c->lock);
    enum hwm_verdict v = hwm_state_check(&h->mem, l->gen, l->digest);
    if (v == HWM_OLDER || v == HWM_FORK) {
        char seen[96];
        snprintf(seen, sizeof(seen), "generation %" PRIu64 "%s", l->gen,
                 v == HWM_FORK ? " with other contents than the one accepted" : "");
        refuse_state(c, rev, seen);
    }
    pthread_mutex_unlock(&c->lock);
    return v == HWM_NEWER || v == HWM_SAME;
}

/* A peer committed the state at kv->mod_rev: reload it (watch thread). */
static void reload(struct core *c, const struct etcd_kv *kv)
{
    struct core_ha *h = c->ha;
    pthread_mutex_lock(&c->persist);
    if (kv->mod_rev <= atomic_load(&h->state_rev)) {
        pthread_mutex_unlock(&c->persist);
        return;   /* this replica's own commit, or older */
    }
    /* cheap first: a generation below the accepted one is refused without
     * decrypting (whether it is genuine or its clear copy forged) */
    const uint8_t *kid0, *sd0;
    size_t sl0;
    uint64_t clear_gen = 0;
    if (state_split(kv->value, kv->value_len, &kid0, &clear_gen, &sd0, &sl0, NULL) == 0) {
        pthread_mutex_lock(&c->lock);
        bool older = clear_gen < h->mem.gen;
        if (older) {
            char seen[48];
            snprintf(seen, sizeof(seen), "generation %" PRIu64, clear_gen);
            refuse_state(c, kv->mod_rev, seen);
        }
        pthread_mutex_unlock(&c->lock);
        if (older) {
            pthread_mutex_unlock(&c->persist);
            return;
        }
    }
    double t0 = now_ms();
    struct loaded l;
    struct cairn_error e = {0};
    bool saved = false;
    int rc = open_state(c, kv, &l, &e);
    if (rc == CAIRN_ERR_NOT_FOUND) {
        pthread_mutex_lock(&c->lock);   /* cannot open it: a recovery here builds above it */
        if (l.gen > h->seen_gen)
            h->seen_gen = l.gen;
        pthread_mutex_unlock(&c->lock);
    }
    if (rc == 0 && !state_fresh(c, &l, kv->mod_rev)) {
        loaded_clear(&l);
    } else if (rc == 0) {
        install(c, &l, kv->mod_rev, NULL);
        saved = true;
        loaded_clear(&l);
        double ms = now_ms() - t0;
        atomic_store(&h->last_reload_ms, ms);
        atomic_fetch_add(&h->n_reloads, 1);
        LOG_INFO("etcd: applied the state a peer committed at revision %" PRId64 " (%.1f ms)", kv->mod_rev, ms);
    } else {
        /* stay on the old snapshot: writes and activations compare its
         * revision and are refused until a state that opens arrives */
        LOG_ERROR("etcd: cannot apply the state committed at revision %" PRId64 ": %s", kv->mod_rev,
                  cairn_error_msg(&e));
        set_error(h, cairn_error_msg(&e));
    }
    pthread_mutex_unlock(&c->persist);
    if (saved)
        mem_kick(c);
}

/* ---- load ---- */

/* Creates the first state (state 2, new root) in etcd; CAIRN_ERR_CONFLICT
 * when another replica created one first. Caller holds c->persist. */
static int create_first(struct core *c, struct cairn_error *err)
{
    struct core_snap *s = NULL;
    int rc = core_fresh_snap(c, false, &s, err);
    if (rc != 0)
        return rc;
    json_t *acts = json_object(), *mono = json_object(), *log = json_array();
    struct core_snap none = {0};   /* expected: "no state yet" (revision 0) */
    rc = acts && mono && log ? ha_commit_state(c, &none, s, NULL, NULL, true, acts, mono, log, 0, err)
                             : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        pthread_mutex_lock(&c->lock);
        struct core_snap *old = c->snap;
        c->snap = s;
        s = NULL;
        json_decref(c->update_log);
        c->update_log = json_incref(log);
        pthread_mutex_unlock(&c->lock);
        core_snap_put(old);
        LOG_INFO("etcd: created the replicated state (state 2, new root certificate) at revision %" PRId64,
                 atomic_load(&c->ha->state_rev));
    }
    core_snap_put(s);
    json_decref(acts);
    json_decref(mono);
    json_decref(log);
    return rc;
}

/* Reads everything under the prefix at one revision and installs it (start
 * and resynchronisation after a compacted watch). *out_rev: that revision.
 * A state older than the memory (or none, when the memory has one) is
 * refused: at the start with an error (the replica does not start), later
 * by keeping the snapshot and refusing writes (refuse_state). */
static int load_all(struct core *c, bool at_start, int64_t *out_rev, struct cairn_error *err)
{
    struct core_ha *h = c->ha;
    for (int attempt = 0; attempt < 5; attempt++) {
        struct etcd_kvs kvs = {0};
        int rc = etcd_get(h->etcd, h->prefix, true, false, &kvs, err);
        if (rc != 0)
            return cairn_err_prefix(err, "reading the replicated state from etcd at %s", etcd_endpoint(h->etcd));
        const struct etcd_kv *st = NULL;
        for (size_t i = 0; i < kvs.n; i++)
            if (strcmp(kvs.kv[i].key, h->k_state) == 0)
                st = &kvs.kv[i];
        pthread_mutex_lock(&c->persist);
        pthread_mutex_lock(&c->lock);
        uint64_t mem_gen = h->mem.gen;
        if (st == NULL && mem_gen > 0)
            refuse_state(c, kvs.revision, "no state at all");
        pthread_mutex_unlock(&c->lock);
        if (st == NULL && mem_gen > 0) {
            pthread_mutex_unlock(&c->persist);
            *out_rev = kvs.revision;
            etcd_kvs_clear(&kvs);
            if (!at_start)
                return 0;
            char path[4200];
            hwm_file_path(h->mem_dir, h->prefix, path, sizeof(path));
            return cairn_errf(err, CAIRN_ERR_VERIFY,
                              "etcd holds no replicated state under %s, but this replica accepted generation %" PRIu64
                              " of it: refusing to create a new state (a rollback or loss of etcd?). If etcd was "
                              "reset on purpose, remove %s",
                              h->prefix, mem_gen, path);
        }
        if (st == NULL) {
            rc = create_first(c, err);
            pthread_mutex_unlock(&c->persist);
            etcd_kvs_clear(&kvs);
            if (rc == CAIRN_ERR_CONFLICT)
                continue;   /* another replica created it first: load that one */
            if (rc == 0) {
                *out_rev = atomic_load(&h->state_rev);
                pthread_mutex_lock(&c->lock);
                h->act_all_known = *out_rev;
                pthread_mutex_unlock(&c->lock);
            }
            return rc;
        }
        struct loaded l;
        rc = open_state(c, st, &l, err);
        if (rc == CAIRN_ERR_NOT_FOUND && l.gen < mem_gen) {
            /* not openable here, and its generation (in the clear) is below
             * what this replica accepted: refused like an older state */
            char seen[48];
            snprintf(seen, sizeof(seen), "generation %" PRIu64, l.gen);
            pthread_mutex_lock(&c->lock);
            refuse_state(c, st->mod_rev, seen);
            pthread_mutex_unlock(&c->lock);
            pthread_mutex_unlock(&c->persist);
            *out_rev = kvs.revision;
            etcd_kvs_clear(&kvs);
            return at_start ? cairn_errf(err, CAIRN_ERR_VERIFY, "%s", h->refused_msg) : 0;
        }
        if (rc == CAIRN_ERR_NOT_FOUND) {
            /* no data key for this state here: recovery (state 1) */
            pthread_mutex_lock(&c->lock);
            if (l.gen > h->seen_gen)
                h->seen_gen = l.gen;   /* a recovery or new manifest here builds above it */
            pthread_mutex_unlock(&c->lock);
            LOG_WARN("etcd: no data key for the replicated state: %s", cairn_error_msg(err));
            struct core_snap *s = NULL;
            gov_recovery_start(c);
            rc = core_fresh_snap(c, true, &s, err);
            if (rc == 0) {
                s->store_rev = st->mod_rev;
                pthread_mutex_lock(&c->lock);
                struct core_snap *old = c->snap;
                c->snap = s;
                atomic_store(&h->state_rev, st->mod_rev);
                pthread_mutex_unlock(&c->lock);
                core_snap_put(old);
                LOG_WARN("the replicated state cannot be opened by this replica: Coordinator in recovery mode "
                         "(state 1); recover the state or set a new manifest (which discards the old state)");
            }
            pthread_mutex_unlock(&c->persist);
            *out_rev = kvs.revision;
            etcd_kvs_clear(&kvs);
            if (rc == 0)
                gov_recovery_wait(c);
            return rc;
        }
        if (rc != 0) {
            pthread_mutex_unlock(&c->persist);
            etcd_kvs_clear(&kvs);
            return cairn_err_prefix(err, "loading the replicated state");
        }
        if (!state_fresh(c, &l, st->mod_rev)) {
            loaded_clear(&l);
            pthread_mutex_unlock(&c->persist);
            *out_rev = kvs.revision;
            etcd_kvs_clear(&kvs);
            return at_start ? cairn_errf(err, CAIRN_ERR_VERIFY, "%s", h->refused_msg) : 0;
        }
        int64_t srev = st->mod_rev;
        atomic_store(&h->state_rev, 0);   /* install anew whatever was there */
        install(c, &l, srev, &kvs);
        loaded_clear(&l);
        for (size_t i = 0; i < kvs.n; i++) {
            const char *rest = NULL;
            if (classify(h, kvs.kv[i].key, &rest) == K_REPLICA)
                replica_event(h, &kvs.kv[i], rest, false);
        }
        mem_kick(c);
        pthread_mutex_unlock(&c->persist);
        *out_rev = kvs.revision;
        etcd_kvs_clear(&kvs);
        return 0;
    }
    return cairn_errf(err, CAIRN_ERR_CONFLICT, "etcd: the replicated state kept changing while loading");
}

/* ---- commit of the state ---- */

int ha_commit_state(struct core *c, const struct core_snap *expected, struct core_snap *next, const uint8_t *new_dek,
                    const char *new_hdr, bool replace_counters, json_t *acts, json_t *mono, json_t *log,
                    int64_t counters_rev, struct cairn_error *err)
{
    struct core_ha *h = c->ha;
    uint8_t dek[32], kid[DATAKEY_ID_SIZE], ctr[32];
    bool new_kid = new_dek != NULL || !c->have_dek || !h->have_kid;
    if (!h->have_ctr)
        replace_counters = true;   /* the first state: no counters yet */
    if (new_dek != NULL)
        memcpy(dek, new_dek, 32);
    else if (!new_kid)
        memcpy(dek, c->dek, 32);
    else if (cc_random(dek, 32) != 0)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "no randomness");
    if (new_kid ? cc_random(kid, sizeof(kid)) != 0 : (memcpy(kid, h->kid, sizeof(kid)), 0))
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "no randomness");
    if (replace_counters ? cc_random(ctr, 32) != 0 : (memcpy(ctr, h->ctr_key, 32), 0))
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "no randomness");
    const char *hdr = new_dek != NULL ? new_hdr : c->rec_hdr;
    /* the new state's generation: above everything this replica accepted or
     * saw (a state it cannot open, in recovery), so no replica that
     * remembers an older one takes it for a rollback */
    pthread_mutex_lock(&c->lock);
    uint64_t gen = h->state_gen;
    if (h->mem.gen > gen)
        gen = h->mem.gen;
    if (h->seen_gen > gen)
        gen = h->seen_gen;
    gen++;
    bool refused = h->state_refused;
    char refused_msg[sizeof(h->refused_msg)];
    snprintf(refused_msg, sizeof(refused_msg), "%s", h->refused_msg);
    pthread_mutex_unlock(&c->lock);
    if (refused || gen > HWM_GEN_MAX) {
        cc_wipe(dek, sizeof(dek));
        cc_wipe(ctr, sizeof(ctr));
        return refused ? cairn_errf(err, CAIRN_ERR_NETWORK, "%s; nothing was changed", refused_msg)
                       : cairn_errf(err, CAIRN_ERR_INTERNAL, "the state generation is exhausted");
    }
    json_t *empty_a = json_object(), *empty_m = json_object();
    char *doc = NULL;
    size_t dl = 0;
    uint8_t *val = NULL;
    size_t vl = 0;
    int rc = empty_a && empty_m ? core_doc_build(c, next, empty_a, empty_m, log, ctr, gen, &doc, &dl)
                                : CAIRN_ERR_NOMEM;
    json_decref(empty_a);
    json_decref(empty_m);
    if (rc == 0)
        rc = state_value(kid, gen, dek, hdr, doc, dl, &val, &vl);
    if (doc != NULL)
        cc_free_secret(doc, dl);
    if (rc != 0) {
        cc_wipe(dek, sizeof(dek));
        return cairn_errf(err, rc, "serialising the state failed");
    }
    /* publish the key before any replica can see a state sealed under it */
    struct datakey_guard guard = {0};
    if (new_kid && (rc = datakey_publish(h->dk, kid, dek, NULL, &guard, err)) != 0) {
        free(val);
        cc_wipe(dek, sizeof(dek));
        return cairn_err_prefix(err, "publishing the data key");
    }
    /* with a new key, the entries of every other key id go in the same
     * transaction: it commits only against the state it was computed from,
     * so a concurrent commit (of another new id) fails instead of losing
     * its key, and the new id's entries are never touched */
    struct datakey_retire retire;
    struct etcd_op retire_ops[2];
    size_t n_retire = new_kid ? datakey_retire_ops(h->dk, kid, &retire, retire_ops) : 0;
    /* ops: the state first (a watching peer then knows the new counterKey
     * before it sees the counters), then the counters replaced: this
     * replica's parts and the monotonic counters put, everything else under
     * act/ and mono/ deleted. etcd refuses a put inside a delete range of
     * the same transaction ("duplicate key given in txn request"), so the
     * deletes are the gaps between the puts. */
    size_t n_ctr = replace_counters ? json_object_size(acts) + json_object_size(mono) : 0;
    size_t n_del = replace_counters ? n_ctr + 2 : 0;
    struct etcd_op *ops = calloc(2 + n_retire + n_ctr + n_del, sizeof(*ops));
    char (*keys)[PREFIX_MAX + 600] = calloc(n_ctr + 2 * n_del + 1, sizeof(*keys));
    uint8_t **vals = calloc(n_ctr + 1, sizeof(*vals));
    size_t *vlens = calloc(n_ctr + 1, sizeof(*vlens));
    size_t n_ops = 0;
    if (ops == NULL || keys == NULL || vals == NULL || vlens == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        ops[n_ops++] = (struct etcd_op){.kind = ETCD_OP_PUT, .key = h->k_state, .value = val, .value_len = vl};
        if (n_retire > 0) {
            /* what is there before the deletes, for the log */
            ops[n_ops++] = (struct etcd_op){.kind = ETCD_OP_GET, .key = retire.list, .prefix = true, .keys_only = true};
            for (size_t i = 0; i < n_retire; i++)
                ops[n_ops++] = retire_ops[i];
        }
        if (replace_counters) {
            size_t i = 0;
            for (int pass = 0; pass < 2 && rc == 0; pass++) {
                const char *name;
                json_t *v;
                json_object_foreach(pass == 0 ? acts : mono, name, v) {
                    uint64_t x = 0;
                    if (pass == 0)
                        x = (uint64_t)json_integer_value(v);
                    else if (json_is_string(v))
                        x = strtoull(json_string_value(v), NULL, 10);
                    if ((rc = pass == 0 ? act_key_of(h, name, h->self.id, keys[i], sizeof(keys[0]))
                                        : key_of(h, "mono", name, keys[i], sizeof(keys[0]))) != 0 ||
                        (rc = ctr_seal(ctr, keys[i], x, &vals[i], &vlens[i])) != 0) {
                        rc = cairn_errf(err, rc, "sealing a counter failed");
                        break;
                    }
                    i++;
                }
            }
            /* sorted put keys; deletes [lo, k1), [k1 "\x01", k2), ..., [kn "\x01", hi) per area */
            size_t *ord = rc == 0 ? calloc(n_ctr + 1, sizeof(*ord)) : NULL;
            if (rc == 0 && ord == NULL)
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            for (size_t a = 0; a < n_ctr && ord != NULL; a++) {
                size_t b = a;
                while (b > 0 && strcmp(keys[ord[b - 1]], keys[a]) > 0) {
                    ord[b] = ord[b - 1];
                    b--;
                }
                ord[b] = a;
            }
            size_t nk = n_ctr;
            for (int area = 0; area < 2 && rc == 0; area++) {
                char *lo = keys[nk++], *hi = keys[nk++];
                snprintf(lo, sizeof(keys[0]), "%s%s", h->prefix, area == 0 ? "act/" : "mono/");
                snprintf(hi, sizeof(keys[0]), "%s%s", h->prefix, area == 0 ? "act0" : "mono0");
                const char *from = lo;
                for (size_t j = 0; j <= n_ctr; j++) {
                    const char *k = j < n_ctr ? keys[ord[j]] : NULL;
                    if (k != NULL && (strcmp(k, lo) < 0 || strcmp(k, hi) >= 0))
                        continue;   /* the other area */
                    const char *to = k != NULL ? k : hi;
                    if (strcmp(from, to) < 0)
                        ops[n_ops++] = (struct etcd_op){.kind = ETCD_OP_DEL, .key = from, .range_end = to};
                    if (k != NULL) {
                        char *succ = keys[nk++];
                        snprintf(succ, sizeof(keys[0]), "%s\x01", k);
                        from = succ;
                    }
                }
            }
            for (size_t j = 0; j < n_ctr && rc == 0; j++)
                ops[n_ops++] = (struct etcd_op){.kind = ETCD_OP_PUT, .key = keys[j], .value = vals[j],
                                                .value_len = vlens[j]};
            free(ord);
        }
    }
    struct etcd_txn_result r = {0};
    if (rc == 0) {
        /* optimistic concurrency: the state this change was computed from */
        struct etcd_cmp cmp[4] = {{.key = h->k_state,
                                   .target = expected->store_rev == 0 ? ETCD_CMP_CREATE : ETCD_CMP_MOD,
                                   .rev = expected->store_rev}};
        size_t n_cmp = 1;
        /* counters carried over from a read: none changed since (a replica
         * that still serves could have activated meanwhile) */
        char act_range[PREFIX_MAX + 8], mono_range[PREFIX_MAX + 8];
        area_of(h, "act", act_range);
        area_of(h, "mono", mono_range);
        if (replace_counters && counters_rev > 0) {
            cmp[n_cmp++] = (struct etcd_cmp){.key = act_range, .target = ETCD_CMP_MOD, .rev = counters_rev + 1,
                                             .result = ETCD_CMP_LESS, .prefix = true};
            cmp[n_cmp++] = (struct etcd_cmp){.key = mono_range, .target = ETCD_CMP_MOD, .rev = counters_rev + 1,
                                             .result = ETCD_CMP_LESS, .prefix = true};
        }
        /* and the new key's copy is still the one published above: a copy
         * deleted meanwhile fails the commit, never a state without a key */
        if (new_kid && guard.key[0] != '\0')
            cmp[n_cmp++] = (struct etcd_cmp){.key = guard.key, .target = ETCD_CMP_MOD, .rev = guard.rev};
        rc = etcd_txn(h->etcd, cmp, n_cmp, ops, n_ops, NULL, 0, &r, err);
        if (rc != 0)
            cairn_err_prefix(err, "the replicated state store (etcd) is unavailable; nothing was changed unless "
                                  "the error says the outcome is unknown");
        else if (!r.succeeded) {
            rc = cairn_errf(err, CAIRN_ERR_CONFLICT,
                            "the state was changed by another Coordinator replica meanwhile (revision %" PRId64
                            " is no longer current); nothing was changed: retry",
                            expected->store_rev);
            /* definitely not committed: no state names the new id, so its
             * copy published above goes (a timeout leaves it: the commit may
             * have happened; the next key change deletes it otherwise) */
            struct cairn_error fe = {0};
            if (new_kid && datakey_forget(h->dk, kid, &fe) != 0)
                LOG_WARN("etcd: withdrawing the unused data key failed (%s); the next key change deletes it",
                         cairn_error_msg(&fe));
        }
    }
    if (rc == 0 && n_retire > 0) {
        size_t gone = 0;
        char hex[2 * DATAKEY_ID_SIZE + 1];
        kid_hex(kid, hex);
        size_t kl = strlen(retire.list);
        for (size_t i = 0; r.n_gets > 0 && i < r.gets[0].n; i++)
            if (strncmp(r.gets[0].kv[i].key, retire.list, kl) != 0 ||
                strncmp(r.gets[0].kv[i].key + kl, hex, 2 * DATAKEY_ID_SIZE) != 0)
                gone++;
        if (gone > 0)
            LOG_INFO("etcd: data key %s in use; deleted the sealed copies of the data keys the state no longer "
                     "names (%zu entr%s), in the same transaction",
                     hex, gone, gone == 1 ? "y" : "ies");
    }
    if (rc == 0) {
        next->store_rev = r.revision;
        pthread_mutex_lock(&c->lock);
        memcpy(c->dek, dek, 32);
        c->have_dek = true;
        memcpy(h->kid, kid, sizeof(kid));
        h->have_kid = true;
        if (replace_counters)
            h->ctr_epoch++;
        memcpy(h->ctr_key, ctr, 32);
        h->have_ctr = true;
        /* remember what was committed: the state, and with new counters
         * their epoch and values */
        uint8_t digest[32], epoch[32];
        cc_sha256(val, vl, digest);
        hwm_epoch_of(ctr, epoch);
        hwm_state_accept(&h->mem, gen, digest, epoch);
        h->state_gen = gen;
        if (replace_counters) {
            json_object_clear(h->act_parts);
            json_object_clear(h->act_known);
            json_object_clear(h->mono_rev);
            json_object_clear(h->ctr_refused);
            json_object_clear(c->activations);
            /* what was put: n_ctr keys, acts' then mono's, in order */
            for (size_t i = 0; i < n_ctr; i++) {
                uint64_t x = 0;
                ctr_open(ctr, keys[i], vals[i], vlens[i], &x);
                hwm_counter_accept(&h->mem, mem_name(h, keys[i]), x);
            }
            const char *name;
            json_t *v;
            /* this replica's parts; their versions come with the next read
             * (a part that existed before was not deleted, so it is not 1).
             * The transaction deleted every other part: the cache is
             * complete at its revision. */
            json_object_foreach(acts, name, v) part_set(c, name, h->self.id, (uint64_t)json_integer_value(v), -1,
                                                        r.revision);
            json_object_foreach(mono, name, v) json_object_set_new(h->mono_rev, name, json_integer(r.revision));
            h->act_all_known = r.revision;
        }
        atomic_store(&h->state_rev, r.revision);
        pthread_mutex_unlock(&c->lock);
        if (new_dek != NULL) {
            free(c->rec_hdr);
            c->rec_hdr = new_hdr != NULL ? strdup(new_hdr) : NULL;
        }
        c->dek_seal_kind = seal_get_kind(h->seal);
        datakey_installed(h->dk, kid, dek);
        mem_kick(c);
    }
    etcd_txn_result_clear(&r);
    for (size_t i = 0; vals != NULL && i < n_ctr; i++)
        free(vals[i]);
    free(vals);
    free(vlens);
    free(keys);
    free(ops);
    free(val);
    cc_wipe(dek, sizeof(dek));
    cc_wipe(ctr, sizeof(ctr));
    return rc;
}

int ha_recovered_counters(struct core *c, const uint8_t ctr_key[32], json_t *acts, json_t *mono, int64_t *out_rev,
                          struct cairn_error *err)
{
    struct core_ha *h = c->ha;
    char act_range[PREFIX_MAX + 8], mono_range[PREFIX_MAX + 8];
    area_of(h, "act", act_range);
    area_of(h, "mono", mono_range);
    struct etcd_op gets[2] = {{.kind = ETCD_OP_GET, .key = act_range, .prefix = true},
                              {.kind = ETCD_OP_GET, .key = mono_range, .prefix = true}};
    struct etcd_txn_result r = {0};
    int rc = etcd_txn(h->etcd, NULL, 0, gets, 2, NULL, 0, &r, err);
    if (rc != 0)
        return cairn_err_prefix(err, "reading the activation and monotonic counters from etcd");
    if (r.n_gets != 2) {
        etcd_txn_result_clear(&r);
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: reading the counters: unexpected answer");
    }
    for (size_t g = 0; g < 2 && rc == 0; g++) {
        for (size_t i = 0; i < r.gets[g].n && rc == 0; i++) {
            const struct etcd_kv *kv = &r.gets[g].kv[i];
            const char *rest = NULL, *rid = NULL;
            enum kkind k = classify(h, kv->key, &rest);
            char *name = k == K_ACT ? act_name_of(rest, &rid) : k == K_MONO ? name_of(rest) : NULL;
            if (name == NULL)
                continue;   /* not a counter of this layout: never counted */
            uint64_t v = 0;
            if (ctr_open(ctr_key, kv->key, kv->value, kv->value_len, &v) != 0) {
                LOG_WARN("recovery: counter %s does not open under the recovered state's counterKey: %s", kv->key,
                         k == K_ACT ? "its marble type counts as having reached MaxActivations" : "ignored");
                v = k == K_ACT ? (uint64_t)INT64_MAX : 0;
            }
            if (k == K_ACT) {
                uint64_t sum = (uint64_t)json_integer_value(json_object_get(acts, name));
                sum = v > (uint64_t)INT64_MAX - sum ? (uint64_t)INT64_MAX : sum + v;
                if (json_object_set_new(acts, name, json_integer((json_int_t)sum)) != 0)
                    rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            } else if (v > 0) {
                char b[24];
                snprintf(b, sizeof(b), "%" PRIu64, v);
                if (json_object_set_new(mono, name, json_string(b)) != 0)
                    rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            }
            free(name);
        }
    }
    *out_rev = r.revision;
    etcd_txn_result_clear(&r);
    return rc;
}

int ha_read_sealed(struct core *c, uint8_t **out, size_t *out_len, struct cairn_error *err)
{
    struct etcd_kvs kvs = {0};
    int rc = etcd_get(c->ha->etcd, c->ha->k_state, false, false, &kvs, err);
    if (rc != 0)
        return rc;
    const uint8_t *kid, *sd;
    size_t sl;
    uint64_t g = 0;
    if (kvs.n != 1)
        rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND, "etcd: no replicated state");
    else if ((rc = state_split(kvs.kv[0].value, kvs.kv[0].value_len, &kid, &g, &sd, &sl, err)) == 0) {
        pthread_mutex_lock(&c->lock);   /* the recovered state is committed above this generation */
        if (g > c->ha->seen_gen)
            c->ha->seen_gen = g;
        pthread_mutex_unlock(&c->lock);
        uint8_t *b = malloc(sl);
        if (b == NULL)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        else {
            memcpy(b, sd, sl);
            *out = b;
            *out_len = sl;
        }
    }
    etcd_kvs_clear(&kvs);
    return rc;
}

/* ---- activations: group commit ---- */

static void finish(struct act_req *q, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void finish(struct act_req *q, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->msg, sizeof(q->msg), fmt, ap);
    va_end(ap);
    q->rc = rc;
    q->done = true;
}

/* One marble type of a batch: what this replica knows of its parts when
 * an attempt starts, and what the attempt grants.
 *
 * Why parts: with one counter per type, every replica's transaction
 * compared that key's revision, so two replicas activating the same type
 * kept invalidating each other (measured: 0.77 failed transactions per
 * batch with 3 replicas, each one a raft round in etcd). Each replica now
 * writes only its own part, and bounds the others without comparing their
 * exact revisions: a part grows by at most K = ACT_MAX_PER_TXN per
 * version (every replica grants at most that many per transaction), so
 * "version of part P < version_P + 1 + q" bounds P by count_P + K * q from
 * its cached (count_P, version_P). q is chosen so that the cached total +
 * this grant + those bounds stay <= MaxActivations; far from the limit q
 * is generous and peers' commits do not invalidate this one. With more
 * than ACT_PART_CMPS peer parts (replica restarts leave parts behind) one
 * range compare "version of every part < V" does it, with some room lost
 * to the parts' different versions (tgrant_bound). A part this replica has not seen at all would escape the bound:
 * "create_revision of every part <= known" refuses the transaction when
 * one exists (known: the revision through which this replica has seen
 * every part's creation and change). Near the limit V leaves no room and
 * the compare is exact: "mod_revision of every part <= known", i.e. no
 * part changed since this replica's cache was complete (one compare
 * however many parts restarts have left). Nothing is reserved: a part is
 * only ever the count of activations its replica granted. */
struct tgrant {
    const char *type;
    uint64_t max;          /* its MaxActivations */
    uint64_t total;        /* the sum of its parts as cached */
    uint64_t own;          /* this replica's part */
    int64_t own_mod;       /* its mod_revision (0: absent) */
    int64_t own_ver;       /* its version (0: absent, -1: not known yet) */
    int64_t known;         /* every part's state at this revision is cached */
    int64_t vmax;          /* the highest version among the peers' parts */
    uint64_t vgap;         /* the sum over the peers' parts of vmax - version (saturating) */
    size_t npeers;
    char (*peer_rid)[17];  /* the peers' ids and versions (for a bound per part) */
    int64_t *peer_ver;
    bool exact;            /* this attempt compares the peers' parts exactly */
    uint64_t granted;
    char key[PREFIX_MAX + 600];
    char range[PREFIX_MAX + 600];
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Fills tg from the cache. Caller holds c->lock. */
static int tgrant_load(struct core *c, struct tgrant *tg, const char *type, uint64_t max, int64_t watch_known)
{
    struct core_ha *h = c->ha;
    *tg = (struct tgrant){.type = type, .max = max};
    if (act_key_of(h, type, h->self.id, tg->key, sizeof(tg->key)) != 0 ||
        act_range_of(h, type, tg->range, sizeof(tg->range)) != 0)
        return CAIRN_ERR_TOO_LARGE;
    json_t *parts = json_object_get(h->act_parts, type);
    json_int_t k = json_integer_value(json_object_get(h->act_known, type));
    tg->known = k > watch_known ? k : watch_known;
    size_t n = json_object_size(parts);
    if (n > 0 && n <= ACT_PART_CMPS &&
        ((tg->peer_rid = calloc(n, sizeof(*tg->peer_rid))) == NULL ||
         (tg->peer_ver = calloc(n, sizeof(*tg->peer_ver))) == NULL)) {
        free(tg->peer_rid);
        tg->peer_rid = NULL;   /* the range bound serves as well, with some slack lost */
    }
    const char *rid;
    json_t *e;
    json_object_foreach(parts, rid, e) {
        uint64_t cnt = (uint64_t)json_integer_value(json_array_get(e, 0));
        int64_t ver = json_integer_value(json_array_get(e, 1)), mod = json_integer_value(json_array_get(e, 2));
        tg->total = sat_add(tg->total, cnt);
        if (strcmp(rid, h->self.id) == 0) {
            tg->own = cnt;
            tg->own_ver = ver;
            tg->own_mod = mod;
            continue;
        }
        if (tg->peer_rid != NULL && tg->peer_ver != NULL) {
            snprintf(tg->peer_rid[tg->npeers], sizeof(tg->peer_rid[0]), "%s", rid);
            tg->peer_ver[tg->npeers] = ver;
        }
        tg->npeers++;
        if (ver > tg->vmax) {
            uint64_t d = (uint64_t)(ver - tg->vmax), others = tg->npeers - 1;
            tg->vgap = others > 0 && d > UINT64_MAX / others ? UINT64_MAX : sat_add(tg->vgap, d * others);
            tg->vmax = ver;
        } else {
            tg->vgap = sat_add(tg->vgap, (uint64_t)(tg->vmax - ver));
        }
    }
    return 0;
}

static void tgrant_clear(struct tgrant *tg)
{
    free(tg->peer_rid);
    free(tg->peer_ver);
    tg->peer_rid = NULL;
    tg->peer_ver = NULL;
}

/* The room per peer part, in versions, when each part is bounded on its
 * own ("version of part P < version_P + 1 + q"), or 0 when there is none. */
static uint64_t tgrant_per_part(const struct tgrant *tg)
{
    uint64_t base = sat_add(tg->total, tg->granted);
    if (base > tg->max || tg->npeers == 0)
        return 0;
    uint64_t q = (tg->max - base) / ACT_MAX_PER_TXN / tg->npeers;
    return q > ((uint64_t)1 << 40) ? (uint64_t)1 << 40 : q;
}

/* The version bound V for tg's peers (see struct tgrant), or 0 when only
 * an exact compare keeps MaxActivations. */
static int64_t tgrant_bound(const struct tgrant *tg)
{
    uint64_t base = sat_add(tg->total, tg->granted);
    if (base > tg->max)
        return 0;
    uint64_t per = (tg->max - base) / ACT_MAX_PER_TXN;
    /* the range holds this replica's part too: V must exceed its version */
    int64_t top = tg->own_ver > tg->vmax ? tg->own_ver : tg->vmax;
    uint64_t extra = (uint64_t)(top - tg->vmax);
    uint64_t w0 = extra > 0 && tg->npeers > UINT64_MAX / extra ? UINT64_MAX : sat_add(tg->vgap, extra * tg->npeers);
    if (w0 > per)
        return 0;
    uint64_t q = (per - w0) / tg->npeers;
    if (q > ((uint64_t)1 << 40))
        q = (uint64_t)1 << 40;
    return top + 1 + (int64_t)q;
}

/* Runs one batch to completion: every request ends done. */
static void run_batch(struct core *c, struct act_req *batch)
{
    struct core_ha *h = c->ha;
    size_t n = 0;
    for (struct act_req *q = batch; q != NULL; q = q->next)
        n++;
    atomic_fetch_add(&h->n_batches, 1);
    atomic_fetch_add(&h->n_batched, n);
    struct tgrant *tg = calloc(n, sizeof(*tg));
    /* success: a put per type, then a read of each type's parts (the
     * peers' parts are not watched: this is how a replica that activates
     * learns them); failure: the state's key and the same reads */
    struct etcd_op *ok_ops = calloc(2 * n, sizeof(*ok_ops)), *fail_ops = calloc(n + 1, sizeof(*fail_ops));
    uint8_t **vals = calloc(n, sizeof(*vals));
    size_t *vlens = calloc(n, sizeof(*vlens));
    size_t *read_t = calloc(n + 1, sizeof(*read_t));   /* fail_ops[i] (i >= 1) reads type read_t[i] */
    size_t *read_ok = calloc(n, sizeof(*read_ok));     /* the i-th read of ok_ops reads type read_ok[i] */
    if (tg == NULL || ok_ops == NULL || fail_ops == NULL || vals == NULL || vlens == NULL || read_t == NULL ||
        read_ok == NULL) {
        for (struct act_req *q = batch; q != NULL; q = q->next)
            finish(q, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int attempt = 0; attempt < BATCH_ATTEMPTS; attempt++) {
        size_t nt = 0, pending = 0;
        uint8_t ctr[32];
        pthread_mutex_lock(&c->lock);
        int64_t srev = atomic_load(&h->state_rev);
        int64_t wk = h->act_all_known;
        uint64_t epoch = h->ctr_epoch;
        bool have_ctr = h->have_ctr;
        memcpy(ctr, h->ctr_key, 32);
        for (struct act_req *q = batch; q != NULL; q = q->next) {
            if (q->done)
                continue;
            q->granted = false;
            /* etcd shows an older state or counter part than this replica
             * accepted: nothing is decided on it (503 until it is back) */
            const char *why = q->max > 0 ? refused_type(h, q->type) : h->state_refused ? h->refused_msg : NULL;
            if (why != NULL) {
                finish(q, CAIRN_ERR_NETWORK, "%s", why);
                continue;
            }
            if (q->snap_rev != srev) {
                finish(q, CAIRN_ERR_CONFLICT,
                       "the state changed on another Coordinator replica while this activation was served; retry");
                continue;
            }
            if (q->max == 0) {
                pending++;
                continue;
            }
            size_t t = 0;
            while (t < nt && strcmp(tg[t].type, q->type) != 0)
                t++;
            if (t == nt) {
                int lr = h->act_incomplete ? CAIRN_ERR_NOMEM : tgrant_load(c, &tg[t], q->type, q->max, wk);
                if (lr != 0) {
                    tgrant_clear(&tg[t]);
                    finish(q, CAIRN_ERR_INTERNAL, "the activation counters of marble type \"%s\" cannot be "
                           "checked on this replica (%s)", q->type, lr == CAIRN_ERR_NOMEM ? "out of memory" :
                           "name too long");
                    continue;
                }
                nt++;
            }
            if (tg[t].total < q->max && tg[t].granted < q->max - tg[t].total) {
                tg[t].granted++;
                q->granted = true;
                pending++;
            } else {
                finish(q, CAIRN_ERR_PERMISSION,
                       "reached the maximum number of activations (%" PRIu64 ") for marble type \"%s\"", q->max,
                       q->type);
            }
        }
        pthread_mutex_unlock(&c->lock);
        if (pending == 0) {
            cc_wipe(ctr, sizeof(ctr));
            for (size_t t = 0; t < nt; t++)
                tgrant_clear(&tg[t]);
            break;
        }
        /* the compares: the state's revision; per type this replica's part
         * exact, no unseen part, the peers' parts bounded (each, or all by
         * one range compare when there are many) or exact */
        size_t ncmp_max = 1;
        for (size_t t = 0; t < nt; t++)
            ncmp_max += 3 + (tg[t].peer_rid != NULL ? tg[t].npeers : 0);
        struct etcd_cmp *cmp = calloc(ncmp_max, sizeof(*cmp));
        char (*pkeys)[PREFIX_MAX + 600] = calloc(ncmp_max, sizeof(*pkeys));
        size_t ncmp = 0, nput = 0, nok = 0, nfail = 0, npk = 0, nread = 0;
        int rc = 0;
        struct cairn_error e = {0};
        if (cmp == NULL || pkeys == NULL)
            rc = cairn_errf(&e, CAIRN_ERR_NOMEM, "out of memory");
        else {
            cmp[ncmp++] = (struct etcd_cmp){.key = h->k_state, .target = ETCD_CMP_MOD, .rev = srev};
            fail_ops[nfail++] = (struct etcd_op){.kind = ETCD_OP_GET, .key = h->k_state, .keys_only = true};
        }
        for (size_t t = 0; rc == 0 && t < nt; t++) {
            if (tg[t].granted == 0)
                continue;
            if (!have_ctr || ctr_seal(ctr, tg[t].key, tg[t].own + tg[t].granted, &vals[nput], &vlens[nput]) != 0) {
                rc = cairn_errf(&e, CAIRN_ERR_INTERNAL, "sealing the activation counter failed");
                break;
            }
            cmp[ncmp++] = (struct etcd_cmp){.key = tg[t].key, .target = ETCD_CMP_MOD, .rev = tg[t].own_mod};
            cmp[ncmp++] = (struct etcd_cmp){.key = tg[t].range, .target = ETCD_CMP_CREATE, .rev = tg[t].known + 1,
                                            .result = ETCD_CMP_LESS, .prefix = true};
            uint64_t q = tg[t].peer_rid != NULL && ncmp + 2 + tg[t].npeers <= ACT_TXN_CMPS ? tgrant_per_part(&tg[t]) : 0;
            int64_t bound = tg[t].npeers > 0 && q == 0 ? tgrant_bound(&tg[t]) : 0;
            tg[t].exact = tg[t].npeers > 0 && q == 0 && bound == 0;
            for (size_t p = 0; q > 0 && p < tg[t].npeers && rc == 0; p++) {
                /* part P grows by at most K per version: count_P + K * q at most */
                if (act_key_of(h, tg[t].type, tg[t].peer_rid[p], pkeys[npk], sizeof(pkeys[0])) != 0)
                    rc = cairn_errf(&e, CAIRN_ERR_INTERNAL, "activation counter key too long");
                else
                    cmp[ncmp++] = (struct etcd_cmp){.key = pkeys[npk++], .target = ETCD_CMP_VERSION,
                                                    .rev = tg[t].peer_ver[p] + 1 + (int64_t)q,
                                                    .result = ETCD_CMP_LESS};
            }
            if (bound > 0)
                cmp[ncmp++] = (struct etcd_cmp){.key = tg[t].range, .target = ETCD_CMP_VERSION, .rev = bound,
                                                .result = ETCD_CMP_LESS, .prefix = true};
            else if (tg[t].exact)   /* no part changed since the cache was complete */
                cmp[ncmp++] = (struct etcd_cmp){.key = tg[t].range, .target = ETCD_CMP_MOD, .rev = tg[t].known + 1,
                                                .result = ETCD_CMP_LESS, .prefix = true};
            ok_ops[nok++] = (struct etcd_op){.kind = ETCD_OP_PUT, .key = tg[t].key, .value = vals[nput],
                                             .value_len = vlens[nput]};
            nput++;
            read_t[nfail] = t;
            fail_ops[nfail++] = (struct etcd_op){.kind = ETCD_OP_GET, .key = tg[t].range, .prefix = true};
        }
        /* the reads after every put: they show this commit's parts */
        for (size_t t = 0; rc == 0 && t < nt; t++) {
            if (tg[t].granted == 0)
                continue;
            read_ok[nread++] = t;
            ok_ops[nok++] = (struct etcd_op){.kind = ETCD_OP_GET, .key = tg[t].range, .prefix = true};
        }
        cc_wipe(ctr, sizeof(ctr));
        struct etcd_txn_result r = {0};
        if (rc == 0 && nok == 0) {
            /* only unlimited types: a linearizable read shows the snapshot
             * they were served from is still the committed state */
            struct etcd_kvs kvs = {0};
            rc = etcd_get(h->etcd, h->k_state, false, true, &kvs, &e);
            r.succeeded = rc == 0 && kvs.n == 1 && kvs.kv[0].mod_rev == srev;
            if (rc == 0 && !r.succeeded) {
                r.gets = calloc(1, sizeof(*r.gets));
                if (r.gets != NULL) {
                    r.gets[0] = kvs;
                    r.n_gets = 1;
                    memset(&kvs, 0, sizeof(kvs));
                }
            }
            etcd_kvs_clear(&kvs);
        } else if (rc == 0) {
            rc = etcd_txn(h->etcd, cmp, ncmp, ok_ops, nok, fail_ops, nfail, &r, &e);
        }
        free(cmp);
        free(pkeys);
        for (size_t i = 0; i < nput; i++) {
            free(vals[i]);
            vals[i] = NULL;
        }
        if (rc != 0) {
            if (rc != CAIRN_ERR_CONFLICT && rc != CAIRN_ERR_INTERNAL && rc != CAIRN_ERR_NOMEM)
                atomic_fetch_add(&h->n_unavailable, 1);
            bool local = rc == CAIRN_ERR_CONFLICT || rc == CAIRN_ERR_INTERNAL || rc == CAIRN_ERR_NOMEM;
            for (struct act_req *q = batch; q != NULL; q = q->next)
                if (!q->done)
                    finish(q, rc, "%s%s", local ? "" : "the replicated state store (etcd) is unavailable: ",
                           cairn_error_msg(&e));
            etcd_txn_result_clear(&r);
            for (size_t t = 0; t < nt; t++)
                tgrant_clear(&tg[t]);
            break;
        }
        if (r.succeeded) {
            pthread_mutex_lock(&c->lock);
            /* a counterKey changed meanwhile (a manifest set applied from
             * the watch): these counters went with the old one */
            for (size_t t = 0; h->ctr_epoch == epoch && t < nt; t++) {
                if (tg[t].granted == 0)
                    continue;
                int64_t ver = tg[t].own_mod == 0 ? 1 : tg[t].own_ver >= 0 ? tg[t].own_ver + 1 : -1;
                if (hwm_counter_accept(&h->mem, mem_name(h, tg[t].key), tg[t].own + tg[t].granted) == 0)
                    h->mem_dirty = true;
                part_set(c, tg[t].type, h->self.id, tg[t].own + tg[t].granted, ver, r.revision);
            }
            /* every part of those types as of this commit */
            for (size_t k = 0; h->ctr_epoch == epoch && k < nread && k < r.n_gets; k++)
                parts_from_read(c, tg[read_ok[k]].type, &r.gets[k], r.revision);
            pthread_mutex_unlock(&c->lock);
            for (struct act_req *q = batch; q != NULL; q = q->next)
                if (!q->done)
                    finish(q, 0, "ok");
            etcd_txn_result_clear(&r);
            for (size_t t = 0; t < nt; t++)
                tgrant_clear(&tg[t]);
            break;
        }
        /* lost a race: learn what won (every part of the types in the
         * batch, as of r.revision), then try again */
        atomic_fetch_add(&h->n_retries, 1);
        bool state_moved = r.n_gets < 1 || r.gets[0].n != 1 || r.gets[0].kv[0].mod_rev != srev;
        pthread_mutex_lock(&c->lock);
        for (size_t g = 1; !state_moved && h->ctr_epoch == epoch && g < r.n_gets && g < nfail; g++)
            parts_from_read(c, tg[read_t[g]].type, &r.gets[g], r.revision);
        pthread_mutex_unlock(&c->lock);
        etcd_txn_result_clear(&r);
        for (size_t t = 0; t < nt; t++)
            tgrant_clear(&tg[t]);
        if (state_moved) {
            for (struct act_req *q = batch; q != NULL; q = q->next)
                if (!q->done)
                    finish(q, CAIRN_ERR_CONFLICT,
                           "the state changed on another Coordinator replica while this activation was served; "
                           "retry");
            break;
        }
        memset(tg, 0, n * sizeof(*tg));
        if (attempt > 2)
            usleep((useconds_t)(200 + (rand() % 800)));   /* contention: let a peer's batch land */
    }
    for (struct act_req *q = batch; q != NULL; q = q->next)
        if (!q->done)
            finish(q, CAIRN_ERR_CONFLICT, "too many concurrent activations on other replicas; retry");
out:
    free(tg);
    free(ok_ops);
    free(fail_ops);
    free(vals);
    free(vlens);
    free(read_t);
    free(read_ok);
}

int ha_activation_commit(struct core *c, const struct core_snap *s, const char *type, uint64_t max,
                         struct cairn_error *err)
{
    struct core_ha *h = c->ha;
    struct act_req req = {.type = type, .max = max, .snap_rev = s->store_rev};
    pthread_mutex_lock(&h->q_lock);
    *h->q_tail = &req;
    h->q_tail = &req.next;
    while (!req.done) {
        if (!h->committing) {
            /* leader: take what is queued (this request included), at
             * most ACT_MAX_PER_TXN: the rest waits for the next batch */
            h->committing = true;
            struct act_req *batch = h->q_head, **cut = &h->q_head;
            for (int k = 0; k < ACT_MAX_PER_TXN && *cut != NULL; k++)
                cut = &(*cut)->next;
            h->q_head = *cut;
            *cut = NULL;
            if (h->q_head == NULL)
                h->q_tail = &h->q_head;
            pthread_mutex_unlock(&h->q_lock);
            run_batch(c, batch);
            pthread_mutex_lock(&h->q_lock);
            h->committing = false;
            pthread_cond_broadcast(&h->q_cond);
        } else {
            pthread_cond_wait(&h->q_cond, &h->q_lock);
        }
    }
    pthread_mutex_unlock(&h->q_lock);
    if (req.rc != 0)
        return cairn_errf(err, req.rc, "%s", req.msg);
    return 0;
}

/* ---- monotonic counters ---- */

int ha_mono_commit(struct core *c, const char *id, uint64_t value, uint64_t *prev, struct cairn_error *err)
{
    struct core_ha *h = c->ha;
    char key[PREFIX_MAX + 600];
    if (key_of(h, "mono", id, key, sizeof(key)) != 0)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "counter name too long");
    for (int attempt = 0; attempt < BATCH_ATTEMPTS; attempt++) {
        uint8_t ctr[32];
        pthread_mutex_lock(&c->lock);
        const json_t *v = json_object_get(c->mono, id);
        uint64_t cur = json_is_string(v) ? strtoull(json_string_value(v), NULL, 10) : 0;
        int64_t rev = json_integer_value(json_object_get(h->mono_rev, id));
        int64_t srev = atomic_load(&h->state_rev);
        bool have_ctr = h->have_ctr;
        size_t count = json_object_size(c->mono);
        memcpy(ctr, h->ctr_key, 32);
        const char *why = refused_for(h, key);
        char why_copy[400];
        snprintf(why_copy, sizeof(why_copy), "%s", why != NULL ? why : "");
        pthread_mutex_unlock(&c->lock);
        if (why != NULL) {
            cc_wipe(ctr, sizeof(ctr));
            return cairn_errf(err, CAIRN_ERR_NETWORK, "%s", why_copy);
        }
        if (!have_ctr)
            return cairn_errf(err, CAIRN_ERR_STATE, "server is not in expected state");
        if (v == NULL && value > cur && count >= CORE_MONO_MAX_COUNTERS)
            return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "too many monotonic counters (at most %d)",
                              CORE_MONO_MAX_COUNTERS);
        uint8_t *blob = NULL;
        size_t bl = 0;
        if (value > cur && ctr_seal(ctr, key, value, &blob, &bl) != 0) {
            cc_wipe(ctr, sizeof(ctr));
            return cairn_errf(err, CAIRN_ERR_INTERNAL, "sealing the counter failed");
        }
        cc_wipe(ctr, sizeof(ctr));
        struct etcd_cmp cmp[2] = {{.key = h->k_state, .target = ETCD_CMP_MOD, .rev = srev},
                                  {.key = key, .target = ETCD_CMP_MOD, .rev = rev}};
        struct etcd_op put = {.kind = ETCD_OP_PUT, .key = key, .value = blob, .value_len = bl};
        struct etcd_op gets[2] = {{.kind = ETCD_OP_GET, .key = h->k_state, .keys_only = true},
                                  {.kind = ETCD_OP_GET, .key = key}};
        struct etcd_txn_result r = {0};
        int rc = etcd_txn(h->etcd, cmp, 2, &put, blob != NULL ? 1 : 0, gets, 2, &r, err);
        free(blob);
        if (rc != 0)
            return cairn_err_prefix(err, "the replicated state store (etcd) is unavailable");
        if (r.succeeded) {
            pthread_mutex_lock(&c->lock);
            if (value > cur && hwm_counter_accept(&h->mem, mem_name(h, key), value) == 0)
                h->mem_dirty = true;
            if (value > cur && r.revision > json_integer_value(json_object_get(h->mono_rev, id))) {
                char b[24];
                snprintf(b, sizeof(b), "%" PRIu64, value);
                json_object_set_new(c->mono, id, json_string(b));
                json_object_set_new(h->mono_rev, id, json_integer(r.revision));
            }
            pthread_mutex_unlock(&c->lock);
            etcd_txn_result_clear(&r);
            *prev = cur;
            return 0;
        }
        bool state_moved = r.n_gets < 1 || r.gets[0].n != 1 || r.gets[0].kv[0].mod_rev != srev;
        pthread_mutex_lock(&c->lock);
        if (r.n_gets > 1 && r.gets[1].n == 1)
            mono_apply(c, key, id, &r.gets[1].kv[0], false);
        pthread_mutex_unlock(&c->lock);
        etcd_txn_result_clear(&r);
        if (state_moved)
            return cairn_errf(err, CAIRN_ERR_CONFLICT,
                              "the state changed on another Coordinator replica meanwhile; retry");
    }
    return cairn_errf(err, CAIRN_ERR_CONFLICT, "the counter changed concurrently too often; retry");
}

/* ---- watch ---- */

static int on_watch(void *arg, const struct etcd_watch_msg *m)
{
    struct core *c = arg;
    struct core_ha *h = c->ha;
    if (m->compact_revision > 0)
        return CAIRN_ERR_EXPIRED;   /* resynchronise from a full read */
    if (m->canceled)
        return CAIRN_ERR_NETWORK;
    for (size_t i = 0; i < m->n_events; i++) {
        const struct etcd_event *ev = &m->events[i];
        const char *rest = NULL;
        switch (classify(h, ev->kv.key, &rest)) {
        case K_STATE:
            if (ev->type == ETCD_EVENT_PUT)
                reload(c, &ev->kv);
            else {
                LOG_ERROR("etcd: the replicated state key %s was DELETED (revision %" PRId64
                          "): this replica keeps serving its snapshot; restore the state",
                          ev->kv.key, ev->kv.mod_rev);
                pthread_mutex_lock(&c->lock);
                if (c->ha->mem.gen > 0)
                    refuse_state(c, ev->kv.mod_rev, "no state at all (deleted)");
                pthread_mutex_unlock(&c->lock);
            }
            break;
        case K_MONO:
            counter_event(c, &ev->kv, ev->type == ETCD_EVENT_DELETE);
            break;
        case K_REPLICA:
            replica_event(h, &ev->kv, rest, ev->type == ETCD_EVENT_DELETE);
            break;
        case K_ACT:   /* not watched (watch_main): read, never taken from events */
        default:
            break;
        }
    }
    /* how far this replica has seen everything: the last event's revision,
     * or the header of a progress notification. Not the header of the
     * "created" answer, nor of a catch-up message (etcd sends the
     * current revision there while the events may stop earlier) */
    int64_t seen = m->n_events > 0 ? m->events[m->n_events - 1].kv.mod_rev : m->created ? 0 : m->revision;
    if (seen > atomic_load(&h->watch_rev))
        atomic_store(&h->watch_rev, seen);
    return 0;
}

static void nap(struct core_ha *h, int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->stop_lock);
    if (!atomic_load(&h->stop))
        pthread_cond_timedwait(&h->stop_cond, &h->stop_lock, &t);
    pthread_mutex_unlock(&h->stop_lock);
}

/* Watches everything under the prefix except the activation counter parts:
 * "act/" sorts first under it, so the watch starts at "act0", the first key
 * after them. Why: every activation commits a part, and delivering each one
 * to every replica cost etcd (its JSON gateway encodes each event once per
 * watcher) and the replicas CPU per activation (docs/benchmarks.md: etcd
 * 867 -> 766 us per activation with three replicas); yet a replica needs
 * the peers' parts only when it commits activations of the same type, and
 * then reads them in the same transaction (run_batch). Staleness in
 * between is bounded by act_refresh. */
static void *watch_main(void *arg)
{
    struct core *c = arg;
    struct core_ha *h = c->ha;
    time_t logged = 0;
    char from[PREFIX_MAX + 8];
    snprintf(from, sizeof(from), "%sact0", h->prefix);
    while (!atomic_load(&h->stop)) {
        struct cairn_error e = {0};
        int rc = etcd_watch(h->etcd, from, h->prefix, atomic_load(&h->watch_rev) + 1, on_watch, c, &h->stop, &e);
        if (atomic_load(&h->stop))
            break;
        if (rc == CAIRN_ERR_EXPIRED) {
            /* the revisions to catch up on were compacted: read everything */
            int64_t rev = 0;
            LOG_WARN("etcd: watch history compacted: reloading the replicated state");
            if (load_all(c, false, &rev, &e) == 0)
                atomic_store(&h->watch_rev, rev);
            continue;
        }
        if (time(NULL) != logged) {
            LOG_WARN("etcd: watch interrupted (%s); reconnecting from revision %" PRId64, cairn_error_msg(&e),
                     atomic_load(&h->watch_rev) + 1);
            logged = time(NULL);
        }
        nap(h, 200);
    }
    return NULL;
}

/* Saves the counters accepted since the last save (a state is saved when
 * it is accepted), every MEM_FLUSH_MS: activations do not wait for a file
 * write. A replica killed in between forgets at most that much. */
static void *mem_main(void *arg)
{
    struct core *c = arg;
    struct core_ha *h = c->ha;
    while (!atomic_load(&h->stop)) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += MEM_FLUSH_MS / 1000;
        pthread_mutex_lock(&h->stop_lock);
        if (!atomic_load(&h->stop) && !h->mem_kick)
            pthread_cond_timedwait(&h->mem_cond, &h->stop_lock, &t);
        h->mem_kick = false;
        pthread_mutex_unlock(&h->stop_lock);
        pthread_mutex_lock(&c->lock);
        bool dirty = h->mem_dirty;
        pthread_mutex_unlock(&c->lock);
        if (dirty)
            mem_save(c);
    }
    return NULL;
}

/* ---- registry and liveness ---- */

static int put_registry(struct core_ha *h, struct cairn_error *err)
{
    char k[PREFIX_MAX + 64], *v = NULL;
    snprintf(k, sizeof(k), "%sreplicas/%s", h->prefix, h->self.id);
    int rc = registry_value(&h->self, &v, err);
    if (rc != 0)
        return rc;
    struct etcd_op put = {.kind = ETCD_OP_PUT, .key = k, .value = (const uint8_t *)v, .value_len = strlen(v),
                          .lease = h->lease};
    struct etcd_txn_result r = {0};
    rc = etcd_txn(h->etcd, NULL, 0, &put, 1, NULL, 0, &r, err);
    etcd_txn_result_clear(&r);
    free(v);
    return rc;
}

/* Reads every activation counter part (the watch does not carry them,
 * see watch_main), so the peers' activations reach this replica's counts
 * (cairn_activations_committed) and a part rolled back or deleted in etcd is refused
 * within about a second, also on a replica that activates nothing. One
 * read in a transaction that compares the state's revision: the parts
 * belong to the counterKey in use. Upkeep thread. */
static void act_refresh(struct core *c)
{
    struct core_ha *h = c->ha;
    pthread_mutex_lock(&c->lock);
    int64_t srev = atomic_load(&h->state_rev);
    uint64_t epoch = h->ctr_epoch;
    bool go = h->have_ctr && srev > 0 && !h->state_refused;
    pthread_mutex_unlock(&c->lock);
    if (!go)
        return;
    char range[PREFIX_MAX + 8];
    area_of(h, "act", range);
    struct etcd_cmp cmp = {.key = h->k_state, .target = ETCD_CMP_MOD, .rev = srev};
    struct etcd_op get = {.kind = ETCD_OP_GET, .key = range, .prefix = true};
    struct etcd_txn_result r = {0};
    struct cairn_error e = {0};
    int rc = etcd_txn(h->etcd, &cmp, 1, &get, 1, NULL, 0, &r, &e);
    if (rc == 0 && r.succeeded && r.n_gets == 1) {
        pthread_mutex_lock(&c->lock);
        if (h->ctr_epoch == epoch)
            parts_from_read(c, NULL, &r.gets[0], r.revision);
        pthread_mutex_unlock(&c->lock);
    } else if (rc != 0) {
        static _Atomic time_t logged;
        time_t now = time(NULL);
        if (now - atomic_load(&logged) >= 60) {
            atomic_store(&logged, now);
            LOG_WARN("etcd: reading the activation counters failed (%s): the peers' counts shown here may lag",
                     cairn_error_msg(&e));
        }
    }
    etcd_txn_result_clear(&r);
}

/* Every second while etcd answers: the counters' background read and a
 * pending own key copy. A thread of its own, so a slow etcd answer never
 * delays the lease keep-alives of live_main. */
static void *upkeep_main(void *arg)
{
    struct core *c = arg;
    struct core_ha *h = c->ha;
    unsigned n = 0;
    while (!atomic_load(&h->stop)) {
        nap(h, 1000);
        if (atomic_load(&h->stop) || !atomic_load(&h->etcd_ok))
            continue;
        act_refresh(c);
        own_copy_retry(c);
        if (n++ % LEADER_PROBE_S == 0) {
            /* requests go to the raft leader first: a follower forwards
             * them (docs/high-availability.md, "The etcd client") */
            const char *before = etcd_endpoint(h->etcd);
            if (etcd_prefer_leader(h->etcd, LEADER_PROBE_TIMEOUT_MS) >= 0 && etcd_endpoint(h->etcd) != before)
                LOG_INFO("etcd: the raft leader is %s; requests go there first", etcd_endpoint(h->etcd));
        }
    }
    return NULL;
}

static void *live_main(void *arg)
{
    struct core *c = arg;
    struct core_ha *h = c->ha;
    bool was_ok = true;
    while (!atomic_load(&h->stop)) {
        struct cairn_error e = {0};
        int rc = 0;
        pthread_mutex_lock(&h->reg_lock);
        bool reg = h->registered;
        pthread_mutex_unlock(&h->reg_lock);
        if (h->lease != 0) {
            int64_t ttl = 0;
            rc = etcd_lease_keepalive(h->etcd, h->lease, &ttl, &e);
            if (rc == 0 && ttl <= 0)
                h->lease = 0;   /* expired while etcd was unreachable: register anew */
        }
        if (rc == 0 && h->lease == 0 && reg) {
            rc = etcd_lease_grant(h->etcd, REGISTRY_TTL_S, &h->lease, &e);
            if (rc == 0 && (rc = put_registry(h, &e)) != 0)
                h->lease = 0;
        }
        if (rc == 0 && !reg) {   /* not registered yet: still probe etcd for the health flag */
            struct etcd_kvs kvs = {0};
            rc = etcd_get(h->etcd, h->k_state, false, true, &kvs, &e);
            etcd_kvs_clear(&kvs);
        }
        atomic_store(&h->etcd_ok, rc == 0);
        if (rc != 0) {
            set_error(h, cairn_error_msg(&e));
            if (was_ok)
                LOG_WARN("etcd unavailable: %s (writes and activations answer 503 until it is back; reads "
                         "continue from this replica's snapshot)",
                         cairn_error_msg(&e));
        } else if (!was_ok) {
            LOG_INFO("etcd available again");
        }
        was_ok = rc == 0;
        nap(h, 1000);
    }
    return NULL;
}

int ha_register(struct core *c, const char *client_addr, const char *mesh_addr, const char *key_addr,
                struct cairn_error *err)
{
    struct core_ha *h = c->ha;
    if (h == NULL)
        return 0;
    pthread_mutex_lock(&h->reg_lock);
    snprintf(h->self.client, sizeof(h->self.client), "%s", client_addr);
    snprintf(h->self.mesh, sizeof(h->self.mesh), "%s", mesh_addr);
    snprintf(h->self.key, sizeof(h->self.key), "%s", key_addr != NULL ? key_addr : "");
    h->registered = true;
    pthread_mutex_unlock(&h->reg_lock);
    /* first registration now (the liveness thread renews it) */
    int rc = etcd_lease_grant(h->etcd, REGISTRY_TTL_S, &h->lease, err);
    if (rc == 0 && (rc = put_registry(h, err)) != 0)
        h->lease = 0;
    if (rc != 0)
        LOG_WARN("etcd: registering replica %s failed (%s); retrying in the background", h->self.id,
                 cairn_error_msg(err));
    else
        LOG_INFO("etcd: replica %s registered (client %s, mesh %s)", h->self.id, client_addr, mesh_addr);
    if (!h->live_started && pthread_create(&h->live_th, NULL, live_main, c) == 0)
        h->live_started = true;
    if (!h->upkeep_started && pthread_create(&h->upkeep_th, NULL, upkeep_main, c) == 0)
        h->upkeep_started = true;
    return 0;
}

/* ---- open / close ---- */

static bool prefix_ok(const char *p)
{
    size_t n = strlen(p);
    if (n < 2 || n > PREFIX_MAX || p[0] != '/' || p[n - 1] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') ||
              strchr("/_.-", p[i]) != NULL))
            return false;
    return true;
}

int ha_open(struct core *c, struct cairn_error *err)
{
    const struct core_config *cfg = &c->cfg;
    const char *prefix = cfg->etcd_prefix != NULL ? cfg->etcd_prefix : HA_DEFAULT_PREFIX;
    if (!prefix_ok(prefix))
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "--store-prefix \"%s\": expected /[A-Za-z0-9/_.-]/, starting and ending with '/', at most "
                          "%d bytes",
                          prefix, PREFIX_MAX);
    struct core_ha *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    c->ha = h;
    snprintf(h->prefix, sizeof(h->prefix), "%s", prefix);
    snprintf(h->k_state, sizeof(h->k_state), "%sstate", prefix);
    pthread_mutex_init(&h->q_lock, NULL);
    pthread_cond_init(&h->q_cond, NULL);
    pthread_mutex_init(&h->stop_lock, NULL);
    pthread_cond_init(&h->stop_cond, NULL);
    pthread_mutex_init(&h->reg_lock, NULL);
    pthread_mutex_init(&h->mem_lock, NULL);
    pthread_cond_init(&h->mem_cond, NULL);
    h->ctr_refused = json_object();
    h->q_tail = &h->q_head;
    h->act_parts = json_object();
    h->act_known = json_object();
    h->mono_rev = json_object();
    h->replicas = json_object();
    c->activations = json_object();
    c->mono = json_object();
    c->update_log = json_array();
    uint8_t idb[8];
    if (h->act_parts == NULL || h->act_known == NULL || h->mono_rev == NULL || h->replicas == NULL || c->activations == NULL ||
        c->mono == NULL || c->update_log == NULL || h->ctr_refused == NULL || hwm_init(&h->mem) != 0 ||
        cc_random(idb, sizeof(idb)) != 0)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < sizeof(idb); i++)
        snprintf(h->self.id + 2 * i, 3, "%02x", idb[i]);
    snprintf(h->self.version, sizeof(h->self.version), "%s", CAIRN_VERSION);
    h->self.started = (int64_t)time(NULL);
    struct etcd_config ec = {.endpoints = cfg->etcd_endpoints, .ca_file = cfg->etcd_ca, .cert_file = cfg->etcd_cert,
                             .key_file = cfg->etcd_key, .wire = cfg->etcd_gateway ? ETCD_WIRE_GATEWAY : ETCD_WIRE_GRPC};
    int rc = etcd_new(&ec, &h->etcd, err);
    if (rc != 0)
        return rc;
    /* the interim data key provider seals with this machine's seal: the key
     * file (simulation, no TEE, TPM) or SGX's MRSIGNER key (docs: UniqueKey
     * differs per enclave build; replicas of one build share ProductKey) */
    bool key_file = cfg->simulation || c->tee == ATTEST_TPM;
    rc = seal_open(key_file ? SEAL_SIM : SEAL_PRODUCT, cfg->seal_dir, cfg->gramine_dir, &h->seal, err);
    if (rc != 0)
        return cairn_err_prefix(err, "the seal of the data key");
    if ((rc = datakey_sealed_new(h->etcd, h->prefix, h->seal, &h->dk, err)) != 0)
        return rc;
    /* what this replica accepted before it stopped (store/hwm.h): a state
     * or counter older than that is refused */
    if (cfg->seal_dir != NULL && strlen(cfg->seal_dir) < sizeof(h->mem_dir) - 64) {
        snprintf(h->mem_dir, sizeof(h->mem_dir), "%s", cfg->seal_dir);
        bool found = false;
        struct hwm m;
        struct cairn_error me = {0};
        if (hwm_load(h->seal, h->mem_dir, h->prefix, &m, &found, &me) == 0) {
            hwm_clear(&h->mem);
            h->mem = m;
            if (found)
                LOG_INFO("etcd: this replica accepted state generation %" PRIu64 " and %zu counter values before; "
                         "older values in etcd are refused",
                         h->mem.gen, json_object_size(h->mem.ctr));
        } else {
            LOG_WARN("etcd: the replica's memory of accepted values is unusable (%s): starting without it, as a "
                     "new replica (a rollback of etcd before this start is not detected); it is written anew",
                     cairn_error_msg(&me));
        }
    } else {
        LOG_WARN("etcd: no seal directory: this replica does not remember accepted values across restarts");
    }
    int64_t rev = 0;
    h->opening = true;
    rc = load_all(c, true, &rev, err);
    h->opening = false;
    if (rc != 0)
        return rc;
    atomic_store(&h->watch_rev, rev);
    atomic_store(&h->etcd_ok, true);
    if (pthread_create(&h->watch_th, NULL, watch_main, c) != 0)
        return cairn_errf(err, CAIRN_ERR_INTERNAL, "cannot start the etcd watch thread");
    h->watch_started = true;
    if (h->mem_dir[0] != '\0' && pthread_create(&h->mem_th, NULL, mem_main, c) == 0)
        h->mem_started = true;
    LOG_INFO("state on etcd %s (prefix %s, replica %s): revision %" PRId64 ", data key via the %s provider",
             etcd_endpoint(h->etcd), h->prefix, h->self.id, atomic_load(&h->state_rev), h->dk->ops->name);
    return 0;
}

void ha_close(struct core *c)
{
    struct core_ha *h = c->ha;
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->stop_lock);
    atomic_store(&h->stop, true);
    pthread_cond_broadcast(&h->stop_cond);
    pthread_cond_broadcast(&h->mem_cond);
    pthread_mutex_unlock(&h->stop_lock);
    if (h->watch_started)
        pthread_join(h->watch_th, NULL);
    if (h->live_started)
        pthread_join(h->live_th, NULL);
    if (h->upkeep_started)
        pthread_join(h->upkeep_th, NULL);
    if (h->mem_started) {
        pthread_join(h->mem_th, NULL);
        mem_save(c);   /* the last counters accepted */
    }
    if (h->lease != 0 && h->etcd != NULL)
        etcd_lease_revoke(h->etcd, h->lease, NULL);   /* leave the registry at once, not after the TTL */
    datakey_free(h->dk);
    seal_free(h->seal);
    etcd_free(h->etcd);
    json_decref(h->act_parts);
    json_decref(h->act_known);
    json_decref(h->mono_rev);
    json_decref(h->replicas);
    json_decref(h->ctr_refused);
    hwm_clear(&h->mem);
    pthread_mutex_destroy(&h->mem_lock);
    pthread_cond_destroy(&h->mem_cond);
    pthread_mutex_destroy(&h->q_lock);
    pthread_cond_destroy(&h->q_cond);
    pthread_mutex_destroy(&h->stop_lock);
    pthread_cond_destroy(&h->stop_cond);
    pthread_mutex_destroy(&h->reg_lock);
    free(h);
    c->ha = NULL;
}

/* ---- observability ---- */

void ha_metrics(struct core *c, struct cairn_buf *out)
{
    struct core_ha *h = c->ha;
    if (h == NULL)
        return;
    cairn_buf_appendf(out,
                      "# HELP cairn_etcd_up Whether this replica reached etcd (with quorum) in the last second.\n"
                      "# TYPE cairn_etcd_up gauge\ncairn_etcd_up %d\n",
                      atomic_load(&h->etcd_ok) ? 1 : 0);
    cairn_buf_append_str(out, "# HELP cairn_etcd_endpoint_info The etcd member this replica sends its requests to "
                              "first (the raft leader when it answered) and how reads and transactions reach it.\n"
                              "# TYPE cairn_etcd_endpoint_info gauge\ncairn_etcd_endpoint_info{endpoint=\"");
    core_metrics_label(out, etcd_endpoint(h->etcd));
    cairn_buf_appendf(out, "\",wire=\"%s\"} 1\n", etcd_wire_name(h->etcd));
    cairn_buf_appendf(out,
                      "# HELP cairn_etcd_state_revision The etcd revision of the state this replica serves.\n"
                      "# TYPE cairn_etcd_state_revision gauge\ncairn_etcd_state_revision %" PRId64 "\n",
                      atomic_load(&h->state_rev));
    cairn_buf_appendf(out,
                      "# HELP cairn_etcd_activation_batches_total Group commits of activations (transactions).\n"
                      "# TYPE cairn_etcd_activation_batches_total counter\ncairn_etcd_activation_batches_total %" PRIu64
                      "\n# HELP cairn_etcd_activations_batched_total Activations committed in those batches.\n"
                      "# TYPE cairn_etcd_activations_batched_total counter\ncairn_etcd_activations_batched_total %" PRIu64
                      "\n# HELP cairn_etcd_txn_retries_total Batches retried after another replica won the race.\n"
                      "# TYPE cairn_etcd_txn_retries_total counter\ncairn_etcd_txn_retries_total %" PRIu64
                      "\n# HELP cairn_etcd_state_reloads_total States committed by peers and applied here.\n"
                      "# TYPE cairn_etcd_state_reloads_total counter\ncairn_etcd_state_reloads_total %" PRIu64
                      "\n# HELP cairn_etcd_peer_increments_applied_total Activation and monotonic counter values committed by peers and applied here.\n"
                      "# TYPE cairn_etcd_peer_increments_applied_total counter\ncairn_etcd_peer_increments_applied_total %" PRIu64
                      "\n# HELP cairn_etcd_last_reload_seconds Duration of the last state reload.\n"
                      "# TYPE cairn_etcd_last_reload_seconds gauge\ncairn_etcd_last_reload_seconds %.6f\n",
                      (uint64_t)atomic_load(&h->n_batches), (uint64_t)atomic_load(&h->n_batched),
                      (uint64_t)atomic_load(&h->n_retries), (uint64_t)atomic_load(&h->n_reloads),
                      (uint64_t)atomic_load(&h->n_peer_counters), atomic_load(&h->last_reload_ms) / 1e3);
    pthread_mutex_lock(&c->lock);
    uint64_t sgen = h->state_gen;
    int blocked = h->state_refused || json_object_size(h->ctr_refused) > 0;
    pthread_mutex_unlock(&c->lock);
    cairn_buf_appendf(out,
                      "# HELP cairn_etcd_state_generation The generation of the state this replica serves.\n"
                      "# TYPE cairn_etcd_state_generation gauge\ncairn_etcd_state_generation %" PRIu64 "\n"
                      "# HELP cairn_etcd_rollback_refused_total Values in etcd refused because they are older than "
                      "what this replica accepted (a rollback of etcd).\n"
                      "# TYPE cairn_etcd_rollback_refused_total counter\ncairn_etcd_rollback_refused_total %" PRIu64
                      "\n# HELP cairn_etcd_rollback_blocked Whether writes or activations are refused now because etcd "
                      "shows an older value than this replica accepted.\n"
                      "# TYPE cairn_etcd_rollback_blocked gauge\ncairn_etcd_rollback_blocked %d\n",
                      sgen, (uint64_t)atomic_load(&h->n_rollback), blocked);
    /* the committed activation counters as this replica knows them */
    cairn_buf_append_str(out, "# HELP cairn_activations_committed Committed activations of a marble type with "
                              "MaxActivations (cluster-wide, as known to this replica).\n"
                              "# TYPE cairn_activations_committed gauge\n");
    pthread_mutex_lock(&c->lock);
    const char *tname;
    json_t *tv;
    json_object_foreach(c->activations, tname, tv) {
        bool printable = true;
        for (const char *p = tname; *p; p++)
            if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
                printable = false;
        if (printable)
            cairn_buf_appendf(out, "cairn_activations_committed{type=\"%s\"} %lld\n", tname,
                              (long long)json_integer_value(tv));
    }
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_lock(&h->reg_lock);
    cairn_buf_appendf(out,
                      "# HELP cairn_replicas Live Coordinator replicas in the etcd registry.\n"
                      "# TYPE cairn_replicas gauge\ncairn_replicas %zu\n"
                      "# HELP cairn_replica_info A live replica (1) with its addresses; self=\"1\" is this one.\n"
                      "# TYPE cairn_replica_info gauge\n",
                      json_object_size(h->replicas));
    const char *id;
    json_t *v;
    json_object_foreach(h->replicas, id, v) {
        cairn_buf_appendf(out, "cairn_replica_info{id=\"%s\",client=\"%s\",mesh=\"%s\",self=\"%d\"} 1\n", id,
                          json_string_value(json_object_get(v, "client")), json_string_value(json_object_get(v, "mesh")),
                          strcmp(id, h->self.id) == 0);
    }
    pthread_mutex_unlock(&h->reg_lock);
}

json_t *ha_status(struct core *c)
{
    struct core_ha *h = c->ha;
    if (h == NULL)
        return NULL;
    /* rollback refusals: what and why (strings copied under the state lock) */
    pthread_mutex_lock(&c->lock);
    uint64_t sgen = h->state_gen;
    json_t *refused = json_array();
    if (refused != NULL && h->state_refused)
        json_array_append_new(refused, json_string(h->refused_msg));
    const char *rk;
    json_t *rv;
    json_object_foreach(h->ctr_refused, rk, rv) if (refused != NULL) json_array_append(refused, rv);
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_lock(&h->reg_lock);
    json_t *list = json_array();
    const char *id;
    json_t *v;
    json_object_foreach(h->replicas, id, v) {
        json_t *o = json_deep_copy(v);
        json_object_set_new(o, "id", json_string(id));
        json_object_set_new(o, "self", json_boolean(strcmp(id, h->self.id) == 0));
        json_array_append_new(list, o);
    }
    json_t *s = json_pack("{s:s, s:b, s:I, s:o, s:s, s:s, s:s}", "store", "etcd", "etcdAvailable",
                          atomic_load(&h->etcd_ok), "stateRevision", (json_int_t)atomic_load(&h->state_rev),
                          "replicas", list, "replicaID", h->self.id, "etcdEndpoint", etcd_endpoint(h->etcd),
                          "etcdWire", etcd_wire_name(h->etcd));
    if (s != NULL && !atomic_load(&h->etcd_ok))
        json_object_set_new(s, "etcdError", json_string(h->last_error));
    pthread_mutex_unlock(&h->reg_lock);
    if (s != NULL) {
        json_object_set_new(s, "stateGeneration", json_integer((json_int_t)sgen));
        if (json_array_size(refused) > 0)
            json_object_set(s, "rollbackRefused", refused);
    }
    json_decref(refused);
    return s;
}

/* ---- core.h wrappers ---- */

int core_register_replica(struct core *c, const char *client_addr, const char *mesh_addr, const char *key_addr,
                          struct cairn_error *err)
{
    return ha_register(c, client_addr, mesh_addr, key_addr, err);
}

json_t *core_replication_status(struct core *c)
{
    return ha_status(c);
}

int core_replica_key_addrs(struct core *c, char ***out, size_t *out_n, struct cairn_error *err)
{
    return ha_key_peers(c, out, out_n, err);
}
