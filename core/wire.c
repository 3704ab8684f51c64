/* core/wire.c — DNS wire format: bounds-checked reading, names, messages,
 * RDATA helpers and a writer with optional name compression.
 *
 * Everything here can be reached by network input, so every read goes through
 * explicit length checks, loops are bounded by the input size (each iteration
 * consumes input or fails) and nothing allocates.  Contracts are in wire.h. */
#include "wire.h"

#include <string.h>

#include "err.h"

/* At most this many compression pointers are followed while reading a name. */
#define WIRE_MAX_POINTERS 64
/* Fixed part of an RR after its owner name: type, class, TTL, RDLENGTH. */
#define WIRE_RR_FIXED 10

static inline uint8_t lower_ascii(uint8_t b)
{
    return (b >= 'A' && b <= 'Z') ? (uint8_t)(b + ('a' - 'A')) : b;
}

/* ------------------------------------------------------------------ cursor */

void wire_cur_init(wire_cur_t *c, const uint8_t *buf, size_t len)
{
    c->buf = buf;
    c->len = buf ? len : 0;
    c->pos = 0;
    c->err = 0;
}

/* True when n more bytes are available; otherwise makes the error sticky. */
static bool cur_need(wire_cur_t *c, size_t n)
{
    if (c->err)
        return false;
    if (c->pos > c->len || c->len - c->pos < n) {
        c->err = DN_ETRUNC;
        return false;
    }
    return true;
}

uint8_t wire_get_u8(wire_cur_t *c)
{
    if (!cur_need(c, 1))
        return 0;
    return c->buf[c->pos++];
}

uint16_t wire_get_u16(wire_cur_t *c)
{
    if (!cur_need(c, 2))
        return 0;
    uint16_t v = (uint16_t)((unsigned)c->buf[c->pos] << 8 | c->buf[c->pos + 1]);
    c->pos += 2;
    return v;
}

uint32_t wire_get_u32(wire_cur_t *c)
{
    if (!cur_need(c, 4))
        return 0;
    const uint8_t *p = c->buf + c->pos;
    uint32_t v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    c->pos += 4;
    return v;
}

void wire_get_bytes(wire_cur_t *c, void *dst, size_t n)
{
    if (!cur_need(c, n)) {
        if (dst && n)
            memset(dst, 0, n);
        return;
    }
    if (dst && n)
        memcpy(dst, c->buf + c->pos, n);
    c->pos += n;
}

/* ------------------------------------------------------------------- names */

int wire_name_read(wire_cur_t *c, wire_name_t *out)
{
    if (c->err)
        return c->err;
    wire_name_t tmp;
    size_t n = 0;           /* octets collected in tmp.data */
    unsigned labels = 0;
    unsigned hops = 0;
    size_t pos = c->pos;
    size_t resume = 0;      /* where the cursor continues: after the first pointer */
    bool jumped = false;
    int err = 0;

    for (;;) {
        if (pos >= c->len) {
            err = DN_ETRUNC;
            break;
        }
        uint8_t b = c->buf[pos];
        if ((b & 0xC0) == 0xC0) {
            if (c->len - pos < 2) {
                err = DN_ETRUNC;
                break;
            }
            size_t target = (size_t)(b & 0x3F) << 8 | c->buf[pos + 1];
            if (!jumped) {
                resume = pos + 2;
                jumped = true;
            }
            /* Strictly backwards from the pointer itself: together with the
             * hop limit and the 255-octet limit this makes loops impossible
             * to exploit (a pointer to itself or forwards is refused). */
            if (target >= pos || ++hops > WIRE_MAX_POINTERS) {
                err = DN_ELOOP;
                break;
            }
            /* No name lives in the 12-octet header: a pointer there is bogus,
             * and would change meaning when a response rewrites the header. */
            if (target < WIRE_HEADER_LEN) {
                err = DN_EFORMAT;
                break;
            }
            pos = target;
            continue;
        }
        if (b & 0xC0) { /* 0x40 (extended label) and 0x80 (reserved) */
            err = DN_EFORMAT;
            break;
        }
        if (b == 0) {
            tmp.data[n++] = 0; /* room guaranteed by the check below */
            pos++;
            break;
        }
        /* This label plus at least the root label must fit in 255 octets. */
        if (n + 1u + b + 1u > WIRE_NAME_MAX) {
            err = DN_EFORMAT;
            break;
        }
        if (c->len - pos < 1u + b) {
            err = DN_ETRUNC;
            break;
        }
        memcpy(tmp.data + n, c->buf + pos, 1u + b);
        n += 1u + b;
        pos += 1u + b;
        labels++;
    }
    if (err) {
        c->err = err;
        return err;
    }
    tmp.len = (uint8_t)n;
    tmp.labels = (uint8_t)labels;
    c->pos = jumped ? resume : pos;
    *out = tmp;
    return 0;
}

