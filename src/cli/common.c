/* Helpers shared by the CLI commands: one-line errors, Coordinator connection
 * with verification and the root-certificate cache, file I/O. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "client/client_internal.h"
#include "common/file.h"
#include "crypto/crypto.h"
#include "cli/pkcs11.h"
#include "manifest/manifest.h"

#define POLICY_FILE_MAX (256 * 1024)
#define CACHE_FILE_MAX (256 * 1024)

/* When a command is pinned to a cached root: the cache file, for the hint of
 * a TLS failure (see cli_fail_client and cli_connect_cached). */
static const char *g_pinned_cache;

const struct cli_flag cli_global_flags[] = {
    {"coordinator-cert", 0, true, "FILE",
     "root certificate cache file (default: one per address, $XDG_CONFIG_HOME/cairn/coordinators/HOST_PORT.pem)"},
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
    {"namespace", 'n', true, "NS",
     "Kubernetes namespace of the deployment (MarbleRun's flag; accepted, no effect until Kubernetes support)"},
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
    /* One "cairn: " prefix, whoever built the message: "cairn: x" stays,
     * "cairn manifest set: x" (a command path) becomes "cairn: manifest set: x". */
    const char *msg = buf;
    if (strncmp(msg, "cairn: ", 7) == 0)
        msg += 7;
    else if (strncmp(msg, "cairn ", 6) == 0)
        msg += 6;
    fprintf(stderr, "cairn: %s\n", msg);
    return CLI_EXIT_FAIL;
}

bool cli_flag_is_coordinator(const struct cli_flag *f)
{
    return strcmp(f->name, "help") != 0 && strcmp(f->name, "namespace") != 0;
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
        if (g_pinned_cache != NULL)
            return cli_fail("%s: %s; the Coordinator does not present the root certificate cached in \"%s\": one in "
                            "recovery mode (state 1) presents a temporary root (query it with --coordinator-policy "
                            "FILE, or -i), a reinstalled one a new root (run `cairn manifest verify`); the cache is "
                            "unchanged",
                            what, msg && msg[0] ? msg : cairn_strerror(rc), g_pinned_cache);
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
        /* the mesh API names itself (api_mesh_not_allowed): a wrong port, not an old Coordinator */
        hint = msg != NULL && strstr(msg, "mesh API") != NULL ? "give the Coordinator's client API address"
                                                              : "this Coordinator does not offer that endpoint";
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
    /* JSON as it is, else YAML converted (the rule --startup-manifest shares) */
    struct cairn_error err = {0};
    int rc = manifest_file_to_upload(data, len, out, out_len, &err);
    free(data);
    if (rc != 0)
        return cli_fail("manifest \"%s\" is %s; fix the file", path, cairn_error_msg(&err));
    return 0;
}

/* ---- the root-certificate cache (docs/cli.md "The root cache") ----------
 * One file per Coordinator address, so that two deployments never collide:
 * $XDG_CONFIG_HOME/cairn/coordinators/<host>_<port>.pem (else
 * ~/.config/cairn/...). --coordinator-cert FILE names the file instead, as
 * MarbleRun's flag does. The content is MarbleRun's format (intermediate PEM,
 * then root PEM) after a few "# key: value" header lines, which PEM readers
 * (OpenSSL, Go's encoding/pem) skip. */


static char *config_dir(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *p = NULL;
    if (xdg != NULL && xdg[0] != '\0') {
        if (asprintf(&p, "%s/cairn", xdg) < 0)
            p = NULL;
    } else if (home != NULL && home[0] != '\0') {
        if (asprintf(&p, "%s/.config/cairn", home) < 0)
            p = NULL;
    } else {
        p = strdup(".cairn");
    }
    return p;
}

/* The cache file for `address` (malloc'd), or NULL after printing why. */
static char *cache_path(const struct cli_args *a, const char *address)
{
    const char *explicit_path = cli_args_get(a, "coordinator-cert");
    if (explicit_path != NULL)
        return strdup(explicit_path);
    char key[300];
    if (cli_cache_key(address, key, sizeof(key)) != 0) {
        cli_fail("invalid Coordinator address \"%s\"; expected host:port (e.g. localhost:4433)", address);
        return NULL;
    }
    char *dir = config_dir(), *p = NULL;
    if (dir == NULL || asprintf(&p, "%s/coordinators/%s.pem", dir, key) < 0)
        p = NULL;
    free(dir);
    if (p == NULL)
        cli_fail("out of memory");
    return p;
}

