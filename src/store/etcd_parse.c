/* Parsers of etcd's JSON gateway answers (untrusted: etcd is outside the
 * TEE). Pure: no I/O, no logging. Gateway facts (reference: etcd 3.4):
 * every int64 is a JSON string, proto3 defaults are omitted (a failed txn
 * has no "succeeded", a miss has no "kvs", a PUT event has no "type"), keys
 * and values are standard base64. Output only on success. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/encoding.h"
#include "store/etcd.h"

bool etcd_parse_int64(const void *jv, int64_t *out)
{
    const json_t *v = jv;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > 20)
        return false;
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == n)
        return false;
    for (size_t k = i; k < n; k++)
        if (s[k] < '0' || s[k] > '9')
            return false;
    errno = 0;
    char *end = NULL;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || end != s + n)
        return false;
    *out = (int64_t)x;
    return true;
}

/* An optional int64 member: absent = 0 (proto3 default). */
static int opt_int64(const json_t *o, const char *k, int64_t *out)
{
    const json_t *v = json_object_get(o, k);
    if (v == NULL) {
        *out = 0;
        return 0;
    }
    return etcd_parse_int64(v, out) ? 0 : -1;
}

void etcd_kv_clear(struct etcd_kv *kv)
{
    if (kv == NULL)
        return;
    free(kv->key);
    free(kv->value);
    memset(kv, 0, sizeof(*kv));
}

void etcd_kvs_clear(struct etcd_kvs *kvs)
{
    if (kvs == NULL)
        return;
    for (size_t i = 0; i < kvs->n; i++)
        etcd_kv_clear(&kvs->kv[i]);
    free(kvs->kv);
    memset(kvs, 0, sizeof(*kvs));
}

void etcd_txn_result_clear(struct etcd_txn_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_gets; i++)
        etcd_kvs_clear(&r->gets[i]);
    free(r->gets);
    memset(r, 0, sizeof(*r));
}

void etcd_watch_msg_clear(struct etcd_watch_msg *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_events; i++)
        etcd_kv_clear(&m->events[i].kv);
    free(m->events);
    memset(m, 0, sizeof(*m));
}

static int parse_kv(const json_t *o, struct etcd_kv *out, struct cairn_error *err)
{
    struct etcd_kv kv = {0};
    if (!json_is_object(o))
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: kv: expected an object");
    const json_t *k = json_object_get(o, "key"), *v = json_object_get(o, "value");
    if (!json_is_string(k) || json_string_length(k) == 0 || json_string_length(k) > ETCD_MAX_KEY * 4 / 3 + 4)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: kv: key missing or too long");
    if (v != NULL && !json_is_string(v))
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: kv: value is not a string");
    uint8_t *kb = NULL;
    size_t kl = 0;
    if (cairn_base64_decode(json_string_value(k), json_string_length(k), &kb, &kl) != 0)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: kv: key is not base64");
    if (kl == 0 || kl > ETCD_MAX_KEY || memchr(kb, 0, kl) != NULL) {
        free(kb);
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: kv: key empty, too long or holding a NUL byte");
    }
    kv.key = (char *)kb;   /* decoder output is NUL-terminated */
    if (v != NULL && json_string_length(v) > 0 &&
        cairn_base64_decode(json_string_value(v), json_string_length(v), &kv.value, &kv.value_len) != 0) {
        etcd_kv_clear(&kv);
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: kv: value is not base64");
    }
    if (opt_int64(o, "create_revision", &kv.create_rev) != 0 || opt_int64(o, "mod_revision", &kv.mod_rev) != 0 ||
        opt_int64(o, "version", &kv.version) != 0 || opt_int64(o, "lease", &kv.lease) != 0 || kv.mod_rev < 0 ||
        kv.create_rev < 0 || kv.version < 0) {
        etcd_kv_clear(&kv);
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: kv: bad revision, version or lease");
    }
    *out = kv;
    return 0;
}

static int header_rev(const json_t *o, int64_t *rev, struct cairn_error *err)
{
    const json_t *h = json_object_get(o, "header");
    if (h != NULL && !json_is_object(h))
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: header: expected an object");
    if (opt_int64(h, "revision", rev) != 0 || *rev < 0)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: header: bad revision");
    return 0;
}

static int range_from(const json_t *o, struct etcd_kvs *out, struct cairn_error *err)
{
    struct etcd_kvs r = {0};
    if (!json_is_object(o))
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: range: expected an object");
    int rc = header_rev(o, &r.revision, err);
    if (rc != 0)
        return rc;
    const json_t *kvs = json_object_get(o, "kvs");
    if (kvs != NULL && !json_is_array(kvs))
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: range: kvs is not an array");
    size_t n = json_array_size(kvs);
    if (n > ETCD_MAX_KVS)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "etcd: range: more than %u keys", ETCD_MAX_KVS);
    if (n > 0 && (r.kv = calloc(n, sizeof(*r.kv))) == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if ((rc = parse_kv(json_array_get(kvs, i), &r.kv[i], err)) != 0) {
            etcd_kvs_clear(&r);
            return rc;
        }
        r.n = i + 1;
    }
    *out = r;
    return 0;
}

