/* Internal to libcairn (src/client): HTTP transport, JSend decoding, policy
 * parsing and Coordinator-answer verification. Not installed. */
#ifndef CAIRN_CLIENT_INTERNAL_H
#define CAIRN_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "attest/policy.h"
#include "cairn/client.h"
#include "common/error.h"

#define CLIENT_RESPONSE_MAX (16u * 1024 * 1024) /* bytes of one HTTP response body */
#define CLIENT_MESSAGE_MAX 300                  /* chars of a server message we repeat */
#define CLIENT_DEFAULT_TIMEOUT_MS 30000L

#define CLIENT_ADDR_LIST_MAX 16                 /* Coordinator addresses in one list */

struct cairn_client {
    char **urls;             /* every address of the list as "https://host:port", owned */
    size_t n_urls;
    size_t cur;              /* the one that answered last */
    struct cairn_failover fo;
    const char *base_url;    /* urls[cur] (borrowed) */
    const char *address;     /* urls[cur] without "https://", for messages (borrowed) */
    char *root_pem;          /* pinned root, or NULL */
    char *root_pin;          /* "sha256//<base64>" of the root's public key, with root_pem */
    bool insecure;
    char *cert_pem;
    char *key_pem;           /* secret: wiped on free */
    size_t key_pem_len;
    X509 *id_cert;           /* or a client identity as objects (client_set_identity), owned */
    EVP_PKEY *id_key;        /* e.g. a PKCS#11 key of the CLI; owned */
    long timeout_ms;
    long last_status;
    struct cairn_error err;
};

/* TLS settings of one request (all borrowed). */
struct client_tls {
    const char *root_pem;    /* pin this root (CA file blob); NULL = none */
    const char *root_pin;    /* and require the server key to be the root's ("sha256//..."); may be NULL */
    bool insecure;           /* no server authentication */
    const char *cert_pem;    /* client certificate (PEM) or NULL */
    const char *key_pem;
    X509 *id_cert;           /* or the client identity as objects (both or neither) */
    EVP_PKEY *id_key;
    bool tls13_only;
    long connect_timeout_ms; /* TCP + TLS connect; 0 = within the request timeout */
    /* Custom server check (replaces chain verification): called by OpenSSL
     * with the server's chain; return 1 to accept. */
    int (*verify_cb)(X509_STORE_CTX *ctx, void *arg);
    void *verify_arg;
};

struct client_http_resp {
    long status;
    uint8_t *body;           /* owned, NUL-terminated */
    size_t len;
    /* gRPC (content type application/grpc): the grpc-status and grpc-message
     * headers or trailers; grpc_status -1 when none arrived */
    int grpc_status;
    char grpc_message[512];
    /* on a transport error: bytes of the request left this host, so the
     * server may have acted on it (failover must not resend a change) */
    bool request_sent;
};

/* Sets the client's TLS identity from objects instead of PEM (the CLI's
 * PKCS#11 keys: an ENGINE key cannot be written as PEM). Takes its own
 * references to both; replaces any PEM identity. Internal to the tree (not
 * exported from libcairn.so). Returns 0 or CAIRN_ERR_INVALID. */
int client_set_identity(struct cairn_client *c, X509 *cert, EVP_PKEY *key);

/* "sha256//<base64 SHA-256 of the SubjectPublicKeyInfo>" of the first
 * certificate in `pem` (libcurl's CURLOPT_PINNEDPUBLICKEY form), malloc'd. */
int client_pubkey_pin(const char *pem, char **out);

/* Normalises "host:port", ":port", "host" or "https://host:port[/]" into
 * "https://host:port" (malloc'd). `default_port` is used when none is given. */
int client_base_url(const char *address, unsigned default_port, char **out, struct cairn_error *err);

/* ---- several addresses (failover.c) ---- */

/* Splits a comma-separated list (spaces around entries ignored, at most
 * CLIENT_ADDR_LIST_MAX) into base URLs as client_base_url makes them. */
