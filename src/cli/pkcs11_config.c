/* The PKCS#11 configuration file (MarbleRun's crypto11 JSON) and the
 * RFC 7512 URIs built from it (see pkcs11.h). Pure: no ENGINE, unit-tested
 * in tests/unit/cli/test_pkcs11_config.c and fuzzed by
 * tests/fuzz/cli/fuzz_cli_pkcs11_config.c. */
#include "cli/pkcs11.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

#define P11_STR_MAX 1024 /* any string of the configuration */

static int errf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

void cli_p11_config_free(struct cli_p11_config *c)
{
    if (c == NULL)
        return;
    free(c->module);
    if (c->pin != NULL) {
        OPENSSL_cleanse(c->pin, strlen(c->pin));
        free(c->pin);
    }
    free(c->token_label);
    free(c->token_serial);
    memset(c, 0, sizeof(*c));
}

/* A string member; Go's encoding/json matches keys case-insensitively. */
static int take_string(const char *key, json_t *v, char **dst, char *err, size_t n)
{
    if (!json_is_string(v))
        return errf(err, n, "PKCS#11 config: \"%s\" must be a string", key);
    if (json_string_length(v) > P11_STR_MAX || strlen(json_string_value(v)) != json_string_length(v))
        return errf(err, n, "PKCS#11 config: \"%s\" is too long or holds a NUL byte", key);
    free(*dst);
    *dst = strdup(json_string_value(v));
    if (*dst == NULL)
        return errf(err, n, "out of memory");
    return 0;
}

int cli_p11_config_parse(const char *json, size_t len, struct cli_p11_config *out, char *err, size_t n)
{
    memset(out, 0, sizeof(*out));
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        snprintf(err, n, "PKCS#11 config: not a JSON object (%s, line %d)", o ? "not an object" : je.text,
                 o ? 1 : je.line);
        json_decref(o);
        return -1;
    }
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(o, k, v) {
        if (rc != 0)
            break;
        if (strcasecmp(k, "Path") == 0)
            rc = take_string("Path", v, &out->module, err, n);
        else if (strcasecmp(k, "Pin") == 0)
            rc = take_string("Pin", v, &out->pin, err, n);
        else if (strcasecmp(k, "TokenLabel") == 0)
            rc = take_string("TokenLabel", v, &out->token_label, err, n);
        else if (strcasecmp(k, "TokenSerial") == 0)
            rc = take_string("TokenSerial", v, &out->token_serial, err, n);
        else if (strcasecmp(k, "SlotNumber") == 0)
            rc = errf(err, n,
                      "PKCS#11 config: \"SlotNumber\" is not supported (the OpenSSL pkcs11 engine of Debian 12, "
                      "libp11 0.4.12, cannot select a slot by number); select the token with \"TokenLabel\" or "
                      "\"TokenSerial\"");
        else if (strcasecmp(k, "LoginNotSupported") == 0 && json_is_true(v))
            rc = errf(err, n, "PKCS#11 config: \"LoginNotSupported\" is not supported; give the token's \"Pin\"");
        else if (strcasecmp(k, "UserType") == 0 && !(json_is_integer(v) && json_integer_value(v) == 1))
            rc = errf(err, n, "PKCS#11 config: only \"UserType\" 1 (CKU_USER) is supported");
        /* other crypto11 settings (MaxSessions, PoolWaitTimeout, GCM IVs)
         * tune its session pool and AES-GCM, neither of which is used here */
    }
    json_decref(o);
    if (rc == 0 && (out->module == NULL || out->module[0] == '\0'))
        rc = errf(err, n, "PKCS#11 config: \"Path\" (the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so) is "
                          "required");
    if (rc == 0 && (out->token_label != NULL) == (out->token_serial != NULL))
        rc = errf(err, n, "PKCS#11 config: give exactly one of \"TokenLabel\" and \"TokenSerial\"");
    if (rc != 0)
        cli_p11_config_free(out);
    return rc;
}

/* Appends "name=<%-encoded value>;" */
static int uri_attr(char **p, size_t *left, const char *name, const char *value)
{
    int w = snprintf(*p, *left, "%s%s=", (*p)[-1] == ':' ? "" : ";", name);
    if (w < 0 || (size_t)w >= *left)
        return -1;
    *p += w;
    *left -= (size_t)w;
    for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
        if (*left < 4)
            return -1;
        w = snprintf(*p, *left, "%%%02X", *s);
        *p += w;
        *left -= (size_t)w;
    }
    return 0;
}

char *cli_p11_uri(const struct cli_p11_config *c, const char *id, const char *label, const char *type)
{
    size_t cap = 64 + 3 * ((c->token_label ? strlen(c->token_label) : 0) +
                           (c->token_serial ? strlen(c->token_serial) : 0) + (id ? strlen(id) : 0) +
                           (label ? strlen(label) : 0) + strlen(type));
    char *uri = malloc(cap);
    if (uri == NULL)
        return NULL;
    memcpy(uri, "pkcs11:", 8);
    char *p = uri + 7;
    size_t left = cap - 7;
    int rc = 0;
    if (c->token_label)
        rc |= uri_attr(&p, &left, "token", c->token_label);
    if (c->token_serial)
        rc |= uri_attr(&p, &left, "serial", c->token_serial);
    if (id && id[0])
        rc |= uri_attr(&p, &left, "id", id);
    if (label && label[0])
        rc |= uri_attr(&p, &left, "object", label);
    int w = snprintf(p, left, ";type=%s", type);
    if (rc != 0 || w < 0 || (size_t)w >= left) {
        free(uri);
        return NULL;
    }
    return uri;
}

