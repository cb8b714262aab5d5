/* The KBS protocol pieces: RFC 8785 runtime data and Trustee's golden AAD,
 * the tee-pubkey JWK rules, JWE to EC and RSA keys (decrypted by libjose's
 * decrypter and checked for the header layout guest-components needs), the
 * token JWT, the evidence shapes (Trustee's golden SNP evidence and real
 * TDX/SNP vectors through attest_verify), and the ConfidentialContainers
 * manifest section. Real vectors need CAIRN_SHARED_DIR (those tests skip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <jose/b64.h>
#include <jose/jwe.h>
#include <jose/openssl.h>

#include "attest/initdata.h"
#include "attest/kbs_evidence.h"
#include "common/encoding.h"
#include "common/file.h"
#include "core/kbs.h"
#include "crypto/crypto.h"
#include "crypto/jose.h"
#include "manifest/manifest.h"

static char *data_path(const char *rel)
{
    static char p[1024];
    const char *d = getenv("CAIRN_TEST_DATA_DIR");
    snprintf(p, sizeof(p), "%s/kbs/trustee/%s", d != NULL ? d : "tests/data", rel);
    return p;
}

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        fail_msg("%s: %s", path, je.text);
    return j;
}

static bool shared(char *out, size_t n, const char *rel)
{
    const char *d = getenv("CAIRN_SHARED_DIR");
    if (d == NULL)
        return false;
    snprintf(out, n, "%s/testvectors/%s", d, rel);
    FILE *f = fopen(out, "rb");
    if (f == NULL)
        return false;
    fclose(f);
    return true;
}

#define NEED_SHARED(path, rel)                                                                 \
    char path[1200];                                                                           \
    if (!shared(path, sizeof(path), rel)) {                                                    \
        print_message("SKIP: %s not available (CAIRN_SHARED_DIR/testvectors)\n", rel);       \
        skip();                                                                                \
    }

/* ---- RFC 8785 and the golden AAD ---- */

static void test_jcs(void **state)
{
    (void)state;
    /* kbs-types protected_header_generate_aad: serde of {"alg":"fakealg","enc":"fakeenc"} */
    json_t *h = json_pack("{s:s, s:s}", "enc", "fakeenc", "alg", "fakealg");
    char *s = NULL;
    size_t n = 0;
    assert_int_equal(kbs_jcs(h, &s, &n, NULL), 0);
    assert_string_equal(s, "{\"alg\":\"fakealg\",\"enc\":\"fakeenc\"}");
    json_t *b = jose_b64_enc(s, n);
    assert_string_equal(json_string_value(b), "eyJhbGciOiJmYWtlYWxnIiwiZW5jIjoiZmFrZWVuYyJ9");
    json_decref(b);
    free(s);
    json_decref(h);
    /* the golden response carries exactly that protected header */
    json_t *resp = load_json(data_path("response_kbs_types.json"));
    assert_string_equal(json_string_value(json_object_get(resp, "protected")),
                        "eyJhbGciOiJmYWtlYWxnIiwiZW5jIjoiZmFrZWVuYyJ9");
    assert_null(json_object_get(resp, "aad"));
    json_decref(resp);
    /* escapes: two-letter forms, lowercase \u00xx, '/' and non-ASCII literal */
    json_t *e = json_pack("{s:s, s:s}", "b", "\n\t\x01/\xc3\xa9\"\\", "a", "x");
    assert_int_equal(kbs_jcs(e, &s, &n, NULL), 0);
    assert_string_equal(s, "{\"a\":\"x\",\"b\":\"\\n\\t\\u0001/\xc3\xa9\\\"\\\\\"}");
    free(s);
    json_decref(e);
    /* numbers are not runtime data */
    json_t *num = json_pack("{s:i}", "a", 1);
    assert_int_not_equal(kbs_jcs(num, &s, &n, NULL), 0);
    json_decref(num);
}

static void test_runtime_digest(void **state)
{
    (void)state;
    json_t *jwk = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "alg", "ECDH-ES+A256KW", "x",
                            "X", "y", "Y");
    uint8_t d[48], want[48];
    assert_int_equal(kbs_runtime_data_digest("N", jwk, "", d, NULL), 0);
    const char *canon = "{\"additional-evidence\":\"\",\"nonce\":\"N\",\"tee-pubkey\":{\"alg\":\"ECDH-ES+A256KW\","
                        "\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"X\",\"y\":\"Y\"}}";
    cc_sha384(canon, strlen(canon), want);
    assert_memory_equal(d, want, 48);
    json_decref(jwk);
}

/* ---- JWK ---- */

static json_t *ec_jwk(EVP_PKEY **out_priv, enum cc_key_type t)
{
    EVP_PKEY *k = NULL;
    assert_int_equal(cc_key_generate(t, 0, &k, NULL), 0);
    json_t *pub = cc_jwk_public(k);
    assert_non_null(pub);
    json_object_set_new(pub, "alg", json_string("ECDH-ES+A256KW"));
    *out_priv = k;
    return pub;
}

