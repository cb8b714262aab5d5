/* TPM signature schemes the shared vectors do not cover: quotes built and
 * signed here with fresh keys (RSASSA, RSAPSS, ECDSA x SHA-1/256/384, AK as
 * TPMT_PUBLIC marshalled with tss2-mu), verified by tpm_verify; plus
 * scheme/key confusion and the restricted-key rule. No shared data needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "attest/attest.h"
#include "attest/eventlog.h"
#include "attest/tpm.h"
#include "common/encoding.h"

struct fixture {
    EVP_PKEY *rsa, *p256, *p384;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->rsa = EVP_RSA_gen(2048);
    f->p256 = EVP_EC_gen("P-256");
    f->p384 = EVP_EC_gen("P-384");
    *state = f;
    return f->rsa && f->p256 && f->p384 ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY_free(f->rsa);
    EVP_PKEY_free(f->p256);
    EVP_PKEY_free(f->p384);
    free(f);
    return 0;
}

static const EVP_MD *md_of(uint16_t h)
{
    return h == TPM_ALG_SHA1 ? EVP_sha1() : h == TPM_ALG_SHA256 ? EVP_sha256() : EVP_sha384();
}

/* TPMT_PUBLIC of `key` as a restricted signing AK with `scheme`/`hash`. */
static size_t ak_public(EVP_PKEY *key, uint16_t scheme, uint16_t hash, uint32_t attrs, uint8_t *out, size_t cap)
{
    TPMT_PUBLIC p;
    memset(&p, 0, sizeof(p));
    p.nameAlg = TPM2_ALG_SHA256;
    p.objectAttributes = attrs;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        p.type = TPM2_ALG_RSA;
        p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p.parameters.rsaDetail.scheme.scheme = scheme;
        p.parameters.rsaDetail.scheme.details.anySig.hashAlg = hash;
        p.parameters.rsaDetail.keyBits = 2048;
        p.parameters.rsaDetail.exponent = 0;
        BIGNUM *n = NULL;
        assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
        p.unique.rsa.size = (UINT16)BN_num_bytes(n);
        BN_bn2bin(n, p.unique.rsa.buffer);
        BN_free(n);
    } else {
        p.type = TPM2_ALG_ECC;
        char grp[32];
        size_t gl;
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, grp, sizeof(grp), &gl);
        bool is384 = strcmp(grp, "secp384r1") == 0;
        size_t fl = is384 ? 48 : 32;
        p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p.parameters.eccDetail.scheme.scheme = scheme;
        p.parameters.eccDetail.scheme.details.anySig.hashAlg = hash;
        p.parameters.eccDetail.curveID = is384 ? TPM2_ECC_NIST_P384 : TPM2_ECC_NIST_P256;
        p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        uint8_t pt[1 + 2 * 48];
        size_t pl;
        assert_int_equal(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &pl), 1);
        assert_int_equal(pl, 1 + 2 * fl);
        p.unique.ecc.x.size = (UINT16)fl;
        memcpy(p.unique.ecc.x.buffer, pt + 1, fl);
        p.unique.ecc.y.size = (UINT16)fl;
        memcpy(p.unique.ecc.y.buffer, pt + 1 + fl, fl);
    }
    size_t off = 0;
    assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(&p, out, cap, &off), TSS2_RC_SUCCESS);
    return off;
}

/* TPMS_ATTEST of a quote over sha256 PCRs 0 and 7 with values 0x00.. and 0x07... */
static size_t build_quote(uint16_t hash, const uint8_t *nonce, size_t nn, uint8_t *out, char *pcrs_json, size_t pj)
{
    uint8_t v0[32], v7[32];
    memset(v0, 0x00, 32);
    memset(v7, 0x07, 32);
    uint8_t cat[64], dig[64];
    memcpy(cat, v0, 32);
    memcpy(cat + 32, v7, 32);
    unsigned int dl = 0;
    EVP_Digest(cat, 64, dig, &dl, md_of(hash), NULL);
    size_t o = 0;
#define B(v) (out[o++] = (uint8_t)(v))
#define U16(v) (B((v) >> 8), B(v))
#define U32(v) (U16((v) >> 16), U16(v))
    U32(0xFF544347u);
    U16(0x8018);
    U16(34);
    U16(TPM2_ALG_SHA256);
    for (int i = 0; i < 32; i++)
        B(0x11);
    U16(nn);
    memcpy(out + o, nonce, nn);
    o += nn;
    for (int i = 0; i < 8; i++)
        B(0); /* clock */
    U32(1);
    U32(0);
    B(1);
    for (int i = 0; i < 8; i++)
        B(i); /* firmwareVersion */
    U32(1);
    U16(TPM2_ALG_SHA256);
    B(3);
    B(0x81);
    B(0);
    B(0);
    U16(dl);
    memcpy(out + o, dig, dl);
    o += dl;
    char *h0 = cairn_hex_encode(v0, 32), *h7 = cairn_hex_encode(v7, 32);
    snprintf(pcrs_json, pj, "{\"hash_alg\":\"sha256\",\"pcrs\":{\"0\":\"%s\",\"7\":\"%s\"}}", h0, h7);
    free(h0);
    free(h7);
    return o;
}