int wire_name_from_text(const char *text, wire_name_t *out)
{
    if (!text || !out)
        return DN_EINVAL;
    wire_name_t tmp;
    memset(&tmp, 0, sizeof tmp);
    const char *p = text;

    if (p[0] == '\0')
        return DN_EFORMAT;
    if (p[0] == '.' && p[1] == '\0') {
        tmp.len = 1;
        tmp.data[0] = 0;
        *out = tmp;
        return 0;
    }
    size_t n = 0;
    unsigned labels = 0;
    while (*p) {
        /* One label: its length octet sits at data[n]. */
        size_t lenpos = n;
        size_t llen = 0;
        if (n + 1 >= WIRE_NAME_MAX) /* need length octet + root at least */
            return DN_ERANGE;
        n++;
        while (*p && *p != '.') {
            unsigned v;
            if (*p == '\\') {
                p++;
                if (*p >= '0' && *p <= '9') {
                    if (!(p[1] >= '0' && p[1] <= '9') || !(p[2] >= '0' && p[2] <= '9'))
                        return DN_EFORMAT;
                    v = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 + (unsigned)(p[2] - '0');
                    if (v > 255)
                        return DN_EFORMAT;
                    p += 3;
                } else if (*p == '\0') {
                    return DN_EFORMAT;
                } else {
                    v = (unsigned char)*p++;
                }
            } else {
                v = (unsigned char)*p++;
            }
            if (llen >= WIRE_LABEL_MAX)
                return DN_ERANGE;
            if (n + 1 >= WIRE_NAME_MAX) /* keep room for the root label */
                return DN_ERANGE;
            tmp.data[n++] = (uint8_t)v;
            llen++;
        }
        if (llen == 0)
            return DN_EFORMAT; /* empty label: "..", leading dot */
        tmp.data[lenpos] = (uint8_t)llen;
        labels++;
        if (*p == '.')
            p++; /* a trailing dot simply ends the loop here */
    }
    tmp.data[n++] = 0;
    tmp.len = (uint8_t)n;
    tmp.labels = (uint8_t)labels;
    *out = tmp;
    return 0;
}

/* Appends s (n chars) to buf at *pos, keeping room for the final NUL. */
static bool text_put(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (cap - *pos <= n)
        return false;
    memcpy(buf + *pos, s, n);
    *pos += n;
    return true;
}

int wire_name_to_text(const wire_name_t *name, char *buf, size_t cap)
{
    if (!name || !buf || cap == 0)
        return DN_EINVAL;
    if (name->len < 1)
        return DN_EFORMAT;
    size_t pos = 0;
    size_t i = 0;
    for (;;) {
        if (i >= name->len)
            return DN_EFORMAT; /* missing root label */
        uint8_t l = name->data[i];
        if (l == 0)
            break;
        if (l > WIRE_LABEL_MAX || (size_t)name->len - i - 1 < l)
            return DN_EFORMAT;
        for (size_t k = 1; k <= l; k++) {
            uint8_t ch = name->data[i + k];
            char esc[4];
            size_t en;
            if (ch <= 0x20 || ch >= 0x7F) {
                esc[0] = '\\';
                esc[1] = (char)('0' + ch / 100);
                esc[2] = (char)('0' + ch / 10 % 10);
                esc[3] = (char)('0' + ch % 10);
                en = 4;
            } else if (strchr(".\\();@$\"", ch)) {
                esc[0] = '\\';
                esc[1] = (char)ch;
                en = 2;
            } else {
                esc[0] = (char)ch;
                en = 1;
            }
            if (!text_put(buf, cap, &pos, esc, en))
                return DN_ERANGE;
        }
        if (!text_put(buf, cap, &pos, ".", 1))
            return DN_ERANGE;
        i += 1u + l;
    }
    if (pos == 0 && !text_put(buf, cap, &pos, ".", 1))
        return DN_ERANGE;
    buf[pos] = '\0';
    return 0;
}

bool wire_name_equal(const wire_name_t *a, const wire_name_t *b)
{
    if (a->len != b->len)
        return false;
    /* Length octets are <= 63 and never in 'A'..'Z', so lowering the whole
     * buffer compares labels case-insensitively and lengths exactly. */
    for (size_t i = 0; i < a->len && i < WIRE_NAME_MAX; i++)
        if (lower_ascii(a->data[i]) != lower_ascii(b->data[i]))
            return false;
    return true;
}

