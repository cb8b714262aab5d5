/* Parsers of etcd's native gRPC answers to Range and Txn (untrusted: etcd
 * is outside the TEE). Pure: no I/O, no logging. `p` is one gRPC message
 * without its 5-byte prefix; protobuf-c decodes it (etcd_kv.proto) and the
 * result is converted into the same structures the gateway's parsers fill
 * (etcd_parse.c), with the same limits: keys of 1..ETCD_MAX_KEY bytes
 * without NUL, at most ETCD_MAX_KVS keys or responses, no negative
 * revision. Output only on success. */
#include <stdlib.h>
#include <string.h>

#include "etcd_kv.pb-c.h"
#include "store/etcd.h"

static int kv_from(const Etcdserverpb__KeyValue *k, struct etcd_kv *out, struct cairn_error *err)
{
    struct etcd_kv kv = {0};
    if (k == NULL)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: kv: empty entry");
    if (k->key.len == 0 || k->key.len > ETCD_MAX_KEY || memchr(k->key.data, 0, k->key.len) != NULL)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: kv: key empty, too long or holding a NUL byte");
    if (k->create_revision < 0 || k->mod_revision < 0 || k->version < 0)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: kv: bad revision, version or lease");
    if ((kv.key = malloc(k->key.len + 1)) == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    memcpy(kv.key, k->key.data, k->key.len);
    kv.key[k->key.len] = '\0';
    if (k->value.len > 0) {
        if ((kv.value = malloc(k->value.len)) == NULL) {
            etcd_kv_clear(&kv);
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        }
        memcpy(kv.value, k->value.data, k->value.len);
        kv.value_len = k->value.len;
    }
    kv.create_rev = k->create_revision;
    kv.mod_rev = k->mod_revision;
    kv.version = k->version;
    kv.lease = k->lease;
    *out = kv;
    return 0;
}

static int header_rev(const Etcdserverpb__ResponseHeader *h, int64_t *rev, struct cairn_error *err)
{
    *rev = h != NULL ? h->revision : 0;   /* absent: proto3 default */
    return *rev < 0 ? cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: header: bad revision") : 0;
}

static int range_from(const Etcdserverpb__RangeResponse *rr, struct etcd_kvs *out, struct cairn_error *err)
{
    struct etcd_kvs r = {0};
    if (rr == NULL)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: range: empty answer");
    int rc = header_rev(rr->header, &r.revision, err);
    if (rc != 0)
        return rc;
    if (rr->n_kvs > ETCD_MAX_KVS)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "etcd: range: more than %u keys", ETCD_MAX_KVS);
    if (rr->n_kvs > 0 && (r.kv = calloc(rr->n_kvs, sizeof(*r.kv))) == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < rr->n_kvs; i++) {
        if ((rc = kv_from(rr->kvs[i], &r.kv[i], err)) != 0) {
            etcd_kvs_clear(&r);
            return rc;
        }
        r.n = i + 1;
    }
    *out = r;
    return 0;
}

int etcd_parse_range_pb(const uint8_t *p, size_t n, struct etcd_kvs *out, struct cairn_error *err)
{
    if (n > ETCD_MAX_RESPONSE)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "etcd: answer larger than %u bytes", ETCD_MAX_RESPONSE);
    Etcdserverpb__RangeResponse *rr = etcdserverpb__range_response__unpack(NULL, n, p);
    if (rr == NULL)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: malformed RangeResponse");
    int rc = range_from(rr, out, err);
    etcdserverpb__range_response__free_unpacked(rr, NULL);
    return rc;
}

int etcd_parse_txn_pb(const uint8_t *p, size_t n, struct etcd_txn_result *out, struct cairn_error *err)
{
    if (n > ETCD_MAX_RESPONSE)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "etcd: answer larger than %u bytes", ETCD_MAX_RESPONSE);
    Etcdserverpb__TxnResponse *t = etcdserverpb__txn_response__unpack(NULL, n, p);
    if (t == NULL)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: malformed TxnResponse");
    struct etcd_txn_result r = {0};
    int rc = header_rev(t->header, &r.revision, err);
    r.succeeded = t->succeeded;
    if (rc == 0 && t->n_responses > ETCD_MAX_KVS)
        rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "etcd: txn: too many responses");
    if (rc == 0 && t->n_responses > 0 && (r.gets = calloc(t->n_responses, sizeof(*r.gets))) == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < t->n_responses; i++) {
        const Etcdserverpb__ResponseOp *o = t->responses[i];
        if (o == NULL || o->response_case != ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE)
            continue;   /* a put's or delete's answer: nothing we read */
        if ((rc = range_from(o->response_range, &r.gets[r.n_gets], err)) == 0)
            r.n_gets++;
    }
    etcdserverpb__txn_response__free_unpacked(t, NULL);
    if (rc != 0) {
        etcd_txn_result_clear(&r);
        return rc;
    }
    *out = r;
    return 0;
}
