/* SEV-SNP paths the shared vectors do not reach, with a test hierarchy made
 * here (ARK/ASK/ASVK RSA, VCEK/VLEK P-384 with AMD's extensions) passed as
 * trust->amd_roots: a Turin report v3 (FMC in the TCB layout), the TCB/hwID
 * binding rules, MASK_CHIP_ID, VLEK, CRL revocation, wrong key type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "attest/policy.h"
#include "attest/snp.h"
#include "crypto/crypto.h"

struct pki {
    EVP_PKEY *ark_key, *ask_key, *asvk_key, *leaf_key;
    X509 *ark, *ask, *asvk;
    STACK_OF(X509) *roots;
    uint8_t chip[64];
};

static X509 *issue(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
                   const struct cc_extension *ext, size_t n_ext)
{
    struct cc_cert_template t = {.subject = {.common_name = cn}, .is_ca = ca, .max_path_len = -1,
                                 .key_usage = ca ? (CC_KU_CERT_SIGN | CC_KU_CRL_SIGN) : CC_KU_DIGITAL_SIGNATURE,
                                 .not_before = time(NULL) - 86400, .not_after = time(NULL) + 86400 * 365,
                                 .extensions = ext, .n_extensions = n_ext};
    X509 *x = NULL;
    struct cairn_error err = {0};
    int rc = cc_cert_issue(&t, key, issuer, issuer_key, &x, &err);
    if (rc != 0)
        print_message("issue %s: %s\n", cn, err.msg);
    assert_int_equal(rc, 0);
    return x;
}

static int setup(void **state)
{
    struct pki *p = calloc(1, sizeof(*p));
    struct cairn_error err = {0};
    if (cc_key_generate(CC_KEY_RSA, 2048, &p->ark_key, &err) || cc_key_generate(CC_KEY_RSA, 2048, &p->ask_key, &err) ||
        cc_key_generate(CC_KEY_RSA, 2048, &p->asvk_key, &err) ||
        cc_key_generate(CC_KEY_EC_P384, 0, &p->leaf_key, &err))
        return -1;
    p->ark = issue("ARK-Turin", p->ark_key, NULL, p->ark_key, true, NULL, 0);
    p->ask = issue("SEV-Turin", p->ask_key, p->ark, p->ark_key, true, NULL, 0);
    p->asvk = issue("SEV-VLEK-Turin", p->asvk_key, p->ark, p->ark_key, true, NULL, 0);
    p->roots = sk_X509_new_null();
    X509_up_ref(p->ark);
    sk_X509_push(p->roots, p->ark);
    for (int i = 0; i < 64; i++)
        p->chip[i] = (uint8_t)(0xA0 + i);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct pki *p = *state;
    EVP_PKEY_free(p->ark_key);
    EVP_PKEY_free(p->ask_key);
    EVP_PKEY_free(p->asvk_key);
    EVP_PKEY_free(p->leaf_key);
    X509_free(p->ark);
    X509_free(p->ask);
    X509_free(p->asvk);
    sk_X509_pop_free(p->roots, X509_free);
    free(p);
    return 0;
}

struct spl {
    int fmc, bl, tee, snp, ucode; /* -1 = omit the extension */
    bool hwid;
};

/* The VCEK (or VLEK when `vlek`) with AMD's extensions, signed by ASK/ASVK. */
static X509 *leaf_cert(struct pki *p, const struct spl *s, bool vlek, EVP_PKEY *key)
{
    static const uint8_t name[] = {0x16, 0x05, 'T', 'u', 'r', 'i', 'n'};
    uint8_t v[5][3];
    const char *oids[5] = {"1.3.6.1.4.1.3704.1.3.9", "1.3.6.1.4.1.3704.1.3.1", "1.3.6.1.4.1.3704.1.3.2",
                           "1.3.6.1.4.1.3704.1.3.3", "1.3.6.1.4.1.3704.1.3.8"};
    int vals[5] = {s->fmc, s->bl, s->tee, s->snp, s->ucode};
    struct cc_extension ext[8];
    size_t n = 0;
    ext[n++] = (struct cc_extension){.oid = "1.3.6.1.4.1.3704.1.2", .value = name, .value_len = sizeof(name)};
    for (int i = 0; i < 5; i++) {
        if (vals[i] < 0)
            continue;
        v[i][0] = 0x02;
        v[i][1] = 0x01;
        v[i][2] = (uint8_t)vals[i];
        ext[n++] = (struct cc_extension){.oid = oids[i], .value = v[i], .value_len = 3};
    }
    if (s->hwid)
        ext[n++] = (struct cc_extension){.oid = "1.3.6.1.4.1.3704.1.4", .value = p->chip, .value_len = 64};
    return issue(vlek ? "SEV-VLEK" : "SEV-VCEK", key ? key : p->leaf_key, vlek ? p->asvk : p->ask,
                 vlek ? p->asvk_key : p->ask_key, false, ext, n);
}

