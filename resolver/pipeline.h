/* resolver/pipeline.h — the pure steps of answering one query: classify the
 * query, turn an upstream or cached response body into the client's
 * response, and build error responses.  No I/O, no state. */
#ifndef DANCED_RESOLVER_PIPELINE_H
#define DANCED_RESOLVER_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

/* What the pipeline keeps of a query while its answer is pending. */
typedef struct {
    uint16_t id;
    uint16_t flags;             /* query header flags */
    wire_name_t qname;          /* as sent (case preserved) */
    uint16_t qtype, qclass;
    uint16_t question_len;      /* question bytes as sent, for echoing */
    uint8_t question[WIRE_NAME_MAX + 4];
    bool has_edns;
    bool do_bit;
    bool want_padding;          /* the query carried option 12 */
    bool want_keepalive;        /* the query carried option 11 */
} query_info_t;

/* What to do with a query before any lookup. */
typedef enum {
    PIPELINE_LOOKUP = 0,   /* go on: cache, then upstream */
    PIPELINE_FORMERR,
    PIPELINE_NOTIMP,
    PIPELINE_REFUSED_XFR,  /* AXFR/IXFR on a resolver listener */
    PIPELINE_REFUSED_CLASS,
    PIPELINE_BADVERS,
    PIPELINE_DROP,         /* not even a header: close */
} pipeline_action_t;

/* Parse and classify.  On any action but DROP, *qi is filled as far as the
 * query could be parsed (enough to answer). */
pipeline_action_t pipeline_classify(const uint8_t *msg, size_t len, query_info_t *qi);

/* Per-response options decided by the session. */
typedef struct {
    int keepalive_100ms;   /* < 0: do not send; sent only when the query asked */
    int ede_code;          /* < 0: none */
    const char *ede_text;
} pipeline_resp_opts_t;

#define PIPELINE_PAD_BLOCK 468
#define PIPELINE_EDNS_UDP 1232

/* Prepare an upstream packet for caching/serving: drop any OPT record and,
 * when !do_bit, the DNSSEC records the client did not ask for (RRSIG, NSEC,
 * NSEC3 unless they are the qtype).  Output has no OPT. */
int pipeline_prepare_body(const uint8_t *pkt, size_t len, bool do_bit, uint16_t qtype, uint8_t *out, size_t cap,
                          size_t *out_len);

/* The client's response from a prepared body: the client's ID and question
 * bytes, QR RA, RD and CD echoed, AD when secure and the client asked with DO
 * or AD, then an OPT when the query had one (padding when asked, keepalive,
 * EDE). */
int pipeline_finish(const query_info_t *qi, const uint8_t *body, size_t body_len, bool secure,
                    const pipeline_resp_opts_t *ro, uint8_t *out, size_t cap, size_t *out_len);

/* A response with no records and the given rcode (extended rcodes through
 * OPT).  An OPT is added when the query had one or when EDE is given. */
int pipeline_error(const query_info_t *qi, int rcode, const pipeline_resp_opts_t *ro, uint8_t *out, size_t cap,
                   size_t *out_len);

#endif
