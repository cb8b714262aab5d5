/* Prometheus metrics (MarbleRun's names, inventory §8) and the /events ring. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_version.h"
#include "common/encoding.h"
#include "core/core_internal.h"
#include "core/ha.h"
#include "crypto/crypto.h"

static const double k_act_buckets[CORE_ACT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                       0.1,   0.25,   0.5,   1,    2.5,   5};

#define SERIES_MAX 100000   /* label sets kept; beyond that new UUIDs are not tracked */

static uint64_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *a; a++)
        h = (h ^ (uint8_t)*a) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (; *b; b++)
        h = (h ^ (uint8_t)*b) * 1099511628211ULL;
    return h;
}

static struct series *series_find(struct core *c, const char *type, const char *uuid, bool create)
{
    if (c->series_cap == 0) {
        if (!create)
            return NULL;
        c->series = calloc(64, sizeof(*c->series));
        if (c->series == NULL)
            return NULL;
        c->series_cap = 64;
    }
    uint64_t h = hash2(type, uuid);
    for (size_t i = 0; i < c->series_cap; i++) {
        struct series *s = &c->series[(h + i) & (c->series_cap - 1)];
        if (s->type == NULL) {
            if (!create || c->series_n >= SERIES_MAX)
                return NULL;
            if (c->series_n * 2 >= c->series_cap) {
                /* grow and rehash, then retry */
                size_t ncap = c->series_cap * 2;
                struct series *ns = calloc(ncap, sizeof(*ns));
                if (ns == NULL)
                    return NULL;
                for (size_t k = 0; k < c->series_cap; k++) {
                    if (c->series[k].type == NULL)
                        continue;
                    uint64_t hh = hash2(c->series[k].type, c->series[k].uuid);
                    for (size_t j = 0;; j++) {
                        struct series *t = &ns[(hh + j) & (ncap - 1)];
                        if (t->type == NULL) {
                            *t = c->series[k];
                            break;
                        }
                    }
                }
                free(c->series);
                c->series = ns;
                c->series_cap = ncap;
                return series_find(c, type, uuid, create);
            }
            s->type = strdup(type);
            s->uuid = strdup(uuid);
            if (s->type == NULL || s->uuid == NULL) {
                free(s->type);
                free(s->uuid);
                s->type = s->uuid = NULL;
                return NULL;
            }
            c->series_n++;
            return s;
        }
        if (strcmp(s->type, type) == 0 && strcmp(s->uuid, uuid) == 0)
            return s;
    }
    return NULL;
}

void core_metrics_activation_attempt(struct core *c, const char *type, const char *uuid)
{
    pthread_mutex_lock(&c->mlock);
    struct series *s = series_find(c, type, uuid, true);
    if (s != NULL)
        s->total++;
    pthread_mutex_unlock(&c->mlock);
}

void core_metrics_activation_done(struct core *c, const char *type, const char *uuid, enum core_refusal r,
                                  double seconds)
{
    pthread_mutex_lock(&c->mlock);
    if (r == CORE_OK && type != NULL) {
        struct series *s = series_find(c, type, uuid, true);
        if (s != NULL)
            s->success++;
        for (int b = 0; b < CORE_ACT_BUCKETS; b++)
            if (seconds <= k_act_buckets[b])
                c->act_bucket[b]++;
        c->act_count++;
        c->act_sum += seconds;
    }
    if ((unsigned)r < 6)
        c->refusals[r]++;
    pthread_mutex_unlock(&c->mlock);
}

void core_metrics_evidence(struct core *c, enum attest_type t, bool ok)
{
    if ((unsigned)t >= 5)
        return;
    pthread_mutex_lock(&c->mlock);
    c->evidence[t][ok ? 0 : 1]++;
    pthread_mutex_unlock(&c->mlock);
}

void core_event_add(struct core *c, const char *type, const char *uuid, const uint8_t *quote, size_t quote_len)
{
    char ts[32];
    cc_time_format_rfc3339(time(NULL), ts);
    /* large quotes are not kept: the ring must stay small (RSS budget) */
    char *q = (quote != NULL && quote_len <= 16384) ? cairn_base64_encode(quote, quote_len) : NULL;
    json_t *e = json_pack("{s:s, s:{s:s, s:s, s:s?}}", "time", ts, "activation", "marbleType", type, "uuid", uuid,
                          "quote", q);
    free(q);
    if (e == NULL)
        return;
    pthread_mutex_lock(&c->mlock);
    if (json_array_size(c->events) >= c->cfg.events_max)
        json_array_remove(c->events, 0);
    json_array_append_new(c->events, e);
    pthread_mutex_unlock(&c->mlock);
}

json_t *core_events(struct core *c)
{
    pthread_mutex_lock(&c->mlock);
    json_t *copy = json_deep_copy(c->events);
    pthread_mutex_unlock(&c->mlock);
    return copy;
}

void core_metrics_free(struct core *c)
{
    for (size_t i = 0; i < c->series_cap; i++) {
        free(c->series[i].type);
        free(c->series[i].uuid);
    }
    free(c->series);
}

/* Label values come from the manifest (types) and canonical UUIDs, but escape anyway. */
void core_metrics_label(struct cairn_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            cairn_buf_appendf(b, "\\%c", *v);
        else if (*v == '\n')
            cairn_buf_append_str(b, "\\n");
        else
            cairn_buf_append(b, v, 1);
    }
}

