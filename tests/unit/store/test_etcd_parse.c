/* etcd gateway answer parsers and registry values: golden vectors (answers
 * captured from etcd 3.4.23's JSON gateway), refusals, and a deterministic
 * mutation loop (bit flips, truncations) that must never crash or leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/etcd.h"
#include "store/registry.h"

#define S(x) (const uint8_t *)(x), strlen(x)

static const char k_range[] =
    "{\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\",\"revision\":\"2\","
    "\"raft_term\":\"2\"},\"kvs\":[{\"key\":\"YQ==\",\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":"
    "\"1\",\"value\":\"eA==\"}],\"count\":\"1\"}";
static const char k_txn_ok[] =
    "{\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\",\"revision\":\"2\","
    "\"raft_term\":\"2\"},\"succeeded\":true,\"responses\":[{\"response_put\":{\"header\":{\"revision\":\"2\"}}}]}";
static const char k_txn_fail[] =
    "{\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\",\"revision\":\"2\","
    "\"raft_term\":\"2\"},\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"2\"},\"kvs\":[{\"key\":"
    "\"YQ==\",\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"eA==\"}],\"count\":"
    "\"1\"}}]}";
static const char k_watch_put[] =
    "{\"result\":{\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\","
    "\"revision\":\"3\",\"raft_term\":\"2\"},\"events\":[{\"kv\":{\"key\":\"YQ==\",\"create_revision\":\"2\","
    "\"mod_revision\":\"3\",\"version\":\"2\",\"value\":\"eQ==\"}}]}}";
static const char k_watch_del[] =
    "{\"result\":{\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\","
    "\"revision\":\"4\",\"raft_term\":\"2\"},\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"YQ==\","
    "\"mod_revision\":\"4\"}}]}}";
static const char k_watch_created[] =
    "{\"result\":{\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\","
    "\"revision\":\"2\",\"raft_term\":\"2\"},\"created\":true}}";
static const char k_registry[] =
    "{\"client\":\"127.0.0.1:4433\",\"id\":\"0123456789abcdef\",\"key\":\"\",\"mesh\":\"127.0.0.1:2001\","
    "\"started\":1765000000,\"version\":\"0.1.0\"}";

static void test_range_golden(void **st)
{
    (void)st;
    struct etcd_kvs r;
    assert_int_equal(etcd_parse_range(S(k_range), &r, NULL), 0);
    assert_int_equal(r.revision, 2);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.kv[0].key, "a");
    assert_int_equal(r.kv[0].value_len, 1);
    assert_memory_equal(r.kv[0].value, "x", 1);
    assert_int_equal(r.kv[0].mod_rev, 2);
    assert_int_equal(r.kv[0].create_rev, 2);
    etcd_kvs_clear(&r);
    /* a miss: no kvs member at all (proto3 default) */
    assert_int_equal(etcd_parse_range(S("{\"header\":{\"revision\":\"9\"}}"), &r, NULL), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.revision, 9);
    etcd_kvs_clear(&r);
}

static void test_txn_golden(void **st)
{
    (void)st;
    struct etcd_txn_result t;
    assert_int_equal(etcd_parse_txn(S(k_txn_ok), &t, NULL), 0);
    assert_true(t.succeeded);
    assert_int_equal(t.revision, 2);
    assert_int_equal(t.n_gets, 0);
    etcd_txn_result_clear(&t);
    /* a failed txn has no "succeeded" member: false */
    assert_int_equal(etcd_parse_txn(S(k_txn_fail), &t, NULL), 0);
    assert_false(t.succeeded);
    assert_int_equal(t.n_gets, 1);
    assert_int_equal(t.gets[0].n, 1);
    assert_int_equal(t.gets[0].kv[0].mod_rev, 2);
    etcd_txn_result_clear(&t);
}

