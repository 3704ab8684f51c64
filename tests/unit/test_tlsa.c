/* Unit tests of dane/tlsa.c: dane_match over openssl-generated chains
 * (tests/unit/data, see make-fixtures.sh), digest agility, reasons,
 * dane_tlsa_data against openssl's digests, and name matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "dane/tlsa.h"
#include "dane/x509.h"

/* ---- fixtures -------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t n;
} file_t;

static file_t load(const char *base, const char *suffix)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s%s", TEST_DATA_DIR, base, suffix);
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

/* Everything the tests use, loaded once. */
enum { F_EE_P256, F_EE_ED25519, F_EE_RSA, F_CA, F_BOB, F_EXPIRED, F_MALLORY, F_TWOSANS, F_WILD,
       F_INT, F_LEAF_INT, F_NOTCA, F_LEAF_NOTCA, F_CA_V1, F_LEAF_V1CA, F_COUNT };
static const char *const NAMES[F_COUNT] = {
    "ee_p256", "ee_ed25519", "ee_rsa", "ca", "bob", "expired", "mallory", "twosans", "wild",
    "int", "leaf_int", "notca", "leaf_notca", "ca_v1", "leaf_v1ca",
};

typedef struct {
    file_t der, spki, c256, c512, s256, s512;
    int64_t nb, na;
} fix_t;

static fix_t FX[F_COUNT];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < F_COUNT; i++) {
        FX[i].der = load(NAMES[i], ".der");
        FX[i].spki = load(NAMES[i], ".spki");
        FX[i].c256 = load(NAMES[i], ".cert.sha256");
        FX[i].c512 = load(NAMES[i], ".cert.sha512");
        FX[i].s256 = load(NAMES[i], ".spki.sha256");
        FX[i].s512 = load(NAMES[i], ".spki.sha512");
        file_t d = load(NAMES[i], ".dates");
        char s[64] = { 0 };
        memcpy(s, d.p, d.n < 63 ? d.n : 63);
        long long a, b;
        if (sscanf(s, "%lld %lld", &a, &b) != 2)
            return -1;
        FX[i].nb = a;
        FX[i].na = b;
        free(d.p);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < F_COUNT; i++) {
        free(FX[i].der.p);
        free(FX[i].spki.p);
        free(FX[i].c256.p);
        free(FX[i].c512.p);
        free(FX[i].s256.p);
        free(FX[i].s512.p);
    }
    return 0;
}

/* 2030-01-01: inside every valid fixture's dates. */
#define NOW 1893456000LL

/* The association data openssl computed for (fixture, selector, mtype). */
static dane_tlsa_rr_t rr(uint8_t usage, int fx, uint8_t sel, uint8_t mt)
{
    const file_t *f;
    if (sel == 0)
        f = mt == 0 ? &FX[fx].der : mt == 1 ? &FX[fx].c256 : &FX[fx].c512;
    else
        f = mt == 0 ? &FX[fx].spki : mt == 1 ? &FX[fx].s256 : &FX[fx].s512;
    dane_tlsa_rr_t r = { usage, sel, mt, f->p, f->n };
    return r;
}

static const uint8_t ZERO64[64];

static dane_tlsa_rr_t wrong(uint8_t usage, uint8_t sel, uint8_t mt)
{
    dane_tlsa_rr_t r = { usage, sel, mt, ZERO64, mt == 1 ? 32 : 64 };
    return r;
}

typedef struct {
    dane_der_t chain[16];
    size_t n;
} chain_t;

static chain_t mkchain(int n, ...)
{
    chain_t c = { .n = 0 };
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        int fx = va_arg(ap, int);
        c.chain[c.n].der = FX[fx].der.p;
        c.chain[c.n].len = FX[fx].der.n;
        c.n++;
    }
    va_end(ap);
    return c;
}

static dane_verdict_t V;

static dane_reason_t match(const chain_t *c, const dane_tlsa_rr_t *rrs, size_t n, const char *id, int64_t now)
{
    memset(&V, 0x5a, sizeof V);
    dane_match_opts_t o = { .pkix_enabled = false };
    dane_reason_t r = dane_match(c->chain, c->n, rrs, n, id, now, &o, &V);
    assert_int_equal(r, V.reason);
    if (r != DANE_OK)
        assert_int_equal(V.matched_index, -1);
    return r;
}

#define ALICE "alice._device.corp.example"
#define BOB "bob._device.corp.example"

/* ---- DANE-EE ------------------------------------------------------------------ */

