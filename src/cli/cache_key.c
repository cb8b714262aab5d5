/* The root cache's file name for a Coordinator address (see cli.h,
 * cli_cache_key, and docs/cli.md "The root cache"). Pure: unit-tested in
 * tests/unit/cli/test_cache_key.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "client/client_internal.h"

int cli_cache_key(const char *address, char *out, size_t out_size)
{
    char *url = NULL;
    struct cairn_error err = {0};
    if (client_base_url(address, 4433, &url, &err) != 0)
        return -1;
    /* "https://host:port": the port follows the last ':' */
    const char *host = url + 8;
    const char *colon = strrchr(host, ':');
    size_t hlen = (size_t)(colon - host);
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    size_t o = 0;
    int rc = 0;
    for (size_t i = 0; i < hlen && rc == 0; i++) {
        unsigned char ch = (unsigned char)tolower((unsigned char)host[i]);
        if (isalnum(ch) || ch == '.' || ch == '-') {
            if (o + 1 >= out_size)
                rc = -1;
            else
                out[o++] = (char)ch;
        } else {
            if (o + 3 >= out_size)
                rc = -1;
            else
                o += (size_t)snprintf(out + o, out_size - o, "%%%02X", ch);
        }
    }
    if (rc == 0 && (size_t)snprintf(out + o, out_size - o, "_%s", colon + 1) >= out_size - o)
        rc = -1;
    free(url);
    return rc;
}

