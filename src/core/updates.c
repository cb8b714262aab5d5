/* Updates (inventory §6): package SecurityVersion updates and full manifest
 * updates with multi-party acknowledgement. */
#include <stdlib.h>
#include <string.h>

#include "common/encoding.h"
#include "common/log.h"
#include "core/core_internal.h"
#include "core/governance.h"
#include "core/pki.h"
#include "crypto/crypto.h"

#define MSG_NOT_STATE "server is not in expected state"

/* ---- snapshots ---- */

static int apply_svns(struct manifest *m, const json_t *svns, struct cairn_error *err)
{
    const char *k;
    json_t *v;
    if (svns == NULL)
        return 0;
    if (!json_is_object(svns))
        return cairn_errf(err, CAIRN_ERR_INVALID, "packageSVN: expected an object");
    json_object_foreach((json_t *)svns, k, v) {
        struct manifest_package *p = (struct manifest_package *)manifest_find_package(m, k);
        if (p == NULL || !json_is_integer(v) || json_integer_value(v) < 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "packageSVN.%s: expected a known package and a version", k);
        p->pkg.has_security_version = true;
        p->pkg.security_version = (uint64_t)json_integer_value(v);
    }
    return 0;
}

static bool string_array(const json_t *a)
{
    size_t i;
    json_t *v;
    if (!json_is_array(a))
        return false;
    json_array_foreach(a, i, v) if (!json_is_string(v)) return false;
    return true;
}

int gov_snap_loaded(struct core_snap *s, const json_t *gov, struct cairn_error *err)
{
    if (gov == NULL || json_is_null(gov))
        return 0;
    if (!json_is_object(gov))
        return cairn_errf(err, CAIRN_ERR_INVALID, "expected an object");
    const json_t *p = json_object_get(gov, "pendingUpdate");
    if (p != NULL &&
        (!json_is_object(p) || !json_is_string(json_object_get(p, "manifest")) ||
         !string_array(json_object_get(p, "requiredUsers")) || !string_array(json_object_get(p, "acknowledged")) ||
         !json_is_integer(json_object_get(p, "missingAcknowledgments")) ||
         json_integer_value(json_object_get(p, "missingAcknowledgments")) < 0))
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "pendingUpdate: expected {manifest, requiredUsers, acknowledged, missingAcknowledgments}");
    /* check everything before changing the manifest: no partial application */
    const json_t *svns = json_object_get(gov, "packageSVN");
    if (svns != NULL) {
        const char *k;
        json_t *v;
        if (!json_is_object(svns))
            return cairn_errf(err, CAIRN_ERR_INVALID, "packageSVN: expected an object");
        json_object_foreach((json_t *)svns, k, v) {
            if (manifest_find_package(s->manifest, k) == NULL || !json_is_integer(v) || json_integer_value(v) < 0)
                return cairn_errf(err, CAIRN_ERR_INVALID, "packageSVN.%s: expected a known package and a version",
                                  k);
        }
    }
    int rc = apply_svns(s->manifest, svns, err);
    if (rc != 0)
        return rc;
    json_decref(s->gov);
    s->gov = json_deep_copy(gov);
    return s->gov != NULL ? 0 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
}

static int copy_bytes(uint8_t **dst, size_t *dst_len, const uint8_t *src, size_t len)
{
    *dst = NULL;
    *dst_len = 0;
    if (src == NULL)
        return 0;
    if ((*dst = malloc(len + 1)) == NULL)
        return CAIRN_ERR_NOMEM;
    memcpy(*dst, src, len);
    (*dst)[len] = 0;
    *dst_len = len;
    return 0;
}

