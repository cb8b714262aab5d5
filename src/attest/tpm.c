/* TPM 2.0 quote verification: TPMS_ATTEST parser, AK (TPMT_PUBLIC, PEM or
 * certificate), TPMT_SIGNATURE, PCR digest, event log comparison, claims and
 * the TPM package policy. Check order in tpm.h. */
#include "attest/tpm.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <tss2/tss2_mu.h>

#include "attest/eventlog.h"
#include "attest/snp.h" /* attest_certs_parse */
#include "attest/uki.h" /* signed PCR 11 policies */
#include "common/encoding.h"
#include "common/reader.h"

#define PCRS_JSON_MAX (256u << 10)
#define AK_MAX (64u << 10)

static const EVP_MD *md_of(uint16_t alg)
{
    switch (alg) {
    case TPM_ALG_SHA1: return EVP_sha1();
    case TPM_ALG_SHA256: return EVP_sha256();
    case TPM_ALG_SHA384: return EVP_sha384();
    case TPM_ALG_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

static uint16_t alg_of_size(size_t n)
{
    switch (n) {
    case 20: return TPM_ALG_SHA1;
    case 32: return TPM_ALG_SHA256;
    case 48: return TPM_ALG_SHA384;
    case 64: return TPM_ALG_SHA512;
    default: return 0;
    }
}

static const char *alg_name(uint16_t alg)
{
    const char *s = eventlog_alg_name(alg);
    return s ? s : "unknown";
}

/* ---- TPMS_ATTEST ------------------------------------------------------------ */

int tpm_attest_parse(const uint8_t *p, size_t n, struct tpm_attest *out, struct cairn_error *err)
{
    if (p == NULL || n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tpm quote: empty TPMS_ATTEST");
    if (n > 4096)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "tpm quote: TPMS_ATTEST of %zu bytes, cap 4096", n);
    struct tpm_attest a;
    memset(&a, 0, sizeof(a));
    struct cairn_reader rd;
    cairn_reader_init(&rd, p, n);
#define NEED(call, field)                                                                                  \
    do {                                                                                                   \
        if ((call) != 0)                                                                                   \
            return cairn_errf(err, CAIRN_ERR_TRUNCATED, "tpm quote: TPMS_ATTEST truncated at %s", field);  \
    } while (0)
    NEED(cairn_reader_u32be(&rd, &a.magic), "magic");
    if (a.magic != TPM_GENERATED_VALUE)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tpm quote: magic 0x%08x is not TPM_GENERATED_VALUE 0xff544347",
                          a.magic);
    NEED(cairn_reader_u16be(&rd, &a.type), "type");
    if (a.type != TPM_ST_ATTEST_QUOTE)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tpm quote: type 0x%04x is not TPM_ST_ATTEST_QUOTE 0x8018", a.type);
    NEED(cairn_reader_tpm2b(&rd, &a.qualified_signer, &a.qualified_signer_len), "qualifiedSigner");
    if (a.qualified_signer_len > 2 + 64)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tpm quote: qualifiedSigner of %u bytes exceeds 66",
                          a.qualified_signer_len);
    NEED(cairn_reader_tpm2b(&rd, &a.extra_data, &a.extra_data_len), "extraData");
    if (a.extra_data_len > 64)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tpm quote: extraData of %u bytes exceeds 64", a.extra_data_len);
    NEED(cairn_reader_u64be(&rd, &a.clock), "clockInfo.clock");
    NEED(cairn_reader_u32be(&rd, &a.reset_count), "clockInfo.resetCount");
    NEED(cairn_reader_u32be(&rd, &a.restart_count), "clockInfo.restartCount");
    NEED(cairn_reader_u8(&rd, &a.safe), "clockInfo.safe");
    if (a.safe > 1)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tpm quote: clockInfo.safe %u is not a TPMI_YES_NO", a.safe);
    NEED(cairn_reader_u64be(&rd, &a.firmware_version), "firmwareVersion");
    uint32_t count;
    NEED(cairn_reader_u32be(&rd, &count), "pcrSelect.count");
    if (count == 0 || count > TPM_MAX_PCR_BANKS)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tpm quote: pcrSelect.count %u out of range 1..%d", count,
                          TPM_MAX_PCR_BANKS);
    for (uint32_t i = 0; i < count; i++) {
        uint16_t alg;
        uint8_t size;
        const uint8_t *bits;
        NEED(cairn_reader_u16be(&rd, &alg), "pcrSelections.hash");
        NEED(cairn_reader_u8(&rd, &size), "pcrSelections.sizeofSelect");
        if (size == 0 || size > 4)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm quote: pcrSelections[%u].sizeofSelect %u out of range 1..4",
                              i, size);
        NEED(cairn_reader_bytes(&rd, size, &bits), "pcrSelections.pcrSelect");
        uint32_t mask = 0;
        for (unsigned b = 0; b < size; b++)
            mask |= (uint32_t)bits[b] << (8 * b);
        if (mask >> TPM_PCRS)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm quote: pcrSelections[%u] selects a PCR above 23", i);
        if (eventlog_alg_size(alg) == 0)
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tpm quote: pcrSelections[%u].hash 0x%04x not supported", i,
                              alg);
        for (uint32_t k = 0; k < i; k++) {
            if (a.sel[k].alg == alg)
                return cairn_errf(err, CAIRN_ERR_INVALID, "tpm quote: bank %s selected twice", alg_name(alg));
        }
        a.sel[i].alg = alg;
        a.sel[i].mask = mask;
    }
    a.n_sel = count;
    NEED(cairn_reader_tpm2b(&rd, &a.pcr_digest, &a.pcr_digest_len), "pcrDigest");
    if (alg_of_size(a.pcr_digest_len) == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tpm quote: pcrDigest of %u bytes is not a SHA-1/256/384/512 digest",
                          a.pcr_digest_len);
#undef NEED
    if (cairn_reader_remaining(&rd) != 0)
        return cairn_errf(err, CAIRN_ERR_TRAILING, "tpm quote: %zu bytes after the TPMS_ATTEST",
                          cairn_reader_remaining(&rd));
    *out = a;
    return 0;
}

/* ---- AK ---------------------------------------------------------------------- */

void tpm_ak_clear(struct tpm_ak *ak)
{
    if (ak == NULL)
        return;
    EVP_PKEY_free(ak->key);
    memset(ak, 0, sizeof(*ak));
}

