/* Unit tests for src/crypto X.509: issuing (read back field by field with
 * OpenSSL), chain verification at explicit times, CRLs built with OpenSSL,
 * CSRs, real-world certificates from CAIRN_SHARED_DIR, and garbage input to
 * every parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/file.h"
#include "crypto/crypto.h"

/* 2262-04-11T23:47:16Z: now + MaxInt64 ns as MarbleRun computes it, near the end. */
#define T_2262 ((time_t)9223372036LL)

struct ktype {
    enum cc_key_type type;
    unsigned bits;
    const char *name;
    int sig_nid; /* expected signature algorithm of a cert signed by this key */
};
static const struct ktype g_types[] = {
    {CC_KEY_EC_P256, 0, "P-256", NID_ecdsa_with_SHA256},
    {CC_KEY_EC_P384, 0, "P-384", NID_ecdsa_with_SHA384},
    {CC_KEY_EC_P521, 0, "P-521", NID_ecdsa_with_SHA512},
    {CC_KEY_ED25519, 0, "Ed25519", NID_ED25519},
    {CC_KEY_RSA, 2048, "RSA-2048", NID_sha256WithRSAEncryption},
};
#define N_TYPES (sizeof(g_types) / sizeof(g_types[0]))

static EVP_PKEY *g_ca_key;
static X509 *g_ca;
static EVP_PKEY *g_keys[N_TYPES];

static STACK_OF(X509) *stack_of(X509 *a)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    assert_non_null(sk);
    if (a != NULL)
        sk_X509_push(sk, a);
    return sk;
}

static X509 *make_ca(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int pathlen)
{
    struct cc_cert_template t = {0};
    t.subject.common_name = cn;
    t.subject.organization = "Cairn Test";
    t.subject.country = "DE";
    t.is_ca = true;
    t.max_path_len = pathlen;
    t.key_usage = CC_KU_DIGITAL_SIGNATURE | CC_KU_CERT_SIGN | CC_KU_CRL_SIGN;
    t.not_before = 946684800; /* 2000-01-01, so leaves with old validity windows chain */
    t.not_after = T_2262;
    X509 *x = NULL;
    struct cairn_error err = {0};
    if (cc_cert_issue(&t, key, issuer, issuer_key, &x, &err) != 0)
        fail_msg("CA issue failed: %s", err.msg);
    return x;
}

static int setup(void **state)
{
    (void)state;
    if (cc_key_generate(CC_KEY_EC_P384, 0, &g_ca_key, NULL) != 0)
        return -1;
    for (size_t i = 0; i < N_TYPES; i++)
        if (cc_key_generate(g_types[i].type, g_types[i].bits, &g_keys[i], NULL) != 0)
            return -1;
    g_ca = make_ca(g_ca_key, "Cairn Test Root", NULL, g_ca_key, -1);
    return g_ca ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    X509_free(g_ca);
    EVP_PKEY_free(g_ca_key);
    for (size_t i = 0; i < N_TYPES; i++)
        EVP_PKEY_free(g_keys[i]);
    return 0;
}

static const char *const g_dns[] = {"marble.example.com", "localhost"};
static const char *const g_ips[] = {"127.0.0.1", "::1", "10.1.2.3", "2001:db8::42"};
static const int g_eku[] = {CC_EKU_SERVER_AUTH, CC_EKU_CLIENT_AUTH};

static X509 *issue_leaf(EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, time_t nb, time_t na)
{
    static const uint8_t marble_type[] = "backend";
    struct cc_extension ext = {.oid = "1.3.9903.2.1", .value = marble_type, .value_len = 7, .critical = false};
    struct cc_cert_template t = {0};
    t.subject.common_name = "marble leaf";
    t.dns_names = g_dns;
    t.n_dns = 2;
    t.ip_addresses = g_ips;
    t.n_ips = 4;
    t.key_usage = CC_KU_DIGITAL_SIGNATURE | CC_KU_KEY_AGREEMENT;
    t.ext_key_usage = g_eku;
    t.n_eku = 2;
    t.is_ca = false;
    t.max_path_len = -1;
    t.not_before = nb;
    t.not_after = na;
    t.extensions = &ext;
    t.n_extensions = 1;
    X509 *x = NULL;
    struct cairn_error err = {0};
    if (cc_cert_issue(&t, key, issuer, issuer_key, &x, &err) != 0)
        fail_msg("leaf issue failed: %s", err.msg);
    return x;
}

static void sha1_of_key(X509 *x, uint8_t out[20])
{
    const unsigned char *pk = NULL;
    int pklen = 0;
    assert_int_equal(X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, X509_get_X509_PUBKEY(x)), 1);
    size_t n = 0;
    assert_int_equal(cc_digest("SHA1", pk, (size_t)pklen, out, &n), 0);
}

static void check_time(const ASN1_TIME *t, int type, int year, int mon, int mday)
{
    assert_int_equal(ASN1_STRING_type(t), type);
    struct tm tm;
    assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
    assert_int_equal(tm.tm_year + 1900, year);
    assert_int_equal(tm.tm_mon + 1, mon);
    assert_int_equal(tm.tm_mday, mday);
}

static void test_ca_fields(void **state)
{
    (void)state;
    assert_int_equal(X509_get_version(g_ca), X509_VERSION_3);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(g_ca), X509_get_issuer_name(g_ca)), 0);
    assert_int_equal(X509_verify(g_ca, g_ca_key), 1);
    assert_int_equal(X509_get_signature_nid(g_ca), NID_ecdsa_with_SHA384);
    assert_int_equal(X509_check_ca(g_ca), 1);
    uint32_t flags = X509_get_extension_flags(g_ca);
    assert_true(flags & EXFLAG_CA);
    assert_false(flags & EXFLAG_INVALID);
    assert_int_equal(X509_get_key_usage(g_ca), KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_int_equal(X509_get_pathlen(g_ca), -1);
    check_time(X509_get0_notAfter(g_ca), V_ASN1_GENERALIZEDTIME, 2262, 4, 11);
    uint8_t ski[20];
    sha1_of_key(g_ca, ski);
    const ASN1_OCTET_STRING *s = X509_get0_subject_key_id(g_ca);
    assert_non_null(s);
    assert_int_equal(ASN1_STRING_length(s), 20);
    assert_memory_equal(ASN1_STRING_get0_data(s), ski, 20);
    assert_null(X509_get0_authority_key_id(g_ca)); /* self-signed: no AKI, as in Go */
    /* subject: C, O, CN in Go's order */
    X509_NAME *n = X509_get_subject_name(g_ca);
    assert_int_equal(X509_NAME_entry_count(n), 3);
    assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, 0))), NID_countryName);
    assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, 1))), NID_organizationName);
    assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, 2))), NID_commonName);
    /* basicConstraints critical */
    int idx = X509_get_ext_by_NID(g_ca, NID_basic_constraints, -1);
    assert_true(idx >= 0);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(g_ca, idx)), 1);
    STACK_OF(X509) *roots = stack_of(g_ca);
    assert_int_equal(cc_chain_verify(g_ca, NULL, roots, NULL, 0, NULL), 0);
    sk_X509_free(roots);
}