static void test_ee_all_selectors_and_types(void **state)
{
    (void)state;
    const int leaves[] = { F_EE_P256, F_EE_ED25519, F_EE_RSA, F_BOB };
    for (size_t l = 0; l < 4; l++) {
        chain_t c = mkchain(1, leaves[l]);
        for (uint8_t sel = 0; sel < 2; sel++) {
            for (uint8_t mt = 0; mt < 3; mt++) {
                dane_tlsa_rr_t r = rr(3, leaves[l], sel, mt);
                if (match(&c, &r, 1, ALICE, NOW) != DANE_OK)
                    fail_msg("%s 3 %u %u: %s", NAMES[leaves[l]], sel, mt, dane_reason_text(V.reason));
                assert_int_equal(V.matched_index, 0);
                assert_true(V.valid_until == INT64_MAX);
                if (mt != 0) {
                    dane_tlsa_rr_t w = wrong(3, sel, mt);
                    assert_int_equal(match(&c, &w, 1, ALICE, NOW), DANE_R_NO_MATCH);
                }
            }
        }
    }
    /* Type 0 with one byte less or more does not match. */
    chain_t c = mkchain(1, F_EE_P256);
    dane_tlsa_rr_t r = rr(3, F_EE_P256, 1, 0);
    r.len--;
    assert_int_equal(match(&c, &r, 1, ALICE, NOW), DANE_R_NO_MATCH);
}

static void test_ee_ignores_dates_names_and_chain(void **state)
{
    (void)state;
    chain_t c = mkchain(1, F_EXPIRED);
    dane_tlsa_rr_t r = rr(3, F_EXPIRED, 1, 1);
    assert_int_equal(match(&c, &r, 1, "somebody.else.example", NOW), DANE_OK);
    assert_int_equal(match(&c, &r, 1, NULL, 0), DANE_OK);
    assert_int_equal(match(&c, &r, 1, "x", INT64_MAX), DANE_OK);
    /* The rest of the chain is irrelevant, even garbage. */
    uint8_t junk[3] = { 0x30, 0x01, 0x00 };
    c.chain[1].der = junk;
    c.chain[1].len = sizeof junk;
    c.n = 2;
    assert_int_equal(match(&c, &r, 1, ALICE, NOW), DANE_OK);
    /* EE matches only the leaf: a record for the second certificate does not. */
    c = mkchain(2, F_BOB, F_CA);
    r = rr(3, F_CA, 1, 1);
    assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_R_NO_MATCH);
    /* A bad leaf signature does not matter to DANE-EE. */
    uint8_t *copy = malloc(FX[F_BOB].der.n);
    memcpy(copy, FX[F_BOB].der.p, FX[F_BOB].der.n);
    copy[FX[F_BOB].der.n - 1] ^= 1;
    c.chain[0].der = copy;
    r = rr(3, F_BOB, 1, 1);
    assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_OK);
    free(copy);
}

/* ---- unknown / unusable / PKIX ----------------------------------------------- */

static void test_unknown_parameters(void **state)
{
    (void)state;
    chain_t c = mkchain(1, F_EE_P256);
    dane_tlsa_rr_t good = rr(3, F_EE_P256, 1, 1);
    dane_tlsa_rr_t bad[] = { good, good, good, good, good };
    bad[0].usage = 4;
    bad[1].usage = 255;
    bad[2].selector = 2;
    bad[3].mtype = 3;
    bad[4].mtype = 255;
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(match(&c, &bad[i], 1, ALICE, NOW), DANE_R_NO_USABLE);
    assert_int_equal(match(&c, bad, 5, ALICE, NOW), DANE_R_NO_USABLE);
    /* Skipped, not fatal: a good record after them still matches. */
    dane_tlsa_rr_t mixed[6];
    memcpy(mixed, bad, sizeof bad);
    mixed[5] = good;
    assert_int_equal(match(&c, mixed, 6, ALICE, NOW), DANE_OK);
    assert_int_equal(V.matched_index, 5);
    /* Unknown types do not take part in digest agility. */
    dane_tlsa_rr_t agile[2] = { good, good };
    agile[0].mtype = 3;
    agile[0].len = 64;
    agile[0].data = ZERO64;
    assert_int_equal(match(&c, agile, 2, ALICE, NOW), DANE_OK);
    assert_int_equal(V.matched_index, 1);
    /* No records at all. */
    assert_int_equal(match(&c, NULL, 0, ALICE, NOW), DANE_R_NO_USABLE);
}

