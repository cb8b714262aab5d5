/* Store dispatch plus the file and memory backends. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"

static int name_ok(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > 64 || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return 0;
    }
    return 1;
}

int store_get(struct store *s, const char *name, uint8_t **out, size_t *out_len, uint64_t *out_version,
              struct cairn_error *err)
{
    if (!name_ok(name))
        return cairn_errf(err, CAIRN_ERR_INVALID, "store: invalid name");
    return s->ops->get(s, name, out, out_len, out_version, err);
}

int store_put(struct store *s, const char *name, const uint8_t *data, size_t len, uint64_t expected_version,
              uint64_t *out_version, struct cairn_error *err)
{
    if (!name_ok(name))
        return cairn_errf(err, CAIRN_ERR_INVALID, "store: invalid name");
    if (len > STORE_MAX_VALUE)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "store: %s: %zu bytes exceed the %u-byte cap", name, len,
                          STORE_MAX_VALUE);
    return s->ops->put(s, name, data, len, expected_version, out_version, err);
}

int store_del(struct store *s, const char *name, struct cairn_error *err)
{
    if (!name_ok(name))
        return cairn_errf(err, CAIRN_ERR_INVALID, "store: invalid name");
    return s->ops->del(s, name, err);
}

int store_rename(struct store *s, const char *from, const char *to, struct cairn_error *err)
{
    if (!name_ok(from) || !name_ok(to))
        return cairn_errf(err, CAIRN_ERR_INVALID, "store: invalid name");
    if (s->ops->rename != NULL)
        return s->ops->rename(s, from, to, err);
    uint8_t *d = NULL;
    size_t n = 0;
    int rc = store_get(s, from, &d, &n, NULL, err);
    if (rc == 0)
        rc = store_put(s, to, d, n, store_version(s, to), NULL, err);
    free(d);
    if (rc == 0)
        rc = store_del(s, from, err);
    return rc;
}

uint64_t store_version(struct store *s, const char *name)
{
    if (!name_ok(name))
        return 0;
    return s->ops->version(s, name);
}

void store_free(struct store *s)
{
    if (s != NULL)
        s->ops->free(s);
}

/* ---- shared: per-name versions ---- */

struct entry {
    char name[65];
    uint64_t version;   /* 0 = absent */
    uint8_t *data;      /* memory backend only */
    size_t len;
};

struct vstore {
    struct store base;
    pthread_mutex_t lock;
    struct entry e[STORE_MAX_NAMES];
    size_t n;
    uint64_t next_version;
    char *dir;          /* file backend */
};

static struct entry *find(struct vstore *v, const char *name, int create)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->e[i].name, name) == 0)
            return &v->e[i];
    if (!create || v->n >= STORE_MAX_NAMES)
        return NULL;
    struct entry *e = &v->e[v->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    return e;
}

/* ---- file backend ---- */

static char *path_of(struct vstore *v, const char *name)
{
    size_t n = strlen(v->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", v->dir, name);
    return p;
}

static int file_get(struct store *s, const char *name, uint8_t **out, size_t *out_len, uint64_t *out_version,
                    struct cairn_error *err)
{
    struct vstore *v = (struct vstore *)s;
    char *p = path_of(v, name);
    if (p == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&v->lock);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cairn_file_read(p, STORE_MAX_VALUE, &data, &len);
    struct entry *e = find(v, name, 1);
    if (rc == 0) {
        if (e != NULL && e->version == 0)
            e->version = ++v->next_version;  /* first sight of an existing file */
        *out = data;
        *out_len = len;
        if (out_version != NULL)
            *out_version = e != NULL ? e->version : 0;
    } else if (rc == CAIRN_ERR_NOT_FOUND) {
        if (e != NULL)
            e->version = 0;
        cairn_errf(err, rc, "store: %s does not exist", name);
    } else {
        cairn_errf(err, rc, "store: cannot read %s: %s", p, cairn_strerror(rc));
    }
    pthread_mutex_unlock(&v->lock);
    free(p);
    return rc;
}

static int file_put(struct store *s, const char *name, const uint8_t *data, size_t len, uint64_t expected_version,
                    uint64_t *out_version, struct cairn_error *err)
{
    struct vstore *v = (struct vstore *)s;
    char *p = path_of(v, name);
    if (p == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&v->lock);
    int rc;
    struct entry *e = find(v, name, 1);
    if (e == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "store: too many names");
    } else {
        if (e->version == 0 && access(p, F_OK) == 0)
            e->version = ++v->next_version;
        if (e->version != expected_version) {
            rc = cairn_errf(err, CAIRN_ERR_CONFLICT, "store: %s changed concurrently (version %llu, expected %llu)",
                            name, (unsigned long long)e->version, (unsigned long long)expected_version);
        } else {
            rc = cairn_file_write_atomic(p, data, len, 0600);
            if (rc == 0) {
                e->version = ++v->next_version;
                if (out_version != NULL)
                    *out_version = e->version;
            } else {
                cairn_errf(err, rc, "store: cannot write %s: %s", p, strerror(errno));
            }
        }
    }
    pthread_mutex_unlock(&v->lock);
    free(p);
    return rc;
}

