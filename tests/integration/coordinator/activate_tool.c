/* activate_tool: a simulated marble for the integration tests.
 *
 *   activate_tool ADDR TYPE [--uuid U] [--flaw ok|wrong-binding|garbage-csr|unsigned-csr|no-evidence|bad-uuid|
 *                 no-client-cert|bad-json] [--env NAME] [--file PATH] [--cert-out FILE]
 *
 * Does one mTLS POST /api/v2/activate to ADDR (host:port) and prints
 * "STATUS <code>" and then the response body. With --env/--file it prints the
 * decoded value of that env var / file instead of the body (exit 3 if absent).
 * Exit 0 when a response arrived, 1 on transport errors, 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/encoding.h"
#include "marble_sim.h"

static size_t wr(char *p, size_t sz, size_t n, void *u)
{
    cairn_buf_append(u, p, sz * n);
    return sz * n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: activate_tool ADDR TYPE [--uuid U] [--flaw F] [--env NAME] [--file PATH]\n");
        return 2;
    }
    const char *addr = argv[1], *type = argv[2], *uuid = NULL, *flaw_s = "ok", *env = NULL, *file = NULL,
               *cert_out = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--uuid") == 0)
            uuid = argv[i + 1];
        else if (strcmp(argv[i], "--flaw") == 0)
            flaw_s = argv[i + 1];
        else if (strcmp(argv[i], "--env") == 0)
            env = argv[i + 1];
        else if (strcmp(argv[i], "--file") == 0)
            file = argv[i + 1];
        else if (strcmp(argv[i], "--cert-out") == 0)
            cert_out = argv[i + 1];
        else {
            fprintf(stderr, "activate_tool: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    enum marble_sim_flaw flaw = MARBLE_SIM_OK;
    bool no_cert = false, bad_json = false;
    if (strcmp(flaw_s, "wrong-binding") == 0)
        flaw = MARBLE_SIM_WRONG_BINDING;
    else if (strcmp(flaw_s, "garbage-csr") == 0)
        flaw = MARBLE_SIM_GARBAGE_CSR;
    else if (strcmp(flaw_s, "unsigned-csr") == 0)
        flaw = MARBLE_SIM_UNSIGNED_CSR;
    else if (strcmp(flaw_s, "no-evidence") == 0)
        flaw = MARBLE_SIM_NO_EVIDENCE;
    else if (strcmp(flaw_s, "bad-uuid") == 0)
        flaw = MARBLE_SIM_BAD_UUID;
    else if (strcmp(flaw_s, "no-client-cert") == 0)
        no_cert = true;
    else if (strcmp(flaw_s, "bad-json") == 0)
        bad_json = true;
    else if (strcmp(flaw_s, "ok") != 0) {
        fprintf(stderr, "activate_tool: unknown flaw %s\n", flaw_s);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct marble_sim m;
    if (marble_sim_new(type, uuid, flaw, &m) != 0) {
        fprintf(stderr, "activate_tool: cannot build the marble identity\n");
        return 1;
    }
    if (cert_out != NULL) {
        FILE *f = fopen(cert_out, "w");
        if (f != NULL) {
            fputs(m.cert_pem, f);
            fclose(f);
        }
    }
    char url[512];
    snprintf(url, sizeof(url), "https://%s/api/v2/activate", addr);
    struct cairn_buf resp;
    cairn_buf_init(&resp, 64u * 1024 * 1024);
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, bad_json ? "{\"marbleType\": " : m.body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(bad_json ? 15 : m.body_len));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wr);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    /* the marble does not authenticate the Coordinator here (MarbleRun's premain does not either) */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    struct curl_blob cb = {m.cert_pem, strlen(m.cert_pem), CURL_BLOB_COPY};
    struct curl_blob kb = {m.key_pem, strlen(m.key_pem), CURL_BLOB_COPY};
    if (!no_cert) {
        curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
    }
    CURLcode rc = curl_easy_perform(c);
    int ret = 0;
    if (rc != CURLE_OK) {
        printf("STATUS 0\n%s\n", curl_easy_strerror(rc));
        ret = 1;
    } else {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        printf("STATUS %ld\n", code);
        if (env != NULL || file != NULL) {
            json_t *j = json_loadb((const char *)resp.data, resp.len, 0, NULL);
            const json_t *v = json_object_get(json_object_get(json_object_get(j, "data"), env ? "env" : "files"),
                                              env ? env : file);
            uint8_t *dec = NULL;
            size_t dl = 0;
            if (!json_is_string(v) || cairn_base64_decode(json_string_value(v), json_string_length(v), &dec, &dl) != 0) {
                ret = 3;
            } else {
                fwrite(dec, 1, dl, stdout);
                free(dec);
            }
            json_decref(j);
        } else if (resp.len > 0) {
            fwrite(resp.data, 1, resp.len, stdout);
            printf("\n");
        }
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    cairn_buf_free(&resp);
    marble_sim_free(&m);
    curl_global_cleanup();
    return ret;
}
