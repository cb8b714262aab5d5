/* Rendering a marble's Parameters, the template dry run, and the full
 * validation MarbleRun's SetManifest performs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "manifest/manifest_internal.h"

static int nomem(struct cairn_error *err)
{
    return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
}

static void param_clear(struct manifest_param *p)
{
    free(p->name);
    cc_free_secret(p->data, p->len + 1);
    memset(p, 0, sizeof(*p));
}

void manifest_params_free(struct manifest_params *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_files; i++)
        param_clear(&p->files[i]);
    free(p->files);
    for (size_t i = 0; i < p->n_env; i++)
        param_clear(&p->env[i]);
    free(p->env);
    mf_strv_free(p->argv, p->n_argv);
    free(p);
}

/* Renders one File or Env value into `out` (NULL: render and discard). */
static int render_value(const char *marble, const struct manifest_file *f, enum manifest_template_target target,
                        const struct manifest_template_data *d, struct manifest_param *out,
                        struct cairn_error *err)
{
    bool env = target == MANIFEST_TEMPLATE_ENV;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;
    /* Env values must not contain NUL, even when they are not templates. */
    if (env && memchr(f->data, 0, f->len) != NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "in Marble %s: env variable: %s: content contains null bytes",
                          marble, f->name);
    if (f->no_templates) {
        if (out == NULL)
            return 0;
        data = malloc(f->len + 1);
        if (data == NULL)
            return nomem(err);
        memcpy(data, f->data, f->len + 1);
        len = f->len;
    } else {
        if ((rc = manifest_template_render(f->data, f->len, target, d, &data, &len, err)) < 0)
            return cairn_err_prefix(err, env ? "in Marble %s: env variable %s" : "in Marble %s: file %s", marble,
                                    f->name);
        if (out == NULL) {
            cc_free_secret(data, len + 1);
            return 0;
        }
    }
    if ((out->name = strdup(f->name)) == NULL) {
        cc_free_secret(data, len + 1);
        return nomem(err);
    }
    out->data = data;
    out->len = len;
    return 0;
}

int manifest_marble_render(const struct manifest_marble *marble, const struct manifest_template_data *d,
                           struct manifest_params **out, struct cairn_error *err)
{
    int rc;
    struct manifest_params *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return nomem(err);
    if ((marble->n_files && (p->files = calloc(marble->n_files, sizeof(*p->files))) == NULL) ||
        (marble->n_env && (p->env = calloc(marble->n_env, sizeof(*p->env))) == NULL) ||
        (p->argv = calloc(marble->n_argv + 1, sizeof(char *))) == NULL) {
        rc = nomem(err);
        goto fail;
    }
    for (size_t i = 0; i < marble->n_files; i++) {
        if ((rc = render_value(marble->name, &marble->files[i], MANIFEST_TEMPLATE_FILE, d, &p->files[i], err)) < 0)
            goto fail;
        p->n_files++;
    }
    for (size_t i = 0; i < marble->n_env; i++) {
        if ((rc = render_value(marble->name, &marble->env[i], MANIFEST_TEMPLATE_ENV, d, &p->env[i], err)) < 0)
            goto fail;
        p->n_env++;
    }
    for (size_t i = 0; i < marble->n_argv; i++) {
        if ((p->argv[i] = strdup(marble->argv[i])) == NULL) {
            rc = nomem(err);
            goto fail;
        }
        p->n_argv++;
    }
    *out = p;
    return 0;
fail:
    manifest_params_free(p);
    return rc;
}

/* ---- dry run -------------------------------------------------------------------- */

static uint8_t g_dummy[2] = {0x41, 0};

static const struct manifest_secret_value g_dummy_cert_only = {
    .cert = g_dummy, .cert_len = 1};
static const struct manifest_secret_value g_dummy_all = {
    .cert = g_dummy, .cert_len = 1, .private_key = g_dummy, .private_len = 1, .public_key = g_dummy, .public_len = 1};

int manifest_dry_run(const struct manifest *m, const struct manifest_secret_set *secrets, struct cairn_error *err)
{
    struct manifest_secret_set *set = manifest_secret_set_new();
    int rc = 0;
    if (set == NULL)
        return nomem(err);
    if ((rc = manifest_secret_set_merge(set, secrets)) < 0) {
        rc = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < m->n_secrets; i++) {
        const struct manifest_secret *s = &m->secrets[i];
        if (manifest_secret_set_find(set, s->name) != NULL)
            continue;
        /* Dummy values: MarbleRun gives user-defined secrets 0x41 in every
         * part; secrets Cairn would generate get 0x41 in the parts their type
         * really has, so that e.g. {{ pem .Secrets.aes.Cert }} fails now. */
        bool cert_type = s->type == MANIFEST_SECRET_CERT_RSA || s->type == MANIFEST_SECRET_CERT_ECDSA ||
                         s->type == MANIFEST_SECRET_CERT_ED25519;
        struct manifest_secret_value v = {0};
        v.name = s->name;
        v.type = s->type;
        v.size = s->size;
        v.shared = s->shared;
        v.user_defined = s->user_defined;
        v.valid_for = s->valid_for;
        v.private_key = g_dummy;
        v.private_len = 1;
        v.public_key = g_dummy;
        v.public_len = 1;
        if (s->user_defined || cert_type) {
            v.cert = g_dummy;
            v.cert_len = 1;
        }
        if ((rc = manifest_secret_set_put(set, &v)) < 0) {
            rc = nomem(err);
            goto out;
        }
    }
    struct manifest_template_data d = {
        .secrets = set,
        .previous = set,
        .root_ca = &g_dummy_cert_only,
        .marble_cert = &g_dummy_all,
        .coordinator_root = &g_dummy_cert_only,
        .coordinator_intermediate = &g_dummy_cert_only,
    };
    for (size_t i = 0; i < m->n_marbles && rc == 0; i++) {
        const struct manifest_marble *mb = &m->marbles[i];
        for (size_t k = 0; k < mb->n_files && rc == 0; k++)
            rc = render_value(mb->name, &mb->files[k], MANIFEST_TEMPLATE_FILE, &d, NULL, err);
        for (size_t k = 0; k < mb->n_env && rc == 0; k++)
            rc = render_value(mb->name, &mb->env[k], MANIFEST_TEMPLATE_ENV, &d, NULL, err);
    }
out:
    manifest_secret_set_free(set);
    return rc;
}

