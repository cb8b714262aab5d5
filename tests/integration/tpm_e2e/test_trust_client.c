/* libcairn's Coordinator verification with a trust directory (docs/trust.md),
 * on REAL evidence: swtpm (direct child, ephemeral loopback ports, stopped by
 * PID) quotes SHA-256(root DER || nonce) as a TPM-backed Coordinator does.
 * The policy has no AKRoots, so only the trust directory's tpm/roots/ decides
 * whether the AK must chain to a CA: with the right CA the AK is certified,
 * with another CA the evidence is refused, without a directory the bare AK
 * verifies uncertified. Also: bad directories fail before anything is sent,
 * $CAIRN_TRUST_DIR is the default and "" disables it. Skips without swtpm. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attest/issuer.h"
#include "attest/tpm.h"
#include "attest/trust_store.h"
#include "cairn/client.h"
#include "client/client_internal.h"
#include "common/file.h"
#include "crypto/crypto.h"
#include "../../common/swtpm_child.h"
#include "../../common/tpm_answer.h"

/* the swtpm of the whole group (tests skip when it is not installed) */
static struct swtpm_child g_tpm;

static int setup(void **state)
{
    (void)state;
    if (!swtpm_installed())
        return 0; /* the tests skip */
    return swtpm_child_start(&g_tpm, "cairn-trust-client");
}

static int teardown(void **state)
{
    (void)state;
    swtpm_child_stop(&g_tpm);
    return 0;
}

static void ca_new(const char *cn, X509 **cert, EVP_PKEY **key)
{
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, key, NULL), 0);
    struct cc_cert_template t = {.subject = {.common_name = cn}, .is_ca = true, .max_path_len = 0,
                                 .key_usage = CC_KU_CERT_SIGN | CC_KU_CRL_SIGN};
    assert_int_equal(cc_cert_issue(&t, *key, NULL, *key, cert, NULL), 0);
}

/* <g_tpm.dir>/<name>/tpm/roots/ca.pem holding `ca` (none when ca is NULL: an
 * empty trust directory); returns the directory (static buffer per call). */
static const char *trust_dir(const char *name, X509 *ca, char *out, size_t n)
{
    char path[256];
    snprintf(out, n, "%s/%s", g_tpm.dir, name);
    snprintf(path, sizeof(path), "%s/tpm/roots", out);
    assert_int_equal(cairn_mkdirs(path, 0700), 0);
    if (ca != NULL) {
        char *p = test_cert_pem(ca);
        snprintf(path, sizeof(path), "%s/tpm/roots/ca.pem", out);
        assert_int_equal(cairn_file_write_atomic(path, p, strlen(p), 0600), 0);
        free(p);
    }
    return out;
}

/* A TPM policy: AKRoots (required for TEE tpm) = `ca`, PCR 0 all zero
 * (swtpm runs no firmware). Caller frees. */
static char *policy_for(X509 *ca)
{
    char *capem = test_cert_pem(ca);
    json_t *j = json_pack("{s:s, s:[s], s:{s:{s:s}}}", "TEE", "tpm", "AKRoots", capem, "PCRs", "sha256", "0",
                          "0000000000000000000000000000000000000000000000000000000000000000");
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    free(capem);
    assert_non_null(s);
    return s;
}

static int verify_with(json_t *d, const char *nonce, const struct tee_package *p, const char *dir, bool insecure,
                       struct cairn_coordinator_certs *out, struct cairn_error *err)
{
    struct trust_store *ts = NULL;
    if (dir != NULL) {
        int rc = client_trust_open(dir, &ts, err);
        if (rc != 0)
            return rc;
    }
    int rc = client_verify_quote_data_trust(d, (const uint8_t *)nonce, strlen(nonce), p, insecure, ts, out, err);
    trust_store_free(ts);
    return rc;
}