static EVP_PKEY *rsa_key(const uint8_t *mod, size_t mod_len, uint32_t exponent)
{
    EVP_PKEY *k = NULL;
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    BIGNUM *n = BN_bin2bn(mod, (int)mod_len, NULL), *e = BN_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    OSSL_PARAM *params = NULL;
    if (b == NULL || n == NULL || e == NULL || ctx == NULL || !BN_set_word(e, exponent ? exponent : 65537) ||
        !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n) || !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e) ||
        (params = OSSL_PARAM_BLD_to_param(b)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
        k = NULL;
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_free(n);
    BN_free(e);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

static EVP_PKEY *ec_key(const char *group, size_t field, const uint8_t *x, size_t xl, const uint8_t *y, size_t yl)
{
    if (xl > field || yl > field)
        return NULL;
    uint8_t pt[1 + 2 * 66] = {0x04};
    memcpy(pt + 1 + (field - xl), x, xl); /* left-pad short coordinates */
    memcpy(pt + 1 + field + (field - yl), y, yl);
    EVP_PKEY *k = NULL;
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM *params = NULL;
    if (b == NULL || ctx == NULL || !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * field) ||
        (params = OSSL_PARAM_BLD_to_param(b)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
        k = NULL;
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    /* fromdata does not check that the point is on the curve */
    if (k != NULL) {
        EVP_PKEY_CTX *c2 = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
        if (c2 == NULL || EVP_PKEY_public_check(c2) != 1) {
            EVP_PKEY_free(k);
            k = NULL;
        }
        EVP_PKEY_CTX_free(c2);
    }
    return k;
}

int tpm_public_parse(const uint8_t *p, size_t n, struct tpm_ak *out, struct cairn_error *err)
{
    if (p == NULL || n < 2)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "tpm AK: TPMT_PUBLIC too short");
    if (n > 4096)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "tpm AK: TPMT_PUBLIC of %zu bytes, cap 4096", n);
    /* TPM2B_PUBLIC: a u16 size equal to the rest. */
    if (((size_t)p[0] << 8 | p[1]) == n - 2 && n > 2) {
        p += 2;
        n -= 2;
    }
    TPMT_PUBLIC pub;
    memset(&pub, 0, sizeof(pub));
    size_t off = 0;
    TSS2_RC trc = Tss2_MU_TPMT_PUBLIC_Unmarshal(p, n, &off, &pub);
    if (trc != TSS2_RC_SUCCESS)
        return cairn_errf(err, (trc & 0xFFFF) == TSS2_BASE_RC_INSUFFICIENT_BUFFER ? CAIRN_ERR_TRUNCATED
                                                                                 : CAIRN_ERR_INVALID,
                          "tpm AK: TPMT_PUBLIC does not parse (tss2-mu rc 0x%x)", trc);
    if (off != n)
        return cairn_errf(err, CAIRN_ERR_TRAILING, "tpm AK: %zu bytes after the TPMT_PUBLIC", n - off);
    struct tpm_ak ak;
    memset(&ak, 0, sizeof(ak));
    ak.has_public = true;
    ak.name_alg = pub.nameAlg;
    ak.attributes = pub.objectAttributes;
    const EVP_MD *nmd = md_of(pub.nameAlg);
    if (nmd == NULL)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tpm AK: nameAlg 0x%04x not supported", pub.nameAlg);
    unsigned int hl = 0;
    ak.name[0] = (uint8_t)(pub.nameAlg >> 8);
    ak.name[1] = (uint8_t)pub.nameAlg;
    if (EVP_Digest(p, n, ak.name + 2, &hl, nmd, NULL) != 1)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "tpm AK: name digest failed");
    ak.name_len = 2 + hl;
    if (pub.type == TPM2_ALG_RSA) {
        const TPMS_RSA_PARMS *rp = &pub.parameters.rsaDetail;
        ak.sign_hash = rp->scheme.scheme == TPM2_ALG_NULL ? TPM_ALG_NULL : rp->scheme.details.anySig.hashAlg;
        if (pub.unique.rsa.size < 128 || pub.unique.rsa.size * 8u != rp->keyBits)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm AK: RSA modulus of %u bytes does not match keyBits %u",
                              pub.unique.rsa.size, rp->keyBits);
        ak.key = rsa_key(pub.unique.rsa.buffer, pub.unique.rsa.size, rp->exponent);
    } else if (pub.type == TPM2_ALG_ECC) {
        const TPMS_ECC_PARMS *ep = &pub.parameters.eccDetail;
        ak.sign_hash = ep->scheme.scheme == TPM2_ALG_NULL ? TPM_ALG_NULL : ep->scheme.details.anySig.hashAlg;
        const char *grp = NULL;
        size_t field = 0;
        switch (ep->curveID) {
        case TPM2_ECC_NIST_P256: grp = "P-256"; field = 32; break;
        case TPM2_ECC_NIST_P384: grp = "P-384"; field = 48; break;
        case TPM2_ECC_NIST_P521: grp = "P-521"; field = 66; break;
        default:
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tpm AK: ECC curve 0x%04x not supported", ep->curveID);
        }
        ak.key = ec_key(grp, field, pub.unique.ecc.x.buffer, pub.unique.ecc.x.size, pub.unique.ecc.y.buffer,
                        pub.unique.ecc.y.size);
    } else {
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tpm AK: key type 0x%04x not supported (RSA or ECC)", pub.type);
    }
    ERR_clear_error();
    if (ak.key == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tpm AK: public key is not valid");
    *out = ak;
    return 0;
}

