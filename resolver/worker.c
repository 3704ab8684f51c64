/* resolver/worker.c — one worker thread: its loop, its SO_REUSEPORT listening
 * sockets, its libunbound context and answer cache, its sessions.
 *
 * At the total connection cap a listener stops accepting: libuv keeps the one
 * connection it already accepted and stops polling the socket until
 * uv_accept is called, so we call it again only when a session ends (no
 * accept-and-drop busy loop; the kernel backlog holds the rest). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "resolver/server.h"

static bool at_connection_cap(worker_t *w)
{
    return atomic_load(&w->srv->connections) >= atomic_load(&w->srv->max_connections);
}

static void accept_retry_cb(uv_timer_t *t);

static void accept_one(worker_listener_t *wl)
{
    worker_t *w = wl->w;
    if (at_connection_cap(w)) {
        if (!wl->accept_paused) {
            wl->accept_paused = true;
            metrics_inc(M_accept_paused);
            metrics_inc(M_conn_limit_total);
            LOG(LOG_WARN, 0, "listener %s: connection limit %u reached, accepting paused", wl->lst->cfg->name,
                atomic_load(&w->srv->max_connections));
        }
        /* Under pressure make room by shedding the oldest unauthenticated
         * connection; its close resumes accepting (worker_connection_released). */
        (void)session_shed_oldest(w, false, NULL);
        /* Connections may also be freed on other workers: look again soon. */
        if (!uv_is_active((uv_handle_t *)&w->accept_retry))
            uv_timer_start(&w->accept_retry, accept_retry_cb, 100, 0);
        return;
    }
    wl->accept_paused = false;
    (void)session_accept(w, wl);
}

static void on_connection(uv_stream_t *server, int status)
{
    worker_listener_t *wl = server->data;
    if (status < 0) {
        LOG(LOG_WARN, 0, "accept on %s: %s", wl->lst->cfg->name, uv_strerror(status));
        return;
    }
    if (wl->w->stopping)
        return;
    accept_one(wl);
}

static void accept_retry_cb(uv_timer_t *t)
{
    worker_t *w = t->data;
    if (w->stopping)
        return;
    for (unsigned i = 0; i < w->n_listeners; i++)
        if (w->listeners[i].accept_paused)
            accept_one(&w->listeners[i]);
}

void worker_connection_released(worker_t *w)
{
    if (w->stopping)
        return;
    for (unsigned i = 0; i < w->n_listeners; i++) {
        if (w->listeners[i].accept_paused && !at_connection_cap(w))
            accept_one(&w->listeners[i]);
    }
}

/* libuv 1.44 has no UV_TCP_REUSEPORT: make the socket ourselves. */
static int open_listener(worker_t *w, worker_listener_t *wl, char *err, size_t cap)
{
    const config_listener_t *lc = wl->lst->cfg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int family;
    if (uv_ip4_addr(lc->address, lc->port, (struct sockaddr_in *)&ss) == 0) {
        family = AF_INET;
    } else if (uv_ip6_addr(lc->address, lc->port, (struct sockaddr_in6 *)&ss) == 0) {
        family = AF_INET6;
    } else {
        snprintf(err, cap, "listener %s: bad address %s", lc->name, lc->address);
        return DN_ECONFIG;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, cap, "listener %s: socket: %s", lc->name, strerror(errno));
        return DN_EIO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        snprintf(err, cap, "listener %s: SO_REUSEPORT: %s", lc->name, strerror(errno));
        close(fd);
        return DN_EIO;
    }
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    socklen_t slen = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(fd, (struct sockaddr *)&ss, slen) != 0) {
        snprintf(err, cap, "listener %s: bind %s port %u: %s", lc->name, lc->address, lc->port, strerror(errno));
        close(fd);
        return DN_EIO;
    }
    uv_tcp_init(&w->loop, &wl->tcp);
    wl->tcp.data = wl;
    if (uv_tcp_open(&wl->tcp, fd) != 0) {
        snprintf(err, cap, "listener %s: uv_tcp_open failed", lc->name);
        close(fd);
        return DN_EIO;
    }
    /* A deep backlog: under a connection flood a full accept queue drops
     * SYNs, and an honest client then waits a full SYN retransmit (1 s). */
    int rc = uv_listen((uv_stream_t *)&wl->tcp, 4096, on_connection);
    if (rc != 0) {
        snprintf(err, cap, "listener %s: listen: %s", lc->name, uv_strerror(rc));
        return DN_EIO;
    }
    return DN_OK;
}

static void close_noop(uv_handle_t *h)
{
    (void)h;
}

