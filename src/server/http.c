/* libevent + OpenSSL HTTP(S) server: N loops sharing each listening socket. */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/listener.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "common/buf.h"
#include "common/log.h"
#include "server/conn.h"
#include "server/h2.h"
#include "server/tls.h"

#define SRV_MAX_LISTENERS 8
#define SRV_MAX_LOOPS 64
#define SRV_MAX_CODE_SLOTS 32

/* Prometheus buckets: MarbleRun's (inventory §8). */
static const double k_dur_buckets[] = {0.005, 0.025, 0.1, 0.5, 1, 2.5, 5};
#define N_DUR (sizeof(k_dur_buckets) / sizeof(k_dur_buckets[0]))
static const double k_size_buckets[] = {100, 1000, 2000, 5000, 10000};
#define N_SIZE (sizeof(k_size_buckets) / sizeof(k_size_buckets[0]))

enum { MI_GET, MI_POST, MI_OTHER, MI_N };
static const char *const k_mi_names[MI_N] = {"get", "post", "other"};

struct code_slot {
    int code;
    int mi;
    uint64_t count;
};

/* Per route (plus one slot for the fallback) counters; one mutex per route
 * keeps this cheap (a request touches it once). */
struct route_stats {
    pthread_mutex_t lock;
    struct code_slot codes[SRV_MAX_CODE_SLOTS];
    size_t n_codes;
    uint64_t dur_bucket[MI_N][N_DUR];
    uint64_t dur_count[MI_N];
    double dur_sum[MI_N];
    uint64_t size_bucket[N_SIZE];
    uint64_t size_count;
    double size_sum;
    atomic_long in_flight;
};

struct lst {
    struct srv *srv;
    struct srv_listener_cfg cfg;
    int fd;
    int port;
    struct route_stats *stats;   /* n_routes + 1 (fallback) */
    struct conn_pool *pool;      /* connection accounting and admission (conn.h) */
};

struct loop {
    struct srv *srv;
    pthread_t th;
    bool started;
    struct event_base *base;
    struct event *stop_ev;   /* activated by srv_stop; breaks the loop from inside */
    struct evhttp *http[SRV_MAX_LISTENERS];
    struct evconnlistener *evl[SRV_MAX_LISTENERS];   /* owned by http[] */
    struct event *resume_ev[SRV_MAX_LISTENERS];      /* re-enables evl[] after one accept */
    struct event *backoff_ev[SRV_MAX_LISTENERS];     /* re-enables evl[] after a failed accept */
    time_t accept_err_logged;                        /* last accept-failure log line (rate limit) */
    struct event *hb_ev;                             /* heartbeat timer (srv_set_heartbeat) */
    _Atomic int64_t hb_last_ms;                      /* monotonic ms of this loop's last tick */
};

struct srv {
    int nloops;
    struct loop loops[SRV_MAX_LOOPS];
    struct lst lst[SRV_MAX_LISTENERS];
    int nlst;
    bool running;
    SSL_CTX *refuse_ctx;   /* no certificate: every handshake fails */
    unsigned hb_ms;        /* srv_set_heartbeat; 0 = none */
    srv_heartbeat_fn hb_fn;
    void *hb_arg;
    bool hb_stale_logged;  /* loop 0 only */
};

struct srv_req {
    struct evhttp_request *req;
    struct lst *l;
    size_t stat_idx;
    struct timespec start;
    bool replied;
    bool close;          /* reply with Connection: close (libevent then closes after it) */
    const char *path;
    char *path_owned;
    uint8_t *body;
    size_t body_len;
    bool body_read;
    char peer_addr[64];  /* srv_req_peer_addr, filled on first use */
    int reply_status;    /* set by srv_reply */
    char reply_msg[512]; /* the message of a JSend fail/error reply */
};

static pthread_once_t g_evthread_once = PTHREAD_ONCE_INIT;

static void evthread_init(void)
{
    evthread_use_pthreads();
}

struct srv *srv_new(int threads)
{
    if (threads < 1 || threads > SRV_MAX_LOOPS)
        return NULL;
    pthread_once(&g_evthread_once, evthread_init);
    struct srv *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->nloops = threads;
    s->refuse_ctx = SSL_CTX_new(TLS_server_method());
    if (s->refuse_ctx == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

int srv_parse_addr(const char *addr, struct sockaddr_storage *out, unsigned *out_len, struct cairn_error *err)
{
    char host[256];
    const char *port_s;
    if (addr == NULL || *addr == '\0')
        return cairn_errf(err, CAIRN_ERR_INVALID, "listen address is empty");
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - addr - 1) >= sizeof(host))
            return cairn_errf(err, CAIRN_ERR_INVALID, "listen address %s: expected [v6]:port", addr);
        memcpy(host, addr + 1, (size_t)(end - addr - 1));
        host[end - addr - 1] = '\0';
        port_s = end + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
            return cairn_errf(err, CAIRN_ERR_INVALID, "listen address %s: expected host:port", addr);
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port_s = colon + 1;
    }
    char *end = NULL;
    errno = 0;
    long port = strtol(port_s, &end, 10);
    if (*port_s == '\0' || errno != 0 || *end != '\0' || port < 0 || port > 65535)
        return cairn_errf(err, CAIRN_ERR_INVALID, "listen address %s: invalid port", addr);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_ANY);
        in->sin_port = htons((uint16_t)port);
        *out_len = sizeof(*in);
    } else if (strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        if (strcmp(host, "localhost") == 0)
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in->sin_port = htons((uint16_t)port);
        *out_len = sizeof(*in);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *out_len = sizeof(*in6);
    } else {
        return cairn_errf(err, CAIRN_ERR_INVALID, "listen address %s: host must be an IP address or localhost",
                          addr);
    }
    *out = ss;
    return 0;
}

