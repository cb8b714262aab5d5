/* cairn recover and recover-with-signature (+ public-key, encrypt-secret,
 * sign-secret for offline or air-gapped recovery), inventory §4, §5.
 *
 * A recovery secret file is what `manifest set -r` returned for one key,
 * base64-decoded (RSA-OAEP ciphertext); base64 text is accepted as well.
 * It is decrypted with the recovery private key unless it already is a plain
 * secret (16, 32 or 33 bytes), and the plain secret is signed with the same
 * key (RSA PKCS#1 v1.5, SHA-256), as MarbleRun's CLI does.
 *
 * In state 1 the Coordinator serves a temporary root certificate, so these
 * commands verify it (policy or --insecure) without the root cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/pkcs11.h"
#include "common/encoding.h"
#include "crypto/crypto.h"

#define KEY_FILE_MAX (64 * 1024)
#define SECRET_FILE_MAX (16 * 1024)

static const struct cli_flag recover_flags[] = {
    {"key", 'k', true, "FILE", "the recovery private key (PEM, RSA)"},
    CLI_PKCS11_KEY_FLAGS,
    {NULL, 0, false, NULL, NULL},
};
static const struct cli_flag rws_flags[] = {
    {"signature", 's', true, "FILE", "the secret's signature (from sign-secret)"},
    {"key", 'k', true, "FILE", "encrypt-secret/sign-secret: the recovery private key (PEM, RSA)"},
    {"coordinator-pub-key", 0, true, "FILE", "encrypt-secret: the Coordinator's ephemeral key (from public-key)"},
    {"output", 'o', true, "FILE", "public-key/encrypt-secret/sign-secret: output file (default stdout)"},
    CLI_PKCS11_KEY_FLAGS,
    {NULL, 0, false, NULL, NULL},
};

static bool plain_len(size_t n)
{
    return n == 16 || n == 32 || n == 33;
}

/* Whether the recovery key is a PKCS#11 token's (set by load_key). */
static bool g_key_in_token;

/* The recovery key: -k FILE (PEM), or --pkcs11-config with
 * --pkcs11-key-id/-label (RSA-OAEP decryption and PKCS#1 v1.5 signing then
 * run in the token). */
static int load_key(struct cli_ctx *ctx, EVP_PKEY **out)
{
    const char *path = cli_args_get(&ctx->args, "key");
    if (cli_args_has(&ctx->args, "pkcs11-config")) {
        if (path != NULL)
            return cli_fail("%s: --pkcs11-config and -k exclude each other", ctx->path);
        if (cli_pkcs11_identity(ctx, false, out, NULL) != 0)
            return CLI_EXIT_FAIL;
        g_key_in_token = true;
        if (EVP_PKEY_get_base_id(*out) != EVP_PKEY_RSA) {
            EVP_PKEY_free(*out);
            return cli_fail("the PKCS#11 key is not an RSA key; recovery keys are RSA");
        }
        return 0;
    }
    if (path == NULL)
        return cli_fail("the recovery private key is required: pass -k KEY.pem (or --pkcs11-config FILE with "
                        "--pkcs11-key-id|label)");
    uint8_t *d = NULL;
    size_t n = 0;
    if (cli_read_file("recovery key", path, KEY_FILE_MAX, &d, &n) != 0)
        return CLI_EXIT_FAIL;
    struct cairn_error e = {0};
    int rc = cc_key_from_pem((const char *)d, n, out, &e);
    cc_free_secret(d, n);
    if (rc != 0)
        return cli_fail("\"%s\" is not a PEM private key: %s", path, cairn_error_msg(&e));
    if (EVP_PKEY_get_base_id(*out) != EVP_PKEY_RSA) {
        EVP_PKEY_free(*out);
        return cli_fail("\"%s\" is not an RSA key; recovery keys are RSA", path);
    }
    return 0;
}

/* The secret file's bytes (base64 text decoded when it is that). */
static int read_secret_file(const char *path, uint8_t **out, size_t *out_len)
{
    uint8_t *d = NULL;
    size_t n = 0;
    if (cli_read_file("recovery secret", path, SECRET_FILE_MAX, &d, &n) != 0)
        return CLI_EXIT_FAIL;
    size_t t = n;
    while (t > 0 && (d[t - 1] == '\n' || d[t - 1] == '\r' || d[t - 1] == ' '))
        t--;
    uint8_t *dec = NULL;
    size_t dn = 0;
    if (!plain_len(n) && t >= 20 && cairn_base64_decode((const char *)d, t, &dec, &dn) == 0 && dn >= 128) {
        cc_free_secret(d, n);
        *out = dec;
        *out_len = dn;
        return 0;
    }
    free(dec);
    *out = d;
    *out_len = n;
    return 0;
}

