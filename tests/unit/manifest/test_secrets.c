/* Secrets (inventory §1.6, §2.2): HKDF derivation with independently computed
 * expected values, size rules, scopes, certificate fields read back with
 * OpenSSL, MarbleRun's JSON shape, user-defined uploads, users and recovery
 * keys, and manifest_validate(). */
#include "test_util.h"

#include <arpa/inet.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/encoding.h"
#include "crypto/crypto.h"

static X509 *g_ca;
static EVP_PKEY *g_ca_key;

static const uint8_t ROOT_SECRET[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                        16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const char *UUID = "5e7a5b8a-2d1b-4c3e-9f00-0123456789ab";

static int setup(void **state)
{
    (void)state;
    struct cc_cert_template t = {.subject = {.common_name = "MarbleRun Coordinator - Intermediate CA"},
                                 .key_usage = CC_KU_DIGITAL_SIGNATURE | CC_KU_CERT_SIGN,
                                 .is_ca = true,
                                 .max_path_len = -1};
    if (cc_key_generate(CC_KEY_EC_P384, 0, &g_ca_key, NULL) < 0 || cc_cert_issue(&t, g_ca_key, NULL, g_ca_key, &g_ca, NULL) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    X509_free(g_ca);
    EVP_PKEY_free(g_ca_key);
    return 0;
}

static struct manifest_secret_set *gen(const struct manifest *m, enum manifest_secret_scope scope, const char *uuid,
                                       const char *type)
{
    struct manifest_secret_set *s = NULL;
    struct cairn_error e = {0};
    if (manifest_generate_secrets(m, scope, ROOT_SECRET, uuid, type, g_ca, g_ca_key, 0, &s, &e) != 0)
        fail_msg("generation failed: %s", e.msg);
    return s;
}

static void gen_fails(const char *json, enum manifest_secret_scope scope, const char *msg)
{
    struct manifest *m = parse_ok(json);
    struct manifest_secret_set *s = (struct manifest_secret_set *)0x1;
    struct cairn_error e = {0};
    assert_int_not_equal(manifest_generate_secrets(m, scope, ROOT_SECRET, UUID, NULL, g_ca, g_ca_key, 0, &s, &e), 0);
    assert_ptr_equal(s, (struct manifest_secret_set *)0x1);
    if (strstr(e.msg, msg) == NULL)
        fail_msg("got \"%s\", want \"%s\"", e.msg, msg);
    manifest_free(m);
}

static void assert_hex(const uint8_t *p, size_t n, const char *hex)
{
    char *h = cairn_hex_encode(p, n);
    assert_string_equal(h, hex);
    free(h);
}

#define PKG_MARBLES "\"Packages\":{\"p\":{\"Debug\":true}},\"Marbles\":{\"backend\":{\"Package\":\"p\"}," \
                    "\"legacy\":{\"Package\":\"p\",\"DisableSecretBinding\":true}}"

/* Expected values computed once with the OpenSSL CLI (and cross-checked with
 * Python's hmac module):
 *   openssl kdf -keylen 16 -kdfopt digest:SHA256 \
 *     -kdfopt hexkey:000102...1f -kdfopt salt:<UUID>aeskey -kdfopt info:backend HKDF
 * and without the info option for DisableSecretBinding. */
static void test_hkdf_exact(void **state)
{
    (void)state;
    struct manifest *m = parse_ok("{" PKG_MARBLES ",\"Secrets\":{\"aeskey\":{\"Type\":\"symmetric-key\",\"Size\":128},"
                                  "\"other\":{\"Type\":\"symmetric-key\",\"Size\":256}}}");
    struct manifest_secret_set *s = gen(m, MANIFEST_SECRETS_PRIVATE, UUID, "backend");
    assert_int_equal(s->count, 2);
    const struct manifest_secret_value *k = manifest_secret_set_find(s, "aeskey");
    assert_int_equal(k->private_len, 16);
    assert_hex(k->private_key, 16, "cde621f4ee2cbc25c7b52dd856b6dd6c");
    assert_memory_equal(k->public_key, k->private_key, 16);
    assert_null(k->cert);
    assert_false(k->shared);
    const struct manifest_secret_value *o = manifest_secret_set_find(s, "other");
    assert_hex(o->private_key, 32, "b204be6a228bf68f551b6f8ead9cff2c914d9c2fc66e11924143098a1048647f");
    /* deterministic */
    struct manifest_secret_set *s2 = gen(m, MANIFEST_SECRETS_PRIVATE, UUID, "backend");
    assert_memory_equal(manifest_secret_set_find(s2, "aeskey")->private_key, k->private_key, 16);
    manifest_secret_set_free(s2);
    /* DisableSecretBinding: info = "" */
    s2 = gen(m, MANIFEST_SECRETS_PRIVATE, UUID, "legacy");
    assert_hex(manifest_secret_set_find(s2, "aeskey")->private_key, 16, "5b35e71d87259ab7eea6bf506c32eacc");
    manifest_secret_set_free(s2);
    s2 = gen(m, MANIFEST_SECRETS_PRIVATE, UUID, NULL);
    assert_hex(manifest_secret_set_find(s2, "aeskey")->private_key, 16, "5b35e71d87259ab7eea6bf506c32eacc");
    manifest_secret_set_free(s2);
    /* another UUID gives another key */
    s2 = gen(m, MANIFEST_SECRETS_PRIVATE, "5e7a5b8a-2d1b-4c3e-9f00-0123456789ac", "backend");
    assert_memory_not_equal(manifest_secret_set_find(s2, "aeskey")->private_key, k->private_key, 16);
    manifest_secret_set_free(s2);
    /* unknown marble type */
    struct cairn_error e = {0};
    assert_int_equal(manifest_generate_secrets(m, MANIFEST_SECRETS_PRIVATE, ROOT_SECRET, UUID, "nope", g_ca, g_ca_key, 0,
                                               &s2, &e), CAIRN_ERR_NOT_FOUND);
    assert_int_equal(manifest_generate_secrets(m, MANIFEST_SECRETS_PRIVATE, ROOT_SECRET, NULL, "backend", g_ca, g_ca_key,
                                               0, &s2, &e), CAIRN_ERR_INVALID);
    manifest_secret_set_free(s);
    manifest_free(m);
}

static void test_symmetric_rules_and_scopes(void **state)
{
    (void)state;
    struct manifest *m = parse_ok("{" PKG_MARBLES ",\"Secrets\":{"
                                  "\"shared\":{\"Type\":\"symmetric-key\",\"Size\":128,\"Shared\":true},"
                                  "\"priv\":{\"Type\":\"symmetric-key\",\"Size\":64},"
                                  "\"user\":{\"Type\":\"symmetric-key\",\"Size\":128,\"UserDefined\":true},"
                                  "\"uplain\":{\"Type\":\"plain\",\"UserDefined\":true}}}");
    struct manifest_secret_set *a = gen(m, MANIFEST_SECRETS_SHARED, NULL, NULL);
    struct manifest_secret_set *b = gen(m, MANIFEST_SECRETS_SHARED, NULL, NULL);
    assert_int_equal(a->count, 1);
    assert_string_equal(a->items[0].name, "shared");
    assert_true(a->items[0].shared);
    assert_int_equal(a->items[0].private_len, 16);
    /* random: two generations differ */
    assert_memory_not_equal(a->items[0].private_key, b->items[0].private_key, 16);
    manifest_secret_set_free(a);
    manifest_secret_set_free(b);
    a = gen(m, MANIFEST_SECRETS_PRIVATE, UUID, "backend");
    assert_int_equal(a->count, 1);
    assert_string_equal(a->items[0].name, "priv");
    assert_int_equal(a->items[0].private_len, 8);
    manifest_secret_set_free(a);
    manifest_free(m);

    gen_fails("{" PKG_MARBLES ",\"Secrets\":{\"k\":{\"Type\":\"symmetric-key\"}}}", MANIFEST_SECRETS_PRIVATE,
              "invalid secret size: k");
    gen_fails("{" PKG_MARBLES ",\"Secrets\":{\"k\":{\"Type\":\"symmetric-key\",\"Size\":12,\"Shared\":true}}}",
              MANIFEST_SECRETS_SHARED, "invalid secret size: k");
    gen_fails("{" PKG_MARBLES ",\"Secrets\":{\"k\":{\"Type\":\"symmetric-key\",\"Size\":65288}}}", MANIFEST_SECRETS_PRIVATE,
              "invalid secret size: k (at most 65280 bits are supported)");
    gen_fails("{" PKG_MARBLES ",\"Secrets\":{\"x\":{\"Type\":\"plain\",\"Shared\":true}}}", MANIFEST_SECRETS_SHARED,
              "unsupported secret of type plain");
    gen_fails("{" PKG_MARBLES ",\"Secrets\":{\"x\":{\"Type\":\"plain\"}}}", MANIFEST_SECRETS_PRIVATE,
              "unsupported secret of type plain");
}

/* ---- certificates read back with OpenSSL ---------------------------------------------- */

static X509 *cert_of(const struct manifest_secret_value *v)
{
    const uint8_t *p = v->cert;
    X509 *x = d2i_X509(NULL, &p, (long)v->cert_len);
    assert_non_null(x);
    return x;
}

static void assert_cn(X509 *x, const char *cn)
{
    char buf[256];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, cn);
}

/* SANs as "DNS:a,IP:1.2.3.4,..." */
static void sans(X509 *x, char *out, size_t n)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    out[0] = 0;
    for (int i = 0; g != NULL && i < sk_GENERAL_NAME_num(g); i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, i);
        size_t l = strlen(out);
        if (gn->type == GEN_DNS) {
            snprintf(out + l, n - l, "%sDNS:%s", l ? "," : "", (const char *)ASN1_STRING_get0_data(gn->d.dNSName));
        } else if (gn->type == GEN_IPADD) {
            char ip[64];
            const unsigned char *d = ASN1_STRING_get0_data(gn->d.iPAddress);
            int len = ASN1_STRING_length(gn->d.iPAddress);
            inet_ntop(len == 4 ? AF_INET : AF_INET6, d, ip, sizeof(ip));
            snprintf(out + l, n - l, "%sIP:%s", l ? "," : "", ip);
        }
    }
    GENERAL_NAMES_free(g);
}

