/* Internal details of the manifest engine, not for use outside src/manifest. */
#ifndef CAIRN_MANIFEST_INTERNAL_H
#define CAIRN_MANIFEST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"
#include "manifest/manifest.h"

/* Room for a field path such as `Marbles.backend.Parameters.Files./etc/x`;
 * longer paths are truncated in messages only. */
#define MF_PATH_MAX 256

void mf_strv_free(char **v, size_t n);
void mf_file_clear(struct manifest_file *f);
/* Go encoding/json key match: JSON key `a` against Go field name `b`
 * (cairn_go_key_equal: ASCII case, K/\u017f folds). */
bool mf_key_equal(const char *a, const char *b);

/* manifest_parse() in two steps: the size cap and the JSON text (*out: a
 * new tree, json_decref), then the decoding of a tree (*out: manifest_free). */
int mf_load(const uint8_t *json, size_t len, json_t **out, struct cairn_error *err);
int mf_decode(const json_t *root, struct manifest **out, struct cairn_error *err);

/* fields.c: inside manifest_parse_ex(), records that the decoder looked for
 * `field` (a static string) in `obj`; a no-op otherwise. */
void mf_trace_note(const json_t *obj, const char *field);

/* Go encoding/json name of a JSON value's type, for messages. */
const char *mf_json_type(const json_t *j);

/* The value of the last key of `obj` matching `field` case-insensitively
 * (Go: last wins), or NULL. */
json_t *mf_obj_get(const json_t *obj, const char *field);

/* Decoders used by the manifest and the secret JSON: null/absent leaves *out
 * untouched and returns 0; a wrong type fails naming `path`. */
int mf_get_string(const json_t *obj, const char *field, const char *path, char **out,
                  struct cairn_error *err);
int mf_get_bool(const json_t *obj, const char *field, const char *path, bool *out, struct cairn_error *err);
int mf_get_uint(const json_t *obj, const char *field, const char *path, uint64_t max, bool *present,
                uint64_t *out, struct cairn_error *err);
/* Go []byte: a base64 string or an array of numbers 0..255. */
int mf_get_bytes(const json_t *obj, const char *field, const char *path, uint8_t **out, size_t *out_len,
                 struct cairn_error *err);

/* Sorted-array lookup by name; `base` holds `n` structs of `size` bytes whose
 * first member is `char *name`. */
const void *mf_find(const void *base, size_t n, size_t size, const char *name);

/* Base64 (StdEncoding) decode ignoring \r and \n as Go does. */
int mf_base64_decode_go(const char *s, size_t len, uint8_t **out, size_t *out_len);

/* RFC 3339 time as Go's time.Time JSON; *is_zero when it is Go's zero time. */
int mf_time_parse(const char *s, time_t *out, bool *is_zero);

/* coco.c: the "ConfidentialContainers" section. */
int mf_coco_parse(const json_t *root, struct manifest_coco *out, struct cairn_error *err);
void mf_coco_clear(struct manifest_coco *c);
int mf_coco_check(const struct manifest *m, struct cairn_error *err);

#endif
