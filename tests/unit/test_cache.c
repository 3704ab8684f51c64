/* Unit tests for resolver/cache.c.  Packets are built with the wire writer
 * (core/wire.h); time is simulated through the now_ms argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/wire.h"
#include "resolver/cache.h"

/* ---- packet builder ---- */

#define PB_MAX_RR 64

typedef struct {
    uint8_t buf[4096];
    wire_out_t o;
    uint16_t counts[4];       /* qd, an, ns, ar */
    size_t ttl_off[PB_MAX_RR]; /* TTL field offsets, in RR order */
    size_t n_ttl;
} pb_t;

static wire_name_t name_of(const char *text)
{
    wire_name_t n;
    assert_int_equal(wire_name_from_text(text, &n), 0);
    return n;
}

static void pb_begin(pb_t *p, uint16_t id, uint16_t flags, const char *qname, uint16_t qtype)
{
    memset(p, 0, sizeof *p);
    wire_out_init(&p->o, p->buf, sizeof p->buf, false);
    wire_header_t h = {.id = id, .flags = flags, .qdcount = 1};
    wire_put_header(&p->o, &h);
    wire_name_t n = name_of(qname);
    wire_put_name(&p->o, &n);
    wire_put_u16(&p->o, qtype);
    wire_put_u16(&p->o, WIRE_C_IN);
    p->counts[0] = 1;
}

static void pb_count(pb_t *p, int section)
{
    p->counts[section]++;
    wire_patch_u16(&p->o, 4 + 2 * (size_t)section, p->counts[section]);
}

/* Append an RR with opaque RDATA to section 1..3. */
static void pb_rr(pb_t *p, int section, const char *owner, uint16_t type, uint32_t ttl,
                  const void *rdata, uint16_t rdlen)
{
    wire_name_t n = name_of(owner);
    wire_put_name(&p->o, &n);
    wire_put_u16(&p->o, type);
    wire_put_u16(&p->o, WIRE_C_IN);
    assert_true(p->n_ttl < PB_MAX_RR);
    p->ttl_off[p->n_ttl++] = p->o.len;
    wire_put_u32(&p->o, ttl);
    wire_put_u16(&p->o, rdlen);
    wire_put_bytes(&p->o, rdata, rdlen);
    pb_count(p, section);
}

static void pb_a(pb_t *p, const char *owner, uint32_t ttl, uint8_t last_octet)
{
    uint8_t a[4] = {192, 0, 2, last_octet};
    pb_rr(p, 1, owner, WIRE_T_A, ttl, a, sizeof a);
}

static void pb_soa(pb_t *p, const char *zone, uint32_t ttl, uint32_t minimum)
{
    wire_name_t z = name_of(zone);
    wire_name_t mname = name_of("ns1.example.net");
    wire_name_t rname = name_of("hostmaster.example.net");
    wire_put_name(&p->o, &z);
    wire_put_u16(&p->o, WIRE_T_SOA);
    wire_put_u16(&p->o, WIRE_C_IN);
    assert_true(p->n_ttl < PB_MAX_RR);
    p->ttl_off[p->n_ttl++] = p->o.len;
    wire_put_u32(&p->o, ttl);
    wire_put_u16(&p->o, (uint16_t)(mname.len + rname.len + 20));
    wire_put_name(&p->o, &mname);
    wire_put_name(&p->o, &rname);
    wire_put_u32(&p->o, 2024010101u); /* serial */
    wire_put_u32(&p->o, 7200);        /* refresh */
    wire_put_u32(&p->o, 3600);        /* retry */
    wire_put_u32(&p->o, 1209600);     /* expire */
    wire_put_u32(&p->o, minimum);
    pb_count(p, 2);
}

static size_t pb_len(const pb_t *p)
{
    assert_int_equal(p->o.err, 0);
    return p->o.len;
}

static uint32_t rd32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static cache_key_t key_of(const char *qname, uint16_t qtype, uint32_t view, uint8_t flags)
{
    cache_key_t k;
    memset(&k, 0, sizeof k);
    k.view = view;
    k.qname = name_of(qname);
    k.qtype = qtype;
    k.qclass = WIRE_C_IN;
    k.flags = flags;
    return k;
}

#define RESP (WIRE_F_QR | WIRE_F_RD | WIRE_F_RA)

