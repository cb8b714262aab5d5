/* TPM 2.0: every shared quote set verifies with the upstream ground truth (GCE
 * COS 85 x3 banks with AK certificate and event log, GCE Windows RSASSA-SHA1
 * with a SHA-1 log, Azure vTPM with a raw signature); mutations fail with the
 * right error; PCR/AKRoots policy. Needs CAIRN_SHARED_DIR (skips without). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <pthread.h>
#include <unistd.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "attest/eventlog.h"
#include "attest/policy.h"
#include "attest/snp.h"
#include "attest/azure_hcl.h"
#include "attest/tpm.h"
#include "common/encoding.h"
#include "common/file.h"

#define TV_PROBE "tpm"
#include "test_vectors.h"

static X509 *load_der_cert(const char *rel)
{
    size_t n;
    uint8_t *p = load(rel, &n);
    const unsigned char *q = p;
    X509 *x = d2i_X509(NULL, &q, (long)n);
    free(p);
    assert_non_null(x);
    return x;
}

static char *cert_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *d;
    long n = BIO_get_mem_data(b, &d);
    char *s = strndup(d, (size_t)n);
    BIO_free(b);
    return s;
}

static time_t t_of(const char *s)
{
    struct tm tm = {0};
    assert_non_null(strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm));
    return timegm(&tm);
}

static const char *js(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    assert_non_null(v);
    return v;
}

struct gce {
    uint8_t *quote, *sig, *akpub, *akcert, *pcrs, *log;
    size_t quote_n, sig_n, akpub_n, akcert_n, pcrs_n, log_n;
    STACK_OF(X509) *roots, *inters;
};

static void gce_load(struct gce *g, const char *bank)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "tpm/gce_cos85_nonce9009.quote_%s.tpms_attest", bank);
    g->quote = load(rel, &g->quote_n);
    snprintf(rel, sizeof(rel), "tpm/gce_cos85_nonce9009.quote_%s.tpmt_signature", bank);
    g->sig = load(rel, &g->sig_n);
    snprintf(rel, sizeof(rel), "tpm/gce_cos85_nonce9009.quote_%s.pcrs.json", bank);
    g->pcrs = load(rel, &g->pcrs_n);
    g->akpub = load("tpm/gce_cos85_nonce9009.ak_pub.tpmt_public", &g->akpub_n);
    g->akcert = load("tpm/gce_cos85_nonce9009.ak_cert.der", &g->akcert_n);
    g->log = load("tpm/gce_cos85_nonce9009.eventlog.bin", &g->log_n);
    g->roots = sk_X509_new_null();
    sk_X509_push(g->roots, load_der_cert("roots/gce_tpm_ek_root_1.der"));
    sk_X509_push(g->roots, load_der_cert("roots/gce_ek_ak_ca_root.der"));
    g->inters = sk_X509_new_null();
    sk_X509_push(g->inters, load_der_cert("roots/gce_tpm_ek_intermediate_2.der"));
    sk_X509_push(g->inters, load_der_cert("roots/gce_tpm_ek_intermediate_3.der"));
    sk_X509_push(g->inters, load_der_cert("roots/gce_ek_ak_ca_intermediate_v3.der"));
}

static void gce_free(struct gce *g)
{
    free(g->quote);
    free(g->sig);
    free(g->akpub);
    free(g->akcert);
    free(g->pcrs);
    free(g->log);
    sk_X509_pop_free(g->roots, X509_free);
    sk_X509_pop_free(g->inters, X509_free);
}

static struct attest_evidence gce_ev(const struct gce *g)
{
    struct attest_evidence ev = {.type = ATTEST_TPM, .quote = g->quote, .quote_len = g->quote_n,
                                 .signature = g->sig, .signature_len = g->sig_n, .ak_pub = g->akpub,
                                 .ak_pub_len = g->akpub_n, .certs = g->akcert, .certs_len = g->akcert_n,
                                 .pcrs = g->pcrs, .pcrs_len = g->pcrs_n, .eventlog = g->log,
                                 .eventlog_len = g->log_n};
    return ev;
}

static const uint8_t NONCE9009[2] = {0x90, 0x09};

static void test_gce_cos85(void **state)
{
    (void)state;
    NEED_SHARED();
    static const char *const banks[] = {"sha1", "sha256", "sha384"};
    static const char *const pcr0[] = {"0f2d3a2a1adaa479aeeca8f5df76aadc41b862ea",
                                       "0f35c214608d93c7a6e68ae7359b4a8be5a0e99eea9107ece427c4dea4e439cf", NULL};
    for (int b = 0; b < 3; b++) {
        struct gce g;
        gce_load(&g, banks[b]);
        struct attest_evidence ev = gce_ev(&g);
        struct attest_trust tr = {.tpm_roots = g.roots, .intermediates = g.inters};
        struct attest_claims c;
        struct cairn_error err = {0};
        int rc = attest_verify(&ev, &tr, NONCE9009, 2, &c, &err);
        if (rc != 0)
            print_message("%s: %s\n", banks[b], err.msg);
        assert_int_equal(rc, 0);
        assert_string_equal(js(c.json, "nonce"), "9009");
        assert_int_equal(c.report_data_len, 2);
        assert_string_equal(js(c.json, "sig_alg"), "rsassa");
        assert_string_equal(js(c.json, "hash_alg"), "sha256");
        assert_string_equal(js(c.json, "ak_name"),
                            "000bf175bdb57297b2b289973f819863d6c9d09c236725676914f4248c9a2404c2a4");
        assert_string_equal(js(c.json, "firmware_version"), "2016051100162800");
        assert_int_equal(json_integer_value(json_object_get(c.json, "reset_count")), 10);
        assert_true(json_is_true(json_object_get(c.json, "ak_certified")));
        const json_t *bank = json_object_get(json_object_get(c.json, "pcrs"), banks[b]);
        assert_int_equal(json_object_size(bank), 24);
        if (b == 1) {
            assert_string_equal(js(bank, "0"), pcr0[1]);
            assert_string_equal(js(bank, "4"), "d690bdac2aa8b73a1d718cb91990df07d0747b07ea57b3b2d0f0d511f0d90491");
            assert_string_equal(js(bank, "7"), "3365d7fa2b024c852913c06e04ffbfa6ea5289f743bbf1a76f7ffdf21ed84793");
            assert_string_equal(js(bank, "8"), "9e9b6511ae6ad443aae4c7bf998ffffbcd271c874f1efab9d692f129eb6e6c18");
            assert_string_equal(js(bank, "9"), "e01c8cf808763422c5ede2cdb34595b92bd7d06b8bbd6014b54d2e95b14b0963");
        }
        /* the log replays PCR 0..9 of this bank */
        assert_int_equal(json_integer_value(json_object_get(c.json, "eventlog_pcrs_compared")), 10);
        const json_t *checks = json_object_get(c.json, "checks");
        assert_int_equal(json_array_size(checks), 6); /* format, chain, sig, digest, log, binding */
        attest_claims_free(&c);

        /* wrong nonce */
        static const uint8_t other[2] = {0x90, 0x08};
        assert_int_equal(attest_verify(&ev, &tr, other, 2, &c, &err), CAIRN_ERR_VERIFY);
        assert_non_null(strstr(err.msg, "binding"));
        gce_free(&g);
    }
}

