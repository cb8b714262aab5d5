/* MarbleRun's gRPC activation wire: framing, status codes, protobuf <-> JSON. */
#include "rpc/grpc_wire.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common/encoding.h"
#include "coordinator.pb-c.h"

const char *grpc_status_name(int status)
{
    switch (status) {
    case GRPC_OK: return "OK";
    case GRPC_CANCELLED: return "Canceled";
    case GRPC_UNKNOWN: return "Unknown";
    case GRPC_INVALID_ARGUMENT: return "InvalidArgument";
    case GRPC_DEADLINE_EXCEEDED: return "DeadlineExceeded";
    case GRPC_NOT_FOUND: return "NotFound";
    case GRPC_PERMISSION_DENIED: return "PermissionDenied";
    case GRPC_RESOURCE_EXHAUSTED: return "ResourceExhausted";
    case GRPC_FAILED_PRECONDITION: return "FailedPrecondition";
    case GRPC_UNIMPLEMENTED: return "Unimplemented";
    case GRPC_INTERNAL: return "Internal";
    case GRPC_UNAVAILABLE: return "Unavailable";
    case GRPC_UNAUTHENTICATED: return "Unauthenticated";
    default: return "Code";
    }
}

int grpc_prefix_parse(const uint8_t p[GRPC_PREFIX_LEN], size_t max, size_t *len, struct cairn_error *err)
{
    size_t n = ((size_t)p[1] << 24) | ((size_t)p[2] << 16) | ((size_t)p[3] << 8) | (size_t)p[4];
    if (p[0] == 1)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "compressed gRPC messages are not supported (no grpc-encoding "
                          "is accepted)");
    if (p[0] != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "malformed gRPC message: compressed flag is %u", p[0]);
    if (n > max)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "gRPC message of %zu bytes exceeds the limit of %zu", n, max);
    *len = n;
    return 0;
}

void grpc_prefix_write(uint8_t p[GRPC_PREFIX_LEN], size_t len)
{
    p[0] = 0;
    p[1] = (uint8_t)(len >> 24);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 8);
    p[4] = (uint8_t)len;
}

char *grpc_message_encode(const char *msg)
{
    size_t n = strlen(msg);
    char *out = malloc(3 * n + 1);
    if (out == NULL)
        return NULL;
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)msg[i];
        if (ch >= 0x20 && ch <= 0x7e && ch != '%') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
    return out;
}

char *grpc_message_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < len && (h = cairn_hex_digit(s[i + 1])) >= 0 && (l = cairn_hex_digit(s[i + 2])) >= 0) {
            out[o++] = (char)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

void grpc_status_line(const char *line, size_t n, int *status, char *msg, size_t msg_cap)
{
    if (n >= 12 && strncasecmp(line, "grpc-status:", 12) == 0) {
        char v[16] = "";
        size_t l = n - 12 < sizeof(v) - 1 ? n - 12 : sizeof(v) - 1;
        memcpy(v, line + 12, l);
        char *end = NULL;
        long st = strtol(v, &end, 10);
        *status = (end != v && st >= 0 && st <= 99) ? (int)st : GRPC_UNKNOWN;
    } else if (n >= 13 && strncasecmp(line, "grpc-message:", 13) == 0 && msg_cap > 0) {
        const char *v = line + 13;
        size_t l = n - 13;
        while (l > 0 && (*v == ' ' || *v == '\t'))
            v++, l--;
        while (l > 0 && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' '))
            l--;
        char *d = grpc_message_decode(v, l < 4096 ? l : 4096);
        if (d == NULL)
            return;
        for (char *q = d; *q; q++)   /* decoded bytes go into logs and error messages */
            if ((unsigned char)*q < 0x20 || *q == 0x7f)
                *q = '?';
        snprintf(msg, msg_cap, "%s", d);
        free(d);
    }
}

void grpc_free_secret(void *p, size_t len)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, len);
    free(p);
}

/* protobuf-c allocator that wipes what it frees: unpacked responses and the
 * requests' buffers hold secrets (keys in Files/Env). */
static void *wipe_alloc(void *d, size_t n)
{
    (void)d;
    return malloc(n);
}

static void wipe_free(void *d, void *p)
{
    (void)d;
    if (p != NULL)
        OPENSSL_cleanse(p, malloc_usable_size(p));
    free(p);
}

static ProtobufCAllocator k_wipe = {.alloc = wipe_alloc, .free = wipe_free, .allocator_data = NULL};

static int set_b64(json_t *o, const char *k, const uint8_t *p, size_t n)
{
    char *s = cairn_base64_encode(p != NULL ? p : (const uint8_t *)"", n);
    if (s == NULL)
        return CAIRN_ERR_NOMEM;
    json_t *v = json_string(s);
    OPENSSL_cleanse(s, strlen(s));
    free(s);
    return (v != NULL && json_object_set_new(o, k, v) == 0) ? 0 : CAIRN_ERR_NOMEM;
}

