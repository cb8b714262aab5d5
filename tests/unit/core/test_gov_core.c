/* Unit tests of the governance operations on a real in-memory core
 * (simulation, memory only, no network): every refusal leaves the installed
 * snapshot (same pointer), the update log and the pending update exactly as
 * they were; accepted operations install one new snapshot with their log
 * lines. Complements the integration tests in tests/integration/governance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/encoding.h"
#include "core/core_internal.h"
#include "core/governance.h"
#include "crypto/crypto.h"

struct fx {
    struct core *c;
    X509 *alice, *bob, *eve;
};

static char *self_signed_pem(const char *cn, X509 **out)
{
    EVP_PKEY *k = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &k, NULL), 0);
    struct cc_cert_template t = {.subject = {.common_name = cn}, .max_path_len = -1};
    assert_int_equal(cc_cert_issue(&t, k, NULL, k, out, NULL), 0);
    char *pem = NULL;
    size_t n = 0;
    assert_int_equal(cc_cert_to_pem(*out, &pem, &n), 0);
    EVP_PKEY_free(k);
    json_t *j = json_string(pem);
    char *q = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    free(pem);
    return q;
}

static char *manifest_doc(const char *alice, const char *bob, const char *extra_env)
{
    char *doc = NULL;
    assert_true(asprintf(&doc,
                         "{\"Packages\": {\"pkg\": {\"SignerID\": \"11\", \"ProductID\": 1, \"SecurityVersion\": 1}},"
                         " \"Marbles\": {\"m\": {\"Package\": \"pkg\", \"Parameters\": {\"Env\": {\"E\": \"%s\"}}}},"
                         " \"Secrets\": {\"k\": {\"Type\": \"symmetric-key\", \"Size\": 128, \"UserDefined\": true},"
                         "  \"s\": {\"Type\": \"symmetric-key\", \"Size\": 128, \"Shared\": true},"
                         "  \"c\": {\"Type\": \"cert-ecdsa\", \"Size\": 256, \"Shared\": true}},"
                         " \"Users\": {\"alice\": {\"Certificate\": %s, \"Roles\": [\"rw\", \"upd\", \"svn\"]},"
                         "  \"bob\": {\"Certificate\": %s, \"Roles\": [\"upd\"]}},"
                         " \"Roles\": {\"rw\": {\"ResourceType\": \"Secrets\", \"ResourceNames\": [\"k\"], "
                         "\"Actions\": [\"ReadSecret\", \"WriteSecret\"]},"
                         "  \"upd\": {\"ResourceType\": \"Manifest\", \"Actions\": [\"UpdateManifest\"]},"
                         "  \"svn\": {\"ResourceType\": \"Packages\", \"ResourceNames\": [\"pkg\"], "
                         "\"Actions\": [\"UpdateSecurityVersion\"]}}}",
                         extra_env, alice, bob) > 0);
    return doc;
}

static char *m1, *m2;

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char *pa = self_signed_pem("alice", &f->alice), *pb = self_signed_pem("bob", &f->bob);
    char *pe = self_signed_pem("eve", &f->eve);
    m1 = manifest_doc(pa, pb, "one");
    m2 = manifest_doc(pa, pb, "two");
    free(pa);
    free(pb);
    free(pe);
    struct core_config cfg = {.simulation = true, .memory_only = true};
    struct cairn_error e = {0};
    assert_int_equal(core_new(&cfg, &f->c, &e), 0);
    json_t *rec = NULL;
    if (core_manifest_set(f->c, (const uint8_t *)m1, strlen(m1), &rec, &e) != 0)
        fail_msg("manifest set: %s", e.msg);
    json_decref(rec);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    core_free(f->c);
    X509_free(f->alice);
    X509_free(f->bob);
    X509_free(f->eve);
    free(m1);
    free(m2);
    free(f);
    return 0;
}

/* The installed snapshot and the log length, to prove "unchanged". */
struct mark {
    struct core_snap *snap;
    size_t log_len;
};