static void test_gce_chain(void **state)
{
    (void)state;
    NEED_SHARED();
    struct gce g;
    gce_load(&g, "sha256");
    struct attest_evidence ev = gce_ev(&g);
    struct attest_claims c;
    struct cairn_error err = {0};
    /* intermediate passed inside the attestation (PEM leaf + intermediate) */
    const unsigned char *q = g.akcert;
    X509 *leaf = d2i_X509(NULL, &q, (long)g.akcert_n);
    char *lp = cert_pem(leaf), *ip = cert_pem(sk_X509_value(g.inters, 0));
    size_t bl = strlen(lp) + strlen(ip) + 64;
    char *bundle = malloc(bl);
    snprintf(bundle, bl, "%s%s", lp, ip);
    ev.certs = (const uint8_t *)bundle;
    ev.certs_len = strlen(bundle);
    struct attest_trust tr = {.tpm_roots = g.roots};
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), 0);
    attest_claims_free(&c);
    /* intermediate first, AK certificate second: found by its key */
    snprintf(bundle, bl, "%s%s", ip, lp);
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), 0);
    attest_claims_free(&c);
    snprintf(bundle, bl, "%s%s", lp, ip);
    /* without any intermediate: no chain (with the cache on, a leaf already
     * verified against the same roots needs no intermediate again) */
    ev.certs = g.akcert;
    ev.certs_len = g.akcert_n;
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), 0);
    attest_claims_free(&c);
    tpm_chain_cache_set(false);
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "AK certificate chain"));
    tpm_chain_cache_set(true);
    /* malformed intermediate in the attestation: error, not ignored */
    snprintf(bundle, bl, "%s-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n", lp);
    ev.certs = (const uint8_t *)bundle;
    ev.certs_len = strlen(bundle);
    assert_int_not_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), 0);
    /* AK certificate expired (valid until 2051-08-24) */
    ev.certs = g.akcert;
    ev.certs_len = g.akcert_n;
    tr.intermediates = g.inters;
    tr.at = t_of("2052-01-01T00:00:00Z");
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), CAIRN_ERR_EXPIRED);
    tr.at = 0;
    /* certificate alone (no TPMT_PUBLIC): the AK is its key */
    ev.ak_pub = NULL;
    ev.ak_pub_len = 0;
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), 0);
    assert_null(json_object_get(c.json, "ak_name"));
    attest_claims_free(&c);
    /* AK TPMT_PUBLIC not matching the certificate */
    size_t an;
    uint8_t *wpub = load("tpm/goatt_windows.ak_pub.tpmt_public", &an);
    ev.ak_pub = wpub;
    ev.ak_pub_len = an;
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "not the AK"));
    free(wpub);

    /* policy: PCRs and AKRoots */
    ev = gce_ev(&g);
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), 0);
    struct tee_package p = {.tee = ATTEST_TPM};
    p.n_pcrs = 2;
    p.pcrs = calloc(2, sizeof(*p.pcrs));
    p.pcrs[0].bank = strdup("sha256");
    p.pcrs[0].index = 0;
    p.pcrs[0].value_hex = strdup("0F35C214608D93C7A6E68AE7359B4A8BE5A0E99EEA9107ECE427C4DEA4E439CF");
    p.pcrs[1].bank = strdup("sha256");
    p.pcrs[1].index = 9;
    p.pcrs[1].value_hex = strdup("e01c8cf808763422c5ede2cdb34595b92bd7d06b8bbd6014b54d2e95b14b0963");
    assert_int_equal(tpm_policy_match(&p, &c, &err), 0);
    p.pcrs[1].value_hex[0] = 'f';
    assert_int_equal(tpm_policy_match(&p, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "PCRs.sha256.9 mismatch"));
    p.pcrs[1].value_hex[0] = 'e';
    free(p.pcrs[1].bank);
    p.pcrs[1].bank = strdup("sha1");
    assert_int_equal(tpm_policy_match(&p, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "not in the quote"));
    free(p.pcrs[1].bank);
    p.pcrs[1].bank = strdup("sha256");
    /* AKRoots: the GCE root accepts, the Intel SGX root does not */
    p.n_ak_roots = 1;
    p.ak_roots_pem = calloc(1, sizeof(char *));
    p.ak_roots_pem[0] = cert_pem(sk_X509_value(g.roots, 0));
    assert_int_equal(tpm_policy_match(&p, &c, &err), 0);
    free(p.ak_roots_pem[0]);
    size_t in;
    uint8_t *intel = load("roots/intel_sgx_root_ca.pem", &in);
    p.ak_roots_pem[0] = strndup((const char *)intel, in);
    free(intel);
    assert_int_equal(tpm_policy_match(&p, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "AKRoots"));
    attest_claims_free(&c);
    /* AKRoots when the evidence has no AK certificate */
    ev.certs = NULL;
    ev.certs_len = 0;
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), 0);
    assert_false(json_is_true(json_object_get(c.json, "ak_certified")));
    assert_int_equal(tpm_policy_match(&p, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "no AK certificate"));
    attest_claims_free(&c);
    tee_package_free(&p);
    free(bundle);
    free(lp);
    free(ip);
    X509_free(leaf);
    gce_free(&g);
}

