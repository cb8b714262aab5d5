/* Test tool: one call of Cairn's etcd client (src/store/etcd.c) against the
 * endpoints given, for the hostile-wire test (test_etcd_wire_hostile.sh):
 *   etcd_call_tool ENDPOINTS get KEY      a Range of KEY (a prefix range)
 *   etcd_call_tool ENDPOINTS txn KEY      a Txn: put KEY, range the prefix
 * Prints "OK <n> <first key or ->" or "ERR <cairn error code> <message>";
 * exits 0 either way (the message is what the test checks), 2 on usage. */
#include <stdio.h>
#include <string.h>

#include "store/etcd.h"

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[2], "get") != 0 && strcmp(argv[2], "txn") != 0)) {
        fprintf(stderr, "usage: etcd_call_tool ENDPOINTS get|txn KEY\n");
        return 2;
    }
    struct etcd_config cfg = {.endpoints = argv[1], .timeout_ms = 3000};
    struct etcd *e = NULL;
    struct cairn_error err = {0};
    if (etcd_new(&cfg, &e, &err) != 0) {
        printf("ERR %d %s\n", err.code, cairn_error_msg(&err));
        return 0;
    }
    struct etcd_kvs kvs = {0};
    int rc;
    if (strcmp(argv[2], "get") == 0) {
        rc = etcd_get(e, argv[3], true, false, &kvs, &err);
    } else {
        struct etcd_op ops[2] = {
            {.kind = ETCD_OP_PUT, .key = argv[3], .value = (const uint8_t *)"v", .value_len = 1},
            {.kind = ETCD_OP_GET, .key = argv[3], .prefix = true},
        };
        struct etcd_txn_result t = {0};
        rc = etcd_txn(e, NULL, 0, ops, 2, NULL, 0, &t, &err);
        if (rc == 0 && t.n_gets == 1) {
            kvs = t.gets[0];
            t.gets[0] = (struct etcd_kvs){0};
        }
        etcd_txn_result_clear(&t);
    }
    if (rc == 0)
        printf("OK %zu %s\n", kvs.n, kvs.n > 0 ? kvs.kv[0].key : "-");
    else
        printf("ERR %d %s\n", err.code, cairn_error_msg(&err));
    etcd_kvs_clear(&kvs);
    etcd_free(e);
    return 0;
}
