/* The key API listener: the holder side (protocol in keyshare.h).
 *
 * Its own struct srv with one loop thread: the handler issues this replica's
 * evidence per request (a quote can take tens of milliseconds), which must
 * not stall the client or mesh API, and the key API sees a handful of
 * requests per replica start, not a load. */
#include <stdlib.h>
#include <string.h>

#include "common/encoding.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "keyshare/keyshare.h"
#include "server/http.h"
#include "server/tls.h"

struct ks_server {
    struct ks_ops ops;
    struct ks_identity id;
    struct srv *srv;
    int idx;
    X509 *cert;
    EVP_PKEY *key;
    SSL_CTX *tls;
};

static SSL_CTX *provide_tls(void *ctx)
{
    struct ks_server *s = ctx;
    SSL_CTX_up_ref(s->tls);
    return s->tls;
}

static void reply_error(struct srv_req *r, int status, const char *msg)
{
    srv_reply_json(r, status, json_pack("{s:s}", "error", msg));
}

static void fallback(struct srv_req *r, void *ctx)
{
    (void)ctx;
    reply_error(r, 404, "no such key API endpoint (GET " KS_PATH_HELLO ", POST " KS_PATH_KEY ")");
}

static bool holds_key(struct ks_server *s)
{
    uint8_t k[KS_KEY_SIZE];
    bool unique = false;
    int rc = s->ops.get_key(s->ops.ctx, NULL, 0, k, &unique, NULL);
    cc_wipe(k, sizeof(k));
    return rc == 0;
}

static void on_hello(struct srv_req *r, void *ctx)
{
    struct ks_server *s = ctx;
    srv_reply_json(r, 200, json_pack("{s:i, s:s, s:b}", "version", 1, "tee", attest_type_name(s->ops.tee),
                                     "holdsKey", holds_key(s)));
}

/* Checks one request; 0 with the key in `key`, else an HTTP status with
 * `why` set. Nothing is sent before every check passed. */
static int check_request(struct ks_server *s, struct srv_req *r, uint8_t key[KS_KEY_SIZE], struct cairn_error *why)
{
    X509 *peer = srv_req_peer_cert(r);
    SSL *ssl = srv_req_ssl(r);
    if (peer == NULL || ssl == NULL) {
        cairn_errf(why, CAIRN_ERR_UNAUTHENTICATED, "no TLS client certificate");
        return 401;
    }
    uint8_t expected[64];
    if (ks_binding(KS_LABEL_REQUESTER, peer, ssl, expected) != 0) {
        cairn_errf(why, CAIRN_ERR_TLS, "no TLS 1.3 exporter on this connection");
        return 400;
    }
    size_t len = 0;
    const uint8_t *body = srv_req_body(r, &len);
    struct ks_msg m;
    struct cairn_error pe = {0};
    if (ks_msg_parse_request(body, len, &m, &pe) != 0) {
        cairn_errf(why, pe.code, "malformed request: %s", cairn_error_msg(&pe));
        return 400;
    }
    int status = 0;
    struct attest_claims cl = {0};
    struct cairn_error ve = {0};
    bool unique = false;
    if (m.ev.type != s->ops.tee) {
        cairn_errf(why, CAIRN_ERR_POLICY, "evidence type %s, but this Coordinator runs in %s",
                   attest_type_name(m.ev.type), attest_type_name(s->ops.tee));
        status = 403;
    } else if (s->ops.verify(s->ops.ctx, &m.ev, expected, &cl, &ve) != 0) {
        /* a wrong binding (other certificate, other connection: replayed
         * evidence) fails here, as does a bad signature or chain */
        cairn_errf(why, ve.code, "evidence: %s", cairn_error_msg(&ve));
        status = 403;
    } else if (s->ops.get_key(s->ops.ctx, m.key_ref_len ? m.key_ref : NULL, m.key_ref_len, key, &unique, NULL) !=
               0) {
        cairn_errf(why, CAIRN_ERR_NOT_FOUND, m.key_ref_len ? "this replica does not hold the data key asked for"
                                                           : "this replica holds no data key (it is in recovery or "
                                                             "starting)");
        status = 503;
    } else if (ks_identity_check(&s->id, unique, &cl, m.has_sim_identity ? m.sim_identity : NULL, &ve) != 0) {
        cairn_errf(why, ve.code, "identity: %s", cairn_error_msg(&ve));
        cc_wipe(key, KS_KEY_SIZE);
        status = 403;
    }
    attest_claims_free(&cl);
    ks_msg_clear(&m);
    return status;
}

