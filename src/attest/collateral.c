/* Intel collateral: TCB info and QE identity (PCS API v3/v4 JSON), their
 * signing chain, and Intel's TCB level matching for SGX and TDX. */
#include "attest/collateral.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/encoding.h"

void collateral_result_free(struct collateral_result *r)
{
    if (r == NULL)
        return;
    json_decref(r->advisory_ids);
    r->advisory_ids = NULL;
}

/* ---- raw member text ------------------------------------------------------ */

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* s[*i] == '"': moves *i past the closing quote. */
static int scan_string(const char *s, size_t *i, size_t n)
{
    size_t j = *i + 1;
    while (j < n && s[j] != '"') {
        if (s[j] == '\\')
            j++;
        j++;
    }
    if (j >= n)
        return CAIRN_ERR_INVALID;
    *i = j + 1;
    return 0;
}

/* Moves *i past one JSON value (the document was validated by jansson first,
 * so only the extent matters here). */
static int scan_value(const char *s, size_t *i, size_t n)
{
    size_t j = *i;
    if (j >= n)
        return CAIRN_ERR_INVALID;
    if (s[j] == '"')
        return scan_string(s, i, n);
    if (s[j] == '{' || s[j] == '[') {
        size_t depth = 0;
        while (j < n) {
            char c = s[j];
            if (c == '"') {
                if (scan_string(s, &j, n) != 0)
                    return CAIRN_ERR_INVALID;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    *i = j + 1;
                    return 0;
                }
            }
            j++;
        }
        return CAIRN_ERR_INVALID;
    }
    while (j < n && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' && s[j] != '\t' &&
           s[j] != '\n' && s[j] != '\r')
        j++;
    *i = j;
    return 0;
}

static int raw_member(const char *s, size_t n, const char *key, const char **out, size_t *out_len)
{
    size_t klen = strlen(key);
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{')
        return CAIRN_ERR_INVALID;
    i = skip_ws(s, i + 1, n);
    while (i < n && s[i] == '"') {
        size_t ks = i + 1;
        if (scan_string(s, &i, n) != 0)
            return CAIRN_ERR_INVALID;
        size_t ke = i - 1;
        i = skip_ws(s, i, n);
        if (i >= n || s[i] != ':')
            return CAIRN_ERR_INVALID;
        i = skip_ws(s, i + 1, n);
        size_t vs = i;
        if (scan_value(s, &i, n) != 0)
            return CAIRN_ERR_INVALID;
        if (ke - ks == klen && memcmp(s + ks, key, klen) == 0) {
            *out = s + vs;
            *out_len = i - vs;
            return 0;
        }
        i = skip_ws(s, i, n);
        if (i < n && s[i] == ',')
            i = skip_ws(s, i + 1, n);
    }
    return CAIRN_ERR_NOT_FOUND;
}

int collateral_doc_parse(const char *what, const char *text, size_t len, const char *key,
                         const char **body, size_t *body_len, uint8_t sig[64], json_t **obj,
                         struct cairn_error *err)
{
    if (text == NULL || len == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: empty document", what);
    if (len > COLLATERAL_DOC_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE,
                          "%s: document of %zu bytes exceeds the cap of %u", what, len,
                          COLLATERAL_DOC_MAX);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: invalid JSON at line %d column %d: %s", what,
                          je.line, je.column, je.text);
    int rc = 0;
    json_t *inner = json_object_get(doc, key);
    json_t *sj = json_object_get(doc, "signature");
    const char *raw;
    size_t raw_len;
    uint8_t s[64];
    if (!json_is_object(doc) || !json_is_object(inner)) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: \"%s\" must be an object", what, key);
    } else if (!json_is_string(sj) || json_string_length(sj) != 128 ||
               cairn_hex_decode_exact(json_string_value(sj), s, 64) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID,
                        "%s: \"signature\" must be 128 hex digits (ECDSA P-256 r||s)", what);
    } else if (raw_member(text, len, key, &raw, &raw_len) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID,
                        "%s: cannot locate the text of \"%s\" (escaped key?)", what, key);
    } else {
        *body = raw;
        *body_len = raw_len;
        memcpy(sig, s, 64);
        *obj = json_incref(inner);
    }
    json_decref(doc);
    return rc;
}

