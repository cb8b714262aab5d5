/* manifest_parse(): Go encoding/json semantics, File forms, integer rules,
 * type errors with field paths, the TEE extension fields, caps, and a
 * deterministic mutation loop (bit flips and truncations). */
#include "test_util.h"

#include "attest/attest.h"

static const char *RICH =
    "{\"Packages\":{\"zeta\":{\"UniqueID\":\"aa\",\"Debug\":true},"
    "\"alpha\":{\"SignerID\":\"bb\",\"ProductID\":1,\"SecurityVersion\":2,"
    "\"AcceptedTCBStatuses\":[\"SWHardeningNeeded\"],\"AcceptedAdvisories\":[\"INTEL-SA-00615\"]},"
    "\"td\":{\"TEE\":\"TDX\",\"MRTD\":\"11\",\"RTMR\":{\"0\":\"22\",\"3\":\"33\"},\"MRConfigID\":\"44\"},"
    "\"sev\":{\"TEE\":\"snp\",\"Measurement\":\"55\",\"HostData\":\"66\",\"IDKeyDigest\":\"77\","
    "\"MinimumTCB\":{\"Bootloader\":3,\"TEE\":0,\"SNP\":8,\"Microcode\":115},\"GuestSVN\":9},"
    "\"node\":{\"TEE\":\"tpm\",\"AKRoots\":[\"pem\"],\"PCRs\":{\"sha256\":{\"11\":\"88\",\"0\":\"99\"}}}},"
    "\"Infrastructures\":{\"az\":{\"QESVN\":2,\"PCESVN\":3,\"CPUSVN\":[0,1,255],\"RootCA\":\"AQID\"}},"
    "\"Marbles\":{\"b\":{\"Package\":\"alpha\",\"MaxActivations\":3,\"DisableSecretBinding\":true,"
    "\"Parameters\":{\"Files\":{\"/z\":\"plain\",\"/a\":{\"Data\":\"aGVsbG8=\",\"Encoding\":\"base64\"},"
    "\"/h\":{\"Data\":\"41424300\",\"Encoding\":\"HEX\",\"NoTemplates\":true}},"
    "\"Env\":{\"E\":{\"Data\":\"x\"}},\"Argv\":[\"./app\",\"--x\"]},\"TLS\":[\"web\"]}},"
    "\"Secrets\":{\"k\":{\"Type\":\"symmetric-key\",\"Size\":128,\"Shared\":true},"
    "\"c\":{\"Type\":\"cert-ecdsa\",\"Size\":256,\"ValidFor\":7,\"Cert\":{\"Subject\":{\"CommonName\":\"cn\","
    "\"Organization\":[\"o1\",\"o2\"]},\"DNSNames\":[],\"IPAddresses\":[\"10.0.0.1\",\"fe80::1\"],"
    "\"KeyUsage\":5,\"ExtKeyUsage\":[1],\"IsCA\":true,\"NotAfter\":\"2030-01-02T03:04:05Z\"}}},"
    "\"Users\":{\"u\":{\"Certificate\":\"PEM\",\"Roles\":[\"r\"]}},"
    "\"Roles\":{\"r\":{\"ResourceType\":\"Secrets\",\"ResourceNames\":[\"k\"],\"Actions\":[\"ReadSecret\"]}},"
    "\"RecoveryKeys\":{\"rk\":\"KEY\"},"
    "\"TLS\":{\"web\":{\"Outgoing\":[{\"Port\":\"8080\",\"Addr\":\"svc\"}],"
    "\"Incoming\":[{\"Port\":\"443\",\"Cert\":\"c\",\"DisableClientAuth\":true}]}},"
    "\"Config\":{\"SealMode\":\"UniqueKey\",\"FeatureGates\":[\"MonotonicCounter\"],\"UpdateThreshold\":1,"
    "\"RecoveryThreshold\":0,\"RotateRootSecret\":true}}";

