/* libFuzzer: a replica's sealed memory of accepted etcd values (store/hwm.h):
 * the file container and the JSON inside it. Whoever has the disk can
 * replace the file; the seal authenticates it, the parsers must still
 * refuse or accept completely and never crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "store/hwm.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    const uint8_t *w, *sd;
    size_t wl, sdl;
    (void)hwm_blob_split(p, n, &w, &wl, &sd, &sdl, NULL);
    struct hwm m;
    if (hwm_parse(p, n, "/cairn/", &m, NULL) == 0) {
        /* what parsed must serialise and parse to the same */
        char *js = NULL;
        size_t jl = 0;
        if (hwm_to_json(&m, "/cairn/", &js, &jl) == 0) {
            struct hwm r;
            if (hwm_parse((const uint8_t *)js, jl, "/cairn/", &r, NULL) != 0 || r.gen != m.gen)
                __builtin_trap();
            hwm_clear(&r);
        }
        free(js);
        hwm_clear(&m);
    }
    return 0;
}