/* ---- full validation ------------------------------------------------------------------ */

static int throwaway_ca(X509 **cert, EVP_PKEY **key, struct cairn_error *err)
{
    static const char *const dns[] = {"localhost"};
    struct cc_cert_template t = {
        .subject = {.common_name = "MarbleRun Coordinator - Intermediate CA"},
        .dns_names = dns,
        .n_dns = 1,
        .key_usage = CC_KU_DIGITAL_SIGNATURE | CC_KU_CERT_SIGN,
        .is_ca = true,
        .max_path_len = -1,
    };
    int rc = cc_key_generate(CC_KEY_EC_P384, 0, key, err);
    if (rc < 0)
        return rc;
    if ((rc = cc_cert_issue(&t, *key, NULL, *key, cert, err)) < 0) {
        EVP_PKEY_free(*key);
        *key = NULL;
    }
    return rc;
}

static int validate(const struct manifest *m, const struct manifest_secret_set *given_shared, X509 *root,
                    EVP_PKEY *root_key, struct cairn_error *err)
{
    X509 *ca = NULL;
    EVP_PKEY *ca_key = NULL;
    struct manifest_secret_set *shared = NULL, *priv = NULL, *all = NULL;
    uint8_t root_secret[32], u[16];
    char uuid[37];
    int rc;
    if ((rc = manifest_check(m, err)) < 0)
        return rc;
    if (root == NULL || root_key == NULL) {
        if ((rc = throwaway_ca(&ca, &ca_key, err)) < 0)
            return rc;
        root = ca;
        root_key = ca_key;
    }
    if (cc_random(root_secret, sizeof(root_secret)) < 0 || cc_random(u, sizeof(u)) < 0) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "random generation failed");
        goto out;
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    snprintf(uuid, sizeof(uuid), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    /* SetManifest order: secret generation, recovery keys, users, dry run. */
    if ((given_shared == NULL &&
         (rc = manifest_generate_secrets(m, MANIFEST_SECRETS_SHARED, NULL, NULL, NULL, root, root_key, 0, &shared,
                                         err)) < 0) ||
        (rc = manifest_generate_secrets(m, MANIFEST_SECRETS_PRIVATE, root_secret, uuid, NULL, root, root_key, 0, &priv,
                                        err)) < 0)
        goto out;
    /* the Coordinator splits its data key into at most this many shares
     * (core/recovery.c); refused here so that an offline check says so too */
    if (m->n_recovery_keys > MANIFEST_MAX_RECOVERY_KEYS) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "RecoveryKeys: at most %d keys", MANIFEST_MAX_RECOVERY_KEYS);
        goto out;
    }
    for (size_t i = 0; i < m->n_recovery_keys; i++) {
        EVP_PKEY *k = NULL;
        if ((rc = manifest_recovery_key(&m->recovery_keys[i], &k, err)) < 0)
            goto out;
        EVP_PKEY_free(k);
    }
    for (size_t i = 0; i < m->n_users; i++) {
        X509 *x = NULL;
        if ((rc = manifest_user_cert(&m->users[i], &x, err)) < 0)
            goto out;
        X509_free(x);
    }
    if ((all = manifest_secret_set_new()) == NULL ||
        manifest_secret_set_merge(all, given_shared ? given_shared : shared) < 0 ||
        manifest_secret_set_merge(all, priv) < 0) {
        rc = nomem(err);
        goto out;
    }
    rc = manifest_dry_run(m, all, err);
out:
    cc_wipe(root_secret, sizeof(root_secret));
    manifest_secret_set_free(all);
    manifest_secret_set_free(shared);
    manifest_secret_set_free(priv);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}

int manifest_validate(const struct manifest *m, struct cairn_error *err)
{
    return validate(m, NULL, NULL, NULL, err);
}

int manifest_validate_with(const struct manifest *m, const struct manifest_secret_set *shared,
                           X509 *marble_root_cert, EVP_PKEY *intermediate_key, struct cairn_error *err)
{
    if (shared == NULL || marble_root_cert == NULL || intermediate_key == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "validate: missing shared secrets or CA");
    return validate(m, shared, marble_root_cert, intermediate_key, err);
}
