/* systemd UKI measurements (PCR 11) and signed PCR policies; formats and
 * rules in uki.h. */
#include "attest/uki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/eventlog.h"
#include "common/encoding.h"
#include "common/reader.h"

static const char *const section_names[UKI_N_SECTIONS] = {
    ".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".uname", ".pcrpkey",
};

const char *const uki_default_phases[4] = {
    "enter-initrd",
    "enter-initrd:leave-initrd",
    "enter-initrd:leave-initrd:sysinit",
    "enter-initrd:leave-initrd:sysinit:ready",
};

const char *uki_section_name(enum uki_section s)
{
    return (unsigned)s < UKI_N_SECTIONS ? section_names[s] : NULL;
}

int uki_section_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < UKI_N_SECTIONS; i++) {
        if (strcmp(name, section_names[i]) == 0 || strcmp(name, section_names[i] + 1) == 0)
            return i;
    }
    return -1;
}

static const struct {
    const char *name;
    size_t size;
    uint16_t alg;
} banks[UKI_N_BANKS] = {
    {"sha1", 20, TPM_ALG_SHA1},
    {"sha256", 32, TPM_ALG_SHA256},
    {"sha384", 48, TPM_ALG_SHA384},
    {"sha512", 64, TPM_ALG_SHA512},
};

const char *uki_bank_name(enum uki_bank b)
{
    return (unsigned)b < UKI_N_BANKS ? banks[b].name : NULL;
}

size_t uki_bank_size(enum uki_bank b)
{
    return (unsigned)b < UKI_N_BANKS ? banks[b].size : 0;
}

uint16_t uki_bank_tpm_alg(enum uki_bank b)
{
    return (unsigned)b < UKI_N_BANKS ? banks[b].alg : 0;
}

int uki_bank_parse(const char *s, enum uki_bank *out)
{
    for (int i = 0; s != NULL && i < UKI_N_BANKS; i++) {
        if (strcasecmp(s, banks[i].name) == 0) {
            *out = (enum uki_bank)i;
            return 0;
        }
    }
    return CAIRN_ERR_INVALID;
}

int uki_bank_from_tpm_alg(uint16_t alg, enum uki_bank *out)
{
    for (int i = 0; i < UKI_N_BANKS; i++) {
        if (banks[i].alg == alg) {
            *out = (enum uki_bank)i;
            return 0;
        }
    }
    return CAIRN_ERR_UNSUPPORTED;
}