/* TPMT_SIGNATURE over msg. */
static size_t sign_quote(EVP_PKEY *key, uint16_t scheme, uint16_t hash, const uint8_t *msg, size_t n, uint8_t *out,
                         size_t cap)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    assert_int_equal(EVP_DigestSignInit(m, &pc, md_of(hash), NULL, key), 1);
    if (scheme == TPM2_ALG_RSAPSS) {
        EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST);
    }
    size_t sl = 0;
    EVP_DigestSign(m, NULL, &sl, msg, n);
    uint8_t *sig = malloc(sl);
    assert_int_equal(EVP_DigestSign(m, sig, &sl, msg, n), 1);
    EVP_MD_CTX_free(m);
    TPMT_SIGNATURE s;
    memset(&s, 0, sizeof(s));
    s.sigAlg = scheme;
    if (scheme == TPM2_ALG_ECDSA) {
        const unsigned char *q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)sl);
        const BIGNUM *r, *ss;
        ECDSA_SIG_get0(es, &r, &ss);
        s.signature.ecdsa.hash = hash;
        s.signature.ecdsa.signatureR.size = (UINT16)BN_bn2bin(r, s.signature.ecdsa.signatureR.buffer);
        s.signature.ecdsa.signatureS.size = (UINT16)BN_bn2bin(ss, s.signature.ecdsa.signatureS.buffer);
        ECDSA_SIG_free(es);
    } else {
        s.signature.rsassa.hash = hash;
        s.signature.rsassa.sig.size = (UINT16)sl;
        memcpy(s.signature.rsassa.sig.buffer, sig, sl);
    }
    free(sig);
    size_t off = 0;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, out, cap, &off), TSS2_RC_SUCCESS);
    return off;
}

#define AK_ATTRS (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | \
                  TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)

static int run(EVP_PKEY *key, uint16_t scheme, uint16_t hash, uint32_t attrs, const char **sig_alg,
               struct cairn_error *err)
{
    uint8_t pub[1024], quote[512], sig[1024];
    char pj[512];
    static const uint8_t nonce[32] = {1, 2, 3};
    size_t an = ak_public(key, scheme, hash, attrs, pub, sizeof(pub));
    size_t qn = build_quote(hash, nonce, 32, quote, pj, sizeof(pj));
    size_t sn = sign_quote(key, scheme, hash, quote, qn, sig, sizeof(sig));
    struct attest_evidence ev = {.type = ATTEST_TPM, .quote = quote, .quote_len = qn, .signature = sig,
                                 .signature_len = sn, .ak_pub = pub, .ak_pub_len = an, .pcrs = (uint8_t *)pj,
                                 .pcrs_len = strlen(pj)};
    struct attest_claims c;
    int rc = attest_verify(&ev, NULL, nonce, 32, &c, err);
    if (rc == 0) {
        static char buf[16];
        snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(c.json, "sig_alg")));
        *sig_alg = buf;
        attest_claims_free(&c);
    }
    return rc;
}

static void test_matrix(void **state)
{
    struct fixture *f = *state;
    static const uint16_t hashes[] = {TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384};
    struct cairn_error err = {0};
    const char *alg = NULL;
    for (size_t h = 0; h < 3; h++) {
        int rc = run(f->rsa, TPM2_ALG_RSASSA, hashes[h], AK_ATTRS, &alg, &err);
        if (rc != 0)
            print_message("rsassa %zu: %s\n", h, err.msg);
        assert_int_equal(rc, 0);
        assert_string_equal(alg, "rsassa");
        rc = run(f->rsa, TPM2_ALG_RSAPSS, hashes[h], AK_ATTRS, &alg, &err);
        if (rc != 0)
            print_message("rsapss %zu: %s\n", h, err.msg);
        assert_int_equal(rc, 0);
        assert_string_equal(alg, "rsapss");
        assert_int_equal(run(f->p256, TPM2_ALG_ECDSA, hashes[h], AK_ATTRS, &alg, &err), 0);
        assert_string_equal(alg, "ecdsa");
        assert_int_equal(run(f->p384, TPM2_ALG_ECDSA, hashes[h], AK_ATTRS, &alg, &err), 0);
    }
    /* not restricted / not a signing key */
    assert_int_equal(run(f->rsa, TPM2_ALG_RSASSA, TPM_ALG_SHA256, AK_ATTRS & ~TPMA_OBJECT_RESTRICTED, &alg, &err),
                     CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "restricted"));
    assert_int_equal(run(f->p256, TPM2_ALG_ECDSA, TPM_ALG_SHA256, AK_ATTRS & ~TPMA_OBJECT_SIGN_ENCRYPT, &alg, &err),
                     CAIRN_ERR_VERIFY);
}

