/* Activating a marble from code with libcairn (what cairn-premain does, for
 * programs that want to do it themselves, e.g. to re-activate later).
 *
 *   cc activate.c $(pkg-config --cflags --libs cairn) -o activate
 *   ./activate MESH_ADDRESS MARBLE_TYPE ROOT_CA.pem [EVIDENCE]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairn/cairn.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MESH_ADDRESS MARBLE_TYPE ROOT_CA.pem [sgx|tdx|snp|tpm|sim]\n", argv[0]);
        return 2;
    }
    /* Fail closed: the root certificate is what authenticates the Coordinator.
     * Without it an impostor could hand this program its configuration, so a
     * missing, unreadable, oversized or non-PEM file stops here; never go on
     * without it. */
    static char root[65536];
    FILE *f = fopen(argv[3], "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open the Coordinator's root certificate \"%s\": %s; not activating\n", argv[3],
                strerror(errno));
        return 2;
    }
    size_t n = fread(root, 1, sizeof(root) - 1, f);
    int complete = !ferror(f) && feof(f);
    fclose(f);
    root[n] = '\0';
    if (!complete || strstr(root, "-----BEGIN CERTIFICATE-----") == NULL) {
        fprintf(stderr, "\"%s\" is not the Coordinator's root certificate (PEM, under %zu bytes); not activating\n",
                argv[3], sizeof(root) - 1);
        return 2;
    }
    if (cairn_global_init() != 0) {
        fprintf(stderr, "cannot initialise libcairn\n");
        return 1;
    }
    char uuid[37];
    cairn_uuid_generate(uuid); /* a real marble keeps its UUID across restarts */
    const char *names[] = {"localhost"};
    struct cairn_marble_config cfg = {
        .coordinator_addr = argv[1],
        .marble_type = argv[2],
        .uuid = uuid,
        .dns_names = names, .n_dns_names = 1,
        .evidence_type = argc > 4 ? argv[4] : NULL,   /* NULL: probe the TEE */
        .coordinator_root_ca_pem = root,   /* refuse any other Coordinator */
    };
    struct cairn_marble_params *p = NULL;
    int status = 0;
    char err[512];
    if (cairn_marble_activate(&cfg, &p, &status, err, sizeof(err)) != 0) {
        fprintf(stderr, "activation failed (HTTP %d): %s\n", status, err);
        return 1;
    }
    printf("activated %s as %s (%s evidence)\n", argv[2], uuid, p->evidence_type);
    for (size_t i = 0; i < p->n_files; i++)
        printf("file %s (%zu bytes)\n", p->files[i].path, p->files[i].size);
    for (size_t i = 0; i < p->n_env; i++)
        printf("env %s (%zu bytes)\n", p->env[i].path, p->env[i].size);   /* values are secrets: not printed */
    for (size_t i = 0; i < p->argc; i++)
        printf("argv[%zu] %s\n", i, p->argv[i]);
    cairn_marble_params_free(p); /* wipes the secrets */
    return 0;
}
