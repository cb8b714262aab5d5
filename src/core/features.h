/* Internal: the endpoints behind MarbleRun's Config.FeatureGates
 * (inventory §1.10, §2.2): POST /api/v2/sign-quote (SignQuoteEndpoint) and
 * POST /api/v2/monotonic-counter (MonotonicCounter). Logic only; the HTTP
 * handlers are in src/server/api_features.c. */
#ifndef CAIRN_CORE_FEATURES_H
#define CAIRN_CORE_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "core/core.h"

#define CORE_GATE_SIGN_QUOTE "SignQuoteEndpoint"
#define CORE_GATE_MONOTONIC_COUNTER "MonotonicCounter"
#define CORE_MONO_MAX_COUNTERS 4096    /* counters in one state: bounds the sealed state (~2 MB) */
#define CORE_MONO_NAME_MAX 256         /* bytes of a counter name */

/* Whether the current manifest lists `gate` in Config.FeatureGates
 * (case-insensitive, as MarbleRun). False without a manifest. */
bool core_feature_enabled(struct core *c, const char *gate);

/* MarbleRun's VerifyMarble: state 3, `peer` signed by the current Marble
 * Root, CN a UUID, extension 1.3.9903.2.1 (the marble type). Fills type
 * (malloc'd) and uuid (16 bytes). CAIRN_ERR_UNAUTHENTICATED on refusal. */
int core_marble_auth(struct core *c, X509 *peer, char **type, uint8_t uuid[16], struct cairn_error *err);

/* Raises counter (type, uuid, name) to `value` if that is larger and returns
 * the previous value in *prev (0 for a new counter), as MarbleRun. The new
 * value is in the sealed state before this returns 0; a counter never goes
 * backwards, also across restarts and kill -9. */
int core_mono_set(struct core *c, const char *type, const uint8_t uuid[16], const char *name, uint64_t value,
                  uint64_t *prev, struct cairn_error *err);

/* Verifies an SGX quote (raw DCAP quote, or behind Open Enclave's 16-byte
 * header) with the trust directory's roots and collateral and signs
 * SHA-256(base64(quote as sent) || tcb_status) with the Coordinator's root
 * key (ECDSA P-384, ASN.1 DER), as MarbleRun. The quote is not matched
 * against the manifest's packages (MarbleRun does not either).
 * CAIRN_ERR_VERIFY (with the reason) when the quote does not verify or no
 * TCB status can be determined (no collateral for the platform).
 * *tcb_status and *sig: malloc'd. */
int core_sign_quote(struct core *c, const uint8_t *quote, size_t len, char **tcb_status, uint8_t **sig,
                    size_t *sig_len, struct cairn_error *err);

#endif
