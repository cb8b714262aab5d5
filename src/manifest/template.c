/* The template subset of MarbleRun's Files/Env values (inventory §1.5).
 *
 * MarbleRun runs Go text/template; Cairn implements the part of it that the
 * manifest format documents and rejects everything else with a clear error
 * instead of guessing. Supported inside {{ }} (with optional {{- -}} trims):
 *   - pipelines of commands separated by '|', the previous result being the
 *     last argument of the next command (Go semantics);
 *   - commands: pem | hex | base64 | raw (Files) | string (Env) with one
 *     argument, `index <map> "<name>"`, or a single operand;
 *   - operands: field chains rooted at the data (.Secrets.x.Cert,
 *     .Previous.Secrets.x, .MarbleRun.RootCA.Cert, ...), string literals
 *     ("..." or `...`), and parenthesised pipelines optionally followed by a
 *     field chain: (index .Secrets "a-b").Private;
 *   - comments: "{{" slash-star ... star-slash "}}".
 * Values are typed like MarbleRun's: a whole secret, its Cert, Public or
 * Private part, a map of secrets, or a string; the encoders accept the types
 * MarbleRun's encoders accept and give the same errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/encoding.h"
#include "manifest/manifest_internal.h"

#define MAX_DEPTH 8     /* nested parentheses */
#define MAX_ARGS 4      /* arguments of one command */
#define MAX_CMDS 8      /* commands of one pipeline */
#define DESC_MAX 96

enum vkind { V_NONE, V_SECRET, V_MAP, V_CERT, V_PUBLIC, V_PRIVATE, V_STRING };

struct val {
    enum vkind kind;
    const struct manifest_secret_value *secret; /* V_SECRET; NULL = zero Secret */
    const struct manifest_secret_set *map;      /* V_MAP; NULL = empty map */
    bool missing;                               /* the secret name is not in the map */
    char name[DESC_MAX];                        /* secret name, for messages */
    const uint8_t *p;                           /* V_CERT/V_PUBLIC/V_PRIVATE/V_STRING bytes */
    size_t n;
    uint8_t *owned;                             /* V_STRING results: malloc'd, may be secret */
    bool is_literal;                            /* V_STRING from a literal in the template */
};

static void val_clear(struct val *v)
{
    if (v->owned != NULL) {
        OPENSSL_cleanse(v->owned, v->n);
        free(v->owned);
    }
    memset(v, 0, sizeof(*v));
}

enum tok_kind { T_EOF, T_IDENT, T_FIELD, T_STRING, T_LPAREN, T_RPAREN, T_PIPE, T_BAD };

struct tok {
    enum tok_kind kind;
    const char *p;   /* start in the action text */
    size_t n;
    bool space_before;
};

struct ctx {
    const char *s;          /* action text (between the delimiters and trim markers) */
    size_t len, pos;
    struct tok cur;
    enum manifest_template_target target;
    const struct manifest_template_data *d;
    struct cairn_error *err;
    int depth;
    char action[72];        /* for messages */
};

