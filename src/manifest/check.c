/* manifest_check(): MarbleRun's Manifest.Check (inventory §1.11) plus the TEE
 * package extension of DESIGN §5.
 *
 * The steps run in MarbleRun's order and stop at the first failure. Go ranges
 * over maps in random order; Cairn walks the name-sorted arrays instead, so
 * the reported error is deterministic. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "manifest/manifest_internal.h"

struct check_ctx {
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
    struct cairn_error *err;
};

static bool empty(const char *s)
{
    return s == NULL || *s == '\0';
}

static int fail(struct check_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct check_ctx *c, const char *fmt, ...)
{
    char msg[CAIRN_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cairn_errf(c->err, CAIRN_ERR_INVALID, "%s", msg);
}

static void warn(struct check_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct check_ctx *c, const char *fmt, ...)
{
    char msg[CAIRN_ERROR_MSG_MAX];
    va_list ap;
    if (c->warn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->warn(c->warn_ctx, msg);
}

/* An unknown "TEE" is not SGX: its package is reported by the TEE rules. */
static bool is_sgx(const struct manifest_package *p)
{
    return p->pkg.tee == ATTEST_SGX && (empty(p->tee_name) || strcasecmp(p->tee_name, "sgx") == 0);
}

/* warnOrFailForMissingValue: Debug packages only warn. */
static int missing_value(struct check_ctx *c, const struct manifest_package *p, const char *param)
{
    if (p->pkg.debug) {
        warn(c,
             "Manifest misses value in package declaration. This is not accepted in non-debug mode, please "
             "check your configuration. (parameter %s, package %s)",
             param, p->name);
        return 0;
    }
    return fail(c, "manifest misses value for %s in package %s", param, p->name);
}

static int check_sgx_identity(struct check_ctx *c, const struct manifest_package *p)
{
    const struct tee_package *k = &p->pkg;
    int rc;
    if (!empty(k->unique_id) && (!empty(k->signer_id) || k->has_product_id || k->has_security_version)) {
        if (!k->debug)
            return fail(c, "manifest specifies both UniqueID *and* SignerID/ProductID/SecurityVersion in package %s",
                        p->name);
        warn(c,
             "Manifest specifies UniqueID *and* SignerID/ProductID/SecurityVersion. This is not accepted in "
             "non-debug mode, please check your configuration. (package %s)",
             p->name);
    } else if (empty(k->unique_id)) {
        if (empty(k->signer_id) && (rc = missing_value(c, p, "SignerID")) < 0)
            return rc;
        if (!k->has_product_id && (rc = missing_value(c, p, "ProductID")) < 0)
            return rc;
        if (!k->has_security_version && (rc = missing_value(c, p, "SecurityVersion")) < 0)
            return rc;
    }
    return 0;
}

/* ---- TEE extension ------------------------------------------------------------- */

static bool valid_hex(const char *s, size_t bytes)
{
    size_t n = strlen(s);
    if (n != 2 * bytes)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
            return false;
    }
    return true;
}

static int check_hex(struct check_ctx *c, const char *pkg, const char *field, const char *v, size_t bytes)
{
    if (v == NULL || valid_hex(v, bytes))
        return 0;
    return fail(c, "package %s: %s must be %zu bytes as hex (%zu hex digits), got \"%.80s\"", pkg, field, bytes,
                2 * bytes, v);
}

/* Each non-SGX field and the TEE types it belongs to (bit i = enum attest_type i). */
#define T(x) (1u << (x))

struct field_rule {
    const char *name;
    unsigned allowed;
    bool (*present)(const struct tee_package *k);
};

