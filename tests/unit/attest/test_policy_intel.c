/* tee_policy_match for SGX (MarbleRun's PackageProperties rules) and TDX
 * packages, on claims from real verified quotes. */
#include "test_sgx_util.h"

#include "attest/attest.h"
#include "attest/policy.h"

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

static char **strv(const char *a, const char *b)
{
    char **v = calloc(2, sizeof(char *));
    assert_non_null(v);
    v[0] = xstrdup(a);
    if (b != NULL)
        v[1] = xstrdup(b);
    return v;
}

/* mobilecoin quote + full collateral: SWHardeningNeeded, {00334, 00615}. */
static void claims_mobilecoin(struct attest_claims *c)
{
    size_t n, tl, ql;
    uint8_t *q = tv_load("sgx/mobilecoin_hw_quote.dat", &n);
    char *tcb = (char *)tv_load("sgx/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json", &tl);
    char *qe = (char *)tv_load("sgx/mobilecoin_qe_identity.json", &ql);
    STACK_OF(X509) *chain = tv_certs("sgx/mobilecoin_tcb_signer.pem");
    struct attest_trust t = {.tcb_info = tcb,
                             .tcb_info_len = tl,
                             .qe_identity = qe,
                             .qe_identity_len = ql,
                             .collateral_chain = chain,
                             .at = tv_time("2023-07-12T20:48:25Z")};
    struct attest_evidence ev = {.type = ATTEST_SGX, .quote = q, .quote_len = n};
    struct cairn_error err = {0};
    assert_int_equal(attest_verify(&ev, &t, NULL, 0, c, &err), 0);
    sk_X509_pop_free(chain, X509_free);
    free(tcb);
    free(qe);
    free(q);
}

static void claims_plain(const char *rel, enum attest_type type, const char *at,
                         struct attest_claims *c)
{
    size_t n;
    uint8_t *q = tv_load(rel, &n);
    struct attest_trust t = {.at = tv_time(at)};
    struct attest_evidence ev = {.type = type, .quote = q, .quote_len = n};
    struct cairn_error err = {0};
    assert_int_equal(attest_verify(&ev, &t, NULL, 0, c, &err), 0);
    free(q);
}

static void expect_refusal(const struct tee_package *p, const struct attest_claims *c,
                           const char *msg)
{
    struct cairn_error err = {0};
    int rc = tee_policy_match(p, c, &err);
    if (rc != CAIRN_ERR_POLICY || strstr(err.msg, msg) == NULL) {
        fprintf(stderr, "want refusal \"%s\", got %d \"%s\"\n", msg, rc, err.msg);
        fail();
    }
}

static void expect_accept(const struct tee_package *p, const struct attest_claims *c)
{
    struct cairn_error err = {0};
    int rc = tee_policy_match(p, c, &err);
    if (rc != 0) {
        fprintf(stderr, "want acceptance, got %d \"%s\"\n", rc, err.msg);
        fail();
    }
}

static void test_sgx_identity(void **state)
{
    (void)state;
    struct attest_claims c;
    claims_mobilecoin(&c);
    struct tee_package p = {.tee = ATTEST_SGX};
    p.signer_id = xstrdup(
        "9F06DF5CA79A23FFDFB6CA0EC85514E21DD1CBD1ED11ABC45DBE8DC894EFDDDF"); /* case-insensitive */
    p.has_product_id = true;
    p.has_security_version = true;
    expect_accept(&p, &c);

    p.unique_id = xstrdup("840d61b0585dc8b4dc90f53af293c760fda06bee75978a6a86263ffb296423f4");
    expect_accept(&p, &c);
    p.unique_id[0] = '9';
    expect_refusal(&p, &c,
                   "mrenclave mismatch: expected "
                   "940d61b0585dc8b4dc90f53af293c760fda06bee75978a6a86263ffb296423f4, "
                   "got 840d61b0585dc8b4dc90f53af293c760fda06bee75978a6a86263ffb296423f4");
    p.unique_id[0] = 'x';
    expect_refusal(&p, &c, "is not valid hex");
    free(p.unique_id);
    p.unique_id =
        xstrdup("840d61b0585dc8b4dc90f53af293c760fda06bee75978a6a86263ffb296423"); /* short */
    expect_refusal(&p, &c, "mrenclave mismatch");
    free(p.unique_id);
    p.unique_id = NULL;

    p.signer_id[63] = 'E';
    expect_refusal(&p, &c, "mrsigner mismatch");
    p.signer_id[63] = 'F';

    p.product_id = 1;
    expect_refusal(&p, &c, "isv_prod_id mismatch: expected 1, got 0");
    p.product_id = 0;
    p.security_version = 1;
    expect_refusal(&p, &c, "isv_svn too low: expected at least 1, got 0");
    p.security_version = 0;

    p.debug = true; /* production enclave, debug package: refused (equality) */
    expect_refusal(&p, &c, "debug mismatch: expected true, got false");
    p.debug = false;

    struct tee_package none = {.tee = ATTEST_SGX};
    expect_refusal(&none, &c, "neither UniqueID nor SignerID");
    struct tee_package tdxp = {.tee = ATTEST_TDX};
    expect_refusal(&tdxp, &c, "TEE mismatch: the package expects tdx evidence, got sgx");
    tee_package_free(&p);
    attest_claims_free(&c);
}

