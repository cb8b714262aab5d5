/* Internal: the key API, by which Coordinator replicas hand each other the
 * data key (DESIGN §9; docs/high-availability.md "Sharing the data key").
 *
 * A replica that holds the key (the "holder") serves the key API on its own
 * TLS listener (default port 5433, as MarbleRun's key server). A replica that
 * needs the key (the "requester": a new replica, or one whose seal key is
 * gone) asks the holders it knows of, one after the other:
 *
 *   1. TLS 1.3 with a certificate on both sides: each side presents a
 *      self-signed certificate for a key it generated at start (never
 *      stored). Any certificate is accepted at the TLS layer; the evidence
 *      below authenticates it. A peer without TLS or without a client
 *      certificate never gets past the handshake.
 *   2. GET  /keyshare/v1/hello: {"version":1,"tee":"sgx"|...,"holdsKey":bool}.
 *      Tells the requester whether to ask this holder at all, and gives it the
 *      established connection whose exporter value it binds below.
 *   3. POST /keyshare/v1/key on the same connection with the requester's
 *      evidence. Report data (first 32 of 64 bytes, rest zero) =
 *        SHA-256(role label || 0x00 || SHA-256(own TLS certificate DER) ||
 *                TLS exporter("EXPORTER-cairn-key-api-v1", 32 bytes))
 *      with role label "cairn key API v1 requester". The exporter (RFC 8446
 *      §7.5) is the same on both ends of one TLS connection and differs on
 *      every other one, so evidence is fresh: captured evidence replayed on
 *      another connection, even with the same certificate and key, fails.
 *      The holder verifies the evidence (signature, chain, TCB, binding to the
 *      requester's certificate and this connection) and compares the claims
 *      with its OWN identity (ks_identity): only the same Coordinator package
 *      gets the key. It answers {"key": b64(32 bytes), "keyId": hex} plus its
 *      own evidence, bound the same way with role label
 *      "cairn key API v1 holder"; the requester checks it against its own
 *      identity before it uses the key (so an impostor holder cannot feed a
 *      replica a key of its choosing).
 * The key exists only inside TLS and in the replicas' memory; at rest each
 * replica seals it with its own seal key.
 *
 * Simulation (no TEE): evidence is type "sim" (report data in the clear, the
 * binding still checked) and the identity is the SHA-256 of the running
 * executable, sent as "simIdentity": only the same build gets the key, but
 * nothing proves the claim. Every such exchange is logged as a WARNING.
 *
 * Message parsers are pure (no I/O, no logging), bounded and fuzzed
 * (tests/fuzz/keyshare). */
#ifndef CAIRN_KEYSHARE_H
#define CAIRN_KEYSHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "attest/attest.h"
#include "attest/issuer.h"
#include "attest/policy.h"
#include "common/error.h"

#define KS_KEY_SIZE 32
#define KS_MAX_MSG (2u * 1024 * 1024)     /* bytes of one request or response body */
#define KS_MAX_HELLO 4096                 /* bytes of a hello response */
#define KS_PATH_HELLO "/keyshare/v1/hello"
#define KS_PATH_KEY "/keyshare/v1/key"
#define KS_LABEL_REQUESTER "cairn key API v1 requester"
#define KS_LABEL_HOLDER "cairn key API v1 holder"
#define KS_EXPORTER_LABEL "EXPORTER-cairn-key-api-v1"
#define KS_DEFAULT_PORT 5433
#define KS_MAX_REF 32                     /* bytes of a key reference */
/* The holder's listener (ks_server.c): connection budget and deadlines */
#define KS_MAX_CONNS 64
#define KS_MAX_CONNS_PER_ADDR 8           /* also the cap on unfinished handshakes per address */
#define KS_HANDSHAKE_TIMEOUT_S 2          /* accept -> handshake done, and -> first request byte */
#define KS_REQUEST_TIMEOUT_S 2            /* I/O idle; a request must be complete within 3x this */

/* ---- binding ---- */

/* The 64-byte report data that binds `cert` (the TLS certificate of the side
 * that issues the evidence) and the connection `ssl` for role `label`
 * (KS_LABEL_*). 0, or CAIRN_ERR_CRYPTO when the exporter fails (no TLS 1.3
 * connection). */
int ks_binding(const char *label, X509 *cert, SSL *ssl, uint8_t out[64]);
/* The same from parts: `cert_hash` = SHA-256(cert DER), `exporter` = the 32
 * exporter bytes. */