static bool has_unique_id(const struct tee_package *k) { return k->unique_id != NULL; }
static bool has_signer_id(const struct tee_package *k) { return k->signer_id != NULL; }
static bool has_product_id(const struct tee_package *k) { return k->has_product_id; }
static bool has_svn(const struct tee_package *k) { return k->has_security_version; }
static bool has_tcb_statuses(const struct tee_package *k) { return k->n_accepted_tcb_statuses > 0; }
static bool has_advisories(const struct tee_package *k) { return k->n_accepted_advisories > 0; }
static bool has_mrtd(const struct tee_package *k) { return k->mrtd != NULL; }
static bool has_rtmr(const struct tee_package *k)
{
    return k->rtmr[0] || k->rtmr[1] || k->rtmr[2] || k->rtmr[3];
}
static bool has_mrconfigid(const struct tee_package *k) { return k->mr_config_id != NULL; }
static bool has_mrowner(const struct tee_package *k) { return k->mr_owner != NULL; }
static bool has_mrownerconfig(const struct tee_package *k) { return k->mr_owner_config != NULL; }
static bool has_measurement(const struct tee_package *k) { return k->measurement != NULL; }
static bool has_hostdata(const struct tee_package *k) { return k->host_data != NULL; }
static bool has_idkeydigest(const struct tee_package *k) { return k->id_key_digest != NULL; }
static bool has_mintcb(const struct tee_package *k) { return k->has_minimum_tcb; }
static bool has_guestsvn(const struct tee_package *k) { return k->has_guest_svn; }
static bool has_akroots(const struct tee_package *k) { return k->n_ak_roots > 0; }
static bool has_pcrs(const struct tee_package *k) { return k->n_pcrs > 0; }
static bool has_pcrpubkey(const struct tee_package *k) { return k->pcr_public_key != NULL; }

static const struct field_rule field_rules[] = {
    {"UniqueID", T(ATTEST_SGX), has_unique_id},
    {"SignerID", T(ATTEST_SGX), has_signer_id},
    {"ProductID", T(ATTEST_SGX), has_product_id},
    {"SecurityVersion", T(ATTEST_SGX), has_svn},
    {"AcceptedTCBStatuses", T(ATTEST_SGX) | T(ATTEST_TDX) | T(ATTEST_SNP), has_tcb_statuses},
    {"AcceptedAdvisories", T(ATTEST_SGX) | T(ATTEST_TDX) | T(ATTEST_SNP), has_advisories},
    {"MRTD", T(ATTEST_TDX), has_mrtd},
    {"RTMR", T(ATTEST_TDX), has_rtmr},
    {"MRConfigID", T(ATTEST_TDX), has_mrconfigid},
    {"MROwner", T(ATTEST_TDX), has_mrowner},
    {"MROwnerConfig", T(ATTEST_TDX), has_mrownerconfig},
    {"Measurement", T(ATTEST_SNP), has_measurement},
    {"HostData", T(ATTEST_SNP), has_hostdata},
    {"IDKeyDigest", T(ATTEST_SNP), has_idkeydigest},
    {"MinimumTCB", T(ATTEST_SNP), has_mintcb},
    {"GuestSVN", T(ATTEST_SNP), has_guestsvn},
    {"AKRoots", T(ATTEST_TPM), has_akroots},
    {"PCRs", T(ATTEST_TPM) | T(ATTEST_TDX) | T(ATTEST_SNP), has_pcrs},  /* tdx/snp: Azure vTPM */
    {"PCRPublicKey", T(ATTEST_TPM), has_pcrpubkey},
};

static const char *tee_label(enum attest_type t)
{
    switch (t) {
    case ATTEST_SGX: return "sgx";
    case ATTEST_TDX: return "tdx";
    case ATTEST_SNP: return "snp";
    case ATTEST_TPM: return "tpm";
    default: return "sim";
    }
}

/* PCRs: bank sha1/sha256/sha384/sha512 with a value of its size, index
 * 0..23, each once per bank. `vtpm`: the PCRs of a tdx/snp package, which
 * are those of an Azure vTPM quote (sha256 only). */
