/* Unit tests of dane/x509.c: the DER walker against openssl-generated
 * fixtures (tests/unit/data, see make-fixtures.sh), hand-built malformed
 * certificates, time conversion and signature verification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "dane/x509.h"

/* ---- fixture loading ------------------------------------------------------ */

typedef struct {
    uint8_t *p;
    size_t n;
} file_t;

/* Reads TEST_DATA_DIR/<name> into an exact-size allocation (so that ASan
 * sees any overread).  Fails the test when the file is missing. */
static file_t load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", TEST_DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    uint8_t tmp[65536];
    size_t n = fread(tmp, 1, sizeof tmp, f);
    fclose(f);
    file_t r = { malloc(n ? n : 1), n };
    assert_non_null(r.p);
    memcpy(r.p, tmp, n);
    return r;
}

static file_t loadf(const char *base, const char *suffix)
{
    char name[256];
    snprintf(name, sizeof name, "%s%s", base, suffix);
    return load(name);
}

static void unload(file_t *f)
{
    free(f->p);
    f->p = NULL;
}

static void load_dates(const char *base, int64_t *nb, int64_t *na)
{
    file_t f = loadf(base, ".dates");
    char s[64] = { 0 };
    memcpy(s, f.p, f.n < sizeof s - 1 ? f.n : sizeof s - 1);
    long long a = 0, b = 0;
    assert_int_equal(sscanf(s, "%lld %lld", &a, &b), 2);
    *nb = a;
    *na = b;
    unload(&f);
}

static bool span_is(x509_span_t s, const char *text)
{
    return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0;
}

static const char *const ALL[] = {
    "ee_p256", "ee_ed25519", "ee_rsa", "ee_p384", "ee_rsa512", "ca", "bob", "expired", "mallory",
    "twosans", "wild", "int", "leaf_int", "notca", "leaf_notca", "ca_v1", "leaf_v1ca",
};
#define N_ALL (sizeof ALL / sizeof ALL[0])

/* ---- fixtures: every field against openssl ------------------------------- */

static void test_fixtures_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ALL; i++) {
        file_t der = loadf(ALL[i], ".der"), spki = loadf(ALL[i], ".spki");
        x509_cert_t c;
        int rc = x509_parse(der.p, der.n, &c);
        if (rc != DN_OK)
            fail_msg("%s: %d", ALL[i], rc);
        assert_ptr_equal(c.der.ptr, der.p);
        assert_int_equal(c.der.len, der.n);
        /* SPKI bytes equal openssl's `x509 -pubkey | pkey -pubin -outform DER`. */
        assert_int_equal(c.spki.len, spki.n);
        assert_memory_equal(c.spki.ptr, spki.p, spki.n);
        int64_t nb, na;
        load_dates(ALL[i], &nb, &na);
        assert_true(c.not_before == nb);
        assert_true(c.not_after == na);
        /* Spans lie inside the buffer and in certificate order. */
        assert_true(c.tbs.ptr > der.p && c.tbs.ptr + c.tbs.len < der.p + der.n);
        assert_true(c.issuer.ptr > c.tbs.ptr && c.subject.ptr > c.issuer.ptr);
        assert_true(c.spki.ptr > c.subject.ptr && c.spki.ptr + c.spki.len <= c.tbs.ptr + c.tbs.len);
        assert_true(c.signature.ptr > c.tbs.ptr + c.tbs.len);
        assert_ptr_equal(c.signature.ptr + c.signature.len, der.p + der.n);
        assert_true(c.public_key.ptr + c.public_key.len == c.spki.ptr + c.spki.len);
        /* x509_parse_spki agrees with the embedded parse. */
        x509_key_type_t kt;
        x509_span_t pub;
        assert_int_equal(x509_parse_spki(spki.p, spki.n, &kt, &pub), DN_OK);
        assert_int_equal(kt, c.key_type);
        assert_int_equal(pub.len, c.public_key.len);
        assert_memory_equal(pub.ptr, c.public_key.ptr, pub.len);
        unload(&der);
        unload(&spki);
    }
}

static void check_types(const char *name, x509_key_type_t kt, x509_sig_alg_t sa, size_t publen)
{
    file_t der = loadf(name, ".der");
    x509_cert_t c;
    assert_int_equal(x509_parse(der.p, der.n, &c), DN_OK);
    assert_int_equal(c.key_type, kt);
    assert_int_equal(c.sig_alg, sa);
    if (publen)
        assert_int_equal(c.public_key.len, publen);
    unload(&der);
}

