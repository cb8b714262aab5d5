/* The /quote answer of a TPM-backed Coordinator, made with a real (software)
 * TPM, for the C tests of libcairn's Coordinator verification. Header-only
 * (static functions), for test files that include cmocka first:
 * tests/unit/client/test_client_tpm.c, tests/integration/tpm_e2e/test_trust_client.c. */
#ifndef CAIRN_TEST_TPM_ANSWER_H
#define CAIRN_TEST_TPM_ANSWER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "attest/issuer.h"
#include "crypto/crypto.h"

/* `x` as PEM; the caller frees. */
static __attribute__((unused)) char *test_cert_pem(X509 *x)
{
    char *p = NULL;
    size_t n = 0;
    assert_int_equal(cc_cert_to_pem(x, &p, &n), 0);
    return p;
}

/* The answer of a Coordinator whose chain is `inter` + `root`, quoting
 * SHA-256(DER of `bind_root` || nonce) with the TPM `cfg` names (as a TPM
 * Coordinator does with its own root; another `bind_root` makes a forgery).
 * The caller frees it (json_decref). */
static __attribute__((unused)) json_t *tpm_coordinator_answer(const struct attest_issuer_config *cfg, X509 *inter,
                                                              X509 *root, X509 *bind_root, const char *nonce)
{
    uint8_t *der = NULL;
    size_t n = 0;
    assert_int_equal(cc_cert_to_der(bind_root, &der, &n), 0);
    uint8_t *msg = malloc(n + strlen(nonce) + 1);
    assert_non_null(msg);
    memcpy(msg, der, n);
    memcpy(msg + n, nonce, strlen(nonce));
    uint8_t rd[64] = {0};
    cc_sha256(msg, n + strlen(nonce), rd);
    free(msg);
    free(der);
    struct attest_issued is;
    struct cairn_error err = {0};
    int rc = attest_issue(ATTEST_TPM, rd, cfg, &is, &err);
    if (rc != 0)
        print_message("tpm issue: %s\n", err.msg);
    assert_int_equal(rc, 0);
    char *pi = test_cert_pem(inter), *pr = test_cert_pem(root), *chain = NULL;
    assert_true(asprintf(&chain, "%s%s", pi, pr) > 0);
    json_t *d = json_pack("{s:s, s:n}", "cert", chain, "quote");
    assert_int_equal(attest_evidence_to_json(&is, d), 0);
    attest_issued_free(&is);
    free(pi);
    free(pr);
    free(chain);
    return d;
}

#endif
