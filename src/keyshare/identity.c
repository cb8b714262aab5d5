/* The Coordinator's own identity for the key API (contract in keyshare.h):
 * a tee_package built from the replica's own verified claims, so a peer is
 * held to exactly what this build measures as, with the same matcher that
 * checks marbles (tee_policy_match). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/file.h"
#include "crypto/crypto.h"
#include "keyshare/keyshare.h"

#define KS_EXE_MAX (512u * 1024 * 1024)

void ks_identity_clear(struct ks_identity *id)
{
    if (id == NULL)
        return;
    tee_package_free(&id->product);
    tee_package_free(&id->unique);
    memset(id, 0, sizeof(*id));
}

static int dup_claim(const json_t *j, const char *name, bool required, char **out, struct cairn_error *err)
{
    const char *v = json_string_value(json_object_get(j, name));
    if (v == NULL) {
        if (required)
            return cairn_errf(err, CAIRN_ERR_INVALID, "own evidence: claim \"%s\" missing", name);
        return 0;
    }
    if ((*out = strdup(v)) == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    return 0;
}

static int uint_claim(const json_t *j, const char *name, uint64_t *out, struct cairn_error *err)
{
    const json_t *v = json_object_get(j, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "own evidence: claim \"%s\" missing", name);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int fill(const struct attest_claims *own, bool unique, struct tee_package *p, struct cairn_error *err)
{
    const json_t *j = own->json;
    int rc = 0;
    memset(p, 0, sizeof(*p));
    p->tee = own->type;
    p->debug = json_is_true(json_object_get(j, "debug"));
    /* TCB: a peer passes with UpToDate, SWHardeningNeeded, or whatever this
     * replica itself runs with (e.g. "NoCollateral" without a trust
     * directory: then neither side's TCB is evaluated) */
    const char *own_status = json_string_value(json_object_get(j, "tcb_status"));
    const char *statuses[3] = {"UpToDate", "SWHardeningNeeded", own_status != NULL ? own_status : "NoCollateral"};
    if ((p->accepted_tcb_statuses = calloc(3, sizeof(char *))) == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < 3; i++) {
        if ((p->accepted_tcb_statuses[i] = strdup(statuses[i])) == NULL)
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        p->n_accepted_tcb_statuses++;
    }
    switch (own->type) {
    case ATTEST_SGX:
        /* MarbleRun's key server rule: ProductKey -> signer, product, SVN
         * (minimum); UniqueKey -> the enclave measurement too */
        rc = dup_claim(j, "mrsigner", true, &p->signer_id, err);
        if (rc == 0 && (rc = uint_claim(j, "isv_prod_id", &p->product_id, err)) == 0)
            p->has_product_id = true;
        if (rc == 0 && (rc = uint_claim(j, "isv_svn", &p->security_version, err)) == 0)
            p->has_security_version = true;
        if (rc == 0 && unique)
            rc = dup_claim(j, "mrenclave", true, &p->unique_id, err);
        break;
    case ATTEST_TDX:
        /* RTMR3 is extended at run time (applications): not identity */
        rc = dup_claim(j, "mrtd", true, &p->mrtd, err);
        for (int i = 0; i < 3 && rc == 0; i++) {
            char k[8];
            snprintf(k, sizeof(k), "rtmr%d", i);
            rc = dup_claim(j, k, true, &p->rtmr[i], err);
        }
        if (rc == 0)
            rc = dup_claim(j, "mr_config_id", true, &p->mr_config_id, err);
        break;
    case ATTEST_SNP:
        rc = dup_claim(j, "measurement", true, &p->measurement, err);
        if (rc == 0)
            rc = dup_claim(j, "host_data", true, &p->host_data, err);
        if (rc == 0) {
            uint64_t svn = 0;
            if ((rc = uint_claim(j, "guest_svn", &svn, err)) == 0) {
                p->guest_svn = (uint32_t)svn;
                p->has_guest_svn = true;
            }
        }
        /* the platform TCB the AMD-SP reports for this replica is the floor:
         * AMD signs reports of older (vulnerable) firmware too, and SNP has
         * no collateral-based TCB status as SGX/TDX have, so without it a
         * peer on a rolled-back host would get the key (as ISVSVN >= own) */
        if (rc == 0) {
            const json_t *t = json_object_get(j, "reported_tcb");
            uint64_t v[4];
            static const char *const comp[4] = {"bootloader", "tee", "snp", "microcode"};
            for (int i = 0; i < 4 && rc == 0; i++) {
                const json_t *x = json_object_get(t, comp[i]);
                if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 255)
                    rc = cairn_errf(err, CAIRN_ERR_INVALID, "own evidence: claim \"reported_tcb.%s\" missing",
                                    comp[i]);
                else
                    v[i] = (uint64_t)json_integer_value(x);
            }
            if (rc == 0) {
                p->minimum_tcb.bootloader = (uint8_t)v[0];
                p->minimum_tcb.tee = (uint8_t)v[1];
                p->minimum_tcb.snp = (uint8_t)v[2];
                p->minimum_tcb.microcode = (uint8_t)v[3];
                p->has_minimum_tcb = true;
            }
        }
        break;
    case ATTEST_TPM: {
        /* every PCR the own quote covers */
        const json_t *banks = json_object_get(j, "pcrs");
        const char *bank;
        const json_t *vals;
        size_t n = 0;
        json_object_foreach((json_t *)banks, bank, vals)
            n += json_object_size(vals);
        if (n == 0 || n > 24 * 4)
            return cairn_errf(err, CAIRN_ERR_INVALID, "own evidence: the TPM quote covers no PCR");
        if ((p->pcrs = calloc(n, sizeof(*p->pcrs))) == NULL)
            return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        json_object_foreach((json_t *)banks, bank, vals) {
            const char *idx;
            const json_t *v;
            json_object_foreach((json_t *)vals, idx, v) {
                struct tee_pcr *w = &p->pcrs[p->n_pcrs];
                char *end = NULL;
                unsigned long i = strtoul(idx, &end, 10);
                if (*idx == '\0' || *end != '\0' || i > 23 || !json_is_string(v))
                    return cairn_errf(err, CAIRN_ERR_INVALID, "own evidence: PCR %s.%s malformed", bank, idx);
                w->index = (unsigned)i;
                p->n_pcrs++;
                if ((w->bank = strdup(bank)) == NULL || (w->value_hex = strdup(json_string_value(v))) == NULL)
                    return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            }
        }
        break;
    }
    default:
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "no identity rule for %s evidence", attest_type_name(own->type));
    }
    return rc;
}

