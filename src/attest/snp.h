/* Internal: AMD SEV-SNP ATTESTATION_REPORT parser and verifier.
 *
 * Layout (SEV-SNP ABI spec, table "ATTESTATION_REPORT structure"): 0x4A0 bytes,
 * little-endian; the ECDSA P-384/SHA-384 signature at 0x2A0 covers [0, 0x2A0).
 * The parser is pure and bounded: it accepts exactly 0x4A0 bytes of report
 * version 2..SNP_REPORT_VERSION_MAX and writes `out` only on success.
 *
 * The verifier checks, in this order (each failure names the field):
 *   1. the report parses (size, version, signature algorithm, VMPL, signature
 *      padding bytes);
 *   2. the VCEK/VLEK certificate (first certificate of ev->certs, PEM or DER)
 *      chains to an AMD ARK (embedded Milan/Genoa/Turin roots, or
 *      trust->amd_roots when set) through the ASK (VCEK) or ASVK (VLEK), at the
 *      verification time, against trust->crls when given; the ARK self-signature
 *      is checked too;
 *   3. the product (Milan/Genoa/Turin) is consistent between the ARK, the
 *      certificate's productName extension and, for report v3+, the CPUID
 *      family/model in the report;
 *   4. the certificate kind matches the report's SIGNING_KEY field, and its TCB
 *      extensions (blSPL, teeSPL, snpSPL, ucodeSPL and fmcSPL on Turin) equal
 *      the report's REPORTED_TCB, and for a VCEK its hwID equals CHIP_ID
 *      (unless MASK_CHIP_ID is set);
 *   5. the report signature verifies with the certificate's P-384 key.
 */
#ifndef CAIRN_ATTEST_SNP_H
#define CAIRN_ATTEST_SNP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "attest/attest.h"
#include "attest/policy.h"
#include "common/error.h"

#define SNP_REPORT_SIZE 0x4A0
#define SNP_REPORT_SIGNED_SIZE 0x2A0
#define SNP_REPORT_VERSION_MIN 2
#define SNP_REPORT_VERSION_MAX 5
#define SNP_SIG_ALGO_ECDSA_P384_SHA384 1
#define SNP_POLICY_DEBUG_BIT 19

enum snp_product {
    SNP_PRODUCT_UNKNOWN = 0,
    SNP_PRODUCT_MILAN,
    SNP_PRODUCT_GENOA,
    SNP_PRODUCT_TURIN,
};

enum snp_signing_key {
    SNP_KEY_VCEK = 0,
    SNP_KEY_VLEK = 1,
    SNP_KEY_NONE = 7,
};

const char *snp_product_name(enum snp_product p); /* "Milan", ..., "unknown" */

/* TCB_VERSION decoded for a product. Milan/Genoa: byte 0 bootloader, 1 TEE,
 * 6 SNP, 7 microcode. Turin (family 1Ah): byte 0 FMC, 1 bootloader, 2 TEE,
 * 3 SNP, 7 microcode. */
struct snp_tcb {
    uint64_t raw;
    uint8_t bootloader, tee, snp, microcode, fmc;
    bool has_fmc;
};
void snp_tcb_decode(uint64_t raw, enum snp_product product, struct snp_tcb *out);

struct snp_report {
    uint32_t version;
    uint32_t guest_svn;
    uint64_t policy;
    uint8_t family_id[16];
    uint8_t image_id[16];
    uint32_t vmpl;
    uint32_t sig_algo;
    uint64_t current_tcb;
    uint64_t platform_info;
    uint32_t flags;            /* bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_ID, bits 4:2 SIGNING_KEY */
    uint8_t report_data[64];
    uint8_t measurement[48];
    uint8_t host_data[32];
    uint8_t id_key_digest[48];
    uint8_t author_key_digest[48];
    uint8_t report_id[32];
    uint8_t report_id_ma[32];
    uint64_t reported_tcb;
    uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step; /* report v3+, else 0 */
    uint8_t chip_id[64];
    uint64_t committed_tcb;
    uint8_t current_build, current_minor, current_major;
    uint8_t committed_build, committed_minor, committed_major;
    uint64_t launch_tcb;
    uint8_t sig_r[48];         /* big-endian, converted from the 72-byte LE field */
    uint8_t sig_s[48];
};