static void test_watch_golden(void **st)
{
    (void)st;
    struct etcd_watch_msg m;
    assert_int_equal(etcd_parse_watch(S(k_watch_created), &m, NULL), 0);
    assert_true(m.created);
    assert_int_equal(m.n_events, 0);
    etcd_watch_msg_clear(&m);
    assert_int_equal(etcd_parse_watch(S(k_watch_put), &m, NULL), 0);
    assert_int_equal(m.n_events, 1);
    assert_int_equal(m.events[0].type, ETCD_EVENT_PUT);
    assert_int_equal(m.events[0].kv.mod_rev, 3);
    assert_memory_equal(m.events[0].kv.value, "y", 1);
    etcd_watch_msg_clear(&m);
    assert_int_equal(etcd_parse_watch(S(k_watch_del), &m, NULL), 0);
    assert_int_equal(m.events[0].type, ETCD_EVENT_DELETE);
    assert_null(m.events[0].kv.value);
    etcd_watch_msg_clear(&m);
    assert_int_equal(etcd_parse_watch(S("{\"result\":{\"header\":{\"revision\":\"5\"},\"compact_revision\":\"3\"}}"),
                                      &m, NULL),
                     0);
    assert_int_equal(m.compact_revision, 3);
    etcd_watch_msg_clear(&m);
}

static void test_refusals(void **st)
{
    (void)st;
    struct etcd_kvs r;
    struct etcd_watch_msg m;
    struct etcd_txn_result t;
    struct cairn_error e = {0};
    static const char *const bad_range[] = {
        "",
        "[]",
        "{\"kvs\":{}}",
        "{\"kvs\":[{\"key\":\"not base64!\"}]}",
        "{\"kvs\":[{\"key\":\"\"}]}",
        "{\"kvs\":[{\"key\":\"AA==\"}]}",                                   /* a NUL byte in the key */
        "{\"kvs\":[{\"key\":\"YQ==\",\"mod_revision\":\"1.5\"}]}",
        "{\"kvs\":[{\"key\":\"YQ==\",\"mod_revision\":\"99999999999999999999\"}]}",   /* > int64 */
        "{\"kvs\":[{\"key\":\"YQ==\",\"mod_revision\":\"-1\"}]}",
        "{\"kvs\":[{\"key\":\"YQ==\",\"mod_revision\":1e3}]}",
        "{\"kvs\":[{\"key\":\"YQ==\",\"value\":5}]}",
        "{\"header\":{\"revision\":\"2\"},\"header\":{\"revision\":\"3\"}}",   /* duplicate keys */
        "{\"header\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad_range) / sizeof(bad_range[0]); i++) {
        int rc = etcd_parse_range(S(bad_range[i]), &r, &e);
        if (rc == 0)
            fail_msg("accepted bad range answer %zu: %s", i, bad_range[i]);
        assert_true(e.msg[0] != 0);
    }
    assert_int_not_equal(etcd_parse_txn(S("{\"succeeded\":\"yes\"}"), &t, NULL), 0);
    assert_int_not_equal(etcd_parse_txn(S("{\"responses\":[5]}"), &t, NULL), 0);
    assert_int_not_equal(etcd_parse_watch(S("{\"result\":{\"events\":[{\"type\":\"EXPIRE\",\"kv\":{\"key\":\"YQ==\"}}]}}"),
                                          &m, NULL),
                         0);
    assert_int_equal(etcd_parse_watch(S("{\"error\":{\"grpc_code\":14,\"message\":\"no leader\"}}"), &m, &e),
                     CAIRN_ERR_NETWORK);
    assert_non_null(strstr(e.msg, "no leader"));
}

static void test_int64(void **st)
{
    (void)st;
    json_t *v;
    int64_t x = 0;
    /* a lease ID above 2^53: exact, never through double */
    v = json_string("2324035869655918341");
    assert_true(etcd_parse_int64(v, &x));
    assert_true(x == 2324035869655918341LL);
    json_decref(v);
    static const char *const bad[] = {"", "-", "1a", " 1", "+1", "0x10", "123456789012345678901"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = json_string(bad[i]);
        assert_false(etcd_parse_int64(v, &x));
        json_decref(v);
    }
}

