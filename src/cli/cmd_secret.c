/* cairn secret set|get (inventory §4) and the user-authenticated connection
 * shared by the governance commands (secret, manifest update, recover). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "client/client_internal.h"
#include "common/buf.h"
#include "common/encoding.h"
#include "common/file.h"
#include "crypto/crypto.h"

#define USER_FILE_MAX (64 * 1024)
#define SECRETS_FILE_MAX (1024 * 1024)

static const struct cli_flag set_flags[] = {
    CLI_USER_FLAGS,
    {"from-pem", 0, true, "NAME", "the file is PEM (CERTIFICATE and/or PRIVATE KEY) for secret NAME"},
    {NULL, 0, false, NULL, NULL},
};
static const struct cli_flag get_flags[] = {
    CLI_USER_FLAGS,
    {"output", 'o', true, "FILE", "write the secrets as JSON to FILE (mode 0600; \"-\" = stdout) instead of text"},
    {NULL, 0, false, NULL, NULL},
};

/* Reads a whole text file into a NUL-terminated string. */
static int read_text(const char *what, const char *path, size_t max, char **out)
{
    uint8_t *d = NULL;
    size_t n = 0;
    if (cli_read_file(what, path, max, &d, &n) != 0)
        return CLI_EXIT_FAIL;
    char *s = realloc(d, n + 1);
    if (s == NULL) {
        free(d);
        return cli_fail("out of memory");
    }
    s[n] = '\0';
    *out = s;
    return 0;
}

/* The user's identity from a PKCS#11 token (MarbleRun's flag rules:
 * --pkcs11-config excludes -c/-k and needs a key and a certificate ID or
 * label), checked before any network traffic. */
static int user_from_pkcs11(struct cli_ctx *ctx, X509 **out_cert, EVP_PKEY **out_key)
{
    if (cli_args_has(&ctx->args, "cert") || cli_args_has(&ctx->args, "key"))
        return cli_fail("%s: --pkcs11-config and -c/-k exclude each other; authenticate with one of them", ctx->path);
    EVP_PKEY *k = NULL;
    X509 *x = NULL;
    if (cli_pkcs11_identity(ctx, true, &k, &x) != 0)
        return CLI_EXIT_FAIL;
    if (EVP_PKEY_eq(X509_get0_pubkey(x), k) != 1) {
        EVP_PKEY_free(k);
        X509_free(x);
        return cli_fail("the key in the PKCS#11 token does not belong to its certificate; check the --pkcs11-* IDs "
                        "and labels");
    }
    *out_cert = x;
    *out_key = k;
    return 0;
}