struct core_snap *gov_snap_clone(struct core *c, const struct core_snap *cur, struct cairn_error *err)
{
    (void)c;
    struct core_snap *n = core_snap_alloc();
    if (n == NULL) {
        cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    int rc = 0;
    n->state = cur->state;
    if (cur->manifest_raw != NULL &&
        (rc = manifest_parse(cur->manifest_raw, cur->manifest_raw_len, &n->manifest, err)) == 0)
        rc = gov_snap_loaded(n, cur->gov, err);
    if (rc == 0 && (copy_bytes(&n->manifest_raw, &n->manifest_raw_len, cur->manifest_raw, cur->manifest_raw_len) ||
                    copy_bytes(&n->manifest_sig, &n->manifest_sig_len, cur->manifest_sig, cur->manifest_sig_len)))
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        memcpy(n->manifest_hash, cur->manifest_hash, sizeof(n->manifest_hash));
        n->seal_disabled = cur->seal_disabled;
        n->seal_unique = cur->seal_unique;
        X509_up_ref(cur->root_cert);
        n->root_cert = cur->root_cert;
        EVP_PKEY_up_ref(cur->root_key);
        n->root_key = cur->root_key;
        X509_up_ref(cur->intermediate_cert);
        n->intermediate_cert = cur->intermediate_cert;
        EVP_PKEY_up_ref(cur->intermediate_key);
        n->intermediate_key = cur->intermediate_key;
        X509_up_ref(cur->marble_root_cert);
        n->marble_root_cert = cur->marble_root_cert;
        memcpy(n->root_secret, cur->root_secret, 32);
        memcpy(n->previous_root_secret, cur->previous_root_secret, 32);
        n->has_previous_root_secret = cur->has_previous_root_secret;
        if ((n->secrets = manifest_secret_set_new()) == NULL ||
            (cur->secrets != NULL && manifest_secret_set_merge(n->secrets, cur->secrets) != 0))
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    if (rc == 0 && cur->previous_secrets != NULL &&
        ((n->previous_secrets = manifest_secret_set_new()) == NULL ||
         manifest_secret_set_merge(n->previous_secrets, cur->previous_secrets) != 0))
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc != 0) {
        core_snap_put(n);
        return NULL;
    }
    return n;
}

/* A new Intermediate and Marble Root for `s` (every update, inventory §6). */
static int new_intermediate(struct core_snap *s, struct cairn_error *err)
{
    X509 *ic = NULL, *mr = NULL;
    EVP_PKEY *ik = NULL;
    int rc = pki_intermediate_new(s->root_cert, s->root_key, &ic, &mr, &ik, err);
    if (rc != 0)
        return rc;
    X509_free(s->intermediate_cert);
    X509_free(s->marble_root_cert);
    EVP_PKEY_free(s->intermediate_key);
    s->intermediate_cert = ic;
    s->marble_root_cert = mr;
    s->intermediate_key = ik;
    return 0;
}

static json_t *gov_obj(struct core_snap *s)
{
    if (s->gov == NULL)
        s->gov = json_object();
    return s->gov;
}

static const json_t *pending_of(const struct core_snap *s)
{
    const json_t *p = s->gov != NULL ? json_object_get(s->gov, "pendingUpdate") : NULL;
    return json_is_object(p) ? p : NULL;
}

/* Appends one log line to `log`. */
static int log_add(json_t *log, const char *msg, json_t *fields, struct cairn_error *err)
{
    json_t *line = core_log_line(msg, fields);
    json_decref(fields);
    if (line == NULL || json_array_append_new(log, line) != 0)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    return 0;
}

/* Common prologue: state 3 and an authenticated user. */
static int begin(struct core_snap *cur, X509 *peer, const struct manifest_user **u, struct cairn_error *err)
{
    if (cur->state != CORE_STATE_ACCEPTING_MARBLES)
        return cairn_errf(err, CAIRN_ERR_STATE, MSG_NOT_STATE);
    return gov_user_auth(cur->manifest, peer, u, err);
}

/* ---- package (SecurityVersion) updates ---- */

