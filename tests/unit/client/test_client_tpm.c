/* Coordinator verification with REAL evidence: a software TPM (swtpm, on an
 * ephemeral loopback port, stopped by PID) quotes SHA-256(root DER || nonce)
 * the way a TPM-backed Coordinator does; libcairn must accept it only with the
 * right nonce, root, AK root and PCRs. Skips when swtpm is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>


#include "attest/issuer.h"
#include "attest/tpm.h"
#include "client/client_internal.h"
#include "common/encoding.h"
#include "common/file.h"
#include "crypto/crypto.h"
#include "../../common/swtpm_child.h"
#include "../../common/tpm_answer.h"

/* the swtpm of the whole group (tests skip when it is not installed) */
static struct swtpm_child g_tpm;

static int start_swtpm(void **state)
{
    (void)state;
    if (!swtpm_installed())
        return 0; /* the test skips */
    return swtpm_child_start(&g_tpm, "cairn-client-tpm");
}

static int stop_swtpm(void **state)
{
    (void)state;
    swtpm_child_stop(&g_tpm);
    return 0;
}

static void make_ca(const char *cn, X509 **cert, EVP_PKEY **key)
{
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, key, NULL), 0);
    struct cc_cert_template t = {.subject = {.common_name = cn}, .is_ca = true, .max_path_len = -1,
                                 .key_usage = CC_KU_DIGITAL_SIGNATURE | CC_KU_CERT_SIGN | CC_KU_CRL_SIGN};
    assert_int_equal(cc_cert_issue(&t, *key, NULL, *key, cert, NULL), 0);
}

static int verify(json_t *d, const char *nonce, const char *policy, struct cairn_coordinator_certs *out,
                  struct cairn_error *err)
{
    struct tee_package p = {0};
    int rc = client_policy_parse(policy, strlen(policy), &p, err);
    if (rc != 0)
        return rc;
    rc = client_verify_quote_data(d, (const uint8_t *)nonce, strlen(nonce), &p, false, out, err);
    tee_package_free(&p);
    return rc;
}