static void test_jwk(void **state)
{
    (void)state;
    EVP_PKEY *k;
    json_t *pub = ec_jwk(&k, CC_KEY_EC_P256), *canon = NULL;
    json_object_set_new(pub, "kid", json_string("extra members are dropped"));
    assert_int_equal(cc_jwk_tee_parse(pub, &canon, NULL), 0);
    assert_null(json_object_get(canon, "kid"));
    assert_int_equal(json_object_size(canon), 5);
    json_decref(canon);
    /* off the curve: flip a bit of y */
    const char *y = json_string_value(json_object_get(pub, "y"));
    char *y2 = strdup(y);
    y2[5] = y2[5] == 'A' ? 'B' : 'A';
    json_t *bad = json_deep_copy(pub);
    json_object_set_new(bad, "y", json_string(y2));
    struct cairn_error e = {0};
    assert_int_equal(cc_jwk_tee_parse(bad, &canon, &e), CAIRN_ERR_INVALID);
    json_decref(bad);
    free(y2);
    /* wrong length, wrong kty, wrong alg, curve P-384, missing member */
    bad = json_deep_copy(pub);
    json_object_set_new(bad, "x", json_string("AAAA"));
    assert_int_equal(cc_jwk_tee_parse(bad, &canon, &e), CAIRN_ERR_INVALID);
    json_object_set_new(bad, "kty", json_string("oct"));
    assert_int_equal(cc_jwk_tee_parse(bad, &canon, &e), CAIRN_ERR_UNSUPPORTED);
    json_decref(bad);
    bad = json_deep_copy(pub);
    json_object_set_new(bad, "alg", json_string("ECDH-ES"));
    assert_int_equal(cc_jwk_tee_parse(bad, &canon, &e), CAIRN_ERR_UNSUPPORTED);
    json_object_set_new(bad, "crv", json_string("P-384"));
    assert_int_equal(cc_jwk_tee_parse(bad, &canon, &e), CAIRN_ERR_UNSUPPORTED);
    json_object_del(bad, "alg");
    assert_int_equal(cc_jwk_tee_parse(bad, &canon, &e), CAIRN_ERR_INVALID);
    json_decref(bad);
    /* Trustee's golden attestations carry "fakealgorithm" keys: read, refused */
    const char *files[] = {"attestation_ec_kbs_types.json", "attestation_rsa_kbs_types.json"};
    for (size_t i = 0; i < 2; i++) {
        json_t *a = load_json(data_path(files[i]));
        const json_t *pk = json_object_get(json_object_get(a, "runtime-data"), "tee-pubkey");
        assert_non_null(pk);
        assert_int_equal(cc_jwk_tee_parse(pk, &canon, &e), CAIRN_ERR_UNSUPPORTED);
        assert_non_null(strstr(e.msg, "fake"));
        json_decref(a);
    }
    /* RSA: 1024 bits refused, 2048 accepted */
    EVP_PKEY *r = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_RSA, 1024, &r, NULL), 0);
    json_t *rj = cc_jwk_public(r);
    json_object_set_new(rj, "alg", json_string("RSA-OAEP-256"));
    assert_int_equal(cc_jwk_tee_parse(rj, &canon, &e), CAIRN_ERR_INVALID);
    json_decref(rj);
    EVP_PKEY_free(r);
    json_decref(pub);
    EVP_PKEY_free(k);
}

/* ---- JWE ---- */

static void jwe_roundtrip(EVP_PKEY *priv, json_t *pub, const char *alg, bool epk)
{
    json_t *canon = NULL;
    assert_int_equal(cc_jwk_tee_parse(pub, &canon, NULL), 0);
    const char *msg = "the disk key of pod a";
    char *out = NULL;
    struct cairn_error e = {0};
    if (cc_jwe_encrypt(canon, (const uint8_t *)msg, strlen(msg), &out, &e) != 0)
        fail_msg("%s", e.msg);
    json_t *jwe = json_loads(out, 0, NULL);
    assert_non_null(jwe);
    /* exactly the members of kbs-types' Response, no "header", no "aad" */
    assert_int_equal(json_object_size(jwe), 5);
    const char *members[] = {"protected", "encrypted_key", "iv", "ciphertext", "tag"};
    for (size_t i = 0; i < 5; i++)
        assert_true(json_is_string(json_object_get(jwe, members[i])));
    /* the protected header is serde's serialisation of kbs-types'
     * ProtectedHeader: alg, enc, then the other members sorted, compact */
    json_t *hdr = jose_b64_dec_load(json_object_get(jwe, "protected"));
    assert_non_null(hdr);
    assert_string_equal(json_string_value(json_object_get(hdr, "alg")), alg);
    assert_string_equal(json_string_value(json_object_get(hdr, "enc")), "A256GCM");
    assert_int_equal(json_object_size(hdr), epk ? 3 : 2);
    char *re = NULL;
    size_t rl = 0;
    assert_int_equal(kbs_jcs(hdr, &re, &rl, NULL), 0);
    json_t *reb = jose_b64_enc(re, rl);
    assert_string_equal(json_string_value(reb), json_string_value(json_object_get(jwe, "protected")));
    json_decref(reb);
    free(re);
    if (epk) {
        const json_t *ep = json_object_get(hdr, "epk");
        assert_int_equal(json_object_size(ep), 4);
        assert_string_equal(json_string_value(json_object_get(ep, "kty")), "EC");
    }
    /* decrypt with the private key */
    json_t *jwk = jose_openssl_jwk_from_EVP_PKEY(NULL, priv);
    json_object_set_new(jwk, "alg", json_string(alg));
    json_object_del(jwk, "key_ops");
    size_t ptl = 0;
    char *pt;
    json_t *cekj = NULL;
    if (strcmp(alg, "RSA-OAEP-256") == 0) {
        /* libjose v11 cannot unwrap RSA-OAEP: OpenSSL does, libjose decrypts */
        const char *ekb = json_string_value(json_object_get(jwe, "encrypted_key"));
        size_t ekl = jose_b64_dec_buf(ekb, strlen(ekb), NULL, 0);
        uint8_t *ek = malloc(ekl), *cek = NULL;
        size_t cekl = 0;
        assert_int_equal(jose_b64_dec_buf(ekb, strlen(ekb), ek, ekl), ekl);
        assert_int_equal(cc_rsa_oaep_decrypt(priv, ek, ekl, &cek, &cekl), 0);
        assert_int_equal(cekl, 32);
        cekj = json_pack("{s:s, s:o}", "kty", "oct", "k", jose_b64_enc(cek, cekl));
        pt = jose_jwe_dec_cek(NULL, jwe, cekj, &ptl);
        free(ek);
        free(cek);
    } else {
        pt = jose_jwe_dec(NULL, jwe, NULL, jwk, &ptl);
    }
    assert_non_null(pt);
    assert_int_equal(ptl, strlen(msg));
    assert_memory_equal(pt, msg, ptl);
    free(pt);
    /* a flipped ciphertext byte does not decrypt */
    const char *ct = json_string_value(json_object_get(jwe, "ciphertext"));
    char *ct2 = strdup(ct);
    ct2[0] = ct2[0] == 'A' ? 'B' : 'A';
    json_object_set_new(jwe, "ciphertext", json_string(ct2));
    if (cekj != NULL)
        assert_null(jose_jwe_dec_cek(NULL, jwe, cekj, &ptl));
    else
        assert_null(jose_jwe_dec(NULL, jwe, NULL, jwk, &ptl));
    json_decref(cekj);
    free(ct2);
    json_decref(jwk);
    json_decref(hdr);
    json_decref(jwe);
    json_decref(canon);
    free(out);
}

