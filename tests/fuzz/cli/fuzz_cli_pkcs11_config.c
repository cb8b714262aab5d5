/* libFuzzer: the PKCS#11 configuration parser and URI builder of the CLI
 * (src/cli/pkcs11_config.c). Any input must parse or fail cleanly; a parsed
 * configuration always has a module and one token selector. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cli/pkcs11.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cli_p11_config c;
    char err[256];
    if (cli_p11_config_parse((const char *)data, size, &c, err, sizeof(err)) != 0)
        return 0;
    if (c.module == NULL || (c.token_label == NULL && c.token_serial == NULL))
        abort();
    char *u = cli_p11_uri(&c, c.pin, c.token_label, "private");
    if (u == NULL)
        abort();
    free(u);
    cli_p11_config_free(&c);
    return 0;
}