static struct mark mark(struct core *c)
{
    struct mark m;
    m.snap = core_snap_get(c);
    core_snap_put(m.snap);   /* pointer identity only */
    json_t *log = NULL;
    assert_int_equal(core_update_log(c, &log), 0);
    m.log_len = json_array_size(log);
    json_decref(log);
    return m;
}

static void assert_unchanged(struct core *c, struct mark before)
{
    struct mark now = mark(c);
    assert_ptr_equal(now.snap, before.snap);
    assert_int_equal(now.log_len, before.log_len);
}

static const char *last_log(struct core *c, char *buf, size_t n)
{
    json_t *log = NULL;
    assert_int_equal(core_update_log(c, &log), 0);
    snprintf(buf, n, "%s", json_string_value(json_array_get(log, json_array_size(log) - 1)));
    json_decref(log);
    return buf;
}

static void test_secrets(void **state)
{
    struct fx *f = *state;
    struct cairn_error e = {0};
    struct mark m0 = mark(f->c);
    json_t *up = json_pack("{s:{s:s}}", "k", "Key", "AAECAwQFBgcICQoLDA0ODw==");   /* 16 bytes */
    assert_int_equal(gov_secrets_set(f->c, f->bob, up, &e), CAIRN_ERR_PERMISSION);
    assert_non_null(strstr(e.msg, "user bob is not allowed to WriteSecret k"));
    assert_int_equal(gov_secrets_set(f->c, f->eve, up, &e), CAIRN_ERR_UNAUTHENTICATED);
    assert_int_equal(gov_secrets_set(f->c, NULL, up, &e), CAIRN_ERR_UNAUTHENTICATED);
    json_t *bad = json_pack("{s:{s:s}}", "k", "Key", "AAEC");
    assert_int_not_equal(gov_secrets_set(f->c, f->alice, bad, &e), 0);
    json_t *empty = json_object();
    assert_int_equal(gov_secrets_set(f->c, f->alice, empty, &e), CAIRN_ERR_INVALID);
    assert_unchanged(f->c, m0);

    assert_int_equal(gov_secrets_set(f->c, f->alice, up, &e), 0);
    struct mark m1k = mark(f->c);
    assert_ptr_not_equal(m1k.snap, m0.snap);
    assert_int_equal(m1k.log_len, m0.log_len + 1);
    char buf[512];
    assert_non_null(strstr(last_log(f->c, buf, sizeof(buf)), "\"update\":\"Secret set\",\"user\":\"alice\",\"secret\":\"k\""));

    const char *names[] = {"k"};
    json_t *out = NULL;
    assert_int_equal(gov_secrets_get(f->c, f->alice, names, 1, &out, &e), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "k"), "Private")),
                        "AAECAwQFBgcICQoLDA0ODw==");
    json_decref(out);
    const char *shared[] = {"s"};
    out = NULL;
    assert_int_equal(gov_secrets_get(f->c, f->alice, shared, 1, &out, &e), CAIRN_ERR_PERMISSION);
    assert_null(out);
    json_decref(up);
    json_decref(bad);
    json_decref(empty);
}

