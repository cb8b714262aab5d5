/* The supporting-files builder (see trust_files.h). */
#include "attest/trust_files.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "attest/eventlog.h"
#include "attest/tpm.h"
#include "attest/trust_certs.h"
#include "attest/trust_docs.h"
#include "attest/trust_encoding.h"
#include "common/file.h"

struct item {
    char *name;
    enum trust_file_kind kind;
    uint8_t *data;
    size_t len;
    int n_certs;
};

struct trust_files {
    enum attest_type type;
    uint8_t *evidence;
    size_t evidence_len;
    struct item items[TRUST_FILES_MAX_ITEMS];
    size_t n_items;
    struct trust_cert_sets certs;                 /* committed certificates and CRLs */
    struct trust_docs tcb, qe;                    /* Intel collateral documents */
    bool store;                                   /* a trust directory (trust_store_load) */
    const uint8_t *sig; size_t sig_len;           /* borrowed from items */
    const uint8_t *ak; size_t ak_len;
    const uint8_t *pcrs; size_t pcrs_len;
    const uint8_t *eventlog; size_t eventlog_len;
    const uint8_t *ccel; size_t ccel_len;
    const uint8_t *ccel_table; size_t ccel_table_len;
    const uint8_t *nonce; size_t nonce_len;
    char *certs_pem;                              /* evidence certs, built by trust_files_build */
};

struct trust_files *trust_files_new(enum attest_type type)
{
    if (type != ATTEST_SGX && type != ATTEST_TDX && type != ATTEST_SNP && type != ATTEST_TPM)
        return NULL;
    struct trust_files *tf = calloc(1, sizeof(*tf));
    if (tf == NULL)
        return NULL;
    tf->type = type;
    if (trust_cert_sets_init(&tf->certs) != 0) {
        trust_files_free(tf);
        return NULL;
    }
    return tf;
}

void trust_files_free(struct trust_files *tf)
{
    if (tf == NULL)
        return;
    free(tf->evidence);
    for (size_t i = 0; i < tf->n_items; i++) {
        free(tf->items[i].name);
        free(tf->items[i].data);
    }
    trust_cert_sets_free(&tf->certs);
    trust_docs_free(&tf->tcb);
    trust_docs_free(&tf->qe);
    free(tf->certs_pem);
    free(tf);
}

