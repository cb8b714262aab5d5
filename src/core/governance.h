/* Internal: users, secrets, updates and recovery (issue 6; inventory §1.7,
 * §1.9, §1.10, §2.2, §2.3, §5, §6; DESIGN §8, §9).
 *
 * Users authenticate with a TLS client certificate that is DER-equal to a
 * manifest user's certificate (no chain, expiry or issuer check, as
 * MarbleRun). Permissions come from the user's roles: ResourceType
 * (case-sensitive) Packages/Secrets/Manifest, Actions (case-insensitive)
 * UpdateSecurityVersion, ReadSecret/WriteSecret, UpdateManifest, and a check
 * passes only when the user holds the action on ALL requested names.
 *
 * Every operation that changes the state builds a new snapshot outside the
 * state lock, under the admin lock, and installs it with one commit that
 * persists snapshot and update log together: a refused or failed request
 * leaves state, log and pending update exactly as they were.
 *
 * Error codes (src/server maps them to HTTP statuses):
 *   CAIRN_ERR_UNAUTHENTICATED  no or unknown client certificate (401)
 *   CAIRN_ERR_PERMISSION       the user lacks a permission; the message names
 *                              user, action, resource type and name
 *   CAIRN_ERR_STATE            wrong Coordinator state
 *   CAIRN_ERR_NOT_FOUND        no update in progress (404) / unknown secret
 *   CAIRN_ERR_INVALID          the request breaks a rule (message names it)
 *   CAIRN_ERR_VERIFY           a recovery secret or signature does not verify
 *   others                     internal failures
 * All messages are one line. Outputs are written only on success. */
#ifndef CAIRN_CORE_GOVERNANCE_H
#define CAIRN_CORE_GOVERNANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "common/error.h"
#include "core/core.h"
#include "manifest/manifest.h"

/* ---- users.c --------------------------------------------------------------- */

/* Action names as MarbleRun's permission IDs compare them (case-insensitive). */
#define GOV_READ_SECRET "ReadSecret"
#define GOV_WRITE_SECRET "WriteSecret"
#define GOV_UPDATE_SVN "UpdateSecurityVersion"
#define GOV_UPDATE_MANIFEST "UpdateManifest"

/* The manifest user whose certificate equals `peer` (DER). *out is borrowed
 * from `m`. CAIRN_ERR_UNAUTHENTICATED when peer is NULL or matches no user. */
int gov_user_auth(const struct manifest *m, X509 *peer, const struct manifest_user **out, struct cairn_error *err);

/* True when one of the user's roles has `resource_type` (exact), `action`
 * (case-insensitive) and, unless `name` is NULL, `name` among its resources. */
bool gov_user_has(const struct manifest *m, const struct manifest_user *u, const char *resource_type,
                  const char *action, const char *name);

/* Requires `action` on every one of `names` (n may be 0 for Manifest).
 * CAIRN_ERR_PERMISSION naming user, action, resource type and the first
 * name not granted. */
int gov_require(const struct manifest *m, const struct manifest_user *u, const char *resource_type,
                const char *action, const char *const *names, size_t n, struct cairn_error *err);

/* The names of users holding UpdateManifest, sorted (borrowed from m). *out:
 * free() the array only. */
int gov_update_users(const struct manifest *m, const char ***out, size_t *out_n);

/* ---- secrets.c ------------------------------------------------------------- */

/* GET /secrets: the named secrets' values {name: Secret} (new reference; holds
 * secret bytes). Needs ReadSecret on all names; every name must be a manifest
 * secret with a value (user-defined ones must have been uploaded). */
int gov_secrets_get(struct core *c, X509 *peer, const char *const *names, size_t n, json_t **out,
                    struct cairn_error *err);

/* POST /secrets: `secrets` is {name: UserSecret}. Needs WriteSecret on all
 * names; validated (manifest_user_secrets_parse) and dry-run rendered, then
 * stored all at once with one "Secret set" log line per secret. */
int gov_secrets_set(struct core *c, X509 *peer, const json_t *secrets, struct cairn_error *err);

/* Activation (inventory §3.2 step 6): the .Previous.Secrets of one marble,
 * as MarbleRun builds them: the snapshot's stored previous values
 * (gov_previous_stored), plus the marble's private symmetric keys derived
 * from the previous root secret (the current one until a RotateRootSecret
 * update; the current manifest's definitions, same UUID and type binding),
 * plus its current private certificates (MarbleRun signs fresh ones for the
 * previous set too; reusing them avoids a second key generation). Before any
 * update this equals the current secrets, except that user-defined secrets
 * are MarbleRun's empty placeholders (their uploads never touch the previous
 * values). `priv` is the marble's current private set (borrowed).
 * *out: new set (never NULL on success). */
int gov_previous_secrets(const struct core_snap *s, const char *uuid, const char *type,
                         const struct manifest_secret_set *priv, struct manifest_secret_set **out,
                         struct cairn_error *err);

/* The stored previous values of snapshot `s` (shared and user-defined
 * secrets): s->previous_secrets once a full update wrote them, else what
 * MarbleRun's SetManifest stores: the shared values as they are now and an
 * empty placeholder for each user-defined secret. *out: new set. */
int gov_previous_stored(const struct core_snap *s, struct manifest_secret_set **out, struct cairn_error *err);

/* An empty placeholder value for definition `d` (borrows d->name). */
void gov_secret_placeholder(const struct manifest_secret *d, struct manifest_secret_value *out);