/* A signature claiming another scheme or made by another key fails. */
static void test_confusion(void **state)
{
    struct fixture *f = *state;
    uint8_t pub[1024], quote[512], sig[1024];
    char pj[512];
    static const uint8_t nonce[32] = {9};
    size_t an = ak_public(f->rsa, TPM2_ALG_RSASSA, TPM_ALG_SHA256, AK_ATTRS, pub, sizeof(pub));
    size_t qn = build_quote(TPM_ALG_SHA256, nonce, 32, quote, pj, sizeof(pj));
    struct attest_evidence ev = {.type = ATTEST_TPM, .quote = quote, .quote_len = qn, .signature = sig,
                                 .ak_pub = pub, .ak_pub_len = an, .pcrs = (uint8_t *)pj, .pcrs_len = strlen(pj)};
    struct attest_claims c;
    struct cairn_error err = {0};
    /* PKCS#1 signature relabelled as PSS */
    ev.signature_len = sign_quote(f->rsa, TPM2_ALG_RSASSA, TPM_ALG_SHA256, quote, qn, sig, sizeof(sig));
    sig[1] = 0x16;
    assert_int_equal(attest_verify(&ev, NULL, nonce, 32, &c, &err), CAIRN_ERR_VERIFY);
    /* ECDSA signature for an RSA AK */
    ev.signature_len = sign_quote(f->p256, TPM2_ALG_ECDSA, TPM_ALG_SHA256, quote, qn, sig, sizeof(sig));
    assert_int_equal(attest_verify(&ev, NULL, nonce, 32, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "key type"));
    /* hash in the signature != the pcrDigest size (SHA-384 signature, SHA-256 digest) */
    ev.signature_len = sign_quote(f->rsa, TPM2_ALG_RSASSA, TPM_ALG_SHA384, quote, qn, sig, sizeof(sig));
    assert_int_equal(attest_verify(&ev, NULL, nonce, 32, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "pcrDigest"));
    /* unsupported hash in TPMT_SIGNATURE (SM3 0x0012) */
    ev.signature_len = sign_quote(f->rsa, TPM2_ALG_RSASSA, TPM_ALG_SHA256, quote, qn, sig, sizeof(sig));
    sig[3] = 0x12;
    assert_int_equal(attest_verify(&ev, NULL, nonce, 32, &c, &err), CAIRN_ERR_UNSUPPORTED);
    /* qualifiedSigner of another name algorithm */
    ev.signature_len = sign_quote(f->rsa, TPM2_ALG_RSASSA, TPM_ALG_SHA256, quote, qn, sig, sizeof(sig));
    assert_int_equal(attest_verify(&ev, NULL, nonce, 32, &c, &err), 0);
    attest_claims_free(&c);
    quote[9] = 0x04; /* qualifiedSigner nameAlg -> SHA-1, re-signed */
    ev.signature_len = sign_quote(f->rsa, TPM2_ALG_RSASSA, TPM_ALG_SHA256, quote, qn, sig, sizeof(sig));
    assert_int_equal(attest_verify(&ev, NULL, nonce, 32, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "qualifiedSigner"));
    /* bare DER ECDSA signature with a PEM AK (what tpm2_quote -f plain gives) */
    qn = build_quote(TPM_ALG_SHA256, nonce, 32, quote, pj, sizeof(pj));
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    size_t sl = sizeof(sig);
    EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, f->p256);
    assert_int_equal(EVP_DigestSign(m, sig, &sl, quote, qn), 1);
    EVP_MD_CTX_free(m);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, f->p256);
    char *pem;
    long pl = BIO_get_mem_data(b, &pem);
    ev.ak_pub = (const uint8_t *)pem;
    ev.ak_pub_len = (size_t)pl;
    ev.signature_len = sl;
    assert_int_equal(attest_verify(&ev, NULL, nonce, 32, &c, &err), 0);
    assert_string_equal(json_string_value(json_object_get(c.json, "sig_alg")), "ecdsa");
    assert_null(json_object_get(c.json, "ak_name"));
    attest_claims_free(&c);
    BIO_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_confusion),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
