/* TLS 1.3 server contexts: tickets off, client certificates checked by handlers. */
#include "server/tls.h"

#include <pthread.h>
#include <string.h>

#include <openssl/err.h>

/* The certificate chain is not what authenticates a peer here (the handler
 * checks the evidence binding or a user certificate), so accept any chain. */
static int accept_any(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

int srv_tls_ctx_new(X509 *cert, STACK_OF(X509) *chain, EVP_PKEY *key, enum srv_client_auth auth, SSL_CTX **out,
                    struct cairn_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "SSL_CTX_new failed");
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 || SSL_CTX_use_certificate(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        goto tls_fail;
    for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++)
        if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(chain, i)) != 1)
            goto tls_fail;
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (auth == SRV_CLIENT_AUTH_REQUEST)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
    else if (auth == SRV_CLIENT_AUTH_REQUIRE)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
    *out = ctx;
    return 0;
tls_fail:;
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return cairn_errf(err, CAIRN_ERR_TLS, "TLS context: %s", buf);
}

/* ALPN: the first of our protocols the client offers, in our order. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    static const char *const ours[] = {"h2", "http/1.1"};
    for (size_t k = 0; k < sizeof(ours) / sizeof(ours[0]); k++) {
        size_t ol = strlen(ours[k]);
        for (unsigned int i = 0; i < inlen;) {
            unsigned int l = in[i];
            if (i + 1 + l > inlen)
                return SSL_TLSEXT_ERR_NOACK;   /* malformed list: no ALPN */
            if (l == ol && memcmp(in + i + 1, ours[k], ol) == 0) {
                *out = in + i + 1;
                *outlen = (unsigned char)l;
                return SSL_TLSEXT_ERR_OK;
            }
            i += 1 + l;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static pthread_mutex_t g_alpn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_alpn_once = PTHREAD_ONCE_INIT;
static int g_alpn_idx = -1;

static void alpn_idx_init(void)
{
    g_alpn_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

void srv_tls_offer_h2(SSL_CTX *ctx)
{
    pthread_once(&g_alpn_once, alpn_idx_init);
    if (g_alpn_idx < 0)
        return;
    /* the context is shared by every loop thread: set it once, under a lock */
    pthread_mutex_lock(&g_alpn_lock);
    if (SSL_CTX_get_ex_data(ctx, g_alpn_idx) == NULL) {
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
        SSL_CTX_set_ex_data(ctx, g_alpn_idx, (void *)1);
    }
    pthread_mutex_unlock(&g_alpn_lock);
}
