/* The `cairn` CLI (DESIGN §10, inventory §4): one file per command group
 * (cmd_<group>.c), registered in the command table of main.c.
 *
 * Adding a command group (e.g. issue 6 `secret`, `recover`; issue 5
 * `evidence verify|eventlog`): write cmd_<group>.c exporting a
 * `const struct cli_command cli_cmd_<group>` (with `subs` for subcommands),
 * declare it below and add it to the table in main.c. Commands that talk to
 * a Coordinator call cli_connect(), which verifies it (policy or --insecure),
 * enforces the root-certificate cache and returns a pinned client.
 *
 * Output rules: results on stdout; every failure is ONE line on stderr,
 * "cairn: <cause>; <what to do>", and a non-zero exit code. */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/cairn.h"
#include "cli/args.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

struct cli_command;

/* What a command's run() gets. */
struct cli_ctx {
    const struct cli_command *cmd;
    const char *path;            /* "cairn manifest set", for messages */
    struct cli_args args;        /* parsed flags and positionals */
};

struct cli_command {
    const char *name;
    const char *summary;         /* one line for the parent's help */
    const char *usage;           /* arguments after the path, e.g. "<manifest> <address>" */
    const char *help;            /* longer text (may be NULL) */
    const struct cli_flag *flags;/* command flags, NULL-name terminated (may be NULL) */
    size_t min_args, max_args;
    int (*run)(struct cli_ctx *ctx);
    const struct cli_command *const *subs; /* NULL-terminated subcommands, or NULL */
    bool offline;                /* talks to no Coordinator: the Coordinator flags are accepted (MarbleRun's
                                  * are global) but have no effect, and help and completion leave them out */
    const char *example;         /* one or more example command lines ("cairn ..."), shown by --help */
};

/* The command tree (main.c): what --help, the argument parser and
 * `cairn completion` all read, so none of them can drift from the others. */
extern const struct cli_command cli_root_command;
/* Whether global flag `f` is one of the Coordinator flags (how a command
 * trusts the Coordinator), as opposed to --help and the no-effect --namespace. */
bool cli_flag_is_coordinator(const struct cli_flag *f);
extern const struct cli_command cli_cmd_completion;   /* cmd_completion.c */

/* Global flags (--coordinator-cert, --coordinator-policy, --insecure, --nonce, ...). */
extern const struct cli_flag cli_global_flags[];

/* Prints "cairn: <msg>" (+ "; <hint>") as one line to stderr; returns CLI_EXIT_FAIL.
 * Exactly one "cairn: " prefix: a message that already starts with "cairn: "
 * or with a command path ("cairn manifest set: ...") is not prefixed again
 * (the path loses its "cairn "). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For a libcairn error: the message plus a hint chosen by the error code. */
int cli_fail_client(int rc, const char *what, const char *msg);

/* How a command trusts the Coordinator follows MarbleRun's CLI (docs/cli.md
 * "How the CLI trusts a Coordinator"):
 *
 * cli_connect(): the attesting commands (manifest set|get|verify,
 * certificate, recover...). Verifies the Coordinator against the policy
 * (--coordinator-policy / --era-config, else ./era-config.json) or skips
 * that with --insecure, prints MarbleRun's stdout prelude ("Reusing existing
 * config file" / "Warning: skipping quote verification"), and returns a
 * client pinned to the verified root. Never touches the root cache: the
 * command calls cli_cache_save() / cli_cache_check() as MarbleRun's does.
 * *out_certs may be NULL. On failure prints the one-line error and returns
 * non-zero (a CLI exit code). */
int cli_connect(struct cli_ctx *ctx, const char *address, struct cairn_client **out,
                struct cairn_coordinator_certs *out_certs);
/* The cached-root commands (status, secret, manifest update, manifest log):
 * a client pinned to the root cached for `address`, without attestation.
 * With --insecure: the quote's root for this command only (cache neither
 * read nor written); with an explicit policy: attested as cli_connect (the
 * cache only compared, never written: a Coordinator in recovery mode
 * presents a temporary root). *out_root_pem (may be NULL): the root the
 * client is pinned to, malloc'd. */
int cli_connect_cached(struct cli_ctx *ctx, const char *address, struct cairn_client **out, char **out_root_pem);
/* Writes the verified certificates to the cache of `address` (or
 * --coordinator-cert), replacing what was there (MarbleRun's manifest
 * set/verify, manifest get --keep-cert). */
