/* Key API messages (golden vectors, refusals, truncations and bit flips),
 * the evidence binding, and the identity rules (src/keyshare). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyshare/keyshare.h"

#define SIM_EV "{\"type\":\"sim\",\"quote\":\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urqw==\"}"
#define SID "5555555555555555555555555555555555555555555555555555555555555555"
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_ID "80e16b3683145e16"
static const char golden_req[] = "{\"evidence\":" SIM_EV ",\"simIdentity\":\"" SID "\"}";
static const char golden_resp[] =
    "{\"evidence\":" SIM_EV ",\"simIdentity\":\"" SID "\",\"key\":\"" KEY_B64 "\",\"keyId\":\"" KEY_ID "\"}";

static int parse_req(const char *s, struct ks_msg *m, struct cairn_error *e)
{
    return ks_msg_parse_request((const uint8_t *)s, strlen(s), m, e);
}

static int parse_resp(const char *s, struct ks_msg *m, struct cairn_error *e)
{
    return ks_msg_parse_response((const uint8_t *)s, strlen(s), m, e);
}

static void test_golden(void **state)
{
    (void)state;
    struct ks_msg m;
    struct cairn_error e = {0};
    assert_int_equal(parse_req(golden_req, &m, &e), 0);
    assert_int_equal(m.ev.type, ATTEST_SIM);
    assert_int_equal(m.ev.quote_len, 64);
    assert_int_equal(m.ev.quote[0], 0xab);
    assert_true(m.has_sim_identity);
    assert_int_equal(m.sim_identity[31], 0x55);
    assert_false(m.has_key);
    ks_msg_clear(&m);

    assert_int_equal(parse_resp(golden_resp, &m, &e), 0);
    assert_true(m.has_key);
    for (int i = 0; i < 32; i++)
        assert_int_equal(m.key[i], i);
    assert_string_equal(m.key_id, KEY_ID);
    ks_msg_clear(&m);

    /* a named key (etcd: the state's data key id) */
    assert_int_equal(parse_req("{\"quote\":\"AAEC\",\"keyRef\":\"00ff10\"}", &m, &e), 0);
    assert_int_equal(m.key_ref_len, 3);
    assert_int_equal(m.key_ref[1], 0xff);
    ks_msg_clear(&m);
    /* an SGX quote in MarbleRun's form */
    assert_int_equal(parse_req("{\"quote\":\"AAEC\"}", &m, &e), 0);
    assert_int_equal(m.ev.type, ATTEST_SGX);
    assert_false(m.has_sim_identity);
    ks_msg_clear(&m);

    struct ks_hello h;
    const char *hello = "{\"version\":1,\"tee\":\"tdx\",\"holdsKey\":true}";
    assert_int_equal(ks_hello_parse((const uint8_t *)hello, strlen(hello), &h, &e), 0);
    assert_int_equal(h.tee, ATTEST_TDX);
    assert_true(h.holds_key);
}

static void test_binding_and_key_id(void **state)
{
    (void)state;
    uint8_t ch[32], ex[32], rd[64];
    memset(ch, 0x11, 32);
    memset(ex, 0x22, 32);
    ks_binding_raw(KS_LABEL_REQUESTER, ch, ex, rd);
    static const uint8_t want[32] = {0x16, 0x8a, 0x55, 0xab, 0x7b, 0x88, 0xf9, 0xed, 0xa9, 0xb2, 0xcf,
                                     0xc2, 0x8c, 0xcc, 0x21, 0xf9, 0x95, 0x2b, 0x12, 0x4a, 0x0b, 0xeb,
                                     0xe4, 0x54, 0x21, 0xca, 0x91, 0x1f, 0x2e, 0x07, 0xae, 0x83};
    assert_memory_equal(rd, want, 32);
    for (int i = 32; i < 64; i++)
        assert_int_equal(rd[i], 0);
    uint8_t rd2[64];
    ks_binding_raw(KS_LABEL_HOLDER, ch, ex, rd2);
    assert_memory_not_equal(rd, rd2, 32);   /* a holder's evidence is no requester's */
    ex[31] ^= 1;
    ks_binding_raw(KS_LABEL_REQUESTER, ch, ex, rd2);
    assert_memory_not_equal(rd, rd2, 32);   /* another connection */
    uint8_t k[32];
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)i;
    char id[17];
    ks_key_id(k, id);
    assert_string_equal(id, KEY_ID);
}

