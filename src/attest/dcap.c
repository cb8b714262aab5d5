/* Intel DCAP quotes (SGX v3, TDX v4/v5): the structure and the checks that
 * SGX and TDX share. Layout facts: Intel SGX ECDSA Quote Library reference
 * (quote v3) and the TDX DCAP quote format (v4/v5). */
#include "attest/dcap.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/intel_sgx_root_ca.h"
#include "common/encoding.h"
#include "common/reader.h"

#define PCK_CHAIN_MAX_CERTS 8

/* ---- parsing ------------------------------------------------------------ */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The QE report certification data: QE report, its signature, QE auth data
 * and the PCK chain (type 5). It must fill `r` exactly. */
static int parse_qe_report_data(const char *what, struct cairn_reader *r, struct dcap_quote *q,
                                struct cairn_error *err)
{
    uint16_t cert_type;
    uint32_t cert_size;
    if (cairn_reader_bytes(r, DCAP_SGX_REPORT_SIZE, &q->qe_report) != 0 ||
        cairn_reader_bytes(r, 64, &q->qe_report_sig) != 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "%s: QE report and its signature need %d bytes",
                          what, DCAP_SGX_REPORT_SIZE + 64);
    if (cairn_reader_u16le(r, &q->qe_auth_size) != 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "%s: QE auth data size truncated", what);
    if (cairn_reader_bytes(r, q->qe_auth_size, &q->qe_auth) != 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED,
                          "%s: QE auth data size %u exceeds remaining %zu bytes", what,
                          q->qe_auth_size, cairn_reader_remaining(r));
    if (cairn_reader_u16le(r, &cert_type) != 0 || cairn_reader_u32le(r, &cert_size) != 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "%s: PCK certification data header truncated",
                          what);
    /* 5 carries the PEM PCK chain. 1-3 carry the PPID (clear, RSA-2048 or
     * RSA-3072 encrypted) plus CPUSVN, PCESVN and PCE-ID: the chain must then
     * come with the evidence (evidence.certs), fetched from a PCCS. */
    static const uint32_t PPID_SIZE[4] = {0, 16 + 36, 256 + 36, 384 + 36};
    if (cert_type != DCAP_CERT_PCK_CHAIN && (cert_type < 1 || cert_type > 3))
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                          "%s: certification data type %u not supported (expected 5, PEM PCK "
                          "chain, or 1-3, PPID)",
                          what, cert_type);
    size_t left = cairn_reader_remaining(r);
    if (cert_size > left)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED,
                          "%s: certification data size %u exceeds remaining %zu bytes", what,
                          cert_size, left);
    if (cert_size < left)
        return cairn_errf(err, CAIRN_ERR_TRAILING,
                          "%s: %zu bytes after the certification data inside the signature data",
                          what, left - cert_size);
    if (cert_type != DCAP_CERT_PCK_CHAIN && cert_size != PPID_SIZE[cert_type])
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "%s: certification data type %u must be %u bytes, got %u", what,
                          cert_type, PPID_SIZE[cert_type], cert_size);
    if (cert_size == 0 || cert_size > DCAP_CERT_CHAIN_MAX)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: certification data size %u outside 1..%u",
                          what, cert_size, DCAP_CERT_CHAIN_MAX);
    const uint8_t *data;
    (void)cairn_reader_bytes(r, cert_size, &data);
    q->cert_type = cert_type;
    q->cert_data = data;
    q->cert_data_size = cert_size;
    if (cert_type == DCAP_CERT_PCK_CHAIN) {
        q->pck_pem = (const char *)data;
        q->pck_pem_size = cert_size;
    }
    return 0;
}

int dcap_quote_parse(const uint8_t *buf, size_t len, uint32_t expect_tee, struct dcap_quote *out,
                     struct cairn_error *err)
{
    const bool tdx = expect_tee == DCAP_TEE_TDX;
    const char *what = tdx ? "tdx quote" : "sgx quote";
    struct dcap_quote q = {0};
    struct cairn_reader r;

