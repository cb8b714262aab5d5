/* Internal: expected TEE identity (a manifest package, DESIGN §5) and its
 * matching against verified claims.
 *
 * A package without "TEE" is SGX with MarbleRun's fields. The manifest parser
 * fills `struct tee_package`; libcairn fills it from a Coordinator policy JSON
 * (same field names). Hex strings are kept as written in the manifest and
 * compared case-insensitively after decoding. */
#ifndef CAIRN_ATTEST_POLICY_H
#define CAIRN_ATTEST_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/attest.h"

struct tee_pcr {
    char *bank;        /* "sha1", "sha256", "sha384" */
    unsigned index;    /* 0..23 */
    char *value_hex;
};

struct tee_package {
    enum attest_type tee;          /* ATTEST_SGX unless "TEE" says otherwise */
    /* SGX (MarbleRun) */
    bool debug;                    /* all TEEs: must equal the reported debug flag */
    char *unique_id;               /* MRENCLAVE hex, NULL if unset */
    char *signer_id;               /* MRSIGNER hex */
    bool has_product_id;   uint64_t product_id;
    bool has_security_version; uint64_t security_version;
    char **accepted_tcb_statuses;  size_t n_accepted_tcb_statuses;  /* all TEEs with a TCB status */
    char **accepted_advisories;    size_t n_accepted_advisories;
    /* TDX */
    char *mrtd;
    char *rtmr[4];                 /* from "RTMR": {"0": hex, ...} */
    char *mr_config_id;
    char *mr_owner;
    char *mr_owner_config;
    /* SNP */
    char *measurement;
    char *host_data;
    char *id_key_digest;
    bool has_minimum_tcb;
    struct { uint8_t bootloader, tee, snp, microcode; } minimum_tcb;
    bool has_guest_svn;    uint32_t guest_svn;   /* minimum */
    /* TPM; PCRs also for TDX/SNP: the vTPM PCRs of an Azure confidential VM
     * (az-*-vtpm evidence), sha256 only */
    char **ak_roots_pem;           size_t n_ak_roots;
    struct tee_pcr *pcrs;          size_t n_pcrs;
    char *pcr_public_key;          /* "PCRPublicKey": PEM key that signs PCR 11 policies (systemd .pcrpkey) */
};

void tee_package_free(struct tee_package *p);   /* frees members, not p */

/* The effective TCB statuses accepted (MarbleRun: UpToDate always; empty list
 * means SWHardeningNeeded too). */
bool tee_tcb_status_accepted(const struct tee_package *p, const char *status);

/* Checks verified claims against the package: identity fields (CRYPTO_memcmp
 * on decoded bytes), SVN minimums, debug equality, TCB status and advisories.
 * Returns 0 or CAIRN_ERR_POLICY with the mismatching field named in err,
 * e.g. `mrenclave mismatch: expected 00.., got 11..`. */
int tee_policy_match(const struct tee_package *p, const struct attest_claims *c, struct cairn_error *err);

/* The PCRs of `p` against `pcrs` ({bank: {index: hex}}, the TPM verifier's
 * "pcrs" claim): each must be present and equal (CAIRN_ERR_POLICY naming
 * it). tee_policy_match applies it to a TPM package's quote and to the vTPM
 * quote ("vtpm" claim) of Azure evidence for a TDX/SNP package with PCRs;
 * TDX/SNP evidence without a vTPM fails such a package. */
int tee_pcrs_match(const struct tee_package *p, const json_t *pcrs, struct cairn_error *err);

#endif
