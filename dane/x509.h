/* dane/x509.h — a small DER walker over X.509 certificates.  Pure (no
 * allocation, no I/O): every span points into the caller's DER buffer, which
 * must outlive the x509_cert_t.
 *
 * It extracts exactly what DANE needs: the SubjectPublicKeyInfo (TLSA
 * selector 1), SAN dNSNames (the client identity), the validity dates, the
 * signed TBSCertificate with its signature and algorithm (DANE-TA chain
 * checks), issuer/subject (chain building) and basicConstraints.
 *
 * Contract: x509_parse returns 0 or a negative DN_E* (core/err.h); it never
 * reads outside [der, der+len) whatever the input. */
#ifndef DANCED_DANE_X509_H
#define DANCED_DANE_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct {
    const uint8_t *ptr;
    size_t len;
} x509_span_t;

#define X509_MAX_DNSNAMES 16

typedef enum {
    X509_KEY_UNKNOWN = 0,
    X509_KEY_EC_P256,
    X509_KEY_EC_P384,
    X509_KEY_ED25519,
    X509_KEY_RSA,
} x509_key_type_t;

typedef enum {
    X509_SIG_UNKNOWN = 0,
    X509_SIG_ECDSA_SHA256,
    X509_SIG_ECDSA_SHA384,
    X509_SIG_ED25519,
    X509_SIG_RSA_SHA256,
    X509_SIG_RSA_SHA384,
    X509_SIG_RSA_SHA512,
} x509_sig_alg_t;

typedef struct {
    x509_span_t der;          /* the whole certificate (TLSA selector 0) */
    x509_span_t tbs;          /* TBSCertificate, tag and length included (what is signed) */
    x509_span_t issuer;       /* issuer Name, tag included */
    x509_span_t subject;      /* subject Name, tag included */
    x509_span_t spki;         /* SubjectPublicKeyInfo, tag included (TLSA selector 1) */
    x509_span_t public_key;   /* the subjectPublicKey BIT STRING contents, unused-bits octet removed */
    x509_key_type_t key_type;
    x509_sig_alg_t sig_alg;   /* outer signatureAlgorithm (must equal the TBS one) */
    x509_span_t signature;    /* signatureValue BIT STRING contents, unused-bits octet removed */
    int64_t not_before;       /* seconds since the epoch (UTCTime or GeneralizedTime) */
    int64_t not_after;
    unsigned version;         /* 1, 2 or 3 */
    bool has_basic_constraints;
    bool is_ca;               /* basicConstraints cA */
    bool has_san;
    unsigned n_dnsnames;      /* SAN dNSName entries (more than X509_MAX_DNSNAMES: DN_ERANGE) */
    x509_span_t dnsnames[X509_MAX_DNSNAMES]; /* raw IA5String contents, not NUL-terminated */
    unsigned n_other_sans;    /* SAN entries of other types (rfc822, IP, URI, otherName...) */
} x509_cert_t;

/* Parse one DER certificate.  Errors: DN_ETRUNC, DN_EFORMAT (not DER, bad
 * lengths, trailing bytes after the certificate, bad time), DN_ERANGE (too
 * many SAN dNSNames).  Unknown algorithms are not an error (X509_*_UNKNOWN). */
int x509_parse(const uint8_t *der, size_t len, x509_cert_t *out);

/* Verify that `cert` is signed by the key in `issuer_spki` (a full
 * SubjectPublicKeyInfo DER, e.g. x509_cert_t.spki of the issuer, or TLSA
 * `2 1 0` data).  Uses wolfCrypt.  Returns 0 when the signature is valid,
 * DN_ECRYPTO when it is not, DN_EUNSUPPORTED for unknown algorithms,
 * DN_EFORMAT for a malformed key or signature. */
int x509_verify_signed_by(const x509_cert_t *cert, const uint8_t *issuer_spki, size_t issuer_spki_len);

/* Parse a bare SubjectPublicKeyInfo (for TLSA 2 1 0 anchors): fills key type
 * and the key bits span.  Returns 0 or DN_EFORMAT/DN_ETRUNC. */
int x509_parse_spki(const uint8_t *der, size_t len, x509_key_type_t *type, x509_span_t *public_key);

/* Convert an X.509 Time (RFC 5280 §4.1.2.5) to seconds since the epoch:
 * tag 0x17 UTCTime "YYMMDDHHMMSSZ" (YY >= 50 is 19YY, else 20YY) or tag 0x18
 * GeneralizedTime "YYYYMMDDHHMMSSZ"; no fractions, no offsets, no leap
 * second.  Returns 0 or DN_EFORMAT (DN_EINVAL for NULL pointers). */
int x509_time_to_epoch(uint8_t tag, const uint8_t *p, size_t len, int64_t *out);

/* SHA-2 digest of msg (bits = 256, 384 or 512; digest holds bits/8 octets),
 * through wolfCrypt.  Returns 0, DN_EINVAL, DN_ERANGE (len > 4 GiB) or
 * DN_ECRYPTO. */
int x509_hash(int bits, const uint8_t *msg, size_t len, uint8_t *digest);

#endif