    if (buf == NULL || len == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: empty", what);
    if (len > DCAP_QUOTE_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: %zu bytes exceeds the cap of %u", what,
                          len, DCAP_QUOTE_MAX);
    /* MarbleRun (Open Enclave) prepends {u32 version=1, u32 type=2 (SGX ECDSA),
     * u64 size}. A raw v3 quote starts with u16 3, u16 2, so the two cannot be
     * confused. */
    if (!tdx && len >= DCAP_OE_HEADER_SIZE && le32(buf) == 1 && le32(buf + 4) == 2) {
        uint64_t sz = le64(buf + 8);
        if (sz != len - DCAP_OE_HEADER_SIZE)
            return cairn_errf(
                err, sz > len - DCAP_OE_HEADER_SIZE ? CAIRN_ERR_TRUNCATED : CAIRN_ERR_TRAILING,
                "%s: OE header size %llu does not match the %zu bytes after it", what,
                (unsigned long long)sz, len - DCAP_OE_HEADER_SIZE);
        buf += DCAP_OE_HEADER_SIZE;
        len -= DCAP_OE_HEADER_SIZE;
        q.oe_header = true;
    }
    cairn_reader_init(&r, buf, len);
    if (cairn_reader_u16le(&r, &q.version) != 0 || cairn_reader_u16le(&r, &q.att_key_type) != 0 ||
        cairn_reader_u32le(&r, &q.tee_type) != 0 || cairn_reader_u16le(&r, &q.qe_svn) != 0 ||
        cairn_reader_u16le(&r, &q.pce_svn) != 0 ||
        cairn_reader_bytes(&r, 16, &q.qe_vendor_id) != 0 ||
        cairn_reader_bytes(&r, 20, &q.user_data) != 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "%s: header truncated: %zu bytes, need %d",
                          what, len, DCAP_HEADER_SIZE);
    if (tdx ? (q.version != 4 && q.version != 5) : q.version != 3)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "%s: version %u not supported (expected %s)",
                          what, q.version, tdx ? "4 or 5" : "3");
    if (q.att_key_type != DCAP_ATT_KEY_ECDSA_P256)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                          "%s: attestation key type %u not supported (expected 2, ECDSA P-256)",
                          what, q.att_key_type);
    static const uint8_t INTEL_QE_VENDOR[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                                0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};
    if (memcmp(q.qe_vendor_id, INTEL_QE_VENDOR, 16) != 0)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                          "%s: QE vendor ID is not Intel's (939a7233f79c4ca9940a0db3957f0607)",
                          what);
    if (q.tee_type != expect_tee)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                          "%s: TEE type 0x%x not supported (expected 0x%x)", what, q.tee_type,
                          expect_tee);

    if (!tdx) {
        q.body_type = DCAP_BODY_SGX;
        q.body_size = DCAP_SGX_REPORT_SIZE;
    } else if (q.version == 4) {
        q.body_type = DCAP_BODY_TDX10;
        q.body_size = DCAP_TDX10_BODY_SIZE;
    } else {
        uint16_t bt;
        uint32_t bs;
        if (cairn_reader_u16le(&r, &bt) != 0 || cairn_reader_u32le(&r, &bs) != 0)
            return cairn_errf(err, CAIRN_ERR_TRUNCATED, "%s: body descriptor truncated", what);
        if (bt == DCAP_BODY_TDX10 && bs == DCAP_TDX10_BODY_SIZE)
            q.body_type = DCAP_BODY_TDX10;
        else if (bt == DCAP_BODY_TDX15 && bs == DCAP_TDX15_BODY_SIZE)
            q.body_type = DCAP_BODY_TDX15;
        else if (bt != DCAP_BODY_TDX10 && bt != DCAP_BODY_TDX15)
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                              "%s: body type %u not supported (expected 2, TDX 1.0, or 3, TDX 1.5)",
                              what, bt);
        else
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "%s: body size %u wrong for body type %u (expected %d)", what, bs, bt,
                              bt == DCAP_BODY_TDX10 ? DCAP_TDX10_BODY_SIZE : DCAP_TDX15_BODY_SIZE);
        q.body_size = bs;
    }
    if (cairn_reader_bytes(&r, q.body_size, &q.body) != 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "%s: report body needs %zu bytes, %zu remain",
                          what, q.body_size, cairn_reader_remaining(&r));
    q.signed_data = buf;
    q.signed_size = r.off;

    uint32_t sig_len;
    if (cairn_reader_u32le(&r, &sig_len) != 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "%s: signature data length truncated", what);
    size_t left = cairn_reader_remaining(&r);
    if (sig_len > left)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED,
                          "%s: signature data length %u exceeds remaining %zu bytes", what, sig_len,
                          left);
    if (sig_len < left && !tdx)
        return cairn_errf(err, CAIRN_ERR_TRAILING,
                          "%s: %zu trailing bytes after the signature data", what, left - sig_len);
    const uint8_t *sigdata;
    (void)cairn_reader_bytes(&r, sig_len, &sigdata);
    q.quote_size = r.off;
    q.trailing = left - sig_len;

    struct cairn_reader s;
    cairn_reader_init(&s, sigdata, sig_len);
    if (cairn_reader_bytes(&s, 64, &q.signature) != 0 ||
        cairn_reader_bytes(&s, 64, &q.att_key) != 0)
        return cairn_errf(
            err, CAIRN_ERR_TRUNCATED,
            "%s: signature data of %u bytes too short for the signature and attestation key", what,
            sig_len);
    int rc;
    if (!tdx) {
        rc = parse_qe_report_data(what, &s, &q, err);
    } else {
        uint16_t ct;
        uint32_t cs;
        if (cairn_reader_u16le(&s, &ct) != 0 || cairn_reader_u32le(&s, &cs) != 0)
            return cairn_errf(err, CAIRN_ERR_TRUNCATED, "%s: certification data header truncated",
                              what);
        if (ct != DCAP_CERT_QE_REPORT)
            return cairn_errf(
                err, CAIRN_ERR_UNSUPPORTED,
                "%s: certification data type %u not supported (expected 6, QE report)", what, ct);
        size_t sl = cairn_reader_remaining(&s);
        if (cs > sl)
            return cairn_errf(err, CAIRN_ERR_TRUNCATED,
                              "%s: certification data size %u exceeds remaining %zu bytes", what,
                              cs, sl);
        if (cs < sl)
            return cairn_errf(
                err, CAIRN_ERR_TRAILING,
                "%s: %zu bytes after the certification data inside the signature data", what,
                sl - cs);
        rc = parse_qe_report_data(what, &s, &q, err);
    }
    if (rc != 0)
        return rc;
    *out = q;
    return 0;
}

/* ---- small crypto helpers (OpenSSL 3 EVP only) --------------------------- */

int dcap_p256_key(const uint8_t xy[64], EVP_PKEY **out)
{
    uint8_t pt[65];
    pt[0] = 0x04;
    memcpy(pt + 1, xy, 64);
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)),
        OSSL_PARAM_construct_end(),
    };
    int rc = CAIRN_ERR_INVALID;
    if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1) {
        /* fromdata decodes the point with on-curve checks; the explicit public
         * check makes that independent of the provider. */
        EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        if (chk != NULL && EVP_PKEY_public_check_quick(chk) == 1) {
            *out = key;
            key = NULL;
            rc = 0;
        }
        EVP_PKEY_CTX_free(chk);
    }
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

int dcap_ecdsa_verify(EVP_PKEY *key, const void *msg, size_t n, const uint8_t sig[64])
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL);
    BIGNUM *ss = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    int der_len = -1, rc = CAIRN_ERR_VERIFY;
    if (s != NULL && r != NULL && ss != NULL && ECDSA_SIG_set0(s, r, ss) == 1) {
        r = ss = NULL;
        der_len = i2d_ECDSA_SIG(s, &der);
    }
    if (der_len > 0) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
            EVP_DigestVerify(md, der, (size_t)der_len, msg, n) == 1)
            rc = 0;
        EVP_MD_CTX_free(md);
    }
    OPENSSL_free(der);
    BN_free(r);
    BN_free(ss);
    ECDSA_SIG_free(s);
    ERR_clear_error();
    return rc;
}

