/* demo-ballot: the ballot box (backend). Mutual TLS only: it talks to
 * marbles of this deployment and checks which marble type is calling.
 *   GET /vote?choice=X   (from demo-web)   records a vote, returns its receipt
 *   GET /ballots         (from demo-tally) lists "<n> <choice> <receipt>" lines
 * A receipt is HMAC-SHA256(BALLOT_KEY, "<n>:<choice>"): BALLOT_KEY is a secret
 * the Coordinator generated from the manifest and handed only to the ballot
 * and tally marbles, so tally can tell real ballots from forged ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "demo_tls.h"

const char *demo_name = "ballot";

#define MAX_VOTES 1000
static char g_choice[MAX_VOTES][32];
static int g_votes;
static unsigned char g_key[64];
static size_t g_key_len;

static void receipt(int n, const char *choice, char out[65])
{
    char msg[64];
    unsigned char mac[32];
    size_t mac_len = 0;
    int len = snprintf(msg, sizeof(msg), "%d:%s", n, choice);
    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, g_key, g_key_len, (unsigned char *)msg, (size_t)len, mac,
              sizeof(mac), &mac_len);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", mac[i]);
}

static int handle(SSL *ssl, const char *target, char *out, size_t n)
{
    char caller[64];
    demo_peer_marble_type(ssl, caller, sizeof(caller));
    if (strncmp(target, "/vote?", 6) == 0) {
        char choice[32];
        if (strcmp(caller, "web") != 0)
            return snprintf(out, n, "only the web marble may cast votes\n"), 403;
        if (demo_query(target, "choice", choice, sizeof(choice)) != 0 || g_votes >= MAX_VOTES)
            return snprintf(out, n, "bad or too many votes\n"), 400;
        strcpy(g_choice[g_votes], choice);
        char r[65];
        receipt(g_votes, choice, r);
        g_votes++;
        demo_log("vote #%d for %s", g_votes, choice);
        return snprintf(out, n, "%s\n", r), 200;
    }
    if (strcmp(target, "/ballots") == 0) {
        if (strcmp(caller, "tally") != 0)
            return snprintf(out, n, "only the tally marble may read ballots\n"), 403;
        size_t off = 0;
        for (int i = 0; i < g_votes && off + 128 < n; i++) {
            char r[65];
            receipt(i, g_choice[i], r);
            off += (size_t)snprintf(out + off, n - off, "%d %s %s\n", i, g_choice[i], r);
        }
        return 200;
    }
    return snprintf(out, n, "not found\n"), 404;
}

int main(void)
{
    /* The manifest renders the secret as hex: "{{ hex .Secrets.ballot_key }}". */
    const char *hex = getenv("BALLOT_KEY");
    if (hex == NULL || strlen(hex) % 2 != 0 || strlen(hex) / 2 > sizeof(g_key)) {
        demo_log("BALLOT_KEY missing or malformed (it comes from the manifest)");
        return 1;
    }
    for (g_key_len = 0; g_key_len < strlen(hex) / 2; g_key_len++)
        sscanf(hex + 2 * g_key_len, "%2hhx", &g_key[g_key_len]);
    return demo_serve(demo_server_ctx(1), handle);
}
