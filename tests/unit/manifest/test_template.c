/* Templates: every function x every reference kind, index and pipelines,
 * trimming, comments, every error of inventory §1.5, unsupported syntax, the
 * per-marble render and the dry run. */
#include "test_util.h"

/* ---- fixture ---------------------------------------------------------------- */

static struct manifest_secret_set *g_cur, *g_prev;
static struct manifest_secret_value g_root, g_marble, g_croot, g_cinter;
static struct manifest_template_data g_data;

static void put(struct manifest_secret_set *s, const char *name, enum manifest_secret_type t, const char *cert,
                size_t cert_len, const char *pub, size_t pub_len, const char *priv, size_t priv_len)
{
    struct manifest_secret_value v = {
        .name = (char *)name,
        .type = t,
        .cert = (uint8_t *)cert,
        .cert_len = cert_len,
        .public_key = (uint8_t *)pub,
        .public_len = pub_len,
        .private_key = (uint8_t *)priv,
        .private_len = priv_len,
    };
    assert_int_equal(manifest_secret_set_put(s, &v), 0);
}

static int setup(void **state)
{
    (void)state;
    g_cur = manifest_secret_set_new();
    g_prev = manifest_secret_set_new();
    put(g_cur, "sym", MANIFEST_SECRET_SYMMETRIC_KEY, NULL, 0, "\x01\x02\xab", 3, "\x01\x02\xab", 3);
    put(g_cur, "cert", MANIFEST_SECRET_CERT_ECDSA, "CERTDER", 7, "PUB", 3, "PRIV", 4);
    put(g_cur, "plain", MANIFEST_SECRET_PLAIN, NULL, 0, "hello world", 11, "hello world", 11);
    put(g_cur, "plainnul", MANIFEST_SECRET_PLAIN, NULL, 0, "a\0b", 3, "a\0b", 3);
    put(g_cur, "empty", MANIFEST_SECRET_SYMMETRIC_KEY, NULL, 0, NULL, 0, NULL, 0);
    put(g_cur, "with-dash", MANIFEST_SECRET_SYMMETRIC_KEY, NULL, 0, "\xff", 1, "\xff", 1);
    put(g_prev, "sym", MANIFEST_SECRET_SYMMETRIC_KEY, NULL, 0, "\x09", 1, "\x09", 1);
    g_root = (struct manifest_secret_value){.cert = (uint8_t *)"ROOTCA", .cert_len = 6};
    g_marble = (struct manifest_secret_value){.cert = (uint8_t *)"LEAF", .cert_len = 4,
                                              .public_key = (uint8_t *)"LPUB", .public_len = 4,
                                              .private_key = (uint8_t *)"LPRIV", .private_len = 5};
    g_croot = (struct manifest_secret_value){.cert = (uint8_t *)"CROOT", .cert_len = 5};
    g_cinter = (struct manifest_secret_value){.cert = (uint8_t *)"CINTER", .cert_len = 6};
    g_data = (struct manifest_template_data){.secrets = g_cur, .previous = g_prev, .root_ca = &g_root,
                                             .marble_cert = &g_marble, .coordinator_root = &g_croot,
                                             .coordinator_intermediate = &g_cinter};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    manifest_secret_set_free(g_cur);
    manifest_secret_set_free(g_prev);
    return 0;
}

static void render_ok(enum manifest_template_target t, const char *tmpl, size_t tlen, const char *want, size_t wlen)
{
    uint8_t *out = NULL;
    size_t n = 0;
    struct cairn_error e = {0};
    if (manifest_template_render((const uint8_t *)tmpl, tlen, t, &g_data, &out, &n, &e) != 0)
        fail_msg("render \"%s\" failed: %s", tmpl, e.msg);
    if (n != wlen || memcmp(out, want, wlen) != 0)
        fail_msg("render \"%s\": got \"%.*s\" (%zu bytes), want \"%.*s\"", tmpl, (int)n, out, n, (int)wlen, want);
    assert_int_equal(out[n], 0);
    free(out);
}

