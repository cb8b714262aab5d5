/* TCG PC Client (SHA-1 and crypto-agile) and CCEL event log parsing and
 * replay. Format notes in eventlog.h. */
#include "attest/eventlog.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/encoding.h"
#include "common/reader.h"

static const char SPEC_ID_SIG[16] = "Spec ID Event03";   /* includes the NUL */
static const char STARTUP_LOC_SIG[16] = "StartupLocality"; /* includes the NUL */

const char *eventlog_alg_name(uint16_t alg)
{
    switch (alg) {
    case TPM_ALG_SHA1: return "sha1";
    case TPM_ALG_SHA256: return "sha256";
    case TPM_ALG_SHA384: return "sha384";
    case TPM_ALG_SHA512: return "sha512";
    default: return NULL;
    }
}

size_t eventlog_alg_size(uint16_t alg)
{
    switch (alg) {
    case TPM_ALG_SHA1: return 20;
    case TPM_ALG_SHA256: return 32;
    case TPM_ALG_SHA384: return 48;
    case TPM_ALG_SHA512: return 64;
    default: return 0;
    }
}

int eventlog_alg_from_name(const char *name, uint16_t *alg)
{
    static const uint16_t algs[] = {TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384, TPM_ALG_SHA512};
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (strcasecmp(name, eventlog_alg_name(algs[i])) == 0) {
            *alg = algs[i];
            return 0;
        }
    }
    return CAIRN_ERR_INVALID;
}

