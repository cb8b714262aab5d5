/* Evidence dispatch: one entry point for every TEE type, plus the report-data
 * binding check that every type shares. */
#include "attest/attest.h"

#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

#include "attest/verifiers.h"

static const char *const type_names[] = {
    [ATTEST_SIM] = "sim", [ATTEST_SGX] = "sgx", [ATTEST_TDX] = "tdx",
    [ATTEST_SNP] = "snp", [ATTEST_TPM] = "tpm",
};

const char *attest_type_name(enum attest_type t)
{
    if ((unsigned)t < sizeof(type_names) / sizeof(type_names[0]) && type_names[t] != NULL)
        return type_names[t];
    return "unknown";
}

int attest_type_parse(const char *s, enum attest_type *out)
{
    for (unsigned i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
        if (type_names[i] != NULL && strcasecmp(s, type_names[i]) == 0) {
            *out = (enum attest_type)i;
            return 0;
        }
    }
    return CAIRN_ERR_INVALID;
}

void attest_claims_free(struct attest_claims *c)
{
    if (c == NULL)
        return;
    json_decref(c->json);
    c->json = NULL;
}

/* The binding: the verified report data must start with `expected` and, for
 * hardware reports, be zero after it, so nothing else can ride along. */
static int check_binding(const struct attest_claims *c, const uint8_t *expected, size_t expected_len,
                         struct cairn_error *err)
{
    if (expected_len > c->report_data_len)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "report data binding: expected %zu bytes, evidence has %zu",
                          expected_len, c->report_data_len);
    if (CRYPTO_memcmp(c->report_data, expected, expected_len) != 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY,
                          "report data binding: report data does not match the hash of the presented key");
    if (c->type != ATTEST_TPM) {
        for (size_t i = expected_len; i < c->report_data_len; i++) {
            if (c->report_data[i] != 0)
                return cairn_errf(err, CAIRN_ERR_VERIFY,
                                  "report data binding: bytes after the first %zu must be zero", expected_len);
        }
    }
    return 0;
}

int attest_verify(const struct attest_evidence *ev, const struct attest_trust *trust,
                  const uint8_t *expected_report_data, size_t expected_len, struct attest_claims *out,
                  struct cairn_error *err)
{
    struct attest_claims c = {.type = ev->type};
    int rc;
    switch (ev->type) {
    case ATTEST_SIM:
        rc = sim_verify(ev, trust, &c, err);
        break;
    /* Each hardware verifier adds its case here (sgx_verify, tdx_verify, snp_verify, tpm_verify). */
    case ATTEST_SGX:
        rc = sgx_verify(ev, trust, &c, err);
        break;
    case ATTEST_TDX:
        rc = tdx_verify(ev, trust, &c, err);
        break;
    case ATTEST_SNP:
        rc = snp_verify(ev, trust, &c, err);
        break;
    case ATTEST_TPM:
        rc = tpm_verify(ev, trust, &c, err);
        break;
    default:
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "evidence type \"%s\" is not supported",
                          attest_type_name(ev->type));
    }
    if (rc != 0) {
        attest_claims_free(&c);
        return rc;
    }
    if (expected_report_data != NULL) {
        rc = check_binding(&c, expected_report_data, expected_len, err);
        if (rc != 0) {
            attest_claims_free(&c);
            return rc;
        }
        json_t *checks = json_object_get(c.json, "checks");
        if (json_is_array(checks))
            json_array_append_new(checks, json_string("report_data_binding"));
    }
    *out = c;
    return 0;
}