static void test_windows_sha1(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t qn, sn, an, pn, ln;
    uint8_t *q = load("tpm/goatt_windows.quote.tpms_attest", &qn), *s = load("tpm/goatt_windows.quote.tpmt_signature", &sn);
    uint8_t *a = load("tpm/goatt_windows.ak_pub.tpmt_public", &an), *p = load("tpm/goatt_windows.pcrs_sha1.json", &pn);
    uint8_t *l = load("tpm/goatt_windows.eventlog.bin", &ln);
    struct attest_evidence ev = {.type = ATTEST_TPM, .quote = q, .quote_len = qn, .signature = s, .signature_len = sn,
                                 .ak_pub = a, .ak_pub_len = an, .pcrs = p, .pcrs_len = pn, .eventlog = l,
                                 .eventlog_len = ln};
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = attest_verify(&ev, NULL, NULL, 0, &c, &err);
    if (rc != 0)
        print_message("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(js(c.json, "hash_alg"), "sha1");
    assert_string_equal(js(c.json, "nonce"), "");
    assert_string_equal(js(c.json, "ak_name"), "000b4ce9b151f75089d74c15dabe9d520cffafbcafd5d43be0aad2e2d88d54717e2e");
    const json_t *bank = json_object_get(json_object_get(c.json, "pcrs"), "sha1");
    assert_string_equal(js(bank, "0"), "51c323de0c0c694f4601cdd02beb58ff13629f74");
    assert_string_equal(js(bank, "7"), "859a5877266b5c909613468091a73380a5386786");
    assert_true(json_integer_value(json_object_get(c.json, "eventlog_pcrs_compared")) >= 8);
    assert_false(json_is_true(json_object_get(c.json, "ak_certified")));
    attest_claims_free(&c);
    /* the GCE log is from another machine: its replay contradicts the quote */
    size_t gn;
    uint8_t *glog = load("tpm/gotpm_eventlog_debian-10.bin", &gn);
    ev.eventlog = glog;
    ev.eventlog_len = gn;
    assert_int_equal(attest_verify(&ev, NULL, NULL, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "replays to"));
    free(glog);
    ev.eventlog = l;
    ev.eventlog_len = ln;
    /* an AK that is not a restricted signing key is refused (attributes at offset 4) */
    a[5] &= (uint8_t)~0x01; /* clear TPMA_OBJECT_RESTRICTED (bit 16) */
    assert_int_equal(attest_verify(&ev, NULL, NULL, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "restricted"));
    a[5] |= 0x01;
    free(q);
    free(s);
    free(a);
    free(p);
    free(l);
}

static void test_azure_vtpm(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t qn, sn, an, pn;
    uint8_t *q = load("tpm/azure_genoa_tpm-quote.tpms_attest", &qn);
    uint8_t *s = load("tpm/azure_genoa_tpm-quote.rsassa_sha256.sig", &sn);
    uint8_t *a = load("tpm/azure_genoa_akpub.pem", &an), *p = load("tpm/azure_genoa_tpm-quote.pcrs.json", &pn);
    struct attest_evidence ev = {.type = ATTEST_TPM, .quote = q, .quote_len = qn, .signature = s, .signature_len = sn,
                                 .ak_pub = a, .ak_pub_len = an, .pcrs = p, .pcrs_len = pn};
    uint8_t nonce[48];
    assert_int_equal(cairn_hex_decode_exact("0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938c"
                                            "a05475f8b46094de6b64270ea35d950f",
                                            nonce, 48),
                     0);
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = attest_verify(&ev, NULL, nonce, 48, &c, &err);
    if (rc != 0)
        print_message("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(js(json_object_get(json_object_get(c.json, "pcrs"), "sha256"), "0"),
                        "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338");
    assert_string_equal(js(c.json, "firmware_version"), "2020031200120003");
    attest_claims_free(&c);
    /* signature byte flipped */
    s[100] ^= 1;
    assert_int_equal(attest_verify(&ev, NULL, nonce, 48, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "signature"));
    s[100] ^= 1;
    /* a PCR value changed in the JSON: pcrDigest fails */
    char *pc = strndup((const char *)p, pn);
    char *hit = strstr(pc, "afd689d0");
    hit[0] = 'b';
    ev.pcrs = (const uint8_t *)pc;
    assert_int_equal(attest_verify(&ev, NULL, nonce, 48, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "pcrDigest"));
    /* a PCR missing from the JSON */
    hit[0] = 'a';
    char *zero = strstr(pc, "\"0\":");
    zero[1] = 'x';
    assert_int_equal(attest_verify(&ev, NULL, nonce, 48, &c, &err), CAIRN_ERR_INVALID);
    free(pc);
    ev.pcrs = p;
    /* the wrong AK */
    size_t gn;
    uint8_t *gak = load("tpm/gce_cos85_nonce9009.ak_pub.tpmt_public", &gn);
    ev.ak_pub = gak;
    ev.ak_pub_len = gn;
    assert_int_equal(attest_verify(&ev, NULL, nonce, 48, &c, &err), CAIRN_ERR_VERIFY);
    free(gak);
    free(q);
    free(s);
    free(a);
    free(p);
}

/* trustee test_evaluate_genoa, composed: HCL report -> SNP report verified
 * and bound to SHA-256(runtime data) -> the vTPM AK from that runtime data
 * -> the TPM quote verified with it and the expected nonce -> PCR0. */
static void test_azure_hcl_composite(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t hn, rn, jn, vn, an, qn, sn, pn;
    uint8_t *hcl = load("snp/azure_genoa_hcl-report.bin", &hn), *rep = load("snp/azure_genoa_snp_report.bin", &rn);
    uint8_t *rt = load("tpm/azure_genoa_hcl_runtime_data.json", &jn), *vcek = load("snp/azure_genoa_vcek.pem", &vn);
    uint8_t *akpem = load("tpm/azure_genoa_akpub.pem", &an), *q = load("tpm/azure_genoa_tpm-quote.tpms_attest", &qn);
    uint8_t *s = load("tpm/azure_genoa_tpm-quote.rsassa_sha256.sig", &sn);
    uint8_t *p = load("tpm/azure_genoa_tpm-quote.pcrs.json", &pn);
    struct azure_hcl h;
    struct cairn_error err = {0};
    assert_int_equal(azure_hcl_parse(hcl, hn, &h, &err), 0);
    assert_int_equal(h.report_type, AZURE_HCL_SNP);
    assert_int_equal(h.hw_report_len, rn);
    assert_memory_equal(h.hw_report, rep, rn);
    assert_int_equal(h.runtime_data_len, jn);
    assert_memory_equal(h.runtime_data, rt, jn);
    /* SNP report bound to the runtime data */
    uint8_t bind[32];
    unsigned int bl = 0;
    EVP_Digest(h.runtime_data, h.runtime_data_len, bind, &bl, EVP_sha256(), NULL);
    struct attest_evidence sev = {.type = ATTEST_SNP, .quote = h.hw_report, .quote_len = h.hw_report_len,
                                  .certs = vcek, .certs_len = vn};
    struct attest_claims c;
    assert_int_equal(attest_verify(&sev, NULL, bind, 32, &c, &err), 0);
    attest_claims_free(&c);
    /* the AK in the runtime data is the one of the quote */
    char *pem = NULL;
    assert_int_equal(azure_hcl_jwk_pem(&h, "HCLAkPub", &pem, &err), 0);
    BIO *b = BIO_new_mem_buf(akpem, (int)an);
    EVP_PKEY *ref = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *ak = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_int_equal(EVP_PKEY_eq(ak, ref), 1);
    size_t pl = strlen(pem);
    uint8_t nonce[48];
    assert_int_equal(cairn_hex_decode_exact("0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938c"
                                            "a05475f8b46094de6b64270ea35d950f",
                                            nonce, 48),
                     0);
    struct attest_evidence tev = {.type = ATTEST_TPM, .quote = q, .quote_len = qn, .signature = s, .signature_len = sn,
                                  .ak_pub = (const uint8_t *)pem, .ak_pub_len = (size_t)pl, .pcrs = p, .pcrs_len = pn};
    assert_int_equal(attest_verify(&tev, NULL, nonce, 48, &c, &err), 0);
    assert_string_equal(js(json_object_get(json_object_get(c.json, "pcrs"), "sha256"), "0"),
                        "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338");
    attest_claims_free(&c);
    free(pem);
    /* a changed runtime byte (e.g. another AK) breaks the SNP binding */
    uint8_t *hcl2 = malloc(hn);
    memcpy(hcl2, hcl, hn);
    hcl2[0x4D4 + 100] ^= 1;
    struct azure_hcl h2;
    assert_int_equal(azure_hcl_parse(hcl2, hn, &h2, &err), 0);
    EVP_Digest(h2.runtime_data, h2.runtime_data_len, bind, &bl, EVP_sha256(), NULL);
    assert_int_equal(attest_verify(&sev, NULL, bind, 32, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "binding"));
    /* format errors */
    memcpy(hcl2, hcl, hn);
    hcl2[0] = 'X';
    assert_int_equal(azure_hcl_parse(hcl2, hn, &h2, &err), CAIRN_ERR_INVALID);
    hcl2[0] = 'H';
    hcl2[0x4C8] = 4; /* TDX, but the area holds an SNP report, not a TDREPORT */
    assert_int_equal(azure_hcl_parse(hcl2, hn, &h2, &err), CAIRN_ERR_INVALID);
    hcl2[0x4C8] = 3;
    assert_int_equal(azure_hcl_parse(hcl2, hn, &h2, &err), CAIRN_ERR_UNSUPPORTED);
    hcl2[0x4C8] = 2;
    hcl2[0x4D2] = 0x10; /* variable_data_size ~1 MiB */
    assert_int_equal(azure_hcl_parse(hcl2, hn, &h2, &err), CAIRN_ERR_TRUNCATED);
    hcl2[0x4D2] = hcl[0x4D2];
    assert_int_equal(azure_hcl_parse(hcl2, 0x4D0, &h2, &err), CAIRN_ERR_TRUNCATED);
    free(hcl2);
    EVP_PKEY_free(ak);
    EVP_PKEY_free(ref);
    free(hcl);
    free(rep);
    free(rt);
    free(vcek);
    free(akpem);
    free(q);
    free(s);
    free(p);
}

static void test_attest_mutations(void **state)
{
    (void)state;
    NEED_SHARED();
    struct gce g;
    gce_load(&g, "sha256");
    struct attest_evidence ev = gce_ev(&g);
    ev.eventlog = NULL;
    ev.eventlog_len = 0;
    struct attest_trust tr = {.tpm_roots = g.roots, .intermediates = g.inters};
    struct attest_claims c;
    struct cairn_error err = {0};
    struct tpm_attest a;
    assert_int_equal(tpm_attest_parse(g.quote, g.quote_n, &a, &err), 0);
    assert_int_equal(a.n_sel, 1);
    assert_int_equal(a.sel[0].alg, TPM_ALG_SHA256);
    assert_int_equal(a.sel[0].mask, 0xFFFFFF);
    assert_int_equal(a.extra_data_len, 2);
    /* every truncation fails; so does a trailing byte */
    for (size_t k = 0; k < g.quote_n; k++)
        assert_int_not_equal(tpm_attest_parse(g.quote, k, &a, &err), 0);
    uint8_t *big = calloc(1, g.quote_n + 1);
    memcpy(big, g.quote, g.quote_n);
    assert_int_equal(tpm_attest_parse(big, g.quote_n + 1, &a, &err), CAIRN_ERR_TRAILING);
    free(big);
    /* magic and type */
    g.quote[0] ^= 1;
    assert_int_equal(tpm_attest_parse(g.quote, g.quote_n, &a, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "magic"));
    g.quote[0] ^= 1;
    g.quote[5] = 0x17; /* TPM_ST_ATTEST_CERTIFY */
    assert_int_equal(tpm_attest_parse(g.quote, g.quote_n, &a, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "type"));
    g.quote[5] = 0x18;
    /* one bit flipped in every byte: never accepted */
    int fails = 0;
    for (size_t i = 0; i < g.quote_n; i++) {
        g.quote[i] ^= (uint8_t)(1u << (i % 8));
        int rc = attest_verify(&ev, &tr, NULL, 0, &c, &err);
        g.quote[i] ^= (uint8_t)(1u << (i % 8));
        if (rc == 0)
            attest_claims_free(&c);
        else
            fails++;
    }
    assert_int_equal(fails, (int)g.quote_n);
    /* every signature byte too */
    fails = 0;
    for (size_t i = 0; i < g.sig_n; i++) {
        g.sig[i] ^= 0x40;
        int rc = attest_verify(&ev, &tr, NULL, 0, &c, &err);
        g.sig[i] ^= 0x40;
        if (rc == 0)
            attest_claims_free(&c);
        else
            fails++;
    }
    assert_int_equal(fails, (int)g.sig_n);
    /* TPMT_SIGNATURE truncated / padded */
    ev.signature_len = g.sig_n - 1;
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), CAIRN_ERR_TRUNCATED);
    uint8_t *sbig = calloc(1, g.sig_n + 1);
    memcpy(sbig, g.sig, g.sig_n);
    ev.signature = sbig;
    ev.signature_len = g.sig_n + 1;
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), CAIRN_ERR_TRAILING);
    free(sbig);
    ev.signature = g.sig;
    ev.signature_len = g.sig_n;
    /* TPMT_PUBLIC truncated and padded */
    ev.ak_pub_len = g.akpub_n - 1;
    assert_int_not_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    ev.ak_pub_len = g.akpub_n;
    /* nothing to verify against */
    ev.ak_pub = NULL;
    ev.certs = NULL;
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no AK"));
    gce_free(&g);
}

