/* TDX quotes v4/v5: every shared TDX vector verifies at the upstream time with
 * the upstream ground truth (go-tdx-guest, trustee, dcap-qvl); collateral
 * (TCB info, TD_QE identity, TDX module identity, CRLs); go-tdx-guest's byte
 * mutations; expiry at the present time. */
#include "test_sgx_util.h"

#include "attest/attest.h"
#include "attest/collateral.h"
#include "common/encoding.h"

static int verify(const uint8_t *q, size_t n, const struct attest_trust *t, struct attest_claims *c,
                  struct cairn_error *err)
{
    struct attest_evidence ev = {.type = ATTEST_TDX, .quote = q, .quote_len = n};
    memset(c, 0, sizeof(*c));
    return attest_verify(&ev, t, NULL, 0, c, err);
}

static const char ZERO48[] = "000000000000000000000000000000000000000000000000"
                             "000000000000000000000000000000000000000000000000";

/* go-tdx-guest TestValidateOptions / TestPckCertificateExtensions /
 * TestRawQuoteVerifyWithoutCollateral. */
static void test_spr_e4_values(void **state)
{
    (void)state;
    size_t n;
    uint8_t *q = tv_load("tdx/gotdx_tdx_prod_quote_SPR_E4.dat", &n);
    struct attest_trust t = {.at = tv_time("2023-07-01T01:00:00Z")};
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = verify(q, n, &t, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(claim_int(c.json, "version"), 4);
    assert_int_equal(claim_int(c.json, "trailing_bytes"),
                     4974 - 4935); /* "\nextra bytes(only for testing purpose)\n" */
    assert_string_equal(claim_str(c.json, "mr_seam"),
                        "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9"
                        "fab60fbe9d0c5a5363c656");
    assert_string_equal(claim_str(c.json, "td_attributes"), "0000004000000000");
    assert_string_equal(claim_str(c.json, "xfam"), "e71a060000000000");
    assert_string_equal(claim_str(c.json, "mrtd"),
                        "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dc"
                        "d404bc10d5e119d7215cbb");
    assert_string_equal(claim_str(c.json, "mr_config_id"), ZERO48);
    assert_string_equal(claim_str(c.json, "mr_owner"), ZERO48);
    assert_string_equal(claim_str(c.json, "mr_owner_config"), ZERO48);
    assert_string_equal(claim_str(c.json, "rtmr0"),
                        "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f8"
                        "33c1e50b51779c6593f32a");
    assert_string_equal(claim_str(c.json, "rtmr1"),
                        "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c"
                        "59107c6bc5800db2cacb61");
    assert_string_equal(claim_str(c.json, "rtmr2"),
                        "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2"
                        "287fc7c3bf5c924eb4424e");
    assert_string_equal(claim_str(c.json, "rtmr3"), ZERO48);
    assert_string_equal(claim_str(c.json, "report_data"),
                        "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545"
                        "eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113");
    assert_string_equal(claim_str(c.json, "tee_tcb_svn"), "03000400000000000000000000000000");
    assert_true(json_is_false(json_object_get(c.json, "debug")));
    assert_string_equal(claim_str(c.json, "ppid"), "089ddfdb9c0359c82a3bc7719239574e");
    assert_string_equal(claim_str(c.json, "fmspc"), "50806f000000");
    assert_int_equal(claim_int(c.json, "pck_pce_svn"), 11);
    assert_string_equal(claim_str(c.json, "pck_cpu_svn"), "03030202020100020000000000000000");
    assert_int_equal(claim_int(c.json, "qe_isv_svn"), 4);
    assert_null(json_object_get(c.json, "tee_tcb_svn2"));
    assert_null(json_object_get(c.json, "tcb_status"));
    attest_claims_free(&c);
    /* TestVerifyPckChainWithoutRevocation: expired in 2053. */
    t.at = tv_time("2053-07-01T00:00:00Z");
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_EXPIRED);
    free(q);
}