static void test_leaf_fields_every_key_type(void **state)
{
    (void)state;
    STACK_OF(X509) *roots = stack_of(g_ca);
    for (size_t i = 0; i < N_TYPES; i++) {
        X509 *x = issue_leaf(g_keys[i], g_ca, g_ca_key, 0, T_2262);
        assert_int_equal(X509_get_version(x), X509_VERSION_3);
        /* signed by the P-384 CA with SHA-384 */
        assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA384);
        assert_int_equal(X509_verify(x, g_ca_key), 1);
        assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), g_keys[i]), 1);
        assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(g_ca)), 0);
        char cn[64];
        assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)), 11);
        assert_string_equal(cn, "marble leaf");

        /* serial: positive, non-zero, at most 128 bits */
        const ASN1_INTEGER *ser = X509_get0_serialNumber(x);
        BIGNUM *bn = ASN1_INTEGER_to_BN(ser, NULL);
        assert_false(BN_is_negative(bn));
        assert_false(BN_is_zero(bn));
        assert_true(BN_num_bits(bn) <= 128 && BN_num_bits(bn) > 64);
        BN_free(bn);

        /* validity: UTCTime now, GeneralizedTime 2262 */
        assert_int_equal(ASN1_STRING_type(X509_get0_notBefore(x)), V_ASN1_UTCTIME);
        check_time(X509_get0_notAfter(x), V_ASN1_GENERALIZEDTIME, 2262, 4, 11);
        assert_true(X509_cmp_time(X509_get0_notBefore(x), NULL) <= 0);

        /* KU, EKU, basic constraints */
        assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT);
        int kidx = X509_get_ext_by_NID(x, NID_key_usage, -1);
        assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, kidx)), 1);
        assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
        assert_int_equal(X509_check_ca(x), 0);
        BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
        assert_non_null(bc);
        assert_int_equal(bc->ca, 0);
        assert_null(bc->pathlen);
        BASIC_CONSTRAINTS_free(bc);

        /* SANs in order: DNS, DNS, then IPs as raw 4/16-byte addresses */
        GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
        assert_non_null(gens);
        assert_int_equal(sk_GENERAL_NAME_num(gens), 6);
        for (int g = 0; g < 2; g++) {
            int type = 0;
            ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, g), &type);
            assert_int_equal(type, GEN_DNS);
            assert_int_equal(ASN1_STRING_length(s), (int)strlen(g_dns[g]));
            assert_memory_equal(ASN1_STRING_get0_data(s), g_dns[g], strlen(g_dns[g]));
        }
        for (int g = 0; g < 4; g++) {
            int type = 0;
            ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, 2 + g), &type);
            assert_int_equal(type, GEN_IPADD);
            uint8_t a[16];
            int fam = strchr(g_ips[g], ':') ? AF_INET6 : AF_INET;
            assert_int_equal(inet_pton(fam, g_ips[g], a), 1);
            assert_int_equal(ASN1_STRING_length(s), fam == AF_INET ? 4 : 16);
            assert_memory_equal(ASN1_STRING_get0_data(s), a, fam == AF_INET ? 4 : 16);
        }
        GENERAL_NAMES_free(gens);
        assert_int_equal(X509_check_host(x, "marble.example.com", 0, 0, NULL), 1);
        assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
        assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
        assert_int_equal(X509_check_ip_asc(x, "127.0.0.2", 0), 0);

        /* custom extension: raw bytes, non-critical */
        ASN1_OBJECT *obj = OBJ_txt2obj("1.3.9903.2.1", 1);
        int cidx = X509_get_ext_by_OBJ(x, obj, -1);
        ASN1_OBJECT_free(obj);
        assert_true(cidx >= 0);
        X509_EXTENSION *ce = X509_get_ext(x, cidx);
        assert_int_equal(X509_EXTENSION_get_critical(ce), 0);
        ASN1_OCTET_STRING *cv = X509_EXTENSION_get_data(ce);
        assert_int_equal(ASN1_STRING_length(cv), 7);
        assert_memory_equal(ASN1_STRING_get0_data(cv), "backend", 7);

        /* SKI = SHA-1(public key), AKI = CA's SKI */
        uint8_t ski[20];
        sha1_of_key(x, ski);
        assert_memory_equal(ASN1_STRING_get0_data(X509_get0_subject_key_id(x)), ski, 20);
        const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
        assert_non_null(aki);
        assert_int_equal(ASN1_STRING_cmp(aki, X509_get0_subject_key_id(g_ca)), 0);

        /* verifies now and in 2200; DER and PEM round trip to an equal cert */
        struct cairn_error err = {0};
        assert_int_equal(cc_chain_verify(x, NULL, roots, NULL, 0, &err), 0);
        assert_int_equal(cc_chain_verify(x, NULL, roots, NULL, (time_t)7258118400LL, &err), 0);
        uint8_t *der = NULL;
        size_t der_len = 0;
        char *pem = NULL;
        size_t pem_len = 0;
        X509 *back = NULL;
        assert_int_equal(cc_cert_to_der(x, &der, &der_len), 0);
        assert_int_equal(cc_cert_from_der(der, der_len, &back, &err), 0);
        assert_true(cc_cert_equal(x, back));
        X509_free(back);
        assert_int_equal(cc_cert_to_pem(x, &pem, &pem_len), 0);
        assert_int_equal(cc_cert_from_pem(pem, pem_len, &back, &err), 0);
        assert_true(cc_cert_equal(x, back));
        X509_free(back);
        free(der);
        free(pem);

        /* a cert issued by another CA instance is not equal and does not verify */
        X509 *y = issue_leaf(g_keys[i], g_ca, g_ca_key, 0, T_2262);
        assert_false(cc_cert_equal(x, y)); /* fresh serial at least */
        assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(x), X509_get0_serialNumber(y)), 0);
        X509_free(y);
        X509_free(x);
    }
    sk_X509_free(roots);
}

/* Each key type as issuer too (self-signed CA of that type, leaf under it). */
static void test_issuer_key_types(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TYPES; i++) {
        X509 *ca = make_ca(g_keys[i], "typed CA", NULL, g_keys[i], 0);
        assert_int_equal(X509_get_signature_nid(ca), g_types[i].sig_nid);
        assert_int_equal(X509_get_pathlen(ca), 0);
        X509 *leaf = issue_leaf(g_keys[(i + 1) % N_TYPES], ca, g_keys[i], 0, 0);
        assert_int_equal(X509_get_signature_nid(leaf), g_types[i].sig_nid);
        /* not_after 0 = not_before + 365 days (UTCTime) */
        assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(leaf)), V_ASN1_UTCTIME);
        int days = 0, secs = 0;
        assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(leaf), X509_get0_notAfter(leaf)), 1);
        assert_int_equal(days, 365);
        assert_int_equal(secs, 0);
        STACK_OF(X509) *roots = stack_of(ca);
        struct cairn_error err = {0};
        assert_int_equal(cc_chain_verify(leaf, NULL, roots, NULL, 0, &err), 0);
        /* does not chain to the P-384 root */
        STACK_OF(X509) *other = stack_of(g_ca);
        assert_int_equal(cc_chain_verify(leaf, NULL, other, NULL, 0, &err), CAIRN_ERR_VERIFY);
        assert_non_null(strstr(err.msg, "depth"));
        sk_X509_free(other);
        sk_X509_free(roots);
        X509_free(leaf);
        X509_free(ca);
    }
}