static int update_svn(struct core *c, struct core_snap *cur, const struct manifest_user *u,
                      const struct manifest *upd, json_t **out, struct cairn_error *err)
{
    const char **names = calloc(upd->n_packages + 1, sizeof(*names));
    struct core_snap *next = NULL;
    struct manifest_secret_set *gen = NULL;
    json_t *log = NULL;
    int rc = names != NULL ? 0 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < upd->n_packages; i++)
        names[i] = upd->packages[i].name;
    if (rc == 0 && upd->n_packages == 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "update manifest: Packages: no package to update");
    if (rc == 0)
        rc = gov_require(cur->manifest, u, "Packages", GOV_UPDATE_SVN, names, upd->n_packages, err);
    if (rc == 0 && (rc = manifest_check_update(upd, cur->manifest->packages, cur->manifest->n_packages, err)) != 0)
        rc = CAIRN_ERR_INVALID;
    if (rc == 0 && (next = gov_snap_clone(c, cur, err)) == NULL)
        rc = err != NULL && err->code ? err->code : CAIRN_ERR_NOMEM;
    json_t *svns = NULL;
    if (rc == 0) {
        json_t *g = gov_obj(next);
        svns = g != NULL ? json_object_get(g, "packageSVN") : NULL;
        if (g != NULL && svns == NULL) {
            svns = json_object();
            json_object_set_new(g, "packageSVN", svns);
        }
        if (svns == NULL)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    if (rc == 0 && (rc = core_update_log(c, &log)) != 0)
        cairn_errf(err, rc, "out of memory");
    for (size_t i = 0; rc == 0 && i < upd->n_packages; i++) {
        const struct manifest_package *up = &upd->packages[i];
        struct manifest_package *p = (struct manifest_package *)manifest_find_package(next->manifest, up->name);
        p->pkg.has_security_version = true;
        p->pkg.security_version = up->pkg.security_version;
        if (json_object_set_new(svns, up->name, json_integer((json_int_t)up->pkg.security_version)) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            break;
        }
        rc = log_add(log, "SecurityVersion increased",
                     json_pack("{s:s, s:s, s:I}", "user", u->name, "package", up->name, "new version",
                               (json_int_t)up->pkg.security_version),
                     err);
    }
    /* new Intermediate and Marble Root; shared certificates follow them,
     * symmetric keys and user-defined values stay */
    if (rc == 0)
        rc = new_intermediate(next, err);
    if (rc == 0)
        rc = manifest_generate_secrets(next->manifest, MANIFEST_SECRETS_SHARED, next->root_secret, NULL, NULL,
                                       next->marble_root_cert, next->intermediate_key, 0, &gen, err);
    for (size_t i = 0; rc == 0 && i < gen->count; i++) {
        if (gen->items[i].type == MANIFEST_SECRET_SYMMETRIC_KEY &&
            manifest_secret_set_find(next->secrets, gen->items[i].name) != NULL)
            continue;
        if (manifest_secret_set_put(next->secrets, &gen->items[i]) != 0)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    if (rc == 0)
        rc = core_snap_finish(c, next, err);
    if (rc == 0) {
        rc = core_commit_gov(c, cur, next, NULL, log, err);
        next = NULL;
    }
    if (rc == 0) {
        *out = json_pack("{s:i, s:[]}", "missingAcknowledgments", 0, "missingUsers");
        LOG_INFO("user %s raised the SecurityVersion of %zu package(s); marbles must be restarted", u->name,
                 upd->n_packages);
    }
    manifest_secret_set_free(gen);
    json_decref(log);
    core_snap_put(next);
    free(names);
    return rc;
}

/* ---- full updates ---- */

/* MarbleRun's Secret.EqualDefinition */
static bool same_def(const struct manifest_secret *a, const struct manifest_secret *b)
{
    return a != NULL && b != NULL && a->type == b->type && a->size == b->size && a->shared == b->shared &&
           a->user_defined == b->user_defined && a->valid_for == b->valid_for;
}

/* Builds the snapshot of the applied update `raw` (already validated). */
static int build_full(struct core *c, struct core_snap *cur, const uint8_t *raw, size_t len,
                      struct core_snap **out, uint8_t dek[32], bool *new_dek, json_t **recovery, json_t **meta,
                      struct cairn_error *err)
{
    struct core_snap *n = core_snap_alloc();
    struct manifest_secret_set *gen = NULL;
    int rc = n != NULL ? 0 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        n->state = CORE_STATE_ACCEPTING_MARBLES;
        rc = manifest_parse(raw, len, &n->manifest, err);
    }
    if (rc == 0 && copy_bytes(&n->manifest_raw, &n->manifest_raw_len, raw, len) != 0)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        manifest_hash_hex(raw, len, n->manifest_hash);
        const char *sm = n->manifest->config.seal_mode != NULL ? n->manifest->config.seal_mode : "";
        n->seal_disabled = strcmp(sm, "Disabled") == 0;
        n->seal_unique = strcmp(sm, "UniqueKey") == 0;
        X509_up_ref(cur->root_cert);
        n->root_cert = cur->root_cert;
        EVP_PKEY_up_ref(cur->root_key);
        n->root_key = cur->root_key;
        if (cc_sign(n->root_key, "SHA256", raw, len, &n->manifest_sig, &n->manifest_sig_len) != 0)
            rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "signing the manifest failed");
    }
    if (rc == 0)
        rc = pki_intermediate_new(n->root_cert, n->root_key, &n->intermediate_cert, &n->marble_root_cert,
                                  &n->intermediate_key, err);
    bool rotate = rc == 0 && n->manifest->config.rotate_root_secret;
    if (rc == 0) {
        /* as MarbleRun (updateSecrets): only a rotation backs the root secret
         * up as the previous one; otherwise the previous root secret stays
         * what it was (unset = the current one) */
        if (rotate) {
            memcpy(n->previous_root_secret, cur->root_secret, 32);
            n->has_previous_root_secret = true;
            rc = cc_random(n->root_secret, 32) == 0 ? 0 : cairn_errf(err, CAIRN_ERR_CRYPTO, "no randomness");
        } else {
            memcpy(n->previous_root_secret, cur->previous_root_secret, 32);
            n->has_previous_root_secret = cur->has_previous_root_secret;
            memcpy(n->root_secret, cur->root_secret, 32);
        }
    }
    struct manifest_secret_set *oprev = NULL;
    if (rc == 0)
        rc = manifest_generate_secrets(n->manifest, MANIFEST_SECRETS_SHARED, n->root_secret, NULL, NULL,
                                       n->marble_root_cert, n->intermediate_key, 0, &gen, err);
    if (rc == 0)
        rc = gov_previous_stored(cur, &oprev, err);
    if (rc == 0 && ((n->secrets = manifest_secret_set_new()) == NULL ||
                    (n->previous_secrets = manifest_secret_set_new()) == NULL))
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    /* MarbleRun's .Previous.Secrets: a secret's previous value is replaced
     * only when that secret is regenerated (then: its value before); a new
     * or redefined secret starts with previous = its new value (user-defined:
     * a placeholder); kept secrets keep their previous value; removed ones
     * are dropped */
    for (size_t i = 0; rc == 0 && i < n->manifest->n_secrets; i++) {
        const struct manifest_secret *d = &n->manifest->secrets[i];
        const struct manifest_secret *od = manifest_find_secret(cur->manifest, d->name);
        const struct manifest_secret_value *old = manifest_secret_set_find(cur->secrets, d->name);
        const struct manifest_secret_value *was = manifest_secret_set_find(oprev, d->name);
        const struct manifest_secret_value *keep = NULL, *prev = NULL;
        struct manifest_secret_value ph;
        bool same = same_def(d, od);
        if (d->user_defined) {
            keep = same ? old : NULL;   /* a changed definition must be uploaded again */
            if (same && was != NULL) {
                prev = was;
            } else {
                gov_secret_placeholder(d, &ph);
                prev = &ph;
            }
        } else if (d->shared) {
            /* certificates follow the new intermediate; symmetric keys stay
             * unless RotateRootSecret or their definition changed */
            if (d->type == MANIFEST_SECRET_SYMMETRIC_KEY && !rotate && same && old != NULL) {
                keep = old;
                prev = was != NULL ? was : old;
            } else {
                keep = manifest_secret_set_find(gen, d->name);
                prev = same && old != NULL ? old : keep;   /* regenerated: the value before */
            }
        }
        if (keep != NULL && manifest_secret_set_put(n->secrets, keep) != 0)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        if (rc == 0 && prev != NULL && manifest_secret_set_put(n->previous_secrets, prev) != 0)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    manifest_secret_set_free(oprev);
    if (rc == 0 && (rc = manifest_dry_run(n->manifest, n->secrets, err)) != 0)
        cairn_err_prefix(err, "template dry run");
    *new_dek = false;
    if (rc == 0 && !gov_recovery_keys_equal(cur->manifest, n->manifest)) {
        rc = gov_recovery_secrets(n->manifest, dek, recovery, meta, err);
        *new_dek = rc == 0;
    }
    if (rc == 0)
        rc = core_snap_finish(c, n, err);
    manifest_secret_set_free(gen);
    if (rc != 0) {
        core_snap_put(n);
        if (*new_dek) {
            json_decref(*recovery);
            json_decref(*meta);
            *recovery = *meta = NULL;
            *new_dek = false;
        }
        return rc;
    }
    *out = n;
    return 0;
}

