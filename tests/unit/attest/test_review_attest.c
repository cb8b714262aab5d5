/* Security review regressions for src/attest (docs/security-review.md).
 *
 * qe_identity_nul: a QE identity or TCB info document was copied with
 * strdup() but passed on with the file's length; a NUL byte inside the file
 * made docs_add() read (and, for a "[...]" document set, write) past the
 * copy. Found by fuzz_trust_files (ASan heap-buffer-overflow in docs_add);
 * the input below is that crash. Trust files come from the trust directory,
 * which is on the host's disk: not trusted by a Coordinator in a TEE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "attest/trust_files.h"

/* the fuzzer's input (first byte: SGX, kind by content) */
static const char k_crash[] =
    "{\"enclaveIdentity\":{\"id\":\"QE\",\"version\":2,\"issueDate\":\"2023-07-12T20:48:25Z\",\"nextU"
    "pdate\":\"2023-08-11T20:48:25Z\",\"tcbEvaluationDataNumber\":150\0,\"miscselect\":\"00000000\",\""
    "miscselectMask\":\"FFFFFFFF\",\"attributes\":\"11000000000000000000000000000000\",\"attributesMa"
    "sk\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"8C4F5775D796503E96137F77C68A829A0056AC8"
    "DED70140B081B094490C57BFF\",\"isvprodid\":1,\"tcbLevels\":[{\"tcb\":{\"isvsvn\":8},\"tcbDate\":\""
    "2023-02-15T00:00:00Z\",\"tcbStatus\":\"UpToDate\"},{\"tcb\":\"2018-08-15T00:00:00Z\",\"tcbStatus"
    "\":\"OutOfDate\",\"advisoryIDs\":[\"INTEL-SA-00202\",\"INTEL-SA-00219\",\"INTEL-SA-00293\",\"INT"
    "EL-SA-00334\",\"INTEL-SA-00477\",\"INTEL-SA-00615\"]}]},\"signature\":\"953add69a564b80c43adb9c9"
    "dbc888da81aad8af240cd7dfd751f0209d262a71d9240603a528cb766e9fc3278722e59a43f2a2e43b55c776a7b48acb"
    "e8cd61a3\"}";

static void add_one(enum trust_file_kind kind, const char *doc, size_t len, bool want_nul)
{
    struct trust_files *tf = trust_files_new(ATTEST_SGX);
    assert_non_null(tf);
    struct cairn_error e = {0};
    enum trust_file_kind got = TRUST_FILE_UNKNOWN;
    int rc = trust_files_add(tf, "qe.json", (const uint8_t *)doc, len, kind, &got, &e);
    /* refused whole: nothing described, one line naming the file and the rule */
    assert_int_not_equal(rc, 0);
    print_message("%s\n", e.msg);
    assert_non_null(strstr(e.msg, "qe.json"));
    if (want_nul)
        assert_non_null(strstr(e.msg, "NUL"));
    assert_null(strchr(e.msg, '\n'));
    json_t *d = trust_files_describe(tf);
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);
    trust_files_free(tf);
}

static void qe_identity_nul(void **state)
{
    (void)state;
    add_one(TRUST_FILE_UNKNOWN, k_crash, sizeof(k_crash) - 1, true);
    /* the same document as a set ("[...]", brackets stripped in place,
     * which wrote past the copy), by content and named */
    char set[sizeof(k_crash) + 2];
    set[0] = '[';
    memcpy(set + 1, k_crash, sizeof(k_crash) - 1);
    set[sizeof(k_crash)] = ']';
    add_one(TRUST_FILE_UNKNOWN, set, sizeof(k_crash) + 1, true);
    add_one(TRUST_FILE_QE_IDENTITY, set, sizeof(k_crash) + 1, true);
    add_one(TRUST_FILE_TCB_INFO, set, sizeof(k_crash) + 1, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(qe_identity_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
