/* Connection limits of TLS listeners against slow and idle clients:
 * a per-request deadline that trickling bytes cannot extend, a cap on open
 * connections, and keep-alive clients that are not hurt by either; admission
 * (issue 12 §3): handshake and first-byte deadlines, per-address limits, and
 * shedding connections without a request (silent ones first) at the cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "server/conn.h"
#include "server/http.h"
#include "server/tls.h"

static SSL_CTX *g_server_ctx;

static SSL_CTX *provide(void *arg)
{
    (void)arg;
    SSL_CTX_up_ref(g_server_ctx);
    return g_server_ctx;
}

static void h_ok(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_jsend_success(r, json_string("ok"));
}

static const struct srv_route k_routes[] = {{"/ok", SRV_GET, h_ok, 0}};

static void h_fallback(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_jsend_error(r, 405, "not allowed");
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int g_idx;

static struct srv *start_server_cfg(struct srv_listener_cfg cfg, int *port);

static struct srv *start_server(int timeout_s, size_t max_conns, int *port)
{
    struct srv_listener_cfg cfg = {.timeout_s = timeout_s, .max_conns = max_conns};
    return start_server_cfg(cfg, port);
}

static struct srv *start_server_cfg(struct srv_listener_cfg cfg, int *port)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(key);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"srv", -1, -1,
                               0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    assert_int_equal(srv_tls_ctx_new(x, NULL, key, SRV_CLIENT_AUTH_REQUEST, &g_server_ctx, NULL), 0);
    EVP_PKEY_free(key);
    X509_free(x);
    struct srv *s = srv_new(1);
    assert_non_null(s);
    cfg.name = "client";
    cfg.addr = "127.0.0.1:0";
    cfg.tls = provide;
    cfg.routes = k_routes;
    cfg.n_routes = 1;
    cfg.fallback = h_fallback;
    int idx = srv_add_listener(s, &cfg, NULL);
    assert_true(idx >= 0);
    g_idx = idx;
    *port = srv_listener_port(s, idx);
    assert_int_equal(srv_start(s, NULL), 0);
    return s;
}

static void stop_server(struct srv *s)
{
    srv_free(s);
    SSL_CTX_free(g_server_ctx);
    g_server_ctx = NULL;
}

/* A TLS client connection (blocking). NULL when the handshake fails. */
struct cli {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
};

/* A TCP connection from source address `src` (127.0.0.x) that sends nothing. */
static int tcp_open_from(int port, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (src != NULL) {
        struct sockaddr_in b = {.sin_family = AF_INET};
        inet_pton(AF_INET, src, &b.sin_addr);
        assert_int_equal(bind(fd, (struct sockaddr *)&b, sizeof(b)), 0);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* True when the server closed (EOF or reset) a connection that sent nothing. */
static bool tcp_closed_by_peer(int fd, int wait_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, wait_ms) <= 0)
        return false;
    char b[64];
    return recv(fd, b, sizeof(b), 0) <= 0;
}

static bool cli_open_from(int port, const char *src, struct cli *c)
{
    c->fd = tcp_open_from(port, src);
    c->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    return SSL_connect(c->ssl) == 1;
}

static bool cli_open(int port, struct cli *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    c->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    return SSL_connect(c->ssl) == 1;
}

static void cli_close(struct cli *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    close(c->fd);
}

/* True when the server has closed the connection (EOF or error on read). */
static bool cli_closed_by_peer(struct cli *c, int wait_ms)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, wait_ms) <= 0)
        return false;
    char b[256];
    int n = SSL_read(c->ssl, b, sizeof(b));
    return n <= 0;
}

/* Reads one whole response (headers and Content-Length bytes of body). */
static void read_response(struct cli *c, char *b, size_t cap)
{
    size_t len = 0;
    for (;;) {
        int n = SSL_read(c->ssl, b + len, (int)(cap - 1 - len));
        assert_true(n > 0);
        len += (size_t)n;
        b[len] = '\0';
        char *end = strstr(b, "\r\n\r\n");
        const char *cl = strcasestr(b, "Content-Length:");
        if (end != NULL && cl != NULL && len >= (size_t)(end + 4 - b) + strtoul(cl + 15, NULL, 10))
            return;
        assert_true(len < cap - 1);
    }
}

