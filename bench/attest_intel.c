/* Benchmark: SGX and TDX quote verifications per second, with full
 * collateral (TCB info, QE identity, CRLs), with and without the cache of
 * verified PCK chains and collateral, next to the two ECDSA P-256 signature
 * checks every quote needs on its own (QE report, quote) measured here and by
 * `openssl speed ecdsap256` in the same run.
 *
 * Usage: bench_attest_intel [SHARED_DIR] [SECONDS]   (SHARED_DIR defaults to
 * $CAIRN_SHARED_DIR, SECONDS per measurement to 1). */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/attest.h"
#include "attest/dcap.h"
#include "common/encoding.h"
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

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
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
        for (int i = 0; i < 8; i++) {
            if (fn(ctx) != 0) {
                fprintf(stderr, "bench: %s fails\n", name);
                exit(1);
            }
        }
        n += 8;
        t = now();
    } while (t - t0 < g_secs);
    double r = (double)n / (t - t0);
    printf("  %-58s %10.0f /s  %8.1f us\n", name, r, 1e6 / r);
    return r;
}

struct vcase {
    struct attest_evidence ev;
    struct attest_trust trust;
};

static int op_verify(void *p)
{
    struct vcase *v = p;
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = attest_verify(&v->ev, &v->trust, NULL, 0, &c, &err);
    if (rc == 0)
        attest_claims_free(&c);
    else
        fprintf(stderr, "bench: %s\n", err.msg);
    return rc;
}

struct sigs {
    EVP_PKEY *pck, *att;
    struct dcap_quote q;
};

static int op_two_sigs(void *p)
{
    struct sigs *s = p;
    if (dcap_ecdsa_verify(s->pck, s->q.qe_report, DCAP_SGX_REPORT_SIZE, s->q.qe_report_sig) != 0)
        return -1;
    return dcap_ecdsa_verify(s->att, s->q.signed_data, s->q.signed_size, s->q.signature);
}

static STACK_OF(X509) * pem_stack(const char *pem, size_t n)
{
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    BIO_free(b);
    return sk;
}

static X509_CRL *crl_der(const uint8_t *p, size_t n)
{
    const unsigned char *q = p;
    return d2i_X509_CRL(NULL, &q, (long)n);
}

