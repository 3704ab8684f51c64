/* fuzz_tlsa — dane_match over a chain and an rrset cut out of the input.
 *
 * Framing (my own, chosen so that seeds are easy to build from fixtures):
 *   byte 0          index into NOWS (the validation time), modulo its size
 *   then items:     tag(1) len(2, big-endian) value(len)
 *     tag 0         a certificate DER, appended to the chain
 *     tag 1         a TLSA record: usage, selector, mtype, then data
 *     tag 2         the identity (at most 255 octets, NUL ends it early)
 *     other tags    ignored
 * A truncated last item is used with what is there.  Every piece is copied
 * into its own exact-size allocation so that ASan sees any overread. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dane/tlsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CERTS 12
#define MAX_RRS 64

static const int64_t NOWS[] = {
    1893456000LL,  /* 2030-01-01: fixtures valid */
    978307200LL,   /* 2001-01-01 */
    4102444799LL,  /* 2099-12-31T23:59:59 */
    0, INT64_MIN, INT64_MAX,
};

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int64_t now = NOWS[data[0] % (sizeof NOWS / sizeof NOWS[0])];
    dane_der_t chain[MAX_CERTS];
    dane_tlsa_rr_t rrs[MAX_RRS];
    uint8_t *owned[MAX_CERTS + MAX_RRS];
    size_t n_chain = 0, n_rrs = 0, n_owned = 0;
    char identity[256] = "bob._device.corp.example";

    size_t off = 1;
    while (off + 3 <= size) {
        uint8_t tag = data[off];
        size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
        off += 3;
        if (len > size - off)
            len = size - off;
        const uint8_t *v = data + off;
        off += len;
        if (tag == 0 && n_chain < MAX_CERTS) {
            uint8_t *d = dup_bytes(v, len);
            if (!d)
                break;
            owned[n_owned++] = d;
            chain[n_chain++] = (dane_der_t){ d, len };
        } else if (tag == 1 && n_rrs < MAX_RRS && len >= 3) {
            uint8_t *d = dup_bytes(v + 3, len - 3);
            if (!d)
                break;
            owned[n_owned++] = d;
            rrs[n_rrs++] = (dane_tlsa_rr_t){ v[0], v[1], v[2], d, len - 3 };
        } else if (tag == 2) {
            size_t k = len < sizeof identity - 1 ? len : sizeof identity - 1;
            memcpy(identity, v, k);
            identity[k] = 0;
        }
    }

    dane_verdict_t out;
    dane_match_opts_t opts = { (data[0] & 0x80) != 0 };
    dane_reason_t r = dane_match(chain, n_chain, rrs, n_rrs, identity, now, &opts, &out);
    if (r != out.reason || (r == DANE_OK) != (out.matched_index >= 0) ||
        out.matched_index >= (int)n_rrs || (n_chain == 0 && r != DANE_R_EMPTY_CHAIN))
        abort();
    if (r == DANE_OK && rrs[out.matched_index].usage == 3 && out.valid_until != INT64_MAX)
        abort();
    if (!dane_reason_text(r))
        abort();
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    return 0;
}