/* ak_pub: TPMT_PUBLIC, PEM public key or certificate (PEM/DER). */
static int load_ak(const uint8_t *p, size_t n, struct tpm_ak *ak, X509 **cert_out, struct cairn_error *err)
{
    if (n > AK_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "tpm AK: %zu bytes, cap %u", n, AK_MAX);
    if (memmem(p, n, "-----BEGIN PUBLIC KEY-----", 26) != NULL) {
        BIO *b = BIO_new_mem_buf(p, (int)n);
        EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        ERR_clear_error();
        if (k == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm AK: PEM public key does not parse");
        memset(ak, 0, sizeof(*ak));
        ak->key = k;
        return 0;
    }
    if (memmem(p, n, "-----BEGIN CERTIFICATE-----", 27) != NULL || (n > 4 && p[0] == 0x30 && p[1] == 0x82)) {
        STACK_OF(X509) *sk = NULL;
        int rc = attest_certs_parse(p, n, &sk, err);
        if (rc != 0)
            return cairn_err_prefix(err, "tpm AK");
        X509 *x = sk_X509_shift(sk);
        sk_X509_pop_free(sk, X509_free);
        memset(ak, 0, sizeof(*ak));
        ak->key = X509_get_pubkey(x);
        *cert_out = x;
        return ak->key ? 0 : cairn_errf(err, CAIRN_ERR_INVALID, "tpm AK: certificate key unusable");
    }
    return tpm_public_parse(p, n, ak, err);
}

/* ---- signature ------------------------------------------------------------------ */

struct sig_view {
    uint16_t sig_alg, hash_alg;
    uint8_t *der;       /* owned: signature bytes as OpenSSL wants them */
    size_t der_len;
};

static int ecdsa_rs_to_der(const uint8_t *r, size_t rl, const uint8_t *s, size_t sl, uint8_t **out, size_t *out_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *br = BN_bin2bn(r, (int)rl, NULL), *bs = BN_bin2bn(s, (int)sl, NULL);
    if (sig == NULL || br == NULL || bs == NULL || !ECDSA_SIG_set0(sig, br, bs)) {
        ECDSA_SIG_free(sig);
        BN_free(br);
        BN_free(bs);
        return CAIRN_ERR_NOMEM;
    }
    unsigned char *der = NULL;
    int dl = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (dl <= 0)
        return CAIRN_ERR_NOMEM;
    *out = der; /* OPENSSL_free */
    *out_len = (size_t)dl;
    return 0;
}

static int parse_signature(const uint8_t *p, size_t n, EVP_PKEY *key, uint16_t default_hash, struct sig_view *out,
                           struct cairn_error *err)
{
    if (p == NULL || n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tpm signature: none given");
    if (n > 4096)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "tpm signature: %zu bytes, cap 4096", n);
    struct sig_view v = {0};
    uint16_t first = n >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : 0;
    if (first == TPM_ALG_RSASSA || first == TPM_ALG_RSAPSS || first == TPM_ALG_ECDSA) {
        TPMT_SIGNATURE s;
        memset(&s, 0, sizeof(s));
        size_t off = 0;
        TSS2_RC trc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(p, n, &off, &s);
        if (trc != TSS2_RC_SUCCESS)
            return cairn_errf(err, (trc & 0xFFFF) == TSS2_BASE_RC_INSUFFICIENT_BUFFER ? CAIRN_ERR_TRUNCATED
                                                                                     : CAIRN_ERR_INVALID,
                              "tpm signature: TPMT_SIGNATURE does not parse (tss2-mu rc 0x%x)", trc);
        if (off != n)
            return cairn_errf(err, CAIRN_ERR_TRAILING, "tpm signature: %zu bytes after the TPMT_SIGNATURE", n - off);
        v.sig_alg = s.sigAlg;
        if (s.sigAlg == TPM_ALG_ECDSA) {
            v.hash_alg = s.signature.ecdsa.hash;
            if (s.signature.ecdsa.signatureR.size == 0 || s.signature.ecdsa.signatureS.size == 0)
                return cairn_errf(err, CAIRN_ERR_INVALID, "tpm signature: empty ECDSA r or s");
            if (ecdsa_rs_to_der(s.signature.ecdsa.signatureR.buffer, s.signature.ecdsa.signatureR.size,
                                s.signature.ecdsa.signatureS.buffer, s.signature.ecdsa.signatureS.size, &v.der,
                                &v.der_len) != 0)
                return cairn_errf(err, CAIRN_ERR_NOMEM, "tpm signature: out of memory");
        } else {
            v.hash_alg = s.signature.rsassa.hash;
            if (s.signature.rsassa.sig.size == 0)
                return cairn_errf(err, CAIRN_ERR_INVALID, "tpm signature: empty RSA signature");
            v.der = OPENSSL_memdup(s.signature.rsassa.sig.buffer, s.signature.rsassa.sig.size);
            v.der_len = s.signature.rsassa.sig.size;
            if (v.der == NULL)
                return cairn_errf(err, CAIRN_ERR_NOMEM, "tpm signature: out of memory");
        }
        if (md_of(v.hash_alg) == NULL) {
            OPENSSL_free(v.der);
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tpm signature: hash 0x%04x not supported", v.hash_alg);
        }
        *out = v;
        return 0;
    }
    /* Bare signatures: the key type says which. */
    v.hash_alg = default_hash;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        if ((int)n != EVP_PKEY_get_size(key))
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm signature: %zu bytes, neither a TPMT_SIGNATURE nor a raw "
                              "RSA signature of %d bytes", n, EVP_PKEY_get_size(key));
        v.sig_alg = TPM_ALG_RSASSA;
    } else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        if (p[0] != 0x30)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm signature: neither a TPMT_SIGNATURE nor DER ECDSA");
        v.sig_alg = TPM_ALG_ECDSA;
    } else {
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tpm signature: AK key type not supported");
    }
    v.der = OPENSSL_memdup(p, n);
    v.der_len = n;
    if (v.der == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "tpm signature: out of memory");
    *out = v;
    return 0;
}

static int verify_signature(EVP_PKEY *key, const struct sig_view *s, const uint8_t *msg, size_t n,
                            struct cairn_error *err)
{
    int kt = EVP_PKEY_get_base_id(key);
    bool rsa = s->sig_alg == TPM_ALG_RSASSA || s->sig_alg == TPM_ALG_RSAPSS;
    if ((rsa && kt != EVP_PKEY_RSA) || (!rsa && kt != EVP_PKEY_EC))
        return cairn_errf(err, CAIRN_ERR_VERIFY, "tpm signature: algorithm 0x%04x does not fit the AK key type",
                          s->sig_alg);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int rc = 0;
    if (md == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "tpm signature: out of memory");
    if (EVP_DigestVerifyInit(md, &pctx, md_of(s->hash_alg), NULL, key) != 1) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "tpm signature: verify init failed");
        goto out;
    }
    if (s->sig_alg == TPM_ALG_RSAPSS &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1)) {
        rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "tpm signature: PSS setup failed");
        goto out;
    }
    if (EVP_DigestVerify(md, s->der, s->der_len, msg, n) != 1)
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "tpm signature: quote signature does not verify with the AK");
out:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    return rc;
}

/* ---- PCR values ------------------------------------------------------------------ */

static int bank_slot(struct tpm_pcr_values *v, uint16_t alg)
{
    for (unsigned i = 0; i < v->n_banks; i++) {
        if (v->bank[i].alg == alg)
            return (int)i;
    }
    if (v->n_banks >= TPM_MAX_PCR_BANKS)
        return -1;
    v->bank[v->n_banks].alg = alg;
    return (int)v->n_banks++;
}

static int put_pcr(struct tpm_pcr_values *v, uint16_t alg, const char *idx, const json_t *val,
                   struct cairn_error *err)
{
    char *end = NULL;
    long i = strtol(idx, &end, 10);
    if (end == idx || *end != 0 || i < 0 || i >= TPM_PCRS)
        return cairn_errf(err, CAIRN_ERR_INVALID, "pcrs: index \"%s\" is not 0..23", idx);
    const char *h = json_string_value(val);
    if (h == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "pcrs: PCR %ld is not a hex string", i);
    size_t hl = strlen(h);
    if (alg == 0)
        alg = alg_of_size(hl / 2);
    size_t ds = eventlog_alg_size(alg);
    if (ds == 0 || hl != 2 * ds)
        return cairn_errf(err, CAIRN_ERR_INVALID, "pcrs: PCR %ld has %zu hex digits, expected %zu for %s", i, hl,
                          2 * ds, alg_name(alg));
    int b = bank_slot(v, alg);
    if (b < 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "pcrs: more than %d banks", TPM_MAX_PCR_BANKS);
    if (cairn_hex_decode_exact(h, v->bank[b].v[i], ds) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "pcrs: PCR %ld is not hex", i);
    v->bank[b].present |= 1u << i;
    return 0;
}

