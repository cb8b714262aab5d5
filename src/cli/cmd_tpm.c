/* cairn tpm predict: the PCR 11 values a systemd Unified Kernel Image (UKI)
 * produces, boot phase by boot phase, computed as `systemd-measure
 * calculate` (systemd 252) does (rules in attest/uki.h), from a UKI file
 * (--uki) or from the separate section files with systemd-measure's own
 * flags, so it drops into mkosi/ukify scripts. Prints a manifest TPM package
 * (PCRs, or the PCR-signing public key with --pin-pcrpkey), or
 * systemd-measure's own JSON/text output with --json. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest/uki.h"
#include "cli/cli.h"
#include "common/encoding.h"
#include "common/file.h"

#define PREDICT_PCRPKEY_MAX (64u * 1024)
#define PREDICT_AK_ROOT_MAX (1u << 20)

static const struct cli_flag predict_flags[] = {
    {"uki", 0, true, "FILE", "the UKI (PE file); its sections are measured as systemd-stub finds them"},
    {"linux", 0, true, "FILE", "kernel image (.linux), as systemd-measure --linux="},
    {"osrel", 0, true, "FILE", "os-release (.osrel)"},
    {"cmdline", 0, true, "FILE", "kernel command line (.cmdline)"},
    {"initrd", 0, true, "FILE", "initrd (.initrd)"},
    {"splash", 0, true, "FILE", "splash image (.splash)"},
    {"dtb", 0, true, "FILE", "devicetree (.dtb)"},
    {"uname", 0, true, "FILE", "`uname -r` of the kernel (.uname; measured by stubs newer than systemd 252)"},
    {"pcrpkey", 0, true, "FILE", "PEM public key for signed PCR policies (.pcrpkey)"},
    {"bank", 0, true, "sha1|sha256|sha384|sha512", "hash bank (repeatable; default: sha256, with --json all four)"},
    {"phase", 0, true, "PHASE",
     "boot phase, e.g. enter-initrd:leave-initrd (repeatable; default: the four from enter-initrd to ready)"},
    {"json", 'j', true, "[short|pretty|off]", "print systemd-measure's output instead of a package (default short)"},
    {"pin-pcrpkey", 0, false, NULL,
     "the package pins the UKI's .pcrpkey (signed PCR policies) instead of PCR 11 values"},
    {"ak-root", 0, true, "FILE", "PEM root certificate(s) of the TPM's AK, written as the package's AKRoots"},
    {NULL, 0, false, NULL, NULL},
};

struct predict {
    struct uki_digests d;
    bool bank[UKI_N_BANKS];
    char *phases[UKI_MAX_PHASES];
    size_t n_phases;
    bool default_phases;
    char *pcrpkey;                  /* PEM text of .pcrpkey, when given */
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Streams a section file through the hasher: files may be large (initrds). */
static int hash_file(struct uki_hasher *h, enum uki_section s, const char *path, struct uki_digests *d)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cli_fail("cannot open %s file \"%s\": %s", uki_section_name(s), path, strerror(errno));
    static uint8_t buf[1 << 16];
    size_t got;
    int rc = 0;
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (uki_hasher_update(h, buf, got) != 0) {
            rc = cli_fail("hashing \"%s\" failed", path);
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = cli_fail("cannot read %s file \"%s\"", uki_section_name(s), path);
    fclose(f);
    if (rc == 0 && uki_hasher_final(h, s, d) != 0)
        rc = cli_fail("hashing \"%s\" failed", path);
    return rc;
}

