/* tools/ctl_pki.c — keys and certificates for dancectl, with wolfCrypt.
 *
 * What wolfCrypt does: key generation, key/certificate DER and PEM, the
 * TBSCertificate with its extensions, signing.  What we do ourselves: the SAN
 * (GeneralNames DER, because the SRV-ID needs an RFC 4985 otherName that
 * Debian's wolfSSL 5.5.4 cannot encode: no WOLFSSL_CUSTOM_OID, so no
 * wc_SetCustomExtension) and the validity dates (wolfCrypt's daysValid
 * back-dates by a whole day; we want one hour of clock-skew slack and an
 * exact notAfter, e.g. clamped to the issuing CA's). */
#include "tools/ctl.h"

#include "core/err.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(WOLFSSL_CERT_GEN) || !defined(WOLFSSL_KEY_GEN) || !defined(WOLFSSL_ALT_NAMES) || \
    !defined(WOLFSSL_CERT_EXT) || !defined(HAVE_ED25519) || !defined(HAVE_ECC)
#error "dancectl needs wolfSSL built with cert/key generation, alt names, cert extensions, ECC and Ed25519"
#endif

struct ctl_key {
    ctl_key_alg_t alg;
    union {
        ecc_key ecc;
        ed25519_key ed;
    } u;
};

static WC_RNG g_rng;
static bool g_rng_ok;

#define CERT_DER_MAX 8192
#define KEY_DER_MAX 512

static void wolf_error(const char *what, int rc)
{
    fprintf(stderr, "dancectl: %s failed: %s (%d)\n", what, wc_GetErrorString(rc), rc);
}

int ctl_pki_init(void)
{
    int rc = wolfCrypt_Init();
    if (rc != 0) {
        wolf_error("wolfCrypt_Init", rc);
        return DN_ECRYPTO;
    }
    rc = wc_InitRng(&g_rng);
    if (rc != 0) {
        wolf_error("wc_InitRng", rc);
        return DN_ECRYPTO;
    }
    g_rng_ok = true;
    return DN_OK;
}

void ctl_pki_cleanup(void)
{
    if (g_rng_ok)
        wc_FreeRng(&g_rng);
    g_rng_ok = false;
    wolfCrypt_Cleanup();
}

/* ---- keys ---- */

static int wolf_key_type(const ctl_key_t *k)
{
    return k->alg == CTL_KEY_P256 ? ECC_TYPE : ED25519_TYPE;
}

static int wolf_sig_type(const ctl_key_t *k)
{
    return k->alg == CTL_KEY_P256 ? CTC_SHA256wECDSA : CTC_ED25519;
}

ctl_key_alg_t ctl_key_alg(const ctl_key_t *k)
{
    return k->alg;
}

void ctl_key_free(ctl_key_t *k)
{
    if (!k)
        return;
    if (k->alg == CTL_KEY_P256)
        wc_ecc_free(&k->u.ecc);
    else
        wc_ed25519_free(&k->u.ed);
    /* the struct held private key material */
    explicit_bzero(k, sizeof *k);
    free(k);
}

int ctl_key_generate(ctl_key_alg_t alg, ctl_key_t **out)
{
    ctl_key_t *k = calloc(1, sizeof *k);
    if (!k)
        return DN_ENOMEM;
    k->alg = alg;
    int rc;
    if (alg == CTL_KEY_P256) {
        rc = wc_ecc_init(&k->u.ecc);
        if (rc == 0)
            rc = wc_ecc_make_key_ex(&g_rng, 32, &k->u.ecc, ECC_SECP256R1);
    } else {
        rc = wc_ed25519_init(&k->u.ed);
        if (rc == 0)
            rc = wc_ed25519_make_key(&g_rng, ED25519_KEY_SIZE, &k->u.ed);
    }
    if (rc != 0) {
        wolf_error("key generation", rc);
        ctl_key_free(k);
        return DN_ECRYPTO;
    }
    *out = k;
    return DN_OK;
}

/* Ed25519 PKCS#8 (RFC 8410) holds only the private seed; wolfCrypt signs with
 * the public half too, so derive it after loading. */
static int ed25519_complete(ed25519_key *key)
{
    if (key->pubKeySet)
        return 0;
    byte priv[ED25519_KEY_SIZE], pub[ED25519_PUB_KEY_SIZE];
    word32 plen = sizeof priv;
    int rc = wc_ed25519_export_private_only(key, priv, &plen);
    if (rc == 0)
        rc = wc_ed25519_make_public(key, pub, sizeof pub);
    if (rc == 0)
        rc = wc_ed25519_import_private_key(priv, plen, pub, sizeof pub, key);
    explicit_bzero(priv, sizeof priv);
    return rc;
}

