/* cairn completion bash|zsh|fish: shell completion generated from the command
 * table (cli_root_command), the same table --help and the argument parser
 * read, so a new command or flag is completed without anyone editing a
 * script. The installed completion files are this output, generated at build
 * time (src/cli/CMakeLists.txt).
 *
 * bash and zsh share one shape: three lookup functions generated from the
 * tree (a path's subcommands, a path's flags, how a flag's value completes)
 * and a small driver that walks the words typed so far. A word extends the
 * command path only when it names a subcommand of the path so far, so flag
 * values and arguments never derail it. fish gets the same data as
 * `complete` rules conditioned on the path. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define PATH_MAX_LEN 256

typedef void (*node_fn)(FILE *f, const char *path, const struct cli_command *cmd, void *arg);

/* Calls fn for every command node, parents before children; `path` is the
 * words after "cairn" ("" for the root). */
static void walk(FILE *f, const char *path, const struct cli_command *cmd, node_fn fn, void *arg)
{
    fn(f, path, cmd, arg);
    for (const struct cli_command *const *s = cmd->subs; s && *s; s++) {
        char sub[PATH_MAX_LEN];
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? " " : "", (*s)->name);
        walk(f, sub, *s, fn, arg);
    }
}

/* Whether the global flag applies to this command (see print_help in main.c). */
static bool global_applies(const struct cli_command *cmd, const struct cli_flag *fl)
{
    if (strcmp(fl->name, "help") == 0)
        return true;
    return cmd->subs == NULL && !cmd->offline && cli_flag_is_coordinator(fl);
}

/* How a value completes: "file", "dir", "w WORD..." or "text". */
static void value_kind(const struct cli_flag *fl, char *out, size_t n)
{
    const char *v = fl->value_name;
    if (v != NULL && strchr(v, '|') != NULL) {
        /* "a|b|c" or "[a|b|c]" (an optional value): the words */
        size_t j = snprintf(out, n, "w ");
        for (; *v && j + 1 < n; v++)
            if (*v != '[' && *v != ']')
                out[j++] = *v == '|' ? ' ' : *v;
        out[j] = '\0';
    } else if (fl->value_name != NULL && strstr(fl->value_name, "FILE") != NULL)
        snprintf(out, n, "file");
    else if (fl->value_name != NULL && strstr(fl->value_name, "DIR") != NULL)
        snprintf(out, n, "dir");
    else
        snprintf(out, n, "text");
}

/* ---- bash and zsh ------------------------------------------------------------------ */

static void sh_subs(FILE *f, const char *path, const struct cli_command *cmd, void *arg)
{
    (void)arg;
    if (cmd->subs == NULL)
        return;
    fprintf(f, "        \"%s\") echo \"", path);
    for (const struct cli_command *const *s = cmd->subs; *s; s++)
        fprintf(f, "%s%s", s == cmd->subs ? "" : " ", (*s)->name);
    fprintf(f, "\" ;;\n");
}

static void sh_flag_words(FILE *f, const struct cli_flag *fl, bool *first)
{
    fprintf(f, "%s--%s", *first ? "" : " ", fl->name);
    *first = false;
    if (fl->short_name)
        fprintf(f, " -%c", fl->short_name);
}

static void sh_flags(FILE *f, const char *path, const struct cli_command *cmd, void *arg)
{
    (void)arg;
    bool first = true;
    fprintf(f, "        \"%s\") echo \"", path);
    for (const struct cli_flag *fl = cmd->flags; fl && fl->name; fl++)
        sh_flag_words(f, fl, &first);
    for (const struct cli_flag *fl = cli_global_flags; fl->name; fl++)
        if (global_applies(cmd, fl))
            sh_flag_words(f, fl, &first);
    fprintf(f, "\" ;;\n");
}

static void sh_values(FILE *f, const char *path, const struct cli_command *cmd, void *arg)
{
    (void)arg;
    for (const struct cli_flag *fl = cmd->flags; fl && fl->name; fl++) {
        if (!fl->has_value)
            continue;
        char kind[256];
        value_kind(fl, kind, sizeof(kind));
        fprintf(f, "        \"%s|--%s\"", path, fl->name);
        if (fl->short_name)
            fprintf(f, " | \"%s|-%c\"", path, fl->short_name);
        fprintf(f, ") echo \"%s\" ;;\n", kind);
    }
}