static const cache_limits_t default_limits = {
    .max_bytes = 1u << 20, .min_ttl = 0, .max_ttl = 86400, .negative_max_ttl = 3600,
};

static cache_t *new_cache(uint64_t max_bytes, uint32_t min_ttl, uint32_t max_ttl, uint32_t neg_max)
{
    cache_limits_t l = {.max_bytes = max_bytes, .min_ttl = min_ttl, .max_ttl = max_ttl,
                        .negative_max_ttl = neg_max};
    cache_t *c = cache_new(&l);
    assert_non_null(c);
    return c;
}

/* Lookup expecting a hit; returns the length and checks every byte other
 * than the TTL fields against the stored packet. */
static size_t hit(cache_t *c, const cache_key_t *k, uint64_t now, const pb_t *p, uint8_t *out,
                  size_t cap)
{
    size_t len = 0;
    uint32_t meta = 0;
    assert_int_equal(cache_lookup(c, k, now, out, cap, &len, &meta), 0);
    assert_int_equal(len, p->o.len);
    uint8_t expect[4096];
    memcpy(expect, p->buf, len);
    for (size_t i = 0; i < p->n_ttl; i++)
        memcpy(expect + p->ttl_off[i], out + p->ttl_off[i], 4);
    assert_memory_equal(out, expect, len);
    return len;
}

static void miss(cache_t *c, const cache_key_t *k, uint64_t now)
{
    uint8_t out[4096];
    size_t len = 12345;
    uint32_t meta = 777;
    assert_int_equal(cache_lookup(c, k, now, out, sizeof out, &len, &meta), DN_ENOTFOUND);
    assert_int_equal(len, 12345); /* outputs untouched on failure */
    assert_int_equal(meta, 777);
}

/* ---- tests ---- */

static void test_store_lookup_hit(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    assert_non_null(c);
    pb_t p;
    pb_begin(&p, 0xBEEF, RESP, "www.example.com", WIRE_T_A);
    pb_a(&p, "www.example.com", 300, 1);
    pb_a(&p, "www.example.com", 300, 2);
    cache_key_t k = key_of("www.example.com", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0xC0FFEE, 5000), 0);

    uint8_t out[512];
    size_t len = 0;
    uint32_t meta = 0;
    assert_int_equal(cache_lookup(c, &k, 5000, out, sizeof out, &len, &meta), 0);
    assert_int_equal(len, p.o.len);
    assert_memory_equal(out, p.buf, len); /* same instant: byte-identical, ID included */
    assert_int_equal(meta, 0xC0FFEE);
    assert_int_equal(out[0], 0xBE);
    assert_int_equal(out[1], 0xEF);

    /* meta may be NULL */
    assert_int_equal(cache_lookup(c, &k, 5000, out, sizeof out, &len, NULL), 0);

    cache_stats_t st;
    cache_get_stats(c, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.inserts, 1);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 0);
    assert_true(st.bytes > p.o.len);
    cache_free(c);
}

static void test_ttl_decrement(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    pb_t p;
    pb_begin(&p, 1, RESP, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 300, 1);
    pb_a(&p, "example.com", 600, 2); /* shown capped to the entry's 300 */
    pb_rr(&p, 3, "ns.example.com", WIRE_T_A, 400, "\xc0\x00\x02\x35", 4);
    cache_key_t k = key_of("example.com", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 1000), 0);

    uint8_t out[512];
    hit(c, &k, 1000 + 10500, &p, out, sizeof out); /* 10.5 s -> 10 whole seconds */
    assert_int_equal(rd32(out + p.ttl_off[0]), 290);
    assert_int_equal(rd32(out + p.ttl_off[1]), 290);
    assert_int_equal(rd32(out + p.ttl_off[2]), 290);

    hit(c, &k, 1000 + 299999, &p, out, sizeof out);
    assert_int_equal(rd32(out + p.ttl_off[0]), 1);

    /* A clock that appears to run backwards shows the full TTL, no wrap. */
    hit(c, &k, 0, &p, out, sizeof out);
    assert_int_equal(rd32(out + p.ttl_off[0]), 300);
    cache_free(c);
}

