/* gRPC over HTTP/2 with nghttp2 on a connection taken over from evhttp (h2.h). */
#include "server/h2.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>

#include "common/log.h"
#include "rpc/grpc_wire.h"

#define H2_MAX_STREAMS 16           /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define H2_MAX_HEADER_FIELDS 64     /* per request header list */
#define H2_OUT_HIGH (256 * 1024)    /* stop reading above this much unsent output */
#define H2_RESET_BURST 100          /* client RST_STREAMs: token bucket ... */
#define H2_RESET_PER_S 10           /* ... refilled at this rate */

struct h2_stream {
    int32_t id;
    struct h2_stream *next;
    const struct srv_grpc_method *m;
    size_t hdr_bytes;
    unsigned n_hdrs;
    bool is_post, grpc_ct, have_path;
    bool checked;           /* check_headers ran */
    bool plain;             /* not gRPC: cfg.plain answers it */
    char method[16];
    char *path, *ctype;     /* copies for cfg.plain (bounded) */
    char status3[4];
    struct timespec start;  /* first header: request duration metric */
    bool req_done;          /* END_STREAM received */
    bool responded;         /* a response was submitted */
    uint8_t prefix[GRPC_PREFIX_LEN];
    size_t prefix_got;
    bool have_len;
    uint8_t *msg;
    size_t msg_len, msg_got, cap;
    uint8_t *resp;          /* framed response message (secrets: wiped) */
    size_t resp_len, resp_off;
    char status_s[12];
};

struct srv_h2 {
    struct srv_h2_cfg cfg;
    struct bufferevent *bev;
    void *evcon;              /* evhttp's connection (its callback argument) */
    nghttp2_session *ng;
    struct event *deadline;
    struct h2_stream *streams;
    size_t buffered;          /* message bytes held by open streams */
    double reset_tokens;
    struct timespec reset_t;
    bool ended;               /* evhttp_connection_free was called */
    bool closing;             /* GOAWAY queued: end once the output is flushed */
};

static void log_hostile(const char *name, const char *what)
{
    static _Atomic time_t last;
    time_t now = time(NULL), prev = atomic_load(&last);
    if (now - prev >= 5 && atomic_compare_exchange_strong(&last, &prev, now))
        LOG_WARN("%s API (HTTP/2): %s; closing the connection", name, what);
}

static struct h2_stream *stream_get(struct srv_h2 *h, int32_t id)
{
    return nghttp2_session_get_stream_user_data(h->ng, id);
}

static void stream_free(struct srv_h2 *h, struct h2_stream *st)
{
    for (struct h2_stream **p = &h->streams; *p != NULL; p = &(*p)->next) {
        if (*p == st) {
            *p = st->next;
            break;
        }
    }
    if (st->msg != NULL) {
        h->buffered -= st->cap;
        OPENSSL_cleanse(st->msg, st->cap);
        free(st->msg);
    }
    grpc_free_secret(st->resp, st->resp_len);
    free(st->path);
    free(st->ctype);
    free(st);
}

/* The connection goes back to evhttp, which frees it (bufferevent, SSL,
 * socket; then srv_h2_free through the SSL's ex_data). Nothing of `h` may be
 * used by the caller afterwards except reading h->ended. */
