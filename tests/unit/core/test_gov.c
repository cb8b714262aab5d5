/* Unit tests of the governance core (issue 6): permissions (roles, the "all
 * requested names" rule, case rules), certificate authentication, the
 * SecurityVersion overrides of a package update checked at the policy level
 * with tee_policy_match (simulation skips identity, so the refusal of a
 * marble with the old SVN is proved here), recovery secrets for one key, XOR
 * and Shamir (decrypted with the private keys and recombined to the DEK), and
 * the recovery data parser (golden document, every truncation, mutations). */
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
#include "crypto/shamir.h"

/* ---- fixtures ---- */

static char *self_signed_pem(const char *cn, X509 **out_cert)
{
    EVP_PKEY *k = NULL;
    X509 *x = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &k, NULL), 0);
    struct cc_cert_template t = {.subject = {.common_name = cn}, .max_path_len = -1};
    assert_int_equal(cc_cert_issue(&t, k, NULL, k, &x, NULL), 0);
    char *pem = NULL;
    size_t n = 0;
    assert_int_equal(cc_cert_to_pem(x, &pem, &n), 0);
    EVP_PKEY_free(k);
    if (out_cert != NULL)
        *out_cert = x;
    else
        X509_free(x);
    return pem;
}

/* JSON string literal of `s` (malloc'd). */
static char *jstr(const char *s)
{
    json_t *j = json_string(s);
    char *o = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    return o;
}

struct users_fixture {
    struct manifest *m;
    X509 *alice, *bob, *stranger;
};

static int users_setup(void **state)
{
    struct users_fixture *f = calloc(1, sizeof(*f));
    char *pa = self_signed_pem("alice", &f->alice), *pb = self_signed_pem("bob", &f->bob);
    char *ps = self_signed_pem("stranger", &f->stranger);
    char *ja = jstr(pa), *jb = jstr(pb);
    char *doc = NULL;
    int n = asprintf(&doc,
                     "{\"Packages\": {\"pkg\": {\"SignerID\": \"11\", \"ProductID\": 1, \"SecurityVersion\": 1},"
                     " \"other\": {\"SignerID\": \"22\"}},"
                     " \"Marbles\": {\"m\": {\"Package\": \"pkg\"}},"
                     " \"Secrets\": {\"a\": {\"Type\": \"plain\", \"UserDefined\": true},"
                     "  \"b\": {\"Type\": \"symmetric-key\", \"Size\": 128, \"Shared\": true}},"
                     " \"Users\": {\"alice\": {\"Certificate\": %s, \"Roles\": [\"rw\", \"upd\", \"svn\"]},"
                     "  \"bob\": {\"Certificate\": %s, \"Roles\": [\"ra\", \"lower\"]}},"
                     " \"Roles\": {\"rw\": {\"ResourceType\": \"Secrets\", \"ResourceNames\": [\"a\", \"b\"], "
                     "\"Actions\": [\"ReadSecret\", \"WriteSecret\"]},"
                     "  \"ra\": {\"ResourceType\": \"Secrets\", \"ResourceNames\": [\"a\"], \"Actions\": [\"readsecret\"]},"
                     "  \"lower\": {\"ResourceType\": \"secrets\", \"ResourceNames\": [\"b\"], \"Actions\": [\"ReadSecret\"]},"
                     "  \"upd\": {\"ResourceType\": \"Manifest\", \"Actions\": [\"UPDATEMANIFEST\"]},"
                     "  \"svn\": {\"ResourceType\": \"Packages\", \"ResourceNames\": [\"pkg\"], "
                     "\"Actions\": [\"UpdateSecurityVersion\"]}}}",
                     ja, jb);
    assert_true(n > 0);
    struct cairn_error e = {0};
    assert_int_equal(manifest_parse((const uint8_t *)doc, strlen(doc), &f->m, &e), 0);
    free(doc);
    free(ja);
    free(jb);
    free(pa);
    free(pb);
    free(ps);
    *state = f;
    return 0;
}

