/* PCK certificate SGX extension (1.2.840.113741.1.13.1): golden values from
 * the PCK leaves of every shared SGX/TDX quote, truncation and bit-flip
 * mutations, and hand-built DER for each rule. */
#include "test_sgx_util.h"

#include <openssl/x509v3.h>

#include "common/encoding.h"

static const char *const QUOTES[][2] = {
    {"sgx/mobilecoin_hw_quote.dat", "s"},         {"sgx/mcsgx_hw_quote.dat", "s"},
    {"sgx/trustee_occlum_quote.dat", "s"},        {"sgx/steward_icelake_xeon_quote.dat", "s"},
    {"tdx/gotdx_tdx_prod_quote_SPR_E4.dat", "t"}, {"tdx/gotdx_cos-113-tdx-quote.dat", "t"},
    {"tdx/gotdx_quote_v5_sample.dat", "t"},       {"tdx/trustee_tdx_quote_4.dat", "t"},
    {"tdx/trustee_tdx_quote_5.dat", "t"},         {"tdx/phala_tdx_quote.bin", "t"},
};

/* The raw extension value of the PCK leaf in a quote (malloc'd). */
static uint8_t *leaf_ext(const char *rel, bool tdx, size_t *len)
{
    size_t n;
    uint8_t *q = tv_load(rel, &n);
    struct dcap_quote dq;
    struct cairn_error err = {0};
    assert_int_equal(dcap_quote_parse(q, n, tdx ? DCAP_TEE_TDX : DCAP_TEE_SGX, &dq, &err), 0);
    BIO *b = BIO_new_mem_buf(dq.pck_pem, (int)dq.pck_pem_size);
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(leaf);
    ASN1_OBJECT *o = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
    int idx = X509_get_ext_by_OBJ(leaf, o, -1);
    ASN1_OBJECT_free(o);
    assert_true(idx >= 0);
    ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
    *len = (size_t)ASN1_STRING_length(os);
    uint8_t *out = malloc(*len);
    memcpy(out, ASN1_STRING_get0_data(os), *len);
    struct dcap_pck_info a, b2;
    assert_int_equal(dcap_pck_info_parse(leaf, &a, &err), 0);
    assert_int_equal(dcap_pck_ext_parse(out, *len, &b2, &err), 0);
    assert_memory_equal(&a, &b2, sizeof(a));
    X509_free(leaf);
    free(q);
    return out;
}

static void hex_eq(const uint8_t *p, size_t n, const char *want)
{
    char *h = cairn_hex_encode(p, n);
    assert_string_equal(h, want);
    free(h);
}

static void test_golden(void **state)
{
    (void)state;
    struct dcap_pck_info pi;
    struct cairn_error err = {0};
    size_t n;
    uint8_t *e = leaf_ext("sgx/mobilecoin_hw_quote.dat", false, &n);
    assert_int_equal(dcap_pck_ext_parse(e, n, &pi, &err), 0);
    hex_eq(pi.fmspc, 6, "00906ed50000");
    hex_eq(pi.pceid, 2, "0000");
    hex_eq(pi.ppid, 16, "7cd196834f0bd237fa3ec65dae404c5a");
    static const uint8_t comps[16] = {20, 20, 2, 4, 1, 128, 14, 0};
    assert_memory_equal(pi.comp_svn, comps, 16);
    assert_int_equal(pi.pcesvn, 13);
    assert_false(pi.has_platform_instance_id); /* single-package, Processor CA */
    free(e);

    e = leaf_ext("tdx/gotdx_tdx_prod_quote_SPR_E4.dat", true, &n);
    assert_int_equal(dcap_pck_ext_parse(e, n, &pi, &err), 0);
    hex_eq(pi.ppid, 16, "089ddfdb9c0359c82a3bc7719239574e");
    hex_eq(pi.fmspc, 6, "50806f000000");
    hex_eq(pi.pceid, 2, "0000");
    assert_int_equal(pi.pcesvn, 11);
    hex_eq(pi.cpusvn, 16, "03030202020100020000000000000000");
    free(e);

    e = leaf_ext("sgx/steward_icelake_xeon_quote.dat", false, &n);
    assert_int_equal(dcap_pck_ext_parse(e, n, &pi, &err), 0);
    static const uint8_t sc[16] = {4, 4, 3, 3, 255, 255};
    assert_memory_equal(pi.comp_svn, sc, 16);
    assert_int_equal(pi.pcesvn, 11);
    assert_true(pi.has_platform_instance_id); /* multi-package, Platform CA */
    free(e);

    /* every leaf parses */
    for (size_t i = 0; i < sizeof(QUOTES) / sizeof(QUOTES[0]); i++) {
        e = leaf_ext(QUOTES[i][0], QUOTES[i][1][0] == 't', &n);
        free(e);
    }
}

