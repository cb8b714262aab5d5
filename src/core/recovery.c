/* Recovery (inventory §5): the DEK encrypted to the manifest's RecoveryKeys
 * (one key, XOR shares, Shamir shares) and the recover flow of state 1.
 *
 * Beside the sealed state the Coordinator keeps "recovery_data", public JSON
 * written after each commit that changed the DEK:
 *   {"format":"cairn-recovery-1","mode":"single"|"xor"|"shamir","threshold":t,
 *    "keys":{name:{"pem":<RSA PUBLIC KEY PEM>,"share":hex(SHA-256(share))}}}
 * (MarbleRun keeps the share hashes unencrypted in sealed_data for the same
 * purpose.) It lets state 1 tell, for each uploaded secret, which key it
 * belongs to and check its signature at once, so a wrong or unsigned secret is
 * refused before it is collected. It is not trusted: once the shares open the
 * sealed state, the signatures are checked again against the RecoveryKeys of
 * the sealed manifest itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/encoding.h"
#include "common/log.h"
#include "core/core_internal.h"
#include "core/governance.h"
#include "crypto/crypto.h"
#include "crypto/shamir.h"

#define RECOVERY_FORMAT "cairn-recovery-1"
#define RECOVERY_NAME "recovery_data"
#define RECOVERY_MAX_DATA (1024 * 1024)
#define RECOVERY_MAX_KEYS 255

struct gov_share {
    char *key;              /* recovery key name */
    uint8_t secret[33];
    size_t len;
};

struct gov_recovery {
    EVP_PKEY *eph;          /* ephemeral RSA-4096 for encrypted uploads */
    struct gov_share got[RECOVERY_MAX_KEYS];
    size_t n;
    int slot;               /* the key set of the collected secrets: 0 current, 1 previous */
};

static json_t *load_meta_quiet(struct core *c);

static void share_clear(struct gov_share *s)
{
    free(s->key);
    cc_wipe(s, sizeof(*s));
}

void gov_recovery_free(struct gov_recovery *r)
{
    if (r == NULL)
        return;
    EVP_PKEY_free(r->eph);
    for (size_t i = 0; i < r->n; i++)
        share_clear(&r->got[i]);
    cc_wipe(r, sizeof(*r));
    free(r);
}