static void test_malformed_records(void **state)
{
    (void)state;
    chain_t c = mkchain(1, F_EE_P256);
    dane_tlsa_rr_t r = rr(3, F_EE_P256, 1, 1);
    dane_tlsa_rr_t e = r;
    e.len = 0;
    assert_int_equal(match(&c, &e, 1, ALICE, NOW), DANE_R_NO_USABLE);
    e.mtype = 0;
    assert_int_equal(match(&c, &e, 1, ALICE, NOW), DANE_R_NO_USABLE);
    e = r;
    e.len = 31;
    assert_int_equal(match(&c, &e, 1, ALICE, NOW), DANE_R_NO_USABLE);
    e = rr(3, F_EE_P256, 1, 2);
    e.len = 32;
    assert_int_equal(match(&c, &e, 1, ALICE, NOW), DANE_R_NO_USABLE);
    /* A malformed type 2 does not hide a good type 1. */
    dane_tlsa_rr_t two[2] = { e, r };
    assert_int_equal(match(&c, two, 2, ALICE, NOW), DANE_OK);
    e = r;
    e.data = NULL;
    assert_int_equal(match(&c, &e, 1, ALICE, NOW), DANE_R_NO_USABLE);
}

static void test_pkix_usages(void **state)
{
    (void)state;
    chain_t c = mkchain(2, F_BOB, F_CA);
    dane_tlsa_rr_t p[] = { rr(0, F_CA, 0, 1), rr(1, F_BOB, 1, 1) };
    for (size_t n = 1; n <= 2; n++)
        assert_int_equal(match(&c, p, n, BOB, NOW), DANE_R_PKIX_DISABLED);
    dane_tlsa_rr_t p1 = p[1];
    assert_int_equal(match(&c, &p1, 1, BOB, NOW), DANE_R_PKIX_DISABLED);
    /* PKIX plus an unknown usage: still PKIX is why nothing matched. */
    dane_tlsa_rr_t pu[] = { p[0], rr(4, F_BOB, 1, 1) };
    assert_int_equal(match(&c, pu, 2, BOB, NOW), DANE_R_PKIX_DISABLED);
    /* PKIX plus a usable DANE record that does not match: no match. */
    dane_tlsa_rr_t pd[] = { p[0], wrong(3, 1, 1) };
    assert_int_equal(match(&c, pd, 2, BOB, NOW), DANE_R_NO_MATCH);
    /* ... and one that matches. */
    pd[1] = rr(3, F_BOB, 1, 1);
    assert_int_equal(match(&c, pd, 2, BOB, NOW), DANE_OK);
    assert_int_equal(V.matched_index, 1);
    /* With PKIX enabled the pure matcher cannot do the CA-bundle part. */
    dane_match_opts_t o = { .pkix_enabled = true };
    dane_verdict_t v;
    assert_int_equal(dane_match(c.chain, c.n, p, 2, BOB, NOW, &o, &v), DANE_R_NO_USABLE);
    /* NULL opts means PKIX disabled. */
    assert_int_equal(dane_match(c.chain, c.n, p, 2, BOB, NOW, NULL, &v), DANE_R_PKIX_DISABLED);
}

/* ---- digest agility ----------------------------------------------------------- */

static void test_digest_agility(void **state)
{
    (void)state;
    chain_t c = mkchain(1, F_EE_P256);
    /* A wrong SHA-512 hides a correct SHA-256 for the same usage+selector. */
    dane_tlsa_rr_t a[] = { rr(3, F_EE_P256, 1, 1), wrong(3, 1, 2) };
    assert_int_equal(match(&c, a, 2, ALICE, NOW), DANE_R_NO_MATCH);
    /* Order does not matter. */
    dane_tlsa_rr_t a2[] = { wrong(3, 1, 2), rr(3, F_EE_P256, 1, 1) };
    assert_int_equal(match(&c, a2, 2, ALICE, NOW), DANE_R_NO_MATCH);
    /* Full (type 0) always counts. */
    dane_tlsa_rr_t b[] = { wrong(3, 1, 2), rr(3, F_EE_P256, 1, 1), rr(3, F_EE_P256, 1, 0) };
    assert_int_equal(match(&c, b, 3, ALICE, NOW), DANE_OK);
    assert_int_equal(V.matched_index, 2);
    /* Another selector is another family. */
    dane_tlsa_rr_t d[] = { wrong(3, 1, 2), rr(3, F_EE_P256, 0, 1) };
    assert_int_equal(match(&c, d, 2, ALICE, NOW), DANE_OK);
    assert_int_equal(V.matched_index, 1);
    /* A correct SHA-512 with a wrong SHA-256. */
    dane_tlsa_rr_t e[] = { wrong(3, 1, 1), rr(3, F_EE_P256, 1, 2) };
    assert_int_equal(match(&c, e, 2, ALICE, NOW), DANE_OK);
    assert_int_equal(V.matched_index, 1);
    /* Another usage is another family: a wrong 2 1 2 does not hide 3 1 1. */
    dane_tlsa_rr_t f[] = { wrong(2, 1, 2), rr(3, F_EE_P256, 1, 1) };
    assert_int_equal(match(&c, f, 2, ALICE, NOW), DANE_OK);
    /* DANE-TA families too. */
    chain_t cb = mkchain(2, F_BOB, F_CA);
    dane_tlsa_rr_t g[] = { rr(2, F_CA, 0, 1), wrong(2, 0, 2) };
    assert_int_equal(match(&cb, g, 2, BOB, NOW), DANE_R_NO_MATCH);
    g[1] = rr(2, F_CA, 0, 2);
    assert_int_equal(match(&cb, g, 2, BOB, NOW), DANE_OK);
    assert_int_equal(V.matched_index, 1);
}