static const EVP_MD *bank_md(enum uki_bank b)
{
    switch (b) {
    case UKI_BANK_SHA1: return EVP_sha1();
    case UKI_BANK_SHA256: return EVP_sha256();
    case UKI_BANK_SHA384: return EVP_sha384();
    case UKI_BANK_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

/* ---- PE/COFF ------------------------------------------------------------- */

/* Machines a systemd-stub is built for (x86-64, i386, AArch64, ARM, RISC-V 64);
 * the stub is part of the UKI, so any of them is its own. */
static bool machine_known(uint16_t m)
{
    return m == 0x8664 || m == 0x014c || m == 0xaa64 || m == 0x01c2 || m == 0x5064;
}

int uki_pe_parse(const uint8_t *p, size_t n, struct uki_pe *out, struct cairn_error *err)
{
    if (p == NULL || n == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "UKI: empty file");
    if (n > UKI_MAX_BYTES)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "UKI: %zu bytes, cap %zu", n, UKI_MAX_BYTES);
    struct cairn_reader rd;
    cairn_reader_init(&rd, p, n);
    const uint8_t *mz;
    uint32_t lfanew;
    if (cairn_reader_bytes(&rd, 2, &mz) || cairn_reader_skip(&rd, 0x3C - 2) || cairn_reader_u32le(&rd, &lfanew))
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "UKI: %zu bytes, shorter than a DOS header", n);
    if (mz[0] != 'M' || mz[1] != 'Z')
        return cairn_errf(err, CAIRN_ERR_INVALID, "UKI: no \"MZ\" DOS header (not a PE file)");
    if (lfanew > n)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "UKI: PE header offset 0x%x beyond the file's 0x%zx bytes", lfanew,
                          n);
    cairn_reader_init(&rd, p + lfanew, n - lfanew);
    const uint8_t *sig;
    uint16_t machine, n_sections, opt_size, opt_magic;
    if (cairn_reader_bytes(&rd, 4, &sig) || cairn_reader_u16le(&rd, &machine) ||
        cairn_reader_u16le(&rd, &n_sections) || cairn_reader_skip(&rd, 12) || cairn_reader_u16le(&rd, &opt_size) ||
        cairn_reader_skip(&rd, 2))
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "UKI: COFF file header truncated at 0x%x", lfanew);
    if (memcmp(sig, "PE\0\0", 4) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "UKI: no \"PE\\0\\0\" signature at 0x%x", lfanew);
    if (!machine_known(machine))
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED,
                          "UKI: machine 0x%04x is none of x86-64, i386, AArch64, ARM, RISC-V 64", machine);
    if (n_sections > UKI_PE_MAX_SECTIONS)
        return cairn_errf(err, CAIRN_ERR_INVALID, "UKI: %u sections, the stub accepts at most %d", n_sections,
                          UKI_PE_MAX_SECTIONS);
    if (opt_size < 2)
        return cairn_errf(err, CAIRN_ERR_INVALID, "UKI: optional header of %u bytes (an image has one)", opt_size);
    struct cairn_reader opt = rd;
    if (cairn_reader_u16le(&opt, &opt_magic) || cairn_reader_skip(&rd, opt_size))
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "UKI: optional header (%u bytes) truncated", opt_size);
    if (opt_magic != 0x10b && opt_magic != 0x20b)
        return cairn_errf(err, CAIRN_ERR_INVALID, "UKI: optional header magic 0x%04x is neither PE32 nor PE32+",
                          opt_magic);

    struct uki_pe pe = {.machine = machine, .n_sections = n_sections};
    for (unsigned i = 0; i < n_sections; i++) {
        const uint8_t *name;
        uint32_t vsize, vaddr, raw_size, raw_ptr;
        if (cairn_reader_bytes(&rd, 8, &name) || cairn_reader_u32le(&rd, &vsize) || cairn_reader_u32le(&rd, &vaddr) ||
            cairn_reader_u32le(&rd, &raw_size) || cairn_reader_u32le(&rd, &raw_ptr) || cairn_reader_skip(&rd, 16))
            return cairn_errf(err, CAIRN_ERR_TRUNCATED, "UKI: section table truncated at entry %u of %u", i,
                              n_sections);
        for (int s = 0; s < UKI_N_SECTIONS; s++) {
            size_t nl = strlen(section_names[s]);
            /* The 252 stub compares strlen(name) bytes: a prefix match. */
            if (memcmp(name, section_names[s], nl) != 0)
                continue;
            struct uki_pe_section sec = {.virtual_address = vaddr};
            if (vsize > UKI_MAX_SECTION_SIZE)
                return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "UKI: section %u (%s): VirtualSize 0x%x over the cap", i,
                                  section_names[s], vsize);
            uint64_t raw = raw_size < vsize ? raw_size : vsize;
            if (raw_ptr > n || raw > n - raw_ptr)
                return cairn_errf(err, CAIRN_ERR_TRUNCATED,
                                  "UKI: section %u (%s): raw data 0x%x+0x%llx beyond the file's 0x%zx bytes", i,
                                  section_names[s], raw_ptr, (unsigned long long)raw, n);
            sec.raw = p + raw_ptr;
            sec.raw_size = raw;
            sec.zero_fill = (uint64_t)vsize - raw;
            pe.sec[s] = sec;
            pe.found[s] = vsize > 0;   /* last match wins, even an empty one */
        }
    }
    *out = pe;
    return 0;
}

/* ---- hashing --------------------------------------------------------------- */

struct uki_hasher {
    EVP_MD_CTX *ctx[UKI_N_BANKS];
    uint64_t total;
};

static int hasher_reset(struct uki_hasher *h)
{
    for (int b = 0; b < UKI_N_BANKS; b++) {
        if (EVP_DigestInit_ex(h->ctx[b], bank_md((enum uki_bank)b), NULL) != 1)
            return CAIRN_ERR_CRYPTO;
    }
    h->total = 0;
    return 0;
}

struct uki_hasher *uki_hasher_new(void)
{
    struct uki_hasher *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    for (int b = 0; b < UKI_N_BANKS; b++) {
        if ((h->ctx[b] = EVP_MD_CTX_new()) == NULL) {
            uki_hasher_free(h);
            return NULL;
        }
    }
    if (hasher_reset(h) != 0) {
        uki_hasher_free(h);
        return NULL;
    }
    return h;
}

