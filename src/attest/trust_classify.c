/* Supporting files recognised by content (see trust_classify.h). */
#include "attest/trust_classify.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "attest/collateral.h"
#include "attest/eventlog.h"
#include "attest/tpm.h"
#include "attest/trust_encoding.h"
#include "common/reader.h"

#define JSON_FILE_MAX (COLLATERAL_DOC_MAX * 4) /* a document set may hold several */

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

static bool is_tpm_hash(uint16_t a)
{
    return a == TPM_ALG_SHA1 || a == TPM_ALG_SHA256 || a == TPM_ALG_SHA384 || a == TPM_ALG_SHA512;
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

static int classify_pem(const uint8_t *p, size_t n, enum trust_file_kind *out, struct cairn_error *err)
{
    struct trust_pem_block b[TRUST_PEM_BLOCKS_MAX];
    size_t k = 0;
    int rc = trust_pem_blocks("PEM file", p, n, b, &k, err);
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
    trust_pem_blocks_free(b, k);
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
    size_t ws = trust_skip_ws(p, n);
    if (ws < n && (p[ws] == '{' || p[ws] == '['))
        return classify_json(p, n, out, err);
    if (trust_has_pem(p, n))
        return classify_pem(p, n, out, err);
    if (n == 56 && memcmp(p, "CCEL", 4) == 0) {
        *out = TRUST_FILE_CCEL_TABLE;
        return 0;
    }
    if (p[0] == 0x30) {
        X509 *x = trust_der_cert(p, n);
        if (x != NULL) {
            X509_free(x);
            *out = TRUST_FILE_CERTS;
            return 0;
        }
        X509_CRL *c = trust_der_crl(p, n);
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
