/* Helpers shared by the manifest unit tests (header-only, static). */
#ifndef CAIRN_TEST_MANIFEST_UTIL_H
#define CAIRN_TEST_MANIFEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"

/* Parses `json` and fails the test on error. */
static inline struct manifest *parse_ok(const char *json)
{
    struct manifest *m = NULL;
    struct cairn_error e = {0};
    int rc = manifest_parse((const uint8_t *)json, strlen(json), &m, &e);
    if (rc != 0)
        fail_msg("parse failed: %s\n%s", e.msg, json);
    return m;
}

/* Expects manifest_parse to fail with a message containing `needle`. */
static inline void parse_fails(const char *json, const char *needle)
{
    struct manifest *m = (struct manifest *)0x1;
    struct cairn_error e = {0};
    int rc = manifest_parse((const uint8_t *)json, strlen(json), &m, &e);
    if (rc == 0)
        fail_msg("parse unexpectedly succeeded: %s", json);
    assert_ptr_equal(m, (struct manifest *)0x1); /* out untouched */
    if (strstr(e.msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, needle);
}

#endif
