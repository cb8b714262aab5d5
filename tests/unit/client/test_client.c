/* libcairn internals that handle untrusted Coordinator answers: JSend
 * decoding, address normalisation, activation answers, /quote answers
 * (certificate chain, evidence presence, simulation refusal) and policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/client_internal.h"
#include "cairn/cairn.h"
#include "common/encoding.h"
#include "crypto/crypto.h"

#include <openssl/x509v3.h>

static int jsend(long status, const char *body, json_t **data, struct cairn_error *err)
{
    return client_jsend_parse(status, (const uint8_t *)body, body ? strlen(body) : 0, data, err);
}

static void test_jsend_success(void **state)
{
    (void)state;
    json_t *d = NULL;
    assert_int_equal(jsend(200, "{\"status\":\"success\",\"data\":{\"code\":3,\"message\":\"ok\"}}", &d, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "code")), 3);
    json_decref(d);
    d = NULL;
    assert_int_equal(jsend(200, "{\"status\":\"success\"}", &d, NULL), 0);
    assert_true(json_is_null(d));
    json_decref(d);
}

static void test_jsend_errors(void **state)
{
    (void)state;
    json_t *d = (json_t *)0x1;
    struct cairn_error err = {0};
    /* 2xx that is not JSend success */
    assert_int_equal(jsend(200, "not json", &d, &err), CAIRN_ERR_PROTOCOL);
    assert_int_equal(jsend(200, "{\"status\":\"fail\",\"data\":null}", &d, &err), CAIRN_ERR_PROTOCOL);
    assert_int_equal(jsend(200, "{\"status\":\"success\",\"status\":\"success\"}", &d, &err), CAIRN_ERR_PROTOCOL);
    assert_int_equal(jsend(200, "[1]", &d, &err), CAIRN_ERR_PROTOCOL);
    assert_int_equal(jsend(200, NULL, &d, &err), CAIRN_ERR_PROTOCOL);
    assert_ptr_equal(d, (json_t *)0x1); /* untouched on failure */
    /* status mapping and the server's message */
    assert_int_equal(jsend(400, "{\"status\":\"fail\",\"data\":null,\"message\":\"bad manifest\"}", &d, &err),
                     CAIRN_ERR_INVALID);
    assert_string_equal(err.msg, "HTTP 400: bad manifest");
    assert_int_equal(jsend(401, "{\"status\":\"fail\",\"message\":\"x\"}", &d, &err), CAIRN_ERR_UNAUTHENTICATED);
    assert_int_equal(jsend(403, "{\"status\":\"fail\",\"message\":\"marble verification failed: unknown marble type requested\"}", &d, &err),
                     CAIRN_ERR_PERMISSION);
    assert_string_equal(err.msg, "HTTP 403: marble verification failed: unknown marble type requested");
    assert_int_equal(jsend(404, "{\"status\":\"error\"}", &d, &err), CAIRN_ERR_NOT_FOUND);
    assert_string_equal(err.msg, "HTTP 404 without a message");
    assert_int_equal(jsend(405, "{\"status\":\"error\",\"data\":null,\"message\":\"\"}\n", &d, &err),
                     CAIRN_ERR_UNSUPPORTED);
    assert_int_equal(jsend(503, "{\"status\":\"error\",\"message\":\"cannot accept marbles in current state\"}", &d, &err),
                     CAIRN_ERR_STATE);
    assert_int_equal(jsend(500, "{\"status\":\"error\",\"message\":\"boom\"}", &d, &err), CAIRN_ERR_PROTOCOL);
    /* a non-JSON error body: its first line */
    assert_int_equal(jsend(502, "Bad Gateway\nsecond line", &d, &err), CAIRN_ERR_PROTOCOL);
    assert_string_equal(err.msg, "HTTP 502: Bad Gateway");
    /* control characters and newlines never reach the one-line message */
    assert_int_equal(jsend(400, "{\"status\":\"fail\",\"message\":\"a\\nb\\u001b[31mc\\r\"}", &d, &err), CAIRN_ERR_INVALID);
    assert_string_equal(err.msg, "HTTP 400: a b[31mc");
    /* long messages are cut */
    char big[5000];
    strcpy(big, "{\"status\":\"fail\",\"message\":\"");
    size_t n = strlen(big);
    memset(big + n, 'x', 2000);
    strcpy(big + n + 2000, "\"}");
    assert_int_equal(jsend(400, big, &d, &err), CAIRN_ERR_INVALID);
    assert_true(strlen(err.msg) <= strlen("HTTP 400: ") + CLIENT_MESSAGE_MAX + 3);
    assert_non_null(strstr(err.msg, "..."));
}

