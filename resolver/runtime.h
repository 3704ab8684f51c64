/* resolver/runtime.h — the part of the configuration that a reload (SIGHUP)
 * replaces while connections stay up: the limits, and each listener's TLS
 * context (certificate and key).  Everything else in config_t needs a restart
 * (config_restart_changes names it).
 *
 * Sharing: the server holds one reference to the current runtime; a session
 * takes one when it is accepted (under srv->limit_lock, the lock under which
 * the server swaps the pointer) and drops it when it closes.  A runtime, and
 * the TLS contexts in it, is freed with its last reference: connections
 * accepted before a reload keep the certificate and the limits they started
 * with, and no TLS context is freed under a live connection. */
#ifndef DANCED_RESOLVER_RUNTIME_H
#define DANCED_RESOLVER_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>

#include "core/config.h"
#include "core/tls.h"

typedef struct runtime {
    atomic_uint refs;
    unsigned generation;     /* 1 at start, +1 per applied reload */
    config_limits_t limits;  /* suspect_exempt is owned here */
    unsigned n_listeners;
    tls_ctx_t **tls;         /* by listener index (the running listener set) */
} runtime_t;

/* Limits from `next`; for each listener of `running`, a TLS context with
 * running's settings (client-auth, versions, tickets) and the certificate
 * and key that `next` gives the listener of the same name (running's own
 * files, read again, when `next` has no such listener).  At start both are
 * the same config.  NULL with a message in err (certificate or key that does
 * not load, out of memory); refs is 1 on success. */
runtime_t *runtime_new(const config_t *running, const config_t *next, unsigned generation, char *err,
                       size_t err_cap);
void runtime_ref(runtime_t *rt);
/* Any thread; frees on the last reference. */
void runtime_unref(runtime_t *rt);

#endif
