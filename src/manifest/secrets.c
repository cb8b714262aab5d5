/* Secret values: sets, generation (inventory §1.6), MarbleRun's JSON shape,
 * user-defined secret uploads (inventory §2.2), user certificates and
 * recovery keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "manifest/manifest_internal.h"

#define SYMMETRIC_MAX_BITS (255 * 32 * 8) /* HKDF-SHA256's output limit, applied to both kinds */

static int nomem(struct cairn_error *err)
{
    return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
}

/* ---- sets -------------------------------------------------------------------------- */

void manifest_secret_value_clear(struct manifest_secret_value *v)
{
    if (v == NULL)
        return;
    free(v->name);
    free(v->cert);
    cc_free_secret(v->private_key, v->private_len);
    /* For symmetric keys and plain secrets Public is the secret itself. */
    cc_free_secret(v->public_key, v->public_len);
    memset(v, 0, sizeof(*v));
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *o = malloc(n + 1);
    if (o != NULL) {
        if (n > 0)
            memcpy(o, p, n);
        o[n] = 0;
    }
    return o;
}

static int value_copy(struct manifest_secret_value *dst, const struct manifest_secret_value *src)
{
    struct manifest_secret_value v = *src;
    v.name = strdup(src->name ? src->name : "");
    v.cert = src->cert ? dup_bytes(src->cert, src->cert_len) : NULL;
    v.private_key = src->private_key ? dup_bytes(src->private_key, src->private_len) : NULL;
    v.public_key = src->public_key ? dup_bytes(src->public_key, src->public_len) : NULL;
    if (v.name == NULL || (src->cert && !v.cert) || (src->private_key && !v.private_key) ||
        (src->public_key && !v.public_key)) {
        manifest_secret_value_clear(&v);
        return CAIRN_ERR_NOMEM;
    }
    *dst = v;
    return 0;
}

struct manifest_secret_set *manifest_secret_set_new(void)
{
    return calloc(1, sizeof(struct manifest_secret_set));
}

void manifest_secret_set_free(struct manifest_secret_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->count; i++)
        manifest_secret_value_clear(&s->items[i]);
    free(s->items);
    free(s);
}

const struct manifest_secret_value *manifest_secret_set_find(const struct manifest_secret_set *s,
                                                             const char *name)
{
    if (s == NULL || s->count == 0)
        return NULL;
    return mf_find(s->items, s->count, sizeof(s->items[0]), name);
}

/* Takes ownership of *v (moved, then zeroed) and keeps the set sorted. */
static int set_take(struct manifest_secret_set *s, struct manifest_secret_value *v)
{
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v->name, s->items[mid].name);
        if (c == 0) {
            manifest_secret_value_clear(&s->items[mid]);
            s->items[mid] = *v;
            memset(v, 0, sizeof(*v));
            return 0;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (s->count >= MANIFEST_MAX_ENTRIES * 4)
        return CAIRN_ERR_TOO_LARGE;
    struct manifest_secret_value *n = realloc(s->items, (s->count + 1) * sizeof(*n));
    if (n == NULL)
        return CAIRN_ERR_NOMEM;
    s->items = n;
    memmove(&n[lo + 1], &n[lo], (s->count - lo) * sizeof(*n));
    n[lo] = *v;
    s->count++;
    memset(v, 0, sizeof(*v));
    return 0;
}

int manifest_secret_set_put(struct manifest_secret_set *s, const struct manifest_secret_value *v)
{
    struct manifest_secret_value c;
    int rc;
    if (s == NULL || v == NULL || v->name == NULL)
        return CAIRN_ERR_INVALID;
    if ((rc = value_copy(&c, v)) < 0)
        return rc;
    if ((rc = set_take(s, &c)) < 0)
        manifest_secret_value_clear(&c);
    return rc;
}