static int terr(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int terr(struct ctx *c, const char *fmt, ...)
{
    char msg[CAIRN_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cairn_errf(c->err, CAIRN_ERR_INVALID, "template {{%s}}: %s", c->action, msg);
}

/* ---- lexer ------------------------------------------------------------------ */

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool is_ident(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

static void next(struct ctx *c)
{
    struct tok t = {0};
    size_t i = c->pos;
    while (i < c->len && is_space(c->s[i])) {
        t.space_before = true;
        i++;
    }
    t.p = c->s + i;
    if (i >= c->len) {
        t.kind = T_EOF;
    } else {
        char ch = c->s[i];
        size_t j = i + 1;
        if (ch == '(') {
            t.kind = T_LPAREN;
        } else if (ch == ')') {
            t.kind = T_RPAREN;
        } else if (ch == '|') {
            t.kind = T_PIPE;
        } else if (ch == '.') {
            /* A field chain: .A.B.C (a lone '.' is the data root). */
            t.kind = T_FIELD;
            while (j < c->len && (is_ident(c->s[j]) || (c->s[j] == '.' && j + 1 < c->len && is_ident(c->s[j + 1]))))
                j++;
        } else if (ch == '"') {
            t.kind = T_BAD;
            while (j < c->len && c->s[j] != '"' && c->s[j] != '\n') {
                if (c->s[j] == '\\' && j + 1 < c->len)
                    j++;
                j++;
            }
            if (j < c->len && c->s[j] == '"') {
                t.kind = T_STRING;
                j++;
            }
        } else if (ch == '`') {
            t.kind = T_BAD;
            while (j < c->len && c->s[j] != '`')
                j++;
            if (j < c->len) {
                t.kind = T_STRING;
                j++;
            }
        } else if (is_ident(ch)) {
            t.kind = T_IDENT;
            while (j < c->len && is_ident(c->s[j]))
                j++;
        } else {
            t.kind = T_BAD;
        }
        i = j;
    }
    t.n = (size_t)(c->s + i - t.p);
    c->pos = i;
    c->cur = t;
}

/* Decodes a string literal token into v (V_STRING, owned). */
static int string_literal(struct ctx *c, const struct tok *t, struct val *v)
{
    uint8_t *o = malloc(t->n + 1);
    size_t n = 0;
    if (o == NULL)
        return cairn_errf(c->err, CAIRN_ERR_NOMEM, "out of memory");
    if (t->p[0] == '`') {
        memcpy(o, t->p + 1, t->n - 2);
        n = t->n - 2;
    } else {
        for (size_t i = 1; i + 1 < t->n; i++) {
            char ch = t->p[i];
            if (ch == '\\') {
                char e = t->p[++i];
                switch (e) {
                case 'n': ch = '\n'; break;
                case 't': ch = '\t'; break;
                case 'r': ch = '\r'; break;
                case '\\': ch = '\\'; break;
                case '"': ch = '"'; break;
                default:
                    free(o);
                    return terr(c, "unsupported escape \\%c in a string literal", e);
                }
            }
            o[n++] = (uint8_t)ch;
        }
    }
    o[n] = 0;
    v->kind = V_STRING;
    v->owned = o;
    v->p = o;
    v->n = n;
    v->is_literal = true;
    return 0;
}

/* ---- values ------------------------------------------------------------------- */

static const char *kind_name(const struct val *v)
{
    switch (v->kind) {
    case V_SECRET: return "a secret";
    case V_MAP: return "a map of secrets";
    case V_CERT: return "a certificate";
    case V_PUBLIC: return "a public key";
    case V_PRIVATE: return "a private key";
    case V_STRING: return "a string";
    default: return "nothing";
    }
}

static void set_secret(struct val *v, const struct manifest_secret_value *s, const char *name, bool missing)
{
    memset(v, 0, sizeof(*v));
    v->kind = V_SECRET;
    v->secret = s;
    v->missing = missing;
    snprintf(v->name, sizeof(v->name), "%s", name);
}

static int apply_field(struct ctx *c, struct val *v, const char *f, size_t fn)
{
    char name[DESC_MAX];
    snprintf(name, sizeof(name), "%.*s", (int)(fn < DESC_MAX - 1 ? fn : DESC_MAX - 1), f);
    if (fn >= DESC_MAX - 1)
        return terr(c, "field name too long");
    switch (v->kind) {
    case V_MAP: {
        const struct manifest_secret_value *s = v->map ? manifest_secret_set_find(v->map, name) : NULL;
        set_secret(v, s, name, s == NULL);
        return 0;
    }
    case V_SECRET: {
        const struct manifest_secret_value *s = v->secret;
        enum vkind k;
        if (strcmp(name, "Cert") == 0)
            k = V_CERT;
        else if (strcmp(name, "Public") == 0)
            k = V_PUBLIC;
        else if (strcmp(name, "Private") == 0)
            k = V_PRIVATE;
        else if (strcmp(name, "Type") == 0 || strcmp(name, "Size") == 0 || strcmp(name, "Shared") == 0 ||
                 strcmp(name, "UserDefined") == 0 || strcmp(name, "ValidFor") == 0)
            return terr(c, "field %s of a secret is not supported in templates (use .Cert, .Public or .Private)",
                        name);
        else
            return terr(c, "a secret has no field %s (use .Cert, .Public or .Private)", name);
        v->kind = k;
        v->p = NULL;
        v->n = 0;
        if (s != NULL) {
            v->p = k == V_CERT ? s->cert : k == V_PUBLIC ? s->public_key : s->private_key;
            v->n = k == V_CERT ? s->cert_len : k == V_PUBLIC ? s->public_len : s->private_len;
        }
        return 0;
    }
    default:
        return terr(c, "cannot take field %s of %s", name, kind_name(v));
    }
}

/* Resolves a field chain token (".A.B.C") starting at the data root, or at
 * `v` when `v` already holds a value (a chain after a parenthesis). */
static int resolve_chain(struct ctx *c, const struct tok *t, struct val *v, bool from_root)
{
    const char *p = t->p, *end = t->p + t->n;
    if (t->n == 1)
        return terr(c, "printing or passing the whole data root \".\" is not supported");
    if (from_root) {
        /* First element: Secrets | Previous | MarbleRun. */
        const char *s = p + 1, *e = s;
        while (e < end && *e != '.')
            e++;
        size_t n = (size_t)(e - s);
        memset(v, 0, sizeof(*v));
        if (n == 7 && memcmp(s, "Secrets", 7) == 0) {
            v->kind = V_MAP;
            v->map = c->d->secrets;
            p = e;
        } else if (n == 8 && memcmp(s, "Previous", 8) == 0) {
            if (end - e < 8 || memcmp(e, ".Secrets", 8) != 0 || (e + 8 < end && e[8] != '.'))
                return terr(c, ".Previous has only the field .Secrets");
            v->kind = V_MAP;
            v->map = c->d->previous;
            p = e + 8;
        } else if (n == 9 && memcmp(s, "MarbleRun", 9) == 0) {
            const char *s2 = e + 1, *e2 = s2;
            if (e >= end)
                return terr(c, ".MarbleRun needs one of .RootCA, .MarbleCert, .CoordinatorRoot, "
                               ".CoordinatorIntermediate");
            while (e2 < end && *e2 != '.')
                e2++;
            size_t n2 = (size_t)(e2 - s2);
            const struct manifest_secret_value *r;
            if (n2 == 6 && memcmp(s2, "RootCA", 6) == 0)
                r = c->d->root_ca;
            else if (n2 == 10 && memcmp(s2, "MarbleCert", 10) == 0)
                r = c->d->marble_cert;
            else if (n2 == 15 && memcmp(s2, "CoordinatorRoot", 15) == 0)
                r = c->d->coordinator_root;
            else if (n2 == 23 && memcmp(s2, "CoordinatorIntermediate", 23) == 0)
                r = c->d->coordinator_intermediate;
            else
                return terr(c, ".MarbleRun has no field %.*s (use RootCA, MarbleCert, CoordinatorRoot or "
                               "CoordinatorIntermediate)", (int)n2, s2);
            char nm[DESC_MAX];
            snprintf(nm, sizeof(nm), "MarbleRun.%.*s", (int)n2, s2);
            set_secret(v, r, nm, false);
            p = e2;
        } else {
            return terr(c, "unknown field .%.*s (the data has .Secrets, .Previous and .MarbleRun)", (int)n, s);
        }
    }
    while (p < end) {
        const char *s = p + 1, *e = s;
        int rc;
        while (e < end && *e != '.')
            e++;
        if ((rc = apply_field(c, v, s, (size_t)(e - s))) < 0)
            return rc;
        p = e;
    }
    return 0;
}

/* ---- encoders (MarbleRun's EncodeSecretDataTo*) ---------------------------------- */

static int missing_err(struct ctx *c, const struct val *v)
{
    return terr(c, "secret \"%s\" does not exist", v->name);
}

/* Raw bytes of a value as MarbleRun's EncodeSecretDataToRaw sees them. */
static int raw_bytes(struct ctx *c, const struct val *v, const uint8_t **p, size_t *n)
{
    switch (v->kind) {
    case V_SECRET:
        if (v->missing)
            return missing_err(c, v);
        *p = v->secret ? v->secret->public_key : NULL;
        *n = v->secret ? v->secret->public_len : 0;
        break;
    case V_CERT:
    case V_PUBLIC:
    case V_PRIVATE:
        if (v->missing)
            return missing_err(c, v);
        *p = v->p;
        *n = v->n;
        break;
    default:
        return terr(c, "invalid secret type (got %s)", kind_name(v));
    }
    if (*n == 0)
        return terr(c, "tried to parse secret with empty value");
    return 0;
}

static int set_output(struct ctx *c, struct val *v, uint8_t *o, size_t n)
{
    if (o == NULL)
        return cairn_errf(c->err, CAIRN_ERR_NOMEM, "out of memory");
    val_clear(v);
    v->kind = V_STRING;
    v->owned = o;
    v->p = o;
    v->n = n;
    return 0;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *o = malloc(n + 1);
    if (o != NULL) {
        memcpy(o, p, n);
        o[n] = 0;
    }
    return o;
}

static int enc_pem(struct ctx *c, struct val *v)
{
    const char *label;
    switch (v->kind) {
    case V_CERT: label = "CERTIFICATE"; break;
    case V_PUBLIC: label = "PUBLIC KEY"; break;
    case V_PRIVATE: label = "PRIVATE KEY"; break;
    case V_SECRET:
        if (v->missing)
            return missing_err(c, v);
        return terr(c, "invalid secret type for pem encoding (%s is a whole secret; use .Cert, .Public or "
                       ".Private)", v->name);
    default:
        return terr(c, "invalid secret type for pem encoding (got %s)", kind_name(v));
    }
    if (v->missing)
        return missing_err(c, v);
    if (v->n == 0)
        return terr(c, "tried to parse secret with empty value");
    char *b64 = cairn_base64_encode(v->p, v->n);
    if (b64 == NULL)
        return cairn_errf(c->err, CAIRN_ERR_NOMEM, "out of memory");
    struct cairn_buf b;
    size_t bl = strlen(b64);
    cairn_buf_init(&b, MANIFEST_TEMPLATE_MAX_OUTPUT);
    cairn_buf_appendf(&b, "-----BEGIN %s-----\n", label);
    for (size_t i = 0; i < bl; i += 64) {
        cairn_buf_append(&b, b64 + i, bl - i < 64 ? bl - i : 64);
        cairn_buf_append(&b, "\n", 1);
    }
    cairn_buf_appendf(&b, "-----END %s-----\n", label);
    OPENSSL_cleanse(b64, bl);
    free(b64);
    if (b.failed) {
        cairn_buf_free_secret(&b);
        return cairn_errf(c->err, CAIRN_ERR_TOO_LARGE, "template output too large");
    }
    size_t n;
    uint8_t *o = cairn_buf_take(&b, &n);
    return set_output(c, v, o, n);
}

static int call_func(struct ctx *c, const char *fn, struct val *args, int nargs, struct val *out)
{
    int rc;
    bool files = c->target == MANIFEST_TEMPLATE_FILE;
    if (strcmp(fn, "index") == 0) {
        if (nargs < 2)
            return terr(c, "index needs a map and a name, e.g. index .Secrets \"my-secret\"");
        if (nargs > 2)
            return terr(c, "index with more than one key is not supported");
        if (args[0].kind != V_MAP)
            return terr(c, "index of %s is not supported (only .Secrets and .Previous.Secrets)", kind_name(&args[0]));
        if (args[1].kind != V_STRING || memchr(args[1].p, 0, args[1].n) != NULL || args[1].n >= DESC_MAX)
            return terr(c, "index key must be a secret name string");
        const struct manifest_secret_value *s =
            args[0].map ? manifest_secret_set_find(args[0].map, (const char *)args[1].p) : NULL;
        struct val r;
        set_secret(&r, s, (const char *)args[1].p, s == NULL);
        *out = r;
        return 0;
    }
    bool known = strcmp(fn, "pem") == 0 || strcmp(fn, "hex") == 0 || strcmp(fn, "base64") == 0 ||
                 strcmp(fn, "raw") == 0 || strcmp(fn, "string") == 0;
    if (!known)
        return terr(c, "function \"%s\" not defined (use pem, hex, base64, raw in Files, string in Env, index)", fn);
    if (files && strcmp(fn, "string") == 0)
        return terr(c, "function \"string\" is only available in Env (use raw in Files)");
    if (!files && strcmp(fn, "raw") == 0)
        return terr(c, "function \"raw\" is only available in Files (use string, base64 or hex in Env)");
    if (nargs != 1)
        return terr(c, "wrong number of args for %s: want 1 got %d", fn, nargs);
    struct val *v = &args[0];
    if (strcmp(fn, "pem") == 0) {
        if ((rc = enc_pem(c, v)) < 0)
            return rc;
    } else if (strcmp(fn, "string") == 0) {
        if (v->kind != V_SECRET)
            return terr(c, "only secrets of type plain are allowed to use string encoding for environment "
                           "variables (got %s)", kind_name(v));
        if (v->missing)
            return missing_err(c, v);
        if (v->secret == NULL || v->secret->type != MANIFEST_SECRET_PLAIN)
            return terr(c, "only secrets of type plain are allowed to use string encoding for environment "
                           "variables");
        if (memchr(v->secret->public_key, 0, v->secret->public_len) != NULL)
            return terr(c, "secret contains null bytes");
        const uint8_t *p;
        size_t n;
        if ((rc = raw_bytes(c, v, &p, &n)) < 0)
            return rc;
        if ((rc = set_output(c, v, dup_bytes(p, n), n)) < 0)
            return rc;
    } else {
        const uint8_t *p;
        size_t n;
        if ((rc = raw_bytes(c, v, &p, &n)) < 0)
            return rc;
        if (strcmp(fn, "raw") == 0) {
            rc = set_output(c, v, dup_bytes(p, n), n);
        } else if (strcmp(fn, "hex") == 0) {
            char *h = cairn_hex_encode(p, n);
            rc = set_output(c, v, (uint8_t *)h, h ? strlen(h) : 0);
        } else {
            char *b = cairn_base64_encode(p, n);
            rc = set_output(c, v, (uint8_t *)b, b ? strlen(b) : 0);
        }
        if (rc < 0)
            return rc;
    }
    *out = *v;
    memset(v, 0, sizeof(*v)); /* ownership moved to out */
    return 0;
}

/* ---- parser/evaluator --------------------------------------------------------- */

static int pipeline(struct ctx *c, struct val *out);

static int operand(struct ctx *c, struct val *out)
{
    int rc;
    struct tok t = c->cur;
    switch (t.kind) {
    case T_FIELD:
        next(c);
        return resolve_chain(c, &t, out, true);
    case T_STRING:
        next(c);
        return string_literal(c, &t, out);
    case T_LPAREN:
        if (++c->depth > MAX_DEPTH)
            return terr(c, "parentheses nested too deeply");
        next(c);
        if ((rc = pipeline(c, out)) < 0)
            return rc;
        if (c->cur.kind != T_RPAREN) {
            val_clear(out);
            return terr(c, "missing closing parenthesis");
        }
        c->depth--;
        next(c);
        if (c->cur.kind == T_FIELD && !c->cur.space_before) {
            t = c->cur;
            next(c);
            if ((rc = resolve_chain(c, &t, out, false)) < 0) {
                val_clear(out);
                return rc;
            }
        }
        return 0;
    case T_IDENT:
        return terr(c, "unsupported template syntax \"%.*s\" (only pem, hex, base64, raw, string and index are "
                       "supported)", (int)t.n, t.p);
    case T_EOF:
        return terr(c, "missing value");
    default:
        return terr(c, "unexpected \"%.*s\"", (int)(t.n ? t.n : 1), t.p);
    }
}

/* One command; `piped` (may be NULL) is appended as the last argument. */
static int command(struct ctx *c, struct val *piped, struct val *out)
{
    struct val args[MAX_ARGS + 1];
    int nargs = 0, rc = 0;
    memset(args, 0, sizeof(args));
    if (c->cur.kind == T_IDENT) {
        char fn[16];
        struct tok t = c->cur;
        static const char *const keywords[] = {"if", "else", "end", "range", "with", "define", "template",
                                               "block", "break", "continue", "nil", "true", "false"};
        for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
            if (t.n == strlen(keywords[i]) && memcmp(t.p, keywords[i], t.n) == 0)
                return terr(c, "unsupported template syntax \"%s\" (only pem, hex, base64, raw, string and index "
                               "are supported)", keywords[i]);
        }
        if (t.n >= sizeof(fn))
            return terr(c, "function \"%.*s\" not defined", (int)t.n, t.p);
        snprintf(fn, sizeof(fn), "%.*s", (int)t.n, t.p);
        next(c);
        while (c->cur.kind != T_PIPE && c->cur.kind != T_RPAREN && c->cur.kind != T_EOF) {
            if (nargs >= MAX_ARGS) {
                rc = terr(c, "too many arguments for %s", fn);
                goto out;
            }
            if ((rc = operand(c, &args[nargs])) < 0)
                goto out;
            nargs++;
        }
        if (piped != NULL) {
            args[nargs++] = *piped;
            memset(piped, 0, sizeof(*piped));
        }
        rc = call_func(c, fn, args, nargs, out);
        goto out;
    }
    if (piped != NULL) {
        val_clear(piped);
        return terr(c, "a pipeline can only continue with a function (pem, hex, base64, raw, string, index)");
    }
    if ((rc = operand(c, out)) < 0)
        return rc;
    if (c->cur.kind != T_PIPE && c->cur.kind != T_RPAREN && c->cur.kind != T_EOF) {
        val_clear(out);
        return terr(c, "unexpected \"%.*s\" after a value (arguments need a function)",
                    (int)(c->cur.n ? c->cur.n : 1), c->cur.p);
    }
out:
    for (int i = 0; i < nargs; i++)
        val_clear(&args[i]);
    return rc;
}

static int pipeline(struct ctx *c, struct val *out)
{
    struct val cur = {0};
    int rc, ncmds = 0;
    if ((rc = command(c, NULL, &cur)) < 0)
        return rc;
    while (c->cur.kind == T_PIPE) {
        struct val nv = {0};
        if (++ncmds > MAX_CMDS) {
            val_clear(&cur);
            return terr(c, "pipeline too long");
        }
        next(c);
        if (c->cur.kind != T_IDENT) {
            val_clear(&cur);
            return terr(c, "a pipeline can only continue with a function (pem, hex, base64, raw, string, index)");
        }
        if ((rc = command(c, &cur, &nv)) < 0) {
            val_clear(&cur);
            return rc;
        }
        cur = nv;
    }
    *out = cur;
    return 0;
}

/* Evaluates one action's text and appends the result to `b`. */
static int eval_action(struct ctx *c, struct cairn_buf *b)
{
    struct val v = {0};
    int rc;
    next(c);
    if (c->cur.kind == T_EOF)
        return terr(c, "missing value for command");
    if ((rc = pipeline(c, &v)) < 0)
        return rc;
    if (c->cur.kind != T_EOF) {
        val_clear(&v);
        return terr(c, "unexpected \"%.*s\"", (int)(c->cur.n ? c->cur.n : 1), c->cur.p);
    }
    if (v.kind != V_STRING) {
        const char *k = kind_name(&v);
        val_clear(&v);
        return terr(c, "printing %s directly is not supported; apply pem, hex, base64%s", k,
                    c->target == MANIFEST_TEMPLATE_FILE ? " or raw" : " or string");
    }
    rc = cairn_buf_append(b, v.p, v.n);
    val_clear(&v);
    if (rc < 0)
        return cairn_errf(c->err, rc, "template output exceeds %d bytes", MANIFEST_TEMPLATE_MAX_OUTPUT);
    return 0;
}

/* ---- driver ----------------------------------------------------------------------- */

static const uint8_t *find2(const uint8_t *p, const uint8_t *end, char a, char b)
{
    for (; p + 1 < end; p++) {
        if (p[0] == (uint8_t)a && p[1] == (uint8_t)b)
            return p;
    }
    return NULL;
}

int manifest_template_render(const uint8_t *tmpl, size_t len, enum manifest_template_target target,
                             const struct manifest_template_data *d, uint8_t **out, size_t *out_len,
                             struct cairn_error *err)
{
    static const struct manifest_template_data empty_data;
    struct cairn_buf b;
    const uint8_t *p = tmpl, *end = tmpl + len;
    bool trim_next = false;
    int rc = 0;
    if (d == NULL)
        d = &empty_data;
    if (target == MANIFEST_TEMPLATE_ENV && memchr(tmpl, 0, len) != NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "content contains null bytes");
    cairn_buf_init(&b, MANIFEST_TEMPLATE_MAX_OUTPUT);
    while (p < end) {
        const uint8_t *open = find2(p, end, '{', '{');
        const uint8_t *text_end = open ? open : end;
        const uint8_t *ts = p;
        if (trim_next) {
            while (ts < text_end && is_space((char)*ts))
                ts++;
            trim_next = false;
        }
        const uint8_t *a = NULL;
        bool trim_left = false;
        if (open != NULL) {
            a = open + 2;
            if (a + 1 < end && a[0] == '-' && is_space((char)a[1])) {
                trim_left = true;
                a += 2;
            }
        }
        const uint8_t *te = text_end;
        if (trim_left) {
            while (te > ts && is_space((char)te[-1]))
                te--;
        }
        if (te > ts && (rc = cairn_buf_append(&b, ts, (size_t)(te - ts))) < 0) {
            rc = cairn_errf(err, rc, "template output exceeds %d bytes", MANIFEST_TEMPLATE_MAX_OUTPUT);
            goto fail;
        }
        if (open == NULL)
            break;
        /* Find the end of the action: "}}" outside string literals (and, for
         * a comment, after its closing star-slash). */
        const uint8_t *q = a, *close = NULL;
        while (q < end && is_space((char)*q))
            q++;
        bool comment = q + 1 < end && q[0] == '/' && q[1] == '*';
        if (comment) {
            const uint8_t *ce = find2(q + 2, end, '*', '/');
            if (ce == NULL) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "template: unclosed comment");
                goto fail;
            }
            close = find2(ce + 2, end, '}', '}');
            const uint8_t *between = ce + 2;
            while (between < (close ? close : end) && is_space((char)*between))
                between++;
            if (close != NULL && between < close && !(between + 1 == close && *between == '-'))
                close = NULL;
            if (close == NULL) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "template: comment ends before the closing delimiter");
                goto fail;
            }
        } else {
            char quote = 0;
            for (q = a; q < end; q++) {
                if (quote) {
                    if (*q == '\\' && quote == '"' && q + 1 < end)
                        q++;
                    else if (*q == (uint8_t)quote)
                        quote = 0;
                } else if (*q == '"' || *q == '`') {
                    quote = (char)*q;
                } else if (q + 1 < end && q[0] == '}' && q[1] == '}') {
                    close = q;
                    break;
                }
            }
            if (close == NULL) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "template: unclosed action (missing }})");
                goto fail;
            }
        }
        const uint8_t *ae = close;
        if (ae - a >= 2 && ae[-1] == '-' && is_space((char)ae[-2])) {
            trim_next = true;
            ae -= 2;
        } else if (comment && ae - a >= 1 && ae[-1] == '-') {
            trim_next = true;
            ae -= 1;
        }
        if (!comment) {
            struct ctx c = {.s = (const char *)a, .len = (size_t)(ae - a), .target = target, .d = d, .err = err};
            size_t an = c.len;
            while (an > 0 && is_space(c.s[an - 1]))
                an--;
            size_t as = 0;
            while (as < an && is_space(c.s[as]))
                as++;
            snprintf(c.action, sizeof(c.action), " %.*s%s ", (int)(an - as > 60 ? 60 : an - as), c.s + as,
                     an - as > 60 ? "..." : "");
            for (char *x = c.action; *x; x++) {
                if ((unsigned char)*x < 0x20)
                    *x = ' ';
            }
            if ((rc = eval_action(&c, &b)) < 0)
                goto fail;
        }
        p = close + 2;
    }
    if (target == MANIFEST_TEMPLATE_ENV && b.len > 0 && memchr(b.data, 0, b.len) != NULL) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "content contains null bytes");
        goto fail;
    }
    size_t n;
    uint8_t *o = cairn_buf_take(&b, &n);
    if (o == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    *out = o;
    *out_len = n;
    return 0;
fail:
    cairn_buf_free_secret(&b);
    return rc;
}