static void drain_inbox(worker_t *w)
{
    uv_mutex_lock(&w->inbox_lock);
    dane_auth_request_t *list = w->inbox;
    w->inbox = NULL;
    uv_mutex_unlock(&w->inbox_lock);
    while (list) {
        dane_auth_request_t *next = list->owner_next;
        session_auth_done(list);
        list = next;
    }
}

static void begin_stop(worker_t *w)
{
    if (w->stopping)
        return;
    w->stopping = true;
    for (unsigned i = 0; i < w->n_listeners; i++)
        if (w->listeners[i].tcp.loop && !uv_is_closing((uv_handle_t *)&w->listeners[i].tcp))
            uv_close((uv_handle_t *)&w->listeners[i].tcp, close_noop);
    session_close_all(w);
    if (w->up) {
        upstream_close(w->up);
        w->up = NULL;
    }
    stream_loop_close(&w->sl);
    uv_close((uv_handle_t *)&w->accept_retry, close_noop);
    uv_close((uv_handle_t *)&w->admit_tick, close_noop);
    uv_close((uv_handle_t *)&w->wakeup, close_noop);
}

static void wakeup_cb(uv_async_t *a)
{
    worker_t *w = a->data;
    drain_inbox(w);
    if (atomic_load(&w->stop_requested))
        begin_stop(w);
}

static void worker_main(void *arg)
{
    worker_t *w = arg;
    char err[256] = "";
    log_set_thread_worker((int)w->id);
    metrics_thread_init(w->id + 1);
    int rc = DN_OK;
    for (unsigned i = 0; i < w->n_listeners && rc == DN_OK; i++)
        rc = open_listener(w, &w->listeners[i], err, sizeof err);
    if (rc == DN_OK)
        rc = upstream_new(&w->loop, &w->srv->cfg->resolver, &w->up, err, sizeof err);
    if (rc != DN_OK) {
        LOG(LOG_ERROR, 0, "worker %u: %s", w->id, err);
        w->start_error = rc;
        uv_sem_post(&w->started);
        begin_stop(w);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        tls_thread_cleanup();
        return;
    }
    uv_sem_post(&w->started);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* Late validator answers for sessions that are gone. */
    drain_inbox(w);
    tls_thread_cleanup();
}

int worker_start(worker_t *w, server_t *srv, unsigned id)
{
    w->srv = srv;
    w->id = id;
    if (uv_loop_init(&w->loop) != 0)
        return DN_EIO;
    if (stream_loop_init(&w->sl, &w->loop) != DN_OK)
        return DN_ENOMEM;
    uv_async_init(&w->loop, &w->wakeup, wakeup_cb);
    w->wakeup.data = w;
    uv_timer_init(&w->loop, &w->accept_retry);
    w->accept_retry.data = w;
    uv_timer_init(&w->loop, &w->admit_tick);
    w->admit_tick.data = w;
    uv_mutex_init(&w->inbox_lock);
    uv_sem_init(&w->started, 0);
    const config_t *cfg = srv->cfg;
    cache_limits_t cl = {
        .max_bytes = cfg->cache.max_bytes / (srv->n_workers ? srv->n_workers : 1),
        .min_ttl = cfg->cache.min_ttl,
        .max_ttl = cfg->cache.max_ttl,
        .negative_max_ttl = cfg->cache.negative_max_ttl,
    };
    w->cache = cache_new(&cl);
    w->vcache = verdict_cache_new(cfg->dane.cache_entries);
    if (!w->cache || !w->vcache)
        return DN_ENOMEM;
    w->n_listeners = srv->n_listeners;
    w->listeners = calloc(w->n_listeners, sizeof *w->listeners);
    if (!w->listeners)
        return DN_ENOMEM;
    for (unsigned i = 0; i < w->n_listeners; i++) {
        w->listeners[i].w = w;
        w->listeners[i].lst = &srv->listeners[i];
    }
    if (uv_thread_create(&w->thread, worker_main, w) != 0)
        return DN_EIO;
    uv_sem_wait(&w->started);
    return w->start_error;
}

void worker_request_stop(worker_t *w)
{
    atomic_store(&w->stop_requested, true);
    uv_async_send(&w->wakeup);
}

void worker_join(worker_t *w)
{
    uv_thread_join(&w->thread);
    uv_loop_close(&w->loop);
    cache_free(w->cache);
    verdict_cache_free(w->vcache);
    free(w->listeners);
    uv_mutex_destroy(&w->inbox_lock);
    uv_sem_destroy(&w->started);
}
