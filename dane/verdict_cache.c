/* dane/verdict_cache.c — chained hash + insertion-order list.  See the header. */
#include "verdict_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VC_BUCKETS 4096

typedef struct vc_entry {
    struct vc_entry *hnext;
    struct vc_entry *older, *newer;
    char identity[256];
    uint8_t spki[32];
    bool any_key;
    verdict_t v;
} vc_entry_t;

struct verdict_cache {
    unsigned max_entries;
    unsigned entries;
    vc_entry_t *oldest, *newest;
    vc_entry_t *buckets[VC_BUCKETS];
};

static uint32_t hash_identity(const char *id)
{
    uint32_t h = 2166136261u;
    for (const char *p = id; *p; p++) {
        h ^= (uint8_t)*p;
        h *= 16777619u;
    }
    return h;
}

verdict_cache_t *verdict_cache_new(unsigned max_entries)
{
    verdict_cache_t *vc = calloc(1, sizeof *vc);
    if (vc)
        vc->max_entries = max_entries;
    return vc;
}

static void unlink_entry(verdict_cache_t *vc, vc_entry_t *e)
{
    vc_entry_t **pp = &vc->buckets[hash_identity(e->identity) % VC_BUCKETS];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    if (e->older)
        e->older->newer = e->newer;
    else
        vc->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        vc->newest = e->older;
    vc->entries--;
    free(e);
}

void verdict_cache_free(verdict_cache_t *vc)
{
    if (!vc)
        return;
    while (vc->oldest)
        unlink_entry(vc, vc->oldest);
    free(vc);
}

static vc_entry_t *find(verdict_cache_t *vc, const char *id, const uint8_t *spki, uint64_t now_ms)
{
    bool any_key = spki == NULL;
    vc_entry_t *e = vc->buckets[hash_identity(id) % VC_BUCKETS];
    while (e) {
        vc_entry_t *next = e->hnext;
        if (e->any_key == any_key && strcmp(e->identity, id) == 0 && (any_key || memcmp(e->spki, spki, 32) == 0)) {
            if (e->v.expires_ms <= now_ms) {
                unlink_entry(vc, e);
                return NULL;
            }
            return e;
        }
        e = next;
    }
    return NULL;
}

const verdict_t *verdict_cache_get(verdict_cache_t *vc, const char *identity, const uint8_t spki[32], uint64_t now_ms)
{
    vc_entry_t *e = find(vc, identity, spki, now_ms);
    if (!e)
        e = find(vc, identity, NULL, now_ms);
    return e ? &e->v : NULL;
}

const verdict_t *verdict_cache_get_any(verdict_cache_t *vc, const char *identity, uint64_t now_ms)
{
    vc_entry_t *e = find(vc, identity, NULL, now_ms);
    return e ? &e->v : NULL;
}

void verdict_cache_put(verdict_cache_t *vc, const char *identity, const uint8_t *spki, dane_auth_outcome_t outcome,
                       dane_why_t why, const char *detail, uint64_t now_ms, uint64_t ttl_ms)
{
    if (ttl_ms == 0 || vc->max_entries == 0 || strlen(identity) >= sizeof(((vc_entry_t *)0)->identity))
        return;
    vc_entry_t *old = find(vc, identity, spki, now_ms);
    if (old)
        unlink_entry(vc, old);
    while (vc->entries >= vc->max_entries && vc->oldest)
        unlink_entry(vc, vc->oldest);
    vc_entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return;
    snprintf(e->identity, sizeof e->identity, "%s", identity);
    e->any_key = spki == NULL;
    if (spki)
        memcpy(e->spki, spki, 32);
    e->v.outcome = outcome;
    e->v.why = why;
    snprintf(e->v.detail, sizeof e->v.detail, "%s", detail ? detail : "");
    e->v.expires_ms = now_ms + ttl_ms;
    uint32_t b = hash_identity(identity) % VC_BUCKETS;
    e->hnext = vc->buckets[b];
    vc->buckets[b] = e;
    e->older = vc->newest;
    if (vc->newest)
        vc->newest->newer = e;
    else
        vc->oldest = e;
    vc->newest = e;
    vc->entries++;
}

unsigned verdict_cache_size(const verdict_cache_t *vc)
{
    return vc->entries;
}
