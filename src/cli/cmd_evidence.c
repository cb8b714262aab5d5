/* cairn evidence verify|eventlog: offline verification of SGX, TDX, SEV-SNP
 * and TPM evidence a peer hands over, with its supporting files (issue 5
 * item 4). Files are recognised by content (attest/trust_classify.h) or named by
 * flags; the verifiers are the ones the Coordinator uses (attest_verify), and
 * a policy is matched with tee_policy_match exactly as at activation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "attest/attest.h"
#include "attest/eventlog.h"
#include "attest/issuer.h"
#include "attest/policy.h"
#include "attest/azure_hcl.h"
#include "attest/ccel_check.h"
#include "attest/evidence_detect.h"
#include "attest/kbs_evidence_azure.h"
#include "attest/trust_files.h"
#include "attest/uki.h"
#include "attest/trust_store.h"
#include "cli/cli.h"
#include "common/encoding.h"
#include "common/file.h"
#include "crypto/crypto.h"
#include "manifest/manifest.h"


static const struct cli_flag verify_flags[] = {
    {"type", 't', true, "sgx|tdx|snp|tpm|az-snp-vtpm|az-tdx-vtpm",
     "TEE of the evidence (default: detected from the evidence bytes); az-snp-vtpm, az-tdx-vtpm: the CoCo agent's JSON"},
    {"time", 0, true, "RFC3339", "verification time for certificates and collateral (default: now)"},
    {"report-data", 0, true, "HEX", "expected report data (prefix; the rest must be zero) / TPM nonce"},
    /* --nonce is also a global flag (the parser finds that one first); listed
     * here for what it means to this command */
    {"nonce", 0, true, "HEX", "expected report data (SGX/TDX/SNP) or TPM nonce, like --report-data"},
    {"nonce-file", 0, true, "FILE", "expected report data or TPM nonce as raw bytes"},
    {"policy", 'p', true, "FILE", "expected identity: a manifest package (JSON) or a manifest (with --package)"},
    {"package", 0, true, "NAME", "the package of the --policy manifest to match"},
    {"cert", 0, true, "FILE", "certificates (PEM/DER): VCEK/VLEK, ASK/ASVK, AK certificate, TCB signing chain"},
    {"root", 0, true, "FILE", "trusted root certificate(s); replaces the built-in Intel/AMD roots"},
    {"crl", 0, true, "FILE", "CRL (PEM/DER): PCK/root CRLs, AMD CRL"},
    {"tcb-info", 0, true, "FILE", "Intel TCB info JSON (PCS response body)"},
    {"qe-identity", 0, true, "FILE", "Intel QE identity JSON (PCS response body)"},
    {"require-collateral", 0, false, NULL, "SGX/TDX: fail without TCB info and QE identity"},
    {"ak", 0, true, "FILE", "TPM AK: TPMT_PUBLIC, PEM public key or certificate"},
    {"signature", 0, true, "FILE", "TPM quote signature: TPMT_SIGNATURE, DER ECDSA or raw RSA"},
    {"pcrs", 0, true, "FILE", "TPM PCR values JSON"},
    {"eventlog", 0, true, "FILE", "TPM TCG event log, or the TDX CCEL area"},
    {"pcr-signature", 0, true, "FILE",
     "TPM: systemd's tpm2-pcr-signature.json, checked by a policy's PCRPublicKey (signed PCR 11 policies)"},
    {"ccel-table", 0, true, "FILE", "TDX ACPI CCEL table (bounds the CCEL area)"},
    {"vtpm-quote", 0, true, "FILE",
     "Azure: the vTPM TPMS_ATTEST to verify with the HCL report's AK (--signature, --pcrs, --eventlog, --nonce)"},
    {"hcl-report", 0, true, "FILE",
     "Azure TDX: the HCL report whose TDREPORT the TD quote (the evidence) was made of"},
    {"trust-dir", 0, true, "DIR", "trust directory (<dir>/<type>/ files, <dir>/<type>/roots/), as a Coordinator's"},
    /* global flags too; listed for what they mean here (this command is offline) */
    {"accepted-tcb-statuses", 0, true, "LIST", "with --policy: TCB statuses to accept besides UpToDate (replaces the package's)"},
    {"accepted-advisories", 0, true, "LIST", "with --policy: advisory IDs to accept (replaces the package's)"},
    {NULL, 0, false, NULL, NULL},
};

static const struct cli_flag eventlog_flags[] = {
    {"ccel", 0, false, NULL, "the file is a TDX CC event log (CCEL): replay into RTMR0..3"},
    {"tcg", 0, false, NULL, "the file is a TPM TCG PC Client event log: replay into PCRs"},
    {"ccel-table", 0, true, "FILE", "ACPI CCEL table bounding the area (implies --ccel)"},
    {"reference-values", 0, false, NULL,
     "print the registers as a manifest package (TPM PCRs / TDX RTMRs) and the events that fed each one"},
    {"bank", 0, true, "BANK", "with --reference-values, the TCG log's bank (default sha256)"},
    {NULL, 0, false, NULL, NULL},
};

static enum trust_file_kind flag_kind(const char *name, enum attest_type type)
{
    static const struct {
        const char *flag;
        enum trust_file_kind kind;
    } map[] = {
        {"cert", TRUST_FILE_CERTS},         {"root", TRUST_FILE_ROOTS},
        {"crl", TRUST_FILE_CRL},            {"tcb-info", TRUST_FILE_TCB_INFO},
        {"qe-identity", TRUST_FILE_QE_IDENTITY}, {"ak", TRUST_FILE_TPM_PUBLIC},
        {"signature", TRUST_FILE_TPM_SIGNATURE}, {"pcrs", TRUST_FILE_PCRS},
        {"ccel-table", TRUST_FILE_CCEL_TABLE}, {"nonce-file", TRUST_FILE_NONCE},
    };
    if (strcmp(name, "eventlog") == 0)
        return type == ATTEST_TDX ? TRUST_FILE_CCEL : TRUST_FILE_EVENTLOG;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].flag, name) == 0)
            return map[i].kind;
    return TRUST_FILE_UNKNOWN;
}

/* A policy file: a manifest package object, or a whole manifest (then the
 * package is --package, or the only one for this TEE). Parsed and checked by
 * the manifest engine so the rules are those of the Coordinator. */