int grpc_activation_req_to_json(const uint8_t *msg, size_t len, json_t **out, struct cairn_error *err)
{
    Rpc__ActivationReq *r = rpc__activation_req__unpack(&k_wipe, len, msg);
    if (r == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "malformed request: the ActivationReq message is not valid "
                          "protobuf");
    int rc = 0;
    json_t *j = json_object();
    if (j == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* protobuf strings are NUL-terminated copies; jansson refuses invalid UTF-8 */
    json_t *t = json_string(r->marbletype != NULL ? r->marbletype : "");
    json_t *u = json_string(r->uuid != NULL ? r->uuid : "");
    if (t == NULL || json_object_set_new(j, "marbleType", t) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "malformed request: MarbleType is not valid UTF-8");
        json_decref(u);
        goto done;
    }
    if (u == NULL || json_object_set_new(j, "uuid", u) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "malformed request: UUID is not valid UTF-8");
        goto done;
    }
    if (r->csr.len > 0 && (rc = set_b64(j, "csr", r->csr.data, r->csr.len)) != 0) {
        cairn_errf(err, rc, "out of memory");
        goto done;
    }
    if (r->quote.len > 0 && r->quote.data[0] == '{') {
        json_error_t je;
        json_t *ev = json_loadb((const char *)r->quote.data, r->quote.len, JSON_REJECT_DUPLICATES, &je);
        if (ev == NULL || !json_is_object(ev)) {
            json_decref(ev);
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "malformed request: Quote starts with '{' but is not a JSON "
                            "evidence object");
            goto done;
        }
        if (json_object_set_new(j, "evidence", ev) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            goto done;
        }
    } else if ((rc = set_b64(j, "quote", r->quote.data, r->quote.len)) != 0) {
        cairn_errf(err, rc, "out of memory");
        goto done;
    }
done:
    rpc__activation_req__free_unpacked(r, &k_wipe);
    if (rc != 0) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return 0;
}

/* Base64 values of a JSON object into protobuf map entries (decoded bytes). */
static int map_from_json(const json_t *o, const char *what, size_t *n_out, void ***out, size_t entry_size,
                         struct cairn_error *err)
{
    size_t n = json_is_object(o) ? json_object_size(o) : 0;
    *n_out = 0;
    *out = NULL;
    if (o != NULL && !json_is_object(o))
        return cairn_errf(err, CAIRN_ERR_INVALID, "activation data: %s is not an object", what);
    if (n == 0)
        return 0;
    void **v = calloc(n, sizeof(void *));
    if (v == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    *out = v;
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)o, k, val) {
        /* Files and Env entries share one layout */
        Rpc__Parameters__FilesEntry *e = calloc(1, entry_size);
        if (e == NULL)
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        v[(*n_out)++] = e;
        if (strcmp(what, "files") == 0)
            rpc__parameters__files_entry__init(e);
        else
            rpc__parameters__env_entry__init((Rpc__Parameters__EnvEntry *)e);
        e->key = (char *)k;   /* borrowed from the JSON object */
        if (!json_is_string(val) ||
            cairn_base64_decode(json_string_value(val), json_string_length(val), &e->value.data, &e->value.len) != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "activation data: %s.%s is not base64", what, k);
    }
    return 0;
}

static void map_free(size_t n, void **v)
{
    for (size_t i = 0; i < n; i++) {
        Rpc__Parameters__FilesEntry *e = v[i];
        grpc_free_secret(e->value.data, e->value.len);
        free(e);
    }
    free(v);
}

int grpc_activation_resp_from_json(const json_t *data, uint8_t **out, size_t *out_len, struct cairn_error *err)
{
    Rpc__Parameters p = RPC__PARAMETERS__INIT;
    Rpc__ActivationResp resp = RPC__ACTIVATION_RESP__INIT;
    resp.parameters = &p;
    int rc = map_from_json(json_object_get(data, "files"), "files", &p.n_files, (void ***)&p.files,
                           sizeof(Rpc__Parameters__FilesEntry), err);
    if (rc == 0)
        rc = map_from_json(json_object_get(data, "env"), "env", &p.n_env, (void ***)&p.env,
                           sizeof(Rpc__Parameters__EnvEntry), err);
    const json_t *argv = json_object_get(data, "argv");
    if (rc == 0 && json_is_array(argv) && json_array_size(argv) > 0) {
        p.n_argv = json_array_size(argv);
        if ((p.argv = calloc(p.n_argv, sizeof(char *))) == NULL)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        for (size_t i = 0; rc == 0 && i < p.n_argv; i++) {
            const json_t *a = json_array_get(argv, i);
            if (!json_is_string(a))
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "activation data: argv[%zu] is not a string", i);
            else
                p.argv[i] = (char *)json_string_value(a);
        }
    }
    if (rc == 0) {
        size_t n = rpc__activation_resp__get_packed_size(&resp);
        uint8_t *buf = malloc(GRPC_PREFIX_LEN + n);
        if (buf == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        } else {
            grpc_prefix_write(buf, n);
            rpc__activation_resp__pack(&resp, buf + GRPC_PREFIX_LEN);
            *out = buf;
            *out_len = GRPC_PREFIX_LEN + n;
        }
    }
    map_free(p.n_files, (void **)p.files);
    map_free(p.n_env, (void **)p.env);
    free(p.argv);
    return rc;
}