static void on_key(struct srv_req *r, void *ctx)
{
    struct ks_server *s = ctx;
    const char *who = srv_req_peer_host(r);
    uint8_t key[KS_KEY_SIZE];
    struct cairn_error why = {0};
    int status = check_request(s, r, key, &why);
    if (status != 0) {
        LOG_WARN("key API: refused the data key to %s: %s", who, cairn_error_msg(&why));
        reply_error(r, status, cairn_error_msg(&why));
        return;
    }
    /* this replica's evidence, bound to its certificate and this connection */
    uint8_t rd[64];
    json_t *resp = json_object();
    char *b64 = cairn_base64_encode(key, sizeof(key));
    char kid[17];
    ks_key_id(key, kid);
    cc_wipe(key, sizeof(key));
    struct cairn_error e = {0};
    int rc = (resp == NULL || b64 == NULL) ? CAIRN_ERR_NOMEM : 0;
    if (rc == 0 && (rc = ks_binding(KS_LABEL_HOLDER, s->cert, srv_req_ssl(r), rd)) != 0)
        cairn_errf(&e, rc, "no TLS exporter");
    if (rc == 0)
        rc = s->ops.issue(s->ops.ctx, rd, resp, &e);
    if (rc == 0 && s->ops.tee == ATTEST_SIM) {
        char *hex = cairn_hex_encode(s->id.sim_identity, 32);
        rc = hex != NULL ? json_object_set_new(resp, "simIdentity", json_string(hex)) : CAIRN_ERR_NOMEM;
        free(hex);
    }
    if (rc == 0)
        rc = json_object_set_new(resp, "key", json_string(b64)) | json_object_set_new(resp, "keyId", json_string(kid));
    if (b64 != NULL)
        cc_free_secret(b64, strlen(b64));
    if (rc != 0) {
        json_decref(resp);   /* jansson's frees are wiped (core.c) */
        LOG_ERROR("key API: answering %s failed: %s", who, cairn_error_msg(&e));
        reply_error(r, 500, "internal error");
        return;
    }
    if (s->ops.tee == ATTEST_SIM)
        LOG_WARN("*** SIMULATION: key API gave the data key (id %s) to %s on SIMULATION evidence: its identity is "
                 "claimed, not proven. Never use this in production. ***", kid, who);
    else
        LOG_INFO("key API: gave the data key (id %s) to %s (%s evidence verified, same Coordinator package)", kid,
                 who, attest_type_name(s->ops.tee));
    srv_reply_json(r, 200, resp);
}

static const struct srv_route routes[] = {
    {KS_PATH_HELLO, SRV_GET, on_hello, 0},
    {KS_PATH_KEY, SRV_POST, on_key, KS_MAX_MSG},
};

int ks_ephemeral_cert(const char *cn, X509 **out_cert, EVP_PKEY **out_key, struct cairn_error *err)
{
    EVP_PKEY *k = NULL;
    X509 *c = NULL;
    int rc = cc_key_generate(CC_KEY_EC_P256, 0, &k, err);
    if (rc != 0)
        return rc;
    struct cc_cert_template t;
    memset(&t, 0, sizeof(t));
    t.subject.common_name = cn;
    t.max_path_len = -1;
    t.not_after = 0;
    if ((rc = cc_cert_issue(&t, k, NULL, k, &c, err)) != 0) {
        EVP_PKEY_free(k);
        return rc;
    }
    *out_cert = c;
    *out_key = k;
    return 0;
}

int ks_server_start(const struct ks_ops *ops, const char *addr, struct ks_server **out, struct cairn_error *err)
{
    if (ops->get_key == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "key API: no key source");
    struct ks_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    s->ops = *ops;
    int rc = ks_identity_own(ops, &s->id, err);
    if (rc == 0)
        rc = ks_ephemeral_cert("cairn key API", &s->cert, &s->key, err);
    if (rc == 0)
        rc = srv_tls_ctx_new(s->cert, NULL, s->key, SRV_CLIENT_AUTH_REQUIRE, &s->tls, err);
    if (rc == 0 && (s->srv = srv_new(1)) == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        /* A requester's exchange is one handshake and two small requests
         * in a few milliseconds, so the deadlines are short: a connection
         * that has not completed its handshake, or sent its first request
         * byte, within KS_HANDSHAKE_TIMEOUT_S is closed, and one whose
         * request is not complete within 3 x KS_REQUEST_TIMEOUT_S. Idle or
         * slow connections therefore hold a slot for seconds, not tens of
         * seconds, and a starting replica retries past them
         * (ks_fetch_opts.wait_ms). At the cap a connection without a request
         * is shed for a new one (server/conn.h); per source address at most
         * KS_MAX_CONNS_PER_ADDR, so one host cannot fill the listener. */
        struct srv_listener_cfg lc = {
            .name = "keyapi", .addr = addr, .tls = provide_tls, .tls_ctx = s,
            .routes = routes, .n_routes = sizeof(routes) / sizeof(routes[0]), .fallback = fallback, .ctx = s,
            .max_body = KS_MAX_MSG, .timeout_s = KS_REQUEST_TIMEOUT_S, .max_conns = KS_MAX_CONNS,
            .max_conns_per_addr = KS_MAX_CONNS_PER_ADDR, .max_handshakes_per_addr = KS_MAX_CONNS_PER_ADDR,
            .handshake_timeout_s = KS_HANDSHAKE_TIMEOUT_S, .json_only = true,
        };
        s->idx = srv_add_listener(s->srv, &lc, err);
        if (s->idx < 0)
            rc = s->idx;
    }
    if (rc == 0)
        rc = srv_start(s->srv, err);
    if (rc != 0) {
        ks_server_free(s);
        return cairn_err_prefix(err, "key API on %s", addr);
    }
    if (ops->tee == ATTEST_SIM)
        LOG_WARN("*** SIMULATION: the key API on port %d hands the data key to any peer that CLAIMS this build's "
                 "identity (sim evidence proves nothing). Never use this in production. ***",
                 srv_listener_port(s->srv, s->idx));
    *out = s;
    return 0;
}

int ks_server_port(const struct ks_server *s)
{
    return s != NULL ? srv_listener_port(s->srv, s->idx) : 0;
}

void ks_server_free(struct ks_server *s)
{
    if (s == NULL)
        return;
    srv_free(s->srv);
    SSL_CTX_free(s->tls);
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
    ks_identity_clear(&s->id);
    free(s);
}
