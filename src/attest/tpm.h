/* Internal: TPM 2.0 quote verification (TPMS_ATTEST + signature + AK + PCR
 * values + optional TCG event log) and the TPM issuer.
 *
 * Evidence (struct attest_evidence, type ATTEST_TPM):
 *   quote     TPMS_ATTEST bytes (big-endian; parsed by tpm_attest_parse)
 *   signature TPMT_SIGNATURE (RSASSA 0x0014, RSAPSS 0x0016, ECDSA 0x0018 with
 *             SHA-1/256/384/512), or a bare signature: DER ECDSA, or a raw RSA
 *             PKCS#1 v1.5 signature of the modulus size; for bare signatures
 *             the hash is the one of the quote's pcrDigest size
 *   ak_pub    the AK as TPMT_PUBLIC (or TPM2B_PUBLIC), PEM "PUBLIC KEY", or
 *             PEM/DER certificate
 *   certs     AK certificate (+ intermediates), PEM or DER
 *   pcrs      PCR values JSON: {"hash_alg": "sha256", "pcrs": {"0": hex, ...}}
 *             (the testvectors format; without "hash_alg" the bank is inferred
 *             from the digest size) or {"pcrs": {"sha256": {"0": hex}, ...}},
 *             or binary: the selected values concatenated in selection order
 *   eventlog  optional TCG PC Client log, replayed and compared
 *
 * Checks, in order: TPMS_ATTEST format (magic TPM_GENERATED, type
 * TPM_ST_ATTEST_QUOTE, sizes, no trailing bytes); AK (TPMT_PUBLIC must be a
 * restricted signing key; with a certificate the keys must agree and, when
 * trust->tpm_roots is set, the certificate must chain to it at the
 * verification time); signature with the AK; qualifiedSigner is a well-formed
 * name of the AK's nameAlg (the qualified name hashes the parent chain, so it
 * cannot be compared with the AK Name); pcrDigest == H(selected PCR values in
 * selection order) where H is the signature hash; the event log (if given)
 * replays to every quoted PCR it extends.
 */
#ifndef CAIRN_ATTEST_TPM_H
#define CAIRN_ATTEST_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "attest/attest.h"
#include "attest/issuer.h"
#include "attest/policy.h"
#include "common/error.h"

#define TPM_GENERATED_VALUE 0xFF544347u
#define TPM_ST_ATTEST_QUOTE 0x8018
#define TPM_MAX_PCR_BANKS 8
#define TPM_PCRS 24

#define TPM_ALG_RSA 0x0001
#define TPM_ALG_NULL 0x0010
#define TPM_ALG_RSASSA 0x0014
#define TPM_ALG_RSAPSS 0x0016
#define TPM_ALG_ECDSA 0x0018
#define TPM_ALG_ECC 0x0023

struct tpm_pcr_select {
    uint16_t alg;              /* TPM_ALG_SHA* */
    uint32_t mask;             /* bit i = PCR i (0..23) */
};

/* Parsed TPMS_ATTEST of a quote. Pointers borrow from the input. */
struct tpm_attest {
    uint32_t magic;
    uint16_t type;
    const uint8_t *qualified_signer; uint16_t qualified_signer_len;
    const uint8_t *extra_data;       uint16_t extra_data_len;   /* <= 64 */
    uint64_t clock;
    uint32_t reset_count, restart_count;
    uint8_t safe;
    uint64_t firmware_version;
    unsigned n_sel;
    struct tpm_pcr_select sel[TPM_MAX_PCR_BANKS];
    const uint8_t *pcr_digest;       uint16_t pcr_digest_len;
};

/* Bounded parser: exact length (CAIRN_ERR_TRAILING for extra bytes). */
int tpm_attest_parse(const uint8_t *p, size_t n, struct tpm_attest *out, struct cairn_error *err);