void wire_name_lower(wire_name_t *name)
{
    for (size_t i = 0; i < name->len && i < WIRE_NAME_MAX; i++)
        name->data[i] = lower_ascii(name->data[i]);
}

size_t wire_name_suffix_offset(const wire_name_t *name, unsigned keep)
{
    if (keep >= name->labels)
        return 0;
    unsigned skip = name->labels - keep;
    size_t off = 0;
    while (skip-- > 0) {
        if (off >= name->len || name->data[off] == 0)
            break; /* inconsistent labels count: stop at what exists */
        off += 1u + name->data[off];
    }
    return off < name->len ? off : (size_t)name->len - 1u;
}

bool wire_name_is_subdomain(const wire_name_t *name, const wire_name_t *parent)
{
    if (parent->labels > name->labels || parent->len > name->len)
        return false;
    size_t off = wire_name_suffix_offset(name, parent->labels);
    if ((size_t)name->len - off != parent->len)
        return false;
    for (size_t i = 0; i < parent->len; i++)
        if (lower_ascii(name->data[off + i]) != lower_ascii(parent->data[i]))
            return false;
    return true;
}

uint32_t wire_name_hash(const wire_name_t *name, uint32_t seed)
{
    uint32_t h = 2166136261u ^ seed;
    for (size_t i = 0; i < name->len && i < WIRE_NAME_MAX; i++) {
        h ^= lower_ascii(name->data[i]);
        h *= 16777619u;
    }
    return h;
}

/* ------------------------------------------------------------------ header */

int wire_header_read(wire_cur_t *c, wire_header_t *h)
{
    if (!cur_need(c, WIRE_HEADER_LEN))
        return c->err;
    wire_header_t t;
    t.id = wire_get_u16(c);
    t.flags = wire_get_u16(c);
    t.qdcount = wire_get_u16(c);
    t.ancount = wire_get_u16(c);
    t.nscount = wire_get_u16(c);
    t.arcount = wire_get_u16(c);
    *h = t;
    return 0;
}

/* -------------------------------------------------------------------- EDNS */

/* Parses the options of an OPT RDATA into e (whose other fields the caller
 * fills).  In a query the keepalive option must be empty (RFC 7828 §3.2.1);
 * in a response it carries 2 octets.  Any option overrunning RDATA is
 * DN_EFORMAT. */
static int edns_parse_options(const uint8_t *rd, size_t rdlen, bool is_query, wire_edns_t *e)
{
    size_t i = 0;
    while (i < rdlen) {
        if (rdlen - i < 4)
            return DN_EFORMAT;
        uint16_t code = (uint16_t)(rd[i] << 8 | rd[i + 1]);
        uint16_t olen = (uint16_t)(rd[i + 2] << 8 | rd[i + 3]);
        i += 4;
        if (rdlen - i < olen)
            return DN_EFORMAT;
        const uint8_t *od = rd + i;
        switch (code) {
        case WIRE_OPT_KEEPALIVE:
            if (is_query ? olen != 0 : (olen != 0 && olen != 2))
                return DN_EFORMAT;
            e->has_keepalive = true;
            if (olen == 2)
                e->keepalive = (uint16_t)(od[0] << 8 | od[1]);
            break;
        case WIRE_OPT_PADDING:
            e->has_padding = true;
            break;
        case WIRE_OPT_EDE:
            if (olen < 2)
                return DN_EFORMAT;
            if (!e->has_ede) {
                e->has_ede = true;
                e->ede_code = (uint16_t)(od[0] << 8 | od[1]);
                size_t tl = olen - 2u;
                if (tl > WIRE_EDE_TEXT_MAX)
                    tl = WIRE_EDE_TEXT_MAX;
                memcpy(e->ede_text, od + 2, tl);
                e->ede_text[tl] = '\0';
            }
            break;
        default:
            break; /* unknown options are ignored (RFC 6891 §6.1.2) */
        }
        i += olen;
    }
    return 0;
}

/* Fills e from an OPT RR whose CLASS/TTL/RDATA are given. */
static int edns_from_opt(uint16_t rclass, uint32_t ttl, const uint8_t *rd, size_t rdlen, bool is_query,
                         wire_edns_t *e)
{
    wire_edns_t t;
    memset(&t, 0, sizeof t);
    t.present = true;
    t.udp_size = rclass;
    t.ext_rcode = (uint8_t)(ttl >> 24);
    t.version = (uint8_t)(ttl >> 16);
    t.do_bit = (ttl & 0x8000u) != 0;
    int err = edns_parse_options(rd, rdlen, is_query, &t);
    if (err)
        return err;
    *e = t;
    return 0;
}

/* ---------------------------------------------------------- RR iteration */

