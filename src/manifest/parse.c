/* Manifest JSON decoding with Go encoding/json semantics (inventory §1).
 *
 * Only known fields are read (unknown keys are ignored, as Go does); every map
 * becomes an array sorted by name so later stages iterate deterministically.
 * Decoding is all-or-nothing: on any error everything built so far is freed. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/encoding.h"
#include "manifest/manifest_internal.h"

typedef int (*decode_fn)(const json_t *v, const char *path, void *elem, struct cairn_error *err);
typedef void (*clear_fn)(void *elem);

static int nomem(struct cairn_error *err)
{
    return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
}

static void join(char *buf, size_t size, const char *path, const char *field)
{
    snprintf(buf, size, "%s%s%s", path, *path ? "." : "", field);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks that `v` is an object (null counts as an empty one) of bounded size
 * with NUL-free keys. */
static int check_object(const json_t *v, const char *path, struct cairn_error *err)
{
    const char *key;
    json_t *val;
    if (json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: expected an object, got %s", path, mf_json_type(v));
    if (json_object_size(v) > MANIFEST_MAX_ENTRIES)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: more than %d entries", path, MANIFEST_MAX_ENTRIES);
    json_object_foreach((json_t *)v, key, val) {
        if (json_object_iter_key_len(json_object_key_to_iter(key)) != strlen(key))
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s: a key contains a NUL byte", path);
    }
    return 0;
}

/* Decodes the map at obj[field] into a sorted array of `esize`-byte elements
 * whose first member is `char *name`. Absent or null gives 0 entries. */
static int decode_map(const json_t *obj, const char *field, const char *path, size_t esize, decode_fn dec,
                      clear_fn clr, void **out, size_t *n_out, struct cairn_error *err)
{
    char mpath[MF_PATH_MAX], epath[MF_PATH_MAX];
    json_t *m = mf_obj_get(obj, field);
    const char *key;
    json_t *val;
    int rc;
    join(mpath, sizeof(mpath), path, field);
    if (m == NULL || json_is_null(m))
        return 0;
    if ((rc = check_object(m, mpath, err)) < 0)
        return rc;
    size_t n = json_object_size(m), i = 0;
    if (n == 0)
        return 0;
    uint8_t *arr = calloc(n, esize);
    if (arr == NULL)
        return nomem(err);
    json_object_foreach(m, key, val) {
        void *e = arr + i * esize;
        char *name = strdup(key);
        if (name == NULL) {
            rc = nomem(err);
            goto fail;
        }
        *(char **)e = name;
        i++;
        join(epath, sizeof(epath), mpath, key);
        if ((rc = dec(val, epath, e, err)) < 0)
            goto fail;
    }
    qsort(arr, n, esize, cmp_name);
    *out = arr;
    *n_out = n;
    return 0;
fail:
    for (size_t k = 0; k < i; k++)
        clr(arr + k * esize);
    free(arr);
    return rc;
}

/* []string: absent/null leaves the outputs untouched (*present stays false). */
static int get_strv(const json_t *obj, const char *field, const char *path, bool *present, char ***out,
                    size_t *n_out, struct cairn_error *err)
{
    char fpath[MF_PATH_MAX];
    json_t *a = mf_obj_get(obj, field);
    join(fpath, sizeof(fpath), path, field);
    if (a == NULL || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: expected an array of strings, got %s", fpath,
                          mf_json_type(a));
    size_t n = json_array_size(a);
    if (n > MANIFEST_MAX_ENTRIES)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: more than %d entries", fpath, MANIFEST_MAX_ENTRIES);
    char **v = calloc(n + 1, sizeof(char *));
    if (v == NULL)
        return nomem(err);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(a, i);
        const char *s = "";
        if (json_is_string(e)) {
            s = json_string_value(e);
            if (strlen(s) != json_string_length(e)) {
                mf_strv_free(v, i);
                return cairn_errf(err, CAIRN_ERR_INVALID, "%s[%zu]: must not contain NUL bytes", fpath, i);
            }
        } else if (!json_is_null(e)) { /* Go: null leaves the zero value "" */
            mf_strv_free(v, i);
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s[%zu]: expected a string, got %s", fpath, i,
                              mf_json_type(e));
        }
        if ((v[i] = strdup(s)) == NULL) {
            mf_strv_free(v, i);
            return nomem(err);
        }
    }
    mf_strv_free(*out, *n_out);
    *out = v;
    *n_out = n;
    if (present != NULL)
        *present = true;
    return 0;
}

/* A string field that must be present as "" rather than NULL when absent. */
static int get_string_or_empty(const json_t *obj, const char *field, const char *path, char **out,
                               struct cairn_error *err)
{
    int rc = mf_get_string(obj, field, path, out, err);
    if (rc == 0 && *out == NULL && (*out = strdup("")) == NULL)
        return nomem(err);
    return rc;
}

static int require_object(const json_t *v, const char *path, struct cairn_error *err)
{
    return check_object(v, path, err);
}

/* ---- Packages ------------------------------------------------------------- */

