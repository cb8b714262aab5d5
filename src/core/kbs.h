/* Internal: key release to confidential-container pods over Trustee's KBS
 * attestation protocol, "RCAR" (docs/confidential-containers.md).
 *
 *   kbs_auth     Request {version, tee, extra-params} -> Challenge {nonce, extra-params}
 *                and a new session (cookie kbs-session-id)
 *   kbs_attest   Attestation {runtime-data {nonce, tee-pubkey}, tee-evidence, init-data?}
 *                on that session -> {"token": JWT}; the session becomes attested
 *   kbs_resource repository/type/tag with the session or the token -> a JWE of the
 *                manifest secret the workload may fetch, encrypted to tee-pubkey
 *
 * Policy is the manifest: evidence goes through Cairn's verifiers with the
 * trust directory (kbs_verify_evidence; no second verification path), then
 * must match the TDX/SNP package of a ConfidentialContainers workload (for
 * Azure vTPM evidence: the hardware claims of its SNP report or TD quote);
 * the workloads' Resources map paths to secrets. Tokens are ES256 JWTs signed by a per-process key whose
 * certificate the Intermediate CA issues (x5c: token cert, Intermediate,
 * Root), so they chain to the deployment root; they stop verifying when the
 * manifest changes. Every release is written to the update log and persisted
 * before the secret leaves.
 *
 * Like the rest of src/core it knows nothing of HTTP: results are a Trustee
 * error class plus a one-line detail; src/server/api_kbs.c maps the class to a
 * status and Trustee's problem type. All functions are thread-safe. */
#ifndef CAIRN_CORE_KBS_H
#define CAIRN_CORE_KBS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"
#include "attest/initdata.h"
#include "attest/kbs_evidence.h"
#include "core/core.h"

#define KBS_PROTOCOL_VERSION "0.4.0"   /* Trustee's KBS accepts exactly this (semver "=0.4.0") */
#define KBS_SESSION_ID_LEN 32          /* hex of 128 random bits (a UUID in simple form) */
#define KBS_MAX_BODY (8u * 1024u * 1024u)

/* Trustee's error classes (kbs/src/error.rs); kbs_err_type() gives the name
 * that ends the problem "type" URL. */
enum kbs_err {
    KBS_OK = 0,
    KBS_ERR_ATTESTATION,      /* AttestationError: auth/attest failed (401) */
    KBS_ERR_TOKEN_NOT_FOUND,  /* TokenNotFound: no session cookie nor bearer token (401) */
    KBS_ERR_TOKEN_VERIFIER,   /* TokenVerifierError: the token does not verify or expired (401) */
    KBS_ERR_POLICY_DENY,      /* PolicyDeny: the resource is not the workload's (401) */
    KBS_ERR_PLUGIN_INTERNAL,  /* PluginInternalError: the secret has no value (401) */
    KBS_ERR_JWE,              /* JweError (401) */
    KBS_ERR_INVALID_PATH,     /* InvalidRequestPath (404) */
    KBS_ERR_PLUGIN_NOT_FOUND, /* PluginNotFound (404) */
};
const char *kbs_err_type(enum kbs_err e);   /* "AttestationError", ... static */

struct kbs_config {
    unsigned session_ttl_s;   /* a session (cookie) lives this long from /auth; 0 = 300 */
    unsigned token_ttl_s;     /* token lifetime; 0 = 300 */
    size_t max_sessions;      /* 0 = 4096 */
};

struct kbs;

/* `c` is borrowed and must outlive the kbs. Generates the token key. */
int kbs_new(struct core *c, const struct kbs_config *cfg, struct kbs **out, struct cairn_error *err);
void kbs_free(struct kbs *k);   /* NULL ok */

struct kbs_cookie {
    char id[KBS_SESSION_ID_LEN + 1];
    time_t expires;
};

/* POST /kbs/v0/auth. *out_json: the Challenge (malloc'd). */
enum kbs_err kbs_auth(struct kbs *k, const uint8_t *body, size_t len, char **out_json, struct kbs_cookie *out_cookie,
                      struct cairn_error *err);