static void test_issue_rejects(void **state)
{
    (void)state;
    struct cc_cert_template t = {0};
    t.max_path_len = -1;
    X509 *x = NULL;
    struct cairn_error err = {0};
    /* self-signed with a different issuer key */
    assert_int_equal(cc_cert_issue(&t, g_keys[0], NULL, g_ca_key, &x, &err), CAIRN_ERR_INVALID);
    /* issuer key does not match issuer cert */
    assert_int_equal(cc_cert_issue(&t, g_keys[0], g_ca, g_keys[1], &x, &err), CAIRN_ERR_INVALID);
    /* bad country (must be 2 letters) */
    t.subject.country = "DEU";
    assert_int_equal(cc_cert_issue(&t, g_keys[0], g_ca, g_ca_key, &x, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "country"));
    t.subject.country = NULL;
    const char *bad_ip[] = {"300.1.1.1"};
    t.ip_addresses = bad_ip;
    t.n_ips = 1;
    assert_int_equal(cc_cert_issue(&t, g_keys[0], g_ca, g_ca_key, &x, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "ip_addresses[0]"));
    t.n_ips = 0;
    const int bad_eku[] = {CC_EKU_SERVER_AUTH, 42};
    t.ext_key_usage = bad_eku;
    t.n_eku = 2;
    assert_int_equal(cc_cert_issue(&t, g_keys[0], g_ca, g_ca_key, &x, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "ext_key_usage[1]"));
    t.n_eku = 0;
    t.key_usage = 1u << 9;
    assert_int_equal(cc_cert_issue(&t, g_keys[0], g_ca, g_ca_key, &x, &err), CAIRN_ERR_INVALID);
    t.key_usage = 0;
    struct cc_extension dup[2] = {{.oid = "1.2.3.4", .value = (const uint8_t *)"a", .value_len = 1},
                                  {.oid = "1.2.3.4", .value = (const uint8_t *)"b", .value_len = 1}};
    t.extensions = dup;
    t.n_extensions = 2;
    assert_int_equal(cc_cert_issue(&t, g_keys[0], g_ca, g_ca_key, &x, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "duplicate"));
    dup[0].oid = "not.an.oid";
    t.n_extensions = 1;
    assert_int_equal(cc_cert_issue(&t, g_keys[0], g_ca, g_ca_key, &x, &err), CAIRN_ERR_INVALID);
    t.n_extensions = 0;
    t.not_before = 2000000000;
    t.not_after = 1000000000;
    assert_int_equal(cc_cert_issue(&t, g_keys[0], g_ca, g_ca_key, &x, &err), CAIRN_ERR_INVALID);
    assert_null(x);
    /* empty subject: allowed, SAN then critical */
    t.not_before = t.not_after = 0;
    const char *dns[] = {"only.san"};
    t.dns_names = dns;
    t.n_dns = 1;
    assert_int_equal(cc_cert_issue(&t, g_keys[0], g_ca, g_ca_key, &x, &err), 0);
    int idx = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
    assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, idx)), 1);
    X509_free(x);
}

static void test_intermediate_chain(void **state)
{
    (void)state;
    EVP_PKEY *ik = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &ik, NULL), 0);
    X509 *inter = make_ca(ik, "Cairn Intermediate", g_ca, g_ca_key, 0);
    assert_int_equal(ASN1_STRING_cmp(X509_get0_authority_key_id(inter), X509_get0_subject_key_id(g_ca)), 0);
    X509 *leaf = issue_leaf(g_keys[0], inter, ik, 0, T_2262);
    STACK_OF(X509) *roots = stack_of(g_ca);
    STACK_OF(X509) *inters = stack_of(inter);
    struct cairn_error err = {0};
    assert_int_equal(cc_chain_verify(leaf, inters, roots, NULL, 0, &err), 0);
    /* without the intermediate it does not chain */
    assert_int_equal(cc_chain_verify(leaf, NULL, roots, NULL, 0, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "unable to get local issuer certificate"));
    /* the intermediate as trust anchor (partial chain) */
    assert_int_equal(cc_chain_verify(leaf, NULL, inters, NULL, 0, &err), 0);
    /* pathlen 0 intermediate cannot issue another CA that issues a leaf */
    EVP_PKEY *ik2 = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &ik2, NULL), 0);
    X509 *inter2 = make_ca(ik2, "Too Deep", inter, ik, -1);
    X509 *leaf2 = issue_leaf(g_keys[1], inter2, ik2, 0, T_2262);
    sk_X509_push(inters, inter2);
    assert_int_equal(cc_chain_verify(leaf2, inters, roots, NULL, 0, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "path length"));
    X509_free(leaf2);
    X509_free(inter2);
    EVP_PKEY_free(ik2);
    sk_X509_free(inters);
    sk_X509_free(roots);
    X509_free(leaf);
    X509_free(inter);
    EVP_PKEY_free(ik);
}

/* openssl verify (the CLI) independently accepts our chain. */
static void test_cli_verify(void **state)
{
    (void)state;
    if (system("command -v openssl >/dev/null 2>&1") != 0)
        skip();
    char dir[] = "/tmp/cc_x509_XXXXXX";
    assert_non_null(mkdtemp(dir));
    X509 *leaf = issue_leaf(g_keys[3], g_ca, g_ca_key, 0, T_2262);
    X509 *certs[2] = {g_ca, leaf};
    const char *names[2] = {"ca.pem", "leaf.pem"};
    for (int i = 0; i < 2; i++) {
        char *pem = NULL;
        size_t pem_len = 0;
        assert_int_equal(cc_cert_to_pem(certs[i], &pem, &pem_len), 0);
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        assert_int_equal(cairn_file_write_atomic(path, pem, pem_len, 0600), 0);
        free(pem);
    }
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "openssl verify -x509_strict -CAfile %s/ca.pem %s/leaf.pem >/dev/null 2>&1", dir,
             dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile %s/leaf.pem %s/ca.pem >/dev/null 2>&1", dir, dir);
    assert_int_not_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    X509_free(leaf);
}

static void test_validity_window(void **state)
{
    (void)state;
    const time_t T = 1700000000; /* 2023-11-14 */
    X509 *x = issue_leaf(g_keys[0], g_ca, g_ca_key, T, T + 1000);
    STACK_OF(X509) *roots = stack_of(g_ca);
    struct cairn_error err = {0};
    assert_int_equal(cc_chain_verify(x, NULL, roots, NULL, T + 500, &err), 0);
    assert_int_equal(cc_chain_verify(x, NULL, roots, NULL, T + 2000, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "certificate has expired"));
    assert_non_null(strstr(err.msg, "marble leaf"));
    assert_int_equal(cc_chain_verify(x, NULL, roots, NULL, T - 10, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "not yet valid"));
    /* now (2026+) it is expired too */
    assert_int_equal(cc_chain_verify(x, NULL, roots, NULL, 0, &err), CAIRN_ERR_EXPIRED);
    sk_X509_free(roots);
    X509_free(x);
}

