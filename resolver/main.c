/* resolver/main.c — danced: parse arguments, load the config, start the
 * validator and the workers, then wait for signals on the main loop.
 *
 *   danced -c FILE                 run in the foreground, logs to stderr
 *   danced --check-config -c FILE  exit 0 when FILE is valid, else 1 + message */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/tls.h"
#include "dane/validator.h"
#include "resolver/server.h"

static server_t srv;
static uv_loop_t *main_loop;
static uv_signal_t sig_int, sig_term, sig_usr1, sig_hup;
static uv_timer_t counters_timer;
static uv_timer_t housekeeping_timer;
static int64_t conn_high_water;
static int64_t conn_last_tick;

/* After a flood (thousands of connections gone) glibc keeps the freed memory
 * in its arenas; give it back so that RSS returns near the baseline.  Trim
 * once the drain has finished (the count stopped falling) and only after a
 * large fall: trimming walks every arena. */
static void on_housekeeping(uv_timer_t *t)
{
    (void)t;
    int64_t now = metrics_gauge_get(G_connections);
    bool falling = now < conn_last_tick;
    conn_last_tick = now;
    if (now > conn_high_water)
        conn_high_water = now;
    if (!falling && conn_high_water - now >= 1000) {
        malloc_trim(0);
        conn_high_water = now;
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: danced -c FILE [--check-config]\n"
            "  -c, --config FILE    configuration file (YAML)\n"
            "      --check-config   validate FILE and exit (0 valid, 1 invalid)\n"
            "  -h, --help           this text\n"
            "  -V, --version        version\n");
}

static void dump_counters(void)
{
    if (srv.cfg && srv.cfg->server.counters_file)
        (void)metrics_dump_file(srv.cfg->server.counters_file);
}

static void on_counters_timer(uv_timer_t *t)
{
    (void)t;
    dump_counters();
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (signum == SIGUSR1) {
        dump_counters();
        if (!srv.cfg->server.counters_file)
            metrics_dump(stderr);
        return;
    }
    if (signum == SIGHUP) {
        (void)server_reload(&srv);
        return;
    }
    LOG(LOG_INFO, 0, "signal %d: shutting down", signum);
    uv_signal_stop(&sig_int);
    uv_signal_stop(&sig_term);
    uv_signal_stop(&sig_usr1);
    uv_signal_stop(&sig_hup);
    uv_timer_stop(&counters_timer);
    uv_timer_stop(&housekeeping_timer);
    uv_close((uv_handle_t *)&housekeeping_timer, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_usr1, NULL);
    uv_close((uv_handle_t *)&sig_hup, NULL);
    uv_close((uv_handle_t *)&counters_timer, NULL);
}

