/* src/core without HTTP: PKI (inventory §3.3), the leaf key pool, the state
 * machine, manifest set, activation checks and their order, the atomic
 * MaxActivations commit under concurrency, mutations of activation requests,
 * and persistence (restart, recovery on a foreign seal key, corrupt state). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/core.h"
#include "core/keypool.h"
#include "core/pki.h"
#include "common/encoding.h"
#include "crypto/crypto.h"
#include "marble_sim.h"

static const char k_manifest[] =
    "{\"Packages\":{\"pkg\":{\"Debug\":true,\"UniqueID\":\"00\"}},"
    "\"Marbles\":{\"web\":{\"Package\":\"pkg\",\"MaxActivations\":5,"
    "\"Parameters\":{\"Files\":{\"/k\":\"{{ hex .Secrets.k }}\"},\"Env\":{\"E\":\"v\"},\"Argv\":[\"a\",\"b\"]}},"
    "\"free\":{\"Package\":\"pkg\"},\"orphan\":{\"Package\":\"pkg\"}},"
    "\"Secrets\":{\"k\":{\"Type\":\"symmetric-key\",\"Size\":128}}}";

static X509 *pem_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    return x;
}

static char *san_text(X509 *x)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    static char buf[1024];
    buf[0] = 0;
    for (int i = 0; g != NULL && i < sk_GENERAL_NAME_num(g); i++) {
        GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);
        char one[128] = "";
        if (n->type == GEN_DNS)
            snprintf(one, sizeof(one), "DNS:%s,", (const char *)ASN1_STRING_get0_data(n->d.dNSName));
        else if (n->type == GEN_IPADD)
            snprintf(one, sizeof(one), "IP:%d,", ASN1_STRING_length(n->d.iPAddress));
        strncat(buf, one, sizeof(buf) - strlen(buf) - 1);
    }
    GENERAL_NAMES_free(g);
    return buf;
}

static void test_pki(void **state)
{
    (void)state;
    char **names;
    size_t n;
    assert_int_equal(pki_split_names(" coord.example, ,10.0.0.1 ,", &names, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "coord.example");
    assert_string_equal(names[1], "10.0.0.1");
    X509 *root, *inter, *mroot, *leaf;
    EVP_PKEY *rk, *ik, *lk;
    assert_int_equal(pki_root_new((const char *const *)names, n, &root, &rk, NULL), 0);
    pki_names_free(names, n);
    char cn[256];
    X509_NAME_get_text_by_NID(X509_get_subject_name(root), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "MarbleRun Coordinator");
    assert_string_equal(san_text(root), "DNS:coord.example,IP:4,IP:4,IP:16,");
    assert_int_equal(X509_check_ca(root), 1);
    assert_int_equal(EVP_PKEY_get_bits(rk), 384);
    /* NotAfter = now + MaxInt64 ns (about 292 years) */
    int days = 0, secs = 0;
    assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(root)), 1);
    assert_true(days > 365 * 291 && days < 365 * 293);

    assert_int_equal(pki_intermediate_new(root, rk, &inter, &mroot, &ik, NULL), 0);
    X509_NAME_get_text_by_NID(X509_get_subject_name(inter), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "MarbleRun Coordinator - Intermediate CA");
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(inter), X509_get_subject_name(root)), 0);
    assert_int_equal(X509_verify(inter, rk), 1);
    assert_int_equal(X509_verify(mroot, ik), 1);   /* Marble Root: self-signed with the intermediate key */
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(mroot), X509_get_subject_name(inter)), 0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(mroot), X509_get0_pubkey(inter)), 1);

    struct marble_sim m;
    assert_int_equal(marble_sim_new("web", NULL, MARBLE_SIM_OK, &m), 0);
    json_t *req = json_loads(m.body, 0, NULL);
    uint8_t *der;
    size_t dl;
    const char *csr_b64 = json_string_value(json_object_get(req, "csr"));
    assert_int_equal(cairn_base64_decode(csr_b64, strlen(csr_b64), &der, &dl), 0);
    X509_REQ *csr;
    assert_int_equal(cc_csr_parse_verify(der, dl, &csr, NULL), 0);
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, &lk, NULL), 0);
    assert_int_equal(pki_leaf_issue(csr, "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "web", mroot, ik, lk, &leaf, NULL), 0);
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
    assert_string_equal(san_text(leaf), "DNS:localhost,DNS:marble.example,IP:4,IP:16,");
    assert_int_equal(X509_verify(leaf, ik), 1);
    assert_int_equal(X509_check_issued(mroot, leaf), X509_V_OK);
    assert_int_equal(X509_check_issued(inter, leaf), X509_V_OK);
    assert_int_equal(X509_check_ca(leaf), 0);
    ASN1_OBJECT *oid = OBJ_txt2obj(PKI_MARBLE_TYPE_OID, 1);
    int idx = X509_get_ext_by_OBJ(leaf, oid, -1);
    assert_true(idx >= 0);
    ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
    assert_int_equal(ASN1_STRING_length(v), 3);   /* raw bytes, not DER-wrapped */
    assert_memory_equal(ASN1_STRING_get0_data(v), "web", 3);
    assert_true((X509_get_key_usage(leaf) & (KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT)) ==
                (KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT));
    assert_true(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
    assert_true(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT);
    ASN1_OBJECT_free(oid);
    free(der);
    json_decref(req);
    marble_sim_free(&m);
    X509_REQ_free(csr);
    X509_free(root);
    X509_free(inter);
    X509_free(mroot);
    X509_free(leaf);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(lk);
}

static void test_keypool(void **state)
{
    (void)state;
    struct keypool *kp = keypool_new(4, 10);
    assert_non_null(kp);
    keypool_wait_full(kp, 20000);
    uint64_t hits, misses;
    size_t avail;
    keypool_stats(kp, &hits, &misses, &avail);
    assert_int_equal(avail, 4);
    for (int i = 0; i < 5; i++) {
        EVP_PKEY *k = keypool_take(kp);
        assert_non_null(k);
        assert_int_equal(EVP_PKEY_get_bits(k), 384);
        EVP_PKEY_free(k);
    }
    keypool_stats(kp, &hits, &misses, &avail);
    assert_int_equal(hits + misses, 5);
    assert_true(hits >= 4);
    keypool_wait_full(kp, 20000);   /* refilled once idle */
    keypool_stats(kp, NULL, NULL, &avail);
    assert_int_equal(avail, 4);
    keypool_free(kp);
    kp = keypool_new(0, 0);          /* no pool: every key generated on demand */
    EVP_PKEY *k = keypool_take(kp);
    assert_non_null(k);
    EVP_PKEY_free(k);
    keypool_stats(kp, &hits, &misses, &avail);
    assert_int_equal(hits, 0);
    assert_int_equal(misses, 1);
    keypool_free(kp);
}

static struct core *new_core(const char *seal_dir, struct cairn_error *e)
{
    struct core_config cfg = {.simulation = true, .seal_dir = seal_dir, .memory_only = seal_dir == NULL,
                              .leaf_key_pool = 2};
    struct core *c = NULL;
    if (core_new(&cfg, &c, e) != 0)
        return NULL;
    return c;
}

static enum core_refusal act(struct core *c, const char *type, enum marble_sim_flaw flaw, bool with_cert,
                             json_t **data, struct cairn_error *e)
{
    struct marble_sim m;
    assert_int_equal(marble_sim_new(type, NULL, flaw, &m), 0);
    X509 *peer = pem_cert(m.cert_pem);
    json_t *d = NULL;
    enum core_refusal r = core_activate(c, (const uint8_t *)m.body, m.body_len, with_cert ? peer : NULL, &d, e);
    if (data != NULL)
        *data = d;
    else
        json_decref(d);
    X509_free(peer);
    marble_sim_free(&m);
    return r;
}

static void test_state_machine_and_checks(void **state)
{
    (void)state;
    struct cairn_error e = {0};
    struct core *c = new_core(NULL, &e);
    assert_non_null(c);
    assert_int_equal(core_get_state(c), CORE_STATE_ACCEPTING_MANIFEST);
    assert_int_equal(act(c, "web", MARBLE_SIM_OK, true, NULL, &e), CORE_UNAVAILABLE);
    assert_string_equal(e.msg, "cannot accept marbles in current state");
    json_t *rec = NULL;
    static const char bad[] = "{\"Packages\":{},\"Marbles\":{}}";
    assert_int_equal(core_manifest_set(c, (const uint8_t *)bad, strlen(bad), &rec, &e), CAIRN_ERR_INVALID);
    assert_non_null(strstr(e.msg, "no allowed packages defined"));
    assert_int_equal(core_get_state(c), CORE_STATE_ACCEPTING_MANIFEST);
    assert_int_equal(core_manifest_set(c, (const uint8_t *)k_manifest, strlen(k_manifest), &rec, &e), 0);
    assert_true(json_is_null(rec));
    json_decref(rec);
    assert_int_equal(core_get_state(c), CORE_STATE_ACCEPTING_MARBLES);
    assert_int_equal(core_manifest_set(c, (const uint8_t *)k_manifest, strlen(k_manifest), &rec, &e), CAIRN_ERR_STATE);

    json_t *d = NULL;
    assert_int_equal(act(c, "web", MARBLE_SIM_OK, true, &d, &e), CORE_OK);
    assert_non_null(json_object_get(json_object_get(d, "files"), "/k"));
    assert_non_null(json_object_get(json_object_get(d, "env"), "MARBLE_PREDEFINED_PRIVATE_KEY"));
    assert_int_equal(json_array_size(json_object_get(d, "argv")), 2);
    json_decref(d);
    assert_int_equal(act(c, "web", MARBLE_SIM_OK, false, NULL, &e), CORE_UNAUTHENTICATED);
    assert_int_equal(act(c, "nope", MARBLE_SIM_OK, true, NULL, &e), CORE_FORBIDDEN);
    assert_string_equal(e.msg, "marble verification failed: unknown marble type requested");
    assert_int_equal(act(c, "web", MARBLE_SIM_WRONG_BINDING, true, NULL, &e), CORE_FORBIDDEN);
    assert_non_null(strstr(e.msg, "binding"));
    assert_int_equal(act(c, "web", MARBLE_SIM_GARBAGE_CSR, true, NULL, &e), CORE_BAD_REQUEST);
    assert_int_equal(act(c, "web", MARBLE_SIM_UNSIGNED_CSR, true, NULL, &e), CORE_BAD_REQUEST);
    assert_int_equal(act(c, "web", MARBLE_SIM_NO_EVIDENCE, true, NULL, &e), CORE_BAD_REQUEST);
    assert_int_equal(act(c, "web", MARBLE_SIM_BAD_UUID, true, NULL, &e), CORE_BAD_REQUEST);
    /* check order: an unknown type is reported before a bad binding */
    assert_int_equal(act(c, "nope", MARBLE_SIM_WRONG_BINDING, true, NULL, &e), CORE_FORBIDDEN);
    assert_string_equal(e.msg, "marble verification failed: unknown marble type requested");
    /* the update log holds the initial set */
    json_t *log = NULL;
    assert_int_equal(core_update_log(c, &log), 0);
    assert_int_equal(json_array_size(log), 1);
    assert_non_null(strstr(json_string_value(json_array_get(log, 0)), "\"update\":\"Initial manifest set\""));
    json_decref(log);
    struct cairn_buf mb;
    cairn_buf_init(&mb, 1 << 20);
    assert_int_equal(core_metrics_render(c, &mb), 0);
    assert_non_null(strstr((char *)mb.data, "coordinator_state 3\n"));
    assert_non_null(strstr((char *)mb.data, "cairn_evidence_verifications_total{type=\"sim\",result=\"fail\"} 1\n"));
    cairn_buf_free(&mb);
    core_free(c);
}

struct race {
    struct core *c;
    struct marble_sim m[3];
    X509 *peer[3];
    int ok;
};

static void *racer(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < 3; i++) {
        json_t *d = NULL;
        if (core_activate(r->c, (const uint8_t *)r->m[i].body, r->m[i].body_len, r->peer[i], &d, NULL) == CORE_OK)
            r->ok++;
        json_decref(d);
    }
    return NULL;
}

/* 8 threads x 3 activations of a type with MaxActivations 5: exactly 5 succeed. */
static void test_max_activations_race(void **state)
{
    (void)state;
    struct cairn_error e = {0};
    struct core *c = new_core(NULL, &e);
    json_t *rec = NULL;
    assert_int_equal(core_manifest_set(c, (const uint8_t *)k_manifest, strlen(k_manifest), &rec, &e), 0);
    json_decref(rec);
    struct race r[8];
    pthread_t th[8];
    for (int t = 0; t < 8; t++) {
        r[t].c = c;
        r[t].ok = 0;
        for (int i = 0; i < 3; i++) {
            assert_int_equal(marble_sim_new("web", NULL, MARBLE_SIM_OK, &r[t].m[i]), 0);
            r[t].peer[i] = pem_cert(r[t].m[i].cert_pem);
        }
    }
    for (int t = 0; t < 8; t++)
        pthread_create(&th[t], NULL, racer, &r[t]);
    int ok = 0;
    for (int t = 0; t < 8; t++) {
        pthread_join(th[t], NULL);
        ok += r[t].ok;
        for (int i = 0; i < 3; i++) {
            X509_free(r[t].peer[i]);
            marble_sim_free(&r[t].m[i]);
        }
    }
    assert_int_equal(ok, 5);
    assert_int_equal(act(c, "free", MARBLE_SIM_OK, true, NULL, &e), CORE_OK);   /* other types unaffected */
    core_free(c);
}

/* Deterministic mutations of a valid request (byte flips, truncations): never
 * a crash, and a refusal never carries data. */
static void test_request_mutations(void **state)
{
    (void)state;
    struct cairn_error e = {0};
    struct core *c = new_core(NULL, &e);
    json_t *rec = NULL;
    assert_int_equal(core_manifest_set(c, (const uint8_t *)k_manifest, strlen(k_manifest), &rec, &e), 0);
    json_decref(rec);
    struct marble_sim m;
    assert_int_equal(marble_sim_new("free", NULL, MARBLE_SIM_OK, &m), 0);
    X509 *peer = pem_cert(m.cert_pem);
    uint8_t *buf = malloc(m.body_len);
    int oks = 0, refusals = 0;
    for (size_t i = 0; i < m.body_len; i += 5) {
        memcpy(buf, m.body, m.body_len);
        buf[i] ^= (uint8_t)(1u << (i % 8));
        json_t *d = NULL;
        enum core_refusal r = core_activate(c, buf, m.body_len, peer, &d, &e);
        if (r == CORE_OK) {
            assert_non_null(d);
            oks++;
        } else {
            assert_null(d);
            assert_true(e.msg[0] != '\0');
            refusals++;
        }
        json_decref(d);
    }
    for (size_t n = 0; n < m.body_len; n += 23) {
        json_t *d = NULL;
        assert_int_not_equal(core_activate(c, (const uint8_t *)m.body, n, peer, &d, &e), CORE_OK);
        assert_null(d);
    }
    assert_true(refusals > oks);   /* most flips break JSON, base64, the CSR or the binding */
    free(buf);
    X509_free(peer);
    marble_sim_free(&m);
    core_free(c);
}

static void test_persistence(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/cairn-core-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char seal[512];
    snprintf(seal, sizeof(seal), "%s/seal", dir);
    struct cairn_error e = {0};
    struct core *c = new_core(seal, &e);
    assert_non_null(c);
    json_t *rec = NULL;
    assert_int_equal(core_manifest_set(c, (const uint8_t *)k_manifest, strlen(k_manifest), &rec, &e), 0);
    json_decref(rec);
    for (int i = 0; i < 5; i++)
        assert_int_equal(act(c, "web", MARBLE_SIM_OK, true, NULL, &e), CORE_OK);
    struct core_snap *s = core_snap_get(c);
    char hash[65];
    memcpy(hash, s->manifest_hash, 65);
    core_snap_put(s);
    core_free(c);

    c = new_core(seal, &e);   /* restart: state, manifest and the counter are back */
    assert_non_null(c);
    assert_int_equal(core_get_state(c), CORE_STATE_ACCEPTING_MARBLES);
    s = core_snap_get(c);
    assert_string_equal(s->manifest_hash, hash);
    core_snap_put(s);
    assert_int_equal(act(c, "web", MARBLE_SIM_OK, true, NULL, &e), CORE_FORBIDDEN);
    assert_non_null(strstr(e.msg, "maximum number of activations (5)"));
    core_free(c);

    /* another machine's seal key: recovery (state 1), the files kept */
    char p[600];
    snprintf(p, sizeof(p), "%s/sim_seal_key", seal);
    uint8_t k[32];
    cc_random(k, 32);
    FILE *f = fopen(p, "wb");
    fwrite(k, 1, 32, f);
    fclose(f);
    c = new_core(seal, &e);
    assert_non_null(c);
    assert_int_equal(core_get_state(c), CORE_STATE_RECOVERY);
    core_free(c);

    /* corrupt sealed_data: a load error, not a silent fresh start */
    snprintf(p, sizeof(p), "%s/sealed_data", seal);
    f = fopen(p, "r+b");
    fseek(f, 40, SEEK_SET);
    fputc('X', f);
    fclose(f);
    c = new_core(seal, &e);
    if (c != NULL) {   /* with a foreign key the unseal fails first: still recovery */
        assert_int_equal(core_get_state(c), CORE_STATE_RECOVERY);
        core_free(c);
    }
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_corrupt_state_fails(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/cairn-core-XXXXXX";
    char *dir = mkdtemp(tmpl);
    char seal[512], p[600];
    snprintf(seal, sizeof(seal), "%s/seal", dir);
    struct cairn_error e = {0};
    struct core *c = new_core(seal, &e);
    assert_non_null(c);
    core_free(c);
    snprintf(p, sizeof(p), "%s/sealed_data", seal);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    /* flip the byte (writing a fixed 'X' changed nothing when the byte
     * already was 'X': a 1-in-256 flake) */
    assert_int_equal(fseek(f, 30, SEEK_SET), 0);
    int byte = fgetc(f);
    assert_true(byte != EOF);
    assert_int_equal(fseek(f, 30, SEEK_SET), 0);
    fputc(byte ^ 0x01, f);
    fclose(f);
    /* the sealed_key is bound to the exact sealed_data (issue 13): a modified
     * byte makes it another state's key -> recovery mode (state 1), never
     * the modified data, never a fresh state */
    c = new_core(seal, &e);
    assert_non_null(c);
    assert_int_equal(core_get_state(c), CORE_STATE_RECOVERY);
    core_free(c);
    /* a truncated sealed_data is malformed: the Coordinator does not start */
    assert_int_equal(truncate(p, 3), 0);
    c = new_core(seal, &e);
    assert_null(c);
    assert_non_null(strstr(e.msg, "sealed_data"));
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* /events keeps the last events_max activations, oldest dropped first. */
static void test_events_ring(void **state)
{
    (void)state;
    struct core_config cfg = {.simulation = true, .memory_only = true, .events_max = 3};
    struct core *c = NULL;
    struct cairn_error e = {0};
    assert_int_equal(core_new(&cfg, &c, &e), 0);
    json_t *rec = NULL;
    assert_int_equal(core_manifest_set(c, (const uint8_t *)k_manifest, strlen(k_manifest), &rec, &e), 0);
    json_decref(rec);
    char uuids[5][37];
    for (int i = 0; i < 5; i++) {
        snprintf(uuids[i], sizeof(uuids[i]), "3f2504e0-4f89-41d3-9a0c-0305e82c330%d", i);
        struct marble_sim m;
        assert_int_equal(marble_sim_new("free", uuids[i], MARBLE_SIM_OK, &m), 0);
        X509 *peer = pem_cert(m.cert_pem);
        json_t *d = NULL;
        assert_int_equal(core_activate(c, (const uint8_t *)m.body, m.body_len, peer, &d, &e), CORE_OK);
        json_decref(d);
        X509_free(peer);
        marble_sim_free(&m);
    }
    json_t *ev = core_events(c);
    assert_int_equal(json_array_size(ev), 3);
    for (int i = 0; i < 3; i++) {
        const json_t *a = json_object_get(json_array_get(ev, (size_t)i), "activation");
        assert_string_equal(json_string_value(json_object_get(a, "uuid")), uuids[i + 2]);
        assert_string_equal(json_string_value(json_object_get(a, "marbleType")), "free");
        assert_int_equal(json_string_length(json_object_get(a, "quote")), 88);   /* base64 of 64 bytes */
    }
    assert_non_null(json_object_get(json_array_get(ev, 0), "time"));
    json_decref(ev);
    core_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pki),
        cmocka_unit_test(test_keypool),
        cmocka_unit_test(test_state_machine_and_checks),
        cmocka_unit_test(test_max_activations_race),
        cmocka_unit_test(test_request_mutations),
        cmocka_unit_test(test_persistence),
        cmocka_unit_test(test_corrupt_state_fails),
        cmocka_unit_test(test_events_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
