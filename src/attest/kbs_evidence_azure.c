/* CoCo az-snp-vtpm / az-tdx-vtpm evidence (see kbs_evidence_azure.h). */
#include "attest/kbs_evidence_azure.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attest/azure_hcl.h"
#include "common/encoding.h"

#define PCR_COUNT_MAX 24
#define PCR_LEN 32
#define INIT_DATA_PCR 8
#define MESSAGE_MAX 1024     /* a TPMS_ATTEST quote is a few hundred bytes */
#define SIGNATURE_MAX 1024   /* RSA up to 8192 bits */
#define TD_QUOTE_MAX (64u << 10)
#define VCEK_MAX (16u << 10)

enum enc { ENC_HEX, ENC_B64URL, ENC_INTS, ENC_TEXT };

/* The decoded fields, owned. */
struct az_evidence {
    int version;
    uint8_t *message, *signature, *pcrs, *hcl, *hw; /* hw: the VCEK (DER or PEM) or the TD quote */
    size_t message_len, signature_len, pcrs_len, n_pcrs, hcl_len, hw_len;
};

static void az_evidence_free(struct az_evidence *e)
{
    free(e->message);
    free(e->signature);
    free(e->pcrs);
    free(e->hcl);
    free(e->hw);
}

bool kbs_azure_tee_known(const char *tee)
{
    return tee != NULL && (strcmp(tee, "az-snp-vtpm") == 0 || strcmp(tee, "az-tdx-vtpm") == 0);
}

int kbs_azure_tee_type(const char *tee, enum attest_type *out, struct cairn_error *err)
{
    if (!kbs_azure_tee_known(tee))
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tee \"%.40s\" is not az-snp-vtpm or az-tdx-vtpm",
                          tee ? tee : "(null)");
    *out = strcmp(tee, "az-snp-vtpm") == 0 ? ATTEST_SNP : ATTEST_TDX;
    return 0;
}

/* Member `key` of `o` decoded as `enc` into a new buffer of 1..max bytes
 * (NUL-terminated for ENC_TEXT). */
static int get_bytes(json_t *o, const char *what, const char *key, enum enc enc, size_t max, uint8_t **out,
                     size_t *out_len, struct cairn_error *err)
{
    json_t *v = json_object_get(o, key);
    uint8_t *b = NULL;
    size_t n = 0;
    if (v == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: %s\"%s\" is missing", what, key);
    if (enc == ENC_INTS) {
        size_t i;
        json_t *x;
        n = json_array_size(v);
        if (!json_is_array(v) || n == 0 || n > max)
            return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: %s\"%s\" is not an array of 1..%zu bytes", what, key,
                              max);
        if ((b = malloc(n)) == NULL)
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        json_array_foreach(v, i, x) {
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 255) {
                free(b);
                return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: %s\"%s\"[%zu] is not a byte", what, key, i);
            }
            b[i] = (uint8_t)json_integer_value(x);
        }
    } else {
        if (!json_is_string(v))
            return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: %s\"%s\" is not a string", what, key);
        const char *s = json_string_value(v);
        size_t sl = json_string_length(v);
        /* text longer than any decoding of max bytes is refused unread */
        if (sl == 0 || sl > 2 * max + 4)
            return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: %s\"%s\" is empty or longer than %zu bytes", what,
                              key, max);
        int rc = 0;
        if (enc == ENC_HEX)
            rc = cairn_hex_decode(s, sl, &b, &n);
        else if (enc == ENC_B64URL)
            rc = cairn_base64url_decode(s, sl, &b, &n);
        else if ((b = malloc(sl + 1)) != NULL) {
            memcpy(b, s, sl + 1);
            n = sl;
        } else
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        if (rc != 0 || n == 0 || n > max) {
            free(b);
            return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: %s\"%s\" is not %s of 1..%zu bytes", what, key,
                              enc == ENC_HEX ? "hex" : enc == ENC_B64URL ? "base64url" : "text", max);
        }
    }
    *out = b;
    *out_len = n;
    return 0;
}

/* tpm_quote / quote: {"signature", "message", "pcrs": [24 x 32 bytes]};
 * the PCRs are concatenated in order (the binary form tpm_verify takes for
 * the quote's selection). */
