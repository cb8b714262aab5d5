/* Internal: an etcd v3 client (libcurl). Range and Txn, the calls of every
 * activation's group commit, speak etcd's native gRPC (HTTP/2 through
 * libcurl + nghttp2, messages of etcd_kv.proto through protobuf-c); lease
 * calls and the watch stream go through etcd's JSON gateway (jansson).
 * ETCD_WIRE_GATEWAY sends Range and Txn through the gateway too (for a
 * proxy that passes only HTTP/1.1, and to compare the two).
 *
 * Why this split: docs/high-availability.md ("The etcd client"). In short:
 * Debian's libgrpc has no C API meant for applications, so the gRPC calls
 * are libcurl's HTTP/2 with gRPC's 5-byte framing (the same as libcairn's
 * MarbleRun activation); the gateway's JSON <-> gRPC hop inside etcd cost
 * etcd's leader ~400 us of CPU per transaction at the rate of the
 * benchmark's group commits, about a quarter of etcd's cost per activation.
 * The watch and the keep-alives are one stream and one call a second: the
 * gateway's cost there does not matter.
 *
 * etcd is outside the TEE: every byte it answers is untrusted. Responses are
 * capped (ETCD_MAX_RESPONSE), parsed by etcd_parse_* (pure functions, fuzzed:
 * tests/fuzz/store), integers are decimal strings parsed exactly (never via
 * double), keys and values are strict base64. What the Coordinator stores
 * there is sealed or MACed by the caller (src/core/ha.c); this module only
 * moves bytes.
 *
 * Endpoints: "host:port[,host:port...]", each optionally with http:// or
 * https:// (default: https when a CA file is given, else http). A request
 * goes to the current endpoint; when it cannot connect, the next one is
 * tried (at most once each). A request that was sent but timed out is NOT
 * retried: a transaction may have been applied, so the caller gets
 * CAIRN_ERR_TIMEOUT ("outcome unknown"), never a silent second try.
 *
 * Errors: CAIRN_ERR_NETWORK (no endpoint reachable, etcd unavailable or
 * without quorum/leader), CAIRN_ERR_TIMEOUT (no answer in time: outcome
 * unknown), CAIRN_ERR_PROTOCOL (malformed answer), CAIRN_ERR_TOO_LARGE.
 * All functions are thread-safe (a pool of curl handles). */
#ifndef CAIRN_STORE_ETCD_H
#define CAIRN_STORE_ETCD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define ETCD_MAX_RESPONSE (96u * 1024 * 1024)   /* bytes of one answer (base64 of a large state) */
#define ETCD_MAX_KEY 1024                          /* bytes of one key we accept from etcd */
#define ETCD_MAX_KVS 100000                        /* kvs in one range answer */
#define ETCD_MAX_EVENTS 100000                     /* events in one watch message */
#define ETCD_MAX_ENDPOINTS 16

enum etcd_wire { ETCD_WIRE_GRPC = 0, ETCD_WIRE_GATEWAY };

struct etcd_config {
    const char *endpoints;   /* see above; borrowed during etcd_new */
    enum etcd_wire wire;     /* of Range and Txn; default gRPC */
    const char *ca_file;     /* PEM CA of etcd's server certificate (https); NULL = none */
    const char *cert_file;   /* client certificate (PEM) for etcd's --client-cert-auth; NULL = none */
    const char *key_file;    /* its key (PEM) */
    long timeout_ms;         /* per request; 0 = 2000 */
};

struct etcd;

int etcd_new(const struct etcd_config *cfg, struct etcd **out, struct cairn_error *err);
void etcd_free(struct etcd *e);   /* NULL ok; no call may be running */
/* The endpoint requests currently go to ("http://127.0.0.1:2379"; static until etcd_free). */
const char *etcd_endpoint(struct etcd *e);
/* How Range and Txn reach etcd: "grpc" or "gateway". */
const char *etcd_wire_name(const struct etcd *e);

/* One key-value pair. key is NUL-terminated (keys holding a NUL byte are
 * refused by the parser); value is malloc'd (may be NULL when empty). */
struct etcd_kv {
    char *key;
    uint8_t *value;
    size_t value_len;
    int64_t create_rev, mod_rev, version, lease;
};

struct etcd_kvs {
    struct etcd_kv *kv;   /* owned: etcd_kvs_clear */
    size_t n;
    int64_t revision;     /* the store revision of the answer (header) */
};

void etcd_kv_clear(struct etcd_kv *kv);
void etcd_kvs_clear(struct etcd_kvs *kvs);

/* Range read of `key`, or of every key starting with `key` (prefix).
 * Linearizable (etcd's default): it goes through the leader, so it fails
 * without quorum. keys_only: values are not transferred. */
int etcd_get(struct etcd *e, const char *key, bool prefix, bool keys_only, struct etcd_kvs *out,
             struct cairn_error *err);

