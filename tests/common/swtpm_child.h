/* A software TPM for the C tests: swtpm started as a direct child on a free
 * loopback port pair (server p, control p+1), in its own temp state dir, and
 * stopped by its PID. Header-only (static functions), for test files only:
 * tests/unit/client/test_client_tpm.c, tests/integration/swtpm/test_swtpm_e2e.c,
 * tests/integration/tpm_e2e/test_trust_client.c. */
#ifndef CAIRN_TEST_SWTPM_CHILD_H
#define CAIRN_TEST_SWTPM_CHILD_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct swtpm_child {
    pid_t pid;      /* 0 when not running */
    int port;       /* server port; control is port+1 */
    char dir[64];   /* its state directory, removed by swtpm_child_stop() */
    char tcti[96];  /* "swtpm:host=127.0.0.1,port=<port>" once started */
};

static __attribute__((unused)) bool swtpm_installed(void)
{
    return system("command -v swtpm >/dev/null 2>&1") == 0;
}

/* Port p (the kernel's choice) with p+1 free too; -1 when none was found. */
static __attribute__((unused)) int swtpm_free_port_pair(void)
{
    for (int tries = 0; tries < 50; tries++) {
        int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0), found = -1;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof(sa);
        if (bind(a, (struct sockaddr *)&sa, sizeof(sa)) == 0 && getsockname(a, (struct sockaddr *)&sa, &sl) == 0 &&
            ntohs(sa.sin_port) < 65535) {
            int p = ntohs(sa.sin_port);
            sa.sin_port = htons((uint16_t)(p + 1));
            if (bind(b, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                found = p;
        }
        close(a);
        close(b);
        if (found > 0)
            return found;
    }
    return -1;
}

/* Something accepts connections on 127.0.0.1:port. */
static __attribute__((unused)) bool swtpm_port_listening(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(s);
    return ok;
}

static int swtpm_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

/* Stops t's swtpm (SIGTERM to its PID, then waits) and removes its state
 * directory; safe on a t that never started or was stopped already. */
static __attribute__((unused)) void swtpm_child_stop(struct swtpm_child *t)
{
    if (t->pid > 0) {
        kill(t->pid, SIGTERM);
        waitpid(t->pid, NULL, 0);
        t->pid = 0;
    }
    if (t->dir[0] != '\0') {
        nftw(t->dir, swtpm_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
        t->dir[0] = '\0';
    }
}

/* Starts swtpm with its state in a new directory /tmp/<name>-XXXXXX. A lost
 * port race (swtpm exits, or the ports turn out to be someone else's) is
 * retried on other ports, 5 times. Returns 0 with t filled in, or -1. */
static __attribute__((unused)) int swtpm_child_start(struct swtpm_child *t, const char *name)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/%s-XXXXXX", name);
    if (mkdtemp(t->dir) == NULL) {
        t->dir[0] = '\0';
        return -1;
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = swtpm_free_port_pair();
        if (port < 0)
            break;
        char state[128], server[96], ctrl[96];
        snprintf(state, sizeof(state), "dir=%s", t->dir);
        snprintf(server, sizeof(server), "type=tcp,port=%d,bindaddr=127.0.0.1", port);
        snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%d,bindaddr=127.0.0.1", port + 1);
        pid_t pid = fork();
        if (pid < 0)
            break;
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) {
                dup2(devnull, 1);
                dup2(devnull, 2);
            }
            execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", state, "--server", server, "--ctrl", ctrl,
                   "--flags", "not-need-init,startup-clear", (char *)NULL);
            _exit(127);
        }
        bool exited = false;
        for (int i = 0; i < 100; i++) {
            if (swtpm_port_listening(port) && swtpm_port_listening(port + 1)) {
                usleep(50 * 1000);
                if (waitpid(pid, NULL, WNOHANG) == pid) { /* the ports were someone else's */
                    exited = true;
                    break;
                }
                t->pid = pid;
                t->port = port;
                snprintf(t->tcti, sizeof(t->tcti), "swtpm:host=127.0.0.1,port=%d", port);
                return 0;
            }
            if (waitpid(pid, NULL, WNOHANG) == pid) { /* lost a port race: other ports */
                exited = true;
                break;
            }
            usleep(50 * 1000);
        }
        if (!exited) {
            kill(pid, SIGTERM);
            waitpid(pid, NULL, 0);
        }
    }
    swtpm_child_stop(t);
    return -1;
}

#endif
