/* YAML manifests to JSON for the CLI (MarbleRun's CLI uses YAMLToJSONStrict).
 *
 * Event-based with libyaml so that aliases can be refused before they expand
 * (a small document could otherwise become a huge JSON text). Plain scalars
 * are typed with the YAML 1.2 core schema; quoted and block scalars, and any
 * scalar tagged !!str, stay strings. Duplicate mapping keys are an error, as
 * in the "strict" converter. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "manifest/manifest_internal.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

struct frame {
    json_t *node;     /* object or array being built (owned by the frame until attached) */
    char *key;        /* pending mapping key, or NULL when a key is expected */
};

static bool match(const char *s, const char *const *list)
{
    for (; *list; list++) {
        if (strcmp(s, *list) == 0)
            return true;
    }
    return false;
}

static bool all_digits(const char *s, const char *set)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (strchr(set, *s) == NULL)
            return false;
    }
    return true;
}

static bool is_float(const char *s)
{
    const char *p = s;
    bool digits = false;
    if (*p == '+' || *p == '-')
        p++;
    while (*p >= '0' && *p <= '9') {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static int plain_scalar(const char *s, json_t **out, struct cairn_error *err)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    static const char *const specials[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf",
                                           "-.INF", ".nan", ".NaN", ".NAN", NULL};
    if (match(s, nulls)) {
        *out = json_null();
        return 0;
    }
    if (match(s, trues) || match(s, falses)) {
        *out = json_boolean(match(s, trues));
        return 0;
    }
    const char *d = (*s == '+' || *s == '-') ? s + 1 : s;
    int base = 0;
    if (all_digits(d, "0123456789"))
        base = 10;
    else if (s[0] == '0' && s[1] == 'o' && all_digits(s + 2, "01234567"))
        base = 8;
    else if (s[0] == '0' && s[1] == 'x' && all_digits(s + 2, "0123456789abcdefABCDEF"))
        base = 16;
    if (base != 0) {
        errno = 0;
        char *end;
        long long v = strtoll(base == 10 ? s : s + 2, &end, base);
        if (errno != 0 || *end != '\0')
            return cairn_errf(err, CAIRN_ERR_INVALID, "yaml: integer %s is out of range", s);
        *out = json_integer(v);
        return 0;
    }
    if (match(s, specials))
        return cairn_errf(err, CAIRN_ERR_INVALID, "yaml: %s cannot be represented in JSON", s);
    if (is_float(s)) {
        *out = json_real(strtod(s, NULL));
        return 0;
    }
    *out = json_string(s);
    return 0;
}

static int scalar_value(const yaml_event_t *ev, json_t **out, struct cairn_error *err)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (tag != NULL && strcmp(tag, "!") != 0) {
        if (strcmp(tag, TAG_PREFIX "str") == 0) {
            plain = false;
        } else if (strcmp(tag, TAG_PREFIX "int") != 0 && strcmp(tag, TAG_PREFIX "float") != 0 &&
                   strcmp(tag, TAG_PREFIX "bool") != 0 && strcmp(tag, TAG_PREFIX "null") != 0) {
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "yaml: line %zu: unsupported tag %s",
                              ev->start_mark.line + 1, tag);
        } else {
            plain = true;
        }
    }
    if (plain && strlen(s) == n)
        return plain_scalar(s, out, err);
    *out = json_stringn(s, n);
    if (*out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "yaml: line %zu: string is not valid UTF-8",
                          ev->start_mark.line + 1);
    return 0;
}

/* Attaches `v` (reference stolen) to the top frame, or makes it the root. */
static int attach(struct frame *st, int depth, json_t **root, json_t *v, size_t line, struct cairn_error *err)
{
    if (v == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (depth == 0) {
        *root = v;
        return 0;
    }
    struct frame *f = &st[depth - 1];
    if (json_is_array(f->node)) {
        if (json_array_size(f->node) >= MANIFEST_MAX_ENTRIES) {
            json_decref(v);
            return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "yaml: line %zu: sequence has too many entries", line);
        }
        return json_array_append_new(f->node, v) == 0 ? 0 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    if (f->key == NULL) {
        /* This scalar is a key. */
        const char *k = NULL;
        char buf[64];
        if (json_is_string(v)) {
            if (strlen(json_string_value(v)) != json_string_length(v)) {
                json_decref(v);
                return cairn_errf(err, CAIRN_ERR_INVALID, "yaml: line %zu: mapping key contains NUL", line);
            }
            k = json_string_value(v);
        } else if (json_is_integer(v)) {
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
            k = buf;
        } else if (json_is_boolean(v)) {
            k = json_is_true(v) ? "true" : "false";
        } else if (json_is_null(v)) {
            k = "null";
        } else if (json_is_real(v)) {
            snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
            k = buf;
        } else {
            json_decref(v);
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "yaml: line %zu: mapping keys must be scalars", line);
        }
        if (json_object_get(f->node, k) != NULL) {
            int rc = cairn_errf(err, CAIRN_ERR_INVALID, "yaml: line %zu: duplicate key \"%.64s\"", line, k);
            json_decref(v);
            return rc;
        }
        if (json_object_size(f->node) >= MANIFEST_MAX_ENTRIES) {
            json_decref(v);
            return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "yaml: line %zu: mapping has too many entries", line);
        }
        f->key = strdup(k);
        json_decref(v);
        return f->key ? 0 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    int rc = json_object_set_new(f->node, f->key, v);
    free(f->key);
    f->key = NULL;
    return rc == 0 ? 0 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
}

