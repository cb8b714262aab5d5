/* PCK certificate SGX extension value (DER) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "attest/dcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dcap_pck_info pi;
    struct cairn_error err = {0};
    if (dcap_pck_ext_parse(data, size, &pi, &err) == 0 && (pi.sgx_type < -1 || pi.sgx_type > 2))
        abort();
    return 0;
}
