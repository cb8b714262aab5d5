/* cairn manifest set|get|verify|signature|log (inventory §4).
 * Issue 6 adds `manifest update apply|acknowledge|cancel|get` as another
 * subcommand group in manifest_subs below. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cli/cli.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "manifest/manifest.h"

static void sha256_hex(const uint8_t *p, size_t n, char out[65])
{
    uint8_t h[32];
    cc_sha256(p, n, h);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* ---- set ------------------------------------------------------------------ */

static const struct cli_flag set_flags[] = {
    {"recoverydata", 'r', true, "FILE", "write the recovery secrets (JSON) to FILE"},
    {NULL, 0, false, NULL, NULL},
};

/* MarbleRun's stdout, line for line: "Successfully verified Coordinator, now
 * uploading manifest", "Manifest signature: <hex>", "Manifest successfully
 * set", then the recovery data (JSON on stdout, or "Recovery data saved to:
 * FILE"). The verified root is cached afterwards. */
static int run_set(struct cli_ctx *ctx)
{
    uint8_t *m = NULL;
    size_t len = 0;
    if (cli_load_manifest(ctx->args.pos[0], &m, &len) != 0)
        return CLI_EXIT_FAIL;
    const char *address = ctx->args.pos[1];
    struct cairn_client *c = NULL;
    struct cairn_coordinator_certs certs = {0};
    int rc = cli_connect(ctx, address, &c, &certs);
    if (rc != 0) {
        free(m);
        return rc;
    }
    printf("Successfully verified Coordinator, now uploading manifest\n");
    char hash[65];
    sha256_hex(m, len, hash);
    printf("Manifest signature: %s\n", hash);
    fflush(stdout);
    char *rec = NULL;
    rc = cairn_manifest_set(c, m, len, &rec);
    if (rc != 0) {
        rc = cli_fail_client(rc, "setting manifest", cairn_client_last_error(c));
        goto out;
    }
    printf("Manifest successfully set\n");
    fflush(stdout);
    if (rec != NULL) {
        /* MarbleRun marshals {"RecoverySecrets": map[string][]byte}: compact,
         * keys sorted, values base64 */
        json_t *r = json_loads(rec, 0, NULL);
        json_t *w = json_is_object(r) ? json_pack("{s:O}", "RecoverySecrets", r) : NULL;
        char *doc = w != NULL ? json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(w);
        json_decref(r);
        if (doc == NULL) {
            rc = cli_fail("the Coordinator's recovery data is not a JSON object: %.200s", rec);
            goto out;
        }
        const char *rf = cli_args_get(&ctx->args, "recoverydata");
        if (rf != NULL) {
            rc = cli_write_output(rf, doc, strlen(doc), 0600);
            if (rc == 0) {
                printf("Recovery data saved to: %s\n", rf);
            } else {
                /* the manifest is set and the Coordinator never sends these
                 * again: losing them here would lose recovery for good */
                fprintf(stderr, "cairn: the manifest IS set; the recovery data follows on stdout, save it\n");
                printf("%s\n", doc);
            }
        } else {
            printf("%s\n", doc);
        }
        free(doc);
    }
    if (rc == 0)
        rc = cli_cache_save(ctx, address, &certs);
out:
    cairn_free(rec);
    free(m);
    cairn_coordinator_certs_free(&certs);
    cairn_client_free(c);
    return rc;
}

/* ---- get ------------------------------------------------------------------ */

static const struct cli_flag get_flags[] = {
    {"signature", 's', false, NULL, "also show the manifest signature and fingerprint (JSON)"},
    {"display-update", 'u', false, NULL, "apply the SecurityVersion updates of the update log to the output"},
    {"output", 'o', true, "FILE", "write to FILE instead of stdout"},
    {"keep-cert", 0, false, NULL, "save the Coordinator's certificates to the root cache (--coordinator-cert)"},
    {NULL, 0, false, NULL, NULL},
};

/* MarbleRun's stdout: "Successfully verified Coordinator, now requesting
 * manifest", then the manifest and a newline (with -o the manifest goes to
 * the file, as it is). -s wraps it as {"ManifestSignature": <hex SHA-256>,
 * "Manifest": <manifest>} in MarbleRun's exact layout. */
