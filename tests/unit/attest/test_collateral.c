/* Intel collateral: the PCS document parser (exact signed text), and TCB
 * level matching / QE identity / TDX module identity / status convergence on
 * synthetic collateral signed by a test CA (passed as the Intel root), so
 * every rule can be exercised, not only the ones the real vectors reach. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/collateral.h"
#include "common/file.h"
#include "crypto/crypto.h"

#include <openssl/pem.h>

/* The table-driven cases below pass format strings from arrays. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* ---- document parser ---------------------------------------------------- */

static const char SIG128[] = "0102030405060708091011121314151617181920212223242526272829303132"
                             "3334353637383940414243444546474849505152535455565758596061626364";

static void test_doc_parse(void **state)
{
    (void)state;
    char doc[512];
    const char *body;
    size_t bl;
    uint8_t sig[64];
    json_t *obj;
    struct cairn_error err = {0};
    snprintf(doc, sizeof(doc),
             " {\"tcbInfo\" :  {\"a\":\"}\\\"{\",\"b\":[1,{\"c\":2}]} , \"signature\":\"%s\"}\n",
             SIG128);
    assert_int_equal(
        collateral_doc_parse("t", doc, strlen(doc), "tcbInfo", &body, &bl, sig, &obj, &err), 0);
    assert_int_equal(bl, strlen("{\"a\":\"}\\\"{\",\"b\":[1,{\"c\":2}]}"));
    assert_memory_equal(body, "{\"a\":\"}\\\"{\",\"b\":[1,{\"c\":2}]}", bl);
    assert_int_equal(sig[0], 1);
    assert_int_equal(sig[63], 0x64);
    assert_string_equal(json_string_value(json_object_get(obj, "a")), "}\"{");
    json_decref(obj);

    /* the signature member first, key later */
    snprintf(doc, sizeof(doc), "{\"signature\":\"%s\",\"x\":{\"tcbInfo\":1},\"tcbInfo\":{\"k\":1}}",
             SIG128);
    assert_int_equal(
        collateral_doc_parse("t", doc, strlen(doc), "tcbInfo", &body, &bl, sig, &obj, &err), 0);
    assert_memory_equal(body, "{\"k\":1}", bl);
    json_decref(obj);

    static const struct {
        const char *fmt;
        int rc;
        const char *msg;
    } bad[] = {
        {"{\"tcbInfo\":{},\"signature\":\"%s\",\"tcbInfo\":{}}", CAIRN_ERR_INVALID, "invalid JSON"},
        {"{\"tcbInfo\":[],\"signature\":\"%s\"}", CAIRN_ERR_INVALID, "must be an object"},
        {"{\"tcbInfo\":{}}%s", CAIRN_ERR_INVALID, "invalid JSON"},
        {"{\"tcbInfo\":{},\"signature\":\"%.126s\"}", CAIRN_ERR_INVALID, "128 hex digits"},
        {"{\"tcbInfo\":{},\"signature\":\"%.127sx\"}", CAIRN_ERR_INVALID, "128 hex digits"},
        {"{\"tcb\\u0049nfo\":{},\"signature\":\"%s\"}", CAIRN_ERR_INVALID, "cannot locate"},
        {"[\"%s\"]", CAIRN_ERR_INVALID, "must be an object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(doc, sizeof(doc), bad[i].fmt, SIG128);
        int rc = collateral_doc_parse("tcb info", doc, strlen(doc), "tcbInfo", &body, &bl, sig,
                                      &obj, &err);
        if (rc != bad[i].rc || strstr(err.msg, bad[i].msg) == NULL) {
            fprintf(stderr, "case %zu: %d %s\n", i, rc, err.msg);
            fail();
        }
    }
    /* truncated at every length: an error, never a crash */
    snprintf(doc, sizeof(doc), "{\"tcbInfo\":{\"a\":[1,2,{\"b\":\"c\"}]},\"signature\":\"%s\"}",
             SIG128);
    for (size_t n = 0; n < strlen(doc); n++) {
        char *m = malloc(n ? n : 1);
        memcpy(m, doc, n);
        assert_true(collateral_doc_parse("t", m, n, "tcbInfo", &body, &bl, sig, &obj, &err) < 0);
        free(m);
    }
    assert_int_equal(collateral_doc_parse("t", doc, COLLATERAL_DOC_MAX + 1, "tcbInfo", &body, &bl,
                                          sig, &obj, &err),
                     CAIRN_ERR_TOO_LARGE);
}

static void test_converge(void **state)
{
    (void)state;
    assert_string_equal(collateral_converge("UpToDate", "OutOfDate"), "OutOfDate");
    assert_string_equal(collateral_converge("SWHardeningNeeded", "OutOfDate"), "OutOfDate");
    assert_string_equal(collateral_converge("ConfigurationNeeded", "OutOfDate"),
                        "OutOfDateConfigurationNeeded");
    assert_string_equal(collateral_converge("ConfigurationAndSWHardeningNeeded", "OutOfDate"),
                        "OutOfDateConfigurationNeeded");
    assert_string_equal(collateral_converge("OutOfDate", "OutOfDate"), "OutOfDate");
    assert_string_equal(collateral_converge("UpToDate", "Revoked"), "Revoked");
    assert_string_equal(collateral_converge("SWHardeningNeeded", "UpToDate"), "SWHardeningNeeded");
    assert_string_equal(collateral_converge("SWHardeningNeeded", ""), "SWHardeningNeeded");
    assert_string_equal(collateral_converge("bogus", "UpToDate"), "Revoked");
}

/* ---- synthetic signed collateral ------------------------------------------ */

struct pki {
    EVP_PKEY *root_key, *signer_key;
    X509 *root, *signer;
    STACK_OF(X509) * roots, *chain;
};

static int pki_setup(void **state)
{
    struct pki *k = calloc(1, sizeof(*k));
    struct cairn_error err = {0};
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &k->root_key, &err), 0);
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &k->signer_key, &err), 0);
    struct cc_cert_template rt = {.subject = {.common_name = "Test SGX Root CA"},
                                  .is_ca = true,
                                  .max_path_len = -1,
                                  .key_usage = CC_KU_CERT_SIGN | CC_KU_CRL_SIGN,
                                  .not_before = 1000000000,
                                  .not_after = 2500000000};
    assert_int_equal(cc_cert_issue(&rt, k->root_key, NULL, k->root_key, &k->root, &err), 0);
    struct cc_cert_template st = {.subject = {.common_name = "Intel SGX TCB Signing"},
                                  .max_path_len = -1,
                                  .key_usage = CC_KU_DIGITAL_SIGNATURE,
                                  .not_before = 1000000000,
                                  .not_after = 2500000000};
    assert_int_equal(cc_cert_issue(&st, k->signer_key, k->root, k->root_key, &k->signer, &err), 0);
    k->roots = sk_X509_new_null();
    sk_X509_push(k->roots, k->root);
    k->chain = sk_X509_new_null();
    sk_X509_push(k->chain, k->signer);
    sk_X509_push(k->chain, k->root);
    *state = k;
    return 0;
}

