/* Azure HCL reports (src/attest/azure_hcl.c): golden values of real SNP
 * (shared vectors) and TDX (tests/data/azure, from Trustee's test data)
 * reports, the binding checks against verified claims, and every
 * single-byte mutation of both reports. */
#include "test_sgx_util.h"

#include <openssl/evp.h>

#include "attest/attest.h"
#include "attest/azure_hcl.h"
#include "common/encoding.h"

/* Reads tests/data/<rel> (in the repository: never skipped). */
static uint8_t *data_load(const char *rel, size_t *len)
{
    const char *dir = getenv("CAIRN_TEST_DATA_DIR");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    uint8_t *p = NULL;
    assert_int_equal(cairn_file_read(path, 1u << 20, &p, len), 0);
    return p;
}

static const char *js(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void pem_eq(const char *pem, const uint8_t *ref, size_t rn)
{
    BIO *b1 = BIO_new_mem_buf(pem, -1), *b2 = BIO_new_mem_buf(ref, (int)rn);
    EVP_PKEY *k1 = PEM_read_bio_PUBKEY(b1, NULL, NULL, NULL), *k2 = PEM_read_bio_PUBKEY(b2, NULL, NULL, NULL);
    assert_non_null(k1);
    assert_non_null(k2);
    assert_int_equal(EVP_PKEY_eq(k1, k2), 1);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    BIO_free(b1);
    BIO_free(b2);
}

/* SNP (Genoa, from Trustee's evidence-genoa.json): layout, AK, binding. */
static void test_snp_genoa(void **state)
{
    (void)state;
    size_t n, vn, rn, an, jn;
    uint8_t *h = tv_load("snp/azure_genoa_hcl-report.bin", &n);
    uint8_t *vcek = tv_load("snp/azure_genoa_vcek.pem", &vn);
    uint8_t *rep = tv_load("snp/azure_genoa_snp_report.bin", &rn);
    uint8_t *akpem = tv_load("tpm/azure_genoa_akpub.pem", &an);
    uint8_t *rt = tv_load("tpm/azure_genoa_hcl_runtime_data.json", &jn);
    struct azure_hcl hcl;
    struct cairn_error err = {0};
    assert_int_equal(azure_hcl_parse(h, n, &hcl, &err), 0);
    assert_int_equal(hcl.version, 2);
    assert_int_equal(hcl.report_type, AZURE_HCL_SNP);
    assert_int_equal(azure_hcl_attest_type(&hcl), ATTEST_SNP);
    assert_int_equal(hcl.hash_type, 1);
    assert_int_equal(hcl.hw_report_len, rn);
    assert_memory_equal(hcl.hw_report, rep, rn);
    assert_ptr_equal(hcl.report_data, h + 0x20 + 0x50);
    assert_int_equal(hcl.runtime_data_len, 1200);
    assert_memory_equal(hcl.runtime_data, rt, jn);
    char *pem = NULL;
    assert_int_equal(azure_hcl_jwk_pem(&hcl, "HCLAkPub", &pem, &err), 0);
    pem_eq(pem, akpem, an);
    free(pem);
    assert_int_equal(azure_hcl_jwk_pem(&hcl, "NoSuchKey", &pem, &err), CAIRN_ERR_NOT_FOUND);
    uint8_t ud[64];
    size_t udl = 0;
    assert_int_equal(azure_hcl_user_data(&hcl, ud, &udl, &err), 0);
    assert_int_equal(udl, 64); /* an older agent: 64 zero bytes */

    struct attest_evidence ev = {.type = ATTEST_SNP, .quote = hcl.hw_report, .quote_len = hcl.hw_report_len,
                                 .certs = vcek, .certs_len = vn};
    struct attest_trust tr = {.at = tv_time("2025-06-01T00:00:00Z")};
    struct attest_claims c = {0};
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    assert_int_equal(azure_hcl_check(&hcl, &c, &err), 0);
    assert_true(claim_has_check(c.json, "hcl_runtime_data"));
    json_t *o = json_object_get(c.json, "hcl");
    assert_string_equal(js(o, "runtime_data_hash"), "b581f12e29a2d7d64e5e0b738d563879a78b51c644d0fa0cce02b48699f6bf5f");
    assert_int_equal(json_integer_value(json_object_get(o, "report_type")), 2);
    assert_non_null(json_object_get(json_object_get(o, "runtime_data"), "keys"));
    assert_non_null(js(o, "ak_pub"));
    attest_claims_free(&c);

    /* an SNP report from VMPL 1..3 (a guest beside the paravisor) binds
     * nothing: refused even though signature and hash would agree */
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    json_object_set_new(c.json, "vmpl", json_integer(2));
    assert_int_equal(azure_hcl_check(&hcl, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "VMPL 2"));
    json_object_del(c.json, "vmpl");
    assert_int_equal(azure_hcl_check(&hcl, &c, &err), CAIRN_ERR_VERIFY);
    /* claims of another TEE */
    c.type = ATTEST_TDX;
    assert_int_equal(azure_hcl_check(&hcl, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "carries a snp report"));
    attest_claims_free(&c);

    /* runtime data changed after the report was made: the binding fails */
    h[0x4D4 + 100] ^= 1;
    assert_int_equal(azure_hcl_parse(h, n, &hcl, &err), 0);
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    assert_int_equal(azure_hcl_check(&hcl, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "does not start with its hash"));
    attest_claims_free(&c);
    h[0x4D4 + 100] ^= 1;

    /* header refusals; *out untouched */
    struct {
        size_t off;
        uint8_t val;
        int rc;
        const char *msg;
    } bad[] = {
        {0, 'X', CAIRN_ERR_INVALID, "magic"},
        {0x4C8, 7, CAIRN_ERR_UNSUPPORTED, "report_type 7"},
        {0x4C8, 4, CAIRN_ERR_INVALID, "TDREPORT type"}, /* says TDX, holds an SNP report */
        {0x4CC, 9, CAIRN_ERR_UNSUPPORTED, "hash_type 9"},
        {0x4CC, 0, CAIRN_ERR_UNSUPPORTED, "hash_type 0"},
        {0x4D1, 0x10, CAIRN_ERR_TRUNCATED, "variable_data_size"},
        {0x4C0, 0x00, CAIRN_ERR_INVALID, "data_size"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t old = h[bad[i].off];
        h[bad[i].off] = bad[i].val;
        struct azure_hcl x = {0};
        assert_int_equal(azure_hcl_parse(h, n, &x, &err), bad[i].rc);
        assert_non_null(strstr(err.msg, bad[i].msg));
        assert_null(x.hw_report);
        h[bad[i].off] = old;
    }
    for (size_t k = 0; k < 0x4D4 + 1200; k += 97)
        assert_int_equal(azure_hcl_parse(h, k, &hcl, NULL), CAIRN_ERR_TRUNCATED);
    assert_int_equal(azure_hcl_parse(NULL, 0, &hcl, NULL), CAIRN_ERR_TRUNCATED);
    uint8_t *big = calloc(1, AZURE_HCL_MAX + 1);
    memcpy(big, h, n);
    assert_int_equal(azure_hcl_parse(big, AZURE_HCL_MAX + 1, &hcl, &err), CAIRN_ERR_TOO_LARGE);
    free(big);
    free(h);
    free(vcek);
    free(rep);
    free(akpem);
    free(rt);
}

/* The TD quote of the TDX HCL report, verified (PCK chain in the quote,
 * built-in Intel root, no collateral). */
static void tdx_claims(const uint8_t *q, size_t qn, struct attest_claims *c)
{
    struct attest_evidence ev = {.type = ATTEST_TDX, .quote = q, .quote_len = qn};
    struct attest_trust tr = {.at = tv_time("2025-06-01T00:00:00Z")};
    struct cairn_error err = {0};
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, c, &err), 0);
}