int cli_connect_user(struct cli_ctx *ctx, const char *address, struct cairn_client **out)
{
    const char *cert = cli_args_get(&ctx->args, "cert"), *key = cli_args_get(&ctx->args, "key");
    char *cert_pem = NULL, *key_pem = NULL;
    X509 *p11_cert = NULL;
    EVP_PKEY *p11_key = NULL;
    int rc = 0;
    if (cli_args_has(&ctx->args, "pkcs11-config")) {
        if (user_from_pkcs11(ctx, &p11_cert, &p11_key) != 0)
            return CLI_EXIT_FAIL;
    } else {
        if (cert == NULL || key == NULL)
            return cli_fail("%s needs the user's certificate and key: pass -c CERT.pem -k KEY.pem (a user of the "
                            "manifest), or --pkcs11-config FILE with --pkcs11-key-id|label and "
                            "--pkcs11-cert-id|label",
                            ctx->path);
        if (read_text("user certificate", cert, USER_FILE_MAX, &cert_pem) != 0)
            return CLI_EXIT_FAIL;
        if (read_text("user key", key, USER_FILE_MAX, &key_pem) != 0) {
            free(cert_pem);
            return CLI_EXIT_FAIL;
        }
        /* catch a wrong file early, with a clear message, before any network */
        X509 *x = NULL;
        EVP_PKEY *k = NULL;
        if (cc_cert_from_pem(cert_pem, strlen(cert_pem), &x, NULL) != 0)
            rc = cli_fail("\"%s\" is not a PEM certificate; pass the user's certificate with -c", cert);
        else if (cc_key_from_pem(key_pem, strlen(key_pem), &k, NULL) != 0)
            rc = cli_fail("\"%s\" is not a PEM private key; pass the user's key with -k", key);
        else if (!cc_pubkey_equal(X509_get0_pubkey(x), k))
            rc = cli_fail("the key \"%s\" does not belong to the certificate \"%s\"; pass the matching pair", key,
                          cert);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    struct cairn_client *pinned = NULL;
    char *root = NULL;
    if (rc == 0)
        rc = cli_connect_cached(ctx, address, &pinned, &root);
    if (rc == 0) {
        struct cairn_client_config cc = {.address = address, .root_ca_pem = root,
                                         .client_cert_pem = cert_pem, .client_key_pem = key_pem};
        if (cairn_client_new(&cc, out) != 0)
            rc = cli_fail("cannot create a client for \"%s\"", address);
        else {
            cli_failover_setup(*out);
            if (p11_key != NULL && client_set_identity(*out, p11_cert, p11_key) != 0)
                rc = cli_fail("cannot use the PKCS#11 identity");
        }
        if (rc != 0 && *out != NULL) {
            cairn_client_free(*out);
            *out = NULL;
        }
        free(root);
        cairn_client_free(pinned);
    }
    free(cert_pem);
    if (key_pem != NULL)
        cc_free_secret(key_pem, strlen(key_pem));
    X509_free(p11_cert);
    EVP_PKEY_free(p11_key);
    return rc;
}

/* ---- set ---- */

/* {NAME: {"Cert": b64 DER, "Private": b64 PKCS#8}} from a PEM file. */
static int secret_from_pem(const char *name, const char *pem, char **out_json)
{
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    bool has_cert = strstr(pem, "-----BEGIN CERTIFICATE-----") != NULL;
    bool has_key = strstr(pem, "PRIVATE KEY-----") != NULL;
    if (!has_cert && !has_key)
        return cli_fail("--from-pem: the file holds neither a CERTIFICATE nor a PRIVATE KEY block");
    struct cairn_error e = {0};
    if (has_cert && cc_cert_from_pem(pem, strlen(pem), &x, &e) != 0)
        return cli_fail("--from-pem: the CERTIFICATE block is invalid: %s", cairn_error_msg(&e));
    if (has_key && cc_key_from_pem(pem, strlen(pem), &k, &e) != 0) {
        X509_free(x);
        return cli_fail("--from-pem: the PRIVATE KEY block is invalid: %s", cairn_error_msg(&e));
    }
    json_t *o = json_object();
    uint8_t *der = NULL;
    size_t n = 0;
    int rc = 0;
    if (x != NULL) {
        char *b = cc_cert_to_der(x, &der, &n) == 0 ? cairn_base64_encode(der, n) : NULL;
        free(der);
        rc = b != NULL ? json_object_set_new(o, "Cert", json_string(b)) : -1;
        free(b);
    }
    if (rc == 0 && k != NULL) {
        char *b = cc_key_to_pkcs8_der(k, &der, &n) == 0 ? cairn_base64_encode(der, n) : NULL;
        cc_free_secret(der, n);
        rc = b != NULL ? json_object_set_new(o, "Private", json_string(b)) : -1;
        if (b != NULL)
            cc_free_secret(b, strlen(b));
    }
    X509_free(x);
    EVP_PKEY_free(k);
    json_t *w = rc == 0 ? json_pack("{s:o}", name, o) : NULL;
    if (w == NULL) {
        if (rc != 0)
            json_decref(o);
        return cli_fail("out of memory");
    }
    *out_json = json_dumps(w, JSON_COMPACT);
    json_decref(w);
    return *out_json != NULL ? 0 : cli_fail("out of memory");
}

static int run_set(struct cli_ctx *ctx)
{
    char *file = NULL, *body = NULL;
    if (read_text("secret file", ctx->args.pos[0], SECRETS_FILE_MAX, &file) != 0)
        return CLI_EXIT_FAIL;
    const char *from_pem = cli_args_get(&ctx->args, "from-pem");
    int rc = 0;
    if (from_pem != NULL) {
        rc = secret_from_pem(from_pem, file, &body);
    } else {
        json_error_t je;
        json_t *j = json_loads(file, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(j))
            rc = cli_fail("secret file \"%s\" is not a JSON object {name: {\"Key\"|\"Cert\"|\"Private\": base64}} "
                          "(%s, line %d); for PEM files use --from-pem NAME",
                          ctx->args.pos[0], j == NULL ? je.text : "not an object", j == NULL ? je.line : 1);
        json_decref(j);
        if (rc == 0 && (body = strdup(file)) == NULL)
            rc = cli_fail("out of memory");
    }
    cc_free_secret(file, strlen(file));
    struct cairn_client *c = NULL;
    if (rc == 0)
        rc = cli_connect_user(ctx, ctx->args.pos[1], &c);
    if (rc == 0) {
        int r = cairn_secrets_set(c, body);
        if (r != 0)
            rc = cli_fail_client(r, "setting secrets", cairn_client_last_error(c));
        else
            printf("Secret successfully set\n");
    }
    if (body != NULL)
        cc_free_secret(body, strlen(body));
    cairn_client_free(c);
    return rc;
}

/* ---- get ---- */

#define TEXT_MAX (16 * 1024 * 1024)

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One member of a Secret as MarbleRun's CLI prints it: strings as they are,
 * numbers and booleans in JSON notation, absent/null as "". Control bytes
 * from the Coordinator are shown as '?' so that they cannot drive the
 * terminal. */
static int text_value(struct cairn_buf *b, const json_t *v)
{
    char num[32];
    const char *s = "";
    if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_integer(v))
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v)), s = num;
    else if (json_is_boolean(v))
        s = json_is_true(v) ? "true" : "false";
    for (; *s != '\0'; s++) {
        char ch = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
        if (cairn_buf_append(b, &ch, 1) != 0)
            return -1;
    }
    return 0;
}

