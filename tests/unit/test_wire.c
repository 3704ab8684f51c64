/* Unit tests for core/wire.c: cursor, names, messages, EDNS, RDATA, writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/wire.h"

/* ---------------------------------------------------------------- helpers */

static wire_name_t N(const char *text)
{
    wire_name_t n;
    int rc = wire_name_from_text(text, &n);
    if (rc != 0)
        fail_msg("bad test name %s: %d", text, rc);
    return n;
}

static void put_rr(wire_out_t *o, const char *owner, uint16_t type, uint32_t ttl, const void *rd, uint16_t rdlen)
{
    wire_name_t n = N(owner);
    wire_put_name(o, &n);
    wire_put_u16(o, type);
    wire_put_u16(o, WIRE_C_IN);
    wire_put_u32(o, ttl);
    wire_put_u16(o, rdlen);
    wire_put_bytes(o, rd, rdlen);
}

/* A query "www.example.com. A IN" with an OPT (udp 4096, DO, keepalive,
 * padding 8).  Returns its length. */
static size_t make_query(uint8_t *buf, size_t cap, bool with_opt)
{
    wire_out_t o;
    wire_out_init(&o, buf, cap, false);
    wire_header_t h = { .id = 0xBEEF, .flags = WIRE_F_RD | WIRE_F_CD, .qdcount = 1, .arcount = with_opt ? 1 : 0 };
    wire_put_header(&o, &h);
    wire_name_t q = N("www.Example.com");
    wire_put_name(&o, &q);
    wire_put_u16(&o, WIRE_T_A);
    wire_put_u16(&o, WIRE_C_IN);
    if (with_opt) {
        wire_put_u8(&o, 0);
        wire_put_u16(&o, WIRE_T_OPT);
        wire_put_u16(&o, 4096);
        wire_put_u32(&o, 0x00008000u);
        wire_put_u16(&o, 4 + 4 + 8);
        wire_put_u16(&o, WIRE_OPT_KEEPALIVE);
        wire_put_u16(&o, 0);
        wire_put_u16(&o, WIRE_OPT_PADDING);
        wire_put_u16(&o, 8);
        static const uint8_t zeros[8];
        wire_put_bytes(&o, zeros, 8);
    }
    assert_int_equal(o.err, 0);
    return o.len;
}

static const uint8_t soa_rd_fixed[20] = {
    0, 0, 0, 1,     /* serial 1 */
    0, 0, 0x0e, 0x10, /* refresh */
    0, 0, 0x03, 0x84, /* retry */
    0, 0x09, 0x3a, 0x80, /* expire */
    0, 0, 0x01, 0x2c, /* minimum 300 */
};

/* A compressed response: question, 2 answers, an authority SOA, an additional
 * A, and a trailing OPT.  soa_ttl is the SOA's TTL. */
static size_t make_response(uint8_t *buf, size_t cap, uint32_t soa_ttl, bool with_opt)
{
    wire_out_t o;
    wire_out_init(&o, buf, cap, true);
    wire_header_t h = { .id = 0x1234, .flags = WIRE_F_QR | WIRE_F_RD | WIRE_F_RA, .qdcount = 1, .ancount = 2,
                        .nscount = 1, .arcount = 1 };
    wire_put_header(&o, &h);
    wire_name_t q = N("www.example.com");
    wire_put_name(&o, &q);
    wire_put_u16(&o, WIRE_T_A);
    wire_put_u16(&o, WIRE_C_IN);
    static const uint8_t a1[4] = { 192, 0, 2, 1 }, a2[4] = { 192, 0, 2, 2 };
    put_rr(&o, "www.example.com", WIRE_T_A, 3600, a1, 4);
    put_rr(&o, "www.example.com", WIRE_T_A, 1800, a2, 4);
    /* SOA with names compressed against the question. */
    wire_name_t zone = N("example.com"), mname = N("ns1.example.com"), rname = N("hostmaster.example.com");
    wire_put_name(&o, &zone);
    wire_put_u16(&o, WIRE_T_SOA);
    wire_put_u16(&o, WIRE_C_IN);
    wire_put_u32(&o, soa_ttl);
    size_t rdlen_at = o.len;
    wire_put_u16(&o, 0);
    size_t rd_start = o.len;
    wire_put_name(&o, &mname);
    wire_put_name(&o, &rname);
    wire_put_bytes(&o, soa_rd_fixed, sizeof soa_rd_fixed);
    wire_patch_u16(&o, rdlen_at, (uint16_t)(o.len - rd_start));
    static const uint8_t a3[4] = { 192, 0, 2, 53 };
    put_rr(&o, "ns1.example.com", WIRE_T_A, 7200, a3, 4);
    if (with_opt) {
        wire_opt_spec_t spec = { .udp_size = 1232, .keepalive = 300, .ede_code = -1 };
        wire_put_opt(&o, &spec);
    }
    assert_int_equal(o.err, 0);
    return o.len;
}

/* ----------------------------------------------------------------- cursor */

static void test_cursor(void **state)
{
    (void)state;
    static const uint8_t b[] = { 1, 2, 3, 4, 5, 6, 7 };
    wire_cur_t c;
    wire_cur_init(&c, b, sizeof b);
    assert_int_equal(wire_get_u8(&c), 1);
    assert_int_equal(wire_get_u16(&c), 0x0203);
    assert_int_equal(wire_get_u32(&c), 0x04050607u);
    assert_int_equal(c.err, 0);
    assert_int_equal(wire_cur_left(&c), 0);
    assert_int_equal(wire_get_u8(&c), 0);
    assert_int_equal(c.err, DN_ETRUNC);
    /* Sticky: further reads return 0 and zero their output. */
    uint8_t dst[3] = { 9, 9, 9 };
    wire_get_bytes(&c, dst, 3);
    assert_int_equal(dst[0] | dst[1] | dst[2], 0);
    assert_int_equal(c.err, DN_ETRUNC);

    wire_cur_init(&c, b, 3);
    assert_int_equal(wire_get_u32(&c), 0);
    assert_int_equal(c.err, DN_ETRUNC);
    assert_int_equal(c.pos, 0);
}

/* ------------------------------------------------------------------ names */

static void roundtrip(const char *in, const char *expect_text, size_t expect_len, unsigned expect_labels)
{
    wire_name_t n;
    assert_int_equal(wire_name_from_text(in, &n), 0);
    assert_int_equal(n.len, expect_len);
    assert_int_equal(n.labels, expect_labels);
    char buf[WIRE_NAME_TEXT_MAX];
    assert_int_equal(wire_name_to_text(&n, buf, sizeof buf), 0);
    assert_string_equal(buf, expect_text);
    wire_name_t back;
    assert_int_equal(wire_name_from_text(buf, &back), 0);
    assert_int_equal(back.len, n.len);
    assert_memory_equal(back.data, n.data, n.len);
}