static void test_key_and_sig_types(void **state)
{
    (void)state;
    check_types("ee_p256", X509_KEY_EC_P256, X509_SIG_ECDSA_SHA256, 65);
    check_types("ee_p384", X509_KEY_EC_P384, X509_SIG_ECDSA_SHA384, 97);
    check_types("ee_ed25519", X509_KEY_ED25519, X509_SIG_ED25519, 32);
    check_types("ee_rsa", X509_KEY_RSA, X509_SIG_RSA_SHA256, 0);
    check_types("ee_rsa512", X509_KEY_RSA, X509_SIG_RSA_SHA512, 0);
    check_types("bob", X509_KEY_EC_P256, X509_SIG_ECDSA_SHA256, 65);
}

static void test_names_and_constraints(void **state)
{
    (void)state;
    x509_cert_t c;
    file_t f = load("ee_p256.der");
    assert_int_equal(x509_parse(f.p, f.n, &c), DN_OK);
    assert_int_equal(c.version, 3);
    assert_true(c.has_san);
    assert_int_equal(c.n_dnsnames, 1);
    assert_true(span_is(c.dnsnames[0], "alice._device.corp.example"));
    assert_int_equal(c.n_other_sans, 0);
    assert_true(c.has_basic_constraints);
    assert_false(c.is_ca);
    /* Self-signed: issuer and subject are the same bytes. */
    assert_int_equal(c.issuer.len, c.subject.len);
    assert_memory_equal(c.issuer.ptr, c.subject.ptr, c.issuer.len);
    unload(&f);

    f = load("twosans.der");
    assert_int_equal(x509_parse(f.p, f.n, &c), DN_OK);
    assert_int_equal(c.n_dnsnames, 2);
    assert_true(span_is(c.dnsnames[0], "one._device.corp.example"));
    assert_true(span_is(c.dnsnames[1], "two._device.corp.example"));
    unload(&f);

    f = load("wild.der");
    assert_int_equal(x509_parse(f.p, f.n, &c), DN_OK);
    assert_int_equal(c.n_dnsnames, 1);
    assert_true(span_is(c.dnsnames[0], "*._device.corp.example"));
    unload(&f);

    f = load("ca.der");
    assert_int_equal(x509_parse(f.p, f.n, &c), DN_OK);
    assert_true(c.has_basic_constraints);
    assert_true(c.is_ca);
    assert_false(c.has_san);
    assert_int_equal(c.n_dnsnames, 0);
    unload(&f);

    f = load("notca.der");
    assert_int_equal(x509_parse(f.p, f.n, &c), DN_OK);
    assert_true(c.has_basic_constraints);
    assert_false(c.is_ca);
    unload(&f);

    f = load("ca_v1.der");
    assert_int_equal(x509_parse(f.p, f.n, &c), DN_OK);
    assert_int_equal(c.version, 1);
    assert_false(c.has_basic_constraints);
    assert_false(c.has_san);
    unload(&f);

    /* The issuer of bob is the subject of the CA. */
    file_t b = load("bob.der"), a = load("ca.der");
    x509_cert_t cb, ca;
    assert_int_equal(x509_parse(b.p, b.n, &cb), DN_OK);
    assert_int_equal(x509_parse(a.p, a.n, &ca), DN_OK);
    assert_int_equal(cb.issuer.len, ca.subject.len);
    assert_memory_equal(cb.issuer.ptr, ca.subject.ptr, ca.subject.len);
    unload(&b);
    unload(&a);
}

static void test_too_many_sans(void **state)
{
    (void)state;
    file_t f = load("manysans.der");
    x509_cert_t c;
    memset(&c, 0x5a, sizeof c);
    x509_cert_t before = c;
    assert_int_equal(x509_parse(f.p, f.n, &c), DN_ERANGE);
    /* Outputs are written only on success. */
    assert_memory_equal(&c, &before, sizeof c);
    unload(&f);
}

/* ---- malformed input ------------------------------------------------------ */

/* Every proper prefix of every fixture fails, without reading past it (the
 * prefix is copied to an exact-size allocation for ASan). */
