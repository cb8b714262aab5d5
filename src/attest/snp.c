/* AMD SEV-SNP: report parser, VCEK/VLEK chain to the AMD ARK, TCB binding,
 * report signature, claims and package policy. */
#include "attest/snp.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/amd_roots.h"
#include "common/encoding.h"
#include "common/reader.h"
#include "crypto/crypto.h"

#define CERTS_MAX 16
#define CERTS_BYTES_MAX (1u << 20)

/* VCEK/VLEK extension OIDs (AMD "Versioned Chip Endorsement Key" spec). */
#define OID_PRODUCT_NAME "1.3.6.1.4.1.3704.1.2"
#define OID_BL_SPL "1.3.6.1.4.1.3704.1.3.1"
#define OID_TEE_SPL "1.3.6.1.4.1.3704.1.3.2"
#define OID_SNP_SPL "1.3.6.1.4.1.3704.1.3.3"
#define OID_UCODE_SPL "1.3.6.1.4.1.3704.1.3.8"
#define OID_FMC_SPL "1.3.6.1.4.1.3704.1.3.9"
#define OID_HWID "1.3.6.1.4.1.3704.1.4"

const char *snp_product_name(enum snp_product p)
{
    switch (p) {
    case SNP_PRODUCT_MILAN: return "Milan";
    case SNP_PRODUCT_GENOA: return "Genoa";
    case SNP_PRODUCT_TURIN: return "Turin";
    default: return "unknown";
    }
}

/* "Milan-B0", "ARK-Genoa", "SEV-VLEK-Turin": the product is a word of the name. */
static enum snp_product product_from_text(const char *s)
{
    if (s == NULL)
        return SNP_PRODUCT_UNKNOWN;
    if (strstr(s, "Milan") != NULL)
        return SNP_PRODUCT_MILAN;
    if (strstr(s, "Genoa") != NULL)
        return SNP_PRODUCT_GENOA;
    if (strstr(s, "Turin") != NULL)
        return SNP_PRODUCT_TURIN;
    return SNP_PRODUCT_UNKNOWN;
}

void snp_tcb_decode(uint64_t raw, enum snp_product product, struct snp_tcb *out)
{
    struct snp_tcb t = {.raw = raw};
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(raw >> (8 * i));
    if (product == SNP_PRODUCT_TURIN) {
        t.fmc = b[0];
        t.has_fmc = true;
        t.bootloader = b[1];
        t.tee = b[2];
        t.snp = b[3];
    } else {
        t.bootloader = b[0];
        t.tee = b[1];
        t.snp = b[6];
    }
    t.microcode = b[7];
    *out = t;
}

/* ---- parser ------------------------------------------------------------ */

static int get_at(struct cairn_reader *r, size_t off, void *dst, size_t n)
{
    r->off = off;
    return cairn_reader_copy(r, dst, n);
}

static int u32_at(struct cairn_reader *r, size_t off, uint32_t *v)
{
    r->off = off;
    return cairn_reader_u32le(r, v);
}

static int u64_at(struct cairn_reader *r, size_t off, uint64_t *v)
{
    r->off = off;
    return cairn_reader_u64le(r, v);
}

/* r and s are 72-byte little-endian fields of which only the low 48 bytes
 * carry a P-384 scalar; the rest must be zero. */
static int sig_half(const uint8_t le[72], uint8_t be[48], const char *name, struct cairn_error *err)
{
    for (int i = 48; i < 72; i++) {
        if (le[i] != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "snp report: signature.%s: byte %d of 72 must be zero", name,
                              i);
    }
    for (int i = 0; i < 48; i++)
        be[i] = le[47 - i];
    return 0;
}