static int run_get(struct cli_ctx *ctx)
{
    const char *address = ctx->args.pos[0];
    struct cairn_client *c = NULL;
    struct cairn_coordinator_certs certs = {0};
    int rc = cli_connect(ctx, address, &c, &certs);
    if (rc != 0)
        return rc;
    printf("Successfully verified Coordinator, now requesting manifest\n");
    fflush(stdout);
    struct cairn_manifest_info mi = {0};
    rc = cairn_manifest_get(c, &mi);
    if (rc != 0) {
        rc = cli_fail_client(rc, "getting manifest", cairn_client_last_error(c));
        goto out;
    }
    const char *out = cli_args_get(&ctx->args, "output");
    if (cli_args_has(&ctx->args, "display-update")) {   /* issue 6 */
        char *upd = NULL;
        if ((rc = cli_manifest_display_update(c, mi.manifest, mi.manifest_size, &upd)) != 0)
            goto out;
        free(mi.manifest);
        mi.manifest = (uint8_t *)upd;
        mi.manifest_size = strlen(upd);
    }
    char *text = NULL;
    int n;
    if (cli_args_has(&ctx->args, "signature"))
        n = asprintf(&text, "{\n\"ManifestSignature\": \"%s\",\n\"Manifest\": %.*s}", mi.fingerprint_hex,
                     (int)mi.manifest_size, (const char *)mi.manifest);
    else
        n = asprintf(&text, "%.*s", (int)mi.manifest_size, (const char *)mi.manifest);
    if (n < 0) {
        rc = cli_fail("out of memory");
        goto out;
    }
    if (out != NULL && strcmp(out, "-") != 0) {
        rc = cli_write_output(out, text, (size_t)n, 0600);
    } else {
        printf("%s\n", text);
        rc = fflush(stdout) == 0 ? 0 : cli_fail("cannot write to stdout");
    }
    free(text);
    if (rc == 0 && cli_args_has(&ctx->args, "keep-cert"))
        rc = cli_cache_save(ctx, address, &certs);
out:
    cairn_manifest_info_free(&mi);
    cairn_coordinator_certs_free(&certs);
    cairn_client_free(c);
    return rc;
}

/* ---- verify --------------------------------------------------------------- */

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int run_verify(struct cli_ctx *ctx)
{
    const char *what = ctx->args.pos[0];
    char expected[65];
    if (is_hex64(what)) {
        for (int i = 0; i < 65; i++)
            expected[i] = (char)tolower((unsigned char)what[i]);
    } else {
        uint8_t *m = NULL;
        size_t len = 0;
        if (cli_load_manifest(what, &m, &len) != 0)
            return CLI_EXIT_FAIL;
        sha256_hex(m, len, expected);
        free(m);
    }
    struct cairn_client *c = NULL;
    struct cairn_coordinator_certs certs = {0};
    int rc = cli_connect(ctx, ctx->args.pos[1], &c, &certs);
    if (rc != 0)
        return rc;
    struct cairn_manifest_info mi = {0};
    rc = cairn_manifest_get(c, &mi);
    if (rc != 0) {
        rc = cli_fail_client(rc, "verifying manifest", cairn_client_last_error(c));
        goto out;
    }
    /* Check what the Coordinator says against the bytes it sent, and those
     * against the expectation; then the root's signature over them. */
    char actual[65];
    sha256_hex(mi.manifest, mi.manifest_size, actual);
    if (mi.fingerprint_hex[0] != '\0' && strcasecmp(actual, mi.fingerprint_hex) != 0) {
        rc = cli_fail("the Coordinator's manifest fingerprint %s does not match its manifest (%s); do not trust it",
                      mi.fingerprint_hex, actual);
        goto out;
    }
    if (strcmp(actual, expected) != 0) {
        rc = cli_fail("manifest mismatch: the Coordinator runs manifest %s, expected %s; do not trust this "
                      "deployment (or check that you compare the right manifest)",
                      actual, expected);
        goto out;
    }
    if (mi.signature == NULL || mi.signature_size == 0) {
        rc = cli_fail("the Coordinator sent its manifest without the root key's signature; do not trust this "
                      "deployment");
        goto out;
    }
    {
        X509 *root = NULL;
        int vr = cc_cert_from_pem(certs.root_pem, strlen(certs.root_pem), &root, NULL);
        if (vr == 0)
            vr = cc_verify(X509_get0_pubkey(root), "SHA256", mi.manifest, mi.manifest_size, mi.signature,
                           mi.signature_size);
        X509_free(root);
        if (vr != 0) {
            rc = cli_fail("the manifest signature does not verify with the Coordinator's root key; do not trust "
                          "this deployment");
            goto out;
        }
    }
    /* MarbleRun prints just "OK" on stdout; the detail goes to stderr */
    fprintf(stderr, "cairn: the Coordinator%s runs manifest %s, signed by its root key\n",
            certs.verified ? " (quote verified)" : " (NOT attested: --insecure)", actual);
    printf("OK\n");
    fflush(stdout);
    /* MarbleRun: verify is how the cache learns a (re)installed Coordinator */
    rc = cli_cache_save(ctx, ctx->args.pos[1], &certs);
out:
    cairn_manifest_info_free(&mi);
    cairn_coordinator_certs_free(&certs);
    cairn_client_free(c);
    return rc;
}