static int load_sections(struct cli_ctx *ctx, struct predict *pr)
{
    const char *uki = cli_args_get(&ctx->args, "uki");
    bool any_file = false;
    for (int s = 0; s < UKI_N_SECTIONS; s++)
        any_file = any_file || cli_args_get(&ctx->args, uki_section_name((enum uki_section)s) + 1) != NULL;
    if (uki != NULL && any_file)
        return cli_fail("%s: --uki and the section flags (--linux= ...) exclude each other", ctx->path);
    if (uki != NULL) {
        uint8_t *p = NULL;
        size_t n = 0;
        if (cli_read_file("UKI", uki, UKI_MAX_BYTES, &p, &n) != 0)
            return CLI_EXIT_FAIL;
        struct uki_pe pe;
        struct cairn_error err = {0};
        int rc = uki_pe_parse(p, n, &pe, &err);
        if (rc == 0)
            rc = uki_digests_from_pe(&pe, &pr->d, &err);
        if (rc == 0 && pe.found[UKI_SEC_PCRPKEY] && cli_args_has(&ctx->args, "pin-pcrpkey")) {
            if (pe.sec[UKI_SEC_PCRPKEY].raw_size + pe.sec[UKI_SEC_PCRPKEY].zero_fill > PREDICT_PCRPKEY_MAX ||
                pe.sec[UKI_SEC_PCRPKEY].zero_fill != 0) {
                rc = cairn_errf(&err, CAIRN_ERR_INVALID, "UKI: .pcrpkey is not a PEM public key");
            } else if ((pr->pcrpkey = strndup((const char *)pe.sec[UKI_SEC_PCRPKEY].raw,
                                              (size_t)pe.sec[UKI_SEC_PCRPKEY].raw_size)) == NULL) {
                rc = cairn_errf(&err, CAIRN_ERR_NOMEM, "out of memory");
            }
        }
        free(p);
        if (rc != 0)
            return cli_fail("\"%s\": %s", uki, cairn_error_msg(&err));
        if (!pr->d.present[UKI_SEC_LINUX])
            return cli_fail("\"%s\": the UKI has no .linux section (or an empty one); is it a UKI?", uki);
        return 0;
    }
    if (cli_args_get(&ctx->args, "linux") == NULL)
        return cli_fail("%s: --linux= (or --uki) must be given", ctx->path);
    struct uki_hasher *h = uki_hasher_new();
    if (h == NULL)
        return cli_fail("out of memory");
    int rc = 0;
    for (int s = 0; rc == 0 && s < UKI_N_SECTIONS; s++) {
        const char *path = cli_args_get(&ctx->args, uki_section_name((enum uki_section)s) + 1);
        if (path != NULL)
            rc = hash_file(h, (enum uki_section)s, path, &pr->d);
    }
    uki_hasher_free(h);
    /* the key text is only needed to pin it (the measurement streamed it) */
    const char *pk = cli_args_get(&ctx->args, "pcrpkey");
    if (rc == 0 && pk != NULL && cli_args_has(&ctx->args, "pin-pcrpkey")) {
        uint8_t *p = NULL;
        size_t n = 0;
        if (cli_read_file(".pcrpkey", pk, PREDICT_PCRPKEY_MAX, &p, &n) != 0)
            return CLI_EXIT_FAIL;
        pr->pcrpkey = (char *)p;   /* NUL-terminated by cairn_file_read */
    }
    return rc;
}

static int parse_banks_phases(struct cli_ctx *ctx, struct predict *pr)
{
    bool any_bank = false;
    for (size_t i = 0; i < ctx->args.n_flags; i++) {
        const char *name = ctx->args.flag[i]->name, *v = ctx->args.value[i];
        if (strcmp(name, "bank") == 0) {
            enum uki_bank b;
            if (uki_bank_parse(v, &b) != 0)
                return cli_fail("%s: unknown bank \"%s\"; expected sha1, sha256, sha384 or sha512", ctx->path, v);
            pr->bank[b] = true;
            any_bank = true;
        } else if (strcmp(name, "phase") == 0) {
            char norm[UKI_MAX_PHASE_LEN + 1];
            struct cairn_error err = {0};
            if (uki_phase_normalize(v, norm, &err) != 0)
                return cli_fail("%s: --phase: %s", ctx->path, cairn_error_msg(&err));
            if (pr->n_phases >= UKI_MAX_PHASES)
                return cli_fail("%s: more than %d phases", ctx->path, UKI_MAX_PHASES);
            if ((pr->phases[pr->n_phases] = strdup(norm)) == NULL)
                return cli_fail("out of memory");
            pr->n_phases++;
        }
    }
    /* systemd-measure's default is every bank; a package's default is the
     * SHA-256 bank alone, since a policy fails on any bank the quote lacks */
    if (!any_bank && cli_args_has(&ctx->args, "json"))
        for (int b = 0; b < UKI_N_BANKS; b++)
            pr->bank[b] = true;
    else if (!any_bank)
        pr->bank[UKI_BANK_SHA256] = true;
    if (pr->n_phases == 0) {
        pr->default_phases = true;
        for (size_t i = 0; i < 4; i++)
            if ((pr->phases[pr->n_phases++] = strdup(uki_default_phases[i])) == NULL)
                return cli_fail("out of memory");
    } else {
        /* systemd-measure sorts the phases it is given (strcmp) and drops duplicates */
        qsort(pr->phases, pr->n_phases, sizeof(pr->phases[0]), cmp_str);
        size_t k = 0;
        for (size_t i = 0; i < pr->n_phases; i++) {
            if (k > 0 && strcmp(pr->phases[k - 1], pr->phases[i]) == 0)
                free(pr->phases[i]);
            else
                pr->phases[k++] = pr->phases[i];
        }
        pr->n_phases = k;
    }
    return 0;
}