int snp_report_parse(const uint8_t *p, size_t n, struct snp_report *out, struct cairn_error *err)
{
    if (p == NULL || n < SNP_REPORT_SIZE)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "snp report: %zu bytes, expected exactly %u", p ? n : 0,
                          SNP_REPORT_SIZE);
    if (n > SNP_REPORT_SIZE)
        return cairn_errf(err, CAIRN_ERR_TRAILING, "snp report: %zu bytes, expected exactly %u", n,
                          SNP_REPORT_SIZE);
    struct snp_report r;
    memset(&r, 0, sizeof(r));
    struct cairn_reader rd;
    cairn_reader_init(&rd, p, n);
    uint8_t sr[72], ss[72];
    /* Every read is inside the 0x4A0 bytes checked above; the chain only
     * fails on a programming error. */
    if (u32_at(&rd, 0x00, &r.version) || u32_at(&rd, 0x04, &r.guest_svn) || u64_at(&rd, 0x08, &r.policy) ||
        get_at(&rd, 0x10, r.family_id, 16) || get_at(&rd, 0x20, r.image_id, 16) || u32_at(&rd, 0x30, &r.vmpl) ||
        u32_at(&rd, 0x34, &r.sig_algo) || u64_at(&rd, 0x38, &r.current_tcb) ||
        u64_at(&rd, 0x40, &r.platform_info) || u32_at(&rd, 0x48, &r.flags) ||
        get_at(&rd, 0x50, r.report_data, 64) || get_at(&rd, 0x90, r.measurement, 48) ||
        get_at(&rd, 0xC0, r.host_data, 32) || get_at(&rd, 0xE0, r.id_key_digest, 48) ||
        get_at(&rd, 0x110, r.author_key_digest, 48) || get_at(&rd, 0x140, r.report_id, 32) ||
        get_at(&rd, 0x160, r.report_id_ma, 32) || u64_at(&rd, 0x180, &r.reported_tcb) ||
        get_at(&rd, 0x1A0, r.chip_id, 64) || u64_at(&rd, 0x1E0, &r.committed_tcb) ||
        get_at(&rd, 0x1E8, &r.current_build, 1) || get_at(&rd, 0x1E9, &r.current_minor, 1) ||
        get_at(&rd, 0x1EA, &r.current_major, 1) || get_at(&rd, 0x1EC, &r.committed_build, 1) ||
        get_at(&rd, 0x1ED, &r.committed_minor, 1) || get_at(&rd, 0x1EE, &r.committed_major, 1) ||
        u64_at(&rd, 0x1F0, &r.launch_tcb) || get_at(&rd, 0x2A0, sr, 72) || get_at(&rd, 0x2E8, ss, 72))
        return cairn_errf(err, CAIRN_ERR_INTERNAL, "snp report: reader out of bounds");
    if (r.version < SNP_REPORT_VERSION_MIN || r.version > SNP_REPORT_VERSION_MAX)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "snp report: version %u not supported (expected %d..%d)",
                          r.version, SNP_REPORT_VERSION_MIN, SNP_REPORT_VERSION_MAX);
    if (r.sig_algo != SNP_SIG_ALGO_ECDSA_P384_SHA384)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                          "snp report: signature_algo %u not supported (expected 1 = ECDSA P-384 SHA-384)",
                          r.sig_algo);
    if (r.vmpl > 3)
        return cairn_errf(err, CAIRN_ERR_INVALID, "snp report: vmpl %u out of range 0..3", r.vmpl);
    if (r.version >= 3) {
        if (get_at(&rd, 0x188, &r.cpuid_fam_id, 1) || get_at(&rd, 0x189, &r.cpuid_mod_id, 1) ||
            get_at(&rd, 0x18A, &r.cpuid_step, 1))
            return cairn_errf(err, CAIRN_ERR_INTERNAL, "snp report: reader out of bounds");
    }
    /* The rest of the signature area is reserved and, unlike everything
     * before 0x2A0, not covered by the signature: refuse anything riding there. */
    for (size_t i = 0x330; i < SNP_REPORT_SIZE; i++) {
        if (p[i] != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "snp report: reserved byte 0x%zx after the signature must be "
                              "zero", i);
    }
    int rc = sig_half(sr, r.sig_r, "r", err);
    if (rc == 0)
        rc = sig_half(ss, r.sig_s, "s", err);
    if (rc != 0)
        return rc;
    *out = r;
    return 0;
}

enum snp_product snp_report_product(const struct snp_report *r)
{
    if (r->version < 3)
        return SNP_PRODUCT_UNKNOWN;
    if (r->cpuid_fam_id == 0x19) {
        if (r->cpuid_mod_id <= 0x0F)
            return SNP_PRODUCT_MILAN;
        if ((r->cpuid_mod_id >= 0x10 && r->cpuid_mod_id <= 0x1F) ||
            (r->cpuid_mod_id >= 0xA0 && r->cpuid_mod_id <= 0xAF))
            return SNP_PRODUCT_GENOA;
    } else if (r->cpuid_fam_id == 0x1A) {
        return SNP_PRODUCT_TURIN;
    }
    return SNP_PRODUCT_UNKNOWN;
}

/* ---- certificates -------------------------------------------------------- */

static int certs_parse_uncached(const uint8_t *p, size_t n, STACK_OF(X509) **out, struct cairn_error *err)
{
    if (p == NULL || n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "certificates: none given");
    if (n > CERTS_BYTES_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "certificates: %zu bytes, cap %u", n, CERTS_BYTES_MAX);
    STACK_OF(X509) *sk = sk_X509_new_null();
    if (sk == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "certificates: out of memory");
    int rc = 0;
    if (memmem(p, n, "-----BEGIN", 10) != NULL) {
        BIO *b = BIO_new_mem_buf(p, (int)n);
        if (b == NULL) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "certificates: out of memory");
            goto out;
        }
        X509 *x;
        while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            if (sk_X509_num(sk) >= CERTS_MAX || !sk_X509_push(sk, x)) {
                X509_free(x);
                BIO_free(b);
                rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "certificates: more than %d", CERTS_MAX);
                goto out;
            }
        }
        BIO_free(b);
        ERR_clear_error();
        /* A block that does not parse is an error, not something to skip. */
        size_t blocks = 0;
        for (const uint8_t *q = p; (q = memmem(q, n - (size_t)(q - p), "-----BEGIN CERTIFICATE-----", 27)) != NULL;
             q += 27)
            blocks++;
        if (blocks != (size_t)sk_X509_num(sk)) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "certificates: %zu CERTIFICATE blocks, only %d parse", blocks,
                            sk_X509_num(sk));
            goto out;
        }
        if (sk_X509_num(sk) == 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "certificates: no valid PEM CERTIFICATE block");
            goto out;
        }
    } else {
        const unsigned char *q = p;
        X509 *x = d2i_X509(NULL, &q, (long)n);
        if (x == NULL) {
            ERR_clear_error();
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "certificates: not PEM and not a DER certificate");
            goto out;
        }
        if ((size_t)(q - p) != n) {
            X509_free(x);
            rc = cairn_errf(err, CAIRN_ERR_TRAILING, "certificates: %zu bytes after the DER certificate",
                            n - (size_t)(q - p));
            goto out;
        }
        if (!sk_X509_push(sk, x)) {
            X509_free(x);
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "certificates: out of memory");
            goto out;
        }
    }
out:
    if (rc != 0) {
        sk_X509_pop_free(sk, X509_free);
        return rc;
    }
    *out = sk;
    return 0;
}

/* Parsed-certificate cache. OpenSSL 3.0 decodes a certificate's public key
 * through its provider decoders, which perf showed as about half of a TPM
 * verification with an AK certificate; the same VCEK/AK bytes arrive again
 * and again, so the parsed stack is kept, keyed by SHA-256 of the input
 * bytes (16 slots, round robin). Certificates are reference counted and
 * read-only once parsed; callers get their own stack of new references. */
