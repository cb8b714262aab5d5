/* loadgen: bounded load generator for the Coordinator benchmark (bench/run.sh).
 *
 *   loadgen activate ADDR TYPE [-c CONC] [-t SECONDS] [-n MAX] [-i IDENTITIES] [-p SERVER_PID]
 *   loadgen activate-grpc ADDR TYPE [same options]
 *   loadgen get ADDR PATH      [-c CONC] [-t SECONDS] [-n MAX] [-i IDENTITIES] [-p SERVER_PID]
 *   loadgen speed [-t SECONDS]
 *
 * activate: each request is a new TCP connection, a full TLS 1.3 handshake
 * with a simulated marble's self-signed P-384 client certificate (no session
 * resumption), and POST /api/v2/activate with a CSR and sim evidence; a fresh
 * random UUID per request. activate-grpc: the same request as MarbleRun's
 * gRPC rpc.Marble/Activate (protobuf ActivationReq, same CSR and evidence)
 * over HTTP/2 (ALPN h2, nghttp2 client session), success = grpc-status 0.
 * get: the same handshake, then GET PATH (the nginx
 * reference). Identities (key, cert, CSR, evidence) are made before the clock
 * starts so the client spends its CPU on the handshake only.
 * Bounds: at most -t seconds (default 5, hard cap 120) and -n requests.
 * Prints one JSON object: requests, errors, rate, latency mean/p50/p99/max (ms),
 * and with -p the server's CPU time per request and VmHWM/VmRSS (KiB).
 * speed: P-384 keygen/sign/verify, X25519 and HKDF with the same EVP calls the
 * Coordinator uses (ops per second, one thread). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <nghttp2/nghttp2.h>

#include "marble_sim.h"
#include "rpc/grpc_wire.h"

#define MAX_SAMPLES 2000000

struct ident {
    SSL_CTX *ctx;
    char *body;        /* activation JSON with a UUID placeholder at uuid_off */
    size_t body_len;
    size_t uuid_off;
};

static struct ident *g_ids;
static int g_nids;
static struct sockaddr_in g_addr;
static const char *g_mode, *g_path, *g_host;
static double g_deadline;
static long g_max;
static atomic_long g_issued, g_done, g_errors;
static double *g_lat;
static atomic_long g_nlat;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool g_grpc;

static int make_ident(const char *type, struct ident *id)
{
    struct marble_sim m;
    if (marble_sim_new(type, "00000000-0000-4000-8000-000000000000", MARBLE_SIM_OK, &m) != 0)
        return -1;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (g_grpc)
        SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x02h2", 3);
    BIO *cb = BIO_new_mem_buf(m.cert_pem, -1), *kb = BIO_new_mem_buf(m.key_pem, -1);
    X509 *x = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    int ok = x != NULL && k != NULL && SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, k) == 1;
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(cb);
    BIO_free(kb);
    if (!ok) {
        SSL_CTX_free(ctx);
        marble_sim_free(&m);
        return -1;
    }
    id->ctx = ctx;
    id->body = strdup(m.body);
    id->body_len = m.body_len;
    if (g_grpc) {
        /* the same request as a framed protobuf ActivationReq */
        json_t *j = json_loadb(m.body, m.body_len, 0, NULL);
        uint8_t *b = NULL;
        size_t bl = 0;
        if (j == NULL || grpc_activation_req_from_json(j, &b, &bl, NULL) != 0) {
            json_decref(j);
            SSL_CTX_free(ctx);
            marble_sim_free(&m);
            return -1;
        }
        json_decref(j);
        free(id->body);
        id->body = malloc(bl + 1);
        memcpy(id->body, b, bl);
        id->body[bl] = 0;
        id->body_len = bl;
        free(b);
    }
    char *u = memmem(id->body, id->body_len, "00000000-0000-4000-8000-000000000000", 36);
    id->uuid_off = u != NULL ? (size_t)(u - id->body) : 0;
    marble_sim_free(&m);
    return 0;
}

static void rand_uuid(char *out, unsigned *seed)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            out[i] = '-';
        else
            out[i] = hex[rand_r(seed) & 15];
    }
    out[14] = '4';
}

/* ---- gRPC over HTTP/2 (nghttp2 client session on the blocking SSL) ---- */

struct h2c {
    SSL *ssl;
    const uint8_t *body;
    size_t len, off;
    int grpc_status;
    bool closed;
};