/* The binary PCR form: the GCE SHA-384 bank values concatenated (PCR 0..23). */
static void test_pcrs_binary(void **state)
{
    (void)state;
    NEED_SHARED();
    struct gce g;
    gce_load(&g, "sha384");
    json_t *j = json_loadb((const char *)g.pcrs, g.pcrs_n, 0, NULL);
    uint8_t bin[24 * 48];
    for (int i = 0; i < 24; i++) {
        char k[4];
        snprintf(k, sizeof(k), "%d", i);
        assert_int_equal(cairn_hex_decode_exact(json_string_value(json_object_get(json_object_get(j, "pcrs"), k)),
                                                bin + 48 * i, 48),
                         0);
    }
    json_decref(j);
    struct attest_evidence ev = gce_ev(&g);
    ev.pcrs = bin;
    ev.pcrs_len = sizeof(bin);
    struct attest_trust tr = {.tpm_roots = g.roots, .intermediates = g.inters};
    struct attest_claims c;
    struct cairn_error err = {0};
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), 0);
    attest_claims_free(&c);
    ev.pcrs_len = sizeof(bin) - 1;
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), CAIRN_ERR_TRUNCATED);
    bin[5 * 48] ^= 1; /* PCR 5 */
    ev.pcrs_len = sizeof(bin);
    assert_int_equal(attest_verify(&ev, &tr, NONCE9009, 2, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "pcrDigest"));
    gce_free(&g);
}

