/* User and recovery keys held in a PKCS#11 token (MarbleRun's --pkcs11-*
 * flags), through OpenSSL's "pkcs11" ENGINE (libp11, Debian package
 * libengine-pkcs11-openssl). The ENGINE API is deprecated in OpenSSL 3 and
 * the tree builds with OPENSSL_NO_DEPRECATED, so every ENGINE call lives in
 * pkcs11.c, the one file compiled without that define; what leaves it are
 * plain EVP_PKEY / X509 objects (docs/cli.md "PKCS#11").
 *
 * The configuration file is MarbleRun's (crypto11's Config, JSON, keys
 * matched case-insensitively as Go does): "Path" (the PKCS#11 module), "Pin",
 * and one of "TokenLabel" / "TokenSerial" selecting the token. "SlotNumber" is
 * refused: libp11 0.4.12 (Debian 12) cannot select a slot by number in a
 * PKCS#11 URI. IDs are the flag's bytes as given (crypto11 does the same),
 * labels the CKA_LABEL. */
#ifndef CAIRN_CLI_PKCS11_H
#define CAIRN_CLI_PKCS11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct cli_p11_config {
    char *module;     /* "Path" */
    char *pin;        /* "Pin" (secret; wiped by cli_p11_config_free), may be NULL */
    char *token_label;
    char *token_serial;
};

/* Parses the configuration JSON (untrusted file content; bounded by the
 * caller). Returns 0, or -1 with a one-line reason in err. */
int cli_p11_config_parse(const char *json, size_t len, struct cli_p11_config *out, char *err, size_t err_size);
void cli_p11_config_free(struct cli_p11_config *c);

/* The RFC 7512 URI of an object: "pkcs11:token=..;serial=..;id=%..;object=..;type=TYPE",
 * every attribute value %-encoded. id/label may be NULL (not both). malloc'd. */
char *cli_p11_uri(const struct cli_p11_config *c, const char *id, const char *label, const char *type);

/* Loads the private key (id and/or label) and, when cert_id or cert_label is
 * given, the certificate from the token. *out_key and *out_cert (may be NULL
 * when no certificate is asked for) are owned by the caller; the key keeps
 * the engine loaded until it is freed. Returns 0, or -1 with a one-line reason
 * in err naming what was not found. */
int cli_p11_load(const struct cli_p11_config *c, const char *key_id, const char *key_label, const char *cert_id,
                 const char *cert_label, EVP_PKEY **out_key, X509 **out_cert, char *err, size_t err_size);

/* RSA-OAEP (SHA-256, MGF1 SHA-256) decryption with a key of the token (or any
 * key): 0, or -1 when it does not decrypt. *out malloc'd. */
int cli_p11_rsa_oaep_decrypt(EVP_PKEY *key, const uint8_t *ct, size_t ct_len, uint8_t **out, size_t *out_len);

#endif
