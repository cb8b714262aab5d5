/* Several Coordinator addresses (contract in include/cairn/client.h,
 * "several Coordinator replicas"): the list, the defaults, progress lines. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client_internal.h"

void client_addr_list_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

int client_addr_list(const char *list, unsigned default_port, char ***out, size_t *out_n, struct cairn_error *err)
{
    if (list == NULL || list[0] == '\0')
        return cairn_errf(err, CAIRN_ERR_INVALID, "address: empty (expected host:port)");
    if (strlen(list) > CLIENT_ADDR_LIST_MAX * 300)
        return cairn_errf(err, CAIRN_ERR_INVALID, "address list: too long");
    char **v = calloc(CLIENT_ADDR_LIST_MAX, sizeof(*v));
    char *copy = strdup(list);
    size_t n = 0;
    int rc = (v == NULL || copy == NULL) ? cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory") : 0;
    char *save = NULL;
    for (char *t = rc == 0 ? strtok_r(copy, ",", &save) : NULL; t != NULL && rc == 0;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t l = strlen(t);
        while (l > 0 && (t[l - 1] == ' ' || t[l - 1] == '\t'))
            t[--l] = '\0';
        if (l == 0)
            continue;
        if (n == CLIENT_ADDR_LIST_MAX)
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "address list: more than %d addresses", CLIENT_ADDR_LIST_MAX);
        else
            rc = client_base_url(t, default_port, &v[n++], err);
    }
    if (rc == 0 && n == 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "address \"%s\": no host:port in the list", list);
    free(copy);
    if (rc != 0) {
        client_addr_list_free(v, CLIENT_ADDR_LIST_MAX);
        return rc;
    }
    *out = v;
    *out_n = n;
    return 0;
}

bool client_failover_worthy(int rc)
{
    /* the replica could not be reached or stopped answering; an answer of
     * any kind (also an HTTP error, a TLS authentication failure) stands */
    return rc == CAIRN_ERR_NETWORK || rc == CAIRN_ERR_TIMEOUT;
}

void client_failover_effective(const struct cairn_failover *in, size_t n_addrs, struct cairn_failover *out)
{
    struct cairn_failover f = {0};
    if (in != NULL)
        f = *in;
    if (f.rounds <= 0)
        f.rounds = n_addrs > 1 ? 3 : 1;
    if (f.rounds > 100)
        f.rounds = 100;
    if (f.backoff_ms <= 0)
        f.backoff_ms = 100;
    if (f.backoff_ms > 60000)
        f.backoff_ms = 60000;
    if (f.connect_timeout_ms <= 0)
        f.connect_timeout_ms = n_addrs > 1 ? 2000 : 0;
    *out = f;
}

void client_progress(const struct cairn_failover *fo, const char *fmt, ...)
{
    if (fo == NULL || fo->progress == NULL)
        return;
    char line[CAIRN_ERROR_MSG_MAX + 200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fo->progress(fo->progress_arg, line);
}

void client_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}
