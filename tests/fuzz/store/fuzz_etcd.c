/* libFuzzer: etcd's answers, JSON gateway and native gRPC messages, and
 * replica registry values (untrusted: etcd is outside the TEE). Every parser
 * must refuse or accept completely. */
#include <stddef.h>
#include <stdint.h>

#include "store/etcd.h"
#include "store/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    struct etcd_kvs r;
    struct etcd_txn_result t;
    struct etcd_watch_msg m;
    struct replica_info ri;
    if (etcd_parse_range(p, n, &r, NULL) == 0)
        etcd_kvs_clear(&r);
    if (etcd_parse_txn(p, n, &t, NULL) == 0)
        etcd_txn_result_clear(&t);
    if (etcd_parse_watch(p, n, &m, NULL) == 0)
        etcd_watch_msg_clear(&m);
    if (etcd_parse_range_pb(p, n, &r, NULL) == 0)
        etcd_kvs_clear(&r);
    if (etcd_parse_txn_pb(p, n, &t, NULL) == 0)
        etcd_txn_result_clear(&t);
    (void)registry_parse(p, n, NULL, &ri, NULL);
    return 0;
}