/* The plain recovery secret: the file, decrypted with `key` unless plain. */
static int plain_secret(const char *path, EVP_PKEY *key, uint8_t **out, size_t *out_len)
{
    uint8_t *d = NULL;
    size_t n = 0;
    if (read_secret_file(path, &d, &n) != 0)
        return CLI_EXIT_FAIL;
    if (plain_len(n)) {
        *out = d;
        *out_len = n;
        return 0;
    }
    uint8_t *pt = NULL;
    size_t pl = 0;
    /* a token's key needs the EVP_MD form of the OAEP settings */
    int rc = g_key_in_token ? cli_p11_rsa_oaep_decrypt(key, d, n, &pt, &pl) : cc_rsa_oaep_decrypt(key, d, n, &pt, &pl);
    free(d);
    if (rc != 0)
        return cli_fail("cannot decrypt the recovery secret \"%s\" with this key (RSA-OAEP SHA-256); check that "
                        "it is this key's secret from the recovery data",
                        path);
    *out = pt;
    *out_len = pl;
    return 0;
}

/* cli_connect never touches the root cache: the state-1 root is temporary. */
static int connect_recovery(struct cli_ctx *ctx, const char *address, struct cairn_client **out)
{
    return cli_connect(ctx, address, out, NULL);
}

static int send_recover(struct cli_ctx *ctx, const char *address, const uint8_t *secret, size_t secret_len,
                        const uint8_t *sig, size_t sig_len)
{
    struct cairn_client *c = NULL;
    int rc = connect_recovery(ctx, address, &c);
    if (rc != 0)
        return rc;
    int remaining = -1;
    char *msg = NULL;
    int r = cairn_recover(c, secret, secret_len, sig, sig_len, &remaining, &msg);
    if (r != 0) {
        rc = cli_fail_client(r, "recover", cairn_client_last_error(c));
    } else if (remaining > 0) {
        /* MarbleRun's two lines, by the `remaining` the Coordinator reports */
        printf("Secret was processed successfully. Upload the next secret. Remaining secrets: %d\n", remaining);
    } else {
        printf("Recovery successful.\n");
    }
    cairn_free(msg);
    cairn_client_free(c);
    return rc;
}

static int run_recover(struct cli_ctx *ctx)
{
    EVP_PKEY *key = NULL;
    if (load_key(ctx, &key) != 0)
        return CLI_EXIT_FAIL;
    uint8_t *secret = NULL, *sig = NULL;
    size_t sl = 0, gl = 0;
    int rc = plain_secret(ctx->args.pos[0], key, &secret, &sl);
    if (rc == 0 && cc_sign(key, "SHA256", secret, sl, &sig, &gl) != 0)
        rc = cli_fail("signing the recovery secret failed");
    if (rc == 0)
        rc = send_recover(ctx, ctx->args.pos[1], secret, sl, sig, gl);
    cc_free_secret(secret, sl);
    free(sig);
    EVP_PKEY_free(key);
    return rc;
}

/* ---- recover-with-signature and its offline steps ---- */

static int rws_public_key(struct cli_ctx *ctx)
{
    if (ctx->args.n_pos != 2)
        return cli_fail("usage: %s public-key <address> [-o FILE]", ctx->path);
    struct cairn_client *c = NULL;
    int rc = connect_recovery(ctx, ctx->args.pos[1], &c);
    if (rc != 0)
        return rc;
    uint8_t *der = NULL;
    size_t n = 0;
    /* the Coordinator generates its RSA-4096 key in the background and
     * answers 503 until it is ready (up to a few seconds): retry for 30 s */
    int r = cairn_recover_public_key(c, &der, &n);
    for (int i = 0; r != 0 && i < 120 && cairn_client_last_http_status(c) == 503; i++) {
        usleep(250 * 1000);
        r = cairn_recover_public_key(c, &der, &n);
    }
    EVP_PKEY *pub = NULL;
    char *pem = NULL;
    size_t pl = 0;
    if (r != 0)
        rc = cli_fail_client(r, "recover-with-signature public-key", cairn_client_last_error(c));
    else if (cc_pubkey_from_der(der, n, &pub, NULL) != 0 || cc_pubkey_to_spki_pem(pub, &pem, &pl) != 0)
        rc = cli_fail("the Coordinator's ephemeral public key is not a valid key");
    else if (cli_args_get(&ctx->args, "output") == NULL)
        rc = printf("%.*s\n", (int)pl, pem) < 0 ? cli_fail("cannot write to stdout") : 0; /* MarbleRun: PEM + "\n" */
    else
        rc = cli_write_output(cli_args_get(&ctx->args, "output"), pem, pl, 0644);
    free(pem);
    EVP_PKEY_free(pub);
    cairn_free(der);
    cairn_client_free(c);
    return rc;
}