/* A CRL built with plain OpenSSL, signed by `key` as `issuer`. */
static X509_CRL *make_crl(X509 *issuer, EVP_PKEY *key, const ASN1_INTEGER *revoked_serial, time_t last,
                          time_t next)
{
    X509_CRL *crl = X509_CRL_new();
    assert_non_null(crl);
    assert_int_equal(X509_CRL_set_version(crl, 1), 1);
    assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), 1);
    ASN1_TIME *lu = ASN1_TIME_set(NULL, last), *nu = ASN1_TIME_set(NULL, next);
    assert_int_equal(X509_CRL_set1_lastUpdate(crl, lu), 1);
    assert_int_equal(X509_CRL_set1_nextUpdate(crl, nu), 1);
    if (revoked_serial != NULL) {
        X509_REVOKED *r = X509_REVOKED_new();
        assert_int_equal(X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)revoked_serial), 1);
        assert_int_equal(X509_REVOKED_set_revocationDate(r, lu), 1);
        assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
    }
    ASN1_TIME_free(lu);
    ASN1_TIME_free(nu);
    assert_int_equal(X509_CRL_sort(crl), 1);
    assert_true(X509_CRL_sign(crl, key, EVP_sha384()) > 0);
    return crl;
}

/* Round-trips a CRL through DER and PEM with cc_crl_from_der_or_pem. */
static X509_CRL *crl_roundtrip(X509_CRL *crl)
{
    uint8_t *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    assert_true(n > 0);
    X509_CRL *a = NULL, *b = NULL;
    struct cairn_error err = {0};
    assert_int_equal(cc_crl_from_der_or_pem(der, (size_t)n, &a, &err), 0);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509_CRL(bio, crl), 1);
    char *mem = NULL;
    long ml = BIO_get_mem_data(bio, &mem);
    assert_int_equal(cc_crl_from_der_or_pem((const uint8_t *)mem, (size_t)ml, &b, &err), 0);
    assert_int_equal(X509_CRL_cmp(a, b), 0);
    uint8_t *der2 = NULL;
    assert_int_equal(i2d_X509_CRL(b, &der2), n);
    assert_memory_equal(der, der2, (size_t)n);
    OPENSSL_free(der);
    OPENSSL_free(der2);
    BIO_free(bio);
    X509_CRL_free(a);
    return b;
}

static void test_crl_revocation(void **state)
{
    (void)state;
    const time_t now = time(NULL);
    X509 *leaf = issue_leaf(g_keys[0], g_ca, g_ca_key, 0, T_2262);
    X509 *other = issue_leaf(g_keys[1], g_ca, g_ca_key, 0, T_2262);
    STACK_OF(X509) *roots = stack_of(g_ca);
    struct cairn_error err = {0};

    X509_CRL *crl0 = make_crl(g_ca, g_ca_key, X509_get0_serialNumber(leaf), now - 3600, now + 86400);
    X509_CRL *crl = crl_roundtrip(crl0);
    X509_CRL_free(crl0);
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, crl);
    assert_int_equal(cc_chain_verify(leaf, NULL, roots, crls, 0, &err), CAIRN_ERR_REVOKED);
    assert_non_null(strstr(err.msg, "revoked"));
    /* a cert not on the CRL passes */
    assert_int_equal(cc_chain_verify(other, NULL, roots, crls, 0, &err), 0);
    /* without CRLs the revoked cert passes (revocation needs the CRL) */
    assert_int_equal(cc_chain_verify(leaf, NULL, roots, NULL, 0, &err), 0);
    /* the CRL is outside its validity a week later */
    assert_int_equal(cc_chain_verify(other, NULL, roots, crls, now + 7 * 86400, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "CRL"));
    /* a CRL signed by the wrong key */
    X509_CRL *forged = make_crl(g_ca, g_keys[1], NULL, now - 3600, now + 86400);
    STACK_OF(X509_CRL) *fcrls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(fcrls, forged);
    assert_int_equal(cc_chain_verify(other, NULL, roots, fcrls, 0, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "CRL signature"));
    sk_X509_CRL_pop_free(fcrls, X509_CRL_free);
    /* an intermediate without a CRL: every issuer in the path needs one */
    EVP_PKEY *ik = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &ik, NULL), 0);
    X509 *inter = make_ca(ik, "CRL Intermediate", g_ca, g_ca_key, 0);
    X509 *leaf2 = issue_leaf(g_keys[2], inter, ik, 0, T_2262);
    STACK_OF(X509) *inters = stack_of(inter);
    assert_int_equal(cc_chain_verify(leaf2, inters, roots, crls, 0, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "unable to get certificate CRL"));
    /* revoking the intermediate at the root revokes the path */
    X509_CRL *icrl = make_crl(inter, ik, NULL, now - 3600, now + 86400);
    X509_CRL *rcrl = make_crl(g_ca, g_ca_key, X509_get0_serialNumber(inter), now - 3600, now + 86400);
    STACK_OF(X509_CRL) *crls2 = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls2, icrl);
    sk_X509_CRL_push(crls2, rcrl);
    assert_int_equal(cc_chain_verify(leaf2, inters, roots, crls2, 0, &err), CAIRN_ERR_REVOKED);
    sk_X509_CRL_pop_free(crls2, X509_CRL_free);
    sk_X509_free(inters);
    X509_free(leaf2);
    X509_free(inter);
    EVP_PKEY_free(ik);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    sk_X509_free(roots);
    X509_free(leaf);
    X509_free(other);
}

/* ---- CSR --------------------------------------------------------------------- */

