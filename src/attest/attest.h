/* Internal: the one evidence-verification interface (DESIGN §5, §6).
 *
 * Every TEE type has a pure parser and a verifier in its own file (sgx.c, tdx.c,
 * snp.c, tpm.c, eventlog.c, sim.c). Verifiers take the evidence, the trust
 * configuration and an explicit verification time, and return structured
 * claims. They never log and never do I/O. Policy matching (claims against a
 * manifest package) lives in policy.h.
 *
 * Claims JSON (struct attest_claims.json) uses these keys; byte strings are
 * lowercase hex, integers are JSON integers:
 *   all : "type" ("sgx"|"tdx"|"snp"|"tpm"|"sim"), "report_data", "checks" (array of
 *         the names of the checks that ran and passed), "tcb_status" (only with
 *         collateral), "advisory_ids" (array), "trailing_bytes" (int, when > 0)
 *   sgx : "mrenclave", "mrsigner", "isv_prod_id", "isv_svn", "debug" (bool),
 *         "attributes", "cpu_svn", "misc_select", "config_id", "config_svn",
 *         "qe_svn", "pce_svn", "fmspc", "pck_tcb_components" (array), "oe_header" (bool)
 *   tdx : "version" (4|5), "mrtd", "rtmr0".."rtmr3", "mr_config_id", "mr_owner",
 *         "mr_owner_config", "mr_seam", "mr_signer_seam", "td_attributes",
 *         "seam_attributes", "xfam", "tee_tcb_svn", "tee_tcb_svn2", "mr_service_td",
 *         "debug" (bool), "fmspc"
 *   snp : "version", "guest_svn", "policy", "family_id", "image_id", "vmpl",
 *         "measurement", "host_data", "id_key_digest", "author_key_digest",
 *         "report_id", "chip_id", "platform_info", "signing_key" ("vcek"|"vlek"),
 *         "current_tcb"/"reported_tcb"/"committed_tcb"/"launch_tcb" (objects
 *         {"bootloader","tee","snp","microcode","fmc"?,"raw"}), "debug" (bool),
 *         "product" ("Milan"|"Genoa"|"Turin")
 *   tpm : "nonce" (= extraData), "pcrs" ({"sha256": {"0": hex, ...}, ...}),
 *         "sig_alg", "hash_alg", "ak_name", "clock", "firmware_version",
 *         "pcr_signature" (the text of the evidence's tpm2-pcr-signature.json,
 *         when it carries one; checked only by a package's PCRPublicKey)
 */
#ifndef CAIRN_ATTEST_H
#define CAIRN_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "common/error.h"

enum attest_type {
    ATTEST_SIM = 0,
    ATTEST_SGX,
    ATTEST_TDX,
    ATTEST_SNP,
    ATTEST_TPM,
};

const char *attest_type_name(enum attest_type t);           /* "sgx", ... */
int attest_type_parse(const char *s, enum attest_type *out); /* case-insensitive */

/* Evidence as it arrives (all buffers borrowed; any may be NULL/0). */
struct attest_evidence {
    enum attest_type type;
    const uint8_t *quote;      size_t quote_len;      /* SGX/TDX quote, SNP report, TPM TPMS_ATTEST */
    const uint8_t *signature;  size_t signature_len;  /* TPM: TPMT_SIGNATURE (or DER/raw signature) */
    const uint8_t *certs;      size_t certs_len;      /* PEM: SNP VCEK/VLEK (+ASK/ARK); TPM AK cert (+chain); SGX/TDX PCK chain override */
    const uint8_t *ak_pub;     size_t ak_pub_len;     /* TPM: AK as TPMT_PUBLIC or PEM SPKI */
    const uint8_t *pcrs;       size_t pcrs_len;       /* TPM: PCR values JSON (testvectors format) or TPML_DIGEST */
    const uint8_t *eventlog;   size_t eventlog_len;   /* TPM TCG log or TDX CCEL */
    const uint8_t *pcr_signature; size_t pcr_signature_len; /* TPM: systemd tpm2-pcr-signature.json (unverified
                                                                until a package's PCRPublicKey checks it) */
};

/* What the verifier trusts (all borrowed; NULL = none configured). */
struct attest_trust {
    STACK_OF(X509) *intel_roots;       /* Intel SGX Root CA */
    STACK_OF(X509) *amd_roots;         /* AMD ARKs (ASK/ASVK may be given as intermediates) */
    STACK_OF(X509) *amd_intermediates; /* ASK/ASVK */
    STACK_OF(X509) *tpm_roots;         /* AK certificate roots */
    STACK_OF(X509) *intermediates;     /* other untrusted intermediates */
    STACK_OF(X509_CRL) *crls;          /* PCK/root CRLs, AMD CRLs */
    /* Intel collateral: JSON texts as served by PCS/PCCS ({"tcbInfo":..,"signature":..}). */
    const char *tcb_info; size_t tcb_info_len;
    const char *qe_identity; size_t qe_identity_len;
    STACK_OF(X509) *collateral_chain;  /* TCB signing cert (+ root) */
    bool require_collateral;           /* fail if TCB info/QE identity are missing */
    time_t at;                         /* verification time; 0 = now */
};

struct attest_claims {
    enum attest_type type;
    uint8_t report_data[64];   /* SGX/TDX/SNP report data; TPM: nonce (zero-padded) */
    size_t report_data_len;    /* 64, or the TPM nonce length */
    json_t *json;              /* owned; see the key table above */
};

/* Verifies `ev` (dispatching on ev->type) and fills `out` on success.
 * `expected_report_data` (may be NULL) must then equal the first
 * `expected_len` bytes of the report data (CRYPTO_memcmp); the rest of the
 * report data must be zero for SGX/TDX/SNP. */
int attest_verify(const struct attest_evidence *ev, const struct attest_trust *trust,
                  const uint8_t *expected_report_data, size_t expected_len,
                  struct attest_claims *out, struct cairn_error *err);

void attest_claims_free(struct attest_claims *c);

#endif