static void test_name_text_roundtrip(void **state)
{
    (void)state;
    roundtrip("example.com", "example.com.", 13, 2);
    roundtrip("example.com.", "example.com.", 13, 2);
    roundtrip(".", ".", 1, 0);
    roundtrip("Mixed.CASE.org", "Mixed.CASE.org.", 16, 3);
    roundtrip("a\\.b.c", "a\\.b.c.", 7, 2);          /* escaped dot inside a label */
    roundtrip("\\065bc.", "Abc.", 5, 1);             /* \DDD */
    roundtrip("sp\\032ace", "sp\\032ace.", 8, 1);    /* space is escaped as \032 */
    roundtrip("q\\\"\\;\\(\\)\\@\\$\\\\", "q\\\"\\;\\(\\)\\@\\$\\\\.", 10, 1);
    roundtrip("\\000\\255", "\\000\\255.", 4, 1);
    roundtrip("\\x", "x.", 3, 1);                    /* \X for a non-digit */

    wire_name_t n = N("example.com");
    static const uint8_t want[] = { 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0 };
    assert_memory_equal(n.data, want, sizeof want);

    const char *bad[] = { "", "..", "a..b", ".a", "a\\", "\\25", "\\2", "\\256", "a.\\25x" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wire_name_t untouched = N("keep.me");
        assert_int_equal(wire_name_from_text(bad[i], &untouched), DN_EFORMAT);
        assert_int_equal(untouched.len, 9); /* outputs only on success */
    }

    /* to_text capacity: "a." needs 3 bytes with the NUL. */
    char small[3];
    wire_name_t a = N("a");
    assert_int_equal(wire_name_to_text(&a, small, 2), DN_ERANGE);
    assert_int_equal(wire_name_to_text(&a, small, 3), 0);
    assert_string_equal(small, "a.");
    wire_name_t root = N(".");
    assert_int_equal(wire_name_to_text(&root, small, 1), DN_ERANGE);
    assert_int_equal(wire_name_to_text(&root, small, 2), 0);
    assert_string_equal(small, ".");
}

static void test_name_compare(void **state)
{
    (void)state;
    wire_name_t a = N("WWW.Example.COM"), b = N("www.example.com."), c = N("www.example.org");
    assert_true(wire_name_equal(&a, &b));
    assert_false(wire_name_equal(&a, &c));
    assert_int_equal(wire_name_hash(&a, 7), wire_name_hash(&b, 7));
    assert_int_not_equal(wire_name_hash(&a, 7), wire_name_hash(&c, 7));
    wire_name_lower(&a);
    assert_memory_equal(a.data, b.data, b.len);

    wire_name_t corp = N("corp.example"), sub = N("host.CORP.example"), xcorp = N("xcorp.example"),
                ex = N("example"), root = N(".");
    assert_true(wire_name_is_subdomain(&sub, &corp));
    assert_true(wire_name_is_subdomain(&corp, &corp));
    assert_false(wire_name_is_subdomain(&xcorp, &corp));
    assert_false(wire_name_is_subdomain(&corp, &sub));
    assert_true(wire_name_is_subdomain(&xcorp, &ex));
    assert_true(wire_name_is_subdomain(&xcorp, &root));
    assert_true(wire_name_is_subdomain(&root, &root));
    assert_false(wire_name_is_subdomain(&root, &ex));

    wire_name_t abc = N("a.b.example.com");
    assert_int_equal(wire_name_suffix_offset(&abc, 2), 4);
    assert_int_equal(wire_name_suffix_offset(&abc, 4), 0);
    assert_int_equal(wire_name_suffix_offset(&abc, 0), abc.len - 1);
}

static void test_name_limits(void **state)
{
    (void)state;
    char text[600];
    wire_name_t n;
    /* Label of 63 ok, 64 rejected. */
    memset(text, 'a', 63);
    text[63] = '\0';
    assert_int_equal(wire_name_from_text(text, &n), 0);
    assert_int_equal(n.len, 65);
    memset(text, 'a', 64);
    text[64] = '\0';
    assert_int_equal(wire_name_from_text(text, &n), DN_ERANGE);

    /* 255 octets: 3 labels of 63 + one of 61 -> 64*3 + 62 + 1 = 255. */
    size_t p = 0;
    for (int l = 0; l < 4; l++) {
        int ll = l < 3 ? 63 : 61;
        memset(text + p, 'b', (size_t)ll);
        p += (size_t)ll;
        text[p++] = '.';
    }
    text[p] = '\0';
    assert_int_equal(wire_name_from_text(text, &n), 0);
    assert_int_equal(n.len, 255);
    assert_int_equal(n.labels, 4);
    char out[WIRE_NAME_TEXT_MAX];
    assert_int_equal(wire_name_to_text(&n, out, sizeof out), 0);
    assert_string_equal(out, text);
    /* One more octet: 256. */
    text[p - 1] = 'b';
    text[p] = '.';
    text[p + 1] = '\0';
    assert_int_equal(wire_name_from_text(text, &n), DN_ERANGE);

    /* The same limits on the wire. */
    uint8_t msg[400];
    memset(msg, 0, WIRE_HEADER_LEN);
    size_t w = WIRE_HEADER_LEN;
    for (int l = 0; l < 4; l++) {
        int ll = l < 3 ? 63 : 61;
        msg[w++] = (uint8_t)ll;
        memset(msg + w, 'c', (size_t)ll);
        w += (size_t)ll;
    }
    msg[w++] = 0;
    wire_cur_t c;
    wire_cur_init(&c, msg, w);
    c.pos = WIRE_HEADER_LEN;
    assert_int_equal(wire_name_read(&c, &n), 0);
    assert_int_equal(n.len, 255);
    assert_int_equal(n.labels, 4);
    assert_int_equal(c.pos, w);
    /* 62-octet last label -> 256 octets. */
    w = WIRE_HEADER_LEN;
    for (int l = 0; l < 4; l++) {
        int ll = l < 3 ? 63 : 62;
        msg[w++] = (uint8_t)ll;
        memset(msg + w, 'c', (size_t)ll);
        w += (size_t)ll;
    }
    msg[w++] = 0;
    wire_cur_init(&c, msg, w);
    c.pos = WIRE_HEADER_LEN;
    assert_int_equal(wire_name_read(&c, &n), DN_EFORMAT);
    assert_int_equal(c.err, DN_EFORMAT);

    /* Label of 64 on the wire is a 0x40 label type; 0x80 also reserved. */
    static const uint8_t ext[] = { 0x41, 'a', 0 };
    wire_cur_init(&c, ext, sizeof ext);
    assert_int_equal(wire_name_read(&c, &n), DN_EFORMAT);
    static const uint8_t res[] = { 0x81, 'a', 0 };
    wire_cur_init(&c, res, sizeof res);
    assert_int_equal(wire_name_read(&c, &n), DN_EFORMAT);
}