/* ---- time ---------------------------------------------------------------- */

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int dcap_time_parse(const char *s, time_t *out)
{
    if (s == NULL || strlen(s) < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
        s[7] != '-' || !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return CAIRN_ERR_INVALID;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9' && n < 9) {
            p++;
            n++;
        }
        if (n == 0)
            return CAIRN_ERR_INVALID;
    }
    if (p[0] != 'Z' || p[1] != '\0')
        return CAIRN_ERR_INVALID;
    struct tm tm = {0};
    tm.tm_year = atoi(s) - 1900;
    tm.tm_mon = (s[5] - '0') * 10 + (s[6] - '0') - 1;
    tm.tm_mday = (s[8] - '0') * 10 + (s[9] - '0');
    tm.tm_hour = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_min = (s[14] - '0') * 10 + (s[15] - '0');
    tm.tm_sec = (s[17] - '0') * 10 + (s[18] - '0');
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return CAIRN_ERR_INVALID;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return CAIRN_ERR_INVALID;
    *out = t;
    return 0;
}

void dcap_time_format(time_t t, char out[32])
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "@%lld", (long long)t);
}

static void asn1_time_str(const ASN1_TIME *t, char out[32])
{
    struct tm tm;
    if (t != NULL && ASN1_TIME_to_tm(t, &tm) == 1 &&
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
        return;
    snprintf(out, 32, "?");
}

/* ---- certificates -------------------------------------------------------- */

static bool pem_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n' && p[i] != '\0')
            return false;
    return true;
}

/* Strict PEM chain: CERTIFICATE blocks separated only by whitespace (and the
 * NUL terminator quotes carry); anything else is an error rather than being
 * skipped, so no byte of the certification data goes unchecked. */
static int certs_from_pem(const char *what, const char *pem, size_t len, STACK_OF(X509) * *out,
                          struct cairn_error *err)
{
    static const char BEGIN[] = "-----BEGIN CERTIFICATE-----", END[] = "-----END CERTIFICATE-----";
    STACK_OF(X509) *sk = sk_X509_new_null();
    size_t off = 0;
    int rc = 0;
    if (sk == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", what);
    while (off < len && !pem_blank(pem + off, len - off)) {
        const char *b = memmem(pem + off, len - off, BEGIN, sizeof(BEGIN) - 1);
        if (b == NULL || !pem_blank(pem + off, (size_t)(b - (pem + off)))) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: unexpected text before certificate %d",
                            what, sk_X509_num(sk) + 1);
            goto out;
        }
        size_t bo = (size_t)(b - pem);
        const char *e = memmem(b, len - bo, END, sizeof(END) - 1);
        if (e == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: certificate %d has no END line", what,
                            sk_X509_num(sk) + 1);
            goto out;
        }
        size_t eo = (size_t)(e - pem) + sizeof(END) - 1;
        /* Only base64 and line breaks between the two lines: no headers, no
         * second BEGIN, no damaged END line that a lenient reader would skip. */
        for (const char *c = b + sizeof(BEGIN) - 1; c < e; c++) {
            bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                      (*c >= '0' && *c <= '9') || *c == '+' || *c == '/' || *c == '=' ||
                      *c == '\n' || *c == '\r';
            if (!ok) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID,
                                "%s: certificate %d: invalid character 0x%02x in the base64 text",
                                what, sk_X509_num(sk) + 1, (unsigned char)*c);
                goto out;
            }
        }
        if (sk_X509_num(sk) >= PCK_CHAIN_MAX_CERTS) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: more than %d certificates", what,
                            PCK_CHAIN_MAX_CERTS);
            goto out;
        }
        BIO *bio = BIO_new_mem_buf(b, (int)(eo - bo));
        X509 *c = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (c == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID,
                            "%s: certificate %d is not a valid PEM X.509 certificate", what,
                            sk_X509_num(sk) + 1);
            goto out;
        }
        if (sk_X509_push(sk, c) <= 0) {
            X509_free(c);
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", what);
            goto out;
        }
        off = eo;
    }
    if (sk_X509_num(sk) == 0) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: no certificate", what);
        goto out;
    }
    *out = sk;
    sk = NULL;
out:
    ERR_clear_error();
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

int dcap_intel_roots(const struct attest_trust *trust, STACK_OF(X509) * *out,
                     struct cairn_error *err)
{
    if (trust != NULL && trust->intel_roots != NULL && sk_X509_num(trust->intel_roots) > 0) {
        STACK_OF(X509) *sk = sk_X509_new_null();
        if (sk == NULL)
            return cairn_errf(err, CAIRN_ERR_NOMEM, "intel roots: out of memory");
        for (int i = 0; i < sk_X509_num(trust->intel_roots); i++) {
            X509 *c = sk_X509_value(trust->intel_roots, i);
            if (X509_up_ref(c) != 1 || sk_X509_push(sk, c) <= 0) {
                sk_X509_pop_free(sk, X509_free);
                return cairn_errf(err, CAIRN_ERR_NOMEM, "intel roots: out of memory");
            }
        }
        *out = sk;
        return 0;
    }
    return certs_from_pem("embedded Intel SGX Root CA", intel_sgx_root_ca_pem,
                          strlen(intel_sgx_root_ca_pem), out, err);
}

static void cert_cn(X509 *c, char out[128])
{
    out[0] = '\0';
    X509_NAME *n = X509_get_subject_name(c);
    if (n == NULL || X509_NAME_get_text_by_NID(n, NID_commonName, out, 128) < 0)
        snprintf(out, 128, "?");
}

