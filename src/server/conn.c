/* Accounting and admission of TLS and plain connections: see conn.h. */
#include "server/conn.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/rand.h>

#include "common/log.h"

enum phase { PH_NEW, PH_SILENT, PH_HANDSHAKE, PH_WAITING, PH_ACTIVE, PH_REFUSED };

/* The classes a connection can be shed from, in the order they are shed. */
enum { CLS_SILENT, CLS_HANDSHAKE, CLS_WAITING, N_CLS, CLS_NONE = N_CLS };

static int phase_class(enum phase ph)
{
    switch (ph) {
    case PH_SILENT: return CLS_SILENT;
    case PH_HANDSHAKE: return CLS_HANDSHAKE;
    case PH_WAITING: return CLS_WAITING;
    default: return CLS_NONE;
    }
}

static bool phase_admitted(enum phase ph)
{
    return ph == PH_SILENT || ph == PH_HANDSHAKE || ph == PH_WAITING || ph == PH_ACTIVE;
}

static bool phase_in_handshake(enum phase ph)
{
    return ph == PH_SILENT || ph == PH_HANDSHAKE;
}

/* A source address: IPv4 as v4-mapped IPv6, IPv6 cut to its /64 (one host
 * usually has a whole /64 to pick addresses from). */
struct addr_ent {
    uint8_t key[16];
    uint32_t conns;   /* admitted connections */
    uint32_t hs;      /* of which without a completed handshake */
    struct addr_ent *next;
};

struct conn {
    struct conn_pool *p;
    SSL *ssl;             /* TLS: the conn hangs on it; NULL for a plain connection */
    conn_start_fn on_start;              /* plain: ties the conn to the connection's lifetime */
    struct evbuffer_cb_entry *in_cb;     /* plain: watches for the first request byte */
    struct evbuffer_cb_entry *out_cb;    /* plain: a response re-arms the request deadline */
    struct conn *pend_prev, *pend_next;  /* plain, before on_start: in p->pending */
    bool pending;
    struct event *ev;     /* admission, phase deadline, shedding: see conn_ev_cb */
    enum phase ph;        /* changed on the owner loop under p->lock */
    bool shedding;        /* chosen to make room; its event is active */
    size_t cls_idx;       /* position in p->cls[phase_class(ph)] */
    struct addr_ent *ae;
    conn_handshake_fn on_handshake;      /* TLS */
    void *arg;                           /* for on_handshake / on_start */
    struct bufferevent *bev;
    void *session;        /* e.g. HTTP/2 (conn_set_session), freed with the conn */
    void (*session_free)(void *);
};

struct conn_pool {
    const char *name;
    struct conn_limits lim;
    pthread_mutex_t lock;
    size_t n_open;        /* admitted, not yet freed (including those being shed) */
    size_t n_shedding;
    struct conn **cls[N_CLS];   /* each of capacity lim.max_conns */
    size_t n_cls[N_CLS];
    struct addr_ent **buckets;
    size_t n_buckets;           /* a power of two */
    uint64_t seed;              /* hash key: addresses are attacker-chosen */
    uint64_t rng;               /* xorshift state for picking whom to shed */
    struct conn_stats st;
    struct conn *pending;       /* plain conns whose first event has not run (conn_pool_drop_pending) */
    time_t last_log;
    uint64_t logged_refused, logged_shed;
};

static int g_idx = -1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void conn_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp);
static void conn_free(struct conn *c);

static void init_once(void)
{
    g_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free_cb);
}

