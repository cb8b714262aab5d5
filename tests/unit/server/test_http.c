/* The server layer against real sockets on 127.0.0.1 (ephemeral ports):
 * routing and 405 fallback, body caps, query parsing, JSend shapes, TLS 1.3
 * with optional client certificates, idle timeout, metrics text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "server/http.h"
#include "server/tls.h"

static void h_echo(struct srv_req *r, void *ctx)
{
    (void)ctx;
    char **v = NULL;
    int n = srv_req_query(r, "x", &v);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_string(v[i]));
    free(v);
    size_t len;
    const uint8_t *b = srv_req_body(r, &len);
    X509 *peer = srv_req_peer_cert(r);
    char cn[128] = "";
    if (peer != NULL)
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
    json_t *d = json_pack("{s:o, s:s%, s:s, s:s}", "x", arr, "body", b ? (const char *)b : "", len, "peer", cn,
                          "method", srv_req_method_name(r));
    srv_jsend_success(r, d);
}

static void h_err(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_jsend_error(r, 500, "broken: %s", "on purpose");
}

static void h_fallback(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_jsend_error(r, 405, "not allowed: %s %s", srv_req_method_name(r), srv_req_path(r));
}

static const struct srv_route k_routes[] = {
    {"/echo", SRV_GET | SRV_POST, h_echo, 0},
    {"/small", SRV_POST, h_echo, 10},
    {"/err", SRV_GET, h_err, 0},
};

struct resp {
    long code;
    char ctype[128];
    struct cairn_buf body;
};

static size_t wr(char *p, size_t sz, size_t n, void *u)
{
    struct resp *r = u;
    cairn_buf_append(&r->body, p, sz * n);
    return sz * n;
}

static void req(const char *url, const char *method, const char *body, size_t body_len, const char *cert_pem,
                const char *key_pem, struct resp *out)
{
    memset(out, 0, sizeof(*out));
    cairn_buf_init(&out->body, 1 << 20);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wr);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (method != NULL)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    if (cert_pem != NULL) {
        struct curl_blob cb = {(void *)cert_pem, strlen(cert_pem), CURL_BLOB_COPY};
        struct curl_blob kb = {(void *)key_pem, strlen(key_pem), CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->code);
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        if (ct != NULL)
            snprintf(out->ctype, sizeof(out->ctype), "%s", ct);
    } else {
        out->code = -1;
    }
    curl_easy_cleanup(c);
}

static json_t *body_json(struct resp *r)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)r->body.data, r->body.len, 0, &e);
    assert_non_null(j);
    return j;
}

static void test_plain_routing(void **state)
{
    (void)state;
    struct srv *s = srv_new(2);
    assert_non_null(s);
    struct srv_listener_cfg cfg = {.name = "client", .addr = "127.0.0.1:0", .routes = k_routes, .n_routes = 3,
                                   .fallback = h_fallback, .max_body = 1000, .metrics = true};
    int idx = srv_add_listener(s, &cfg, NULL);
    assert_true(idx >= 0);
    int port = srv_listener_port(s, idx);
    assert_true(port > 0);
    assert_int_equal(srv_start(s, NULL), 0);
    char url[128];
    struct resp r;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo?x=a%%20b&y=1&x=c", port);
    req(url, NULL, NULL, 0, NULL, NULL, &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.ctype, "application/json");
    json_t *j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "success");
    json_t *x = json_object_get(json_object_get(j, "data"), "x");
    assert_int_equal(json_array_size(x), 2);
    assert_string_equal(json_string_value(json_array_get(x, 0)), "a b");
    assert_string_equal(json_string_value(json_array_get(x, 1)), "c");
    json_decref(j);
    cairn_buf_free(&r.body);

    /* POST body reaches the handler */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port);
    req(url, NULL, "hello", 5, NULL, NULL, &r);
    assert_int_equal(r.code, 200);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "data"), "body")), "hello");
    json_decref(j);
    cairn_buf_free(&r.body);

    /* unknown path and wrong method -> fallback (405 error envelope, text/plain + newline) */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", port);
    req(url, NULL, NULL, 0, NULL, NULL, &r);
    assert_int_equal(r.code, 405);
    assert_string_equal(r.ctype, "text/plain; charset=utf-8");
    assert_int_equal(r.body.data[r.body.len - 1], '\n');
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "error");
    assert_true(json_is_null(json_object_get(j, "data")));
    assert_string_equal(json_string_value(json_object_get(j, "message")), "not allowed: GET /nope");
    json_decref(j);
    cairn_buf_free(&r.body);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port);
    req(url, "DELETE", NULL, 0, NULL, NULL, &r);
    assert_int_equal(r.code, 405);
    cairn_buf_free(&r.body);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/err", port);
    req(url, "POST", "", 0, NULL, NULL, &r);
    assert_int_equal(r.code, 405);
    cairn_buf_free(&r.body);

    /* per-route cap -> 413 JSend fail naming the limit */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/small", port);
    req(url, NULL, "0123456789X", 11, NULL, NULL, &r);
    assert_int_equal(r.code, 413);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "fail");
    assert_string_equal(json_string_value(json_object_get(j, "message")),
                        "request body too large: 11 bytes, limit 10");
    json_decref(j);
    cairn_buf_free(&r.body);
    req(url, NULL, "0123456789", 10, NULL, NULL, &r);
    assert_int_equal(r.code, 200);
    cairn_buf_free(&r.body);

    /* listener cap: libevent refuses before reading the body */
    char *big = malloc(5000);
    memset(big, 'a', 5000);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port);
    req(url, NULL, big, 5000, NULL, NULL, &r);
    assert_int_equal(r.code, 413);
    cairn_buf_free(&r.body);
    free(big);

    /* metrics */
    struct cairn_buf m;
    cairn_buf_init(&m, 1 << 20);
    assert_int_equal(srv_metrics_render(s, &m), 0);
    assert_non_null(strstr((char *)m.data, "server_client_api_http_request_total{path=\"/echo\",code=\"200\",method=\"get\"} 1\n"));
    assert_non_null(strstr((char *)m.data, "server_client_api_http_request_total{path=\"/echo\",code=\"200\",method=\"post\"} 1\n"));
    assert_non_null(strstr((char *)m.data, "server_client_api_http_request_total{path=\"/small\",code=\"413\",method=\"post\"} 1\n"));
    assert_non_null(strstr((char *)m.data, "server_client_api_http_request_total{path=\"other\",code=\"405\",method=\"get\"} 1\n"));
    assert_non_null(strstr((char *)m.data, "server_client_api_http_request_duration_histogram_seconds_count{path=\"/echo\",method=\"get\"} 1\n"));
    cairn_buf_free(&m);
    srv_free(s);
}

