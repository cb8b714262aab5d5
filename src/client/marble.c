/* Marble activation (inventory §3.1, DESIGN §7 and the shared mesh protocol):
 * key + self-signed cert + CSR + evidence over SHA-256(cert DER), then
 * POST /api/v2/activate over mutual TLS 1.3. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "attest/issuer.h"
#include "cairn/cairn.h"
#include "client/client_internal.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "rpc/grpc_wire.h"

#define ACTIVATE_MAX_ENTRIES 4096
#define ACTIVATE_MAX_NAMES 64
/* Go's "now + MaxInt64 nanoseconds" (about 292 years), MarbleRun's NotAfter. */
#define MARBLE_CERT_LIFETIME_S 9223372036LL

int cairn_uuid_generate(char out[37])
{
    uint8_t b[16];
    if (cc_random(b, sizeof(b)) != 0)
        return CAIRN_ERR_CRYPTO;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

int cairn_uuid_check(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return CAIRN_ERR_INVALID;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return CAIRN_ERR_INVALID;
    }
    return 0;
}

static void file_clear(struct cairn_marble_file *f)
{
    free(f->path);
    if (f->data != NULL) {
        cc_wipe(f->data, f->size);
        free(f->data);
    }
}

void cairn_marble_params_free(struct cairn_marble_params *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_files; i++)
        file_clear(&p->files[i]);
    for (size_t i = 0; i < p->n_env; i++)
        file_clear(&p->env[i]);
    free(p->files);
    free(p->env);
    for (size_t i = 0; i < p->argc; i++)
        free(p->argv[i]);
    free(p->argv);
    free(p->evidence_type);
    free(p);
}

/* {"name": base64} -> array of entries. */
static int parse_map(const json_t *o, const char *what, struct cairn_marble_file **out, size_t *n_out,
                     struct cairn_error *err)
{
    if (o == NULL || json_is_null(o)) {
        *out = NULL;
        *n_out = 0;
        return 0;
    }
    if (!json_is_object(o))
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "activation answer: \"%s\" is not an object", what);
    size_t n = json_object_size(o);
    if (n > ACTIVATE_MAX_ENTRIES)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "activation answer: more than %d \"%s\" entries",
                          ACTIVATE_MAX_ENTRIES, what);
    struct cairn_marble_file *v = calloc(n ? n : 1, sizeof(*v));
    if (v == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    size_t i = 0;
    const char *k;
    const json_t *val;
    int rc = 0;
    json_object_foreach((json_t *)o, k, val) {
        if (k[0] == '\0') {
            rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "activation answer: empty %s name", what);
            break;
        }
        if (!json_is_string(val)) {
            rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "activation answer: %s \"%s\" is not a base64 string", what, k);
            break;
        }
        v[i].path = strdup(k);
        if (v[i].path == NULL ||
            cairn_base64_decode(json_string_value(val), json_string_length(val), &v[i].data, &v[i].size) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "activation answer: %s \"%s\" is not valid base64", what, k);
            i++;
            break;
        }
        i++;
    }
    if (rc != 0) {
        for (size_t j = 0; j < i; j++)
            file_clear(&v[j]);
        free(v);
        return rc;
    }
    *out = v;
    *n_out = n;
    return 0;
}