bool dcap_cert_cn_is(X509 *c, const char *cn)
{
    char got[128];
    X509_NAME *n = X509_get_subject_name(c);
    /* exactly one CN, equal to `cn` */
    if (n == NULL || X509_NAME_entry_count(n) == 0 ||
        X509_NAME_get_index_by_NID(n, NID_commonName, -1) < 0)
        return false;
    int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
    if (X509_NAME_get_index_by_NID(n, NID_commonName, i) >= 0)
        return false;
    cert_cn(c, got);
    return strcmp(got, cn) == 0;
}

static int check_crl(const char *what, STACK_OF(X509) * chain, X509_CRL *crl, time_t at, int *used,
                     struct cairn_error *err)
{
    int n = sk_X509_num(chain);
    for (int i = 0; i < n; i++) {
        X509 *issuer = sk_X509_value(chain, i);
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0)
            continue;
        char cn[128], t[32];
        cert_cn(issuer, cn);
        EVP_PKEY *k = X509_get0_pubkey(issuer);
        if (k == NULL || X509_CRL_verify(crl, k) != 1) {
            ERR_clear_error();
            return cairn_errf(err, CAIRN_ERR_VERIFY, "%s: CRL of \"%s\" has an invalid signature",
                              what, cn);
        }
        const ASN1_TIME *tu = X509_CRL_get0_lastUpdate(crl), *nu = X509_CRL_get0_nextUpdate(crl);
        if (tu == NULL || X509_cmp_time(tu, &at) != -1) {
            asn1_time_str(tu, t);
            return cairn_errf(err, CAIRN_ERR_EXPIRED,
                              "%s: CRL of \"%s\" not yet valid (thisUpdate %s)", what, cn, t);
        }
        /* A CRL past its nextUpdate may no longer list revocations made since:
         * refuse it rather than treat it as current. */
        if (nu == NULL || X509_cmp_time(nu, &at) != 1) {
            asn1_time_str(nu, t);
            return cairn_errf(err, CAIRN_ERR_EXPIRED, "%s: CRL of \"%s\" is stale (nextUpdate %s)",
                              what, cn, t);
        }
        if (i > 0) {
            X509 *subject = sk_X509_value(chain, i - 1);
            X509_REVOKED *rev = NULL;
            if (X509_CRL_get0_by_cert(crl, &rev, subject) == 1) {
                char scn[128];
                cert_cn(subject, scn);
                return cairn_errf(err, CAIRN_ERR_REVOKED,
                                  "%s: certificate \"%s\" is revoked by the CRL of \"%s\"", what,
                                  scn, cn);
            }
        }
        (*used)++;
        return 0;
    }
    return 0; /* a CRL of some other CA: not about this chain */
}

int dcap_chain_verify(const char *what, X509 *leaf, STACK_OF(X509) * untrusted,
                      STACK_OF(X509) * roots, STACK_OF(X509_CRL) * crls, time_t at, int *crls_used,
                      STACK_OF(X509) * *out_chain, struct cairn_error *err)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *chain = NULL;
    int rc = 0, used = 0;
    if (st == NULL || ctx == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", what);
        goto out;
    }
    for (int i = 0; i < sk_X509_num(roots); i++) {
        if (X509_STORE_add_cert(st, sk_X509_value(roots, i)) != 1) {
            rc = cairn_errf(err, CAIRN_ERR_INTERNAL, "%s: cannot add a trust anchor", what);
            goto out;
        }
    }
    if (X509_STORE_CTX_init(ctx, st, leaf, untrusted) != 1) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", what);
        goto out;
    }
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        int depth = X509_STORE_CTX_get_error_depth(ctx);
        char t[32];
        dcap_time_format(at, t);
        if (e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID)
            rc = cairn_errf(
                err, CAIRN_ERR_EXPIRED, "%s: certificate at depth %d %s at %s", what, depth,
                e == X509_V_ERR_CERT_HAS_EXPIRED ? "has expired" : "is not yet valid", t);
        else
            rc = cairn_errf(err, CAIRN_ERR_VERIFY, "%s: %s (depth %d)", what,
                            X509_verify_cert_error_string(e), depth);
        goto out;
    }
    chain = X509_STORE_CTX_get1_chain(ctx);
    if (chain == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", what);
        goto out;
    }
    for (int i = 0; crls != NULL && i < sk_X509_CRL_num(crls); i++) {
        rc = check_crl(what, chain, sk_X509_CRL_value(crls, i), at, &used, err);
        if (rc != 0)
            goto out;
    }
    if (crls_used != NULL)
        *crls_used = used;
    if (out_chain != NULL) {
        *out_chain = chain;
        chain = NULL;
    }
out:
    ERR_clear_error();
    sk_X509_pop_free(chain, X509_free);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return rc;
}

/* ---- PCK certificate extension ------------------------------------------- */