static void package_clear(void *e)
{
    struct manifest_package *p = e;
    free(p->name);
    free(p->tee_name);
    tee_package_free(&p->pkg);
    memset(p, 0, sizeof(*p));
}

static int decode_rtmr(const json_t *v, const char *path, struct tee_package *pkg, struct cairn_error *err)
{
    char fpath[MF_PATH_MAX];
    json_t *r = mf_obj_get(v, "RTMR");
    const char *key;
    json_t *val;
    int rc;
    join(fpath, sizeof(fpath), path, "RTMR");
    if (r == NULL || json_is_null(r))
        return 0;
    if ((rc = check_object(r, fpath, err)) < 0)
        return rc;
    json_object_foreach(r, key, val) {
        if (strlen(key) != 1 || key[0] < '0' || key[0] > '3')
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s: register \"%s\" is not one of \"0\"..\"3\"", fpath,
                              key);
        int idx = key[0] - '0';
        if (!json_is_string(val))
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s.%s: expected a hex string, got %s", fpath, key,
                              mf_json_type(val));
        char *s = strdup(json_string_value(val));
        if (s == NULL)
            return nomem(err);
        free(pkg->rtmr[idx]);
        pkg->rtmr[idx] = s;
    }
    return 0;
}

static int decode_pcrs(const json_t *v, const char *path, struct tee_package *pkg, struct cairn_error *err)
{
    char fpath[MF_PATH_MAX], bpath[MF_PATH_MAX];
    json_t *r = mf_obj_get(v, "PCRs");
    const char *bank, *idx;
    json_t *bv, *val;
    int rc;
    join(fpath, sizeof(fpath), path, "PCRs");
    if (r == NULL || json_is_null(r))
        return 0;
    if ((rc = check_object(r, fpath, err)) < 0)
        return rc;
    size_t total = 0;
    json_object_foreach(r, bank, bv) {
        join(bpath, sizeof(bpath), fpath, bank);
        if ((rc = check_object(bv, bpath, err)) < 0)
            return rc;
        total += json_is_object(bv) ? json_object_size(bv) : 0;
    }
    if (total > MANIFEST_MAX_ENTRIES)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: more than %d PCRs", fpath, MANIFEST_MAX_ENTRIES);
    if (total == 0)
        return 0;
    struct tee_pcr *pcrs = calloc(total, sizeof(*pcrs));
    if (pcrs == NULL)
        return nomem(err);
    size_t n = 0;
    json_object_foreach(r, bank, bv) {
        if (!json_is_object(bv))
            continue;
        join(bpath, sizeof(bpath), fpath, bank);
        json_object_foreach(bv, idx, val) {
            size_t len = strlen(idx);
            unsigned long index = 0;
            bool ok = len >= 1 && len <= 4;
            for (size_t k = 0; ok && k < len; k++) {
                ok = idx[k] >= '0' && idx[k] <= '9';
                index = index * 10 + (unsigned long)(idx[k] - '0');
            }
            if (!ok) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: PCR index \"%s\" is not a decimal number", bpath,
                                idx);
                goto fail;
            }
            if (!json_is_string(val)) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s.%s: expected a hex string, got %s", bpath, idx,
                                mf_json_type(val));
                goto fail;
            }
            pcrs[n].bank = strdup(bank);
            pcrs[n].value_hex = strdup(json_string_value(val));
            pcrs[n].index = (unsigned)index;
            n++;
            if (pcrs[n - 1].bank == NULL || pcrs[n - 1].value_hex == NULL) {
                rc = nomem(err);
                goto fail;
            }
        }
    }
    pkg->pcrs = pcrs;
    pkg->n_pcrs = n;
    return 0;
fail:
    for (size_t k = 0; k < n; k++) {
        free(pcrs[k].bank);
        free(pcrs[k].value_hex);
    }
    free(pcrs);
    return rc;
}