struct conn_pool *conn_pool_new(const char *name, const struct conn_limits *lim)
{
    pthread_once(&g_once, init_once);
    if (g_idx < 0 || lim->max_conns == 0)
        return NULL;
    struct conn_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->name = name;
    p->lim = *lim;
    p->n_buckets = 64;
    while (p->n_buckets < lim->max_conns)
        p->n_buckets *= 2;
    p->buckets = calloc(p->n_buckets, sizeof(*p->buckets));
    bool ok = p->buckets != NULL;
    for (int k = 0; k < N_CLS && ok; k++)
        ok = (p->cls[k] = calloc(lim->max_conns, sizeof(struct conn *))) != NULL;
    if (!ok || RAND_bytes((unsigned char *)&p->seed, sizeof(p->seed)) != 1 ||
        RAND_bytes((unsigned char *)&p->rng, sizeof(p->rng)) != 1 || pthread_mutex_init(&p->lock, NULL) != 0) {
        for (int k = 0; k < N_CLS; k++)
            free(p->cls[k]);
        free(p->buckets);
        free(p);
        return NULL;
    }
    p->rng |= 1;
    return p;
}

void conn_pool_free(struct conn_pool *p)
{
    if (p == NULL)
        return;
    if (p->n_open != 0)
        LOG_WARN("%s API: %zu connections still accounted at shutdown", p->name, p->n_open);
    for (size_t i = 0; i < p->n_buckets; i++) {
        struct addr_ent *e = p->buckets[i];
        while (e != NULL) {
            struct addr_ent *n = e->next;
            free(e);
            e = n;
        }
    }
    for (int k = 0; k < N_CLS; k++)
        free(p->cls[k]);
    free(p->buckets);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void conn_pool_stats(struct conn_pool *p, struct conn_stats *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->st;
    out->open = p->n_open;
    pthread_mutex_unlock(&p->lock);
}

/* ---- the per-address table (under p->lock) ---- */

static void addr_key(const struct sockaddr_storage *ss, uint8_t key[16])
{
    memset(key, 0, 16);
    if (ss->ss_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(key, a, memcmp(a, mapped, 12) == 0 ? 16 : 8);
    }
}

static size_t addr_hash(const struct conn_pool *p, const uint8_t key[16])
{
    /* FNV-1a over a secret seed and the key: chains stay short unless the
     * seed is known, and they are bounded by max_conns entries anyway */
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 8; i++) {
        h ^= (uint8_t)(p->seed >> (8 * i));
        h *= 0x100000001b3ull;
    }
    for (int i = 0; i < 16; i++) {
        h ^= key[i];
        h *= 0x100000001b3ull;
    }
    return (size_t)(h ^ (h >> 29)) & (p->n_buckets - 1);
}

static struct addr_ent *addr_get(struct conn_pool *p, const uint8_t key[16])
{
    size_t b = addr_hash(p, key);
    for (struct addr_ent *e = p->buckets[b]; e != NULL; e = e->next)
        if (memcmp(e->key, key, 16) == 0)
            return e;
    struct addr_ent *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    memcpy(e->key, key, 16);
    e->next = p->buckets[b];
    p->buckets[b] = e;
    return e;
}

