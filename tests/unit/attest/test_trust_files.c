/* trust_files: recognition of every shared supporting file by content, evidence
 * type detection, certificate sorting (built-in roots, --root, refused foreign
 * roots), the dcap-qvl collateral bundle, the CCEL-vs-quote check, and
 * mutations (truncation, bit flips) that must give an error or a different
 * kind but never a crash, a leak or a partially added file. */
#include "test_sgx_util.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include "attest/attest.h"
#include "attest/ccel_check.h"
#include "attest/evidence_detect.h"
#include "attest/trust_files.h"
#include "attest/trust_store.h"

struct kind_case {
    const char *file;
    enum attest_type type;
    enum trust_file_kind kind;
};

static const struct kind_case kinds[] = {
    {"sgx/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json", ATTEST_SGX, TRUST_FILE_TCB_INFO},
    {"sgx/mobilecoin_qe_identity.json", ATTEST_SGX, TRUST_FILE_QE_IDENTITY},
    {"sgx/mobilecoin_tcb_signer.pem", ATTEST_SGX, TRUST_FILE_CERTS},
    {"sgx/mobilecoin_root_ca.pem", ATTEST_SGX, TRUST_FILE_CERTS},
    {"sgx/mobilecoin_processor_ca.pem", ATTEST_SGX, TRUST_FILE_CERTS},
    {"sgx/mobilecoin_root_crl.der", ATTEST_SGX, TRUST_FILE_CRL},
    {"sgx/mobilecoin_processor_crl.der", ATTEST_SGX, TRUST_FILE_CRL},
    {"sgx/steward_icelake_xeon_tcbinfo.json", ATTEST_SGX, TRUST_FILE_TCB_INFO},
    {"sgx/steward_icelake_xeon_tcb_signing_chain.pem", ATTEST_SGX, TRUST_FILE_CERTS},
    {"sgx/steward_icelake_xeon_pckcrl_platform.der", ATTEST_SGX, TRUST_FILE_CRL},
    {"tdx/gotdx_sample_tcbInfo_response.json", ATTEST_TDX, TRUST_FILE_TCB_INFO},
    {"tdx/gotdx_sample_qeIdentity_response.json", ATTEST_TDX, TRUST_FILE_QE_IDENTITY},
    {"tdx/gotdx_sample_tcbinfo_response_v5.json", ATTEST_TDX, TRUST_FILE_TCB_INFO},
    {"tdx/phala_tdx_quote_collateral.json", ATTEST_TDX, TRUST_FILE_QVL_COLLATERAL},
    {"tdx/gotdx_ccel_table.dat", ATTEST_TDX, TRUST_FILE_CCEL_TABLE},
    {"tdx/gotdx_ccel_data.dat", ATTEST_TDX, TRUST_FILE_CCEL},
    {"tdx/trustee_ccel_ovmf.bin", ATTEST_TDX, TRUST_FILE_CCEL},
    {"tdx/trustee_ccel_grub_gke.bin", ATTEST_TDX, TRUST_FILE_CCEL},
    {"tdx/trustee_CCEL_data", ATTEST_TDX, TRUST_FILE_CCEL},
    {"tdx/gotdx_nonce.dat", ATTEST_TDX, TRUST_FILE_NONCE},
    {"tdx/gotdx_rootcrl.der", ATTEST_TDX, TRUST_FILE_CRL},
    {"snp/gosev_vcek.der", ATTEST_SNP, TRUST_FILE_CERTS},
    {"snp/azure_genoa_vcek.pem", ATTEST_SNP, TRUST_FILE_CERTS},
    {"snp/virtee_cert_chain_milan.pem", ATTEST_SNP, TRUST_FILE_CERTS},
    {"roots/amd_milan_crl_2022-05-09.der", ATTEST_SNP, TRUST_FILE_CRL},
    {"tpm/gce_cos85_nonce9009.quote_sha256.tpmt_signature", ATTEST_TPM, TRUST_FILE_TPM_SIGNATURE},
    {"tpm/goatt_windows.quote.tpmt_signature", ATTEST_TPM, TRUST_FILE_TPM_SIGNATURE},
    {"tpm/azure_genoa_tpm-quote.rsassa_sha256.sig", ATTEST_TPM, TRUST_FILE_TPM_SIGNATURE},
    {"tpm/gce_cos85_nonce9009.ak_pub.tpmt_public", ATTEST_TPM, TRUST_FILE_TPM_PUBLIC},
    {"tpm/goatt_windows.ak_pub.tpmt_public", ATTEST_TPM, TRUST_FILE_TPM_PUBLIC},
    {"tpm/azure_genoa_akpub.pem", ATTEST_TPM, TRUST_FILE_PUBKEY_PEM},
    {"tpm/gce_cos85_nonce9009.ak_cert.der", ATTEST_TPM, TRUST_FILE_CERTS},
    {"tpm/gce_cos85_nonce9009.quote_sha1.pcrs.json", ATTEST_TPM, TRUST_FILE_PCRS},
    {"tpm/azure_genoa_tpm-quote.pcrs.json", ATTEST_TPM, TRUST_FILE_PCRS},
    {"tpm/gce_cos85_nonce9009.eventlog.bin", ATTEST_TPM, TRUST_FILE_EVENTLOG},
    {"tpm/goatt_windows.eventlog.bin", ATTEST_TPM, TRUST_FILE_EVENTLOG},
    {"tpm/gotpm_eventlog_debian-10.bin", ATTEST_TPM, TRUST_FILE_EVENTLOG},
    {"tpm/gotpm_eventlog_gdc-host.bin", ATTEST_TPM, TRUST_FILE_EVENTLOG},
    {"tpm/gotpm_eventlog_rhel8-uefi.bin", ATTEST_TPM, TRUST_FILE_EVENTLOG},
    {"roots/gce_tpm_ek_intermediate_2.der", ATTEST_TPM, TRUST_FILE_CERTS},
};