static int decode_package(const json_t *v, const char *path, void *elem, struct cairn_error *err)
{
    struct manifest_package *p = elem;
    struct tee_package *k = &p->pkg;
    uint64_t u = 0;
    int rc;
    if ((rc = require_object(v, path, err)) < 0)
        return rc;
    k->tee = ATTEST_SGX;
    if ((rc = mf_get_string(v, "TEE", path, &p->tee_name, err)) < 0 ||
        (rc = mf_get_bool(v, "Debug", path, &k->debug, err)) < 0 ||
        (rc = mf_get_string(v, "UniqueID", path, &k->unique_id, err)) < 0 ||
        (rc = mf_get_string(v, "SignerID", path, &k->signer_id, err)) < 0 ||
        (rc = mf_get_uint(v, "ProductID", path, UINT64_MAX, &k->has_product_id, &k->product_id, err)) < 0 ||
        (rc = mf_get_uint(v, "SecurityVersion", path, UINT64_MAX, &k->has_security_version,
                          &k->security_version, err)) < 0 ||
        (rc = get_strv(v, "AcceptedTCBStatuses", path, NULL, &k->accepted_tcb_statuses,
                       &k->n_accepted_tcb_statuses, err)) < 0 ||
        (rc = get_strv(v, "AcceptedAdvisories", path, NULL, &k->accepted_advisories,
                       &k->n_accepted_advisories, err)) < 0 ||
        (rc = mf_get_string(v, "MRTD", path, &k->mrtd, err)) < 0 ||
        (rc = decode_rtmr(v, path, k, err)) < 0 ||
        (rc = mf_get_string(v, "MRConfigID", path, &k->mr_config_id, err)) < 0 ||
        (rc = mf_get_string(v, "MROwner", path, &k->mr_owner, err)) < 0 ||
        (rc = mf_get_string(v, "MROwnerConfig", path, &k->mr_owner_config, err)) < 0 ||
        (rc = mf_get_string(v, "Measurement", path, &k->measurement, err)) < 0 ||
        (rc = mf_get_string(v, "HostData", path, &k->host_data, err)) < 0 ||
        (rc = mf_get_string(v, "IDKeyDigest", path, &k->id_key_digest, err)) < 0 ||
        (rc = mf_get_uint(v, "GuestSVN", path, UINT32_MAX, &k->has_guest_svn, &u, err)) < 0 ||
        (rc = get_strv(v, "AKRoots", path, NULL, &k->ak_roots_pem, &k->n_ak_roots, err)) < 0 ||
        (rc = mf_get_string(v, "PCRPublicKey", path, &k->pcr_public_key, err)) < 0 ||
        (rc = decode_pcrs(v, path, k, err)) < 0)
        return rc;
    k->guest_svn = (uint32_t)u;
    json_t *tcb = mf_obj_get(v, "MinimumTCB");
    if (tcb != NULL && !json_is_null(tcb)) {
        char tpath[MF_PATH_MAX];
        uint64_t b = 0, t = 0, s = 0, m = 0;
        join(tpath, sizeof(tpath), path, "MinimumTCB");
        if ((rc = require_object(tcb, tpath, err)) < 0 ||
            (rc = mf_get_uint(tcb, "Bootloader", tpath, UINT8_MAX, NULL, &b, err)) < 0 ||
            (rc = mf_get_uint(tcb, "TEE", tpath, UINT8_MAX, NULL, &t, err)) < 0 ||
            (rc = mf_get_uint(tcb, "SNP", tpath, UINT8_MAX, NULL, &s, err)) < 0 ||
            (rc = mf_get_uint(tcb, "Microcode", tpath, UINT8_MAX, NULL, &m, err)) < 0)
            return rc;
        k->has_minimum_tcb = true;
        k->minimum_tcb.bootloader = (uint8_t)b;
        k->minimum_tcb.tee = (uint8_t)t;
        k->minimum_tcb.snp = (uint8_t)s;
        k->minimum_tcb.microcode = (uint8_t)m;
    }
    if (p->tee_name != NULL) {
        static const struct { const char *n; enum attest_type t; } tees[] = {
            {"sgx", ATTEST_SGX}, {"tdx", ATTEST_TDX}, {"snp", ATTEST_SNP}, {"tpm", ATTEST_TPM}};
        for (size_t i = 0; i < sizeof(tees) / sizeof(tees[0]); i++) {
            if (strcasecmp(p->tee_name, tees[i].n) == 0)
                k->tee = tees[i].t;
        }
    }
    return 0;
}

/* ---- Infrastructures ---------------------------------------------------------- */

static void infra_clear(void *e)
{
    struct manifest_infrastructure *p = e;
    free(p->name);
    free(p->cpusvn);
    free(p->root_ca);
    memset(p, 0, sizeof(*p));
}

static int decode_infra(const json_t *v, const char *path, void *elem, struct cairn_error *err)
{
    struct manifest_infrastructure *p = elem;
    uint64_t q = 0, pc = 0;
    int rc;
    if ((rc = require_object(v, path, err)) < 0 ||
        (rc = mf_get_bytes(v, "CPUSVN", path, &p->cpusvn, &p->cpusvn_len, err)) < 0 ||
        (rc = mf_get_uint(v, "QESVN", path, UINT16_MAX, &p->has_qesvn, &q, err)) < 0 ||
        (rc = mf_get_uint(v, "PCESVN", path, UINT16_MAX, &p->has_pcesvn, &pc, err)) < 0 ||
        (rc = mf_get_bytes(v, "RootCA", path, &p->root_ca, &p->root_ca_len, err)) < 0)
        return rc;
    p->qesvn = (uint16_t)q;
    p->pcesvn = (uint16_t)pc;
    return 0;
}

/* ---- Marbles ------------------------------------------------------------------ */

static void file_clear(void *e)
{
    mf_file_clear(e);
}

static int set_data(struct manifest_file *f, const uint8_t *p, size_t n, struct cairn_error *err)
{
    uint8_t *d = malloc(n + 1);
    if (d == NULL)
        return nomem(err);
    if (n > 0)
        memcpy(d, p, n);
    d[n] = 0;
    f->data = d;
    f->len = n;
    return 0;
}

