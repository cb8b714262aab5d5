/* cairn manifest update apply|acknowledge|cancel|get (inventory §4, §6) and
 * the SecurityVersion replay of `manifest get --display-update`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "common/encoding.h"
#include "crypto/crypto.h"

static const struct cli_flag apply_flags[] = {
    CLI_USER_FLAGS,
    {"recoverydata", 'r', true, "FILE", "write new recovery secrets (if the update changes RecoveryKeys) to FILE"},
    {NULL, 0, false, NULL, NULL},
};
static const struct cli_flag cancel_flags[] = {
    CLI_USER_FLAGS,
    {NULL, 0, false, NULL, NULL},
};
static const struct cli_flag get_flags[] = {
    {"missing", 0, false, NULL, "show only how many and which users still need to acknowledge"},
    {"output", 'o', true, "FILE", "write the pending manifest to FILE instead of stdout"},
    {NULL, 0, false, NULL, NULL},
};

/* The users of an answer joined with `sep` ("a, b"), or as Go prints a
 * []string ("[a b]") with go_slice. malloc'd. */
static char *users_text(const json_t *arr, bool go_slice)
{
    size_t n = 3, i;
    json_t *v;
    json_array_foreach(arr, i, v) n += (json_is_string(v) ? json_string_length(v) : 0) + 2;
    char *s = malloc(n), *p = s;
    if (s == NULL)
        return NULL;
    if (go_slice)
        *p++ = '[';
    json_array_foreach(arr, i, v) {
        if (i > 0) {
            if (!go_slice)
                *p++ = ',';
            *p++ = ' ';
        }
        size_t l = json_is_string(v) ? json_string_length(v) : 0;
        memcpy(p, json_is_string(v) ? json_string_value(v) : "", l);
        p += l;
    }
    if (go_slice)
        *p++ = ']';
    *p = '\0';
    return s;
}

/* New recovery data of an update (MarbleRun's saveNewRecoveryData): to -r
 * FILE ("Recovery data saved to: FILE") or as one JSON line on stdout. */
static int recovery_out(struct cli_ctx *ctx, const json_t *d)
{
    const json_t *rs = json_object_get(d, "recoverySecrets");
    if (!json_is_object(rs) || json_object_size(rs) == 0)
        return 0;
    json_t *w = json_pack("{s:O}", "RecoverySecrets", rs);
    char *s = w != NULL ? json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(w);
    if (s == NULL)
        return cli_fail("out of memory");
    size_t n = strlen(s);
    const char *rf = cli_args_get(&ctx->args, "recoverydata");
    int rc = 0;
    if (rf != NULL) {
        rc = cli_write_output(rf, s, n, 0600);
        if (rc == 0) {
            printf("Recovery data saved to: %s\n", rf);
        } else {
            /* the update is applied; the Coordinator never sends these again */
            fprintf(stderr, "cairn: the update IS applied; the new recovery data follows on stdout, save it\n");
            printf("%s\n", s);
        }
    } else {
        printf("%s\n", s);
    }
    free(s);
    return rc;
}

/* apply and acknowledge print MarbleRun's messages, chosen by the number of
 * missing acknowledgements the Coordinator reports. */
