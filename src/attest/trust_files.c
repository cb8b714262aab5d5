/* Supporting files for offline evidence verification (see trust_files.h). */
#include "attest/trust_files.h"

#include <ctype.h>
#include <dirent.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attest/amd_roots.h"
#include "attest/collateral.h"
#include "attest/eventlog.h"
#include "attest/intel_sgx_root_ca.h"
#include "attest/tpm.h"
#include "common/buf.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/reader.h"

#define PEM_BLOCKS_MAX 64
#define JSON_FILE_MAX (COLLATERAL_DOC_MAX * 4) /* a document set may hold several */
#define TEXT_EVIDENCE_MAX (4u << 20)
#define PCK_EXT_OID "1.2.840.113741.1.13.1"

static const char *const kind_names[] = {
    [TRUST_FILE_UNKNOWN] = "unknown",
    [TRUST_FILE_CERTS] = "certificates",
    [TRUST_FILE_ROOTS] = "roots",
    [TRUST_FILE_CRL] = "crl",
    [TRUST_FILE_TCB_INFO] = "tcb-info",
    [TRUST_FILE_QE_IDENTITY] = "qe-identity",
    [TRUST_FILE_QVL_COLLATERAL] = "collateral-bundle",
    [TRUST_FILE_TPM_SIGNATURE] = "tpm-signature",
    [TRUST_FILE_TPM_PUBLIC] = "tpm-public",
    [TRUST_FILE_PUBKEY_PEM] = "public-key",
    [TRUST_FILE_PCRS] = "pcrs",
    [TRUST_FILE_EVENTLOG] = "eventlog",
    [TRUST_FILE_CCEL] = "ccel",
    [TRUST_FILE_CCEL_TABLE] = "ccel-table",
    [TRUST_FILE_NONCE] = "nonce",
};

const char *trust_file_kind_name(enum trust_file_kind k)
{
    if ((unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[k] != NULL)
        return kind_names[k];
    return "unknown";
}

/* ---- small helpers ------------------------------------------------------------ */

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static bool has_pem(const uint8_t *p, size_t n) { return memmem(p, n, "-----BEGIN ", 11) != NULL; }

static size_t skip_ws(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i;
}

static bool is_tpm_hash(uint16_t a)
{
    return a == TPM_ALG_SHA1 || a == TPM_ALG_SHA256 || a == TPM_ALG_SHA384 || a == TPM_ALG_SHA512;
}

/* One PEM block: label and DER body (owned). */
struct pem_block {
    char *label;
    uint8_t *der;
    long len;
};

static void pem_blocks_free(struct pem_block *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        OPENSSL_free(b[i].label);
        OPENSSL_free(b[i].der);
    }
}

/* Every PEM block of the text; text outside blocks is ignored as PEM allows,
 * but a "-----BEGIN" that does not give a block is an error. */
static int pem_blocks(const char *what, const uint8_t *p, size_t n, struct pem_block *out, size_t *n_out,
                      struct cairn_error *err)
{
    if (n > INT32_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: too large for PEM", what);
    size_t begins = 0;
    for (const uint8_t *q = p; (q = memmem(q, n - (size_t)(q - p), "-----BEGIN ", 11)) != NULL; q += 11)
        begins++;
    if (begins > PEM_BLOCKS_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: more than %d PEM blocks", what, PEM_BLOCKS_MAX);
    BIO *b = BIO_new_mem_buf(p, (int)n);
    if (b == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", what);
    size_t k = 0;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    while (k < PEM_BLOCKS_MAX && PEM_read_bio(b, &name, &header, &data, &len) == 1) {
        OPENSSL_free(header);
        out[k].label = name;
        out[k].der = data;
        out[k].len = len;
        k++;
    }
    BIO_free(b);
    ERR_clear_error();
    if (k != begins) {
        pem_blocks_free(out, k);
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: PEM block %zu does not decode (bad base64 or END line)", what,
                          k + 1);
    }
    *n_out = k;
    return 0;
}

static X509 *der_cert(const uint8_t *p, size_t n)
{
    const unsigned char *q = p;
    X509 *x = d2i_X509(NULL, &q, (long)n);
    if (x != NULL && q != p + n) {
        X509_free(x);
        x = NULL;
    }
    ERR_clear_error();
    return x;
}

static X509_CRL *der_crl(const uint8_t *p, size_t n)
{
    const unsigned char *q = p;
    X509_CRL *c = d2i_X509_CRL(NULL, &q, (long)n);
    if (c != NULL && q != p + n) {
        X509_CRL_free(c);
        c = NULL;
    }
    ERR_clear_error();
    return c;
}

static bool der_ecdsa_sig(const uint8_t *p, size_t n)
{
    const unsigned char *q = p;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &q, (long)n);
    bool ok = s != NULL && q == p + n;
    ECDSA_SIG_free(s);
    ERR_clear_error();
    return ok;
}

/* TPMT_SIGNATURE of exactly n bytes (RSASSA/RSAPSS or ECDSA). */
static bool is_tpmt_signature(const uint8_t *p, size_t n)
{
    struct cairn_reader r;
    cairn_reader_init(&r, p, n);
    uint16_t alg, hash;
    if (cairn_reader_u16be(&r, &alg) || cairn_reader_u16be(&r, &hash) || !is_tpm_hash(hash))
        return false;
    const uint8_t *a, *b;
    uint16_t al, bl;
    if (alg == TPM_ALG_RSASSA || alg == TPM_ALG_RSAPSS) {
        if (cairn_reader_tpm2b(&r, &a, &al))
            return false;
        return al >= 128 && al <= 512 && cairn_reader_remaining(&r) == 0;
    }
    if (alg == TPM_ALG_ECDSA) {
        if (cairn_reader_tpm2b(&r, &a, &al) || cairn_reader_tpm2b(&r, &b, &bl))
            return false;
        return al >= 1 && al <= 66 && bl >= 1 && bl <= 66 && cairn_reader_remaining(&r) == 0;
    }
    return false;
}

/* Replays `p` as `kind`; *only_sha384 tells whether SHA-384 is the log's only bank. */
static bool replays(const uint8_t *p, size_t n, enum eventlog_kind kind, bool *only_sha384)
{
    struct eventlog_replay *r = malloc(sizeof(*r));
    if (r == NULL)
        return false;
    bool ok = eventlog_replay(p, n, kind, r, NULL) == 0;
    if (ok && only_sha384)
        *only_sha384 = r->n_banks == 1 && r->banks[0].alg == TPM_ALG_SHA384;
    free(r);
    return ok;
}

/* ---- classification -------------------------------------------------------------- */

static int classify_pem(const uint8_t *p, size_t n, enum trust_file_kind *out, struct cairn_error *err)
{
    struct pem_block b[PEM_BLOCKS_MAX];
    size_t k = 0;
    int rc = pem_blocks("PEM file", p, n, b, &k, err);
    if (rc != 0)
        return rc;
    enum trust_file_kind kind = TRUST_FILE_UNKNOWN;
    for (size_t i = 0; i < k && rc == 0; i++) {
        enum trust_file_kind this;
        if (strcmp(b[i].label, "CERTIFICATE") == 0)
            this = TRUST_FILE_CERTS;
        else if (strcmp(b[i].label, "X509 CRL") == 0)
            this = TRUST_FILE_CRL;
        else if (strcmp(b[i].label, "PUBLIC KEY") == 0)
            this = TRUST_FILE_PUBKEY_PEM;
        else {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "PEM block %zu: label \"%.40s\" is not CERTIFICATE, X509 CRL or PUBLIC KEY",
                            i + 1, b[i].label);
            break;
        }
        if (kind != TRUST_FILE_UNKNOWN && kind != this)
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "PEM blocks of different kinds (%s and %s) in one file",
                            trust_file_kind_name(kind), trust_file_kind_name(this));
        kind = this;
    }
    pem_blocks_free(b, k);
    if (rc == 0 && kind == TRUST_FILE_PUBKEY_PEM && k != 1)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "%zu PUBLIC KEY blocks in one file, expected one", k);
    if (rc == 0)
        *out = kind;
    return rc;
}