static void test_expiry(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    cache_stats_t st0, st;
    cache_get_stats(c, &st0);
    pb_t p;
    pb_begin(&p, 1, RESP, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 60, 1);
    cache_key_t k = key_of("example.com", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), 0);
    uint8_t out[512];
    hit(c, &k, 59999, &p, out, sizeof out);
    assert_int_equal(rd32(out + p.ttl_off[0]), 1);
    miss(c, &k, 60000);
    cache_get_stats(c, &st);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.bytes, st0.bytes); /* all memory of the entry returned */
    miss(c, &k, 60001);
    cache_get_stats(c, &st);
    assert_int_equal(st.expired, 1); /* already gone: a plain miss */
    assert_int_equal(st.misses, 2);
    cache_free(c);
}

static void test_max_ttl_clamp(void **state)
{
    (void)state;
    cache_t *c = new_cache(1u << 20, 0, 100, 3600);
    pb_t p;
    pb_begin(&p, 1, RESP, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 1000, 1);
    cache_key_t k = key_of("example.com", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), 0);
    uint8_t out[512];
    hit(c, &k, 0, &p, out, sizeof out);
    assert_int_equal(rd32(out + p.ttl_off[0]), 100); /* the client sees the cap too */
    hit(c, &k, 99999, &p, out, sizeof out);
    assert_int_equal(rd32(out + p.ttl_off[0]), 1);
    miss(c, &k, 100000);
    cache_free(c);
}

static void test_min_ttl_clamp(void **state)
{
    (void)state;
    cache_t *c = new_cache(1u << 20, 30, 86400, 3600);
    pb_t p;
    pb_begin(&p, 1, RESP, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 5, 1);
    pb_a(&p, "example.com", 20, 2);
    cache_key_t k = key_of("example.com", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), 0);
    uint8_t out[512];
    hit(c, &k, 0, &p, out, sizeof out);
    assert_int_equal(rd32(out + p.ttl_off[0]), 30); /* raised with the entry's lifetime */
    assert_int_equal(rd32(out + p.ttl_off[1]), 30);
    hit(c, &k, 29999, &p, out, sizeof out);
    assert_int_equal(rd32(out + p.ttl_off[0]), 1);
    miss(c, &k, 30000);
    cache_free(c);
}

static void test_nxdomain_cached(void **state)
{
    (void)state;
    /* min(SOA TTL 3600, MINIMUM 300) = 300, under negative_max_ttl 900 */
    cache_t *c = new_cache(1u << 20, 0, 86400, 900);
    pb_t p;
    pb_begin(&p, 7, RESP | WIRE_RC_NXDOMAIN, "nope.example.com", WIRE_T_A);
    pb_soa(&p, "example.com", 3600, 300);
    cache_key_t k = key_of("nope.example.com", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), 0);
    uint8_t out[512];
    hit(c, &k, 0, &p, out, sizeof out);
    assert_int_equal(WIRE_RCODE(out[3]), WIRE_RC_NXDOMAIN);
    assert_int_equal(rd32(out + p.ttl_off[0]), 300); /* SOA TTL shown as the negative TTL */
    hit(c, &k, 299999, &p, out, sizeof out);
    miss(c, &k, 300000);
    cache_free(c);

    /* clamped by negative_max_ttl */
    c = new_cache(1u << 20, 0, 86400, 60);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), 0);
    hit(c, &k, 0, &p, out, sizeof out);
    assert_int_equal(rd32(out + p.ttl_off[0]), 60);
    hit(c, &k, 59999, &p, out, sizeof out);
    miss(c, &k, 60000);
    cache_free(c);

    /* min_ttl is not a floor for negative answers */
    c = new_cache(1u << 20, 600, 86400, 3600);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), 0);
    miss(c, &k, 300000);
    cache_free(c);
}

static void test_nodata_cached(void **state)
{
    (void)state;
    /* min(SOA TTL 120, MINIMUM 600) = 120 */
    cache_t *c = new_cache(1u << 20, 0, 86400, 900);
    pb_t p;
    pb_begin(&p, 7, RESP, "example.com", WIRE_T_AAAA);
    pb_soa(&p, "example.com", 120, 600);
    cache_key_t k = key_of("example.com", WIRE_T_AAAA, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), 0);
    uint8_t out[512];
    hit(c, &k, 0, &p, out, sizeof out);
    assert_int_equal(rd32(out + p.ttl_off[0]), 120);
    hit(c, &k, 119999, &p, out, sizeof out);
    miss(c, &k, 120000);
    cache_free(c);

    c = new_cache(1u << 20, 0, 86400, 30);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), 0);
    hit(c, &k, 29999, &p, out, sizeof out);
    miss(c, &k, 30000);
    cache_free(c);
}