int srv_add_listener(struct srv *s, const struct srv_listener_cfg *cfg, struct cairn_error *err)
{
    if (s->running || s->nlst >= SRV_MAX_LISTENERS)
        return cairn_errf(err, CAIRN_ERR_STATE, "cannot add listener %s", cfg->name);
    struct sockaddr_storage ss;
    unsigned sl;
    int rc = srv_parse_addr(cfg->addr, &ss, &sl, err);
    if (rc < 0)
        return rc;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cairn_errf(err, CAIRN_ERR_IO, "%s listener: socket: %s", cfg->name, strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* Accepted sockets inherit this. Without it, a response written in two
     * pieces (headers, then body) waits for the client's delayed ACK: ~40 ms
     * per request on loopback. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        return cairn_errf(err, CAIRN_ERR_IO, "%s listener: cannot listen on %s: %s", cfg->name, cfg->addr,
                          strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&bound, &bl) == 0)
        port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);
    struct lst *l = &s->lst[s->nlst];
    memset(l, 0, sizeof(*l));
    l->stats = calloc(cfg->n_routes + 1, sizeof(*l->stats));
    if (l->stats == NULL) {
        close(fd);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i <= cfg->n_routes; i++)
        pthread_mutex_init(&l->stats[i].lock, NULL);
    l->srv = s;
    l->cfg = *cfg;
    if (l->cfg.max_body == 0)
        l->cfg.max_body = 1024 * 1024;
    if (l->cfg.max_headers == 0)
        l->cfg.max_headers = 16 * 1024;
    if (l->cfg.timeout_s <= 0)
        l->cfg.timeout_s = 10;
    if (l->cfg.max_conns == 0)
        l->cfg.max_conns = SRV_DEFAULT_MAX_CONNS;
    if (l->cfg.max_conns_per_addr == 0)
        l->cfg.max_conns_per_addr = l->cfg.max_conns / 2 > 0 ? l->cfg.max_conns / 2 : 1;
    if (l->cfg.max_handshakes_per_addr == 0)
        l->cfg.max_handshakes_per_addr = SRV_DEFAULT_MAX_HANDSHAKES_PER_ADDR;
    if (l->cfg.handshake_timeout_s <= 0)
        l->cfg.handshake_timeout_s = SRV_DEFAULT_HANDSHAKE_TIMEOUT;
    /* every listener, TLS or plain, has the same admission and deadlines */
    struct conn_limits lim = {.max_conns = l->cfg.max_conns,
                              .max_per_addr = l->cfg.max_conns_per_addr,
                              .max_hs_per_addr = l->cfg.max_handshakes_per_addr,
                              .handshake_timeout_s = l->cfg.handshake_timeout_s,
                              .request_timeout_s = 3 * l->cfg.timeout_s};
    l->pool = conn_pool_new(l->cfg.name, &lim);
    if (l->pool == NULL) {
        for (size_t i = 0; i <= cfg->n_routes; i++)
            pthread_mutex_destroy(&l->stats[i].lock);
        free(l->stats);
        close(fd);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    l->fd = fd;
    l->port = port;
    return s->nlst++;
}

int srv_listener_conn_stats(struct srv *s, int idx, struct conn_stats *out)
{
    if (idx < 0 || idx >= s->nlst || s->lst[idx].pool == NULL)
        return CAIRN_ERR_INVALID;
    conn_pool_stats(s->lst[idx].pool, out);
    return 0;
}

int srv_listener_port(const struct srv *s, int idx)
{
    if (idx < 0 || idx >= s->nlst)
        return 0;
    return s->lst[idx].port;
}

/* ---- request plumbing ---- */

static double elapsed_s(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

static int method_index(enum evhttp_cmd_type t)
{
    return t == EVHTTP_REQ_GET ? MI_GET : t == EVHTTP_REQ_POST ? MI_POST : MI_OTHER;
}

static void record_stats(struct lst *l, size_t stat_idx, int mi, const struct timespec *start, int status,
                         size_t resp_len);

static void record(struct srv_req *r, int status, size_t resp_len)
{
    if (!r->l->cfg.metrics)
        return;
    record_stats(r->l, r->stat_idx, method_index(evhttp_request_get_command(r->req)), &r->start, status, resp_len);
}

/* The route statistics of an HTTP/2 request that is not gRPC (h2.h). */
static void h2_record(void *arg, const char *path, const char *method, const struct timespec *start, int status,
                      size_t resp_len)
{
    struct lst *l = arg;
    if (!l->cfg.metrics)
        return;
    size_t idx = l->cfg.n_routes;
    for (size_t i = 0; i < l->cfg.n_routes && idx == l->cfg.n_routes; i++)
        if (strcmp(l->cfg.routes[i].path, path) == 0)
            idx = i;
    int mi = strcmp(method, "GET") == 0 ? MI_GET : strcmp(method, "POST") == 0 ? MI_POST : MI_OTHER;
    record_stats(l, idx, mi, start, status, resp_len);
}

static void record_stats(struct lst *l, size_t stat_idx, int mi, const struct timespec *start, int status,
                         size_t resp_len)
{
    struct route_stats *st = &l->stats[stat_idx];
    double d = elapsed_s(start);
    pthread_mutex_lock(&st->lock);
    size_t i;
    for (i = 0; i < st->n_codes; i++)
        if (st->codes[i].code == status && st->codes[i].mi == mi)
            break;
    if (i == st->n_codes && st->n_codes < SRV_MAX_CODE_SLOTS) {
        st->codes[i].code = status;
        st->codes[i].mi = mi;
        st->n_codes++;
    }
    if (i < st->n_codes)
        st->codes[i].count++;
    for (size_t b = 0; b < N_DUR; b++)
        if (d <= k_dur_buckets[b])
            st->dur_bucket[mi][b]++;
    st->dur_count[mi]++;
    st->dur_sum[mi] += d;
    for (size_t b = 0; b < N_SIZE; b++)
        if ((double)resp_len <= k_size_buckets[b])
            st->size_bucket[b]++;
    st->size_count++;
    st->size_sum += (double)resp_len;
    pthread_mutex_unlock(&st->lock);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return NULL;
    }
}

void srv_reply_header(struct srv_req *r, const char *name, const char *value)
{
    if (!r->replied)
        evhttp_add_header(evhttp_request_get_output_headers(r->req), name, value);
}

