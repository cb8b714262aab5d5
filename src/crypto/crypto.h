/* Internal: OpenSSL 3 EVP wrappers used by every other module.
 *
 * Conventions
 * - Functions return 0 or a negative enum cairn_err; `struct cairn_error *err`
 *   may be NULL and, when given, receives a one-line reason.
 * - Out-parameters are written only on success.
 * - Byte outputs (`uint8_t **out, size_t *out_len`) are malloc'd and owned by the
 *   caller: free() for public data, cc_free_secret() for secret data.
 * - EVP_PKEY / X509 / X509_REQ outputs are owned by the caller (EVP_PKEY_free,
 *   X509_free, X509_REQ_free). Inputs are borrowed.
 * - No deprecated OpenSSL API is used (OPENSSL_NO_DEPRECATED). */
#ifndef CAIRN_CRYPTO_H
#define CAIRN_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/error.h"

/* ---- random, wiping, digests ------------------------------------------- */

int cc_random(void *buf, size_t n);
void cc_wipe(void *p, size_t n);                 /* OPENSSL_cleanse */
void cc_free_secret(void *p, size_t n);          /* wipe then free; NULL ok */
/* Constant-time equality (CRYPTO_memcmp); true when equal. */
bool cc_equal(const void *a, const void *b, size_t n);
void cc_sha256(const void *p, size_t n, uint8_t out[32]);
void cc_sha384(const void *p, size_t n, uint8_t out[48]);
/* Digest by OpenSSL name ("SHA1", "SHA256", "SHA384", "SHA512");
 * `out` must hold EVP_MAX_MD_SIZE; *out_len gets the digest size. */
int cc_digest(const char *md, const void *p, size_t n, uint8_t *out, size_t *out_len);

/* ---- keys -------------------------------------------------------------- */

enum cc_key_type {
    CC_KEY_EC_P224,
    CC_KEY_EC_P256,
    CC_KEY_EC_P384,
    CC_KEY_EC_P521,
    CC_KEY_ED25519,
    CC_KEY_RSA,      /* with rsa_bits 1024..8192 (2048..4096 typical) */
};

int cc_key_generate(enum cc_key_type type, unsigned rsa_bits, EVP_PKEY **out, struct cairn_error *err);

/* Private keys: PKCS#8 DER/PEM ("PRIVATE KEY"). Outputs are secret. */
int cc_key_to_pkcs8_der(const EVP_PKEY *key, uint8_t **out, size_t *out_len);
int cc_key_to_pkcs8_pem(const EVP_PKEY *key, char **out, size_t *out_len);
/* Accepts PKCS#8 DER, or PEM ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"). */
int cc_key_from_der(const uint8_t *der, size_t len, EVP_PKEY **out, struct cairn_error *err);
int cc_key_from_pem(const char *pem, size_t len, EVP_PKEY **out, struct cairn_error *err);

/* Public keys: SubjectPublicKeyInfo DER/PEM ("PUBLIC KEY"). */
int cc_pubkey_to_spki_der(const EVP_PKEY *key, uint8_t **out, size_t *out_len);
int cc_pubkey_to_spki_pem(const EVP_PKEY *key, char **out, size_t *out_len);
int cc_pubkey_from_der(const uint8_t *der, size_t len, EVP_PKEY **out, struct cairn_error *err);
int cc_pubkey_from_pem(const char *pem, size_t len, EVP_PKEY **out, struct cairn_error *err);
/* Builds an EC public key from raw uncompressed X||Y (64 bytes for P-256,
 * 96 for P-384); used for SGX/TDX attestation keys and SNP. */
int cc_pubkey_from_ec_xy(enum cc_key_type curve, const uint8_t *xy, size_t len, EVP_PKEY **out);
/* True when both keys have the same public part. */
bool cc_pubkey_equal(const EVP_PKEY *a, const EVP_PKEY *b);

/* ---- signatures -------------------------------------------------------- */

/* md: "SHA256", "SHA384", ... or NULL for Ed25519. ECDSA signatures are DER;
 * RSA keys sign with PKCS#1 v1.5 unless the _pss variant is used. */
int cc_sign(EVP_PKEY *key, const char *md, const void *msg, size_t n, uint8_t **sig, size_t *sig_len);
/* Returns 0 when valid, CAIRN_ERR_VERIFY when not. */
int cc_verify(EVP_PKEY *key, const char *md, const void *msg, size_t n, const uint8_t *sig, size_t sig_len);
int cc_verify_rsa_pss(EVP_PKEY *key, const char *md, const void *msg, size_t n, const uint8_t *sig,
                      size_t sig_len);