void ks_binding_raw(const char *label, const uint8_t cert_hash[32], const uint8_t exporter[32], uint8_t out[64]);
int ks_exporter(SSL *ssl, uint8_t out[32]);
/* hex(SHA-256("cairn key id v1" || key))[0..16): names a key in logs and
 * lets a requester tell which key it got, without revealing it. */
void ks_key_id(const uint8_t key[KS_KEY_SIZE], char out[17]);

/* ---- messages (pure, bounded) ---- */

/* A parsed request or response. The evidence members borrow from `store`;
 * free everything with ks_msg_clear. */
struct ks_msg {
    struct attest_issued store;
    struct attest_evidence ev;
    bool has_sim_identity;
    uint8_t sim_identity[32];
    /* request only: which key ("keyRef", 1..KS_MAX_REF bytes as hex), e.g.
     * the store's id of the data key a replica on etcd needs; 0 = the
     * holder's current key */
    uint8_t key_ref[KS_MAX_REF];
    size_t key_ref_len;
    /* response only */
    bool has_key;
    uint8_t key[KS_KEY_SIZE];     /* secret: ks_msg_clear wipes it */
    char key_id[17];
};

/* POST /keyshare/v1/key body: {"quote": b64} or {"evidence": {...}} (the
 * activation wire form, attest_evidence_from_json) plus optional
 * "simIdentity": 64 hex digits, and optional "keyRef": 2..64 hex digits. At most KS_MAX_MSG bytes, one JSON object,
 * no duplicate keys. 0, or CAIRN_ERR_TOO_LARGE / CAIRN_ERR_INVALID with the
 * reason; *out is written only on success. */
int ks_msg_parse_request(const uint8_t *body, size_t len, struct ks_msg *out, struct cairn_error *err);
/* The holder's answer: the same members plus "key" (base64 of exactly 32
 * bytes) and "keyId" (16 hex digits, must name that key). */
int ks_msg_parse_response(const uint8_t *body, size_t len, struct ks_msg *out, struct cairn_error *err);
void ks_msg_clear(struct ks_msg *m);

/* A hello answer: {"version": 1, "tee": name, "holdsKey": bool}. */
struct ks_hello {
    int version;
    enum attest_type tee;
    bool holds_key;
};
int ks_hello_parse(const uint8_t *body, size_t len, struct ks_hello *out, struct cairn_error *err);

/* ---- identity ---- */

/* What a peer must prove to be this Coordinator's package, built from this
 * replica's own verified evidence (its claims), never from configuration:
 *   sgx  product rule: MRSIGNER, ISVPRODID equal, ISVSVN >= own, debug equal;
 *        unique rule (SealMode UniqueKey): MRENCLAVE equal as well
 *   tdx  MRTD, RTMR0-2, MRCONFIGID equal, debug equal
 *   snp  MEASUREMENT, HOST_DATA equal, guest SVN >= own, debug equal,
 *        reported TCB components >= own (no TCB status from collateral)
 *   tpm  every PCR of the own quote equal, AK certified by the trust
 *        directory's AK roots (a bare AK is refused: any swtpm makes one)
 *   sim  SHA-256 of the executable (claimed, not proven)
 * TCB status: UpToDate, SWHardeningNeeded, or the one this replica itself has
 * ("NoCollateral" without a trust directory). */
struct ks_identity {
    enum attest_type type;
    struct tee_package product;   /* the product rule */
    struct tee_package unique;    /* the unique rule (SGX; same as product elsewhere) */
    uint8_t sim_identity[32];     /* sim only */
};

/* Fills `out` from this replica's own verified claims (type != sim). */
int ks_identity_from_claims(const struct attest_claims *own, struct ks_identity *out, struct cairn_error *err);
/* A sim identity: SHA-256 of the file `exe` (NULL: /proc/self/exe). */
int ks_identity_sim(const char *exe, struct ks_identity *out, struct cairn_error *err);
void ks_identity_clear(struct ks_identity *id);
/* Checks a peer's verified claims (and, for sim, its claimed identity)
 * against `id`. 0 or CAIRN_ERR_POLICY naming the field. */
int ks_identity_check(const struct ks_identity *id, bool unique, const struct attest_claims *peer,
                      const uint8_t *peer_sim_identity, struct cairn_error *err);

/* ---- what the key API needs from the Coordinator ---- */

