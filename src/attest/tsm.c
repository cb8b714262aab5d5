/* configfs-tsm issuer (Linux >= 6.7, /sys/kernel/config/tsm/report): one
 * report entry per request, for TDX guests (provider "tdx_guest": outblob is
 * a TDX quote) and SEV-SNP guests (provider "sev_guest": outblob is the
 * ATTESTATION_REPORT, auxblob the host-provided certificate table).
 *
 * Protocol (Documentation/ABI/testing/configfs-tsm): mkdir an entry, write
 * the 64-byte inblob, read outblob (which runs the request), read auxblob and
 * provider, check that `generation` did not move (another writer on the same
 * entry would invalidate the outblob), rmdir the entry. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "attest/issuer.h"
#include "attest/snp.h"
#include "common/encoding.h"

#define TSM_DEFAULT "/sys/kernel/config/tsm/report"
#define BLOB_MAX (1u << 20)

static int read_attr(const char *dir, const char *name, size_t max, uint8_t **out, size_t *out_len, bool optional,
                     struct cairn_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (optional && errno == ENOENT) {
            *out = NULL;
            *out_len = 0;
            return 0;
        }
        return cairn_errf(err, CAIRN_ERR_IO, "configfs-tsm: cannot open %s: %s", path, strerror(errno));
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap + 1);
    if (buf == NULL) {
        close(fd);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "configfs-tsm: out of memory");
    }
    for (;;) {
        if (len == cap) {
            if (cap >= max) {
                free(buf);
                close(fd);
                return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "configfs-tsm: %s exceeds %zu bytes", name, max);
            }
            cap = cap * 2 > max ? max : cap * 2;
            uint8_t *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                free(buf);
                close(fd);
                return cairn_errf(err, CAIRN_ERR_NOMEM, "configfs-tsm: out of memory");
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return cairn_errf(err, CAIRN_ERR_IO, "configfs-tsm: reading %s: %s", name, strerror(e));
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = 0;
    *out = buf;
    *out_len = len;
    return 0;
}

static int write_attr(const char *dir, const char *name, const void *p, size_t n, struct cairn_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return cairn_errf(err, CAIRN_ERR_IO, "configfs-tsm: cannot open %s: %s", path, strerror(errno));
    ssize_t w;
    do {
        w = write(fd, p, n);
    } while (w < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (w < 0 || (size_t)w != n)
        return cairn_errf(err, CAIRN_ERR_IO, "configfs-tsm: writing %s: %s", name, w < 0 ? strerror(e) : "short write");
    return 0;
}

static void trim(uint8_t *s, size_t *n)
{
    while (*n > 0 && (s[*n - 1] == '\n' || s[*n - 1] == ' '))
        s[--*n] = 0;
}

int tsm_exchange(const char *entry, enum attest_type want, const uint8_t report_data[64], struct attest_issued *out,
                 struct cairn_error *err)
{
    uint8_t *gen0 = NULL, *gen1 = NULL, *provider = NULL, *aux = NULL;
    size_t g0n = 0, g1n = 0, pn = 0, an = 0;
    struct attest_issued o = {0};
    int rc = write_attr(entry, "inblob", report_data, 64, err);
    if (rc == 0)
        rc = read_attr(entry, "generation", 64, &gen0, &g0n, true, err);
    if (rc == 0)
        rc = read_attr(entry, "provider", 256, &provider, &pn, false, err);
    if (rc != 0)
        goto out;
    trim(provider, &pn);
    if (strcmp((char *)provider, "tdx_guest") == 0) {
        o.type = ATTEST_TDX;
    } else if (strcmp((char *)provider, "sev_guest") == 0) {
        o.type = ATTEST_SNP;
    } else {
        rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "configfs-tsm: provider \"%s\" is not tdx_guest or sev_guest",
                        (char *)provider);
        goto out;
    }
    if (want != o.type) {
        rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "configfs-tsm: provider %s gives %s evidence, %s was asked for",
                        (char *)provider, attest_type_name(o.type), attest_type_name(want));
        goto out;
    }
    if ((rc = read_attr(entry, "outblob", BLOB_MAX, &o.quote, &o.quote_len, false, err)) != 0)
        goto out;
    if (o.quote_len == 0) {
        rc = cairn_errf(err, CAIRN_ERR_IO, "configfs-tsm: empty outblob");
        goto out;
    }
    if (o.type == ATTEST_SNP) {
        if ((rc = read_attr(entry, "auxblob", BLOB_MAX, &aux, &an, true, err)) != 0)
            goto out;
        if (an > 0 && (rc = snp_certtable_to_pem(aux, an, &o.certs, err)) != 0)
            goto out;
    }
    if ((rc = read_attr(entry, "generation", 64, &gen1, &g1n, true, err)) != 0)
        goto out;
    if (g0n != g1n || (g0n > 0 && memcmp(gen0, gen1, g0n) != 0)) {
        rc = cairn_errf(err, CAIRN_ERR_CONFLICT, "configfs-tsm: the entry was rewritten during the request");
        goto out;
    }
    *out = o;
    memset(&o, 0, sizeof(o));
out:
    attest_issued_free(&o);
    free(gen0);
    free(gen1);
    free(provider);
    free(aux);
    return rc;
}

int tsm_issue(enum attest_type want, const uint8_t report_data[64], const struct attest_issuer_config *cfg,
              struct attest_issued *out, struct cairn_error *err)
{
    const char *base = cfg && cfg->configfs_tsm ? cfg->configfs_tsm : TSM_DEFAULT;
    struct stat st;
    if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode))
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "configfs-tsm: %s is not available", base);
    uint8_t rnd[8];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "configfs-tsm: no randomness for the entry name");
    char *hex = cairn_hex_encode(rnd, sizeof(rnd));
    if (hex == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "configfs-tsm: out of memory");
    char entry[4096];
    snprintf(entry, sizeof(entry), "%s/cairn-%ld-%s", base, (long)getpid(), hex);
    free(hex);
    if (mkdir(entry, 0700) != 0)
        return cairn_errf(err, CAIRN_ERR_IO, "configfs-tsm: mkdir %s: %s", entry, strerror(errno));
    int rc = tsm_exchange(entry, want, report_data, out, err);
    rmdir(entry); /* configfs removes the attributes with the entry */
    return rc;
}

bool tsm_probe(const struct attest_issuer_config *cfg, enum attest_type *out)
{
    const char *base = cfg && cfg->configfs_tsm ? cfg->configfs_tsm : TSM_DEFAULT;
    struct stat st;
    if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode))
        return false;
    /* The provider is only visible inside an entry: make a throwaway one. */
    uint8_t rnd[8];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return false;
    char *hex = cairn_hex_encode(rnd, sizeof(rnd));
    if (hex == NULL)
        return false;
    char entry[4096];
    snprintf(entry, sizeof(entry), "%s/cairn-probe-%s", base, hex);
    free(hex);
    if (mkdir(entry, 0700) != 0)
        return false;
    uint8_t *prov = NULL;
    size_t pn = 0;
    bool ok = false;
    if (read_attr(entry, "provider", 256, &prov, &pn, false, NULL) == 0) {
        trim(prov, &pn);
        if (strcmp((char *)prov, "tdx_guest") == 0) {
            *out = ATTEST_TDX;
            ok = true;
        } else if (strcmp((char *)prov, "sev_guest") == 0) {
            *out = ATTEST_SNP;
            ok = true;
        }
    }
    free(prov);
    rmdir(entry);
    return ok;
}
