/* A replica's memory of the newest values it accepted from etcd (hwm.h). */
#include "store/hwm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/encoding.h"
#include "crypto/crypto.h"

#define FORMAT "cairn-etcd-memory-v1"
#define MAGIC "CHM1"
#define EPOCH_LABEL "cairn counter epoch v1"

int hwm_init(struct hwm *m)
{
    memset(m, 0, sizeof(*m));
    m->ctr = json_object();
    return m->ctr != NULL ? 0 : CAIRN_ERR_NOMEM;
}

void hwm_clear(struct hwm *m)
{
    if (m == NULL)
        return;
    json_decref(m->ctr);
    memset(m, 0, sizeof(*m));
}

const char *hwm_verdict_name(enum hwm_verdict v)
{
    switch (v) {
    case HWM_NEWER: return "newer";
    case HWM_SAME: return "the same";
    case HWM_OLDER: return "older";
    case HWM_FORK: return "another value of the same generation";
    }
    return "?";
}

void hwm_epoch_of(const uint8_t ctr_key[32], uint8_t out[32])
{
    uint8_t b[sizeof(EPOCH_LABEL) + 32];
    memcpy(b, EPOCH_LABEL, sizeof(EPOCH_LABEL));   /* with its NUL: label || 0x00 || key */
    memcpy(b + sizeof(EPOCH_LABEL), ctr_key, 32);
    cc_sha256(b, sizeof(b), out);
    cc_wipe(b, sizeof(b));
}

enum hwm_verdict hwm_state_check(const struct hwm *m, uint64_t gen, const uint8_t digest[32])
{
    if (gen > m->gen)
        return HWM_NEWER;
    if (gen < m->gen)
        return HWM_OLDER;
    if (m->gen == 0)
        return HWM_NEWER;   /* nothing remembered: generation 0 (a state of an earlier version) is accepted */
    return memcmp(digest, m->digest, 32) == 0 ? HWM_SAME : HWM_FORK;
}

void hwm_state_accept(struct hwm *m, uint64_t gen, const uint8_t digest[32], const uint8_t *epoch)
{
    if (gen < m->gen)
        return;
    m->gen = gen;
    memcpy(m->digest, digest, 32);
    bool same = epoch != NULL && m->has_epoch && memcmp(epoch, m->epoch, 32) == 0;
    if (!same) {
        json_object_clear(m->ctr);
        m->has_epoch = epoch != NULL;
        if (epoch != NULL)
            memcpy(m->epoch, epoch, 32);
        else
            memset(m->epoch, 0, 32);
    }
}