static int post(struct cli_ctx *ctx, bool ack)
{
    uint8_t *m = NULL;
    size_t len = 0;
    if (cli_load_manifest(ctx->args.pos[0], &m, &len) != 0)
        return CLI_EXIT_FAIL;
    struct cairn_client *c = NULL;
    int rc = cli_connect_user(ctx, ctx->args.pos[1], &c);
    char *out = NULL;
    if (rc == 0) {
        int r = ack ? cairn_update_acknowledge(c, m, len, &out) : cairn_update_apply(c, m, len, &out);
        if (r != 0)
            rc = cli_fail_client(r, ack ? "acknowledging update manifest" : "applying update",
                                 cairn_client_last_error(c));
    }
    if (rc == 0) {
        json_t *d = out != NULL ? json_loads(out, JSON_DECODE_ANY, NULL) : NULL;
        json_int_t missing = json_integer_value(json_object_get(d, "missingAcknowledgments"));
        char *users = users_text(json_object_get(d, "missingUsers"), false);
        if (users == NULL) {
            rc = cli_fail("out of memory");
        } else if (!ack) {
            if (missing == 0)
                printf("Update manifest set successfully\n");
            else if (missing == 1)
                printf("Update manifest submitted successfully.\nChanges are pending and have not been applied yet.\n"
                       "1 user still needs to acknowledge the update manifest.\n"
                       "The following users may acknowledge the update: %s\n",
                       users);
            else
                printf("Update manifest submitted successfully.\nChanges are pending and have not been applied yet.\n"
                       "%lld users still need to acknowledge the update manifest.\n"
                       "The following users may acknowledge the update: %s\n",
                       (long long)missing, users);
        } else {
            printf("Acknowledgement successful:\n");
            if (missing == 0)
                printf("All users have acknowledged the update manifest. Update successfully applied\n");
            else if (missing == 1)
                printf("1 user still needs to acknowledge the update manifest.\n"
                       "The following users have not yet accepted: %s\n",
                       users);
            else
                printf("%lld users still need to acknowledge the update manifest.\n"
                       "The following users have not yet accepted: %s\n",
                       (long long)missing, users);
        }
        free(users);
        if (rc == 0)
            rc = recovery_out(ctx, d);
        json_decref(d);
    }
    cairn_free(out);
    free(m);
    cairn_client_free(c);
    return rc;
}

static int run_apply(struct cli_ctx *ctx)
{
    return post(ctx, false);
}

static int run_ack(struct cli_ctx *ctx)
{
    return post(ctx, true);
}

static int run_cancel(struct cli_ctx *ctx)
{
    struct cairn_client *c = NULL;
    int rc = cli_connect_user(ctx, ctx->args.pos[0], &c);
    if (rc != 0)
        return rc;
    int r = cairn_update_cancel(c);
    if (r != 0)
        rc = cli_fail_client(r, "canceling update", cairn_client_last_error(c));
    else
        printf("Cancellation successful\n");
    cairn_client_free(c);
    return rc;
}

/* MarbleRun: the pending manifest as it is (no newline added), or with
 * --missing "The following users have not yet acknowledged the update:
 * [a b]"; -o writes the same text to FILE. */
static int run_get(struct cli_ctx *ctx)
{
    struct cairn_client *c = NULL;
    int rc = cli_connect_cached(ctx, ctx->args.pos[0], &c, NULL);
    if (rc != 0)
        return rc;
    char *out = NULL;
    int r = cairn_update_get(c, &out);
    if (r == CAIRN_ERR_NOT_FOUND || (r != 0 && cairn_client_last_http_status(c) == 404)) {
        rc = cli_fail("retrieving pending update manifest: no update in progress");
    } else if (r != 0) {
        rc = cli_fail_client(r, "retrieving pending update manifest", cairn_client_last_error(c));
    } else {
        json_t *d = json_loads(out, 0, NULL);
        const json_t *m = json_object_get(d, "manifest");
        const char *file = cli_args_get(&ctx->args, "output");
        uint8_t *raw = NULL;
        size_t n = 0;
        char *text = NULL;
        if (cli_args_has(&ctx->args, "missing")) {
            char *users = users_text(json_object_get(d, "missingUsers"), true);
            if (users == NULL || asprintf(&text, "The following users have not yet acknowledged the update: %s\n",
                                          users) < 0)
                text = NULL;
            free(users);
            if (text == NULL)
                rc = cli_fail("out of memory");
            else
                rc = cli_write_output(file, text, strlen(text), 0600);
        } else if (!json_is_string(m) ||
                   cairn_base64_decode(json_string_value(m), json_string_length(m), &raw, &n) != 0) {
            rc = cli_fail("the Coordinator's pending update has no readable manifest");
        } else {
            rc = cli_write_output(file, raw, n, 0600);
        }
        free(text);
        free(raw);
        json_decref(d);
    }
    cairn_free(out);
    cairn_client_free(c);
    return rc;
}

