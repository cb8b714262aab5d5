/* configfs-tsm issuer and the SNP certificate table: the attribute exchange
 * runs against a directory laid out like a configfs-tsm report entry (the
 * real configfs needs a TDX/SNP guest kernel), filled with a real SNP report
 * and a certificate table built from the shared VCEK/ASK/ARK; the issued
 * evidence then verifies. Needs CAIRN_SHARED_DIR for the vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/attest.h"
#include "attest/issuer.h"
#include "attest/snp.h"
#include "common/file.h"

#define TV_PROBE "snp"
#include "test_vectors.h"

static size_t pem_to_der(const char *rel, uint8_t *out, size_t cap)
{
    size_t n;
    uint8_t *p = load(rel, &n);
    BIO *b = BIO_new_mem_buf(p, (int)n);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    free(p);
    assert_non_null(x);
    unsigned char *d = NULL;
    int dl = i2d_X509(x, &d);
    X509_free(x);
    assert_true(dl > 0 && (size_t)dl <= cap);
    memcpy(out, d, (size_t)dl);
    OPENSSL_free(d);
    return (size_t)dl;
}

static const uint8_t VCEK_GUID[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                      0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
static const uint8_t ASK_GUID[16] = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                     0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
static const uint8_t ARK_GUID[16] = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                                     0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};

/* Table: 4 entries (3 + terminator) of 24 bytes, then the DER blobs. */
static size_t build_table(uint8_t *t, size_t cap)
{
    size_t vn;
    uint8_t *vcek = load("snp/trustee_test-vcek.der", &vn);
    uint8_t ask[4096], ark[4096];
    size_t skn = pem_to_der("roots/amd_milan_ask.pem", ask, sizeof(ask));
    size_t rkn = pem_to_der("roots/amd_milan_ark.pem", ark, sizeof(ark));
    size_t off = 4 * 24;
    assert_true(off + vn + skn + rkn <= cap);
    memset(t, 0, off);
    const uint8_t *g[3] = {VCEK_GUID, ASK_GUID, ARK_GUID};
    const uint8_t *d[3] = {vcek, ask, ark};
    size_t l[3] = {vn, skn, rkn};
    /* ARK first in the table: the output must still put the VCEK first */
    int order[3] = {2, 1, 0};
    for (int k = 0; k < 3; k++) {
        int i = order[k];
        memcpy(t + 24 * k, g[i], 16);
        uint32_t o32 = (uint32_t)off, l32 = (uint32_t)l[i];
        memcpy(t + 24 * k + 16, &o32, 4);
        memcpy(t + 24 * k + 20, &l32, 4);
        memcpy(t + off, d[i], l[i]);
        off += l[i];
    }
    free(vcek);
    return off;
}

