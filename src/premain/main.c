/* cairn-premain: the marble launcher (DESIGN §11, inventory §3.1, §10).
 *
 * It runs before the real program, inside the same TEE: it activates the
 * marble with the Coordinator (evidence over its fresh TLS key), writes the
 * Files it receives, sets the Env, and execve()s the program with the Argv.
 * It NEVER execs after a failed activation.
 *
 * Which program runs (the argv convention):
 *   1. `cairn-premain [options] -- PROGRAM [ARGS...]`: PROGRAM is executed;
 *      its argv is the manifest's Argv when that is non-empty, else
 *      PROGRAM ARGS... as given.
 *   2. no `--`, and this binary is not called "cairn-premain" (Gramine's
 *      libos.entrypoint: argv[0] is loader.argv[0], the application): argv[0]
 *      is executed with the manifest's Argv, else the original argv.
 *   3. otherwise the manifest's Argv[0] is executed (PATH lookup) with Argv.
 * In cases 1 and 2 the program is checked (exists, executable) before the
 * activation, so a typo costs no MaxActivations slot; in case 3 the Argv is
 * known only afterwards and is checked before any file is written. Exit codes:
 * 127 no such program, 126 not executable, 2 usage, 1 activation failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "common/file.h"
#include "common/log.h"

#define PEM_MAX (256 * 1024)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cairn-premain [--evidence sgx|tdx|snp|tpm|sim] [--protocol json|grpc] [-- PROGRAM [ARGS...]]\n"
            "\n"
            "Activates this marble with the Coordinator, writes its Files, sets its Env and\n"
            "executes the program with its Argv. Configuration (environment):\n"
            "  EDG_MARBLE_TYPE               marble type in the manifest (required)\n"
            "  EDG_MARBLE_COORDINATOR_ADDR   Coordinator mesh address (default localhost:2001); several\n"
            "                                replicas comma-separated, tried in order (failover)\n"
            "  EDG_MARBLE_UUID_FILE          UUID file, created (0600) if missing (default $EDG_CWD/uuid or ./uuid)\n"
            "  EDG_MARBLE_DNS_NAMES          comma-separated names/IPs for the certificate (default localhost)\n"
            "  CAIRN_EVIDENCE                evidence source (else probed, else simulation)\n"
            "  CAIRN_ACTIVATION_PROTOCOL     json (default: POST /api/v2/activate) or grpc (MarbleRun's\n"
            "                                rpc.Marble/Activate over HTTP/2); --protocol overrides\n"
            "  CAIRN_COORDINATOR_ROOT_CA     Coordinator root certificate (PEM file or PEM text):\n"
            "                                refuse any Coordinator that does not chain to it\n"
            "  CAIRN_COORDINATOR_POLICY      expected Coordinator TEE identity (JSON file or text): its\n"
            "                                quote is verified first, from the client API\n"
            "  CAIRN_COORDINATOR_CLIENT_ADDR Coordinator client API address (default: mesh host, port 4433);\n"
            "                                comma-separated for several replicas\n"
            "  CAIRN_TRUST_DIR               trust directory for verifying the Coordinator's quote (with\n"
            "                                CAIRN_COORDINATOR_POLICY): DIR/<type>/ collateral, CRLs,\n"
            "                                DIR/<type>/roots/ roots (docs/trust.md)\n"
            "  CAIRN_PREMAIN_RETRIES         attempts while unreachable or not ready (default 30)\n"
            "  CAIRN_PREMAIN_RETRY_DELAY_MS  first retry delay, doubled each time (default 250)\n"
            "  CAIRN_PREMAIN_RETRY_MAX_MS    largest retry delay (default 5000)\n"
            "  CAIRN_TPM_TCTI, CAIRN_TPM_PCRS, CAIRN_TPM_AK_CERT, CAIRN_TPM_AK_CONTEXT, CAIRN_TPM_EVENTLOG\n"
            "                                TPM evidence: TCTI (default /dev/tpmrm0), PCR selection,\n"
            "                                AK certificate file, persistent AK handle, event log file\n"
            "  CAIRN_GRAMINE_DIR, CAIRN_CONFIGFS_TSM  other evidence device paths\n"
            "  EDG_LOG_FORMAT                text (default) or json\n"
            "Program to run: after `--`; else argv[0] when started as Gramine's libos.entrypoint;\n"
            "else the manifest's Argv[0]. A program after `--` or in argv[0] is checked before activating\n"
            "(a missing one uses no MaxActivations slot); the manifest's Argv after it, before any file\n"
            "is written. Exit codes: 127 no such program, 126 not executable, 2 usage, 1 activation failed.\n"
            "\nexample:\n  EDG_MARBLE_TYPE=web EDG_MARBLE_COORDINATOR_ADDR=coordinator:2001 \\\n"
            "    CAIRN_COORDINATOR_ROOT_CA=/etc/cairn/root.pem cairn-premain -- /usr/bin/web-server --port 8443\n");
}

static long env_long(const char *name, long def, long min, long max)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        return def;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max) {
        LOG_ERROR("%s=\"%s\": expected an integer in %ld..%ld", name, v, min, max);
        exit(2);
    }
    return x;
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* A value that is either inline text (starting with `inline_prefix`) or a
 * path to a file holding it. */
