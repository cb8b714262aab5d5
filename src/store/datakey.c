/* The data key interface and its interim provider: the DEK sealed with this
 * machine's seal provider, kept in etcd (datakey.h). */
#include "store/datakey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "store/etcd.h"
#include "store/seal.h"

int datakey_obtain(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], uint8_t out_dek[DATAKEY_SIZE],
                   struct cairn_error *err)
{
    return dk->ops->obtain(dk, id, out_dek, err);
}

int datakey_publish(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t dek[DATAKEY_SIZE],
                    const struct etcd_cmp *also, struct datakey_guard *g, struct cairn_error *err)
{
    if (g != NULL)
        memset(g, 0, sizeof(*g));
    return dk->ops->publish(dk, id, dek, also, g, err);
}

size_t datakey_retire_ops(struct datakey *dk, const uint8_t keep[DATAKEY_ID_SIZE], struct datakey_retire *r,
                          struct etcd_op ops[2])
{
    memset(r, 0, sizeof(*r));
    return dk->ops->retire_ops != NULL ? dk->ops->retire_ops(dk, keep, r, ops) : 0;
}

int datakey_forget(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], struct cairn_error *err)
{
    return dk->ops->forget != NULL ? dk->ops->forget(dk, id, err) : 0;
}

void datakey_installed(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t dek[DATAKEY_SIZE])
{
    if (dk->ops->installed != NULL)
        dk->ops->installed(dk, id, dek);
}

void datakey_free(struct datakey *dk)
{
    if (dk != NULL)
        dk->ops->free(dk);
}

struct sealed_dk {
    struct datakey base;
    struct etcd *etcd;          /* borrowed */
    const struct seal *seal;    /* borrowed */
    char prefix[256];
    char seal_hex[2 * SEAL_IDENTITY_SIZE + 1];   /* this seal's slot */
};

/* The sealed DEK is bound to its id: the bind hash of a CSK2 blob is
 * SHA-256("cairn datakey v1" || id), authenticated by the seal key, so a
 * blob copied under another id does not open. */
static void bind_of(const uint8_t id[DATAKEY_ID_SIZE], uint8_t out[32])
{
    uint8_t b[16 + DATAKEY_ID_SIZE];
    memcpy(b, "cairn datakey v1", 16);
    memcpy(b + 16, id, DATAKEY_ID_SIZE);
    cc_sha256(b, sizeof(b), out);
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* <prefix>datakey/<id hex>, and with `slot` /<seal identity hex> */
static void key_name(const struct sealed_dk *s, const uint8_t id[DATAKEY_ID_SIZE], bool slot, char *out, size_t n)
{
    char hex[2 * DATAKEY_ID_SIZE + 1];
    hex_of(id, DATAKEY_ID_SIZE, hex);
    snprintf(out, n, "%sdatakey/%s%s%s", s->prefix, hex, slot ? "/" : "", slot ? s->seal_hex : "");
}

int datakey_open_blob(const struct seal *seal, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t *blob, size_t len,
                      uint8_t out_dek[DATAKEY_SIZE], struct cairn_error *err)
{
    if (len == 0 || len > DATAKEY_SEALED_MAX)
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "no sealed key (%zu bytes)", len);
    uint8_t bind[32], got[32];
    bool bound = false;
    bind_of(id, bind);
    int rc = seal_unwrap_ex(seal, blob, len, out_dek, got, &bound, err);
    if (rc != 0) {
        /* this machine's seal does not open it: no source here has the key */
        if (err != NULL)
            err->code = CAIRN_ERR_NOT_FOUND;
        return CAIRN_ERR_NOT_FOUND;
    }
    if (!bound || CRYPTO_memcmp(got, bind, 32) != 0) {
        cc_wipe(out_dek, DATAKEY_SIZE);
        return cairn_errf(err, CAIRN_ERR_VERIFY, "sealed for another key id");
    }
    return 0;
}

/* Opens one entry with this seal (datakey_open_blob), the key named. */
static int open_entry(const struct sealed_dk *s, const uint8_t id[DATAKEY_ID_SIZE], const struct etcd_kv *kv,
                      uint8_t out_dek[DATAKEY_SIZE], struct cairn_error *err)
{
    int rc = datakey_open_blob(s->seal, id, kv->value, kv->value_len, out_dek, err);
    if (rc != 0)
        cairn_err_prefix(err, "the sealed data key %s", kv->key);
    return rc;
}

