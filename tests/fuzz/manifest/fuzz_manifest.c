/* libFuzzer: manifest_parse + manifest_check + manifest_dry_run, the
 * unknown-field report (manifest_parse_ex), and the YAML converter and the
 * JSON-or-YAML rule (manifest_file_to_upload) on the same bytes. Invariants: a
 * failure leaves *out untouched and gives a message; a parsed manifest
 * survives check and dry run; manifest_parse_ex agrees with manifest_parse and
 * reports only non-empty, NUL-terminated paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_unknown(void *ctx, const char *path, const char *suggestion)
{
    size_t *n = ctx;
    if (path == NULL || path[0] == '\0' || strlen(path) > 4096 || (suggestion != NULL && suggestion[0] == '\0'))
        abort();
    (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct manifest *m = NULL;
    struct cairn_error e = {0};
    int rp = manifest_parse(data, size, &m, &e);
    if (rp == 0) {
        if (manifest_check(m, &e) == 0 && manifest_dry_run(m, NULL, &e) != 0 && e.msg[0] == '\0')
            abort();
        manifest_is_update_manifest(m);
        manifest_free(m);
    } else if (m != NULL || e.msg[0] == '\0') {
        abort();
    }
    struct manifest *x = NULL;
    size_t n_unknown = 0;
    int rx = manifest_parse_ex(data, size, on_unknown, &n_unknown, &x, &e);
    if ((rp == 0) != (rx == 0) || (rx == 0) != (x != NULL) || (rx != 0 && n_unknown != 0))
        abort();
    manifest_free(x);
    uint8_t *up = NULL;
    size_t up_len = 0;
    if (manifest_file_to_upload(data, size, &up, &up_len, &e) == 0) {
        if (up == NULL || up[up_len] != '\0')
            abort();
        free(up);
    } else if (up != NULL) {
        abort();
    }
    char *json = NULL;
    if (manifest_yaml_to_json((const char *)data, size, &json, &e) == 0) {
        /* the converter's output is JSON the parser must read */
        struct manifest *y = NULL;
        if (manifest_parse((const uint8_t *)json, strlen(json), &y, &e) == 0)
            manifest_free(y);
        free(json);
    } else if (json != NULL) {
        abort();
    }
    return 0;
}