int trust_files_set_evidence(struct trust_files *tf, const uint8_t *p, size_t n, struct cairn_error *err)
{
    if (p == NULL || n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: empty");
    if (n > TRUST_FILE_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "evidence: %zu bytes, cap %u", n, TRUST_FILE_MAX);
    uint8_t *c = malloc(n);
    if (c == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "evidence: out of memory");
    memcpy(c, p, n);
    free(tf->evidence);
    tf->evidence = c;
    tf->evidence_len = n;
    return 0;
}


static bool kind_fits(enum attest_type type, enum trust_file_kind k)
{
    switch (k) {
    case TRUST_FILE_TCB_INFO:
    case TRUST_FILE_QE_IDENTITY:
    case TRUST_FILE_QVL_COLLATERAL:
        return type == ATTEST_SGX || type == ATTEST_TDX;
    case TRUST_FILE_TPM_SIGNATURE:
    case TRUST_FILE_TPM_PUBLIC:
    case TRUST_FILE_PUBKEY_PEM:
    case TRUST_FILE_PCRS:
    case TRUST_FILE_EVENTLOG:
        return type == ATTEST_TPM;
    case TRUST_FILE_CCEL:
    case TRUST_FILE_CCEL_TABLE:
        return type == ATTEST_TDX;
    default:
        return true;
    }
}

/* The slot of a single-valued kind (NULL for multi-valued kinds). */
static const uint8_t **single_slot(struct trust_files *tf, enum trust_file_kind k, size_t **len)
{
    switch (k) {
    case TRUST_FILE_TPM_SIGNATURE: *len = &tf->sig_len; return &tf->sig;
    case TRUST_FILE_TPM_PUBLIC:
    case TRUST_FILE_PUBKEY_PEM: *len = &tf->ak_len; return &tf->ak;
    case TRUST_FILE_PCRS: *len = &tf->pcrs_len; return &tf->pcrs;
    case TRUST_FILE_EVENTLOG: *len = &tf->eventlog_len; return &tf->eventlog;
    case TRUST_FILE_CCEL: *len = &tf->ccel_len; return &tf->ccel;
    case TRUST_FILE_CCEL_TABLE: *len = &tf->ccel_table_len; return &tf->ccel_table;
    case TRUST_FILE_NONCE: *len = &tf->nonce_len; return &tf->nonce;
    default: return NULL;
    }
}

/* The content must parse as the kind a flag named. */
static int check_named(enum attest_type type, const uint8_t *p, size_t n, enum trust_file_kind k,
                       struct cairn_error *err)
{
    enum trust_file_kind got = TRUST_FILE_UNKNOWN;
    struct cairn_error e = {0};
    switch (k) {
    case TRUST_FILE_TCB_INFO:
    case TRUST_FILE_QE_IDENTITY: {
        size_t ws = trust_skip_ws(p, n);
        if (ws < n && p[ws] == '[') { /* a set: the verifier checks the element it uses */
            if (trust_file_classify(p, n, type, &got, err) != 0)
                return err ? err->code : CAIRN_ERR_INVALID;
            return got == k ? 0 : cairn_errf(err, CAIRN_ERR_INVALID, "not a set of %s documents", trust_file_kind_name(k));
        }
        return k == TRUST_FILE_TCB_INFO ? trust_doc_check("tcb info", p, n, "tcbInfo", err)
                                        : trust_doc_check("qe identity", p, n, "enclaveIdentity", err);
    }
    case TRUST_FILE_PCRS: {
        struct tpm_pcr_values *v = malloc(sizeof(*v));
        if (v == NULL)
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        int rc = tpm_pcrs_parse_json(p, n, v, err);
        free(v);
        return rc;
    }
    case TRUST_FILE_TPM_PUBLIC: {
        struct tpm_ak ak;
        int rc = tpm_public_parse(p, n, &ak, err);
        if (rc == 0)
            tpm_ak_clear(&ak);
        ERR_clear_error();
        return rc;
    }
    case TRUST_FILE_EVENTLOG:
    case TRUST_FILE_CCEL: {
        struct eventlog_replay *r = malloc(sizeof(*r));
        if (r == NULL)
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        int rc = eventlog_replay(p, n, k == TRUST_FILE_CCEL ? EVENTLOG_CCEL : EVENTLOG_TCG, r, err);
        free(r);
        return rc;
    }
    case TRUST_FILE_CCEL_TABLE: {
        uint8_t t;
        uint64_t a, b;
        return eventlog_ccel_table_parse(p, n, &t, &a, &b, err);
    }
    case TRUST_FILE_NONCE:
        if (n == 0 || n > 64)
            return cairn_errf(err, CAIRN_ERR_INVALID, "nonce: %zu bytes, expected 1..64", n);
        return 0;
    case TRUST_FILE_TPM_SIGNATURE:
        /* TPMT_SIGNATURE, DER ECDSA or a bare RSA signature: the verifier
         * tells them apart; only the size is bounded here. */
        if (n < 8 || n > 1024)
            return cairn_errf(err, CAIRN_ERR_INVALID, "signature: %zu bytes, expected 8..1024", n);
        return 0;
    case TRUST_FILE_PUBKEY_PEM:
        if (trust_file_classify(p, n, type, &got, &e) != 0 || got != TRUST_FILE_PUBKEY_PEM)
            return cairn_errf(err, CAIRN_ERR_INVALID, "not a PEM PUBLIC KEY");
        return 0;
    default:
        return 0;
    }
}

int trust_files_add(struct trust_files *tf, const char *name, const uint8_t *p, size_t n, enum trust_file_kind kind,
                    enum trust_file_kind *out_kind, struct cairn_error *err)
{
    if (name == NULL)
        name = "(file)";
    if (tf->n_items >= TRUST_FILES_MAX_ITEMS)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "more than %d supporting files", TRUST_FILES_MAX_ITEMS);
    if (p == NULL || n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: empty file", name);
    if (n > TRUST_FILE_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: %zu bytes, cap %u", name, n, TRUST_FILE_MAX);
    int rc;
    if (kind == TRUST_FILE_UNKNOWN) {
        if ((rc = trust_file_classify(p, n, tf->type, &kind, err)) != 0)
            return cairn_err_prefix(err, "%s", name);
    } else if (kind == TRUST_FILE_PUBKEY_PEM || kind == TRUST_FILE_TPM_PUBLIC) {
        /* --ak: PEM public key, TPMT_PUBLIC or an AK certificate */
        enum trust_file_kind got;
        if (trust_file_classify(p, n, tf->type, &got, NULL) == 0 &&
            (got == TRUST_FILE_PUBKEY_PEM || got == TRUST_FILE_CERTS))
            kind = got;
        else
            kind = TRUST_FILE_TPM_PUBLIC;
    }
    if (!kind_fits(tf->type, kind))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: a %s file is not used with %s evidence", name,
                          trust_file_kind_name(kind), attest_type_name(tf->type));
    if ((rc = check_named(tf->type, p, n, kind, err)) != 0)
        return cairn_err_prefix(err, "%s (%s)", name, trust_file_kind_name(kind));
    size_t *slot_len = NULL;
    const uint8_t **slot = single_slot(tf, kind, &slot_len);
    if (slot != NULL && *slot != NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: a second %s file; give one", name, trust_file_kind_name(kind));
    if (tf->store && (kind == TRUST_FILE_TPM_SIGNATURE || kind == TRUST_FILE_TPM_PUBLIC || kind == TRUST_FILE_PUBKEY_PEM ||
                      kind == TRUST_FILE_PCRS || kind == TRUST_FILE_EVENTLOG || kind == TRUST_FILE_CCEL ||
                      kind == TRUST_FILE_CCEL_TABLE || kind == TRUST_FILE_NONCE))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: a %s file is evidence, not trust material", name,
                          trust_file_kind_name(kind));
    if ((kind == TRUST_FILE_TCB_INFO && tf->tcb.n >= TRUST_DOCS_MAX) ||
        (kind == TRUST_FILE_QE_IDENTITY && tf->qe.n >= TRUST_DOCS_MAX) ||
        (kind == TRUST_FILE_QVL_COLLATERAL && (tf->tcb.n >= TRUST_DOCS_MAX || tf->qe.n >= TRUST_DOCS_MAX)))
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: more than %d TCB info or QE identity documents", name,
                          TRUST_DOCS_MAX);

    struct item *it = &tf->items[tf->n_items];
    memset(it, 0, sizeof(*it));
    it->name = strdup(name);
    it->data = malloc(n + 1);
    if (it->name == NULL || it->data == NULL) {
        free(it->name);
        free(it->data);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    memcpy(it->data, p, n);
    it->data[n] = 0; /* documents are used as C strings too */
    it->len = n;
    it->kind = kind;

    struct trust_cert_sets st = {0};
    char *tcb = NULL, *qe = NULL;
    size_t tcb_len = 0, qe_len = 0;
    if (trust_cert_sets_init(&st) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    switch (kind) {
    case TRUST_FILE_CERTS:
    case TRUST_FILE_ROOTS:
        rc = trust_certs_add(tf->type, &st, it->data, n, kind == TRUST_FILE_ROOTS, &it->n_certs, err);
        break;
    case TRUST_FILE_CRL:
        rc = trust_crls_add(&st, it->data, n, &it->n_certs, err);
        break;
    case TRUST_FILE_QVL_COLLATERAL:
        rc = trust_qvl_bundle_split(tf->type, &st, it->data, n, &tcb, &tcb_len, &qe, &qe_len, &it->n_certs, err);
        break;
    case TRUST_FILE_TCB_INFO:
    case TRUST_FILE_QE_IDENTITY: {
        /* strdup stops at a NUL byte, and the length passed on must be the
         * copy's: a JSON document has no NUL byte, so refuse one */
        if (memchr(it->data, '\0', n) != NULL) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "a NUL byte in a JSON document");
            break;
        }
        char *doc = strdup((const char *)it->data);
        rc = doc ? 0 : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        if (kind == TRUST_FILE_TCB_INFO) {
            tcb = doc;
            tcb_len = n;
        } else {
            qe = doc;
            qe_len = n;
        }
        break;
    }
    default:
        break;
    }
    if (rc != 0) {
        cairn_err_prefix(err, "%s", name);
        goto fail;
    }
    if (sk_X509_num(st.leaves) + sk_X509_num(tf->certs.leaves) > 1) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: a second leaf certificate (VCEK/VLEK or AK certificate); give one",
                        name);
        goto fail;
    }
    if (sk_X509_num(tf->certs.roots) + sk_X509_num(tf->certs.inters) + sk_X509_num(tf->certs.leaves) + sk_X509_num(tf->certs.collateral) +
            it->n_certs > TRUST_FILES_MAX_CERTS) {
        rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: more than %d certificates in all", name, TRUST_FILES_MAX_CERTS);
        goto fail;
    }
    /* Commit. */
    if (trust_cert_sets_move(&st, &tf->certs) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* cannot fail: the counts were checked above */
    if (tcb)
        trust_docs_add(&tf->tcb, tcb, tcb_len, NULL);
    if (qe)
        trust_docs_add(&tf->qe, qe, qe_len, NULL);
    if (slot != NULL) {
        *slot = it->data;
        *slot_len = n;
    }
    trust_cert_sets_free(&st);
    tf->n_items++;
    if (out_kind)
        *out_kind = kind;
    return 0;
fail:
    /* A failed commit may have moved part of a file's certificates; they
     * are harmless duplicates of what the caller then refuses as a whole. */
    trust_cert_sets_free(&st);
    free(tcb);
    free(qe);
    free(it->name);
    free(it->data);
    memset(it, 0, sizeof(*it));
    return rc;
}