static void test_every_truncation_fails(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ALL; i++) {
        file_t der = loadf(ALL[i], ".der");
        for (size_t k = 0; k < der.n; k++) {
            uint8_t *p = malloc(k ? k : 1);
            assert_non_null(p);
            memcpy(p, der.p, k);
            x509_cert_t c;
            int rc = x509_parse(p, k, &c);
            if (rc != DN_ETRUNC && rc != DN_EFORMAT)
                fail_msg("%s prefix %zu: %d", ALL[i], k, rc);
            free(p);
        }
        unload(&der);
    }
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    file_t der = load("bob.der");
    uint8_t *p = malloc(der.n + 1);
    assert_non_null(p);
    memcpy(p, der.p, der.n);
    p[der.n] = 0;
    x509_cert_t c;
    assert_int_equal(x509_parse(p, der.n + 1, &c), DN_EFORMAT);
    free(p);
    unload(&der);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    x509_cert_t c;
    uint8_t b[4] = { 0x30, 0x00 };
    assert_int_equal(x509_parse(NULL, 4, &c), DN_EINVAL);
    assert_int_equal(x509_parse(b, 2, NULL), DN_EINVAL);
    assert_int_equal(x509_parse(b, 0, &c), DN_ETRUNC);
    assert_int_equal(x509_parse(b, 2, &c), DN_ETRUNC); /* empty SEQUENCE: no TBS */
}

/* A tiny DER builder for hand-made certificates. */
typedef struct {
    uint8_t b[4096];
    size_t n;
} blob_t;