int client_activation_parse(const json_t *data, struct cairn_marble_params **out, struct cairn_error *err)
{
    if (!json_is_object(data))
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "activation answer: data is not an object");
    struct cairn_marble_params *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    int rc = parse_map(json_object_get(data, "files"), "file", &p->files, &p->n_files, err);
    if (rc == 0)
        rc = parse_map(json_object_get(data, "env"), "env", &p->env, &p->n_env, err);
    for (size_t i = 0; rc == 0 && i < p->n_env; i++) {
        if (memchr(p->env[i].data, '\0', p->env[i].size) != NULL || strchr(p->env[i].path, '=') != NULL)
            rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "activation answer: env \"%s\" has a NUL byte or '=' in it",
                            p->env[i].path);
    }
    const json_t *argv = json_object_get(data, "argv");
    if (rc == 0 && argv != NULL && !json_is_null(argv)) {
        if (!json_is_array(argv) || json_array_size(argv) > ACTIVATE_MAX_ENTRIES) {
            rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "activation answer: \"argv\" is not an array of strings");
        } else {
            size_t n = json_array_size(argv);
            p->argv = calloc(n + 1, sizeof(char *));
            if (p->argv == NULL)
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            for (size_t i = 0; rc == 0 && i < n; i++) {
                const json_t *a = json_array_get(argv, i);
                if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a)) {
                    rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "activation answer: argv[%zu] is not a string", i);
                    break;
                }
                if ((p->argv[i] = strdup(json_string_value(a))) == NULL)
                    rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
                p->argc = i + 1;
            }
        }
    }
    if (rc != 0) {
        cairn_marble_params_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* ---- Coordinator authentication on the mesh connection ------------------- */

struct mesh_check {
    X509 *root;              /* trusted Coordinator root */
    X509 *intermediate;      /* verified intermediate, or NULL */
    X509 *deferred;          /* server cert still to be proven after the answer (owned) */
    char reason[256];
};

/* True when `server` (self-signed, the Marble Root) carries the key of an
 * intermediate in `candidates` that chains to `root`. */
static bool key_of_verified_intermediate(X509 *server, STACK_OF(X509) *candidates, X509 *root)
{
    EVP_PKEY *sk = X509_get0_pubkey(server);
    if (sk == NULL || X509_verify(server, sk) != 1)
        return false;
    STACK_OF(X509) *roots = sk_X509_new_null();
    if (roots == NULL || !sk_X509_push(roots, root)) {
        sk_X509_free(roots);
        return false;
    }
    bool ok = false;
    for (int i = 0; !ok && candidates != NULL && i < sk_X509_num(candidates); i++) {
        X509 *x = sk_X509_value(candidates, i);
        if (x != server && cc_pubkey_equal(sk, X509_get0_pubkey(x)) &&
            cc_chain_verify(x, NULL, roots, NULL, 0, NULL) == 0)
            ok = true;
    }
    sk_X509_free(roots); /* does not free root */
    return ok;
}

/* Accepts the mesh server certificate (the Marble Root: self-signed with the
 * intermediate key) when it is signed by the key of an intermediate that
 * chains to the trusted root. The intermediate comes from the configuration
 * (fetched from the client API), or from the chain the server sends. When
 * neither is available, the decision is deferred: the TLS handshake still
 * proves the server holds the certificate's key, and the activation answer
 * carries the intermediate (MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN), which
 * is checked before anything in the answer is used. */
static int mesh_verify_cb(X509_STORE_CTX *ctx, void *arg)
{
    struct mesh_check *mc = arg;
    X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(ctx);
    if (leaf == NULL) {
        snprintf(mc->reason, sizeof(mc->reason), "the server presented no certificate");
        X509_STORE_CTX_set_error(ctx, X509_V_ERR_CERT_UNTRUSTED);
        return 0;
    }
    STACK_OF(X509) *roots = sk_X509_new_null();
    bool ok = false;
    /* (a) the leaf is signed by the root key itself (the root or an
     * intermediate). Not "chains to the root": a marble's own certificate
     * chains to the root through the intermediate, and a marble must not be
     * able to pose as the Coordinator. */
    if (roots != NULL && sk_X509_push(roots, mc->root) && cc_chain_verify(leaf, NULL, roots, NULL, 0, NULL) == 0)
        ok = true;
    sk_X509_free(roots);
    /* (b) the key of the intermediate we already verified. */
    if (!ok && mc->intermediate != NULL) {
        STACK_OF(X509) *one = sk_X509_new_null();
        if (one != NULL && sk_X509_push(one, mc->intermediate))
            ok = key_of_verified_intermediate(leaf, one, mc->root);
        sk_X509_free(one);
        if (!ok) {
            snprintf(mc->reason, sizeof(mc->reason),
                     "the mesh server certificate does not belong to the Coordinator whose root was given "
                     "(impostor?)");
            X509_STORE_CTX_set_error(ctx, X509_V_ERR_CERT_UNTRUSTED);
            return 0;
        }
    }
    /* (c) the key of an intermediate the server sent along. */
    if (!ok)
        ok = key_of_verified_intermediate(leaf, chain, mc->root);
    if (ok)
        return 1;
    /* (d) decide once the answer (with the intermediate) is in. */
    X509_free(mc->deferred);
    X509_up_ref(leaf);
    mc->deferred = leaf;
    return 1;
}

/* Completes a deferred check with the intermediate from the answer. */
static int mesh_check_answer(struct mesh_check *mc, const struct cairn_marble_params *p, struct cairn_error *err)
{
    if (mc->deferred == NULL)
        return 0;
    for (size_t i = 0; i < p->n_env; i++) {
        if (strcmp(p->env[i].path, "MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN") != 0)
            continue;
        STACK_OF(X509) *chain = NULL;
        if (cc_certs_from_pem((const char *)p->env[i].data, p->env[i].size, &chain, NULL) != 0)
            break;
        bool ok = key_of_verified_intermediate(mc->deferred, chain, mc->root);
        sk_X509_pop_free(chain, X509_free);
        if (ok)
            return 0;
        break;
    }
    return cairn_errf(err, CAIRN_ERR_TLS,
                      "Coordinator authentication failed: the mesh server certificate does not belong to the "
                      "Coordinator whose root was given (impostor?); its answer was discarded");
}

static int seterr(char *errbuf, size_t n, const struct cairn_error *e)
{
    if (errbuf != NULL && n > 0)
        snprintf(errbuf, n, "%s", cairn_error_msg(e));
    return e->code ? e->code : CAIRN_ERR_INTERNAL;
}

/* Obtains the trusted root (and the intermediate, when reachable) for the
 * mesh check from the configuration. */
static int coordinator_trust(const struct cairn_marble_config *cfg, struct mesh_check *mc, struct cairn_error *err)
{
    char *root_pem = NULL;
    char *inter_pem = NULL;
    int rc = 0;
    if (cfg->coordinator_policy_json != NULL || cfg->coordinator_client_addr != NULL) {
        if (cfg->coordinator_client_addr == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "a Coordinator policy needs the Coordinator's client API address to fetch its quote");
        struct cairn_client_config cc = {.address = cfg->coordinator_client_addr,
                                         .root_ca_pem = cfg->coordinator_root_ca_pem,
                                         .timeout_ms = cfg->timeout_ms};
        struct cairn_client *c = NULL;
        rc = cairn_client_new(&cc, &c);
        if (rc != 0)
            return cairn_errf(err, rc, "Coordinator client address \"%s\" is invalid", cfg->coordinator_client_addr);
        if (cfg->coordinator_policy_json != NULL) {
            struct cairn_verify_config vc = {.policy_json = cfg->coordinator_policy_json};
            struct cairn_coordinator_certs certs = {0};
            rc = cairn_coordinator_verify(c, &vc, &certs);
            if (rc == 0) {
                if (cfg->coordinator_root_ca_pem != NULL) {
                    /* Both given: they must agree. */
                    X509 *a = NULL, *b = NULL;
                    if (cc_cert_from_pem(certs.root_pem, strlen(certs.root_pem), &a, NULL) != 0 ||
                        cc_cert_from_pem(cfg->coordinator_root_ca_pem, strlen(cfg->coordinator_root_ca_pem), &b,
                                         NULL) != 0 ||
                        !cc_cert_equal(a, b))
                        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                                        "the verified Coordinator root differs from the root CA given");
                    X509_free(a);
                    X509_free(b);
                }
                root_pem = certs.root_pem;
                inter_pem = certs.intermediate_pem;
                certs.root_pem = certs.intermediate_pem = NULL;
            } else {
                /* Only an unreachable client API is worth retrying; a
                 * Coordinator without a quote (simulation) or with the wrong
                 * identity will not change its mind. */
                if (rc == CAIRN_ERR_STATE)
                    rc = CAIRN_ERR_VERIFY;
                cairn_errf(err, rc, "Coordinator verification failed: %s", cairn_client_last_error(c));
            }
            cairn_coordinator_certs_free(&certs);
        } else {
            /* Root given: the client API presents the root itself, so a TLS
             * connection pinned to it yields an authentic intermediate. */
            struct cairn_quote q = {0};
            rc = cairn_quote_get(c, NULL, 0, &q);
            if (rc == 0) {
                root_pem = strdup(cfg->coordinator_root_ca_pem);
                inter_pem = q.cert_pem;
                q.cert_pem = NULL;
            } else {
                if (rc == CAIRN_ERR_STATE)
                    rc = CAIRN_ERR_VERIFY;
                cairn_errf(err, rc, "cannot fetch the Coordinator's intermediate: %s", cairn_client_last_error(c));
            }
            cairn_quote_free(&q);
        }
        cairn_client_free(c);
        if (rc != 0) {
            free(root_pem);
            free(inter_pem);
            return rc;
        }
    } else {
        root_pem = strdup(cfg->coordinator_root_ca_pem);
    }
    rc = cc_cert_from_pem(root_pem, strlen(root_pem), &mc->root, err);
    if (rc != 0)
        cairn_err_prefix(err, "Coordinator root CA");
    if (rc == 0 && inter_pem != NULL && inter_pem[0] != '\0') {
        /* The first certificate of "intermediate PEM + root PEM". */
        rc = cc_cert_from_pem(inter_pem, strlen(inter_pem), &mc->intermediate, err);
        if (rc == 0 && cc_cert_equal(mc->intermediate, mc->root)) {
            X509_free(mc->intermediate);
            mc->intermediate = NULL;
        }
        if (rc == 0 && mc->intermediate != NULL) {
            STACK_OF(X509) *roots = sk_X509_new_null();
            if (roots != NULL && sk_X509_push(roots, mc->root))
                rc = cc_chain_verify(mc->intermediate, NULL, roots, NULL, 0, err);
            else
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            sk_X509_free(roots);
            if (rc != 0)
                cairn_err_prefix(err, "the Coordinator's intermediate does not chain to the root given");
        }
    }
    free(root_pem);
    free(inter_pem);
    return rc;
}