int trust_files_add_path(struct trust_files *tf, const char *path, enum trust_file_kind kind,
                         enum trust_file_kind *out_kind, struct cairn_error *err)
{
    uint8_t *p = NULL;
    size_t n = 0;
    int rc = cairn_file_read(path, TRUST_FILE_MAX, &p, &n);
    if (rc == CAIRN_ERR_NOT_FOUND)
        return cairn_errf(err, rc, "%s: no such file", path);
    if (rc == CAIRN_ERR_TOO_LARGE)
        return cairn_errf(err, rc, "%s: larger than %u bytes", path, TRUST_FILE_MAX);
    if (rc != 0)
        return cairn_errf(err, rc, "%s: cannot read", path);
    rc = trust_files_add(tf, path, p, n, kind, out_kind, err);
    free(p);
    return rc;
}

int trust_files_trust(struct trust_files *tf, time_t at, struct attest_trust *out, struct cairn_error *err)
{
    struct attest_trust t = {.at = at};
    STACK_OF(X509) *roots = sk_X509_num(tf->certs.roots) > 0 ? tf->certs.roots : NULL;
    STACK_OF(X509) *inters = sk_X509_num(tf->certs.inters) > 0 ? tf->certs.inters : NULL;
    t.crls = sk_X509_CRL_num(tf->certs.crls) > 0 ? tf->certs.crls : NULL;
    switch (tf->type) {
    case ATTEST_SGX:
    case ATTEST_TDX: {
        int rc;
        if ((rc = trust_docs_join(&tf->tcb, err)) != 0 || (rc = trust_docs_join(&tf->qe, err)) != 0)
            return rc;
        t.intel_roots = roots;
        t.intermediates = inters;
        t.collateral_chain = sk_X509_num(tf->certs.collateral) > 0 ? tf->certs.collateral : NULL;
        t.tcb_info = tf->tcb.joined;
        t.tcb_info_len = tf->tcb.joined_len;
        t.qe_identity = tf->qe.joined;
        t.qe_identity_len = tf->qe.joined_len;
        break;
    }
    case ATTEST_SNP:
        t.amd_roots = roots;
        t.amd_intermediates = inters;
        break;
    case ATTEST_TPM:
        t.tpm_roots = roots;
        t.intermediates = inters;
        break;
    default:
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "evidence type %s has no supporting files",
                          attest_type_name(tf->type));
    }
    *out = t;
    return 0;
}