/* basicConstraints cA flag (X509_check_ca would also require keyCertSign). */
static int bc_ca(X509 *x)
{
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
    assert_non_null(bc);
    int ca = bc->ca ? 1 : 0;
    BASIC_CONSTRAINTS_free(bc);
    return ca;
}

static long validity_seconds(X509 *x)
{
    int days = 0, secs = 0;
    assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
    return days * 86400L + secs;
}

static void assert_keys_match(const struct manifest_secret_value *v, X509 *x)
{
    EVP_PKEY *priv = NULL, *pub = NULL;
    assert_int_equal(cc_key_from_der(v->private_key, v->private_len, &priv, NULL), 0); /* PKCS#8 DER */
    assert_int_equal(cc_pubkey_from_der(v->public_key, v->public_len, &pub, NULL), 0); /* SPKI DER */
    assert_true(cc_pubkey_equal(priv, X509_get0_pubkey(x)));
    assert_true(cc_pubkey_equal(pub, X509_get0_pubkey(x)));
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
}

static void test_cert_defaults(void **state)
{
    (void)state;
    struct manifest *m = parse_ok("{" PKG_MARBLES ",\"Secrets\":{\"c\":{\"Type\":\"cert-ecdsa\",\"Size\":256,\"Shared\":true}}}");
    time_t before = time(NULL);
    struct manifest_secret_set *s = gen(m, MANIFEST_SECRETS_SHARED, NULL, NULL);
    const struct manifest_secret_value *v = &s->items[0];
    X509 *x = cert_of(v);
    char buf[512];
    assert_cn(x, "localhost"); /* the only DNS name */
    sans(x, buf, sizeof(buf));
    assert_string_equal(buf, "DNS:localhost,IP:127.0.0.1,IP:::1");
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN);
    assert_int_equal(X509_get_extended_key_usage(x) & (XKU_SSL_SERVER | XKU_SSL_CLIENT), XKU_SSL_SERVER | XKU_SSL_CLIENT);
    assert_int_equal(bc_ca(x), 0);
    assert_int_equal(validity_seconds(x), 365L * 86400);
    assert_true(X509_cmp_time(X509_get0_notBefore(x), &(time_t){before - 2}) > 0);
    assert_int_equal(v->valid_for, 365);
    /* issued by the Marble Root with the intermediate key */
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(g_ca)), 0);
    assert_int_equal(X509_verify(x, g_ca_key), 1);
    const BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    assert_false(BN_is_negative(serial));
    assert_true(BN_num_bits(serial) <= 128 && BN_num_bits(serial) > 64);
    BN_free((BIGNUM *)serial);
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 256);
    assert_keys_match(v, x);
    X509_free(x);
    manifest_secret_set_free(s);
    manifest_free(m);
}