/* DER of OID 1.2.840.113741.1.13.1 (content octets only). */
static const uint8_t SGX_EXT_OID[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

struct tlv {
    int tag, cls;
    bool constructed;
    const unsigned char *v;
    long len;
};

/* Reads one TLV from [*p, *p + *left): definite lengths only, never past the end. */
static int tlv_next(const unsigned char **p, long *left, struct tlv *t)
{
    if (*left <= 0)
        return CAIRN_ERR_TRUNCATED;
    const unsigned char *q = *p;
    long len;
    int tag, cls;
    int r = ASN1_get_object(&q, &len, &tag, &cls, *left);
    if ((r & 0x80) || r == 0x21)
        return CAIRN_ERR_INVALID;
    long hdr = (long)(q - *p);
    if (hdr > *left || len > *left - hdr)
        return CAIRN_ERR_TRUNCATED;
    t->tag = tag;
    t->cls = cls;
    t->constructed = (r & V_ASN1_CONSTRUCTED) != 0;
    t->v = q;
    t->len = len;
    *p = q + len;
    *left -= hdr + len;
    return 0;
}

static bool is_seq(const struct tlv *t)
{
    return t->tag == V_ASN1_SEQUENCE && t->cls == V_ASN1_UNIVERSAL && t->constructed;
}

static bool is_sub_oid(const struct tlv *o, const uint8_t *suffix, size_t n)
{
    return o->tag == V_ASN1_OBJECT && o->cls == V_ASN1_UNIVERSAL &&
           (size_t)o->len == sizeof(SGX_EXT_OID) + n &&
           memcmp(o->v, SGX_EXT_OID, sizeof(SGX_EXT_OID)) == 0 &&
           memcmp(o->v + sizeof(SGX_EXT_OID), suffix, n) == 0;
}

static int tlv_uint(const struct tlv *t, unsigned max, unsigned *out)
{
    if ((t->tag != V_ASN1_INTEGER && t->tag != V_ASN1_ENUMERATED) || t->cls != V_ASN1_UNIVERSAL ||
        t->len < 1 || t->len > 4 || (t->v[0] & 0x80))
        return CAIRN_ERR_INVALID;
    unsigned long v = 0;
    for (long i = 0; i < t->len; i++)
        v = v << 8 | t->v[i];
    if (v > max)
        return CAIRN_ERR_INVALID;
    *out = (unsigned)v;
    return 0;
}

static int tlv_octets(const struct tlv *t, uint8_t *out, long n)
{
    if (t->tag != V_ASN1_OCTET_STRING || t->cls != V_ASN1_UNIVERSAL || t->len != n)
        return CAIRN_ERR_INVALID;
    memcpy(out, t->v, (size_t)n);
    return 0;
}

static int parse_tcb_seq(const unsigned char *p, long left, struct dcap_pck_info *pi,
                         struct cairn_error *err)
{
    uint32_t seen = 0;
    while (left > 0) {
        struct tlv e, oid, val;
        const unsigned char *ep;
        long el;
        if (tlv_next(&p, &left, &e) != 0 || !is_seq(&e))
            return cairn_errf(err, CAIRN_ERR_INVALID, "pck extension: TCB entry is not a SEQUENCE");
        ep = e.v;
        el = e.len;
        if (tlv_next(&ep, &el, &oid) != 0 || tlv_next(&ep, &el, &val) != 0 || el != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "pck extension: TCB entry is not {OID, value}");
        bool ok = false;
        for (unsigned i = 1; i <= 18 && !ok; i++) {
            uint8_t sfx[2] = {0x02, (uint8_t)i};
            if (!is_sub_oid(&oid, sfx, 2))
                continue;
            ok = true;
            if (seen & (1u << i))
                return cairn_errf(err, CAIRN_ERR_INVALID,
                                  "pck extension: TCB field %u appears twice", i);
            seen |= 1u << i;
            unsigned v;
            if (i <= 16) {
                if (tlv_uint(&val, 255, &v) != 0)
                    return cairn_errf(err, CAIRN_ERR_INVALID,
                                      "pck extension: TCB component %u is not an integer 0..255",
                                      i);
                pi->comp_svn[i - 1] = (uint8_t)v;
            } else if (i == 17) {
                if (tlv_uint(&val, 65535, &v) != 0)
                    return cairn_errf(err, CAIRN_ERR_INVALID,
                                      "pck extension: PCESVN is not an integer 0..65535");
                pi->pcesvn = (uint16_t)v;
            } else if (tlv_octets(&val, pi->cpusvn, 16) != 0) {
                return cairn_errf(err, CAIRN_ERR_INVALID,
                                  "pck extension: CPUSVN is not a 16-byte OCTET STRING");
            }
        }
        /* Unknown TCB entries are ignored: Intel may add fields. */
    }
    if ((seen & 0x7fffeu) != 0x7fffeu)
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "pck extension: TCB lacks some of components 1..16, PCESVN or CPUSVN");
    return 0;
}

int dcap_pck_info_parse(X509 *pck, struct dcap_pck_info *out, struct cairn_error *err)
{
    ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
    if (obj == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "pck extension: out of memory");
    int idx = X509_get_ext_by_OBJ(pck, obj, -1);
    int again = idx >= 0 ? X509_get_ext_by_OBJ(pck, obj, idx) : -1;
    ASN1_OBJECT_free(obj);
    if (idx < 0)
        return cairn_errf(
            err, CAIRN_ERR_NOT_FOUND,
            "pck extension: certificate has no SGX extension (1.2.840.113741.1.13.1)");
    if (again >= 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "pck extension: SGX extension appears twice");
    ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(pck, idx));
    return dcap_pck_ext_parse(ASN1_STRING_get0_data(os), (size_t)ASN1_STRING_length(os), out, err);
}