static void hex32(const uint8_t h[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static const char *mode_of(const struct manifest *m)
{
    if (m->n_recovery_keys <= 1)
        return "single";
    uint64_t t = m->config.recovery_threshold;
    return (t == 0 || t == m->n_recovery_keys) ? "xor" : "shamir";
}

int gov_recovery_secrets(const struct manifest *m, uint8_t dek[32], json_t **out, json_t **meta,
                         struct cairn_error *err)
{
    if (cc_random(dek, 32) != 0)
        return cairn_errf(err, CAIRN_ERR_CRYPTO, "no randomness");
    size_t n = m->n_recovery_keys;
    if (n == 0) {
        *out = json_null();
        *meta = NULL;
        return 0;
    }
    if (n > RECOVERY_MAX_KEYS)
        return cairn_errf(err, CAIRN_ERR_INVALID, "RecoveryKeys: at most %d keys", RECOVERY_MAX_KEYS);
    const char *mode = mode_of(m);
    uint8_t *shares = NULL;
    size_t share_len = 32;
    uint64_t threshold = n;
    int rc = 0;
    if (strcmp(mode, "single") == 0) {
        shares = malloc(32);
        if (shares != NULL)
            memcpy(shares, dek, 32);
        else
            rc = CAIRN_ERR_NOMEM;
        threshold = 1;
    } else if (strcmp(mode, "xor") == 0) {
        rc = cc_xor_split(dek, 32, (unsigned)n, &shares);
    } else {
        threshold = m->config.recovery_threshold;
        rc = cc_shamir_split(dek, 32, (unsigned)n, (unsigned)threshold, &shares, &share_len);
    }
    if (rc != 0)
        return cairn_errf(err, rc, "splitting the data key for %zu recovery keys failed", n);
    json_t *o = json_object(), *keys = json_object();
    json_t *md = json_pack("{s:s, s:s, s:I, s:o}", "format", RECOVERY_FORMAT, "mode", mode, "threshold",
                           (json_int_t)threshold, "keys", keys);
    if (o == NULL || md == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const uint8_t *share = shares + i * share_len;
        EVP_PKEY *pub = NULL;
        uint8_t *ct = NULL;
        size_t ct_len = 0;
        rc = manifest_recovery_key(&m->recovery_keys[i], &pub, err);
        if (rc == 0 && cc_rsa_oaep_encrypt(pub, share, share_len, &ct, &ct_len) != 0)
            rc = cairn_errf(err, CAIRN_ERR_CRYPTO, "encrypting the recovery secret for %s failed",
                            m->recovery_keys[i].name);
        char *b = rc == 0 ? cairn_base64_encode(ct, ct_len) : NULL;
        uint8_t h[32];
        char hx[65];
        cc_sha256(share, share_len, h);
        hex32(h, hx);
        if (rc == 0 && (b == NULL || json_object_set_new(o, m->recovery_keys[i].name, json_string(b)) != 0 ||
                        json_object_set_new(keys, m->recovery_keys[i].name,
                                            json_pack("{s:s, s:s}", "pem", m->recovery_keys[i].pem, "share", hx)) != 0))
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        free(b);
        free(ct);
        EVP_PKEY_free(pub);
    }
    cc_free_secret(shares, share_len * n);
    if (rc != 0) {
        json_decref(o);
        json_decref(md);
        cc_wipe(dek, 32);
        return rc;
    }
    *out = o;
    *meta = md;
    return 0;
}

void gov_recovery_data_save(struct core *c, const json_t *meta)
{
    if (c->store == NULL)
        return;
    struct cairn_error e = {0};
    if (meta == NULL) {
        if (store_del(c->store, RECOVERY_NAME, &e) != 0)
            LOG_WARN("cannot remove the recovery data: %s", cairn_error_msg(&e));
        return;
    }
    char *s = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    if (s == NULL ||
        store_put(c->store, RECOVERY_NAME, (const uint8_t *)s, strlen(s), store_version(c->store, RECOVERY_NAME),
                  NULL, &e) != 0)
        LOG_WARN("cannot write the recovery data beside the sealed state: %s; recovery from state 1 will not be "
                 "possible until the next manifest change",
                 s == NULL ? "out of memory" : cairn_error_msg(&e));
    free(s);
}

bool gov_recovery_keys_equal(const struct manifest *a, const struct manifest *b)
{
    if (a->n_recovery_keys != b->n_recovery_keys || strcmp(mode_of(a), mode_of(b)) != 0 ||
        (strcmp(mode_of(a), "shamir") == 0 && a->config.recovery_threshold != b->config.recovery_threshold))
        return false;
    for (size_t i = 0; i < a->n_recovery_keys; i++)   /* both sorted by name */
        if (strcmp(a->recovery_keys[i].name, b->recovery_keys[i].name) != 0 ||
            strcmp(a->recovery_keys[i].pem, b->recovery_keys[i].pem) != 0)
            return false;
    return true;
}

static struct gov_recovery *progress(struct core *c)
{
    if (c->recovery == NULL)
        c->recovery = calloc(1, sizeof(*c->recovery));
    return c->recovery;
}

int gov_recover_public_key(struct core *c, uint8_t **out_der, size_t *out_len, struct cairn_error *err)
{
    core_admin_lock(c);
    int rc = 0;
    struct gov_recovery *r = NULL;
    if (core_get_state(c) != CORE_STATE_RECOVERY)
        rc = cairn_errf(err, CAIRN_ERR_STATE, "server is not in expected state");
    else if ((r = progress(c)) == NULL)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
    if (rc == 0 && r->eph == NULL)
        rc = cc_key_generate(CC_KEY_RSA, 4096, &r->eph, err);
    if (rc == 0 && cc_pubkey_to_spki_der(r->eph, out_der, out_len) != 0)
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "encoding the ephemeral key failed");
    core_admin_unlock(c);
    return rc;
}

static bool is_hex64(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* One key set {mode, threshold, keys} of the recovery data. */
static int check_set(const json_t *set, const char *where, struct cairn_error *err)
{
    const json_t *mode = json_object_get(set, "mode"), *t = json_object_get(set, "threshold"),
                 *keys = json_object_get(set, "keys");
    size_t n = json_object_size(keys);
    json_int_t th = json_is_integer(t) ? json_integer_value(t) : -1;
    const char *ms = json_string_value(mode);
    if (!json_is_object(set))
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: %s: expected an object", RECOVERY_NAME, where);
    if (!json_is_object(keys) || n == 0 || n > RECOVERY_MAX_KEYS)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: %skeys: expected 1..%d entries", RECOVERY_NAME, where,
                          RECOVERY_MAX_KEYS);
    if (ms == NULL || !((strcmp(ms, "single") == 0 && n == 1 && th == 1) ||
                        (strcmp(ms, "xor") == 0 && n >= 2 && th == (json_int_t)n) ||
                        (strcmp(ms, "shamir") == 0 && th >= 2 && th < (json_int_t)n)))
        return cairn_errf(err, CAIRN_ERR_INVALID,
                          "%s: %smode/threshold: expected single (1 key, 1), xor (n keys, n) or shamir (2 <= t < n)",
                          RECOVERY_NAME, where);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)keys, k, v) {
        const json_t *pem = json_object_get(v, "pem"), *sh = json_object_get(v, "share");
        if (!json_is_string(pem) || !is_hex64(json_string_value(sh)))
            return cairn_errf(err, CAIRN_ERR_INVALID, "%s: %skeys.%s: expected {\"pem\": string, \"share\": 64 hex}",
                              RECOVERY_NAME, where, k);
    }
    return 0;
}