static void addr_put(struct conn_pool *p, struct addr_ent *e)
{
    if (e->conns != 0)
        return;
    struct addr_ent **pp = &p->buckets[addr_hash(p, e->key)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    free(e);
}

/* ---- shedding classes (under p->lock) ---- */

static void cls_add(struct conn_pool *p, struct conn *c)
{
    int k = phase_class(c->ph);
    if (k == CLS_NONE || c->shedding)
        return;
    c->cls_idx = p->n_cls[k];
    p->cls[k][p->n_cls[k]++] = c;
}

static void cls_del(struct conn_pool *p, struct conn *c)
{
    int k = phase_class(c->ph);
    if (k == CLS_NONE || c->shedding)
        return;
    struct conn *last = p->cls[k][--p->n_cls[k]];
    p->cls[k][c->cls_idx] = last;
    last->cls_idx = c->cls_idx;
}

static struct conn *pick_victim(struct conn_pool *p)
{
    for (int k = 0; k < N_CLS; k++) {
        if (p->n_cls[k] == 0)
            continue;
        p->rng ^= p->rng << 13;
        p->rng ^= p->rng >> 7;
        p->rng ^= p->rng << 17;
        return p->cls[k][p->rng % p->n_cls[k]];
    }
    return NULL;
}

/* Moves c to phase `ph` (owner loop). */
static void set_phase(struct conn *c, enum phase ph)
{
    struct conn_pool *p = c->p;
    pthread_mutex_lock(&p->lock);
    cls_del(p, c);
    if (c->ae != NULL && phase_in_handshake(c->ph) && !phase_in_handshake(ph))
        c->ae->hs--;
    c->ph = ph;
    cls_add(p, c);
    pthread_mutex_unlock(&p->lock);
}

static void arm(struct conn *c, int seconds)
{
    struct timeval tv = {.tv_sec = seconds};
    event_add(c->ev, &tv);
}

/* The connection's socket: the SSL's, or a plain connection's bufferevent's. */
static int conn_fd(const struct conn *c)
{
    if (c->ssl != NULL)
        return SSL_get_fd(c->ssl);
    return c->bev != NULL ? (int)bufferevent_getfd(c->bev) : -1;
}

/* Closes the connection with a reset: libevent sees the error and frees it
 * through its normal path (conn_free_cb or conn_release runs then). Owner
 * loop only: the descriptor is valid while the SSL (the bufferevent) is. A
 * reset rather than a FIN leaves no FIN_WAIT/TIME_WAIT socket behind per
 * refused or shed connection. */
static void kill_conn(struct conn *c)
{
    int fd = conn_fd(c);
    if (fd < 0)
        return;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    shutdown(fd, SHUT_RDWR);
}

static void log_pressure(struct conn_pool *p)
{
    /* under p->lock; one line per 10 s at most */
    time_t now = time(NULL);
    if (now - p->last_log < 10)
        return;
    uint64_t refused = p->st.refused_addr + p->st.refused_full, shed = p->st.shed;
    if (refused == p->logged_refused && shed == p->logged_shed)
        return;
    LOG_WARN("%s API: %zu connections open (cap %zu): %llu refused (per-address limits or all active), %llu without "
             "a request shed since the last report",
             p->name, p->n_open, p->lim.max_conns, (unsigned long long)(refused - p->logged_refused),
             (unsigned long long)(shed - p->logged_shed));
    p->last_log = now;
    p->logged_refused = refused;
    p->logged_shed = shed;
}

/* Takes c out of p->pending (under p->lock). */
static void pending_del(struct conn_pool *p, struct conn *c)
{
    if (!c->pending)
        return;
    if (c->pend_prev != NULL)
        c->pend_prev->pend_next = c->pend_next;
    else
        p->pending = c->pend_next;
    if (c->pend_next != NULL)
        c->pend_next->pend_prev = c->pend_prev;
    c->pending = false;
}

/* Admission, on the owner loop right after the accept callback (the socket
 * is attached to the SSL or the bufferevent by then). */
static void admit(struct conn *c)
{
    struct conn_pool *p = c->p;
    int fd = conn_fd(c);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    uint8_t key[16];
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) {
        c->ph = PH_REFUSED;
        kill_conn(c);
        return;
    }
    addr_key(&ss, key);
    pthread_mutex_lock(&p->lock);
    struct addr_ent *ae = addr_get(p, key);
    bool refuse = false;
    if (ae == NULL || ae->conns >= p->lim.max_per_addr || ae->hs >= p->lim.max_hs_per_addr) {
        p->st.refused_addr++;
        refuse = true;
    } else if (p->n_open - p->n_shedding >= p->lim.max_conns) {
        struct conn *v = pick_victim(p);
        if (v == NULL) {
            p->st.refused_full++;
            refuse = true;
        } else {
            cls_del(p, v);
            v->shedding = true;
            p->n_shedding++;
            p->st.shed++;
            /* under the lock: its conn_free_cb (which frees the event) waits for it */
            event_active(v->ev, EV_TIMEOUT, 0);
        }
    }
    if (refuse) {
        if (ae != NULL)
            addr_put(p, ae);
        log_pressure(p);
        pthread_mutex_unlock(&p->lock);
        c->ph = PH_REFUSED;
        kill_conn(c);
        return;
    }
    ae->conns++;
    c->ae = ae;
    p->n_open++;
    p->st.admitted++;
    if (c->ssl != NULL) {
        ae->hs++;
        c->ph = PH_SILENT;
    } else {
        c->ph = PH_WAITING;   /* no handshake: waiting for the first request byte */
    }
    cls_add(p, c);
    log_pressure(p);
    pthread_mutex_unlock(&p->lock);
    arm(c, p->lim.handshake_timeout_s);
}

