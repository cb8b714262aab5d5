/* etcd v3 transport (libcurl): native gRPC for Range and Txn, the JSON
 * gateway for the rest (etcd.h). Parsing is in etcd_parse.c (gateway) and
 * etcd_parse_pb.c (gRPC). */
#include "store/etcd.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/encoding.h"
#include "etcd_kv.pb-c.h"
#include "rpc/grpc_wire.h"

#define POOL_MAX 32

/* A curl handle and, for gRPC over plain http://, the endpoints (bit =
 * index) to which it holds an HTTP/2 connection that answered (see
 * grpc_version). */
struct handle {
    CURL *h;
    uint32_t h2c_live;
};

struct etcd {
    char *ep[ETCD_MAX_ENDPOINTS];   /* "http://host:port" */
    size_t n_ep;
    atomic_size_t cur;              /* index of the endpoint requests go to first */
    char *ca, *cert, *key;
    long timeout_ms;
    enum etcd_wire wire;
    struct curl_slist *grpc_hdrs;   /* request headers of every gRPC call (read-only once built) */
    pthread_mutex_t lock;           /* the handle pools */
    struct handle pool[POOL_MAX];   /* gateway (HTTP/1.1) handles */
    size_t n_pool;
    struct handle gpool[POOL_MAX];  /* gRPC (HTTP/2) handles: a handle keeps its connections */
    size_t n_gpool;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void etcd_free(struct etcd *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_ep; i++)
        free(e->ep[i]);
    for (size_t i = 0; i < e->n_pool; i++)
        curl_easy_cleanup(e->pool[i].h);
    for (size_t i = 0; i < e->n_gpool; i++)
        curl_easy_cleanup(e->gpool[i].h);
    curl_slist_free_all(e->grpc_hdrs);
    free(e->ca);
    free(e->cert);
    free(e->key);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static char *dup_or_null(const char *s)
{
    return s != NULL && *s != '\0' ? strdup(s) : NULL;
}

int etcd_new(const struct etcd_config *cfg, struct etcd **out, struct cairn_error *err)
{
    pthread_once(&g_curl_once, curl_init_once);
    if (cfg->endpoints == NULL || *cfg->endpoints == '\0')
        return cairn_errf(err, CAIRN_ERR_INVALID, "etcd: no endpoints");
    struct etcd *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&e->lock, NULL);
    e->wire = cfg->wire;
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/grpc");
    struct curl_slist *h2 = hl != NULL ? curl_slist_append(hl, "TE: trailers") : NULL;
    struct curl_slist *h3 = h2 != NULL ? curl_slist_append(h2, "Expect:") : NULL;
    if (h3 == NULL) {
        curl_slist_free_all(hl);
        etcd_free(e);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    e->grpc_hdrs = h3;
    e->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
    e->ca = dup_or_null(cfg->ca_file);
    e->cert = dup_or_null(cfg->cert_file);
    e->key = dup_or_null(cfg->key_file);
    if ((e->cert == NULL) != (e->key == NULL)) {
        etcd_free(e);
        return cairn_errf(err, CAIRN_ERR_INVALID, "etcd: a client certificate needs its key and the other way round");
    }
    const char *defscheme = e->ca != NULL ? "https://" : "http://";
    const char *p = cfg->endpoints;
    while (*p != '\0') {
        const char *c = strchr(p, ',');
        size_t n = c != NULL ? (size_t)(c - p) : strlen(p);
        if (n == 0 || n > 256 || e->n_ep == ETCD_MAX_ENDPOINTS) {
            etcd_free(e);
            return cairn_errf(err, CAIRN_ERR_INVALID, "etcd: endpoints: empty, too long or more than %d entries",
                              ETCD_MAX_ENDPOINTS);
        }
        bool has_scheme = (n > 7 && strncmp(p, "http://", 7) == 0) || (n > 8 && strncmp(p, "https://", 8) == 0);
        char buf[300];
        snprintf(buf, sizeof(buf), "%s%.*s", has_scheme ? "" : defscheme, (int)n, p);
        size_t bl = strlen(buf);
        while (bl > 0 && buf[bl - 1] == '/')
            buf[--bl] = 0;
        const char *hp = strstr(buf, "://") + 3;
        if (strchr(hp, '/') != NULL || strchr(hp, ':') == NULL || strpbrk(hp, " \t\r\n?#@") != NULL) {
            etcd_free(e);
            return cairn_errf(err, CAIRN_ERR_INVALID, "etcd: endpoint \"%.*s\": expected host:port", (int)n, p);
        }
        if ((e->ep[e->n_ep++] = strdup(buf)) == NULL) {
            etcd_free(e);
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        }
        p += n;
        if (*p == ',')
            p++;
    }
    *out = e;
    return 0;
}

const char *etcd_endpoint(struct etcd *e)
{
    return e->ep[atomic_load(&e->cur) % e->n_ep];
}

const char *etcd_wire_name(const struct etcd *e)
{
    return e->wire == ETCD_WIRE_GATEWAY ? "gateway" : "grpc";
}

static struct handle handle_get(struct etcd *e, bool grpc)
{
    struct handle h = {0};
    struct handle *pool = grpc ? e->gpool : e->pool;
    size_t *n = grpc ? &e->n_gpool : &e->n_pool;
    pthread_mutex_lock(&e->lock);
    if (*n > 0)
        h = pool[--*n];
    pthread_mutex_unlock(&e->lock);
    if (h.h == NULL)
        h.h = curl_easy_init();
    return h;
}

static void handle_put(struct etcd *e, struct handle h, bool grpc)
{
    struct handle *pool = grpc ? e->gpool : e->pool;
    size_t *n = grpc ? &e->n_gpool : &e->n_pool;
    pthread_mutex_lock(&e->lock);
    if (*n < POOL_MAX) {
        pool[(*n)++] = h;
        h.h = NULL;
    }
    pthread_mutex_unlock(&e->lock);
    if (h.h != NULL)
        curl_easy_cleanup(h.h);
}

static size_t on_data(char *p, size_t sz, size_t nm, void *arg)
{
    struct cairn_buf *b = arg;
    return cairn_buf_append(b, p, sz * nm) == 0 ? sz * nm : 0;   /* 0 aborts: over the cap */
}

/* curl_easy_reset keeps the handle's live connections: they are reused */
static void setup(struct etcd *e, CURL *h, const char *url, const void *body, size_t body_len, long timeout_ms)
{
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 500 ? timeout_ms : 500L);
    if (timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (e->ca != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, e->ca);
    if (e->cert != NULL) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, e->cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, e->key);
    }
}

