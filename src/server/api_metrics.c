/* Metrics listener (plain HTTP): /metrics, /events, and /healthz and /readyz
 * for probes that speak no TLS; plus api_bind/api_run. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "server/api.h"

static void h_metrics(struct srv_req *r, void *ctx)
{
    struct api_ctx *a = ctx;
    struct cairn_buf b;
    cairn_buf_init(&b, 64u * 1024 * 1024);
    core_metrics_render(a->core, &b);
    srv_metrics_render(a->srv, &b);
    srv_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    cairn_buf_free(&b);
}

static void h_events(struct srv_req *r, void *ctx)
{
    struct api_ctx *a = ctx;
    srv_reply_json(r, 200, core_events(a->core));
}

/* The same answers as the client API's probes (api_client.c). The loops run
 * only once the state is loaded (api_run), so any answer means ready. */
static void h_healthz(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(struct srv_req *r, void *ctx)
{
    enum core_state s = core_get_state(((struct api_ctx *)ctx)->core);
    srv_reply_json(r, 200, json_pack("{s:s, s:i}", "status", "ready", "state", (int)s));
}

const struct srv_route api_metrics_routes[] = {
    {"/metrics", SRV_GET, h_metrics, 0},
    {"/events", SRV_GET, h_events, 0},
    {"/healthz", SRV_GET, h_healthz, 0},
    {"/readyz", SRV_GET, h_readyz, 0},
};
const size_t api_metrics_n_routes = sizeof(api_metrics_routes) / sizeof(api_metrics_routes[0]);

struct api {
    struct api_ctx ctx;
    struct srv *srv;
    int ports[4];
    struct kbs_config kbs_cfg;   /* for api_run, when the KBS listener is on */
};

static SSL_CTX *client_tls(void *ctx)
{
    return core_client_tls(((struct api_ctx *)ctx)->core);
}

static SSL_CTX *mesh_tls(void *ctx)
{
    return core_mesh_tls(((struct api_ctx *)ctx)->core);
}

int api_bind(const struct api_config *cfg, struct api **out, struct cairn_error *err)
{
    int threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    if (threads > 64)
        threads = 64;
    struct api *a = calloc(1, sizeof(*a));
    if (a == NULL || (a->srv = srv_new(threads)) == NULL) {
        free(a);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    a->ctx.srv = a->srv;
    struct srv_listener_cfg l = {.name = "client", .addr = cfg->client_addr, .tls = client_tls, .tls_ctx = &a->ctx,
                                 .routes = api_client_routes, .n_routes = api_client_n_routes,
                                 .fallback = api_not_allowed, .ctx = &a->ctx, .max_body = API_CLIENT_MAX_BODY,
                                 .timeout_s = cfg->timeout_s, .metrics = true, .json_only = true,
                                 .max_conns = cfg->client_max_conns,
                                 .max_conns_per_addr = cfg->max_conns_per_addr,
                                 .max_handshakes_per_addr = cfg->max_handshakes_per_addr,
                                 .handshake_timeout_s = cfg->handshake_timeout_s};
    int idx = srv_add_listener(a->srv, &l, err);
    if (idx < 0)
        goto fail;
    a->ports[0] = srv_listener_port(a->srv, idx);
    struct srv_listener_cfg m = {.name = "mesh", .addr = cfg->mesh_addr, .tls = mesh_tls, .tls_ctx = &a->ctx,
                                 .routes = api_mesh_routes, .n_routes = api_mesh_n_routes,
                                 .grpc = api_mesh_grpc, .n_grpc = api_mesh_n_grpc, .h2_plain = api_mesh_h2_plain,
                                 .fallback = api_mesh_not_allowed, .ctx = &a->ctx, .max_body = API_MESH_MAX_BODY,
                                 .timeout_s = cfg->timeout_s, .metrics = true, .max_conns = cfg->mesh_max_conns,
                                 .max_conns_per_addr = cfg->max_conns_per_addr,
                                 .max_handshakes_per_addr = cfg->max_handshakes_per_addr,
                                 .handshake_timeout_s = cfg->handshake_timeout_s};
    if ((idx = srv_add_listener(a->srv, &m, err)) < 0)
        goto fail;
    a->ports[1] = srv_listener_port(a->srv, idx);
    if (cfg->metrics_addr != NULL && cfg->metrics_addr[0] != '\0') {
        /* plain HTTP, and as exposed as the others: the same admission, cap and deadlines */
        struct srv_listener_cfg p = {.name = "metrics", .addr = cfg->metrics_addr, .routes = api_metrics_routes,
                                     .n_routes = api_metrics_n_routes, .fallback = api_not_allowed,
                                     .ctx = &a->ctx, .max_body = 4096, .timeout_s = cfg->timeout_s,
                                     .max_conns = cfg->metrics_max_conns > 0 ? cfg->metrics_max_conns
                                                                             : API_METRICS_MAX_CONNS,
                                     .max_conns_per_addr = cfg->max_conns_per_addr,
                                     .handshake_timeout_s = cfg->handshake_timeout_s};
        if ((idx = srv_add_listener(a->srv, &p, err)) < 0)
            goto fail;
        a->ports[2] = srv_listener_port(a->srv, idx);
    }
    if (cfg->kbs_addr != NULL && cfg->kbs_addr[0] != '\0') {
        /* Trustee's KBS protocol (api_kbs.c): HTTPS with the client API's
         * certificate, no client certificate expected, one handler that
         * routes /kbs/v0/... itself (resource paths are prefixes); the
         * protocol state (struct kbs) is made in api_run, with the core */
        struct srv_listener_cfg k = {.name = "kbs", .addr = cfg->kbs_addr, .tls = client_tls, .tls_ctx = &a->ctx,
                                     .fallback = api_kbs_dispatch, .ctx = &a->ctx, .max_body = KBS_MAX_BODY,
                                     .timeout_s = cfg->timeout_s, .metrics = true,
                                     .max_conns = cfg->client_max_conns,
                                     .max_conns_per_addr = cfg->max_conns_per_addr,
                                     .max_handshakes_per_addr = cfg->max_handshakes_per_addr,
                                     .handshake_timeout_s = cfg->handshake_timeout_s};
        if ((idx = srv_add_listener(a->srv, &k, err)) < 0)
            goto fail;
        a->ports[3] = srv_listener_port(a->srv, idx);
        a->kbs_cfg = cfg->kbs;
    }
    if (cfg->heartbeat_ms > 0 && srv_set_heartbeat(a->srv, cfg->heartbeat_ms, cfg->heartbeat, cfg->heartbeat_arg) != 0) {
        cairn_errf(err, CAIRN_ERR_INVALID, "heartbeat without a function");
        goto fail;
    }
    *out = a;
    return 0;
fail:
    srv_free(a->srv);
    kbs_free(a->ctx.kbs);
    free(a);
    return err != NULL && err->code != 0 ? err->code : CAIRN_ERR_IO;
}

int api_run(struct api *a, struct core *c, struct cairn_error *err)
{
    a->ctx.core = c;
    if (a->ports[3] != 0 && a->ctx.kbs == NULL && kbs_new(c, &a->kbs_cfg, &a->ctx.kbs, err) != 0)
        return err != NULL && err->code != 0 ? err->code : CAIRN_ERR_NOMEM;
    return srv_start(a->srv, err);
}

void api_ports(const struct api *a, int *client, int *mesh, int *metrics)
{
    if (client != NULL)
        *client = a->ports[0];
    if (mesh != NULL)
        *mesh = a->ports[1];
    if (metrics != NULL)
        *metrics = a->ports[2];
}

int api_kbs_port(const struct api *a)
{
    return a->ports[3];
}

void api_free(struct api *a)
{
    if (a == NULL)
        return;
    srv_free(a->srv);
    kbs_free(a->ctx.kbs);
    free(a);
}