static inline unsigned snp_report_signing_key(const struct snp_report *r) { return (r->flags >> 2) & 7; }
static inline bool snp_report_mask_chip_id(const struct snp_report *r) { return (r->flags >> 1) & 1; }
static inline bool snp_report_debug(const struct snp_report *r) { return (r->policy >> SNP_POLICY_DEBUG_BIT) & 1; }

/* Parses exactly SNP_REPORT_SIZE bytes. Errors: CAIRN_ERR_TRUNCATED (shorter),
 * CAIRN_ERR_TRAILING (longer), CAIRN_ERR_UNSUPPORTED (version, algorithm),
 * CAIRN_ERR_INVALID (VMPL > 3, signature padding not zero). */
int snp_report_parse(const uint8_t *p, size_t n, struct snp_report *out, struct cairn_error *err);

/* The product a report v3+ names in its CPUID fields (UNKNOWN for v2 or an
 * unknown family/model). */
enum snp_product snp_report_product(const struct snp_report *r);

/* Verifies a VCEK/VLEK `leaf` (with optional extra untrusted `certs`) up to an
 * AMD ARK at `at` (0 = now) using the embedded roots or trust->amd_roots, and
 * trust->crls. On success *out_product is the product (from the ARK or the
 * leaf's productName) and *out_is_vlek tells whether the leaf was issued by an
 * ASVK. Nothing is allocated for the caller. */
int snp_cert_verify(X509 *leaf, STACK_OF(X509) *certs, const struct attest_trust *trust, time_t at,
                    enum snp_product *out_product, bool *out_is_vlek, struct cairn_error *err);

/* The cache of verified VCEK/VLEK chains (default trust only; see snp.c) and
 * the parsed-certificate cache behind attest_certs_parse are on by default;
 * turning them on or off also empties them (benchmarks, tests). */
void snp_chain_cache_set(bool enabled);

/* Parses certificates given as evidence or trust material: one or more PEM
 * CERTIFICATE blocks, or a single DER certificate (no trailing bytes). At most
 * 16 certificates, 1 MiB in all. *out is a new stack (sk_X509_pop_free) of
 * new references; identical input bytes are served from a small cache.
 * Shared with tpm.c. */
int attest_certs_parse(const uint8_t *p, size_t n, STACK_OF(X509) **out, struct cairn_error *err);

/* SEV-SNP certificate table (GHCB extended guest request / configfs-tsm
 * auxblob): entries {GUID[16] (RFC 4122 byte order), offset u32le, length
 * u32le} up to an all-zero entry, offsets relative to the table. Converts the
 * VCEK/VLEK (first), ASK/ASVK and ARK DER certificates to one PEM text
 * (malloc'd, NUL-terminated, caller frees). Unknown GUIDs are skipped. */
int snp_certtable_to_pem(const uint8_t *p, size_t n, char **out_pem, struct cairn_error *err);

/* Checks a verified path (leaf first, root last) against CRLs: each
 * certificate is looked up in every CRL its issuer signed; such a CRL must
 * verify with the issuer key and be current at `at`. CRLs of other issuers
 * are ignored. CAIRN_ERR_REVOKED / _EXPIRED / _VERIFY. Shared with tpm.c. */
int attest_crls_check(STACK_OF(X509) *path, STACK_OF(X509_CRL) *crls, time_t at, struct cairn_error *err);

/* Full verification of ev (type ATTEST_SNP): see the order above. Fills `out`
 * with the claims of attest.h ("snp" keys) on success. */
int snp_verify(const struct attest_evidence *ev, const struct attest_trust *trust, struct attest_claims *out,
               struct cairn_error *err);

/* Policy for SNP packages (called by tee_policy_match): Measurement, HostData,
 * IDKeyDigest (when set) equal; MinimumTCB component-wise <= the REPORTED_TCB
 * (the TCB the VCEK was derived for, checked against the certificate, so it
 * cannot be claimed higher than the platform's); GuestSVN minimum; Debug
 * equality (policy bit 19). Returns 0 or CAIRN_ERR_POLICY naming the field. */
int snp_policy_match(const struct tee_package *p, const struct attest_claims *c, struct cairn_error *err);

#endif
