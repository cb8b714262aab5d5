/* CoCo initdata digests (see initdata.h). */
#include "attest/initdata.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

/* A top-level string value we read: borrowed from the document. */
struct field {
    const uint8_t *v;
    size_t len;
    bool set;
};

struct scan {
    const uint8_t *p;
    size_t n, i;
    int line;
};

static bool at_end(const struct scan *s) { return s->i >= s->n; }

static void skip_blank(struct scan *s)
{
    while (!at_end(s) && (s->p[s->i] == ' ' || s->p[s->i] == '\t'))
        s->i++;
}

/* Past the end of the line (or to the end). */
static void skip_line(struct scan *s)
{
    while (!at_end(s) && s->p[s->i] != '\n')
        s->i++;
    if (!at_end(s)) {
        s->i++;
        s->line++;
    }
}

static bool bare_key_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* One key segment: bare, "basic" (no escapes) or 'literal'. */
static int key_segment(struct scan *s, const uint8_t **k, size_t *kl, struct cairn_error *err)
{
    if (!at_end(s) && (s->p[s->i] == '"' || s->p[s->i] == '\'')) {
        uint8_t q = s->p[s->i++];
        size_t a = s->i;
        while (!at_end(s) && s->p[s->i] != q && s->p[s->i] != '\n' && s->p[s->i] != '\\')
            s->i++;
        if (at_end(s) || s->p[s->i] != q)
            return cairn_errf(err, CAIRN_ERR_INVALID, "initdata line %d: unsupported quoted key", s->line);
        *k = s->p + a;
        *kl = s->i - a;
        s->i++;
        return 0;
    }
    size_t a = s->i;
    while (!at_end(s) && bare_key_char(s->p[s->i]))
        s->i++;
    if (s->i == a)
        return cairn_errf(err, CAIRN_ERR_INVALID, "initdata line %d: not a TOML key = value line", s->line);
    *k = s->p + a;
    *kl = s->i - a;
    return 0;
}

/* A multi-line string opened by `q` x3 at s->i: skips to past its close. */
static int skip_multiline(struct scan *s, uint8_t q, struct cairn_error *err)
{
    int start = s->line;
    s->i += 3;
    while (!at_end(s)) {
        uint8_t c = s->p[s->i];
        if (c == '\\' && q == '"') {
            s->i += 2; /* an escape: the next byte cannot close */
            continue;
        }
        if (c == '\n')
            s->line++;
        if (c == q && s->n - s->i >= 3 && s->p[s->i + 1] == q && s->p[s->i + 2] == q) {
            s->i += 3;
            /* TOML allows one or two more quotes inside the closing run */
            for (int k = 0; k < 2 && !at_end(s) && s->p[s->i] == q; k++)
                s->i++;
            return 0;
        }
        s->i++;
    }
    return cairn_errf(err, CAIRN_ERR_INVALID, "initdata line %d: multi-line string never closed", start);
}

/* The value of a top-level key; *f receives one-line strings. */
static int value(struct scan *s, struct field *f, bool wanted, struct cairn_error *err)
{
    if (at_end(s))
        return cairn_errf(err, CAIRN_ERR_INVALID, "initdata line %d: a key without a value", s->line);
    uint8_t c = s->p[s->i];
    if ((c == '"' || c == '\'') && s->n - s->i >= 3 && s->p[s->i + 1] == c && s->p[s->i + 2] == c) {
        if (wanted)
            return cairn_errf(err, CAIRN_ERR_INVALID, "initdata line %d: algorithm/version must be a one-line string",
                              s->line);
        return skip_multiline(s, c, err);
    }
    if (c == '"' || c == '\'') {
        size_t a = ++s->i;
        bool escaped = false;
        while (!at_end(s) && s->p[s->i] != c && s->p[s->i] != '\n') {
            if (c == '"' && s->p[s->i] == '\\') {
                escaped = true;
                s->i++;
            }
            if (!at_end(s))
                s->i++;
        }
        if (at_end(s) || s->p[s->i] != c)
            return cairn_errf(err, CAIRN_ERR_INVALID, "initdata line %d: string not closed on its line", s->line);
        if (wanted && escaped)
            return cairn_errf(err, CAIRN_ERR_INVALID, "initdata line %d: escapes in algorithm/version", s->line);
        f->v = s->p + a;
        f->len = s->i - a;
        s->i++;
        return 0;
    }
    if (c == '[' || c == '{')
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "initdata line %d: a top-level array or inline table (initdata holds strings)", s->line);
    if (wanted)
        return cairn_errf(err, CAIRN_ERR_INVALID, "initdata line %d: algorithm/version must be a string", s->line);
    while (!at_end(s) && s->p[s->i] != '\n' && s->p[s->i] != '#' && s->p[s->i] != ' ' && s->p[s->i] != '\t' &&
           s->p[s->i] != '\r')
        s->i++;
    return 0;
}

static bool is(const struct field *f, const char *s) { return f->len == strlen(s) && memcmp(f->v, s, f->len) == 0; }