void uki_hasher_free(struct uki_hasher *h)
{
    if (h == NULL)
        return;
    for (int b = 0; b < UKI_N_BANKS; b++)
        EVP_MD_CTX_free(h->ctx[b]);
    free(h);
}

int uki_hasher_update(struct uki_hasher *h, const void *p, size_t n)
{
    for (int b = 0; b < UKI_N_BANKS; b++) {
        if (EVP_DigestUpdate(h->ctx[b], p, n) != 1)
            return CAIRN_ERR_CRYPTO;
    }
    h->total += n;
    return 0;
}

int uki_hasher_zeros(struct uki_hasher *h, uint64_t n)
{
    static const uint8_t zeros[16384];
    while (n > 0) {
        size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
        int rc = uki_hasher_update(h, zeros, k);
        if (rc != 0)
            return rc;
        n -= k;
    }
    return 0;
}

int uki_hasher_final(struct uki_hasher *h, enum uki_section s, struct uki_digests *d)
{
    if ((unsigned)s >= UKI_N_SECTIONS)
        return CAIRN_ERR_INVALID;
    for (int b = 0; b < UKI_N_BANKS; b++) {
        unsigned int outl = 0;
        if (EVP_DigestFinal_ex(h->ctx[b], d->d[s][b], &outl) != 1 || outl != banks[b].size)
            return CAIRN_ERR_CRYPTO;
    }
    d->present[s] = h->total > 0;
    return hasher_reset(h);
}

int uki_digests_from_pe(const struct uki_pe *pe, struct uki_digests *out, struct cairn_error *err)
{
    struct uki_hasher *h = uki_hasher_new();
    if (h == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "UKI: out of memory");
    struct uki_digests d = {0};
    int rc = 0;
    for (int s = 0; rc == 0 && s < UKI_N_SECTIONS; s++) {
        if (!pe->found[s])
            continue;
        if ((rc = uki_hasher_update(h, pe->sec[s].raw, (size_t)pe->sec[s].raw_size)) == 0 &&
            (rc = uki_hasher_zeros(h, pe->sec[s].zero_fill)) == 0)
            rc = uki_hasher_final(h, (enum uki_section)s, &d);
    }
    uki_hasher_free(h);
    if (rc != 0)
        return cairn_errf(err, rc, "UKI: hashing the sections failed");
    *out = d;
    return 0;
}

static int extend(enum uki_bank b, uint8_t pcr[64], const uint8_t *digest)
{
    uint8_t buf[128];
    size_t sz = banks[b].size;
    unsigned int outl = 0;
    memcpy(buf, pcr, sz);
    memcpy(buf + sz, digest, sz);
    if (EVP_Digest(buf, 2 * sz, pcr, &outl, bank_md(b), NULL) != 1 || outl != sz)
        return CAIRN_ERR_CRYPTO;
    return 0;
}

int uki_pcr11_sections(const struct uki_digests *d, enum uki_bank b, uint8_t out[64])
{
    if ((unsigned)b >= UKI_N_BANKS)
        return CAIRN_ERR_INVALID;
    uint8_t pcr[64] = {0};
    for (int s = 0; s < UKI_N_SECTIONS; s++) {
        if (!d->present[s])
            continue;
        uint8_t name_digest[64];
        unsigned int outl = 0;
        /* the name with its NUL, as the stub measures the C string */
        if (EVP_Digest(section_names[s], strlen(section_names[s]) + 1, name_digest, &outl, bank_md(b), NULL) != 1)
            return CAIRN_ERR_CRYPTO;
        int rc = extend(b, pcr, name_digest);
        if (rc == 0)
            rc = extend(b, pcr, d->d[s][b]);
        if (rc != 0)
            return rc;
    }
    memcpy(out, pcr, banks[b].size);
    return 0;
}

int uki_pcr11_phase(enum uki_bank b, uint8_t pcr[64], const char *phase)
{
    if ((unsigned)b >= UKI_N_BANKS)
        return CAIRN_ERR_INVALID;
    const char *w = phase;
    while (*w != '\0') {
        size_t wl = strcspn(w, ":");
        if (wl > 0) {
            uint8_t digest[64];
            unsigned int outl = 0;
            if (EVP_Digest(w, wl, digest, &outl, bank_md(b), NULL) != 1)
                return CAIRN_ERR_CRYPTO;
            int rc = extend(b, pcr, digest);
            if (rc != 0)
                return rc;
        }
        w += wl;
        if (*w == ':')
            w++;
    }
    return 0;
}

