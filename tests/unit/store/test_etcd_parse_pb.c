/* Parsers of etcd's native gRPC answers (RangeResponse, TxnResponse):
 * golden vectors captured from a real etcd 3.4.23 with python3-grpcio
 * (generic calls, raw bytes, an implementation we did not write),
 * hand-made refusals, and a deterministic mutation loop (bit flips,
 * truncations) that must never crash or leak (ASan in CI). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/etcd.h"

/* Put /g/a = "x" (revision 6) and /g/b = 00 ff 01 (revision 7), then:
 * Range of the prefix /g/; Range of /nope; a Txn whose compare
 * (version(/g/a) == 1) holds: put /g/c = "y", range /g/; the same Txn with
 * version 99: its failure branch, range /g/a. */
static const char k_range_hit[] =
    "0a1908cab2d7e795e8928d2910ceb7c3caf3a7c4ba9b0118072002120f0a042f672f611006180620012a017812110a042f672f62100718"
    "0720012a0300ff012002";
static const char k_range_miss[] = "0a1908cab2d7e795e8928d2910ceb7c3caf3a7c4ba9b0118072002";
static const char k_txn_ok[] =
    "0a1908cab2d7e795e8928d2910ceb7c3caf3a7c4ba9b011808200210011a0612040a0218081a3d0a3b0a021808120f0a042f672f61100618"
    "0620012a017812110a042f672f621007180720012a0300ff01120f0a042f672f631008180820012a01792003";
static const char k_txn_fail[] =
    "0a1908cab2d7e795e8928d2910ceb7c3caf3a7c4ba9b01180820021a190a170a021808120f0a042f672f611006180620012a01782001";

static uint8_t *unhex(const char *h, size_t *n)
{
    size_t l = strlen(h) / 2;
    uint8_t *b = malloc(l + 1);
    assert_non_null(b);
    for (size_t i = 0; i < l; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        b[i] = (uint8_t)v;
    }
    *n = l;
    return b;
}

static void test_range_golden(void **st)
{
    (void)st;
    size_t n;
    uint8_t *b = unhex(k_range_hit, &n);
    struct etcd_kvs r;
    assert_int_equal(etcd_parse_range_pb(b, n, &r, NULL), 0);
    assert_int_equal(r.revision, 7);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.kv[0].key, "/g/a");
    assert_int_equal(r.kv[0].value_len, 1);
    assert_memory_equal(r.kv[0].value, "x", 1);
    assert_int_equal(r.kv[0].create_rev, 6);
    assert_int_equal(r.kv[0].mod_rev, 6);
    assert_int_equal(r.kv[0].version, 1);
    assert_string_equal(r.kv[1].key, "/g/b");
    assert_int_equal(r.kv[1].value_len, 3);
    assert_memory_equal(r.kv[1].value, "\x00\xff\x01", 3);
    assert_int_equal(r.kv[1].mod_rev, 7);
    etcd_kvs_clear(&r);
    free(b);

    b = unhex(k_range_miss, &n);
    assert_int_equal(etcd_parse_range_pb(b, n, &r, NULL), 0);
    assert_int_equal(r.revision, 7);
    assert_int_equal(r.n, 0);
    assert_null(r.kv);
    etcd_kvs_clear(&r);
    free(b);
}

static void test_txn_golden(void **st)
{
    (void)st;
    size_t n;
    uint8_t *b = unhex(k_txn_ok, &n);
    struct etcd_txn_result t;
    assert_int_equal(etcd_parse_txn_pb(b, n, &t, NULL), 0);
    assert_true(t.succeeded);
    assert_int_equal(t.revision, 8);
    assert_int_equal(t.n_gets, 1);   /* the put's answer is skipped, the range kept */
    assert_int_equal(t.gets[0].n, 3);
    assert_string_equal(t.gets[0].kv[2].key, "/g/c");
    assert_int_equal(t.gets[0].kv[2].mod_rev, 8);
    assert_memory_equal(t.gets[0].kv[2].value, "y", 1);
    etcd_txn_result_clear(&t);
    free(b);

    b = unhex(k_txn_fail, &n);
    assert_int_equal(etcd_parse_txn_pb(b, n, &t, NULL), 0);
    assert_false(t.succeeded);
    assert_int_equal(t.revision, 8);
    assert_int_equal(t.n_gets, 1);
    assert_int_equal(t.gets[0].n, 1);
    assert_string_equal(t.gets[0].kv[0].key, "/g/a");
    etcd_txn_result_clear(&t);
    free(b);
}

/* A RangeResponse with one kv: key (len bytes), mod_revision as a raw
 * varint. */
static size_t one_kv(uint8_t *out, const uint8_t *key, size_t klen, const uint8_t *modrev, size_t mlen)
{
    uint8_t kv[2000];
    size_t k = 0;
    kv[k++] = 0x0a;   /* key, field 1 */
    kv[k++] = (uint8_t)(0x80 | (klen & 0x7f));
    kv[k++] = (uint8_t)(klen >> 7);
    memcpy(kv + k, key, klen);
    k += klen;
    kv[k++] = 0x18;   /* mod_revision, field 3 */
    memcpy(kv + k, modrev, mlen);
    k += mlen;
    size_t o = 0;
    out[o++] = 0x12;  /* kvs, field 2 */
    out[o++] = (uint8_t)(0x80 | (k & 0x7f));
    out[o++] = (uint8_t)(k >> 7);
    memcpy(out + o, kv, k);
    return o + k;
}