static void test_sgx_tcb_and_advisories(void **state)
{
    (void)state;
    struct attest_claims c;
    claims_mobilecoin(&c);
    struct tee_package p = {.tee = ATTEST_SGX};
    p.signer_id = xstrdup("9f06df5ca79a23ffdfb6ca0ec85514e21dd1cbd1ed11abc45dbe8dc894efdddf");
    /* empty AcceptedTCBStatuses = UpToDate + SWHardeningNeeded */
    expect_accept(&p, &c);
    p.accepted_tcb_statuses = strv("UpToDate", NULL);
    p.n_accepted_tcb_statuses = 1;
    expect_refusal(&p, &c, "tcb status \"SWHardeningNeeded\" is not accepted");
    free(p.accepted_tcb_statuses[0]);
    p.accepted_tcb_statuses[0] = xstrdup("swhardeningneeded");
    expect_accept(&p, &c);
    /* advisories: every reported one must be listed (case-insensitive) */
    p.accepted_advisories = strv("INTEL-SA-00334", NULL);
    p.n_accepted_advisories = 1;
    expect_refusal(&p, &c, "advisory INTEL-SA-00615 is not accepted");
    p.accepted_advisories[1] = xstrdup("intel-sa-00615");
    p.n_accepted_advisories = 2;
    expect_accept(&p, &c);
    tee_package_free(&p);
    attest_claims_free(&c);

    /* Steward Ice Lake: OutOfDate. */
    size_t n, tl;
    uint8_t *q = tv_load("sgx/steward_icelake_xeon_quote.dat", &n);
    char *tcb = (char *)tv_load("sgx/steward_icelake_xeon_tcbinfo.json", &tl);
    STACK_OF(X509) *chain = tv_certs("sgx/steward_icelake_xeon_tcb_signing_chain.pem");
    struct attest_trust t = {.tcb_info = tcb,
                             .tcb_info_len = tl,
                             .collateral_chain = chain,
                             .at = tv_time("2023-02-01T00:00:00Z")};
    struct attest_evidence ev = {.type = ATTEST_SGX, .quote = q, .quote_len = n};
    struct cairn_error err = {0};
    assert_int_equal(attest_verify(&ev, &t, NULL, 0, &c, &err), 0);
    struct tee_package s = {
        .tee = ATTEST_SGX, .has_product_id = true, .has_security_version = true};
    s.signer_id = xstrdup("7a49a07df0f8e90a6e1d9a63e3c696d9c844f0e3f8739b21daa640f99facc48a");
    s.unique_id = xstrdup("4046ea255f0455131a024e1265ac1ebd131fdbd1240f1712a00381f6f04e8c15");
    expect_refusal(&s, &c, "tcb status \"OutOfDate\" is not accepted");
    s.accepted_tcb_statuses = strv("OutOfDate", NULL);
    s.n_accepted_tcb_statuses = 1;
    /* advisories are only checked for SWHardeningNeeded (MarbleRun) */
    s.accepted_advisories = strv("INTEL-SA-00001", NULL);
    s.n_accepted_advisories = 1;
    expect_accept(&s, &c);
    tee_package_free(&s);
    attest_claims_free(&c);
    sk_X509_pop_free(chain, X509_free);
    free(tcb);
    free(q);
}