#define PARSE_CACHE_SLOTS 16
static pthread_mutex_t g_parse_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint8_t key[32];
    STACK_OF(X509) *certs;
} g_parse[PARSE_CACHE_SLOTS];
static unsigned g_parse_next;
static bool g_parse_off;

static void parse_cache_clear(bool enabled)
{
    pthread_mutex_lock(&g_parse_mu);
    g_parse_off = !enabled;
    for (unsigned i = 0; i < PARSE_CACHE_SLOTS; i++) {
        sk_X509_pop_free(g_parse[i].certs, X509_free);
        g_parse[i].certs = NULL;
    }
    g_parse_next = 0;
    pthread_mutex_unlock(&g_parse_mu);
}

int attest_certs_parse(const uint8_t *p, size_t n, STACK_OF(X509) **out, struct cairn_error *err)
{
    uint8_t key[32];
    unsigned int kl = 0;
    bool keyed = p != NULL && n > 0 && n <= CERTS_BYTES_MAX && EVP_Digest(p, n, key, &kl, EVP_sha256(), NULL) == 1;
    if (keyed) {
        STACK_OF(X509) *hit = NULL;
        pthread_mutex_lock(&g_parse_mu);
        for (unsigned i = 0; !g_parse_off && i < PARSE_CACHE_SLOTS && hit == NULL; i++) {
            if (g_parse[i].certs != NULL && memcmp(g_parse[i].key, key, 32) == 0)
                hit = X509_chain_up_ref(g_parse[i].certs);
        }
        pthread_mutex_unlock(&g_parse_mu);
        if (hit != NULL) {
            *out = hit;
            return 0;
        }
    }
    STACK_OF(X509) *sk = NULL;
    int rc = certs_parse_uncached(p, n, &sk, err);
    if (rc != 0)
        return rc;
    STACK_OF(X509) *copy = keyed ? X509_chain_up_ref(sk) : NULL;
    if (copy != NULL) {
        STACK_OF(X509) *old = NULL;
        pthread_mutex_lock(&g_parse_mu);
        if (!g_parse_off) {
            unsigned slot = g_parse_next++ % PARSE_CACHE_SLOTS;
            old = g_parse[slot].certs;
            memcpy(g_parse[slot].key, key, 32);
            g_parse[slot].certs = copy;
            copy = NULL;
        }
        pthread_mutex_unlock(&g_parse_mu);
        sk_X509_pop_free(old, X509_free);
        sk_X509_pop_free(copy, X509_free);
    }
    *out = sk;
    return 0;
}

static X509 *pem_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (b == NULL)
        return NULL;
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return x;
}

/* Embedded AMD certificates, parsed once per process (pthread_once) and
 * never freed: they are constant trust anchors. */
static pthread_once_t g_amd_once = PTHREAD_ONCE_INIT;
static STACK_OF(X509) *g_amd_arks;
static STACK_OF(X509) *g_amd_inters;

static void amd_load(void)
{
    static const char *const arks[] = {AMD_MILAN_ARK_PEM, AMD_GENOA_ARK_PEM, AMD_TURIN_ARK_PEM};
    static const char *const inters[] = {AMD_MILAN_ASK_PEM, AMD_MILAN_ASVK_PEM, AMD_GENOA_ASK_PEM,
                                         AMD_GENOA_ASVK_PEM, AMD_TURIN_ASK_PEM, AMD_TURIN_ASVK_PEM};
    STACK_OF(X509) *a = sk_X509_new_null(), *i = sk_X509_new_null();
    if (a == NULL || i == NULL)
        goto fail;
    for (size_t k = 0; k < sizeof(arks) / sizeof(arks[0]); k++) {
        X509 *x = pem_cert(arks[k]);
        if (x == NULL || !sk_X509_push(a, x)) {
            X509_free(x);
            goto fail;
        }
    }
    for (size_t k = 0; k < sizeof(inters) / sizeof(inters[0]); k++) {
        X509 *x = pem_cert(inters[k]);
        if (x == NULL || !sk_X509_push(i, x)) {
            X509_free(x);
            goto fail;
        }
    }
    g_amd_arks = a;
    g_amd_inters = i;
    return;
fail:
    sk_X509_pop_free(a, X509_free);
    sk_X509_pop_free(i, X509_free);
}

static char *cert_cn(X509 *x, bool issuer)
{
    X509_NAME *nm = issuer ? X509_get_issuer_name(x) : X509_get_subject_name(x);
    int idx = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
    if (idx < 0)
        return NULL;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx));
    unsigned char *u = NULL;
    if (ASN1_STRING_to_UTF8(&u, s) < 0)
        return NULL;
    return (char *)u; /* OPENSSL_free */
}

/* CRLs: each certificate of the verified path is looked up in every CRL that
 * its issuer signed (signature and validity window checked at `at`). A CRL
 * from an issuer outside the path is ignored; a CRL from a path issuer that
 * is stale or badly signed is an error, since it was given to be used. */