static const EVP_MD *alg_md(uint16_t alg)
{
    switch (alg) {
    case TPM_ALG_SHA1: return EVP_sha1();
    case TPM_ALG_SHA256: return EVP_sha256();
    case TPM_ALG_SHA384: return EVP_sha384();
    case TPM_ALG_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

const struct eventlog_bank *eventlog_bank_get(const struct eventlog_replay *r, uint16_t alg)
{
    for (unsigned i = 0; i < r->n_banks; i++) {
        if (r->banks[i].alg == alg)
            return &r->banks[i];
    }
    return NULL;
}

static int extend(struct eventlog_bank *b, unsigned idx, const uint8_t *digest, struct cairn_error *err)
{
    uint8_t buf[128];
    unsigned int outl = 0;
    memcpy(buf, b->pcr[idx], b->digest_size);
    memcpy(buf + b->digest_size, digest, b->digest_size);
    if (EVP_Digest(buf, 2 * b->digest_size, b->pcr[idx], &outl, alg_md(b->alg), NULL) != 1 ||
        outl != b->digest_size)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "event log: %s digest failed", eventlog_alg_name(b->alg));
    b->touched[idx] = true;
    return 0;
}

/* Maps a record's index to a register slot; CCEL index 0 is MRTD, which a
 * log cannot extend, so it is an error like any index out of range. */
static int slot_of(enum eventlog_kind kind, uint32_t index, size_t rec, unsigned *slot, struct cairn_error *err)
{
    if (kind == EVENTLOG_CCEL) {
        if (index < 1 || index > 4)
            return cairn_errf(err, CAIRN_ERR_INVALID, "event log: record %zu: CC MR index %u out of range 1..4", rec,
                              index);
        *slot = index - 1;
        return 0;
    }
    if (index >= EVENTLOG_PCRS)
        return cairn_errf(err, CAIRN_ERR_INVALID, "event log: record %zu: PCR index %u out of range 0..23", rec,
                          index);
    *slot = index;
    return 0;
}

/* StartupLocality: EV_NO_ACTION data "StartupLocality\0" + locality u8. */
static void maybe_startup_locality(struct eventlog_replay *r, const uint8_t *ev, uint32_t ev_len, uint32_t index)
{
    if (index != 0 || ev_len < 17 || memcmp(ev, STARTUP_LOC_SIG, 16) != 0 || r->startup_locality >= 0)
        return;
    r->startup_locality = ev[16];
    for (unsigned b = 0; b < r->n_banks; b++) {
        if (!r->banks[b].touched[0]) {
            memset(r->banks[b].pcr[0], 0, sizeof(r->banks[b].pcr[0]));
            r->banks[b].pcr[0][r->banks[b].digest_size - 1] = ev[16];
            r->banks[b].touched[0] = true;
        }
    }
}

/* CCEL areas end with 0xFF or 0x00 filler: a record that would start with
 * eight filler bytes marks the end. */
static bool at_filler(const struct cairn_reader *rd)
{
    size_t left = cairn_reader_remaining(rd);
    if (left < 8)
        return true;
    const uint8_t *p = rd->p + rd->off;
    bool ff = true, zero = true;
    for (int i = 0; i < 8; i++) {
        ff = ff && p[i] == 0xFF;
        zero = zero && p[i] == 0x00;
    }
    return ff || zero;
}

static int parse_spec_id(const uint8_t *ev, uint32_t len, struct eventlog_replay *r, struct cairn_error *err)
{
    struct cairn_reader rd;
    cairn_reader_init(&rd, ev, len);
    uint32_t platform_class, n_algs;
    uint8_t minor, major, errata, uintn;
    if (cairn_reader_skip(&rd, 16) || cairn_reader_u32le(&rd, &platform_class) || cairn_reader_u8(&rd, &minor) ||
        cairn_reader_u8(&rd, &major) || cairn_reader_u8(&rd, &errata) || cairn_reader_u8(&rd, &uintn) ||
        cairn_reader_u32le(&rd, &n_algs))
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: Spec ID event truncated");
    if (major != 2)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "event log: Spec ID specVersionMajor %u, expected 2", major);
    if (n_algs == 0 || n_algs > EVENTLOG_MAX_BANKS)
        return cairn_errf(err, CAIRN_ERR_INVALID, "event log: Spec ID numberOfAlgorithms %u out of range 1..%d",
                          n_algs, EVENTLOG_MAX_BANKS);
    for (uint32_t i = 0; i < n_algs; i++) {
        uint16_t alg, size;
        if (cairn_reader_u16le(&rd, &alg) || cairn_reader_u16le(&rd, &size))
            return cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: Spec ID algorithm %u truncated", i);
        size_t known = eventlog_alg_size(alg);
        if (known != 0 && known != size)
            return cairn_errf(err, CAIRN_ERR_INVALID, "event log: Spec ID says %s digests are %u bytes, not %zu",
                              eventlog_alg_name(alg), size, known);
        if (size == 0 || size > 64)
            return cairn_errf(err, CAIRN_ERR_INVALID, "event log: Spec ID algorithm 0x%04x digest size %u", alg,
                              size);
        for (unsigned k = 0; k < r->n_banks; k++) {
            if (r->banks[k].alg == alg)
                return cairn_errf(err, CAIRN_ERR_INVALID, "event log: Spec ID lists algorithm 0x%04x twice", alg);
        }
        struct eventlog_bank *b = &r->banks[r->n_banks++];
        b->alg = alg;
        b->digest_size = size;
    }
    uint8_t vendor;
    if (cairn_reader_u8(&rd, &vendor) || cairn_reader_skip(&rd, vendor))
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: Spec ID vendorInfo truncated");
    return 0;
}

