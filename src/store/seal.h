/* Internal: seal providers and the sealed state blobs (DESIGN §9, inventory §5).
 *
 * The state document is encrypted with a 32-byte data key (DEK) under
 * AES-256-GCM and stored as "sealed_data"; the DEK is sealed by a seal provider
 * and stored as "sealed_key":
 *   sealed_data = u32le(len(hdr)) || hdr || AES-GCM_DEK(nonce12 || ct || tag16)
 *                 (AAD = the first 4 + len(hdr) bytes)
 *   sealed_key  = "CSK2" || u8 provider || SHA-256(sealed_data) ||
 *                 AES-GCM_sealkey(nonce12 || DEK || tag16)  (AAD = the first 37 bytes)
 * hdr is public, authenticated data written in the same atomic replace as
 * the ciphertext it describes: the Coordinator puts the recovery data there
 * (which RecoveryKeys hold shares of this DEK, src/core/recovery.c), so the
 * recovery data on disk always belongs to the state on disk (issue 12 §1).
 * A sealed_key is bound to one exact sealed_data (the hash, authenticated by
 * the seal key): a sealed_key restored from an older backup, or one beside
 * other data, does not load; the Coordinator then enters recovery (issue 13
 * §4, MarbleRun binds its sealed key to the state the same way). Blobs
 * "CSK1" (no hash) of earlier versions are still read, and replaced by the
 * next save.
 * Providers:
 *   SEAL_SIM      a random key file "sim_seal_key" (0600) in the seal directory:
 *                 development only, anyone with the directory reads the state.
 *   SEAL_PRODUCT  Gramine SGX: <gramine_dir>/keys/_sgx_mrsigner (MRSIGNER-bound,
 *                 MarbleRun's ProductKey); 16 bytes stretched by HKDF-SHA256.
 *   SEAL_UNIQUE   Gramine SGX: <gramine_dir>/keys/_sgx_mrenclave (UniqueKey).
 * SealMode Disabled is not a provider: the Coordinator then keeps state in
 * memory only and never calls these functions.
 *
 * Crash safety across two names. Every save:
 *   1. writes the new key, bound to the new sealed_data, as "sealed_key.next";
 *   2. replaces sealed_data (the commit point);
 *   3. renames sealed_key.next over sealed_key.
 * Each step is an atomic replace (fsync of file and directory). Before 2 the
 * old sealed_key opens the old data; after 2 sealed_key.next opens the new
 * data; sealed_state_load tries both, uses the one bound to the data on
 * disk, renames it to sealed_key and removes a stale sealed_key.next before
 * anything else is written (a save does the same first, for a save that
 * failed without a restart). So a kill -9 or a failed write at any point
 * leaves a state that loads: the old or the new, with its own header. */
#ifndef CAIRN_STORE_SEAL_H
#define CAIRN_STORE_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "store/store.h"

enum seal_kind {
    SEAL_SIM = 1,
    SEAL_PRODUCT = 2,
    SEAL_UNIQUE = 3,
};

struct seal;   /* holds key material: seal_free wipes it */

const char *seal_kind_name(enum seal_kind k);   /* "simulation", "ProductKey", "UniqueKey" */

/* SEAL_SIM: `seal_dir` holds (or gets) the key file. SEAL_PRODUCT/UNIQUE:
 * `gramine_dir` (default "/dev/attestation") provides the key. */
int seal_open(enum seal_kind kind, const char *seal_dir, const char *gramine_dir, struct seal **out,
              struct cairn_error *err);
void seal_free(struct seal *s);
enum seal_kind seal_get_kind(const struct seal *s);

/* A public name of this seal key (SEAL_IDENTITY_SIZE bytes): HKDF-SHA256 of
 * the key under its own label, so it reveals nothing about the key. Two
 * seals have the same identity exactly when they have the same key and
 * provider. Used to give each seal its own slot for a sealed data key in
 * etcd (store/datakey.h). 0 or CAIRN_ERR_CRYPTO. */
#define SEAL_IDENTITY_SIZE 16
int seal_identity(const struct seal *s, uint8_t out[SEAL_IDENTITY_SIZE]);

/* Seals / unseals a 32-byte DEK (format above). seal_wrap_bound writes a
 * CSK2 blob bound to `bind` (the SHA-256 of the sealed_data it opens);
 * seal_wrap writes the unbound CSK1 blob of earlier versions (tests and
 * migration only). Unseal reads both; *bound tells which, and bind (may be
 * NULL) receives the authenticated hash of a CSK2 blob. It fails with
 * CAIRN_ERR_VERIFY when the provider's key does not open the blob, and
 * CAIRN_ERR_INVALID / CAIRN_ERR_UNSUPPORTED for malformed blobs or a blob of
 * another provider. *out is malloc'd (free). */
