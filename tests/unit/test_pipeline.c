/* Unit tests for resolver/pipeline: classification, body preparation and
 * the client's response (ID, question echo, AD rule, OPT with padding,
 * keepalive and EDE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/wire.h"
#include "resolver/pipeline.h"

/* A query: qname text, qtype, flags, optional OPT (do, padding, keepalive). */
static size_t make_query(uint8_t *buf, size_t cap, const char *qname, uint16_t qtype, uint16_t flags, bool opt,
                         bool do_bit, bool pad, bool keepalive, uint16_t id)
{
    wire_out_t o;
    wire_out_init(&o, buf, cap, false);
    wire_header_t h = {.id = id, .flags = flags, .qdcount = 1};
    wire_put_header(&o, &h);
    wire_name_t n;
    assert_int_equal(wire_name_from_text(qname, &n), 0);
    wire_put_name(&o, &n);
    wire_put_u16(&o, qtype);
    wire_put_u16(&o, WIRE_C_IN);
    if (opt) {
        wire_put_u8(&o, 0);
        wire_put_u16(&o, WIRE_T_OPT);
        wire_put_u16(&o, 1232);
        wire_put_u32(&o, do_bit ? 0x8000u : 0);
        uint16_t rdlen = (uint16_t)((pad ? 4 + 8 : 0) + (keepalive ? 4 : 0));
        wire_put_u16(&o, rdlen);
        if (keepalive) {
            wire_put_u16(&o, WIRE_OPT_KEEPALIVE);
            wire_put_u16(&o, 0);
        }
        if (pad) {
            wire_put_u16(&o, WIRE_OPT_PADDING);
            wire_put_u16(&o, 8);
            for (int i = 0; i < 8; i++)
                wire_put_u8(&o, 0);
        }
        wire_patch_u16(&o, 10, 1);
    }
    assert_int_equal(o.err, 0);
    return o.len;
}

/* An upstream-style response body: question + answer A + RRSIG, plus an
 * optional trailing OPT. */
static size_t make_answer(uint8_t *buf, size_t cap, const char *qname, bool with_rrsig, bool with_opt)
{
    wire_out_t o;
    wire_out_init(&o, buf, cap, true);
    wire_header_t h = {.id = 7, .flags = WIRE_F_QR | WIRE_F_RD | WIRE_F_RA, .qdcount = 1,
                       .ancount = (uint16_t)(with_rrsig ? 2 : 1), .arcount = with_opt ? 1 : 0};
    wire_put_header(&o, &h);
    wire_name_t n;
    wire_name_from_text(qname, &n);
    wire_put_name(&o, &n);
    wire_put_u16(&o, WIRE_T_A);
    wire_put_u16(&o, WIRE_C_IN);
    wire_put_name(&o, &n);
    wire_put_u16(&o, WIRE_T_A);
    wire_put_u16(&o, WIRE_C_IN);
    wire_put_u32(&o, 300);
    wire_put_u16(&o, 4);
    wire_put_u32(&o, 0xC0000201);
    if (with_rrsig) {
        wire_put_name(&o, &n);
        wire_put_u16(&o, WIRE_T_RRSIG);
        wire_put_u16(&o, WIRE_C_IN);
        wire_put_u32(&o, 300);
        wire_name_t signer;
        wire_name_from_text("example.", &signer);
        wire_put_u16(&o, (uint16_t)(18 + signer.len + 4));
        wire_put_u16(&o, WIRE_T_A);
        wire_put_u8(&o, 13);
        wire_put_u8(&o, 2);
        wire_put_u32(&o, 300);
        wire_put_u32(&o, 2000000000u);
        wire_put_u32(&o, 1000000000u);
        wire_put_u16(&o, 1234);
        wire_out_t tmp = o;
        tmp.compress = false;
        wire_put_name(&tmp, &signer);
        o.len = tmp.len;
        wire_put_u32(&o, 0xdeadbeef);
    }
    if (with_opt) {
        wire_put_u8(&o, 0);
        wire_put_u16(&o, WIRE_T_OPT);
        wire_put_u16(&o, 4096);
        wire_put_u32(&o, 0);
        wire_put_u16(&o, 0);
    }
    assert_int_equal(o.err, 0);
    return o.len;
}

