/* CoCo az-snp-vtpm / az-tdx-vtpm evidence (src/attest/kbs_evidence_azure.c)
 * on real evidence: Trustee's az-*-vtpm test data (tests/data/azure: the
 * JSON exactly as the attestation-agent sends it, versions 0, 1 and 2) and
 * the shared Genoa vectors re-assembled into the agent's JSON. Every
 * refusal: another nonce, another TEE, a changed byte in each signed or
 * bound part, malformed JSON, the init-data binding. */
#include "test_sgx_util.h"

#include <openssl/evp.h>

#include "attest/attest.h"
#include "attest/kbs_evidence_azure.h"
#include "common/encoding.h"

static time_t T; /* inside every certificate's validity */

static char *data_text(const char *rel, size_t *len)
{
    const char *dir = getenv("CAIRN_TEST_DATA_DIR");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/azure/%s", dir, rel);
    uint8_t *p = NULL;
    assert_int_equal(cairn_file_read(path, 1u << 20, &p, len), 0);
    return (char *)p;
}

static const uint8_t CHALLENGE[] = "challenge"; /* Trustee's REPORT_DATA for these vectors */
#define CHALLENGE_LEN 9

static int verify(const char *tee, const char *ev, size_t n, const uint8_t *rd, size_t rl, struct attest_claims *c,
                  struct cairn_error *err)
{
    return kbs_evidence_azure_verify(tee, ev, n, rd, rl, NULL, 0, NULL, T, c, err);
}

