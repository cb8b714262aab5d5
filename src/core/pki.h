/* Internal: the deployment PKI, MarbleRun's layout (inventory §3.3).
 *
 *   Root          CN "MarbleRun Coordinator", self-signed, P-384, SANs =
 *                 EDG_COORDINATOR_DNS_NAMES (IP entries as IP SANs) + 127.0.0.1, ::1
 *   Intermediate  CN "MarbleRun Coordinator - Intermediate CA", signed by Root, P-384
 *                 (a new key on every update)
 *   Marble Root   same subject and key as the Intermediate, self-signed
 *   Marble leaf   CN = UUID, P-384, SANs from the CSR, ext 1.3.9903.2.1 = raw
 *                 marble type bytes, KU DigitalSignature|KeyAgreement, EKU
 *                 server+client, signed by the Marble Root (intermediate key)
 * CA certs: IsCA, KU DigitalSignature|CertSign, EKU server+client. All: NotAfter
 * = now + MaxInt64 ns (Go's maximum duration, about 292 years), random 128-bit
 * serial, SKI/AKI so a leaf chains to the Intermediate or the Marble Root.
 * Inputs are borrowed; outputs owned by the caller (X509_free/EVP_PKEY_free). */
#ifndef CAIRN_CORE_PKI_H
#define CAIRN_CORE_PKI_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/error.h"

#define PKI_ROOT_CN "MarbleRun Coordinator"
#define PKI_INTERMEDIATE_CN "MarbleRun Coordinator - Intermediate CA"
#define PKI_MARBLE_TYPE_OID "1.3.9903.2.1"
#define PKI_MAX_VALIDITY_S 9223372036LL   /* MaxInt64 nanoseconds */

/* `names`: DNS names and IP addresses (IPs detected); may be NULL/0. */
int pki_root_new(const char *const *names, size_t n_names, X509 **out_cert, EVP_PKEY **out_key,
                 struct cairn_error *err);

int pki_intermediate_new(X509 *root_cert, EVP_PKEY *root_key, X509 **out_intermediate, X509 **out_marble_root,
                         EVP_PKEY **out_key, struct cairn_error *err);

/* Issues a marble leaf for `leaf_key` (the CSR's own key is ignored, as
 * MarbleRun; the CSR's signature must already be checked by the caller). */
int pki_leaf_issue(X509_REQ *csr, const char *uuid, const char *marble_type, X509 *marble_root,
                   EVP_PKEY *intermediate_key, EVP_PKEY *leaf_key, X509 **out, struct cairn_error *err);

/* Splits a comma-separated name list (empty entries dropped, spaces trimmed).
 * *out: free each then the array. */
int pki_split_names(const char *list, char ***out, size_t *out_n);
void pki_names_free(char **v, size_t n);

#endif
