/* Shared body of fuzz_sgx_quote and fuzz_tdx_quote: parse, check the parser's
 * invariants, then run the full verifier at a time when the seed quotes'
 * certificates are valid (so mutations get past the chain check). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "attest/attest.h"
#include "attest/dcap.h"

static void fuzz_quote(const uint8_t *data, size_t size, uint32_t tee, enum attest_type type)
{
    /* The verified-result cache stays on, as in the Coordinator (it used to
     * be turned off here). With it off, every execution parsed and verified
     * the quote's PCK chain again (three PEM certificates, two signatures:
     * 80% of the time) although mutations mostly leave the chain alone; with
     * it on, a chain is verified once and again whenever its bytes change,
     * which is where the chain code has something new to meet. An entry
     * added during a run outlives it and makes libFuzzer look for a leak
     * (LSan finds none: the cache holds it), which costs time only on the
     * rare inputs whose mutated chain still verifies. */
    struct dcap_quote q;
    struct cairn_error err = {0};
    if (dcap_quote_parse(data, size, tee, &q, &err) == 0) {
        size_t base = q.oe_header ? DCAP_OE_HEADER_SIZE : 0;
        /* every borrowed pointer lies inside the input, and the sizes add up */
        if (q.quote_size + q.trailing + base != size || q.signed_size > q.quote_size ||
            q.cert_data + q.cert_data_size > data + size || q.qe_report < data ||
            (tee == DCAP_TEE_SGX && q.trailing != 0))
            abort();
    }
    struct attest_trust t = {.at = 1700000000}; /* 2023-11-14 */
    struct attest_evidence ev = {.type = type, .quote = data, .quote_len = size};
    struct attest_claims c;
    if (attest_verify(&ev, &t, NULL, 0, &c, &err) == 0) {
        if (c.json == NULL || c.report_data_len != 64)
            abort();
        attest_claims_free(&c);
    }
}
