/* libFuzzer: libcairn's handling of untrusted Coordinator answers: the JSend
 * envelope, then the activation answer and the /quote answer decoders on
 * whatever "data" it yields. */
#include <stddef.h>
#include <stdint.h>

#include "cairn/marble.h"
#include "client/client_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *d = NULL;
    struct cairn_error err;
    long status = size > 0 && (data[0] & 1) ? 403 : 200;
    if (client_jsend_parse(status, data, size, &d, &err) != 0)
        return 0;
    struct cairn_marble_params *p = NULL;
    if (client_activation_parse(d, &p, &err) == 0)
        cairn_marble_params_free(p);
    struct cairn_coordinator_certs c;
    if (client_verify_quote_data(d, NULL, 0, NULL, true, &c, &err) == 0)
        cairn_coordinator_certs_free(&c);
    json_decref(d);
    return 0;
}
