/* Client API handlers of the Config.FeatureGates endpoints (inventory §2.2;
 * logic in src/core/features.c), with MarbleRun's order of checks and
 * answers:
 *   POST /api/v2/sign-quote         gate (403 error) -> body (400 fail with
 *                                   data {"sgxQuote": why}) -> verify (400 fail,
 *                                   message "quote verification failed") -> sign
 *   POST /api/v2/monotonic-counter  gate (403 error) -> marble certificate
 *                                   (401 fail) -> body (400 fail) -> set (api_refuse:
 *                                   4xx fail for a client error, 409 state) */
#include <stdlib.h>
#include <string.h>

#include "common/encoding.h"
#include "common/log.h"
#include "core/features.h"
#include "server/api.h"
#include "server/api_json.h"

void api_feat_sign_quote(struct srv_req *r, void *ctx);
void api_feat_monotonic_counter(struct srv_req *r, void *ctx);

static struct core *core_of(void *ctx)
{
    return ((struct api_ctx *)ctx)->core;
}

/* A JSend fail with a data object (MarbleRun's WriteJSONFailure). */
static void fail_with_data(struct srv_req *r, int status, const char *field, const char *why, const char *message)
{
    srv_reply_json(r, status, json_pack("{s:s, s:{s:s}, s:s}", "status", "fail", "data", field, why, "message",
                                        message));
}

void api_feat_sign_quote(struct srv_req *r, void *ctx)
{
    struct core *c = core_of(ctx);
    if (!core_feature_enabled(c, CORE_GATE_SIGN_QUOTE)) {
        srv_jsend_error(r, 403, "SignQuoteEndpoint feature is not enabled in the manifest");
        return;
    }
    size_t len;
    const uint8_t *body = srv_req_body(r, &len);
    struct api_jbytes q = {0};
    const struct api_jfield f[] = {{"sgxQuote", API_J_BYTES, &q, NULL}};
    struct cairn_error e = {0};
    if (api_json_decode(body, len, f, 1, NULL, &e) != 0) {
        char msg[CAIRN_ERROR_MSG_MAX + 16];
        snprintf(msg, sizeof(msg), "bad request: %s", cairn_error_msg(&e));
        fail_with_data(r, 400, "sgxQuote", "failed to parse JSON data", msg);
        return;
    }
    char *status = NULL;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    int rc = core_sign_quote(c, q.p != NULL ? q.p : (const uint8_t *)"", q.n, &status, &sig, &sig_len, &e);
    free(q.p);
    if (rc == CAIRN_ERR_VERIFY) {
        char why[CAIRN_ERROR_MSG_MAX + 32];
        snprintf(why, sizeof(why), "quote verification failed: %s", cairn_error_msg(&e));
        LOG_DEBUG("sign-quote refused: %s", why);
        fail_with_data(r, 400, "sgxQuote", why, "quote verification failed");
        return;
    }
    if (rc != 0) {
        api_refuse(r, c, false, "sign the quote", &e);
        return;
    }
    char *b = cairn_base64_encode(sig, sig_len);
    free(sig);
    if (b == NULL) {
        free(status);
        srv_jsend_error(r, 500, "out of memory");
        return;
    }
    srv_jsend_success(r, json_pack("{s:s, s:s}", "tcbStatus", status, "verificationSignature", b));
    LOG_INFO("sign-quote: signed a quote with TCB status %s", status);
    free(status);
    free(b);
}

void api_feat_monotonic_counter(struct srv_req *r, void *ctx)
{
    struct core *c = core_of(ctx);
    if (!core_feature_enabled(c, CORE_GATE_MONOTONIC_COUNTER)) {
        srv_jsend_error(r, 403, "MonotonicCounter feature is not enabled in the manifest");
        return;
    }
    char *type = NULL;
    uint8_t uuid[16];
    struct cairn_error e = {0};
    if (core_marble_auth(c, srv_req_peer_cert(r), &type, uuid, &e) != 0) {
        LOG_DEBUG("monotonic-counter refused: %s", cairn_error_msg(&e));
        if (e.code == CAIRN_ERR_UNAUTHENTICATED)
            srv_jsend_fail(r, 401, "%s", cairn_error_msg(&e));
        else
            api_refuse(r, c, false, "set the monotonic counter", &e);
        return;
    }
    size_t len;
    const uint8_t *body = srv_req_body(r, &len);
    char *name = NULL;
    uint64_t value = 0;
    const struct api_jfield f[] = {{"name", API_J_STRING, &name, NULL}, {"value", API_J_UINT64, &value, NULL}};
    if (api_json_decode(body, len, f, 2, NULL, &e) != 0) {
        srv_jsend_fail(r, 400, "%s", cairn_error_msg(&e));
        free(type);
        return;
    }
    uint64_t prev = 0;
    /* Go's zero value: an absent name is the counter "" */
    int rc = core_mono_set(c, type, uuid, name != NULL ? name : "", value, &prev, &e);
    if (rc != 0) {
        api_refuse(r, c, false, "set the monotonic counter", &e);
    } else {
        srv_jsend_success(r, json_pack("{s:I}", "value", (json_int_t)prev));
    }
    free(type);
    free(name);
}
