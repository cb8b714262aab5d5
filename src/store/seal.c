/* Seal providers (simulation key file, Gramine SGX keys) and sealed blobs. */
#include "store/seal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/reader.h"
#include "crypto/crypto.h"

#define SEALED_KEY_MAGIC "CSK1"    /* unbound, versions before issue 13 */
#define SEALED_KEY_MAGIC2 "CSK2"   /* bound to SHA-256(sealed_data) */
#define SIM_KEY_FILE "sim_seal_key"

struct seal {
    enum seal_kind kind;
    uint8_t key[32];
};

const char *seal_kind_name(enum seal_kind k)
{
    switch (k) {
    case SEAL_SIM: return "simulation";
    case SEAL_PRODUCT: return "ProductKey";
    case SEAL_UNIQUE: return "UniqueKey";
    }
    return "unknown";
}

enum seal_kind seal_get_kind(const struct seal *s)
{
    return s->kind;
}

static int open_sim(const char *seal_dir, uint8_t key[32], struct cairn_error *err)
{
    char p[4096];
    if (seal_dir == NULL || snprintf(p, sizeof(p), "%s/%s", seal_dir, SIM_KEY_FILE) >= (int)sizeof(p))
        return cairn_errf(err, CAIRN_ERR_INVALID, "seal: invalid seal directory");
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cairn_file_read(p, 64, &data, &len);
    if (rc == 0) {
        if (len != 32) {
            cc_free_secret(data, len);
            return cairn_errf(err, CAIRN_ERR_INVALID, "seal: %s must hold 32 bytes, has %zu", p, len);
        }
        memcpy(key, data, 32);
        cc_free_secret(data, len);
        return 0;
    }
    if (rc != CAIRN_ERR_NOT_FOUND)
        return cairn_errf(err, rc, "seal: cannot read %s", p);
    if (cairn_mkdirs(seal_dir, 0700) != 0)
        return cairn_errf(err, CAIRN_ERR_IO, "seal: cannot create %s: %s", seal_dir, strerror(errno));
    uint8_t k[32];
    if (cc_random(k, sizeof(k)) != 0)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "seal: no randomness");
    rc = cairn_file_write_atomic(p, k, sizeof(k), 0600);
    if (rc != 0) {
        cc_wipe(k, sizeof(k));
        return cairn_errf(err, rc, "seal: cannot write %s", p);
    }
    memcpy(key, k, 32);
    cc_wipe(k, sizeof(k));
    return 0;
}

static int open_gramine(enum seal_kind kind, const char *gramine_dir, uint8_t key[32], struct cairn_error *err)
{
    char p[4096];
    const char *name = kind == SEAL_PRODUCT ? "_sgx_mrsigner" : "_sgx_mrenclave";
    snprintf(p, sizeof(p), "%s/keys/%s", gramine_dir != NULL ? gramine_dir : "/dev/attestation", name);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cairn_file_read(p, 64, &data, &len);
    if (rc != 0)
        return cairn_errf(err, rc, "seal: cannot read the SGX sealing key %s (not running in Gramine SGX?)", p);
    if (len != 16) {
        cc_free_secret(data, len);
        return cairn_errf(err, CAIRN_ERR_INVALID, "seal: %s must hold 16 bytes, has %zu", p, len);
    }
    /* Gramine hands out 128-bit keys; the DEK wrap wants 256 bits. */
    static const char info[] = "cairn sealed_key v1";
    rc = cc_hkdf_sha256(data, len, NULL, 0, info, sizeof(info) - 1, key, 32);
    cc_free_secret(data, len);
    return rc == 0 ? 0 : cairn_errf(err, CAIRN_ERR_CRYPTO, "seal: key derivation failed");
}

int seal_open(enum seal_kind kind, const char *seal_dir, const char *gramine_dir, struct seal **out,
              struct cairn_error *err)
{
    struct seal *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    int rc;
    if (kind == SEAL_SIM)
        rc = open_sim(seal_dir, s->key, err);
    else if (kind == SEAL_PRODUCT || kind == SEAL_UNIQUE)
        rc = open_gramine(kind, gramine_dir, s->key, err);
    else
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "seal: unknown provider %d", (int)kind);
    if (rc != 0) {
        cc_free_secret(s, sizeof(*s));
        return rc;
    }
    s->kind = kind;
    *out = s;
    return 0;
}

void seal_free(struct seal *s)
{
    cc_free_secret(s, sizeof(*s));
}

