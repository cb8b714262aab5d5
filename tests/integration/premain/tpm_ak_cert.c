/* Test helper: certifies a (software) TPM's attestation key, as a cloud
 * provider's CA would. Usage: tpm-ak-cert TCTI OUTDIR -> OUTDIR/ak-ca.pem
 * (the root for the manifest's AKRoots) and OUTDIR/ak.pem (for CAIRN_TPM_AK_CERT). */
#include <stdio.h>
#include <string.h>

#include "attest/issuer.h"
#include "attest/tpm.h"
#include "common/file.h"
#include "crypto/crypto.h"

static int write_pem(const char *dir, const char *name, X509 *x)
{
    char path[4096], *pem = NULL;
    size_t n = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int rc = cc_cert_to_pem(x, &pem, &n);
    if (rc == 0)
        rc = cairn_file_write_atomic(path, pem, n, 0644);
    free(pem);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tpm-ak-cert TCTI OUTDIR\n");
        return 2;
    }
    struct attest_issuer_config cfg = {.tpm_tcti = argv[1], .tpm_pcrs = "sha256:0"};
    uint8_t rd[64] = {0};
    struct attest_issued is;
    struct cairn_error err = {0};
    struct tpm_ak ak = {0};
    EVP_PKEY *ca_key = NULL;
    X509 *ca = NULL, *akc = NULL;
    if (attest_issue(ATTEST_TPM, rd, &cfg, &is, &err) != 0 || tpm_public_parse(is.ak_pub, is.ak_pub_len, &ak, &err) != 0) {
        fprintf(stderr, "tpm-ak-cert: %s\n", cairn_error_msg(&err));
        return 1;
    }
    attest_issued_free(&is);
    struct cc_cert_template ct = {.subject = {.common_name = "Cairn test AK CA"}, .is_ca = true, .max_path_len = 0,
                                  .key_usage = CC_KU_CERT_SIGN | CC_KU_CRL_SIGN};
    struct cc_cert_template at = {.subject = {.common_name = "test AK"}, .max_path_len = -1,
                                  .key_usage = CC_KU_DIGITAL_SIGNATURE};
    int rc = cc_key_generate(CC_KEY_EC_P256, 0, &ca_key, &err);
    if (rc == 0)
        rc = cc_cert_issue(&ct, ca_key, NULL, ca_key, &ca, &err);
    if (rc == 0)
        rc = cc_cert_issue(&at, ak.key, ca, ca_key, &akc, &err);
    if (rc == 0)
        rc = write_pem(argv[2], "ak-ca.pem", ca);
    if (rc == 0)
        rc = write_pem(argv[2], "ak.pem", akc);
    if (rc != 0)
        fprintf(stderr, "tpm-ak-cert: %s\n", cairn_error_msg(&err));
    tpm_ak_clear(&ak);
    EVP_PKEY_free(ca_key);
    X509_free(ca);
    X509_free(akc);
    return rc == 0 ? 0 : 1;
}