static bool is_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int client_marble_identity(const char *const *names, size_t n_names, EVP_PKEY **out_key, X509 **out_cert,
                           X509_REQ **out_csr, struct cairn_error *err)
{
    const char *dns[ACTIVATE_MAX_NAMES], *ips[ACTIVATE_MAX_NAMES + 2];
    size_t n_dns = 0, n_ips = 0;
    static const char *const def_dns[] = {"localhost"};
    if (n_names > ACTIVATE_MAX_NAMES)
        return cairn_errf(err, CAIRN_ERR_INVALID, "DNS names: at most %d", ACTIVATE_MAX_NAMES);
    if (n_names == 0) {
        names = def_dns;
        n_names = 1;
    }
    /* DNS entries and IP literals, plus the loopback addresses (MarbleRun). */
    for (size_t i = 0; i < n_names; i++) {
        if (names[i] == NULL || names[i][0] == '\0')
            continue;
        if (is_ip(names[i]))
            ips[n_ips++] = names[i];
        else
            dns[n_dns++] = names[i];
    }
    ips[n_ips++] = "127.0.0.1";
    ips[n_ips++] = "::1";
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    X509_REQ *csr = NULL;
    int rc = cc_key_generate(CC_KEY_EC_P384, 0, &key, err);
    const int eku[] = {CC_EKU_SERVER_AUTH, CC_EKU_CLIENT_AUTH};
    time_t now = time(NULL);
    struct cc_cert_template t = {
        .subject = {.common_name = "MarbleRun Marble"},
        .dns_names = dns, .n_dns = n_dns,
        .ip_addresses = ips, .n_ips = n_ips,
        .key_usage = CC_KU_DIGITAL_SIGNATURE | CC_KU_KEY_AGREEMENT,
        .ext_key_usage = eku, .n_eku = 2,
        .max_path_len = -1,
        .not_before = now,
        .not_after = (time_t)(now + MARBLE_CERT_LIFETIME_S),
    };
    if (rc == 0)
        rc = cc_cert_issue(&t, key, NULL, key, &cert, err);
    /* The CSR has no subject: the Coordinator sets CN = UUID. */
    if (rc == 0)
        rc = cc_csr_create(key, NULL, dns, n_dns, ips, n_ips, &csr, err);
    if (rc != 0) {
        EVP_PKEY_free(key);
        X509_free(cert);
        X509_REQ_free(csr);
        return rc;
    }
    *out_key = key;
    *out_cert = cert;
    *out_csr = csr;
    return 0;
}