/* value[phase][bank] as lowercase hex. */
static int compute(const struct predict *pr, char *hex[UKI_MAX_PHASES][UKI_N_BANKS])
{
    for (int b = 0; b < UKI_N_BANKS; b++) {
        if (!pr->bank[b])
            continue;
        uint8_t base[64];
        if (uki_pcr11_sections(&pr->d, (enum uki_bank)b, base) != 0)
            return cli_fail("hashing failed");
        for (size_t i = 0; i < pr->n_phases; i++) {
            uint8_t v[64];
            memcpy(v, base, sizeof(v));
            if (uki_pcr11_phase((enum uki_bank)b, v, pr->phases[i]) != 0)
                return cli_fail("hashing failed");
            if ((hex[i][b] = cairn_hex_encode(v, uki_bank_size((enum uki_bank)b))) == NULL)
                return cli_fail("out of memory");
        }
    }
    return 0;
}

/* Writes a JSON string of a normalized phase (printable ASCII: only '"' and
 * '\' need escaping). */
static void put_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* systemd-measure's three output forms, byte for byte: --json=short is one
 * line, --json=pretty indents with tabs and writes " : ", --json=off prints
 * "11:<bank>=<hex>" lines with a "# PCR[11] Phase <..>" header on stderr. */
static void print_measure(const struct predict *pr, char *hex[UKI_MAX_PHASES][UKI_N_BANKS], const char *mode)
{
    if (strcmp(mode, "off") == 0) {
        for (size_t i = 0; i < pr->n_phases; i++) {
            fflush(stdout);
            fprintf(stderr, "# PCR[%d] Phase <%s>\n", UKI_PCR, pr->phases[i][0] ? pr->phases[i] : ":");
            fflush(stderr);
            for (int b = 0; b < UKI_N_BANKS; b++)
                if (pr->bank[b])
                    printf("%d:%s=%s\n", UKI_PCR, uki_bank_name((enum uki_bank)b), hex[i][b]);
        }
        return;
    }
    bool pretty = strcmp(mode, "pretty") == 0;
    const char *colon = pretty ? " : " : ":";
    fputs(pretty ? "{\n" : "{", stdout);
    bool first_bank = true;
    for (int b = 0; b < UKI_N_BANKS; b++) {
        if (!pr->bank[b])
            continue;
        if (!first_bank)
            fputs(pretty ? ",\n" : ",", stdout);
        first_bank = false;
        printf("%s\"%s\"%s[%s", pretty ? "\t" : "", uki_bank_name((enum uki_bank)b), colon, pretty ? "\n" : "");
        for (size_t i = 0; i < pr->n_phases; i++) {
            if (i > 0)
                fputs(pretty ? ",\n" : ",", stdout);
            fputs(pretty ? "\t\t{\n" : "{", stdout);
            if (pr->phases[i][0]) {
                printf("%s\"phase\"%s", pretty ? "\t\t\t" : "", colon);
                put_json_str(stdout, pr->phases[i]);
                fputs(pretty ? ",\n" : ",", stdout);
            }
            printf("%s\"pcr\"%s%d%s", pretty ? "\t\t\t" : "", colon, UKI_PCR, pretty ? ",\n" : ",");
            printf("%s\"hash\"%s\"%s\"%s", pretty ? "\t\t\t" : "", colon, hex[i][b], pretty ? "\n" : "");
            fputs(pretty ? "\t\t}" : "}", stdout);
        }
        fputs(pretty ? "\n\t]" : "]", stdout);
    }
    fputs(pretty ? "\n}\n" : "}\n", stdout);
}

