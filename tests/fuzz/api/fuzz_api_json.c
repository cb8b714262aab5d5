/* libFuzzer: client API request envelopes (server/api_json.h) with every
 * field type. Invariants: no crash or leak; on failure no output is left set;
 * on success a string output is NUL-free and a bytes output has its length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/api_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name = NULL;
    uint64_t value = 0;
    struct api_jbytes b = {0};
    const json_t *obj = NULL;
    json_t *root = NULL;
    const struct api_jfield f[] = {
        {"name", API_J_STRING, &name, NULL},
        {"value", API_J_UINT64, &value, NULL},
        {"sgxQuote", API_J_BYTES, &b, NULL},
        {"secrets", API_J_OBJECT, &obj, NULL},
    };
    struct cairn_error err = {0};
    int rc = api_json_decode(data, size, f, 4, &root, &err);
    if (rc != 0) {
        if (name != NULL || b.p != NULL || obj != NULL || root != NULL || value != 0)
            abort();
    } else {
        if (name != NULL && strlen(name) > size)
            abort();
        if (obj != NULL && !json_is_object(obj))
            abort();
    }
    free(name);
    free(b.p);
    json_decref(root);
    return 0;
}