/* go-tdx-guest TestNegativeVerification byte mutations on the SPR quote. */
static void test_spr_e4_mutations(void **state)
{
    (void)state;
    size_t n;
    uint8_t *q = tv_load("tdx/gotdx_tdx_prod_quote_SPR_E4.dat", &n);
    uint8_t *m = malloc(n);
    struct attest_trust t = {.at = tv_time("2023-07-01T01:00:00Z")};
    struct attest_claims c;
    struct cairn_error err = {0};
    static const struct {
        size_t off;
        uint8_t v;
        int rc;
        const char *msg;
    } cases[] = {
        {0x00, 3, CAIRN_ERR_UNSUPPORTED, "tdx quote: version 3 not supported"},
        {0x278, 0x10, CAIRN_ERR_TRUNCATED,
         "tdx quote: certification data size 4165 exceeds remaining 3978 bytes"},
        {0x1343, 0x32, 0, "pck chain"},
        {0x1329, 0x32, 0, "pck chain"},
        {0xF5F, 0x32, 0, "pck chain"},
        {0xB77, 0x32, 0, "pck chain"},
        {0x1E, 0x32, CAIRN_ERR_VERIFY,
         "tdx quote: quote signature does not verify with the attestation key"},
        {0x3C, 0x32, CAIRN_ERR_VERIFY,
         "tdx quote: quote signature does not verify with the attestation key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(m, q, n);
        m[cases[i].off] = cases[i].v;
        int rc = verify(m, n, &t, &c, &err);
        fprintf(stderr, "mutation 0x%zx=0x%x: %s\n", cases[i].off, cases[i].v, err.msg);
        assert_true(rc < 0);
        if (cases[i].rc != 0)
            assert_int_equal(rc, cases[i].rc);
        assert_non_null(strstr(err.msg, cases[i].msg));
    }
    free(m);
    free(q);
}

/* go-tdx-guest TestNegativeRawQuoteVerifyWithCollateral: the sample TCB info
 * has newer SVNs than the quote, so no TCB level matches. */
static void test_spr_e4_collateral(void **state)
{
    (void)state;
    size_t n, tl, ql;
    uint8_t *q = tv_load("tdx/gotdx_tdx_prod_quote_SPR_E4.dat", &n);
    char *tcb = (char *)tv_load("tdx/gotdx_sample_tcbInfo_response.json", &tl);
    char *qe = (char *)tv_load("tdx/gotdx_sample_qeIdentity_response.json", &ql);
    STACK_OF(X509) *chain = tv_certs("tdx/gotdx_tcbinfo_qeidentity_issuer_chain.pem");
    static const char *const crlf[] = {"tdx/gotdx_pckcrl_platform.der", "tdx/gotdx_rootcrl.der"};
    STACK_OF(X509_CRL) *crls = tv_crls(crlf, 2);
    struct attest_trust t = {.tcb_info = tcb,
                             .tcb_info_len = tl,
                             .qe_identity = qe,
                             .qe_identity_len = ql,
                             .collateral_chain = chain,
                             .crls = crls,
                             .at = tv_time("2023-07-01T01:00:00Z")};
    struct attest_claims c;
    struct cairn_error err = {0};
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "tcb info: no matching TCB level"));
    /* at 2053 everything has expired */
    t.at = tv_time("2053-07-01T00:00:00Z");
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_EXPIRED);
    /* the present time: the collateral and CRLs of 2023 are no longer valid */
    t.at = 0;
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_EXPIRED);
    /* a SGX quote's collateral kind does not fit a TDX quote */
    struct collateral_input in;
    (void)in;
    sk_X509_pop_free(chain, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    free(tcb);
    free(qe);
    free(q);
}

/* go-tdx-guest's positive collateral tests zero the SVNs of tcbLevels[0]
 * (they cannot re-sign, so only the matching is compared): with that change
 * the SPR quote's TD TCB is UpToDate; unchanged, no level matches. */