enum etcd_cmp_target { ETCD_CMP_MOD, ETCD_CMP_CREATE, ETCD_CMP_VERSION };
enum etcd_cmp_result { ETCD_CMP_EQUAL, ETCD_CMP_LESS };
struct etcd_cmp {
    const char *key;
    enum etcd_cmp_target target;
    int64_t rev;                  /* the revision (MOD, CREATE) or version (VERSION) compared with; an
                                   * absent key compares as a zero kv (0 EQUAL 0 holds) */
    enum etcd_cmp_result result;  /* default EQUAL */
    bool prefix;                  /* every key starting with key must satisfy it (etcd's range_end; an
                                   * empty range holds) */
};

enum etcd_op_kind { ETCD_OP_PUT, ETCD_OP_DEL, ETCD_OP_GET };
struct etcd_op {
    enum etcd_op_kind kind;
    const char *key;
    bool prefix;            /* DEL/GET: every key starting with key */
    const char *range_end;  /* DEL: every key in [key, range_end) instead (prefix ignored); NULL = none */
    bool keys_only;         /* GET: no values */
    const uint8_t *value;   /* PUT */
    size_t value_len;
    int64_t lease;          /* PUT: 0 = none */
};

struct etcd_txn_result {
    bool succeeded;
    int64_t revision;        /* header revision: the revision of the writes on success */
    struct etcd_kvs *gets;   /* one per ETCD_OP_GET of the executed branch, in order (owned) */
    size_t n_gets;
};
void etcd_txn_result_clear(struct etcd_txn_result *r);

/* One transaction: if every compare holds, the success ops, else the
 * failure ops; atomically. */
int etcd_txn(struct etcd *e, const struct etcd_cmp *cmp, size_t n_cmp, const struct etcd_op *succ, size_t n_succ,
             const struct etcd_op *fail, size_t n_fail, struct etcd_txn_result *out, struct cairn_error *err);

int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *out_id, struct cairn_error *err);
/* Renews the lease; *out_ttl 0 means it had expired (grant a new one). */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *out_ttl, struct cairn_error *err);
int etcd_lease_revoke(struct etcd *e, int64_t id, struct cairn_error *err);

/* Makes the member that is raft leader (asked in turn, each within
 * timeout_ms) the endpoint requests go to first. Any member serves any
 * request, but a follower forwards writes and linearizable reads to the
 * leader: one more hop and etcd CPU per call. Returns the leader's index,
 * -1 when none answered as leader (nothing changes). */
int etcd_prefer_leader(struct etcd *e, long timeout_ms);

/* ---- watch ---- */

enum etcd_event_type { ETCD_EVENT_PUT = 0, ETCD_EVENT_DELETE = 1 };
struct etcd_event {
    enum etcd_event_type type;
    struct etcd_kv kv;
};

struct etcd_watch_msg {
    bool created, canceled;
    int64_t revision;          /* header revision */
    int64_t compact_revision;  /* > 0: the start revision was compacted away */
    struct etcd_event *events; /* owned */
    size_t n_events;
};
void etcd_watch_msg_clear(struct etcd_watch_msg *m);

/* Called for every message of the stream; a non-zero return ends the watch
 * with that value. */
typedef int (*etcd_watch_fn)(void *arg, const struct etcd_watch_msg *m);

/* Watches the keys under `prefix` from the key `from` on (`from` = prefix:
 * all of them; the keys of the prefix below `from` are not watched), from
 * revision `start_rev` (0 = now), until `stop` becomes true (libcurl's
 * progress callback checks it about once a second), the callback returns
 * non-zero, or the stream breaks (then an error: the caller reconnects from
 * its last revision + 1). Blocks; runs on the caller's thread with a curl
 * handle of its own. */
int etcd_watch(struct etcd *e, const char *from, const char *prefix, int64_t start_rev, etcd_watch_fn fn, void *arg,
               atomic_bool *stop, struct cairn_error *err);

/* ---- parsers of etcd's answers (pure; tests/fuzz/store) ---- */

/* A range answer ({"header":..,"kvs":[..],"count":..}). */
int etcd_parse_range(const uint8_t *p, size_t n, struct etcd_kvs *out, struct cairn_error *err);
/* A txn answer; every response_range of the executed branch is collected
 * into out->gets, in order. */
int etcd_parse_txn(const uint8_t *p, size_t n, struct etcd_txn_result *out, struct cairn_error *err);
/* One line of the watch stream ({"result":{...}} or {"error":{...}}). */
int etcd_parse_watch(const uint8_t *p, size_t n, struct etcd_watch_msg *out, struct cairn_error *err);
/* The same two answers as native gRPC messages (RangeResponse,
 * TxnResponse of etcd_kv.proto), without the 5-byte gRPC prefix. */
int etcd_parse_range_pb(const uint8_t *p, size_t n, struct etcd_kvs *out, struct cairn_error *err);
int etcd_parse_txn_pb(const uint8_t *p, size_t n, struct etcd_txn_result *out, struct cairn_error *err);
/* A decimal int64 as the gateway writes it ("123" or 123); false when not one. */
bool etcd_parse_int64(const void *json_value, int64_t *out);

#endif