static void test_jwe(void **state)
{
    (void)state;
    EVP_PKEY *k;
    json_t *pub = ec_jwk(&k, CC_KEY_EC_P256);
    jwe_roundtrip(k, pub, "ECDH-ES+A256KW", true);
    json_decref(pub);
    EVP_PKEY_free(k);
    pub = ec_jwk(&k, CC_KEY_EC_P521);
    jwe_roundtrip(k, pub, "ECDH-ES+A256KW", true);
    json_decref(pub);
    EVP_PKEY_free(k);
    assert_int_equal(cc_key_generate(CC_KEY_RSA, 2048, &k, NULL), 0);
    pub = cc_jwk_public(k);
    json_object_set_new(pub, "alg", json_string("RSA-OAEP-256"));
    jwe_roundtrip(k, pub, "RSA-OAEP-256", false);
    json_decref(pub);
    EVP_PKEY_free(k);
}

/* ---- JWT ---- */

static void test_jwt(void **state)
{
    (void)state;
    EVP_PKEY *k = NULL, *other = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &k, NULL), 0);
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &other, NULL), 0);
    json_t *claims = json_pack("{s:s, s:i}", "iss", "t", "exp", 99);
    char *tok = NULL;
    assert_int_equal(cc_jwt_sign(k, NULL, claims, &tok, NULL), 0);
    json_t *h = NULL, *c = NULL;
    assert_int_equal(cc_jwt_decode(tok, strlen(tok), &h, &c, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), 99);
    json_decref(h);
    json_decref(c);
    assert_int_equal(cc_jwt_verify_sig(tok, strlen(tok), k, NULL), 0);
    assert_int_equal(cc_jwt_verify_sig(tok, strlen(tok), other, NULL), CAIRN_ERR_VERIFY);
    /* a changed claim breaks the signature */
    char *dot = strchr(tok, '.');
    dot[2] = dot[2] == 'A' ? 'B' : 'A';
    assert_int_not_equal(cc_jwt_verify_sig(tok, strlen(tok), k, NULL), 0);
    /* malformed tokens */
    assert_int_equal(cc_jwt_decode("a.b", 3, &h, &c, NULL), CAIRN_ERR_INVALID);
    assert_int_equal(cc_jwt_decode("a.b.c.d", 7, &h, &c, NULL), CAIRN_ERR_INVALID);
    assert_int_equal(cc_jwt_decode("a b.c.d", 7, &h, &c, NULL), CAIRN_ERR_INVALID);
    free(tok);
    json_decref(claims);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}

/* ---- evidence shapes ---- */

static void test_tee_names(void **state)
{
    (void)state;
    enum kbs_tee t;
    assert_int_equal(kbs_tee_parse("tdx", &t), 0);
    assert_int_equal(t, KBS_TEE_TDX);
    assert_int_equal(kbs_tee_parse("az-snp-vtpm", &t), 0);
    assert_int_equal(t, KBS_TEE_AZ_SNP_VTPM);
    assert_int_equal(kbs_tee_parse("sgx", &t), 0);
    assert_int_equal(t, KBS_TEE_UNSUPPORTED);
    assert_int_equal(kbs_tee_parse("TDX", &t), CAIRN_ERR_INVALID);   /* serde names are exact */
}

static void test_snp_golden(void **state)
{
    (void)state;
    json_t *ev = load_json(data_path("snp_evidence_genoa.json"));
    struct kbs_evidence_store st = {0};
    struct attest_evidence a = {0};
    struct cairn_error e = {0};
    assert_int_equal(kbs_evidence_decode(KBS_TEE_SNP, ev, &st, &a, &e), 0);
    assert_int_equal(a.type, ATTEST_SNP);
    assert_int_equal(a.quote_len, KBS_SNP_REPORT_SIZE);
    /* the serde JSON of the decoded report is the golden report object */
    json_t *back = kbs_snp_report_to_json(a.quote);
    assert_true(json_equal(back, json_object_get(ev, "attestation_report")));
    json_decref(back);
    uint8_t rd[64];
    memcpy(rd, a.quote + 0x50, 64);
    struct attest_trust trust = {0};
    struct attest_claims c;
    assert_int_equal(attest_verify(&a, &trust, rd, 64, &c, &e), 0);
    assert_string_equal(json_string_value(json_object_get(c.json, "product")), "Genoa");
    attest_claims_free(&c);
    rd[0] ^= 1;   /* another runtime-data digest: the binding fails */
    assert_int_not_equal(attest_verify(&a, &trust, rd, 64, &c, &e), 0);
    kbs_evidence_store_free(&st);
    /* a report byte changed in the JSON: the signature fails */
    json_t *bad = json_deep_copy(ev);
    json_array_set_new(json_object_get(json_object_get(bad, "attestation_report"), "measurement"), 0,
                       json_integer(7));
    assert_int_equal(kbs_evidence_decode(KBS_TEE_SNP, bad, &st, &a, &e), 0);
    memcpy(rd, a.quote + 0x50, 64);
    assert_int_not_equal(attest_verify(&a, &trust, rd, 64, &c, &e), 0);
    kbs_evidence_store_free(&st);
    /* malformed shapes */
    json_array_set_new(json_object_get(json_object_get(bad, "attestation_report"), "measurement"), 0,
                       json_integer(300));
    assert_int_equal(kbs_evidence_decode(KBS_TEE_SNP, bad, &st, &a, &e), CAIRN_ERR_INVALID);
    json_object_set_new(bad, "cert_chain", json_null());
    json_array_set_new(json_object_get(json_object_get(bad, "attestation_report"), "measurement"), 0,
                       json_integer(1));
    assert_int_equal(kbs_evidence_decode(KBS_TEE_SNP, bad, &st, &a, &e), CAIRN_ERR_INVALID);
    assert_non_null(strstr(e.msg, "cert_chain"));
    json_object_del(json_object_get(bad, "attestation_report"), "chip_id");
    assert_int_equal(kbs_evidence_decode(KBS_TEE_SNP, bad, &st, &a, &e), CAIRN_ERR_INVALID);
    json_decref(bad);
    /* the same evidence as another TEE's is refused by shape */
    assert_int_equal(kbs_evidence_decode(KBS_TEE_TDX, ev, &st, &a, &e), CAIRN_ERR_INVALID);
    assert_int_equal(kbs_evidence_decode(KBS_TEE_SAMPLE, ev, &st, &a, &e), CAIRN_ERR_INVALID);
    json_decref(ev);
}

/* Real SNP reports: binary -> serde JSON -> decoder gives the same bytes, and
 * the decoded report verifies through attest_verify with its VCEK. */