static void test_rich_manifest(void **state)
{
    (void)state;
    struct manifest *m = parse_ok(RICH);
    /* maps sorted by name */
    assert_int_equal(m->n_packages, 5);
    assert_string_equal(m->packages[0].name, "alpha");
    assert_string_equal(m->packages[4].name, "zeta");
    const struct manifest_package *a = manifest_find_package(m, "alpha");
    assert_non_null(a);
    assert_null(a->tee_name);
    assert_int_equal(a->pkg.tee, ATTEST_SGX);
    assert_string_equal(a->pkg.signer_id, "bb");
    assert_true(a->pkg.has_product_id);
    assert_int_equal(a->pkg.product_id, 1);
    assert_int_equal(a->pkg.security_version, 2);
    assert_int_equal(a->pkg.n_accepted_tcb_statuses, 1);
    assert_string_equal(a->pkg.accepted_advisories[0], "INTEL-SA-00615");
    const struct manifest_package *td = manifest_find_package(m, "td");
    assert_int_equal(td->pkg.tee, ATTEST_TDX);
    assert_string_equal(td->tee_name, "TDX");
    assert_string_equal(td->pkg.rtmr[0], "22");
    assert_null(td->pkg.rtmr[1]);
    assert_string_equal(td->pkg.rtmr[3], "33");
    const struct manifest_package *sev = manifest_find_package(m, "sev");
    assert_int_equal(sev->pkg.tee, ATTEST_SNP);
    assert_true(sev->pkg.has_minimum_tcb);
    assert_int_equal(sev->pkg.minimum_tcb.snp, 8);
    assert_int_equal(sev->pkg.minimum_tcb.microcode, 115);
    assert_true(sev->pkg.has_guest_svn);
    assert_int_equal(sev->pkg.guest_svn, 9);
    const struct manifest_package *node = manifest_find_package(m, "node");
    assert_int_equal(node->pkg.tee, ATTEST_TPM);
    assert_int_equal(node->pkg.n_pcrs, 2);
    assert_int_equal(node->pkg.n_ak_roots, 1);
    assert_null(manifest_find_package(m, "missing"));

    assert_int_equal(m->n_infrastructures, 1);
    assert_int_equal(m->infrastructures[0].cpusvn_len, 3);
    assert_int_equal(m->infrastructures[0].cpusvn[2], 255);
    assert_int_equal(m->infrastructures[0].root_ca_len, 3);
    assert_int_equal(m->infrastructures[0].root_ca[2], 3);
    assert_int_equal(m->infrastructures[0].pcesvn, 3);

    const struct manifest_marble *b = manifest_find_marble(m, "b");
    assert_non_null(b);
    assert_int_equal(b->max_activations, 3);
    assert_true(b->disable_secret_binding);
    assert_int_equal(b->n_files, 3);
    assert_string_equal(b->files[0].name, "/a");
    assert_int_equal(b->files[0].len, 5);
    assert_memory_equal(b->files[0].data, "hello", 5);
    assert_string_equal(b->files[1].name, "/h");
    assert_int_equal(b->files[1].len, 4);
    assert_memory_equal(b->files[1].data, "ABC\0", 4);
    assert_true(b->files[1].no_templates);
    assert_string_equal(b->files[1].encoding, "HEX");
    assert_string_equal(b->files[2].encoding, "string");
    assert_false(b->files[2].no_templates);
    assert_string_equal(b->env[0].encoding, "string");
    assert_int_equal(b->n_argv, 2);
    assert_string_equal(b->argv[1], "--x");
    assert_int_equal(b->n_tls, 1);

    const struct manifest_secret *c = manifest_find_secret(m, "c");
    assert_int_equal(c->type, MANIFEST_SECRET_CERT_ECDSA);
    assert_int_equal(c->size, 256);
    assert_int_equal(c->valid_for, 7);
    assert_true(c->has_cert);
    assert_string_equal(c->cert.subject.common_name, "cn");
    assert_string_equal(c->cert.subject.organization, "o1");
    assert_true(c->cert.has_dns_names);
    assert_int_equal(c->cert.n_dns_names, 0);
    assert_int_equal(c->cert.n_ip_addresses, 2);
    assert_int_equal(c->cert.key_usage, 5);
    assert_true(c->cert.has_ext_key_usage);
    assert_int_equal(c->cert.ext_key_usage[0], 1);
    assert_true(c->cert.is_ca);
    assert_true(c->cert.has_not_after);
    assert_int_equal(c->cert.not_after, 1893553445); /* date -u -d 2030-01-02T03:04:05Z +%s */
    const struct manifest_secret *k = manifest_find_secret(m, "k");
    assert_int_equal(k->type, MANIFEST_SECRET_SYMMETRIC_KEY);
    assert_true(k->shared);
    assert_false(k->cert.has_dns_names);

    assert_string_equal(manifest_find_user(m, "u")->roles[0], "r");
    assert_string_equal(manifest_find_role(m, "r")->actions[0], "ReadSecret");
    assert_string_equal(m->recovery_keys[0].pem, "KEY");
    const struct manifest_tls_tag *web = manifest_find_tls(m, "web");
    assert_string_equal(web->outgoing[0].addr, "svc");
    assert_string_equal(web->incoming[0].addr, "");
    assert_true(web->incoming[0].disable_client_auth);
    assert_string_equal(m->config.seal_mode, "UniqueKey");
    assert_int_equal(m->config.update_threshold, 1);
    assert_true(m->config.rotate_root_secret);
    manifest_free(m);
}