static int decode_file(const json_t *v, const char *path, void *elem, struct cairn_error *err)
{
    struct manifest_file *f = elem;
    int rc;
    if (json_is_string(v) || json_is_null(v)) {
        if ((f->encoding = strdup("string")) == NULL)
            return nomem(err);
        if (json_is_null(v))
            return set_data(f, (const uint8_t *)"", 0, err);
        return set_data(f, (const uint8_t *)json_string_value(v), json_string_length(v), err);
    }
    if (!json_is_object(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: expected a string or an object, got %s", path,
                          mf_json_type(v));
    json_t *data = mf_obj_get(v, "Data");
    if (data != NULL && !json_is_null(data) && !json_is_string(data))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s.Data: expected a string, got %s", path,
                          mf_json_type(data));
    if ((rc = mf_get_string(v, "Encoding", path, &f->encoding, err)) < 0 ||
        (rc = mf_get_bool(v, "NoTemplates", path, &f->no_templates, err)) < 0)
        return rc;
    if (f->encoding == NULL || f->encoding[0] == '\0') {
        free(f->encoding);
        if ((f->encoding = strdup("string")) == NULL)
            return nomem(err);
    }
    const char *s = json_is_string(data) ? json_string_value(data) : "";
    size_t n = json_is_string(data) ? json_string_length(data) : 0;
    if (strcasecmp(f->encoding, "string") == 0)
        return set_data(f, (const uint8_t *)s, n, err);
    uint8_t *dec = NULL;
    size_t dlen = 0;
    if (strcasecmp(f->encoding, "base64") == 0)
        rc = mf_base64_decode_go(s, n, &dec, &dlen);
    else if (strcasecmp(f->encoding, "hex") == 0)
        rc = cairn_hex_decode(s, n, &dec, &dlen);
    else
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: unknown encoding type: %s", path, f->encoding);
    if (rc == CAIRN_ERR_NOMEM)
        return nomem(err);
    if (rc < 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s.Data: invalid %s data", path, f->encoding);
    rc = set_data(f, dec, dlen, err);
    OPENSSL_cleanse(dec, dlen);
    free(dec);
    return rc;
}

static void marble_clear(void *e)
{
    struct manifest_marble *m = e;
    free(m->name);
    free(m->package);
    for (size_t i = 0; i < m->n_files; i++)
        mf_file_clear(&m->files[i]);
    free(m->files);
    for (size_t i = 0; i < m->n_env; i++)
        mf_file_clear(&m->env[i]);
    free(m->env);
    mf_strv_free(m->argv, m->n_argv);
    mf_strv_free(m->tls, m->n_tls);
    memset(m, 0, sizeof(*m));
}

static int decode_marble(const json_t *v, const char *path, void *elem, struct cairn_error *err)
{
    struct manifest_marble *m = elem;
    char ppath[MF_PATH_MAX];
    int rc;
    if ((rc = require_object(v, path, err)) < 0 ||
        (rc = get_string_or_empty(v, "Package", path, &m->package, err)) < 0 ||
        (rc = mf_get_uint(v, "MaxActivations", path, UINT64_MAX, NULL, &m->max_activations, err)) < 0 ||
        (rc = get_strv(v, "TLS", path, NULL, &m->tls, &m->n_tls, err)) < 0 ||
        (rc = mf_get_bool(v, "DisableSecretBinding", path, &m->disable_secret_binding, err)) < 0)
        return rc;
    json_t *params = mf_obj_get(v, "Parameters");
    join(ppath, sizeof(ppath), path, "Parameters");
    if (params == NULL || json_is_null(params))
        return 0;
    if ((rc = require_object(params, ppath, err)) < 0 ||
        (rc = decode_map(params, "Files", ppath, sizeof(struct manifest_file), decode_file, file_clear,
                         (void **)&m->files, &m->n_files, err)) < 0 ||
        (rc = decode_map(params, "Env", ppath, sizeof(struct manifest_file), decode_file, file_clear,
                         (void **)&m->env, &m->n_env, err)) < 0 ||
        (rc = get_strv(params, "Argv", ppath, NULL, &m->argv, &m->n_argv, err)) < 0)
        return rc;
    return 0;
}

/* ---- Secrets ------------------------------------------------------------------ */

static void cert_template_clear(struct manifest_cert_template *c)
{
    free(c->subject.common_name);
    free(c->subject.serial_number);
    free(c->subject.country);
    free(c->subject.organization);
    free(c->subject.organizational_unit);
    free(c->subject.locality);
    free(c->subject.province);
    free(c->subject.street_address);
    free(c->subject.postal_code);
    mf_strv_free(c->dns_names, c->n_dns_names);
    mf_strv_free(c->ip_addresses, c->n_ip_addresses);
    mf_strv_free(c->email_addresses, c->n_email_addresses);
    free(c->ext_key_usage);
    memset(c, 0, sizeof(*c));
}

static void secret_clear(void *e)
{
    struct manifest_secret *s = e;
    free(s->name);
    free(s->type_str);
    cert_template_clear(&s->cert);
    memset(s, 0, sizeof(*s));
}

/* pkix.Name: the []string fields keep their first element only. */
static int first_of(const json_t *obj, const char *field, const char *path, char **out, struct cairn_error *err)
{
    char **v = NULL;
    size_t n = 0;
    int rc = get_strv(obj, field, path, NULL, &v, &n, err);
    if (rc < 0)
        return rc;
    if (n > 0) {
        *out = v[0];
        v[0] = NULL;
    }
    mf_strv_free(v, n);
    return 0;
}

static int decode_cert_template(const json_t *c, const char *path, struct manifest_cert_template *t,
                                struct cairn_error *err)
{
    char spath[MF_PATH_MAX];
    int rc;
    t->max_path_len = -1;
    if ((rc = require_object(c, path, err)) < 0)
        return rc;
    json_t *subj = mf_obj_get(c, "Subject");
    join(spath, sizeof(spath), path, "Subject");
    if (subj != NULL && !json_is_null(subj)) {
        if ((rc = require_object(subj, spath, err)) < 0 ||
            (rc = mf_get_string(subj, "CommonName", spath, &t->subject.common_name, err)) < 0 ||
            (rc = mf_get_string(subj, "SerialNumber", spath, &t->subject.serial_number, err)) < 0 ||
            (rc = first_of(subj, "Country", spath, &t->subject.country, err)) < 0 ||
            (rc = first_of(subj, "Organization", spath, &t->subject.organization, err)) < 0 ||
            (rc = first_of(subj, "OrganizationalUnit", spath, &t->subject.organizational_unit, err)) < 0 ||
            (rc = first_of(subj, "Locality", spath, &t->subject.locality, err)) < 0 ||
            (rc = first_of(subj, "Province", spath, &t->subject.province, err)) < 0 ||
            (rc = first_of(subj, "StreetAddress", spath, &t->subject.street_address, err)) < 0 ||
            (rc = first_of(subj, "PostalCode", spath, &t->subject.postal_code, err)) < 0)
            return rc;
    }
    if ((rc = get_strv(c, "DNSNames", path, &t->has_dns_names, &t->dns_names, &t->n_dns_names, err)) < 0 ||
        (rc = get_strv(c, "IPAddresses", path, &t->has_ip_addresses, &t->ip_addresses, &t->n_ip_addresses,
                       err)) < 0 ||
        (rc = get_strv(c, "EmailAddresses", path, NULL, &t->email_addresses, &t->n_email_addresses, err)) < 0 ||
        (rc = mf_get_bool(c, "IsCA", path, &t->is_ca, err)) < 0 ||
        (rc = mf_get_bool(c, "MaxPathLenZero", path, &t->max_path_len_zero, err)) < 0)
        return rc;
    for (size_t i = 0; i < t->n_ip_addresses; i++) {
        uint8_t buf[16];
        if (inet_pton(AF_INET, t->ip_addresses[i], buf) != 1 && inet_pton(AF_INET6, t->ip_addresses[i], buf) != 1)
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s.IPAddresses[%zu]: invalid IP address \"%s\"", path, i,
                              t->ip_addresses[i]);
    }
    uint64_t ku = 0;
    if ((rc = mf_get_uint(c, "KeyUsage", path, 511, NULL, &ku, err)) < 0)
        return rc;
    t->key_usage = (unsigned)ku;
    json_t *mpl = mf_obj_get(c, "MaxPathLen");
    if (mpl != NULL && !json_is_null(mpl)) {
        if (!json_is_integer(mpl) || json_integer_value(mpl) < -1 || json_integer_value(mpl) > 1000)
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s.MaxPathLen: expected an integer -1..1000", path);
        t->max_path_len = (int)json_integer_value(mpl);
        if (t->max_path_len == 0 && !t->max_path_len_zero)
            t->max_path_len = -1; /* Go: 0 without MaxPathLenZero means unset */
    }
    json_t *eku = mf_obj_get(c, "ExtKeyUsage");
    if (eku != NULL && !json_is_null(eku)) {
        if (!json_is_array(eku))
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s.ExtKeyUsage: expected an array of integers, got %s",
                              path, mf_json_type(eku));
        size_t n = json_array_size(eku);
        if (n > 64)
            return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s.ExtKeyUsage: more than 64 entries", path);
        t->ext_key_usage = calloc(n + 1, sizeof(int));
        if (t->ext_key_usage == NULL)
            return nomem(err);
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(eku, i);
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 13)
                return cairn_errf(err, CAIRN_ERR_INVALID,
                                  "%s.ExtKeyUsage[%zu]: expected an x509.ExtKeyUsage value (0..13)", path, i);
            t->ext_key_usage[i] = (int)json_integer_value(e);
        }
        t->n_ext_key_usage = n;
        t->has_ext_key_usage = true;
    }
    char *na = NULL;
    if ((rc = mf_get_string(c, "NotAfter", path, &na, err)) < 0)
        return rc;
    if (na != NULL) {
        bool zero = false;
        time_t tt;
        if (mf_time_parse(na, &tt, &zero) < 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s.NotAfter: \"%s\" is not an RFC 3339 time", path, na);
            free(na);
            return rc;
        }
        free(na);
        if (!zero) {
            t->has_not_after = true;
            t->not_after = tt;
        }
    }
    return 0;
}