/* A decimal without sign or leading zeros, at most UINT64_MAX. */
static bool parse_dec(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

static uint64_t ctr_get(const json_t *ctr, const char *name)
{
    const json_t *v = json_object_get(ctr, name);
    uint64_t x = 0;
    if (json_is_string(v))
        parse_dec(json_string_value(v), json_string_length(v), &x);
    return x;
}

bool hwm_counter_ok(const struct hwm *m, const char *name, uint64_t value, uint64_t *have)
{
    uint64_t h = ctr_get(m->ctr, name);
    if (have != NULL)
        *have = h;
    return value >= h;
}

int hwm_counter_accept(struct hwm *m, const char *name, uint64_t value)
{
    if (strlen(name) > HWM_MAX_NAME)
        return CAIRN_ERR_TOO_LARGE;
    if (value <= ctr_get(m->ctr, name) && json_object_get(m->ctr, name) != NULL)
        return 0;
    if (json_object_get(m->ctr, name) == NULL && json_object_size(m->ctr) >= HWM_MAX_COUNTERS)
        return CAIRN_ERR_TOO_LARGE;
    char b[24];
    snprintf(b, sizeof(b), "%" PRIu64, value);
    return json_object_set_new(m->ctr, name, json_string(b)) == 0 ? 0 : CAIRN_ERR_NOMEM;
}

int hwm_merge(struct hwm *m, const struct hwm *o)
{
    bool same_epoch = m->has_epoch == o->has_epoch && (!m->has_epoch || memcmp(m->epoch, o->epoch, 32) == 0);
    if (o->gen > m->gen) {
        json_t *keep = same_epoch ? json_copy(m->ctr) : NULL;
        if (same_epoch && keep == NULL)
            return CAIRN_ERR_NOMEM;
        m->gen = o->gen;
        memcpy(m->digest, o->digest, 32);
        m->has_epoch = o->has_epoch;
        memcpy(m->epoch, o->epoch, 32);
        json_object_clear(m->ctr);
        int rc = json_object_update(m->ctr, o->ctr) == 0 ? 0 : CAIRN_ERR_NOMEM;
        const char *k;
        json_t *v;
        if (keep != NULL) {
            json_object_foreach(keep, k, v) {
                uint64_t x = 0;
                if (rc == 0 && json_is_string(v) && parse_dec(json_string_value(v), json_string_length(v), &x))
                    rc = hwm_counter_accept(m, k, x);
            }
        }
        json_decref(keep);
        return rc;
    }
    if (!same_epoch)
        return 0;   /* a lower or equal generation of another epoch: ours stands */
    const char *k;
    json_t *v;
    json_object_foreach(o->ctr, k, v) {
        uint64_t x = 0;
        if (json_is_string(v) && parse_dec(json_string_value(v), json_string_length(v), &x)) {
            int rc = hwm_counter_accept(m, k, x);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int hwm_to_json(const struct hwm *m, const char *prefix, char **out, size_t *out_len)
{
    char g[24], dig[65], ep[65];
    snprintf(g, sizeof(g), "%" PRIu64, m->gen);
    for (size_t i = 0; i < 32; i++) {
        snprintf(dig + 2 * i, 3, "%02x", m->digest[i]);
        snprintf(ep + 2 * i, 3, "%02x", m->epoch[i]);
    }
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:O}", "format", FORMAT, "prefix", prefix, "generation", g, "digest",
                          dig, "counters", m->ctr);
    if (d == NULL)
        return CAIRN_ERR_NOMEM;
    if (m->has_epoch && json_object_set_new(d, "epoch", json_string(ep)) != 0) {
        json_decref(d);
        return CAIRN_ERR_NOMEM;
    }
    char *s = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    if (s == NULL)
        return CAIRN_ERR_NOMEM;
    *out = s;
    *out_len = strlen(s);
    return 0;
}

static bool hex32(const json_t *v, uint8_t out[32])
{
    return json_is_string(v) && json_string_length(v) == 64 &&
           cairn_hex_decode_exact(json_string_value(v), out, 32) == 0;
}

int hwm_parse(const uint8_t *p, size_t n, const char *prefix, struct hwm *out, struct cairn_error *err)
{
    memset(out, 0, sizeof(*out));
    if (n > HWM_MAX_FILE)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "etcd memory: larger than %u bytes", HWM_MAX_FILE);
    json_error_t je;
    json_t *d = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (d == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "etcd memory: invalid JSON: %s", je.text);
    int rc = 0;
    const json_t *f = json_object_get(d, "format"), *pf = json_object_get(d, "prefix"),
                 *g = json_object_get(d, "generation"), *dg = json_object_get(d, "digest"),
                 *ep = json_object_get(d, "epoch"), *cs = json_object_get(d, "counters");
    struct hwm m;
    memset(&m, 0, sizeof(m));
    if (!json_is_object(d) || !json_is_string(f) || strcmp(json_string_value(f), FORMAT) != 0)
        rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "etcd memory: format: expected %s", FORMAT);
    else if (!json_is_string(pf) || prefix == NULL || strcmp(json_string_value(pf), prefix) != 0 ||
             json_string_length(pf) != strlen(prefix))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "etcd memory: written for another key prefix");
    else if (!json_is_string(g) || !parse_dec(json_string_value(g), json_string_length(g), &m.gen) ||
             m.gen > HWM_GEN_MAX)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "etcd memory: generation: expected a decimal string");
    else if (!hex32(dg, m.digest))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "etcd memory: digest: expected 64 hex digits");
    else if (ep != NULL && !hex32(ep, m.epoch))
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "etcd memory: epoch: expected 64 hex digits");
    else if (!json_is_object(cs) || json_object_size(cs) > HWM_MAX_COUNTERS)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "etcd memory: counters: expected an object of at most %d",
                        HWM_MAX_COUNTERS);
    if (rc == 0) {
        m.has_epoch = ep != NULL;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)cs, k, v) {
            uint64_t x;
            size_t kl = strlen(k);
            bool name_ok = kl <= HWM_MAX_NAME && (strncmp(k, "act/", 4) == 0 || strncmp(k, "mono/", 5) == 0);
            if (!name_ok || !json_is_string(v) || !parse_dec(json_string_value(v), json_string_length(v), &x)) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "etcd memory: counter %.64s: expected act/ or mono/ and a "
                                                        "decimal string", k);
                break;
            }
        }
    }
    if (rc == 0 && (m.ctr = json_copy((json_t *)cs)) == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    json_decref(d);
    if (rc != 0) {
        hwm_clear(&m);
        return rc;
    }
    *out = m;
    return 0;
}