int dcap_pck_ext_parse(const uint8_t *der, size_t len, struct dcap_pck_info *out,
                       struct cairn_error *err)
{
    struct dcap_pck_info pi;
    memset(&pi, 0, sizeof(pi));
    pi.sgx_type = -1;
    if (der == NULL || len == 0 || len > 64 * 1024)
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "pck extension: value of %zu bytes outside 1..65536", len);
    const unsigned char *p = der;
    long left = (long)len;
    struct tlv top;
    if (tlv_next(&p, &left, &top) != 0 || !is_seq(&top) || left != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "pck extension: value is not one SEQUENCE");
    p = top.v;
    left = top.len;
    unsigned seen = 0;
    while (left > 0) {
        struct tlv e, oid, val;
        if (tlv_next(&p, &left, &e) != 0 || !is_seq(&e))
            return cairn_errf(err, CAIRN_ERR_INVALID, "pck extension: entry is not a SEQUENCE");
        const unsigned char *ep = e.v;
        long el = e.len;
        if (tlv_next(&ep, &el, &oid) != 0 || tlv_next(&ep, &el, &val) != 0 || el != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "pck extension: entry is not {OID, value}");
        for (unsigned i = 1; i <= 7; i++) {
            uint8_t sfx = (uint8_t)i;
            if (!is_sub_oid(&oid, &sfx, 1))
                continue;
            if (seen & (1u << i))
                return cairn_errf(err, CAIRN_ERR_INVALID, "pck extension: field %u appears twice",
                                  i);
            seen |= 1u << i;
            int rc = 0;
            unsigned v;
            switch (i) {
            case 1:
                if (tlv_octets(&val, pi.ppid, 16) != 0)
                    rc = cairn_errf(err, CAIRN_ERR_INVALID,
                                    "pck extension: PPID is not a 16-byte OCTET STRING");
                break;
            case 2:
                if (!is_seq(&val))
                    rc = cairn_errf(err, CAIRN_ERR_INVALID, "pck extension: TCB is not a SEQUENCE");
                else
                    rc = parse_tcb_seq(val.v, val.len, &pi, err);
                break;
            case 3:
                if (tlv_octets(&val, pi.pceid, 2) != 0)
                    rc = cairn_errf(err, CAIRN_ERR_INVALID,
                                    "pck extension: PCE-ID is not a 2-byte OCTET STRING");
                break;
            case 4:
                if (tlv_octets(&val, pi.fmspc, 6) != 0)
                    rc = cairn_errf(err, CAIRN_ERR_INVALID,
                                    "pck extension: FMSPC is not a 6-byte OCTET STRING");
                break;
            case 5:
                if (tlv_uint(&val, 2, &v) != 0)
                    rc = cairn_errf(err, CAIRN_ERR_INVALID, "pck extension: SGX type is not 0..2");
                else
                    pi.sgx_type = (int)v;
                break;
            case 6:
                if (tlv_octets(&val, pi.platform_instance_id, 16) != 0)
                    rc = cairn_errf(
                        err, CAIRN_ERR_INVALID,
                        "pck extension: platform instance ID is not a 16-byte OCTET STRING");
                else
                    pi.has_platform_instance_id = true;
                break;
            default:
                break; /* configuration (7): not needed for the TCB evaluation */
            }
            if (rc != 0)
                return rc;
        }
    }
    if ((seen & 0x1e) != 0x1e)
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "pck extension: PPID, TCB, PCE-ID or FMSPC missing");
    *out = pi;
    return 0;
}

/* ---- shared verification -------------------------------------------------- */