static int pki_teardown(void **state)
{
    struct pki *k = *state;
    sk_X509_free(k->roots);
    sk_X509_free(k->chain);
    X509_free(k->root);
    X509_free(k->signer);
    EVP_PKEY_free(k->root_key);
    EVP_PKEY_free(k->signer_key);
    free(k);
    return 0;
}

/* {"<key>": body, "signature": hex(r||s)} signed by `key`. */
static char *sign_doc(EVP_PKEY *key, const char *doc_key, const char *body)
{
    uint8_t *der;
    size_t dl;
    assert_int_equal(cc_sign(key, "SHA256", body, strlen(body), &der, &dl), 0);
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    assert_non_null(s);
    uint8_t rs[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(s), rs, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), rs + 32, 32);
    ECDSA_SIG_free(s);
    free(der);
    char hex[129];
    for (int i = 0; i < 64; i++)
        snprintf(hex + 2 * i, 3, "%02x", rs[i]);
    char *out = NULL;
    assert_true(asprintf(&out, "{\"%s\":%s,\"signature\":\"%s\"}", doc_key, body, hex) > 0);
    return out;
}

/* 16 SVN objects all equal to v except index hi_idx which is hi. */
static void comps(char *out, size_t n, int v, int hi_idx, int hi)
{
    size_t o = (size_t)snprintf(out, n, "[");
    for (int i = 0; i < 16; i++)
        o += (size_t)snprintf(out + o, n - o, "%s{\"svn\":%d}", i ? "," : "", i == hi_idx ? hi : v);
    snprintf(out + o, n - o, "]");
}

static const char *DATES =
    "\"issueDate\":\"2024-01-01T00:00:00Z\",\"nextUpdate\":\"2024-02-01T00:00:00Z\"";
static time_t AT = 1704800000; /* 2024-01-09 */

static char *sgx_tcbinfo_v3(EVP_PKEY *key, const char *id)
{
    char c1[512], c2[512], c3[512], body[4096];
    comps(c1, sizeof(c1), 10, -1, 0);
    comps(c2, sizeof(c2), 5, 15, 6);
    comps(c3, sizeof(c3), 0, -1, 0);
    snprintf(body, sizeof(body),
             "{\"id\":\"%s\",\"version\":3,%s,\"fmspc\":\"00906ED50000\",\"pceId\":\"0000\","
             "\"tcbType\":0,"
             "\"tcbEvaluationDataNumber\":16,\"tcbLevels\":["
             "{\"tcb\":{\"sgxtcbcomponents\":%s,\"pcesvn\":10},\"tcbDate\":\"2023-08-01T00:00:"
             "00Z\",\"tcbStatus\":\"UpToDate\"},"
             "{\"tcb\":{\"sgxtcbcomponents\":%s,\"pcesvn\":10},\"tcbDate\":\"2023-02-01T00:00:"
             "00Z\",\"tcbStatus\":\"SWHardeningNeeded\",\"advisoryIDs\":[\"INTEL-SA-00001\","
             "\"INTEL-SA-00002\"]},"
             "{\"tcb\":{\"sgxtcbcomponents\":%s,\"pcesvn\":5},\"tcbDate\":\"2022-01-01T00:00:00Z\","
             "\"tcbStatus\":\"OutOfDate\",\"advisoryIDs\":[\"INTEL-SA-00003\"]}]}",
             id, DATES, c1, c2, c3);
    return sign_doc(key, "tcbInfo", body);
}

