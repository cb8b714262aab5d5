/* The rollback bookkeeping of replicas on etcd (store/hwm.h): verdicts on
 * state generations, counters per counterKey epoch, merging two replicas'
 * memories, the sealed memory file (round trip, another seal, another
 * prefix, tampering), golden and refused JSON, and a deterministic mutation
 * loop over the parser and the file container. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/hwm.h"

#define S(x) (const uint8_t *)(x), strlen(x)
#define SB(x) (const uint8_t *)(x), sizeof(x) - 1   /* literals with NUL bytes */

static void fill(uint8_t b[32], uint8_t v)
{
    memset(b, v, 32);
}

static void test_state_verdicts(void **st)
{
    (void)st;
    struct hwm m;
    uint8_t d1[32], d2[32], e1[32], e2[32], k[32];
    fill(d1, 1);
    fill(d2, 2);
    fill(k, 7);
    hwm_epoch_of(k, e1);
    fill(k, 8);
    hwm_epoch_of(k, e2);
    assert_memory_not_equal(e1, e2, 32);
    assert_int_equal(hwm_init(&m), 0);
    /* nothing remembered: anything is accepted, even generation 0 (an etcd
     * state of an earlier version) */
    assert_int_equal(hwm_state_check(&m, 0, d1), HWM_NEWER);
    assert_int_equal(hwm_state_check(&m, 5, d1), HWM_NEWER);
    hwm_state_accept(&m, 5, d1, e1);
    assert_int_equal(hwm_state_check(&m, 5, d1), HWM_SAME);
    assert_int_equal(hwm_state_check(&m, 5, d2), HWM_FORK);
    assert_int_equal(hwm_state_check(&m, 4, d1), HWM_OLDER);
    assert_int_equal(hwm_state_check(&m, 0, d1), HWM_OLDER);
    assert_int_equal(hwm_state_check(&m, 6, d2), HWM_NEWER);
    /* an older accept never lowers the mark */
    hwm_state_accept(&m, 3, d2, e2);
    assert_int_equal(m.gen, 5);
    assert_memory_equal(m.digest, d1, 32);
    assert_memory_equal(m.epoch, e1, 32);
    assert_string_equal(hwm_verdict_name(HWM_OLDER), "older");
    hwm_clear(&m);
    hwm_clear(NULL);
}

static void test_counters_and_epochs(void **st)
{
    (void)st;
    struct hwm m;
    uint8_t d[32], e1[32], e2[32];
    fill(d, 1);
    fill(e1, 0x11);
    fill(e2, 0x22);
    assert_int_equal(hwm_init(&m), 0);
    hwm_state_accept(&m, 1, d, e1);
    uint64_t have = 99;
    assert_true(hwm_counter_ok(&m, "act/776562", 0, &have));
    assert_int_equal(have, 0);
    assert_int_equal(hwm_counter_accept(&m, "act/776562", 3), 0);
    assert_false(hwm_counter_ok(&m, "act/776562", 2, &have));
    assert_int_equal(have, 3);
    assert_true(hwm_counter_ok(&m, "act/776562", 3, NULL));
    assert_true(hwm_counter_ok(&m, "act/776562", 4, NULL));
    /* never lowered by accepting a smaller value */
    assert_int_equal(hwm_counter_accept(&m, "act/776562", 1), 0);
    assert_false(hwm_counter_ok(&m, "act/776562", 2, NULL));
    /* full uint64 range (monotonic counters) */
    assert_int_equal(hwm_counter_accept(&m, "mono/61", UINT64_MAX), 0);
    assert_false(hwm_counter_ok(&m, "mono/61", UINT64_MAX - 1, NULL));
    assert_true(hwm_counter_ok(&m, "mono/61", UINT64_MAX, NULL));
    /* a newer state of the same epoch (a secret write, an update) keeps them */
    hwm_state_accept(&m, 2, d, e1);
    assert_false(hwm_counter_ok(&m, "act/776562", 2, NULL));
    /* a new counterKey (manifest set, recovery) starts from nothing */
    hwm_state_accept(&m, 3, d, e2);
    assert_true(hwm_counter_ok(&m, "act/776562", 0, NULL));
    assert_int_equal(json_object_size(m.ctr), 0);
    /* a state without a counterKey too */
    assert_int_equal(hwm_counter_accept(&m, "act/78", 5), 0);
    hwm_state_accept(&m, 4, d, NULL);
    assert_false(m.has_epoch);
    assert_true(hwm_counter_ok(&m, "act/78", 0, NULL));
    hwm_clear(&m);
}

