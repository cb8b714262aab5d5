/* Internal: a TDX guest's CC event log (CCEL) checked against its quote:
 * the log is replayed and every RTMR it extends must equal the quote's.
 *
 * Used by `cairn evidence verify` after the quote verified. Bounded and
 * pure (the replay is eventlog.h's); nothing logs. */
#ifndef CAIRN_ATTEST_CCEL_CHECK_H
#define CAIRN_ATTEST_CCEL_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"

/* Replays a CCEL area (bounded by the ACPI table's LAML when `table` is
 * given) and compares every RTMR the log extends with the quote's
 * "rtmr0".."rtmr3" claims. Adds "ccel_rtmrs_compared" (count) and the check
 * "ccel_replay" to claims on success; CAIRN_ERR_VERIFY naming the first RTMR
 * that differs (with both values) otherwise. */
int trust_ccel_check(const uint8_t *table, size_t table_len, const uint8_t *data, size_t data_len, json_t *claims,
                     struct cairn_error *err);

#endif