int ctl_key_load(const char *path, ctl_key_t **out)
{
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    int err = ctl_read_file(path, 64 * 1024, &pem, &pem_len);
    if (err != DN_OK)
        return err;
    byte der[4096];
    int der_len = wc_KeyPemToDer(pem, (int)pem_len, der, sizeof der, NULL);
    explicit_bzero(pem, pem_len);
    free(pem);
    if (der_len <= 0) {
        fprintf(stderr, "dancectl: %s: not a PEM private key (%s)\n", path, wc_GetErrorString(der_len));
        return DN_EFORMAT;
    }
    ctl_key_t *k = calloc(1, sizeof *k);
    if (!k) {
        explicit_bzero(der, sizeof der);
        return DN_ENOMEM;
    }
    /* Try the P-256 decoders (traditional SEC 1, then PKCS#8-wrapped), then
     * Ed25519; whichever accepts the DER tells the key type. */
    word32 idx = 0;
    int rc = wc_ecc_init(&k->u.ecc);
    if (rc == 0) {
        k->alg = CTL_KEY_P256;
        rc = wc_EccPrivateKeyDecode(der, &idx, &k->u.ecc, (word32)der_len);
        if (rc != 0) {
            idx = 0;
            int off = wc_GetPkcs8TraditionalOffset(der, &idx, (word32)der_len);
            if (off >= 0)
                rc = wc_EccPrivateKeyDecode(der, &idx, &k->u.ecc, (word32)der_len);
        }
        if (rc == 0 && wc_ecc_get_curve_id(k->u.ecc.idx) != ECC_SECP256R1) {
            fprintf(stderr, "dancectl: %s: only P-256 EC keys are supported\n", path);
            ctl_key_free(k);
            explicit_bzero(der, sizeof der);
            return DN_EUNSUPPORTED;
        }
        /* A SEC 1 key without its optional public point: derive it (needed
         * to compare against the certificate's SPKI). */
        if (rc == 0 && k->u.ecc.type == ECC_PRIVATEKEY_ONLY)
            rc = wc_ecc_make_pub(&k->u.ecc, NULL);
        if (rc != 0)
            wc_ecc_free(&k->u.ecc);
    }
    if (rc != 0) {
        memset(&k->u, 0, sizeof k->u);
        k->alg = CTL_KEY_ED25519;
        rc = wc_ed25519_init(&k->u.ed);
        idx = 0;
        if (rc == 0)
            rc = wc_Ed25519PrivateKeyDecode(der, &idx, &k->u.ed, (word32)der_len);
        if (rc == 0)
            rc = ed25519_complete(&k->u.ed);
    }
    explicit_bzero(der, sizeof der);
    if (rc != 0) {
        fprintf(stderr, "dancectl: %s: not a P-256 or Ed25519 private key\n", path);
        ctl_key_free(k);
        return DN_EUNSUPPORTED;
    }
    *out = k;
    return DN_OK;
}

int ctl_key_to_pem(ctl_key_t *k, char **pem, size_t *pem_len)
{
    byte der[KEY_DER_MAX];
    int der_len;
    /* PKCS#8 "PRIVATE KEY" for both algorithms: OpenSSL, GnuTLS (kdig),
     * Python's ssl and wolfSSL itself all load it.  For P-256 the inner
     * ECPrivateKey must carry the optional publicKey: GnuTLS refuses a key
     * without it (wc_EccPrivateKeyToPKCS8 omits it, wc_EccKeyToPKCS8 not). */
    if (k->alg == CTL_KEY_P256) {
        word32 len = sizeof der;
        int rc = wc_EccKeyToPKCS8(&k->u.ecc, der, &len);
        der_len = rc < 0 ? rc : (int)len;
    } else {
        der_len = wc_Ed25519PrivateKeyToDer(&k->u.ed, der, sizeof der);
    }
    if (der_len <= 0) {
        wolf_error("private key encoding", der_len);
        return DN_ECRYPTO;
    }
    size_t cap = (size_t)der_len * 2 + 128;
    char *out = malloc(cap);
    if (!out) {
        explicit_bzero(der, sizeof der);
        return DN_ENOMEM;
    }
    int n = wc_DerToPem(der, (word32)der_len, (byte *)out, (word32)cap, PKCS8_PRIVATEKEY_TYPE);
    explicit_bzero(der, sizeof der);
    if (n <= 0) {
        wolf_error("wc_DerToPem (key)", n);
        explicit_bzero(out, cap);
        free(out);
        return DN_ECRYPTO;
    }
    *pem = out;
    *pem_len = (size_t)n;
    return DN_OK;
}

