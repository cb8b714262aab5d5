/* manifest_yaml_to_json(): YAML 1.2 core scalar typing, structure, a YAML
 * manifest equal to its JSON form, refusals (aliases, several documents,
 * duplicate keys, complex keys, depth, unsupported tags), and mutations. */
#include "test_util.h"

#include "common/file.h"
#include "crypto/crypto.h"

static void yaml_ok(const char *yaml, const char *want)
{
    char *json = NULL;
    struct cairn_error e = {0};
    if (manifest_yaml_to_json(yaml, strlen(yaml), &json, &e) != 0)
        fail_msg("yaml \"%s\" failed: %s", yaml, e.msg);
    if (strcmp(json, want) != 0)
        fail_msg("yaml \"%s\": got %s, want %s", yaml, json, want);
    free(json);
}

static void yaml_fails(const char *yaml, const char *needle)
{
    char *json = (char *)0x1;
    struct cairn_error e = {0};
    if (manifest_yaml_to_json(yaml, strlen(yaml), &json, &e) == 0)
        fail_msg("yaml \"%s\" unexpectedly converted", yaml);
    assert_ptr_equal(json, (char *)0x1);
    if (strstr(e.msg, needle) == NULL)
        fail_msg("yaml \"%s\": message \"%s\" lacks \"%s\"", yaml, e.msg, needle);
}

static void test_scalars(void **state)
{
    (void)state;
    yaml_ok("a: ~\nb: null\nc:\nd: Null", "{\"a\":null,\"b\":null,\"c\":null,\"d\":null}");
    yaml_ok("[true, True, TRUE, false, FALSE]", "[true,true,true,false,false]");
    yaml_ok("[10, -3, +4, 0o17, 0xff, 0]", "[10,-3,4,15,255,0]");
    yaml_ok("[1.5, -0.25, 1e3, .5]", "[1.5,-0.25,1000.0,0.5]");
    /* YAML 1.2: yes/no/on/off and 017 are not booleans / octals */
    yaml_ok("[yes, no, on, off, 017, 1_000, 0b1]", "[\"yes\",\"no\",\"on\",\"off\",17,\"1_000\",\"0b1\"]");
    yaml_ok("['123', \"true\", !!str 42, !!int 7, plain text]", "[\"123\",\"true\",\"42\",7,\"plain text\"]");
    yaml_ok("k: |\n  line1\n  line2\n", "{\"k\":\"line1\\nline2\\n\"}");
    yaml_ok("k: >-\n  folded\n  text\n", "{\"k\":\"folded text\"}");
    yaml_ok("v: \"x\\0y\"", "{\"v\":\"x\\u0000y\"}");
    yaml_fails("\"a\\0b\": 1", "mapping key contains NUL");
}

static void test_structure(void **state)
{
    (void)state;
    yaml_ok("", "null");
    yaml_ok("# only a comment\n", "null");
    yaml_ok("---\na: 1\n...\n", "{\"a\":1}");
    yaml_ok("a:\n  b:\n    - x\n    - {c: 1, d: [2, 3]}\n", "{\"a\":{\"b\":[\"x\",{\"c\":1,\"d\":[2,3]}]}}");
    yaml_ok("1: one\ntrue: t\n~: n\n", "{\"1\":\"one\",\"true\":\"t\",\"null\":\"n\"}");
    yaml_ok("{}", "{}");
    yaml_ok("[]", "[]");
    yaml_ok("b: 1\na: 2\n", "{\"b\":1,\"a\":2}"); /* document order kept */
}

static void test_refusals(void **state)
{
    (void)state;
    yaml_fails("a: &x 1\nb: *x\n", "yaml: line 2: aliases are not supported");
    yaml_fails("a: 1\n---\nb: 2\n", "only one document is supported");
    yaml_fails("a: 1\na: 2\n", "yaml: line 2: duplicate key \"a\"");
    yaml_fails("? [a, b]\n: c\n", "mapping keys must be scalars");
    yaml_fails("? {a: 1}\n: c\n", "mapping keys must be scalars");
    yaml_fails("a: [1, 2\n", "yaml: line");
    yaml_fails("a: b: c\n", "yaml: line 1");
    yaml_fails("x: .inf\n", "cannot be represented in JSON");
    yaml_fails("x: .nan\n", "cannot be represented in JSON");
    yaml_fails("x: 99999999999999999999\n", "integer 99999999999999999999 is out of range");
    yaml_fails("x: !custom 1\n", "unsupported tag !custom");
    yaml_fails("x: !!set {a: null}\n", "unsupported tag");
    char deep[400];
    size_t o = 0;
    for (int i = 0; i < 70; i++)
        deep[o++] = '[';
    for (int i = 0; i < 70; i++)
        deep[o++] = ']';
    deep[o] = 0;
    yaml_fails(deep, "nested deeper than 64");
    char *big = malloc(MANIFEST_MAX_SIZE + 2);
    memset(big, ' ', MANIFEST_MAX_SIZE + 1);
    big[MANIFEST_MAX_SIZE + 1] = 0;
    yaml_fails(big, "exceed the limit");
    free(big);
}

static const char *YAML_MANIFEST =
    "Packages:\n"
    "  backend:\n"
    "    SignerID: 1f1e1d1c\n"
    "    ProductID: 44\n"
    "    SecurityVersion: 3\n"
    "  web:\n"
    "    TEE: tdx\n"
    "    MRTD: \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f\"\n"
    "    RTMR:\n"
    "      \"1\": \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f\"\n"
    "Marbles:\n"
    "  backend:\n"
    "    Package: backend\n"
    "    MaxActivations: 2\n"
    "    Parameters:\n"
    "      Files:\n"
    "        /tmp/key: \"{{ hex .Secrets.key }}\"\n"
    "        /tmp/raw:\n"
    "          Data: aGVsbG8=\n"
    "          Encoding: base64\n"
    "      Env:\n"
    "        PORT: \"8080\"\n"
    "      Argv: [./app, serve]\n"
    "  web:\n"
    "    Package: web\n"
    "Secrets:\n"
    "  key:\n"
    "    Type: symmetric-key\n"
    "    Size: 128\n"
    "Config:\n"
    "  FeatureGates: [MonotonicCounter]\n";

