/* KBS protocol evidence shapes -> struct attest_evidence, and the runtime-data
 * binding (kbs_evidence.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest/kbs_evidence.h"
#include "common/buf.h"
#include "common/encoding.h"
#include "crypto/crypto.h"

static const struct {
    const char *name;
    enum kbs_tee tee;
} g_tees[] = {
    {"tdx", KBS_TEE_TDX},
    {"snp", KBS_TEE_SNP},
    {"sample", KBS_TEE_SAMPLE},
    {"az-snp-vtpm", KBS_TEE_AZ_SNP_VTPM},
    {"az-tdx-vtpm", KBS_TEE_AZ_TDX_VTPM},
    /* the rest of kbs-types' Tee enum: known names Cairn does not verify */
    {"sgx", KBS_TEE_UNSUPPORTED},
    {"cca", KBS_TEE_UNSUPPORTED},
    {"csv", KBS_TEE_UNSUPPORTED},
    {"se", KBS_TEE_UNSUPPORTED},
    {"tpm", KBS_TEE_UNSUPPORTED},
    {"nvidia", KBS_TEE_UNSUPPORTED},
    {"hygondcu", KBS_TEE_UNSUPPORTED},
    {"sampledevice", KBS_TEE_UNSUPPORTED},
};

int kbs_tee_parse(const char *s, enum kbs_tee *out)
{
    for (size_t i = 0; i < sizeof(g_tees) / sizeof(g_tees[0]); i++) {
        if (strcmp(s, g_tees[i].name) == 0) {
            *out = g_tees[i].tee;
            return 0;
        }
    }
    return CAIRN_ERR_INVALID;
}

const char *kbs_tee_name(enum kbs_tee t)
{
    for (size_t i = 0; i < sizeof(g_tees) / sizeof(g_tees[0]); i++)
        if (g_tees[i].tee == t)
            return g_tees[i].name;
    return "unsupported";
}

void kbs_evidence_store_free(struct kbs_evidence_store *s)
{
    if (s == NULL)
        return;
    free(s->quote);
    free(s->eventlog);
    free(s->certs);
    memset(s, 0, sizeof(*s));
}

/* A standard-base64 string member decoding to at most `max` bytes. */
static int b64_member(const json_t *o, const char *name, bool optional, size_t max, uint8_t **out, size_t *out_len,
                      struct cairn_error *err)
{
    const json_t *v = json_object_get(o, name);
    if (v == NULL || json_is_null(v)) {
        if (optional)
            return 0;
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: missing \"%s\"", name);
    }
    if (!json_is_string(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: \"%s\" must be a base64 string", name);
    size_t n = json_string_length(v);
    if (n / 4 * 3 > max + 3)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "evidence: \"%s\" exceeds %zu bytes", name, max);
    uint8_t *p = NULL;
    size_t pl = 0;
    if (cairn_base64_decode(json_string_value(v), n, &p, &pl) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: \"%s\" is not valid base64", name);
    if (pl > max) {
        free(p);
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "evidence: \"%s\" exceeds %zu bytes", name, max);
    }
    *out = p;
    *out_len = pl;
    return 0;
}

static int decode_tdx(const json_t *ev, struct kbs_evidence_store *st, struct cairn_error *err)
{
    int rc = b64_member(ev, "quote", false, KBS_EVIDENCE_MAX_QUOTE, &st->quote, &st->quote_len, err);
    if (rc == 0)
        rc = b64_member(ev, "cc_eventlog", true, KBS_EVIDENCE_MAX_EVENTLOG, &st->eventlog, &st->eventlog_len, err);
    return rc;
}

static int decode_sample(const json_t *ev, struct kbs_evidence_store *st, struct cairn_error *err)
{
    const json_t *svn = json_object_get(ev, "svn");
    if (!json_is_string(svn))
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: \"svn\" must be a string");
    uint8_t *rd = NULL;
    size_t n = 0;
    int rc = b64_member(ev, "report_data", false, 64, &rd, &n, err);
    if (rc < 0)
        return rc;
    /* sim evidence is the 64-byte report data; the attester pads as TDX/SNP do */
    st->quote = calloc(1, 64);
    if (st->quote == NULL) {
        free(rd);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    if (n > 0)
        memcpy(st->quote, rd, n);
    st->quote_len = 64;
    free(rd);
    return 0;
}