static void test_classify_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t n;
        uint8_t *p = tv_load(kinds[i].file, &n);
        enum trust_file_kind k = TRUST_FILE_UNKNOWN;
        struct cairn_error err = {0};
        int rc = trust_file_classify(p, n, kinds[i].type, &k, &err);
        if (rc != 0 || k != kinds[i].kind)
            fprintf(stderr, "%s: rc %d kind %s (%s), want %s\n", kinds[i].file, rc, trust_file_kind_name(k), err.msg,
                    trust_file_kind_name(kinds[i].kind));
        assert_int_equal(rc, 0);
        assert_int_equal(k, kinds[i].kind);
        free(p);
    }
}

/* Unrecognisable content names what it is not. */
static void test_classify_unknown(void **state)
{
    (void)state;
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(0xA5 ^ (i * 7));
    enum trust_file_kind k = TRUST_FILE_UNKNOWN;
    struct cairn_error err = {0};
    assert_int_equal(trust_file_classify(junk, sizeof(junk), ATTEST_SGX, &k, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "not recognised"));
    assert_int_equal(k, TRUST_FILE_UNKNOWN);
    const char *json = "{\"hello\": 1}";
    assert_int_equal(trust_file_classify((const uint8_t *)json, strlen(json), ATTEST_TPM, &k, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "none of the keys"));
    const char *pem = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert_int_equal(trust_file_classify((const uint8_t *)pem, strlen(pem), ATTEST_TPM, &k, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "RSA PRIVATE KEY"));
    const char *bad = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert_int_equal(trust_file_classify((const uint8_t *)bad, strlen(bad), ATTEST_SNP, &k, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "does not decode"));
    assert_int_equal(trust_file_classify(NULL, 0, ATTEST_SNP, &k, &err), CAIRN_ERR_INVALID);
}

static const struct {
    const char *file;
    enum attest_type type;
} evidence[] = {
    {"sgx/mobilecoin_hw_quote.dat", ATTEST_SGX},     {"sgx/mcsgx_hw_quote.dat", ATTEST_SGX},
    {"sgx/trustee_occlum_quote.dat", ATTEST_SGX},    {"sgx/steward_icelake_xeon_quote.dat", ATTEST_SGX},
    {"tdx/gotdx_tdx_prod_quote_SPR_E4.dat", ATTEST_TDX}, {"tdx/gotdx_cos-113-tdx-quote.dat", ATTEST_TDX},
    {"tdx/gotdx_quote_v5_sample.dat", ATTEST_TDX},   {"tdx/trustee_tdx_quote_4.dat", ATTEST_TDX},
    {"tdx/trustee_tdx_quote_5.dat", ATTEST_TDX},     {"tdx/phala_tdx_quote.bin", ATTEST_TDX},
    {"snp/gosev_attestation.bin", ATTEST_SNP},       {"snp/trustee_test-report.bin", ATTEST_SNP},
    {"snp/virtee_report_milan.bin", ATTEST_SNP},     {"snp/constellation_aws_vlek_report.bin", ATTEST_SNP},
    {"snp/azure_genoa_snp_report.bin", ATTEST_SNP},  {"tpm/gce_cos85_nonce9009.quote_sha1.tpms_attest", ATTEST_TPM},
    {"snp/azure_genoa_hcl-report.bin", ATTEST_SNP},
    {"tpm/goatt_windows.quote.tpms_attest", ATTEST_TPM}, {"tpm/azure_genoa_tpm-quote.tpms_attest", ATTEST_TPM},
};

