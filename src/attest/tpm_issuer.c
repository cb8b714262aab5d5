/* TPM issuer through tss2-esys (any TCTI): AK, quote over the report data,
 * PCR values, optional AK certificate and event log. Contract in tpm.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "attest/eventlog.h"
#include "attest/issuer.h"
#include "attest/tpm.h"
#include "common/buf.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/reader.h"

#define DEFAULT_PCRS "sha256:0-7,16"
#define ATTACH_MAX (16u << 20)

/* "sha256:0-7,16+sha1:0" */
int tpm_pcr_selection_parse(const char *s, struct tpm_pcr_select *sel, unsigned *n_sel, struct cairn_error *err)
{
    struct tpm_pcr_select out[TPM_MAX_PCR_BANKS];
    unsigned n = 0;
    const char *p = s;
    if (s == NULL || *s == 0)
        return cairn_errf(err, CAIRN_ERR_INVALID, "tpm PCR selection: empty");
    while (*p) {
        const char *colon = strchr(p, ':');
        if (colon == NULL || colon == p || colon - p > 15)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm PCR selection \"%s\": expected bank:indices", s);
        char bank[16];
        memcpy(bank, p, (size_t)(colon - p));
        bank[colon - p] = 0;
        uint16_t alg;
        if (eventlog_alg_from_name(bank, &alg) != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm PCR selection: unknown bank \"%s\"", bank);
        if (n >= TPM_MAX_PCR_BANKS)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm PCR selection: too many banks");
        for (unsigned k = 0; k < n; k++) {
            if (out[k].alg == alg)
                return cairn_errf(err, CAIRN_ERR_INVALID, "tpm PCR selection: bank %s twice", bank);
        }
        uint32_t mask = 0;
        p = colon + 1;
        for (;;) {
            char *end;
            long a = strtol(p, &end, 10), b;
            if (end == p || !isdigit((unsigned char)*p))
                return cairn_errf(err, CAIRN_ERR_INVALID, "tpm PCR selection \"%s\": expected a PCR index", s);
            b = a;
            p = end;
            if (*p == '-') {
                p++;
                b = strtol(p, &end, 10);
                if (end == p || !isdigit((unsigned char)*p))
                    return cairn_errf(err, CAIRN_ERR_INVALID, "tpm PCR selection \"%s\": bad range", s);
                p = end;
            }
            if (a < 0 || b >= TPM_PCRS || a > b)
                return cairn_errf(err, CAIRN_ERR_INVALID, "tpm PCR selection \"%s\": index out of range 0..23", s);
            for (long i = a; i <= b; i++)
                mask |= 1u << i;
            if (*p == ',') {
                p++;
                continue;
            }
            break;
        }
        out[n].alg = alg;
        out[n].mask = mask;
        n++;
        if (*p == '+')
            p++;
        else if (*p != 0)
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm PCR selection \"%s\": unexpected '%c'", s, *p);
    }
    memcpy(sel, out, n * sizeof(out[0]));
    *n_sel = n;
    return 0;
}

struct tpm_conn {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
};

static int tpm_open(const char *tcti, struct tpm_conn *c, struct cairn_error *err)
{
    memset(c, 0, sizeof(*c));
    TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti, &c->tcti);
    if (rc != TSS2_RC_SUCCESS)
        return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tpm: no TPM through TCTI \"%s\" (rc 0x%x)",
                          tcti ? tcti : "default", rc);
    rc = Esys_Initialize(&c->esys, c->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Tss2_TctiLdr_Finalize(&c->tcti);
        return cairn_errf(err, CAIRN_ERR_IO, "tpm: Esys_Initialize failed (rc 0x%x)", rc);
    }
    /* A TPM started without TPM2_Startup (e.g. swtpm without startup-clear)
     * needs one; an already started TPM answers TPM2_RC_INITIALIZE. */
    rc = Esys_Startup(c->esys, TPM2_SU_CLEAR);
    (void)rc;
    return 0;
}

static void tpm_close(struct tpm_conn *c)
{
    if (c->esys != NULL)
        Esys_Finalize(&c->esys);
    if (c->tcti != NULL)
        Tss2_TctiLdr_Finalize(&c->tcti);
}