static void test_csr_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TYPES; i++) {
        X509_REQ *req = NULL;
        struct cairn_error err = {0};
        assert_int_equal(cc_csr_create(g_keys[i], "marble-uuid", g_dns, 2, g_ips, 4, &req, &err), 0);
        char *pem = NULL;
        size_t pem_len = 0;
        uint8_t *der = NULL;
        size_t der_len = 0;
        assert_int_equal(cc_csr_to_pem(req, &pem, &pem_len), 0);
        assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE REQUEST-----"));
        assert_int_equal(cc_csr_to_der(req, &der, &der_len), 0);
        X509_REQ *a = NULL, *b = NULL;
        assert_int_equal(cc_csr_parse_verify((const uint8_t *)pem, pem_len, &a, &err), 0);
        assert_int_equal(cc_csr_parse_verify(der, der_len, &b, &err), 0);
        assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(a), g_keys[i]), 1);
        char cn[64];
        assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(b), NID_commonName, cn, sizeof(cn)) > 0);
        assert_string_equal(cn, "marble-uuid");
        char **dns = NULL, **ips = NULL;
        size_t n_dns = 0, n_ips = 0;
        assert_int_equal(cc_csr_get_sans(b, &dns, &n_dns, &ips, &n_ips), 0);
        assert_int_equal(n_dns, 2);
        assert_int_equal(n_ips, 4);
        for (size_t j = 0; j < 2; j++)
            assert_string_equal(dns[j], g_dns[j]);
        for (size_t j = 0; j < 4; j++)
            assert_string_equal(ips[j], g_ips[j]);
        for (size_t j = 0; j < n_dns; j++)
            free(dns[j]);
        free(dns);
        for (size_t j = 0; j < n_ips; j++)
            free(ips[j]);
        free(ips);

        /* the Coordinator flow: issue a leaf for the CSR's key */
        struct cc_cert_template t = {.max_path_len = -1};
        t.subject.common_name = "from csr";
        X509 *x = NULL;
        assert_int_equal(cc_cert_issue(&t, X509_REQ_get0_pubkey(b), g_ca, g_ca_key, &x, &err), 0);
        assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), g_keys[i]), 1);
        X509_free(x);

        /* every single-byte change to the DER is rejected */
        for (size_t k = 0; k < der_len; k++) {
            der[k] ^= 0x5a;
            X509_REQ *bad = NULL;
            struct cairn_error e2 = {0};
            int rc = cc_csr_parse_verify(der, der_len, &bad, &e2);
            if (rc == 0)
                fail_msg("%s: CSR with byte %zu changed accepted", g_types[i].name, k);
            assert_null(bad);
            assert_true(e2.msg[0] != '\0');
            der[k] ^= 0x5a;
        }
        /* truncation and trailing data */
        X509_REQ *bad = NULL;
        assert_int_not_equal(cc_csr_parse_verify(der, der_len - 1, &bad, &err), 0);
        uint8_t *longer = malloc(der_len + 2);
        memcpy(longer, der, der_len);
        longer[der_len] = 0;
        longer[der_len + 1] = 0;
        assert_int_equal(cc_csr_parse_verify(longer, der_len + 2, &bad, &err), CAIRN_ERR_TRAILING);
        free(longer);
        assert_null(bad);
        X509_REQ_free(a);
        X509_REQ_free(b);
        X509_REQ_free(req);
        free(pem);
        free(der);
    }
}

/* A CSR whose signature byte is changed but whose structure parses gives VERIFY. */
static void test_csr_tampered_signature(void **state)
{
    (void)state;
    X509_REQ *req = NULL;
    assert_int_equal(cc_csr_create(g_keys[4], "rsa", NULL, 0, NULL, 0, &req, NULL), 0);
    uint8_t *der = NULL;
    size_t der_len = 0;
    assert_int_equal(cc_csr_to_der(req, &der, &der_len), 0);
    der[der_len - 5] ^= 1; /* inside the RSA signature value */
    X509_REQ *bad = NULL;
    struct cairn_error err = {0};
    assert_int_equal(cc_csr_parse_verify(der, der_len, &bad, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "self-signature"));
    /* no SANs: empty lists */
    char **dns = (char **)1, **ips = (char **)1;
    size_t n_dns = 9, n_ips = 9;
    assert_int_equal(cc_csr_get_sans(req, &dns, &n_dns, &ips, &n_ips), 0);
    assert_int_equal(n_dns, 0);
    assert_int_equal(n_ips, 0);
    assert_null(dns);
    assert_null(ips);
    free(der);
    X509_REQ_free(req);
    /* a CSR made by the openssl CLI parses and verifies */
    if (system("command -v openssl >/dev/null 2>&1") == 0) {
        FILE *p = popen("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null "
                        "-subj /CN=cli -addext subjectAltName=DNS:cli.example,IP:192.0.2.1 2>/dev/null",
                        "r");
        assert_non_null(p);
        char buf[4096];
        size_t n = fread(buf, 1, sizeof(buf), p);
        assert_int_equal(pclose(p), 0);
        X509_REQ *cli = NULL;
        assert_int_equal(cc_csr_parse_verify((const uint8_t *)buf, n, &cli, &err), 0);
        assert_int_equal(cc_csr_get_sans(cli, &dns, &n_dns, &ips, &n_ips), 0);
        assert_int_equal(n_dns, 1);
        assert_int_equal(n_ips, 1);
        assert_string_equal(dns[0], "cli.example");
        assert_string_equal(ips[0], "192.0.2.1");
        free(dns[0]);
        free(dns);
        free(ips[0]);
        free(ips);
        X509_REQ_free(cli);
    }
}

/* ---- garbage ----------------------------------------------------------------- */

static void free_sk(STACK_OF(X509) *sk)
{
    sk_X509_pop_free(sk, X509_free);
}

static void free_crl(X509_CRL *c)
{
    X509_CRL_free(c);
}

/* Runs every parser on p[0..n). A rejection must leave the output NULL and
 * give a message. Returns how many parsers accepted the input. */