#define OK_FILE(t, w) render_ok(MANIFEST_TEMPLATE_FILE, t, strlen(t), w, sizeof(w) - 1)
#define OK_ENV(t, w) render_ok(MANIFEST_TEMPLATE_ENV, t, strlen(t), w, sizeof(w) - 1)

static void render_fails(enum manifest_template_target t, const char *tmpl, size_t tlen, const char *needle)
{
    uint8_t *out = (uint8_t *)0x1;
    size_t n = 77;
    struct cairn_error e = {0};
    if (manifest_template_render((const uint8_t *)tmpl, tlen, t, &g_data, &out, &n, &e) == 0)
        fail_msg("render \"%s\" unexpectedly succeeded", tmpl);
    assert_ptr_equal(out, (uint8_t *)0x1);
    assert_int_equal(n, 77);
    if (strstr(e.msg, needle) == NULL)
        fail_msg("render \"%s\": message \"%s\" lacks \"%s\"", tmpl, e.msg, needle);
}

#define BAD_FILE(t, m) render_fails(MANIFEST_TEMPLATE_FILE, t, strlen(t), m)
#define BAD_ENV(t, m) render_fails(MANIFEST_TEMPLATE_ENV, t, strlen(t), m)

/* ---- functions x references ------------------------------------------------------ */

static void test_secret_refs(void **state)
{
    (void)state;
    /* a whole secret: raw/hex/base64 use its Public bytes */
    OK_FILE("{{ raw .Secrets.sym }}", "\x01\x02\xab");
    OK_FILE("{{ hex .Secrets.sym }}", "0102ab");
    OK_FILE("{{ base64 .Secrets.sym }}", "AQKr");
    OK_ENV("{{ hex .Secrets.sym }}", "0102ab");
    OK_ENV("{{ base64 .Secrets.sym }}", "AQKr");
    OK_FILE("{{ raw .Secrets.cert }}", "PUB");
    /* parts */
    OK_FILE("{{ raw .Secrets.cert.Cert }}", "CERTDER");
    OK_FILE("{{ raw .Secrets.cert.Public }}", "PUB");
    OK_FILE("{{ raw .Secrets.cert.Private }}", "PRIV");
    OK_FILE("{{ hex .Secrets.cert.Cert }}", "43455254444552");
    OK_FILE("{{ hex .Secrets.cert.Private }}", "50524956");
    OK_ENV("{{ base64 .Secrets.cert.Public }}", "UFVC");
    OK_FILE("{{ pem .Secrets.cert.Cert }}", "-----BEGIN CERTIFICATE-----\nQ0VSVERFUg==\n-----END CERTIFICATE-----\n");
    OK_ENV("{{ pem .Secrets.cert.Public }}", "-----BEGIN PUBLIC KEY-----\nUFVC\n-----END PUBLIC KEY-----\n");
    OK_FILE("{{ pem .Secrets.cert.Private }}", "-----BEGIN PRIVATE KEY-----\nUFJJVg==\n-----END PRIVATE KEY-----\n");
    OK_FILE("{{ pem .Secrets.sym.Private }}", "-----BEGIN PRIVATE KEY-----\nAQKr\n-----END PRIVATE KEY-----\n");
    /* string: plain secrets in Env */
    OK_ENV("{{ string .Secrets.plain }}", "hello world");
    OK_ENV("X={{string .Secrets.plain}};", "X=hello world;");
    /* previous secrets */
    OK_FILE("{{ hex .Previous.Secrets.sym }}", "09");
    OK_FILE("{{ raw .Previous.Secrets.sym.Private }}", "\x09");
    OK_ENV("{{ base64 .Previous.Secrets.sym.Public }}", "CQ==");
}