static void test_refusals(void **state)
{
    (void)state;
    static const char *const bad_req[] = {
        "",
        "[]",
        "null",
        "{}",
        "{\"evidence\":" SIM_EV ",\"evidence\":" SIM_EV "}",               /* duplicate */
        "{\"evidence\":" SIM_EV "} trailing",
        "{\"evidence\":" SIM_EV ",\"simIdentity\":\"55\"}",                /* short identity */
        "{\"evidence\":" SIM_EV ",\"simIdentity\":\"" SID "00\"}",         /* long identity */
        "{\"evidence\":" SIM_EV ",\"simIdentity\":\"zz" SID "\"}",
        "{\"evidence\":" SIM_EV ",\"simIdentity\":5}",
        "{\"evidence\":" SIM_EV ",\"key\":\"" KEY_B64 "\"}",               /* a request carries no key */
        "{\"evidence\":{\"type\":\"nope\",\"quote\":\"AA==\"}}",
        "{\"quote\":\"\"}",
        "{\"quote\":\"AAEC\",\"keyRef\":\"\"}",
        "{\"quote\":\"AAEC\",\"keyRef\":\"abc\"}",
        "{\"quote\":\"AAEC\",\"keyRef\":\"" SID SID "00\"}",   /* 33 bytes */
        "{\"quote\":\"AAEC\",\"keyRef\":7}",
    };
    for (size_t i = 0; i < sizeof(bad_req) / sizeof(bad_req[0]); i++) {
        struct ks_msg m;
        memset(&m, 0x5a, sizeof(m));
        struct cairn_error e = {0};
        if (parse_req(bad_req[i], &m, &e) == 0)
            fail_msg("request %zu accepted: %s", i, bad_req[i]);
        assert_int_not_equal(e.code, 0);
        assert_int_equal(((uint8_t *)&m)[0], 0x5a);   /* untouched */
    }
    static const char *const bad_resp[] = {
        "{\"evidence\":" SIM_EV ",\"keyId\":\"" KEY_ID "\"}",                               /* no key */
        "{\"evidence\":" SIM_EV ",\"key\":\"" KEY_B64 "\"}",                                /* no keyId */
        "{\"evidence\":" SIM_EV ",\"key\":\"AAEC\",\"keyId\":\"" KEY_ID "\"}",              /* 3 bytes */
        "{\"evidence\":" SIM_EV ",\"key\":\"" KEY_B64 "\",\"keyId\":\"80e16b3683145e17\"}", /* other key */
        "{\"evidence\":" SIM_EV ",\"key\":5,\"keyId\":\"" KEY_ID "\"}",
        "{\"key\":\"" KEY_B64 "\",\"keyId\":\"" KEY_ID "\"}",                               /* no evidence */
    };
    for (size_t i = 0; i < sizeof(bad_resp) / sizeof(bad_resp[0]); i++) {
        struct ks_msg m;
        struct cairn_error e = {0};
        if (parse_resp(bad_resp[i], &m, &e) == 0)
            fail_msg("response %zu accepted: %s", i, bad_resp[i]);
    }
    /* the cap is checked before parsing */
    size_t big = KS_MAX_MSG + 1;
    uint8_t *b = malloc(big);
    assert_non_null(b);
    memset(b, ' ', big);
    struct ks_msg m;
    struct cairn_error e = {0};
    assert_int_equal(ks_msg_parse_request(b, big, &m, &e), CAIRN_ERR_TOO_LARGE);
    free(b);
    struct ks_hello h;
    static const char *const bad_hello[] = {"{\"version\":2,\"tee\":\"sim\",\"holdsKey\":true}",
                                            "{\"version\":1,\"tee\":\"x\",\"holdsKey\":true}",
                                            "{\"version\":1,\"tee\":\"sim\",\"holdsKey\":1}", "{}"};
    for (size_t i = 0; i < 4; i++)
        assert_int_not_equal(ks_hello_parse((const uint8_t *)bad_hello[i], strlen(bad_hello[i]), &h, &e), 0);
}

