/* SEV-SNP: every shared report verifies at its stated time with the upstream
 * ground truth; the upstream mutations and our own parser mutations fail with
 * the right error; policy matching. Needs CAIRN_SHARED_DIR (skips without). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "attest/policy.h"
#include "attest/snp.h"
#include "common/encoding.h"
#include "common/file.h"

#define TV_PROBE "snp"
#include "test_vectors.h"

/* Concatenates two files (e.g. a VLEK PEM and its chain). */
static uint8_t *load2(const char *a, const char *b, size_t *n)
{
    size_t n1, n2;
    uint8_t *p1 = load(a, &n1), *p2 = load(b, &n2);
    uint8_t *p = malloc(n1 + n2 + 1);
    assert_non_null(p);
    memcpy(p, p1, n1);
    memcpy(p + n1, p2, n2);
    p[n1 + n2] = 0;
    free(p1);
    free(p2);
    *n = n1 + n2;
    return p;
}

static time_t t_of(const char *s)
{
    struct tm tm = {0};
    assert_non_null(strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm));
    return timegm(&tm);
}

static const char *js(const struct attest_claims *c, const char *k)
{
    const char *v = json_string_value(json_object_get(c->json, k));
    assert_non_null(v);
    return v;
}

static long long ji(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    assert_true(json_is_integer(v));
    return (long long)json_integer_value(v);
}

static int verify(const uint8_t *rep, size_t rn, const uint8_t *certs, size_t cn, time_t at,
                  struct attest_claims *c, struct cairn_error *err)
{
    struct attest_evidence ev = {.type = ATTEST_SNP, .quote = rep, .quote_len = rn, .certs = certs,
                                 .certs_len = cn};
    struct attest_trust tr = {.at = at};
    return attest_verify(&ev, &tr, NULL, 0, c, err);
}

/* ---- golden vectors -------------------------------------------------------- */

static void test_gosev_milan(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t rn, cn;
    uint8_t *rep = load("snp/gosev_attestation.bin", &rn), *vcek = load("snp/gosev_vcek.der", &cn);
    struct attest_claims c;
    struct cairn_error err = {0};
    /* go-sev-guest TestVerifyVcekCert verifies at 2022-09-24T01:00:00Z. */
    assert_int_equal(verify(rep, rn, vcek, cn, t_of("2022-09-24T01:00:00Z"), &c, &err), 0);
    assert_string_equal(js(&c, "measurement"), "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b"
                                               "6bdf8a9ece31a5a608eb0cf2e4872b01");
    assert_string_equal(js(&c, "report_data"), "0102030405000000000000000000000000000000000000000000000000000000"
                                               "0000000000000000000000000000000000000000000000000000000000000000");
    assert_string_equal(js(&c, "host_data"), "0000000000000000000000000000000000000000000000000000000000000000");
    assert_string_equal(js(&c, "family_id"), "00000000000000000000000000000000");
    assert_string_equal(js(&c, "report_id"), "8edc638e1857c555d21f6b11bda3c8b1b5a09dba4852b4c8ee7aa2f16f22cc0a");
    assert_string_equal(js(&c, "report_id_ma"), "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    assert_string_equal(js(&c, "chip_id"), "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e"
                                           "359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d");
    assert_int_equal(ji(c.json, "policy"), 0xB0000);
    assert_int_equal(ji(c.json, "vmpl"), 0);
    assert_int_equal(ji(c.json, "platform_info"), 1);
    assert_int_equal(ji(c.json, "version"), 2);
    assert_true(json_is_true(json_object_get(c.json, "debug")));
    assert_string_equal(js(&c, "product"), "Milan");
    assert_string_equal(js(&c, "signing_key"), "vcek");
    assert_string_equal(js(&c, "current_firmware"), "1.49.3");
    const json_t *t = json_object_get(c.json, "reported_tcb");
    assert_int_equal(ji(t, "bootloader"), 2);
    assert_int_equal(ji(t, "tee"), 0);
    assert_int_equal(ji(t, "snp"), 5);
    assert_int_equal(ji(t, "microcode"), 68);
    assert_string_equal(json_string_value(json_object_get(t, "raw")), "4405000000000002");
    attest_claims_free(&c);

    /* upstream "bad" report_data: last byte 1 -> binding fails. */
    uint8_t want[64] = {1, 2, 3, 4, 5};
    struct attest_evidence ev = {.type = ATTEST_SNP, .quote = rep, .quote_len = rn, .certs = vcek, .certs_len = cn};
    struct attest_trust tr = {.at = t_of("2023-01-01T00:00:00Z")};
    assert_int_equal(attest_verify(&ev, &tr, want, 64, &c, &err), 0);
    attest_claims_free(&c);
    want[63] = 1;
    assert_int_equal(attest_verify(&ev, &tr, want, 64, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "report data binding"));

    /* chip_id last byte ...5e (upstream bad value) -> hwID mismatch. */
    rep[0x1A0 + 63] ^= 0x03;
    assert_int_equal(verify(rep, rn, vcek, cn, t_of("2023-01-01T00:00:00Z"), &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "chip_id"));
    free(rep);
    free(vcek);
}

