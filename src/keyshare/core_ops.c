/* struct ks_ops over a Coordinator core (src/core): its TEE, its evidence,
 * its trust, its data key. */
#include "core/core.h"
#include "keyshare/keyshare.h"

static int issue(void *ctx, const uint8_t rd[64], json_t *out, struct cairn_error *err)
{
    return core_issue_evidence(ctx, rd, out, err);
}

static int verify(void *ctx, const struct attest_evidence *ev, const uint8_t rd[32], struct attest_claims *out,
                  struct cairn_error *err)
{
    return core_verify_peer_evidence(ctx, ev, rd, out, err);
}

static int get_key(void *ctx, const uint8_t *ref, size_t ref_len, uint8_t key[KS_KEY_SIZE], bool *unique,
                   struct cairn_error *err)
{
    int rc = core_data_key_ref(ctx, ref, ref_len, key, unique);
    return rc != 0 ? cairn_errf(err, rc, "this replica holds no data key") : 0;
}

void ks_ops_from_core(struct core *c, struct ks_ops *out)
{
    out->ctx = c;
    out->tee = core_own_tee(c);
    out->issue = issue;
    out->verify = verify;
    out->get_key = get_key;
}
