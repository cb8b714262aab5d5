/* SGX DCAP quote v3: every shared SGX vector verifies at the upstream time
 * with the upstream ground truth; the upstream byte mutations, expired
 * certificates/collateral, stale CRLs and OE-header variants are refused with
 * the right error. */
#include "test_sgx_util.h"

#include "attest/attest.h"
#include "attest/collateral.h"

#include <pthread.h>

struct fixture {
    uint8_t *quote;
    size_t len;
    char *tcb, *qe;
    size_t tcb_len, qe_len;
    STACK_OF(X509) * chain;
    STACK_OF(X509_CRL) * crls;
};

static void fixture_free(struct fixture *f)
{
    free(f->quote);
    free(f->tcb);
    free(f->qe);
    sk_X509_pop_free(f->chain, X509_free);
    sk_X509_CRL_pop_free(f->crls, X509_CRL_free);
    memset(f, 0, sizeof(*f));
}

static int verify(const uint8_t *q, size_t n, const struct attest_trust *t, struct attest_claims *c,
                  struct cairn_error *err)
{
    struct attest_evidence ev = {.type = ATTEST_SGX, .quote = q, .quote_len = n};
    memset(c, 0, sizeof(*c));
    return attest_verify(&ev, t, NULL, 0, c, err);
}

static void load_mobilecoin(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->quote = tv_load("sgx/mobilecoin_hw_quote.dat", &f->len);
    f->tcb =
        (char *)tv_load("sgx/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json", &f->tcb_len);
    f->qe = (char *)tv_load("sgx/mobilecoin_qe_identity.json", &f->qe_len);
    f->chain = tv_certs("sgx/mobilecoin_tcb_signer.pem");
    static const char *const crls[] = {"sgx/mobilecoin_root_crl.der"};
    f->crls = tv_crls(crls, 1);
}

static struct attest_trust trust_of(const struct fixture *f, const char *at)
{
    struct attest_trust t = {0};
    t.tcb_info = f->tcb;
    t.tcb_info_len = f->tcb_len;
    t.qe_identity = f->qe;
    t.qe_identity_len = f->qe_len;
    t.collateral_chain = f->chain;
    t.crls = f->crls;
    t.at = at ? tv_time(at) : 0;
    return t;
}