/* ---- SNP: virtee/sev's serde AttestationReport <-> the raw report ---- */

struct snp_w {
    uint8_t *r;
    const json_t *o;
    struct cairn_error *err;
    int rc;
};

static const json_t *snp_get(struct snp_w *w, const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    if (v == NULL && w->rc == 0)
        w->rc = cairn_errf(w->err, CAIRN_ERR_INVALID, "evidence: attestation_report: missing \"%s\"", name);
    return v;
}

/* Unsigned little-endian integer of `size` bytes; null counts as 0 when `nullable`. */
static void snp_uint(struct snp_w *w, const json_t *o, const char *name, size_t off, size_t size, bool nullable)
{
    const json_t *v = snp_get(w, o, name);
    if (v == NULL)
        return;
    if (nullable && json_is_null(v))
        return;
    json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
    if (x < 0 || (size < 8 && (uint64_t)x >> (8 * size) != 0)) {
        if (w->rc == 0)
            w->rc = cairn_errf(w->err, CAIRN_ERR_INVALID, "evidence: attestation_report: \"%s\" must be an "
                               "unsigned %zu-bit integer", name, 8 * size);
        return;
    }
    for (size_t i = 0; i < size; i++)
        w->r[off + i] = (uint8_t)((uint64_t)x >> (8 * i));
}

static void snp_bytes(struct snp_w *w, const json_t *o, const char *name, size_t off, size_t size)
{
    const json_t *v = snp_get(w, o, name);
    if (v == NULL)
        return;
    if (!json_is_array(v) || json_array_size(v) != size) {
        if (w->rc == 0)
            w->rc = cairn_errf(w->err, CAIRN_ERR_INVALID, "evidence: attestation_report: \"%s\" must be an "
                               "array of %zu bytes", name, size);
        return;
    }
    for (size_t i = 0; i < size; i++) {
        const json_t *b = json_array_get(v, i);
        json_int_t x = json_is_integer(b) ? json_integer_value(b) : -1;
        if (x < 0 || x > 255) {
            if (w->rc == 0)
                w->rc = cairn_errf(w->err, CAIRN_ERR_INVALID, "evidence: attestation_report: \"%s\"[%zu] is not "
                                   "a byte", name, i);
            return;
        }
        w->r[off + i] = (uint8_t)x;
    }
}

/* TCB_VERSION: {"fmc": null|n, "bootloader", "tee", "snp", "microcode"}.
 * Milan/Genoa layout (fmc null): bl, tee, 4 reserved, snp, ucode; Turin
 * (fmc given): fmc, bl, tee, snp, 3 reserved, ucode. */
static void snp_tcb(struct snp_w *w, const json_t *o, const char *name, size_t off)
{
    const json_t *t = snp_get(w, o, name);
    if (t == NULL)
        return;
    if (!json_is_object(t)) {
        if (w->rc == 0)
            w->rc = cairn_errf(w->err, CAIRN_ERR_INVALID, "evidence: attestation_report: \"%s\" must be an "
                               "object", name);
        return;
    }
    const json_t *fmc = json_object_get(t, "fmc");
    if (fmc == NULL || json_is_null(fmc)) {
        snp_uint(w, t, "bootloader", off, 1, false);
        snp_uint(w, t, "tee", off + 1, 1, false);
        snp_uint(w, t, "snp", off + 6, 1, false);
    } else {
        snp_uint(w, t, "fmc", off, 1, false);
        snp_uint(w, t, "bootloader", off + 1, 1, false);
        snp_uint(w, t, "tee", off + 2, 1, false);
        snp_uint(w, t, "snp", off + 3, 1, false);
    }
    snp_uint(w, t, "microcode", off + 7, 1, false);
}

/* Version: {"major","minor","build"} written build, minor, major. */
static void snp_version(struct snp_w *w, const json_t *o, const char *name, size_t off)
{
    const json_t *v = snp_get(w, o, name);
    if (v == NULL)
        return;
    snp_uint(w, v, "build", off, 1, false);
    snp_uint(w, v, "minor", off + 1, 1, false);
    snp_uint(w, v, "major", off + 2, 1, false);
}

