/* Simulated marble identity + activation request (see marble_sim.h). */
#include "marble_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/issuer.h"
#include "common/encoding.h"
#include "crypto/crypto.h"

static int self_signed(EVP_PKEY *key, X509 **out)
{
    static const char *const dns[] = {"localhost"};
    static const char *const ips[] = {"127.0.0.1", "::1"};
    static const int eku[] = {CC_EKU_SERVER_AUTH, CC_EKU_CLIENT_AUTH};
    struct cc_cert_template t;
    memset(&t, 0, sizeof(t));
    t.subject.common_name = "MarbleRun Marble";
    t.dns_names = dns;
    t.n_dns = 1;
    t.ip_addresses = ips;
    t.n_ips = 2;
    t.key_usage = CC_KU_DIGITAL_SIGNATURE | CC_KU_KEY_AGREEMENT;
    t.ext_key_usage = eku;
    t.n_eku = 2;
    t.max_path_len = -1;
    return cc_cert_issue(&t, key, NULL, key, out, NULL);
}

int marble_sim_new(const char *marble_type, const char *uuid, enum marble_sim_flaw flaw, struct marble_sim *out)
{
    memset(out, 0, sizeof(*out));
    EVP_PKEY *key = NULL, *other_key = NULL;
    X509 *cert = NULL, *other = NULL;
    X509_REQ *csr = NULL;
    uint8_t *der = NULL, *csr_der = NULL;
    size_t der_len = 0, csr_len = 0, n;
    json_t *req = NULL;
    int rc = -1;
    static const char *const dns[] = {"localhost", "marble.example"};
    static const char *const ips[] = {"127.0.0.1", "::1"};
    if (cc_key_generate(CC_KEY_EC_P384, 0, &key, NULL) != 0 || self_signed(key, &cert) != 0 ||
        cc_csr_create(key, NULL, dns, 2, ips, 2, &csr, NULL) != 0 || cc_csr_to_der(csr, &csr_der, &csr_len) != 0)
        goto out;
    if (flaw == MARBLE_SIM_WRONG_BINDING) {
        if (cc_key_generate(CC_KEY_EC_P384, 0, &other_key, NULL) != 0 || self_signed(other_key, &other) != 0 ||
            cc_cert_to_der(other, &der, &der_len) != 0)
            goto out;
    } else if (cc_cert_to_der(cert, &der, &der_len) != 0) {
        goto out;
    }
    uint8_t rd[64] = {0};
    cc_sha256(der, der_len, rd);
    char uuid_buf[37];
    if (uuid == NULL) {
        uint8_t u[16];
        cc_random(u, 16);
        u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
        u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
        snprintf(uuid_buf, sizeof(uuid_buf), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                 u[15]);
        uuid = uuid_buf;
    }
    if (flaw == MARBLE_SIM_GARBAGE_CSR) {
        cc_random(csr_der, csr_len > 64 ? 64 : csr_len);
    } else if (flaw == MARBLE_SIM_UNSIGNED_CSR) {
        csr_der[csr_len - 3] ^= 0x55;   /* inside the signature value */
    }
    char *csr_b64 = cairn_base64_encode(csr_der, csr_len);
    req = json_pack("{s:s, s:s, s:s}", "marbleType", marble_type, "uuid",
                    flaw == MARBLE_SIM_BAD_UUID ? "not-a-uuid" : uuid, "csr", csr_b64);
    free(csr_b64);
    if (req == NULL)
        goto out;
    if (flaw != MARBLE_SIM_NO_EVIDENCE) {
        struct attest_issued iss;
        if (attest_issue(ATTEST_SIM, rd, NULL, &iss, NULL) != 0)
            goto out;
        int r2 = attest_evidence_to_json(&iss, req);
        attest_issued_free(&iss);
        if (r2 != 0)
            goto out;
    }
    out->body = json_dumps(req, JSON_COMPACT);
    if (out->body == NULL || cc_cert_to_pem(cert, &out->cert_pem, &n) != 0 ||
        cc_key_to_pkcs8_pem(key, &out->key_pem, &n) != 0)
        goto out;
    out->body_len = strlen(out->body);
    rc = 0;
out:
    if (rc != 0)
        marble_sim_free(out);
    json_decref(req);
    free(der);
    free(csr_der);
    X509_REQ_free(csr);
    X509_free(cert);
    X509_free(other);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other_key);
    return rc;
}

void marble_sim_free(struct marble_sim *m)
{
    free(m->cert_pem);
    free(m->key_pem);
    free(m->body);
    memset(m, 0, sizeof(*m));
}