static int check_pcrs(struct check_ctx *c, const char *name, const struct tee_package *k, bool vtpm)
{
    int rc;
    for (size_t i = 0; i < k->n_pcrs; i++) {
        const struct tee_pcr *pcr = &k->pcrs[i];
        size_t len;
        if (strcmp(pcr->bank, "sha1") == 0)
            len = 20;
        else if (strcmp(pcr->bank, "sha256") == 0)
            len = 32;
        else if (strcmp(pcr->bank, "sha384") == 0)
            len = 48;
        else if (strcmp(pcr->bank, "sha512") == 0)
            len = 64;
        else
            return fail(c, "package %s: PCR bank \"%s\" is not sha1, sha256, sha384 or sha512", name, pcr->bank);
        if (vtpm && len != 32)
            return fail(c, "package %s: PCRs.%s: the PCRs of a %s package are those of an Azure vTPM quote, which "
                        "has the sha256 bank only", name, pcr->bank, tee_label(k->tee));
        if (pcr->index > 23)
            return fail(c, "package %s: PCRs.%s: index %u is not 0..23", name, pcr->bank, pcr->index);
        char f[48];
        snprintf(f, sizeof(f), "PCRs.%s.%u", pcr->bank, pcr->index);
        if ((rc = check_hex(c, name, f, pcr->value_hex, len)) < 0)
            return rc;
        /* "7" and "07" are the same register: refuse the ambiguity. */
        for (size_t j = 0; j < i; j++) {
            if (k->pcrs[j].index == pcr->index && strcmp(k->pcrs[j].bank, pcr->bank) == 0)
                return fail(c, "package %s: PCRs.%s: index %u is given twice", name, pcr->bank, pcr->index);
        }
    }
    return 0;
}

static int check_ak_root(struct check_ctx *c, const char *pkg, size_t i, const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    int n = 0;
    bool bad = false;
    if (b == NULL)
        return cairn_errf(c->err, CAIRN_ERR_NOMEM, "out of memory");
    for (;;) {
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (x == NULL)
            break;
        X509_free(x);
        n++;
    }
    /* The loop ends at the first block that is missing or does not parse;
     * only "no more PEM data" after at least one certificate is success. */
    unsigned long e = ERR_peek_last_error();
    if (n == 0 || (e != 0 && ERR_GET_REASON(e) != PEM_R_NO_START_LINE))
        bad = true;
    ERR_clear_error();
    BIO_free(b);
    if (bad)
        return fail(c, "package %s: AKRoots[%zu] is not a PEM certificate", pkg, i);
    return 0;
}

/* PCRPublicKey: what systemd-measure sign's --public-key and a UKI's .pcrpkey
 * hold, one PEM public key (RSA or EC, the kinds a TPM verifies). */
static int check_pcr_public_key(struct check_ctx *c, const char *pkg, const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (b == NULL)
        return cairn_errf(c->err, CAIRN_ERR_NOMEM, "out of memory");
    EVP_PKEY *k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    ERR_clear_error();
    int id = k ? EVP_PKEY_get_base_id(k) : 0;
    EVP_PKEY_free(k);
    if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC)
        return fail(c, "package %s: PCRPublicKey is not a PEM RSA or EC public key", pkg);
    return 0;
}