const char *eventlog_event_type_name(uint32_t type)
{
    static const char *const base[] = {
        "EV_PREBOOT_CERT", "EV_POST_CODE", "EV_UNUSED", "EV_NO_ACTION", "EV_SEPARATOR", "EV_ACTION",
        "EV_EVENT_TAG", "EV_S_CRTM_CONTENTS", "EV_S_CRTM_VERSION", "EV_CPU_MICROCODE",
        "EV_PLATFORM_CONFIG_FLAGS", "EV_TABLE_OF_DEVICES", "EV_COMPACT_HASH", "EV_IPL",
        "EV_IPL_PARTITION_DATA", "EV_NONHOST_CODE", "EV_NONHOST_CONFIG", "EV_NONHOST_INFO",
        "EV_OMIT_BOOT_DEVICE_EVENTS",
    };
    static const char *const efi[] = {
        NULL, "EV_EFI_VARIABLE_DRIVER_CONFIG", "EV_EFI_VARIABLE_BOOT", "EV_EFI_BOOT_SERVICES_APPLICATION",
        "EV_EFI_BOOT_SERVICES_DRIVER", "EV_EFI_RUNTIME_SERVICES_DRIVER", "EV_EFI_GPT_EVENT", "EV_EFI_ACTION",
        "EV_EFI_PLATFORM_FIRMWARE_BLOB", "EV_EFI_HANDOFF_TABLES", "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
        "EV_EFI_HANDOFF_TABLES2", "EV_EFI_VARIABLE_BOOT2", "EV_EFI_GPT_EVENT2",
    };
    if (type < sizeof(base) / sizeof(base[0]))
        return base[type];
    if (type >= 0x80000000u && type - 0x80000000u < sizeof(efi) / sizeof(efi[0]))
        return efi[type - 0x80000000u];
    switch (type) {
    case 0x80000010u: return "EV_EFI_HCRTM_EVENT";
    case 0x800000E0u: return "EV_EFI_VARIABLE_AUTHORITY";
    case 0x800000E1u: return "EV_EFI_SPDM_FIRMWARE_BLOB";
    case 0x800000E2u: return "EV_EFI_SPDM_FIRMWARE_CONFIG";
    default: return NULL;
    }
}