int uki_phase_normalize(const char *in, char out[UKI_MAX_PHASE_LEN + 1], struct cairn_error *err)
{
    size_t o = 0;
    const char *w = in;
    if (strlen(in) > UKI_MAX_PHASE_LEN)
        return cairn_errf(err, CAIRN_ERR_INVALID, "phase longer than %d bytes", UKI_MAX_PHASE_LEN);
    for (const unsigned char *c = (const unsigned char *)in; *c; c++) {
        if (*c < 0x20 || *c >= 0x7f)
            return cairn_errf(err, CAIRN_ERR_INVALID, "phase \"%.40s\": only printable ASCII is accepted", in);
    }
    while (*w != '\0') {
        size_t wl = strcspn(w, ":");
        if (wl > 0) {
            if (o > 0)
                out[o++] = ':';
            memcpy(out + o, w, wl);
            o += wl;
        }
        w += wl;
        if (*w == ':')
            w++;
    }
    out[o] = '\0';
    return 0;
}

/* ---- signed PCR policies --------------------------------------------------- */

int uki_policy_pcr_digest(enum uki_bank b, const uint8_t *value, size_t value_len, uint8_t out[32])
{
    if ((unsigned)b >= UKI_N_BANKS || value_len != banks[b].size)
        return CAIRN_ERR_INVALID;
    uint8_t buf[32 + 4 + 4 + 2 + 1 + 3 + 32];
    size_t o = 0;
    memset(buf, 0, 32);                       /* policyDigest of a fresh session */
    o = 32;
    buf[o++] = 0x00; buf[o++] = 0x00; buf[o++] = 0x01; buf[o++] = 0x7F;   /* TPM_CC_PolicyPCR */
    buf[o++] = 0; buf[o++] = 0; buf[o++] = 0; buf[o++] = 1;               /* TPML_PCR_SELECTION.count */
    buf[o++] = (uint8_t)(banks[b].alg >> 8);
    buf[o++] = (uint8_t)banks[b].alg;
    buf[o++] = 3;                                                          /* sizeofSelect */
    buf[o++] = 0x00; buf[o++] = 1u << (UKI_PCR - 8); buf[o++] = 0x00;     /* PCR 11 */
    unsigned int outl = 0;
    if (EVP_Digest(value, value_len, buf + o, &outl, EVP_sha256(), NULL) != 1 || outl != 32)
        return CAIRN_ERR_CRYPTO;
    o += 32;
    if (EVP_Digest(buf, o, out, &outl, EVP_sha256(), NULL) != 1 || outl != 32)
        return CAIRN_ERR_CRYPTO;
    return 0;
}

int uki_pubkey_fingerprint(const void *evp_pkey, uint8_t out[32], struct cairn_error *err)
{
    EVP_PKEY *k = (EVP_PKEY *)evp_pkey;
    unsigned char *der = NULL;
    int len = i2d_PublicKey(k, &der);
    if (len <= 0)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "PCR signature: cannot encode the public key");
    unsigned int outl = 0;
    int ok = EVP_Digest(der, (size_t)len, out, &outl, EVP_sha256(), NULL) == 1 && outl == 32;
    OPENSSL_free(der);
    return ok ? 0 : cairn_errf(err, CAIRN_ERR_CRYPTO, "PCR signature: SHA-256 failed");
}

static int verify_sig(EVP_PKEY *key, enum uki_bank b, const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                      size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, bank_md(b), NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : CAIRN_ERR_VERIFY;
}