static void test_gosev_crl(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t rn, cn, ln;
    uint8_t *rep = load("snp/gosev_attestation.bin", &rn), *vcek = load("snp/gosev_vcek.der", &cn);
    uint8_t *crlb = load("roots/amd_milan_crl_2022-05-09.der", &ln);
    const unsigned char *q = crlb;
    X509_CRL *crl = d2i_X509_CRL(NULL, &q, (long)ln);
    assert_non_null(crl);
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, crl);
    struct attest_evidence ev = {.type = ATTEST_SNP, .quote = rep, .quote_len = rn, .certs = vcek, .certs_len = cn};
    struct attest_trust tr = {.at = t_of("2022-10-01T00:00:00Z"), .crls = crls};
    struct attest_claims c;
    struct cairn_error err = {0};
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), 0);
    attest_claims_free(&c);
    /* The same CRL is stale after its nextUpdate (2023-05-09): refused. */
    tr.at = t_of("2024-01-01T00:00:00Z");
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "nextUpdate"));
    /* A CRL that does not verify with ARK-Milan: refused. */
    unsigned char *der = NULL;
    int dl = i2d_X509_CRL(crl, &der);
    der[dl - 5] ^= 1; /* inside the signature */
    q = der;
    X509_CRL *bad = d2i_X509_CRL(NULL, &q, dl);
    assert_non_null(bad);
    sk_X509_CRL_set(crls, 0, bad);
    tr.at = t_of("2022-10-01T00:00:00Z");
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "crl"));
    OPENSSL_free(der);
    X509_CRL_free(crl);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    free(rep);
    free(vcek);
    free(crlb);
}