static int classify_json(const uint8_t *p, size_t n, enum trust_file_kind *out, struct cairn_error *err)
{
    if (n > JSON_FILE_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "JSON file of %zu bytes, cap %u", n, JSON_FILE_MAX);
    json_error_t je;
    json_t *j = json_loadb((const char *)p, n, 0, &je);
    if (j == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "JSON file: invalid at line %d column %d: %s", je.line, je.column,
                          je.text);
    int rc = 0;
    if (json_is_array(j)) {
        /* a document set: every element a TCB info, or every one a QE identity */
        json_t *first = json_array_get(j, 0);
        const char *key = json_object_get(first, "tcbInfo") ? "tcbInfo" : "enclaveIdentity";
        size_t i;
        json_t *el;
        bool all = json_array_size(j) > 0 && json_array_size(j) <= TRUST_DOCS_MAX;
        json_array_foreach(j, i, el) {
            all = all && json_is_object(json_object_get(el, key));
        }
        if (!all)
            rc = cairn_errf(err, CAIRN_ERR_INVALID,
                            "JSON array: not a set of 1..%d TCB info or QE identity documents", TRUST_DOCS_MAX);
        else
            *out = strcmp(key, "tcbInfo") == 0 ? TRUST_FILE_TCB_INFO : TRUST_FILE_QE_IDENTITY;
    } else if (!json_is_object(j))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "JSON file: not an object or array");
    else if (json_object_get(j, "tcbInfo"))
        *out = TRUST_FILE_TCB_INFO;
    else if (json_object_get(j, "enclaveIdentity"))
        *out = TRUST_FILE_QE_IDENTITY;
    else if (json_object_get(j, "tcb_info") && json_object_get(j, "qe_identity"))
        *out = TRUST_FILE_QVL_COLLATERAL;
    else if (json_object_get(j, "pcrs"))
        *out = TRUST_FILE_PCRS;
    else
        rc = cairn_errf(err, CAIRN_ERR_INVALID,
                        "JSON file: none of the keys tcbInfo, enclaveIdentity, tcb_info+qe_identity, pcrs");
    json_decref(j);
    return rc;
}

int trust_file_classify(const uint8_t *p, size_t n, enum attest_type type, enum trust_file_kind *out,
                        struct cairn_error *err)
{
    if (p == NULL || n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "empty file");
    if (n > TRUST_FILE_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "file of %zu bytes, cap %u", n, TRUST_FILE_MAX);
    /* JSON first: collateral bundles carry PEM chains inside strings. */
    size_t ws = skip_ws(p, n);
    if (ws < n && (p[ws] == '{' || p[ws] == '['))
        return classify_json(p, n, out, err);
    if (has_pem(p, n))
        return classify_pem(p, n, out, err);
    if (n == 56 && memcmp(p, "CCEL", 4) == 0) {
        *out = TRUST_FILE_CCEL_TABLE;
        return 0;
    }
    if (p[0] == 0x30) {
        X509 *x = der_cert(p, n);
        if (x != NULL) {
            X509_free(x);
            *out = TRUST_FILE_CERTS;
            return 0;
        }
        X509_CRL *c = der_crl(p, n);
        if (c != NULL) {
            X509_CRL_free(c);
            *out = TRUST_FILE_CRL;
            return 0;
        }
        if (type == ATTEST_TPM && der_ecdsa_sig(p, n)) {
            *out = TRUST_FILE_TPM_SIGNATURE;
            return 0;
        }
    }
    if (is_tpmt_signature(p, n)) {
        *out = TRUST_FILE_TPM_SIGNATURE;
        return 0;
    }
    struct tpm_ak ak;
    if (n > 8 && tpm_public_parse(p, n, &ak, NULL) == 0) {
        tpm_ak_clear(&ak);
        ERR_clear_error();
        *out = TRUST_FILE_TPM_PUBLIC;
        return 0;
    }
    ERR_clear_error();
    /* Before the log check: a few zero bytes also read as a legacy log. */
    if (n <= 64) {
        *out = TRUST_FILE_NONCE;
        return 0;
    }
    if (type == ATTEST_TPM && (n == 128 || n == 256 || n == 384 || n == 512)) {
        *out = TRUST_FILE_TPM_SIGNATURE; /* a bare RSA signature (e.g. Azure's vTPM quote) */
        return 0;
    }
    bool only384 = false;
    if (replays(p, n, EVENTLOG_TCG, &only384)) {
        *out = (only384 || type == ATTEST_TDX) ? TRUST_FILE_CCEL : TRUST_FILE_EVENTLOG;
        return 0;
    }
    if (replays(p, n, EVENTLOG_CCEL, NULL)) {
        *out = TRUST_FILE_CCEL;
        return 0;
    }
    return cairn_errf(err, CAIRN_ERR_INVALID,
                      "not recognised (%zu bytes: no certificate, CRL, collateral JSON, PCR JSON, TPM structure, "
                      "event log or CCEL)",
                      n);
}

