/* End to end with a real software TPM: swtpm runs as a direct child on
 * ephemeral loopback ports; tpm_issue (tss2-esys, swtpm TCTI) quotes; a CA
 * made here certifies the AK; attest_verify + tee_policy_match accept the
 * evidence with the expected PCR values, and refuse it after PCR 16 is
 * extended. swtpm is stopped by PID. Skips when swtpm is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>
#include <unistd.h>

#include "attest/attest.h"
#include "attest/issuer.h"
#include "attest/policy.h"
#include "attest/tpm.h"
#include "common/encoding.h"
#include "common/file.h"
#include "crypto/crypto.h"
#include "../../common/swtpm_child.h"



/* A copy of the swtpm started by the running test, so that a failed
 * assertion (which leaves the test function early, with its stack) still
 * stops it at exit, by its PID. */
static struct swtpm_child g_live;

static void swtpm_stop(struct swtpm_child *t)
{
    g_live.pid = 0;
    swtpm_child_stop(t);
}

static int swtpm_start(struct swtpm_child *t)
{
    if (swtpm_child_start(t, "cairn-swtpm") != 0)
        return -1;
    g_live = *t;
    return 0;
}

/* Extends sha256 PCR `idx` with `digest` through its own ESYS connection. */
static void pcr_extend(const char *tcti, unsigned idx, const uint8_t digest[32])
{
    TSS2_TCTI_CONTEXT *tc = NULL;
    ESYS_CONTEXT *e = NULL;
    assert_int_equal(Tss2_TctiLdr_Initialize(tcti, &tc), TSS2_RC_SUCCESS);
    assert_int_equal(Esys_Initialize(&e, tc, NULL), TSS2_RC_SUCCESS);
    TPML_DIGEST_VALUES v = {.count = 1};
    v.digests[0].hashAlg = TPM2_ALG_SHA256;
    memcpy(v.digests[0].digest.sha256, digest, 32);
    assert_int_equal(Esys_PCR_Extend(e, ESYS_TR_PCR0 + idx, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &v),
                     TSS2_RC_SUCCESS);
    Esys_Finalize(&e);
    Tss2_TctiLdr_Finalize(&tc);
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int l = 0;
    assert_int_equal(EVP_Digest(p, n, out, &l, EVP_sha256(), NULL), 1);
}

static struct attest_evidence ev_of(const struct attest_issued *is)
{
    struct attest_evidence ev = {.type = is->type, .quote = is->quote, .quote_len = is->quote_len,
                                 .signature = is->signature, .signature_len = is->signature_len,
                                 .certs = (const uint8_t *)is->certs, .certs_len = is->certs ? strlen(is->certs) : 0,
                                 .ak_pub = is->ak_pub, .ak_pub_len = is->ak_pub_len, .pcrs = is->pcrs,
                                 .pcrs_len = is->pcrs_len, .eventlog = is->eventlog,
                                 .eventlog_len = is->eventlog_len};
    return ev;
}

/* A crypto-agile TCG log (SHA-256 bank) with one EV_IPL event on PCR 16. */
static void write_log(const char *path, const uint8_t digest[32])
{
    uint8_t b[256];
    size_t o = 0;
#define LU32(v) do { uint32_t _v = (v); memcpy(b + o, &_v, 4); o += 4; } while (0)
#define LU16(v) do { uint16_t _v = (v); memcpy(b + o, &_v, 2); o += 2; } while (0)
    LU32(0);
    LU32(3);
    memset(b + o, 0, 20);
    o += 20;
    LU32(16 + 4 + 4 + 4 + 4 + 1);
    memcpy(b + o, "Spec ID Event03", 16);
    o += 16;
    LU32(0);
    b[o++] = 0;
    b[o++] = 2;
    b[o++] = 0;
    b[o++] = 2;
    LU32(1);
    LU16(0x000B);
    LU16(32);
    b[o++] = 0;
    LU32(16);
    LU32(0x0D); /* EV_IPL */
    LU32(1);
    LU16(0x000B);
    memcpy(b + o, digest, 32);
    o += 32;
    LU32(8);
    memcpy(b + o, "workload", 8);
    o += 8;
    assert_int_equal(cairn_file_write_atomic(path, b, o, 0600), 0);
}

