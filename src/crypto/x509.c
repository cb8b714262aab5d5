/* X.509 certificates: strict parsing, encoding and issuing. */
#include "crypto/crypto_internal.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* ---- parsing and encoding ------------------------------------------------ */

int cc_cert_from_der(const uint8_t *der, size_t len, X509 **out, struct cairn_error *err)
{
    int rc = cc__check_input(der, len, CC_MAX_DER, "certificate", err);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "certificate: no output");
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL)
        return cc__ossl_errf(err, CAIRN_ERR_INVALID, "certificate: malformed DER");
    if ((size_t)(p - der) != len) {
        X509_free(x);
        return cairn_errf(err, CAIRN_ERR_TRAILING, "certificate: %zu bytes after the DER structure",
                          len - (size_t)(p - der));
    }
    /* OpenSSL decodes extensions lazily; force it now so a certificate with a
     * malformed or duplicated extension is rejected here, not deep inside a
     * later verification. */
    if (X509_check_purpose(x, -1, 0) != 1 || (X509_get_extension_flags(x) & EXFLAG_INVALID)) {
        X509_free(x);
        return cc__ossl_errf(err, CAIRN_ERR_INVALID, "certificate: malformed or duplicated extension");
    }
    ERR_clear_error();
    *out = x;
    return 0;
}

static const char *const g_cert_names[] = {"CERTIFICATE"};

int cc_cert_from_pem(const char *pem, size_t len, X509 **out, struct cairn_error *err)
{
    int rc = cc__check_input(pem, len, CC_MAX_DER, "certificate PEM", err);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "certificate: no output");
    BIO *bio = cc__pem_bio(pem, len);
    if (bio == NULL)
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    uint8_t *der = NULL;
    size_t der_len = 0;
    rc = cc__pem_next(bio, g_cert_names, 1, 0, &der, &der_len, NULL, err);
    BIO_free(bio);
    if (rc == CAIRN_ERR_NOT_FOUND)
        return cairn_errf(err, CAIRN_ERR_INVALID, "certificate: no CERTIFICATE PEM block");
    if (rc != 0)
        return rc;
    rc = cc_cert_from_der(der, der_len, out, err);
    OPENSSL_free(der);
    return rc;
}

int cc_certs_from_pem(const char *pem, size_t len, STACK_OF(X509) **out, struct cairn_error *err)
{
    /* A chain of certificates fits in the CRL cap (bundles of roots can be big). */
    int rc = cc__check_input(pem, len, CC_MAX_CRL, "certificate PEM", err);
    if (rc != 0)
        return rc;
    if (out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "certificate: no output");
    BIO *bio = cc__pem_bio(pem, len);
    STACK_OF(X509) *sk = sk_X509_new_null();
    if (bio == NULL || sk == NULL) {
        BIO_free(bio);
        sk_X509_free(sk);
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    }
    for (;;) {
        uint8_t *der = NULL;
        size_t der_len = 0;
        rc = cc__pem_next(bio, g_cert_names, 1, 0, &der, &der_len, NULL, err);
        if (rc == CAIRN_ERR_NOT_FOUND) {
            rc = 0;
            break;
        }
        if (rc != 0)
            break;
        if (sk_X509_num(sk) >= CC_MAX_PEM_CERTS) {
            OPENSSL_free(der);
            rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "certificate PEM: more than %d certificates",
                            CC_MAX_PEM_CERTS);
            break;
        }
        X509 *x = NULL;
        rc = cc_cert_from_der(der, der_len, &x, err);
        OPENSSL_free(der);
        if (rc != 0) {
            cairn_err_prefix(err, "certificate #%d", sk_X509_num(sk) + 1);
            break;
        }
        if (sk_X509_push(sk, x) <= 0) {
            X509_free(x);
            rc = CAIRN_ERR_NOMEM;
            break;
        }
    }
    BIO_free(bio);
    if (rc == 0 && sk_X509_num(sk) == 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "certificate: no CERTIFICATE PEM block");
    if (rc != 0) {
        sk_X509_pop_free(sk, X509_free);
        return rc;
    }
    *out = sk;
    return 0;
}

static int i2d_x509(const void *obj, unsigned char **pp)
{
    return i2d_X509(obj, pp);
}

