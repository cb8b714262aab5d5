/* SGX DCAP ECDSA quote v3 verification: structure (dcap.c), PCK chain, QE
 * report, attestation key, quote signature, then the collateral when given
 * (collateral.c), and the claims of attest.h. */
#include "attest/sgx.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "attest/verifiers.h"
#include "common/encoding.h"

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int set_hex(json_t *j, const char *k, const uint8_t *p, size_t n)
{
    json_t *v = dcap_json_hex(p, n);
    return v != NULL && json_object_set_new(j, k, v) == 0 ? 0 : CAIRN_ERR_NOMEM;
}

static int set_int(json_t *j, const char *k, long long v)
{
    return json_object_set_new(j, k, json_integer(v)) == 0 ? 0 : CAIRN_ERR_NOMEM;
}

int intel_claims_add_tcb(json_t *j, const struct collateral_result *cr)
{
    int rc = 0;
    if (!cr->evaluated)
        return json_object_set_new(j, "advisory_ids", json_array()) == 0 ? 0 : CAIRN_ERR_NOMEM;
    rc |= json_object_set_new(j, "tcb_status", json_string(cr->status));
    rc |= json_object_set_new(j, "platform_tcb_status", json_string(cr->platform_status));
    if (cr->qe_status[0] != '\0')
        rc |= json_object_set_new(j, "qe_tcb_status", json_string(cr->qe_status));
    if (cr->module_status[0] != '\0')
        rc |= json_object_set_new(j, "tdx_module_tcb_status", json_string(cr->module_status));
    rc |= json_object_set_new(j, "tcb_date", json_string(cr->tcb_date));
    if (cr->tcb_eval_number >= 0)
        rc |= set_int(j, "tcb_evaluation_data_number", cr->tcb_eval_number);
    rc |= json_object_set(j, "advisory_ids", cr->advisory_ids);
    return rc != 0 ? CAIRN_ERR_NOMEM : 0;
}

int intel_claims_add_pck(json_t *j, const struct dcap_pck_info *pck)
{
    int rc = 0;
    json_t *comps = json_array();
    for (int i = 0; comps != NULL && i < 16; i++)
        rc |= json_array_append_new(comps, json_integer(pck->comp_svn[i]));
    rc |= comps == NULL || json_object_set_new(j, "pck_tcb_components", comps) != 0;
    rc |= set_hex(j, "fmspc", pck->fmspc, 6);
    rc |= set_int(j, "pck_pce_svn", pck->pcesvn);
    rc |= set_hex(j, "pck_cpu_svn", pck->cpusvn, 16);
    rc |= set_hex(j, "ppid", pck->ppid, 16);
    if (pck->has_platform_instance_id)
        rc |= set_hex(j, "platform_instance_id", pck->platform_instance_id, 16);
    return rc != 0 ? CAIRN_ERR_NOMEM : 0;
}

