/* libFuzzer: untrusted gRPC bytes through the activation wire (src/rpc).
 * The first byte picks the decoder:
 *   even: the rest is a framed request (5-byte prefix + ActivationReq) as the
 *         Coordinator receives it: prefix check against the mesh cap, protobuf
 *         decoding into the JSON wire form, then core_activate_with on a
 *         simulation-mode core with a manifest (the whole server path);
 *   odd:  the rest is an ActivationResp as libcairn receives it.
 * Invariants: a refusal never returns data and always says why; what decodes
 * re-encodes and decodes again to the same JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "core/core.h"
#include "marble_sim.h"
#include "rpc/grpc_wire.h"

static struct core *g_core;
static X509 *g_peer;

static const char k_manifest[] =
    "{\"Packages\":{\"pkg\":{\"Debug\":true,\"UniqueID\":\"00\"}},"
    "\"Marbles\":{\"web\":{\"Package\":\"pkg\",\"MaxActivations\":1000000,"
    "\"Parameters\":{\"Files\":{\"/k\":\"{{ hex .Secrets.k }}\"},\"Argv\":[\"a\"]}}},"
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
    struct cairn_error e = {0};
    if (core_manifest_set(g_core, (const uint8_t *)k_manifest, strlen(k_manifest), &rec, &e) != 0) {
        fprintf(stderr, "fuzz_grpc_activate: manifest: %s\n", cairn_error_msg(&e));
        abort();
    }
    json_decref(rec);
    struct marble_sim m;
    if (marble_sim_new("web", NULL, MARBLE_SIM_OK, &m) != 0)
        abort();
    BIO *b = BIO_new_mem_buf(m.cert_pem, -1);
    g_peer = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    marble_sim_free(&m);
    return 0;
}

struct in {
    const uint8_t *p;
    size_t n;
};

static enum core_refusal decode(void *arg, json_t **out, struct cairn_error *err)
{
    const struct in *in = arg;
    int rc = grpc_activation_req_to_json(in->p, in->n, out, err);
    if (rc != 0 && (*out != NULL || err->msg[0] == '\0'))
        abort();
    return rc == 0 ? CORE_OK : CORE_BAD_REQUEST;
}

static void request(const uint8_t *data, size_t size)
{
    if (size < GRPC_PREFIX_LEN)
        return;
    size_t len = 0;
    struct cairn_error pe = {0};
    if (grpc_prefix_parse(data, 4u << 20, &len, &pe) != 0 || len > size - GRPC_PREFIX_LEN)
        return;
    struct in in = {data + GRPC_PREFIX_LEN, len};
    /* decode -> encode -> decode: the same request */
    json_t *j = NULL;
    struct cairn_error e = {0};
    if (grpc_activation_req_to_json(in.p, in.n, &j, &e) == 0 && json_is_string(json_object_get(j, "marbleType")) &&
        json_is_string(json_object_get(j, "uuid"))) {
        uint8_t *b = NULL;
        size_t bn = 0;
        json_t *k = NULL;
        if (grpc_activation_req_from_json(j, &b, &bn, &e) != 0 ||
            grpc_activation_req_to_json(b + GRPC_PREFIX_LEN, bn - GRPC_PREFIX_LEN, &k, &e) != 0 || !json_equal(j, k))
            abort();
        free(b);
        json_decref(k);
    }
    json_decref(j);
    json_t *d = NULL;
    struct cairn_error ae = {0};
    enum core_refusal r = core_activate_with(g_core, decode, &in, g_peer, &d, &ae);
    if ((r == CORE_OK) != (d != NULL) || (r != CORE_OK && ae.msg[0] == '\0'))
        abort();
    if (d != NULL) {
        uint8_t *b = NULL;
        size_t bn = 0;
        if (grpc_activation_resp_from_json(d, &b, &bn, &ae) != 0)
            abort();
        grpc_free_secret(b, bn);
    }
    json_decref(d);
}

static void response(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    struct cairn_error e = {0};
    int rc = grpc_activation_resp_to_json(data, size, &j, &e);
    if (rc != 0) {
        if (j != NULL || e.msg[0] == '\0')
            abort();
        return;
    }
    uint8_t *b = NULL;
    size_t bn = 0;
    json_t *k = NULL;
    if (grpc_activation_resp_from_json(j, &b, &bn, &e) != 0 ||
        grpc_activation_resp_to_json(b + GRPC_PREFIX_LEN, bn - GRPC_PREFIX_LEN, &k, &e) != 0 || !json_equal(j, k))
        abort();
    grpc_free_secret(b, bn);
    json_decref(k);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        response(data + 1, size - 1);
    else
        request(data + 1, size - 1);
    return 0;
}