int attest_crls_check(STACK_OF(X509) *path, STACK_OF(X509_CRL) *crls, time_t at, struct cairn_error *err)
{
    if (crls == NULL)
        return 0;
    int n = sk_X509_num(path);
    for (int i = 0; i < n; i++) {
        X509 *cert = sk_X509_value(path, i);
        X509 *issuer = (i + 1 < n) ? sk_X509_value(path, i + 1) : cert;
        for (int k = 0; k < sk_X509_CRL_num(crls); k++) {
            X509_CRL *crl = sk_X509_CRL_value(crls, k);
            if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0)
                continue;
            EVP_PKEY *ik = X509_get0_pubkey(issuer);
            if (ik == NULL || X509_CRL_verify(crl, ik) != 1) {
                ERR_clear_error();
                return cairn_errf(err, CAIRN_ERR_VERIFY, "crl of issuer %d in the chain: bad signature", i + 1);
            }
            time_t t = at;
            if (X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &t) > 0)
                return cairn_errf(err, CAIRN_ERR_EXPIRED, "crl: thisUpdate is after the verification time");
            const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(crl);
            if (nu != NULL && X509_cmp_time(nu, &t) < 0)
                return cairn_errf(err, CAIRN_ERR_EXPIRED, "crl: nextUpdate is before the verification time");
            X509_REVOKED *rev = NULL;
            if (X509_CRL_get0_by_cert(crl, &rev, cert) == 1) {
                char *cn = cert_cn(cert, false);
                int rc = cairn_errf(err, CAIRN_ERR_REVOKED, "certificate \"%s\" is revoked by its issuer's CRL",
                                    cn ? cn : "?");
                OPENSSL_free(cn);
                return rc;
            }
        }
    }
    return 0;
}

/* ---- cache of verified chains ------------------------------------------------
 * A VCEK is per chip and TCB, so a Coordinator sees the same few leaves over
 * and over. With the default trust (embedded roots, no extra intermediates,
 * no CRLs) a chain verified once stays verified for every time inside the
 * intersection of its certificates' validity, so the result is cached, keyed
 * by SHA-256 of the leaf DER. Anything else (custom roots, CRLs) is verified
 * every time. */
#define CHAIN_CACHE_SLOTS 64
struct chain_cache_entry {
    uint8_t key[32];
    time_t not_before, not_after;
    enum snp_product product;
    bool vlek;
    bool used;
};
static pthread_mutex_t g_cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct chain_cache_entry g_cache[CHAIN_CACHE_SLOTS];
static unsigned g_cache_next;
static bool g_cache_off;

void snp_chain_cache_set(bool enabled)
{
    parse_cache_clear(enabled);
    pthread_mutex_lock(&g_cache_mu);
    g_cache_off = !enabled;
    memset(g_cache, 0, sizeof(g_cache));
    g_cache_next = 0;
    pthread_mutex_unlock(&g_cache_mu);
}

static bool leaf_key(X509 *leaf, uint8_t key[32])
{
    unsigned char *der = NULL;
    int dl = i2d_X509(leaf, &der);
    unsigned int kl = 0;
    bool ok = dl > 0 && EVP_Digest(der, (size_t)dl, key, &kl, EVP_sha256(), NULL) == 1 && kl == 32;
    OPENSSL_free(der);
    return ok;
}

static bool cache_lookup(const uint8_t key[32], time_t at, enum snp_product *prod, bool *vlek)
{
    bool hit = false;
    pthread_mutex_lock(&g_cache_mu);
    for (unsigned i = 0; !g_cache_off && i < CHAIN_CACHE_SLOTS && !hit; i++) {
        const struct chain_cache_entry *e = &g_cache[i];
        if (e->used && memcmp(e->key, key, 32) == 0 && at >= e->not_before && at <= e->not_after) {
            *prod = e->product;
            *vlek = e->vlek;
            hit = true;
        }
    }
    pthread_mutex_unlock(&g_cache_mu);
    return hit;
}

static void cache_store(const uint8_t key[32], STACK_OF(X509) *path, enum snp_product prod, bool vlek)
{
    time_t nb = 0, na = (time_t)INT64_MAX;
    for (int i = 0; i < sk_X509_num(path); i++) {
        struct tm tb, ta;
        X509 *x = sk_X509_value(path, i);
        if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tb) != 1 || ASN1_TIME_to_tm(X509_get0_notAfter(x), &ta) != 1)
            return;
        time_t b = timegm(&tb), a = timegm(&ta);
        nb = b > nb ? b : nb;
        na = a < na ? a : na;
    }
    pthread_mutex_lock(&g_cache_mu);
    if (!g_cache_off) {
        struct chain_cache_entry *e = &g_cache[g_cache_next++ % CHAIN_CACHE_SLOTS];
        memcpy(e->key, key, 32);
        e->not_before = nb;
        e->not_after = na;
        e->product = prod;
        e->vlek = vlek;
        e->used = true;
    }
    pthread_mutex_unlock(&g_cache_mu);
}

