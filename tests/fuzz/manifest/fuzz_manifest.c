/* libFuzzer: manifest_parse + manifest_check + manifest_dry_run, and the YAML
 * converter on the same bytes. Invariants: a failure leaves *out untouched and
 * gives a message; a parsed manifest survives check and dry run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct manifest *m = NULL;
    struct cairn_error e = {0};
    if (manifest_parse(data, size, &m, &e) == 0) {
        if (manifest_check(m, &e) == 0 && manifest_dry_run(m, NULL, &e) != 0 && e.msg[0] == '\0')
            abort();
        manifest_is_update_manifest(m);
        manifest_free(m);
    } else if (m != NULL || e.msg[0] == '\0') {
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
