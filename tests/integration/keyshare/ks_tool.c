/* A key API requester for tests, in simulation (no Coordinator around it):
 *   ks_tool PEER EXE [--claim FILE] [--wrong-binding] [--replay]
 * EXE is the Coordinator build whose identity a genuine requester claims
 * (the holder's own binary); --claim FILE claims the hash of another file;
 * --wrong-binding binds a random certificate hash; --replay runs a genuine
 * exchange, then sends its request body again on a new connection with the
 * same certificate and key. Prints "OK <key id>" (exit 0) or
 * "REFUSED <reason>" (exit 1); usage errors exit 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "keyshare/keyshare.h"

static int issue(void *ctx, const uint8_t rd[64], json_t *out, struct cairn_error *err)
{
    (void)ctx;
    struct attest_issued iss;
    int rc = attest_issue(ATTEST_SIM, rd, NULL, &iss, err);
    if (rc == 0) {
        rc = attest_evidence_to_json(&iss, out);
        attest_issued_free(&iss);
    }
    return rc;
}

static int verify(void *ctx, const struct attest_evidence *ev, const uint8_t rd[32], struct attest_claims *out,
                  struct cairn_error *err)
{
    (void)ctx;
    struct attest_trust t;
    memset(&t, 0, sizeof(t));
    return attest_verify(ev, &t, rd, 32, out, err);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ks_tool PEER EXE [--claim FILE] [--wrong-binding] [--replay]\n");
        return 2;
    }
    const char *peer = argv[1], *claim = NULL;
    bool wrong = false, replay = false;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--claim") == 0 && i + 1 < argc)
            claim = argv[++i];
        else if (strcmp(argv[i], "--wrong-binding") == 0)
            wrong = true;
        else if (strcmp(argv[i], "--replay") == 0)
            replay = true;
        else {
            fprintf(stderr, "ks_tool: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct ks_ops ops = {.ctx = NULL, .tee = ATTEST_SIM, .issue = issue, .verify = verify};
    struct ks_identity own, other;
    struct cairn_error e = {0};
    if (ks_identity_sim(argv[2], &own, &e) != 0 || (claim != NULL && ks_identity_sim(claim, &other, &e) != 0)) {
        fprintf(stderr, "ks_tool: %s\n", cairn_error_msg(&e));
        return 2;
    }
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    if (ks_ephemeral_cert("ks_tool", &cert, &key, &e) != 0) {
        fprintf(stderr, "ks_tool: %s\n", cairn_error_msg(&e));
        return 2;
    }
    char *body = NULL;
    struct ks_tamper t = {.wrong_binding = wrong, .sim_identity = claim != NULL ? other.sim_identity : NULL,
                          .out_body = &body, .cert = cert, .key = key};
    uint8_t k[KS_KEY_SIZE];
    int rc = ks_fetch_one(&ops, &own, peer, NULL, 0, 10000, &t, k, &e);
    if (rc == 0 && replay) {
        char kid[17];
        ks_key_id(k, kid);
        printf("FIRST OK %s\n", kid);
        struct ks_tamper t2 = {.replay_body = body, .cert = cert, .key = key};
        memset(&e, 0, sizeof(e));
        rc = ks_fetch_one(&ops, &own, peer, NULL, 0, 10000, &t2, k, &e);
    }
    free(body);
    X509_free(cert);
    EVP_PKEY_free(key);
    ks_identity_clear(&own);
    if (rc != 0) {
        printf("REFUSED %s\n", cairn_error_msg(&e));
        return 1;
    }
    char kid[17];
    ks_key_id(k, kid);
    printf("OK %s\n", kid);
    return 0;
}
