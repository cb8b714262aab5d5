/* Evidence dispatch, sim evidence, binding check and the wire form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "attest/attest.h"
#include "attest/issuer.h"
#include "attest/policy.h"

static void test_type_names(void **state)
{
    (void)state;
    enum attest_type t;
    assert_int_equal(attest_type_parse("TDX", &t), 0);
    assert_int_equal(t, ATTEST_TDX);
    assert_string_equal(attest_type_name(ATTEST_SNP), "snp");
    assert_int_equal(attest_type_parse("sgx2", &t), CAIRN_ERR_INVALID);
    assert_string_equal(attest_type_name((enum attest_type)99), "unknown");
}

static void test_sim_binding(void **state)
{
    (void)state;
    uint8_t rd[64] = {0};
    memset(rd, 0xab, 32);
    struct attest_issued iss;
    struct cairn_error err = {0};
    assert_int_equal(attest_issue(ATTEST_SIM, rd, NULL, &iss, &err), 0);
    struct attest_evidence ev = {.type = ATTEST_SIM, .quote = iss.quote, .quote_len = iss.quote_len};
    struct attest_claims c;
    assert_int_equal(attest_verify(&ev, NULL, rd, 32, &c, &err), 0);
    assert_string_equal(json_string_value(json_object_get(c.json, "type")), "sim");
    assert_int_equal(json_array_size(json_object_get(c.json, "checks")), 1);
    attest_claims_free(&c);

    uint8_t other[32];
    memset(other, 0xac, 32);
    assert_int_equal(attest_verify(&ev, NULL, other, 32, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "report data binding"));

    iss.quote[40] = 1; /* something rides along after the hash */
    assert_int_equal(attest_verify(&ev, NULL, rd, 32, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "must be zero"));

    ev.quote_len = 63;
    assert_int_equal(attest_verify(&ev, NULL, rd, 32, &c, &err), CAIRN_ERR_INVALID);
    attest_issued_free(&iss);
}

static void test_wire_roundtrip(void **state)
{
    (void)state;
    uint8_t rd[64] = {1, 2, 3};
    struct attest_issued iss, st;
    struct attest_evidence ev;
    struct cairn_error err = {0};
    assert_int_equal(attest_issue(ATTEST_SIM, rd, NULL, &iss, &err), 0);
    json_t *req = json_object();
    assert_int_equal(attest_evidence_to_json(&iss, req), 0);
    char *s = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(strstr(s, "\"type\":\"sim\""));
    free(s);
    assert_int_equal(attest_evidence_from_json(req, &st, &ev, &err), 0);
    assert_int_equal(ev.type, ATTEST_SIM);
    assert_int_equal(ev.quote_len, 64);
    assert_memory_equal(ev.quote, rd, 64);
    attest_issued_free(&st);
    json_decref(req);
    attest_issued_free(&iss);

    /* TPM: systemd's PCR signature file rides along as "pcrSignature" */
    struct attest_issued tp = {.type = ATTEST_TPM};
    static const char sigjson[] = "{\"sha256\":[]}";
    tp.quote = (uint8_t *)strdup("q");
    tp.quote_len = 1;
    tp.pcr_signature = (uint8_t *)strdup(sigjson);
    tp.pcr_signature_len = strlen(sigjson);
    req = json_object();
    assert_int_equal(attest_evidence_to_json(&tp, req), 0);
    assert_non_null(json_object_get(json_object_get(req, "evidence"), "pcrSignature"));
    assert_int_equal(attest_evidence_from_json(req, &st, &ev, &err), 0);
    assert_int_equal(ev.pcr_signature_len, strlen(sigjson));
    assert_memory_equal(ev.pcr_signature, sigjson, strlen(sigjson));
    attest_issued_free(&st);
    json_decref(req);
    attest_issued_free(&tp);

    /* SGX form: a bare "quote" */
    req = json_pack("{s:s}", "quote", "AAEC");
    assert_int_equal(attest_evidence_from_json(req, &st, &ev, &err), 0);
    assert_int_equal(ev.type, ATTEST_SGX);
    assert_int_equal(ev.quote_len, 3);
    attest_issued_free(&st);
    json_decref(req);

    const char *bad[] = {
        "{}", "{\"quote\":\"\"}", "{\"quote\":\"!!\"}", "{\"quote\":5}", "{\"evidence\":[]}",
        "{\"evidence\":{\"type\":\"nope\"}}", "{\"evidence\":{\"type\":\"tdx\",\"quote\":\"A\"}}",
        "{\"evidence\":{\"type\":\"tpm\",\"certs\":7}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req = json_loads(bad[i], 0, NULL);
        assert_non_null(req);
        cairn_error_clear(&err);
        assert_true(attest_evidence_from_json(req, &st, &ev, &err) < 0);
        assert_true(err.msg[0] != '\0');
        json_decref(req);
    }
}

static void test_tcb_default(void **state)
{
    (void)state;
    struct tee_package p = {0};
    assert_true(tee_tcb_status_accepted(&p, "UpToDate"));
    assert_true(tee_tcb_status_accepted(&p, "SWHardeningNeeded"));
    assert_false(tee_tcb_status_accepted(&p, "OutOfDate"));
    char *list[] = {"OutOfDate"};
    p.accepted_tcb_statuses = list;
    p.n_accepted_tcb_statuses = 1;
    assert_true(tee_tcb_status_accepted(&p, "outofdate"));
    assert_false(tee_tcb_status_accepted(&p, "SWHardeningNeeded"));
    assert_true(tee_tcb_status_accepted(&p, "UpToDate"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_sim_binding),
        cmocka_unit_test(test_wire_roundtrip),
        cmocka_unit_test(test_tcb_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
