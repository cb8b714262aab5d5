/* Internal: the Confidential Containers "initdata" document and the value a
 * TEE carries for it: SEV-SNP HOSTDATA, TDX MRCONFIGID, or (Azure vTPM) the
 * PCR 8 extension.
 *
 * Kata Containers puts the pod's agent policy into initdata (genpolicy adds
 * it as data."policy.rego" and sets the pod annotation
 * io.katacontainers.config.hypervisor.cc_init_data to base64(gzip(TOML))).
 * The runtime hashes the exact TOML bytes with the document's own
 * `algorithm` (sha256, sha384 or sha512; `version` must be "0.1.0") and
 * passes the digest to the TEE, truncated or zero-padded to the field:
 * 32 bytes for HOSTDATA, 48 for MRCONFIGID (kata-types initdata.rs
 * adjust_digest; the Go runtime's qemu.go adjustProperLength). On Azure
 * vTPM CVMs the attestation-agent instead extends PCR 8 once with the
 * SHA-256 digest, so PCR 8 = SHA-256(32 zero bytes || digest).
 *
 * Only the top-level `algorithm` and `version` keys are read; the rest of
 * the document is hashed, not interpreted. Top-level values must be
 * single-line or multi-line strings or single-line scalars (what initdata
 * documents hold); anything else is refused rather than guessed. Bounded
 * (INITDATA_MAX) and pure; nothing logs. */
#ifndef CAIRN_ATTEST_INITDATA_H
#define CAIRN_ATTEST_INITDATA_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define INITDATA_MAX (1u << 20)
#define INITDATA_HOSTDATA_LEN 32   /* SEV-SNP HOST_DATA */
#define INITDATA_MRCONFIGID_LEN 48 /* TDX MRCONFIGID */

struct initdata_digest {
    char algorithm[8];     /* "sha256", "sha384" or "sha512" */
    uint8_t digest[64];
    size_t digest_len;     /* 32, 48 or 64 */
    uint8_t host_data[INITDATA_HOSTDATA_LEN];
    uint8_t mr_config_id[INITDATA_MRCONFIGID_LEN];
    /* SHA-256(32 zero bytes || digest): Azure vTPM PCR 8; only for sha256 */
    uint8_t pcr8[32];
    int has_pcr8;
};

/* Reads the document's algorithm and version and computes the values above
 * over the exact bytes p[0..n). *out is written only on success;
 * CAIRN_ERR_INVALID (with the line) for a document that is not initdata,
 * CAIRN_ERR_UNSUPPORTED for another version or algorithm. */
int initdata_digest(const uint8_t *p, size_t n, struct initdata_digest *out, struct cairn_error *err);

/* The field value of `digest_len` bytes adjusted to `len`: truncated, or
 * zero-padded (Kata's convention). */
void initdata_adjust(const uint8_t *digest, size_t digest_len, uint8_t *out, size_t len);

#endif
