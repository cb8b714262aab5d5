/* Internal: the HTTP(S) server layer of the Coordinator (DESIGN §4, §8).
 *
 * One `struct srv` owns N event-loop threads (libevent, one event_base per
 * thread). Each listener is one listening socket, bound once (so port 0 gets
 * one real port) and watched by every loop thread: whichever loop accepts a
 * connection does its TLS handshake and runs its handlers, so all cores serve
 * handshakes. TLS listeners take their SSL_CTX from a provider callback on
 * every accepted connection, which lets the Coordinator swap certificates
 * (e.g. a new Marble Root after an update) without restarting listeners.
 *
 * Routing is a table of exact paths: adding an endpoint is one
 * `struct srv_route` entry. A path that matches no route, or a method a route
 * does not allow, goes to the listener's fallback handler (the Coordinator
 * answers 405 with a JSend error, as MarbleRun).
 *
 * Limits: a per-listener cap on headers and body (libevent answers 413/400 by
 * itself above them), a per-route body cap (413 JSend fail), and a timeout
 * for slow or idle clients (the connection is closed).
 *
 * Handlers run on the loop thread that accepted the connection and must
 * answer exactly once with srv_reply*() before returning. They must not block
 * for long: each blocks one loop. Request data (path, body, peer certificate)
 * is borrowed and valid only during the handler call. */
#ifndef CAIRN_SERVER_HTTP_H
#define CAIRN_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "common/error.h"

enum srv_method {
    SRV_GET = 1u << 0,
    SRV_POST = 1u << 1,
    SRV_PUT = 1u << 2,
    SRV_DELETE = 1u << 3,
    SRV_HEAD = 1u << 4,
    SRV_OTHER = 1u << 5,
};

struct srv;
struct srv_req;

typedef void (*srv_handler_fn)(struct srv_req *r, void *ctx);
/* Returns a new reference (the server calls SSL_CTX_free after SSL_new),
 * or NULL to refuse the connection. Called on loop threads: must be thread-safe. */
typedef SSL_CTX *(*srv_tls_provider_fn)(void *ctx);

struct srv_route {
    const char *path;        /* exact match on the URI path */
    unsigned methods;        /* enum srv_method bits */
    srv_handler_fn fn;
    size_t max_body;         /* bytes; 0 = the listener's cap */
};

#define SRV_DEFAULT_MAX_CONNS 1024
#define SRV_DEFAULT_MAX_HANDSHAKES_PER_ADDR 128
#define SRV_DEFAULT_HANDSHAKE_TIMEOUT 5

/* gRPC over HTTP/2 (src/server/h2.c): a TLS listener with gRPC methods offers
 * ALPN "h2" and hands such connections to an nghttp2 session; "http/1.1" or
 * no ALPN stays with the HTTP/1.1 routes. One call per complete unary request.
 * The handler fills `out` before returning (it runs on the loop thread, like
 * an HTTP handler); `body` is the framed response message (5-byte prefix
 * included, malloc'd; the server wipes and frees it) and is sent only with
 * status 0; otherwise `message` (plain text) goes into grpc-message. */
struct srv_grpc_reply {
    int status;              /* grpc-status (rpc/grpc_wire.h enum grpc_status) */
    char message[1024];
    uint8_t *body;
    size_t len;
};
/* `peer_addr`: the client's address as srv_req_peer_addr gives it (for logs). */
typedef void (*srv_grpc_fn)(const uint8_t *msg, size_t len, X509 *peer, const char *peer_addr, void *ctx,
                            struct srv_grpc_reply *out);
/* An HTTP/2 request on such a listener whose content-type is not gRPC: e.g. a
 * JSON client whose HTTP library offered and got "h2" (curl does by default).
 * The handler answers with a status, a content type (static string) and a
 * malloc'd body (wiped and freed by the server). Strings are borrowed. */
struct srv_h2_plain_reply {
    int status;
    const char *content_type;
    char *body;
    size_t len;
};
typedef void (*srv_h2_plain_fn)(const char *method, const char *path, const char *content_type,
                                const uint8_t *body, size_t len, X509 *peer, const char *peer_addr, void *ctx,
                                struct srv_h2_plain_reply *out);
