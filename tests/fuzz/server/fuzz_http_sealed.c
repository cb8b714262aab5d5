/* libFuzzer: the sealed state blobs read from the seal directory
 * (sealed_key and sealed_data, store/seal.h) and the sealed data key copies
 * read from etcd (datakey_open_blob, store/datakey.h: the 16-byte id, then
 * the value). First byte selects the parser. Invariant: success only for
 * input that authenticates (never for fuzz). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "store/datakey.h"
#include "store/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct seal *g_seal;
static char g_dir[] = "/tmp/cairn-fuzz-seal-XXXXXX";

static void cleanup(void)
{
    char p[64];
    snprintf(p, sizeof(p), "%s/sim_seal_key", g_dir);
    unlink(p);
    rmdir(g_dir);
    seal_free(g_seal);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_seal == NULL) {
        if (mkdtemp(g_dir) == NULL || seal_open(SEAL_SIM, g_dir, NULL, &g_seal, NULL) != 0)
            abort();
        atexit(cleanup);
    }
    if (size < 1)
        return 0;
    uint8_t dek[32] = {0};
    if ((data[0] & 3) == 2) {
        if (size < 1 + DATAKEY_ID_SIZE)
            return 0;
        if (datakey_open_blob(g_seal, data + 1, data + 1 + DATAKEY_ID_SIZE, size - 1 - DATAKEY_ID_SIZE, dek, NULL) ==
            0)
            abort();   /* nor a forged copy of a data key */
    } else if (data[0] & 1) {
        if (seal_unwrap(g_seal, data + 1, size - 1, dek, NULL) == 0)
            abort();   /* a forged sealed_key must never open */
    } else {
        uint8_t *doc = NULL;
        size_t dl = 0;
        if (sealed_data_open(dek, data + 1, size - 1, &doc, &dl, NULL) == 0)
            abort();   /* nor forged sealed_data under the all-zero key */
    }
    return 0;
}
