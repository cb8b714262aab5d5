/* TLS 1.3 server contexts: tickets off, client certificates checked by handlers. */
#include "server/tls.h"

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