/* TDX (Trustee's az-tdx-vtpm test data): golden values and the binding. */
static void test_tdx(void **state)
{
    (void)state;
    size_t n, qn;
    uint8_t *h = data_load("azure/az-tdx-vtpm_hcl-report.bin", &n);
    uint8_t *q = data_load("azure/az-tdx-vtpm_td-quote.bin", &qn);
    struct azure_hcl hcl;
    struct cairn_error err = {0};
    assert_int_equal(azure_hcl_parse(h, n, &hcl, &err), 0);
    assert_int_equal(hcl.version, 2);
    assert_int_equal(hcl.report_type, AZURE_HCL_TDX);
    assert_int_equal(azure_hcl_attest_type(&hcl), ATTEST_TDX);
    assert_int_equal(hcl.hash_type, 1);
    assert_ptr_equal(hcl.hw_report, h + 0x20);
    assert_int_equal(hcl.hw_report_len, 1024);
    assert_ptr_equal(hcl.report_data, h + 0x20 + 0x80);
    assert_ptr_equal(hcl.runtime_data, h + 0x4D4);
    assert_int_equal(hcl.runtime_data_len, 1201);
    uint8_t md[32];
    EVP_Digest(hcl.runtime_data, hcl.runtime_data_len, md, NULL, EVP_sha256(), NULL);
    char *hex = cairn_hex_encode(md, 32);
    assert_string_equal(hex, "9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e593839");
    free(hex);
    char *pem = NULL;
    assert_int_equal(azure_hcl_jwk_pem(&hcl, "HCLAkPub", &pem, &err), 0);
    assert_non_null(strstr(pem, "BEGIN PUBLIC KEY"));
    free(pem);
    assert_int_equal(azure_hcl_jwk_pem(&hcl, "HCLEkPub", &pem, &err), 0);
    free(pem);

    struct attest_claims c = {0};
    tdx_claims(q, qn, &c);
    assert_int_equal(azure_hcl_check(&hcl, &c, &err), 0);
    assert_true(claim_has_check(c.json, "hcl_runtime_data"));
    json_t *o = json_object_get(c.json, "hcl");
    assert_string_equal(js(o, "runtime_data_hash"), "9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e593839");
    assert_int_equal(json_integer_value(json_object_get(o, "report_type")), 4);
    assert_true(json_is_true(json_object_get(json_object_get(json_object_get(o, "runtime_data"), "vm-configuration"),
                                             "secure-boot")));
    attest_claims_free(&c);

    /* the byte Trustee's test_verify_hcl_var_data_failure changes (runtime data) */
    h[0x880] += 1;
    assert_int_equal(azure_hcl_parse(h, n, &hcl, &err), 0);
    tdx_claims(q, qn, &c);
    assert_int_equal(azure_hcl_check(&hcl, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "tdx report data does not start with its hash"));
    attest_claims_free(&c);
    h[0x880] -= 1;
    /* a TDREPORT that is not the quoted one */
    h[0x20 + 0x80 + 40] ^= 0x01;
    assert_int_equal(azure_hcl_parse(h, n, &hcl, &err), 0);
    tdx_claims(q, qn, &c);
    assert_int_equal(azure_hcl_check(&hcl, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "not the quoted report"));
    attest_claims_free(&c);
    h[0x20 + 0x80 + 40] ^= 0x01;
    /* claims of another TEE */
    assert_int_equal(azure_hcl_parse(h, n, &hcl, &err), 0);
    tdx_claims(q, qn, &c);
    c.type = ATTEST_SNP;
    assert_int_equal(azure_hcl_check(&hcl, &c, &err), CAIRN_ERR_VERIFY);
    c.type = ATTEST_TDX;
    attest_claims_free(&c);
    /* not a TDREPORT in the area */
    h[0x20] = 0x00;
    assert_int_equal(azure_hcl_parse(h, n, &hcl, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "TDREPORT type 0x00"));
    free(h);
    free(q);
}