static int rws_encrypt(struct cli_ctx *ctx)
{
    const char *pubf = cli_args_get(&ctx->args, "coordinator-pub-key");
    if (ctx->args.n_pos != 2 || pubf == NULL)
        return cli_fail("usage: %s encrypt-secret <file> --coordinator-pub-key PEM -k KEY [-o FILE]", ctx->path);
    EVP_PKEY *key = NULL, *pub = NULL;
    if (load_key(ctx, &key) != 0)
        return CLI_EXIT_FAIL;
    uint8_t *pd = NULL, *secret = NULL, *ct = NULL;
    size_t pn = 0, sl = 0, cl = 0;
    int rc = cli_read_file("Coordinator public key", pubf, KEY_FILE_MAX, &pd, &pn);
    if (rc == 0 && cc_pubkey_from_pem((const char *)pd, pn, &pub, NULL) != 0)
        rc = cli_fail("\"%s\" is not a PEM public key; use the output of public-key", pubf);
    if (rc == 0)
        rc = plain_secret(ctx->args.pos[1], key, &secret, &sl);
    if (rc == 0 && cc_rsa_oaep_encrypt(pub, secret, sl, &ct, &cl) != 0)
        rc = cli_fail("encrypting the secret to the Coordinator's key failed (is it RSA?)");
    if (rc == 0)
        rc = cli_write_output(cli_args_get(&ctx->args, "output"), ct, cl, 0600);
    free(pd);
    free(ct);
    cc_free_secret(secret, sl);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
    return rc;
}

static int rws_sign(struct cli_ctx *ctx)
{
    if (ctx->args.n_pos != 2)
        return cli_fail("usage: %s sign-secret <file> -k KEY [-o FILE]", ctx->path);
    EVP_PKEY *key = NULL;
    if (load_key(ctx, &key) != 0)
        return CLI_EXIT_FAIL;
    uint8_t *secret = NULL, *sig = NULL;
    size_t sl = 0, gl = 0;
    int rc = plain_secret(ctx->args.pos[1], key, &secret, &sl);
    if (rc == 0 && cc_sign(key, "SHA256", secret, sl, &sig, &gl) != 0)
        rc = cli_fail("signing the recovery secret failed");
    if (rc == 0)
        rc = cli_write_output(cli_args_get(&ctx->args, "output"), sig, gl, 0644);
    cc_free_secret(secret, sl);
    free(sig);
    EVP_PKEY_free(key);
    return rc;
}

static int run_rws(struct cli_ctx *ctx)
{
    const char *first = ctx->args.pos[0];
    if (strcmp(first, "public-key") == 0)
        return rws_public_key(ctx);
    if (strcmp(first, "encrypt-secret") == 0)
        return rws_encrypt(ctx);
    if (strcmp(first, "sign-secret") == 0)
        return rws_sign(ctx);
    if (ctx->args.n_pos != 2)
        return cli_fail("usage: %s <secret-file> <address> -s SIGNATURE; run `%s --help`", ctx->path, ctx->path);
    const char *sigf = cli_args_get(&ctx->args, "signature");
    if (sigf == NULL)
        return cli_fail("the signature is required: pass -s FILE (from `%s sign-secret`)", ctx->path);
    uint8_t *secret = NULL, *sig = NULL;
    size_t sl = 0, gl = 0;
    int rc = read_secret_file(first, &secret, &sl);
    if (rc == 0)
        rc = cli_read_file("signature", sigf, SECRET_FILE_MAX, &sig, &gl);
    if (rc == 0)
        rc = send_recover(ctx, ctx->args.pos[1], secret, sl, sig, gl);
    cc_free_secret(secret, sl);
    free(sig);
    return rc;
}

const struct cli_command cli_cmd_recover = {
    .name = "recover", .example = "cairn recover recovery-secret.bin localhost:4433 -k recovery.key",
    .summary = "recover a Coordinator in state 1 with a recovery secret",
    .usage = "<recovery-secret-file> <address> -k KEY",
    .help = "The file is this key's entry of the recovery data (base64-decoded, or as base64 text). It is\n"
            "decrypted with the recovery key, signed with it (PKCS#1 v1.5, SHA-256) and uploaded. With several\n"
            "recovery keys every key holder (XOR) or RecoveryThreshold holders (Shamir) upload theirs.",
    .flags = recover_flags, .min_args = 2, .max_args = 2, .run = run_recover,
};

const struct cli_command cli_cmd_recover_with_signature = {
    .name = "recover-with-signature", .example = "cairn recover-with-signature public-key localhost:4433 -o coordinator-pub.pem\ncairn recover-with-signature encrypted-secret localhost:4433 -s secret.sig",
    .summary = "recover with a secret signed offline (+ public-key, encrypt-secret, sign-secret)",
    .usage = "<secret-file> <address> -s SIG | public-key <address> | encrypt-secret <file> | sign-secret <file>",
    .help = "Offline recovery, the private key never touching the machine that talks to the Coordinator:\n"
            "  1. cairn recover-with-signature public-key ADDR -o coord.pem        (Coordinator's ephemeral key)\n"
            "  2. cairn recover-with-signature encrypt-secret SECRET --coordinator-pub-key coord.pem -k KEY -o enc\n"
            "  3. cairn recover-with-signature sign-secret SECRET -k KEY -o sig     (steps 2-3 offline)\n"
            "  4. cairn recover-with-signature enc ADDR -s sig",
    .flags = rws_flags, .min_args = 1, .max_args = 2, .run = run_rws,
};
