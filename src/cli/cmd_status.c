/* cairn status <address>: the Coordinator's state code and message. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

static int run_status(struct cli_ctx *ctx)
{
    struct cairn_client *c = NULL;
    int rc = cli_connect(ctx, ctx->args.pos[0], &c, NULL);
    if (rc != 0)
        return rc;
    int code = 0;
    char *msg = NULL;
    rc = cairn_status_get(c, &code, &msg);
    if (rc != 0) {
        rc = cli_fail_client(rc, "status", cairn_client_last_error(c));
        cairn_client_free(c);
        return rc;
    }
    printf("%d: %s\n", code, msg);
    cairn_free(msg);
    cairn_client_free(c);
    return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_status = {
    .name = "status",
    .summary = "show the Coordinator's state",
    .usage = "<address>",
    .help = "Prints \"<code>: <message>\". States: 1 recovery, 2 accepting a manifest, 3 accepting marbles.",
    .min_args = 1, .max_args = 1,
    .run = run_status,
};
