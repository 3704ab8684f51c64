/* resolver/reputation.c — two open-addressing tables: per-prefix failure
 * scores with a token bucket each, and per-address served/failed scores (for
 * addresses that have been served).  Entries are never deleted one by one:
 * when a table is full it is rebuilt without the entries that have decayed
 * away. */
#include "reputation.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PURGE_INTERVAL_MS 1000u

typedef struct {
    bool used;
    bool suspect;       /* prefixes */
    uint8_t family;
    uint8_t addr[16];   /* a prefix: /24 or /56, the rest zero; an address: all of it */
    uint64_t score_ms;  /* time of `score` and `served` */
    double score;       /* strikes, decaying */
    double served;      /* addresses: connections served, decaying */
    uint64_t tokens_ms; /* time of `tokens` */
    double tokens;
} rep_entry_t;

typedef struct {
    rep_entry_t *slots;
    size_t cap; /* power of two; grows with use, up to >= 2 * max (memory follows the sources seen) */
    size_t used;
    size_t max;
    uint64_t last_purge_ms;
    bool purged_once;
} rep_table_t;

struct reputation {
    bool off;
    rep_table_t prefixes;
    rep_table_t addresses; /* only addresses that were served: a flood of new addresses cannot fill it */
    double threshold;
    double rate_per_ms;
    double burst;
};

static void apply_limits(reputation_t *r, const reputation_limits_t *limits)
{
    uint32_t rate = limits->handshakes_per_second ? limits->handshakes_per_second : 1;
    r->off = limits->suspect_failures == 0;
    r->threshold = (double)limits->suspect_failures;
    r->rate_per_ms = (double)rate / 1000.0;
    /* A quarter second's worth at once: a suspect prefix cannot save up a
     * burst that would stall honest handshakes queued behind it. */
    r->burst = rate >= 4 ? (double)rate / 4.0 : 1.0;
}

#define TABLE_MIN_CAP 64

static bool table_init(rep_table_t *t, size_t max)
{
    t->max = max < 16 ? 16 : max;
    t->cap = TABLE_MIN_CAP;
    t->slots = calloc(t->cap, sizeof *t->slots);
    return t->slots != NULL;
}

static void table_clear(rep_table_t *t)
{
    rep_entry_t *small = calloc(TABLE_MIN_CAP, sizeof *small);
    if (small) { /* give the memory back */
        free(t->slots);
        t->slots = small;
        t->cap = TABLE_MIN_CAP;
    } else {
        memset(t->slots, 0, t->cap * sizeof *t->slots);
    }
    t->used = 0;
}

reputation_t *reputation_new(const reputation_limits_t *limits)
{
    if (!limits)
        return NULL;
    reputation_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (!table_init(&r->prefixes, limits->max_prefixes) || !table_init(&r->addresses, limits->max_prefixes)) {
        reputation_free(r);
        return NULL;
    }
    apply_limits(r, limits);
    return r;
}

void reputation_free(reputation_t *r)
{
    if (!r)
        return;
    free(r->prefixes.slots);
    free(r->addresses.slots);
    free(r);
}

static void make_key(const connlimit_addr_t *a, bool prefix, rep_entry_t *k)
{
    memset(k, 0, sizeof *k);
    k->family = a->family;
    size_t keep = a->family == AF_INET ? (prefix ? 3 : 4) : (prefix ? 7 : 16);
    memcpy(k->addr, a->addr, keep);
}

static size_t hash_key(const rep_entry_t *k)
{
    uint64_t h = 1469598103934665603ull ^ k->family;
    for (size_t i = 0; i < sizeof k->addr; i++) {
        h ^= k->addr[i];
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 31));
}

static bool same_key(const rep_entry_t *a, const rep_entry_t *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, sizeof a->addr) == 0;
}

static rep_entry_t *find(const rep_table_t *t, const rep_entry_t *k)
{
    size_t mask = t->cap - 1;
    for (size_t i = hash_key(k) & mask;; i = (i + 1) & mask) {
        rep_entry_t *e = &t->slots[i];
        if (!e->used)
            return NULL;
        if (same_key(e, k))
            return e;
    }
}

static rep_entry_t *place(rep_table_t *t, const rep_entry_t *e)
{
    size_t mask = t->cap - 1;
    size_t i = hash_key(e) & mask;
    while (t->slots[i].used)
        i = (i + 1) & mask;
    t->slots[i] = *e;
    t->slots[i].used = true;
    t->used++;
    return &t->slots[i];
}

/* Bring the scores to `now` (exponential decay) and end suspicion once the
 * strikes have decayed below half the threshold. */
static void decay(const reputation_t *r, rep_entry_t *e, uint64_t now_ms)
{
    if (now_ms > e->score_ms) {
        double halves = (double)(now_ms - e->score_ms) / (double)REPUTATION_HALF_LIFE_MS;
        double f = halves > 64 ? 0.0 : exp2(-halves);
        e->score *= f;
        e->served *= f;
        e->score_ms = now_ms;
    }
    if (e->suspect && e->score < r->threshold / 2)
        e->suspect = false;
}

static bool worth_keeping(const rep_entry_t *e)
{
    return e->suspect || e->score >= 1.0 || e->served >= 1.0;
}

/* Rebuild the table at capacity ncap, without the entries that no longer
 * matter when `drop` (a purge), or all of them (growth).  false: no memory
 * (the table is unchanged). */
static bool rebuild(const reputation_t *r, rep_table_t *t, size_t ncap, bool drop, uint64_t now_ms)
{
    rep_entry_t *old = t->slots;
    size_t old_cap = t->cap;
    rep_entry_t *fresh = calloc(ncap, sizeof *fresh);
    if (!fresh)
        return false;
    t->slots = fresh;
    t->cap = ncap;
    t->used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].used)
            continue;
        if (drop) {
            decay(r, &old[i], now_ms);
            if (!worth_keeping(&old[i]))
                continue;
        }
        (void)place(t, &old[i]);
    }
    free(old);
    return true;
}