int tpm_pcrs_parse_json(const uint8_t *p, size_t n, struct tpm_pcr_values *out, struct cairn_error *err)
{
    if (p == NULL || n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "pcrs: none given");
    if (n > PCRS_JSON_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "pcrs: %zu bytes, cap %u", n, PCRS_JSON_MAX);
    json_error_t je;
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "pcrs: not JSON (%s at line %d)", je.text, je.line);
    struct tpm_pcr_values *v = calloc(1, sizeof(*v));
    int rc = 0;
    if (v == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "pcrs: out of memory");
        goto out;
    }
    const json_t *pcrs = json_object_get(j, "pcrs");
    if (!json_is_object(pcrs)) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "pcrs: missing object \"pcrs\"");
        goto out;
    }
    uint16_t alg = 0;
    const json_t *ha = json_object_get(j, "hash_alg");
    if (ha != NULL && (!json_is_string(ha) || eventlog_alg_from_name(json_string_value(ha), &alg) != 0)) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "pcrs: hash_alg is not sha1, sha256, sha384 or sha512");
        goto out;
    }
    const char *k;
    const json_t *val;
    json_object_foreach((json_t *)pcrs, k, val) {
        if (json_is_object(val)) { /* {"pcrs": {"sha256": {"0": hex}}} */
            uint16_t balg;
            if (eventlog_alg_from_name(k, &balg) != 0) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "pcrs: unknown bank \"%s\"", k);
                goto out;
            }
            const char *ik;
            const json_t *iv;
            json_object_foreach((json_t *)val, ik, iv) {
                if ((rc = put_pcr(v, balg, ik, iv, err)) != 0)
                    goto out;
            }
        } else if ((rc = put_pcr(v, alg, k, val, err)) != 0) {
            goto out;
        }
    }
    *out = *v;
out:
    free(v);
    json_decref(j);
    return rc;
}

int tpm_pcrs_parse(const uint8_t *p, size_t n, const struct tpm_attest *a, struct tpm_pcr_values *out,
                   struct cairn_error *err)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    if (p == NULL || n == 0 || (i < n && p[i] == '{'))
        return tpm_pcrs_parse_json(p, n, out, err);
    /* Binary: the selected values concatenated in selection order (banks as
     * in the quote, indices ascending), as `tpm2_pcrread -o` writes them. */
    size_t want = 0;
    for (unsigned s = 0; s < a->n_sel; s++)
        want += (size_t)__builtin_popcount(a->sel[s].mask) * eventlog_alg_size(a->sel[s].alg);
    if (n != want)
        return cairn_errf(err, n < want ? CAIRN_ERR_TRUNCATED : CAIRN_ERR_TRAILING,
                          "pcrs: %zu bytes of binary PCR values, the quote's selection needs %zu", n, want);
    struct tpm_pcr_values *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "pcrs: out of memory");
    size_t off = 0;
    for (unsigned s = 0; s < a->n_sel; s++) {
        size_t ds = eventlog_alg_size(a->sel[s].alg);
        v->bank[s].alg = a->sel[s].alg;
        for (unsigned k = 0; k < TPM_PCRS; k++) {
            if (!(a->sel[s].mask & (1u << k)))
                continue;
            memcpy(v->bank[s].v[k], p + off, ds);
            v->bank[s].present |= 1u << k;
            off += ds;
        }
    }
    v->n_banks = a->n_sel;
    *out = *v;
    free(v);
    return 0;
}

/* ---- verification ------------------------------------------------------------------ */

static int check_pcr_digest(const struct tpm_attest *a, const struct tpm_pcr_values *v, uint16_t hash,
                            struct cairn_error *err)
{
    const EVP_MD *md = md_of(hash);
    if (md == NULL || (size_t)EVP_MD_get_size(md) != a->pcr_digest_len)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "tpm quote: pcrDigest is %u bytes, the %s signature hash gives %d",
                          a->pcr_digest_len, alg_name(hash), md ? EVP_MD_get_size(md) : 0);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL || EVP_DigestInit_ex(c, md, NULL) != 1) {
        EVP_MD_CTX_free(c);
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "tpm quote: digest init failed");
    }
    int rc = 0;
    for (unsigned s = 0; s < a->n_sel && rc == 0; s++) {
        int b;
        for (b = 0; b < (int)v->n_banks && v->bank[b].alg != a->sel[s].alg; b++)
            ;
        for (unsigned i = 0; i < TPM_PCRS && rc == 0; i++) {
            if (!(a->sel[s].mask & (1u << i)))
                continue;
            if (b == (int)v->n_banks || !(v->bank[b].present & (1u << i)))
                rc = cairn_errf(err, CAIRN_ERR_VERIFY, "tpm quote: %s PCR %u is selected but its value is not given",
                                alg_name(a->sel[s].alg), i);
            else
                EVP_DigestUpdate(c, v->bank[b].v[i], eventlog_alg_size(a->sel[s].alg));
        }
    }
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (rc == 0 && (EVP_DigestFinal_ex(c, d, &dl) != 1 || dl != a->pcr_digest_len ||
                    CRYPTO_memcmp(d, a->pcr_digest, dl) != 0))
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "tpm quote: pcrDigest does not match the given PCR values");
    EVP_MD_CTX_free(c);
    return rc;
}

/* Every quoted PCR the log extends must equal the replay. */
static int check_eventlog(const struct tpm_attest *a, const struct tpm_pcr_values *v, const uint8_t *log, size_t n,
                          int *compared, struct cairn_error *err)
{
    struct eventlog_replay *r = malloc(sizeof(*r));
    if (r == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "tpm event log: out of memory");
    int rc = eventlog_replay(log, n, EVENTLOG_TCG, r, err);
    if (rc != 0) {
        free(r);
        return cairn_err_prefix(err, "tpm");
    }
    int cmp = 0;
    for (unsigned s = 0; s < a->n_sel && rc == 0; s++) {
        const struct eventlog_bank *lb = eventlog_bank_get(r, a->sel[s].alg);
        if (lb == NULL)
            continue;
        int b;
        for (b = 0; b < (int)v->n_banks && v->bank[b].alg != a->sel[s].alg; b++)
            ;
        for (unsigned i = 0; i < TPM_PCRS && rc == 0; i++) {
            if (!(a->sel[s].mask & (1u << i)) || !lb->touched[i])
                continue;
            if (CRYPTO_memcmp(lb->pcr[i], v->bank[b].v[i], lb->digest_size) != 0) {
                char *h = cairn_hex_encode(lb->pcr[i], lb->digest_size);
                rc = cairn_errf(err, CAIRN_ERR_VERIFY, "tpm event log: %s PCR %u replays to %s, the quote has another "
                                "value", alg_name(a->sel[s].alg), i, h ? h : "?");
                free(h);
            }
            cmp++;
        }
    }
    if (rc == 0 && cmp == 0)
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "tpm event log: extends none of the quoted PCRs");
    free(r);
    if (rc == 0)
        *compared = cmp;
    return rc;
}