static void test_spr_e4_zeroed_level(void **state)
{
    (void)state;
    size_t n, tl;
    uint8_t *q = tv_load("tdx/gotdx_tdx_prod_quote_SPR_E4.dat", &n);
    char *tcb = (char *)tv_load("tdx/gotdx_sample_tcbInfo_response.json", &tl);
    struct dcap_quote dq;
    struct cairn_error err = {0};
    assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_TDX, &dq, &err), 0);
    BIO *b = BIO_new_mem_buf(dq.pck_pem, (int)dq.pck_pem_size);
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    struct dcap_pck_info pck;
    assert_int_equal(dcap_pck_info_parse(leaf, &pck, &err), 0);
    struct collateral_input in = {.tdx = true,
                                  .pck = &pck,
                                  .qe_report = dq.qe_report,
                                  .tee_tcb_svn = dq.body,
                                  .mr_signer_seam = dq.body + 64,
                                  .seam_attributes = dq.body + 112};
    json_t *doc = json_loadb(tcb, tl, 0, NULL);
    json_t *info = json_object_get(doc, "tcbInfo");
    char status[40], date[32];
    assert_int_equal(collateral_match_levels(&in, info, status, date, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "no matching TCB level"));
    json_t *t0 = json_object_get(json_array_get(json_object_get(info, "tcbLevels"), 0), "tcb");
    static const char *const lists[] = {"sgxtcbcomponents", "tdxtcbcomponents"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(t0, lists[l]), i, c)
        {
            json_object_set_new(c, "svn", json_integer(0));
        }
    }
    json_object_set_new(t0, "pcesvn", json_integer(0));
    assert_int_equal(collateral_match_levels(&in, info, status, date, &err), 0);
    assert_string_equal(status, "UpToDate");
    assert_string_equal(date, "2023-02-15T00:00:00Z");
    json_decref(doc);
    X509_free(leaf);
    free(tcb);
    free(q);
}