static void test_cert_template(void **state)
{
    (void)state;
    struct manifest *m = parse_ok(
        "{" PKG_MARBLES ",\"Secrets\":{"
        "\"rsa\":{\"Type\":\"cert-rsa\",\"Size\":2048,\"ValidFor\":10,\"Cert\":{\"Subject\":{\"CommonName\":\"svc\","
        "\"Organization\":[\"Org\"],\"Country\":[\"DE\"]},\"DNSNames\":[\"a.example\",\"b.example\"],"
        "\"IPAddresses\":[\"10.1.2.3\"],\"KeyUsage\":5,\"ExtKeyUsage\":[2],\"IsCA\":true}},"
        "\"ed\":{\"Type\":\"cert-ed25519\",\"Cert\":{\"DNSNames\":[\"x\",\"y\"],\"IPAddresses\":[],"
        "\"NotAfter\":\"2040-01-02T03:04:05Z\"}},"
        "\"p224\":{\"Type\":\"cert-ecdsa\",\"Size\":224,\"Cert\":{\"DNSNames\":[]}},"
        "\"p521\":{\"Type\":\"cert-ecdsa\",\"Size\":521}}}");
    struct manifest_secret_set *s = gen(m, MANIFEST_SECRETS_PRIVATE, UUID, "backend");
    assert_int_equal(s->count, 4);
    char buf[512];

    X509 *x = cert_of(manifest_secret_set_find(s, "rsa"));
    assert_cn(x, "svc");
    char org[64];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName, org, sizeof(org)) > 0);
    assert_string_equal(org, "Org");
    sans(x, buf, sizeof(buf));
    assert_string_equal(buf, "DNS:a.example,DNS:b.example,IP:10.1.2.3");
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
    assert_int_equal(bc_ca(x), 1);
    assert_int_equal(validity_seconds(x), 10L * 86400);
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 2048);
    assert_keys_match(manifest_secret_set_find(s, "rsa"), x);
    X509_free(x);

    x = cert_of(manifest_secret_set_find(s, "ed"));
    assert_cn(x, "MarbleRun Generated Certificate"); /* two DNS names */
    sans(x, buf, sizeof(buf));
    assert_string_equal(buf, "DNS:x,DNS:y"); /* IPAddresses [] = none */
    time_t na = 2209086245; /* date -u -d 2040-01-02T03:04:05Z +%s */
    ASN1_TIME *want = ASN1_TIME_set(NULL, na);
    assert_int_equal(ASN1_TIME_compare(want, X509_get0_notAfter(x)), 0);
    ASN1_TIME_free(want);
    assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(x)), EVP_PKEY_ED25519);
    assert_int_equal(X509_verify(x, g_ca_key), 1);
    assert_keys_match(manifest_secret_set_find(s, "ed"), x);
    X509_free(x);

    x = cert_of(manifest_secret_set_find(s, "p224"));
    assert_cn(x, "MarbleRun Generated Certificate"); /* zero DNS names */
    sans(x, buf, sizeof(buf));
    assert_string_equal(buf, "IP:127.0.0.1,IP:::1");
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 224);
    X509_free(x);
    x = cert_of(manifest_secret_set_find(s, "p521"));
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 521);
    X509_free(x);
    manifest_secret_set_free(s);
    manifest_free(m);

    gen_fails("{" PKG_MARBLES ",\"Secrets\":{\"e\":{\"Type\":\"cert-ed25519\",\"Size\":256}}}", MANIFEST_SECRETS_PRIVATE,
              "invalid secret size for cert-ed25519, none is expected. given: e");
    gen_fails("{" PKG_MARBLES ",\"Secrets\":{\"e\":{\"Type\":\"cert-ecdsa\",\"Size\":255}}}", MANIFEST_SECRETS_PRIVATE,
              "unsupported size 255: does not map to a supported curve");
    gen_fails("{" PKG_MARBLES ",\"Secrets\":{\"e\":{\"Type\":\"cert-ecdsa\"}}}", MANIFEST_SECRETS_PRIVATE,
              "unsupported size 0: does not map to a supported curve");
    gen_fails("{" PKG_MARBLES ",\"Secrets\":{\"r\":{\"Type\":\"cert-rsa\",\"Size\":1024,\"Shared\":true}}}",
              MANIFEST_SECRETS_SHARED, "invalid secret size for cert-rsa: r");
    gen_fails("{" PKG_MARBLES ",\"Secrets\":{\"r\":{\"Type\":\"cert-ecdsa\",\"Size\":256,\"Cert\":{\"EmailAddresses\":"
              "[\"a@b\"]}}}}", MANIFEST_SECRETS_PRIVATE, "secret r: Cert.EmailAddresses is not supported");
    gen_fails("{" PKG_MARBLES ",\"Secrets\":{\"r\":{\"Type\":\"cert-ecdsa\",\"Size\":256,\"Cert\":{\"NotAfter\":"
              "\"2001-01-01T00:00:00Z\"}}}}", MANIFEST_SECRETS_PRIVATE, "secret r: Cert.NotAfter is in the past");
}