static char *qe_identity(EVP_PKEY *key, const char *id, int version, const char *mrsigner,
                         int prodid)
{
    char body[2048];
    snprintf(
        body, sizeof(body),
        "{\"id\":\"%s\",\"version\":%d,%s,\"tcbEvaluationDataNumber\":16,\"miscselect\":"
        "\"00000000\","
        "\"miscselectMask\":\"FFFFFFFF\",\"attributes\":\"11000000000000000000000000000000\","
        "\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"%s\",\"isvprodid\":"
        "%d,"
        "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":8},\"tcbDate\":\"2023-08-01T00:00:00Z\",\"tcbStatus\":"
        "\"UpToDate\"},"
        "{\"tcb\":{\"isvsvn\":6},\"tcbDate\":\"2022-01-01T00:00:00Z\",\"tcbStatus\":\"OutOfDate\","
        "\"advisoryIDs\":[\"INTEL-SA-00002\",\"INTEL-SA-00615\"]},"
        "{\"tcb\":{\"isvsvn\":2},\"tcbDate\":\"2020-01-01T00:00:00Z\",\"tcbStatus\":\"Revoked\"}]}",
        id, version, DATES, mrsigner, prodid);
    return sign_doc(key, "enclaveIdentity", body);
}

static const char QE_SIGNER[] = "8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF";

struct sgx_case {
    struct dcap_pck_info pck;
    uint8_t qe_report[384];
};

static void sgx_case_init(struct sgx_case *c, int comp, int comp15, int pcesvn, int qe_isvsvn)
{
    memset(c, 0, sizeof(*c));
    memset(c->pck.comp_svn, comp, 16);
    c->pck.comp_svn[15] = (uint8_t)comp15;
    c->pck.pcesvn = (uint16_t)pcesvn;
    uint8_t f[6] = {0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00};
    memcpy(c->pck.fmspc, f, 6);
    static const uint8_t signer[32] = {0x8c, 0x4f, 0x57, 0x75, 0xd7, 0x96, 0x50, 0x3e,
                                       0x96, 0x13, 0x7f, 0x77, 0xc6, 0x8a, 0x82, 0x9a,
                                       0x00, 0x56, 0xac, 0x8d, 0xed, 0x70, 0x14, 0x0b,
                                       0x08, 0x1b, 0x09, 0x44, 0x90, 0xc5, 0x7b, 0xff};
    memcpy(c->qe_report + SGX_RB_MRSIGNER, signer, 32);
    c->qe_report[SGX_RB_ATTRIBUTES] = 0x15; /* INIT | PROVISIONKEY | MODE64 (masked out) */
    c->qe_report[SGX_RB_ISVPRODID] = 1;
    c->qe_report[SGX_RB_ISVSVN] = (uint8_t)qe_isvsvn;
}

static int eval(struct pki *k, const struct collateral_input *in, const char *tcb, const char *qe,
                struct collateral_result *r, struct cairn_error *err)
{
    struct attest_trust t = {.intel_roots = k->roots,
                             .collateral_chain = k->chain,
                             .tcb_info = tcb,
                             .tcb_info_len = tcb ? strlen(tcb) : 0,
                             .qe_identity = qe,
                             .qe_identity_len = qe ? strlen(qe) : 0,
                             .at = AT};
    json_t *checks = json_array();
    memset(r, 0, sizeof(*r));
    int rc = collateral_evaluate(in, &t, AT, checks, r, err);
    json_decref(checks);
    return rc;
}

static bool has_adv(const struct collateral_result *r, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(r->advisory_ids, i, v)
    {
        if (strcmp(json_string_value(v), id) == 0)
            return true;
    }
    return false;
}