static void test_classify(void **state)
{
    (void)state;
    uint8_t q[512];
    query_info_t qi;
    size_t n = make_query(q, sizeof q, "www.Example.", WIRE_T_A, WIRE_F_RD, true, true, false, false, 0x1234);
    assert_int_equal(pipeline_classify(q, n, &qi), PIPELINE_LOOKUP);
    assert_int_equal(qi.id, 0x1234);
    assert_true(qi.do_bit);
    assert_true(qi.has_edns);

    n = make_query(q, sizeof q, "example.", WIRE_T_AXFR, 0, false, false, false, false, 1);
    assert_int_equal(pipeline_classify(q, n, &qi), PIPELINE_REFUSED_XFR);
    n = make_query(q, sizeof q, "example.", WIRE_T_IXFR, 0, false, false, false, false, 1);
    assert_int_equal(pipeline_classify(q, n, &qi), PIPELINE_REFUSED_XFR);
    n = make_query(q, sizeof q, "example.", WIRE_T_A, (uint16_t)(2u << 11), false, false, false, false, 1);
    assert_int_equal(pipeline_classify(q, n, &qi), PIPELINE_NOTIMP);
    n = make_query(q, sizeof q, "example.", 250 /* TSIG */, 0, false, false, false, false, 1);
    assert_int_equal(pipeline_classify(q, n, &qi), PIPELINE_NOTIMP);

    /* EDNS version 1 -> BADVERS */
    n = make_query(q, sizeof q, "example.", WIRE_T_A, 0, true, false, false, false, 1);
    q[n - 11 + 6] = 1; /* OPT TTL: ext-rcode, version, flags: version byte */
    assert_int_equal(pipeline_classify(q, n, &qi), PIPELINE_BADVERS);

    /* garbage after a header -> FORMERR with the ID; under a header -> DROP */
    uint8_t g[20] = {0xab, 0xcd, 0x01, 0x00, 0x00, 0x01};
    memset(g + 6, 0xff, sizeof g - 6);
    assert_int_equal(pipeline_classify(g, sizeof g, &qi), PIPELINE_FORMERR);
    assert_int_equal(qi.id, 0xabcd);
    assert_int_equal(pipeline_classify(g, 5, &qi), PIPELINE_DROP);
}

static void test_prepare_body_strips(void **state)
{
    (void)state;
    uint8_t a[512], out[512];
    size_t n = make_answer(a, sizeof a, "www.example.", true, true), len;
    /* DO: only the trailing OPT goes */
    assert_int_equal(pipeline_prepare_body(a, n, true, WIRE_T_A, out, sizeof out, &len), 0);
    wire_msg_info_t info;
    assert_int_equal(wire_msg_info(out, len, &info), 0);
    assert_int_equal(info.header.ancount, 2);
    assert_int_equal(info.header.arcount, 0);
    assert_int_equal(info.opt_rr_offset, 0);
    /* no DO: RRSIG goes too */
    assert_int_equal(pipeline_prepare_body(a, n, false, WIRE_T_A, out, sizeof out, &len), 0);
    assert_int_equal(wire_msg_info(out, len, &info), 0);
    assert_int_equal(info.header.ancount, 1);
    assert_int_equal(info.header.arcount, 0);
    /* asking for RRSIG keeps it */
    assert_int_equal(pipeline_prepare_body(a, n, false, WIRE_T_RRSIG, out, sizeof out, &len), 0);
    assert_int_equal(wire_msg_info(out, len, &info), 0);
    assert_int_equal(info.header.ancount, 2);
    /* nothing to strip: identical bytes */
    n = make_answer(a, sizeof a, "www.example.", false, false);
    assert_int_equal(pipeline_prepare_body(a, n, false, WIRE_T_A, out, sizeof out, &len), 0);
    assert_int_equal(len, n);
    assert_memory_equal(a, out, n);
    /* malformed */
    assert_int_not_equal(pipeline_prepare_body(a, 11, false, WIRE_T_A, out, sizeof out, &len), 0);
    assert_int_not_equal(pipeline_prepare_body(a, n - 1, false, WIRE_T_A, out, sizeof out, &len), 0);
}

