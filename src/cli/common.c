/* Helpers shared by the CLI commands: one-line errors, Coordinator connection
 * with verification and the root-certificate cache, file I/O. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "common/file.h"
#include "crypto/crypto.h"
#include "manifest/manifest.h"

#define POLICY_FILE_MAX (256 * 1024)
#define CACHE_FILE_MAX (256 * 1024)

const struct cli_flag cli_global_flags[] = {
    {"coordinator-cert", 0, true, "FILE",
     "root certificate cache (default $XDG_CONFIG_HOME/cairn/coordinator-cert.pem)"},
    {"coordinator-policy", 0, true, "FILE", "expected Coordinator TEE identity (JSON, manifest package fields)"},
    {"era-config", 0, true, "FILE", "alias of --coordinator-policy (MarbleRun's name)"},
    {"insecure", 'i', false, NULL, "do not verify the Coordinator's quote (simulation only; INSECURE)"},
    {"nonce", 0, true, "STRING", "ask for a fresh quote over SHA-256(root || nonce)"},
    {"accepted-tcb-statuses", 0, true, "LIST",
     "TCB statuses to accept besides UpToDate (comma-separated; overrides the policy's AcceptedTCBStatuses)"},
    {"accepted-advisories", 0, true, "LIST", "advisory IDs to accept (comma-separated; overrides the policy's)"},
    {"save-sgx-quote", 0, true, "FILE", "save the Coordinator's quote (raw bytes) to FILE"},
    {"trust-dir", 0, true, "DIR",
     "trust directory for evidence: DIR/<type>/ collateral, CRLs, intermediates, DIR/<type>/roots/ roots "
     "(default $CAIRN_TRUST_DIR, else built-in roots only; docs/trust.md)"},
    {"help", 'h', false, NULL, "show help"},
    {NULL, 0, false, NULL, NULL},
};

int cli_fail(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* Guarantee one line whatever the parts contained. */
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "cairn: %s\n", buf);
    return CLI_EXIT_FAIL;
}

int cli_fail_client(int rc, const char *what, const char *msg)
{
    const char *hint;
    switch (rc) {
    case CAIRN_ERR_NETWORK:
    case CAIRN_ERR_TIMEOUT:
        hint = "check the address and that the Coordinator is running";
        break;
    case CAIRN_ERR_TLS:
        hint = "check that this is the Coordinator's client API address (default port 4433)";
        break;
    case CAIRN_ERR_VERIFY:
    case CAIRN_ERR_POLICY:
        hint = "do not trust this Coordinator; check --coordinator-policy";
        break;
    case CAIRN_ERR_STATE:
        hint = "see `cairn status`";
        break;
    case CAIRN_ERR_UNAUTHENTICATED:
        hint = "authenticate with a manifest user's certificate and key";
        break;
    case CAIRN_ERR_UNSUPPORTED:
        hint = "this Coordinator does not offer that endpoint";
        break;
    case CAIRN_ERR_INVALID:
        hint = "fix the input and retry";
        break;
    default:
        hint = NULL;
    }
    if (hint)
        return cli_fail("%s: %s; %s", what, msg && msg[0] ? msg : cairn_strerror(rc), hint);
    return cli_fail("%s: %s", what, msg && msg[0] ? msg : cairn_strerror(rc));
}

int cli_read_file(const char *what, const char *path, size_t max, uint8_t **out, size_t *out_len)
{
    int rc = cairn_file_read(path, max, out, out_len);
    if (rc == CAIRN_ERR_NOT_FOUND)
        return cli_fail("%s \"%s\" does not exist; check the path", what, path);
    if (rc == CAIRN_ERR_TOO_LARGE)
        return cli_fail("%s \"%s\" is larger than %zu bytes", what, path, max);
    if (rc != 0)
        return cli_fail("cannot read %s \"%s\": %s", what, path, strerror(errno));
    return 0;
}

