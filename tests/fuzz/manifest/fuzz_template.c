/* libFuzzer: render one template (first byte picks File or Env) with a fixed
 * set of secrets of every type. Invariants: failure leaves the outputs
 * untouched with a message; Env output never contains NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct manifest_secret_set *g_set;
static struct manifest_secret_value g_res;

static void put(const char *name, enum manifest_secret_type t, const char *cert, const char *pub)
{
    struct manifest_secret_value v = {.name = (char *)name, .type = t};
    if (cert) {
        v.cert = (uint8_t *)cert;
        v.cert_len = strlen(cert);
    }
    if (pub) {
        v.public_key = v.private_key = (uint8_t *)pub;
        v.public_len = v.private_len = strlen(pub);
    }
    if (manifest_secret_set_put(g_set, &v) != 0)
        abort();
}

static void init(void)
{
    g_set = manifest_secret_set_new();
    put("k", MANIFEST_SECRET_SYMMETRIC_KEY, NULL, "0123456789abcdef");
    put("c", MANIFEST_SECRET_CERT_ECDSA, "DER", "SPKI");
    put("p", MANIFEST_SECRET_PLAIN, NULL, "plain text");
    put("e", MANIFEST_SECRET_SYMMETRIC_KEY, NULL, NULL);
    put("with-dash", MANIFEST_SECRET_CERT_RSA, "X", "Y");
    g_res = (struct manifest_secret_value){.cert = (uint8_t *)"R", .cert_len = 1};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_set == NULL)
        init();
    if (size < 1)
        return 0;
    enum manifest_template_target t = (data[0] & 1) ? MANIFEST_TEMPLATE_ENV : MANIFEST_TEMPLATE_FILE;
    struct manifest_template_data d = {.secrets = g_set, .previous = g_set, .root_ca = &g_res,
                                       .marble_cert = &g_res, .coordinator_root = &g_res};
    uint8_t *out = (uint8_t *)1;
    size_t n = 7;
    struct cairn_error e = {0};
    if (manifest_template_render(data + 1, size - 1, t, &d, &out, &n, &e) == 0) {
        if (out[n] != 0 || (t == MANIFEST_TEMPLATE_ENV && memchr(out, 0, n) != NULL))
            abort();
        free(out);
    } else if (out != (uint8_t *)1 || n != 7 || e.msg[0] == '\0') {
        abort();
    }
    return 0;
}