static int load_policy(const char *path, const char *pkg_name, enum attest_type type, struct tee_package *out,
                       char **out_name)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (cli_load_manifest(path, &data, &len) != 0)
        return CLI_EXIT_FAIL;
    json_error_t je;
    json_t *j = json_loadb((const char *)data, len, 0, &je);
    free(data);
    if (!json_is_object(j)) {
        json_decref(j);
        return cli_fail("policy \"%s\": not a JSON object", path);
    }
    bool is_manifest = false;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        if (strcasecmp(k, "Packages") == 0)
            is_manifest = true;
    }
    if (!is_manifest) {
        /* The file is one package: wrap it into a minimal manifest. */
        json_t *m = json_pack("{s:{s:O}, s:{s:{s:s}}}", "Packages", "policy", j, "Marbles", "policy", "Package",
                              "policy");
        json_decref(j);
        j = m;
        pkg_name = "policy";
    }
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL)
        return cli_fail("out of memory");
    struct manifest *man = NULL;
    struct cairn_error err = {0};
    int rc = manifest_parse((const uint8_t *)text, strlen(text), &man, &err);
    free(text);
    if (rc == 0)
        rc = manifest_check(man, &err);
    if (rc != 0) {
        manifest_free(man);
        return cli_fail("policy \"%s\": %s; fix the policy file", path, cairn_error_msg(&err));
    }
    const struct manifest_package *p = NULL;
    if (pkg_name != NULL) {
        p = manifest_find_package(man, pkg_name);
        if (p == NULL) {
            manifest_free(man);
            return cli_fail("policy \"%s\": no package \"%s\"", path, pkg_name);
        }
    } else {
        size_t hits = 0;
        for (size_t i = 0; i < man->n_packages; i++) {
            if (man->packages[i].pkg.tee == type) {
                p = &man->packages[i];
                hits++;
            }
        }
        if (hits != 1) {
            manifest_free(man);
            return cli_fail("policy \"%s\": %zu packages for %s; name one with --package", path, hits,
                            attest_type_name(type));
        }
    }
    if (p->pkg.tee != type) {
        int r = cli_fail("policy \"%s\": package \"%s\" is for %s, the evidence is %s", path, p->name,
                         attest_type_name(p->pkg.tee), attest_type_name(type));
        manifest_free(man);
        return r;
    }
    *out_name = strdup(p->name);
    *out = p->pkg;
    memset((void *)&p->pkg, 0, sizeof(p->pkg)); /* moved out of the manifest */
    manifest_free(man);
    if (*out_name == NULL) {
        tee_package_free(out);
        return cli_fail("out of memory");
    }
    return 0;
}

/* --accepted-tcb-statuses / --accepted-advisories (global flags) replace the
 * policy's lists, as for the other commands. */
static int set_list(char ***arr, size_t *n, const char *list)
{
    size_t cap = 1;
    for (const char *c = list; *c; c++)
        cap += *c == ',';
    char **v = calloc(cap, sizeof(char *));
    char *copy = strdup(list);
    if (v == NULL || copy == NULL) {
        free(v);
        free(copy);
        return -1;
    }
    size_t k = 0;
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && k < cap; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t && (v[k] = strdup(t)) != NULL)
            k++;
    }
    free(copy);
    for (size_t i = 0; i < *n; i++)
        free((*arr)[i]);
    free(*arr);
    *arr = v;
    *n = k;
    return 0;
}

static int print_json(json_t *j);

/* --policy [--package] [--accepted-tcb-statuses] [--accepted-advisories] of
 * `evidence verify`, whatever the evidence type: the package the verified
 * claims must match. Owned by the caller; evidence_policy_clear() frees it. */
struct evidence_policy {
    const char *path;        /* borrowed from the arguments; NULL: no --policy */
    struct tee_package pkg;  /* owned when have */
    char *name;              /* owned: the package's name */
    bool have;
};

static void evidence_policy_clear(struct evidence_policy *p)
{
    if (p->have)
        tee_package_free(&p->pkg);
    free(p->name);
    memset(p, 0, sizeof(*p));
}

/* Loads the package for evidence of \p type into \p out (left empty without
 * --policy). Returns 0, CLI_EXIT_USAGE (--package/--accepted-* without
 * --policy) or CLI_EXIT_FAIL (message printed); \p out is cleared by the caller. */
static int policy_from_args(const struct cli_ctx *ctx, enum attest_type type, struct evidence_policy *out)
{
    const struct cli_args *a = &ctx->args;
    const char *pol = cli_args_get(a, "policy");
    const char *acc_tcb = cli_args_get(a, "accepted-tcb-statuses"), *acc_adv = cli_args_get(a, "accepted-advisories");
    if (pol == NULL) {
        if (cli_args_has(a, "package") || acc_tcb || acc_adv) {
            cli_fail("%s: --package and --accepted-* need --policy", ctx->path);
            return CLI_EXIT_USAGE;
        }
        return 0;
    }
    if (load_policy(pol, cli_args_get(a, "package"), type, &out->pkg, &out->name) != 0)
        return CLI_EXIT_FAIL;
    out->path = pol;
    out->have = true;
    if ((acc_tcb && set_list(&out->pkg.accepted_tcb_statuses, &out->pkg.n_accepted_tcb_statuses, acc_tcb) != 0) ||
        (acc_adv && set_list(&out->pkg.accepted_advisories, &out->pkg.n_accepted_advisories, acc_adv) != 0)) {
        cli_fail("out of memory");
        return CLI_EXIT_FAIL;
    }
    return 0;
}

/* Prints \p out (the verified claims' report), with a "policy" member when a
 * package was given, and returns the exit code: a mismatch still prints the
 * report (saying why) and then fails. \p tee names the evidence in messages. */
static int policy_match_print(const struct evidence_policy *p, const struct attest_claims *claims, const char *tee,
                              json_t *out)
{
    if (!p->have)
        return print_json(out) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    struct cairn_error pe = {0};
    int prc = tee_policy_match(&p->pkg, claims, &pe);
    json_t *po = json_pack("{s:s, s:s, s:b}", "file", p->path, "package", p->name, "matched", prc == 0);
    if (po && prc != 0)
        json_object_set_new(po, "error", json_string(cairn_error_msg(&pe)));
    json_object_set_new(out, "policy", po);
    if (print_json(out) != 0)
        return CLI_EXIT_FAIL;
    if (prc != 0) {
        cli_fail("%s evidence verifies but does not match package \"%s\" of %s: %s", tee, p->name, p->path,
                 cairn_error_msg(&pe));
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static int check_expected(enum attest_type type, struct attest_claims *c, const uint8_t *want, size_t n,
                          const char *why);

/* With --vtpm-quote these flags name the vTPM quote's files. */
static bool is_vtpm_flag(const char *name)
{
    return strcmp(name, "signature") == 0 || strcmp(name, "pcrs") == 0 || strcmp(name, "eventlog") == 0 ||
           strcmp(name, "nonce-file") == 0;
}

/* Azure CVM: the vTPM quote, signed by the AK that the (verified) HCL runtime
 * data carries. Its claims go to out["vtpm"]. */
static int verify_vtpm(const struct cli_args *a, const struct azure_hcl *hcl, const char *quote_path, time_t at,
                       const uint8_t *expected, size_t expected_len, json_t *out)
{
    struct cairn_error err = {0};
    char *ak = NULL;
    uint8_t *q = NULL;
    size_t qn = 0;
    struct attest_claims c = {0};
    int ret = CLI_EXIT_FAIL;
    struct trust_files *tf = trust_files_new(ATTEST_TPM);
    if (tf == NULL) {
        cli_fail("out of memory");
        goto out;
    }
    if (azure_hcl_jwk_pem(hcl, "HCLAkPub", &ak, &err) != 0) {
        cli_fail("%s evidence does not verify: %s", attest_type_name(azure_hcl_attest_type(hcl)), cairn_error_msg(&err));
        goto out;
    }
    if (cli_read_file("vTPM quote", quote_path, TRUST_FILE_MAX, &q, &qn) != 0)
        goto out;
    if (trust_files_set_evidence(tf, q, qn, &err) != 0 ||
        trust_files_add(tf, "HCLAkPub", (const uint8_t *)ak, strlen(ak), TRUST_FILE_PUBKEY_PEM, NULL, &err) != 0) {
        cli_fail("--vtpm-quote %s: %s", quote_path, cairn_error_msg(&err));
        goto out;
    }
    for (size_t i = 0; i < a->n_flags; i++) {
        if (!is_vtpm_flag(a->flag[i]->name))
            continue;
        if (trust_files_add_path(tf, a->value[i], flag_kind(a->flag[i]->name, ATTEST_TPM), NULL, &err) != 0) {
            cli_fail("--%s %s", a->flag[i]->name, cairn_error_msg(&err));
            goto out;
        }
    }
    size_t nl = 0;
    const uint8_t *nf = trust_files_nonce(tf, &nl);
    if (nf != NULL) {
        expected = nf;
        expected_len = nl;
    }
    struct attest_evidence ev;
    struct attest_trust trust;
    if (trust_files_build(tf, at, &ev, &trust, &err) != 0) {
        cli_fail("%s", cairn_error_msg(&err));
        goto out;
    }
    if (attest_verify(&ev, &trust, NULL, 0, &c, &err) != 0) {
        cli_fail("vtpm evidence does not verify: %s", cairn_error_msg(&err));
        goto out;
    }
    if (expected != NULL && check_expected(ATTEST_TPM, &c, expected, expected_len, NULL) != 0)
        goto out;
    json_t *checks = json_object_get(c.json, "checks");
    if (json_is_array(checks))
        json_array_append_new(checks, json_string("ak_from_hcl_runtime_data"));
    if (json_object_set(out, "vtpm", c.json) != 0) {
        cli_fail("out of memory");
        goto out;
    }
    ret = 0;
out:
    attest_claims_free(&c);
    trust_files_free(tf);
    free(ak);
    free(q);
    return ret;
}

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s == NULL)
        return cli_fail("out of memory");
    printf("%s\n", s);
    free(s);
    return fflush(stdout) == 0 ? 0 : cli_fail("cannot write to stdout");
}