/* ECDSA with a raw r||s signature (each half big-endian, len = 2*field size). */
int cc_verify_ecdsa_raw(EVP_PKEY *key, const char *md, const void *msg, size_t n, const uint8_t *rs,
                        size_t rs_len);
/* Converts raw r||s to DER, e.g. for storage. */
int cc_ecdsa_raw_to_der(const uint8_t *rs, size_t rs_len, uint8_t **der, size_t *der_len);

/* ---- symmetric --------------------------------------------------------- */

#define CC_GCM_NONCE 12
#define CC_GCM_TAG 16
/* AES-256-GCM. Output = nonce(12, random) || ciphertext || tag(16). */
int cc_aead_seal(const uint8_t key[32], const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                 uint8_t **out, size_t *out_len);
/* Fails with CAIRN_ERR_VERIFY on a wrong key, AAD or any modified byte.
 * The plaintext output is secret. */
int cc_aead_open(const uint8_t key[32], const void *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                 uint8_t **out, size_t *out_len);
/* HKDF-SHA256 (RFC 5869), extract+expand. */
int cc_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len, const void *info,
                   size_t info_len, uint8_t *out, size_t out_len);

/* ---- RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) ----------------------- */

int cc_rsa_oaep_encrypt(EVP_PKEY *pub, const void *pt, size_t pt_len, uint8_t **out, size_t *out_len);
int cc_rsa_oaep_decrypt(EVP_PKEY *priv, const uint8_t *ct, size_t ct_len, uint8_t **out, size_t *out_len);

/* ---- X.509 ------------------------------------------------------------- */

int cc_cert_from_der(const uint8_t *der, size_t len, X509 **out, struct cairn_error *err);
/* The first CERTIFICATE block in `pem`. */
int cc_cert_from_pem(const char *pem, size_t len, X509 **out, struct cairn_error *err);
/* Every CERTIFICATE block, in order; *out is a new STACK_OF(X509) (sk_X509_pop_free). */
int cc_certs_from_pem(const char *pem, size_t len, STACK_OF(X509) **out, struct cairn_error *err);
int cc_cert_to_der(X509 *cert, uint8_t **out, size_t *out_len);
int cc_cert_to_pem(X509 *cert, char **out, size_t *out_len);
/* Exact DER equality. */
bool cc_cert_equal(X509 *a, X509 *b);

/* Go's x509.KeyUsage bits (the manifest uses them). */
enum cc_key_usage {
    CC_KU_DIGITAL_SIGNATURE = 1,
    CC_KU_CONTENT_COMMITMENT = 2,
    CC_KU_KEY_ENCIPHERMENT = 4,
    CC_KU_DATA_ENCIPHERMENT = 8,
    CC_KU_KEY_AGREEMENT = 16,
    CC_KU_CERT_SIGN = 32,
    CC_KU_CRL_SIGN = 64,
    CC_KU_ENCIPHER_ONLY = 128,
    CC_KU_DECIPHER_ONLY = 256,
};
/* Go's x509.ExtKeyUsage values. */
enum cc_ext_key_usage {
    CC_EKU_ANY = 0,
    CC_EKU_SERVER_AUTH = 1,
    CC_EKU_CLIENT_AUTH = 2,
    CC_EKU_CODE_SIGNING = 3,
    CC_EKU_EMAIL_PROTECTION = 4,
    CC_EKU_IPSEC_END_SYSTEM = 5,
    CC_EKU_IPSEC_TUNNEL = 6,
    CC_EKU_IPSEC_USER = 7,
    CC_EKU_TIME_STAMPING = 8,
    CC_EKU_OCSP_SIGNING = 9,
};

struct cc_name {              /* every field optional (NULL) */
    const char *common_name;
    const char *organization;
    const char *organizational_unit;
    const char *country;
    const char *province;
    const char *locality;
    const char *street_address;
    const char *postal_code;
};

struct cc_extension {
    const char *oid;          /* dotted, e.g. "1.3.9903.2.1" */
    const uint8_t *value;     /* raw extension value bytes (placed in the OCTET STRING as is) */
    size_t value_len;
    bool critical;
};