static void test_trustee_milan(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t rn, cn;
    uint8_t *rep = load("snp/trustee_test-report.bin", &rn), *vcek = load("snp/trustee_test-vcek.der", &cn);
    struct attest_claims c;
    struct cairn_error err = {0};
    assert_int_equal(verify(rep, rn, vcek, cn, 0, &c, &err), 0); /* present time: VCEK valid until 2030 */
    assert_int_equal(ji(c.json, "guest_svn"), 4);
    assert_int_equal(ji(c.json, "policy"), 0x3001F);
    assert_false(json_is_true(json_object_get(c.json, "debug")));
    assert_string_equal(js(&c, "measurement"), "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c"
                                               "23500644e0e692e6be917f9050d3d38c");
    assert_string_equal(js(&c, "id_key_digest"), "0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491e"
                                                 "cdd7f336dc28a6e0b2bb57af7a44a3");
    assert_string_equal(js(&c, "report_id"), "385eba81216de4776548fcb86f8ead03c1ebc92b6207f3210d9ccebb89c99005");
    assert_string_equal(js(&c, "chip_id"), "c38427a30d4c7af9d96f7a15b97269825a64cb76a2352ffd5d18115d89ad473f8e8c0b"
                                           "cd9a5d9286612bad4aadfb4426205a3b9e4fea82301135a170e477524e");
    assert_string_equal(js(&c, "report_data"), "ec6c52d7533cc2c4f45be7849cf112ab82b2009fe7bd43e71ed08c14400ad7e2"
                                               "0000000000000000000000000000000000000000000000000000000000000000");
    const json_t *cur = json_object_get(c.json, "current_tcb"), *rt = json_object_get(c.json, "reported_tcb");
    assert_int_equal(ji(cur, "bootloader"), 3);
    assert_int_equal(ji(cur, "snp"), 8);
    assert_int_equal(ji(cur, "microcode"), 206);
    assert_int_equal(ji(rt, "bootloader"), 3);
    assert_int_equal(ji(rt, "tee"), 0);
    assert_int_equal(ji(rt, "snp"), 8);
    assert_int_equal(ji(rt, "microcode"), 115);
    assert_string_equal(js(&c, "current_firmware"), "1.52.4");
    /* measurement is 96 hex chars (test_hex_encoding_in_parsed_claims) */
    assert_int_equal(strlen(js(&c, "measurement")), 96);
    attest_claims_free(&c);

    /* The chain cache never extends validity: the VCEK (valid until
     * 2030-01-24) verified and cached above is expired in 2031. */
    assert_int_equal(verify(rep, rn, vcek, cn, 0, &c, &err), 0);
    attest_claims_free(&c);
    assert_int_equal(verify(rep, rn, vcek, cn, t_of("2031-01-01T00:00:00Z"), &c, &err), CAIRN_ERR_EXPIRED);
    assert_int_equal(verify(rep, rn, vcek, cn, t_of("2022-01-01T00:00:00Z"), &c, &err), CAIRN_ERR_EXPIRED);
    snp_chain_cache_set(false);
    assert_int_equal(verify(rep, rn, vcek, cn, 0, &c, &err), 0);
    attest_claims_free(&c);
    snp_chain_cache_set(true);

    /* check_report_signature_failure: byte 42 += 1 */
    rep[42]++;
    assert_int_equal(verify(rep, rn, vcek, cn, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "signature"));
    rep[42]--;
    /* check_report_tcb_failure: byte 384 (reported_tcb) += 1 */
    rep[384]++;
    assert_int_equal(verify(rep, rn, vcek, cn, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "reported_tcb.bootloader"));
    rep[384]--;
    /* check_vcek_signature_failure: VCEK DER byte 42 += 1 */
    vcek[42]++;
    assert_int_not_equal(verify(rep, rn, vcek, cn, 0, &c, &err), 0);
    vcek[42]--;
    /* check_milan_chain_signature_failure: the ASVK taken as the VCEK's issuer */
    size_t an;
    uint8_t *asvk_bundle = load("roots/amd_milan_vlek_cert_chain.gosev.pem", &an);
    BIO *b = BIO_new_mem_buf(asvk_bundle, (int)an);
    X509 *asvk = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(asvk);
    STACK_OF(X509) *roots = sk_X509_new_null();
    sk_X509_push(roots, asvk);
    struct attest_evidence ev = {.type = ATTEST_SNP, .quote = rep, .quote_len = rn, .certs = vcek, .certs_len = cn};
    struct attest_trust tr = {.amd_roots = roots};
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "chain"));
    sk_X509_pop_free(roots, X509_free);
    free(asvk_bundle);
    free(rep);
    free(vcek);
}