int client_addr_list(const char *list, unsigned default_port, char ***out, size_t *out_n, struct cairn_error *err);
void client_addr_list_free(char **v, size_t n);
/* Whether an error of one address means "try the next one". */
bool client_failover_worthy(int rc);
/* `in` (may be NULL) with the defaults filled in for a list of `n_addrs`. */
void client_failover_effective(const struct cairn_failover *in, size_t n_addrs, struct cairn_failover *out);
void client_progress(const struct cairn_failover *fo, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void client_sleep_ms(long ms);

/* One HTTPS request. `body` may be NULL. Errors: CAIRN_ERR_NETWORK (cannot
 * connect / timeout), CAIRN_ERR_TLS (handshake or server authentication),
 * CAIRN_ERR_TOO_LARGE (response over CLIENT_RESPONSE_MAX), CAIRN_ERR_PROTOCOL.
 * Any HTTP status is a success here; out->status carries it. */
/* With content_type "application/grpc" the request goes over HTTP/2 (ALPN
 * h2) with TE: trailers, and grpc-status/grpc-message are collected from the
 * response headers and trailers (DESIGN §7: MarbleRun's gRPC activation). */
int client_http(const char *base_url, const char *method, const char *path, const void *body, size_t body_len,
                const char *content_type, const struct client_tls *tls, long timeout_ms,
                struct client_http_resp *out, struct cairn_error *err);
void client_http_resp_free(struct client_http_resp *r);

/* Decodes a JSend answer (pure; untrusted input). For 2xx the body must be
 * {"status":"success","data":...}: *out_data gets a new reference to data
 * (json null when absent). For any other status it fails with a code mapped
 * from the status (400 INVALID, 401 UNAUTHENTICATED, 403 PERMISSION,
 * 404 NOT_FOUND, 405 UNSUPPORTED, 410 UNSUPPORTED, 503 STATE, other PROTOCOL)
 * and a one-line message "HTTP <status>: <server message>" with the server's
 * message sanitised (control characters dropped, at most CLIENT_MESSAGE_MAX). */
int client_jsend_parse(long status, const uint8_t *body, size_t len, json_t **out_data, struct cairn_error *err);

/* Parses a Coordinator policy (a manifest package object, MarbleRun's
 * era-config.json fields) into `out` by checking it with the manifest rules.
 * The caller frees with tee_package_free(). */
int client_policy_parse(const char *json, size_t len, struct tee_package *out, struct cairn_error *err);

/* Checks the "data" of a /quote answer (pure apart from crypto): splits the
 * certificates, checks the intermediate chains to the self-signed root and,
 * unless `insecure`, verifies the evidence, its binding to
 * SHA-256(root DER || nonce) and the policy. Fills `out` only on success. */
int client_verify_quote_data(const json_t *data, const uint8_t *nonce, size_t nonce_len,
                             const struct tee_package *policy, bool insecure,
                             struct cairn_coordinator_certs *out, struct cairn_error *err);

/* The same with a trust directory (src/attest/trust_store.h; NULL = built-in
 * roots, no collateral): its roots, intermediates, CRLs and collateral for
 * the evidence type are passed to attest_verify. `ts` is borrowed. */
struct trust_store;
int client_verify_quote_data_trust(const json_t *data, const uint8_t *nonce, size_t nonce_len,
                                   const struct tee_package *policy, bool insecure, const struct trust_store *ts,
                                   struct cairn_coordinator_certs *out, struct cairn_error *err);
/* The trust directory to use: `configured` when not NULL ("" = none), else
 * $CAIRN_TRUST_DIR when set and non-empty, else NULL. */
const char *client_trust_dir(const char *configured);
/* Loads a trust directory (trust_store_load); *out: trust_store_free. */
int client_trust_open(const char *dir, struct trust_store **out, struct cairn_error *err);

/* Decodes the "data" of an activation answer ({"files","env","argv"};
 * untrusted). *out is owned: cairn_marble_params_free(). */
struct cairn_marble_params;
int client_activation_parse(const json_t *data, struct cairn_marble_params **out, struct cairn_error *err);

/* The marble's TLS identity (inventory §3.1): a fresh P-384 key, a
 * self-signed certificate (CN "MarbleRun Marble", DNS names and IP literals of
 * `names` (default "localhost") plus 127.0.0.1 and ::1, KU DigitalSignature |
 * KeyAgreement, EKU serverAuth + clientAuth, valid ~292 years) and a CSR with
 * the same key and SANs and no subject. Outputs owned by the caller. */
int client_marble_identity(const char *const *names, size_t n_names, EVP_PKEY **out_key, X509 **out_cert,
                           X509_REQ **out_csr, struct cairn_error *err);

/* Keeps only printable characters of `s` (up to `max`) in a new string. */
char *client_sanitize(const char *s, size_t len, size_t max);

#endif