int trust_evidence_detect(const uint8_t *p, size_t n, enum attest_type *out, struct cairn_error *err)
{
    struct trust_hcl h;
    if (p != NULL && n >= 4 && memcmp(p, "HCLA", 4) == 0 && trust_hcl_parse(p, n, &h, NULL) == 0) {
        *out = ATTEST_SNP;
        return 0;
    }
    if (p != NULL && n >= 4 && be32(p) == TPM_GENERATED_VALUE) {
        *out = ATTEST_TPM;
        return 0;
    }
    size_t off = 0;
    if (p != NULL && n >= 16 + 48 && le32(p) == 1 && le32(p + 4) == 2)
        off = 16; /* MarbleRun's OE header: version 1, type 2 (SGX ECDSA), size */
    if (p != NULL && n - off >= 48) {
        uint16_t ver = le16(p + off), akt = le16(p + off + 2);
        uint32_t tee = le32(p + off + 4);
        if (ver == 3 && akt == 2 && tee == 0) {
            *out = ATTEST_SGX;
            return 0;
        }
        if ((ver == 4 || ver == 5) && akt == 2 && tee == 0x81 && off == 0) {
            *out = ATTEST_TDX;
            return 0;
        }
    }
    if (p != NULL && n == 0x4A0) {
        uint32_t ver = le32(p), algo = le32(p + 0x34);
        if (ver >= 2 && ver <= 5 && algo == 1) {
            *out = ATTEST_SNP;
            return 0;
        }
    }
    return cairn_errf(err, CAIRN_ERR_INVALID,
                      "evidence: cannot tell the type from its %zu bytes (not a TPMS_ATTEST, DCAP quote v3/v4/v5 or "
                      "SNP report v2..5)",
                      n);
}

int trust_evidence_decode_text(const uint8_t *p, size_t n, uint8_t **out, size_t *out_len)
{
    if (p == NULL || n == 0 || n > TEXT_EVIDENCE_MAX)
        return 0;
    enum attest_type t;
    if (trust_evidence_detect(p, n, &t, NULL) == 0)
        return 0;
    char *s = malloc(n + 1);
    if (s == NULL)
        return 0;
    size_t k = 0;
    bool hex = true, b64 = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (!isxdigit(c))
            hex = false;
        if (!isalnum(c) && c != '+' && c != '/' && c != '=')
            b64 = false;
        s[k++] = (char)c;
    }
    s[k] = '\0';
    uint8_t *d = NULL;
    size_t dl = 0;
    int ok = 0;
    if (k > 0 && hex && k % 2 == 0 && cairn_hex_decode(s, k, &d, &dl) == 0)
        ok = 1;
    else if (k > 0 && b64 && cairn_base64_decode(s, k, &d, &dl) == 0)
        ok = 1;
    free(s);
    if (!ok)
        return 0;
    *out = d;
    *out_len = dl;
    return 1;
}

/* ---- built-in roots --------------------------------------------------------------- */

static bool is_builtin_root(X509 *x)
{
    static const char *const pems[] = {intel_sgx_root_ca_pem, AMD_MILAN_ARK_PEM, AMD_GENOA_ARK_PEM,
                                       AMD_TURIN_ARK_PEM};
    bool found = false;
    for (size_t i = 0; i < sizeof(pems) / sizeof(pems[0]) && !found; i++) {
        BIO *b = BIO_new_mem_buf(pems[i], -1);
        X509 *r = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        found = r != NULL && X509_cmp(r, x) == 0;
        X509_free(r);
    }
    ERR_clear_error();
    return found;
}

static bool self_signed(X509 *x)
{
    bool ok = X509_check_issued(x, x) == X509_V_OK;
    EVP_PKEY *k = X509_get0_pubkey(x);
    ok = ok && k != NULL && X509_verify(x, k) == 1;
    ERR_clear_error();
    return ok;
}

static bool has_pck_extension(X509 *x)
{
    ASN1_OBJECT *o = OBJ_txt2obj(PCK_EXT_OID, 1);
    bool has = o != NULL && X509_get_ext_by_OBJ(x, o, -1) >= 0;
    ASN1_OBJECT_free(o);
    ERR_clear_error();
    return has;
}

static void cert_name(X509 *x, char *out, size_t n)
{
    out[0] = '\0';
    X509_NAME *nm = X509_get_subject_name(x);
    int i = nm ? X509_NAME_get_index_by_NID(nm, NID_commonName, -1) : -1;
    if (i >= 0) {
        ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i));
        snprintf(out, n, "\"%.*s\"", ASN1_STRING_length(d) > 80 ? 80 : ASN1_STRING_length(d),
                 (const char *)ASN1_STRING_get0_data(d));
    } else {
        snprintf(out, n, "(no CN)");
    }
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = '?';
}

/* ---- the builder ------------------------------------------------------------------ */

struct item {
    char *name;
    enum trust_file_kind kind;
    uint8_t *data;
    size_t len;
    int n_certs;
};

/* Intel collateral documents: each entry is one PCS document, or the inside
 * of a document set (the text between its brackets). Several entries are
 * joined into one set, which the collateral verifier selects from by kind
 * and FMSPC (collateral.h). */
struct docs {
    char *text[TRUST_DOCS_MAX];
    size_t len[TRUST_DOCS_MAX];
    bool is_set[TRUST_DOCS_MAX];
    size_t n;
    char *joined;
    size_t joined_len;
};