/* algorithm and version from the top-level keys (before the first table). */
static int read_header(const uint8_t *p, size_t n, struct field *alg, struct field *ver, struct cairn_error *err)
{
    struct scan s = {.p = p, .n = n, .line = 1};
    while (!at_end(&s)) {
        skip_blank(&s);
        if (at_end(&s))
            break;
        uint8_t c = s.p[s.i];
        if (c == '\n' || c == '#' || (c == '\r' && s.n - s.i >= 2 && s.p[s.i + 1] == '\n')) {
            skip_line(&s);
            continue;
        }
        if (c == '[')
            break; /* the first table: the top level ends */
        const uint8_t *k = NULL;
        size_t kl = 0;
        int segments = 0, rc;
        bool is_alg = false, is_ver = false;
        for (;;) {
            if ((rc = key_segment(&s, &k, &kl, err)) != 0)
                return rc;
            segments++;
            skip_blank(&s);
            if (at_end(&s) || s.p[s.i] != '.')
                break;
            s.i++;
            skip_blank(&s);
        }
        if (segments == 1) {
            is_alg = kl == 9 && memcmp(k, "algorithm", 9) == 0;
            is_ver = kl == 7 && memcmp(k, "version", 7) == 0;
        }
        if (at_end(&s) || s.p[s.i] != '=')
            return cairn_errf(err, CAIRN_ERR_INVALID, "initdata line %d: not a TOML key = value line", s.line);
        s.i++;
        skip_blank(&s);
        struct field *f = is_alg ? alg : is_ver ? ver : NULL, tmp = {0};
        if (f != NULL && f->set)
            return cairn_errf(err, CAIRN_ERR_INVALID, "initdata line %d: \"%s\" given twice", s.line,
                              is_alg ? "algorithm" : "version");
        if ((rc = value(&s, f ? f : &tmp, f != NULL, err)) != 0)
            return rc;
        if (f != NULL)
            f->set = true;
        skip_blank(&s);
        if (!at_end(&s) && s.p[s.i] == '\r')
            s.i++;
        if (!at_end(&s) && s.p[s.i] != '\n' && s.p[s.i] != '#')
            return cairn_errf(err, CAIRN_ERR_INVALID, "initdata line %d: text after the value", s.line);
        skip_line(&s);
    }
    return 0;
}

void initdata_adjust(const uint8_t *digest, size_t digest_len, uint8_t *out, size_t len)
{
    memset(out, 0, len);
    memcpy(out, digest, digest_len < len ? digest_len : len);
}

int initdata_digest(const uint8_t *p, size_t n, struct initdata_digest *out, struct cairn_error *err)
{
    if (p == NULL || n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "initdata: empty");
    if (n > INITDATA_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "initdata: %zu bytes, cap %u", n, INITDATA_MAX);
    struct field alg = {0}, ver = {0};
    struct cairn_error e = {0};
    int rc = read_header(p, n, &alg, &ver, &e);
    if (rc != 0)
        return cairn_errf(err, rc, "%s: not an initdata TOML document (Kata measures that document, not a bare policy)",
                          e.msg);
    if (!alg.set || !ver.set)
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "initdata: no top-level %s (an initdata TOML document starts with version = \"0.1.0\" and "
                          "algorithm = \"sha256|sha384|sha512\"; Kata measures that document, not a bare policy)",
                          !ver.set ? "version" : "algorithm");
    if (!is(&ver, "0.1.0"))
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "initdata: version \"%.*s\" (Kata supports \"0.1.0\")",
                          (int)(ver.len > 20 ? 20 : ver.len), (const char *)ver.v);
    const EVP_MD *md = is(&alg, "sha256") ? EVP_sha256() : is(&alg, "sha384") ? EVP_sha384()
                       : is(&alg, "sha512")                 ? EVP_sha512()
                                                            : NULL;
    if (md == NULL)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "initdata: algorithm \"%.*s\" (sha256, sha384 or sha512)",
                          (int)(alg.len > 20 ? 20 : alg.len), (const char *)alg.v);
    struct initdata_digest d = {0};
    memcpy(d.algorithm, alg.v, alg.len);
    unsigned dl = 0;
    if (EVP_Digest(p, n, d.digest, &dl, md, NULL) != 1)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "initdata: digest failed");
    d.digest_len = dl;
    initdata_adjust(d.digest, dl, d.host_data, sizeof(d.host_data));
    initdata_adjust(d.digest, dl, d.mr_config_id, sizeof(d.mr_config_id));
    if (dl == 32) {
        uint8_t in[64] = {0};
        memcpy(in + 32, d.digest, 32);
        if (EVP_Digest(in, sizeof(in), d.pcr8, NULL, EVP_sha256(), NULL) != 1)
            return cairn_errf(err, CAIRN_ERR_CRYPTO, "initdata: digest failed");
        d.has_pcr8 = 1;
    }
    *out = d;
    return 0;
}
