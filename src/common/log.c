#include "common/log.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "common/buf.h"
#include "common/error.h"

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum cairn_log_level g_log_min = CAIRN_LOG_INFO;
static enum cairn_log_format g_log_fmt = CAIRN_LOG_TEXT;
static char g_log_component[32] = "cairn";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cairn_log_setup(enum cairn_log_level min, enum cairn_log_format fmt, const char *component)
{
    pthread_mutex_lock(&g_log_lock);
    g_log_min = min;
    g_log_fmt = fmt;
    if (component != NULL)
        snprintf(g_log_component, sizeof(g_log_component), "%s", component);
    pthread_mutex_unlock(&g_log_lock);
}

int cairn_log_level_parse(const char *s, enum cairn_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum cairn_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = CAIRN_LOG_WARN;
        return 0;
    }
    return CAIRN_ERR_INVALID;
}

int cairn_log_format_parse(const char *s, enum cairn_log_format *out)
{
    if (strcasecmp(s, "text") == 0)
        *out = CAIRN_LOG_TEXT;
    else if (strcasecmp(s, "json") == 0)
        *out = CAIRN_LOG_JSON;
    else
        return CAIRN_ERR_INVALID;
    return 0;
}

/* Appends `s` as the inside of a JSON string (quotes not included). */
static void json_escape(struct cairn_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            cairn_buf_appendf(b, "\\%c", c);
        else if (c < 0x20)
            cairn_buf_appendf(b, "\\u%04x", c);
        else
            cairn_buf_append(b, &c, 1);
    }
}

/* A number as JSON and text show it: integers exactly, else 3 decimals. */
static void append_num(struct cairn_buf *b, double v)
{
    if (!isfinite(v))
        cairn_buf_append_str(b, "null");
    else if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(long long)v)
        cairn_buf_appendf(b, "%lld", (long long)v);
    else
        cairn_buf_appendf(b, "%.3f", v);
}

/* A text value: bare when it is a plain word, else double-quoted with \" and
 * \\ escaped; control characters become '?' (one entry, one line). */
static void text_value(struct cairn_buf *b, const char *s)
{
    bool plain = *s != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = (unsigned char)*p > 0x20 && *p != 0x7f && *p != '"' && *p != '=' && *p != '\\';
    if (plain) {
        cairn_buf_append_str(b, s);
        return;
    }
    cairn_buf_append_str(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            cairn_buf_appendf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            cairn_buf_append_str(b, "?");
        else
            cairn_buf_append(b, &c, 1);
    }
    cairn_buf_append_str(b, "\"");
}

static void log_line(enum cairn_log_level lvl, const struct cairn_log_kv *kv, size_t n, const char *fmt, va_list ap)
{
    if (lvl < g_log_min)
        return;
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t tn = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tn, sizeof(ts) - tn, ".%03ldZ", (long)(tv.tv_usec / 1000));

    struct cairn_buf line;
    cairn_buf_init(&line, 16384);
    pthread_mutex_lock(&g_log_lock);
    if (g_log_fmt == CAIRN_LOG_JSON) {
        cairn_buf_appendf(&line, "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"",
                          ts, level_names[lvl], g_log_component);
        json_escape(&line, msg);
        cairn_buf_append_str(&line, "\"");
        for (size_t i = 0; i < n; i++) {
            cairn_buf_append_str(&line, ",\"");
            json_escape(&line, kv[i].key);
            cairn_buf_append_str(&line, "\":");
            if (kv[i].str != NULL) {
                cairn_buf_append_str(&line, "\"");
                json_escape(&line, kv[i].str);
                cairn_buf_append_str(&line, "\"");
            } else {
                append_num(&line, kv[i].num);
            }
        }
        cairn_buf_append_str(&line, "}\n");
    } else {
        /* one entry, one line: messages quote untrusted input (manifest keys,
         * request fields), and a newline in it would forge a log entry */
        for (char *c = msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        cairn_buf_appendf(&line, "%s %-5s %s: %s", ts, level_names[lvl], g_log_component, msg);
        for (size_t i = 0; i < n; i++) {
            cairn_buf_appendf(&line, " %s=", kv[i].key);
            if (kv[i].str != NULL)
                text_value(&line, kv[i].str);
            else
                append_num(&line, kv[i].num);
        }
        cairn_buf_append_str(&line, "\n");
    }
    if (line.len > 0)
        fwrite(line.data, 1, line.len, stderr);
    pthread_mutex_unlock(&g_log_lock);
    cairn_buf_free(&line);
}

void cairn_log(enum cairn_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(lvl, NULL, 0, fmt, ap);
    va_end(ap);
}

void cairn_log_kv(enum cairn_log_level lvl, const struct cairn_log_kv *kv, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(lvl, kv, n, fmt, ap);
    va_end(ap);
}
