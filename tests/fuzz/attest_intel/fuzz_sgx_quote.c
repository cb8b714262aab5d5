/* SGX DCAP quote v3 (with or without the OE header) on arbitrary bytes. */
#include "fuzz_quote_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quote(data, size, DCAP_TEE_SGX, ATTEST_SGX);
    return 0;
}
