/* Azure HCL reports (see azure_hcl.h). */
#include "attest/azure_hcl.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "common/encoding.h"
#include "common/reader.h"

#define HCL_HEADER_LEN 0x20
#define HCL_HW_AREA_LEN 0x4A0
#define HCL_RUNTIME_HDR_OFF 0x4C0
#define HCL_RUNTIME_HDR_LEN 20
#define HCL_RUNTIME_DATA_OFF 0x4D4
#define SNP_REPORT_DATA_OFF 0x50
#define TDREPORT_TYPE_TDX 0x81
#define TDREPORT_REPORT_DATA_OFF 0x80

int azure_hcl_parse(const uint8_t *p, size_t n, struct azure_hcl *out, struct cairn_error *err)
{
    if (p == NULL || n < HCL_RUNTIME_DATA_OFF)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "hcl report: %zu bytes, at least %d needed", p ? n : 0,
                          HCL_RUNTIME_DATA_OFF);
    if (n > AZURE_HCL_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "hcl report: %zu bytes, cap %u", n, AZURE_HCL_MAX);
    if (memcmp(p, "HCLA", 4) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "hcl report: magic is not \"HCLA\"");
    struct azure_hcl h = {0};
    struct cairn_reader r;
    cairn_reader_init(&r, p + 4, 4);
    if (cairn_reader_u32le(&r, &h.version))
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "hcl report: header truncated");
    cairn_reader_init(&r, p + HCL_RUNTIME_HDR_OFF, n - HCL_RUNTIME_HDR_OFF);
    uint32_t data_size, rt_version, var_size;
    if (cairn_reader_u32le(&r, &data_size) || cairn_reader_u32le(&r, &rt_version) ||
        cairn_reader_u32le(&r, &h.report_type) || cairn_reader_u32le(&r, &h.hash_type) ||
        cairn_reader_u32le(&r, &var_size))
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "hcl report: runtime-data header truncated");
    if (h.report_type != AZURE_HCL_SNP && h.report_type != AZURE_HCL_TDX)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                          "hcl report: report_type %u not supported (2 = SEV-SNP, 4 = TDX)", h.report_type);
    if (h.hash_type < 1 || h.hash_type > 3)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "hcl report: hash_type %u not supported (1..3 = SHA-256/384/512)",
                          h.hash_type);
    if (var_size == 0 || var_size > n - HCL_RUNTIME_DATA_OFF)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "hcl report: variable_data_size %u exceeds the %zu bytes left",
                          var_size, n - HCL_RUNTIME_DATA_OFF);
    /* var_size <= AZURE_HCL_MAX here, so the sum cannot wrap */
    if (data_size != var_size + HCL_RUNTIME_HDR_LEN)
        return cairn_errf(err, CAIRN_ERR_INVALID, "hcl report: runtime data_size %u is not variable_data_size + %d",
                          data_size, HCL_RUNTIME_HDR_LEN);
    h.hw_report = p + HCL_HEADER_LEN;
    if (h.report_type == AZURE_HCL_SNP) {
        h.hw_report_len = HCL_HW_AREA_LEN;
        h.report_data = h.hw_report + SNP_REPORT_DATA_OFF;
    } else {
        if (h.hw_report[0] != TDREPORT_TYPE_TDX)
            return cairn_errf(err, CAIRN_ERR_INVALID, "hcl report: TDREPORT type 0x%02x is not 0x81 (TDX)",
                              h.hw_report[0]);
        h.hw_report_len = AZURE_HCL_TDREPORT_LEN;
        h.report_data = h.hw_report + TDREPORT_REPORT_DATA_OFF;
    }
    h.runtime_data = p + HCL_RUNTIME_DATA_OFF;
    h.runtime_data_len = var_size;
    *out = h;
    return 0;
}

enum attest_type azure_hcl_attest_type(const struct azure_hcl *h)
{
    return h->report_type == AZURE_HCL_TDX ? ATTEST_TDX : ATTEST_SNP;
}

/* The runtime data as JSON (new reference), or NULL. Duplicate keys are
 * refused: the hash binds the bytes, so the bytes must have one reading. */
static json_t *runtime_json(const struct azure_hcl *h)
{
    return json_loadb((const char *)h->runtime_data, h->runtime_data_len, JSON_REJECT_DUPLICATES, NULL);
}

int azure_hcl_jwk_pem(const struct azure_hcl *h, const char *kid, char **out_pem, struct cairn_error *err)
{
    json_t *j = runtime_json(h);
    json_t *keys = json_object_get(j, "keys"), *k, *found = NULL;
    size_t i;
    int matches = 0;
    json_array_foreach(keys, i, k) {
        const char *id = json_string_value(json_object_get(k, "kid"));
        if (id != NULL && strcmp(id, kid) == 0) {
            found = k;
            matches++;
        }
    }
    if (matches > 1) {
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_INVALID, "hcl runtime data: %d JWKs \"%s\", expected one", matches, kid);
    }
    if (found == NULL) {
        json_decref(j);
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "hcl runtime data: no JWK \"%s\"", kid);
    }
    const char *kty = json_string_value(json_object_get(found, "kty"));
    const char *ns = json_string_value(json_object_get(found, "n")), *es = json_string_value(json_object_get(found, "e"));
    uint8_t *nb = NULL, *eb = NULL;
    size_t nl = 0, el = 0;
    int rc = 0;
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    BIO *bio = NULL;
    if (kty == NULL || strcmp(kty, "RSA") != 0 || ns == NULL || es == NULL ||
        cairn_base64url_decode(ns, strlen(ns), &nb, &nl) != 0 || cairn_base64url_decode(es, strlen(es), &eb, &el) != 0 ||
        nl < 128 || nl > 1024 || el == 0 || el > 8) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "hcl runtime data: JWK \"%s\" is not an RSA key (kty, n, e)", kid);
        goto out;
    }
    bn_n = BN_bin2bn(nb, (int)nl, NULL);
    bn_e = BN_bin2bn(eb, (int)el, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n == NULL || bn_e == NULL || bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0 || (bio = BIO_new(BIO_s_mem())) == NULL ||
        PEM_write_bio_PUBKEY(bio, key) != 1) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "hcl runtime data: JWK \"%s\" does not make an RSA key", kid);
        goto out;
    }
    char *d;
    long len = BIO_get_mem_data(bio, &d);
    char *pem = malloc((size_t)len + 1);
    if (pem == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(pem, d, (size_t)len);
    pem[len] = '\0';
    *out_pem = pem;
out:
    ERR_clear_error();
    BIO_free(bio);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(nb);
    free(eb);
    json_decref(j);
    return rc;
}