/* Reads one RR (or question entry when section == 0) at c->pos into rr and
 * advances past it.  RDATA bounds are checked, its contents are not. */
static int rr_read(wire_cur_t *c, uint8_t section, wire_rr_t *rr)
{
    wire_rr_t t;
    memset(&t, 0, sizeof t);
    t.section = section;
    t.rr_offset = c->pos;
    int err = wire_name_read(c, &t.owner);
    if (err)
        return err;
    t.type = wire_get_u16(c);
    t.rclass = wire_get_u16(c);
    if (section != 0) {
        t.ttl_offset = c->pos;
        t.ttl = wire_get_u32(c);
        t.rdlength = wire_get_u16(c);
        t.rdata_offset = c->pos;
        wire_get_bytes(c, NULL, t.rdlength);
    }
    if (c->err)
        return c->err;
    *rr = t;
    return 0;
}

int wire_query_parse(const uint8_t *msg, size_t len, wire_query_t *q)
{
    if (!q)
        return DN_EINVAL;
    /* q is the exception to "outputs only on success": the caller needs the
     * header (to echo the ID in FORMERR) and, when it parsed, the question. */
    wire_query_t t;
    memset(&t, 0, sizeof t);
    wire_cur_t c;
    wire_cur_init(&c, msg, len);
    int err = wire_header_read(&c, &t.header);
    if (err)
        goto out;
    t.header_valid = true;
    if ((t.header.flags & WIRE_F_QR) || t.header.qdcount != 1) {
        err = DN_EFORMAT;
        goto out;
    }
    if ((err = wire_name_read(&c, &t.qname)) != 0)
        goto out;
    t.qtype = wire_get_u16(&c);
    t.qclass = wire_get_u16(&c);
    if ((err = c.err) != 0) {
        memset(&t.qname, 0, sizeof t.qname);
        t.qtype = t.qclass = 0;
        goto out;
    }
    t.question_end = c.pos;

    unsigned total = (unsigned)t.header.ancount + t.header.nscount + t.header.arcount;
    for (unsigned i = 0; i < total; i++) {
        uint8_t section = i < t.header.ancount ? 1 : i < (unsigned)t.header.ancount + t.header.nscount ? 2 : 3;
        wire_rr_t rr;
        if ((err = rr_read(&c, section, &rr)) != 0)
            goto out;
        if (rr.type != WIRE_T_OPT)
            continue;
        /* RFC 6891 §6.1.1: one OPT, only in the additional section, owned by
         * the root. */
        if (section != 3 || t.edns.present || rr.owner.len != 1) {
            err = DN_EFORMAT;
            goto out;
        }
        if ((err = edns_from_opt(rr.rclass, rr.ttl, msg + rr.rdata_offset, rr.rdlength, true, &t.edns)) != 0)
            goto out;
    }
    if (c.pos != len)
        err = DN_EFORMAT;
out:
    *q = t;
    return err;
}

int wire_msg_walk(const uint8_t *msg, size_t len, wire_rr_visit_cb cb, void *arg)
{
    wire_cur_t c;
    wire_cur_init(&c, msg, len);
    wire_header_t h;
    int err = wire_header_read(&c, &h);
    if (err)
        return err;
    const unsigned counts[4] = { h.qdcount, h.ancount, h.nscount, h.arcount };
    for (uint8_t s = 0; s < 4; s++) {
        for (unsigned i = 0; i < counts[s]; i++) {
            wire_rr_t rr;
            if ((err = rr_read(&c, s, &rr)) != 0)
                return err;
            if (cb) {
                int r = cb(&rr, arg);
                if (r != 0)
                    return r;
            }
        }
    }
    return c.pos == len ? 0 : DN_EFORMAT;
}

/* RFC 2181 §8: a TTL with the top bit set is treated as zero. */
static inline uint32_t ttl_sane(uint32_t ttl)
{
    return ttl > 0x7FFFFFFFu ? 0 : ttl;
}

struct info_walk {
    const uint8_t *msg;
    size_t len;
    wire_msg_info_t info;
    bool last_was_opt;
};