static bool has_check(json_t *claims, const char *name)
{
    json_t *checks = json_object_get(claims, "checks"), *v;
    size_t i;
    json_array_foreach(checks, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

/* What the claims do not vouch for, said plainly next to them. */
static json_t *warnings_of(enum attest_type type, json_t *claims, bool have_expected)
{
    json_t *w = json_array();
    if (w == NULL)
        return NULL;
    if ((type == ATTEST_SGX || type == ATTEST_TDX) && json_object_get(claims, "tcb_status") == NULL)
        json_array_append_new(w, json_string("no TCB info given: the TCB status was not evaluated"));
    if (type == ATTEST_TPM && !has_check(claims, "ak_cert_chain"))
        json_array_append_new(w, json_string("the AK is not certified (no --root for its certificate): the quote "
                                             "is only as trustworthy as the AK file"));
    if (type == ATTEST_TPM && !has_check(claims, "eventlog_replay"))
        json_array_append_new(w, json_string("no event log replayed"));
    if (!have_expected)
        json_array_append_new(w, json_string("no expected report data or nonce given: freshness not checked"));
    if (json_array_size(w) == 0) {
        json_decref(w);
        return NULL;
    }
    return w;
}

/* The expected report data (SGX/TDX/SNP: a prefix, the rest zero, as the
 * Coordinator binds keys) or TPM nonce (extraData, compared whole). Done
 * here rather than by attest_verify so the message speaks of what the user
 * gave, not of a presented key. */
static int check_expected(enum attest_type type, struct attest_claims *c, const uint8_t *want, size_t n,
                          const char *why)
{
    const char *what = type == ATTEST_TPM ? "nonce (extraData)" : "report data";
    bool ok = type == ATTEST_TPM ? c->report_data_len == n : n <= c->report_data_len;
    ok = ok && CRYPTO_memcmp(c->report_data, want, n) == 0;
    for (size_t i = n; ok && type != ATTEST_TPM && i < c->report_data_len; i++)
        ok = c->report_data[i] == 0;
    if (!ok) {
        char *got = cairn_hex_encode(c->report_data, c->report_data_len);
        char *exp = cairn_hex_encode(want, n);
        if (why != NULL) /* the caller names the binding */
            cli_fail("%s: %s is %s, expected %s", why, what, got ? got : "?", exp ? exp : "?");
        else
            cli_fail("%s evidence does not verify: %s is %s, expected %s%s", attest_type_name(type), what,
                     got ? got : "?", exp ? exp : "?", type == ATTEST_TPM ? "" : " followed by zero bytes");
        free(got);
        free(exp);
        return -1;
    }
    json_t *checks = json_object_get(c->json, "checks");
    if (json_is_array(checks))
        json_array_append_new(checks, json_string(type == ATTEST_TPM ? "nonce" : "report_data"));
    return 0;
}

static int read_evidence(const char *path, uint8_t **out, size_t *out_len, bool *decoded)
{
    uint8_t *p = NULL;
    size_t n = 0;
    if (cli_read_file("evidence", path, TRUST_FILE_MAX, &p, &n) != 0)
        return CLI_EXIT_FAIL;
    uint8_t *d = NULL;
    size_t dl = 0;
    *decoded = false;
    if (trust_evidence_decode_text(p, n, &d, &dl) == 1) {
        enum attest_type t;
        if (trust_evidence_detect(d, dl, &t, NULL) == 0) {
            free(p);
            p = d;
            n = dl;
            *decoded = true;
        } else {
            free(d);
        }
    }
    *out = p;
    *out_len = n;
    return 0;
}

/* Evidence in Cairn's/MarbleRun's wire form: an activation request or quote
 * answer ({"quote": b64} for SGX, {"evidence": {"type", "quote", "certs",
 * "signature", "akPub", "pcrs", "eventlog"}}), optionally inside a JSend
 * envelope, and for a Coordinator's answer to GET /api/v2/quote with its
 * certificate chain ("cert": intermediate + root PEM). Keys are matched
 * case-insensitively (v1 answers say "Cert", "Quote"). */
struct wire {
    struct attest_issued st;
    STACK_OF(X509) *chain;     /* Coordinator answer: intermediate?, root */
};

static json_t *member_ci(json_t *o, const char *key)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

static int wire_parse(const char *path, const uint8_t *p, size_t n, struct wire *w)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return cli_fail("%s: JSON evidence does not parse (line %d: %s)", path, je.line, je.text);
    }
    json_t *d = j;
    if (json_is_object(member_ci(j, "data")) && member_ci(j, "status") != NULL)
        d = member_ci(j, "data"); /* JSend */
    json_t *req = json_object();
    json_t *q = member_ci(d, "quote"), *e = member_ci(d, "evidence"), *c = member_ci(d, "cert");
    if (req != NULL && q != NULL)
        json_object_set(req, "quote", q);
    if (req != NULL && e != NULL)
        json_object_set(req, "evidence", e);
    struct cairn_error err = {0};
    struct attest_evidence ev;
    int rc = req ? attest_evidence_from_json(req, &w->st, &ev, &err) : CAIRN_ERR_NOMEM;
    json_decref(req);
    if (rc != 0) {
        json_decref(j);
        return cli_fail("%s: %s", path, cairn_error_msg(&err));
    }
    if (c != NULL && !json_is_null(c)) {
        if (!json_is_string(c) ||
            cc_certs_from_pem(json_string_value(c), json_string_length(c), &w->chain, &err) != 0 ||
            sk_X509_num(w->chain) < 1 || sk_X509_num(w->chain) > 2) {
            json_decref(j);
            return cli_fail("%s: \"cert\" is not the Coordinator's intermediate and root (PEM) %s", path,
                            err.msg);
        }
    }
    json_decref(j);
    return 0;
}

static void wire_free(struct wire *w)
{
    attest_issued_free(&w->st);
    sk_X509_pop_free(w->chain, X509_free);
}