/* A gRPC refusal as the error code and HTTP status the JSON wire gives for
 * the same refusal (callers retry on the same codes whatever the wire). */
static int grpc_refusal(int st, int *http, struct cairn_error *err, const char *base, const char *msg)
{
    int code;
    switch (st) {
    case GRPC_INVALID_ARGUMENT: code = CAIRN_ERR_INVALID; *http = 400; break;
    case GRPC_UNAUTHENTICATED: code = CAIRN_ERR_UNAUTHENTICATED; *http = 401; break;
    case GRPC_PERMISSION_DENIED: code = CAIRN_ERR_PERMISSION; *http = 403; break;
    case GRPC_FAILED_PRECONDITION:
    case GRPC_UNAVAILABLE: code = CAIRN_ERR_STATE; *http = 503; break;
    case GRPC_RESOURCE_EXHAUSTED: code = CAIRN_ERR_TOO_LARGE; *http = 413; break;
    default: code = CAIRN_ERR_PROTOCOL; *http = 500; break;
    }
    /* the server's text is untrusted: cairn_errf keeps it on one line */
    return cairn_errf(err, code, "activation refused by %s: gRPC %s: %s", base + 8, grpc_status_name(st), msg);
}

/* rpc.Marble/Activate: the JSON request object as a protobuf ActivationReq
 * over HTTP/2; the answer back in the JSON wire's form {"files","env","argv"}. */