static void docs_free(struct docs *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->text[i]);
    free(d->joined);
    memset(d, 0, sizeof(*d));
}

/* Takes ownership of `text` (a document, or a set whose brackets are
 * stripped here). */
static int docs_add(struct docs *d, char *text, size_t len, struct cairn_error *err)
{
    if (d->n >= TRUST_DOCS_MAX) {
        free(text);
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "more than %d collateral documents of one kind", TRUST_DOCS_MAX);
    }
    size_t a = 0, b = len;
    while (a < b && isspace((unsigned char)text[a]))
        a++;
    while (b > a && isspace((unsigned char)text[b - 1]))
        b--;
    bool set = a < b && text[a] == '[' && text[b - 1] == ']';
    if (set) {
        memmove(text, text + a + 1, b - a - 2);
        len = b - a - 2;
        text[len] = '\0';
    }
    d->text[d->n] = text;
    d->len[d->n] = len;
    d->is_set[d->n] = set;
    d->n++;
    return 0;
}

/* One document as is, else "[" entries joined by "," "]". */
static int docs_join(struct docs *d, struct cairn_error *err)
{
    free(d->joined);
    d->joined = NULL;
    d->joined_len = 0;
    if (d->n == 0)
        return 0;
    struct cairn_buf b;
    cairn_buf_init(&b, (size_t)COLLATERAL_DOC_MAX * 4 + 2);
    bool plain = d->n == 1 && !d->is_set[0];
    int rc = plain ? 0 : cairn_buf_append(&b, "[", 1);
    for (size_t i = 0; i < d->n && rc == 0; i++) {
        if (i > 0)
            rc = cairn_buf_append(&b, ",", 1);
        if (rc == 0)
            rc = cairn_buf_append(&b, d->text[i], d->len[i]);
    }
    if (rc == 0 && !plain)
        rc = cairn_buf_append(&b, "]", 1);
    if (rc == 0)
        rc = cairn_buf_append(&b, "", 1); /* NUL for C-string users */
    if (rc != 0) {
        cairn_buf_free(&b);
        return cairn_errf(err, rc == CAIRN_ERR_TOO_LARGE ? rc : CAIRN_ERR_NOMEM,
                          "collateral documents: more than %u bytes in all", COLLATERAL_DOC_MAX * 4);
    }
    size_t n = 0;
    d->joined = (char *)cairn_buf_take(&b, &n);
    d->joined_len = n - 1;
    return 0;
}

struct trust_files {
    enum attest_type type;
    uint8_t *evidence;
    size_t evidence_len;
    struct item items[TRUST_FILES_MAX_ITEMS];
    size_t n_items;
    STACK_OF(X509) *roots, *inters, *leaves, *collateral;
    STACK_OF(X509_CRL) *crls;
    struct docs tcb, qe;                          /* Intel collateral documents */
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
    tf->roots = sk_X509_new_null();
    tf->inters = sk_X509_new_null();
    tf->leaves = sk_X509_new_null();
    tf->collateral = sk_X509_new_null();
    tf->crls = sk_X509_CRL_new_null();
    if (!tf->roots || !tf->inters || !tf->leaves || !tf->collateral || !tf->crls) {
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
    sk_X509_pop_free(tf->roots, X509_free);
    sk_X509_pop_free(tf->inters, X509_free);
    sk_X509_pop_free(tf->leaves, X509_free);
    sk_X509_pop_free(tf->collateral, X509_free);
    sk_X509_CRL_pop_free(tf->crls, X509_CRL_free);
    docs_free(&tf->tcb);
    docs_free(&tf->qe);
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

/* Staged certificate sorting: everything goes to `st` first so a failing
 * file adds nothing. */
struct staged {
    STACK_OF(X509) *roots, *inters, *leaves, *collateral;
    STACK_OF(X509_CRL) *crls;
};

static void staged_free(struct staged *s)
{
    sk_X509_pop_free(s->roots, X509_free);
    sk_X509_pop_free(s->inters, X509_free);
    sk_X509_pop_free(s->leaves, X509_free);
    sk_X509_pop_free(s->collateral, X509_free);
    sk_X509_CRL_pop_free(s->crls, X509_CRL_free);
}

static int staged_init(struct staged *s)
{
    s->roots = sk_X509_new_null();
    s->inters = sk_X509_new_null();
    s->leaves = sk_X509_new_null();
    s->collateral = sk_X509_new_null();
    s->crls = sk_X509_CRL_new_null();
    return (s->roots && s->inters && s->leaves && s->collateral && s->crls) ? 0 : -1;
}

static int move_certs(STACK_OF(X509) *from, STACK_OF(X509) *to)
{
    while (sk_X509_num(from) > 0) {
        X509 *x = sk_X509_shift(from);
        if (!sk_X509_push(to, x)) {
            X509_free(x);
            return -1;
        }
    }
    return 0;
}

/* Sorts one certificate (takes ownership of x). */
static int sort_cert(const struct trust_files *tf, struct staged *st, X509 *x, bool as_root, int index,
                     struct cairn_error *err)
{
    char nm[100];
    cert_name(x, nm, sizeof(nm));
    int rc = 0;
    STACK_OF(X509) *dest = NULL;
    if (as_root) {
        if (!self_signed(x))
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "certificate %d %s: a root must be self-signed", index, nm);
        else
            dest = st->roots;
    } else if (self_signed(x)) {
        if (!is_builtin_root(x))
            rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                            "certificate %d %s is a self-signed root that is not built in; pass it with --root to "
                            "trust it",
                            index, nm);
        /* a built-in root is trusted anyway: nothing to add */
    } else if (X509_check_ca(x) > 0) {
        dest = st->inters;
    } else if (tf->type == ATTEST_SGX || tf->type == ATTEST_TDX) {
        if (has_pck_extension(x))
            rc = cairn_errf(err, CAIRN_ERR_INVALID,
                            "certificate %d %s is a PCK certificate: the PCK chain is taken from the quote", index,
                            nm);
        else
            dest = st->collateral; /* the Intel SGX TCB Signing certificate */
    } else {
        dest = st->leaves;
    }
    if (rc == 0 && dest != NULL) {
        if (!sk_X509_push(dest, x))
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        else
            x = NULL;
    }
    X509_free(x);
    return rc;
}