/* Applies `raw` on top of `cur` with the given log (lines already added for
 * the initiation/acknowledgement); adds "Complete Manifest updated". On a
 * failure the pending update is cancelled with MarbleRun's log line. */
static int apply_full(struct core *c, struct core_snap *cur, const uint8_t *raw, size_t len, json_t *log,
                      json_t **recovery_out, struct cairn_error *err)
{
    struct core_snap *next = NULL;
    uint8_t dek[32];
    bool new_dek = false;
    json_t *rec = NULL, *meta = NULL;
    int rc = build_full(c, cur, raw, len, &next, dek, &new_dek, &rec, &meta, err);
    if (rc == 0)
        rc = log_add(log, "Complete Manifest updated", json_pack("{s:s}", "manifestFingerprint", next->manifest_hash),
                     err);
    if (rc == 0) {
        /* issue 12: a new DEK is committed together with its recovery data */
        rc = new_dek ? core_commit_rekey(c, cur, next, dek, meta, NULL, log, err)
                     : core_commit_gov(c, cur, next, NULL, log, err);
        next = NULL;
        if (rc == 0) {
            *recovery_out = rec;
            rec = NULL;
            LOG_INFO("manifest updated; marbles must be restarted");
        }
    } else if (pending_of(cur) != NULL) {
        /* MarbleRun cancels the update when applying it fails */
        struct cairn_error e2 = {0};
        struct core_snap *cl = gov_snap_clone(c, cur, &e2);
        json_t *l2 = NULL;
        if (cl != NULL && core_update_log(c, &l2) == 0 &&
            log_add(l2, "Complete Manifest update cancelled due to error during apply", NULL, &e2) == 0) {
            json_object_del(cl->gov, "pendingUpdate");
            if (core_snap_finish(c, cl, &e2) == 0) {
                core_commit_gov(c, cur, cl, NULL, l2, &e2);
                cl = NULL;
            }
        }
        core_snap_put(cl);
        json_decref(l2);
        cairn_err_prefix(err, "applying the update failed, the update was cancelled");
    }
    core_snap_put(next);
    json_decref(rec);
    json_decref(meta);
    cc_wipe(dek, sizeof(dek));
    return rc;
}