static ssize_t h2c_send(nghttp2_session *s, const uint8_t *d, size_t n, int flags, void *ud)
{
    (void)s;
    (void)flags;
    struct h2c *c = ud;
    int w = SSL_write(c->ssl, d, (int)n);
    return w > 0 ? w : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int h2c_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                      const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)s;
    (void)f;
    (void)flags;
    struct h2c *c = ud;
    if (nl == 11 && memcmp(name, "grpc-status", 11) == 0 && vl > 0 && vl < 4) {
        char v[4] = {0};
        memcpy(v, value, vl);
        c->grpc_status = atoi(v);
    }
    return 0;
}

static int h2c_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)s;
    (void)id;
    (void)code;
    ((struct h2c *)ud)->closed = true;
    return 0;
}

static ssize_t h2c_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)src;
    struct h2c *c = ud;
    size_t n = c->len - c->off < len ? c->len - c->off : len;
    memcpy(buf, c->body + c->off, n);
    c->off += n;
    if (c->off == c->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* 200 when the call returned grpc-status 0, else the grpc-status (or -1). */
static int grpc_call(SSL *ssl, const uint8_t *body, size_t len)
{
    struct h2c c = {.ssl = ssl, .body = body, .len = len, .grpc_status = -1};
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_session *s = NULL;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return -1;
    nghttp2_session_callbacks_set_send_callback(cbs, h2c_send);
    nghttp2_session_callbacks_set_on_header_callback(cbs, h2c_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2c_close);
    int rc = nghttp2_session_client_new(&s, cbs, &c);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0)
        return -1;
    static const nghttp2_nv hdr[] = {
#define NV(n, v) {(uint8_t *)n, (uint8_t *)v, sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE}
        NV(":method", "POST"), NV(":scheme", "https"), NV(":path", "/rpc.Marble/Activate"),
        NV(":authority", "localhost"), NV("content-type", "application/grpc"), NV("te", "trailers"),
#undef NV
    };
    nghttp2_data_provider prd = {.read_callback = h2c_read};
    nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0);
    if (nghttp2_submit_request(s, NULL, hdr, sizeof(hdr) / sizeof(hdr[0]), &prd, NULL) < 0 ||
        nghttp2_session_send(s) != 0) {
        nghttp2_session_del(s);
        return -1;
    }
    uint8_t buf[16384];
    while (!c.closed) {
        int r = SSL_read(ssl, buf, sizeof(buf));
        if (r <= 0 || nghttp2_session_mem_recv(s, buf, (size_t)r) < 0 || nghttp2_session_send(s) != 0)
            break;
    }
    nghttp2_session_del(s);
    return c.closed && c.grpc_status == 0 ? 200 : c.grpc_status;
}

/* One request on a new connection; returns the HTTP status or -1. */
static int one_request(struct ident *id, unsigned *seed)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) != 0) {
        close(fd);
        return -1;
    }
    SSL *ssl = SSL_new(id->ctx);
    SSL_set_fd(ssl, fd);
    int status = -1;
    char req[16384];
    int n;
    if (SSL_connect(ssl) != 1)
        goto out;
    if (g_grpc) {
        uint8_t *body = malloc(id->body_len);
        memcpy(body, id->body, id->body_len);
        if (id->uuid_off > 0)
            rand_uuid((char *)body + id->uuid_off, seed);
        status = grpc_call(ssl, body, id->body_len);
        free(body);
        goto out;
    }
    if (strcmp(g_mode, "activate") == 0) {
        char *body = malloc(id->body_len + 1);
        memcpy(body, id->body, id->body_len + 1);
        if (id->uuid_off > 0)
            rand_uuid(body + id->uuid_off, seed);
        n = snprintf(req, sizeof(req),
                     "POST /api/v2/activate HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     g_host, id->body_len);
        int ok = SSL_write(ssl, req, n) == n && SSL_write(ssl, body, (int)id->body_len) == (int)id->body_len;
        free(body);
        if (!ok)
            goto out;
    } else {
        n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", g_path, g_host);
        if (SSL_write(ssl, req, n) != n)
            goto out;
    }
    char buf[65536];
    size_t got = 0;
    for (;;) {
        int r = SSL_read(ssl, buf + got, (int)(sizeof(buf) - 1 - got));
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got >= sizeof(buf) - 1)
            got = 64;   /* keep the status line, drop the rest */
    }
    buf[got] = 0;
    if (got > 12 && strncmp(buf, "HTTP/1.", 7) == 0)
        status = atoi(buf + 9);