static int get_tpm_quote(json_t *q, enum enc enc, struct az_evidence *e, struct cairn_error *err)
{
    const char *w = "tpm quote ";
    if (!json_is_object(q))
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: the TPM quote is not an object");
    int rc;
    if ((rc = get_bytes(q, w, "message", enc, MESSAGE_MAX, &e->message, &e->message_len, err)) != 0 ||
        (rc = get_bytes(q, w, "signature", enc, SIGNATURE_MAX, &e->signature, &e->signature_len, err)) != 0)
        return rc;
    json_t *pcrs = json_object_get(q, "pcrs"), *p;
    size_t n = json_array_size(pcrs), i;
    if (!json_is_array(pcrs) || n == 0 || n > PCR_COUNT_MAX)
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: tpm quote \"pcrs\" is not an array of 1..%d values",
                          PCR_COUNT_MAX);
    if ((e->pcrs = malloc(n * PCR_LEN)) == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    json_array_foreach(pcrs, i, p) {
        json_t *wrap = json_pack("{s:O}", "v", p);
        uint8_t *b = NULL;
        size_t bl = 0;
        char what[32];
        snprintf(what, sizeof(what), "tpm quote pcrs[%zu] ", i);
        rc = wrap ? get_bytes(wrap, what, "v", enc, PCR_LEN, &b, &bl, err) : cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        json_decref(wrap);
        if (rc == 0 && bl != PCR_LEN)
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "evidence: tpm quote pcrs[%zu] has %zu bytes, not 32 (SHA-256)", i,
                            bl);
        if (rc == 0)
            memcpy(e->pcrs + i * PCR_LEN, b, PCR_LEN);
        free(b);
        if (rc != 0)
            return rc;
    }
    e->n_pcrs = n;
    e->pcrs_len = n * PCR_LEN;
    return 0;
}

static int parse_evidence(enum attest_type hw, const char *text, size_t len, struct az_evidence *e,
                          struct cairn_error *err)
{
    if (text == NULL || len == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: empty");
    if (len > KBS_AZURE_EVIDENCE_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "evidence: %zu bytes, cap %u", len, KBS_AZURE_EVIDENCE_MAX);
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: not a JSON object (%s)", j ? "another JSON value" : je.text);
    }
    int rc = 0;
    json_t *ver = json_object_get(j, "version");
    if (ver == NULL) {
        e->version = 0;
    } else if (json_is_integer(ver) && (json_integer_value(ver) == 1 || json_integer_value(ver) == 2)) {
        e->version = (int)json_integer_value(ver);
    } else {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "evidence: \"version\" is not 1 or 2 (or absent for version 0)");
        goto out;
    }
    bool snp = hw == ATTEST_SNP;
    if (e->version == 0) {
        /* Trustee's EvidenceV0: bincode-era names, byte arrays; SNP's VCEK is PEM */
        if ((rc = get_tpm_quote(json_object_get(j, snp ? "quote" : "tpm_quote"), ENC_INTS, e, err)) != 0 ||
            (rc = get_bytes(j, "", snp ? "report" : "hcl_report", ENC_INTS, AZURE_HCL_MAX, &e->hcl, &e->hcl_len,
                            err)) != 0 ||
            (rc = get_bytes(j, "", snp ? "vcek" : "td_quote", snp ? ENC_TEXT : ENC_INTS, snp ? VCEK_MAX : TD_QUOTE_MAX,
                            &e->hw, &e->hw_len, err)) != 0)
            goto out;
    } else {
        if ((rc = get_tpm_quote(json_object_get(j, "tpm_quote"), ENC_HEX, e, err)) != 0 ||
            (rc = get_bytes(j, "", "hcl_report", ENC_B64URL, AZURE_HCL_MAX, &e->hcl, &e->hcl_len, err)) != 0 ||
            (rc = get_bytes(j, "", snp ? "vcek" : "td_quote", ENC_B64URL, snp ? VCEK_MAX : TD_QUOTE_MAX, &e->hw,
                            &e->hw_len, err)) != 0)
            goto out;
    }
out:
    json_decref(j);
    return rc;
}

static int add_check(json_t *claims, const char *name)
{
    json_t *checks = json_object_get(claims, "checks");
    return json_is_array(checks) && json_array_append_new(checks, json_string(name)) == 0 ? 0 : -1;
}

/* The vTPM quote, verified with the AK of the runtime data; its nonce must be
 * the expected report data. */
static int verify_vtpm(const struct az_evidence *e, const struct azure_hcl *hcl, const uint8_t *rd, size_t rd_len,
                       time_t at, struct attest_claims *out, struct cairn_error *err)
{
    char *ak = NULL;
    int rc = azure_hcl_jwk_pem(hcl, "HCLAkPub", &ak, err);
    if (rc != 0)
        return cairn_err_prefix(err, "vtpm quote: %s", rc == CAIRN_ERR_NOT_FOUND ? "no AK" : "AK");
    struct attest_evidence ev = {.type = ATTEST_TPM, .quote = e->message, .quote_len = e->message_len,
                                 .signature = e->signature, .signature_len = e->signature_len,
                                 .ak_pub = (const uint8_t *)ak, .ak_pub_len = strlen(ak), .pcrs = e->pcrs,
                                 .pcrs_len = e->pcrs_len};
    struct attest_trust trust = {.at = at};
    struct attest_claims c = {0};
    rc = attest_verify(&ev, &trust, NULL, 0, &c, err);
    free(ak);
    if (rc != 0)
        return cairn_err_prefix(err, "vtpm quote");
    if (c.report_data_len != rd_len || CRYPTO_memcmp(c.report_data, rd, rd_len) != 0) {
        char *got = cairn_hex_encode(c.report_data, c.report_data_len);
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "vtpm quote: its nonce %s is not the expected report data",
                        got ? got : "?");
        free(got);
        attest_claims_free(&c);
        return rc;
    }
    if (add_check(c.json, "ak_from_hcl_runtime_data") != 0) {
        attest_claims_free(&c);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    *out = c;
    return 0;
}