/* On success with out_path != NULL, *out_path is the verified path (leaf
 * first, root last; sk_X509_pop_free). */
static int verify_ak_chain(X509 *leaf, STACK_OF(X509) *chain, const struct attest_trust *trust,
                           STACK_OF(X509) *roots, time_t at, STACK_OF(X509) **out_path, struct cairn_error *err)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int rc = 0;
    if (st == NULL || ctx == NULL || untrusted == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "tpm: out of memory");
        goto out;
    }
    for (int i = 0; i < sk_X509_num(roots); i++)
        X509_STORE_add_cert(st, sk_X509_value(roots, i));
    for (int i = 0; chain && i < sk_X509_num(chain); i++)
        sk_X509_push(untrusted, sk_X509_value(chain, i));
    for (int i = 0; trust && trust->intermediates && i < sk_X509_num(trust->intermediates); i++)
        sk_X509_push(untrusted, sk_X509_value(trust->intermediates, i));
    if (!X509_STORE_CTX_init(ctx, st, leaf, untrusted)) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "tpm: out of memory");
        goto out;
    }
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(vp, at);
    /* No purpose is set: AK certificates carry no TLS purposes. */
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        int code = (e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID) ? CAIRN_ERR_EXPIRED
                   : e == X509_V_ERR_CERT_REVOKED                                           ? CAIRN_ERR_REVOKED
                                                                                            : CAIRN_ERR_VERIFY;
        rc = cairn_errf(err, code, "tpm AK certificate chain (depth %d): %s", X509_STORE_CTX_get_error_depth(ctx),
                        X509_verify_cert_error_string(e));
    } else {
        STACK_OF(X509) *path = X509_STORE_CTX_get1_chain(ctx);
        if (path == NULL)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "tpm: out of memory");
        else if (trust != NULL && (rc = attest_crls_check(path, trust->crls, at, err)) != 0)
            cairn_err_prefix(err, "tpm AK certificate");
        if (rc == 0 && out_path != NULL)
            *out_path = path;
        else
            sk_X509_pop_free(path, X509_free);
    }
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    sk_X509_free(untrusted);
    return rc;
}

/* ---- cache of verified AK chains ------------------------------------------------
 * Keyed by SHA-256(leaf DER || SHA-256 of each root DER), used only without
 * CRLs, and only for a time inside the path's validity window. Entries hold a
 * reference to the verified path (leaf first) for the claims' ak_chain. */
#define AK_CACHE_SLOTS 32
struct ak_cache_entry {
    uint8_t key[32];
    time_t not_before, not_after;
    STACK_OF(X509) *path;
};
static pthread_mutex_t g_ak_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ak_cache_entry g_ak_cache[AK_CACHE_SLOTS];
static unsigned g_ak_next;
static bool g_ak_off;

/* Parsed AK public keys (TPMT_PUBLIC or PEM) and parsed PCR-value JSON, keyed
 * by SHA-256 of the input bytes: a platform sends the same AK and usually
 * the same PCR values every time, and building the RSA key (Montgomery
 * setup) and parsing the JSON were ~45 % of a verification (perf). */
#define PARSED_SLOTS 8
static struct {
    uint8_t key[32];
    struct tpm_ak ak;          /* ak.key holds one reference */
} g_ak_parsed[PARSED_SLOTS];
static struct {
    uint8_t key[32];
    bool used;
    struct tpm_pcr_values v;
} g_pcr_parsed[PARSED_SLOTS];
static unsigned g_ak_parsed_next, g_pcr_parsed_next;

static bool bytes_key(const uint8_t *p, size_t n, uint8_t key[32])
{
    unsigned int kl = 0;
    return p != NULL && EVP_Digest(p, n, key, &kl, EVP_sha256(), NULL) == 1 && kl == 32;
}

static void parsed_clear_locked(void)
{
    for (unsigned i = 0; i < PARSED_SLOTS; i++) {
        tpm_ak_clear(&g_ak_parsed[i].ak);
        memset(g_ak_parsed[i].key, 0, 32);
        g_pcr_parsed[i].used = false;
    }
}

void tpm_chain_cache_set(bool enabled)
{
    pthread_mutex_lock(&g_ak_mu);
    parsed_clear_locked();
    g_ak_off = !enabled;
    for (unsigned i = 0; i < AK_CACHE_SLOTS; i++) {
        sk_X509_pop_free(g_ak_cache[i].path, X509_free);
        memset(&g_ak_cache[i], 0, sizeof(g_ak_cache[i]));
    }
    g_ak_next = 0;
    pthread_mutex_unlock(&g_ak_mu);
}

static bool ak_cache_key(X509 *leaf, STACK_OF(X509) *roots, uint8_t key[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int dl = i2d_X509(leaf, &der);
    bool ok = c != NULL && dl > 0 && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(c, der, (size_t)dl) == 1;
    for (int i = 0; ok && i < sk_X509_num(roots); i++) {
        unsigned char h[EVP_MAX_MD_SIZE];
        unsigned int hl = 0;
        ok = X509_digest(sk_X509_value(roots, i), EVP_sha256(), h, &hl) == 1 && EVP_DigestUpdate(c, h, hl) == 1;
    }
    unsigned int kl = 0;
    ok = ok && EVP_DigestFinal_ex(c, key, &kl) == 1 && kl == 32;
    OPENSSL_free(der);
    EVP_MD_CTX_free(c);
    return ok;
}

static STACK_OF(X509) *ak_cache_lookup(const uint8_t key[32], time_t at)
{
    STACK_OF(X509) *out = NULL;
    pthread_mutex_lock(&g_ak_mu);
    for (unsigned i = 0; !g_ak_off && i < AK_CACHE_SLOTS && out == NULL; i++) {
        const struct ak_cache_entry *e = &g_ak_cache[i];
        if (e->path != NULL && memcmp(e->key, key, 32) == 0 && at >= e->not_before && at <= e->not_after)
            out = X509_chain_up_ref(e->path);
    }
    pthread_mutex_unlock(&g_ak_mu);
    return out;
}

static void ak_cache_store(const uint8_t key[32], STACK_OF(X509) *path)
{
    time_t nb = 0, na = (time_t)INT64_MAX;
    for (int i = 0; i < sk_X509_num(path); i++) {
        struct tm tb, ta;
        X509 *x = sk_X509_value(path, i);
        if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tb) != 1 || ASN1_TIME_to_tm(X509_get0_notAfter(x), &ta) != 1)
            return;
        time_t b = timegm(&tb), a = timegm(&ta);
        nb = b > nb ? b : nb;
        na = a < na ? a : na;
    }
    STACK_OF(X509) *copy = X509_chain_up_ref(path);
    if (copy == NULL)
        return;
    pthread_mutex_lock(&g_ak_mu);
    if (g_ak_off) {
        pthread_mutex_unlock(&g_ak_mu);
        sk_X509_pop_free(copy, X509_free);
        return;
    }
    struct ak_cache_entry *e = &g_ak_cache[g_ak_next++ % AK_CACHE_SLOTS];
    STACK_OF(X509) *old = e->path;
    memcpy(e->key, key, 32);
    e->not_before = nb;
    e->not_after = na;
    e->path = copy;
    pthread_mutex_unlock(&g_ak_mu);
    sk_X509_pop_free(old, X509_free);
}