/* trustee parse_sgx_claims ground truth (transcribed JSON). */
static void test_occlum_trustee_claims(void **state)
{
    (void)state;
    size_t n, en;
    uint8_t *q = tv_load("sgx/trustee_occlum_quote.dat", &n);
    char *exp = (char *)tv_load("sgx/trustee_occlum_expected_claims.json", &en);
    json_t *ej = json_loadb(exp, en, 0, NULL);
    assert_non_null(ej);
    json_t *e = json_object_get(ej, "expected_claims"), *body = json_object_get(e, "body");
    struct attest_trust t = {.at = tv_time("2024-06-01T00:00:00Z")};
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = verify(q, n, &t, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(claim_str(c.json, "mrenclave"),
                        json_string_value(json_object_get(body, "mr_enclave")));
    assert_string_equal(claim_str(c.json, "mrsigner"),
                        json_string_value(json_object_get(body, "mr_signer")));
    assert_string_equal(claim_str(c.json, "cpu_svn"),
                        json_string_value(json_object_get(body, "cpu_svn")));
    assert_string_equal(claim_str(c.json, "config_id"),
                        json_string_value(json_object_get(body, "config_id")));
    assert_string_equal(claim_str(c.json, "isv_family_id"),
                        json_string_value(json_object_get(body, "isv_family_id")));
    assert_string_equal(claim_str(c.json, "isv_ext_prod_id"),
                        json_string_value(json_object_get(body, "isv_ext_prod_id")));
    assert_string_equal(claim_str(c.json, "report_data"),
                        json_string_value(json_object_get(e, "report_data")));
    /* trustee prints the platform instance ID byte-reversed; the claim keeps
     * the certificate's byte order. */
    const char *pid = json_string_value(json_object_get(e, "platform_instance_id"));
    const char *got = claim_str(c.json, "platform_instance_id");
    assert_int_equal(strlen(got), 32);
    for (int i = 0; i < 16; i++)
        assert_memory_equal(got + 2 * i, pid + 30 - 2 * i, 2);
    char attr[64];
    snprintf(attr, sizeof(attr), "%s%s",
             json_string_value(json_object_get(body, "attributes.flags")),
             json_string_value(json_object_get(body, "attributes.xfrm")));
    assert_string_equal(claim_str(c.json, "attributes"), attr);
    assert_int_equal(claim_int(c.json, "qe_svn"), 8);
    assert_int_equal(claim_int(c.json, "pce_svn"), 13);
    assert_int_equal(claim_int(c.json, "misc_select"), 1);
    assert_int_equal(claim_int(c.json, "isv_prod_id"), 0);
    assert_int_equal(claim_int(c.json, "isv_svn"), 0);
    assert_int_equal(claim_int(c.json, "config_svn"), 0);
    assert_int_equal(claim_int(c.json, "quote_version"), 3);
    assert_int_equal(claim_int(c.json, "qe_isv_svn"), 8);
    assert_string_equal(claim_str(c.json, "fmspc"), "00606a000000");
    assert_true(json_is_true(json_object_get(c.json, "debug"))); /* flags 0x07: DEBUG set */
    assert_true(json_is_false(json_object_get(c.json, "oe_header")));
    assert_null(json_object_get(c.json, "tcb_status")); /* no collateral */
    assert_int_equal(json_array_size(json_object_get(c.json, "advisory_ids")), 0);
    assert_true(claim_has_check(c.json, "pck_chain"));
    assert_true(claim_has_check(c.json, "qe_report_signature"));
    assert_true(claim_has_check(c.json, "qe_report_binding"));
    assert_true(claim_has_check(c.json, "quote_signature"));
    assert_memory_equal(c.report_data, "test", 4);
    attest_claims_free(&c);

    /* Binding through attest_verify: "test" then zeros. */
    struct attest_evidence ev = {.type = ATTEST_SGX, .quote = q, .quote_len = n};
    assert_int_equal(attest_verify(&ev, &t, (const uint8_t *)"test", 4, &c, &err), 0);
    assert_true(claim_has_check(c.json, "report_data_binding"));
    attest_claims_free(&c);
    assert_int_equal(attest_verify(&ev, &t, (const uint8_t *)"tesT", 4, &c, &err),
                     CAIRN_ERR_VERIFY);

    /* The PCK leaf is valid 2023-04-26 .. 2030-04-26. */
    t.at = tv_time("2023-04-01T00:00:00Z");
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "not yet valid"));
    t.at = tv_time("2031-01-01T00:00:00Z");
    assert_int_equal(verify(q, n, &t, &c, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "has expired"));
    json_decref(ej);
    free(exp);
    free(q);
}

