/* Enclave package identity from an SGX SIGSTRUCT (Intel SDM vol. 3D, 38.13):
 * a Gramine .sig file is the bare 1808-byte SIGSTRUCT; an SGX-SDK/Occlum
 * enclave ELF carries it inside the "sgx_metadata" note of section
 * .note.sgxmeta (metadata_t: the SIGSTRUCT starts 64 bytes into the note
 * descriptor, after magic, version, sizes, enclave size and attributes).
 * Pure parsers over untrusted bytes (bounded reader, exact lengths, output
 * only on success); fuzzed in tests/unit/cli. */
#ifndef CAIRN_CLI_SIGSTRUCT_H
#define CAIRN_CLI_SIGSTRUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define SIGSTRUCT_SIZE 1808
#define SIGSTRUCT_OFF_VENDOR 16
#define SIGSTRUCT_OFF_DATE 20
#define SIGSTRUCT_OFF_HEADER2 24
#define SIGSTRUCT_OFF_MODULUS 128    /* 384 bytes, little-endian */
#define SIGSTRUCT_OFF_EXPONENT 512
#define SIGSTRUCT_OFF_MISCSELECT 900
#define SIGSTRUCT_OFF_ATTRIBUTES 928 /* 16 bytes: flags u64, xfrm u64 */
#define SIGSTRUCT_OFF_ATTRMASK 944
#define SIGSTRUCT_OFF_ENCLAVEHASH 960 /* MRENCLAVE, 32 bytes */
#define SIGSTRUCT_OFF_ISVPRODID 1024  /* u16 LE */
#define SIGSTRUCT_OFF_ISVSVN 1026     /* u16 LE */
#define SGX_METADATA_MAGIC 0x86A80294635D0E4CULL
#define SGX_METADATA_CSS_OFFSET 64
#define SIGSTRUCT_ELF_MAX (512u * 1024 * 1024)

struct sgx_package_info {
    uint8_t mrenclave[32];      /* UniqueID */
    uint8_t mrsigner[32];       /* SignerID = SHA-256 of the modulus as stored */
    uint16_t isv_prod_id;       /* ProductID */
    uint16_t isv_svn;           /* SecurityVersion */
    uint64_t attributes;        /* SECS attribute flags the enclave is signed for */
    bool debug;                 /* attributes bit 1 (DEBUG) */
    uint32_t date;              /* BCD yyyymmdd */
};

/* Parses exactly SIGSTRUCT_SIZE bytes; checks both fixed headers. */
int sigstruct_parse(const uint8_t *p, size_t len, struct sgx_package_info *out, struct cairn_error *err);
/* Finds the SIGSTRUCT in a 64-bit little-endian ELF's .note.sgxmeta. */
int sigstruct_from_elf(const uint8_t *p, size_t len, struct sgx_package_info *out, struct cairn_error *err);
/* Dispatches on the content: ELF magic -> sigstruct_from_elf, else sigstruct_parse. */
int sigstruct_from_file_bytes(const uint8_t *p, size_t len, struct sgx_package_info *out, const char **out_kind,
                              struct cairn_error *err);

#endif