/* ---- field helpers --------------------------------------------------------- */

static const char *const STATUSES[] = {
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
};

static const char *status_known(const char *s)
{
    for (size_t i = 0; s != NULL && i < sizeof(STATUSES) / sizeof(STATUSES[0]); i++)
        if (strcmp(s, STATUSES[i]) == 0)
            return STATUSES[i];
    return NULL;
}

const char *collateral_converge(const char *platform, const char *other)
{
    const char *p = status_known(platform);
    if (p == NULL)
        return "Revoked";
    if (other == NULL || other[0] == '\0')
        return p;
    if (strcmp(other, "Revoked") == 0)
        return "Revoked";
    if (strcmp(other, "OutOfDate") == 0) {
        if (strcmp(p, "UpToDate") == 0 || strcmp(p, "SWHardeningNeeded") == 0)
            return "OutOfDate";
        if (strcmp(p, "ConfigurationNeeded") == 0 ||
            strcmp(p, "ConfigurationAndSWHardeningNeeded") == 0)
            return "OutOfDateConfigurationNeeded";
    }
    return p;
}

static int get_str(const char *what, json_t *o, const char *k, const char **out,
                   struct cairn_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: \"%s\" must be a string", what, k);
    *out = json_string_value(v);
    return 0;
}

static int get_uint(const char *what, json_t *o, const char *k, long long max, long long *out,
                    struct cairn_error *err)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: \"%s\" must be an integer 0..%lld", what, k,
                          max);
    *out = json_integer_value(v);
    return 0;
}

static int get_hex(const char *what, json_t *o, const char *k, uint8_t *out, size_t n,
                   struct cairn_error *err)
{
    const char *s = NULL;
    int rc = get_str(what, o, k, &s, err);
    if (rc != 0)
        return rc;
    if (strlen(s) != 2 * n || cairn_hex_decode_exact(s, out, n) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: \"%s\" must be %zu hex digits", what, k,
                          2 * n);
    return 0;
}

/* issueDate <= at < nextUpdate (the upstream tests fail at exactly nextUpdate). */
static int check_window(const char *what, json_t *o, time_t at, struct cairn_error *err)
{
    const char *is = NULL, *nu = NULL;
    time_t ti, tn;
    int rc;
    if ((rc = get_str(what, o, "issueDate", &is, err)) != 0 ||
        (rc = get_str(what, o, "nextUpdate", &nu, err)) != 0)
        return rc;
    if (dcap_time_parse(is, &ti) != 0 || dcap_time_parse(nu, &tn) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "%s: issueDate/nextUpdate must be RFC 3339 UTC times", what);
    char ts[32];
    dcap_time_format(at, ts);
    if (at < ti)
        return cairn_errf(err, CAIRN_ERR_EXPIRED,
                          "%s: not yet valid (issueDate %s, verification time %s)", what, is, ts);
    if (at >= tn)
        return cairn_errf(err, CAIRN_ERR_EXPIRED,
                          "%s: expired (nextUpdate %s, verification time %s)", what, nu, ts);
    return 0;
}

static int add_advisories(json_t *dst, json_t *level)
{
    json_t *ids = json_object_get(level, "advisoryIDs");
    if (ids == NULL)
        return 0;
    if (!json_is_array(ids) || json_array_size(ids) > 256)
        return CAIRN_ERR_INVALID;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (!json_is_string(v))
            return CAIRN_ERR_INVALID;
        bool dup = false;
        size_t j;
        json_t *w;
        json_array_foreach(dst, j, w)
        {
            if (strcasecmp(json_string_value(w), json_string_value(v)) == 0)
                dup = true;
        }
        if (!dup && json_array_append(dst, v) != 0)
            return CAIRN_ERR_NOMEM;
    }
    return 0;
}