/* mobilecoin evidence_verifier_succeeds: full collateral at 2023-07-12T20:48:25Z. */
static void test_mobilecoin_full(void **state)
{
    (void)state;
    struct fixture f;
    load_mobilecoin(&f);
    struct attest_trust t = trust_of(&f, "2023-07-12T20:48:25Z");
    t.require_collateral = true;
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = verify(f.quote, f.len, &t, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(claim_str(c.json, "mrenclave"),
                        "840d61b0585dc8b4dc90f53af293c760fda06bee75978a6a86263ffb296423f4");
    assert_string_equal(claim_str(c.json, "mrsigner"),
                        "9f06df5ca79a23ffdfb6ca0ec85514e21dd1cbd1ed11abc45dbe8dc894efdddf");
    assert_int_equal(claim_int(c.json, "isv_prod_id"), 0);
    assert_int_equal(claim_int(c.json, "isv_svn"), 0);
    assert_string_equal(claim_str(c.json, "tcb_status"), "SWHardeningNeeded");
    assert_string_equal(claim_str(c.json, "platform_tcb_status"), "SWHardeningNeeded");
    assert_string_equal(claim_str(c.json, "qe_tcb_status"), "UpToDate");
    assert_string_equal(claim_str(c.json, "tcb_date"), "2023-02-15T00:00:00Z");
    assert_int_equal(claim_int(c.json, "tcb_evaluation_data_number"), 15);
    json_t *adv = json_object_get(c.json, "advisory_ids");
    assert_int_equal(json_array_size(adv), 2);
    assert_string_equal(json_string_value(json_array_get(adv, 0)), "INTEL-SA-00334");
    assert_string_equal(json_string_value(json_array_get(adv, 1)), "INTEL-SA-00615");
    /* decoded values */
    assert_int_equal(claim_int(c.json, "qe_svn"), 9);
    assert_int_equal(claim_int(c.json, "pce_svn"), 14);
    assert_int_equal(claim_int(c.json, "qe_isv_svn"), 9);
    assert_string_equal(claim_str(c.json, "cpu_svn"), "14140b07ff800e000000000000000000");
    assert_string_equal(claim_str(c.json, "fmspc"), "00906ed50000");
    assert_string_equal(claim_str(c.json, "ppid"), "7cd196834f0bd237fa3ec65dae404c5a");
    assert_int_equal(claim_int(c.json, "pck_pce_svn"), 13);
    json_t *comps = json_object_get(c.json, "pck_tcb_components");
    static const int want[16] = {20, 20, 2, 4, 1, 128, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 16; i++)
        assert_int_equal(json_integer_value(json_array_get(comps, i)), want[i]);
    assert_true(json_is_false(json_object_get(c.json, "debug"))); /* flags 0x05 */
    static const char *const checks[] = {
        "pck_chain",         "pck_crl",         "qe_report_signature",
        "qe_report_binding", "quote_signature", "tcb_signing_chain",
        "tcb_info",          "tcb_level",       "qe_identity"};
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
        assert_true(claim_has_check(c.json, checks[i]));
    attest_claims_free(&c);
    fixture_free(&f);
}

/* mobilecoin's negative tests, and the stale processor CRL. */
static void test_mobilecoin_negative(void **state)
{
    (void)state;
    struct fixture f;
    load_mobilecoin(&f);
    struct attest_claims c;
    struct cairn_error err = {0};

    struct attest_trust t = trust_of(&f, "2023-08-11T19:56:44Z");
    assert_int_equal(verify(f.quote, f.len, &t, &c, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "tcb info: expired"));

    t = trust_of(&f, "2023-07-12T19:56:44Z");
    assert_int_equal(verify(f.quote, f.len, &t, &c, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "qe identity: not yet valid"));

    /* Present time: the collateral expired in 2023. */
    t = trust_of(&f, NULL);
    assert_int_equal(verify(f.quote, f.len, &t, &c, &err), CAIRN_ERR_EXPIRED);

    /* quote byte [2] += 1: the attestation key type becomes 3, refused by the
     * allow-list before any signature check (upstream: signature mismatch). */
    t = trust_of(&f, "2023-07-12T20:48:25Z");
    uint8_t *m = malloc(f.len);
    memcpy(m, f.quote, f.len);
    m[2]++;
    assert_int_equal(verify(m, f.len, &t, &c, &err), CAIRN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "attestation key type 3"));
    /* The same flip in a signed byte the parser does not police: user data. */
    memcpy(m, f.quote, f.len);
    m[0x1c]++;
    assert_int_equal(verify(m, f.len, &t, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "quote signature does not verify"));

    /* QE vendor ID (header 0x0C) must be Intel's */
    memcpy(m, f.quote, f.len);
    m[0x0c] ^= 1;
    assert_int_equal(verify(m, f.len, &t, &c, &err), CAIRN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "QE vendor ID is not Intel's"));

    /* certification data type set to 1 */
    memcpy(m, f.quote, f.len);
    uint16_t auth = (uint16_t)(m[0x3f4] | m[0x3f5] << 8);
    m[0x3f6 + auth] = 1;
    assert_int_equal(verify(m, f.len, &t, &c, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "certification data type 1 must be 52 bytes, got"));
    m[0x3f6 + auth] = 4;
    assert_int_equal(verify(m, f.len, &t, &c, &err), CAIRN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "certification data type 4 not supported"));
    free(m);

    /* TCB info for another FMSPC: the steward Ice Lake one (valid in
     * 2023-02, when the mobilecoin PCK leaf was not yet issued), applied to the
     * mcsgx quote of the same FMSPC as mobilecoin's. */
    size_t sl, ql;
    char *other = (char *)tv_load("sgx/steward_icelake_xeon_tcbinfo.json", &sl);
    uint8_t *mq = tv_load("sgx/mcsgx_hw_quote.dat", &ql);
    STACK_OF(X509) *sch = tv_certs("sgx/steward_icelake_xeon_tcb_signing_chain.pem");
    struct attest_trust t2 = {.tcb_info = other,
                              .tcb_info_len = sl,
                              .collateral_chain = sch,
                              .at = tv_time("2023-02-01T00:00:00Z")};
    assert_int_equal(verify(mq, ql, &t2, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(
        strstr(err.msg, "fmspc mismatch: collateral 00606a000000, PCK certificate 00906ed50000"));
    sk_X509_pop_free(sch, X509_free);
    free(mq);
    free(other);

    /* The processor CRL's nextUpdate (2023-05-21) is before the upstream test
     * time: Cairn refuses a stale CRL instead of ignoring it. */
    size_t cl;
    uint8_t *crl = tv_load("sgx/mobilecoin_processor_crl.der", &cl);
    sk_X509_CRL_push(f.crls, tv_crl_der(crl, cl));
    free(crl);
    t = trust_of(&f, "2023-07-12T20:48:25Z");
    assert_int_equal(verify(f.quote, f.len, &t, &c, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "CRL of \"Intel SGX PCK Processor CA\" is stale"));
    /* ... and accepts it while it was current (PCK leaf valid from 2023-06-08,
     * so only the chain up to the CRL check can be shown on an earlier date:
     * the leaf is not yet valid then). */
    t.at = tv_time("2023-05-01T00:00:00Z");
    t.tcb_info = NULL;
    t.qe_identity = NULL;
    assert_int_equal(verify(f.quote, f.len, &t, &c, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "not yet valid"));

    /* require_collateral without QE identity */
    t = trust_of(&f, "2023-07-12T20:48:25Z");
    sk_X509_CRL_pop_free(f.crls, X509_CRL_free);
    f.crls = NULL;
    t.crls = NULL;
    t.qe_identity = NULL;
    t.require_collateral = true;
    assert_int_equal(verify(f.quote, f.len, &t, &c, &err), CAIRN_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "QE identity required"));
    /* without QE identity, not required: platform status only */
    t.require_collateral = false;
    assert_int_equal(verify(f.quote, f.len, &t, &c, &err), 0);
    assert_string_equal(claim_str(c.json, "tcb_status"), "SWHardeningNeeded");
    assert_null(json_object_get(c.json, "qe_tcb_status"));
    attest_claims_free(&c);
    /* no TCB signing chain */
    t.collateral_chain = NULL;
    assert_int_equal(verify(f.quote, f.len, &t, &c, &err), CAIRN_ERR_NOT_FOUND);
    fixture_free(&f);
}

