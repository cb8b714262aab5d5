/* The KBS protocol core on arbitrary request bytes, against a simulation-mode
 * Coordinator in memory with a ConfidentialContainers workload. The first
 * byte picks the endpoint: 0 the Request of /auth; 1 the Attestation of
 * /attest on a fresh "sample" session (the nonce is random, so the fuzzer
 * explores the body's shape checks; a second call with the same session must
 * then be refused); 2 a resource path with a bearer token made of the rest.
 * Every call must answer exactly one way (ok with an output, or an error
 * class with a message). */
#include <stdlib.h>
#include <string.h>

#include "core/kbs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct core *g_core;
static struct kbs *g_kbs;

static const char k_manifest[] =
    "{\"Packages\": {\"pod\": {\"TEE\": \"tdx\", \"MRTD\": "
    "\"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\"}},"
    " \"Secrets\": {\"k\": {\"Type\": \"symmetric-key\", \"Size\": 128, \"Shared\": true}},"
    " \"ConfidentialContainers\": {\"Version\": 1, \"Workloads\": {\"w\": {\"Package\": \"pod\","
    " \"Resources\": {\"default/key/k\": \"k\"}}}}}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct core_config cfg = {.simulation = true, .memory_only = true, .leaf_key_pool = 0};
    struct kbs_config kc = {.max_sessions = 64};
    json_t *rec = NULL;
    if (core_new(&cfg, &g_core, NULL) != 0 ||
        core_manifest_set(g_core, (const uint8_t *)k_manifest, strlen(k_manifest), &rec, NULL) != 0 ||
        kbs_new(g_core, &kc, &g_kbs, NULL) != 0)
        abort();
    json_decref(rec);
    return 0;
}

static void expect(enum kbs_err e, char *out, const struct cairn_error *err)
{
    if ((e == KBS_OK) != (out != NULL) || (e != KBS_OK && err->msg[0] == '\0'))
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    char *out = NULL;
    struct cairn_error err = {0};
    struct kbs_cookie ck = {0};
    enum kbs_err e;
    switch (data[0] % 3) {
    case 0:
        e = kbs_auth(g_kbs, p, n, &out, &ck, &err);
        expect(e, out, &err);
        break;
    case 1: {
        static const char req[] = "{\"version\":\"0.4.0\",\"tee\":\"sample\",\"extra-params\":\"\"}";
        if (kbs_auth(g_kbs, (const uint8_t *)req, sizeof(req) - 1, &out, &ck, &err) != KBS_OK) {
            /* the session table is full (used-up sessions stay until they
             * expire, as they should): start over with an empty one */
            struct kbs_config kc = {.max_sessions = 64};
            kbs_free(g_kbs);
            g_kbs = NULL;
            memset(&err, 0, sizeof(err));
            if (kbs_new(g_core, &kc, &g_kbs, NULL) != 0 ||
                kbs_auth(g_kbs, (const uint8_t *)req, sizeof(req) - 1, &out, &ck, &err) != KBS_OK)
                abort();
        }
        free(out);
        out = NULL;
        e = kbs_attest(g_kbs, ck.id, p, n, &out, &ck, &err);
        expect(e, out, &err);
        /* the session is used up either way */
        memset(&err, 0, sizeof(err));
        out = NULL;
        if (kbs_attest(g_kbs, ck.id, p, n, &out, &ck, &err) == KBS_OK)
            abort();
        break;
    }
    default: {
        char *s = malloc(n + 1);
        if (s == NULL)
            return 0;
        memcpy(s, p, n);
        s[n] = '\0';
        char *sp = strchr(s, ' ');
        const char *tok = NULL;
        if (sp != NULL) {
            *sp = '\0';
            tok = sp + 1;
        }
        e = kbs_resource(g_kbs, NULL, tok, s, &out, &err);
        if (e == KBS_OK)
            abort();   /* no token the fuzzer can make verifies */
        free(out);
        free(s);
        break;
    }
    }
    return 0;
}