/* Verifies the signing chain and the signature over the raw inner text. */
static int verify_signed(const char *what, const char *body, size_t body_len, const uint8_t sig[64],
                         const struct attest_trust *trust, time_t at, time_t *from, time_t *until,
                         struct cairn_error *err)
{
    STACK_OF(X509) *chain = trust->collateral_chain;
    STACK_OF(X509) *roots = NULL, *untrusted = NULL, *path = NULL;
    X509 *leaf = NULL;
    int rc;
    if (chain == NULL || sk_X509_num(chain) == 0)
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND,
                          "%s: no TCB signing certificate configured (collateral chain)", what);
    if ((rc = dcap_intel_roots(trust, &roots, err)) != 0)
        return rc;
    untrusted = sk_X509_new_null();
    if (untrusted == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", what);
        goto out;
    }
    /* The signer is the first certificate that is not self-signed. */
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        if (X509_check_issued(c, c) == X509_V_OK) {
            bool trusted = false;
            for (int k = 0; k < sk_X509_num(roots) && !trusted; k++)
                trusted = X509_cmp(c, sk_X509_value(roots, k)) == 0;
            if (!trusted) {
                rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                                "%s: tcb signing chain: the root certificate is not a trusted "
                                "Intel SGX Root CA",
                                what);
                goto out;
            }
            continue;
        }
        if (leaf == NULL)
            leaf = c;
        else if (sk_X509_push(untrusted, c) <= 0) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", what);
            goto out;
        }
    }
    ERR_clear_error();
    if (leaf == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND,
                        "%s: the collateral chain has no TCB signing certificate", what);
        goto out;
    }
    if (!dcap_cert_cn_is(leaf, "Intel SGX TCB Signing")) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "%s: the signer is not an \"Intel SGX TCB Signing\" certificate", what);
        goto out;
    }
    char pfx[80];
    snprintf(pfx, sizeof(pfx), "%s: tcb signing chain", what);
    if ((rc = dcap_chain_verify(pfx, leaf, untrusted, roots, trust->crls, at, NULL, &path, err)) !=
        0)
        goto out;
    dcap_path_window(path, trust->crls, from, until);
    EVP_PKEY *k = X509_get0_pubkey(leaf);
    if (k == NULL || dcap_ecdsa_verify(k, body, body_len, sig) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "%s: signature does not verify with the TCB signing certificate", what);
        goto out;
    }
    rc = 0;
out:
    sk_X509_free(untrusted);
    sk_X509_pop_free(path, X509_free);
    sk_X509_pop_free(roots, X509_free);
    return rc;
}

/* Parses a PCS document and verifies its signing chain and signature, or
 * takes the verified inner object from the cache (keyed by the document and
 * every trust input) while the signing chain's window holds. *obj is owned. */
static int load_verified(const char *what, const char *doc, size_t len, const char *key,
                         const struct attest_trust *trust, time_t at, json_t **obj,
                         struct cairn_error *err)
{
    uint8_t k[32];
    struct dcap_cache_val cv;
    memset(&cv, 0, sizeof(cv));
    if (len > COLLATERAL_DOC_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE,
                          "%s: document of %zu bytes exceeds the cap of %u", what, len,
                          COLLATERAL_DOC_MAX);
    bool keyed = dcap_cache_key(key, doc, len, trust, true, k) == 0;
    if (keyed && dcap_cache_get(k, at, &cv)) {
        EVP_PKEY_free(cv.key);
        *obj = cv.obj;
        return 0;
    }
    const char *body;
    size_t blen;
    uint8_t sig[64];
    json_t *o = NULL;
    int rc = collateral_doc_parse(what, doc, len, key, &body, &blen, sig, &o, err);
    if (rc == 0)
        rc = verify_signed(what, body, blen, sig, trust, at, &cv.from, &cv.until, err);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    if (keyed) {
        cv.obj = o;
        dcap_cache_put(k, &cv);
    }
    *obj = o;
    return 0;
}

/* ---- document sets ---------------------------------------------------------- */

#define COLLATERAL_SET_MAX 256

/* `text` may be one PCS document or a JSON array of them (a Coordinator that
 * serves several platforms, or SGX and TDX, holds one per FMSPC and kind).
 * Picks the exact text of the element whose inner object has id `want_id`
 * (a missing id counts as "SGX", TCB info v2) and, when `fmspc` is given, that
 * FMSPC. A single document is returned as is: its checks come later. */
