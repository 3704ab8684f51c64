/* resolver/cache.c — the answer cache (contract in cache.h).
 *
 * Layout: open hashing over a power-of-two bucket array (singly linked chains)
 * plus an intrusive doubly linked LRU list (head = most recently used).  Each
 * entry is ONE allocation: the header struct, then the TTL field offsets of
 * every RR (computed once at store time with wire_msg_walk), then the packet.
 * The stored packet is never modified; lookups copy it out and rewrite the
 * TTL fields of the copy.
 *
 * Memory accounting (stats.bytes) is exact for what this module allocates:
 * the bucket array plus, per entry, sizeof(entry) + offsets + packet (malloc
 * overhead is not counted).  The invariant stats.bytes <= max_bytes holds
 * after every call as long as the initial bucket array fits (max_bytes >= 8).
 *
 * Hashing: wire_name_hash(qname, seed) with a per-cache random seed from
 * getrandom(2), then mixed with view, qtype, qclass and flags.  The seed makes
 * bucket placement unpredictable to clients choosing qnames (hash flooding);
 * chains stay short because the array doubles at load factor 1.  If getrandom
 * is unavailable the seed falls back to a mix of the cache's address (ASLR)
 * and a constant: weaker, but still not a fixed public value. */
#include "resolver/cache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/err.h"

/* RFC 2181 §8: a TTL with the most significant bit set is treated as zero. */
#define CACHE_TTL_MAX_VALID 0x7FFFFFFFu
#define CACHE_INITIAL_BUCKETS 16u

typedef struct cache_entry {
    struct cache_entry *hnext;            /* bucket chain */
    struct cache_entry *lru_prev, *lru_next;
    uint32_t hash;
    uint32_t meta;
    cache_key_t key;
    uint64_t stored_ms;
    uint64_t expire_ms;                   /* stored_ms + ttl * 1000 */
    uint64_t bytes;                       /* accounted size of this entry */
    uint32_t ttl_lo;                      /* every RR's TTL is shown clamped to [ttl_lo, ttl_hi] */
    uint32_t ttl_hi;                      /* == the entry's lifetime in seconds */
    uint16_t pkt_len;
    uint16_t n_ttl;
    uint16_t ttl_off[];                   /* n_ttl offsets, then pkt_len packet bytes */
} cache_entry_t;

struct cache {
    cache_limits_t lim;
    uint32_t seed;
    size_t nbuckets;                      /* power of two */
    cache_entry_t **buckets;
    cache_entry_t *lru_head, *lru_tail;
    cache_stats_t st;                     /* entries and bytes are kept live here */
};

static uint8_t *entry_pkt(cache_entry_t *e) { return (uint8_t *)(e->ttl_off + e->n_ttl); }
static const uint8_t *entry_pkt_c(const cache_entry_t *e) { return (const uint8_t *)(e->ttl_off + e->n_ttl); }

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void wr_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* splitmix64 finaliser: spreads every input bit over the low bits used as the
 * bucket index, so keys differing only in qtype/view/flags do not collide. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint32_t key_hash(const cache_t *c, const cache_key_t *k)
{
    uint64_t x = (uint64_t)wire_name_hash(&k->qname, c->seed) << 32;
    x ^= (uint64_t)k->qtype << 16 | k->qclass;
    x = mix64(x ^ c->seed);
    x ^= (uint64_t)k->view << 8 | k->flags;
    return (uint32_t)(mix64(x) >> 32);
}

static bool key_equal(const cache_key_t *a, const cache_key_t *b)
{
    return a->view == b->view && a->qtype == b->qtype && a->qclass == b->qclass &&
           a->flags == b->flags && wire_name_equal(&a->qname, &b->qname);
}

/* A key is usable when its name is a plausible wire name (at least the root
 * label) and only defined flag bits are set. */
