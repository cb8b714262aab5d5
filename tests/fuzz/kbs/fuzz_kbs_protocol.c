/* The KBS protocol core on arbitrary request bytes, against a simulation-mode
 * Coordinator in memory with a ConfidentialContainers workload. The first
 * byte picks the endpoint: 0 the Request of /auth; 1 the Attestation of
 * /attest on a fresh session of the TEE that byte also picks (sample, tdx,
 * snp, az-snp-vtpm, az-tdx-vtpm); every "@NONCE@" in the body becomes the
 * session's nonce, so the fuzzer gets past the nonce check to
 * additional_evidence, init-data and each TEE's evidence decoder (a second
 * call with the same session must then be refused); 2 a resource path with
 * a bearer token made of the rest; 3 the rest as an Attestation's init-data
 * object and additional_evidence string, and as the primary evidence of each
 * TEE through kbs_verify_evidence (fixed report data). Every call must
 * answer exactly one way (ok with an output, or an error class with a
 * message). */
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
    static const char *const tees[] = {"sample", "tdx", "snp", "az-snp-vtpm", "az-tdx-vtpm"};
    switch (data[0] % 4) {
    case 0:
        e = kbs_auth(g_kbs, p, n, &out, &ck, &err);
        expect(e, out, &err);
        break;
    case 1: {
        char req[96];
        snprintf(req, sizeof(req), "{\"version\":\"0.4.0\",\"tee\":\"%s\",\"extra-params\":\"\"}", tees[(data[0] / 4) % 5]);
        if (kbs_auth(g_kbs, (const uint8_t *)req, strlen(req), &out, &ck, &err) != KBS_OK) {
            /* the session table is full (used-up sessions stay until they
             * expire, as they should): start over with an empty one */
            struct kbs_config kc = {.max_sessions = 64};
            kbs_free(g_kbs);
            g_kbs = NULL;
            memset(&err, 0, sizeof(err));
            if (kbs_new(g_core, &kc, &g_kbs, NULL) != 0 ||
                kbs_auth(g_kbs, (const uint8_t *)req, strlen(req), &out, &ck, &err) != KBS_OK)
                abort();
        }
        json_t *chj = json_loads(out, 0, NULL);
        const char *nonce = json_string_value(json_object_get(chj, "nonce"));
        if (nonce == NULL)
            abort();
        /* the body with @NONCE@ replaced (the nonce is 44 characters, the
         * marker 7: at most n/7 markers) */
        size_t nl = strlen(nonce), cap = n + (n / 7 + 1) * nl + 1, bl = 0;
        char *b = malloc(cap);
        if (b == NULL)
            abort();
        for (size_t i = 0; i < n;) {
            if (n - i >= 7 && memcmp(p + i, "@NONCE@", 7) == 0) {
                memcpy(b + bl, nonce, nl);
                bl += nl;
                i += 7;
            } else {
                b[bl++] = (char)p[i++];
            }
        }
        json_decref(chj);
        free(out);
        out = NULL;
        e = kbs_attest(g_kbs, ck.id, (const uint8_t *)b, bl, &out, &ck, &err);
        expect(e, out, &err);
        /* the session is used up either way */
        memset(&err, 0, sizeof(err));
        out = NULL;
        if (kbs_attest(g_kbs, ck.id, (const uint8_t *)b, bl, &out, &ck, &err) == KBS_OK)
            abort();
        free(b);
        break;
    }
    case 3: {
        json_t *j = json_loadb((const char *)p, n, 0, NULL);
        struct initdata_digest d;
        if (j != NULL && kbs_init_data_parse(j, &d, &err) != 0 && err.msg[0] == '\0')
            abort();
        memset(&err, 0, sizeof(err));
        json_t *s = json_stringn((const char *)p, n);
        if (s != NULL) {
            int rc = kbs_additional_evidence_check(s, &err);
            if (rc != 0 && err.msg[0] == '\0')
                abort();
            json_decref(s);
        }
        if (j != NULL) {
            static const uint8_t rd[48] = {1, 2, 3};
            static const enum kbs_tee t[] = {KBS_TEE_SAMPLE, KBS_TEE_TDX, KBS_TEE_SNP, KBS_TEE_AZ_SNP_VTPM,
                                             KBS_TEE_AZ_TDX_VTPM};
            for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                struct attest_claims c = {0};
                memset(&err, 0, sizeof(err));
                int rc = kbs_verify_evidence(g_core, t[i], j, rd, sizeof(rd), NULL, &c, &err);
                if (rc == 0 && t[i] != KBS_TEE_SAMPLE)
                    abort(); /* no fuzzer input is real evidence over rd */
                if (rc != 0 && err.msg[0] == '\0')
                    abort();
                if (rc == 0)
                    attest_claims_free(&c);
            }
        }
        json_decref(j);
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