json_t *dcap_json_hex(const uint8_t *p, size_t n)
{
    char *h = cairn_hex_encode(p, n);
    if (h == NULL)
        return NULL;
    json_t *j = json_string(h);
    free(h);
    return j;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* ---- verified-result cache ------------------------------------------------ */

/* Repeated evidence from one platform carries the same PCK chain and is
 * checked against the same collateral. What was verified once (chain path,
 * CRLs, PCK extension; collateral signature) is kept here keyed by SHA-256 of
 * every input that decided it, together with the time window in which that
 * decision holds, so a hit costs a hash and the quote's own signatures.
 * Fixed size, least recently used entry replaced; one mutex. */
#define CACHE_SLOTS 64

struct cache_slot {
    bool used;
    uint8_t key[32];
    struct dcap_cache_val v;
    uint64_t stamp;
};

static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_slot g_cache[CACHE_SLOTS];
static uint64_t g_cache_clock;
static bool g_cache_on = true;
static unsigned long long g_hits, g_misses;

static void val_release(struct dcap_cache_val *v)
{
    EVP_PKEY_free(v->key);
    json_decref(v->obj);
    v->key = NULL;
    v->obj = NULL;
}

static void val_ref(struct dcap_cache_val *v)
{
    if (v->key != NULL)
        EVP_PKEY_up_ref(v->key);
    json_incref(v->obj);
}

void dcap_cache_set_enabled(bool on)
{
    pthread_mutex_lock(&g_cache_lock);
    g_cache_on = on;
    pthread_mutex_unlock(&g_cache_lock);
}

void dcap_cache_clear(void)
{
    pthread_mutex_lock(&g_cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (g_cache[i].used)
            val_release(&g_cache[i].v);
        g_cache[i].used = false;
    }
    g_hits = g_misses = 0;
    pthread_mutex_unlock(&g_cache_lock);
}

void dcap_cache_stats(unsigned long long *hits, unsigned long long *misses)
{
    pthread_mutex_lock(&g_cache_lock);
    *hits = g_hits;
    *misses = g_misses;
    pthread_mutex_unlock(&g_cache_lock);
}

bool dcap_cache_get(const uint8_t key[32], time_t at, struct dcap_cache_val *out)
{
    bool hit = false;
    pthread_mutex_lock(&g_cache_lock);
    if (g_cache_on) {
        for (int i = 0; i < CACHE_SLOTS && !hit; i++) {
            struct cache_slot *c = &g_cache[i];
            if (c->used && memcmp(c->key, key, 32) == 0 && at >= c->v.from && at < c->v.until) {
                *out = c->v;
                val_ref(out);
                c->stamp = ++g_cache_clock;
                hit = true;
            }
        }
        if (hit)
            g_hits++;
        else
            g_misses++;
    }
    pthread_mutex_unlock(&g_cache_lock);
    return hit;
}

void dcap_cache_put(const uint8_t key[32], const struct dcap_cache_val *v)
{
    pthread_mutex_lock(&g_cache_lock);
    if (g_cache_on) {
        struct cache_slot *victim = &g_cache[0];
        for (int i = 0; i < CACHE_SLOTS; i++) {
            struct cache_slot *c = &g_cache[i];
            if (c->used && memcmp(c->key, key, 32) == 0) {
                victim = c;
                break;
            }
            if (!c->used || (victim->used && c->stamp < victim->stamp))
                victim = c;
        }
        if (victim->used)
            val_release(&victim->v);
        victim->used = true;
        memcpy(victim->key, key, 32);
        victim->v = *v;
        val_ref(&victim->v);
        victim->stamp = ++g_cache_clock;
    }
    pthread_mutex_unlock(&g_cache_lock);
}

static int hash_certs(EVP_MD_CTX *mc, STACK_OF(X509) * sk, char tag)
{
    for (int i = 0; sk != NULL && i < sk_X509_num(sk); i++) {
        unsigned char *der = NULL;
        int n = i2d_X509(sk_X509_value(sk, i), &der);
        if (n <= 0)
            return CAIRN_ERR_CRYPTO;
        int ok = EVP_DigestUpdate(mc, &tag, 1) == 1 && EVP_DigestUpdate(mc, &n, sizeof(n)) == 1 &&
                 EVP_DigestUpdate(mc, der, (size_t)n) == 1;
        OPENSSL_free(der);
        if (!ok)
            return CAIRN_ERR_CRYPTO;
    }
    return 0;
}

int dcap_cache_key(const char *domain, const void *doc, size_t len,
                   const struct attest_trust *trust, bool with_collateral_chain, uint8_t out[32])
{
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    int rc = CAIRN_ERR_CRYPTO;
    uint64_t l = len;
    if (mc == NULL || EVP_DigestInit_ex(mc, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(mc, domain, strlen(domain) + 1) != 1 ||
        EVP_DigestUpdate(mc, &l, sizeof(l)) != 1 || EVP_DigestUpdate(mc, doc, len) != 1)
        goto out;
    if (trust != NULL) {
        if (hash_certs(mc, trust->intel_roots, 'R') != 0 ||
            hash_certs(mc, trust->intermediates, 'I') != 0 ||
            (with_collateral_chain && hash_certs(mc, trust->collateral_chain, 'C') != 0))
            goto out;
        for (int i = 0; trust->crls != NULL && i < sk_X509_CRL_num(trust->crls); i++) {
            unsigned char *der = NULL;
            int n = i2d_X509_CRL(sk_X509_CRL_value(trust->crls, i), &der);
            char tag = 'L';
            int ok = n > 0 && EVP_DigestUpdate(mc, &tag, 1) == 1 &&
                     EVP_DigestUpdate(mc, &n, sizeof(n)) == 1 &&
                     EVP_DigestUpdate(mc, der, (size_t)n) == 1;
            OPENSSL_free(der);
            if (!ok)
                goto out;
        }
    }
    unsigned hl;
    if (EVP_DigestFinal_ex(mc, out, &hl) == 1)
        rc = 0;
out:
    EVP_MD_CTX_free(mc);
    return rc;
}

static time_t asn1_to_time(const ASN1_TIME *t, time_t dflt)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return dflt;
    return timegm(&tm);
}

void dcap_path_window(STACK_OF(X509) * path, STACK_OF(X509_CRL) * crls, time_t *from, time_t *until)
{
    time_t f = 0, u = (time_t)INT64_MAX;
    for (int i = 0; path != NULL && i < sk_X509_num(path); i++) {
        X509 *c = sk_X509_value(path, i);
        time_t nb = asn1_to_time(X509_get0_notBefore(c), (time_t)INT64_MAX);
        time_t na = asn1_to_time(X509_get0_notAfter(c), 0);
        if (nb > f)
            f = nb;
        if (na < u)
            u = na; /* notAfter is inclusive; ending the window there is conservative */
    }
    for (int i = 0; crls != NULL && i < sk_X509_CRL_num(crls); i++) {
        X509_CRL *crl = sk_X509_CRL_value(crls, i);
        time_t tu = asn1_to_time(X509_CRL_get0_lastUpdate(crl), (time_t)INT64_MAX);
        time_t nu = asn1_to_time(X509_CRL_get0_nextUpdate(crl), 0);
        if (tu > f)
            f = tu;
        if (nu < u)
            u = nu;
    }
    *from = f;
    *until = u;
}

/* The PCK chain part of dcap_verify_quote: on success *leaf_key (owned) and
 * *pck are set and the checks are appended. */
static int verify_pck_chain(const char *what, const char *pem, size_t pem_size,
                            const struct attest_trust *trust, time_t at, json_t *checks,
                            EVP_PKEY **leaf_key, struct dcap_pck_info *pck, struct cairn_error *err)
{
    STACK_OF(X509) *certs = NULL, *roots = NULL, *untrusted = NULL, *path = NULL;
    int rc, ncrl = 0;
    char pfx[64];
    uint8_t key[32];
    bool keyed = dcap_cache_key("pck", pem, pem_size, trust, false, key) == 0;
    struct dcap_cache_val cv = {0};
    snprintf(pfx, sizeof(pfx), "%s: pck chain", what);
    if (keyed && dcap_cache_get(key, at, &cv)) {
        json_array_append_new(checks, json_string("pck_chain"));
        if (cv.ncrl > 0)
            json_array_append_new(checks, json_string("pck_crl"));
        *pck = cv.pck;
        *leaf_key = cv.key;
        return 0;
    }

    if (pem_size > DCAP_CERT_CHAIN_MAX) {
        rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: more than %u bytes of PEM", pfx,
                        DCAP_CERT_CHAIN_MAX);
        goto out;
    }
    if ((rc = certs_from_pem(pfx, pem, pem_size, &certs, err)) != 0)
        goto out;
    if ((rc = dcap_intel_roots(trust, &roots, err)) != 0)
        goto out;
    X509 *leaf = sk_X509_value(certs, 0);
    untrusted = sk_X509_new_null();
    if (untrusted == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", pfx);
        goto out;
    }
    for (int i = 1; i < sk_X509_num(certs); i++)
        if (sk_X509_push(untrusted, sk_X509_value(certs, i)) <= 0) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", pfx);
            goto out;
        }
    for (int i = 0;
         trust != NULL && trust->intermediates != NULL && i < sk_X509_num(trust->intermediates);
         i++)
        if (sk_X509_push(untrusted, sk_X509_value(trust->intermediates, i)) <= 0) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", pfx);
            goto out;
        }
    ERR_clear_error();
    rc = dcap_chain_verify(pfx, leaf, untrusted, roots, trust ? trust->crls : NULL, at, &ncrl,
                           &path, err);
    if (rc != 0)
        goto out;
    /* Every certificate the quote carries must be on the verified path (its
     * copy of the root included, which must equal the trusted one): a
     * modified or extra certificate is an error, not silently unused. */
    for (int i = 0; i < sk_X509_num(certs); i++) {
        bool on_path = false;
        for (int k = 0; k < sk_X509_num(path) && !on_path; k++)
            on_path = X509_cmp(sk_X509_value(certs, i), sk_X509_value(path, k)) == 0;
        if (!on_path) {
            rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                            i == sk_X509_num(certs) - 1 && i > 0
                                ? "%s: certificate %d (the root) in the quote is not the trusted "
                                  "Intel SGX Root CA"
                                : "%s: certificate %d in the quote is not on the verified path",
                            pfx, i + 1);
            goto out;
        }
    }
    /* Each certificate must play its Intel role: a PCK leaf issued by a PCK
     * Processor or Platform CA (so no other Intel key, e.g. the TCB signer,
     * can stand in for the PCK). */
    if (!dcap_cert_cn_is(leaf, "Intel SGX PCK Certificate")) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "%s: the leaf is not an \"Intel SGX PCK Certificate\"", pfx);
        goto out;
    }
    if (sk_X509_num(path) < 2 ||
        (!dcap_cert_cn_is(sk_X509_value(path, 1), "Intel SGX PCK Processor CA") &&
         !dcap_cert_cn_is(sk_X509_value(path, 1), "Intel SGX PCK Platform CA"))) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "%s: the leaf's issuer is not \"Intel SGX PCK Processor CA\" or \"Intel "
                        "SGX PCK Platform CA\"",
                        pfx);
        goto out;
    }
    if ((rc = dcap_pck_info_parse(leaf, pck, err)) != 0) {
        cairn_err_prefix(err, "%s", what);
        goto out;
    }
    EVP_PKEY *pkey = X509_get0_pubkey(leaf);
    if (pkey == NULL || EVP_PKEY_up_ref(pkey) != 1) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: the PCK certificate has no usable public key",
                        pfx);
        goto out;
    }
    json_array_append_new(checks, json_string("pck_chain"));
    if (ncrl > 0)
        json_array_append_new(checks, json_string("pck_crl"));
    if (keyed) {
        /* CRLs of other CAs are in the key too; only those that applied
         * bound the window, but including all keeps it conservative. */
        cv.key = pkey;
        cv.pck = *pck;
        cv.ncrl = ncrl;
        dcap_path_window(path, trust ? trust->crls : NULL, &cv.from, &cv.until);
        dcap_cache_put(key, &cv);
    }
    *leaf_key = pkey;
    rc = 0;