static char *der_b64(X509 *x)
{
    unsigned char *der = NULL;
    int dl = i2d_X509(x, &der);
    if (dl <= 0)
        return NULL;
    char *s = cairn_base64_encode(der, (size_t)dl);
    OPENSSL_free(der);
    return s;
}

static int set_hex(json_t *o, const char *k, const void *p, size_t n)
{
    char *h = cairn_hex_encode(p, n);
    if (h == NULL)
        return -1;
    int rc = json_object_set_new(o, k, json_string(h));
    free(h);
    return rc;
}

static int load_ak_cached(const uint8_t *p, size_t n, struct tpm_ak *ak, X509 **cert_out, struct cairn_error *err)
{
    uint8_t key[32];
    bool keyed = n <= AK_MAX && bytes_key(p, n, key);
    if (keyed) {
        bool hit = false;
        pthread_mutex_lock(&g_ak_mu);
        for (unsigned i = 0; !g_ak_off && i < PARSED_SLOTS && !hit; i++) {
            if (g_ak_parsed[i].ak.key != NULL && memcmp(g_ak_parsed[i].key, key, 32) == 0 &&
                EVP_PKEY_up_ref(g_ak_parsed[i].ak.key) == 1) {
                *ak = g_ak_parsed[i].ak;
                hit = true;
            }
        }
        pthread_mutex_unlock(&g_ak_mu);
        if (hit)
            return 0;
    }
    int rc = load_ak(p, n, ak, cert_out, err);
    if (rc != 0 || !keyed || *cert_out != NULL || ak->key == NULL || EVP_PKEY_up_ref(ak->key) != 1)
        return rc;
    struct tpm_ak old = {0};
    pthread_mutex_lock(&g_ak_mu);
    if (g_ak_off) {
        old.key = ak->key; /* the extra reference */
    } else {
        unsigned slot = g_ak_parsed_next++ % PARSED_SLOTS;
        old = g_ak_parsed[slot].ak;
        memcpy(g_ak_parsed[slot].key, key, 32);
        g_ak_parsed[slot].ak = *ak;
    }
    pthread_mutex_unlock(&g_ak_mu);
    tpm_ak_clear(&old);
    return 0;
}

static int pcrs_parse_cached(const uint8_t *p, size_t n, const struct tpm_attest *a, struct tpm_pcr_values *out,
                             struct cairn_error *err)
{
    uint8_t key[32];
    /* only the JSON form: the binary form depends on the quote's selection */
    size_t ws = 0;
    while (p != NULL && ws < n && (p[ws] == ' ' || p[ws] == '\t' || p[ws] == '\n' || p[ws] == '\r'))
        ws++;
    bool json = p != NULL && ws < n && p[ws] == '{'; /* the same test as tpm_pcrs_parse */
    bool keyed = json && n <= PCRS_JSON_MAX && bytes_key(p, n, key);
    if (keyed) {
        bool hit = false;
        pthread_mutex_lock(&g_ak_mu);
        for (unsigned i = 0; !g_ak_off && i < PARSED_SLOTS && !hit; i++) {
            if (g_pcr_parsed[i].used && memcmp(g_pcr_parsed[i].key, key, 32) == 0) {
                *out = g_pcr_parsed[i].v;
                hit = true;
            }
        }
        pthread_mutex_unlock(&g_ak_mu);
        if (hit)
            return 0;
    }
    int rc = tpm_pcrs_parse(p, n, a, out, err);
    if (rc != 0 || !keyed)
        return rc;
    pthread_mutex_lock(&g_ak_mu);
    if (!g_ak_off) {
        unsigned slot = g_pcr_parsed_next++ % PARSED_SLOTS;
        memcpy(g_pcr_parsed[slot].key, key, 32);
        g_pcr_parsed[slot].v = *out;
        g_pcr_parsed[slot].used = true;
    }
    pthread_mutex_unlock(&g_ak_mu);
    return 0;
}

int tpm_verify(const struct attest_evidence *ev, const struct attest_trust *trust, struct attest_claims *out,
               struct cairn_error *err)
{
    struct tpm_attest a;
    int rc = tpm_attest_parse(ev->quote, ev->quote_len, &a, err);
    if (rc != 0)
        return rc;
    /* The PCR signature file travels to the policy as text: only bounded here;
     * a package's PCRPublicKey parses and checks it (uki_pcrsig_check). */
    json_t *pcrsig = NULL;
    if (ev->pcr_signature != NULL && ev->pcr_signature_len > 0) {
        if (ev->pcr_signature_len > UKI_PCRSIG_MAX_BYTES)
            return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "tpm evidence: PCR signature of %zu bytes, cap %u",
                              ev->pcr_signature_len, UKI_PCRSIG_MAX_BYTES);
        if ((pcrsig = json_stringn((const char *)ev->pcr_signature, ev->pcr_signature_len)) == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm evidence: the PCR signature is not UTF-8 text");
    }
    time_t at = (trust && trust->at) ? trust->at : time(NULL);
    struct tpm_ak ak = {0};
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    struct sig_view sig = {0};
    struct tpm_pcr_values *pv = NULL;
    json_t *j = NULL;
    bool certified = false;
    int log_cmp = 0;