/* ---- DANE-TA ------------------------------------------------------------------ */

static void test_ta_all_selectors_and_types(void **state)
{
    (void)state;
    chain_t c = mkchain(2, F_BOB, F_CA);
    for (uint8_t sel = 0; sel < 2; sel++) {
        for (uint8_t mt = 0; mt < 3; mt++) {
            dane_tlsa_rr_t r = rr(2, F_CA, sel, mt);
            if (match(&c, &r, 1, BOB, NOW) != DANE_OK)
                fail_msg("2 %u %u: %s", sel, mt, dane_reason_text(V.reason));
            assert_int_equal(V.matched_index, 0);
            /* min notAfter of the path: bob ends before the CA. */
            assert_true(V.valid_until == FX[F_BOB].na);
            assert_true(FX[F_BOB].na < FX[F_CA].na);
            if (mt) {
                dane_tlsa_rr_t w = wrong(2, sel, mt);
                assert_int_equal(match(&c, &w, 1, BOB, NOW), DANE_R_NO_MATCH);
            }
            /* A TA record for the leaf itself is not an anchor. */
            r = rr(2, F_BOB, sel, mt);
            assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_R_NO_MATCH);
        }
    }
    /* Self-signed leaf, TA record over itself: no anchor. */
    chain_t s = mkchain(1, F_EE_P256);
    dane_tlsa_rr_t r = rr(2, F_EE_P256, 0, 1);
    assert_int_equal(match(&s, &r, 1, ALICE, NOW), DANE_R_NO_MATCH);
}

static void test_ta_key_not_in_chain(void **state)
{
    (void)state;
    /* 2 1 0 with the CA key, the CA certificate not sent. */
    chain_t c = mkchain(1, F_BOB);
    dane_tlsa_rr_t r = rr(2, F_CA, 1, 0);
    assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_OK);
    assert_true(V.valid_until == FX[F_BOB].na);
    /* The same key as a digest cannot anchor a certificate that is absent. */
    dane_tlsa_rr_t d = rr(2, F_CA, 1, 1);
    assert_int_equal(match(&c, &d, 1, BOB, NOW), DANE_R_NO_MATCH);
    /* A different key. */
    r = rr(2, F_INT, 1, 0);
    assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_R_NO_MATCH);
    r = rr(2, F_EE_ED25519, 1, 0);
    assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_R_NO_MATCH);
    /* Malformed SPKI data. */
    r = rr(2, F_CA, 1, 0);
    r.len -= 1;
    assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_R_NO_MATCH);
    /* Through an intermediate: the key signs the top of the chain. */
    c = mkchain(2, F_LEAF_INT, F_INT);
    r = rr(2, F_CA, 1, 0);
    assert_int_equal(match(&c, &r, 1, "erin._device.corp.example", NOW), DANE_OK);
    assert_true(V.valid_until == FX[F_INT].na);
    /* The key still applies to dates and names. */
    c = mkchain(1, F_EXPIRED);
    assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_R_EXPIRED);
    c = mkchain(1, F_MALLORY);
    assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_R_NAME_MISMATCH);
    /* And a key that signs through a non-CA. */
    c = mkchain(2, F_LEAF_NOTCA, F_NOTCA);
    assert_int_equal(match(&c, &r, 1, "frank._device.corp.example", NOW), DANE_R_NOT_CA);
}

static void test_ta_intermediate(void **state)
{
    (void)state;
    const char *erin = "erin._device.corp.example";
    chain_t c = mkchain(3, F_LEAF_INT, F_INT, F_CA);
    dane_tlsa_rr_t r = rr(2, F_CA, 0, 1);
    assert_int_equal(match(&c, &r, 1, erin, NOW), DANE_OK);
    /* min(leaf 2099, intermediate 2098, CA 2099) */
    assert_true(V.valid_until == FX[F_INT].na);
    r = rr(2, F_INT, 1, 1);
    assert_int_equal(match(&c, &r, 1, erin, NOW), DANE_OK);
    assert_true(V.valid_until == FX[F_INT].na);
    /* Out of order: the path is built by names. */
    c = mkchain(3, F_LEAF_INT, F_CA, F_INT);
    r = rr(2, F_CA, 0, 1);
    assert_int_equal(match(&c, &r, 1, erin, NOW), DANE_OK);
    /* Missing intermediate: the CA does not issue the leaf. */
    c = mkchain(2, F_LEAF_INT, F_CA);
    assert_int_equal(match(&c, &r, 1, erin, NOW), DANE_R_NO_MATCH);
    /* A CA present in the chain but not on the leaf's path. */
    c = mkchain(3, F_EE_P256, F_INT, F_CA);
    assert_int_equal(match(&c, &r, 1, ALICE, NOW), DANE_R_NO_MATCH);
    /* Outside the intermediate's dates only (2098-12-31 .. 2099-06-30). */
    c = mkchain(3, F_LEAF_INT, F_INT, F_CA);
    assert_int_equal(match(&c, &r, 1, erin, FX[F_INT].na + 1), DANE_R_EXPIRED);
    assert_int_equal(match(&c, &r, 1, erin, FX[F_INT].na), DANE_OK);
}

