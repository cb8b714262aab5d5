/* cairn: the command-line interface (DESIGN §10). The command table below is
 * the one place where command groups are registered (see cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"

static const struct cli_command *const top_commands[] = {
    &cli_cmd_status,
    &cli_cmd_manifest,
    &cli_cmd_certificate,
    &cli_cmd_package_info,
    &cli_cmd_version,
    &cli_cmd_evidence,
    &cli_cmd_tpm,
    &cli_cmd_kata,
    &cli_cmd_secret,
    &cli_cmd_recover,
    &cli_cmd_recover_with_signature,
    &cli_cmd_completion,
    NULL,
};

static const struct cli_flag root_flags[] = {
    {"version", 0, false, NULL, "print the version (as `cairn version`)"},
    {NULL, 0, false, NULL, NULL},
};

const struct cli_command cli_root_command = {
    .name = "cairn",
    .summary = "manage and verify a Cairn (MarbleRun-compatible) deployment",
    .usage = "<command>",
    .help = "Every command that talks to a Coordinator first verifies it against --coordinator-policy\n"
            "(its expected TEE identity), or trusts it on first use with --insecure (simulation).\n"
            "An <address> may list several replicas, comma-separated (host1:4433,host2:4433): a\n"
            "replica that cannot be reached is skipped for the next (docs/cli.md).",
    .flags = root_flags,
    .subs = top_commands,
    .example = "cairn manifest check manifest.json\n"
               "cairn manifest set manifest.json localhost:4433 --coordinator-policy coordinator-policy.json",
};

static void print_flag(FILE *f, const struct cli_flag *fl)
{
    char left[64];
    if (fl->short_name)
        snprintf(left, sizeof(left), "-%c, --%s%s%s", fl->short_name, fl->name, fl->has_value ? " " : "",
                 fl->has_value ? fl->value_name : "");
    else
        snprintf(left, sizeof(left), "    --%s%s%s", fl->name, fl->has_value ? " " : "",
                 fl->has_value ? fl->value_name : "");
    fprintf(f, "  %-34s %s\n", left, fl->help);
}

static bool declares(const struct cli_flag *flags, const char *name)
{
    for (const struct cli_flag *fl = flags; fl && fl->name; fl++)
        if (strcmp(fl->name, name) == 0)
            return true;
    return false;
}

/* Help shows the flags that apply to this command: its own, the Coordinator
 * flags when it talks to one, --help; MarbleRun's global flags that have no
 * effect here are named on one line (scripts may pass them), then examples. */
static void print_help(FILE *f, const char *path, const struct cli_command *cmd)
{
    fprintf(f, "%s: %s\n\nusage: %s %s%s\n", path, cmd->summary, path, cmd->usage ? cmd->usage : "",
            cmd->subs ? "" : " [flags]");
    if (cmd->help)
        fprintf(f, "\n%s\n", cmd->help);
    if (cmd->subs) {
        fprintf(f, "\ncommands:\n");
        for (const struct cli_command *const *s = cmd->subs; *s; s++)
            fprintf(f, "  %-16s %s\n", (*s)->name, (*s)->summary);
        fprintf(f, "\nRun `%s <command> --help` for details.\n", path);
    }
    fprintf(f, "\nflags:\n");
    for (const struct cli_flag *fl = cmd->flags; fl && fl->name; fl++)
        print_flag(f, fl);
    for (const struct cli_flag *fl = cli_global_flags; fl->name; fl++)
        if (strcmp(fl->name, "help") == 0)
            print_flag(f, fl);
    bool talks = cmd->subs == NULL && !cmd->offline;
    if (talks) {
        fprintf(f, "\nCoordinator flags (how this command trusts the Coordinator, docs/cli.md):\n");
        for (const struct cli_flag *fl = cli_global_flags; fl->name; fl++)
            if (cli_flag_is_coordinator(fl))
                print_flag(f, fl);
    }
    if (cmd->subs == NULL) {
        fprintf(f, "\naccepted for MarbleRun scripts, without effect here:");
        for (const struct cli_flag *fl = cli_global_flags; fl->name; fl++) {
            if (strcmp(fl->name, "help") == 0 || (talks && cli_flag_is_coordinator(fl)) || declares(cmd->flags, fl->name))
                continue;
            if (fl->short_name)
                fprintf(f, "  -%c, --%s", fl->short_name, fl->name);
            else
                fprintf(f, "  --%s", fl->name);
        }
        fprintf(f, "\n");
    }
    if (cmd->example) {
        fprintf(f, "\nexample%s:\n  ", strchr(cmd->example, '\n') ? "s" : "");
        for (const char *p = cmd->example; *p; p++) {
            fputc(*p, f);
            if (*p == '\n')
                fputs("  ", f);
        }
        fputc('\n', f);
    }
}