struct srv_grpc_method {
    const char *path;        /* "/package.Service/Method" */
    srv_grpc_fn fn;
    size_t max_msg;          /* request message cap in bytes (checked on the prefix); 0 = the listener's max_body */
};

struct srv_listener_cfg {
    const char *name;            /* "client", "mesh", "metrics": used in metric names and logs */
    const char *addr;            /* "host:port", ":port", "[v6]:port"; port 0 = ephemeral */
    srv_tls_provider_fn tls;     /* NULL = plain HTTP */
    void *tls_ctx;
    const struct srv_route *routes;  /* borrowed; must outlive the server */
    size_t n_routes;
    srv_handler_fn fallback;     /* unknown path or method */
    void *ctx;                   /* passed to every handler of this listener */
    size_t max_body;             /* bytes; default 1 MiB */
    size_t max_headers;          /* bytes; default 16 KiB */
    int timeout_s;               /* read/write/idle timeout; default 10. TLS listeners also close a
                                  * connection whose request (from its first byte, or from the
                                  * previous request) takes longer than 3 x timeout_s in all,
                                  * however steadily it trickles bytes */
    /* TLS listeners only (server/conn.h): admission and shedding. */
    size_t max_conns;            /* open connections; at the cap, one without a request is shed
                                  * for a new one, or the new one refused; default
                                  * SRV_DEFAULT_MAX_CONNS */
    size_t max_conns_per_addr;   /* from one source address (IPv6: /64); default max_conns / 2 */
    size_t max_handshakes_per_addr;  /* connections without a completed handshake from one source
                                      * address; default SRV_DEFAULT_MAX_HANDSHAKES_PER_ADDR */
    int handshake_timeout_s;     /* accept -> handshake done, and handshake done -> first request
                                  * byte; default SRV_DEFAULT_HANDSHAKE_TIMEOUT */
    bool metrics;                /* count requests per route (Prometheus) */
    bool json_only;              /* POST/PUT/PATCH/DELETE to a route need Content-Type: application/json
                                  * (parameters allowed), else 415 (cross-site form posts): a request
                                  * without a Content-Type passes only with an empty body and no Origin
                                  * header (MarbleRun's CLI cancels an update so; browsers send Origin
                                  * with every cross-site POST) */
    const struct srv_grpc_method *grpc;  /* borrowed; NULL = no HTTP/2 (TLS listeners only) */
    size_t n_grpc;
    srv_h2_plain_fn h2_plain;    /* HTTP/2 requests that are not gRPC; NULL = 415 */
};

/* Creates a server with `threads` loop threads (1..64). NULL on failure. */
struct srv *srv_new(int threads);

/* Binds and listens now (so the actual port is known before srv_start()).
 * Returns the listener index (>= 0) or a negative cairn_err. `cfg` is copied
 * (its pointers are borrowed). */
int srv_add_listener(struct srv *s, const struct srv_listener_cfg *cfg, struct cairn_error *err);

/* The bound port of listener `idx` (after srv_add_listener), 0 if unknown. */
int srv_listener_port(const struct srv *s, int idx);

/* Connection counters of TLS listener `idx` (server/conn.h). Returns 0, or
 * CAIRN_ERR_INVALID for a plain or unknown listener. */
struct conn_stats;
int srv_listener_conn_stats(struct srv *s, int idx, struct conn_stats *out);

/* Liveness for a watchdog (docs/systemd.md). Before srv_start: every loop
 * ticks each `interval_ms`, and on loop 0's tick `fn(arg)` runs, but only
 * while every loop has ticked within the last 3 intervals: a loop stuck in a
 * handler stops the calls, and a watchdog fed from `fn` fires. `fn` runs on
 * loop 0 and must not block. interval_ms 0 = off. Returns 0 or
 * CAIRN_ERR_INVALID (already running, or no fn). */
typedef void (*srv_heartbeat_fn)(void *arg);
int srv_set_heartbeat(struct srv *s, unsigned interval_ms, srv_heartbeat_fn fn, void *arg);

/* Starts the loop threads. */
int srv_start(struct srv *s, struct cairn_error *err);