static void h2_end(struct srv_h2 *h)
{
    if (h->ended)
        return;
    h->ended = true;
    event_del(h->deadline);
    bufferevent_setcb(h->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(h->bev, EV_READ | EV_WRITE);
    evhttp_connection_free(h->evcon);
}

/* Moves nghttp2's pending frames into the bufferevent, up to H2_OUT_HIGH
 * unsent bytes (the rest waits for the write callback). */
static int h2_flush(struct srv_h2 *h)
{
    struct evbuffer *out = bufferevent_get_output(h->bev);
    while (evbuffer_get_length(out) < H2_OUT_HIGH) {
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(h->ng, &d);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        if (bufferevent_write(h->bev, d, (size_t)n) != 0)
            return -1;
    }
    /* backpressure: a peer that does not read our frames (e.g. the ACKs of a
     * PING/SETTINGS flood) is not read either */
    if (evbuffer_get_length(out) >= H2_OUT_HIGH)
        bufferevent_disable(h->bev, EV_READ);
    else if (!h->closing)
        bufferevent_enable(h->bev, EV_READ);
    return 0;
}

/* After every read, write or callback burst: flush, and end the session when
 * nghttp2 is done with it and everything has been written. */
static void h2_settle(struct srv_h2 *h)
{
    if (h->ended)
        return;
    if (h2_flush(h) != 0) {
        h2_end(h);
        return;
    }
    bool done = !nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng);
    if ((done || h->closing) && evbuffer_get_length(bufferevent_get_output(h->bev)) == 0 &&
        !nghttp2_session_want_write(h->ng))
        h2_end(h);
}

static void h2_goaway(struct srv_h2 *h, uint32_t code, const char *why)
{
    log_hostile(h->cfg.name, why);
    nghttp2_session_terminate_session(h->ng, code);
    h->closing = true;
    bufferevent_disable(h->bev, EV_READ);
    /* the flush must not wait for ever on a peer that does not read */
    struct timeval tv = {1, 0};
    event_add(h->deadline, &tv);
}

static void arm_deadline(struct srv_h2 *h)
{
    struct timeval tv = {.tv_sec = 3 * h->cfg.timeout_s};
    event_add(h->deadline, &tv);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct srv_h2 *h = arg;
    if (!h->closing)
        log_hostile(h->cfg.name, "no response completed within the connection deadline");
    h2_end(h);
}

/* ---- responses ---- */

static void submit_trailers_only(struct srv_h2 *h, struct h2_stream *st, int status, const char *msg)
{
    if (st->responded)
        return;
    st->responded = true;
    char *enc = grpc_message_encode(msg != NULL ? msg : "");
    snprintf(st->status_s, sizeof(st->status_s), "%d", status);
    nghttp2_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-status", (uint8_t *)st->status_s, 11, strlen(st->status_s), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-message", (uint8_t *)(enc != NULL ? enc : "error"), 12, enc != NULL ? strlen(enc) : 5,
         NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_submit_response(h->ng, st->id, nv, msg != NULL && msg[0] != '\0' ? 4 : 3, NULL);
    free(enc);
}

/* A request that is not gRPC at all gets a plain HTTP status. */
static void submit_http_status(struct srv_h2 *h, struct h2_stream *st, const char *code)
{
    if (st->responded)
        return;
    st->responded = true;
    nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)code, 7, strlen(code), NGHTTP2_NV_FLAG_NONE}};
    nghttp2_submit_response(h->ng, st->id, nv, 1, NULL);
}

