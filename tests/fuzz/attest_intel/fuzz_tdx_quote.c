/* TDX quote v4/v5 on arbitrary bytes (trailing bytes allowed). */
#include "fuzz_quote_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quote(data, size, DCAP_TEE_TDX, ATTEST_TDX);
    return 0;
}
