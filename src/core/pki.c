/* Root, Intermediate, Marble Root and marble leaves (inventory §3.3). */
#include "core/pki.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"

static const int k_eku[] = {CC_EKU_SERVER_AUTH, CC_EKU_CLIENT_AUTH};

static bool is_ip(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static void ca_template(struct cc_cert_template *t, const char *cn)
{
    memset(t, 0, sizeof(*t));
    t->subject.common_name = cn;
    t->key_usage = CC_KU_DIGITAL_SIGNATURE | CC_KU_CERT_SIGN;
    t->ext_key_usage = k_eku;
    t->n_eku = 2;
    t->is_ca = true;
    t->max_path_len = -1;
    t->not_before = time(NULL);
    t->not_after = t->not_before + PKI_MAX_VALIDITY_S;
}

int pki_root_new(const char *const *names, size_t n_names, X509 **out_cert, EVP_PKEY **out_key,
                 struct cairn_error *err)
{
    const char **dns = calloc(n_names + 1, sizeof(char *));
    const char **ips = calloc(n_names + 2, sizeof(char *));
    size_t nd = 0, ni = 0;
    int rc;
    if (dns == NULL || ips == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    bool v4 = false, v6 = false;
    for (size_t i = 0; i < n_names; i++) {
        if (is_ip(names[i])) {
            ips[ni++] = names[i];
            v4 |= strcmp(names[i], "127.0.0.1") == 0;
            v6 |= strcmp(names[i], "::1") == 0;
        } else {
            dns[nd++] = names[i];
        }
    }
    if (!v4)
        ips[ni++] = "127.0.0.1";
    if (!v6)
        ips[ni++] = "::1";
    EVP_PKEY *key = NULL;
    rc = cc_key_generate(CC_KEY_EC_P384, 0, &key, err);
    if (rc != 0)
        goto out;
    struct cc_cert_template t;
    ca_template(&t, PKI_ROOT_CN);
    t.dns_names = dns;
    t.n_dns = nd;
    t.ip_addresses = ips;
    t.n_ips = ni;
    X509 *cert = NULL;
    rc = cc_cert_issue(&t, key, NULL, key, &cert, err);
    if (rc != 0) {
        EVP_PKEY_free(key);
        goto out;
    }
    *out_cert = cert;
    *out_key = key;
out:
    free(dns);
    free(ips);
    return rc;
}

int pki_intermediate_new(X509 *root_cert, EVP_PKEY *root_key, X509 **out_intermediate, X509 **out_marble_root,
                         EVP_PKEY **out_key, struct cairn_error *err)
{
    EVP_PKEY *key = NULL;
    int rc = cc_key_generate(CC_KEY_EC_P384, 0, &key, err);
    if (rc != 0)
        return rc;
    struct cc_cert_template t;
    ca_template(&t, PKI_INTERMEDIATE_CN);
    X509 *inter = NULL, *mroot = NULL;
    rc = cc_cert_issue(&t, key, root_cert, root_key, &inter, err);
    if (rc == 0)
        rc = cc_cert_issue(&t, key, NULL, key, &mroot, err);
    if (rc != 0) {
        X509_free(inter);
        EVP_PKEY_free(key);
        return rc;
    }
    *out_intermediate = inter;
    *out_marble_root = mroot;
    *out_key = key;
    return 0;
}

int pki_leaf_issue(X509_REQ *csr, const char *uuid, const char *marble_type, X509 *marble_root,
                   EVP_PKEY *intermediate_key, EVP_PKEY *leaf_key, X509 **out, struct cairn_error *err)
{
    char **dns = NULL, **ips = NULL;
    size_t nd = 0, ni = 0;
    int rc = cc_csr_get_sans(csr, &dns, &nd, &ips, &ni);
    if (rc != 0)
        return cairn_errf(err, rc, "csr: cannot read its subject alternative names");
    struct cc_extension ext = {.oid = PKI_MARBLE_TYPE_OID, .value = (const uint8_t *)marble_type,
                               .value_len = strlen(marble_type), .critical = false};
    struct cc_cert_template t;
    memset(&t, 0, sizeof(t));
    t.subject.common_name = uuid;
    t.dns_names = (const char *const *)dns;
    t.n_dns = nd;
    t.ip_addresses = (const char *const *)ips;
    t.n_ips = ni;
    t.key_usage = CC_KU_DIGITAL_SIGNATURE | CC_KU_KEY_AGREEMENT;
    t.ext_key_usage = k_eku;
    t.n_eku = 2;
    t.max_path_len = -1;
    t.not_before = time(NULL);
    t.not_after = t.not_before + PKI_MAX_VALIDITY_S;
    t.extensions = &ext;
    t.n_extensions = 1;
    /* lean: the leaf is only encoded (DER/PEM) afterwards, never asked for its key object */
    rc = cc_cert_issue_lean(&t, leaf_key, marble_root, intermediate_key, out, err);
    pki_names_free(dns, nd);
    pki_names_free(ips, ni);
    return rc;
}

int pki_split_names(const char *list, char ***out, size_t *out_n)
{
    size_t cap = 1;
    for (const char *p = list; p != NULL && *p; p++)
        cap += *p == ',';
    char **v = calloc(cap, sizeof(char *));
    if (v == NULL)
        return CAIRN_ERR_NOMEM;
    size_t n = 0;
    const char *p = list != NULL ? list : "";
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        const char *s = p;
        while (len > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len > 0) {
            v[n] = strndup(s, len);
            if (v[n] == NULL) {
                pki_names_free(v, n);
                return CAIRN_ERR_NOMEM;
            }
            n++;
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    *out = v;
    *out_n = n;
    return 0;
}

void pki_names_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}