/* go-tdx-guest TestReplayCcelWithTdQuote: the COS 113 quote (zero-padded 8000-byte buffer). */
static void test_cos113(void **state)
{
    (void)state;
    size_t n, nl;
    uint8_t *q = tv_load("tdx/gotdx_cos-113-tdx-quote.dat", &n);
    uint8_t *nonce = tv_load("tdx/gotdx_nonce.dat", &nl);
    struct attest_trust t = {.at = tv_time("2025-01-01T00:00:00Z")};
    struct attest_claims c;
    struct cairn_error err = {0};
    struct attest_evidence ev = {.type = ATTEST_TDX, .quote = q, .quote_len = n};
    int rc = attest_verify(&ev, &t, nonce, nl, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(claim_int(c.json, "trailing_bytes"), 8000 - 4935);
    assert_string_equal(claim_str(c.json, "mrtd"),
                        "dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c771"
                        "7cb2735396c1d04231f94a");
    assert_string_equal(claim_str(c.json, "rtmr0"),
                        "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544"
                        "039c7e1edece752afd17f6");
    assert_string_equal(claim_str(c.json, "rtmr1"),
                        "f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa"
                        "62c41a86e8a878c2b122c1");
    assert_string_equal(claim_str(c.json, "rtmr2"),
                        "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de21904"
                        "8c9fc09f11f381a6fbe7c1");
    assert_string_equal(claim_str(c.json, "rtmr3"), ZERO48);
    assert_string_equal(claim_str(c.json, "tee_tcb_svn"), "04010700000000000000000000000000");
    assert_string_equal(claim_str(c.json, "td_attributes"), "0000001000000000");
    assert_string_equal(claim_str(c.json, "xfam"), "e700060000000000");
    assert_string_equal(claim_str(c.json, "mr_seam"),
                        "ffc97a88587660fb04e1f7c851300c96ae0b5a463ac46d035d16c2d9f36d0ed1d23775bcbd"
                        "27deb219e3a3cc28023895");
    assert_string_equal(claim_str(c.json, "fmspc"), "00806f050000");
    assert_true(claim_has_check(c.json, "report_data_binding"));
    attest_claims_free(&c);
    /* upstream verifies at the current time */
    t.at = 0;
    assert_int_equal(verify(q, n, &t, &c, &err), 0);
    attest_claims_free(&c);
    free(nonce);
    free(q);
}

/* go-tdx-guest TestRawQuoteV5VerifyWithoutCollateral + TestVerifyUsingTcbInfoV5. */
static void test_v5_sample(void **state)
{
    (void)state;
    size_t n, tl;
    uint8_t *q = tv_load("tdx/gotdx_quote_v5_sample.dat", &n);
    struct attest_trust t = {.at = tv_time("2026-02-03T01:00:00Z")};
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = verify(q, n, &t, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(claim_int(c.json, "version"), 5);
    assert_int_equal(claim_int(c.json, "body_type"), 3);
    assert_null(json_object_get(c.json, "trailing_bytes"));
    assert_string_equal(claim_str(c.json, "tee_tcb_svn"), "0b010400000000000000000000000000");
    assert_string_equal(claim_str(c.json, "tee_tcb_svn2"), "0d010400000000000000000000000000");
    assert_string_equal(claim_str(c.json, "mr_service_td"), ZERO48);
    assert_string_equal(claim_str(c.json, "mrtd"),
                        "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee"
                        "19747dda8f750c3bc8f876");
    assert_string_equal(claim_str(c.json, "rtmr0"),
                        "5c8daf76063a71ac8fcef4067564661fc682ed7944c7a5d21dbbced02f61ceff4ba0678c6a"
                        "ef3bdae8cbc614cec24619");
    assert_string_equal(claim_str(c.json, "rtmr1"),
                        "463acaace1b6e97c76e92e41fe312aa66f3fd4dad60ec7acf169859db0343e3d1e59164679"
                        "5cdc80fbc0ca5f7041d253");
    assert_string_equal(claim_str(c.json, "rtmr2"),
                        "6369b9c9a3b791ebcbdc5a0bb9536cfb57f50df2b393b33c8b29616d3568baa61f4b59dc60"
                        "92e31ea8764bcbdfc69f20");
    assert_string_equal(claim_str(c.json, "report_data"),
                        "945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e"
                        "094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a");
    assert_string_equal(claim_str(c.json, "td_attributes"), "0000001000000000");
    assert_string_equal(claim_str(c.json, "xfam"), "e702060000000000");
    assert_int_equal(claim_int(c.json, "qe_isv_svn"), 7);
    assert_string_equal(claim_str(c.json, "fmspc"), "90c06f000000");
    attest_claims_free(&c);

    /* TCB info v5 sample (unmodified): the TD TCB evaluates to UpToDate. The
     * 2018 TCB signing certificate in gotdx_tcbinfo_qeidentity_issuer_chain.pem
     * expired in 2025; Intel re-issued it (same key and serial, valid
     * 2025-05-06 .. 2032) and that copy ships in dcap-qvl's collateral. */
    char *tcb = (char *)tv_load("tdx/gotdx_sample_tcbinfo_response_v5.json", &tl);
    size_t cl;
    char *col = (char *)tv_load("tdx/phala_tdx_quote_collateral.json", &cl);
    json_t *cj = json_loadb(col, cl, 0, NULL);
    assert_non_null(cj);
    BIO *bio = BIO_new_mem_buf(json_string_value(json_object_get(cj, "tcb_info_issuer_chain")), -1);
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        sk_X509_push(chain, x);
    BIO_free(bio);
    json_decref(cj);
    free(col);
    t.tcb_info = tcb;
    t.tcb_info_len = tl;
    t.collateral_chain = chain;
    rc = verify(q, n, &t, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(claim_str(c.json, "tcb_status"), "UpToDate");
    assert_string_equal(claim_str(c.json, "tcb_date"), "2024-11-13T00:00:00Z");
    assert_int_equal(claim_int(c.json, "tcb_evaluation_data_number"), 18);
    assert_true(claim_has_check(c.json, "tdx_module_identity"));
    attest_claims_free(&c);
    /* after nextUpdate (2026-03-03T14:49:26Z) */
    t.at = tv_time("2026-03-03T14:49:26Z");
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "tcb info: expired"));
    /* with the expired 2018 copy of the signing certificate */
    STACK_OF(X509) *old = tv_certs("tdx/gotdx_tcbinfo_qeidentity_issuer_chain.pem");
    t.collateral_chain = old;
    t.at = tv_time("2026-02-03T01:00:00Z");
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "tcb signing chain"));
    sk_X509_pop_free(old, X509_free);
    sk_X509_pop_free(chain, X509_free);
    free(tcb);
    free(q);
}