struct ks_ops {
    void *ctx;
    /* This replica's TEE (ATTEST_SIM: none). */
    enum attest_type tee;
    /* Own evidence over `rd`, added to `out` as the activation wire form
     * ({"quote"} or {"evidence"}). */
    int (*issue)(void *ctx, const uint8_t rd[64], json_t *out, struct cairn_error *err);
    /* Verifies a peer's evidence with the Coordinator's trust (roots,
     * collateral, CRLs) and the binding `rd` (32 bytes); claims on success. */
    int (*verify)(void *ctx, const struct attest_evidence *ev, const uint8_t rd[32], struct attest_claims *out,
                  struct cairn_error *err);
    /* Holder side: the key named by `ref` (`ref_len` 0: the current one), or
     * CAIRN_ERR_NOT_FOUND when this replica holds none (or not that one).
     * *unique: the manifest asks for the unique identity rule. May be NULL
     * for a requester-only use. */
    int (*get_key)(void *ctx, const uint8_t *ref, size_t ref_len, uint8_t key[KS_KEY_SIZE], bool *unique,
                   struct cairn_error *err);
};

/* The ops of a Coordinator core (core_ops.c); `c` must outlive their use. */
struct core;
void ks_ops_from_core(struct core *c, struct ks_ops *out);

/* This replica's own identity: for a TEE, issue evidence over random report
 * data and verify it with ops->verify (so the identity is what a peer's
 * verifier would see); for sim, the executable's hash. */
int ks_identity_own(const struct ks_ops *ops, struct ks_identity *out, struct cairn_error *err);

/* ---- holder: the key API listener (ks_server.c) ---- */

struct ks_server;
/* Binds `addr` ("host:port", port 0 = ephemeral) and serves on one loop thread
 * of its own (evidence is issued per request; a slow quote must not stall the
 * client or mesh API). `ops` is copied; ops->ctx must outlive the server. */
int ks_server_start(const struct ks_ops *ops, const char *addr, struct ks_server **out, struct cairn_error *err);
int ks_server_port(const struct ks_server *s);
void ks_server_free(struct ks_server *s);   /* NULL ok */

/* ---- requester (ks_client.c) ---- */

struct ks_fetch_opts {
    long timeout_ms;        /* per holder, connection + both requests; 0 = 10000 */
    int rounds;             /* passes over the whole list at least; 0 = 1 */
    long backoff_ms;        /* pause between rounds, doubled each time; 0 = 200 */
    long max_backoff_ms;    /* cap of that pause; 0 = 2000 */
    /* after `rounds` passes, go on passing while some holder was reached
     * but its connection was reset or cut or timed out (its key API full of
     * idle or slow connections), until wait_ms after the first attempt; a
     * pass in which every holder answered (refused, holds no key) or had
     * nothing listening ends it. 0 = `rounds` passes only. */
    long wait_ms;
    /* optional: the current list of holders, asked before every pass after
     * the first (the registry again: a holder that registered meanwhile is
     * asked too). 0 with *out a malloc'd block (pointers and strings, one
     * free(*out)) that replaces the list; non-zero or an empty list keeps
     * the previous one. */
    int (*refresh)(void *ctx, char ***out, size_t *out_n);
    void *refresh_ctx;
};

/* Asks the holders in `peers` ("host:port", tried in order, every one in
 * each pass) for the key named by `ref` (NULL/0: the holder's current key)
 * and checks each answer as described above; passes and pauses as in `o`,
 * bounded by o->wait_ms (plus one holder's timeout). The first holder that passes gives
 * the key: 0, *key filled, `from` (may be NULL) names it. CAIRN_ERR_NOT_FOUND
 * when no holder gave one (every reason logged at WARNING). */
int ks_fetch(const struct ks_ops *ops, const char *const *peers, size_t n_peers, const uint8_t *ref, size_t ref_len,
             const struct ks_fetch_opts *o, uint8_t key[KS_KEY_SIZE], char *from, size_t from_len,
             struct cairn_error *err);

/* One exchange with one holder, with test knobs (tests/integration/keyshare
 * drive a misbehaving requester through them; production passes NULL). */
struct ks_tamper {
    bool wrong_binding;         /* bind a fresh random certificate hash instead of ours */
    const uint8_t *sim_identity;/* claim this identity instead of our own (sim) */
    const char *replay_body;    /* send this body verbatim (evidence of an earlier connection) */
    char **out_body;            /* receives the body sent (malloc'd) */
    X509 *cert;                 /* use this certificate and key instead of a fresh pair */
    EVP_PKEY *key;
};
int ks_fetch_one(const struct ks_ops *ops, const struct ks_identity *own, const char *peer, const uint8_t *ref,
                 size_t ref_len, long timeout_ms, const struct ks_tamper *t, uint8_t key[KS_KEY_SIZE],
                 struct cairn_error *err);

/* A fresh P-256 key and a self-signed certificate for it (CN = `cn`). */
int ks_ephemeral_cert(const char *cn, X509 **out_cert, EVP_PKEY **out_key, struct cairn_error *err);

#endif