int snp_cert_verify(X509 *leaf, STACK_OF(X509) *certs, const struct attest_trust *trust, time_t at,
                    enum snp_product *out_product, bool *out_is_vlek, struct cairn_error *err)
{
    pthread_once(&g_amd_once, amd_load);
    if (g_amd_arks == NULL)
        return cairn_errf(err, CAIRN_ERR_INTERNAL, "snp: embedded AMD roots failed to load");
    if (at == 0)
        at = time(NULL);
    bool cacheable = trust == NULL || (trust->amd_roots == NULL && trust->amd_intermediates == NULL &&
                                       (trust->crls == NULL || sk_X509_CRL_num(trust->crls) == 0));
    uint8_t key[32];
    cacheable = cacheable && leaf_key(leaf, key);
    if (cacheable && cache_lookup(key, at, out_product, out_is_vlek))
        return 0;
    STACK_OF(X509) *roots = (trust && trust->amd_roots) ? trust->amd_roots : g_amd_arks;
    int rc = 0;
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    if (st == NULL || ctx == NULL || untrusted == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "snp: out of memory");
        goto out;
    }
    for (int i = 0; i < sk_X509_num(roots); i++)
        X509_STORE_add_cert(st, sk_X509_value(roots, i));
    /* The embedded ASK/ASVK are always offered; they only help if they chain
     * to a configured root, so a custom root set stays authoritative. */
    STACK_OF(X509) *srcs[3] = {certs, trust ? trust->amd_intermediates : NULL, g_amd_inters};
    for (int s = 0; s < 3; s++) {
        for (int i = 0; srcs[s] && i < sk_X509_num(srcs[s]); i++) {
            if (!sk_X509_push(untrusted, sk_X509_value(srcs[s], i))) {
                rc = cairn_errf(err, CAIRN_ERR_NOMEM, "snp: out of memory");
                goto out;
            }
        }
    }
    if (!X509_STORE_CTX_init(ctx, st, leaf, untrusted)) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "snp: out of memory");
        goto out;
    }
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(vp, at);
    X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_CHECK_SS_SIGNATURE);
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        int depth = X509_STORE_CTX_get_error_depth(ctx);
        static const char *const what[] = {"VCEK/VLEK", "ASK/ASVK", "ARK"};
        rc = cairn_errf(err, cc_verify_error_code(e), "snp: %s certificate chain: %s",
                        depth >= 0 && depth < 3 ? what[depth] : "certificate", X509_verify_cert_error_string(e));
        ERR_clear_error();
        goto out;
    }
    STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(ctx);
    if (sk_X509_num(path) != 3) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "snp: certificate chain has %d certificates, expected VCEK/VLEK, "
                        "ASK/ASVK, ARK", sk_X509_num(path));
        goto out;
    }
    rc = attest_crls_check(path, trust ? trust->crls : NULL, at, err);
    if (rc != 0)
        goto out;
    char *ark_cn = cert_cn(sk_X509_value(path, 2), false);
    char *ask_cn = cert_cn(sk_X509_value(path, 1), false);
    enum snp_product prod = product_from_text(ark_cn);
    bool vlek = ask_cn != NULL && strstr(ask_cn, "VLEK") != NULL;
    OPENSSL_free(ark_cn);
    OPENSSL_free(ask_cn);
    if (cacheable)
        cache_store(key, path, prod, vlek);
    *out_product = prod;
    *out_is_vlek = vlek;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    sk_X509_free(untrusted);
    return rc;
}

/* The raw value of extension `oid` in `x`, or NULL. */
static const ASN1_OCTET_STRING *ext_value(X509 *x, const char *oid)
{
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    if (o == NULL)
        return NULL;
    int idx = X509_get_ext_by_OBJ(x, o, -1);
    ASN1_OBJECT_free(o);
    if (idx < 0)
        return NULL;
    return X509_EXTENSION_get_data(X509_get_ext(x, idx));
}

/* TCB SPL extensions hold a DER INTEGER 0..255. */
static int ext_spl(X509 *x, const char *oid, const char *name, uint8_t *out, struct cairn_error *err)
{
    const ASN1_OCTET_STRING *v = ext_value(x, oid);
    if (v == NULL)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "snp: certificate lacks the %s extension (%s)", name, oid);
    const unsigned char *p = ASN1_STRING_get0_data(v);
    long len = ASN1_STRING_length(v);
    ASN1_INTEGER *ai = d2i_ASN1_INTEGER(NULL, &p, len);
    int64_t val = -1;
    bool ok = ai != NULL && p == ASN1_STRING_get0_data(v) + len && ASN1_INTEGER_get_int64(&val, ai) == 1 &&
              val >= 0 && val <= 255;
    ASN1_INTEGER_free(ai);
    ERR_clear_error();
    if (!ok)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "snp: certificate %s extension is not an INTEGER 0..255", name);
    *out = (uint8_t)val;
    return 0;
}

/* productName is an IA5String ("Milan-B0"); some KDS certificates omit the tag. */
static enum snp_product ext_product(X509 *x)
{
    const ASN1_OCTET_STRING *v = ext_value(x, OID_PRODUCT_NAME);
    if (v == NULL)
        return SNP_PRODUCT_UNKNOWN;
    const unsigned char *p = ASN1_STRING_get0_data(v);
    int len = ASN1_STRING_length(v);
    if (len >= 2 && p[0] == 0x16 && p[1] == len - 2) {
        p += 2;
        len -= 2;
    }
    char buf[64];
    if (len <= 0 || len >= (int)sizeof(buf))
        return SNP_PRODUCT_UNKNOWN;
    memcpy(buf, p, (size_t)len);
    buf[len] = 0;
    return product_from_text(buf);
}

static int check_tcb_binding(X509 *leaf, const struct snp_report *r, enum snp_product prod, bool vlek,
                             struct cairn_error *err)
{
    struct snp_tcb rep;
    snp_tcb_decode(r->reported_tcb, prod, &rep);
    uint8_t bl, tee, snp, uc, fmc = 0;
    int rc;
    if ((rc = ext_spl(leaf, OID_BL_SPL, "blSPL", &bl, err)) || (rc = ext_spl(leaf, OID_TEE_SPL, "teeSPL", &tee, err)) ||
        (rc = ext_spl(leaf, OID_SNP_SPL, "snpSPL", &snp, err)) ||
        (rc = ext_spl(leaf, OID_UCODE_SPL, "ucodeSPL", &uc, err)))
        return rc;
    if (prod == SNP_PRODUCT_TURIN && (rc = ext_spl(leaf, OID_FMC_SPL, "fmcSPL", &fmc, err)))
        return rc;
    const char *bad = NULL;
    unsigned got = 0, want = 0;
    if (bl != rep.bootloader)
        bad = "bootloader", got = rep.bootloader, want = bl;
    else if (tee != rep.tee)
        bad = "tee", got = rep.tee, want = tee;
    else if (snp != rep.snp)
        bad = "snp", got = rep.snp, want = snp;
    else if (uc != rep.microcode)
        bad = "microcode", got = rep.microcode, want = uc;
    else if (prod == SNP_PRODUCT_TURIN && fmc != rep.fmc)
        bad = "fmc", got = rep.fmc, want = fmc;
    if (bad != NULL)
        return cairn_errf(err, CAIRN_ERR_VERIFY,
                          "snp report: reported_tcb.%s is %u but the %s certificate is for %u", bad, got,
                          vlek ? "VLEK" : "VCEK", want);
    if (!vlek && !snp_report_mask_chip_id(r)) {
        const ASN1_OCTET_STRING *hw = ext_value(leaf, OID_HWID);
        if (hw == NULL)
            return cairn_errf(err, CAIRN_ERR_VERIFY, "snp: VCEK lacks the hwID extension (%s)", OID_HWID);
        const unsigned char *p = ASN1_STRING_get0_data(hw);
        int len = ASN1_STRING_length(hw);
        if (len == 66 && p[0] == 0x04 && p[1] == 64) { /* wrapped in an OCTET STRING */
            p += 2;
            len = 64;
        }
        if (len != 64 || CRYPTO_memcmp(p, r->chip_id, 64) != 0)
            return cairn_errf(err, CAIRN_ERR_VERIFY, "snp report: chip_id does not match the VCEK hwID");
    }
    return 0;
}

