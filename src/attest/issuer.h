/* Internal: evidence issuers, run inside the TEE by cairn-premain and by the
 * Coordinator for its own quote (DESIGN §6).
 *
 * An issuer binds `report_data` (64 bytes; callers put SHA-256 of what they
 * bind in the first 32 and zeros after) into fresh evidence. For TPM the first
 * 32 bytes become the quote's qualifyingData. The wire form (activation
 * request) is produced by attest_evidence_to_json(). */
#ifndef CAIRN_ATTEST_ISSUER_H
#define CAIRN_ATTEST_ISSUER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/attest.h"

struct attest_issuer_config {
    const char *gramine_dir;     /* default "/dev/attestation" */
    const char *configfs_tsm;    /* default "/sys/kernel/config/tsm/report" */
    const char *tpm_tcti;        /* tss2 TCTI string, e.g. "swtpm:host=127.0.0.1,port=2321"; NULL = default */
    const char *tpm_pcrs;        /* PCR selection, e.g. "sha256:0,1,2,3,7,16"; NULL = "sha256:0-7,16" */
    const char *tpm_ak_cert;     /* path of a PEM file: AK certificate (+ chain) to attach; NULL = none */
    const char *tpm_ak_context;  /* path of an AK key context / persistent handle "0x81010002"; NULL = create */
    const char *tpm_eventlog;    /* path of a TCG event log to attach; NULL = none */
    const char *tpm_pcr_signature; /* path of systemd's tpm2-pcr-signature.json to attach; NULL = none */
};

/* Everything malloc'd, owned by the struct; free with attest_issued_free(). */
struct attest_issued {
    enum attest_type type;
    uint8_t *quote;     size_t quote_len;
    uint8_t *signature; size_t signature_len;
    char *certs;                              /* PEM, NUL-terminated */
    uint8_t *ak_pub;    size_t ak_pub_len;
    uint8_t *pcrs;      size_t pcrs_len;
    uint8_t *eventlog;  size_t eventlog_len;
    uint8_t *pcr_signature; size_t pcr_signature_len;  /* TPM: systemd tpm2-pcr-signature.json */
};

void attest_issued_free(struct attest_issued *e);

/* Produces evidence of `type` over `report_data`. ATTEST_SIM returns the
 * report data itself as the quote. */
int attest_issue(enum attest_type type, const uint8_t report_data[64], const struct attest_issuer_config *cfg,
                 struct attest_issued *out, struct cairn_error *err);

/* Picks the TEE available here: Gramine SGX (/dev/attestation/quote),
 * configfs-tsm (TDX or SNP by its provider file), a TPM (TCTI reachable);
 * ATTEST_SIM when none. */
enum attest_type attest_probe(const struct attest_issuer_config *cfg);

/* Wire form (DESIGN §6): SGX -> {"quote": b64}; others -> {"evidence": {"type",
 * "quote", "signature", "certs", "akPub", "pcrs", "eventlog", "pcrSignature"}} (bytes base64,
 * certs as PEM text, absent members omitted). Adds the members to `req`. */
int attest_evidence_to_json(const struct attest_issued *e, json_t *req);

/* Parses the wire form out of an activation request (`req` has "quote" or
 * "evidence"). Decoded bytes are owned by `out_storage` (free with
 * attest_issued_free); `out` borrows from it. Each member is capped at
 * 1 MiB. A request with neither is an error. */
int attest_evidence_from_json(const json_t *req, struct attest_issued *out_storage, struct attest_evidence *out,
                              struct cairn_error *err);

/* Per-type issuers (internal; attest_issue dispatches). Each returns
 * CAIRN_ERR_UNSUPPORTED when its device is absent. */
int sim_issue(const uint8_t report_data[64], struct attest_issued *out, struct cairn_error *err);
/* TPM through tss2-esys (tpm_issuer.c; contract in tpm.h): TPMS_ATTEST,
 * TPMT_SIGNATURE, AK TPMT_PUBLIC, PCR values JSON, optional AK cert/event log. */
int tpm_issue(const uint8_t report_data[64], const struct attest_issuer_config *cfg, struct attest_issued *out,
              struct cairn_error *err);
/* configfs-tsm (tsm.c): TDX quote (provider tdx_guest) or SNP report + PEM
 * certificates from the auxblob certificate table (provider sev_guest).
 * `want` must match the provider. tsm_exchange does the attribute I/O on an
 * existing report entry directory (tsm_issue = mkdir + tsm_exchange + rmdir). */
int tsm_issue(enum attest_type want, const uint8_t report_data[64], const struct attest_issuer_config *cfg,
              struct attest_issued *out, struct cairn_error *err);
int tsm_exchange(const char *entry, enum attest_type want, const uint8_t report_data[64], struct attest_issued *out,
                 struct cairn_error *err);
/* True when configfs-tsm works here; *out = ATTEST_TDX or ATTEST_SNP. */
bool tsm_probe(const struct attest_issuer_config *cfg, enum attest_type *out);

#endif
