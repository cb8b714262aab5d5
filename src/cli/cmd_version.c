/* cairn version. */
#include <stdio.h>

#include "cli/cli.h"

static int run_version(struct cli_ctx *ctx)
{
    (void)ctx;
    printf("cairn CLI version %s (libcairn %s)\n", CAIRN_VERSION, cairn_version());
    return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_version = {
    .name = "version", .example = "cairn version", .offline = true,
    .summary = "print the CLI version",
    .usage = "",
    .min_args = 0, .max_args = 0,
    .run = run_version,
};