/* What to add to a transport error on endpoint `idx`: a member with
 * --client-cert-auth ends the TLS handshake of a client without a
 * certificate, which libcurl reports as a broken connection. */
static const char *tls_hint(const struct etcd *e, size_t idx)
{
    return strncmp(e->ep[idx], "https://", 8) == 0 && e->cert == NULL
               ? " (no client certificate was offered: an etcd with --client-cert-auth needs --etcd-cert and "
                 "--etcd-key)"
               : "";
}

/* Request failed before anything reached etcd: safe to try the next endpoint. */
static bool not_sent(CURLcode c)
{
    return c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_SSL_CONNECT_ERROR;
}

/* Error bodies: {"error":"...","message":"...","code":N} (gRPC code). */
static int gateway_error(long status, const struct cairn_buf *b, const char *what, struct cairn_error *err)
{
    char msg[200] = "";
    json_t *j = b->len > 0 ? json_loadb((const char *)b->data, b->len < 65536 ? b->len : 65536, 0, NULL) : NULL;
    const json_t *m = json_is_object(j) ? json_object_get(j, "message") : NULL;
    if (!json_is_string(m) && json_is_object(j))
        m = json_object_get(j, "error");
    json_int_t code = json_is_object(j) ? json_integer_value(json_object_get(j, "code")) : 0;
    if (json_is_string(m))
        snprintf(msg, sizeof(msg), "%s", json_string_value(m));
    json_decref(j);
    for (char *q = msg; *q; q++)
        if ((unsigned char)*q < 0x20)
            *q = '?';
    /* gRPC 14 unavailable, 4 deadline exceeded (no leader, no quorum) */
    int rc = (status >= 500 || code == 14 || code == 4) ? CAIRN_ERR_NETWORK : CAIRN_ERR_PROTOCOL;
    return cairn_errf(err, rc, "etcd %s: HTTP %ld: %s", what, status, msg[0] ? msg : "error");
}

/* gRPC status trailers (or headers, for an answer without a body):
 * libcurl hands both to the header callback. Values are bounded. */
struct grpc_status_hdr {
    int status;            /* -1: none seen */
    char message[200];
};

static size_t on_grpc_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct grpc_status_hdr *g = arg;
    grpc_status_line(ptr, size * nmemb, &g->status, g->message, sizeof(g->message));
    return size * nmemb;
}

/* One request: a gateway POST (JSON body to path) or a gRPC call (the
 * framed message to the method's path). */
struct etcd_req {
    const char *path;        /* "/v3/kv/range" or "/etcdserverpb.KV/Range" */
    const void *body;
    size_t len;
    bool grpc;
    bool idempotent;         /* a read: an unavailable member is skipped for the next */
};

/* A gRPC call's answer: HTTP 200, grpc-status 0 and exactly one
 * uncompressed message; *out is left holding only that message. */