static void test_refusals(void **st)
{
    (void)st;
    uint8_t b[2100];
    struct etcd_kvs r;
    struct etcd_txn_result t;
    struct cairn_error e = {0};
    const uint8_t rev5[] = {0x05};
    const uint8_t neg[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};   /* int64 -1 */
    size_t n = one_kv(b, (const uint8_t *)"/a", 2, rev5, sizeof(rev5));
    assert_int_equal(etcd_parse_range_pb(b, n, &r, NULL), 0);   /* the builder itself is right */
    assert_int_equal(r.kv[0].mod_rev, 5);
    etcd_kvs_clear(&r);
    n = one_kv(b, (const uint8_t *)"/a\0b", 4, rev5, sizeof(rev5));
    assert_int_equal(etcd_parse_range_pb(b, n, &r, &e), CAIRN_ERR_PROTOCOL);
    assert_non_null(strstr(cairn_error_msg(&e), "NUL"));
    uint8_t longkey[ETCD_MAX_KEY + 1];
    memset(longkey, 'k', sizeof(longkey));
    n = one_kv(b, longkey, ETCD_MAX_KEY, rev5, sizeof(rev5));
    assert_int_equal(etcd_parse_range_pb(b, n, &r, NULL), 0);   /* the limit itself is fine */
    etcd_kvs_clear(&r);
    n = one_kv(b, longkey, ETCD_MAX_KEY + 1, rev5, sizeof(rev5));
    assert_int_equal(etcd_parse_range_pb(b, n, &r, NULL), CAIRN_ERR_PROTOCOL);
    n = one_kv(b, (const uint8_t *)"", 0, rev5, sizeof(rev5));
    assert_int_equal(etcd_parse_range_pb(b, n, &r, NULL), CAIRN_ERR_PROTOCOL);
    n = one_kv(b, (const uint8_t *)"/a", 2, neg, sizeof(neg));
    assert_int_equal(etcd_parse_range_pb(b, n, &r, NULL), CAIRN_ERR_PROTOCOL);
    /* a negative header revision */
    const uint8_t hdr[] = {0x0a, 0x0b, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(etcd_parse_range_pb(hdr, sizeof(hdr), &r, NULL), CAIRN_ERR_PROTOCOL);
    assert_int_equal(etcd_parse_txn_pb(hdr, sizeof(hdr), &t, NULL), CAIRN_ERR_PROTOCOL);
    /* not protobuf: a truncated length, a JSON answer, an end group */
    const uint8_t junk[] = {0x12, 0x7f, 0x01};
    assert_int_equal(etcd_parse_range_pb(junk, sizeof(junk), &r, NULL), CAIRN_ERR_PROTOCOL);
    assert_int_equal(etcd_parse_txn_pb((const uint8_t *)"{\"header\":{}}", 13, &t, NULL), CAIRN_ERR_PROTOCOL);
    const uint8_t endgroup[] = {0x0c};
    assert_int_equal(etcd_parse_txn_pb(endgroup, sizeof(endgroup), &t, NULL), CAIRN_ERR_PROTOCOL);
    /* an empty message is an empty answer (proto3: every field at its default) */
    assert_int_equal(etcd_parse_range_pb((const uint8_t *)"", 0, &r, NULL), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.revision, 0);
    etcd_kvs_clear(&r);
    /* a txn whose range answer holds a bad kv fails as a whole */
    uint8_t tb[2200];
    n = one_kv(b, (const uint8_t *)"/a\0b", 4, rev5, sizeof(rev5));
    size_t o = 0;
    tb[o++] = 0x1a;   /* responses, field 3: a ResponseOp of 2 + n bytes */
    tb[o++] = (uint8_t)(n + 2);
    tb[o++] = 0x0a;   /* response_range, field 1: the RangeResponse above */
    tb[o++] = (uint8_t)n;
    memcpy(tb + o, b, n);
    o += n;
    struct cairn_error te = {0};
    assert_int_equal(etcd_parse_txn_pb(tb, o, &t, &te), CAIRN_ERR_PROTOCOL);
    assert_non_null(strstr(cairn_error_msg(&te), "NUL"));
}

static void test_mutations(void **st)
{
    (void)st;
    const char *const golden[] = {k_range_hit, k_range_miss, k_txn_ok, k_txn_fail};
    uint32_t seed = 4242;
    size_t accepted = 0, refused = 0;
    for (size_t g = 0; g < sizeof(golden) / sizeof(golden[0]); g++) {
        size_t n;
        uint8_t *orig = unhex(golden[g], &n);
        uint8_t *b = malloc(n);
        for (size_t it = 0; it < 3000; it++) {
            memcpy(b, orig, n);
            size_t len = n;
            seed = seed * 1103515245u + 12345u;
            if (it % 3 == 0)
                len = (seed >> 8) % n;
            else
                b[(seed >> 8) % n] ^= (uint8_t)(1u << ((seed >> 4) & 7));
            struct etcd_kvs r;
            struct etcd_txn_result t;
            int a = etcd_parse_range_pb(b, len, &r, NULL), c = etcd_parse_txn_pb(b, len, &t, NULL);
            if (a == 0) {
                for (size_t i = 0; i < r.n; i++)   /* what is accepted is whole */
                    assert_true(r.kv[i].key != NULL && strlen(r.kv[i].key) > 0 && r.kv[i].mod_rev >= 0);
                etcd_kvs_clear(&r);
            }
            if (c == 0)
                etcd_txn_result_clear(&t);
            accepted += (a == 0) + (c == 0);
            refused += (a != 0) + (c != 0);
        }
        free(b);
        free(orig);
    }
    assert_true(refused > 0);
    assert_true(accepted > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_golden),
        cmocka_unit_test(test_txn_golden),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