static const char *js(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void assert_checks(json_t *claims, const char *const *names)
{
    for (; *names; names++)
        if (!claim_has_check(claims, *names))
            fail_msg("check %s did not run", *names);
}

static void test_tdx_v1_v0(void **state)
{
    (void)state;
    static const char *const files[] = {"az-tdx-vtpm_evidence-v1.json", "az-tdx-vtpm_evidence-v0.json"};
    for (int i = 0; i < 2; i++) {
        size_t n;
        char *ev = data_text(files[i], &n);
        struct attest_claims c = {0};
        struct cairn_error err = {0};
        int rc = verify("az-tdx-vtpm", ev, n, CHALLENGE, CHALLENGE_LEN, &c, &err);
        if (rc != 0)
            fail_msg("%s: %s", files[i], err.msg);
        assert_int_equal(c.type, ATTEST_TDX);
        assert_string_equal(js(c.json, "tee"), "az-tdx-vtpm");
        assert_int_equal(json_integer_value(json_object_get(c.json, "evidence_version")), 1 - i);
        assert_string_equal(js(c.json, "mrtd"),
                            "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b");
        json_t *vt = json_object_get(c.json, "vtpm");
        /* Trustee test_evaluate: report_data 6368616c6c656e6765, tpm.pcr00 782b20b1... */
        assert_string_equal(js(vt, "nonce"), "6368616c6c656e6765");
        assert_string_equal(js(json_object_get(json_object_get(vt, "pcrs"), "sha256"), "0"),
                            "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273");
        assert_string_equal(js(json_object_get(c.json, "hcl"), "runtime_data_hash"),
                            "9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e593839");
        static const char *const checks[] = {"hcl_runtime_data", "vtpm_quote_ak_from_hcl", "vtpm_nonce_report_data",
                                             NULL};
        assert_checks(c.json, checks);
        assert_false(claim_has_check(c.json, "hcl_user_data"));
        attest_claims_free(&c);
        /* another nonce (Trustee's test_verify_tpm_nonce_failure: reversed) */
        static const uint8_t egnellahc[] = "egnellahc";
        assert_int_equal(verify("az-tdx-vtpm", ev, n, egnellahc, 9, &c, &err), CAIRN_ERR_VERIFY);
        assert_non_null(strstr(err.msg, "not the expected report data"));
        /* a prefix of the nonce is not the nonce */
        assert_int_equal(verify("az-tdx-vtpm", ev, n, CHALLENGE, CHALLENGE_LEN - 1, &c, &err), CAIRN_ERR_VERIFY);
        /* the other Azure type */
        assert_int_not_equal(verify("az-snp-vtpm", ev, n, CHALLENGE, CHALLENGE_LEN, &c, &err), 0);
        free(ev);
    }
}

static void test_snp_v2_v1_v0(void **state)
{
    (void)state;
    /* v2: the agent put the report data into the HCL user-data too
     * (Trustee's EVIDENCE_V2_REPORT_DATA) */
    uint8_t rd2[48];
    assert_int_equal(cairn_hex_decode_exact("982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9a"
                                            "a398f647caa2338748cd0fd9f5f819ef",
                                            rd2, 48),
                     0);
    struct {
        const char *file;
        const uint8_t *rd;
        size_t rl;
        int version;
    } v[] = {
        {"az-snp-vtpm_evidence-v2.json", rd2, 48, 2},
        {"az-snp-vtpm_evidence-v1.json", CHALLENGE, CHALLENGE_LEN, 1},
        {"az-snp-vtpm_evidence-v0.json", CHALLENGE, CHALLENGE_LEN, 0},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n;
        char *ev = data_text(v[i].file, &n);
        struct attest_claims c = {0};
        struct cairn_error err = {0};
        if (verify("az-snp-vtpm", ev, n, v[i].rd, v[i].rl, &c, &err) != 0)
            fail_msg("%s: %s", v[i].file, err.msg);
        assert_int_equal(c.type, ATTEST_SNP);
        assert_string_equal(js(c.json, "tee"), "az-snp-vtpm");
        assert_int_equal(json_integer_value(json_object_get(c.json, "vmpl")), 0);
        assert_int_equal(json_integer_value(json_object_get(c.json, "evidence_version")), v[i].version);
        static const char *const checks[] = {"hcl_runtime_data", "vtpm_quote_ak_from_hcl", "vtpm_nonce_report_data",
                                             NULL};
        assert_checks(c.json, checks);
        assert_int_equal(claim_has_check(c.json, "hcl_user_data"), v[i].version == 2);
        if (v[i].version == 2) /* Trustee test_evaluate_v2: EVIDENCE_V2_PCR0 */
            assert_string_equal(js(json_object_get(json_object_get(json_object_get(c.json, "vtpm"), "pcrs"), "sha256"), "0"),
                                "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7");
        else /* Trustee test_evaluate (v0, v1): pcr00 e15c4479... */
            assert_string_equal(js(json_object_get(json_object_get(json_object_get(c.json, "vtpm"), "pcrs"), "sha256"), "0"),
                                "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced");
        attest_claims_free(&c);
        assert_int_equal(verify("az-snp-vtpm", ev, n, (const uint8_t *)"x", 1, &c, &err), CAIRN_ERR_VERIFY);
        assert_int_equal(verify("az-tdx-vtpm", ev, n, v[i].rd, v[i].rl, &c, &err), CAIRN_ERR_INVALID);
        assert_int_equal(verify("snp", ev, n, v[i].rd, v[i].rl, &c, &err), CAIRN_ERR_UNSUPPORTED);
        free(ev);
    }
}

/* ---- re-assembling the agent's JSON from parts -------------------------------------- */

struct parts {
    uint8_t *msg, *sig, *pcrs, *hcl, *hw; /* hw: VCEK DER or TD quote */
    size_t msg_len, sig_len, n_pcrs, hcl_len, hw_len;
};

static void parts_free(struct parts *p)
{
    free(p->msg);
    free(p->sig);
    free(p->pcrs);
    free(p->hcl);
    free(p->hw);
}

static char *b64u(const uint8_t *p, size_t n) { return cairn_base64url_encode(p, n); }

/* The agent's version-1/2 JSON (new string). */
static char *assemble(const struct parts *p, bool snp, int version)
{
    json_t *pcrs = json_array();
    for (size_t i = 0; i < p->n_pcrs; i++) {
        char *h = cairn_hex_encode(p->pcrs + 32 * i, 32);
        json_array_append_new(pcrs, json_string(h));
        free(h);
    }
    char *m = cairn_hex_encode(p->msg, p->msg_len), *s = cairn_hex_encode(p->sig, p->sig_len);
    char *h = b64u(p->hcl, p->hcl_len), *w = b64u(p->hw, p->hw_len);
    json_t *j = json_pack("{s:i, s:{s:s, s:s, s:o}, s:s, s:s}", "version", version, "tpm_quote", "signature", s,
                          "message", m, "pcrs", pcrs, "hcl_report", h, snp ? "vcek" : "td_quote", w);
    assert_non_null(j);
    char *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    free(m);
    free(s);
    free(h);
    free(w);
    return out;
}

static uint8_t *unhex(const char *s, size_t *n)
{
    uint8_t *b = NULL;
    assert_int_equal(cairn_hex_decode(s, strlen(s), &b, n), 0);
    return b;
}

/* The parts of a version-1 JSON. */
static void split(const char *text, struct parts *p)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    json_t *q = json_object_get(j, "tpm_quote");
    p->msg = unhex(js(q, "message"), &p->msg_len);
    p->sig = unhex(js(q, "signature"), &p->sig_len);
    json_t *pcrs = json_object_get(q, "pcrs");
    p->n_pcrs = json_array_size(pcrs);
    p->pcrs = malloc(32 * p->n_pcrs);
    for (size_t i = 0; i < p->n_pcrs; i++) {
        size_t l;
        uint8_t *b = unhex(json_string_value(json_array_get(pcrs, i)), &l);
        assert_int_equal(l, 32);
        memcpy(p->pcrs + 32 * i, b, 32);
        free(b);
    }
    const char *h = js(j, "hcl_report"), *w = js(j, "td_quote") ? js(j, "td_quote") : js(j, "vcek");
    assert_int_equal(cairn_base64url_decode(h, strlen(h), &p->hcl, &p->hcl_len), 0);
    assert_int_equal(cairn_base64url_decode(w, strlen(w), &p->hw, &p->hw_len), 0);
    json_decref(j);
}