/* The caches (parsed certificates, AK keys, PCR JSON, verified chains) under
 * concurrent use: 4 threads verify GCE TPM and trustee SNP evidence while
 * the main thread empties the caches repeatedly. Every verification must
 * succeed with the same claims (run under ASan in CI). */
struct thr {
    struct gce *g;
    const uint8_t *rep, *vcek;
    size_t rn, cn;
    int failures;
};

static void *worker(void *arg)
{
    struct thr *t = arg;
    struct attest_evidence tev = gce_ev(t->g);
    struct attest_trust tr = {.tpm_roots = t->g->roots, .intermediates = t->g->inters};
    struct attest_evidence sev = {.type = ATTEST_SNP, .quote = t->rep, .quote_len = t->rn, .certs = t->vcek,
                                  .certs_len = t->cn};
    for (int i = 0; i < 60; i++) {
        struct attest_claims c;
        struct cairn_error err = {0};
        if (attest_verify(&tev, &tr, NONCE9009, 2, &c, &err) != 0)
            t->failures++;
        else if (strcmp(json_string_value(json_object_get(c.json, "ak_name")),
                        "000bf175bdb57297b2b289973f819863d6c9d09c236725676914f4248c9a2404c2a4") != 0 ||
                 !json_is_true(json_object_get(c.json, "ak_certified")))
            t->failures++;
        if (t->failures == 0)
            attest_claims_free(&c);
        if (i % 10 == 0) {
            if (attest_verify(&sev, NULL, NULL, 0, &c, &err) != 0)
                t->failures++;
            else
                attest_claims_free(&c);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    NEED_SHARED();
    struct gce g;
    gce_load(&g, "sha256");
    size_t rn, cn;
    uint8_t *rep = load("snp/trustee_test-report.bin", &rn), *vcek = load("snp/trustee_test-vcek.der", &cn);
    pthread_t th[4];
    struct thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){.g = &g, .rep = rep, .vcek = vcek, .rn = rn, .cn = cn};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &t[i]), 0);
    }
    for (int k = 0; k < 20; k++) {
        tpm_chain_cache_set(k % 2 == 0);
        snp_chain_cache_set(k % 2 == 0);
        usleep(2000);
    }
    tpm_chain_cache_set(true);
    snp_chain_cache_set(true);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].failures, 0);
    }
    free(rep);
    free(vcek);
    gce_free(&g);
}