static void test_trust_dir_decides_ak(void **state)
{
    (void)state;
    if (g_tpm.tcti[0] == '\0') {
        print_message("SKIP: swtpm is not installed\n");
        skip();
    }
    struct cairn_error err = {0};
    /* the Coordinator's PKI */
    X509 *root, *inter;
    EVP_PKEY *rk, *ik;
    ca_new("MarbleRun Coordinator", &root, &rk);
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &ik, NULL), 0);
    struct cc_cert_template it = {.subject = {.common_name = "MarbleRun Coordinator - Intermediate CA"},
                                  .is_ca = true, .max_path_len = -1, .key_usage = CC_KU_CERT_SIGN};
    assert_int_equal(cc_cert_issue(&it, ik, root, rk, &inter, NULL), 0);

    /* the TPM's default AK, certified by a CA; a second, unrelated CA */
    struct attest_issuer_config cfg = {.tpm_tcti = g_tpm.tcti, .tpm_pcrs = "sha256:0,16"};
    uint8_t rd[64] = {0};
    struct attest_issued first;
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &first, &err), 0);
    struct tpm_ak ak = {0};
    assert_int_equal(tpm_public_parse(first.ak_pub, first.ak_pub_len, &ak, &err), 0);
    attest_issued_free(&first);
    X509 *ca, *other, *akcert;
    EVP_PKEY *cak, *otherk;
    ca_new("Cairn trust test AK CA", &ca, &cak);
    ca_new("Impostor AK CA", &other, &otherk);
    struct cc_cert_template at = {.subject = {.common_name = "swtpm AK"}, .max_path_len = -1,
                                  .key_usage = CC_KU_DIGITAL_SIGNATURE};
    assert_int_equal(cc_cert_issue(&at, ak.key, ca, cak, &akcert, &err), 0);
    char *akpem = test_cert_pem(akcert), akpath[128];
    snprintf(akpath, sizeof(akpath), "%s/ak.pem", g_tpm.dir);
    assert_int_equal(cairn_file_write_atomic(akpath, akpem, strlen(akpem), 0600), 0);
    cfg.tpm_ak_cert = akpath;

    /* the policy: AKRoots = the CA (checked after verification, on the
     * claims), PCR 0 */
    char *pol = policy_for(ca);
    struct tee_package p = {0};
    assert_int_equal(client_policy_parse(pol, strlen(pol), &p, &err), 0);
    char good[160], bad[160], empty[160];
    trust_dir("good", ca, good, sizeof(good));
    trust_dir("other", other, bad, sizeof(bad));
    trust_dir("empty", NULL, empty, sizeof(empty));

    json_t *d = tpm_coordinator_answer(&cfg, inter, root, root, "n1");
    struct cairn_coordinator_certs c = {0};

    /* no trust directory: the verifier does not chain the AK certificate
     * (only the policy's AKRoots check does, afterwards) */
    assert_int_equal(verify_with(d, "n1", &p, NULL, false, &c, &err), 0);
    assert_int_equal(c.verified, 1);
    assert_non_null(strstr(c.claims_json, "\"ak_certified\":false"));
    cairn_coordinator_certs_free(&c);

    /* the CA in tpm/roots/: the verifier itself certifies the AK */
    int rc = verify_with(d, "n1", &p, good, false, &c, &err);
    if (rc != 0)
        print_message("good: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(c.claims_json, "\"ak_certified\":true"));
    assert_non_null(strstr(c.claims_json, "ak_cert_chain"));
    cairn_coordinator_certs_free(&c);

    /* another CA in tpm/roots/: refused by the verifier, naming the chain,
     * although the policy's AKRoots would accept the AK */
    assert_int_equal(verify_with(d, "n1", &p, bad, false, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "AK certificate chain"));
    assert_null(c.root_pem); /* out untouched on failure */

    /* an empty roots/ directory: the type has no roots, as without a directory */
    assert_int_equal(verify_with(d, "n1", &p, empty, false, &c, &err), 0);
    assert_non_null(strstr(c.claims_json, "\"ak_certified\":false"));
    cairn_coordinator_certs_free(&c);

    /* insecure: nothing is verified, the trust directory plays no part */
    assert_int_equal(verify_with(d, "n1", &p, bad, true, &c, &err), 0);
    assert_int_equal(c.verified, 0);
    cairn_coordinator_certs_free(&c);
    json_decref(d);

    /* the right CA does not make a wrong binding pass */
    d = tpm_coordinator_answer(&cfg, inter, root, root, "n2");
    assert_int_equal(verify_with(d, "n3", &p, good, false, &c, &err), CAIRN_ERR_VERIFY);
    json_decref(d);

    tee_package_free(&p);
    free(pol);
    free(akpem);
    tpm_ak_clear(&ak);
    X509_free(root);
    X509_free(inter);
    X509_free(ca);
    X509_free(other);
    X509_free(akcert);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(otherk);
}