static int grpc_answer(const struct etcd_req *q, long status, const struct grpc_status_hdr *g, struct cairn_buf *out,
                       struct cairn_error *err)
{
    if (g->status > 0) {
        /* gRPC 14 unavailable, 4 deadline exceeded: no leader, no quorum,
         * request timed out */
        bool net = g->status == GRPC_UNAVAILABLE || g->status == GRPC_DEADLINE_EXCEEDED;
        return cairn_errf(err, net ? CAIRN_ERR_NETWORK : CAIRN_ERR_PROTOCOL, "etcd %s: %s: %s", q->path,
                          grpc_status_name(g->status), g->message[0] ? g->message : "error");
    }
    if (g->status < 0 && status != 200)   /* an HTTP error without gRPC status: a proxy's, or etcd's */
        return cairn_errf(err, status >= 500 ? CAIRN_ERR_NETWORK : CAIRN_ERR_PROTOCOL, "etcd %s: HTTP %ld", q->path,
                          status);
    if (status != 200 || g->status < 0)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd %s: HTTP %ld without grpc-status", q->path, status);
    size_t len = 0;
    if (out->len < GRPC_PREFIX_LEN)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd %s: answer without a gRPC message", q->path);
    int rc = grpc_prefix_parse(out->data, ETCD_MAX_RESPONSE, &len, err);
    if (rc != 0)
        return rc;
    if (len != out->len - GRPC_PREFIX_LEN)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd %s: gRPC message of %zu bytes in an answer of %zu", q->path,
                          len, out->len - GRPC_PREFIX_LEN);
    memmove(out->data, out->data + GRPC_PREFIX_LEN, len);
    out->len = len;
    return 0;
}

/* The HTTP version of a gRPC call to endpoint `idx`. https://: ALPN h2.
 * http:// (h2c): libcurl 7.88.1 (Debian 12) does not send a request with
 * "prior knowledge" on a connection it reuses ("Error in the HTTP2 framing
 * layer", nothing sent), so prior knowledge goes only on a fresh connection,
 * and a handle that already holds an answering connection to `idx` asks for
 * plain HTTP/2, which reuses it. */
static long grpc_version(const struct etcd *e, const struct handle *h, size_t idx, bool *fresh)
{
    *fresh = false;
    if (strncmp(e->ep[idx], "https://", 8) == 0)
        return CURL_HTTP_VERSION_2TLS;
    if (h->h2c_live & (1u << idx))
        return CURL_HTTP_VERSION_2_0;
    *fresh = true;
    return CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
}

/* Sends `q`; on success the answer (gateway: the JSON body; gRPC: the one
 * message without its prefix) is in *out (caller frees). */
static int call(struct etcd *e, const struct etcd_req *q, struct cairn_buf *out, struct cairn_error *err)
{
    struct handle hd = handle_get(e, q->grpc);
    CURL *h = hd.h;
    if (h == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    size_t start = atomic_load(&e->cur);
    int rc = CAIRN_ERR_NETWORK;
    char curl_msg[CURL_ERROR_SIZE] = "";
    bool again = false;   /* the same endpoint once more: see below */
    for (size_t i = 0; i < e->n_ep; i += again ? 0 : 1) {
        again = false;
        size_t idx = (start + i) % e->n_ep;
        char url[400];
        snprintf(url, sizeof(url), "%s%s", e->ep[idx], q->path);
        cairn_buf_init(out, ETCD_MAX_RESPONSE + (q->grpc ? GRPC_PREFIX_LEN : 0));
        setup(e, h, url, q->body, q->len, e->timeout_ms);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_msg);
        struct grpc_status_hdr g = {.status = -1};
        long want = 0;
        if (q->grpc) {
            bool fresh;
            want = grpc_version(e, &hd, idx, &fresh);
            curl_easy_setopt(h, CURLOPT_HTTP_VERSION, want);
            curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, e->grpc_hdrs);
            curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_grpc_header);
            curl_easy_setopt(h, CURLOPT_HEADERDATA, &g);
            hd.h2c_live &= ~(1u << idx);   /* set again below when it answers */
        }
        CURLcode cc = curl_easy_perform(h);
        long status = 0, ver = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &ver);
        if (cc == CURLE_OK && q->grpc && want == CURL_HTTP_VERSION_2_0 && ver != CURL_HTTP_VERSION_2_0) {
            /* the h2c connection was gone and libcurl asked a new one for
             * HTTP/1.1 + Upgrade: that request reached etcd's HTTP mux, which
             * has no such path (only gRPC executes it): nothing was applied.
             * Once more, with prior knowledge on a fresh connection. */
            cairn_buf_free(out);
            again = true;
            continue;
        }
        if (cc == CURLE_OK && q->grpc) {
            rc = grpc_answer(q, status, &g, out, err);
            if (ver == CURL_HTTP_VERSION_2_0)
                hd.h2c_live |= 1u << idx;
            if (rc == 0) {
                if (idx != start % e->n_ep)
                    atomic_store(&e->cur, idx);
                break;
            }
            cairn_buf_free(out);
            if (rc == CAIRN_ERR_NETWORK && q->idempotent)
                continue;   /* a read on a member without a leader: another may have one */
            break;
        }
        if (cc == CURLE_OK && status == 200) {
            if (idx != start % e->n_ep)
                atomic_store(&e->cur, idx);
            rc = 0;
            break;
        }
        if (cc == CURLE_OK) {
            rc = gateway_error(status, out, q->path, err);
            cairn_buf_free(out);
            if (rc == CAIRN_ERR_NETWORK && status >= 500 && q->idempotent)
                continue;   /* a read or lease call on a member without a leader: another may have one */
            break;
        }
        cairn_buf_free(out);
        if (cc == CURLE_WRITE_ERROR) {
            rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "etcd %s: answer larger than %u bytes", q->path,
                            ETCD_MAX_RESPONSE);
            break;
        }
        if (not_sent(cc)) {
            rc = cairn_errf(err, CAIRN_ERR_NETWORK, "etcd: cannot reach %s: %s%s", e->ep[idx],
                            curl_msg[0] ? curl_msg : curl_easy_strerror(cc), tls_hint(e, idx));
            continue;
        }
        if (cc == CURLE_OPERATION_TIMEDOUT) {
            /* sent, no answer: the outcome is unknown (no quorum, or slow) */
            rc = cairn_errf(err, CAIRN_ERR_TIMEOUT,
                            "etcd %s: no answer from %s within %ld ms (no quorum?); it may still be applied", q->path,
                            e->ep[idx], e->timeout_ms);
            atomic_store(&e->cur, idx + 1);   /* next request tries another member */
            break;
        }
        rc = cairn_errf(err, CAIRN_ERR_NETWORK, "etcd %s at %s: %s%s", q->path, e->ep[idx],
                        curl_msg[0] ? curl_msg : curl_easy_strerror(cc), tls_hint(e, idx));
        atomic_store(&e->cur, idx + 1);
        break;
    }
    handle_put(e, hd, q->grpc);
    return rc;
}