static void test_merge(void **st)
{
    (void)st;
    struct hwm a, b;
    uint8_t d1[32], d2[32], e1[32], e2[32];
    fill(d1, 1);
    fill(d2, 2);
    fill(e1, 0x11);
    fill(e2, 0x22);
    assert_int_equal(hwm_init(&a), 0);
    assert_int_equal(hwm_init(&b), 0);
    hwm_state_accept(&a, 4, d1, e1);
    hwm_counter_accept(&a, "act/61", 5);
    hwm_counter_accept(&a, "act/62", 1);
    hwm_state_accept(&b, 6, d2, e1);
    hwm_counter_accept(&b, "act/61", 3);
    hwm_counter_accept(&b, "act/62", 7);
    /* same epoch, b newer: b's generation, the maximum of each counter */
    assert_int_equal(hwm_merge(&a, &b), 0);
    assert_int_equal(a.gen, 6);
    assert_memory_equal(a.digest, d2, 32);
    assert_false(hwm_counter_ok(&a, "act/61", 4, NULL));
    assert_false(hwm_counter_ok(&a, "act/62", 6, NULL));
    /* an older memory of another epoch changes nothing */
    struct hwm c;
    assert_int_equal(hwm_init(&c), 0);
    hwm_state_accept(&c, 2, d1, e2);
    hwm_counter_accept(&c, "act/61", 100);
    assert_int_equal(hwm_merge(&a, &c), 0);
    assert_int_equal(a.gen, 6);
    assert_true(hwm_counter_ok(&a, "act/61", 5, NULL));
    /* a newer one of another epoch replaces the counters */
    hwm_state_accept(&c, 9, d1, e2);
    assert_int_equal(hwm_merge(&a, &c), 0);
    assert_int_equal(a.gen, 9);
    assert_memory_equal(a.epoch, e2, 32);
    assert_false(hwm_counter_ok(&a, "act/61", 99, NULL));
    assert_true(hwm_counter_ok(&a, "act/62", 0, NULL));
    hwm_clear(&a);
    hwm_clear(&b);
    hwm_clear(&c);
}

static const char k_golden[] =
    "{\"counters\":{\"act/776562\":\"3\",\"mono/61\":\"18446744073709551615\"},\"digest\":"
    "\"0101010101010101010101010101010101010101010101010101010101010101\",\"epoch\":"
    "\"1111111111111111111111111111111111111111111111111111111111111111\",\"format\":\"cairn-etcd-memory-v1\","
    "\"generation\":\"12\",\"prefix\":\"/cairn/\"}";

static void test_json_golden(void **st)
{
    (void)st;
    struct hwm m, r;
    uint8_t d[32], e[32];
    fill(d, 1);
    fill(e, 0x11);
    assert_int_equal(hwm_init(&m), 0);
    hwm_state_accept(&m, 12, d, e);
    hwm_counter_accept(&m, "act/776562", 3);
    hwm_counter_accept(&m, "mono/61", UINT64_MAX);
    char *js = NULL;
    size_t jl = 0;
    assert_int_equal(hwm_to_json(&m, "/cairn/", &js, &jl), 0);
    assert_string_equal(js, k_golden);
    assert_int_equal(hwm_parse((const uint8_t *)js, jl, "/cairn/", &r, NULL), 0);
    assert_int_equal(r.gen, 12);
    assert_true(r.has_epoch);
    assert_memory_equal(r.digest, d, 32);
    assert_memory_equal(r.epoch, e, 32);
    assert_false(hwm_counter_ok(&r, "act/776562", 2, NULL));
    assert_false(hwm_counter_ok(&r, "mono/61", UINT64_MAX - 1, NULL));
    hwm_clear(&r);
    struct cairn_error err = {0};
    assert_int_not_equal(hwm_parse((const uint8_t *)js, jl, "/other/", &r, &err), 0);
    assert_non_null(strstr(err.msg, "another key prefix"));
    free(js);
    hwm_clear(&m);
}

