/* resolver/pipeline.c — see pipeline.h. */
#include "pipeline.h"

#include <string.h>

#include "core/err.h"

pipeline_action_t pipeline_classify(const uint8_t *msg, size_t len, query_info_t *qi)
{
    memset(qi, 0, sizeof *qi);
    wire_query_t q;
    int rc = wire_query_parse(msg, len, &q);
    if (!q.header_valid)
        return PIPELINE_DROP;
    qi->id = q.header.id;
    qi->flags = q.header.flags;
    if (rc != DN_OK) {
        /* Nothing after the header can be trusted: answer without question. */
        return PIPELINE_FORMERR;
    }
    qi->qname = q.qname;
    qi->qtype = q.qtype;
    qi->qclass = q.qclass;
    /* The question to echo is rebuilt from the parsed name (case kept), never
     * copied raw: raw bytes may hold a compression pointer into the query's
     * header, which means something else in our response. */
    if (q.qname.len + 4u > sizeof qi->question)
        return PIPELINE_FORMERR;
    memcpy(qi->question, q.qname.data, q.qname.len);
    qi->question[q.qname.len] = (uint8_t)(q.qtype >> 8);
    qi->question[q.qname.len + 1] = (uint8_t)q.qtype;
    qi->question[q.qname.len + 2] = (uint8_t)(q.qclass >> 8);
    qi->question[q.qname.len + 3] = (uint8_t)q.qclass;
    qi->question_len = (uint16_t)(q.qname.len + 4);
    qi->has_edns = q.edns.present;
    qi->do_bit = q.edns.do_bit;
    qi->want_padding = q.edns.has_padding;
    qi->want_keepalive = q.edns.has_keepalive;

    if (WIRE_OPCODE(q.header.flags) != WIRE_OP_QUERY)
        return PIPELINE_NOTIMP;
    if (q.edns.present && q.edns.version > 0)
        return PIPELINE_BADVERS;
    if (q.qtype == WIRE_T_OPT)
        return PIPELINE_FORMERR;
    if (q.qtype == WIRE_T_AXFR || q.qtype == WIRE_T_IXFR)
        return PIPELINE_REFUSED_XFR;
    /* Meta types other than ANY (TKEY, TSIG, MAILA/B...) are not queries. */
    if (q.qtype >= 128 && q.qtype != WIRE_T_ANY)
        return PIPELINE_NOTIMP;
    if (q.qclass != WIRE_C_IN)
        return PIPELINE_REFUSED_CLASS;
    return PIPELINE_LOOKUP;
}

/* ---- preparing upstream bodies ---- */

typedef struct {
    bool do_bit;
    uint16_t qtype;
    unsigned drop;       /* RRs to drop */
    size_t first_drop;   /* rr_offset of the first dropped RR */
    bool only_tail_drop; /* every RR from first_drop on is dropped */
    unsigned total;
} scan_t;

static bool should_drop(const wire_rr_t *rr, bool do_bit, uint16_t qtype)
{
    if (rr->section == 0)
        return false;
    if (rr->type == WIRE_T_OPT)
        return true;
    if (do_bit || rr->type == qtype || qtype == WIRE_T_ANY)
        return false;
    return rr->type == WIRE_T_RRSIG || rr->type == WIRE_T_NSEC || rr->type == WIRE_T_NSEC3;
}

static int scan_cb(const wire_rr_t *rr, void *arg)
{
    scan_t *s = arg;
    if (rr->section == 0)
        return 0;
    s->total++;
    if (should_drop(rr, s->do_bit, s->qtype)) {
        if (s->drop == 0) {
            s->first_drop = rr->rr_offset;
            s->only_tail_drop = true;
        }
        s->drop++;
    } else if (s->drop > 0) {
        s->only_tail_drop = false;
    }
    return 0;
}

typedef struct {
    const uint8_t *pkt;
    size_t len;
    bool do_bit;
    uint16_t qtype;
    wire_out_t *o;
    uint16_t counts[4];
    int err;
} rebuild_t;