int seal_wrap_bound(const struct seal *s, const uint8_t dek[32], const uint8_t bind[32], uint8_t **out,
                    size_t *out_len, struct cairn_error *err);
int seal_wrap(const struct seal *s, const uint8_t dek[32], uint8_t **out, size_t *out_len, struct cairn_error *err);
int seal_unwrap_ex(const struct seal *s, const uint8_t *blob, size_t len, uint8_t dek[32], uint8_t bind[32],
                   bool *bound, struct cairn_error *err);
int seal_unwrap(const struct seal *s, const uint8_t *blob, size_t len, uint8_t dek[32], struct cairn_error *err);
/* The provider a sealed_key blob names (0 when it is no sealed key). */
enum seal_kind sealed_key_kind(const uint8_t *blob, size_t len);

/* Encrypts / decrypts the state document (format above). `recovery` may be
 * NULL. sealed_data_open returns CAIRN_ERR_VERIFY for a wrong DEK or any
 * modified byte, CAIRN_ERR_INVALID/TRUNCATED for a malformed blob.
 * Outputs malloc'd; the document is secret (cc_free_secret). */
int sealed_data_seal(const uint8_t dek[32], const uint8_t *recovery, size_t recovery_len, const uint8_t *doc,
                     size_t doc_len, uint8_t **out, size_t *out_len);
int sealed_data_open(const uint8_t dek[32], const uint8_t *blob, size_t len, uint8_t **doc, size_t *doc_len,
                     struct cairn_error *err);
/* The public header of a sealed_data blob, pointing into `blob` (not yet
 * authenticated: sealed_data_open checks it as AAD). CAIRN_ERR_TRUNCATED for
 * a malformed blob. */
int sealed_data_header(const uint8_t *blob, size_t len, const uint8_t **hdr, size_t *hdr_len);

enum sealed_load_result {
    SEALED_LOAD_EMPTY = 0,     /* no state yet */
    SEALED_LOAD_OK = 1,        /* *doc holds the state, *dek its key */
    SEALED_LOAD_UNSEAL_FAILED = 2, /* state exists but no sealed_key here opens it (-> Recovery) */
};

/* The seal of provider `kind`, or NULL (err set) when this machine has none. */
typedef struct seal *(*seal_lookup_fn)(void *ctx, enum seal_kind kind, struct cairn_error *err);

struct sealed_load {
    enum sealed_load_result result;
    uint8_t dek[32];           /* OK: the data key */
    enum seal_kind kind;       /* OK: the provider of the sealed_key used */
    uint8_t *doc;              /* OK: the state document (secret: cc_free_secret) */
    size_t doc_len;
    uint8_t *hdr;              /* OK and UNSEAL_FAILED: the sealed_data header (malloc'd, may be NULL) */
    size_t hdr_len;
    char why[300];             /* UNSEAL_FAILED: why no key opened the state */
};

/* Loads the sealed state from `st`, trying sealed_key, sealed_key.next and
 * (versions before the binding) sealed_key.prev with the seals `lookup`
 * gives, and repairs the names as described above. No usable key (missing,
 * bound to other data, not openable by this machine's seal) gives
 * UNSEAL_FAILED with the reason in `why`: recovery mode, not an exit.
 * A negative error for unreadable or malformed sealed_data, and for a
 * sealed_key that is no Cairn sealed key at all (another program's seal
 * directory: refused, left untouched). Free *out with sealed_load_clear. */
int sealed_state_load_ex(struct store *st, seal_lookup_fn lookup, void *ctx, struct sealed_load *out,
                         struct cairn_error *err);
void sealed_load_clear(struct sealed_load *l);
/* The same with one seal (tests): doc and dek as above, header dropped. */
int sealed_state_load(struct store *st, const struct seal *s, enum sealed_load_result *result, uint8_t dek[32],
                      uint8_t **doc, size_t *doc_len, struct cairn_error *err);

/* Writes the state `doc` under `dek` with the public header `hdr` (may be
 * NULL/0), by the three steps above. */
int sealed_state_save(struct store *st, const struct seal *s, const uint8_t dek[32], const uint8_t *hdr,
                      size_t hdr_len, const uint8_t *doc, size_t doc_len, struct cairn_error *err);

#endif