static void test_swtpm_end_to_end(void **state)
{
    (void)state;
    if (!swtpm_installed()) {
        print_message("SKIP: swtpm is not installed\n");
        skip();
    }
    struct swtpm_child t;
    assert_int_equal(swtpm_start(&t), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    /* the workload measurement: PCR16 = SHA256(0^32 || SHA256("measured-workload")) */
    uint8_t meas[32], buf[64] = {0}, pcr16[32];
    sha256("measured-workload", 17, meas);
    pcr_extend(t.tcti, 16, meas);
    memcpy(buf + 32, meas, 32);
    sha256(buf, 64, pcr16);
    char *pcr16_hex = cairn_hex_encode(pcr16, 32);

    struct attest_issuer_config cfg = {.tpm_tcti = t.tcti, .tpm_pcrs = "sha256:0,1,2,3,7,16"};
    assert_int_equal(attest_probe(&cfg), ATTEST_TPM);

    /* 1. first quote only to learn the AK (deterministic endorsement primary) */
    uint8_t rd[64] = {0};
    sha256("marble TLS certificate", 22, rd);
    struct attest_issued first;
    struct cairn_error err = {0};
    int rc = attest_issue(ATTEST_TPM, rd, &cfg, &first, &err);
    if (rc != 0)
        print_message("issue: %s\n", err.msg);
    assert_int_equal(rc, 0);
    struct tpm_ak ak;
    assert_int_equal(tpm_public_parse(first.ak_pub, first.ak_pub_len, &ak, &err), 0);
    assert_int_equal(EVP_PKEY_get_base_id(ak.key), EVP_PKEY_EC);

    /* 2. a CA created here certifies the AK */
    EVP_PKEY *ca_key = NULL;
    X509 *ca = NULL, *akcert = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &ca_key, &err), 0);
    struct cc_cert_template ct = {.subject = {.common_name = "Cairn test AK CA"}, .is_ca = true, .max_path_len = 0,
                                  .key_usage = CC_KU_CERT_SIGN | CC_KU_CRL_SIGN};
    assert_int_equal(cc_cert_issue(&ct, ca_key, NULL, ca_key, &ca, &err), 0);
    struct cc_cert_template at = {.subject = {.common_name = "swtpm AK"}, .max_path_len = -1,
                                  .key_usage = CC_KU_DIGITAL_SIGNATURE};
    assert_int_equal(cc_cert_issue(&at, ak.key, ca, ca_key, &akcert, &err), 0);
    char *akpem = NULL, *capem = NULL;
    size_t pl;
    assert_int_equal(cc_cert_to_pem(akcert, &akpem, &pl), 0);
    assert_int_equal(cc_cert_to_pem(ca, &capem, &pl), 0);
    char akpath[128];
    snprintf(akpath, sizeof(akpath), "%s/ak.pem", t.dir);
    assert_int_equal(cairn_file_write_atomic(akpath, akpem, strlen(akpem), 0600), 0);
    cfg.tpm_ak_cert = akpath;
    attest_issued_free(&first);

    char logpath[128];
    snprintf(logpath, sizeof(logpath), "%s/log.bin", t.dir);
    write_log(logpath, meas);
    cfg.tpm_eventlog = logpath;

    /* 3. the quote a marble would send, through the wire form */
    struct attest_issued is, st;
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is, &err), 0);
    json_t *req = json_object();
    assert_int_equal(attest_evidence_to_json(&is, req), 0);
    struct attest_evidence ev;
    assert_int_equal(attest_evidence_from_json(req, &st, &ev, &err), 0);
    assert_int_equal(ev.type, ATTEST_TPM);

    STACK_OF(X509) *roots = sk_X509_new_null();
    X509_up_ref(ca);
    sk_X509_push(roots, ca);
    struct attest_trust trust = {.tpm_roots = roots};
    struct attest_claims c;
    rc = attest_verify(&ev, &trust, rd, 32, &c, &err);
    if (rc != 0)
        print_message("verify: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_true(json_is_true(json_object_get(c.json, "ak_certified")));
    assert_string_equal(json_string_value(json_object_get(c.json, "sig_alg")), "ecdsa");
    assert_int_equal(json_integer_value(json_object_get(c.json, "eventlog_pcrs_compared")), 1);
    const json_t *bank = json_object_get(json_object_get(c.json, "pcrs"), "sha256");
    assert_int_equal(json_object_size(bank), 6);
    assert_string_equal(json_string_value(json_object_get(bank, "16")), pcr16_hex);

    /* the package: PCR16 as computed above, PCR0 zero (no firmware), AK CA */
    struct tee_package p = {.tee = ATTEST_TPM};
    p.n_pcrs = 2;
    p.pcrs = calloc(2, sizeof(*p.pcrs));
    p.pcrs[0].bank = strdup("sha256");
    p.pcrs[0].index = 16;
    p.pcrs[0].value_hex = strdup(pcr16_hex);
    p.pcrs[1].bank = strdup("sha256");
    p.pcrs[1].index = 0;
    p.pcrs[1].value_hex = strdup("0000000000000000000000000000000000000000000000000000000000000000");
    p.n_ak_roots = 1;
    p.ak_roots_pem = calloc(1, sizeof(char *));
    p.ak_roots_pem[0] = strdup(capem);
    rc = tee_policy_match(&p, &c, &err);
    if (rc != 0)
        print_message("policy: %s\n", err.msg);
    assert_int_equal(rc, 0);
    attest_claims_free(&c);

    /* bound to other report data: refused */
    uint8_t other[32];
    sha256("impostor", 8, other);
    assert_int_equal(attest_verify(&ev, &trust, other, 32, &c, &err), CAIRN_ERR_VERIFY);
    /* a verifier trusting another CA: refused */
    STACK_OF(X509) *noroots = sk_X509_new_null();
    X509 *other_ca = NULL;
    EVP_PKEY *ok2 = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &ok2, &err), 0);
    assert_int_equal(cc_cert_issue(&ct, ok2, NULL, ok2, &other_ca, &err), 0);
    sk_X509_push(noroots, other_ca);
    struct attest_trust trust2 = {.tpm_roots = noroots};
    assert_int_equal(attest_verify(&ev, &trust2, rd, 32, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "AK certificate chain"));

    /* the CA revokes the AK certificate: refused with a CRL, fine without */
    X509_CRL *crl = X509_CRL_new();
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
    ASN1_TIME *lu = ASN1_TIME_set(NULL, time(NULL) - 60), *nu = ASN1_TIME_set(NULL, time(NULL) + 3600);
    X509_CRL_set1_lastUpdate(crl, lu);
    X509_CRL_set1_nextUpdate(crl, nu);
    X509_REVOKED *rv = X509_REVOKED_new();
    X509_REVOKED_set_serialNumber(rv, X509_get_serialNumber(akcert));
    X509_REVOKED_set_revocationDate(rv, lu);
    X509_CRL_add0_revoked(crl, rv);
    assert_true(X509_CRL_sign(crl, ca_key, EVP_sha256()) > 0);
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, crl);
    struct attest_trust trust3 = {.tpm_roots = roots, .crls = crls};
    assert_int_equal(attest_verify(&ev, &trust3, rd, 32, &c, &err), CAIRN_ERR_REVOKED);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    ASN1_TIME_free(lu);
    ASN1_TIME_free(nu);
    assert_int_equal(attest_verify(&ev, &trust, rd, 32, &c, &err), 0);
    attest_claims_free(&c);

    /* 4. the workload changes: PCR16 extended again -> the fresh quote is
     * genuine but the package refuses it */
    pcr_extend(t.tcti, 16, meas);
    /* with the old event log attached the replay no longer matches */
    struct attest_issued is_log;
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is_log, &err), 0);
    struct attest_evidence ev_log = ev_of(&is_log);
    assert_int_equal(attest_verify(&ev_log, &trust, rd, 32, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "sha256 PCR 16 replays to"));
    attest_issued_free(&is_log);
    cfg.tpm_eventlog = NULL;
    struct attest_issued is2;
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is2, &err), 0);
    struct attest_evidence ev2 = ev_of(&is2);
    assert_int_equal(attest_verify(&ev2, &trust, rd, 32, &c, &err), 0);
    assert_int_equal(tee_policy_match(&p, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "PCRs.sha256.16 mismatch"));
    attest_claims_free(&c);
    /* the old PCR values with the new quote: pcrDigest refuses */
    ev2.pcrs = is.pcrs;
    ev2.pcrs_len = is.pcrs_len;
    assert_int_equal(attest_verify(&ev2, &trust, rd, 32, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "pcrDigest"));

    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("swtpm e2e: 3 quotes + verifications in %.0f ms\n",
                  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);

    tee_package_free(&p);
    sk_X509_pop_free(roots, X509_free);
    sk_X509_pop_free(noroots, X509_free);
    EVP_PKEY_free(ok2);
    attest_issued_free(&is2);
    attest_issued_free(&st);
    attest_issued_free(&is);
    json_decref(req);
    free(akpem);
    free(capem);
    X509_free(akcert);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    tpm_ak_clear(&ak);
    free(pcr16_hex);
    swtpm_stop(&t);
}