int ctl_key_spki(ctl_key_t *k, uint8_t *out, size_t cap, size_t *out_len)
{
    int n;
    if (k->alg == CTL_KEY_P256)
        n = wc_EccPublicKeyToDer(&k->u.ecc, out, (word32)cap, 1);
    else
        n = wc_Ed25519PublicKeyToDer(&k->u.ed, out, (word32)cap, 1);
    if (n <= 0) {
        wolf_error("public key encoding", n);
        return DN_ECRYPTO;
    }
    *out_len = (size_t)n;
    return DN_OK;
}

/* ---- DER we build ourselves ---- */

/* Append tag + definite length; returns bytes written or 0 if no room. */
static size_t der_header(uint8_t *out, size_t cap, uint8_t tag, size_t len)
{
    uint8_t hdr[4];
    size_t n = 0;
    hdr[n++] = tag;
    if (len < 0x80) {
        hdr[n++] = (uint8_t)len;
    } else if (len < 0x100) {
        hdr[n++] = 0x81;
        hdr[n++] = (uint8_t)len;
    } else if (len < 0x10000) {
        hdr[n++] = 0x82;
        hdr[n++] = (uint8_t)(len >> 8);
        hdr[n++] = (uint8_t)len;
    } else {
        return 0;
    }
    if (n > cap)
        return 0;
    memcpy(out, hdr, n);
    return n;
}

static size_t der_header_len(size_t len)
{
    return len < 0x80 ? 2 : len < 0x100 ? 3 : 4;
}

int ctl_der_general_names(const char *dns, const char *srv, uint8_t *out, size_t cap, size_t *out_len)
{
    /* id-on-dnsSRV, RFC 4985 §2: 1.3.6.1.5.5.7.8.7 */
    static const uint8_t oid_srvname[] = {0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x08, 0x07};
    size_t dns_len = dns ? strlen(dns) : 0, srv_len = srv ? strlen(srv) : 0;
    size_t dns_el = dns ? der_header_len(dns_len) + dns_len : 0;
    size_t ia5_el = der_header_len(srv_len) + srv_len;          /* IA5String */
    size_t expl_el = der_header_len(ia5_el) + ia5_el;           /* [0] EXPLICIT value */
    size_t other_body = sizeof oid_srvname + expl_el;
    size_t other_el = srv ? der_header_len(other_body) + other_body : 0; /* [0] IMPLICIT otherName */
    size_t body = dns_el + other_el;
    size_t total = der_header_len(body) + body;
    if ((!dns && !srv) || total > cap || body >= 0x10000)
        return DN_ERANGE;
    size_t n = der_header(out, cap, 0x30, body);
    if (dns) {
        n += der_header(out + n, cap - n, 0x82, dns_len); /* [2] IMPLICIT IA5String dNSName */
        memcpy(out + n, dns, dns_len);
        n += dns_len;
    }
    if (srv) {
        n += der_header(out + n, cap - n, 0xa0, other_body);
        memcpy(out + n, oid_srvname, sizeof oid_srvname);
        n += sizeof oid_srvname;
        n += der_header(out + n, cap - n, 0xa0, ia5_el);
        n += der_header(out + n, cap - n, 0x16, srv_len);
        memcpy(out + n, srv, srv_len);
        n += srv_len;
    }
    *out_len = n;
    return n == total ? DN_OK : DN_ERANGE;
}