/* Bit flips and truncations of a valid answer: no crash, no leak (ASan). */
static void test_jsend_mutations(void **state)
{
    (void)state;
    const char *good = "{\"status\":\"success\",\"data\":{\"files\":{\"/a\":\"aGk=\"},\"env\":{\"E\":\"eA==\"},"
                       "\"argv\":[\"p\",\"q\"]}}";
    size_t len = strlen(good);
    char *buf = malloc(len);
    int ok = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, good, len);
            buf[i] ^= (char)(1 << bit);
            json_t *d = NULL;
            if (client_jsend_parse(200, (uint8_t *)buf, len, &d, NULL) == 0) {
                struct cairn_marble_params *p = NULL;
                if (client_activation_parse(d, &p, NULL) == 0) {
                    ok++;
                    cairn_marble_params_free(p);
                }
                json_decref(d);
            }
        }
        json_t *d = NULL;
        assert_int_not_equal(client_jsend_parse(200, (const uint8_t *)good, i, &d, NULL), 0);
    }
    assert_true(ok > 0);
    free(buf);
}

static void test_base_url(void **state)
{
    (void)state;
    char *u = NULL;
    assert_int_equal(client_base_url("localhost:4433", 4433, &u, NULL), 0);
    assert_string_equal(u, "https://localhost:4433");
    free(u);
    assert_int_equal(client_base_url(":2001", 4433, &u, NULL), 0);
    assert_string_equal(u, "https://localhost:2001");
    free(u);
    assert_int_equal(client_base_url("10.0.0.1", 4433, &u, NULL), 0);
    assert_string_equal(u, "https://10.0.0.1:4433");
    free(u);
    assert_int_equal(client_base_url("https://coord.example:443/", 4433, &u, NULL), 0);
    assert_string_equal(u, "https://coord.example:443");
    free(u);
    assert_int_equal(client_base_url("[::1]:9", 4433, &u, NULL), 0);
    assert_string_equal(u, "https://[::1]:9");
    free(u);
    struct cairn_error err = {0};
    u = (char *)0x1;
    assert_int_equal(client_base_url("http://x:1", 4433, &u, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "https"));
    assert_int_equal(client_base_url("x:0", 4433, &u, &err), CAIRN_ERR_INVALID);
    assert_int_equal(client_base_url("x:65536", 4433, &u, &err), CAIRN_ERR_INVALID);
    assert_int_equal(client_base_url("x:1a", 4433, &u, &err), CAIRN_ERR_INVALID);
    assert_int_equal(client_base_url("x y:1", 4433, &u, &err), CAIRN_ERR_INVALID);
    assert_int_equal(client_base_url("::1:4433", 4433, &u, &err), CAIRN_ERR_INVALID);
    assert_int_equal(client_base_url("", 4433, &u, &err), CAIRN_ERR_INVALID);
    assert_int_equal(client_base_url("x/y:1", 4433, &u, &err), CAIRN_ERR_INVALID);
    assert_ptr_equal(u, (char *)0x1);
}

