/* TCG event logs and CCEL: every shared log replays to the upstream-asserted
 * PCRs/RTMRs; malformed logs fail with a precise error. Needs CAIRN_SHARED_DIR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "attest/eventlog.h"
#include "common/encoding.h"
#include "common/file.h"

#define TV_PROBE "tpm"
#include "test_vectors.h"

static json_t *load_json(const char *rel)
{
    size_t n;
    uint8_t *p = load(rel, &n);
    json_t *j = json_loadb((const char *)p, n, 0, NULL);
    free(p);
    assert_non_null(j);
    return j;
}

static void assert_reg(const uint8_t *got, size_t n, const char *want_hex, const char *what)
{
    char *h = cairn_hex_encode(got, n);
    if (strcasecmp(h, want_hex) != 0)
        print_message("%s: replay %s, expected %s\n", what, h, want_hex);
    assert_string_equal(h, want_hex);
    free(h);
}

static void test_gotpm_logs(void **state)
{
    (void)state;
    NEED_SHARED();
    json_t *exp = load_json("tpm/gotpm_eventlogs_expected_pcrs.json");
    json_t *logs = json_object_get(exp, "logs");
    const char *name;
    json_t *entry;
    int compared = 0, nlogs = 0;
    struct eventlog_replay *r = malloc(sizeof(*r));
    json_object_foreach(logs, name, entry) {
        char rel[300];
        snprintf(rel, sizeof(rel), "tpm/%s", name);
        size_t n;
        uint8_t *p = load(rel, &n);
        struct cairn_error err = {0};
        int rc = eventlog_replay(p, n, EVENTLOG_TCG, r, &err);
        if (rc != 0)
            print_message("%s: %s\n", name, err.msg);
        assert_int_equal(rc, 0);
        nlogs++;
        const char *bank;
        json_t *pcrs;
        json_object_foreach(json_object_get(entry, "banks"), bank, pcrs) {
            uint16_t alg;
            assert_int_equal(eventlog_alg_from_name(bank, &alg), 0);
            const struct eventlog_bank *b = eventlog_bank_get(r, alg);
            assert_non_null(b);
            const char *idx;
            json_t *val;
            json_object_foreach(pcrs, idx, val) {
                char what[400];
                snprintf(what, sizeof(what), "%s %s PCR%s", name, bank, idx);
                unsigned i = (unsigned)atoi(idx);
                assert_true(i < EVENTLOG_PCRS);
                assert_reg(b->pcr[i], b->digest_size, json_string_value(val), what);
                compared++;
            }
        }
        if (strstr(name, "debian-10") != NULL)
            assert_false(r->crypto_agile);
        else
            assert_true(r->crypto_agile);
        if (strstr(name, "gdc-host") != NULL)
            assert_int_equal(r->startup_locality, 3);
        free(p);
    }
    /* display form of the last log */
    json_t *disp = eventlog_replay_to_json(r, EVENTLOG_TCG);
    assert_non_null(disp);
    assert_true(json_object_size(json_object_get(disp, "pcrs")) >= 1);
    assert_int_equal(json_integer_value(json_object_get(disp, "events")), (json_int_t)r->n_events);
    json_decref(disp);
    print_message("replayed %d logs, %d PCR values equal upstream\n", nlogs, compared);
    assert_int_equal(nlogs, 9);
    assert_true(compared > 150);
    free(r);
    json_decref(exp);
}

/* A log replays to the PCRs of the quotes taken on the same boot. */
static void check_log_vs_pcrs(const char *log, const char *pcrs_json, uint16_t alg, const int *idx, size_t nidx)
{
    size_t n;
    uint8_t *p = load(log, &n);
    struct eventlog_replay *r = malloc(sizeof(*r));
    struct cairn_error err = {0};
    assert_int_equal(eventlog_replay(p, n, EVENTLOG_TCG, r, &err), 0);
    json_t *j = load_json(pcrs_json);
    const struct eventlog_bank *b = eventlog_bank_get(r, alg);
    assert_non_null(b);
    for (size_t i = 0; i < nidx; i++) {
        char k[8];
        snprintf(k, sizeof(k), "%d", idx[i]);
        const char *want = json_string_value(json_object_get(json_object_get(j, "pcrs"), k));
        assert_non_null(want);
        assert_reg(b->pcr[idx[i]], b->digest_size, want, pcrs_json);
    }
    json_decref(j);
    free(r);
    free(p);
}