static void test_detect_evidence(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(evidence) / sizeof(evidence[0]); i++) {
        size_t n;
        uint8_t *p = tv_load(evidence[i].file, &n);
        enum attest_type t = ATTEST_SIM;
        struct cairn_error err = {0};
        assert_int_equal(trust_evidence_detect(p, n, &t, &err), 0);
        assert_int_equal(t, evidence[i].type);
        /* a wrong version / TEE type / magic is not guessed at */
        p[evidence[i].type == ATTEST_TPM || n == 2600 ? 0 : 0x4] ^= 0x40; /* HCL: the magic */
        if (evidence[i].type == ATTEST_SNP)
            p[0x34] ^= 0x01; /* signature algorithm */
        t = ATTEST_SIM;
        assert_int_equal(trust_evidence_detect(p, n, &t, &err), CAIRN_ERR_INVALID);
        assert_int_equal(t, ATTEST_SIM);
        assert_non_null(strstr(err.msg, "cannot tell the type"));
        free(p);
    }
    /* MarbleRun's OE header in front of an SGX quote */
    size_t n;
    uint8_t *q = tv_load("sgx/trustee_occlum_quote.dat", &n);
    uint8_t *oe = malloc(n + 16);
    const uint8_t hdr[16] = {1, 0, 0, 0, 2, 0, 0, 0, (uint8_t)n, (uint8_t)(n >> 8), 0, 0, 0, 0, 0, 0};
    memcpy(oe, hdr, 16);
    memcpy(oe + 16, q, n);
    enum attest_type t;
    assert_int_equal(trust_evidence_detect(oe, n + 16, &t, NULL), 0);
    assert_int_equal(t, ATTEST_SGX);
    /* every truncation of a quote header is refused without reading past it */
    for (size_t k = 0; k < 64; k++) {
        uint8_t *c = malloc(k ? k : 1);
        memcpy(c, q, k);
        int rc = trust_evidence_detect(c, k, &t, NULL);
        assert_true(k >= 48 ? rc == 0 : rc == CAIRN_ERR_INVALID);
        free(c);
    }
    free(oe);
    free(q);
}

static void test_decode_text(void **state)
{
    (void)state;
    size_t hn, bn, rn;
    uint8_t *hex = tv_load("snp/virtee_report_milan.hex", &hn);
    uint8_t *raw = tv_load("snp/virtee_report_milan.bin", &rn);
    uint8_t *d = NULL;
    size_t dn = 0;
    assert_int_equal(trust_evidence_decode_text(hex, hn, &d, &dn), 1);
    assert_int_equal(dn, rn);
    assert_memory_equal(d, raw, rn);
    free(d);
    uint8_t *b64 = tv_load("snp/constellation_aws_vlek_report.b64", &bn);
    uint8_t *vraw = tv_load("snp/constellation_aws_vlek_report.bin", &rn);
    assert_int_equal(trust_evidence_decode_text(b64, bn, &d, &dn), 1);
    assert_int_equal(dn, rn);
    assert_memory_equal(d, vraw, rn);
    free(d);
    /* binary evidence is left alone; non-text is not decoded */
    assert_int_equal(trust_evidence_decode_text(raw, 1184, &d, &dn), 0);
    const uint8_t odd[] = "abc";
    assert_int_equal(trust_evidence_decode_text(odd, 3, &d, &dn), 0);
    free(hex);
    free(raw);
    free(b64);
    free(vraw);
}

/* A self-signed certificate of our own: refused among supporting files,
 * trusted with --root. */
static uint8_t *own_root_der(size_t *len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"Not Intel SGX Root CA", -1, -1, 0);
    X509_set_issuer_name(x, nm);
    X509_set_pubkey(x, k);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    assert_true(n > 0);
    uint8_t *out = malloc((size_t)n);
    memcpy(out, der, (size_t)n);
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(k);
    *len = (size_t)n;
    return out;
}

static size_t n_files(const struct trust_files *tf)
{
    json_t *d = trust_files_describe(tf);
    size_t n = json_array_size(d);
    json_decref(d);
    return n;
}