static void test_pcrs_json(void **state)
{
    (void)state;
    struct tpm_pcr_values *v = malloc(sizeof(*v));
    struct cairn_error err = {0};
    const char *ok = "{\"pcrs\": {\"sha256\": {\"16\": \"" "00000000000000000000000000000000000000000000000000000000000000ff"
                     "\"}, \"sha1\": {\"0\": \"0000000000000000000000000000000000000001\"}}}";
    assert_int_equal(tpm_pcrs_parse_json((const uint8_t *)ok, strlen(ok), v, &err), 0);
    assert_int_equal(v->n_banks, 2);
    const char *bad[] = {
        "{\"hash_alg\": \"sha256\", \"pcrs\": {\"0\": \"00\"}}",
        "{\"hash_alg\": \"md5\", \"pcrs\": {}}",
        "{\"pcrs\": {\"24\": \"0000000000000000000000000000000000000000\"}}",
        "{\"pcrs\": {\"-1\": \"0000000000000000000000000000000000000000\"}}",
        "{\"pcrs\": {\"x\": \"0000000000000000000000000000000000000000\"}}",
        "{\"pcrs\": {\"0\": \"zz00000000000000000000000000000000000000\"}}",
        "{\"pcrs\": {\"sm3\": {\"0\": \"00\"}}}",
        "{\"pcrs\": [1]}",
        "not json",
        "{\"pcrs\": {\"0\": \"00\", \"0\": \"00\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(tpm_pcrs_parse_json((const uint8_t *)bad[i], strlen(bad[i]), v, &err), CAIRN_ERR_INVALID);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gce_cos85),   cmocka_unit_test(test_gce_chain),
        cmocka_unit_test(test_windows_sha1), cmocka_unit_test(test_azure_vtpm),
        cmocka_unit_test(test_attest_mutations), cmocka_unit_test(test_pcrs_json),
        cmocka_unit_test(test_azure_hcl_composite), cmocka_unit_test(test_pcrs_binary),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