int gov_recovery_meta_parse(const uint8_t *data, size_t len, json_t **out, struct cairn_error *err)
{
    if (len > RECOVERY_MAX_DATA)
        return cairn_errf(err, CAIRN_ERR_TOO_LARGE, "%s: larger than %d bytes", RECOVERY_NAME, RECOVERY_MAX_DATA);
    json_error_t je;
    json_t *m = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
    if (m == NULL)
        return cairn_errf(err, CAIRN_ERR_INVALID, "%s: invalid JSON: %s", RECOVERY_NAME, je.text);
    const json_t *f = json_object_get(m, "format"), *prev = json_object_get(m, "previous");
    int rc = 0;
    if (!json_is_string(f) || strcmp(json_string_value(f), RECOVERY_FORMAT) != 0)
        rc = cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "%s: format: expected %s", RECOVERY_NAME, RECOVERY_FORMAT);
    if (rc == 0)
        rc = check_set(m, "", err);
    if (rc == 0 && prev != NULL)
        rc = check_set(prev, "previous.", err);
    if (rc != 0) {
        json_decref(m);
        return rc;
    }
    *out = m;
    return 0;
}

void gov_recovery_data_stage(struct core *c, const json_t *meta)
{
    if (c->store == NULL || meta == NULL)
        return;
    json_t *staged = json_deep_copy(meta);
    struct cairn_error e = {0};
    json_t *cur = load_meta_quiet(c);
    if (staged != NULL && cur != NULL) {
        json_t *prev = json_pack("{s:O, s:O, s:O}", "mode", json_object_get(cur, "mode"), "threshold",
                                 json_object_get(cur, "threshold"), "keys", json_object_get(cur, "keys"));
        if (prev == NULL || json_object_set_new(staged, "previous", prev) != 0) {
            json_decref(staged);
            staged = NULL;
        }
    }
    char *s = staged != NULL ? json_dumps(staged, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (s == NULL ||
        store_put(c->store, RECOVERY_NAME, (const uint8_t *)s, strlen(s), store_version(c->store, RECOVERY_NAME),
                  NULL, &e) != 0)
        LOG_WARN("cannot stage the recovery data beside the sealed state: %s",
                 s == NULL ? "out of memory" : cairn_error_msg(&e));
    free(s);
    json_decref(staged);
    json_decref(cur);
}

/* The recovery data beside the sealed state. NULL when absent (err code 0)
 * or malformed (err set). */
static json_t *load_meta(struct core *c, struct cairn_error *err)
{
    uint8_t *d = NULL;
    size_t n = 0;
    if (c->store == NULL || store_get(c->store, RECOVERY_NAME, &d, &n, NULL, NULL) != 0)
        return NULL;
    json_t *m = NULL;
    gov_recovery_meta_parse(d, n, &m, err);
    free(d);
    return m;
}

static json_t *load_meta_quiet(struct core *c)
{
    return load_meta(c, NULL);
}

static int verify_sig(const char *pem, const uint8_t *msg, size_t len, const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY *pub = NULL;
    int rc = cc_pubkey_from_pem(pem, strlen(pem), &pub, NULL);
    if (rc == 0)
        rc = EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA ? cc_verify(pub, "SHA256", msg, len, sig, sig_len)
                                                       : CAIRN_ERR_VERIFY;
    EVP_PKEY_free(pub);
    return rc;
}

/* The sealed manifest's own RecoveryKeys must be the ones that signed: each
 * provided share's key (by name) with the same PEM, and as many distinct keys
 * as its mode needs (all for single/XOR, exactly the threshold for Shamir). */
static int check_loaded(const struct core_snap *s, const json_t *meta, const struct gov_recovery *r,
                        struct cairn_error *err)
{
    const struct manifest *m = s->manifest;
    if (m == NULL || m->n_recovery_keys == 0)
        return cairn_errf(err, CAIRN_ERR_VERIFY, "the recovered state's manifest has no RecoveryKeys");
    size_t need = strcmp(mode_of(m), "shamir") == 0 ? m->config.recovery_threshold : m->n_recovery_keys;
    if (r->n != need)
        return cairn_errf(err, CAIRN_ERR_VERIFY,
                          "the recovered state's manifest needs %zu recovery secrets (%s), %zu were provided", need,
                          mode_of(m), r->n);
    for (size_t i = 0; i < r->n; i++) {
        const struct manifest_recovery_key *k = NULL;
        for (size_t j = 0; j < m->n_recovery_keys; j++)
            if (strcmp(m->recovery_keys[j].name, r->got[i].key) == 0)
                k = &m->recovery_keys[j];
        const json_t *mk = json_object_get(json_object_get(meta, "keys"), r->got[i].key);
        if (k == NULL || strcmp(k->pem, json_string_value(json_object_get(mk, "pem"))) != 0)
            return cairn_errf(err, CAIRN_ERR_VERIFY,
                              "recovery key \"%s\" that signed a secret is not a RecoveryKey of the recovered manifest",
                              r->got[i].key);
    }
    return 0;
}

/* Opens the state with `dek`, runs `check` (if meta given) and installs it. */
static int finish(struct core *c, struct core_snap *cur, const uint8_t dek[32], const json_t *meta,
                  const struct gov_recovery *r, const uint8_t *single_secret, size_t single_len, const uint8_t *sig,
                  size_t sig_len, struct cairn_error *err)
{
    struct core_snap *loaded = NULL;
    json_t *acts = NULL, *log = NULL;
    int rc = core_load_with_dek(c, dek, &loaded, &acts, &log, err);
    if (rc == CAIRN_ERR_VERIFY)
        return cairn_errf(err, CAIRN_ERR_VERIFY,
                          "the recovery secrets do not open the sealed state (wrong secrets, or secrets of another "
                          "state)");
    if (rc != 0)
        return cairn_err_prefix(err, "loading the recovered state");
    if (meta != NULL) {
        rc = check_loaded(loaded, meta, r, err);
    } else {
        /* no recovery data: the secret opened the state; one of the sealed
         * manifest's RecoveryKeys must have signed it */
        rc = CAIRN_ERR_VERIFY;
        for (size_t i = 0; loaded->manifest != NULL && i < loaded->manifest->n_recovery_keys && rc != 0; i++)
            rc = verify_sig(loaded->manifest->recovery_keys[i].pem, single_secret, single_len, sig, sig_len);
        if (rc != 0)
            cairn_errf(err, CAIRN_ERR_VERIFY,
                       "recovery secret signature does not verify with any RecoveryKey of the recovered manifest");
    }
    if (rc != 0) {
        core_snap_put(loaded);
        json_decref(acts);
        json_decref(log);
        return rc;
    }
    /* reseal with the local key: the recovered DEK is handed over as new */
    rc = core_commit_all(c, cur, loaded, dek, acts, log, err);
    json_decref(acts);
    json_decref(log);
    return rc;
}

int gov_recover(struct core *c, const uint8_t *secret, size_t secret_len, const uint8_t *sig, size_t sig_len,
                int *remaining, char **message, struct cairn_error *err)
{
    core_admin_lock(c);
    struct core_snap *cur = core_snap_get(c);
    struct gov_recovery *r = NULL;
    json_t *meta = NULL;
    uint8_t plain[33], dek[32];
    size_t plen = 0;
    bool added = false;
    int rc = 0;
    if (cur->state != CORE_STATE_RECOVERY) {
        rc = cairn_errf(err, CAIRN_ERR_STATE, "server is not in expected state");
        goto out;
    }
    if ((r = progress(c)) == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (secret_len == 16 || secret_len == 32 || secret_len == 33) {
        memcpy(plain, secret, secret_len);
        plen = secret_len;
    } else {
        /* encrypted to the ephemeral key of GET /recover/public-key */
        uint8_t *pt = NULL;
        size_t pl = 0;
        if (r->eph == NULL || cc_rsa_oaep_decrypt(r->eph, secret, secret_len, &pt, &pl) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID,
                            "decrypting the recovery secret failed: it is not 16, 32 or 33 bytes, nor RSA-OAEP "
                            "encrypted to the current ephemeral key (GET /api/v2/recover/public-key)");
            goto out;
        }
        if (pl != 16 && pl != 32 && pl != 33) {
            cc_free_secret(pt, pl);
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "the decrypted recovery secret is %zu bytes, expected 32 or 33",
                            pl);
            goto out;
        }
        memcpy(plain, pt, pl);
        plen = pl;
        cc_free_secret(pt, pl);
    }
    struct cairn_error me = {0};
    meta = load_meta(c, &me);
    if (meta == NULL) {
        if (me.code != 0 || plen != 32) {
            rc = cairn_errf(err, CAIRN_ERR_STATE, "no usable recovery data beside the sealed state%s%s",
                            me.code ? ": " : "", me.code ? me.msg : "");
            goto out;
        }
        /* MarbleRun's single-party path: the secret is the data key itself */
        rc = finish(c, cur, plain, NULL, r, plain, plen, sig, sig_len, err);
        if (rc == 0)
            goto done;
        goto out;
    }
    uint8_t h[32];
    char hx[65];
    cc_sha256(plain, plen, h);
    hex32(h, hx);
    /* the current key set, or the previous one when a crash came between
     * staging the recovery data and the commit that changed the data key */
    const char *kname = NULL;
    const json_t *set = NULL;
    int slot = -1;
    for (int si = 0; si < 2 && kname == NULL; si++) {
        const json_t *cand = si == 0 ? meta : json_object_get(meta, "previous");
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(cand, "keys"), k, v) {
            const json_t *sh = json_object_get(v, "share");
            if (json_is_string(sh) && strcmp(json_string_value(sh), hx) == 0) {
                kname = k;
                set = cand;
                slot = si;
            }
        }
    }
    if (kname != NULL && r->n > 0 && slot != r->slot) {
        rc = cairn_errf(err, CAIRN_ERR_INVALID,
                        "the recovery secret of key \"%s\" belongs to another RecoveryKeys set than the secrets "
                        "already uploaded",
                        kname);
        goto out;
    }
    if (kname == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "the recovery secret belongs to none of the RecoveryKeys of the sealed state");
        goto out;
    }
    const json_t *pem = json_object_get(json_object_get(json_object_get(set, "keys"), kname), "pem");
    if (!json_is_string(pem) || verify_sig(json_string_value(pem), plain, plen, sig, sig_len) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_VERIFY,
                        "recovery secret signature does not verify with recovery key \"%s\" (expected RSA PKCS#1 "
                        "v1.5 over SHA-256 of the secret)",
                        kname);
        goto out;
    }
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->got[i].key, kname) == 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "the recovery secret of key \"%s\" was already provided", kname);
            goto out;
        }
    const char *mode = json_string_value(json_object_get(set, "mode"));
    size_t need = (size_t)json_integer_value(json_object_get(set, "threshold"));
    r->slot = slot;
    if (r->n >= RECOVERY_MAX_KEYS || (r->got[r->n].key = strdup(kname)) == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(r->got[r->n].secret, plain, plen);
    r->got[r->n].len = plen;
    r->n++;
    added = true;
    if (r->n < need) {
        *remaining = (int)(need - r->n);
        if (asprintf(message, "Secret was processed successfully. Upload the next secret. Remaining secrets: %d",
                     *remaining) < 0) {
            rc = cairn_errf(err, CAIRN_ERR_NOMEM, "out of memory");
            goto out;
        }
        added = false;   /* keep it */
        LOG_INFO("recovery: secret of key %s accepted, %d remaining", kname, *remaining);
        goto out;
    }
    /* complete: rebuild the DEK */
    const uint8_t *parts[RECOVERY_MAX_KEYS];
    for (size_t i = 0; i < r->n; i++)
        parts[i] = r->got[i].secret;
    uint8_t *key = NULL;
    size_t key_len = 0;
    if (strcmp(mode, "shamir") == 0)
        rc = r->n >= 2 ? cc_shamir_combine(parts, r->n, r->got[0].len, &key, &key_len) : CAIRN_ERR_INVALID;
    else if (strcmp(mode, "xor") == 0)
        rc = cc_xor_combine(parts, r->n, r->got[0].len, &key), key_len = r->got[0].len;
    else if ((key = malloc(plen)) != NULL)
        memcpy(key, plain, plen), key_len = plen;
    else
        rc = CAIRN_ERR_NOMEM;
    if (rc != 0 || key_len != 32) {
        cc_free_secret(key, key_len);
        rc = cairn_errf(err, CAIRN_ERR_VERIFY, "combining the recovery secrets failed (mixed lengths or modes)");
        goto out;
    }
    memcpy(dek, key, 32);
    cc_free_secret(key, key_len);
    rc = finish(c, cur, dek, set, r, NULL, 0, NULL, 0, err);
    if (rc != 0)
        goto out;
done:
    /* state 3 now; progress and ephemeral key are no longer needed */
    gov_recovery_free(c->recovery);
    c->recovery = NULL;
    added = false;
    *remaining = 0;
    if ((*message = strdup("Recovery successful.")) == NULL)
        rc = CAIRN_ERR_NOMEM;   /* the state is recovered anyway */
    LOG_INFO("recovery successful: the state is resealed with this Coordinator's key");
out:
    if (added && r != NULL && r->n > 0) {   /* refused: forget the secret of this request */
        r->n--;
        share_clear(&r->got[r->n]);
    }
    cc_wipe(plain, sizeof(plain));
    cc_wipe(dek, sizeof(dek));
    json_decref(meta);
    core_snap_put(cur);
    core_admin_unlock(c);
    return rc;
}