static void test_ta_wildcard_and_names(void **state)
{
    (void)state;
    chain_t c = mkchain(2, F_WILD, F_CA);
    dane_tlsa_rr_t r = rr(2, F_CA, 1, 1);
    assert_int_equal(match(&c, &r, 1, "dave._device.corp.example", NOW), DANE_OK);
    assert_int_equal(match(&c, &r, 1, "a.b._device.corp.example", NOW), DANE_R_NAME_MISMATCH);
    assert_int_equal(match(&c, &r, 1, "_device.corp.example", NOW), DANE_R_NAME_MISMATCH);
    assert_int_equal(match(&c, &r, 1, "dave._device.corp.example.org", NOW), DANE_R_NAME_MISMATCH);
    assert_int_equal(match(&c, &r, 1, NULL, NOW), DANE_R_NAME_MISMATCH);

    c = mkchain(2, F_BOB, F_CA);
    assert_int_equal(match(&c, &r, 1, "BOB._Device.Corp.Example.", NOW), DANE_OK);
    assert_int_equal(match(&c, &r, 1, "bob._device.corp.example.org", NOW), DANE_R_NAME_MISMATCH);
    assert_int_equal(match(&c, &r, 1, "bob._device.corp", NOW), DANE_R_NAME_MISMATCH);
    assert_int_equal(match(&c, &r, 1, "", NOW), DANE_R_NAME_MISMATCH);

    c = mkchain(2, F_MALLORY, F_CA);
    assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_R_NAME_MISMATCH);
    assert_int_equal(match(&c, &r, 1, "mallory._device.corp.example", NOW), DANE_OK);

    c = mkchain(2, F_TWOSANS, F_CA);
    assert_int_equal(match(&c, &r, 1, "one._device.corp.example", NOW), DANE_OK);
    assert_int_equal(match(&c, &r, 1, "two._device.corp.example", NOW), DANE_OK);
    assert_int_equal(match(&c, &r, 1, "three._device.corp.example", NOW), DANE_R_NAME_MISMATCH);
}

static void test_name_matches(void **state)
{
    (void)state;
#define M(san, id) dane_name_matches((const uint8_t *)(san), strlen(san), (id))
    assert_true(M("a.example", "a.example"));
    assert_true(M("A.Example.", "a.example"));
    assert_true(M("a.example", "a.example."));
    assert_false(M("a.example", "b.example"));
    assert_false(M("a.example", "aa.example"));
    assert_true(M("*.b.example", "a.b.example"));
    assert_true(M("*.B.example", "xyz.b.example."));
    assert_false(M("*.b.example", "b.example"));
    assert_false(M("*.b.example", ".b.example"));
    assert_false(M("*.b.example", "a.c.b.example"));
    assert_false(M("*.example", "a.example")); /* one label after `*` is too few */
    assert_false(M("*", "a"));
    assert_false(M("*.", "a."));
    assert_false(M("a*.b.example", "ab.b.example")); /* partial wildcards are not supported */
    assert_false(M("", ""));
    assert_false(M(".", "."));
    assert_false(dane_name_matches(NULL, 0, "a"));
    assert_false(dane_name_matches((const uint8_t *)"a", 1, NULL));
    /* An embedded NUL never matches. */
    assert_false(dane_name_matches((const uint8_t *)"a\0.example", 10, "a"));
#undef M
}

