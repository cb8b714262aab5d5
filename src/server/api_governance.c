/* Client API handlers for users, secrets, updates and recovery (inventory
 * §2.2, §2.3; logic in src/core/{users,secrets,updates,recovery}.c).
 *
 * Status codes as MarbleRun: an unknown or missing client certificate is 401
 * (v2 fail, v1 error); a malformed request body 400 fail; "no update in
 * progress" 404; every refusal of the logic (permission, state, rules) a 500
 * error in v2 and a 400 error in v1. As MarbleRun, every endpoint that needs
 * a user authenticates the client certificate first (401 before any check of
 * the query, the body or the state). Bodies are decoded by api_json.h (Go
 * encoding/json semantics). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/encoding.h"
#include "common/log.h"
#include "core/governance.h"
#include "crypto/crypto.h"
#include "server/api.h"
#include "server/api_json.h"

#define RECOVER_MAX_BODY 20480
#define SECRETS_MAX_NAMES 256

static struct core *core_of(void *ctx)
{
    return ((struct api_ctx *)ctx)->core;
}

/* MarbleRun's "no update in progress" stays its 404 error; every other
 * refusal goes through the one status table (api_refuse: a client error is a
 * 4xx, a wrong state 409 naming the state). `action` completes "cannot ...". */
static void refuse_v2(struct srv_req *r, void *ctx, const char *action, const struct cairn_error *e)
{
    if (e->code == CAIRN_ERR_NOT_FOUND && strcmp(e->msg, "no update in progress") == 0) {
        srv_jsend_error(r, 404, "%s", cairn_error_msg(e));
        return;
    }
    api_refuse(r, core_of(ctx), false, action, e);
}

static void refuse_v1(struct srv_req *r, void *ctx, const char *action, const struct cairn_error *e)
{
    api_refuse(r, core_of(ctx), true, action, e);
}

/* Overwrites every string inside `j` before it is released: uploaded secret
 * values and recovery secrets are held in jansson strings. */
static void wipe_json_strings(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_string(j)) {
        cc_wipe((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        json_object_foreach(j, k, v) wipe_json_strings(v);
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) wipe_json_strings(v);
    }
}

/* {"<member>": b64} of a v2 body; replies 400 and returns -1 on failure. */
static int body_b64_member(struct srv_req *r, const char *member, uint8_t **out, size_t *out_len)
{
    size_t len;
    const uint8_t *body = srv_req_body(r, &len);
    struct api_jbytes b = {0};
    bool given = false;
    const struct api_jfield f[] = {{member, API_J_BYTES, &b, &given}};
    struct cairn_error e = {0};
    if (api_json_decode(body, len, f, 1, NULL, &e) != 0) {
        srv_jsend_fail(r, 400, "%s", cairn_error_msg(&e));
        return -1;
    }
    if (!given) {
        srv_jsend_fail(r, 400, "%s: expected a base64 string", member);
        return -1;
    }
    *out = b.p != NULL ? b.p : calloc(1, 1);
    *out_len = b.n;
    if (*out == NULL) {
        srv_jsend_error(r, 500, "out of memory");
        return -1;
    }
    return 0;
}

/* MarbleRun's handler.VerifyUser, run first by every user endpoint: the
 * client certificate must equal a manifest user's, whatever the state (no
 * manifest: no users). Replies 401 (v2 fail, v1 error) and returns -1. */
static int require_user(struct srv_req *r, void *ctx, bool v1)
{
    struct core_snap *s = core_snap_get(core_of(ctx));
    const struct manifest_user *u = NULL;
    struct cairn_error e = {0};
    int rc = gov_user_auth(s->manifest, srv_req_peer_cert(r), &u, &e);
    core_snap_put(s);
    if (rc == 0)
        return 0;
    if (v1)
        srv_jsend_error(r, 401, "%s", cairn_error_msg(&e));
    else
        srv_jsend_fail(r, 401, "%s", cairn_error_msg(&e));
    return -1;
}

/* ---- secrets ---- */