/* An AK provisioned at a persistent handle (RSA, owner hierarchy) is used
 * instead of the default one; keys that are not restricted signing keys and
 * bad handles are refused. */
static ESYS_TR persist(ESYS_CONTEXT *e, bool restricted, TPM2_HANDLE h)
{
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_PUBLIC tmpl = {0};
    tmpl.publicArea.type = TPM2_ALG_RSA;
    tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
    tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                       TPMA_OBJECT_SIGN_ENCRYPT | (restricted ? TPMA_OBJECT_RESTRICTED : 0);
    tmpl.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    tmpl.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
    tmpl.publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    tmpl.publicArea.parameters.rsaDetail.keyBits = 2048;
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION none = {0};
    ESYS_TR obj = ESYS_TR_NONE, pers = ESYS_TR_NONE;
    assert_int_equal(Esys_CreatePrimary(e, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                                        &tmpl, &outside, &none, &obj, NULL, NULL, NULL, NULL),
                     TSS2_RC_SUCCESS);
    assert_int_equal(Esys_EvictControl(e, ESYS_TR_RH_OWNER, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, h, &pers),
                     TSS2_RC_SUCCESS);
    Esys_FlushContext(e, obj);
    return pers;
}

static void test_swtpm_persistent_ak(void **state)
{
    (void)state;
    if (!swtpm_installed()) {
        print_message("SKIP: swtpm is not installed\n");
        skip();
    }
    struct swtpm_child t;
    assert_int_equal(swtpm_start(&t), 0);
    TSS2_TCTI_CONTEXT *tc = NULL;
    ESYS_CONTEXT *e = NULL;
    assert_int_equal(Tss2_TctiLdr_Initialize(t.tcti, &tc), TSS2_RC_SUCCESS);
    assert_int_equal(Esys_Initialize(&e, tc, NULL), TSS2_RC_SUCCESS);
    persist(e, true, 0x81010002);
    persist(e, false, 0x81010003);
    Esys_Finalize(&e);
    Tss2_TctiLdr_Finalize(&tc);

    struct attest_issuer_config cfg = {.tpm_tcti = t.tcti, .tpm_pcrs = "sha256:0-7+sha1:16",
                                       .tpm_ak_context = "0x81010002"};
    uint8_t rd[64] = {0};
    sha256("persistent", 10, rd);
    struct attest_issued is;
    struct cairn_error err = {0};
    int rc = attest_issue(ATTEST_TPM, rd, &cfg, &is, &err);
    if (rc != 0)
        print_message("issue: %s\n", err.msg);
    assert_int_equal(rc, 0);
    struct attest_evidence ev = ev_of(&is);
    struct attest_claims c;
    assert_int_equal(attest_verify(&ev, NULL, rd, 32, &c, &err), 0);
    assert_string_equal(json_string_value(json_object_get(c.json, "sig_alg")), "rsassa");
    const json_t *pcrs = json_object_get(c.json, "pcrs");
    assert_int_equal(json_object_size(json_object_get(pcrs, "sha256")), 8);
    assert_int_equal(json_object_size(json_object_get(pcrs, "sha1")), 1);
    attest_claims_free(&c);
    /* the same AK again: same name (the persistent key does not change) */
    struct attest_issued is2;
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is2, &err), 0);
    assert_int_equal(is2.ak_pub_len, is.ak_pub_len);
    assert_memory_equal(is2.ak_pub, is.ak_pub, is.ak_pub_len);
    attest_issued_free(&is2);
    attest_issued_free(&is);

    cfg.tpm_ak_context = "0x81010003";
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "restricted"));
    cfg.tpm_ak_context = "0x81010009";
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is, &err), CAIRN_ERR_NOT_FOUND);
    cfg.tpm_ak_context = "0x1234";
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is, &err), CAIRN_ERR_INVALID);
    cfg.tpm_ak_context = NULL;
    cfg.tpm_pcrs = "sha256:0-7,30";
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is, &err), CAIRN_ERR_INVALID);
    cfg.tpm_pcrs = NULL;
    cfg.tpm_ak_cert = "/nonexistent/ak.pem";
    assert_int_not_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is, &err), 0);
    assert_non_null(strstr(err.msg, "AK certificate"));
    swtpm_stop(&t);
}

