/* Internal to src/attest: Intel DCAP quote structure shared by SGX (quote v3)
 * and TDX (quote v4/v5), and the verification steps both share: PCK chain to
 * the Intel SGX Root CA, CRLs, PCK certificate extensions, QE report
 * signature, QE report data binding and the quote signature.
 *
 * dcap_quote_parse() is pure (no I/O, no allocation, no logging) and checks
 * structure only. Every pointer in struct dcap_quote is borrowed from the
 * buffer given to the parser and is valid as long as that buffer is.
 * The verification helpers take an explicit time and never log. */
#ifndef CAIRN_ATTEST_DCAP_H
#define CAIRN_ATTEST_DCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/attest.h"
#include "common/error.h"

#define DCAP_QUOTE_MAX (64u * 1024u)      /* larger buffers are refused before parsing */
#define DCAP_CERT_CHAIN_MAX (32u * 1024u) /* PEM PCK chain cap */
#define DCAP_HEADER_SIZE 48
#define DCAP_SGX_REPORT_SIZE 384
#define DCAP_TDX10_BODY_SIZE 584
#define DCAP_TDX15_BODY_SIZE 648
#define DCAP_ATT_KEY_ECDSA_P256 2
#define DCAP_TEE_SGX 0x00000000u
#define DCAP_TEE_TDX 0x00000081u
#define DCAP_CERT_PCK_CHAIN 5  /* PEM: PCK leaf, intermediate CA, root */
#define DCAP_CERT_QE_REPORT 6  /* QE report certification data (TDX, v4+) */
#define DCAP_OE_HEADER_SIZE 16 /* MarbleRun/OE: u32 version=1, u32 type=2, u64 size */

enum dcap_body_type {
    DCAP_BODY_SGX = 1,   /* 384-byte enclave report */
    DCAP_BODY_TDX10 = 2, /* 584-byte TD report (TDX 1.0) */
    DCAP_BODY_TDX15 = 3, /* 648-byte TD report (TDX 1.5) */
};

struct dcap_quote {
    uint16_t version;            /* 3 (SGX), 4 or 5 (TDX) */
    uint16_t att_key_type;       /* 2 */
    uint32_t tee_type;           /* DCAP_TEE_SGX / DCAP_TEE_TDX */
    uint16_t qe_svn, pce_svn;    /* header fields (0 in TDX quotes) */
    const uint8_t *qe_vendor_id; /* 16 */
    const uint8_t *user_data;    /* 20 */
    enum dcap_body_type body_type;
    const uint8_t *body;
    size_t body_size;
    const uint8_t *signed_data;
    size_t signed_size;           /* header .. end of body: what the quote signature covers */
    const uint8_t *signature;     /* 64: r||s by the attestation key */
    const uint8_t *att_key;       /* 64: P-256 X||Y */
    const uint8_t *qe_report;     /* 384 */
    const uint8_t *qe_report_sig; /* 64: r||s by the PCK leaf */
    const uint8_t *qe_auth;
    uint16_t qe_auth_size;
    uint16_t cert_type; /* 5 (PEM PCK chain) or 1-3 (PPID: chain supplied separately) */
    const uint8_t *cert_data;
    size_t cert_data_size;
    const char *pck_pem;
    size_t pck_pem_size; /* type 5 only (else NULL); not NUL-terminated */
    size_t quote_size;   /* bytes of the quote proper */
    size_t trailing;     /* bytes after it (TDX only) */
    bool oe_header;      /* the 16-byte OE header was present and stripped */
};

/* Parses an SGX (expect_tee = DCAP_TEE_SGX: quote v3, optionally behind the
 * 16-byte OE header; no trailing bytes) or TDX (DCAP_TEE_TDX: v4/v5; trailing
 * bytes after the quote are tolerated and counted) quote. `what` prefixes the
 * error message ("sgx quote", "tdx quote"). Returns 0, CAIRN_ERR_TOO_LARGE,
 * CAIRN_ERR_TRUNCATED, CAIRN_ERR_TRAILING, CAIRN_ERR_UNSUPPORTED or
 * CAIRN_ERR_INVALID; `out` is written only on success. */
int dcap_quote_parse(const uint8_t *buf, size_t len, uint32_t expect_tee, struct dcap_quote *out,
                     struct cairn_error *err);

/* SGX REPORT body field offsets (also the QE report). */
#define SGX_RB_CPUSVN 0
#define SGX_RB_MISCSELECT 16
#define SGX_RB_ISVEXTPRODID 32
#define SGX_RB_ATTRIBUTES 48
#define SGX_RB_MRENCLAVE 64
#define SGX_RB_MRSIGNER 128
#define SGX_RB_CONFIGID 192
#define SGX_RB_ISVPRODID 256
#define SGX_RB_ISVSVN 258
#define SGX_RB_CONFIGSVN 260
#define SGX_RB_ISVFAMILYID 304
#define SGX_RB_REPORTDATA 320

/* What the PCK leaf certificate says about the platform
 * (extension 1.2.840.113741.1.13.1). */
struct dcap_pck_info {
    uint8_t ppid[16];
    uint8_t cpusvn[16];
    uint8_t comp_svn[16]; /* TCB components 1..16 */
    uint16_t pcesvn;
    uint8_t pceid[2];
    uint8_t fmspc[6];
    int sgx_type; /* 0 standard, 1 scalable, 2 scalable with integrity; -1 absent */
    bool has_platform_instance_id;
    uint8_t platform_instance_id[16];
};