static int sgx_claims(const struct dcap_quote *q, json_t **out)
{
    const uint8_t *b = q->body;
    json_t *j = json_object();
    if (j == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = 0;
    rc |= json_object_set_new(j, "type", json_string("sgx"));
    rc |= set_int(j, "quote_version", q->version);
    rc |= set_hex(j, "report_data", b + SGX_RB_REPORTDATA, 64);
    rc |= set_hex(j, "mrenclave", b + SGX_RB_MRENCLAVE, 32);
    rc |= set_hex(j, "mrsigner", b + SGX_RB_MRSIGNER, 32);
    rc |= set_int(j, "isv_prod_id", le16(b + SGX_RB_ISVPRODID));
    rc |= set_int(j, "isv_svn", le16(b + SGX_RB_ISVSVN));
    rc |=
        json_object_set_new(j, "debug", json_boolean((b[SGX_RB_ATTRIBUTES] & SGX_ATTR_DEBUG) != 0));
    rc |= set_hex(j, "attributes", b + SGX_RB_ATTRIBUTES, 16);
    rc |= set_hex(j, "cpu_svn", b + SGX_RB_CPUSVN, 16);
    rc |= set_int(j, "misc_select",
                  (long long)((uint32_t)b[16] | (uint32_t)b[17] << 8 | (uint32_t)b[18] << 16 |
                              (uint32_t)b[19] << 24));
    rc |= set_hex(j, "config_id", b + SGX_RB_CONFIGID, 64);
    rc |= set_int(j, "config_svn", le16(b + SGX_RB_CONFIGSVN));
    rc |= set_hex(j, "isv_ext_prod_id", b + SGX_RB_ISVEXTPRODID, 16);
    rc |= set_hex(j, "isv_family_id", b + SGX_RB_ISVFAMILYID, 16);
    rc |= set_int(j, "qe_svn", q->qe_svn);
    rc |= set_int(j, "pce_svn", q->pce_svn);
    rc |= set_int(j, "qe_isv_svn", le16(q->qe_report + SGX_RB_ISVSVN));
    rc |= json_object_set_new(j, "oe_header", json_boolean(q->oe_header));
    if (rc != 0) {
        json_decref(j);
        return CAIRN_ERR_NOMEM;
    }
    *out = j;
    return 0;
}

/* The claims every Intel quote ends with: where the PCK chain came from, the
 * PCK and TCB claims, and the checks made. */
static int intel_claims_common(json_t *j, const struct dcap_quote *q, const struct dcap_pck_info *pck,
                               const struct collateral_result *cr, json_t *checks)
{
    int rc = 0;
    rc |= json_object_set_new(j, "pck_chain_source", json_string(q->pck_pem != NULL ? "quote" : "evidence"));
    rc |= json_object_set_new(j, "cert_data_type", json_integer(q->cert_type));
    rc |= intel_claims_add_pck(j, pck);
    rc |= intel_claims_add_tcb(j, cr);
    rc |= json_object_set(j, "checks", checks);
    return rc != 0 ? CAIRN_ERR_NOMEM : 0;
}

int intel_verify(const struct intel_kind *k, const struct attest_evidence *ev, const struct attest_trust *trust,
                 struct attest_claims *out, struct cairn_error *err)
{
    struct dcap_quote q;
    struct dcap_pck_info pck;
    struct collateral_result cr;
    memset(&cr, 0, sizeof(cr));
    time_t at = trust != NULL && trust->at != 0 ? trust->at : time(NULL);
    json_t *checks = NULL, *j = NULL;
    int rc = dcap_quote_parse(ev->quote, ev->quote_len, k->tee, &q, err);
    if (rc != 0)
        return rc;
    checks = json_array();
    if (checks == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", k->what);
    if ((rc = dcap_verify_quote(k->what, &q, (const char *)ev->certs, ev->certs_len, trust, at, checks, &pck,
                                err)) != 0)
        goto out;
    struct collateral_input in = {.tdx = k->tee == DCAP_TEE_TDX, .pck = &pck, .qe_report = q.qe_report};
    if (k->collateral_in != NULL)
        k->collateral_in(&q, &in);
    if ((rc = collateral_evaluate(&in, trust, at, checks, &cr, err)) != 0)
        goto out;
    if ((rc = k->claims(&q, &j)) != 0 || (rc = intel_claims_common(j, &q, &pck, &cr, checks)) != 0) {
        json_decref(j);
        rc = cairn_errf(err, rc, "%s: out of memory", k->what);
        goto out;
    }
    out->type = k->type;
    memcpy(out->report_data, q.body + k->report_data_off, 64);
    out->report_data_len = 64;
    out->json = j;
out:
    collateral_result_free(&cr);
    json_decref(checks);
    return rc;
}

int sgx_verify(const struct attest_evidence *ev, const struct attest_trust *trust,
               struct attest_claims *out, struct cairn_error *err)
{
    static const struct intel_kind sgx = {.tee = DCAP_TEE_SGX, .type = ATTEST_SGX, .what = "sgx quote",
                                          .report_data_off = SGX_RB_REPORTDATA, .claims = sgx_claims};
    return intel_verify(&sgx, ev, trust, out, err);
}

/* ---- policy (MarbleRun's PackageProperties.IsCompliant + the client rules) -- */

int intel_policy_hex(const char *field, const char *want_hex, json_t *claims, const char *claim,
                     struct cairn_error *err)
{
    const char *got = json_string_value(json_object_get(claims, claim));
    if (got == NULL)
        return cairn_errf(err, CAIRN_ERR_POLICY, "%s: the evidence has no %s", field, claim);
    uint8_t *w = NULL, *g = NULL;
    size_t wl = 0, gl = 0;
    if (cairn_hex_decode(want_hex, strlen(want_hex), &w, &wl) != 0) {
        return cairn_errf(err, CAIRN_ERR_POLICY,
                          "%s mismatch: the package value \"%.40s\" is not valid hex", claim,
                          want_hex);
    }
    int rc = 0;
    if (cairn_hex_decode(got, strlen(got), &g, &gl) != 0 || wl != gl ||
        CRYPTO_memcmp(w, g, wl) != 0)
        rc = cairn_errf(err, CAIRN_ERR_POLICY, "%s mismatch: expected %s, got %s", claim, want_hex,
                        got);
    free(w);
    free(g);
    return rc;
}

int intel_policy_tcb(const struct tee_package *p, json_t *claims, struct cairn_error *err)
{
    json_t *st = json_object_get(claims, "tcb_status");
    /* No collateral, no TCB status: refused unless the package names the
     * pseudo-status "NoCollateral" explicitly (docs/attestation-intel.md). */
    const char *status = json_is_string(st) ? json_string_value(st) : "NoCollateral";
    if (!tee_tcb_status_accepted(p, status)) {
        if (!json_is_string(st))
            return cairn_errf(err, CAIRN_ERR_POLICY,
                              "tcb status: not evaluated (no collateral); add \"NoCollateral\" to "
                              "AcceptedTCBStatuses to accept that");
        return cairn_errf(err, CAIRN_ERR_POLICY, "tcb status \"%s\" is not accepted", status);
    }
    /* MarbleRun: advisories matter only for SWHardeningNeeded, and an empty
     * list accepts them all. */
    if (strcmp(status, "SWHardeningNeeded") != 0 || p->n_accepted_advisories == 0)
        return 0;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(claims, "advisory_ids"), i, a)
    {
        bool ok = false;
        for (size_t k = 0; k < p->n_accepted_advisories && !ok; k++)
            ok = strcasecmp(p->accepted_advisories[k], json_string_value(a)) == 0;
        if (!ok)
            return cairn_errf(err, CAIRN_ERR_POLICY, "advisory %s is not accepted",
                              json_string_value(a));
    }
    return 0;
}

int sgx_policy_match(const struct tee_package *p, const struct attest_claims *c,
                     struct cairn_error *err)
{
    json_t *j = c->json;
    if (c->type != ATTEST_SGX || j == NULL)
        return cairn_errf(err, CAIRN_ERR_POLICY,
                          "TEE mismatch: the package expects sgx evidence, got %s",
                          attest_type_name(c->type));
    if (p->unique_id == NULL && p->signer_id == NULL)
        return cairn_errf(err, CAIRN_ERR_POLICY,
                          "package sets neither UniqueID nor SignerID: any enclave would match");
    bool debug = json_is_true(json_object_get(j, "debug"));
    if (debug != p->debug)
        return cairn_errf(err, CAIRN_ERR_POLICY, "debug mismatch: expected %s, got %s",
                          p->debug ? "true" : "false", debug ? "true" : "false");
    int rc;
    if (p->unique_id != NULL &&
        (rc = intel_policy_hex("UniqueID", p->unique_id, j, "mrenclave", err)) != 0)
        return rc;
    if (p->signer_id != NULL &&
        (rc = intel_policy_hex("SignerID", p->signer_id, j, "mrsigner", err)) != 0)
        return rc;
    json_int_t prod = json_integer_value(json_object_get(j, "isv_prod_id"));
    json_int_t svn = json_integer_value(json_object_get(j, "isv_svn"));
    if (p->has_product_id && (uint64_t)prod != p->product_id)
        return cairn_errf(err, CAIRN_ERR_POLICY, "isv_prod_id mismatch: expected %llu, got %lld",
                          (unsigned long long)p->product_id, (long long)prod);
    if (p->has_security_version && (uint64_t)svn < p->security_version)
        return cairn_errf(err, CAIRN_ERR_POLICY,
                          "isv_svn too low: expected at least %llu, got %lld",
                          (unsigned long long)p->security_version, (long long)svn);
    return intel_policy_tcb(p, j, err);
}