static int add_certs(const struct trust_files *tf, struct staged *st, const uint8_t *p, size_t n, bool as_root,
                     int *count, struct cairn_error *err)
{
    int rc = 0, k = 0;
    if (has_pem(p, n)) {
        struct pem_block b[PEM_BLOCKS_MAX];
        size_t nb = 0;
        if ((rc = pem_blocks("certificates", p, n, b, &nb, err)) != 0)
            return rc;
        for (size_t i = 0; i < nb && rc == 0; i++) {
            if (strcmp(b[i].label, "CERTIFICATE") != 0) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "PEM block %zu is \"%.40s\", expected CERTIFICATE", i + 1,
                                b[i].label);
                break;
            }
            X509 *x = der_cert(b[i].der, (size_t)b[i].len);
            if (x == NULL) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "certificate %zu: DER does not parse", i + 1);
                break;
            }
            rc = sort_cert(tf, st, x, as_root, (int)i + 1, err);
            k++;
        }
        pem_blocks_free(b, nb);
    } else {
        X509 *x = der_cert(p, n);
        if (x == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "not a PEM or DER certificate");
        rc = sort_cert(tf, st, x, as_root, 1, err);
        k = 1;
    }
    if (rc == 0 && k == 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "no certificate in the file");
    if (rc == 0)
        *count = k;
    return rc;
}

static int add_crls(struct staged *st, const uint8_t *p, size_t n, int *count, struct cairn_error *err)
{
    int rc = 0, k = 0;
    if (has_pem(p, n)) {
        struct pem_block b[PEM_BLOCKS_MAX];
        size_t nb = 0;
        if ((rc = pem_blocks("crl", p, n, b, &nb, err)) != 0)
            return rc;
        for (size_t i = 0; i < nb && rc == 0; i++) {
            X509_CRL *c = strcmp(b[i].label, "X509 CRL") == 0 ? der_crl(b[i].der, (size_t)b[i].len) : NULL;
            if (c == NULL)
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "PEM block %zu is not a CRL", i + 1);
            else if (!sk_X509_CRL_push(st->crls, c)) {
                X509_CRL_free(c);
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            } else
                k++;
        }
        pem_blocks_free(b, nb);
    } else {
        X509_CRL *c = der_crl(p, n);
        if (c == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "not a PEM or DER CRL");
        if (!sk_X509_CRL_push(st->crls, c)) {
            X509_CRL_free(c);
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        }
        k = 1;
    }
    if (rc == 0 && k == 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "no CRL in the file");
    if (rc == 0)
        *count = k;
    return rc;
}

/* A PCS document for `key` must parse and carry a signature; the collateral
 * verifier checks the rest. */
static int check_doc(const char *what, const uint8_t *p, size_t n, const char *key, struct cairn_error *err)
{
    const char *body;
    size_t bl;
    uint8_t sig[64];
    json_t *obj = NULL;
    int rc = collateral_doc_parse(what, (const char *)p, n, key, &body, &bl, sig, &obj, err);
    json_decref(obj);
    return rc;
}

static const char *str_member(json_t *j, const char *key, const char *what, struct cairn_error *err)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_string(v)) {
        cairn_errf(err, CAIRN_ERR_INVALID, "%s: \"%s\" missing or not a string", what, key);
        return NULL;
    }
    return json_string_value(v);
}

/* dcap-qvl QuoteCollateralV3: the documents are assembled around the exact
 * signed strings (no re-serialisation), chains and CRLs are sorted as usual. */
static int add_qvl(struct trust_files *tf, struct staged *st, const uint8_t *p, size_t n, char **tcb, size_t *tcb_len,
                   char **qe, size_t *qe_len, int *count, struct cairn_error *err)
{
    const char *what = "collateral bundle";
    json_error_t je;
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: not a JSON object", what);
    }
    int rc = 0;
    char *t = NULL, *q = NULL;
    const char *ti = str_member(j, "tcb_info", what, err), *ts = ti ? str_member(j, "tcb_info_signature", what, err) : NULL;
    const char *qi = ts ? str_member(j, "qe_identity", what, err) : NULL;
    const char *qs = qi ? str_member(j, "qe_identity_signature", what, err) : NULL;
    if (qs == NULL) {
        rc = err ? err->code : CAIRN_ERR_INVALID;
        goto out;
    }
    if (asprintf(&t, "{\"tcbInfo\":%s,\"signature\":\"%s\"}", ti, ts) < 0 ||
        asprintf(&q, "{\"enclaveIdentity\":%s,\"signature\":\"%s\"}", qi, qs) < 0) {
        t = q = NULL;
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", what);
        goto out;
    }
    if ((rc = check_doc("collateral bundle: tcb_info", (const uint8_t *)t, strlen(t), "tcbInfo", err)) != 0 ||
        (rc = check_doc("collateral bundle: qe_identity", (const uint8_t *)q, strlen(q), "enclaveIdentity", err)) != 0)
        goto out;
    static const char *const chains[] = {"tcb_info_issuer_chain", "qe_identity_issuer_chain", "pck_crl_issuer_chain"};
    int k = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(j, chains[i]);
        if (v == NULL)
            continue;
        int c = 0;
        if (!json_is_string(v) ||
            (rc = add_certs(tf, st, (const uint8_t *)json_string_value(v), json_string_length(v), false, &c, err)) != 0) {
            if (rc == 0)
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: \"%s\" is not a string", what, chains[i]);
            cairn_err_prefix(err, "%s: %s", what, chains[i]);
            goto out;
        }
        k += c;
    }
    static const char *const crls[] = {"pck_crl", "root_ca_crl"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(j, crls[i]);
        if (v == NULL)
            continue;
        uint8_t *der = NULL;
        size_t dl = 0;
        int c = 0;
        if (!json_is_string(v) || cairn_hex_decode(json_string_value(v), json_string_length(v), &der, &dl) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: \"%s\" is not hex", what, crls[i]);
            goto out;
        }
        rc = add_crls(st, der, dl, &c, err);
        free(der);
        if (rc != 0) {
            cairn_err_prefix(err, "%s: %s", what, crls[i]);
            goto out;
        }
    }
    *tcb = t;
    *tcb_len = strlen(t);
    *qe = q;
    *qe_len = strlen(q);
    t = q = NULL;
    *count = k;
