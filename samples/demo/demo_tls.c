/* Demo helpers (see demo_tls.h). Deliberately small and blocking: one
 * connection at a time is plenty for a demo. */
#include "demo_tls.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

void demo_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s] ", demo_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char *need_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        demo_log("%s is not set: start this service through cairn-premain", name);
        exit(1);
    }
    return v;
}

/* Loads the certificate chain and key the Coordinator issued to us. */
static void use_marble_credentials(SSL_CTX *ctx)
{
    BIO *b = BIO_new_mem_buf(need_env("MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN"), -1);
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if (leaf == NULL || SSL_CTX_use_certificate(ctx, leaf) != 1) {
        demo_log("bad MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN");
        exit(1);
    }
    X509_free(leaf);
    X509 *extra; /* the Coordinator intermediate: lets outsiders verify us with the root */
    while ((extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        SSL_CTX_add0_chain_cert(ctx, extra);
    ERR_clear_error();
    BIO_free(b);
    b = BIO_new_mem_buf(need_env("MARBLE_PREDEFINED_PRIVATE_KEY"), -1);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (key == NULL || SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        demo_log("bad MARBLE_PREDEFINED_PRIVATE_KEY");
        exit(1);
    }
    EVP_PKEY_free(key);
}

/* Trust only the Marble Root: peers must be marbles of this deployment. */
static void trust_marble_root(SSL_CTX *ctx)
{
    BIO *b = BIO_new_mem_buf(need_env("MARBLE_PREDEFINED_ROOT_CA"), -1);
    X509 *root = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (root == NULL || X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), root) != 1) {
        demo_log("bad MARBLE_PREDEFINED_ROOT_CA");
        exit(1);
    }
    X509_free(root);
}

SSL_CTX *demo_server_ctx(int mutual)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    use_marble_credentials(ctx);
    if (mutual) {
        trust_marble_root(ctx);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return ctx;
}

SSL_CTX *demo_client_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    use_marble_credentials(ctx);
    trust_marble_root(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

void demo_peer_marble_type(SSL *ssl, char *out, size_t n)
{
    out[0] = '\0';
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (peer == NULL)
        return;
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.9903.2.1", 1);
    int idx = X509_get_ext_by_OBJ(peer, oid, -1);
    ASN1_OBJECT_free(oid);
    if (idx < 0)
        return;
    /* The value is the raw UTF-8 marble type (MarbleRun's encoding). */
    ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(peer, idx));
    size_t len = (size_t)ASN1_STRING_length(v);
    if (len >= n)
        len = n - 1;
    memcpy(out, ASN1_STRING_get0_data(v), len);
    out[len] = '\0';
}

int demo_query(const char *target, const char *name, char *out, size_t n)
{
    const char *q = strchr(target, '?');
    size_t nl = strlen(name);
    while (q != NULL) {
        q++;
        if (strncmp(q, name, nl) == 0 && q[nl] == '=') {
            const char *v = q + nl + 1;
            size_t len = strcspn(v, "&");
            if (len == 0 || len >= n)
                return -1;
            memcpy(out, v, len);
            out[len] = '\0';
            return 0;
        }
        q = strchr(q, '&');
    }
    return -1;
}

/* Splits "host:port". */
static int split_addr(const char *addr, char *host, size_t hn, char *port, size_t pn)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) >= hn || strlen(colon + 1) >= pn)
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

int demo_serve(SSL_CTX *ctx, demo_handler h)
{
    char host[256], port[16];
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill the service */
    const char *listen_addr = getenv("DEMO_LISTEN") ? getenv("DEMO_LISTEN") : "127.0.0.1:0";
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    if (split_addr(listen_addr, host, sizeof(host), port, sizeof(port)) != 0 ||
        getaddrinfo(host, port, &hints, &ai) != 0) {
        demo_log("DEMO_LISTEN=\"%s\": expected host:port", listen_addr);
        return 1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
        demo_log("cannot listen on %s", listen_addr);
        return 1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    int bound = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    const char *ready = getenv("DEMO_READY_FILE");
    if (ready != NULL) { /* write-then-rename: readers never see half a number */
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
        FILE *f = fopen(tmp, "w");
        if (f == NULL || fprintf(f, "%d\n", bound) < 0 || fclose(f) != 0 || rename(tmp, ready) != 0) {
            demo_log("cannot write %s", ready);
            return 1;
        }
    }
    demo_log("listening on %s:%d", host, bound);
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            continue;
        struct timeval tv = {5, 0}; /* a stuck client must not block the demo */
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        SSL *ssl = SSL_new(ctx);
        SSL_set_fd(ssl, c);
        char req[4096], body[8192], target[1024];
        int n = 0;
        if (SSL_accept(ssl) == 1) {
            int r;
            while (n < (int)sizeof(req) - 1 && (r = SSL_read(ssl, req + n, (int)sizeof(req) - 1 - n)) > 0) {
                n += r;
                req[n] = '\0';
                if (strstr(req, "\r\n\r\n") != NULL)
                    break;
            }
            req[n] = '\0';
            int status = 400;
            body[0] = '\0';
            if (sscanf(req, "GET %1023s HTTP/1.", target) == 1)
                status = h(ssl, target, body, sizeof(body));
            else
                snprintf(body, sizeof(body), "only GET is supported\n");
            char head[256];
            int hl = snprintf(head, sizeof(head),
                              "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                              "Connection: close\r\n\r\n",
                              status, status == 200 ? "OK" : "Error", strlen(body));
            SSL_write(ssl, head, hl);
            SSL_write(ssl, body, (int)strlen(body));
            SSL_shutdown(ssl);
        } else {
            demo_log("TLS handshake refused: %s", ERR_reason_error_string(ERR_peek_last_error()));
            ERR_clear_error();
        }
        SSL_free(ssl);
        close(c);
    }
}

int demo_get(SSL_CTX *ctx, const char *addr, const char *target, char *out, size_t n)
{
    char host[256], port[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    out[0] = '\0';
    if (split_addr(addr, host, sizeof(host), port, sizeof(port)) != 0 || getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    int ok = fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
    freeaddrinfo(ai);
    if (!ok) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    /* Check the server's name too, not only that it is a marble. */
    unsigned char ip[16];
    if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    else
        SSL_set1_host(ssl, host);
    int status = -1;
    if (SSL_connect(ssl) == 1) {
        char req[1400];
        int rl = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, addr);
        SSL_write(ssl, req, rl);
        char resp[16384];
        size_t got = 0;
        int r;
        while (got < sizeof(resp) - 1 && (r = SSL_read(ssl, resp + got, (int)(sizeof(resp) - 1 - got))) > 0)
            got += (size_t)r;
        resp[got] = '\0';
        const char *b = strstr(resp, "\r\n\r\n");
        if (sscanf(resp, "HTTP/1.%*d %d", &status) == 1 && b != NULL)
            snprintf(out, n, "%s", b + 4);
    } else {
        demo_log("TLS to %s failed: %s", addr, ERR_reason_error_string(ERR_peek_last_error()));
        ERR_clear_error();
    }
    SSL_free(ssl);
    close(fd);
    return status;
}