struct cache_entry {
    char *root_pem;          /* the cached root (last certificate of the file) */
    bool attested;           /* false: saved with --insecure */
};

static void cache_entry_free(struct cache_entry *e)
{
    free(e->root_pem);
    e->root_pem = NULL;
}

/* Reads the cache file: 0 and *exists=false when there is none; 0 with the
 * entry; or the printed error. */
static int cache_read(const char *path, struct cache_entry *e, bool *exists)
{
    uint8_t *data = NULL;
    size_t len = 0;
    *exists = false;
    memset(e, 0, sizeof(*e));
    int rc = cairn_file_read(path, CACHE_FILE_MAX, &data, &len);
    if (rc == CAIRN_ERR_NOT_FOUND)
        return 0;
    if (rc != 0)
        return cli_fail("cannot read the Coordinator certificate cache \"%s\": %s", path, cairn_strerror(rc));
    STACK_OF(X509) *certs = NULL;
    int ret = 0;
    size_t pl = 0;
    if (cc_certs_from_pem((const char *)data, len, &certs, NULL) != 0 || sk_X509_num(certs) < 1 ||
        cc_cert_to_pem(sk_X509_value(certs, sk_X509_num(certs) - 1), &e->root_pem, &pl) != 0) {
        ret = cli_fail("the Coordinator certificate cache \"%s\" holds no PEM certificate; delete it and verify the "
                       "Coordinator anew (cairn manifest verify)",
                       path);
    } else {
        *exists = true;
        /* "# attested: no" in the header: saved with --insecure */
        e->attested = strstr((const char *)data, "# attested: no") == NULL;
    }
    sk_X509_pop_free(certs, X509_free);
    free(data);
    return ret;
}

/* Whether the root PEM `a` and the cached entry are the same certificate. */
static bool same_root(const char *a, const struct cache_entry *e)
{
    X509 *x = NULL, *y = NULL;
    bool eq = cc_cert_from_pem(a, strlen(a), &x, NULL) == 0 &&
              cc_cert_from_pem(e->root_pem, strlen(e->root_pem), &y, NULL) == 0 && cc_cert_equal(x, y);
    X509_free(x);
    X509_free(y);
    return eq;
}

static int cache_save_one(struct cli_ctx *ctx, const char *address, const struct cairn_coordinator_certs *certs)
{
    char *path = cache_path(&ctx->args, address);
    if (path == NULL)
        return CLI_EXIT_FAIL;
    struct cache_entry old;
    bool exists = false;
    if (cache_read(path, &old, &exists) != 0)
        exists = false; /* unreadable: replaced below (as MarbleRun overwrites) */
    if (exists && !same_root(certs->root_pem, &old))
        fprintf(stderr, "cairn: the Coordinator's root certificate differs from the one cached in \"%s\"; the cache "
                        "now holds the new one\n",
                path);
    cache_entry_free(&old);
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash != NULL) {
        *slash = '\0';
        if (dir[0] != '\0')
            cairn_mkdirs(dir, 0700);
    }
    free(dir);
    char stamp[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) != NULL)
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *doc = NULL;
    int ret = 0;
    if (asprintf(&doc,
                 "# cairn Coordinator certificate cache (docs/cli.md): intermediate, then root\n"
                 "# address: %s\n# attested: %s\n# saved: %s by `%s`\n%s%s",
                 address, certs->verified ? "yes" : "no (--insecure)", stamp, ctx->path, certs->intermediate_pem,
                 certs->root_pem) < 0) {
        ret = cli_fail("out of memory");
    } else if (cairn_file_write_atomic(path, doc, strlen(doc), 0600) != 0) {
        ret = cli_fail("cannot write the Coordinator certificate cache \"%s\"; check that the directory is writable "
                       "(or pass --coordinator-cert FILE)",
                       path);
    }
    free(doc);
    free(path);
    return ret;
}

