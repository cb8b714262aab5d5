/* Internal: MarbleRun's gRPC activation wire (DESIGN §7, inventory §3), with
 * no I/O: the gRPC message framing of the gRPC-over-HTTP/2 protocol, status
 * codes, grpc-message encoding, and conversions between the protobuf messages
 * of coordinator.proto (protobuf-c, generated at build time) and the JSON wire
 * form that src/core and libcairn already speak, so that both wires run one
 * activation code path.
 *
 * Every decoder takes untrusted bytes: sizes are checked before allocation
 * (the 5-byte prefix against a cap), protobuf-c does the decoding, and every
 * failure comes back as an error naming what was wrong; no partial output. */
#ifndef CAIRN_RPC_GRPC_WIRE_H
#define CAIRN_RPC_GRPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"

#define GRPC_PREFIX_LEN 5
#define GRPC_ACTIVATE_PATH "/rpc.Marble/Activate"

/* grpc-status codes (gRPC's status code table). */
enum grpc_status {
    GRPC_OK = 0,
    GRPC_CANCELLED = 1,
    GRPC_UNKNOWN = 2,
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_DEADLINE_EXCEEDED = 4,
    GRPC_NOT_FOUND = 5,
    GRPC_PERMISSION_DENIED = 7,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_FAILED_PRECONDITION = 9,
    GRPC_UNIMPLEMENTED = 12,
    GRPC_INTERNAL = 13,
    GRPC_UNAVAILABLE = 14,
    GRPC_UNAUTHENTICATED = 16,
};

/* "PermissionDenied", ... for logs and client error messages. */
const char *grpc_status_name(int status);

/* The 5-byte message prefix: compressed flag (1 byte) and big-endian length.
 * Returns 0 with *len set; CAIRN_ERR_TOO_LARGE when the length exceeds `max`
 * (checked before anything is allocated); CAIRN_ERR_UNSUPPORTED for a
 * compressed message (no grpc-encoding is negotiated); CAIRN_ERR_INVALID for
 * a flag other than 0 or 1. */
int grpc_prefix_parse(const uint8_t p[GRPC_PREFIX_LEN], size_t max, size_t *len, struct cairn_error *err);
void grpc_prefix_write(uint8_t p[GRPC_PREFIX_LEN], size_t len);

/* grpc-message value: bytes outside 0x20..0x7e and '%' percent-encoded.
 * Returns malloc'd text or NULL (out of memory). */
char *grpc_message_encode(const char *msg);
/* The inverse, for clients; malformed escapes are kept as they are. */
char *grpc_message_decode(const char *s, size_t len);
/* One header or trailer line as libcurl hands it to a header callback
 * ("grpc-status: 7\r\n", "grpc-message: ...\r\n"; libcurl delivers
 * HTTP/2 trailers like headers): sets *status (a malformed value is
 * GRPC_UNKNOWN) or the decoded message into msg (bounded, NUL-terminated,
 * control bytes replaced by '?'); any other line is ignored. */
void grpc_status_line(const char *line, size_t n, int *status, char *msg, size_t msg_cap);

/* Server: an ActivationReq (without the prefix) into the JSON wire's request
 * object {"marbleType","uuid","csr": b64, "quote": b64 | "evidence": {...}}.
 * Quote mapping: empty -> "quote": "" (no evidence, simulation only); a first
 * byte '{' -> a JSON evidence object ("evidence", Cairn's extension for
 * TDX/SNP/TPM/sim evidence); anything else -> an SGX quote. Returns 0,
 * CAIRN_ERR_INVALID ("malformed request: ..."), or CAIRN_ERR_NOMEM.
 * *out: json_decref. */
int grpc_activation_req_to_json(const uint8_t *msg, size_t len, json_t **out, struct cairn_error *err);

/* Server: core_activate's {"files","env","argv"} (values base64) into a framed
 * ActivationResp (prefix included). *out holds secrets: wipe and free it
 * with grpc_free_secret(). */
int grpc_activation_resp_from_json(const json_t *data, uint8_t **out, size_t *out_len, struct cairn_error *err);

/* Client: the JSON wire's request object into a framed ActivationReq (the
 * inverse of grpc_activation_req_to_json). *out: free(). */
int grpc_activation_req_from_json(const json_t *req, uint8_t **out, size_t *out_len, struct cairn_error *err);

/* Client: an ActivationResp (without the prefix, untrusted) into
 * {"files","env","argv"} with base64 values, as the JSON wire answers.
 * *out: json_decref (it holds secrets). */
int grpc_activation_resp_to_json(const uint8_t *msg, size_t len, json_t **out, struct cairn_error *err);

/* Wipes `len` bytes and frees. NULL is fine. */
void grpc_free_secret(void *p, size_t len);

#endif