static json_t *load(const uint8_t *p, size_t n, struct cairn_error *err)
{
    if (n > ETCD_MAX_RESPONSE) {
        cairn_errf(err, CAIRN_ERR_TOO_LARGE, "etcd: answer larger than %u bytes", ETCD_MAX_RESPONSE);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: malformed JSON answer: %s", je.text);
    else if (!json_is_object(j)) {
        json_decref(j);
        j = NULL;
        cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: answer is not a JSON object");
    }
    return j;
}

int etcd_parse_range(const uint8_t *p, size_t n, struct etcd_kvs *out, struct cairn_error *err)
{
    json_t *j = load(p, n, err);
    if (j == NULL)
        return err != NULL ? err->code : CAIRN_ERR_PROTOCOL;
    int rc = range_from(j, out, err);
    json_decref(j);
    return rc;
}

int etcd_parse_txn(const uint8_t *p, size_t n, struct etcd_txn_result *out, struct cairn_error *err)
{
    json_t *j = load(p, n, err);
    if (j == NULL)
        return err != NULL ? err->code : CAIRN_ERR_PROTOCOL;
    struct etcd_txn_result r = {0};
    int rc = header_rev(j, &r.revision, err);
    const json_t *s = json_object_get(j, "succeeded"), *resp = json_object_get(j, "responses");
    if (rc == 0 && s != NULL && !json_is_boolean(s))
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: txn: succeeded is not a boolean");
    if (rc == 0 && resp != NULL && !json_is_array(resp))
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: txn: responses is not an array");
    if (rc == 0 && json_array_size(resp) > ETCD_MAX_KVS)
        rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "etcd: txn: too many responses");
    r.succeeded = json_is_true(s);
    size_t nr = json_array_size(resp);
    if (rc == 0 && nr > 0 && (r.gets = calloc(nr, sizeof(*r.gets))) == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < nr; i++) {
        const json_t *o = json_array_get(resp, i);
        if (!json_is_object(o)) {
            rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: txn: response %zu is not an object", i);
            break;
        }
        const json_t *rr = json_object_get(o, "response_range");
        if (rr == NULL)
            continue;
        if ((rc = range_from(rr, &r.gets[r.n_gets], err)) == 0)
            r.n_gets++;
    }
    json_decref(j);
    if (rc != 0) {
        etcd_txn_result_clear(&r);
        return rc;
    }
    *out = r;
    return 0;
}

int etcd_parse_watch(const uint8_t *p, size_t n, struct etcd_watch_msg *out, struct cairn_error *err)
{
    json_t *j = load(p, n, err);
    if (j == NULL)
        return err != NULL ? err->code : CAIRN_ERR_PROTOCOL;
    struct etcd_watch_msg m = {0};
    int rc = 0;
    const json_t *e = json_object_get(j, "error"), *res = json_object_get(j, "result");
    if (e != NULL) {
        const json_t *msg = json_is_object(e) ? json_object_get(e, "message") : NULL;
        rc = cairn_errf(err, CAIRN_ERR_NETWORK, "etcd: watch: %.200s",
                        json_is_string(msg) ? json_string_value(msg) : "error");
    } else if (!json_is_object(res)) {
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: watch: no result object");
    }
    if (rc == 0)
        rc = header_rev(res, &m.revision, err);
    if (rc == 0 && (opt_int64(res, "compact_revision", &m.compact_revision) != 0 || m.compact_revision < 0))
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: watch: bad compact_revision");
    const json_t *cr = rc == 0 ? json_object_get(res, "created") : NULL, *ca = rc == 0 ? json_object_get(res, "canceled") : NULL;
    if (rc == 0 && ((cr != NULL && !json_is_boolean(cr)) || (ca != NULL && !json_is_boolean(ca))))
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: watch: created/canceled not booleans");
    m.created = json_is_true(cr);
    m.canceled = json_is_true(ca);
    const json_t *ev = rc == 0 ? json_object_get(res, "events") : NULL;
    if (ev != NULL && !json_is_array(ev))
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: watch: events is not an array");
    size_t ne = json_array_size(ev);
    if (rc == 0 && ne > ETCD_MAX_EVENTS)
        rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "etcd: watch: too many events");
    if (rc == 0 && ne > 0 && (m.events = calloc(ne, sizeof(*m.events))) == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < ne; i++) {
        const json_t *o = json_array_get(ev, i);
        const json_t *t = json_is_object(o) ? json_object_get(o, "type") : NULL;
        if (!json_is_object(o)) {
            rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: watch: event is not an object");
            break;
        }
        enum etcd_event_type ty = ETCD_EVENT_PUT;
        if (t != NULL) {
            if (json_is_string(t) && strcmp(json_string_value(t), "DELETE") == 0)
                ty = ETCD_EVENT_DELETE;
            else if (!(json_is_string(t) && strcmp(json_string_value(t), "PUT") == 0)) {
                rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd: watch: unknown event type");
                break;
            }
        }
        if ((rc = parse_kv(json_object_get(o, "kv"), &m.events[i].kv, err)) != 0)
            break;
        m.events[i].type = ty;
        m.n_events = i + 1;
    }
    json_decref(j);
    if (rc != 0) {
        etcd_watch_msg_clear(&m);
        return rc;
    }
    *out = m;
    return 0;
}