static json_t *missing_users(const json_t *pending)
{
    json_t *out = json_array();
    const json_t *req = json_object_get(pending, "requiredUsers"), *ack = json_object_get(pending, "acknowledged");
    size_t i, k;
    json_t *r, *a;
    json_array_foreach(req, i, r) {
        bool done = false;
        json_array_foreach(ack, k, a) done = done || json_equal(a, r);
        if (!done)
            json_array_append(out, r);
    }
    return out;
}

static int update_full(struct core *c, struct core_snap *cur, const struct manifest_user *u, const uint8_t *raw,
                       size_t len, struct manifest *upd, json_t **out, struct cairn_error *err)
{
    int rc = gov_require(cur->manifest, u, "Manifest", GOV_UPDATE_MANIFEST, NULL, 0, err);
    if (rc != 0)
        return rc;
    if (pending_of(cur) != NULL)
        return cairn_errf(err, CAIRN_ERR_STATE,
                          "update already in progress: acknowledge it or cancel it (POST /api/v2/update-cancel) "
                          "before starting another");
    if ((rc = manifest_check(upd, err)) != 0 || (rc = manifest_validate(upd, err)) != 0)
        return rc == CAIRN_ERR_NOMEM ? rc : CAIRN_ERR_INVALID;
    const char **req = NULL;
    size_t n_req = 0;
    if (gov_update_users(cur->manifest, &req, &n_req) != 0)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    /* the current manifest's threshold (0 = all); the submitter counts once */
    uint64_t need = cur->manifest->config.update_threshold != 0 ? cur->manifest->config.update_threshold : n_req;
    int64_t missing = (int64_t)need - 1;
    if (missing < 0)
        missing = 0;
    char fp[65];
    manifest_hash_hex(raw, len, fp);
    json_t *log = NULL, *pend = NULL, *rec = NULL;
    struct core_snap *next = NULL;
    if ((rc = core_update_log(c, &log)) != 0) {
        free(req);
        return cairn_errf(err, rc, "out of memory");
    }
    pend = json_object();
    json_t *reqj = json_array(), *ackj = json_array();
    for (size_t i = 0; i < n_req; i++)
        json_array_append_new(reqj, json_string(req[i]));
    json_array_append_new(ackj, json_string(u->name));
    char *b64 = cairn_base64_encode(raw, len);
    json_object_set_new(pend, "manifest", b64 != NULL ? json_string(b64) : json_null());
    free(b64);
    json_object_set_new(pend, "requiredUsers", reqj);
    json_object_set_new(pend, "acknowledged", ackj);
    json_object_set_new(pend, "missingAcknowledgments", json_integer(missing));
    json_t *mu = missing_users(pend);
    free(req);
    if (missing == 0) {
        rc = log_add(log, "Complete Manifest update initiated by user. No further acknowledgements required",
                     json_pack("{s:s, s:i, s:O, s:s}", "user", u->name, "missingAcknowledgments", 0, "missingUsers",
                               mu, "manifestFingerprint", fp),
                     err);
        if (rc == 0)
            rc = apply_full(c, cur, raw, len, log, &rec, err);
    } else {
        rc = log_add(log, "Complete Manifest update initiated by user. Waiting for acknowledgments to apply the update",
                     json_pack("{s:s, s:I, s:O, s:s}", "user", u->name, "missingAcknowledgments", (json_int_t)missing,
                               "missingUsers", mu, "manifestFingerprint", fp),
                     err);
        if (rc == 0 && (next = gov_snap_clone(c, cur, err)) == NULL)
            rc = err != NULL && err->code ? err->code : CAIRN_ERR_NOMEM;
        if (rc == 0 && (gov_obj(next) == NULL || json_object_set(next->gov, "pendingUpdate", pend) != 0))
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        if (rc == 0)
            rc = core_snap_finish(c, next, err);
        if (rc == 0) {
            rc = core_commit_gov(c, cur, next, NULL, log, err);
            next = NULL;
        }
        if (rc == 0)
            LOG_INFO("user %s started a manifest update; %lld acknowledgement(s) missing", u->name, (long long)missing);
    }
    if (rc == 0) {
        json_t *o = json_pack("{s:I, s:O}", "missingAcknowledgments", (json_int_t)missing, "missingUsers", mu);
        if (o != NULL && json_is_object(rec) && json_object_size(rec) > 0)
            json_object_set(o, "recoverySecrets", rec);
        *out = o;
    }
    json_decref(mu);
    json_decref(pend);
    json_decref(log);
    json_decref(rec);
    core_snap_put(next);
    return rc;
}

