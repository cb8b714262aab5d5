/* JSend answers (inventory §2): {"status":"success"|"fail"|"error",
 * "data":..., "message":"..."}. The body is untrusted: it is parsed strictly
 * (jansson, duplicate keys rejected) and any server text we repeat is made
 * printable and short, so an error is always one line. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"

char *client_sanitize(const char *s, size_t len, size_t max)
{
    char *o = malloc((len < max ? len : max) + 4);
    if (o == NULL)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < len && j < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n' || ch == '\r' || ch == '\t')
            ch = ' ';
        if (ch < 0x20 || ch == 0x7f)
            continue;
        o[j++] = (char)ch;
    }
    while (j > 0 && o[j - 1] == ' ')
        j--;
    if (j == max) {
        memcpy(o + j, "...", 3);
        j += 3;
    }
    o[j] = '\0';
    return o;
}

static int status_code(long status)
{
    switch (status) {
    case 400: return CAIRN_ERR_INVALID;
    case 401: return CAIRN_ERR_UNAUTHENTICATED;
    case 403: return CAIRN_ERR_PERMISSION;
    case 404: return CAIRN_ERR_NOT_FOUND;
    case 405:
    case 410: return CAIRN_ERR_UNSUPPORTED;
    case 409: /* Cairn: a request in the wrong state (the message names it) */
    case 503: return CAIRN_ERR_STATE;
    case 413: return CAIRN_ERR_TOO_LARGE;
    default: return CAIRN_ERR_PROTOCOL;
    }
}

int client_jsend_parse(long status, const uint8_t *body, size_t len, json_t **out_data, struct cairn_error *err)
{
    json_error_t je;
    json_t *root = NULL;
    if (body != NULL && len > 0)
        root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    if (status >= 200 && status < 300) {
        if (root == NULL || !json_is_object(root)) {
            json_decref(root);
            return cairn_errf(err, CAIRN_ERR_PROTOCOL, "HTTP %ld: answer is not a JSON object", status);
        }
        const json_t *st = json_object_get(root, "status");
        if (!json_is_string(st) || strcmp(json_string_value(st), "success") != 0) {
            json_decref(root);
            return cairn_errf(err, CAIRN_ERR_PROTOCOL, "HTTP %ld: answer lacks \"status\":\"success\"", status);
        }
        json_t *data = json_object_get(root, "data");
        *out_data = data ? json_incref(data) : json_null();
        json_decref(root);
        return 0;
    }
    int code = status_code(status);
    char *msg = NULL;
    if (root != NULL && json_is_object(root)) {
        const json_t *m = json_object_get(root, "message");
        if (json_is_string(m) && json_string_length(m) > 0)
            msg = client_sanitize(json_string_value(m), json_string_length(m), CLIENT_MESSAGE_MAX);
    } else if (body != NULL && len > 0) {
        /* Not JSON (e.g. a proxy's page): repeat its first line. */
        const uint8_t *nl = memchr(body, '\n', len);
        msg = client_sanitize((const char *)body, nl ? (size_t)(nl - body) : len, CLIENT_MESSAGE_MAX);
    }
    json_decref(root);
    if (msg != NULL && msg[0] != '\0')
        cairn_errf(err, code, "HTTP %ld: %s", status, msg);
    else
        cairn_errf(err, code, "HTTP %ld without a message", status);
    free(msg);
    return code;
}