bool tpm_probe(const struct attest_issuer_config *cfg)
{
    const char *tcti = cfg ? cfg->tpm_tcti : NULL;
    if (tcti == NULL && access("/dev/tpmrm0", R_OK | W_OK) != 0 && access("/dev/tpm0", R_OK | W_OK) != 0)
        return false;
    struct tpm_conn c;
    if (tpm_open(tcti, &c, NULL) != 0)
        return false;
    TPM2B_DIGEST *rnd = NULL;
    bool ok = Esys_GetRandom(c.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, 8, &rnd) == TSS2_RC_SUCCESS;
    Esys_Free(rnd);
    tpm_close(&c);
    return ok;
}

/* The AK template: a restricted ECC P-256 ECDSA-SHA256 signing key. Created
 * as a primary of the endorsement hierarchy it is derived from the EPS, so
 * the same TPM yields the same AK on every call and boot (the way cloud
 * vTPMs provision theirs), and an AK certificate issued once stays valid. */
static void ak_template(TPM2B_PUBLIC *t)
{
    memset(t, 0, sizeof(*t));
    t->publicArea.type = TPM2_ALG_ECC;
    t->publicArea.nameAlg = TPM2_ALG_SHA256;
    t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                     TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                     TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
    TPMS_ECC_PARMS *e = &t->publicArea.parameters.eccDetail;
    e->symmetric.algorithm = TPM2_ALG_NULL;
    e->scheme.scheme = TPM2_ALG_ECDSA;
    e->scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    e->curveID = TPM2_ECC_NIST_P256;
    e->kdf.scheme = TPM2_ALG_NULL;
}

/* An AK context file as tpm2-tools writes it (`tpm2_createak -c ak.ctx`,
 * `tpm2_evictcontrol -o`): either a saved transient context (big-endian
 * header magic 0xBADCC0DE, version 1, hierarchy u32, savedHandle u32,
 * sequence u64, contextBlob TPM2B; ESYS keeps its metadata inside the blob)
 * or a serialized ESYS_TR of a persistent object. */
static int load_ak_file(struct tpm_conn *c, const char *path, ESYS_TR *out, bool *transient, struct cairn_error *err)
{
    uint8_t *b = NULL;
    size_t n = 0;
    int frc = cairn_file_read(path, 64u << 10, &b, &n);
    if (frc != 0)
        return cairn_errf(err, frc, "tpm: cannot read the AK context file %s", path);
    struct cairn_reader rd;
    cairn_reader_init(&rd, b, n);
    uint32_t magic = 0, version = 0;
    int rc = 0;
    if (n >= 8 && cairn_reader_u32be(&rd, &magic) == 0 && magic == 0xBADCC0DEu) {
        TPMS_CONTEXT ctx;
        memset(&ctx, 0, sizeof(ctx));
        const uint8_t *blob;
        uint16_t bl;
        if (cairn_reader_u32be(&rd, &version) || version != 1 || cairn_reader_u32be(&rd, &ctx.hierarchy) ||
            cairn_reader_u32be(&rd, &ctx.savedHandle) || cairn_reader_u64be(&rd, &ctx.sequence) ||
            cairn_reader_tpm2b(&rd, &blob, &bl) || bl > sizeof(ctx.contextBlob.buffer) ||
            cairn_reader_remaining(&rd) != 0) {
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "tpm: %s is not a tpm2-tools context file (version 1)", path);
        } else {
            ctx.contextBlob.size = bl;
            memcpy(ctx.contextBlob.buffer, blob, bl);
            TSS2_RC trc = Esys_ContextLoad(c->esys, &ctx, out);
            if (trc != TSS2_RC_SUCCESS)
                rc = cairn_errf(err, CAIRN_ERR_IO, "tpm: ContextLoad of %s failed (rc 0x%x; saved contexts do not "
                                "survive a TPM reset)", path, trc);
            else
                *transient = true;
        }
    } else {
        TSS2_RC trc = Esys_TR_Deserialize(c->esys, b, n, out);
        if (trc != TSS2_RC_SUCCESS)
            rc = cairn_errf(err, CAIRN_ERR_INVALID, "tpm: %s is neither a saved context nor a serialized handle "
                            "(rc 0x%x)", path, trc);
        else
            *transient = false;
    }
    free(b);
    return rc;
}