static int users_teardown(void **state)
{
    struct users_fixture *f = *state;
    manifest_free(f->m);
    X509_free(f->alice);
    X509_free(f->bob);
    X509_free(f->stranger);
    free(f);
    return 0;
}

/* ---- users ---- */

static void test_auth(void **state)
{
    struct users_fixture *f = *state;
    const struct manifest_user *u = NULL;
    struct cairn_error e = {0};
    assert_int_equal(gov_user_auth(f->m, f->alice, &u, &e), 0);
    assert_string_equal(u->name, "alice");
    assert_int_equal(gov_user_auth(f->m, f->bob, &u, &e), 0);
    assert_string_equal(u->name, "bob");
    u = NULL;
    assert_int_equal(gov_user_auth(f->m, f->stranger, &u, &e), CAIRN_ERR_UNAUTHENTICATED);
    assert_null(u);   /* out-param untouched on failure */
    assert_non_null(strstr(e.msg, "matches no user"));
    assert_int_equal(gov_user_auth(f->m, NULL, &u, &e), CAIRN_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(e.msg, "no client certificate"));
    assert_int_equal(gov_user_auth(NULL, f->alice, &u, &e), CAIRN_ERR_UNAUTHENTICATED);
}

static void test_permissions(void **state)
{
    struct users_fixture *f = *state;
    const struct manifest_user *alice = manifest_find_user(f->m, "alice"), *bob = manifest_find_user(f->m, "bob");
    assert_true(gov_user_has(f->m, alice, "Secrets", GOV_READ_SECRET, "a"));
    assert_true(gov_user_has(f->m, alice, "Secrets", GOV_WRITE_SECRET, "b"));
    assert_true(gov_user_has(f->m, alice, "Manifest", GOV_UPDATE_MANIFEST, NULL));   /* actions: any case */
    assert_true(gov_user_has(f->m, alice, "Packages", GOV_UPDATE_SVN, "pkg"));
    assert_false(gov_user_has(f->m, alice, "Packages", GOV_UPDATE_SVN, "other"));
    assert_true(gov_user_has(f->m, bob, "Secrets", GOV_READ_SECRET, "a"));      /* "readsecret" */
    assert_false(gov_user_has(f->m, bob, "Secrets", GOV_READ_SECRET, "b"));     /* ResourceType "secrets" */
    assert_false(gov_user_has(f->m, bob, "Secrets", GOV_WRITE_SECRET, "a"));
    assert_false(gov_user_has(f->m, bob, "Manifest", GOV_UPDATE_MANIFEST, NULL));
    assert_false(gov_user_has(f->m, alice, "Secrets", GOV_READ_SECRET, "nope"));

    struct cairn_error e = {0};
    const char *ab[] = {"a", "b"};
    assert_int_equal(gov_require(f->m, alice, "Secrets", GOV_READ_SECRET, ab, 2, &e), 0);
    /* all requested names: b is missing for bob, so a+b is refused and names b */
    assert_int_equal(gov_require(f->m, bob, "Secrets", GOV_READ_SECRET, ab, 2, &e), CAIRN_ERR_PERMISSION);
    assert_non_null(strstr(e.msg, "user bob is not allowed to ReadSecret b"));
    assert_non_null(strstr(e.msg, "Secrets \"b\""));
    assert_int_equal(gov_require(f->m, bob, "Manifest", GOV_UPDATE_MANIFEST, NULL, 0, &e), CAIRN_ERR_PERMISSION);
    assert_non_null(strstr(e.msg, "user bob is not allowed to UpdateManifest"));

    const char **v = NULL;
    size_t n = 0;
    assert_int_equal(gov_update_users(f->m, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], "alice");
    free(v);
}

/* ---- SVN overrides at the policy level ---- */

