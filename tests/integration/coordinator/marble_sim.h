/* Test/benchmark helper: a simulated marble's identity and activation
 * request (what cairn-premain does in simulation, DESIGN §11): a P-384 key,
 * a self-signed TLS certificate, a CSR, and "sim" evidence binding
 * SHA-256(certificate DER). Used by activate_tool and bench/loadgen. */
#ifndef CAIRN_TEST_MARBLE_SIM_H
#define CAIRN_TEST_MARBLE_SIM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum marble_sim_flaw {
    MARBLE_SIM_OK = 0,
    MARBLE_SIM_WRONG_BINDING,   /* evidence binds another certificate */
    MARBLE_SIM_GARBAGE_CSR,     /* "csr" is base64 of random bytes */
    MARBLE_SIM_UNSIGNED_CSR,    /* CSR with a broken signature */
    MARBLE_SIM_NO_EVIDENCE,     /* neither "quote" nor "evidence" */
    MARBLE_SIM_BAD_UUID,
};

struct marble_sim {
    char *cert_pem, *key_pem;   /* the TLS client identity */
    char *body;                 /* the activation request JSON */
    size_t body_len;
};

/* Builds a fresh identity and request. uuid NULL = random v4. 0 or -1. */
int marble_sim_new(const char *marble_type, const char *uuid, enum marble_sim_flaw flaw, struct marble_sim *out);
void marble_sim_free(struct marble_sim *m);

#endif