static int load_ak(struct tpm_conn *c, const char *ctx, ESYS_TR *out, bool *transient, TPM2B_PUBLIC **pub,
                   struct cairn_error *err)
{
    TSS2_RC rc;
    if (ctx != NULL) {
        char *end;
        unsigned long h = strtoul(ctx, &end, 0);
        if (strncmp(ctx, "0x", 2) != 0 && strncmp(ctx, "0X", 2) != 0) {
            int lrc = load_ak_file(c, ctx, out, transient, err);
            if (lrc != 0)
                return lrc;
        } else {
            if (*end != 0 || (h >> 24) != TPM2_HT_PERSISTENT)
                return cairn_errf(err, CAIRN_ERR_INVALID, "tpm: AK \"%s\" is not a persistent handle 0x81xxxxxx",
                                  ctx);
            rc = Esys_TR_FromTPMPublic(c->esys, (TPM2_HANDLE)h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, out);
            if (rc != TSS2_RC_SUCCESS)
                return cairn_errf(err, CAIRN_ERR_NOT_FOUND, "tpm: AK handle %s not found (rc 0x%x)", ctx, rc);
            *transient = false;
        }
        rc = Esys_ReadPublic(c->esys, *out, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, pub, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS)
            return cairn_errf(err, CAIRN_ERR_IO, "tpm: ReadPublic of the AK failed (rc 0x%x)", rc);
        TPMA_OBJECT a = (*pub)->publicArea.objectAttributes;
        if (!(a & TPMA_OBJECT_RESTRICTED) || !(a & TPMA_OBJECT_SIGN_ENCRYPT)) {
            Esys_Free(*pub);
            *pub = NULL;
            return cairn_errf(err, CAIRN_ERR_INVALID, "tpm: key %s is not a restricted signing key", ctx);
        }
        return 0;
    }
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_PUBLIC tmpl;
    ak_template(&tmpl);
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION none = {0};
    rc = Esys_CreatePrimary(c->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                            &tmpl, &outside, &none, out, pub, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS)
        return cairn_errf(err, CAIRN_ERR_IO, "tpm: CreatePrimary of the AK failed (rc 0x%x)", rc);
    *transient = true;
    return 0;
}

static int read_pcrs(struct tpm_conn *c, const TPML_PCR_SELECTION *want, struct tpm_pcr_values *v,
                     struct cairn_error *err)
{
    memset(v, 0, sizeof(*v));
    TPML_PCR_SELECTION left = *want;
    /* PCR_Read returns at most 8 digests per call and clears what it read
     * from the selection it echoes; loop until nothing is left. */
    for (int round = 0; round < 32; round++) {
        bool any = false;
        for (UINT32 i = 0; i < left.count; i++) {
            for (int b = 0; b < left.pcrSelections[i].sizeofSelect; b++)
                any = any || left.pcrSelections[i].pcrSelect[b] != 0;
        }
        if (!any)
            return 0;
        UINT32 counter;
        TPML_PCR_SELECTION *got = NULL;
        TPML_DIGEST *vals = NULL;
        TSS2_RC rc = Esys_PCR_Read(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &left, &counter, &got, &vals);
        if (rc != TSS2_RC_SUCCESS)
            return cairn_errf(err, CAIRN_ERR_IO, "tpm: PCR_Read failed (rc 0x%x)", rc);
        UINT32 k = 0;
        bool progress = false;
        for (UINT32 i = 0; i < got->count; i++) {
            uint16_t alg = got->pcrSelections[i].hash;
            int slot = -1;
            for (unsigned s = 0; s < v->n_banks; s++) {
                if (v->bank[s].alg == alg)
                    slot = (int)s;
            }
            if (slot < 0 && v->n_banks < TPM_MAX_PCR_BANKS) {
                slot = (int)v->n_banks++;
                v->bank[slot].alg = alg;
            }
            for (unsigned pcr = 0; pcr < TPM_PCRS; pcr++) {
                if (!(got->pcrSelections[i].pcrSelect[pcr / 8] & (1u << (pcr % 8))))
                    continue;
                if (k >= vals->count || slot < 0 || vals->digests[k].size != eventlog_alg_size(alg)) {
                    Esys_Free(got);
                    Esys_Free(vals);
                    return cairn_errf(err, CAIRN_ERR_PROTOCOL, "tpm: PCR_Read answer is inconsistent");
                }
                memcpy(v->bank[slot].v[pcr], vals->digests[k].buffer, vals->digests[k].size);
                v->bank[slot].present |= 1u << pcr;
                k++;
                progress = true;
                for (UINT32 j = 0; j < left.count; j++) {
                    if (left.pcrSelections[j].hash == alg)
                        left.pcrSelections[j].pcrSelect[pcr / 8] &= (uint8_t)~(1u << (pcr % 8));
                }
            }
        }
        Esys_Free(got);
        Esys_Free(vals);
        if (!progress)
            return cairn_errf(err, CAIRN_ERR_UNSUPPORTED, "tpm: the TPM has no such PCR bank or index selected");
    }
    return cairn_errf(err, CAIRN_ERR_PROTOCOL, "tpm: PCR_Read does not converge");
}

