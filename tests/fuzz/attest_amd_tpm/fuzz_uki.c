/* UKI PE parser (and hashing of what it found) on arbitrary bytes; the same
 * bytes as a tpm2-pcr-signature.json for the signed-policy checker. */
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "attest/uki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static EVP_PKEY *key;
    if (key == NULL)
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct uki_pe pe;
    struct cairn_error err = {0};
    if (uki_pe_parse(data, size, &pe, &err) == 0) {
        /* bound the zero fill a mutated VirtualSize may ask for */
        uint64_t total = 0;
        for (int s = 0; s < UKI_N_SECTIONS; s++)
            total += pe.found[s] ? pe.sec[s].zero_fill : 0;
        static struct uki_digests d;
        if (total < (1u << 20))
            (void)uki_digests_from_pe(&pe, &d, &err);
    }
    uint8_t v[32] = {0};
    (void)uki_pcrsig_check(data, size, key, UKI_BANK_SHA256, v, sizeof(v), &err);
    return 0;
}