static int sgx_claims(struct attest_claims *c, int svn)
{
    memset(c, 0, sizeof(*c));
    c->type = ATTEST_SGX;
    c->json = json_pack("{s:s, s:s, s:i, s:i, s:b, s:s}", "type", "sgx", "mrsigner", "11", "isv_prod_id", 1, "isv_svn",
                        svn, "debug", 0, "tcb_status", "UpToDate");
    return c->json != NULL ? 0 : -1;
}

static void test_svn_override_policy(void **state)
{
    struct users_fixture *f = *state;
    struct core_snap *s = core_snap_alloc();
    assert_non_null(s);
    const char *raw = "{\"Packages\": {\"pkg\": {\"SignerID\": \"11\", \"ProductID\": 1, \"SecurityVersion\": 1}},"
                      " \"Marbles\": {\"m\": {\"Package\": \"pkg\"}}}";
    assert_int_equal(manifest_parse((const uint8_t *)raw, strlen(raw), &s->manifest, NULL), 0);
    struct attest_claims c2, c3;
    assert_int_equal(sgx_claims(&c2, 2), 0);
    assert_int_equal(sgx_claims(&c3, 3), 0);
    const struct manifest_package *p = manifest_find_package(s->manifest, "pkg");
    struct cairn_error e = {0};
    assert_int_equal(tee_policy_match(&p->pkg, &c2, &e), 0);   /* SVN 2 >= 1 before the update */

    /* the persisted override of an update to 3 (as the state loader applies it) */
    json_t *gov = json_pack("{s:{s:i}}", "packageSVN", "pkg", 3);
    assert_int_equal(gov_snap_loaded(s, gov, &e), 0);
    assert_int_equal(tee_policy_match(&p->pkg, &c2, &e), CAIRN_ERR_POLICY);   /* the old SVN is refused */
    assert_non_null(strstr(e.msg, "isv_svn too low"));
    assert_int_equal(tee_policy_match(&p->pkg, &c3, &e), 0);
    assert_true(json_equal(s->gov, gov));

    /* malformed overrides are refused and leave the snapshot as it was */
    json_t *bad[] = {json_pack("{s:{s:i}}", "packageSVN", "nope", 4), json_pack("{s:i}", "packageSVN", 4),
                     json_pack("{s:{s:s}}", "packageSVN", "pkg", "4"), json_pack("{s:{s:i}}", "packageSVN", "pkg", -1),
                     json_pack("[i]", 1),
                     /* a valid and an invalid override: nothing may be applied */
                     json_pack("{s:{s:i, s:i}}", "packageSVN", "pkg", 5, "nope", 1),
                     json_pack("{s:{s:i}, s:s}", "packageSVN", "pkg", 5, "pendingUpdate", "x"),
                     json_pack("{s:{s:s, s:[i], s:[], s:i}}", "pendingUpdate", "manifest", "e30=", "requiredUsers", 1,
                               "acknowledged", "missingAcknowledgments", 1),
                     json_pack("{s:{s:s, s:[], s:[], s:i}}", "pendingUpdate", "manifest", "e30=", "requiredUsers",
                               "acknowledged", "missingAcknowledgments", -1)};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(gov_snap_loaded(s, bad[i], &e), 0);
        assert_int_equal(p->pkg.security_version, 3);
        assert_true(json_equal(s->gov, gov));
        json_decref(bad[i]);
    }
    json_decref(gov);
    attest_claims_free(&c2);
    attest_claims_free(&c3);
    core_snap_put(s);
    (void)f;
}

/* ---- recovery secrets ---- */

struct rkeys {
    EVP_PKEY *priv[3];
    char *pem[3];
};