static void test_case_insensitive_and_unknown(void **state)
{
    (void)state;
    struct manifest *m = parse_ok("{\"packages\":{\"p\":{\"signerid\":\"x\",\"PRODUCTID\":3}},"
                                  "\"MARBLES\":{\"m\":{\"pAcKaGe\":\"p\",\"whatever\":[1,2,{}]}},"
                                  "\"NoSuchSection\":{\"a\":1},\"config\":{\"sealmode\":\"Disabled\"}}");
    assert_int_equal(m->n_packages, 1);
    assert_string_equal(m->packages[0].pkg.signer_id, "x");
    assert_int_equal(m->packages[0].pkg.product_id, 3);
    assert_string_equal(m->marbles[0].package, "p");
    assert_string_equal(m->config.seal_mode, "Disabled");
    manifest_free(m);
    /* map keys themselves are case-sensitive */
    m = parse_ok("{\"Packages\":{\"P\":{},\"p\":{}}}");
    assert_int_equal(m->n_packages, 2);
    manifest_free(m);
}

static void test_duplicate_keys_last_wins(void **state)
{
    (void)state;
    struct manifest *m = parse_ok("{\"Marbles\":{\"m\":{\"Package\":\"a\",\"package\":\"b\","
                                  "\"MaxActivations\":1,\"MaxActivations\":2}}}");
    assert_string_equal(m->marbles[0].package, "b");
    assert_int_equal(m->marbles[0].max_activations, 2);
    manifest_free(m);
}

static void test_null_and_empty(void **state)
{
    (void)state;
    struct manifest *m = parse_ok("null");
    assert_int_equal(m->n_packages, 0);
    assert_string_equal(m->config.seal_mode, "");
    manifest_free(m);
    m = parse_ok("{\"Packages\":null,\"Marbles\":{\"m\":null},\"Config\":null}");
    assert_int_equal(m->n_packages, 0);
    assert_int_equal(m->n_marbles, 1);
    assert_string_equal(m->marbles[0].package, "");
    manifest_free(m);
    m = parse_ok("{\"Marbles\":{\"m\":{\"Parameters\":{\"Argv\":[\"a\",null]}}}}");
    assert_string_equal(m->marbles[0].argv[1], "");
    manifest_free(m);
}