int cc_cert_to_der(X509 *cert, uint8_t **out, size_t *out_len)
{
    if (cert == NULL || out == NULL || out_len == NULL)
        return CAIRN_ERR_INVALID;
    return cc__i2d_malloc(cert, i2d_x509, 0, out, out_len);
}

int cc_cert_to_pem(X509 *cert, char **out, size_t *out_len)
{
    if (cert == NULL || out == NULL || out_len == NULL)
        return CAIRN_ERR_INVALID;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    int rc = CAIRN_ERR_CRYPTO;
    if (PEM_write_bio_X509(bio, cert) == 1)
        rc = cc__bio_to_string(bio, out, out_len, 0);
    BIO_free(bio);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

bool cc_cert_equal(X509 *a, X509 *b)
{
    if (a == NULL || b == NULL)
        return false;
    uint8_t *da = NULL, *db = NULL;
    size_t la = 0, lb = 0;
    bool eq = cc_cert_to_der(a, &da, &la) == 0 && cc_cert_to_der(b, &db, &lb) == 0 && la == lb &&
              memcmp(da, db, la) == 0;
    free(da);
    free(db);
    return eq;
}

/* ---- issuing ------------------------------------------------------------- */

/* Appends the template's name fields in the order Go's pkix.Name uses
 * (C, ST, L, street, postalCode, O, OU, CN), so names look the same as
 * MarbleRun's. */
static int build_name(const struct cc_name *n, X509_NAME **out, struct cairn_error *err)
{
    const struct {
        int nid;
        const char *v;
        const char *field;
    } f[] = {
        {NID_countryName, n->country, "country"},
        {NID_stateOrProvinceName, n->province, "province"},
        {NID_localityName, n->locality, "locality"},
        {NID_streetAddress, n->street_address, "street_address"},
        {NID_postalCode, n->postal_code, "postal_code"},
        {NID_organizationName, n->organization, "organization"},
        {NID_organizationalUnitName, n->organizational_unit, "organizational_unit"},
        {NID_commonName, n->common_name, "common_name"},
    };
    X509_NAME *name = X509_NAME_new();
    if (name == NULL)
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i].v == NULL)
            continue;
        size_t l = strlen(f[i].v);
        if (l == 0 || l > 1024) {
            X509_NAME_free(name);
            return cairn_errf(err, CAIRN_ERR_INVALID, "subject.%s: must be 1..1024 bytes", f[i].field);
        }
        if (X509_NAME_add_entry_by_NID(name, f[i].nid, MBSTRING_UTF8, (const unsigned char *)f[i].v, (int)l, -1,
                                       0) != 1) {
            X509_NAME_free(name);
            return cc__ossl_errf(err, CAIRN_ERR_INVALID, "subject.%s: value not allowed", f[i].field);
        }
    }
    *out = name;
    return 0;
}

/* SHA-1 over the subjectPublicKey BIT STRING contents (RFC 5280 §4.2.1.2 (1)),
 * which is what Go uses for SubjectKeyId. */
static int key_id(X509_PUBKEY *xpk, uint8_t out[20])
{
    const unsigned char *pk = NULL;
    int pklen = 0;
    if (xpk == NULL || X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk) != 1 || pklen <= 0)
        return CAIRN_ERR_CRYPTO;
    size_t n = 0;
    return cc_digest("SHA1", pk, (size_t)pklen, out, &n);
}

static int add_ext_i2d(X509 *x, int nid, void *value, int crit, const char *what, struct cairn_error *err)
{
    if (X509_add1_ext_i2d(x, nid, value, crit, X509V3_ADD_APPEND) != 1)
        return cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "certificate: adding %s failed", what);
    return 0;
}

static int eku_nid(int v)
{
    switch (v) {
    case CC_EKU_ANY: return NID_anyExtendedKeyUsage;
    case CC_EKU_SERVER_AUTH: return NID_server_auth;
    case CC_EKU_CLIENT_AUTH: return NID_client_auth;
    case CC_EKU_CODE_SIGNING: return NID_code_sign;
    case CC_EKU_EMAIL_PROTECTION: return NID_email_protect;
    case CC_EKU_IPSEC_END_SYSTEM: return NID_ipsecEndSystem;
    case CC_EKU_IPSEC_TUNNEL: return NID_ipsecTunnel;
    case CC_EKU_IPSEC_USER: return NID_ipsecUser;
    case CC_EKU_TIME_STAMPING: return NID_time_stamp;
    case CC_EKU_OCSP_SIGNING: return NID_OCSP_sign;
    default: return NID_undef;
    }
}

