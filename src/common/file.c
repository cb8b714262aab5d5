#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

int cairn_file_read(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CAIRN_ERR_NOT_FOUND : CAIRN_ERR_IO;
    size_t cap = 4096, len = 0;
    uint8_t *b = malloc(cap + 1);
    int rc = b ? 0 : CAIRN_ERR_NOMEM;
    while (rc == 0) {
        if (len == cap) {
            if (cap > max) {
                rc = CAIRN_ERR_TOO_LARGE;
                break;
            }
            size_t ncap = cap * 2;
            uint8_t *nb = realloc(b, ncap + 1);
            if (nb == NULL) {
                rc = CAIRN_ERR_NOMEM;
                break;
            }
            b = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, b + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = CAIRN_ERR_IO;
        } else if (n == 0) {
            break;
        } else {
            len += (size_t)n;
        }
    }
    close(fd);
    if (rc == 0 && len > max)
        rc = CAIRN_ERR_TOO_LARGE;
    if (rc != 0) {
        free(b);
        return rc;
    }
    b[len] = '\0';
    *out = b;
    *out_len = len;
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return CAIRN_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int cairn_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    char *dircopy = strdup(path);
    int rc = (tmp && dircopy) ? 0 : CAIRN_ERR_NOMEM;
    int fd = -1;
    if (rc == 0) {
        snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
        fd = mkstemp(tmp);
        if (fd < 0)
            rc = CAIRN_ERR_IO;
    }
    if (rc == 0 && fchmod(fd, mode) != 0)
        rc = CAIRN_ERR_IO;
    if (rc == 0)
        rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = CAIRN_ERR_IO;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = CAIRN_ERR_IO;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = CAIRN_ERR_IO;
    if (rc != 0 && fd >= 0)
        unlink(tmp);
    if (rc == 0) {
        int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0)
            rc = CAIRN_ERR_IO;
        if (dfd >= 0)
            close(dfd);
    }
    free(tmp);
    free(dircopy);
    return rc;
}

int cairn_mkdirs(const char *path, mode_t mode)
{
    char *p = strdup(path);
    if (p == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, mode) != 0 && errno != EEXIST)
                rc = CAIRN_ERR_IO;
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    return rc;
}