static void test_svn_update(void **state)
{
    struct fx *f = *state;
    struct cairn_error e = {0};
    struct core_snap *before = core_snap_get(f->c);
    struct mark m0 = mark(f->c);
    const char *up = "{\"Packages\": {\"pkg\": {\"SecurityVersion\": 4}}}";
    const char *down = "{\"Packages\": {\"pkg\": {\"SecurityVersion\": 0}}}";
    json_t *out = NULL;
    assert_int_equal(gov_update(f->c, f->bob, (const uint8_t *)up, strlen(up), &out, &e), CAIRN_ERR_PERMISSION);
    assert_int_equal(gov_update(f->c, f->alice, (const uint8_t *)down, strlen(down), &out, &e), CAIRN_ERR_INVALID);
    assert_int_equal(gov_update(f->c, f->alice, (const uint8_t *)"{", 1, &out, &e), CAIRN_ERR_INVALID);
    assert_null(out);
    assert_unchanged(f->c, m0);
    assert_int_equal(gov_update(f->c, f->alice, (const uint8_t *)up, strlen(up), &out, &e), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "missingAcknowledgments")), 0);
    json_decref(out);
    struct core_snap *after = core_snap_get(f->c);
    assert_int_equal(manifest_find_package(after->manifest, "pkg")->pkg.security_version, 4);
    assert_int_equal(manifest_find_package(before->manifest, "pkg")->pkg.security_version, 1);   /* old snapshot intact */
    assert_false(cc_cert_equal(after->intermediate_cert, before->intermediate_cert));
    assert_true(cc_cert_equal(after->root_cert, before->root_cert));
    assert_int_equal(after->manifest_raw_len, before->manifest_raw_len);
    assert_memory_equal(after->manifest_raw, before->manifest_raw, before->manifest_raw_len);
    assert_memory_equal(after->manifest_sig, before->manifest_sig, before->manifest_sig_len);
    const struct manifest_secret_value *s0 = manifest_secret_set_find(before->secrets, "s"),
                                       *s1 = manifest_secret_set_find(after->secrets, "s"),
                                       *c0 = manifest_secret_set_find(before->secrets, "c"),
                                       *c1 = manifest_secret_set_find(after->secrets, "c");
    assert_memory_equal(s0->private_key, s1->private_key, s0->private_len);   /* symmetric key kept */
    assert_true(c0->cert_len != c1->cert_len || memcmp(c0->cert, c1->cert, c0->cert_len) != 0);   /* cert new */
    /* an SVN update is not a full update: no previous root secret */
    assert_false(after->has_previous_root_secret);
    assert_memory_equal(after->root_secret, before->root_secret, 32);
    struct manifest_secret_set *prev = NULL;
    assert_int_equal(gov_previous_secrets(after, "6a1c9f0e-3b52-4d7a-9e1f-0c2b8d4e5f61", "m", NULL, &prev, &e), 0);
    /* no full update yet: .Previous.Secrets are the current values (MarbleRun's SetManifest) */
    assert_non_null(prev);
    const struct manifest_secret_value *ps = manifest_secret_set_find(prev, "s");
    assert_non_null(ps);
    assert_int_equal(ps->private_len, s1->private_len);
    assert_memory_equal(ps->private_key, s1->private_key, s1->private_len);
    manifest_secret_set_free(prev);
    char buf[512];
    assert_non_null(strstr(last_log(f->c, buf, sizeof(buf)), "\"package\":\"pkg\",\"new version\":4"));
    core_snap_put(after);
    core_snap_put(before);
}