/* AK context files made by tpm2-tools: a saved transient context
 * (`tpm2_createak -c`) and a serialized persistent handle
 * (`tpm2_evictcontrol -o`). Skips this part without tpm2-tools. */
static int tools(const char *tcti, const char *dir, const char *cmd)
{
    char line[1024];
    snprintf(line, sizeof(line), "cd '%s' && TPM2TOOLS_TCTI='%s' %s >/dev/null 2>&1", dir, tcti, cmd);
    return system(line);
}

static void test_swtpm_tools_context(void **state)
{
    (void)state;
    if (!swtpm_installed() || system("command -v tpm2_createak >/dev/null 2>&1") != 0) {
        print_message("SKIP: swtpm or tpm2-tools not installed\n");
        skip();
    }
    struct swtpm_child t;
    assert_int_equal(swtpm_start(&t), 0);
    assert_int_equal(tools(t.tcti, t.dir, "tpm2_createek -c ek.ctx -G ecc -u ek.pub"), 0);
    assert_int_equal(tools(t.tcti, t.dir, "tpm2_flushcontext -t"), 0);
    assert_int_equal(tools(t.tcti, t.dir, "tpm2_createak -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u ak.pub "
                                          "-n ak.name"),
                     0);
    assert_int_equal(tools(t.tcti, t.dir, "tpm2_flushcontext -t"), 0);
    tools(t.tcti, t.dir, "tpm2_flushcontext -s"); /* fails when no session is left: fine */
    char ctx[128], name[128], pers[128];
    snprintf(ctx, sizeof(ctx), "%s/ak.ctx", t.dir);
    snprintf(name, sizeof(name), "%s/ak.name", t.dir);
    snprintf(pers, sizeof(pers), "%s/ak_pers.ctx", t.dir);
    uint8_t *nm = NULL;
    size_t nml = 0;
    assert_int_equal(cairn_file_read(name, 1024, &nm, &nml), 0);
    char *nmhex = cairn_hex_encode(nm, nml);

    struct attest_issuer_config cfg = {.tpm_tcti = t.tcti, .tpm_pcrs = "sha256:0,16", .tpm_ak_context = ctx};
    uint8_t rd[64] = {0};
    sha256("tools", 5, rd);
    struct attest_issued is;
    struct cairn_error err = {0};
    int rc = attest_issue(ATTEST_TPM, rd, &cfg, &is, &err);
    if (rc != 0)
        print_message("issue: %s\n", err.msg);
    assert_int_equal(rc, 0);
    struct attest_evidence ev = ev_of(&is);
    struct attest_claims c;
    assert_int_equal(attest_verify(&ev, NULL, rd, 32, &c, &err), 0);
    /* the AK we quoted with is the one tpm2_createak made (same Name) */
    assert_string_equal(json_string_value(json_object_get(c.json, "ak_name")), nmhex);
    attest_claims_free(&c);
    attest_issued_free(&is);

    /* interop: a quote made by tpm2_quote (plain DER signature, PCR values
     * with -F values, AK as the TPM2B_PUBLIC from tpm2_createak -u) verifies */
    assert_int_equal(tools(t.tcti, t.dir, "tpm2_quote -c ak.ctx -l sha256:0,7,16 -q 00112233445566778899aabbccddeeff "
                                          "-m quote.msg -s quote.sig -f plain -o quote.pcrs -F values -g sha256"),
                     0);
    tools(t.tcti, t.dir, "tpm2_flushcontext -t");
    char f1[160], f2[160], f3[160], f4[160];
    snprintf(f1, sizeof(f1), "%s/quote.msg", t.dir);
    snprintf(f2, sizeof(f2), "%s/quote.sig", t.dir);
    snprintf(f3, sizeof(f3), "%s/quote.pcrs", t.dir);
    snprintf(f4, sizeof(f4), "%s/ak.pub", t.dir);
    uint8_t *qm = NULL, *qs = NULL, *qp = NULL, *ap = NULL;
    size_t qml, qsl, qpl, apl;
    assert_int_equal(cairn_file_read(f1, 1 << 16, &qm, &qml), 0);
    assert_int_equal(cairn_file_read(f2, 1 << 16, &qs, &qsl), 0);
    assert_int_equal(cairn_file_read(f3, 1 << 16, &qp, &qpl), 0);
    assert_int_equal(cairn_file_read(f4, 1 << 16, &ap, &apl), 0);
    assert_int_equal(qpl, 3 * 32);
    struct attest_evidence tev = {.type = ATTEST_TPM, .quote = qm, .quote_len = qml, .signature = qs,
                                  .signature_len = qsl, .ak_pub = ap, .ak_pub_len = apl, .pcrs = qp,
                                  .pcrs_len = qpl};
    static const uint8_t qn[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    rc = attest_verify(&tev, NULL, qn, 16, &c, &err);
    if (rc != 0)
        print_message("tpm2_quote output: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(c.json, "ak_name")), nmhex);
    attest_claims_free(&c);
    qp[40] ^= 1; /* PCR 7 value */
    assert_int_equal(attest_verify(&tev, NULL, qn, 16, &c, &err), CAIRN_ERR_VERIFY);
    free(qm);
    free(qs);
    free(qp);
    free(ap);

    /* persisted by tpm2_evictcontrol, referenced by its serialized handle */
    assert_int_equal(tools(t.tcti, t.dir, "tpm2_evictcontrol -c ak.ctx 0x81010005 -o ak_pers.ctx"), 0);
    cfg.tpm_ak_context = pers;
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is, &err), 0);
    ev = ev_of(&is);
    assert_int_equal(attest_verify(&ev, NULL, rd, 32, &c, &err), 0);
    assert_string_equal(json_string_value(json_object_get(c.json, "ak_name")), nmhex);
    attest_claims_free(&c);
    attest_issued_free(&is);
    cfg.tpm_ak_context = "0x81010005";
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is, &err), 0);
    attest_issued_free(&is);

    /* a file that is neither, and a damaged saved context */
    cfg.tpm_ak_context = name;
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is, &err), CAIRN_ERR_INVALID);
    uint8_t *cb = NULL;
    size_t cl = 0;
    assert_int_equal(cairn_file_read(ctx, 1 << 16, &cb, &cl), 0);
    cb[7] = 9; /* version */
    char bad[128];
    snprintf(bad, sizeof(bad), "%s/bad.ctx", t.dir);
    assert_int_equal(cairn_file_write_atomic(bad, cb, cl, 0600), 0);
    cfg.tpm_ak_context = bad;
    assert_int_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "context file"));
    free(cb);
    free(nm);
    free(nmhex);
    swtpm_stop(&t);
}