/* Every truncation and every single-bit flip of the golden messages: no
 * crash, and whatever parses is internally consistent. */
static void test_mutations(void **state)
{
    (void)state;
    const char *const goldens[] = {golden_req, golden_resp};
    for (int g = 0; g < 2; g++) {
        size_t n = strlen(goldens[g]);
        uint8_t *buf = malloc(n);
        assert_non_null(buf);
        for (size_t cut = 0; cut < n; cut++) {
            struct ks_msg m;
            struct cairn_error e = {0};
            memcpy(buf, goldens[g], n);
            int rc = g == 0 ? ks_msg_parse_request(buf, cut, &m, &e) : ks_msg_parse_response(buf, cut, &m, &e);
            assert_int_not_equal(rc, 0);   /* a prefix of an object is never an object */
        }
        size_t accepted = 0;
        for (size_t i = 0; i < n; i++) {
            for (int bit = 0; bit < 8; bit++) {
                struct ks_msg m;
                struct cairn_error e = {0};
                memcpy(buf, goldens[g], n);
                buf[i] ^= (uint8_t)(1u << bit);
                int rc = g == 0 ? ks_msg_parse_request(buf, n, &m, &e) : ks_msg_parse_response(buf, n, &m, &e);
                if (rc != 0)
                    continue;
                accepted++;
                if (g == 1) {
                    char id[17];
                    ks_key_id(m.key, id);
                    assert_string_equal(id, m.key_id);   /* a changed key never passes with the old id */
                    assert_string_equal(m.key_id, KEY_ID);
                }
                ks_msg_clear(&m);
            }
        }
        printf("golden %d: %zu of %zu flips still parse (evidence bytes are opaque here; hex case)\n", g, accepted, n * 8);
        free(buf);
    }
}

static struct attest_claims claims(const char *json)
{
    struct attest_claims c = {0};
    json_error_t je;
    c.json = json_loads(json, 0, &je);
    assert_non_null(c.json);
    assert_int_equal(attest_type_parse(json_string_value(json_object_get(c.json, "type")), &c.type), 0);
    return c;
}

#define H32(x) "\"" x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x "\""
#define SGX(enclave, signer, prod, svn, dbg)                                                                      \
    "{\"type\":\"sgx\",\"mrenclave\":" H32(enclave) ",\"mrsigner\":" H32(signer) ",\"isv_prod_id\":" prod         \
    ",\"isv_svn\":" svn ",\"debug\":" dbg "}"

static void expect(const struct ks_identity *id, bool unique, const char *peer, int want, const char *msg_part)
{
    struct attest_claims c = claims(peer);
    struct cairn_error e = {0};
    int rc = ks_identity_check(id, unique, &c, NULL, &e);
    if (rc != want)
        fail_msg("peer %s: got %d (%s), want %d", peer, rc, cairn_error_msg(&e), want);
    if (msg_part != NULL && strstr(cairn_error_msg(&e), msg_part) == NULL)
        fail_msg("peer %s: message \"%s\" lacks \"%s\"", peer, cairn_error_msg(&e), msg_part);
    json_decref(c.json);
}