static void snp_vector(const char *report_rel, const char *vcek_rel)
{
    NEED_SHARED(rp, report_rel);
    char vp[1200];
    assert_true(shared(vp, sizeof(vp), vcek_rel));
    uint8_t *rep = NULL, *vcek = NULL;
    size_t rn = 0, vn = 0;
    assert_int_equal(cairn_file_read(rp, 1 << 20, &rep, &rn), 0);
    assert_int_equal(cairn_file_read(vp, 1 << 20, &vcek, &vn), 0);
    assert_int_equal(rn, KBS_SNP_REPORT_SIZE);
    X509 *x = NULL;
    if (cc_cert_from_der(vcek, vn, &x, NULL) != 0)
        assert_int_equal(cc_cert_from_pem((const char *)vcek, vn, &x, NULL), 0);
    uint8_t *der = NULL;
    size_t dl = 0;
    assert_int_equal(cc_cert_to_der(x, &der, &dl), 0);
    json_t *data = json_array();
    for (size_t i = 0; i < dl; i++)
        json_array_append_new(data, json_integer(der[i]));
    json_t *ev = json_pack("{s:o, s:[{s:s, s:o}]}", "attestation_report", kbs_snp_report_to_json(rep), "cert_chain",
                           "cert_type", "VCEK", "data", data);
    struct kbs_evidence_store st = {0};
    struct attest_evidence a = {0};
    struct cairn_error e = {0};
    assert_int_equal(kbs_evidence_decode(KBS_TEE_SNP, ev, &st, &a, &e), 0);
    assert_memory_equal(a.quote, rep, KBS_SNP_REPORT_SIZE);
    struct attest_trust trust = {0};
    struct attest_claims c;
    assert_int_equal(attest_verify(&a, &trust, rep + 0x50, 64, &c, &e), 0);
    attest_claims_free(&c);
    kbs_evidence_store_free(&st);
    json_decref(ev);
    X509_free(x);
    free(der);
    free(rep);
    free(vcek);
}

static void test_snp_vectors(void **state)
{
    (void)state;
    snp_vector("snp/trustee_test-report.bin", "snp/trustee_test-vcek.der");
    snp_vector("snp/azure_genoa_snp_report.bin", "snp/azure_genoa_vcek.pem");
    snp_vector("snp/virtee_report_milan.bin", "snp/virtee_vcek_milan.der");
}

/* A real TDX quote as the tdx attester sends it, through attest_verify. */
static void test_tdx_vector(void **state)
{
    (void)state;
    NEED_SHARED(qp, "tdx/gotdx_quote_v5_sample.dat");
    uint8_t *q = NULL;
    size_t qn = 0;
    assert_int_equal(cairn_file_read(qp, 1 << 20, &q, &qn), 0);
    char *b64 = cairn_base64_encode(q, qn);
    json_t *ev = json_pack("{s:s, s:n}", "quote", b64, "cc_eventlog");
    struct kbs_evidence_store st = {0};
    struct attest_evidence a = {0};
    struct cairn_error e = {0};
    assert_int_equal(kbs_evidence_decode(KBS_TEE_TDX, ev, &st, &a, &e), 0);
    assert_int_equal(a.type, ATTEST_TDX);
    assert_int_equal(a.quote_len, qn);
    struct attest_trust trust = {0};
    struct attest_claims c;
    assert_int_equal(attest_verify(&a, &trust, NULL, 0, &c, &e), 0);
    uint8_t rd[64];
    memcpy(rd, c.report_data, 64);
    attest_claims_free(&c);
    assert_int_equal(attest_verify(&a, &trust, rd, 64, &c, &e), 0);
    attest_claims_free(&c);
    rd[63] ^= 1;
    assert_int_not_equal(attest_verify(&a, &trust, rd, 64, &c, &e), 0);
    kbs_evidence_store_free(&st);
    /* shapes: not base64, missing quote, TDX quote sent as SNP evidence */
    json_object_set_new(ev, "quote", json_string("not base64!"));
    assert_int_equal(kbs_evidence_decode(KBS_TEE_TDX, ev, &st, &a, &e), CAIRN_ERR_INVALID);
    json_object_del(ev, "quote");
    assert_int_equal(kbs_evidence_decode(KBS_TEE_TDX, ev, &st, &a, &e), CAIRN_ERR_INVALID);
    json_object_set_new(ev, "quote", json_string(b64));
    assert_int_equal(kbs_evidence_decode(KBS_TEE_SNP, ev, &st, &a, &e), CAIRN_ERR_INVALID);
    json_decref(ev);
    free(b64);
    free(q);
}

static void test_sample(void **state)
{
    (void)state;
    uint8_t d[48];
    memset(d, 0xab, sizeof(d));
    char *b = cairn_base64_encode(d, sizeof(d));
    json_t *ev = json_pack("{s:s, s:s}", "svn", "1", "report_data", b);
    struct kbs_evidence_store st = {0};
    struct attest_evidence a = {0};
    assert_int_equal(kbs_evidence_decode(KBS_TEE_SAMPLE, ev, &st, &a, NULL), 0);
    assert_int_equal(a.type, ATTEST_SIM);
    assert_int_equal(a.quote_len, 64);
    assert_memory_equal(a.quote, d, 48);
    assert_int_equal(a.quote[48] | a.quote[63], 0);
    kbs_evidence_store_free(&st);
    uint8_t big[65] = {0};
    char *b2 = cairn_base64_encode(big, sizeof(big));
    json_object_set_new(ev, "report_data", json_string(b2));
    assert_int_not_equal(kbs_evidence_decode(KBS_TEE_SAMPLE, ev, &st, &a, NULL), 0);
    free(b2);
    free(b);
    json_decref(ev);
}

/* ---- manifest section ---- */

#define MANIFEST_FMT \
    "{\"Packages\": {\"pod\": {\"TEE\": \"tdx\", \"MRTD\": \"%096d\"}, \"app\": {\"SignerID\": \"%064d\"}}," \
    " \"Secrets\": {\"diskKey\": {\"Type\": \"symmetric-key\", \"Size\": 256, \"Shared\": true}," \
    "  \"tls\": {\"Type\": \"cert-ecdsa\", \"Size\": 256, \"Shared\": true}," \
    "  \"own\": {\"Type\": \"symmetric-key\", \"Size\": 128}}," \
    " \"ConfidentialContainers\": %s}"