/* Whether flipping byte `off` of a report must make parse or check fail:
 * the magic, the TDREPORT type, the hardware REPORTDATA, the runtime-data
 * header (all but its version) and the runtime data. The other bytes (HCL
 * header fields, the unauthenticated rest of the report copy, padding) are
 * not relied on. */
static bool must_fail(const struct azure_hcl *h, size_t off)
{
    size_t rd = (size_t)(h->report_data - (h->hw_report - 0x20));
    return off < 4 || (h->report_type == AZURE_HCL_TDX && off == 0x20) || (off >= rd && off < rd + 64) ||
           (off >= 0x4C0 && off < 0x4C4) || (off >= 0x4C8 && off < 0x4D4) ||
           (off >= 0x4D4 && off < 0x4D4 + h->runtime_data_len);
}

/* Every single-bit flip of the report (bits 0 and 7 of each byte): parse
 * stays in bounds, and the check against the unchanged verified claims
 * fails wherever the binding depends on the byte. */
static void mutate_all(uint8_t *h, size_t n, const struct attest_claims *good)
{
    struct azure_hcl ref;
    assert_int_equal(azure_hcl_parse(h, n, &ref, NULL), 0);
    for (size_t off = 0; off < n; off++) {
        for (int bit = 0; bit < 8; bit += 7) {
            h[off] ^= (uint8_t)(1u << bit);
            struct azure_hcl x;
            struct cairn_error err = {0};
            int rc = azure_hcl_parse(h, n, &x, &err);
            if (rc == 0) {
                assert_true(x.hw_report >= h && x.hw_report + x.hw_report_len <= h + n);
                assert_true(x.runtime_data >= h && x.runtime_data + x.runtime_data_len <= h + n);
                struct attest_claims c = {.type = good->type, .report_data_len = good->report_data_len,
                                          .json = json_deep_copy(good->json)};
                memcpy(c.report_data, good->report_data, sizeof(c.report_data));
                rc = azure_hcl_check(&x, &c, &err);
                attest_claims_free(&c);
            }
            if (must_fail(&ref, off) && rc == 0)
                fail_msg("flip of bit %d at 0x%zx was accepted", bit, off);
            h[off] ^= (uint8_t)(1u << bit);
        }
    }
    for (size_t k = 0; k < n; k++) { /* every truncation */
        struct azure_hcl x;
        if (azure_hcl_parse(h, k, &x, NULL) == 0)
            assert_true(x.runtime_data + x.runtime_data_len <= h + k);
    }
}

static void test_mutations(void **state)
{
    (void)state;
    size_t n, qn;
    uint8_t *h = data_load("azure/az-tdx-vtpm_hcl-report.bin", &n);
    uint8_t *q = data_load("azure/az-tdx-vtpm_td-quote.bin", &qn);
    struct attest_claims c = {0};
    tdx_claims(q, qn, &c);
    mutate_all(h, n, &c);
    attest_claims_free(&c);
    free(h);
    free(q);

    size_t vn;
    h = tv_load("snp/azure_genoa_hcl-report.bin", &n);
    uint8_t *vcek = tv_load("snp/azure_genoa_vcek.pem", &vn);
    struct azure_hcl hcl;
    assert_int_equal(azure_hcl_parse(h, n, &hcl, NULL), 0);
    struct attest_evidence ev = {.type = ATTEST_SNP, .quote = hcl.hw_report, .quote_len = hcl.hw_report_len,
                                 .certs = vcek, .certs_len = vn};
    struct attest_trust tr = {.at = tv_time("2025-06-01T00:00:00Z")};
    struct cairn_error err = {0};
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    mutate_all(h, n, &c);
    attest_claims_free(&c);
    free(h);
    free(vcek);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snp_genoa),
        cmocka_unit_test(test_tdx),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
