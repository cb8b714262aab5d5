/* Intel collateral on arbitrary bytes. The input is the text of a tcbInfo
 * (first byte even) or enclaveIdentity (odd) object; the harness signs it
 * with a TCB signing key of its own test CA (made once), so the fuzzer gets
 * past the signature into the JSON field checks and the TCB level matching.
 * The same bytes also go through the PCS document parser unsigned.
 *
 * Speed (docs/fuzzing.md): signing and verifying are most of the cost of an
 * execution, so the harness does each only where it can reach new code: a
 * body that is not one JSON value is neither signed nor evaluated (wrapped, it
 * would only fail the same JSON parse the unsigned pass already took), and
 * the unsigned evaluation runs only for document sets, because for a single
 * document it would repeat collateral_doc_parse() on the same bytes. */
#include <openssl/ec.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/collateral.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *g_key;
static STACK_OF(X509) * g_roots, *g_chain;
static char *g_tcb[2]; /* signed minimal TCB info (SGX, TDX) used when the input is a QE identity */
static size_t g_tcb_len[2];

static char *wrap(const char *key, const uint8_t *body, size_t n, size_t *out_len);

static void setup(void)
{
    EVP_PKEY *rk;
    X509 *root, *signer;
    if (cc_key_generate(CC_KEY_EC_P256, 0, &rk, NULL) != 0 ||
        cc_key_generate(CC_KEY_EC_P256, 0, &g_key, NULL) != 0)
        abort();
    struct cc_cert_template rt = {.subject = {.common_name = "Fuzz Root"},
                                  .is_ca = true,
                                  .max_path_len = -1,
                                  .not_before = 1000000000,
                                  .not_after = 2500000000};
    struct cc_cert_template st = {.subject = {.common_name = "Intel SGX TCB Signing"},
                                  .max_path_len = -1,
                                  .not_before = 1000000000,
                                  .not_after = 2500000000};
    if (cc_cert_issue(&rt, rk, NULL, rk, &root, NULL) != 0 ||
        cc_cert_issue(&st, g_key, root, rk, &signer, NULL) != 0)
        abort();
    g_roots = sk_X509_new_null();
    g_chain = sk_X509_new_null();
    sk_X509_push(g_roots, root);
    sk_X509_push(g_chain, signer);
    EVP_PKEY_free(rk);
    static const char Z16[] =
        "[{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},"
        "{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},"
        "{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0}]";
    for (int k = 0; k < 2; k++) {
        char b[2048];
        snprintf(
            b, sizeof(b),
            "{\"id\":\"%s\",\"version\":3,\"issueDate\":\"2023-01-01T00:00:00Z\",\"nextUpdate\":"
            "\"2024-01-01T00:00:00Z\",\"fmspc\":\"00906ED50000\",\"pceId\":\"0000\",\"tcbLevels\":["
            "{\"tcb\":"
            "{\"sgxtcbcomponents\":%s,\"pcesvn\":0%s%s},\"tcbDate\":\"2023-01-01T00:00:00Z\","
            "\"tcbStatus\":"
            "\"UpToDate\"}]}",
            k ? "TDX" : "SGX", Z16, k ? ",\"tdxtcbcomponents\":" : "", k ? Z16 : "");
        g_tcb[k] = wrap("tcbInfo", (const uint8_t *)b, strlen(b), &g_tcb_len[k]);
    }
}

