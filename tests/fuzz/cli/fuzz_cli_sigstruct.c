/* libFuzzer: package-info parsers (bare SIGSTRUCT and enclave ELF). */
#include <stddef.h>
#include <stdint.h>

#include "cli/sigstruct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sgx_package_info info;
    struct cairn_error err;
    (void)sigstruct_from_file_bytes(data, size, &info, NULL, &err);
    (void)sigstruct_parse(data, size, &info, &err);
    return 0;
}