out:
    free(t);
    free(q);
    json_decref(j);
    return rc;
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
        size_t ws = skip_ws(p, n);
        if (ws < n && p[ws] == '[') { /* a set: the verifier checks the element it uses */
            if (trust_file_classify(p, n, type, &got, err) != 0)
                return err ? err->code : CAIRN_ERR_INVALID;
            return got == k ? 0 : cairn_errf(err, CAIRN_ERR_INVALID, "not a set of %s documents", trust_file_kind_name(k));
        }
        return k == TRUST_FILE_TCB_INFO ? check_doc("tcb info", p, n, "tcbInfo", err)
                                        : check_doc("qe identity", p, n, "enclaveIdentity", err);
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

    struct staged st = {0};
    char *tcb = NULL, *qe = NULL;
    size_t tcb_len = 0, qe_len = 0;
    if (staged_init(&st) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    switch (kind) {
    case TRUST_FILE_CERTS:
    case TRUST_FILE_ROOTS:
        rc = add_certs(tf, &st, it->data, n, kind == TRUST_FILE_ROOTS, &it->n_certs, err);
        break;
    case TRUST_FILE_CRL:
        rc = add_crls(&st, it->data, n, &it->n_certs, err);
        break;
    case TRUST_FILE_QVL_COLLATERAL:
        rc = add_qvl(tf, &st, it->data, n, &tcb, &tcb_len, &qe, &qe_len, &it->n_certs, err);
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
    if (sk_X509_num(st.leaves) + sk_X509_num(tf->leaves) > 1) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: a second leaf certificate (VCEK/VLEK or AK certificate); give one",
                        name);
        goto fail;
    }
    if (sk_X509_num(tf->roots) + sk_X509_num(tf->inters) + sk_X509_num(tf->leaves) + sk_X509_num(tf->collateral) +
            it->n_certs > TRUST_FILES_MAX_CERTS) {
        rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: more than %d certificates in all", name, TRUST_FILES_MAX_CERTS);
        goto fail;
    }
    /* Commit. */
    if (move_certs(st.roots, tf->roots) || move_certs(st.inters, tf->inters) || move_certs(st.leaves, tf->leaves) ||
        move_certs(st.collateral, tf->collateral)) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    while (sk_X509_CRL_num(st.crls) > 0) {
        X509_CRL *c = sk_X509_CRL_shift(st.crls);
        if (!sk_X509_CRL_push(tf->crls, c)) {
            X509_CRL_free(c);
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    /* cannot fail: the counts were checked above */
    if (tcb)
        docs_add(&tf->tcb, tcb, tcb_len, NULL);
    if (qe)
        docs_add(&tf->qe, qe, qe_len, NULL);
    if (slot != NULL) {
        *slot = it->data;
        *slot_len = n;
    }
    staged_free(&st);
    tf->n_items++;
    if (out_kind)
        *out_kind = kind;
    return 0;
fail:
    /* A failed commit may have moved part of a file's certificates; they
     * are harmless duplicates of what the caller then refuses as a whole. */
    staged_free(&st);
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

static char *certs_to_pem(STACK_OF(X509) *a, STACK_OF(X509) *b)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return NULL;
    bool ok = true;
    STACK_OF(X509) *sets[2] = {a, b};
    for (int s = 0; s < 2 && ok; s++)
        for (int i = 0; sets[s] && i < sk_X509_num(sets[s]) && ok; i++)
            ok = PEM_write_bio_X509(bio, sk_X509_value(sets[s], i)) == 1;
    char *out = NULL;
    if (ok) {
        char *d;
        long n = BIO_get_mem_data(bio, &d);
        out = malloc((size_t)n + 1);
        if (out) {
            memcpy(out, d, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(bio);
    return out;
}

/* The trust part of the views (no evidence needed). */
static int fill_trust(struct trust_files *tf, time_t at, struct attest_trust *out, struct cairn_error *err)
{
    struct attest_trust t = {.at = at};
    STACK_OF(X509) *roots = sk_X509_num(tf->roots) > 0 ? tf->roots : NULL;
    STACK_OF(X509) *inters = sk_X509_num(tf->inters) > 0 ? tf->inters : NULL;
    t.crls = sk_X509_CRL_num(tf->crls) > 0 ? tf->crls : NULL;
    switch (tf->type) {
    case ATTEST_SGX:
    case ATTEST_TDX: {
        int rc;
        if ((rc = docs_join(&tf->tcb, err)) != 0 || (rc = docs_join(&tf->qe, err)) != 0)
            return rc;
        t.intel_roots = roots;
        t.intermediates = inters;
        t.collateral_chain = sk_X509_num(tf->collateral) > 0 ? tf->collateral : NULL;
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
    int rc = fill_trust(tf, at, &t, err);
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
    if (sk_X509_num(tf->leaves) > 0) {
        tf->certs_pem = certs_to_pem(tf->leaves, NULL);
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

/* ---- CCEL against the quote -------------------------------------------------------- */

int trust_ccel_check(const uint8_t *table, size_t table_len, const uint8_t *data, size_t data_len, json_t *claims,
                     struct cairn_error *err)
{
    size_t n = data_len;
    if (table != NULL) {
        uint8_t cc_type;
        uint64_t laml, lasa;
        int rc = eventlog_ccel_table_parse(table, table_len, &cc_type, &laml, &lasa, err);
        if (rc != 0)
            return rc;
        if (laml < n)
            n = (size_t)laml;
    }
    struct eventlog_replay *r = malloc(sizeof(*r));
    if (r == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "ccel: out of memory");
    int rc = eventlog_replay(data, n, EVENTLOG_CCEL, r, err);
    if (rc != 0) {
        free(r);
        return cairn_err_prefix(err, "ccel");
    }
    const struct eventlog_bank *b = eventlog_bank_get(r, TPM_ALG_SHA384);
    int compared = 0;
    for (int i = 0; i < 4 && rc == 0; i++) {
        if (!b->touched[i])
            continue;
        char key[8];
        snprintf(key, sizeof(key), "rtmr%d", i);
        const char *q = json_string_value(json_object_get(claims, key));
        uint8_t want[48];
        if (q == NULL || cairn_hex_decode_exact(q, want, 48) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "ccel: the claims have no %s", key);
            break;
        }
        if (CRYPTO_memcmp(want, b->pcr[i], 48) != 0) {
            char *got = cairn_hex_encode(b->pcr[i], 48);
            rc = cairn_errf(err, CAIRN_ERR_VERIFY, "ccel replay: RTMR%d is %s, the quote has %s", i,
                            got ? got : "?", q);
            free(got);
            break;
        }
        compared++;
    }
    free(r);
    if (rc != 0)
        return rc;
    json_t *checks = json_object_get(claims, "checks");
    if (json_object_set_new(claims, "ccel_rtmrs_compared", json_integer(compared)) != 0 ||
        (json_is_array(checks) && json_array_append_new(checks, json_string("ccel_replay")) != 0))
        return cairn_errf(err, CAIRN_ERR_NOMEM, "ccel: out of memory");
    return 0;
}

/* ---- trust directories (a Coordinator's trust configuration) ----------------------- */

struct trust_store {
    struct trust_files *tf[4];   /* sgx, tdx, snp, tpm; NULL = built-in defaults */
    struct attest_trust trust[4];
};

static int type_slot(enum attest_type t)
{
    switch (t) {
    case ATTEST_SGX: return 0;
    case ATTEST_TDX: return 1;
    case ATTEST_SNP: return 2;
    case ATTEST_TPM: return 3;
    default: return -1;
    }
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* Adds every regular file of `dir` (sorted, dotfiles skipped) as `kind`;
 * subdirectories other than "roots" are an error so nothing is silently
 * ignored. */
static int load_dir(struct trust_files *tf, const char *dir, enum trust_file_kind kind, struct cairn_error *err)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0)
        return cairn_errf(err, CAIRN_ERR_IO, "%s: cannot read the directory", dir);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        char *path = NULL;
        struct stat st;
        if (rc != 0 || nm[0] == '.') {
            free(names[i]);
            continue;
        }
        if (asprintf(&path, "%s/%s", dir, nm) < 0) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        } else if (stat(path, &st) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_IO, "%s: cannot stat", path);
        } else if (S_ISDIR(st.st_mode)) {
            if (kind == TRUST_FILE_UNKNOWN && strcmp(nm, "roots") == 0)
                rc = load_dir(tf, path, TRUST_FILE_ROOTS, err);
            else
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: unexpected directory (only \"roots\" is read)", path);
        } else if (S_ISREG(st.st_mode)) {
            rc = trust_files_add_path(tf, path, kind, NULL, err);
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* In a trust directory several CRLs of one issuer accumulate over time: the
 * newest (latest thisUpdate) supersedes the others, so an old file left in
 * the directory cannot fail verification as stale. */
static void supersede_crls(STACK_OF(X509_CRL) *crls)
{
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

void trust_store_free(struct trust_store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < 4; i++)
        trust_files_free(s->tf[i]);
    free(s);
}

int trust_store_load(const char *dir, struct trust_store **out, struct cairn_error *err)
{
    static const enum attest_type types[4] = {ATTEST_SGX, ATTEST_TDX, ATTEST_SNP, ATTEST_TPM};
    struct stat st;
    if (dir == NULL || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "trust directory %s: not a directory", dir ? dir : "(null)");
    struct trust_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++) {
        char *sub = NULL;
        if (asprintf(&sub, "%s/%s", dir, attest_type_name(types[i])) < 0) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            break;
        }
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            s->tf[i] = trust_files_new(types[i]);
            if (s->tf[i] == NULL)
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            else {
                s->tf[i]->store = true;
                rc = load_dir(s->tf[i], sub, TRUST_FILE_UNKNOWN, err);
            }
            if (rc == 0) {
                supersede_crls(s->tf[i]->crls);
                rc = fill_trust(s->tf[i], 0, &s->trust[i], err);
            }
        }
        free(sub);
    }
    if (rc != 0) {
        trust_store_free(s);
        return cairn_err_prefix(err, "trust directory %s", dir);
    }
    *out = s;
    return 0;
}

void trust_store_get(const struct trust_store *s, enum attest_type type, time_t at, struct attest_trust *out)
{
    int i = type_slot(type);
    struct attest_trust t = {0};
    if (s != NULL && i >= 0 && s->tf[i] != NULL)
        t = s->trust[i];
    t.at = at;
    *out = t;
}

json_t *trust_store_describe(const struct trust_store *s)
{
    json_t *o = json_object();
    for (int i = 0; o && i < 4; i++) {
        if (s->tf[i] == NULL)
            continue;
        json_t *d = trust_files_describe(s->tf[i]);
        if (d == NULL || json_object_set_new(o, attest_type_name(s->tf[i]->type), d) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

int trust_files_add_dir(struct trust_files *tf, const char *dir, struct cairn_error *err)
{
    struct stat st;
    if (dir == NULL || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "trust directory %s: not a directory", dir ? dir : "(null)");
    char *sub = NULL;
    if (asprintf(&sub, "%s/%s", dir, attest_type_name(tf->type)) < 0)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    int rc = 0;
    if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* trust material only, as for trust_store_load */
        bool was = tf->store;
        tf->store = true;
        rc = load_dir(tf, sub, TRUST_FILE_UNKNOWN, err);
        tf->store = was;
        if (rc == 0)
            supersede_crls(tf->crls);
    }
    free(sub);
    return rc;
}

/* ---- Azure HCL reports ------------------------------------------------------------- */

#define HCL_REPORT_OFF 0x20
#define HCL_RUNTIME_HDR_OFF 0x4C0
#define HCL_RUNTIME_DATA_OFF 0x4D4
#define HCL_MAX (64u * 1024u)

int trust_hcl_parse(const uint8_t *p, size_t n, struct trust_hcl *out, struct cairn_error *err)
{
    if (p == NULL || n < HCL_RUNTIME_DATA_OFF)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "hcl report: %zu bytes, at least %d needed", p ? n : 0,
                          HCL_RUNTIME_DATA_OFF);
    if (n > HCL_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "hcl report: %zu bytes, cap %u", n, HCL_MAX);
    if (memcmp(p, "HCLA", 4) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "hcl report: magic is not \"HCLA\"");
    struct cairn_reader r;
    cairn_reader_init(&r, p + HCL_RUNTIME_HDR_OFF, n - HCL_RUNTIME_HDR_OFF);
    uint32_t data_size, version, report_type, hash_type, var_size;
    if (cairn_reader_u32le(&r, &data_size) || cairn_reader_u32le(&r, &version) ||
        cairn_reader_u32le(&r, &report_type) || cairn_reader_u32le(&r, &hash_type) ||
        cairn_reader_u32le(&r, &var_size))
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "hcl report: runtime-data header truncated");
    if (report_type != 2)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "hcl report: report_type %u not supported (2 = SEV-SNP)",
                          report_type);
    if (hash_type < 1 || hash_type > 3)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "hcl report: hash_type %u not supported (1..3 = SHA-256/384/512)",
                          hash_type);
    if (var_size == 0 || var_size > n - HCL_RUNTIME_DATA_OFF)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "hcl report: variable_data_size %u exceeds the %zu bytes left",
                          var_size, n - HCL_RUNTIME_DATA_OFF);
    out->report = p + HCL_REPORT_OFF;
    out->report_len = 0x4A0;
    out->report_type = report_type;
    out->hash_type = hash_type;
    out->runtime_data = p + HCL_RUNTIME_DATA_OFF;
    out->runtime_data_len = var_size;
    return 0;
}

