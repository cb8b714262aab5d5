/* The key API requester (protocol in keyshare.h), over libcurl.
 *
 * Both requests of one exchange run on one easy handle and so on one TLS
 * connection: the evidence binds that connection's exporter value, read
 * from the SSL object while the hello response arrives. If curl opened a
 * second connection for the POST, the holder would see another exporter and
 * refuse; the requester checks CURLINFO_NUM_CONNECTS and stops first. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/pem.h>

#include "common/buf.h"
#include "common/encoding.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "keyshare/keyshare.h"

struct xfer {
    CURL *h;
    uint8_t *body;
    size_t len, cap;        /* cap: the most this response may hold */
    bool overflow;
    bool have_tls;          /* exporter and holder certificate captured */
    uint8_t exporter[32];
    uint8_t holder_cert_hash[32];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t add = size * n;
    if (add > x->cap - x->len) {
        x->overflow = true;
        return 0;   /* aborts the transfer */
    }
    if (x->body == NULL && (x->body = malloc(x->cap + 1)) == NULL)
        return 0;
    memcpy(x->body + x->len, p, add);
    x->len += add;
    return add;
}

/* Called for each response header line, i.e. after the handshake of the
 * connection the request went over: read that connection's exporter. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    (void)p;
    if (!x->have_tls) {
        struct curl_tlssessioninfo *info = NULL;
        if (curl_easy_getinfo(x->h, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info != NULL &&
            info->backend == CURLSSLBACKEND_OPENSSL && info->internals != NULL) {
            SSL *ssl = info->internals;
            X509 *peer = SSL_get0_peer_certificate(ssl);
            uint8_t *der = NULL;
            size_t der_len = 0;
            if (peer != NULL && cc_cert_to_der(peer, &der, &der_len) == 0 && ks_exporter(ssl, x->exporter) == 0) {
                cc_sha256(der, der_len, x->holder_cert_hash);
                x->have_tls = true;
            }
            free(der);
        }
    }
    return size * n;
}

static void xfer_reset_body(struct xfer *x, size_t cap)
{
    if (x->body != NULL)
        cc_free_secret(x->body, x->cap + 1);
    x->body = NULL;
    x->len = 0;
    x->cap = cap;
    x->overflow = false;
}

static char *pem_of_key(EVP_PKEY *k)
{
    char *pem = NULL;
    size_t n = 0;
    return cc_key_to_pkcs8_pem(k, &pem, &n) == 0 ? pem : NULL;
}

static int perform(struct xfer *x, const char *peer, const char *what, long *status, struct cairn_error *err)
{
    char eb[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, eb);
    CURLcode cc = curl_easy_perform(x->h);
    curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, NULL);
    if (x->overflow)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s %s: response exceeds %zu bytes", peer, what, x->cap);
    if (cc != CURLE_OK) {
        /* NETWORK: nothing listens there (not running); TLS, IO, TIMEOUT: it
         * was reached but the connection was cut or ran out of time (a full
         * or slowed listener resets new connections): worth another try */
        long os_err = 0;
        curl_easy_getinfo(x->h, CURLINFO_OS_ERRNO, &os_err);
        bool nobody = (cc == CURLE_COULDNT_CONNECT && (os_err == ECONNREFUSED || os_err == ENETUNREACH ||
                                                       os_err == EHOSTUNREACH)) ||
                      cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_UNSUPPORTED_PROTOCOL ||
                      cc == CURLE_URL_MALFORMAT;
        int code = cc == CURLE_OPERATION_TIMEDOUT ? CAIRN_ERR_TIMEOUT
                   : (cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_CERTPROBLEM) ? CAIRN_ERR_TLS
                   : nobody ? CAIRN_ERR_NETWORK
                            : CAIRN_ERR_IO;   /* e.g. reset right after the accept */
        return cairn_errf(err, code, "%s %s: %s", peer, what, eb[0] ? eb : curl_easy_strerror(cc));
    }
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

/* The holder's "error" member, for messages. */
static void holder_reason(const struct xfer *x, char *out, size_t n)
{
    json_t *j = x->body != NULL ? json_loadb((const char *)x->body, x->len, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(j, "error"));
    snprintf(out, n, "%s", m != NULL ? m : "(no reason given)");
    json_decref(j);
}