int trust_files_build(struct trust_files *tf, time_t at, struct attest_evidence *ev, struct attest_trust *trust,
                      struct cairn_error *err)
{
    if (tf->evidence == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "no evidence given");
    struct attest_evidence e = {.type = tf->type, .quote = tf->evidence, .quote_len = tf->evidence_len};
    struct attest_trust t;
    int rc = trust_files_trust(tf, at, &t, err);
    if (rc != 0)
        return rc;
    free(tf->certs_pem);
    tf->certs_pem = NULL;
    if (tf->type == ATTEST_TDX) {
        e.eventlog = tf->ccel;
        e.eventlog_len = tf->ccel_len;
    } else if (tf->type == ATTEST_TPM) {
        e.signature = tf->sig;
        e.signature_len = tf->sig_len;
        e.ak_pub = tf->ak;
        e.ak_pub_len = tf->ak_len;
        e.pcrs = tf->pcrs;
        e.pcrs_len = tf->pcrs_len;
        e.eventlog = tf->eventlog;
        e.eventlog_len = tf->eventlog_len;
    }
    if (sk_X509_num(tf->certs.leaves) > 0) {
        tf->certs_pem = trust_certs_to_pem(tf->certs.leaves, NULL);
        if (tf->certs_pem == NULL)
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        e.certs = (const uint8_t *)tf->certs_pem;
        e.certs_len = strlen(tf->certs_pem);
    }
    *ev = e;
    *trust = t;
    return 0;
}