int seal_identity(const struct seal *s, uint8_t out[SEAL_IDENTITY_SIZE])
{
    /* one-way: HKDF of the seal key with a label of its own, so the public
     * name reveals nothing about the key and differs from every key the
     * seal derives for wrapping */
    uint8_t info[32];
    static const char label[] = "cairn seal identity v1";
    memcpy(info, label, sizeof(label) - 1);
    info[sizeof(label) - 1] = (uint8_t)s->kind;
    return cc_hkdf_sha256(s->key, sizeof(s->key), NULL, 0, info, sizeof(label), out, SEAL_IDENTITY_SIZE) == 0
               ? 0
               : CAIRN_ERR_CRYPTO;
}

/* hdr = magic || provider [|| bind]: the AAD of the wrapped DEK */
static int wrap(const struct seal *s, const char *magic, const uint8_t dek[32], const uint8_t *bind, uint8_t **out,
                size_t *out_len, struct cairn_error *err)
{
    uint8_t hdr[5 + 32];
    size_t hl = bind != NULL ? 37 : 5;
    memcpy(hdr, magic, 4);
    hdr[4] = (uint8_t)s->kind;
    if (bind != NULL)
        memcpy(hdr + 5, bind, 32);
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    if (cc_aead_seal(s->key, hdr, hl, dek, 32, &ct, &ct_len) != 0)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "seal: encrypting the data key failed");
    uint8_t *b = malloc(hl + ct_len);
    if (b == NULL) {
        free(ct);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    memcpy(b, hdr, hl);
    memcpy(b + hl, ct, ct_len);
    free(ct);
    *out = b;
    *out_len = hl + ct_len;
    return 0;
}

int seal_wrap_bound(const struct seal *s, const uint8_t dek[32], const uint8_t bind[32], uint8_t **out,
                    size_t *out_len, struct cairn_error *err)
{
    return wrap(s, SEALED_KEY_MAGIC2, dek, bind, out, out_len, err);
}

int seal_wrap(const struct seal *s, const uint8_t dek[32], uint8_t **out, size_t *out_len, struct cairn_error *err)
{
    return wrap(s, SEALED_KEY_MAGIC, dek, NULL, out, out_len, err);
}

enum seal_kind sealed_key_kind(const uint8_t *blob, size_t len)
{
    if (len < 5 || (memcmp(blob, SEALED_KEY_MAGIC, 4) != 0 && memcmp(blob, SEALED_KEY_MAGIC2, 4) != 0))
        return 0;
    return (enum seal_kind)blob[4];
}

int seal_unwrap_ex(const struct seal *s, const uint8_t *blob, size_t len, uint8_t dek[32], uint8_t bind[32],
                   bool *bound, struct cairn_error *err)
{
    size_t hl;
    if (len >= 4 && memcmp(blob, SEALED_KEY_MAGIC2, 4) == 0)
        hl = 37;
    else if (len >= 4 && memcmp(blob, SEALED_KEY_MAGIC, 4) == 0)
        hl = 5;
    else
        return cairn_errf(err, CAIRN_ERR_INVALID, "sealed_key: bad magic (not a Cairn sealed key)");
    if (len != hl + CC_GCM_NONCE + 32 + CC_GCM_TAG)
        return cairn_errf(err, CAIRN_ERR_INVALID, "sealed_key: expected %zu bytes, got %zu",
                          hl + CC_GCM_NONCE + 32 + CC_GCM_TAG, len);
    if (blob[4] != (uint8_t)s->kind)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "sealed_key: sealed with %s, this Coordinator unseals with %s",
                          seal_kind_name((enum seal_kind)blob[4]), seal_kind_name(s->kind));
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int rc = cc_aead_open(s->key, blob, hl, blob + hl, len - hl, &pt, &pt_len);
    if (rc != 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "sealed_key: the sealing key does not open it");
    if (pt_len != 32) {
        cc_free_secret(pt, pt_len);
        return cairn_errf(err, CAIRN_ERR_INVALID, "sealed_key: data key must be 32 bytes");
    }
    memcpy(dek, pt, 32);
    cc_free_secret(pt, pt_len);
    if (bound != NULL)
        *bound = hl == 37;
    if (bind != NULL && hl == 37)
        memcpy(bind, blob + 5, 32);
    return 0;
}

int seal_unwrap(const struct seal *s, const uint8_t *blob, size_t len, uint8_t dek[32], struct cairn_error *err)
{
    return seal_unwrap_ex(s, blob, len, dek, NULL, NULL, err);
}

