/* libFuzzer: an untrusted activation request body against a simulation-mode
 * core with a manifest set (the mesh API's parser and checks, DESIGN §7).
 * Invariant: a refusal never returns data; an acceptance always does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "core/core.h"
#include "marble_sim.h"

static struct core *g_core;
static X509 *g_peer;

static const char k_manifest[] =
    "{\"Packages\":{\"pkg\":{\"Debug\":true,\"UniqueID\":\"00\"}},"
    "\"Marbles\":{\"web\":{\"Package\":\"pkg\",\"MaxActivations\":1000000,"
    "\"Parameters\":{\"Files\":{\"/k\":\"{{ hex .Secrets.k }}\"}}}},"
    "\"Secrets\":{\"k\":{\"Type\":\"symmetric-key\",\"Size\":128}}}";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct core_config cfg = {.simulation = true, .memory_only = true, .leaf_key_pool = 0};
    if (core_new(&cfg, &g_core, NULL) != 0)
        abort();
    json_t *rec = NULL;
    if (core_manifest_set(g_core, (const uint8_t *)k_manifest, strlen(k_manifest), &rec, NULL) != 0)
        abort();
    json_decref(rec);
    /* the peer of every input: the identity whose evidence the seed corpus carries
     * is unknown here, so binding failures are expected; parsing is what is fuzzed */
    struct marble_sim m;
    if (marble_sim_new("web", NULL, MARBLE_SIM_OK, &m) != 0)
        abort();
    BIO *b = BIO_new_mem_buf(m.cert_pem, -1);
    g_peer = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    marble_sim_free(&m);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *d = NULL;
    struct cairn_error e = {0};
    enum core_refusal r = core_activate(g_core, data, size, g_peer, &d, &e);
    if ((r == CORE_OK) != (d != NULL))
        abort();
    if (r != CORE_OK && e.msg[0] == '\0')
        abort();
    json_decref(d);
    return 0;
}