static void test_tpm_coordinator(void **state)
{
    (void)state;
    if (g_tpm.tcti[0] == '\0') {
        print_message("SKIP: swtpm is not installed\n");
        skip();
    }
    struct cairn_error err = {0};
    /* The Coordinator's PKI, and a second (impostor) root. */
    X509 *root, *root2, *inter;
    EVP_PKEY *rk, *rk2, *ik;
    make_ca("MarbleRun Coordinator", &root, &rk);
    make_ca("MarbleRun Coordinator", &root2, &rk2);
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, &ik, NULL), 0);
    struct cc_cert_template it = {.subject = {.common_name = "MarbleRun Coordinator - Intermediate CA"},
                                  .is_ca = true, .max_path_len = -1, .key_usage = CC_KU_CERT_SIGN};
    assert_int_equal(cc_cert_issue(&it, ik, root, rk, &inter, NULL), 0);

    /* A CA certifies the TPM's attestation key (as a cloud provider does). */
    struct attest_issuer_config cfg = {.tpm_tcti = g_tpm.tcti, .tpm_pcrs = "sha256:0,16"};
    uint8_t rd[64] = {0};
    struct attest_issued first;
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &first, &err), 0);
    struct tpm_ak ak = {0};
    assert_int_equal(tpm_public_parse(first.ak_pub, first.ak_pub_len, &ak, &err), 0);
    attest_issued_free(&first);
    X509 *akca, *akca2, *akcert;
    EVP_PKEY *akk, *akk2;
    make_ca("AK CA", &akca, &akk);
    make_ca("other AK CA", &akca2, &akk2);
    struct cc_cert_template at = {.subject = {.common_name = "swtpm AK"}, .max_path_len = -1,
                                  .key_usage = CC_KU_DIGITAL_SIGNATURE};
    assert_int_equal(cc_cert_issue(&at, ak.key, akca, akk, &akcert, &err), 0);
    char *akpem = test_cert_pem(akcert), path[128];
    snprintf(path, sizeof(path), "%s/ak.pem", g_tpm.dir);
    assert_int_equal(cairn_file_write_atomic(path, akpem, strlen(akpem), 0600), 0);
    cfg.tpm_ak_cert = path;

    /* The policy: the AK root and PCR0 (all zero: swtpm runs no firmware). */
    char *capem = test_cert_pem(akca), *capem2 = test_cert_pem(akca2);
    const char *zero = "0000000000000000000000000000000000000000000000000000000000000000";
    json_t *pj = json_pack("{s:s, s:[s], s:{s:{s:s}}}", "TEE", "tpm", "AKRoots", capem, "PCRs", "sha256", "0", zero);
    char *policy = json_dumps(pj, JSON_COMPACT);
    json_decref(pj);

    /* accepted: right nonce, root, AK root, PCRs */
    json_t *d = tpm_coordinator_answer(&cfg, inter, root, root, "nonce-1");
    struct cairn_coordinator_certs c = {0};
    int rc = verify(d, "nonce-1", policy, &c, &err);
    if (rc != 0)
        print_message("verify: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(c.verified, 1);
    assert_string_equal(c.tee, "tpm");
    char *rp = test_cert_pem(root);
    assert_string_equal(c.root_pem, rp);
    assert_non_null(strstr(c.claims_json, "\"pcrs\""));
    cairn_coordinator_certs_free(&c);

    /* another nonce than the one asked for: a replayed quote */
    assert_int_equal(verify(d, "nonce-2", policy, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "binding"));
    /* and without a nonce */
    struct tee_package p0 = {0};
    assert_int_equal(client_policy_parse(policy, strlen(policy), &p0, &err), 0);
    assert_int_equal(client_verify_quote_data(d, NULL, 0, &p0, false, &c, &err), CAIRN_ERR_VERIFY);
    tee_package_free(&p0);
    json_decref(d);

    /* an impostor presenting its own root with a genuine quote over the real one */
    X509 *inter2;
    assert_int_equal(cc_cert_issue(&it, ik, root2, rk2, &inter2, NULL), 0);
    d = tpm_coordinator_answer(&cfg, inter2, root2, root, "nonce-3");
    assert_int_equal(verify(d, "nonce-3", policy, &c, &err), CAIRN_ERR_VERIFY);
    json_decref(d);

    /* identity mismatches name the field */
    d = tpm_coordinator_answer(&cfg, inter, root, root, "nonce-4");
    pj = json_pack("{s:s, s:[s], s:{s:{s:s}}}", "TEE", "tpm", "AKRoots", capem, "PCRs", "sha256", "0",
                   "1111111111111111111111111111111111111111111111111111111111111111");
    char *bad_pcr = json_dumps(pj, JSON_COMPACT);
    json_decref(pj);
    assert_int_equal(verify(d, "nonce-4", bad_pcr, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "PCRs.sha256.0"));
    pj = json_pack("{s:s, s:[s], s:{s:{s:s}}}", "TEE", "tpm", "AKRoots", capem2, "PCRs", "sha256", "0", zero);
    char *bad_ak = json_dumps(pj, JSON_COMPACT);
    json_decref(pj);
    assert_int_equal(verify(d, "nonce-4", bad_ak, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "AKRoots"));
    /* a policy for another TEE */
    const char *sgx = "{\"UniqueID\":\"0000000000000000000000000000000000000000000000000000000000000000\"}";
    assert_int_equal(verify(d, "nonce-4", sgx, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "TEE mismatch"));
    /* a tampered quote */
    json_t *ev = json_object_get(d, "evidence");
    const char *q = json_string_value(json_object_get(ev, "quote"));
    uint8_t *raw = NULL;
    size_t rawn = 0;
    assert_int_equal(cairn_base64_decode(q, strlen(q), &raw, &rawn), 0);
    raw[rawn - 1] ^= 1;
    char *b = cairn_base64_encode(raw, rawn);
    json_object_set_new(ev, "quote", json_string(b));
    assert_int_not_equal(verify(d, "nonce-4", policy, &c, &err), 0);
    free(b);
    free(raw);
    json_decref(d);

    free(bad_pcr);
    free(bad_ak);
    free(policy);
    free(rp);
    free(capem);
    free(capem2);
    free(akpem);
    tpm_ak_clear(&ak);
    X509_free(root);
    X509_free(root2);
    X509_free(inter);
    X509_free(inter2);
    X509_free(akca);
    X509_free(akca2);
    X509_free(akcert);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(rk2);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(akk);
    EVP_PKEY_free(akk2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tpm_coordinator)};
    return cmocka_run_group_tests(tests, start_swtpm, stop_swtpm);
}