    if (ev->certs != NULL && ev->certs_len > 0) {
        if ((rc = attest_certs_parse(ev->certs, ev->certs_len, &chain, err)) != 0) {
            cairn_err_prefix(err, "tpm AK certificate");
            goto out;
        }
    }
    if (ev->ak_pub != NULL && ev->ak_pub_len > 0) {
        X509 *akcert = NULL;
        if ((rc = load_ak_cached(ev->ak_pub, ev->ak_pub_len, &ak, &akcert, err)) != 0)
            goto out;
        /* The AK certificate is the one whose key is the AK, wherever it is
         * in the bundle. */
        for (int i = 0; chain != NULL && leaf == NULL && i < sk_X509_num(chain); i++) {
            EVP_PKEY *k = X509_get0_pubkey(sk_X509_value(chain, i));
            if (k != NULL && EVP_PKEY_eq(k, ak.key) == 1)
                leaf = sk_X509_delete(chain, i);
        }
        ERR_clear_error();
        if (akcert != NULL) {
            if (leaf == NULL)
                leaf = akcert;
            else
                X509_free(akcert);
        }
    }
    if (leaf == NULL && chain != NULL)
        leaf = sk_X509_shift(chain);
    if (leaf != NULL) {
        EVP_PKEY *ck = X509_get0_pubkey(leaf);
        if (ck == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "tpm AK certificate: key unusable");
            goto out;
        }
        if (ak.key == NULL) {
            ak.key = EVP_PKEY_dup(ck);
            if (ak.key == NULL) {
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "tpm: out of memory");
                goto out;
            }
        } else if (EVP_PKEY_eq(ak.key, ck) != 1) {
            rc = cairn_errf(err, CAIRN_ERR_VERIFY, "tpm AK certificate: its key is not the AK");
            goto out;
        }
        if (trust != NULL && trust->tpm_roots != NULL && sk_X509_num(trust->tpm_roots) > 0) {
            STACK_OF(X509) *path = NULL;
            uint8_t key[32];
            bool cacheable = (trust->crls == NULL || sk_X509_CRL_num(trust->crls) == 0) &&
                             ak_cache_key(leaf, trust->tpm_roots, key);
            if (cacheable)
                path = ak_cache_lookup(key, at);
            if (path == NULL) {
                if ((rc = verify_ak_chain(leaf, chain, trust, trust->tpm_roots, at, &path, err)) != 0)
                    goto out;
                if (cacheable)
                    ak_cache_store(key, path);
            }
            certified = true;
            /* Keep the intermediates that made the path, for AKRoots checks
             * at policy time (the leaf is already in `leaf`). */
            X509_free(sk_X509_shift(path));
            sk_X509_pop_free(chain, X509_free);
            chain = path;
        }
    }
    if (ak.key == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "tpm evidence: no AK (akPub or AK certificate) given");
        goto out;
    }
    /* A TPMT_PUBLIC AK must be a restricted signing key: only those refuse to
     * sign data that starts with TPM_GENERATED_VALUE, so only their quotes
     * are known to come from the TPM. */
    if (ak.has_public && ((ak.attributes & TPMA_OBJECT_RESTRICTED) == 0 || (ak.attributes & TPMA_OBJECT_SIGN_ENCRYPT) == 0)) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "tpm AK: objectAttributes 0x%08x lack restricted and sign",
                        ak.attributes);
        goto out;
    }
    uint16_t default_hash = alg_of_size(a.pcr_digest_len);
    if ((rc = parse_signature(ev->signature, ev->signature_len, ak.key, default_hash, &sig, err)) != 0)
        goto out;
    if ((rc = verify_signature(ak.key, &sig, ev->quote, ev->quote_len, err)) != 0)
        goto out;
    /* qualifiedSigner: a Name of the AK's nameAlg (see tpm.h). */
    if (ak.has_public) {
        size_t want = 2 + eventlog_alg_size(ak.name_alg);
        if (a.qualified_signer_len != want || ((uint16_t)(a.qualified_signer[0] << 8 | a.qualified_signer[1])) !=
                                                  ak.name_alg) {
            rc = cairn_errf(err, CAIRN_ERR_VERIFY, "tpm quote: qualifiedSigner is not a %s name like the AK's",
                            alg_name(ak.name_alg));
            goto out;
        }
    }
    pv = calloc(1, sizeof(*pv));
    if (pv == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "tpm: out of memory");
        goto out;
    }
    if ((rc = pcrs_parse_cached(ev->pcrs, ev->pcrs_len, &a, pv, err)) != 0) {
        cairn_err_prefix(err, "tpm evidence");
        goto out;
    }
    if ((rc = check_pcr_digest(&a, pv, sig.hash_alg, err)) != 0)
        goto out;
    if (ev->eventlog != NULL && ev->eventlog_len > 0 &&
        (rc = check_eventlog(&a, pv, ev->eventlog, ev->eventlog_len, &log_cmp, err)) != 0)
        goto out;

    /* claims */
    j = json_object();
    json_t *banks = json_object(), *checks = json_array();
    if (j == NULL || banks == NULL || checks == NULL) {
        json_decref(banks);
        json_decref(checks);
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "tpm: out of memory");
        goto out;
    }
    int jr = 0;
    jr |= json_object_set_new(j, "type", json_string("tpm"));
    uint8_t rd[64] = {0};
    memcpy(rd, a.extra_data, a.extra_data_len);
    jr |= set_hex(j, "report_data", a.extra_data, a.extra_data_len);
    jr |= set_hex(j, "nonce", a.extra_data, a.extra_data_len);
    for (unsigned s = 0; s < a.n_sel; s++) {
        int b;
        for (b = 0; b < (int)pv->n_banks && pv->bank[b].alg != a.sel[s].alg; b++)
            ;
        json_t *bo = json_object();
        for (unsigned i = 0; i < TPM_PCRS; i++) {
            if (a.sel[s].mask & (1u << i)) {
                char k[4];
                snprintf(k, sizeof(k), "%u", i);
                jr |= set_hex(bo, k, pv->bank[b].v[i], eventlog_alg_size(a.sel[s].alg));
            }
        }
        jr |= json_object_set_new(banks, alg_name(a.sel[s].alg), bo);
    }
    jr |= json_object_set_new(j, "pcrs", banks);
    jr |= json_object_set_new(j, "sig_alg", json_string(sig.sig_alg == TPM_ALG_RSASSA   ? "rsassa"
                                                        : sig.sig_alg == TPM_ALG_RSAPSS ? "rsapss"
                                                                                        : "ecdsa"));
    jr |= json_object_set_new(j, "hash_alg", json_string(alg_name(sig.hash_alg)));
    if (ak.has_public)
        jr |= set_hex(j, "ak_name", ak.name, ak.name_len);
    jr |= set_hex(j, "qualified_signer", a.qualified_signer, a.qualified_signer_len);
    jr |= json_object_set_new(j, "clock", json_integer((json_int_t)a.clock));
    jr |= json_object_set_new(j, "reset_count", json_integer(a.reset_count));
    jr |= json_object_set_new(j, "restart_count", json_integer(a.restart_count));
    char fw[17];
    snprintf(fw, sizeof(fw), "%016llx", (unsigned long long)a.firmware_version);
    jr |= json_object_set_new(j, "firmware_version", json_string(fw));
    jr |= json_object_set_new(j, "ak_certified", json_boolean(certified));
    char tbuf[32];
    struct tm tm;
    gmtime_r(&at, &tm);
    strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    jr |= json_object_set_new(j, "verified_at", json_string(tbuf));
    if (leaf != NULL) {
        char *s = der_b64(leaf);
        jr |= s ? json_object_set_new(j, "ak_cert", json_string(s)) : -1;
        free(s);
        json_t *arr = json_array();
        for (int i = 0; chain && i < sk_X509_num(chain); i++) {
            char *c = der_b64(sk_X509_value(chain, i));
            jr |= c ? json_array_append_new(arr, json_string(c)) : -1;
            free(c);
        }
        jr |= json_object_set_new(j, "ak_chain", arr);
    }
    if (log_cmp > 0)
        jr |= json_object_set_new(j, "eventlog_pcrs_compared", json_integer(log_cmp));
    if (pcrsig != NULL) {
        jr |= json_object_set_new(j, "pcr_signature", pcrsig);
        pcrsig = NULL;
    }
    json_array_append_new(checks, json_string("quote_format"));
    if (certified)
        json_array_append_new(checks, json_string("ak_cert_chain"));
    json_array_append_new(checks, json_string("quote_signature"));
    json_array_append_new(checks, json_string("pcr_digest"));
    if (log_cmp > 0)
        json_array_append_new(checks, json_string("eventlog_replay"));
    jr |= json_object_set_new(j, "checks", checks);
    if (jr != 0) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "tpm: out of memory building claims");
        goto out;
    }
    out->type = ATTEST_TPM;
    memcpy(out->report_data, rd, 64);
    out->report_data_len = a.extra_data_len;
    out->json = j;
    j = NULL;