const uint8_t *trust_files_nonce(const struct trust_files *tf, size_t *len)
{
    *len = tf->nonce_len;
    return tf->nonce;
}

const uint8_t *trust_files_ccel(const struct trust_files *tf, size_t *len, const uint8_t **table, size_t *table_len)
{
    *len = tf->ccel_len;
    *table = tf->ccel_table;
    *table_len = tf->ccel_table_len;
    return tf->ccel;
}

json_t *trust_files_describe(const struct trust_files *tf)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < tf->n_items; i++) {
        const struct item *it = &tf->items[i];
        json_t *o = json_pack("{s:s, s:s}", "file", it->name, "kind", trust_file_kind_name(it->kind));
        if (o && it->n_certs > 0)
            json_object_set_new(o, it->kind == TRUST_FILE_CRL ? "crls" : "certificates", json_integer(it->n_certs));
        if (o == NULL || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

enum attest_type trust_files_type(const struct trust_files *tf) { return tf->type; }

bool trust_files_set_store_mode(struct trust_files *tf, bool on)
{
    bool was = tf->store;
    tf->store = on;
    return was;
}

/* In a trust directory several CRLs of one issuer accumulate over time: the
 * newest (latest thisUpdate) supersedes the others, so an old file left in
 * the directory cannot fail verification as stale. */
void trust_files_keep_newest_crls(struct trust_files *tf)
{
    STACK_OF(X509_CRL) *crls = tf->certs.crls;
    for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
        for (int j = i + 1; j < sk_X509_CRL_num(crls);) {
            X509_CRL *a = sk_X509_CRL_value(crls, i), *b = sk_X509_CRL_value(crls, j);
            if (X509_NAME_cmp(X509_CRL_get_issuer(a), X509_CRL_get_issuer(b)) != 0) {
                j++;
                continue;
            }
            int newer_b = ASN1_TIME_compare(X509_CRL_get0_lastUpdate(b), X509_CRL_get0_lastUpdate(a)) > 0;
            if (newer_b)
                sk_X509_CRL_set(crls, i, b);
            sk_X509_CRL_delete(crls, j);
            X509_CRL_free(newer_b ? a : b);
        }
    }
}