static void conn_ev_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    if (c->ph == PH_NEW) {
        if (c->pending) {
            pthread_mutex_lock(&c->p->lock);
            pending_del(c->p, c);
            pthread_mutex_unlock(&c->p->lock);
        }
        if (c->on_start != NULL)
            c->on_start(c, c->arg);
        admit(c);
        return;
    }
    /* a deadline passed, or the connection is being shed */
    struct conn_pool *p = c->p;
    pthread_mutex_lock(&p->lock);
    if (!c->shedding)
        p->st.deadline++;
    pthread_mutex_unlock(&p->lock);
    kill_conn(c);
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    (void)ret;
    struct conn *c = conn_of(ssl);
    if (c == NULL || !(where & SSL_CB_HANDSHAKE_DONE) || !phase_in_handshake(c->ph))
        return;
    set_phase(c, PH_WAITING);
    arm(c, c->p->lim.handshake_timeout_s);
    if (c->on_handshake != NULL)
        c->on_handshake(c, ssl, c->arg);
}

/* Records as they are read: a complete ClientHello ends the SILENT phase, the
 * first application data record after the handshake the WAITING one. The
 * record header's type is used (TLS 1.2 and 1.3 alike: once the handshake is
 * done, a TLS 1.3 record of outer type application_data is application data
 * unless it is a rare post-handshake message, which counts as activity too). */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl, void *arg)
{
    (void)version;
    (void)arg;
    struct conn *c = conn_of(ssl);
    if (write_p || c == NULL || len < 1)
        return;
    uint8_t t = *(const uint8_t *)buf;
    if (c->ph == PH_SILENT && content_type == SSL3_RT_HANDSHAKE && t == SSL3_MT_CLIENT_HELLO) {
        set_phase(c, PH_HANDSHAKE);
    } else if (c->ph == PH_WAITING && content_type == SSL3_RT_HEADER && t == SSL3_RT_APPLICATION_DATA) {
        set_phase(c, PH_ACTIVE);
        if (c->session == NULL)
            arm(c, c->p->lim.request_timeout_s);
        else
            event_del(c->ev);   /* the session's own deadlines from now on */
        /* nothing left to watch for: spare the callback on every record */
        SSL_set_msg_callback(ssl, NULL);
    }
}

static void conn_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    conn_free(ptr);
}

/* Leaves the pool's accounting and frees c (on the owner loop). */
static void conn_free(struct conn *c)
{
    if (c == NULL)
        return;
    struct conn_pool *p = c->p;
    pthread_mutex_lock(&p->lock);
    pending_del(p, c);
    if (phase_admitted(c->ph)) {
        cls_del(p, c);
        if (phase_in_handshake(c->ph))
            c->ae->hs--;
        c->ae->conns--;
        addr_put(p, c->ae);
        p->n_open--;
        if (c->shedding)
            p->n_shedding--;
    }
    pthread_mutex_unlock(&p->lock);
    if (c->session != NULL)
        c->session_free(c->session);
    if (c->in_cb != NULL)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
    if (c->out_cb != NULL)
        evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
    if (c->ev != NULL)
        event_free(c->ev);
    free(c);
}

