/* Security review regressions for src/core (docs/security-review.md).
 *
 * json_freed_wiped: the sealed state document carries the root key, the
 * intermediate key and the root secret as base64 strings. core.c wiped its
 * own copies, but the copies inside jansson (the document tree, json_dumps'
 * internal buffer, the parser's buffers when the state is loaded at start)
 * went back to the heap intact. The test puts a scanning free function under
 * jansson, restarts a Coordinator core (which loads the state) and looks for
 * the root secret's base64 in every block jansson frees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define _GNU_SOURCE 1
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/encoding.h"
#include "core/core.h"
#include "core/core_internal.h"

static const char k_manifest[] =
    "{\"Packages\":{\"pkg\":{\"Debug\":true,\"UniqueID\":\"00\"}},"
    "\"Marbles\":{\"web\":{\"Package\":\"pkg\"}},"
    "\"Secrets\":{\"k\":{\"Type\":\"symmetric-key\",\"Size\":128}}}";

static char g_needle[128];
static size_t g_needle_len;
static int g_hits;

static void scan_free(void *p)
{
    if (p != NULL && g_needle_len > 0 && memmem(p, malloc_usable_size(p), g_needle, g_needle_len) != NULL)
        g_hits++;
    free(p);
}

static struct core *new_core(const char *seal_dir)
{
    struct core_config cfg = {.simulation = true, .seal_dir = seal_dir};
    struct core *c = NULL;
    struct cairn_error e = {0};
    assert_int_equal(core_new(&cfg, &c, &e), 0);
    return c;
}

static void json_freed_wiped(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/cairn-review-core-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char seal[512];
    snprintf(seal, sizeof(seal), "%s/seal", dir);

    struct core *c = new_core(seal);
    json_t *rec = NULL;
    struct cairn_error e = {0};
    assert_int_equal(core_manifest_set(c, (const uint8_t *)k_manifest, strlen(k_manifest), &rec, &e), 0);
    json_decref(rec);
    struct core_snap *s = core_snap_get(c);
    char *b64 = cairn_base64_encode(s->root_secret, sizeof(s->root_secret));
    core_snap_put(s);
    assert_non_null(b64);
    /* the first 24 characters: long enough to be unique, and not split by
     * anything jansson does to strings */
    g_needle_len = 24;
    memcpy(g_needle, b64, g_needle_len);
    free(b64);
    core_free(c);

    g_hits = 0;
    c = new_core(seal);   /* loads the sealed state: parses the document */
    assert_int_equal(core_get_state(c), CORE_STATE_ACCEPTING_MARBLES);
    core_free(c);
    int hits = g_hits;
    g_needle_len = 0;
    print_message("blocks freed by jansson holding the root secret: %d\n", hits);
    assert_int_equal(hits, 0);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    /* before any core exists: the core installs its wiping free over this */
    json_set_alloc_funcs(malloc, scan_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_freed_wiped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