static int info_visit(const wire_rr_t *rr, void *arg)
{
    struct info_walk *w = arg;
    if (rr->section == 0)
        return 0;
    w->last_was_opt = false;
    if (rr->type == WIRE_T_OPT) {
        if (rr->section != 3 || w->info.edns.present || rr->owner.len != 1)
            return DN_EFORMAT;
        int err = edns_from_opt(rr->rclass, rr->ttl, w->msg + rr->rdata_offset, rr->rdlength, false, &w->info.edns);
        if (err)
            return err;
        w->info.opt_rr_offset = rr->rr_offset;
        w->info.opt_rr_end = rr->rdata_offset + rr->rdlength;
        w->last_was_opt = true;
        return 0;
    }
    uint32_t ttl = ttl_sane(rr->ttl);
    if (ttl < w->info.min_ttl)
        w->info.min_ttl = ttl;
    if (rr->type == WIRE_T_SOA && rr->section == 2 && !w->info.has_soa) {
        wire_soa_t soa;
        int err = wire_rdata_soa(w->msg, w->len, rr->rdata_offset, rr->rdlength, &soa);
        if (err)
            return err;
        uint32_t m = ttl_sane(soa.minimum);
        w->info.has_soa = true;
        w->info.soa_min = ttl < m ? ttl : m;
    }
    return 0;
}

int wire_msg_info(const uint8_t *msg, size_t len, wire_msg_info_t *info)
{
    if (!info)
        return DN_EINVAL;
    struct info_walk w;
    memset(&w, 0, sizeof w);
    w.msg = msg;
    w.len = len;
    w.info.min_ttl = UINT32_MAX;
    w.info.soa_min = UINT32_MAX;
    wire_cur_t c;
    wire_cur_init(&c, msg, len);
    int err = wire_header_read(&c, &w.info.header);
    if (err)
        return err;
    err = wire_msg_walk(msg, len, info_visit, &w);
    if (err)
        return err;
    w.info.opt_is_last = w.info.edns.present && w.last_was_opt;
    *info = w.info;
    return 0;
}

/* ------------------------------------------------------------------ RDATA */

int wire_rdata_tlsa(const uint8_t *rdata, size_t rdlen, wire_tlsa_t *out)
{
    if (!rdata && rdlen)
        return DN_EINVAL;
    if (rdlen <= 3)
        return DN_EFORMAT; /* needs usage, selector, type and data */
    wire_tlsa_t t;
    t.usage = rdata[0];
    t.selector = rdata[1];
    t.mtype = rdata[2];
    t.data = rdata + 3;
    t.data_len = rdlen - 3;
    *out = t;
    return 0;
}

/* Opens a cursor that ends at the end of the RDATA, positioned at its start,
 * so that names are read with their compression pointers resolved against
 * the whole message before it but never run past RDLENGTH. */
static int rdata_cursor(const uint8_t *msg, size_t msglen, size_t rdata_offset, uint16_t rdlen, wire_cur_t *c)
{
    if (!msg || rdata_offset > msglen || msglen - rdata_offset < rdlen)
        return DN_ETRUNC;
    wire_cur_init(c, msg, rdata_offset + rdlen);
    c->pos = rdata_offset;
    return 0;
}

/* A name inside RDATA that runs past RDLENGTH is malformed RDATA. */
static int rdata_name(wire_cur_t *c, wire_name_t *n)
{
    int err = wire_name_read(c, n);
    return err == DN_ETRUNC ? DN_EFORMAT : err;
}

int wire_rdata_soa(const uint8_t *msg, size_t msglen, size_t rdata_offset, uint16_t rdlen, wire_soa_t *out)
{
    wire_cur_t c;
    int err = rdata_cursor(msg, msglen, rdata_offset, rdlen, &c);
    if (err)
        return err;
    wire_soa_t t;
    if ((err = rdata_name(&c, &t.mname)) != 0 || (err = rdata_name(&c, &t.rname)) != 0)
        return err;
    if (wire_cur_left(&c) != 20)
        return DN_EFORMAT;
    t.serial = wire_get_u32(&c);
    t.refresh = wire_get_u32(&c);
    t.retry = wire_get_u32(&c);
    t.expire = wire_get_u32(&c);
    t.minimum = wire_get_u32(&c);
    *out = t;
    return 0;
}

/* Output accumulator for wire_rdata_canonical. */
struct canon {
    uint8_t *out;
    size_t cap;
    size_t len;
    int err;
};

static void canon_put(struct canon *k, const uint8_t *src, size_t n)
{
    if (k->err)
        return;
    if (k->cap - k->len < n) {
        k->err = DN_ERANGE;
        return;
    }
    if (n)
        memcpy(k->out + k->len, src, n);
    k->len += n;
}

/* Copies n fixed octets from the cursor. */
static void canon_copy(struct canon *k, wire_cur_t *c, size_t n)
{
    if (k->err)
        return;
    if (wire_cur_left(c) < n) {
        k->err = DN_EFORMAT;
        return;
    }
    canon_put(k, c->buf + c->pos, n);
    c->pos += n;
}

static void canon_name(struct canon *k, wire_cur_t *c)
{
    if (k->err)
        return;
    wire_name_t n;
    int err = rdata_name(c, &n);
    if (err) {
        k->err = err;
        return;
    }
    canon_put(k, n.data, n.len);
}

