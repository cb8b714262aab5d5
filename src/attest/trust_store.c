/* Trust directories (see trust_store.h). */
#include "attest/trust_store.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct trust_store {
    struct trust_files *tf[4];   /* sgx, tdx, snp, tpm; NULL = built-in defaults */
    struct attest_trust trust[4];
};

static int type_slot(enum attest_type t)
{
    switch (t) {
    case ATTEST_SGX: return 0;
    case ATTEST_TDX: return 1;
    case ATTEST_SNP: return 2;
    case ATTEST_TPM: return 3;
    default: return -1;
    }
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* Adds every regular file of `dir` (sorted, dotfiles skipped) as `kind`;
 * subdirectories other than "roots" are an error so nothing is silently
 * ignored. */
static int load_dir(struct trust_files *tf, const char *dir, enum trust_file_kind kind, struct cairn_error *err)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0)
        return cairn_errf(err, CAIRN_ERR_IO, "%s: cannot read the directory", dir);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        char *path = NULL;
        struct stat st;
        if (rc != 0 || nm[0] == '.') {
            free(names[i]);
            continue;
        }
        if (asprintf(&path, "%s/%s", dir, nm) < 0) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        } else if (stat(path, &st) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_IO, "%s: cannot stat", path);
        } else if (S_ISDIR(st.st_mode)) {
            if (kind == TRUST_FILE_UNKNOWN && strcmp(nm, "roots") == 0)
                rc = load_dir(tf, path, TRUST_FILE_ROOTS, err);
            else
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: unexpected directory (only \"roots\" is read)", path);
        } else if (S_ISREG(st.st_mode)) {
            rc = trust_files_add_path(tf, path, kind, NULL, err);
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return rc;
}

void trust_store_free(struct trust_store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < 4; i++)
        trust_files_free(s->tf[i]);
    free(s);
}

int trust_store_load(const char *dir, struct trust_store **out, struct cairn_error *err)
{
    static const enum attest_type types[4] = {ATTEST_SGX, ATTEST_TDX, ATTEST_SNP, ATTEST_TPM};
    struct stat st;
    if (dir == NULL || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "trust directory %s: not a directory", dir ? dir : "(null)");
    struct trust_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++) {
        char *sub = NULL;
        if (asprintf(&sub, "%s/%s", dir, attest_type_name(types[i])) < 0) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            break;
        }
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            s->tf[i] = trust_files_new(types[i]);
            if (s->tf[i] == NULL)
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            else {
                trust_files_set_store_mode(s->tf[i], true);
                rc = load_dir(s->tf[i], sub, TRUST_FILE_UNKNOWN, err);
            }
            if (rc == 0) {
                trust_files_keep_newest_crls(s->tf[i]);
                rc = trust_files_trust(s->tf[i], 0, &s->trust[i], err);
            }
        }
        free(sub);
    }
    if (rc != 0) {
        trust_store_free(s);
        return cairn_err_prefix(err, "trust directory %s", dir);
    }
    *out = s;
    return 0;
}

void trust_store_get(const struct trust_store *s, enum attest_type type, time_t at, struct attest_trust *out)
{
    int i = type_slot(type);
    struct attest_trust t = {0};
    if (s != NULL && i >= 0 && s->tf[i] != NULL)
        t = s->trust[i];
    t.at = at;
    *out = t;
}

json_t *trust_store_describe(const struct trust_store *s)
{
    json_t *o = json_object();
    for (int i = 0; o && i < 4; i++) {
        if (s->tf[i] == NULL)
            continue;
        json_t *d = trust_files_describe(s->tf[i]);
        if (d == NULL || json_object_set_new(o, attest_type_name(trust_files_type(s->tf[i])), d) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

int trust_files_add_dir(struct trust_files *tf, const char *dir, struct cairn_error *err)
{
    struct stat st;
    if (dir == NULL || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "trust directory %s: not a directory", dir ? dir : "(null)");
    char *sub = NULL;
    if (asprintf(&sub, "%s/%s", dir, attest_type_name(trust_files_type(tf))) < 0)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    int rc = 0;
    if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* trust material only, as for trust_store_load */
        bool was = trust_files_set_store_mode(tf, true);
        rc = load_dir(tf, sub, TRUST_FILE_UNKNOWN, err);
        trust_files_set_store_mode(tf, was);
        if (rc == 0)
            trust_files_keep_newest_crls(tf);
    }
    free(sub);
    return rc;
}