int manifest_secret_set_merge(struct manifest_secret_set *dst, const struct manifest_secret_set *src)
{
    if (src == NULL)
        return 0;
    for (size_t i = 0; i < src->count; i++) {
        int rc = manifest_secret_set_put(dst, &src->items[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- generation ------------------------------------------------------------------ */

static void definition_to_value(const struct manifest_secret *s, struct manifest_secret_value *v)
{
    memset(v, 0, sizeof(*v));
    v->type = s->type;
    v->size = s->size;
    v->shared = s->shared;
    v->user_defined = s->user_defined;
    v->valid_for = s->valid_for;
}

static int gen_symmetric(const struct manifest_secret *s, bool shared, const uint8_t root_secret[32],
                         const char *uuid, const char *info, struct manifest_secret_value *v,
                         struct cairn_error *err)
{
    if (s->size == 0 || s->size % 8 != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "invalid secret size: %s", s->name);
    if (s->size > SYMMETRIC_MAX_BITS)
        return cairn_errf(err, CAIRN_ERR_INVALID, "invalid secret size: %s (at most %d bits are supported)",
                          s->name, SYMMETRIC_MAX_BITS);
    size_t n = s->size / 8;
    uint8_t *key = malloc(n);
    if (key == NULL)
        return nomem(err);
    int rc;
    if (shared) {
        rc = cc_random(key, n);
    } else {
        /* salt = UUID string + secret name; info = marble type (or ""). */
        size_t ul = strlen(uuid), nl = strlen(s->name);
        char *salt = malloc(ul + nl + 1);
        if (salt == NULL) {
            free(key);
            return nomem(err);
        }
        memcpy(salt, uuid, ul);
        memcpy(salt + ul, s->name, nl + 1);
        rc = cc_hkdf_sha256(root_secret, 32, salt, ul + nl, info, strlen(info), key, n);
        free(salt);
    }
    if (rc < 0) {
        cc_free_secret(key, n);
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "secret %s: key generation failed", s->name);
    }
    v->private_key = key;
    v->private_len = n;
    v->public_key = dup_bytes(key, n);
    v->public_len = n;
    if (v->public_key == NULL)
        return nomem(err);
    return 0;
}

static int gen_cert(const struct manifest_secret *s, bool shared, X509 *issuer, EVP_PKEY *issuer_key, time_t now,
                    struct manifest_secret_value *v, struct cairn_error *err)
{
    const struct manifest_cert_template *t = &s->cert;
    enum cc_key_type kt;
    unsigned rsa_bits = 0;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int rc;

    switch (s->type) {
    case MANIFEST_SECRET_CERT_RSA:
        /* MarbleRun runs in Go's FIPS mode, which refuses RSA below 2048 bits. */
        if (s->size < 2048 || s->size > 8192)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "invalid secret size for cert-rsa: %s (2048..8192 bits, got %llu)", s->name,
                              (unsigned long long)s->size);
        kt = CC_KEY_RSA;
        rsa_bits = (unsigned)s->size;
        break;
    case MANIFEST_SECRET_CERT_ED25519:
        if (s->size != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "invalid secret size for cert-ed25519, none is expected. given: %s", s->name);
        kt = CC_KEY_ED25519;
        break;
    default: /* cert-ecdsa */
        switch (s->size) {
        case 224: kt = CC_KEY_EC_P224; break;
        case 256: kt = CC_KEY_EC_P256; break;
        case 384: kt = CC_KEY_EC_P384; break;
        case 521: kt = CC_KEY_EC_P521; break;
        default:
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "unsupported size %llu: does not map to a supported curve (secret %s)",
                              (unsigned long long)s->size, s->name);
        }
    }
    if (t->n_email_addresses > 0)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "secret %s: Cert.EmailAddresses is not supported", s->name);
    for (size_t i = 0; i < t->n_ext_key_usage; i++) {
        if (t->ext_key_usage[i] > CC_EKU_OCSP_SIGNING)
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "secret %s: Cert.ExtKeyUsage value %d is not supported",
                              s->name, t->ext_key_usage[i]);
    }

    static const char *const def_dns[] = {"localhost"};
    static const char *const def_ips[] = {"127.0.0.1", "::1"};
    static const int def_eku[] = {CC_EKU_SERVER_AUTH, CC_EKU_CLIENT_AUTH};
    struct cc_cert_template ct = {0};
    ct.subject.common_name = t->subject.common_name;
    ct.subject.organization = t->subject.organization;
    ct.subject.organizational_unit = t->subject.organizational_unit;
    ct.subject.country = t->subject.country;
    ct.subject.province = t->subject.province;
    ct.subject.locality = t->subject.locality;
    ct.subject.street_address = t->subject.street_address;
    ct.subject.postal_code = t->subject.postal_code;
    if (t->has_dns_names) {
        ct.dns_names = (const char *const *)t->dns_names;
        ct.n_dns = t->n_dns_names;
    } else {
        ct.dns_names = def_dns;
        ct.n_dns = 1;
    }
    if (t->has_ip_addresses) {
        ct.ip_addresses = (const char *const *)t->ip_addresses;
        ct.n_ips = t->n_ip_addresses;
    } else {
        ct.ip_addresses = def_ips;
        ct.n_ips = 2;
    }
    if (ct.subject.common_name == NULL || *ct.subject.common_name == '\0')
        ct.subject.common_name = ct.n_dns == 1 ? ct.dns_names[0] : "MarbleRun Generated Certificate";
    ct.key_usage = t->key_usage ? t->key_usage : (CC_KU_DIGITAL_SIGNATURE | CC_KU_CERT_SIGN);
    if (t->has_ext_key_usage) {
        ct.ext_key_usage = t->ext_key_usage;
        ct.n_eku = t->n_ext_key_usage;
    } else {
        ct.ext_key_usage = def_eku;
        ct.n_eku = 2;
    }
    ct.is_ca = t->is_ca;
    ct.max_path_len = t->is_ca ? t->max_path_len : -1;
    ct.not_before = now;
    uint64_t days = s->valid_for ? s->valid_for : 365;
    if (days > 100000)
        return cairn_errf(err, CAIRN_ERR_INVALID, "secret %s: ValidFor %llu days is too long", s->name,
                          (unsigned long long)days);
    if (!t->has_not_after || (!shared && s->valid_for != 0))
        ct.not_after = now + (time_t)days * 86400;
    else
        ct.not_after = t->not_after;
    if (ct.not_after <= now)
        return cairn_errf(err, CAIRN_ERR_INVALID, "secret %s: Cert.NotAfter is in the past", s->name);
    if (!t->has_not_after && s->valid_for == 0)
        v->valid_for = 365; /* MarbleRun stores the default it applied */

    if ((rc = cc_key_generate(kt, rsa_bits, &key, err)) < 0)
        return cairn_err_prefix(err, "secret %s", s->name);
    if ((rc = cc_cert_issue(&ct, key, issuer, issuer_key, &cert, err)) < 0) {
        EVP_PKEY_free(key);
        return cairn_err_prefix(err, "secret %s", s->name);
    }
    if (cc_cert_to_der(cert, &v->cert, &v->cert_len) < 0 ||
        cc_key_to_pkcs8_der(key, &v->private_key, &v->private_len) < 0 ||
        cc_pubkey_to_spki_der(key, &v->public_key, &v->public_len) < 0)
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "secret %s: encoding the generated key failed", s->name);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int manifest_generate_secrets(const struct manifest *m, enum manifest_secret_scope scope,
                              const uint8_t root_secret[32], const char *marble_uuid,
                              const char *marble_type, X509 *marble_root_cert,
                              EVP_PKEY *intermediate_key, time_t now,
                              struct manifest_secret_set **out, struct cairn_error *err)
{
    bool shared = scope == MANIFEST_SECRETS_SHARED;
    const char *info = "";
    int rc = 0;
    if (m == NULL || out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "generate secrets: missing manifest or output");
    if (!shared && (marble_uuid == NULL || root_secret == NULL))
        return cairn_errf(err, CAIRN_ERR_INVALID, "generate secrets: per-marble secrets need a UUID and the root secret");
    if (marble_type != NULL) {
        const struct manifest_marble *mb = manifest_find_marble(m, marble_type);
        if (mb == NULL)
            return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "generate secrets: unknown marble type %s", marble_type);
        info = mb->disable_secret_binding ? "" : marble_type;
    }
    if (now == 0)
        now = time(NULL);
    struct manifest_secret_set *set = manifest_secret_set_new();
    if (set == NULL)
        return nomem(err);
    for (size_t i = 0; i < m->n_secrets; i++) {
        const struct manifest_secret *s = &m->secrets[i];
        struct manifest_secret_value v;
        if (s->user_defined || s->shared != shared)
            continue;
        definition_to_value(s, &v);
        switch (s->type) {
        case MANIFEST_SECRET_SYMMETRIC_KEY:
            rc = gen_symmetric(s, shared, root_secret, marble_uuid, info, &v, err);
            break;
        case MANIFEST_SECRET_CERT_RSA:
        case MANIFEST_SECRET_CERT_ECDSA:
        case MANIFEST_SECRET_CERT_ED25519:
            if (marble_root_cert == NULL || intermediate_key == NULL)
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "secret %s: no issuer for certificate secrets", s->name);
            else
                rc = gen_cert(s, shared, marble_root_cert, intermediate_key, now, &v, err);
            break;
        default:
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "unsupported secret of type %s", s->type_str ? s->type_str : "");
            break;
        }
        if (rc == 0 && (v.name = strdup(s->name)) == NULL)
            rc = nomem(err);
        if (rc == 0 && (rc = set_take(set, &v)) < 0)
            rc = cairn_errf(err, rc, "out of memory");
        manifest_secret_value_clear(&v);
        if (rc < 0) {
            manifest_secret_set_free(set);
            return rc;
        }
    }
    *out = set;
    return 0;
}