int uki_pcrsig_check(const uint8_t *sig_json, size_t sig_len, const void *evp_pkey, enum uki_bank b,
                     const uint8_t *value, size_t value_len, struct cairn_error *err)
{
    if (sig_json == NULL || sig_len == 0)
        return cairn_errf(err, CAIRN_ERR_POLICY, "PCR signature: none given (the package pins a PCR public key)");
    if (sig_len > UKI_PCRSIG_MAX_BYTES)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "PCR signature: %zu bytes, cap %u", sig_len,
                          UKI_PCRSIG_MAX_BYTES);
    if ((unsigned)b >= UKI_N_BANKS || value_len != banks[b].size)
        return cairn_errf(err, CAIRN_ERR_INVALID, "PCR signature: PCR 11 value of %zu bytes for %s", value_len,
                          uki_bank_name(b) ? uki_bank_name(b) : "?");
    uint8_t fp[32], pol[32];
    int rc = uki_pubkey_fingerprint(evp_pkey, fp, err);
    if (rc != 0)
        return rc;
    if (uki_policy_pcr_digest(b, value, value_len, pol) != 0)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "PCR signature: policy digest failed");
    json_error_t je;
    json_t *root = json_loadb((const char *)sig_json, sig_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return cairn_errf(err, CAIRN_ERR_INVALID, "PCR signature: not a JSON object (%s)", je.text);
    }
    /* Every entry is checked for shape, so a malformed file is refused as a
     * whole rather than half used. */
    const char *bank_key;
    json_t *arr;
    size_t n_entries = 0;
    json_object_foreach(root, bank_key, arr) {
        if (!json_is_array(arr)) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "PCR signature: \"%.32s\" is not an array", bank_key);
            goto out;
        }
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            if (++n_entries > UKI_PCRSIG_MAX_ENTRIES) {
                rc = cairn_errf(err, CAIRN_ERR_TOO_LARGE, "PCR signature: more than %d entries",
                                UKI_PCRSIG_MAX_ENTRIES);
                goto out;
            }
            const json_t *pcrs = json_object_get(e, "pcrs");
            if (!json_is_object(e) || !json_is_array(pcrs) || !json_is_string(json_object_get(e, "pkfp")) ||
                !json_is_string(json_object_get(e, "pol")) || !json_is_string(json_object_get(e, "sig"))) {
                rc = cairn_errf(err, CAIRN_ERR_INVALID,
                                "PCR signature: %.32s[%zu]: expected {\"pcrs\": [..], \"pkfp\", \"pol\", \"sig\"}",
                                bank_key, i);
                goto out;
            }
        }
    }
    enum uki_bank kb;
    arr = NULL;
    json_object_foreach(root, bank_key, arr) {
        if (uki_bank_parse(bank_key, &kb) == 0 && kb == b)
            break;
        arr = NULL;
    }
    if (arr == NULL || json_array_size(arr) == 0) {
        rc = cairn_errf(err, CAIRN_ERR_POLICY, "PCR signature: no %s entry (the quote's PCR 11 bank)",
                        uki_bank_name(b));
        goto out;
    }
    bool key_seen = false, pol_seen = false;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const json_t *pcrs = json_object_get(e, "pcrs");
        /* a policy over PCR 11 alone: a selection with more PCRs is another policy */
        if (json_array_size(pcrs) != 1 || json_integer_value(json_array_get(pcrs, 0)) != UKI_PCR ||
            !json_is_integer(json_array_get(pcrs, 0)))
            continue;
        uint8_t efp[32], epol[32];
        const char *fph = json_string_value(json_object_get(e, "pkfp"));
        const char *polh = json_string_value(json_object_get(e, "pol"));
        if (strlen(fph) != 64 || cairn_hex_decode_exact(fph, efp, 32) != 0 || strlen(polh) != 64 ||
            cairn_hex_decode_exact(polh, epol, 32) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "PCR signature: %s[%zu]: pkfp/pol are not 32-byte hex",
                            uki_bank_name(b), i);
            goto out;
        }
        if (CRYPTO_memcmp(efp, fp, 32) != 0)
            continue;
        key_seen = true;
        if (CRYPTO_memcmp(epol, pol, 32) != 0)
            continue;
        pol_seen = true;
        const char *sigb = json_string_value(json_object_get(e, "sig"));
        uint8_t *sig = NULL;
        size_t sl = 0;
        if (cairn_base64_decode(sigb, strlen(sigb), &sig, &sl) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "PCR signature: %s[%zu]: sig is not base64", uki_bank_name(b), i);
            goto out;
        }
        int v = verify_sig((EVP_PKEY *)evp_pkey, b, epol, 32, sig, sl);
        free(sig);
        if (v == 0) {
            rc = 0;
            goto out;
        }
    }
    if (!key_seen)
        rc = cairn_errf(err, CAIRN_ERR_POLICY, "PCR signature: no %s entry is signed by the pinned key (pkfp differs)",
                        uki_bank_name(b));
    else if (!pol_seen)
        rc = cairn_errf(err, CAIRN_ERR_POLICY,
                        "PCR signature: the pinned key signs no %s policy for the quoted PCR 11 value",
                        uki_bank_name(b));
    else
        rc = cairn_errf(err, CAIRN_ERR_POLICY,
                        "PCR signature: the %s policy for the quoted PCR 11 has a signature that does not verify "
                        "with the pinned key",
                        uki_bank_name(b));
out:
    json_decref(root);
    return rc;
}