static void test_negative_cname_chain_bounds_ttl(void **state)
{
    (void)state;
    /* NXDOMAIN at the end of a CNAME chain: the CNAME's own TTL (30) bounds
     * the entry below the SOA's 300. */
    cache_t *c = cache_new(&default_limits);
    pb_t p;
    pb_begin(&p, 7, RESP | WIRE_RC_NXDOMAIN, "alias.example.com", WIRE_T_A);
    wire_name_t target = name_of("gone.example.com");
    pb_rr(&p, 1, "alias.example.com", WIRE_T_CNAME, 30, target.data, target.len);
    pb_soa(&p, "example.com", 300, 300);
    cache_key_t k = key_of("alias.example.com", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), 0);
    uint8_t out[512];
    hit(c, &k, 0, &p, out, sizeof out);
    assert_int_equal(rd32(out + p.ttl_off[0]), 30);
    assert_int_equal(rd32(out + p.ttl_off[1]), 30);
    miss(c, &k, 30000);
    cache_free(c);
}

static void test_negative_without_soa_not_cached(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    pb_t p;
    cache_key_t k = key_of("nope.example.com", WIRE_T_A, 0, 0);
    pb_begin(&p, 7, RESP | WIRE_RC_NXDOMAIN, "nope.example.com", WIRE_T_A);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), DN_ENOTFOUND);

    /* NODATA-looking referral: NS in authority, no SOA */
    wire_name_t ns = name_of("ns1.example.net");
    pb_begin(&p, 7, RESP, "nope.example.com", WIRE_T_A);
    pb_rr(&p, 2, "example.com", WIRE_T_NS, 3600, ns.data, ns.len);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), DN_ENOTFOUND);

    miss(c, &k, 0);
    cache_stats_t st;
    cache_get_stats(c, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.inserts, 0);
    cache_free(c);
}

static void test_uncacheable_rcodes(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    pb_t p;
    cache_key_t k = key_of("example.com", WIRE_T_A, 0, 0);
    const uint16_t rcodes[] = {WIRE_RC_SERVFAIL, WIRE_RC_REFUSED, WIRE_RC_FORMERR, WIRE_RC_NOTIMP};
    for (size_t i = 0; i < sizeof rcodes / sizeof rcodes[0]; i++) {
        pb_begin(&p, 7, (uint16_t)(RESP | rcodes[i]), "example.com", WIRE_T_A);
        pb_soa(&p, "example.com", 300, 300); /* even with an SOA */
        assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), DN_ENOTFOUND);
    }
    /* truncated answers are incomplete */
    pb_begin(&p, 7, RESP | WIRE_F_TC, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 300, 1);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), DN_ENOTFOUND);
    miss(c, &k, 0);
    cache_free(c);
}

static void test_ttl_zero_not_cached(void **state)
{
    (void)state;
    cache_t *c = new_cache(1u << 20, 30, 86400, 3600); /* min_ttl does not lift 0 */
    pb_t p;
    cache_key_t k = key_of("example.com", WIRE_T_A, 0, 0);
    pb_begin(&p, 7, RESP, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 300, 1);
    pb_a(&p, "example.com", 0, 2);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), DN_ENOTFOUND);

    /* RFC 2181 §8: a TTL with the top bit set counts as 0 */
    pb_begin(&p, 7, RESP, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 0x80000000u, 1);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), DN_ENOTFOUND);

    /* negative with SOA MINIMUM 0 */
    pb_begin(&p, 7, RESP | WIRE_RC_NXDOMAIN, "example.com", WIRE_T_A);
    pb_soa(&p, "example.com", 300, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), DN_ENOTFOUND);
    miss(c, &k, 0);
    cache_free(c);

    /* max_ttl 0 disables positive caching; negative_max_ttl 0 negative caching */
    c = new_cache(1u << 20, 0, 0, 0);
    pb_begin(&p, 7, RESP, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 300, 1);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), DN_ENOTFOUND);
    pb_begin(&p, 7, RESP | WIRE_RC_NXDOMAIN, "example.com", WIRE_T_A);
    pb_soa(&p, "example.com", 300, 300);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), DN_ENOTFOUND);
    cache_free(c);
}

