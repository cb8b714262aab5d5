/* Internal: measured boot of systemd Unified Kernel Images (UKIs): what
 * systemd-stub extends into TPM PCR 11, predicted offline as
 * `systemd-measure calculate` does (systemd 252, Debian 12).
 *
 * The measurement, per PCR bank H (sha1, sha256, sha384, sha512):
 *   PCR 11 starts at all zeros; PCR = H(PCR || x) is one extend.
 *   For every section present, in the fixed order .linux .osrel .cmdline
 *   .initrd .splash .dtb .uname .pcrpkey (not the order in the file):
 *     extend H(section name including its terminating NUL, e.g. ".linux\0"),
 *     then extend H(section contents).
 *   A section of zero bytes is not measured (the stub skips it, and
 *   systemd-measure skips empty files).
 *   Then, for a boot phase "enter-initrd:leave-initrd:sysinit:ready", every
 *   colon-separated word is extended as H(word) (no NUL); empty words are
 *   dropped, so "::a::b:" is the phase "a:b" and "" is no word at all.
 * .pcrsig is never measured (it carries signatures over these values). The
 * systemd 252 stub has no .uname; later stubs measure it between .dtb and
 * .pcrpkey, which is where it goes here when a UKI or --uname= has one.
 *
 * A UKI file is parsed as the systemd 252 stub finds its sections in the
 * loaded image: PE/COFF, at most 96 sections; a section matches a name when
 * the first strlen(name) bytes of its 8-byte Name field equal the name (so
 * ".linuxXY" is a ".linux"; the stub compares that way), the last match wins;
 * the stub measures VirtualSize bytes of the loaded section: the raw data up
 * to min(SizeOfRawData, VirtualSize), then zeros (the loader zero-fills the
 * rest). A VirtualSize of 0 means "not there".
 *
 * uki_pe_parse() is pure and bounded (the file is untrusted) and writes its
 * output only on success; nothing here logs or does I/O. */
#ifndef CAIRN_ATTEST_UKI_H
#define CAIRN_ATTEST_UKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define UKI_MAX_BYTES ((size_t)1 << 30)          /* larger UKI files are refused before parsing */
#define UKI_MAX_SECTION_SIZE ((uint64_t)1 << 30) /* VirtualSize cap (bounds the zero fill we hash) */
#define UKI_PE_MAX_SECTIONS 96                   /* the stub's own limit */
#define UKI_PCR 11
#define UKI_MAX_PHASES 64
#define UKI_MAX_PHASE_LEN 1024

enum uki_section {
    UKI_SEC_LINUX = 0,
    UKI_SEC_OSREL,
    UKI_SEC_CMDLINE,
    UKI_SEC_INITRD,
    UKI_SEC_SPLASH,
    UKI_SEC_DTB,
    UKI_SEC_UNAME,
    UKI_SEC_PCRPKEY,
    UKI_N_SECTIONS,
};

/* The PCR banks, in the order systemd-measure prints them. */
enum uki_bank { UKI_BANK_SHA1 = 0, UKI_BANK_SHA256, UKI_BANK_SHA384, UKI_BANK_SHA512, UKI_N_BANKS };

/* ".linux", ".osrel", ... (static strings). */
const char *uki_section_name(enum uki_section s);
/* Index of ".linux"-style name (with the dot) or of "linux" (a flag name); -1 when unknown. */
int uki_section_from_name(const char *name);
/* "sha1", "sha256", "sha384", "sha512"; uki_bank_parse is case-insensitive. */
const char *uki_bank_name(enum uki_bank b);
size_t uki_bank_size(enum uki_bank b);
uint16_t uki_bank_tpm_alg(enum uki_bank b);      /* TPM_ALG_SHA* */
int uki_bank_parse(const char *s, enum uki_bank *out);
int uki_bank_from_tpm_alg(uint16_t alg, enum uki_bank *out);

/* One section as the stub sees it: `raw_size` bytes of `raw` (borrowed from
 * the UKI buffer), then `zero_fill` zero bytes. */
struct uki_pe_section {
    const uint8_t *raw;
    uint64_t raw_size;
    uint64_t zero_fill;
    uint32_t virtual_address;
};

struct uki_pe {
    uint16_t machine;              /* COFF Machine, e.g. 0x8664 */
    unsigned n_sections;           /* in the section table */
    bool found[UKI_N_SECTIONS];    /* present with VirtualSize > 0 */
    struct uki_pe_section sec[UKI_N_SECTIONS];
};