/* mobilecoinfoundation/sgx quote3.rs tests. */
static void test_mcsgx_mutations(void **state)
{
    (void)state;
    size_t n;
    uint8_t *q = tv_load("sgx/mcsgx_hw_quote.dat", &n);
    struct attest_trust t = {.at = tv_time("2023-01-01T00:00:00Z")};
    struct attest_claims c;
    struct cairn_error err = {0};
    assert_int_equal(verify(q, n, &t, &c, &err), 0);
    assert_string_equal(claim_str(c.json, "mrenclave"),
                        "1dd0df84810e53e26b2b167dfe0f97cc4364085fe0bd41d5e18a759c21d5c189");
    assert_string_equal(claim_str(c.json, "mrsigner"),
                        "d412a4f07ef83892a5915fb2ab584be31e186e5a4f95ab5f6950fd4eb8694d7b");
    assert_true(json_is_true(json_object_get(c.json, "debug")));
    assert_int_equal(claim_int(c.json, "qe_svn"), 7);
    assert_int_equal(claim_int(c.json, "pce_svn"), 12);
    assert_int_equal(claim_int(c.json, "qe_isv_svn"), 7);
    assert_string_equal(claim_str(c.json, "fmspc"), "00906ed50000");
    attest_claims_free(&c);

    uint8_t *m = malloc(n);
    memcpy(m, q, n);
    m[0x234]++; /* QE report */
    assert_int_equal(verify(m, n, &t, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "QE report signature does not verify"));
    memcpy(m, q, n);
    m[0x30]++; /* ISV report body */
    assert_int_equal(verify(m, n, &t, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "quote signature does not verify"));
    memcpy(m, q, n);
    m[0x1f4]++; /* attestation key: binding breaks first (the hash covers it) */
    assert_int_equal(verify(m, n, &t, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "QE report data does not bind"));

    /* Attestation key replaced by the PCK leaf key. */
    memcpy(m, q, n);
    {
        struct dcap_quote dq;
        assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_SGX, &dq, &err), 0);
        BIO *b = BIO_new_mem_buf(dq.pck_pem, (int)dq.pck_pem_size);
        X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
        assert_non_null(leaf);
        uint8_t pt[65];
        unsigned char *enc = NULL;
        size_t ptl = EVP_PKEY_get1_encoded_public_key(X509_get0_pubkey(leaf), &enc);
        assert_int_equal(ptl, 65);
        memcpy(pt, enc, 65);
        OPENSSL_free(enc);
        memcpy(m + 0x1f4, pt + 1, 64);
        X509_free(leaf);
    }
    assert_int_equal(verify(m, n, &t, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "QE report data does not bind"));
    free(m);
    free(q);
}