/* A gateway call: JSON body to `path`. */
static int call_json(struct etcd *e, const char *path, const char *body, bool idempotent, struct cairn_buf *out,
                     struct cairn_error *err)
{
    struct etcd_req q = {.path = path, .body = body, .len = strlen(body), .idempotent = idempotent};
    return call(e, &q, out, err);
}

static char *b64(const void *p, size_t n)
{
    return cairn_base64_encode(p, n);
}

/* The range_end of a prefix: the prefix with its last byte incremented
 * (bytes of 0xff dropped first). Our prefixes are printable, so the simple
 * case always applies; `out` holds at least strlen(key) + 1 bytes. */
static int prefix_end(const char *key, char *out, size_t *out_len)
{
    size_t n = strlen(key);
    memcpy(out, key, n);
    while (n > 0 && (unsigned char)out[n - 1] == 0xff)
        n--;
    if (n == 0)
        return CAIRN_ERR_INVALID;
    out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
    *out_len = n;
    return 0;
}

static int set_key(json_t *o, const char *k, const char *key, bool prefix)
{
    char *kb = b64(key, strlen(key));
    if (kb == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = json_object_set_new(o, k, json_string(kb)) ? CAIRN_ERR_NOMEM : 0;
    free(kb);
    if (rc == 0 && prefix) {
        char end[ETCD_MAX_KEY + 1];
        size_t el;
        if (strlen(key) > ETCD_MAX_KEY || prefix_end(key, end, &el) != 0)
            return CAIRN_ERR_INVALID;
        char *eb = b64(end, el);
        if (eb == NULL)
            return CAIRN_ERR_NOMEM;
        rc = json_object_set_new(o, "range_end", json_string(eb)) ? CAIRN_ERR_NOMEM : 0;
        free(eb);
    }
    return rc;
}

static char *dump(json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static json_t *range_req(const char *key, bool prefix, bool keys_only)
{
    json_t *r = json_object();
    if (r == NULL || set_key(r, "key", key, prefix) != 0 ||
        (keys_only && json_object_set_new(r, "keys_only", json_true()) != 0)) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* ---- Range and Txn as native gRPC messages (etcd_kv.proto) ---- */

/* A message's key and, for a prefix, its range_end, which `end`
 * (ETCD_MAX_KEY + 1 bytes) holds. */
static int pb_key(ProtobufCBinaryData *k, ProtobufCBinaryData *range_end, char *end, const char *key, bool prefix)
{
    k->data = (uint8_t *)key;
    k->len = strlen(key);
    if (!prefix)
        return 0;
    size_t el;
    if (k->len > ETCD_MAX_KEY || prefix_end(key, end, &el) != 0)
        return CAIRN_ERR_INVALID;
    range_end->data = (uint8_t *)end;
    range_end->len = el;
    return 0;
}

/* A RangeRequest; `end` (ETCD_MAX_KEY + 1 bytes) holds its range_end. */
static int pb_range(Etcdserverpb__RangeRequest *r, char *end, const char *key, bool prefix, bool keys_only)
{
    etcdserverpb__range_request__init(r);
    r->keys_only = keys_only;
    return pb_key(&r->key, &r->range_end, end, key, prefix);
}

/* The message with its 5-byte gRPC prefix, malloc'd. */
static uint8_t *pb_frame(const ProtobufCMessage *m, size_t *out_len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(GRPC_PREFIX_LEN + n);
    if (b == NULL)
        return NULL;
    grpc_prefix_write(b, n);
    protobuf_c_message_pack(m, b + GRPC_PREFIX_LEN);
    *out_len = GRPC_PREFIX_LEN + n;
    return b;
}

static int grpc_get(struct etcd *e, const char *key, bool prefix, bool keys_only, struct etcd_kvs *out,
                    struct cairn_error *err)
{
    Etcdserverpb__RangeRequest r;
    char end[ETCD_MAX_KEY + 1];
    if (pb_range(&r, end, key, prefix, keys_only) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "etcd: key too long for a prefix range");
    size_t len = 0;
    uint8_t *body = pb_frame(&r.base, &len);
    if (body == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    struct etcd_req q = {.path = "/etcdserverpb.KV/Range", .body = body, .len = len, .grpc = true, .idempotent = true};
    struct cairn_buf b;
    int rc = call(e, &q, &b, err);
    free(body);
    if (rc != 0)
        return rc;
    rc = etcd_parse_range_pb(b.data, b.len, out, err);
    cairn_buf_free(&b);
    return rc;
}

/* One RequestOp with the request it points to and its range_end. */
struct pb_op {
    Etcdserverpb__RequestOp op;
    Etcdserverpb__RangeRequest range;
    Etcdserverpb__PutRequest put;
    Etcdserverpb__DeleteRangeRequest del;
    char end[ETCD_MAX_KEY + 1];
};

static int pb_op_fill(struct pb_op *p, const struct etcd_op *op)
{
    etcdserverpb__request_op__init(&p->op);
    switch (op->kind) {
    case ETCD_OP_GET:
        if (pb_range(&p->range, p->end, op->key, op->prefix, op->keys_only) != 0)
            return CAIRN_ERR_INVALID;
        p->op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
        p->op.request_range = &p->range;
        return 0;
    case ETCD_OP_DEL:
        etcdserverpb__delete_range_request__init(&p->del);
        if (pb_key(&p->del.key, &p->del.range_end, p->end, op->key, op->range_end == NULL && op->prefix) != 0)
            return CAIRN_ERR_INVALID;
        if (op->range_end != NULL) {
            if (strlen(op->range_end) > ETCD_MAX_KEY)
                return CAIRN_ERR_INVALID;
            p->del.range_end.data = (uint8_t *)op->range_end;
            p->del.range_end.len = strlen(op->range_end);
        }
        p->op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
        p->op.request_delete_range = &p->del;
        return 0;
    case ETCD_OP_PUT:
        etcdserverpb__put_request__init(&p->put);
        p->put.key.data = (uint8_t *)op->key;
        p->put.key.len = strlen(op->key);
        p->put.value.data = (uint8_t *)op->value;
        p->put.value.len = op->value != NULL ? op->value_len : 0;
        p->put.lease = op->lease;
        p->op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
        p->op.request_put = &p->put;
        return 0;
    }
    return CAIRN_ERR_INVALID;
}

struct pb_cmp {
    Etcdserverpb__Compare c;
    char end[ETCD_MAX_KEY + 1];
};

static int pb_cmp_fill(struct pb_cmp *p, const struct etcd_cmp *c)
{
    Etcdserverpb__Compare *m = &p->c;
    etcdserverpb__compare__init(m);
    if (pb_key(&m->key, &m->range_end, p->end, c->key, c->prefix) != 0)
        return CAIRN_ERR_INVALID;
    m->result = c->result == ETCD_CMP_LESS ? ETCDSERVERPB__COMPARE__COMPARE_RESULT__LESS
                                           : ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    /* the oneof is sent even when 0: etcd compares against the member set */
    switch (c->target) {
    case ETCD_CMP_MOD:
        m->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD;
        m->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
        m->mod_revision = c->rev;
        return 0;
    case ETCD_CMP_CREATE:
        m->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
        m->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
        m->create_revision = c->rev;
        return 0;
    case ETCD_CMP_VERSION:
        m->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
        m->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
        m->version = c->rev;
        return 0;
    }
    return CAIRN_ERR_INVALID;
}

static int grpc_txn(struct etcd *e, const struct etcd_cmp *cmp, size_t n_cmp, const struct etcd_op *succ,
                    size_t n_succ, const struct etcd_op *fail, size_t n_fail, struct etcd_txn_result *out,
                    struct cairn_error *err)
{
    size_t n_ops = n_succ + n_fail;
    struct pb_cmp *cs = n_cmp > 0 ? calloc(n_cmp, sizeof(*cs)) : NULL;
    struct pb_op *os = n_ops > 0 ? calloc(n_ops, sizeof(*os)) : NULL;
    Etcdserverpb__Compare **cp = n_cmp > 0 ? calloc(n_cmp, sizeof(*cp)) : NULL;
    Etcdserverpb__RequestOp **op = n_ops > 0 ? calloc(n_ops, sizeof(*op)) : NULL;
    uint8_t *body = NULL;
    int rc = 0;
    if ((n_cmp > 0 && (cs == NULL || cp == NULL)) || (n_ops > 0 && (os == NULL || op == NULL))) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_cmp; i++) {
        if (pb_cmp_fill(&cs[i], &cmp[i]) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "etcd txn: compare %zu: bad target or key", i);
            goto out;
        }
        cp[i] = &cs[i].c;
    }
    for (size_t i = 0; i < n_ops; i++) {
        if (pb_op_fill(&os[i], i < n_succ ? &succ[i] : &fail[i - n_succ]) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "etcd txn: operation %zu: bad kind or key", i);
            goto out;
        }
        op[i] = &os[i].op;
    }
    Etcdserverpb__TxnRequest t;
    etcdserverpb__txn_request__init(&t);
    t.n_compare = n_cmp;
    t.compare = cp;
    t.n_success = n_succ;
    t.success = op;
    t.n_failure = n_fail;
    t.failure = op != NULL ? op + n_succ : NULL;
    size_t len = 0;
    if ((body = pb_frame(&t.base, &len)) == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    struct etcd_req q = {.path = "/etcdserverpb.KV/Txn", .body = body, .len = len, .grpc = true};
    struct cairn_buf b;
    if ((rc = call(e, &q, &b, err)) == 0) {
        rc = etcd_parse_txn_pb(b.data, b.len, out, err);
        cairn_buf_free(&b);
    }
out:
    free(body);
    free(cs);
    free(os);
    free(cp);
    free(op);
    return rc;
}

/* ---- the same over the JSON gateway ---- */

static int gateway_get(struct etcd *e, const char *key, bool prefix, bool keys_only, struct etcd_kvs *out,
                       struct cairn_error *err)
{
    char *body = dump(range_req(key, prefix, keys_only));
    if (body == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    struct cairn_buf b;
    int rc = call_json(e, "/v3/kv/range", body, true, &b, err);
    free(body);
    if (rc != 0)
        return rc;
    rc = etcd_parse_range(b.data, b.len, out, err);
    cairn_buf_free(&b);
    return rc;
}

int etcd_get(struct etcd *e, const char *key, bool prefix, bool keys_only, struct etcd_kvs *out,
             struct cairn_error *err)
{
    return e->wire == ETCD_WIRE_GATEWAY ? gateway_get(e, key, prefix, keys_only, out, err)
                                        : grpc_get(e, key, prefix, keys_only, out, err);
}

static json_t *op_json(const struct etcd_op *op)
{
    json_t *inner = NULL;
    const char *name = NULL;
    switch (op->kind) {
    case ETCD_OP_GET:
        inner = range_req(op->key, op->prefix, op->keys_only);
        name = "request_range";
        break;
    case ETCD_OP_DEL:
        inner = json_object();
        if (inner != NULL && set_key(inner, "key", op->key, op->range_end == NULL && op->prefix) != 0) {
            json_decref(inner);
            inner = NULL;
        }
        if (inner != NULL && op->range_end != NULL) {
            char *eb = strlen(op->range_end) <= ETCD_MAX_KEY ? b64(op->range_end, strlen(op->range_end)) : NULL;
            if (eb == NULL || json_object_set_new(inner, "range_end", json_string(eb)) != 0) {
                json_decref(inner);
                inner = NULL;
            }
            free(eb);
        }
        name = "request_delete_range";
        break;
    case ETCD_OP_PUT: {
        inner = json_object();
        char *vb = b64(op->value != NULL ? op->value : (const uint8_t *)"", op->value_len);
        char lease[24];
        snprintf(lease, sizeof(lease), "%lld", (long long)op->lease);
        if (inner == NULL || vb == NULL || set_key(inner, "key", op->key, false) != 0 ||
            json_object_set_new(inner, "value", json_string(vb)) != 0 ||
            (op->lease != 0 && json_object_set_new(inner, "lease", json_string(lease)) != 0)) {
            json_decref(inner);
            inner = NULL;
        }
        free(vb);
        name = "request_put";
        break;
    }
    }
    if (inner == NULL)
        return NULL;
    json_t *o = json_object();
    if (o == NULL || json_object_set_new(o, name, inner) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *ops_json(const struct etcd_op *ops, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        json_t *o = op_json(&ops[i]);
        if (o == NULL || json_array_append_new(a, o) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

static int gateway_txn(struct etcd *e, const struct etcd_cmp *cmp, size_t n_cmp, const struct etcd_op *succ,
                       size_t n_succ, const struct etcd_op *fail, size_t n_fail, struct etcd_txn_result *out,
                       struct cairn_error *err)
{
    json_t *t = json_object(), *ca = json_array();
    bool ok = t != NULL && ca != NULL;
    for (size_t i = 0; ok && i < n_cmp; i++) {
        json_t *c = json_object();
        char rev[24];
        snprintf(rev, sizeof(rev), "%lld", (long long)cmp[i].rev);
        static const char *const target[] = {"MOD", "CREATE", "VERSION"};
        static const char *const field[] = {"mod_revision", "create_revision", "version"};
        enum etcd_cmp_target tg = cmp[i].target;
        ok = c != NULL && tg <= ETCD_CMP_VERSION && set_key(c, "key", cmp[i].key, cmp[i].prefix) == 0 &&
             json_object_set_new(c, "target", json_string(target[tg])) == 0 &&
             json_object_set_new(c, "result", json_string(cmp[i].result == ETCD_CMP_LESS ? "LESS" : "EQUAL")) == 0 &&
             json_object_set_new(c, field[tg], json_string(rev)) == 0 && json_array_append_new(ca, c) == 0;
        if (!ok)
            json_decref(c);
    }
    json_t *s = ok ? ops_json(succ, n_succ) : NULL, *f = ok ? ops_json(fail, n_fail) : NULL;
    ok = ok && s != NULL && f != NULL && json_object_set_new(t, "compare", ca) == 0;
    if (ok)
        ca = NULL;
    ok = ok && json_object_set_new(t, "success", s) == 0;
    if (ok)
        s = NULL;
    ok = ok && json_object_set_new(t, "failure", f) == 0;
    if (ok)
        f = NULL;
    json_decref(ca);
    json_decref(s);
    json_decref(f);
    char *body = ok ? dump(t) : (json_decref(t), NULL);
    if (body == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    struct cairn_buf b;
    int rc = call_json(e, "/v3/kv/txn", body, false, &b, err);
    free(body);
    if (rc != 0)
        return rc;
    rc = etcd_parse_txn(b.data, b.len, out, err);
    cairn_buf_free(&b);
    return rc;
}

int etcd_txn(struct etcd *e, const struct etcd_cmp *cmp, size_t n_cmp, const struct etcd_op *succ, size_t n_succ,
             const struct etcd_op *fail, size_t n_fail, struct etcd_txn_result *out, struct cairn_error *err)
{
    return e->wire == ETCD_WIRE_GATEWAY ? gateway_txn(e, cmp, n_cmp, succ, n_succ, fail, n_fail, out, err)
                                        : grpc_txn(e, cmp, n_cmp, succ, n_succ, fail, n_fail, out, err);
}

static int lease_call(struct etcd *e, const char *path, const char *body, int64_t *id, int64_t *ttl,
                      struct cairn_error *err)
{
    struct cairn_buf b;
    int rc = call_json(e, path, body, true, &b, err);
    if (rc != 0)
        return rc;
    json_t *j = b.len > 0 ? json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    cairn_buf_free(&b);
    /* keepalive answers {"result":{...}}, grant answers the fields directly */
    const json_t *r = json_is_object(j) && json_is_object(json_object_get(j, "result")) ? json_object_get(j, "result")
                                                                                        : j;
    int64_t i = 0, t = 0;
    const json_t *iv = json_is_object(r) ? json_object_get(r, "ID") : NULL;
    const json_t *tv = json_is_object(r) ? json_object_get(r, "TTL") : NULL;
    if (!json_is_object(r) || (iv != NULL && !etcd_parse_int64(iv, &i)) || (tv != NULL && !etcd_parse_int64(tv, &t))) {
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd %s: malformed answer", path);
    }
    const json_t *em = json_object_get(r, "error");
    if (json_is_string(em) && json_string_length(em) > 0) {
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_NETWORK, "etcd %s: %.200s", path, json_string_value(em));
    }
    json_decref(j);
    if (id != NULL)
        *id = i;
    if (ttl != NULL)
        *ttl = t;
    return 0;
}

int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *out_id, struct cairn_error *err)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"TTL\":\"%lld\"}", (long long)ttl_s);
    int64_t id = 0;
    int rc = lease_call(e, "/v3/lease/grant", body, &id, NULL, err);
    if (rc == 0 && id == 0)
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "etcd lease grant: no lease ID in the answer");
    if (rc == 0)
        *out_id = id;
    return rc;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *out_ttl, struct cairn_error *err)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"ID\":\"%lld\"}", (long long)id);
    return lease_call(e, "/v3/lease/keepalive", body, NULL, out_ttl, err);
}

int etcd_lease_revoke(struct etcd *e, int64_t id, struct cairn_error *err)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"ID\":\"%lld\"}", (long long)id);
    struct cairn_buf b;
    int rc = call_json(e, "/v3/lease/revoke", body, true, &b, err);
    if (rc == 0)
        cairn_buf_free(&b);
    return rc;
}

