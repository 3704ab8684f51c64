/* core/wire.h — DNS wire format.  Pure: no I/O, no allocation, no globals.
 *
 * Read this first:
 *  - Reading uses wire_cur_t, a bounds-checked cursor with a sticky error:
 *    call any number of wire_get_* and check cur.err once at the end.  After
 *    an error every getter returns 0 and leaves outputs zeroed.
 *  - Writing uses wire_out_t over a caller-provided buffer, also with a
 *    sticky error (DN_ERANGE when the buffer is full).  Name compression on
 *    write is optional (wire_out_t.compress).
 *  - Names are held uncompressed in wire form in wire_name_t (<= 255 octets,
 *    labels <= 63, terminated by the root label).  Comparison is ASCII
 *    case-insensitive (RFC 4343).
 *  - Every function that returns int returns 0 or a negative DN_E* code
 *    (core/err.h); outputs are written only on success.
 */
#ifndef DANCED_CORE_WIRE_H
#define DANCED_CORE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_NAME_MAX 255      /* octets in wire form, root label included */
#define WIRE_LABEL_MAX 63
#define WIRE_NAME_TEXT_MAX 1024 /* enough for the longest escaped presentation form */
#define WIRE_HEADER_LEN 12
#define WIRE_MSG_MAX 65535

/* RR types */
enum {
    WIRE_T_A = 1, WIRE_T_NS = 2, WIRE_T_CNAME = 5, WIRE_T_SOA = 6, WIRE_T_PTR = 12,
    WIRE_T_MX = 15, WIRE_T_TXT = 16, WIRE_T_AAAA = 28, WIRE_T_SRV = 33, WIRE_T_NAPTR = 35,
    WIRE_T_DNAME = 39, WIRE_T_OPT = 41, WIRE_T_DS = 43, WIRE_T_RRSIG = 46, WIRE_T_NSEC = 47,
    WIRE_T_DNSKEY = 48, WIRE_T_NSEC3 = 50, WIRE_T_TLSA = 52, WIRE_T_SVCB = 64, WIRE_T_HTTPS = 65,
    WIRE_T_IXFR = 251, WIRE_T_AXFR = 252, WIRE_T_ANY = 255,
};
enum { WIRE_C_IN = 1, WIRE_C_CH = 3, WIRE_C_ANY = 255 };
enum { WIRE_OP_QUERY = 0, WIRE_OP_NOTIFY = 4, WIRE_OP_UPDATE = 5 };
enum {
    WIRE_RC_NOERROR = 0, WIRE_RC_FORMERR = 1, WIRE_RC_SERVFAIL = 2, WIRE_RC_NXDOMAIN = 3,
    WIRE_RC_NOTIMP = 4, WIRE_RC_REFUSED = 5, WIRE_RC_BADVERS = 16, /* extended, needs OPT */
};
/* EDNS option codes */
enum { WIRE_OPT_KEEPALIVE = 11, WIRE_OPT_PADDING = 12, WIRE_OPT_EDE = 15 };
/* Extended DNS Error info codes (RFC 8914) used by danced */
enum {
    WIRE_EDE_OTHER = 0, WIRE_EDE_DNSSEC_BOGUS = 6, WIRE_EDE_DNSKEY_MISSING = 9,
    WIRE_EDE_BLOCKED = 15, WIRE_EDE_CENSORED = 16, WIRE_EDE_FILTERED = 17, WIRE_EDE_PROHIBITED = 18,
    WIRE_EDE_NOT_READY = 14, WIRE_EDE_NO_REACHABLE_AUTHORITY = 22, WIRE_EDE_NETWORK_ERROR = 23,
};

/* Header flag bits, in the 16-bit flags word (host order). */
#define WIRE_F_QR 0x8000u
#define WIRE_F_AA 0x0400u
#define WIRE_F_TC 0x0200u
#define WIRE_F_RD 0x0100u
#define WIRE_F_RA 0x0080u
#define WIRE_F_AD 0x0020u
#define WIRE_F_CD 0x0010u
#define WIRE_OPCODE(flags) (((flags) >> 11) & 0xFu)
#define WIRE_RCODE(flags) ((flags) & 0xFu)

