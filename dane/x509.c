/* dane/x509.c — a small, strict DER walker over X.509 certificates, and
 * signature verification with wolfCrypt.
 *
 * Certificates come from unauthenticated TLS peers and TLSA data from DNS, so
 * every read is bounds-checked against the enclosing element, lengths are
 * definite, minimal and at most 4 octets, and nothing is allocated.  wolfSSL
 * is not built with sanitizers, so the keys and signatures handed to it are
 * first checked for shape here. */
#include "dane/x509.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>

#include "core/err.h"

/* ---- DER primitives ---------------------------------------------------- */

enum {
    TAG_BOOLEAN = 0x01,
    TAG_INTEGER = 0x02,
    TAG_BIT_STRING = 0x03,
    TAG_OCTET_STRING = 0x04,
    TAG_NULL = 0x05,
    TAG_OID = 0x06,
    TAG_UTCTIME = 0x17,
    TAG_GENTIME = 0x18,
    TAG_SEQUENCE = 0x30,
    TAG_CTX0_CONS = 0xa0,
    TAG_CTX1_PRIM = 0x81,
    TAG_CTX2_PRIM = 0x82,
    TAG_CTX3_CONS = 0xa3,
};

/* A cursor over [p, end). */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} der_cur_t;

/* One element: its tag, the whole TLV span and the contents span. */
typedef struct {
    uint8_t tag;
    x509_span_t all;
    x509_span_t val;
} der_elem_t;

/* Read one TLV at the cursor.  Only low tag numbers (the certificate profile
 * never needs more), definite minimal lengths of at most 4 octets.  The
 * contents must fit inside the cursor: DN_ETRUNC otherwise. */
static int der_next(der_cur_t *c, der_elem_t *e)
{
    const uint8_t *p = c->p;
    size_t avail = (size_t)(c->end - p);
    if (avail < 2)
        return DN_ETRUNC;
    uint8_t tag = p[0];
    if ((tag & 0x1f) == 0x1f)
        return DN_EFORMAT; /* high tag number form */
    uint8_t l0 = p[1];
    size_t hdr = 2, len;
    if (l0 < 0x80) {
        len = l0;
    } else {
        size_t n = l0 & 0x7f;
        if (n == 0 || n > 4)
            return DN_EFORMAT; /* indefinite, or absurdly long */
        if (avail - 2 < n)
            return DN_ETRUNC;
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | p[2 + i];
        /* DER: the shortest form, no leading zero octet. */
        if (p[2] == 0 || len < 0x80)
            return DN_EFORMAT;
        hdr += n;
    }
    if (avail - hdr < len)
        return DN_ETRUNC;
    e->tag = tag;
    e->all.ptr = p;
    e->all.len = hdr + len;
    e->val.ptr = p + hdr;
    e->val.len = len;
    c->p = p + hdr + len;
    return DN_OK;
}

/* Read one TLV that must carry `tag`. */
static int der_expect(der_cur_t *c, uint8_t tag, der_elem_t *e)
{
    int rc = der_next(c, e);
    if (rc != DN_OK)
        return rc;
    return e->tag == tag ? DN_OK : DN_EFORMAT;
}

static bool der_peek(const der_cur_t *c, uint8_t tag)
{
    return c->p < c->end && c->p[0] == tag;
}

static der_cur_t der_inside(const der_elem_t *e)
{
    der_cur_t c = { e->val.ptr, e->val.ptr + e->val.len };
    return c;
}

static bool der_done(const der_cur_t *c)
{
    return c->p == c->end;
}

static bool span_eq(x509_span_t a, const uint8_t *b, size_t blen)
{
    return a.len == blen && (blen == 0 || memcmp(a.ptr, b, blen) == 0);
}

/* A DER BOOLEAN: exactly one octet, 0x00 or 0xff. */
static int der_bool(const der_elem_t *e, bool *out)
{
    if (e->val.len != 1 || (e->val.ptr[0] != 0x00 && e->val.ptr[0] != 0xff))
        return DN_EFORMAT;
    *out = e->val.ptr[0] == 0xff;
    return DN_OK;
}