int ks_fetch_one(const struct ks_ops *ops, const struct ks_identity *own, const char *peer, const uint8_t *ref,
                 size_t ref_len, long timeout_ms, const struct ks_tamper *t, uint8_t key[KS_KEY_SIZE],
                 struct cairn_error *err)
{
    X509 *cert = t != NULL ? t->cert : NULL;
    EVP_PKEY *pkey = t != NULL ? t->key : NULL;
    bool own_pair = cert == NULL;
    char *cert_pem = NULL, *key_pem = NULL, *url = NULL, *body = NULL;
    size_t pem_len = 0;
    struct xfer x;
    memset(&x, 0, sizeof(x));
    struct curl_slist *hdrs = NULL;
    struct ks_msg m;
    memset(&m, 0, sizeof(m));
    struct attest_claims cl = {0};
    int rc = 0;
    long status = 0;
    if (own_pair && (rc = ks_ephemeral_cert("cairn key API client", &cert, &pkey, err)) != 0)
        return rc;
    if (cc_cert_to_pem(cert, &cert_pem, &pem_len) != 0 || (key_pem = pem_of_key(pkey)) == NULL ||
        (x.h = curl_easy_init()) == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    struct curl_blob cb = {.data = cert_pem, .len = strlen(cert_pem), .flags = CURL_BLOB_COPY};
    struct curl_blob kb = {.data = key_pem, .len = strlen(key_pem), .flags = CURL_BLOB_COPY};
    curl_easy_setopt(x.h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(x.h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x.h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 10000L);
    curl_easy_setopt(x.h, CURLOPT_PROXY, "");
    curl_easy_setopt(x.h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(x.h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
    /* the holder's certificate is authenticated by its evidence below */
    curl_easy_setopt(x.h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(x.h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(x.h, CURLOPT_SSLCERT_BLOB, &cb);
    curl_easy_setopt(x.h, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(x.h, CURLOPT_SSLKEY_BLOB, &kb);
    curl_easy_setopt(x.h, CURLOPT_SSLKEYTYPE, "PEM");
    curl_easy_setopt(x.h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(x.h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x.h, CURLOPT_HEADERDATA, &x);

    /* 1. hello: does this peer hold the key, in which TEE? */
    if (asprintf(&url, "https://%s%s", peer, KS_PATH_HELLO) < 0) {
        url = NULL;
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    curl_easy_setopt(x.h, CURLOPT_URL, url);
    xfer_reset_body(&x, KS_MAX_HELLO);
    if ((rc = perform(&x, peer, "hello", &status, err)) != 0)
        goto out;
    struct ks_hello hello;
    struct cairn_error pe = {0};
    if (status != 200 || ks_hello_parse(x.body, x.len, &hello, &pe) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "%s: not a Cairn key API (hello: HTTP %ld%s%s)", peer, status,
                        pe.code ? ", " : "", pe.code ? cairn_error_msg(&pe) : "");
        goto out;
    }
    if (hello.tee != ops->tee) {
        rc = cairn_errf(err, CAIRN_ERR_POLICY, "%s runs in %s, this replica in %s", peer,
                        attest_type_name(hello.tee), attest_type_name(ops->tee));
        goto out;
    }
    if (!hello.holds_key) {
        rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND, "%s holds no data key", peer);
        goto out;
    }
    if (!x.have_tls) {
        rc = cairn_errf(err, CAIRN_ERR_TLS, "%s: no TLS 1.3 exporter on the connection", peer);
        goto out;
    }

    /* 2. our evidence, bound to our certificate and this connection */
    if (t != NULL && t->replay_body != NULL) {
        if ((body = strdup(t->replay_body)) == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            goto out;
        }
    } else {
        uint8_t der_hash[32], rd[64];
        uint8_t *der = NULL;
        size_t der_len = 0;
        if (cc_cert_to_der(cert, &der, &der_len) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            goto out;
        }
        cc_sha256(der, der_len, der_hash);
        free(der);
        if (t != NULL && t->wrong_binding)
            cc_random(der_hash, sizeof(der_hash));
        ks_binding_raw(KS_LABEL_REQUESTER, der_hash, x.exporter, rd);
        json_t *req = json_object();
        rc = req != NULL ? ops->issue(ops->ctx, rd, req, err) : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        if (rc == 0 && ops->tee == ATTEST_SIM) {
            const uint8_t *sid = t != NULL && t->sim_identity != NULL ? t->sim_identity : own->sim_identity;
            char *hex = cairn_hex_encode(sid, 32);
            json_object_set_new(req, "simIdentity", hex != NULL ? json_string(hex) : json_null());
            free(hex);
        }
        if (rc == 0 && ref != NULL && ref_len > 0 && ref_len <= KS_MAX_REF) {
            char *hex = cairn_hex_encode(ref, ref_len);
            json_object_set_new(req, "keyRef", hex != NULL ? json_string(hex) : json_null());
            free(hex);
        }
        if (rc == 0 && (body = json_dumps(req, JSON_COMPACT)) == NULL)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        json_decref(req);
        if (rc != 0)
            goto out;
    }
    if (t != NULL && t->out_body != NULL)
        *t->out_body = strdup(body);

    /* 3. ask for the key on the same connection */
    free(url);
    if (asprintf(&url, "https://%s%s", peer, KS_PATH_KEY) < 0) {
        url = NULL;
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(x.h, CURLOPT_URL, url);
    curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(x.h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(x.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    xfer_reset_body(&x, KS_MAX_MSG);
    uint8_t exporter[32];
    memcpy(exporter, x.exporter, sizeof(exporter));
    if ((rc = perform(&x, peer, "key request", &status, err)) != 0)
        goto out;
    long conns = -1;
    curl_easy_getinfo(x.h, CURLINFO_NUM_CONNECTS, &conns);
    if (conns != 0) {
        rc = cairn_errf(err, CAIRN_ERR_TLS, "%s closed the connection between hello and key request", peer);
        goto out;
    }
    if (status != 200) {
        char why[600];
        holder_reason(&x, why, sizeof(why));
        rc = cairn_errf(err, status == 503 ? CAIRN_ERR_NOT_FOUND : CAIRN_ERR_PERMISSION, "%s refused (HTTP %ld): %s",
                        peer, status, why);
        goto out;
    }

    /* 4. the holder's answer: its evidence must bind its certificate and
     * this connection, and show the same Coordinator package */
    if ((rc = ks_msg_parse_response(x.body, x.len, &m, err)) != 0) {
        cairn_err_prefix(err, "%s: malformed answer", peer);
        goto out;
    }
    if (m.ev.type != ops->tee) {
        rc = cairn_errf(err, CAIRN_ERR_POLICY, "%s answered with %s evidence, this replica runs in %s", peer,
                        attest_type_name(m.ev.type), attest_type_name(ops->tee));
        goto out;
    }
    uint8_t hrd[64];
    ks_binding_raw(KS_LABEL_HOLDER, x.holder_cert_hash, exporter, hrd);
    struct cairn_error ve = {0};
    if (ops->verify(ops->ctx, &m.ev, hrd, &cl, &ve) != 0) {
        rc = cairn_errf(err, ve.code, "%s: the holder's evidence: %s", peer, cairn_error_msg(&ve));
        goto out;
    }
    if (ks_identity_check(own, false, &cl, m.has_sim_identity ? m.sim_identity : NULL, &ve) != 0) {
        rc = cairn_errf(err, ve.code, "%s: the holder is not this Coordinator package: %s", peer,
                        cairn_error_msg(&ve));
        goto out;
    }
    memcpy(key, m.key, KS_KEY_SIZE);
    rc = 0;
out:
    if (x.h != NULL)
        curl_easy_cleanup(x.h);
    curl_slist_free_all(hdrs);
    xfer_reset_body(&x, 0);
    cc_wipe(x.exporter, sizeof(x.exporter));
    attest_claims_free(&cl);
    ks_msg_clear(&m);
    free(url);
    free(body);
    free(cert_pem);
    if (key_pem != NULL)
        cc_free_secret(key_pem, strlen(key_pem));
    if (own_pair) {
        X509_free(cert);
        EVP_PKEY_free(pkey);
    }
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static long mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* A failure that another try may not have: the holder was reached but the
 * connection was reset or cut (a full listener, or one whose slots idle or
 * slow connections hold until its deadlines close them) or ran out of time.
 * A holder that answered (refused us, holds no key, is no key API) answers
 * the same again, and one where nothing listens (CAIRN_ERR_NETWORK: it is
 * not running; a stale registry entry) is not waited for. */
static bool transient(int code)
{
    return code == CAIRN_ERR_IO || code == CAIRN_ERR_TIMEOUT || code == CAIRN_ERR_TLS;
}

int ks_fetch(const struct ks_ops *ops, const char *const *peers, size_t n_peers, const uint8_t *ref, size_t ref_len,
             const struct ks_fetch_opts *o, uint8_t key[KS_KEY_SIZE], char *from, size_t from_len,
             struct cairn_error *err)
{
    struct ks_fetch_opts d = {0};
    if (o == NULL)
        o = &d;
    int rounds = o->rounds > 0 ? o->rounds : 1;
    long backoff = o->backoff_ms > 0 ? o->backoff_ms : 200;
    long max_backoff = o->max_backoff_ms > 0 ? o->max_backoff_ms : 2000;
    long wait = o->wait_ms > 0 ? o->wait_ms : 0;
    struct ks_identity own;
    int rc = ks_identity_own(ops, &own, err);
    if (rc != 0)
        return rc;
    if (ops->tee == ATTEST_SIM)
        LOG_WARN("*** SIMULATION: asking for the data key with SIMULATION evidence: nothing proves either side's "
                 "identity. Never use this in production. ***");
    rc = CAIRN_ERR_NOT_FOUND;
    long t0 = mono_ms();
    int r = 0;
    char last[300] = "";
    char **owned = NULL;   /* a refreshed list */
    for (;;) {
        if (r > 0 && o->refresh != NULL) {
            char **fresh = NULL;
            size_t nf = 0;
            if (o->refresh(o->refresh_ctx, &fresh, &nf) == 0 && fresh != NULL && nf > 0) {
                free(owned);
                owned = fresh;
                peers = (const char *const *)owned;
                n_peers = nf;
            } else {
                free(fresh);
            }
        }
        size_t unreachable = 0;
        for (size_t i = 0; i < n_peers; i++) {
            struct cairn_error e = {0};
            LOG_INFO("key API: asking %s for the data key", peers[i]);
            if (ks_fetch_one(ops, &own, peers[i], ref, ref_len, o->timeout_ms, NULL, key, &e) == 0) {
                char kid[17];
                ks_key_id(key, kid);
                LOG_INFO("key API: got the data key (id %s) from %s", kid, peers[i]);
                if (from != NULL)
                    snprintf(from, from_len, "%s", peers[i]);
                rc = 0;
                break;
            }
            if (transient(e.code))
                unreachable++;
            snprintf(last, sizeof(last), "%s", cairn_error_msg(&e));
            LOG_WARN("key API: no data key from %s: %s", peers[i], cairn_error_msg(&e));
        }
        r++;
        if (rc == 0)
            break;
        long left = wait - (mono_ms() - t0);
        bool more = r < rounds || (unreachable > 0 && left > 0);
        if (!more)
            break;
        long pause = r < rounds || left > backoff ? backoff : (left > 0 ? left : 0);
        if (r >= rounds)
            LOG_INFO("key API: %zu of %zu holders could not be reached; trying again in %ld ms (for up to %ld ms "
                     "more)",
                     unreachable, n_peers, pause, left);
        else
            LOG_INFO("key API: no holder gave the data key, next pass (%d) in %ld ms", r + 1, pause);
        sleep_ms(pause);
        backoff = backoff * 2 < max_backoff ? backoff * 2 : max_backoff;
    }
    ks_identity_clear(&own);
    free(owned);
    if (rc != 0)
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "no replica gave the data key (%zu asked, %d pass%s in %ld ms; "
                                                    "last: %s)",
                          n_peers, r, r == 1 ? "" : "es", mono_ms() - t0, last);
    return 0;
}
