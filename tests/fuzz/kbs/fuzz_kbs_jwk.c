/* The guest's tee-pubkey (JWK) on arbitrary bytes: cc_jwk_tee_parse either
 * refuses or gives a canonical key that cc_jwe_encrypt can encrypt to (the
 * invariant: an accepted key never fails encryption). */
#include <stdlib.h>

#include "crypto/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    json_t *canon = NULL;
    if (j != NULL && cc_jwk_tee_parse(j, &canon, NULL) == 0) {
        char *out = NULL;
        if (cc_jwe_encrypt(canon, data, size < 64 ? size : 64, &out, NULL) != 0)
            abort();
        free(out);
        json_decref(canon);
    }
    json_decref(j);
    return 0;
}
