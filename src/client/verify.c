/* Coordinator verification (inventory §4 "Client-side verification", DESIGN §6):
 * the root certificate is trusted only when the Coordinator's evidence
 * verifies, binds SHA-256(root DER || nonce), and matches the policy. */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "attest/issuer.h"
#include "attest/trust_store.h"
#include "client/client_internal.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "manifest/manifest.h"

#define POLICY_MAX_SIZE (256 * 1024)
#define QUOTE_CERTS_MAX_SIZE (64 * 1024)

int client_policy_parse(const char *json, size_t len, struct tee_package *out, struct cairn_error *err)
{
    if (len > POLICY_MAX_SIZE)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "coordinator policy: larger than %d bytes", POLICY_MAX_SIZE);
    json_error_t je;
    json_t *pol = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (pol == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "coordinator policy: invalid JSON at line %d column %d: %s",
                          je.line, je.column, je.text);
    if (!json_is_object(pol)) {
        json_decref(pol);
        return cairn_errf(err, CAIRN_ERR_INVALID, "coordinator policy: expected a JSON object with package fields");
    }
    /* MarbleRun's era-config carries options that are not identity fields. */
    json_object_del(pol, "InsecureSkipVerify");
    json_object_del(pol, "Nonce");
    /* The policy is a manifest package: let the manifest engine apply the same
     * decoding and identity rules by wrapping it into a minimal manifest. */
    json_t *m = json_pack("{s:{s:o}, s:{s:{s:s}}}", "Packages", "coordinator", pol, "Marbles", "coordinator",
                          "Package", "coordinator");
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (text == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    struct manifest *man = NULL;
    int rc = manifest_parse((const uint8_t *)text, strlen(text), &man, err);
    free(text);
    if (rc == 0)
        rc = manifest_check(man, err);
    if (rc != 0) {
        manifest_free(man);
        return cairn_err_prefix(err, "coordinator policy");
    }
    const struct manifest_package *p = manifest_find_package(man, "coordinator");
    if (p == NULL) {
        manifest_free(man);
        return cairn_errf(err, CAIRN_ERR_INTERNAL, "coordinator policy: package lost");
    }
    /* Move the package out of the manifest. */
    *out = p->pkg;
    memset((void *)&p->pkg, 0, sizeof(p->pkg));
    manifest_free(man);
    return 0;
}

static char *pem_of(X509 *x)
{
    char *pem = NULL;
    size_t n = 0;
    return cc_cert_to_pem(x, &pem, &n) == 0 ? pem : NULL;
}

const char *client_trust_dir(const char *configured)
{
    if (configured != NULL)
        return configured[0] != '\0' ? configured : NULL;
    const char *env = getenv("CAIRN_TRUST_DIR");
    return env != NULL && env[0] != '\0' ? env : NULL;
}

int client_trust_open(const char *dir, struct trust_store **out, struct cairn_error *err)
{
    /* the loader's messages already name the directory and the file */
    return trust_store_load(dir, out, err);
}

int client_verify_quote_data(const json_t *data, const uint8_t *nonce, size_t nonce_len,
                             const struct tee_package *policy, bool insecure,
                             struct cairn_coordinator_certs *out, struct cairn_error *err)
{
    return client_verify_quote_data_trust(data, nonce, nonce_len, policy, insecure, NULL, out, err);
}