static int get_one(const struct sealed_dk *s, const char *k, struct etcd_kvs *kvs, struct cairn_error *err)
{
    memset(kvs, 0, sizeof(*kvs));
    int rc = etcd_get(s->etcd, k, false, false, kvs, err);
    if (rc == 0 && (kvs->n != 1 || strcmp(kvs->kv[0].key, k) != 0)) {
        etcd_kvs_clear(kvs);
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "no sealed data key %s in etcd", k);
    }
    return rc;
}

static int sealed_obtain(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], uint8_t out_dek[DATAKEY_SIZE],
                         struct cairn_error *err)
{
    struct sealed_dk *s = (struct sealed_dk *)dk;
    /* this seal's own slot first, then the single copy of earlier versions */
    int rc = CAIRN_ERR_NOT_FOUND;
    for (int legacy = 0; legacy < 2 && rc == CAIRN_ERR_NOT_FOUND; legacy++) {
        char k[DATAKEY_KEY_MAX];
        key_name(s, id, !legacy, k, sizeof(k));
        struct etcd_kvs kvs;
        if ((rc = get_one(s, k, &kvs, err)) != 0)
            continue;
        rc = open_entry(s, id, &kvs.kv[0], out_dek, err);
        etcd_kvs_clear(&kvs);
    }
    return rc;
}

/* Writes this seal's copy of `id` (create, or replace an entry in its slot
 * that does not open: junk or a torn write), also depending on `also`. An
 * existing copy that opens to the same DEK is kept (its revision is the
 * guard). */
static int sealed_publish(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t dek[DATAKEY_SIZE],
                          const struct etcd_cmp *also, struct datakey_guard *g, struct cairn_error *err)
{
    struct sealed_dk *s = (struct sealed_dk *)dk;
    char k[DATAKEY_KEY_MAX];
    key_name(s, id, true, k, sizeof(k));
    uint8_t bind[32];
    bind_of(id, bind);
    uint8_t *blob = NULL;
    size_t bl = 0;
    int rc = seal_wrap_bound(s->seal, dek, bind, &blob, &bl, err);
    if (rc != 0)
        return rc;
    struct etcd_cmp c[2] = {{.key = k, .target = ETCD_CMP_CREATE, .rev = 0}};
    size_t nc = 1;
    if (also != NULL)
        c[nc++] = *also;
    struct etcd_op put = {.kind = ETCD_OP_PUT, .key = k, .value = blob, .value_len = bl};
    struct etcd_op fail[2] = {{.kind = ETCD_OP_GET, .key = k}};
    size_t nf = 1;
    if (also != NULL)
        fail[nf++] = (struct etcd_op){.kind = ETCD_OP_GET, .key = also->key, .keys_only = true};
    rc = CAIRN_ERR_CONFLICT;
    for (int attempt = 0; attempt < 3 && rc == CAIRN_ERR_CONFLICT; attempt++) {
        struct etcd_txn_result r = {0};
        if ((rc = etcd_txn(s->etcd, c, nc, &put, 1, fail, nf, &r, err)) != 0)
            break;
        if (r.succeeded) {
            if (g != NULL) {
                snprintf(g->key, sizeof(g->key), "%s", k);
                g->rev = r.revision;
            }
            etcd_txn_result_clear(&r);
            break;
        }
        rc = CAIRN_ERR_CONFLICT;
        const struct etcd_kvs *mine = r.n_gets > 0 ? &r.gets[0] : NULL;
        const struct etcd_kvs *dep = r.n_gets > 1 ? &r.gets[1] : NULL;
        if (also != NULL && (dep == NULL || (dep->n == 0 ? 0 : dep->kv[0].mod_rev) != also->rev)) {
            cairn_errf(err, CAIRN_ERR_CONFLICT, "data key %s: %s changed meanwhile; not stored", k, also->key);
            etcd_txn_result_clear(&r);
            break;
        }
        if (mine != NULL && mine->n == 1) {
            uint8_t have[DATAKEY_SIZE];
            struct cairn_error oe = {0};
            bool same = open_entry(s, id, &mine->kv[0], have, &oe) == 0 && CRYPTO_memcmp(have, dek, 32) == 0;
            cc_wipe(have, sizeof(have));
            if (same) {   /* stored already (an earlier start, a retried write) */
                if (g != NULL) {
                    snprintf(g->key, sizeof(g->key), "%s", k);
                    g->rev = mine->kv[0].mod_rev;
                }
                rc = 0;
            } else {
                /* not openable here: replace exactly that entry */
                c[0] = (struct etcd_cmp){.key = k, .target = ETCD_CMP_MOD, .rev = mine->kv[0].mod_rev};
            }
        } else {
            c[0] = (struct etcd_cmp){.key = k, .target = ETCD_CMP_CREATE, .rev = 0};   /* deleted meanwhile */
        }
        if (rc == CAIRN_ERR_CONFLICT)
            cairn_errf(err, CAIRN_ERR_CONFLICT, "data key %s: the entry kept changing; not stored", k);
        etcd_txn_result_clear(&r);
    }
    free(blob);
    return rc;
}