int sealed_data_seal(const uint8_t dek[32], const uint8_t *recovery, size_t recovery_len, const uint8_t *doc,
                     size_t doc_len, uint8_t **out, size_t *out_len)
{
    if (recovery_len > UINT32_MAX)
        return CAIRN_ERR_TOO_LARGE;
    size_t hdr_len = 4 + recovery_len;
    uint8_t *hdr = malloc(hdr_len);
    if (hdr == NULL)
        return CAIRN_ERR_NOMEM;
    hdr[0] = (uint8_t)recovery_len;
    hdr[1] = (uint8_t)(recovery_len >> 8);
    hdr[2] = (uint8_t)(recovery_len >> 16);
    hdr[3] = (uint8_t)(recovery_len >> 24);
    if (recovery_len > 0)
        memcpy(hdr + 4, recovery, recovery_len);
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    int rc = cc_aead_seal(dek, hdr, hdr_len, doc, doc_len, &ct, &ct_len);
    if (rc != 0) {
        free(hdr);
        return CAIRN_ERR_CRYPTO;
    }
    uint8_t *b = malloc(hdr_len + ct_len);
    if (b == NULL) {
        free(hdr);
        free(ct);
        return CAIRN_ERR_NOMEM;
    }
    memcpy(b, hdr, hdr_len);
    memcpy(b + hdr_len, ct, ct_len);
    free(hdr);
    free(ct);
    *out = b;
    *out_len = hdr_len + ct_len;
    return 0;
}

int sealed_data_open(const uint8_t dek[32], const uint8_t *blob, size_t len, uint8_t **doc, size_t *doc_len,
                     struct cairn_error *err)
{
    struct cairn_reader r;
    cairn_reader_init(&r, blob, len);
    uint32_t rlen;
    const uint8_t *rec;
    if (cairn_reader_u32le(&r, &rlen) != 0 || cairn_reader_bytes(&r, rlen, &rec) != 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "sealed_data: truncated recovery data");
    size_t rest = cairn_reader_remaining(&r);
    if (rest < CC_GCM_NONCE + CC_GCM_TAG)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "sealed_data: ciphertext shorter than nonce and tag");
    const uint8_t *ct;
    cairn_reader_bytes(&r, rest, &ct);
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    if (cc_aead_open(dek, blob, 4 + (size_t)rlen, ct, rest, &pt, &pt_len) != 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "sealed_data: authentication failed (wrong key or modified)");
    *doc = pt;
    *doc_len = pt_len;
    return 0;
}

int sealed_data_header(const uint8_t *blob, size_t len, const uint8_t **hdr, size_t *hdr_len)
{
    struct cairn_reader r;
    cairn_reader_init(&r, blob, len);
    uint32_t rlen;
    const uint8_t *h;
    if (cairn_reader_u32le(&r, &rlen) != 0 || cairn_reader_bytes(&r, rlen, &h) != 0 ||
        cairn_reader_remaining(&r) < CC_GCM_NONCE + CC_GCM_TAG)
        return CAIRN_ERR_TRUNCATED;
    *hdr = h;
    *hdr_len = rlen;
    return 0;
}

#define KEY_CUR "sealed_key"
#define KEY_NEXT "sealed_key.next"
#define KEY_PREV "sealed_key.prev"   /* the backup of versions before the binding: read only */

enum key_outcome {
    KEY_OPENS = 0,
    KEY_ABSENT,       /* no such name */
    KEY_UNBOUND,      /* bound to another sealed_data */
    KEY_NO_SEAL,      /* this machine has no seal of its provider, or it does not open it */
    KEY_BAD,          /* unreadable, or a key whose DEK does not open the data */
    KEY_FOREIGN,      /* not a Cairn sealed key at all (another program's seal directory?) */
};

