/* The sealed copies of the data key kept in etcd (store/datakey.h):
 * datakey_open_blob on golden and mutated input, and seal_identity. The
 * etcd side is covered by tests/integration/ha/test_ha_datakey.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "store/datakey.h"
#include "store/seal.h"

static struct seal *open_seal(char *dir)
{
    struct seal *s = NULL;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(seal_open(SEAL_SIM, dir, NULL, &s, NULL), 0);
    return s;
}

static void drop_seal(struct seal *s, const char *dir)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/sim_seal_key", dir);
    unlink(p);
    rmdir(dir);
    seal_free(s);
}

/* what sealed_publish writes: CSK2 bound to SHA-256("cairn datakey v1" || id) */
static void wrap_for(const struct seal *s, const uint8_t id[DATAKEY_ID_SIZE], const uint8_t dek[32], uint8_t **blob,
                     size_t *len)
{
    uint8_t b[16 + DATAKEY_ID_SIZE], bind[32];
    memcpy(b, "cairn datakey v1", 16);
    memcpy(b + 16, id, DATAKEY_ID_SIZE);
    cc_sha256(b, sizeof(b), bind);
    assert_int_equal(seal_wrap_bound(s, dek, bind, blob, len, NULL), 0);
}

static void open_blob_golden_and_mutations(void **state)
{
    (void)state;
    char d1[] = "/tmp/cairn-dk-a-XXXXXX", d2[] = "/tmp/cairn-dk-b-XXXXXX";
    struct seal *a = open_seal(d1), *b = open_seal(d2);
    uint8_t id[DATAKEY_ID_SIZE], other[DATAKEY_ID_SIZE], dek[32], out[32];
    memset(id, 0x11, sizeof(id));
    memset(other, 0x22, sizeof(other));
    memset(dek, 0x5a, sizeof(dek));
    uint8_t *blob = NULL;
    size_t len = 0;
    wrap_for(a, id, dek, &blob, &len);
    assert_true(len <= DATAKEY_SEALED_MAX);

    /* golden: opens with its seal and id */
    assert_int_equal(datakey_open_blob(a, id, blob, len, out, NULL), 0);
    assert_memory_equal(out, dek, 32);
    /* another seal: not a copy for it */
    assert_int_equal(datakey_open_blob(b, id, blob, len, out, NULL), CAIRN_ERR_NOT_FOUND);
    /* moved under another id: opens, but refused */
    struct cairn_error e = {0};
    assert_int_equal(datakey_open_blob(a, other, blob, len, out, &e), CAIRN_ERR_VERIFY);
    /* every single-byte change, and every truncation, fails */
    for (size_t i = 0; i < len; i++) {
        blob[i] ^= 0x01;
        assert_int_not_equal(datakey_open_blob(a, id, blob, len, out, NULL), 0);
        blob[i] ^= 0x01;
    }
    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(datakey_open_blob(a, id, blob, n, out, NULL), 0);
    /* oversized input never reaches the unwrapper */
    uint8_t *big = calloc(1, DATAKEY_SEALED_MAX + 1);
    assert_non_null(big);
    memcpy(big, blob, len);
    assert_int_equal(datakey_open_blob(a, id, big, DATAKEY_SEALED_MAX + 1, out, NULL), CAIRN_ERR_NOT_FOUND);
    free(big);
    free(blob);
    drop_seal(a, d1);
    drop_seal(b, d2);
}

static void seal_identity_is_per_key(void **state)
{
    (void)state;
    char d1[] = "/tmp/cairn-dk-c-XXXXXX", d2[] = "/tmp/cairn-dk-d-XXXXXX";
    struct seal *a = open_seal(d1), *b = open_seal(d2);
    uint8_t ia[SEAL_IDENTITY_SIZE], ia2[SEAL_IDENTITY_SIZE], ib[SEAL_IDENTITY_SIZE];
    assert_int_equal(seal_identity(a, ia), 0);
    assert_int_equal(seal_identity(b, ib), 0);
    assert_memory_not_equal(ia, ib, sizeof(ia));
    /* the same key file again: the same identity (the slot is found again) */
    struct seal *a2 = NULL;
    assert_int_equal(seal_open(SEAL_SIM, d1, NULL, &a2, NULL), 0);
    assert_int_equal(seal_identity(a2, ia2), 0);
    assert_memory_equal(ia, ia2, sizeof(ia));
    seal_free(a2);
    drop_seal(a, d1);
    drop_seal(b, d2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_blob_golden_and_mutations),
        cmocka_unit_test(seal_identity_is_per_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
