/* Internal: what a replica on etcd has accepted (its high-water marks), so a
 * value rolled back in etcd is refused (docs/high-availability.md,
 * "Rollback").
 *
 * Whoever can write to etcd can put back an older value that still
 * authenticates: the sealed state of an earlier generation (a deleted
 * secret, an older manifest, a removed user), or an older activation or
 * monotonic counter (MaxActivations re-opened). Every such value carries its
 * own version, authenticated by its seal:
 *   - the state document its "generation" (src/core/core.c), incremented by
 *     every state change and copied in the clear into the etcd value so a
 *     replica that cannot open the state (recovery) still builds above it;
 *   - a counter its own value: counters only grow while their counterKey
 *     lives (activations add, monotonic counters take the maximum), and a
 *     new counterKey (manifest set, recovery) starts a new epoch whose
 *     values do not open under the old key and vice versa.
 * A replica remembers the highest version it accepted of each (this
 * struct), in memory and sealed in its seal directory, and refuses anything
 * older. A replica without memory accepts what it finds: a rollback done
 * before any remembering replica saw the newer value is not detectable
 * without a trusted monotonic counter.
 *
 * The struct is not locked: the caller (src/core/ha.c) holds its lock.
 * hwm_parse and hwm_blob_split read untrusted bytes (the file could be
 * replaced by whoever has the disk; the seal still authenticates it), with
 * caps; they are fuzzed (tests/fuzz/store/fuzz_hwm.c). */
#ifndef CAIRN_STORE_HWM_H
#define CAIRN_STORE_HWM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"
#include "store/seal.h"

#define HWM_GEN_MAX ((uint64_t)1 << 62)      /* a generation above this is refused (no wrap-around) */
#define HWM_MAX_COUNTERS 200000              /* counters remembered (marble types + monotonic counters) */
#define HWM_MAX_NAME 1300                    /* bytes of one counter name ("act/<hex>") */
#define HWM_MAX_FILE (48u * 1024 * 1024)     /* bytes of the sealed memory file */
#define HWM_FILE_PREFIX "etcd_memory_"

struct hwm {
    uint64_t gen;          /* highest state generation accepted; 0 = none yet */
    uint8_t digest[32];    /* SHA-256 of the etcd value accepted at `gen` */
    uint8_t epoch[32];     /* fingerprint of the counterKey the counters belong to */
    bool has_epoch;
    json_t *ctr;           /* {"act/<hex>" | "mono/<hex>": "decimal"}: highest values accepted in `epoch` */
};

enum hwm_verdict {
    HWM_NEWER = 0,   /* a higher generation: accept */
    HWM_SAME = 1,    /* the very value accepted last (same generation and digest): accept */
    HWM_OLDER = 2,   /* a lower generation: a rollback, refuse */
    HWM_FORK = 3,    /* the same generation with other bytes: two histories, refuse */
};

int hwm_init(struct hwm *m);          /* empty memory; CAIRN_ERR_NOMEM */
void hwm_clear(struct hwm *m);        /* frees; NULL-safe */
const char *hwm_verdict_name(enum hwm_verdict v);

/* The fingerprint of a counterKey (the key itself is never stored). */
void hwm_epoch_of(const uint8_t ctr_key[32], uint8_t out[32]);

/* Compares a state value of generation `gen` and SHA-256 `digest` with the
 * memory. */
enum hwm_verdict hwm_state_check(const struct hwm *m, uint64_t gen, const uint8_t digest[32]);
/* Records an accepted state; its counterKey fingerprint `epoch` (NULL: the
 * state has none) replaces the counters' epoch, and a different epoch
 * forgets the counters of the old one. Never lowers `gen`. */
void hwm_state_accept(struct hwm *m, uint64_t gen, const uint8_t digest[32], const uint8_t *epoch);

/* Whether counter `name` at `value` is at least what was accepted in the
 * current epoch (*have: that value, 0 when none). */
bool hwm_counter_ok(const struct hwm *m, const char *name, uint64_t value, uint64_t *have);
/* Records an accepted counter value (keeps the higher one). */
int hwm_counter_accept(struct hwm *m, const char *name, uint64_t value);

/* Folds `other` (another replica's memory in the same seal directory) into
 * `m`: the higher generation wins; counters of the same epoch take the
 * maximum. Both only ever held values accepted from etcd. */
int hwm_merge(struct hwm *m, const struct hwm *other);

/* The memory as JSON for the sealed file (bound to the key prefix):
 * {"format":"cairn-etcd-memory-v1","prefix":..,"generation":"N","digest":hex,
 *  "epoch":hex (absent: none),"counters":{name:"N"}}. *out: free. */
int hwm_to_json(const struct hwm *m, const char *prefix, char **out, size_t *out_len);
/* Parses that JSON (strictly: types, hex lengths, decimal numbers without
 * sign or leading zeros, caps); a memory of another prefix is refused. */
int hwm_parse(const uint8_t *p, size_t n, const char *prefix, struct hwm *out, struct cairn_error *err);

/* The sealed file: "CHM1" || u32le(len(w)) || w || sd, where sd =
 * sealed_data (seal.h) of the JSON under a random file key and w = that key
 * wrapped by the replica's seal, bound to SHA-256(sd). Splits untrusted
 * bytes (pointers into `p`). */
int hwm_blob_split(const uint8_t *p, size_t n, const uint8_t **w, size_t *wl, const uint8_t **sd, size_t *sdl,
                   struct cairn_error *err);

/* The memory file of `prefix` in `dir` (HWM_FILE_PREFIX + 16 hex of
 * SHA-256(prefix)); writes at most n bytes. */
int hwm_file_path(const char *dir, const char *prefix, char *out, size_t n);
/* Loads the file: 0 and *found=false when there is none; an error when it
 * exists but does not open or parse (the caller decides). */
int hwm_load(const struct seal *seal, const char *dir, const char *prefix, struct hwm *out, bool *found,
             struct cairn_error *err);
/* Writes `m` merged with what the file holds (another replica sharing the
 * directory may have written it), under an exclusive lock, atomically
 * (temporary file, fsync, rename, fsync of the directory). `m` itself is not
 * changed: a replica whose watch lags must not refuse the values its peers
 * accepted before it saw them; the merge matters at the next start, which
 * reads etcd linearizably. A file that does not open is overwritten. */
int hwm_save(const struct seal *seal, const char *dir, const char *prefix, struct hwm *m, struct cairn_error *err);

#endif