static int text_line(struct cairn_buf *b, const char *label, const json_t *v)
{
    /* MarbleRun: a tab, the label left-aligned in 14 columns, a space, the value */
    if (cairn_buf_appendf(b, "\t%-14s ", label) != 0 || text_value(b, v) != 0 ||
        cairn_buf_append(b, "\n", 1) != 0)
        return -1;
    return 0;
}

/* {name: Secret} as text, one block per secret, names sorted; the labels
 * and their order per type are MarbleRun's `secret get` (inventory §4). */
static int secrets_text(const json_t *all, struct cairn_buf *b)
{
    const char **names = calloc(json_object_size(all) + 1, sizeof(*names));
    size_t n = 0;
    const char *k;
    json_t *v;
    if (names == NULL)
        return cli_fail("out of memory");
    json_object_foreach((json_t *)all, k, v) names[n++] = k;
    qsort(names, n, sizeof(*names), cmp_names);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *s = json_object_get(all, names[i]);
        const json_t *type = json_object_get(s, "Type");
        const char *t = json_is_string(type) ? json_string_value(type) : "";
        const json_t *ud = json_object_get(s, "UserDefined"), *size = json_object_get(s, "Size");
        json_t *name = json_string(names[i]);
        int w = name == NULL || text_value(b, name) != 0 || cairn_buf_append_str(b, ":\n") != 0 ||
                text_line(b, "Type:", type) != 0;
        json_decref(name);
        if (!json_is_object(s)) {
            rc = cli_fail("the Coordinator's answer for secret \"%s\" is not an object", names[i]);
        } else if (strcmp(t, "cert-rsa") == 0 || strcmp(t, "cert-ecdsa") == 0 || strcmp(t, "cert-ed25519") == 0) {
            w = w || text_line(b, "UserDefined:", ud) != 0 ||
                (strcmp(t, "cert-ed25519") != 0 && text_line(b, "Size:", size) != 0) ||
                text_line(b, "Valid For:", json_object_get(s, "ValidFor")) != 0 ||
                text_line(b, "Certificate:", json_object_get(s, "Cert")) != 0 ||
                text_line(b, "Public Key:", json_object_get(s, "Public")) != 0 ||
                text_line(b, "Private Key:", json_object_get(s, "Private")) != 0;
        } else if (strcmp(t, "symmetric-key") == 0) {
            w = w || text_line(b, "UserDefined:", ud) != 0 || text_line(b, "Size:", size) != 0 ||
                text_line(b, "Key:", json_object_get(s, "Public")) != 0;
        } else if (strcmp(t, "plain") == 0) {
            w = w || text_line(b, "Data:", json_object_get(s, "Public")) != 0;
        } else {
            rc = cli_fail("secret \"%s\": unknown secret type; use -o FILE for the raw JSON", names[i]);
        }
        if (rc == 0 && (w || cairn_buf_append(b, "\n", 1) != 0))
            rc = cli_fail("the secrets do not fit in %d MiB of text", TEXT_MAX >> 20);
    }
    free(names);
    return rc;
}

