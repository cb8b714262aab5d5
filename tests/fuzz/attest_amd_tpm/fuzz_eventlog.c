/* Event log parser/replay on arbitrary bytes, as a TCG log and as a CCEL,
 * and the ACPI CCEL table parser. */
#include <stddef.h>
#include <stdint.h>

#include "attest/eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct eventlog_replay r;
    struct cairn_error err = {0};
    (void)eventlog_replay(data, size, EVENTLOG_TCG, &r, &err);
    (void)eventlog_replay(data, size, EVENTLOG_CCEL, &r, &err);
    uint8_t t;
    uint64_t laml, lasa;
    (void)eventlog_ccel_table_parse(data, size, &t, &laml, &lasa, &err);
    char name[64];
    (void)eventlog_efi_variable_name(data, size, name, sizeof(name));
    return 0;
}