/* trustee parse_tdx_claims ground truth (quote v4, debug TD). */
static void test_trustee_v4(void **state)
{
    (void)state;
    size_t n, en;
    uint8_t *q = tv_load("tdx/trustee_tdx_quote_4.dat", &n);
    char *exp = (char *)tv_load("tdx/trustee_parse_tdx_claims_expected.json", &en);
    json_t *ej = json_loadb(exp, en, 0, NULL);
    assert_non_null(ej);
    json_t *body = json_object_get(json_object_get(ej, "quote"), "body");
    assert_non_null(body);
    struct attest_trust t = {.at = tv_time("2024-06-01T00:00:00Z")};
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = verify(q, n, &t, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    static const char *const map[][2] = {
        {"mr_config_id", "mr_config_id"},
        {"mr_owner", "mr_owner"},
        {"mr_owner_config", "mr_owner_config"},
        {"mr_seam", "mr_seam"},
        {"mrtd", "mr_td"},
        {"mr_signer_seam", "mrsigner_seam"},
        {"report_data", "report_data"},
        {"rtmr0", "rtmr_0"},
        {"rtmr1", "rtmr_1"},
        {"rtmr2", "rtmr_2"},
        {"rtmr3", "rtmr_3"},
        {"seam_attributes", "seam_attributes"},
        {"tee_tcb_svn", "tcb_svn"},
        {"td_attributes", "td_attributes"},
        {"xfam", "xfam"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        json_t *v = json_object_get(body, map[i][1]);
        assert_true(json_is_string(v));
        assert_string_equal(claim_str(c.json, map[i][0]), json_string_value(v));
    }
    assert_true(json_is_true(json_object_get(c.json, "debug")));
    assert_int_equal(claim_int(c.json, "version"), 4);
    assert_string_equal(claim_str(c.json, "fmspc"), "50806f000000");
    /* trustee prints the platform instance ID byte-reversed */
    const char *pid = "82548d228d94d5e204a95b354dc61a02",
               *got = claim_str(c.json, "platform_instance_id");
    for (int i = 0; i < 16; i++)
        assert_memory_equal(got + 2 * i, pid + 30 - 2 * i, 2);
    attest_claims_free(&c);
    json_decref(ej);
    free(exp);
    free(q);
}

/* trustee tdx_quote_5 (v5, TDX 1.5 body). */
static void test_trustee_v5(void **state)
{
    (void)state;
    size_t n;
    uint8_t *q = tv_load("tdx/trustee_tdx_quote_5.dat", &n);
    struct attest_trust t = {.at = tv_time("2025-01-01T00:00:00Z")};
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = verify(q, n, &t, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(claim_int(c.json, "version"), 5);
    assert_int_equal(claim_int(c.json, "body_type"), 3);
    assert_string_equal(claim_str(c.json, "fmspc"), "90c06f000000");
    assert_string_equal(claim_str(c.json, "tee_tcb_svn"), "05010200000000000000000000000000");
    assert_string_equal(claim_str(c.json, "tee_tcb_svn2"), "05010200000000000000000000000000");
    assert_string_equal(claim_str(c.json, "mr_service_td"),
                        "383c87d3bbb047b2d171eaca95312ede99f258088dc788f6ae2ccf8b6dd848fe8d47629e08"
                        "b3f6cbd4a00dd47a5a033d");
    assert_string_equal(claim_str(c.json, "mrtd"),
                        "dfba221b48a22af8511542ee796603f37382800840dcd978703909bf8e64d4c8a1e9de86e7"
                        "c9638bfcba422f3886400a");
    assert_string_equal(claim_str(c.json, "rtmr0"),
                        "9b529f3689e2e8ebb899e9abbbc3dab394d6545e8cdb28a2abb9cc2f377b83a65c01ba56b8"
                        "24cd3ee885df20051f5128");
    assert_string_equal(claim_str(c.json, "rtmr1"),
                        "ca5a979317ffe8a527a3b7aadab03976d7cb6eef1041fb9bd9d69e6fafa7252cdc10e4c2a5"
                        "5e7ecbd2ddb5cacc867430");
    assert_string_equal(claim_str(c.json, "rtmr2"), ZERO48);
    assert_string_equal(claim_str(c.json, "report_data"),
                        "6d6ab13b046cff606ac0074be13981b07b6325dba10b5facc96febf551c0c3be"
                        "2b75f92fe1f88f4bb996969ad0174b4b7a70261b7b85c844f4b33a4674fd049f");
    assert_int_equal(claim_int(c.json, "qe_isv_svn"), 6);
    attest_claims_free(&c);
    /* PCK leaf valid from 2024-03-18 */
    t.at = tv_time("2024-03-01T00:00:00Z");
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_EXPIRED);
    free(q);
}

static char *hex_field(json_t *o, const char *k, size_t *len)
{
    uint8_t *b;
    const char *s = json_string_value(json_object_get(o, k));
    assert_non_null(s);
    assert_int_equal(cairn_hex_decode(s, strlen(s), &b, len), 0);
    return (char *)b;
}

/* dcap-qvl could_parse_tdx_quote + verification at 2025-07-19T10:00:34Z:
 * UpToDate, no advisories. The collateral comes as dcap-qvl's JSON; the PCS
 * documents are assembled from its exact strings (no re-serialisation). */
static void test_phala(void **state)
{
    (void)state;
    size_t n, cl;
    uint8_t *q = tv_load("tdx/phala_tdx_quote.bin", &n);
    char *col = (char *)tv_load("tdx/phala_tdx_quote_collateral.json", &cl);
    json_t *cj = json_loadb(col, cl, 0, NULL);
    assert_non_null(cj);
    char *tcb = NULL, *qe = NULL;
    assert_true(asprintf(&tcb, "{\"tcbInfo\":%s,\"signature\":\"%s\"}",
                         json_string_value(json_object_get(cj, "tcb_info")),
                         json_string_value(json_object_get(cj, "tcb_info_signature"))) > 0);
    assert_true(asprintf(&qe, "{\"enclaveIdentity\":%s,\"signature\":\"%s\"}",
                         json_string_value(json_object_get(cj, "qe_identity")),
                         json_string_value(json_object_get(cj, "qe_identity_signature"))) > 0);
    const char *chain_pem = json_string_value(json_object_get(cj, "tcb_info_issuer_chain"));
    BIO *b = BIO_new_mem_buf(chain_pem, -1);
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        sk_X509_push(chain, x);
    BIO_free(b);
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    size_t dl;
    char *der = hex_field(cj, "pck_crl", &dl);
    sk_X509_CRL_push(crls, tv_crl_der((uint8_t *)der, dl));
    free(der);
    der = hex_field(cj, "root_ca_crl", &dl);
    sk_X509_CRL_push(crls, tv_crl_der((uint8_t *)der, dl));
    free(der);

    struct attest_trust t = {.tcb_info = tcb,
                             .tcb_info_len = strlen(tcb),
                             .qe_identity = qe,
                             .qe_identity_len = strlen(qe),
                             .collateral_chain = chain,
                             .crls = crls,
                             .require_collateral = true,
                             .at = 1752919234};
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = verify(q, n, &t, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(claim_str(c.json, "tcb_status"), "UpToDate");
    assert_int_equal(json_array_size(json_object_get(c.json, "advisory_ids")), 0);
    assert_string_equal(claim_str(c.json, "qe_tcb_status"), "UpToDate");
    assert_string_equal(claim_str(c.json, "tdx_module_tcb_status"), "UpToDate");
    assert_int_equal(claim_int(c.json, "trailing_bytes"), 70);
    assert_string_equal(claim_str(c.json, "fmspc"), "b0c06f000000");
    assert_string_equal(claim_str(c.json, "tee_tcb_svn"), "06010300000000000000000000000000");
    assert_string_equal(claim_str(c.json, "mrtd"),
                        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5"
                        "f87f27428b2538873118b7");
    assert_string_equal(claim_str(c.json, "rtmr0"),
                        "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b22"
                        "0b80b6a540cf994b9bc9c0");
    assert_string_equal(claim_str(c.json, "rtmr1"),
                        "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c1"
                        "73019b3093d54e579e9378");
    assert_string_equal(claim_str(c.json, "rtmr2"),
                        "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870"
                        "d7330733642e01d48c3132");
    assert_string_equal(claim_str(c.json, "rtmr3"), ZERO48);
    assert_string_equal(claim_str(c.json, "report_data"),
                        "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9"
                        "eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20");
    assert_string_equal(claim_str(c.json, "td_attributes"), "0000001000000000");
    assert_int_equal(claim_int(c.json, "qe_isv_svn"), 6);
    assert_true(claim_has_check(c.json, "pck_crl"));
    assert_true(claim_has_check(c.json, "qe_identity"));
    attest_claims_free(&c);

    /* one second after the earliest nextUpdate (PCK CRL / TCB info): refused */
    t.at = tv_time("2025-07-19T10:16:04Z");
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_EXPIRED);
    /* present time */
    t.at = 0;
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_EXPIRED);
    /* a TCB info byte changed (the signature covers the exact text) */
    t.at = 1752919234;
    char *p = strstr(tcb, "\"tcbEvaluationDataNumber\":17");
    assert_non_null(p);
    p[strlen("\"tcbEvaluationDataNumber\":1")] = '8';
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "tcb info: signature does not verify"));
    p[strlen("\"tcbEvaluationDataNumber\":1")] = '7';
    /* whitespace added inside the signed object: same JSON, different bytes */
    char *ws = NULL;
    assert_true(asprintf(&ws, "{\"tcbInfo\": %s ,\"signature\":\"%s\"}",
                         json_string_value(json_object_get(cj, "tcb_info")),
                         json_string_value(json_object_get(cj, "tcb_info_signature"))) > 0);
    t.tcb_info = ws;
    t.tcb_info_len = strlen(ws);
    assert_int_equal(verify(q, n, &t, &c, &err), 0); /* outside the object: still the same bytes */
    attest_claims_free(&c);
    free(ws);
    /* the QE identity's MRSIGNER changed: signature breaks */
    t.tcb_info = tcb;
    t.tcb_info_len = strlen(tcb);
    p = strstr(qe, "DC9E2A7C");
    assert_non_null(p);
    p[0] = 'D' == p[0] ? 'E' : 'D';
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "qe identity: signature does not verify"));

    sk_X509_pop_free(chain, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    json_decref(cj);
    free(tcb);
    free(qe);
    free(col);
    free(q);
}

