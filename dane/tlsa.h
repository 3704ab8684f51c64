/* dane/tlsa.h — the DANE matcher for client certificates.  Pure function of
 * (chain DERs, TLSA rrset, identity, now): no I/O, no clock, no globals.
 *
 * Rules (RFC 6698 §2.1, RFC 7671, PROTOCOL.md §1):
 *  - usage 3 (DANE-EE): match the leaf only; names and dates are ignored.
 *  - usage 2 (DANE-TA): the matched certificate of the chain (selector 0/1) or
 *    a `2 1 0` full SPKI not in the chain is a trust anchor; the leaf must chain
 *    to it (each signature verified, each certificate within its validity
 *    dates at `now`, intermediates with cA set), and `identity` must equal one
 *    of the leaf's SAN dNSNames (case-insensitive; a leftmost `*` label in the
 *    SAN matches exactly one label).
 *  - usages 0/1 (PKIX-TA/EE): not enabled unless opts->pkix_enabled; when not
 *    enabled such records are skipped, and if nothing else matched the reason
 *    is DANE_R_PKIX_DISABLED.  (With pkix_enabled the caller's CA bundle check
 *    is out of scope for this pure matcher: treated as not supported.)
 *  - selector 0 = full certificate DER, 1 = SubjectPublicKeyInfo DER.
 *  - matching 0 = exact, 1 = SHA-256, 2 = SHA-512.
 *  - digest agility (RFC 7671 §9): for each (usage, selector) only the
 *    strongest matching type present among {1, 2} is used (2 > 1); type 0
 *    always counts.  Unknown usages/selectors/types are skipped.
 *  - one matching record is enough.
 */
#ifndef DANCED_DANE_TLSA_H
#define DANCED_DANE_TLSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DANE_CHAIN_MAX 8

/* At most this many `2 1 0` trust-anchor keys are tried (one signature
 * verification each) per dane_match call: bounds the work a large rrset can
 * cause.  See tlsa.c for the other path-building decisions. */
#define DANE_KEY_ANCHOR_MAX 16

typedef struct {
    const uint8_t *der;
    size_t len;
} dane_der_t;

typedef struct {
    uint8_t usage, selector, mtype;
    const uint8_t *data;
    size_t len;
} dane_tlsa_rr_t;

typedef enum {
    DANE_OK = 0,             /* authenticated */
    DANE_R_NO_MATCH,         /* no usable record matched the chain */
    DANE_R_NO_USABLE,        /* rrset had no record with a supported usage/selector/type */
    DANE_R_PKIX_DISABLED,    /* only PKIX usages (0/1) present and PKIX is not enabled */
    DANE_R_BAD_CERT,         /* leaf (or a chain cert) could not be parsed */
    DANE_R_EXPIRED,          /* DANE-TA path: a certificate is outside its validity dates */
    DANE_R_BAD_SIGNATURE,    /* DANE-TA path: a signature in the chain does not verify */
    DANE_R_NAME_MISMATCH,    /* DANE-TA path: identity is not a SAN dNSName of the leaf */
    DANE_R_NOT_CA,           /* DANE-TA path: an issuing certificate lacks cA */
    DANE_R_EMPTY_CHAIN,      /* no certificate */
} dane_reason_t;

typedef struct {
    bool pkix_enabled;
} dane_match_opts_t;

typedef struct {
    dane_reason_t reason;
    int matched_index;         /* index in the rrset of the record that matched, -1 if none */
    int64_t valid_until;       /* DANE-TA: min notAfter of the certificates used; INT64_MAX for EE */
} dane_verdict_t;

/* chain[0] is the leaf.  identity is the lowercase identity, presentation form
 * without trailing dot.  Always fills *out; returns out->reason. */
dane_reason_t dane_match(const dane_der_t *chain, size_t chain_len,
                         const dane_tlsa_rr_t *rrs, size_t n_rrs,
                         const char *identity, int64_t now,
                         const dane_match_opts_t *opts, dane_verdict_t *out);

/* Short human text of a reason, suitable for EDE EXTRA-TEXT ("no match"...). */
const char *dane_reason_text(dane_reason_t r);

/* Compute the TLSA association data for (selector, mtype) of a certificate
 * DER into out (cap >= 64 for digests, or the selected bytes' length for
 * mtype 0).  Used by dancectl and tests.  Returns 0 or DN_E*. */
int dane_tlsa_data(const uint8_t *cert_der, size_t cert_len, uint8_t selector, uint8_t mtype,
                   uint8_t *out, size_t cap, size_t *out_len);

/* Does the SAN dNSName san[0..san_len) name `identity`?  ASCII
 * case-insensitive, one trailing dot tolerated on either side; a SAN whose
 * leftmost label is exactly `*` matches one non-empty label when at least two
 * labels follow it.  False for NULL or empty names.  Used by dane_match. */
bool dane_name_matches(const uint8_t *san, size_t san_len, const char *identity);

#endif