/* Tries the sealed key `name` on `data` (whose SHA-256 is `h`). */
static enum key_outcome try_key(struct store *st, seal_lookup_fn lookup, void *ctx, const char *name,
                                const uint8_t *data, size_t data_len, const uint8_t h[32], struct sealed_load *out,
                                char *why, size_t why_len)
{
    uint8_t *kb = NULL;
    size_t kl = 0;
    struct cairn_error e = {0};
    int rc = store_get(st, name, &kb, &kl, NULL, &e);
    if (rc != 0) {
        if (rc != CAIRN_ERR_NOT_FOUND)
            snprintf(why, why_len, "%s: %s", name, e.msg);
        return rc == CAIRN_ERR_NOT_FOUND ? KEY_ABSENT : KEY_BAD;
    }
    enum seal_kind kind = sealed_key_kind(kb, kl);
    struct seal *s = kind != 0 ? lookup(ctx, kind, &e) : NULL;
    if (kl >= 37 && memcmp(kb, SEALED_KEY_MAGIC2, 4) == 0 && memcmp(kb + 5, h, 32) != 0) {
        /* bound to other bytes: never used. Only the message tells an older
         * key of this very state (same DEK) from other data. */
        uint8_t k[32];
        uint8_t *d = NULL;
        size_t dl = 0;
        bool same = s != NULL && seal_unwrap_ex(s, kb, kl, k, NULL, NULL, NULL) == 0 &&
                    sealed_data_open(k, data, data_len, &d, &dl, NULL) == 0;
        if (d != NULL)
            cc_free_secret(d, dl);
        cc_wipe(k, sizeof(k));
        free(kb);
        snprintf(why, why_len, "%s is bound to another sealed_data: %s", name,
                 same ? "it is an older sealed_key of this state (restored from a backup: a rollback)"
                      : "sealed_data was modified or replaced, or sealed_key belongs to another state");
        return KEY_UNBOUND;
    }
    if (s == NULL) {
        free(kb);
        snprintf(why, why_len, "%s: %s", name, kind != 0 ? e.msg : "not a Cairn sealed key");
        return kind != 0 ? KEY_NO_SEAL : KEY_FOREIGN;
    }
    uint8_t k[32];
    bool bound = false;
    rc = seal_unwrap_ex(s, kb, kl, k, NULL, &bound, &e);
    free(kb);
    if (rc != 0) {
        snprintf(why, why_len, "%s: %s", name, e.msg);
        return rc == CAIRN_ERR_VERIFY || rc == CAIRN_ERR_UNSUPPORTED ? KEY_NO_SEAL
               : rc == CAIRN_ERR_INVALID                             ? KEY_FOREIGN
                                                                     : KEY_BAD;
    }
    rc = sealed_data_open(k, data, data_len, &out->doc, &out->doc_len, &e);
    if (rc == 0) {
        memcpy(out->dek, k, 32);
        out->kind = kind;
    } else {
        snprintf(why, why_len, "%s: its data key does not open sealed_data (%s)", name, e.msg);
    }
    cc_wipe(k, sizeof(k));
    return rc == 0 ? KEY_OPENS : KEY_BAD;
}

/* Makes `name` the current sealed_key (an atomic rename) and removes the
 * other candidates, so that the next save starts from one key that opens
 * the data on disk. */
static int settle(struct store *st, const char *name, struct cairn_error *err)
{
    int rc = 0;
    if (strcmp(name, KEY_CUR) != 0)
        rc = store_rename(st, name, KEY_CUR, err);
    if (rc == 0 && store_version(st, KEY_NEXT) != 0)
        rc = store_del(st, KEY_NEXT, err);
    if (rc == 0 && store_version(st, KEY_PREV) != 0)
        rc = store_del(st, KEY_PREV, err);
    return rc;
}

void sealed_load_clear(struct sealed_load *l)
{
    if (l->doc != NULL)
        cc_free_secret(l->doc, l->doc_len);
    free(l->hdr);
    cc_wipe(l, sizeof(*l));
}

int sealed_state_load_ex(struct store *st, seal_lookup_fn lookup, void *ctx, struct sealed_load *out,
                         struct cairn_error *err)
{
    memset(out, 0, sizeof(*out));
    uint8_t *data = NULL;
    size_t data_len = 0;
    int rc = store_get(st, "sealed_data", &data, &data_len, NULL, err);
    if (rc == CAIRN_ERR_NOT_FOUND) {
        out->result = SEALED_LOAD_EMPTY;
        return 0;
    }
    if (rc != 0)
        return rc;
    const uint8_t *hdr;
    size_t hdr_len;
    if (sealed_data_header(data, data_len, &hdr, &hdr_len) != 0) {
        free(data);
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "sealed_data: truncated or malformed");
    }
    if (hdr_len > 0 && (out->hdr = malloc(hdr_len)) == NULL) {
        free(data);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    if (hdr_len > 0)
        memcpy(out->hdr, hdr, hdr_len);
    out->hdr_len = hdr_len;
    uint8_t h[32];
    cc_sha256(data, data_len, h);
    static const char *const names[] = {KEY_CUR, KEY_NEXT, KEY_PREV};
    enum key_outcome first = KEY_ABSENT;
    char why[sizeof(out->why)] = "";
    const char *used = NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && used == NULL; i++) {
        char w[sizeof(out->why)] = "";
        enum key_outcome o = try_key(st, lookup, ctx, names[i], data, data_len, h, out, w, sizeof(w));
        if (o == KEY_OPENS)
            used = names[i];
        else if (i == 0 || (first == KEY_ABSENT && o != KEY_ABSENT)) {
            first = o;   /* report sealed_key's failure, or the first present key's */
            snprintf(why, sizeof(why), "%s", w);
        }
    }
    free(data);
    if (used == NULL && first == KEY_FOREIGN) {
        /* not a key of ours: refuse to start rather than enter recovery,
         * where a new manifest would overwrite another program's state */
        sealed_load_clear(out);
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s (a seal directory of another program?)", why);
    }
    if (used == NULL) {
        out->result = SEALED_LOAD_UNSEAL_FAILED;
        snprintf(out->why, sizeof(out->why), "%s",
                 first == KEY_ABSENT ? "sealed_data exists but sealed_key is missing" : why);
        return 0;
    }
    rc = settle(st, used, err);
    if (rc != 0) {
        sealed_load_clear(out);
        return cairn_err_prefix(err, "repairing the sealed key names");
    }
    out->result = SEALED_LOAD_OK;
    return 0;
}