static void test_ta_expired(void **state)
{
    (void)state;
    chain_t c = mkchain(2, F_EXPIRED, F_CA);
    dane_tlsa_rr_t r = rr(2, F_CA, 0, 1);
    assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_R_EXPIRED);
    /* In 2001 the leaf was valid but the CA (2020..) was not yet. */
    assert_int_equal(match(&c, &r, 1, BOB, FX[F_EXPIRED].nb + 10), DANE_R_EXPIRED);
    /* Not yet valid leaf (bob from 2024), CA valid. */
    c = mkchain(2, F_BOB, F_CA);
    assert_int_equal(match(&c, &r, 1, BOB, FX[F_BOB].nb - 1), DANE_R_EXPIRED);
    assert_int_equal(match(&c, &r, 1, BOB, FX[F_BOB].nb), DANE_OK);
    assert_int_equal(match(&c, &r, 1, BOB, FX[F_BOB].na), DANE_OK);
    assert_int_equal(match(&c, &r, 1, BOB, FX[F_BOB].na + 1), DANE_R_EXPIRED);
    /* Expired anchor certificate: the intermediate (ends 2098) as anchor,
     * the leaf (ends 2099) still valid. */
    c = mkchain(3, F_LEAF_INT, F_INT, F_CA);
    dane_tlsa_rr_t ri = rr(2, F_INT, 1, 1);
    assert_int_equal(match(&c, &ri, 1, "erin._device.corp.example", FX[F_INT].na), DANE_OK);
    assert_int_equal(match(&c, &ri, 1, "erin._device.corp.example", FX[F_INT].na + 1), DANE_R_EXPIRED);
}

static void test_ta_bad_signature(void **state)
{
    (void)state;
    uint8_t *copy = malloc(FX[F_BOB].der.n);
    memcpy(copy, FX[F_BOB].der.p, FX[F_BOB].der.n);
    copy[FX[F_BOB].der.n - 1] ^= 0x01;
    chain_t c = mkchain(2, F_BOB, F_CA);
    c.chain[0].der = copy;
    dane_tlsa_rr_t r = rr(2, F_CA, 0, 1);
    assert_int_equal(match(&c, &r, 1, BOB, NOW), DANE_R_BAD_SIGNATURE);
    /* A TA failure is reported only when nothing else matched. */
    dane_tlsa_rr_t both[] = { r, rr(3, F_BOB, 1, 1) };
    assert_int_equal(match(&c, both, 2, BOB, NOW), DANE_OK);
    assert_int_equal(V.matched_index, 1);
    /* ... and it wins over "no match" of other records. */
    dane_tlsa_rr_t fail2[] = { wrong(3, 1, 1), r, rr(0, F_CA, 0, 1) };
    assert_int_equal(match(&c, fail2, 3, BOB, NOW), DANE_R_BAD_SIGNATURE);
    /* Intermediate signed by someone else: leaf_int's issuer replaced by a
     * certificate with the same subject but another key is not possible with
     * fixtures, so break the intermediate's own signature instead. */
    uint8_t *icopy = malloc(FX[F_INT].der.n);
    memcpy(icopy, FX[F_INT].der.p, FX[F_INT].der.n);
    icopy[FX[F_INT].der.n - 1] ^= 0x01;
    c = mkchain(3, F_LEAF_INT, F_INT, F_CA);
    c.chain[1].der = icopy;
    assert_int_equal(match(&c, &r, 1, "erin._device.corp.example", NOW), DANE_R_BAD_SIGNATURE);
    /* The intermediate as anchor: its own signature is not checked. */
    dane_tlsa_rr_t ri = { 2, 1, 1, FX[F_INT].s256.p, 32 };
    assert_int_equal(match(&c, &ri, 1, "erin._device.corp.example", NOW), DANE_OK);
    free(icopy);
    free(copy);
}

static void test_ta_not_ca(void **state)
{
    (void)state;
    const char *frank = "frank._device.corp.example";
    chain_t c = mkchain(3, F_LEAF_NOTCA, F_NOTCA, F_CA);
    dane_tlsa_rr_t r = rr(2, F_CA, 0, 1);
    assert_int_equal(match(&c, &r, 1, frank, NOW), DANE_R_NOT_CA);
    r = rr(2, F_NOTCA, 0, 1);
    assert_int_equal(match(&c, &r, 1, frank, NOW), DANE_R_NOT_CA);
    /* A leaf (cA FALSE) used as an issuer. */
    c = mkchain(2, F_LEAF_NOTCA, F_NOTCA);
    r = rr(2, F_NOTCA, 1, 1);
    assert_int_equal(match(&c, &r, 1, frank, NOW), DANE_R_NOT_CA);
}

static void test_ta_v1_anchor(void **state)
{
    (void)state;
    /* A version 1 anchor certificate is a CA because the TLSA record says so. */
    const char *grace = "grace._device.corp.example";
    chain_t c = mkchain(2, F_LEAF_V1CA, F_CA_V1);
    dane_tlsa_rr_t r = rr(2, F_CA_V1, 0, 1);
    assert_int_equal(match(&c, &r, 1, grace, NOW), DANE_OK);
    c = mkchain(1, F_LEAF_V1CA);
    r = rr(2, F_CA_V1, 1, 0);
    assert_int_equal(match(&c, &r, 1, grace, NOW), DANE_OK);
}