int wire_rdata_canonical(const uint8_t *msg, size_t msglen, uint16_t type, size_t rdata_offset, uint16_t rdlen,
                         uint8_t *out, size_t cap, size_t *out_len)
{
    wire_cur_t c;
    int err = rdata_cursor(msg, msglen, rdata_offset, rdlen, &c);
    if (err)
        return err;
    if (!out && cap)
        return DN_EINVAL;
    struct canon k = { out, cap, 0, 0 };
    switch (type) {
    case WIRE_T_NS:
    case WIRE_T_CNAME:
    case WIRE_T_PTR:
    case WIRE_T_DNAME:
        canon_name(&k, &c);
        break;
    case WIRE_T_MX:
        canon_copy(&k, &c, 2);
        canon_name(&k, &c);
        break;
    case WIRE_T_SRV:
        canon_copy(&k, &c, 6);
        canon_name(&k, &c);
        break;
    case WIRE_T_SOA:
        canon_name(&k, &c);
        canon_name(&k, &c);
        if (!k.err && wire_cur_left(&c) != 20)
            k.err = DN_EFORMAT;
        canon_copy(&k, &c, 20);
        break;
    case WIRE_T_RRSIG:
        canon_copy(&k, &c, 18);
        canon_name(&k, &c);
        canon_copy(&k, &c, wire_cur_left(&c));
        break;
    case WIRE_T_A:
    case WIRE_T_AAAA:
        if (rdlen != (type == WIRE_T_A ? 4 : 16))
            k.err = DN_EFORMAT;
        canon_copy(&k, &c, rdlen);
        break;
    case WIRE_T_DS:
    case WIRE_T_DNSKEY:
        if (rdlen < 4)
            k.err = DN_EFORMAT;
        canon_copy(&k, &c, rdlen);
        break;
    default: /* NSEC (next name is never compressed), TLSA, TXT, ...: opaque */
        canon_copy(&k, &c, rdlen);
        break;
    }
    if (!k.err && wire_cur_left(&c) != 0)
        k.err = DN_EFORMAT; /* RDLENGTH larger than the typed content */
    if (k.err)
        return k.err;
    *out_len = k.len;
    return 0;
}

/* ----------------------------------------------------------------- writer */

void wire_out_init(wire_out_t *o, uint8_t *buf, size_t cap, bool compress)
{
    memset(o, 0, sizeof *o);
    o->buf = buf;
    o->cap = buf ? cap : 0;
    o->compress = compress;
}

/* True when n more bytes fit; otherwise makes DN_ERANGE sticky. */
static bool out_need(wire_out_t *o, size_t n)
{
    if (o->err)
        return false;
    if (o->cap - o->len < n) {
        o->err = DN_ERANGE;
        return false;
    }
    return true;
}

void wire_put_u8(wire_out_t *o, uint8_t v)
{
    if (!out_need(o, 1))
        return;
    o->buf[o->len++] = v;
}

void wire_put_u16(wire_out_t *o, uint16_t v)
{
    if (!out_need(o, 2))
        return;
    o->buf[o->len++] = (uint8_t)(v >> 8);
    o->buf[o->len++] = (uint8_t)v;
}

void wire_put_u32(wire_out_t *o, uint32_t v)
{
    if (!out_need(o, 4))
        return;
    o->buf[o->len++] = (uint8_t)(v >> 24);
    o->buf[o->len++] = (uint8_t)(v >> 16);
    o->buf[o->len++] = (uint8_t)(v >> 8);
    o->buf[o->len++] = (uint8_t)v;
}

void wire_put_bytes(wire_out_t *o, const void *src, size_t n)
{
    if (!out_need(o, n))
        return;
    if (n)
        memcpy(o->buf + o->len, src, n);
    o->len += n;
}

/* True when the (uncompressed) suffix s equals, case-insensitively, the name
 * written at offset p of o->buf.  That name may itself end in pointers (we
 * wrote them), which are followed backwards only, within o->len. */
static bool out_name_matches(const wire_out_t *o, size_t p, const uint8_t *s, size_t slen)
{
    size_t i = 0;
    unsigned hops = 0;
    while (p < o->len && i < slen) {
        uint8_t b = o->buf[p];
        if ((b & 0xC0) == 0xC0) {
            if (o->len - p < 2 || ++hops > WIRE_MAX_POINTERS)
                return false;
            size_t target = (size_t)(b & 0x3F) << 8 | o->buf[p + 1];
            if (target >= p)
                return false;
            p = target;
            continue;
        }
        if (b != s[i])
            return false; /* label lengths must match exactly */
        if (b == 0)
            return i + 1 == slen;
        if (b > WIRE_LABEL_MAX || o->len - p < 1u + b || slen - i < 1u + b)
            return false;
        for (size_t k = 1; k <= b; k++)
            if (lower_ascii(o->buf[p + k]) != lower_ascii(s[i + k]))
                return false;
        p += 1u + b;
        i += 1u + b;
    }
    return false;
}