static int activate_grpc(const char *base, const json_t *req, const struct client_tls *tls, long timeout_ms,
                         json_t **out_data, int *http, struct cairn_error *err)
{
    uint8_t *body = NULL;
    size_t len = 0;
    struct client_http_resp resp = {0};
    int rc = grpc_activation_req_from_json(req, &body, &len, err);
    if (rc == 0)
        rc = client_http(base, "POST", GRPC_ACTIVATE_PATH, body, len, "application/grpc", tls, timeout_ms, &resp,
                         err);
    free(body);
    if (rc != 0)
        goto out;
    *http = (int)resp.status;
    size_t n = 0;
    if (resp.status != 200) {
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "gRPC to %s: HTTP status %ld", base + 8, resp.status);
    } else if (resp.grpc_status < 0) {
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "gRPC to %s: no grpc-status in the answer", base + 8);
    } else if (resp.grpc_status != GRPC_OK) {
        rc = grpc_refusal(resp.grpc_status, http, err, base, resp.grpc_message);
    } else if (resp.len < GRPC_PREFIX_LEN ||
               grpc_prefix_parse(resp.body, CLIENT_RESPONSE_MAX, &n, err) != 0 || n != resp.len - GRPC_PREFIX_LEN) {
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "gRPC to %s: the answer is not one gRPC message", base + 8);
    } else {
        rc = grpc_activation_resp_to_json(resp.body + GRPC_PREFIX_LEN, n, out_data, err);
    }
out:
    if (resp.body != NULL)
        cc_wipe(resp.body, resp.len);
    client_http_resp_free(&resp);
    return rc;
}

