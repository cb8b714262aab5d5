/* The secrets API (inventory §2.2): reading shared and user-defined secrets,
 * uploading user-defined ones all-or-nothing. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "core/core_internal.h"
#include "core/governance.h"
#include "crypto/crypto.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int gov_secrets_get(struct core *c, X509 *peer, const char *const *names, size_t n, json_t **out,
                    struct cairn_error *err)
{
    struct core_snap *s = core_snap_get(c);
    const struct manifest_user *u = NULL;
    json_t *o = NULL;
    int rc = 0;
    if (s->state != CORE_STATE_ACCEPTING_MARBLES) {
        rc = cairn_errf(err, CAIRN_ERR_STATE, "server is not in expected state");
        goto out;
    }
    if ((rc = gov_user_auth(s->manifest, peer, &u, err)) != 0)
        goto out;
    if (n == 0) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "s: name at least one secret (?s=NAME)");
        goto out;
    }
    if ((rc = gov_require(s->manifest, u, "Secrets", GOV_READ_SECRET, names, n, err)) != 0)
        goto out;
    if ((o = json_object()) == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct manifest_secret *def = manifest_find_secret(s->manifest, names[i]);
        if (def == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND, "secret %s does not exist in the manifest", names[i]);
            break;
        }
        const struct manifest_secret_value *v = manifest_secret_set_find(s->secrets, names[i]);
        struct manifest_secret_value empty = {0};
        if (v == NULL) {
            /* a user-defined secret not uploaded yet: its definition, no data */
            empty.name = def->name;
            empty.type = def->type;
            empty.size = def->size;
            empty.shared = def->shared;
            empty.user_defined = def->user_defined;
            empty.valid_for = def->valid_for;
            v = &empty;
        }
        json_t *j = NULL;
        rc = manifest_secret_value_to_json(v, &j);
        if (rc == 0 && json_object_set_new(o, names[i], j) != 0)
            rc = CAIRN_ERR_NOMEM;
        if (rc != 0)
            cairn_errf(err, rc, "encoding secret %s failed", names[i]);
    }
out:
    core_snap_put(s);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