static void test_sgx_no_collateral(void **state)
{
    (void)state;
    struct attest_claims c;
    claims_plain("sgx/trustee_occlum_quote.dat", ATTEST_SGX, "2024-06-01T00:00:00Z", &c);
    struct tee_package p = {.tee = ATTEST_SGX, .debug = true};
    p.unique_id = xstrdup("8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68");
    expect_refusal(&p, &c, "tcb status: not evaluated (no collateral)");
    p.accepted_tcb_statuses = strv("NoCollateral", NULL);
    p.n_accepted_tcb_statuses = 1;
    expect_accept(&p, &c);
    p.debug = false; /* the Occlum enclave is a debug enclave */
    expect_refusal(&p, &c, "debug mismatch: expected false, got true");
    tee_package_free(&p);
    attest_claims_free(&c);
}

static void test_tdx(void **state)
{
    (void)state;
    struct attest_claims c;
    claims_plain("tdx/gotdx_tdx_prod_quote_SPR_E4.dat", ATTEST_TDX, "2023-07-01T01:00:00Z", &c);
    struct tee_package p = {.tee = ATTEST_TDX};
    p.accepted_tcb_statuses = strv("NoCollateral", NULL);
    p.n_accepted_tcb_statuses = 1;
    expect_refusal(&p, &c, "package sets no MRTD");
    p.mrtd = xstrdup("6363B8043668A3AD953278E10389574D326C6749FB78AA810ECD9336923DB86F22FC00B8DCD40"
                     "4BC10D5E119D7215CBB");
    expect_accept(&p, &c);
    p.rtmr[1] = xstrdup("2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c"
                        "59107c6bc5800db2cacb61");
    p.rtmr[3] = xstrdup("00000000000000000000000000000000000000000000000000000000000000000000000000"
                        "0000000000000000000000");
    p.mr_config_id = xstrdup(p.rtmr[3]);
    p.mr_owner = xstrdup(p.rtmr[3]);
    p.mr_owner_config = xstrdup(p.rtmr[3]);
    expect_accept(&p, &c);
    p.rtmr[3][95] = '1';
    expect_refusal(&p, &c, "rtmr3 mismatch: expected 0000");
    p.rtmr[3][95] = '0';
    p.mr_owner[0] = 'a';
    expect_refusal(&p, &c, "mr_owner mismatch");
    p.mr_owner[0] = '0';
    p.mr_config_id[0] = 'a';
    expect_refusal(&p, &c, "mr_config_id mismatch");
    p.mr_config_id[0] = '0';
    p.mr_owner_config[0] = 'a';
    expect_refusal(&p, &c, "mr_owner_config mismatch");
    p.mr_owner_config[0] = '0';
    p.mrtd[0] = '7';
    expect_refusal(&p, &c, "mrtd mismatch");
    p.mrtd[0] = '6';
    p.debug = true;
    expect_refusal(&p, &c, "debug mismatch: expected true, got false");
    p.debug = false;
    free(p.accepted_tcb_statuses[0]);
    p.accepted_tcb_statuses[0] = xstrdup("UpToDate");
    expect_refusal(&p, &c, "tcb status: not evaluated");
    struct tee_package s = {.tee = ATTEST_SGX};
    s.signer_id = xstrdup("00");
    expect_refusal(&s, &c, "TEE mismatch: the package expects sgx evidence, got tdx");
    tee_package_free(&s);
    tee_package_free(&p);
    attest_claims_free(&c);

    /* trustee v4: a debug TD */
    claims_plain("tdx/trustee_tdx_quote_4.dat", ATTEST_TDX, "2024-06-01T00:00:00Z", &c);
    struct tee_package d = {.tee = ATTEST_TDX};
    d.mrtd = xstrdup("705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b689cac1599ccea"
                     "1b7d420483a9ce5f031");
    d.accepted_tcb_statuses = strv("NoCollateral", NULL);
    d.n_accepted_tcb_statuses = 1;
    expect_refusal(&d, &c, "debug mismatch: expected false, got true");
    d.debug = true;
    expect_accept(&d, &c);
    tee_package_free(&d);
    attest_claims_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgx_identity),
        cmocka_unit_test(test_sgx_tcb_and_advisories),
        cmocka_unit_test(test_sgx_no_collateral),
        cmocka_unit_test(test_tdx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