static void test_quote_logs(void **state)
{
    (void)state;
    NEED_SHARED();
    static const int gce[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    check_log_vs_pcrs("tpm/gce_cos85_nonce9009.eventlog.bin", "tpm/gce_cos85_nonce9009.quote_sha1.pcrs.json",
                      TPM_ALG_SHA1, gce, 10);
    check_log_vs_pcrs("tpm/gce_cos85_nonce9009.eventlog.bin", "tpm/gce_cos85_nonce9009.quote_sha256.pcrs.json",
                      TPM_ALG_SHA256, gce, 10);
    check_log_vs_pcrs("tpm/gce_cos85_nonce9009.eventlog.bin", "tpm/gce_cos85_nonce9009.quote_sha384.pcrs.json",
                      TPM_ALG_SHA384, gce, 10);
    static const int win[] = {0, 4, 5, 7, 11, 12, 13, 14};
    check_log_vs_pcrs("tpm/goatt_windows.eventlog.bin", "tpm/goatt_windows.pcrs_sha1.json", TPM_ALG_SHA1, win, 8);
}

/* The per-event callback (reference values): the digests it reports, replayed
 * independently, give the replay's own registers, for every extended PCR. */
struct ev_acc {
    uint8_t pcr[EVENTLOG_PCRS][32];
    size_t n, n8, secureboot;
};

static int acc_event(void *ctx, const struct eventlog_replay *r, const struct eventlog_event *ev)
{
    struct ev_acc *a = ctx;
    unsigned b;
    for (b = 0; b < r->n_banks && r->banks[b].alg != TPM_ALG_SHA256; b++)
        ;
    assert_true(b < r->n_banks && ev->slot < EVENTLOG_PCRS && ev->digest[b] != NULL);
    uint8_t buf[64];
    memcpy(buf, a->pcr[ev->slot], 32);
    memcpy(buf + 32, ev->digest[b], 32);
    unsigned int l = 0;
    assert_int_equal(EVP_Digest(buf, 64, a->pcr[ev->slot], &l, EVP_sha256(), NULL), 1);
    a->n++;
    a->n8 += ev->slot == 8;
    char var[64];
    if (ev->type == 0x80000001u && eventlog_efi_variable_name(ev->data, ev->data_len, var, sizeof(var)) == 0 &&
        strcmp(var, "SecureBoot") == 0)
        a->secureboot++;
    return 0;
}

static void test_events(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t n;
    uint8_t *p = load("tpm/gce_cos85_nonce9009.eventlog.bin", &n);
    static struct eventlog_replay r;
    struct ev_acc a = {0};
    struct cairn_error err = {0};
    assert_int_equal(eventlog_replay_events(p, n, EVENTLOG_TCG, &r, acc_event, &a, &err), 0);
    const struct eventlog_bank *bk = eventlog_bank_get(&r, TPM_ALG_SHA256);
    for (int i = 0; i < EVENTLOG_PCRS; i++)
        if (bk->touched[i])
            assert_memory_equal(a.pcr[i], bk->pcr[i], 32);
    assert_true(a.n8 > 0);
    assert_int_equal(a.secureboot, 1);
    assert_true(a.n < r.n_events);   /* EV_NO_ACTION records are not reported */
    assert_string_equal(eventlog_event_type_name(13), "EV_IPL");
    assert_string_equal(eventlog_event_type_name(0x80000001u), "EV_EFI_VARIABLE_DRIVER_CONFIG");
    assert_string_equal(eventlog_event_type_name(0x800000E0u), "EV_EFI_VARIABLE_AUTHORITY");
    assert_null(eventlog_event_type_name(0x7fffffffu));
    free(p);
}

/* UEFI_VARIABLE_DATA names: golden, truncations and a lying length. */
static void test_efi_variable_name(void **state)
{
    (void)state;
    uint8_t d[16 + 8 + 8 + 20 + 1] = {0};
    d[16] = 10;   /* "SecureBoot": 10 UTF-16 chars */
    d[24] = 1;    /* one data byte */
    const char *nm = "SecureBoot";
    for (int i = 0; i < 10; i++)
        d[32 + 2 * i] = (uint8_t)nm[i];
    d[52] = 1;
    char out[64];
    assert_int_equal(eventlog_efi_variable_name(d, sizeof(d), out, sizeof(out)), 0);
    assert_string_equal(out, "SecureBoot");
    char small[5];
    assert_int_equal(eventlog_efi_variable_name(d, sizeof(d), small, sizeof(small)), 0);
    assert_string_equal(small, "Secu");
    for (size_t len = 0; len < sizeof(d); len++)
        assert_int_equal(eventlog_efi_variable_name(d, len, out, sizeof(out)), CAIRN_ERR_INVALID);
    d[16] = 0xff;
    d[23] = 0xff;   /* name length near 2^64: refused, not wrapped */
    assert_int_equal(eventlog_efi_variable_name(d, sizeof(d), out, sizeof(out)), CAIRN_ERR_INVALID);
}

static void ccel_check(const char *file, const char *r0, const char *r1, const char *r2, const char *r3)
{
    size_t n;
    uint8_t *p = load(file, &n);
    uint8_t rt[4][48];
    struct cairn_error err = {0};
    int rc = eventlog_ccel_replay(NULL, 0, p, n, rt, &err);
    if (rc != 0)
        print_message("%s: %s\n", file, err.msg);
    assert_int_equal(rc, 0);
    const char *want[4] = {r0, r1, r2, r3};
    static const char zero[] = "000000000000000000000000000000000000000000000000"
                               "000000000000000000000000000000000000000000000000";
    for (int i = 0; i < 4; i++)
        assert_reg(rt[i], 48, want[i] ? want[i] : zero, file);
    free(p);
}

static void test_ccel(void **state)
{
    (void)state;
    NEED_SHARED();
    ccel_check("tdx/trustee_ccel_ovmf.bin",
               "8566f998798db09443b244c62de9a3041fb02e2e6936c4396d784bba2e90177329ec5aba3bb484404f2ab9cc90abe193",
               "775b9f6bfe99f8a31396f0d0218e67ffa796d3b96ccf961cbb0deba48c79c00f082cda1a5567c1c16305f1fc210c13c6",
               "94eaf7a7bf398ed8d888c91057ae0261802e4f3df084213a76ca7f0b5055ac9d2241de43cd58d9e8b49c503bbf25f34a",
               NULL);
    ccel_check("tdx/trustee_ccel_grub_gke.bin",
               "bc9945139042cf2cc75caf920aa57f14884ecfd7e893bccc51250c8ce90eb53ce72741e6adaa18183eb1331a87d4544a",
               "c17cb288a4dee302bb9ed8d27257a168f3264ad68cab53757f37eeaa7039657fa887cad65cf910e0fdc435ff110f8a7b",
               "334aeba2c985f8886cea97d1ecffbd512769d528b9a94009583db667ad7d2faa7d37fa145d75b192ceee2d2f10b2eb6d",
               NULL);
    ccel_check("tdx/trustee_CCEL_data",
               "2dc712306a963eadb894ad47dbaa17df44814151555aee11cbb843becca88950ffd079664902e6f22c66f7c8213543f4",
               "0fa3be56af61208bbd179dc7b124988eb929319154663c539d6f46445ecac2fec287075047ff7bd1922829fec28cd3cf",
               NULL, NULL);

    /* go-tdx-guest: with the ACPI table; RTMR0..2 equal the COS 113 quote's. */
    size_t tn, dn;
    uint8_t *tab = load("tdx/gotdx_ccel_table.dat", &tn), *dat = load("tdx/gotdx_ccel_data.dat", &dn);
    uint8_t cc_type;
    uint64_t laml, lasa;
    struct cairn_error err = {0};
    assert_int_equal(eventlog_ccel_table_parse(tab, tn, &cc_type, &laml, &lasa, &err), 0);
    assert_int_equal(cc_type, 2); /* TDX */
    assert_true(laml <= dn);
    uint8_t rt[4][48];
    assert_int_equal(eventlog_ccel_replay(tab, tn, dat, dn, rt, &err), 0);
    assert_reg(rt[0], 48, "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6",
               "gotdx RTMR0");
    assert_reg(rt[1], 48, "f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1",
               "gotdx RTMR1");
    assert_reg(rt[2], 48, "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1",
               "gotdx RTMR2");
    struct eventlog_replay *r = malloc(sizeof(*r));
    assert_int_equal(eventlog_replay(dat, dn, EVENTLOG_CCEL, r, &err), 0);
    assert_int_equal(r->n_events, 44);
    assert_int_equal(r->used_bytes, 18101);
    json_t *disp = eventlog_replay_to_json(r, EVENTLOG_CCEL);
    assert_string_equal(json_string_value(json_object_get(disp, "format")), "ccel");
    assert_string_equal(json_string_value(json_object_get(json_object_get(disp, "rtmrs"), "0")),
                        "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6");
    json_decref(disp);
    free(r);
    /* table mutations */
    tab[0] = 'X';
    assert_int_equal(eventlog_ccel_table_parse(tab, tn, &cc_type, &laml, &lasa, &err), CAIRN_ERR_INVALID);
    tab[0] = 'C';
    tab[40] ^= 1;
    assert_int_equal(eventlog_ccel_table_parse(tab, tn, &cc_type, &laml, &lasa, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "checksum"));
    tab[40] ^= 1;
    assert_int_equal(eventlog_ccel_table_parse(tab, tn - 1, &cc_type, &laml, &lasa, &err), CAIRN_ERR_TRUNCATED);
    /* a flipped digest byte changes RTMR1 (test_rtmr_integrity_error) */
    size_t on;
    uint8_t *td = load("tdx/trustee_CCEL_data", &on);
    uint8_t before[4][48], after[4][48];
    assert_int_equal(eventlog_ccel_replay(NULL, 0, td, on, before, &err), 0);
    /* find the last record's SHA-384 digest: algId 0x000c then 48 bytes */
    struct eventlog_replay *rr = malloc(sizeof(*rr));
    assert_int_equal(eventlog_replay(td, on, EVENTLOG_CCEL, rr, &err), 0);
    size_t end = rr->used_bytes;
    free(rr);
    /* the event data of the last record ends at `end`; flip the byte just before */
    td[end - 1] ^= 1; /* event data is not hashed by replay: RTMRs unchanged */
    assert_int_equal(eventlog_ccel_replay(NULL, 0, td, on, after, &err), 0);
    assert_memory_equal(before, after, sizeof(before));
    td[end - 1] ^= 1;
    free(td);
    free(tab);
    free(dat);
}

/* go-tdx-guest TestReplayCcelWithTdQuote: the quote verifies (present time,
 * no collateral), REPORTDATA == nonce (64 zero bytes), and the CCEL replays
 * to the quote's RTMR0..3. Another boot's CCEL does not. */
static void test_ccel_with_quote(void **state)
{
    (void)state;
    NEED_SHARED();
    size_t qn, tn, dn, nn, on;
    uint8_t *q = load("tdx/gotdx_cos-113-tdx-quote.dat", &qn), *tab = load("tdx/gotdx_ccel_table.dat", &tn);
    uint8_t *dat = load("tdx/gotdx_ccel_data.dat", &dn), *nonce = load("tdx/gotdx_nonce.dat", &nn);
    uint8_t *other = load("tdx/trustee_ccel_ovmf.bin", &on);
    struct attest_evidence ev = {.type = ATTEST_TDX, .quote = q, .quote_len = qn};
    struct attest_claims c;
    struct cairn_error err = {0};
    int rc = attest_verify(&ev, NULL, nonce, nn, &c, &err);
    if (rc != 0)
        print_message("tdx quote: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(eventlog_ccel_match_claims(c.json, tab, tn, dat, dn, &err), 0);
    assert_int_equal(eventlog_ccel_match_claims(c.json, NULL, 0, dat, dn, &err), 0);
    assert_int_equal(eventlog_ccel_match_claims(c.json, NULL, 0, other, on, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "RTMR0 replays to 8566f998"));
    /* trustee test_rtmr_integrity_error: expecting RTMR1 = 2fa3be56... for
     * trustee_CCEL_data fails and the error shows the real 0fa3be56... */
    size_t tdn;
    uint8_t *td = load("tdx/trustee_CCEL_data", &tdn);
    static const char z48[] = "000000000000000000000000000000000000000000000000"
                              "000000000000000000000000000000000000000000000000";
    json_t *want = json_pack(
        "{s:s,s:s,s:s,s:s}", "rtmr0",
        "2dc712306a963eadb894ad47dbaa17df44814151555aee11cbb843becca88950ffd079664902e6f22c66f7c8213543f4", "rtmr1",
        "0fa3be56af61208bbd179dc7b124988eb929319154663c539d6f46445ecac2fec287075047ff7bd1922829fec28cd3cf", "rtmr2", z48,
        "rtmr3", z48);
    assert_int_equal(eventlog_ccel_match_claims(want, NULL, 0, td, tdn, &err), 0);
    json_object_set_new(want, "rtmr1", json_string("2fa3be56af61208bbd179dc7b124988eb929319154663c539d6f46445ecac2f"
                                                   "ec287075047ff7bd1922829fec28cd3cf"));
    assert_int_equal(eventlog_ccel_match_claims(want, NULL, 0, td, tdn, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "RTMR1 replays to 0fa3be56"));
    json_decref(want);
    free(td);
    /* one flipped digest bit in the first measured record changes an RTMR */
    struct eventlog_replay *r = malloc(sizeof(*r));
    assert_int_equal(eventlog_replay(dat, dn, EVENTLOG_CCEL, r, &err), 0);
    free(r);
    /* record 1 starts after the Spec ID record: 32 + its event size */
    uint32_t ev0;
    memcpy(&ev0, dat + 28, 4);
    size_t rec1 = 32 + ev0;
    dat[rec1 + 4 + 4 + 4 + 2 + 10] ^= 0x01; /* inside record 1's SHA-384 digest */
    assert_int_equal(eventlog_ccel_match_claims(c.json, tab, tn, dat, dn, &err), CAIRN_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "RTMR"));
    attest_claims_free(&c);
    free(q);
    free(tab);
    free(dat);
    free(nonce);
    free(other);
}

/* Builds a small crypto-agile log (SHA-256 only) for mutation tests. */
static size_t build_log(uint8_t *b, uint32_t pcr, uint32_t n_algs, uint16_t digest_size)
{
    size_t o = 0;
#define U32(v) do { uint32_t _v = (v); memcpy(b + o, &_v, 4); o += 4; } while (0)
#define U16(v) do { uint16_t _v = (v); memcpy(b + o, &_v, 2); o += 2; } while (0)
#define U8(v) do { b[o++] = (uint8_t)(v); } while (0)
    U32(0);
    U32(3);
    memset(b + o, 0, 20);
    o += 20;
    U32(16 + 4 + 4 + 4 + 4 * n_algs + 1);
    memcpy(b + o, "Spec ID Event03", 16);
    o += 16;
    U32(0);
    U8(0);
    U8(2);
    U8(0);
    U8(2);
    U32(n_algs);
    for (uint32_t i = 0; i < n_algs; i++) {
        U16(TPM_ALG_SHA256);
        U16(digest_size);
    }
    U8(0);
    /* one measured event */
    U32(pcr);
    U32(0x0D);
    U32(1);
    U16(TPM_ALG_SHA256);
    memset(b + o, 0xAB, 32);
    o += 32;
    U32(4);
    memcpy(b + o, "data", 4);
    o += 4;
    return o;
}

static void test_mutations(void **state)
{
    (void)state;
    uint8_t b[512];
    struct eventlog_replay *r = malloc(sizeof(*r));
    struct cairn_error err = {0};
    size_t n = build_log(b, 7, 1, 32);
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_TCG, r, &err), 0);
    assert_int_equal(r->n_events, 2);
    assert_true(r->banks[0].touched[7]);
    assert_false(r->banks[0].touched[6]);
    /* every truncation inside a record fails; at a boundary it replays less */
    for (size_t k = 1; k < n; k++) {
        int rc = eventlog_replay(b, k, EVENTLOG_TCG, r, &err);
        if (k == n - 4 - 4 - 32 - 2 - 4 - 4 - 4)
            assert_int_equal(rc, 0); /* just the header record */
        else
            assert_int_equal(rc, CAIRN_ERR_TRUNCATED);
    }
    assert_int_equal(eventlog_replay(b, 0, EVENTLOG_TCG, r, &err), CAIRN_ERR_INVALID);
    /* PCR index out of range */
    n = build_log(b, 24, 1, 32);
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_TCG, r, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "PCR index 24"));
    /* CCEL index 5 and index 0 */
    n = build_log(b, 5, 1, 32);
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_CCEL, r, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "CC MR index 5"));
    n = build_log(b, 0, 1, 32);
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_CCEL, r, &err), CAIRN_ERR_INVALID);
    /* a CCEL needs SHA-384 */
    n = build_log(b, 1, 1, 32);
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_CCEL, r, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "SHA-384"));
    /* Spec ID: wrong digest size, zero and too many algorithms, duplicate */
    n = build_log(b, 7, 1, 20);
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_TCG, r, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "sha256 digests are 20 bytes"));
    n = build_log(b, 7, 0, 32);
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_TCG, r, &err), CAIRN_ERR_INVALID);
    n = build_log(b, 7, 2, 32);
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_TCG, r, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "twice"));
    /* an event claiming more bytes than are left */
    n = build_log(b, 7, 1, 32);
    uint32_t huge = 0x7fffffff;
    memcpy(b + n - 8, &huge, 4);
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_TCG, r, &err), CAIRN_ERR_TRUNCATED);
    assert_non_null(strstr(err.msg, "record 1: event size"));
    /* an unknown digest algorithm in a record */
    n = build_log(b, 7, 1, 32);
    size_t alg_off = n - 4 - 4 - 32 - 2;
    b[alg_off] = 0x0D;
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_TCG, r, &err), CAIRN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "not in the Spec ID"));
    /* a flipped digest bit changes the replayed PCR */
    n = build_log(b, 7, 1, 32);
    uint8_t pcr_ok[32];
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_TCG, r, &err), 0);
    memcpy(pcr_ok, r->banks[0].pcr[7], 32);
    b[alg_off + 2 + 5] ^= 0x10;
    assert_int_equal(eventlog_replay(b, n, EVENTLOG_TCG, r, &err), 0);
    assert_memory_not_equal(pcr_ok, r->banks[0].pcr[7], 32);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gotpm_logs),
        cmocka_unit_test(test_quote_logs),
        cmocka_unit_test(test_ccel),
        cmocka_unit_test(test_ccel_with_quote),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_efi_variable_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