/* The Coordinator's quote binds SHA-256(root DER || nonce) (nonce as the
 * client sent it, possibly empty); the intermediate must chain to the root. */
static int coordinator_expected(const struct wire *w, const char *nonce, time_t at, uint8_t out[32], json_t **info)
{
    X509 *root = sk_X509_value(w->chain, sk_X509_num(w->chain) - 1);
    struct cairn_error err = {0};
    if (X509_check_issued(root, root) != X509_V_OK || X509_verify(root, X509_get0_pubkey(root)) != 1)
        return cli_fail("coordinator answer: the last certificate of \"cert\" is not a self-signed root");
    if (sk_X509_num(w->chain) == 2) {
        STACK_OF(X509) *roots = sk_X509_new_null();
        if (roots == NULL || !sk_X509_push(roots, root)) {
            sk_X509_free(roots);
            return cli_fail("out of memory");
        }
        X509_up_ref(root);
        int rc = cc_chain_verify(sk_X509_value(w->chain, 0), NULL, roots, NULL, at, &err);
        sk_X509_pop_free(roots, X509_free);
        if (rc != 0)
            return cli_fail("coordinator answer: the intermediate does not chain to the root: %s",
                            cairn_error_msg(&err));
    }
    uint8_t *der = NULL;
    size_t dl = 0;
    if (cc_cert_to_der(root, &der, &dl) != 0)
        return cli_fail("out of memory");
    size_t nl = nonce ? strlen(nonce) : 0;
    uint8_t *msg = malloc(dl + nl + 1);
    if (msg == NULL) {
        free(der);
        return cli_fail("out of memory");
    }
    memcpy(msg, der, dl);
    if (nl)
        memcpy(msg + dl, nonce, nl);
    cc_sha256(msg, dl + nl, out);
    uint8_t fp[32];
    cc_sha256(der, dl, fp);
    free(msg);
    free(der);
    char *fph = cairn_hex_encode(fp, 32);
    *info = json_pack("{s:s?, s:s?}", "root_sha256", fph, "nonce", nonce);
    free(fph);
    return 0;
}

/* --type az-snp-vtpm|az-tdx-vtpm: the evidence file is the CoCo agent's JSON,
 * verified as the KBS does (kbs_evidence_azure.h) against the expected
 * report data, with --trust-dir as the Coordinator's trust and --policy as a
 * package of the hardware type. */
static int run_verify_kbs_azure(struct cli_ctx *ctx, const char *tee, time_t at)
{
    const struct cli_args *a = &ctx->args;
    const char *ev_path = a->pos[0];
    static const char *const allowed[] = {"type", "time", "report-data", "nonce", "nonce-file", "policy",
                                          "package", "trust-dir", "accepted-tcb-statuses", "accepted-advisories",
                                          NULL};
    for (size_t i = 0; i < a->n_flags; i++) {
        bool ok = false;
        for (const char *const *f = allowed; *f && !ok; f++)
            ok = strcmp(a->flag[i]->name, *f) == 0;
        if (!ok) {
            cli_fail("%s: --%s is not used with %s evidence (its JSON carries every part)", ctx->path,
                     a->flag[i]->name, tee);
            return CLI_EXIT_USAGE;
        }
    }
    if (a->n_pos > 1) {
        cli_fail("%s: %s evidence is one JSON file; no supporting files", ctx->path, tee);
        return CLI_EXIT_USAGE;
    }
    int ret = CLI_EXIT_FAIL;
    uint8_t *rd = NULL, *ev = NULL;
    size_t rl = 0, evn = 0;
    struct trust_store *store = NULL;
    struct attest_claims claims = {0};
    struct evidence_policy pol = {0};
    json_t *out = NULL;
    struct cairn_error err = {0};
    const char *hex = cli_args_get(a, "report-data") ? cli_args_get(a, "report-data") : cli_args_get(a, "nonce");
    const char *nf = cli_args_get(a, "nonce-file");
    if (hex != NULL) {
        if (cairn_hex_decode(hex, strlen(hex), &rd, &rl) != 0 || rl == 0 || rl > 64) {
            cli_fail("%s: --report-data/--nonce must be 1..64 bytes of hex", ctx->path);
            ret = CLI_EXIT_USAGE;
            goto out;
        }
    } else if (nf != NULL) {
        if (cli_read_file("nonce", nf, 64, &rd, &rl) != 0)
            goto out;
    } else {
        cli_fail("%s: %s evidence binds the report data the verifier expects (the KBS: SHA-384 of the session's "
                 "runtime data); give --report-data HEX",
                 ctx->path, tee);
        ret = CLI_EXIT_USAGE;
        goto out;
    }
    enum attest_type hw;
    if (kbs_azure_tee_type(tee, &hw, &err) != 0) {
        cli_fail("%s", cairn_error_msg(&err));
        goto out;
    }
    int prc = policy_from_args(ctx, hw, &pol);
    if (prc != 0) {
        ret = prc;
        goto out;
    }
    const char *tdir = cli_args_get(a, "trust-dir");
    if (tdir != NULL && trust_store_load(tdir, &store, &err) != 0) {
        cli_fail("--trust-dir %s", cairn_error_msg(&err));
        goto out;
    }
    if (cli_read_file("evidence", ev_path, KBS_AZURE_EVIDENCE_MAX, &ev, &evn) != 0)
        goto out;
    if (kbs_evidence_azure_verify(tee, (const char *)ev, evn, rd, rl, NULL, 0, store, at, &claims, &err) != 0) {
        cli_fail("%s evidence does not verify: %s", tee, cairn_error_msg(&err));
        goto out;
    }
    out = json_deep_copy(claims.json);
    char when[32];
    cc_time_format_rfc3339(at ? at : time(NULL), when);
    if (out == NULL || json_object_set_new(out, "verification_time", json_string(when)) != 0 ||
        json_object_set_new(out, "evidence_file", json_string(ev_path)) != 0) {
        cli_fail("out of memory");
        goto out;
    }
    ret = policy_match_print(&pol, &claims, tee, out);
out:
    json_decref(out);
    attest_claims_free(&claims);
    evidence_policy_clear(&pol);
    trust_store_free(store);
    free(rd);
    free(ev);
    return ret;
}

