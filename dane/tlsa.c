/* dane/tlsa.c — the DANE matcher for client certificates (see tlsa.h).
 *
 * Decisions beyond the header's rules, each following RFC 7671 or what
 * OpenSSL's DANE code does:
 *  - A leaf that does not parse is DANE_R_BAD_CERT whatever the records.  A
 *    chain certificate that does not parse is left out (it can neither anchor
 *    nor be part of a path); if nothing then matched and a DANE-TA record was
 *    usable, the verdict is DANE_R_BAD_CERT.
 *  - DANE-TA records with selector 0/1 are compared with chain certificates
 *    at index >= 1 only: a trust anchor issues the leaf, it is not the leaf
 *    (OpenSSL likewise matches TA usages at depth > 0 only).  A `2 1 0` key
 *    may sign the leaf directly.
 *  - The path is built once, from the leaf upwards, taking at each step the
 *    first unused certificate whose subject equals the current issuer (DER
 *    byte compare), stopping at a self-issued certificate.  A matched anchor
 *    certificate that is not on this path does not count as a match.  A
 *    `2 1 0` key is tried against the top of the path only (whatever it signs
 *    is, by construction, not in the chain).
 *  - Every certificate that issues another on the path must have
 *    basicConstraints with cA TRUE, with one exception: an anchor
 *    certificate of version 1 or 2 (which cannot carry extensions) is a CA
 *    because the TLSA record says so (RFC 5280 §6.1.4 (k) allows that
 *    out-of-band knowledge).  A v3 anchor without basicConstraints, and any
 *    v1 intermediate, is DANE_R_NOT_CA.  pathLenConstraint and keyUsage are
 *    not enforced.
 *  - Path checks run in this order and the first failure is the reason:
 *    signatures, cA, validity dates (every certificate of the path, the
 *    anchor certificate included; not-yet-valid counts as EXPIRED), name.
 *  - Records whose data length cannot match (type 1 not 32 octets, type 2
 *    not 64, type 0 empty) are malformed: unusable, and ignored by digest
 *    agility too.
 *  - Work is bounded: the chain is truncated to DANE_CHAIN_MAX, path
 *    signatures are verified at most once each, digests are computed at most
 *    once per (certificate, selector, type), and at most DANE_KEY_ANCHOR_MAX
 *    `2 1 0` keys are tried per call. */
#include "dane/tlsa.h"

#include <string.h>

#include "core/err.h"
#include "dane/x509.h"

#define SHA256_LEN 32
#define SHA512_LEN 64

enum { USAGE_PKIX_TA = 0, USAGE_PKIX_EE = 1, USAGE_DANE_TA = 2, USAGE_DANE_EE = 3 };

typedef struct {
    size_t n;                              /* certificates considered */
    x509_cert_t certs[DANE_CHAIN_MAX];
    bool parsed[DANE_CHAIN_MAX];
    bool any_bad;                          /* a non-leaf certificate did not parse */
    /* digest cache: [cert][selector][mtype-1] */
    bool have_dig[DANE_CHAIN_MAX][2][2];
    uint8_t dig[DANE_CHAIN_MAX][2][2][SHA512_LEN];
    /* the path from the leaf upwards (chain indexes) */
    size_t path[DANE_CHAIN_MAX];
    size_t path_len;
    int8_t sig_state[DANE_CHAIN_MAX];      /* path[i] signed by path[i+1]: 0 unknown, 1 yes, -1 no */
    unsigned key_tries;
    const char *identity;
    int64_t now;
} match_ctx_t;

