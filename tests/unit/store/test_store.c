/* Stores (file, memory), seal providers, sealed blobs (golden + mutations),
 * and crash safety of the sealed state under kill -9. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "crypto/crypto.h"
#include "store/seal.h"
#include "store/store.h"

static char *mktmp(void)
{
    char t[] = "/tmp/cairn-store-XXXXXX";
    char *d = mkdtemp(t);
    assert_non_null(d);
    return strdup(d);
}

static void rmrf(const char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static void check_cas(struct store *s)
{
    uint8_t *out = NULL;
    size_t len = 0;
    uint64_t v1 = 0, v2 = 0, v = 0;
    struct cairn_error e = {0};
    assert_int_equal(store_get(s, "a", &out, &len, &v, &e), CAIRN_ERR_NOT_FOUND);
    assert_int_equal(store_version(s, "a"), 0);
    assert_int_equal(store_put(s, "a", (const uint8_t *)"one", 3, 0, &v1, &e), 0);
    assert_true(v1 > 0);
    /* create-if-absent loses against an existing value */
    assert_int_equal(store_put(s, "a", (const uint8_t *)"two", 3, 0, NULL, &e), CAIRN_ERR_CONFLICT);
    assert_non_null(strstr(e.msg, "changed concurrently"));
    assert_int_equal(store_put(s, "a", (const uint8_t *)"two", 3, v1, &v2, &e), 0);
    assert_true(v2 != v1);
    assert_int_equal(store_put(s, "a", (const uint8_t *)"three", 5, v1, NULL, &e), CAIRN_ERR_CONFLICT);
    assert_int_equal(store_get(s, "a", &out, &len, &v, &e), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "two", 3);
    assert_int_equal(v, v2);
    assert_int_equal(store_version(s, "a"), v2);
    free(out);
    assert_int_equal(store_put(s, "../x", (const uint8_t *)"x", 1, 0, NULL, &e), CAIRN_ERR_INVALID);
    assert_int_equal(store_put(s, ".hidden", (const uint8_t *)"x", 1, 0, NULL, &e), CAIRN_ERR_INVALID);
    assert_int_equal(store_put(s, "", (const uint8_t *)"x", 1, 0, NULL, &e), CAIRN_ERR_INVALID);
    assert_int_equal(store_del(s, "a", &e), 0);
    assert_int_equal(store_get(s, "a", &out, &len, &v, &e), CAIRN_ERR_NOT_FOUND);
    assert_int_equal(store_del(s, "a", &e), 0);
    assert_int_equal(store_put(s, "empty", (const uint8_t *)"", 0, 0, NULL, &e), 0);
    assert_int_equal(store_get(s, "empty", &out, &len, &v, &e), 0);
    assert_int_equal(len, 0);
    free(out);
}

static void test_memory_store(void **state)
{
    (void)state;
    struct store *s;
    assert_int_equal(store_memory_open(&s), 0);
    check_cas(s);
    store_free(s);
}

static void test_file_store(void **state)
{
    (void)state;
    char *d = mktmp();
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/seal/dir", d);
    /* a leftover of an interrupted atomic write is removed at open */
    struct store *s;
    assert_int_equal(store_file_open(sub, &s, NULL), 0);
    store_free(s);
    char stale[700];
    snprintf(stale, sizeof(stale), "%s/sealed_data.tmp.AbC123", sub);
    assert_int_equal(cairn_file_write_atomic(stale, "x", 1, 0600), 0);
    assert_int_equal(store_file_open(sub, &s, NULL), 0);
    assert_int_equal(access(stale, F_OK), -1);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    check_cas(s);
    assert_int_equal(store_put(s, "keep", (const uint8_t *)"kept", 4, 0, NULL, NULL), 0);
    store_free(s);
    /* reopen: the value and a fresh version are there */
    assert_int_equal(store_file_open(sub, &s, NULL), 0);
    uint8_t *out;
    size_t len;
    uint64_t v;
    assert_int_equal(store_get(s, "keep", &out, &len, &v, NULL), 0);
    assert_int_equal(len, 4);
    assert_true(v > 0);
    free(out);
    char p[700];
    snprintf(p, sizeof(p), "%s/keep", sub);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    store_free(s);
    struct cairn_error e = {0};
    assert_int_equal(store_file_open("", &s, &e), CAIRN_ERR_INVALID);
    assert_int_equal(store_file_open(p, &s, &e), CAIRN_ERR_IO);  /* a file, not a directory */
    rmrf(d);
    free(d);
}