static char *text_or_file(const char *name, const char *v, const char *inline_prefix)
{
    if (strncmp(v, inline_prefix, strlen(inline_prefix)) == 0)
        return strdup(v);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cairn_file_read(v, PEM_MAX, &data, &len);
    if (rc != 0) {
        LOG_ERROR("%s: cannot read \"%s\": %s", name, v, cairn_strerror(rc));
        return NULL;
    }
    return (char *)data;
}

/* Reads the UUID file, or creates it with a fresh UUIDv4 (mode 0600). */
static int load_uuid(const char *path, char out[37])
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cairn_file_read(path, 4096, &data, &len);
    if (rc == 0) {
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
            data[--len] = '\0';
        if (cairn_uuid_check((const char *)data) != 0) {
            LOG_ERROR("UUID file \"%s\" does not hold a canonical UUID; delete it to get a new one", path);
            free(data);
            return -1;
        }
        memcpy(out, data, 37);
        free(data);
        return 0;
    }
    if (rc != CAIRN_ERR_NOT_FOUND) {
        LOG_ERROR("cannot read UUID file \"%s\": %s", path, cairn_strerror(rc));
        return -1;
    }
    if (cairn_uuid_generate(out) != 0) {
        LOG_ERROR("cannot generate a UUID");
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        LOG_ERROR("cannot create UUID file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    bool ok = write(fd, out, 36) == 36 && fsync(fd) == 0;
    ok = (close(fd) == 0) && ok;
    if (!ok) {
        LOG_ERROR("cannot write UUID file \"%s\"", path);
        return -1;
    }
    LOG_INFO("generated marble UUID %s in %s", out, path);
    return 0;
}

/* Files: parents 0700, file 0600, written atomically. */
static int write_files(const struct cairn_marble_params *p)
{
    for (size_t i = 0; i < p->n_files; i++) {
        const char *path = p->files[i].path;
        char *copy = strdup(path);
        if (copy == NULL)
            return -1;
        const char *dir = dirname(copy);
        int rc = strcmp(dir, ".") == 0 ? 0 : cairn_mkdirs(dir, 0700);
        free(copy);
        if (rc == 0)
            rc = cairn_file_write_atomic(path, p->files[i].data, p->files[i].size, 0600);
        if (rc != 0) {
            LOG_ERROR("cannot write file \"%s\" from the manifest: %s", path, cairn_strerror(rc));
            return -1;
        }
        LOG_DEBUG("wrote %s (%zu bytes)", path, p->files[i].size);
    }
    return 0;
}

/* Whether `prog` names an executable regular file, resolved as execv (a path
 * with '/') or execvp (PATH lookup, glibc's default path without PATH) would.
 * Returns 0, or 127 (no such program) / 126 (not executable) after logging
 * why; `from` says where the name came from. */
static int check_program(const char *prog, const char *from)
{
    struct stat st;
    if (prog == NULL || prog[0] == '\0') {
        LOG_ERROR("the program to execute (%s) is empty", from);
        return 127;
    }
    if (strchr(prog, '/') != NULL) {
        if (stat(prog, &st) != 0) {
            LOG_ERROR("program \"%s\" (%s) does not exist: %s", prog, from, strerror(errno));
            return 127;
        }
        if (!S_ISREG(st.st_mode) || access(prog, X_OK) != 0) {
            LOG_ERROR("program \"%s\" (%s) is not an executable file", prog, from);
            return 126;
        }
        return 0;
    }
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/bin:/usr/bin";
    bool found_not_exec = false;
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char full[4096];
        /* an empty PATH entry is the current directory, as for execvp */
        if (snprintf(full, sizeof(full), "%.*s/%s", n ? (int)n : 1, n ? p : ".", prog) < (int)sizeof(full) &&
            stat(full, &st) == 0) {
            if (S_ISREG(st.st_mode) && access(full, X_OK) == 0)
                return 0;
            found_not_exec = true;
        }
        if (end == NULL)
            break;
        p = end;
    }
    if (found_not_exec) {
        LOG_ERROR("program \"%s\" (%s) is in PATH but not an executable file", prog, from);
        return 126;
    }
    LOG_ERROR("program \"%s\" (%s) not found in PATH (%s)", prog, from, path);
    return 127;
}

