/* Fuzz harness for core/wire.c.
 *
 * Runs every message-level parser on the input, every RDATA helper on every
 * record the walker finds, and checks invariants that must hold for any input:
 *  - a parsed query yields an empty response that parses back with the same
 *    ID, rcode and question;
 *  - every name that parsed survives to_text -> from_text unchanged;
 *  - the compressing writer round-trips every parsed name.
 * Invariant violations abort() so that libFuzzer reports them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/wire.h"

static void check_name_roundtrip(const wire_name_t *n)
{
    char text[WIRE_NAME_TEXT_MAX];
    if (wire_name_to_text(n, text, sizeof text) != 0)
        abort();
    wire_name_t back;
    if (wire_name_from_text(text, &back) != 0)
        abort();
    if (back.len != n->len || back.labels != n->labels || memcmp(back.data, n->data, n->len) != 0)
        abort();
    if (!wire_name_equal(&back, n) || wire_name_hash(&back, 1) != wire_name_hash(n, 1))
        abort();
    if (!wire_name_is_subdomain(n, n))
        abort();
}

struct walk_ctx {
    const uint8_t *msg;
    size_t len;
    wire_out_t out; /* compressing writer fed with every owner name */
    size_t name_offs[16];
    wire_name_t names[16];
    unsigned n_names;
};

static uint8_t canon_buf[WIRE_MSG_MAX + 2 * WIRE_NAME_MAX];

static int visit(const wire_rr_t *rr, void *arg)
{
    struct walk_ctx *w = arg;
    check_name_roundtrip(&rr->owner);
    if (w->n_names < 16) {
        size_t before = w->out.len;
        wire_put_name(&w->out, &rr->owner);
        if (w->out.err == 0) {
            w->name_offs[w->n_names] = before;
            w->names[w->n_names++] = rr->owner;
        }
    }
    if (rr->section == 0)
        return 0;
    if (rr->rdata_offset > w->len || w->len - rr->rdata_offset < rr->rdlength)
        abort(); /* the walker promised RDATA bounds */
    size_t olen = 0;
    if (wire_rdata_canonical(w->msg, w->len, rr->type, rr->rdata_offset, rr->rdlength, canon_buf, sizeof canon_buf,
                             &olen) == 0 &&
        olen > sizeof canon_buf)
        abort();
    if (rr->type == WIRE_T_SOA) {
        wire_soa_t soa;
        if (wire_rdata_soa(w->msg, w->len, rr->rdata_offset, rr->rdlength, &soa) == 0) {
            check_name_roundtrip(&soa.mname);
            check_name_roundtrip(&soa.rname);
        }
    } else if (rr->type == WIRE_T_TLSA) {
        wire_tlsa_t t;
        if (wire_rdata_tlsa(w->msg + rr->rdata_offset, rr->rdlength, &t) == 0 && t.data_len + 3 != rr->rdlength)
            abort();
    }
    return 0;
}

static void check_response(const uint8_t *data, size_t size, const wire_query_t *q, uint8_t rcode,
                           const wire_opt_spec_t *spec, bool include_opt)
{
    static uint8_t resp[4096];
    size_t rlen = 0;
    int rc = wire_build_empty_response(data, size, q, rcode, spec, include_opt, resp, sizeof resp, &rlen);
    if (rc != 0)
        abort(); /* 4096 octets always fit a question and an OPT */
    wire_msg_info_t mi;
    if (wire_msg_info(resp, rlen, &mi) != 0)
        abort();
    if (mi.header.id != q->header.id || !(mi.header.flags & WIRE_F_QR))
        abort();
    unsigned full = (unsigned)mi.edns.ext_rcode << 4 | WIRE_RCODE(mi.header.flags);
    if (mi.edns.present ? full != rcode : WIRE_RCODE(mi.header.flags) != rcode)
        abort();
    if (spec && spec->pad_block && mi.edns.present && rlen % spec->pad_block != 0)
        abort();
    if (mi.header.qdcount == 1) {
        /* The question reads back identical. */
        wire_cur_t c;
        wire_cur_init(&c, resp, rlen);
        c.pos = WIRE_HEADER_LEN;
        wire_name_t n;
        if (wire_name_read(&c, &n) != 0 || n.len != q->qname.len || memcmp(n.data, q->qname.data, n.len) != 0)
            abort();
        if (wire_get_u16(&c) != q->qtype || wire_get_u16(&c) != q->qclass || c.err)
            abort();
    }
}

/* The input also serves as presentation text: whatever from_text accepts
 * must print and parse back to the same wire name. */
static void check_text(const uint8_t *data, size_t size)
{
    char text[WIRE_NAME_TEXT_MAX + 1];
    if (size > WIRE_NAME_TEXT_MAX)
        size = WIRE_NAME_TEXT_MAX;
    memcpy(text, data, size);
    text[size] = '\0';
    wire_name_t n;
    if (wire_name_from_text(text, &n) == 0)
        check_name_roundtrip(&n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_text(data, size);
    wire_query_t q;
    int qrc = wire_query_parse(data, size, &q);
    if (qrc == 0) {
        check_name_roundtrip(&q.qname);
        wire_opt_spec_t spec = { .udp_size = 1232, .do_bit = q.edns.do_bit, .keepalive = q.edns.has_keepalive ? 300 : -1,
                                 .ede_code = WIRE_EDE_PROHIBITED, .ede_text = "fuzz \xc3\xa9", .pad_block = 468 };
        check_response(data, size, &q, WIRE_RC_REFUSED, &spec, q.edns.present);
        check_response(data, size, &q, WIRE_RC_BADVERS, NULL, true);
        wire_opt_spec_t plain = { .udp_size = 512, .keepalive = -1, .ede_code = -1 };
        check_response(data, size, &q, WIRE_RC_NOTIMP, &plain, q.edns.present);
    } else if (q.header_valid) {
        if (q.question_end != 0)
            check_name_roundtrip(&q.qname);
        check_response(data, size, &q, WIRE_RC_FORMERR, NULL, false);
    }

    static uint8_t wbuf[WIRE_MSG_MAX];
    struct walk_ctx w;
    memset(&w, 0, sizeof w);
    w.msg = data;
    w.len = size;
    wire_out_init(&w.out, wbuf, sizeof wbuf, true);
    /* Names live after a 12-octet header in any DNS message (pointers into the
     * header are refused by the reader). */
    memset(wbuf, 0, WIRE_HEADER_LEN);
    w.out.len = WIRE_HEADER_LEN;
    int wrc = wire_msg_walk(data, size, visit, &w);
    /* Names written through the compressing writer read back equal. */
    wire_cur_t c;
    wire_cur_init(&c, wbuf, w.out.len);
    for (unsigned i = 0; i < w.n_names; i++) {
        c.pos = w.name_offs[i];
        wire_name_t n;
        if (wire_name_read(&c, &n) != 0 || !wire_name_equal(&n, &w.names[i]))
            abort();
    }

    wire_msg_info_t mi;
    int irc = wire_msg_info(data, size, &mi);
    if (irc == 0) {
        if (wrc != 0)
            abort(); /* info accepts only what the walker accepts */
        if (mi.edns.present && (mi.opt_rr_offset < WIRE_HEADER_LEN || mi.opt_rr_end > size))
            abort();
        if (mi.has_soa && mi.soa_min > 0x7FFFFFFFu)
            abort(); /* TTLs with the top bit set count as 0 */
    }
    if (qrc == 0 && wrc != 0)
        abort(); /* a valid query is a valid message */
    return 0;
}
