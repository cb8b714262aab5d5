/* Seal providers (simulation key file, Gramine SGX keys) and sealed blobs. */
#include "store/seal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/reader.h"
#include "crypto/crypto.h"

#define SEALED_KEY_MAGIC "CSK1"
#define SIM_KEY_FILE "sim_seal_key"

struct seal {
    enum seal_kind kind;
    uint8_t key[32];
};

const char *seal_kind_name(enum seal_kind k)
{
    switch (k) {
    case SEAL_SIM: return "simulation";
    case SEAL_PRODUCT: return "ProductKey";
    case SEAL_UNIQUE: return "UniqueKey";
    }
    return "unknown";
}

enum seal_kind seal_get_kind(const struct seal *s)
{
    return s->kind;
}

static int open_sim(const char *seal_dir, uint8_t key[32], struct cairn_error *err)
{
    char p[4096];
    if (seal_dir == NULL || snprintf(p, sizeof(p), "%s/%s", seal_dir, SIM_KEY_FILE) >= (int)sizeof(p))
        return cairn_errf(err, CAIRN_ERR_INVALID, "seal: invalid seal directory");
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cairn_file_read(p, 64, &data, &len);
    if (rc == 0) {
        if (len != 32) {
            cc_free_secret(data, len);
            return cairn_errf(err, CAIRN_ERR_INVALID, "seal: %s must hold 32 bytes, has %zu", p, len);
        }
        memcpy(key, data, 32);
        cc_free_secret(data, len);
        return 0;
    }
    if (rc != CAIRN_ERR_NOT_FOUND)
        return cairn_errf(err, rc, "seal: cannot read %s", p);
    if (cairn_mkdirs(seal_dir, 0700) != 0)
        return cairn_errf(err, CAIRN_ERR_IO, "seal: cannot create %s: %s", seal_dir, strerror(errno));
    uint8_t k[32];
    if (cc_random(k, sizeof(k)) != 0)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "seal: no randomness");
    rc = cairn_file_write_atomic(p, k, sizeof(k), 0600);
    if (rc != 0) {
        cc_wipe(k, sizeof(k));
        return cairn_errf(err, rc, "seal: cannot write %s", p);
    }
    memcpy(key, k, 32);
    cc_wipe(k, sizeof(k));
    return 0;
}

static int open_gramine(enum seal_kind kind, const char *gramine_dir, uint8_t key[32], struct cairn_error *err)
{
    char p[4096];
    const char *name = kind == SEAL_PRODUCT ? "_sgx_mrsigner" : "_sgx_mrenclave";
    snprintf(p, sizeof(p), "%s/keys/%s", gramine_dir != NULL ? gramine_dir : "/dev/attestation", name);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cairn_file_read(p, 64, &data, &len);
    if (rc != 0)
        return cairn_errf(err, rc, "seal: cannot read the SGX sealing key %s (not running in Gramine SGX?)", p);
    if (len != 16) {
        cc_free_secret(data, len);
        return cairn_errf(err, CAIRN_ERR_INVALID, "seal: %s must hold 16 bytes, has %zu", p, len);
    }
    /* Gramine hands out 128-bit keys; the DEK wrap wants 256 bits. */
    static const char info[] = "cairn sealed_key v1";
    rc = cc_hkdf_sha256(data, len, NULL, 0, info, sizeof(info) - 1, key, 32);
    cc_free_secret(data, len);
    return rc == 0 ? 0 : cairn_errf(err, CAIRN_ERR_CRYPTO, "seal: key derivation failed");
}

int seal_open(enum seal_kind kind, const char *seal_dir, const char *gramine_dir, struct seal **out,
              struct cairn_error *err)
{
    struct seal *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    int rc;
    if (kind == SEAL_SIM)
        rc = open_sim(seal_dir, s->key, err);
    else if (kind == SEAL_PRODUCT || kind == SEAL_UNIQUE)
        rc = open_gramine(kind, gramine_dir, s->key, err);
    else
        rc = cairn_errf(err, CAIRN_ERR_INVALID, "seal: unknown provider %d", (int)kind);
    if (rc != 0) {
        cc_free_secret(s, sizeof(*s));
        return rc;
    }
    s->kind = kind;
    *out = s;
    return 0;
}

void seal_free(struct seal *s)
{
    cc_free_secret(s, sizeof(*s));
}

int seal_wrap(const struct seal *s, const uint8_t dek[32], uint8_t **out, size_t *out_len, struct cairn_error *err)
{
    uint8_t hdr[5];
    memcpy(hdr, SEALED_KEY_MAGIC, 4);
    hdr[4] = (uint8_t)s->kind;
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    if (cc_aead_seal(s->key, hdr, sizeof(hdr), dek, 32, &ct, &ct_len) != 0)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "seal: encrypting the data key failed");
    uint8_t *b = malloc(sizeof(hdr) + ct_len);
    if (b == NULL) {
        free(ct);
        return cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    }
    memcpy(b, hdr, sizeof(hdr));
    memcpy(b + sizeof(hdr), ct, ct_len);
    free(ct);
    *out = b;
    *out_len = sizeof(hdr) + ct_len;
    return 0;
}