static void test_seal_sim(void **state)
{
    (void)state;
    char *d = mktmp();
    struct seal *s1, *s2, *other;
    assert_int_equal(seal_open(SEAL_SIM, d, NULL, &s1, NULL), 0);
    char kp[600];
    snprintf(kp, sizeof(kp), "%s/sim_seal_key", d);
    struct stat st;
    assert_int_equal(stat(kp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(seal_open(SEAL_SIM, d, NULL, &s2, NULL), 0);  /* same key file reused */
    char *d2 = mktmp();
    assert_int_equal(seal_open(SEAL_SIM, d2, NULL, &other, NULL), 0);
    uint8_t dek[32], back[32];
    for (int i = 0; i < 32; i++)
        dek[i] = (uint8_t)i;
    uint8_t *blob;
    size_t len;
    assert_int_equal(seal_wrap(s1, dek, &blob, &len, NULL), 0);
    assert_int_equal(len, 5 + 12 + 32 + 16);
    assert_memory_equal(blob, "CSK1\x01", 5);
    assert_int_equal(seal_unwrap(s2, blob, len, back, NULL), 0);
    assert_memory_equal(back, dek, 32);
    struct cairn_error e = {0};
    assert_int_equal(seal_unwrap(other, blob, len, back, &e), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "sealing key does not open"));
    /* every single-byte change and every truncation is refused */
    for (size_t i = 0; i < len; i++) {
        blob[i] ^= 0x01;
        assert_true(seal_unwrap(s1, blob, len, back, NULL) < 0);
        blob[i] ^= 0x01;
    }
    for (size_t n = 0; n < len; n++)
        assert_true(seal_unwrap(s1, blob, n, back, NULL) < 0);
    blob[4] = SEAL_PRODUCT;
    assert_int_equal(seal_unwrap(s1, blob, len, back, &e), CAIRN_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "sealed with ProductKey"));
    free(blob);
    /* a corrupt key file is an error, not a new key */
    assert_int_equal(cairn_file_write_atomic(kp, "short", 5, 0600), 0);
    struct seal *bad;
    assert_int_equal(seal_open(SEAL_SIM, d, NULL, &bad, &e), CAIRN_ERR_INVALID);
    seal_free(s1);
    seal_free(s2);
    seal_free(other);
    rmrf(d);
    rmrf(d2);
    free(d);
    free(d2);
}

static void test_seal_gramine(void **state)
{
    (void)state;
    char *g = mktmp();
    struct seal *s;
    struct cairn_error e = {0};
    assert_int_equal(seal_open(SEAL_PRODUCT, NULL, g, &s, &e), CAIRN_ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "_sgx_mrsigner"));
    char p[600];
    snprintf(p, sizeof(p), "%s/keys", g);
    assert_int_equal(cairn_mkdirs(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/keys/_sgx_mrsigner", g);
    assert_int_equal(cairn_file_write_atomic(p, "0123456789abcdef", 16, 0600), 0);
    snprintf(p, sizeof(p), "%s/keys/_sgx_mrenclave", g);
    assert_int_equal(cairn_file_write_atomic(p, "fedcba9876543210", 16, 0600), 0);
    struct seal *prod, *uniq;
    assert_int_equal(seal_open(SEAL_PRODUCT, NULL, g, &prod, NULL), 0);
    assert_int_equal(seal_open(SEAL_UNIQUE, NULL, g, &uniq, NULL), 0);
    uint8_t dek[32] = {1, 2, 3}, back[32];
    uint8_t *blob;
    size_t len;
    assert_int_equal(seal_wrap(prod, dek, &blob, &len, NULL), 0);
    assert_int_equal(seal_unwrap(prod, blob, len, back, NULL), 0);
    assert_memory_equal(back, dek, 32);
    assert_int_equal(seal_unwrap(uniq, blob, len, back, NULL), CAIRN_ERR_UNSUPPORTED);
    free(blob);
    /* the "CPU" changed: same provider, another key -> cannot unseal */
    assert_int_equal(seal_wrap(uniq, dek, &blob, &len, NULL), 0);
    assert_int_equal(cairn_file_write_atomic(p, "XXXXXXXXXXXXXXXX", 16, 0600), 0);
    struct seal *uniq2;
    assert_int_equal(seal_open(SEAL_UNIQUE, NULL, g, &uniq2, NULL), 0);
    assert_int_equal(seal_unwrap(uniq2, blob, len, back, NULL), CAIRN_ERR_VERIFY);
    free(blob);
    assert_int_equal(cairn_file_write_atomic(p, "short", 5, 0600), 0);
    assert_int_equal(seal_open(SEAL_UNIQUE, NULL, g, &s, &e), CAIRN_ERR_INVALID);
    seal_free(prod);
    seal_free(uniq);
    seal_free(uniq2);
    rmrf(g);
    free(g);
}

static void test_sealed_data(void **state)
{
    (void)state;
    uint8_t dek[32], wrong[32];
    memset(dek, 7, 32);
    memset(wrong, 8, 32);
    static const char doc[] = "{\"state\":3}";
    uint8_t *blob;
    size_t len;
    assert_int_equal(sealed_data_seal(dek, (const uint8_t *)"rec", 3, (const uint8_t *)doc, strlen(doc), &blob, &len), 0);
    assert_int_equal(len, 4 + 3 + 12 + strlen(doc) + 16);
    assert_memory_equal(blob, "\x03\x00\x00\x00rec", 7);
    uint8_t *out;
    size_t out_len;
    assert_int_equal(sealed_data_open(dek, blob, len, &out, &out_len, NULL), 0);
    assert_int_equal(out_len, strlen(doc));
    assert_memory_equal(out, doc, out_len);
    cc_free_secret(out, out_len);
    struct cairn_error e = {0};
    assert_int_equal(sealed_data_open(wrong, blob, len, &out, &out_len, &e), CAIRN_ERR_VERIFY);
    for (size_t i = 0; i < len; i++) {   /* bit flips anywhere, including the recovery data (AAD) */
        blob[i] ^= 0x80;
        assert_true(sealed_data_open(dek, blob, len, &out, &out_len, NULL) < 0);
        blob[i] ^= 0x80;
    }
    for (size_t n = 0; n < len; n++)
        assert_true(sealed_data_open(dek, blob, n, &out, &out_len, NULL) < 0);
    /* a length field pointing past the end */
    blob[0] = 0xff;
    blob[3] = 0x7f;
    assert_int_equal(sealed_data_open(dek, blob, len, &out, &out_len, &e), CAIRN_ERR_TRUNCATED);
    free(blob);
}

/* seal_lookup_fn over one simulation seal */
static struct seal *lookup_sim(struct seal *s, enum seal_kind kind, struct cairn_error *err)
{
    if (kind != SEAL_SIM) {
        cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "not a simulation key");
        return NULL;
    }
    return s;
}