static void test_file_forms(void **state)
{
    (void)state;
    struct manifest *m = parse_ok("{\"Marbles\":{\"m\":{\"Parameters\":{\"Files\":{"
                                  "\"a\":{\"Data\":\"61 62\",\"Encoding\":\"string\"},"
                                  "\"b\":{\"Encoding\":\"Base64\",\"Data\":\"YW\\nI=\"},"
                                  "\"c\":{},"
                                  "\"d\":{\"Data\":\"6162\",\"Encoding\":\"hex\"},"
                                  "\"e\":\"{{ raw .Secrets.x }}\"},"
                                  "\"Env\":{\"N\":\"a\\u0000b\"}}}}}");
    const struct manifest_marble *mb = &m->marbles[0];
    assert_memory_equal(mb->files[0].data, "61 62", 6);
    assert_int_equal(mb->files[1].len, 2);
    assert_memory_equal(mb->files[1].data, "ab", 3); /* newline skipped as Go does */
    assert_int_equal(mb->files[2].len, 0);
    assert_string_equal(mb->files[2].encoding, "string");
    assert_int_equal(mb->files[3].len, 2);
    assert_memory_equal(mb->files[3].data, "ab", 3);
    assert_int_equal(mb->env[0].len, 3); /* NUL kept; the dry run refuses it */
    manifest_free(m);
    /* Go's base64 decoder skips newlines, so "YQ==\nYg==" is not valid
     * (padding in the middle) */
    parse_fails("{\"Marbles\":{\"m\":{\"Parameters\":{\"Files\":{\"b\":{\"Encoding\":\"base64\",\"Data\":\"YQ==\\nYg==\"}}}}}}",
                "Marbles.m.Parameters.Files.b.Data: invalid base64 data");
    parse_fails("{\"Marbles\":{\"m\":{\"Parameters\":{\"Files\":{\"x\":{\"Data\":\"6\",\"Encoding\":\"hex\"}}}}}}",
                "Marbles.m.Parameters.Files.x.Data: invalid hex data");
    parse_fails("{\"Marbles\":{\"m\":{\"Parameters\":{\"Files\":{\"x\":{\"Data\":\"a\",\"Encoding\":\"rot13\"}}}}}}",
                "Marbles.m.Parameters.Files.x: unknown encoding type: rot13");
    parse_fails("{\"Marbles\":{\"m\":{\"Parameters\":{\"Env\":{\"X\":42}}}}}",
                "Marbles.m.Parameters.Env.X: expected a string or an object, got number");
    parse_fails("{\"Marbles\":{\"m\":{\"Parameters\":{\"Env\":{\"X\":{\"Data\":1}}}}}}",
                "Marbles.m.Parameters.Env.X.Data: expected a string, got number");
    parse_fails("{\"Marbles\":{\"m\":{\"Parameters\":{\"Env\":{\"X\":{\"NoTemplates\":\"yes\"}}}}}}",
                "Marbles.m.Parameters.Env.X.NoTemplates: expected a bool, got string");
}

static void test_integers(void **state)
{
    (void)state;
    parse_fails("{\"Marbles\":{\"m\":{\"MaxActivations\":-1}}}",
                "Marbles.m.MaxActivations: must not be negative (got -1)");
    parse_fails("{\"Marbles\":{\"m\":{\"MaxActivations\":1.5}}}",
                "Marbles.m.MaxActivations: expected a non-negative integer, got 1.5");
    parse_fails("{\"Marbles\":{\"m\":{\"MaxActivations\":1.0}}}",
                "Marbles.m.MaxActivations: expected a non-negative integer");
    parse_fails("{\"Marbles\":{\"m\":{\"MaxActivations\":\"3\"}}}",
                "Marbles.m.MaxActivations: expected a non-negative integer, got string");
    parse_fails("{\"Infrastructures\":{\"i\":{\"QESVN\":65536}}}",
                "Infrastructures.i.QESVN: 65536 is out of range (maximum 65535)");
    parse_fails("{\"Packages\":{\"p\":{\"TEE\":\"snp\",\"MinimumTCB\":{\"SNP\":256}}}}",
                "Packages.p.MinimumTCB.SNP: 256 is out of range (maximum 255)");
    parse_fails("{\"Packages\":{\"p\":{\"SecurityVersion\":-2}}}", "Packages.p.SecurityVersion: must not be negative");
    parse_fails("{\"Config\":{\"UpdateThreshold\":true}}", "Config.UpdateThreshold: expected a non-negative integer, got bool");
    parse_fails("{\"Secrets\":{\"s\":{\"Size\":99999999999999999999}}}", "invalid JSON");
    struct manifest *m = parse_ok("{\"Packages\":{\"p\":{\"ProductID\":9223372036854775807}}}");
    assert_int_equal(m->packages[0].pkg.product_id, 9223372036854775807ULL);
    manifest_free(m);
}