static int decode_secret(const json_t *v, const char *path, void *elem, struct cairn_error *err)
{
    struct manifest_secret *s = elem;
    int rc;
    if ((rc = require_object(v, path, err)) < 0 ||
        (rc = get_string_or_empty(v, "Type", path, &s->type_str, err)) < 0 ||
        (rc = mf_get_uint(v, "Size", path, UINT64_MAX, NULL, &s->size, err)) < 0 ||
        (rc = mf_get_bool(v, "Shared", path, &s->shared, err)) < 0 ||
        (rc = mf_get_bool(v, "UserDefined", path, &s->user_defined, err)) < 0 ||
        (rc = mf_get_uint(v, "ValidFor", path, UINT64_MAX, NULL, &s->valid_for, err)) < 0)
        return rc;
    s->type = manifest_secret_type_parse(s->type_str);
    s->cert.max_path_len = -1;
    json_t *c = mf_obj_get(v, "Cert");
    if (c != NULL && !json_is_null(c)) {
        char cpath[MF_PATH_MAX];
        join(cpath, sizeof(cpath), path, "Cert");
        if (!json_is_object(c))
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "%s: expected a certificate template object, got %s", cpath, mf_json_type(c));
        if ((rc = decode_cert_template(c, cpath, &s->cert, err)) < 0)
            return rc;
        s->has_cert = true;
    }
    return 0;
}