/* Checks that name is well formed (labels <= 63, ends with the root label
 * exactly at len) and returns its labels' start offsets in starts[]. */
static bool name_label_starts(const wire_name_t *name, uint8_t starts[128], unsigned *nlabels)
{
    size_t i = 0;
    unsigned n = 0;
    if (name->len < 1)
        return false;
    while (i < name->len) {
        uint8_t l = name->data[i];
        if (l == 0)
            break;
        if (l > WIRE_LABEL_MAX || n >= 128)
            return false;
        starts[n++] = (uint8_t)i;
        i += 1u + l;
    }
    if (i + 1 != name->len)
        return false;
    *nlabels = n;
    return true;
}

void wire_put_name(wire_out_t *o, const wire_name_t *name)
{
    if (o->err)
        return;
    uint8_t starts[128];
    unsigned nlabels;
    if (!name_label_starts(name, starts, &nlabels)) {
        o->err = DN_EINVAL; /* a caller bug, but never write garbage */
        return;
    }
    if (!o->compress) {
        wire_put_bytes(o, name->data, name->len);
        return;
    }
    /* Longest suffix first: the first label index whose suffix is already
     * in the buffer.  The root alone is never worth a 2-octet pointer. */
    unsigned cut = nlabels;
    uint16_t ptr = 0;
    for (unsigned li = 0; li < nlabels && cut == nlabels; li++) {
        const uint8_t *s = name->data + starts[li];
        size_t slen = (size_t)name->len - starts[li];
        for (unsigned k = 0; k < o->n_ptrs; k++) {
            if (out_name_matches(o, o->ptrs[k], s, slen)) {
                cut = li;
                ptr = o->ptrs[k];
                break;
            }
        }
    }
    size_t lit = cut < nlabels ? starts[cut] : (size_t)name->len - 1u; /* literal label octets */
    size_t need = lit + (cut < nlabels ? 2u : 1u);
    if (!out_need(o, need))
        return;
    size_t base = o->len;
    memcpy(o->buf + base, name->data, lit);
    if (cut < nlabels) {
        o->buf[base + lit] = (uint8_t)(0xC0 | ptr >> 8);
        o->buf[base + lit + 1] = (uint8_t)ptr;
    } else {
        o->buf[base + lit] = 0;
    }
    o->len += need;
    /* Remember where each literal label starts so later names can point at
     * any suffix of this one. */
    for (unsigned li = 0; li < cut && li < nlabels; li++) {
        size_t off = base + starts[li];
        if (off >= 0x4000 || o->n_ptrs >= WIRE_COMPRESS_SLOTS)
            break;
        if (off < WIRE_HEADER_LEN)
            continue; /* readers refuse pointers into the header */
        o->ptrs[o->n_ptrs++] = (uint16_t)off;
    }
}

void wire_put_header(wire_out_t *o, const wire_header_t *h)
{
    if (!out_need(o, WIRE_HEADER_LEN))
        return;
    wire_put_u16(o, h->id);
    wire_put_u16(o, h->flags);
    wire_put_u16(o, h->qdcount);
    wire_put_u16(o, h->ancount);
    wire_put_u16(o, h->nscount);
    wire_put_u16(o, h->arcount);
}

void wire_patch_u16(wire_out_t *o, size_t offset, uint16_t v)
{
    if (!o->buf || offset > o->len || o->len - offset < 2)
        return;
    o->buf[offset] = (uint8_t)(v >> 8);
    o->buf[offset + 1] = (uint8_t)v;
}

/* Length of the longest prefix of s (at most max octets) that does not cut a
 * UTF-8 sequence in half. */