int seal_unwrap(const struct seal *s, const uint8_t *blob, size_t len, uint8_t dek[32], struct cairn_error *err)
{
    if (len != 5 + CC_GCM_NONCE + 32 + CC_GCM_TAG)
        return cairn_errf(err, CAIRN_ERR_INVALID, "sealed_key: expected %d bytes, got %zu",
                          5 + CC_GCM_NONCE + 32 + CC_GCM_TAG, len);
    if (memcmp(blob, SEALED_KEY_MAGIC, 4) != 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "sealed_key: bad magic (not a Cairn sealed key)");
    if (blob[4] != (uint8_t)s->kind)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "sealed_key: sealed with %s, this Coordinator unseals with %s",
                          seal_kind_name((enum seal_kind)blob[4]), seal_kind_name(s->kind));
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int rc = cc_aead_open(s->key, blob, 5, blob + 5, len - 5, &pt, &pt_len);
    if (rc != 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "sealed_key: the sealing key does not open it");
    if (pt_len != 32) {
        cc_free_secret(pt, pt_len);
        return cairn_errf(err, CAIRN_ERR_INVALID, "sealed_key: data key must be 32 bytes");
    }
    memcpy(dek, pt, 32);
    cc_free_secret(pt, pt_len);
    return 0;
}

int sealed_data_seal(const uint8_t dek[32], const uint8_t *recovery, size_t recovery_len, const uint8_t *doc,
                     size_t doc_len, uint8_t **out, size_t *out_len)
{
    if (recovery_len > UINT32_MAX)
        return CAIRN_ERR_TOO_LARGE;
    size_t hdr_len = 4 + recovery_len;
    uint8_t *hdr = malloc(hdr_len);
    if (hdr == NULL)
        return CAIRN_ERR_NOMEM;
    hdr[0] = (uint8_t)recovery_len;
    hdr[1] = (uint8_t)(recovery_len >> 8);
    hdr[2] = (uint8_t)(recovery_len >> 16);
    hdr[3] = (uint8_t)(recovery_len >> 24);
    if (recovery_len > 0)
        memcpy(hdr + 4, recovery, recovery_len);
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    int rc = cc_aead_seal(dek, hdr, hdr_len, doc, doc_len, &ct, &ct_len);
    if (rc != 0) {
        free(hdr);
        return CAIRN_ERR_CRYPTO;
    }
    uint8_t *b = malloc(hdr_len + ct_len);
    if (b == NULL) {
        free(hdr);
        free(ct);
        return CAIRN_ERR_NOMEM;
    }
    memcpy(b, hdr, hdr_len);
    memcpy(b + hdr_len, ct, ct_len);
    free(hdr);
    free(ct);
    *out = b;
    *out_len = hdr_len + ct_len;
    return 0;
}

int sealed_data_open(const uint8_t dek[32], const uint8_t *blob, size_t len, uint8_t **doc, size_t *doc_len,
                     struct cairn_error *err)
{
    struct cairn_reader r;
    cairn_reader_init(&r, blob, len);
    uint32_t rlen;
    const uint8_t *rec;
    if (cairn_reader_u32le(&r, &rlen) != 0 || cairn_reader_bytes(&r, rlen, &rec) != 0)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "sealed_data: truncated recovery data");
    size_t rest = cairn_reader_remaining(&r);
    if (rest < CC_GCM_NONCE + CC_GCM_TAG)
        return cairn_errf(err, CAIRN_ERR_TRUNCATED, "sealed_data: ciphertext shorter than nonce and tag");
    const uint8_t *ct;
    cairn_reader_bytes(&r, rest, &ct);
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    if (cc_aead_open(dek, blob, 4 + (size_t)rlen, ct, rest, &pt, &pt_len) != 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "sealed_data: authentication failed (wrong key or modified)");
    *doc = pt;
    *doc_len = pt_len;
    return 0;
}

static int try_key(struct store *st, const struct seal *s, const char *name, const uint8_t *data, size_t data_len,
                   uint8_t dek[32], uint8_t **doc, size_t *doc_len, struct cairn_error *err)
{
    uint8_t *kb = NULL;
    size_t kl = 0;
    int rc = store_get(st, name, &kb, &kl, NULL, err);
    if (rc != 0)
        return rc;
    uint8_t k[32];
    rc = seal_unwrap(s, kb, kl, k, err);
    free(kb);
    if (rc != 0)
        return rc;
    rc = sealed_data_open(k, data, data_len, doc, doc_len, err);
    if (rc == 0)
        memcpy(dek, k, 32);
    cc_wipe(k, sizeof(k));
    return rc;
}

