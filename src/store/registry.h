/* Internal: the replica registry of Coordinators on etcd
 * (docs/high-availability.md).
 *
 * Every replica keeps one key alive under a lease (TTL REGISTRY_TTL_S,
 * renewed every second by src/core/ha.c):
 *     <prefix>replicas/<id>  =  {"id": "<id>", "client": "host:port",
 *                                "mesh": "host:port", "key": "host:port" | "",
 *                                "version": "<Cairn version>", "started": <unix seconds>}
 * id: 16 lowercase hex characters, random per process start. "client" and
 * "mesh" are the addresses clients and marbles dial (the bound ports);
 * "key" is the key API address of a replica that serves the data key to
 * peers (empty until that exists). The key disappears when the replica stops
 * renewing (crash, partition): within REGISTRY_TTL_S seconds.
 *
 * Values come from etcd (outside the TEE) and any process that can write
 * there: registry_parse is bounded and strict, and an address from the
 * registry is only a hint where to dial: whoever dials authenticates the
 * peer (attested TLS), never trusts the registry for identity. */
#ifndef CAIRN_STORE_REGISTRY_H
#define CAIRN_STORE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define REGISTRY_TTL_S 5
#define REGISTRY_MAX_VALUE 4096
#define REGISTRY_MAX_REPLICAS 256
#define REGISTRY_ADDR_MAX 256

struct etcd;

struct replica_info {
    char id[17];
    char client[REGISTRY_ADDR_MAX];
    char mesh[REGISTRY_ADDR_MAX];
    char key[REGISTRY_ADDR_MAX];   /* "" = no key API */
    char version[32];
    int64_t started;
};

/* *out: malloc'd JSON text (free). */
int registry_value(const struct replica_info *ri, char **out, struct cairn_error *err);
/* Parses one registry value; `key_id` (may be NULL) is the id in the etcd
 * key, which must equal the value's. */
int registry_parse(const uint8_t *p, size_t n, const char *key_id, struct replica_info *out, struct cairn_error *err);
/* Every live replica under `prefix` (ends with '/'), sorted by id; entries
 * that do not parse are skipped (counted in *out_bad, may be NULL).
 * *out: malloc'd array (free). */
int registry_list(struct etcd *e, const char *prefix, struct replica_info **out, size_t *out_n, size_t *out_bad,
                  struct cairn_error *err);

#endif