struct cc_cert_template {
    struct cc_name subject;
    const char *const *dns_names;  size_t n_dns;
    const char *const *ip_addresses; size_t n_ips;   /* textual IPv4/IPv6 */
    unsigned key_usage;             /* enum cc_key_usage bits; 0 = extension omitted */
    const int *ext_key_usage;  size_t n_eku;          /* enum cc_ext_key_usage values */
    bool is_ca;                     /* basicConstraints is always added (critical) */
    int max_path_len;               /* -1 = unset */
    time_t not_before;              /* 0 = now */
    time_t not_after;               /* 0 = not_before + 365 days; may exceed 2049 (GeneralizedTime) */
    const struct cc_extension *extensions; size_t n_extensions;
};

/* Issues a certificate for `subject_key` (its public part is used), signed by
 * `issuer_key`. `issuer_cert` NULL means self-signed (issuer = subject). Adds a
 * random positive 128-bit serial, SubjectKeyIdentifier (SHA-1 of the key) and,
 * when issued by another cert, AuthorityKeyIdentifier = the issuer's SKI.
 * Signature digest: SHA-256 for P-256/RSA, SHA-384 for P-384, SHA-512 for P-521,
 * none for Ed25519. */
int cc_cert_issue(const struct cc_cert_template *tmpl, EVP_PKEY *subject_key, X509 *issuer_cert,
                  EVP_PKEY *issuer_key, X509 **out, struct cairn_error *err);

/* Creates a CSR signed by `key` with subject CN (may be NULL) and SANs. */
int cc_csr_create(EVP_PKEY *key, const char *common_name, const char *const *dns, size_t n_dns,
                  const char *const *ips, size_t n_ips, X509_REQ **out, struct cairn_error *err);
/* Parses PEM or DER (detected) and checks the self-signature. */
int cc_csr_parse_verify(const uint8_t *data, size_t len, X509_REQ **out, struct cairn_error *err);
int cc_csr_to_pem(X509_REQ *csr, char **out, size_t *out_len);
int cc_csr_to_der(X509_REQ *csr, uint8_t **out, size_t *out_len);
/* The CSR's DNS and IP SANs as newly allocated string arrays (free each, then
 * the array); IPs in textual form. */
int cc_csr_get_sans(X509_REQ *csr, char ***dns, size_t *n_dns, char ***ips, size_t *n_ips);

/* The error code for an X509_V_ERR_* of a failed chain verification:
 * CAIRN_ERR_EXPIRED (a certificate or CRL outside its validity),
 * CAIRN_ERR_REVOKED, else CAIRN_ERR_VERIFY. */
int cc_verify_error_code(int x509_err);

/* Chain verification at an explicit time (0 = now): `leaf` must chain through
 * `intermediates` (may be NULL) to one of `roots`. With `crls` (may be NULL)
 * every certificate in the path is checked against the CRLs of its issuer
 * (CRL signatures and validity checked too). Returns 0, CAIRN_ERR_EXPIRED,
 * CAIRN_ERR_REVOKED or CAIRN_ERR_VERIFY with the OpenSSL reason in err. */
int cc_chain_verify(X509 *leaf, STACK_OF(X509) *intermediates, STACK_OF(X509) *roots,
                    STACK_OF(X509_CRL) *crls, time_t at, struct cairn_error *err);
int cc_crl_from_der_or_pem(const uint8_t *data, size_t len, X509_CRL **out, struct cairn_error *err);

/* Time helpers: RFC 3339 / ISO 8601 "2023-07-12T00:00:00Z" <-> time_t (UTC). */
int cc_time_parse_rfc3339(const char *s, time_t *out);
void cc_time_format_rfc3339(time_t t, char out[32]);

/* ---- hot-path additions (marble activation; perf work, see docs/benchmarks.md) */

/* As cc_cert_issue, but for an EC subject key the SubjectPublicKeyInfo is
 * written from the key's encoded point instead of through X509_set_pubkey,
 * whose encoder + decoder round trip costs ~150 us per P-384 certificate in
 * OpenSSL 3.0. The DER is identical. Difference: the returned X509 caches no
 * EVP_PKEY, so X509_get0_pubkey() on it returns NULL (re-parse its DER with
 * cc_cert_from_der when a key object is needed). Non-EC keys: same as
 * cc_cert_issue. */
int cc_cert_issue_lean(const struct cc_cert_template *tmpl, EVP_PKEY *subject_key, X509 *issuer_cert,
                       EVP_PKEY *issuer_key, X509 **out, struct cairn_error *err);

#endif