static void test_name_compression_read(void **state)
{
    (void)state;
    uint8_t m[64] = { 0 };
    wire_name_t n;
    wire_cur_t c;
    /* Valid: "a.b." at 12, then "x" + pointer to 14 ("b.") at 17. */
    static const uint8_t body[] = { 1, 'a', 1, 'b', 0, 1, 'x', 0xC0, 14 };
    memcpy(m + 12, body, sizeof body);
    wire_cur_init(&c, m, 12 + sizeof body);
    c.pos = 17;
    assert_int_equal(wire_name_read(&c, &n), 0);
    assert_int_equal(c.pos, 21);
    assert_true(wire_name_equal(&n, &(wire_name_t){ 0 }) == false);
    wire_name_t want = N("x.b");
    assert_true(wire_name_equal(&n, &want));
    assert_int_equal(n.labels, 2);

    /* Pointer to itself. */
    static const uint8_t self[] = { 0xC0, 12 };
    memcpy(m + 12, self, 2);
    wire_cur_init(&c, m, 14);
    c.pos = 12;
    assert_int_equal(wire_name_read(&c, &n), DN_ELOOP);
    assert_int_equal(c.err, DN_ELOOP);
    /* Forward pointer. */
    static const uint8_t fwd[] = { 0xC0, 14, 1, 'a', 0 };
    memcpy(m + 12, fwd, sizeof fwd);
    wire_cur_init(&c, m, 12 + sizeof fwd);
    c.pos = 12;
    assert_int_equal(wire_name_read(&c, &n), DN_ELOOP);
    /* Mutual pointers: 12 -> 14 and 14 -> 12. */
    static const uint8_t mut[] = { 0xC0, 14, 0xC0, 12 };
    memcpy(m + 12, mut, sizeof mut);
    wire_cur_init(&c, m, 16);
    c.pos = 12;
    assert_int_equal(wire_name_read(&c, &n), DN_ELOOP);
    c.err = 0;
    c.pos = 14;
    assert_int_equal(wire_name_read(&c, &n), DN_ELOOP);
    /* A label followed by a pointer back to that label: the name grows until
     * it exceeds 255 octets (bounded, no hang). */
    static const uint8_t grow[] = { 1, 'a', 0xC0, 12 };
    memcpy(m + 12, grow, sizeof grow);
    wire_cur_init(&c, m, 16);
    c.pos = 12;
    assert_int_not_equal(wire_name_read(&c, &n), 0);
    /* Truncated pointer. */
    static const uint8_t half[] = { 1, 'a', 0xC0 };
    memcpy(m + 12, half, sizeof half);
    wire_cur_init(&c, m, 15);
    c.pos = 12;
    assert_int_equal(wire_name_read(&c, &n), DN_ETRUNC);

    /* Chains of pointers: 64 are followed, 65 are not. */
    uint8_t big[12 + 3 + 2 * 70];
    memset(big, 0, sizeof big);
    big[12] = 1;
    big[13] = 'z';
    big[14] = 0;
    size_t prev = 12;
    for (size_t k = 0; k < 70; k++) {
        size_t at = 15 + 2 * k;
        big[at] = (uint8_t)(0xC0 | prev >> 8);
        big[at + 1] = (uint8_t)prev;
        prev = at;
    }
    wire_cur_init(&c, big, sizeof big);
    c.pos = 15 + 2 * 63; /* 64th pointer in the chain */
    assert_int_equal(wire_name_read(&c, &n), 0);
    assert_int_equal(n.len, 3);
    wire_cur_init(&c, big, sizeof big);
    c.pos = 15 + 2 * 64; /* 65 pointers */
    assert_int_equal(wire_name_read(&c, &n), DN_ELOOP);
}

/* ----------------------------------------------------------------- queries */

static void test_query_parse_basic(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t len = make_query(buf, sizeof buf, true);
    wire_query_t q;
    assert_int_equal(wire_query_parse(buf, len, &q), 0);
    assert_true(q.header_valid);
    assert_int_equal(q.header.id, 0xBEEF);
    assert_int_equal(q.qtype, WIRE_T_A);
    assert_int_equal(q.qclass, WIRE_C_IN);
    wire_name_t want = N("www.example.com");
    assert_true(wire_name_equal(&q.qname, &want));
    assert_int_equal(q.qname.data[5], 'E'); /* case preserved */
    assert_int_equal(q.question_end, 12 + 17 + 4);
    assert_true(q.edns.present);
    assert_int_equal(q.edns.udp_size, 4096);
    assert_true(q.edns.do_bit);
    assert_int_equal(q.edns.version, 0);
    assert_true(q.edns.has_keepalive);
    assert_true(q.edns.has_padding);
    assert_false(q.edns.has_ede);

    len = make_query(buf, sizeof buf, false);
    assert_int_equal(wire_query_parse(buf, len, &q), 0);
    assert_false(q.edns.present);

    /* Trailing byte. */
    buf[len] = 0;
    assert_int_equal(wire_query_parse(buf, len + 1, &q), DN_EFORMAT);
    assert_true(q.header_valid);

    /* Short header. */
    assert_int_not_equal(wire_query_parse(buf, 11, &q), 0);
    assert_false(q.header_valid);
    assert_int_not_equal(wire_query_parse(NULL, 0, &q), 0);
    assert_false(q.header_valid);
}

static void test_query_parse_header_errors(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t len = make_query(buf, sizeof buf, false);
    wire_query_t q;
    /* QDCOUNT 0 and 2: FORMERR, header valid for the ID. */
    buf[5] = 0;
    assert_int_equal(wire_query_parse(buf, len, &q), DN_EFORMAT);
    assert_true(q.header_valid);
    assert_int_equal(q.header.id, 0xBEEF);
    assert_int_equal(q.header.qdcount, 0);
    buf[5] = 2;
    assert_int_equal(wire_query_parse(buf, len, &q), DN_EFORMAT);
    assert_true(q.header_valid);
    buf[5] = 1;
    /* QR=1. */
    buf[2] |= 0x80;
    assert_int_equal(wire_query_parse(buf, len, &q), DN_EFORMAT);
    assert_true(q.header_valid);
    buf[2] &= 0x7F;
    /* Unknown opcode is not an error here. */
    buf[2] |= (uint8_t)(9 << 3);
    assert_int_equal(wire_query_parse(buf, len, &q), 0);
    assert_int_equal(WIRE_OPCODE(q.header.flags), 9);
    buf[2] &= (uint8_t)~(0xF << 3);
    /* Oversized counts: every count at its maximum -> truncation, no hang. */
    for (int k = 0; k < 3; k++) {
        buf[6 + 2 * k] = 0xFF;
        buf[7 + 2 * k] = 0xFF;
        assert_int_equal(wire_query_parse(buf, len, &q), DN_ETRUNC);
        assert_true(q.header_valid);
        assert_int_equal(wire_msg_walk(buf, len, NULL, NULL), DN_ETRUNC);
        wire_msg_info_t mi;
        assert_int_equal(wire_msg_info(buf, len, &mi), DN_ETRUNC);
    }
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    uint8_t full[512];
    size_t qlen = make_query(full, sizeof full, true);
    for (size_t cut = 0; cut < qlen; cut++) {
        uint8_t *p = malloc(cut ? cut : 1); /* exact size for ASan */
        assert_non_null(p);
        memcpy(p, full, cut);
        wire_query_t q;
        assert_int_not_equal(wire_query_parse(p, cut, &q), 0);
        assert_int_equal(q.header_valid, cut >= 12);
        assert_int_not_equal(wire_msg_walk(p, cut, NULL, NULL), 0);
        wire_msg_info_t mi;
        assert_int_not_equal(wire_msg_info(p, cut, &mi), 0);
        free(p);
    }
    size_t rlen = make_response(full, sizeof full, 600, true);
    for (size_t cut = 0; cut < rlen; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        assert_non_null(p);
        memcpy(p, full, cut);
        wire_query_t q;
        assert_int_not_equal(wire_query_parse(p, cut, &q), 0);
        assert_int_not_equal(wire_msg_walk(p, cut, NULL, NULL), 0);
        wire_msg_info_t mi;
        assert_int_not_equal(wire_msg_info(p, cut, &mi), 0);
        free(p);
    }
    wire_msg_info_t mi;
    assert_int_equal(wire_msg_info(full, rlen, &mi), 0);
}