static void put(blob_t *o, const void *p, size_t n)
{
    assert_true(o->n + n <= sizeof o->b);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_tlv(blob_t *o, uint8_t tag, const void *v, size_t n)
{
    uint8_t h[4] = { tag };
    size_t hl;
    if (n < 0x80) {
        h[1] = (uint8_t)n;
        hl = 2;
    } else if (n < 0x100) {
        h[1] = 0x81;
        h[2] = (uint8_t)n;
        hl = 3;
    } else {
        h[1] = 0x82;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    }
    put(o, h, hl);
    put(o, v, n);
}

static const uint8_t ALG_ECDSA256[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t ALG_ECDSA384[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
static const uint8_t NAME_X[] = { 0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, 'x' };
static const uint8_t VER3[] = { 0xa0, 0x03, 0x02, 0x01, 0x02 };
static const uint8_t SERIAL[] = { 0x02, 0x01, 0x01 };

typedef struct {
    const uint8_t *version; /* encoded [0] element or NULL */
    size_t version_len;
    const char *not_before; /* UTCTime contents, default 240101000000Z */
    const uint8_t *after_spki; /* raw elements after the SPKI ([1] [2] [3]) */
    size_t after_len;
    const uint8_t *outer_alg; /* default: the TBS algorithm */
    uint8_t unused_bits;
} spec_t;

/* Builds Certificate { tbs, alg, sig } around the SPKI of bob.der. */
static blob_t build(const spec_t *s)
{
    file_t spki = load("bob.spki");
    blob_t tbsc = { .n = 0 }, tbs = { .n = 0 }, body = { .n = 0 }, cert = { .n = 0 }, val = { .n = 0 };
    if (s->version)
        put(&tbsc, s->version, s->version_len);
    put(&tbsc, SERIAL, sizeof SERIAL);
    put(&tbsc, ALG_ECDSA256, sizeof ALG_ECDSA256);
    put(&tbsc, NAME_X, sizeof NAME_X);
    const char *nb = s->not_before ? s->not_before : "240101000000Z";
    put_tlv(&val, 0x17, nb, strlen(nb));
    put_tlv(&val, 0x18, "20991231235959Z", 15);
    put_tlv(&tbsc, 0x30, val.b, val.n);
    put(&tbsc, NAME_X, sizeof NAME_X);
    put(&tbsc, spki.p, spki.n);
    if (s->after_spki)
        put(&tbsc, s->after_spki, s->after_len);
    put_tlv(&tbs, 0x30, tbsc.b, tbsc.n);
    put(&body, tbs.b, tbs.n);
    if (s->outer_alg)
        put(&body, s->outer_alg, sizeof ALG_ECDSA256);
    else
        put(&body, ALG_ECDSA256, sizeof ALG_ECDSA256);
    uint8_t sig[9] = { s->unused_bits, 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01 };
    put_tlv(&body, 0x03, sig, sizeof sig);
    put_tlv(&cert, 0x30, body.b, body.n);
    unload(&spki);
    return cert;
}

static int parse_blob(const blob_t *b, x509_cert_t *c)
{
    uint8_t *p = malloc(b->n);
    assert_non_null(p);
    memcpy(p, b->b, b->n);
    int rc = x509_parse(p, b->n, c);
    free(p); /* spans in *c are dangling now: callers only look at scalars */
    return rc;
}

/* extensions [3] { SEQUENCE { ext... } } from raw Extension elements */
static size_t exts(uint8_t *out, size_t cap, const uint8_t *raw, size_t n)
{
    blob_t seq = { .n = 0 }, a3 = { .n = 0 };
    put_tlv(&seq, 0x30, raw, n);
    put_tlv(&a3, 0xa3, seq.b, seq.n);
    assert_true(a3.n <= cap);
    memcpy(out, a3.b, a3.n);
    return a3.n;
}

/* Extension { OID 2.5.29.x, [critical,] OCTET STRING { value } } */
static size_t ext(uint8_t *out, uint8_t oid_last, bool crit, const uint8_t *value, size_t n)
{
    blob_t body = { .n = 0 }, e = { .n = 0 }, os = { .n = 0 };
    const uint8_t oid[] = { 0x06, 0x03, 0x55, 0x1d, oid_last };
    put(&body, oid, sizeof oid);
    if (crit) {
        const uint8_t t[] = { 0x01, 0x01, 0xff };
        put(&body, t, sizeof t);
    }
    put_tlv(&os, 0x04, value, n);
    put(&body, os.b, os.n);
    put_tlv(&e, 0x30, body.b, body.n);
    memcpy(out, e.b, e.n);
    return e.n;
}

static void test_handmade(void **state)
{
    (void)state;
    x509_cert_t c;
    spec_t s = { 0 };

    /* Minimal v1 certificate parses. */
    blob_t b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_OK);
    assert_int_equal(c.version, 1);
    assert_int_equal(c.sig_alg, X509_SIG_ECDSA_SHA256);

    /* Outer algorithm differing from the TBS one. */
    s.outer_alg = ALG_ECDSA384;
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_EFORMAT);
    s.outer_alg = NULL;

    /* Signature BIT STRING with unused bits. */
    s.unused_bits = 1;
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_EFORMAT);
    s.unused_bits = 0;

    /* Bad times. */
    const char *bad_times[] = { "241301000000Z", "240230000000Z", "24010100000Z", "2401010000000",
                                "240101240000Z", "2401010000a0Z", "240101000060Z" };
    for (size_t i = 0; i < sizeof bad_times / sizeof *bad_times; i++) {
        s.not_before = bad_times[i];
        b = build(&s);
        if (parse_blob(&b, &c) != DN_EFORMAT)
            fail_msg("time %s accepted", bad_times[i]);
    }
    s.not_before = NULL;

    /* Extensions in a v1 certificate. */
    uint8_t raw[512], e1[128], e2[128];
    const uint8_t bc_ca[] = { 0x30, 0x03, 0x01, 0x01, 0xff };
    size_t n1 = ext(e1, 0x13, true, bc_ca, sizeof bc_ca);
    s.after_spki = raw;
    s.after_len = exts(raw, sizeof raw, e1, n1);
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_EFORMAT);

    /* ... fine in v3. */
    s.version = VER3;
    s.version_len = sizeof VER3;
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_OK);
    assert_int_equal(c.version, 3);
    assert_true(c.has_basic_constraints && c.is_ca);

    /* Duplicate extension. */
    uint8_t two[256];
    memcpy(two, e1, n1);
    memcpy(two + n1, e1, n1);
    s.after_len = exts(raw, sizeof raw, two, 2 * n1);
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_EFORMAT);

    /* Non-DER BOOLEAN (0x01) in basicConstraints. */
    const uint8_t bc_bad[] = { 0x30, 0x03, 0x01, 0x01, 0x01 };
    n1 = ext(e1, 0x13, false, bc_bad, sizeof bc_bad);
    s.after_len = exts(raw, sizeof raw, e1, n1);
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_EFORMAT);

    /* basicConstraints with a pathLen and no cA: not a CA. */
    const uint8_t bc_len[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
    n1 = ext(e1, 0x13, false, bc_len, sizeof bc_len);
    s.after_len = exts(raw, sizeof raw, e1, n1);
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_OK);
    assert_true(c.has_basic_constraints);
    assert_false(c.is_ca);

    /* SAN with a dNSName, an rfc822Name, an IP and a directoryName. */
    const uint8_t san[] = { 0x30, 0x18, 0x82, 0x05, 'a', '.', 'b', '.', 'c', 0x81, 0x03, 'a', '@', 'b',
                            0x87, 0x04, 127, 0, 0, 1, 0xa4, 0x04, 0x30, 0x02, 0x31, 0x00 };
    n1 = ext(e1, 0x11, false, san, sizeof san);
    size_t n2 = ext(e2, 0x13, true, bc_ca, sizeof bc_ca);
    memcpy(two, e1, n1);
    memcpy(two + n1, e2, n2);
    s.after_len = exts(raw, sizeof raw, two, n1 + n2);
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_OK);
    assert_true(c.has_san);
    assert_int_equal(c.n_dnsnames, 1);
    assert_int_equal(c.n_other_sans, 3);
    assert_true(c.is_ca);

    /* SAN whose GeneralName is not context-specific. */
    const uint8_t san_bad[] = { 0x30, 0x03, 0x04, 0x01, 'a' };
    n1 = ext(e1, 0x11, false, san_bad, sizeof san_bad);
    s.after_len = exts(raw, sizeof raw, e1, n1);
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_EFORMAT);

    /* Unique identifiers need v2+; with v3 they are skipped. */
    const uint8_t uids[] = { 0x81, 0x02, 0x00, 0xaa, 0x82, 0x02, 0x00, 0xbb };
    s.after_spki = uids;
    s.after_len = sizeof uids;
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_OK);
    s.version = NULL;
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_EFORMAT);

    /* Garbage after the last TBS field. */
    const uint8_t junk[] = { 0x05, 0x00 };
    s.after_spki = junk;
    s.after_len = sizeof junk;
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_EFORMAT);

    /* Version 4 does not exist. */
    const uint8_t ver4[] = { 0xa0, 0x03, 0x02, 0x01, 0x03 };
    s = (spec_t){ .version = ver4, .version_len = sizeof ver4 };
    b = build(&s);
    assert_int_equal(parse_blob(&b, &c), DN_EFORMAT);
}