static ssize_t resp_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)ud;
    struct h2_stream *st = src->ptr;
    size_t n = st->resp_len - st->resp_off;
    if (n > length)
        n = length;
    memcpy(buf, st->resp + st->resp_off, n);
    st->resp_off += n;
    if (st->resp_off == st->resp_len && st->plain) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    } else if (st->resp_off == st->resp_len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        static const nghttp2_nv ok[] = {{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, NGHTTP2_NV_FLAG_NONE}};
        if (nghttp2_submit_trailer(ng, id, ok, 1) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

static void run_call(struct srv_h2 *h, struct h2_stream *st)
{
    X509 *peer = NULL;
    SSL *ssl = bufferevent_openssl_get_ssl(h->bev);
    if (ssl != NULL)
        peer = SSL_get0_peer_certificate(ssl);
    struct srv_grpc_reply r = {.status = GRPC_INTERNAL};
    char addr[64];
    srv_fd_peer_addr(bufferevent_getfd(h->bev), addr, sizeof(addr));
    st->m->fn(st->msg, st->msg_len, peer, addr, h->cfg.ctx, &r);
    if (r.status != GRPC_OK || r.body == NULL) {
        grpc_free_secret(r.body, r.len);
        submit_trailers_only(h, st, r.status != GRPC_OK ? r.status : GRPC_INTERNAL,
                             r.status != GRPC_OK ? r.message : "internal error: no response message");
        return;
    }
    st->responded = true;
    st->resp = r.body;
    st->resp_len = r.len;
    static const nghttp2_nv hdr[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = resp_read};
    if (nghttp2_submit_response(h->ng, st->id, hdr, 2, &prd) != 0)
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
}

static void run_plain(struct srv_h2 *h, struct h2_stream *st)
{
    X509 *peer = NULL;
    SSL *ssl = bufferevent_openssl_get_ssl(h->bev);
    if (ssl != NULL)
        peer = SSL_get0_peer_certificate(ssl);
    struct srv_h2_plain_reply r = {.status = 500};
    char addr[64];
    srv_fd_peer_addr(bufferevent_getfd(h->bev), addr, sizeof(addr));
    h->cfg.plain(st->method, st->path != NULL ? st->path : "/", st->ctype != NULL ? st->ctype : "", st->msg,
                 st->msg_got, peer, addr, h->cfg.ctx, &r);
    st->responded = true;
    st->resp = (uint8_t *)r.body;
    st->resp_len = r.len;
    snprintf(st->status3, sizeof(st->status3), "%03d", r.status >= 100 && r.status <= 999 ? r.status : 500);
    nghttp2_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)st->status3, 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)(r.content_type != NULL ? r.content_type : "text/plain"), 12,
         strlen(r.content_type != NULL ? r.content_type : "text/plain"), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"x-content-type-options", (uint8_t *)"nosniff", 22, 7, NGHTTP2_NV_FLAG_NONE},
    };
    if (h->cfg.record != NULL)
        h->cfg.record(h->cfg.record_arg, st->path != NULL ? st->path : "/", st->method, &st->start, r.status, r.len);
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = resp_read};
    if (nghttp2_submit_response(h->ng, st->id, nv, 3, r.len > 0 ? &prd : NULL) != 0)
        nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
}

/* The request headers are complete: refuse early what cannot be a call. */
static void check_headers(struct srv_h2 *h, struct h2_stream *st)
{
    if (st->checked)
        return;
    st->checked = true;
    if (!st->grpc_ct && h->cfg.plain != NULL) {
        st->plain = true;   /* e.g. JSON over HTTP/2: the listener's plain handler */
    } else if (!st->is_post) {
        submit_http_status(h, st, "405");
    } else if (!st->grpc_ct) {
        submit_http_status(h, st, "415");   /* gRPC over HTTP/2: not application/grpc */
    } else if (st->m == NULL) {
        submit_trailers_only(h, st, GRPC_UNIMPLEMENTED, "unknown method (this server serves /rpc.Marble/Activate)");
    }
}