static void test_identity_sgx(void **state)
{
    (void)state;
    struct attest_claims own = claims(SGX("aa", "bb", "3", "5", "false"));
    struct ks_identity id;
    struct cairn_error e = {0};
    assert_int_equal(ks_identity_from_claims(&own, &id, &e), 0);
    json_decref(own.json);
    expect(&id, false, SGX("aa", "bb", "3", "5", "false"), 0, NULL);
    expect(&id, false, SGX("cc", "bb", "3", "6", "false"), 0, NULL);        /* newer build of the product */
    expect(&id, true, SGX("cc", "bb", "3", "5", "false"), CAIRN_ERR_POLICY, "mrenclave");  /* UniqueKey: same build */
    expect(&id, false, SGX("aa", "cc", "3", "5", "false"), CAIRN_ERR_POLICY, "mrsigner");
    expect(&id, false, SGX("aa", "bb", "4", "5", "false"), CAIRN_ERR_POLICY, "isv_prod_id");
    expect(&id, false, SGX("aa", "bb", "3", "4", "false"), CAIRN_ERR_POLICY, "isv_svn"); /* downgrade */
    expect(&id, false, SGX("aa", "bb", "3", "5", "true"), CAIRN_ERR_POLICY, "debug");
    expect(&id, false, "{\"type\":\"tdx\"}", CAIRN_ERR_POLICY, "TEE mismatch");
    /* TCB: the peer's status is held to UpToDate/SWHardeningNeeded/own */
    expect(&id, false,
           "{\"type\":\"sgx\",\"mrenclave\":" H32("aa") ",\"mrsigner\":" H32("bb")
           ",\"isv_prod_id\":3,\"isv_svn\":5,\"debug\":false,\"tcb_status\":\"OutOfDate\"}",
           CAIRN_ERR_POLICY, "OutOfDate");
    ks_identity_clear(&id);
}

