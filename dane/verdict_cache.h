/* dane/verdict_cache.h — DANE verdicts keyed by (identity, leaf SPKI SHA-256),
 * or by identity alone for failures that do not depend on the key (no TLSA,
 * bogus, insecure, lookup timeout).  Pure: the caller passes a monotonic
 * time in milliseconds; bounded by max_entries (oldest inserted evicted first).
 *
 * One instance in the validator thread (authoritative) and one per worker
 * (a replica filled from the verdicts the worker receives, so that a client
 * that reconnects is decided on its own loop without a thread hop).  An
 * instance belongs to one thread. */
#ifndef DANCED_DANE_VERDICT_CACHE_H
#define DANCED_DANE_VERDICT_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "dane/validator.h"

typedef struct verdict_cache verdict_cache_t;

typedef struct {
    dane_auth_outcome_t outcome;
    dane_why_t why;
    char detail[160];
    uint64_t expires_ms;
} verdict_t;

/* NULL on allocation failure; max_entries 0 = caching off (calls are no-ops). */
verdict_cache_t *verdict_cache_new(unsigned max_entries);
void verdict_cache_free(verdict_cache_t *vc);
/* The live verdict for (identity, spki), else the key-independent one for
 * identity; NULL when none (expired entries are removed). */
const verdict_t *verdict_cache_get(verdict_cache_t *vc, const char *identity, const uint8_t spki[32], uint64_t now_ms);
/* Only the key-independent verdict for identity. */
const verdict_t *verdict_cache_get_any(verdict_cache_t *vc, const char *identity, uint64_t now_ms);
/* Store (replace).  spki NULL = key-independent.  ttl_ms 0: not stored. */
void verdict_cache_put(verdict_cache_t *vc, const char *identity, const uint8_t *spki, dane_auth_outcome_t outcome,
                       dane_why_t why, const char *detail, uint64_t now_ms, uint64_t ttl_ms);
unsigned verdict_cache_size(const verdict_cache_t *vc);

#endif