/* dcap-qvl could_parse_tdx_quote: the insta snapshot of the parsed Phala
 * quote (Rust Debug output, byte arrays in decimal) against our parse, every
 * field. */
static size_t snap_bytes(const char *snap, const char *name, uint8_t *out, size_t max)
{
    char key[64];
    snprintf(key, sizeof(key), " %s: [", name);
    const char *p = strstr(snap, key);
    if (p == NULL) {
        fprintf(stderr, "snapshot has no %s\n", name);
        fail();
    }
    p += strlen(key);
    size_t n = 0;
    while (*p != ']' && *p != '\0') {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        assert_true(v >= 0 && v <= 255 && n < max);
        out[n++] = (uint8_t)v;
        p = end;
    }
    return n;
}

static long snap_int(const char *snap, const char *name)
{
    char key[64];
    snprintf(key, sizeof(key), " %s: ", name);
    const char *p = strstr(snap, key);
    assert_non_null(p);
    return strtol(p + strlen(key), NULL, 10);
}

static void test_phala_snapshot(void **state)
{
    (void)state;
    size_t n, sn;
    uint8_t *q = tv_load("tdx/phala_tdx_quote.bin", &n);
    char *snap = (char *)tv_load("tdx/phala_tdx_quote.parsed.snap", &sn);
    struct dcap_quote dq;
    struct cairn_error err = {0};
    assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_TDX, &dq, &err), 0);
    assert_int_equal(snap_int(snap, "version"), dq.version);
    assert_int_equal(snap_int(snap, "attestation_key_type"), dq.att_key_type);
    assert_int_equal(snap_int(snap, "tee_type"), dq.tee_type);
    assert_int_equal(snap_int(snap, "qe_svn"), dq.qe_svn);
    assert_int_equal(snap_int(snap, "pce_svn"), dq.pce_svn);
    static const struct {
        const char *name;
        size_t off, len;
    } body[] = {
        {"tee_tcb_svn", 0, 16},       {"mr_seam", 16, 48},       {"mr_signer_seam", 64, 48},
        {"seam_attributes", 112, 8},  {"td_attributes", 120, 8}, {"xfam", 128, 8},
        {"mr_td", 136, 48},           {"mr_config_id", 184, 48}, {"mr_owner", 232, 48},
        {"mr_owner_config", 280, 48}, {"rt_mr0", 328, 48},       {"rt_mr1", 376, 48},
        {"rt_mr2", 424, 48},          {"rt_mr3", 472, 48},       {"report_data", 520, 64},
    };
    uint8_t buf[512];
    for (size_t i = 0; i < sizeof(body) / sizeof(body[0]); i++) {
        assert_int_equal(snap_bytes(snap, body[i].name, buf, sizeof(buf)), body[i].len);
        assert_memory_equal(buf, dq.body + body[i].off, body[i].len);
    }
    assert_int_equal(snap_bytes(snap, "qe_vendor_id", buf, sizeof(buf)), 16);
    assert_memory_equal(buf, dq.qe_vendor_id, 16);
    assert_int_equal(snap_bytes(snap, "user_data", buf, sizeof(buf)), 20);
    assert_memory_equal(buf, dq.user_data, 20);
    assert_int_equal(snap_bytes(snap, "ecdsa_signature", buf, sizeof(buf)), 64);
    assert_memory_equal(buf, dq.signature, 64);
    assert_int_equal(snap_bytes(snap, "ecdsa_attestation_key", buf, sizeof(buf)), 64);
    assert_memory_equal(buf, dq.att_key, 64);
    assert_int_equal(snap_bytes(snap, "qe_report", buf, sizeof(buf)), 384);
    assert_memory_equal(buf, dq.qe_report, 384);
    assert_int_equal(snap_bytes(snap, "qe_report_signature", buf, sizeof(buf)), 64);
    assert_memory_equal(buf, dq.qe_report_sig, 64);
    assert_int_equal(snap_bytes(snap, "data", buf, sizeof(buf)), dq.qe_auth_size);
    assert_memory_equal(buf, dq.qe_auth, dq.qe_auth_size);
    assert_int_equal(snap_int(snap, "cert_type"), 6); /* outer, first in the dump */
    assert_non_null(strstr(snap, "cert_type: 5"));
    assert_int_equal(dq.cert_type, 5);
    /* the PEM body of the inner certification data, as dumped (\n escaped, NUL at the end) */
    const char *b = strstr(snap, "cert_type: 5,");
    b = strstr(b, "body: \"") + 7;
    size_t k = 0;
    for (; *b != '"' && k < dq.pck_pem_size; b++, k++) {
        char ch = *b;
        if (ch == '\\') {
            b++;
            ch = *b == 'n' ? '\n' : *b == '0' ? '\0' : *b;
        }
        assert_int_equal((unsigned char)ch, (unsigned char)dq.pck_pem[k]);
    }
    assert_int_equal(k, dq.pck_pem_size);
    free(snap);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spr_e4_values),
        cmocka_unit_test(test_spr_e4_mutations),
        cmocka_unit_test(test_spr_e4_collateral),
        cmocka_unit_test(test_spr_e4_zeroed_level),
        cmocka_unit_test(test_cos113),
        cmocka_unit_test(test_v5_sample),
        cmocka_unit_test(test_trustee_v4),
        cmocka_unit_test(test_trustee_v5),
        cmocka_unit_test(test_phala),
        cmocka_unit_test(test_phala_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