static const char *const k_refusal_names[6] = {"ok", "bad_request", "unauthenticated", "forbidden", "unavailable",
                                               "internal"};

const char *core_refusal_name(enum core_refusal r)
{
    return (unsigned)r < 6 ? k_refusal_names[r] : "internal";
}

int core_metrics_render(struct core *c, struct cairn_buf *b)
{
    enum core_state st = core_get_state(c);
    cairn_buf_appendf(b, "# HELP coordinator_state State of the Coordinator (1 recovery, 2 accepting manifest, "
                         "3 accepting marbles).\n# TYPE coordinator_state gauge\ncoordinator_state %d\n", (int)st);
    cairn_buf_appendf(b, "# HELP coordinator_version_info Version information.\n# TYPE coordinator_version_info gauge\n"
                         "coordinator_version_info{version=\"%s\",commit=\"%s\"} 1\n", CAIRN_VERSION, CAIRN_COMMIT_ID);
    ha_metrics(c, b);   /* issue 9: etcd and replicas (nothing with the file store) */
    pthread_mutex_lock(&c->mlock);
    cairn_buf_append_str(b, "# HELP coordinator_marble_activations_total Activation attempts by marble type and UUID.\n"
                            "# TYPE coordinator_marble_activations_total counter\n");
    for (size_t i = 0; i < c->series_cap; i++) {
        struct series *s = &c->series[i];
        if (s->type == NULL)
            continue;
        cairn_buf_append_str(b, "coordinator_marble_activations_total{type=\"");
        core_metrics_label(b, s->type);
        cairn_buf_append_str(b, "\",uuid=\"");
        core_metrics_label(b, s->uuid);
        cairn_buf_appendf(b, "\"} %llu\n", (unsigned long long)s->total);
    }
    cairn_buf_append_str(b, "# HELP coordinator_marble_activations_success_total Successful activations.\n"
                            "# TYPE coordinator_marble_activations_success_total counter\n");
    for (size_t i = 0; i < c->series_cap; i++) {
        struct series *s = &c->series[i];
        if (s->type == NULL || s->success == 0)
            continue;
        cairn_buf_append_str(b, "coordinator_marble_activations_success_total{type=\"");
        core_metrics_label(b, s->type);
        cairn_buf_append_str(b, "\",uuid=\"");
        core_metrics_label(b, s->uuid);
        cairn_buf_appendf(b, "\"} %llu\n", (unsigned long long)s->success);
    }
    cairn_buf_append_str(b, "# HELP cairn_activation_duration_seconds Time to serve a successful activation "
                            "(after the TLS handshake).\n# TYPE cairn_activation_duration_seconds histogram\n");
    for (int k = 0; k < CORE_ACT_BUCKETS; k++)
        cairn_buf_appendf(b, "cairn_activation_duration_seconds_bucket{le=\"%g\"} %llu\n", k_act_buckets[k],
                          (unsigned long long)c->act_bucket[k]);
    cairn_buf_appendf(b, "cairn_activation_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                         "cairn_activation_duration_seconds_sum %.6f\ncairn_activation_duration_seconds_count %llu\n",
                      (unsigned long long)c->act_count, c->act_sum, (unsigned long long)c->act_count);
    cairn_buf_append_str(b, "# HELP cairn_activation_refusals_total Activations by outcome class.\n"
                            "# TYPE cairn_activation_refusals_total counter\n");
    for (int r = 0; r < 6; r++)
        cairn_buf_appendf(b, "cairn_activation_refusals_total{result=\"%s\"} %llu\n", k_refusal_names[r],
                          (unsigned long long)c->refusals[r]);
    cairn_buf_append_str(b, "# HELP cairn_evidence_verifications_total Evidence verifications by TEE type and "
                            "result.\n# TYPE cairn_evidence_verifications_total counter\n");
    for (int t = 0; t < 5; t++)
        for (int r = 0; r < 2; r++)
            cairn_buf_appendf(b, "cairn_evidence_verifications_total{type=\"%s\",result=\"%s\"} %llu\n",
                              attest_type_name((enum attest_type)t), r == 0 ? "ok" : "fail",
                              (unsigned long long)c->evidence[t][r]);
    pthread_mutex_unlock(&c->mlock);
    uint64_t hits = 0, misses = 0;
    size_t avail = 0;
    keypool_stats(c->pool, &hits, &misses, &avail);
    cairn_buf_appendf(b, "# HELP cairn_leaf_key_pool_available Pre-generated leaf keys ready.\n"
                         "# TYPE cairn_leaf_key_pool_available gauge\ncairn_leaf_key_pool_available %zu\n"
                         "# HELP cairn_leaf_key_pool_takes_total Leaf keys taken, from the pool or generated.\n"
                         "# TYPE cairn_leaf_key_pool_takes_total counter\n"
                         "cairn_leaf_key_pool_takes_total{source=\"pool\"} %llu\n"
                         "cairn_leaf_key_pool_takes_total{source=\"generated\"} %llu\n",
                      avail, (unsigned long long)hits, (unsigned long long)misses);
    return b->failed ? CAIRN_ERR_TOO_LARGE : 0;
}