int cli_manifest_display_update(struct cairn_client *c, const uint8_t *manifest, size_t len, char **out)
{
    char *log = NULL;
    int r = cairn_manifest_log(c, &log);
    if (r != 0)
        return cli_fail_client(r, "manifest get --display-update: reading the update log",
                               cairn_client_last_error(c));
    json_error_t je;
    json_t *m = json_loadb((const char *)manifest, len, 0, &je);
    json_t *pk = m != NULL ? json_object_get(m, "Packages") : NULL;
    if (!json_is_object(pk)) {
        cairn_free(log);
        json_decref(m);
        return cli_fail("manifest get --display-update: the manifest has no Packages object");
    }
    /* replay "SecurityVersion increased" {package, new version} in order; a
     * full update ("Complete Manifest updated") installs a new manifest whose
     * packages are authoritative, so only the bumps after the last one count */
    json_t *bumps = json_object();
    for (char *save = NULL, *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *l = json_loads(line, 0, NULL);
        const json_t *u = json_object_get(l, "update"), *p = json_object_get(l, "package"),
                     *v = json_object_get(l, "new version");
        if (json_is_string(u) && strcmp(json_string_value(u), "Complete Manifest updated") == 0)
            json_object_clear(bumps);
        else if (json_is_string(u) && strcmp(json_string_value(u), "SecurityVersion increased") == 0 &&
                 json_is_string(p) && json_is_integer(v))
            json_object_set(bumps, json_string_value(p), (json_t *)v);
        json_decref(l);
    }
    cairn_free(log);
    const char *name;
    json_t *v;
    json_object_foreach(bumps, name, v) {
        if (json_is_object(json_object_get(pk, name)))
            json_object_set(json_object_get(pk, name), "SecurityVersion", v);
    }
    json_decref(bumps);
    char *s = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(m);
    if (s == NULL)
        return cli_fail("out of memory");
    *out = s;
    return 0;
}

static const struct cli_command cmd_apply = {
    .name = "apply", .example = "cairn manifest update apply update.json localhost:4433 -c admin.crt -k admin.key",
    .summary = "start an update (package SecurityVersions, or a full manifest)",
    .usage = "<manifest> <address> -c CERT -k KEY",
    .help = "A manifest with only Packages (SecurityVersion) is applied at once (UpdateSecurityVersion on\n"
            "every package). Any other manifest starts a multi-party update (UpdateManifest); it is applied\n"
            "when Config.UpdateThreshold users (all by default) acknowledged, the submitter counting as one.",
    .flags = apply_flags, .min_args = 2, .max_args = 2, .run = run_apply,
};
static const struct cli_command cmd_ack = {
    .name = "acknowledge", .example = "cairn manifest update acknowledge update.json localhost:4433 -c bob.crt -k bob.key",
    .summary = "acknowledge the pending update (byte-identical manifest)",
    .usage = "<manifest> <address> -c CERT -k KEY",
    .flags = apply_flags, .min_args = 2, .max_args = 2, .run = run_ack,
};
static const struct cli_command cmd_cancel = {
    .name = "cancel", .example = "cairn manifest update cancel localhost:4433 -c admin.crt -k admin.key",
    .summary = "cancel the pending update",
    .usage = "<address> -c CERT -k KEY",
    .flags = cancel_flags, .min_args = 1, .max_args = 1, .run = run_cancel,
};
static const struct cli_command cmd_get = {
    .name = "get", .example = "cairn manifest update get localhost:4433 --missing",
    .summary = "show the pending update",
    .usage = "<address>",
    .flags = get_flags, .min_args = 1, .max_args = 1, .run = run_get,
};
static const struct cli_command *const update_subs[] = {&cmd_apply, &cmd_ack, &cmd_cancel, &cmd_get, NULL};

const struct cli_command cli_cmd_manifest_update = {
    .name = "update",
    .summary = "update the manifest (SecurityVersions or multi-party full update)",
    .usage = "<apply|acknowledge|cancel|get>",
    .subs = update_subs,
};
