/* PKCS#11 keys through OpenSSL's "pkcs11" ENGINE (see pkcs11.h). This is the
 * only file using the ENGINE API, which OpenSSL 3 deprecates: CMake compiles
 * it without OPENSSL_NO_DEPRECATED (src/cli/CMakeLists.txt). pkcs11-provider
 * would avoid that, but Debian 12 does not package it. */
#include "cli/pkcs11.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/engine.h>
#include <openssl/err.h>

static int errf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "unknown error";
}

/* libp11 reports its failures by printing to stderr ("Login failed", "Unable
 * to load module ..."), which would break the CLI's one-line errors: the
 * engine calls run with fd 2 redirected to a temporary file, and the first
 * line it caught becomes part of our message. */
struct quiet {
    int saved;
    FILE *tmp;
    char first[160];
};

static void quiet_begin(struct quiet *q)
{
    q->first[0] = '\0';
    fflush(stderr);
    q->tmp = tmpfile();
    q->saved = q->tmp != NULL ? dup(STDERR_FILENO) : -1;
    if (q->saved >= 0 && dup2(fileno(q->tmp), STDERR_FILENO) < 0) {
        close(q->saved);
        q->saved = -1;
    }
}

static void quiet_end(struct quiet *q)
{
    if (q->saved >= 0) {
        fflush(stderr);
        dup2(q->saved, STDERR_FILENO);
        close(q->saved);
    }
    if (q->tmp != NULL) {
        rewind(q->tmp);
        if (fgets(q->first, sizeof(q->first), q->tmp) == NULL)
            q->first[0] = '\0';
        for (char *c = q->first; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = *c == '\n' ? '\0' : ' ';
        fclose(q->tmp);
    }
    q->saved = -1;
    q->tmp = NULL;
}

/* "OpenSSL's reason" or "what libp11 printed" for a message. */
static const char *detail(const struct quiet *q)
{
    return q->first[0] ? q->first : ossl_reason();
}

/* The engine, initialised once per process with the module of the first
 * configuration (a CLI run uses one token). */
static ENGINE *g_engine;
static char *g_module;

static int engine_open(const struct cli_p11_config *c, char *err, size_t n)
{
    if (g_engine != NULL) {
        if (strcmp(g_module, c->module) != 0)
            return errf(err, n, "one PKCS#11 module per run (already loaded %s, asked for %s)", g_module, c->module);
        return 0;
    }
    ERR_clear_error();
    struct quiet q;
    quiet_begin(&q);
    ENGINE *e = ENGINE_by_id("pkcs11");
    int ok = e != NULL && ENGINE_ctrl_cmd_string(e, "MODULE_PATH", c->module, 0) && ENGINE_init(e);
    if (e != NULL)
        ENGINE_free(e); /* after ENGINE_init, its functional reference remains */
    if (ok && c->pin != NULL && !ENGINE_ctrl_cmd_string(e, "PIN", c->pin, 0)) {
        ENGINE_finish(e);
        ok = 0;
    }
    quiet_end(&q);
    if (e == NULL)
        return errf(err, n,
                    "the OpenSSL pkcs11 engine is not available (Debian: apt-get install libengine-pkcs11-openssl): %s",
                    detail(&q));
    if (!ok)
        return errf(err, n, "PKCS#11 module \"%s\" does not load or initialise: %s", c->module, detail(&q));
    g_module = strdup(c->module);
    if (g_module == NULL) {
        ENGINE_finish(e);
        return errf(err, n, "out of memory");
    }
    g_engine = e;
    return 0;
}

int cli_p11_load(const struct cli_p11_config *c, const char *key_id, const char *key_label, const char *cert_id,
                 const char *cert_label, EVP_PKEY **out_key, X509 **out_cert, char *err, size_t n)
{
    *out_key = NULL;
    if (out_cert)
        *out_cert = NULL;
    if ((key_id == NULL || !key_id[0]) && (key_label == NULL || !key_label[0]))
        return errf(err, n, "the private key in the token needs --pkcs11-key-id or --pkcs11-key-label");
    bool want_cert = (cert_id && cert_id[0]) || (cert_label && cert_label[0]);
    if (engine_open(c, err, n) != 0)
        return -1;
    char *uri = cli_p11_uri(c, key_id, key_label, "private");
    if (uri == NULL)
        return errf(err, n, "out of memory");
    ERR_clear_error();
    struct quiet q;
    quiet_begin(&q);
    EVP_PKEY *k = ENGINE_load_private_key(g_engine, uri, NULL, NULL);
    quiet_end(&q);
    free(uri);
    if (k == NULL) {
        /* MarbleRun's wording, plus what libp11/OpenSSL said */
        snprintf(err, n, "no key pair found for id \"%s\" and label \"%s\" in the PKCS#11 token (%s)",
                 key_id ? key_id : "", key_label ? key_label : "", detail(&q));
        return -1;
    }
    X509 *x = NULL;
    if (want_cert) {
        char *curi = cli_p11_uri(c, cert_id, cert_label, "cert");
        struct {
            const char *s_slot_cert_id;
            X509 *cert;
        } params = {curi, NULL};
        ERR_clear_error();
        quiet_begin(&q);
        int got = curi != NULL && ENGINE_ctrl_cmd(g_engine, "LOAD_CERT_CTRL", 0, &params, NULL, 1) && params.cert;
        quiet_end(&q);
        if (!got) {
            free(curi);
            EVP_PKEY_free(k);
            snprintf(err, n, "no certificate found for id \"%s\" and label \"%s\" in the PKCS#11 token",
                     cert_id ? cert_id : "", cert_label ? cert_label : "");
            return -1;
        }
        free(curi);
        x = params.cert;
    }
    *out_key = k;
    if (out_cert)
        *out_cert = x;
    else
        X509_free(x);
    return 0;
}

int cli_p11_rsa_oaep_decrypt(EVP_PKEY *key, const uint8_t *ct, size_t ct_len, uint8_t **out, size_t *out_len)
{
    /* The md setters by name (EVP_PKEY_CTX_set_rsa_oaep_md_name) do not
     * reach a legacy ENGINE key's method; the EVP_MD ones do. */
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = -1;
    struct quiet q;
    quiet_begin(&q);
    if (ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1 &&
        EVP_PKEY_decrypt(ctx, NULL, &len, ct, ct_len) == 1 && len > 0 && (buf = malloc(len)) != NULL &&
        EVP_PKEY_decrypt(ctx, buf, &len, ct, ct_len) == 1)
        rc = 0;
    quiet_end(&q);
    EVP_PKEY_CTX_free(ctx);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}