/* Directories that do not load: clear errors naming the directory. */
static void test_bad_trust_dirs(void **state)
{
    (void)state;
    if (g_tpm.dir[0] == '\0') {
        print_message("SKIP: swtpm is not installed (no work directory)\n");
        skip();
    }
    struct trust_store *ts = NULL;
    struct cairn_error err = {0};
    char path[256];
    snprintf(path, sizeof(path), "%s/does-not-exist", g_tpm.dir);
    assert_int_equal(client_trust_open(path, &ts, &err), CAIRN_ERR_NOT_FOUND);
    assert_null(ts);
    assert_non_null(strstr(err.msg, "trust directory"));
    assert_non_null(strstr(err.msg, "does-not-exist"));

    /* evidence-only material (a nonce) does not belong in a trust directory */
    snprintf(path, sizeof(path), "%s/junk/tpm", g_tpm.dir);
    assert_int_equal(cairn_mkdirs(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/junk/tpm/nonce.bin", g_tpm.dir);
    assert_int_equal(cairn_file_write_atomic(path, "0123456789abcdef", 16, 0600), 0);
    snprintf(path, sizeof(path), "%s/junk", g_tpm.dir);
    int rc = client_trust_open(path, &ts, &err);
    assert_true(rc < 0);
    assert_null(ts);
    assert_non_null(strstr(err.msg, "nonce.bin"));

    /* an unknown subdirectory of a type directory */
    snprintf(path, sizeof(path), "%s/nested/tpm/roots/deeper", g_tpm.dir);
    assert_int_equal(cairn_mkdirs(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/nested", g_tpm.dir);
    assert_true(client_trust_open(path, &ts, &err) < 0);
    assert_null(ts);
}

/* Which directory is used: the configured one, else $CAIRN_TRUST_DIR; ""
 * means none. Through the public API, a bad directory fails before any
 * connection is tried (the address has no listener: that would be a
 * network error). */
static void test_trust_dir_selection(void **state)
{
    (void)state;
    unsetenv("CAIRN_TRUST_DIR");
    assert_null(client_trust_dir(NULL));
    assert_null(client_trust_dir(""));
    assert_string_equal(client_trust_dir("/etc/cairn/trust"), "/etc/cairn/trust");
    setenv("CAIRN_TRUST_DIR", "/from/env", 1);
    assert_string_equal(client_trust_dir(NULL), "/from/env");
    assert_string_equal(client_trust_dir("/configured"), "/configured");
    assert_null(client_trust_dir(""));
    setenv("CAIRN_TRUST_DIR", "", 1);
    assert_null(client_trust_dir(NULL));

    int port = swtpm_free_port_pair(); /* nothing listens there */
    assert_true(port > 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    struct cairn_client_config cc = {.address = addr};
    struct cairn_client *c = NULL;
    assert_int_equal(cairn_client_new(&cc, &c), 0);
    X509 *ca;
    EVP_PKEY *cak;
    ca_new("selection CA", &ca, &cak);
    char *pol = policy_for(ca);
    struct cairn_coordinator_certs certs = {0};
    struct cairn_verify_config vc = {.policy_json = pol, .trust_dir = "/nonexistent/cairn-trust"};
    assert_int_equal(cairn_coordinator_verify(c, &vc, &certs), CAIRN_ERR_NOT_FOUND);
    assert_non_null(strstr(cairn_client_last_error(c), "/nonexistent/cairn-trust"));
    setenv("CAIRN_TRUST_DIR", "/nonexistent/from-env", 1);
    vc.trust_dir = NULL;
    assert_int_equal(cairn_coordinator_verify(c, &vc, &certs), CAIRN_ERR_NOT_FOUND);
    assert_non_null(strstr(cairn_client_last_error(c), "/nonexistent/from-env"));
    /* "" turns the environment off: now the (absent) Coordinator is tried */
    vc.trust_dir = "";
    assert_int_equal(cairn_coordinator_verify(c, &vc, &certs), CAIRN_ERR_NETWORK);
    /* insecure mode ignores the trust directory */
    vc.trust_dir = "/nonexistent/cairn-trust";
    vc.insecure = 1;
    vc.policy_json = NULL;
    assert_int_equal(cairn_coordinator_verify(c, &vc, &certs), CAIRN_ERR_NETWORK);
    unsetenv("CAIRN_TRUST_DIR");
    cairn_client_free(c);
    free(pol);
    X509_free(ca);
    EVP_PKEY_free(cak);
}

int main(void)
{
    setenv("TSS2_LOG", "all+NONE", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trust_dir_decides_ak),
        cmocka_unit_test(test_bad_trust_dirs),
        cmocka_unit_test(test_trust_dir_selection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