/* enarx/steward Ice Lake CSR: TCB info + all three CRLs. */
static void test_steward_icelake(void **state)
{
    (void)state;
    struct fixture f = {0};
    f.quote = tv_load("sgx/steward_icelake_xeon_quote.dat", &f.len);
    f.tcb = (char *)tv_load("sgx/steward_icelake_xeon_tcbinfo.json", &f.tcb_len);
    f.chain = tv_certs("sgx/steward_icelake_xeon_tcb_signing_chain.pem");
    static const char *const crls[] = {"sgx/steward_icelake_xeon_rootca_crl.der",
                                       "sgx/steward_icelake_xeon_pckcrl_processor.der",
                                       "sgx/steward_icelake_xeon_pckcrl_platform.der"};
    f.crls = tv_crls(crls, 3);
    struct attest_trust t = trust_of(&f, "2023-02-01T00:00:00Z");
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = verify(f.quote, f.len, &t, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(claim_str(c.json, "mrsigner"),
                        "7a49a07df0f8e90a6e1d9a63e3c696d9c844f0e3f8739b21daa640f99facc48a");
    assert_string_equal(claim_str(c.json, "mrenclave"),
                        "4046ea255f0455131a024e1265ac1ebd131fdbd1240f1712a00381f6f04e8c15");
    assert_int_equal(claim_int(c.json, "isv_svn"), 0);
    assert_int_equal(claim_int(c.json, "isv_prod_id"), 0);
    assert_string_equal(claim_str(c.json, "report_data"),
                        "e8fb117dc821f696a14df8c16e6b18045924873efcf5d3ca33300d1d40bc765c"
                        "0000000000000000000000000000000000000000000000000000000000000000");
    assert_string_equal(claim_str(c.json, "cpu_svn"), "06060e0dffff00000000000000000000");
    assert_string_equal(claim_str(c.json, "fmspc"), "00606a000000");
    assert_string_equal(claim_str(c.json, "tcb_status"), "OutOfDate");
    assert_string_equal(claim_str(c.json, "tcb_date"), "2021-11-10T00:00:00Z");
    json_t *adv = json_object_get(c.json, "advisory_ids");
    static const char *const want[] = {"INTEL-SA-00586", "INTEL-SA-00614", "INTEL-SA-00615",
                                       "INTEL-SA-00657"};
    assert_int_equal(json_array_size(adv), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_array_get(adv, i)), want[i]);
    assert_true(claim_has_check(c.json, "pck_crl"));
    /* every advisory is within steward's allowed list */
    static const char *const allowed[] = {"INTEL-SA-00289", "INTEL-SA-00381", "INTEL-SA-00389",
                                          "INTEL-SA-00477", "INTEL-SA-00586", "INTEL-SA-00614",
                                          "INTEL-SA-00615", "INTEL-SA-00617", "INTEL-SA-00657"};
    for (size_t i = 0; i < json_array_size(adv); i++) {
        bool found = false;
        for (size_t k = 0; k < 9; k++)
            found |= strcmp(allowed[k], json_string_value(json_array_get(adv, i))) == 0;
        assert_true(found);
    }
    attest_claims_free(&c);

    /* Platform CRL expires 2023-02-24: stale afterwards, TCB info 2023-02-25. */
    t.at = tv_time("2023-02-24T12:00:00Z");
    assert_int_equal(verify(f.quote, f.len, &t, &c, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "is stale"));
    /* 2053: the PCK leaf (2030) has expired. */
    t.at = tv_time("2053-07-01T00:00:00Z");
    assert_int_equal(verify(f.quote, f.len, &t, &c, &err), CAIRN_ERR_EXPIRED);
    /* A TCB info byte changed inside the signed object. */
    char *m = malloc(f.tcb_len);
    memcpy(m, f.tcb, f.tcb_len);
    char *p = strstr(m, "\"tcbEvaluationDataNumber\":14");
    assert_non_null(p);
    p[strlen("\"tcbEvaluationDataNumber\":1")] = '5';
    t = trust_of(&f, "2023-02-01T00:00:00Z");
    t.tcb_info = m;
    assert_int_equal(verify(f.quote, f.len, &t, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "tcb info: signature does not verify"));
    free(m);
    fixture_free(&f);
}

