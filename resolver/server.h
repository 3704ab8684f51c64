/* resolver/server.h — the daemon's runtime: the server (process-wide, read
 * mostly), its workers (one thread + loop each) and DoT sessions.
 *
 * Threads: main (signals, counters file), N workers (accept, TLS, queries,
 * their own libunbound context and answer cache), and the DANE validator
 * thread (dane/validator.h) that all workers hand authentications to.
 * Objects belong to one loop; work crosses threads only through uv_async_t. */
#ifndef DANCED_RESOLVER_SERVER_H
#define DANCED_RESOLVER_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "core/stream.h"
#include "core/tls.h"
#include "dane/validator.h"
#include "dane/verdict_cache.h"
#include "resolver/cache.h"
#include "resolver/connlimit.h"
#include "resolver/pipeline.h"
#include "resolver/reputation.h"
#include "resolver/runtime.h"
#include "core/upstream.h"

typedef struct server server_t;
typedef struct worker worker_t;
typedef struct session session_t;

typedef struct {
    const config_listener_t *cfg; /* the listener as started; its TLS context is in server.rt */
    unsigned index;
} listener_rt_t;

typedef struct {
    uv_tcp_t tcp;
    worker_t *w;
    listener_rt_t *lst;
    bool accept_paused; /* at the connection cap: libuv holds one pending fd */
} worker_listener_t;

struct worker {
    server_t *srv;
    unsigned id;
    uv_thread_t thread;
    uv_loop_t loop;
    stream_loop_t sl;
    uv_async_t wakeup;         /* stop request, validator results */
    uv_timer_t accept_retry;   /* while a listener is paused at the connection cap */
    uv_timer_t admit_tick;     /* while sessions of suspect prefixes wait for a handshake token */
    session_t *waiting_head, *waiting_tail; /* those sessions, oldest first */
    worker_listener_t *listeners;
    unsigned n_listeners;
    upstream_t *up;
    cache_t *cache;
    verdict_cache_t *vcache;   /* replica of verdicts this worker received: reconnects skip the thread hop */
    session_t *sessions;       /* all live sessions, newest first */
    uint64_t next_conn_id;
    uint8_t resp_buf[65536 + 1024];
    uint8_t body_buf[65536 + 1024];
    atomic_bool stop_requested;
    bool stopping;
    /* Validator results waiting to be applied on this loop (filled by the
     * validator thread under `inbox_lock`). */
    uv_mutex_t inbox_lock;
    dane_auth_request_t *inbox;
    int start_error;
    uv_sem_t started;
};

struct server {
    config_t *cfg;               /* as started: what needs a restart to change is read here */
    listener_rt_t *listeners;
    unsigned n_listeners;
    worker_t **workers;
    unsigned n_workers;
    uv_mutex_t limit_lock;
    connlimit_t *connlimit;
    reputation_t *reputation;    /* off while limits.suspect-failures is 0 */
    runtime_t *rt;               /* limits and TLS contexts now (reload swaps it under limit_lock) */
    dane_validator_t *validator; /* NULL when no listener authenticates clients */
    /* Process-wide counts checked without the lock on hot paths. */
    atomic_uint connections;
    atomic_uint handshakes;
    /* Copies of rt values read on hot paths without the lock. */
    atomic_uint max_connections;
    atomic_bool suspect_on;
};

/* Prefixes the reputation table tracks at most (resolver/reputation.h). */
#define SERVER_MAX_TRACKED_PREFIXES 65536

/* Server-wide limit state (server.c): the lock, connection counts, the
 * reputation table, created with the limits at start; server_install_runtime
 * then applies the first runtime's limits.  DN_OK or DN_ENOMEM. */
int server_limits_init(server_t *srv, const config_limits_t *limits);
/* The current runtime, with a reference for the caller (runtime_unref). */
runtime_t *server_runtime(server_t *srv);
/* Make rt current (taking over the caller's reference; NULL at exit) and apply its limits
 * to the connection counts and the reputation table.  Returns the runtime it
 * replaced (the caller unrefs it; NULL at start). */
runtime_t *server_install_runtime(server_t *srv, runtime_t *rt);
/* SIGHUP, on the main thread: load srv->cfg->path again.  An invalid file
 * changes nothing (logged with file:line: key, counted).  Otherwise the
 * log level, limits, and listeners' certificates and keys apply to new
 * connections; keys that need a restart are named in one warning. */
int server_reload(server_t *srv);

/* Worker life (worker.c). */
int worker_start(worker_t *w, server_t *srv, unsigned id);
void worker_request_stop(worker_t *w);
void worker_join(worker_t *w);
/* A session closed: the worker may resume accepting. */
void worker_connection_released(worker_t *w);

/* Session (session.c). */
session_t *session_accept(worker_t *w, worker_listener_t *wl);
void session_close_all(worker_t *w);
/* Close this worker's oldest unauthenticated session (handshaking first; with
 * handshakes_only, only handshaking ones), never an authenticated one and
 * never `except`.  Returns whether one was shed. */
bool session_shed_oldest(worker_t *w, bool handshakes_only, const session_t *except);
/* Admit waiting handshakes of suspect prefixes whose tokens allow it. */
void session_admit_waiting(worker_t *w);
/* Deliver a validator verdict on the worker's loop. */
void session_auth_done(dane_auth_request_t *req);

#endif