/* ---- chains ---------------------------------------------------------------------- */

static void test_empty_and_bad_chains(void **state)
{
    (void)state;
    dane_tlsa_rr_t r = rr(3, F_BOB, 1, 1);
    dane_verdict_t v;
    memset(&v, 0x5a, sizeof v);
    assert_int_equal(dane_match(NULL, 0, &r, 1, BOB, NOW, NULL, &v), DANE_R_EMPTY_CHAIN);
    assert_int_equal(v.reason, DANE_R_EMPTY_CHAIN);
    assert_int_equal(v.matched_index, -1);
    chain_t c = mkchain(1, F_BOB);
    assert_int_equal(dane_match(c.chain, 0, &r, 1, BOB, NOW, NULL, &v), DANE_R_EMPTY_CHAIN);

    /* Truncated leaf at several points: BAD_CERT, whatever the records. */
    size_t n = FX[F_BOB].der.n;
    size_t cuts[] = { 0, 1, 2, 3, 4, 10, 50, n / 2, n - 70, n - 2, n - 1 };
    dane_tlsa_rr_t rs[] = { r, rr(2, F_CA, 0, 1) };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        uint8_t *p = malloc(cuts[i] ? cuts[i] : 1);
        memcpy(p, FX[F_BOB].der.p, cuts[i]);
        c = mkchain(2, F_BOB, F_CA);
        c.chain[0].der = p;
        c.chain[0].len = cuts[i];
        if (match(&c, rs, 2, BOB, NOW) != DANE_R_BAD_CERT)
            fail_msg("cut %zu: %s", cuts[i], dane_reason_text(V.reason));
        free(p);
    }
    c.chain[0].der = NULL;
    c.chain[0].len = 5;
    assert_int_equal(match(&c, rs, 2, BOB, NOW), DANE_R_BAD_CERT);

    /* Truncated CA: the DANE-TA record cannot be used. */
    uint8_t *p = malloc(FX[F_CA].der.n - 1);
    memcpy(p, FX[F_CA].der.p, FX[F_CA].der.n - 1);
    c = mkchain(2, F_BOB, F_CA);
    c.chain[1].der = p;
    c.chain[1].len = FX[F_CA].der.n - 1;
    dane_tlsa_rr_t ta = rr(2, F_CA, 0, 1);
    assert_int_equal(match(&c, &ta, 1, BOB, NOW), DANE_R_BAD_CERT);
    /* ... but DANE-EE still works. */
    assert_int_equal(match(&c, rs, 2, BOB, NOW), DANE_OK);
    free(p);
}

static void test_chain_truncated_to_max(void **state)
{
    (void)state;
    const char *erin = "erin._device.corp.example";
    dane_tlsa_rr_t r = rr(2, F_CA, 0, 1);
    chain_t c = mkchain(3, F_LEAF_INT, F_INT, F_CA);
    for (size_t i = 3; i < 12; i++) {
        c.chain[i].der = FX[F_EE_P256].der.p;
        c.chain[i].len = FX[F_EE_P256].der.n;
    }
    c.n = 12;
    assert_int_equal(match(&c, &r, 1, erin, NOW), DANE_OK);
    /* The same certificates with the anchor beyond DANE_CHAIN_MAX. */
    chain_t d = c;
    d.chain[2] = c.chain[DANE_CHAIN_MAX];
    d.chain[DANE_CHAIN_MAX] = c.chain[2];
    assert_int_equal(match(&d, &r, 1, erin, NOW), DANE_R_NO_MATCH);
    /* Anchor at the last position kept. */
    d = c;
    d.chain[2] = c.chain[DANE_CHAIN_MAX - 1];
    d.chain[DANE_CHAIN_MAX - 1] = c.chain[2];
    assert_int_equal(match(&d, &r, 1, erin, NOW), DANE_OK);
}

static void test_key_anchor_budget(void **state)
{
    (void)state;
    /* DANE_KEY_ANCHOR_MAX wrong `2 1 0` keys of a fitting type use up the
     * budget: the right key after them is not tried. */
    chain_t c = mkchain(1, F_BOB);
    dane_tlsa_rr_t rs[DANE_KEY_ANCHOR_MAX + 1];
    for (size_t i = 0; i < DANE_KEY_ANCHOR_MAX; i++)
        rs[i] = rr(2, F_INT, 1, 0);
    rs[DANE_KEY_ANCHOR_MAX] = rr(2, F_CA, 1, 0);
    assert_int_equal(match(&c, rs, DANE_KEY_ANCHOR_MAX + 1, BOB, NOW), DANE_R_NO_MATCH);
    rs[DANE_KEY_ANCHOR_MAX - 1] = rr(2, F_CA, 1, 0);
    assert_int_equal(match(&c, rs, DANE_KEY_ANCHOR_MAX + 1, BOB, NOW), DANE_OK);
    assert_int_equal(V.matched_index, DANE_KEY_ANCHOR_MAX - 1);
    /* Keys of a type that cannot have signed the chain cost nothing. */
    for (size_t i = 0; i < DANE_KEY_ANCHOR_MAX; i++)
        rs[i] = rr(2, F_EE_ED25519, 1, 0);
    rs[DANE_KEY_ANCHOR_MAX] = rr(2, F_CA, 1, 0);
    assert_int_equal(match(&c, rs, DANE_KEY_ANCHOR_MAX + 1, BOB, NOW), DANE_OK);
}

