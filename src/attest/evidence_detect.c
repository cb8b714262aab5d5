/* Evidence type detection and text-encoded evidence (see evidence_detect.h). */
#include "attest/evidence_detect.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "attest/azure_hcl.h"
#include "attest/tpm.h"
#include "common/encoding.h"

#define TEXT_EVIDENCE_MAX (4u << 20)

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

int trust_evidence_detect(const uint8_t *p, size_t n, enum attest_type *out, struct cairn_error *err)
{
    struct azure_hcl h;
    if (p != NULL && n >= 4 && memcmp(p, "HCLA", 4) == 0 && azure_hcl_parse(p, n, &h, NULL) == 0) {
        *out = azure_hcl_attest_type(&h);
        return 0;
    }
    if (p != NULL && n >= 4 && be32(p) == TPM_GENERATED_VALUE) {
        *out = ATTEST_TPM;
        return 0;
    }
    size_t off = 0;
    if (p != NULL && n >= 16 + 48 && le32(p) == 1 && le32(p + 4) == 2)
        off = 16; /* MarbleRun's OE header: version 1, type 2 (SGX ECDSA), size */
    if (p != NULL && n - off >= 48) {
        uint16_t ver = le16(p + off), akt = le16(p + off + 2);
        uint32_t tee = le32(p + off + 4);
        if (ver == 3 && akt == 2 && tee == 0) {
            *out = ATTEST_SGX;
            return 0;
        }
        if ((ver == 4 || ver == 5) && akt == 2 && tee == 0x81 && off == 0) {
            *out = ATTEST_TDX;
            return 0;
        }
    }
    if (p != NULL && n == 0x4A0) {
        uint32_t ver = le32(p), algo = le32(p + 0x34);
        if (ver >= 2 && ver <= 5 && algo == 1) {
            *out = ATTEST_SNP;
            return 0;
        }
    }
    return cairn_errf(err, CAIRN_ERR_INVALID,
                      "evidence: cannot tell the type from its %zu bytes (not a TPMS_ATTEST, DCAP quote v3/v4/v5 or "
                      "SNP report v2..5)",
                      n);
}

int trust_evidence_decode_text(const uint8_t *p, size_t n, uint8_t **out, size_t *out_len)
{
    if (p == NULL || n == 0 || n > TEXT_EVIDENCE_MAX)
        return 0;
    enum attest_type t;
    if (trust_evidence_detect(p, n, &t, NULL) == 0)
        return 0;
    char *s = malloc(n + 1);
    if (s == NULL)
        return 0;
    size_t k = 0;
    bool hex = true, b64 = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (!isxdigit(c))
            hex = false;
        if (!isalnum(c) && c != '+' && c != '/' && c != '=')
            b64 = false;
        s[k++] = (char)c;
    }
    s[k] = '\0';
    uint8_t *d = NULL;
    size_t dl = 0;
    int ok = 0;
    if (k > 0 && hex && k % 2 == 0 && cairn_hex_decode(s, k, &d, &dl) == 0)
        ok = 1;
    else if (k > 0 && b64 && cairn_base64_decode(s, k, &d, &dl) == 0)
        ok = 1;
    free(s);
    if (!ok)
        return 0;
    *out = d;
    *out_len = dl;
    return 1;
}