static int run_verify(struct cli_ctx *ctx)
{
    const struct cli_args *a = &ctx->args;
    const char *ev_path = a->pos[0];
    int ret = CLI_EXIT_FAIL;
    uint8_t *evb = NULL, *expected = NULL, *hclb = NULL;
    size_t evn = 0, expected_len = 0, hcln = 0;
    struct trust_files *tf = NULL;
    struct evidence_policy pol = {0};
    struct attest_claims claims = {0};
    json_t *out = NULL, *coord = NULL;
    uint8_t *pcrsig = NULL;
    size_t pcrsig_len = 0;
    struct cairn_error err = {0};
    struct wire wire;
    memset(&wire, 0, sizeof(wire));
    bool is_wire = false;

    /* Usage first: nothing is read before the flags make sense. */
    time_t at = 0;
    const char *ts = cli_args_get(a, "time");
    if (ts != NULL && (cc_time_parse_rfc3339(ts, &at) != 0 || at <= 0)) {
        cli_fail("%s: --time \"%s\" is not an RFC 3339 time (e.g. 2023-07-12T20:48:25Z)", ctx->path, ts);
        return CLI_EXIT_USAGE;
    }
    const char *rd = cli_args_get(a, "report-data"), *nonce = cli_args_get(a, "nonce");
    if ((rd != NULL) + (nonce != NULL) + cli_args_has(a, "nonce-file") > 1) {
        cli_fail("%s: give one of --report-data, --nonce and --nonce-file", ctx->path);
        return CLI_EXIT_USAGE;
    }
    bool ev_json = false;
    {
        /* A JSON evidence file is the wire form; peek without reading twice below. */
        uint8_t *peek = NULL;
        size_t pn = 0;
        if (cairn_file_read(ev_path, TRUST_FILE_MAX, &peek, &pn) == 0) {
            size_t i = 0;
            while (i < pn && (peek[i] == ' ' || peek[i] == '\n' || peek[i] == '\r' || peek[i] == '\t'))
                i++;
            ev_json = i < pn && peek[i] == '{';
        }
        free(peek);
    }
    const char *hex = rd ? rd : nonce;
    if (hex != NULL && !(ev_json && rd == NULL)) {
        if (cairn_hex_decode(hex, strlen(hex), &expected, &expected_len) != 0 || expected_len == 0 ||
            expected_len > 64) {
            free(expected);
            cli_fail("%s: --%s must be 1..64 bytes of hex", ctx->path, rd ? "report-data" : "nonce");
            return CLI_EXIT_USAGE;
        }
    }
    enum attest_type type = ATTEST_SIM;
    const char *ty = cli_args_get(a, "type");
    if (kbs_azure_tee_known(ty)) {
        free(expected);
        return run_verify_kbs_azure(ctx, ty, at);
    }
    if (ty != NULL && (attest_type_parse(ty, &type) != 0 || type == ATTEST_SIM)) {
        free(expected);
        cli_fail("%s: --type \"%s\" is not one of sgx, tdx, snp, tpm, az-snp-vtpm, az-tdx-vtpm", ctx->path, ty);
        return CLI_EXIT_USAGE;
    }

    bool decoded = false;
    if (read_evidence(ev_path, &evb, &evn, &decoded) != 0)
        goto out;
    if (ev_json) {
        if (wire_parse(ev_path, evb, evn, &wire) != 0)
            goto out;
        is_wire = true;
        if (wire.st.type == ATTEST_SIM) {
            cli_fail("%s: simulation evidence proves nothing; there is nothing to verify", ev_path);
            goto out;
        }
        if (wire.chain != NULL) {
            if (rd != NULL || cli_args_has(a, "nonce-file")) {
                cli_fail("%s: a Coordinator answer binds its root certificate; give --nonce (the string sent), "
                         "not --report-data", ev_path);
                ret = CLI_EXIT_USAGE;
                goto out;
            }
            free(expected);
            expected = malloc(32);
            if (expected == NULL || coordinator_expected(&wire, nonce, at, expected, &coord) != 0)
                goto out;
            expected_len = 32;
        } else if (nonce != NULL && rd == NULL) {
            if (cairn_hex_decode(nonce, strlen(nonce), &expected, &expected_len) != 0 || expected_len == 0 ||
                expected_len > 64) {
                cli_fail("%s: --nonce must be 1..64 bytes of hex", ctx->path);
                ret = CLI_EXIT_USAGE;
                goto out;
            }
        }
        free(evb);
        evb = wire.st.quote;
        evn = wire.st.quote_len;
        wire.st.quote = NULL; /* moved */
        if (ty == NULL)
            ty = attest_type_name(wire.st.type);
        else if (type != wire.st.type) {
            cli_fail("%s: the JSON says %s evidence, not %s; fix --type", ev_path, attest_type_name(wire.st.type),
                     attest_type_name(type));
            goto out;
        }
        type = wire.st.type;
    }
    enum attest_type detected;
    int drc = trust_evidence_detect(evb, evn, &detected, &err);
    if (ty == NULL) {
        if (drc != 0) {
            cli_fail("%s: %s; give --type", ev_path, cairn_error_msg(&err));
            goto out;
        }
        type = detected;
    } else if (drc == 0 && detected != type) {
        cli_fail("%s: the bytes are %s evidence, not %s; fix --type", ev_path, attest_type_name(detected),
                 attest_type_name(type));
        goto out;
    }
    tf = trust_files_new(type);
    if (tf == NULL) {
        cli_fail("out of memory");
        goto out;
    }
    /* An Azure HCL report carries the SNP report and the runtime data it
     * binds; on TDX it carries a TDREPORT, which only the platform can check,
     * so there the TD quote is the evidence and the HCL report comes with
     * --hcl-report. */
    struct azure_hcl hcl;
    bool is_hcl = false;
    const char *hcl_path = cli_args_get(a, "hcl-report");
    if (evn >= 4 && memcmp(evb, "HCLA", 4) == 0 && azure_hcl_parse(evb, evn, &hcl, NULL) == 0) {
        if (hcl.report_type == AZURE_HCL_TDX) {
            cli_fail("%s: an Azure TDX HCL report holds a TDREPORT, which only its platform can check: give the "
                     "TD quote as the evidence and this file with --hcl-report",
                     ev_path);
            ret = CLI_EXIT_USAGE;
            goto out;
        }
        is_hcl = type == ATTEST_SNP;
    }
    if (hcl_path != NULL) {
        if (type != ATTEST_TDX || is_hcl) {
            cli_fail("%s: --hcl-report goes with a TDX quote (an SNP HCL report is the evidence itself)", ctx->path);
            ret = CLI_EXIT_USAGE;
            goto out;
        }
        if (cli_read_file("HCL report", hcl_path, AZURE_HCL_MAX, &hclb, &hcln) != 0)
            goto out;
        if (azure_hcl_parse(hclb, hcln, &hcl, &err) != 0) {
            cli_fail("--hcl-report %s: %s", hcl_path, cairn_error_msg(&err));
            goto out;
        }
        if (hcl.report_type != AZURE_HCL_TDX) {
            cli_fail("--hcl-report %s: it carries an SNP report, not a TDREPORT; give it as the evidence", hcl_path);
            ret = CLI_EXIT_USAGE;
            goto out;
        }
        is_hcl = true;
    }
    bool hw_in_hcl = is_hcl && type == ATTEST_SNP;
    if (trust_files_set_evidence(tf, hw_in_hcl ? hcl.hw_report : evb, hw_in_hcl ? hcl.hw_report_len : evn, &err) != 0) {
        cli_fail("%s: %s", ev_path, cairn_error_msg(&err));
        goto out;
    }
    /* The wire form's own members, the trust directory, then named files
     * (flags in order), then the rest by content. */
    if (is_wire) {
        const struct {
            const char *what;
            const void *p;
            size_t n;
            enum trust_file_kind k;
        } parts[] = {
            {"certs", wire.st.certs, wire.st.certs ? strlen(wire.st.certs) : 0, TRUST_FILE_CERTS},
            {"signature", wire.st.signature, wire.st.signature_len, TRUST_FILE_TPM_SIGNATURE},
            {"akPub", wire.st.ak_pub, wire.st.ak_pub_len, TRUST_FILE_TPM_PUBLIC},
            {"pcrs", wire.st.pcrs, wire.st.pcrs_len, TRUST_FILE_PCRS},
            {"eventlog", wire.st.eventlog, wire.st.eventlog_len,
             type == ATTEST_TDX ? TRUST_FILE_CCEL : TRUST_FILE_EVENTLOG},
        };
        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
            if (parts[i].n == 0)
                continue;
            char name[600];
            snprintf(name, sizeof(name), "%s#evidence.%s", ev_path, parts[i].what);
            if (trust_files_add(tf, name, parts[i].p, parts[i].n, parts[i].k, NULL, &err) != 0) {
                cli_fail("%s", cairn_error_msg(&err));
                goto out;
            }
        }
    }
    const char *tdir = cli_args_get(a, "trust-dir");
    if (tdir != NULL && trust_files_add_dir(tf, tdir, &err) != 0) {
        cli_fail("--trust-dir %s", cairn_error_msg(&err));
        goto out;
    }
    const char *vq = cli_args_get(a, "vtpm-quote");
    if (vq != NULL && !is_hcl) {
        cli_fail("%s: --vtpm-quote needs an Azure HCL report (the SNP evidence, or --hcl-report with a TD quote)",
                 ctx->path);
        ret = CLI_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < a->n_flags; i++) {
        enum trust_file_kind k = flag_kind(a->flag[i]->name, type);
        if (k == TRUST_FILE_UNKNOWN)
            continue;
        if (vq != NULL && is_vtpm_flag(a->flag[i]->name))
            continue; /* for the vTPM quote, below */
        if (trust_files_add_path(tf, a->value[i], k, NULL, &err) != 0) {
            cli_fail("--%s %s", a->flag[i]->name, cairn_error_msg(&err));
            goto out;
        }
    }
    for (size_t i = 1; i < a->n_pos; i++) {
        if (trust_files_add_path(tf, a->pos[i], TRUST_FILE_UNKNOWN, NULL, &err) != 0) {
            if (err.code == CAIRN_ERR_VERIFY) /* a foreign root: the message says what to do */
                cli_fail("%s", cairn_error_msg(&err));
            else
                cli_fail("%s; name the file with a flag (see --help) or leave it out", cairn_error_msg(&err));
            goto out;
        }
    }
    size_t nl = 0;
    const uint8_t *nf = trust_files_nonce(tf, &nl);
    if (nf != NULL && expected != NULL) {
        cli_fail("%s: a nonce file and --report-data/--nonce both given; give one", ctx->path);
        ret = CLI_EXIT_USAGE;
        goto out;
    }
    if (nf != NULL) {
        expected = malloc(nl);
        if (expected == NULL) {
            cli_fail("out of memory");
            goto out;
        }
        memcpy(expected, nf, nl);
        expected_len = nl;
    }
    int prc = policy_from_args(ctx, type, &pol);
    if (prc != 0) {
        ret = prc;
        goto out;
    }

    struct attest_evidence ev;
    struct attest_trust trust;
    if (trust_files_build(tf, at, &ev, &trust, &err) != 0) {
        cli_fail("%s", cairn_error_msg(&err));
        goto out;
    }
    trust.require_collateral = cli_args_has(a, "require-collateral");
    const char *pcrsig_path = cli_args_get(a, "pcr-signature");
    if (pcrsig_path != NULL) {
        if (type != ATTEST_TPM) {
            cli_fail("%s: --pcr-signature is for tpm evidence", ctx->path);
            ret = CLI_EXIT_USAGE;
            goto out;
        }
        if (cli_read_file("PCR signature", pcrsig_path, UKI_PCRSIG_MAX_BYTES, &pcrsig, &pcrsig_len) != 0)
            goto out;
        ev.pcr_signature = pcrsig;
        ev.pcr_signature_len = pcrsig_len;
    } else if (is_wire && wire.st.pcr_signature_len > 0) {
        /* the wire form's own "pcrSignature" (a marble's or Coordinator's TPM evidence) */
        ev.pcr_signature = wire.st.pcr_signature;
        ev.pcr_signature_len = wire.st.pcr_signature_len;
    }
    if (attest_verify(&ev, &trust, NULL, 0, &claims, &err) != 0) {
        cli_fail("%s evidence does not verify: %s", attest_type_name(type), cairn_error_msg(&err));
        goto out;
    }
    char why[256];
    if (coord != NULL) /* say which binding failed */
        snprintf(why, sizeof(why),
                 "%s evidence does not bind the Coordinator root certificate of \"cert\" (SHA-256 %.64s) %s",
                 attest_type_name(type), json_string_value(json_object_get(coord, "root_sha256")),
                 nonce ? "with this --nonce" : "without a nonce");
    if (vq == NULL && expected != NULL &&
        check_expected(type, &claims, expected, expected_len, coord != NULL ? why : NULL) != 0)
        goto out;
    if (is_hcl && azure_hcl_check(&hcl, &claims, &err) != 0) {
        cli_fail("%s evidence does not verify: %s", attest_type_name(type), cairn_error_msg(&err));
        goto out;
    }
    size_t ccel_len = 0, table_len = 0;
    const uint8_t *table = NULL;
    const uint8_t *ccel = trust_files_ccel(tf, &ccel_len, &table, &table_len);
    if (type == ATTEST_TDX && ccel != NULL && trust_ccel_check(table, table_len, ccel, ccel_len, claims.json, &err) != 0) {
        cli_fail("tdx evidence does not verify: %s", cairn_error_msg(&err));
        goto out;
    }
    if (type == ATTEST_TDX && ccel == NULL && table != NULL) {
        cli_fail("%s: a CCEL table without the CCEL area; give the log with --eventlog", ctx->path);
        goto out;
    }

    out = json_deep_copy(claims.json);
    char when[32];
    cc_time_format_rfc3339(at ? at : time(NULL), when);
    json_t *files = trust_files_describe(tf);
    if (out == NULL || files == NULL || json_object_set_new(out, "verification_time", json_string(when)) != 0 ||
        json_object_set_new(out, "evidence_file", json_string(ev_path)) != 0 ||
        (decoded && json_object_set_new(out, "evidence_decoded_from_text", json_true()) != 0) ||
        json_object_set_new(out, "supporting_files", files) != 0) {
        cli_fail("out of memory");
        goto out;
    }
    if (vq != NULL && verify_vtpm(a, &hcl, vq, at, expected, expected_len, out) != 0)
        goto out;
    if (coord != NULL) {
        json_object_set_new(out, "coordinator", coord);
        coord = NULL;
        json_array_append_new(json_object_get(out, "checks"), json_string("coordinator_root_binding"));
    }
    json_t *w = warnings_of(type, claims.json, expected != NULL || vq != NULL);
    if (w != NULL)
        json_object_set_new(out, "warnings", w);
    ret = policy_match_print(&pol, &claims, attest_type_name(type), out);