/* Appends an OPT with the given owner and raw RDATA, bumping ARCOUNT. */
static void append_opt(wire_out_t *o, const char *owner, const uint8_t *rd, uint16_t rdlen, uint32_t ttl)
{
    wire_name_t n = N(owner);
    wire_put_name(o, &n);
    wire_put_u16(o, WIRE_T_OPT);
    wire_put_u16(o, 1232);
    wire_put_u32(o, ttl);
    wire_put_u16(o, rdlen);
    wire_put_bytes(o, rd, rdlen);
    uint16_t ar = (uint16_t)(o->buf[10] << 8 | o->buf[11]);
    wire_patch_u16(o, 10, (uint16_t)(ar + 1));
}

static int parse_with_opt(const char *owner, const uint8_t *rd, uint16_t rdlen, uint32_t ttl, int nopts,
                          wire_query_t *q)
{
    static uint8_t buf[1024];
    size_t len = make_query(buf, sizeof buf, false);
    wire_out_t o;
    wire_out_init(&o, buf, sizeof buf, false);
    o.len = len;
    for (int i = 0; i < nopts; i++)
        append_opt(&o, owner, rd, rdlen, ttl);
    assert_int_equal(o.err, 0);
    return wire_query_parse(buf, o.len, q);
}

static void test_query_edns(void **state)
{
    (void)state;
    wire_query_t q;
    /* Two OPTs. */
    assert_int_equal(parse_with_opt(".", NULL, 0, 0, 1, &q), 0);
    assert_int_equal(parse_with_opt(".", NULL, 0, 0, 2, &q), DN_EFORMAT);
    assert_true(q.header_valid);
    /* Non-root owner. */
    assert_int_equal(parse_with_opt("example", NULL, 0, 0, 1, &q), DN_EFORMAT);

    /* Version, extended rcode bits, DO, options (unknown one skipped). */
    static const uint8_t opts[] = {
        0, 12, 0, 3, 0, 0, 0,                 /* padding 3 */
        0, 99, 0, 2, 0xAA, 0xBB,              /* unknown option */
        0, 11, 0, 0,                          /* keepalive, empty */
        0, 15, 0, 6, 0, 18, 'n', 'o', 'p', 'e', /* EDE 18 "nope" */
    };
    assert_int_equal(parse_with_opt(".", opts, sizeof opts, 0x01018000u, 1, &q), 0);
    assert_true(q.edns.present);
    assert_int_equal(q.edns.version, 1);
    assert_int_equal(q.edns.ext_rcode, 1);
    assert_true(q.edns.do_bit);
    assert_int_equal(q.edns.udp_size, 1232);
    assert_true(q.edns.has_padding);
    assert_true(q.edns.has_keepalive);
    assert_true(q.edns.has_ede);
    assert_int_equal(q.edns.ede_code, 18);
    assert_string_equal(q.edns.ede_text, "nope");

    /* Keepalive with a value in a query: FORMERR (RFC 7828). */
    static const uint8_t ka2[] = { 0, 11, 0, 2, 0, 10 };
    assert_int_equal(parse_with_opt(".", ka2, sizeof ka2, 0, 1, &q), DN_EFORMAT);
    /* Option overrunning RDATA, option header cut, EDE too short. */
    static const uint8_t over[] = { 0, 12, 0, 9, 0, 0 };
    assert_int_equal(parse_with_opt(".", over, sizeof over, 0, 1, &q), DN_EFORMAT);
    static const uint8_t cut[] = { 0, 12, 0 };
    assert_int_equal(parse_with_opt(".", cut, sizeof cut, 0, 1, &q), DN_EFORMAT);
    static const uint8_t ede1[] = { 0, 15, 0, 1, 0 };
    assert_int_equal(parse_with_opt(".", ede1, sizeof ede1, 0, 1, &q), DN_EFORMAT);
    /* EDE text longer than WIRE_EDE_TEXT_MAX is truncated. */
    uint8_t longede[4 + 2 + 300];
    longede[0] = 0;
    longede[1] = 15;
    longede[2] = (uint8_t)((2 + 300) >> 8);
    longede[3] = (uint8_t)(2 + 300);
    longede[4] = 0;
    longede[5] = 6;
    memset(longede + 6, 'x', 300);
    assert_int_equal(parse_with_opt(".", longede, sizeof longede, 0, 1, &q), 0);
    assert_int_equal(strlen(q.edns.ede_text), WIRE_EDE_TEXT_MAX);

    /* A TSIG-like record in the additional section and an answer RR are
     * skipped but validated. */
    uint8_t buf[512];
    size_t len = make_query(buf, sizeof buf, true);
    wire_out_t o;
    wire_out_init(&o, buf, sizeof buf, false);
    o.len = len;
    static const uint8_t junk[5] = { 1, 2, 3, 4, 5 };
    put_rr(&o, "key.example", 250, 0, junk, sizeof junk);
    wire_patch_u16(&o, 10, 2);
    assert_int_equal(wire_query_parse(buf, o.len, &q), 0);
    assert_true(q.edns.present);
    /* RDLENGTH past the end. */
    buf[o.len - sizeof junk - 1] = 6;
    assert_int_equal(wire_query_parse(buf, o.len, &q), DN_ETRUNC);
    /* OPT in the answer section is refused. */
    len = make_query(buf, sizeof buf, true);
    wire_patch_u16(&o, 6, 1);
    wire_patch_u16(&o, 10, 0);
    assert_int_equal(wire_query_parse(buf, len, &q), DN_EFORMAT);
}

/* ------------------------------------------------------------ walk / info */

struct walk_log {
    int n;
    uint8_t sections[16];
    uint16_t types[16];
    uint32_t ttls[16];
    size_t ttl_offsets[16];
    int stop_at;
};

static int walk_cb(const wire_rr_t *rr, void *arg)
{
    struct walk_log *l = arg;
    if (l->n == l->stop_at)
        return 42;
    if (l->n < 16) {
        l->sections[l->n] = rr->section;
        l->types[l->n] = rr->type;
        l->ttls[l->n] = rr->ttl;
        l->ttl_offsets[l->n] = rr->ttl_offset;
    }
    l->n++;
    return 0;
}

