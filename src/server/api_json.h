/* Internal: request envelopes of the client API decoded as Go's
 * encoding/json decodes MarbleRun's request structs (inventory §2.2).
 *
 * One helper for every handler, so all endpoints agree:
 * - the body is one JSON object (or `null`, which sets nothing, as in Go);
 * - a key matches a field case-insensitively with Go's folding (ASCII case,
 *   plus U+212A KELVIN SIGN for k and U+017F LONG S for s, which
 *   bytes.EqualFold folds too), so {"Manifest": ...} is accepted;
 * - unknown keys are ignored; an absent or null field keeps its zero value;
 * - []byte fields are base64 (StdEncoding, CR/LF ignored) or an array of
 *   numbers 0..255; uint64 fields are non-negative integers.
 * Deliberate differences (safer, no MarbleRun client produces them): two keys
 * naming the same field (exact duplicates or case variants) are refused
 * instead of "last one wins"; bytes after the JSON value are refused; uint64
 * values above 2^63-1 are refused (jansson's integer range).
 * Errors name the field: "manifest: expected a base64 string, got number". */
#ifndef CAIRN_SERVER_API_JSON_H
#define CAIRN_SERVER_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"

enum api_jtype {
    API_J_BYTES,    /* out: struct api_jbytes * (p malloc'd; free it) */
    API_J_STRING,   /* out: char ** (malloc'd, NUL-free; free it) */
    API_J_UINT64,   /* out: uint64_t * */
    API_J_OBJECT,   /* out: const json_t ** borrowed from *root (object or NULL) */
};

struct api_jfield {
    const char *name;   /* the Go field's JSON name (tag or field name) */
    enum api_jtype type;
    void *out;
    bool *present;      /* optional: set when the field was given and not null */
};

struct api_jbytes {
    uint8_t *p;
    size_t n;
};

/* Go's field-name match of a JSON key (see above). */
bool api_json_key_match(const char *key, size_t key_len, const char *field);

/* Decodes `body` into `fields`. On success *root (when not NULL) holds the
 * parsed document (json_decref it; API_J_OBJECT outputs borrow from it).
 * On failure nothing is returned (outputs already filled are freed and
 * zeroed) and `err` says which field failed; code CAIRN_ERR_INVALID (or
 * CAIRN_ERR_NOMEM). */
int api_json_decode(const uint8_t *body, size_t len, const struct api_jfield *fields, size_t n, json_t **root,
                    struct cairn_error *err);

#endif