/* Real Azure SNP evidence of the shared vectors (Trustee's evidence-genoa,
 * split there into files) in the agent's version-1 JSON. */
static void test_snp_genoa_shared(void **state)
{
    (void)state;
    struct parts p = {0};
    size_t pn, vn;
    p.hcl = tv_load("snp/azure_genoa_hcl-report.bin", &p.hcl_len);
    p.msg = tv_load("tpm/azure_genoa_tpm-quote.tpms_attest", &p.msg_len);
    p.sig = tv_load("tpm/azure_genoa_tpm-quote.rsassa_sha256.sig", &p.sig_len);
    uint8_t *pj = tv_load("tpm/azure_genoa_tpm-quote.pcrs.json", &pn);
    uint8_t *vpem = tv_load("snp/azure_genoa_vcek.pem", &vn);
    json_t *pj_root = json_loadb((const char *)pj, pn, 0, NULL);
    json_t *pcrs = json_object_get(pj_root, "pcrs");
    p.n_pcrs = 24;
    p.pcrs = malloc(24 * 32);
    for (int i = 0; i < 24; i++) {
        char k[4];
        snprintf(k, sizeof(k), "%d", i);
        assert_int_equal(cairn_hex_decode_exact(js(pcrs, k), p.pcrs + 32 * i, 32), 0);
    }
    json_decref(pj_root);
    BIO *b = BIO_new_mem_buf(vpem, (int)vn);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    assert_non_null(x);
    unsigned char *der = NULL;
    int dl = i2d_X509(x, &der);
    p.hw = malloc((size_t)dl);
    memcpy(p.hw, der, (size_t)dl);
    p.hw_len = (size_t)dl;
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(b);

    uint8_t nonce[48];
    assert_int_equal(cairn_hex_decode_exact("0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938c"
                                            "a05475f8b46094de6b64270ea35d950f",
                                            nonce, 48),
                     0);
    char *ev = assemble(&p, true, 1);
    struct attest_claims c = {0};
    struct cairn_error err = {0};
    if (verify("az-snp-vtpm", ev, strlen(ev), nonce, 48, &c, &err) != 0)
        fail_msg("genoa: %s", err.msg);
    assert_string_equal(js(c.json, "product"), "Genoa");
    assert_string_equal(js(c.json, "measurement"),
                        "f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3706faf814c9e61065768a6ff917c89ae");
    assert_string_equal(js(json_object_get(json_object_get(json_object_get(c.json, "vtpm"), "pcrs"), "sha256"), "0"),
                        "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338");
    attest_claims_free(&c);
    free(ev);
    /* as version 2 the (zero) user-data must carry the report data: refused */
    ev = assemble(&p, true, 2);
    assert_int_equal(verify("az-snp-vtpm", ev, strlen(ev), nonce, 48, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "user-data"));
    free(ev);
    parts_free(&p);
    free(pj);
    free(vpem);
}

/* One byte changed in each part that is signed or bound: always refused.
 * Offsets are sampled (every `stride`-th byte) across the whole part. */
