/* Internal: the Coordinator under systemd (docs/systemd.md): the readiness
 * protocol of sd_notify(3) through libsystemd.
 *
 * Without NOTIFY_SOCKET in the environment (not started by systemd with
 * Type=notify) every call is a no-op. Messages: READY=1 once the listeners
 * are bound and the state is loaded, STATUS= with the state (again on every
 * state change), STOPPING=1 on SIGTERM/SIGINT, and WATCHDOG=1 from the event
 * loops at half of WATCHDOG_USEC when the unit sets WatchdogSec=.
 * Thread-safe (each call sends one datagram). */
#ifndef CAIRN_COORDINATOR_SERVICE_H
#define CAIRN_COORDINATOR_SERVICE_H

/* The watchdog ping interval in ms: half of WATCHDOG_USEC (at least 1), or 0
 * when systemd asked for no watchdog (or for another process's). */
unsigned service_watchdog_interval_ms(void);

/* READY=1 together with STATUS=`status`. */
void service_ready(const char *status);
/* STATUS=`status`. */
void service_status(const char *status);
/* STOPPING=1 with a status line. */
void service_stopping(const char *status);
/* WATCHDOG=1; the signature of srv_heartbeat_fn (arg unused). */
void service_watchdog(void *arg);

#endif