static int parse_all(const uint8_t *p, size_t n)
{
    struct cairn_error err;
    int accepted = 0;
#define TRY(call, out, freefn)                                                      \
    do {                                                                            \
        cairn_error_clear(&err);                                                    \
        out = NULL;                                                                 \
        if ((call) == 0) {                                                          \
            accepted++;                                                             \
            freefn(out);                                                            \
        } else {                                                                    \
            assert_null(out);                                                       \
            if (err.msg[0] == '\0')                                                 \
                fail_msg("%s rejected without a message", #call);                   \
        }                                                                           \
    } while (0)
    X509 *x;
    STACK_OF(X509) *sk;
    X509_REQ *r;
    X509_CRL *c;
    EVP_PKEY *k;
    TRY(cc_cert_from_der(p, n, &x, &err), x, X509_free);
    TRY(cc_cert_from_pem((const char *)p, n, &x, &err), x, X509_free);
    TRY(cc_certs_from_pem((const char *)p, n, &sk, &err), sk, free_sk);
    TRY(cc_csr_parse_verify(p, n, &r, &err), r, X509_REQ_free);
    TRY(cc_crl_from_der_or_pem(p, n, &c, &err), c, free_crl);
    TRY(cc_key_from_der(p, n, &k, &err), k, EVP_PKEY_free);
    TRY(cc_key_from_pem((const char *)p, n, &k, &err), k, EVP_PKEY_free);
    TRY(cc_pubkey_from_der(p, n, &k, &err), k, EVP_PKEY_free);
    TRY(cc_pubkey_from_pem((const char *)p, n, &k, &err), k, EVP_PKEY_free);
#undef TRY
    /* documented: no stale OpenSSL errors are left for other modules */
    assert_int_equal(ERR_peek_error(), 0);
    return accepted;
}

static void test_garbage_inputs(void **state)
{
    (void)state;
    const char *texts[] = {
        "",
        "x",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nMIIB\n",
        "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\n"
        "AAAA\n-----END RSA PRIVATE KEY-----\n",
        "-----BEGIN X509 CRL-----\nMAMCAQA=\n-----END X509 CRL-----\n",
        "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n",
        "-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----\n",
        "-----BEGIN ",
        "\x30\x82\xff\xff",
        "\x30\x80\x00\x00",
        "\x30\x03\x02\x01\x00",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        size_t n = strlen(texts[i]);
        if (i == 12)
            n = 4;
        assert_int_equal(parse_all((const uint8_t *)texts[i], n), 0);
    }
    /* NULL input */
    assert_int_equal(parse_all(NULL, 0), 0);
    /* random bytes */
    uint8_t rnd[2048];
    for (int round = 0; round < 50; round++) {
        cc_random(rnd, sizeof(rnd));
        assert_int_equal(parse_all(rnd, (size_t)(round * 37) % sizeof(rnd) + 1), 0);
    }
}

/* Truncations, trailing bytes and byte flips of a valid certificate, CRL and
 * key: every truncation and trailing byte is rejected, and no mutation crashes
 * or leaks (checked under ASan). */
static void test_mutations(void **state)
{
    (void)state;
    X509 *leaf = issue_leaf(g_keys[0], g_ca, g_ca_key, 0, T_2262);
    uint8_t *der = NULL;
    size_t der_len = 0;
    assert_int_equal(cc_cert_to_der(leaf, &der, &der_len), 0);
    X509_CRL *crl = make_crl(g_ca, g_ca_key, X509_get0_serialNumber(leaf), time(NULL), time(NULL) + 60);
    uint8_t *crl_der = NULL;
    int crl_len = i2d_X509_CRL(crl, &crl_der);
    uint8_t *key_der = NULL;
    size_t key_len = 0;
    assert_int_equal(cc_key_to_pkcs8_der(g_keys[0], &key_der, &key_len), 0);
    struct {
        uint8_t *p;
        size_t n;
    } items[] = {{der, der_len}, {crl_der, (size_t)crl_len}, {key_der, key_len}};
    for (size_t it = 0; it < 3; it++) {
        uint8_t *p = items[it].p;
        size_t n = items[it].n;
        assert_int_equal(parse_all(p, n), 1); /* exactly one parser accepts the original */
        for (size_t l = 1; l < n; l++)
            assert_int_equal(parse_all(p, l), 0);
        uint8_t *longer = malloc(n + 1);
        memcpy(longer, p, n);
        longer[n] = 0x00;
        assert_int_equal(parse_all(longer, n + 1), 0);
        free(longer);
        for (size_t k = 0; k < n; k++) {
            p[k] ^= 0xff;
            (void)parse_all(p, n);
            p[k] ^= 0xff;
        }
    }
    /* a certificate with a flipped signature byte parses but does not verify */
    der[der_len - 3] ^= 1;
    X509 *bad = NULL;
    struct cairn_error err = {0};
    assert_int_equal(cc_cert_from_der(der, der_len, &bad, &err), 0);
    STACK_OF(X509) *roots = stack_of(g_ca);
    assert_int_equal(cc_chain_verify(bad, NULL, roots, NULL, 0, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "signature"));
    sk_X509_free(roots);
    X509_free(bad);
    cc_free_secret(key_der, key_len);
    OPENSSL_free(crl_der);
    X509_CRL_free(crl);
    free(der);
    X509_free(leaf);
}

static void test_pem_multi(void **state)
{
    (void)state;
    char *a = NULL, *b = NULL, *kp = NULL;
    size_t al = 0, bl = 0, kl = 0;
    X509 *leaf = issue_leaf(g_keys[1], g_ca, g_ca_key, 0, T_2262);
    assert_int_equal(cc_cert_to_pem(leaf, &a, &al), 0);
    assert_int_equal(cc_cert_to_pem(g_ca, &b, &bl), 0);
    assert_int_equal(cc_pubkey_to_spki_pem(g_keys[1], &kp, &kl), 0);
    /* key block first, text between blocks, then leaf and CA */
    size_t total = kl + 20 + al + bl;
    char *all = malloc(total + 1);
    snprintf(all, total + 1, "%s# a comment line\n%s%s", kp, a, b);
    size_t n = strlen(all);
    STACK_OF(X509) *sk = NULL;
    struct cairn_error err = {0};
    assert_int_equal(cc_certs_from_pem(all, n, &sk, &err), 0);
    assert_int_equal(sk_X509_num(sk), 2);
    assert_true(cc_cert_equal(sk_X509_value(sk, 0), leaf));
    assert_true(cc_cert_equal(sk_X509_value(sk, 1), g_ca));
    sk_X509_pop_free(sk, X509_free);
    X509 *first = NULL;
    assert_int_equal(cc_cert_from_pem(all, n, &first, &err), 0);
    assert_true(cc_cert_equal(first, leaf));
    X509_free(first);
    /* a broken second block fails the whole list, naming the block */
    char *broken = strdup(all);
    char *second = strstr(strstr(broken, "BEGIN CERTIFICATE") + 1, "BEGIN CERTIFICATE");
    second[40] = '!'; /* not base64 */
    sk = NULL;
    int rc = cc_certs_from_pem(broken, n, &sk, &err);
    assert_int_equal(rc, CAIRN_ERR_INVALID);
    assert_null(sk);
    assert_non_null(strstr(err.msg, "PEM"));
    free(broken);
    free(all);
    free(a);
    free(b);
    free(kp);
    X509_free(leaf);
}

/* ---- real-world certificates (CAIRN_SHARED_DIR) --------------------------------- */

static uint8_t *read_shared(const char *rel, size_t *len)
{
    const char *dir = getenv("CAIRN_SHARED_DIR");
    if (dir == NULL)
        return NULL;
    char path[1024];
    snprintf(path, sizeof(path), "%s/testvectors/roots/%s", dir, rel);
    uint8_t *p = NULL;
    if (cairn_file_read(path, 1 << 20, &p, len) != 0)
        return NULL;
    return p;
}

static void test_real_world_roots(void **state)
{
    (void)state;
    size_t l1, l2, l3, l4, l5;
    uint8_t *sgx_der = read_shared("intel_sgx_root_ca.der", &l1);
    uint8_t *sgx_pem = read_shared("intel_sgx_root_ca.pem", &l2);
    uint8_t *ark_pem = read_shared("amd_milan_ark.pem", &l3);
    uint8_t *ask_pem = read_shared("amd_milan_ask.pem", &l4);
    uint8_t *crl_der = read_shared("amd_milan_crl_2022-05-09.der", &l5);
    if (!sgx_der || !sgx_pem || !ark_pem || !ask_pem || !crl_der) {
        free(sgx_der);
        free(sgx_pem);
        free(ark_pem);
        free(ask_pem);
        free(crl_der);
        print_message("CAIRN_SHARED_DIR testvectors/roots not available, skipping\n");
        skip();
    }
    struct cairn_error err = {0};
    X509 *a = NULL, *b = NULL, *ark = NULL, *ask = NULL;
    X509_CRL *crl = NULL;
    assert_int_equal(cc_cert_from_der(sgx_der, l1, &a, &err), 0);
    assert_int_equal(cc_cert_from_pem((const char *)sgx_pem, l2, &b, &err), 0);
    assert_true(cc_cert_equal(a, b));
    uint8_t fp[32];
    cc_sha256(sgx_der, l1, fp);
    assert_int_equal(fp[0], 0x44);
    assert_int_equal(fp[1], 0xa0);
    STACK_OF(X509) *sroots = stack_of(a);
    assert_int_equal(cc_chain_verify(b, NULL, sroots, NULL, 1689120000, &err), 0);
    assert_int_equal(cc_chain_verify(b, NULL, sroots, NULL, (time_t)2524608000LL, &err), CAIRN_ERR_EXPIRED);
    sk_X509_free(sroots);

    /* AMD Milan: ASK <- ARK, RSA-PSS SHA-384, checked against AMD's CRL */
    assert_int_equal(cc_cert_from_pem((const char *)ark_pem, l3, &ark, &err), 0);
    assert_int_equal(cc_cert_from_pem((const char *)ask_pem, l4, &ask, &err), 0);
    assert_int_equal(cc_crl_from_der_or_pem(crl_der, l5, &crl, &err), 0);
    STACK_OF(X509) *roots = stack_of(ark);
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, crl);
    time_t in_crl_window = 0, after_crl = 0;
    assert_int_equal(cc_time_parse_rfc3339("2022-06-01T00:00:00Z", &in_crl_window), 0);
    assert_int_equal(cc_time_parse_rfc3339("2023-06-01T00:00:00Z", &after_crl), 0);
    assert_int_equal(cc_chain_verify(ask, NULL, roots, NULL, in_crl_window, &err), 0);
    assert_int_equal(cc_chain_verify(ask, NULL, roots, crls, in_crl_window, &err), 0);
    assert_int_equal(cc_chain_verify(ask, NULL, roots, crls, after_crl, &err), CAIRN_ERR_EXPIRED);
    /* the ASK is not a root of the ARK */
    STACK_OF(X509) *wrong = stack_of(ask);
    assert_int_equal(cc_chain_verify(ark, NULL, wrong, NULL, in_crl_window, &err), CAIRN_ERR_VERIFY);
    sk_X509_free(wrong);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    sk_X509_free(roots);
    X509_free(a);
    X509_free(b);
    X509_free(ark);
    X509_free(ask);
    free(sgx_der);
    free(sgx_pem);
    free(ark_pem);
    free(ask_pem);
    free(crl_der);
}