static void test_reserved_refs(void **state)
{
    (void)state;
    OK_FILE("{{ raw .MarbleRun.RootCA.Cert }}", "ROOTCA");
    OK_FILE("{{ pem .MarbleRun.RootCA.Cert }}", "-----BEGIN CERTIFICATE-----\nUk9PVENB\n-----END CERTIFICATE-----\n");
    OK_FILE("{{ hex .MarbleRun.MarbleCert.Cert }}", "4c454146");
    OK_FILE("{{ raw .MarbleRun.MarbleCert.Public }}", "LPUB");
    OK_ENV("{{ pem .MarbleRun.MarbleCert.Private }}", "-----BEGIN PRIVATE KEY-----\nTFBSSVY=\n-----END PRIVATE KEY-----\n");
    OK_ENV("{{ base64 .MarbleRun.CoordinatorRoot.Cert }}", "Q1JPT1Q=");
    OK_FILE("{{ raw .MarbleRun.CoordinatorIntermediate.Cert }}", "CINTER");
    /* parts MarbleRun leaves empty */
    BAD_FILE("{{ pem .MarbleRun.RootCA.Private }}", "tried to parse secret with empty value");
    BAD_FILE("{{ pem .MarbleRun.RootCA.Public }}", "tried to parse secret with empty value");
    BAD_ENV("{{ pem .MarbleRun.CoordinatorRoot.Private }}", "tried to parse secret with empty value");
    BAD_ENV("{{ hex .MarbleRun.CoordinatorRoot.Public }}", "tried to parse secret with empty value");
    BAD_FILE("{{ raw .MarbleRun.CoordinatorIntermediate.Private }}", "tried to parse secret with empty value");
    BAD_FILE("{{ base64 .MarbleRun.CoordinatorIntermediate.Public }}", "tried to parse secret with empty value");
    BAD_FILE("{{ raw .MarbleRun.RootCA }}", "tried to parse secret with empty value");
    BAD_FILE("{{ pem .MarbleRun.MarbleCert }}", "invalid secret type for pem encoding");
    BAD_FILE("{{ pem .MarbleRun.Nope.Cert }}", ".MarbleRun has no field Nope");
    BAD_FILE("{{ pem .MarbleRun }}", ".MarbleRun needs one of");
    /* a NULL reserved value is an empty secret */
    struct manifest_template_data d = g_data;
    d.coordinator_root = NULL;
    uint8_t *out;
    size_t n;
    struct cairn_error e = {0};
    assert_int_equal(manifest_template_render((const uint8_t *)"{{ pem .MarbleRun.CoordinatorRoot.Cert }}", 41,
                                              MANIFEST_TEMPLATE_FILE, &d, &out, &n, &e), CAIRN_ERR_INVALID);
    assert_non_null(strstr(e.msg, "tried to parse secret with empty value"));
}

static void test_index_and_pipelines(void **state)
{
    (void)state;
    OK_FILE("{{ hex (index .Secrets \"with-dash\") }}", "ff");
    OK_FILE("{{ index .Secrets \"with-dash\" | hex }}", "ff");
    OK_ENV("{{ index .Secrets `with-dash` | base64 }}", "/w==");
    OK_FILE("{{ pem (index .Secrets \"cert\").Cert }}", "-----BEGIN CERTIFICATE-----\nQ0VSVERFUg==\n-----END CERTIFICATE-----\n");
    OK_FILE("{{ raw (index .Secrets \"cert\").Private }}", "PRIV");
    OK_FILE("{{ hex (index .Previous.Secrets \"sym\") }}", "09");
    OK_FILE("{{ .Secrets.sym | hex }}", "0102ab");
    OK_FILE("{{ .Secrets.cert.Cert | pem }}", "-----BEGIN CERTIFICATE-----\nQ0VSVERFUg==\n-----END CERTIFICATE-----\n");
    OK_ENV("{{ .Secrets.plain | string }}", "hello world");
    OK_FILE("{{ (.Secrets.sym) | raw }}", "\x01\x02\xab");
    BAD_FILE("{{ hex (index .Secrets \"nope\") }}", "secret \"nope\" does not exist");
    BAD_FILE("{{ index .Secrets }}", "index needs a map and a name");
    BAD_FILE("{{ index .Secrets \"a\" \"b\" }}", "index with more than one key is not supported");
    BAD_FILE("{{ index .Secrets.sym \"a\" }}", "index of a secret is not supported");
    BAD_FILE("{{ hex .Secrets.sym | pem }}", "invalid secret type for pem encoding (got a string)");
    BAD_FILE("{{ hex .Secrets.sym | raw }}", "invalid secret type (got a string)");
    BAD_FILE("{{ .Secrets.sym | .Secrets.sym }}", "a pipeline can only continue with a function");
}

