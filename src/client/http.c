/* HTTPS transport over libcurl: one easy handle per request (no connection
 * reuse, so a pinned root or a custom check applies to every request). */
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "client/client_internal.h"
#include "common/buf.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "rpc/grpc_wire.h"

int client_pubkey_pin(const char *pem, char **out)
{
    X509 *x = NULL;
    uint8_t *spki = NULL;
    size_t n = 0;
    if (cc_cert_from_pem(pem, strlen(pem), &x, NULL) != 0)
        return CAIRN_ERR_INVALID;
    int rc = cc_pubkey_to_spki_der(X509_get0_pubkey(x), &spki, &n);
    X509_free(x);
    if (rc != 0)
        return CAIRN_ERR_INVALID;
    uint8_t h[32];
    cc_sha256(spki, n, h);
    free(spki);
    char *b64 = cairn_base64_encode(h, sizeof(h));
    char *pin = NULL;
    if (b64 == NULL || asprintf(&pin, "sha256//%s", b64) < 0)
        pin = NULL;
    free(b64);
    if (pin == NULL)
        return CAIRN_ERR_NOMEM;
    *out = pin;
    return 0;
}

int client_base_url(const char *address, unsigned default_port, char **out, struct cairn_error *err)
{
    if (address == NULL || address[0] == '\0')
        return cairn_errf(err, CAIRN_ERR_INVALID, "address: empty (expected host:port)");
    const char *a = address;
    if (strncmp(a, "https://", 8) == 0)
        a += 8;
    else if (strstr(a, "://") != NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "address \"%s\": only https:// is supported", address);
    size_t n = strlen(a);
    while (n > 0 && a[n - 1] == '/')
        n--;
    if (n == 0 || n > 255)
        return cairn_errf(err, CAIRN_ERR_INVALID, "address \"%s\": expected host:port", address);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)a[i];
        if (!(isalnum(ch) || ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '[' || ch == ']'))
            return cairn_errf(err, CAIRN_ERR_INVALID, "address \"%s\": invalid character '%c' (expected host:port)",
                              address, isprint(ch) ? ch : '?');
    }
    /* Split host and port: "[v6]:port", "host:port", ":port", "host". */
    char host[260];
    const char *port = NULL;
    size_t hlen;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (close == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "address \"%s\": unterminated IPv6 literal", address);
        hlen = (size_t)(close - a) + 1;
        if (hlen < n) {
            if (a[hlen] != ':')
                return cairn_errf(err, CAIRN_ERR_INVALID, "address \"%s\": expected ':' after ']'", address);
            port = a + hlen + 1;
        }
    } else {
        const char *colon = memchr(a, ':', n);
        if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon + 1 - a)) != NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "address \"%s\": write IPv6 hosts as [addr]:port", address);
        hlen = colon ? (size_t)(colon - a) : n;
        if (colon)
            port = colon + 1;
    }
    if (hlen == 0)
        memcpy(host, "localhost", 10);
    else {
        memcpy(host, a, hlen);
        host[hlen] = '\0';
    }
    unsigned long p = default_port;
    if (port != NULL) {
        size_t plen = n - (size_t)(port - a);
        if (plen == 0 || plen > 5)
            return cairn_errf(err, CAIRN_ERR_INVALID, "address \"%s\": invalid port", address);
        p = 0;
        for (size_t i = 0; i < plen; i++) {
            if (!isdigit((unsigned char)port[i]))
                return cairn_errf(err, CAIRN_ERR_INVALID, "address \"%s\": invalid port", address);
            p = p * 10 + (unsigned long)(port[i] - '0');
        }
        if (p == 0 || p > 65535)
            return cairn_errf(err, CAIRN_ERR_INVALID, "address \"%s\": port must be 1..65535", address);
    }
    char *url = NULL;
    if (asprintf(&url, "https://%s:%lu", host, p) < 0)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    *out = url;
    return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct cairn_buf *b = arg;
    size_t n = size * nmemb;
    if (cairn_buf_append(b, ptr, n) != 0)
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    return n;
}

static CURLcode on_ssl_ctx(CURL *curl, void *sslctx, void *arg)
{
    (void)curl;
    const struct client_tls *tls = arg;
    SSL_CTX *ctx = sslctx;
    if (tls->tls13_only)
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    if (tls->verify_cb != NULL) {
        /* curl set VERIFY_NONE (no CA store); our callback decides instead. */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_cert_verify_callback(ctx, tls->verify_cb, tls->verify_arg);
    }
    if (tls->id_cert != NULL && tls->id_key != NULL) {
        /* an identity given as objects (e.g. a PKCS#11 key behind an
         * ENGINE): curl only takes files and blobs */
        if (SSL_CTX_use_certificate(ctx, tls->id_cert) != 1 || SSL_CTX_use_PrivateKey(ctx, tls->id_key) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1)
            return CURLE_SSL_CERTPROBLEM;
    }
    return CURLE_OK;
}

