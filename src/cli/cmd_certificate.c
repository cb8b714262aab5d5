/* cairn certificate root|intermediate|chain <address> [-o FILE]: the
 * Coordinator's certificates, obtained only through verification (and
 * refused when the root differs from the cached one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_flag cert_flags[] = {
    {"output", 'o', true, "FILE", "where to write the PEM (\"-\" = stdout)"},
    {NULL, 0, false, NULL, NULL},
};

enum which { ROOT, INTERMEDIATE, CHAIN };

static int run_cert(struct cli_ctx *ctx, enum which w, const char *def_out, const char *label)
{
    struct cairn_client *c = NULL;
    struct cairn_coordinator_certs certs = {0};
    int rc = cli_connect(ctx, ctx->args.pos[0], &c, &certs);
    if (rc != 0)
        return rc;
    /* MarbleRun: a root other than the cached one is refused (unless -i) */
    if (!cli_args_has(&ctx->args, "insecure") && (rc = cli_cache_check(ctx, ctx->args.pos[0], &certs)) != 0) {
        cairn_coordinator_certs_free(&certs);
        cairn_client_free(c);
        return rc;
    }
    const char *out = cli_args_get(&ctx->args, "output");
    if (out == NULL)
        out = def_out;
    char *pem = NULL;
    if (w == ROOT)
        pem = strdup(certs.root_pem);
    else if (w == INTERMEDIATE)
        pem = strdup(certs.intermediate_pem);
    else if (asprintf(&pem, "%s%s", certs.intermediate_pem, certs.root_pem) < 0)
        pem = NULL;
    if (pem == NULL || pem[0] == '\0') {
        rc = cli_fail("the Coordinator sent no certificate for \"%s\"", label);
    } else {
        rc = cli_write_output(out, pem, strlen(pem), 0644);
        if (rc == 0 && strcmp(out, "-") != 0)
            printf("%s written to %s\n", label, out);   /* MarbleRun's line, on stdout */
    }
    free(pem);
    cairn_coordinator_certs_free(&certs);
    cairn_client_free(c);
    return rc;
}

static int run_root(struct cli_ctx *ctx) { return run_cert(ctx, ROOT, "marblerunRootCA.crt", "Root certificate"); }
static int run_inter(struct cli_ctx *ctx)
{
    return run_cert(ctx, INTERMEDIATE, "marblerunIntermediateCA.crt", "Intermediate certificate");
}
static int run_chain(struct cli_ctx *ctx) { return run_cert(ctx, CHAIN, "marblerunChainCA.crt", "Certificate chain"); }

static const struct cli_command cmd_root = {
    .name = "root", .example = "cairn certificate root localhost:4433 -o root.pem", .summary = "write the Coordinator's root certificate", .usage = "<address>",
    .help = "Default output: marblerunRootCA.crt. Fails if the root differs from the cached root (unless -i);\n"
            "caches it when none is cached for this address yet.",
    .flags = cert_flags, .min_args = 1, .max_args = 1, .run = run_root,
};
static const struct cli_command cmd_inter = {
    .name = "intermediate", .example = "cairn certificate intermediate localhost:4433 -o intermediate.pem", .summary = "write the Coordinator's intermediate certificate", .usage = "<address>",
    .help = "Default output: marblerunIntermediateCA.crt.",
    .flags = cert_flags, .min_args = 1, .max_args = 1, .run = run_inter,
};
static const struct cli_command cmd_chain = {
    .name = "chain", .example = "cairn certificate chain localhost:4433 -o chain.pem", .summary = "write intermediate and root certificates", .usage = "<address>",
    .help = "Default output: marblerunChainCA.crt (intermediate first, then root).",
    .flags = cert_flags, .min_args = 1, .max_args = 1, .run = run_chain,
};
static const struct cli_command *const cert_subs[] = {&cmd_root, &cmd_inter, &cmd_chain, NULL};

const struct cli_command cli_cmd_certificate = {
    .name = "certificate",
    .summary = "retrieve the Coordinator's certificates",
    .usage = "<root|intermediate|chain>",
    .subs = cert_subs,
};