static int rebuild_cb(const wire_rr_t *rr, void *arg)
{
    rebuild_t *r = arg;
    wire_out_t *o = r->o;
    if (rr->section == 0) {
        wire_put_name(o, &rr->owner);
        wire_put_u16(o, rr->type);
        wire_put_u16(o, rr->rclass);
        r->counts[0]++;
        return o->err;
    }
    if (should_drop(rr, r->do_bit, r->qtype))
        return 0;
    wire_put_name(o, &rr->owner);
    wire_put_u16(o, rr->type);
    wire_put_u16(o, rr->rclass);
    wire_put_u32(o, rr->ttl);
    size_t rdlen_at = o->len;
    wire_put_u16(o, 0);
    if (o->err)
        return o->err;
    size_t rdlen = 0;
    int rc = wire_rdata_canonical(r->pkt, r->len, rr->type, rr->rdata_offset, rr->rdlength, o->buf + o->len,
                                  o->cap - o->len, &rdlen);
    if (rc != DN_OK)
        return rc;
    if (rdlen > 65535)
        return DN_ERANGE;
    o->len += rdlen;
    wire_patch_u16(o, rdlen_at, (uint16_t)rdlen);
    r->counts[rr->section]++;
    return 0;
}

int pipeline_prepare_body(const uint8_t *pkt, size_t len, bool do_bit, uint16_t qtype, uint8_t *out, size_t cap,
                          size_t *out_len)
{
    if (len < WIRE_HEADER_LEN)
        return DN_EFORMAT;
    /* Whole-message checks (OPT placement, SOA RDATA) that the walk below
     * does not make: a malformed upstream answer is never passed on. */
    wire_msg_info_t info;
    int rc0 = wire_msg_info(pkt, len, &info);
    if (rc0 != DN_OK)
        return rc0;
    scan_t s = {.do_bit = do_bit, .qtype = qtype};
    int rc = wire_msg_walk(pkt, len, scan_cb, &s);
    if (rc != DN_OK)
        return rc < 0 ? rc : DN_EFORMAT;
    if (s.drop == 0 || s.only_tail_drop) {
        /* Common case: nothing to drop, or only trailing records (OPT last):
         * copy verbatim up to the first dropped record. */
        size_t n = s.drop == 0 ? len : s.first_drop;
        if (n > cap)
            return DN_ERANGE;
        memcpy(out, pkt, n);
        if (s.drop > 0) {
            /* All trailing drops are in the last non-empty sections: recount
             * by walking the copy is simpler than tracking sections here. */
            wire_header_t h;
            wire_cur_t c;
            wire_cur_init(&c, pkt, len);
            wire_header_read(&c, &h);
            unsigned keep = s.total - s.drop;
            unsigned an = h.ancount < keep ? h.ancount : keep;
            keep -= an;
            unsigned ns = h.nscount < keep ? h.nscount : keep;
            keep -= ns;
            unsigned ar = keep;
            out[6] = (uint8_t)(an >> 8);
            out[7] = (uint8_t)an;
            out[8] = (uint8_t)(ns >> 8);
            out[9] = (uint8_t)ns;
            out[10] = (uint8_t)(ar >> 8);
            out[11] = (uint8_t)ar;
        }
        *out_len = n;
        return DN_OK;
    }
    wire_out_t o;
    wire_out_init(&o, out, cap, true);
    wire_header_t h;
    wire_cur_t c;
    wire_cur_init(&c, pkt, len);
    wire_header_read(&c, &h);
    wire_put_header(&o, &h);
    rebuild_t r = {.pkt = pkt, .len = len, .do_bit = do_bit, .qtype = qtype, .o = &o};
    rc = wire_msg_walk(pkt, len, rebuild_cb, &r);
    if (rc != DN_OK)
        return rc < 0 ? rc : DN_EFORMAT;
    if (o.err)
        return o.err;
    wire_patch_u16(&o, 4, r.counts[0]);
    wire_patch_u16(&o, 6, r.counts[1]);
    wire_patch_u16(&o, 8, r.counts[2]);
    wire_patch_u16(&o, 10, r.counts[3]);
    *out_len = o.len;
    return DN_OK;
}