/* ?s=a&s=b; replies 400 and returns -1 when absent or empty. */
static int secret_names(struct srv_req *r, char ***out)
{
    int n = srv_req_query(r, "s", out);
    if (n < 0) {
        srv_jsend_fail(r, 400, "invalid query string");
        return -1;
    }
    if (n == 0) {
        srv_jsend_fail(r, 400, "s: name at least one secret (?s=NAME)");
        return -1;
    }
    if (n > SECRETS_MAX_NAMES) {
        free(*out);
        srv_jsend_fail(r, 400, "s: at most %d names per request", SECRETS_MAX_NAMES);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if ((*out)[i][0] == '\0') {
            free(*out);
            srv_jsend_fail(r, 400, "s: empty secret name");
            return -1;
        }
    return n;
}

static void secrets_get(struct srv_req *r, void *ctx, bool v1)
{
    if (require_user(r, ctx, v1) != 0)
        return;
    char **names = NULL;
    int n = secret_names(r, &names);
    if (n < 0)
        return;
    json_t *o = NULL;
    struct cairn_error e = {0};
    int rc = gov_secrets_get(core_of(ctx), srv_req_peer_cert(r), (const char *const *)names, (size_t)n, &o, &e);
    free(names);
    if (rc != 0) {
        (v1 ? refuse_v1 : refuse_v2)(r, ctx, "read secrets", &e);
        return;
    }
    /* the answer holds secret bytes: the JSON text is built and sent by the
     * server layer; the values are not kept anywhere else */
    srv_jsend_success(r, v1 ? o : json_pack("{s:o}", "secrets", o));
}

static void h_v2_secrets_get(struct srv_req *r, void *ctx)
{
    secrets_get(r, ctx, false);
}

static void h_v1_secrets_get(struct srv_req *r, void *ctx)
{
    secrets_get(r, ctx, true);
}

static void secrets_post(struct srv_req *r, void *ctx, bool v1)
{
    if (require_user(r, ctx, v1) != 0)
        return;
    size_t len;
    const uint8_t *body = srv_req_body(r, &len);
    json_t *j = NULL;
    const json_t *s = NULL;
    struct cairn_error e = {0};
    int rc;
    if (v1) {
        /* v1: the body is the map itself (map[string]UserSecret) */
        json_error_t je;
        j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
        s = j;
        rc = j != NULL ? 0 : cairn_errf(&e, CAIRN_ERR_INVALID, "invalid JSON: %s (line %d, column %d)", je.text,
                                         je.line, je.column);
    } else {
        const struct api_jfield f[] = {{"secrets", API_J_OBJECT, &s, NULL}};
        rc = api_json_decode(body, len, f, 1, &j, &e);
    }
    if (rc != 0) {
        if (v1)
            srv_jsend_error(r, 400, "%s", cairn_error_msg(&e));
        else
            srv_jsend_fail(r, 400, "%s", cairn_error_msg(&e));
    } else if (!json_is_object(s)) {
        if (v1)
            srv_jsend_error(r, 400, "expected an object {name: secret}");
        else
            srv_jsend_fail(r, 400, "secrets: expected an object {name: secret}");
    } else {
        if (gov_secrets_set(core_of(ctx), srv_req_peer_cert(r), s, &e) != 0)
            (v1 ? refuse_v1 : refuse_v2)(r, ctx, "write secrets", &e);
        else
            srv_jsend_success(r, NULL);
    }
    wipe_json_strings(j);   /* uploaded secret bytes */
    json_decref(j);
}

static void h_v2_secrets_post(struct srv_req *r, void *ctx)
{
    secrets_post(r, ctx, false);
}

static void h_v1_secrets_post(struct srv_req *r, void *ctx)
{
    secrets_post(r, ctx, true);
}

/* ---- updates ---- */

/* gov_update / gov_update_ack: a user's manifest bytes in, a JSON answer out. */
typedef int (*gov_manifest_fn)(struct core *c, X509 *peer, const uint8_t *raw, size_t len, json_t **out,
                               struct cairn_error *err);

/* v2: {"manifest": base64} to one governance call, its answer as JSend data;
 * `what` completes "cannot ..." in a refusal. */
static void v2_manifest_call(struct srv_req *r, void *ctx, gov_manifest_fn fn, const char *what)
{
    if (require_user(r, ctx, false) != 0)
        return;
    uint8_t *raw = NULL;
    size_t len = 0;
    if (body_b64_member(r, "manifest", &raw, &len) != 0)
        return;
    json_t *o = NULL;
    struct cairn_error e = {0};
    if (fn(core_of(ctx), srv_req_peer_cert(r), raw, len, &o, &e) != 0)
        refuse_v2(r, ctx, what, &e);
    else
        srv_jsend_success(r, o);
    free(raw);
}

static void h_v2_update_post(struct srv_req *r, void *ctx)
{
    v2_manifest_call(r, ctx, gov_update, "start a manifest update");
}

/* v1: the raw manifest as the body to one governance call; the JSend data
 * is the answer's "message" with `message`, else null (MarbleRun's v1). */
static void v1_manifest_call(struct srv_req *r, void *ctx, gov_manifest_fn fn, const char *what, bool message)
{
    if (require_user(r, ctx, true) != 0)
        return;
    size_t len;
    const uint8_t *body = srv_req_body(r, &len);
    json_t *o = NULL;
    struct cairn_error e = {0};
    if (fn(core_of(ctx), srv_req_peer_cert(r), body, len, &o, &e) != 0) {
        refuse_v1(r, ctx, what, &e);
        return;
    }
    json_t *data = message ? json_incref(json_object_get(o, "message")) : NULL;
    json_decref(o);
    srv_jsend_success(r, data);
}

static void h_v1_update_post(struct srv_req *r, void *ctx)
{
    v1_manifest_call(r, ctx, gov_update, "start a manifest update", false);
}

void api_gov_update_manifest_get(struct srv_req *r, void *ctx)
{
    json_t *o = NULL;
    struct cairn_error e = {0};
    if (gov_update_pending(core_of(ctx), &o, &e) != 0)
        refuse_v2(r, ctx, "get the pending update", &e);
    else
        srv_jsend_success(r, o);
}

static void h_v2_update_manifest_post(struct srv_req *r, void *ctx)
{
    v2_manifest_call(r, ctx, gov_update_ack, "acknowledge the update");
}

static void h_v1_update_manifest_post(struct srv_req *r, void *ctx)
{
    v1_manifest_call(r, ctx, gov_update_ack, "acknowledge the update", true);
}

static void update_cancel(struct srv_req *r, void *ctx, bool v1)
{
    if (require_user(r, ctx, v1) != 0)
        return;
    struct cairn_error e = {0};
    if (gov_update_cancel(core_of(ctx), srv_req_peer_cert(r), &e) != 0) {
        (v1 ? refuse_v1 : refuse_v2)(r, ctx, "cancel the update", &e);
        return;
    }
    if (v1)
        srv_jsend_success(r, json_string("Update successfully cancelled"));
    else
        srv_jsend_success(r, json_pack("{s:s}", "message", "Update successfully cancelled"));
}

static void h_v2_update_cancel(struct srv_req *r, void *ctx)
{
    update_cancel(r, ctx, false);
}

static void h_v1_update_cancel(struct srv_req *r, void *ctx)
{
    update_cancel(r, ctx, true);
}

/* ---- recovery ---- */

static void h_v2_recover(struct srv_req *r, void *ctx)
{
    size_t len;
    const uint8_t *body = srv_req_body(r, &len);
    struct api_jbytes sec = {0}, sig = {0};
    json_t *j = NULL;
    const struct api_jfield f[] = {{"recoverySecret", API_J_BYTES, &sec, NULL},
                                   {"recoverySecretSignature", API_J_BYTES, &sig, NULL}};
    struct cairn_error e = {0};
    if (api_json_decode(body, len, f, 2, &j, &e) != 0) {
        srv_jsend_fail(r, 400, "%s", cairn_error_msg(&e));
    } else if (sec.n == 0) {
        srv_jsend_fail(r, 400, "recoverySecret: expected a non-empty base64 string");
    } else if (sig.n == 0) {
        srv_jsend_fail(r, 400, "recoverySecretSignature: expected a non-empty base64 string (the secret signed "
                               "with the recovery key, PKCS#1 v1.5 SHA-256)");
    } else {
        int remaining = 0;
        char *msg = NULL;
        int rc = gov_recover(core_of(ctx), sec.p, sec.n, sig.p, sig.n, &remaining, &msg, &e);
        if (rc == 0)
            srv_jsend_success(r, json_pack("{s:i, s:s}", "remaining", remaining, "message", msg));
        else if (rc == CAIRN_ERR_INVALID && strstr(e.msg, "decrypt") != NULL)
            srv_jsend_fail(r, 400, "%s", cairn_error_msg(&e));
        else
            refuse_v2(r, ctx, "recover", &e);
        free(msg);
    }
    if (sec.p != NULL)
        cc_wipe(sec.p, sec.n);
    free(sec.p);
    free(sig.p);
    wipe_json_strings(j);   /* the recovery secret (base64) */
    json_decref(j);
}

void api_gov_v2_recover_public_key(struct srv_req *r, void *ctx)
{
    uint8_t *der = NULL;
    size_t n = 0;
    struct cairn_error e = {0};
    if (gov_recover_public_key(core_of(ctx), &der, &n, &e) != 0) {
        if (e.code == CAIRN_ERR_TIMEOUT) {
            /* the key is generated off the event loop; the client retries */
            srv_jsend_error(r, 503, "%s", cairn_error_msg(&e));
            return;
        }
        refuse_v2(r, ctx, "get the recovery public key", &e);
        return;
    }
    char *b = cairn_base64_encode(der, n);
    free(der);
    srv_jsend_success(r, json_pack("{s:s, s:s}", "algorithm", "RSA", "ephemeralPublicKey", b ? b : ""));
    free(b);
}

/* ---- one log line per governance action ---- */

/* The manifest user that `r`'s client certificate names, or "" (none, or not
 * a user): looked up before the action, which may change the users. */
static void peer_user(struct srv_req *r, void *ctx, char *out, size_t n)
{
    out[0] = '\0';
    X509 *peer = srv_req_peer_cert(r);
    if (peer == NULL)
        return;
    struct core_snap *s = core_snap_get(core_of(ctx));
    const struct manifest_user *u = NULL;
    if (gov_user_auth(s->manifest, peer, &u, NULL) == 0 && u != NULL)
        snprintf(out, n, "%s", u->name);
    core_snap_put(s);
}

void api_logged(struct srv_req *r, void *ctx, const char *event, const char *action, srv_handler_fn fn)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char user[256];
    peer_user(r, ctx, user, sizeof(user));
    fn(r, ctx);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int st = srv_req_reply_status(r);
    bool ok = st >= 200 && st < 300;
    const struct cairn_log_kv kv[] = {
        LOG_KV_STR("event", event),
        LOG_KV_STR("action", action),
        LOG_KV_STR("user", user),
        LOG_KV_STR("peer", srv_req_peer_addr(r)),
        LOG_KV_STR("result", ok ? "ok" : "refused"),
        LOG_KV_NUM("status", st),
        LOG_KV_NUM("duration_ms", (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6),
        LOG_KV_STR("reason", srv_req_reply_message(r)),
    };
    cairn_log_kv(st >= 500 && !ok ? CAIRN_LOG_WARN : CAIRN_LOG_INFO, kv, sizeof(kv) / sizeof(kv[0]) - (ok ? 1 : 0),
                 "%s %s %s", event, action, ok ? "ok" : "refused");
}

void api_gov_logged(struct srv_req *r, void *ctx, const char *action, srv_handler_fn fn)
{
    api_logged(r, ctx, "governance", action, fn);
}

#define GOV_LOGGED(exported, action, impl)                                                                         \
    void exported(struct srv_req *r, void *ctx)                                                                    \
    {                                                                                                              \
        api_gov_logged(r, ctx, action, impl);                                                                      \
    }
GOV_LOGGED(api_gov_v2_secrets_get, "secrets.get", h_v2_secrets_get)
GOV_LOGGED(api_gov_v1_secrets_get, "secrets.get", h_v1_secrets_get)
GOV_LOGGED(api_gov_v2_secrets_post, "secrets.set", h_v2_secrets_post)
GOV_LOGGED(api_gov_v1_secrets_post, "secrets.set", h_v1_secrets_post)
GOV_LOGGED(api_gov_v2_update_post, "update", h_v2_update_post)
GOV_LOGGED(api_gov_v1_update_post, "update", h_v1_update_post)
GOV_LOGGED(api_gov_v2_update_manifest_post, "update.acknowledge", h_v2_update_manifest_post)
GOV_LOGGED(api_gov_v1_update_manifest_post, "update.acknowledge", h_v1_update_manifest_post)
GOV_LOGGED(api_gov_v2_update_cancel, "update.cancel", h_v2_update_cancel)
GOV_LOGGED(api_gov_v1_update_cancel, "update.cancel", h_v1_update_cancel)
GOV_LOGGED(api_gov_v2_recover, "recover", h_v2_recover)