/* ---- updates.c ------------------------------------------------------------- */

/* POST /update. A package-only manifest raises SecurityVersions at once
 * (UpdateSecurityVersion on all packages); any other manifest starts a
 * multi-party update (UpdateManifest), applied when enough users agreed.
 * *out: {"missingAcknowledgments": n, "missingUsers": [...], "recoverySecrets"?}
 * (new reference). */
int gov_update(struct core *c, X509 *peer, const uint8_t *raw, size_t len, json_t **out, struct cairn_error *err);

/* GET /update-manifest: {"manifest": b64, "message": "...", "missingUsers": [...]};
 * CAIRN_ERR_NOT_FOUND "no update in progress". */
int gov_update_pending(struct core *c, json_t **out, struct cairn_error *err);

/* POST /update-manifest: `raw` must be byte-identical to the pending manifest.
 * *out: {"message", "missingUsers", "missingAcknowledgments", "recoverySecrets"?}. */
int gov_update_ack(struct core *c, X509 *peer, const uint8_t *raw, size_t len, json_t **out,
                   struct cairn_error *err);

/* POST /update-cancel (UpdateManifest). */
int gov_update_cancel(struct core *c, X509 *peer, struct cairn_error *err);

/* Called by the state loader for every loaded snapshot in state 3: applies
 * the persisted SecurityVersion overrides to s->manifest and keeps `gov`
 * (borrowed, may be NULL) as s->gov. */
int gov_snap_loaded(struct core_snap *s, const json_t *gov, struct cairn_error *err);

/* A mutable copy of `cur` (manifest re-parsed from the raw bytes with the SVN
 * overrides applied, certificates and keys shared by reference, secret sets
 * and `gov` deep-copied), not finished: the caller changes it, then calls
 * core_snap_finish(). NULL on failure (err set). */
struct core_snap *gov_snap_clone(struct core *c, const struct core_snap *cur, struct cairn_error *err);

/* ---- recovery.c ------------------------------------------------------------ */

struct gov_recovery;
void gov_recovery_free(struct gov_recovery *r);   /* wipes; NULL ok */

/* A new random DEK and its RecoverySecrets (inventory §5): none (json null),
 * one key (RSA-OAEP-SHA256 of the DEK), XOR shares (RecoveryThreshold 0 or n)
 * or Shamir shares (2 <= threshold < n, 33 bytes each). *meta (new reference
 * or NULL when no keys): the public recovery data (mode, threshold, each
 * key's PEM and the SHA-256 of its share), committed with the DEK in the
 * sealed_data header (core_commit_rekey). */
int gov_recovery_secrets(const struct manifest *m, uint8_t dek[32], json_t **out, json_t **meta,
                         struct cairn_error *err);

/* The "recovery_data" file of versions before issue 12. With `adopt` (at a
 * state-3 load of manifest `m`, `have_header` false): when exactly one of
 * the file's key sets describes m's RecoveryKeys, *adopt receives it as the
 * header to write into sealed_data (malloc'd); otherwise it reports loudly
 * (LOG_ERROR) and returns non-zero, keeping the file for state 1. Without
 * `adopt`, or when sealed_data has a header: removes the file (best effort). */
int gov_recovery_legacy(struct core *c, const struct manifest *m, bool have_header, char **adopt);

/* True when two manifests' RecoveryKeys (names and PEMs) and
 * RecoveryThreshold are the same (no new DEK needed on update). */
bool gov_recovery_keys_equal(const struct manifest *a, const struct manifest *b);

/* Parses and checks the recovery data (untrusted bytes from the seal
 * directory): format, mode/threshold consistent with the number of keys,
 * each key {"pem": string, "share": 64 lowercase hex}. *out: new reference. */
int gov_recovery_meta_parse(const uint8_t *data, size_t len, json_t **out, struct cairn_error *err);

/* Starts generating the ephemeral RSA-4096 key on a background thread
 * (core_new calls it when the Coordinator enters state 1), so that no
 * request waits for it. Best effort: a failure is logged and the first
 * public-key request starts the thread instead. */
void gov_recovery_start(struct core *c);
/* Waits for that generation to finish (core_new, before anything is
 * served: the public key is then ready at the first request). */
void gov_recovery_wait(struct core *c);

/* GET /recover/public-key (state 1): the ephemeral RSA-4096 key, PKIX DER
 * (malloc'd), kept until recovery completes. Never blocks on generation:
 * normally the key exists before the first request (gov_recovery_wait);
 * if its generation failed, this starts it again and answers
 * CAIRN_ERR_TIMEOUT ("still being generated: retry", HTTP 503) until done. */
int gov_recover_public_key(struct core *c, uint8_t **out_der, size_t *out_len, struct cairn_error *err);

/* POST /recover (state 1). `secret` is 16/32/33 bytes, or an RSA-OAEP
 * ciphertext under the ephemeral key (CAIRN_ERR_INVALID with "decrypting"
 * when that fails). The signature (PKCS#1 v1.5, SHA-256 of the plain secret)
 * must verify with the recovery key the secret belongs to. On the last
 * secret the state is opened, checked against the sealed manifest's
 * RecoveryKeys, resealed with the local key and the Coordinator enters
 * state 3. *remaining and *message (malloc'd) as MarbleRun answers. A refused
 * secret leaves the collected ones unchanged. */
int gov_recover(struct core *c, const uint8_t *secret, size_t secret_len, const uint8_t *sig, size_t sig_len,
                int *remaining, char **message, struct cairn_error *err);

#endif