/* ---- names --------------------------------------------------------------- */

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool ieq(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

/* Does SAN dNSName `san` name `id`?  Case-insensitive, one trailing dot
 * tolerated on either side.  A SAN whose leftmost label is exactly `*`
 * matches one non-empty label, and only when at least two labels follow it
 * (`*.example` never matches). */
bool dane_name_matches(const uint8_t *san, size_t san_len, const char *id)
{
    if (!san || !id)
        return false;
    size_t id_len = strlen(id);
    const uint8_t *idp = (const uint8_t *)id;
    if (san_len && san[san_len - 1] == '.')
        san_len--;
    if (id_len && idp[id_len - 1] == '.')
        id_len--;
    if (san_len == 0 || id_len == 0)
        return false;
    if (san_len >= 2 && san[0] == '*' && san[1] == '.') {
        const uint8_t *rest = san + 2;
        size_t rest_len = san_len - 2;
        if (rest_len == 0 || !memchr(rest, '.', rest_len))
            return false;
        const uint8_t *dot = memchr(idp, '.', id_len);
        if (!dot || dot == idp)
            return false;
        size_t tail_len = id_len - (size_t)(dot + 1 - idp);
        return tail_len == rest_len && ieq(dot + 1, rest, rest_len);
    }
    return san_len == id_len && ieq(san, idp, id_len);
}

static bool leaf_has_name(const match_ctx_t *m)
{
    const x509_cert_t *leaf = &m->certs[0];
    for (unsigned i = 0; i < leaf->n_dnsnames; i++)
        if (dane_name_matches(leaf->dnsnames[i].ptr, leaf->dnsnames[i].len, m->identity))
            return true;
    return false;
}

/* ---- records and digests -------------------------------------------------- */

static bool rr_shape_ok(const dane_tlsa_rr_t *rr)
{
    if (rr->selector > 1 || rr->len == 0 || !rr->data)
        return false;
    switch (rr->mtype) {
    case 0: return true;
    case 1: return rr->len == SHA256_LEN;
    case 2: return rr->len == SHA512_LEN;
    default: return false;
    }
}

static bool rr_usable(const dane_tlsa_rr_t *rr)
{
    return (rr->usage == USAGE_DANE_TA || rr->usage == USAGE_DANE_EE) && rr_shape_ok(rr);
}

static x509_span_t selected(const x509_cert_t *c, uint8_t selector)
{
    return selector == 0 ? c->der : c->spki;
}

/* Does chain certificate i match the record's selector/type/data? */
static bool cert_matches(match_ctx_t *m, size_t i, const dane_tlsa_rr_t *rr)
{
    if (!m->parsed[i])
        return false;
    x509_span_t sel = selected(&m->certs[i], rr->selector);
    if (rr->mtype == 0)
        return sel.len == rr->len && memcmp(sel.ptr, rr->data, rr->len) == 0;
    int t = rr->mtype - 1;
    uint8_t *d = m->dig[i][rr->selector][t];
    if (!m->have_dig[i][rr->selector][t]) {
        if (x509_hash(rr->mtype == 1 ? 256 : 512, sel.ptr, sel.len, d) != DN_OK)
            return false;
        m->have_dig[i][rr->selector][t] = true;
    }
    return memcmp(d, rr->data, rr->len) == 0;
}

/* ---- the path ------------------------------------------------------------- */

static bool same_span(x509_span_t a, x509_span_t b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static void build_path(match_ctx_t *m)
{
    bool used[DANE_CHAIN_MAX] = { false };
    size_t cur = 0;
    m->path[0] = 0;
    m->path_len = 1;
    used[0] = true;
    while (m->path_len < m->n) {
        const x509_cert_t *c = &m->certs[cur];
        if (same_span(c->issuer, c->subject))
            break; /* self-issued: the top */
        size_t next = m->n;
        for (size_t j = 1; j < m->n; j++) {
            if (!used[j] && m->parsed[j] && same_span(m->certs[j].subject, c->issuer)) {
                next = j;
                break;
            }
        }
        if (next == m->n)
            break;
        used[next] = true;
        m->path[m->path_len++] = next;
        cur = next;
    }
}

static bool path_sig_ok(match_ctx_t *m, size_t i)
{
    if (m->sig_state[i] == 0) {
        const x509_cert_t *sub = &m->certs[m->path[i]];
        const x509_cert_t *iss = &m->certs[m->path[i + 1]];
        m->sig_state[i] = x509_verify_signed_by(sub, iss->spki.ptr, iss->spki.len) == DN_OK ? 1 : -1;
    }
    return m->sig_state[i] == 1;
}

/* Check path[0..k]: path[k] is the anchor certificate when anchor_cert, else
 * path[k] was signed by an anchor key (already verified).  Writes the path's
 * min notAfter to *until on success. */
static dane_reason_t check_path(match_ctx_t *m, size_t k, bool anchor_cert, int64_t *until)
{
    for (size_t i = 0; i < k; i++)
        if (!path_sig_ok(m, i))
            return DANE_R_BAD_SIGNATURE;
    for (size_t i = 1; i <= k; i++) {
        const x509_cert_t *c = &m->certs[m->path[i]];
        bool v1_anchor = anchor_cert && i == k && c->version < 3 && !c->has_basic_constraints;
        if (!(c->has_basic_constraints && c->is_ca) && !v1_anchor)
            return DANE_R_NOT_CA;
    }
    int64_t min_after = INT64_MAX;
    for (size_t i = 0; i <= k; i++) {
        const x509_cert_t *c = &m->certs[m->path[i]];
        if (m->now < c->not_before || m->now > c->not_after)
            return DANE_R_EXPIRED;
        if (c->not_after < min_after)
            min_after = c->not_after;
    }
    if (!leaf_has_name(m))
        return DANE_R_NAME_MISMATCH;
    *until = min_after;
    return DANE_OK;
}

/* Could a key of type kt have made a signature of algorithm alg?  A cheap
 * filter before spending a verification. */
static bool key_fits(x509_key_type_t kt, x509_sig_alg_t alg)
{
    switch (alg) {
    case X509_SIG_ECDSA_SHA256:
    case X509_SIG_ECDSA_SHA384: return kt == X509_KEY_EC_P256 || kt == X509_KEY_EC_P384;
    case X509_SIG_ED25519: return kt == X509_KEY_ED25519;
    case X509_SIG_RSA_SHA256:
    case X509_SIG_RSA_SHA384:
    case X509_SIG_RSA_SHA512: return kt == X509_KEY_RSA;
    default: return false;
    }
}

/* Try one DANE-TA record.  Returns DANE_OK (with *until), a path failure
 * reason when an anchor matched but the path failed, or DANE_R_NO_MATCH. */
static dane_reason_t try_dane_ta(match_ctx_t *m, const dane_tlsa_rr_t *rr, int64_t *until)
{
    dane_reason_t fail = DANE_R_NO_MATCH;
    for (size_t k = 1; k < m->path_len; k++) {
        if (!cert_matches(m, m->path[k], rr))
            continue;
        dane_reason_t r = check_path(m, k, true, until);
        if (r == DANE_OK)
            return r;
        if (fail == DANE_R_NO_MATCH)
            fail = r;
    }
    if (rr->selector == 1 && rr->mtype == 0) {
        x509_key_type_t kt;
        x509_span_t pub;
        size_t top = m->path_len - 1;
        const x509_cert_t *t = &m->certs[m->path[top]];
        if (x509_parse_spki(rr->data, rr->len, &kt, &pub) == DN_OK && key_fits(kt, t->sig_alg) &&
            m->key_tries < DANE_KEY_ANCHOR_MAX) {
            m->key_tries++;
            if (x509_verify_signed_by(t, rr->data, rr->len) == DN_OK) {
                dane_reason_t r = check_path(m, top, false, until);
                if (r == DANE_OK)
                    return r;
                if (fail == DANE_R_NO_MATCH)
                    fail = r;
            }
        }
    }
    return fail;
}

/* ---- the matcher ---------------------------------------------------------- */

dane_reason_t dane_match(const dane_der_t *chain, size_t chain_len,
                         const dane_tlsa_rr_t *rrs, size_t n_rrs,
                         const char *identity, int64_t now,
                         const dane_match_opts_t *opts, dane_verdict_t *out)
{
    dane_verdict_t v = { DANE_R_NO_MATCH, -1, 0 };
    if (!out)
        return DANE_R_NO_MATCH;
    if (!chain || chain_len == 0) {
        v.reason = DANE_R_EMPTY_CHAIN;
        *out = v;
        return v.reason;
    }
    if (!rrs)
        n_rrs = 0;

    /* ~6 KiB: fine on any thread stack, and no allocation. */
    match_ctx_t m;
    memset(&m, 0, sizeof m);
    m.n = chain_len < DANE_CHAIN_MAX ? chain_len : DANE_CHAIN_MAX;
    m.identity = identity;
    m.now = now;
    for (size_t i = 0; i < m.n; i++) {
        m.parsed[i] = chain[i].der && x509_parse(chain[i].der, chain[i].len, &m.certs[i]) == DN_OK;
        if (!m.parsed[i] && i > 0)
            m.any_bad = true;
    }
    if (!m.parsed[0]) {
        v.reason = DANE_R_BAD_CERT;
        *out = v;
        return v.reason;
    }

    /* Digest agility: the strongest type among {1, 2} per (usage, selector). */
    uint8_t best[4][2] = { { 0 } };
    bool any_usable = false, any_pkix = false, any_ta = false;
    for (size_t i = 0; i < n_rrs; i++) {
        const dane_tlsa_rr_t *rr = &rrs[i];
        if (rr->usage == USAGE_PKIX_TA || rr->usage == USAGE_PKIX_EE)
            any_pkix = true;
        if (!rr_usable(rr))
            continue;
        any_usable = true;
        any_ta |= rr->usage == USAGE_DANE_TA;
        if (rr->mtype > best[rr->usage][rr->selector])
            best[rr->usage][rr->selector] = rr->mtype;
    }

    bool path_built = false;
    dane_reason_t ta_fail = DANE_R_NO_MATCH;
    for (size_t i = 0; i < n_rrs; i++) {
        const dane_tlsa_rr_t *rr = &rrs[i];
        if (!rr_usable(rr))
            continue;
        if (rr->mtype != 0 && rr->mtype != best[rr->usage][rr->selector])
            continue; /* hidden by a stronger digest */
        if (rr->usage == USAGE_DANE_EE) {
            if (cert_matches(&m, 0, rr)) {
                v.reason = DANE_OK;
                v.matched_index = (int)i;
                v.valid_until = INT64_MAX;
                *out = v;
                return v.reason;
            }
            continue;
        }
        if (!path_built) {
            build_path(&m);
            path_built = true;
        }
        int64_t until = 0;
        dane_reason_t r = try_dane_ta(&m, rr, &until);
        if (r == DANE_OK) {
            v.reason = DANE_OK;
            v.matched_index = (int)i;
            v.valid_until = until;
            *out = v;
            return v.reason;
        }
        if (r != DANE_R_NO_MATCH && ta_fail == DANE_R_NO_MATCH)
            ta_fail = r;
    }

    /* PKIX usages are never matched here: with opts->pkix_enabled the CA
     * bundle check belongs to the caller, so they count as unsupported. */
    bool pkix_enabled = opts && opts->pkix_enabled;
    if (ta_fail != DANE_R_NO_MATCH)
        v.reason = ta_fail;
    else if (any_ta && m.any_bad)
        v.reason = DANE_R_BAD_CERT;
    else if (!any_usable && any_pkix && !pkix_enabled)
        v.reason = DANE_R_PKIX_DISABLED;
    else if (!any_usable)
        v.reason = DANE_R_NO_USABLE;
    else
        v.reason = DANE_R_NO_MATCH;
    *out = v;
    return v.reason;
}

const char *dane_reason_text(dane_reason_t r)
{
    switch (r) {
    case DANE_OK: return "authenticated";
    case DANE_R_NO_MATCH: return "no match";
    case DANE_R_NO_USABLE: return "no usable TLSA record";
    case DANE_R_PKIX_DISABLED: return "PKIX usages not enabled";
    case DANE_R_BAD_CERT: return "malformed certificate";
    case DANE_R_EXPIRED: return "expired certificate";
    case DANE_R_BAD_SIGNATURE: return "bad signature";
    case DANE_R_NAME_MISMATCH: return "name mismatch";
    case DANE_R_NOT_CA: return "issuer is not a CA";
    case DANE_R_EMPTY_CHAIN: return "no certificate";
    }
    return "unknown reason";
}

int dane_tlsa_data(const uint8_t *cert_der, size_t cert_len, uint8_t selector, uint8_t mtype,
                   uint8_t *out, size_t cap, size_t *out_len)
{
    if (!cert_der || !out || !out_len)
        return DN_EINVAL;
    if (selector > 1 || mtype > 2)
        return DN_EUNSUPPORTED;
    x509_cert_t c;
    int rc = x509_parse(cert_der, cert_len, &c);
    if (rc != DN_OK)
        return rc;
    x509_span_t sel = selected(&c, selector);
    if (mtype == 0) {
        if (cap < sel.len)
            return DN_ERANGE;
        memcpy(out, sel.ptr, sel.len);
        *out_len = sel.len;
        return DN_OK;
    }
    size_t dlen = mtype == 1 ? SHA256_LEN : SHA512_LEN;
    if (cap < dlen)
        return DN_ERANGE;
    uint8_t d[SHA512_LEN];
    if ((rc = x509_hash(mtype == 1 ? 256 : 512, sel.ptr, sel.len, d)) != DN_OK)
        return rc;
    memcpy(out, d, dlen);
    *out_len = dlen;
    return DN_OK;
}