static void test_trickling_client_is_cut_off(void **state)
{
    (void)state;
    int port;
    struct srv *s = start_server(1, 0, &port);   /* idle timeout 1 s, deadline 3 s */
    struct cli c;
    assert_true(cli_open(port, &c));
    const char *head = "GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    assert_true(SSL_write(c.ssl, head, (int)strlen(head)) > 0);
    double t0 = now_s(), closed_at = 0;
    /* one byte every 300 ms: each byte restarts libevent's idle timeout */
    while (now_s() - t0 < 8) {
        if (SSL_write(c.ssl, "a", 1) <= 0 || cli_closed_by_peer(&c, 300)) {
            closed_at = now_s() - t0;
            break;
        }
    }
    assert_true(closed_at > 0);              /* without the deadline it stays open */
    assert_true(closed_at >= 2.0 && closed_at < 6.0);
    cli_close(&c);
    stop_server(s);
}

static void test_keepalive_client_is_not_cut_off(void **state)
{
    (void)state;
    int port;
    struct srv *s = start_server(1, 0, &port);
    struct cli c;
    assert_true(cli_open(port, &c));
    /* 6 requests 0.8 s apart on one connection: 4.8 s in all, past the 3 s
     * deadline, but each request starts a new one */
    const char *r = "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 6; i++) {
        assert_true(SSL_write(c.ssl, r, (int)strlen(r)) > 0);
        char b[2048];
        read_response(&c, b, sizeof(b));
        assert_non_null(strstr(b, "HTTP/1.1 200 OK"));
        usleep(800 * 1000);
    }
    cli_close(&c);
    stop_server(s);
}

/* One whole request/response on an open connection. */
static bool cli_get_ok(struct cli *c)
{
    const char *r = "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n";
    if (SSL_write(c->ssl, r, (int)strlen(r)) <= 0)
        return false;
    char b[2048];
    read_response(c, b, sizeof(b));
    return strstr(b, "HTTP/1.1 200 OK") != NULL;
}

/* Starts a request without finishing it: the connection is then ACTIVE. */
static void cli_start_request(struct cli *c)
{
    const char *head = "GET /ok HTTP/1.1\r\nHost: x\r\n";
    assert_true(SSL_write(c->ssl, head, (int)strlen(head)) > 0);
}

static struct conn_stats stats(struct srv *s)
{
    struct conn_stats st;
    assert_int_equal(srv_listener_conn_stats(s, g_idx, &st), 0);
    return st;
}

/* At the cap with every connection in the middle of a request, a new one is
 * refused; once one closes, the next is accepted. */
static void test_connection_cap(void **state)
{
    (void)state;
    int port;
    struct srv_listener_cfg cfg = {.timeout_s = 10, .max_conns = 2, .max_conns_per_addr = 10,
                                   .max_handshakes_per_addr = 10};
    struct srv *s = start_server_cfg(cfg, &port);
    struct cli a, b, c;
    assert_true(cli_open(port, &a));
    assert_true(cli_open(port, &b));
    cli_start_request(&a);
    cli_start_request(&b);
    usleep(200 * 1000);
    assert_false(cli_open(port, &c));      /* third: refused, nothing to shed */
    cli_close(&c);
    assert_false(cli_closed_by_peer(&a, 100));
    assert_false(cli_closed_by_peer(&b, 100));
    assert_int_equal(stats(s).refused_full, 1);
    cli_close(&a);
    /* the server notices the close, then a new connection is accepted */
    bool ok = false;
    for (int i = 0; i < 50 && !ok; i++) {
        usleep(50 * 1000);
        struct cli d;
        ok = cli_open(port, &d) && cli_get_ok(&d);
        cli_close(&d);
    }
    assert_true(ok);
    cli_close(&b);
    stop_server(s);
}

/* Issue 12 §3: connections that never send a byte do not lock the listener.
 * At the cap, a new connection sheds a silent one (before an established one
 * that has not sent a request, never one with a request), and is served. */