static int b64_field(const json_t *v, const char *what, uint8_t **out, size_t *len, struct cairn_error *err)
{
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || cairn_base64_decode(json_string_value(v), json_string_length(v), out, len) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "activation request: %s is not base64", what);
    return 0;
}

int grpc_activation_req_from_json(const json_t *req, uint8_t **out, size_t *out_len, struct cairn_error *err)
{
    Rpc__ActivationReq r = RPC__ACTIVATION_REQ__INIT;
    const json_t *t = json_object_get(req, "marbleType"), *u = json_object_get(req, "uuid");
    const json_t *ev = json_object_get(req, "evidence");
    char *evs = NULL;
    int rc = 0;
    if (!json_is_string(t) || !json_is_string(u))
        return cairn_errf(err, CAIRN_ERR_INVALID, "activation request: marbleType and uuid must be strings");
    r.marbletype = (char *)json_string_value(t);
    r.uuid = (char *)json_string_value(u);
    rc = b64_field(json_object_get(req, "csr"), "csr", &r.csr.data, &r.csr.len, err);
    if (rc == 0 && ev != NULL && !json_is_null(ev)) {
        if ((evs = json_dumps(ev, JSON_COMPACT)) == NULL)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        else {
            r.quote.data = (uint8_t *)evs;
            r.quote.len = strlen(evs);
        }
    } else if (rc == 0) {
        rc = b64_field(json_object_get(req, "quote"), "quote", &r.quote.data, &r.quote.len, err);
    }
    if (rc == 0) {
        size_t n = rpc__activation_req__get_packed_size(&r);
        uint8_t *buf = malloc(GRPC_PREFIX_LEN + n);
        if (buf == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        } else {
            grpc_prefix_write(buf, n);
            rpc__activation_req__pack(&r, buf + GRPC_PREFIX_LEN);
            *out = buf;
            *out_len = GRPC_PREFIX_LEN + n;
        }
    }
    free(r.csr.data);
    if (evs != NULL)
        free(evs);
    else
        free(r.quote.data);
    return rc;
}

static int map_to_json(json_t *o, size_t n, Rpc__Parameters__FilesEntry **e, const char *what,
                       struct cairn_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i]->key == NULL || json_object_get(o, e[i]->key) != NULL)
            return cairn_errf(err, CAIRN_ERR_PROTOCOL, "ActivationResp: %s has a missing or repeated key", what);
        char *s = cairn_base64_encode(e[i]->value.data != NULL ? e[i]->value.data : (const uint8_t *)"",
                                      e[i]->value.len);
        json_t *v = s != NULL ? json_string(s) : NULL;
        if (s != NULL) {
            OPENSSL_cleanse(s, strlen(s));
            free(s);
        }
        if (v == NULL || json_object_set_new(o, e[i]->key, v) != 0)
            return cairn_errf(err, CAIRN_ERR_PROTOCOL, "ActivationResp: %s key is not valid UTF-8", what);
    }
    return 0;
}

int grpc_activation_resp_to_json(const uint8_t *msg, size_t len, json_t **out, struct cairn_error *err)
{
    Rpc__ActivationResp *r = rpc__activation_resp__unpack(&k_wipe, len, msg);
    if (r == NULL)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "the Coordinator's ActivationResp is not valid protobuf");
    json_t *files = json_object(), *env = json_object(), *argv = json_array();
    json_t *j = NULL;
    int rc = 0;
    if (files == NULL || env == NULL || argv == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (r->parameters != NULL) {
        const Rpc__Parameters *p = r->parameters;
        if ((rc = map_to_json(files, p->n_files, p->files, "Files", err)) != 0 ||
            (rc = map_to_json(env, p->n_env, (Rpc__Parameters__FilesEntry **)p->env, "Env", err)) != 0)
            goto done;
        for (size_t i = 0; i < p->n_argv; i++) {
            json_t *a = json_string(p->argv[i] != NULL ? p->argv[i] : "");
            if (a == NULL || json_array_append_new(argv, a) != 0) {
                rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "ActivationResp: Argv is not valid UTF-8");
                goto done;
            }
        }
    }
    j = json_pack("{s:O, s:O, s:O}", "files", files, "env", env, "argv", argv);
    if (j == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
done:
    json_decref(files);
    json_decref(env);
    json_decref(argv);
    rpc__activation_resp__free_unpacked(r, &k_wipe);
    if (rc == 0)
        *out = j;
    return rc;
}