/* {"<key>":<body>,"signature":"<hex r||s>"} */
static char *wrap(const char *key, const uint8_t *body, size_t n, size_t *out_len)
{
    uint8_t *der;
    size_t dl;
    if (cc_sign(g_key, "SHA256", body, n, &der, &dl) != 0)
        abort();
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    uint8_t rs[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(s), rs, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), rs + 32, 32);
    ECDSA_SIG_free(s);
    free(der);
    size_t cap = n + 200;
    char *doc = malloc(cap);
    size_t o = (size_t)snprintf(doc, cap, "{\"%s\":", key);
    memcpy(doc + o, body, n);
    o += n;
    o += (size_t)snprintf(doc + o, cap - o, ",\"signature\":\"");
    for (int i = 0; i < 64; i++)
        o += (size_t)snprintf(doc + o, cap - o, "%02x", rs[i]);
    o += (size_t)snprintf(doc + o, cap - o, "\"}");
    *out_len = o;
    return doc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_key == NULL) {
        setup();
        /* Cached entries outlive a run; libFuzzer then takes every run for a
         * possible leak and scans memory each time. The cache has unit tests. */
        dcap_cache_set_enabled(false);
    }
    struct cairn_error err = {0};
    const char *body;
    size_t blen;
    uint8_t sig[64];
    json_t *obj;
    if (collateral_doc_parse("fuzz", (const char *)data, size, "tcbInfo", &body, &blen, sig, &obj,
                             &err) == 0) {
        if (body < (const char *)data || body + blen > (const char *)data + size)
            abort();
        json_decref(obj);
    }
    if (size < 2 || size > 65536)
        return 0;
    /* The raw bytes as TCB info and QE identity document sets, unsigned: the
     * set selection. A single document would only go through
     * collateral_doc_parse() again (above) and fail its signature. */
    size_t ws = 0;
    while (ws < size && (data[ws] == ' ' || data[ws] == '\t' || data[ws] == '\n' || data[ws] == '\r'))
        ws++;
    if (ws < size && data[ws] == '[') {
        struct dcap_pck_info p0;
        memset(&p0, 0, sizeof(p0));
        p0.fmspc[1] = 0x90;
        uint8_t rep[384] = {0}, sv[16] = {0}, sg[48] = {0}, at[8] = {0};
        struct collateral_input i0 = {.tdx = (data[0] & 2) != 0,
                                      .pck = &p0,
                                      .qe_report = rep,
                                      .tee_tcb_svn = sv,
                                      .mr_signer_seam = sg,
                                      .seam_attributes = at};
        struct attest_trust t0 = {.intel_roots = g_roots,
                                  .collateral_chain = g_chain,
                                  .tcb_info = (const char *)data,
                                  .tcb_info_len = size,
                                  .qe_identity = (const char *)data,
                                  .qe_identity_len = size};
        json_t *ck = json_array();
        struct collateral_result r0;
        if (collateral_evaluate(&i0, &t0, 1689000000, ck, &r0, &err) == 0)
            collateral_result_free(&r0);
        json_decref(ck);
    }
    bool qe = data[0] & 1, tdx = data[0] & 2;
    /* The body must be one JSON value for the wrapped document to parse (with
     * the flags of collateral_doc_parse()); otherwise signing is wasted. The
     * texts this skips are the ones that only JSON-parse once wrapped
     * ("1,\"x\":2"), and their signature never verifies: the signed bytes
     * are the whole body, the verified bytes only the member's value. */
    json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                           NULL);
    if (j == NULL)
        return 0;
    size_t dl;
    char *doc = wrap(qe ? "enclaveIdentity" : "tcbInfo", data + 1, size - 1, &dl);

    /* A platform that matches whatever FMSPC/PCE-ID the document names. */
    struct dcap_pck_info pck;
    memset(&pck, 0, sizeof(pck));
    memset(pck.comp_svn, 3, 16);
    pck.pcesvn = 11;
    pck.fmspc[1] = 0x90;
    pck.fmspc[2] = 0x6e;
    pck.fmspc[3] = 0xd5;
    const char *fm = json_string_value(json_object_get(j, "fmspc"));
    if (!qe && fm != NULL && strlen(fm) == 12)
        for (int i = 0; i < 6; i++)
            sscanf(fm + 2 * i, "%2hhx", &pck.fmspc[i]);
    json_decref(j);
    uint8_t qe_report[384] = {0}, svn[16] = {3, 1, 3}, signer[48] = {0}, attr[8] = {0};
    qe_report[SGX_RB_ISVSVN] = 8;
    struct collateral_input in = {.tdx = tdx,
                                  .pck = &pck,
                                  .qe_report = qe_report,
                                  .tee_tcb_svn = svn,
                                  .mr_signer_seam = signer,
                                  .seam_attributes = attr};
    struct attest_trust t = {.intel_roots = g_roots,
                             .collateral_chain = g_chain,
                             .tcb_info = qe ? g_tcb[tdx] : doc,
                             .tcb_info_len = qe ? g_tcb_len[tdx] : dl,
                             .qe_identity = qe ? doc : NULL,
                             .qe_identity_len = qe ? dl : 0};
    json_t *checks = json_array();
    struct collateral_result r;
    /* inside the usual windows of the seeds (2023) */
    if (collateral_evaluate(&in, &t, 1689000000, checks, &r, &err) == 0)
        collateral_result_free(&r);
    json_decref(checks);
    free(doc);
    return 0;
}