static void test_roots(void **state)
{
    (void)state;
    size_t rn, in;
    uint8_t *intel = tv_load("roots/intel_sgx_root_ca.der", &in); /* first: it may skip */
    uint8_t *root = own_root_der(&rn);
    struct trust_files *tf = trust_files_new(ATTEST_SGX);
    assert_non_null(tf);
    struct cairn_error err = {0};
    enum trust_file_kind k;
    assert_int_equal(trust_files_add(tf, "own.der", root, rn, TRUST_FILE_UNKNOWN, &k, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "not built in; pass it with --root"));
    assert_non_null(strstr(err.msg, "Not Intel SGX Root CA"));
    assert_int_equal(n_files(tf), 0);
    /* the built-in Intel root is accepted and adds no trust anchor */
    assert_int_equal(trust_files_add(tf, "intel.der", intel, in, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(k, TRUST_FILE_CERTS);
    size_t qn;
    uint8_t *q = tv_load("sgx/trustee_occlum_quote.dat", &qn);
    assert_int_equal(trust_files_set_evidence(tf, q, qn, &err), 0);
    struct attest_evidence ev;
    struct attest_trust tr;
    assert_int_equal(trust_files_build(tf, 0, &ev, &tr, &err), 0);
    assert_null(tr.intel_roots);
    assert_int_equal(ev.type, ATTEST_SGX);
    assert_int_equal(ev.quote_len, qn);
    /* with --root our own root replaces the built-in one: the Intel quote
     * then no longer chains */
    assert_int_equal(trust_files_add(tf, "own.der", root, rn, TRUST_FILE_ROOTS, &k, &err), 0);
    assert_int_equal(trust_files_build(tf, tv_time("2024-06-01T00:00:00Z"), &ev, &tr, &err), 0);
    assert_non_null(tr.intel_roots);
    assert_int_equal(sk_X509_num(tr.intel_roots), 1);
    struct attest_claims c = {0};
    assert_int_not_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    assert_non_null(strstr(err.msg, "pck chain"));
    /* a non-self-signed certificate is no root */
    size_t vn;
    uint8_t *vcek = tv_load("snp/gosev_vcek.der", &vn);
    assert_int_equal(trust_files_add(tf, "vcek.der", vcek, vn, TRUST_FILE_ROOTS, &k, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "must be self-signed"));
    trust_files_free(tf);
    free(vcek);
    free(q);
    free(root);
    free(intel);
}

/* Where certificates go for SNP and TPM, and the one-leaf rule. */
static void test_sorting(void **state)
{
    (void)state;
    struct cairn_error err = {0};
    enum trust_file_kind k;
    size_t n1, n2, n3, n4;
    uint8_t *vcek = tv_load("snp/gosev_vcek.der", &n1);
    uint8_t *chain = tv_load("roots/amd_milan_ask_ark_asvk.pem", &n2);
    uint8_t *other = tv_load("snp/trustee_test-vcek.der", &n3);
    uint8_t *rep = tv_load("snp/gosev_attestation.bin", &n4);
    struct trust_files *tf = trust_files_new(ATTEST_SNP);
    assert_int_equal(trust_files_add(tf, "vcek", vcek, n1, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(trust_files_add(tf, "chain", chain, n2, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(trust_files_add(tf, "other", other, n3, TRUST_FILE_UNKNOWN, &k, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "second leaf"));
    assert_int_equal(n_files(tf), 2);
    assert_int_equal(trust_files_set_evidence(tf, rep, n4, &err), 0);
    struct attest_evidence ev;
    struct attest_trust tr;
    assert_int_equal(trust_files_build(tf, tv_time("2023-01-01T00:00:00Z"), &ev, &tr, &err), 0);
    assert_null(tr.amd_roots);                      /* the ARK is built in */
    assert_int_equal(sk_X509_num(tr.amd_intermediates), 2); /* ASK, ASVK */
    assert_non_null(ev.certs);
    assert_non_null(strstr((const char *)ev.certs, "BEGIN CERTIFICATE"));
    struct attest_claims c = {0};
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    assert_string_equal(claim_str(c.json, "measurement"),
                        "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01");
    attest_claims_free(&c);
    /* a TPM-only file is refused for SNP evidence */
    size_t sn;
    uint8_t *sig = tv_load("tpm/gce_cos85_nonce9009.quote_sha256.tpmt_signature", &sn);
    assert_int_equal(trust_files_add(tf, "sig", sig, sn, TRUST_FILE_UNKNOWN, &k, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "not used with snp evidence"));
    trust_files_free(tf);

    /* TPM: AK certificate = leaf, GCE intermediate, a second signature refused */
    tf = trust_files_new(ATTEST_TPM);
    size_t an, in;
    uint8_t *akc = tv_load("tpm/gce_cos85_nonce9009.ak_cert.der", &an);
    uint8_t *inter = tv_load("roots/gce_tpm_ek_intermediate_2.der", &in);
    assert_int_equal(trust_files_add(tf, "sig", sig, sn, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(trust_files_add(tf, "sig2", sig, sn, TRUST_FILE_TPM_SIGNATURE, &k, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "a second tpm-signature"));
    assert_int_equal(trust_files_add(tf, "akc", akc, an, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(trust_files_add(tf, "inter", inter, in, TRUST_FILE_UNKNOWN, &k, &err), 0);
    /* --ak given a certificate keeps it a certificate (second leaf refused) */
    assert_int_equal(trust_files_add(tf, "ak", akc, an, TRUST_FILE_TPM_PUBLIC, &k, &err), CAIRN_ERR_INVALID);
    assert_int_equal(trust_files_build(tf, 0, &ev, &tr, &err), CAIRN_ERR_INVALID); /* no evidence yet */
    assert_non_null(strstr(err.msg, "no evidence"));
    trust_files_free(tf);
    free(akc);
    free(inter);
    free(sig);
    free(vcek);
    free(chain);
    free(other);
    free(rep);
}

/* Named kinds must parse as that kind. */
static void test_named_kinds(void **state)
{
    (void)state;
    struct cairn_error err = {0};
    size_t n;
    uint8_t *log = tv_load("tpm/gce_cos85_nonce9009.eventlog.bin", &n);
    struct trust_files *tf = trust_files_new(ATTEST_TPM);
    assert_int_equal(trust_files_add(tf, "log", log, n, TRUST_FILE_PCRS, NULL, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "log (pcrs)"));
    assert_int_equal(trust_files_add(tf, "log", log, 100, TRUST_FILE_EVENTLOG, NULL, &err) != 0, 1);
    assert_int_equal(trust_files_add(tf, "log", log, n, TRUST_FILE_NONCE, NULL, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "expected 1..64"));
    assert_int_equal(trust_files_add(tf, "log", log, n, TRUST_FILE_EVENTLOG, NULL, &err), 0);
    assert_int_equal(n_files(tf), 1);
    free(log);
    trust_files_free(tf);
    tf = trust_files_new(ATTEST_SGX);
    uint8_t *tcb = tv_load("sgx/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json", &n);
    assert_int_equal(trust_files_add(tf, "t", tcb, n, TRUST_FILE_QE_IDENTITY, NULL, &err), CAIRN_ERR_INVALID);
    assert_int_equal(trust_files_add(tf, "t", tcb, n, TRUST_FILE_TCB_INFO, NULL, &err), 0);
    const char *notset = "[{\"tcbInfo\": {}}, {\"enclaveIdentity\": {}}]";
    assert_int_equal(trust_files_add(tf, "mixed", (const uint8_t *)notset, strlen(notset), TRUST_FILE_UNKNOWN, NULL,
                                     &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "not a set"));
    free(tcb);
    trust_files_free(tf);
    assert_null(trust_files_new(ATTEST_SIM));
}

/* The dcap-qvl bundle gives the same verdict as the documents assembled by
 * hand in test_tdx.c: UpToDate at the upstream time, expired later. */
static void test_qvl_bundle(void **state)
{
    (void)state;
    struct cairn_error err = {0};
    size_t qn, cn;
    uint8_t *q = tv_load("tdx/phala_tdx_quote.bin", &qn);
    uint8_t *col = tv_load("tdx/phala_tdx_quote_collateral.json", &cn);
    struct trust_files *tf = trust_files_new(ATTEST_TDX);
    enum trust_file_kind k;
    assert_int_equal(trust_files_add(tf, "col", col, cn, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(k, TRUST_FILE_QVL_COLLATERAL);
    assert_int_equal(trust_files_set_evidence(tf, q, qn, &err), 0);
    struct attest_evidence ev;
    struct attest_trust tr;
    assert_int_equal(trust_files_build(tf, 1752919234, &ev, &tr, &err), 0);
    assert_non_null(tr.tcb_info);
    assert_non_null(tr.qe_identity);
    assert_int_equal(sk_X509_CRL_num(tr.crls), 2);
    tr.require_collateral = true;
    struct attest_claims c = {0};
    int rc = attest_verify(&ev, &tr, NULL, 0, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(claim_str(c.json, "tcb_status"), "UpToDate");
    assert_int_equal(json_array_size(json_object_get(c.json, "advisory_ids")), 0);
    attest_claims_free(&c);
    tr.at = tv_time("2026-11-01T00:00:00Z");
    assert_int_not_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    /* a bundle whose signed TCB info text was changed fails its signature */
    char *t = (char *)col;
    char *hit = strstr(t, "tcbEvaluationDataNumber\\\":17");
    assert_non_null(hit);
    hit[strlen("tcbEvaluationDataNumber\\\":1")] = '6';
    struct trust_files *tf2 = trust_files_new(ATTEST_TDX);
    assert_int_equal(trust_files_add(tf2, "col", col, cn, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(trust_files_set_evidence(tf2, q, qn, &err), 0);
    assert_int_equal(trust_files_build(tf2, 1752919234, &ev, &tr, &err), 0);
    assert_int_not_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    assert_non_null(strstr(err.msg, "tcb info: signature does not verify"));
    /* a bundle without its signatures is refused when added */
    const char *nosig = "{\"tcb_info\": \"{}\", \"qe_identity\": \"{}\"}";
    trust_files_free(tf2);
    tf2 = trust_files_new(ATTEST_TDX);
    assert_int_equal(trust_files_add(tf2, "x", (const uint8_t *)nosig, strlen(nosig), TRUST_FILE_UNKNOWN, &k, &err),
                     CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "tcb_info_signature"));
    assert_int_equal(n_files(tf2), 0);
    trust_files_free(tf2);
    trust_files_free(tf);
    free(q);
    free(col);
}

/* go-tdx-guest TestReplayCcelWithTdQuote: RTMR0..2 replay to the quote. */
static void test_ccel_check(void **state)
{
    (void)state;
    struct cairn_error err = {0};
    size_t qn, dn, tn;
    uint8_t *q = tv_load("tdx/gotdx_cos-113-tdx-quote.dat", &qn);
    uint8_t *data = tv_load("tdx/gotdx_ccel_data.dat", &dn);
    uint8_t *table = tv_load("tdx/gotdx_ccel_table.dat", &tn);
    struct attest_evidence ev = {.type = ATTEST_TDX, .quote = q, .quote_len = qn};
    struct attest_trust tr = {.at = tv_time("2025-01-01T00:00:00Z")};
    struct attest_claims c = {0};
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    assert_int_equal(trust_ccel_check(table, tn, data, dn, c.json, &err), 0);
    assert_int_equal(claim_int(c.json, "ccel_rtmrs_compared"), 3);
    assert_true(claim_has_check(c.json, "ccel_replay"));
    /* without the table: the same */
    assert_int_equal(trust_ccel_check(NULL, 0, data, dn, c.json, &err), 0);
    /* a quote whose RTMR1 differs is refused, naming RTMR1 and both values */
    char r1[97];
    snprintf(r1, sizeof(r1), "%s", claim_str(c.json, "rtmr1"));
    r1[0] = r1[0] == '0' ? '1' : '0';
    json_object_set_new(c.json, "rtmr1", json_string(r1));
    assert_int_equal(trust_ccel_check(table, tn, data, dn, c.json, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "RTMR1 is f62dbc07"));
    /* a flipped digest byte in the log changes RTMR0 */
    attest_claims_free(&c);
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    /* first TCG_PCR_EVENT2 after the 32-byte header record and its Spec ID
     * event: index, type, count, algId, then the SHA-384 digest */
    size_t first = 32 + (size_t)(data[28] | data[29] << 8 | data[30] << 16 | (size_t)data[31] << 24);
    size_t dig = first + 14;
    assert_true(dig + 48 < dn);
    data[dig] ^= 1;
    int rc = trust_ccel_check(table, tn, data, dn, c.json, &err);
    assert_int_equal(rc, CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "ccel replay: RTMR"));
    /* a bad table (checksum) is refused */
    data[dig] ^= 1;
    table[20] ^= 1;
    assert_int_equal(trust_ccel_check(table, tn, data, dn, c.json, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "checksum"));
    attest_claims_free(&c);
    free(q);
    free(data);
    free(table);
}

/* Mutations of every supporting file: truncation at many lengths and bit
 * flips at many offsets must never crash or leak, and a refused file must
 * leave the builder unchanged. */
static void test_mutations(void **state)
{
    (void)state;
    size_t total = 0, refused = 0;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t n;
        uint8_t *p = tv_load(kinds[i].file, &n);
        if (n > 70000) { /* the 256 KiB+ CCEL areas: a few cuts are enough */
            n = 70000;
        }
        size_t step = n / 23 + 1;
        for (size_t cut = 0; cut < n; cut += step) {
            struct trust_files *tf = trust_files_new(kinds[i].type);
            struct cairn_error err = {0};
            int rc = trust_files_add(tf, "cut", p, cut, TRUST_FILE_UNKNOWN, NULL, &err);
            total++;
            if (rc != 0) {
                refused++;
                assert_true(err.msg[0] != '\0');
                assert_null(strchr(err.msg, '\n'));
                assert_int_equal(n_files(tf), 0);
            }
            trust_files_free(tf);
        }
        for (size_t off = 0; off < n; off += step) {
            uint8_t *m = malloc(n);
            memcpy(m, p, n);
            m[off] ^= 0x10;
            struct trust_files *tf = trust_files_new(kinds[i].type);
            struct cairn_error err = {0};
            int rc = trust_files_add(tf, "flip", m, n, TRUST_FILE_UNKNOWN, NULL, &err);
            total++;
            if (rc != 0) {
                refused++;
                assert_null(strchr(err.msg, '\n'));
                assert_int_equal(n_files(tf), 0);
            }
            trust_files_free(tf);
            free(m);
        }
        free(p);
    }
    fprintf(stderr, "mutations: %zu tried, %zu refused\n", total, refused);
    assert_true(refused > total / 4); /* truncations of structured files mostly fail */
}

static char *slurp_str(const char *rel, size_t *n)
{
    char *p = (char *)tv_load(rel, n);
    return p;
}

/* Several TCB info documents (files and sets) become one document set; the
 * verifier picks the quote's FMSPC (mobilecoin 00906ED50000 among steward's
 * 00606A000000). */
static void test_doc_sets(void **state)
{
    (void)state;
    size_t qn, tn, sn, en, cn, rn, ln;
    uint8_t *q = tv_load("sgx/mobilecoin_hw_quote.dat", &qn);
    char *tcb = slurp_str("sgx/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json", &tn);
    char *stw = slurp_str("sgx/steward_icelake_xeon_tcbinfo.json", &sn);
    uint8_t *qe = tv_load("sgx/mobilecoin_qe_identity.json", &en);
    uint8_t *signer = tv_load("sgx/mobilecoin_tcb_signer.pem", &cn);
    uint8_t *crl = tv_load("sgx/mobilecoin_root_crl.der", &rn);
    uint8_t *chain = tv_load("sgx/steward_icelake_xeon_tcb_signing_chain.pem", &ln);
    char *set = NULL;
    assert_true(asprintf(&set, " [ %s ]\n", stw) > 0);
    struct cairn_error err = {0};
    enum trust_file_kind k;
    struct trust_files *tf = trust_files_new(ATTEST_SGX);
    assert_int_equal(trust_files_add(tf, "set", (const uint8_t *)set, strlen(set), TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(k, TRUST_FILE_TCB_INFO);
    assert_int_equal(trust_files_add(tf, "tcb", (const uint8_t *)tcb, tn, TRUST_FILE_TCB_INFO, &k, &err), 0);
    assert_int_equal(trust_files_add(tf, "qe", qe, en, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(trust_files_add(tf, "signer", signer, cn, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(trust_files_add(tf, "chain", chain, ln, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(trust_files_add(tf, "crl", crl, rn, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(trust_files_set_evidence(tf, q, qn, &err), 0);
    struct attest_evidence ev;
    struct attest_trust tr;
    assert_int_equal(trust_files_build(tf, tv_time("2023-07-12T20:48:25Z"), &ev, &tr, &err), 0);
    assert_true(tr.tcb_info[0] == '[');
    assert_int_equal(tr.tcb_info_len, strlen(tr.tcb_info));
    tr.require_collateral = true;
    struct attest_claims c = {0};
    int rc = attest_verify(&ev, &tr, NULL, 0, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(claim_str(c.json, "tcb_status"), "SWHardeningNeeded");
    assert_int_equal(claim_int(c.json, "tcb_evaluation_data_number"), 15);
    attest_claims_free(&c);
    trust_files_free(tf);
    /* only the steward set: no document for this FMSPC */
    tf = trust_files_new(ATTEST_SGX);
    assert_int_equal(trust_files_add(tf, "set", (const uint8_t *)set, strlen(set), TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(trust_files_add(tf, "signer", signer, cn, TRUST_FILE_UNKNOWN, &k, &err), 0);
    assert_int_equal(trust_files_set_evidence(tf, q, qn, &err), 0);
    assert_int_equal(trust_files_build(tf, tv_time("2023-07-12T20:48:25Z"), &ev, &tr, &err), 0);
    assert_int_not_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    assert_non_null(strstr(err.msg, "00906ed50000"));
    trust_files_free(tf);
    free(set);
    free(q);
    free(tcb);
    free(stw);
    free(qe);
    free(signer);
    free(crl);
    free(chain);
}

static void put(const char *dir, const char *name, const char *rel)
{
    size_t n;
    uint8_t *p = tv_load(rel, &n);
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(cairn_file_write_atomic(path, p, n, 0644), 0);
    free(p);
}

static void rm_tree(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A trust directory as a Coordinator would load it. */
static void test_store(void **state)
{
    (void)state;
    size_t probe_n;
    free(tv_load("sgx/mobilecoin_hw_quote.dat", &probe_n)); /* skip early without the vectors */
    char tmpl[] = "/tmp/cairn-trust-store.XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char sub[1024];
    snprintf(sub, sizeof(sub), "%s/sgx", dir);
    assert_int_equal(cairn_mkdirs(sub, 0700), 0);
    put(sub, "tcb-00906ed50000.json", "sgx/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json");
    put(sub, "tcb-00606a000000.json", "sgx/steward_icelake_xeon_tcbinfo.json");
    put(sub, "qe.json", "sgx/mobilecoin_qe_identity.json");
    put(sub, "signer.pem", "sgx/mobilecoin_tcb_signer.pem");
    put(sub, "root-2022.crl", "sgx/steward_icelake_xeon_rootca_crl.der");   /* superseded */
    put(sub, "root-2023.crl", "sgx/mobilecoin_root_crl.der");
    put(sub, ".hidden", "tdx/gotdx_nonce.dat");                            /* dotfiles skipped */
    snprintf(sub, sizeof(sub), "%s/tpm/roots", dir);
    assert_int_equal(cairn_mkdirs(sub, 0700), 0);
    put(sub, "gce_root.der", "roots/gce_tpm_ek_root_1.der");
    snprintf(sub, sizeof(sub), "%s/tpm", dir);
    put(sub, "gce_intermediate.der", "roots/gce_tpm_ek_intermediate_2.der");

    struct trust_store *st = NULL;
    struct cairn_error err = {0};
    int rc = trust_store_load(dir, &st, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    json_t *d = trust_store_describe(st);
    assert_int_equal(json_array_size(json_object_get(d, "sgx")), 6);
    assert_int_equal(json_array_size(json_object_get(d, "tpm")), 2);
    assert_null(json_object_get(d, "snp"));
    json_decref(d);

    struct attest_trust tr;
    trust_store_get(st, ATTEST_SGX, tv_time("2023-07-12T20:48:25Z"), &tr);
    assert_int_equal(sk_X509_CRL_num(tr.crls), 1); /* the 2022 root CRL was superseded */
    tr.require_collateral = true;
    size_t qn;
    uint8_t *q = tv_load("sgx/mobilecoin_hw_quote.dat", &qn);
    struct attest_evidence ev = {.type = ATTEST_SGX, .quote = q, .quote_len = qn};
    struct attest_claims c = {0};
    rc = attest_verify(&ev, &tr, NULL, 0, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(claim_str(c.json, "tcb_status"), "SWHardeningNeeded");
    attest_claims_free(&c);
    free(q);

    /* TPM: the AK certificate chains to the directory's root */
    size_t an, sn2, pn, cn;
    uint8_t *att = tv_load("tpm/gce_cos85_nonce9009.quote_sha256.tpms_attest", &an);
    uint8_t *sig = tv_load("tpm/gce_cos85_nonce9009.quote_sha256.tpmt_signature", &sn2);
    uint8_t *pcrs = tv_load("tpm/gce_cos85_nonce9009.quote_sha256.pcrs.json", &pn);
    uint8_t *akc = tv_load("tpm/gce_cos85_nonce9009.ak_cert.der", &cn);
    struct attest_evidence tev = {.type = ATTEST_TPM, .quote = att, .quote_len = an, .signature = sig,
                                  .signature_len = sn2, .pcrs = pcrs, .pcrs_len = pn, .certs = akc, .certs_len = cn};
    trust_store_get(st, ATTEST_TPM, 0, &tr);
    assert_int_equal(sk_X509_num(tr.tpm_roots), 1);
    rc = attest_verify(&tev, &tr, NULL, 0, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_true(claim_has_check(c.json, "ak_cert_chain"));
    attest_claims_free(&c);
    free(att);
    free(sig);
    free(pcrs);
    free(akc);

    /* no snp/ directory: built-in defaults */
    trust_store_get(st, ATTEST_SNP, 5, &tr);
    assert_null(tr.amd_roots);
    assert_null(tr.crls);
    assert_int_equal(tr.at, 5);
    trust_store_free(st);

    /* refusals: evidence in a trust directory, a foreign root outside roots/,
     * an unknown subdirectory, no directory */
    snprintf(sub, sizeof(sub), "%s/sgx", dir);
    put(sub, "nonce.bin", "tdx/gotdx_nonce.dat");
    assert_int_equal(trust_store_load(dir, &st, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "evidence, not trust material"));
    assert_non_null(strstr(err.msg, "nonce.bin"));
    snprintf(sub, sizeof(sub), "%s/sgx/nonce.bin", dir);
    assert_int_equal(unlink(sub), 0);
    snprintf(sub, sizeof(sub), "%s/tpm", dir);
    put(sub, "root_here.der", "roots/gce_tpm_ek_root_1.der");
    assert_int_equal(trust_store_load(dir, &st, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "pass it with --root"));
    snprintf(sub, sizeof(sub), "%s/tpm/root_here.der", dir);
    assert_int_equal(unlink(sub), 0);
    snprintf(sub, sizeof(sub), "%s/tpm/extra", dir);
    assert_int_equal(cairn_mkdirs(sub, 0700), 0);
    assert_int_equal(trust_store_load(dir, &st, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "unexpected directory"));
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(trust_store_load(dir, &st, &err), 0);
    trust_store_free(st);
    rm_tree(dir);
    assert_int_equal(trust_store_load(dir, &st, &err), CAIRN_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_vectors), cmocka_unit_test(test_classify_unknown),
        cmocka_unit_test(test_detect_evidence),  cmocka_unit_test(test_decode_text),
        cmocka_unit_test(test_roots),            cmocka_unit_test(test_sorting),
        cmocka_unit_test(test_named_kinds),      cmocka_unit_test(test_qvl_bundle),
        cmocka_unit_test(test_ccel_check),       cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_doc_sets),         cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