int cc__build_sans(const char *const *dns, size_t n_dns, const char *const *ips, size_t n_ips,
                   GENERAL_NAMES **out, struct cairn_error *err)
{
    if ((dns == NULL && n_dns > 0) || (ips == NULL && n_ips > 0))
        return cairn_errf(err, CAIRN_ERR_INVALID, "SAN: NULL list with a non-zero count");
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    if (gens == NULL)
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    int rc = 0;
    for (size_t i = 0; i < n_dns && rc == 0; i++) {
        size_t l = dns[i] ? strlen(dns[i]) : 0;
        if (l == 0 || l > 253) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "SAN dns_names[%zu]: must be 1..253 bytes", i);
            break;
        }
        for (size_t j = 0; j < l; j++) {
            unsigned char ch = (unsigned char)dns[i][j];
            if (ch <= 0x20 || ch >= 0x7f) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "SAN dns_names[%zu]: must be printable ASCII", i);
                break;
            }
        }
        if (rc != 0)
            break;
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        if (g == NULL || s == NULL || ASN1_STRING_set(s, dns[i], (int)l) != 1) {
            GENERAL_NAME_free(g);
            ASN1_IA5STRING_free(s);
            rc = cc__ossl_clear(CAIRN_ERR_NOMEM);
            break;
        }
        GENERAL_NAME_set0_value(g, GEN_DNS, s);
        if (sk_GENERAL_NAME_push(gens, g) <= 0) {
            GENERAL_NAME_free(g);
            rc = CAIRN_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < n_ips && rc == 0; i++) {
        uint8_t addr[16];
        int alen;
        if (ips[i] != NULL && inet_pton(AF_INET, ips[i], addr) == 1) {
            alen = 4;
        } else if (ips[i] != NULL && inet_pton(AF_INET6, ips[i], addr) == 1) {
            alen = 16;
        } else {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "SAN ip_addresses[%zu]: \"%s\" is not an IPv4 or IPv6 address",
                            i, ips[i] ? ips[i] : "(null)");
            break;
        }
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
        if (g == NULL || s == NULL || ASN1_OCTET_STRING_set(s, addr, alen) != 1) {
            GENERAL_NAME_free(g);
            ASN1_OCTET_STRING_free(s);
            rc = cc__ossl_clear(CAIRN_ERR_NOMEM);
            break;
        }
        GENERAL_NAME_set0_value(g, GEN_IPADD, s);
        if (sk_GENERAL_NAME_push(gens, g) <= 0) {
            GENERAL_NAME_free(g);
            rc = CAIRN_ERR_NOMEM;
        }
    }
    if (rc != 0) {
        GENERAL_NAMES_free(gens);
        return rc;
    }
    *out = gens;
    return 0;
}

static int add_extensions(X509 *x, const struct cc_cert_template *t, X509 *issuer_cert, bool empty_subject,
                          struct cairn_error *err)
{
    int rc;
    /* basicConstraints: always present and critical; pathlen only for CAs. */
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    if (bc == NULL)
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    bc->ca = t->is_ca ? 0xff : 0;
    if (t->is_ca && t->max_path_len >= 0) {
        bc->pathlen = ASN1_INTEGER_new();
        if (bc->pathlen == NULL || ASN1_INTEGER_set(bc->pathlen, t->max_path_len) != 1) {
            BASIC_CONSTRAINTS_free(bc);
            return cc__ossl_clear(CAIRN_ERR_NOMEM);
        }
    }
    rc = add_ext_i2d(x, NID_basic_constraints, bc, 1, "basicConstraints", err);
    BASIC_CONSTRAINTS_free(bc);
    if (rc != 0)
        return rc;