/* UTCTime through 2049-12-31T23:59:59Z, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
static void test_time_encoding_boundary(void **state)
{
    (void)state;
    time_t last_utc = 0, first_gen = 0;
    assert_int_equal(cc_time_parse_rfc3339("2049-12-31T23:59:59Z", &last_utc), 0);
    assert_int_equal(cc_time_parse_rfc3339("2050-01-01T00:00:00Z", &first_gen), 0);
    X509 *a = issue_leaf(g_keys[0], g_ca, g_ca_key, 0, last_utc);
    X509 *b = issue_leaf(g_keys[0], g_ca, g_ca_key, 0, first_gen);
    check_time(X509_get0_notAfter(a), V_ASN1_UTCTIME, 2049, 12, 31);
    check_time(X509_get0_notAfter(b), V_ASN1_GENERALIZEDTIME, 2050, 1, 1);
    STACK_OF(X509) *roots = stack_of(g_ca);
    /* OpenSSL counts the notAfter second itself as expired (Go does not):
     * check one second either side. */
    assert_int_equal(cc_chain_verify(a, NULL, roots, NULL, last_utc - 1, NULL), 0);
    assert_int_equal(cc_chain_verify(a, NULL, roots, NULL, last_utc + 1, NULL), CAIRN_ERR_EXPIRED);
    assert_int_equal(cc_chain_verify(b, NULL, roots, NULL, first_gen - 1, NULL), 0);
    assert_int_equal(cc_chain_verify(b, NULL, roots, NULL, first_gen + 1, NULL), CAIRN_ERR_EXPIRED);
    /* and the 2262 leaf is valid one second before its end, expired one after */
    X509 *c = issue_leaf(g_keys[0], g_ca, g_ca_key, 0, T_2262);
    assert_int_equal(cc_chain_verify(c, NULL, roots, NULL, T_2262 - 1, NULL), 0);
    assert_int_equal(cc_chain_verify(c, NULL, roots, NULL, T_2262 + 1, NULL), CAIRN_ERR_EXPIRED);
    sk_X509_free(roots);
    X509_free(a);
    X509_free(b);
    X509_free(c);
}

/* Every shared root/intermediate file parses (DER one cert, PEM lists). */
static void test_real_world_all_files(void **state)
{
    (void)state;
    static const char *const der_files[] = {
        "gce_ek_ak_ca_intermediate_v3.der", "gce_ek_ak_ca_root.der", "gce_tpm_ek_intermediate_2.der",
        "gce_tpm_ek_intermediate_3.der", "gce_tpm_ek_root_1.der", "intel_sgx_root_ca.der",
    };
    static const struct {
        const char *name;
        int n;
    } pem_files[] = {
        {"amd_genoa_ark.pem", 1}, {"amd_genoa_ask.pem", 1}, {"amd_genoa_ask_ark_asvk.pem", 3},
        {"amd_milan_ask_ark_asvk.pem", 3}, {"amd_turin_ask_ark_asvk.pem", 3},
        {"amd_milan_vcek_cert_chain.gosev.pem", 2}, {"amd_turin_vlek_cert_chain.gosev.pem", 2},
    };
    size_t len = 0;
    uint8_t *probe = read_shared("intel_sgx_root_ca.der", &len);
    if (probe == NULL) {
        print_message("CAIRN_SHARED_DIR testvectors/roots not available, skipping\n");
        skip();
    }
    free(probe);
    struct cairn_error err = {0};
    for (size_t i = 0; i < sizeof(der_files) / sizeof(der_files[0]); i++) {
        uint8_t *p = read_shared(der_files[i], &len);
        assert_non_null(p);
        X509 *x = NULL;
        if (cc_cert_from_der(p, len, &x, &err) != 0)
            fail_msg("%s: %s", der_files[i], err.msg);
        /* re-encoding gives the exact input bytes */
        uint8_t *der = NULL;
        size_t dl = 0;
        assert_int_equal(cc_cert_to_der(x, &der, &dl), 0);
        assert_int_equal(dl, len);
        assert_memory_equal(der, p, len);
        free(der);
        X509_free(x);
        free(p);
    }
    for (size_t i = 0; i < sizeof(pem_files) / sizeof(pem_files[0]); i++) {
        uint8_t *p = read_shared(pem_files[i].name, &len);
        assert_non_null(p);
        STACK_OF(X509) *sk = NULL;
        if (cc_certs_from_pem((const char *)p, len, &sk, &err) != 0)
            fail_msg("%s: %s", pem_files[i].name, err.msg);
        assert_int_equal(sk_X509_num(sk), pem_files[i].n);
        sk_X509_pop_free(sk, X509_free);
        free(p);
    }
    /* GCE: intermediate 2 chains to root 1 */
    uint8_t *r = read_shared("gce_tpm_ek_root_1.der", &len);
    X509 *root = NULL, *inter = NULL;
    assert_int_equal(cc_cert_from_der(r, len, &root, &err), 0);
    free(r);
    r = read_shared("gce_tpm_ek_intermediate_2.der", &len);
    assert_int_equal(cc_cert_from_der(r, len, &inter, &err), 0);
    free(r);
    STACK_OF(X509) *roots = stack_of(root);
    time_t t = 0;
    assert_int_equal(cc_time_parse_rfc3339("2024-01-01T00:00:00Z", &t), 0);
    if (cc_chain_verify(inter, NULL, roots, NULL, t, &err) != 0)
        fail_msg("GCE intermediate 2 -> root 1: %s", err.msg);
    sk_X509_free(roots);
    X509_free(root);
    X509_free(inter);
}

