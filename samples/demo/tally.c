/* demo-tally: counts the votes (backend). Mutual TLS both ways: it serves
 * the web marble and fetches the ballots from the ballot marble.
 *   GET /results   fetches /ballots, checks every receipt with BALLOT_KEY,
 *                  and answers "<choice>: <count>" lines.
 * DEMO_BALLOT_ADDR names the ballot service (host:port). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "demo_tls.h"

const char *demo_name = "tally";

static unsigned char g_key[64];
static size_t g_key_len;
static SSL_CTX *g_client;

static int valid_receipt(int i, const char *choice, const char *hex)
{
    char msg[64], mine[65];
    unsigned char mac[32];
    size_t mac_len = 0;
    int len = snprintf(msg, sizeof(msg), "%d:%s", i, choice);
    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, g_key, g_key_len, (unsigned char *)msg, (size_t)len, mac,
              sizeof(mac), &mac_len);
    for (int k = 0; k < 32; k++)
        sprintf(mine + 2 * k, "%02x", mac[k]);
    return strlen(hex) == 64 && CRYPTO_memcmp(mine, hex, 64) == 0;
}

static int handle(SSL *ssl, const char *target, char *out, size_t n)
{
    char caller[64];
    demo_peer_marble_type(ssl, caller, sizeof(caller));
    if (strcmp(target, "/results") != 0)
        return snprintf(out, n, "not found\n"), 404;
    if (strcmp(caller, "web") != 0)
        return snprintf(out, n, "only the web marble may ask for results\n"), 403;
    char ballots[8192];
    if (demo_get(g_client, getenv("DEMO_BALLOT_ADDR"), "/ballots", ballots, sizeof(ballots)) != 200)
        return snprintf(out, n, "ballot box unreachable\n"), 502;
    char names[32][32];
    int counts[32] = {0}, kinds = 0, forged = 0;
    for (char *save = NULL, *line = strtok_r(ballots, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int i;
        char choice[32], r[80];
        if (sscanf(line, "%d %31s %79s", &i, choice, r) != 3 || !valid_receipt(i, choice, r)) {
            forged++;
            continue;
        }
        int k = 0;
        while (k < kinds && strcmp(names[k], choice) != 0)
            k++;
        if (k == kinds && kinds < 32)
            strcpy(names[kinds++], choice);
        if (k < 32)
            counts[k]++;
    }
    size_t off = 0;
    for (int k = 0; k < kinds; k++)
        off += (size_t)snprintf(out + off, n - off, "%s: %d\n", names[k], counts[k]);
    if (forged)
        snprintf(out + off, n - off, "rejected forged ballots: %d\n", forged);
    return 200;
}

int main(void)
{
    const char *hex = getenv("BALLOT_KEY");
    if (hex == NULL || strlen(hex) % 2 != 0 || strlen(hex) / 2 > sizeof(g_key) || !getenv("DEMO_BALLOT_ADDR")) {
        demo_log("BALLOT_KEY (from the manifest) and DEMO_BALLOT_ADDR must be set");
        return 1;
    }
    for (g_key_len = 0; g_key_len < strlen(hex) / 2; g_key_len++)
        sscanf(hex + 2 * g_key_len, "%2hhx", &g_key[g_key_len]);
    g_client = demo_client_ctx();
    return demo_serve(demo_server_ctx(1), handle);
}
