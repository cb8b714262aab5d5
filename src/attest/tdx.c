/* TDX quote v4/v5 verification: structure (dcap.c, trailing bytes after the
 * quote tolerated and reported), the checks shared with SGX, the collateral
 * (TDX TCB info, TD_QE identity, TDX module identity) and the claims. */
#include "attest/tdx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/collateral.h"
#include "attest/dcap.h"
#include "attest/sgx.h"
#include "attest/verifiers.h"

static int set_hex(json_t *j, const char *k, const uint8_t *p, size_t n)
{
    json_t *v = dcap_json_hex(p, n);
    return v != NULL && json_object_set_new(j, k, v) == 0 ? 0 : CAIRN_ERR_NOMEM;
}

static int tdx_claims(const struct dcap_quote *q, json_t **out)
{
    const uint8_t *b = q->body;
    json_t *j = json_object();
    if (j == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = 0;
    rc |= json_object_set_new(j, "type", json_string("tdx"));
    rc |= json_object_set_new(j, "version", json_integer(q->version));
    rc |= json_object_set_new(j, "body_type", json_integer(q->body_type));
    rc |= set_hex(j, "report_data", b + TDX_TB_REPORTDATA, 64);
    rc |= set_hex(j, "mrtd", b + TDX_TB_MRTD, 48);
    for (int i = 0; i < 4; i++) {
        char k[8];
        snprintf(k, sizeof(k), "rtmr%d", i);
        rc |= set_hex(j, k, b + TDX_TB_RTMR0 + 48 * i, 48);
    }
    rc |= set_hex(j, "mr_config_id", b + TDX_TB_MRCONFIGID, 48);
    rc |= set_hex(j, "mr_owner", b + TDX_TB_MROWNER, 48);
    rc |= set_hex(j, "mr_owner_config", b + TDX_TB_MROWNERCONFIG, 48);
    rc |= set_hex(j, "mr_seam", b + TDX_TB_MRSEAM, 48);
    rc |= set_hex(j, "mr_signer_seam", b + TDX_TB_MRSIGNERSEAM, 48);
    rc |= set_hex(j, "td_attributes", b + TDX_TB_TDATTRIBUTES, 8);
    rc |= set_hex(j, "seam_attributes", b + TDX_TB_SEAMATTRIBUTES, 8);
    rc |= set_hex(j, "xfam", b + TDX_TB_XFAM, 8);
    rc |= set_hex(j, "tee_tcb_svn", b + TDX_TB_TEE_TCB_SVN, 16);
    if (q->body_type == DCAP_BODY_TDX15) {
        rc |= set_hex(j, "tee_tcb_svn2", b + TDX_TB_TEE_TCB_SVN2, 16);
        rc |= set_hex(j, "mr_service_td", b + TDX_TB_MRSERVICETD, 48);
    }
    rc |= json_object_set_new(j, "debug",
                              json_boolean((b[TDX_TB_TDATTRIBUTES] & TDX_TD_ATTR_DEBUG) != 0));
    rc |= json_object_set_new(
        j, "qe_isv_svn",
        json_integer(q->qe_report[SGX_RB_ISVSVN] | q->qe_report[SGX_RB_ISVSVN + 1] << 8));
    if (q->trailing > 0)
        rc |= json_object_set_new(j, "trailing_bytes", json_integer((json_int_t)q->trailing));
    if (rc != 0) {
        json_decref(j);
        return CAIRN_ERR_NOMEM;
    }
    *out = j;
    return 0;
}

/* The TD report's parts the TDX collateral (TDX module identity) checks. */
static void tdx_collateral_in(const struct dcap_quote *q, struct collateral_input *in)
{
    in->tee_tcb_svn = q->body + TDX_TB_TEE_TCB_SVN;
    in->mr_signer_seam = q->body + TDX_TB_MRSIGNERSEAM;
    in->seam_attributes = q->body + TDX_TB_SEAMATTRIBUTES;
}

int tdx_verify(const struct attest_evidence *ev, const struct attest_trust *trust,
               struct attest_claims *out, struct cairn_error *err)
{
    static const struct intel_kind tdx = {.tee = DCAP_TEE_TDX, .type = ATTEST_TDX, .what = "tdx quote",
                                          .report_data_off = TDX_TB_REPORTDATA,
                                          .collateral_in = tdx_collateral_in, .claims = tdx_claims};
    return intel_verify(&tdx, ev, trust, out, err);
}

/* ---- policy: the TDX package fields of DESIGN §5 ---------------------------- */

int tdx_policy_match(const struct tee_package *p, const struct attest_claims *c,
                     struct cairn_error *err)
{
    json_t *j = c->json;
    if (c->type != ATTEST_TDX || j == NULL)
        return cairn_errf(err, CAIRN_ERR_POLICY,
                          "TEE mismatch: the package expects tdx evidence, got %s",
                          attest_type_name(c->type));
    if (p->mrtd == NULL)
        return cairn_errf(err, CAIRN_ERR_POLICY, "package sets no MRTD: any TD would match");
    bool debug = json_is_true(json_object_get(j, "debug"));
    if (debug != p->debug)
        return cairn_errf(err, CAIRN_ERR_POLICY, "debug mismatch: expected %s, got %s",
                          p->debug ? "true" : "false", debug ? "true" : "false");
    int rc;
    if ((rc = intel_policy_hex("MRTD", p->mrtd, j, "mrtd", err)) != 0)
        return rc;
    for (int i = 0; i < 4; i++) {
        char k[8];
        snprintf(k, sizeof(k), "rtmr%d", i);
        if (p->rtmr[i] != NULL && (rc = intel_policy_hex("RTMR", p->rtmr[i], j, k, err)) != 0)
            return rc;
    }
    if (p->mr_config_id != NULL &&
        (rc = intel_policy_hex("MRConfigID", p->mr_config_id, j, "mr_config_id", err)) != 0)
        return rc;
    if (p->mr_owner != NULL &&
        (rc = intel_policy_hex("MROwner", p->mr_owner, j, "mr_owner", err)) != 0)
        return rc;
    if (p->mr_owner_config != NULL && (rc = intel_policy_hex("MROwnerConfig", p->mr_owner_config, j,
                                                             "mr_owner_config", err)) != 0)
        return rc;
    return intel_policy_tcb(p, j, err);
}