/* Turin TCB: fmc 1, bootloader 2, tee 3, snp 4, microcode 9. */
#define TURIN_TCB 0x0900000004030201ull

static void put64(uint8_t *r, size_t off, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        r[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void sign_report(uint8_t *r, EVP_PKEY *key)
{
    memset(r + 0x2A0, 0, SNP_REPORT_SIZE - 0x2A0);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    uint8_t der[160];
    size_t dl = sizeof(der);
    assert_int_equal(EVP_DigestSignInit_ex(m, NULL, "SHA384", NULL, NULL, key, NULL), 1);
    assert_int_equal(EVP_DigestSign(m, der, &dl, r, 0x2A0), 1);
    EVP_MD_CTX_free(m);
    const unsigned char *q = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &q, (long)dl);
    const BIGNUM *br, *bs;
    ECDSA_SIG_get0(sig, &br, &bs);
    uint8_t be[48];
    BN_bn2binpad(br, be, 48);
    for (int i = 0; i < 48; i++)
        r[0x2A0 + i] = be[47 - i];
    BN_bn2binpad(bs, be, 48);
    for (int i = 0; i < 48; i++)
        r[0x2E8 + i] = be[47 - i];
    ECDSA_SIG_free(sig);
}

static void make_report(struct pki *p, uint8_t *r, uint32_t flags, bool chip, EVP_PKEY *key)
{
    memset(r, 0, SNP_REPORT_SIZE);
    r[0] = 3;                      /* version */
    r[4] = 7;                      /* guest_svn */
    put64(r, 0x08, 0x30000);       /* policy: SMT, reserved-1, no debug */
    r[0x34] = 1;                   /* ECDSA P-384 */
    put64(r, 0x38, TURIN_TCB);     /* current_tcb */
    r[0x48] = (uint8_t)flags;
    memset(r + 0x50, 0x5A, 32);    /* report data */
    memset(r + 0x90, 0x4D, 48);    /* measurement */
    put64(r, 0x180, TURIN_TCB);    /* reported_tcb */
    r[0x188] = 0x1A;               /* family 1Ah = Turin */
    r[0x189] = 0x02;
    if (chip)
        memcpy(r + 0x1A0, p->chip, 64);
    put64(r, 0x1E0, TURIN_TCB);
    put64(r, 0x1F0, TURIN_TCB);
    sign_report(r, key ? key : p->leaf_key);
}

static char *pem_of(X509 *x)
{
    char *s = NULL;
    size_t n;
    assert_int_equal(cc_cert_to_pem(x, &s, &n), 0);
    return s;
}

static int verify(struct pki *p, const uint8_t *r, X509 *leaf, STACK_OF(X509_CRL) *crls, struct attest_claims *c,
                  struct cairn_error *err)
{
    char *pem = pem_of(leaf);
    struct attest_evidence ev = {.type = ATTEST_SNP, .quote = r, .quote_len = SNP_REPORT_SIZE,
                                 .certs = (const uint8_t *)pem, .certs_len = strlen(pem)};
    STACK_OF(X509) *inter = sk_X509_new_null();
    sk_X509_push(inter, p->ask);
    sk_X509_push(inter, p->asvk);
    struct attest_trust tr = {.amd_roots = p->roots, .amd_intermediates = inter, .crls = crls};
    int rc = attest_verify(&ev, &tr, NULL, 0, c, err);
    sk_X509_free(inter);
    free(pem);
    return rc;
}

static void test_turin(void **state)
{
    struct pki *p = *state;
    uint8_t r[SNP_REPORT_SIZE];
    struct attest_claims c;
    struct cairn_error err = {0};
    struct spl good = {1, 2, 3, 4, 9, true};
    X509 *vcek = leaf_cert(p, &good, false, NULL);
    make_report(p, r, 0, true, NULL);
    int rc = verify(p, r, vcek, NULL, &c, &err);
    if (rc != 0)
        print_message("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(c.json, "product")), "Turin");
    const json_t *t = json_object_get(c.json, "reported_tcb");
    assert_int_equal(json_integer_value(json_object_get(t, "fmc")), 1);
    assert_int_equal(json_integer_value(json_object_get(t, "bootloader")), 2);
    assert_int_equal(json_integer_value(json_object_get(t, "tee")), 3);
    assert_int_equal(json_integer_value(json_object_get(t, "snp")), 4);
    assert_int_equal(json_integer_value(json_object_get(t, "microcode")), 9);
    /* policy on the Turin components */
    struct tee_package pk = {.tee = ATTEST_SNP, .has_minimum_tcb = true};
    pk.minimum_tcb.bootloader = 2;
    pk.minimum_tcb.tee = 3;
    pk.minimum_tcb.snp = 4;
    pk.minimum_tcb.microcode = 9;
    assert_int_equal(tee_policy_match(&pk, &c, &err), 0);
    pk.minimum_tcb.snp = 5;
    assert_int_equal(tee_policy_match(&pk, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "MinimumTCB.SNP"));
    attest_claims_free(&c);

    /* cpuid says Milan while the chain is Turin */
    r[0x188] = 0x19;
    r[0x189] = 0x01;
    sign_report(r, p->leaf_key);
    assert_int_equal(verify(p, r, vcek, NULL, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "cpuid"));
    /* chip_id zero: refused, unless MASK_CHIP_ID is set */
    make_report(p, r, 0, false, NULL);
    assert_int_equal(verify(p, r, vcek, NULL, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "chip_id"));
    make_report(p, r, 0x2, false, NULL);
    assert_int_equal(verify(p, r, vcek, NULL, &c, &err), 0);
    attest_claims_free(&c);
    X509_free(vcek);

    /* fmcSPL differs from the report; fmcSPL missing; a Milan-style cert */
    struct spl fmc5 = {5, 2, 3, 4, 9, true}, nofmc = {-1, 2, 3, 4, 9, true}, noucode = {1, 2, 3, 4, -1, true};
    make_report(p, r, 0, true, NULL);
    vcek = leaf_cert(p, &fmc5, false, NULL);
    assert_int_equal(verify(p, r, vcek, NULL, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "reported_tcb.fmc is 1"));
    X509_free(vcek);
    vcek = leaf_cert(p, &nofmc, false, NULL);
    assert_int_equal(verify(p, r, vcek, NULL, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "fmcSPL"));
    X509_free(vcek);
    vcek = leaf_cert(p, &noucode, false, NULL);
    assert_int_equal(verify(p, r, vcek, NULL, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "ucodeSPL"));
    X509_free(vcek);
    /* no hwID in a VCEK */
    struct spl nohw = {1, 2, 3, 4, 9, false};
    vcek = leaf_cert(p, &nohw, false, NULL);
    assert_int_equal(verify(p, r, vcek, NULL, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "hwID"));
    X509_free(vcek);
}

static void test_vlek_and_keys(void **state)
{
    struct pki *p = *state;
    uint8_t r[SNP_REPORT_SIZE];
    struct attest_claims c;
    struct cairn_error err = {0};
    struct spl vl = {1, 2, 3, 4, 9, false};
    X509 *vlek = leaf_cert(p, &vl, true, NULL);
    make_report(p, r, 1u << 2, false, NULL); /* SIGNING_KEY = 1 (VLEK) */
    int rc = verify(p, r, vlek, NULL, &c, &err);
    if (rc != 0)
        print_message("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(c.json, "signing_key")), "vlek");
    attest_claims_free(&c);
    make_report(p, r, 0, false, NULL); /* report says VCEK */
    assert_int_equal(verify(p, r, vlek, NULL, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "signing_key"));
    X509_free(vlek);
    /* a P-256 "VCEK" */
    EVP_PKEY *p256 = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &p256, &err), 0);
    struct spl good = {1, 2, 3, 4, 9, true};
    X509 *bad = leaf_cert(p, &good, false, p256);
    make_report(p, r, 0, true, NULL);
    assert_int_equal(verify(p, r, bad, NULL, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "P-384"));
    X509_free(bad);
    EVP_PKEY_free(p256);
    /* signed by another P-384 key than the VCEK's */
    EVP_PKEY *other = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, &other, &err), 0);
    X509 *vcek = leaf_cert(p, &good, false, NULL);
    make_report(p, r, 0, true, other);
    assert_int_equal(verify(p, r, vcek, NULL, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "signature"));
    X509_free(vcek);
    EVP_PKEY_free(other);
}