static void make_cert(const char *cn, EVP_PKEY **key, X509 **cert)
{
    *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(*key);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, *key);
    assert_true(X509_sign(x, *key, EVP_sha256()) > 0);
    *cert = x;
}

static char *to_pem_cert(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = strndup(p, (size_t)n);
    BIO_free(b);
    return s;
}

static char *to_pem_key(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = strndup(p, (size_t)n);
    BIO_free(b);
    return s;
}

static SSL_CTX *g_ctx;
static SSL_CTX *provide(void *ctx)
{
    (void)ctx;
    SSL_CTX_up_ref(g_ctx);
    return g_ctx;
}

static void test_tls_client_cert(void **state)
{
    (void)state;
    EVP_PKEY *skey, *ckey;
    X509 *scert, *ccert;
    make_cert("server", &skey, &scert);
    make_cert("marble-client", &ckey, &ccert);
    assert_int_equal(srv_tls_ctx_new(scert, NULL, skey, SRV_CLIENT_AUTH_REQUEST, &g_ctx, NULL), 0);
    struct srv *s = srv_new(2);
    struct srv_listener_cfg cfg = {.name = "client", .addr = "127.0.0.1:0", .tls = provide, .routes = k_routes,
                                   .n_routes = 3, .fallback = h_fallback};
    int idx = srv_add_listener(s, &cfg, NULL);
    assert_true(idx >= 0);
    assert_int_equal(srv_start(s, NULL), 0);
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/echo", srv_listener_port(s, idx));
    struct resp r;
    char *cp = to_pem_cert(ccert), *kp = to_pem_key(ckey);
    req(url, NULL, NULL, 0, cp, kp, &r);
    assert_int_equal(r.code, 200);
    json_t *j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "data"), "peer")), "marble-client");
    json_decref(j);
    cairn_buf_free(&r.body);
    req(url, NULL, NULL, 0, NULL, NULL, &r);   /* requested, not required */
    assert_int_equal(r.code, 200);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "data"), "peer")), "");
    json_decref(j);
    cairn_buf_free(&r.body);
    /* plain HTTP on the TLS port must not be served */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", srv_listener_port(s, idx));
    req(url, NULL, NULL, 0, NULL, NULL, &r);
    assert_true(r.code != 200);
    cairn_buf_free(&r.body);
    free(cp);
    free(kp);
    srv_free(s);
    SSL_CTX_free(g_ctx);
    EVP_PKEY_free(skey);
    EVP_PKEY_free(ckey);
    X509_free(scert);
    X509_free(ccert);
}