static bool key_valid(const cache_key_t *k)
{
    return k->qname.len >= 1 && (k->flags & ~(CACHE_KEY_DO | CACHE_KEY_CD)) == 0;
}

cache_t *cache_new(const cache_limits_t *limits)
{
    if (!limits)
        return NULL;
    cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->lim = *limits;
    if (getrandom(&c->seed, sizeof c->seed, GRND_NONBLOCK) != (ssize_t)sizeof c->seed)
        c->seed = (uint32_t)mix64((uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15ull);
    /* Keep the index within a quarter of the budget (but at least one
     * bucket) so that tiny budgets still leave room for entries. */
    size_t nb = CACHE_INITIAL_BUCKETS;
    while (nb > 1 && (uint64_t)nb * sizeof(cache_entry_t *) > c->lim.max_bytes / 4)
        nb /= 2;
    c->buckets = calloc(nb, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->nbuckets = nb;
    c->st.bytes = (uint64_t)nb * sizeof *c->buckets;
    return c;
}

void cache_free(cache_t *c)
{
    if (!c)
        return;
    cache_entry_t *e = c->lru_head;
    while (e) {
        cache_entry_t *next = e->lru_next;
        free(e);
        e = next;
    }
    free(c->buckets);
    free(c);
}

static cache_entry_t *find(const cache_t *c, const cache_key_t *k, uint32_t h)
{
    for (cache_entry_t *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && key_equal(&e->key, k))
            return e;
    return NULL;
}

static void lru_unlink(cache_t *c, cache_entry_t *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        c->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(cache_t *c, cache_entry_t *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = e;
    else
        c->lru_tail = e;
    c->lru_head = e;
}

/* Unlink e from its chain and the LRU list, fix the accounting, free it. */
static void remove_entry(cache_t *c, cache_entry_t *e)
{
    cache_entry_t **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(c, e);
    c->st.entries--;
    c->st.bytes -= e->bytes;
    free(e);
}

/* Double the bucket array.  Best effort: on allocation failure the cache keeps
 * working with longer chains. */
static void grow(cache_t *c)
{
    size_t nb = c->nbuckets * 2;
    cache_entry_t **nbk = calloc(nb, sizeof *nbk);
    if (!nbk)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        cache_entry_t *e = c->buckets[i];
        while (e) {
            cache_entry_t *next = e->hnext;
            size_t j = e->hash & (nb - 1);
            e->hnext = nbk[j];
            nbk[j] = e;
            e = next;
        }
    }
    free(c->buckets);
    c->st.bytes += (uint64_t)(nb - c->nbuckets) * sizeof *nbk;
    c->buckets = nbk;
    c->nbuckets = nb;
}

/* ---- store ---- */

typedef struct {
    uint16_t *off;        /* where to write TTL offsets */
    size_t cap;           /* room in off[] */
    size_t n;
    uint32_t min_all;     /* min TTL over sections 1..3, MSB-set TTLs counted as 0 */
    uint32_t min_answer;  /* same over the answer section only */
    const wire_name_t *qname;
    uint16_t qtype, qclass;
    bool question_ok;
} cache_walk_t;

enum { CACHE_WALK_BAD = 1 }; /* stop value: the message is not acceptable */

static int store_visit(const wire_rr_t *rr, void *arg)
{
    cache_walk_t *w = arg;
    if (rr->section == 0) {
        /* The stored answer must be the answer to this key's question;
         * anything else is a caller bug that would serve wrong data. */
        w->question_ok = rr->type == w->qtype && rr->rclass == w->qclass &&
                         wire_name_equal(&rr->owner, w->qname);
        return 0;
    }
    if (rr->type == WIRE_T_OPT || w->n >= w->cap || rr->ttl_offset > UINT16_MAX - 4)
        return CACHE_WALK_BAD;
    w->off[w->n++] = (uint16_t)rr->ttl_offset;
    uint32_t ttl = rr->ttl > CACHE_TTL_MAX_VALID ? 0 : rr->ttl;
    if (ttl < w->min_all)
        w->min_all = ttl;
    if (rr->section == 1 && ttl < w->min_answer)
        w->min_answer = ttl;
    return 0;
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

int cache_store(cache_t *c, const cache_key_t *key, const uint8_t *pkt, size_t len, uint32_t meta,
                uint64_t now_ms)
{
    if (!c || !key || (!pkt && len) || !key_valid(key))
        return DN_EINVAL;
    if (len > c->lim.max_bytes / 4 || len > WIRE_MSG_MAX)
        return DN_ERANGE;
    if (len < WIRE_HEADER_LEN)
        return DN_EFORMAT;
    wire_msg_info_t info;
    if (wire_msg_info(pkt, len, &info) != 0)
        return DN_EFORMAT;
    const wire_header_t *h = &info.header;
    if (info.opt_rr_offset != 0 || !(h->flags & WIRE_F_QR))
        return DN_EFORMAT;
    if (h->qdcount != 1)
        return DN_EINVAL; /* cannot be the answer to key's question */
    unsigned rcode = WIRE_RCODE(h->flags);
    /* Truncated answers are incomplete and other opcodes are not answers to
     * a lookup: neither is cacheable. */
    if (WIRE_OPCODE(h->flags) != WIRE_OP_QUERY || (h->flags & WIRE_F_TC) ||
        (rcode != WIRE_RC_NOERROR && rcode != WIRE_RC_NXDOMAIN))
        return DN_ENOTFOUND;

    size_t n_rr = (size_t)h->ancount + h->nscount + h->arcount;
    /* Every RR takes at least 11 octets, so a parsed message bounds n_rr; the
     * check guards the uint16_t count against a lying wire_msg_info. */
    if (n_rr > len / 11)
        return DN_EFORMAT;
    uint64_t bytes = sizeof(cache_entry_t) + n_rr * sizeof(uint16_t) + len;
    if (bytes + (uint64_t)c->nbuckets * sizeof *c->buckets > c->lim.max_bytes)
        return DN_ERANGE;
    cache_entry_t *e = malloc((size_t)bytes);
    if (!e)
        return DN_ENOMEM;
    cache_walk_t w = {
        .off = e->ttl_off, .cap = n_rr, .min_all = UINT32_MAX, .min_answer = UINT32_MAX,
        .qname = &key->qname, .qtype = key->qtype, .qclass = key->qclass,
    };
    int rc = wire_msg_walk(pkt, len, store_visit, &w);
    if (rc != 0 || w.n != n_rr) {
        free(e);
        return DN_EFORMAT;
    }
    if (!w.question_ok) {
        free(e);
        return DN_EINVAL;
    }

    /* Lifetime (cache.h).  Negative: min(SOA TTL, MINIMUM) per RFC 2308 §5,
     * also bounded by any answer-section RR (a CNAME chain before the
     * NXDOMAIN must not outlive its own TTL), capped, no floor.  Positive:
     * min RR TTL clamped to [min_ttl, max_ttl]; a raw minimum of 0 means
     * "do not cache" and is not lifted by min_ttl. */
    uint32_t ttl, lo;
    bool negative = rcode == WIRE_RC_NXDOMAIN || h->ancount == 0;
    if (negative) {
        if (!info.has_soa) {
            free(e);
            return DN_ENOTFOUND;
        }
        uint32_t soa = info.soa_min > CACHE_TTL_MAX_VALID ? 0 : info.soa_min;
        ttl = min_u32(min_u32(soa, w.min_answer), c->lim.negative_max_ttl);
        lo = 0;
    } else {
        ttl = w.min_all;
        if (ttl != 0) {
            if (ttl < c->lim.min_ttl)
                ttl = c->lim.min_ttl;
            if (ttl > c->lim.max_ttl)
                ttl = c->lim.max_ttl;
        }
        lo = c->lim.min_ttl;
    }
    if (ttl == 0) {
        free(e);
        return DN_ENOTFOUND;
    }

    e->hnext = e->lru_prev = e->lru_next = NULL;
    e->hash = key_hash(c, key);
    e->meta = meta;
    e->key = *key;
    e->stored_ms = now_ms;
    e->expire_ms = now_ms + (uint64_t)ttl * 1000u;
    e->bytes = bytes;
    e->ttl_lo = lo;
    e->ttl_hi = ttl;
    e->pkt_len = (uint16_t)len;
    e->n_ttl = (uint16_t)n_rr;
    memcpy(entry_pkt(e), pkt, len);

    /* Commit.  From here nothing fails: replace, maybe grow the index, evict
     * least recently used entries until the new one fits, insert. */
    cache_entry_t *old = find(c, key, e->hash);
    if (old)
        remove_entry(c, old);
    uint64_t grown = (uint64_t)c->nbuckets * 2 * sizeof *c->buckets;
    if (c->st.entries + 1 > c->nbuckets && grown <= c->lim.max_bytes / 4 &&
        e->bytes + grown <= c->lim.max_bytes)
        grow(c);
    /* Both the fit check above and the growth condition guarantee that the
     * index plus this entry alone fit, so evicting terminates with room. */
    while (c->lru_tail && c->st.bytes + e->bytes > c->lim.max_bytes) {
        cache_entry_t *victim = c->lru_tail;
        if (now_ms >= victim->expire_ms)
            c->st.expired++;
        else
            c->st.evictions++;
        remove_entry(c, victim);
    }
    size_t b = e->hash & (c->nbuckets - 1);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    lru_push_front(c, e);
    c->st.entries++;
    c->st.bytes += e->bytes;
    c->st.inserts++;
    return DN_OK;
}

/* ---- lookup ---- */

int cache_lookup(cache_t *c, const cache_key_t *key, uint64_t now_ms, uint8_t *out, size_t cap,
                 size_t *out_len, uint32_t *meta)
{
    if (!c || !key || !out_len || (!out && cap) || !key_valid(key))
        return DN_EINVAL;
    uint32_t h = key_hash(c, key);
    cache_entry_t *e = find(c, key, h);
    if (!e) {
        c->st.misses++;
        return DN_ENOTFOUND;
    }
    if (now_ms >= e->expire_ms) {
        remove_entry(c, e);
        c->st.expired++;
        c->st.misses++;
        return DN_ENOTFOUND;
    }
    /* A too-small buffer is the caller's problem, not a cache miss: no stats,
     * no LRU change. */
    if (cap < e->pkt_len)
        return DN_ERANGE;

    /* A clock that went backwards (it should not: monotonic) counts as no
     * time elapsed rather than wrapping. */
    uint64_t elapsed64 = now_ms > e->stored_ms ? (now_ms - e->stored_ms) / 1000u : 0;
    uint32_t elapsed = elapsed64 > UINT32_MAX ? UINT32_MAX : (uint32_t)elapsed64;
    const uint8_t *src = entry_pkt_c(e);
    memcpy(out, src, e->pkt_len);
    for (uint16_t i = 0; i < e->n_ttl; i++) {
        uint32_t t = rd_u32(src + e->ttl_off[i]);
        if (t > CACHE_TTL_MAX_VALID)
            t = 0;
        if (t < e->ttl_lo)
            t = e->ttl_lo;
        if (t > e->ttl_hi)
            t = e->ttl_hi;
        wr_u32(out + e->ttl_off[i], t > elapsed ? t - elapsed : 0);
    }
    lru_unlink(c, e);
    lru_push_front(c, e);
    c->st.hits++;
    *out_len = e->pkt_len;
    if (meta)
        *meta = e->meta;
    return DN_OK;
}

void cache_get_stats(const cache_t *c, cache_stats_t *out)
{
    if (!out)
        return;
    if (!c) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = c->st;
}