int azure_hcl_user_data(const struct azure_hcl *h, uint8_t out[64], size_t *out_len, struct cairn_error *err)
{
    json_t *j = runtime_json(h);
    json_t *v = json_object_get(j, "user-data");
    int rc = 0;
    uint8_t *b = NULL;
    size_t bl = 0;
    if (v == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOT_FOUND, "hcl runtime data: no \"user-data\"");
    else if (!json_is_string(v) || json_string_length(v) > 128 ||
             cairn_hex_decode(json_string_value(v), json_string_length(v), &b, &bl) != 0)
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "hcl runtime data: \"user-data\" is not hex of at most 64 bytes");
    if (rc == 0) {
        memcpy(out, b, bl);
        *out_len = bl;
    }
    free(b);
    json_decref(j);
    return rc;
}

static const EVP_MD *hcl_md(uint32_t hash_type)
{
    return hash_type == 1 ? EVP_sha256() : hash_type == 2 ? EVP_sha384() : EVP_sha512();
}

/* The hardware-specific part of azure_hcl_check. */
static int check_hardware(const struct azure_hcl *h, const struct attest_claims *claims, struct cairn_error *err)
{
    enum attest_type want = azure_hcl_attest_type(h);
    if (claims->type != want)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "hcl report: it carries a %s report, the verified evidence is %s",
                          attest_type_name(want), attest_type_name(claims->type));
    if (want == ATTEST_SNP) {
        json_t *v = json_object_get(claims->json, "vmpl");
        if (!json_is_integer(v) || json_integer_value(v) != 0)
            return cairn_errf(err, CAIRN_ERR_VERIFY,
                              "hcl report: the SNP report comes from VMPL %lld; only VMPL 0 (the paravisor) "
                              "vouches for the runtime data",
                              json_is_integer(v) ? (long long)json_integer_value(v) : -1LL);
    }
    /* The report copy in the HCL report must be the verified one (for TDX
     * the TDREPORT is unauthenticated: the quote of it is the evidence). */
    if (claims->report_data_len != 64 || CRYPTO_memcmp(claims->report_data, h->report_data, 64) != 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY,
                          want == ATTEST_TDX
                              ? "hcl report: its TDREPORT's REPORTDATA differs from the TD quote's (not the quoted report)"
                              : "hcl report: its SNP report's REPORTDATA differs from the verified report's");
    return 0;
}

int azure_hcl_check(const struct azure_hcl *h, struct attest_claims *claims, struct cairn_error *err)
{
    int rc = check_hardware(h, claims, err);
    if (rc != 0)
        return rc;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned ml = 0;
    if (EVP_Digest(h->runtime_data, h->runtime_data_len, md, &ml, hcl_md(h->hash_type), NULL) != 1)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "hcl runtime data: digest failed");
    bool ok = claims->report_data_len >= ml && CRYPTO_memcmp(claims->report_data, md, ml) == 0;
    for (size_t i = ml; ok && i < claims->report_data_len; i++)
        ok = claims->report_data[i] == 0;
    char *hex = cairn_hex_encode(md, ml);
    if (!ok) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "hcl runtime data: the %s report data does not start with its hash %s (rest zero)",
                        attest_type_name(claims->type), hex ? hex : "?");
        free(hex);
        return rc;
    }
    json_t *o = json_object();
    json_t *rt = runtime_json(h);
    char *ak = NULL;
    if (o == NULL || hex == NULL || json_object_set_new(o, "report_type", json_integer(h->report_type)) != 0 ||
        json_object_set_new(o, "runtime_data_hash", json_string(hex)) != 0)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc == 0 && rt != NULL)
        json_object_set(o, "runtime_data", rt);
    if (rc == 0 && azure_hcl_jwk_pem(h, "HCLAkPub", &ak, NULL) == 0)
        json_object_set_new(o, "ak_pub", json_string(ak));
    json_t *checks = json_object_get(claims->json, "checks");
    if (rc == 0 && (json_object_set_new(claims->json, "hcl", o) != 0 ||
                    (json_is_array(checks) && json_array_append_new(checks, json_string("hcl_runtime_data")) != 0))) {
        o = NULL;
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    } else if (rc == 0) {
        o = NULL; /* owned by the claims now */
    }
    json_decref(o);
    json_decref(rt);
    free(ak);
    free(hex);
    return rc;
}