/* ---- JSON ------------------------------------------------------------------------ */

static json_t *b64_or_null(const uint8_t *p, size_t n)
{
    if (p == NULL)
        return json_null();
    char *s = cairn_base64_encode(p, n);
    if (s == NULL)
        return NULL;
    json_t *j = json_string(s);
    cc_free_secret(s, strlen(s));
    return j;
}

int manifest_secret_value_to_json(const struct manifest_secret_value *v, json_t **out)
{
    json_t *o = json_object();
    if (o == NULL)
        return CAIRN_ERR_NOMEM;
    int bad = 0;
    bad |= json_object_set_new(o, "Type", json_string(manifest_secret_type_name(v->type)));
    bad |= json_object_set_new(o, "Size", json_integer((json_int_t)v->size));
    bad |= json_object_set_new(o, "Shared", json_boolean(v->shared));
    bad |= json_object_set_new(o, "UserDefined", json_boolean(v->user_defined));
    bad |= json_object_set_new(o, "Cert", b64_or_null(v->cert, v->cert_len));
    bad |= json_object_set_new(o, "ValidFor", json_integer((json_int_t)v->valid_for));
    bad |= json_object_set_new(o, "Private", b64_or_null(v->private_key, v->private_len));
    bad |= json_object_set_new(o, "Public", b64_or_null(v->public_key, v->public_len));
    if (bad) {
        json_decref(o);
        return CAIRN_ERR_NOMEM;
    }
    *out = o;
    return 0;
}

