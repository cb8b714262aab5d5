/* CLI argument parsing (see args.h). */
#include "cli/args.h"

#include <stdio.h>
#include <string.h>

static const struct cli_flag *find_long(const struct cli_flag *const *sets, size_t n_sets, const char *name,
                                        size_t len)
{
    for (size_t s = 0; s < n_sets; s++)
        for (const struct cli_flag *f = sets[s]; f && f->name; f++)
            if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
                return f;
    return NULL;
}

static const struct cli_flag *find_short(const struct cli_flag *const *sets, size_t n_sets, char c)
{
    for (size_t s = 0; s < n_sets; s++)
        for (const struct cli_flag *f = sets[s]; f && f->name; f++)
            if (f->short_name == c)
                return f;
    return NULL;
}

static int add_flag(struct cli_args *a, const struct cli_flag *f, const char *value, char *errbuf, size_t n)
{
    if (a->n_flags >= CLI_MAX_ARGS) {
        snprintf(errbuf, n, "too many flags (at most %d)", CLI_MAX_ARGS);
        return -1;
    }
    a->flag[a->n_flags] = f;
    a->value[a->n_flags] = value;
    a->n_flags++;
    return 0;
}

int cli_args_parse(const struct cli_flag *const *sets, size_t n_sets, int argc, char **argv, struct cli_args *out,
                   char *errbuf, size_t errbuf_size)
{
    struct cli_args a;
    memset(&a, 0, sizeof(a));
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || arg[1] == '\0') {
            if (a.n_pos >= CLI_MAX_ARGS) {
                snprintf(errbuf, errbuf_size, "too many arguments (at most %d)", CLI_MAX_ARGS);
                return -1;
            }
            a.pos[a.n_pos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = true;
            continue;
        }
        const struct cli_flag *f;
        const char *value = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            f = find_long(sets, n_sets, name, len);
            if (f == NULL) {
                snprintf(errbuf, errbuf_size, "unknown flag \"--%.*s\"", (int)(len > 64 ? 64 : len), name);
                return -1;
            }
            if (eq != NULL) {
                if (!f->has_value) {
                    snprintf(errbuf, errbuf_size, "flag \"--%s\" takes no value", f->name);
                    return -1;
                }
                value = eq + 1;
            }
        } else {
            if (arg[2] != '\0') {
                snprintf(errbuf, errbuf_size, "unknown flag \"%.64s\" (combine no short flags; use --name)", arg);
                return -1;
            }
            f = find_short(sets, n_sets, arg[1]);
            if (f == NULL) {
                snprintf(errbuf, errbuf_size, "unknown flag \"%.64s\"", arg);
                return -1;
            }
        }
        if (f->has_value && value == NULL && f->value_name != NULL && f->value_name[0] == '[') {
            if (i + 1 < argc && argv[i + 1][0] != '-')
                value = argv[++i];
        } else if (f->has_value && value == NULL) {
            if (i + 1 >= argc) {
                snprintf(errbuf, errbuf_size, "flag \"--%s\" needs a value (%s)", f->name,
                         f->value_name ? f->value_name : "VALUE");
                return -1;
            }
            value = argv[++i];
        }
        if (add_flag(&a, f, value, errbuf, errbuf_size) != 0)
            return -1;
    }
    *out = a;
    return 0;
}

const char *cli_args_get(const struct cli_args *a, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < a->n_flags; i++)
        if (strcmp(a->flag[i]->name, name) == 0)
            v = a->value[i];
    return v;
}

bool cli_args_has(const struct cli_args *a, const char *name)
{
    for (size_t i = 0; i < a->n_flags; i++)
        if (strcmp(a->flag[i]->name, name) == 0)
            return true;
    return false;
}