static void test_activation_parse(void **state)
{
    (void)state;
    json_error_t je;
    json_t *d = json_loads("{\"files\":{\"/etc/a\":\"aGVsbG8=\",\"rel/b\":\"\"},\"env\":{\"K\":\"dmFs\"},"
                           "\"argv\":[\"prog\",\"--x\"]}", 0, &je);
    struct cairn_marble_params *p = NULL;
    assert_int_equal(client_activation_parse(d, &p, NULL), 0);
    json_decref(d);
    assert_int_equal(p->n_files, 2);
    assert_int_equal(p->n_env, 1);
    assert_int_equal(p->argc, 2);
    for (size_t i = 0; i < p->n_files; i++) {
        if (strcmp(p->files[i].path, "/etc/a") == 0) {
            assert_int_equal(p->files[i].size, 5);
            assert_memory_equal(p->files[i].data, "hello", 5);
        } else {
            assert_string_equal(p->files[i].path, "rel/b");
            assert_int_equal(p->files[i].size, 0);
        }
    }
    assert_string_equal(p->env[0].path, "K");
    assert_string_equal((char *)p->env[0].data, "val");
    assert_string_equal(p->argv[0], "prog");
    assert_string_equal(p->argv[1], "--x");
    assert_null(p->argv[2]); /* execv-ready */
    cairn_marble_params_free(p);

    const char *bad[] = {
        "[]",
        "{\"files\":[]}",
        "{\"files\":{\"/a\":\"@@@\"}}",
        "{\"files\":{\"/a\":1}}",
        "{\"files\":{\"\":\"\"}}",
        "{\"env\":{\"K\":\"AA==\"}}",      /* NUL in a value */
        "{\"env\":{\"A=B\":\"eA==\"}}",    /* '=' in a name */
        "{\"argv\":\"p\"}",
        "{\"argv\":[1]}",
        "{\"argv\":[\"a\\u0000b\"]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d = json_loads(bad[i], JSON_ALLOW_NUL, &je);
        assert_non_null(d);
        struct cairn_error err = {0};
        p = (struct cairn_marble_params *)0x1;
        assert_int_not_equal(client_activation_parse(d, &p, &err), 0);
        assert_ptr_equal(p, (void *)0x1);
        assert_non_null(strstr(err.msg, "activation answer"));
        json_decref(d);
    }
    /* empty answer: nothing to write, exec the given program */
    d = json_loads("{\"files\":null}", 0, &je);
    assert_int_equal(client_activation_parse(d, &p, NULL), 0);
    assert_int_equal(p->n_files + p->n_env + p->argc, 0);
    cairn_marble_params_free(p);
    json_decref(d);
}

/* A root CA and an intermediate, like the Coordinator's PKI. */
static void make_ca(X509 **root, EVP_PKEY **root_key, X509 **inter)
{
    EVP_PKEY *ik = NULL;
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, root_key, NULL), 0);
    assert_int_equal(cc_key_generate(CC_KEY_EC_P384, 0, &ik, NULL), 0);
    struct cc_cert_template t = {.subject = {.common_name = "MarbleRun Coordinator"},
                                 .key_usage = CC_KU_DIGITAL_SIGNATURE | CC_KU_CERT_SIGN, .is_ca = true,
                                 .max_path_len = -1};
    assert_int_equal(cc_cert_issue(&t, *root_key, NULL, *root_key, root, NULL), 0);
    t.subject.common_name = "MarbleRun Coordinator - Intermediate CA";
    assert_int_equal(cc_cert_issue(&t, ik, *root, *root_key, inter, NULL), 0);
    EVP_PKEY_free(ik);
}

static char *pem2(X509 *a, X509 *b)
{
    char *pa = NULL, *pb = NULL, *out = NULL;
    size_t n;
    assert_int_equal(cc_cert_to_pem(a, &pa, &n), 0);
    if (b)
        assert_int_equal(cc_cert_to_pem(b, &pb, &n), 0);
    assert_true(asprintf(&out, "%s%s", pa, pb ? pb : "") > 0);
    free(pa);
    free(pb);
    return out;
}

