/* Benchmark: SEV-SNP and TPM evidence verifications per second, with and
 * without the cache of verified VCEK chains, next to the raw signature checks
 * they need (own loop, and `openssl speed ecdsap384 rsa2048` in the same run).
 * Rates are per second of this thread's CPU time.
 *
 * Usage: bench_attest_snp_tpm [SHARED_DIR] [SECONDS]   (SHARED_DIR defaults to
 * $CAIRN_SHARED_DIR, SECONDS per measurement to 1). */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/attest.h"
#include "attest/snp.h"
#include "attest/tpm.h"
#include "common/file.h"

static char g_dir[1024];
static double g_secs = 1.0;

static uint8_t *load(const char *rel, size_t *n)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/testvectors/%s", g_dir, rel);
    uint8_t *p = NULL;
    if (cairn_file_read(path, 4u << 20, &p, n) != 0) {
        fprintf(stderr, "bench: cannot read %s\n", path);
        exit(2);
    }
    return p;
}

/* CPU time of this thread, not wall time: the machine is shared, and other
 * processes' load should not count as our cost. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef int (*op_fn)(void *ctx);

static double rate(const char *name, op_fn fn, void *ctx)
{
    if (fn(ctx) != 0) {
        fprintf(stderr, "bench: %s fails\n", name);
        exit(1);
    }
    long n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 16; i++) {
            if (fn(ctx) != 0) {
                fprintf(stderr, "bench: %s fails\n", name);
                exit(1);
            }
        }
        n += 16;
        t = now();
    } while (t - t0 < g_secs);
    double r = (double)n / (t - t0);
    printf("%-52s %10.0f /s  %8.1f us (CPU)\n", name, r, 1e6 / r);
    return r;
}

struct ev_ctx {
    struct attest_evidence ev;
    struct attest_trust trust;
};

static int op_verify(void *p)
{
    struct ev_ctx *c = p;
    struct attest_claims cl;
    struct cairn_error err = {0};
    int rc = attest_verify(&c->ev, &c->trust, NULL, 0, &cl, &err);
    if (rc == 0)
        attest_claims_free(&cl);
    else
        fprintf(stderr, "bench: %s\n", err.msg);
    return rc;
}

struct sig_ctx {
    EVP_PKEY *key;
    const char *md;
    const uint8_t *msg;
    size_t n;
    uint8_t *sig;
    size_t sig_len;
};

static int op_sig(void *p)
{
    struct sig_ctx *c = p;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit_ex(m, NULL, c->md, NULL, NULL, c->key, NULL) == 1 &&
             EVP_DigestVerify(m, c->sig, c->sig_len, c->msg, c->n) == 1;
    EVP_MD_CTX_free(m);
    return ok ? 0 : -1;
}

static struct sig_ctx make_sig(const char *alg, const char *md, const uint8_t *msg, size_t n)
{
    struct sig_ctx c = {.md = md, .msg = msg, .n = n};
    EVP_PKEY *k = strcmp(alg, "P-384") == 0 ? EVP_EC_gen("P-384") : EVP_RSA_gen(2048);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_DigestSignInit_ex(m, NULL, md, NULL, NULL, k, NULL);
    EVP_DigestSign(m, NULL, &c.sig_len, msg, n);
    c.sig = malloc(c.sig_len);
    EVP_DigestSign(m, c.sig, &c.sig_len, msg, n);
    EVP_MD_CTX_free(m);
    c.key = k;
    return c;
}

int main(int argc, char **argv)
{
    const char *d = argc > 1 ? argv[1] : getenv("CAIRN_SHARED_DIR");
    if (d == NULL) {
        fprintf(stderr, "usage: %s SHARED_DIR [SECONDS] (or set CAIRN_SHARED_DIR)\n", argv[0]);
        return 2;
    }
    snprintf(g_dir, sizeof(g_dir), "%s", d);
    if (argc > 2)
        g_secs = atof(argv[2]);

    printf("== SEV-SNP (trustee Milan report + VCEK, embedded ARK/ASK)\n");
    size_t rn, cn;
    uint8_t *rep = load("snp/trustee_test-report.bin", &rn), *vcek = load("snp/trustee_test-vcek.der", &cn);
    struct ev_ctx snp = {.ev = {.type = ATTEST_SNP, .quote = rep, .quote_len = rn, .certs = vcek, .certs_len = cn}};
    snp_chain_cache_set(false);
    double snp_cold = rate("snp_verify, no caches (parse + chain every time)", op_verify, &snp);
    snp_chain_cache_set(true);
    double snp_warm = rate("snp_verify, VCEK parsed + chain cached (by SHA-256)", op_verify, &snp);

    printf("== TPM (GCE COS 85 SHA-256 quote, RSA-2048 AK cert -> GCE EK root, no event log)\n");
    size_t qn, sn, an, kn, pn, ln;
    uint8_t *q = load("tpm/gce_cos85_nonce9009.quote_sha256.tpms_attest", &qn);
    uint8_t *s = load("tpm/gce_cos85_nonce9009.quote_sha256.tpmt_signature", &sn);
    uint8_t *a = load("tpm/gce_cos85_nonce9009.ak_pub.tpmt_public", &an);
    uint8_t *k = load("tpm/gce_cos85_nonce9009.ak_cert.der", &kn);
    uint8_t *pc = load("tpm/gce_cos85_nonce9009.quote_sha256.pcrs.json", &pn);
    uint8_t *lg = load("tpm/gce_cos85_nonce9009.eventlog.bin", &ln);
    STACK_OF(X509) *roots = sk_X509_new_null(), *inters = sk_X509_new_null();
    const char *rootf[] = {"roots/gce_tpm_ek_root_1.der"}, *interf[] = {"roots/gce_tpm_ek_intermediate_2.der"};
    size_t xn;
    uint8_t *xb = load(rootf[0], &xn);
    const unsigned char *xp = xb;
    sk_X509_push(roots, d2i_X509(NULL, &xp, (long)xn));
    free(xb);
    xb = load(interf[0], &xn);
    xp = xb;
    sk_X509_push(inters, d2i_X509(NULL, &xp, (long)xn));
    free(xb);
    struct ev_ctx tpm = {.ev = {.type = ATTEST_TPM, .quote = q, .quote_len = qn, .signature = s, .signature_len = sn,
                                .ak_pub = a, .ak_pub_len = an, .pcrs = pc, .pcrs_len = pn},
                         .trust = {.tpm_roots = roots, .intermediates = inters}};
    struct ev_ctx tpm_nocert = tpm;
    tpm.ev.certs = k;
    tpm.ev.certs_len = kn;
    tpm_chain_cache_set(false);
    double tpm_cert_cold = rate("tpm_verify + AK cert, no caches", op_verify, &tpm);
    tpm_chain_cache_set(true);
    double tpm_cert = rate("tpm_verify + AK cert, caches warm", op_verify, &tpm);
    double tpm_plain = rate("tpm_verify, AK TPMT_PUBLIC only, caches warm", op_verify, &tpm_nocert);
    tpm_nocert.ev.eventlog = lg;
    tpm_nocert.ev.eventlog_len = ln;
    rate("tpm_verify, TPMT_PUBLIC AK + 45-record event log", op_verify, &tpm_nocert);

    printf("== raw signature checks (OpenSSL EVP, same process)\n");
    struct sig_ctx e384 = make_sig("P-384", "SHA384", rep, 0x2A0);
    struct sig_ctx r2048 = make_sig("RSA", "SHA256", q, qn);
    double r_ec = rate("ECDSA P-384 SHA-384 verify (SNP report)", op_sig, &e384);
    double r_rsa = rate("RSA-2048 PKCS#1 SHA-256 verify (TPM quote)", op_sig, &r2048);
    printf("== ratios\n");
    printf("snp cached / raw P-384 verify: %.2f of the raw rate (uncached %.2f)\n", snp_warm / r_ec,
           snp_cold / r_ec);
    printf("tpm (TPMT_PUBLIC AK) / raw RSA-2048 verify: %.2f (with cert chain: cached %.2f, uncached %.2f)\n",
           tpm_plain / r_rsa, tpm_cert / r_rsa, tpm_cert_cold / r_rsa);

    printf("== openssl speed -seconds 1 ecdsap384 rsa2048 (same run)\n");
    fflush(stdout);
    FILE *f = popen("openssl speed -seconds 1 ecdsap384 rsa2048 2>/dev/null | grep -E '^(rsa|[ ]*384)|sign/s'", "r");
    if (f != NULL) {
        char line[512];
        while (fgets(line, sizeof(line), f) != NULL)
            fputs(line, stdout);
        pclose(f);
    }
    EVP_PKEY_free(e384.key);
    EVP_PKEY_free(r2048.key);
    free(e384.sig);
    free(r2048.sig);
    sk_X509_pop_free(roots, X509_free);
    sk_X509_pop_free(inters, X509_free);
    free(rep);
    free(vcek);
    free(q);
    free(s);
    free(a);
    free(k);
    free(pc);
    free(lg);
    return 0;
}