static void bench_case(const char *label, struct vcase *v, uint32_t tee)
{
    struct sigs s;
    struct cairn_error err = {0};
    if (dcap_quote_parse(v->ev.quote, v->ev.quote_len, tee, &s.q, &err) != 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    STACK_OF(X509) *chain = pem_stack(s.q.pck_pem, s.q.pck_pem_size);
    s.pck = X509_get0_pubkey(sk_X509_value(chain, 0));
    if (dcap_p256_key(s.q.att_key, &s.att) != 0)
        exit(1);
    printf("%s\n", label);
    dcap_cache_clear();
    dcap_cache_set_enabled(false);
    double cold = rate("full verification, no cache", op_verify, v);
    dcap_cache_set_enabled(true);
    double warm = rate("full verification, cached chain + collateral", op_verify, v);
    double raw = rate("its 2 ECDSA P-256 verifies alone (QE report + quote)", op_two_sigs, &s);
    printf("  cache speed-up x%.1f; cached verification = %.0f%% of the 2-signature bound\n",
           warm / cold, 100.0 * warm / raw);
    EVP_PKEY_free(s.att);
    sk_X509_pop_free(chain, X509_free);
}

int main(int argc, char **argv)
{
    const char *d = argc > 1 ? argv[1] : getenv("CAIRN_SHARED_DIR");
    if (d == NULL) {
        fprintf(stderr, "usage: bench_attest_intel SHARED_DIR [SECONDS]\n");
        return 2;
    }
    snprintf(g_dir, sizeof(g_dir), "%s", d);
    if (argc > 2)
        g_secs = atof(argv[2]) > 0 ? atof(argv[2]) : 1.0;

    /* SGX: mobilecoin quote, TCB info, QE identity, root CRL at the upstream time. */
    struct vcase sgx = {0};
    size_t n;
    sgx.ev.type = ATTEST_SGX;
    sgx.ev.quote = load("sgx/mobilecoin_hw_quote.dat", &sgx.ev.quote_len);
    sgx.trust.tcb_info = (char *)load("sgx/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json",
                                      &sgx.trust.tcb_info_len);
    sgx.trust.qe_identity =
        (char *)load("sgx/mobilecoin_qe_identity.json", &sgx.trust.qe_identity_len);
    uint8_t *p = load("sgx/mobilecoin_tcb_signer.pem", &n);
    sgx.trust.collateral_chain = pem_stack((char *)p, n);
    free(p);
    sgx.trust.crls = sk_X509_CRL_new_null();
    p = load("sgx/mobilecoin_root_crl.der", &n);
    sk_X509_CRL_push(sgx.trust.crls, crl_der(p, n));
    free(p);
    dcap_time_parse("2023-07-12T20:48:25Z", &sgx.trust.at);
    sgx.trust.require_collateral = true;
    bench_case("SGX quote v3 (mobilecoin) + TCB info + QE identity + root CRL:", &sgx,
               DCAP_TEE_SGX);

    /* TDX: Phala quote v4 with dcap-qvl's collateral (PCK platform CRL, root CRL). */
    struct vcase tdx = {0};
    tdx.ev.type = ATTEST_TDX;
    tdx.ev.quote = load("tdx/phala_tdx_quote.bin", &tdx.ev.quote_len);
    p = load("tdx/phala_tdx_quote_collateral.json", &n);
    json_t *cj = json_loadb((char *)p, n, 0, NULL);
    free(p);
    char *tcb = NULL, *qe = NULL;
    if (cj == NULL ||
        asprintf(&tcb, "{\"tcbInfo\":%s,\"signature\":\"%s\"}",
                 json_string_value(json_object_get(cj, "tcb_info")),
                 json_string_value(json_object_get(cj, "tcb_info_signature"))) < 0 ||
        asprintf(&qe, "{\"enclaveIdentity\":%s,\"signature\":\"%s\"}",
                 json_string_value(json_object_get(cj, "qe_identity")),
                 json_string_value(json_object_get(cj, "qe_identity_signature"))) < 0)
        return 1;
    tdx.trust.tcb_info = tcb;
    tdx.trust.tcb_info_len = strlen(tcb);
    tdx.trust.qe_identity = qe;
    tdx.trust.qe_identity_len = strlen(qe);
    const char *ch = json_string_value(json_object_get(cj, "tcb_info_issuer_chain"));
    tdx.trust.collateral_chain = pem_stack(ch, strlen(ch));
    tdx.trust.crls = sk_X509_CRL_new_null();
    static const char *const crl_keys[] = {"pck_crl", "root_ca_crl"};
    for (int i = 0; i < 2; i++) {
        const char *h = json_string_value(json_object_get(cj, crl_keys[i]));
        uint8_t *der;
        size_t dl;
        if (h == NULL || cairn_hex_decode(h, strlen(h), &der, &dl) != 0)
            return 1;
        sk_X509_CRL_push(tdx.trust.crls, crl_der(der, dl));
        free(der);
    }
    tdx.trust.at = 1752919234;
    tdx.trust.require_collateral = true;
    bench_case("TDX quote v4 (Phala) + TCB info + TD_QE identity + PCK/root CRLs:", &tdx,
               DCAP_TEE_TDX);

    printf("openssl speed ecdsap256 (same run):\n");
    fflush(stdout);
    FILE *f = popen("openssl speed -seconds 1 ecdsap256 2>/dev/null | tail -2", "r");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof(line), f) != NULL)
            printf("  %s", line);
        pclose(f);
    }
    json_decref(cj);
    free(tcb);
    free(qe);
    return 0;
}