static void purge(const reputation_t *r, rep_table_t *t, uint64_t now_ms)
{
    t->last_purge_ms = now_ms;
    t->purged_once = true;
    (void)rebuild(r, t, t->cap, true, now_ms);
}

/* The entry for key k, brought to now; inserted when absent and `create`
 * (NULL when the table is full of live entries). */
static rep_entry_t *lookup(const reputation_t *r, rep_table_t *t, const rep_entry_t *k, bool create,
                           uint64_t now_ms)
{
    rep_entry_t *e = find(t, k);
    if (!e) {
        if (!create)
            return NULL;
        if (t->used >= t->max && (!t->purged_once || now_ms - t->last_purge_ms >= PURGE_INTERVAL_MS))
            purge(r, t, now_ms);
        if (t->used >= t->max)
            return NULL;
        /* Keep the load at most one half. */
        if ((t->used + 1) * 2 > t->cap && !rebuild(r, t, t->cap * 2, false, now_ms))
            return NULL;
        rep_entry_t fresh = *k;
        fresh.score_ms = now_ms;
        e = place(t, &fresh);
    }
    decay(r, e, now_ms);
    return e;
}

static rep_entry_t *entry(reputation_t *r, const connlimit_addr_t *a, bool prefix, bool create, uint64_t now_ms)
{
    rep_entry_t k;
    make_key(a, prefix, &k);
    return lookup(r, prefix ? &r->prefixes : &r->addresses, &k, create, now_ms);
}

void reputation_set_limits(reputation_t *r, const reputation_limits_t *limits)
{
    if (!r)
        return;
    apply_limits(r, limits);
    if (r->off) {
        table_clear(&r->prefixes);
        table_clear(&r->addresses);
        return;
    }
    for (size_t i = 0; i < r->prefixes.cap; i++) {
        rep_entry_t *e = &r->prefixes.slots[i];
        if (!e->used)
            continue;
        if (e->suspect && e->tokens > r->burst)
            e->tokens = r->burst;
        if (!e->suspect && e->score >= r->threshold) {
            e->suspect = true; /* judged by the new threshold (decay comes at the next look) */
            e->tokens = 0.0;
            e->tokens_ms = e->score_ms;
        }
    }
}

bool reputation_strike(reputation_t *r, const connlimit_addr_t *a, uint64_t now_ms)
{
    if (!r || r->off)
        return false;
    /* An address that was served before keeps its own balance; others are
     * not added (see reputation.h: the address table holds served ones). */
    rep_entry_t *ae = entry(r, a, false, false, now_ms);
    if (ae)
        ae->score += 1.0;
    rep_entry_t *e = entry(r, a, true, true, now_ms);
    if (!e)
        return false; /* full of live prefixes: this one is not tracked */
    e->score += 1.0;
    if (!e->suspect && e->score >= r->threshold) {
        e->suspect = true;
        /* Start empty: the prefix is flooding right now. */
        e->tokens = 0.0;
        e->tokens_ms = now_ms;
        return true;
    }
    return false;
}

void reputation_served(reputation_t *r, const connlimit_addr_t *a, uint64_t now_ms)
{
    if (!r || r->off)
        return;
    rep_entry_t *ae = entry(r, a, false, true, now_ms);
    if (ae)
        ae->served += 1.0;
}

reputation_admit_t reputation_admit(reputation_t *r, const connlimit_addr_t *a, uint64_t now_ms)
{
    rep_entry_t *e = r && !r->off ? entry(r, a, true, false, now_ms) : NULL;
    if (!e || !e->suspect)
        return REPUTATION_ADMIT;
    /* Inside a suspect prefix, an address whose recent connections were
     * served more often than not goes ahead: a neighbour's flood does not
     * slow a returning honest client. */
    rep_entry_t *ae = entry(r, a, false, false, now_ms);
    if (ae && ae->served >= 1.0 && ae->served > ae->score)
        return REPUTATION_ADMIT_GOOD_ADDRESS;
    if (now_ms > e->tokens_ms) {
        e->tokens += (double)(now_ms - e->tokens_ms) * r->rate_per_ms;
        if (e->tokens > r->burst)
            e->tokens = r->burst;
        e->tokens_ms = now_ms;
    }
    if (e->tokens >= 1.0) {
        e->tokens -= 1.0;
        return REPUTATION_ADMIT_TOKEN;
    }
    return REPUTATION_WAIT;
}

bool reputation_is_suspect(reputation_t *r, const connlimit_addr_t *a, uint64_t now_ms)
{
    rep_entry_t *e = r && !r->off ? entry(r, a, true, false, now_ms) : NULL;
    return e && e->suspect;
}

size_t reputation_tracked(const reputation_t *r)
{
    return r ? r->prefixes.used : 0;
}

size_t reputation_tracked_addresses(const reputation_t *r)
{
    return r ? r->addresses.used : 0;
}

void reputation_prefix_text(const connlimit_addr_t *a, char *buf, size_t cap)
{
    uint8_t addr[16] = {0};
    char host[INET6_ADDRSTRLEN] = "?";
    if (a->family == AF_INET) {
        memcpy(addr, a->addr, 3);
        inet_ntop(AF_INET, addr, host, sizeof host);
        snprintf(buf, cap, "%s/24", host);
    } else {
        memcpy(addr, a->addr, 7);
        inet_ntop(AF_INET6, addr, host, sizeof host);
        snprintf(buf, cap, "%s/56", host);
    }
}