static int check_signature(X509 *leaf, const uint8_t *report, const struct snp_report *r, struct cairn_error *err)
{
    EVP_PKEY *k = X509_get0_pubkey(leaf);
    char grp[32] = "";
    size_t gl = 0;
    if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(k, "group", grp, sizeof(grp), &gl) || strcmp(grp, "secp384r1") != 0) {
        ERR_clear_error();
        return cairn_errf(err, CAIRN_ERR_VERIFY, "snp: VCEK/VLEK key is not EC P-384");
    }
    int rc = 0;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *br = BN_bin2bn(r->sig_r, 48, NULL), *bs = BN_bin2bn(r->sig_s, 48, NULL);
    unsigned char *der = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (sig == NULL || br == NULL || bs == NULL || md == NULL || !ECDSA_SIG_set0(sig, br, bs)) {
        BN_free(br);
        BN_free(bs);
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "snp: out of memory");
        goto out;
    }
    int dl = i2d_ECDSA_SIG(sig, &der);
    if (dl <= 0) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "snp: out of memory");
        goto out;
    }
    if (EVP_DigestVerifyInit_ex(md, NULL, "SHA384", NULL, NULL, k, NULL) != 1 ||
        EVP_DigestVerify(md, der, (size_t)dl, report, SNP_REPORT_SIGNED_SIZE) != 1)
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "snp report: signature does not verify with the %s key",
                        snp_report_signing_key(r) == SNP_KEY_VLEK ? "VLEK" : "VCEK");
out:
    ERR_clear_error();
    if (sig != NULL)
        ECDSA_SIG_free(sig);
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    return rc;
}

/* ---- claims -------------------------------------------------------------- */