static int check_cc(const char *cc, struct cairn_error *e)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), MANIFEST_FMT, 0, 0, cc);
    struct manifest *m = NULL;
    int rc = manifest_parse((const uint8_t *)buf, strlen(buf), &m, e);
    if (rc == 0)
        rc = manifest_check(m, e);
    manifest_free(m);
    return rc;
}

static void test_manifest(void **state)
{
    (void)state;
    struct cairn_error e = {0};
    const char *good = "{\"Version\": 1, \"Workloads\": {\"podA\": {\"Package\": \"pod\", \"Resources\": {"
                       "\"default/key/disk\": \"diskKey\", \"default/tls/key\": {\"Secret\": \"tls\", \"Part\": "
                       "\"Private\"}}}}}";
    if (check_cc(good, &e) != 0)
        fail_msg("%s", e.msg);
    char buf[4096];
    snprintf(buf, sizeof(buf), MANIFEST_FMT, 0, 0, good);
    struct manifest *m = NULL;
    assert_int_equal(manifest_parse((const uint8_t *)buf, strlen(buf), &m, NULL), 0);
    const struct manifest_coco_workload *w = manifest_coco_find_workload(m, "podA");
    assert_non_null(w);
    assert_int_equal(w->n_resources, 2);
    const struct manifest_kbs_resource *r = manifest_coco_find_resource(w, "default/tls/key");
    assert_non_null(r);
    assert_int_equal(r->part, MANIFEST_KBS_PART_PRIVATE);
    assert_null(manifest_coco_find_resource(w, "default/tls/cert"));
    assert_false(manifest_is_update_manifest(m));
    manifest_free(m);

    struct {
        const char *cc, *msg;
    } bad[] = {
        {"{\"Workloads\": {}}", "Version"},
        {"{\"Version\": 2}", "Version"},
        {"{\"Version\": 1, \"Workloads\": {\"p\": {\"Package\": \"nope\"}}}", "does not exist"},
        {"{\"Version\": 1, \"Workloads\": {\"p\": {\"Package\": \"app\"}}}", "tdx"},
        {"{\"Version\": 1, \"Workloads\": {\"p\": {}}}", "Package is required"},
        {"{\"Version\": 1, \"Workloads\": {\"p\": {\"Package\": \"pod\", \"Resources\": {\"a/b\": \"diskKey\"}}}}",
         "repository/type/tag"},
        {"{\"Version\": 1, \"Workloads\": {\"p\": {\"Package\": \"pod\", \"Resources\": {\"a/../c\": \"diskKey\"}}}}",
         "repository/type/tag"},
        {"{\"Version\": 1, \"Workloads\": {\"p\": {\"Package\": \"pod\", \"Resources\": {\"a/b/c\": \"x\"}}}}",
         "does not exist"},
        {"{\"Version\": 1, \"Workloads\": {\"p\": {\"Package\": \"pod\", \"Resources\": {\"a/b/c\": {\"Secret\": "
         "\"diskKey\", \"Part\": \"Cert\"}}}}}",
         "no certificate"},
        {"{\"Version\": 1, \"Workloads\": {\"p\": {\"Package\": \"pod\", \"Resources\": {\"a/b/c\": {\"Secret\": "
         "\"tls\", \"Part\": \"Key\"}}}}}",
         "Cert, Private or Public"},
        {"{\"Version\": 1, \"Workloads\": {\"p\": {\"Package\": \"pod\", \"Resources\": {\"a/b/c\": \"own\"}}}}",
         "Shared or UserDefined"},
        {"{\"Version\": 1, \"Workloads\": {\"p\": {\"Package\": \"pod\", \"Resources\": {\"a/b/c\": 5}}}}",
         "expected a secret name"},
        {"[]", "expected an object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&e, 0, sizeof(e));
        assert_int_not_equal(check_cc(bad[i].cc, &e), 0);
        if (strstr(e.msg, bad[i].msg) == NULL)
            fail_msg("case %zu: \"%s\" does not name \"%s\"", i, e.msg, bad[i].msg);
    }
}

/* Workload selection by real claims: a TDX quote matches the workload whose
 * package pins its MRTD, not one with another MRTD nor an SNP one. */
static void test_match(void **state)
{
    (void)state;
    NEED_SHARED(qp, "tdx/gotdx_quote_v5_sample.dat");
    uint8_t *q = NULL;
    size_t qn = 0;
    assert_int_equal(cairn_file_read(qp, 1 << 20, &q, &qn), 0);
    struct attest_evidence a = {.type = ATTEST_TDX, .quote = q, .quote_len = qn};
    struct attest_trust trust = {0};
    struct attest_claims c;
    assert_int_equal(attest_verify(&a, &trust, NULL, 0, &c, NULL), 0);
    const char *mrtd = json_string_value(json_object_get(c.json, "mrtd"));
    assert_non_null(mrtd);
    char buf[4096];
    snprintf(buf, sizeof(buf),
             "{\"Packages\": {\"podA\": {\"TEE\": \"tdx\", \"MRTD\": \"%s\", \"AcceptedTCBStatuses\": [\"NoCollateral\"]}, \"podB\": {\"TEE\": \"tdx\", "
             "\"MRTD\": \"%096d\"}, \"podC\": {\"TEE\": \"snp\", \"Measurement\": \"%096d\"}},"
             " \"Secrets\": {\"k\": {\"Type\": \"symmetric-key\", \"Size\": 128, \"Shared\": true}},"
             " \"ConfidentialContainers\": {\"Version\": 1, \"Workloads\": {\"wa\": {\"Package\": \"podA\"},"
             " \"wb\": {\"Package\": \"podB\"}, \"wc\": {\"Package\": \"podC\"}}}}",
             mrtd, 0, 0);
    struct manifest *m = NULL;
    struct cairn_error e = {0};
    if (manifest_parse((const uint8_t *)buf, strlen(buf), &m, &e) != 0 || manifest_check(m, &e) != 0)
        fail_msg("%s", e.msg);
    char why[256];
    json_t *w = kbs_match_workloads(m, KBS_TEE_TDX, &c, why, sizeof(why));
    if (json_array_size(w) != 1)
        fail_msg("%s", why);
    assert_string_equal(json_string_value(json_array_get(w, 0)), "wa");
    assert_non_null(strstr(why, "wb"));
    json_decref(w);
    /* the same claims presented as SNP evidence match nothing */
    w = kbs_match_workloads(m, KBS_TEE_SNP, &c, why, sizeof(why));
    assert_int_equal(json_array_size(w), 0);
    json_decref(w);
    /* sample (simulation) is every workload */
    w = kbs_match_workloads(m, KBS_TEE_SAMPLE, &c, why, sizeof(why));
    assert_int_equal(json_array_size(w), 3);
    json_decref(w);
    manifest_free(m);
    attest_claims_free(&c);
    free(q);
}

/* ---- Azure vTPM evidence through the KBS's one verification path ---- */

static char *azure_text(const char *rel)
{
    const char *d = getenv("CAIRN_TEST_DATA_DIR");
    char p[1024];
    snprintf(p, sizeof(p), "%s/azure/%s", d != NULL ? d : "tests/data", rel);
    uint8_t *b = NULL;
    size_t n = 0;
    if (cairn_file_read(p, 1u << 20, &b, &n) != 0)
        fail_msg("%s: cannot read", p);
    char *t = realloc(b, n + 1);
    assert_non_null(t);
    t[n] = '\0';
    return t;
}

static struct core *memory_core(void)
{
    /* simulation: no TEE on the test machine; the KBS path verifies real evidence
     * the same way in both modes (only kbs_auth admits "sample" by the mode) */
    struct core_config cfg = {.simulation = true, .memory_only = true, .leaf_key_pool = 0};
    struct core *c = NULL;
    struct cairn_error e = {0};
    if (core_new(&cfg, &c, &e) != 0)
        fail_msg("core_new: %s", e.msg);
    return c;
}

/* The captured report data (Trustee's test data): "challenge" for v0/v1, a
 * 48-byte digest for SNP v2. No new nonce can produce either, so the
 * protocol test (it_kbs) sees them refused; this test drives the function
 * kbs_attest calls with the captured value, then matches the claims to
 * workloads as kbs_attest does. */
static void test_azure_kbs_verify(void **state)
{
    (void)state;
    static const uint8_t challenge[] = "challenge";
    uint8_t rd2[48];
    assert_int_equal(cairn_hex_decode_exact("982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9a"
                                            "a398f647caa2338748cd0fd9f5f819ef",
                                            rd2, 48),
                     0);
    struct {
        const char *file;
        enum kbs_tee tee;
        const uint8_t *rd;
        size_t rl;
    } v[] = {
        {"az-snp-vtpm_evidence-v0.json", KBS_TEE_AZ_SNP_VTPM, challenge, 9},
        {"az-snp-vtpm_evidence-v1.json", KBS_TEE_AZ_SNP_VTPM, challenge, 9},
        {"az-snp-vtpm_evidence-v2.json", KBS_TEE_AZ_SNP_VTPM, rd2, 48},
        {"az-tdx-vtpm_evidence-v0.json", KBS_TEE_AZ_TDX_VTPM, challenge, 9},
        {"az-tdx-vtpm_evidence-v1.json", KBS_TEE_AZ_TDX_VTPM, challenge, 9},
    };
    struct core *c = memory_core();
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *t = azure_text(v[i].file);
        json_t *ev = json_loads(t, 0, NULL);
        assert_non_null(ev);
        struct attest_claims cl = {0};
        struct cairn_error e = {0};
        if (kbs_verify_evidence(c, v[i].tee, ev, v[i].rd, v[i].rl, NULL, &cl, &e) != 0)
            fail_msg("%s: %s", v[i].file, e.msg);
        bool snp = v[i].tee == KBS_TEE_AZ_SNP_VTPM;
        assert_int_equal(cl.type, snp ? ATTEST_SNP : ATTEST_TDX);
        assert_string_equal(json_string_value(json_object_get(cl.json, "tee")), kbs_tee_name(v[i].tee));
        /* workloads: the package that pins this evidence's measurement (SNP
         * Measurement / TDX MRTD), not one with another value or TEE */
        const char *meas = json_string_value(json_object_get(cl.json, snp ? "measurement" : "mrtd"));
        const char *status = json_string_value(json_object_get(cl.json, "tcb_status"));
        assert_non_null(meas);
        char buf[4096];
        snprintf(buf, sizeof(buf),
                 "{\"Packages\": {\"az\": {\"TEE\": \"%s\", \"%s\": \"%s\", \"AcceptedTCBStatuses\": [\"%s\"]},"
                 " \"other\": {\"TEE\": \"%s\", \"%s\": \"%096d\"}, \"tee\": {\"TEE\": \"%s\", \"%s\": \"%096d\"}},"
                 " \"Secrets\": {\"k\": {\"Type\": \"symmetric-key\", \"Size\": 128, \"Shared\": true}},"
                 " \"ConfidentialContainers\": {\"Version\": 1, \"Workloads\": {\"w-az\": {\"Package\": \"az\"},"
                 " \"w-other\": {\"Package\": \"other\"}, \"w-tee\": {\"Package\": \"tee\"}}}}",
                 snp ? "snp" : "tdx", snp ? "Measurement" : "MRTD", meas, status != NULL ? status : "NoCollateral",
                 snp ? "snp" : "tdx", snp ? "Measurement" : "MRTD", 0, snp ? "tdx" : "snp",
                 snp ? "MRTD" : "Measurement", 0);
        struct manifest *m = NULL;
        if (manifest_parse((const uint8_t *)buf, strlen(buf), &m, &e) != 0 || manifest_check(m, &e) != 0)
            fail_msg("%s", e.msg);
        char why[256];
        json_t *w = kbs_match_workloads(m, v[i].tee, &cl, why, sizeof(why));
        if (json_array_size(w) != 1)
            fail_msg("%s: %zu workloads (%s)", v[i].file, json_array_size(w), why);
        assert_string_equal(json_string_value(json_array_get(w, 0)), "w-az");
        json_decref(w);
        manifest_free(m);
        /* the vTPM PCRs (the guest's own boot and, PCR 8, its init-data) in
         * the package: equal values match, another PCR 0 does not, and the
         * same hardware claims without a vTPM quote do not */
        json_t *vp = json_object_get(json_object_get(json_object_get(cl.json, "vtpm"), "pcrs"), "sha256");
        const char *pcr0 = json_string_value(json_object_get(vp, "0")), *pcr8 = json_string_value(json_object_get(vp, "8"));
        assert_non_null(pcr0);
        assert_non_null(pcr8);
        char bad0[65];
        snprintf(bad0, sizeof(bad0), "%s", pcr0);
        bad0[0] = bad0[0] == '0' ? '1' : '0';
        snprintf(buf, sizeof(buf),
                 "{\"Packages\": {\"az\": {\"TEE\": \"%s\", \"%s\": \"%s\", \"AcceptedTCBStatuses\": [\"%s\"], "
                 "\"PCRs\": {\"sha256\": {\"0\": \"%s\", \"8\": \"%s\"}}},"
                 " \"bad\": {\"TEE\": \"%s\", \"%s\": \"%s\", \"AcceptedTCBStatuses\": [\"%s\"], "
                 "\"PCRs\": {\"sha256\": {\"0\": \"%s\"}}}},"
                 " \"Secrets\": {\"k\": {\"Type\": \"symmetric-key\", \"Size\": 128, \"Shared\": true}},"
                 " \"ConfidentialContainers\": {\"Version\": 1, \"Workloads\": {\"w-az\": {\"Package\": \"az\"},"
                 " \"w-bad\": {\"Package\": \"bad\"}}}}",
                 snp ? "snp" : "tdx", snp ? "Measurement" : "MRTD", meas, status != NULL ? status : "NoCollateral",
                 pcr0, pcr8, snp ? "snp" : "tdx", snp ? "Measurement" : "MRTD", meas,
                 status != NULL ? status : "NoCollateral", bad0);
        if (manifest_parse((const uint8_t *)buf, strlen(buf), &m, &e) != 0 || manifest_check(m, &e) != 0)
            fail_msg("%s", e.msg);
        w = kbs_match_workloads(m, v[i].tee, &cl, why, sizeof(why));
        if (json_array_size(w) != 1)
            fail_msg("%s: %zu workloads with PCRs (%s)", v[i].file, json_array_size(w), why);
        assert_string_equal(json_string_value(json_array_get(w, 0)), "w-az");
        if (strstr(why, "vTPM: PCRs.sha256.0 mismatch") == NULL)
            fail_msg("%s: %s", v[i].file, why);
        json_decref(w);
        json_object_del(cl.json, "vtpm");
        w = kbs_match_workloads(m, v[i].tee, &cl, why, sizeof(why));
        assert_int_equal(json_array_size(w), 0);
        if (strstr(why, "has no vTPM quote") == NULL)
            fail_msg("%s: %s", v[i].file, why);
        json_decref(w);
        manifest_free(m);
        attest_claims_free(&cl);

        /* another report data (a session's digest) */
        uint8_t other[48];
        memset(other, 0x5a, sizeof(other));
        assert_int_equal(kbs_verify_evidence(c, v[i].tee, ev, other, 48, NULL, &cl, &e), CAIRN_ERR_VERIFY);
        assert_non_null(strstr(e.msg, "vtpm quote: its nonce"));
        /* the other Azure type, and the plain type of its hardware */
        assert_int_not_equal(kbs_verify_evidence(c, snp ? KBS_TEE_AZ_TDX_VTPM : KBS_TEE_AZ_SNP_VTPM, ev, v[i].rd,
                                                 v[i].rl, NULL, &cl, &e),
                             0);
        assert_int_not_equal(
            kbs_verify_evidence(c, snp ? KBS_TEE_SNP : KBS_TEE_TDX, ev, v[i].rd, v[i].rl, NULL, &cl, &e), 0);
        /* init-data: PCR 8 of these captures is zero, so no document binds */
        static const char toml[] = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n";
        struct initdata_digest d;
        assert_int_equal(initdata_digest((const uint8_t *)toml, strlen(toml), &d, NULL), 0);
        assert_int_equal(kbs_verify_evidence(c, v[i].tee, ev, v[i].rd, v[i].rl, &d, &cl, &e), CAIRN_ERR_VERIFY);
        assert_non_null(strstr(e.msg, "PCR 8"));
        static const char toml384[] = "version = \"0.1.0\"\nalgorithm = \"sha384\"\n";
        assert_int_equal(initdata_digest((const uint8_t *)toml384, strlen(toml384), &d, NULL), 0);
        assert_int_not_equal(kbs_verify_evidence(c, v[i].tee, ev, v[i].rd, v[i].rl, &d, &cl, &e), 0);
        assert_non_null(strstr(e.msg, "sha256"));
        json_decref(ev);
        free(t);
    }
    /* a changed byte of the HCL report (base64url text of v1) */
    char *t = azure_text("az-tdx-vtpm_evidence-v1.json");
    json_t *ev = json_loads(t, 0, NULL);
    const char *h = json_string_value(json_object_get(ev, "hcl_report"));
    assert_non_null(h);
    assert_true(strlen(h) > 3000);
    char *hm = strdup(h);
    hm[3000] = hm[3000] == 'A' ? 'B' : 'A';
    json_object_set_new(ev, "hcl_report", json_string(hm));
    struct attest_claims cl = {0};
    struct cairn_error e = {0};
    assert_int_not_equal(kbs_verify_evidence(c, KBS_TEE_AZ_TDX_VTPM, ev, challenge, 9, NULL, &cl, &e), 0);
    free(hm);
    json_decref(ev);
    free(t);
    core_free(c);
}