int client_verify_quote_data_trust(const json_t *data, const uint8_t *nonce, size_t nonce_len,
                                   const struct tee_package *policy, bool insecure, const struct trust_store *ts,
                                   struct cairn_coordinator_certs *out, struct cairn_error *err)
{
    const json_t *cert = json_object_get(data, "cert");
    if (!json_is_string(cert) || json_string_length(cert) == 0)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "quote answer: \"cert\" is missing");
    if (json_string_length(cert) > QUOTE_CERTS_MAX_SIZE)
        return cairn_errf(err, CAIRN_ERR_PROTOCOL, "quote answer: \"cert\" larger than %d bytes",
                          QUOTE_CERTS_MAX_SIZE);
    STACK_OF(X509) *chain = NULL;
    STACK_OF(X509) *roots = NULL;
    struct attest_issued st = {0};
    struct attest_claims claims = {0};
    struct cairn_coordinator_certs c = {0};
    uint8_t *root_der = NULL, *msg = NULL;
    size_t root_der_len = 0;
    int rc = cc_certs_from_pem(json_string_value(cert), json_string_length(cert), &chain, err);
    if (rc != 0) {
        cairn_err_prefix(err, "quote answer: \"cert\"");
        goto out;
    }
    int n = sk_X509_num(chain);
    if (n < 1 || n > 2) {
        rc = cairn_errf(err, CAIRN_ERR_PROTOCOL, "quote answer: expected intermediate and root, got %d certificates",
                        n);
        goto out;
    }
    /* MarbleRun order: intermediate first, root last. */
    X509 *root = sk_X509_value(chain, n - 1);
    X509 *inter = n == 2 ? sk_X509_value(chain, 0) : NULL;
    if (X509_check_issued(root, root) != X509_V_OK || X509_verify(root, X509_get0_pubkey(root)) != 1) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "quote answer: the root certificate is not self-signed");
        goto out;
    }
    if (inter != NULL) {
        roots = sk_X509_new_null();
        if (roots == NULL || !sk_X509_push(roots, root)) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            goto out;
        }
        X509_up_ref(root);
        rc = cc_chain_verify(inter, NULL, roots, NULL, 0, err);
        if (rc != 0) {
            cairn_err_prefix(err, "quote answer: the intermediate does not chain to the root");
            goto out;
        }
    }

    const json_t *q = json_object_get(data, "quote");
    const json_t *ev = json_object_get(data, "evidence");
    bool has_evidence = (q != NULL && !json_is_null(q)) || (ev != NULL && !json_is_null(ev));
    if (!insecure) {
        if (!has_evidence) {
            rc = cairn_errf(err, CAIRN_ERR_STATE,
                            "the Coordinator sent no quote (it runs in simulation mode); only insecure mode "
                            "(trust on first use) can accept it");
            goto out;
        }
        struct attest_evidence e;
        /* The quote answer has the activation wire form: "quote" (SGX) or "evidence". */
        json_t *wire = json_object();
        if (wire == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (ev != NULL && !json_is_null(ev))
            json_object_set(wire, "evidence", (json_t *)ev);
        else
            json_object_set(wire, "quote", (json_t *)q);
        rc = attest_evidence_from_json(wire, &st, &e, err);
        json_decref(wire);
        if (rc != 0) {
            cairn_err_prefix(err, "Coordinator evidence");
            goto out;
        }
        if (e.type == ATTEST_SIM) {
            rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                            "the Coordinator sent simulation evidence, which proves nothing; only insecure mode "
                            "can accept it");
            goto out;
        }
        if (policy->tee != e.type) {
            rc = cairn_errf(err, CAIRN_ERR_POLICY, "TEE mismatch: policy expects %s, the Coordinator sent %s evidence",
                            attest_type_name(policy->tee), attest_type_name(e.type));
            goto out;
        }
        if (cc_cert_to_der(root, &root_der, &root_der_len) != 0 ||
            (msg = malloc(root_der_len + nonce_len + 1)) == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            goto out;
        }
        memcpy(msg, root_der, root_der_len);
        if (nonce_len)
            memcpy(msg + root_der_len, nonce, nonce_len);
        uint8_t expected[32];
        cc_sha256(msg, root_der_len + nonce_len, expected);
        /* the trust directory's roots, CRLs and collateral for this type
         * (all-zero without one: built-in roots, no collateral) */
        struct attest_trust trust = {0};
        if (ts != NULL)
            trust_store_get(ts, e.type, 0, &trust);
        rc = attest_verify(&e, &trust, expected, sizeof(expected), &claims, err);
        if (rc != 0) {
            cairn_err_prefix(err, "Coordinator evidence does not verify");
            goto out;
        }
        rc = tee_policy_match(policy, &claims, err);
        if (rc != 0) {
            cairn_err_prefix(err, "Coordinator identity does not match the policy");
            goto out;
        }
        c.verified = 1;
        c.tee = strdup(attest_type_name(e.type));
        c.claims_json = claims.json ? json_dumps(claims.json, JSON_COMPACT) : strdup("{}");
    } else {
        c.tee = strdup("none");
        c.claims_json = strdup("{}");
    }
    c.root_pem = pem_of(root);
    c.intermediate_pem = inter ? pem_of(inter) : strdup("");
    if (c.root_pem == NULL || c.intermediate_pem == NULL || c.tee == NULL || c.claims_json == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    *out = c;
    memset(&c, 0, sizeof(c));
    rc = 0;
out:
    cairn_coordinator_certs_free(&c);
    attest_claims_free(&claims);
    attest_issued_free(&st);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(roots, X509_free);
    free(root_der);
    free(msg);
    return rc;
}