static void test_verify_quote_data(void **state)
{
    (void)state;
    X509 *root, *inter, *root2, *inter2;
    EVP_PKEY *rk, *rk2;
    make_ca(&root, &rk, &inter);
    make_ca(&root2, &rk2, &inter2);
    char *good = pem2(inter, root);
    struct tee_package pol = {.tee = ATTEST_SGX};
    struct cairn_coordinator_certs c = {0};
    struct cairn_error err = {0};

    /* simulation: no quote */
    json_t *d = json_pack("{s:s, s:n}", "cert", good, "quote");
    assert_int_equal(client_verify_quote_data(d, NULL, 0, NULL, true, &c, &err), 0);
    assert_int_equal(c.verified, 0);
    assert_string_equal(c.tee, "none");
    char *rp = pem2(root, NULL), *ip = pem2(inter, NULL);
    assert_string_equal(c.root_pem, rp);
    assert_string_equal(c.intermediate_pem, ip);
    cairn_coordinator_certs_free(&c);
    /* ... but never without insecure */
    assert_int_equal(client_verify_quote_data(d, NULL, 0, &pol, false, &c, &err), CAIRN_ERR_STATE);
    assert_non_null(strstr(err.msg, "simulation"));
    json_decref(d);

    /* sim evidence proves nothing, even when it binds the root */
    uint8_t rd[64] = {0};
    uint8_t *der = NULL;
    size_t der_len = 0;
    assert_int_equal(cc_cert_to_der(root, &der, &der_len), 0);
    cc_sha256(der, der_len, rd);
    char *b64 = cairn_base64_encode(rd, 64);
    d = json_pack("{s:s, s:{s:s, s:s}}", "cert", good, "evidence", "type", "sim", "quote", b64);
    assert_int_equal(client_verify_quote_data(d, NULL, 0, &pol, false, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "simulation evidence"));
    json_decref(d);
    /* an SGX quote that is garbage fails verification, never passes */
    d = json_pack("{s:s, s:s}", "cert", good, "quote", "AAAA");
    assert_int_not_equal(client_verify_quote_data(d, NULL, 0, &pol, false, &c, &err), 0);
    json_decref(d);
    /* TEE mismatch between policy and evidence */
    struct tee_package tdx = {.tee = ATTEST_TDX};
    d = json_pack("{s:s, s:s}", "cert", good, "quote", "AAAA");
    assert_int_equal(client_verify_quote_data(d, NULL, 0, &tdx, false, &c, &err), CAIRN_ERR_POLICY);
    assert_non_null(strstr(err.msg, "tdx"));
    json_decref(d);

    /* certificate problems, also in insecure mode */
    char *mixed = pem2(inter2, root); /* intermediate of another root */
    d = json_pack("{s:s}", "cert", mixed);
    assert_int_equal(client_verify_quote_data(d, NULL, 0, NULL, true, &c, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "intermediate"));
    json_decref(d);
    char *swapped = pem2(root, inter); /* root must come last */
    d = json_pack("{s:s}", "cert", swapped);
    assert_int_equal(client_verify_quote_data(d, NULL, 0, NULL, true, &c, &err), CAIRN_ERR_VERIFY);
    json_decref(d);
    char *three = NULL;
    assert_true(asprintf(&three, "%s%s", good, rp) > 0);
    d = json_pack("{s:s}", "cert", three);
    assert_int_equal(client_verify_quote_data(d, NULL, 0, NULL, true, &c, &err), CAIRN_ERR_PROTOCOL);
    json_decref(d);
    d = json_pack("{s:s}", "cert", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert_int_not_equal(client_verify_quote_data(d, NULL, 0, NULL, true, &c, &err), 0);
    json_decref(d);
    d = json_pack("{s:i}", "cert", 1);
    assert_int_equal(client_verify_quote_data(d, NULL, 0, NULL, true, &c, &err), CAIRN_ERR_PROTOCOL);
    json_decref(d);
    /* a root alone is accepted (no intermediate) */
    d = json_pack("{s:s}", "cert", rp);
    assert_int_equal(client_verify_quote_data(d, NULL, 0, NULL, true, &c, &err), 0);
    assert_string_equal(c.intermediate_pem, "");
    cairn_coordinator_certs_free(&c);
    json_decref(d);

    free(three);
    free(swapped);
    free(mixed);
    free(b64);
    free(der);
    free(rp);
    free(ip);
    free(good);
    X509_free(root);
    X509_free(inter);
    X509_free(root2);
    X509_free(inter2);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(rk2);
}

static void test_policy_parse(void **state)
{
    (void)state;
    struct tee_package p = {0};
    struct cairn_error err = {0};
    const char *sgx = "{\"SignerID\":\"0101010101010101010101010101010101010101010101010101010101010101\","
                      "\"ProductID\":3,\"SecurityVersion\":2,\"Nonce\":null,\"InsecureSkipVerify\":false}";
    assert_int_equal(client_policy_parse(sgx, strlen(sgx), &p, &err), 0);
    assert_int_equal(p.tee, ATTEST_SGX);
    assert_true(p.has_product_id);
    assert_int_equal(p.product_id, 3);
    assert_true(p.has_security_version);
    assert_int_equal(p.security_version, 2);
    assert_non_null(p.signer_id);
    tee_package_free(&p);

    const char *bad_json = "{\"SignerID\":";
    assert_int_equal(client_policy_parse(bad_json, strlen(bad_json), &p, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "coordinator policy"));
    assert_int_equal(client_policy_parse("[1]", 3, &p, &err), CAIRN_ERR_INVALID);
    /* MarbleRun's identity rules: a SignerID policy needs ProductID and SecurityVersion */
    const char *partial = "{\"SignerID\":\"0101010101010101010101010101010101010101010101010101010101010101\"}";
    assert_int_not_equal(client_policy_parse(partial, strlen(partial), &p, &err), 0);
    assert_non_null(strstr(err.msg, "coordinator policy"));
    const char *wrongtype = "{\"ProductID\":\"three\"}";
    assert_int_not_equal(client_policy_parse(wrongtype, strlen(wrongtype), &p, &err), 0);
}

static void test_uuid(void **state)
{
    (void)state;
    char u[37], v[37];
    assert_int_equal(cairn_uuid_generate(u), 0);
    assert_int_equal(cairn_uuid_generate(v), 0);
    assert_int_equal(cairn_uuid_check(u), 0);
    assert_string_not_equal(u, v);
    assert_int_equal(u[14], '4');
    assert_true(strchr("89ab", u[19]) != NULL);
    assert_int_equal(cairn_uuid_check("00000000-0000-0000-0000-00000000000"), CAIRN_ERR_INVALID);
    assert_int_equal(cairn_uuid_check("00000000-0000-0000-0000-00000000000g"), CAIRN_ERR_INVALID);
    assert_int_equal(cairn_uuid_check("00000000+0000-0000-0000-000000000000"), CAIRN_ERR_INVALID);
    assert_int_equal(cairn_uuid_check(NULL), CAIRN_ERR_INVALID);
    assert_int_equal(cairn_uuid_check("AAAAAAAA-0000-0000-0000-000000000000"), 0);
}

static void test_client_api_guards(void **state)
{
    (void)state;
    struct cairn_client *c = NULL;
    struct cairn_client_config bad = {.address = "http://x:1"};
    assert_int_equal(cairn_client_new(&bad, &c), CAIRN_ERR_INVALID);
    struct cairn_client_config half = {.address = "x:1", .client_cert_pem = "x"};
    assert_int_equal(cairn_client_new(&half, &c), CAIRN_ERR_INVALID);
    /* no trust configured: every endpoint refuses before touching the network */
    struct cairn_client_config cfg = {.address = "127.0.0.1:1"};
    assert_int_equal(cairn_client_new(&cfg, &c), 0);
    int code;
    char *msg = NULL;
    assert_int_equal(cairn_status_get(c, &code, &msg), CAIRN_ERR_STATE);
    assert_non_null(strstr(cairn_client_last_error(c), "not verified"));
    assert_int_equal(cairn_client_set_root_ca(c, "garbage"), CAIRN_ERR_INVALID);
    /* verify without a policy and without insecure is refused */
    struct cairn_verify_config vc = {0};
    struct cairn_coordinator_certs certs;
    assert_int_equal(cairn_coordinator_verify(c, &vc, &certs), CAIRN_ERR_INVALID);
    assert_non_null(strstr(cairn_client_last_error(c), "policy"));
    cairn_client_free(c);
    /* insecure: an unreachable port is a network error naming the address */
    struct cairn_client_config ins = {.address = "127.0.0.1:1", .insecure = 1, .timeout_ms = 2000};
    assert_int_equal(cairn_client_new(&ins, &c), 0);
    assert_int_equal(cairn_status_get(c, &code, &msg), CAIRN_ERR_NETWORK);
    assert_non_null(strstr(cairn_client_last_error(c), "127.0.0.1:1"));
    assert_int_equal(cairn_client_last_http_status(c), 0);
    /* the combined call fails the same way and leaves its outputs alone */
    struct cairn_replication r = {.replicated = 7};
    code = 42;
    assert_int_equal(cairn_status_get_all(c, &code, &msg, &r), CAIRN_ERR_NETWORK);
    assert_int_equal(code, 42);
    assert_null(msg);
    assert_int_equal(r.replicated, 7);
    cairn_client_free(c);
}

/* The marble's self-signed certificate and CSR (inventory §3.1). */
static void test_marble_identity(void **state)
{
    (void)state;
    const char *names[] = {"svc.example", "10.1.2.3", "", "fe80::1", "localhost"};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    X509_REQ *csr = NULL;
    assert_int_equal(client_marble_identity(names, 5, &key, &cert, &csr, NULL), 0);
    /* P-384 */
    char group[32] = "";
    size_t gl = 0;
    assert_int_equal(EVP_PKEY_get_group_name(key, group, sizeof(group), &gl), 1);
    assert_string_equal(group, "secp384r1");
    /* self-signed with that key, CN "MarbleRun Marble" */
    assert_int_equal(X509_verify(cert, key), 1);
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
    assert_string_equal(cn, "MarbleRun Marble");
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)), 0);
    /* SANs: the DNS names, the IP literals, and the loopback addresses */
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    assert_non_null(sans);
    int n_dns = 0, n_ip = 0;
    bool has_v4 = false, has_lo4 = false, has_lo6 = false, has_fe80 = false;
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type == GEN_DNS) {
            n_dns++;
        } else if (g->type == GEN_IPADD) {
            n_ip++;
            const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
            int l = ASN1_STRING_length(g->d.iPAddress);
            if (l == 4 && memcmp(a, "\x0a\x01\x02\x03", 4) == 0) has_v4 = true;
            if (l == 4 && memcmp(a, "\x7f\x00\x00\x01", 4) == 0) has_lo4 = true;
            if (l == 16 && a[15] == 1 && a[0] == 0) has_lo6 = true;
            if (l == 16 && a[0] == 0xfe && a[1] == 0x80) has_fe80 = true;
        }
    }
    GENERAL_NAMES_free(sans);
    assert_int_equal(n_dns, 2);
    assert_int_equal(n_ip, 4);
    assert_true(has_v4 && has_lo4 && has_lo6 && has_fe80);
    /* KU DigitalSignature|KeyAgreement, EKU serverAuth+clientAuth, not a CA */
    uint32_t ku = X509_get_key_usage(cert);
    assert_true(ku & KU_DIGITAL_SIGNATURE);
    assert_true(ku & KU_KEY_AGREEMENT);
    assert_false(ku & KU_KEY_CERT_SIGN);
    uint32_t xku = X509_get_extended_key_usage(cert);
    assert_true((xku & XKU_SSL_SERVER) && (xku & XKU_SSL_CLIENT));
    assert_int_equal(X509_check_ca(cert), 0);
    /* valid for about 292 years (Go's MaxInt64 ns) */
    int days = 0, secs = 0;
    assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)), 1);
    assert_true(days > 290 * 365 && days < 293 * 366);
    /* the CSR: same key, signed, no subject, same SANs */
    assert_int_equal(X509_REQ_verify(csr, key), 1);
    assert_int_equal(X509_NAME_entry_count(X509_REQ_get_subject_name(csr)), 0);
    char **d = NULL, **ip = NULL;
    size_t nd = 0, ni = 0;
    assert_int_equal(cc_csr_get_sans(csr, &d, &nd, &ip, &ni), 0);
    assert_int_equal(nd, 2);
    assert_int_equal(ni, 4);
    for (size_t i = 0; i < nd; i++)
        free(d[i]);
    for (size_t i = 0; i < ni; i++)
        free(ip[i]);
    free(d);
    free(ip);
    /* fresh keys every time */
    EVP_PKEY *key2 = NULL;
    X509 *cert2 = NULL;
    X509_REQ *csr2 = NULL;
    assert_int_equal(client_marble_identity(NULL, 0, &key2, &cert2, &csr2, NULL), 0);
    assert_false(cc_pubkey_equal(key, key2));
    EVP_PKEY_free(key);
    EVP_PKEY_free(key2);
    X509_free(cert);
    X509_free(cert2);
    X509_REQ_free(csr);
    X509_REQ_free(csr2);
    /* too many names */
    const char *many[65];
    for (int i = 0; i < 65; i++)
        many[i] = "x";
    struct cairn_error err = {0};
    assert_int_equal(client_marble_identity(many, 65, &key, &cert, &csr, &err), CAIRN_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsend_success),   cmocka_unit_test(test_jsend_errors),
        cmocka_unit_test(test_jsend_mutations), cmocka_unit_test(test_base_url),
        cmocka_unit_test(test_activation_parse), cmocka_unit_test(test_verify_quote_data),
        cmocka_unit_test(test_policy_parse),    cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_client_api_guards), cmocka_unit_test(test_marble_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