/* ---- signature ------------------------------------------------------------ */

static int run_signature(struct cli_ctx *ctx)
{
    uint8_t *m = NULL;
    size_t len = 0;
    if (cli_load_manifest(ctx->args.pos[0], &m, &len) != 0)
        return CLI_EXIT_FAIL;
    char hash[65];
    sha256_hex(m, len, hash);
    free(m);
    printf("%s\n", hash);
    return CLI_EXIT_OK;
}

/* ---- check (offline) ------------------------------------------------------- */

enum { CHECK_EXIT_UNKNOWN_FIELDS = 3 };

static void check_unknown(void *ctx, const char *path, const char *suggestion)
{
    (*(size_t *)ctx)++;
    if (suggestion != NULL)
        fprintf(stderr, "cairn: WARNING: %s: unknown field, the Coordinator ignores it (did you mean \"%s\"?)\n",
                path, suggestion);
    else
        fprintf(stderr, "cairn: WARNING: %s: unknown field, the Coordinator ignores it\n", path);
}

static void check_warn(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "cairn: WARNING: %s\n", msg);
}

/* The Coordinator's validation of a manifest set, offline and with the same
 * functions (manifest_parse_ex, manifest_check_ex, manifest_validate: checks,
 * secret generation with a throwaway CA, recovery keys, user certificates,
 * the template dry run), plus every field the decoder does not know. */
static int run_check(struct cli_ctx *ctx)
{
    const char *path = ctx->args.pos[0];
    uint8_t *m = NULL;
    size_t len = 0;
    if (cli_load_manifest(path, &m, &len) != 0)
        return CLI_EXIT_FAIL;
    size_t n_unknown = 0;
    struct manifest *man = NULL;
    struct cairn_error err = {0};
    int rc = manifest_parse_ex(m, len, check_unknown, &n_unknown, &man, &err);
    if (rc == 0)
        rc = manifest_check_ex(man, check_warn, NULL, &err);
    if (rc == 0)
        rc = manifest_validate(man, &err);
    char hash[65];
    sha256_hex(m, len, hash);
    free(m);
    if (rc != 0) {
        manifest_free(man);
        return cli_fail("manifest \"%s\" is invalid: %s; the Coordinator would refuse it, fix the file", path,
                        cairn_error_msg(&err));
    }
    printf("%s: valid: %zu package%s, %zu marble%s, %zu secret%s, %zu user%s; manifest signature %s\n", path,
           man->n_packages, man->n_packages == 1 ? "" : "s", man->n_marbles, man->n_marbles == 1 ? "" : "s",
           man->n_secrets, man->n_secrets == 1 ? "" : "s", man->n_users, man->n_users == 1 ? "" : "s", hash);
    manifest_free(man);
    if (n_unknown > 0) {
        fprintf(stderr, "cairn: %zu unknown field%s: the Coordinator accepts this manifest without %s; fix the "
                        "name%s before `cairn manifest set` (a set manifest can only be changed by an update)\n",
                n_unknown, n_unknown == 1 ? "" : "s", n_unknown == 1 ? "it" : "them", n_unknown == 1 ? "" : "s");
        return CHECK_EXIT_UNKNOWN_FIELDS;
    }
    return CLI_EXIT_OK;
}

/* ---- log ------------------------------------------------------------------ */

static const struct cli_flag log_flags[] = {
    {"output", 'o', true, "FILE", "write to FILE instead of stdout"},
    {NULL, 0, false, NULL, NULL},
};

/* MarbleRun's stdout: "Successfully verified Coordinator, now requesting
 * update log" (it says so although this command trusts the cached root
 * without attestation), then "Update log:" and the entries, one per line;
 * with -o the entries go to the file, without a final newline. */