static void test_json_refusals(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "",
        "[]",
        "{\"format\":\"cairn-etcd-memory-v2\",\"prefix\":\"/cairn/\",\"generation\":\"1\",\"digest\":\"" 
        "0101010101010101010101010101010101010101010101010101010101010101\",\"counters\":{}}",
        /* generation: number, leading zero, sign, above 2^62, 21 digits */
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":1,\"digest\":\""
        "0101010101010101010101010101010101010101010101010101010101010101\",\"counters\":{}}",
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":\"01\",\"digest\":\""
        "0101010101010101010101010101010101010101010101010101010101010101\",\"counters\":{}}",
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":\"-1\",\"digest\":\""
        "0101010101010101010101010101010101010101010101010101010101010101\",\"counters\":{}}",
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":\"4611686018427387905\","
        "\"digest\":\"0101010101010101010101010101010101010101010101010101010101010101\",\"counters\":{}}",
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":\"100000000000000000000\","
        "\"digest\":\"0101010101010101010101010101010101010101010101010101010101010101\",\"counters\":{}}",
        /* digest / epoch lengths and digits */
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":\"1\",\"digest\":\"01\","
        "\"counters\":{}}",
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":\"1\",\"digest\":\""
        "0101010101010101010101010101010101010101010101010101010101010101\",\"epoch\":\"zz\",\"counters\":{}}",
        /* counters: a name outside act/ and mono/, a number, a negative, missing */
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":\"1\",\"digest\":\""
        "0101010101010101010101010101010101010101010101010101010101010101\",\"counters\":{\"state\":\"1\"}}",
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":\"1\",\"digest\":\""
        "0101010101010101010101010101010101010101010101010101010101010101\",\"counters\":{\"act/61\":1}}",
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":\"1\",\"digest\":\""
        "0101010101010101010101010101010101010101010101010101010101010101\",\"counters\":{\"act/61\":\"-1\"}}",
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":\"1\",\"digest\":\""
        "0101010101010101010101010101010101010101010101010101010101010101\"}",
        /* duplicate keys */
        "{\"format\":\"cairn-etcd-memory-v1\",\"prefix\":\"/cairn/\",\"generation\":\"1\",\"generation\":\"9\","
        "\"digest\":\"0101010101010101010101010101010101010101010101010101010101010101\",\"counters\":{}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hwm r;
        if (hwm_parse(S(bad[i]), "/cairn/", &r, NULL) == 0)
            fail_msg("accepted bad memory %zu", i);
    }
    const uint8_t *w, *sd;
    size_t wl, sdl;
    assert_int_not_equal(hwm_blob_split(SB("CHM1"), &w, &wl, &sd, &sdl, NULL), 0);
    assert_int_not_equal(hwm_blob_split(SB("XHM1\x01\x00\x00\x00" "ab"), &w, &wl, &sd, &sdl, NULL), 0);
    assert_int_not_equal(hwm_blob_split(SB("CHM1\x02\x00\x00\x00" "ab"), &w, &wl, &sd, &sdl, NULL), 0);   /* no data */
    assert_int_not_equal(hwm_blob_split(SB("CHM1\xff\xff\xff\xff" "ab"), &w, &wl, &sd, &sdl, NULL), 0);
    assert_int_equal(hwm_blob_split(SB("CHM1\x01\x00\x00\x00" "ab"), &w, &wl, &sd, &sdl, NULL), 0);
    assert_int_equal(wl, 1);
    assert_int_equal(sdl, 1);
}

static char *tmpdir(void)
{
    char t[] = "/tmp/cairn-hwm.XXXXXX";
    char *d = mkdtemp(t);
    return d != NULL ? strdup(d) : NULL;
}