int manifest_yaml_to_json(const char *yaml, size_t len, char **json_out, struct cairn_error *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct frame st[MANIFEST_MAX_DEPTH];
    int depth = 0, docs = 0, rc = 0;
    json_t *root = NULL;
    bool done = false;
    if (yaml == NULL || json_out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "yaml: no input");
    if (len > MANIFEST_MAX_SIZE)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "yaml: %zu bytes exceed the limit of %d", len, MANIFEST_MAX_SIZE);
    if (!yaml_parser_initialize(&parser))
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    while (!done && rc == 0) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "yaml: line %zu, column %zu: %s", parser.problem_mark.line + 1,
                            parser.problem_mark.column + 1, parser.problem ? parser.problem : "syntax error");
            break;
        }
        size_t line = ev.start_mark.line + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "yaml: line %zu: only one document is supported", line);
            break;
        case YAML_ALIAS_EVENT:
            rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "yaml: line %zu: aliases are not supported", line);
            break;
        case YAML_SCALAR_EVENT: {
            json_t *v = NULL;
            if ((rc = scalar_value(&ev, &v, err)) == 0)
                rc = attach(st, depth, &root, v, line, err);
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            const char *tag = ev.type == YAML_SEQUENCE_START_EVENT ? (const char *)ev.data.sequence_start.tag
                                                                  : (const char *)ev.data.mapping_start.tag;
            if (tag != NULL && strcmp(tag, TAG_PREFIX "seq") != 0 && strcmp(tag, TAG_PREFIX "map") != 0) {
                rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "yaml: line %zu: unsupported tag %s", line, tag);
                break;
            }
            if (depth > 0 && json_is_object(st[depth - 1].node) && st[depth - 1].key == NULL) {
                rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "yaml: line %zu: mapping keys must be scalars", line);
                break;
            }
            if (depth >= MANIFEST_MAX_DEPTH) {
                rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "yaml: line %zu: nested deeper than %d", line,
                                MANIFEST_MAX_DEPTH);
                break;
            }
            st[depth].node = ev.type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
            st[depth].key = NULL;
            if (st[depth].node == NULL) {
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
                break;
            }
            depth++;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            depth--;
            json_t *node = st[depth].node;
            free(st[depth].key);
            st[depth].key = NULL;
            rc = attach(st, depth, &root, node, line, err);
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (depth > 0) {
        depth--;
        json_decref(st[depth].node);
        free(st[depth].key);
    }
    if (rc < 0) {
        json_decref(root);
        return rc;
    }
    if (root == NULL)
        root = json_null();
    char *s = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(root);
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    *json_out = s;
    return 0;
}

int manifest_file_to_upload(const uint8_t *data, size_t len, uint8_t **out, size_t *out_len,
                            struct cairn_error *err)
{
    if (len > MANIFEST_MAX_SIZE)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "manifest: %zu bytes exceed the limit of %d", len,
                          MANIFEST_MAX_SIZE);
    json_error_t je;
    json_t *j = json_loadb((const char *)data, len, JSON_DECODE_ANY, &je);
    if (j != NULL) { /* JSON: kept byte for byte (the manifest hash is over these bytes) */
        json_decref(j);
        uint8_t *copy = malloc(len + 1);
        if (copy == NULL)
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        memcpy(copy, data, len);
        copy[len] = '\0';
        *out = copy;
        *out_len = len;
        return 0;
    }
    char *conv = NULL;
    struct cairn_error yerr = {0};
    if (manifest_yaml_to_json((const char *)data, len, &conv, &yerr) != 0)
        return cairn_errf(err, yerr.code == CAIRN_ERR_NOMEM ? CAIRN_ERR_NOMEM : CAIRN_ERR_INVALID,
                          "neither JSON (%s at line %d) nor YAML (%s)", je.text, je.line, cairn_error_msg(&yerr));
    *out = (uint8_t *)conv;
    *out_len = strlen(conv);
    return 0;
}