static void test_text_trim_comments(void **state)
{
    (void)state;
    OK_FILE("no templates here } {", "no templates here } {");
    OK_FILE("", "");
    OK_FILE("a{{ hex .Secrets.sym }}b{{hex .Previous.Secrets.sym}}", "a0102abb09");
    BAD_FILE("{{ hex .Secrets.with-dash }}", "unexpected \"-\"");
    OK_FILE("key: {{ base64 .Secrets.sym }}\nend\n", "key: AQKr\nend\n");
    OK_FILE("a  \n\t{{- hex .Secrets.sym -}}  \n b", "a0102abb");
    OK_FILE("a {{- hex .Secrets.sym }} b", "a0102ab b");
    OK_FILE("a {{ hex .Secrets.sym -}} b", "a 0102abb");
    OK_FILE("x{{/* a comment with }} inside */}}y", "xy");
    OK_FILE("x {{- /* trimmed */ -}} y", "xy");
    OK_FILE("{{ \"{{\" }}literal{{ `}}` }}", "{{literal}}");
    OK_FILE("{{ \"a\\\"b\\n\" }}", "a\"b\n");
    BAD_FILE("{{-3}}", "unexpected \"-\"");
}

static void test_pem_wrapping(void **state)
{
    (void)state;
    char big[100];
    memset(big, 'A', sizeof(big));
    struct manifest_secret_set *s = manifest_secret_set_new();
    put(s, "big", MANIFEST_SECRET_CERT_RSA, big, sizeof(big), "p", 1, "q", 1);
    struct manifest_template_data d = {.secrets = s};
    uint8_t *out;
    size_t n;
    struct cairn_error e = {0};
    const char *t = "{{ pem .Secrets.big.Cert }}";
    assert_int_equal(manifest_template_render((const uint8_t *)t, strlen(t), MANIFEST_TEMPLATE_FILE, &d, &out, &n, &e), 0);
    /* 100 bytes -> 136 base64 chars -> lines of 64, 64, 8 (as Go's pem.Encode) */
    const char *want = "-----BEGIN CERTIFICATE-----\n"
                       "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
                       "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
                       "QUFBQQ==\n"
                       "-----END CERTIFICATE-----\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    free(out);
    manifest_secret_set_free(s);
}