static void sh_tables(FILE *f)
{
    fprintf(f, "_cairn_subs() {\n    case \"$1\" in\n");
    walk(f, "", &cli_root_command, sh_subs, NULL);
    fprintf(f, "    esac\n}\n\n_cairn_flags() {\n    case \"$1\" in\n");
    walk(f, "", &cli_root_command, sh_flags, NULL);
    fprintf(f, "    esac\n}\n\n# _cairn_value PATH FLAG: how the flag's value completes (file, dir, \"w WORDS\", text);\n"
               "# status 1 when the flag takes no value.\n_cairn_value() {\n    case \"$1|$2\" in\n");
    walk(f, "", &cli_root_command, sh_values, NULL);
    for (const struct cli_flag *fl = cli_global_flags; fl->name; fl++) {
        if (!fl->has_value)
            continue;
        char kind[256];
        value_kind(fl, kind, sizeof(kind));
        fprintf(f, "        *\"|--%s\"", fl->name);
        if (fl->short_name)
            fprintf(f, " | *\"|-%c\"", fl->short_name);
        fprintf(f, ") echo \"%s\" ;;\n", kind);
    }
    fprintf(f, "        *) return 1 ;;\n    esac\n}\n\n");
}

static const char BASH_DRIVER[] =
    "_cairn() {\n"
    "    local cur=${COMP_WORDS[COMP_CWORD]} prev=\"\" cpath=\"\" w i subs kind\n"
    "    ((COMP_CWORD > 1)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
    "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
    "        w=${COMP_WORDS[i]}\n"
    "        subs=\" $(_cairn_subs \"$cpath\") \"\n"
    "        [[ $w != -* && $subs != \"  \" && $subs == *\" $w \"* ]] && cpath=${cpath:+$cpath }$w\n"
    "    done\n"
    "    if [[ $prev == -* ]] && kind=$(_cairn_value \"$cpath\" \"$prev\"); then\n"
    "        case $kind in\n"
    "            file) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
    "            dir) COMPREPLY=($(compgen -d -- \"$cur\")) ;;\n"
    "            w\\ *) COMPREPLY=($(compgen -W \"${kind#w }\" -- \"$cur\")) ;;\n"
    "            *) COMPREPLY=() ;;\n"
    "        esac\n"
    "        return\n"
    "    fi\n"
    "    if [[ $cur == -* ]]; then\n"
    "        COMPREPLY=($(compgen -W \"$(_cairn_flags \"$cpath\")\" -- \"$cur\"))\n"
    "    else\n"
    "        subs=$(_cairn_subs \"$cpath\")\n"
    "        if [[ -n $subs ]]; then\n"
    "            COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
    "        else\n"
    "            COMPREPLY=($(compgen -f -- \"$cur\"))\n"
    "        fi\n"
    "    fi\n"
    "}\n"
    "complete -F _cairn cairn\n";

/* zsh: `path` is zsh's PATH array and `words`/CURRENT are the completion
 * system's, hence cpath and the 1-based word indexes. */
static const char ZSH_DRIVER[] =
    "_cairn() {\n"
    "    local cur=${words[CURRENT]} prev=${words[CURRENT-1]} cpath=\"\" w i subs kind\n"
    "    for ((i = 2; i < CURRENT; i++)); do\n"
    "        w=${words[i]}\n"
    "        subs=\" $(_cairn_subs \"$cpath\") \"\n"
    "        [[ $w != -* && $subs != \"  \" && $subs == *\" $w \"* ]] && cpath=${cpath:+$cpath }$w\n"
    "    done\n"
    "    if [[ $prev == -* ]] && kind=$(_cairn_value \"$cpath\" \"$prev\"); then\n"
    "        case $kind in\n"
    "            file) _files ;;\n"
    "            dir) _files -/ ;;\n"
    "            w\\ *) compadd -- ${=${kind#w }} ;;\n"
    "        esac\n"
    "        return\n"
    "    fi\n"
    "    if [[ $cur == -* ]]; then\n"
    "        compadd -- ${=$(_cairn_flags \"$cpath\")}\n"
    "    else\n"
    "        subs=$(_cairn_subs \"$cpath\")\n"
    "        if [[ -n $subs ]]; then\n"
    "            compadd -- ${=subs}\n"
    "        else\n"
    "            _files\n"
    "        fi\n"
    "    fi\n"
    "}\n"
    "\n"
    "_cairn \"$@\"\n";

/* ---- fish ---------------------------------------------------------------------------- */

/* A fish single-quoted string: only \ and ' need escaping. */
static void fish_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\\' || *s == '\'')
            fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc('\'', f);
}

static void fish_flag(FILE *f, const char *path, const struct cli_flag *fl)
{
    fprintf(f, "complete -c cairn -n '__cairn_at \"%s\"' -l %s", path, fl->name);
    if (fl->short_name)
        fprintf(f, " -s %c", fl->short_name);
    if (fl->has_value) {
        char kind[256];
        value_kind(fl, kind, sizeof(kind));
        if (strcmp(kind, "file") == 0)
            fprintf(f, " -r -F");
        else if (strcmp(kind, "dir") == 0)
            fprintf(f, " -x -a '(__fish_complete_directories)'");
        else if (kind[0] == 'w')
            fprintf(f, " -x -a '%s'", kind + 2);
        else
            fprintf(f, " -x");
    }
    fprintf(f, " -d ");
    fish_quoted(f, fl->help ? fl->help : "");
    fputc('\n', f);
}