static const struct cli_flag *find_global(const char *arg)
{
    for (const struct cli_flag *f = cli_global_flags; f->name; f++) {
        if (arg[1] == '-' && strcmp(arg + 2, f->name) == 0)
            return f;
        if (arg[1] != '-' && arg[1] == f->short_name && arg[2] == '\0')
            return f;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    cairn_log_setup(CAIRN_LOG_WARN, CAIRN_LOG_TEXT, "cli");
    if (cairn_global_init() != 0)
        return cli_fail("cannot initialise libcurl");

    /* Walk the command tree over the non-flag words; everything else is
     * handed to the command's flag parser. */
    const struct cli_command *cmd = &cli_root_command;
    char path[256] = "cairn";
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    if (rest == NULL)
        return cli_fail("out of memory");
    int n_rest = 0;
    bool words_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (words_done || cmd->subs == NULL) {
            rest[n_rest++] = argv[i];
            continue;
        }
        if (arg[0] == '-') {
            if (strcmp(arg, "--") == 0) {
                words_done = true;
                rest[n_rest++] = argv[i];
                continue;
            }
            rest[n_rest++] = argv[i];
            const struct cli_flag *g = find_global(arg);
            if (g && g->has_value && strchr(arg, '=') == NULL && i + 1 < argc)
                rest[n_rest++] = argv[++i];
            continue;
        }
        const struct cli_command *next = NULL;
        for (const struct cli_command *const *s = cmd->subs; *s; s++)
            if (strcmp((*s)->name, arg) == 0)
                next = *s;
        if (next == NULL && strcmp(arg, "help") == 0 && cmd == &cli_root_command) {
            print_help(stdout, path, cmd);
            free(rest);
            return CLI_EXIT_OK;
        }
        if (next == NULL) {
            cli_fail("unknown command \"%s\" for \"%s\"; run `%s --help` for the commands", arg, path, path);
            free(rest);
            return CLI_EXIT_USAGE;
        }
        cmd = next;
        size_t pl = strlen(path);
        snprintf(path + pl, sizeof(path) - pl, " %s", cmd->name);
    }

    const struct cli_flag *const sets[] = {cli_global_flags, cmd->flags};
    struct cli_ctx ctx = {.cmd = cmd, .path = path};
    char errbuf[512];
    if (cli_args_parse(sets, cmd->flags ? 2 : 1, n_rest, rest, &ctx.args, errbuf, sizeof(errbuf)) != 0) {
        cli_fail("%s for \"%s\"; run `%s --help`", errbuf, path, path);
        free(rest);
        return CLI_EXIT_USAGE;
    }
    if (cli_args_has(&ctx.args, "help")) {
        print_help(stdout, path, cmd);
        free(rest);
        return CLI_EXIT_OK;
    }
    if (cmd == &cli_root_command && cli_args_has(&ctx.args, "version")) {
        free(rest);
        return cli_cmd_version.run(&ctx);
    }
    if (cmd->subs != NULL) {
        /* A group without its subcommand. */
        if (ctx.args.n_pos > 0)
            cli_fail("unknown command \"%s\" for \"%s\"; run `%s --help`", ctx.args.pos[0], path, path);
        else
            cli_fail("\"%s\" needs a command; run `%s --help` for the list", path, path);
        free(rest);
        return CLI_EXIT_USAGE;
    }
    if (ctx.args.n_pos < cmd->min_args || ctx.args.n_pos > cmd->max_args) {
        cli_fail("\"%s\" expects %s (got %zu argument%s); run `%s --help`", path, cmd->usage, ctx.args.n_pos,
                 ctx.args.n_pos == 1 ? "" : "s", path);
        free(rest);
        return CLI_EXIT_USAGE;
    }
    int rc = cmd->run(&ctx);
    free(rest);
    return rc;
}