static bool listeners_need_validator(const config_t *cfg)
{
    for (unsigned i = 0; i < cfg->n_listeners; i++)
        if (cfg->listeners[i].client_auth != CONFIG_AUTH_NONE)
            return true;
    return false;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    bool check_only = false;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config_path = optarg; break;
        case 'k': check_only = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("danced 0.1.0\n"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!config_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    char err[1024];
    config_t *cfg = NULL;
    if (config_load(config_path, &cfg, err, sizeof err) != DN_OK) {
        fprintf(stderr, "danced: %s\n", err);
        return 1;
    }
    if (check_only) {
        /* As at start: every listener's certificate and key must make a
         * working TLS context (runtime_new proves each pair with a handshake). */
        runtime_t *probe = tls_global_init() == DN_OK ? runtime_new(cfg, cfg, 1, err, sizeof err) : NULL;
        if (!probe) {
            fprintf(stderr, "danced: %s: %s\n", config_path, err);
            config_free(cfg);
            tls_global_cleanup();
            return 1;
        }
        runtime_unref(probe);
        tls_global_cleanup();
        printf("%s: configuration is valid\n", config_path);
        config_free(cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    log_set_level((log_level_t)cfg->server.log_level);
    metrics_thread_init(0);
    srv.cfg = cfg;
    if (tls_global_init() != DN_OK) {
        LOG(LOG_ERROR, 0, "wolfSSL initialisation failed");
        return 1;
    }
    srv.n_listeners = cfg->n_listeners;
    srv.listeners = calloc(cfg->n_listeners, sizeof *srv.listeners);
    if (!srv.listeners || server_limits_init(&srv, &cfg->limits) != DN_OK)
        return 1;
    for (unsigned i = 0; i < cfg->n_listeners; i++) {
        srv.listeners[i].cfg = &cfg->listeners[i];
        srv.listeners[i].index = i;
    }
    runtime_t *rt = runtime_new(cfg, cfg, 1, err, sizeof err);
    if (!rt) {
        LOG(LOG_ERROR, 0, "%s", err);
        return 1;
    }
    (void)server_install_runtime(&srv, rt);
    if (listeners_need_validator(cfg)) {
        if (dane_validator_start(cfg, &srv.validator, err, sizeof err) != DN_OK) {
            LOG(LOG_ERROR, 0, "DANE validator: %s", err);
            return 1;
        }
    }
    /* Signal handlers before any listener opens: a signal that arrives as
     * soon as the port accepts must not hit the default action. */
    main_loop = uv_default_loop();
    uv_signal_init(main_loop, &sig_int);
    uv_signal_init(main_loop, &sig_term);
    uv_signal_init(main_loop, &sig_usr1);
    uv_signal_init(main_loop, &sig_hup);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_usr1, on_signal, SIGUSR1);
    uv_signal_start(&sig_hup, on_signal, SIGHUP);
    uv_timer_init(main_loop, &counters_timer);
    uv_timer_init(main_loop, &housekeeping_timer);
    unsigned n = cfg->server.workers;
    if (n == 0) {
        uv_cpu_info_t *ci;
        int count = 0;
        n = uv_cpu_info(&ci, &count) == 0 && count > 0 ? (unsigned)count : 1;
        if (count > 0)
            uv_free_cpu_info(ci, count);
    }
    srv.n_workers = n;
    srv.workers = calloc(n, sizeof *srv.workers);
    int started = 0;
    for (unsigned i = 0; i < n; i++) {
        srv.workers[i] = calloc(1, sizeof(worker_t));
        if (!srv.workers[i] || worker_start(srv.workers[i], &srv, i) != DN_OK) {
            LOG(LOG_ERROR, 0, "cannot start worker %u", i);
            started = -1;
            if (srv.workers[i])
                n = i + 1; /* its thread runs and exits after cleanup: join it too */
            else
                n = i;
            break;
        }
    }
    if (started == 0) {
        for (unsigned i = 0; i < cfg->n_listeners; i++)
            LOG(LOG_INFO, 0, "listening on %s port %u (%s, client-auth %s)", cfg->listeners[i].address,
                cfg->listeners[i].port, cfg->listeners[i].name,
                cfg->listeners[i].client_auth == CONFIG_AUTH_REQUIRE    ? "require"
                : cfg->listeners[i].client_auth == CONFIG_AUTH_OPTIONAL ? "optional"
                                                                        : "none");
        LOG(LOG_INFO, 0, "danced ready: %u worker(s)", n);
        if (cfg->server.counters_file)
            uv_timer_start(&counters_timer, on_counters_timer, 0, 1000);
        uv_timer_start(&housekeeping_timer, on_housekeeping, 250, 250);
        uv_run(main_loop, UV_RUN_DEFAULT);
    } else {
        on_signal(&sig_term, SIGTERM); /* closes the handles */
        uv_run(main_loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(main_loop);
    /* Validator first: its last verdicts go to workers that still run. */
    if (srv.validator)
        dane_validator_stop(srv.validator);
    for (unsigned i = 0; i < n; i++)
        worker_request_stop(srv.workers[i]);
    for (unsigned i = 0; i < n; i++) {
        worker_join(srv.workers[i]);
        free(srv.workers[i]);
    }
    free(srv.workers);
    dump_counters();
    /* Every session has dropped its reference: this frees the TLS contexts. */
    runtime_unref(server_install_runtime(&srv, NULL));
    free(srv.listeners);
    connlimit_free(srv.connlimit);
    reputation_free(srv.reputation);
    uv_mutex_destroy(&srv.limit_lock);
    config_free(cfg);
    tls_global_cleanup();
    LOG(LOG_INFO, 0, "danced stopped");
    return started == 0 ? 0 : 1;
}