int ctl_der_time(int64_t t, uint8_t *out, size_t cap, size_t *out_len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return DN_ERANGE;
    int year = tm.tm_year + 1900;
    char buf[32];
    int n;
    uint8_t tag;
    if (year >= 1950 && year < 2050) {
        tag = 0x17; /* UTCTime */
        n = snprintf(buf, sizeof buf, "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    } else if (year >= 0 && year <= 9999) {
        tag = 0x18; /* GeneralizedTime */
        n = snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
    } else {
        return DN_ERANGE;
    }
    if (n <= 0 || (size_t)n + 2 > cap)
        return DN_ERANGE;
    out[0] = tag;
    out[1] = (uint8_t)n;
    memcpy(out + 2, buf, (size_t)n);
    *out_len = (size_t)n + 2;
    return DN_OK;
}

/* ---- certificates ---- */

/* Read one DER TLV header at p (short or 1-2 octet long lengths, all
 * wolfCrypt writes for a certificate).  0 when malformed or past end. */
static size_t tlv(const uint8_t *p, const uint8_t *end, uint8_t *tag, size_t *len)
{
    if (end - p < 2)
        return 0;
    *tag = p[0];
    size_t h = 2, l = p[1];
    if (l == 0x81 || l == 0x82) {
        size_t n = l & 0x7f;
        if ((size_t)(end - p) < 2 + n)
            return 0;
        l = 0;
        for (size_t i = 0; i < n; i++)
            l = (l << 8) | p[2 + i];
        h += n;
    } else if (l & 0x80) {
        return 0;
    }
    if ((size_t)(end - p) - h < l)
        return 0;
    *len = l;
    return h;
}

/* Mark basicConstraints critical in the TBSCertificate wolfCrypt built.
 * RFC 5280 §4.2.1.9 requires it on CA certificates, but wolfSSL 5.5.4 always
 * writes the extension non-critical and (without WOLFSSL_CUSTOM_OID) offers
 * no way to supply our own.  So, between wc_MakeCert_ex and wc_SignCert_ex,
 * re-encode the unsigned TBS with BOOLEAN TRUE inserted after the extension's
 * OID, growing the four enclosing lengths (TBS, [3], Extensions, Extension)
 * by three octets.  This walks only TLV headers of our own fresh output. */
static int tbs_mark_bc_critical(uint8_t *buf, size_t cap, size_t *tbs_len)
{
    static const uint8_t bc_oid[] = {0x06, 0x03, 0x55, 0x1d, 0x13};
    static const uint8_t crit[] = {0x01, 0x01, 0xff};
    const uint8_t *end = buf + *tbs_len;
    uint8_t tag;
    size_t len, h;

    /* Offsets of the headers to grow, outermost first, and where to insert. */
    size_t off_tbs = 0, off_a3 = 0, off_exts = 0, off_ext = 0, ins = 0;
    h = tlv(buf, end, &tag, &len);
    if (!h || tag != 0x30)
        return DN_EFORMAT;
    const uint8_t *p = buf + h, *tend = p + len;
    for (; p < tend; p += h + len) {
        h = tlv(p, tend, &tag, &len);
        if (!h)
            return DN_EFORMAT;
        if (tag == 0xa3)
            break;
    }
    if (p >= tend)
        return DN_ENOTFOUND;
    off_a3 = (size_t)(p - buf);
    p += h;
    off_exts = (size_t)(p - buf);
    h = tlv(p, tend, &tag, &len);
    if (!h || tag != 0x30)
        return DN_EFORMAT;
    const uint8_t *eend = p + h + len;
    for (p += h; p < eend; p += h + len) {
        h = tlv(p, eend, &tag, &len);
        if (!h || tag != 0x30)
            return DN_EFORMAT;
        if (len > sizeof bc_oid && memcmp(p + h, bc_oid, sizeof bc_oid) == 0) {
            if (p[h + sizeof bc_oid] == 0x01)
                return DN_OK; /* already has a critical flag */
            off_ext = (size_t)(p - buf);
            ins = off_ext + h + sizeof bc_oid;
            break;
        }
    }
    if (!ins)
        return DN_ENOTFOUND;

    /* Rebuild into a scratch copy: headers may grow by a length octet. */
    size_t offs[4] = {off_tbs, off_a3, off_exts, off_ext};
    uint8_t *tmp = malloc(cap);
    if (!tmp)
        return DN_ENOMEM;
    size_t o = 0, from = 0;
    for (int i = 0; i < 4; i++) {
        size_t hl;
        hl = tlv(buf + offs[i], end, &tag, &len);
        size_t copy = offs[i] - from; /* bytes between the previous header and this one */
        if (o + copy + 4 > cap) {
            free(tmp);
            return DN_ERANGE;
        }
        memcpy(tmp + o, buf + from, copy);
        o += copy;
        size_t nh = der_header(tmp + o, cap - o, tag, len + sizeof crit);
        if (!nh) {
            free(tmp);
            return DN_ERANGE;
        }
        o += nh;
        from = offs[i] + hl;
    }
    size_t copy = ins - from;
    if (o + copy + sizeof crit + (*tbs_len - ins) > cap) {
        free(tmp);
        return DN_ERANGE;
    }
    memcpy(tmp + o, buf + from, copy);
    o += copy;
    memcpy(tmp + o, crit, sizeof crit);
    o += sizeof crit;
    memcpy(tmp + o, buf + ins, *tbs_len - ins);
    o += *tbs_len - ins;
    memcpy(buf, tmp, o);
    free(tmp);
    *tbs_len = o;
    return DN_OK;
}

static void *key_ptr(ctl_key_t *k)
{
    return k->alg == CTL_KEY_P256 ? (void *)&k->u.ecc : (void *)&k->u.ed;
}

static int fill_cert(Cert *c, const ctl_cert_spec_t *spec, ctl_key_t *subject_key,
                     const uint8_t *issuer_der, size_t issuer_len, ctl_key_t *signer)
{
    int rc = wc_InitCert(c);
    if (rc != 0) {
        wolf_error("wc_InitCert", rc);
        return DN_ECRYPTO;
    }
    c->sigType = wolf_sig_type(signer);
    c->isCA = spec->is_ca ? 1 : 0;
    /* Explicit basicConstraints on every certificate: cA=TRUE pathLen 0 for
     * the device CA (it issues leaves only), cA=FALSE on leaves so that no
     * one can mistake an identity certificate for an issuer. */
    c->basicConstSet = 1;
    if (spec->is_ca) {
        c->pathLen = 0;
        c->pathLenSet = 1;
    }
    bool has_cn = spec->common_name && spec->common_name[0];
    if (has_cn) {
        if (strlen(spec->common_name) >= CTC_NAME_SIZE)
            return DN_ERANGE;
        strcpy(c->subject.commonName, spec->common_name);
        c->subject.commonNameEnc = CTC_UTF8;
    }

    if (spec->dns_name || spec->srv_name) {
        size_t alt_len = 0;
        if (ctl_der_general_names(spec->dns_name, spec->srv_name, c->altNames, sizeof c->altNames, &alt_len) !=
            DN_OK) {
            fprintf(stderr, "dancectl: subjectAltName too large\n");
            return DN_ERANGE;
        }
        c->altNamesSz = (int)alt_len;
        /* RFC 5280 §4.2.1.6: SAN must be critical when the subject is empty. */
        c->altNamesCrit = has_cn ? 0 : 1;
    }

    size_t bl = 0, al = 0;
    if (ctl_der_time(spec->not_before, c->beforeDate, sizeof c->beforeDate, &bl) != DN_OK ||
        ctl_der_time(spec->not_after, c->afterDate, sizeof c->afterDate, &al) != DN_OK) {
        fprintf(stderr, "dancectl: validity dates out of range\n");
        return DN_ERANGE;
    }
    c->beforeDateSz = (int)bl;
    c->afterDateSz = (int)al;

    rc = wc_SetKeyUsage(c, spec->is_ca ? "keyCertSign,cRLSign" : "digitalSignature");
    if (rc == 0 && !spec->is_ca)
        rc = wc_SetExtKeyUsage(c, spec->server_auth ? "serverAuth" : "clientAuth");
    if (rc == 0)
        rc = wc_SetSubjectKeyIdFromPublicKey_ex(c, wolf_key_type(subject_key), key_ptr(subject_key));
    if (rc != 0) {
        wolf_error("certificate extensions", rc);
        return DN_ECRYPTO;
    }

    if (issuer_der) {
        c->selfSigned = 0;
        rc = wc_SetIssuerBuffer(c, issuer_der, (int)issuer_len);
        if (rc != 0) {
            wolf_error("wc_SetIssuerBuffer (CA certificate)", rc);
            return DN_EFORMAT;
        }
        /* The CA's subjectKeyIdentifier (or its key hash) lets validators
         * pick the right issuer during a CA key rollover. */
        rc = wc_SetAuthKeyIdFromCert(c, issuer_der, (int)issuer_len);
        if (rc != 0) {
            wolf_error("wc_SetAuthKeyIdFromCert", rc);
            return DN_EFORMAT;
        }
    } else {
        c->selfSigned = 1;
    }
    return DN_OK;
}

int ctl_cert_make(const ctl_cert_spec_t *spec, ctl_key_t *subject_key, const uint8_t *issuer_der, size_t issuer_len,
                  ctl_key_t *issuer_key, uint8_t **der, size_t *der_len)
{
    ctl_key_t *signer = issuer_der ? issuer_key : subject_key;
    Cert *c = calloc(1, sizeof *c); /* ~40 KiB: keep it off the stack */
    uint8_t *buf = malloc(CERT_DER_MAX);
    int err = (c && buf) ? DN_OK : DN_ENOMEM;
    if (err == DN_OK)
        err = fill_cert(c, spec, subject_key, issuer_der, issuer_len, signer);
    if (err == DN_OK) {
        int rc = wc_MakeCert_ex(c, buf, CERT_DER_MAX, wolf_key_type(subject_key), key_ptr(subject_key), &g_rng);
        if (rc < 0) {
            wolf_error("wc_MakeCert_ex", rc);
            err = DN_ECRYPTO;
        } else {
            size_t body = (size_t)c->bodySz;
            if (spec->is_ca && (err = tbs_mark_bc_critical(buf, CERT_DER_MAX, &body)) != DN_OK) {
                fprintf(stderr, "dancectl: cannot mark basicConstraints critical: %s\n", dn_strerror(err));
                goto done;
            }
            rc = wc_SignCert_ex((int)body, c->sigType, buf, CERT_DER_MAX, wolf_key_type(signer), key_ptr(signer),
                                &g_rng);
            if (rc < 0) {
                wolf_error("wc_SignCert_ex", rc);
                err = DN_ECRYPTO;
            } else {
                *der = buf;
                *der_len = (size_t)rc;
                buf = NULL;
            }
        }
    }
done:
    free(buf);
    free(c);
    return err;
}

int ctl_cert_to_pem(const uint8_t *der, size_t der_len, char **pem, size_t *pem_len)
{
    size_t cap = der_len * 2 + 128;
    char *out = malloc(cap);
    if (!out)
        return DN_ENOMEM;
    int n = wc_DerToPem(der, (word32)der_len, (byte *)out, (word32)cap, CERT_TYPE);
    if (n <= 0) {
        wolf_error("wc_DerToPem (certificate)", n);
        free(out);
        return DN_ECRYPTO;
    }
    *pem = out;
    *pem_len = (size_t)n;
    return DN_OK;
}

int ctl_cert_load(const char *path, uint8_t **der, size_t *der_len)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int err = ctl_read_file(path, 1024 * 1024, &data, &len);
    if (err != DN_OK)
        return err;
    bool is_pem = false;
    static const char marker[] = "-----BEGIN CERTIFICATE-----";
    for (size_t i = 0; i + sizeof marker - 1 <= len; i++) {
        if (memcmp(data + i, marker, sizeof marker - 1) == 0) {
            is_pem = true;
            break;
        }
    }
    if (!is_pem) {
        if (len == 0 || data[0] != 0x30) {
            fprintf(stderr, "dancectl: %s: neither a PEM nor a DER certificate\n", path);
            free(data);
            return DN_EFORMAT;
        }
        *der = data;
        *der_len = len;
        return DN_OK;
    }
    uint8_t *out = malloc(len);
    if (!out) {
        free(data);
        return DN_ENOMEM;
    }
    int n = wc_CertPemToDer(data, (int)len, out, (int)len, CERT_TYPE); /* the first certificate */
    free(data);
    if (n <= 0) {
        fprintf(stderr, "dancectl: %s: bad PEM certificate (%s)\n", path, wc_GetErrorString(n));
        free(out);
        return DN_EFORMAT;
    }
    *der = out;
    *der_len = (size_t)n;
    return DN_OK;
}

int ctl_cert_common_name(const uint8_t *der, size_t der_len, char *out, size_t cap)
{
    /* wolfCrypt's own certificate decoder fills a Cert's subject from DER
     * (the compatibility layer's X509 object refuses Ed25519 certificates
     * in this build). */
    out[0] = '\0';
    Cert *c = calloc(1, sizeof *c);
    if (!c)
        return DN_ENOMEM;
    int err = DN_EFORMAT;
    if (wc_InitCert(c) == 0 && wc_SetSubjectBuffer(c, der, (int)der_len) == 0) {
        snprintf(out, cap, "%.*s", (int)strnlen(c->subject.commonName, sizeof c->subject.commonName),
                 c->subject.commonName);
        err = DN_OK;
    }
    free(c);
    return err;
}
