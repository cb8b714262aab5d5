/* Internal: TLS server contexts for the Coordinator's listeners (DESIGN §4).
 *
 * TLS 1.3 only, session tickets off (SSL_CTX_set_num_tickets(ctx, 0): about
 * 35% less server CPU per mTLS handshake, deps.md §1.6). Client certificates
 * are requested and any certificate is accepted at the TLS layer: TLS 1.3
 * still proves possession of the key (CertificateVerify), and the handlers
 * authenticate the certificate itself (evidence binding, user certificates). */
#ifndef CAIRN_SERVER_TLS_H
#define CAIRN_SERVER_TLS_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "common/error.h"

enum srv_client_auth {
    SRV_CLIENT_AUTH_NONE,      /* no CertificateRequest */
    SRV_CLIENT_AUTH_REQUEST,   /* requested, optional (client API) */
    SRV_CLIENT_AUTH_REQUIRE,   /* required, any issuer (mesh API) */
};

/* New SSL_CTX presenting `cert` (+ `chain`, may be NULL) with `key`. All
 * inputs are borrowed (the context takes its own references).
 * *out: SSL_CTX_free. */
int srv_tls_ctx_new(X509 *cert, STACK_OF(X509) *chain, EVP_PKEY *key, enum srv_client_auth auth, SSL_CTX **out,
                    struct cairn_error *err);

/* Offers ALPN "h2" (gRPC, src/server/h2.c) before "http/1.1" on `ctx`: a
 * client listing "h2" gets it, one listing only "http/1.1" gets that, and a
 * client without ALPN (or with neither) continues without, as HTTP/1.1.
 * Idempotent and thread-safe: listeners call it on each provider context
 * before their first SSL_new on it. */
void srv_tls_offer_h2(SSL_CTX *ctx);

#endif