static void test_msg_walk(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t len = make_response(buf, sizeof buf, 600, true);
    struct walk_log l = { .stop_at = -1 };
    assert_int_equal(wire_msg_walk(buf, len, walk_cb, &l), 0);
    assert_int_equal(l.n, 6);
    static const uint8_t want_sec[] = { 0, 1, 1, 2, 3, 3 };
    static const uint16_t want_type[] = { WIRE_T_A, WIRE_T_A, WIRE_T_A, WIRE_T_SOA, WIRE_T_A, WIRE_T_OPT };
    static const uint32_t want_ttl[] = { 0, 3600, 1800, 600, 7200 };
    for (int i = 0; i < 6; i++) {
        assert_int_equal(l.sections[i], want_sec[i]);
        assert_int_equal(l.types[i], want_type[i]);
    }
    assert_int_equal(l.ttl_offsets[0], 0);
    for (int i = 1; i < 5; i++) {
        assert_int_equal(l.ttls[i], want_ttl[i]);
        size_t off = l.ttl_offsets[i];
        uint32_t at = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 | (uint32_t)buf[off + 2] << 8 | buf[off + 3];
        assert_int_equal(at, want_ttl[i]);
    }
    /* Callback stop value is returned as is. */
    struct walk_log l2 = { .stop_at = 2 };
    assert_int_equal(wire_msg_walk(buf, len, walk_cb, &l2), 42);
    /* Trailing garbage. */
    buf[len] = 0;
    assert_int_equal(wire_msg_walk(buf, len + 1, NULL, NULL), DN_EFORMAT);
}

static void test_msg_info(void **state)
{
    (void)state;
    uint8_t buf[512];
    wire_msg_info_t mi;
    size_t len = make_response(buf, sizeof buf, 600, true);
    assert_int_equal(wire_msg_info(buf, len, &mi), 0);
    assert_int_equal(mi.header.id, 0x1234);
    assert_int_equal(mi.min_ttl, 600);
    assert_true(mi.has_soa);
    assert_int_equal(mi.soa_min, 300); /* MINIMUM < TTL */
    assert_true(mi.edns.present);
    assert_true(mi.opt_is_last);
    assert_int_equal(mi.opt_rr_end, len);
    assert_int_equal(buf[mi.opt_rr_offset], 0);
    assert_int_equal(mi.opt_rr_end - mi.opt_rr_offset, 11 + 6);
    assert_true(mi.edns.has_keepalive);
    assert_int_equal(mi.edns.keepalive, 300);
    assert_int_equal(mi.edns.udp_size, 1232);

    len = make_response(buf, sizeof buf, 120, false);
    assert_int_equal(wire_msg_info(buf, len, &mi), 0);
    assert_int_equal(mi.soa_min, 120); /* TTL < MINIMUM */
    assert_int_equal(mi.min_ttl, 120);
    assert_false(mi.edns.present);
    assert_false(mi.opt_is_last);
    assert_int_equal(mi.opt_rr_offset, 0);

    /* No records at all. */
    uint8_t q[512];
    size_t qlen = make_query(q, sizeof q, false);
    assert_int_equal(wire_msg_info(q, qlen, &mi), 0);
    assert_int_equal(mi.min_ttl, UINT32_MAX);
    assert_int_equal(mi.soa_min, UINT32_MAX);
    assert_false(mi.has_soa);

    /* A malformed authority SOA (MINIMUM cut off, RDLENGTH consistent)
     * makes the message malformed. */
    uint8_t bad[512];
    wire_out_t o;
    wire_out_init(&o, bad, sizeof bad, false);
    wire_header_t bh = { .id = 9, .flags = WIRE_F_QR, .nscount = 1 };
    wire_put_header(&o, &bh);
    static const uint8_t soa_short[2 + 16] = { 0, 0 };
    put_rr(&o, "example", WIRE_T_SOA, 60, soa_short, sizeof soa_short);
    assert_int_equal(wire_msg_walk(bad, o.len, NULL, NULL), 0);
    assert_int_equal(wire_msg_info(bad, o.len, &mi), DN_EFORMAT);
    /* The same in the answer section is not inspected. */
    wire_patch_u16(&o, 6, 1);
    wire_patch_u16(&o, 8, 0);
    assert_int_equal(wire_msg_info(bad, o.len, &mi), 0);
    assert_false(mi.has_soa);

    len = make_response(buf, sizeof buf, 120, false);
    wire_out_init(&o, buf, sizeof buf, false);
    o.len = len;
    /* OPT followed by another RR: not last. */
    wire_opt_spec_t spec = { .udp_size = 512, .keepalive = -1, .ede_code = -1 };
    wire_put_opt(&o, &spec);
    static const uint8_t a[4] = { 1, 2, 3, 4 };
    put_rr(&o, "x.example", WIRE_T_A, 5, a, 4);
    wire_patch_u16(&o, 10, 3);
    assert_int_equal(o.err, 0);
    assert_int_equal(wire_msg_info(buf, o.len, &mi), 0);
    assert_true(mi.edns.present);
    assert_false(mi.opt_is_last);
    assert_int_equal(mi.min_ttl, 5);
}

/* ------------------------------------------------------------------ RDATA */

static void test_rdata_tlsa_soa(void **state)
{
    (void)state;
    static const uint8_t tl[] = { 3, 1, 1, 0xAA, 0xBB };
    wire_tlsa_t t;
    assert_int_equal(wire_rdata_tlsa(tl, sizeof tl, &t), 0);
    assert_int_equal(t.usage, 3);
    assert_int_equal(t.selector, 1);
    assert_int_equal(t.mtype, 1);
    assert_int_equal(t.data_len, 2);
    assert_ptr_equal(t.data, tl + 3);
    assert_int_equal(wire_rdata_tlsa(tl, 3, &t), DN_EFORMAT);
    assert_int_equal(wire_rdata_tlsa(tl, 2, &t), DN_EFORMAT);
    assert_int_equal(wire_rdata_tlsa(tl, 0, &t), DN_EFORMAT);

    uint8_t buf[512];
    size_t len = make_response(buf, sizeof buf, 600, false);
    struct {
        size_t off;
        uint16_t len;
    } soa = { 0, 0 };
    /* Locate the SOA by hand (independently of the walker). */
    wire_cur_t c;
    wire_cur_init(&c, buf, len);
    wire_header_t h;
    assert_int_equal(wire_header_read(&c, &h), 0);
    wire_name_t n;
    assert_int_equal(wire_name_read(&c, &n), 0);
    wire_get_bytes(&c, NULL, 4);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wire_name_read(&c, &n), 0);
        uint16_t type = wire_get_u16(&c);
        wire_get_bytes(&c, NULL, 6);
        uint16_t rdl = wire_get_u16(&c);
        if (type == WIRE_T_SOA) {
            soa.off = c.pos;
            soa.len = rdl;
        }
        wire_get_bytes(&c, NULL, rdl);
    }
    assert_int_equal(c.err, 0);
    assert_int_not_equal(soa.off, 0);
    wire_soa_t s;
    assert_int_equal(wire_rdata_soa(buf, len, soa.off, soa.len, &s), 0);
    wire_name_t mname = N("ns1.example.com"), rname = N("hostmaster.example.com");
    assert_true(wire_name_equal(&s.mname, &mname));
    assert_true(wire_name_equal(&s.rname, &rname));
    assert_int_equal(s.serial, 1);
    assert_int_equal(s.refresh, 3600);
    assert_int_equal(s.retry, 900);
    assert_int_equal(s.expire, 604800);
    assert_int_equal(s.minimum, 300);
    /* Too short / too long by one octet, and RDATA beyond the message. */
    assert_int_equal(wire_rdata_soa(buf, len, soa.off, (uint16_t)(soa.len - 1), &s), DN_EFORMAT);
    assert_int_equal(wire_rdata_soa(buf, len + 1, soa.off, (uint16_t)(soa.len + 1), &s), DN_EFORMAT);
    assert_int_not_equal(wire_rdata_soa(buf, len, soa.off, (uint16_t)(len - soa.off + 1), &s), 0);
    /* Names only. */
    assert_int_equal(wire_rdata_soa(buf, len, soa.off, 3, &s), DN_EFORMAT);

    /* Canonical SOA: names decompressed. */
    uint8_t out[600];
    size_t olen = 0;
    assert_int_equal(wire_rdata_canonical(buf, len, WIRE_T_SOA, soa.off, soa.len, out, sizeof out, &olen), 0);
    assert_int_equal(olen, mname.len + rname.len + 20);
    assert_memory_equal(out, mname.data, mname.len);
    assert_memory_equal(out + mname.len, rname.data, rname.len);
    assert_int_equal(wire_rdata_canonical(buf, len, WIRE_T_SOA, soa.off, soa.len, out, olen - 1, &olen), DN_ERANGE);
    assert_int_equal(wire_rdata_canonical(buf, len, WIRE_T_SOA, soa.off, (uint16_t)(soa.len - 1), out, sizeof out, &olen),
                     DN_EFORMAT);
}