void srv_reply(struct srv_req *r, int status, const char *content_type, const void *body, size_t len)
{
    if (r->replied)
        return;
    r->replied = true;
    r->reply_status = status;
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    if (content_type != NULL)
        evhttp_add_header(h, "Content-Type", content_type);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (r->close)
        evhttp_add_header(h, "Connection", "close");
    /* libevent 2.1 omits Content-Length for HEAD but still writes the body,
     * which a client then reads as the start of the next response */
    if (out != NULL && len > 0 && evhttp_request_get_command(r->req) != EVHTTP_REQ_HEAD)
        evbuffer_add(out, body, len);
    record(r, status, len);
    evhttp_send_reply(r->req, status, reason(status), out);
    if (out != NULL)
        evbuffer_free(out);
}

void srv_reply_json(struct srv_req *r, int status, json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (s == NULL) {
        static const char oom[] = "{\"status\":\"error\",\"data\":null,\"message\":\"out of memory\"}";
        srv_reply(r, 500, "application/json", oom, sizeof(oom) - 1);
        return;
    }
    srv_reply(r, status, "application/json", s, strlen(s));
    free(s);
}

void srv_jsend_success_status(struct srv_req *r, int status, json_t *data)
{
    json_t *j = json_object();
    if (j != NULL) {
        json_object_set_new(j, "status", json_string("success"));
        json_object_set_new(j, "data", data != NULL ? data : json_null());
    } else {
        json_decref(data);
    }
    srv_reply_json(r, status, j);
}

void srv_jsend_success(struct srv_req *r, json_t *data)
{
    srv_jsend_success_status(r, 200, data);
}

static json_t *envelope(struct srv_req *r, const char *status, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (!r->replied)
        snprintf(r->reply_msg, sizeof(r->reply_msg), "%s", msg);
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "status", json_string(status));
    json_object_set_new(j, "data", json_null());
    if (msg[0] != '\0') {
        /* messages may quote untrusted input; keep the JSON valid whatever it is */
        json_t *m = json_string(msg);
        json_object_set_new(j, "message", m != NULL ? m : json_string("(message not valid UTF-8)"));
    }
    return j;
}

void srv_jsend_fail(struct srv_req *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *j = envelope(r, "fail", fmt, ap);
    va_end(ap);
    srv_reply_json(r, status, j);
}

void srv_jsend_error(struct srv_req *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *j = envelope(r, "error", fmt, ap);
    va_end(ap);
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL) {
        srv_reply(r, 500, "text/plain; charset=utf-8", "out of memory\n", 14);
        return;
    }
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (t != NULL) {
        s = t;
        s[n++] = '\n';
        s[n] = '\0';
    }
    srv_reply(r, status, "text/plain; charset=utf-8", s, n);
    free(s);
}

enum srv_method srv_req_method(const struct srv_req *r)
{
    switch (evhttp_request_get_command(r->req)) {
    case EVHTTP_REQ_GET: return SRV_GET;
    case EVHTTP_REQ_POST: return SRV_POST;
    case EVHTTP_REQ_PUT: return SRV_PUT;
    case EVHTTP_REQ_DELETE: return SRV_DELETE;
    case EVHTTP_REQ_HEAD: return SRV_HEAD;
    default: return SRV_OTHER;
    }
}

const char *srv_req_method_name(const struct srv_req *r)
{
    switch (evhttp_request_get_command(r->req)) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

const char *srv_req_path(const struct srv_req *r)
{
    return r->path;
}

const uint8_t *srv_req_body(struct srv_req *r, size_t *len)
{
    if (!r->body_read) {
        r->body_read = true;
        struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
        size_t n = in != NULL ? evbuffer_get_length(in) : 0;
        if (n > 0) {
            r->body = evbuffer_pullup(in, (ev_ssize_t)n);
            r->body_len = r->body != NULL ? n : 0;
        }
    }
    *len = r->body_len;
    return r->body;
}

int srv_req_query(struct srv_req *r, const char *name, char ***out)
{
    *out = NULL;
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
    if (q == NULL || *q == '\0')
        return 0;
    struct evkeyvalq kv;
    TAILQ_INIT(&kv);
    if (evhttp_parse_query_str(q, &kv) != 0)
        return CAIRN_ERR_INVALID;
    size_t n = 0, total = 0;
    struct evkeyval *e;
    TAILQ_FOREACH(e, &kv, next) {
        if (strcmp(e->key, name) == 0) {
            n++;
            total += strlen(e->value) + 1;
        }
    }
    if (n == 0) {
        evhttp_clear_headers(&kv);
        return 0;
    }
    char **v = malloc(n * sizeof(char *) + total);
    if (v == NULL) {
        evhttp_clear_headers(&kv);
        return CAIRN_ERR_NOMEM;
    }
    char *p = (char *)(v + n);
    size_t i = 0;
    TAILQ_FOREACH(e, &kv, next) {
        if (strcmp(e->key, name) == 0) {
            size_t l = strlen(e->value) + 1;
            memcpy(p, e->value, l);
            v[i++] = p;
            p += l;
        }
    }
    evhttp_clear_headers(&kv);
    *out = v;
    return (int)n;
}

const char *srv_req_header(struct srv_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

X509 *srv_req_peer_cert(struct srv_req *r)
{
    struct evhttp_connection *c = evhttp_request_get_connection(r->req);
    if (c == NULL)
        return NULL;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c);
    SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
    return ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
}

SSL *srv_req_ssl(struct srv_req *r)
{
    struct evhttp_connection *c = evhttp_request_get_connection(r->req);
    struct bufferevent *bev = c != NULL ? evhttp_connection_get_bufferevent(c) : NULL;
    return bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
}

const char *srv_req_peer_host(struct srv_req *r)
{
    struct evhttp_connection *c = evhttp_request_get_connection(r->req);
    const char *host = NULL;
    ev_uint16_t port = 0;
    if (c != NULL)
        evhttp_connection_get_peer(c, (char **)&host, &port);
    return host != NULL ? host : "?";
}

void srv_fd_peer_addr(int fd, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "";
    snprintf(out, n, "unknown");
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host)) != NULL)
            snprintf(out, n, "%s:%u", host, (unsigned)ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)) != NULL)
            snprintf(out, n, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
    }
}

int srv_req_reply_status(const struct srv_req *r)
{
    return r->replied ? r->reply_status : 0;
}

const char *srv_req_reply_message(const struct srv_req *r)
{
    return r->reply_msg;
}

