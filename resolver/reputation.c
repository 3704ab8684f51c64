/* resolver/reputation.c — open-addressing table of per-prefix failure scores
 * with a token bucket each.  Entries are never deleted one by one: when the
 * table is full it is rebuilt without the entries that have decayed away. */
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
    bool suspect;
    uint8_t family;
    uint8_t prefix[7]; /* IPv4: 3 bytes (/24), IPv6: 7 bytes (/56) */
    uint64_t score_ms; /* time of `score` */
    double score;
    uint64_t tokens_ms; /* time of `tokens` */
    double tokens;
} rep_entry_t;

struct reputation {
    bool off;
    rep_entry_t *slots;
    size_t cap; /* power of two, >= 2 * max */
    size_t used;
    size_t max;
    double threshold;
    double rate_per_ms;
    double burst;
    uint64_t last_purge_ms;
    bool purged_once;
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

reputation_t *reputation_new(const reputation_limits_t *limits)
{
    if (!limits)
        return NULL;
    reputation_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->max = limits->max_prefixes < 16 ? 16 : limits->max_prefixes;
    r->cap = 32;
    while (r->cap < 2 * r->max)
        r->cap *= 2;
    r->slots = calloc(r->cap, sizeof *r->slots);
    if (!r->slots) {
        free(r);
        return NULL;
    }
    apply_limits(r, limits);
    return r;
}

void reputation_set_limits(reputation_t *r, const reputation_limits_t *limits)
{
    if (!r)
        return;
    apply_limits(r, limits);
    if (r->off) {
        memset(r->slots, 0, r->cap * sizeof *r->slots);
        r->used = 0;
        return;
    }
    for (size_t i = 0; i < r->cap; i++) {
        rep_entry_t *e = &r->slots[i];
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

void reputation_free(reputation_t *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}

static void make_key(const connlimit_addr_t *a, rep_entry_t *k)
{
    memset(k, 0, sizeof *k);
    k->family = a->family;
    memcpy(k->prefix, a->addr, a->family == AF_INET ? 3 : 7);
}

static size_t hash_key(const rep_entry_t *k)
{
    uint64_t h = 1469598103934665603ull ^ k->family;
    for (size_t i = 0; i < sizeof k->prefix; i++) {
        h ^= k->prefix[i];
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 31));
}

static bool same_key(const rep_entry_t *a, const rep_entry_t *b)
{
    return a->family == b->family && memcmp(a->prefix, b->prefix, sizeof a->prefix) == 0;
}

static rep_entry_t *find(const reputation_t *r, const rep_entry_t *k)
{
    size_t mask = r->cap - 1;
    for (size_t i = hash_key(k) & mask;; i = (i + 1) & mask) {
        rep_entry_t *e = &r->slots[i];
        if (!e->used)
            return NULL;
        if (same_key(e, k))
            return e;
    }
}

static rep_entry_t *place(reputation_t *r, const rep_entry_t *e)
{
    size_t mask = r->cap - 1;
    size_t i = hash_key(e) & mask;
    while (r->slots[i].used)
        i = (i + 1) & mask;
    r->slots[i] = *e;
    r->slots[i].used = true;
    r->used++;
    return &r->slots[i];
}

/* Bring the score to `now` (exponential decay) and end suspicion once it
 * has decayed below half the threshold. */
static void decay(const reputation_t *r, rep_entry_t *e, uint64_t now_ms)
{
    if (now_ms > e->score_ms) {
        double halves = (double)(now_ms - e->score_ms) / (double)REPUTATION_HALF_LIFE_MS;
        e->score = halves > 64 ? 0.0 : e->score * exp2(-halves);
        e->score_ms = now_ms;
    }
    if (e->suspect && e->score < r->threshold / 2)
        e->suspect = false;
}

/* Rebuild the table without entries that no longer matter. */
static void purge(reputation_t *r, uint64_t now_ms)
{
    rep_entry_t *old = r->slots;
    size_t n = r->cap;
    rep_entry_t *fresh = calloc(n, sizeof *fresh);
    r->last_purge_ms = now_ms;
    r->purged_once = true;
    if (!fresh)
        return;
    r->slots = fresh;
    r->used = 0;
    for (size_t i = 0; i < n; i++) {
        if (!old[i].used)
            continue;
        decay(r, &old[i], now_ms);
        if (old[i].suspect || old[i].score >= 1.0)
            (void)place(r, &old[i]);
    }
    free(old);
}

bool reputation_strike(reputation_t *r, const connlimit_addr_t *a, uint64_t now_ms)
{
    if (!r || r->off)
        return false;
    rep_entry_t k;
    make_key(a, &k);
    rep_entry_t *e = find(r, &k);
    if (!e) {
        if (r->used >= r->max && (!r->purged_once || now_ms - r->last_purge_ms >= PURGE_INTERVAL_MS))
            purge(r, now_ms);
        if (r->used >= r->max)
            return false; /* full of live prefixes: this one is not tracked */
        k.score_ms = now_ms;
        e = place(r, &k);
    }
    decay(r, e, now_ms);
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

/* The entry of a's prefix brought to now, or NULL when not tracked. */
static rep_entry_t *current(reputation_t *r, const connlimit_addr_t *a, uint64_t now_ms)
{
    rep_entry_t k;
    make_key(a, &k);
    rep_entry_t *e = find(r, &k);
    if (e)
        decay(r, e, now_ms);
    return e;
}

reputation_admit_t reputation_admit(reputation_t *r, const connlimit_addr_t *a, uint64_t now_ms)
{
    rep_entry_t *e = r && !r->off ? current(r, a, now_ms) : NULL;
    if (!e || !e->suspect)
        return REPUTATION_ADMIT;
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
    rep_entry_t *e = r && !r->off ? current(r, a, now_ms) : NULL;
    return e && e->suspect;
}

size_t reputation_tracked(const reputation_t *r)
{
    return r ? r->used : 0;
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