int gov_update(struct core *c, X509 *peer, const uint8_t *raw, size_t len, json_t **out, struct cairn_error *err)
{
    core_admin_lock(c);
    struct core_snap *cur = core_snap_get(c);
    const struct manifest_user *u = NULL;
    struct manifest *upd = NULL;
    int rc = begin(cur, peer, &u, err);
    if (rc == 0 && (rc = manifest_parse(raw, len, &upd, err)) != 0 && rc != CAIRN_ERR_NOMEM)
        rc = CAIRN_ERR_INVALID;
    if (rc == 0) {
        if (manifest_is_update_manifest(upd))
            rc = update_svn(c, cur, u, upd, out, err);
        else
            rc = update_full(c, cur, u, raw, len, upd, out, err);
    }
    manifest_free(upd);
    core_snap_put(cur);
    core_admin_unlock(c);
    return rc;
}

static int pending_raw(const json_t *p, uint8_t **raw, size_t *len, struct cairn_error *err)
{
    const json_t *m = json_object_get(p, "manifest");
    if (!json_is_string(m) || cairn_base64_decode(json_string_value(m), json_string_length(m), raw, len) != 0)
        return cairn_errf(err, CAIRN_ERR_INTERNAL, "pending update: manifest is not base64");
    return 0;
}