int gov_secrets_set(struct core *c, X509 *peer, const json_t *secrets, struct cairn_error *err)
{
    core_admin_lock(c);
    struct core_snap *cur = core_snap_get(c), *next = NULL;
    const struct manifest_user *u = NULL;
    struct manifest_secret_set *up = NULL;
    const char **names = NULL;
    json_t *log = NULL;
    size_t n = 0;
    int rc = 0;
    if (cur->state != CORE_STATE_ACCEPTING_MARBLES) {
        rc = cairn_errf(err, CAIRN_ERR_STATE, "server is not in expected state");
        goto out;
    }
    if ((rc = gov_user_auth(cur->manifest, peer, &u, err)) != 0)
        goto out;
    if (!json_is_object(secrets) || json_object_size(secrets) == 0) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "secrets: expected a non-empty object {name: secret}");
        goto out;
    }
    names = calloc(json_object_size(secrets), sizeof(*names));
    if (names == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)secrets, k, v) names[n++] = k;
    qsort(names, n, sizeof(*names), cmp_str);   /* the same first error every time */
    if ((rc = gov_require(cur->manifest, u, "Secrets", GOV_WRITE_SECRET, names, n, err)) != 0)
        goto out;
    if ((rc = manifest_user_secrets_parse(cur->manifest, secrets, &up, err)) != 0)
        goto out;
    if ((next = gov_snap_clone(c, cur, err)) == NULL) {
        rc = err != NULL && err->code ? err->code : CAIRN_ERR_NOMEM;
        goto out;
    }
    if ((rc = manifest_secret_set_merge(next->secrets, up)) != 0) {
        cairn_errf(err, rc, "out of memory");
        goto out;
    }
    /* MarbleRun renders every template with the new values before storing them */
    if ((rc = manifest_dry_run(next->manifest, next->secrets, err)) != 0) {
        cairn_err_prefix(err, "secrets rejected by the template dry run");
        goto out;
    }
    if ((rc = core_snap_finish(c, next, err)) != 0)
        goto out;
    if ((rc = core_update_log(c, &log)) != 0) {
        cairn_errf(err, rc, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct manifest_secret *def = manifest_find_secret(cur->manifest, names[i]);
        json_t *f = json_pack("{s:s, s:s, s:s}", "user", u->name, "secret", names[i], "type",
                              def != NULL ? def->type_str : "");
        json_t *line = f != NULL ? core_log_line("Secret set", f) : NULL;
        json_decref(f);
        if (line == NULL || json_array_append_new(log, line) != 0)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    if (rc != 0)
        goto out;
    rc = core_commit_gov(c, cur, next, NULL, log, err);
    next = NULL;   /* consumed */
    if (rc == 0)
        LOG_INFO("user %s set %zu secret(s)", u->name, n);
out:
    json_decref(log);
    free(names);
    manifest_secret_set_free(up);
    core_snap_put(next);
    core_snap_put(cur);
    core_admin_unlock(c);
    return rc;
}

void gov_secret_placeholder(const struct manifest_secret *d, struct manifest_secret_value *out)
{
    memset(out, 0, sizeof(*out));
    out->name = d->name;
    out->type = d->type;
    out->size = d->size;
    out->shared = d->shared;
    out->user_defined = d->user_defined;
    out->valid_for = d->valid_for;
}

int gov_previous_stored(const struct core_snap *s, struct manifest_secret_set **out, struct cairn_error *err)
{
    struct manifest_secret_set *set = manifest_secret_set_new();
    int rc = set != NULL ? 0 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc == 0 && s->previous_secrets != NULL) {
        if (manifest_secret_set_merge(set, s->previous_secrets) != 0)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    } else if (rc == 0 && s->manifest != NULL) {
        /* no full update yet: MarbleRun's SetManifest stored every secret as
         * its own previous value, user-defined ones as placeholders */
        for (size_t i = 0; rc == 0 && i < s->manifest->n_secrets; i++) {
            const struct manifest_secret *d = &s->manifest->secrets[i];
            const struct manifest_secret_value *v = NULL;
            struct manifest_secret_value ph;
            if (d->user_defined) {
                gov_secret_placeholder(d, &ph);
                v = &ph;
            } else if (d->shared) {
                v = manifest_secret_set_find(s->secrets, d->name);
            }
            if (v != NULL && manifest_secret_set_put(set, v) != 0)
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        }
    }
    if (rc != 0) {
        manifest_secret_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

int gov_previous_secrets(const struct core_snap *s, const char *uuid, const char *type,
                         const struct manifest_secret_set *priv, struct manifest_secret_set **out,
                         struct cairn_error *err)
{
    *out = NULL;
    if (s->manifest == NULL)
        return cairn_errf(err, CAIRN_ERR_STATE, "no manifest");
    const struct manifest *m = s->manifest;
    /* MarbleRun's GetPreviousRootSecret: the current one until a rotation */
    const uint8_t *prev_root = s->has_previous_root_secret ? s->previous_root_secret : s->root_secret;
    struct manifest_secret *defs = calloc(m->n_secrets + 1, sizeof(*defs));
    struct manifest_secret_set *set = NULL, *gen = NULL;
    int rc = defs != NULL ? 0 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < m->n_secrets; i++) {
        const struct manifest_secret *d = &m->secrets[i];
        if (!d->shared && !d->user_defined && d->type == MANIFEST_SECRET_SYMMETRIC_KEY)
            defs[k++] = *d;   /* shallow: borrowed from m, never freed here */
    }
    if (rc == 0 && k > 0) {
        /* a view of the manifest with only its private symmetric keys, so
         * that no certificate key is generated a second time */
        struct manifest view = *m;
        view.secrets = defs;
        view.n_secrets = k;
        rc = manifest_generate_secrets(&view, MANIFEST_SECRETS_PRIVATE, prev_root, uuid, type, NULL, NULL, 0, &gen,
                                       err);
    }
    /* the stored previous values win: a name that was shared or
     * user-defined before the update keeps its real previous value */
    if (rc == 0)
        rc = gov_previous_stored(s, &set, err);
    for (size_t i = 0; rc == 0 && gen != NULL && i < gen->count; i++)
        if (manifest_secret_set_find(set, gen->items[i].name) == NULL &&
            manifest_secret_set_put(set, &gen->items[i]) != 0)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && priv != NULL && i < priv->count; i++)
        if (priv->items[i].type != MANIFEST_SECRET_SYMMETRIC_KEY &&
            manifest_secret_set_find(set, priv->items[i].name) == NULL &&
            manifest_secret_set_put(set, &priv->items[i]) != 0)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    manifest_secret_set_free(gen);
    free(defs);
    if (rc != 0) {
        manifest_secret_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}
