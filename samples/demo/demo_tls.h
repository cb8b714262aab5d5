/* Tiny helpers shared by the demo services: TLS from the credentials the
 * Coordinator hands every marble, a one-request-at-a-time HTTPS server, and an
 * HTTPS client. Only OpenSSL is used, so this is easy to copy into your own
 * service.
 *
 * What a marble receives (MarbleRun's names, set by cairn-premain):
 *   MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN  this marble's certificate + the
 *                                               Coordinator intermediate (PEM)
 *   MARBLE_PREDEFINED_PRIVATE_KEY               its private key (PEM)
 *   MARBLE_PREDEFINED_ROOT_CA                   the Marble Root: trust anchor
 *                                               for marble-to-marble TLS
 */
#ifndef DEMO_TLS_H
#define DEMO_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/* Server context with this marble's credentials. With `mutual`, clients
 * must present a marble certificate (chaining to the Marble Root). */
SSL_CTX *demo_server_ctx(int mutual);

/* Client context: presents this marble's certificate, trusts the Marble Root. */
SSL_CTX *demo_client_ctx(void);

/* The marble type of the peer's certificate (extension 1.3.9903.2.1, set by
 * the Coordinator), or "" if there is none. Writes at most n bytes. */
void demo_peer_marble_type(SSL *ssl, char *out, size_t n);

/* A handler gets the request target ("/vote?choice=cats") and the TLS
 * session, and writes the body (text) into out; returns the HTTP status. */
typedef int (*demo_handler)(SSL *ssl, const char *target, char *out, size_t n);

/* Listens on DEMO_LISTEN (host:port, port 0 = any), writes the bound port to
 * DEMO_READY_FILE if set, then serves forever. Returns only on setup errors. */
int demo_serve(SSL_CTX *ctx, demo_handler h);

/* GET https://<addr><target> with ctx; the body goes to out (NUL-terminated).
 * Returns the HTTP status, or -1 on connection/TLS failure. */
int demo_get(SSL_CTX *ctx, const char *addr, const char *target, char *out, size_t n);

/* Value of ?name= in target (URL-decoding not needed for the demo's words). */
int demo_query(const char *target, const char *name, char *out, size_t n);

/* Logs one line to stderr, prefixed with the service name. */
void demo_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern const char *demo_name;

#endif