/* Cert as b64 DER, or Go's x509.Certificate object with its "Raw" field. */
static int get_cert(const json_t *obj, const char *path, uint8_t **out, size_t *out_len, struct cairn_error *err)
{
    json_t *c = mf_obj_get(obj, "Cert");
    uint8_t *der = NULL;
    size_t n = 0;
    int rc;
    if (c == NULL || json_is_null(c))
        return 0;
    if (json_is_object(c))
        rc = mf_get_bytes(c, "Raw", path, &der, &n, err);
    else
        rc = mf_get_bytes(obj, "Cert", path, &der, &n, err);
    if (rc < 0)
        return rc;
    if (der == NULL || n == 0) {
        free(der);
        return 0;
    }
    X509 *x = NULL;
    if (cc_cert_from_der(der, n, &x, NULL) < 0) {
        free(der);
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s.Cert: not a DER X.509 certificate", path);
    }
    X509_free(x);
    *out = der;
    *out_len = n;
    return 0;
}

int manifest_secret_value_from_json(const char *name, const json_t *j, struct manifest_secret_value *out,
                                    struct cairn_error *err)
{
    struct manifest_secret_value v = {0};
    char *type = NULL;
    int rc;
    if (!json_is_object(j))
        return cairn_errf(err, CAIRN_ERR_INVALID, "secret %s: expected an object", name);
    if ((rc = mf_get_string(j, "Type", name, &type, err)) < 0)
        return rc;
    v.type = manifest_secret_type_parse(type);
    if (v.type == MANIFEST_SECRET_INVALID) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "secret %s: unknown type \"%s\"", name, type ? type : "");
        free(type);
        return rc;
    }
    free(type);
    if ((rc = mf_get_uint(j, "Size", name, UINT64_MAX, NULL, &v.size, err)) < 0 ||
        (rc = mf_get_bool(j, "Shared", name, &v.shared, err)) < 0 ||
        (rc = mf_get_bool(j, "UserDefined", name, &v.user_defined, err)) < 0 ||
        (rc = mf_get_uint(j, "ValidFor", name, UINT64_MAX, NULL, &v.valid_for, err)) < 0 ||
        (rc = get_cert(j, name, &v.cert, &v.cert_len, err)) < 0 ||
        (rc = mf_get_bytes(j, "Private", name, &v.private_key, &v.private_len, err)) < 0 ||
        (rc = mf_get_bytes(j, "Public", name, &v.public_key, &v.public_len, err)) < 0)
        goto fail;
    if ((v.name = strdup(name)) == NULL) {
        rc = nomem(err);
        goto fail;
    }
    *out = v;
    return 0;