/* gRPC status headers/trailers: libcurl hands HTTP/2 trailers to the header
 * callback like headers. Values are bounded and kept as text. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct client_http_resp *r = arg;
    grpc_status_line(ptr, size * nmemb, &r->grpc_status, r->grpc_message, sizeof(r->grpc_message));
    return size * nmemb;
}

void client_http_resp_free(struct client_http_resp *r)
{
    if (r == NULL)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

static int map_curl_error(CURLcode cc, const char *base_url, const char *detail, struct cairn_error *err)
{
    const char *d = detail[0] ? detail : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return cairn_errf(err, cc == CURLE_OPERATION_TIMEDOUT ? CAIRN_ERR_TIMEOUT : CAIRN_ERR_NETWORK,
                          "cannot reach %s: %s", base_url + 8, d);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ISSUER_ERROR:
        return cairn_errf(err, CAIRN_ERR_TLS, "TLS with %s failed: %s", base_url + 8, d);
    case CURLE_WRITE_ERROR:
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "answer from %s exceeds %u bytes", base_url + 8,
                          CLIENT_RESPONSE_MAX);
    default:
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "request to %s failed: %s", base_url + 8, d);
    }
}

int client_http(const char *base_url, const char *method, const char *path, const void *body, size_t body_len,
                const char *content_type, const struct client_tls *tls, long timeout_ms,
                struct client_http_resp *out, struct cairn_error *err)
{
    CURL *h = curl_easy_init();
    if (h == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "cannot create an HTTP handle");
    struct cairn_buf resp;
    cairn_buf_init(&resp, CLIENT_RESPONSE_MAX);
    struct curl_slist *hdrs = NULL;
    char *url = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    int rc = 0;
    if (asprintf(&url, "%s%s", base_url, path) < 0) {
        url = NULL;
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS);
    if (tls != NULL && tls->connect_timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, tls->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    bool grpc = content_type != NULL && strcmp(content_type, "application/grpc") == 0;
    out->grpc_status = -1;
    out->grpc_message[0] = '\0';
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)(grpc ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1));
    if (grpc) {
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    }
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never route Coordinator traffic through an env proxy */
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "application/json");
        hdrs = curl_slist_append(hdrs, ct);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    hdrs = curl_slist_append(hdrs, grpc ? "TE: trailers" : "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    if (tls->root_pem != NULL && !tls->insecure && tls->verify_cb == NULL) {
        struct curl_blob ca = {(void *)tls->root_pem, strlen(tls->root_pem), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        /* The client API presents the root certificate itself. Chaining to the
         * root is not enough: a marble's certificate chains to it too. */
        if (tls->root_pin != NULL)
            curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, tls->root_pin);
    } else {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (tls->cert_pem != NULL && tls->key_pem != NULL) {
        struct curl_blob cb = {(void *)tls->cert_pem, strlen(tls->cert_pem), CURL_BLOB_COPY};
        struct curl_blob kb = {(void *)tls->key_pem, strlen(tls->key_pem), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (tls->tls13_only)
        curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
    if (tls->tls13_only || tls->verify_cb != NULL || (tls->id_cert != NULL && tls->id_key != NULL)) {
        curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, (void *)tls);
    }

    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        long sent = 0;
        if (curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK && sent > 0)
            out->request_sent = true;
        rc = map_curl_error(cc, base_url, errbuf, err);
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    long ver = 0;
    if (grpc && (curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &ver) != CURLE_OK || ver != CURL_HTTP_VERSION_2_0)) {
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL,
                        "gRPC to %s: the server did not speak HTTP/2 (ALPN h2): not the Coordinator's mesh API (the "
                        "client API, default port 4433, serves no activation; the mesh API's default port is 2001)",
                        base_url + 8);
        goto out;
    }
    size_t len = 0;
    uint8_t *data = cairn_buf_take(&resp, &len);
    if (data == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    out->status = status;
    out->body = data;
    out->len = len;
out:
    cairn_buf_free(&resp);
    curl_slist_free_all(hdrs);
    free(url);
    curl_easy_cleanup(h);
    return rc;
}
