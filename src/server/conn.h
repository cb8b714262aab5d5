/* Internal: accounting and admission of connections (issue 12 §3); TLS
 * connections as described here, plain ones (the metrics listener) likewise
 * without the handshake phases (conn_attach_plain).
 *
 * One `struct conn_pool` per TLS listener, shared by all loop threads (one
 * mutex), and one `struct conn` per accepted connection. The conn hangs on
 * the connection's SSL as ex_data, so it lives exactly as long as the
 * connection: libevent frees the SSL with the connection and the ex_data free
 * callback releases the conn then, on the loop thread that owns it. Anything
 * that serves a TLS connection (evhttp for HTTP/1.1, an HTTP/2 session for a
 * connection that negotiated h2) goes through the same conn, so the limits
 * below hold for every protocol on the listener.
 *
 * Phases, each with its own deadline; when it passes, the socket is shut
 * down (RST) and libevent frees the connection through its normal error path:
 *   NEW        accepted; admitted or refused before the loop reads a byte
 *   SILENT     admitted, no ClientHello processed yet       handshake_timeout_s
 *   HANDSHAKE  ClientHello processed, handshake not done     (same deadline)
 *   WAITING    handshake done, no request byte yet           handshake_timeout_s
 *   ACTIVE     a request has started                         request_timeout_s,
 *              re-armed by conn_activity() for each further request
 *
 * Admission (right after accept, with the peer address): refused when the
 * source address (IPv6: its /64) already has max_per_addr open connections or
 * max_hs_per_addr connections that have not completed a handshake. When the
 * listener already has max_conns connections, one connection that has no
 * request yet is shed to make room: a SILENT one if any, else a HANDSHAKE
 * one, else a WAITING one, chosen at random within the class (so a burst of
 * new connections cannot push out a given handshake in progress the way
 * oldest-first would). ACTIVE connections are never shed: when all max_conns
 * are ACTIVE, the new connection is refused. Refused and shed connections get
 * a TCP reset.
 *
 * Threads: conn_attach, conn_of, conn_activity run on the loop thread that
 * owns the connection. Shedding a connection of another loop activates that
 * connection's event, so the socket is only touched by its own loop. */
#ifndef CAIRN_SERVER_CONN_H
#define CAIRN_SERVER_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

struct conn_limits {
    size_t max_conns;            /* open connections on the listener (all loops) */
    size_t max_per_addr;         /* open connections from one source address */
    size_t max_hs_per_addr;      /* connections without a completed handshake from one address */
    int handshake_timeout_s;     /* accept -> handshake done, and handshake done -> first request byte */
    int request_timeout_s;       /* first request byte (or the previous request) -> next request complete */
};

/* Counters since the pool was created (for logs, metrics and tests). */
struct conn_stats {
    uint64_t open;               /* open admitted connections now */
    uint64_t admitted;
    uint64_t refused_addr;       /* over a per-address limit */
    uint64_t refused_full;       /* listener full of active connections */
    uint64_t shed;               /* closed to make room for a new connection */
    uint64_t deadline;           /* closed by a phase deadline */
};

struct conn_pool;
struct conn;

/* `name` is borrowed (the listener's, for logs). NULL on failure. */
struct conn_pool *conn_pool_new(const char *name, const struct conn_limits *lim);
/* After every connection of the pool is gone (the loops are stopped and their
 * connections freed). NULL is fine. */
void conn_pool_free(struct conn_pool *p);
void conn_pool_stats(struct conn_pool *p, struct conn_stats *out);

/* Runs once, on the owner loop, when the connection's TLS handshake is done:
 * inside the handshake, after evhttp installed its bufferevent callbacks and
 * before bufferevent_openssl reports BEV_EVENT_CONNECTED. This is where a
 * connection that negotiated ALPN "h2" is handed to an HTTP/2 session
 * (conn_set_session). */
typedef void (*conn_handshake_fn)(struct conn *c, const SSL *ssl, void *arg);

/* Called while the connection is set up (evhttp's bufferevent callback),
 * right after SSL_new and before the socket is attached to the SSL: admission
 * runs on `base` right after the accept callback returns. Sets the SSL's info
 * and message callbacks (which follow the phases), so nothing else may set
 * them: use `on_handshake` (may be NULL; `arg` is passed to it). Returns 0, or
 * -1 when out of memory (the caller must then make the handshake fail). */
int conn_attach(struct conn_pool *p, struct event_base *base, SSL *ssl, conn_handshake_fn on_handshake, void *arg);

/* The bufferevent serving the connection (set by the caller once it exists;
 * borrowed: it owns the SSL, hence the conn). */
void conn_set_bev(struct conn *c, struct bufferevent *bev);
struct bufferevent *conn_bev(const struct conn *c);

/* Hands the connection to a protocol session (HTTP/2), owned by the conn from
 * now on: `free_fn(session)` runs when the connection is freed, also when the
 * server stops with the session open. The session keeps its own request and
 * idle deadlines; the conn arms none after this (the handshake and first-byte
 * deadlines and shedding still apply until a request byte arrives). */
void conn_set_session(struct conn *c, void *session, void (*free_fn)(void *session));

/* Plain (non-TLS) connections: the same admission, cap, shedding and
 * deadlines. Without a handshake they are admitted WAITING (first request
 * byte within handshake_timeout_s); the first byte read makes them ACTIVE
 * (request_timeout_s), and each response written re-arms that deadline.
 * There is no SSL to carry the conn, so the caller ties it to the connection:
 * `on_start(c, arg)` runs on `base` right after the accept callback, before
 * admission (the place to hook the connection's close), and conn_release(c)
 * must run when the connection is freed, with `bev` still alive. `bev` is
 * the connection's (borrowed; its socket is attached by the accept callback
 * after this returns). NULL when out of memory. */
typedef void (*conn_start_fn)(struct conn *c, void *arg);
struct conn *conn_attach_plain(struct conn_pool *p, struct event_base *base, struct bufferevent *bev,
                               conn_start_fn on_start, void *arg);
void conn_release(struct conn *c);
/* Frees the plain conns on `base` whose first event has not run yet (so
 * on_start has not tied them to their connection). For a stopped loop, before
 * its connections are freed. */
void conn_pool_drop_pending(struct conn_pool *p, struct event_base *base);

/* The conn of a TLS connection, NULL when it has none. */
struct conn *conn_of(const SSL *ssl);

/* A request was received complete: the next one gets a fresh request
 * deadline (HTTP/1.1: per request; HTTP/2: per stream). */
void conn_activity(struct conn *c);

#endif
