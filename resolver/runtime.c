/* resolver/runtime.c — see runtime.h. */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static void runtime_free(runtime_t *rt)
{
    for (unsigned i = 0; rt->tls && i < rt->n_listeners; i++)
        tls_ctx_free(rt->tls[i]);
    free(rt->tls);
    free(rt->limits.suspect_exempt);
    free(rt);
}

static const config_listener_t *listener_named(const config_t *cfg, const char *name)
{
    for (unsigned i = 0; i < cfg->n_listeners; i++)
        if (strcmp(cfg->listeners[i].name, name) == 0)
            return &cfg->listeners[i];
    return NULL;
}

runtime_t *runtime_new(const config_t *running, const config_t *next, unsigned generation, char *err,
                       size_t err_cap)
{
    runtime_t *rt = calloc(1, sizeof *rt);
    if (!rt) {
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    atomic_init(&rt->refs, 1);
    rt->generation = generation;
    rt->limits = next->limits;
    rt->limits.suspect_exempt = NULL;
    rt->limits.n_suspect_exempt = 0;
    if (next->limits.n_suspect_exempt > 0) {
        size_t bytes = next->limits.n_suspect_exempt * sizeof *next->limits.suspect_exempt;
        rt->limits.suspect_exempt = malloc(bytes);
        if (!rt->limits.suspect_exempt) {
            snprintf(err, err_cap, "out of memory");
            runtime_free(rt);
            return NULL;
        }
        memcpy(rt->limits.suspect_exempt, next->limits.suspect_exempt, bytes);
        rt->limits.n_suspect_exempt = next->limits.n_suspect_exempt;
    }
    rt->n_listeners = running->n_listeners;
    rt->tls = calloc(rt->n_listeners ? rt->n_listeners : 1, sizeof *rt->tls);
    if (!rt->tls) {
        snprintf(err, err_cap, "out of memory");
        runtime_free(rt);
        return NULL;
    }
    for (unsigned i = 0; i < running->n_listeners; i++) {
        const config_listener_t *lc = &running->listeners[i];
        const config_listener_t *files = listener_named(next, lc->name);
        if (!files)
            files = lc;
        tls_server_opts_t to = {
            .cert_file = files->certificate,
            .key_file = files->key,
            .min_version = lc->tls_min_version,
            .client_auth = (tls_client_auth_t)lc->client_auth,
            .tickets = lc->tickets,
        };
        char terr[256];
        if (tls_ctx_new_server(&to, &rt->tls[i], terr, sizeof terr) != DN_OK) {
            snprintf(err, err_cap, "listener %s: %s", lc->name, terr);
            runtime_free(rt);
            return NULL;
        }
    }
    return rt;
}

void runtime_ref(runtime_t *rt)
{
    atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
}

void runtime_unref(runtime_t *rt)
{
    if (rt && atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) == 1)
        runtime_free(rt);
}
