/* resolver/server.c — the process-wide runtime: installing it at start and
 * replacing it on reload (SIGHUP, on the main thread). */
#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "resolver/server.h"

runtime_t *server_runtime(server_t *srv)
{
    uv_mutex_lock(&srv->limit_lock);
    runtime_t *rt = srv->rt;
    runtime_ref(rt);
    uv_mutex_unlock(&srv->limit_lock);
    return rt;
}

static reputation_limits_t reputation_limits_of(const config_limits_t *l)
{
    return (reputation_limits_t){
        .suspect_failures = l->suspect_failures,
        .handshakes_per_second = l->suspect_handshake_rate,
        .max_prefixes = SERVER_MAX_TRACKED_PREFIXES,
    };
}

int server_limits_init(server_t *srv, const config_limits_t *l)
{
    uv_mutex_init(&srv->limit_lock);
    srv->connlimit = connlimit_new(l->max_connections_per_ip, l->max_connections_per_prefix);
    reputation_limits_t rl = reputation_limits_of(l);
    srv->reputation = reputation_new(&rl);
    return srv->connlimit && srv->reputation ? DN_OK : DN_ENOMEM;
}

runtime_t *server_install_runtime(server_t *srv, runtime_t *rt)
{
    if (!rt) { /* at exit: hand back the last one */
        uv_mutex_lock(&srv->limit_lock);
        runtime_t *old = srv->rt;
        srv->rt = NULL;
        uv_mutex_unlock(&srv->limit_lock);
        return old;
    }
    const config_limits_t *l = &rt->limits;
    reputation_limits_t rl = reputation_limits_of(l);
    uv_mutex_lock(&srv->limit_lock);
    runtime_t *old = srv->rt;
    srv->rt = rt;
    connlimit_set_limits(srv->connlimit, l->max_connections_per_ip, l->max_connections_per_prefix);
    reputation_set_limits(srv->reputation, &rl);
    atomic_store(&srv->max_connections, l->max_connections);
    atomic_store(&srv->suspect_on, l->suspect_failures > 0);
    uv_mutex_unlock(&srv->limit_lock);
    return old;
}

int server_reload(server_t *srv)
{
    char err[512];
    config_t *next = NULL;
    int rc = config_load(srv->cfg->path, &next, err, sizeof err);
    if (rc != DN_OK) {
        metrics_inc(M_config_reload_failed);
        LOG(LOG_ERROR, 0, "reload: %s; keeping the running configuration", err);
        return rc;
    }
    unsigned generation = srv->rt->generation + 1; /* srv->rt is only replaced on this thread */
    runtime_t *rt = runtime_new(srv->cfg, next, generation, err, sizeof err);
    if (!rt) {
        config_free(next);
        metrics_inc(M_config_reload_failed);
        LOG(LOG_ERROR, 0, "reload: %s; keeping the running configuration", err);
        return DN_ECONFIG;
    }
    char restart[400];
    unsigned n_restart = config_restart_changes(srv->cfg, next, restart, sizeof restart);
    log_set_level((log_level_t)next->server.log_level);
    runtime_unref(server_install_runtime(srv, rt));
    metrics_inc(M_config_reloads);
    LOG(LOG_INFO, 0,
        "reload: applied configuration generation %u from %s: limits, log level, certificates and keys of %u "
        "listener(s); open connections keep the ones they started with",
        generation, srv->cfg->path, srv->n_listeners);
    if (n_restart > 0)
        LOG(LOG_WARN, 0, "reload: %s changed; that needs a restart, the running value%s kept", restart,
            n_restart > 1 ? "s are" : " is");
    config_free(next);
    return DN_OK;
}