/* END_STREAM: the whole request is here. */
static void finish_request(struct srv_h2 *h, struct h2_stream *st)
{
    st->req_done = true;
    if (st->responded)
        return;
    check_headers(h, st);
    if (st->responded)
        return;
    if (st->plain)
        run_plain(h, st);
    else if (!st->have_len || st->msg_got < st->msg_len)
        submit_trailers_only(h, st, GRPC_INVALID_ARGUMENT,
                             "malformed request: the stream ended before one complete gRPC message");
    else
        run_call(h, st);
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    struct srv_h2 *h = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct h2_stream *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    st->id = f->hd.stream_id;
    clock_gettime(CLOCK_MONOTONIC, &st->start);
    st->next = h->streams;
    h->streams = st;
    nghttp2_session_set_stream_user_data(ng, st->id, st);
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)ng;
    (void)flags;
    struct srv_h2 *h = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;   /* trailers of a request: ignored (still bounded by nghttp2) */
    struct h2_stream *st = stream_get(h, f->hd.stream_id);
    if (st == NULL)
        return 0;
    /* the HPACK size accounting of SETTINGS_MAX_HEADER_LIST_SIZE */
    st->hdr_bytes += namelen + valuelen + 32;
    if (++st->n_hdrs > H2_MAX_HEADER_FIELDS || st->hdr_bytes > h->cfg.max_headers)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;   /* RST_STREAM; counted as a reset below */
    if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
        st->have_path = true;
        free(st->path);
        st->path = valuelen <= 2048 ? strndup((const char *)value, valuelen) : NULL;
        for (size_t i = 0; i < h->cfg.n_methods; i++) {
            const char *p = h->cfg.methods[i].path;
            if (strlen(p) == valuelen && memcmp(p, value, valuelen) == 0)
                st->m = &h->cfg.methods[i];
        }
    } else if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
        st->is_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
        snprintf(st->method, sizeof(st->method), "%.*s", valuelen < sizeof(st->method) ? (int)valuelen : 5,
                 valuelen < sizeof(st->method) ? (const char *)value : "OTHER");
    } else if (namelen == 12 && memcmp(name, "content-type", 12) == 0) {
        free(st->ctype);
        st->ctype = valuelen <= 256 ? strndup((const char *)value, valuelen) : NULL;
        /* application/grpc, application/grpc+proto, application/grpc;... */
        st->grpc_ct = valuelen >= 16 && strncasecmp((const char *)value, "application/grpc", 16) == 0 &&
                      (valuelen == 16 || value[16] == '+' || value[16] == ';');
    }
    return 0;
}

/* A client stream reset costs a token; the bucket refills at H2_RESET_PER_S.
 * Opening and cancelling streams in a loop (rapid reset) empties it. */