static void test_rdata_canonical(void **state)
{
    (void)state;
    uint8_t buf[512];
    wire_out_t o;
    wire_out_init(&o, buf, sizeof buf, true);
    wire_header_t h = { .id = 1, .qdcount = 1 };
    wire_put_header(&o, &h);
    wire_name_t q = N("mail.example.net");
    wire_put_name(&o, &q);
    wire_put_u16(&o, WIRE_T_MX);
    wire_put_u16(&o, WIRE_C_IN);
    /* MX RDATA: preference 10 + "mx.example.net" compressed to "mx" + ptr. */
    size_t mx_off = o.len;
    wire_put_u16(&o, 10);
    wire_name_t mx = N("mx.example.net");
    wire_put_name(&o, &mx);
    uint16_t mx_len = (uint16_t)(o.len - mx_off);
    assert_int_equal(mx_len, 2 + 3 + 2);
    /* An uncompressed-only region: A (4), AAAA(16), opaque TXT. */
    size_t raw_off = o.len;
    static const uint8_t raw[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
    wire_put_bytes(&o, raw, sizeof raw);
    assert_int_equal(o.err, 0);

    uint8_t out[600];
    size_t olen = 0;
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_MX, mx_off, mx_len, out, sizeof out, &olen), 0);
    assert_int_equal(olen, 2 + mx.len);
    assert_int_equal(out[1], 10);
    assert_memory_equal(out + 2, mx.data, mx.len);
    /* The same bytes as CNAME are malformed (preference is not a name). */
    assert_int_not_equal(wire_rdata_canonical(buf, o.len, WIRE_T_CNAME, mx_off, mx_len, out, sizeof out, &olen), 0);
    /* As NS starting at the name. */
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_NS, mx_off + 2, (uint16_t)(mx_len - 2), out, sizeof out, &olen),
                     0);
    assert_int_equal(olen, mx.len);
    /* Name running past RDLENGTH. */
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_NS, mx_off + 2, 2, out, sizeof out, &olen), DN_EFORMAT);

    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_A, raw_off, 4, out, sizeof out, &olen), 0);
    assert_int_equal(olen, 4);
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_A, raw_off, 5, out, sizeof out, &olen), DN_EFORMAT);
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_AAAA, raw_off, 16, out, sizeof out, &olen), 0);
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_AAAA, raw_off, 15, out, sizeof out, &olen), DN_EFORMAT);
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_DS, raw_off, 3, out, sizeof out, &olen), DN_EFORMAT);
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_DNSKEY, raw_off, 4, out, sizeof out, &olen), 0);
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_TXT, raw_off, 20, out, sizeof out, &olen), 0);
    assert_memory_equal(out, raw, 20);
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_TXT, raw_off, 21, out, sizeof out, &olen), DN_ETRUNC);
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_TXT, raw_off, 0, out, sizeof out, &olen), 0);
    assert_int_equal(olen, 0);
    /* RRSIG: 18 fixed + signer; 17 octets is malformed. */
    assert_int_equal(wire_rdata_canonical(buf, o.len, WIRE_T_RRSIG, raw_off, 17, out, sizeof out, &olen), DN_EFORMAT);

    /* A well-formed RRSIG with a compressed signer and a signature. */
    uint8_t m2[512];
    memcpy(m2, buf, o.len);
    wire_out_t o2;
    wire_out_init(&o2, m2, sizeof m2, false);
    o2.len = o.len;
    size_t sig_off = o2.len;
    wire_put_bytes(&o2, raw, 18);
    wire_put_u8(&o2, 0xC0);
    wire_put_u8(&o2, 12 + 5); /* "example.net" inside the question */
    wire_put_bytes(&o2, "SIG", 3);
    assert_int_equal(wire_rdata_canonical(m2, o2.len, WIRE_T_RRSIG, sig_off, (uint16_t)(o2.len - sig_off), out, sizeof out,
                                          &olen),
                     0);
    wire_name_t signer = N("example.net");
    assert_int_equal(olen, 18 + signer.len + 3);
    assert_memory_equal(out + 18, signer.data, signer.len);
    assert_memory_equal(out + 18 + signer.len, "SIG", 3);
    /* SRV: 6 fixed + target. */
    size_t srv_off = o2.len;
    wire_put_bytes(&o2, raw, 6);
    wire_put_u8(&o2, 0xC0);
    wire_put_u8(&o2, 12);
    assert_int_equal(wire_rdata_canonical(m2, o2.len, WIRE_T_SRV, srv_off, 8, out, sizeof out, &olen), 0);
    assert_int_equal(olen, 6 + q.len);
}

/* ----------------------------------------------------------------- writer */

static void test_writer_basic(void **state)
{
    (void)state;
    uint8_t buf[8];
    wire_out_t o;
    wire_out_init(&o, buf, sizeof buf, false);
    wire_put_u32(&o, 0x01020304u);
    wire_put_u16(&o, 0x0506);
    wire_put_u8(&o, 7);
    assert_int_equal(o.err, 0);
    wire_put_u16(&o, 1); /* one byte left: refused whole */
    assert_int_equal(o.err, DN_ERANGE);
    assert_int_equal(o.len, 7);
    wire_put_u8(&o, 1); /* sticky */
    assert_int_equal(o.len, 7);
    wire_patch_u16(&o, 4, 0xAABB);
    assert_int_equal(buf[4], 0xAA);
    wire_patch_u16(&o, 6, 0xCCDD); /* would cross len: no-op */
    assert_int_equal(buf[6], 7);

    /* A name that does not fit is not written partially. */
    uint8_t small[10];
    wire_out_init(&o, small, sizeof small, true);
    wire_name_t n = N("example.com");
    wire_put_name(&o, &n);
    assert_int_equal(o.err, DN_ERANGE);
    assert_int_equal(o.len, 0);
}