/* POST /kbs/v0/attest with the session `session_id` (NULL: none). The
 * session is consumed: a failed attestation ends it, so a nonce answers at
 * most one attestation. *out_json: {"token": ...} (malloc'd). */
enum kbs_err kbs_attest(struct kbs *k, const char *session_id, const uint8_t *body, size_t len, char **out_json,
                        struct kbs_cookie *out_cookie, struct cairn_error *err);

/* GET /kbs/v0/resource/<path> (`path` = "repository/type/tag", checked here)
 * authorised by the attested session `session_id` or the bearer `token`
 * (either may be NULL; the session is tried first, as Trustee does).
 * *out_jwe: the flattened JWE (malloc'd). */
enum kbs_err kbs_resource(struct kbs *k, const char *session_id, const char *token, const char *path, char **out_jwe,
                          struct cairn_error *err);

/* The names of the ConfidentialContainers workloads of `m` whose package the
 * verified claims `c` of `tee` evidence match (tee_policy_match), as a JSON
 * array (new reference); `why` (why_len bytes) gets the first mismatch.
 * "sample" (simulation) matches every workload. */
json_t *kbs_match_workloads(const struct manifest *m, enum kbs_tee t, const struct attest_claims *c, char *why,
                            size_t why_len);

/* The one verification of a session's primary evidence, for every TEE the
 * KBS serves: tdx, snp and sample are decoded (kbs_evidence_decode) and go
 * through attest_verify with the report data `rd` (the runtime-data digest,
 * zero-padded by the verifier); az-snp-vtpm and az-tdx-vtpm through
 * kbs_evidence_azure_verify, whose vTPM nonce must be `rd` exactly (Trustee
 * compares the unpadded digest). Both use the Coordinator's trust directory,
 * then core_trust_check_claims, and count in the evidence metrics under the
 * hardware type. With `init` (the Attestation's init-data, parsed), the
 * evidence must bind it: TDX MRCONFIGID, SNP HOST_DATA (kbs_init_data_check),
 * Azure PCR 8 (sha256 only); sample evidence has no such field and passes
 * (sample itself only when `c` runs in simulation mode).
 * *out (attest_claims_free) on success; err names the failing check. */
int kbs_verify_evidence(struct core *c, enum kbs_tee t, const json_t *primary, const uint8_t *rd, size_t rd_len,
                        const struct initdata_digest *init, struct attest_claims *out, struct cairn_error *err);

/* The init-data of an Attestation, {"format": "toml", "body": <TOML>} as
 * guest-components send it (Trustee's builtin attestation service refuses
 * other formats), digested by initdata_digest over the exact body bytes. */
int kbs_init_data_parse(const json_t *init, struct initdata_digest *out, struct cairn_error *err);

/* The Attestation's tee-evidence.additional_evidence (a JSON string): "" as
 * guest-components send it without device attesters, or a string holding
 * an empty JSON object (Trustee's document shows "{}"; its KBS parses the
 * string as a map TEE -> evidence) pass; device evidence is refused
 * (CAIRN_ERR_UNSUPPORTED, naming the devices) since Cairn verifies none;
 * anything else CAIRN_ERR_INVALID. The exact string is hashed into the
 * runtime data either way (kbs_runtime_data_digest). */
int kbs_additional_evidence_check(const json_t *add, struct cairn_error *err);

/* Verified TDX/SNP claims bind the init-data digest `d`: "mr_config_id" is
 * d->mr_config_id, "host_data" is d->host_data (Trustee's regularize_data:
 * truncated or zero-padded). Sample: 0 (nothing to check). Azure types:
 * CAIRN_ERR_UNSUPPORTED (their verifier checks PCR 8). */
int kbs_init_data_check(enum kbs_tee t, const struct initdata_digest *d, const struct attest_claims *c,
                        struct cairn_error *err);

/* Test hook: the token key's certificate for the current manifest (new
 * reference) to check the chain in unit tests. */
X509 *kbs_token_cert(struct kbs *k);

#endif