int cli_write_output(const char *path, const void *data, size_t len, unsigned mode)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
            return cli_fail("cannot write to stdout");
        return 0;
    }
    /* An existing non-regular file (FIFO, /dev/null, /dev/stdout, a tty) is
     * written into: the temp-file-and-rename path would replace it with a
     * regular file (as root, even the device node in /dev). O_CREAT is not
     * given, so a file that appeared meanwhile is not created here. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        int ok = fd >= 0;
        const uint8_t *p = data;
        for (size_t left = len; ok && left > 0;) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            ok = w > 0;
            if (ok) {
                p += w;
                left -= (size_t)w;
            }
        }
        int saved = errno;
        if (fd >= 0 && close(fd) != 0 && ok) {
            ok = 0;
            saved = errno;
        }
        if (!ok)
            return cli_fail("cannot write \"%s\": %s", path, strerror(saved));
        return 0;
    }
    int rc = cairn_file_write_atomic(path, data, len, (mode_t)mode);
    if (rc != 0)
        return cli_fail("cannot write \"%s\": %s; check the directory exists and is writable", path,
                        cairn_strerror(rc));
    return 0;
}

int cli_load_manifest(const char *path, uint8_t **out, size_t *out_len)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (cli_read_file("manifest", path, MANIFEST_MAX_SIZE, &data, &len) != 0)
        return CLI_EXIT_FAIL;
    json_error_t je;
    json_t *j = json_loadb((const char *)data, len, JSON_DECODE_ANY, &je);
    if (j != NULL) { /* JSON: sent byte for byte (the hash is over these bytes) */
        json_decref(j);
        *out = data;
        *out_len = len;
        return 0;
    }
    /* Not JSON: MarbleRun's CLI converts YAML to JSON. */
    char *conv = NULL;
    struct cairn_error err = {0};
    int rc = manifest_yaml_to_json((const char *)data, len, &conv, &err);
    free(data);
    if (rc != 0)
        return cli_fail("manifest \"%s\" is neither JSON (%s at line %d) nor YAML (%s); fix the file", path,
                        je.text, je.line, cairn_error_msg(&err));
    *out = (uint8_t *)conv;
    *out_len = strlen(conv);
    return 0;
}

static char *default_cache_path(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *p = NULL;
    if (xdg != NULL && xdg[0] != '\0') {
        if (asprintf(&p, "%s/cairn/coordinator-cert.pem", xdg) < 0)
            p = NULL;
    } else if (home != NULL && home[0] != '\0') {
        if (asprintf(&p, "%s/.config/cairn/coordinator-cert.pem", home) < 0)
            p = NULL;
    } else {
        p = strdup("coordinator-cert.pem");
    }
    return p;
}

/* The cached root: the last certificate of the cache file. */
static int cache_check(const char *path, const char *root_pem, bool *out_exists)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cairn_file_read(path, CACHE_FILE_MAX, &data, &len);
    *out_exists = false;
    if (rc == CAIRN_ERR_NOT_FOUND)
        return 0;
    if (rc != 0)
        return cli_fail("cannot read the Coordinator certificate cache \"%s\": %s", path, cairn_strerror(rc));
    *out_exists = true;
    STACK_OF(X509) *certs = NULL;
    X509 *now = NULL;
    int ret = 0;
    if (cc_certs_from_pem((const char *)data, len, &certs, NULL) != 0 || sk_X509_num(certs) < 1) {
        ret = cli_fail("the Coordinator certificate cache \"%s\" is not PEM; delete it to trust the Coordinator "
                       "anew",
                       path);
    } else if (cc_cert_from_pem(root_pem, strlen(root_pem), &now, NULL) != 0) {
        ret = cli_fail("the Coordinator sent an unreadable root certificate");
    } else if (!cc_cert_equal(sk_X509_value(certs, sk_X509_num(certs) - 1), now)) {
        ret = cli_fail("the Coordinator's root certificate changed since it was cached in \"%s\"; refusing. If the "
                       "Coordinator was legitimately reinstalled, delete that file and verify it again; otherwise "
                       "it may be an impostor",
                       path);
    }
    X509_free(now);
    sk_X509_pop_free(certs, X509_free);
    free(data);
    return ret;
}

/* Replaces `key` of the policy object with the comma-separated `list`. */
static int policy_set_list(json_t *pol, const char *key, const char *list)
{
    json_t *arr = json_array();
    char *copy = strdup(list);
    if (arr == NULL || copy == NULL) {
        json_decref(arr);
        free(copy);
        return -1;
    }
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t)
            json_array_append_new(arr, json_string(t));
    }
    free(copy);
    return json_object_set_new(pol, key, arr);
}

/* The policy file's JSON with the --accepted-* overrides applied (malloc'd). */
static char *effective_policy(const struct cli_args *a, char *policy)
{
    const char *tcb = cli_args_get(a, "accepted-tcb-statuses");
    const char *adv = cli_args_get(a, "accepted-advisories");
    if (tcb == NULL && adv == NULL)
        return policy;
    json_error_t je;
    json_t *pol = json_loads(policy, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(pol)) { /* let libcairn report the parse error */
        json_decref(pol);
        return policy;
    }
    if ((tcb && policy_set_list(pol, "AcceptedTCBStatuses", tcb) != 0) ||
        (adv && policy_set_list(pol, "AcceptedAdvisories", adv) != 0)) {
        json_decref(pol);
        return policy;
    }
    char *s = json_dumps(pol, JSON_COMPACT);
    json_decref(pol);
    if (s == NULL)
        return policy;
    free(policy);
    return s;
}