    /* keyUsage: Go's bit i is ASN.1 named bit i; Go marks it critical. */
    if (t->key_usage != 0) {
        if (t->key_usage >= (1u << 9))
            return cairn_errf(err, CAIRN_ERR_INVALID, "key_usage: unknown bits 0x%x", t->key_usage);
        ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
        if (ku == NULL)
            return cc__ossl_clear(CAIRN_ERR_NOMEM);
        for (int b = 0; b < 9; b++) {
            if ((t->key_usage & (1u << b)) && ASN1_BIT_STRING_set_bit(ku, b, 1) != 1) {
                ASN1_BIT_STRING_free(ku);
                return cc__ossl_clear(CAIRN_ERR_NOMEM);
            }
        }
        rc = add_ext_i2d(x, NID_key_usage, ku, 1, "keyUsage", err);
        ASN1_BIT_STRING_free(ku);
        if (rc != 0)
            return rc;
    }

    if (t->n_eku > 0) {
        if (t->ext_key_usage == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID, "ext_key_usage: NULL list with a non-zero count");
        EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
        if (eku == NULL)
            return cc__ossl_clear(CAIRN_ERR_NOMEM);
        for (size_t i = 0; i < t->n_eku; i++) {
            int nid = eku_nid(t->ext_key_usage[i]);
            if (nid == NID_undef) {
                sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
                return cairn_errf(err, CAIRN_ERR_INVALID, "ext_key_usage[%zu]: unknown value %d", i,
                                  t->ext_key_usage[i]);
            }
            ASN1_OBJECT *o = OBJ_nid2obj(nid);
            if (o == NULL || sk_ASN1_OBJECT_push(eku, o) <= 0) {
                sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
                return cc__ossl_clear(CAIRN_ERR_NOMEM);
            }
        }
        rc = add_ext_i2d(x, NID_ext_key_usage, eku, 0, "extKeyUsage", err);
        sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
        if (rc != 0)
            return rc;
    }

    if (t->n_dns > 0 || t->n_ips > 0) {
        GENERAL_NAMES *gens = NULL;
        rc = cc__build_sans(t->dns_names, t->n_dns, t->ip_addresses, t->n_ips, &gens, err);
        if (rc != 0)
            return rc;
        /* RFC 5280 §4.2.1.6: critical when the subject is empty. */
        rc = add_ext_i2d(x, NID_subject_alt_name, gens, empty_subject ? 1 : 0, "subjectAltName", err);
        GENERAL_NAMES_free(gens);
        if (rc != 0)
            return rc;
    }

    uint8_t ski[20];
    if (key_id(X509_get_X509_PUBKEY(x), ski) != 0)
        return cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "certificate: computing the subject key identifier failed");
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    if (os == NULL || ASN1_OCTET_STRING_set(os, ski, sizeof(ski)) != 1) {
        ASN1_OCTET_STRING_free(os);
        return cc__ossl_clear(CAIRN_ERR_NOMEM);
    }
    rc = add_ext_i2d(x, NID_subject_key_identifier, os, 0, "subjectKeyIdentifier", err);
    ASN1_OCTET_STRING_free(os);
    if (rc != 0)
        return rc;

    if (issuer_cert != NULL) {
        /* AKI = the issuer's SKI; an issuer without one gets it computed the
         * same way, which is what its SKI would have been. */
        uint8_t aki_buf[20];
        const ASN1_OCTET_STRING *iski = X509_get0_subject_key_id(issuer_cert);
        const unsigned char *kid = NULL;
        int kid_len = 0;
        if (iski != NULL) {
            kid = ASN1_STRING_get0_data(iski);
            kid_len = ASN1_STRING_length(iski);
        } else {
            if (key_id(X509_get_X509_PUBKEY(issuer_cert), aki_buf) != 0)
                return cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "certificate: computing the issuer key identifier failed");
            kid = aki_buf;
            kid_len = sizeof(aki_buf);
        }
        AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
        if (aki == NULL || (aki->keyid = ASN1_OCTET_STRING_new()) == NULL ||
            ASN1_OCTET_STRING_set(aki->keyid, kid, kid_len) != 1) {
            AUTHORITY_KEYID_free(aki);
            return cc__ossl_clear(CAIRN_ERR_NOMEM);
        }
        rc = add_ext_i2d(x, NID_authority_key_identifier, aki, 0, "authorityKeyIdentifier", err);
        AUTHORITY_KEYID_free(aki);
        if (rc != 0)
            return rc;
    }

    if (t->n_extensions > 0 && t->extensions == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "extensions: NULL list with a non-zero count");
    for (size_t i = 0; i < t->n_extensions; i++) {
        const struct cc_extension *e = &t->extensions[i];
        if (e->oid == NULL || (e->value == NULL && e->value_len > 0) || e->value_len > INT_MAX)
            return cairn_errf(err, CAIRN_ERR_INVALID, "extensions[%zu]: missing oid or value", i);
        ASN1_OBJECT *obj = OBJ_txt2obj(e->oid, 1); /* 1 = dotted numbers only */
        if (obj == NULL)
            return cc__ossl_errf(err, CAIRN_ERR_INVALID, "extensions[%zu]: \"%s\" is not a dotted OID", i, e->oid);
        if (X509_get_ext_by_OBJ(x, obj, -1) >= 0) {
            ASN1_OBJECT_free(obj);
            return cairn_errf(err, CAIRN_ERR_INVALID, "extensions[%zu]: duplicate extension %s", i, e->oid);
        }
        ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
        X509_EXTENSION *ext = NULL;
        int ok = val != NULL && ASN1_OCTET_STRING_set(val, e->value, (int)e->value_len) == 1 &&
                 (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, e->critical ? 1 : 0, val)) != NULL &&
                 X509_add_ext(x, ext, -1) == 1;
        X509_EXTENSION_free(ext);
        ASN1_OCTET_STRING_free(val);
        ASN1_OBJECT_free(obj);
        if (!ok)
            return cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "extensions[%zu]: adding %s failed", i, e->oid);
    }
    return 0;
}