/* MarbleRun's 16-byte OE header in front of the quote. */
static void test_oe_header(void **state)
{
    (void)state;
    size_t n;
    uint8_t *q = tv_load("sgx/trustee_occlum_quote.dat", &n);
    uint8_t *m = malloc(n + 16);
    uint8_t hdr[16] = {1, 0, 0, 0, 2, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        hdr[8 + i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(m, hdr, 16);
    memcpy(m + 16, q, n);
    struct attest_trust t = {.at = tv_time("2024-06-01T00:00:00Z")};
    struct attest_claims c;
    struct cairn_error err = {0};
    assert_int_equal(verify(m, n + 16, &t, &c, &err), 0);
    assert_true(json_is_true(json_object_get(c.json, "oe_header")));
    assert_string_equal(claim_str(c.json, "mrenclave"),
                        "8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68");
    attest_claims_free(&c);
    m[8]++; /* size off by one */
    assert_int_equal(verify(m, n + 16, &t, &c, &err), CAIRN_ERR_TRUNCATED);
    assert_non_null(strstr(err.msg, "OE header size"));
    m[8] -= 2;
    assert_int_equal(verify(m, n + 16, &t, &c, &err), CAIRN_ERR_TRAILING);
    free(m);
    free(q);
}

/* The verified-result cache: hits give the same claims, never outlive the
 * window of what they remember, and are keyed by every trust input. */
static void test_cache(void **state)
{
    (void)state;
    struct fixture f;
    load_mobilecoin(&f);
    dcap_cache_clear();
    struct attest_trust t = trust_of(&f, "2023-07-12T20:48:25Z");
    struct attest_claims c1, c2;
    struct cairn_error err = {0};
    unsigned long long hits, misses;
    assert_int_equal(verify(f.quote, f.len, &t, &c1, &err), 0);
    dcap_cache_stats(&hits, &misses);
    assert_int_equal(hits, 0);
    assert_int_equal(misses, 3); /* PCK chain, TCB info, QE identity */
    assert_int_equal(verify(f.quote, f.len, &t, &c2, &err), 0);
    dcap_cache_stats(&hits, &misses);
    assert_int_equal(hits, 3);
    assert_true(json_equal(c1.json, c2.json));
    attest_claims_free(&c1);
    attest_claims_free(&c2);

    /* outside the PCK leaf's validity: not served from the cache */
    t.at = tv_time("2031-01-01T00:00:00Z");
    assert_int_equal(verify(f.quote, f.len, &t, &c1, &err), CAIRN_ERR_EXPIRED);
    /* the collateral's own dates are checked on every hit */
    t.at = tv_time("2023-08-11T19:56:44Z");
    assert_int_equal(verify(f.quote, f.len, &t, &c1, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "tcb info: expired"));

    /* another CRL set is another key: the stale processor CRL is seen */
    size_t cl;
    uint8_t *crl = tv_load("sgx/mobilecoin_processor_crl.der", &cl);
    sk_X509_CRL_push(f.crls, tv_crl_der(crl, cl));
    free(crl);
    t = trust_of(&f, "2023-07-12T20:48:25Z");
    assert_int_equal(verify(f.quote, f.len, &t, &c1, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "is stale"));

    /* a mutated quote outside the PEM hits the chain entry but still fails
     * its own signature */
    X509_CRL_free(sk_X509_CRL_pop(f.crls));
    t = trust_of(&f, "2023-07-12T20:48:25Z");
    uint8_t *m = malloc(f.len);
    memcpy(m, f.quote, f.len);
    m[0x100] ^= 1;
    assert_int_equal(verify(m, f.len, &t, &c1, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "quote signature does not verify"));
    free(m);

    /* disabled: no hits */
    dcap_cache_clear();
    dcap_cache_set_enabled(false);
    assert_int_equal(verify(f.quote, f.len, &t, &c1, &err), 0);
    attest_claims_free(&c1);
    assert_int_equal(verify(f.quote, f.len, &t, &c1, &err), 0);
    attest_claims_free(&c1);
    dcap_cache_stats(&hits, &misses);
    assert_int_equal(hits, 0);
    dcap_cache_set_enabled(true);
    fixture_free(&f);
}

/* A quote with PPID certification data (type 3, RSA-3072 encrypted PPID)
 * carries no PCK chain: it comes in evidence.certs. Built from the mobilecoin
 * quote by replacing its type-5 data (outside every signature). */
static void test_ppid_type3_with_certs(void **state)
{
    (void)state;
    size_t n;
    uint8_t *q = tv_load("sgx/mobilecoin_hw_quote.dat", &n);
    struct dcap_quote dq;
    struct cairn_error err = {0};
    assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_SGX, &dq, &err), 0);
    size_t head = (size_t)(dq.cert_data - q) - 6; /* up to the cert type field */
    size_t m_len = head + 6 + 420;
    uint8_t *m = calloc(1, m_len);
    memcpy(m, q, head);
    m[head] = 3;
    m[head + 2] = 420 & 0xff;
    m[head + 3] = 420 >> 8;
    uint32_t sig_len = (uint32_t)(m_len - 0x1b4);
    for (int i = 0; i < 4; i++)
        m[0x1b0 + i] = (uint8_t)(sig_len >> (8 * i));
    memset(m + head + 6, 0x5a, 420);
    m[m_len - 2] = m[m_len - 1] = 0; /* PCE-ID 0000, as in the PCK certificate */

    struct attest_trust t = {.at = tv_time("2023-07-12T20:48:25Z")};
    struct attest_evidence ev = {.type = ATTEST_SGX, .quote = m, .quote_len = m_len};
    struct attest_claims c;
    assert_int_equal(attest_verify(&ev, &t, NULL, 0, &c, &err), CAIRN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "certification data type 3 carries no PCK chain"));
    ev.certs = (const uint8_t *)dq.pck_pem;
    ev.certs_len = dq.pck_pem_size;
    int rc = attest_verify(&ev, &t, NULL, 0, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(claim_str(c.json, "pck_chain_source"), "evidence");
    assert_int_equal(claim_int(c.json, "cert_data_type"), 3);
    assert_string_equal(claim_str(c.json, "mrenclave"),
                        "840d61b0585dc8b4dc90f53af293c760fda06bee75978a6a86263ffb296423f4");
    attest_claims_free(&c);
    /* a chain of another platform: its PCK key did not sign this QE report */
    size_t on;
    uint8_t *oq = tv_load("sgx/mcsgx_hw_quote.dat", &on);
    struct dcap_quote odq;
    assert_int_equal(dcap_quote_parse(oq, on, DCAP_TEE_SGX, &odq, &err), 0);
    ev.certs = (const uint8_t *)odq.pck_pem;
    ev.certs_len = odq.pck_pem_size;
    assert_int_equal(attest_verify(&ev, &t, NULL, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "QE report signature does not verify"));
    /* the PCE-ID at the end of the PPID data must be the certificate's */
    ev.certs = (const uint8_t *)dq.pck_pem;
    ev.certs_len = dq.pck_pem_size;
    m[m_len - 1] = 0x01;
    assert_int_equal(attest_verify(&ev, &t, NULL, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "PCE-ID in the PPID certification data differs"));
    m[m_len - 1] = 0;
    /* certs given for a quote that has its own chain */
    ev.quote = q;
    ev.quote_len = n;
    assert_int_equal(attest_verify(&ev, &t, NULL, 0, &c, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "quote carries its own PCK chain"));
    /* wrong PPID data size */
    m[head + 2] = 419 & 0xff;
    ev.quote = m;
    ev.quote_len = m_len;
    assert_int_equal(attest_verify(&ev, &t, NULL, 0, &c, &err), CAIRN_ERR_TRAILING);
    free(oq);
    free(m);
    free(q);
}