static int run_get(struct cli_ctx *ctx)
{
    size_t n = ctx->args.n_pos - 1;
    const char *addr = ctx->args.pos[n];
    struct cairn_client *c = NULL;
    int rc = cli_connect_user(ctx, addr, &c);
    if (rc != 0)
        return rc;
    char *json = NULL;
    const char *output = cli_args_get(&ctx->args, "output");
    int r = cairn_secrets_get(c, ctx->args.pos, n, &json);
    json_t *j = r == 0 ? json_loads(json, 0, NULL) : NULL;
    if (r != 0) {
        rc = cli_fail_client(r, "retrieving secrets", cairn_client_last_error(c));
    } else if (!json_is_object(j)) {
        rc = cli_fail("the Coordinator's answer is not a JSON object");
    } else if (json_object_size(j) != n) {
        rc = cli_fail("did not receive the same number of secrets as requested (%zu of %zu)", json_object_size(j), n);
    } else if (output == NULL) {
        struct cairn_buf b;
        cairn_buf_init(&b, TEXT_MAX);
        rc = secrets_text(j, &b);
        if (rc == 0)
            rc = cli_write_output(NULL, b.data, b.len, 0600);
        cairn_buf_free_secret(&b);
    } else {
        char *pretty = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (pretty == NULL) {
            rc = cli_fail("out of memory");
        } else {
            size_t len = strlen(pretty);
            char *out = realloc(pretty, len + 2);
            if (out == NULL) {
                cc_free_secret(pretty, len);
                rc = cli_fail("out of memory");
            } else {
                out[len] = '\n';
                rc = cli_write_output(output, out, len + 1, 0600);
                cc_free_secret(out, len + 2);
                if (rc == 0 && strcmp(output, "-") != 0)
                    printf("Saved secrets to: %s\n", output);   /* MarbleRun: on stdout */
            }
        }
    }
    json_decref(j);   /* holds secret bytes: jansson does not wipe (as for the response string below) */
    if (json != NULL)
        cc_free_secret(json, strlen(json));
    cairn_client_free(c);
    return rc;
}

static const struct cli_command cmd_set = {
    .name = "set", .example = "cairn secret set secrets.json localhost:4433 -c alice.crt -k alice.key",
    .summary = "upload user-defined secrets",
    .usage = "<file> <address> -c CERT -k KEY",
    .help = "The file is JSON {name: {\"Key\": b64} | {\"Cert\": b64 DER, \"Private\": b64 PKCS#8 DER}}, as\n"
            "MarbleRun's; with --from-pem NAME it is PEM holding a CERTIFICATE and/or a PRIVATE KEY for the\n"
            "secret NAME. The user needs WriteSecret on every secret; the upload is all or nothing.",
    .flags = set_flags, .min_args = 2, .max_args = 2, .run = run_set,
};
static const struct cli_command cmd_get = {
    .name = "get", .example = "cairn secret get apiKey localhost:4433 -c alice.crt -k alice.key -o apiKey.json",
    .summary = "read secrets (text, or JSON with -o)",
    .usage = "<name>... <address> -c CERT -k KEY [-o FILE|-]",
    .help = "Prints each secret as text, as MarbleRun's CLI: the name, then per type Type, UserDefined, Size,\n"
            "Valid For, Certificate, Public Key, Private Key (certificates), Key (symmetric keys) or Data\n"
            "(plain), values base64 as the Coordinator sends them. With -o FILE the answer {name: Secret} is\n"
            "written as JSON to FILE (mode 0600) and \"Saved secrets to: FILE\" goes to stdout; -o - prints the\n"
            "JSON on stdout. The user needs ReadSecret on every requested name.",
    .flags = get_flags, .min_args = 2, .max_args = CLI_MAX_ARGS, .run = run_get,
};
static const struct cli_command *const secret_subs[] = {&cmd_set, &cmd_get, NULL};

const struct cli_command cli_cmd_secret = {
    .name = "secret",
    .summary = "set and get secrets as a manifest user",
    .usage = "<set|get>",
    .subs = secret_subs,
};