static void test_tls_require_and_idle_timeout(void **state)
{
    (void)state;
    EVP_PKEY *skey;
    X509 *scert;
    make_cert("server", &skey, &scert);
    assert_int_equal(srv_tls_ctx_new(scert, NULL, skey, SRV_CLIENT_AUTH_REQUIRE, &g_ctx, NULL), 0);
    struct srv *s = srv_new(1);
    struct srv_listener_cfg cfg = {.name = "mesh", .addr = "127.0.0.1:0", .tls = provide, .routes = k_routes,
                                   .n_routes = 3, .fallback = h_fallback, .timeout_s = 1};
    int idx = srv_add_listener(s, &cfg, NULL);
    assert_int_equal(srv_start(s, NULL), 0);
    int port = srv_listener_port(s, idx);
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/echo", port);
    struct resp r;
    req(url, NULL, NULL, 0, NULL, NULL, &r);   /* no client cert: handshake refused */
    assert_int_equal(r.code, -1);
    cairn_buf_free(&r.body);

    /* a client that connects and sends nothing is dropped after the timeout */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    char c;
    assert_true(recv(fd, &c, 1, 0) <= 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(dt >= 0.5 && dt < 4.5);
    close(fd);
    srv_free(s);
    SSL_CTX_free(g_ctx);
    EVP_PKEY_free(skey);
    X509_free(scert);
}

static void test_parse_addr(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    unsigned l;
    struct cairn_error e = {0};
    assert_int_equal(srv_parse_addr(":4433", &ss, &l, &e), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(srv_parse_addr("[::1]:2001", &ss, &l, &e), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(srv_parse_addr("localhost:1", &ss, &l, &e), 0);
    assert_int_equal(srv_parse_addr("127.0.0.1:65536", &ss, &l, &e), CAIRN_ERR_INVALID);
    assert_int_equal(srv_parse_addr("example.com:80", &ss, &l, &e), CAIRN_ERR_INVALID);
    assert_non_null(strstr(e.msg, "example.com:80"));
    assert_int_equal(srv_parse_addr("4433", &ss, &l, &e), CAIRN_ERR_INVALID);
    assert_int_equal(srv_parse_addr("1.2.3.4:", &ss, &l, &e), CAIRN_ERR_INVALID);
}

/* Stopping right after starting must not lose the stop request (a loop
 * thread that has not entered its loop yet must still exit). */
static void test_start_stop_race(void **state)
{
    (void)state;
    for (int i = 0; i < 50; i++) {
        struct srv *s = srv_new(4);
        struct srv_listener_cfg cfg = {.name = "client", .addr = "127.0.0.1:0", .routes = k_routes, .n_routes = 3,
                                       .fallback = h_fallback};
        assert_true(srv_add_listener(s, &cfg, NULL) >= 0);
        assert_int_equal(srv_start(s, NULL), 0);
        srv_free(s);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_plain_routing),
        cmocka_unit_test(test_tls_client_cert),
        cmocka_unit_test(test_tls_require_and_idle_timeout),
        cmocka_unit_test(test_start_stop_race),
    };
    alarm(300);   /* a hang fails the test instead of stalling CI */
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