static void mutate_part(struct parts *p, uint8_t *part, size_t from, size_t to, size_t stride, bool snp,
                        const uint8_t *rd, size_t rl, const char *name)
{
    for (size_t off = from; off < to; off += stride) {
        part[off] ^= 0x01;
        char *ev = assemble(p, snp, 1);
        struct attest_claims c = {0};
        struct cairn_error err = {0};
        int rc = verify(snp ? "az-snp-vtpm" : "az-tdx-vtpm", ev, strlen(ev), rd, rl, &c, &err);
        if (rc == 0)
            fail_msg("%s byte 0x%zx ^= 1 was accepted", name, off);
        free(ev);
        part[off] ^= 0x01;
    }
}

static void test_mutations(void **state)
{
    (void)state;
    size_t n;
    char *text = data_text("az-tdx-vtpm_evidence-v1.json", &n);
    struct parts p = {0};
    split(text, &p);
    free(text);
    char *ev = assemble(&p, false, 1);
    struct attest_claims c = {0};
    struct cairn_error err = {0};
    assert_int_equal(verify("az-tdx-vtpm", ev, strlen(ev), CHALLENGE, CHALLENGE_LEN, &c, &err), 0);
    attest_claims_free(&c);
    free(ev);
    mutate_part(&p, p.msg, 0, p.msg_len, 1, false, CHALLENGE, CHALLENGE_LEN, "tpm message");
    mutate_part(&p, p.sig, 0, p.sig_len, 7, false, CHALLENGE, CHALLENGE_LEN, "tpm signature");
    mutate_part(&p, p.pcrs, 0, p.n_pcrs * 32, 31, false, CHALLENGE, CHALLENGE_LEN, "pcrs");
    mutate_part(&p, p.hcl, 0x4D4, 0x4D4 + 1201, 13, false, CHALLENGE, CHALLENGE_LEN, "hcl runtime data");
    mutate_part(&p, p.hcl, 0x20 + 0x80, 0x20 + 0xC0, 1, false, CHALLENGE, CHALLENGE_LEN, "hcl TDREPORT REPORTDATA");
    /* the TD quote: header, body and signature data (its 70 trailing bytes are not signed) */
    mutate_part(&p, p.hw, 0, p.hw_len - 70, 37, false, CHALLENGE, CHALLENGE_LEN, "td quote");

    /* fewer PCRs than the quote selects */
    p.n_pcrs = 23;
    ev = assemble(&p, false, 1);
    assert_int_not_equal(verify("az-tdx-vtpm", ev, strlen(ev), CHALLENGE, CHALLENGE_LEN, &c, &err), 0);
    assert_non_null(strstr(err.msg, "vtpm quote"));
    free(ev);
    p.n_pcrs = 24;
    /* version 2 makes the (zero) user-data count */
    ev = assemble(&p, false, 2);
    assert_int_equal(verify("az-tdx-vtpm", ev, strlen(ev), CHALLENGE, CHALLENGE_LEN, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "user-data"));
    free(ev);

    /* init-data: PCR 8 of this VM is zero, so no digest is bound; a wrong
     * size is refused before anything else */
    ev = assemble(&p, false, 1);
    uint8_t d[32] = {0};
    assert_int_equal(kbs_evidence_azure_verify("az-tdx-vtpm", ev, strlen(ev), CHALLENGE, CHALLENGE_LEN, d, 32, NULL,
                                               T, &c, &err),
                     CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "PCR 8"));
    assert_int_equal(kbs_evidence_azure_verify("az-tdx-vtpm", ev, strlen(ev), CHALLENGE, CHALLENGE_LEN, d, 48, NULL,
                                               T, &c, &err),
                     CAIRN_ERR_INVALID);
    /* and with PCR 8 = SHA-256(0^32 || d) the digest is accepted... but
     * then the quote's PCR digest no longer matches: the binding cannot be
     * faked by editing the PCR list */
    uint8_t in[64] = {0};
    EVP_Digest(in, 64, p.pcrs + 8 * 32, NULL, EVP_sha256(), NULL);
    free(ev);
    ev = assemble(&p, false, 1);
    assert_int_equal(kbs_evidence_azure_verify("az-tdx-vtpm", ev, strlen(ev), CHALLENGE, CHALLENGE_LEN, d, 32, NULL,
                                               T, &c, &err),
                     CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "vtpm quote"));
    free(ev);
    parts_free(&p);
}