int eventlog_efi_variable_name(const uint8_t *data, size_t len, char *out, size_t out_size)
{
    struct cairn_reader rd;
    cairn_reader_init(&rd, data, len);
    uint64_t name_chars, data_len;
    const uint8_t *name;
    if (out_size == 0 || cairn_reader_skip(&rd, 16) || cairn_reader_u64le(&rd, &name_chars) ||
        cairn_reader_u64le(&rd, &data_len) || name_chars > cairn_reader_remaining(&rd) / 2 ||
        cairn_reader_bytes(&rd, (size_t)name_chars * 2, &name) || data_len != cairn_reader_remaining(&rd))
        return CAIRN_ERR_INVALID;
    size_t o = 0;
    for (uint64_t i = 0; i < name_chars && o + 1 < out_size; i++) {
        uint16_t c = (uint16_t)(name[2 * i] | name[2 * i + 1] << 8);
        out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[o] = '\0';
    return 0;
}

static int report(eventlog_event_fn fn, void *ctx, const struct eventlog_replay *r, size_t rec, unsigned slot,
                  uint32_t type, const uint8_t *ev, uint32_t ev_len, const uint8_t *const *digests,
                  struct cairn_error *err)
{
    if (fn == NULL)
        return 0;
    struct eventlog_event e = {.record = rec, .slot = slot, .type = type, .data = ev, .data_len = ev_len};
    for (unsigned b = 0; b < r->n_banks && b < EVENTLOG_MAX_BANKS; b++)
        e.digest[b] = digests[b];
    int rc = fn(ctx, r, &e);
    return rc == 0 ? 0 : cairn_errf(err, rc, "event log: record %zu: the caller stopped the replay", rec);
}

int eventlog_replay(const uint8_t *p, size_t n, enum eventlog_kind kind, struct eventlog_replay *out,
                    struct cairn_error *err)
{
    return eventlog_replay_events(p, n, kind, out, NULL, NULL, err);
}

int eventlog_replay_events(const uint8_t *p, size_t n, enum eventlog_kind kind, struct eventlog_replay *out,
                           eventlog_event_fn fn, void *ctx, struct cairn_error *err)
{
    if (p == NULL || n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "event log: empty");
    if (n > EVENTLOG_MAX_BYTES)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "event log: %zu bytes, cap %u", n, EVENTLOG_MAX_BYTES);
    struct eventlog_replay *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "event log: out of memory");
    r->startup_locality = -1;
    struct cairn_reader rd;
    cairn_reader_init(&rd, p, n);
    int rc = 0;

    /* Record 0: always the SHA-1 TCG_PCR_EVENT form. */
    uint32_t index, type, ev_len;
    const uint8_t *digest, *ev;
    if (cairn_reader_u32le(&rd, &index) || cairn_reader_u32le(&rd, &type) || cairn_reader_bytes(&rd, 20, &digest) ||
        cairn_reader_u32le(&rd, &ev_len)) {
        rc = cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: record 0: header truncated");
        goto out;
    }
    if (ev_len > cairn_reader_remaining(&rd)) {
        rc = cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: record 0: event size %u exceeds the %zu bytes left",
                        ev_len, cairn_reader_remaining(&rd));
        goto out;
    }
    cairn_reader_bytes(&rd, ev_len, &ev);
    r->n_events = 1;
    if (type == EVENTLOG_EV_NO_ACTION && ev_len >= 16 && memcmp(ev, SPEC_ID_SIG, 16) == 0) {
        r->crypto_agile = true;
        if ((rc = parse_spec_id(ev, ev_len, r, err)) != 0)
            goto out;
    } else {
        if (kind == EVENTLOG_CCEL) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "event log: CCEL does not start with a Spec ID event");
            goto out;
        }
        r->n_banks = 1;
        r->banks[0].alg = TPM_ALG_SHA1;
        r->banks[0].digest_size = 20;
        if (type != EVENTLOG_EV_NO_ACTION) {
            unsigned slot = 0;
            const uint8_t *d0[EVENTLOG_MAX_BANKS] = {digest};
            if ((rc = slot_of(kind, index, 0, &slot, err)) || (rc = extend(&r->banks[0], slot, digest, err)) ||
                (rc = report(fn, ctx, r, 0, slot, type, ev, ev_len, d0, err)))
                goto out;
        }
    }
    r->used_bytes = rd.off;

    while (cairn_reader_remaining(&rd) > 0) {
        size_t rec = r->n_events;
        if (kind == EVENTLOG_CCEL && at_filler(&rd))
            break;
        if (r->n_events >= EVENTLOG_MAX_EVENTS) {
            rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "event log: more than %u records", EVENTLOG_MAX_EVENTS);
            goto out;
        }
        if (cairn_reader_u32le(&rd, &index) || cairn_reader_u32le(&rd, &type)) {
            rc = cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: record %zu: header truncated", rec);
            goto out;
        }
        unsigned slot = 0;
        bool no_action = type == EVENTLOG_EV_NO_ACTION;
        if (!no_action && (rc = slot_of(kind, index, rec, &slot, err)) != 0)
            goto out;
        const uint8_t *digests[EVENTLOG_MAX_BANKS] = {0};
        if (r->crypto_agile) {
            uint32_t count;
            if (cairn_reader_u32le(&rd, &count)) {
                rc = cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: record %zu: digest count truncated", rec);
                goto out;
            }
            if (count > r->n_banks) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "event log: record %zu: %u digests, Spec ID lists %u", rec,
                                count, r->n_banks);
                goto out;
            }
            for (uint32_t i = 0; i < count; i++) {
                uint16_t alg;
                if (cairn_reader_u16le(&rd, &alg)) {
                    rc = cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: record %zu: digest %u truncated", rec, i);
                    goto out;
                }
                unsigned b;
                for (b = 0; b < r->n_banks && r->banks[b].alg != alg; b++)
                    ;
                if (b == r->n_banks) {
                    rc = cairn_errf(err, CAIRN_ERR_INVALID,
                                    "event log: record %zu: digest algorithm 0x%04x not in the Spec ID event", rec, alg);
                    goto out;
                }
                if (digests[b] != NULL) {
                    rc = cairn_errf(err, CAIRN_ERR_INVALID, "event log: record %zu: two %s digests", rec,
                                    eventlog_alg_name(alg) ? eventlog_alg_name(alg) : "?");
                    goto out;
                }
                if (cairn_reader_bytes(&rd, r->banks[b].digest_size, &digests[b])) {
                    rc = cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: record %zu: digest %u truncated", rec, i);
                    goto out;
                }
            }
            /* A measured event must carry a digest for every bank, or the banks
             * could be replayed to different histories. */
            if (!no_action && count != r->n_banks) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "event log: record %zu: %u digests, Spec ID lists %u", rec,
                                count, r->n_banks);
                goto out;
            }
        } else if (cairn_reader_bytes(&rd, 20, &digests[0])) {
            rc = cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: record %zu: digest truncated", rec);
            goto out;
        }
        if (cairn_reader_u32le(&rd, &ev_len)) {
            rc = cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: record %zu: event size truncated", rec);
            goto out;
        }
        if (ev_len > cairn_reader_remaining(&rd)) {
            rc = cairn_errf(err, CAIRN_ERR_TRUNCATED, "event log: record %zu: event size %u exceeds the %zu bytes left",
                            rec, ev_len, cairn_reader_remaining(&rd));
            goto out;
        }
        cairn_reader_bytes(&rd, ev_len, &ev);
        if (no_action) {
            if (kind == EVENTLOG_TCG)
                maybe_startup_locality(r, ev, ev_len, index);
        } else {
            for (unsigned b = 0; b < r->n_banks; b++) {
                if (alg_md(r->banks[b].alg) == NULL)
                    continue;
                if ((rc = extend(&r->banks[b], slot, digests[b], err)) != 0)
                    goto out;
            }
            if ((rc = report(fn, ctx, r, rec, slot, type, ev, ev_len, digests, err)) != 0)
                goto out;
        }
        r->n_events++;
        r->used_bytes = rd.off;
    }
    if (kind == EVENTLOG_CCEL && !eventlog_bank_get(r, TPM_ALG_SHA384)) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "event log: CCEL has no SHA-384 bank");
        goto out;
    }
