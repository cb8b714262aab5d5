/* cairn status <address>: the Coordinator's state code and message, trusting
 * the cached root certificate as MarbleRun's `status` does (no policy flag
 * needed). A Coordinator in recovery mode presents a temporary root: query it
 * with -i or --coordinator-policy, which never write the cache. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

static int run_status(struct cli_ctx *ctx)
{
    struct cairn_client *c = NULL;
    int rc = cli_connect_cached(ctx, ctx->args.pos[0], &c, NULL);
    if (rc != 0)
        return rc;
    int code = 0;
    char *msg = NULL;
    struct cairn_replication r;
    /* One request for both parts (they describe the same answer). Replicas
     * on etcd (issue 9): which replicas the answering one sees and whether it
     * reaches etcd. Nothing more is printed for a single Coordinator, so the
     * first line stays MarbleRun's output. */
    rc = cairn_status_get_all(c, &code, &msg, &r);
    if (rc != 0) {
        rc = cli_fail_client(rc, "retrieving Coordinator status", cairn_client_last_error(c));
        cairn_client_free(c);
        return rc;
    }
    printf("%d: %s\n", code, msg);
    cairn_free(msg);
    if (r.replicated) {
        printf("replicas on etcd: %zu, state revision %lld, etcd %s%s%s\n", r.n_replicas, r.state_revision,
               r.etcd_available ? "reachable" : "UNREACHABLE (writes and activations refused)",
               r.etcd_error ? ": " : "", r.etcd_error ? r.etcd_error : "");
        for (size_t i = 0; i < r.n_replicas; i++)
            printf("  %s  client %s  mesh %s%s\n", r.replicas[i].id, r.replicas[i].client_addr,
                   r.replicas[i].mesh_addr, r.replicas[i].self ? "  (answered)" : "");
    }
    cairn_status_replication_free(&r);
    cairn_client_free(c);
    return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_status = {
    .name = "status", .example = "cairn status localhost:4433",
    .summary = "show the Coordinator's state",
    .usage = "<address>",
    .help = "Prints \"<code>: <message>\". States: 1 recovery, 2 accepting a manifest, 3 accepting marbles.\n"
            "Replicas on etcd add one line with the etcd connection and one line per replica.\n"
            "Trusts the root certificate cached for the address (by manifest set/verify); -i or\n"
            "--coordinator-policy query without the cache (and never change it), e.g. in recovery mode.",
    .min_args = 1, .max_args = 1,
    .run = run_status,
};