struct one_seal {
    const struct seal *s;
};

static struct seal *lookup_one(void *ctx, enum seal_kind kind, struct cairn_error *err)
{
    const struct seal *s = ((struct one_seal *)ctx)->s;
    if (seal_get_kind(s) != kind) {
        cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "sealed with %s, this Coordinator unseals with %s",
                   seal_kind_name(kind), seal_kind_name(seal_get_kind(s)));
        return NULL;
    }
    return (struct seal *)s;
}

int sealed_state_load(struct store *st, const struct seal *s, enum sealed_load_result *result, uint8_t dek[32],
                      uint8_t **doc, size_t *doc_len, struct cairn_error *err)
{
    struct one_seal one = {s};
    struct sealed_load l;
    int rc = sealed_state_load_ex(st, lookup_one, &one, &l, err);
    if (rc != 0)
        return rc;
    *result = l.result;
    if (l.result == SEALED_LOAD_OK) {
        memcpy(dek, l.dek, 32);
        *doc = l.doc;
        *doc_len = l.doc_len;
        l.doc = NULL;
    }
    sealed_load_clear(&l);
    return 0;
}

/* A sealed_key.next left by a save that failed after step 1 or 3 (no
 * restart since): promote it when it opens the data on disk, else drop it. */
static int settle_next(struct store *st, struct cairn_error *err)
{
    if (store_version(st, KEY_NEXT) == 0)
        return 0;
    uint8_t *data = NULL, *kb = NULL;
    size_t data_len = 0, kl = 0;
    bool promote = false;
    if (store_get(st, "sealed_data", &data, &data_len, NULL, NULL) == 0 &&
        store_get(st, KEY_NEXT, &kb, &kl, NULL, NULL) == 0) {
        uint8_t h[32];
        cc_sha256(data, data_len, h);
        promote = kl >= 37 && memcmp(kb, SEALED_KEY_MAGIC2, 4) == 0 && memcmp(kb + 5, h, 32) == 0;
    }
    free(data);
    free(kb);
    return promote ? store_rename(st, KEY_NEXT, KEY_CUR, err) : store_del(st, KEY_NEXT, err);
}

int sealed_state_save(struct store *st, const struct seal *s, const uint8_t dek[32], const uint8_t *hdr,
                      size_t hdr_len, const uint8_t *doc, size_t doc_len, struct cairn_error *err)
{
    int rc = settle_next(st, err);
    if (rc != 0)
        return cairn_err_prefix(err, "sealed_key.next of an earlier save");
    uint8_t *blob = NULL, *kb = NULL;
    size_t blob_len = 0, kl = 0;
    rc = sealed_data_seal(dek, hdr, hdr_len, doc, doc_len, &blob, &blob_len);
    if (rc != 0)
        return cairn_errf(err, rc, "sealed_data: encryption failed");
    uint8_t h[32];
    cc_sha256(blob, blob_len, h);
    rc = seal_wrap_bound(s, dek, h, &kb, &kl, err);
    if (rc == 0)   /* 1: the key for the new data, beside the current one */
        rc = store_put(st, KEY_NEXT, kb, kl, store_version(st, KEY_NEXT), NULL, err);
    free(kb);
    if (rc == 0) {  /* 2: the commit point */
        rc = store_put(st, "sealed_data", blob, blob_len, store_version(st, "sealed_data"), NULL, err);
        if (rc != 0)
            store_del(st, KEY_NEXT, NULL);   /* the old key still opens the old data */
    }
    free(blob);
    if (rc == 0)   /* 3: a failure here is repaired by the next save or load */
        rc = store_rename(st, KEY_NEXT, KEY_CUR, err);
    if (rc == 0 && store_version(st, KEY_PREV) != 0)
        store_del(st, KEY_PREV, NULL);
    return rc;
}