static void test_bad_lengths(void **state)
{
    (void)state;
    x509_cert_t c;
    const uint8_t indefinite[] = { 0x30, 0x80, 0x30, 0x00, 0x00, 0x00 };
    const uint8_t five[] = { 0x30, 0x85, 0x00, 0x00, 0x00, 0x00, 0x02 };
    const uint8_t nonminimal[] = { 0x30, 0x81, 0x02, 0x05, 0x00 };
    const uint8_t leadzero[] = { 0x30, 0x82, 0x00, 0x82, 0x05, 0x00 };
    const uint8_t hightag[] = { 0x3f, 0x01, 0x00 };
    const uint8_t huge[] = { 0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00 };
    assert_int_equal(x509_parse(indefinite, sizeof indefinite, &c), DN_EFORMAT);
    assert_int_equal(x509_parse(five, sizeof five, &c), DN_EFORMAT);
    assert_int_equal(x509_parse(nonminimal, sizeof nonminimal, &c), DN_EFORMAT);
    assert_int_equal(x509_parse(leadzero, sizeof leadzero, &c), DN_EFORMAT);
    assert_int_equal(x509_parse(hightag, sizeof hightag, &c), DN_EFORMAT);
    assert_int_equal(x509_parse(huge, sizeof huge, &c), DN_ETRUNC);
}

/* ---- time ------------------------------------------------------------------ */

static int64_t t_of(uint8_t tag, const char *s)
{
    int64_t t = 42;
    int rc = x509_time_to_epoch(tag, (const uint8_t *)s, strlen(s), &t);
    if (rc != DN_OK)
        fail_msg("%s: %d", s, rc);
    return t;
}