static void test_virtee_milan(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t rn, cn, hn;
    uint8_t *rep = load("snp/virtee_report_milan.bin", &rn), *vcek = load("snp/virtee_vcek_milan.der", &cn);
    /* the .bin is the decoding of the upstream .hex */
    uint8_t *hex = load("snp/virtee_report_milan.hex", &hn);
    while (hn > 0 && (hex[hn - 1] == '\n' || hex[hn - 1] == '\r' || hex[hn - 1] == ' '))
        hn--;
    uint8_t *dec = NULL;
    size_t dn = 0;
    assert_int_equal(cairn_hex_decode((const char *)hex, hn, &dec, &dn), 0);
    assert_int_equal(dn, rn);
    assert_memory_equal(dec, rep, rn);
    free(dec);
    free(hex);
    struct attest_claims c;
    struct cairn_error err = {0};
    assert_int_equal(verify(rep, rn, vcek, cn, 0, &c, &err), 0);
    assert_string_equal(js(&c, "measurement"), "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d"
                                               "3e1a0dc39b2c60bd95b9c480cd81841f");
    assert_string_equal(js(&c, "report_id"), "92b3b47d59f0a2a10a74c5678868a80238cf593c01a82f3cffb878e904c28d5b");
    assert_int_equal(ji(c.json, "policy"), 0x30000);
    attest_claims_free(&c);

    /* milan_ca_stack: VCEK + the upstream ASK/ARK PEM also verifies. */
    size_t pn;
    uint8_t *chain = load("snp/virtee_cert_chain_milan.pem", &pn);
    X509 *leaf = NULL;
    const unsigned char *q = vcek;
    leaf = d2i_X509(NULL, &q, (long)cn);
    assert_non_null(leaf);
    STACK_OF(X509) *extra = NULL;
    assert_int_equal(attest_certs_parse(chain, pn, &extra, &err), 0);
    assert_int_equal(sk_X509_num(extra), 2);
    struct attest_trust tr = {0};
    enum snp_product prod;
    bool vlek;
    assert_int_equal(snp_cert_verify(leaf, extra, &tr, 0, &prod, &vlek, &err), 0);
    assert_int_equal(prod, SNP_PRODUCT_MILAN);
    assert_false(vlek);
    sk_X509_pop_free(extra, X509_free);
    X509_free(leaf);
    free(chain);

    /* milan_report_invalid: byte 21 ^= 0x80 */
    rep[21] ^= 0x80;
    assert_int_equal(verify(rep, rn, vcek, cn, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "signature"));
    rep[21] ^= 0x80;
    /* milan_chain_invalid: VCEK DER byte 40 ^= 0xff */
    vcek[40] ^= 0xff;
    assert_int_not_equal(verify(rep, rn, vcek, cn, 0, &c, &err), 0);
    free(rep);
    free(vcek);
}

static void test_turin_chain(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t cn, pn;
    uint8_t *vcek = load("snp/virtee_vcek_turin.der", &cn), *chain = load("snp/virtee_cert_chain_turin.pem", &pn);
    struct cairn_error err = {0};
    STACK_OF(X509) *leafs = NULL, *extra = NULL;
    assert_int_equal(attest_certs_parse(vcek, cn, &leafs, &err), 0);
    assert_int_equal(attest_certs_parse(chain, pn, &extra, &err), 0);
    struct attest_trust tr = {0};
    enum snp_product prod;
    bool vlek;
    /* with the upstream chain and with the embedded roots alone */
    assert_int_equal(snp_cert_verify(sk_X509_value(leafs, 0), extra, &tr, 0, &prod, &vlek, &err), 0);
    assert_int_equal(prod, SNP_PRODUCT_TURIN);
    assert_int_equal(snp_cert_verify(sk_X509_value(leafs, 0), NULL, &tr, 0, &prod, &vlek, &err), 0);
    assert_int_equal(prod, SNP_PRODUCT_TURIN);
    /* before the VCEK's notBefore (2024-11-06) and after the ARK's notAfter (2048) */
    assert_int_equal(snp_cert_verify(sk_X509_value(leafs, 0), NULL, &tr, t_of("2024-01-01T00:00:00Z"), &prod, &vlek,
                                     &err),
                     CAIRN_ERR_EXPIRED);
    assert_int_equal(snp_cert_verify(sk_X509_value(leafs, 0), NULL, &tr, t_of("2049-01-01T00:00:00Z"), &prod, &vlek,
                                     &err),
                     CAIRN_ERR_EXPIRED);
    /* Turin TCB layout: fmc in byte 0, bootloader byte 1, tee 2, snp 3, ucode 7 */
    struct snp_tcb t;
    snp_tcb_decode(0x0900000004030201ull, SNP_PRODUCT_TURIN, &t);
    assert_true(t.has_fmc);
    assert_int_equal(t.fmc, 1);
    assert_int_equal(t.bootloader, 2);
    assert_int_equal(t.tee, 3);
    assert_int_equal(t.snp, 4);
    assert_int_equal(t.microcode, 9);
    snp_tcb_decode(0x0900000004030201ull, SNP_PRODUCT_MILAN, &t);
    assert_false(t.has_fmc);
    assert_int_equal(t.bootloader, 1);
    assert_int_equal(t.tee, 2);
    assert_int_equal(t.snp, 0);
    sk_X509_pop_free(leafs, X509_free);
    sk_X509_pop_free(extra, X509_free);
    free(vcek);
    free(chain);
}

