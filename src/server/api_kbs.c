/* Trustee's KBS protocol over HTTPS (core/kbs.h; docs/confidential-containers.md).
 * Only translates: path and method, the kbs-session-id cookie and the bearer
 * token in, the cookie and the body out, and Trustee's error body
 * {"type": ".../errors/<Type>", "detail": "..."} with its status rule
 * (404 for InvalidRequestPath and PluginNotFound, 401 for everything else). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "server/api.h"

#define KBS_PREFIX "/kbs/v0/"
#define KBS_ERROR_TYPE_PREFIX "https://github.com/confidential-containers/kbs/errors/"
#define KBS_COOKIE "kbs-session-id"

static void reply_error(struct srv_req *r, enum kbs_err e, const char *detail)
{
    int status = e == KBS_ERR_INVALID_PATH || e == KBS_ERR_PLUGIN_NOT_FOUND ? 404 : 401;
    char type[128];
    snprintf(type, sizeof(type), KBS_ERROR_TYPE_PREFIX "%s", kbs_err_type(e));
    LOG_INFO("kbs: %s %s refused (%s): %s", srv_req_method_name(r), srv_req_path(r), kbs_err_type(e), detail);
    srv_reply_json(r, status, json_pack("{s:s, s:s}", "type", type, "detail", detail));
}

static void reply_ok(struct srv_req *r, char *json, const struct kbs_cookie *cookie)
{
    if (cookie != NULL) {
        char date[64], val[160];
        struct tm tm;
        gmtime_r(&cookie->expires, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        snprintf(val, sizeof(val), KBS_COOKIE "=%s; Expires=%s", cookie->id, date);
        srv_reply_header(r, "Set-Cookie", val);
    }
    srv_reply(r, 200, "application/json", json, strlen(json));
    free(json);
}

/* The kbs-session-id value of the Cookie header (copied into out), or NULL. */
static const char *session_cookie(struct srv_req *r, char out[KBS_SESSION_ID_LEN + 1])
{
    const char *h = srv_req_header(r, "Cookie");
    if (h == NULL)
        return NULL;
    const char *p = h;
    while (*p != '\0') {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        size_t kl = strlen(KBS_COOKIE);
        if (n == kl + 1 + KBS_SESSION_ID_LEN && strncmp(p, KBS_COOKIE "=", kl + 1) == 0) {
            memcpy(out, p + kl + 1, KBS_SESSION_ID_LEN);
            out[KBS_SESSION_ID_LEN] = '\0';
            return out;
        }
        p += n;
    }
    return NULL;
}

static const char *bearer(struct srv_req *r)
{
    const char *h = srv_req_header(r, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h != '\0' ? h : NULL;
}

void api_kbs_dispatch(struct srv_req *r, void *ctx)
{
    struct kbs *k = ((struct api_ctx *)ctx)->kbs;
    const char *path = srv_req_path(r);
    enum srv_method m = srv_req_method(r);
    struct cairn_error e = {0};
    char idbuf[KBS_SESSION_ID_LEN + 1];
    char *out = NULL;
    struct kbs_cookie cookie = {0};
    enum kbs_err ke;
    if (strncmp(path, KBS_PREFIX, strlen(KBS_PREFIX)) != 0) {
        reply_error(r, KBS_ERR_PLUGIN_NOT_FOUND, "this listener serves only the KBS protocol under /kbs/v0/");
        return;
    }
    const char *rest = path + strlen(KBS_PREFIX);
    size_t len = 0;
    const uint8_t *body = srv_req_body(r, &len);
    if (strcmp(rest, "auth") == 0 && m == SRV_POST) {
        ke = kbs_auth(k, body, len, &out, &cookie, &e);
    } else if (strcmp(rest, "attest") == 0 && m == SRV_POST) {
        ke = kbs_attest(k, session_cookie(r, idbuf), body, len, &out, &cookie, &e);
    } else if (strncmp(rest, "resource/", 9) == 0 && m == SRV_GET) {
        ke = kbs_resource(k, session_cookie(r, idbuf), bearer(r), rest + 9, &out, &e);
        if (ke == KBS_OK) {
            reply_ok(r, out, NULL);
            return;
        }
    } else {
        /* Trustee's admin endpoints (attestation-policy, resource-policy,
         * reference-value, resource registration) have no counterpart: the
         * policy and the resources are the manifest */
        char msg[300];
        snprintf(msg, sizeof(msg), "Plugin %.100s not found (%s %s; Cairn's policy and resources are the "
                 "manifest)", rest, srv_req_method_name(r), path);
        reply_error(r, KBS_ERR_PLUGIN_NOT_FOUND, msg);
        return;
    }
    if (ke != KBS_OK) {
        reply_error(r, ke, cairn_error_msg(&e));
        return;
    }
    reply_ok(r, out, &cookie);
}