static int pcrs_json(const struct tpm_pcr_values *v, uint8_t **out, size_t *out_len)
{
    json_t *root = json_object(), *pcrs = json_object();
    int rc = (root && pcrs) ? 0 : CAIRN_ERR_NOMEM;
    for (unsigned b = 0; rc == 0 && b < v->n_banks; b++) {
        json_t *bank = json_object();
        for (unsigned i = 0; bank && i < TPM_PCRS; i++) {
            if (!(v->bank[b].present & (1u << i)))
                continue;
            char k[4];
            snprintf(k, sizeof(k), "%u", i);
            char *h = cairn_hex_encode(v->bank[b].v[i], eventlog_alg_size(v->bank[b].alg));
            if (h == NULL || json_object_set_new(bank, k, json_string(h)) != 0)
                rc = CAIRN_ERR_NOMEM;
            free(h);
        }
        const char *name = eventlog_alg_name(v->bank[b].alg);
        if (bank == NULL || name == NULL || json_object_set_new(pcrs, name, bank) != 0)
            rc = CAIRN_ERR_NOMEM;
    }
    if (rc == 0 && json_object_set_new(root, "pcrs", pcrs) == 0) {
        pcrs = NULL;
        char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
        if (s == NULL) {
            rc = CAIRN_ERR_NOMEM;
        } else {
            *out = (uint8_t *)s;
            *out_len = strlen(s);
        }
    }
    json_decref(pcrs);
    json_decref(root);
    return rc;
}

/* Same digest as the verifier: H_sig(selected values in selection order). */
static bool digest_matches(const TPM2B_ATTEST *q, const struct tpm_pcr_values *v)
{
    struct tpm_attest a;
    if (tpm_attest_parse(q->attestationData, q->size, &a, NULL) != 0)
        return false;
    const EVP_MD *md = a.pcr_digest_len == 32 ? EVP_sha256() : a.pcr_digest_len == 48 ? EVP_sha384()
                       : a.pcr_digest_len == 20 ? EVP_sha1() : a.pcr_digest_len == 64 ? EVP_sha512() : NULL;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (md == NULL || c == NULL || EVP_DigestInit_ex(c, md, NULL) != 1) {
        EVP_MD_CTX_free(c);
        return false;
    }
    for (unsigned s = 0; s < a.n_sel; s++) {
        unsigned b;
        for (b = 0; b < v->n_banks && v->bank[b].alg != a.sel[s].alg; b++)
            ;
        for (unsigned i = 0; i < TPM_PCRS; i++) {
            if (a.sel[s].mask & (1u << i)) {
                if (b == v->n_banks || !(v->bank[b].present & (1u << i))) {
                    EVP_MD_CTX_free(c);
                    return false;
                }
                EVP_DigestUpdate(c, v->bank[b].v[i], eventlog_alg_size(a.sel[s].alg));
            }
        }
    }
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    bool ok = EVP_DigestFinal_ex(c, d, &dl) == 1 && dl == a.pcr_digest_len && memcmp(d, a.pcr_digest, dl) == 0;
    EVP_MD_CTX_free(c);
    return ok;
}

static int attach_file(const char *path, const char *what, uint8_t **out, size_t *out_len, struct cairn_error *err)
{
    if (path == NULL)
        return 0;
    int rc = cairn_file_read(path, ATTACH_MAX, out, out_len);
    if (rc != 0)
        return cairn_errf(err, rc, "tpm issuer: cannot read the %s file %s", what, path);
    return 0;
}

