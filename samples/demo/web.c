/* demo-web: the public HTTPS frontend. Outsiders verify its certificate with
 * the deployment's root certificate (`cairn certificate root`), because the
 * Coordinator issued it. Behind it, it talks mutual TLS to the backends.
 *   GET /                  the question (from a file the manifest provides)
 *   GET /vote?choice=X     casts a vote via demo-ballot, returns the receipt
 *   GET /results           the count from demo-tally
 * DEMO_BALLOT_ADDR and DEMO_TALLY_ADDR name the backends (host:port). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_tls.h"

const char *demo_name = "web";

static SSL_CTX *g_client;
static char g_question[256] = "Vote!";

static int handle(SSL *ssl, const char *target, char *out, size_t n)
{
    (void)ssl;
    char body[8192];
    if (strcmp(target, "/") == 0)
        return snprintf(out, n, "%s\nVote with /vote?choice=NAME, see /results.\n", g_question), 200;
    if (strncmp(target, "/vote?", 6) == 0) {
        char choice[32], path[64];
        if (demo_query(target, "choice", choice, sizeof(choice)) != 0 || strspn(choice, "abcdefghijklmnopqrstuvwxyz") != strlen(choice))
            return snprintf(out, n, "choice must be a lowercase word\n"), 400;
        snprintf(path, sizeof(path), "/vote?choice=%s", choice);
        if (demo_get(g_client, getenv("DEMO_BALLOT_ADDR"), path, body, sizeof(body)) != 200)
            return snprintf(out, n, "ballot box unavailable\n"), 502;
        return snprintf(out, n, "vote for %s recorded, receipt %s", choice, body), 200;
    }
    if (strcmp(target, "/results") == 0) {
        if (demo_get(g_client, getenv("DEMO_TALLY_ADDR"), "/results", body, sizeof(body)) != 200)
            return snprintf(out, n, "tally unavailable\n"), 502;
        return snprintf(out, n, "%s", body), 200;
    }
    return snprintf(out, n, "not found\n"), 404;
}

int main(void)
{
    if (!getenv("DEMO_BALLOT_ADDR") || !getenv("DEMO_TALLY_ADDR")) {
        demo_log("DEMO_BALLOT_ADDR and DEMO_TALLY_ADDR must be set");
        return 1;
    }
    /* The manifest writes this file (Files) before the program starts. */
    FILE *f = fopen("voting/question.txt", "r");
    if (f != NULL) {
        if (fgets(g_question, sizeof(g_question), f) != NULL)
            g_question[strcspn(g_question, "\n")] = '\0';
        fclose(f);
    }
    g_client = demo_client_ctx();
    return demo_serve(demo_server_ctx(0), handle); /* public: no client certificate */
}