static void test_registry(void **st)
{
    (void)st;
    struct replica_info ri;
    assert_int_equal(registry_parse(S(k_registry), "0123456789abcdef", &ri, NULL), 0);
    assert_string_equal(ri.client, "127.0.0.1:4433");
    assert_string_equal(ri.mesh, "127.0.0.1:2001");
    assert_string_equal(ri.key, "");
    char *s = NULL;
    assert_int_equal(registry_value(&ri, &s, NULL), 0);
    assert_string_equal(s, k_registry);   /* sorted keys, compact: round trip */
    free(s);
    assert_int_not_equal(registry_parse(S(k_registry), "fedcba9876543210", &ri, NULL), 0);   /* key/value ids differ */
    static const char *const bad[] = {
        "{\"client\":\"127.0.0.1:4433\",\"id\":\"0123456789ABCDEF\",\"key\":\"\",\"mesh\":\"a:1\",\"started\":1,\"version\":\"\"}",
        "{\"client\":\"no port\",\"id\":\"0123456789abcdef\",\"key\":\"\",\"mesh\":\"a:1\",\"started\":1,\"version\":\"\"}",
        "{\"client\":\"a:1\",\"id\":\"0123456789abcdef\",\"key\":\"\",\"mesh\":\"a:1\",\"started\":-1,\"version\":\"\"}",
        "{\"client\":\"a:1\",\"id\":\"0123456789abcdef\",\"key\":\"\",\"mesh\":\"a\\u0000:1\",\"started\":1,\"version\":\"\"}",
        "{\"client\":\"a:1\",\"id\":\"0123456789abcdef\",\"mesh\":\"a:1\",\"started\":1,\"version\":\"\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (registry_parse(S(bad[i]), NULL, &ri, NULL) == 0)
            fail_msg("accepted bad registry value %zu", i);
}

/* Bit flips and truncations of every golden answer: no crash, no leak
 * (ASan), and an answer either parses completely or not at all. */
static void test_mutations(void **st)
{
    (void)st;
    const char *const golden[] = {k_range, k_txn_ok, k_txn_fail, k_watch_put, k_watch_del, k_watch_created, k_registry};
    uint32_t seed = 12345;
    size_t accepted = 0, refused = 0;
    for (size_t g = 0; g < sizeof(golden) / sizeof(golden[0]); g++) {
        size_t n = strlen(golden[g]);
        uint8_t *b = malloc(n);
        for (size_t it = 0; it < 2000; it++) {
            memcpy(b, golden[g], n);
            size_t len = n;
            seed = seed * 1103515245u + 12345u;
            if (it % 3 == 0)
                len = (seed >> 8) % n;
            else
                b[(seed >> 8) % n] ^= (uint8_t)(1u << ((seed >> 4) & 7));
            struct etcd_kvs r;
            struct etcd_txn_result t;
            struct etcd_watch_msg m;
            struct replica_info ri;
            int a = etcd_parse_range(b, len, &r, NULL), c = etcd_parse_txn(b, len, &t, NULL),
                d = etcd_parse_watch(b, len, &m, NULL), f = registry_parse(b, len, NULL, &ri, NULL);
            if (a == 0)
                etcd_kvs_clear(&r);
            if (c == 0)
                etcd_txn_result_clear(&t);
            if (d == 0)
                etcd_watch_msg_clear(&m);
            accepted += (a == 0) + (c == 0) + (d == 0) + (f == 0);
            refused += (a != 0) + (c != 0) + (d != 0) + (f != 0);
        }
        free(b);
    }
    assert_true(refused > 0);
    assert_true(accepted > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_golden), cmocka_unit_test(test_txn_golden), cmocka_unit_test(test_watch_golden),
        cmocka_unit_test(test_refusals),     cmocka_unit_test(test_int64),      cmocka_unit_test(test_registry),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