static void test_view_isolation(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    pb_t p;
    pb_begin(&p, 7, RESP, "intranet.example", WIRE_T_A);
    pb_a(&p, "intranet.example", 300, 10);
    cache_key_t k1 = key_of("intranet.example", WIRE_T_A, 1, 0);
    cache_key_t k0 = key_of("intranet.example", WIRE_T_A, 0, 0);
    cache_key_t k2 = key_of("intranet.example", WIRE_T_A, 2, 0);
    assert_int_equal(cache_store(c, &k1, p.buf, pb_len(&p), 0, 0), 0);
    miss(c, &k0, 0);
    miss(c, &k2, 0);
    uint8_t out[512];
    hit(c, &k1, 0, &p, out, sizeof out);

    /* the same name in view 0 is a separate entry */
    pb_t p0;
    pb_begin(&p0, 7, RESP, "intranet.example", WIRE_T_A);
    pb_a(&p0, "intranet.example", 300, 20);
    assert_int_equal(cache_store(c, &k0, p0.buf, pb_len(&p0), 0, 0), 0);
    hit(c, &k0, 0, &p0, out, sizeof out);
    hit(c, &k1, 0, &p, out, sizeof out);
    cache_stats_t st;
    cache_get_stats(c, &st);
    assert_int_equal(st.entries, 2);
    cache_free(c);
}

static void test_flag_isolation(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    pb_t p;
    pb_begin(&p, 7, RESP | WIRE_F_AD, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 300, 1);
    cache_key_t kdo = key_of("example.com", WIRE_T_A, 0, CACHE_KEY_DO);
    assert_int_equal(cache_store(c, &kdo, p.buf, pb_len(&p), 1, 0), 0);
    cache_key_t k = key_of("example.com", WIRE_T_A, 0, 0);
    cache_key_t kcd = key_of("example.com", WIRE_T_A, 0, CACHE_KEY_CD);
    cache_key_t kboth = key_of("example.com", WIRE_T_A, 0, CACHE_KEY_DO | CACHE_KEY_CD);
    miss(c, &k, 0);
    miss(c, &kcd, 0);
    miss(c, &kboth, 0);
    uint8_t out[512];
    hit(c, &kdo, 0, &p, out, sizeof out);

    /* different qtype and qclass are different keys too */
    cache_key_t kaaaa = key_of("example.com", WIRE_T_AAAA, 0, CACHE_KEY_DO);
    miss(c, &kaaaa, 0);
    cache_key_t kch = kdo;
    kch.qclass = WIRE_C_CH;
    miss(c, &kch, 0);
    cache_free(c);
}

static void test_case_insensitive(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    pb_t p;
    pb_begin(&p, 7, RESP, "WwW.ExAmPlE.CoM", WIRE_T_A); /* 0x20-randomised question */
    pb_a(&p, "WwW.ExAmPlE.CoM", 300, 1);
    cache_key_t kmixed = key_of("Www.Example.Com", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &kmixed, p.buf, pb_len(&p), 0, 0), 0);
    cache_key_t klower = key_of("www.example.com", WIRE_T_A, 0, 0);
    cache_key_t kupper = key_of("WWW.EXAMPLE.COM.", WIRE_T_A, 0, 0);
    uint8_t out[512];
    hit(c, &klower, 0, &p, out, sizeof out);
    hit(c, &kupper, 0, &p, out, sizeof out);
    cache_key_t kother = key_of("www.example.org", WIRE_T_A, 0, 0);
    miss(c, &kother, 0);
    cache_free(c);
}

static void store_name(cache_t *c, const char *name, uint8_t octet, uint64_t now)
{
    pb_t p;
    pb_begin(&p, 7, RESP, name, WIRE_T_A);
    pb_a(&p, name, 3600, octet);
    cache_key_t k = key_of(name, WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), octet, now), 0);
}