static uint8_t *read_shared_any(const char *rel, size_t *len)
{
    const char *dir = getenv("CAIRN_SHARED_DIR");
    if (dir == NULL)
        return NULL;
    char path[1024];
    snprintf(path, sizeof(path), "%s/testvectors/%s", dir, rel);
    uint8_t *p = NULL;
    if (cairn_file_read(path, 1 << 22, &p, len) != 0)
        return NULL;
    return p;
}

static X509_CRL *load_crl(const char *rel)
{
    size_t len = 0;
    uint8_t *p = read_shared_any(rel, &len);
    assert_non_null(p);
    X509_CRL *crl = NULL;
    struct cairn_error err = {0};
    if (cc_crl_from_der_or_pem(p, len, &crl, &err) != 0)
        fail_msg("%s: %s", rel, err.msg);
    free(p);
    return crl;
}

/* A real Intel PCK chain (from the certification data of a real quote: PCK
 * leaf, PCK Platform CA, root) against the Intel SGX Root CA and Intel's
 * CRLs of that time. */
static void test_real_world_sgx_pck_chain(void **state)
{
    (void)state;
    size_t qlen = 0, rlen = 0;
    uint8_t *q = read_shared_any("sgx/steward_icelake_xeon_quote.dat", &qlen);
    uint8_t *r = read_shared_any("roots/intel_sgx_root_ca.der", &rlen);
    if (q == NULL || r == NULL) {
        free(q);
        free(r);
        print_message("CAIRN_SHARED_DIR testvectors not available, skipping\n");
        skip();
    }
    const uint8_t *pem = memmem(q, qlen, "-----BEGIN", 10);
    assert_non_null(pem);
    struct cairn_error err = {0};
    STACK_OF(X509) *chain = NULL;
    assert_int_equal(cc_certs_from_pem((const char *)pem, qlen - (size_t)(pem - q), &chain, &err), 0);
    assert_int_equal(sk_X509_num(chain), 3);
    X509 *root = NULL;
    assert_int_equal(cc_cert_from_der(r, rlen, &root, &err), 0);
    assert_true(cc_cert_equal(sk_X509_value(chain, 2), root));
    X509 *leaf = sk_X509_value(chain, 0);
    STACK_OF(X509) *inters = stack_of(sk_X509_value(chain, 1));
    STACK_OF(X509) *roots = stack_of(root);
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, load_crl("sgx/steward_icelake_xeon_pckcrl_platform.der"));
    sk_X509_CRL_push(crls, load_crl("sgx/steward_icelake_xeon_rootca_crl.der"));
    time_t t_ok = 0, t_late = 0;
    assert_int_equal(cc_time_parse_rfc3339("2023-02-01T00:00:00Z", &t_ok), 0);
    assert_int_equal(cc_time_parse_rfc3339("2023-03-01T00:00:00Z", &t_late), 0);
    if (cc_chain_verify(leaf, inters, roots, crls, t_ok, &err) != 0)
        fail_msg("PCK chain: %s", err.msg);
    assert_int_equal(cc_chain_verify(leaf, inters, roots, NULL, t_ok, &err), 0);
    /* the platform CRL's nextUpdate is 2023-02-24 */
    assert_int_equal(cc_chain_verify(leaf, inters, roots, crls, t_late, &err), CAIRN_ERR_EXPIRED);
    assert_non_null(strstr(err.msg, "CRL has expired"));
    /* the processor CA's CRL does not cover a platform-CA-issued PCK */
    STACK_OF(X509_CRL) *wrong = sk_X509_CRL_new_null();
    sk_X509_CRL_push(wrong, load_crl("sgx/steward_icelake_xeon_pckcrl_processor.der"));
    sk_X509_CRL_push(wrong, load_crl("sgx/steward_icelake_xeon_rootca_crl.der"));
    assert_int_equal(cc_chain_verify(leaf, inters, roots, wrong, t_ok, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "unable to get certificate CRL"));
    /* PCK leaf expires 2030-01-05 */
    time_t t_2031 = 0;
    assert_int_equal(cc_time_parse_rfc3339("2031-01-01T00:00:00Z", &t_2031), 0);
    assert_int_equal(cc_chain_verify(leaf, inters, roots, NULL, t_2031, &err), CAIRN_ERR_EXPIRED);
    sk_X509_CRL_pop_free(wrong, X509_CRL_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    sk_X509_free(roots);
    sk_X509_free(inters);
    sk_X509_pop_free(chain, X509_free);
    X509_free(root);
    free(q);
    free(r);
}

/* MarbleRun's PKI shape: Root (self-signed) -> Intermediate; a self-signed
 * "Marble Root" with the Intermediate's key and subject issues the leaves.
 * Because AKI = issuer SKI = SHA-1(key), a leaf chains both through the
 * Intermediate to the Root and directly to the Marble Root. */
static void test_marblerun_pki_shape(void **state)
{
    (void)state;
    EVP_PKEY *ik = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, &ik, NULL), 0);
    X509 *inter = make_ca(ik, "MarbleRun Coordinator - Intermediate CA", g_ca, g_ca_key, -1);
    X509 *mroot = make_ca(ik, "MarbleRun Coordinator - Intermediate CA", NULL, ik, -1);
    assert_int_equal(ASN1_STRING_cmp(X509_get0_subject_key_id(inter), X509_get0_subject_key_id(mroot)), 0);
    X509 *leaf = issue_leaf(g_keys[0], mroot, ik, 0, T_2262);
    assert_int_equal(ASN1_STRING_cmp(X509_get0_authority_key_id(leaf), X509_get0_subject_key_id(inter)), 0);
    struct cairn_error err = {0};
    STACK_OF(X509) *roots = stack_of(g_ca), *inters = stack_of(inter), *mroots = stack_of(mroot);
    if (cc_chain_verify(leaf, inters, roots, NULL, 0, &err) != 0)
        fail_msg("leaf -> intermediate -> root: %s", err.msg);
    if (cc_chain_verify(leaf, NULL, mroots, NULL, 0, &err) != 0)
        fail_msg("leaf -> marble root: %s", err.msg);
    /* the Marble Root is not signed by the Root */
    assert_int_equal(cc_chain_verify(mroot, NULL, roots, NULL, 0, &err), CAIRN_ERR_VERIFY);
    sk_X509_free(roots);
    sk_X509_free(inters);
    sk_X509_free(mroots);
    X509_free(leaf);
    X509_free(mroot);
    X509_free(inter);
    EVP_PKEY_free(ik);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca_fields),
        cmocka_unit_test(test_leaf_fields_every_key_type),
        cmocka_unit_test(test_issuer_key_types),
        cmocka_unit_test(test_issue_rejects),
        cmocka_unit_test(test_intermediate_chain),
        cmocka_unit_test(test_marblerun_pki_shape),
        cmocka_unit_test(test_cli_verify),
        cmocka_unit_test(test_validity_window),
        cmocka_unit_test(test_crl_revocation),
        cmocka_unit_test(test_csr_roundtrip),
        cmocka_unit_test(test_csr_tampered_signature),
        cmocka_unit_test(test_garbage_inputs),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_pem_multi),
        cmocka_unit_test(test_real_world_roots),
        cmocka_unit_test(test_real_world_all_files),
        cmocka_unit_test(test_real_world_sgx_pck_chain),
        cmocka_unit_test(test_time_encoding_boundary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