static int check_tee_package(struct check_ctx *c, const struct manifest_package *p)
{
    const struct tee_package *k = &p->pkg;
    const char *name = p->name;
    int rc;
    if (!empty(p->tee_name) && strcasecmp(p->tee_name, "sgx") != 0 && strcasecmp(p->tee_name, "tdx") != 0 &&
        strcasecmp(p->tee_name, "snp") != 0 && strcasecmp(p->tee_name, "tpm") != 0)
        return fail(c, "package %s: unknown TEE \"%s\" (expected sgx, tdx, snp or tpm)", name, p->tee_name);
    for (size_t i = 0; i < sizeof(field_rules) / sizeof(field_rules[0]); i++) {
        const struct field_rule *r = &field_rules[i];
        if (r->present(k) && !(r->allowed & T(k->tee)))
            return fail(c, "package %s: field %s is not allowed for TEE %s", name, r->name, tee_label(k->tee));
    }
    switch (k->tee) {
    case ATTEST_TDX:
        if ((rc = check_hex(c, name, "MRTD", k->mrtd, 48)) < 0)
            return rc;
        for (int i = 0; i < 4; i++) {
            char f[16];
            snprintf(f, sizeof(f), "RTMR[%d]", i);
            if ((rc = check_hex(c, name, f, k->rtmr[i], 48)) < 0)
                return rc;
        }
        if ((rc = check_hex(c, name, "MRConfigID", k->mr_config_id, 48)) < 0 ||
            (rc = check_hex(c, name, "MROwner", k->mr_owner, 48)) < 0 ||
            (rc = check_hex(c, name, "MROwnerConfig", k->mr_owner_config, 48)) < 0)
            return rc;
        if (k->mrtd == NULL) {
            if (!k->debug)
                return fail(c, "package %s: TEE tdx requires MRTD", name);
            warn(c, "package %s: TEE tdx without MRTD is accepted only because Debug is set", name);
        }
        if ((rc = check_pcrs(c, name, k, true)) < 0)
            return rc;
        break;
    case ATTEST_SNP:
        if ((rc = check_hex(c, name, "Measurement", k->measurement, 48)) < 0 ||
            (rc = check_hex(c, name, "HostData", k->host_data, 32)) < 0 ||
            (rc = check_hex(c, name, "IDKeyDigest", k->id_key_digest, 48)) < 0)
            return rc;
        if (k->measurement == NULL) {
            if (!k->debug)
                return fail(c, "package %s: TEE snp requires Measurement", name);
            warn(c, "package %s: TEE snp without Measurement is accepted only because Debug is set", name);
        }
        if ((rc = check_pcrs(c, name, k, true)) < 0)
            return rc;
        break;
    case ATTEST_TPM:
        if (k->n_ak_roots == 0)
            return fail(c, "package %s: TEE tpm requires AKRoots (PEM certificates)", name);
        for (size_t i = 0; i < k->n_ak_roots; i++) {
            if ((rc = check_ak_root(c, name, i, k->ak_roots_pem[i])) < 0)
                return rc;
        }
        if (k->n_pcrs == 0 && k->pcr_public_key == NULL)
            return fail(c, "package %s: TEE tpm requires PCRs or PCRPublicKey", name);
        if (k->pcr_public_key != NULL && (rc = check_pcr_public_key(c, name, k->pcr_public_key)) < 0)
            return rc;
        if ((rc = check_pcrs(c, name, k, false)) < 0)
            return rc;
        break;
    default:
        break;
    }
    return 0;
}

/* ---- the MarbleRun steps ------------------------------------------------------- */

static int check_tls(struct check_ctx *c, const struct manifest *m)
{
    for (size_t t = 0; t < m->n_tls; t++) {
        const struct manifest_tls_tag *tag = &m->tls[t];
        for (size_t i = 0; i < tag->n_incoming; i++) {
            const struct manifest_tls_entry *e = &tag->incoming[i];
            if (empty(e->port))
                return fail(c, "manifest misses Port in TLS.Incoming.%s", tag->name);
            if (!empty(e->cert)) {
                if (manifest_find_secret(m, e->cert) == NULL)
                    return fail(c, "TLS.Incoming.%s references undefined secret %s", tag->name, e->cert);
                if (!e->disable_client_auth)
                    return fail(c, "TLS.Incoming.%s defines Cert but does not disable client authentication",
                                tag->name);
            } else if (e->disable_client_auth) {
                return fail(c, "TLS.Incoming.%s disables client authentication", tag->name);
            }
        }
        for (size_t i = 0; i < tag->n_outgoing; i++) {
            const struct manifest_tls_entry *e = &tag->outgoing[i];
            if (empty(e->addr))
                return fail(c, "manifest misses Addr in TLS.Outgoing.%s", tag->name);
            if (empty(e->port))
                return fail(c, "manifest misses Port in TLS.Outgoing.%s", tag->name);
        }
    }
    return 0;
}