static void rmdir_all(const char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static void test_file(void **st)
{
    (void)st;
    char *d = tmpdir(), *d2 = tmpdir();
    assert_non_null(d);
    assert_non_null(d2);
    struct seal *s1 = NULL, *other = NULL;
    assert_int_equal(seal_open(SEAL_SIM, d, NULL, &s1, NULL), 0);
    assert_int_equal(seal_open(SEAL_SIM, d2, NULL, &other, NULL), 0);
    struct hwm m, r;
    bool found = true;
    /* none yet */
    assert_int_equal(hwm_load(s1, d, "/cairn/", &r, &found, NULL), 0);
    assert_false(found);
    assert_int_equal(r.gen, 0);
    hwm_clear(&r);
    uint8_t dg[32], e[32];
    fill(dg, 3);
    fill(e, 4);
    assert_int_equal(hwm_init(&m), 0);
    hwm_state_accept(&m, 7, dg, e);
    hwm_counter_accept(&m, "act/61", 2);
    assert_int_equal(hwm_save(s1, d, "/cairn/", &m, NULL), 0);
    assert_int_equal(hwm_load(s1, d, "/cairn/", &r, &found, NULL), 0);
    assert_true(found);
    assert_int_equal(r.gen, 7);
    assert_false(hwm_counter_ok(&r, "act/61", 1, NULL));
    hwm_clear(&r);
    /* another replica sharing the directory saves an older memory: the
     * file keeps the newer marks (merge), and the caller's copy is not
     * raised */
    struct hwm older;
    assert_int_equal(hwm_init(&older), 0);
    hwm_state_accept(&older, 5, dg, e);
    hwm_counter_accept(&older, "act/61", 1);
    hwm_counter_accept(&older, "act/62", 9);
    assert_int_equal(hwm_save(s1, d, "/cairn/", &older, NULL), 0);
    assert_int_equal(older.gen, 5);
    assert_int_equal(hwm_load(s1, d, "/cairn/", &r, &found, NULL), 0);
    assert_int_equal(r.gen, 7);
    assert_false(hwm_counter_ok(&r, "act/61", 1, NULL));
    assert_false(hwm_counter_ok(&r, "act/62", 8, NULL));
    hwm_clear(&r);
    hwm_clear(&older);
    /* another prefix: its own file */
    assert_int_equal(hwm_load(s1, d, "/other/", &r, &found, NULL), 0);
    assert_false(found);
    hwm_clear(&r);
    /* another seal does not open it */
    struct cairn_error err = {0};
    assert_int_not_equal(hwm_load(other, d, "/cairn/", &r, &found, &err), 0);
    assert_true(found);
    /* a flipped byte anywhere is refused */
    char path[4096];
    assert_int_equal(hwm_file_path(d, "/cairn/", path, sizeof(path)), 0);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    uint8_t *b = malloc((size_t)n);
    fseek(f, 0, SEEK_SET);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    for (long pos = 0; pos < n; pos += 7) {
        b[pos] ^= 0x20;
        fseek(f, 0, SEEK_SET);
        assert_int_equal(fwrite(b, 1, (size_t)n, f), (size_t)n);
        fflush(f);
        if (hwm_load(s1, d, "/cairn/", &r, &found, NULL) == 0)
            fail_msg("a file with byte %ld flipped was accepted", pos);
        b[pos] ^= 0x20;
    }
    fclose(f);
    /* a file that does not open is overwritten by the next save */
    assert_int_equal(hwm_save(s1, d, "/cairn/", &m, NULL), 0);
    assert_int_equal(hwm_load(s1, d, "/cairn/", &r, &found, NULL), 0);
    assert_int_equal(r.gen, 7);
    hwm_clear(&r);
    free(b);
    hwm_clear(&m);
    seal_free(s1);
    seal_free(other);
    rmdir_all(d);
    rmdir_all(d2);
    free(d);
    free(d2);
}

/* Bit flips and truncations of the golden JSON and a container: no crash,
 * no leak (ASan); accepted or refused completely. */
static void test_mutations(void **st)
{
    (void)st;
    uint32_t seed = 4242;
    size_t accepted = 0, refused = 0, n = strlen(k_golden);
    uint8_t *b = malloc(n);
    for (size_t it = 0; it < 5000; it++) {
        memcpy(b, k_golden, n);
        size_t len = n;
        seed = seed * 1103515245u + 12345u;
        if (it % 3 == 0)
            len = (seed >> 8) % n;
        else
            b[(seed >> 8) % n] ^= (uint8_t)(1u << ((seed >> 4) & 7));
        struct hwm r;
        if (hwm_parse(b, len, "/cairn/", &r, NULL) == 0) {
            accepted++;
            hwm_clear(&r);
        } else {
            refused++;
        }
        const uint8_t *w, *sd;
        size_t wl, sdl;
        (void)hwm_blob_split(b, len, &w, &wl, &sd, &sdl, NULL);
    }
    free(b);
    assert_true(accepted > 0);
    assert_true(refused > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_verdicts), cmocka_unit_test(test_counters_and_epochs),
        cmocka_unit_test(test_merge),          cmocka_unit_test(test_json_golden),
        cmocka_unit_test(test_json_refusals),  cmocka_unit_test(test_file),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