int hwm_blob_split(const uint8_t *p, size_t n, const uint8_t **w, size_t *wl, const uint8_t **sd, size_t *sdl,
                   struct cairn_error *err)
{
    if (n < 8 || memcmp(p, MAGIC, 4) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "etcd memory file: bad magic");
    if (n > HWM_MAX_FILE)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "etcd memory file: larger than %u bytes", HWM_MAX_FILE);
    uint32_t l = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    if (l == 0 || l > 4096 || l > n - 8)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "etcd memory file: truncated sealed key");
    if (n - 8 - l == 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "etcd memory file: no data");
    *w = p + 8;
    *wl = l;
    *sd = p + 8 + l;
    *sdl = n - 8 - l;
    return 0;
}

int hwm_file_path(const char *dir, const char *prefix, char *out, size_t n)
{
    uint8_t h[32];
    cc_sha256(prefix, strlen(prefix), h);
    int w = snprintf(out, n, "%s/%s%02x%02x%02x%02x%02x%02x%02x%02x", dir, HWM_FILE_PREFIX, h[0], h[1], h[2], h[3],
                     h[4], h[5], h[6], h[7]);
    return w > 0 && (size_t)w < n ? 0 : CAIRN_ERR_TOO_LARGE;
}

static int read_file(const char *path, uint8_t **out, size_t *out_len, struct cairn_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CAIRN_ERR_NOT_FOUND
                               : cairn_errf(err, CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)HWM_MAX_FILE) {
        close(fd);
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: not a regular file of at most %u bytes", path, HWM_MAX_FILE);
    }
    size_t len = (size_t)st.st_size, got = 0;
    uint8_t *b = malloc(len + 1);
    if (b == NULL) {
        close(fd);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    while (got < len) {
        ssize_t r = read(fd, b + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != len) {
        free(b);
        return cairn_errf(err, CAIRN_ERR_IO, "%s: short read", path);
    }
    *out = b;
    *out_len = len;
    return 0;
}

/* Opens the sealed file bytes into a memory. */
static int open_blob(const struct seal *seal, const char *prefix, const uint8_t *b, size_t n, struct hwm *out,
                     struct cairn_error *err)
{
    const uint8_t *w, *sd;
    size_t wl, sdl;
    int rc = hwm_blob_split(b, n, &w, &wl, &sd, &sdl, err);
    if (rc != 0)
        return rc;
    uint8_t key[32], bind[32], want[32];
    bool bound = false;
    if ((rc = seal_unwrap_ex(seal, w, wl, key, bind, &bound, err)) != 0)
        return cairn_err_prefix(err, "etcd memory file: its key does not open with this replica's seal");
    cc_sha256(sd, sdl, want);
    if (!bound || memcmp(bind, want, 32) != 0) {
        cc_wipe(key, sizeof(key));
        return cairn_errf(err, CAIRN_ERR_VERIFY, "etcd memory file: its key is not bound to its data");
    }
    uint8_t *doc = NULL;
    size_t dl = 0;
    rc = sealed_data_open(key, sd, sdl, &doc, &dl, err);
    cc_wipe(key, sizeof(key));
    if (rc != 0)
        return cairn_err_prefix(err, "etcd memory file");
    rc = hwm_parse(doc, dl, prefix, out, err);
    free(doc);
    return rc;
}

int hwm_load(const struct seal *seal, const char *dir, const char *prefix, struct hwm *out, bool *found,
             struct cairn_error *err)
{
    char path[4096];
    *found = false;
    if (hwm_file_path(dir, prefix, path, sizeof(path)) != 0)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "seal directory path too long");
    uint8_t *b = NULL;
    size_t n = 0;
    int rc = read_file(path, &b, &n, err);
    if (rc == CAIRN_ERR_NOT_FOUND)
        return hwm_init(out);
    if (rc != 0)
        return rc;
    *found = true;
    rc = open_blob(seal, prefix, b, n, out, err);
    free(b);
    if (rc != 0)
        cairn_err_prefix(err, "%s", path);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int hwm_save(const struct seal *seal, const char *dir, const char *prefix, struct hwm *m, struct cairn_error *err)
{
    char path[4096], tmp[4200], lock[4200];
    if (hwm_file_path(dir, prefix, path, sizeof(path)) != 0)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "seal directory path too long");
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    snprintf(lock, sizeof(lock), "%s.lock", path);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0)
        return cairn_errf(err, CAIRN_ERR_IO, "%s: %s", lock, strerror(errno));
    /* bounded: a replica sharing the directory that is stopped (SIGSTOP)
     * while it holds the lock must not stall this one's watch or commits;
     * the caller saves again later */
    int locked = -1;
    for (int i = 0; i < 20 && (locked = flock(lfd, LOCK_EX | LOCK_NB)) != 0; i++)
        usleep(5000);
    if (locked != 0) {
        close(lfd);
        return cairn_errf(err, CAIRN_ERR_TIMEOUT, "%s: held by another replica for 100 ms; saved later", lock);
    }
    /* another replica sharing this directory may have written newer marks */
    struct hwm merged;
    int rc = hwm_init(&merged);
    if (rc == 0)
        rc = hwm_merge(&merged, m);
    uint8_t *old = NULL;
    size_t oldn = 0;
    if (rc == 0 && read_file(path, &old, &oldn, NULL) == 0) {
        struct hwm theirs;
        if (open_blob(seal, prefix, old, oldn, &theirs, NULL) == 0) {
            rc = hwm_merge(&merged, &theirs);
            hwm_clear(&theirs);
        }
        free(old);
    }
    char *js = NULL;
    size_t jl = 0;
    uint8_t key[32], bind[32], *sd = NULL, *w = NULL;
    size_t sdl = 0, wl = 0;
    if (rc == 0)
        rc = hwm_to_json(&merged, prefix, &js, &jl);
    if (rc == 0)
        rc = cc_random(key, sizeof(key)) == 0 ? 0 : CAIRN_ERR_CRYPTO;
    if (rc == 0)
        rc = sealed_data_seal(key, NULL, 0, (const uint8_t *)js, jl, &sd, &sdl);
    if (rc == 0) {
        cc_sha256(sd, sdl, bind);
        rc = seal_wrap_bound(seal, key, bind, &w, &wl, err);
    }
    cc_wipe(key, sizeof(key));
    if (rc == 0 && wl > 4096)
        rc = CAIRN_ERR_INTERNAL;
    if (rc == 0) {
        uint8_t hdr[8] = {'C', 'H', 'M', '1', (uint8_t)wl, (uint8_t)(wl >> 8), (uint8_t)(wl >> 16),
                          (uint8_t)(wl >> 24)};
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write_all(fd, hdr, sizeof(hdr)) != 0 || write_all(fd, w, wl) != 0 ||
            write_all(fd, sd, sdl) != 0 || fsync(fd) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_IO, "%s: %s", tmp, strerror(errno));
            if (fd >= 0)
                close(fd);
            unlink(tmp);
        } else {
            close(fd);
            if (rename(tmp, path) != 0) {
                rc = cairn_errf(err, CAIRN_ERR_IO, "%s: %s", path, strerror(errno));
                unlink(tmp);
            } else {
                int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0) {
                    fsync(dfd);
                    close(dfd);
                }
            }
        }
    } else if (err != NULL && err->code == 0) {
        cairn_errf(err, rc, "etcd memory: serialising failed");
    }
    free(js);
    free(sd);
    free(w);
    hwm_clear(&merged);
    flock(lfd, LOCK_UN);
    close(lfd);
    return rc;
}
