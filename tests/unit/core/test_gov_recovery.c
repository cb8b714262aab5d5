/* Unit tests of recovery in a real core with a temp seal dir.
 * The ephemeral recovery key (issue 6 gap: it used to be generated on the
 * request thread; issue 13 §4: MarbleRun's clients do not retry a 503): the
 * simulated seal key is removed so that the core starts in state 1; the key
 * is generated before core_new returns, so the very first
 * gov_recover_public_key call gives it, the key is RSA-4096 and stable, and
 * core_free does not wait. The migration of a recovery_data file of earlier
 * versions into the sealed_data header (issue 12 §1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core_internal.h"
#include "core/governance.h"
#include "crypto/crypto.h"

static const char *MANIFEST = "{\"Packages\": {\"pkg\": {\"SignerID\": \"11\", \"ProductID\": 1, \"SecurityVersion\": 1}},"
                              " \"Marbles\": {\"m\": {\"Package\": \"pkg\"}}}";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct fx {
    char dir[64];
    char seal[96];
};

/* A sealed state in state 3, then its simulated seal key removed. */
static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-govrec.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->seal, sizeof(f->seal), "%s/seal", f->dir);
    struct core_config cfg = {.simulation = true, .seal_dir = f->seal};
    struct core *c = NULL;
    struct cairn_error e = {0};
    if (core_new(&cfg, &c, &e) != 0)
        fail_msg("core_new: %s", e.msg);
    json_t *rec = NULL;
    if (core_manifest_set(c, (const uint8_t *)MANIFEST, strlen(MANIFEST), &rec, &e) != 0)
        fail_msg("manifest set: %s", e.msg);
    json_decref(rec);
    core_free(c);
    char key[160];
    snprintf(key, sizeof(key), "%s/sim_seal_key", f->seal);
    assert_int_equal(unlink(key), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct core *open_state1(struct fx *f)
{
    struct core_config cfg = {.simulation = true, .seal_dir = f->seal};
    struct core *c = NULL;
    struct cairn_error e = {0};
    if (core_new(&cfg, &c, &e) != 0)
        fail_msg("core_new: %s", e.msg);
    assert_int_equal(core_get_state(c), CORE_STATE_RECOVERY);
    return c;
}

static void test_public_key_never_blocks(void **state)
{
    struct core *c = open_state1(*state);
    uint8_t *der = NULL;
    size_t n = 0;
    int rc = CAIRN_ERR_TIMEOUT, calls = 0, busy = 0;
    double slowest = 0, t0 = now_s();
    while (rc == CAIRN_ERR_TIMEOUT && now_s() - t0 < 120) {
        struct cairn_error e = {0};
        double a = now_s();
        rc = gov_recover_public_key(c, &der, &n, &e);
        double d = now_s() - a;
        slowest = d > slowest ? d : slowest;
        calls++;
        if (rc == CAIRN_ERR_TIMEOUT) {
            busy++;
            assert_non_null(strstr(e.msg, "retry"));
            assert_null(der);   /* outputs only on success */
            usleep(20 * 1000);
        }
    }
    print_message("# %d calls (%d while generating) over %.2f s, slowest call %.4f s\n", calls, busy,
                  now_s() - t0, slowest);
    assert_int_equal(rc, 0);
    assert_int_equal(busy, 0);   /* issue 13 §4: ready at the first request, no 503 */
    assert_true(slowest < 0.5);   /* 0.4 ms measured; a blocking call would take the 0.35-3 s of a generation */
    EVP_PKEY *pub = NULL;
    assert_int_equal(cc_pubkey_from_der(der, n, &pub, NULL), 0);
    assert_int_equal(EVP_PKEY_get_bits(pub), 4096);
    assert_true(EVP_PKEY_is_a(pub, "RSA"));
    EVP_PKEY_free(pub);
    /* the same key until recovery completes */
    uint8_t *der2 = NULL;
    size_t n2 = 0;
    assert_int_equal(gov_recover_public_key(c, &der2, &n2, NULL), 0);
    assert_int_equal(n2, n);
    assert_memory_equal(der2, der, n);
    free(der);
    free(der2);
    core_free(c);
}

static void test_free_cancels_generation(void **state)
{
    struct core *c = open_state1(*state);
    double a = now_s();
    core_free(c);   /* the generator started at core_new is cancelled and joined */
    double d = now_s() - a;
    print_message("# core_free in state 1 right after start: %.4f s\n", d);
    assert_true(d < 0.5);
}

static struct seal *lookup_given(void *ctx, enum seal_kind kind, struct cairn_error *err)
{
    (void)kind;
    (void)err;
    return ctx;
}

/* The sealed state of `seal_dir` (its header as a string, "" when none). */
static void load_raw(const char *seal_dir, uint8_t dek[32], uint8_t **doc, size_t *doc_len, char **hdr)
{
    struct store *st = NULL;
    struct seal *sl = NULL;
    assert_int_equal(store_file_open(seal_dir, &st, NULL), 0);
    assert_int_equal(seal_open(SEAL_SIM, seal_dir, NULL, &sl, NULL), 0);
    struct sealed_load l;
    assert_int_equal(sealed_state_load_ex(st, lookup_given, sl, &l, NULL), 0);
    assert_int_equal(l.result, SEALED_LOAD_OK);
    memcpy(dek, l.dek, 32);
    *doc = l.doc;
    *doc_len = l.doc_len;
    l.doc = NULL;
    *hdr = strndup(l.hdr != NULL ? (const char *)l.hdr : "", l.hdr_len);
    sealed_load_clear(&l);
    seal_free(sl);
    store_free(st);
}

/* Rewrites the state as an earlier version left it: no header, and
 * `legacy` (if not NULL) as the recovery_data file. */
static void make_legacy(const char *seal_dir, const uint8_t dek[32], const uint8_t *doc, size_t doc_len,
                        const char *legacy)
{
    struct store *st = NULL;
    struct seal *sl = NULL;
    assert_int_equal(store_file_open(seal_dir, &st, NULL), 0);
    assert_int_equal(seal_open(SEAL_SIM, seal_dir, NULL, &sl, NULL), 0);
    assert_int_equal(sealed_state_save(st, sl, dek, NULL, 0, doc, doc_len, NULL), 0);
    if (legacy != NULL)
        assert_int_equal(store_put(st, "recovery_data", (const uint8_t *)legacy, strlen(legacy),
                                   store_version(st, "recovery_data"), NULL, NULL),
                         0);
    seal_free(sl);
    store_free(st);
}

static bool file_exists(const char *dir, const char *name)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* issue 12 §1: a state written before the recovery data moved into
 * sealed_data has an empty header and a recovery_data file; after a crash
 * between staging and commit, its top-level set belongs to a change that
 * never happened and "previous" to the state. The first state-3 start
 * writes the matching set into sealed_data and removes the file; when no
 * set matches, the file is kept (state 1 tries it as before). */
static void test_legacy_recovery_data(void **state)
{
    (void)state;
    char dir[64], seal[96];
    snprintf(dir, sizeof(dir), "/tmp/cairn-govleg.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(seal, sizeof(seal), "%s/seal", dir);
    EVP_PKEY *k[2] = {NULL, NULL};
    char *pem[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        size_t l = 0;
        assert_int_equal(cc_key_generate(CC_KEY_RSA, 2048, &k[i], NULL), 0);
        assert_int_equal(cc_pubkey_to_spki_pem(k[i], &pem[i], &l), 0);
    }
    json_t *mj = json_pack("{s:{s:{s:s, s:i, s:i}}, s:{s:{s:s}}, s:{s:s, s:s}}", "Packages", "pkg", "SignerID", "11",
                           "ProductID", 1, "SecurityVersion", 1, "Marbles", "m", "Package", "pkg", "RecoveryKeys",
                           "rk1", pem[0], "rk2", pem[1]);
    char *man = json_dumps(mj, JSON_COMPACT);
    json_decref(mj);
    struct core_config cfg = {.simulation = true, .seal_dir = seal};
    struct core *c = NULL;
    struct cairn_error e = {0};
    if (core_new(&cfg, &c, &e) != 0)
        fail_msg("core_new: %s", e.msg);
    json_t *rec = NULL;
    if (core_manifest_set(c, (const uint8_t *)man, strlen(man), &rec, &e) != 0)
        fail_msg("manifest set: %s", e.msg);
    json_decref(rec);
    core_free(c);
    assert_false(file_exists(seal, "recovery_data"));   /* no separate file any more */

    uint8_t dek[32];
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    char *hdr = NULL;
    load_raw(seal, dek, &doc, &doc_len, &hdr);
    json_t *h = json_loads(hdr, 0, NULL);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "mode")), "xor");

    /* staged-but-never-committed set on top, the state's set as "previous" */
    json_t *leg = json_pack("{s:s, s:s, s:i, s:{s:{s:s, s:s}}, s:{s:O, s:O, s:O}}", "format", "cairn-recovery-1",
                            "mode", "single", "threshold", 1, "keys", "other", "pem", "P", "share",
                            "abababababababababababababababababababababababababababababababab", "previous", "mode",
                            json_object_get(h, "mode"), "threshold", json_object_get(h, "threshold"), "keys",
                            json_object_get(h, "keys"));
    char *legs = json_dumps(leg, JSON_COMPACT);
    make_legacy(seal, dek, doc, doc_len, legs);
    if (core_new(&cfg, &c, &e) != 0)
        fail_msg("core_new on a legacy state: %s", e.msg);
    assert_int_equal(core_get_state(c), CORE_STATE_ACCEPTING_MARBLES);
    core_free(c);
    assert_false(file_exists(seal, "recovery_data"));
    uint8_t dek2[32];
    uint8_t *doc2 = NULL;
    size_t doc2_len = 0;
    char *hdr2 = NULL;
    load_raw(seal, dek2, &doc2, &doc2_len, &hdr2);
    json_t *h2 = json_loads(hdr2, 0, NULL);
    assert_non_null(h2);
    assert_true(json_equal(h, h2));   /* the state's own set, written into sealed_data */
    assert_memory_equal(dek2, dek, 32);
    cc_free_secret(doc2, doc2_len);
    free(hdr2);

    /* no set of the file matches: kept, header stays empty, loudly logged */
    json_object_set_new(json_object_get(leg, "previous"), "mode", json_string("single"));
    free(legs);
    legs = json_dumps(leg, JSON_COMPACT);
    make_legacy(seal, dek, doc, doc_len, legs);
    if (core_new(&cfg, &c, &e) != 0)
        fail_msg("core_new on a legacy state without a matching set: %s", e.msg);
    core_free(c);
    assert_true(file_exists(seal, "recovery_data"));
    load_raw(seal, dek2, &doc2, &doc2_len, &hdr2);
    assert_string_equal(hdr2, "");
    cc_free_secret(doc2, doc2_len);
    free(hdr2);

    json_decref(leg);
    json_decref(h);
    json_decref(h2);
    free(legs);
    free(hdr);
    cc_free_secret(doc, doc_len);
    free(man);
    for (int i = 0; i < 2; i++) {
        EVP_PKEY_free(k[i]);
        free(pem[i]);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy_recovery_data),
        cmocka_unit_test_setup_teardown(test_public_key_never_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_cancels_generation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
