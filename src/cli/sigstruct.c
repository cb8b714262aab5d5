/* SIGSTRUCT parsers (see sigstruct.h). */
#include "cli/sigstruct.h"

#include <string.h>

#include "common/reader.h"
#include "crypto/crypto.h"

static const uint8_t header1[16] = {0x06, 0x00, 0x00, 0x00, 0xe1, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
static const uint8_t header2[16] = {0x01, 0x01, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00,
                                    0x60, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};

int sigstruct_parse(const uint8_t *p, size_t len, struct sgx_package_info *out, struct cairn_error *err)
{
    if (len != SIGSTRUCT_SIZE)
        return cairn_errf(err, len < SIGSTRUCT_SIZE ? CAIRN_ERR_TRUNCATED : CAIRN_ERR_TRAILING,
                          "SIGSTRUCT: expected %d bytes, got %zu", SIGSTRUCT_SIZE, len);
    struct cairn_reader r;
    const uint8_t *h1, *h2, *modulus, *hash;
    uint32_t vendor, date;
    uint64_t flags;
    uint16_t prod, svn;
    cairn_reader_init(&r, p, len);
    int rc = cairn_reader_bytes(&r, 16, &h1);
    if (rc == 0) rc = cairn_reader_u32le(&r, &vendor);
    if (rc == 0) rc = cairn_reader_u32le(&r, &date);
    if (rc == 0) rc = cairn_reader_bytes(&r, 16, &h2);
    if (rc == 0) rc = cairn_reader_skip(&r, SIGSTRUCT_OFF_MODULUS - r.off);
    if (rc == 0) rc = cairn_reader_bytes(&r, 384, &modulus);
    if (rc == 0) rc = cairn_reader_skip(&r, SIGSTRUCT_OFF_ATTRIBUTES - r.off);
    if (rc == 0) rc = cairn_reader_u64le(&r, &flags);
    if (rc == 0) rc = cairn_reader_skip(&r, SIGSTRUCT_OFF_ENCLAVEHASH - r.off);
    if (rc == 0) rc = cairn_reader_bytes(&r, 32, &hash);
    if (rc == 0) rc = cairn_reader_skip(&r, SIGSTRUCT_OFF_ISVPRODID - r.off);
    if (rc == 0) rc = cairn_reader_u16le(&r, &prod);
    if (rc == 0) rc = cairn_reader_u16le(&r, &svn);
    if (rc != 0)
        return cairn_errf(err, rc, "SIGSTRUCT: truncated");
    if (memcmp(h1, header1, 16) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "SIGSTRUCT: HEADER (bytes 0..15) is not the SGX constant");
    if (memcmp(h2, header2, 16) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "SIGSTRUCT: HEADER2 (bytes 24..39) is not the SGX constant");
    if (vendor != 0 && vendor != 0x8086)
        return cairn_errf(err, CAIRN_ERR_INVALID, "SIGSTRUCT: VENDOR must be 0 or 0x8086, got 0x%x", vendor);
    struct sgx_package_info info;
    memset(&info, 0, sizeof(info));
    memcpy(info.mrenclave, hash, 32);
    cc_sha256(modulus, 384, info.mrsigner);
    info.isv_prod_id = prod;
    info.isv_svn = svn;
    info.attributes = flags;
    info.debug = (flags & 0x2) != 0;
    info.date = date;
    *out = info;
    return 0;
}

/* A NUL-terminated name inside the section-name table, bounded. */
static const char *section_name(const uint8_t *strtab, size_t strtab_len, uint32_t off)
{
    if (off >= strtab_len)
        return NULL;
    if (memchr(strtab + off, '\0', strtab_len - off) == NULL)
        return NULL;
    return (const char *)strtab + off;
}

int sigstruct_from_elf(const uint8_t *p, size_t len, struct sgx_package_info *out, struct cairn_error *err)
{
    if (len > SIGSTRUCT_ELF_MAX)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "ELF: larger than %u bytes", SIGSTRUCT_ELF_MAX);
    struct cairn_reader r;
    cairn_reader_init(&r, p, len);
    const uint8_t *ident;
    uint64_t shoff;
    uint16_t shentsize, shnum, shstrndx;
    int rc = cairn_reader_bytes(&r, 16, &ident);
    if (rc == 0) rc = cairn_reader_skip(&r, 0x28 - 16);
    if (rc == 0) rc = cairn_reader_u64le(&r, &shoff);
    if (rc == 0) rc = cairn_reader_skip(&r, 0x3a - 0x30);
    if (rc == 0) rc = cairn_reader_u16le(&r, &shentsize);
    if (rc == 0) rc = cairn_reader_u16le(&r, &shnum);
    if (rc == 0) rc = cairn_reader_u16le(&r, &shstrndx);
    if (rc != 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "ELF: header truncated");
    if (memcmp(ident, "\x7f" "ELF", 4) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "ELF: bad magic");
    if (ident[4] != 2 || ident[5] != 1)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "ELF: only 64-bit little-endian enclaves are supported");
    if (shentsize != 64 || shnum == 0 || shstrndx >= shnum)
        return cairn_errf(err, CAIRN_ERR_INVALID, "ELF: invalid section header table (entsize %u, count %u)",
                          shentsize, shnum);
    if (shoff > len || (len - shoff) / 64 < shnum)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "ELF: section headers beyond the end of the file");
    /* Section header i: name u32 @0, type u32 @4, offset u64 @24, size u64 @32. */
    uint64_t str_off, str_size;
    struct cairn_reader s;
    cairn_reader_init(&s, p + shoff + (size_t)shstrndx * 64, 64);
    cairn_reader_skip(&s, 24);
    cairn_reader_u64le(&s, &str_off);
    cairn_reader_u64le(&s, &str_size);
    if (str_off > len || str_size > len - str_off)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "ELF: section name table beyond the end of the file");
    const uint8_t *strtab = p + str_off;
    for (uint16_t i = 0; i < shnum; i++) {
        uint32_t name;
        uint64_t off, size;
        cairn_reader_init(&s, p + shoff + (size_t)i * 64, 64);
        cairn_reader_u32le(&s, &name);
        cairn_reader_skip(&s, 20);
        cairn_reader_u64le(&s, &off);
        cairn_reader_u64le(&s, &size);
        const char *n = section_name(strtab, (size_t)str_size, name);
        if (n == NULL || strcmp(n, ".note.sgxmeta") != 0)
            continue;
        if (off > len || size > len - off)
            return cairn_errf(err, CAIRN_ERR_TRUNCATED, "ELF: .note.sgxmeta beyond the end of the file");
        /* Note: namesz u32, descsz u32, type u32, name (padded to 4), desc. */
        struct cairn_reader nr;
        uint32_t namesz, descsz, type;
        const uint8_t *nm, *desc;
        cairn_reader_init(&nr, p + off, (size_t)size);
        rc = cairn_reader_u32le(&nr, &namesz);
        if (rc == 0) rc = cairn_reader_u32le(&nr, &descsz);
        if (rc == 0) rc = cairn_reader_u32le(&nr, &type);
        if (rc == 0 && namesz > 64)
            rc = CAIRN_ERR_INVALID;
        if (rc == 0) rc = cairn_reader_bytes(&nr, namesz, &nm);
        if (rc == 0) rc = cairn_reader_skip(&nr, (4 - namesz % 4) % 4);
        if (rc == 0) rc = cairn_reader_bytes(&nr, descsz, &desc);
        if (rc != 0)
            return cairn_errf(err, CAIRN_ERR_TRUNCATED, ".note.sgxmeta: note truncated");
        if (namesz != 13 || memcmp(nm, "sgx_metadata", 13) != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, ".note.sgxmeta: note name is not \"sgx_metadata\"");
        struct cairn_reader dr;
        uint64_t magic;
        const uint8_t *css;
        cairn_reader_init(&dr, desc, descsz);
        rc = cairn_reader_u64le(&dr, &magic);
        if (rc == 0) rc = cairn_reader_skip(&dr, SGX_METADATA_CSS_OFFSET - 8);
        if (rc == 0) rc = cairn_reader_bytes(&dr, SIGSTRUCT_SIZE, &css);
        if (rc != 0)
            return cairn_errf(err, CAIRN_ERR_TRUNCATED, ".note.sgxmeta: metadata shorter than its SIGSTRUCT");
        if (magic != SGX_METADATA_MAGIC)
            return cairn_errf(err, CAIRN_ERR_INVALID, ".note.sgxmeta: bad metadata magic");
        return sigstruct_parse(css, SIGSTRUCT_SIZE, out, err);
    }
    return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "ELF: no .note.sgxmeta section (not a signed SGX enclave)");
}

int sigstruct_from_file_bytes(const uint8_t *p, size_t len, struct sgx_package_info *out, const char **out_kind,
                              struct cairn_error *err)
{
    if (len >= 4 && memcmp(p, "\x7f" "ELF", 4) == 0) {
        int rc = sigstruct_from_elf(p, len, out, err);
        if (rc == 0 && out_kind)
            *out_kind = "SGX enclave ELF (.note.sgxmeta)";
        return rc;
    }
    int rc = sigstruct_parse(p, len, out, err);
    if (rc == 0 && out_kind)
        *out_kind = "SGX SIGSTRUCT (Gramine .sig)";
    return rc;
}