static int cache_check_one(struct cli_ctx *ctx, const char *address, const struct cairn_coordinator_certs *certs)
{
    char *path = cache_path(&ctx->args, address);
    if (path == NULL)
        return CLI_EXIT_FAIL;
    struct cache_entry e;
    bool exists = false;
    int rc = cache_read(path, &e, &exists);
    if (rc == 0 && !exists)
        rc = cache_save_one(ctx, address, certs);
    else if (rc == 0 && !same_root(certs->root_pem, &e))
        rc = cli_fail("root certificate of Coordinator changed since it was cached in \"%s\"; refusing. Run "
                      "`cairn manifest verify` to verify the instance and update the cache (or delete the file); "
                      "otherwise it may be an impostor",
                      path);
    cache_entry_free(&e);
    free(path);
    return rc;
}
/* The addresses of a comma-separated list ("a:4433,b:4433": replicas of one
 * deployment) as "host:port" strings in one allocation (free(*out)). With
 * --coordinator-cert FILE the list counts as one address: one file. */
static int address_list(const struct cli_args *a, const char *list, char ***out, size_t *n)
{
    char **urls = NULL;
    size_t k = 0;
    struct cairn_error err = {0};
    if (client_addr_list(list, 4433, &urls, &k, &err) != 0)
        return cli_fail("invalid Coordinator address \"%s\": %s", list, cairn_error_msg(&err));
    if (cli_args_get(a, "coordinator-cert") != NULL)
        k = 1;
    size_t total = 0;
    for (size_t i = 0; i < k; i++)
        total += strlen(urls[i] + 8) + 1;
    char **v = malloc(k * sizeof(char *) + total);
    if (v == NULL) {
        client_addr_list_free(urls, CLIENT_ADDR_LIST_MAX);
        return cli_fail("out of memory");
    }
    char *p = (char *)(v + k);
    for (size_t i = 0; i < k; i++) {
        size_t l = strlen(urls[i] + 8) + 1;
        memcpy(p, urls[i] + 8, l);
        v[i] = p;
        p += l;
    }
    client_addr_list_free(urls, CLIENT_ADDR_LIST_MAX);
    *out = v;
    *n = k;
    return 0;
}

/* The cache is per address: a list of replicas writes (and checks) the one
 * verified root under every address of the list, so that each replica's
 * address alone finds it later. */
