/* Internal: the Coordinator's three HTTP surfaces on top of http.h.
 *
 *   client  HTTPS (Root certificate, client certificates requested): REST API
 *           v2 and v1 (inventory §2.2, §2.3), /healthz, /readyz
 *   mesh    HTTPS with mutual TLS (Marble Root + intermediate key, client
 *           certificate required): POST /api/v2/activate (DESIGN §7)
 *   metrics plain HTTP, optional: GET /metrics (Prometheus), GET /events,
 *           /healthz, /readyz
 * Unknown paths and methods get 405 with a JSend error (MarbleRun's catch-all).
 * Each route is one table entry in api_client.c / api_mesh.c / api_metrics.c;
 * the logic behind them lives in src/core. */
#ifndef CAIRN_SERVER_API_H
#define CAIRN_SERVER_API_H

#include "core/core.h"
#include "core/kbs.h"
#include "server/http.h"

#define API_CLIENT_MAX_BODY (2u * 1024 * 1024)   /* {"manifest": b64(1 MiB)} fits */
#define API_MESH_MAX_BODY (4u * 1024 * 1024)
/* Open connections of the metrics listener: scrapers and probes, a few at a time. */
#define API_METRICS_MAX_CONNS 64

struct api_config {
    const char *client_addr;    /* required */
    const char *mesh_addr;      /* required */
    const char *metrics_addr;   /* NULL or "" = off */
    int threads;                /* event loops; 0 = number of CPUs */
    int timeout_s;              /* slow/idle client timeout; 0 = 10 */
    /* Connection limits of the listeners (struct srv_listener_cfg; 0 = its default). The metrics
     * listener has its own cap and shares the per-address limit and the first-byte deadline. */
    int handshake_timeout_s;
    size_t client_max_conns;
    size_t mesh_max_conns;
    size_t metrics_max_conns;        /* 0 = API_METRICS_MAX_CONNS */
    size_t max_conns_per_addr;       /* each listener */
    size_t max_handshakes_per_addr;  /* each listener */
    /* Liveness (srv_set_heartbeat): heartbeat(heartbeat_arg) runs from the
     * event loops every heartbeat_ms while all of them run; 0 = off. */
    unsigned heartbeat_ms;
    srv_heartbeat_fn heartbeat;
    void *heartbeat_arg;
    /* Trustee's KBS protocol for confidential containers (api_kbs.c): its own
     * HTTPS listener, off when NULL or "" */
    const char *kbs_addr;
    struct kbs_config kbs;
};

struct api;

/* Binds every listener (ports known on return) without serving: connections
 * wait in the kernel's backlog until api_run. The daemon binds before it
 * loads or creates any state, so a busy port fails before anything is
 * written. Errors: CAIRN_ERR_INVALID (an address that does not parse),
 * CAIRN_ERR_IO (bind/listen failed, e.g. the port is in use), CAIRN_ERR_NOMEM. */
int api_bind(const struct api_config *cfg, struct api **out, struct cairn_error *err);
/* Starts the loops, serving with `c` (borrowed; must outlive the api). */
int api_run(struct api *a, struct core *c, struct cairn_error *err);
/* Bound ports (0 when the listener is off). */
void api_ports(const struct api *a, int *client, int *mesh, int *metrics);
/* The KBS listener's port (0 when off). */
int api_kbs_port(const struct api *a);
/* Stops the loops and frees. NULL is fine. */
void api_free(struct api *a);

/* Route tables (exposed for tests and for issue 6 to extend). */
extern const struct srv_route api_client_routes[];
extern const size_t api_client_n_routes;
extern const struct srv_route api_mesh_routes[];
extern const size_t api_mesh_n_routes;
extern const struct srv_grpc_method api_mesh_grpc[];   /* rpc.Marble/Activate (HTTP/2) */
extern const size_t api_mesh_n_grpc;
extern const srv_h2_plain_fn api_mesh_h2_plain;      /* JSON activation over HTTP/2 */
extern const struct srv_route api_metrics_routes[];
extern const size_t api_metrics_n_routes;
void api_not_allowed(struct srv_req *r, void *ctx);
/* Issue 6: users, secrets, updates, recovery (api_governance.c), for the
 * client listener's route table (api_client.c). */
void api_gov_v2_secrets_get(struct srv_req *r, void *ctx);
void api_gov_v2_secrets_post(struct srv_req *r, void *ctx);
void api_gov_v2_update_post(struct srv_req *r, void *ctx);
void api_gov_update_manifest_get(struct srv_req *r, void *ctx);
void api_gov_v2_update_manifest_post(struct srv_req *r, void *ctx);
void api_gov_v2_update_cancel(struct srv_req *r, void *ctx);
void api_gov_v2_recover(struct srv_req *r, void *ctx);
void api_gov_v2_recover_public_key(struct srv_req *r, void *ctx);
void api_gov_v1_update_post(struct srv_req *r, void *ctx);
void api_gov_v1_secrets_get(struct srv_req *r, void *ctx);
void api_gov_v1_secrets_post(struct srv_req *r, void *ctx);
void api_gov_v1_update_manifest_post(struct srv_req *r, void *ctx);
void api_gov_v1_update_cancel(struct srv_req *r, void *ctx);
/* Runs `fn` and logs the governance action once (docs/coordinator.md "Logs"):
 * action, the user the client certificate names ("" when none), the
 * client's address, result, HTTP status, duration and, when refused, the
 * reason (the reply's message). api_governance.c. */
void api_gov_logged(struct srv_req *r, void *ctx, const char *action, srv_handler_fn fn);
/* The same line with another `event` (e.g. "feature" for sign-quote). */
void api_logged(struct srv_req *r, void *ctx, const char *event, const char *action, srv_handler_fn fn);
/* The mesh listener's catch-all: 405 as api_not_allowed, saying that this is
 * the mesh API and where clients go (a CLI pointed at the mesh port). */
void api_mesh_not_allowed(struct srv_req *r, void *ctx);

/* Issue 11: a client error is never a 5xx. The one table from a core error
 * code to an HTTP status at the REST boundary: STATE and CONFLICT 409,
 * TOO_LARGE 413, INVALID and VERIFY 400, PERMISSION 403, UNAUTHENTICATED 401, NOT_FOUND 404; anything
 * else (memory, I/O, crypto, internal) 500. */
int api_status_of(int code);
/* Answers a request refused for the Coordinator's state: 409 (JSend fail, v1
 * error) with `msg` (the core's words, kept first as MarbleRun clients may
 * match them), the state by number and name, and what to do in that state
 * for `action` ("set the manifest", "recover", ...). */
void api_refuse_state(struct srv_req *r, struct core *c, bool v1, const char *msg, const char *action);
/* Answers a refusal of the core: api_status_of(e->code); 4xx as JSend fail
 * (v1: error, as MarbleRun's v1 API), 5xx as error; a state refusal through
 * api_refuse_state(). */
void api_refuse(struct srv_req *r, struct core *c, bool v1, const char *action, const struct cairn_error *e);

/* The server whose metrics the /metrics handler adds (set by api_bind; core by api_run). */
struct api_ctx {
    struct core *core;
    struct srv *srv;
    struct kbs *kbs;            /* NULL unless the KBS listener is on */
};

/* The KBS listener's handler for every path (it routes /kbs/v0/... itself). */
void api_kbs_dispatch(struct srv_req *r, void *ctx);

#endif