static int file_del(struct store *s, const char *name, struct cairn_error *err)
{
    struct vstore *v = (struct vstore *)s;
    char *p = path_of(v, name);
    if (p == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&v->lock);
    int rc = 0;
    if (unlink(p) != 0 && errno != ENOENT)
        rc = cairn_errf(err, CAIRN_ERR_IO, "store: cannot remove %s: %s", p, strerror(errno));
    struct entry *e = find(v, name, 0);
    if (rc == 0 && e != NULL)
        e->version = 0;
    pthread_mutex_unlock(&v->lock);
    free(p);
    return rc;
}

static uint64_t file_version(struct store *s, const char *name)
{
    struct vstore *v = (struct vstore *)s;
    char *p = path_of(v, name);
    if (p == NULL)
        return 0;
    pthread_mutex_lock(&v->lock);
    struct entry *e = find(v, name, 1);
    uint64_t ver = 0;
    if (e != NULL) {
        if (access(p, F_OK) != 0)
            e->version = 0;
        else if (e->version == 0)
            e->version = ++v->next_version;
        ver = e->version;
    }
    pthread_mutex_unlock(&v->lock);
    free(p);
    return ver;
}

static uint64_t mem_version(struct store *s, const char *name)
{
    struct vstore *v = (struct vstore *)s;
    pthread_mutex_lock(&v->lock);
    struct entry *e = find(v, name, 0);
    uint64_t ver = e != NULL ? e->version : 0;
    pthread_mutex_unlock(&v->lock);
    return ver;
}

static void vstore_free(struct store *s)
{
    struct vstore *v = (struct vstore *)s;
    for (size_t i = 0; i < v->n; i++)
        free(v->e[i].data);
    pthread_mutex_destroy(&v->lock);
    free(v->dir);
    free(v);
}

static int file_rename(struct store *s, const char *from, const char *to, struct cairn_error *err)
{
    struct vstore *v = (struct vstore *)s;
    char *pf = path_of(v, from), *pt = path_of(v, to);
    int rc = 0;
    if (pf == NULL || pt == NULL) {
        free(pf);
        free(pt);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&v->lock);
    struct entry *ef = find(v, from, 1), *et = find(v, to, 1);
    if (rename(pf, pt) != 0) {
        rc = errno == ENOENT ? cairn_errf(err, CAIRN_ERR_NOT_FOUND, "store: %s does not exist", from)
                             : cairn_errf(err, CAIRN_ERR_IO, "store: cannot rename %s to %s: %s", pf, pt,
                                          strerror(errno));
    } else {
        /* the rename is durable only once the directory is */
        int dfd = open(v->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0)
            rc = cairn_errf(err, CAIRN_ERR_IO, "store: cannot sync %s: %s", v->dir, strerror(errno));
        if (dfd >= 0)
            close(dfd);
        if (ef != NULL)
            ef->version = 0;
        if (et != NULL)
            et->version = ++v->next_version;
    }
    pthread_mutex_unlock(&v->lock);
    free(pf);
    free(pt);
    return rc;
}

static const struct store_ops k_file_ops = {"file", file_get, file_put, file_del, file_version, vstore_free,
                                            file_rename};

/* Removes "<name>.tmp.XXXXXX" files that an interrupted atomic write left. */
static void remove_stale_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, ".tmp.") != NULL && de->d_name[0] != '.') {
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            unlink(p);
        }
    }
    closedir(d);
}

