/* CLI argument parsing: flags (long/short, with or without a value, given as
 * "--name value", "--name=value", "-n value") anywhere among positional
 * arguments, "--" ending flags. Pure (no I/O): errors go to a caller buffer as
 * one line. Unit-tested in tests/unit/cli. */
#ifndef CAIRN_CLI_ARGS_H
#define CAIRN_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_MAX_ARGS 64

struct cli_flag {
    const char *name;     /* long name without "--" */
    char short_name;      /* 0 if none */
    bool has_value;
    const char *value_name; /* for help, e.g. "FILE" */
    const char *help;
};
/* value_name also tells completion (cmd_completion.c) what the value is:
 * "a|b|c" one of these words, a name containing FILE a file, DIR a directory,
 * anything else free text. */
/* A value_name in brackets ("[MODE]") makes the value optional: "--json"
 * alone, "--json=pretty", or "--json short" (a following word is taken as the
 * value only when it does not start with '-'). */

struct cli_args {
    const char *pos[CLI_MAX_ARGS];      /* positional arguments (borrowed from argv) */
    size_t n_pos;
    const struct cli_flag *flag[CLI_MAX_ARGS]; /* flags given, in order */
    const char *value[CLI_MAX_ARGS];    /* their values (NULL for booleans) */
    size_t n_flags;
};

/* Parses argv[0..argc) against the flag sets (NULL-name terminated arrays;
 * `sets` holds n_sets of them). Returns 0, or -1 with a one-line message in
 * errbuf naming the offending argument. Repeating a flag keeps the last value. */
int cli_args_parse(const struct cli_flag *const *sets, size_t n_sets, int argc, char **argv, struct cli_args *out,
                   char *errbuf, size_t errbuf_size);

/* The value of flag `name` (last occurrence), or NULL. */
const char *cli_args_get(const struct cli_args *a, const char *name);
/* Whether flag `name` was given. */
bool cli_args_has(const struct cli_args *a, const char *name);

#endif
