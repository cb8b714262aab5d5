/* fuzz_gov: the governance parsers of untrusted or stored bytes.
 * First byte odd: the recovery data (gov_recovery_meta_parse); invariants:
 * output only on success, and an accepted document is consistent (mode and
 * threshold fit the number of keys, every share is 64 hex characters).
 * First byte even: the "governance" member of a state document applied to a
 * fresh snapshot (gov_snap_loaded); invariants: on success s->gov equals the
 * input and every override names a package whose SVN now equals it; on
 * failure s->gov stays NULL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "core/governance.h"

static const char *manifest_json =
    "{\"Packages\": {\"a\": {\"SignerID\": \"11\", \"SecurityVersion\": 1}, \"b\": {\"UniqueID\": \"22\"}},"
    " \"Marbles\": {\"m\": {\"Package\": \"a\"}}}";

static void meta(const uint8_t *d, size_t n)
{
    json_t *m = NULL;
    struct cairn_error e = {0};
    if (gov_recovery_meta_parse(d, n, &m, &e) != 0) {
        if (m != NULL || e.msg[0] == '\0')
            abort();
        return;
    }
    const char *mode = json_string_value(json_object_get(m, "mode"));
    json_int_t t = json_integer_value(json_object_get(m, "threshold"));
    size_t k = json_object_size(json_object_get(m, "keys"));
    if (mode == NULL || k == 0 || t < 1 || (size_t)t > k)
        abort();
    if (strcmp(mode, "xor") == 0 && (size_t)t != k)
        abort();
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(m, "keys"), name, v) {
        const char *sh = json_string_value(json_object_get(v, "share"));
        if (sh == NULL || strlen(sh) != 64)
            abort();
    }
    json_decref(m);
}

static void gov(const uint8_t *d, size_t n)
{
    json_t *j = json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, NULL);
    if (j == NULL)
        return;
    struct core_snap *s = core_snap_alloc();
    if (s == NULL || manifest_parse((const uint8_t *)manifest_json, strlen(manifest_json), &s->manifest, NULL) != 0)
        abort();
    if (gov_snap_loaded(s, j, NULL) == 0) {
        if (!json_is_null(j) && !json_equal(s->gov, j))
            abort();
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(j, "packageSVN"), k, v) {
            const struct manifest_package *p = manifest_find_package(s->manifest, k);
            if (p == NULL || !p->pkg.has_security_version || p->pkg.security_version != (uint64_t)json_integer_value(v))
                abort();
        }
    } else if (s->gov != NULL) {
        abort();
    }
    core_snap_put(s);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        meta(data + 1, size - 1);
    else
        gov(data + 1, size - 1);
    return 0;
}