static void test_constellation_vlek(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t rn, cn, bn;
    uint8_t *rep = load("snp/constellation_aws_vlek_report.bin", &rn);
    uint8_t *certs = load2("snp/constellation_aws_vlek.pem", "snp/constellation_aws_vlek_certchain.pem", &cn);
    uint8_t *b64 = load("snp/constellation_aws_vlek_report.b64", &bn);
    while (bn > 0 && (b64[bn - 1] == '\n' || b64[bn - 1] == '\r'))
        bn--;
    uint8_t *dec = NULL;
    size_t dn;
    assert_int_equal(cairn_base64_decode((const char *)b64, bn, &dec, &dn), 0);
    assert_int_equal(dn, rn);
    assert_memory_equal(dec, rep, rn);
    free(dec);
    free(b64);
    uint8_t ak_digest[64];
    assert_int_equal(cairn_hex_decode_exact("87ab7caf510e1b3520dc3cceb64ee44128e10976fb0d3fc5e274699d8aaf5061"
                                            "54af4c1de0a026b49fdf861e9ac75551551b3534d1c61369a3b08f5baed0db2f",
                                            ak_digest, 64),
                     0);
    struct attest_evidence ev = {.type = ATTEST_SNP, .quote = rep, .quote_len = rn, .certs = certs, .certs_len = cn};
    struct attest_trust tr = {.at = t_of("2025-06-01T00:00:00Z")};
    struct attest_claims c;
    struct cairn_error err = {0};
    assert_int_equal(attest_verify(&ev, &tr, ak_digest, 64, &c, &err), 0);
    assert_string_equal(js(&c, "signing_key"), "vlek");
    assert_string_equal(js(&c, "product"), "Milan");
    assert_int_equal(ji(c.json, "version"), 3);
    assert_int_equal(ji(c.json, "platform_info"), 0x27);
    assert_string_equal(js(&c, "measurement"), "5a5cdbad8f540ce4abca0120faec86f62ef7128a4ac711add34d468b5957c82a"
                                               "a2f24e8f111dadc3689b787b88ed0715");
    const json_t *rt = json_object_get(c.json, "reported_tcb");
    assert_int_equal(ji(rt, "bootloader"), 4);
    assert_int_equal(ji(rt, "snp"), 24);
    assert_int_equal(ji(rt, "microcode"), 217);
    assert_int_equal(ji(json_object_get(c.json, "current_tcb"), "microcode"), 220);
    assert_int_equal(ji(json_object_get(c.json, "committed_tcb"), "microcode"), 219);
    assert_string_equal(js(&c, "current_firmware"), "1.55.29");
    attest_claims_free(&c);
    /* The same bundle with the VLEK last: the EC certificate is the leaf. */
    uint8_t *rev = load2("snp/constellation_aws_vlek_certchain.pem", "snp/constellation_aws_vlek.pem", &cn);
    ev.certs = rev;
    ev.certs_len = cn;
    assert_int_equal(attest_verify(&ev, &tr, ak_digest, 64, &c, &err), 0);
    attest_claims_free(&c);
    /* only RSA certificates (no VCEK/VLEK): refused */
    size_t chn;
    uint8_t *chain_only = load("snp/constellation_aws_vlek_certchain.pem", &chn);
    ev.certs = chain_only;
    ev.certs_len = chn;
    assert_int_not_equal(attest_verify(&ev, &tr, ak_digest, 64, &c, &err), 0);
    free(chain_only);
    free(rev);
    /* The VLEK alone is enough: the embedded ASVK completes the chain. */
    size_t ln;
    uint8_t *vlek = load("snp/constellation_aws_vlek.pem", &ln);
    ev.certs = vlek;
    ev.certs_len = ln;
    assert_int_equal(attest_verify(&ev, &tr, ak_digest, 64, &c, &err), 0);
    attest_claims_free(&c);
    /* At the present time the VLEK (valid 2024-12-10 .. 2025-12-10) has expired. */
    tr.at = 0;
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "VCEK/VLEK"));
    tr.at = t_of("2025-06-01T00:00:00Z");
    /* "invalid report signature": signature[0]++ */
    rep[0x2A0]++;
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "signature"));
    rep[0x2A0]--;
    /* "invalid report data": REPORT_DATA zeroed -> signature fails; and a
     * genuine report bound to other data fails the binding. */
    uint8_t other[64] = {0};
    assert_int_equal(attest_verify(&ev, &tr, other, 64, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "binding"));
    memset(rep + 0x50, 0, 64);
    assert_int_equal(attest_verify(&ev, &tr, other, 64, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "signature"));
    memcpy(rep + 0x50, ak_digest, 64);
    /* signing_key flipped to VCEK: the certificate kind no longer matches */
    rep[0x48] &= (uint8_t)~0x1C;
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "signing_key"));
    rep[0x48] |= 0x04;
    /* cpuid says Genoa while the VLEK is Milan */
    rep[0x189] = 0x11;
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "cpuid"));
    free(vlek);
    free(rep);
    free(certs);
}