static void test_writer_compression(void **state)
{
    (void)state;
    static uint8_t buf[40000];
    wire_out_t o;
    wire_out_init(&o, buf, sizeof buf, true);
    wire_header_t h = { 0 };
    wire_put_header(&o, &h);
    const char *names[] = {
        "www.example.com", "WWW.EXAMPLE.COM", "mail.example.com", "example.com", "com",
        "example.org", "a.b.c.mail.example.com", ".", "other.net", "mail.Example.com",
    };
    size_t n = sizeof names / sizeof *names;
    size_t offs[16];
    for (size_t i = 0; i < n; i++) {
        offs[i] = o.len;
        wire_name_t nm = N(names[i]);
        wire_put_name(&o, &nm);
    }
    assert_int_equal(o.err, 0);
    /* Second www.example.com is just a pointer; example.com too. */
    assert_int_equal(offs[2] - offs[1], 2);
    assert_int_equal(offs[4] - offs[3], 2);
    assert_int_equal(offs[5] - offs[4], 2);
    assert_int_equal(offs[8] - offs[7], 1); /* root: one zero octet */
    wire_cur_t c;
    wire_cur_init(&c, buf, o.len);
    for (size_t i = 0; i < n; i++) {
        c.pos = offs[i];
        wire_name_t got;
        assert_int_equal(wire_name_read(&c, &got), 0);
        wire_name_t want = N(names[i]);
        assert_true(wire_name_equal(&got, &want));
        assert_int_equal(c.pos, i + 1 < n ? offs[i + 1] : o.len);
    }
    /* Names far into the message: offsets >= 0x4000 are never recorded or
     * pointed to, and everything still reads back. */
    wire_out_init(&o, buf, sizeof buf, true);
    wire_put_header(&o, &h);
    static uint8_t filler[0x4100];
    wire_put_bytes(&o, filler, sizeof filler);
    size_t far = o.len;
    wire_name_t f1 = N("far.example"), f2 = N("far.example");
    wire_put_name(&o, &f1);
    wire_put_name(&o, &f2);
    assert_int_equal(o.n_ptrs, 0);
    assert_int_equal(o.len - far, 2u * f1.len);
    /* Slots are bounded. */
    wire_out_init(&o, buf, sizeof buf, true);
    wire_put_header(&o, &h);
    for (int i = 0; i < 100; i++) {
        char t[32];
        snprintf(t, sizeof t, "n%d.x%d", i, i);
        wire_name_t nm = N(t);
        wire_put_name(&o, &nm);
    }
    assert_int_equal(o.err, 0);
    assert_int_equal(o.n_ptrs, WIRE_COMPRESS_SLOTS);

    /* A malformed wire_name_t is refused. */
    wire_name_t bad = { .len = 3, .labels = 1, .data = { 5, 'a', 0 } };
    wire_out_init(&o, buf, sizeof buf, false);
    wire_put_name(&o, &bad);
    assert_int_not_equal(o.err, 0);
    assert_int_equal(o.len, 0);
}

static void test_put_opt(void **state)
{
    (void)state;
    uint8_t buf[2048];
    /* Padding makes exact multiples of 468 for many starting sizes. */
    for (size_t start = 12; start < 1000; start += 7) {
        memset(buf, 0, sizeof buf);
        wire_out_t o;
        wire_out_init(&o, buf, sizeof buf, false);
        o.len = start;
        wire_opt_spec_t spec = { .udp_size = 1232, .keepalive = 50, .ede_code = WIRE_EDE_BLOCKED,
                                 .ede_text = "blocked by policy", .pad_block = 468 };
        wire_put_opt(&o, &spec);
        assert_int_equal(o.err, 0);
        assert_int_equal(o.len % 468, 0);
        assert_int_equal(buf[11], 1);
    }
    /* Full check of one: parse it back with wire_msg_info. */
    wire_out_t o;
    wire_out_init(&o, buf, sizeof buf, false);
    wire_header_t h = { .id = 77, .flags = WIRE_F_QR };
    wire_put_header(&o, &h);
    wire_opt_spec_t spec = { .udp_size = 1400, .ext_rcode = 1, .do_bit = true, .keepalive = 1234,
                             .ede_code = WIRE_EDE_DNSSEC_BOGUS, .ede_text = "sig expired", .pad_block = 468 };
    wire_put_opt(&o, &spec);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.len, 468);
    wire_msg_info_t mi;
    assert_int_equal(wire_msg_info(buf, o.len, &mi), 0);
    assert_int_equal(mi.header.arcount, 1);
    assert_true(mi.edns.present);
    assert_int_equal(mi.edns.udp_size, 1400);
    assert_int_equal(mi.edns.ext_rcode, 1);
    assert_true(mi.edns.do_bit);
    assert_true(mi.edns.has_keepalive);
    assert_int_equal(mi.edns.keepalive, 1234);
    assert_true(mi.edns.has_ede);
    assert_int_equal(mi.edns.ede_code, WIRE_EDE_DNSSEC_BOGUS);
    assert_string_equal(mi.edns.ede_text, "sig expired");
    assert_true(mi.edns.has_padding);
    assert_true(mi.opt_is_last);
    /* Order: keepalive, EDE, padding last. */
    assert_int_equal(buf[12 + 11 + 1], WIRE_OPT_KEEPALIVE);
    assert_int_equal(buf[12 + 11 + 6 + 1], WIRE_OPT_EDE);

    /* No options at all: exactly 11 octets. */
    wire_out_init(&o, buf, sizeof buf, false);
    wire_put_header(&o, &h);
    wire_opt_spec_t plain = { .udp_size = 512, .keepalive = -1, .ede_code = -1 };
    wire_put_opt(&o, &plain);
    assert_int_equal(o.len, 12 + 11);
    assert_int_equal(wire_msg_info(buf, o.len, &mi), 0);
    assert_false(mi.edns.has_padding || mi.edns.has_keepalive || mi.edns.has_ede);

    /* Capacity smaller than the next block: pad as much as fits, no error. */
    wire_out_init(&o, buf, 300, false);
    wire_put_header(&o, &h);
    spec.pad_block = 468;
    wire_put_opt(&o, &spec);
    assert_int_equal(o.err, 0);
    assert_true(o.len <= 300);
    assert_int_equal(wire_msg_info(buf, o.len, &mi), 0);
    /* Not even room for the padding option header: OPT without padding. */
    size_t need = 12 + 11 + 6 + 4 + 2 + strlen("sig expired");
    wire_out_init(&o, buf, need + 3, false);
    wire_put_header(&o, &h);
    wire_put_opt(&o, &spec);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.len, need);
    assert_int_equal(wire_msg_info(buf, o.len, &mi), 0);
    assert_false(mi.edns.has_padding);
    /* Not even room for the OPT: DN_ERANGE, nothing written. */
    wire_out_init(&o, buf, need - 1, false);
    wire_put_header(&o, &h);
    wire_put_opt(&o, &spec);
    assert_int_equal(o.err, DN_ERANGE);
    assert_int_equal(o.len, 12);
    assert_int_equal(buf[11], 0);

    /* Long EDE text is truncated to WIRE_EDE_TEXT_MAX without cutting a UTF-8
     * sequence. */
    char text[400];
    memset(text, 'a', 199);
    strcpy(text + 199, "\xc3\xa9 tail"); /* é straddles octet 200 */
    wire_out_init(&o, buf, sizeof buf, false);
    wire_put_header(&o, &h);
    wire_opt_spec_t ede = { .udp_size = 512, .keepalive = -1, .ede_code = 0, .ede_text = text };
    wire_put_opt(&o, &ede);
    assert_int_equal(o.err, 0);
    assert_int_equal(wire_msg_info(buf, o.len, &mi), 0);
    assert_int_equal(strlen(mi.edns.ede_text), 199);
}