static void test_finish_echo_ad_padding(void **state)
{
    (void)state;
    uint8_t q[512], a[512], body[512], out[2048];
    size_t qn = make_query(q, sizeof q, "WwW.ExAmPlE.", WIRE_T_A, WIRE_F_RD | WIRE_F_CD, true, true, true, true, 0x4242);
    query_info_t qi;
    assert_int_equal(pipeline_classify(q, qn, &qi), PIPELINE_LOOKUP);
    size_t an = make_answer(a, sizeof a, "www.example.", true, true), bn;
    assert_int_equal(pipeline_prepare_body(a, an, qi.do_bit, qi.qtype, body, sizeof body, &bn), 0);
    pipeline_resp_opts_t ro = {.keepalive_100ms = 20, .ede_code = -1};
    size_t on;
    assert_int_equal(pipeline_finish(&qi, body, bn, true, &ro, out, sizeof out, &on), 0);
    assert_int_equal(on % PIPELINE_PAD_BLOCK, 0);
    assert_int_equal(out[0], 0x42);
    assert_int_equal(out[1], 0x42);
    uint16_t flags = (uint16_t)(out[2] << 8 | out[3]);
    assert_true(flags & WIRE_F_QR);
    assert_true(flags & WIRE_F_AD);
    assert_true(flags & WIRE_F_CD);
    assert_true(flags & WIRE_F_RD);
    assert_true(flags & WIRE_F_RA);
    /* the client's 0x20 case is echoed */
    assert_memory_equal(out + WIRE_HEADER_LEN, q + WIRE_HEADER_LEN, qi.question_len);
    wire_msg_info_t info;
    assert_int_equal(wire_msg_info(out, on, &info), 0);
    assert_true(info.edns.present);
    assert_true(info.edns.do_bit);
    assert_true(info.edns.has_keepalive);
    assert_int_equal(info.edns.keepalive, 20);
    assert_true(info.edns.has_padding);

    /* secure but the client sent neither DO nor AD: no AD; no OPT, no padding */
    qn = make_query(q, sizeof q, "www.example.", WIRE_T_A, WIRE_F_RD, false, false, false, false, 9);
    assert_int_equal(pipeline_classify(q, qn, &qi), PIPELINE_LOOKUP);
    assert_int_equal(pipeline_prepare_body(a, an, qi.do_bit, qi.qtype, body, sizeof body, &bn), 0);
    assert_int_equal(pipeline_finish(&qi, body, bn, true, &ro, out, sizeof out, &on), 0);
    flags = (uint16_t)(out[2] << 8 | out[3]);
    assert_false(flags & WIRE_F_AD);
    assert_int_equal(wire_msg_info(out, on, &info), 0);
    assert_false(info.edns.present);
    assert_int_equal(info.header.ancount, 1);

    /* AD in the query is enough to get AD back (RFC 6840 5.7) */
    qn = make_query(q, sizeof q, "www.example.", WIRE_T_A, WIRE_F_RD | WIRE_F_AD, false, false, false, false, 9);
    assert_int_equal(pipeline_classify(q, qn, &qi), PIPELINE_LOOKUP);
    assert_int_equal(pipeline_finish(&qi, body, bn, true, &ro, out, sizeof out, &on), 0);
    assert_true(out[3] & WIRE_F_AD);
}

static void test_error_with_ede(void **state)
{
    (void)state;
    uint8_t q[512], out[1024];
    size_t qn = make_query(q, sizeof q, "x.example.", WIRE_T_A, WIRE_F_RD, false, false, false, false, 77);
    query_info_t qi;
    assert_int_equal(pipeline_classify(q, qn, &qi), PIPELINE_LOOKUP);
    pipeline_resp_opts_t ro = {.keepalive_100ms = 10, .ede_code = WIRE_EDE_PROHIBITED, .ede_text = "DANE: no match for x"};
    size_t on;
    assert_int_equal(pipeline_error(&qi, WIRE_RC_REFUSED, &ro, out, sizeof out, &on), 0);
    wire_msg_info_t info;
    assert_int_equal(wire_msg_info(out, on, &info), 0);
    assert_int_equal(WIRE_RCODE(info.header.flags), WIRE_RC_REFUSED);
    assert_int_equal(info.header.qdcount, 1);
    assert_true(info.edns.has_ede);
    assert_int_equal(info.edns.ede_code, WIRE_EDE_PROHIBITED);
    assert_string_equal(info.edns.ede_text, "DANE: no match for x");
    /* keepalive is only sent when the query asked for it */
    assert_false(info.edns.has_keepalive);

    /* FORMERR without a parsed question: header only */
    uint8_t g[16] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x05};
    assert_int_equal(pipeline_classify(g, sizeof g, &qi), PIPELINE_FORMERR);
    assert_int_equal(pipeline_error(&qi, WIRE_RC_FORMERR, NULL, out, sizeof out, &on), 0);
    assert_int_equal(on, WIRE_HEADER_LEN);
    assert_int_equal(out[0], 0x12);
    assert_int_equal(WIRE_RCODE(out[3]), WIRE_RC_FORMERR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_prepare_body_strips),
        cmocka_unit_test(test_finish_echo_ad_padding),
        cmocka_unit_test(test_error_with_ede),
    };
    return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