const char *srv_req_peer_addr(struct srv_req *r)
{
    if (r->peer_addr[0] == '\0') {
        struct evhttp_connection *c = evhttp_request_get_connection(r->req);
        struct bufferevent *bev = c != NULL ? evhttp_connection_get_bufferevent(c) : NULL;
        srv_fd_peer_addr(bev != NULL ? bufferevent_getfd(bev) : -1, r->peer_addr, sizeof(r->peer_addr));
    }
    return r->peer_addr;
}

void *srv_req_ctx(struct srv_req *r)
{
    return r->l->cfg.ctx;
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Request smuggling (security review, issue 12 §2). libevent 2.1 frames a
 * request by the FIRST Content-Length header, decodes chunked only when the
 * first Transfer-Encoding value is exactly "chunked" (anything else is ignored
 * and the body taken from Content-Length, or absent), keeps header names with
 * spaces ("Transfer-Encoding : chunked" is then an unknown header), unfolds
 * obs-fold into the value, and reads no body for HEAD. A proxy in front of us
 * that frames the same bytes differently would make the rest of a body our
 * next request. So every request whose framing is not unambiguous is refused
 * here, after libevent parsed it and before any handler runs, and the
 * connection is closed after the 400: whatever libevent left in its buffer
 * (the smuggled remainder) is never parsed. Returns NULL when the framing is
 * sound, else the reason. */
static const char *framing_error(struct evhttp_request *req)
{
    const char *uri = evhttp_request_get_uri(req);
    /* origin-form only: absolute-form is for proxies (libevent would route it
     * by its path and flag it as a proxy request), asterisk-form for OPTIONS * */
    if (uri == NULL || uri[0] != '/')
        return "the request target must be a path (origin-form)";
    if (req->major != 1 || (req->minor != 0 && req->minor != 1))
        return "unsupported HTTP version";
    const struct evkeyvalq *hs = evhttp_request_get_input_headers(req);
    const struct evkeyval *h;
    const char *cl = NULL, *te = NULL;
    int n_cl = 0, n_te = 0, n_host = 0;
    TAILQ_FOREACH(h, hs, next) {
        if (h->key[0] == '\0')
            return "empty header name";
        for (const char *k = h->key; *k != '\0'; k++)
            if (!is_tchar((unsigned char)*k))
                return "invalid character in a header name";
        if (strcasecmp(h->key, "Content-Length") == 0) {
            n_cl++;
            cl = h->value;
        } else if (strcasecmp(h->key, "Transfer-Encoding") == 0) {
            n_te++;
            te = h->value;
        } else if (strcasecmp(h->key, "Host") == 0) {
            n_host++;
        }
    }
    if (n_cl > 1)
        return "more than one Content-Length";
    if (n_te > 1)
        return "more than one Transfer-Encoding";
    if (n_cl > 0 && n_te > 0)
        return "both Content-Length and Transfer-Encoding";
    if (n_host > 1 || (n_host == 0 && req->minor == 1))
        return "an HTTP/1.1 request needs exactly one Host header";
    if (cl != NULL) {
        /* 1*DIGIT: libevent's strtoll would also take "+4", " 4" (an obs-fold
         * leaves a space) and "4 4" is refused there already */
        size_t n = strlen(cl);
        if (n == 0 || n > 18 || strspn(cl, "0123456789") != n)
            return "invalid Content-Length";
    }
    if (te != NULL) {
        /* libevent decodes exactly "chunked" (any case); "xchunked", a leading
         * tab, a fold (" chunked") or a list would be read as no body */
        if (strcasecmp(te, "chunked") != 0)
            return "Transfer-Encoding other than chunked";
        if (req->minor == 0)
            return "Transfer-Encoding in an HTTP/1.0 request";
    }
    /* methods libevent reads no body for: a body would be the next request */
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if ((m == EVHTTP_REQ_HEAD || m == EVHTTP_REQ_TRACE) && (te != NULL || (cl != NULL && strspn(cl, "0") != strlen(cl))))
        return "a body on a method without one";
    return NULL;
}

/* json_only listeners (issue 12 §4): a browser holding a user's client
 * certificate can be made to POST cross-site, but only with the "simple"
 * types (form encodings, text/plain) or none; application/json needs a CORS
 * preflight, which this server never grants. Returns NULL when acceptable. */
static const char *media_type_error(struct srv_req *r)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
    if (m != EVHTTP_REQ_POST && m != EVHTTP_REQ_PUT && m != EVHTTP_REQ_PATCH && m != EVHTTP_REQ_DELETE)
        return NULL;
    const char *ct = srv_req_header(r, "Content-Type");
    if (ct == NULL) {
        size_t len;
        srv_req_body(r, &len);
        return len == 0 && srv_req_header(r, "Origin") == NULL ? NULL : "Content-Type must be application/json";
    }
    ct += strspn(ct, " \t");
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;
    if (strncasecmp(ct, json, n) != 0 || (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t'))
        return "Content-Type must be application/json";
    return NULL;
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    struct lst *l = arg;
    struct srv_req r;
    memset(&r, 0, sizeof(r));
    r.req = req;
    r.l = l;
    clock_gettime(CLOCK_MONOTONIC, &r.start);
    if (l->cfg.tls != NULL) {
        /* the next request on this connection gets a fresh deadline */
        struct evhttp_connection *ec = evhttp_request_get_connection(req);
        struct bufferevent *bev = ec != NULL ? evhttp_connection_get_bufferevent(ec) : NULL;
        SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
        if (ssl != NULL)
            conn_activity(conn_of(ssl));
    }
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    r.path = (path != NULL && *path != '\0') ? path : "/";
    const char *bad = framing_error(req);
    if (bad != NULL) {
        r.stat_idx = l->cfg.n_routes;
        r.close = true;
        LOG_DEBUG("%s API: malformed request refused: %s", l->cfg.name, bad);
        srv_jsend_fail(&r, 400, "malformed request: %s", bad);
        return;
    }

    /* a path may have one entry per method; the first entry with the path
     * carries the statistics when no method matches */
    const struct srv_route *route = NULL;
    size_t idx = l->cfg.n_routes;
    enum srv_method m = srv_req_method(&r);
    for (size_t i = 0; i < l->cfg.n_routes; i++) {
        if (strcmp(l->cfg.routes[i].path, r.path) != 0)
            continue;
        if (idx == l->cfg.n_routes)
            idx = i;
        if (l->cfg.routes[i].methods & m) {
            route = &l->cfg.routes[i];
            idx = i;
            break;
        }
    }
    r.stat_idx = idx;
    struct route_stats *st = &l->stats[idx];
    atomic_fetch_add(&st->in_flight, 1);
    if (route == NULL) {
        l->cfg.fallback(&r, l->cfg.ctx);
    } else {
        size_t len;
        srv_req_body(&r, &len);
        size_t cap = route->max_body != 0 ? route->max_body : l->cfg.max_body;
        const char *bad_type = l->cfg.json_only ? media_type_error(&r) : NULL;
        if (len > cap)
            srv_jsend_fail(&r, 413, "request body too large: %zu bytes, limit %zu", len, cap);
        else if (bad_type != NULL)
            srv_jsend_fail(&r, 415, "%s", bad_type);
        else
            route->fn(&r, l->cfg.ctx);
    }
    if (!r.replied) {
        LOG_ERROR("%s API: handler for %s did not reply", l->cfg.name, r.path);
        srv_jsend_error(&r, 500, "internal error: no reply");
    }
    atomic_fetch_sub(&st->in_flight, 1);
    free(r.path_owned);
}

/* Accept pacing. libevent's listener accepts every pending connection in one
 * callback, and each connection then stays on the loop that accepted it; a
 * loop that wakes first takes a whole batch while the other idles, which
 * shows up as tail latency. So after each accepted connection this loop's
 * listener pauses until its other ready events have run, and the other
 * loops (watching the same socket) get the next connections meanwhile.
 * Called from evhttp's accept path on the loop thread. */
static void pace_accept(struct event_base *base, struct lst *l)
{
    struct srv *s = l->srv;
    int k = (int)(l - s->lst);
    if (s->nloops < 2)
        return;
    for (int i = 0; i < s->nloops; i++) {
        struct loop *lp = &s->loops[i];
        if (lp->base == base && lp->evl[k] != NULL && lp->resume_ev[k] != NULL) {
            evconnlistener_disable(lp->evl[k]);
            event_active(lp->resume_ev[k], EV_READ, 0);
            return;
        }
    }
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    evconnlistener_enable(arg);
}

/* A plain connection has no SSL to carry its conn (conn.h), so the conn is
 * tied to evhttp's connection instead: its close callback runs whenever
 * evhttp frees the connection (peer gone, timeout, Connection: close, a
 * reset by conn.h, server shutdown). */
static void plain_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    conn_release(arg);
}

/* Runs from conn.h's first event, after the accept callback has made the
 * evhttp connection around our bufferevent (its callback argument). */
static void plain_start(struct conn *c, void *arg)
{
    (void)arg;
    void *cbarg = NULL;
    bufferevent_getcb(conn_bev(c), NULL, NULL, NULL, &cbarg);
    struct evhttp_connection *evcon = cbarg;
    if (evcon != NULL && evhttp_connection_get_bufferevent(evcon) == conn_bev(c))
        evhttp_connection_set_closecb(evcon, plain_closed, c);
}

static struct bufferevent *bev_plain(struct event_base *base, void *arg)
{
    struct lst *l = arg;
    pace_accept(base, l);
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    /* Admission, the cap and the deadlines are conn.h's, as for TLS. Without
     * memory for the accounting the connection is served unaccounted (NULL
     * would make libevent create a bufferevent of its own all the same). */
    if (bev != NULL && conn_attach_plain(l->pool, base, bev, plain_start, l) == NULL)
        LOG_WARN("%s listener: out of memory: a connection is served without admission control", l->cfg.name);
    return bev;
}

/* ---- HTTP/2 hook: a handshake that selected ALPN "h2" hands the connection
 * from evhttp to a gRPC session (h2.h). conn.h calls this inside the
 * handshake, after evhttp has installed its callbacks and before
 * bufferevent_openssl reports BEV_EVENT_CONNECTED, which then reaches the
 * session's callbacks instead of evhttp's. The session belongs to the conn
 * from then on (freed with it); admission, the handshake and first-byte
 * deadlines and shedding are the same as for HTTP/1.1. ---- */
static void h2_session_free(void *h)
{
    srv_h2_free(h);
}

static void h2_handover(struct conn *c, const SSL *ssl, void *arg)
{
    struct lst *l = arg;
    if (l->cfg.n_grpc == 0 || conn_bev(c) == NULL)
        return;
    const unsigned char *proto = NULL;
    unsigned int plen = 0;
    SSL_get0_alpn_selected(ssl, &proto, &plen);
    if (plen != 2 || memcmp(proto, "h2", 2) != 0)
        return;
    struct srv_h2_cfg hc = {.name = l->cfg.name, .methods = l->cfg.grpc, .n_methods = l->cfg.n_grpc,
                            .plain = l->cfg.h2_plain, .record = h2_record, .record_arg = l, .ctx = l->cfg.ctx,
                            .max_msg = l->cfg.max_body, .max_headers = l->cfg.max_headers,
                            .timeout_s = l->cfg.timeout_s};
    struct srv_h2 *h = srv_h2_start(conn_bev(c), &hc);
    if (h != NULL)
        conn_set_session(c, h, h2_session_free);
}

static struct bufferevent *bev_tls(struct event_base *base, void *arg)
{
    struct lst *l = arg;
    pace_accept(base, l);
    /* Never return NULL: libevent would then serve plain HTTP on this socket.
     * Without a context (or without memory for the accounting) the handshake
     * is made to fail instead. Admission, the connection cap and the phase
     * deadlines are conn.h's. */
    SSL_CTX *ctx = l->cfg.tls(l->cfg.tls_ctx);
    if (ctx != NULL && l->cfg.n_grpc > 0)
        srv_tls_offer_h2(ctx);
    SSL *ssl = ctx != NULL ? SSL_new(ctx) : NULL;
    SSL_CTX_free(ctx);
    if (ssl != NULL && conn_attach(l->pool, base, ssl, h2_handover, l) != 0) {
        SSL_free(ssl);
        ssl = NULL;
    }
    if (ssl == NULL)
        ssl = SSL_new(l->srv->refuse_ctx);
    struct bufferevent *bev =
        bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev != NULL)   /* on failure libevent has freed the SSL (BEV_OPT_CLOSE_ON_FREE) */
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    struct conn *c = bev != NULL ? conn_of(ssl) : NULL;
    if (c != NULL)
        conn_set_bev(c, bev);
    return bev;
}

