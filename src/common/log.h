/* Internal: process-wide logging to stderr, as text or JSON lines.
 *
 * Thread-safe (each line is written with one locked fwrite). Secrets must never
 * be passed to these functions. Parsers never log (DESIGN §2). */
#ifndef CAIRN_COMMON_LOG_H
#define CAIRN_COMMON_LOG_H

#include <stddef.h>

enum cairn_log_level { CAIRN_LOG_DEBUG = 0, CAIRN_LOG_INFO, CAIRN_LOG_WARN, CAIRN_LOG_ERROR };
enum cairn_log_format { CAIRN_LOG_TEXT = 0, CAIRN_LOG_JSON };

/* Sets the minimum level and the format; `component` (e.g. "coordinator") is
 * copied and appears on every line. May be called again at any time. */
void cairn_log_setup(enum cairn_log_level min, enum cairn_log_format fmt, const char *component);

/* Parses "debug|info|warn|error" and "text|json"; returns 0 or CAIRN_ERR_INVALID. */
int cairn_log_level_parse(const char *s, enum cairn_log_level *out);
int cairn_log_format_parse(const char *s, enum cairn_log_format *out);

void cairn_log(enum cairn_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A field of a structured log line (cairn_log_kv): a string (`str` non-NULL)
 * or a number. Keys are lower_snake_case and never "time", "level",
 * "component" or "msg". Values are borrowed for the call. */
struct cairn_log_kv {
    const char *key;
    const char *str;
    double num;
};
#define LOG_KV_STR(k, v) ((struct cairn_log_kv){(k), (v) != NULL ? (v) : "", 0})
#define LOG_KV_NUM(k, v) ((struct cairn_log_kv){(k), NULL, (double)(v)})

/* One line with fields, for events that are counted, alerted on or audited
 * (activations, governance actions). JSON: each field is a member of the
 * line's object next to "msg" (strings as strings, numbers as numbers).
 * Text: the message, then ` key=value` for each field (values with spaces,
 * quotes or `=` double-quoted, control characters replaced). */
void cairn_log_kv(enum cairn_log_level lvl, const struct cairn_log_kv *kv, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_DEBUG(...) cairn_log(CAIRN_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) cairn_log(CAIRN_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) cairn_log(CAIRN_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) cairn_log(CAIRN_LOG_ERROR, __VA_ARGS__)

#endif