/* ---- Users, Roles, RecoveryKeys, TLS ----------------------------------------- */

static void user_clear(void *e)
{
    struct manifest_user *u = e;
    free(u->name);
    free(u->certificate);
    mf_strv_free(u->roles, u->n_roles);
    memset(u, 0, sizeof(*u));
}

static int decode_user(const json_t *v, const char *path, void *elem, struct cairn_error *err)
{
    struct manifest_user *u = elem;
    int rc;
    if ((rc = require_object(v, path, err)) < 0 ||
        (rc = get_string_or_empty(v, "Certificate", path, &u->certificate, err)) < 0 ||
        (rc = get_strv(v, "Roles", path, NULL, &u->roles, &u->n_roles, err)) < 0)
        return rc;
    return 0;
}

static void role_clear(void *e)
{
    struct manifest_role *r = e;
    free(r->name);
    free(r->resource_type);
    mf_strv_free(r->resource_names, r->n_resource_names);
    mf_strv_free(r->actions, r->n_actions);
    memset(r, 0, sizeof(*r));
}

static int decode_role(const json_t *v, const char *path, void *elem, struct cairn_error *err)
{
    struct manifest_role *r = elem;
    int rc;
    if ((rc = require_object(v, path, err)) < 0 ||
        (rc = get_string_or_empty(v, "ResourceType", path, &r->resource_type, err)) < 0 ||
        (rc = get_strv(v, "ResourceNames", path, NULL, &r->resource_names, &r->n_resource_names, err)) < 0 ||
        (rc = get_strv(v, "Actions", path, NULL, &r->actions, &r->n_actions, err)) < 0)
        return rc;
    return 0;
}

static void rkey_clear(void *e)
{
    struct manifest_recovery_key *k = e;
    free(k->name);
    free(k->pem);
    memset(k, 0, sizeof(*k));
}

static int decode_rkey(const json_t *v, const char *path, void *elem, struct cairn_error *err)
{
    struct manifest_recovery_key *k = elem;
    if (json_is_null(v))
        v = json_string("");   /* Go: null leaves the zero value */
    else
        json_incref((json_t *)v);
    int rc = 0;
    if (!json_is_string(v))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: expected a PEM string, got %s", path, mf_json_type(v));
    else if (strlen(json_string_value(v)) != json_string_length(v))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: must not contain NUL bytes", path);
    else if ((k->pem = strdup(json_string_value(v))) == NULL)
        rc = nomem(err);
    json_decref((json_t *)v);
    return rc;
}

static void tls_entries_free(struct manifest_tls_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].port);
        free(e[i].addr);
        free(e[i].cert);
    }
    free(e);
}