static void test_time(void **state)
{
    (void)state;
    assert_true(t_of(0x17, "700101000000Z") == 0);
    assert_true(t_of(0x17, "691231235959Z") == -1);
    assert_true(t_of(0x17, "491231235959Z") == 2524607999LL); /* pivot: 2049 */
    assert_true(t_of(0x17, "500101000000Z") == -631152000LL);  /* pivot: 1950 */
    assert_true(t_of(0x17, "000229000000Z") == 951782400LL);   /* 2000 is leap */
    assert_true(t_of(0x18, "20000229000000Z") == 951782400LL);
    assert_true(t_of(0x18, "21000301000000Z") == 4107542400LL);
    assert_true(t_of(0x18, "99991231235959Z") == 253402300799LL);
    assert_true(t_of(0x18, "00010101000000Z") == -62135596800LL);

    const struct {
        uint8_t tag;
        const char *s;
    } bad[] = {
        { 0x18, "21000229000000Z" }, /* 2100 is not leap */
        { 0x18, "19000229000000Z" },
        { 0x17, "230229000000Z" },
        { 0x17, "240431000000Z" },
        { 0x17, "240001000000Z" },
        { 0x17, "240100000000Z" },
        { 0x17, "240101000000" },
        { 0x17, "2401010000000Z" },
        { 0x17, "20240101000000Z" }, /* GeneralizedTime form under UTCTime tag */
        { 0x18, "240101000000Z" },
        { 0x18, "20240101000000+" },
        { 0x18, "2024010100000.Z" },
        { 0x04, "240101000000Z" },
        { 0x17, "" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t t = 7;
        assert_int_equal(x509_time_to_epoch(bad[i].tag, (const uint8_t *)bad[i].s, strlen(bad[i].s), &t),
                         DN_EFORMAT);
        assert_true(t == 7);
    }
    int64_t t;
    assert_int_equal(x509_time_to_epoch(0x17, NULL, 13, &t), DN_EINVAL);
}

/* ---- SPKI ------------------------------------------------------------------- */

static void test_spki(void **state)
{
    (void)state;
    x509_key_type_t kt = X509_KEY_RSA;
    x509_span_t pub = { 0 };
    file_t f = load("ee_ed25519.spki");
    assert_int_equal(x509_parse_spki(f.p, f.n, &kt, &pub), DN_OK);
    assert_int_equal(kt, X509_KEY_ED25519);
    assert_int_equal(pub.len, 32);
    /* Truncations and a trailing byte. */
    for (size_t k = 0; k < f.n; k++) {
        uint8_t *p = malloc(k ? k : 1);
        memcpy(p, f.p, k);
        int rc = x509_parse_spki(p, k, &kt, &pub);
        assert_true(rc == DN_ETRUNC || rc == DN_EFORMAT);
        free(p);
    }
    uint8_t *p = malloc(f.n + 1);
    memcpy(p, f.p, f.n);
    p[f.n] = 0;
    assert_int_equal(x509_parse_spki(p, f.n + 1, &kt, &pub), DN_EFORMAT);
    free(p);
    unload(&f);

    /* An unknown algorithm is not an error. */
    const uint8_t dsa[] = { 0x30, 0x0e, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01,
                            0x03, 0x01, 0x00 };
    assert_int_equal(x509_parse_spki(dsa, sizeof dsa, &kt, &pub), DN_OK);
    assert_int_equal(kt, X509_KEY_UNKNOWN);
    assert_int_equal(pub.len, 0);
    /* EC key on an unsupported curve (secp521r1). */
    const uint8_t p521[] = { 0x30, 0x15, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
                             0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23, 0x03, 0x01, 0x00 };
    assert_int_equal(x509_parse_spki(p521, sizeof p521, &kt, &pub), DN_OK);
    assert_int_equal(kt, X509_KEY_UNKNOWN);
}

/* ---- signatures ------------------------------------------------------------ */

static int verify_pair(const char *subject, const char *issuer)
{
    file_t s = loadf(subject, ".der"), i = loadf(issuer, ".spki");
    x509_cert_t c;
    assert_int_equal(x509_parse(s.p, s.n, &c), DN_OK);
    int rc = x509_verify_signed_by(&c, i.p, i.n);
    unload(&s);
    unload(&i);
    return rc;
}

static void test_verify_good(void **state)
{
    (void)state;
    const char *self[] = { "ee_p256", "ee_ed25519", "ee_rsa", "ee_p384", "ee_rsa512", "ca", "ca_v1" };
    for (size_t k = 0; k < sizeof self / sizeof *self; k++)
        if (verify_pair(self[k], self[k]) != DN_OK)
            fail_msg("%s self-signature", self[k]);
    assert_int_equal(verify_pair("bob", "ca"), DN_OK);
    assert_int_equal(verify_pair("int", "ca"), DN_OK);
    assert_int_equal(verify_pair("leaf_int", "int"), DN_OK);
    assert_int_equal(verify_pair("leaf_notca", "notca"), DN_OK);
    assert_int_equal(verify_pair("leaf_v1ca", "ca_v1"), DN_OK);
}

static void test_verify_bad(void **state)
{
    (void)state;
    assert_int_equal(verify_pair("bob", "int"), DN_ECRYPTO);        /* wrong key, same type */
    assert_int_equal(verify_pair("leaf_int", "ca"), DN_ECRYPTO);
    assert_int_equal(verify_pair("bob", "ee_ed25519"), DN_ECRYPTO); /* key type mismatch */
    assert_int_equal(verify_pair("ee_rsa", "ee_p256"), DN_ECRYPTO);
    assert_int_equal(verify_pair("ee_ed25519", "ee_rsa"), DN_ECRYPTO);
    assert_int_equal(verify_pair("ee_rsa", "ee_rsa512"), DN_ECRYPTO);
    assert_int_equal(verify_pair("ee_p384", "ee_p256"), DN_ECRYPTO);

    /* Flip one byte in the signature, then one in the TBS. */
    const char *names[] = { "bob", "ee_ed25519", "ee_rsa", "ee_p384" };
    const char *issuers[] = { "ca", "ee_ed25519", "ee_rsa", "ee_p384" };
    for (size_t k = 0; k < 4; k++) {
        file_t s = loadf(names[k], ".der"), i = loadf(issuers[k], ".spki");
        x509_cert_t c;
        s.p[s.n - 1] ^= 0x01;
        assert_int_equal(x509_parse(s.p, s.n, &c), DN_OK);
        int rc = x509_verify_signed_by(&c, i.p, i.n);
        if (rc != DN_ECRYPTO)
            fail_msg("%s: flipped signature gives %d", names[k], rc);
        s.p[s.n - 1] ^= 0x01;
        assert_int_equal(x509_parse(s.p, s.n, &c), DN_OK);
        assert_int_equal(x509_verify_signed_by(&c, i.p, i.n), DN_OK);
        /* The last byte of the TBS is inside the extensions. */
        uint8_t *t = (uint8_t *)c.tbs.ptr + c.tbs.len - 1;
        *t ^= 0x01;
        assert_int_equal(x509_verify_signed_by(&c, i.p, i.n), DN_ECRYPTO);
        unload(&s);
        unload(&i);
    }

    /* Malformed keys and signatures. */
    file_t s = load("bob.der"), i = load("ca.spki");
    x509_cert_t c;
    assert_int_equal(x509_parse(s.p, s.n, &c), DN_OK);
    assert_int_equal(x509_verify_signed_by(&c, i.p, i.n - 1), DN_EFORMAT);
    i.p[i.n - 65] = 0x02; /* compressed-point marker on an uncompressed-length key */
    assert_int_equal(x509_verify_signed_by(&c, i.p, i.n), DN_EFORMAT);
    x509_cert_t bad = c;
    bad.signature.len = 3;
    i.p[i.n - 65] = 0x04;
    assert_int_equal(x509_verify_signed_by(&bad, i.p, i.n), DN_EFORMAT);
    bad = c;
    bad.sig_alg = X509_SIG_UNKNOWN;
    assert_int_equal(x509_verify_signed_by(&bad, i.p, i.n), DN_EUNSUPPORTED);
    const uint8_t dsa[] = { 0x30, 0x0e, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01,
                            0x03, 0x01, 0x00 };
    assert_int_equal(x509_verify_signed_by(&c, dsa, sizeof dsa), DN_EUNSUPPORTED);
    assert_int_equal(x509_verify_signed_by(NULL, i.p, i.n), DN_EINVAL);
    unload(&s);
    unload(&i);
}

static void test_hash(void **state)
{
    (void)state;
    /* SHA-256("abc"), FIPS 180-2 appendix B.1 */
    const uint8_t abc256[] = { 0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                               0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                               0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };
    uint8_t d[64];
    assert_int_equal(x509_hash(256, (const uint8_t *)"abc", 3, d), DN_OK);
    assert_memory_equal(d, abc256, 32);
    assert_int_equal(x509_hash(224, (const uint8_t *)"abc", 3, d), DN_EINVAL);
    assert_int_equal(x509_hash(512, NULL, 0, d), DN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_parse),
        cmocka_unit_test(test_key_and_sig_types),
        cmocka_unit_test(test_names_and_constraints),
        cmocka_unit_test(test_too_many_sans),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_handmade),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_spki),
        cmocka_unit_test(test_verify_good),
        cmocka_unit_test(test_verify_bad),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
