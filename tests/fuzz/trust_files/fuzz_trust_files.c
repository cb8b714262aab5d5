/* trust_files on arbitrary bytes: the first byte picks the evidence type and
 * the kind a flag would name (or recognition by content); the rest is the
 * file. Invariants: a refused file leaves the builder empty and its message is
 * one line; an accepted one is described once; evidence detection and text
 * decoding never read out of bounds; an Azure HCL report's parts stay inside
 * the input; building views never fails on a
 * builder that has evidence. */
#include <stdlib.h>
#include <string.h>

#include "attest/azure_hcl.h"
#include "attest/evidence_detect.h"
#include "attest/trust_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t described(const struct trust_files *tf)
{
    json_t *d = trust_files_describe(tf);
    size_t n = json_array_size(d);
    json_decref(d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const enum attest_type types[] = {ATTEST_SGX, ATTEST_TDX, ATTEST_SNP, ATTEST_TPM};
    enum attest_type type = types[data[0] & 3];
    enum trust_file_kind kind = (enum trust_file_kind)((data[0] >> 2) % (TRUST_FILE_NONCE + 1));
    if ((data[0] >> 6) != 0)
        kind = TRUST_FILE_UNKNOWN; /* mostly recognition by content */
    const uint8_t *p = data + 1;
    size_t n = size - 1;

    enum attest_type det;
    (void)trust_evidence_detect(p, n, &det, NULL);
    uint8_t *dec = NULL;
    size_t dl = 0;
    if (trust_evidence_decode_text(p, n, &dec, &dl) == 1)
        free(dec);

    struct azure_hcl hcl;
    if (azure_hcl_parse(p, n, &hcl, NULL) == 0) {
        if (hcl.hw_report < p || hcl.hw_report + hcl.hw_report_len > p + n || hcl.runtime_data < p ||
            hcl.runtime_data + hcl.runtime_data_len > p + n)
            abort();
        char *pem = NULL;
        if (azure_hcl_jwk_pem(&hcl, "HCLAkPub", &pem, NULL) == 0)
            free(pem);
    }

    struct trust_files *tf = trust_files_new(type);
    if (tf == NULL)
        return 0;
    struct cairn_error err = {0};
    enum trust_file_kind got = TRUST_FILE_UNKNOWN;
    int rc = trust_files_add(tf, "fuzz", p, n, kind, &got, &err);
    if (rc != 0) {
        if (described(tf) != 0 || err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL)
            abort();
    } else if (described(tf) != 1 || got == TRUST_FILE_UNKNOWN) {
        abort();
    }
    /* any bytes as evidence: the views build (verification is fuzzed elsewhere) */
    struct attest_evidence ev;
    struct attest_trust tr;
    if (n > 0 && (trust_files_set_evidence(tf, p, n, &err) != 0 || trust_files_build(tf, 0, &ev, &tr, &err) != 0))
        abort();
    trust_files_free(tf);
    return 0;
}