static int decode_tls_entries(const json_t *v, const char *field, const char *path,
                              struct manifest_tls_entry **out, size_t *n_out, struct cairn_error *err)
{
    char fpath[MF_PATH_MAX], epath[MF_PATH_MAX + 24];
    json_t *a = mf_obj_get(v, field);
    int rc;
    join(fpath, sizeof(fpath), path, field);
    if (a == NULL || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: expected an array, got %s", fpath, mf_json_type(a));
    size_t n = json_array_size(a);
    if (n > MANIFEST_MAX_ENTRIES)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: more than %d entries", fpath, MANIFEST_MAX_ENTRIES);
    if (n == 0)
        return 0;
    struct manifest_tls_entry *e = calloc(n, sizeof(*e));
    if (e == NULL)
        return nomem(err);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(a, i);
        snprintf(epath, sizeof(epath), "%s[%zu]", fpath, i);
        if ((rc = require_object(o, epath, err)) < 0 ||
            (rc = get_string_or_empty(o, "Port", epath, &e[i].port, err)) < 0 ||
            (rc = get_string_or_empty(o, "Addr", epath, &e[i].addr, err)) < 0 ||
            (rc = get_string_or_empty(o, "Cert", epath, &e[i].cert, err)) < 0 ||
            (rc = mf_get_bool(o, "DisableClientAuth", epath, &e[i].disable_client_auth, err)) < 0) {
            tls_entries_free(e, n);
            return rc;
        }
    }
    *out = e;
    *n_out = n;
    return 0;
}

static void tls_clear(void *elem)
{
    struct manifest_tls_tag *t = elem;
    free(t->name);
    tls_entries_free(t->outgoing, t->n_outgoing);
    tls_entries_free(t->incoming, t->n_incoming);
    memset(t, 0, sizeof(*t));
}

static int decode_tls(const json_t *v, const char *path, void *elem, struct cairn_error *err)
{
    struct manifest_tls_tag *t = elem;
    int rc;
    if ((rc = require_object(v, path, err)) < 0 ||
        (rc = decode_tls_entries(v, "Outgoing", path, &t->outgoing, &t->n_outgoing, err)) < 0 ||
        (rc = decode_tls_entries(v, "Incoming", path, &t->incoming, &t->n_incoming, err)) < 0)
        return rc;
    return 0;
}

/* ---- top level ------------------------------------------------------------------ */

static int decode_config(const json_t *root, struct manifest_config *c, struct cairn_error *err)
{
    json_t *v = mf_obj_get(root, "Config");
    int rc;
    if (v != NULL && !json_is_null(v)) {
        if ((rc = require_object(v, "Config", err)) < 0 ||
            (rc = mf_get_string(v, "SealMode", "Config", &c->seal_mode, err)) < 0 ||
            (rc = get_strv(v, "FeatureGates", "Config", NULL, &c->feature_gates, &c->n_feature_gates, err)) < 0 ||
            (rc = mf_get_uint(v, "UpdateThreshold", "Config", UINT64_MAX, NULL, &c->update_threshold, err)) < 0 ||
            (rc = mf_get_uint(v, "RecoveryThreshold", "Config", UINT64_MAX, NULL, &c->recovery_threshold, err)) < 0 ||
            (rc = mf_get_bool(v, "RotateRootSecret", "Config", &c->rotate_root_secret, err)) < 0)
            return rc;
    }
    if (c->seal_mode == NULL && (c->seal_mode = strdup("")) == NULL)
        return nomem(err);
    return 0;
}

void manifest_free(struct manifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_packages; i++)
        package_clear(&m->packages[i]);
    free(m->packages);
    for (size_t i = 0; i < m->n_infrastructures; i++)
        infra_clear(&m->infrastructures[i]);
    free(m->infrastructures);
    for (size_t i = 0; i < m->n_marbles; i++)
        marble_clear(&m->marbles[i]);
    free(m->marbles);
    for (size_t i = 0; i < m->n_secrets; i++)
        secret_clear(&m->secrets[i]);
    free(m->secrets);
    for (size_t i = 0; i < m->n_users; i++)
        user_clear(&m->users[i]);
    free(m->users);
    for (size_t i = 0; i < m->n_roles; i++)
        role_clear(&m->roles[i]);
    free(m->roles);
    for (size_t i = 0; i < m->n_recovery_keys; i++)
        rkey_clear(&m->recovery_keys[i]);
    free(m->recovery_keys);
    for (size_t i = 0; i < m->n_tls; i++)
        tls_clear(&m->tls[i]);
    free(m->tls);
    free(m->config.seal_mode);
    mf_strv_free(m->config.feature_gates, m->config.n_feature_gates);
    mf_coco_clear(&m->coco);
    free(m);
}

int mf_load(const uint8_t *json, size_t len, json_t **out, struct cairn_error *err)
{
    json_error_t jerr;
    if (json == NULL || out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "manifest: no input");
    if (len > MANIFEST_MAX_SIZE)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "manifest: %zu bytes exceed the limit of %d", len,
                          MANIFEST_MAX_SIZE);
    /* Duplicate keys are allowed (Go: last wins); NUL is allowed inside strings
     * so that Env values with NUL can be reported by the dry run. */
    json_t *root = json_loadb((const char *)json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (root == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "manifest: invalid JSON at line %d, column %d: %s", jerr.line,
                          jerr.column, jerr.text);
    *out = root;
    return 0;
}