static void test_certtable(void **state)
{
    (void)state;
    NEED_SHARED();
    uint8_t *t = malloc(16384);
    size_t tn = build_table(t, 16384);
    char *pem = NULL;
    struct cairn_error err = {0};
    assert_int_equal(snp_certtable_to_pem(t, tn, &pem, &err), 0);
    STACK_OF(X509) *sk = NULL;
    assert_int_equal(attest_certs_parse((const uint8_t *)pem, strlen(pem), &sk, &err), 0);
    assert_int_equal(sk_X509_num(sk), 3);
    sk_X509_pop_free(sk, X509_free);
    /* the report verifies with the certificates from the table */
    size_t rn;
    uint8_t *rep = load("snp/trustee_test-report.bin", &rn);
    struct attest_evidence ev = {.type = ATTEST_SNP, .quote = rep, .quote_len = rn, .certs = (const uint8_t *)pem,
                                 .certs_len = strlen(pem)};
    struct attest_claims c;
    assert_int_equal(attest_verify(&ev, NULL, NULL, 0, &c, &err), 0);
    attest_claims_free(&c);
    free(pem);
    /* cut short: entries now point past the end */
    assert_int_equal(snp_certtable_to_pem(t, 3 * 24 + 10, &pem, &err), CAIRN_ERR_INVALID);
    /* no terminator: one in-bounds entry of an unknown kind, then the end */
    uint8_t one[24] = {1};
    uint32_t o0 = 0, l24 = 24;
    memcpy(one + 16, &o0, 4);
    memcpy(one + 20, &l24, 4);
    assert_int_equal(snp_certtable_to_pem(one, sizeof(one), &pem, &err), CAIRN_ERR_TRUNCATED);
    assert_non_null(strstr(err.msg, "terminator"));
    /* entry pointing outside the table */
    uint32_t bad = (uint32_t)tn;
    uint8_t save[4];
    memcpy(save, t + 16, 4);
    memcpy(t + 16, &bad, 4);
    assert_int_equal(snp_certtable_to_pem(t, tn, &pem, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "outside"));
    memcpy(t + 16, save, 4);
    /* the VCEK entry (third) renamed to an unknown GUID: no leaf */
    t[48] ^= 0xff;
    assert_int_equal(snp_certtable_to_pem(t, tn, &pem, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no VCEK"));
    t[48] ^= 0xff;
    /* a certificate slot with garbage */
    uint32_t vo;
    memcpy(&vo, t + 48 + 16, 4);
    t[vo] = 0x00;
    assert_int_equal(snp_certtable_to_pem(t, tn, &pem, &err), CAIRN_ERR_INVALID);
    free(rep);
    free(t);
}

static void put(const char *dir, const char *name, const void *p, size_t n)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n > 0)
        assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void rm_entry(const char *dir)
{
    static const char *const names[] = {"inblob", "outblob", "auxblob", "provider", "generation"};
    char path[1200];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_exchange(void **state)
{
    (void)state;
    NEED_SHARED();
    char base[] = "/tmp/cairn-tsm-XXXXXX";
    assert_non_null(mkdtemp(base));
    char entry[128];
    snprintf(entry, sizeof(entry), "%s/e1", base);
    assert_int_equal(mkdir(entry, 0700), 0);
    size_t rn;
    uint8_t *rep = load("snp/trustee_test-report.bin", &rn);
    uint8_t *t = malloc(16384);
    size_t tn = build_table(t, 16384);
    put(entry, "inblob", NULL, 0);
    put(entry, "provider", "sev_guest\n", 10);
    put(entry, "generation", "1\n", 2);
    put(entry, "outblob", rep, rn);
    put(entry, "auxblob", t, tn);
    uint8_t rd[64];
    for (int i = 0; i < 64; i++)
        rd[i] = (uint8_t)i;
    struct attest_issued is;
    struct cairn_error err = {0};
    assert_int_equal(tsm_exchange(entry, ATTEST_SNP, rd, &is, &err), 0);
    assert_int_equal(is.type, ATTEST_SNP);
    assert_int_equal(is.quote_len, rn);
    assert_memory_equal(is.quote, rep, rn);
    assert_non_null(is.certs);
    /* the report data reached inblob */
    char path[200];
    snprintf(path, sizeof(path), "%s/inblob", entry);
    uint8_t *in = NULL;
    size_t inl = 0;
    assert_int_equal(cairn_file_read(path, 1024, &in, &inl), 0);
    assert_int_equal(inl, 64);
    assert_memory_equal(in, rd, 64);
    free(in);
    /* the issued evidence goes through the wire form and verifies */
    json_t *req = json_object();
    assert_int_equal(attest_evidence_to_json(&is, req), 0);
    struct attest_issued st;
    struct attest_evidence ev;
    assert_int_equal(attest_evidence_from_json(req, &st, &ev, &err), 0);
    struct attest_claims c;
    assert_int_equal(attest_verify(&ev, NULL, NULL, 0, &c, &err), 0);
    assert_string_equal(json_string_value(json_object_get(c.json, "product")), "Milan");
    attest_claims_free(&c);
    attest_issued_free(&st);
    json_decref(req);
    attest_issued_free(&is);

    /* provider mismatch, unknown provider, missing outblob */
    assert_int_equal(tsm_exchange(entry, ATTEST_TDX, rd, &is, &err), CAIRN_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "sev_guest"));
    put(entry, "provider", "arm_cca_guest\n", 14);
    assert_int_equal(tsm_exchange(entry, ATTEST_SNP, rd, &is, &err), CAIRN_ERR_UNSUPPORTED);
    put(entry, "provider", "tdx_guest\n", 10);
    put(entry, "outblob", "QUOTE", 5);
    assert_int_equal(tsm_exchange(entry, ATTEST_TDX, rd, &is, &err), 0);
    assert_int_equal(is.type, ATTEST_TDX);
    assert_int_equal(is.quote_len, 5);
    assert_null(is.certs);
    attest_issued_free(&is);
    put(entry, "outblob", NULL, 0);
    assert_int_equal(tsm_exchange(entry, ATTEST_TDX, rd, &is, &err), CAIRN_ERR_IO);
    snprintf(path, sizeof(path), "%s/outblob", entry);
    unlink(path);
    assert_int_equal(tsm_exchange(entry, ATTEST_TDX, rd, &is, &err), CAIRN_ERR_IO);
    rm_entry(entry);

    /* tsm_issue: absent configfs, and a directory that is not configfs (the
     * entry has no attributes): an error, and the entry is removed again */
    struct attest_issuer_config cfg = {.configfs_tsm = "/nonexistent/tsm/report"};
    assert_int_equal(attest_issue(ATTEST_SNP, rd, &cfg, &is, &err), CAIRN_ERR_UNSUPPORTED);
    cfg.configfs_tsm = base;
    assert_int_equal(attest_issue(ATTEST_SNP, rd, &cfg, &is, &err), CAIRN_ERR_IO);
    enum attest_type pt;
    assert_false(tsm_probe(&cfg, &pt));
    DIR *d = opendir(base);
    int entries = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        entries += de->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 0);
    rmdir(base);
    free(rep);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certtable),
        cmocka_unit_test(test_exchange),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