/* BIT STRING contents without the unused-bits octet; keys and signatures are
 * whole octets, so a non-zero unused-bits count is refused. */
static int der_bits(const der_elem_t *e, x509_span_t *out)
{
    if (e->val.len < 1 || e->val.ptr[0] != 0)
        return DN_EFORMAT;
    out->ptr = e->val.ptr + 1;
    out->len = e->val.len - 1;
    return DN_OK;
}

/* A DER INTEGER that must be positive: returns its magnitude (the leading
 * zero octet, if any, stripped). */
static int der_uint(const der_elem_t *e, x509_span_t *mag)
{
    const uint8_t *p = e->val.ptr;
    size_t n = e->val.len;
    if (e->tag != TAG_INTEGER || n == 0 || (p[0] & 0x80))
        return DN_EFORMAT;
    if (n > 1 && p[0] == 0 && !(p[1] & 0x80))
        return DN_EFORMAT; /* non-minimal */
    if (p[0] == 0) {
        p++;
        n--;
    }
    if (n == 0)
        return DN_EFORMAT; /* zero */
    mag->ptr = p;
    mag->len = n;
    return DN_OK;
}

/* ---- object identifiers (DER contents octets) --------------------------- */

static const uint8_t OID_EC_PUBKEY[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const uint8_t OID_P256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t OID_P384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t OID_ED25519[] = { 0x2b, 0x65, 0x70 };
static const uint8_t OID_RSA[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const uint8_t OID_ECDSA_SHA256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t OID_ECDSA_SHA384[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
static const uint8_t OID_RSA_SHA256[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b };
static const uint8_t OID_RSA_SHA384[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c };
static const uint8_t OID_RSA_SHA512[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d };
static const uint8_t OID_SAN[] = { 0x55, 0x1d, 0x11 };
static const uint8_t OID_BASIC_CONSTRAINTS[] = { 0x55, 0x1d, 0x13 };

#define OID_IS(span, oid) span_eq((span), (oid), sizeof(oid))

/* AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }.
 * Returns the OID contents and the parameters element (params->all.len == 0
 * when absent). */
static int parse_alg_id(const der_elem_t *seq, x509_span_t *oid, der_elem_t *params)
{
    der_cur_t c = der_inside(seq);
    der_elem_t e;
    int rc = der_expect(&c, TAG_OID, &e);
    if (rc != DN_OK)
        return rc;
    if (e.val.len == 0)
        return DN_EFORMAT;
    *oid = e.val;
    memset(params, 0, sizeof *params);
    if (!der_done(&c)) {
        rc = der_next(&c, params);
        if (rc != DN_OK)
            return rc;
        if (!der_done(&c))
            return DN_EFORMAT;
    }
    return DN_OK;
}

static bool params_absent(const der_elem_t *params)
{
    return params->all.len == 0;
}

static bool params_null_or_absent(const der_elem_t *params)
{
    return params->all.len == 0 || (params->tag == TAG_NULL && params->val.len == 0);
}

/* Signature algorithm of an AlgorithmIdentifier (UNKNOWN is not an error).
 * RFC 5758/8410: no parameters for ECDSA and Ed25519; RFC 4055: NULL or
 * absent for PKCS #1 v1.5. */
static int parse_sig_alg(const der_elem_t *seq, x509_sig_alg_t *alg)
{
    x509_span_t oid;
    der_elem_t params;
    int rc = parse_alg_id(seq, &oid, &params);
    if (rc != DN_OK)
        return rc;
    x509_sig_alg_t a = X509_SIG_UNKNOWN;
    if (OID_IS(oid, OID_ECDSA_SHA256) && params_absent(&params))
        a = X509_SIG_ECDSA_SHA256;
    else if (OID_IS(oid, OID_ECDSA_SHA384) && params_absent(&params))
        a = X509_SIG_ECDSA_SHA384;
    else if (OID_IS(oid, OID_ED25519) && params_absent(&params))
        a = X509_SIG_ED25519;
    else if (OID_IS(oid, OID_RSA_SHA256) && params_null_or_absent(&params))
        a = X509_SIG_RSA_SHA256;
    else if (OID_IS(oid, OID_RSA_SHA384) && params_null_or_absent(&params))
        a = X509_SIG_RSA_SHA384;
    else if (OID_IS(oid, OID_RSA_SHA512) && params_null_or_absent(&params))
        a = X509_SIG_RSA_SHA512;
    *alg = a;
    return DN_OK;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
 * subjectPublicKey BIT STRING }.  `seq` is the SPKI element itself. */
static int parse_spki_elem(const der_elem_t *seq, x509_key_type_t *type, x509_span_t *key)
{
    der_cur_t c = der_inside(seq);
    der_elem_t alg, bits;
    int rc = der_expect(&c, TAG_SEQUENCE, &alg);
    if (rc == DN_OK)
        rc = der_expect(&c, TAG_BIT_STRING, &bits);
    if (rc != DN_OK)
        return rc;
    if (!der_done(&c))
        return DN_EFORMAT;
    x509_span_t oid;
    der_elem_t params;
    if ((rc = parse_alg_id(&alg, &oid, &params)) != DN_OK)
        return rc;
    x509_key_type_t t = X509_KEY_UNKNOWN;
    if (OID_IS(oid, OID_EC_PUBKEY)) {
        /* Only named curves; explicit parameters are not supported. */
        if (params.tag == TAG_OID && OID_IS(params.val, OID_P256))
            t = X509_KEY_EC_P256;
        else if (params.tag == TAG_OID && OID_IS(params.val, OID_P384))
            t = X509_KEY_EC_P384;
    } else if (OID_IS(oid, OID_ED25519) && params_absent(&params)) {
        t = X509_KEY_ED25519;
    } else if (OID_IS(oid, OID_RSA) && params_null_or_absent(&params)) {
        t = X509_KEY_RSA;
    }
    x509_span_t k;
    if ((rc = der_bits(&bits, &k)) != DN_OK)
        return rc;
    *type = t;
    *key = k;
    return DN_OK;
}

int x509_parse_spki(const uint8_t *der, size_t len, x509_key_type_t *type, x509_span_t *public_key)
{
    if (!der || !type || !public_key)
        return DN_EINVAL;
    der_cur_t c = { der, der + len };
    der_elem_t seq;
    int rc = der_expect(&c, TAG_SEQUENCE, &seq);
    if (rc != DN_OK)
        return rc;
    if (!der_done(&c))
        return DN_EFORMAT;
    return parse_spki_elem(&seq, type, public_key);
}

/* ---- time ---------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date.  Counted in 400-year
 * eras (146097 days each) starting on March 1st so that the leap day is the
 * last day of the shifted year. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                              /* [0, 399] */
    int64_t mp = m > 2 ? (int64_t)m - 3 : (int64_t)m + 9;     /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;        /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;      /* [0, 146096] */
    return era * 146097 + doe - 719468;                       /* 719468: 0000-03-01 .. 1970-01-01 */
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int digits(const uint8_t *p, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return DN_EFORMAT;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return DN_OK;
}

int x509_time_to_epoch(uint8_t tag, const uint8_t *p, size_t len, int64_t *out)
{
    if (!p || !out)
        return DN_EINVAL;
    unsigned year, mon, day, hh, mm, ss;
    size_t ylen;
    /* RFC 5280 §4.1.2.5: seconds always present, Zulu, no fractions. */
    if (tag == TAG_UTCTIME && len == 13)
        ylen = 2;
    else if (tag == TAG_GENTIME && len == 15)
        ylen = 4;
    else
        return DN_EFORMAT;
    if (p[len - 1] != 'Z')
        return DN_EFORMAT;
    const uint8_t *q = p + ylen;
    if (digits(p, ylen, &year) || digits(q, 2, &mon) || digits(q + 2, 2, &day) ||
        digits(q + 4, 2, &hh) || digits(q + 6, 2, &mm) || digits(q + 8, 2, &ss))
        return DN_EFORMAT;
    if (ylen == 2)
        year += year >= 50 ? 1900 : 2000; /* RFC 5280: YY >= 50 is 19YY */
    static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (mon < 1 || mon > 12 || day < 1 || hh > 23 || mm > 59 || ss > 59)
        return DN_EFORMAT;
    unsigned dim = mdays[mon - 1] + (mon == 2 && is_leap(year));
    if (day > dim)
        return DN_EFORMAT;
    *out = days_from_civil(year, mon, day) * 86400 + (int64_t)hh * 3600 + (int64_t)mm * 60 + ss;
    return DN_OK;
}

static int parse_time(der_cur_t *c, int64_t *out)
{
    der_elem_t e;
    int rc = der_next(c, &e);
    if (rc != DN_OK)
        return rc;
    return x509_time_to_epoch(e.tag, e.val.ptr, e.val.len, out);
}

/* ---- extensions ---------------------------------------------------------- */

/* GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName.  dNSName is [2]
 * IA5String (primitive, implicit); every other choice is only counted. */
static int parse_san(x509_span_t value, x509_cert_t *x)
{
    der_cur_t outer = { value.ptr, value.ptr + value.len };
    der_elem_t seq;
    int rc = der_expect(&outer, TAG_SEQUENCE, &seq);
    if (rc != DN_OK)
        return rc;
    if (!der_done(&outer))
        return DN_EFORMAT;
    der_cur_t c = der_inside(&seq);
    while (!der_done(&c)) {
        der_elem_t gn;
        if ((rc = der_next(&c, &gn)) != DN_OK)
            return rc;
        if ((gn.tag & 0xc0) != 0x80)
            return DN_EFORMAT; /* GeneralName is always context-specific */
        if (gn.tag == TAG_CTX2_PRIM) {
            if (x->n_dnsnames >= X509_MAX_DNSNAMES)
                return DN_ERANGE;
            x->dnsnames[x->n_dnsnames++] = gn.val;
        } else {
            x->n_other_sans++;
        }
    }
    x->has_san = true;
    return DN_OK;
}

/* BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE,
 * pathLenConstraint INTEGER (0..MAX) OPTIONAL }.  pathLenConstraint is
 * checked for shape only: DANE chains are at most DANE_CHAIN_MAX long. */
static int parse_basic_constraints(x509_span_t value, x509_cert_t *x)
{
    der_cur_t outer = { value.ptr, value.ptr + value.len };
    der_elem_t seq, e;
    int rc = der_expect(&outer, TAG_SEQUENCE, &seq);
    if (rc != DN_OK)
        return rc;
    if (!der_done(&outer))
        return DN_EFORMAT;
    der_cur_t c = der_inside(&seq);
    bool ca = false;
    if (der_peek(&c, TAG_BOOLEAN)) {
        if ((rc = der_next(&c, &e)) != DN_OK || (rc = der_bool(&e, &ca)) != DN_OK)
            return rc;
    }
    if (der_peek(&c, TAG_INTEGER)) {
        if ((rc = der_next(&c, &e)) != DN_OK)
            return rc;
        if (e.val.len == 0 || (e.val.ptr[0] & 0x80))
            return DN_EFORMAT;
    }
    if (!der_done(&c))
        return DN_EFORMAT;
    x->has_basic_constraints = true;
    x->is_ca = ca;
    return DN_OK;
}

/* Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension
 * Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE,
 *                          extnValue OCTET STRING }
 * Unknown extensions are skipped whatever their criticality: this walker
 * feeds DANE, where the TLSA record, not the extension set, grants trust. */
static int parse_extensions(const der_elem_t *a3, x509_cert_t *x)
{
    der_cur_t outer = der_inside(a3);
    der_elem_t seq;
    int rc = der_expect(&outer, TAG_SEQUENCE, &seq);
    if (rc != DN_OK)
        return rc;
    if (!der_done(&outer))
        return DN_EFORMAT;
    der_cur_t c = der_inside(&seq);
    while (!der_done(&c)) {
        der_elem_t ext, oid, e;
        if ((rc = der_expect(&c, TAG_SEQUENCE, &ext)) != DN_OK)
            return rc;
        der_cur_t ec = der_inside(&ext);
        if ((rc = der_expect(&ec, TAG_OID, &oid)) != DN_OK)
            return rc;
        if (der_peek(&ec, TAG_BOOLEAN)) {
            bool critical;
            if ((rc = der_next(&ec, &e)) != DN_OK || (rc = der_bool(&e, &critical)) != DN_OK)
                return rc;
        }
        if ((rc = der_expect(&ec, TAG_OCTET_STRING, &e)) != DN_OK)
            return rc;
        if (!der_done(&ec))
            return DN_EFORMAT;
        /* RFC 5280 §4.2: an extension appears at most once. */
        if (OID_IS(oid.val, OID_SAN)) {
            if (x->has_san)
                return DN_EFORMAT;
            rc = parse_san(e.val, x);
        } else if (OID_IS(oid.val, OID_BASIC_CONSTRAINTS)) {
            if (x->has_basic_constraints)
                return DN_EFORMAT;
            rc = parse_basic_constraints(e.val, x);
        }
        if (rc != DN_OK)
            return rc;
    }
    return DN_OK;
}

/* ---- certificate --------------------------------------------------------- */

static int parse_tbs(const der_elem_t *tbs_elem, x509_span_t *tbs_sig_alg, x509_cert_t *x)
{
    der_cur_t c = der_inside(tbs_elem);
    der_elem_t e;
    int rc;

    /* version [0] EXPLICIT Version DEFAULT v1 */
    x->version = 1;
    if (der_peek(&c, TAG_CTX0_CONS)) {
        der_elem_t v;
        if ((rc = der_next(&c, &e)) != DN_OK)
            return rc;
        der_cur_t vc = der_inside(&e);
        if ((rc = der_expect(&vc, TAG_INTEGER, &v)) != DN_OK)
            return rc;
        if (!der_done(&vc) || v.val.len != 1 || v.val.ptr[0] > 2)
            return DN_EFORMAT;
        x->version = v.val.ptr[0] + 1u;
    }
    /* serialNumber: any INTEGER (real-world serials may be zero or negative). */
    if ((rc = der_expect(&c, TAG_INTEGER, &e)) != DN_OK)
        return rc;
    if (e.val.len == 0)
        return DN_EFORMAT;
    der_elem_t alg;
    if ((rc = der_expect(&c, TAG_SEQUENCE, &alg)) != DN_OK)
        return rc;
    *tbs_sig_alg = alg.all;
    if ((rc = der_expect(&c, TAG_SEQUENCE, &e)) != DN_OK)
        return rc;
    x->issuer = e.all;
    der_elem_t validity;
    if ((rc = der_expect(&c, TAG_SEQUENCE, &validity)) != DN_OK)
        return rc;
    der_cur_t vc = der_inside(&validity);
    if ((rc = parse_time(&vc, &x->not_before)) != DN_OK || (rc = parse_time(&vc, &x->not_after)) != DN_OK)
        return rc;
    if (!der_done(&vc))
        return DN_EFORMAT;
    if ((rc = der_expect(&c, TAG_SEQUENCE, &e)) != DN_OK)
        return rc;
    x->subject = e.all;
    if ((rc = der_expect(&c, TAG_SEQUENCE, &e)) != DN_OK)
        return rc;
    x->spki = e.all;
    if ((rc = parse_spki_elem(&e, &x->key_type, &x->public_key)) != DN_OK)
        return rc;
    /* issuerUniqueID [1] / subjectUniqueID [2] IMPLICIT BIT STRING (v2+) */
    if (der_peek(&c, TAG_CTX1_PRIM)) {
        if ((rc = der_next(&c, &e)) != DN_OK)
            return rc;
        if (x->version < 2)
            return DN_EFORMAT;
    }
    if (der_peek(&c, TAG_CTX2_PRIM)) {
        if ((rc = der_next(&c, &e)) != DN_OK)
            return rc;
        if (x->version < 2)
            return DN_EFORMAT;
    }
    /* extensions [3] EXPLICIT Extensions (v3 only) */
    if (der_peek(&c, TAG_CTX3_CONS)) {
        if ((rc = der_next(&c, &e)) != DN_OK)
            return rc;
        if (x->version != 3)
            return DN_EFORMAT;
        if ((rc = parse_extensions(&e, x)) != DN_OK)
            return rc;
    }
    if (!der_done(&c))
        return DN_EFORMAT;
    return DN_OK;
}

int x509_parse(const uint8_t *der, size_t len, x509_cert_t *out)
{
    if (!der || !out)
        return DN_EINVAL;
    x509_cert_t x;
    memset(&x, 0, sizeof x);
    der_cur_t top = { der, der + len };
    der_elem_t cert, tbs, alg, sig;
    int rc = der_expect(&top, TAG_SEQUENCE, &cert);
    if (rc != DN_OK)
        return rc;
    if (!der_done(&top))
        return DN_EFORMAT; /* trailing bytes */
    der_cur_t c = der_inside(&cert);
    if ((rc = der_expect(&c, TAG_SEQUENCE, &tbs)) != DN_OK ||
        (rc = der_expect(&c, TAG_SEQUENCE, &alg)) != DN_OK ||
        (rc = der_expect(&c, TAG_BIT_STRING, &sig)) != DN_OK)
        return rc;
    if (!der_done(&c))
        return DN_EFORMAT;
    x509_span_t tbs_alg;
    if ((rc = parse_tbs(&tbs, &tbs_alg, &x)) != DN_OK)
        return rc;
    /* RFC 5280 §4.1.1.2: the outer algorithm MUST equal the TBS one. */
    if (!span_eq(tbs_alg, alg.all.ptr, alg.all.len))
        return DN_EFORMAT;
    if ((rc = parse_sig_alg(&alg, &x.sig_alg)) != DN_OK)
        return rc;
    if ((rc = der_bits(&sig, &x.signature)) != DN_OK)
        return rc;
    x.der = cert.all;
    x.tbs = tbs.all;
    *out = x;
    return DN_OK;
}

/* ---- signature verification --------------------------------------------- */

/* wolfCrypt hashes take word32 lengths. */
static int hash_sha(int bits, const uint8_t *msg, size_t len, uint8_t *digest)
{
    if (len > UINT32_MAX)
        return DN_ERANGE;
    int rc;
    switch (bits) {
    case 256: rc = wc_Sha256Hash(msg, (word32)len, digest); break;
    case 384: rc = wc_Sha384Hash(msg, (word32)len, digest); break;
    case 512: rc = wc_Sha512Hash(msg, (word32)len, digest); break;
    default: return DN_EINVAL;
    }
    return rc == 0 ? DN_OK : DN_ECRYPTO;
}

int x509_hash(int bits, const uint8_t *msg, size_t len, uint8_t *digest)
{
    if ((!msg && len) || !digest)
        return DN_EINVAL;
    static const uint8_t empty[1] = { 0 };
    return hash_sha(bits, msg ? msg : empty, len, digest);
}

/* Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, both positive and
 * no longer than the curve order; checked here so that wolfSSL only ever
 * sees well-formed DER. */
static int check_ecdsa_sig(x509_span_t sig, size_t order_len)
{
    der_cur_t top = { sig.ptr, sig.ptr + sig.len };
    der_elem_t seq, r, s;
    x509_span_t mr, ms;
    int rc = der_expect(&top, TAG_SEQUENCE, &seq);
    if (rc != DN_OK)
        return DN_EFORMAT;
    der_cur_t c = der_inside(&seq);
    if (!der_done(&top) || der_next(&c, &r) != DN_OK || der_next(&c, &s) != DN_OK || !der_done(&c))
        return DN_EFORMAT;
    if (der_uint(&r, &mr) != DN_OK || der_uint(&s, &ms) != DN_OK)
        return DN_EFORMAT;
    /* Well-formed but larger than this curve's order: not a signature made
     * with this key (e.g. a P-384 signature checked against a P-256 key). */
    if (mr.len > order_len || ms.len > order_len)
        return DN_ECRYPTO;
    return DN_OK;
}

static int verify_ecdsa(const x509_cert_t *cert, x509_key_type_t kt, x509_span_t pub)
{
    int curve = kt == X509_KEY_EC_P256 ? ECC_SECP256R1 : ECC_SECP384R1;
    size_t flen = kt == X509_KEY_EC_P256 ? 32 : 48;
    /* Uncompressed point only (RFC 5480 §2.2 MUST for CAs). */
    if (pub.len != 1 + 2 * flen || pub.ptr[0] != 0x04)
        return DN_EFORMAT;
    int rc = check_ecdsa_sig(cert->signature, flen);
    if (rc != DN_OK)
        return rc;
    uint8_t digest[48];
    int hbits = cert->sig_alg == X509_SIG_ECDSA_SHA256 ? 256 : 384;
    rc = hash_sha(hbits, cert->tbs.ptr, cert->tbs.len, digest);
    if (rc != DN_OK)
        return rc;
    ecc_key key;
    if (wc_ecc_init(&key) != 0)
        return DN_ECRYPTO;
    int res = 0;
    if (wc_ecc_import_x963_ex(pub.ptr, (word32)pub.len, &key, curve) != 0) {
        rc = DN_EFORMAT;
    } else {
        int vrc = wc_ecc_verify_hash(cert->signature.ptr, (word32)cert->signature.len, digest,
                                     (word32)(hbits / 8), &res, &key);
        rc = vrc == 0 && res == 1 ? DN_OK : DN_ECRYPTO;
    }
    wc_ecc_free(&key);
    return rc;
}

static int verify_ed25519(const x509_cert_t *cert, x509_span_t pub)
{
    if (pub.len != ED25519_PUB_KEY_SIZE || cert->signature.len != ED25519_SIG_SIZE)
        return DN_EFORMAT;
    if (cert->tbs.len > UINT32_MAX)
        return DN_ERANGE;
    ed25519_key key;
    if (wc_ed25519_init(&key) != 0)
        return DN_ECRYPTO;
    int rc, res = 0;
    if (wc_ed25519_import_public(pub.ptr, (word32)pub.len, &key) != 0) {
        rc = DN_EFORMAT;
    } else {
        int vrc = wc_ed25519_verify_msg(cert->signature.ptr, (word32)cert->signature.len,
                                        cert->tbs.ptr, (word32)cert->tbs.len, &res, &key);
        rc = vrc == 0 && res == 1 ? DN_OK : DN_ECRYPTO;
    }
    wc_ed25519_free(&key);
    return rc;
}

/* DigestInfo prefixes of PKCS #1 v1.5 signatures (RFC 8017 §9.2, note 1):
 * SEQUENCE { SEQUENCE { hash OID, NULL }, OCTET STRING digest } up to the
 * digest itself. */
static const uint8_t DI_SHA256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
                                     0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
static const uint8_t DI_SHA384[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
                                     0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 };
static const uint8_t DI_SHA512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
                                     0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 };

/* Modulus sizes accepted: 2048 bits (anything smaller is too weak to anchor
 * trust) up to the 4096 bits this wolfSSL build can compute with. */
#define RSA_MIN_BYTES 256
#define RSA_MAX_BYTES 512

static int verify_rsa(const x509_cert_t *cert, x509_span_t pub)
{
    /* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
    der_cur_t top = { pub.ptr, pub.ptr + pub.len };
    der_elem_t seq, ne, ee;
    x509_span_t n, e;
    if (der_expect(&top, TAG_SEQUENCE, &seq) != DN_OK || !der_done(&top))
        return DN_EFORMAT;
    der_cur_t c = der_inside(&seq);
    if (der_next(&c, &ne) != DN_OK || der_next(&c, &ee) != DN_OK || !der_done(&c))
        return DN_EFORMAT;
    if (der_uint(&ne, &n) != DN_OK || der_uint(&ee, &e) != DN_OK)
        return DN_EFORMAT;
    if (n.len < RSA_MIN_BYTES || n.len > RSA_MAX_BYTES || e.len > 8)
        return DN_EUNSUPPORTED;
    if (!(n.ptr[n.len - 1] & 1) || !(e.ptr[e.len - 1] & 1) || (e.len == 1 && e.ptr[0] < 3))
        return DN_EFORMAT;
    if (cert->signature.len != n.len)
        return DN_EFORMAT;

    const uint8_t *prefix;
    size_t plen;
    int hbits;
    switch (cert->sig_alg) {
    case X509_SIG_RSA_SHA256: prefix = DI_SHA256; plen = sizeof DI_SHA256; hbits = 256; break;
    case X509_SIG_RSA_SHA384: prefix = DI_SHA384; plen = sizeof DI_SHA384; hbits = 384; break;
    default: prefix = DI_SHA512; plen = sizeof DI_SHA512; hbits = 512; break;
    }
    uint8_t expect[sizeof DI_SHA512 + 64];
    memcpy(expect, prefix, plen);
    int rc = hash_sha(hbits, cert->tbs.ptr, cert->tbs.len, expect + plen);
    if (rc != DN_OK)
        return rc;
    size_t elen = plen + (size_t)hbits / 8;

    RsaKey key;
    if (wc_InitRsaKey(&key, NULL) != 0)
        return DN_ECRYPTO;
    uint8_t decoded[RSA_MAX_BYTES];
    if (wc_RsaPublicKeyDecodeRaw(n.ptr, (word32)n.len, e.ptr, (word32)e.len, &key) != 0) {
        rc = DN_EFORMAT;
    } else {
        int got = wc_RsaSSL_Verify(cert->signature.ptr, (word32)cert->signature.len, decoded,
                                   (word32)sizeof decoded, &key);
        rc = got >= 0 && (size_t)got == elen && memcmp(decoded, expect, elen) == 0 ? DN_OK : DN_ECRYPTO;
    }
    wc_FreeRsaKey(&key);
    return rc;
}

int x509_verify_signed_by(const x509_cert_t *cert, const uint8_t *issuer_spki, size_t issuer_spki_len)
{
    if (!cert || !issuer_spki)
        return DN_EINVAL;
    x509_key_type_t kt;
    x509_span_t pub;
    int rc = x509_parse_spki(issuer_spki, issuer_spki_len, &kt, &pub);
    if (rc != DN_OK)
        return rc == DN_ETRUNC ? DN_EFORMAT : rc;
    if (kt == X509_KEY_UNKNOWN)
        return DN_EUNSUPPORTED;
    switch (cert->sig_alg) {
    case X509_SIG_ECDSA_SHA256:
    case X509_SIG_ECDSA_SHA384:
        /* Either hash may be used with either curve. */
        if (kt != X509_KEY_EC_P256 && kt != X509_KEY_EC_P384)
            return DN_ECRYPTO;
        return verify_ecdsa(cert, kt, pub);
    case X509_SIG_ED25519:
        if (kt != X509_KEY_ED25519)
            return DN_ECRYPTO;
        return verify_ed25519(cert, pub);
    case X509_SIG_RSA_SHA256:
    case X509_SIG_RSA_SHA384:
    case X509_SIG_RSA_SHA512:
        if (kt != X509_KEY_RSA)
            return DN_ECRYPTO;
        return verify_rsa(cert, pub);
    default:
        return DN_EUNSUPPORTED;
    }
}
