/* Client REST API v2 and v1 (inventory §2.2, §2.3) plus /healthz and /readyz. */
#include <stdlib.h>
#include <string.h>

#include "common/encoding.h"
#include "common/log.h"
#include "server/api.h"
#include "server/api_json.h"

#define NONCE_MAX 1024

static struct core *core_of(void *ctx)
{
    return ((struct api_ctx *)ctx)->core;
}

void api_not_allowed(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_jsend_error(r, 405, "method %s not allowed for %s", srv_req_method_name(r), srv_req_path(r));
}

static void h_healthz(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(struct srv_req *r, void *ctx)
{
    enum core_state s = core_get_state(core_of(ctx));
    srv_reply_json(r, 200, json_pack("{s:s, s:i}", "status", "ready", "state", (int)s));
}

int api_status_of(int code)
{
    switch (code) {
    case CAIRN_ERR_STATE:
    case CAIRN_ERR_CONFLICT: return 409;
    case CAIRN_ERR_TOO_LARGE: return 413;
    case CAIRN_ERR_INVALID:
    case CAIRN_ERR_VERIFY: return 400;
    case CAIRN_ERR_PERMISSION: return 403;
    case CAIRN_ERR_UNAUTHENTICATED: return 401;
    case CAIRN_ERR_NOT_FOUND: return 404;
    case CAIRN_ERR_NETWORK:   /* replicas on etcd: the state store is unavailable (no quorum) */
    case CAIRN_ERR_TIMEOUT: return 503;
    default: return 500;
    }
}

void api_refuse_state(struct srv_req *r, struct core *c, bool v1, const char *msg, const char *action)
{
    enum core_state s = core_get_state(c);
    const char *why;
    switch (s) {
    case CORE_STATE_RECOVERY:
        why = "the Coordinator is in recovery mode (state 1): upload the recovery secret with `cairn recover`, "
              "or set a new manifest with `cairn manifest set`";
        break;
    case CORE_STATE_ACCEPTING_MANIFEST:
        why = "no manifest is set yet (state 2, accepting a manifest): set one with `cairn manifest set`";
        break;
    case CORE_STATE_ACCEPTING_MARBLES:
        if (strcmp(action, "set the manifest") == 0)
            why = "a manifest is already set (state 3, accepting marbles): change it with `cairn manifest update "
                  "apply`, or start the Coordinator with a fresh seal directory for a new deployment";
        else
            why = "the Coordinator already runs a manifest (state 3, accepting marbles) and is not in recovery "
                  "mode; see `cairn status`";
        break;
    default:
        why = "the Coordinator is still starting (state 0): retry in a moment";
        break;
    }
    /* logged once, with the request, by api_logged */
    LOG_DEBUG("refused to %s in state %d: %s", action, (int)s, msg);
    if (v1)
        srv_jsend_error(r, 409, "%s: cannot %s: %s", msg, action, why);
    else
        srv_jsend_fail(r, 409, "%s: cannot %s: %s", msg, action, why);
}

void api_refuse(struct srv_req *r, struct core *c, bool v1, const char *action, const struct cairn_error *e)
{
    int st = api_status_of(e->code);
    if (e->code == CAIRN_ERR_STATE) {
        api_refuse_state(r, c, v1, cairn_error_msg(e), action);
        return;
    }
    LOG_DEBUG("refused to %s: %s", action, cairn_error_msg(e));
    if (st < 500 && !v1)
        srv_jsend_fail(r, st, "%s", cairn_error_msg(e));
    else
        srv_jsend_error(r, st, "%s", cairn_error_msg(e));
}

/* A marble pointed at the client API (EDG_MARBLE_COORDINATOR_ADDR with port
 * 4433) is told where activation is served; still MarbleRun's 405. */
static void h_activate_wrong_api(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_jsend_error(r, 405,
                    "method %s not allowed for %s: this is the Coordinator's client API; marbles activate on its "
                    "mesh API (EDG_MARBLE_COORDINATOR_ADDR, default port 2001)",
                    srv_req_method_name(r), srv_req_path(r));
}

/* ---- v2 ---- */

static void h_v2_status(struct srv_req *r, void *ctx)
{
    enum core_state s = core_get_state(core_of(ctx));
    json_t *d = json_pack("{s:i, s:s}", "code", (int)s, "message", core_state_message(s));
    json_t *repl = core_replication_status(core_of(ctx));   /* issue 9: replicas on etcd; absent otherwise */
    if (d != NULL && repl != NULL)
        json_object_set_new(d, "replication", repl);
    else
        json_decref(repl);
    srv_jsend_success(r, d);
}

static json_t *b64_or_null(const uint8_t *p, size_t n)
{
    if (p == NULL)
        return json_null();
    char *s = cairn_base64_encode(p, n);
    json_t *j = s != NULL ? json_string(s) : NULL;
    free(s);
    return j;
}

static void h_v2_manifest_get(struct srv_req *r, void *ctx)
{
    struct core_snap *s = core_snap_get(core_of(ctx));
    if (s->manifest_raw == NULL) {
        core_snap_put(s);
        api_refuse_state(r, core_of(ctx), false, "no manifest has been set", "get the manifest");
        return;
    }
    json_t *d = json_pack("{s:o, s:s, s:o}", "manifestSignatureRootECDSA", b64_or_null(s->manifest_sig, s->manifest_sig_len),
                          "manifestFingerprint", s->manifest_hash, "manifest",
                          b64_or_null(s->manifest_raw, s->manifest_raw_len));
    core_snap_put(s);
    srv_jsend_success(r, d);
}

/* Shared by v1 and v2: sets the manifest, answers with RecoverySecrets. */
static void set_manifest(struct srv_req *r, struct core *c, const uint8_t *raw, size_t len, bool v1)
{
    json_t *rec = NULL;
    struct cairn_error e = {0};
    int rc = core_manifest_set(c, raw, len, &rec, &e);
    if (rc != 0) {
        /* the core folds every rule failure into INVALID; keep "too large"
         * (413) apart, and state refusals name the state (409) */
        if (e.code != CAIRN_ERR_TOO_LARGE)
            e.code = rc;
        api_refuse(r, c, v1, "set the manifest", &e);
        return;
    }
    srv_jsend_success(r, json_pack("{s:o}", "RecoverySecrets", rec));
}

static void h_v2_manifest_post(struct srv_req *r, void *ctx)
{
    size_t len;
    const uint8_t *body = srv_req_body(r, &len);
    struct api_jbytes m = {0};
    bool given = false;
    const struct api_jfield f[] = {{"manifest", API_J_BYTES, &m, &given}};
    struct cairn_error e = {0};
    if (api_json_decode(body, len, f, 1, NULL, &e) != 0)
        srv_jsend_fail(r, 400, "%s", cairn_error_msg(&e));
    else if (!given)
        srv_jsend_fail(r, 400, "manifest: expected a base64 string");
    else
        set_manifest(r, core_of(ctx), m.p != NULL ? m.p : (const uint8_t *)"", m.n, false);
    free(m.p);
}

/* ?nonce= (base64url); returns -1 after replying on a bad nonce. */
static int get_nonce(struct srv_req *r, uint8_t **out, size_t *out_len)
{
    char **v = NULL;
    int n = srv_req_query(r, "nonce", &v);
    *out = NULL;
    *out_len = 0;
    if (n < 0) {
        srv_jsend_fail(r, 400, "invalid query string");
        return -1;
    }
    if (n == 0) {
        return 0;
    }
    int rc = 0;
    if (cairn_base64url_decode(v[0], strlen(v[0]), out, out_len) != 0) {
        srv_jsend_fail(r, 400, "nonce: invalid base64url");
        rc = -1;
    } else if (*out_len > NONCE_MAX) {
        srv_jsend_fail(r, 400, "nonce: %zu bytes, at most %d allowed", *out_len, NONCE_MAX);
        free(*out);
        *out = NULL;
        rc = -1;
    }
    free(v);
    return rc;
}

static void h_v2_quote(struct srv_req *r, void *ctx)
{
    uint8_t *nonce;
    size_t nonce_len;
    if (get_nonce(r, &nonce, &nonce_len) != 0)
        return;
    char *cert = NULL;
    json_t *q = NULL;
    struct cairn_error e = {0};
    int rc = core_quote(core_of(ctx), nonce, nonce_len, &cert, &q, &e);
    free(nonce);
    if (rc != 0) {
        srv_jsend_error(r, 500, "%s", cairn_error_msg(&e));
        return;
    }
    json_object_set_new(q, "cert", json_string(cert));
    free(cert);
    srv_jsend_success(r, q);
}

static void h_v2_update_get(struct srv_req *r, void *ctx)
{
    struct core *c = core_of(ctx);
    if (core_get_state(c) != CORE_STATE_ACCEPTING_MARBLES) {
        api_refuse_state(r, c, false, "server is not in expected state", "read the update log");
        return;
    }
    json_t *log = NULL;
    if (core_update_log(c, &log) != 0) {
        srv_jsend_error(r, 500, "out of memory");
        return;
    }
    srv_jsend_success(r, json_pack("{s:o}", "updateLog", log));
}

/* ---- v1 ---- */

static void h_v1_status(struct srv_req *r, void *ctx)
{
    enum core_state s = core_get_state(core_of(ctx));
    srv_jsend_success(r, json_pack("{s:i, s:s}", "StatusCode", (int)s, "StatusMessage", core_state_message(s)));
}

static void h_v1_manifest_get(struct srv_req *r, void *ctx)
{
    struct core_snap *s = core_snap_get(core_of(ctx));
    json_t *d;
    if (s->manifest_raw == NULL)   /* MarbleRun v1: empty fields, 200 */
        d = json_pack("{s:n, s:s, s:n}", "ManifestSignatureRootECDSA", "ManifestSignature", "", "Manifest");
    else
        d = json_pack("{s:o, s:s, s:o}", "ManifestSignatureRootECDSA",
                      b64_or_null(s->manifest_sig, s->manifest_sig_len), "ManifestSignature", s->manifest_hash,
                      "Manifest", b64_or_null(s->manifest_raw, s->manifest_raw_len));
    core_snap_put(s);
    srv_jsend_success(r, d);
}

static void h_v1_manifest_post(struct srv_req *r, void *ctx)
{
    size_t len;
    const uint8_t *body = srv_req_body(r, &len);
    set_manifest(r, core_of(ctx), body, len, true);
}

static void h_v1_quote(struct srv_req *r, void *ctx)
{
    char *cert = NULL;
    json_t *q = NULL;
    struct cairn_error e = {0};
    if (core_quote(core_of(ctx), NULL, 0, &cert, &q, &e) != 0) {
        srv_jsend_error(r, 500, "%s", cairn_error_msg(&e));
        return;
    }
    json_t *d = json_pack("{s:s, s:O}", "Cert", cert, "Quote", json_object_get(q, "quote"));
    free(cert);
    json_decref(q);
    srv_jsend_success(r, d);
}

static void h_v1_recover(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_jsend_error(r, 410, "Recovering the Coordinator using the /recover API endpoint has been disabled. Use the "
                            "/api/v2/recover endpoint instead.");
}

static void h_v1_update_get(struct srv_req *r, void *ctx)
{
    struct core *c = core_of(ctx);
    if (core_get_state(c) != CORE_STATE_ACCEPTING_MARBLES) {
        api_refuse_state(r, c, true, "server is not in expected state", "read the update log");
        return;
    }
    json_t *log = NULL;
    if (core_update_log(c, &log) != 0) {
        srv_jsend_error(r, 500, "out of memory");
        return;
    }
    struct cairn_buf b;
    cairn_buf_init(&b, 64u * 1024 * 1024);
    size_t i;
    json_t *v;
    json_array_foreach(log, i, v) {
        cairn_buf_append_str(&b, json_string_value(v));
        cairn_buf_append(&b, "\n", 1);
    }
    json_decref(log);
    srv_jsend_success(r, json_string(b.data != NULL ? (char *)b.data : ""));
    cairn_buf_free(&b);
}

/* Issue 13: Config.FeatureGates endpoints (api_features.c). */
void api_feat_sign_quote(struct srv_req *r, void *ctx);
void api_feat_monotonic_counter(struct srv_req *r, void *ctx);

/* Setting the manifest is logged as a governance action (api_gov_logged). */
static void h_v2_manifest_post_logged(struct srv_req *r, void *ctx)
{
    api_gov_logged(r, ctx, "manifest.set", h_v2_manifest_post);
}

static void h_v1_manifest_post_logged(struct srv_req *r, void *ctx)
{
    api_gov_logged(r, ctx, "manifest.set", h_v1_manifest_post);
}

static void h_sign_quote_logged(struct srv_req *r, void *ctx)
{
    api_logged(r, ctx, "feature", "sign-quote", api_feat_sign_quote);
}

static void h_monotonic_counter_logged(struct srv_req *r, void *ctx)
{
    api_logged(r, ctx, "feature", "monotonic-counter", api_feat_monotonic_counter);
}

/* Issue 6 adds users, secrets, update, recover and sign-quote: one entry each. */
const struct srv_route api_client_routes[] = {
    {"/healthz", SRV_GET, h_healthz, 0},
    {"/api/v2/activate", SRV_POST, h_activate_wrong_api, 0},
    {"/readyz", SRV_GET, h_readyz, 0},
    {"/api/v2/status", SRV_GET, h_v2_status, 0},
    {"/api/v2/manifest", SRV_GET, h_v2_manifest_get, 0},
    {"/api/v2/manifest", SRV_POST, h_v2_manifest_post_logged, API_CLIENT_MAX_BODY},
    {"/api/v2/quote", SRV_GET, h_v2_quote, 0},
    {"/api/v2/update", SRV_GET, h_v2_update_get, 0},
    {"/api/v2/update", SRV_POST, api_gov_v2_update_post, API_CLIENT_MAX_BODY},
    {"/api/v2/secrets", SRV_GET, api_gov_v2_secrets_get, 0},
    {"/api/v2/secrets", SRV_POST, api_gov_v2_secrets_post, MANIFEST_USER_SECRETS_MAX_SIZE + 64},
    {"/api/v2/update-manifest", SRV_GET, api_gov_update_manifest_get, 0},
    {"/api/v2/update-manifest", SRV_POST, api_gov_v2_update_manifest_post, API_CLIENT_MAX_BODY},
    {"/api/v2/update-cancel", SRV_POST, api_gov_v2_update_cancel, 0},
    {"/api/v2/recover", SRV_POST, api_gov_v2_recover, 20480},
    {"/api/v2/recover/public-key", SRV_GET, api_gov_v2_recover_public_key, 0},
    {"/api/v2/sign-quote", SRV_POST, h_sign_quote_logged, 256 * 1024},
    {"/api/v2/monotonic-counter", SRV_POST, h_monotonic_counter_logged, 16 * 1024},
    {"/status", SRV_GET, h_v1_status, 0},
    {"/manifest", SRV_GET, h_v1_manifest_get, 0},
    {"/manifest", SRV_POST, h_v1_manifest_post_logged, 1024 * 1024},
    {"/quote", SRV_GET, h_v1_quote, 0},
    {"/recover", SRV_POST, h_v1_recover, 0},
    {"/update", SRV_GET, h_v1_update_get, 0},
    {"/update", SRV_POST, api_gov_v1_update_post, 1024 * 1024},
    {"/secrets", SRV_GET, api_gov_v1_secrets_get, 0},
    {"/secrets", SRV_POST, api_gov_v1_secrets_post, MANIFEST_USER_SECRETS_MAX_SIZE},
    {"/update-manifest", SRV_GET, api_gov_update_manifest_get, 0},
    {"/update-manifest", SRV_POST, api_gov_v1_update_manifest_post, 1024 * 1024},
    {"/update-cancel", SRV_POST, api_gov_v1_update_cancel, 0},
};
const size_t api_client_n_routes = sizeof(api_client_routes) / sizeof(api_client_routes[0]);