/* A conn not yet admitted, with its event; NULL when out of memory. */
static struct conn *conn_new(struct conn_pool *p, struct event_base *base, void *arg)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->p = p;
    c->arg = arg;
    c->ph = PH_NEW;
    if ((c->ev = event_new(base, -1, 0, conn_ev_cb, c)) == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

int conn_attach(struct conn_pool *p, struct event_base *base, SSL *ssl, conn_handshake_fn on_handshake, void *arg)
{
    struct conn *c = conn_new(p, base, arg);
    if (c == NULL)
        return -1;
    c->ssl = ssl;
    c->on_handshake = on_handshake;
    if (!SSL_set_ex_data(ssl, g_idx, c)) {
        conn_free(c);
        return -1;
    }
    SSL_set_info_callback(ssl, info_cb);
    SSL_set_msg_callback(ssl, msg_cb);
    /* runs after the accept callback has attached the socket, before the
     * loop polls it */
    event_active(c->ev, EV_TIMEOUT, 0);
    return 0;
}

struct conn *conn_of(const SSL *ssl)
{
    return g_idx >= 0 ? SSL_get_ex_data(ssl, g_idx) : NULL;
}

void conn_set_bev(struct conn *c, struct bufferevent *bev)
{
    c->bev = bev;
}

struct bufferevent *conn_bev(const struct conn *c)
{
    return c->bev;
}

void conn_set_session(struct conn *c, void *session, void (*free_fn)(void *session))
{
    c->session = session;
    c->session_free = free_fn;
    if (c->ph == PH_ACTIVE)
        event_del(c->ev);
}

void conn_activity(struct conn *c)
{
    if (c == NULL || !phase_admitted(c->ph) || c->session != NULL)
        return;
    if (c->ph != PH_ACTIVE)
        set_phase(c, PH_ACTIVE);
    arm(c, c->p->lim.request_timeout_s);
}

/* ---- plain connections ---- */

/* Bytes arrived on a WAITING plain connection: a request has started (the
 * counterpart of msg_cb's first application data record). */
static void plain_in_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    if (info->n_added == 0 || c->ph != PH_WAITING)
        return;
    set_phase(c, PH_ACTIVE);
    arm(c, c->p->lim.request_timeout_s);
    /* nothing left to watch for on input (safe inside the callback: libevent
     * reads the next entry before calling this one) */
    evbuffer_remove_cb_entry(buf, c->in_cb);
    c->in_cb = NULL;
}

/* A response is being written: the next request gets a fresh deadline (the
 * counterpart of conn_activity, which needs the SSL to find the conn). */
static void plain_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    struct conn *c = arg;
    if (info->n_added > 0 && c->ph == PH_ACTIVE)
        arm(c, c->p->lim.request_timeout_s);
}

struct conn *conn_attach_plain(struct conn_pool *p, struct event_base *base, struct bufferevent *bev,
                               conn_start_fn on_start, void *arg)
{
    struct conn *c = conn_new(p, base, arg);
    if (c == NULL)
        return NULL;
    c->bev = bev;
    c->on_start = on_start;
    if ((c->in_cb = evbuffer_add_cb(bufferevent_get_input(bev), plain_in_cb, c)) == NULL ||
        (c->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), plain_out_cb, c)) == NULL) {
        conn_free(c);
        return NULL;
    }
    pthread_mutex_lock(&p->lock);
    c->pending = true;
    c->pend_next = p->pending;
    if (p->pending != NULL)
        p->pending->pend_prev = c;
    p->pending = c;
    pthread_mutex_unlock(&p->lock);
    /* as for TLS: runs after the accept callback, before the loop polls */
    event_active(c->ev, EV_TIMEOUT, 0);
    return c;
}

void conn_pool_drop_pending(struct conn_pool *p, struct event_base *base)
{
    for (;;) {
        pthread_mutex_lock(&p->lock);
        struct conn *c = p->pending;
        while (c != NULL && event_get_base(c->ev) != base)
            c = c->pend_next;
        pthread_mutex_unlock(&p->lock);
        if (c == NULL)
            return;
        conn_free(c);   /* not admitted: nothing to account; takes it out of the list */
    }
}

void conn_release(struct conn *c)
{
    conn_free(c);
}