int gov_update_pending(struct core *c, json_t **out, struct cairn_error *err)
{
    struct core_snap *s = core_snap_get(c);
    const json_t *p = s->state == CORE_STATE_ACCEPTING_MARBLES ? pending_of(s) : NULL;
    int rc = 0;
    if (p == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND, "no update in progress");
    } else {
        json_t *mu = missing_users(p);
        json_int_t missing = json_integer_value(json_object_get(p, "missingAcknowledgments"));
        char msg[96];
        snprintf(msg, sizeof(msg), "%lld users still need to acknowledge the update manifest", (long long)missing);
        *out = json_pack("{s:O, s:s, s:o, s:I}", "manifest", json_object_get(p, "manifest"), "message", msg,
                         "missingUsers", mu, "missingAcknowledgments", missing);
        if (*out == NULL)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    core_snap_put(s);
    return rc;
}

int gov_update_ack(struct core *c, X509 *peer, const uint8_t *raw, size_t len, json_t **out, struct cairn_error *err)
{
    core_admin_lock(c);
    struct core_snap *cur = core_snap_get(c), *next = NULL;
    const struct manifest_user *u = NULL;
    const json_t *p = NULL;
    uint8_t *praw = NULL;
    size_t plen = 0;
    json_t *log = NULL, *rec = NULL, *mu = NULL;
    int rc = begin(cur, peer, &u, err);
    if (rc == 0)
        rc = gov_require(cur->manifest, u, "Manifest", GOV_UPDATE_MANIFEST, NULL, 0, err);
    if (rc == 0 && (p = pending_of(cur)) == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND, "no update in progress");
    if (rc == 0)
        rc = pending_raw(p, &praw, &plen, err);
    if (rc == 0 && (plen != len || memcmp(praw, raw, len) != 0))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "provided manifest does not match the pending manifest");
    bool required = false, acked = false;
    if (rc == 0) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(p, "requiredUsers"), i, v) required =
            required || (json_is_string(v) && strcmp(json_string_value(v), u->name) == 0);
        json_array_foreach(json_object_get(p, "acknowledged"), i, v) acked =
            acked || (json_is_string(v) && strcmp(json_string_value(v), u->name) == 0);
        if (acked)
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "user %s has already acknowledged the update manifest", u->name);
        else if (!required)
            rc = cairn_errf(err, CAIRN_ERR_PERMISSION,
                            "user %s is not among the users required to acknowledge this update", u->name);
    }
    if (rc == 0 && (rc = core_update_log(c, &log)) != 0)
        cairn_errf(err, rc, "out of memory");
    json_int_t missing = rc == 0 ? json_integer_value(json_object_get(p, "missingAcknowledgments")) - 1 : 0;
    if (missing < 0)
        missing = 0;
    if (rc == 0)
        rc = log_add(log, "Complete Manifest update acknowledged by user", json_pack("{s:s}", "user", u->name), err);
    char msg[128];
    if (rc == 0 && missing == 0) {
        rc = apply_full(c, cur, raw, len, log, &rec, err);
        snprintf(msg, sizeof(msg), "All users have acknowledged the update manifest. Update successfully applied");
        mu = json_array();
    } else if (rc == 0) {
        if ((next = gov_snap_clone(c, cur, err)) == NULL)
            rc = err != NULL && err->code ? err->code : CAIRN_ERR_NOMEM;
        json_t *np = rc == 0 ? json_object_get(next->gov, "pendingUpdate") : NULL;
        if (rc == 0 && (np == NULL || json_array_append_new(json_object_get(np, "acknowledged"), json_string(u->name)) ||
                        json_object_set_new(np, "missingAcknowledgments", json_integer(missing))))
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        if (rc == 0) {
            mu = missing_users(np);
            rc = core_snap_finish(c, next, err);
        }
        if (rc == 0) {
            rc = core_commit_gov(c, cur, next, NULL, log, err);
            next = NULL;
        }
        snprintf(msg, sizeof(msg), "Acknowledgement successful: %lld users still need to acknowledge the update manifest",
                 (long long)missing);
    }
    if (rc == 0) {
        json_t *o = json_pack("{s:s, s:O, s:I}", "message", msg, "missingUsers", mu, "missingAcknowledgments", missing);
        if (o != NULL && json_is_object(rec) && json_object_size(rec) > 0)
            json_object_set(o, "recoverySecrets", rec);
        *out = o;
        LOG_INFO("user %s acknowledged the pending update (%lld missing)", u->name, (long long)missing);
    }
    json_decref(mu);
    json_decref(rec);
    json_decref(log);
    free(praw);
    core_snap_put(next);
    core_snap_put(cur);
    core_admin_unlock(c);
    return rc;
}

