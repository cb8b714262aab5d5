/* Request envelopes decoded with Go encoding/json semantics (api_json.h). */
#include "server/api_json.h"

#include <stdlib.h>
#include <string.h>

#include "common/encoding.h"

#define JBYTES_ARRAY_MAX (4u * 1024 * 1024)

bool api_json_key_match(const char *key, size_t key_len, const char *field)
{
    return cairn_go_key_equal(key, key_len, field);
}

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    case JSON_NULL: return "null";
    }
    return "value";
}

static int b64_go(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
    /* Go's base64 decoder skips CR and LF anywhere in the input */
    char *tmp = malloc(len + 1);
    if (tmp == NULL)
        return CAIRN_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] != '\r' && s[i] != '\n')
            tmp[n++] = s[i];
    tmp[n] = '\0';
    int rc = cairn_base64_decode(tmp, n, out, out_len);
    free(tmp);
    return rc;
}

static int decode_bytes(const json_t *v, const char *name, struct api_jbytes *out, struct cairn_error *err)
{
    if (json_is_string(v)) {
        int rc = b64_go(json_string_value(v), json_string_length(v), &out->p, &out->n);
        if (rc == CAIRN_ERR_NOMEM)
            return cairn_errf(err, rc, "out of memory");
        if (rc != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s: invalid base64", name);
        return 0;
    }
    if (!json_is_array(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: expected a base64 string, got %s", name, type_name(v));
    size_t n = json_array_size(v);
    if (n > JBYTES_ARRAY_MAX)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: too many bytes", name);
    uint8_t *b = malloc(n + 1);
    if (b == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 255) {
            free(b);
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s[%zu]: expected a number 0..255", name, i);
        }
        b[i] = (uint8_t)json_integer_value(e);
    }
    out->p = b;
    out->n = n;
    return 0;
}

static int decode_field(const json_t *v, const struct api_jfield *f, struct cairn_error *err)
{
    switch (f->type) {
    case API_J_BYTES:
        return decode_bytes(v, f->name, f->out, err);
    case API_J_STRING: {
        if (!json_is_string(v))
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s: expected a string, got %s", f->name, type_name(v));
        size_t n = json_string_length(v);
        if (memchr(json_string_value(v), '\0', n) != NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s: must not contain NUL bytes", f->name);
        char *s = strdup(json_string_value(v));
        if (s == NULL)
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        *(char **)f->out = s;
        return 0;
    }
    case API_J_UINT64:
        if (!json_is_integer(v))
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s: expected a non-negative integer, got %s", f->name,
                              json_is_real(v) ? "a fraction or exponent" : type_name(v));
        if (json_integer_value(v) < 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s: must not be negative", f->name);
        *(uint64_t *)f->out = (uint64_t)json_integer_value(v);
        return 0;
    case API_J_OBJECT:
        if (!json_is_object(v))
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s: expected an object, got %s", f->name, type_name(v));
        *(const json_t **)f->out = v;
        return 0;
    }
    return cairn_errf(err, CAIRN_ERR_INTERNAL, "%s: unknown field type", f->name);
}

static void clear_fields(const struct api_jfield *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct api_jfield *f = &fields[i];
        switch (f->type) {
        case API_J_BYTES: {
            struct api_jbytes *b = f->out;
            free(b->p);
            b->p = NULL;
            b->n = 0;
            break;
        }
        case API_J_STRING:
            free(*(char **)f->out);
            *(char **)f->out = NULL;
            break;
        case API_J_UINT64:
            *(uint64_t *)f->out = 0;
            break;
        case API_J_OBJECT:
            *(const json_t **)f->out = NULL;
            break;
        }
        if (f->present != NULL)
            *f->present = false;
    }
}

int api_json_decode(const uint8_t *body, size_t len, const struct api_jfield *fields, size_t n, json_t **root,
                    struct cairn_error *err)
{
    if (root != NULL)
        *root = NULL;
    clear_fields(fields, n);
    json_error_t je;
    /* JSON_REJECT_DUPLICATES: exact duplicate keys are refused (Go: last wins) */
    json_t *j = json_loadb((const char *)(body != NULL ? body : (const uint8_t *)""), len,
                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (j == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "invalid JSON: %s (line %d, column %d)", je.text, je.line,
                          je.column);
    if (!json_is_object(j) && !json_is_null(j)) {
        int rc = cairn_errf(err, CAIRN_ERR_INVALID, "expected a JSON object, got %s", type_name(j));
        json_decref(j);
        return rc;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0 && json_is_object(j); i++) {
        const struct api_jfield *f = &fields[i];
        const char *key, *match = NULL;
        json_t *v, *found = NULL;
        json_object_foreach(j, key, v) {
            if (!api_json_key_match(key, strlen(key), f->name))
                continue;
            if (found != NULL) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: given twice (keys \"%s\" and \"%s\")", f->name, match,
                                key);
                break;
            }
            found = v;
            match = key;
        }
        if (rc != 0 || found == NULL || json_is_null(found))
            continue;
        rc = decode_field(found, f, err);
        if (rc == 0 && f->present != NULL)
            *f->present = true;
    }
    if (rc != 0) {
        clear_fields(fields, n);
        json_decref(j);
        return rc;
    }
    if (root != NULL)
        *root = j;
    else
        json_decref(j);
    return 0;
}