/* Whether the member at endpoint `idx` says it is the raft leader: its
 * status answer (gateway JSON) names the same member id in header.member_id
 * and leader. The ids are uint64 written as decimal strings: compared as
 * text. */
static bool member_is_leader(struct etcd *e, CURL *h, size_t idx, long timeout_ms)
{
    char url[400];
    snprintf(url, sizeof(url), "%s/v3/maintenance/status", e->ep[idx]);
    struct cairn_buf b;
    cairn_buf_init(&b, 64 * 1024);
    setup(e, h, url, "{}", 2, timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    long status = 0;
    bool leader = false;
    if (curl_easy_perform(h) == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
        status == 200) {
        json_t *j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
        const json_t *hd = json_is_object(j) ? json_object_get(j, "header") : NULL;
        const json_t *me = json_is_object(hd) ? json_object_get(hd, "member_id") : NULL;
        const json_t *ld = json_is_object(j) ? json_object_get(j, "leader") : NULL;
        leader = json_is_string(me) && json_is_string(ld) && json_string_length(me) > 0 &&
                 strcmp(json_string_value(me), json_string_value(ld)) == 0;
        json_decref(j);
    }
    cairn_buf_free(&b);
    return leader;
}

int etcd_prefer_leader(struct etcd *e, long timeout_ms)
{
    if (e->n_ep < 2)
        return 0;
    struct handle hd = handle_get(e, false);
    if (hd.h == NULL)
        return -1;
    int found = -1;
    size_t start = atomic_load(&e->cur) % e->n_ep;
    for (size_t i = 0; i < e->n_ep && found < 0; i++) {
        size_t idx = (start + i) % e->n_ep;
        if (member_is_leader(e, hd.h, idx, timeout_ms)) {
            atomic_store(&e->cur, idx);
            found = (int)idx;
        }
    }
    handle_put(e, hd, false);
    return found;
}

/* ---- watch ---- */

#define WATCH_LINE_MAX ETCD_MAX_RESPONSE

struct watch_ctx {
    struct cairn_buf line;
    etcd_watch_fn fn;
    void *arg;
    atomic_bool *stop;
    int rc;                    /* first failure (callback or parse) */
    struct cairn_error *err;
};

static int watch_line(struct watch_ctx *w, const uint8_t *p, size_t n)
{
    struct etcd_watch_msg m;
    int rc = etcd_parse_watch(p, n, &m, w->err);
    if (rc != 0)
        return rc;
    rc = w->fn(w->arg, &m);
    etcd_watch_msg_clear(&m);
    return rc;
}

static size_t on_watch_data(char *p, size_t sz, size_t nm, void *arg)
{
    struct watch_ctx *w = arg;
    size_t n = sz * nm;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t take = nl != NULL ? (size_t)(nl - (p + i)) : n - i;
        if (cairn_buf_append(&w->line, p + i, take) != 0) {
            w->rc = cairn_errf(w->err, CAIRN_ERR_TOO_LARGE, "etcd watch: message larger than %u bytes",
                               WATCH_LINE_MAX);
            return 0;
        }
        i += take;
        if (nl == NULL)
            break;
        i++;   /* the newline */
        if (w->line.len > 0) {
            int rc = watch_line(w, w->line.data, w->line.len);
            w->line.len = 0;
            if (rc != 0) {
                w->rc = rc;
                return 0;
            }
        }
    }
    return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct watch_ctx *w = arg;
    return atomic_load(w->stop) ? 1 : 0;
}