/* a header that names the DEK it was written with: hex(SHA-256(dek)) */
static void dek_tag(const uint8_t dek[32], char out[65])
{
    uint8_t h[32];
    cc_sha256(dek, 32, h);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void save(struct store *st, struct seal *s, const uint8_t dek[32], const char *hdr, const char *doc)
{
    struct cairn_error e = {0};
    int rc = sealed_state_save(st, s, dek, (const uint8_t *)hdr, hdr != NULL ? strlen(hdr) : 0, (const uint8_t *)doc,
                               strlen(doc), &e);
    if (rc != 0)
        fail_msg("save: %s", e.msg);
}

static void load_expect(struct store *st, struct seal *s, enum sealed_load_result want, const char *doc)
{
    enum sealed_load_result res;
    uint8_t dek[32];
    uint8_t *out = NULL;
    size_t len = 0;
    struct cairn_error e = {0};
    int rc = sealed_state_load(st, s, &res, dek, &out, &len, &e);
    if (rc != 0)
        fail_msg("load: %s", e.msg);
    assert_int_equal(res, want);
    if (doc != NULL) {
        assert_int_equal(len, strlen(doc));
        assert_memory_equal(out, doc, len);
    }
    if (out != NULL)
        cc_free_secret(out, len);
}

static uint8_t *get(struct store *st, const char *name, size_t *len)
{
    uint8_t *b = NULL;
    assert_int_equal(store_get(st, name, &b, len, NULL, NULL), 0);
    return b;
}

static void put(struct store *st, const char *name, const uint8_t *b, size_t len)
{
    assert_int_equal(store_put(st, name, b, len, store_version(st, name), NULL, NULL), 0);
}

static bool exists(struct store *st, const char *name)
{
    return store_version(st, name) != 0;
}

static void test_sealed_state(void **state)
{
    (void)state;
    char *d = mktmp();
    struct store *st;
    struct seal *s;
    assert_int_equal(store_file_open(d, &st, NULL), 0);
    assert_int_equal(seal_open(SEAL_SIM, d, NULL, &s, NULL), 0);
    load_expect(st, s, SEALED_LOAD_EMPTY, NULL);
    uint8_t dek1[32], dek2[32];
    memset(dek1, 1, 32);
    memset(dek2, 2, 32);
    save(st, s, dek1, NULL, "v1");
    load_expect(st, s, SEALED_LOAD_OK, "v1");
    save(st, s, dek1, NULL, "v2");
    load_expect(st, s, SEALED_LOAD_OK, "v2");
    save(st, s, dek2, "{\"h\":3}", "v3");
    load_expect(st, s, SEALED_LOAD_OK, "v3");
    assert_false(exists(st, "sealed_key.next"));   /* renamed over sealed_key by a complete save */
    assert_false(exists(st, "sealed_key.prev"));

    /* the header is stored with the data and given back by the load */
    struct sealed_load l;
    assert_int_equal(sealed_state_load_ex(st, (seal_lookup_fn)lookup_sim, s, &l, NULL), 0);
    assert_int_equal(l.result, SEALED_LOAD_OK);
    assert_int_equal(l.hdr_len, 7);
    assert_memory_equal(l.hdr, "{\"h\":3}", 7);
    assert_memory_equal(l.dek, dek2, 32);
    sealed_load_clear(&l);

    size_t k3l, n3l;
    uint8_t *k3 = get(st, "sealed_key", &k3l);           /* bound to the v3 data */
    assert_int_equal(sealed_key_kind(k3, k3l), SEAL_SIM);
    assert_memory_equal(k3, "CSK2", 4);

    /* crash after step 1 (sealed_key.next of data never written): v3 loads,
     * the stray key is removed */
    uint8_t other_hash[32], *nb;
    size_t nl;
    memset(other_hash, 0x5a, 32);
    assert_int_equal(seal_wrap_bound(s, dek1, other_hash, &nb, &nl, NULL), 0);
    put(st, "sealed_key.next", nb, nl);
    free(nb);
    load_expect(st, s, SEALED_LOAD_OK, "v3");
    assert_false(exists(st, "sealed_key.next"));

    /* crash after step 2 (new data, its key still in sealed_key.next) */
    save(st, s, dek1, NULL, "v4");
    uint8_t *k4 = get(st, "sealed_key", &n3l);
    put(st, "sealed_key.next", k4, n3l);
    put(st, "sealed_key", k3, k3l);
    load_expect(st, s, SEALED_LOAD_OK, "v4");
    assert_false(exists(st, "sealed_key.next"));
    size_t cl;
    uint8_t *cur = get(st, "sealed_key", &cl);
    assert_int_equal(cl, n3l);
    assert_memory_equal(cur, k4, cl);   /* promoted */
    free(cur);

    /* a save after a failed step 3 without restart promotes the key first */
    put(st, "sealed_key.next", k4, n3l);
    put(st, "sealed_key", k3, k3l);
    save(st, s, dek1, NULL, "v5");
    load_expect(st, s, SEALED_LOAD_OK, "v5");

    /* issue 13: an older sealed_key (same DEK, earlier data) restored beside
     * the current data is detected: recovery, never the data under a stale key */
    save(st, s, dek1, NULL, "v6");
    size_t k6l;
    uint8_t *k6 = get(st, "sealed_key", &k6l);
    put(st, "sealed_key", k4, n3l);
    assert_int_equal(sealed_state_load_ex(st, (seal_lookup_fn)lookup_sim, s, &l, NULL), 0);
    assert_int_equal(l.result, SEALED_LOAD_UNSEAL_FAILED);
    assert_non_null(strstr(l.why, "older sealed_key of this state"));
    sealed_load_clear(&l);
    put(st, "sealed_key", k6, k6l);
    load_expect(st, s, SEALED_LOAD_OK, "v6");

    /* another machine (seal key) -> recovery, not an error */
    char *d2 = mktmp();
    struct seal *other;
    assert_int_equal(seal_open(SEAL_SIM, d2, NULL, &other, NULL), 0);
    load_expect(st, other, SEALED_LOAD_UNSEAL_FAILED, NULL);

    /* a key of an earlier version (CSK1, unbound) that opens the data loads;
     * the next save replaces it by a bound one */
    assert_int_equal(seal_wrap(s, dek1, &nb, &nl, NULL), 0);
    put(st, "sealed_key", nb, nl);
    free(nb);
    load_expect(st, s, SEALED_LOAD_OK, "v6");
    save(st, s, dek1, NULL, "v7");
    cur = get(st, "sealed_key", &cl);
    assert_memory_equal(cur, "CSK2", 4);
    free(cur);
    /* a CSK1 key whose DEK does not open the data: recovery */
    assert_int_equal(seal_wrap(s, dek2, &nb, &nl, NULL), 0);
    put(st, "sealed_key", nb, nl);
    free(nb);
    load_expect(st, s, SEALED_LOAD_UNSEAL_FAILED, NULL);
    /* sealed_key missing beside sealed_data: recovery (MarbleRun's way to force it) */
    assert_int_equal(store_del(st, "sealed_key", NULL), 0);
    assert_int_equal(sealed_state_load_ex(st, (seal_lookup_fn)lookup_sim, s, &l, NULL), 0);
    assert_int_equal(l.result, SEALED_LOAD_UNSEAL_FAILED);
    assert_non_null(strstr(l.why, "sealed_key is missing"));
    sealed_load_clear(&l);
    /* a sealed_key that is no Cairn key (another program's seal directory):
     * an error, not recovery (where a new manifest would overwrite it) */
    put(st, "sealed_key", (const uint8_t *)"not a key of ours", 17);
    enum sealed_load_result r2;
    uint8_t d2k[32], *o2 = NULL;
    size_t o2l = 0;
    struct cairn_error fe = {0};
    assert_int_equal(sealed_state_load(st, s, &r2, d2k, &o2, &o2l, &fe), CAIRN_ERR_INVALID);
    assert_non_null(strstr(fe.msg, "not a Cairn sealed key"));
    /* malformed sealed_data stays an error */
    put(st, "sealed_data", (const uint8_t *)"\xff\xff\xff\x7f", 4);
    enum sealed_load_result res;
    uint8_t dek[32], *out = NULL;
    size_t len = 0;
    assert_int_equal(sealed_state_load(st, s, &res, dek, &out, &len, NULL), CAIRN_ERR_TRUNCATED);
    free(k3);
    free(k4);
    free(k6);
    seal_free(s);
    seal_free(other);
    store_free(st);
    rmrf(d);
    rmrf(d2);
    free(d);
    free(d2);
}

/* A child saves numbered states in a loop (changing the DEK every third
 * save); the parent kills it with SIGKILL at a random moment, then loads.
 * The state must load and be one the child wrote. */
static void test_kill9_loop(void **state)
{
    (void)state;
    char *d = mktmp();
    srand((unsigned)time(NULL));
    int loaded = 0;
    for (int it = 0; it < 20; it++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct store *st;
            struct seal *s;
            if (store_file_open(d, &st, NULL) != 0 || seal_open(SEAL_SIM, d, NULL, &s, NULL) != 0)
                _exit(2);
            uint8_t dek[32];
            enum sealed_load_result res;
            uint8_t *out = NULL;
            size_t len = 0;
            bool have = sealed_state_load(st, s, &res, dek, &out, &len, NULL) == 0 && res == SEALED_LOAD_OK;
            free(out);
            for (unsigned n = 0;; n++) {
                bool change = !have || n % 3 == 0;
                if (change)
                    cc_random(dek, 32);
                char doc[64], hdr[65];
                snprintf(doc, sizeof(doc), "{\"it\":%d,\"n\":%u}", it, n);
                dek_tag(dek, hdr);
                if (sealed_state_save(st, s, dek, (const uint8_t *)hdr, 64, (const uint8_t *)doc, strlen(doc), NULL) !=
                    0)
                    _exit(3);
                have = true;
            }
        }
        struct timespec ts = {0, (long)(rand() % 40 + 1) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int wst;
        waitpid(pid, &wst, 0);
        assert_true(WIFSIGNALED(wst));
        struct store *st;
        struct seal *s;
        assert_int_equal(store_file_open(d, &st, NULL), 0);
        assert_int_equal(seal_open(SEAL_SIM, d, NULL, &s, NULL), 0);
        struct sealed_load l;
        struct cairn_error e = {0};
        int rc = sealed_state_load_ex(st, (seal_lookup_fn)lookup_sim, s, &l, &e);
        if (rc != 0)
            fail_msg("iteration %d: state does not load: %s", it, e.msg);
        enum sealed_load_result res = l.result;
        if (res == SEALED_LOAD_OK) {
            loaded++;
            assert_non_null(strstr((char *)l.doc, "{\"it\":"));
            /* the header on disk is the one written with this DEK (issue 12) */
            char want[65];
            dek_tag(l.dek, want);
            assert_int_equal(l.hdr_len, 64);
            assert_memory_equal(l.hdr, want, 64);
            sealed_load_clear(&l);
        } else {
            sealed_load_clear(&l);
            assert_int_equal(res, SEALED_LOAD_EMPTY);  /* killed before the first save completed */
        }
        seal_free(s);
        store_free(st);
    }
    assert_true(loaded > 0);
    rmrf(d);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_store), cmocka_unit_test(test_file_store),
        cmocka_unit_test(test_seal_sim),     cmocka_unit_test(test_seal_gramine),
        cmocka_unit_test(test_sealed_data),  cmocka_unit_test(test_sealed_state),
        cmocka_unit_test(test_kill9_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
