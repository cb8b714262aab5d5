/* Shamir threshold sharing over GF(2^8) and XOR splitting; see shamir.h. */
#include "crypto/shamir.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "crypto/crypto.h"

/* Carry-less multiply reduced by 0x11b, 8 fixed rounds with masks instead
 * of branches so timing does not depend on the (secret) operands. */
uint8_t cc_gf256_mul(uint8_t a, uint8_t b)
{
    unsigned r = 0, x = a, y = b;
    for (int i = 0; i < 8; i++) {
        r ^= x & (0u - (y & 1u));
        y >>= 1;
        unsigned hi = 0u - ((x >> 7) & 1u);
        x = ((x << 1) ^ (0x1bu & hi)) & 0xffu;
    }
    return (uint8_t)r;
}

/* a^254 = a^-1 in GF(2^8) (and 0 for 0), by a fixed square-and-multiply chain. */
uint8_t cc_gf256_inv(uint8_t a)
{
    uint8_t r = a;                       /* a^1 */
    for (int i = 0; i < 6; i++)          /* builds a^(2^7 - 1) = a^127 */
        r = cc_gf256_mul(cc_gf256_mul(r, r), a);
    return cc_gf256_mul(r, r);           /* a^254 */
}

/* Random distinct x coordinates 1..255: a shuffled 1..255 (Fisher-Yates with
 * rejection sampling, so the choice is uniform), first `parts` taken. */
static int pick_xs(uint8_t *xs, unsigned parts)
{
    uint8_t perm[255];
    uint8_t rnd[512]; /* drawn in bulk: one RAND_bytes call per byte was ~200 us */
    size_t used = sizeof(rnd);
    for (int i = 0; i < 255; i++)
        perm[i] = (uint8_t)(i + 1);
    int rc = 0;
    for (int i = 254; i > 0; i--) {
        unsigned bound = (unsigned)i + 1, limit = 256 - 256 % bound, v;
        do {
            if (used == sizeof(rnd)) {
                if ((rc = cc_random(rnd, sizeof(rnd))) != 0)
                    goto out;
                used = 0;
            }
            v = rnd[used++];
        } while (v >= limit);
        unsigned j = v % bound;
        uint8_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    memcpy(xs, perm, parts);
out:
    cc_wipe(rnd, sizeof(rnd));
    cc_wipe(perm, sizeof(perm));
    return rc;
}

int cc_shamir_split(const uint8_t *secret, size_t len, unsigned parts, unsigned threshold, uint8_t **shares,
                    size_t *share_len)
{
    if (secret == NULL || shares == NULL || share_len == NULL || len == 0 || len > CC_SHAMIR_MAX_SECRET ||
        threshold < 2 || parts < threshold || parts > CC_SHAMIR_MAX_PARTS)
        return CAIRN_ERR_INVALID;
    size_t sl = len + 1;
    uint8_t *out = malloc((size_t)parts * sl);
    uint8_t *coef = malloc(threshold); /* coef[0] = secret byte, the rest random */
    uint8_t xs[255];
    int rc = CAIRN_ERR_NOMEM;
    if (out == NULL || coef == NULL)
        goto fail;
    if ((rc = pick_xs(xs, parts)) != 0)
        goto fail;
    for (unsigned p = 0; p < parts; p++)
        out[p * sl + len] = xs[p];
    for (size_t b = 0; b < len; b++) {
        coef[0] = secret[b];
        if ((rc = cc_random(coef + 1, threshold - 1)) != 0)
            goto fail;
        for (unsigned p = 0; p < parts; p++) {
            /* Horner: y = (((c_{t-1} x + c_{t-2}) x + ...) x + c_0 */
            uint8_t y = coef[threshold - 1];
            for (unsigned c = threshold - 1; c-- > 0;)
                y = (uint8_t)(cc_gf256_mul(y, xs[p]) ^ coef[c]);
            out[p * sl + b] = y;
        }
    }
    cc_free_secret(coef, threshold);
    *shares = out;
    *share_len = sl;
    return 0;
fail:
    cc_free_secret(coef, coef ? threshold : 0);
    cc_free_secret(out, out ? (size_t)parts * sl : 0);
    return rc;
}

int cc_shamir_combine(const uint8_t *const *shares, size_t n, size_t share_len, uint8_t **secret,
                      size_t *secret_len)
{
    if (shares == NULL || secret == NULL || secret_len == NULL || n < 2 || n > CC_SHAMIR_MAX_PARTS ||
        share_len < 2 || share_len - 1 > CC_SHAMIR_MAX_SECRET)
        return CAIRN_ERR_INVALID;
    size_t len = share_len - 1;
    uint8_t xs[255];
    for (size_t i = 0; i < n; i++) {
        if (shares[i] == NULL)
            return CAIRN_ERR_INVALID;
        xs[i] = shares[i][len];
        if (xs[i] == 0)
            return CAIRN_ERR_INVALID; /* x = 0 would be the secret itself: never a valid share */
        for (size_t j = 0; j < i; j++)
            if (xs[j] == xs[i])
                return CAIRN_ERR_INVALID; /* duplicate share */
    }
    /* Lagrange basis at x = 0: l_i = prod_{j != i} x_j / (x_i - x_j);
     * subtraction is XOR in GF(2^8). The x's are public. */
    uint8_t basis[255];
    for (size_t i = 0; i < n; i++) {
        uint8_t num = 1, den = 1;
        for (size_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            num = cc_gf256_mul(num, xs[j]);
            den = cc_gf256_mul(den, (uint8_t)(xs[i] ^ xs[j]));
        }
        basis[i] = cc_gf256_mul(num, cc_gf256_inv(den));
    }
    uint8_t *out = malloc(len);
    if (out == NULL)
        return CAIRN_ERR_NOMEM;
    for (size_t b = 0; b < len; b++) {
        uint8_t acc = 0;
        for (size_t i = 0; i < n; i++)
            acc ^= cc_gf256_mul(shares[i][b], basis[i]);
        out[b] = acc;
    }
    *secret = out;
    *secret_len = len;
    return 0;
}

int cc_xor_split(const uint8_t *secret, size_t len, unsigned n, uint8_t **shares)
{
    if (secret == NULL || shares == NULL || len == 0 || len > CC_SHAMIR_MAX_SECRET || n < 2 ||
        n > CC_SHAMIR_MAX_PARTS)
        return CAIRN_ERR_INVALID;
    uint8_t *out = malloc((size_t)n * len);
    if (out == NULL)
        return CAIRN_ERR_NOMEM;
    uint8_t *last = out + (size_t)(n - 1) * len;
    int rc = cc_random(out, (size_t)(n - 1) * len);
    if (rc != 0) {
        cc_free_secret(out, (size_t)n * len);
        return rc;
    }
    memcpy(last, secret, len);
    for (unsigned i = 0; i + 1 < n; i++)
        for (size_t b = 0; b < len; b++)
            last[b] ^= out[(size_t)i * len + b];
    *shares = out;
    return 0;
}

int cc_xor_combine(const uint8_t *const *shares, size_t n, size_t len, uint8_t **secret)
{
    if (shares == NULL || secret == NULL || n == 0 || len == 0 || len > CC_SHAMIR_MAX_SECRET)
        return CAIRN_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (shares[i] == NULL)
            return CAIRN_ERR_INVALID;
    uint8_t *out = calloc(1, len);
    if (out == NULL)
        return CAIRN_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < len; b++)
            out[b] ^= shares[i][b];
    *secret = out;
    return 0;
}