static int snp_report_from_json(const json_t *o, uint8_t r[KBS_SNP_REPORT_SIZE], struct cairn_error *err)
{
    if (!json_is_object(o))
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: \"attestation_report\" must be an object");
    struct snp_w w = {r, o, err, 0};
    memset(r, 0, KBS_SNP_REPORT_SIZE);
    snp_uint(&w, o, "version", 0x00, 4, false);
    uint32_t version = (uint32_t)r[0] | (uint32_t)r[1] << 8 | (uint32_t)r[2] << 16 | (uint32_t)r[3] << 24;
    if (w.rc == 0 && (version < 2 || version > 5))
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "evidence: attestation_report: version %u (2..5 supported)",
                          version);
    snp_uint(&w, o, "guest_svn", 0x04, 4, false);
    snp_uint(&w, o, "policy", 0x08, 8, false);
    snp_bytes(&w, o, "family_id", 0x10, 16);
    snp_bytes(&w, o, "image_id", 0x20, 16);
    snp_uint(&w, o, "vmpl", 0x30, 4, false);
    snp_uint(&w, o, "sig_algo", 0x34, 4, false);
    snp_tcb(&w, o, "current_tcb", 0x38);
    snp_uint(&w, o, "plat_info", 0x40, 8, false);
    snp_uint(&w, o, "key_info", 0x48, 4, false);
    snp_bytes(&w, o, "report_data", 0x50, 64);
    snp_bytes(&w, o, "measurement", 0x90, 48);
    snp_bytes(&w, o, "host_data", 0xC0, 32);
    snp_bytes(&w, o, "id_key_digest", 0xE0, 48);
    snp_bytes(&w, o, "author_key_digest", 0x110, 48);
    snp_bytes(&w, o, "report_id", 0x140, 32);
    snp_bytes(&w, o, "report_id_ma", 0x160, 32);
    snp_tcb(&w, o, "reported_tcb", 0x180);
    if (version >= 3) {
        snp_uint(&w, o, "cpuid_fam_id", 0x188, 1, true);
        snp_uint(&w, o, "cpuid_mod_id", 0x189, 1, true);
        snp_uint(&w, o, "cpuid_step", 0x18A, 1, true);
    }
    snp_bytes(&w, o, "chip_id", 0x1A0, 64);
    snp_tcb(&w, o, "committed_tcb", 0x1E0);
    snp_version(&w, o, "current", 0x1E8);
    snp_version(&w, o, "committed", 0x1EC);
    snp_tcb(&w, o, "launch_tcb", 0x1F0);
    if (version >= 5) {
        snp_uint(&w, o, "launch_mit_vector", 0x1F8, 8, true);
        snp_uint(&w, o, "current_mit_vector", 0x200, 8, true);
    }
    const json_t *sig = snp_get(&w, o, "signature");
    if (sig != NULL) {
        snp_bytes(&w, sig, "r", 0x2A0, 72);
        snp_bytes(&w, sig, "s", 0x2E8, 72);
    }
    /* The TCB layout (fmc given or null) must be the one the report's own
     * CPUID family names (Turin: 0x1A, version 3 and later), as the serde
     * shape is written back: otherwise the same JSON could stand for two
     * different signed byte strings (found by fuzz_kbs_evidence). */
    if (w.rc == 0) {
        bool turin = version >= 3 && r[0x188] == 0x1A;
        static const char *const tcbs[] = {"current_tcb", "reported_tcb", "committed_tcb", "launch_tcb"};
        for (size_t i = 0; i < sizeof(tcbs) / sizeof(tcbs[0]); i++) {
            const json_t *fmc = json_object_get(json_object_get(o, tcbs[i]), "fmc");
            bool given = fmc != NULL && !json_is_null(fmc);
            if (given != turin)
                return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: attestation_report: %s.fmc %s, but the "
                                  "report's CPUID family %s Turin", tcbs[i], given ? "given" : "null",
                                  turin ? "is" : "is not");
        }
    }
    return w.rc;
}