out:
    json_decref(pcrsig);
    json_decref(j);
    free(pv);
    OPENSSL_free(sig.der);
    tpm_ak_clear(&ak);
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}

/* ---- policy -------------------------------------------------------------------------- */

static X509 *b64_cert(const char *s)
{
    uint8_t *der = NULL;
    size_t n = 0;
    if (s == NULL || cairn_base64_decode(s, strlen(s), &der, &n) != 0)
        return NULL;
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, (long)n);
    free(der);
    return x;
}

static int check_ak_roots(const struct tee_package *p, const json_t *j, struct cairn_error *err)
{
    X509 *leaf = b64_cert(json_string_value(json_object_get(j, "ak_cert")));
    if (leaf == NULL)
        return cairn_errf(err, CAIRN_ERR_POLICY, "AKRoots: the evidence has no AK certificate");
    STACK_OF(X509) *chain = sk_X509_new_null(), *roots = sk_X509_new_null();
    int rc = 0;
    const json_t *arr = json_object_get(j, "ak_chain");
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        X509 *x = b64_cert(json_string_value(v));
        if (x != NULL && !sk_X509_push(chain, x))
            X509_free(x);
    }
    for (size_t k = 0; k < p->n_ak_roots; k++) {
        STACK_OF(X509) *sk = NULL;
        struct cairn_error e2 = {0};
        if (p->ak_roots_pem[k] == NULL ||
            attest_certs_parse((const uint8_t *)p->ak_roots_pem[k], strlen(p->ak_roots_pem[k]), &sk, &e2) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_POLICY, "AKRoots[%zu]: not a PEM certificate", k);
            goto out;
        }
        while (sk_X509_num(sk) > 0) {
            X509 *x = sk_X509_shift(sk);
            if (!sk_X509_push(roots, x))
                X509_free(x);
        }
        sk_X509_free(sk);
    }
    time_t at = 0;
    const char *ts = json_string_value(json_object_get(j, "verified_at"));
    struct tm tm = {0};
    if (ts != NULL && strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm) != NULL)
        at = timegm(&tm);
    if (at == 0)
        at = time(NULL);
    struct cairn_error e3 = {0};
    if (verify_ak_chain(leaf, chain, NULL, roots, at, NULL, &e3) != 0)
        rc = cairn_errf(err, CAIRN_ERR_POLICY, "AKRoots: %s", e3.msg);
out:
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(roots, X509_free);
    return rc;
}

/* PCRPublicKey (systemd signed PCR policies): the quoted PCR 11 must be a
 * value that the evidence's tpm2-pcr-signature.json signs with the pinned key
 * (what TPM2_PolicyAuthorize would accept). Any quoted bank with PCR 11 will
 * do; banks are tried strongest first and the first bank's refusal is
 * reported when none passes. */
static int check_pcr_signature(const struct tee_package *p, const json_t *j, struct cairn_error *err)
{
    BIO *b = BIO_new_mem_buf(p->pcr_public_key, -1);
    EVP_PKEY *key = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    if (key == NULL)
        return cairn_errf(err, CAIRN_ERR_POLICY, "PCRPublicKey: not a PEM public key");
    const char *sig = json_string_value(json_object_get(j, "pcr_signature"));
    const json_t *pcrs = json_object_get(j, "pcrs");
    static const enum uki_bank order[] = {UKI_BANK_SHA512, UKI_BANK_SHA384, UKI_BANK_SHA256, UKI_BANK_SHA1};
    int rc = CAIRN_ERR_POLICY;
    bool any = false;
    struct cairn_error first = {0};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && rc != 0; i++) {
        const char *hex = json_string_value(json_object_get(json_object_get(pcrs, uki_bank_name(order[i])), "11"));
        uint8_t v[64];
        size_t vn = uki_bank_size(order[i]);
        if (hex == NULL || strlen(hex) != 2 * vn || cairn_hex_decode_exact(hex, v, vn) != 0)
            continue;
        struct cairn_error e = {0};
        rc = uki_pcrsig_check((const uint8_t *)sig, sig ? strlen(sig) : 0, key, order[i], v, vn, &e);
        if (rc != 0 && !any)
            first = e;
        any = true;
    }
    EVP_PKEY_free(key);
    if (!any)
        return cairn_errf(err, CAIRN_ERR_POLICY, "PCRPublicKey: the quote does not include PCR 11");
    if (rc != 0)
        return cairn_errf(err, CAIRN_ERR_POLICY, "PCRPublicKey: %s", first.msg);
    return 0;
}

int tpm_policy_match(const struct tee_package *p, const struct attest_claims *c, struct cairn_error *err)
{
    int rc;
    const json_t *j = c->json;
    if (c->type != ATTEST_TPM || j == NULL)
        return cairn_errf(err, CAIRN_ERR_POLICY, "package expects TEE tpm, evidence is %s", attest_type_name(c->type));
    if ((rc = tee_pcrs_match(p, json_object_get(j, "pcrs"), err)) != 0)
        return rc;
    if (p->n_ak_roots > 0 && (rc = check_ak_roots(p, j, err)) != 0)
        return rc;
    if (p->pcr_public_key != NULL)
        return check_pcr_signature(p, j, err);
    return 0;
}