static size_t utf8_prefix(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    n = max;
    /* Back off over continuation octets, then drop the lead octet whose
     * sequence would be cut. */
    size_t k = n;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

void wire_put_opt(wire_out_t *o, const wire_opt_spec_t *spec)
{
    if (o->err)
        return;
    if (!spec || o->len < WIRE_HEADER_LEN) {
        o->err = DN_EINVAL;
        return;
    }
    uint16_t arcount = (uint16_t)(o->buf[10] << 8 | o->buf[11]);
    if (arcount == 0xFFFF) {
        o->err = DN_ERANGE;
        return;
    }
    size_t ede_tlen = 0;
    if (spec->ede_code >= 0 && spec->ede_text)
        ede_tlen = utf8_prefix(spec->ede_text, WIRE_EDE_TEXT_MAX);
    size_t rdlen = 0;
    if (spec->keepalive >= 0)
        rdlen += 4 + 2;
    if (spec->ede_code >= 0)
        rdlen += 4 + 2 + ede_tlen;
    size_t fixed = 11 + rdlen; /* root + type + class + ttl + rdlength + options */
    size_t cap = o->cap < WIRE_MSG_MAX ? o->cap : WIRE_MSG_MAX;
    if (o->len > cap || cap - o->len < fixed) {
        o->err = DN_ERANGE;
        return;
    }
    /* Padding is best effort: reach the next multiple of pad_block when it
     * fits, else fill what capacity remains, else leave it out. */
    size_t pad = 0;
    bool padding = false;
    if (spec->pad_block > 0) {
        size_t room = cap - o->len - fixed;
        if (room >= 4) {
            size_t total = o->len + fixed + 4;
            size_t want = (spec->pad_block - total % spec->pad_block) % spec->pad_block;
            pad = want <= room - 4 ? want : room - 4;
            padding = true;
            rdlen += 4 + pad;
        }
    }
    uint32_t ttl = (uint32_t)spec->ext_rcode << 24 | (spec->do_bit ? 0x8000u : 0);
    wire_put_u8(o, 0);
    wire_put_u16(o, WIRE_T_OPT);
    wire_put_u16(o, spec->udp_size);
    wire_put_u32(o, ttl);
    wire_put_u16(o, (uint16_t)rdlen);
    if (spec->keepalive >= 0) {
        wire_put_u16(o, WIRE_OPT_KEEPALIVE);
        wire_put_u16(o, 2);
        wire_put_u16(o, spec->keepalive > 0xFFFF ? 0xFFFF : (uint16_t)spec->keepalive);
    }
    if (spec->ede_code >= 0) {
        wire_put_u16(o, WIRE_OPT_EDE);
        wire_put_u16(o, (uint16_t)(2 + ede_tlen));
        wire_put_u16(o, spec->ede_code > 0xFFFF ? 0xFFFF : (uint16_t)spec->ede_code);
        wire_put_bytes(o, spec->ede_text, ede_tlen);
    }
    if (padding) {
        wire_put_u16(o, WIRE_OPT_PADDING);
        wire_put_u16(o, (uint16_t)pad);
        if (out_need(o, pad)) {
            memset(o->buf + o->len, 0, pad);
            o->len += pad;
        }
    }
    if (!o->err)
        wire_patch_u16(o, 10, (uint16_t)(arcount + 1));
}

int wire_build_empty_response(const uint8_t *query, size_t query_len, const wire_query_t *q, uint8_t rcode,
                              const wire_opt_spec_t *spec, bool include_opt, uint8_t *out, size_t cap,
                              size_t *out_len)
{
    (void)query;
    (void)query_len;
    if (!q || !q->header_valid || !out || !out_len)
        return DN_EINVAL;
    static const wire_opt_spec_t default_spec = {
        .udp_size = 1232, .ext_rcode = 0, .do_bit = false, .keepalive = -1, .ede_code = -1,
        .ede_text = NULL, .pad_block = 0,
    };
    bool with_opt = include_opt || rcode > 15 || (spec && spec->ede_code >= 0);
    wire_opt_spec_t os = spec ? *spec : default_spec;
    os.ext_rcode = (uint8_t)(rcode >> 4);

    /* The question was parsed when question_end is set and the name is a
     * real wire name; it is rewritten from q (never copied raw, which could
     * carry a compression pointer into the query's header). */
    bool with_question = q->header.qdcount == 1 && q->question_end > WIRE_HEADER_LEN && q->qname.len >= 1;

    wire_header_t h;
    h.id = q->header.id;
    h.flags = (uint16_t)(WIRE_F_QR | WIRE_F_RA | (q->header.flags & (0xFu << 11)) |
                         (q->header.flags & (WIRE_F_RD | WIRE_F_CD)) | (rcode & 0xFu));
    h.qdcount = with_question ? 1 : 0;
    h.ancount = h.nscount = h.arcount = 0;

    wire_out_t o;
    wire_out_init(&o, out, cap, false);
    wire_put_header(&o, &h);
    if (with_question) {
        wire_put_name(&o, &q->qname);
        wire_put_u16(&o, q->qtype);
        wire_put_u16(&o, q->qclass);
    }
    if (with_opt)
        wire_put_opt(&o, &os);
    if (o.err)
        return o.err;
    *out_len = o.len;
    return 0;
}