static void test_mutations(void **state)
{
    (void)state;
    struct cairn_error err = {0};
    struct dcap_pck_info pi, orig;
    size_t rejected = 0, total = 0;
    for (size_t v = 0; v < sizeof(QUOTES) / sizeof(QUOTES[0]); v++) {
        size_t n;
        uint8_t *e = leaf_ext(QUOTES[v][0], QUOTES[v][1][0] == 't', &n);
        assert_int_equal(dcap_pck_ext_parse(e, n, &orig, &err), 0);
        for (size_t len = 0; len < n; len++) {
            uint8_t *m = malloc(len ? len : 1);
            memcpy(m, e, len);
            assert_true(dcap_pck_ext_parse(m, len, &pi, &err) < 0);
            free(m);
        }
        uint8_t *m = malloc(n + 1);
        memcpy(m, e, n);
        m[n] = 0;
        assert_int_equal(dcap_pck_ext_parse(m, n + 1, &pi, &err), CAIRN_ERR_INVALID);
        assert_non_null(strstr(err.msg, "not one SEQUENCE"));
        for (size_t i = 0; i < n; i++) {
            for (int bit = 0; bit < 8; bit++) {
                memcpy(m, e, n);
                m[i] ^= (uint8_t)(1u << bit);
                total++;
                if (dcap_pck_ext_parse(m, n, &pi, &err) < 0)
                    rejected++;
                else if (i < 4) /* the outer SEQUENCE header */
                    fail();
            }
        }
        free(m);
        free(e);
    }
    /* Flips inside values (SVNs, PPID, ...) legitimately parse to other
     * values; flips in tags, lengths and OIDs must not. */
    fprintf(stderr, "%zu of %zu single-bit flips rejected\n", rejected, total);
    assert_true(rejected > total / 2);
}

/* ---- hand-built DER ---- */

static size_t tlv(uint8_t *out, uint8_t tag, const uint8_t *v, size_t n)
{
    size_t o = 0;
    out[o++] = tag;
    if (n < 128) {
        out[o++] = (uint8_t)n;
    } else {
        out[o++] = 0x82;
        out[o++] = (uint8_t)(n >> 8);
        out[o++] = (uint8_t)n;
    }
    memmove(out + o, v, n);
    return o + n;
}