static json_t *bytes_json(const uint8_t *p, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, json_integer(p[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static uint64_t le(const uint8_t *p, size_t n)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}

static json_t *tcb_json(const uint8_t *t, bool turin)
{
    if (turin)
        return json_pack("{s:i, s:i, s:i, s:i, s:i}", "fmc", t[0], "bootloader", t[1], "tee", t[2], "snp", t[3],
                         "microcode", t[7]);
    return json_pack("{s:n, s:i, s:i, s:i, s:i}", "fmc", "bootloader", t[0], "tee", t[1], "snp", t[6],
                     "microcode", t[7]);
}

json_t *kbs_snp_report_to_json(const uint8_t r[KBS_SNP_REPORT_SIZE])
{
    uint32_t version = (uint32_t)le(r, 4);
    /* Turin: CPUID family 0x1A (report v3+); v2 reports carry no CPUID */
    bool turin = version >= 3 && r[0x188] == 0x1A;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "version", json_integer((json_int_t)version));
    bad |= json_object_set_new(o, "guest_svn", json_integer((json_int_t)le(r + 0x04, 4)));
    bad |= json_object_set_new(o, "policy", json_integer((json_int_t)le(r + 0x08, 8)));
    bad |= json_object_set_new(o, "family_id", bytes_json(r + 0x10, 16));
    bad |= json_object_set_new(o, "image_id", bytes_json(r + 0x20, 16));
    bad |= json_object_set_new(o, "vmpl", json_integer((json_int_t)le(r + 0x30, 4)));
    bad |= json_object_set_new(o, "sig_algo", json_integer((json_int_t)le(r + 0x34, 4)));
    bad |= json_object_set_new(o, "current_tcb", tcb_json(r + 0x38, turin));
    bad |= json_object_set_new(o, "plat_info", json_integer((json_int_t)le(r + 0x40, 8)));
    bad |= json_object_set_new(o, "key_info", json_integer((json_int_t)le(r + 0x48, 4)));
    bad |= json_object_set_new(o, "report_data", bytes_json(r + 0x50, 64));
    bad |= json_object_set_new(o, "measurement", bytes_json(r + 0x90, 48));
    bad |= json_object_set_new(o, "host_data", bytes_json(r + 0xC0, 32));
    bad |= json_object_set_new(o, "id_key_digest", bytes_json(r + 0xE0, 48));
    bad |= json_object_set_new(o, "author_key_digest", bytes_json(r + 0x110, 48));
    bad |= json_object_set_new(o, "report_id", bytes_json(r + 0x140, 32));
    bad |= json_object_set_new(o, "report_id_ma", bytes_json(r + 0x160, 32));
    bad |= json_object_set_new(o, "reported_tcb", tcb_json(r + 0x180, turin));
    if (version >= 3) {
        bad |= json_object_set_new(o, "cpuid_fam_id", json_integer(r[0x188]));
        bad |= json_object_set_new(o, "cpuid_mod_id", json_integer(r[0x189]));
        bad |= json_object_set_new(o, "cpuid_step", json_integer(r[0x18A]));
    } else {
        bad |= json_object_set_new(o, "cpuid_fam_id", json_null());
        bad |= json_object_set_new(o, "cpuid_mod_id", json_null());
        bad |= json_object_set_new(o, "cpuid_step", json_null());
    }
    bad |= json_object_set_new(o, "chip_id", bytes_json(r + 0x1A0, 64));
    bad |= json_object_set_new(o, "committed_tcb", tcb_json(r + 0x1E0, turin));
    bad |= json_object_set_new(o, "current", json_pack("{s:i, s:i, s:i}", "major", r[0x1EA], "minor", r[0x1E9],
                                                       "build", r[0x1E8]));
    bad |= json_object_set_new(o, "committed", json_pack("{s:i, s:i, s:i}", "major", r[0x1EE], "minor", r[0x1ED],
                                                         "build", r[0x1EC]));
    bad |= json_object_set_new(o, "launch_tcb", tcb_json(r + 0x1F0, turin));
    if (version >= 5) {
        bad |= json_object_set_new(o, "launch_mit_vector", json_integer((json_int_t)le(r + 0x1F8, 8)));
        bad |= json_object_set_new(o, "current_mit_vector", json_integer((json_int_t)le(r + 0x200, 8)));
    }
    bad |= json_object_set_new(o, "signature", json_pack("{s:o, s:o}", "r", bytes_json(r + 0x2A0, 72), "s",
                                                         bytes_json(r + 0x2E8, 72)));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* cert_chain: [{"cert_type": "VCEK"|"VLEK"|"ASK"|"ARK"|..., "data": [bytes]}];
 * the certificates become one PEM text (other entry types are skipped). */
static int snp_certs(const json_t *chain, struct kbs_evidence_store *st, struct cairn_error *err)
{
    if (chain == NULL || json_is_null(chain))
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: \"cert_chain\" is null: Cairn does not fetch the "
                          "VCEK from AMD's key distribution service; the host must supply the certificate "
                          "table (SNP extended report)");
    if (!json_is_array(chain) || json_array_size(chain) > KBS_EVIDENCE_MAX_CERTS)
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: \"cert_chain\" must be an array of at most %d "
                          "entries", KBS_EVIDENCE_MAX_CERTS);
    struct cairn_buf pem;
    cairn_buf_init(&pem, (size_t)KBS_EVIDENCE_MAX_CERTS * KBS_EVIDENCE_MAX_CERT * 2);
    int rc = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(chain, i, e) {
        const char *type = json_string_value(json_object_get(e, "cert_type"));
        const json_t *data = json_object_get(e, "data");
        if (type == NULL || !json_is_array(data) || json_array_size(data) > KBS_EVIDENCE_MAX_CERT) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "evidence: cert_chain[%zu]: expected {\"cert_type\": string, "
                            "\"data\": array of at most %u bytes}", i, KBS_EVIDENCE_MAX_CERT);
            break;
        }
        if (strcmp(type, "VCEK") != 0 && strcmp(type, "VLEK") != 0 && strcmp(type, "ASK") != 0 &&
            strcmp(type, "ARK") != 0)
            continue;
        size_t n = json_array_size(data);
        uint8_t *der = malloc(n > 0 ? n : 1);
        if (der == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < n && rc == 0; k++) {
            json_int_t x = json_is_integer(json_array_get(data, k)) ? json_integer_value(json_array_get(data, k))
                                                                     : -1;
            if (x < 0 || x > 255)
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "evidence: cert_chain[%zu].data[%zu] is not a byte", i, k);
            else
                der[k] = (uint8_t)x;
        }
        X509 *x = NULL;
        char *p = NULL;
        size_t pl = 0;
        if (rc == 0 && cc_cert_from_der(der, n, &x, NULL) != 0)
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "evidence: cert_chain[%zu] (%s) is not a DER certificate", i,
                            type);
        if (rc == 0 && cc_cert_to_pem(x, &p, &pl) != 0)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        if (rc == 0 && cairn_buf_append(&pem, p, pl) != 0)
            rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "evidence: cert_chain too large");
        free(p);
        X509_free(x);
        free(der);
        if (rc != 0)
            break;
    }
    if (rc == 0 && pem.len == 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "evidence: cert_chain holds no VCEK or VLEK certificate");
    if (rc != 0) {
        cairn_buf_free(&pem);
        return rc;
    }
    st->certs = (char *)cairn_buf_take(&pem, &st->certs_len);
    return 0;
}