static int print_package(struct cli_ctx *ctx, const struct predict *pr, char *hex[UKI_MAX_PHASES][UKI_N_BANKS])
{
    size_t pi;
    if (pr->default_phases)
        pi = pr->n_phases - 1;   /* "...:sysinit:ready": the running system, when workloads attest */
    else if (pr->n_phases == 1)
        pi = 0;
    else
        return cli_fail("%s: a package pins one PCR 11 value: give one --phase (or --json for every phase)",
                        ctx->path);
    json_t *pkg = json_object();
    int rc = pkg ? json_object_set_new(pkg, "TEE", json_string("tpm")) : -1;
    if (cli_args_has(&ctx->args, "pin-pcrpkey")) {
        if (pr->pcrpkey == NULL) {
            json_decref(pkg);
            return cli_fail("%s: --pin-pcrpkey needs a .pcrpkey (in the UKI, or --pcrpkey=)", ctx->path);
        }
        rc |= json_object_set_new(pkg, "PCRPublicKey", json_string(pr->pcrpkey));
    } else {
        json_t *pcrs = json_object();
        for (int b = 0; pcrs && b < UKI_N_BANKS; b++) {
            if (pr->bank[b])
                rc |= json_object_set_new(pcrs, uki_bank_name((enum uki_bank)b),
                                          json_pack("{s:s}", "11", hex[pi][b]));
        }
        rc |= pcrs ? json_object_set_new(pkg, "PCRs", pcrs) : -1;
    }
    json_t *roots = NULL;
    for (size_t i = 0; rc == 0 && i < ctx->args.n_flags; i++) {
        if (strcmp(ctx->args.flag[i]->name, "ak-root") != 0)
            continue;
        uint8_t *p = NULL;
        size_t n = 0;
        if (cli_read_file("AK root", ctx->args.value[i], PREDICT_AK_ROOT_MAX, &p, &n) != 0) {
            json_decref(pkg);
            json_decref(roots);
            return CLI_EXIT_FAIL;
        }
        if (roots == NULL)
            roots = json_array();
        rc |= json_array_append_new(roots, json_stringn((const char *)p, n));
        free(p);
    }
    if (roots != NULL)
        rc |= json_object_set_new(pkg, "AKRoots", roots);
    char *s = rc == 0 ? json_dumps(pkg, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(pkg);
    if (s == NULL)
        return cli_fail("out of memory");
    printf("%s\n", s);
    free(s);
    if (!pr->default_phases || pr->n_phases != 1)
        fprintf(stderr, "# PCR 11 at phase \"%s\"\n", pr->phases[pi]);
    return 0;
}

static int run_predict(struct cli_ctx *ctx)
{
    struct predict *pr = calloc(1, sizeof(*pr));
    char *(*hex)[UKI_N_BANKS] = calloc(UKI_MAX_PHASES, sizeof(*hex));
    if (pr == NULL || hex == NULL) {
        free(pr);
        free(hex);
        return cli_fail("out of memory");
    }
    const char *mode = NULL;
    bool json = cli_args_has(&ctx->args, "json");
    if (json) {
        mode = cli_args_get(&ctx->args, "json");
        if (mode == NULL)
            mode = "short";
    }
    int rc = 0;
    if (json && strcmp(mode, "short") != 0 && strcmp(mode, "pretty") != 0 && strcmp(mode, "off") != 0)
        rc = cli_fail("%s: --json=%s: expected short, pretty or off", ctx->path, mode);
    if (rc == 0 && json && (cli_args_has(&ctx->args, "pin-pcrpkey") || cli_args_has(&ctx->args, "ak-root")))
        rc = cli_fail("%s: --pin-pcrpkey and --ak-root shape the package; --json prints systemd-measure's output",
                      ctx->path);
    if (rc == 0)
        rc = parse_banks_phases(ctx, pr);
    if (rc == 0)
        rc = load_sections(ctx, pr);
    if (rc == 0)
        rc = compute(pr, hex);
    if (rc == 0) {
        if (json)
            print_measure(pr, hex, mode);
        else
            rc = print_package(ctx, pr, hex);
    }
    if (rc == 0 && fflush(stdout) != 0)
        rc = cli_fail("cannot write the output");
    for (size_t i = 0; i < UKI_MAX_PHASES; i++)
        for (int b = 0; b < UKI_N_BANKS; b++)
            free(hex[i][b]);
    for (size_t i = 0; i < pr->n_phases; i++)
        free(pr->phases[i]);
    free(pr->pcrpkey);
    free(pr);
    free(hex);
    return rc == 0 ? CLI_EXIT_OK : rc;
}

static const struct cli_command cmd_predict = {
    .name = "predict",
    .summary = "PCR 11 of a systemd UKI per boot phase (as systemd-measure calculate), as a manifest TPM package",
    .usage = "(--uki FILE | --linux FILE [--osrel FILE ...])",
    .help = "Computes what systemd-stub and systemd extend into PCR 11 when the UKI boots: each section\n"
            "(.linux .osrel .cmdline .initrd .splash .dtb .uname .pcrpkey) as H(name with NUL) and H(contents),\n"
            "then one H(word) per boot phase word. The values equal `systemd-measure calculate`'s.\n"
            "Without --json, prints a manifest TPM package pinning PCR 11 at the phase a running system is in\n"
            "(enter-initrd:leave-initrd:sysinit:ready, or the one --phase given); with --pin-pcrpkey the package\n"
            "pins the UKI's PCR-signing key instead, so a signed UKI update needs no manifest update.",
    .flags = predict_flags,
    .offline = true,
    .example = "cairn tpm predict --uki /boot/efi/EFI/Linux/linux.efi --ak-root ak-root.pem",
    .min_args = 0,
    .max_args = 0,
    .run = run_predict,
};

static const struct cli_command *const tpm_subs[] = {&cmd_predict, NULL};

const struct cli_command cli_cmd_tpm = {
    .name = "tpm",
    .summary = "TPM measured boot: predict the PCR 11 values of a systemd UKI",
    .usage = "<command>",
    .subs = tpm_subs,
};