int tpm_issue(const uint8_t report_data[64], const struct attest_issuer_config *cfg, struct attest_issued *out,
              struct cairn_error *err)
{
    struct tpm_pcr_select sel[TPM_MAX_PCR_BANKS];
    unsigned n_sel = 0;
    int rc = tpm_pcr_selection_parse(cfg && cfg->tpm_pcrs ? cfg->tpm_pcrs : DEFAULT_PCRS, sel, &n_sel, err);
    if (rc != 0)
        return rc;
    TPML_PCR_SELECTION tsel = {.count = n_sel};
    for (unsigned i = 0; i < n_sel; i++) {
        tsel.pcrSelections[i].hash = sel[i].alg;
        tsel.pcrSelections[i].sizeofSelect = 3;
        tsel.pcrSelections[i].pcrSelect[0] = (uint8_t)sel[i].mask;
        tsel.pcrSelections[i].pcrSelect[1] = (uint8_t)(sel[i].mask >> 8);
        tsel.pcrSelections[i].pcrSelect[2] = (uint8_t)(sel[i].mask >> 16);
    }
    struct attest_issued o = {.type = ATTEST_TPM};
    struct tpm_conn c;
    if ((rc = tpm_open(cfg ? cfg->tpm_tcti : NULL, &c, err)) != 0)
        return rc;
    ESYS_TR ak = ESYS_TR_NONE;
    bool transient = false;
    TPM2B_PUBLIC *pub = NULL;
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *sig = NULL;
    struct tpm_pcr_values *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "tpm issuer: out of memory");
        goto out;
    }
    if ((rc = load_ak(&c, cfg ? cfg->tpm_ak_context : NULL, &ak, &transient, &pub, err)) != 0)
        goto out;
    TPM2B_DATA qd = {.size = 32};
    memcpy(qd.buffer, report_data, 32);
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
    /* A PCR may be extended between the quote and the read: retry then. */
    bool consistent = false;
    for (int attempt = 0; attempt < 3 && !consistent; attempt++) {
        Esys_Free(quoted);
        Esys_Free(sig);
        quoted = NULL;
        sig = NULL;
        TSS2_RC trc = Esys_Quote(c.esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qd, &scheme, &tsel,
                                 &quoted, &sig);
        if (trc != TSS2_RC_SUCCESS) {
            rc = cairn_errf(err, CAIRN_ERR_IO, "tpm: Quote failed (rc 0x%x)", trc);
            goto out;
        }
        if ((rc = read_pcrs(&c, &tsel, v, err)) != 0)
            goto out;
        consistent = digest_matches(quoted, v);
    }
    if (!consistent) {
        rc = cairn_errf(err, CAIRN_ERR_CONFLICT, "tpm: PCRs kept changing during the quote");
        goto out;
    }
    /* marshal */
    uint8_t buf[4096];
    size_t off = 0;
    o.quote = malloc(quoted->size);
    if (o.quote == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "tpm issuer: out of memory");
        goto out;
    }
    memcpy(o.quote, quoted->attestationData, quoted->size);
    o.quote_len = quoted->size;
    if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS ||
        (o.signature = malloc(off)) == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_INTERNAL, "tpm issuer: cannot marshal the signature");
        goto out;
    }
    memcpy(o.signature, buf, off);
    o.signature_len = off;
    off = 0;
    if (Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS ||
        (o.ak_pub = malloc(off)) == NULL) {
        rc = cairn_errf(err, CAIRN_ERR_INTERNAL, "tpm issuer: cannot marshal the AK public area");
        goto out;
    }
    memcpy(o.ak_pub, buf, off);
    o.ak_pub_len = off;
    if (pcrs_json(v, &o.pcrs, &o.pcrs_len) != 0) {
        rc = cairn_errf(err, CAIRN_ERR_NOMEM, "tpm issuer: out of memory");
        goto out;
    }
    size_t cl = 0;
    uint8_t *cert = NULL;
    if ((rc = attach_file(cfg ? cfg->tpm_ak_cert : NULL, "AK certificate", &cert, &cl, err)) != 0)
        goto out;
    o.certs = (char *)cert; /* NUL-terminated by cairn_file_read */
    if ((rc = attach_file(cfg ? cfg->tpm_eventlog : NULL, "event log", &o.eventlog, &o.eventlog_len, err)) != 0)
        goto out;
    if ((rc = attach_file(cfg ? cfg->tpm_pcr_signature : NULL, "PCR signature", &o.pcr_signature,
                          &o.pcr_signature_len, err)) != 0)
        goto out;
    *out = o;
    memset(&o, 0, sizeof(o));
out:
    attest_issued_free(&o);
    Esys_Free(quoted);
    Esys_Free(sig);
    Esys_Free(pub);
    free(v);
    if (transient && ak != ESYS_TR_NONE)
        Esys_FlushContext(c.esys, ak);
    tpm_close(&c);
    return rc;
}