static bool present(cache_t *c, const char *name, uint64_t now)
{
    uint8_t out[512];
    size_t len;
    cache_key_t k = key_of(name, WIRE_T_A, 0, 0);
    int rc = cache_lookup(c, &k, now, out, sizeof out, &len, NULL);
    assert_true(rc == 0 || rc == DN_ENOTFOUND);
    return rc == 0;
}

static void test_lru_eviction(void **state)
{
    (void)state;
    cache_t *c = new_cache(4096, 0, 86400, 3600);
    char name[64];
    store_name(c, "n0.example", 0, 0);
    store_name(c, "n1.example", 1, 0);
    cache_stats_t st;
    unsigned i = 2;
    for (;; i++) {
        assert_true(present(c, "n0.example", 0)); /* keep n0 most recently used */
        snprintf(name, sizeof name, "n%u.example", i);
        store_name(c, name, (uint8_t)i, 0);
        cache_get_stats(c, &st);
        assert_true(st.bytes <= 4096);
        if (st.evictions > 0)
            break;
        assert_true(i < 100);
    }
    assert_int_equal(st.evictions, 1);
    assert_false(present(c, "n1.example", 0)); /* the least recently used went first */
    assert_true(present(c, "n0.example", 0));
    assert_true(present(c, name, 0));
    assert_true(present(c, "n2.example", 0));
    assert_int_equal(st.entries, i); /* n0, n2..ni */
    cache_free(c);
}

static void test_expired_victim_counted_as_expired(void **state)
{
    (void)state;
    cache_t *c = new_cache(4096, 0, 86400, 3600);
    pb_t p;
    pb_begin(&p, 7, RESP, "short.example", WIRE_T_A);
    pb_a(&p, "short.example", 1, 1);
    cache_key_t k = key_of("short.example", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), 0);
    char name[64];
    cache_stats_t st;
    for (unsigned i = 0;; i++) {
        snprintf(name, sizeof name, "n%u.example", i);
        store_name(c, name, (uint8_t)i, 5000);
        cache_get_stats(c, &st);
        if (st.expired + st.evictions > 0)
            break;
        assert_true(i < 100);
    }
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.evictions, 0);
    cache_free(c);
}

static void test_accounting_bounded(void **state)
{
    (void)state;
    const uint64_t max = 16384;
    cache_t *c = new_cache(max, 0, 86400, 3600);
    char name[128];
    cache_stats_t st;
    for (unsigned i = 0; i < 3000; i++) {
        pb_t p;
        snprintf(name, sizeof name, "host-%u.zone-%u.example", i, i % 7);
        pb_begin(&p, (uint16_t)i, RESP, name, WIRE_T_A);
        for (unsigned r = 0; r <= i % 9; r++) /* varied sizes */
            pb_a(&p, name, 60 + i % 300, (uint8_t)r);
        cache_key_t k = key_of(name, WIRE_T_A, i % 3, (uint8_t)(i % 4));
        assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), i, (uint64_t)i * 10), 0);
        cache_get_stats(c, &st);
        assert_true(st.bytes <= max);
        assert_true(st.entries >= 1);
        if (i % 5 == 0) /* re-store some keys: replacement must not leak accounting */
            assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), i, (uint64_t)i * 10), 0);
    }
    cache_get_stats(c, &st);
    assert_true(st.evictions > 0);
    assert_true(st.entries > 5);
    assert_int_equal(st.entries + st.evictions + st.expired + 600, st.inserts);
    cache_free(c);
}

static void test_replace_on_store(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    cache_stats_t st0, st;
    cache_get_stats(c, &st0);
    pb_t p1, p2;
    pb_begin(&p1, 1, RESP, "example.com", WIRE_T_A);
    pb_a(&p1, "example.com", 300, 1);
    pb_begin(&p2, 2, RESP, "example.com", WIRE_T_A);
    pb_a(&p2, "example.com", 600, 2);
    pb_a(&p2, "example.com", 600, 3);
    cache_key_t k = key_of("example.com", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &k, p1.buf, pb_len(&p1), 1, 0), 0);
    assert_int_equal(cache_store(c, &k, p2.buf, pb_len(&p2), 2, 1000), 0);
    uint8_t out[512];
    size_t len;
    uint32_t meta;
    assert_int_equal(cache_lookup(c, &k, 1000, out, sizeof out, &len, &meta), 0);
    assert_int_equal(len, p2.o.len);
    assert_memory_equal(out, p2.buf, len);
    assert_int_equal(meta, 2);
    /* the new lifetime applies (600 s from t=1000) */
    hit(c, &k, 400000, &p2, out, sizeof out);
    cache_get_stats(c, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.inserts, 2);
    assert_int_equal(st.evictions, 0);

    /* an uncacheable response does not disturb the cached one */
    pb_t pf;
    pb_begin(&pf, 3, RESP | WIRE_RC_SERVFAIL, "example.com", WIRE_T_A);
    assert_int_equal(cache_store(c, &k, pf.buf, pb_len(&pf), 3, 2000), DN_ENOTFOUND);
    hit(c, &k, 2000, &p2, out, sizeof out);

    cache_free(c);
}