static int select_doc(const char *what, const char *text, size_t len, const char *key,
                      const char *want_id, const uint8_t *fmspc, const char **out, size_t *out_len,
                      struct cairn_error *err)
{
    size_t i = skip_ws(text, 0, len);
    if (i >= len || text[i] != '[') {
        *out = text;
        *out_len = len;
        return 0;
    }
    if (len > COLLATERAL_DOC_MAX * 4)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE,
                          "%s: document set of %zu bytes exceeds the cap of %u", what, len,
                          COLLATERAL_DOC_MAX * 4);
    /* Elements are parsed one at a time, up to the match: a large set costs
     * only the documents before the one that is used. */
    int rc = CAIRN_ERR_NOT_FOUND;
    i++;
    for (int k = 0; k < COLLATERAL_SET_MAX; k++) {
        i = skip_ws(text, i, len);
        if (i < len && text[i] == ']')
            break;
        size_t start = i;
        if (scan_value(text, &i, len) != 0 || i == start)
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s: document set element %d is malformed",
                              what, k);
        size_t end = i;
        json_t *el = json_loadb(text + start, end - start, JSON_REJECT_DUPLICATES, NULL);
        json_t *inner = json_object_get(el, key);
        json_t *idj = json_object_get(inner, "id");
        const char *id = json_is_string(idj) ? json_string_value(idj) : "SGX";
        bool match = json_is_object(inner) && strcmp(id, want_id) == 0;
        if (match && fmspc != NULL) {
            const char *f = json_string_value(json_object_get(inner, "fmspc"));
            uint8_t fb[6];
            match = f != NULL && strlen(f) == 12 && cairn_hex_decode_exact(f, fb, 6) == 0 &&
                    memcmp(fb, fmspc, 6) == 0;
        }
        json_decref(el);
        if (el == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "%s: document set element %d is not valid JSON", what, k);
        if (match) {
            *out = text + start;
            *out_len = end - start;
            return 0;
        }
        i = skip_ws(text, i, len);
        if (i < len && text[i] == ',')
            i++;
        else if (i >= len || text[i] != ']')
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "%s: document set: expected ',' or ']' after element %d", what, k);
    }
    if (rc != 0) {
        char *h = fmspc != NULL ? cairn_hex_encode(fmspc, 6) : NULL;
        rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND, "%s: the document set has none with id %s%s%s",
                        what, want_id, h != NULL ? " and fmspc " : "", h != NULL ? h : "");
        free(h);
    }
    return rc;
}

/* ---- TCB info -------------------------------------------------------------- */

/* The 16 SVNs of a level's component list (v3: [{"svn": n}, ...] x16). */
static int level_components(json_t *arr, uint8_t out[16])
{
    if (!json_is_array(arr) || json_array_size(arr) != 16)
        return CAIRN_ERR_INVALID;
    for (size_t i = 0; i < 16; i++) {
        json_t *svn = json_object_get(json_array_get(arr, i), "svn");
        if (!json_is_integer(svn) || json_integer_value(svn) < 0 || json_integer_value(svn) > 255)
            return CAIRN_ERR_INVALID;
        out[i] = (uint8_t)json_integer_value(svn);
    }
    return 0;
}

struct level_ref {
    json_t *level;
    const char *status;
};