/* ---- read cursor ---- */
typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    int err; /* sticky: 0 or DN_E* */
} wire_cur_t;

void wire_cur_init(wire_cur_t *c, const uint8_t *buf, size_t len);
uint8_t wire_get_u8(wire_cur_t *c);
uint16_t wire_get_u16(wire_cur_t *c);
uint32_t wire_get_u32(wire_cur_t *c);
/* Copy n bytes to dst (dst may be NULL to skip). */
void wire_get_bytes(wire_cur_t *c, void *dst, size_t n);
static inline size_t wire_cur_left(const wire_cur_t *c) { return c->err ? 0 : c->len - c->pos; }

/* ---- names ---- */
typedef struct {
    uint8_t len;                  /* total octets in data, root label included (>= 1) */
    uint8_t labels;               /* number of labels, root excluded */
    uint8_t data[WIRE_NAME_MAX];
} wire_name_t;

/* Read a possibly compressed name at c->pos inside message c->buf (pointers are
 * offsets into c->buf, which must start at the DNS header).  Pointers must point
 * strictly backwards (prevents loops); at most 64 pointers are followed.  On
 * success c->pos is after the name's in-place bytes.  Errors: DN_ETRUNC,
 * DN_EFORMAT (bad label type, name > 255), DN_ELOOP. Sets c->err too. */
int wire_name_read(wire_cur_t *c, wire_name_t *out);

/* Presentation -> wire.  Accepts a trailing dot or not ("example.com" ==
 * "example.com."), "." is the root, \DDD and \X escapes.  Errors: DN_EFORMAT
 * (empty label, bad escape), DN_ERANGE (label > 63, name > 255). */
int wire_name_from_text(const char *text, wire_name_t *out);
/* Wire -> presentation with trailing dot ("example.com.", "." for root);
 * escapes non-printables as \DDD and ". \ ( ) ; @ $ \"" with a backslash.
 * Returns DN_ERANGE when cap is too small. */
int wire_name_to_text(const wire_name_t *name, char *buf, size_t cap);
/* Case-insensitive equality. */
bool wire_name_equal(const wire_name_t *a, const wire_name_t *b);
/* ASCII-lowercase in place. */
void wire_name_lower(wire_name_t *name);
/* True when name equals parent or is below it at a label boundary. */
bool wire_name_is_subdomain(const wire_name_t *name, const wire_name_t *parent);
/* Offset in name->data of the suffix that has `keep` labels (keep <= labels);
 * e.g. keep=2 on a.b.example.com gives the offset of example.com. */
size_t wire_name_suffix_offset(const wire_name_t *name, unsigned keep);
/* FNV-1a style hash of the lowercased name (stable, for hash tables). */
uint32_t wire_name_hash(const wire_name_t *name, uint32_t seed);

/* ---- message header ---- */
typedef struct {
    uint16_t id;
    uint16_t flags;
    uint16_t qdcount, ancount, nscount, arcount;
} wire_header_t;

int wire_header_read(wire_cur_t *c, wire_header_t *h);

/* ---- EDNS(0) ---- */
#define WIRE_EDE_TEXT_MAX 200
typedef struct {
    bool present;
    uint16_t udp_size;
    uint8_t ext_rcode;
    uint8_t version;
    bool do_bit;
    bool has_keepalive;     /* option 11 present in the query */
    bool has_padding;       /* option 12 present in the query */
    bool has_ede;           /* option 15 present (responses) */
    uint16_t keepalive;     /* value when has_keepalive and length 2 (responses) */
    uint16_t ede_code;      /* first EDE option seen */
    char ede_text[WIRE_EDE_TEXT_MAX + 1]; /* its EXTRA-TEXT, NUL-terminated, truncated */
} wire_edns_t;

