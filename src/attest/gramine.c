/* Gramine SGX issuer (DESIGN §6): inside a Gramine enclave with remote
 * attestation enabled, /dev/attestation is a pseudo file system. Writing 64
 * bytes to user_report_data and then reading quote yields a DCAP quote (v3)
 * whose report data are those bytes. attestation_type says "dcap" when the
 * manifest enabled DCAP ("none" or "epid" otherwise). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/dcap.h"
#include "attest/issuer.h"
#include "attest/sgx.h"
#include "common/file.h"

static const char *gramine_dir(const struct attest_issuer_config *cfg)
{
    return cfg != NULL && cfg->gramine_dir != NULL ? cfg->gramine_dir : "/dev/attestation";
}

/* "dcap", "none", "epid"; 0 when the file exists and was read. */
static int read_type(const char *dir, char out[16])
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/attestation_type", dir);
    uint8_t *p = NULL;
    size_t n = 0;
    int rc = cairn_file_read(path, 64, &p, &n);
    if (rc != 0)
        return rc;
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\0' || p[n - 1] == ' '))
        n--;
    snprintf(out, 16, "%.*s", (int)(n < 15 ? n : 15), (const char *)p);
    free(p);
    return 0;
}

bool gramine_probe(const struct attest_issuer_config *cfg)
{
    const char *dir = gramine_dir(cfg);
    char path[4096], type[16];
    snprintf(path, sizeof(path), "%s/quote", dir);
    if (access(path, R_OK) != 0)
        return false;
    if (read_type(dir, type) == 0 && strcmp(type, "dcap") != 0)
        return false;
    return true;
}

int gramine_issue(const uint8_t report_data[64], const struct attest_issuer_config *cfg,
                  struct attest_issued *out, struct cairn_error *err)
{
    const char *dir = gramine_dir(cfg);
    char path[4096], type[16];
    if (read_type(dir, type) == 0 && strcmp(type, "dcap") != 0)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                          "gramine: attestation type is \"%s\", not \"dcap\" "
                          "(sgx.remote_attestation in the manifest)",
                          type);
    snprintf(path, sizeof(path), "%s/user_report_data", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return cairn_errf(err, errno == ENOENT ? CAIRN_ERR_UNSUPPORTED : CAIRN_ERR_IO,
                          "gramine: %s: %s", path, strerror(errno));
    ssize_t w = write(fd, report_data, 64);
    int saved = errno;
    if (close(fd) != 0 && w == 64) {
        w = -1;
        saved = errno;
    }
    if (w != 64)
        return cairn_errf(err, CAIRN_ERR_IO, "gramine: writing %s: %s", path,
                          w < 0 ? strerror(saved) : "short write");
    snprintf(path, sizeof(path), "%s/quote", dir);
    uint8_t *q = NULL;
    size_t n = 0;
    int rc = cairn_file_read(path, DCAP_QUOTE_MAX, &q, &n);
    if (rc != 0)
        return cairn_errf(err, rc, "gramine: reading %s: %s", path,
                          rc == CAIRN_ERR_TOO_LARGE ? "larger than the quote cap"
                                                    : cairn_strerror(rc));
    if (n == 0) {
        free(q);
        return cairn_errf(err, CAIRN_ERR_IO, "gramine: %s is empty", path);
    }
    memset(out, 0, sizeof(*out));
    out->type = ATTEST_SGX;
    out->quote = q;
    out->quote_len = n;
    return 0;
}