/* ---- helpers ----------------------------------------------------------------- */

static void test_reason_text(void **state)
{
    (void)state;
    assert_string_equal(dane_reason_text(DANE_R_NO_MATCH), "no match");
    assert_string_equal(dane_reason_text(DANE_R_EXPIRED), "expired certificate");
    assert_string_equal(dane_reason_text(DANE_R_NAME_MISMATCH), "name mismatch");
    assert_string_equal(dane_reason_text(DANE_R_PKIX_DISABLED), "PKIX usages not enabled");
    assert_string_equal(dane_reason_text(DANE_R_BAD_SIGNATURE), "bad signature");
    assert_string_equal(dane_reason_text(DANE_R_BAD_CERT), "malformed certificate");
    for (int i = DANE_OK; i <= DANE_R_EMPTY_CHAIN; i++) {
        const char *t = dane_reason_text((dane_reason_t)i);
        assert_non_null(t);
        assert_true(strlen(t) > 0);
        for (int j = DANE_OK; j < i; j++)
            assert_string_not_equal(t, dane_reason_text((dane_reason_t)j));
    }
    assert_non_null(dane_reason_text((dane_reason_t)99));
}

static void test_tlsa_data(void **state)
{
    (void)state;
    uint8_t out[4096];
    size_t n;
    for (int f = 0; f < F_COUNT; f++) {
        for (uint8_t sel = 0; sel < 2; sel++) {
            for (uint8_t mt = 0; mt < 3; mt++) {
                dane_tlsa_rr_t want = rr(3, f, sel, mt);
                n = 0;
                assert_int_equal(dane_tlsa_data(FX[f].der.p, FX[f].der.n, sel, mt, out, sizeof out, &n), DN_OK);
                assert_int_equal(n, want.len);
                assert_memory_equal(out, want.data, n);
                /* One octet short of the output. */
                size_t small = want.len - 1;
                n = 777;
                assert_int_equal(dane_tlsa_data(FX[f].der.p, FX[f].der.n, sel, mt, out, small, &n), DN_ERANGE);
                assert_int_equal(n, 777);
            }
        }
    }
    const file_t *b = &FX[F_BOB].der;
    assert_int_equal(dane_tlsa_data(b->p, b->n, 2, 1, out, sizeof out, &n), DN_EUNSUPPORTED);
    assert_int_equal(dane_tlsa_data(b->p, b->n, 1, 3, out, sizeof out, &n), DN_EUNSUPPORTED);
    assert_int_equal(dane_tlsa_data(b->p, b->n - 1, 1, 1, out, sizeof out, &n), DN_ETRUNC);
    assert_int_equal(dane_tlsa_data(NULL, 3, 1, 1, out, sizeof out, &n), DN_EINVAL);
    assert_int_equal(dane_tlsa_data(b->p, b->n, 1, 1, NULL, 64, &n), DN_EINVAL);
    assert_int_equal(dane_tlsa_data(b->p, b->n, 1, 1, out, 64, NULL), DN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ee_all_selectors_and_types),
        cmocka_unit_test(test_ee_ignores_dates_names_and_chain),
        cmocka_unit_test(test_unknown_parameters),
        cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_pkix_usages),
        cmocka_unit_test(test_digest_agility),
        cmocka_unit_test(test_ta_all_selectors_and_types),
        cmocka_unit_test(test_ta_key_not_in_chain),
        cmocka_unit_test(test_ta_intermediate),
        cmocka_unit_test(test_ta_wildcard_and_names),
        cmocka_unit_test(test_name_matches),
        cmocka_unit_test(test_ta_expired),
        cmocka_unit_test(test_ta_bad_signature),
        cmocka_unit_test(test_ta_not_ca),
        cmocka_unit_test(test_ta_v1_anchor),
        cmocka_unit_test(test_empty_and_bad_chains),
        cmocka_unit_test(test_chain_truncated_to_max),
        cmocka_unit_test(test_key_anchor_budget),
        cmocka_unit_test(test_reason_text),
        cmocka_unit_test(test_tlsa_data),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