static X509_CRL *make_crl(X509 *issuer, EVP_PKEY *key, X509 *revoked, time_t this_upd, time_t next_upd)
{
    X509_CRL *crl = X509_CRL_new();
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
    ASN1_TIME *lu = ASN1_TIME_set(NULL, this_upd), *nu = ASN1_TIME_set(NULL, next_upd);
    X509_CRL_set1_lastUpdate(crl, lu);
    X509_CRL_set1_nextUpdate(crl, nu);
    if (revoked != NULL) {
        X509_REVOKED *rv = X509_REVOKED_new();
        X509_REVOKED_set_serialNumber(rv, X509_get_serialNumber(revoked));
        X509_REVOKED_set_revocationDate(rv, lu);
        X509_CRL_add0_revoked(crl, rv);
    }
    X509_CRL_sort(crl);
    assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    ASN1_TIME_free(lu);
    ASN1_TIME_free(nu);
    return crl;
}

static void test_crl(void **state)
{
    struct pki *p = *state;
    uint8_t r[SNP_REPORT_SIZE];
    struct attest_claims c;
    struct cairn_error err = {0};
    struct spl good = {1, 2, 3, 4, 9, true};
    X509 *vcek = leaf_cert(p, &good, false, NULL), *other = leaf_cert(p, &good, false, NULL);
    make_report(p, r, 0, true, NULL);
    time_t now = time(NULL);
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    /* ASK CRL listing another VCEK, ARK CRL listing nothing: accepted */
    sk_X509_CRL_push(crls, make_crl(p->ask, p->ask_key, other, now - 3600, now + 86400));
    sk_X509_CRL_push(crls, make_crl(p->ark, p->ark_key, NULL, now - 3600, now + 86400));
    assert_int_equal(verify(p, r, vcek, crls, &c, &err), 0);
    attest_claims_free(&c);
    /* ASK CRL listing this VCEK: revoked */
    X509_CRL_free(sk_X509_CRL_shift(crls));
    sk_X509_CRL_push(crls, make_crl(p->ask, p->ask_key, vcek, now - 3600, now + 86400));
    assert_int_equal(verify(p, r, vcek, crls, &c, &err), CAIRN_ERR_REVOKED);
    assert_non_null(strstr(err.msg, "revoked"));
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    /* ARK CRL revoking the ASK */
    crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, make_crl(p->ark, p->ark_key, p->ask, now - 3600, now + 86400));
    assert_int_equal(verify(p, r, vcek, crls, &c, &err), CAIRN_ERR_REVOKED);
    assert_non_null(strstr(err.msg, "SEV-Turin"));
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    /* a CRL "from the ASK" signed by another key; a stale CRL */
    crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, make_crl(p->ask, p->asvk_key, NULL, now - 3600, now + 86400));
    assert_int_equal(verify(p, r, vcek, crls, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "bad signature"));
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, make_crl(p->ask, p->ask_key, NULL, now - 7200, now - 3600));
    assert_int_equal(verify(p, r, vcek, crls, &c, &err), CAIRN_ERR_EXPIRED);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    X509_free(vcek);
    X509_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_turin),
        cmocka_unit_test(test_vlek_and_keys),
        cmocka_unit_test(test_crl),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