static bool spend_reset(struct srv_h2 *h)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - h->reset_t.tv_sec) + (double)(now.tv_nsec - h->reset_t.tv_nsec) / 1e9;
    h->reset_t = now;
    h->reset_tokens += dt * H2_RESET_PER_S;
    if (h->reset_tokens > H2_RESET_BURST)
        h->reset_tokens = H2_RESET_BURST;
    h->reset_tokens -= 1;
    return h->reset_tokens >= 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    (void)ng;
    struct srv_h2 *h = ud;
    if (h->closing)
        return 0;
    if (f->hd.type == NGHTTP2_RST_STREAM) {
        if (!spend_reset(h))
            h2_goaway(h, NGHTTP2_ENHANCE_YOUR_CALM, "too many stream resets (rapid reset, CVE-2023-44487)");
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    struct h2_stream *st = stream_get(h, f->hd.stream_id);
    if (st == NULL)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST &&
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        check_headers(h, st);
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        finish_request(h, st);
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)ng;
    (void)flags;
    struct srv_h2 *h = ud;
    struct h2_stream *st = stream_get(h, id);
    if (st == NULL || st->responded)
        return 0;   /* refused already: the rest is discarded (flow control still credited) */
    if (st->plain) {
        /* a plain body: grown as it comes, within the same caps */
        size_t need = st->msg_got + len;
        if (need > h->cfg.max_msg || h->buffered - st->cap + need > h->cfg.max_msg) {
            static const char msg[] = "{\"status\":\"fail\",\"data\":null,\"message\":\"request body too large\"}";
            st->responded = true;
            st->plain = true;
            snprintf(st->status3, sizeof(st->status3), "413");
            st->resp = (uint8_t *)strdup(msg);
            st->resp_len = st->resp != NULL ? strlen(msg) : 0;
            nghttp2_nv nv[] = {
                {(uint8_t *)":status", (uint8_t *)st->status3, 7, 3, NGHTTP2_NV_FLAG_NONE},
                {(uint8_t *)"content-type", (uint8_t *)"application/json", 12, 16, NGHTTP2_NV_FLAG_NONE},
            };
            nghttp2_data_provider prd = {.source.ptr = st, .read_callback = resp_read};
            nghttp2_submit_response(h->ng, id, nv, 2, st->resp_len > 0 ? &prd : NULL);
            return 0;
        }
        if (need > st->cap) {
            size_t ncap = st->cap * 2 > need ? st->cap * 2 : need;
            if (ncap > h->cfg.max_msg)
                ncap = h->cfg.max_msg;
            uint8_t *m = malloc(ncap);
            if (m == NULL)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            if (st->msg != NULL) {
                memcpy(m, st->msg, st->msg_got);
                OPENSSL_cleanse(st->msg, st->cap);
                free(st->msg);
            }
            h->buffered += ncap - st->cap;
            st->msg = m;
            st->cap = ncap;
        }
        memcpy(st->msg + st->msg_got, data, len);
        st->msg_got += len;
        return 0;
    }
    while (len > 0) {
        if (!st->have_len) {
            size_t n = GRPC_PREFIX_LEN - st->prefix_got;
            if (n > len)
                n = len;
            memcpy(st->prefix + st->prefix_got, data, n);
            st->prefix_got += n;
            data += n;
            len -= n;
            if (st->prefix_got < GRPC_PREFIX_LEN)
                return 0;
            size_t cap = st->m != NULL && st->m->max_msg != 0 ? st->m->max_msg : h->cfg.max_msg;
            struct cairn_error e = {0};
            int rc = grpc_prefix_parse(st->prefix, cap, &st->msg_len, &e);
            if (rc == 0 && h->buffered + st->msg_len > h->cfg.max_msg) {
                rc = CAIRN_ERR_TOO_LARGE;
                cairn_errf(&e, rc, "gRPC messages buffered on this connection would exceed %zu bytes",
                           h->cfg.max_msg);
            }
            if (rc != 0) {
                submit_trailers_only(h, st,
                                     rc == CAIRN_ERR_TOO_LARGE ? GRPC_RESOURCE_EXHAUSTED
                                     : rc == CAIRN_ERR_UNSUPPORTED ? GRPC_UNIMPLEMENTED
                                                                   : GRPC_INVALID_ARGUMENT,
                                     cairn_error_msg(&e));
                return 0;
            }
            st->have_len = true;
            if (st->msg_len > 0) {
                if ((st->msg = malloc(st->msg_len)) == NULL) {
                    submit_trailers_only(h, st, GRPC_RESOURCE_EXHAUSTED, "out of memory");
                    return 0;
                }
                st->cap = st->msg_len;
                h->buffered += st->cap;
            }
            continue;
        }
        size_t room = st->msg_len - st->msg_got;
        if (room == 0) {
            submit_trailers_only(h, st, GRPC_INVALID_ARGUMENT,
                                 "malformed request: more than one gRPC message for a unary method");
            return 0;
        }
        size_t n = len < room ? len : room;
        memcpy(st->msg + st->msg_got, data, n);
        st->msg_got += n;
        data += n;
        len -= n;
    }
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    struct srv_h2 *h = ud;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct h2_stream *st = stream_get(h, f->hd.stream_id);
    /* a response completed: the connection made progress */
    if (!h->closing)
        arm_deadline(h);
    /* refused before the client finished sending: tell it to stop (RFC 9113 8.1) */
    if (st != NULL && !st->req_done && !st->plain)
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    struct srv_h2 *h = ud;
    struct h2_stream *st = stream_get(h, id);
    if (st != NULL) {
        nghttp2_session_set_stream_user_data(ng, id, NULL);
        stream_free(h, st);
    }
    return 0;
}

/* ---- bufferevent callbacks ---- */