/* A set of real TCB infos (TDX + SGX) and QE identities (TD_QE + QE): the
 * mobilecoin quote picks its own. */
static void test_collateral_sets(void **state)
{
    (void)state;
    struct fixture f;
    load_mobilecoin(&f);
    size_t tl, ql;
    char *tdx_tcb = (char *)tv_load("tdx/gotdx_sample_tcbInfo_response.json", &tl);
    char *tdx_qe = (char *)tv_load("tdx/gotdx_sample_qeIdentity_response.json", &ql);
    char *tset = NULL, *qset = NULL;
    assert_true(asprintf(&tset, "[%.*s,%.*s]", (int)tl, tdx_tcb, (int)f.tcb_len, f.tcb) > 0);
    assert_true(asprintf(&qset, "[%.*s,\n%.*s]\n", (int)ql, tdx_qe, (int)f.qe_len, f.qe) > 0);
    struct attest_trust t = trust_of(&f, "2023-07-12T20:48:25Z");
    t.tcb_info = tset;
    t.tcb_info_len = strlen(tset);
    t.qe_identity = qset;
    t.qe_identity_len = strlen(qset);
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = verify(f.quote, f.len, &t, &c, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(claim_str(c.json, "tcb_status"), "SWHardeningNeeded");
    assert_string_equal(claim_str(c.json, "qe_tcb_status"), "UpToDate");
    attest_claims_free(&c);
    free(tset);
    free(qset);
    free(tdx_tcb);
    free(tdx_qe);
    fixture_free(&f);
}

/* Several threads verify through the shared cache at once (the Coordinator
 * runs one event loop per core): every verification must succeed with the
 * same claims, and the failing ones must keep failing. */
struct thread_arg {
    const struct fixture *f;
    const uint8_t *bad;
    int ok, refused;
};

static void *verify_thread(void *p)
{
    struct thread_arg *a = p;
    struct attest_trust t = trust_of(a->f, "2023-07-12T20:48:25Z");
    for (int i = 0; i < 40; i++) {
        struct attest_claims c;
        struct cairn_error err = {0};
        const uint8_t *q = (i % 4 == 3) ? a->bad : a->f->quote;
        int rc = verify(q, a->f->len, &t, &c, &err);
        if (rc == 0) {
            if (strcmp(json_string_value(json_object_get(c.json, "tcb_status")),
                       "SWHardeningNeeded") == 0)
                a->ok++;
            attest_claims_free(&c);
        } else if (q == a->bad) {
            a->refused++;
        }
    }
    return NULL;
}

static void test_cache_threads(void **state)
{
    (void)state;
    struct fixture f;
    load_mobilecoin(&f);
    uint8_t *bad = malloc(f.len);
    memcpy(bad, f.quote, f.len);
    bad[0x40] ^= 1;
    dcap_cache_clear();
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){.f = &f, .bad = bad};
        assert_int_equal(pthread_create(&th[i], NULL, verify_thread, &args[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        dcap_cache_clear(); /* concurrent clears are safe too */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].ok, 30);
        assert_int_equal(args[i].refused, 10);
    }
    free(bad);
    fixture_free(&f);
}

/* Certificate roles are checked by subject CN. */
static void test_cert_roles(void **state)
{
    (void)state;
    STACK_OF(X509) *tcb = tv_certs("sgx/steward_icelake_xeon_tcb_signing_chain.pem");
    assert_true(dcap_cert_cn_is(sk_X509_value(tcb, 0), "Intel SGX TCB Signing"));
    assert_false(dcap_cert_cn_is(sk_X509_value(tcb, 0), "Intel SGX PCK Certificate"));
    assert_true(dcap_cert_cn_is(sk_X509_value(tcb, 1), "Intel SGX Root CA"));
    assert_false(dcap_cert_cn_is(sk_X509_value(tcb, 1), "Intel SGX Root"));
    sk_X509_pop_free(tcb, X509_free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_occlum_trustee_claims),
        cmocka_unit_test(test_mobilecoin_full),
        cmocka_unit_test(test_mobilecoin_negative),
        cmocka_unit_test(test_mcsgx_mutations),
        cmocka_unit_test(test_steward_icelake),
        cmocka_unit_test(test_oe_header),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cert_roles),
        cmocka_unit_test(test_collateral_sets),
        cmocka_unit_test(test_cache_threads),
        cmocka_unit_test(test_ppid_type3_with_certs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