static struct manifest *recovery_manifest(struct rkeys *k, size_t n, unsigned threshold)
{
    char *keys = strdup("");
    for (size_t i = 0; i < n; i++) {
        if (k->priv[i] == NULL) {
            assert_int_equal(cc_key_generate(CC_KEY_RSA, 2048, &k->priv[i], NULL), 0);
            size_t l = 0;
            assert_int_equal(cc_pubkey_to_spki_pem(k->priv[i], &k->pem[i], &l), 0);
        }
        char *j = jstr(k->pem[i]), *nk = NULL;
        assert_true(asprintf(&nk, "%s%s\"rk%zu\": %s", keys, i ? ", " : "", i + 1, j) > 0);
        free(keys);
        free(j);
        keys = nk;
    }
    char *doc = NULL;
    assert_true(asprintf(&doc,
                         "{\"Packages\": {\"p\": {\"SignerID\": \"11\"}}, \"Marbles\": {\"m\": {\"Package\": \"p\"}},"
                         " \"RecoveryKeys\": {%s}, \"Config\": {\"RecoveryThreshold\": %u}}",
                         keys, threshold) > 0);
    struct manifest *m = NULL;
    struct cairn_error e = {0};
    assert_int_equal(manifest_parse((const uint8_t *)doc, strlen(doc), &m, &e), 0);
    free(doc);
    free(keys);
    return m;
}

/* Decrypts key i's recovery secret from `out` into share (returns its length). */
static size_t open_secret(const json_t *out, struct rkeys *k, size_t i, uint8_t share[64])
{
    char name[8];
    snprintf(name, sizeof(name), "rk%zu", i + 1);
    const json_t *v = json_object_get(out, name);
    assert_true(json_is_string(v));
    uint8_t *ct = NULL, *pt = NULL;
    size_t cl = 0, pl = 0;
    assert_int_equal(cairn_base64_decode(json_string_value(v), json_string_length(v), &ct, &cl), 0);
    assert_int_equal(cc_rsa_oaep_decrypt(k->priv[i], ct, cl, &pt, &pl), 0);
    assert_true(pl <= 64);
    memcpy(share, pt, pl);
    free(ct);
    cc_free_secret(pt, pl);
    return pl;
}

static void meta_check(const json_t *meta, const char *mode, json_int_t threshold, size_t n)
{
    assert_string_equal(json_string_value(json_object_get(meta, "mode")), mode);
    assert_int_equal(json_integer_value(json_object_get(meta, "threshold")), threshold);
    assert_int_equal(json_object_size(json_object_get(meta, "keys")), n);
    char *s = json_dumps(meta, JSON_COMPACT);
    json_t *back = NULL;
    struct cairn_error e = {0};
    assert_int_equal(gov_recovery_meta_parse((const uint8_t *)s, strlen(s), &back, &e), 0);
    assert_true(json_equal(back, meta));
    json_decref(back);
    free(s);
}

static void share_hash_matches(const json_t *meta, size_t i, const uint8_t *share, size_t len)
{
    char name[8], hx[65];
    uint8_t h[32];
    snprintf(name, sizeof(name), "rk%zu", i + 1);
    cc_sha256(share, len, h);
    for (int b = 0; b < 32; b++)
        snprintf(hx + 2 * b, 3, "%02x", h[b]);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(meta, "keys"), name), "share")),
                        hx);
}