static void test_type_errors(void **state)
{
    (void)state;
    parse_fails("[]", "manifest: expected a JSON object, got array");
    parse_fails("{\"Packages\":[]}", "Packages: expected an object, got array");
    parse_fails("{\"Marbles\":{\"m\":\"x\"}}", "Marbles.m: expected an object, got string");
    parse_fails("{\"Marbles\":{\"m\":{\"Parameters\":{\"Argv\":\"a b\"}}}}",
                "Marbles.m.Parameters.Argv: expected an array of strings, got string");
    parse_fails("{\"Marbles\":{\"m\":{\"TLS\":[1]}}}", "Marbles.m.TLS[0]: expected a string, got number");
    parse_fails("{\"Users\":{\"u\":{\"Roles\":{}}}}", "Users.u.Roles: expected an array of strings, got object");
    parse_fails("{\"TLS\":{\"t\":{\"Incoming\":{}}}}", "TLS.t.Incoming: expected an array, got object");
    parse_fails("{\"TLS\":{\"t\":{\"Incoming\":[{\"Port\":443}]}}}", "TLS.t.Incoming[0].Port: expected a string, got number");
    parse_fails("{\"RecoveryKeys\":{\"k\":{}}}", "RecoveryKeys.k: expected a PEM string, got object");
    parse_fails("{\"Secrets\":{\"s\":{\"Cert\":\"MIIB\"}}}", "Secrets.s.Cert: expected a certificate template object");
    parse_fails("{\"Secrets\":{\"s\":{\"Cert\":{\"IPAddresses\":[\"1.2.3\"]}}}}",
                "Secrets.s.Cert.IPAddresses[0]: invalid IP address \"1.2.3\"");
    parse_fails("{\"Secrets\":{\"s\":{\"Cert\":{\"NotAfter\":\"tomorrow\"}}}}",
                "Secrets.s.Cert.NotAfter: \"tomorrow\" is not an RFC 3339 time");
    parse_fails("{\"Secrets\":{\"s\":{\"Cert\":{\"ExtKeyUsage\":[99]}}}}", "Secrets.s.Cert.ExtKeyUsage[0]");
    parse_fails("{\"Secrets\":{\"s\":{\"Shared\":1}}}", "Secrets.s.Shared: expected a bool, got number");
    parse_fails("{\"Packages\":{\"p\":{\"RTMR\":{\"4\":\"00\"}}}}", "Packages.p.RTMR: register \"4\" is not one of");
    parse_fails("{\"Packages\":{\"p\":{\"PCRs\":{\"sha256\":{\"x1\":\"00\"}}}}}",
                "Packages.p.PCRs.sha256: PCR index \"x1\" is not a decimal number");
    parse_fails("{\"Packages\":{\"p\":{\"PCRs\":{\"sha256\":[]}}}}", "Packages.p.PCRs.sha256: expected an object, got array");
    parse_fails("{\"Packages\":{\"p\":{\"AKRoots\":\"pem\"}}}", "Packages.p.AKRoots: expected an array of strings");
    parse_fails("{\"Infrastructures\":{\"i\":{\"CPUSVN\":[256]}}}", "Infrastructures.i.CPUSVN[0]: expected a byte");
    parse_fails("{\"Infrastructures\":{\"i\":{\"RootCA\":\"!!\"}}}", "Infrastructures.i.RootCA: invalid base64");
    parse_fails("{\"Marbles\":{\"m\":{\"Package\":\"a\\u0000b\"}}}", "Marbles.m.Package: must not contain NUL bytes");
    parse_fails("{\"Marbles\":{\"a\\u0000b\":{}}}", "NUL byte in object key");
    parse_fails("{\"Packages\":", "manifest: invalid JSON at line 1");
    parse_fails("{\"a\":\"\\xff\"}", "invalid JSON");
}