static void test_azure_genoa(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t rn, cn, hn;
    uint8_t *rep = load("snp/azure_genoa_snp_report.bin", &rn), *vcek = load("snp/azure_genoa_vcek.pem", &cn);
    uint8_t *hcl = load("snp/azure_genoa_hcl-report.bin", &hn);
    assert_int_equal(hn, 2600);
    assert_memory_equal(hcl + 0x20, rep, SNP_REPORT_SIZE);
    struct attest_claims c;
    struct cairn_error err = {0};
    assert_int_equal(verify(rep, rn, vcek, cn, 0, &c, &err), 0);
    assert_string_equal(js(&c, "product"), "Genoa");
    assert_int_equal(ji(c.json, "guest_svn"), 65547);
    assert_int_equal(ji(c.json, "platform_info"), 0x24);
    assert_string_equal(js(&c, "measurement"), "f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3"
                                               "706faf814c9e61065768a6ff917c89ae");
    assert_string_equal(js(&c, "report_data"), "b581f12e29a2d7d64e5e0b738d563879a78b51c644d0fa0cce02b48699f6bf5f"
                                               "0000000000000000000000000000000000000000000000000000000000000000");
    const json_t *rt = json_object_get(c.json, "reported_tcb");
    assert_int_equal(ji(rt, "bootloader"), 10);
    assert_int_equal(ji(rt, "snp"), 23);
    assert_int_equal(ji(rt, "microcode"), 84);
    assert_string_equal(js(&c, "current_firmware"), "1.55.40");
    attest_claims_free(&c);
    /* The HCL wrapper itself is not a report: size rule names it. */
    assert_int_equal(verify(hcl, hn, vcek, cn, 0, &c, &err), CAIRN_ERR_TRAILING);
    /* A Genoa report checked against Milan roots only: no chain. */
    size_t mn;
    uint8_t *mil = load("roots/amd_milan_ark.pem", &mn);
    STACK_OF(X509) *roots = NULL;
    assert_int_equal(attest_certs_parse(mil, mn, &roots, &err), 0);
    struct attest_evidence ev = {.type = ATTEST_SNP, .quote = rep, .quote_len = rn, .certs = vcek, .certs_len = cn};
    struct attest_trust tr = {.amd_roots = roots};
    assert_int_equal(attest_verify(&ev, &tr, NULL, 0, &c, &err), CAIRN_ERR_VERIFY);
    sk_X509_pop_free(roots, X509_free);
    free(mil);
    free(hcl);
    free(rep);
    free(vcek);
}