static void test_malformed(void **state)
{
    (void)state;
    struct attest_claims c = {0};
    struct cairn_error err = {0};
    struct {
        const char *json;
        int rc;
        const char *msg;
    } bad[] = {
        {"", CAIRN_ERR_INVALID, "empty"},
        {"[]", CAIRN_ERR_INVALID, "not a JSON object"},
        {"{\"version\":3}", CAIRN_ERR_INVALID, "version"},
        {"{\"version\":\"1\"}", CAIRN_ERR_INVALID, "version"},
        {"{\"version\":1}", CAIRN_ERR_INVALID, "TPM quote is not an object"},
        {"{\"version\":1,\"version\":1}", CAIRN_ERR_INVALID, "not a JSON object"},
        {"{\"version\":1,\"tpm_quote\":{\"message\":\"zz\"}}", CAIRN_ERR_INVALID, "hex"},
        {"{\"version\":1,\"tpm_quote\":{\"message\":\"00\",\"signature\":\"00\",\"pcrs\":[]}}", CAIRN_ERR_INVALID,
         "pcrs"},
        {"{\"version\":1,\"tpm_quote\":{\"message\":\"00\",\"signature\":\"00\",\"pcrs\":[\"00\"]}}",
         CAIRN_ERR_INVALID, "not 32"},
        {"{\"tpm_quote\":{\"message\":[256],\"signature\":[0],\"pcrs\":[[0]]}}", CAIRN_ERR_INVALID, "not a byte"},
        {"{\"tpm_quote\":{\"message\":[0],\"signature\":[0],\"pcrs\":[[0]]}}", CAIRN_ERR_INVALID, "not 32"},
        {"{\"version\":1,\"tpm_quote\":{\"message\":\"00\",\"signature\":\"00\",\"pcrs\":[\"" 
         "0000000000000000000000000000000000000000000000000000000000000000\"]},\"hcl_report\":\"!!\"}",
         CAIRN_ERR_INVALID, "base64url"},
        {"{\"version\":1,\"tpm_quote\":{\"message\":\"00\",\"signature\":\"00\",\"pcrs\":[\""
         "0000000000000000000000000000000000000000000000000000000000000000\"]},\"hcl_report\":\"AAAA\","
         "\"td_quote\":\"AAAA\"}",
         CAIRN_ERR_TRUNCATED, "hcl report"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = verify("az-tdx-vtpm", bad[i].json, strlen(bad[i].json), CHALLENGE, CHALLENGE_LEN, &c, &err);
        if (rc != bad[i].rc || strstr(err.msg, bad[i].msg) == NULL)
            fail_msg("case %zu: rc %d (want %d): %s", i, rc, bad[i].rc, err.msg);
    }
    char *big = malloc(KBS_AZURE_EVIDENCE_MAX + 1);
    memset(big, ' ', KBS_AZURE_EVIDENCE_MAX + 1);
    assert_int_equal(verify("az-tdx-vtpm", big, KBS_AZURE_EVIDENCE_MAX + 1, CHALLENGE, CHALLENGE_LEN, &c, &err),
                     CAIRN_ERR_TOO_LARGE);
    free(big);
    assert_int_equal(verify("az-tdx-vtpm", "{}", 2, NULL, 0, &c, &err), CAIRN_ERR_INVALID);
    uint8_t rd65[65] = {0};
    assert_int_equal(verify("az-tdx-vtpm", "{}", 2, rd65, 65, &c, &err), CAIRN_ERR_INVALID);
    assert_true(kbs_azure_tee_known("az-snp-vtpm"));
    assert_true(kbs_azure_tee_known("az-tdx-vtpm"));
    assert_false(kbs_azure_tee_known("tdx"));
    assert_false(kbs_azure_tee_known(NULL));
    /* every truncation of real evidence is refused, never crashes */
    size_t n;
    char *ev = data_text("az-tdx-vtpm_evidence-v1.json", &n);
    for (size_t k = 0; k < n; k += 61)
        assert_int_not_equal(verify("az-tdx-vtpm", ev, k, CHALLENGE, CHALLENGE_LEN, &c, &err), 0);
    free(ev);
}

int main(void)
{
    T = 1748736000; /* 2025-06-01T00:00:00Z */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tdx_v1_v0),
        cmocka_unit_test(test_snp_v2_v1_v0),
        cmocka_unit_test(test_snp_genoa_shared),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