static void test_caps(void **state)
{
    (void)state;
    size_t n = MANIFEST_MAX_SIZE + 1;
    uint8_t *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    struct manifest *m = NULL;
    struct cairn_error e = {0};
    assert_int_equal(manifest_parse(big, n, &m, &e), CAIRN_ERR_TOO_LARGE);
    assert_null(m);
    assert_non_null(strstr(e.msg, "exceed the limit"));
    /* exactly at the cap is fine */
    assert_int_equal(manifest_parse(big, n - 1, &m, &e), CAIRN_ERR_INVALID); /* '{' without '}' */
    big[n - 2] = '}';
    assert_int_equal(manifest_parse(big, n - 1, &m, &e), 0);
    manifest_free(m);
    free(big);
    /* too many entries in one map */
    char *s = malloc(64 * (MANIFEST_MAX_ENTRIES + 2));
    size_t o = (size_t)sprintf(s, "{\"Packages\":{");
    for (int i = 0; i <= MANIFEST_MAX_ENTRIES; i++)
        o += (size_t)sprintf(s + o, "%s\"p%d\":{}", i ? "," : "", i);
    sprintf(s + o, "}}");
    assert_int_equal(manifest_parse((uint8_t *)s, strlen(s), &m, &e), CAIRN_ERR_TOO_LARGE);
    assert_non_null(strstr(e.msg, "Packages: more than 4096 entries"));
    free(s);
}