/* Runs on the loop thread. event_base_loopbreak() from another thread would
 * be lost if that thread had not entered event_base_loop() yet (the loop
 * clears the flag on entry); an activated event is not. */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* The loop running on this thread, for callbacks whose argument is not ours
 * (the listener error callback gets evhttp's). */
static __thread struct loop *tl_loop;

/* accept() failed with a non-retriable error, typically EMFILE/ENFILE when
 * the descriptor table is full. The pending connection stays in the backlog,
 * so the level-triggered listener would fire again at once: without this
 * callback libevent spins at 100% CPU printing a warning per attempt. The
 * listener pauses instead and retries after a short delay; the log line is
 * rate-limited. */
static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    (void)arg;
    int e = EVUTIL_SOCKET_ERROR();
    struct loop *lp = tl_loop;
    if (lp == NULL)
        return;
    for (int k = 0; k < SRV_MAX_LISTENERS; k++) {
        if (lp->evl[k] != lev || lp->backoff_ev[k] == NULL)
            continue;
        evconnlistener_disable(lev);
        const struct timeval delay = {0, 100 * 1000};
        evtimer_add(lp->backoff_ev[k], &delay);
        time_t now = time(NULL);
        if (now - lp->accept_err_logged >= 10) {
            lp->accept_err_logged = now;
            LOG_WARN("%s listener: accept failed: %s; pausing new connections for 100 ms",
                     lp->srv->lst[k].cfg.name, strerror(e));
        }
        return;
    }
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Every loop records that it ran; loop 0 also calls the heartbeat function,
 * but only while every loop has ticked within three intervals, so one wedged
 * loop (a handler that never returns) stops the calls as surely as a wedged
 * loop 0 does. */
static void hb_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct loop *lp = arg;
    struct srv *s = lp->srv;
    int64_t now = mono_ms();
    atomic_store(&lp->hb_last_ms, now);
    if (lp != &s->loops[0])
        return;
    int64_t limit = 3 * (int64_t)s->hb_ms;
    for (int i = 1; i < s->nloops; i++) {
        int64_t last = atomic_load(&s->loops[i].hb_last_ms);
        if (now - last > limit) {
            if (!s->hb_stale_logged)
                LOG_ERROR("event loop %d has not run for %lld ms: heartbeat withheld", i, (long long)(now - last));
            s->hb_stale_logged = true;
            return;
        }
    }
    s->hb_stale_logged = false;
    s->hb_fn(s->hb_arg);
}