static void h2_read_cb(struct bufferevent *bev, void *arg)
{
    struct srv_h2 *h = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (!h->ended && !h->closing && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        ssize_t n = nghttp2_session_mem_recv(h->ng, v.iov_base, v.iov_len);
        if (n < 0) {
            /* protocol error or flood: nghttp2 has queued a GOAWAY when it could */
            char why[128];
            snprintf(why, sizeof(why), "HTTP/2 error: %s", nghttp2_strerror((int)n));
            log_hostile(h->cfg.name, why);
            evbuffer_drain(in, evbuffer_get_length(in));
            h->closing = true;
            bufferevent_disable(bev, EV_READ);
            struct timeval tv = {1, 0};
            event_add(h->deadline, &tv);
            break;
        }
        evbuffer_drain(in, (size_t)n);
        if (h->closing)
            evbuffer_drain(in, evbuffer_get_length(in));
    }
    h2_settle(h);
}

static void h2_write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    h2_settle(arg);
}

static void h2_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct srv_h2 *h = arg;
    if (what & BEV_EVENT_CONNECTED) {
        /* handshake finished. Our SETTINGS (the server preface) go out with
         * the answer to the client's preface, which every client sends first:
         * one TLS record and one write instead of two for a one-call
         * connection (a marble's activation) */
        if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
            h2_read_cb(bev, h);
        return;
    }
    /* EOF, error or idle timeout */
    h2_end(h);
}

/* ---- setup ---- */

static nghttp2_session_callbacks *g_cbs;
static nghttp2_option *g_opt;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void h2_init_once(void)
{
    if (nghttp2_session_callbacks_new(&g_cbs) != 0 || nghttp2_option_new(&g_opt) != 0)
        return;
    nghttp2_session_callbacks_set_on_begin_headers_callback(g_cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(g_cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(g_cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g_cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(g_cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(g_cbs, on_stream_close);
    /* flood limits: queued SETTINGS/PING ACKs, SETTINGS entries, CONTINUATION
     * frames per header block; nghttp2's own reset limiter as a backstop
     * behind ours (spend_reset) */
    nghttp2_option_set_max_outbound_ack(g_opt, 1000);
    nghttp2_option_set_max_settings(g_opt, 32);
    nghttp2_option_set_max_continuations(g_opt, 8);
    nghttp2_option_set_stream_reset_rate_limit(g_opt, 2 * H2_RESET_BURST, 2 * H2_RESET_PER_S);
    nghttp2_option_set_max_deflate_dynamic_table_size(g_opt, 4096);
}

struct srv_h2 *srv_h2_start(struct bufferevent *bev, const struct srv_h2_cfg *cfg)
{
    pthread_once(&g_once, h2_init_once);
    if (g_cbs == NULL || g_opt == NULL)
        return NULL;
    struct srv_h2 *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->cfg = *cfg;
    h->bev = bev;
    h->reset_tokens = H2_RESET_BURST;
    clock_gettime(CLOCK_MONOTONIC, &h->reset_t);
    bufferevent_getcb(bev, NULL, NULL, NULL, &h->evcon);
    h->deadline = evtimer_new(bufferevent_get_base(bev), deadline_cb, h);
    if (h->evcon == NULL || h->deadline == NULL || nghttp2_session_server_new2(&h->ng, g_cbs, h, g_opt) != 0) {
        if (h->deadline != NULL)
            event_free(h->deadline);
        free(h);
        return NULL;
    }
    const nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)cfg->max_headers},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    bufferevent_setcb(bev, h2_read_cb, h2_write_cb, h2_event_cb, h);
    /* idle connections: no byte for timeout_s */
    struct timeval to = {.tv_sec = cfg->timeout_s};
    bufferevent_set_timeouts(bev, &to, &to);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    arm_deadline(h);
    return h;
}

void srv_h2_free(struct srv_h2 *h)
{
    if (h == NULL)
        return;
    if (h->deadline != NULL)
        event_free(h->deadline);
    nghttp2_session_del(h->ng);
    while (h->streams != NULL)
        stream_free(h, h->streams);
    free(h);
}