static void test_sgx_levels(void **state)
{
    struct pki *k = *state;
    char *tcb = sgx_tcbinfo_v3(k->signer_key, "SGX");
    char *qe = qe_identity(k->signer_key, "QE", 2, QE_SIGNER, 1);
    struct sgx_case c;
    struct collateral_result r;
    struct cairn_error err = {0};
    static const struct {
        int comp, comp15, pcesvn, qesvn;
        const char *status, *platform, *qe;
        int rc;
    } cases[] = {
        {10, 10, 10, 8, "UpToDate", "UpToDate", "UpToDate", 0},
        {11, 10, 12, 9, "UpToDate", "UpToDate", "UpToDate", 0},
        {10, 9, 10, 8, "SWHardeningNeeded", "SWHardeningNeeded", "UpToDate",
         0},                                                     /* one component below */
        {10, 10, 9, 8, "OutOfDate", "OutOfDate", "UpToDate", 0}, /* PCESVN below level 1+2 */
        {5, 6, 10, 7, "OutOfDate", "SWHardeningNeeded", "OutOfDate", 0}, /* QE OutOfDate degrades */
        {5, 5, 10, 8, "OutOfDate", "OutOfDate", "UpToDate", 0},          /* comp 15 < 6 */
        {10, 10, 10, 3, "Revoked", "UpToDate", "Revoked", 0},
        {10, 10, 4, 8, NULL, NULL, NULL, CAIRN_ERR_VERIFY},  /* below every level */
        {10, 10, 10, 1, NULL, NULL, NULL, CAIRN_ERR_VERIFY}, /* QE below every level */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sgx_case_init(&c, cases[i].comp, cases[i].comp15, cases[i].pcesvn, cases[i].qesvn);
        struct collateral_input in = {.pck = &c.pck, .qe_report = c.qe_report};
        int rc = eval(k, &in, tcb, qe, &r, &err);
        if (rc != cases[i].rc || (rc == 0 && (strcmp(r.status, cases[i].status) != 0 ||
                                              strcmp(r.platform_status, cases[i].platform) != 0 ||
                                              strcmp(r.qe_status, cases[i].qe) != 0))) {
            fprintf(stderr, "case %zu: rc %d status %s/%s/%s (%s)\n", i, rc, r.status,
                    r.platform_status, r.qe_status, err.msg);
            fail();
        }
        if (rc != 0)
            assert_non_null(strstr(err.msg, "no matching TCB level"));
        collateral_result_free(&r);
    }
    /* advisories: level + QE level, no duplicates */
    sgx_case_init(&c, 5, 6, 10, 7);
    struct collateral_input in = {.pck = &c.pck, .qe_report = c.qe_report};
    assert_int_equal(eval(k, &in, tcb, qe, &r, &err), 0);
    assert_int_equal(json_array_size(r.advisory_ids), 3);
    assert_true(has_adv(&r, "INTEL-SA-00001"));
    assert_true(has_adv(&r, "INTEL-SA-00002"));
    assert_true(has_adv(&r, "INTEL-SA-00615"));
    assert_string_equal(r.tcb_date, "2023-02-01T00:00:00Z");
    assert_int_equal(r.tcb_eval_number, 16);
    collateral_result_free(&r);

    /* QE identity field checks */
    sgx_case_init(&c, 10, 10, 10, 8);
    char *bad = qe_identity(k->signer_key, "QE", 2, QE_SIGNER, 2);
    assert_int_equal(eval(k, &in, tcb, bad, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "qe identity: QE ISVPRODID 1 is not 2"));
    free(bad);
    bad = qe_identity(k->signer_key, "QE", 2,
                      "0C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF", 1);
    assert_int_equal(eval(k, &in, tcb, bad, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "QE MRSIGNER does not match"));
    free(bad);
    bad = qe_identity(k->signer_key, "TD_QE", 2, QE_SIGNER, 1);
    assert_int_equal(eval(k, &in, tcb, bad, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "id \"TD_QE\" is not \"QE\""));
    free(bad);
    bad = qe_identity(k->signer_key, "QE", 3, QE_SIGNER, 1);
    assert_int_equal(eval(k, &in, tcb, bad, &r, &err), CAIRN_ERR_UNSUPPORTED);
    free(bad);
    c.qe_report[SGX_RB_ATTRIBUTES] = 0x13; /* PROVISIONKEY missing, DEBUG set */
    assert_int_equal(eval(k, &in, tcb, qe, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "QE attributes do not match under the mask"));
    c.qe_report[SGX_RB_ATTRIBUTES] = 0x15;
    c.qe_report[SGX_RB_MISCSELECT] = 1;
    assert_int_equal(eval(k, &in, tcb, qe, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "MISCSELECT"));
    c.qe_report[SGX_RB_MISCSELECT] = 0;

    /* FMSPC / PCE-ID / id */
    c.pck.fmspc[5] = 1;
    assert_int_equal(eval(k, &in, tcb, qe, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(
        strstr(err.msg, "fmspc mismatch: collateral 00906ed50000, PCK certificate 00906ed50001"));
    c.pck.fmspc[5] = 0;
    c.pck.pceid[0] = 1;
    assert_int_equal(eval(k, &in, tcb, qe, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "pceId"));
    c.pck.pceid[0] = 0;
    char *tdxid = sgx_tcbinfo_v3(k->signer_key, "TDX");
    assert_int_equal(eval(k, &in, tdxid, qe, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "id \"TDX\" does not match a SGX quote"));
    free(tdxid);

    /* signed by another key; signed by an untrusted root */
    EVP_PKEY *other;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &other, &err), 0);
    char *forged = sgx_tcbinfo_v3(other, "SGX");
    assert_int_equal(eval(k, &in, forged, qe, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(
        strstr(err.msg, "tcb info: signature does not verify with the TCB signing certificate"));
    free(forged);
    struct attest_trust t = {
        .collateral_chain = k->chain, .tcb_info = tcb, .tcb_info_len = strlen(tcb), .at = AT};
    json_t *checks = json_array();
    assert_int_equal(collateral_evaluate(&in, &t, AT, checks, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "not a trusted Intel SGX Root CA"));
    json_decref(checks);
    EVP_PKEY_free(other);

    /* a certificate of the same root that is not the TCB signer */
    EVP_PKEY *ok2;
    X509 *wrong;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &ok2, &err), 0);
    struct cc_cert_template wt = {.subject = {.common_name = "Intel SGX PCK Certificate"},
                                  .max_path_len = -1,
                                  .not_before = 1000000000,
                                  .not_after = 2500000000};
    assert_int_equal(cc_cert_issue(&wt, ok2, k->root, k->root_key, &wrong, &err), 0);
    STACK_OF(X509) *wchain = sk_X509_new_null();
    sk_X509_push(wchain, wrong);
    char *wdoc = sgx_tcbinfo_v3(ok2, "SGX");
    struct attest_trust tw = {.intel_roots = k->roots,
                              .collateral_chain = wchain,
                              .tcb_info = wdoc,
                              .tcb_info_len = strlen(wdoc),
                              .at = AT};
    checks = json_array();
    assert_int_equal(collateral_evaluate(&in, &tw, AT, checks, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "is not an \"Intel SGX TCB Signing\" certificate"));
    json_decref(checks);
    free(wdoc);
    sk_X509_free(wchain);
    X509_free(wrong);
    EVP_PKEY_free(ok2);

    /* validity window */
    assert_int_equal(eval(k, &in, tcb, qe, &r, &err), 0);
    collateral_result_free(&r);
    struct attest_trust t2 = {.intel_roots = k->roots,
                              .collateral_chain = k->chain,
                              .tcb_info = tcb,
                              .tcb_info_len = strlen(tcb)};
    checks = json_array();
    assert_int_equal(collateral_evaluate(&in, &t2, 1706745600 /* = nextUpdate */, checks, &r, &err),
                     CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "tcb info: expired (nextUpdate 2024-02-01T00:00:00Z"));
    assert_int_equal(collateral_evaluate(&in, &t2, 1704067199, checks, &r, &err),
                     CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "tcb info: not yet valid"));
    assert_int_equal(collateral_evaluate(&in, &t2, 1704067200 /* = issueDate */, checks, &r, &err),
                     0);
    collateral_result_free(&r);
    /* no collateral: not evaluated; required: error */
    t2.tcb_info = NULL;
    assert_int_equal(collateral_evaluate(&in, &t2, AT, checks, &r, &err), 0);
    assert_false(r.evaluated);
    t2.require_collateral = true;
    assert_int_equal(collateral_evaluate(&in, &t2, AT, checks, &r, &err), CAIRN_ERR_NOT_FOUND);
    json_decref(checks);
    free(qe);
    free(tcb);
}