/* The issuer without a TPM: a clear error, no crash. */
static void test_no_tpm(void **state)
{
    (void)state;
    int port = swtpm_free_port_pair();
    assert_true(port > 0);
    char tcti[96];
    snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%d", port);
    struct attest_issuer_config cfg = {.tpm_tcti = tcti};
    uint8_t rd[64] = {0};
    struct attest_issued is;
    struct cairn_error err = {0};
    assert_int_not_equal(attest_issue(ATTEST_TPM, rd, &cfg, &is, &err), 0);
    assert_true(strlen(err.msg) > 0);
    assert_int_equal(attest_probe(&cfg), ATTEST_SIM);
    /* selection syntax */
    struct tpm_pcr_select sel[8];
    unsigned n;
    assert_int_equal(tpm_pcr_selection_parse("sha256:0-7,16+sha1:0", sel, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(sel[0].mask, 0x100FF);
    assert_int_equal(sel[1].mask, 1);
    const char *bad[] = {"", "sha256", "sha256:", "sha256:24", "sha256:3-1", "md5:0", "sha256:0+sha256:1",
                         "sha256:0;", "sha256:a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(tpm_pcr_selection_parse(bad[i], sel, &n, &err), CAIRN_ERR_INVALID);
}

static void stop_live(void)
{
    if (g_live.pid > 0) {
        struct swtpm_child t = g_live;
        swtpm_stop(&t);
    }
}

int main(void)
{
    atexit(stop_live);
    setenv("TSS2_LOG", "all+NONE", 0); /* the no-TPM case would log connection errors */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swtpm_end_to_end),
        cmocka_unit_test(test_swtpm_persistent_ak),
        cmocka_unit_test(test_swtpm_tools_context),
        cmocka_unit_test(test_no_tpm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