static int match_tcb_levels(const char *what, json_t *tcbinfo, long long version,
                            const struct collateral_input *in, struct level_ref *out,
                            struct cairn_error *err)
{
    json_t *levels = json_object_get(tcbinfo, "tcbLevels");
    if (!json_is_array(levels) || json_array_size(levels) == 0 ||
        json_array_size(levels) > COLLATERAL_LEVELS_MAX)
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "%s: \"tcbLevels\" must be an array of 1..%u levels", what,
                          COLLATERAL_LEVELS_MAX);
    /* TDX: when TEE_TCB_SVN[1] (the TDX module major version) is set, the
     * first two bytes are judged by the TDX module identity, not the levels. */
    size_t tdx_start = (in->tdx && in->tee_tcb_svn[1] > 0) ? 2 : 0;
    size_t idx;
    json_t *lv;
    json_array_foreach(levels, idx, lv)
    {
        json_t *tcb = json_object_get(lv, "tcb");
        if (!json_is_object(tcb))
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s: tcbLevels[%zu].tcb must be an object",
                              what, idx);
        uint8_t comps[16];
        if (version >= 3) {
            if (level_components(json_object_get(tcb, "sgxtcbcomponents"), comps) != 0)
                return cairn_errf(
                    err, CAIRN_ERR_INVALID,
                    "%s: tcbLevels[%zu].tcb.sgxtcbcomponents must hold 16 {\"svn\": 0..255}", what,
                    idx);
        } else {
            for (int c = 0; c < 16; c++) {
                char k[24];
                snprintf(k, sizeof(k), "sgxtcbcomp%02dsvn", c + 1);
                json_t *v = json_object_get(tcb, k);
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 255)
                    return cairn_errf(err, CAIRN_ERR_INVALID,
                                      "%s: tcbLevels[%zu].tcb.%s must be 0..255", what, idx, k);
                comps[c] = (uint8_t)json_integer_value(v);
            }
        }
        json_t *pv = json_object_get(tcb, "pcesvn");
        if (!json_is_integer(pv) || json_integer_value(pv) < 0 || json_integer_value(pv) > 65535)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "%s: tcbLevels[%zu].tcb.pcesvn must be 0..65535", what, idx);
        uint8_t tdxc[16] = {0};
        if (in->tdx && level_components(json_object_get(tcb, "tdxtcbcomponents"), tdxc) != 0)
            return cairn_errf(
                err, CAIRN_ERR_INVALID,
                "%s: tcbLevels[%zu].tcb.tdxtcbcomponents must hold 16 {\"svn\": 0..255}", what,
                idx);
        const char *st = status_known(json_string_value(json_object_get(lv, "tcbStatus")));
        if (st == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "%s: tcbLevels[%zu].tcbStatus is not a known status", what, idx);
        bool ok = in->pck->pcesvn >= json_integer_value(pv);
        for (int c = 0; c < 16 && ok; c++)
            ok = in->pck->comp_svn[c] >= comps[c];
        for (size_t c = tdx_start; in->tdx && c < 16 && ok; c++)
            ok = in->tee_tcb_svn[c] >= tdxc[c];
        if (ok) {
            out->level = lv;
            out->status = st;
            return 0;
        }
    }
    return cairn_errf(err, CAIRN_ERR_VERIFY,
                      "%s: no matching TCB level (the platform TCB is below every level)", what);
}

/* TDX module identity (TCB info v3 "tdxModuleIdentities"), selected by the
 * module major version TEE_TCB_SVN[1]; judged by its ISVSVN TEE_TCB_SVN[0]. */
static int check_tdx_module(const char *what, json_t *tcbinfo, const struct collateral_input *in,
                            json_t **out_level, const char **out_status, struct cairn_error *err)
{
    json_t *ids = json_object_get(tcbinfo, "tdxModuleIdentities");
    json_t *mod = json_object_get(tcbinfo, "tdxModule");
    *out_level = NULL;
    *out_status = NULL;
    json_t *ident = NULL;
    if (in->tee_tcb_svn[1] > 0 && json_is_array(ids)) {
        char want[16];
        snprintf(want, sizeof(want), "TDX_%02X", in->tee_tcb_svn[1]);
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v)
        {
            json_t *id = json_object_get(v, "id");
            if (json_is_string(id) && strcasecmp(json_string_value(id), want) == 0)
                ident = v;
        }
        if (ident == NULL)
            return cairn_errf(err, CAIRN_ERR_VERIFY, "%s: no TDX module identity %s", what, want);
    } else if (json_is_object(mod)) {
        ident = mod;
    } else {
        return 0;
    }
    uint8_t signer[48], attr[8], mask[8];
    int rc;
    if ((rc = get_hex(what, ident, "mrsigner", signer, 48, err)) != 0 ||
        (rc = get_hex(what, ident, "attributes", attr, 8, err)) != 0 ||
        (rc = get_hex(what, ident, "attributesMask", mask, 8, err)) != 0)
        return rc;
    if (CRYPTO_memcmp(signer, in->mr_signer_seam, 48) != 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY,
                          "%s: TDX module MRSIGNERSEAM does not match the TDX module identity",
                          what);
    for (int i = 0; i < 8; i++)
        if ((in->seam_attributes[i] & mask[i]) != attr[i])
            return cairn_errf(
                err, CAIRN_ERR_VERIFY,
                "%s: SEAMATTRIBUTES do not match the TDX module identity under its mask", what);
    json_t *levels = json_object_get(ident, "tcbLevels");
    if (ident == mod || !json_is_array(levels))
        return 0;
    size_t i;
    json_t *lv;
    json_array_foreach(levels, i, lv)
    {
        json_t *isv = json_object_get(json_object_get(lv, "tcb"), "isvsvn");
        const char *st = status_known(json_string_value(json_object_get(lv, "tcbStatus")));
        if (!json_is_integer(isv) || st == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "%s: TDX module identity level %zu is malformed", what, i);
        if (json_integer_value(isv) <= in->tee_tcb_svn[0]) {
            *out_level = lv;
            *out_status = st;
            return 0;
        }
    }
    return cairn_errf(err, CAIRN_ERR_VERIFY,
                      "%s: no matching TDX module TCB level for module SVN %u", what,
                      in->tee_tcb_svn[0]);
}