out:
    sk_X509_free(untrusted);
    sk_X509_pop_free(path, X509_free);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(roots, X509_free);
    return rc;
}

int dcap_verify_quote(const char *what, const struct dcap_quote *q, const char *certs,
                      size_t certs_len, const struct attest_trust *trust, time_t at, json_t *checks,
                      struct dcap_pck_info *pck, struct cairn_error *err)
{
    EVP_PKEY *akey = NULL, *pkey = NULL;
    int rc;
    const char *pem = q->pck_pem;
    size_t pem_size = q->pck_pem_size;
    if (pem != NULL && certs_len > 0)
        return cairn_errf(
            err, CAIRN_ERR_INVALID,
            "%s: evidence.certs given but the quote carries its own PCK chain (type 5)", what);
    if (pem == NULL) {
        if (certs == NULL || certs_len == 0)
            return cairn_errf(
                err, CAIRN_ERR_UNSUPPORTED,
                "%s: certification data type %u carries no PCK chain and evidence.certs is empty",
                what, q->cert_type);
        pem = certs;
        pem_size = certs_len;
    }
    if ((rc = verify_pck_chain(what, pem, pem_size, trust, at, checks, &pkey, pck, err)) != 0)
        return rc;
    /* PPID data ends with CPUSVN (16), PCESVN (2) and PCE-ID (2): the
     * separately supplied PCK certificate must be for the same PCE. */
    if (q->pck_pem == NULL && memcmp(q->cert_data + q->cert_data_size - 2, pck->pceid, 2) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "%s: the PCE-ID in the PPID certification data differs from the PCK "
                        "certificate's",
                        what);
        goto out;
    }
    if (dcap_ecdsa_verify(pkey, q->qe_report, DCAP_SGX_REPORT_SIZE, q->qe_report_sig) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "%s: QE report signature does not verify with the PCK certificate key",
                        what);
        goto out;
    }
    json_array_append_new(checks, json_string("qe_report_signature"));
    uint8_t h[32];
    unsigned hl = 0;
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    bool hashed = mc != NULL && EVP_DigestInit_ex(mc, EVP_sha256(), NULL) == 1 &&
                  EVP_DigestUpdate(mc, q->att_key, 64) == 1 &&
                  EVP_DigestUpdate(mc, q->qe_auth, q->qe_auth_size) == 1 &&
                  EVP_DigestFinal_ex(mc, h, &hl) == 1;
    EVP_MD_CTX_free(mc);
    if (!hashed) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "%s: SHA-256 failed", what);
        goto out;
    }
    if (CRYPTO_memcmp(h, q->qe_report + SGX_RB_REPORTDATA, 32) != 0 ||
        !all_zero(q->qe_report + SGX_RB_REPORTDATA + 32, 32)) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "%s: QE report data does not bind the attestation key (SHA-256(attestation "
                        "key || QE auth "
                        "data) || 32 zero bytes expected)",
                        what);
        goto out;
    }
    json_array_append_new(checks, json_string("qe_report_binding"));

    if (dcap_p256_key(q->att_key, &akey) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: attestation key is not a valid P-256 point",
                        what);
        goto out;
    }
    if (dcap_ecdsa_verify(akey, q->signed_data, q->signed_size, q->signature) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "%s: quote signature does not verify with the attestation key", what);
        goto out;
    }
    json_array_append_new(checks, json_string("quote_signature"));
    rc = 0;
out:
    EVP_PKEY_free(akey);
    EVP_PKEY_free(pkey);
    return rc;
}