/* TCB info v2 (sgxtcbcompNNsvn fields, no id). */
static void test_sgx_v2(void **state)
{
    struct pki *k = *state;
    char body[4096];
    size_t o = (size_t)snprintf(
        body, sizeof(body),
        "{\"version\":2,%s,\"fmspc\":\"00906ed50000\",\"pceId\":\"0000\",\"tcbType\":0,"
        "\"tcbEvaluationDataNumber\":8,\"tcbLevels\":[{\"tcb\":{",
        DATES);
    for (int i = 1; i <= 16; i++)
        o += (size_t)snprintf(body + o, sizeof(body) - o, "\"sgxtcbcomp%02dsvn\":%d,", i,
                              i == 2 ? 7 : 3);
    snprintf(body + o, sizeof(body) - o,
             "\"pcesvn\":9},\"tcbDate\":\"2023-01-01T00:00:00Z\",\"tcbStatus\":"
             "\"ConfigurationNeeded\"}]}");
    char *tcb = sign_doc(k->signer_key, "tcbInfo", body);
    struct sgx_case c;
    sgx_case_init(&c, 7, 7, 9, 8);
    struct collateral_input in = {.pck = &c.pck, .qe_report = c.qe_report};
    struct collateral_result r;
    struct cairn_error err = {0};
    assert_int_equal(eval(k, &in, tcb, NULL, &r, &err), 0);
    assert_string_equal(r.status, "ConfigurationNeeded");
    assert_string_equal(r.qe_status, "");
    collateral_result_free(&r);
    c.pck.comp_svn[1] = 6;
    assert_int_equal(eval(k, &in, tcb, NULL, &r, &err), CAIRN_ERR_VERIFY);
    /* the QE identity degrades ConfigurationNeeded */
    char *qe = qe_identity(k->signer_key, "QE", 2, QE_SIGNER, 1);
    c.pck.comp_svn[1] = 7;
    c.qe_report[SGX_RB_ISVSVN] = 6;
    assert_int_equal(eval(k, &in, tcb, qe, &r, &err), 0);
    assert_string_equal(r.status, "OutOfDateConfigurationNeeded");
    collateral_result_free(&r);
    free(qe);
    free(tcb);
    /* malformed levels */
    static const char *const bodies[] = {
        "{\"version\":4,\"id\":\"SGX\"}",
        "{\"version\":3,\"id\":\"SGX\",\"issueDate\":\"2024-01-01\",\"nextUpdate\":\"2024-02-01T00:"
        "00:00Z\"}",
        "{\"version\":3,\"id\":\"SGX\",%s,\"fmspc\":\"00906ED50000\",\"pceId\":\"0000\","
        "\"tcbLevels\":[]}",
        "{\"version\":3,\"id\":\"SGX\",%s,\"fmspc\":\"00906ED500\",\"pceId\":\"0000\","
        "\"tcbLevels\":[]}",
        "{\"version\":3,\"id\":\"SGX\",%s,\"fmspc\":\"00906ED50000\",\"pceId\":\"0000\","
        "\"tcbLevels\":[{\"tcb\":{\"sgxtcbcomponents\":[],\"pcesvn\":1},\"tcbStatus\":\"UpToDate\"}"
        "]}",
        "{\"version\":2,%s,\"fmspc\":\"00906ED50000\",\"pceId\":\"0000\",\"tcbLevels\":[{\"tcb\":{"
        "\"pcesvn\":1},\"tcbStatus\":\"UpToDate\"}]}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        snprintf(body, sizeof(body), bodies[i], DATES);
        char *d = sign_doc(k->signer_key, "tcbInfo", body);
        int rc = eval(k, &in, d, NULL, &r, &err);
        if (rc != CAIRN_ERR_INVALID && rc != CAIRN_ERR_UNSUPPORTED) {
            fprintf(stderr, "body %zu: %d %s\n", i, rc, err.msg);
            fail();
        }
        free(d);
    }
    /* tcbType other than 0 */
    snprintf(body, sizeof(body),
             "{\"version\":3,\"id\":\"SGX\",%s,\"fmspc\":\"00906ED50000\",\"pceId\":\"0000\","
             "\"tcbType\":1,\"tcbLevels\":[]}",
             DATES);
    char *tt = sign_doc(k->signer_key, "tcbInfo", body);
    assert_int_equal(eval(k, &in, tt, NULL, &r, &err), CAIRN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "tcbType must be 0"));
    free(tt);
    /* an unknown status in the matching level */
    snprintf(body, sizeof(body),
             "{\"version\":3,\"id\":\"SGX\",%s,\"fmspc\":\"00906ED50000\",\"pceId\":\"0000\","
             "\"tcbLevels\":[{\"tcb\":"
             "{\"sgxtcbcomponents\":[{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{"
             "\"svn\":0},{\"svn\":0},"
             "{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{"
             "\"svn\":0},{\"svn\":0}],"
             "\"pcesvn\":0},\"tcbStatus\":\"Fine\"}]}",
             DATES);
    char *d = sign_doc(k->signer_key, "tcbInfo", body);
    assert_int_equal(eval(k, &in, d, NULL, &r, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "tcbStatus is not a known status"));
    free(d);
}