static int decode_snp(const json_t *ev, struct kbs_evidence_store *st, struct cairn_error *err)
{
    uint8_t *r = malloc(KBS_SNP_REPORT_SIZE);
    if (r == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    int rc = snp_report_from_json(json_object_get(ev, "attestation_report"), r, err);
    if (rc == 0)
        rc = snp_certs(json_object_get(ev, "cert_chain"), st, err);
    if (rc != 0) {
        free(r);
        return rc;
    }
    st->quote = r;
    st->quote_len = KBS_SNP_REPORT_SIZE;
    return 0;
}

int kbs_evidence_decode(enum kbs_tee tee, const json_t *primary, struct kbs_evidence_store *st,
                        struct attest_evidence *out, struct cairn_error *err)
{
    struct kbs_evidence_store s = {0};
    struct attest_evidence ev = {0};
    int rc;
    if (!json_is_object(primary))
        return cairn_errf(err, CAIRN_ERR_INVALID, "evidence: primary_evidence of %s must be a JSON object",
                          kbs_tee_name(tee));
    switch (tee) {
    case KBS_TEE_TDX:
        ev.type = ATTEST_TDX;
        rc = decode_tdx(primary, &s, err);
        break;
    case KBS_TEE_SNP:
        ev.type = ATTEST_SNP;
        rc = decode_snp(primary, &s, err);
        break;
    case KBS_TEE_SAMPLE:
        ev.type = ATTEST_SIM;
        rc = decode_sample(primary, &s, err);
        break;
    default:
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "evidence: tee %s is not decoded here", kbs_tee_name(tee));
    }
    if (rc != 0) {
        kbs_evidence_store_free(&s);
        return rc;
    }
    ev.quote = s.quote;
    ev.quote_len = s.quote_len;
    ev.eventlog = s.eventlog;
    ev.eventlog_len = s.eventlog_len;
    ev.certs = (const uint8_t *)s.certs;
    ev.certs_len = s.certs_len;
    *st = s;
    *out = ev;
    return 0;
}

