/* Second review: a DEK change whose sealed_data write fails, retried and
 * failing again, must not lose the only key that opens the stored data.
 * A store wrapper around the memory backend makes "sealed_data" puts fail on
 * demand (a full disk, an I/O error), the rest is the real seal/store code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/file.h"
#include "store/seal.h"
#include "store/store.h"

struct failing {
    struct store base;
    struct store *inner;
    int fail_data;
};

static int f_get(struct store *s, const char *n, uint8_t **o, size_t *ol, uint64_t *ov, struct cairn_error *e)
{
    return store_get(((struct failing *)s)->inner, n, o, ol, ov, e);
}

static int f_put(struct store *s, const char *n, const uint8_t *d, size_t l, uint64_t ev, uint64_t *ov,
                 struct cairn_error *e)
{
    struct failing *f = (struct failing *)s;
    if (f->fail_data && strcmp(n, "sealed_data") == 0)
        return cairn_errf(e, CAIRN_ERR_IO, "store: injected write failure");
    return store_put(f->inner, n, d, l, ev, ov, e);
}

static int f_del(struct store *s, const char *n, struct cairn_error *e)
{
    return store_del(((struct failing *)s)->inner, n, e);
}

static uint64_t f_version(struct store *s, const char *n)
{
    return store_version(((struct failing *)s)->inner, n);
}

static void f_free(struct store *s)
{
    store_free(((struct failing *)s)->inner);
    free(s);
}

static const struct store_ops k_failing = {"failing", f_get, f_put, f_del, f_version, f_free, NULL};

static void dek_change_fails_twice(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-review2-seal.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct seal *seal = NULL;
    assert_int_equal(seal_open(SEAL_SIM, dir, NULL, &seal, NULL), 0);
    struct failing *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->base.ops = &k_failing;
    assert_int_equal(store_memory_open(&f->inner), 0);
    struct store *st = &f->base;

    uint8_t k1[32], k2[32], k3[32];
    memset(k1, 1, 32);
    memset(k2, 2, 32);
    memset(k3, 3, 32);
    static const char doc1[] = "{\"state\":1}";
    assert_int_equal(sealed_state_save(st, seal, k1, NULL, 0, (const uint8_t *)doc1, sizeof(doc1) - 1, NULL), 0);

    /* a DEK change fails at the data write, and so does its retry */
    f->fail_data = 1;
    assert_int_not_equal(sealed_state_save(st, seal, k2, NULL, 0, (const uint8_t *)"{}", 2, NULL), 0);
    assert_int_not_equal(sealed_state_save(st, seal, k3, NULL, 0, (const uint8_t *)"{}", 2, NULL), 0);
    f->fail_data = 0;

    /* a restart: the stored data is doc1 under k1, and must still open */
    enum sealed_load_result res = SEALED_LOAD_EMPTY;
    uint8_t dek[32] = {0};
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    struct cairn_error err = {0};
    int rc = sealed_state_load(st, seal, &res, dek, &doc, &doc_len, &err);
    if (rc != 0)
        fail_msg("load after two failed DEK changes: %s", err.msg);
    assert_int_equal(res, SEALED_LOAD_OK);
    assert_int_equal(doc_len, sizeof(doc1) - 1);
    assert_memory_equal(doc, doc1, doc_len);
    assert_memory_equal(dek, k1, 32);
    free(doc);

    /* and after the repair a normal change still works and loads */
    static const char doc4[] = "{\"state\":4}";
    assert_int_equal(sealed_state_save(st, seal, k2, NULL, 0, (const uint8_t *)doc4, sizeof(doc4) - 1, NULL), 0);
    assert_int_equal(sealed_state_load(st, seal, &res, dek, &doc, &doc_len, NULL), 0);
    assert_int_equal(res, SEALED_LOAD_OK);
    assert_memory_equal(doc, doc4, sizeof(doc4) - 1);
    assert_memory_equal(dek, k2, 32);
    free(doc);

    store_free(st);
    seal_free(seal);
    char p[256];
    snprintf(p, sizeof(p), "%s/sim_seal_key", dir);
    unlink(p);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dek_change_fails_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
