/* Shared test vectors for the attest unit tests that read them from
 * $CAIRN_SHARED_DIR/testvectors (not in this repository; the tests skip with
 * a message without them). Define TV_PROBE (a subdirectory, e.g. "tpm")
 * before including: have_shared() checks that TV_PROBE/SOURCES.md exists.
 * Header-only, included by one test file each (static functions). */
#ifndef CAIRN_TEST_VECTORS_H
#define CAIRN_TEST_VECTORS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/file.h"

#ifndef TV_PROBE
#error "define TV_PROBE (the subdirectory of testvectors/ the test needs) before including test_vectors.h"
#endif

/* testvectors/ of CAIRN_SHARED_DIR, set by have_shared(). */
static char g_dir[1024];

static __attribute__((unused)) bool have_shared(void)
{
    const char *d = getenv("CAIRN_SHARED_DIR");
    if (d == NULL)
        return false;
    snprintf(g_dir, sizeof(g_dir), "%s/testvectors", d);
    char probe[1100];
    snprintf(probe, sizeof(probe), "%s/%s/SOURCES.md", g_dir, TV_PROBE);
    FILE *f = fopen(probe, "r");
    if (f == NULL)
        return false;
    fclose(f);
    return true;
}

#define NEED_SHARED()                                                                      \
    do {                                                                                   \
        if (!have_shared()) {                                                              \
            print_message("SKIP: CAIRN_SHARED_DIR/testvectors not available\n");           \
            skip();                                                                        \
        }                                                                                  \
    } while (0)

/* Reads testvectors/<rel> (at most 4 MiB); fails the test if it cannot.
 * Owned: the caller frees the result. */
static __attribute__((unused)) uint8_t *load(const char *rel, size_t *n)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", g_dir, rel);
    uint8_t *p = NULL;
    assert_int_equal(cairn_file_read(path, 4u << 20, &p, n), 0);
    return p;
}

#endif