/* PCR 8 holds the init-data digest extended once from zero. */
static int check_init_data(const struct az_evidence *e, const uint8_t *digest, size_t len, struct cairn_error *err)
{
    if (len != 32)
        return cairn_errf(err, CAIRN_ERR_INVALID, "init-data digest of %zu bytes; the vTPM binds SHA-256 (32)", len);
    if (e->n_pcrs <= INIT_DATA_PCR)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "init-data: the vTPM quote has no PCR %d", INIT_DATA_PCR);
    uint8_t in[64] = {0}, md[32];
    memcpy(in + 32, digest, 32);
    if (EVP_Digest(in, sizeof(in), md, NULL, EVP_sha256(), NULL) != 1)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "init-data: digest failed");
    if (CRYPTO_memcmp(md, e->pcrs + INIT_DATA_PCR * PCR_LEN, 32) != 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "init-data: PCR %d is not SHA-256(zeros || the init-data digest)",
                          INIT_DATA_PCR);
    return 0;
}

int kbs_evidence_azure_verify(const char *tee, const char *evidence, size_t evidence_len,
                              const uint8_t *report_data, size_t report_data_len, const uint8_t *init_data,
                              size_t init_data_len, const struct trust_store *store, time_t at,
                              struct attest_claims *out, struct cairn_error *err)
{
    enum attest_type hw;
    int rc = kbs_azure_tee_type(tee, &hw, err);
    if (rc != 0)
        return rc;
    if (report_data == NULL || report_data_len == 0 || report_data_len > 64)
        return cairn_errf(err, CAIRN_ERR_INVALID, "expected report data: %zu bytes, need 1..64",
                          report_data ? report_data_len : 0);
    struct az_evidence e = {0};
    struct attest_claims hwc = {0}, tc = {0};
    struct azure_hcl hcl;
    if ((rc = parse_evidence(hw, evidence, evidence_len, &e, err)) != 0)
        goto out;
    if ((rc = azure_hcl_parse(e.hcl, e.hcl_len, &hcl, err)) != 0)
        goto out;
    if (azure_hcl_attest_type(&hcl) != hw) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "evidence: the HCL report carries a %s report, not one of %s",
                        attest_type_name(azure_hcl_attest_type(&hcl)), tee);
        goto out;
    }
    if ((rc = verify_vtpm(&e, &hcl, report_data, report_data_len, at, &tc, err)) != 0)
        goto out;

    struct attest_trust trust;
    trust_store_get(store, hw, at, &trust);
    struct attest_evidence ev = {.type = hw};
    if (hw == ATTEST_SNP) {
        ev.quote = hcl.hw_report;
        ev.quote_len = hcl.hw_report_len;
        ev.certs = e.hw;
        ev.certs_len = e.hw_len;
    } else {
        ev.quote = e.hw;
        ev.quote_len = e.hw_len;
    }
    if ((rc = attest_verify(&ev, &trust, NULL, 0, &hwc, err)) != 0) {
        cairn_err_prefix(err, "%s", hw == ATTEST_SNP ? "snp report" : "td quote");
        goto out;
    }
    if ((rc = azure_hcl_check(&hcl, &hwc, err)) != 0)
        goto out;
    bool ud_checked = false;
    if (e.version >= 2) {
        uint8_t ud[64];
        size_t udl = 0;
        if ((rc = azure_hcl_user_data(&hcl, ud, &udl, err)) != 0)
            goto out;
        if (udl < report_data_len || CRYPTO_memcmp(ud, report_data, report_data_len) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_VERIFY, "hcl runtime data: \"user-data\" does not start with the expected "
                                                   "report data");
            goto out;
        }
        ud_checked = true;
    }
    if (init_data != NULL && (rc = check_init_data(&e, init_data, init_data_len, err)) != 0)
        goto out;

    if (json_object_set_new(hwc.json, "tee", json_string(tee)) != 0 ||
        json_object_set_new(hwc.json, "evidence_version", json_integer(e.version)) != 0 ||
        json_object_set(hwc.json, "vtpm", tc.json) != 0 || add_check(hwc.json, "vtpm_quote_ak_from_hcl") != 0 ||
        add_check(hwc.json, "vtpm_nonce_report_data") != 0 || (ud_checked && add_check(hwc.json, "hcl_user_data") != 0) ||
        (init_data != NULL && add_check(hwc.json, "init_data_pcr8") != 0)) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    *out = hwc;
    hwc.json = NULL; /* moved */
out:
    attest_claims_free(&hwc);
    attest_claims_free(&tc);
    az_evidence_free(&e);
    return rc;
}