out:
    json_decref(out);
    json_decref(coord);
    wire_free(&wire);
    attest_claims_free(&claims);
    evidence_policy_clear(&pol);
    trust_files_free(tf);
    free(evb);
    free(hclb);
    free(expected);
    free(pcrsig);
    return ret;
}

/* ---- eventlog -------------------------------------------------------------------- */

struct refval_ctx {
    bool ccel;
    uint16_t alg;
    json_t *events;     /* {"pcr8": [ {record, type, digest, text|variable|size}, ... ], ...} */
};

/* Printable text of an event (EV_IPL command lines, EV_EFI_ACTION strings,
 * GRUB's "grub_cmd: ..."), trailing NULs dropped; NULL when not text. */
static char *event_text(const uint8_t *d, uint32_t n)
{
    while (n > 0 && d[n - 1] == 0)
        n--;
    if (n == 0 || n > 4096)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        if ((d[i] < 0x20 && d[i] != '\n' && d[i] != '\t' && d[i] != '\r') || d[i] >= 0x7f)
            return NULL;
    return strndup((const char *)d, n);
}

static int refval_event(void *vctx, const struct eventlog_replay *r, const struct eventlog_event *ev)
{
    struct refval_ctx *c = vctx;
    unsigned b;
    for (b = 0; b < r->n_banks && r->banks[b].alg != c->alg; b++)
        ;
    if (b == r->n_banks || ev->digest[b] == NULL)
        return 0;
    char key[16];
    snprintf(key, sizeof(key), "%s%u", c->ccel ? "rtmr" : "pcr", ev->slot);
    json_t *arr = json_object_get(c->events, key);
    if (arr == NULL) {
        arr = json_array();
        if (arr == NULL || json_object_set_new(c->events, key, arr) != 0)
            return CAIRN_ERR_NOMEM;
    }
    const char *tn = eventlog_event_type_name(ev->type);
    char tbuf[16];
    if (tn == NULL) {
        snprintf(tbuf, sizeof(tbuf), "0x%08x", ev->type);
        tn = tbuf;
    }
    char *dh = cairn_hex_encode(ev->digest[b], r->banks[b].digest_size);
    json_t *e = json_pack("{s:I, s:s, s:s}", "record", (json_int_t)ev->record, "type", tn, "digest", dh ? dh : "");
    free(dh);
    if (e == NULL)
        return CAIRN_ERR_NOMEM;
    char var[128];
    char *text = event_text(ev->data, ev->data_len);
    if (text != NULL)
        json_object_set_new(e, "text", json_string(text));
    else if ((ev->type & 0x80000000u) && (ev->type & 0xFFFu) >= 1 && (ev->type & 0xFFFu) <= 2 &&
             eventlog_efi_variable_name(ev->data, ev->data_len, var, sizeof(var)) == 0)
        json_object_set_new(e, "variable", json_string(var));
    else if (ev->type == 0x800000E0u && eventlog_efi_variable_name(ev->data, ev->data_len, var, sizeof(var)) == 0)
        json_object_set_new(e, "variable", json_string(var));
    else
        json_object_set_new(e, "size", json_integer(ev->data_len));
    free(text);
    return json_array_append_new(arr, e) == 0 ? 0 : CAIRN_ERR_NOMEM;
}