int mf_decode(const json_t *root, struct manifest **out, struct cairn_error *err)
{
    int rc;
    struct manifest *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return nomem(err);
    if (!json_is_object(root) && !json_is_null(root)) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "manifest: expected a JSON object, got %s", mf_json_type(root));
        goto fail;
    }
    if ((rc = check_object(root, "manifest", err)) < 0 ||
        (rc = decode_map(root, "Packages", "", sizeof(struct manifest_package), decode_package, package_clear,
                         (void **)&m->packages, &m->n_packages, err)) < 0 ||
        (rc = decode_map(root, "Infrastructures", "", sizeof(struct manifest_infrastructure), decode_infra,
                         infra_clear, (void **)&m->infrastructures, &m->n_infrastructures, err)) < 0 ||
        (rc = decode_map(root, "Marbles", "", sizeof(struct manifest_marble), decode_marble, marble_clear,
                         (void **)&m->marbles, &m->n_marbles, err)) < 0 ||
        (rc = decode_map(root, "Secrets", "", sizeof(struct manifest_secret), decode_secret, secret_clear,
                         (void **)&m->secrets, &m->n_secrets, err)) < 0 ||
        (rc = decode_map(root, "Users", "", sizeof(struct manifest_user), decode_user, user_clear,
                         (void **)&m->users, &m->n_users, err)) < 0 ||
        (rc = decode_map(root, "Roles", "", sizeof(struct manifest_role), decode_role, role_clear,
                         (void **)&m->roles, &m->n_roles, err)) < 0 ||
        (rc = decode_map(root, "RecoveryKeys", "", sizeof(struct manifest_recovery_key), decode_rkey, rkey_clear,
                         (void **)&m->recovery_keys, &m->n_recovery_keys, err)) < 0 ||
        (rc = decode_map(root, "TLS", "", sizeof(struct manifest_tls_tag), decode_tls, tls_clear,
                         (void **)&m->tls, &m->n_tls, err)) < 0 ||
        (rc = decode_config(root, &m->config, err)) < 0 || (rc = mf_coco_parse(root, &m->coco, err)) < 0)
        goto fail;
    *out = m;
    return 0;
fail:
    manifest_free(m);
    return rc;
}

int manifest_parse(const uint8_t *json, size_t len, struct manifest **out, struct cairn_error *err)
{
    json_t *root = NULL;
    int rc = mf_load(json, len, &root, err);
    if (rc == 0)
        rc = mf_decode(root, out, err);
    json_decref(root);
    return rc;
}

/* ---- lookups and small helpers ------------------------------------------------- */

#define FIND(arr, n, name) mf_find((arr), (n), sizeof(*(arr)), (name))

const struct manifest_marble *manifest_find_marble(const struct manifest *m, const char *name)
{
    return FIND(m->marbles, m->n_marbles, name);
}

const struct manifest_package *manifest_find_package(const struct manifest *m, const char *name)
{
    return FIND(m->packages, m->n_packages, name);
}

const struct manifest_secret *manifest_find_secret(const struct manifest *m, const char *name)
{
    return FIND(m->secrets, m->n_secrets, name);
}

const struct manifest_user *manifest_find_user(const struct manifest *m, const char *name)
{
    return FIND(m->users, m->n_users, name);
}

const struct manifest_role *manifest_find_role(const struct manifest *m, const char *name)
{
    return FIND(m->roles, m->n_roles, name);
}

const struct manifest_tls_tag *manifest_find_tls(const struct manifest *m, const char *name)
{
    return FIND(m->tls, m->n_tls, name);
}

static const char *const secret_type_names[] = {
    [MANIFEST_SECRET_INVALID] = "",
    [MANIFEST_SECRET_SYMMETRIC_KEY] = "symmetric-key",
    [MANIFEST_SECRET_CERT_RSA] = "cert-rsa",
    [MANIFEST_SECRET_CERT_ECDSA] = "cert-ecdsa",
    [MANIFEST_SECRET_CERT_ED25519] = "cert-ed25519",
    [MANIFEST_SECRET_PLAIN] = "plain",
};

const char *manifest_secret_type_name(enum manifest_secret_type t)
{
    if ((unsigned)t >= sizeof(secret_type_names) / sizeof(secret_type_names[0]))
        return "";
    return secret_type_names[t];
}

enum manifest_secret_type manifest_secret_type_parse(const char *s)
{
    if (s == NULL || *s == '\0')
        return MANIFEST_SECRET_INVALID;
    for (size_t i = 1; i < sizeof(secret_type_names) / sizeof(secret_type_names[0]); i++) {
        if (strcmp(s, secret_type_names[i]) == 0)
            return (enum manifest_secret_type)i;
    }
    return MANIFEST_SECRET_INVALID;
}

void manifest_hash_hex(const uint8_t *raw, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t d[32];
    unsigned dlen = 0;
    /* SHA-256 over memory cannot fail short of a broken OpenSSL build. */
    if (EVP_Digest(raw, len, d, &dlen, EVP_sha256(), NULL) != 1 || dlen != sizeof(d))
        memset(d, 0, sizeof(d));
    for (size_t i = 0; i < sizeof(d); i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
}