/* Parses the SGX extension of a PCK certificate with bounds on every TLV.
 * Returns 0, CAIRN_ERR_NOT_FOUND (no extension) or CAIRN_ERR_INVALID. */
int dcap_pck_info_parse(X509 *pck, struct dcap_pck_info *out, struct cairn_error *err);
/* The same on the extension's raw value (DER SEQUENCE, untrusted, at most
 * 64 KiB): pure and bounded; `out` written only on success. */
int dcap_pck_ext_parse(const uint8_t *der, size_t len, struct dcap_pck_info *out,
                       struct cairn_error *err);

/* The trust anchors to use: trust->intel_roots when set, else the embedded
 * Intel SGX Root CA. Returned stack is owned by the caller (sk_X509_pop_free). */
int dcap_intel_roots(const struct attest_trust *trust, STACK_OF(X509) * *out,
                     struct cairn_error *err);

/* Verifies `leaf` through `untrusted` to `roots` at `at`, then applies every
 * CRL in `crls` whose issuer is a certificate of the verified path: the CRL
 * signature, its validity window (thisUpdate <= at < nextUpdate; a stale CRL
 * is an error) and revocation of the certificates that issuer signed. `what`
 * names the chain in messages ("pck chain", "tcb signing chain"). When
 * `crls_used` is given it receives how many CRLs applied; when `out_chain` is
 * given it receives the verified path, leaf first (sk_X509_pop_free). */
int dcap_chain_verify(const char *what, X509 *leaf, STACK_OF(X509) * untrusted,
                      STACK_OF(X509) * roots, STACK_OF(X509_CRL) * crls, time_t at, int *crls_used,
                      STACK_OF(X509) * *out_chain, struct cairn_error *err);

/* True when the subject has exactly one CN and it equals `cn`. */
bool dcap_cert_cn_is(X509 *c, const char *cn);

/* ECDSA P-256 / SHA-256 check of a raw 64-byte r||s signature. Returns 0 or
 * CAIRN_ERR_VERIFY. */
int dcap_ecdsa_verify(EVP_PKEY *key, const void *msg, size_t n, const uint8_t sig[64]);

/* Builds a P-256 public key from X||Y; CAIRN_ERR_INVALID when the point is
 * not on the curve. Caller frees with EVP_PKEY_free. */
int dcap_p256_key(const uint8_t xy[64], EVP_PKEY **out);

/* Parses "YYYY-MM-DDTHH:MM:SSZ" (optionally with fractional seconds). */
int dcap_time_parse(const char *s, time_t *out);
void dcap_time_format(time_t t, char out[32]);

/* The shared verification of a parsed quote: PCK chain (+ CRLs), PCK
 * extensions, QE report signature, QE report data binding, attestation key,
 * quote signature. The PCK chain is the quote's own (type 5) or, for the
 * PPID types 1-3, `certs` (PEM, from evidence.certs; borrowed). Giving
 * `certs` with a type-5 quote is an error. `checks` (a JSON array) receives
 * the names of the checks that passed. `pck` is written on success. */
int dcap_verify_quote(const char *what, const struct dcap_quote *q, const char *certs,
                      size_t certs_len, const struct attest_trust *trust, time_t at, json_t *checks,
                      struct dcap_pck_info *pck, struct cairn_error *err);

/* ---- verified-result cache (dcap.c) ----
 * Small fixed-size LRU cache, thread-safe, on by default. A value holds what a
 * successful verification established and the window [from, until) in which
 * it holds; get() returns a hit only for `at` inside it. Values own a
 * reference to `key`/`obj` (either may be NULL); get() hands the caller new
 * references (EVP_PKEY_free / json_decref). */
struct dcap_cache_val {
    time_t from, until;
    EVP_PKEY *key; /* PCK chains: the verified leaf key */
    struct dcap_pck_info pck;
    int ncrl;
    json_t *obj; /* collateral: the verified inner object */
};
/* SHA-256 over domain, document and every trust input that can change the
 * outcome (roots, intermediates, CRLs, optionally the collateral chain). */
int dcap_cache_key(const char *domain, const void *doc, size_t len,
                   const struct attest_trust *trust, bool with_collateral_chain, uint8_t out[32]);
bool dcap_cache_get(const uint8_t key[32], time_t at, struct dcap_cache_val *out);
void dcap_cache_put(const uint8_t key[32], const struct dcap_cache_val *v);
void dcap_cache_set_enabled(bool on); /* for benchmarks and tests; clears nothing */
void dcap_cache_clear(void);
void dcap_cache_stats(unsigned long long *hits, unsigned long long *misses);
/* The window in which a verified path (and the given CRLs) stays valid:
 * [latest notBefore/thisUpdate, earliest notAfter/nextUpdate). */
void dcap_path_window(STACK_OF(X509) * path, STACK_OF(X509_CRL) * crls, time_t *from,
                      time_t *until);

/* Lowercase hex of n bytes into a new JSON string (NULL on allocation failure). */
json_t *dcap_json_hex(const uint8_t *p, size_t n);

#endif