int gov_update_cancel(struct core *c, X509 *peer, struct cairn_error *err)
{
    core_admin_lock(c);
    struct core_snap *cur = core_snap_get(c), *next = NULL;
    const struct manifest_user *u = NULL;
    json_t *log = NULL;
    int rc = begin(cur, peer, &u, err);
    if (rc == 0)
        rc = gov_require(cur->manifest, u, "Manifest", GOV_UPDATE_MANIFEST, NULL, 0, err);
    if (rc == 0 && pending_of(cur) == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND, "no update in progress");
    if (rc == 0 && (rc = core_update_log(c, &log)) != 0)
        cairn_errf(err, rc, "out of memory");
    if (rc == 0)
        rc = log_add(log, "Complete Manifest update cancelled by user", json_pack("{s:s}", "user", u->name), err);
    if (rc == 0 && (next = gov_snap_clone(c, cur, err)) == NULL)
        rc = err != NULL && err->code ? err->code : CAIRN_ERR_NOMEM;
    if (rc == 0) {
        json_object_del(next->gov, "pendingUpdate");
        rc = core_snap_finish(c, next, err);
    }
    if (rc == 0) {
        rc = core_commit_gov(c, cur, next, NULL, log, err);
        next = NULL;
    }
    if (rc == 0)
        LOG_INFO("user %s cancelled the pending update", u->name);
    json_decref(log);
    core_snap_put(next);
    core_snap_put(cur);
    core_admin_unlock(c);
    return rc;
}