static void test_yaml_manifest(void **state)
{
    (void)state;
    char *json = NULL;
    struct cairn_error e = {0};
    assert_int_equal(manifest_yaml_to_json(YAML_MANIFEST, strlen(YAML_MANIFEST), &json, &e), 0);
    struct manifest *m = parse_ok(json);
    assert_int_equal(manifest_check(m, &e), 0);
    assert_int_equal(manifest_dry_run(m, NULL, &e), 0);
    const struct manifest_marble *b = manifest_find_marble(m, "backend");
    assert_int_equal(b->max_activations, 2);
    assert_string_equal((char *)b->files[1].data, "hello");
    assert_string_equal((char *)b->env[0].data, "8080");
    assert_string_equal(b->argv[1], "serve");
    assert_int_equal(manifest_find_package(m, "backend")->pkg.product_id, 44);
    assert_non_null(manifest_find_package(m, "web")->pkg.rtmr[1]);
    assert_string_equal(m->config.feature_gates[0], "MonotonicCounter");
    manifest_free(m);
    free(json);
    /* an unquoted number where a string is expected is typed as a number: the
     * manifest parser then names the field */
    const char *y = "Marbles:\n  m:\n    Package: 12\n";
    assert_int_equal(manifest_yaml_to_json(y, strlen(y), &json, &e), 0);
    struct manifest *bad = NULL;
    assert_int_equal(manifest_parse((uint8_t *)json, strlen(json), &bad, &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "Marbles.m.Package: expected a string, got number");
    free(json);
}

/* Reads a data file and replaces "@AKROOT@" with a generated PEM certificate
 * (newlines written as \n, valid in JSON and in YAML double quotes). */
static char *load_data(const char *name)
{
    const char *dir = getenv("CAIRN_TEST_DATA_DIR");
    char path[1024];
    uint8_t *raw = NULL;
    size_t len = 0;
    if (dir == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s/manifests/%s", dir, name);
    if (cairn_file_read(path, MANIFEST_MAX_SIZE, &raw, &len) != 0)
        return NULL;
    static char pem_esc[4096];
    if (pem_esc[0] == 0) {
        EVP_PKEY *k = NULL;
        X509 *x = NULL;
        char *pem = NULL;
        size_t n = 0, o = 0;
        struct cc_cert_template t = {.subject = {.common_name = "AK root"}, .is_ca = true, .max_path_len = -1};
        assert_int_equal(cc_key_generate(CC_KEY_EC_P256, 0, &k, NULL), 0);
        assert_int_equal(cc_cert_issue(&t, k, NULL, k, &x, NULL), 0);
        assert_int_equal(cc_cert_to_pem(x, &pem, &n), 0);
        for (size_t i = 0; i < n && o + 3 < sizeof(pem_esc); i++) {
            if (pem[i] == '\n') {
                pem_esc[o++] = '\\';
                pem_esc[o++] = 'n';
            } else {
                pem_esc[o++] = pem[i];
            }
        }
        pem_esc[o] = 0;
        free(pem);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    char *at = strstr((char *)raw, "@AKROOT@");
    assert_non_null(at);
    size_t total = len + strlen(pem_esc) + 1;
    char *out = malloc(total);
    snprintf(out, total, "%.*s%s%s", (int)(at - (char *)raw), (char *)raw, pem_esc, at + 8);
    free(raw);
    return out;
}

/* tests/data/manifests: the YAML and the JSON form are the same document, and
 * the manifest (every TEE of the extension) passes the full validation. */
static void test_data_pair(void **state)
{
    (void)state;
    char *js = load_data("tee-extension.json"), *ys = load_data("tee-extension.yaml");
    if (js == NULL || ys == NULL) {
        free(js);
        free(ys);
        print_message("SKIP: $CAIRN_TEST_DATA_DIR/manifests is absent\n");
        skip();
    }
    char *conv = NULL;
    struct cairn_error e = {0};
    assert_int_equal(manifest_yaml_to_json(ys, strlen(ys), &conv, &e), 0);
    json_t *a = json_loads(js, 0, NULL), *b = json_loads(conv, 0, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    struct manifest *m = parse_ok(conv);
    assert_int_equal(manifest_validate(m, &e), 0);
    assert_int_equal(manifest_find_package(m, "web")->pkg.tee, ATTEST_TDX);
    assert_int_equal(manifest_find_package(m, "db")->pkg.minimum_tcb.microcode, 115);
    assert_int_equal(manifest_find_package(m, "node")->pkg.pcrs[0].index, 11);
    manifest_free(m);
    free(conv);
    free(js);
    free(ys);
}

static void test_mutations(void **state)
{
    (void)state;
    size_t n = strlen(YAML_MANIFEST), ok = 0, failed = 0;
    char *buf = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 2) {
            memcpy(buf, YAML_MANIFEST, n + 1);
            buf[i] ^= (char)(1 << bit);
            char *json = NULL;
            struct cairn_error e = {0};
            if (manifest_yaml_to_json(buf, n, &json, &e) == 0) {
                ok++;
                free(json);
            } else {
                failed++;
                assert_null(json);
            }
        }
    }
    free(buf);
    assert_true(ok > 100);
    assert_true(failed > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_yaml_manifest),
        cmocka_unit_test(test_data_pair),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