int cli_cache_save(struct cli_ctx *ctx, const char *address, const struct cairn_coordinator_certs *certs);
/* `certificate`: refuses a root that differs from the cached one; caches it
 * when there is none yet. */
int cli_cache_check(struct cli_ctx *ctx, const char *address, const struct cairn_coordinator_certs *certs);
/* The cache file name of `address` without ".pem": "<host>_<port>", the host
 * lower-cased, characters other than [a-z0-9.-] as %XX, IPv6 brackets
 * dropped, port 4433 by default. -1 for an invalid address. Pure. */
int cli_cache_key(const char *address, char *out, size_t out_size);
/* Failover progress of a client over several replicas goes to stderr. */
struct cairn_client;
void cli_failover_setup(struct cairn_client *c);


/* Reads a manifest file (JSON, or YAML converted to JSON like MarbleRun's CLI).
 * *out is malloc'd. Prints the error and returns non-zero on failure. */
int cli_load_manifest(const char *path, uint8_t **out, size_t *out_len);
/* Reads a whole file (capped); prints the error and returns non-zero on failure. */
int cli_read_file(const char *what, const char *path, size_t max, uint8_t **out, size_t *out_len);
/* Writes `data` to `path` ("-" = stdout). A regular or new file is replaced
 * atomically (temp file + rename) with `mode`; an existing non-regular file
 * (FIFO, device such as /dev/null) is written into and keeps its type and mode.
 * Prints the error on failure. */
int cli_write_output(const char *path, const void *data, size_t len, unsigned mode);

extern const struct cli_command cli_cmd_status;
extern const struct cli_command cli_cmd_manifest;
extern const struct cli_command cli_cmd_certificate;
extern const struct cli_command cli_cmd_package_info;
extern const struct cli_command cli_cmd_version;
extern const struct cli_command cli_cmd_tpm;        /* cmd_tpm.c: tpm predict (UKI PCR 11) */
extern const struct cli_command cli_cmd_evidence;   /* cmd_evidence.c: evidence verify|eventlog (issue 5) */
extern const struct cli_command cli_cmd_kata;       /* cmd_kata.c: kata policy-hash (issue 10) */

/* Issue 6: users, secrets, updates, recovery (cmd_secret.c, cmd_update.c, cmd_recover.c). */
#define CLI_PKCS11_KEY_FLAGS                                                                           \
    {"pkcs11-config", 0, true, "FILE", "PKCS#11 configuration (JSON: Path, Pin, TokenLabel|TokenSerial)"},    \
    {"pkcs11-key-id", 0, true, "ID", "ID of the private key in the PKCS#11 token"},                         \
    {"pkcs11-key-label", 0, true, "LABEL", "label of the private key in the PKCS#11 token"}
#define CLI_USER_FLAGS                                                                                 \
    {"cert", 'c', true, "FILE", "certificate (PEM) of a manifest user"},                              \
    {"key", 'k', true, "FILE", "the user's private key (PEM)"},                                       \
    CLI_PKCS11_KEY_FLAGS,                                                                              \
    {"pkcs11-cert-id", 0, true, "ID", "ID of the certificate in the PKCS#11 token"},                  \
    {"pkcs11-cert-label", 0, true, "LABEL", "label of the certificate in the PKCS#11 token"}
/* The key (and with want_cert the certificate) named by --pkcs11-config and
 * --pkcs11-key-id/-label (--pkcs11-cert-id/-label) (src/cli/pkcs11.h).
 * Prints the error and returns non-zero on failure. *out_cert may be NULL
 * when !want_cert. */
int cli_pkcs11_identity(struct cli_ctx *ctx, bool want_cert, EVP_PKEY **out_key, X509 **out_cert);
/* cli_connect(), then a client pinned to the verified root that presents
 * the -c/-k user certificate. Prints the error and returns non-zero on failure. */
int cli_connect_user(struct cli_ctx *ctx, const char *address, struct cairn_client **out);
/* The manifest with the SecurityVersions of the update log applied
 * (`manifest get --display-update`). *out: JSON text, free(). */
int cli_manifest_display_update(struct cairn_client *c, const uint8_t *manifest, size_t len, char **out);
extern const struct cli_command cli_cmd_manifest_update;
extern const struct cli_command cli_cmd_secret;
extern const struct cli_command cli_cmd_recover;
extern const struct cli_command cli_cmd_recover_with_signature;

#endif