static const uint8_t BASE_OID[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

static size_t entry(uint8_t *out, const uint8_t *sfx, size_t sl, uint8_t vtag, const uint8_t *v,
                    size_t vl)
{
    uint8_t oid[16], body[1024];
    memcpy(oid, BASE_OID, sizeof(BASE_OID));
    memcpy(oid + sizeof(BASE_OID), sfx, sl);
    size_t o = tlv(body, 0x06, oid, sizeof(BASE_OID) + sl);
    o += tlv(body + o, vtag, v, vl);
    return tlv(out, 0x30, body, o);
}

struct spec {
    int skip;       /* field number to leave out (0 = none) */
    int dup;        /* field number to repeat */
    int comp_value; /* value of TCB component 1 (as DER INTEGER content) */
    size_t fmspc_len;
    bool neg_pcesvn;
};

static size_t build(uint8_t *out, const struct spec *s)
{
    uint8_t seq[2048], tcb[1024], tmp[1024];
    size_t o = 0, t = 0;
    for (int i = 1; i <= 18; i++) {
        uint8_t sfx[2] = {0x02, (uint8_t)i};
        uint8_t v[16] = {0};
        if (i <= 16) {
            size_t vl = 1;
            v[0] = (uint8_t)(i == 1 ? s->comp_value : i);
            if (i == 1 && s->comp_value > 255) {
                v[0] = (uint8_t)(s->comp_value >> 8);
                v[1] = (uint8_t)s->comp_value;
                vl = 2;
            }
            t += entry(tcb + t, sfx, 2, 0x02, v, vl);
        } else if (i == 17) {
            v[0] = s->neg_pcesvn ? 0x80 : 0x0b;
            t += entry(tcb + t, sfx, 2, 0x02, v, 1);
        } else {
            t += entry(tcb + t, sfx, 2, 0x04, v, 16);
        }
    }
    for (int f = 1; f <= 5; f++) {
        for (int rep = 0; rep < (f == s->dup ? 2 : 1); rep++) {
            if (f == s->skip)
                continue;
            uint8_t sfx = (uint8_t)f, v[16] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
            size_t el;
            switch (f) {
            case 1:
                el = entry(tmp, &sfx, 1, 0x04, v, 16);
                break;
            case 2:
                el = 0;
                break;
            case 3:
                el = entry(tmp, &sfx, 1, 0x04, v, 2);
                break;
            case 4:
                el = entry(tmp, &sfx, 1, 0x04, v, s->fmspc_len);
                break;
            default:
                v[0] = 1;
                el = entry(tmp, &sfx, 1, 0x0a, v, 1);
                break;
            }
            if (f == 2) {
                /* the TCB entry is larger than tmp: build in place */
                o += entry(seq + o, &sfx, 1, 0x30, tcb, t);
            } else {
                memcpy(seq + o, tmp, el);
                o += el;
            }
        }
    }
    return tlv(out, 0x30, seq, o);
}

static void test_rules(void **state)
{
    (void)state;
    uint8_t der[4096];
    struct dcap_pck_info pi;
    struct cairn_error err = {0};
    struct spec ok = {.comp_value = 7, .fmspc_len = 6};
    size_t n = build(der, &ok);
    assert_int_equal(dcap_pck_ext_parse(der, n, &pi, &err), 0);
    assert_int_equal(pi.comp_svn[0], 7);
    assert_int_equal(pi.comp_svn[15], 16);
    assert_int_equal(pi.pcesvn, 11);
    assert_int_equal(pi.sgx_type, 1);
    hex_eq(pi.fmspc, 6, "aabbccddeeff");

    static const struct {
        struct spec s;
        const char *msg;
    } bad[] = {
        {{.skip = 4, .comp_value = 7, .fmspc_len = 6}, "PPID, TCB, PCE-ID or FMSPC missing"},
        {{.skip = 2, .comp_value = 7, .fmspc_len = 6}, "PPID, TCB, PCE-ID or FMSPC missing"},
        {{.dup = 3, .comp_value = 7, .fmspc_len = 6}, "field 3 appears twice"},
        {{.comp_value = 300, .fmspc_len = 6}, "TCB component 1 is not an integer 0..255"},
        {{.comp_value = 7, .fmspc_len = 5}, "FMSPC is not a 6-byte OCTET STRING"},
        {{.comp_value = 7, .fmspc_len = 6, .neg_pcesvn = true},
         "PCESVN is not an integer 0..65535"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = build(der, &bad[i].s);
        int rc = dcap_pck_ext_parse(der, n, &pi, &err);
        if (rc != CAIRN_ERR_INVALID || strstr(err.msg, bad[i].msg) == NULL) {
            fprintf(stderr, "case %zu: %d %s\n", i, rc, err.msg);
            fail();
        }
    }
    /* indefinite length and an oversized length */
    static const uint8_t indef[] = {0x30, 0x80, 0x00, 0x00};
    assert_int_equal(dcap_pck_ext_parse(indef, sizeof(indef), &pi, &err), CAIRN_ERR_INVALID);
    static const uint8_t huge[] = {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x00};
    assert_int_equal(dcap_pck_ext_parse(huge, sizeof(huge), &pi, &err), CAIRN_ERR_INVALID);
    assert_int_equal(dcap_pck_ext_parse(NULL, 0, &pi, &err), CAIRN_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