out:
    if (rc == 0)
        memcpy(out, r, sizeof(*r));
    free(r);
    return rc;
}

int eventlog_ccel_table_parse(const uint8_t *p, size_t n, uint8_t *out_cc_type, uint64_t *out_laml,
                              uint64_t *out_lasa, struct cairn_error *err)
{
    if (p == NULL || n < 56)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "CCEL table: %zu bytes, expected 56", p ? n : 0);
    if (n > 56)
        return cairn_errf(err, CAIRN_ERR_TRAILING, "CCEL table: %zu bytes, expected 56", n);
    struct cairn_reader rd;
    cairn_reader_init(&rd, p, n);
    const uint8_t *sig;
    uint32_t len;
    uint8_t cc_type, cc_sub;
    uint64_t laml, lasa;
    if (cairn_reader_bytes(&rd, 4, &sig) || cairn_reader_u32le(&rd, &len) || cairn_reader_skip(&rd, 28) ||
        cairn_reader_u8(&rd, &cc_type) || cairn_reader_u8(&rd, &cc_sub) || cairn_reader_skip(&rd, 2) ||
        cairn_reader_u64le(&rd, &laml) || cairn_reader_u64le(&rd, &lasa))
        return cairn_errf(err, CAIRN_ERR_INTERNAL, "CCEL table: reader out of bounds");
    if (memcmp(sig, "CCEL", 4) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "CCEL table: signature is not \"CCEL\"");
    if (len != 56)
        return cairn_errf(err, CAIRN_ERR_INVALID, "CCEL table: length field %u, expected 56", len);
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    if (sum != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "CCEL table: checksum does not add up to zero");
    *out_cc_type = cc_type;
    *out_laml = laml;
    *out_lasa = lasa;
    return 0;
}