static const EVP_MD *hcl_md(uint32_t hash_type)
{
    return hash_type == 1 ? EVP_sha256() : hash_type == 2 ? EVP_sha384() : EVP_sha512();
}

int trust_hcl_jwk_pem(const struct trust_hcl *h, const char *kid, char **out_pem, struct cairn_error *err)
{
    json_t *j = json_loadb((const char *)h->runtime_data, h->runtime_data_len, 0, NULL);
    json_t *keys = json_object_get(j, "keys"), *k, *found = NULL;
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *id = json_string_value(json_object_get(k, "kid"));
        if (id != NULL && strcmp(id, kid) == 0)
            found = k;
    }
    if (found == NULL) {
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "hcl runtime data: no JWK \"%s\"", kid);
    }
    const char *kty = json_string_value(json_object_get(found, "kty"));
    const char *ns = json_string_value(json_object_get(found, "n")), *es = json_string_value(json_object_get(found, "e"));
    uint8_t *nb = NULL, *eb = NULL;
    size_t nl = 0, el = 0;
    int rc = 0;
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    BIO *bio = NULL;
    if (kty == NULL || strcmp(kty, "RSA") != 0 || ns == NULL || es == NULL ||
        cairn_base64url_decode(ns, strlen(ns), &nb, &nl) != 0 || cairn_base64url_decode(es, strlen(es), &eb, &el) != 0 ||
        nl < 128 || nl > 1024 || el == 0 || el > 8) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "hcl runtime data: JWK \"%s\" is not an RSA key (kty, n, e)", kid);
        goto out;
    }
    bn_n = BN_bin2bn(nb, (int)nl, NULL);
    bn_e = BN_bin2bn(eb, (int)el, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n == NULL || bn_e == NULL || bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0 || (bio = BIO_new(BIO_s_mem())) == NULL ||
        PEM_write_bio_PUBKEY(bio, key) != 1) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "hcl runtime data: JWK \"%s\" does not make an RSA key", kid);
        goto out;
    }
    char *d;
    long len = BIO_get_mem_data(bio, &d);
    char *pem = malloc((size_t)len + 1);
    if (pem == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(pem, d, (size_t)len);
    pem[len] = '\0';
    *out_pem = pem;
out:
    ERR_clear_error();
    BIO_free(bio);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(nb);
    free(eb);
    json_decref(j);
    return rc;
}