/* Deletes [datakey/, datakey/<keep>) and [after datakey/<keep>..., datakey0):
 * every entry but those of `keep` (ids are fixed-length hex, so the entries
 * of `keep` are exactly the keys starting with datakey/<keep hex>). */
static size_t sealed_retire_ops(struct datakey *dk, const uint8_t keep[DATAKEY_ID_SIZE], struct datakey_retire *r,
                                struct etcd_op ops[2])
{
    struct sealed_dk *s = (struct sealed_dk *)dk;
    char kk[DATAKEY_KEY_MAX];
    key_name(s, keep, false, kk, sizeof(kk));
    snprintf(r->list, sizeof(r->list), "%sdatakey/", s->prefix);
    snprintf(r->from[0], sizeof(r->from[0]), "%s", r->list);
    snprintf(r->to[0], sizeof(r->to[0]), "%s", kk);
    /* the key after every key starting with kk: its last hex digit + 1 */
    snprintf(r->from[1], sizeof(r->from[1]), "%s", kk);
    size_t n = strlen(r->from[1]);
    r->from[1][n - 1] = (char)(r->from[1][n - 1] + 1);
    snprintf(r->to[1], sizeof(r->to[1]), "%sdatakey0", s->prefix);   /* '0' follows '/' */
    for (size_t i = 0; i < 2; i++)
        ops[i] = (struct etcd_op){.kind = ETCD_OP_DEL, .key = r->from[i], .range_end = r->to[i]};
    r->n = 2;
    return 2;
}

static int sealed_forget(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], struct cairn_error *err)
{
    struct sealed_dk *s = (struct sealed_dk *)dk;
    char k[DATAKEY_KEY_MAX];
    key_name(s, id, true, k, sizeof(k));
    struct etcd_op del = {.kind = ETCD_OP_DEL, .key = k};
    struct etcd_txn_result r = {0};
    int rc = etcd_txn(s->etcd, NULL, 0, &del, 1, NULL, 0, &r, err);
    etcd_txn_result_clear(&r);
    return rc;
}

static void sealed_free(struct datakey *dk)
{
    free(dk);
}

static const struct datakey_ops sealed_ops = {
    .name = "sealed",
    .obtain = sealed_obtain,
    .publish = sealed_publish,
    .retire_ops = sealed_retire_ops,
    .forget = sealed_forget,
    .installed = NULL,
    .free = sealed_free,
};

int datakey_sealed_new(struct etcd *e, const char *prefix, const struct seal *seal, struct datakey **out,
                       struct cairn_error *err)
{
    struct sealed_dk *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    /* the longest entry name must fit DATAKEY_KEY_MAX */
    if (strlen(prefix) >= sizeof(s->prefix) ||
        strlen(prefix) + sizeof("datakey/") + 2 * DATAKEY_ID_SIZE + 2 + 2 * SEAL_IDENTITY_SIZE > DATAKEY_KEY_MAX) {
        free(s);
        return cairn_errf(err, CAIRN_ERR_INVALID, "datakey: prefix too long");
    }
    uint8_t sid[SEAL_IDENTITY_SIZE];
    if (seal_identity(seal, sid) != 0) {
        free(s);
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "datakey: cannot derive the seal identity");
    }
    hex_of(sid, sizeof(sid), s->seal_hex);
    s->base.ops = &sealed_ops;
    s->etcd = e;
    s->seal = seal;
    snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
    *out = &s->base;
    return 0;
}