/* Random positive serial below 2^127 and never zero (RFC 5280: positive,
 * at most 20 octets; Go uses a random value below 2^128). */
static int set_serial(X509 *x)
{
    uint8_t r[16];
    int rc = cc_random(r, sizeof(r));
    if (rc != 0)
        return rc;
    r[0] &= 0x7f;
    r[0] |= 0x01 << 6; /* keeps the serial at full length, so it is never 0 */
    BIGNUM *bn = BN_bin2bn(r, sizeof(r), NULL);
    ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int ok = ai != NULL && X509_set_serialNumber(x, ai) == 1;
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return ok ? 0 : cc__ossl_clear(CAIRN_ERR_CRYPTO);
}

/* keys.c: the key is on a named curve and encodes in the default shape */
int cc__ec_named_full(const EVP_PKEY *key);

/* SubjectPublicKeyInfo of an EC key written straight from its encoded point
 * (the same DER the encoder produces: id-ecPublicKey, named curve, point in
 * the key's conversion form). X509_set_pubkey costs an encoder plus a decoder
 * round trip in OpenSSL 3.0 (~150 us for P-384, provider lookups under locks)
 * and caches the EVP_PKEY; this does neither. 1 = done, 0 = not an EC key on
 * a named curve (the caller falls back), negative = error. */
static int set_ec_spki_direct(X509 *x, const EVP_PKEY *key)
{
    char group[64];
    size_t glen = 0, plen = 0;
    if (!EVP_PKEY_is_a(key, "EC") || !cc__ec_named_full(key) ||
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &glen) != 1) {
        ERR_clear_error();
        return 0;
    }
    int curve = OBJ_sn2nid(group);
    if (curve == NID_undef)
        curve = EC_curve_nist2nid(group);
    const char *pub = OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY;   /* always uncompressed */
    if (curve == NID_undef || EVP_PKEY_get_octet_string_param(key, pub, NULL, 0, &plen) != 1 ||
        plen == 0 || plen > 256) {
        ERR_clear_error();
        return 0;
    }
    unsigned char *pt = OPENSSL_malloc(plen);
    if (pt == NULL)
        return CAIRN_ERR_NOMEM;
    if (EVP_PKEY_get_octet_string_param(key, pub, pt, plen, &plen) != 1) {
        OPENSSL_free(pt);
        ERR_clear_error();
        return 0;
    }
    /* set0_param takes pt on success only */
    if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                               V_ASN1_OBJECT, OBJ_nid2obj(curve), pt, (int)plen) != 1) {
        OPENSSL_free(pt);
        return cc__ossl_clear(CAIRN_ERR_CRYPTO);
    }
    return 1;
}

