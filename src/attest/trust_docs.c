/* Intel collateral documents from supporting files (see trust_docs.h). */
#include "attest/trust_docs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest/collateral.h"
#include "common/buf.h"
#include "common/encoding.h"

void trust_docs_free(struct trust_docs *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->text[i]);
    free(d->joined);
    memset(d, 0, sizeof(*d));
}

int trust_docs_add(struct trust_docs *d, char *text, size_t len, struct cairn_error *err)
{
    if (d->n >= TRUST_DOCS_MAX) {
        free(text);
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "more than %d collateral documents of one kind", TRUST_DOCS_MAX);
    }
    size_t a = 0, b = len;
    while (a < b && isspace((unsigned char)text[a]))
        a++;
    while (b > a && isspace((unsigned char)text[b - 1]))
        b--;
    bool set = a < b && text[a] == '[' && text[b - 1] == ']';
    if (set) {
        memmove(text, text + a + 1, b - a - 2);
        len = b - a - 2;
        text[len] = '\0';
    }
    d->text[d->n] = text;
    d->len[d->n] = len;
    d->is_set[d->n] = set;
    d->n++;
    return 0;
}

int trust_docs_join(struct trust_docs *d, struct cairn_error *err)
{
    free(d->joined);
    d->joined = NULL;
    d->joined_len = 0;
    if (d->n == 0)
        return 0;
    struct cairn_buf b;
    cairn_buf_init(&b, (size_t)COLLATERAL_DOC_MAX * 4 + 2);
    bool plain = d->n == 1 && !d->is_set[0];
    int rc = plain ? 0 : cairn_buf_append(&b, "[", 1);
    for (size_t i = 0; i < d->n && rc == 0; i++) {
        if (i > 0)
            rc = cairn_buf_append(&b, ",", 1);
        if (rc == 0)
            rc = cairn_buf_append(&b, d->text[i], d->len[i]);
    }
    if (rc == 0 && !plain)
        rc = cairn_buf_append(&b, "]", 1);
    if (rc == 0)
        rc = cairn_buf_append(&b, "", 1); /* NUL for C-string users */
    if (rc != 0) {
        cairn_buf_free(&b);
        return cairn_errf(err, rc == CAIRN_ERR_TOO_LARGE ? rc : CAIRN_ERR_NOMEM,
                          "collateral documents: more than %u bytes in all", COLLATERAL_DOC_MAX * 4);
    }
    size_t n = 0;
    d->joined = (char *)cairn_buf_take(&b, &n);
    d->joined_len = n - 1;
    return 0;
}

int trust_doc_check(const char *what, const uint8_t *p, size_t n, const char *key, struct cairn_error *err)
{
    const char *body;
    size_t bl;
    uint8_t sig[64];
    json_t *obj = NULL;
    int rc = collateral_doc_parse(what, (const char *)p, n, key, &body, &bl, sig, &obj, err);
    json_decref(obj);
    return rc;
}

static const char *str_member(json_t *j, const char *key, const char *what, struct cairn_error *err)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_string(v)) {
        cairn_errf(err, CAIRN_ERR_INVALID, "%s: \"%s\" missing or not a string", what, key);
        return NULL;
    }
    return json_string_value(v);
}

/* dcap-qvl QuoteCollateralV3: the documents are assembled around the exact
 * signed strings (no re-serialisation), chains and CRLs are sorted as usual. */
int trust_qvl_bundle_split(enum attest_type type, struct trust_cert_sets *st, const uint8_t *p, size_t n, char **tcb,
                           size_t *tcb_len, char **qe, size_t *qe_len, int *count, struct cairn_error *err)
{
    const char *what = "collateral bundle";
    json_error_t je;
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: not a JSON object", what);
    }
    int rc = 0;
    char *t = NULL, *q = NULL;
    const char *ti = str_member(j, "tcb_info", what, err), *ts = ti ? str_member(j, "tcb_info_signature", what, err) : NULL;
    const char *qi = ts ? str_member(j, "qe_identity", what, err) : NULL;
    const char *qs = qi ? str_member(j, "qe_identity_signature", what, err) : NULL;
    if (qs == NULL) {
        rc = err ? err->code : CAIRN_ERR_INVALID;
        goto out;
    }
    if (asprintf(&t, "{\"tcbInfo\":%s,\"signature\":\"%s\"}", ti, ts) < 0 ||
        asprintf(&q, "{\"enclaveIdentity\":%s,\"signature\":\"%s\"}", qi, qs) < 0) {
        t = q = NULL;
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "%s: out of memory", what);
        goto out;
    }
    if ((rc = trust_doc_check("collateral bundle: tcb_info", (const uint8_t *)t, strlen(t), "tcbInfo", err)) != 0 ||
        (rc = trust_doc_check("collateral bundle: qe_identity", (const uint8_t *)q, strlen(q), "enclaveIdentity", err)) != 0)
        goto out;
    static const char *const chains[] = {"tcb_info_issuer_chain", "qe_identity_issuer_chain", "pck_crl_issuer_chain"};
    int k = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(j, chains[i]);
        if (v == NULL)
            continue;
        int c = 0;
        if (!json_is_string(v) ||
            (rc = trust_certs_add(type, st, (const uint8_t *)json_string_value(v), json_string_length(v), false, &c, err)) != 0) {
            if (rc == 0)
                rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: \"%s\" is not a string", what, chains[i]);
            cairn_err_prefix(err, "%s: %s", what, chains[i]);
            goto out;
        }
        k += c;
    }
    static const char *const crls[] = {"pck_crl", "root_ca_crl"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(j, crls[i]);
        if (v == NULL)
            continue;
        uint8_t *der = NULL;
        size_t dl = 0;
        int c = 0;
        if (!json_is_string(v) || cairn_hex_decode(json_string_value(v), json_string_length(v), &der, &dl) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "%s: \"%s\" is not hex", what, crls[i]);
            goto out;
        }
        rc = trust_crls_add(st, der, dl, &c, err);
        free(der);
        if (rc != 0) {
            cairn_err_prefix(err, "%s: %s", what, crls[i]);
            goto out;
        }
    }
    *tcb = t;
    *tcb_len = strlen(t);
    *qe = q;
    *qe_len = strlen(q);
    t = q = NULL;
    *count = k;
out:
    free(t);
    free(q);
    json_decref(j);
    return rc;
}