/* Makes sealed_key.prev the current sealed_key again (atomic replace), then
 * drops the backup. A crash in between leaves two equal keys: harmless. */
static int restore_prev_key(struct store *st, struct cairn_error *err)
{
    uint8_t *kb = NULL;
    size_t kl = 0;
    int rc = store_get(st, "sealed_key.prev", &kb, &kl, NULL, err);
    if (rc != 0)
        return rc;
    rc = store_put(st, "sealed_key", kb, kl, store_version(st, "sealed_key"), NULL, err);
    free(kb);
    if (rc == 0)
        store_del(st, "sealed_key.prev", NULL);
    return rc;
}

int sealed_state_load(struct store *st, const struct seal *s, enum sealed_load_result *result, uint8_t dek[32],
                      uint8_t **doc, size_t *doc_len, struct cairn_error *err)
{
    uint8_t *data = NULL;
    size_t data_len = 0;
    int rc = store_get(st, "sealed_data", &data, &data_len, NULL, err);
    if (rc == CAIRN_ERR_NOT_FOUND) {
        *result = SEALED_LOAD_EMPTY;
        return 0;
    }
    if (rc != 0)
        return rc;
    struct cairn_error e1 = {0}, e2 = {0};
    rc = try_key(st, s, "sealed_key", data, data_len, dek, doc, doc_len, &e1);
    if (rc != 0) {
        /* an interrupted DEK change leaves the previous key beside the old data */
        int rc2 = try_key(st, s, "sealed_key.prev", data, data_len, dek, doc, doc_len, &e2);
        if (rc2 == 0) {
            /* Repair before anyone saves again: the next DEK change copies
             * sealed_key to sealed_key.prev, which must then be the key that
             * opens the data, or a second interrupted change loses both. */
            rc = restore_prev_key(st, err);
            if (rc != 0) {
                cc_free_secret(*doc, *doc_len);
                *doc = NULL;
                cc_wipe(dek, 32);
            }
        }
    }
    free(data);
    if (rc == 0) {
        *result = SEALED_LOAD_OK;
        return 0;
    }
    if (rc == CAIRN_ERR_VERIFY && strstr(e1.msg, "sealed_key:") != NULL) {
        /* the DEK is there but this TEE cannot unseal it: MarbleRun's recovery case */
        *result = SEALED_LOAD_UNSEAL_FAILED;
        return 0;
    }
    if (rc == CAIRN_ERR_NOT_FOUND)
        return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "sealed_data exists but sealed_key is missing");
    if (err != NULL)
        *err = e1;
    return rc;
}

/* True when sealed_key.prev opens the stored sealed_data. Then sealed_key is
 * the orphan of a DEK change whose data write failed or was interrupted, and
 * prev is the only key for the data: it must not be overwritten by it. */
static bool prev_opens_data(struct store *st, const struct seal *s)
{
    uint8_t *data = NULL;
    size_t data_len = 0;
    if (store_get(st, "sealed_data", &data, &data_len, NULL, NULL) != 0)
        return false;
    uint8_t k[32];
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    int rc = try_key(st, s, "sealed_key.prev", data, data_len, k, &doc, &doc_len, NULL);
    free(data);
    if (rc == 0) {
        cc_free_secret(doc, doc_len);
        cc_wipe(k, sizeof(k));
    }
    return rc == 0;
}

int sealed_state_save(struct store *st, const struct seal *s, const uint8_t dek[32], bool dek_changed,
                      const uint8_t *doc, size_t doc_len, struct cairn_error *err)
{
    int rc;
    uint64_t ver = 0;
    uint8_t *cur = NULL;
    size_t cur_len = 0;
    if (dek_changed) {
        uint8_t *kb = NULL;
        size_t kl = 0;
        rc = seal_wrap(s, dek, &kb, &kl, err);
        if (rc != 0)
            return rc;
        if (prev_opens_data(st, s)) {
            /* an earlier change did not finish: keep its backup, replace the orphan */
            ver = store_version(st, "sealed_key");
        } else if (store_get(st, "sealed_key", &cur, &cur_len, &ver, NULL) == 0) {
            rc = store_put(st, "sealed_key.prev", cur, cur_len, store_version(st, "sealed_key.prev"), NULL, err);
            free(cur);
            if (rc != 0) {
                free(kb);
                return rc;
            }
        } else {
            ver = 0;
        }
        rc = store_put(st, "sealed_key", kb, kl, ver, NULL, err);
        free(kb);
        if (rc != 0)
            return rc;
    }
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    rc = sealed_data_seal(dek, NULL, 0, doc, doc_len, &blob, &blob_len);
    if (rc != 0)
        return cairn_errf(err, rc, "sealed_data: encryption failed");
    rc = store_put(st, "sealed_data", blob, blob_len, store_version(st, "sealed_data"), NULL, err);
    free(blob);
    if (rc != 0)
        return rc;
    if (dek_changed)
        store_del(st, "sealed_key.prev", NULL);
    return 0;
}