/* ---- parser mutations ------------------------------------------------------ */

static void test_parse_mutations(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t rn, cn;
    uint8_t *rep = load("snp/trustee_test-report.bin", &rn), *vcek = load("snp/trustee_test-vcek.der", &cn);
    struct snp_report r;
    struct cairn_error err = {0};
    assert_int_equal(snp_report_parse(rep, rn, &r, &err), 0);
    assert_int_equal(r.version, 2);
    assert_int_equal(r.reported_tcb, 0x7308000000000003ull);
    /* truncated, padded */
    assert_int_equal(snp_report_parse(rep, rn - 1, &r, &err), CAIRN_ERR_TRUNCATED);
    assert_int_equal(snp_report_parse(rep, 0, &r, &err), CAIRN_ERR_TRUNCATED);
    uint8_t *big = calloc(1, rn + 1);
    memcpy(big, rep, rn);
    assert_int_equal(snp_report_parse(big, rn + 1, &r, &err), CAIRN_ERR_TRAILING);
    assert_non_null(strstr(err.msg, "exactly"));
    free(big);
    /* versions */
    uint8_t save = rep[0];
    rep[0] = 1;
    assert_int_equal(snp_report_parse(rep, rn, &r, &err), CAIRN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "version 1"));
    rep[0] = 6;
    assert_int_equal(snp_report_parse(rep, rn, &r, &err), CAIRN_ERR_UNSUPPORTED);
    rep[0] = save;
    /* signature algorithm */
    rep[0x34] = 2;
    assert_int_equal(snp_report_parse(rep, rn, &r, &err), CAIRN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "signature_algo"));
    rep[0x34] = 1;
    /* vmpl */
    rep[0x30] = 4;
    assert_int_equal(snp_report_parse(rep, rn, &r, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "vmpl"));
    rep[0x30] = 0;
    /* high bytes of r/s and the reserved tail */
    rep[0x2A0 + 60] = 1;
    assert_int_equal(snp_report_parse(rep, rn, &r, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "signature.r"));
    rep[0x2A0 + 60] = 0;
    rep[0x2E8 + 50] = 1;
    assert_int_equal(snp_report_parse(rep, rn, &r, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "signature.s"));
    rep[0x2E8 + 50] = 0;
    rep[0x400] = 1;
    assert_int_equal(snp_report_parse(rep, rn, &r, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "reserved"));
    rep[0x400] = 0;
    /* signing_key 7 (none) cannot be verified */
    rep[0x48] = 7 << 2;
    struct attest_claims c;
    assert_int_equal(verify(rep, rn, vcek, cn, 0, &c, &err), CAIRN_ERR_UNSUPPORTED);
    rep[0x48] = 0;
    /* no certificate, garbage certificate */
    assert_int_equal(verify(rep, rn, NULL, 0, 0, &c, &err), CAIRN_ERR_INVALID);
    assert_int_equal(verify(rep, rn, (const uint8_t *)"garbage", 7, 0, &c, &err), CAIRN_ERR_INVALID);
    /* One bit flipped in every byte of the report: never accepted. */
    assert_int_equal(verify(rep, rn, vcek, cn, 0, &c, &err), 0);
    attest_claims_free(&c);
    int fails = 0;
    for (size_t i = 0; i < rn; i++) {
        rep[i] ^= (uint8_t)(1u << (i % 8));
        int rc = verify(rep, rn, vcek, cn, 0, &c, &err);
        rep[i] ^= (uint8_t)(1u << (i % 8));
        if (rc == 0) {
            print_message("bit flip at byte 0x%zx accepted\n", i);
            attest_claims_free(&c);
        } else {
            fails++;
        }
    }
    assert_int_equal(fails, (int)rn);
    free(rep);
    free(vcek);
}