static void test_build_empty_response(void **state)
{
    (void)state;
    uint8_t qbuf[512], out[1024];
    size_t qlen = make_query(qbuf, sizeof qbuf, true);
    wire_query_t q;
    assert_int_equal(wire_query_parse(qbuf, qlen, &q), 0);
    wire_opt_spec_t spec = { .udp_size = 1232, .keepalive = -1, .ede_code = WIRE_EDE_PROHIBITED,
                             .ede_text = "no", .pad_block = 468 };
    size_t olen = 0;
    assert_int_equal(
        wire_build_empty_response(qbuf, qlen, &q, WIRE_RC_REFUSED, &spec, q.edns.present, out, sizeof out, &olen), 0);
    assert_int_equal(olen, 468);
    wire_msg_info_t mi;
    assert_int_equal(wire_msg_info(out, olen, &mi), 0);
    assert_int_equal(mi.header.id, 0xBEEF);
    assert_true(mi.header.flags & WIRE_F_QR);
    assert_true(mi.header.flags & WIRE_F_RA);
    assert_true(mi.header.flags & WIRE_F_RD);
    assert_true(mi.header.flags & WIRE_F_CD);
    assert_false(mi.header.flags & WIRE_F_AA);
    assert_int_equal(WIRE_RCODE(mi.header.flags), WIRE_RC_REFUSED);
    assert_int_equal(mi.header.qdcount, 1);
    assert_int_equal(mi.header.ancount + mi.header.nscount, 0);
    assert_int_equal(mi.edns.ede_code, WIRE_EDE_PROHIBITED);
    assert_string_equal(mi.edns.ede_text, "no");
    /* The question reads back as the query's (case preserved); flipping QR
     * makes the response parse as a query again. */
    out[2] &= 0x7F;
    wire_query_t back;
    assert_int_equal(wire_query_parse(out, olen, &back), 0);
    assert_int_equal(back.qname.len, q.qname.len);
    assert_memory_equal(back.qname.data, q.qname.data, q.qname.len);
    assert_int_equal(back.qtype, q.qtype);
    assert_int_equal(back.qclass, q.qclass);

    /* BADVERS (16): rcode low bits 0 in the header, ext_rcode 1 in the OPT,
     * even without a spec. */
    assert_int_equal(wire_build_empty_response(qbuf, qlen, &q, WIRE_RC_BADVERS, NULL, false, out, sizeof out, &olen), 0);
    assert_int_equal(wire_msg_info(out, olen, &mi), 0);
    assert_int_equal(WIRE_RCODE(mi.header.flags), 0);
    assert_true(mi.edns.present);
    assert_int_equal(mi.edns.ext_rcode, 1);
    assert_int_equal((mi.edns.ext_rcode << 4) | WIRE_RCODE(mi.header.flags), WIRE_RC_BADVERS);

    /* No OPT when the query had none and there is no EDE. */
    qlen = make_query(qbuf, sizeof qbuf, false);
    assert_int_equal(wire_query_parse(qbuf, qlen, &q), 0);
    wire_opt_spec_t noede = { .udp_size = 1232, .keepalive = -1, .ede_code = -1 };
    assert_int_equal(
        wire_build_empty_response(qbuf, qlen, &q, WIRE_RC_NOTIMP, &noede, q.edns.present, out, sizeof out, &olen), 0);
    assert_int_equal(olen, qlen);
    assert_int_equal(wire_msg_info(out, olen, &mi), 0);
    assert_false(mi.edns.present);
    assert_int_equal(WIRE_RCODE(mi.header.flags), WIRE_RC_NOTIMP);

    /* FORMERR for QDCOUNT 2: no question in the answer, ID echoed. */
    qbuf[5] = 2;
    assert_int_equal(wire_query_parse(qbuf, qlen, &q), DN_EFORMAT);
    assert_true(q.header_valid);
    assert_int_equal(wire_build_empty_response(qbuf, qlen, &q, WIRE_RC_FORMERR, NULL, false, out, sizeof out, &olen), 0);
    assert_int_equal(olen, 12);
    assert_int_equal(wire_msg_info(out, olen, &mi), 0);
    assert_int_equal(mi.header.id, 0xBEEF);
    assert_int_equal(mi.header.qdcount, 0);
    assert_int_equal(WIRE_RCODE(mi.header.flags), WIRE_RC_FORMERR);
    /* Question cut short: no question either. */
    qbuf[5] = 1;
    assert_int_not_equal(wire_query_parse(qbuf, 20, &q), 0);
    assert_true(q.header_valid);
    assert_int_equal(wire_build_empty_response(qbuf, 20, &q, WIRE_RC_FORMERR, NULL, false, out, sizeof out, &olen), 0);
    assert_int_equal(olen, 12);
    /* No header: cannot answer. */
    assert_int_not_equal(wire_query_parse(qbuf, 5, &q), 0);
    assert_int_equal(wire_build_empty_response(qbuf, 5, &q, WIRE_RC_FORMERR, NULL, false, out, sizeof out, &olen),
                     DN_EINVAL);
    /* Output too small. */
    assert_int_equal(wire_query_parse(qbuf, qlen, &q), 0);
    assert_int_equal(wire_build_empty_response(qbuf, qlen, &q, WIRE_RC_SERVFAIL, NULL, false, out, 20, &olen), DN_ERANGE);
}


/* A compression pointer into the 12-octet header is refused: no name lives
 * there, and responses rewrite the header (a pointer there would change
 * meaning in our answer). */
static void test_pointer_into_header_refused(void **state)
{
    (void)state;
    uint8_t msg[] = {0x03, 'f', 'o', 'o', 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00};
    wire_cur_t c;
    wire_cur_init(&c, msg, sizeof msg);
    c.pos = 12;
    wire_name_t n;
    assert_int_equal(wire_name_read(&c, &n), DN_EFORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_name_text_roundtrip),
        cmocka_unit_test(test_name_compare),
        cmocka_unit_test(test_name_limits),
        cmocka_unit_test(test_name_compression_read),
        cmocka_unit_test(test_query_parse_basic),
        cmocka_unit_test(test_query_parse_header_errors),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_query_edns),
        cmocka_unit_test(test_msg_walk),
        cmocka_unit_test(test_msg_info),
        cmocka_unit_test(test_rdata_tlsa_soa),
        cmocka_unit_test(test_rdata_canonical),
        cmocka_unit_test(test_writer_basic),
        cmocka_unit_test(test_writer_compression),
        cmocka_unit_test(test_put_opt),
        cmocka_unit_test(test_build_empty_response),
        cmocka_unit_test(test_pointer_into_header_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