int eventlog_ccel_replay(const uint8_t *table, size_t table_len, const uint8_t *data, size_t data_len,
                         uint8_t out_rtmr[4][48], struct cairn_error *err)
{
    size_t n = data_len;
    if (table != NULL) {
        uint8_t cc_type;
        uint64_t laml, lasa;
        int rc = eventlog_ccel_table_parse(table, table_len, &cc_type, &laml, &lasa, err);
        if (rc != 0)
            return rc;
        if (laml < n)
            n = (size_t)laml;
    }
    struct eventlog_replay *r = malloc(sizeof(*r));
    if (r == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "CCEL: out of memory");
    int rc = eventlog_replay(data, n, EVENTLOG_CCEL, r, err);
    if (rc == 0) {
        const struct eventlog_bank *b = eventlog_bank_get(r, TPM_ALG_SHA384);
        for (int i = 0; i < 4; i++)
            memcpy(out_rtmr[i], b->pcr[i], 48);
    }
    free(r);
    return rc;
}

int eventlog_ccel_match_claims(const struct json_t *claims, const uint8_t *table, size_t table_len,
                               const uint8_t *data, size_t data_len, struct cairn_error *err)
{
    uint8_t rt[4][48];
    int rc = eventlog_ccel_replay(table, table_len, data, data_len, rt, err);
    if (rc != 0)
        return rc;
    for (int i = 0; i < 4; i++) {
        char key[8];
        snprintf(key, sizeof(key), "rtmr%d", i);
        const char *hex = json_string_value(json_object_get((const json_t *)claims, key));
        uint8_t want[48];
        if (hex == NULL || cairn_hex_decode_exact(hex, want, 48) != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "CCEL: the quote claims have no 48-byte \"%s\"", key);
        if (CRYPTO_memcmp(want, rt[i], 48) != 0) {
            char *h = cairn_hex_encode(rt[i], 48);
            rc = cairn_errf(err, CAIRN_ERR_VERIFY, "CCEL: RTMR%d replays to %s, the quote has %s", i, h ? h : "?", hex);
            free(h);
            return rc;
        }
    }
    return 0;
}

struct json_t *eventlog_replay_to_json(const struct eventlog_replay *r, enum eventlog_kind kind)
{
    json_t *o = json_object(), *regs = json_object();
    int rc = (o && regs) ? 0 : -1;
    rc |= json_object_set_new(o, "format",
                              json_string(kind == EVENTLOG_CCEL ? "ccel" : r->crypto_agile ? "crypto-agile" : "sha1"));
    rc |= json_object_set_new(o, "events", json_integer((json_int_t)r->n_events));
    if (r->startup_locality >= 0)
        rc |= json_object_set_new(o, "startup_locality", json_integer(r->startup_locality));
    for (unsigned b = 0; rc == 0 && b < r->n_banks; b++) {
        const struct eventlog_bank *bk = &r->banks[b];
        if (eventlog_alg_name(bk->alg) == NULL || (kind == EVENTLOG_CCEL && bk->alg != TPM_ALG_SHA384))
            continue;
        json_t *bank = kind == EVENTLOG_CCEL ? regs : json_object();
        for (unsigned i = 0; bank && i < (kind == EVENTLOG_CCEL ? 4u : (unsigned)EVENTLOG_PCRS); i++) {
            if (kind != EVENTLOG_CCEL && !bk->touched[i])
                continue;
            char k[4];
            snprintf(k, sizeof(k), "%u", i);
            char *h = cairn_hex_encode(bk->pcr[i], bk->digest_size);
            rc |= h ? json_object_set_new(bank, k, json_string(h)) : -1;
            free(h);
        }
        if (kind != EVENTLOG_CCEL)
            rc |= bank ? json_object_set_new(regs, eventlog_alg_name(bk->alg), bank) : -1;
    }
    rc |= json_object_set_new(o, kind == EVENTLOG_CCEL ? "rtmrs" : "pcrs", regs);
    regs = NULL;
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