int cli_cache_save(struct cli_ctx *ctx, const char *address, const struct cairn_coordinator_certs *certs)
{
    char **v = NULL;
    size_t n = 0;
    int rc = address_list(&ctx->args, address, &v, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = cache_save_one(ctx, n == 1 ? address : v[i], certs);
    free(v);
    return rc;
}

int cli_cache_check(struct cli_ctx *ctx, const char *address, const struct cairn_coordinator_certs *certs)
{
    char **v = NULL;
    size_t n = 0;
    int rc = address_list(&ctx->args, address, &v, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = cache_check_one(ctx, n == 1 ? address : v[i], certs);
    free(v);
    return rc;
}

static void failover_progress(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "cairn: %s\n", msg);
}

void cli_failover_setup(struct cairn_client *c)
{
    /* several replicas: each failover step on stderr; stdout stays the
     * command's output */
    struct cairn_failover fo = {.progress = failover_progress};
    cairn_client_set_failover(c, &fo);
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

/* The policy file of an attesting command: --coordinator-policy or
 * --era-config, else MarbleRun's default ./era-config.json when it exists
 * (`allow_default`). *out_path NULL: none. */
static const char *policy_flag(const struct cli_args *a)
{
    const char *p = cli_args_get(a, "coordinator-policy");
    return p != NULL ? p : cli_args_get(a, "era-config");
}

#define ERA_DEFAULT_CONFIG "era-config.json"

/* Verifies the Coordinator (evidence and policy, or --insecure) and returns a
 * client pinned to the verified root. `prelude`: print MarbleRun's stdout
 * lines of its attesting commands ("Reusing existing config file",
 * "Warning: skipping quote verification"); `allow_default`: fall back to
 * ./era-config.json as MarbleRun's attesting commands do. */
static int attest(struct cli_ctx *ctx, const char *address, bool prelude, bool allow_default,
                  struct cairn_client **out, struct cairn_coordinator_certs *out_certs)
{
    const struct cli_args *a = &ctx->args;
    bool insecure = cli_args_has(a, "insecure");
    const char *policy_path = policy_flag(a);
    const char *nonce = cli_args_get(a, "nonce");
    if (nonce != NULL && nonce[0] == '\0')
        return cli_fail("--nonce is empty; give a non-empty string");
    bool reusing = false;
    if (!insecure && policy_path == NULL && allow_default && access(ERA_DEFAULT_CONFIG, F_OK) == 0) {
        policy_path = ERA_DEFAULT_CONFIG;
        reusing = true;
    }
    if (!insecure && policy_path == NULL)
        return cli_fail("no Coordinator policy given; pass --coordinator-policy FILE (or --era-config FILE, or put "
                        "it in ./" ERA_DEFAULT_CONFIG "; the Coordinator's expected TEE identity) or --insecure "
                        "for a simulated Coordinator");
    char *policy = NULL;
    if (!insecure) {
        uint8_t *d = NULL;
        size_t n = 0;
        if (cli_read_file("Coordinator policy", policy_path, POLICY_FILE_MAX, &d, &n) != 0)
            return CLI_EXIT_FAIL;
        policy = effective_policy(a, (char *)d);
        if (prelude && reusing)
            printf("Reusing existing config file\n");
    } else {
        if (prelude)
            printf("Warning: skipping quote verification\n");
        fprintf(stderr, "cairn: WARNING: --insecure: the Coordinator's quote is NOT verified (only for a simulated "
                        "Coordinator)\n");
    }
    fflush(stdout);
    struct cairn_client_config cc = {.address = address};
    struct cairn_client *c = NULL;
    int rc = cairn_client_new(&cc, &c);
    if (rc != 0) {
        free(policy);
        return cli_fail("invalid Coordinator address \"%s\"; expected host:port (e.g. localhost:4433)", address);
    }
    cli_failover_setup(c);
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
    int ret = 0;
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

int cli_connect(struct cli_ctx *ctx, const char *address, struct cairn_client **out,
                struct cairn_coordinator_certs *out_certs)
{
    return attest(ctx, address, true, true, out, out_certs);
}

int cli_connect_cached(struct cli_ctx *ctx, const char *address, struct cairn_client **out, char **out_root_pem)
{
    const struct cli_args *a = &ctx->args;
    struct cairn_coordinator_certs certs = {0};
    int rc;
    if (cli_args_has(a, "insecure") || policy_flag(a) != NULL) {
        /* -i: this command only, the cache is neither read nor written.
         * A policy: the evidence decides; the cache is only compared (a
         * Coordinator in recovery mode presents a temporary root). */
        rc = attest(ctx, address, false, false, out, &certs);
        if (rc != 0)
            return rc;
        char **v = NULL;
        size_t n = 0;
        if (!cli_args_has(a, "insecure") && address_list(a, address, &v, &n) == 0) {
            for (size_t i = 0; i < n; i++) {
                char *path = cache_path(a, n == 1 ? address : v[i]);
                struct cache_entry e;
                bool exists = false;
                if (path != NULL && cache_read(path, &e, &exists) == 0 && exists && !same_root(certs.root_pem, &e))
                    fprintf(stderr, "cairn: note: the verified root certificate differs from the one cached in \"%s\" "
                                    "(a Coordinator in recovery mode uses a temporary root); the cache is unchanged\n",
                            path);
                if (exists)
                    cache_entry_free(&e);
                free(path);
            }
            free(v);
        }
        if (out_root_pem != NULL) {
            *out_root_pem = certs.root_pem;
            certs.root_pem = NULL;
        }
        cairn_coordinator_certs_free(&certs);
        return 0;
    }
    /* MarbleRun: these commands trust just the cached root certificate. A
     * list of replicas: the roots cached for its addresses (those that have
     * one) must be one and the same certificate. */
    char **v = NULL;
    size_t n = 0;
    if ((rc = address_list(a, address, &v, &n)) != 0)
        return rc;
    char *path = NULL;
    struct cache_entry e = {0};
    bool exists = false;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *pi = cache_path(a, n == 1 ? address : v[i]);
        struct cache_entry ei;
        bool ex = false;
        if (pi == NULL) {
            rc = CLI_EXIT_FAIL;
            break;
        }
        rc = cache_read(pi, &ei, &ex);
        if (rc == 0 && ex && exists && !same_root(ei.root_pem, &e))
            rc = cli_fail("the root certificates cached for %s (\"%s\") and %s (\"%s\") differ: these addresses are "
                          "not replicas of one deployment; refusing. Verify them with `cairn manifest verify`",
                          v[0], path, v[i], pi);
        if (rc == 0 && ex && !exists) {
            e = ei;
            exists = true;
            free(path);
            path = pi;
            pi = NULL;
        } else if (ex) {
            cache_entry_free(&ei);
        }
        if (path == NULL && pi != NULL) {
            path = pi;   /* named in the "no cached root" message */
            pi = NULL;
        }
        free(pi);
    }
    free(v);
    if (rc != 0) {
        if (exists)
            cache_entry_free(&e);
        free(path);
        return rc;
    }
    if (rc == 0 && !exists)
        rc = cli_fail("no cached root certificate for %s (\"%s\"); verify the Coordinator first with `cairn manifest "
                      "verify <manifest> %s` (or `manifest set`), or pass --coordinator-policy FILE (or -i for a "
                      "simulated Coordinator)",
                      address, path, address);
    if (rc != 0) {
        free(path);
        return rc;
    }
    if (!e.attested)
        fprintf(stderr, "cairn: WARNING: the root certificate cached in \"%s\" was saved with --insecure (not "
                        "attested)\n",
                path);
    struct cairn_client_config cc = {.address = address, .root_ca_pem = e.root_pem};
    if (cairn_client_new(&cc, out) != 0) {
        cache_entry_free(&e);
        free(path);
        return cli_fail("invalid Coordinator address \"%s\"; expected host:port (e.g. localhost:4433)", address);
    }
    cli_failover_setup(*out);
    g_pinned_cache = path; /* kept for the hint of a TLS failure; freed at exit */
    if (out_root_pem != NULL)
        *out_root_pem = e.root_pem;
    else
        cache_entry_free(&e);
    return 0;
}

#define P11_CONFIG_MAX (64 * 1024)

int cli_pkcs11_identity(struct cli_ctx *ctx, bool want_cert, EVP_PKEY **out_key, X509 **out_cert)
{
    const struct cli_args *a = &ctx->args;
    const char *path = cli_args_get(a, "pkcs11-config");
    const char *cert_id = cli_args_get(a, "pkcs11-cert-id"), *cert_label = cli_args_get(a, "pkcs11-cert-label");
    if (want_cert && (cert_id == NULL || !cert_id[0]) && (cert_label == NULL || !cert_label[0]))
        return cli_fail("%s: with --pkcs11-config the certificate needs --pkcs11-cert-id or --pkcs11-cert-label",
                        ctx->path);
    uint8_t *d = NULL;
    size_t n = 0;
    if (cli_read_file("PKCS#11 config", path, P11_CONFIG_MAX, &d, &n) != 0)
        return CLI_EXIT_FAIL;
    struct cli_p11_config cfg;
    char err[512];
    int rc = cli_p11_config_parse((const char *)d, n, &cfg, err, sizeof(err));
    cc_free_secret(d, n); /* holds the PIN */
    if (rc != 0)
        return cli_fail("%s (\"%s\"); fix the file", err, path);
    rc = cli_p11_load(&cfg, cli_args_get(a, "pkcs11-key-id"), cli_args_get(a, "pkcs11-key-label"),
                      want_cert ? cert_id : NULL, want_cert ? cert_label : NULL, out_key, out_cert, err, sizeof(err));
    cli_p11_config_free(&cfg);
    if (rc != 0)
        return cli_fail("%s; check --pkcs11-config and the --pkcs11-* IDs/labels", err);
    return 0;
}
