/* resolver/cache.h — the answer cache in front of libunbound.
 *
 * One cache per worker thread (no locks: a cache belongs to one loop).  Pure:
 * the caller passes the time; no I/O.  Memory is bounded by max_bytes, counting
 * entries, packets and the index; least-recently-used entries are evicted.
 *
 * What is stored: a DNS response body as it will be sent to clients of this key
 * (header + sections, WITHOUT an OPT record), plus a small `meta` word the
 * pipeline uses (e.g. "DNSSEC secure").  On lookup the packet is copied out with
 * every RR's TTL decreased by the whole seconds elapsed since it was stored.
 *
 * How long: positive answers live min(RR TTLs) clamped to [min_ttl, max_ttl];
 * negative answers (NXDOMAIN, or NOERROR with an empty answer section) live
 * min(SOA TTL, SOA MINIMUM) of the authority SOA (RFC 2308 §5) clamped to
 * negative_max_ttl, and are not cached at all without an SOA.  Other rcodes
 * (SERVFAIL, REFUSED, ...) are never cached.  A TTL of 0 is not cached.
 *
 * The key includes a view id so that, once views exist, an answer from a
 * private view is never served to a client that cannot see that view. */
#ifndef DANCED_RESOLVER_CACHE_H
#define DANCED_RESOLVER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

typedef struct cache cache_t;

#define CACHE_KEY_DO 0x01u /* client asked with DO */
#define CACHE_KEY_CD 0x02u /* client asked with CD */

typedef struct {
    uint32_t view;      /* 0 = the default view */
    wire_name_t qname;  /* compared case-insensitively */
    uint16_t qtype;
    uint16_t qclass;
    uint8_t flags;      /* CACHE_KEY_* */
} cache_key_t;

typedef struct {
    uint64_t max_bytes;
    uint32_t min_ttl;
    uint32_t max_ttl;
    uint32_t negative_max_ttl;
} cache_limits_t;

typedef struct {
    uint64_t entries;
    uint64_t bytes;
    uint64_t hits;
    uint64_t misses;
    uint64_t inserts;
    uint64_t evictions;   /* removed for space */
    uint64_t expired;     /* removed because their TTL ran out */
} cache_stats_t;

/* NULL on allocation failure. */
cache_t *cache_new(const cache_limits_t *limits);
void cache_free(cache_t *c);

/* Store (or replace) the response for key.  pkt must be a well-formed DNS
 * response without OPT.  now_ms is a monotonic clock in milliseconds.  Returns
 * 0 when stored, DN_ENOTFOUND when the response is not cacheable (rcode,
 * TTL 0, negative without SOA), DN_EFORMAT when pkt does not parse, DN_ERANGE
 * when it is larger than a quarter of max_bytes, DN_ENOMEM. */
int cache_store(cache_t *c, const cache_key_t *key, const uint8_t *pkt, size_t len, uint32_t meta,
                uint64_t now_ms);

/* Copy the live entry for key into out (cap bytes), TTLs decremented, and its
 * meta into *meta.  Returns 0, DN_ENOTFOUND (absent or expired: an expired
 * entry is removed), or DN_ERANGE when cap is too small. */
int cache_lookup(cache_t *c, const cache_key_t *key, uint64_t now_ms, uint8_t *out, size_t cap,
                 size_t *out_len, uint32_t *meta);

void cache_get_stats(const cache_t *c, cache_stats_t *out);

/* Details of the contracts above (resolver/cache.c):
 *  - Both calls also return DN_EINVAL for NULL arguments, a key with an empty
 *    qname or undefined flag bits; cache_store returns DN_EINVAL when pkt's
 *    question (QDCOUNT must be 1) is not key's qname/qtype/qclass
 *    (case-insensitive), since that would serve the wrong answer.
 *  - cache_store: DN_EFORMAT also for QR=0 or an OPT record; truncated (TC)
 *    answers and opcodes other than QUERY are DN_ENOTFOUND.  DN_ERANGE also
 *    when the entry plus the index could not fit in max_bytes at all.  On
 *    any error the cache is unchanged (an older entry for key stays).
 *  - TTLs: an RR TTL with the top bit set counts as 0 (RFC 2181 §8).  A
 *    positive answer whose minimum RR TTL is 0 is not cached even when
 *    min_ttl > 0.  min_ttl is not a floor for negative answers; a negative
 *    answer's lifetime is also bounded by its answer-section RRs (a CNAME
 *    chain ending in NXDOMAIN).  On lookup each RR's TTL is shown clamped to
 *    [min_ttl (positive only), entry lifetime] and then decreased by the
 *    whole seconds elapsed (never below 0), so clients never see a TTL that
 *    outlives the entry.
 *  - cache_lookup: DN_ERANGE leaves the entry, the LRU order and the stats
 *    untouched; meta may be NULL.  A clock earlier than the store time counts
 *    as no time elapsed.
 *  - stats.bytes counts the bucket array and, per entry, its struct, TTL
 *    offsets and packet (not malloc overhead); it never exceeds max_bytes
 *    (max_bytes >= 8).  A least-recently-used victim that had already expired
 *    is counted in stats.expired, not stats.evictions. */

#endif
