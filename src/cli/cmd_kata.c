/* cairn kata policy-hash <file>: the value a Kata Containers pod's TEE
 * carries for its agent policy, to pin the policy in a manifest package
 * (SNP HostData, TDX MRConfigID, or the PCR 8 of an Azure vTPM). Kata
 * measures the initdata document that carries the policy (src/attest/initdata.h);
 * the file is that TOML document or the pod annotation holding it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest/initdata.h"
#include "cli/cli.h"
#include "cli/kata_annotation.h"
#include "common/encoding.h"

#define KATA_FILE_MAX (4u << 20)

static const struct cli_flag ph_flags[] = {
    {"json", 0, false, NULL, "print JSON: {\"algorithm\", \"digest\", \"HostData\", \"MRConfigID\", \"PCR8\"?}"},
    {NULL, 0, false, NULL, NULL},
};

static int run_policy_hash(struct cli_ctx *ctx)
{
    const char *path = ctx->args.pos[0];
    uint8_t *data = NULL, *toml = NULL;
    size_t n = 0, tn = 0;
    int ret = CLI_EXIT_FAIL;
    json_t *o = NULL;
    char *dg = NULL, *hd = NULL, *mc = NULL, *p8 = NULL;
    if (cli_read_file("initdata", path, KATA_FILE_MAX, &data, &n) != 0)
        return CLI_EXIT_FAIL;
    struct cairn_error err = {0};
    bool annotation = kata_annotation_detect(data, n);
    if (annotation) {
        if (kata_annotation_decode(data, n, &toml, &tn, &err) != 0) {
            cli_fail("%s: %s", path, cairn_error_msg(&err));
            goto out;
        }
    } else {
        toml = data;
        tn = n;
        data = NULL;
    }
    struct initdata_digest d;
    if (initdata_digest(toml, tn, &d, &err) != 0) {
        cli_fail("%s: %s", path, cairn_error_msg(&err));
        goto out;
    }
    dg = cairn_hex_encode(d.digest, d.digest_len);
    hd = cairn_hex_encode(d.host_data, sizeof(d.host_data));
    mc = cairn_hex_encode(d.mr_config_id, sizeof(d.mr_config_id));
    p8 = d.has_pcr8 ? cairn_hex_encode(d.pcr8, sizeof(d.pcr8)) : NULL;
    if (dg == NULL || hd == NULL || mc == NULL || (d.has_pcr8 && p8 == NULL)) {
        cli_fail("out of memory");
        goto out;
    }
    if (cli_args_has(&ctx->args, "json")) {
        o = json_pack("{s:s, s:s, s:s, s:s, s:b}", "algorithm", d.algorithm, "digest", dg, "HostData", hd,
                      "MRConfigID", mc, "annotation", annotation);
        if (o != NULL && p8 != NULL)
            json_object_set_new(o, "PCR8", json_string(p8));
        char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (s == NULL) {
            cli_fail("out of memory");
            goto out;
        }
        printf("%s\n", s);
        free(s);
    } else {
        printf("initdata digest (%s): %s\n", d.algorithm, dg);
        printf("HostData (SEV-SNP)  : %s\n", hd);
        printf("MRConfigID (TDX)    : %s\n", mc);
        if (p8 != NULL)
            printf("PCR8 (Azure vTPM)   : %s\n", p8);
        else
            printf("PCR8 (Azure vTPM)   : none (the agent extends PCR 8 only with a sha256 initdata digest)\n");
    }
    ret = CLI_EXIT_OK;
out:
    json_decref(o);
    free(dg);
    free(hd);
    free(mc);
    free(p8);
    free(data);
    free(toml);
    return ret;
}

static const struct cli_command kata_policy_hash = {
    .name = "policy-hash",
    .summary = "the HostData (SNP) / MRConfigID (TDX) / PCR 8 (Azure vTPM) of a pod's initdata (agent policy)",
    .usage = "<initdata.toml | annotation-file>",
    .help = "Kata measures the initdata document that carries the agent policy (genpolicy puts the policy\n"
            "into it as data.\"policy.rego\"): the digest, with the document's own algorithm, of its exact\n"
            "bytes, truncated or zero-padded to 32 bytes (SEV-SNP HOST_DATA) or 48 (TDX MRCONFIGID). On\n"
            "Azure vTPM CVMs the agent extends PCR 8 with a sha256 digest: PCR8 = SHA-256(zeros || digest).\n"
            "The file is the TOML document, or the value of the pod annotation\n"
            "io.katacontainers.config.hypervisor.cc_init_data (base64 of gzip), as genpolicy writes it.\n"
            "Put the value into the manifest package's HostData / MRConfigID (or PCRs {\"8\": ...}).",
    .flags = ph_flags,
    .min_args = 1, .max_args = 1,
    .run = run_policy_hash,
    .offline = true,
    .example = "cairn kata policy-hash initdata.toml\n"
               "kubectl get pod P -o jsonpath='{.metadata.annotations.io\\.katacontainers\\.config\\."
               "hypervisor\\.cc_init_data}' >anno; cairn kata policy-hash --json anno",
};

static const struct cli_command *const kata_subs[] = {&kata_policy_hash, NULL};

const struct cli_command cli_cmd_kata = {
    .name = "kata",
    .summary = "Kata Containers / CoCo helpers (pod policy binding)",
    .usage = "<command>",
    .subs = kata_subs,
    .offline = true,
};