/* ---- errors of inventory §1.5 and unsupported syntax ---------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    /* missing secrets, for every function */
    BAD_FILE("{{ raw .Secrets.nope }}", "template {{ raw .Secrets.nope }}: secret \"nope\" does not exist");
    BAD_FILE("{{ hex .Secrets.nope.Private }}", "secret \"nope\" does not exist");
    BAD_ENV("{{ base64 .Secrets.nope }}", "secret \"nope\" does not exist");
    BAD_ENV("{{ pem .Secrets.nope.Cert }}", "secret \"nope\" does not exist");
    BAD_ENV("{{ string .Secrets.nope }}", "secret \"nope\" does not exist");
    BAD_FILE("{{ pem .Previous.Secrets.cert.Cert }}", "secret \"cert\" does not exist");
    /* pem needs a part */
    BAD_FILE("{{ pem .Secrets.sym }}", "invalid secret type for pem encoding");
    BAD_ENV("{{ pem .Secrets.cert }}", "invalid secret type for pem encoding");
    /* empty values */
    BAD_FILE("{{ pem .Secrets.sym.Cert }}", "tried to parse secret with empty value");
    BAD_FILE("{{ raw .Secrets.empty }}", "tried to parse secret with empty value");
    BAD_FILE("{{ hex .Secrets.empty.Private }}", "tried to parse secret with empty value");
    BAD_ENV("{{ base64 .Secrets.empty.Public }}", "tried to parse secret with empty value");
    /* raw only in Files, string only in Env */
    BAD_ENV("{{ raw .Secrets.sym }}", "function \"raw\" is only available in Files");
    BAD_FILE("{{ string .Secrets.plain }}", "function \"string\" is only available in Env");
    /* string: plain secrets only, no NUL */
    BAD_ENV("{{ string .Secrets.sym }}", "only secrets of type plain are allowed to use string encoding");
    BAD_ENV("{{ string .Secrets.plain.Public }}", "only secrets of type plain are allowed to use string encoding");
    BAD_ENV("{{ string .Secrets.plainnul }}", "secret contains null bytes");
    /* NUL bytes in Env literals */
    render_fails(MANIFEST_TEMPLATE_ENV, "a\0b", 3, "content contains null bytes");
    render_ok(MANIFEST_TEMPLATE_FILE, "a\0b", 3, "a\0b", 3);
    /* argument counts */
    BAD_FILE("{{ hex }}", "wrong number of args for hex: want 1 got 0");
    BAD_FILE("{{ hex .Secrets.sym .Secrets.sym }}", "wrong number of args for hex: want 1 got 2");
    /* unsupported Go template syntax is an error, never ignored */
    BAD_FILE("{{ if .Secrets.sym }}x{{ end }}", "unsupported template syntax \"if\"");
    BAD_FILE("{{ range .Secrets }}{{ end }}", "unsupported template syntax \"range\"");
    BAD_FILE("{{ printf \"%s\" .Secrets.sym }}", "function \"printf\" not defined");
    BAD_FILE("{{ len .Secrets }}", "function \"len\" not defined");
    BAD_FILE("{{ $x := .Secrets.sym }}", "unexpected \"$\"");
    BAD_FILE("{{ .Secrets.sym }}", "printing a secret directly is not supported");
    BAD_FILE("{{ .Secrets.cert.Cert }}", "printing a certificate directly is not supported");
    BAD_FILE("{{ . }}", "whole data root");
    BAD_FILE("{{ hex .Secrets.sym.Size }}", "field Size of a secret is not supported");
    BAD_FILE("{{ hex .Secrets.cert.Cert.Raw }}", "cannot take field Raw of a certificate");
    BAD_FILE("{{ hex .Secrets.sym.Bogus }}", "a secret has no field Bogus");
    BAD_FILE("{{ hex .Foo.bar }}", "unknown field .Foo");
    BAD_FILE("{{ hex .Previous.Foo }}", ".Previous has only the field .Secrets");
    BAD_FILE("{{ hex .Secrets }}", "invalid secret type (got a map of secrets)");
    BAD_FILE("{{ hex .Secrets.sym", "unclosed action");
    BAD_FILE("{{/* never closed", "unclosed comment");
    BAD_FILE("{{/* c */ x}}", "comment ends before the closing delimiter");
    BAD_FILE("{{ (hex .Secrets.sym }}", "missing closing parenthesis");
    BAD_FILE("{{ }}", "missing value");
    BAD_FILE("{{ \"unterminated }}", "unclosed action");
    BAD_FILE("{{ \"\\q\" }}", "unsupported escape");
    BAD_FILE("{{ ((((((((((.Secrets.sym)))))))))) | hex }}", "parentheses nested too deeply");
    BAD_FILE("{{ hex .Secrets.sym }} then {{ nope }}", "function \"nope\" not defined");
}