/* A parsed AK: the key, and when it came from TPMT_PUBLIC its Name
 * (nameAlg || H(TPMT_PUBLIC)) and attributes. *out->key is owned. */
struct tpm_ak {
    EVP_PKEY *key;
    bool has_public;
    uint16_t name_alg;
    uint32_t attributes;
    uint16_t sign_hash;        /* scheme hash in TPMT_PUBLIC, TPM_ALG_NULL if none */
    uint8_t name[2 + 64];
    size_t name_len;
};
void tpm_ak_clear(struct tpm_ak *ak);

/* TPMT_PUBLIC or TPM2B_PUBLIC (RSA or ECC P-256/P-384/P-521) to a key. */
int tpm_public_parse(const uint8_t *p, size_t n, struct tpm_ak *out, struct cairn_error *err);

/* PCR values JSON (formats above) to {bank alg -> 24 optional values}. */
struct tpm_pcr_values {
    unsigned n_banks;
    struct {
        uint16_t alg;
        uint32_t present;      /* bit i = value i given */
        uint8_t v[TPM_PCRS][64];
    } bank[TPM_MAX_PCR_BANKS];
};
int tpm_pcrs_parse_json(const uint8_t *p, size_t n, struct tpm_pcr_values *out, struct cairn_error *err);

/* Caches of verified AK certificate chains (no CRLs only), parsed AK keys and
 * parsed PCR-value JSON (see tpm.c): on by default; switching empties them. */
void tpm_chain_cache_set(bool enabled);

/* JSON (above) or binary: the values of the quote's selection concatenated
 * in selection order (`tpm2_pcrread -o`); the size must match exactly. */
int tpm_pcrs_parse(const uint8_t *p, size_t n, const struct tpm_attest *a, struct tpm_pcr_values *out,
                   struct cairn_error *err);

int tpm_verify(const struct attest_evidence *ev, const struct attest_trust *trust, struct attest_claims *out,
               struct cairn_error *err);

/* Policy for TPM packages (called by tee_policy_match): every PCR of the
 * package must be in the quote and equal; with AKRoots the AK certificate
 * (carried in the claims) must chain to one of them at the verification time
 * recorded in the claims. */
int tpm_policy_match(const struct tee_package *p, const struct attest_claims *c, struct cairn_error *err);

/* Azure confidential VMs' HCL reports, which carry the vTPM AK, are
 * azure_hcl.h's. */

/* TPM issuer (tpm_issuer.c): quotes cfg->tpm_pcrs with an AK over the first
 * 32 bytes of report_data through the TCTI cfg->tpm_tcti. The AK is a
 * restricted ECC P-256 ECDSA-SHA256 signing key created under an ECC
 * endorsement-hierarchy primary, or the key named by cfg->tpm_ak_context:
 * a persistent handle "0x81xxxxxx" or a tpm2-tools context file (saved
 * transient context from `tpm2_createak -c`, or serialized persistent handle
 * from `tpm2_evictcontrol -o`); it must be a restricted signing key. Transient objects are flushed before returning
 * (swtpm has no resource manager). Output: quote = TPMS_ATTEST, signature =
 * TPMT_SIGNATURE, ak_pub = TPMT_PUBLIC, pcrs = JSON {"pcrs": {bank: {idx: hex}}},
 * certs = contents of cfg->tpm_ak_cert, eventlog = contents of cfg->tpm_eventlog. */
int tpm_issue(const uint8_t report_data[64], const struct attest_issuer_config *cfg, struct attest_issued *out,
              struct cairn_error *err);

/* Parses a PCR selection "sha256:0,1,2,7+sha1:0-7" (also "sha256:0-7,16"). */
int tpm_pcr_selection_parse(const char *s, struct tpm_pcr_select *sel, unsigned *n_sel, struct cairn_error *err);

/* True when a TPM is reachable through cfg->tpm_tcti (used by attest_probe). */
bool tpm_probe(const struct attest_issuer_config *cfg);

#endif