static void test_silent_connections_are_shed_first(void **state)
{
    (void)state;
    int port;
    struct srv_listener_cfg cfg = {.timeout_s = 10, .max_conns = 4, .max_conns_per_addr = 10,
                                   .max_handshakes_per_addr = 10};
    struct srv *s = start_server_cfg(cfg, &port);
    int silent[2];
    struct cli idle, busy;
    assert_true(cli_open(port, &idle));    /* handshake done, no request */
    assert_true(cli_open(port, &busy));
    cli_start_request(&busy);              /* a request in progress */
    silent[0] = tcp_open_from(port, NULL);
    silent[1] = tcp_open_from(port, NULL);
    usleep(200 * 1000);
    assert_int_equal(stats(s).open, 4);
    /* two new clients (kept open): each sheds one silent connection and is served */
    struct cli m[2];
    for (int i = 0; i < 2; i++) {
        assert_true(cli_open(port, &m[i]));
        assert_true(cli_get_ok(&m[i]));
    }
    assert_true(tcp_closed_by_peer(silent[0], 1000));
    assert_true(tcp_closed_by_peer(silent[1], 1000));
    assert_false(cli_closed_by_peer(&idle, 100));
    /* no silent one left: the next sheds the idle established one */
    usleep(200 * 1000);
    struct cli n;
    assert_true(cli_open(port, &n));
    assert_true(cli_get_ok(&n));
    assert_true(cli_closed_by_peer(&idle, 1000));
    /* the request in progress was never touched: it completes */
    const char *rest = "\r\n";
    assert_true(SSL_write(busy.ssl, rest, 2) > 0);
    char b[2048];
    read_response(&busy, b, sizeof(b));
    assert_non_null(strstr(b, "HTTP/1.1 200 OK"));
    assert_int_equal(stats(s).shed, 3);
    cli_close(&n);
    cli_close(&m[0]);
    cli_close(&m[1]);
    cli_close(&busy);
    cli_close(&idle);
    close(silent[0]);
    close(silent[1]);
    stop_server(s);
}

/* A connection that never sends a byte, or completes its handshake and then
 * sends nothing, is closed after the handshake timeout, not after 3 x the
 * request timeout. A request in progress is not. */
static void test_handshake_and_first_byte_deadlines(void **state)
{
    (void)state;
    int port;
    struct srv_listener_cfg cfg = {.timeout_s = 10, .handshake_timeout_s = 1};
    struct srv *s = start_server_cfg(cfg, &port);
    double t0 = now_s();
    int silent = tcp_open_from(port, NULL);
    struct cli idle, busy;
    assert_true(cli_open(port, &idle));
    assert_true(cli_open(port, &busy));
    cli_start_request(&busy);
    assert_true(tcp_closed_by_peer(silent, 4000));
    assert_true(cli_closed_by_peer(&idle, 4000));
    double t = now_s() - t0;
    assert_true(t >= 0.8 && t < 4.0);
    assert_false(cli_closed_by_peer(&busy, 1500));   /* 2.5 s after the start: still open */
    assert_true(SSL_write(busy.ssl, "\r\n", 2) > 0);
    char b[2048];
    read_response(&busy, b, sizeof(b));
    assert_non_null(strstr(b, "HTTP/1.1 200 OK"));
    assert_int_equal(stats(s).deadline, 2);
    close(silent);
    cli_close(&idle);
    cli_close(&busy);
    stop_server(s);
}

/* One source address cannot take more than its share: connections and
 * handshakes in progress per address are limited, other addresses are not
 * affected. */
static void test_per_address_limits(void **state)
{
    (void)state;
    int port;
    struct srv_listener_cfg cfg = {.timeout_s = 10, .max_conns = 100, .max_conns_per_addr = 3,
                                   .max_handshakes_per_addr = 2};
    struct srv *s = start_server_cfg(cfg, &port);
    int silent[2] = {tcp_open_from(port, "127.0.0.2"), tcp_open_from(port, "127.0.0.2")};
    usleep(200 * 1000);
    struct cli c;
    assert_false(cli_open_from(port, "127.0.0.2", &c));   /* 2 handshakes in progress already */
    cli_close(&c);
    assert_true(cli_open_from(port, "127.0.0.3", &c));    /* another address: fine */
    assert_true(cli_get_ok(&c));
    cli_close(&c);
    close(silent[0]);
    close(silent[1]);
    usleep(200 * 1000);
    struct cli k[4];
    for (int i = 0; i < 3; i++) {
        assert_true(cli_open_from(port, "127.0.0.2", &k[i]));
        cli_start_request(&k[i]);
    }
    usleep(100 * 1000);
    assert_false(cli_open_from(port, "127.0.0.2", &k[3]));   /* 3 open already */
    cli_close(&k[3]);
    assert_int_equal(stats(s).refused_addr, 2);
    for (int i = 0; i < 3; i++)
        cli_close(&k[i]);
    stop_server(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* writes after the server closed must fail, not kill the test */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trickling_client_is_cut_off),
        cmocka_unit_test(test_keepalive_client_is_not_cut_off),
        cmocka_unit_test(test_connection_cap),
        cmocka_unit_test(test_silent_connections_are_shed_first),
        cmocka_unit_test(test_handshake_and_first_byte_deadlines),
        cmocka_unit_test(test_per_address_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
