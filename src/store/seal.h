/* Internal: seal providers and the sealed state blobs (DESIGN §9, inventory §5).
 *
 * The state document is encrypted with a 32-byte data key (DEK) under
 * AES-256-GCM and stored as "sealed_data"; the DEK is sealed by a seal provider
 * and stored as "sealed_key":
 *   sealed_data = u32le(len(recovery)) || recovery || AES-GCM_DEK(nonce12 || ct || tag16)
 *                 (AAD = the first 4 + len(recovery) bytes)
 *   sealed_key  = "CSK1" || u8 provider || AES-GCM_sealkey(nonce12 || DEK || tag16)
 *                 (AAD = the first 5 bytes)
 * Providers:
 *   SEAL_SIM      a random key file "sim_seal_key" (0600) in the seal directory:
 *                 development only, anyone with the directory reads the state.
 *   SEAL_PRODUCT  Gramine SGX: <gramine_dir>/keys/_sgx_mrsigner (MRSIGNER-bound,
 *                 MarbleRun's ProductKey); 16 bytes stretched by HKDF-SHA256.
 *   SEAL_UNIQUE   Gramine SGX: <gramine_dir>/keys/_sgx_mrenclave (UniqueKey).
 * SealMode Disabled is not a provider: the Coordinator then keeps state in
 * memory only and never calls these functions.
 *
 * Crash safety across two names: the DEK changes rarely (a new state). When
 * it does, sealed_state_save() first keeps the old sealed_key as
 * "sealed_key.prev", then writes sealed_key, then sealed_data, then removes
 * the backup; sealed_state_load() falls back to the backup when the current
 * key does not open the data, and then makes the backup the current key again
 * before anything else is saved (otherwise a second interrupted change would
 * back up the key that does not open the data). The same holds without a
 * restart: when a change failed at the data write and is retried, a backup
 * that opens the stored data is kept, not replaced by the orphaned key. So a
 * kill -9 or a failed write at any point leaves a loadable old or new state. */
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

/* Seals / unseals a 32-byte DEK (format above). Unseal fails with
 * CAIRN_ERR_VERIFY when the provider's key does not open it, and
 * CAIRN_ERR_INVALID / CAIRN_ERR_UNSUPPORTED for malformed blobs or a blob of
 * another provider. *out is malloc'd (free). */
int seal_wrap(const struct seal *s, const uint8_t dek[32], uint8_t **out, size_t *out_len, struct cairn_error *err);
int seal_unwrap(const struct seal *s, const uint8_t *blob, size_t len, uint8_t dek[32], struct cairn_error *err);

/* Encrypts / decrypts the state document (format above). `recovery` may be
 * NULL. sealed_data_open returns CAIRN_ERR_VERIFY for a wrong DEK or any
 * modified byte, CAIRN_ERR_INVALID/TRUNCATED for a malformed blob.
 * Outputs malloc'd; the document is secret (cc_free_secret). */
int sealed_data_seal(const uint8_t dek[32], const uint8_t *recovery, size_t recovery_len, const uint8_t *doc,
                     size_t doc_len, uint8_t **out, size_t *out_len);
int sealed_data_open(const uint8_t dek[32], const uint8_t *blob, size_t len, uint8_t **doc, size_t *doc_len,
                     struct cairn_error *err);

enum sealed_load_result {
    SEALED_LOAD_EMPTY = 0,     /* no state yet */
    SEALED_LOAD_OK = 1,        /* *doc holds the state, *dek its key */
    SEALED_LOAD_UNSEAL_FAILED = 2, /* state exists but the DEK cannot be unsealed here (-> Recovery) */
};

/* Loads the sealed state from `st`. Returns 0 with *result set, or a negative
 * error for every other failure (unreadable files, a DEK that unseals but
 * does not open the data, malformed blobs): the Coordinator exits then. */
int sealed_state_load(struct store *st, const struct seal *s, enum sealed_load_result *result, uint8_t dek[32],
                      uint8_t **doc, size_t *doc_len, struct cairn_error *err);

/* Writes the state: `dek_changed` true when `dek` differs from the DEK
 * currently stored (first save, new state), see the crash-safety note. */
int sealed_state_save(struct store *st, const struct seal *s, const uint8_t dek[32], bool dek_changed,
                      const uint8_t *doc, size_t doc_len, struct cairn_error *err);

#endif