/* ---- per-marble render and dry run ------------------------------------------------------ */

static const char *MANIFEST =
    "{\"Packages\":{\"p\":{\"Debug\":true}},"
    "\"Marbles\":{\"m\":{\"Package\":\"p\",\"Parameters\":{"
    "\"Files\":{\"/k\":\"{{ hex .Secrets.sym }}\",\"/raw\":{\"Data\":\"{{ not a template\",\"NoTemplates\":true}},"
    "\"Env\":{\"P\":\"{{ string .Secrets.plain }}\",\"C\":\"{{ pem .MarbleRun.MarbleCert.Cert }}\"},"
    "\"Argv\":[\"./app\",\"{{ hex .Secrets.sym }}\"]}}},"
    "\"Secrets\":{\"sym\":{\"Type\":\"symmetric-key\",\"Size\":24},\"plain\":{\"Type\":\"plain\",\"UserDefined\":true}}}";

static void test_marble_render(void **state)
{
    (void)state;
    struct manifest *m = parse_ok(MANIFEST);
    struct manifest_params *p = NULL;
    struct cairn_error e = {0};
    assert_int_equal(manifest_marble_render(&m->marbles[0], &g_data, &p, &e), 0);
    assert_int_equal(p->n_files, 2);
    assert_string_equal(p->files[0].name, "/k");
    assert_string_equal((char *)p->files[0].data, "0102ab");
    assert_string_equal((char *)p->files[1].data, "{{ not a template");
    assert_int_equal(p->n_env, 2);
    assert_string_equal(p->env[0].name, "C");
    assert_string_equal((char *)p->env[0].data, "-----BEGIN CERTIFICATE-----\nTEVBRg==\n-----END CERTIFICATE-----\n");
    assert_string_equal((char *)p->env[1].data, "hello world");
    assert_int_equal(p->n_argv, 2);
    assert_string_equal(p->argv[1], "{{ hex .Secrets.sym }}"); /* Argv is verbatim */
    manifest_params_free(p);
    /* an error names the marble and the file */
    struct manifest_template_data d = g_data;
    d.secrets = g_prev; /* no "plain" there */
    p = (struct manifest_params *)0x1;
    assert_int_equal(manifest_marble_render(&m->marbles[0], &d, &p, &e), CAIRN_ERR_INVALID);
    assert_ptr_equal(p, (struct manifest_params *)0x1);
    assert_string_equal(e.msg, "in Marble m: env variable P: template {{ string .Secrets.plain }}: secret \"plain\" does "
                               "not exist");
    manifest_free(m);
}

struct dry_case {
    const char *name;
    const char *files;   /* JSON object text for Files */
    const char *env;     /* JSON object text for Env */
    const char *msg;     /* NULL = accepted */
};

