/* libFuzzer: the key API's three parsers (request, response, hello) on the
 * same bytes. Invariants: no crash or leak; a failure leaves the output
 * untouched; a parsed response's keyId names its key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyshare/keyshare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ks_msg m;
    struct cairn_error e = {0};
    memset(&m, 0xa5, sizeof(m));
    if (ks_msg_parse_request(data, size, &m, &e) == 0) {
        if (m.has_key)
            abort();
        ks_msg_clear(&m);
    } else if (((uint8_t *)&m)[0] != 0xa5) {
        abort();
    }
    memset(&m, 0xa5, sizeof(m));
    if (ks_msg_parse_response(data, size, &m, &e) == 0) {
        char id[17];
        ks_key_id(m.key, id);
        if (!m.has_key || strcmp(id, m.key_id) != 0)
            abort();
        ks_msg_clear(&m);
    } else if (((uint8_t *)&m)[0] != 0xa5) {
        abort();
    }
    struct ks_hello h;
    memset(&h, 0xa5, sizeof(h));
    if (ks_hello_parse(data, size, &h, &e) == 0) {
        if (h.version != 1)
            abort();
    } else if (((uint8_t *)&h)[0] != 0xa5) {
        abort();
    }
    return 0;
}
