/* Internal: the evidence shapes of Trustee's KBS protocol (guest-components'
 * attesters) and the binding of the protocol's runtime data, translated into
 * Cairn's one verification path (attest_verify, attest.h).
 *
 *   tdx    {"quote": base64 TD quote, "cc_eventlog": base64 CCEL | null}
 *   snp    {"attestation_report": {...}, "cert_chain": [{"cert_type","data"}] | null}
 *          where attestation_report is the serde form of virtee/sev's
 *          AttestationReport (one JSON member per report field, byte arrays as
 *          arrays of integers); it is re-encoded to the 0x4A0-byte report the
 *          signature covers, exactly as that crate encodes it
 *   sample {"svn": string, "report_data": base64} (simulation only: "sim")
 *
 * Runtime-data binding (guest-components kbs_protocol): the guest hashes the
 * RFC 8785 (JCS) serialisation of
 *   {"additional-evidence": <string>, "nonce": <challenge nonce>, "tee-pubkey": <JWK>}
 * with SHA-384 (the default when the challenge selects no algorithm) and
 * puts the digest, zero-padded, into the report data.
 *
 * Everything here parses untrusted JSON: bounded, no I/O, no logging, outputs
 * written only on success. */
#ifndef CAIRN_ATTEST_KBS_EVIDENCE_H
#define CAIRN_ATTEST_KBS_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "attest/attest.h"

#define KBS_EVIDENCE_MAX_QUOTE (64u * 1024u)        /* decoded TD quote */
#define KBS_EVIDENCE_MAX_EVENTLOG (2u * 1024u * 1024u)
#define KBS_EVIDENCE_MAX_CERTS 8                    /* cert_chain entries */
#define KBS_EVIDENCE_MAX_CERT (16u * 1024u)         /* one DER certificate */
#define KBS_SNP_REPORT_SIZE 0x4A0

/* The "tee" values of kbs-types that Cairn knows. */
enum kbs_tee {
    KBS_TEE_TDX,
    KBS_TEE_SNP,
    KBS_TEE_SAMPLE,
    KBS_TEE_AZ_SNP_VTPM,
    KBS_TEE_AZ_TDX_VTPM,
    KBS_TEE_UNSUPPORTED,   /* named by kbs-types, not verified by Cairn (sgx, cca, se, ...) */
};

/* Exact, case-sensitive as kbs-types' serde names. CAIRN_ERR_INVALID for a
 * name kbs-types does not have. */
int kbs_tee_parse(const char *s, enum kbs_tee *out);
const char *kbs_tee_name(enum kbs_tee t);

/* Decoded evidence bytes; attest_evidence borrows them. */
struct kbs_evidence_store {
    uint8_t *quote;    size_t quote_len;
    uint8_t *eventlog; size_t eventlog_len;
    char *certs;       size_t certs_len;    /* PEM, concatenated */
};
void kbs_evidence_store_free(struct kbs_evidence_store *s);   /* zeroes; NULL ok */

/* Decodes `primary_evidence` of `tee` (KBS_TEE_TDX, _SNP or _SAMPLE) into
 * `out` (borrowing from `st`). CAIRN_ERR_INVALID names the member that is
 * wrong; CAIRN_ERR_UNSUPPORTED for other tees. */
int kbs_evidence_decode(enum kbs_tee tee, const json_t *primary, struct kbs_evidence_store *st,
                        struct attest_evidence *out, struct cairn_error *err);

/* The serde JSON of virtee/sev's AttestationReport for a raw report (the
 * inverse of the decoder; tests and tools use it). New reference or NULL. */
json_t *kbs_snp_report_to_json(const uint8_t report[KBS_SNP_REPORT_SIZE]);

/* RFC 8785 serialisation of a JSON value made of objects and strings only
 * (what the runtime data is). *out: malloc'd, NUL-terminated. */
int kbs_jcs(const json_t *v, char **out, size_t *out_len, struct cairn_error *err);

/* SHA-384 over kbs_jcs({"additional-evidence": additional, "nonce": nonce,
 * "tee-pubkey": jwk}) into out[48]. */
int kbs_runtime_data_digest(const char *nonce, const json_t *jwk, const char *additional, uint8_t out[48],
                            struct cairn_error *err);

#endif