int trust_hcl_check(const struct trust_hcl *h, struct attest_claims *claims, struct cairn_error *err)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned ml = 0;
    if (EVP_Digest(h->runtime_data, h->runtime_data_len, md, &ml, hcl_md(h->hash_type), NULL) != 1)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "hcl runtime data: digest failed");
    bool ok = claims->report_data_len >= ml && CRYPTO_memcmp(claims->report_data, md, ml) == 0;
    for (size_t i = ml; ok && i < claims->report_data_len; i++)
        ok = claims->report_data[i] == 0;
    char *hex = cairn_hex_encode(md, ml);
    if (!ok) {
        int rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                            "hcl runtime data: the SNP report data does not start with its hash %s (rest zero)",
                            hex ? hex : "?");
        free(hex);
        return rc;
    }
    json_t *o = json_object();
    json_t *rt = json_loadb((const char *)h->runtime_data, h->runtime_data_len, 0, NULL);
    char *ak = NULL;
    int rc = 0;
    if (o == NULL || hex == NULL || json_object_set_new(o, "report_type", json_integer(h->report_type)) != 0 ||
        json_object_set_new(o, "runtime_data_hash", json_string(hex)) != 0)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc == 0 && rt != NULL)
        json_object_set(o, "runtime_data", rt);
    if (rc == 0 && trust_hcl_jwk_pem(h, "HCLAkPub", &ak, NULL) == 0)
        json_object_set_new(o, "ak_pub", json_string(ak));
    json_t *checks = json_object_get(claims->json, "checks");
    if (rc == 0 && (json_object_set_new(claims->json, "hcl", o) != 0 ||
                    (json_is_array(checks) && json_array_append_new(checks, json_string("hcl_runtime_data")) != 0))) {
        o = NULL;
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    } else if (rc == 0) {
        o = NULL; /* owned by the claims now */
    }
    json_decref(o);
    json_decref(rt);
    free(ak);
    free(hex);
    return rc;
}
