/* libcairn: activating a marble (what cairn-premain does), from code.
 *
 * cairn_marble_activate() generates a fresh P-384 key and a self-signed
 * certificate (inventory §3.1: CN "MarbleRun Marble", DNS/IP SANs, 127.0.0.1
 * and ::1 always), a CSR with the same key, TEE evidence whose report data
 * binds SHA-256(certificate DER), and POSTs /api/v2/activate over mutual TLS
 * (TLS 1.3, the self-signed certificate as client certificate) to the
 * Coordinator's mesh address. It returns the marble's Files, Env and Argv.
 *
 * Unlike MarbleRun, the Coordinator can be authenticated: with
 * `coordinator_root_ca_pem` the mesh server certificate (the Marble Root, a
 * self-signed certificate on the intermediate key) is accepted only if its key
 * is the key of an intermediate certificate that chains to that root; the
 * intermediate is taken from the TLS chain the server presents or, when
 * `coordinator_client_addr` is set, from the client API's /quote (fetched over
 * TLS pinned to the root). With `coordinator_policy_json` the root itself is
 * first obtained by verifying the Coordinator's quote (needs the client address).
 */
#ifndef CAIRN_MARBLE_H
#define CAIRN_MARBLE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/client.h"
#include "cairn/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cairn_marble_config {
    const char *coordinator_addr;      /* mesh "host:port", or several replicas comma-separated
                                        * (tried in order, see cairn_marble_activate_failover);
                                        * NULL = "localhost:2001" */
    const char *marble_type;           /* required (EDG_MARBLE_TYPE) */
    const char *uuid;                  /* required, canonical UUID text */
    const char *const *dns_names;      /* SANs; IP literals become IP SANs; NULL/0 = {"localhost"} */
    size_t n_dns_names;
    const char *evidence_type;         /* "sgx","tdx","snp","tpm","sim"; NULL = probe, else sim */
    const char *coordinator_root_ca_pem;  /* optional: authenticate the Coordinator (PEM) */
    const char *coordinator_policy_json;  /* optional: verify the Coordinator's quote first */
    const char *coordinator_client_addr;  /* optional: client API "host:port" (for the two above);
                                           * a comma-separated list fails over as cairn_client does */
    long timeout_ms;                   /* per request; 0 = 30000 */
    /* Evidence sources (all optional, NULL = default): */
    const char *gramine_dir;           /* default "/dev/attestation" */
    const char *configfs_tsm;          /* default "/sys/kernel/config/tsm/report" */
    const char *tpm_tcti;              /* tss2 TCTI, e.g. "swtpm:host=127.0.0.1,port=2321"; default /dev/tpmrm0 */
    const char *tpm_pcrs;              /* PCR selection, e.g. "sha256:0,1,2,3,7,16" */
    const char *tpm_ak_cert;           /* PEM file: AK certificate (+ chain) to attach */
    const char *tpm_ak_context;        /* persistent AK handle, e.g. "0x81010002"; default: created */
    const char *tpm_eventlog;          /* TCG event log file to attach */
    /* Activation wire: "json" (POST /api/v2/activate over HTTP/1.1) or "grpc"
     * (MarbleRun's rpc.Marble/Activate over HTTP/2, the protocol of MarbleRun
     * marbles). NULL = $CAIRN_ACTIVATION_PROTOCOL, else "json". Both give the
     * same answers; refusals map to the same error codes. */
    const char *protocol;
    /* systemd's tpm2-pcr-signature.json (systemd-measure sign) to attach to
     * TPM evidence, for packages that pin a PCR-signing key ("PCRPublicKey")
     * instead of PCR 11 values; NULL = none. */
    const char *tpm_pcr_signature;
};

struct cairn_marble_file {
    char *path;       /* owned */
    uint8_t *data;    /* owned; NUL-terminated (not counted) */
    size_t size;
};

struct cairn_marble_params {
    struct cairn_marble_file *files;  size_t n_files;   /* "files": path -> content */
    struct cairn_marble_file *env;    size_t n_env;     /* "env": name (in .path) -> value */
    char **argv;                      size_t argc;      /* "argv", may be empty */
    char *evidence_type;              /* owned; the evidence type that was sent ("sim", ...) */
};
/* Wipes (file contents and env values hold secrets) and frees; NULL ok. */
void cairn_marble_params_free(struct cairn_marble_params *p);

/* Activates once. On failure `errbuf` (may be NULL) receives a one-line reason
 * and *out_http_status (may be NULL) the HTTP status (0 if none arrived).
 * Errors worth retrying: CAIRN_ERR_NETWORK (unreachable) and CAIRN_ERR_STATE
 * (503, "cannot accept marbles in current state"). CAIRN_ERR_PERMISSION is a
 * refusal (403), CAIRN_ERR_INVALID a bad request (400), CAIRN_ERR_TLS a TLS or
 * Coordinator-authentication failure. *out is owned: cairn_marble_params_free(). */
int cairn_marble_activate(const struct cairn_marble_config *cfg, struct cairn_marble_params **out,
                          int *out_http_status, char *errbuf, size_t errbuf_size);

/* cairn_marble_activate over a list of mesh addresses (cfg->coordinator_addr
 * "a:2001,b:2001"): each activation attempt goes to the addresses in order,
 * moving on when one cannot be reached (CAIRN_ERR_NETWORK/TIMEOUT), for
 * fo->rounds passes (0 = 1: cairn-premain runs its own retry loop around
 * it) with fo->backoff_ms between passes. Progress lines go to fo->progress.
 * `fo` may be NULL. The error of the last address tried is returned. */
int cairn_marble_activate_failover(const struct cairn_marble_config *cfg, const struct cairn_failover *fo,
                                   struct cairn_marble_params **out, int *out_http_status, char *errbuf,
                                   size_t errbuf_size);

/* Writes a fresh random UUIDv4 in canonical text form (36 chars + NUL). */
int cairn_uuid_generate(char out[37]);
/* 0 if `s` is a canonical UUID (8-4-4-4-12 hex digits), else CAIRN_ERR_INVALID. */
int cairn_uuid_check(const char *s);

#ifdef __cplusplus
}
#endif
#endif
