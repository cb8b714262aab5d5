/* cairn package-info <file|dir>: the package identity of an SGX enclave, to
 * paste into a manifest's Packages: from a Gramine .sig file (or a directory
 * holding one) or an SGX-SDK/Occlum enclave ELF (.note.sgxmeta). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/sigstruct.h"
#include "common/file.h"

static const struct cli_flag pi_flags[] = {
    {"json", 0, false, NULL, "print a manifest package object (JSON)"},
    {NULL, 0, false, NULL, NULL},
};

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* The single *.sig file in a directory. */
static int find_sig(const char *dir, char **out)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return cli_fail("cannot open directory \"%s\"", dir);
    char *found = NULL;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".sig") == 0) {
            count++;
            free(found);
            if (asprintf(&found, "%s/%s", dir, e->d_name) < 0)
                found = NULL;
        }
    }
    closedir(d);
    if (count == 0)
        return cli_fail("no .sig file in directory \"%s\"; give the Gramine .sig file or the enclave binary", dir);
    if (count > 1) {
        free(found);
        return cli_fail("several .sig files in directory \"%s\"; name the one to read", dir);
    }
    if (found == NULL)
        return cli_fail("out of memory");
    *out = found;
    return 0;
}

static int run_package_info(struct cli_ctx *ctx)
{
    const char *arg = ctx->args.pos[0];
    char *path = NULL;
    struct stat st;
    if (stat(arg, &st) != 0)
        return cli_fail("\"%s\" does not exist; give a Gramine .sig file, a directory with one, or an enclave ELF",
                        arg);
    if (S_ISDIR(st.st_mode)) {
        if (find_sig(arg, &path) != 0)
            return CLI_EXIT_FAIL;
    } else {
        path = strdup(arg);
    }
    uint8_t *data = NULL;
    size_t len = 0;
    if (cli_read_file("package", path, SIGSTRUCT_ELF_MAX, &data, &len) != 0) {
        free(path);
        return CLI_EXIT_FAIL;
    }
    struct sgx_package_info info;
    struct cairn_error err = {0};
    const char *kind = NULL;
    int rc = sigstruct_from_file_bytes(data, len, &info, &kind, &err);
    free(data);
    if (rc != 0) {
        rc = cli_fail("\"%s\" is not a signed SGX package: %s", path, cairn_error_msg(&err));
        free(path);
        return rc;
    }
    char mre[65], mrs[65];
    hex(info.mrenclave, 32, mre);
    hex(info.mrsigner, 32, mrs);
    if (cli_args_has(&ctx->args, "json")) {
        printf("{\"UniqueID\": \"%s\", \"SignerID\": \"%s\", \"ProductID\": %u, \"SecurityVersion\": %u, "
               "\"Debug\": %s}\n",
               mre, mrs, info.isv_prod_id, info.isv_svn, info.debug ? "true" : "false");
    } else {
        printf("PackageProperties of %s \"%s\":\n", kind, path);
        printf("  UniqueID (MRENCLAVE)      : %s\n", mre);
        printf("  SignerID (MRSIGNER)       : %s\n", mrs);
        printf("  ProductID (ISVPRODID)     : %u\n", info.isv_prod_id);
        printf("  SecurityVersion (ISVSVN)  : %u\n", info.isv_svn);
        printf("  Debug (signed for DEBUG)  : %s\n", info.debug ? "true" : "false");
    }
    free(path);
    return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_package_info = {
    .name = "package-info", .example = "cairn package-info app.sig --json", .offline = true,
    .summary = "print an SGX enclave's package identity (UniqueID, SignerID, ...)",
    .usage = "<file|dir>",
    .help = "Reads a Gramine .sig file (or the single .sig in a directory) or an SGX-SDK/Occlum enclave\n"
            "ELF with a .note.sgxmeta section. SignerID is the SHA-256 of the signing key's modulus.",
    .flags = pi_flags,
    .min_args = 1, .max_args = 1,
    .run = run_package_info,
};