static void test_recovery_secrets(void **state)
{
    (void)state;
    struct rkeys k = {0};
    uint8_t dek[32], s[3][64];
    json_t *out = NULL, *meta = NULL;
    struct cairn_error e = {0};

    /* no keys: a DEK, no secrets, no recovery data */
    struct manifest *m0 = recovery_manifest(&k, 0, 0);
    assert_int_equal(gov_recovery_secrets(m0, dek, &out, &meta, &e), 0);
    assert_true(json_is_null(out));
    assert_null(meta);
    json_decref(out);
    manifest_free(m0);

    /* one key: the secret is the DEK itself */
    struct manifest *m1 = recovery_manifest(&k, 1, 0);
    assert_int_equal(gov_recovery_secrets(m1, dek, &out, &meta, &e), 0);
    assert_int_equal(open_secret(out, &k, 0, s[0]), 32);
    assert_memory_equal(s[0], dek, 32);
    meta_check(meta, "single", 1, 1);
    share_hash_matches(meta, 0, s[0], 32);
    json_decref(out);
    json_decref(meta);

    /* XOR 3 of 3: every share needed, two give something else */
    struct manifest *m3 = recovery_manifest(&k, 3, 0);
    assert_int_equal(gov_recovery_secrets(m3, dek, &out, &meta, &e), 0);
    meta_check(meta, "xor", 3, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(open_secret(out, &k, i, s[i]), 32);
        share_hash_matches(meta, i, s[i], 32);
    }
    const uint8_t *parts[3] = {s[0], s[1], s[2]};
    uint8_t *r = NULL;
    assert_int_equal(cc_xor_combine(parts, 3, 32, &r), 0);
    assert_memory_equal(r, dek, 32);
    cc_free_secret(r, 32);
    assert_int_equal(cc_xor_combine(parts, 2, 32, &r), 0);
    assert_memory_not_equal(r, dek, 32);
    cc_free_secret(r, 32);
    json_decref(out);
    json_decref(meta);

    /* Shamir 2 of 3: any two 33-byte shares give the DEK */
    struct manifest *m32 = recovery_manifest(&k, 3, 2);
    assert_int_equal(gov_recovery_secrets(m32, dek, &out, &meta, &e), 0);
    meta_check(meta, "shamir", 2, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(open_secret(out, &k, i, s[i]), 33);
    for (size_t a = 0; a < 3; a++)
        for (size_t b = a + 1; b < 3; b++) {
            const uint8_t *two[2] = {s[a], s[b]};
            size_t rl = 0;
            assert_int_equal(cc_shamir_combine(two, 2, 33, &r, &rl), 0);
            assert_int_equal(rl, 32);
            assert_memory_equal(r, dek, 32);
            cc_free_secret(r, rl);
        }
    json_decref(out);
    json_decref(meta);

    /* key-set comparison decides whether an update needs a new DEK */
    assert_true(gov_recovery_keys_equal(m3, m3));
    assert_false(gov_recovery_keys_equal(m3, m32));   /* threshold changed: XOR -> Shamir */
    assert_false(gov_recovery_keys_equal(m1, m3));
    manifest_free(m1);
    manifest_free(m3);
    manifest_free(m32);
    for (int i = 0; i < 3; i++) {
        EVP_PKEY_free(k.priv[i]);
        free(k.pem[i]);
    }
}

/* ---- the recovery data parser: golden, truncations, mutations ---- */

#define H64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
static const char *golden =
    "{\"format\":\"cairn-recovery-1\",\"keys\":{\"a\":{\"pem\":\"P\",\"share\":\"" H64 "\"},"
    "\"b\":{\"pem\":\"P\",\"share\":\"" H64 "\"},\"c\":{\"pem\":\"P\",\"share\":\"" H64 "\"}},"
    "\"mode\":\"shamir\",\"threshold\":2}";

static void test_meta_golden_and_truncation(void **state)
{
    (void)state;
    json_t *m = NULL;
    struct cairn_error e = {0};
    assert_int_equal(gov_recovery_meta_parse((const uint8_t *)golden, strlen(golden), &m, &e), 0);
    assert_int_equal(json_integer_value(json_object_get(m, "threshold")), 2);
    json_decref(m);
    /* every proper prefix is refused (the document is one JSON object) */
    for (size_t i = 0; i < strlen(golden); i++) {
        json_t *t = NULL;
        assert_int_not_equal(gov_recovery_meta_parse((const uint8_t *)golden, i, &t, &e), 0);
        assert_null(t);
        assert_true(e.msg[0] != '\0');
    }
}

static void test_meta_mutations(void **state)
{
    (void)state;
    struct {
        const char *from, *to, *why;
    } muts[] = {
        {"cairn-recovery-1", "cairn-recovery-2", "format"},
        {"\"shamir\"", "\"xor\"", "xor needs threshold = n"},
        {"\"shamir\"", "\"single\"", "single needs one key"},
        {"\"shamir\"", "\"magic\"", "unknown mode"},
        {"\"threshold\":2", "\"threshold\":3", "shamir needs t < n"},
        {"\"threshold\":2", "\"threshold\":1", "shamir needs t >= 2"},
        {"\"threshold\":2", "\"threshold\":\"2\"", "threshold type"},
        {"\"pem\":\"P\"", "\"pem\":1", "pem type"},
        {"\"share\":\"00", "\"share\":\"0g", "share hex"},
        {"\"share\":\"00", "\"share\":\"00AA", "share length"},
        {"\"share\":\"00", "\"share\":\"AA", "share must be lowercase"},
        {"\"keys\":{", "\"keys\":{\"a\":{},", "duplicate key"},
        {"{\"format\"", "[{\"format\"", "not an object"},
    };
    for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
        const char *p = strstr(golden, muts[i].from);
        assert_non_null(p);
        char buf[2048];
        snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - golden), golden, muts[i].to, p + strlen(muts[i].from));
        json_t *t = NULL;
        struct cairn_error e = {0};
        int rc = gov_recovery_meta_parse((const uint8_t *)buf, strlen(buf), &t, &e);
        if (rc == 0)
            fail_msg("mutation accepted: %s", muts[i].why);
        assert_null(t);
        assert_non_null(strstr(e.msg, "recovery_data"));
    }
    /* a staged document carries the previous key set; it is checked as strictly */
    const char *staged =
        "{\"format\":\"cairn-recovery-1\",\"keys\":{\"a\":{\"pem\":\"P\",\"share\":\"" H64 "\"}},"
        "\"mode\":\"single\",\"threshold\":1,\"previous\":{\"keys\":{\"a\":{\"pem\":\"P\",\"share\":\"" H64
        "\"},\"b\":{\"pem\":\"P\",\"share\":\"" H64 "\"}},\"mode\":\"xor\",\"threshold\":2}}";
    json_t *t = NULL;
    struct cairn_error e = {0};
    assert_int_equal(gov_recovery_meta_parse((const uint8_t *)staged, strlen(staged), &t, &e), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "previous"), "threshold")), 2);
    json_decref(t);
    char buf2[2048];
    snprintf(buf2, sizeof(buf2), "%.*s", (int)(strstr(staged, "\"threshold\":2}}") - staged), staged);
    strncat(buf2, "\"threshold\":3}}", sizeof(buf2) - strlen(buf2) - 1);
    t = NULL;
    assert_int_not_equal(gov_recovery_meta_parse((const uint8_t *)buf2, strlen(buf2), &t, &e), 0);
    assert_null(t);
    assert_non_null(strstr(e.msg, "previous."));
    const char *prev_not_obj = "{\"format\":\"cairn-recovery-1\",\"keys\":{\"a\":{\"pem\":\"P\",\"share\":\"" H64
                               "\"}},\"mode\":\"single\",\"threshold\":1,\"previous\":[]}";
    assert_int_not_equal(gov_recovery_meta_parse((const uint8_t *)prev_not_obj, strlen(prev_not_obj), &t, &e), 0);
    assert_null(t);

    /* one flipped bit anywhere: accepted only when still well-formed; never a crash or leak */
    size_t n = strlen(golden);
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++) {
            char buf[1024];
            memcpy(buf, golden, n);
            buf[i] ^= (char)(1 << b);
            json_t *f = NULL;
            if (gov_recovery_meta_parse((const uint8_t *)buf, n, &f, NULL) == 0) {
                assert_non_null(f);
                json_decref(f);
            } else {
                assert_null(f);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_auth, users_setup, users_teardown),
        cmocka_unit_test_setup_teardown(test_permissions, users_setup, users_teardown),
        cmocka_unit_test_setup_teardown(test_svn_override_policy, users_setup, users_teardown),
        cmocka_unit_test(test_recovery_secrets),
        cmocka_unit_test(test_meta_golden_and_truncation),
        cmocka_unit_test(test_meta_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
