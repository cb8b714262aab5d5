/* Security review regressions for the server layer (docs/security-review.md).
 *
 * accept_emfile: when the descriptor table is full, accept() fails with
 * EMFILE while the connection stays in the backlog. libevent's listener then
 * fired again at once, forever: one loop thread spun at 100% CPU and wrote a
 * warning line per attempt (1.2 million lines in 2 s against a Coordinator
 * started with `ulimit -n 64`). The server must back off instead, and serve
 * again once descriptors are free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "server/http.h"

static void h_ping(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_jsend_success(r, NULL);
}

static void h_fallback(struct srv_req *r, void *ctx)
{
    (void)ctx;
    srv_jsend_error(r, 405, "not allowed");
}

static const struct srv_route k_routes[] = {
    {"/ping", SRV_GET, h_ping, 0},
};

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
    (void)p;
    (void)u;
    return sz * n;
}

static long get_ping(int port)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ping", port);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    long code = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

static void accept_emfile(void **state)
{
    (void)state;
    struct srv *s = srv_new(2);
    assert_non_null(s);
    struct srv_listener_cfg cfg = {
        .name = "review", .addr = "127.0.0.1:0", .routes = k_routes, .n_routes = 1, .fallback = h_fallback,
        .timeout_s = 30,   /* idle connections must not free descriptors during the measurement */
    };
    struct cairn_error e = {0};
    int idx = srv_add_listener(s, &cfg, &e);
    assert_true(idx >= 0);
    int port = srv_listener_port(s, idx);
    assert_int_equal(srv_start(s, &e), 0);
    assert_int_equal(get_ping(port), 200);

    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int used = open_fds();
    assert_true(used > 0);
    struct rlimit low = old;
    low.rlim_cur = (rlim_t)used + 24;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);

    /* a child process (its own descriptor table) opens more connections
     * than the server can accept: the rest wait in the backlog */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        setrlimit(RLIMIT_NOFILE, &old);   /* inherited: the child needs room */
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        for (int i = 0; i < 64; i++) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
                break;
        }
        pause();
        _exit(0);
    }
    sleep_ms(500);   /* the server's accept() now fails with EMFILE */

    double t0 = cpu_seconds();
    sleep_ms(1000);
    double spent = cpu_seconds() - t0;
    print_message("CPU time of the process during 1 s with a full descriptor table: %.3f s\n", spent);

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    /* the listener resumes once descriptors are free */
    long code = -1;
    for (int i = 0; i < 20 && code != 200; i++) {
        code = get_ping(port);
        if (code != 200)
            sleep_ms(100);
    }
    srv_free(s);
    /* a spinning loop thread burns a whole second; backing off costs nothing */
    assert_true(spent < 0.3);
    assert_int_equal(code, 200);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_emfile),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
