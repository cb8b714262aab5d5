/* Mesh API: POST /api/v2/activate over mutual TLS (DESIGN §7). */
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "server/api.h"

static void h_activate(struct srv_req *r, void *ctx)
{
    struct core *c = ((struct api_ctx *)ctx)->core;
    const char *ct = srv_req_header(r, "Content-Type");
    if (ct != NULL && strncasecmp(ct, "application/json", 16) != 0) {
        srv_jsend_fail(r, 400, "malformed request: Content-Type must be application/json");
        return;
    }
    size_t len;
    const uint8_t *body = srv_req_body(r, &len);
    json_t *data = NULL;
    struct cairn_error e = {0};
    enum core_refusal rf = core_activate(c, body, len, srv_req_peer_cert(r), &data, &e);
    switch (rf) {
    case CORE_OK:
        srv_jsend_success(r, data);
        return;
    case CORE_BAD_REQUEST:
        srv_jsend_fail(r, 400, "%s", cairn_error_msg(&e));
        break;
    case CORE_UNAUTHENTICATED:
        srv_jsend_fail(r, 401, "%s", cairn_error_msg(&e));
        break;
    case CORE_FORBIDDEN:
        srv_jsend_fail(r, 403, "%s", cairn_error_msg(&e));
        break;
    case CORE_UNAVAILABLE:
        srv_jsend_error(r, 503, "%s", cairn_error_msg(&e));
        break;
    default:
        srv_jsend_error(r, 500, "%s", cairn_error_msg(&e));
        break;
    }
    LOG_INFO("activation refused (%d): %s", (int)rf, cairn_error_msg(&e));
}

const struct srv_route api_mesh_routes[] = {
    {"/api/v2/activate", SRV_POST, h_activate, API_MESH_MAX_BODY},
};
const size_t api_mesh_n_routes = sizeof(api_mesh_routes) / sizeof(api_mesh_routes[0]);