int store_file_open(const char *dir, struct store **out, struct cairn_error *err)
{
    if (dir == NULL || *dir == '\0')
        return cairn_errf(err, CAIRN_ERR_INVALID, "store: seal directory is empty");
    if (cairn_mkdirs(dir, 0700) != 0)
        return cairn_errf(err, CAIRN_ERR_IO, "store: cannot create %s: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cairn_errf(err, CAIRN_ERR_IO, "store: %s is not a directory", dir);
    if (access(dir, W_OK) != 0)
        return cairn_errf(err, CAIRN_ERR_IO, "store: %s is not writable", dir);
    remove_stale_tmp(dir);
    struct vstore *v = calloc(1, sizeof(*v));
    if (v == NULL || (v->dir = strdup(dir)) == NULL) {
        free(v);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    v->base.ops = &k_file_ops;
    pthread_mutex_init(&v->lock, NULL);
    *out = &v->base;
    return 0;
}

/* ---- memory backend ---- */

static int mem_get(struct store *s, const char *name, uint8_t **out, size_t *out_len, uint64_t *out_version,
                   struct cairn_error *err)
{
    struct vstore *v = (struct vstore *)s;
    pthread_mutex_lock(&v->lock);
    struct entry *e = find(v, name, 0);
    int rc = 0;
    if (e == NULL || e->version == 0) {
        rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND, "store: %s does not exist", name);
    } else {
        uint8_t *c = malloc(e->len + 1);
        if (c == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        } else {
            if (e->len > 0)
                memcpy(c, e->data, e->len);
            c[e->len] = 0;
            *out = c;
            *out_len = e->len;
            if (out_version != NULL)
                *out_version = e->version;
        }
    }
    pthread_mutex_unlock(&v->lock);
    return rc;
}

static int mem_put(struct store *s, const char *name, const uint8_t *data, size_t len, uint64_t expected_version,
                   uint64_t *out_version, struct cairn_error *err)
{
    struct vstore *v = (struct vstore *)s;
    pthread_mutex_lock(&v->lock);
    int rc = 0;
    struct entry *e = find(v, name, 1);
    uint8_t *c = malloc(len + 1);
    if (e == NULL || c == NULL) {
        free(c);
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "store: out of memory or names");
    } else if (e->version != expected_version) {
        free(c);
        rc = cairn_errf(err, CAIRN_ERR_CONFLICT, "store: %s changed concurrently", name);
    } else {
        if (len > 0)
            memcpy(c, data, len);
        free(e->data);
        e->data = c;
        e->len = len;
        e->version = ++v->next_version;
        if (out_version != NULL)
            *out_version = e->version;
    }
    pthread_mutex_unlock(&v->lock);
    return rc;
}

static int mem_del(struct store *s, const char *name, struct cairn_error *err)
{
    (void)err;
    struct vstore *v = (struct vstore *)s;
    pthread_mutex_lock(&v->lock);
    struct entry *e = find(v, name, 0);
    if (e != NULL) {
        free(e->data);
        e->data = NULL;
        e->len = 0;
        e->version = 0;
    }
    pthread_mutex_unlock(&v->lock);
    return 0;
}

static int mem_rename(struct store *s, const char *from, const char *to, struct cairn_error *err)
{
    struct vstore *v = (struct vstore *)s;
    pthread_mutex_lock(&v->lock);
    struct entry *ef = find(v, from, 0);
    struct entry *et = ef != NULL && ef->version != 0 ? find(v, to, 1) : NULL;
    int rc = 0;
    if (ef == NULL || ef->version == 0) {
        rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND, "store: %s does not exist", from);
    } else if (et == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "store: too many names");
    } else {
        free(et->data);
        et->data = ef->data;
        et->len = ef->len;
        et->version = ++v->next_version;
        ef->data = NULL;
        ef->len = 0;
        ef->version = 0;
    }
    pthread_mutex_unlock(&v->lock);
    return rc;
}

static const struct store_ops k_mem_ops = {"memory", mem_get, mem_put, mem_del, mem_version, vstore_free,
                                           mem_rename};

int store_memory_open(struct store **out)
{
    struct vstore *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return CAIRN_ERR_NOMEM;
    v->base.ops = &k_mem_ops;
    pthread_mutex_init(&v->lock, NULL);
    *out = &v->base;
    return 0;
}