static void test_identity_tdx_tpm_sim(void **state)
{
    (void)state;
    const char *tdx = "{\"type\":\"tdx\",\"mrtd\":" H32("11") ",\"rtmr0\":" H32("20") ",\"rtmr1\":" H32("21")
                      ",\"rtmr2\":" H32("22") ",\"rtmr3\":" H32("23") ",\"mr_config_id\":" H32("30")
                      ",\"debug\":false}";
    struct attest_claims own = claims(tdx);
    struct ks_identity id;
    struct cairn_error e = {0};
    assert_int_equal(ks_identity_from_claims(&own, &id, &e), 0);
    json_decref(own.json);
    expect(&id, false, tdx, 0, NULL);
    /* RTMR3 (run-time extensions) is not identity; RTMR1 (kernel) is */
    expect(&id, false,
           "{\"type\":\"tdx\",\"mrtd\":" H32("11") ",\"rtmr0\":" H32("20") ",\"rtmr1\":" H32("21")
           ",\"rtmr2\":" H32("22") ",\"rtmr3\":" H32("99") ",\"mr_config_id\":" H32("30") ",\"debug\":false}",
           0, NULL);
    expect(&id, false,
           "{\"type\":\"tdx\",\"mrtd\":" H32("11") ",\"rtmr0\":" H32("20") ",\"rtmr1\":" H32("99")
           ",\"rtmr2\":" H32("22") ",\"rtmr3\":" H32("23") ",\"mr_config_id\":" H32("30") ",\"debug\":false}",
           CAIRN_ERR_POLICY, "rtmr1");
    ks_identity_clear(&id);

    const char *tpm = "{\"type\":\"tpm\",\"ak_certified\":true,\"pcrs\":{\"sha256\":{\"0\":" H32("a0")
                      ",\"7\":" H32("a7") "}}}";
    own = claims(tpm);
    assert_int_equal(ks_identity_from_claims(&own, &id, &e), 0);
    json_decref(own.json);
    expect(&id, false, tpm, 0, NULL);
    expect(&id, false,
           "{\"type\":\"tpm\",\"ak_certified\":true,\"pcrs\":{\"sha256\":{\"0\":" H32("a0") ",\"7\":" H32("b7")
           "}}}",
           CAIRN_ERR_POLICY, "PCRs.sha256.7");
    expect(&id, false, "{\"type\":\"tpm\",\"ak_certified\":true,\"pcrs\":{\"sha256\":{\"0\":" H32("a0") "}}}",
           CAIRN_ERR_POLICY, "not in the quote");
    /* equal PCRs from a bare AK (any software TPM replaying the event log's
     * digests): not this Coordinator */
    expect(&id, false, "{\"type\":\"tpm\",\"ak_certified\":false,\"pcrs\":{\"sha256\":{\"0\":" H32("a0")
           ",\"7\":" H32("a7") "}}}", CAIRN_ERR_POLICY, "not certified");
    expect(&id, false, "{\"type\":\"tpm\",\"pcrs\":{\"sha256\":{\"0\":" H32("a0") ",\"7\":" H32("a7") "}}}",
           CAIRN_ERR_POLICY, "not certified");
    ks_identity_clear(&id);
    /* a TPM quote over no PCR identifies nothing */
    own = claims("{\"type\":\"tpm\",\"pcrs\":{}}");
    assert_int_not_equal(ks_identity_from_claims(&own, &id, &e), 0);
    json_decref(own.json);

    /* SNP: measurement, host data, guest SVN >= own, debug, and the
     * platform TCB the own report carries as the floor (a host with older
     * firmware or microcode is refused) */
#define SNP(meas, svn, dbg, micro)                                                                                \
    "{\"type\":\"snp\",\"measurement\":" H32(meas) ",\"host_data\":" H32("dd")           \
    ",\"guest_svn\":" svn ",\"debug\":" dbg ",\"reported_tcb\":{\"bootloader\":3,\"tee\":0,\"snp\":22,"      \
    "\"microcode\":" micro "}}"
    own = claims(SNP("5a", "2", "false", "213"));
    assert_int_equal(ks_identity_from_claims(&own, &id, &e), 0);
    json_decref(own.json);
    expect(&id, false, SNP("5a", "2", "false", "213"), 0, NULL);
    expect(&id, false, SNP("5a", "3", "false", "214"), 0, NULL);   /* newer guest, newer host */
    expect(&id, false, SNP("5b", "2", "false", "213"), CAIRN_ERR_POLICY, "Measurement");
    expect(&id, false, SNP("5a", "1", "false", "213"), CAIRN_ERR_POLICY, "GuestSVN");
    expect(&id, false, SNP("5a", "2", "true", "213"), CAIRN_ERR_POLICY, "Debug");
    expect(&id, false, SNP("5a", "2", "false", "209"), CAIRN_ERR_POLICY, "MinimumTCB.Microcode");
    ks_identity_clear(&id);
    /* own evidence without a reported TCB: no identity */
    own = claims("{\"type\":\"snp\",\"measurement\":" H32("5a") ",\"host_data\":" H32("dd")
                 ",\"guest_svn\":2,\"debug\":false}");
    assert_int_not_equal(ks_identity_from_claims(&own, &id, &e), 0);
    json_decref(own.json);
#undef SNP

    /* sim: the executable's hash */
    char path[] = "/tmp/cairn-ks-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "build one", 9), 9);
    close(fd);
    assert_int_equal(ks_identity_sim(path, &id, &e), 0);
    struct attest_claims sc = {.type = ATTEST_SIM};
    assert_int_equal(ks_identity_check(&id, false, &sc, id.sim_identity, &e), 0);
    uint8_t other[32];
    memcpy(other, id.sim_identity, 32);
    other[0] ^= 1;
    assert_int_equal(ks_identity_check(&id, false, &sc, other, &e), CAIRN_ERR_POLICY);
    assert_int_equal(ks_identity_check(&id, false, &sc, NULL, &e), CAIRN_ERR_POLICY);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),         cmocka_unit_test(test_binding_and_key_id),
        cmocka_unit_test(test_refusals),       cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_identity_sgx),   cmocka_unit_test(test_identity_tdx_tpm_sim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
