/* core/upstream.h — libunbound on a libuv loop (used by the resolver for
 * client recursion and by the DANE validator for TLSA lookups).
 *
 * One upstream_t wraps one ub_ctx in async mode whose fd is polled by the
 * owning loop; answers are delivered on that loop.  Every query has a
 * deadline; at the deadline the caller's callback runs with DN_ETIMEOUT and
 * the libunbound query is cancelled (or, if delivery is already under way,
 * its late answer is dropped).
 *
 * Callback contract (libuv style): upstream_resolve returns an error and never
 * calls the callback, or returns 0 and the callback runs exactly once — with
 * the answer, with DN_ETIMEOUT, with DN_EIO (libunbound error), or with
 * DN_ECLOSED when the query is cancelled by upstream_cancel (synchronously,
 * inside upstream_cancel) or by upstream_close.
 *
 * Threading: an upstream_t belongs to one loop. */
#ifndef DANCED_CORE_UPSTREAM_H
#define DANCED_CORE_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"

typedef struct upstream upstream_t;
typedef struct upstream_query upstream_query_t;

typedef struct {
    const uint8_t *packet; /* full DNS response as libunbound built it */
    size_t len;
    int rcode;
    bool secure;
    bool bogus;
    bool nxdomain;
    bool havedata;
    const char *why_bogus; /* may be NULL */
    uint32_t ttl;
} upstream_result_t;

/* res is valid only during the call (NULL unless err == 0). */
typedef void (*upstream_cb)(void *arg, int err, const upstream_result_t *res);

/* Create a context configured from rc (mode, stubs, trust anchors, sizes). */
int upstream_new(uv_loop_t *loop, const config_resolver_t *rc, upstream_t **out, char *err, size_t err_cap);
/* Start a lookup.  name in presentation form.  DN_ELIMIT when max in flight
 * is reached, DN_EIO on libunbound failure. */
int upstream_resolve(upstream_t *u, const char *name, uint16_t qtype, uint16_t qclass, uint32_t timeout_ms,
                     upstream_cb cb, void *arg, upstream_query_t **handle);
/* Cancel: the callback runs now with DN_ECLOSED. */
void upstream_cancel(upstream_query_t *q);
unsigned upstream_in_flight(const upstream_t *u);
/* Cancel everything (callbacks run with DN_ECLOSED), close the handles; the
 * context is destroyed once they are closed.  The loop must keep running. */
void upstream_close(upstream_t *u);

#endif