static void test_full_update(void **state)
{
    struct fx *f = *state;
    struct cairn_error e = {0};
    json_t *out = NULL;
    json_t *up = json_pack("{s:{s:s}}", "k", "Key", "AAECAwQFBgcICQoLDA0ODw==");
    assert_int_equal(gov_secrets_set(f->c, f->alice, up, &e), 0);
    json_decref(up);
    struct core_snap *s0 = core_snap_get(f->c);
    assert_false(s0->has_previous_root_secret);
    uint8_t root0[32];
    memcpy(root0, s0->root_secret, 32);
    core_snap_put(s0);
    assert_int_equal(gov_update_pending(f->c, &out, &e), CAIRN_ERR_NOT_FOUND);
    assert_string_equal(e.msg, "no update in progress");
    assert_int_equal(gov_update(f->c, f->alice, (const uint8_t *)m2, strlen(m2), &out, &e), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "missingAcknowledgments")), 1);   /* 0 = both users */
    json_decref(out);
    out = NULL;
    assert_int_equal(gov_update_pending(f->c, &out, &e), 0);
    assert_string_equal(json_string_value(json_object_get(out, "message")),
                        "1 users still need to acknowledge the update manifest");
    json_decref(out);
    struct mark m0 = mark(f->c);
    out = NULL;
    /* refusals: another submission, a different manifest, a second ack, an outsider */
    assert_int_equal(gov_update(f->c, f->bob, (const uint8_t *)m1, strlen(m1), &out, &e), CAIRN_ERR_STATE);
    assert_non_null(strstr(e.msg, "update already in progress"));
    assert_int_equal(gov_update_ack(f->c, f->bob, (const uint8_t *)m1, strlen(m1), &out, &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "provided manifest does not match the pending manifest");
    assert_int_equal(gov_update_ack(f->c, f->alice, (const uint8_t *)m2, strlen(m2), &out, &e), CAIRN_ERR_INVALID);
    assert_int_equal(gov_update_ack(f->c, f->eve, (const uint8_t *)m2, strlen(m2), &out, &e),
                     CAIRN_ERR_UNAUTHENTICATED);
    assert_int_equal(gov_update_cancel(f->c, f->eve, &e), CAIRN_ERR_UNAUTHENTICATED);
    assert_null(out);
    assert_unchanged(f->c, m0);

    assert_int_equal(gov_update_ack(f->c, f->bob, (const uint8_t *)m2, strlen(m2), &out, &e), 0);
    assert_string_equal(json_string_value(json_object_get(out, "message")),
                        "All users have acknowledged the update manifest. Update successfully applied");
    json_decref(out);
    struct core_snap *s = core_snap_get(f->c);
    assert_int_equal(s->manifest_raw_len, strlen(m2));
    assert_memory_equal(s->manifest_raw, m2, strlen(m2));
    assert_null(json_object_get(s->gov, "pendingUpdate"));
    assert_non_null(s->previous_secrets);
    assert_non_null(manifest_secret_set_find(s->previous_secrets, "c"));   /* .Previous.Secrets */
    assert_non_null(manifest_secret_set_find(s->secrets, "k"));            /* uploaded value kept */
    /* MarbleRun backs the root secret up as previousRootSecret only with
     * RotateRootSecret; without it none is set (= the current one) */
    assert_false(s->has_previous_root_secret);
    assert_memory_equal(s->root_secret, root0, 32);
    /* the marble's previous set: stored previous values; no private
     * symmetric key in this manifest, so nothing derived */
    struct manifest_secret_set *prev = NULL;
    assert_int_equal(gov_previous_secrets(s, "6a1c9f0e-3b52-4d7a-9e1f-0c2b8d4e5f61", "m", NULL, &prev, &e), 0);
    assert_non_null(prev);
    assert_int_equal(prev->count, s->previous_secrets->count);
    assert_non_null(manifest_secret_set_find(prev, "c"));
    manifest_secret_set_free(prev);
    core_snap_put(s);

    /* start and cancel */
    out = NULL;
    assert_int_equal(gov_update(f->c, f->bob, (const uint8_t *)m1, strlen(m1), &out, &e), 0);
    json_decref(out);
    assert_int_equal(gov_update_cancel(f->c, f->alice, &e), 0);
    assert_int_equal(gov_update_cancel(f->c, f->alice, &e), CAIRN_ERR_NOT_FOUND);
    char buf[512];
    assert_non_null(strstr(last_log(f->c, buf, sizeof(buf)), "\"update\":\"Complete Manifest update cancelled by user\""));
}

static void test_recover_outside_state1(void **state)
{
    struct fx *f = *state;
    struct cairn_error e = {0};
    uint8_t sec[32] = {0}, sig[256] = {0};
    int rem = -1;
    char *msg = NULL;
    assert_int_equal(gov_recover(f->c, sec, 32, sig, 256, &rem, &msg, &e), CAIRN_ERR_STATE);
    assert_null(msg);
    assert_int_equal(rem, -1);
    uint8_t *der = NULL;
    size_t n = 0;
    assert_int_equal(gov_recover_public_key(f->c, &der, &n, &e), CAIRN_ERR_STATE);
    assert_null(der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svn_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_outside_state1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
