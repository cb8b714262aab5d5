/* Mesh API (DESIGN §7): POST /api/v2/activate (JSON over HTTP/1.1) and
 * MarbleRun's gRPC rpc.Marble/Activate (protobuf over HTTP/2), both over
 * mutual TLS and both through core_activate_with: same checks, same answers. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "rpc/grpc_wire.h"
#include "server/api.h"

/* HTTP status of a refusal, and whether it is a JSend "error" (server side:
 * text/plain, as MarbleRun's http.Error) rather than a "fail". */
static int http_status_of(enum core_refusal rf, bool *is_error)
{
    *is_error = rf == CORE_UNAVAILABLE || rf == CORE_INTERNAL || rf > CORE_INTERNAL;
    switch (rf) {
    case CORE_OK: return 200;
    case CORE_BAD_REQUEST: return 400;
    case CORE_UNAUTHENTICATED: return 401;
    case CORE_FORBIDDEN: return 403;
    case CORE_UNAVAILABLE: return 503;
    default: return 500;
    }
}

static const char k_ct_msg[] = "malformed request: Content-Type must be application/json";

/* The one log line of an activation, success or refusal (docs/coordinator.md
 * "Logs"): the details are fields, so --log-format json gives them as members. */
static void log_activation(const char *wire, const char *peer_addr, const struct core_act_info *ai,
                           enum core_refusal rf, const struct cairn_error *e)
{
    const struct cairn_log_kv kv[] = {
        LOG_KV_STR("event", "activation"),
        LOG_KV_STR("marble_type", ai->marble_type),
        LOG_KV_STR("uuid", ai->uuid),
        LOG_KV_STR("peer", peer_addr),
        LOG_KV_STR("evidence", ai->evidence),
        LOG_KV_STR("wire", wire),
        LOG_KV_STR("result", core_refusal_name(rf)),
        LOG_KV_NUM("duration_ms", ai->seconds * 1e3),
        LOG_KV_STR("reason", rf == CORE_OK ? "" : cairn_error_msg(e)),
    };
    size_t n = sizeof(kv) / sizeof(kv[0]) - (rf == CORE_OK ? 1 : 0);
    cairn_log_kv(rf == CORE_INTERNAL ? CAIRN_LOG_ERROR : CAIRN_LOG_INFO, kv, n,
                 rf == CORE_OK ? "activation ok" : "activation refused");
}

static void h_activate(struct srv_req *r, void *ctx)
{
    struct core *c = ((struct api_ctx *)ctx)->core;
    const char *ct = srv_req_header(r, "Content-Type");
    if (ct != NULL && strncasecmp(ct, "application/json", 16) != 0) {
        srv_jsend_fail(r, 400, "%s", k_ct_msg);
        return;
    }
    size_t len;
    const uint8_t *body = srv_req_body(r, &len);
    json_t *data = NULL;
    struct cairn_error e = {0};
    struct core_act_info ai = {.evidence = ""};
    enum core_refusal rf = core_activate_json_info(c, body, len, srv_req_peer_cert(r), &data, &ai, &e);
    log_activation("http", srv_req_peer_addr(r), &ai, rf, &e);
    if (rf == CORE_OK) {
        srv_jsend_success(r, data);
        return;
    }
    bool is_error;
    int st = http_status_of(rf, &is_error);
    if (is_error)
        srv_jsend_error(r, st, "%s", cairn_error_msg(&e));
    else
        srv_jsend_fail(r, st, "%s", cairn_error_msg(&e));
}

/* ---- JSON over HTTP/2 (a client whose library negotiated h2) ---- */

/* The same JSend bodies as srv_jsend_* (http.c). */
static void plain_jsend(struct srv_h2_plain_reply *out, int status, const char *kind, json_t *data, const char *msg)
{
    json_t *j = json_object();
    if (j != NULL) {
        json_object_set_new(j, "status", json_string(kind));
        json_object_set_new(j, "data", data != NULL ? data : json_null());
        if (msg != NULL && msg[0] != '\0') {
            json_t *m = json_string(msg);
            json_object_set_new(j, "message", m != NULL ? m : json_string("(message not valid UTF-8)"));
        }
    } else {
        json_decref(data);
    }
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    bool text = strcmp(kind, "error") == 0;
    out->status = s != NULL ? status : 500;
    out->content_type = text ? "text/plain; charset=utf-8" : "application/json";
    if (s == NULL) {
        out->body = strdup("out of memory\n");
        out->len = out->body != NULL ? strlen(out->body) : 0;
        return;
    }
    size_t n = strlen(s);
    if (text) {
        char *t = realloc(s, n + 2);
        if (t != NULL) {
            s = t;
            s[n++] = '\n';
            s[n] = '\0';
        }
    }
    out->body = s;
    out->len = n;
}