/* ---- init-data ---- */

static void test_init_data(void **state)
{
    (void)state;
    struct initdata_digest d;
    struct cairn_error e = {0};
    static const char toml[] = "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n\"policy.rego\" = '''\n"
                               "package agent_policy\n'''\n";
    json_t *init = json_pack("{s:s, s:s}", "format", "toml", "body", toml);
    assert_int_equal(kbs_init_data_parse(init, &d, &e), 0);
    uint8_t want[48];
    cc_sha384(toml, strlen(toml), want);
    assert_string_equal(d.algorithm, "sha384");
    assert_int_equal(d.digest_len, 48);
    assert_memory_equal(d.digest, want, 48);
    json_decref(init);
    struct {
        json_t *j;
        const char *msg;
    } bad[] = {
        {json_pack("{s:s, s:s}", "format", "json", "body", "{}"), "unsupported format \"json\""},
        {json_pack("{s:s}", "format", "toml"), "{format, body}"},
        {json_pack("{s:s, s:i}", "format", "toml", "body", 1), "{format, body}"},
        {json_pack("[]"), "{format, body}"},
        {json_pack("{s:s, s:s}", "format", "toml", "body", "algorithm = \"sha256\"\n"), "version"},
        {json_pack("{s:s, s:s}", "format", "toml", "body", "version = \"0.1.0\"\nalgorithm = \"sm3\"\n"), "sm3"},
        {json_pack("{s:s, s:s}", "format", "toml", "body", ""), "empty"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&e, 0, sizeof(e));
        assert_int_not_equal(kbs_init_data_parse(bad[i].j, &d, &e), 0);
        if (strstr(e.msg, bad[i].msg) == NULL)
            fail_msg("case %zu: \"%s\" does not name \"%s\"", i, e.msg, bad[i].msg);
        json_decref(bad[i].j);
    }

    /* the binding rules on claims: TDX MRCONFIGID = digest zero-padded or
     * truncated to 48, SNP HOST_DATA = digest truncated to 32 (Trustee's
     * regularize_data) */
    static const char t256[] = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n";
    static const char t512[] = "version = \"0.1.0\"\nalgorithm = \"sha512\"\n";
    const char *docs[] = {toml, t256, t512};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(initdata_digest((const uint8_t *)docs[i], strlen(docs[i]), &d, NULL), 0);
        uint8_t mr[48] = {0}, hd[32] = {0};
        memcpy(mr, d.digest, d.digest_len < 48 ? d.digest_len : 48);
        memcpy(hd, d.digest, 32);
        char *mrh = cairn_hex_encode(mr, 48), *hdh = cairn_hex_encode(hd, 32);
        struct attest_claims tdx = {.type = ATTEST_TDX, .json = json_pack("{s:s}", "mr_config_id", mrh)};
        struct attest_claims snp = {.type = ATTEST_SNP, .json = json_pack("{s:s}", "host_data", hdh)};
        assert_int_equal(kbs_init_data_check(KBS_TEE_TDX, &d, &tdx, NULL), 0);
        assert_int_equal(kbs_init_data_check(KBS_TEE_SNP, &d, &snp, NULL), 0);
        /* the other register's claims: no such field */
        assert_int_equal(kbs_init_data_check(KBS_TEE_TDX, &d, &snp, &e), CAIRN_ERR_VERIFY);
        assert_non_null(strstr(e.msg, "MRCONFIGID"));
        assert_int_equal(kbs_init_data_check(KBS_TEE_SNP, &d, &tdx, &e), CAIRN_ERR_VERIFY);
        assert_non_null(strstr(e.msg, "HOST_DATA"));
        /* another document */
        struct initdata_digest d2;
        const char *o = docs[(i + 1) % 3];
        assert_int_equal(initdata_digest((const uint8_t *)o, strlen(o), &d2, NULL), 0);
        assert_int_equal(kbs_init_data_check(KBS_TEE_TDX, &d2, &tdx, NULL), CAIRN_ERR_VERIFY);
        assert_int_equal(kbs_init_data_check(KBS_TEE_SNP, &d2, &snp, NULL), CAIRN_ERR_VERIFY);
        /* a changed last byte of the register (padding included) */
        mrh[95] = mrh[95] == '0' ? '1' : '0';
        hdh[63] = hdh[63] == '0' ? '1' : '0';
        json_object_set_new(tdx.json, "mr_config_id", json_string(mrh));
        json_object_set_new(snp.json, "host_data", json_string(hdh));
        assert_int_equal(kbs_init_data_check(KBS_TEE_TDX, &d, &tdx, NULL), CAIRN_ERR_VERIFY);
        assert_int_equal(kbs_init_data_check(KBS_TEE_SNP, &d, &snp, NULL), CAIRN_ERR_VERIFY);
        /* sample has no field: nothing to check; Azure: its own verifier */
        assert_int_equal(kbs_init_data_check(KBS_TEE_SAMPLE, &d, &tdx, NULL), 0);
        assert_int_equal(kbs_init_data_check(KBS_TEE_AZ_SNP_VTPM, &d, &snp, NULL), CAIRN_ERR_UNSUPPORTED);
        attest_claims_free(&tdx);
        attest_claims_free(&snp);
        free(mrh);
        free(hdh);
    }
}