fail:
    manifest_secret_value_clear(&v);
    return rc;
}

int manifest_secret_set_to_json(const struct manifest_secret_set *s, json_t **out)
{
    json_t *o = json_object();
    if (o == NULL)
        return CAIRN_ERR_NOMEM;
    for (size_t i = 0; s != NULL && i < s->count; i++) {
        json_t *v;
        int rc = manifest_secret_value_to_json(&s->items[i], &v);
        if (rc < 0 || json_object_set_new(o, s->items[i].name, v) < 0) {
            json_decref(o);
            return CAIRN_ERR_NOMEM;
        }
    }
    *out = o;
    return 0;
}

int manifest_secret_set_from_json(const json_t *j, struct manifest_secret_set **out, struct cairn_error *err)
{
    const char *key;
    json_t *val;
    if (!json_is_object(j))
        return cairn_errf(err, CAIRN_ERR_INVALID, "secrets: expected an object, got %s", mf_json_type(j));
    struct manifest_secret_set *s = manifest_secret_set_new();
    if (s == NULL)
        return nomem(err);
    json_object_foreach((json_t *)j, key, val) {
        struct manifest_secret_value v;
        int rc = manifest_secret_value_from_json(key, val, &v, err);
        if (rc == 0 && (rc = set_take(s, &v)) < 0) {
            manifest_secret_value_clear(&v);
            rc = cairn_errf(err, rc, "secrets: too many entries");
        }
        if (rc < 0) {
            manifest_secret_set_free(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

/* ---- user-defined secret uploads --------------------------------------------------- */

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int parse_one_user_secret(const struct manifest_secret *def, const json_t *us,
                                 struct manifest_secret_value *v, struct cairn_error *err)
{
    uint8_t *cert = NULL, *priv = NULL, *key = NULL;
    size_t cert_len = 0, priv_len = 0, key_len = 0;
    const char *name = def->name;
    int rc;
    if (!json_is_object(us))
        return cairn_errf(err, CAIRN_ERR_INVALID, "secret %s: expected an object with Cert, Private or Key", name);
    if ((rc = get_cert(us, name, &cert, &cert_len, err)) < 0 ||
        (rc = mf_get_bytes(us, "Private", name, &priv, &priv_len, err)) < 0 ||
        (rc = mf_get_bytes(us, "Key", name, &key, &key_len, err)) < 0)
        goto out;
    definition_to_value(def, v);
    switch (def->type) {
    case MANIFEST_SECRET_SYMMETRIC_KEY:
        if (def->size == 0 || def->size % 8 != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "invalid secret size: %s", name);
        } else if (key_len != def->size / 8) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "declared size and actual size don't match: %s", name);
        } else if (cert != NULL || priv != NULL) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID,
                            "secret %s is set to be of type symmetric-key but specified values for a certificate", name);
        } else {
            v->private_key = key;
            v->private_len = key_len;
            v->public_key = dup_bytes(key, key_len);
            v->public_len = key_len;
            key = NULL;
            if (v->public_key == NULL)
                rc = nomem(err);
        }
        break;
    case MANIFEST_SECRET_CERT_RSA:
    case MANIFEST_SECRET_CERT_ECDSA:
    case MANIFEST_SECRET_CERT_ED25519:
        if (key != NULL) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "secret %s is set to be of type %s but specified values for a "
                            "symmetric-key", name, def->type_str);
        } else if (cert == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "secret %s: Cert is required for type %s", name, def->type_str);
        } else {
            X509 *x = NULL;
            EVP_PKEY *pk;
            if (cc_cert_from_der(cert, cert_len, &x, NULL) < 0 || (pk = X509_get0_pubkey(x)) == NULL ||
                cc_pubkey_to_spki_der(pk, &v->public_key, &v->public_len) < 0) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "secret %s: the certificate's public key is unusable", name);
            } else {
                /* Private is optional and not checked, as in MarbleRun. */
                v->cert = cert;
                v->cert_len = cert_len;
                v->private_key = priv;
                v->private_len = priv_len;
                cert = NULL;
                priv = NULL;
            }
            X509_free(x);
        }
        break;
    case MANIFEST_SECRET_PLAIN:
        if (cert != NULL || priv != NULL) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID,
                            "secret %s is set to be of type plain but specified values for a certificate", name);
        } else {
            if (key == NULL && (key = dup_bytes((const uint8_t *)"", 0)) == NULL) {
                rc = nomem(err);
                break;
            }
            v->private_key = key;
            v->private_len = key_len;
            v->public_key = dup_bytes(key, key_len);
            v->public_len = key_len;
            key = NULL;
            if (v->public_key == NULL)
                rc = nomem(err);
        }
        break;
    default:
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "secret %s has an unknown type", name);
        break;
    }
    if (rc == 0 && (v->name = strdup(name)) == NULL)
        rc = nomem(err);
    if (rc < 0)
        manifest_secret_value_clear(v);
