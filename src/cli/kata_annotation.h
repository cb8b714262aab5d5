/* Internal to the CLI: Kata's initdata pod annotation
 * (io.katacontainers.config.hypervisor.cc_init_data): standard base64 of
 * the gzip-compressed initdata TOML, as genpolicy writes it and the Kata
 * runtime reads it (oci/utils.go addHypervisorInitdataOverrides).
 *
 * Untrusted text (a value copied from a pod YAML): whitespace is ignored,
 * the decompressed size is capped at INITDATA_MAX (no gzip bomb gets past
 * the cap), trailing bytes after the gzip member are refused. Pure. */
#ifndef CAIRN_CLI_KATA_ANNOTATION_H
#define CAIRN_CLI_KATA_ANNOTATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Whether the text looks like the annotation (base64 of gzip: "H4sI"). */
bool kata_annotation_detect(const uint8_t *p, size_t n);

/* The TOML the annotation carries (malloc'd, NUL-terminated, caller frees). */
int kata_annotation_decode(const uint8_t *p, size_t n, uint8_t **out, size_t *out_len, struct cairn_error *err);

#endif