out:
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    ERR_clear_error();
    return status;
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u ^ (unsigned)time(NULL);
    long k = (long)(uintptr_t)arg;
    for (;;) {
        if (now_s() >= g_deadline)
            break;
        long i = atomic_fetch_add(&g_issued, 1);
        if (g_max > 0 && i >= g_max)
            break;
        struct ident *id = &g_ids[(k + i) % g_nids];
        double t0 = now_s();
        int st = one_request(id, &seed);
        double dt = now_s() - t0;
        if (st != 200) {
            atomic_fetch_add(&g_errors, 1);
            if (atomic_load(&g_errors) <= 3)
                fprintf(stderr, "loadgen: request failed with status %d\n", st);
        } else {
            long j = atomic_fetch_add(&g_nlat, 1);
            if (j < MAX_SAMPLES)
                g_lat[j] = dt;
            atomic_fetch_add(&g_done, 1);
        }
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int proc_cpu(long pid, double *out_s)
{
    char p[64], buf[4096];
    snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *s = strrchr(buf, ')');
    if (s == NULL)
        return -1;
    unsigned long ut = 0, st = 0;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    if (sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    *out_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

/* Sum over a process and its children (nginx workers): "pid,pid,..." list. */
static double cpu_of(const char *pids)
{
    double total = 0;
    char *copy = strdup(pids), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        double s = 0;
        if (proc_cpu(atol(t), &s) == 0)
            total += s;
    }
    free(copy);
    return total;
}

static long proc_kib(long pid, const char *field)
{
    char p[64], line[256];
    snprintf(p, sizeof(p), "/proc/%ld/status", pid);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return -1;
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            v = atol(line + fl + 1);
    fclose(f);
    return v;
}

static double bench_op(const char *what, double secs)
{
    double t0 = now_s(), end = t0 + secs;
    long n = 0;
    EVP_PKEY *k384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *kx = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    unsigned char msg[32] = {1}, sig[256];
    size_t sl = sizeof(sig);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_DigestSignInit_ex(m, NULL, "SHA384", NULL, NULL, k384, NULL);
    EVP_DigestSign(m, sig, &sl, msg, sizeof(msg));
    EVP_MD_CTX_free(m);
    while (now_s() < end) {
        for (int i = 0; i < 20; i++) {
            if (strcmp(what, "p384_keygen") == 0) {
                EVP_PKEY_free(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"));
            } else if (strcmp(what, "p384_sign") == 0) {
                size_t l = sizeof(sig);
                EVP_MD_CTX *c = EVP_MD_CTX_new();
                EVP_DigestSignInit_ex(c, NULL, "SHA384", NULL, NULL, k384, NULL);
                EVP_DigestSign(c, sig, &l, msg, sizeof(msg));
                EVP_MD_CTX_free(c);
            } else if (strcmp(what, "p384_verify") == 0) {
                EVP_MD_CTX *c = EVP_MD_CTX_new();
                EVP_DigestVerifyInit_ex(c, NULL, "SHA384", NULL, NULL, k384, NULL);
                EVP_DigestVerify(c, sig, sl, msg, sizeof(msg));
                EVP_MD_CTX_free(c);
            } else if (strcmp(what, "x25519_keygen_derive") == 0) {
                EVP_PKEY *e = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
                EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(e, NULL);
                unsigned char out[32];
                size_t ol = sizeof(out);
                EVP_PKEY_derive_init(c);
                EVP_PKEY_derive_set_peer(c, kx);
                EVP_PKEY_derive(c, out, &ol);
                EVP_PKEY_CTX_free(c);
                EVP_PKEY_free(e);
            } else if (strcmp(what, "hkdf_sha256") == 0) {
                EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
                unsigned char out[32];
                size_t ol = sizeof(out);
                EVP_PKEY_derive_init(c);
                EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256());
                EVP_PKEY_CTX_set1_hkdf_key(c, msg, 32);
                EVP_PKEY_CTX_set1_hkdf_salt(c, msg, 16);
                EVP_PKEY_derive(c, out, &ol);
                EVP_PKEY_CTX_free(c);
            }
            n++;
        }
    }
    EVP_PKEY_free(k384);
    EVP_PKEY_free(kx);
    return (double)n / (now_s() - t0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: loadgen activate|activate-grpc ADDR TYPE | get ADDR PATH | speed  [-c N] [-t S] [-n MAX] "
                        "[-i IDS] [-p PID[,PID...]]\n");
        return 2;
    }
    g_mode = argv[1];
    double secs = 5;
    int conc = 8, nids = 32;
    const char *pids = NULL;
    int argi = 2;
    if (strcmp(g_mode, "speed") != 0) {
        if (argc < 4) {
            fprintf(stderr, "loadgen: missing ADDR and TYPE/PATH\n");
            return 2;
        }
        g_host = argv[2];
        g_path = argv[3];
        argi = 4;
    }
    for (int i = argi; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-c") == 0)
            conc = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-t") == 0)
            secs = atof(argv[i + 1]);
        else if (strcmp(argv[i], "-n") == 0)
            g_max = atol(argv[i + 1]);
        else if (strcmp(argv[i], "-i") == 0)
            nids = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-p") == 0)
            pids = argv[i + 1];
    }
    if (secs <= 0 || secs > 120)
        secs = 120;
    if (conc < 1 || conc > 1024 || nids < 1 || nids > 10000) {
        fprintf(stderr, "loadgen: -c 1..1024, -i 1..10000\n");
        return 2;
    }
    if (strcmp(g_mode, "speed") == 0) {
        const char *ops[] = {"p384_keygen", "p384_sign", "p384_verify", "x25519_keygen_derive", "hkdf_sha256"};
        printf("{");
        for (int i = 0; i < 5; i++)
            printf("%s\"%s\":%.1f", i ? "," : "", ops[i], bench_op(ops[i], secs));
        printf("}\n");
        return 0;
    }
    char host[256];
    snprintf(host, sizeof(host), "%s", g_host);
    char *colon = strrchr(host, ':');
    if (colon == NULL) {
        fprintf(stderr, "loadgen: ADDR must be host:port\n");
        return 2;
    }
    *colon = 0;
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: ADDR must be an IPv4 address and port\n");
        return 2;
    }
    g_grpc = strcmp(g_mode, "activate-grpc") == 0;
    g_nids = nids;
    g_ids = calloc((size_t)nids, sizeof(*g_ids));
    for (int i = 0; i < nids; i++)
        if (make_ident(strncmp(g_mode, "activate", 8) == 0 ? g_path : "none", &g_ids[i]) != 0) {
            fprintf(stderr, "loadgen: cannot build identity %d\n", i);
            return 1;
        }
    g_lat = calloc(MAX_SAMPLES, sizeof(double));
    double cpu0 = pids != NULL ? cpu_of(pids) : 0;
    double t0 = now_s();
    g_deadline = t0 + secs;
    pthread_t *th = calloc((size_t)conc, sizeof(pthread_t));
    for (int i = 0; i < conc; i++)
        pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
    for (int i = 0; i < conc; i++)
        pthread_join(th[i], NULL);
    double el = now_s() - t0;
    double cpu1 = pids != NULL ? cpu_of(pids) : 0;
    long n = atomic_load(&g_nlat);
    if (n > MAX_SAMPLES)
        n = MAX_SAMPLES;
    qsort(g_lat, (size_t)n, sizeof(double), cmp_d);
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += g_lat[i];
    long done = atomic_load(&g_done);
    printf("{\"mode\":\"%s\",\"concurrency\":%d,\"seconds\":%.3f,\"ok\":%ld,\"errors\":%ld,\"rate\":%.1f", g_mode, conc,
           el, done, atomic_load(&g_errors), (double)done / el);
    if (n > 0)
        printf(",\"mean_ms\":%.2f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f", sum / (double)n * 1e3,
               g_lat[n / 2] * 1e3, g_lat[(long)((double)(n - 1) * 0.99)] * 1e3, g_lat[n - 1] * 1e3);
    if (pids != NULL) {
        long first = atol(pids);
        printf(",\"server_cpu_s\":%.3f,\"server_cpu_us_per_req\":%.0f,\"server_vmhwm_kib\":%ld,\"server_vmrss_kib\":%ld",
               cpu1 - cpu0, done > 0 ? (cpu1 - cpu0) / (double)done * 1e6 : 0, proc_kib(first, "VmHWM"),
               proc_kib(first, "VmRSS"));
    }
    printf("}\n");
    for (int i = 0; i < nids; i++) {
        SSL_CTX_free(g_ids[i].ctx);
        free(g_ids[i].body);
    }
    free(g_ids);
    free(g_lat);
    free(th);
    return 0;
}
