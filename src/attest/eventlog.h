/* Internal: TCG PC Client event logs and Confidential Computing event logs
 * (CCEL), parsed and replayed into PCR banks / TDX RTMRs.
 *
 * Formats (TCG PC Client Platform Firmware Profile, little-endian):
 *   - the first record is always a TCG_PCR_EVENT (pcrIndex u32, eventType u32,
 *     SHA-1 digest[20], eventSize u32, event[eventSize]);
 *   - when its event is a TCG_EfiSpecIdEvent ("Spec ID Event03\0"), the log is
 *     crypto-agile: every following record is a TCG_PCR_EVENT2 (pcrIndex,
 *     eventType, digest count u32, {algId u16, digest[size from the Spec ID
 *     event]}..., eventSize u32, event);
 *   - otherwise it is a legacy SHA-1 log of TCG_PCR_EVENT records only.
 * Replay: PCR = H(PCR || digest) from all zeros; EV_NO_ACTION (3) records are
 * not extended, except that a "StartupLocality\0" EV_NO_ACTION record sets the
 * initial PCR0 of every bank to 0...0 || locality.
 * CCEL: the same crypto-agile format (SHA-384), the index field is the CC MR
 * index (1 -> RTMR0 ... 4 -> RTMR3), the area is a fixed-size buffer padded
 * with 0xFF or 0x00 after the last record.
 *
 * The parser is bounded (caps below), pure, and writes `out` only on success. */
#ifndef CAIRN_ATTEST_EVENTLOG_H
#define CAIRN_ATTEST_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define TPM_ALG_SHA1 0x0004
#define TPM_ALG_SHA256 0x000B
#define TPM_ALG_SHA384 0x000C
#define TPM_ALG_SHA512 0x000D

#define EVENTLOG_MAX_BYTES (32u << 20)   /* CCEL areas are up to a few MiB */
#define EVENTLOG_MAX_EVENTS 200000u
#define EVENTLOG_MAX_BANKS 8
#define EVENTLOG_PCRS 24
#define EVENTLOG_EV_NO_ACTION 3u

enum eventlog_kind {
    EVENTLOG_TCG = 0,   /* TPM PC Client log; indices are PCRs 0..23 */
    EVENTLOG_CCEL,      /* TDX CCEL; index 1..4 -> RTMR0..3 (stored in pcr[0..3]) */
};

struct eventlog_bank {
    uint16_t alg;                     /* TPM_ALG_*; banks of unknown algorithms are skipped */
    size_t digest_size;
    uint8_t pcr[EVENTLOG_PCRS][64];
    bool touched[EVENTLOG_PCRS];      /* extended by the log (or StartupLocality for PCR0) */
};

struct eventlog_replay {
    bool crypto_agile;
    unsigned n_banks;
    struct eventlog_bank banks[EVENTLOG_MAX_BANKS];
    size_t n_events;                  /* records parsed, including the header record */
    int startup_locality;             /* -1 when the log has none */
    size_t used_bytes;                /* bytes up to the end of the last record */
};

/* Name of a TPM hash algorithm ("sha1", "sha256", "sha384", "sha512") or NULL. */
const char *eventlog_alg_name(uint16_t alg);
size_t eventlog_alg_size(uint16_t alg);     /* 0 when unknown */
int eventlog_alg_from_name(const char *name, uint16_t *alg);

/* Parses and replays a whole log. Errors name the record number and field,
 * e.g. "event log: record 12: event size 70000 exceeds the 4096 bytes left". */
int eventlog_replay(const uint8_t *p, size_t n, enum eventlog_kind kind, struct eventlog_replay *out,
                    struct cairn_error *err);

/* One measured record, as the replay extends it (for reference values that
 * name what fed each register). Pointers borrow from the log. */
struct eventlog_event {
    size_t record;                    /* record number; 0 is the first (header) record */
    unsigned slot;                    /* PCR 0..23, or RTMR 0..3 for a CCEL */
    uint32_t type;                    /* EV_* */
    const uint8_t *data;              /* the event data */
    uint32_t data_len;
    const uint8_t *digest[EVENTLOG_MAX_BANKS]; /* per bank of the replay, in its bank order */
};
/* Called once per extended record, in log order; a non-zero return stops the
 * replay with that code. */
typedef int (*eventlog_event_fn)(void *ctx, const struct eventlog_replay *r, const struct eventlog_event *ev);

/* eventlog_replay, calling `fn` (may be NULL) for every extended record. */
int eventlog_replay_events(const uint8_t *p, size_t n, enum eventlog_kind kind, struct eventlog_replay *out,
                           eventlog_event_fn fn, void *ctx, struct cairn_error *err);

/* "EV_IPL", "EV_EFI_VARIABLE_BOOT", ... (TCG PC Client PFP names); NULL when unknown. */
const char *eventlog_event_type_name(uint32_t type);

/* The UTF-16 variable name of an EV_EFI_VARIABLE_* event (UEFI_VARIABLE_DATA:
 * VariableName GUID, u64 name length in chars, u64 data length, name, data),
 * as ASCII into out (non-ASCII as '?'); 0, or CAIRN_ERR_INVALID when the data
 * is not that structure. Bounded; out has out_size bytes (NUL-terminated). */
int eventlog_efi_variable_name(const uint8_t *data, size_t len, char *out, size_t out_size);

/* The bank for `alg`, or NULL. */
const struct eventlog_bank *eventlog_bank_get(const struct eventlog_replay *r, uint16_t alg);

/* ACPI "CCEL" table (56 bytes): checks signature, length and checksum; returns
 * the log area minimum length (LAML) and start address (LASA). */
int eventlog_ccel_table_parse(const uint8_t *p, size_t n, uint8_t *out_cc_type, uint64_t *out_laml,
                              uint64_t *out_lasa, struct cairn_error *err);

/* Replays a CCEL area, bounded by the table's LAML when `table` is given. */
int eventlog_ccel_replay(const uint8_t *table, size_t table_len, const uint8_t *data, size_t data_len,
                         uint8_t out_rtmr[4][48], struct cairn_error *err);

/* The replay as JSON for display (`cairn evidence eventlog`): TCG logs give
 * {"format": "crypto-agile"|"sha1", "events": n, "startup_locality"?: n,
 *  "pcrs": {"sha256": {"0": hex, ...}, ...}} with the PCRs the log touched;
 * CCEL gives {"format": "ccel", "events": n, "rtmrs": {"0": hex, .. "3": hex}}.
 * New reference, NULL on allocation failure. */
struct json_t *eventlog_replay_to_json(const struct eventlog_replay *r, enum eventlog_kind kind);

/* Replays a CCEL (bounded by the optional ACPI table) and compares RTMR0..3
 * with the "rtmr0".."rtmr3" hex claims of a verified TDX quote (`claims`, a
 * JSON object as in attest.h). CAIRN_ERR_VERIFY names the first RTMR that
 * differs and its replayed value. */
struct json_t;
int eventlog_ccel_match_claims(const struct json_t *claims, const uint8_t *table, size_t table_len,
                               const uint8_t *data, size_t data_len, struct cairn_error *err);

#endif