/* Stops the loops and joins the threads, then frees every connection still
 * open (pending requests are dropped) and runs libevent's deferred callbacks
 * and finalizers, so nothing of a connection outlives the server. Safe to
 * call from any thread except a loop thread; idempotent. */
void srv_stop(struct srv *s);

/* srv_stop() then frees everything. NULL is fine. */
void srv_free(struct srv *s);

/* ---- request accessors (borrowed, valid during the handler) ---- */

enum srv_method srv_req_method(const struct srv_req *r);
const char *srv_req_method_name(const struct srv_req *r);   /* "GET", ... */
const char *srv_req_path(const struct srv_req *r);
/* The whole body (not NUL-terminated; may be NULL with len 0). */
const uint8_t *srv_req_body(struct srv_req *r, size_t *len);
/* Values of query parameter `name` (decoded), in order. *out is a malloc'd
 * array of pointers into one allocation: free(*out) only. Returns the count
 * (0 when absent, *out NULL), or a negative cairn_err. */
int srv_req_query(struct srv_req *r, const char *name, char ***out);
/* Request header value or NULL. */
const char *srv_req_header(struct srv_req *r, const char *name);
/* The TLS client certificate (borrowed) or NULL. */
X509 *srv_req_peer_cert(struct srv_req *r);
/* The connection's TLS object (borrowed; NULL on plain listeners), e.g. for
 * a TLS exporter value that binds evidence to this connection. */
SSL *srv_req_ssl(struct srv_req *r);
/* The peer's numeric address (borrowed; "?" when unknown), for logs. */
const char *srv_req_peer_host(struct srv_req *r);
/* The client's address, "192.0.2.1:5555" or "[2001:db8::1]:5555" ("unknown"
 * if the socket cannot tell); valid during the handler. For logs. */
const char *srv_req_peer_addr(struct srv_req *r);
/* The same for a connected socket, into `out` (n >= 64). */
void srv_fd_peer_addr(int fd, char *out, size_t n);
/* After the reply (for the handler's log line): its status (0 before), and
 * the message of a JSend fail/error reply ("" for any other). Borrowed. */
int srv_req_reply_status(const struct srv_req *r);
const char *srv_req_reply_message(const struct srv_req *r);
/* The listener's ctx. */
void *srv_req_ctx(struct srv_req *r);

/* ---- replies: exactly one per request ---- */

/* Adds a response header (copied) to the reply still to be sent. */
void srv_reply_header(struct srv_req *r, const char *name, const char *value);
/* Sends `body` (copied) with `status` and `content_type`. */
void srv_reply(struct srv_req *r, int status, const char *content_type, const void *body, size_t len);
/* Sends `j` compact as application/json and drops the reference (steals `j`). */
void srv_reply_json(struct srv_req *r, int status, json_t *j);

/* JSend (inventory §2.2):
 * success: 200 {"status":"success","data":data} (steals data; NULL = null)
 * fail:    {"status":"fail","data":null,"message":msg} as application/json
 * error:   {"status":"error","data":null,"message":msg} as text/plain with a trailing
 *          newline (MarbleRun sends errors through http.Error). */
void srv_jsend_success(struct srv_req *r, json_t *data);
void srv_jsend_success_status(struct srv_req *r, int status, json_t *data);
void srv_jsend_fail(struct srv_req *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void srv_jsend_error(struct srv_req *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- metrics ---- */

/* Appends Prometheus text for every metrics-enabled listener:
 * server_<name>_api_http_request_total{path,code,method},
 * ..._http_request_duration_histogram_seconds{path,method},
 * ..._http_response_size_histogram_bytes{path},
 * ..._http_in_flight_requests{path}. Returns 0 or CAIRN_ERR_NOMEM/TOO_LARGE. */
struct cairn_buf;
int srv_metrics_render(struct srv *s, struct cairn_buf *out);

/* Parses "host:port" / ":port" / "[v6]:port" into a sockaddr (numeric hosts
 * and "localhost"). Returns 0 or CAIRN_ERR_INVALID. */
struct sockaddr_storage;
int srv_parse_addr(const char *addr, struct sockaddr_storage *out, unsigned *out_len, struct cairn_error *err);

#endif