static int put_hex(json_t *o, const char *k, const void *p, size_t n)
{
    char *h = cairn_hex_encode(p, n);
    if (h == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = json_object_set_new(o, k, json_string(h)) == 0 ? 0 : CAIRN_ERR_NOMEM;
    free(h);
    return rc;
}

static json_t *tcb_json(uint64_t raw, enum snp_product prod)
{
    struct snp_tcb t;
    snp_tcb_decode(raw, prod, &t);
    char rawhex[17];
    snprintf(rawhex, sizeof(rawhex), "%016llx", (unsigned long long)raw);
    json_t *o = json_pack("{s:i,s:i,s:i,s:i,s:s}", "bootloader", t.bootloader, "tee", t.tee, "snp", t.snp,
                          "microcode", t.microcode, "raw", rawhex);
    if (o != NULL && t.has_fmc)
        json_object_set_new(o, "fmc", json_integer(t.fmc));
    return o;
}

static int build_claims(const struct snp_report *r, enum snp_product prod, bool vlek, struct attest_claims *out)
{
    json_t *j = json_object();
    if (j == NULL)
        return CAIRN_ERR_NOMEM;
    int rc = 0;
    rc |= json_object_set_new(j, "type", json_string("snp"));
    rc |= put_hex(j, "report_data", r->report_data, 64);
    rc |= json_object_set_new(j, "version", json_integer(r->version));
    rc |= json_object_set_new(j, "guest_svn", json_integer(r->guest_svn));
    rc |= json_object_set_new(j, "policy", json_integer((json_int_t)r->policy));
    rc |= put_hex(j, "family_id", r->family_id, 16);
    rc |= put_hex(j, "image_id", r->image_id, 16);
    rc |= json_object_set_new(j, "vmpl", json_integer(r->vmpl));
    rc |= put_hex(j, "measurement", r->measurement, 48);
    rc |= put_hex(j, "host_data", r->host_data, 32);
    rc |= put_hex(j, "id_key_digest", r->id_key_digest, 48);
    rc |= put_hex(j, "author_key_digest", r->author_key_digest, 48);
    rc |= put_hex(j, "report_id", r->report_id, 32);
    rc |= put_hex(j, "report_id_ma", r->report_id_ma, 32);
    rc |= put_hex(j, "chip_id", r->chip_id, 64);
    rc |= json_object_set_new(j, "platform_info", json_integer((json_int_t)r->platform_info));
    rc |= json_object_set_new(j, "signing_key", json_string(vlek ? "vlek" : "vcek"));
    rc |= json_object_set_new(j, "current_tcb", tcb_json(r->current_tcb, prod));
    rc |= json_object_set_new(j, "reported_tcb", tcb_json(r->reported_tcb, prod));
    rc |= json_object_set_new(j, "committed_tcb", tcb_json(r->committed_tcb, prod));
    rc |= json_object_set_new(j, "launch_tcb", tcb_json(r->launch_tcb, prod));
    char fw[32];
    snprintf(fw, sizeof(fw), "%u.%u.%u", r->current_major, r->current_minor, r->current_build);
    rc |= json_object_set_new(j, "current_firmware", json_string(fw));
    snprintf(fw, sizeof(fw), "%u.%u.%u", r->committed_major, r->committed_minor, r->committed_build);
    rc |= json_object_set_new(j, "committed_firmware", json_string(fw));
    rc |= json_object_set_new(j, "debug", json_boolean(snp_report_debug(r)));
    rc |= json_object_set_new(j, "product", json_string(snp_product_name(prod)));
    rc |= json_object_set_new(j, "checks", json_pack("[sssss]", "report_format", "cert_chain", "product",
                                                     "tcb_binding", "report_signature"));
    if (rc != 0) {
        json_decref(j);
        return CAIRN_ERR_NOMEM;
    }
    out->type = ATTEST_SNP;
    memcpy(out->report_data, r->report_data, 64);
    out->report_data_len = 64;
    out->json = j;
    return 0;
}

int snp_verify(const struct attest_evidence *ev, const struct attest_trust *trust, struct attest_claims *out,
               struct cairn_error *err)
{
    struct snp_report r;
    int rc = snp_report_parse(ev->quote, ev->quote_len, &r, err);
    if (rc != 0)
        return rc;
    unsigned sk = snp_report_signing_key(&r);
    if (sk != SNP_KEY_VCEK && sk != SNP_KEY_VLEK)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "snp report: signing_key %u (only VCEK 0 and VLEK 1 are "
                          "verifiable)", sk);
    if (ev->certs == NULL || ev->certs_len == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "snp evidence: no VCEK/VLEK certificate given");
    STACK_OF(X509) *certs = NULL;
    rc = attest_certs_parse(ev->certs, ev->certs_len, &certs, err);
    if (rc != 0)
        return cairn_err_prefix(err, "snp evidence");
    /* The VCEK/VLEK is the EC certificate (ASK/ASVK/ARK are RSA), wherever
     * the sender put it in the bundle. */
    X509 *leaf = NULL;
    for (int i = 0; i < sk_X509_num(certs) && leaf == NULL; i++) {
        EVP_PKEY *k = X509_get0_pubkey(sk_X509_value(certs, i));
        if (k != NULL && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC)
            leaf = sk_X509_value(certs, i);
    }
    ERR_clear_error();
    if (leaf == NULL)
        leaf = sk_X509_value(certs, 0); /* reported as "not EC P-384" below */
    enum snp_product prod = SNP_PRODUCT_UNKNOWN;
    bool vlek = false;
    rc = snp_cert_verify(leaf, certs, trust, trust ? trust->at : 0, &prod, &vlek, err);
    if (rc != 0)
        goto out;
    enum snp_product named = ext_product(leaf), cpu = snp_report_product(&r);
    if (prod == SNP_PRODUCT_UNKNOWN)
        prod = named;
    if (prod == SNP_PRODUCT_UNKNOWN) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "snp: cannot tell the product (Milan/Genoa/Turin) of the chain");
        goto out;
    }
    if (named != SNP_PRODUCT_UNKNOWN && named != prod) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "snp: certificate productName is %s but it chains to the %s ARK",
                        snp_product_name(named), snp_product_name(prod));
        goto out;
    }
    if (cpu != SNP_PRODUCT_UNKNOWN && cpu != prod) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "snp report: cpuid family/model is %s but the certificate is for %s",
                        snp_product_name(cpu), snp_product_name(prod));
        goto out;
    }
    if ((sk == SNP_KEY_VLEK) != vlek) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "snp report: signing_key says %s but the certificate is a %s",
                        sk == SNP_KEY_VLEK ? "VLEK" : "VCEK", vlek ? "VLEK" : "VCEK");
        goto out;
    }
    rc = check_tcb_binding(leaf, &r, prod, vlek, err);
    if (rc != 0)
        goto out;
    rc = check_signature(leaf, ev->quote, &r, err);
    if (rc != 0)
        goto out;
    rc = build_claims(&r, prod, vlek, out);
    if (rc != 0)
        rc = cairn_errf(err, rc, "snp: out of memory building claims");
out:
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

/* ---- policy ---------------------------------------------------------------- */

/* Compares a manifest hex value with a claims hex value as bytes. */
static int match_hex(const char *field, const char *want_hex, const json_t *claims, const char *key,
                     struct cairn_error *err)
{
    if (want_hex == NULL)
        return 0;
    const char *got_hex = json_string_value(json_object_get(claims, key));
    if (got_hex == NULL)
        return cairn_errf(err, CAIRN_ERR_POLICY, "%s: claims lack \"%s\"", field, key);
    uint8_t *want = NULL, *got = NULL;
    size_t wn = 0, gn = 0;
    int rc = 0;
    if (cairn_hex_decode(want_hex, strlen(want_hex), &want, &wn) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_POLICY, "%s: package value is not hex", field);
    } else if (cairn_hex_decode(got_hex, strlen(got_hex), &got, &gn) != 0 || gn != wn ||
               CRYPTO_memcmp(want, got, wn) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_POLICY, "%s mismatch: expected %s, got %s", field, want_hex, got_hex);
    }
    free(want);
    free(got);
    return rc;
}

