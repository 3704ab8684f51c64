/* core/metrics.h — every counter and gauge of danced, in one place.
 *
 * Counters are monotonic and kept per thread (one writer each, relaxed atomic
 * stores, no locked instructions on the hot path); a reader sums the slots.
 * Gauges are process-wide atomics (current connections, lookups in flight...).
 * Until the Prometheus endpoint exists, metrics_dump writes them as text lines
 * "name value" (documented in docs/operations.md). */
#ifndef DANCED_CORE_METRICS_H
#define DANCED_CORE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define METRICS_COUNTERS(X)                                                         \
    X(conn_accepted) X(conn_closed) X(conn_limit_total) X(conn_limit_ip)            \
    X(conn_limit_prefix) X(conn_limit_handshakes) X(conn_shed_unauthenticated)      \
    X(accept_paused) X(handshake_ok) X(handshake_failed) X(handshake_timeout)       \
    X(tls_no_client_hello) X(first_query_timeout) X(idle_timeout) X(read_paused_output) \
    X(read_paused_inflight) X(frame_zero_length) X(queries) X(responses)            \
    X(rcode_noerror) X(rcode_formerr) X(rcode_servfail) X(rcode_nxdomain)           \
    X(rcode_notimp) X(rcode_refused) X(rcode_other) X(cache_hits) X(cache_misses)   \
    X(upstream_queries) X(upstream_timeout) X(upstream_error) X(dnssec_secure)      \
    X(dnssec_bogus) X(auth_anonymous) X(auth_ok) X(auth_refused)                    \
    X(auth_not_authenticated) X(auth_reason_no_cert) X(auth_reason_not_allowed)     \
    X(auth_reason_ambiguous) X(auth_reason_bad_name) X(auth_reason_bogus)           \
    X(auth_reason_insecure) X(auth_reason_no_tlsa) X(auth_reason_no_match)          \
    X(auth_reason_timeout) X(auth_reason_expired) X(auth_reason_bad_cert)           \
    X(auth_reason_queue_full) X(auth_reason_lookup_error) X(auth_reason_tls12)      \
    X(auth_reason_pkix) X(auth_reason_deadline) X(tlsa_lookups) X(tlsa_coalesced)   \
    X(tlsa_queued) X(verdict_cache_hits) X(verdict_cache_misses)                   \
    X(unserved_strikes) X(suspect_prefixes_flagged) X(handshake_throttled)          \
    X(handshake_throttle_timeout) X(handshake_good_address) X(config_reloads)      \
    X(config_reload_failed)

#define METRICS_GAUGES(X)                                                           \
    X(connections) X(handshakes) X(auth_pending) X(tlsa_in_flight) X(tlsa_queue_len) \
    X(upstream_in_flight) X(connections_peak) X(handshakes_peak) X(tlsa_in_flight_peak)    \
    X(tlsa_queue_len_peak) X(handshakes_waiting) X(handshakes_waiting_peak)

typedef enum {
#define METRICS_ENUM(name) M_##name,
    METRICS_COUNTERS(METRICS_ENUM)
#undef METRICS_ENUM
    M__COUNT
} metrics_counter_t;

typedef enum {
#define METRICS_ENUM(name) G_##name,
    METRICS_GAUGES(METRICS_ENUM)
#undef METRICS_ENUM
    G__COUNT
} metrics_gauge_t;

#define METRICS_MAX_THREADS 260

typedef struct {
    _Atomic uint64_t v[M__COUNT];
} metrics_slot_t;

extern metrics_slot_t metrics_slots[METRICS_MAX_THREADS];
extern _Atomic int64_t metrics_gauges[G__COUNT];
extern _Thread_local metrics_slot_t *metrics_self;

/* Give the calling thread its own counter slot (0 = main thread). */
void metrics_thread_init(unsigned slot);

static inline void metrics_inc(metrics_counter_t c)
{
    _Atomic uint64_t *p = &metrics_self->v[c];
    atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + 1, memory_order_relaxed);
}
static inline void metrics_add(metrics_counter_t c, uint64_t n)
{
    _Atomic uint64_t *p = &metrics_self->v[c];
    atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + n, memory_order_relaxed);
}
static inline int64_t metrics_gauge_add(metrics_gauge_t g, int64_t d)
{
    return atomic_fetch_add_explicit(&metrics_gauges[g], d, memory_order_relaxed) + d;
}
/* Raise a high-water-mark gauge to v if v is higher. */
static inline void metrics_gauge_peak(metrics_gauge_t g, int64_t v)
{
    int64_t cur = atomic_load_explicit(&metrics_gauges[g], memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(&metrics_gauges[g], &cur, v, memory_order_relaxed,
                                                              memory_order_relaxed)) {
    }
}
static inline int64_t metrics_gauge_get(metrics_gauge_t g)
{
    return atomic_load_explicit(&metrics_gauges[g], memory_order_relaxed);
}

uint64_t metrics_counter_total(metrics_counter_t c);
const char *metrics_counter_name(metrics_counter_t c);
const char *metrics_gauge_name(metrics_gauge_t g);
/* Write all counters then gauges, one "name value" per line. */
void metrics_dump(FILE *out);
/* Atomically replace `path` with a fresh dump (write temp + rename). */
int metrics_dump_file(const char *path);

#endif