int etcd_watch(struct etcd *e, const char *from, const char *prefix, int64_t start_rev, etcd_watch_fn fn, void *arg,
               atomic_bool *stop, struct cairn_error *err)
{
    size_t pl = strlen(prefix);
    if (strncmp(from, prefix, pl) != 0 || strlen(from) > ETCD_MAX_KEY)
        return cairn_errf(err, CAIRN_ERR_INVALID, "etcd watch: %s is not under %s", from, prefix);
    /* [from, end of prefix): the prefix's range_end, with `from` as key */
    json_t *cr = range_req(prefix, true, false);
    char *fb = cr != NULL ? b64(from, strlen(from)) : NULL;
    if (fb == NULL || json_object_set_new(cr, "key", json_string(fb)) != 0) {
        json_decref(cr);
        cr = NULL;
    }
    free(fb);
    char rev[24];
    snprintf(rev, sizeof(rev), "%lld", (long long)start_rev);
    json_t *body_j = NULL;
    if (cr != NULL && (start_rev <= 0 || json_object_set_new(cr, "start_revision", json_string(rev)) == 0) &&
        json_object_set_new(cr, "progress_notify", json_true()) == 0)
        body_j = json_pack("{s:o}", "create_request", cr);
    else
        json_decref(cr);
    char *body = dump(body_j);
    if (body == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    CURL *h = curl_easy_init();
    if (h == NULL) {
        free(body);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    size_t idx = atomic_load(&e->cur) % e->n_ep;
    char url[400];
    snprintf(url, sizeof(url), "%s/v3/watch", e->ep[idx]);
    struct watch_ctx w = {.fn = fn, .arg = arg, .stop = stop, .err = err};
    cairn_buf_init(&w.line, WATCH_LINE_MAX);
    setup(e, h, url, body, strlen(body), 0);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_watch_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
    /* a dead TCP peer (member killed, network gone) is noticed by keepalive */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 2L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 1L);
    char curl_msg[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_msg);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    free(body);
    cairn_buf_free(&w.line);
    if (w.rc != 0)
        return w.rc;
    if (atomic_load(stop))
        return 0;
    /* the stream ended or broke: the next attempt goes to another member */
    atomic_store(&e->cur, idx + 1);
    if (cc == CURLE_OK && status != 200)
        return cairn_errf(err, CAIRN_ERR_NETWORK, "etcd watch at %s: HTTP %ld", e->ep[idx], status);
    return cairn_errf(err, CAIRN_ERR_NETWORK, "etcd watch at %s: %s", e->ep[idx],
                      cc == CURLE_OK ? "stream closed" : (curl_msg[0] ? curl_msg : curl_easy_strerror(cc)));
}