int snp_policy_match(const struct tee_package *p, const struct attest_claims *c, struct cairn_error *err)
{
    const json_t *j = c->json;
    if (c->type != ATTEST_SNP || j == NULL)
        return cairn_errf(err, CAIRN_ERR_POLICY, "package expects TEE snp, evidence is %s",
                          attest_type_name(c->type));
    int rc;
    if ((rc = match_hex("Measurement", p->measurement, j, "measurement", err)) ||
        (rc = match_hex("HostData", p->host_data, j, "host_data", err)) ||
        (rc = match_hex("IDKeyDigest", p->id_key_digest, j, "id_key_digest", err)))
        return rc;
    if (p->has_minimum_tcb) {
        const json_t *t = json_object_get(j, "reported_tcb");
        struct { const char *name, *key; unsigned want; } comp[] = {
            {"Bootloader", "bootloader", p->minimum_tcb.bootloader},
            {"TEE", "tee", p->minimum_tcb.tee},
            {"SNP", "snp", p->minimum_tcb.snp},
            {"Microcode", "microcode", p->minimum_tcb.microcode},
        };
        for (size_t i = 0; i < sizeof(comp) / sizeof(comp[0]); i++) {
            const json_t *v = json_object_get(t, comp[i].key);
            if (!json_is_integer(v))
                return cairn_errf(err, CAIRN_ERR_POLICY, "MinimumTCB: claims lack reported_tcb.%s", comp[i].key);
            if (json_integer_value(v) < (json_int_t)comp[i].want)
                return cairn_errf(err, CAIRN_ERR_POLICY, "MinimumTCB.%s: reported TCB %lld is below the minimum %u",
                                  comp[i].name, (long long)json_integer_value(v), comp[i].want);
        }
    }
    if (p->has_guest_svn) {
        json_int_t svn = json_integer_value(json_object_get(j, "guest_svn"));
        if (svn < (json_int_t)p->guest_svn)
            return cairn_errf(err, CAIRN_ERR_POLICY, "GuestSVN: %lld is below the minimum %u", (long long)svn,
                              p->guest_svn);
    }
    const json_t *dbg = json_object_get(j, "debug");
    if (!json_is_boolean(dbg))
        return cairn_errf(err, CAIRN_ERR_POLICY, "Debug: claims lack \"debug\"");
    if (json_is_true(dbg) != p->debug)
        return cairn_errf(err, CAIRN_ERR_POLICY, "Debug mismatch: package expects %s, guest policy has debug %s",
                          p->debug ? "true" : "false", json_is_true(dbg) ? "on" : "off");
    return 0;
}

/* ---- certificate table ------------------------------------------------------ */

static const struct {
    uint8_t guid[16];
    int order; /* position in the PEM output */
} g_cert_guids[] = {
    /* VCEK 63da758d-e664-4564-adc5-f4b93be8accd */
    {{0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd}, 0},
    /* VLEK a8074bc2-a25a-483e-aae6-39c045a0b8a1 */
    {{0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1}, 0},
    /* ASK 4ab7b379-bbac-4fe4-a02f-05aef327c782 */
    {{0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82}, 1},
    /* ARK c0b406a4-a803-4952-9743-3fb6014cd0ae */
    {{0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae}, 2},
};

int snp_certtable_to_pem(const uint8_t *p, size_t n, char **out_pem, struct cairn_error *err)
{
    if (p == NULL || n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "snp cert table: empty");
    if (n > CERTS_BYTES_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "snp cert table: %zu bytes, cap %u", n, CERTS_BYTES_MAX);
    struct cairn_reader rd;
    cairn_reader_init(&rd, p, n);
    X509 *slot[3] = {NULL, NULL, NULL};
    int rc = 0;
    for (unsigned i = 0;; i++) {
        const uint8_t *guid;
        uint32_t off, len;
        if (cairn_reader_bytes(&rd, 16, &guid) || cairn_reader_u32le(&rd, &off) || cairn_reader_u32le(&rd, &len)) {
            rc = cairn_errf(err, CAIRN_ERR_TRUNCATED, "snp cert table: entry %u truncated (no terminator)", i);
            goto out;
        }
        static const uint8_t zero[16];
        if (memcmp(guid, zero, 16) == 0 && off == 0 && len == 0)
            break;
        if (i >= 64) {
            rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "snp cert table: more than 64 entries");
            goto out;
        }
        if (off > n || len > n - off || len == 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "snp cert table: entry %u offset %u length %u outside %zu bytes", i,
                            off, len, n);
            goto out;
        }
        int order = -1;
        for (size_t g = 0; g < sizeof(g_cert_guids) / sizeof(g_cert_guids[0]); g++) {
            if (memcmp(guid, g_cert_guids[g].guid, 16) == 0)
                order = g_cert_guids[g].order;
        }
        if (order < 0)
            continue;
        if (slot[order] != NULL) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "snp cert table: entry %u repeats a certificate kind", i);
            goto out;
        }
        const unsigned char *q = p + off;
        X509 *x = d2i_X509(NULL, &q, (long)len);
        /* KDS certificates may be followed by padding inside their slot. */
        if (x == NULL) {
            ERR_clear_error();
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "snp cert table: entry %u is not a DER certificate", i);
            goto out;
        }
        slot[order] = x;
    }
    if (slot[0] == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "snp cert table: no VCEK or VLEK entry");
        goto out;
    }
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "snp cert table: out of memory");
        goto out;
    }
    for (int k = 0; k < 3; k++) {
        if (slot[k] != NULL && PEM_write_bio_X509(b, slot[k]) != 1)
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "snp cert table: out of memory");
    }
    char *data = NULL;
    long dl = BIO_get_mem_data(b, &data);
    char *pem = rc == 0 ? malloc((size_t)dl + 1) : NULL;
    if (rc == 0 && pem == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "snp cert table: out of memory");
    if (rc == 0) {
        memcpy(pem, data, (size_t)dl);
        pem[dl] = 0;
        *out_pem = pem;
    }
    BIO_free(b);
out:
    for (int k = 0; k < 3; k++)
        X509_free(slot[k]);
    return rc;
}
