/* A bearer token on arbitrary bytes: cc_jwt_decode and the ES256 check with
 * a fixed key never crash; a token the key did not sign never verifies. */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static EVP_PKEY *key;
    if (key == NULL && cc_key_generate(CC_KEY_EC_P256, 0, &key, NULL) != 0)
        abort();
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    json_t *h = NULL, *c = NULL;
    if (cc_jwt_decode(s, size, &h, &c, NULL) == 0) {
        json_decref(h);
        json_decref(c);
    }
    if (cc_jwt_verify_sig(s, size, key, NULL) == 0)
        abort();   /* the fuzzer cannot forge ES256 with a key made here */
    free(s);
    return 0;
}
