/* Connection limits of TLS listeners against slow and idle clients:
 * a per-request deadline that trickling bytes cannot extend, a cap on open
 * connections, and keep-alive clients that are not hurt by either. */
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

static struct srv *start_server(int timeout_s, size_t max_conns, int *port)
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
    struct srv_listener_cfg cfg = {.name = "client", .addr = "127.0.0.1:0", .tls = provide, .routes = k_routes,
                                   .n_routes = 1, .fallback = h_fallback, .timeout_s = timeout_s,
                                   .max_conns = max_conns};
    int idx = srv_add_listener(s, &cfg, NULL);
    assert_true(idx >= 0);
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

static void test_connection_cap(void **state)
{
    (void)state;
    int port;
    struct srv *s = start_server(10, 2, &port);
    struct cli a, b, c;
    assert_true(cli_open(port, &a));
    assert_true(cli_open(port, &b));
    assert_false(cli_open(port, &c));      /* third: handshake refused */
    cli_close(&c);
    cli_close(&a);
    /* the server notices the close, then a new connection is accepted */
    bool ok = false;
    for (int i = 0; i < 50 && !ok; i++) {
        usleep(50 * 1000);
        struct cli d;
        ok = cli_open(port, &d);
        cli_close(&d);
    }
    assert_true(ok);
    cli_close(&b);
    stop_server(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* writes after the server closed must fail, not kill the test */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trickling_client_is_cut_off),
        cmocka_unit_test(test_keepalive_client_is_not_cut_off),
        cmocka_unit_test(test_connection_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
