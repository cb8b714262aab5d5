/* failover_bench MESH_LIST SECONDS: activates marble type "free" (sim
 * evidence) in a loop through cairn_marble_activate_failover over the
 * replicas in MESH_LIST for SECONDS, printing one line per attempt:
 *   ok <unix ms>            or   fail <unix ms> <reason>
 * and every failover step as "step <unix ms> <message>". bench/failover.sh
 * kills the replica in use and reads when the next activation succeeded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/marble.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void step(void *arg, const char *msg)
{
    (void)arg;
    printf("step %lld %s\n", now_ms(), msg);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: failover_bench MESH_LIST SECONDS\n");
        return 2;
    }
    long long end = now_ms() + atoll(argv[2]) * 1000;
    struct cairn_marble_config cfg = {.coordinator_addr = argv[1], .marble_type = "free",
                                      .evidence_type = "sim", .timeout_ms = 2000};
    struct cairn_failover fo = {.rounds = 1, .progress = step};
    char uuid[37];
    while (now_ms() < end) {
        cairn_uuid_generate(uuid);
        cfg.uuid = uuid;
        struct cairn_marble_params *p = NULL;
        char eb[512];
        int st = 0;
        int rc = cairn_marble_activate_failover(&cfg, &fo, &p, &st, eb, sizeof(eb));
        if (rc == 0)
            printf("ok %lld\n", now_ms());
        else
            printf("fail %lld %s\n", now_ms(), eb);
        fflush(stdout);
        cairn_marble_params_free(p);
    }
    return 0;
}