static int activate_one(const struct cairn_marble_config *cfg, struct cairn_marble_params **out,
                        int *out_http_status, char *errbuf, size_t errbuf_size)
{
    struct cairn_error e = {0};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    X509_REQ *csr = NULL;
    char *cert_pem = NULL, *key_pem = NULL, *base = NULL, *body = NULL, *csr_b64 = NULL;
    size_t cert_pem_len = 0, key_pem_len = 0;
    uint8_t *cert_der = NULL, *csr_der = NULL;
    size_t cert_der_len = 0, csr_der_len = 0;
    struct attest_issued ev = {0};
    struct mesh_check mc = {0};
    struct client_http_resp resp = {0};
    json_t *req = NULL, *data = NULL;
    int rc;

    if (out_http_status)
        *out_http_status = 0;
    if (cairn_global_init() != 0) {
        rc = cairn_errf(&e, CAIRN_ERR_INTERNAL, "cannot initialise libcurl");
        goto out;
    }
    if (cfg == NULL || cfg->marble_type == NULL || cfg->marble_type[0] == '\0') {
        rc = cairn_errf(&e, CAIRN_ERR_INVALID, "marble type: required (EDG_MARBLE_TYPE)");
        goto out;
    }
    if (cairn_uuid_check(cfg->uuid) != 0) {
        rc = cairn_errf(&e, CAIRN_ERR_INVALID, "uuid \"%s\": not a canonical UUID", cfg->uuid ? cfg->uuid : "");
        goto out;
    }
    if ((rc = client_base_url(cfg->coordinator_addr ? cfg->coordinator_addr : "localhost:2001", 2001, &base, &e)) != 0)
        goto out;
    const char *proto = cfg->protocol != NULL ? cfg->protocol : getenv("CAIRN_ACTIVATION_PROTOCOL");
    if (proto == NULL || proto[0] == '\0')
        proto = "json";
    bool grpc = strcmp(proto, "grpc") == 0;
    if (!grpc && strcmp(proto, "json") != 0) {
        rc = cairn_errf(&e, CAIRN_ERR_INVALID, "activation protocol \"%s\": expected json or grpc "
                        "(CAIRN_ACTIVATION_PROTOCOL)", proto);
        goto out;
    }

    if ((rc = client_marble_identity(cfg->dns_names, cfg->n_dns_names, &key, &cert, &csr, &e)) != 0)
        goto out;
    if (cc_cert_to_der(cert, &cert_der, &cert_der_len) != 0 || cc_cert_to_pem(cert, &cert_pem, &cert_pem_len) != 0 ||
        cc_key_to_pkcs8_pem(key, &key_pem, &key_pem_len) != 0 || cc_csr_to_der(csr, &csr_der, &csr_der_len) != 0 ||
        (csr_b64 = cairn_base64_encode(csr_der, csr_der_len)) == NULL) {
        rc = cairn_errf(&e, CAIRN_ERR_CRYPTO, "cannot encode the marble certificate, key or CSR");
        goto out;
    }

    /* Evidence binds the TLS key: report data = SHA-256(cert DER) || zeros. */
    enum attest_type type;
    struct attest_issuer_config icfg = {.gramine_dir = cfg->gramine_dir, .configfs_tsm = cfg->configfs_tsm,
                                        .tpm_tcti = cfg->tpm_tcti, .tpm_pcrs = cfg->tpm_pcrs,
                                        .tpm_ak_cert = cfg->tpm_ak_cert, .tpm_ak_context = cfg->tpm_ak_context,
                                        .tpm_eventlog = cfg->tpm_eventlog,
                                        .tpm_pcr_signature = cfg->tpm_pcr_signature};
    if (cfg->evidence_type != NULL) {
        if (attest_type_parse(cfg->evidence_type, &type) != 0) {
            rc = cairn_errf(&e, CAIRN_ERR_INVALID, "evidence type \"%s\": expected sgx, tdx, snp, tpm or sim",
                            cfg->evidence_type);
            goto out;
        }
    } else {
        type = attest_probe(&icfg);
    }
    uint8_t rd[64] = {0};
    cc_sha256(cert_der, cert_der_len, rd);
    if ((rc = attest_issue(type, rd, &icfg, &ev, &e)) != 0) {
        cairn_err_prefix(&e, "cannot produce %s evidence", attest_type_name(type));
        goto out;
    }
    req = json_pack("{s:s, s:s, s:s}", "marbleType", cfg->marble_type, "uuid", cfg->uuid, "csr", csr_b64);
    if (req == NULL || attest_evidence_to_json(&ev, req) != 0 || (body = json_dumps(req, JSON_COMPACT)) == NULL) {
        rc = cairn_errf(&e, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }

    struct client_tls tls = {.insecure = true, .cert_pem = cert_pem, .key_pem = key_pem, .tls13_only = true};
    if (cfg->coordinator_root_ca_pem != NULL || cfg->coordinator_policy_json != NULL) {
        if ((rc = coordinator_trust(cfg, &mc, &e)) != 0)
            goto out;
        tls.insecure = false;
        tls.verify_cb = mesh_verify_cb;
        tls.verify_arg = &mc;
    }
    if (grpc) {
        int http = 0;
        rc = activate_grpc(base, req, &tls, cfg->timeout_ms, &data, &http, &e);
        if (out_http_status)
            *out_http_status = http;
        if (rc != 0 && mc.reason[0] != '\0')
            rc = cairn_errf(&e, CAIRN_ERR_TLS, "Coordinator authentication failed at %s: %s", base + 8, mc.reason);
        else if (rc != 0 && mc.deferred)
            cairn_err_prefix(&e, "(server not authenticated: its refusal may be forged)");
        if (rc != 0)
            goto out;
    } else {
        rc = client_http(base, "POST", "/api/v2/activate", body, strlen(body), "application/json", &tls,
                         cfg->timeout_ms, &resp, &e);
        if (rc != 0) {
            if (mc.reason[0] != '\0')
                rc = cairn_errf(&e, CAIRN_ERR_TLS, "Coordinator authentication failed at %s: %s", base + 8, mc.reason);
            goto out;
        }
        if (out_http_status)
            *out_http_status = (int)resp.status;
        if ((rc = client_jsend_parse(resp.status, resp.body, resp.len, &data, &e)) != 0) {
            /* With a deferred check the refusal itself is not authenticated yet. */
            cairn_err_prefix(&e, "activation refused by %s%s", base + 8,
                             mc.deferred ? " (server not authenticated: its refusal may be forged)" : "");
            goto out;
        }
    }
    struct cairn_marble_params *p = NULL;
    if ((rc = client_activation_parse(data, &p, &e)) != 0)
        goto out;
    if (mc.root != NULL && (rc = mesh_check_answer(&mc, p, &e)) != 0) {
        cairn_marble_params_free(p);
        goto out;
    }
    /* Defence in depth: the Coordinator root handed to the app must be the
     * root we authenticated. */
    for (size_t i = 0; mc.root != NULL && i < p->n_env; i++) {
        if (strcmp(p->env[i].path, "MARBLE_PREDEFINED_COORDINATOR_ROOT_CA") != 0)
            continue;
        X509 *x = NULL;
        if (cc_cert_from_pem((const char *)p->env[i].data, p->env[i].size, &x, NULL) != 0 ||
            !cc_cert_equal(x, mc.root)) {
            X509_free(x);
            cairn_marble_params_free(p);
            rc = cairn_errf(&e, CAIRN_ERR_VERIFY, "the Coordinator root in the activation answer differs from the root given");
            goto out;
        }
        X509_free(x);
    }
    p->evidence_type = strdup(attest_type_name(type));
    if (p->evidence_type == NULL) {
        cairn_marble_params_free(p);
        rc = cairn_errf(&e, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    *out = p;
    rc = 0;
out:
    if (rc != 0)
        seterr(errbuf, errbuf_size, &e);
    json_decref(req);
    json_decref(data);
    client_http_resp_free(&resp);
    attest_issued_free(&ev);
    X509_free(mc.root);
    X509_free(mc.intermediate);
    X509_free(mc.deferred);
    EVP_PKEY_free(key);
    X509_free(cert);
    X509_REQ_free(csr);
    free(cert_pem);
    cc_free_secret(key_pem, key_pem_len);
    free(cert_der);
    free(csr_der);
    free(csr_b64);
    free(base);
    free(body);
    return rc;
}

int cairn_marble_activate_failover(const struct cairn_marble_config *cfg, const struct cairn_failover *fo,
                                   struct cairn_marble_params **out, int *out_http_status, char *errbuf,
                                   size_t errbuf_size)
{
    if (cfg == NULL || cfg->coordinator_addr == NULL || strchr(cfg->coordinator_addr, ',') == NULL)
        return activate_one(cfg, out, out_http_status, errbuf, errbuf_size);
    struct cairn_error e = {0};
    char **urls = NULL;
    size_t n = 0;
    int rc = client_addr_list(cfg->coordinator_addr, 2001, &urls, &n, &e);
    if (rc != 0) {
        if (out_http_status)
            *out_http_status = 0;
        return seterr(errbuf, errbuf_size, &e);
    }
    struct cairn_failover f = {0};
    if (fo != NULL)
        f = *fo;
    if (f.rounds <= 0)
        f.rounds = 1;   /* the default here: the caller (premain) retries around it */
    client_failover_effective(&f, n, &f);
    long backoff = f.backoff_ms;
    char local[CAIRN_ERROR_MSG_MAX];
    char *eb = errbuf != NULL ? errbuf : local;
    size_t ebn = errbuf != NULL ? errbuf_size : sizeof(local);
    for (int round = 0; round < f.rounds; round++) {
        if (round > 0) {
            client_progress(&f, "no Coordinator of the %zu answered; pass %d of %d in %ld ms", n, round + 1,
                            f.rounds, backoff);
            client_sleep_ms(backoff);
            backoff *= 2;
        }
        for (size_t i = 0; i < n; i++) {
            struct cairn_marble_config one = *cfg;
            one.coordinator_addr = urls[i] + 8;
            rc = activate_one(&one, out, out_http_status, eb, ebn);
            if (rc == 0 || !client_failover_worthy(rc)) {
                if (i > 0 || round > 0)
                    client_progress(&f, "%s answered", urls[i] + 8);
                client_addr_list_free(urls, n);
                return rc;
            }
            if (i + 1 < n)
                client_progress(&f, "%s; trying %s", eb, urls[i + 1] + 8);
            else
                client_progress(&f, "%s", eb);
        }
    }
    client_addr_list_free(urls, n);
    return rc;
}

int cairn_marble_activate(const struct cairn_marble_config *cfg, struct cairn_marble_params **out,
                          int *out_http_status, char *errbuf, size_t errbuf_size)
{
    return cairn_marble_activate_failover(cfg, NULL, out, out_http_status, errbuf, errbuf_size);
}