static void fish_node(FILE *f, const char *path, const struct cli_command *cmd, void *arg)
{
    (void)arg;
    for (const struct cli_command *const *s = cmd->subs; s && *s; s++) {
        fprintf(f, "complete -c cairn -f -n '__cairn_at \"%s\"' -a %s -d ", path, (*s)->name);
        fish_quoted(f, (*s)->summary);
        fputc('\n', f);
    }
    for (const struct cli_flag *fl = cmd->flags; fl && fl->name; fl++)
        fish_flag(f, path, fl);
    for (const struct cli_flag *fl = cli_global_flags; fl->name; fl++)
        if (global_applies(cmd, fl))
            fish_flag(f, path, fl);
}

static void fish_subs(FILE *f, const char *path, const struct cli_command *cmd, void *arg)
{
    (void)arg;
    if (cmd->subs == NULL)
        return;
    fprintf(f, "        case '%s'\n            printf '%%s\\n'", path);
    for (const struct cli_command *const *s = cmd->subs; *s; s++)
        fprintf(f, " %s", (*s)->name);
    fputc('\n', f);
}

static void print_fish(FILE *f)
{
    fprintf(f, "# fish completion for cairn, generated by `cairn completion fish` from the CLI's command table.\n"
               "function __cairn_subs\n    switch $argv[1]\n");
    walk(f, "", &cli_root_command, fish_subs, NULL);
    fprintf(f, "    end\nend\n\n"
               "# The command path typed so far: a word extends it only when it names a subcommand.\n"
               "function __cairn_path\n"
               "    set -l p ''\n"
               "    for w in (commandline -opc)[2..-1]\n"
               "        if not string match -q -- '-*' $w; and contains -- $w (__cairn_subs $p)\n"
               "            if test -z \"$p\"\n                set p $w\n            else\n"
               "                set p \"$p $w\"\n            end\n"
               "        end\n"
               "    end\n"
               "    echo $p\nend\n\n"
               "function __cairn_at\n    test (__cairn_path) = \"$argv[1]\"\nend\n\n"
               "complete -c cairn -e\n");
    walk(f, "", &cli_root_command, fish_node, NULL);
}

/* ---- the command ----------------------------------------------------------------------- */

static int run_completion(struct cli_ctx *ctx)
{
    const char *shell = ctx->cmd->name;
    if (strcmp(shell, "bash") == 0) {
        printf("# bash completion for cairn, generated by `cairn completion bash` from the CLI's command table.\n"
               "# Install: cairn completion bash > /etc/bash_completion.d/cairn (or source it)\n\n");
        sh_tables(stdout);
        fputs(BASH_DRIVER, stdout);
    } else if (strcmp(shell, "zsh") == 0) {
        printf("#compdef cairn\n"
               "# zsh completion for cairn, generated by `cairn completion zsh` from the CLI's command table.\n"
               "# Install: cairn completion zsh > \"${fpath[1]}/_cairn\"\n\n");
        sh_tables(stdout);
        fputs(ZSH_DRIVER, stdout);
    } else {
        print_fish(stdout);
    }
    return fflush(stdout) == 0 ? CLI_EXIT_OK : cli_fail("cannot write to stdout");
}

static const struct cli_command cmd_bash = {
    .name = "bash", .summary = "bash completion script", .usage = "", .offline = true,
    .min_args = 0, .max_args = 0, .run = run_completion,
    .example = "source <(cairn completion bash)",
};
static const struct cli_command cmd_zsh = {
    .name = "zsh", .summary = "zsh completion script (#compdef)", .usage = "", .offline = true,
    .min_args = 0, .max_args = 0, .run = run_completion,
    .example = "cairn completion zsh > \"${fpath[1]}/_cairn\"",
};
static const struct cli_command cmd_fish = {
    .name = "fish", .summary = "fish completion script", .usage = "", .offline = true,
    .min_args = 0, .max_args = 0, .run = run_completion,
    .example = "cairn completion fish > ~/.config/fish/completions/cairn.fish",
};
static const struct cli_command *const completion_subs[] = {&cmd_bash, &cmd_zsh, &cmd_fish, NULL};

const struct cli_command cli_cmd_completion = {
    .name = "completion",
    .summary = "print a shell completion script (bash, zsh, fish), generated from the command table",
    .usage = "<bash|zsh|fish>",
    .subs = completion_subs,
};