static void test_too_large(void **state)
{
    (void)state;
    cache_t *c = new_cache(1024, 0, 86400, 3600); /* quarter = 256 */
    pb_t p;
    pb_begin(&p, 1, RESP, "example.com", WIRE_T_TXT);
    uint8_t txt[255];
    memset(txt, 'x', sizeof txt);
    txt[0] = 254;
    pb_rr(&p, 1, "example.com", WIRE_T_TXT, 300, txt, sizeof txt);
    assert_true(pb_len(&p) > 256);
    cache_key_t k = key_of("example.com", WIRE_T_TXT, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), DN_ERANGE);
    cache_stats_t st;
    cache_get_stats(c, &st);
    assert_int_equal(st.entries, 0);
    assert_true(st.bytes <= 1024);

    /* a small one fits */
    pb_begin(&p, 1, RESP, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 300, 1);
    cache_key_t ka = key_of("example.com", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &ka, p.buf, pb_len(&p), 0, 0), 0);
    cache_get_stats(c, &st);
    assert_true(st.bytes <= 1024);
    cache_free(c);

    /* a budget too small for any entry rejects everything without breaking */
    c = new_cache(64, 0, 86400, 3600);
    assert_int_equal(cache_store(c, &ka, p.buf, pb_len(&p), 0, 0), DN_ERANGE);
    cache_get_stats(c, &st);
    assert_true(st.bytes <= 64);
    cache_free(c);
}

static void test_cap_too_small(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    pb_t p;
    pb_begin(&p, 1, RESP, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 300, 1);
    cache_key_t k = key_of("example.com", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &k, p.buf, pb_len(&p), 0, 0), 0);
    uint8_t out[512];
    memset(out, 0xAA, sizeof out);
    size_t len = 999;
    uint32_t meta = 999;
    assert_int_equal(cache_lookup(c, &k, 0, out, p.o.len - 1, &len, &meta), DN_ERANGE);
    assert_int_equal(len, 999);
    assert_int_equal(meta, 999);
    assert_int_equal(out[0], 0xAA); /* nothing written */
    /* exact size works, and the entry is still there */
    assert_int_equal(cache_lookup(c, &k, 0, out, p.o.len, &len, &meta), 0);
    assert_int_equal(len, p.o.len);
    cache_free(c);
}