/* ---- responses ---- */

static uint16_t response_flags(const query_info_t *qi, int rcode, bool secure)
{
    uint16_t f = WIRE_F_QR | WIRE_F_RA;
    f |= (uint16_t)(qi->flags & (0xF << 11)); /* opcode */
    f |= (uint16_t)(qi->flags & (WIRE_F_RD | WIRE_F_CD));
    /* RFC 6840 §5.7/5.8: AD only for clients that signalled they understand it. */
    if (secure && (qi->do_bit || (qi->flags & WIRE_F_AD)))
        f |= WIRE_F_AD;
    f |= (uint16_t)(rcode & 0xF);
    return f;
}

static void put_opt(wire_out_t *o, const query_info_t *qi, int rcode, const pipeline_resp_opts_t *ro)
{
    wire_opt_spec_t spec = {
        .udp_size = PIPELINE_EDNS_UDP,
        .ext_rcode = (uint8_t)(rcode >> 4),
        .do_bit = qi->do_bit,
        .keepalive = (qi->want_keepalive && ro && ro->keepalive_100ms >= 0) ? ro->keepalive_100ms : -1,
        .ede_code = ro ? ro->ede_code : -1,
        .ede_text = ro ? ro->ede_text : NULL,
        .pad_block = qi->want_padding ? PIPELINE_PAD_BLOCK : 0,
    };
    wire_put_opt(o, &spec);
}

int pipeline_finish(const query_info_t *qi, const uint8_t *body, size_t body_len, bool secure,
                    const pipeline_resp_opts_t *ro, uint8_t *out, size_t cap, size_t *out_len)
{
    wire_cur_t c;
    wire_cur_init(&c, body, body_len);
    wire_header_t h;
    if (wire_header_read(&c, &h) != DN_OK)
        return DN_EFORMAT;
    size_t qend = WIRE_HEADER_LEN;
    if (h.qdcount == 1) {
        wire_name_t n;
        if (wire_name_read(&c, &n) != DN_OK)
            return DN_EFORMAT;
        wire_get_u16(&c);
        wire_get_u16(&c);
        if (c.err)
            return DN_EFORMAT;
        qend = c.pos;
    }
    /* Echo the client's question bytes (its 0x20 case) when they fit in the
     * same place, so compression pointers in the body stay valid. */
    bool echo = h.qdcount == 1 && qi->question_len == qend - WIRE_HEADER_LEN;
    if (body_len > cap)
        return DN_ERANGE;
    memcpy(out, body, body_len);
    if (echo)
        memcpy(out + WIRE_HEADER_LEN, qi->question, qi->question_len);
    int rcode = WIRE_RCODE(h.flags);
    uint16_t f = response_flags(qi, rcode, secure);
    out[0] = (uint8_t)(qi->id >> 8);
    out[1] = (uint8_t)qi->id;
    out[2] = (uint8_t)(f >> 8);
    out[3] = (uint8_t)f;
    wire_out_t o;
    wire_out_init(&o, out, cap, false);
    o.len = body_len;
    if (qi->has_edns || (ro && ro->ede_code >= 0))
        put_opt(&o, qi, rcode, ro);
    if (o.err)
        return o.err;
    *out_len = o.len;
    return DN_OK;
}

int pipeline_error(const query_info_t *qi, int rcode, const pipeline_resp_opts_t *ro, uint8_t *out, size_t cap,
                   size_t *out_len)
{
    wire_out_t o;
    wire_out_init(&o, out, cap, false);
    bool with_q = qi->question_len > 0;
    wire_header_t h = {
        .id = qi->id,
        .flags = response_flags(qi, rcode & 0xF, false),
        .qdcount = with_q ? 1 : 0,
    };
    wire_put_header(&o, &h);
    if (with_q)
        wire_put_bytes(&o, qi->question, qi->question_len);
    if (qi->has_edns || rcode > 15 || (ro && ro->ede_code >= 0))
        put_opt(&o, qi, rcode, ro);
    if (o.err)
        return o.err;
    *out_len = o.len;
    return DN_OK;
}
