/* The "ConfidentialContainers" manifest section (docs/manifest.md):
 *
 *   "ConfidentialContainers": {
 *     "Version": 1,
 *     "Workloads": {
 *       "<name>": {
 *         "Package": "<a TDX or SNP package>",
 *         "Resources": {
 *           "<repository>/<type>/<tag>": "<secret>" | {"Secret": "<secret>", "Part": "Cert|Private|Public"}
 *         }
 *       }
 *     }
 *   }
 *
 * Keys are matched as Go's encoding/json does (case-insensitive); MarbleRun
 * ignores the whole section (unknown key). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest/manifest_internal.h"

static int nomem(struct cairn_error *err)
{
    return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
}

static int cmp_workload(const void *a, const void *b)
{
    return strcmp(((const struct manifest_coco_workload *)a)->name, ((const struct manifest_coco_workload *)b)->name);
}

static int cmp_resource(const void *a, const void *b)
{
    return strcmp(((const struct manifest_kbs_resource *)a)->path, ((const struct manifest_kbs_resource *)b)->path);
}

static void workload_clear(struct manifest_coco_workload *w)
{
    free(w->name);
    free(w->package);
    for (size_t i = 0; i < w->n_resources; i++) {
        free(w->resources[i].path);
        free(w->resources[i].secret);
    }
    free(w->resources);
}

void mf_coco_clear(struct manifest_coco *c)
{
    for (size_t i = 0; i < c->n_workloads; i++)
        workload_clear(&c->workloads[i]);
    free(c->workloads);
    memset(c, 0, sizeof(*c));
}

static bool key_ok(const char *k)
{
    return json_object_iter_key_len(json_object_key_to_iter(k)) == strlen(k);
}

static int parse_resource(const char *wpath, const char *key, const json_t *v, struct manifest_kbs_resource *r,
                          struct cairn_error *err)
{
    const char *secret = NULL, *part = NULL;
    if (json_is_string(v)) {
        secret = json_string_value(v);
    } else if (json_is_object(v)) {
        const json_t *s = mf_obj_get(v, "Secret"), *p = mf_obj_get(v, "Part");
        if (!json_is_string(s))
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s.Resources.%s.Secret: expected a string", wpath, key);
        secret = json_string_value(s);
        if (p != NULL && !json_is_null(p)) {
            if (!json_is_string(p))
                return cairn_errf(err, CAIRN_ERR_INVALID, "%s.Resources.%s.Part: expected a string", wpath, key);
            part = json_string_value(p);
        }
    } else {
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s.Resources.%s: expected a secret name or {\"Secret\", "
                          "\"Part\"}, got %s", wpath, key, mf_json_type(v));
    }
    if (part == NULL || *part == '\0')
        r->part = MANIFEST_KBS_PART_DEFAULT;
    else if (strcasecmp(part, "Cert") == 0)
        r->part = MANIFEST_KBS_PART_CERT;
    else if (strcasecmp(part, "Private") == 0)
        r->part = MANIFEST_KBS_PART_PRIVATE;
    else if (strcasecmp(part, "Public") == 0)
        r->part = MANIFEST_KBS_PART_PUBLIC;
    else
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s.Resources.%s.Part: \"%s\" is not Cert, Private or Public",
                          wpath, key, part);
    r->path = strdup(key);
    r->secret = strdup(secret);
    return r->path != NULL && r->secret != NULL ? 0 : nomem(err);
}

static int parse_workload(const char *name, const json_t *v, struct manifest_coco_workload *w,
                          struct cairn_error *err)
{
    char path[MF_PATH_MAX];
    snprintf(path, sizeof(path), "ConfidentialContainers.Workloads.%s", name);
    if (!json_is_object(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: expected an object, got %s", path, mf_json_type(v));
    w->name = strdup(name);
    if (w->name == NULL)
        return nomem(err);
    int rc = mf_get_string(v, "Package", path, &w->package, err);
    if (rc < 0)
        return rc;
    const json_t *res = mf_obj_get(v, "Resources");
    if (res == NULL || json_is_null(res))
        return 0;
    if (!json_is_object(res))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s.Resources: expected an object, got %s", path,
                          mf_json_type(res));
    size_t n = json_object_size(res);
    if (n > MANIFEST_MAX_ENTRIES)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s.Resources: more than %d entries", path,
                          MANIFEST_MAX_ENTRIES);
    if (n == 0)
        return 0;
    w->resources = calloc(n, sizeof(*w->resources));
    if (w->resources == NULL)
        return nomem(err);
    const char *k;
    json_t *rv;
    json_object_foreach((json_t *)res, k, rv) {
        if (!key_ok(k))
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s.Resources: a key contains a NUL byte", path);
        struct manifest_kbs_resource *r = &w->resources[w->n_resources++];
        if ((rc = parse_resource(path, k, rv, r, err)) < 0)
            return rc;
    }
    qsort(w->resources, w->n_resources, sizeof(*w->resources), cmp_resource);
    return 0;
}

int mf_coco_parse(const json_t *root, struct manifest_coco *out, struct cairn_error *err)
{
    const json_t *cc = mf_obj_get(root, "ConfidentialContainers");
    struct manifest_coco c = {0};
    int rc = 0;
    if (cc == NULL || json_is_null(cc))
        return 0;
    if (!json_is_object(cc))
        return cairn_errf(err, CAIRN_ERR_INVALID, "ConfidentialContainers: expected an object, got %s",
                          mf_json_type(cc));
    bool has_version = false;
    if ((rc = mf_get_uint(cc, "Version", "ConfidentialContainers", UINT32_MAX, &has_version, &c.version, err)) < 0)
        return rc;
    if (!has_version || c.version != MANIFEST_COCO_VERSION)
        return cairn_errf(err, CAIRN_ERR_INVALID, "ConfidentialContainers.Version: must be %d (this Cairn "
                          "understands version %d of the section)", MANIFEST_COCO_VERSION, MANIFEST_COCO_VERSION);
    const json_t *wl = mf_obj_get(cc, "Workloads");
    if (wl != NULL && !json_is_null(wl)) {
        if (!json_is_object(wl))
            return cairn_errf(err, CAIRN_ERR_INVALID, "ConfidentialContainers.Workloads: expected an object, "
                              "got %s", mf_json_type(wl));
        size_t n = json_object_size(wl);
        if (n > MANIFEST_MAX_ENTRIES)
            return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "ConfidentialContainers.Workloads: more than %d entries",
                              MANIFEST_MAX_ENTRIES);
        c.workloads = calloc(n > 0 ? n : 1, sizeof(*c.workloads));
        if (c.workloads == NULL)
            return nomem(err);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)wl, k, v) {
            if (!key_ok(k)) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "ConfidentialContainers.Workloads: a key contains a NUL "
                                "byte");
                break;
            }
            if ((rc = parse_workload(k, v, &c.workloads[c.n_workloads++], err)) < 0)
                break;
        }
        if (rc < 0) {
            mf_coco_clear(&c);
            return rc;
        }
        qsort(c.workloads, c.n_workloads, sizeof(*c.workloads), cmp_workload);
    }
    *out = c;
    return 0;
}

bool manifest_kbs_path_ok(const char *p, size_t max_segment)
{
    int seg = 0;
    size_t len = 0;
    const char *start = p;
    for (;; p++) {
        if (*p == '/' || *p == '\0') {
            if (len == 0 || (len == 1 && start[0] == '.') || (len == 2 && start[0] == '.' && start[1] == '.'))
                return false;
            seg++;
            if (*p == '\0')
                break;
            len = 0;
            start = p + 1;
            continue;
        }
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-') || ++len > max_segment)
            return false;
    }
    return seg == 3;
}

int mf_coco_check(const struct manifest *m, struct cairn_error *err)
{
    for (size_t i = 0; i < m->coco.n_workloads; i++) {
        const struct manifest_coco_workload *w = &m->coco.workloads[i];
        if (w->package == NULL || *w->package == '\0')
            return cairn_errf(err, CAIRN_ERR_INVALID, "ConfidentialContainers workload %s: Package is required",
                              w->name);
        const struct manifest_package *p = manifest_find_package(m, w->package);
        if (p == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "ConfidentialContainers workload %s: package %s does not "
                              "exist", w->name, w->package);
        if (p->pkg.tee != ATTEST_TDX && p->pkg.tee != ATTEST_SNP)
            return cairn_errf(err, CAIRN_ERR_INVALID, "ConfidentialContainers workload %s: package %s must have "
                              "\"TEE\": \"tdx\" or \"snp\" (a confidential VM)", w->name, w->package);
        for (size_t r = 0; r < w->n_resources; r++) {
            const struct manifest_kbs_resource *res = &w->resources[r];
            if (!manifest_kbs_path_ok(res->path, SIZE_MAX))
                return cairn_errf(err, CAIRN_ERR_INVALID, "ConfidentialContainers workload %s: resource \"%s\" "
                                  "must be repository/type/tag (letters, digits, '.', '_', '-')", w->name,
                                  res->path);
            const struct manifest_secret *s = manifest_find_secret(m, res->secret);
            if (s == NULL)
                return cairn_errf(err, CAIRN_ERR_INVALID, "ConfidentialContainers workload %s: resource %s names "
                                  "secret %s, which does not exist", w->name, res->path, res->secret);
            bool cert = s->type == MANIFEST_SECRET_CERT_RSA || s->type == MANIFEST_SECRET_CERT_ECDSA ||
                        s->type == MANIFEST_SECRET_CERT_ED25519;
            if (!cert && res->part == MANIFEST_KBS_PART_CERT)
                return cairn_errf(err, CAIRN_ERR_INVALID, "ConfidentialContainers workload %s: resource %s: "
                                  "secret %s has no certificate", w->name, res->path, res->secret);
            if (!s->shared && !s->user_defined)
                return cairn_errf(err, CAIRN_ERR_INVALID, "ConfidentialContainers workload %s: resource %s: "
                                  "secret %s must be Shared or UserDefined (per-marble secrets are derived "
                                  "from a marble's UUID)", w->name, res->path, res->secret);
        }
    }
    return 0;
}

const struct manifest_coco_workload *manifest_coco_find_workload(const struct manifest *m, const char *name)
{
    return mf_find(m->coco.workloads, m->coco.n_workloads, sizeof(*m->coco.workloads), name);
}

const struct manifest_kbs_resource *manifest_coco_find_resource(const struct manifest_coco_workload *w,
                                                                const char *path)
{
    size_t lo = 0, hi = w->n_resources;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, w->resources[mid].path);
        if (c == 0)
            return &w->resources[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
