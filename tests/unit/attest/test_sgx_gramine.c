/* Gramine issuer against a fake /dev/attestation directory. This tests the
 * file handling only: the "quote" file holds a real quote copied from the
 * shared vectors (or arbitrary bytes), so the issued evidence cannot bind the
 * report data we wrote; that is asserted too. */
#include "test_sgx_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include "attest/attest.h"
#include "attest/issuer.h"
#include "attest/sgx.h"

static void put(const char *dir, const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n > 0)
        assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void rm_dir(const char *dir)
{
    static const char *const names[] = {"user_report_data", "quote", "attestation_type"};
    char path[512];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_issue_and_probe(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-gramine-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct attest_issuer_config cfg = {.gramine_dir = dir,
                                       .configfs_tsm = "/nonexistent/tsm",
                                       .tpm_tcti = "swtpm:host=127.0.0.1,port=1"};
    uint8_t rd[64];
    for (int i = 0; i < 64; i++)
        rd[i] = (uint8_t)(i * 7 + 1);
    struct attest_issued iss;
    struct cairn_error err = {0};

    /* nothing there yet */
    assert_false(gramine_probe(&cfg));
    assert_int_equal(attest_issue(ATTEST_SGX, rd, &cfg, &iss, &err), CAIRN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "user_report_data"));

    size_t qn = 0;
    uint8_t *q = NULL;
    const char *shared = getenv("CAIRN_SHARED_DIR");
    char qp[512];
    snprintf(qp, sizeof(qp), "%s/testvectors/sgx/trustee_occlum_quote.dat",
             shared ? shared : "/nonexistent");
    if (cairn_file_read(qp, 1 << 20, &q, &qn) != 0) {
        q = (uint8_t *)strdup("not a quote");
        qn = strlen((char *)q);
    }
    put(dir, "user_report_data", "", 0);
    put(dir, "quote", q, qn);
    assert_true(gramine_probe(&cfg));
    assert_int_equal(attest_probe(&cfg), ATTEST_SGX);

    assert_int_equal(attest_issue(ATTEST_SGX, rd, &cfg, &iss, &err), 0);
    assert_int_equal(iss.type, ATTEST_SGX);
    assert_int_equal(iss.quote_len, qn);
    assert_memory_equal(iss.quote, q, qn);
    char path[512];
    snprintf(path, sizeof(path), "%s/user_report_data", dir);
    uint8_t *w;
    size_t wn;
    assert_int_equal(cairn_file_read(path, 1024, &w, &wn), 0);
    assert_int_equal(wn, 64);
    assert_memory_equal(w, rd, 64);
    free(w);

    /* wire form: SGX travels as a bare "quote" like MarbleRun's */
    json_t *req = json_object();
    assert_int_equal(attest_evidence_to_json(&iss, req), 0);
    assert_true(json_is_string(json_object_get(req, "quote")));
    assert_null(json_object_get(req, "evidence"));
    json_decref(req);

    /* The fake quote cannot carry our report data: verification (if the
     * bytes are a real quote) fails at the binding. */
    struct attest_evidence ev = {
        .type = ATTEST_SGX, .quote = iss.quote, .quote_len = iss.quote_len};
    struct attest_trust t = {.at = tv_time("2024-06-01T00:00:00Z")};
    struct attest_claims c;
    int rc = attest_verify(&ev, &t, rd, 32, &c, &err);
    assert_true(rc < 0);
    attest_issued_free(&iss);

    /* attestation_type other than dcap */
    put(dir, "attestation_type", "none\n", 5);
    assert_false(gramine_probe(&cfg));
    assert_int_equal(attest_issue(ATTEST_SGX, rd, &cfg, &iss, &err), CAIRN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "attestation type is \"none\""));
    put(dir, "attestation_type", "dcap\n", 5);
    assert_true(gramine_probe(&cfg));

    /* empty and oversized quotes */
    put(dir, "quote", "", 0);
    assert_int_equal(attest_issue(ATTEST_SGX, rd, &cfg, &iss, &err), CAIRN_ERR_IO);
    assert_non_null(strstr(err.msg, "is empty"));
    uint8_t *big = calloc(1, DCAP_QUOTE_MAX + 1);
    put(dir, "quote", big, DCAP_QUOTE_MAX + 1);
    free(big);
    assert_int_equal(attest_issue(ATTEST_SGX, rd, &cfg, &iss, &err), CAIRN_ERR_TOO_LARGE);

    rm_dir(dir);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_and_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