/* ---- JSON --------------------------------------------------------------------------- */

static void test_json_roundtrip(void **state)
{
    (void)state;
    struct manifest *m = parse_ok("{" PKG_MARBLES ",\"Secrets\":{\"c\":{\"Type\":\"cert-ed25519\",\"Shared\":true},"
                                  "\"k\":{\"Type\":\"symmetric-key\",\"Size\":128,\"Shared\":true}}}");
    struct manifest_secret_set *s = gen(m, MANIFEST_SECRETS_SHARED, NULL, NULL);
    json_t *j = NULL;
    assert_int_equal(manifest_secret_set_to_json(s, &j), 0);
    json_t *k = json_object_get(j, "k");
    assert_string_equal(json_string_value(json_object_get(k, "Type")), "symmetric-key");
    assert_int_equal(json_integer_value(json_object_get(k, "Size")), 128);
    assert_true(json_is_true(json_object_get(k, "Shared")));
    assert_true(json_is_false(json_object_get(k, "UserDefined")));
    assert_true(json_is_null(json_object_get(k, "Cert")));
    assert_int_equal(json_integer_value(json_object_get(k, "ValidFor")), 0);
    assert_string_equal(json_string_value(json_object_get(k, "Private")), json_string_value(json_object_get(k, "Public")));
    assert_int_equal(json_object_size(k), 8);
    json_t *c = json_object_get(j, "c");
    assert_true(json_is_string(json_object_get(c, "Cert")));
    assert_int_equal(json_integer_value(json_object_get(c, "ValidFor")), 365);

    struct manifest_secret_set *back = NULL;
    struct cairn_error e = {0};
    assert_int_equal(manifest_secret_set_from_json(j, &back, &e), 0);
    assert_int_equal(back->count, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct manifest_secret_value *a = &s->items[i], *b = &back->items[i];
        assert_string_equal(a->name, b->name);
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->size, b->size);
        assert_int_equal(a->shared, b->shared);
        assert_int_equal(a->valid_for, b->valid_for);
        assert_int_equal(a->cert_len, b->cert_len);
        if (a->cert)
            assert_memory_equal(a->cert, b->cert, a->cert_len);
        assert_int_equal(a->private_len, b->private_len);
        assert_memory_equal(a->private_key, b->private_key, a->private_len);
        assert_memory_equal(a->public_key, b->public_key, a->public_len);
    }
    manifest_secret_set_free(back);
    json_decref(j);
    manifest_secret_set_free(s);
    manifest_free(m);

    /* lower-case keys (Go) and nulls */
    j = json_loads("{\"type\":\"plain\",\"private\":\"aGk=\",\"public\":\"aGk=\",\"cert\":null}", 0, NULL);
    struct manifest_secret_value v;
    assert_int_equal(manifest_secret_value_from_json("p", j, &v, &e), 0);
    assert_int_equal(v.type, MANIFEST_SECRET_PLAIN);
    assert_int_equal(v.public_len, 2);
    assert_null(v.cert);
    manifest_secret_value_clear(&v);
    json_decref(j);
    static const struct { const char *json, *msg; } bad[] = {
        {"{\"Type\":\"aes\"}", "secret s: unknown type \"aes\""},
        {"{\"Type\":\"plain\",\"Private\":\"***\"}", "s.Private: invalid base64"},
        {"{\"Type\":\"cert-rsa\",\"Cert\":\"AAAA\"}", "s.Cert: not a DER X.509 certificate"},
        {"{\"Type\":\"plain\",\"Size\":-1}", "s.Size: must not be negative"},
        {"[]", "secret s: expected an object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = json_loads(bad[i].json, JSON_DECODE_ANY, NULL);
        memset(&v, 0x5a, sizeof(v));
        assert_int_not_equal(manifest_secret_value_from_json("s", j, &v, &e), 0);
        assert_int_equal(((uint8_t *)&v)[0], 0x5a); /* untouched */
        if (strstr(e.msg, bad[i].msg) == NULL)
            fail_msg("got \"%s\", want \"%s\"", e.msg, bad[i].msg);
        json_decref(j);
    }
}

