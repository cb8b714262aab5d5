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
                    struct cairn_error *err)
{
    return dk->ops->publish(dk, id, dek, err);
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

static int key_name(const struct sealed_dk *s, const uint8_t id[DATAKEY_ID_SIZE], char *out, size_t n)
{
    char *hex = cairn_hex_encode(id, DATAKEY_ID_SIZE);
    if (hex == NULL)
        return CAIRN_ERR_NOMEM;
    snprintf(out, n, "%sdatakey/%s", s->prefix, hex);
    free(hex);
    return 0;
}

static int sealed_obtain(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], uint8_t out_dek[DATAKEY_SIZE],
                         struct cairn_error *err)
{
    struct sealed_dk *s = (struct sealed_dk *)dk;
    char k[400];
    if (key_name(s, id, k, sizeof(k)) != 0)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    struct etcd_kvs kvs = {0};
    int rc = etcd_get(s->etcd, k, false, false, &kvs, err);
    if (rc != 0)
        return rc;
    if (kvs.n != 1) {
        etcd_kvs_clear(&kvs);
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "no sealed data key %s in etcd", k);
    }
    uint8_t bind[32], got[32];
    bool bound = false;
    bind_of(id, bind);
    rc = seal_unwrap_ex(s->seal, kvs.kv[0].value, kvs.kv[0].value_len, out_dek, got, &bound, err);
    etcd_kvs_clear(&kvs);
    if (rc != 0) {
        /* this machine's seal does not open it: no source here has the key */
        cairn_err_prefix(err, "the sealed data key %s", k);
        if (err != NULL && (rc == CAIRN_ERR_VERIFY || rc == CAIRN_ERR_UNSUPPORTED))
            err->code = CAIRN_ERR_NOT_FOUND;
        return rc == CAIRN_ERR_VERIFY || rc == CAIRN_ERR_UNSUPPORTED ? CAIRN_ERR_NOT_FOUND : rc;
    }
    if (!bound || CRYPTO_memcmp(got, bind, 32) != 0) {
        cc_wipe(out_dek, DATAKEY_SIZE);
        return cairn_errf(err, CAIRN_ERR_VERIFY, "the sealed data key %s belongs to another key id", k);
    }
    return 0;
}

static int sealed_publish(struct datakey *dk, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t dek[DATAKEY_SIZE],
                          struct cairn_error *err)
{
    struct sealed_dk *s = (struct sealed_dk *)dk;
    char k[400];
    if (key_name(s, id, k, sizeof(k)) != 0)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    uint8_t bind[32];
    bind_of(id, bind);
    uint8_t *blob = NULL;
    size_t bl = 0;
    int rc = seal_wrap_bound(s->seal, dek, bind, &blob, &bl, err);
    if (rc != 0)
        return rc;
    /* ids are random and never reused: create-only, so nothing is overwritten */
    struct etcd_cmp c = {.key = k, .target = ETCD_CMP_CREATE, .rev = 0};
    struct etcd_op put = {.kind = ETCD_OP_PUT, .key = k, .value = blob, .value_len = bl};
    struct etcd_txn_result r = {0};
    rc = etcd_txn(s->etcd, &c, 1, &put, 1, NULL, 0, &r, err);
    free(blob);
    if (rc == 0 && !r.succeeded)
        rc = cairn_errf(err, CAIRN_ERR_EXISTS, "a data key with id %s exists already", k);
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
    .installed = NULL,
    .free = sealed_free,
};

int datakey_sealed_new(struct etcd *e, const char *prefix, const struct seal *seal, struct datakey **out,
                       struct cairn_error *err)
{
    struct sealed_dk *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (strlen(prefix) >= sizeof(s->prefix)) {
        free(s);
        return cairn_errf(err, CAIRN_ERR_INVALID, "datakey: prefix too long");
    }
    s->base.ops = &sealed_ops;
    s->etcd = e;
    s->seal = seal;
    snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
    *out = &s->base;
    return 0;
}