int cli_connect(struct cli_ctx *ctx, const char *address, struct cairn_client **out,
                struct cairn_coordinator_certs *out_certs)
{
    const struct cli_args *a = &ctx->args;
    bool insecure = cli_args_has(a, "insecure");
    const char *policy_path = cli_args_get(a, "coordinator-policy");
    if (policy_path == NULL)
        policy_path = cli_args_get(a, "era-config");
    const char *nonce = cli_args_get(a, "nonce");
    if (!insecure && policy_path == NULL)
        return cli_fail("no Coordinator policy given; pass --coordinator-policy FILE (the Coordinator's expected TEE "
                        "identity) or --insecure for a simulated Coordinator");
    if (nonce != NULL && nonce[0] == '\0')
        return cli_fail("--nonce is empty; give a non-empty string");
    char *policy = NULL;
    if (!insecure) {
        uint8_t *d = NULL;
        size_t n = 0;
        if (cli_read_file("Coordinator policy", policy_path, POLICY_FILE_MAX, &d, &n) != 0)
            return CLI_EXIT_FAIL;
        policy = effective_policy(a, (char *)d);
    } else {
        fprintf(stderr, "cairn: WARNING: --insecure: the Coordinator's quote is NOT verified; its certificates are "
                        "trusted on first use (only for a simulated Coordinator)\n");
    }
    struct cairn_client_config cc = {.address = address};
    struct cairn_client *c = NULL;
    int rc = cairn_client_new(&cc, &c);
    if (rc != 0) {
        free(policy);
        return cli_fail("invalid Coordinator address \"%s\"; expected host:port (e.g. localhost:4433)", address);
    }
    struct cairn_verify_config vc = {.policy_json = policy, .insecure = insecure,
                                     .nonce = (const uint8_t *)nonce, .nonce_size = nonce ? strlen(nonce) : 0,
                                     .trust_dir = cli_args_get(a, "trust-dir")};
    struct cairn_coordinator_certs certs = {0};
    rc = cairn_coordinator_verify(c, &vc, &certs);
    free(policy);
    if (rc != 0) {
        int ret = cli_fail_client(rc, "Coordinator verification failed", cairn_client_last_error(c));
        cairn_client_free(c);
        return ret;
    }
    /* The root cache: refuse a changed root, else remember this one. */
    char *cache = NULL;
    const char *cp = cli_args_get(a, "coordinator-cert");
    cache = cp ? strdup(cp) : default_cache_path();
    bool exists = false;
    int ret = cache ? cache_check(cache, certs.root_pem, &exists) : cli_fail("out of memory");
    if (ret == 0 && !exists) {
        char *dir = strdup(cache);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash != NULL) {
            *slash = '\0';
            if (dir[0] != '\0')
                cairn_mkdirs(dir, 0700);
        }
        free(dir);
        size_t li = strlen(certs.intermediate_pem), lr = strlen(certs.root_pem);
        char *both = malloc(li + lr + 1);
        if (both == NULL) {
            ret = cli_fail("out of memory");
        } else {
            memcpy(both, certs.intermediate_pem, li);
            memcpy(both + li, certs.root_pem, lr + 1);
            if (cairn_file_write_atomic(cache, both, li + lr, 0600) != 0)
                fprintf(stderr, "cairn: warning: cannot write the Coordinator certificate cache \"%s\"\n", cache);
            free(both);
        }
    }
    free(cache);
    if (ret != 0) {
        cairn_coordinator_certs_free(&certs);
        cairn_client_free(c);
        return ret;
    }
    const char *save = cli_args_get(a, "save-sgx-quote");
    if (save != NULL) {
        if (certs.quote == NULL)
            fprintf(stderr, "cairn: warning: the Coordinator sent no quote (simulation); nothing saved to %s\n", save);
        else if (cli_write_output(save, certs.quote, certs.quote_size, 0644) != 0)
            ret = CLI_EXIT_FAIL;
    }
    if (ret != 0) {
        cairn_coordinator_certs_free(&certs);
        cairn_client_free(c);
        return ret;
    }
    if (certs.verified)
        fprintf(stderr, "cairn: Coordinator verified (%s evidence matches the policy)\n", certs.tee);
    if (out_certs)
        *out_certs = certs;
    else
        cairn_coordinator_certs_free(&certs);
    *out = c;
    return 0;
}