static void test_malformed(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    cache_key_t k = key_of("example.com", WIRE_T_A, 0, 0);
    pb_t p;
    pb_begin(&p, 1, RESP, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 300, 1);
    size_t len = pb_len(&p);

    /* truncated at every length */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(cache_store(c, &k, p.buf, cut, 0, 0), DN_EFORMAT);
    /* trailing garbage */
    p.buf[len] = 0;
    assert_int_equal(cache_store(c, &k, p.buf, len + 1, 0, 0), DN_EFORMAT);
    /* a count that promises more records than there are */
    uint8_t bad[512];
    memcpy(bad, p.buf, len);
    bad[7] = 2;
    assert_int_equal(cache_store(c, &k, bad, len, 0, 0), DN_EFORMAT);
    /* a compression pointer loop in the answer owner */
    memcpy(bad, p.buf, len);
    size_t owner = p.ttl_off[0] - 4 - 13; /* "example.com" is 13 octets */
    bad[owner] = 0xC0;
    bad[owner + 1] = (uint8_t)owner;
    assert_int_equal(cache_store(c, &k, bad, len, 0, 0), DN_EFORMAT);
    /* not a response */
    memcpy(bad, p.buf, len);
    bad[2] &= 0x7F;
    assert_int_equal(cache_store(c, &k, bad, len, 0, 0), DN_EFORMAT);

    /* with an OPT record */
    pb_t po;
    pb_begin(&po, 1, RESP, "example.com", WIRE_T_A);
    pb_a(&po, "example.com", 300, 1);
    wire_opt_spec_t spec = {.udp_size = 1232, .keepalive = -1, .ede_code = -1};
    wire_put_opt(&po.o, &spec);
    assert_int_equal(cache_store(c, &k, po.buf, pb_len(&po), 0, 0), DN_EFORMAT);

    cache_stats_t st;
    cache_get_stats(c, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.inserts, 0);
    cache_free(c);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    cache_t *c = cache_new(&default_limits);
    pb_t p;
    pb_begin(&p, 1, RESP, "example.com", WIRE_T_A);
    pb_a(&p, "example.com", 300, 1);
    cache_key_t k = key_of("example.com", WIRE_T_A, 0, 0);
    uint8_t out[512];
    size_t len;

    assert_null(cache_new(NULL));
    assert_int_equal(cache_store(NULL, &k, p.buf, pb_len(&p), 0, 0), DN_EINVAL);
    assert_int_equal(cache_store(c, NULL, p.buf, pb_len(&p), 0, 0), DN_EINVAL);
    assert_int_equal(cache_store(c, &k, NULL, 10, 0, 0), DN_EINVAL);
    cache_key_t kbad = k;
    kbad.flags = 0x80;
    assert_int_equal(cache_store(c, &kbad, p.buf, pb_len(&p), 0, 0), DN_EINVAL);
    assert_int_equal(cache_lookup(c, &kbad, 0, out, sizeof out, &len, NULL), DN_EINVAL);
    assert_int_equal(cache_lookup(c, &k, 0, out, sizeof out, NULL, NULL), DN_EINVAL);

    /* the packet must answer the key's question */
    cache_key_t kother = key_of("example.org", WIRE_T_A, 0, 0);
    assert_int_equal(cache_store(c, &kother, p.buf, pb_len(&p), 0, 0), DN_EINVAL);
    cache_key_t ktype = key_of("example.com", WIRE_T_AAAA, 0, 0);
    assert_int_equal(cache_store(c, &ktype, p.buf, pb_len(&p), 0, 0), DN_EINVAL);

    cache_stats_t st;
    cache_get_stats(c, &st);
    assert_int_equal(st.entries, 0);
    cache_get_stats(NULL, &st);
    assert_int_equal(st.entries, 0);
    cache_free(NULL);
    cache_free(c);
}

static void test_many_keys_and_free(void **state)
{
    (void)state;
    /* Enough entries to grow the index several times; every one stays
     * reachable (ASan checks cache_free releases everything). */
    cache_t *c = cache_new(&default_limits);
    char name[64];
    for (unsigned i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "k%u.example", i);
        store_name(c, name, (uint8_t)i, 0);
    }
    for (unsigned i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "K%u.EXAMPLE", i);
        assert_true(present(c, name, 1000));
    }
    cache_stats_t st;
    cache_get_stats(c, &st);
    assert_int_equal(st.entries, 1000);
    assert_int_equal(st.hits, 1000);
    assert_true(st.bytes <= default_limits.max_bytes);
    cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_lookup_hit),
        cmocka_unit_test(test_ttl_decrement),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_max_ttl_clamp),
        cmocka_unit_test(test_min_ttl_clamp),
        cmocka_unit_test(test_nxdomain_cached),
        cmocka_unit_test(test_nodata_cached),
        cmocka_unit_test(test_negative_cname_chain_bounds_ttl),
        cmocka_unit_test(test_negative_without_soa_not_cached),
        cmocka_unit_test(test_uncacheable_rcodes),
        cmocka_unit_test(test_ttl_zero_not_cached),
        cmocka_unit_test(test_view_isolation),
        cmocka_unit_test(test_flag_isolation),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_expired_victim_counted_as_expired),
        cmocka_unit_test(test_accounting_bounded),
        cmocka_unit_test(test_replace_on_store),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_cap_too_small),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_many_keys_and_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