int collateral_match_levels(const struct collateral_input *in, json_t *tcbinfo, char status[40],
                            char tcb_date[32], struct cairn_error *err)
{
    long long version = 0;
    int rc;
    struct level_ref lvl = {0};
    if ((rc = get_uint("tcb info", tcbinfo, "version", 100, &version, err)) != 0 ||
        (rc = match_tcb_levels("tcb info", tcbinfo, version, in, &lvl, err)) != 0)
        return rc;
    const char *st = lvl.status;
    if (in->tdx) {
        json_t *ml;
        const char *ms;
        if ((rc = check_tdx_module("tcb info", tcbinfo, in, &ml, &ms, err)) != 0)
            return rc;
        if (ms != NULL)
            st = collateral_converge(st, ms);
    }
    const char *td = json_string_value(json_object_get(lvl.level, "tcbDate"));
    snprintf(status, 40, "%s", st);
    snprintf(tcb_date, 32, "%s", td != NULL ? td : "");
    return 0;
}

/* ---- QE identity ----------------------------------------------------------- */

static int check_qe_identity(const char *what, json_t *qe, const struct collateral_input *in,
                             time_t at, json_t **out_level, const char **out_status,
                             struct cairn_error *err)
{
    const char *id = NULL;
    long long version = 0, isvprodid = 0;
    int rc;
    if ((rc = get_str(what, qe, "id", &id, err)) != 0 ||
        (rc = get_uint(what, qe, "version", 100, &version, err)) != 0)
        return rc;
    const char *want = in->tdx ? "TD_QE" : "QE";
    if (strcmp(id, want) != 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "%s: id \"%s\" is not \"%s\"", what, id, want);
    if (version != 2)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "%s: version %lld not supported (expected 2)",
                          what, version);
    if ((rc = check_window(what, qe, at, err)) != 0)
        return rc;
    uint8_t misc[4], miscmask[4], attr[16], attrmask[16], signer[32];
    if ((rc = get_hex(what, qe, "miscselect", misc, 4, err)) != 0 ||
        (rc = get_hex(what, qe, "miscselectMask", miscmask, 4, err)) != 0 ||
        (rc = get_hex(what, qe, "attributes", attr, 16, err)) != 0 ||
        (rc = get_hex(what, qe, "attributesMask", attrmask, 16, err)) != 0 ||
        (rc = get_hex(what, qe, "mrsigner", signer, 32, err)) != 0 ||
        (rc = get_uint(what, qe, "isvprodid", 65535, &isvprodid, err)) != 0)
        return rc;
    const uint8_t *r = in->qe_report;
    if (CRYPTO_memcmp(signer, r + SGX_RB_MRSIGNER, 32) != 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "%s: QE MRSIGNER does not match", what);
    unsigned prod = (unsigned)r[SGX_RB_ISVPRODID] | (unsigned)r[SGX_RB_ISVPRODID + 1] << 8;
    if (prod != isvprodid)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "%s: QE ISVPRODID %u is not %lld", what, prod,
                          isvprodid);
    /* miscselect is written as a big-endian hex number; the report holds it
     * little-endian. */
    uint32_t m =
        (uint32_t)misc[0] << 24 | (uint32_t)misc[1] << 16 | (uint32_t)misc[2] << 8 | misc[3];
    uint32_t mm = (uint32_t)miscmask[0] << 24 | (uint32_t)miscmask[1] << 16 |
                  (uint32_t)miscmask[2] << 8 | miscmask[3];
    const uint8_t *rm = r + SGX_RB_MISCSELECT;
    uint32_t rmisc =
        (uint32_t)rm[0] | (uint32_t)rm[1] << 8 | (uint32_t)rm[2] << 16 | (uint32_t)rm[3] << 24;
    if ((rmisc & mm) != m)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "%s: QE MISCSELECT does not match under the mask",
                          what);
    for (int i = 0; i < 16; i++)
        if ((r[SGX_RB_ATTRIBUTES + i] & attrmask[i]) != attr[i])
            return cairn_errf(err, CAIRN_ERR_VERIFY,
                              "%s: QE attributes do not match under the mask", what);
    unsigned isvsvn = (unsigned)r[SGX_RB_ISVSVN] | (unsigned)r[SGX_RB_ISVSVN + 1] << 8;
    json_t *levels = json_object_get(qe, "tcbLevels");
    if (!json_is_array(levels) || json_array_size(levels) == 0 ||
        json_array_size(levels) > COLLATERAL_LEVELS_MAX)
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "%s: \"tcbLevels\" must be an array of 1..%u levels", what,
                          COLLATERAL_LEVELS_MAX);
    size_t i;
    json_t *lv;
    json_array_foreach(levels, i, lv)
    {
        json_t *isv = json_object_get(json_object_get(lv, "tcb"), "isvsvn");
        const char *st = status_known(json_string_value(json_object_get(lv, "tcbStatus")));
        if (!json_is_integer(isv) || json_integer_value(isv) < 0 || st == NULL)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "%s: tcbLevels[%zu] needs tcb.isvsvn and a known tcbStatus", what, i);
        if (json_integer_value(isv) <= isvsvn) {
            *out_level = lv;
            *out_status = st;
            return 0;
        }
    }
    return cairn_errf(err, CAIRN_ERR_VERIFY, "%s: no matching TCB level for QE ISVSVN %u", what,
                      isvsvn);
}

