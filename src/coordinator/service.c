/* sd_notify(3) for the Coordinator (service.h). */
#include "coordinator/service.h"

#include <stdint.h>
#include <stdio.h>

#include <systemd/sd-daemon.h>

#include "common/log.h"

unsigned service_watchdog_interval_ms(void)
{
    uint64_t usec = 0;
    /* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is ours */
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    uint64_t ms = usec / 2000;
    if (ms == 0)
        ms = 1;
    if (ms > UINT32_MAX)
        ms = UINT32_MAX;
    return (unsigned)ms;
}

/* One datagram: `head` ("" or e.g. "READY=1") and an optional STATUS=. A
 * newline separates fields, so one inside the status becomes a space. */
static void notify(const char *head, const char *status)
{
    char st[400] = "";
    if (status != NULL) {
        snprintf(st, sizeof(st), "%s", status);
        for (char *p = st; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    char line[512];
    snprintf(line, sizeof(line), "%s%s%s%s", head, head[0] != '\0' && status != NULL ? "\n" : "",
             status != NULL ? "STATUS=" : "", st);
    int rc = sd_notify(0, line);
    if (rc < 0)
        LOG_WARN("sd_notify(%s) failed: error %d", head[0] != '\0' ? head : "STATUS", -rc);
}

void service_ready(const char *status)
{
    notify("READY=1", status);
}

void service_status(const char *status)
{
    notify("", status);
}

void service_stopping(const char *status)
{
    notify("STOPPING=1", status);
}

void service_watchdog(void *arg)
{
    (void)arg;
    sd_notify(0, "WATCHDOG=1");
}