/* A real TD quote through kbs_verify_evidence with its own report data: it
 * verifies without init-data and is refused with one (its MRCONFIGID is not
 * the digest of a document we can write). */
static void test_init_data_real_tdx(void **state)
{
    (void)state;
    NEED_SHARED(qp, "tdx/gotdx_quote_v5_sample.dat");
    uint8_t *q = NULL;
    size_t qn = 0;
    assert_int_equal(cairn_file_read(qp, 1 << 20, &q, &qn), 0);
    struct attest_evidence a = {.type = ATTEST_TDX, .quote = q, .quote_len = qn};
    struct attest_trust trust = {0};
    struct attest_claims c0;
    assert_int_equal(attest_verify(&a, &trust, NULL, 0, &c0, NULL), 0);
    uint8_t rd[64];
    assert_int_equal(cairn_hex_decode_exact(json_string_value(json_object_get(c0.json, "report_data")), rd, 64), 0);
    attest_claims_free(&c0);
    char *b = cairn_base64_encode(q, qn);
    json_t *ev = json_pack("{s:s, s:n}", "quote", b, "cc_eventlog");
    struct core *c = memory_core();
    struct attest_claims cl = {0};
    struct cairn_error e = {0};
    if (kbs_verify_evidence(c, KBS_TEE_TDX, ev, rd, 64, NULL, &cl, &e) != 0)
        fail_msg("%s", e.msg);
    attest_claims_free(&cl);
    static const char toml[] = "version = \"0.1.0\"\nalgorithm = \"sha384\"\n";
    struct initdata_digest d;
    assert_int_equal(initdata_digest((const uint8_t *)toml, strlen(toml), &d, NULL), 0);
    assert_int_equal(kbs_verify_evidence(c, KBS_TEE_TDX, ev, rd, 64, &d, &cl, &e), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "MRCONFIGID"));
    core_free(c);
    json_decref(ev);
    free(b);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jcs),        cmocka_unit_test(test_runtime_digest), cmocka_unit_test(test_jwk),
        cmocka_unit_test(test_jwe),        cmocka_unit_test(test_jwt),            cmocka_unit_test(test_tee_names),
        cmocka_unit_test(test_snp_golden), cmocka_unit_test(test_snp_vectors),    cmocka_unit_test(test_tdx_vector),
        cmocka_unit_test(test_sample),     cmocka_unit_test(test_manifest),       cmocka_unit_test(test_match),
        cmocka_unit_test(test_azure_kbs_verify), cmocka_unit_test(test_init_data),
        cmocka_unit_test(test_init_data_real_tdx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