/* ---- RFC 8785 for objects of strings ---- */

static int jcs_string(struct cairn_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = cairn_buf_append(b, "\"", 1);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            rc = cairn_buf_append(b, esc, 2);
        } else if (c < 0x20) {
            const char *short_esc = c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                                    : c == '\t' ? "\\t" : NULL;
            if (short_esc != NULL) {
                rc = cairn_buf_append(b, short_esc, 2);
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                rc = cairn_buf_append(b, esc, 6);
            }
        } else {
            rc = cairn_buf_append(b, (const char *)&s[i], 1);
        }
    }
    return rc == 0 ? cairn_buf_append(b, "\"", 1) : rc;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int jcs_value(struct cairn_buf *b, const json_t *v, int depth, struct cairn_error *err)
{
    if (depth > 8)
        return cairn_errf(err, CAIRN_ERR_INVALID, "runtime data: nested too deeply");
    if (json_is_string(v))
        return jcs_string(b, json_string_value(v), json_string_length(v));
    if (!json_is_object(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "runtime data: only objects and strings are canonicalised");
    size_t n = json_object_size(v), i = 0;
    const char **keys = calloc(n > 0 ? n : 1, sizeof(*keys));
    if (keys == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    const char *k;
    const json_t *val;
    int rc = 0;
    json_object_foreach((json_t *)v, k, val) {
        /* RFC 8785 orders by UTF-16 code units; for ASCII keys that is strcmp */
        for (const char *p = k; *p != '\0'; p++)
            if ((unsigned char)*p >= 0x80)
                rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "runtime data: non-ASCII member name");
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(*keys), cmp_keys);
    if (rc == 0)
        rc = cairn_buf_append(b, "{", 1);
    for (i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            rc = cairn_buf_append(b, ",", 1);
        if (rc == 0)
            rc = jcs_string(b, keys[i], strlen(keys[i]));
        if (rc == 0)
            rc = cairn_buf_append(b, ":", 1);
        if (rc == 0)
            rc = jcs_value(b, json_object_get(v, keys[i]), depth + 1, err);
    }
    if (rc == 0)
        rc = cairn_buf_append(b, "}", 1);
    free(keys);
    return rc;
}

int kbs_jcs(const json_t *v, char **out, size_t *out_len, struct cairn_error *err)
{
    struct cairn_buf b;
    cairn_buf_init(&b, 4u * 1024 * 1024);
    int rc = jcs_value(&b, v, 0, err);
    if (rc == 0)
        rc = cairn_buf_append(&b, "", 1);   /* NUL, not counted */
    if (rc != 0) {
        cairn_buf_free(&b);
        return rc < 0 ? rc : cairn_errf(err, CAIRN_ERR_TOO_LARGE, "runtime data too large");
    }
    size_t n = 0;
    *out = (char *)cairn_buf_take(&b, &n);
    *out_len = n - 1;
    return 0;
}

int kbs_runtime_data_digest(const char *nonce, const json_t *jwk, const char *additional, uint8_t out[48],
                            struct cairn_error *err)
{
    json_t *rd = json_pack("{s:s, s:s, s:O}", "additional-evidence", additional, "nonce", nonce, "tee-pubkey", jwk);
    if (rd == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    char *s = NULL;
    size_t n = 0;
    int rc = kbs_jcs(rd, &s, &n, err);
    json_decref(rd);
    if (rc != 0)
        return rc;
    cc_sha384(s, n, out);
    free(s);
    return 0;
}