/* ---- parsed query (server side) ----
 * wire_query_parse accepts a message with QR=0, QDCOUNT=1, any ANCOUNT/NSCOUNT
 * (skipped, RRs must be well formed), and at most one OPT in the additional
 * section (two OPTs -> DN_EFORMAT).  OPT owner must be the root.  Unknown
 * opcodes are NOT an error here: the caller answers NOTIMP.  Errors that
 * should produce FORMERR return DN_EFORMAT/DN_ETRUNC/DN_ELOOP; when at least
 * the 12-byte header could be read, q->header is valid even on error so that
 * the caller can echo the ID. */
typedef struct {
    wire_header_t header;
    wire_name_t qname;
    uint16_t qtype;
    uint16_t qclass;
    size_t question_end;  /* offset just after the question section */
    wire_edns_t edns;
    bool header_valid;
} wire_query_t;

int wire_query_parse(const uint8_t *msg, size_t len, wire_query_t *q);
/* Details (implementation notes, additive to the contract above):
 *  - q is always written, also on error: header_valid is false when fewer
 *    than 12 octets arrived; question_end != 0 (with qname/qtype/qclass set)
 *    when the question itself parsed even though a later part did not.
 *  - QR=1 is DN_EFORMAT (with header_valid); an OPT outside the additional
 *    section is DN_EFORMAT; a keepalive option with a value is DN_EFORMAT
 *    (RFC 7828: queries send it empty). */

/* ---- resource records in a whole message ---- */
typedef struct {
    wire_name_t owner;
    uint16_t type;
    uint16_t rclass;
    uint32_t ttl;
    size_t ttl_offset;   /* offset of the TTL field in the message */
    size_t rr_offset;    /* offset of the start of the RR (its owner name) */
    size_t rdata_offset; /* offset of RDATA */
    uint16_t rdlength;
    uint8_t section;     /* 0 question .. 3 additional (question entries have no ttl/rdata) */
} wire_rr_t;

/* Visit every RR (questions included, section 0) of a whole message in order.
 * The callback returns 0 to continue or a nonzero value to stop (returned as-is).
 * Validates names (with compression) and RDLENGTH bounds; trailing garbage
 * after the last record -> DN_EFORMAT. */
typedef int (*wire_rr_visit_cb)(const wire_rr_t *rr, void *arg);
int wire_msg_walk(const uint8_t *msg, size_t len, wire_rr_visit_cb cb, void *arg);

/* Summary of a response, used by the answer cache and the validator. */
typedef struct {
    wire_header_t header;
    uint32_t min_ttl;        /* min TTL over answer+authority+additional (OPT excluded); UINT32_MAX if none */
    uint32_t soa_min;        /* for negative caching: min(SOA TTL, SOA MINIMUM) of the authority SOA; UINT32_MAX if none */
    bool has_soa;
    size_t opt_rr_offset;    /* offset of the OPT RR, or 0 if none */
    size_t opt_rr_end;       /* end offset of the OPT RR */
    bool opt_is_last;        /* OPT is the last RR of the message */
    wire_edns_t edns;
} wire_msg_info_t;

int wire_msg_info(const uint8_t *msg, size_t len, wire_msg_info_t *info);
/* Details: a second OPT, an OPT outside the additional section or with a
 * non-root owner, malformed EDNS options or a malformed authority SOA are
 * DN_EFORMAT.  TTLs with the top bit set count as 0 (RFC 2181 §8). */

/* ---- RDATA ---- */
typedef struct {
    uint8_t usage, selector, mtype;
    const uint8_t *data; /* points into the caller's buffer */
    size_t data_len;
} wire_tlsa_t;
/* RDATA of TLSA: at least 3 octets; data may be empty only if len==3 (then DN_EFORMAT). */
int wire_rdata_tlsa(const uint8_t *rdata, size_t rdlen, wire_tlsa_t *out);

typedef struct {
    wire_name_t mname, rname;
    uint32_t serial, refresh, retry, expire, minimum;
} wire_soa_t;
/* SOA RDATA at msg[rdata_offset..+rdlen] (names may be compressed against msg). */
int wire_rdata_soa(const uint8_t *msg, size_t msglen, size_t rdata_offset, uint16_t rdlen, wire_soa_t *out);