int ks_identity_from_claims(const struct attest_claims *own, struct ks_identity *out, struct cairn_error *err)
{
    struct ks_identity id;
    memset(&id, 0, sizeof(id));
    id.type = own->type;
    int rc = fill(own, false, &id.product, err);
    if (rc == 0)
        rc = fill(own, own->type == ATTEST_SGX, &id.unique, err);
    if (rc != 0) {
        ks_identity_clear(&id);
        return rc;
    }
    *out = id;
    return 0;
}

int ks_identity_sim(const char *exe, struct ks_identity *out, struct cairn_error *err)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *path = exe != NULL ? exe : "/proc/self/exe";
    int rc = cairn_file_read(path, KS_EXE_MAX, &raw, &len);
    if (rc != 0)
        return cairn_errf(err, rc, "simulation identity: cannot read %s: %s", path, cairn_strerror(rc));
    memset(out, 0, sizeof(*out));
    out->type = ATTEST_SIM;
    cc_sha256(raw, len, out->sim_identity);
    free(raw);
    return 0;
}

int ks_identity_check(const struct ks_identity *id, bool unique, const struct attest_claims *peer,
                      const uint8_t *peer_sim_identity, struct cairn_error *err)
{
    if (peer->type != id->type)
        return cairn_errf(err, CAIRN_ERR_POLICY, "TEE mismatch: this Coordinator runs in %s, the peer sent %s evidence",
                          attest_type_name(id->type), attest_type_name(peer->type));
    if (id->type == ATTEST_SIM) {
        if (peer_sim_identity == NULL)
            return cairn_errf(err, CAIRN_ERR_POLICY, "simIdentity missing: a simulation peer must name its build");
        if (CRYPTO_memcmp(peer_sim_identity, id->sim_identity, 32) != 0)
            return cairn_errf(err, CAIRN_ERR_POLICY,
                              "simIdentity mismatch: the peer is another Coordinator build (executable hash differs)");
        return 0;
    }
    if (id->type == ATTEST_TPM && !json_is_true(json_object_get(peer->json, "ak_certified")))
        /* Without a trust directory with AK roots the TPM verifier accepts a
         * bare AK, a key any software TPM makes; PCR values are public
         * (replaying the event log's digests reproduces them), so equal PCRs
         * alone would hand the data key to swtpm. */
        return cairn_errf(err, CAIRN_ERR_POLICY,
                          "the peer's TPM attestation key is not certified by AK roots (tpm/roots/ of the trust "
                          "directory): a bare AK proves no TPM, equal PCRs alone are not an identity");
    return tee_policy_match(unique ? &id->unique : &id->product, peer, err);
}

int ks_identity_own(const struct ks_ops *ops, struct ks_identity *out, struct cairn_error *err)
{
    if (ops->tee == ATTEST_SIM)
        return ks_identity_sim(NULL, out, err);
    uint8_t rd[64] = {0};
    if (cc_random(rd, 32) != 0)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "no randomness");
    json_t *j = json_object();
    if (j == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    int rc = ops->issue(ops->ctx, rd, j, err);
    struct attest_issued st = {0};
    struct attest_evidence ev;
    struct attest_claims cl = {0};
    if (rc == 0)
        rc = attest_evidence_from_json(j, &st, &ev, err);
    json_decref(j);
    if (rc == 0)
        rc = ops->verify(ops->ctx, &ev, rd, &cl, err);
    if (rc == 0)
        rc = ks_identity_from_claims(&cl, out, err);
    attest_claims_free(&cl);
    attest_issued_free(&st);
    if (rc != 0)
        return cairn_err_prefix(err, "the Coordinator's own identity for the key API");
    return 0;
}