/* ---- entry point ------------------------------------------------------------ */

int collateral_evaluate(const struct collateral_input *in, const struct attest_trust *trust,
                        time_t at, json_t *checks, struct collateral_result *out,
                        struct cairn_error *err)
{
    struct collateral_result res;
    memset(&res, 0, sizeof(res));
    bool have_tcb = trust != NULL && trust->tcb_info != NULL && trust->tcb_info_len > 0;
    bool have_qe = trust != NULL && trust->qe_identity != NULL && trust->qe_identity_len > 0;
    if (trust != NULL && trust->require_collateral && (!have_tcb || !have_qe))
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "collateral: %s required but not given",
                          !have_tcb ? "TCB info" : "QE identity");
    if (!have_tcb) {
        if (have_qe)
            return cairn_errf(err, CAIRN_ERR_INVALID,
                              "collateral: QE identity given without TCB info");
        *out = res;
        return 0;
    }
    json_t *tcb = NULL, *qe = NULL;
    int rc;
    const char *twhat = "tcb info";
    const char *doc;
    size_t doc_len;
    if ((rc = select_doc(twhat, trust->tcb_info, trust->tcb_info_len, "tcbInfo",
                         in->tdx ? "TDX" : "SGX", in->pck->fmspc, &doc, &doc_len, err)) != 0 ||
        (rc = load_verified(twhat, doc, doc_len, "tcbInfo", trust, at, &tcb, err)) != 0)
        goto out;
    json_array_append_new(checks, json_string("tcb_signing_chain"));

    long long version = 0, evalnum = -1;
    if ((rc = get_uint(twhat, tcb, "version", 100, &version, err)) != 0)
        goto out;
    if (version != 2 && version != 3) {
        rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                        "%s: version %lld not supported (expected 2 or 3)", twhat, version);
        goto out;
    }
    json_t *idj = json_object_get(tcb, "id");
    const char *id = json_is_string(idj) ? json_string_value(idj) : (version == 2 ? "SGX" : NULL);
    const char *want = in->tdx ? "TDX" : "SGX";
    if (id == NULL || strcmp(id, want) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "%s: id \"%s\" does not match a %s quote", twhat,
                        id ? id : "(none)", want);
        goto out;
    }
    if ((rc = check_window(twhat, tcb, at, err)) != 0)
        goto out;
    uint8_t fmspc[6], pceid[2];
    if ((rc = get_hex(twhat, tcb, "fmspc", fmspc, 6, err)) != 0 ||
        (rc = get_hex(twhat, tcb, "pceId", pceid, 2, err)) != 0)
        goto out;
    if (memcmp(fmspc, in->pck->fmspc, 6) != 0) {
        char *a = cairn_hex_encode(fmspc, 6), *b = cairn_hex_encode(in->pck->fmspc, 6);
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "%s: fmspc mismatch: collateral %s, PCK certificate %s", twhat, a ? a : "?",
                        b ? b : "?");
        free(a);
        free(b);
        goto out;
    }
    if (memcmp(pceid, in->pck->pceid, 2) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "%s: pceId does not match the PCK certificate",
                        twhat);
        goto out;
    }
    json_t *tt = json_object_get(tcb, "tcbType");
    if (tt != NULL && (!json_is_integer(tt) || json_integer_value(tt) != 0)) {
        rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "%s: tcbType must be 0 (the only defined type)",
                        twhat);
        goto out;
    }
    json_t *ev = json_object_get(tcb, "tcbEvaluationDataNumber");
    if (json_is_integer(ev))
        evalnum = json_integer_value(ev);
    json_array_append_new(checks, json_string("tcb_info"));

    struct level_ref lvl = {0};
    if ((rc = match_tcb_levels(twhat, tcb, version, in, &lvl, err)) != 0)
        goto out;
    res.advisory_ids = json_array();
    if (res.advisory_ids == NULL || add_advisories(res.advisory_ids, lvl.level) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: advisoryIDs must be an array of strings",
                        twhat);
        goto out;
    }
    snprintf(res.platform_status, sizeof(res.platform_status), "%s", lvl.status);
    const char *td = json_string_value(json_object_get(lvl.level, "tcbDate"));
    snprintf(res.tcb_date, sizeof(res.tcb_date), "%s", td ? td : "");
    res.tcb_eval_number = evalnum;
    const char *status = lvl.status;
    json_array_append_new(checks, json_string("tcb_level"));

    if (in->tdx) {
        json_t *ml;
        const char *ms;
        if ((rc = check_tdx_module(twhat, tcb, in, &ml, &ms, err)) != 0)
            goto out;
        if (ms != NULL) {
            snprintf(res.module_status, sizeof(res.module_status), "%s", ms);
            status = collateral_converge(status, ms);
            if (add_advisories(res.advisory_ids, ml) != 0) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: module advisoryIDs must be strings",
                                twhat);
                goto out;
            }
            json_array_append_new(checks, json_string("tdx_module_identity"));
        }
    }

    if (have_qe) {
        const char *qwhat = "qe identity";
        json_t *ql = NULL;
        const char *qs = NULL;
        if ((rc = select_doc(qwhat, trust->qe_identity, trust->qe_identity_len, "enclaveIdentity",
                             in->tdx ? "TD_QE" : "QE", NULL, &doc, &doc_len, err)) != 0 ||
            (rc = load_verified(qwhat, doc, doc_len, "enclaveIdentity", trust, at, &qe, err)) != 0)
            goto out;
        if ((rc = check_qe_identity(qwhat, qe, in, at, &ql, &qs, err)) != 0)
            goto out;
        snprintf(res.qe_status, sizeof(res.qe_status), "%s", qs);
        status = collateral_converge(status, qs);
        if (add_advisories(res.advisory_ids, ql) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: advisoryIDs must be an array of strings",
                            qwhat);
            goto out;
        }
        json_array_append_new(checks, json_string("qe_identity"));
    }
    snprintf(res.status, sizeof(res.status), "%s", status);
    res.evaluated = true;
    *out = res;
    res.advisory_ids = NULL;
    rc = 0;
out:
    json_decref(res.advisory_ids);
    json_decref(tcb);
    json_decref(qe);
    return rc;
}