/* Copy RDATA of an RR into out (cap bytes) with embedded names decompressed
 * (types NS, CNAME, PTR, DNAME, MX, SOA, SRV, RRSIG signer, NSEC next name kept
 * as is, others copied opaque).  Writes *out_len.  Validates that the typed
 * RDATA is consistent with rdlen (e.g. SOA has exactly 20 bytes after names,
 * A has 4, AAAA 16, DS >= 4, DNSKEY >= 4, RRSIG >= 18 + signer). */
int wire_rdata_canonical(const uint8_t *msg, size_t msglen, uint16_t type, size_t rdata_offset,
                         uint16_t rdlen, uint8_t *out, size_t cap, size_t *out_len);

/* ---- writer ---- */
#define WIRE_COMPRESS_SLOTS 64
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;       /* sticky: 0 or DN_ERANGE */
    bool compress; /* when true wire_put_name compresses against earlier names */
    uint16_t n_ptrs;
    uint16_t ptrs[WIRE_COMPRESS_SLOTS]; /* offsets of names written, for compression */
} wire_out_t;

void wire_out_init(wire_out_t *o, uint8_t *buf, size_t cap, bool compress);
void wire_put_u8(wire_out_t *o, uint8_t v);
void wire_put_u16(wire_out_t *o, uint16_t v);
void wire_put_u32(wire_out_t *o, uint32_t v);
void wire_put_bytes(wire_out_t *o, const void *src, size_t n);
/* Write a name, compressed against names written earlier through wire_put_name
 * when o->compress (only whole suffixes; pointers < 0x4000). */
void wire_put_name(wire_out_t *o, const wire_name_t *name);
/* (A malformed wire_name_t — labels not ending at len — sets err to
 * DN_EINVAL and writes nothing; a name that does not fit writes nothing.) */
void wire_put_header(wire_out_t *o, const wire_header_t *h);
/* Patch a u16 at an absolute offset (e.g. a count) — no-op if out of range. */
void wire_patch_u16(wire_out_t *o, size_t offset, uint16_t v);

/* Response OPT record to append.  ede_code < 0 means no EDE option. */
typedef struct {
    uint16_t udp_size;
    uint8_t ext_rcode;
    bool do_bit;
    int keepalive;         /* < 0: none; else value in units of 100 ms */
    int ede_code;          /* < 0: none */
    const char *ede_text;  /* may be NULL; truncated to WIRE_EDE_TEXT_MAX */
    size_t pad_block;      /* 0: no padding; else pad whole message to a multiple of it */
} wire_opt_spec_t;

/* Append an OPT RR to a message being built in o (whose ARCOUNT is at offset 10)
 * and increment ARCOUNT.  Padding (option 12) is sized so that the final
 * message length is a multiple of pad_block, if cap allows; it is computed
 * last, after keepalive and EDE. */
void wire_put_opt(wire_out_t *o, const wire_opt_spec_t *spec);

/* Build a complete response with no records: header echoing the query's ID,
 * opcode, RD and CD, QR set, RA set, given rcode; the question copied when
 * q->header.qdcount == 1 and the question parsed; an OPT (spec) when the query
 * had one or when spec->ede_code >= 0 (EDE needs OPT).  Returns length in
 * *out_len. */
int wire_build_empty_response(const uint8_t *query, size_t query_len, const wire_query_t *q,
                              uint8_t rcode, const wire_opt_spec_t *spec, bool include_opt,
                              uint8_t *out, size_t cap, size_t *out_len);
/* Details: the OPT is written when include_opt (normally q->edns.present),
 * when spec->ede_code >= 0, or when rcode > 15 (spec NULL then means UDP size
 * 1232 and no options); its ext_rcode is always rcode >> 4.  The question is
 * re-encoded from q (query/query_len are not read).  DN_EINVAL without a
 * valid header (nothing can be echoed: drop the message), DN_ERANGE when cap
 * is too small; out is scratch on error. */

#endif