/* ---- policy ---------------------------------------------------------------- */

static void test_policy(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t rn, cn;
    uint8_t *rep = load("snp/trustee_test-report.bin", &rn), *vcek = load("snp/trustee_test-vcek.der", &cn);
    struct attest_claims c;
    struct cairn_error err = {0};
    assert_int_equal(verify(rep, rn, vcek, cn, 0, &c, &err), 0);
    struct tee_package p = {.tee = ATTEST_SNP};
    p.measurement = strdup("A1F3930413247BB38CFC171579EA3C12D5FE4901F0C792F63FD75D98F1EF827C23500644E0E692E6BE917F9050D3D38C");
    p.id_key_digest = strdup("0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3");
    p.host_data = strdup("0000000000000000000000000000000000000000000000000000000000000000");
    p.has_minimum_tcb = true;
    p.minimum_tcb.bootloader = 3;
    p.minimum_tcb.snp = 8;
    p.minimum_tcb.microcode = 115;
    p.has_guest_svn = true;
    p.guest_svn = 4;
    assert_int_equal(snp_policy_match(&p, &c, &err), 0);
    /* microcode 116 > reported 115 (current is 206, but the reported TCB counts) */
    p.minimum_tcb.microcode = 116;
    assert_int_equal(snp_policy_match(&p, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "MinimumTCB.Microcode"));
    p.minimum_tcb.microcode = 115;
    p.guest_svn = 5;
    assert_int_equal(snp_policy_match(&p, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "GuestSVN"));
    p.guest_svn = 4;
    p.measurement[0] = 'b';
    assert_int_equal(snp_policy_match(&p, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "Measurement mismatch"));
    p.measurement[0] = 'a';
    p.host_data[63] = '1';
    assert_int_equal(snp_policy_match(&p, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "HostData"));
    p.host_data[63] = '0';
    p.debug = true; /* report policy 0x3001F has debug off */
    assert_int_equal(snp_policy_match(&p, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "Debug"));
    p.debug = false;
    assert_int_equal(snp_policy_match(&p, &c, &err), 0);
    /* a shorter value never matches a prefix */
    p.id_key_digest[90] = 0;
    assert_int_equal(snp_policy_match(&p, &c, &err), CAIRN_ERR_POLICY);
    tee_package_free(&p);
    attest_claims_free(&c);
    /* gosev: debug policy must be accepted explicitly */
    free(rep);
    free(vcek);
    rep = load("snp/gosev_attestation.bin", &rn);
    vcek = load("snp/gosev_vcek.der", &cn);
    assert_int_equal(verify(rep, rn, vcek, cn, t_of("2023-01-01T00:00:00Z"), &c, &err), 0);
    struct tee_package q = {.tee = ATTEST_SNP};
    assert_int_equal(snp_policy_match(&q, &c, &err), CAIRN_ERR_POLICY);
    q.debug = true;
    assert_int_equal(snp_policy_match(&q, &c, &err), 0);
    attest_claims_free(&c);
    free(rep);
    free(vcek);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gosev_milan),       cmocka_unit_test(test_gosev_crl),
        cmocka_unit_test(test_trustee_milan),     cmocka_unit_test(test_virtee_milan),
        cmocka_unit_test(test_turin_chain),       cmocka_unit_test(test_constellation_vlek),
        cmocka_unit_test(test_azure_genoa),       cmocka_unit_test(test_parse_mutations),
        cmocka_unit_test(test_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