static int run_log(struct cli_ctx *ctx)
{
    struct cairn_client *c = NULL;
    int rc = cli_connect_cached(ctx, ctx->args.pos[0], &c, NULL);
    if (rc != 0)
        return rc;
    printf("Successfully verified Coordinator, now requesting update log\n");
    fflush(stdout);
    char *log = NULL;
    rc = cairn_manifest_log(c, &log);
    if (rc != 0) {
        rc = cli_fail_client(rc, "retrieving update log", cairn_client_last_error(c));
    } else {
        size_t n = strlen(log);
        if (n > 0 && log[n - 1] == '\n')
            log[--n] = '\0';
        const char *out = cli_args_get(&ctx->args, "output");
        if (out != NULL && strcmp(out, "-") != 0) {
            rc = cli_write_output(out, log, n, 0600);
        } else {
            printf("Update log:\n%s\n", log);
            rc = fflush(stdout) == 0 ? 0 : cli_fail("cannot write to stdout");
        }
    }
    cairn_free(log);
    cairn_client_free(c);
    return rc;
}

static const struct cli_command cmd_set = {
    .name = "set", .example = "cairn manifest set manifest.json localhost:4433 --coordinator-policy coordinator-policy.json -r recovery.json", .summary = "set the deployment's manifest (JSON or YAML)", .usage = "<manifest> <address>",
    .help = "Prints the manifest hash (\"Manifest signature\"). Recovery secrets (if the manifest has RecoveryKeys)\n"
            "go to -r FILE or stdout. The verified root certificate is cached (see --coordinator-cert).",
    .flags = set_flags, .min_args = 2, .max_args = 2, .run = run_set,
};
static const struct cli_command cmd_get = {
    .name = "get", .example = "cairn manifest get localhost:4433 -s -o manifest-signed.json", .summary = "get the manifest the Coordinator runs", .usage = "<address>",
    .flags = get_flags, .min_args = 1, .max_args = 1, .run = run_get,
};
static const struct cli_command cmd_verify = {
    .name = "verify", .example = "cairn manifest verify manifest.json localhost:4433 --coordinator-policy coordinator-policy.json", .summary = "verify the Coordinator runs a given manifest", .usage = "<manifest|sha256-hex> <address>",
    .help = "Verifies the Coordinator (quote and policy, or --insecure), then compares the SHA-256 of the\n"
            "manifest it runs with the given file or hash, and checks the root key's signature over it.",
    .min_args = 2, .max_args = 2, .run = run_verify,
};
static const struct cli_command cmd_signature = {
    .name = "signature", .example = "cairn manifest signature manifest.yaml", .offline = true, .summary = "print the manifest's hash (hex SHA-256)", .usage = "<manifest>",
    .help = "YAML manifests are hashed after conversion to JSON, as they are uploaded.",
    .min_args = 1, .max_args = 1, .run = run_signature,
};
static const struct cli_command cmd_check = {
    .name = "check", .offline = true, .summary = "validate a manifest offline, as the Coordinator would", .usage = "<manifest>",
    .help = "Runs the Coordinator's own validation of a manifest set (rules, secret generation, recovery keys,\n"
            "user certificates, templates) without a Coordinator, and warns about every field it does not know\n"
            "(a typo such as \"Enviroment\" is ignored by the Coordinator, and a set manifest is hard to change).\n"
            "JSON or YAML, as `manifest set` takes it.\n"
            "Exit codes: 0 valid; 1 invalid or unreadable (the Coordinator would refuse it); 2 usage;\n"
            "3 valid, but with unknown fields (the Coordinator would accept it and ignore them).",
    .example = "cairn manifest check manifest.json",
    .min_args = 1, .max_args = 1, .run = run_check,
};
static const struct cli_command cmd_log = {
    .name = "log", .example = "cairn manifest log localhost:4433", .summary = "print the Coordinator's update log", .usage = "<address>",
    .flags = log_flags, .min_args = 1, .max_args = 1, .run = run_log,
};
static const struct cli_command *const manifest_subs[] = {&cmd_set, &cmd_get, &cmd_verify, &cmd_signature, &cmd_log,
                                                          &cmd_check, &cli_cmd_manifest_update, NULL};

const struct cli_command cli_cmd_manifest = {
    .name = "manifest",
    .summary = "set, get and verify the deployment's manifest",
    .usage = "<set|get|verify|signature|log|check|update>",
    .subs = manifest_subs,
};