static void h2_plain(const char *method, const char *path, const char *content_type, const uint8_t *body,
                     size_t len, X509 *peer, const char *peer_addr, void *ctx, struct srv_h2_plain_reply *out)
{
    char msg[1024];
    if (strcmp(path, "/api/v2/activate") != 0 || strcmp(method, "POST") != 0) {
        snprintf(msg, sizeof(msg), "method %s not allowed for %s", method, path);
        plain_jsend(out, 405, "error", NULL, msg);
        return;
    }
    if (content_type[0] != '\0' && strncasecmp(content_type, "application/json", 16) != 0) {
        plain_jsend(out, 400, "fail", NULL, k_ct_msg);
        return;
    }
    struct core *c = ((struct api_ctx *)ctx)->core;
    json_t *data = NULL;
    struct cairn_error e = {0};
    struct core_act_info ai = {.evidence = ""};
    enum core_refusal rf = core_activate_json_info(c, body, len, peer, &data, &ai, &e);
    log_activation("h2", peer_addr, &ai, rf, &e);
    if (rf == CORE_OK) {
        plain_jsend(out, 200, "success", data, NULL);
        return;
    }
    bool is_error;
    int st = http_status_of(rf, &is_error);
    plain_jsend(out, st, is_error ? "error" : "fail", NULL, cairn_error_msg(&e));
}

/* ---- gRPC ---- */

struct grpc_in {
    const uint8_t *msg;
    size_t len;
};

/* The gRPC wire's decoder: ActivationReq -> the JSON wire's request object. */
static enum core_refusal decode_grpc(void *arg, json_t **out, struct cairn_error *err)
{
    const struct grpc_in *in = arg;
    int rc = grpc_activation_req_to_json(in->msg, in->len, out, err);
    return rc == 0 ? CORE_OK : rc == CAIRN_ERR_NOMEM ? CORE_INTERNAL : CORE_BAD_REQUEST;
}

/* Refusals as gRPC status codes. The state refusal is MarbleRun's
 * FailedPrecondition ("cannot accept marbles in current state"). */
static int grpc_status_of(enum core_refusal rf)
{
    switch (rf) {
    case CORE_OK: return GRPC_OK;
    case CORE_BAD_REQUEST: return GRPC_INVALID_ARGUMENT;
    case CORE_UNAUTHENTICATED: return GRPC_UNAUTHENTICATED;
    case CORE_FORBIDDEN: return GRPC_PERMISSION_DENIED;
    case CORE_UNAVAILABLE: return GRPC_FAILED_PRECONDITION;
    default: return GRPC_INTERNAL;
    }
}

static void g_activate(const uint8_t *msg, size_t len, X509 *peer, const char *peer_addr, void *ctx,
                       struct srv_grpc_reply *out)
{
    struct core *c = ((struct api_ctx *)ctx)->core;
    struct grpc_in in = {msg, len};
    json_t *data = NULL;
    struct cairn_error e = {0};
    struct core_act_info ai = {.evidence = ""};
    enum core_refusal rf = core_activate_info(c, decode_grpc, &in, peer, &data, &ai, &e);
    if (rf == CORE_OK) {
        struct cairn_error ce = {0};
        int rc = grpc_activation_resp_from_json(data, &out->body, &out->len, &ce);
        json_decref(data);
        if (rc == 0) {
            out->status = GRPC_OK;
            log_activation("grpc", peer_addr, &ai, rf, &e);
            return;
        }
        rf = CORE_INTERNAL;
        e = ce;
    }
    out->status = grpc_status_of(rf);
    snprintf(out->message, sizeof(out->message), "%s", cairn_error_msg(&e));
    log_activation("grpc", peer_addr, &ai, rf, &e);
}

const struct srv_grpc_method api_mesh_grpc[] = {
    {GRPC_ACTIVATE_PATH, g_activate, API_MESH_MAX_BODY},
};
const size_t api_mesh_n_grpc = sizeof(api_mesh_grpc) / sizeof(api_mesh_grpc[0]);
const srv_h2_plain_fn api_mesh_h2_plain = h2_plain;

void api_mesh_not_allowed(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_jsend_error(r, 405,
                    "method %s not allowed for %s: this is the Coordinator's mesh API (marble activation, default "
                    "port 2001); cairn and MarbleRun's CLI talk to its client API (default port 4433)",
                    srv_req_method_name(r), srv_req_path(r));
}

const struct srv_route api_mesh_routes[] = {
    {"/api/v2/activate", SRV_POST, h_activate, API_MESH_MAX_BODY},
};
const size_t api_mesh_n_routes = sizeof(api_mesh_routes) / sizeof(api_mesh_routes[0]);