/* Removes the files written from the manifest after the program could not be
 * started, so no secret stays on disk without its program. */
static void remove_files(const struct cairn_marble_params *p)
{
    for (size_t i = 0; i < p->n_files; i++)
        if (unlink(p->files[i].path) != 0 && errno != ENOENT)
            LOG_WARN("cannot remove \"%s\": %s", p->files[i].path, strerror(errno));
}

static void log_progress(void *arg, const char *msg)
{
    (void)arg;
    LOG_WARN("failover: %s", msg);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int main(int argc, char **argv)
{
    const char *fmt = getenv("EDG_LOG_FORMAT");
    cairn_log_setup(getenv("CAIRN_DEBUG") ? CAIRN_LOG_DEBUG : CAIRN_LOG_INFO,
                    fmt && strcmp(fmt, "json") == 0 ? CAIRN_LOG_JSON : CAIRN_LOG_TEXT, "premain");

    /* Options stop at `--`; in Gramine mode there are none to parse, so only
     * parse when we are invoked under our own name. */
    char *self = strdup(argv[0] ? argv[0] : "cairn-premain");
    bool own_name = self && strcmp(basename(self), "cairn-premain") == 0;
    free(self);
    const char *evidence = getenv("CAIRN_EVIDENCE");
    const char *protocol = NULL;   /* NULL: libcairn reads CAIRN_ACTIVATION_PROTOCOL */
    int prog_idx = -1; /* index of PROGRAM in argv */
    if (own_name) {
        static const struct option opts[] = {{"evidence", required_argument, NULL, 'e'},
                                             {"protocol", required_argument, NULL, 'p'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
        int ch;
        while ((ch = getopt_long(argc, argv, "+e:p:hV", opts, NULL)) != -1) {
            switch (ch) {
            case 'e': evidence = optarg; break;
            case 'p': protocol = optarg; break;
            case 'h': usage(stdout); return 0;
            case 'V': printf("cairn-premain %s\n", cairn_version()); return 0;
            default: usage(stderr); return 2;
            }
        }
        if (optind < argc) {
            if (strcmp(argv[optind - 1], "--") != 0) {
                LOG_ERROR("unexpected argument \"%s\": put the program after `--`", argv[optind]);
                return 2;
            }
            prog_idx = optind;
        }
    }
    if (evidence != NULL && evidence[0] == '\0')
        evidence = NULL;

    const char *type = getenv("EDG_MARBLE_TYPE");
    if (type == NULL || type[0] == '\0') {
        LOG_ERROR("EDG_MARBLE_TYPE is not set: set it to the marble's name in the manifest");
        return 2;
    }
    /* Fail before activating (an activation uses a MaxActivations slot and
     * brings secrets) when the program is known already: after `--`, or
     * argv[0] in Gramine's entrypoint mode. The manifest's Argv is known only
     * after the activation; it is checked then, before anything is written. */
    if (prog_idx >= 0) {
        int prc = check_program(argv[prog_idx], "after `--`");
        if (prc != 0)
            return prc;
    } else if (!own_name) {
        int prc = check_program(argv[0], "argv[0], the libos.entrypoint application");
        if (prc != 0)
            return prc;
    }
    const char *addr = getenv("EDG_MARBLE_COORDINATOR_ADDR");
    if (addr == NULL || addr[0] == '\0')
        addr = "localhost:2001";
    char uuid_path[4096];
    const char *uf = getenv("EDG_MARBLE_UUID_FILE");
    if (uf != NULL && uf[0] != '\0') {
        snprintf(uuid_path, sizeof(uuid_path), "%s", uf);
    } else {
        const char *cwd = getenv("EDG_CWD");
        char buf[4000];
        if (cwd == NULL || cwd[0] == '\0')
            cwd = getcwd(buf, sizeof(buf)) ? buf : ".";
        snprintf(uuid_path, sizeof(uuid_path), "%s/uuid", cwd);
    }
    char uuid[37];
    if (load_uuid(uuid_path, uuid) != 0)
        return 1;

    /* EDG_MARBLE_DNS_NAMES: comma-separated. */
    const char *dns_env = getenv("EDG_MARBLE_DNS_NAMES");
    char *dns_copy = strdup(dns_env && dns_env[0] ? dns_env : "localhost");
    const char *names[64];
    size_t n_names = 0;
    for (char *save = NULL, *tok = strtok_r(dns_copy, ",", &save); tok && n_names < 64;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && end[-1] == ' ')
            *--end = '\0';
        if (*tok)
            names[n_names++] = tok;
    }

    char *root_pem = NULL, *policy = NULL;
    const char *v;
    if ((v = getenv("CAIRN_COORDINATOR_ROOT_CA")) != NULL && v[0] != '\0' &&
        (root_pem = text_or_file("CAIRN_COORDINATOR_ROOT_CA", v, "-----BEGIN")) == NULL)
        return 1;
    if ((v = getenv("CAIRN_COORDINATOR_POLICY")) != NULL && v[0] != '\0' &&
        (policy = text_or_file("CAIRN_COORDINATOR_POLICY", v, "{")) == NULL)
        return 1;
    const char *client_addr = getenv("CAIRN_COORDINATOR_CLIENT_ADDR");
    if (client_addr != NULL && client_addr[0] == '\0')
        client_addr = NULL;
    char derived[4096] = "";
    if (policy != NULL && client_addr == NULL) {
        /* The quote comes from the client API: by default on the mesh host,
         * port 4433 (for a list of replicas, each one's host) */
        size_t o = 0;
        for (const char *a = addr; *a != '\0' && o < sizeof(derived) - 300;) {
            const char *end = strchr(a, ',');
            size_t al = end != NULL ? (size_t)(end - a) : strlen(a);
            while (al > 0 && *a == ' ') {
                a++;
                al--;
            }
            const char *colon = al > 0 ? memrchr(a, ':', al) : NULL;
            size_t hl = colon ? (size_t)(colon - a) : al;
            if (al > 0)
                o += (size_t)snprintf(derived + o, sizeof(derived) - o, "%s%.*s:4433", o ? "," : "",
                                      (int)(hl == 0 || hl > 255 ? 9 : hl), hl == 0 || hl > 255 ? "localhost" : a);
            if (end == NULL)
                break;
            a = end + 1;
        }
        client_addr = derived;
        LOG_INFO("CAIRN_COORDINATOR_CLIENT_ADDR not set: fetching the Coordinator's quote from %s", client_addr);
    }
    if (root_pem == NULL && policy == NULL)
        LOG_WARN("the Coordinator is NOT authenticated (set CAIRN_COORDINATOR_ROOT_CA or CAIRN_COORDINATOR_POLICY "
                 "so that an impostor cannot configure this marble)");
    if (evidence != NULL && strcmp(evidence, "sim") == 0)
        LOG_WARN("SIMULATION: this marble sends simulation evidence, which proves nothing; never use in production");

    long retries = env_long("CAIRN_PREMAIN_RETRIES", 30, 1, 100000);
    long delay = env_long("CAIRN_PREMAIN_RETRY_DELAY_MS", 250, 1, 600000);
    long max_delay = env_long("CAIRN_PREMAIN_RETRY_MAX_MS", 5000, 1, 3600000);

    struct cairn_marble_config cfg = {
        .coordinator_addr = addr, .marble_type = type, .uuid = uuid,
        .dns_names = names, .n_dns_names = n_names, .evidence_type = evidence,
        .coordinator_root_ca_pem = root_pem, .coordinator_policy_json = policy,
        .coordinator_client_addr = client_addr,
        .gramine_dir = env_or_null("CAIRN_GRAMINE_DIR"), .configfs_tsm = env_or_null("CAIRN_CONFIGFS_TSM"),
        .tpm_tcti = env_or_null("CAIRN_TPM_TCTI"), .tpm_pcrs = env_or_null("CAIRN_TPM_PCRS"),
        .tpm_ak_cert = env_or_null("CAIRN_TPM_AK_CERT"), .tpm_ak_context = env_or_null("CAIRN_TPM_AK_CONTEXT"),
        .tpm_eventlog = env_or_null("CAIRN_TPM_EVENTLOG"), .protocol = protocol,
        .tpm_pcr_signature = env_or_null("CAIRN_TPM_PCR_SIGNATURE"),
    };
    /* several replicas (EDG_MARBLE_COORDINATOR_ADDR "a:2001,b:2001"): each
     * attempt tries them in order, the retry loop below repeats the pass */
    struct cairn_failover fo = {.rounds = 1, .progress = log_progress};
    if (strchr(addr, ',') != NULL)
        LOG_INFO("Coordinator replicas: %s (tried in order; the next one when one cannot be reached)", addr);
    struct cairn_marble_params *p = NULL;
    char errbuf[1024];
    int rc = 0;
    for (long attempt = 1;; attempt++) {
        int status = 0;
        rc = cairn_marble_activate_failover(&cfg, &fo, &p, &status, errbuf, sizeof(errbuf));
        if (rc == 0)
            break;
        bool retry = rc == CAIRN_ERR_NETWORK || rc == CAIRN_ERR_TIMEOUT || rc == CAIRN_ERR_STATE;
        if (!retry || attempt >= retries) {
            LOG_ERROR("activation of marble \"%s\" (uuid %s) failed%s: %s", type, uuid,
                      retry ? " after all retries" : "", errbuf);
            free(dns_copy);
            free(root_pem);
            free(policy);
            return 1; /* never exec after a failed activation */
        }
        LOG_INFO("Coordinator not ready (%s); retry %ld/%ld in %ld ms", errbuf, attempt, retries - 1, delay);
        sleep_ms(delay);
        delay = delay * 2 > max_delay ? max_delay : delay * 2;
    }
    free(dns_copy);
    free(root_pem);
    free(policy);
    if (p->evidence_type && strcmp(p->evidence_type, "sim") == 0 && evidence == NULL)
        LOG_WARN("SIMULATION: no TEE found; this marble was activated with simulation evidence, which proves "
                 "nothing");
    LOG_INFO("activated marble \"%s\" (uuid %s): %zu files, %zu env vars, %zu args", type, uuid, p->n_files,
             p->n_env, p->argc);

    /* Like MarbleRun's Gramine/Occlum premain: transparent TLS (manifest TLS
     * tags) needs runtime support this launcher does not have, so refuse
     * rather than start a service that would talk in the clear. */
    for (size_t i = 0; i < p->n_env; i++) {
        if (strcmp(p->env[i].path, "MARBLE_TTLS_CONFIG") == 0) {
            LOG_ERROR("marble \"%s\" has TLS tags in the manifest (MARBLE_TTLS_CONFIG), which cairn-premain does not "
                      "support; remove \"TLS\" from the marble and use MARBLE_PREDEFINED_* in the application",
                      type);
            cairn_marble_params_free(p);
            return 1;
        }
    }
    /* Decide the program and its argv (see the header comment) before
     * writing files or setting env: a manifest Argv naming no program, or one
     * that is not there, leaves no secret behind. */
    const char *path = NULL;
    char **new_argv = NULL;
    if (prog_idx >= 0) {
        path = argv[prog_idx];
        new_argv = p->argc > 0 ? p->argv : &argv[prog_idx];
    } else if (!own_name) {
        path = argv[0];
        new_argv = p->argc > 0 ? p->argv : argv;
    } else if (p->argc > 0) {
        path = p->argv[0];
        new_argv = p->argv;
        int prc = check_program(path, "Argv[0] in the manifest");
        if (prc != 0) {
            LOG_ERROR("marble \"%s\" not started; nothing was written. This activation used one of its "
                      "MaxActivations: give the program after `--` so that it is checked before activating",
                      type);
            cairn_marble_params_free(p);
            return prc;
        }
    } else {
        LOG_ERROR("nothing to execute: give the program after `--` or set Argv for marble \"%s\" in the manifest "
                  "(nothing was written)",
                  type);
        cairn_marble_params_free(p);
        return 2;
    }
    if (write_files(p) != 0) {
        cairn_marble_params_free(p);
        return 1;
    }
    for (size_t i = 0; i < p->n_env; i++) {
        if (setenv(p->env[i].path, (const char *)p->env[i].data, 1) != 0) {
            LOG_ERROR("cannot set env \"%s\": %s", p->env[i].path, strerror(errno));
            cairn_marble_params_free(p);
            return 1;
        }
    }

    fflush(NULL);
    if (strchr(path, '/') != NULL)
        execv(path, new_argv);
    else
        execvp(path, new_argv);
    int saved = errno;
    remove_files(p);
    LOG_ERROR("cannot execute \"%s\": %s (the files from the manifest were removed)", path, strerror(saved));
    cairn_marble_params_free(p);
    return saved == ENOENT ? 127 : 126;
}
