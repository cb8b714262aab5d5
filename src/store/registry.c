/* The replica registry's values (registry.h). */
#include "store/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/etcd.h"

int registry_value(const struct replica_info *ri, char **out, struct cairn_error *err)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", ri->id, "client", ri->client, "mesh", ri->mesh,
                          "key", ri->key, "version", ri->version, "started", (json_int_t)ri->started);
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    *out = s;
    return 0;
}

static bool is_id(const char *s)
{
    if (strlen(s) != 16)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* host:port with printable, non-space ASCII only (or "" when `empty_ok`). */
static bool is_addr(const char *s, size_t n, bool empty_ok)
{
    if (n == 0)
        return empty_ok;
    if (n >= REGISTRY_ADDR_MAX || strchr(s, ':') == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return false;
    return true;
}

static int str_field(const json_t *j, const char *k, char *out, size_t cap, bool addr, bool empty_ok,
                     struct cairn_error *err)
{
    const json_t *v = json_object_get(j, k);
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return cairn_errf(err, CAIRN_ERR_INVALID, "registry: %s: expected a string of at most %zu bytes", k, cap - 1);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (memchr(s, 0, n) != NULL || (addr && !is_addr(s, n, empty_ok)))
        return cairn_errf(err, CAIRN_ERR_INVALID, "registry: %s: expected host:port", k);
    memcpy(out, s, n + 1);
    return 0;
}

int registry_parse(const uint8_t *p, size_t n, const char *key_id, struct replica_info *out, struct cairn_error *err)
{
    if (n > REGISTRY_MAX_VALUE)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "registry: value larger than %d bytes", REGISTRY_MAX_VALUE);
    json_error_t je;
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_INVALID, "registry: not a JSON object");
    }
    struct replica_info ri = {0};
    int rc = str_field(j, "id", ri.id, sizeof(ri.id), false, false, err);
    if (rc == 0 && !is_id(ri.id))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "registry: id: expected 16 lowercase hex digits");
    if (rc == 0 && key_id != NULL && strcmp(key_id, ri.id) != 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "registry: id differs from the key's");
    if (rc == 0)
        rc = str_field(j, "client", ri.client, sizeof(ri.client), true, false, err);
    if (rc == 0)
        rc = str_field(j, "mesh", ri.mesh, sizeof(ri.mesh), true, false, err);
    if (rc == 0)
        rc = str_field(j, "key", ri.key, sizeof(ri.key), true, true, err);
    if (rc == 0)
        rc = str_field(j, "version", ri.version, sizeof(ri.version), false, true, err);
    const json_t *st = json_object_get(j, "started");
    if (rc == 0 && (!json_is_integer(st) || json_integer_value(st) < 0))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "registry: started: expected unix seconds");
    if (rc == 0)
        ri.started = (int64_t)json_integer_value(st);
    json_decref(j);
    if (rc == 0)
        *out = ri;
    return rc;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct replica_info *)a)->id, ((const struct replica_info *)b)->id);
}

int registry_list(struct etcd *e, const char *prefix, struct replica_info **out, size_t *out_n, size_t *out_bad,
                  struct cairn_error *err)
{
    char k[512];
    if (snprintf(k, sizeof(k), "%sreplicas/", prefix) >= (int)sizeof(k))
        return cairn_errf(err, CAIRN_ERR_INVALID, "registry: prefix too long");
    struct etcd_kvs kvs = {0};
    int rc = etcd_get(e, k, true, false, &kvs, err);
    if (rc != 0)
        return rc;
    size_t n = kvs.n < REGISTRY_MAX_REPLICAS ? kvs.n : REGISTRY_MAX_REPLICAS, got = 0, bad = kvs.n - n;
    struct replica_info *list = calloc(n > 0 ? n : 1, sizeof(*list));
    if (list == NULL) {
        etcd_kvs_clear(&kvs);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    size_t pl = strlen(k);
    for (size_t i = 0; i < n; i++) {
        const struct etcd_kv *kv = &kvs.kv[i];
        if (strncmp(kv->key, k, pl) != 0 ||
            registry_parse(kv->value, kv->value_len, kv->key + pl, &list[got], NULL) != 0) {
            bad++;
            continue;
        }
        got++;
    }
    etcd_kvs_clear(&kvs);
    qsort(list, got, sizeof(*list), by_id);
    *out = list;
    *out_n = got;
    if (out_bad != NULL)
        *out_bad = bad;
    return 0;
}