/* Orders user indexes by certificate, then by index (qsort is not stable). */
static int cmp_user_cert(const void *a, const void *b, void *arg)
{
    const struct manifest *m = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(m->users[x].certificate, m->users[y].certificate);
    return c != 0 ? c : (x < y ? -1 : x > y);
}

static int check_users(struct check_ctx *c, const struct manifest *m)
{
    /* first_with[u]: the first (sorted) user with u's certificate. Sorting
     * keeps this O(n log n) for large user lists. */
    size_t *order = NULL, *first_with = NULL;
    int rc = 0;
    if (m->n_users > 0) {
        order = calloc(m->n_users, sizeof(*order));
        first_with = calloc(m->n_users, sizeof(*first_with));
        if (order == NULL || first_with == NULL) {
            rc = cairn_errf(c->err, CAIRN_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t u = 0; u < m->n_users; u++)
            order[u] = u;
        qsort_r(order, m->n_users, sizeof(*order), cmp_user_cert, (void *)m);
        for (size_t i = 0; i < m->n_users; i++) {
            bool same = i > 0 && strcmp(m->users[order[i]].certificate, m->users[order[i - 1]].certificate) == 0;
            first_with[order[i]] = same ? first_with[order[i - 1]] : order[i];
        }
    }
    for (size_t u = 0; u < m->n_users && rc == 0; u++) {
        const struct manifest_user *user = &m->users[u];
        if (empty(user->certificate)) {
            rc = fail(c, "manifest does not contain a certificate for user %s", user->name);
            break;
        }
        for (size_t r = 0; r < user->n_roles && rc == 0; r++) {
            if (manifest_find_role(m, user->roles[r]) == NULL)
                rc = fail(c, "manifest specifies role %s for user %s, but role does not exist", user->roles[r],
                          user->name);
        }
        /* The first user (in sorted order) with the same certificate is the "other". */
        if (rc == 0 && first_with[u] != u)
            rc = fail(c, "manifest contains the same certificate for users %s and %s", user->name,
                      m->users[first_with[u]].name);
    }
out:
    free(order);
    free(first_with);
    return rc;
}

static int check_roles(struct check_ctx *c, const struct manifest *m)
{
    for (size_t r = 0; r < m->n_roles; r++) {
        const struct manifest_role *role = &m->roles[r];
        if (strcmp(role->resource_type, "Packages") == 0) {
            for (size_t i = 0; i < role->n_resource_names; i++) {
                if (manifest_find_package(m, role->resource_names[i]) == NULL)
                    return fail(c, "role %s: resource %s of type Packages is not defined in manifest", role->name,
                                role->resource_names[i]);
            }
            for (size_t i = 0; i < role->n_actions; i++) {
                if (strcasecmp(role->actions[i], "updatesecurityversion") != 0)
                    return fail(c, "unknown action: %s for type Packages in role: %s", role->actions[i],
                                role->name);
            }
        } else if (strcmp(role->resource_type, "Secrets") == 0) {
            bool write = false, read = false;
            for (size_t i = 0; i < role->n_actions; i++) {
                if (strcasecmp(role->actions[i], "writesecret") == 0)
                    write = true;
                else if (strcasecmp(role->actions[i], "readsecret") == 0)
                    read = true;
                else
                    return fail(c, "unknown action: %s for type Secrets in role: %s", role->actions[i],
                                role->name);
            }
            for (size_t i = 0; i < role->n_resource_names; i++) {
                const struct manifest_secret *s = manifest_find_secret(m, role->resource_names[i]);
                if (s == NULL)
                    return fail(c, "role %s: resource %s of type Secrets is not defined in manifest", role->name,
                                role->resource_names[i]);
                if (!s->user_defined && write)
                    return fail(c,
                                "manifest specifies write permission for role %s and secret %s, but secret is not "
                                "user-defined",
                                role->name, s->name);
                if (!s->shared && !s->user_defined && read)
                    return fail(c, "manifest specifies read permission for role %s and per-marble-unique secret %s",
                                role->name, s->name);
            }
        } else if (strcmp(role->resource_type, "Manifest") == 0) {
            if (role->n_resource_names != 0)
                return fail(c, "role %s: resource names are not allowed for type Manifest", role->name);
            for (size_t i = 0; i < role->n_actions; i++) {
                if (strcasecmp(role->actions[i], "updatemanifest") != 0)
                    return fail(c, "unknown action: %s for type Manifest in role: %s", role->actions[i],
                                role->name);
            }
        } else {
            return fail(c, "unrecognized resource type: %s for role: %s", role->resource_type, role->name);
        }
    }
    return 0;
}

static int check_secrets(struct check_ctx *c, const struct manifest *m)
{
    for (size_t i = 0; i < m->n_secrets; i++) {
        const struct manifest_secret *s = &m->secrets[i];
        switch (s->type) {
        case MANIFEST_SECRET_PLAIN:
        case MANIFEST_SECRET_SYMMETRIC_KEY:
            break;
        case MANIFEST_SECRET_CERT_RSA:
        case MANIFEST_SECRET_CERT_ECDSA:
        case MANIFEST_SECRET_CERT_ED25519:
            if (s->cert.has_not_after && s->valid_for != 0)
                return fail(c,
                            "ambiguous certificate validity duration for secret: %s, both NotAfter and ValidFor "
                            "are specified",
                            s->name);
            break;
        default:
            return fail(c, "unknown type: %s for secret: %s", s->type_str ? s->type_str : "", s->name);
        }
    }
    return 0;
}

static int check_update_threshold(struct check_ctx *c, const struct manifest *m)
{
    uint64_t updaters = 0;
    for (size_t u = 0; u < m->n_users; u++) {
        const struct manifest_user *user = &m->users[u];
        for (size_t r = 0; r < user->n_roles; r++) {
            const struct manifest_role *role = manifest_find_role(m, user->roles[r]);
            /* MarbleRun looks at Actions[0] only (a quirk kept for
             * compatibility); a role without actions counts as none. */
            if (role != NULL && strcmp(role->resource_type, "Manifest") == 0 && role->n_actions > 0 &&
                strcasecmp(role->actions[0], "updatemanifest") == 0) {
                updaters++;
                break;
            }
        }
    }
    if (updaters < m->config.update_threshold)
        return fail(c, "not enough users with manifest update permissions (%llu) to meet the threshold of %llu",
                    (unsigned long long)updaters, (unsigned long long)m->config.update_threshold);
    return 0;
}

static int check_config(struct check_ctx *c, const struct manifest *m)
{
    const char *sm = m->config.seal_mode ? m->config.seal_mode : "";
    if (*sm != '\0' && strcmp(sm, "ProductKey") != 0 && strcmp(sm, "UniqueKey") != 0 &&
        strcmp(sm, "Disabled") != 0)
        return fail(c, "unknown seal mode: %s", sm);
    for (size_t i = 0; i < m->config.n_feature_gates; i++) {
        const char *f = m->config.feature_gates[i];
        /* MarbleRun knows three gates (case-insensitive). AzureHSMSealing
         * (the data key additionally sealed with an Azure Key Vault HSM key
         * via Secure Key Release) is not implemented: refused rather than
         * accepted and ignored, so nobody believes the state is HSM-bound. */
        if (strcasecmp(f, "AzureHSMSealing") == 0)
            return fail(c,
                        "feature gate %s is not supported by Cairn: sealing the state key with an Azure HSM key "
                        "is not implemented (remove it from Config.FeatureGates; docs/compatibility.md)",
                        f);
        if (strcasecmp(f, "SignQuoteEndpoint") != 0 && strcasecmp(f, "MonotonicCounter") != 0)
            return fail(c, "unknown feature gate: %s", f);
    }
    uint64_t rt = m->config.recovery_threshold;
    if (rt > m->n_recovery_keys)
        return fail(c, "recovery threshold (%llu) exceeds the number of recovery keys (%zu)",
                    (unsigned long long)rt, m->n_recovery_keys);
    if (rt == 1)
        return fail(c, "recovery threshold must not be 1 (use 0 to require all %zu recovery keys)",
                    m->n_recovery_keys);
    return 0;
}

int manifest_check_ex(const struct manifest *m, void (*warnfn)(void *ctx, const char *msg), void *ctx,
                      struct cairn_error *err)
{
    struct check_ctx c = {.warn = warnfn, .warn_ctx = ctx, .err = err};
    int rc;
    if (m == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "no manifest");
    if (m->n_packages == 0)
        return fail(&c, "no allowed packages defined");
    /* extension: a manifest that only serves confidential-container
     * workloads (ConfidentialContainers, coco.c) needs no marble */
    if (m->n_marbles == 0 && m->coco.n_workloads == 0)
        return fail(&c, "no allowed marbles defined");
    for (size_t i = 0; i < m->n_marbles; i++) {
        const struct manifest_marble *mb = &m->marbles[i];
        const struct manifest_package *p = manifest_find_package(m, mb->package);
        if (p == NULL)
            return fail(&c, "manifest does not contain marble package %s", mb->package);
        if (is_sgx(p) && (rc = check_sgx_identity(&c, p)) < 0)
            return rc;
        for (size_t t = 0; t < mb->n_tls; t++) {
            if (manifest_find_tls(m, mb->tls[t]) == NULL)
                return fail(&c, "manifest misses TLS entry for %s", mb->tls[t]);
        }
    }
    /* Extension: every package, referenced or not, must be a well-formed
     * identity of its TEE. */
    for (size_t i = 0; i < m->n_packages; i++) {
        if ((rc = check_tee_package(&c, &m->packages[i])) < 0)
            return rc;
    }
    if ((rc = check_tls(&c, m)) < 0 || (rc = check_users(&c, m)) < 0 || (rc = check_roles(&c, m)) < 0 ||
        (rc = check_secrets(&c, m)) < 0 || (rc = check_update_threshold(&c, m)) < 0 ||
        (rc = check_config(&c, m)) < 0)
        return rc;
    /* Extension: confidential-container workloads (coco.c) */
    return mf_coco_check(m, err);
}

int manifest_check(const struct manifest *m, struct cairn_error *err)
{
    return manifest_check_ex(m, NULL, NULL, err);
}

/* ---- update manifests ------------------------------------------------------------ */

bool manifest_is_update_manifest(const struct manifest *m)
{
    return m->n_infrastructures == 0 && m->n_marbles == 0 && m->n_users == 0 && m->n_recovery_keys == 0 &&
           m->n_roles == 0 && m->n_secrets == 0 && m->n_tls == 0 && m->coco.version == 0;
}

int manifest_check_update(const struct manifest *update, const struct manifest_package *current,
                          size_t n_current, struct cairn_error *err)
{
    if (update->n_packages == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "no packages defined");
    for (size_t i = 0; i < update->n_packages; i++) {
        const struct manifest_package *u = &update->packages[i];
        const struct manifest_package *o = mf_find(current, n_current, sizeof(*current), u->name);
        const struct tee_package *k = &u->pkg;
        if (o == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "update manifest specifies a package which the original manifest does not contain");
        bool other = u->tee_name != NULL;
        for (size_t f = 0; f < sizeof(field_rules) / sizeof(field_rules[0]); f++) {
            if (field_rules[f].present != has_svn && field_rules[f].present(k))
                other = true;
        }
        if (k->debug || !empty(k->unique_id) || !empty(k->signer_id) || k->has_product_id || other)
            return cairn_errf(err, CAIRN_ERR_INVALID, "update manifest contains unupdatable values");
        if (!k->has_security_version)
            return cairn_errf(err, CAIRN_ERR_INVALID, "update manifest does not specify a SecurityVersion to update");
        if (o->pkg.has_security_version && k->security_version < o->pkg.security_version)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "update manifest tries to downgrade SecurityVersion of the original manifest");
    }
    return 0;
}