/* --reference-values: the registers the log extends as the identity fields of
 * a manifest package (TPM "PCRs" of one bank, TDX "RTMR"), plus, per
 * register, the events that fed it, so a reviewer sees what is pinned. */
static int print_reference_values(const char *path, const uint8_t *p, size_t len, bool ccel, const char *bank_name)
{
    uint16_t alg = TPM_ALG_SHA384;
    if (!ccel && eventlog_alg_from_name(bank_name ? bank_name : "sha256", &alg) != 0)
        return cli_fail("--bank \"%s\": expected sha1, sha256, sha384 or sha512", bank_name);
    if (ccel && bank_name != NULL && strcasecmp(bank_name, "sha384") != 0)
        return cli_fail("--bank: a CCEL has the SHA-384 bank only");
    struct refval_ctx c = {.ccel = ccel, .alg = alg, .events = json_object()};
    struct eventlog_replay *r = malloc(sizeof(*r));
    struct cairn_error err = {0};
    int ret = CLI_EXIT_FAIL;
    json_t *out = NULL;
    if (r == NULL || c.events == NULL) {
        cli_fail("out of memory");
        goto out;
    }
    if (eventlog_replay_events(p, len, ccel ? EVENTLOG_CCEL : EVENTLOG_TCG, r, refval_event, &c, &err) != 0) {
        cli_fail("%s: %s", path, cairn_error_msg(&err));
        goto out;
    }
    const struct eventlog_bank *bk = eventlog_bank_get(r, alg);
    if (bk == NULL) {
        cli_fail("%s: the log has no %s bank", path, eventlog_alg_name(alg));
        goto out;
    }
    json_t *regs = json_object();
    for (int i = 0; regs && i < (ccel ? 4 : EVENTLOG_PCRS); i++) {
        if (!bk->touched[i])
            continue;
        char key[8];
        snprintf(key, sizeof(key), "%d", i);
        char *h = cairn_hex_encode(bk->pcr[i], bk->digest_size);
        json_object_set_new(regs, key, h ? json_string(h) : json_null());
        free(h);
    }
    json_t *pkg = ccel ? json_pack("{s:s, s:o}", "TEE", "tdx", "RTMR", regs)
                       : json_pack("{s:s, s:{s:o}}", "TEE", "tpm", "PCRs", eventlog_alg_name(alg), regs);
    out = json_pack("{s:s, s:s, s:o, s:O}", "file", path, "format", ccel ? "ccel" : "tcg", "package", pkg, "events",
                    c.events);
    if (out == NULL) {
        cli_fail("out of memory");
        goto out;
    }
    if (r->startup_locality >= 0)
        json_object_set_new(out, "startup_locality", json_integer(r->startup_locality));
    if (print_json(out) == 0)
        ret = CLI_EXIT_OK;
out:
    json_decref(out);
    json_decref(c.events);
    free(r);
    return ret;
}

static int run_eventlog(struct cli_ctx *ctx)
{
    const struct cli_args *a = &ctx->args;
    const char *path = a->pos[0];
    bool want_ccel = cli_args_has(a, "ccel") || cli_args_has(a, "ccel-table");
    bool want_tcg = cli_args_has(a, "tcg");
    if (want_ccel && want_tcg) {
        cli_fail("%s: --ccel and --tcg exclude each other", ctx->path);
        return CLI_EXIT_USAGE;
    }
    uint8_t *p = NULL, *tb = NULL;
    size_t n = 0, tbn = 0;
    if (cli_read_file("event log", path, EVENTLOG_MAX_BYTES, &p, &n) != 0)
        return CLI_EXIT_FAIL;
    const char *tpath = cli_args_get(a, "ccel-table");
    if (tpath != NULL && cli_read_file("CCEL table", tpath, 4096, &tb, &tbn) != 0) {
        free(p);
        return CLI_EXIT_FAIL;
    }
    int ret = CLI_EXIT_FAIL;
    struct cairn_error err = {0};
    struct eventlog_replay *r = malloc(sizeof(*r));
    json_t *out = NULL;
    if (r == NULL) {
        cli_fail("out of memory");
        goto out;
    }
    size_t len = n;
    if (tb != NULL) {
        uint8_t cc_type;
        uint64_t laml, lasa;
        if (eventlog_ccel_table_parse(tb, tbn, &cc_type, &laml, &lasa, &err) != 0) {
            cli_fail("%s: %s", tpath, cairn_error_msg(&err));
            goto out;
        }
        if (laml < len)
            len = (size_t)laml;
    }
    bool ccel;
    if (want_ccel || want_tcg) {
        ccel = want_ccel;
        if (eventlog_replay(p, len, ccel ? EVENTLOG_CCEL : EVENTLOG_TCG, r, &err) != 0) {
            cli_fail("%s: %s", path, cairn_error_msg(&err));
            goto out;
        }
    } else {
        /* By content: a log that replays as TCG with SHA-384 as its only
         * bank is a CCEL (TDX), as is one that replays only as CCEL. */
        struct cairn_error tcg_err = {0};
        if (eventlog_replay(p, len, EVENTLOG_TCG, r, &tcg_err) == 0) {
            ccel = r->n_banks == 1 && r->banks[0].alg == TPM_ALG_SHA384;
            if (ccel && eventlog_replay(p, len, EVENTLOG_CCEL, r, &err) != 0) {
                cli_fail("%s: %s", path, cairn_error_msg(&err));
                goto out;
            }
        } else if (eventlog_replay(p, len, EVENTLOG_CCEL, r, &err) == 0) {
            ccel = true;
        } else {
            cli_fail("%s: %s (and as a CCEL: %s)", path, cairn_error_msg(&tcg_err), cairn_error_msg(&err));
            goto out;
        }
    }
    if (cli_args_has(a, "reference-values")) {
        ret = print_reference_values(path, p, len, ccel, cli_args_get(a, "bank"));
        goto out;
    }
    if (cli_args_has(a, "bank")) {
        cli_fail("%s: --bank goes with --reference-values", ctx->path);
        ret = CLI_EXIT_USAGE;
        goto out;
    }
    out = json_object();
    json_t *banks = json_object();
    if (out == NULL || banks == NULL) {
        json_decref(banks);
        cli_fail("out of memory");
        goto out;
    }
    json_object_set_new(out, "file", json_string(path));
    json_object_set_new(out, "format", json_string(ccel ? "ccel" : "tcg"));
    json_object_set_new(out, "crypto_agile", json_boolean(r->crypto_agile));
    json_object_set_new(out, "records", json_integer((json_int_t)r->n_events));
    json_object_set_new(out, "used_bytes", json_integer((json_int_t)r->used_bytes));
    if (r->startup_locality >= 0)
        json_object_set_new(out, "startup_locality", json_integer(r->startup_locality));
    for (unsigned b = 0; b < r->n_banks; b++) {
        const struct eventlog_bank *bk = &r->banks[b];
        const char *an = eventlog_alg_name(bk->alg);
        if (an == NULL)
            continue;
        json_t *regs = json_object();
        for (int i = 0; regs && i < (ccel ? 4 : EVENTLOG_PCRS); i++) {
            /* every RTMR is printed (an untouched one is zero and that is
             * what a quote must show); PCRs only when the log extends them */
            if (!ccel && !bk->touched[i])
                continue;
            char key[8];
            snprintf(key, sizeof(key), "%d", i);
            char *h = cairn_hex_encode(bk->pcr[i], bk->digest_size);
            json_object_set_new(regs, key, h ? json_string(h) : json_null());
            free(h);
        }
        json_object_set_new(banks, an, regs);
    }
    json_object_set_new(out, ccel ? "rtmrs" : "pcrs", banks);
    if (print_json(out) == 0)
        ret = CLI_EXIT_OK;
out:
    json_decref(out);
    free(r);
    free(p);
    free(tb);
    return ret;
}