int srv_set_heartbeat(struct srv *s, unsigned interval_ms, srv_heartbeat_fn fn, void *arg)
{
    if (s->running || (interval_ms > 0 && fn == NULL))
        return CAIRN_ERR_INVALID;
    s->hb_ms = interval_ms;
    s->hb_fn = fn;
    s->hb_arg = arg;
    return 0;
}

static void *loop_main(void *arg)
{
    struct loop *lp = arg;
    tl_loop = lp;
    event_base_loop(lp->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

int srv_start(struct srv *s, struct cairn_error *err)
{
    if (s->running)
        return cairn_errf(err, CAIRN_ERR_STATE, "server already running");
    for (int i = 0; i < s->nloops; i++) {
        struct loop *lp = &s->loops[i];
        lp->srv = s;
        lp->base = event_base_new();
        if (lp->base == NULL || (lp->stop_ev = event_new(lp->base, -1, 0, stop_cb, lp->base)) == NULL)
            goto fail;
        for (int k = 0; k < s->nlst; k++) {
            struct lst *l = &s->lst[k];
            struct evhttp *h = evhttp_new(lp->base);
            if (h == NULL)
                goto fail;
            lp->http[k] = h;
            evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
            evhttp_set_max_body_size(h, (ev_ssize_t)l->cfg.max_body);
            evhttp_set_max_headers_size(h, (ev_ssize_t)l->cfg.max_headers);
            evhttp_set_timeout(h, l->cfg.timeout_s);
            evhttp_set_gencb(h, dispatch, l);
            evhttp_set_bevcb(h, l->cfg.tls != NULL ? bev_tls : bev_plain, l);
            /* every loop watches the same listening socket (its own dup, so
             * each evhttp can close its copy); the kernel hands each new
             * connection to one accept() */
            int fd = dup(l->fd);
            struct evhttp_bound_socket *bs = fd >= 0 ? evhttp_accept_socket_with_handle(h, fd) : NULL;
            if (bs == NULL) {
                if (fd >= 0)
                    close(fd);
                goto fail;
            }
            lp->evl[k] = evhttp_bound_socket_get_listener(bs);
            lp->resume_ev[k] = event_new(lp->base, -1, 0, resume_cb, lp->evl[k]);
            lp->backoff_ev[k] = evtimer_new(lp->base, resume_cb, lp->evl[k]);
            if (lp->resume_ev[k] == NULL || lp->backoff_ev[k] == NULL)
                goto fail;
            evconnlistener_set_error_cb(lp->evl[k], accept_error_cb);
        }
        if (s->hb_ms > 0) {
            const struct timeval iv = {s->hb_ms / 1000, (s->hb_ms % 1000) * 1000};
            atomic_store(&lp->hb_last_ms, mono_ms());
            if ((lp->hb_ev = event_new(lp->base, -1, EV_PERSIST, hb_cb, lp)) == NULL || event_add(lp->hb_ev, &iv) != 0)
                goto fail;
        }
    }
    for (int i = 0; i < s->nloops; i++) {
        if (pthread_create(&s->loops[i].th, NULL, loop_main, &s->loops[i]) != 0)
            goto fail;
        s->loops[i].started = true;
    }
    s->running = true;
    return 0;
fail:
    s->running = true; /* let srv_stop clean up what exists */
    srv_stop(s);
    return cairn_errf(err, CAIRN_ERR_IO, "cannot start the server loops");
}

void srv_stop(struct srv *s)
{
    if (s == NULL || !s->running)
        return;
    /* see stop_cb: the break is requested from inside each loop */
    for (int i = 0; i < s->nloops; i++)
        if (s->loops[i].stop_ev != NULL && s->loops[i].started)
            event_active(s->loops[i].stop_ev, EV_TIMEOUT, 0);
    /* all loops stop before any is torn down: a loop still running could
     * shed (activate) a connection of another */
    for (int i = 0; i < s->nloops; i++) {
        struct loop *lp = &s->loops[i];
        if (lp->started)
            pthread_join(lp->th, NULL);
        lp->started = false;
    }
    for (int i = 0; i < s->nloops; i++) {
        struct loop *lp = &s->loops[i];
        for (int k = 0; k < s->nlst; k++) {
            /* a plain connection accepted just before the stop whose conn has
             * not yet hooked evhttp's close callback: its conn goes first */
            if (lp->base != NULL && s->lst[k].cfg.tls == NULL)
                conn_pool_drop_pending(s->lst[k].pool, lp->base);
            if (lp->resume_ev[k] != NULL)
                event_free(lp->resume_ev[k]);
            lp->resume_ev[k] = NULL;
            if (lp->backoff_ev[k] != NULL)
                event_free(lp->backoff_ev[k]);
            lp->backoff_ev[k] = NULL;
            if (lp->http[k] != NULL)
                evhttp_free(lp->http[k]);   /* its listener and every connection it holds */
            lp->http[k] = NULL;
            lp->evl[k] = NULL;
        }
        /* A connection freed above may still have a deferred callback queued
         * (bufferevent_openssl defers its write callback, holding a reference
         * to the bufferevent), and bufferevents are finalized from the loop.
         * event_base_free() would drop those callbacks without running them,
         * leaking the connection (bufferevent, SSL, buffers: issue 12 §4, seen
         * under ASan after load). So run the loop until nothing is active. */
        for (int n = 0; n < 64 && lp->base != NULL &&
                        event_base_get_num_events(lp->base, EVENT_BASE_COUNT_ACTIVE) > 0;
             n++)
            event_base_loop(lp->base, EVLOOP_NONBLOCK);
        if (lp->hb_ev != NULL)
            event_free(lp->hb_ev);
        lp->hb_ev = NULL;
        if (lp->stop_ev != NULL)
            event_free(lp->stop_ev);
        lp->stop_ev = NULL;
        if (lp->base != NULL)
            event_base_free(lp->base);
        lp->base = NULL;
    }
    s->running = false;
}

void srv_free(struct srv *s)
{
    if (s == NULL)
        return;
    srv_stop(s);
    for (int k = 0; k < s->nlst; k++) {
        close(s->lst[k].fd);
        conn_pool_free(s->lst[k].pool);
        for (size_t i = 0; i <= s->lst[k].cfg.n_routes; i++)
            pthread_mutex_destroy(&s->lst[k].stats[i].lock);
        free(s->lst[k].stats);
    }
    SSL_CTX_free(s->refuse_ctx);
    free(s);
}

/* ---- metrics ---- */

static void label_path(struct cairn_buf *b, const struct lst *l, size_t i)
{
    cairn_buf_appendf(b, "path=\"%s\"", i < l->cfg.n_routes ? l->cfg.routes[i].path : "other");
}

/* One path's counters. Routes may share a path (one entry per method: GET
 * and POST /api/v2/manifest), and a Prometheus family must not repeat a label
 * set, so the counters of every route of a path are summed under the first
 * route of that path (the fallback, "other", is its own). */
struct path_agg {
    struct code_slot *codes;   /* malloc'd; distinct (code, method) pairs */
    size_t n_codes;
    uint64_t dur_bucket[MI_N][N_DUR];
    uint64_t dur_count[MI_N];
    double dur_sum[MI_N];
    uint64_t size_bucket[N_SIZE];
    uint64_t size_count;
    double size_sum;
    long in_flight;
};

static size_t path_owner(const struct lst *l, size_t i)
{
    if (i >= l->cfg.n_routes)
        return i;
    for (size_t j = 0; j < i; j++)
        if (strcmp(l->cfg.routes[j].path, l->cfg.routes[i].path) == 0)
            return j;
    return i;
}

/* Sums the route counters into aggs[path_owner(i)]; returns 0 or CAIRN_ERR_NOMEM. */
static int path_aggs_collect(struct lst *l, struct path_agg *aggs)
{
    size_t n = l->cfg.n_routes + 1;
    for (size_t i = 0; i < n; i++) {
        struct path_agg *a = &aggs[path_owner(l, i)];
        if (a->codes == NULL && (a->codes = calloc(n * SRV_MAX_CODE_SLOTS, sizeof(*a->codes))) == NULL)
            return CAIRN_ERR_NOMEM;
        struct route_stats *st = &l->stats[i];
        pthread_mutex_lock(&st->lock);
        for (size_t c = 0; c < st->n_codes; c++) {
            size_t k = 0;
            while (k < a->n_codes && (a->codes[k].code != st->codes[c].code || a->codes[k].mi != st->codes[c].mi))
                k++;
            if (k == a->n_codes)
                a->codes[a->n_codes++] = (struct code_slot){st->codes[c].code, st->codes[c].mi, 0};
            a->codes[k].count += st->codes[c].count;
        }
        for (int mi = 0; mi < MI_N; mi++) {
            for (size_t bk = 0; bk < N_DUR; bk++)
                a->dur_bucket[mi][bk] += st->dur_bucket[mi][bk];
            a->dur_count[mi] += st->dur_count[mi];
            a->dur_sum[mi] += st->dur_sum[mi];
        }
        for (size_t bk = 0; bk < N_SIZE; bk++)
            a->size_bucket[bk] += st->size_bucket[bk];
        a->size_count += st->size_count;
        a->size_sum += st->size_sum;
        pthread_mutex_unlock(&st->lock);
        a->in_flight += atomic_load(&st->in_flight);
    }
    return 0;
}

static void path_aggs_free(struct path_agg *aggs, size_t n)
{
    for (size_t i = 0; aggs != NULL && i < n; i++)
        free(aggs[i].codes);
    free(aggs);
}

int srv_metrics_render(struct srv *s, struct cairn_buf *b)
{
    for (int k = 0; k < s->nlst; k++) {
        struct lst *l = &s->lst[k];
        if (!l->cfg.metrics)
            continue;
        const char *n = l->cfg.name;
        size_t np = l->cfg.n_routes + 1;
        struct path_agg *aggs = calloc(np, sizeof(*aggs));
        if (aggs == NULL || path_aggs_collect(l, aggs) != 0) {
            path_aggs_free(aggs, np);
            return CAIRN_ERR_NOMEM;
        }
        cairn_buf_appendf(b, "# HELP server_%s_api_http_request_total Total HTTP requests by path, code and method.\n"
                             "# TYPE server_%s_api_http_request_total counter\n", n, n);
        for (size_t i = 0; i < np; i++) {
            const struct path_agg *a = &aggs[i];
            if (path_owner(l, i) != i)
                continue;
            for (size_t c = 0; c < a->n_codes; c++) {
                cairn_buf_appendf(b, "server_%s_api_http_request_total{", n);
                label_path(b, l, i);
                cairn_buf_appendf(b, ",code=\"%d\",method=\"%s\"} %llu\n", a->codes[c].code,
                                  k_mi_names[a->codes[c].mi], (unsigned long long)a->codes[c].count);
            }
        }
        cairn_buf_appendf(b, "# HELP server_%s_api_http_request_duration_histogram_seconds Request latency.\n"
                             "# TYPE server_%s_api_http_request_duration_histogram_seconds histogram\n", n, n);
        for (size_t i = 0; i < np; i++) {
            const struct path_agg *a = &aggs[i];
            if (path_owner(l, i) != i)
                continue;
            for (int mi = 0; mi < MI_N; mi++) {
                if (a->dur_count[mi] == 0)
                    continue;
                for (size_t bk = 0; bk <= N_DUR; bk++) {
                    cairn_buf_appendf(b, "server_%s_api_http_request_duration_histogram_seconds_bucket{", n);
                    label_path(b, l, i);
                    if (bk < N_DUR)
                        cairn_buf_appendf(b, ",method=\"%s\",le=\"%g\"} %llu\n", k_mi_names[mi], k_dur_buckets[bk],
                                          (unsigned long long)a->dur_bucket[mi][bk]);
                    else
                        cairn_buf_appendf(b, ",method=\"%s\",le=\"+Inf\"} %llu\n", k_mi_names[mi],
                                          (unsigned long long)a->dur_count[mi]);
                }
                cairn_buf_appendf(b, "server_%s_api_http_request_duration_histogram_seconds_sum{", n);
                label_path(b, l, i);
                cairn_buf_appendf(b, ",method=\"%s\"} %.6f\n", k_mi_names[mi], a->dur_sum[mi]);
                cairn_buf_appendf(b, "server_%s_api_http_request_duration_histogram_seconds_count{", n);
                label_path(b, l, i);
                cairn_buf_appendf(b, ",method=\"%s\"} %llu\n", k_mi_names[mi], (unsigned long long)a->dur_count[mi]);
            }
        }
        cairn_buf_appendf(b, "# HELP server_%s_api_http_response_size_histogram_bytes Response sizes.\n"
                             "# TYPE server_%s_api_http_response_size_histogram_bytes histogram\n", n, n);
        for (size_t i = 0; i < np; i++) {
            const struct path_agg *a = &aggs[i];
            if (path_owner(l, i) != i || a->size_count == 0)
                continue;
            for (size_t bk = 0; bk <= N_SIZE; bk++) {
                cairn_buf_appendf(b, "server_%s_api_http_response_size_histogram_bytes_bucket{", n);
                label_path(b, l, i);
                if (bk < N_SIZE)
                    cairn_buf_appendf(b, ",le=\"%g\"} %llu\n", k_size_buckets[bk],
                                      (unsigned long long)a->size_bucket[bk]);
                else
                    cairn_buf_appendf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)a->size_count);
            }
            cairn_buf_appendf(b, "server_%s_api_http_response_size_histogram_bytes_sum{", n);
            label_path(b, l, i);
            cairn_buf_appendf(b, "} %.0f\n", a->size_sum);
            cairn_buf_appendf(b, "server_%s_api_http_response_size_histogram_bytes_count{", n);
            label_path(b, l, i);
            cairn_buf_appendf(b, "} %llu\n", (unsigned long long)a->size_count);
        }
        cairn_buf_appendf(b, "# HELP server_%s_api_http_in_flight_requests Requests being served.\n"
                             "# TYPE server_%s_api_http_in_flight_requests gauge\n", n, n);
        for (size_t i = 0; i < np; i++) {
            if (path_owner(l, i) != i)
                continue;
            cairn_buf_appendf(b, "server_%s_api_http_in_flight_requests{", n);
            label_path(b, l, i);
            cairn_buf_appendf(b, "} %ld\n", aggs[i].in_flight);
        }
        path_aggs_free(aggs, np);
        if (l->pool != NULL) {
            struct conn_stats cs;
            conn_pool_stats(l->pool, &cs);
            cairn_buf_appendf(b, "# HELP cairn_%s_connections_open Open TLS connections.\n"
                                 "# TYPE cairn_%s_connections_open gauge\n"
                                 "cairn_%s_connections_open %llu\n", n, n, n, (unsigned long long)cs.open);
            cairn_buf_appendf(b, "# HELP cairn_%s_connections_total TLS connections by outcome: admitted, refused "
                                 "(per-address limits; all open connections active), shed to make room, closed by "
                                 "a handshake or request deadline.\n"
                                 "# TYPE cairn_%s_connections_total counter\n", n, n);
            const struct { const char *k; uint64_t v; } o[] = {
                {"admitted", cs.admitted}, {"refused_address", cs.refused_addr}, {"refused_full", cs.refused_full},
                {"shed", cs.shed}, {"deadline", cs.deadline}};
            for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++)
                cairn_buf_appendf(b, "cairn_%s_connections_total{outcome=\"%s\"} %llu\n", n, o[i].k,
                                  (unsigned long long)o[i].v);
        }
    }
    return b->failed ? CAIRN_ERR_TOO_LARGE : 0;
}