static void test_dry_run(void **state)
{
    (void)state;
    static const struct dry_case cases[] = {
        {"valid", "{\"/a\":\"{{ raw .Secrets.k }}{{ pem .Secrets.c.Cert }}{{ pem .Secrets.c.Private }}\"}",
         "{\"A\":\"{{ hex .Secrets.k }}\",\"U\":\"{{ string .Secrets.up }}\",\"S\":\"{{ base64 .Secrets.shared }}\"}", NULL},
        {"previous secrets", "{\"/a\":\"{{ raw .Previous.Secrets.k }}\"}", "{}", NULL},
        {"user-defined cert (dummy 0x41)", "{\"/a\":\"{{ pem .Secrets.ucert.Cert }}{{ raw .Secrets.ucert.Private }}\"}",
         "{}", NULL},
        {"index for a dashed name", "{\"/a\":\"{{ hex (index .Secrets \\\"my-key\\\") }}\"}", "{}", NULL},
        {"reserved parts", "{\"/a\":\"{{ pem .MarbleRun.RootCA.Cert }}{{ pem .MarbleRun.MarbleCert.Private }}"
                          "{{ pem .MarbleRun.CoordinatorRoot.Cert }}{{ pem .MarbleRun.CoordinatorIntermediate.Cert }}\"}",
         "{}", NULL},
        {"NoTemplates skips", "{\"/a\":{\"Data\":\"{{ pem .Secrets.nope }}\",\"NoTemplates\":true}}", "{}", NULL},
        {"missing secret", "{\"/a\":\"{{ pem .Secrets.nope.Cert }}\"}", "{}",
         "in Marble m: file /a: template {{ pem .Secrets.nope.Cert }}: secret \"nope\" does not exist"},
        {"wrong type", "{}", "{\"E\":\"{{ pem .Secrets.k }}\"}",
         "in Marble m: env variable E: template {{ pem .Secrets.k }}: invalid secret type for pem encoding"},
        {"raw in Env", "{}", "{\"E\":\"{{ raw .Secrets.k }}\"}",
         "in Marble m: env variable E: template {{ raw .Secrets.k }}: function \"raw\" is only available in Files"},
        {"null byte in Env", "{}", "{\"E\":\"a\\u0000b\"}", "in Marble m: env variable: E: content contains null bytes"},
        {"null byte in Env without templates", "{}", "{\"E\":{\"Data\":\"a\\u0000b\",\"NoTemplates\":true}}",
         "in Marble m: env variable: E: content contains null bytes"},
        {"reserved root Private", "{\"/a\":\"{{ pem .MarbleRun.RootCA.Private }}\"}", "{}",
         "tried to parse secret with empty value"},
        {"reserved root Public", "{\"/a\":\"{{ pem .MarbleRun.RootCA.Public }}\"}", "{}",
         "tried to parse secret with empty value"},
        {"coordinator root Private", "{}", "{\"E\":\"{{ pem .MarbleRun.CoordinatorRoot.Private }}\"}",
         "tried to parse secret with empty value"},
        {"coordinator root Public", "{}", "{\"E\":\"{{ pem .MarbleRun.CoordinatorRoot.Public }}\"}",
         "tried to parse secret with empty value"},
        {"coordinator intermediate Private", "{\"/a\":\"{{ raw .MarbleRun.CoordinatorIntermediate.Private }}\"}", "{}",
         "tried to parse secret with empty value"},
        {"coordinator intermediate Public", "{\"/a\":\"{{ raw .MarbleRun.CoordinatorIntermediate.Public }}\"}", "{}",
         "tried to parse secret with empty value"},
        {"symmetric key has no Cert", "{\"/a\":\"{{ pem .Secrets.k.Cert }}\"}", "{}",
         "tried to parse secret with empty value"},
        {"string on a generated key", "{}", "{\"E\":\"{{ string .Secrets.k }}\"}",
         "only secrets of type plain are allowed to use string encoding"},
        {"unsupported syntax", "{\"/a\":\"{{ if true }}x{{ end }}\"}", "{}", "unsupported template syntax \"if\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[2048];
        snprintf(json, sizeof(json),
                 "{\"Packages\":{\"p\":{\"Debug\":true}},\"Marbles\":{\"m\":{\"Package\":\"p\",\"Parameters\":{"
                 "\"Files\":%s,\"Env\":%s}}},\"Secrets\":{\"k\":{\"Type\":\"symmetric-key\",\"Size\":128},"
                 "\"my-key\":{\"Type\":\"symmetric-key\",\"Size\":128},"
                 "\"shared\":{\"Type\":\"symmetric-key\",\"Size\":128,\"Shared\":true},"
                 "\"c\":{\"Type\":\"cert-ecdsa\",\"Size\":256},\"up\":{\"Type\":\"plain\",\"UserDefined\":true},"
                 "\"ucert\":{\"Type\":\"cert-rsa\",\"UserDefined\":true}}}",
                 cases[i].files, cases[i].env);
        struct manifest *m = parse_ok(json);
        struct cairn_error e = {0};
        int rc = manifest_dry_run(m, NULL, &e);
        if (cases[i].msg == NULL && rc != 0)
            fail_msg("dry run \"%s\" rejected: %s", cases[i].name, e.msg);
        if (cases[i].msg != NULL && (rc == 0 || strstr(e.msg, cases[i].msg) == NULL))
            fail_msg("dry run \"%s\": got rc %d \"%s\", want \"%s\"", cases[i].name, rc, e.msg, cases[i].msg);
        manifest_free(m);
    }
}

/* Real values given to the dry run take precedence over dummies. */
static void test_dry_run_with_values(void **state)
{
    (void)state;
    struct manifest *m = parse_ok("{\"Packages\":{\"p\":{\"Debug\":true}},\"Marbles\":{\"m\":{\"Package\":\"p\","
                                  "\"Parameters\":{\"Env\":{\"E\":\"{{ string .Secrets.up }}\"}}}},"
                                  "\"Secrets\":{\"up\":{\"Type\":\"plain\",\"UserDefined\":true}}}");
    struct cairn_error e = {0};
    assert_int_equal(manifest_dry_run(m, NULL, &e), 0);
    /* the uploaded value contains NUL: now the same template fails */
    struct manifest_secret_set *s = manifest_secret_set_new();
    put(s, "up", MANIFEST_SECRET_PLAIN, NULL, 0, "x\0y", 3, "x\0y", 3);
    assert_int_equal(manifest_dry_run(m, s, &e), CAIRN_ERR_INVALID);
    assert_non_null(strstr(e.msg, "secret contains null bytes"));
    manifest_secret_set_free(s);
    manifest_free(m);
}

/* Deterministic mutations of a valid template: bit flips and truncations
 * either render or fail with a message, never touching the outputs on failure. */
static void test_mutations(void **state)
{
    (void)state;
    const char *t = "a {{- pem .Secrets.cert.Cert -}} b{{ index .Secrets \"with-dash\" | hex }}"
                    "{{/* c */}}{{ base64 (index .Previous.Secrets \"sym\").Private }}{{ raw .MarbleRun.RootCA.Cert }}";
    size_t n = strlen(t), ok = 0, failed = 0;
    uint8_t *buf = malloc(n);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, t, n);
            buf[i] ^= (uint8_t)(1u << bit);
            for (int target = 0; target < 2; target++) {
                uint8_t *out = (uint8_t *)0x1;
                size_t on = 5;
                struct cairn_error e = {0};
                if (manifest_template_render(buf, n, target ? MANIFEST_TEMPLATE_ENV : MANIFEST_TEMPLATE_FILE, &g_data,
                                             &out, &on, &e) == 0) {
                    ok++;
                    assert_int_equal(out[on], 0);
                    free(out);
                } else {
                    failed++;
                    assert_ptr_equal(out, (uint8_t *)0x1);
                    assert_int_equal(on, 5);
                    assert_true(e.msg[0] != 0);
                }
            }
        }
    }
    for (size_t len = 0; len < n; len++) {
        uint8_t *out = NULL;
        size_t on = 0;
        struct cairn_error e = {0};
        if (manifest_template_render((const uint8_t *)t, len, MANIFEST_TEMPLATE_FILE, &g_data, &out, &on, &e) == 0)
            free(out);
    }
    free(buf);
    assert_true(ok > 100);
    assert_true(failed > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_refs),
        cmocka_unit_test(test_reserved_refs),
        cmocka_unit_test(test_index_and_pipelines),
        cmocka_unit_test(test_text_trim_comments),
        cmocka_unit_test(test_pem_wrapping),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_marble_render),
        cmocka_unit_test(test_dry_run),
        cmocka_unit_test(test_dry_run_with_values),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