static void test_hash(void **state)
{
    (void)state;
    char hex[65];
    /* SHA-256("abc"), FIPS 180-2 appendix B.1 */
    manifest_hash_hex((const uint8_t *)"abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    manifest_hash_hex((const uint8_t *)"", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_update_manifest(void **state)
{
    (void)state;
    struct manifest *orig = parse_ok("{\"Packages\":{\"a\":{\"SignerID\":\"s\",\"ProductID\":1,\"SecurityVersion\":3},"
                                     "\"b\":{\"UniqueID\":\"u\"}},\"Marbles\":{\"m\":{\"Package\":\"a\"}}}");
    struct cairn_error e = {0};
    assert_false(manifest_is_update_manifest(orig));
    struct manifest *u = parse_ok("{\"Packages\":{\"a\":{\"SecurityVersion\":4}}}");
    assert_true(manifest_is_update_manifest(u));
    assert_int_equal(manifest_check_update(u, orig->packages, orig->n_packages, &e), 0);
    manifest_free(u);
    static const struct { const char *json, *msg; } bad[] = {
        {"{\"Packages\":{}}", "no packages defined"},
        {"{\"Packages\":{\"x\":{\"SecurityVersion\":4}}}",
         "update manifest specifies a package which the original manifest does not contain"},
        {"{\"Packages\":{\"a\":{\"SecurityVersion\":4,\"ProductID\":1}}}", "update manifest contains unupdatable values"},
        {"{\"Packages\":{\"a\":{\"SecurityVersion\":4,\"Debug\":true}}}", "update manifest contains unupdatable values"},
        {"{\"Packages\":{\"a\":{\"SecurityVersion\":4,\"MRTD\":\"00\"}}}", "update manifest contains unupdatable values"},
        {"{\"Packages\":{\"a\":{}}}", "update manifest does not specify a SecurityVersion to update"},
        {"{\"Packages\":{\"a\":{\"SecurityVersion\":2}}}",
         "update manifest tries to downgrade SecurityVersion of the original manifest"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        u = parse_ok(bad[i].json);
        assert_int_equal(manifest_check_update(u, orig->packages, orig->n_packages, &e), CAIRN_ERR_INVALID);
        assert_string_equal(e.msg, bad[i].msg);
        manifest_free(u);
    }
    /* a package without SVN in the original may be given one */
    u = parse_ok("{\"Packages\":{\"b\":{\"SecurityVersion\":0}}}");
    assert_int_equal(manifest_check_update(u, orig->packages, orig->n_packages, &e), 0);
    manifest_free(u);
    manifest_free(orig);
}

/* Deterministic mutations of a valid manifest: every result either parses or
 * fails with a message; nothing crashes or leaks (ASan checks the rest). */
static void test_mutations(void **state)
{
    (void)state;
    size_t n = strlen(RICH);
    uint8_t *buf = malloc(n);
    size_t ok = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(buf, RICH, n);
            buf[i] ^= (uint8_t)(1u << bit);
            struct manifest *m = NULL;
            struct cairn_error e = {0};
            if (manifest_parse(buf, n, &m, &e) == 0) {
                ok++;
                manifest_check(m, &e);
                manifest_free(m);
            } else {
                failed++;
                assert_null(m);
                assert_true(e.msg[0] != '\0');
            }
        }
    }
    for (size_t len = 0; len < n; len += 7) {
        struct manifest *m = NULL;
        struct cairn_error e = {0};
        assert_int_not_equal(manifest_parse((const uint8_t *)RICH, len, &m, &e), 0);
        assert_null(m);
    }
    free(buf);
    /* both outcomes must occur, otherwise the loop tests nothing */
    assert_true(ok > 100);
    assert_true(failed > 100);
}

/* ---- unknown fields (manifest_parse_ex, fields.c) ---- */

struct unknowns {
    char text[4096];
    size_t n;
};

static void collect(void *ctx, const char *path, const char *suggestion)
{
    struct unknowns *u = ctx;
    size_t l = strlen(u->text);
    snprintf(u->text + l, sizeof(u->text) - l, "%s%s%s%s", u->n ? "|" : "", path, suggestion ? "~" : "",
             suggestion ? suggestion : "");
    u->n++;
}

static void unknowns_of(const char *json, struct unknowns *u)
{
    struct manifest *m = NULL;
    struct cairn_error e = {0};
    memset(u, 0, sizeof(*u));
    if (manifest_parse_ex((const uint8_t *)json, strlen(json), collect, u, &m, &e) != 0)
        fail_msg("parse failed: %s", e.msg);
    assert_non_null(m);
    manifest_free(m);
}

static void test_unknown_fields(void **state)
{
    (void)state;
    struct unknowns u;
    /* none in a manifest that uses the fields of every level */
    unknowns_of(RICH, &u);
    assert_string_equal(u.text, "");
    /* case variants and duplicates are Go matches, not unknown */
    unknowns_of("{\"packages\":{\"p\":{\"signerid\":\"x\"}},\"Marbles\":{\"m\":{\"Package\":\"a\",\"package\":\"b\"}}}",
                &u);
    assert_string_equal(u.text, "");
    /* one unknown key at every level the decoder reads; map keys (names) are never reported,
     * the value of an unknown key is not descended into */
    unknowns_of("{\"Pakages\":{\"x\":{\"Bogus\":1}},"
                "\"Packages\":{\"p\":{\"SignerId\":\"aa\",\"ProductId\":1,\"SecurityVerison\":2,"
                "\"MinimumTCB\":{\"Microcod\":1},\"PCRs\":{\"sha256\":{\"11\":\"aa\"}},\"RTMR\":{\"1\":\"aa\"}}},"
                "\"Infrastructures\":{\"i\":{\"QESVN\":1,\"RootCa\":\"\",\"CPUSVM\":\"\"}},"
                "\"Marbles\":{\"web\":{\"Package\":\"p\",\"MaxActivation\":1,\"Parameters\":{"
                "\"Files\":{\"/a\":{\"Data\":\"x\",\"Encodng\":\"string\"},\"/b\":\"plain\"},"
                "\"Env\":{\"A\":\"1\"},\"Enviroment\":{\"B\":\"2\"},\"Args\":[\"x\"]}}},"
                "\"Secrets\":{\"s\":{\"Type\":\"cert-ecdsa\",\"Shard\":true,\"Cert\":{\"Subject\":"
                "{\"CommonName\":\"c\",\"DNSNames\":[\"x\"]},\"DNSName\":[\"y\"]}}},"
                "\"Users\":{\"u\":{\"Certificate\":\"\",\"Role\":[\"r\"]}},"
                "\"Roles\":{\"r\":{\"ResourceType\":\"Secrets\",\"ResourceName\":[\"s\"],\"Actions\":[]}},"
                "\"RecoveryKeys\":{\"k\":\"\"},"
                "\"TLS\":{\"t\":{\"Outgoing\":[{\"Port\":\"1\",\"Adr\":\"a\"}],\"Incomming\":[]}},"
                "\"Config\":{\"SealMode\":\"\",\"FeatureGate\":[]}}",
                &u);
    assert_string_equal(u.text,
                        "Pakages~Packages"
                        "|Packages.p.SecurityVerison~SecurityVersion"
                        "|Packages.p.MinimumTCB.Microcod~Microcode"
                        "|Infrastructures.i.CPUSVM~CPUSVN"
                        "|Marbles.web.MaxActivation~MaxActivations"
                        "|Marbles.web.Parameters.Files./a.Encodng~Encoding"
                        "|Marbles.web.Parameters.Enviroment~Env"
                        "|Marbles.web.Parameters.Args~Argv"
                        "|Secrets.s.Shard~Shared"
                        "|Secrets.s.Cert.Subject.DNSNames"
                        "|Secrets.s.Cert.DNSName~DNSNames"
                        "|Users.u.Role~Roles"
                        "|Roles.r.ResourceName~ResourceNames"
                        "|TLS.t.Outgoing[0].Adr~Addr"
                        "|TLS.t.Incomming~Incoming"
                        "|Config.FeatureGate~FeatureGates");
    assert_int_equal(u.n, 16);
    /* a key unlike any field gets no suggestion */
    unknowns_of("{\"Marbles\":{\"m\":{\"Package\":\"p\",\"Zzzzzz\":1}}}", &u);
    assert_string_equal(u.text, "Marbles.m.Zzzzzz");
    /* a document the decoder looks into nowhere (null): nothing recorded, nothing reported */
    unknowns_of("null", &u);
    assert_string_equal(u.text, "");
    /* without a callback it is manifest_parse */
    struct manifest *m = NULL;
    assert_int_equal(manifest_parse_ex((const uint8_t *)"{}", 2, NULL, NULL, &m, NULL), 0);
    manifest_free(m);
    /* a failing parse reports nothing and leaves *out untouched */
    memset(&u, 0, sizeof(u));
    m = (struct manifest *)0x1;
    const char *bad = "{\"Bogus\":1,\"Marbles\":{\"m\":{\"MaxActivations\":\"x\"}}}";
    assert_int_not_equal(manifest_parse_ex((const uint8_t *)bad, strlen(bad), collect, &u, &m, NULL), 0);
    assert_ptr_equal(m, (struct manifest *)0x1);
    assert_int_equal(u.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rich_manifest),
        cmocka_unit_test(test_case_insensitive_and_unknown),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_duplicate_keys_last_wins),
        cmocka_unit_test(test_null_and_empty),
        cmocka_unit_test(test_file_forms),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_update_manifest),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