static int cert_issue(const struct cc_cert_template *tmpl, EVP_PKEY *subject_key, X509 *issuer_cert,
                      EVP_PKEY *issuer_key, bool direct_spki, X509 **out, struct cairn_error *err)
{
    if (tmpl == NULL || subject_key == NULL || issuer_key == NULL || out == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "certificate: missing template, key or output");
    const char *md_name = NULL;
    if (cc__sig_md_for_key(issuer_key, &md_name) != 0)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "certificate: unsupported issuer key type");
    if (cc__key_kind(subject_key, NULL) < 0)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "certificate: unsupported subject key type");
    if (issuer_cert == NULL) {
        if (!cc_pubkey_equal(subject_key, issuer_key))
            return cairn_errf(err, CAIRN_ERR_INVALID, "certificate: self-signed but issuer_key is not subject_key");
    } else if (X509_check_private_key(issuer_cert, issuer_key) != 1) {
        return cc__ossl_errf(err, CAIRN_ERR_INVALID, "certificate: issuer_key does not match issuer_cert");
    }
    time_t nb = tmpl->not_before ? tmpl->not_before : time(NULL);
    time_t na = tmpl->not_after ? tmpl->not_after : nb + 365 * 86400;
    if (na < nb)
        return cairn_errf(err, CAIRN_ERR_INVALID, "not_after: before not_before");

    int rc = CAIRN_ERR_CRYPTO;
    X509_NAME *subj = NULL;
    X509 *x = X509_new();
    const EVP_MD *md = NULL;
    if (x == NULL) {
        rc = CAIRN_ERR_NOMEM;
        goto out;
    }
    if ((rc = build_name(&tmpl->subject, &subj, err)) != 0)
        goto out;
    rc = CAIRN_ERR_CRYPTO;
    /* ASN1_TIME_set picks UTCTime up to 2049 and GeneralizedTime after, as
     * RFC 5280 §4.1.2.5 requires (MarbleRun certs end around 2262). */
    ASN1_TIME *tnb = ASN1_TIME_set(NULL, nb);
    ASN1_TIME *tna = ASN1_TIME_set(NULL, na);
    int ok = tnb != NULL && tna != NULL && X509_set1_notBefore(x, tnb) == 1 && X509_set1_notAfter(x, tna) == 1;
    ASN1_TIME_free(tnb);
    ASN1_TIME_free(tna);
    if (!ok || X509_set_version(x, X509_VERSION_3) != 1 || X509_set_subject_name(x, subj) != 1 ||
        X509_set_issuer_name(x, issuer_cert ? X509_get_subject_name(issuer_cert) : subj) != 1) {
        rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "certificate: setting the basic fields failed");
        goto out;
    }
    int direct = direct_spki ? set_ec_spki_direct(x, subject_key) : 0;
    if (direct < 0 || (direct == 0 && X509_set_pubkey(x, subject_key) != 1)) {
        rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO,
                           "certificate: setting the subject public key failed");
        goto out;
    }
    if ((rc = set_serial(x)) != 0)
        goto out;
    if ((rc = add_extensions(x, tmpl, issuer_cert, X509_NAME_entry_count(subj) == 0, err)) != 0)
        goto out;
    if (md_name != NULL && (md = cc__md_get(md_name)) == NULL) {
        rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "certificate: digest %s unavailable", md_name);
        goto out;
    }
    if (X509_sign(x, issuer_key, md) <= 0) {
        rc = cc__ossl_errf(err, CAIRN_ERR_CRYPTO, "certificate: signing failed");
        goto out;
    }
    *out = x;
    x = NULL;
    rc = 0;
out:
    cc__md_release(md);
    X509_NAME_free(subj);
    X509_free(x);
    return rc == 0 ? 0 : cc__ossl_clear(rc);
}

int cc_cert_issue(const struct cc_cert_template *tmpl, EVP_PKEY *subject_key, X509 *issuer_cert,
                  EVP_PKEY *issuer_key, X509 **out, struct cairn_error *err)
{
    return cert_issue(tmpl, subject_key, issuer_cert, issuer_key, false, out, err);
}

/* ---- hot-path additions (marble activation) ------------------------------ */

int cc_cert_issue_lean(const struct cc_cert_template *tmpl, EVP_PKEY *subject_key,
                       X509 *issuer_cert, EVP_PKEY *issuer_key, X509 **out, struct cairn_error *err)
{
    return cert_issue(tmpl, subject_key, issuer_cert, issuer_key, true, out, err);
}