out:
    free(cert);
    cc_free_secret(priv, priv_len);
    cc_free_secret(key, key_len);
    return rc;
}

int manifest_user_secrets_parse(const struct manifest *m, const json_t *j, struct manifest_secret_set **out,
                                struct cairn_error *err)
{
    const char *key;
    json_t *val;
    int rc = 0;
    if (!json_is_object(j))
        return cairn_errf(err, CAIRN_ERR_INVALID, "secrets: expected an object, got %s", mf_json_type(j));
    size_t n = json_object_size(j);
    if (n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "no new secrets defined");
    if (n > MANIFEST_MAX_ENTRIES)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "secrets: more than %d entries", MANIFEST_MAX_ENTRIES);
    /* Sorted names: the first error is deterministic (Go: random map order). */
    const char **names = calloc(n, sizeof(*names));
    if (names == NULL)
        return nomem(err);
    size_t k = 0;
    json_object_foreach((json_t *)j, key, val)
        names[k++] = key;
    qsort(names, n, sizeof(*names), cmp_cstr);
    struct manifest_secret_set *set = manifest_secret_set_new();
    if (set == NULL) {
        free(names);
        return nomem(err);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct manifest_secret *def = manifest_find_secret(m, names[i]);
        struct manifest_secret_value v = {0};
        if (def == NULL)
            rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND,
                            "secret manifest specifies a secret which the original manifest does not contain: %s",
                            names[i]);
        else if (!def->user_defined)
            rc = cairn_errf(err, CAIRN_ERR_PERMISSION, "secret %s is not writeable", names[i]);
        else if ((rc = parse_one_user_secret(def, json_object_get(j, names[i]), &v, err)) == 0 &&
                 (rc = set_take(set, &v)) < 0) {
            manifest_secret_value_clear(&v);
            rc = nomem(err);
        }
    }
    free(names);
    if (rc < 0) {
        manifest_secret_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

/* ---- users and recovery keys ------------------------------------------------------- */

int manifest_user_cert(const struct manifest_user *u, X509 **out, struct cairn_error *err)
{
    X509 *x = NULL;
    const char *pem = u->certificate ? u->certificate : "";
    if (*pem == '\0' || cc_cert_from_pem(pem, strlen(pem), &x, NULL) < 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "received invalid certificate for user %s", u->name);
    *out = x;
    return 0;
}

int manifest_recovery_key(const struct manifest_recovery_key *k, EVP_PKEY **out, struct cairn_error *err)
{
    EVP_PKEY *pk = NULL;
    const char *pem = k->pem ? k->pem : "";
    if (*pem == '\0' || cc_pubkey_from_pem(pem, strlen(pem), &pk, NULL) < 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "recovery key %s: not a PEM public key", k->name);
    if (EVP_PKEY_base_id(pk) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pk);
        return cairn_errf(err, CAIRN_ERR_INVALID, "recovery key %s: not an RSA public key", k->name);
    }
    *out = pk;
    return 0;
}