/* Parses a UKI (PE/COFF) and locates its measured sections. Errors name the
 * field: "UKI: section 3 (.initrd): raw data 0x1000+0x5000 beyond the file's
 * 0x3000 bytes". CAIRN_ERR_TOO_LARGE / TRUNCATED / INVALID / UNSUPPORTED. */
int uki_pe_parse(const uint8_t *p, size_t n, struct uki_pe *out, struct cairn_error *err);

/* The per-section digests for every bank. */
struct uki_digests {
    bool present[UKI_N_SECTIONS];
    uint8_t d[UKI_N_SECTIONS][UKI_N_BANKS][64];
};

/* Streaming hasher of one section's contents in every bank. */
struct uki_hasher;
struct uki_hasher *uki_hasher_new(void);                 /* NULL on allocation failure */
int uki_hasher_update(struct uki_hasher *h, const void *p, size_t n);
int uki_hasher_zeros(struct uki_hasher *h, uint64_t n);
/* Stores the digests of section `s` in `d` (present when any byte was hashed)
 * and resets the hasher for the next section. */
int uki_hasher_final(struct uki_hasher *h, enum uki_section s, struct uki_digests *d);
void uki_hasher_free(struct uki_hasher *h);

/* Hashes the sections found by uki_pe_parse. */
int uki_digests_from_pe(const struct uki_pe *pe, struct uki_digests *out, struct cairn_error *err);

/* PCR 11 of bank `b` after the sections (no phase yet). out: uki_bank_size(b) bytes. */
int uki_pcr11_sections(const struct uki_digests *d, enum uki_bank b, uint8_t out[64]);
/* Extends `pcr` (bank b) with the words of `phase`. */
int uki_pcr11_phase(enum uki_bank b, uint8_t pcr[64], const char *phase);

/* Normalizes a phase as systemd-measure does (drops empty words: "::a::b:" ->
 * "a:b"). Refuses (CAIRN_ERR_INVALID) control characters, non-ASCII bytes
 * and phases longer than UKI_MAX_PHASE_LEN. `out` has UKI_MAX_PHASE_LEN+1 bytes. */
int uki_phase_normalize(const char *in, char out[UKI_MAX_PHASE_LEN + 1], struct cairn_error *err);

/* The default phases of systemd-measure, in its output order. */
extern const char *const uki_default_phases[4];

/* ---- signed PCR policies (systemd-measure sign, tpm2-pcr-signature.json) ----
 *
 * systemd signs, per bank, the TPM2 PolicyPCR digest of PCR 11:
 *   pol = SHA-256(0^32 || TPM_CC_PolicyPCR (0x0000017F, u32 BE) ||
 *                 TPML_PCR_SELECTION {count 1, hash = the bank's TPM_ALG,
 *                                     sizeofSelect 3, bitmap with bit 11} ||
 *                 SHA-256(PCR 11 value))
 * (the policy session hash is always SHA-256, whatever the bank), and
 *   sig = signature of pol with the bank's hash (RSA PKCS#1 v1.5 or ECDSA DER;
 *         what TPM2_PolicyAuthorize checks),
 *   pkfp = SHA-256 of the public key as i2d_PublicKey writes it (RSA: the
 *          PKCS#1 RSAPublicKey DER; EC: the uncompressed point).
 * The file is {"<bank>": [{"pcrs": [11], "pkfp": hex, "pol": hex, "sig": b64}, ...], ...}. */

/* pol for PCR 11 = `value` in bank `b`. */
int uki_policy_pcr_digest(enum uki_bank b, const uint8_t *value, size_t value_len, uint8_t out[32]);
/* pkfp of `key` (32 bytes). */
int uki_pubkey_fingerprint(const void *evp_pkey, uint8_t out[32], struct cairn_error *err);

#define UKI_PCRSIG_MAX_BYTES (256u * 1024)
#define UKI_PCRSIG_MAX_ENTRIES 256

/* Checks that the signature file `sig_json` (untrusted) holds, for bank `b`,
 * an entry over PCR 11 only whose pkfp is that of `key`, whose pol equals the
 * PolicyPCR digest of `value`, and whose signature verifies with `key`.
 * 0 when one does; CAIRN_ERR_POLICY naming why none does (no entry for the
 * bank, other key, no entry for this value, bad signature); CAIRN_ERR_INVALID
 * when the file is malformed. */
int uki_pcrsig_check(const uint8_t *sig_json, size_t sig_len, const void *evp_pkey, enum uki_bank b,
                     const uint8_t *value, size_t value_len, struct cairn_error *err);

#endif