static const struct cli_command cmd_verify = {
    .name = "verify",
    .summary = "verify SGX, TDX, SEV-SNP or TPM evidence offline and print its claims as JSON",
    .usage = "<evidence> [supporting files...]",
    .help =
        "Verifies the evidence with the verifiers the Coordinator uses and prints the claims (measurements in\n"
        "hex, report data, TCB status, advisories, the checks that ran) as JSON. Exit 0 only when the evidence\n"
        "verifies (and matches --policy when given); otherwise one line on stderr naming the failed check.\n"
        "\n"
        "Evidence: SGX quote v3 (also behind MarbleRun's OE header), TDX quote v4/v5, SNP report (also inside\n"
        "an Azure HCL report, whose runtime data must be bound by the report data), TPMS_ATTEST;\n"
        "raw bytes, or hex/base64 text. --type is detected from the bytes when omitted.\n"
        "Supporting files are recognised by content: PEM/DER certificates (a self-signed one is trusted only\n"
        "if it is a built-in Intel/AMD root; others need --root), CRLs, Intel TCB info / QE identity JSON,\n"
        "dcap-qvl collateral JSON, TPMT_SIGNATURE, TPMT_PUBLIC or PEM AK, PCR values JSON, TCG event log,\n"
        "CCEL area and table, and a file of at most 64 bytes as the nonce. Flags name a file's kind instead.\n"
        "--nonce HEX (global flag) is the expected report data for SGX/TDX/SNP (prefix, rest zero) and the\n"
        "exact TPM nonce (extraData), like --report-data. --accepted-tcb-statuses/--accepted-advisories\n"
        "(global flags) replace the --policy package's lists.",
    .example = "cairn evidence verify --time 2023-07-12T20:48:25Z quote.dat tcbinfo.json qe_identity.json \\\n"
               "    tcb_signer.pem root_crl.der",
    .offline = true,
    .flags = verify_flags,
    .min_args = 1, .max_args = CLI_MAX_ARGS,
    .run = run_verify,
};

static const struct cli_command cmd_eventlog = {
    .name = "eventlog",
    .summary = "replay a TCG event log or a TDX CCEL and print the PCRs/RTMRs per bank as JSON",
    .usage = "<file>",
    .help = "A TCG PC Client log (SHA-1 or crypto-agile, StartupLocality honoured) prints every PCR the log\n"
            "extends per bank; a CCEL prints RTMR0..3 (SHA-384). The kind is detected (a log whose only bank is\n"
            "SHA-384 is a CCEL) unless --ccel or --tcg says it.\n"
            "With --reference-values: {\"package\": the registers the log extends as manifest package fields\n"
            "(TCG: {\"TEE\": \"tpm\", \"PCRs\": {bank: {index: hex}}}, --bank, default sha256; CCEL: {\"TEE\": \"tdx\",\n"
            "\"RTMR\": {index: hex}}), \"events\": per register (\"pcr8\", \"rtmr1\"), the records that extended it\n"
            "(record number, type, digest, and the text or UEFI variable name when there is one)}. Only replay a log\n"
            "you trust, or one whose replay a verified quote confirms: the log itself proves nothing.",
    .flags = eventlog_flags,
    .offline = true,
    .example = "cairn evidence eventlog /sys/kernel/security/tpm0/binary_bios_measurements",
    .min_args = 1, .max_args = 1,
    .run = run_eventlog,
};

/* ---- trust-dir ------------------------------------------------------------------- */

static int run_trust_dir(struct cli_ctx *ctx)
{
    struct trust_store *st = NULL;
    struct cairn_error err = {0};
    if (trust_store_load(ctx->args.pos[0], &st, &err) != 0)
        return cli_fail("%s", cairn_error_msg(&err));
    json_t *d = trust_store_describe(st);
    trust_store_free(st);
    if (d == NULL)
        return cli_fail("out of memory");
    int rc = print_json(d) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    json_decref(d);
    return rc;
}

static const struct cli_command cmd_trust_dir = {
    .name = "trust-dir",
    .summary = "check a trust directory (as --trust-dir and a Coordinator load it) and list what each file is",
    .usage = "<dir>",
    .help = "Layout: <dir>/sgx/, <dir>/tdx/, <dir>/snp/, <dir>/tpm/ hold certificates, CRLs and Intel collateral\n"
            "(TCB info / QE identity documents or sets, dcap-qvl bundles); <dir>/<type>/roots/ holds the roots for\n"
            "that type. Exit 1 with the first refused file (evidence files, foreign roots outside roots/, unknown\n"
            "subdirectories, unrecognised content).",
    .offline = true,
    .example = "cairn evidence trust-dir /etc/cairn/trust",
    .min_args = 1, .max_args = 1,
    .run = run_trust_dir,
};

static const struct cli_command *const evidence_subs[] = {&cmd_verify, &cmd_eventlog, &cmd_trust_dir, NULL};

const struct cli_command cli_cmd_evidence = {
    .name = "evidence",
    .summary = "verify attestation evidence offline (SGX, TDX, SEV-SNP, TPM) and replay event logs",
    .usage = "<command>",
    .subs = evidence_subs,
};
