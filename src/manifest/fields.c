/* Unknown manifest fields (issue 11: a typo such as "Enviroment" is ignored
 * as Go's encoding/json ignores it, and the deployment is then locked to a
 * manifest that silently lacks the setting).
 *
 * The list of known fields is not written down a second time: while
 * manifest_parse_ex() decodes, every mf_obj_get(obj, field) is recorded as
 * "the decoder looked for `field` in `obj`". Afterwards the JSON tree is
 * walked: in every object the decoder looked into, a key that matches none of
 * the looked-for fields (Go's case-insensitive match) is unknown. Maps
 * (Packages, Files, ...) are iterated, never looked into, so their keys are
 * names, not fields. A field the decoder learns is therefore known here at
 * once, and the report cannot drift from the parser.
 *
 * The recorder is per thread (the parser stays reentrant) and only active
 * inside manifest_parse_ex(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest/manifest_internal.h"

struct mf_trace_rec {
    const json_t *obj;
    const char *field; /* static string of the decoder */
};

struct mf_trace {
    struct mf_trace_rec *rec;
    size_t n, cap;
    bool oom;
};

static _Thread_local struct mf_trace *g_trace;

void mf_trace_note(const json_t *obj, const char *field)
{
    struct mf_trace *t = g_trace;
    if (t == NULL || t->oom)
        return;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        struct mf_trace_rec *r = reallocarray(t->rec, cap, sizeof(*r));
        if (r == NULL) {
            t->oom = true;
            return;
        }
        t->rec = r;
        t->cap = cap;
    }
    t->rec[t->n].obj = obj;
    t->rec[t->n].field = field;
    t->n++;
}

static int cmp_rec(const void *a, const void *b)
{
    const struct mf_trace_rec *x = a, *y = b;
    if (x->obj != y->obj)
        return (uintptr_t)x->obj < (uintptr_t)y->obj ? -1 : 1;
    return strcmp(x->field, y->field);
}

/* The records of `obj` (sorted by object): [*first, *first + *count). */
static void recs_of(const struct mf_trace *t, const json_t *obj, size_t *first, size_t *count)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)t->rec[mid].obj < (uintptr_t)obj)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < t->n && t->rec[end].obj == obj)
        end++;
    *first = lo;
    *count = end - lo;
}

/* Levenshtein distance, ASCII case-insensitive, capped at 9 (names are short). */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 9;
    size_t prev[41], cur[41];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (strncasecmp(a + i - 1, b + j - 1, 1) != 0);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb] > 9 ? 9 : prev[lb];
}

/* The known field an unknown key most likely meant: within edit distance 2
 * (1 for names of up to 4 letters), or a known field the key starts with
 * ("Enviroment" -> "Env"). NULL when nothing is close. */
static const char *suggest(const struct mf_trace *t, size_t first, size_t count, const char *key)
{
    const char *best = NULL;
    size_t best_d = 9;
    for (size_t i = first; i < first + count; i++) {
        const char *f = t->rec[i].field;
        size_t d = distance(key, f);
        size_t max = strlen(f) <= 4 ? 1 : 2;
        if (d <= max && d < best_d) {
            best = f;
            best_d = d;
        }
    }
    if (best != NULL)
        return best;
    for (size_t i = first; i < first + count; i++) {
        const char *f = t->rec[i].field;
        if (strlen(f) >= 3 && strncasecmp(key, f, strlen(f)) == 0)
            return f;
    }
    return NULL;
}

static void walk(const struct mf_trace *t, const json_t *v, char *path, size_t path_size, size_t depth,
                 manifest_unknown_fn fn, void *ctx)
{
    size_t plen = strlen(path);
    if (depth > MANIFEST_MAX_DEPTH)
        return;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach((json_t *)v, i, e) {
            snprintf(path + plen, path_size - plen, "[%zu]", i);
            walk(t, e, path, path_size, depth + 1, fn, ctx);
            path[plen] = '\0';
        }
        return;
    }
    if (!json_is_object(v))
        return;
    size_t first, count;
    recs_of(t, v, &first, &count);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        /* an empty name is shown as "" so the report never names nothing */
        snprintf(path + plen, path_size - plen, "%s%s", plen ? "." : "", key[0] != '\0' ? key : "\"\"");
        bool known = count == 0; /* a map: every key is a name */
        for (size_t i = first; !known && i < first + count; i++)
            known = mf_key_equal(key, t->rec[i].field);
        if (known)
            walk(t, val, path, path_size, depth + 1, fn, ctx);
        else
            fn(ctx, path, suggest(t, first, count, key));
        path[plen] = '\0';
    }
}

int manifest_parse_ex(const uint8_t *json, size_t len, manifest_unknown_fn unknown, void *ctx,
                      struct manifest **out, struct cairn_error *err)
{
    json_t *root = NULL;
    int rc = mf_load(json, len, &root, err);
    if (rc != 0)
        return rc;
    if (unknown == NULL) {
        rc = mf_decode(root, out, err);
        json_decref(root);
        return rc;
    }
    struct mf_trace t = {0};
    struct manifest *m = NULL;
    g_trace = &t;
    rc = mf_decode(root, &m, err);
    g_trace = NULL;
    if (rc == 0 && t.oom)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        char path[MF_PATH_MAX * 2];
        path[0] = '\0';
        if (t.n > 0) /* qsort(NULL, 0) is undefined */
            qsort(t.rec, t.n, sizeof(*t.rec), cmp_rec);
        walk(&t, root, path, sizeof(path), 0, unknown, ctx);
        *out = m;
        m = NULL;
    }
    manifest_free(m);
    free(t.rec);
    json_decref(root);
    return rc;
}
