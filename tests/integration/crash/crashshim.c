/* LD_PRELOAD fault injector for crash-consistency tests (issue 12 §1).
 *
 * Interposes fsync, fdatasync, rename and unlink. An event counts when its
 * path lies under $CAIRN_CRASH_DIR and, if $CAIRN_CRASH_ARM names a file,
 * while that file exists (so a test arms the shim only around the operation
 * under test; start-up writes do not count). Environment:
 *   CAIRN_CRASH_DIR=dir        required; without it the shim only passes through
 *   CAIRN_CRASH_ARM=file       count only while this file exists
 *   CAIRN_CRASH_OPS=list       comma list of fsync,rename,unlink (default all)
 *   CAIRN_CRASH_RENAME_TO=name count only renames onto a file with this base name
 *   CAIRN_CRASH_AT=N           SIGKILL the process right after the N-th counted
 *                              event has completed (1-based; 0/unset: never)
 *   CAIRN_CRASH_ACTION=stop    SIGSTOP instead: the test copies the directory
 *                              (exactly what a kill at this point leaves on
 *                              disk), then lets the process finish its request
 *                              (so the client gets e.g. the recovery secrets)
 *   CAIRN_CRASH_LOG=file       append "N op path" per counted event (O_APPEND)
 *   CAIRN_CRASH_DELAY_MS=M     sleep a random 0..M ms before every fsync/rename
 *                              under the directory (M <= 1000), armed or not
 * SIGKILL is what kill -9 or a power cut does to the process: no handler,
 * no atexit, no buffered write of ours gets out. The page cache survives,
 * which is the case the store's fsync/rename protocol must handle. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_ulong g_count;

static const char *env(const char *n)
{
    const char *v = getenv(n);
    return v != NULL && *v != '\0' ? v : NULL;
}

static int op_enabled(const char *op)
{
    const char *ops = env("CAIRN_CRASH_OPS");
    if (ops == NULL)
        return 1;
    size_t n = strlen(op);
    for (const char *p = ops; (p = strstr(p, op)) != NULL; p += n)
        if ((p == ops || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return 1;
    return 0;
}

/* Absolute form of `path` (relative to the cwd), no symlink resolution. */
static void absolute(const char *path, char out[PATH_MAX])
{
    if (path[0] == '/') {
        snprintf(out, PATH_MAX, "%s", path);
        return;
    }
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        cwd[0] = '\0';
    snprintf(out, PATH_MAX, "%s/%s", cwd, path);
}

static int under_dir(const char *path)
{
    const char *dir = env("CAIRN_CRASH_DIR");
    if (dir == NULL || path == NULL)
        return 0;
    char a[PATH_MAX], d[PATH_MAX], rd[PATH_MAX];
    absolute(path, a);
    absolute(dir, d);
    /* the fd paths from /proc are resolved: compare with the resolved dir too */
    const char *cands[2] = {d, realpath(dir, rd) != NULL ? rd : d};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(cands[i]);
        while (n > 1 && cands[i][n - 1] == '/')
            n--;
        if (strncmp(a, cands[i], n) == 0 && (a[n] == '\0' || a[n] == '/'))
            return 1;
    }
    return 0;
}

static void delay(const char *path)
{
    const char *m = env("CAIRN_CRASH_DELAY_MS");
    if (m == NULL || !under_dir(path))
        return;
    long max = strtol(m, NULL, 10);
    if (max <= 0 || max > 1000)
        return;
    static __thread unsigned seed;
    if (seed == 0)
        seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)&seed;
    long us = (long)(rand_r(&seed) % (unsigned)(max * 1000 + 1));
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static int armed(void)
{
    const char *arm = env("CAIRN_CRASH_ARM");
    struct stat st;
    return arm == NULL || stat(arm, &st) == 0;
}

/* Called after the operation completed. */
static void event(const char *op, const char *path)
{
    if (!op_enabled(op) || !under_dir(path) || !armed())
        return;
    unsigned long n = atomic_fetch_add(&g_count, 1) + 1;
    const char *log = env("CAIRN_CRASH_LOG");
    if (log != NULL) {
        char line[PATH_MAX + 64];
        int len = snprintf(line, sizeof(line), "%lu %s %s\n", n, op, path);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            if (len > 0)
                (void)!write(fd, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
            close(fd);
        }
    }
    const char *at = env("CAIRN_CRASH_AT");
    if (at != NULL && strtoul(at, NULL, 10) == n) {
        const char *action = env("CAIRN_CRASH_ACTION");
        /* raise(): thread-directed, so this thread stops before its next
         * instruction; kill(getpid()) may wake another thread to start the
         * group stop while this one runs on into the next write */
        raise(action != NULL && strcmp(action, "stop") == 0 ? SIGSTOP : SIGKILL);
    }
}

static void fd_path(int fd, char out[PATH_MAX])
{
    char l[64];
    snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(l, out, PATH_MAX - 1);
    out[n > 0 ? n : 0] = '\0';
}

static void *next_sym(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL)
        abort();
    return f;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))next_sym("fsync");
    char p[PATH_MAX];
    fd_path(fd, p);
    delay(p);
    int rc = real(fd);
    if (rc == 0)
        event("fsync", p);
    return rc;
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))next_sym("fdatasync");
    char p[PATH_MAX];
    fd_path(fd, p);
    delay(p);
    int rc = real(fd);
    if (rc == 0)
        event("fsync", p);
    return rc;
}

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    if (real == NULL)
        real = (int (*)(const char *, const char *))next_sym("rename");
    delay(to);
    int rc = real(from, to);
    if (rc == 0) {
        const char *want = env("CAIRN_CRASH_RENAME_TO");
        const char *base = strrchr(to, '/');
        base = base != NULL ? base + 1 : to;
        if (want == NULL || strcmp(want, base) == 0)
            event("rename", to);
    }
    return rc;
}

int unlink(const char *path)
{
    static int (*real)(const char *);
    if (real == NULL)
        real = (int (*)(const char *))next_sym("unlink");
    int rc = real(path);
    /* removing a stale temp file is no crash point of interest */
    if (rc == 0 && strstr(path, ".tmp.") == NULL && env("CAIRN_CRASH_RENAME_TO") == NULL)
        event("unlink", path);
    return rc;
}
