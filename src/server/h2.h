/* Internal: gRPC over HTTP/2 on an accepted TLS connection (DESIGN §7).
 *
 * http.c hands a connection whose TLS handshake negotiated ALPN "h2" to an
 * nghttp2 server session here. evhttp has no API to give up an accepted
 * connection, so the session takes over evhttp's bufferevent with public
 * calls only: it replaces evhttp's callbacks (bufferevent_setcb) and, when the
 * session ends, frees evhttp's connection object with evhttp_connection_free
 * (the callback argument evhttp set), which frees the bufferevent, the SSL and
 * the socket as for any HTTP/1.1 connection. The session itself belongs to
 * the connection's struct conn in http.c and is freed with it (srv_h2_free),
 * also when the server stops with the session still open.
 *
 * Untrusted input limits: header lists (bytes and count), one message per
 * stream capped on its 5-byte prefix before allocation, a per-connection
 * budget of buffered message bytes, SETTINGS_MAX_CONCURRENT_STREAMS,
 * client stream resets (CVE-2023-44487 rapid reset: token bucket, then
 * GOAWAY), nghttp2's flood limits for SETTINGS/PING acknowledgements (reading
 * stops while our output is not being read, so unacknowledged ACKs pile up
 * inside nghttp2 and trip its limit), an idle timeout, and a progress deadline:
 * a connection must complete a response every 3 x timeout_s. */
#ifndef CAIRN_SERVER_H2_H
#define CAIRN_SERVER_H2_H

#include <stddef.h>
#include <time.h>

#include <event2/bufferevent.h>

#include "server/http.h"

struct srv_h2_cfg {
    const char *name;                    /* listener name, for logs */
    const struct srv_grpc_method *methods;
    size_t n_methods;
    srv_h2_plain_fn plain;               /* non-gRPC requests; NULL = 415 */
    /* route statistics of plain requests (http.c); may be NULL */
    void (*record)(void *arg, const char *path, const char *method, const struct timespec *start, int status,
                   size_t resp_len);
    void *record_arg;
    void *ctx;                           /* handlers' ctx */
    size_t max_msg;                      /* default message cap (listener max_body) */
    size_t max_headers;                  /* header list cap in bytes */
    int timeout_s;
};

struct srv_h2;

/* Takes `bev` over from evhttp (see above). Call during or right after the
 * handshake that selected "h2", on the loop thread; `cfg` is copied (its
 * pointers borrowed). NULL on failure (the connection stays with evhttp). */
struct srv_h2 *srv_h2_start(struct bufferevent *bev, const struct srv_h2_cfg *cfg);

/* Frees the session; called when the connection's SSL is freed. Does not
 * touch the bufferevent (already being freed). NULL is fine. */
void srv_h2_free(struct srv_h2 *h);

#endif
