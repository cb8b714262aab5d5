/* Issuer dispatch, TEE probing and the evidence wire form. */
#include "attest/issuer.h"

#include <stdlib.h>
#include <string.h>

#include "attest/sgx.h"
#include "attest/tpm.h"
#include "common/encoding.h"

#define WIRE_MEMBER_MAX (1u << 20)

void attest_issued_free(struct attest_issued *e)
{
    if (e == NULL)
        return;
    free(e->quote);
    free(e->signature);
    free(e->certs);
    free(e->ak_pub);
    free(e->pcr_signature);
    free(e->pcrs);
    free(e->eventlog);
    memset(e, 0, sizeof(*e));
}

int sim_issue(const uint8_t report_data[64], struct attest_issued *out, struct cairn_error *err)
{
    uint8_t *q = malloc(64);
    if (q == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "sim issuer: out of memory");
    memcpy(q, report_data, 64);
    memset(out, 0, sizeof(*out));
    out->type = ATTEST_SIM;
    out->quote = q;
    out->quote_len = 64;
    return 0;
}

int attest_issue(enum attest_type type, const uint8_t report_data[64], const struct attest_issuer_config *cfg,
                 struct attest_issued *out, struct cairn_error *err)
{
    (void)cfg;
    switch (type) {
    case ATTEST_SIM:
        return sim_issue(report_data, out, err);
    /* Each hardware issuer adds its case here (gramine_issue, tsm_issue, tpm_issue). */
    case ATTEST_SGX:
        return gramine_issue(report_data, cfg, out, err);
    case ATTEST_TPM:
        return tpm_issue(report_data, cfg, out, err);
    case ATTEST_TDX:
    case ATTEST_SNP:
        return tsm_issue(type, report_data, cfg, out, err);
    default:
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "no issuer for evidence type \"%s\"",
                          attest_type_name(type));
    }
}

enum attest_type attest_probe(const struct attest_issuer_config *cfg)
{
    /* Hardware probes are added with their issuers. */
    if (gramine_probe(cfg))
        return ATTEST_SGX;
    enum attest_type tsm_type;
    if (tsm_probe(cfg, &tsm_type))
        return tsm_type;
    if (tpm_probe(cfg))
        return ATTEST_TPM;
    return ATTEST_SIM;
}

static int put_b64(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
    if (p == NULL)
        return 0;
    char *s = cairn_base64_encode(p, n);
    if (s == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = json_object_set_new(obj, key, json_string(s)) == 0 ? 0 : CAIRN_ERR_NOMEM;
    free(s);
    return rc;
}

int attest_evidence_to_json(const struct attest_issued *e, json_t *req)
{
    if (e->type == ATTEST_SGX)
        return put_b64(req, "quote", e->quote, e->quote_len);
    json_t *ev = json_object();
    if (ev == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = json_object_set_new(ev, "type", json_string(attest_type_name(e->type))) == 0 ? 0 : CAIRN_ERR_NOMEM;
    if (rc == 0)
        rc = put_b64(ev, "quote", e->quote, e->quote_len);
    if (rc == 0)
        rc = put_b64(ev, "signature", e->signature, e->signature_len);
    if (rc == 0 && e->certs != NULL)
        rc = json_object_set_new(ev, "certs", json_string(e->certs)) == 0 ? 0 : CAIRN_ERR_NOMEM;
    if (rc == 0)
        rc = put_b64(ev, "akPub", e->ak_pub, e->ak_pub_len);
    if (rc == 0)
        rc = put_b64(ev, "pcrs", e->pcrs, e->pcrs_len);
    if (rc == 0)
        rc = put_b64(ev, "eventlog", e->eventlog, e->eventlog_len);
    if (rc == 0)
        rc = put_b64(ev, "pcrSignature", e->pcr_signature, e->pcr_signature_len);
    if (rc == 0)
        rc = json_object_set_new(req, "evidence", ev) == 0 ? 0 : CAIRN_ERR_NOMEM;
    else
        json_decref(ev);
    return rc;
}

static int get_b64(const json_t *obj, const char *key, uint8_t **out, size_t *out_len, struct cairn_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence.%s: expected a base64 string", key);
    size_t slen = json_string_length(v);
    if (slen > WIRE_MEMBER_MAX / 3 * 4 + 4)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "evidence.%s: larger than %u bytes", key, WIRE_MEMBER_MAX);
    if (cairn_base64_decode(json_string_value(v), slen, out, out_len) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence.%s: invalid base64", key);
    return 0;
}

int attest_evidence_from_json(const json_t *req, struct attest_issued *st, struct attest_evidence *out,
                              struct cairn_error *err)
{
    struct attest_issued s = {0};
    int rc = 0;
    const json_t *ev = json_object_get(req, "evidence");
    const json_t *quote = json_object_get(req, "quote");
    if (ev != NULL && !json_is_null(ev)) {
        if (!json_is_object(ev))
            return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: expected an object");
        const json_t *t = json_object_get(ev, "type");
        if (!json_is_string(t) || attest_type_parse(json_string_value(t), &s.type) != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "evidence.type: expected one of sgx, tdx, snp, tpm, sim");
        rc = get_b64(ev, "quote", &s.quote, &s.quote_len, err);
        if (rc == 0)
            rc = get_b64(ev, "signature", &s.signature, &s.signature_len, err);
        if (rc == 0)
            rc = get_b64(ev, "akPub", &s.ak_pub, &s.ak_pub_len, err);
        if (rc == 0)
            rc = get_b64(ev, "pcrs", &s.pcrs, &s.pcrs_len, err);
        if (rc == 0)
            rc = get_b64(ev, "eventlog", &s.eventlog, &s.eventlog_len, err);
        if (rc == 0)
            rc = get_b64(ev, "pcrSignature", &s.pcr_signature, &s.pcr_signature_len, err);
        const json_t *certs = json_object_get(ev, "certs");
        if (rc == 0 && certs != NULL && !json_is_null(certs)) {
            if (!json_is_string(certs) || json_string_length(certs) > WIRE_MEMBER_MAX)
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "evidence.certs: expected PEM text up to 1 MiB");
            else if ((s.certs = strdup(json_string_value(certs))) == NULL)
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "evidence: out of memory");
        }
    } else if (quote != NULL && !json_is_null(quote)) {
        s.type = ATTEST_SGX;
        rc = get_b64(req, "quote", &s.quote, &s.quote_len, err);
        if (rc == 0 && s.quote_len == 0)
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "quote: empty (no TEE evidence was sent)");
    } else {
        return cairn_errf(err, CAIRN_ERR_INVALID, "request has neither \"quote\" nor \"evidence\"");
    }
    if (rc != 0) {
        attest_issued_free(&s);
        return rc;
    }
    *st = s;
    memset(out, 0, sizeof(*out));
    out->type = s.type;
    out->quote = s.quote;
    out->quote_len = s.quote_len;
    out->signature = s.signature;
    out->signature_len = s.signature_len;
    out->certs = (const uint8_t *)s.certs;
    out->certs_len = s.certs ? strlen(s.certs) : 0;
    out->ak_pub = s.ak_pub;
    out->ak_pub_len = s.ak_pub_len;
    out->pcrs = s.pcrs;
    out->pcrs_len = s.pcrs_len;
    out->eventlog = s.eventlog;
    out->eventlog_len = s.eventlog_len;
    out->pcr_signature = s.pcr_signature;
    out->pcr_signature_len = s.pcr_signature_len;
    return 0;
}