/* TDX: TEE TCB SVN components, the TDX module identity, TD_QE. */
static void test_tdx_levels(void **state)
{
    struct pki *k = *state;
    char sgxc[512], tdx1[512], tdx2[512], body[8192];
    comps(sgxc, sizeof(sgxc), 2, -1, 0);
    comps(tdx1, sizeof(tdx1), 0, 2, 5); /* tdx comps: [0]=0,[1]=0,[2]=5 */
    comps(tdx2, sizeof(tdx2), 0, 2, 2);
    /* level 1 also requires byte 0 >= 9, which only counts when TEE_TCB_SVN[1] == 0 */
    char tdx1b[512];
    snprintf(tdx1b, sizeof(tdx1b), "[{\"svn\":9}%s", strchr(tdx1, ','));
    static const char Z48[] = "000000000000000000000000000000000000000000000000"
                              "000000000000000000000000000000000000000000000000";
    snprintf(
        body, sizeof(body),
        "{\"id\":\"TDX\",\"version\":3,%s,\"fmspc\":\"00906ED50000\",\"pceId\":\"0000\","
        "\"tcbType\":0,"
        "\"tcbEvaluationDataNumber\":17,\"tdxModule\":{\"mrsigner\":\"%s\",\"attributes\":"
        "\"0000000000000000\","
        "\"attributesMask\":\"FFFFFFFFFFFFFFFF\"},\"tdxModuleIdentities\":[{\"id\":\"TDX_01\","
        "\"mrsigner\":\"%s\","
        "\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\",\"tcbLevels\":"
        "["
        "{\"tcb\":{\"isvsvn\":4},\"tcbDate\":\"2024-03-13T00:00:00Z\",\"tcbStatus\":\"UpToDate\"},"
        "{\"tcb\":{\"isvsvn\":2},\"tcbDate\":\"2023-08-09T00:00:00Z\",\"tcbStatus\":\"OutOfDate\","
        "\"advisoryIDs\":[\"INTEL-SA-01000\"]}]}],"
        "\"tcbLevels\":["
        "{\"tcb\":{\"sgxtcbcomponents\":%s,\"pcesvn\":11,\"tdxtcbcomponents\":%s},\"tcbDate\":"
        "\"2024-03-13T00:00:00Z\",\"tcbStatus\":\"UpToDate\"},"
        "{\"tcb\":{\"sgxtcbcomponents\":%s,\"pcesvn\":11,\"tdxtcbcomponents\":%s},\"tcbDate\":"
        "\"2023-08-09T00:00:00Z\",\"tcbStatus\":\"ConfigurationNeeded\",\"advisoryIDs\":[\"INTEL-"
        "SA-00999\"]}]}",
        DATES, Z48, Z48, sgxc, tdx1b, sgxc, tdx2);
    char *tcb = sign_doc(k->signer_key, "tcbInfo", body);
    struct sgx_case c;
    sgx_case_init(&c, 2, 2, 11, 8);
    uint8_t svn[16] = {4, 1, 5}, seam_signer[48] = {0}, seam_attr[8] = {0};
    struct collateral_input in = {.tdx = true,
                                  .pck = &c.pck,
                                  .qe_report = c.qe_report,
                                  .tee_tcb_svn = svn,
                                  .mr_signer_seam = seam_signer,
                                  .seam_attributes = seam_attr};
    struct collateral_result r;
    struct cairn_error err = {0};
    int rc = eval(k, &in, tcb, NULL, &r, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(r.status, "UpToDate"); /* byte 0 (9 > 4) skipped: module version 1 */
    assert_string_equal(r.module_status, "UpToDate");
    collateral_result_free(&r);
    svn[2] = 4; /* below level 1's component 2 */
    assert_int_equal(eval(k, &in, tcb, NULL, &r, &err), 0);
    assert_string_equal(r.status, "ConfigurationNeeded");
    collateral_result_free(&r);
    svn[0] = 3; /* module SVN 3: module level OutOfDate */
    assert_int_equal(eval(k, &in, tcb, NULL, &r, &err), 0);
    assert_string_equal(r.module_status, "OutOfDate");
    assert_string_equal(r.status, "OutOfDateConfigurationNeeded");
    assert_true(has_adv(&r, "INTEL-SA-00999"));
    assert_true(has_adv(&r, "INTEL-SA-01000"));
    collateral_result_free(&r);
    svn[0] = 1; /* below every module level */
    assert_int_equal(eval(k, &in, tcb, NULL, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "no matching TDX module TCB level for module SVN 1"));
    svn[0] = 4;
    svn[1] = 3; /* no TDX_03 identity */
    assert_int_equal(eval(k, &in, tcb, NULL, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "no TDX module identity TDX_03"));
    svn[1] = 0; /* module version 0: byte 0 counts (4 < 9) -> level 2 needs byte 2 >= 2 */
    svn[2] = 5;
    assert_int_equal(eval(k, &in, tcb, NULL, &r, &err), 0);
    assert_string_equal(r.status, "ConfigurationNeeded");
    assert_string_equal(r.module_status, ""); /* tdxModule has no levels */
    collateral_result_free(&r);
    seam_signer[0] = 1;
    assert_int_equal(eval(k, &in, tcb, NULL, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "MRSIGNERSEAM"));
    seam_signer[0] = 0;
    seam_attr[0] = 1;
    assert_int_equal(eval(k, &in, tcb, NULL, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "SEAMATTRIBUTES"));
    seam_attr[0] = 0;
    /* TD_QE identity, and a QE identity meant for SGX */
    char *tdqe = qe_identity(k->signer_key, "TD_QE", 2, QE_SIGNER, 1);
    char *sgxqe = qe_identity(k->signer_key, "QE", 2, QE_SIGNER, 1);
    c.qe_report[SGX_RB_ISVSVN] = 6;
    assert_int_equal(eval(k, &in, tcb, tdqe, &r, &err), 0);
    assert_string_equal(r.qe_status, "OutOfDate");
    assert_string_equal(r.status, "OutOfDateConfigurationNeeded");
    assert_true(has_adv(&r, "INTEL-SA-00615"));
    collateral_result_free(&r);
    assert_int_equal(eval(k, &in, tcb, sgxqe, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "id \"QE\" is not \"TD_QE\""));
    /* SGX TCB info for a TDX quote */
    char *s = sgx_tcbinfo_v3(k->signer_key, "SGX");
    assert_int_equal(eval(k, &in, s, NULL, &r, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "does not match a TDX quote"));
    free(s);
    free(tdqe);
    free(sgxqe);
    free(tcb);
}

/* Document sets: arrays of PCS documents, the matching one is used. */
static void test_doc_sets(void **state)
{
    struct pki *k = *state;
    char *sgx = sgx_tcbinfo_v3(k->signer_key, "SGX");
    char *tdx = sgx_tcbinfo_v3(k->signer_key, "TDX"); /* id TDX, same FMSPC */
    char *other = strdup(sgx);
    char *f = strstr(other, "00906ED50000");
    f[11] = '1'; /* another FMSPC (and a broken signature: never selected) */
    char *qe = qe_identity(k->signer_key, "QE", 2, QE_SIGNER, 1);
    char *tdqe = qe_identity(k->signer_key, "TD_QE", 2, QE_SIGNER, 1);
    char *set = NULL, *qset = NULL;
    assert_true(asprintf(&set, " [ %s ,\n%s,%s ] ", tdx, other, sgx) > 0);
    assert_true(asprintf(&qset, "[%s,%s]", tdqe, qe) > 0);
    struct sgx_case c;
    sgx_case_init(&c, 10, 10, 10, 8);
    struct collateral_input in = {.pck = &c.pck, .qe_report = c.qe_report};
    struct collateral_result r;
    struct cairn_error err = {0};
    int rc = eval(k, &in, set, qset, &r, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(r.status, "UpToDate");
    assert_string_equal(r.qe_status, "UpToDate");
    collateral_result_free(&r);
    /* no document for this FMSPC */
    c.pck.fmspc[0] = 0x55;
    assert_int_equal(eval(k, &in, set, qset, &r, &err), CAIRN_ERR_NOT_FOUND);
    assert_non_null(
        strstr(err.msg, "tcb info: the document set has none with id SGX and fmspc 55906ed50000"));
    c.pck.fmspc[0] = 0;
    /* no QE identity of the right kind */
    free(qset);
    assert_true(asprintf(&qset, "[%s]", tdqe) > 0);
    assert_int_equal(eval(k, &in, set, qset, &r, &err), CAIRN_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "qe identity: the document set has none with id QE"));
    /* malformed sets */
    static const char *const bad[] = {"[", "[{}", "[{} {}]", "[1,]",
                                      "[{\"tcbInfo\":{}},{\"a\":1,\"a\":2}]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rc = eval(k, &in, bad[i], NULL, &r, &err);
        if (rc == 0) {
            fprintf(stderr, "set %zu accepted\n", i);
            fail();
        }
    }
    /* the empty set */
    assert_int_equal(eval(k, &in, "[]", NULL, &r, &err), CAIRN_ERR_NOT_FOUND);
    free(set);
    free(qset);
    free(sgx);
    free(tdx);
    free(other);
    free(qe);
    free(tdqe);
}

/* ---- real collateral: one flipped bit anywhere is refused ----------------- */

static uint8_t *shared_load(const char *rel, size_t *n)
{
    const char *dir = getenv("CAIRN_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/testvectors/%s", dir ? dir : "/nonexistent", rel);
    uint8_t *p = NULL;
    if (cairn_file_read(path, 1 << 20, &p, n) != 0) {
        fprintf(stderr, "%s absent: skipping (needs CAIRN_SHARED_DIR test vectors)\n", path);
        skip();
    }
    return p;
}

static void test_real_doc_bit_flips(void **state)
{
    (void)state;
    size_t tl, ql, cl, n;
    char *tcb =
        (char *)shared_load("sgx/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json", &tl);
    char *qe = (char *)shared_load("sgx/mobilecoin_qe_identity.json", &ql);
    uint8_t *signer = shared_load("sgx/mobilecoin_tcb_signer.pem", &cl);
    uint8_t *quote = shared_load("sgx/mobilecoin_hw_quote.dat", &n);
    STACK_OF(X509) *chain = NULL;
    struct cairn_error err = {0};
    assert_int_equal(cc_certs_from_pem((const char *)signer, cl, &chain, &err), 0);
    struct dcap_quote q;
    assert_int_equal(dcap_quote_parse(quote, n, DCAP_TEE_SGX, &q, &err), 0);
    BIO *b = BIO_new_mem_buf(q.pck_pem, (int)q.pck_pem_size);
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    struct dcap_pck_info pck;
    assert_int_equal(dcap_pck_info_parse(leaf, &pck, &err), 0);
    struct collateral_input in = {.pck = &pck, .qe_report = q.qe_report};
    time_t at;
    assert_int_equal(dcap_time_parse("2023-07-12T20:48:25Z", &at), 0);
    struct attest_trust t = {.collateral_chain = chain,
                             .tcb_info = tcb,
                             .tcb_info_len = tl,
                             .qe_identity = qe,
                             .qe_identity_len = ql};
    struct collateral_result r;
    json_t *checks = json_array();
    assert_int_equal(collateral_evaluate(&in, &t, at, checks, &r, &err), 0);
    assert_string_equal(r.status, "SWHardeningNeeded");
    collateral_result_free(&r);

    size_t tried = 0;
    for (int doc = 0; doc < 2; doc++) {
        char *d = doc == 0 ? tcb : qe;
        size_t dl = doc == 0 ? tl : ql;
        char *sig = strstr(d, "\"signature\":\"");
        assert_non_null(sig);
        size_t sig_start = (size_t)(sig - d) + 13, sig_end = sig_start + 128;
        char *m = malloc(dl);
        for (size_t i = 0; i < dl; i += (doc == 0 ? 3 : 1)) {
            int bit = (int)(i % 8);
            /* In the signature hex, flipping bit 5 of a letter only changes its
             * case: the same signature. */
            if (i >= sig_start && i < sig_end && bit == 5 &&
                ((d[i] | 0x20) >= 'a' && (d[i] | 0x20) <= 'f'))
                continue;
            memcpy(m, d, dl);
            m[i] ^= (char)(1 << bit);
            struct attest_trust tm = t;
            if (doc == 0)
                tm.tcb_info = m;
            else
                tm.qe_identity = m;
            int rc = collateral_evaluate(&in, &tm, at, checks, &r, &err);
            if (rc == 0) {
                fprintf(stderr, "doc %d: flip of bit %d at %zu (%c) accepted\n", doc, bit, i, d[i]);
                fail();
            }
            tried++;
        }
        free(m);
    }
    fprintf(stderr, "%zu mutated collateral documents refused\n", tried);
    json_decref(checks);
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    free(tcb);
    free(qe);
    free(signer);
    free(quote);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_parse),
        cmocka_unit_test(test_converge),
        cmocka_unit_test_setup_teardown(test_sgx_levels, pki_setup, pki_teardown),
        cmocka_unit_test_setup_teardown(test_sgx_v2, pki_setup, pki_teardown),
        cmocka_unit_test_setup_teardown(test_tdx_levels, pki_setup, pki_teardown),
        cmocka_unit_test_setup_teardown(test_doc_sets, pki_setup, pki_teardown),
        cmocka_unit_test(test_real_doc_bit_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
