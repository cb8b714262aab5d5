/* Using libcairn from C: verify a Coordinator, then ask for its status and
 * manifest fingerprint over TLS pinned to the verified root.
 *
 *   cc coordinator-status.c $(pkg-config --cflags --libs cairn) -o coordinator-status
 *   ./coordinator-status localhost:4433 coordinator-policy.json
 *   ./coordinator-status localhost:4433 --insecure      # simulated Coordinator only
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairn/cairn.h>

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 256 * 1024 + 1);
    size_t n = buf ? fread(buf, 1, 256 * 1024, f) : 0;
    fclose(f);
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDRESS POLICY.json|--insecure\n", argv[0]);
        return 2;
    }
    cairn_global_init(); /* once, before any threads */
    struct cairn_client_config cfg = {.address = argv[1]};
    struct cairn_client *c = NULL;
    if (cairn_client_new(&cfg, &c) != 0) {
        fprintf(stderr, "bad address %s\n", argv[1]);
        return 1;
    }
    /* 1. Verify: the evidence must match the policy (or trust on first use). */
    struct cairn_verify_config v = {0};
    char *policy = NULL;
    if (strcmp(argv[2], "--insecure") == 0) {
        v.insecure = 1;
    } else if ((policy = read_file(argv[2])) != NULL) {
        v.policy_json = policy;
    } else {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 1;
    }
    struct cairn_coordinator_certs certs;
    int rc = cairn_coordinator_verify(c, &v, &certs);
    free(policy);
    if (rc != 0) {
        fprintf(stderr, "verification failed: %s (%s)\n", cairn_client_last_error(c), cairn_strerror(rc));
        cairn_client_free(c);
        return 1;
    }
    printf("verified: %s (evidence %s)\n", certs.verified ? "yes" : "NO, insecure", certs.tee);

    /* 2. Every later call trusts exactly certs.root_pem. */
    int code = 0;
    char *msg = NULL;
    if ((rc = cairn_status_get(c, &code, &msg)) == 0) {
        printf("status: %d: %s\n", code, msg);
        cairn_free(msg);
    }
    struct cairn_manifest_info m;
    if (rc == 0 && cairn_manifest_get(c, &m) == 0) {
        printf("manifest: %s (%zu bytes)\n", m.fingerprint_hex, m.manifest_size);
        cairn_manifest_info_free(&m);
    } else if (rc == 0) {
        printf("manifest: none (%s)\n", cairn_client_last_error(c));
    }
    if (rc != 0)
        fprintf(stderr, "status failed: %s\n", cairn_client_last_error(c));
    cairn_coordinator_certs_free(&certs);
    cairn_client_free(c);
    return rc == 0 ? 0 : 1;
}