/* ---- user-defined uploads ------------------------------------------------------------- */

static const char *USER_MANIFEST =
    "{" PKG_MARBLES ",\"Secrets\":{\"usym\":{\"Type\":\"symmetric-key\",\"Size\":128,\"UserDefined\":true},"
    "\"ubad\":{\"Type\":\"symmetric-key\",\"Size\":12,\"UserDefined\":true},"
    "\"ucert\":{\"Type\":\"cert-ecdsa\",\"UserDefined\":true},\"uplain\":{\"Type\":\"plain\",\"UserDefined\":true},"
    "\"gen\":{\"Type\":\"symmetric-key\",\"Size\":128,\"Shared\":true}}}";

static int upload(const struct manifest *m, const char *json, struct manifest_secret_set **out, struct cairn_error *e)
{
    json_error_t je;
    json_t *j = json_loads(json, 0, &je);
    if (j == NULL)
        fail_msg("bad test JSON %s: %s", json, je.text);
    int rc = manifest_user_secrets_parse(m, j, out, e);
    json_decref(j);
    return rc;
}

static void test_user_secrets(void **state)
{
    (void)state;
    struct manifest *m = parse_ok(USER_MANIFEST);
    struct manifest_secret_set *s = NULL;
    struct cairn_error e = {0};
    /* a real certificate to upload */
    struct manifest *cm = parse_ok("{" PKG_MARBLES ",\"Secrets\":{\"c\":{\"Type\":\"cert-ecdsa\",\"Size\":256,\"Shared\":true}}}");
    struct manifest_secret_set *gs = gen(cm, MANIFEST_SECRETS_SHARED, NULL, NULL);
    char *cert_b64 = cairn_base64_encode(gs->items[0].cert, gs->items[0].cert_len);
    char *priv_b64 = cairn_base64_encode(gs->items[0].private_key, gs->items[0].private_len);
    char json[4096];

    snprintf(json, sizeof(json), "{\"usym\":{\"Key\":\"AAECAwQFBgcICQoLDA0ODw==\"},\"uplain\":{\"Key\":\"aGVsbG8=\"},"
             "\"ucert\":{\"Cert\":\"%s\",\"Private\":\"%s\"}}", cert_b64, priv_b64);
    assert_int_equal(upload(m, json, &s, &e), 0);
    assert_int_equal(s->count, 3);
    const struct manifest_secret_value *v = manifest_secret_set_find(s, "usym");
    assert_true(v->user_defined);
    assert_int_equal(v->private_len, 16);
    assert_memory_equal(v->public_key, v->private_key, 16);
    assert_int_equal(v->public_key[15], 15);
    v = manifest_secret_set_find(s, "uplain");
    assert_memory_equal(v->public_key, "hello", 5);
    v = manifest_secret_set_find(s, "ucert");
    assert_int_equal(v->type, MANIFEST_SECRET_CERT_ECDSA);
    assert_int_equal(v->cert_len, gs->items[0].cert_len);
    assert_int_equal(v->public_len, gs->items[0].public_len); /* the cert's SPKI */
    assert_memory_equal(v->public_key, gs->items[0].public_key, v->public_len);
    assert_memory_equal(v->private_key, gs->items[0].private_key, v->private_len);
    manifest_secret_set_free(s);

    /* Cert as Go's x509.Certificate object with Raw, Private omitted */
    snprintf(json, sizeof(json), "{\"ucert\":{\"Cert\":{\"Raw\":\"%s\"}}}", cert_b64);
    assert_int_equal(upload(m, json, &s, &e), 0);
    assert_null(s->items[0].private_key);
    manifest_secret_set_free(s);

    static const struct { const char *json, *msg; } bad[] = {
        {"{}", "no new secrets defined"},
        {"{\"nope\":{\"Key\":\"AA==\"}}", "secret manifest specifies a secret which the original manifest does not contain: nope"},
        {"{\"gen\":{\"Key\":\"AAECAwQFBgcICQoLDA0ODw==\"}}", "secret gen is not writeable"},
        {"{\"usym\":{\"Key\":\"AAEC\"}}", "declared size and actual size don't match: usym"},
        {"{\"usym\":{}}", "declared size and actual size don't match: usym"},
        {"{\"usym\":{\"Key\":\"AAECAwQFBgcICQoLDA0ODw==\",\"Private\":\"AA==\"}}",
         "secret usym is set to be of type symmetric-key but specified values for a certificate"},
        {"{\"ubad\":{\"Key\":\"AA==\"}}", "invalid secret size: ubad"},
        {"{\"ucert\":{\"Key\":\"AA==\"}}", "secret ucert is set to be of type cert-ecdsa but specified values for a symmetric-key"},
        {"{\"ucert\":{\"Private\":\"AA==\"}}", "secret ucert: Cert is required for type cert-ecdsa"},
        {"{\"ucert\":{\"Cert\":\"AAAA\"}}", "ucert.Cert: not a DER X.509 certificate"},
        {"{\"uplain\":{\"Private\":\"AA==\"}}", "secret uplain is set to be of type plain but specified values for a certificate"},
        {"{\"uplain\":{\"Key\":\"%%%\"}}", "uplain.Key: invalid base64"},
        {"{\"uplain\":\"x\"}", "secret uplain: expected an object"},
        /* sorted: "gen" is reported before "usym" whatever the document order */
        {"{\"usym\":{\"Key\":\"AA==\"},\"gen\":{}}", "secret gen is not writeable"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = (struct manifest_secret_set *)0x1;
        assert_int_not_equal(upload(m, bad[i].json, &s, &e), 0);
        assert_ptr_equal(s, (struct manifest_secret_set *)0x1);
        if (strstr(e.msg, bad[i].msg) == NULL)
            fail_msg("upload %s: got \"%s\", want \"%s\"", bad[i].json, e.msg, bad[i].msg);
    }
    free(cert_b64);
    cc_free_secret(priv_b64, strlen(priv_b64));
    manifest_secret_set_free(gs);
    manifest_free(cm);
    manifest_free(m);
}

/* ---- users, recovery keys, sets, validate ----------------------------------------------- */

static char *pem_json_escape(const char *pem)
{
    char *o = malloc(2 * strlen(pem) + 1), *p = o;
    for (; *pem; pem++) {
        if (*pem == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else {
            *p++ = *pem;
        }
    }
    *p = 0;
    return o;
}

static void test_users_and_recovery_keys(void **state)
{
    (void)state;
    char *cert_pem = NULL, *rsa_pem = NULL, *ec_pem = NULL;
    size_t n;
    EVP_PKEY *rsa = NULL;
    assert_int_equal(cc_cert_to_pem(g_ca, &cert_pem, &n), 0);
    assert_int_equal(cc_key_generate(CC_KEY_RSA, 2048, &rsa, NULL), 0);
    assert_int_equal(cc_pubkey_to_spki_pem(rsa, &rsa_pem, &n), 0);
    assert_int_equal(cc_pubkey_to_spki_pem(g_ca_key, &ec_pem, &n), 0);
    struct manifest_user u = {.name = "alice", .certificate = cert_pem};
    X509 *x = NULL;
    struct cairn_error e = {0};
    assert_int_equal(manifest_user_cert(&u, &x, &e), 0);
    assert_true(cc_cert_equal(x, g_ca));
    X509_free(x);
    u.certificate = "cert-alice";
    assert_int_equal(manifest_user_cert(&u, &x, &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "received invalid certificate for user alice");
    struct manifest_recovery_key k = {.name = "rk", .pem = rsa_pem};
    EVP_PKEY *pk = NULL;
    assert_int_equal(manifest_recovery_key(&k, &pk, &e), 0);
    assert_true(cc_pubkey_equal(pk, rsa));
    EVP_PKEY_free(pk);
    k.pem = ec_pem;
    assert_int_equal(manifest_recovery_key(&k, &pk, &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "recovery key rk: not an RSA public key");
    k.pem = "garbage";
    assert_int_equal(manifest_recovery_key(&k, &pk, &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "recovery key rk: not a PEM public key");

    /* manifest_validate: everything SetManifest checks */
    char *cj = pem_json_escape(cert_pem), *rj = pem_json_escape(rsa_pem);
    char *json = malloc(16384);
    snprintf(json, 16384,
             "{" PKG_MARBLES ",\"Secrets\":{\"k\":{\"Type\":\"symmetric-key\",\"Size\":128},"
             "\"sk\":{\"Type\":\"symmetric-key\",\"Size\":256,\"Shared\":true},"
             "\"c\":{\"Type\":\"cert-ecdsa\",\"Size\":384},\"u\":{\"Type\":\"plain\",\"UserDefined\":true}},"
             "\"Users\":{\"alice\":{\"Certificate\":\"%s\",\"Roles\":[\"r\"]}},"
             "\"Roles\":{\"r\":{\"ResourceType\":\"Secrets\",\"ResourceNames\":[\"u\"],\"Actions\":[\"WriteSecret\"]}},"
             "\"RecoveryKeys\":{\"rk\":\"%s\"}}",
             cj, rj);
    struct manifest *m = parse_ok(json);
    assert_int_equal(manifest_validate(m, &e), 0);
    /* with the real shared secrets and CA */
    struct manifest_secret_set *shared = gen(m, MANIFEST_SECRETS_SHARED, NULL, NULL);
    assert_int_equal(manifest_validate_with(m, shared, g_ca, g_ca_key, &e), 0);
    assert_int_equal(manifest_validate_with(m, NULL, g_ca, g_ca_key, &e), CAIRN_ERR_INVALID);
    manifest_secret_set_free(shared);
    manifest_free(m);
    /* a template error is found by the dry run after generation */
    snprintf(json, 16384, "{" PKG_MARBLES ",\"Marbles\":{\"backend\":{\"Package\":\"p\",\"Parameters\":{\"Files\":"
             "{\"/f\":\"{{ pem .Secrets.k }}\"}}}},\"Secrets\":{\"k\":{\"Type\":\"symmetric-key\",\"Size\":128}}}");
    m = parse_ok(json);
    struct manifest_secret_set *none = manifest_secret_set_new();
    assert_int_equal(manifest_validate_with(m, none, g_ca, g_ca_key, &e), CAIRN_ERR_INVALID);
    manifest_secret_set_free(none);
    assert_int_equal(manifest_validate(m, &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "in Marble backend: file /f: template {{ pem .Secrets.k }}: invalid secret type for pem "
                               "encoding (k is a whole secret; use .Cert, .Public or .Private)");
    manifest_free(m);
    snprintf(json, 16384, "{" PKG_MARBLES ",\"RecoveryKeys\":{\"rk\":\"nope\"},\"Users\":{\"bob\":{\"Certificate\":\"x\"}}}");
    m = parse_ok(json);
    assert_int_equal(manifest_validate(m, &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "recovery key rk: not a PEM public key"); /* before users, as SetManifest */
    manifest_free(m);
    snprintf(json, 16384, "{" PKG_MARBLES ",\"Secrets\":{\"k\":{\"Type\":\"symmetric-key\",\"Size\":7,\"Shared\":true}}}");
    m = parse_ok(json);
    assert_int_equal(manifest_validate(m, &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "invalid secret size: k");
    manifest_free(m);
    free(json);
    free(cj);
    free(rj);
    free(cert_pem);
    free(rsa_pem);
    free(ec_pem);
    EVP_PKEY_free(rsa);
}

static void test_rbac(void **state)
{
    (void)state;
    char *pem = NULL, *other = NULL;
    size_t n;
    EVP_PKEY *k2 = NULL;
    X509 *x2 = NULL;
    struct cc_cert_template t = {.subject = {.common_name = "bob"}, .max_path_len = -1};
    assert_int_equal(cc_cert_to_pem(g_ca, &pem, &n), 0);
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &k2, NULL), 0);
    assert_int_equal(cc_cert_issue(&t, k2, NULL, k2, &x2, NULL), 0);
    assert_int_equal(cc_cert_to_pem(x2, &other, &n), 0);
    char *pj = pem_json_escape(pem);
    char *json = malloc(8192);
    snprintf(json, 8192,
             "{" PKG_MARBLES ",\"Secrets\":{\"a\":{\"Type\":\"plain\",\"UserDefined\":true},"
             "\"b\":{\"Type\":\"plain\",\"UserDefined\":true},\"c\":{\"Type\":\"plain\",\"UserDefined\":true}},"
             "\"Users\":{\"alice\":{\"Certificate\":\"%s\",\"Roles\":[\"ra\",\"rb\",\"upd\"]},"
             "\"carol\":{\"Certificate\":\"not a cert\",\"Roles\":[\"ra\"]}},"
             "\"Roles\":{\"ra\":{\"ResourceType\":\"Secrets\",\"ResourceNames\":[\"a\"],\"Actions\":[\"ReadSecret\"]},"
             "\"rb\":{\"ResourceType\":\"Secrets\",\"ResourceNames\":[\"b\"],\"Actions\":[\"readsecret\",\"WriteSecret\"]},"
             "\"upd\":{\"ResourceType\":\"Manifest\",\"Actions\":[\"UpdateManifest\"]}}}",
             pj);
    struct manifest *m = parse_ok(json);
    struct cairn_error e = {0};
    assert_int_equal(manifest_check(m, &e), 0);
    const struct manifest_user *alice = manifest_find_user(m, "alice"), *carol = manifest_find_user(m, "carol");
    const char *ab[] = {"a", "b"}, *abc[] = {"a", "b", "c"}, *a[] = {"a"}, *b[] = {"b"};
    /* union of the roles' resource names, for all requested names */
    assert_true(manifest_user_granted(m, alice, "ReadSecret", ab, 2));
    assert_true(manifest_user_granted(m, alice, "READSECRET", a, 1));
    assert_false(manifest_user_granted(m, alice, "ReadSecret", abc, 3));
    assert_true(manifest_user_granted(m, alice, "WriteSecret", b, 1));
    assert_false(manifest_user_granted(m, alice, "WriteSecret", ab, 2));
    assert_true(manifest_user_granted(m, alice, "UpdateManifest", NULL, 0));
    assert_false(manifest_user_granted(m, carol, "UpdateManifest", NULL, 0));
    assert_false(manifest_user_granted(m, carol, "ReadSecret", b, 1));
    assert_false(manifest_user_granted(m, alice, "UpdateSecurityVersion", NULL, 0));
    /* lookup by certificate: exact DER equality */
    assert_ptr_equal(manifest_find_user_by_cert(m, g_ca), alice);
    assert_null(manifest_find_user_by_cert(m, x2));
    manifest_free(m);
    free(json);
    free(pj);
    free(pem);
    free(other);
    X509_free(x2);
    EVP_PKEY_free(k2);
}

/* Bit flips of a valid upload body and of a stored secret: each result is
 * accepted or refused with a message; outputs untouched on refusal. */
static void test_mutations(void **state)
{
    (void)state;
    struct manifest *m = parse_ok(USER_MANIFEST);
    const char *body = "{\"usym\":{\"Key\":\"AAECAwQFBgcICQoLDA0ODw==\"},\"uplain\":{\"Key\":\"aGVsbG8=\"}}";
    const char *stored = "{\"Type\":\"symmetric-key\",\"Size\":128,\"Shared\":true,\"UserDefined\":false,"
                         "\"Cert\":null,\"ValidFor\":0,\"Private\":\"AAECAwQFBgcICQoLDA0ODw==\",\"Public\":\"AAEC\"}";
    size_t ok = 0, failed = 0;
    for (int which = 0; which < 2; which++) {
        const char *src = which ? stored : body;
        size_t n = strlen(src);
        char *buf = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            for (int bit = 0; bit < 7; bit++) {
                memcpy(buf, src, n + 1);
                buf[i] ^= (char)(1 << bit);
                json_t *j = json_loadb(buf, n, JSON_DECODE_ANY, NULL);
                if (j == NULL)
                    continue;
                struct cairn_error e = {0};
                if (which == 0) {
                    struct manifest_secret_set *s = (struct manifest_secret_set *)0x1;
                    if (manifest_user_secrets_parse(m, j, &s, &e) == 0) {
                        ok++;
                        manifest_secret_set_free(s);
                    } else {
                        failed++;
                        assert_ptr_equal(s, (struct manifest_secret_set *)0x1);
                        assert_true(e.msg[0] != 0);
                    }
                } else {
                    struct manifest_secret_value v = {.size = 77};
                    if (manifest_secret_value_from_json("s", j, &v, &e) == 0) {
                        ok++;
                        manifest_secret_value_clear(&v);
                    } else {
                        failed++;
                        assert_int_equal(v.size, 77);
                    }
                }
                json_decref(j);
            }
        }
        free(buf);
    }
    manifest_free(m);
    assert_true(ok > 20);
    assert_true(failed > 20);
}

static void test_set_ops(void **state)
{
    (void)state;
    struct manifest_secret_set *a = manifest_secret_set_new(), *b = manifest_secret_set_new();
    struct manifest_secret_value v = {.name = "m", .public_key = (uint8_t *)"1", .public_len = 1};
    assert_int_equal(manifest_secret_set_put(a, &v), 0);
    v.name = "a";
    assert_int_equal(manifest_secret_set_put(a, &v), 0);
    v.name = "z";
    assert_int_equal(manifest_secret_set_put(a, &v), 0);
    assert_string_equal(a->items[0].name, "a");
    assert_string_equal(a->items[2].name, "z");
    v.name = "m";
    v.public_key = (uint8_t *)"2";
    assert_int_equal(manifest_secret_set_put(b, &v), 0);
    v.name = "b";
    assert_int_equal(manifest_secret_set_put(b, &v), 0);
    assert_int_equal(manifest_secret_set_merge(a, b), 0);
    assert_int_equal(a->count, 4);
    assert_int_equal(manifest_secret_set_find(a, "m")->public_key[0], '2');
    assert_null(manifest_secret_set_find(a, "q"));
    assert_null(manifest_secret_set_find(NULL, "q"));
    manifest_secret_set_free(a);
    manifest_secret_set_free(b);
    manifest_secret_set_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hkdf_exact),
        cmocka_unit_test(test_symmetric_rules_and_scopes),
        cmocka_unit_test(test_cert_defaults),
        cmocka_unit_test(test_cert_template),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_user_secrets),
        cmocka_unit_test(test_users_and_recovery_keys),
        cmocka_unit_test(test_rbac),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_set_ops),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
