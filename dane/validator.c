/* dane/validator.c — see validator.h for the contract and the pipeline.
 *
 * Everything below runs on the validator thread except dane_validator_submit
 * (any thread: it only pushes onto the locked inbox) and start/stop.
 *
 * Bounded state: verdict cache (cache-entries), lookups in flight
 * (max-lookups-in-flight, and max-lookups-per-domain per allow-list entry),
 * the wait queue (queue-length; beyond it requests are refused at once).
 * Requests whose connection went away are dropped from the queue and from
 * coalesced waits by a sweep, so abandoned work does not hold slots. */
#include "validator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/wire.h"
#include "dane/identity.h"
#include "dane/tlsa.h"
#include "dane/verdict_cache.h"
#include "core/upstream.h"

#define SWEEP_MS 200
#define MAX_TLSA_RRS 64


typedef struct lookup {
    struct lookup *next;
    dane_validator_t *v;
    char identity[256];
    unsigned domain;
    dane_auth_request_t *waiters;
} lookup_t;

struct dane_validator {
    const config_t *cfg;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t wakeup;
    uv_timer_t sweep;
    uv_sem_t started;
    int start_error;
    char start_err[256];
    upstream_t *up;
    /* inbox: filled by any thread */
    uv_mutex_t inbox_lock;
    dane_auth_request_t *inbox;
    atomic_bool stop;
    bool stopping;
    /* validator-thread state */
    lookup_t *lookups;
    unsigned in_flight;
    unsigned *domain_in_flight; /* per allow-list entry */
    dane_auth_request_t *queue_head, *queue_tail;
    unsigned queue_len;
    verdict_cache_t *vc;
};

const char *dane_why_text(dane_why_t why)
{
    switch (why) {
    case DANE_WHY_NONE: return "ok";
    case DANE_WHY_NO_CERT: return "no client certificate";
    case DANE_WHY_NOT_ALLOWED: return "not allowed";
    case DANE_WHY_AMBIGUOUS: return "ambiguous identity";
    case DANE_WHY_BAD_NAME: return "bad identity name";
    case DANE_WHY_BAD_CERT: return "malformed certificate";
    case DANE_WHY_BOGUS: return "TLSA bogus";
    case DANE_WHY_INSECURE: return "insecure";
    case DANE_WHY_NO_TLSA: return "no TLSA";
    case DANE_WHY_NO_MATCH: return "no match";
    case DANE_WHY_EXPIRED: return "expired certificate";
    case DANE_WHY_TIMEOUT: return "timeout";
    case DANE_WHY_QUEUE_FULL: return "busy";
    case DANE_WHY_LOOKUP_ERROR: return "lookup error";
    case DANE_WHY_TLS12: return "TLS 1.3 required";
    case DANE_WHY_PKIX: return "PKIX usages not enabled";
    case DANE_WHY_DEADLINE: return "deadline";
    }
    return "?";
}

static uint64_t now_ms(dane_validator_t *v)
{
    return uv_now(&v->loop);
}

/* ---- finishing a request ---- */

/* Hand the verdict back; cache_ttl_ms/any_key tell the submitter how long
 * it may reuse it. */
static void finish_cached(dane_auth_request_t *req, dane_auth_outcome_t outcome, dane_why_t why, const char *detail,
                          uint64_t cache_ttl_ms, bool any_key)
{
    req->outcome = outcome;
    req->why = why;
    if (detail != req->detail)
        snprintf(req->detail, sizeof req->detail, "%s", detail ? detail : dane_why_text(why));
    req->cache_ttl_ms = cache_ttl_ms;
    req->cache_any_key = any_key;
    req->vnext = NULL;
    req->done(req); /* the request is no longer ours */
}

static void finish(dane_auth_request_t *req, dane_auth_outcome_t outcome, dane_why_t why, const char *detail)
{
    finish_cached(req, outcome, why, detail, 0, false);
}

static void finish_gone(dane_auth_request_t *req)
{
    finish(req, DANE_AUTH_REFUSED, DANE_WHY_DEADLINE, "connection closed before the verdict");
}

/* ---- the per-request pipeline ---- */

static void start_or_queue(dane_validator_t *v, dane_auth_request_t *req);
static void pump_queue(dane_validator_t *v);

static void decide(dane_auth_request_t *req, dane_auth_outcome_t outcome, dane_why_t why, const char *detail)
{
    req->outcome = outcome;
    req->why = why;
    snprintf(req->detail, sizeof req->detail, "%s", detail);
}

bool dane_validator_prepare(const config_dane_t *dc, dane_auth_request_t *req)
{
    req->prepared = true;
    if (req->chain.n == 0) {
        decide(req, DANE_AUTH_NOT_AUTHENTICATED, DANE_WHY_NO_CERT, "no client certificate");
        return false;
    }
    dane_id_result_t r = dane_identity_from_chain(req->chain.der[0], req->chain.len[0], dc->identity_suffix,
                                                  req->identity, sizeof req->identity);
    switch (r) {
    case DANE_ID_OK: break;
    case DANE_ID_BAD_CERT:
        decide(req, DANE_AUTH_REFUSED, DANE_WHY_BAD_CERT, "malformed client certificate");
        return false;
    case DANE_ID_NO_NAME:
        decide(req, DANE_AUTH_NOT_AUTHENTICATED, DANE_WHY_BAD_NAME, "certificate names no DNS identity");
        return false;
    case DANE_ID_AMBIGUOUS:
        decide(req, DANE_AUTH_REFUSED, DANE_WHY_AMBIGUOUS, "ambiguous identity: several SAN dNSNames");
        return false;
    case DANE_ID_BAD_NAME:
        decide(req, DANE_AUTH_REFUSED, DANE_WHY_BAD_NAME, "SAN dNSName is not a valid identity");
        return false;
    }
    unsigned idx = 0;
    /* The allow-list comes BEFORE any lookup: an unauthenticated peer must
     * not make the server query names it chose. */
    if (!dane_allow_list_admits(dc->allow, dc->n_allow, req->identity, &idx)) {
        decide(req, DANE_AUTH_NOT_AUTHENTICATED, DANE_WHY_NOT_ALLOWED, "not allowed");
        return false;
    }
    req->domain_slot = idx;
    size_t n = 0;
    if (dane_tlsa_data(req->chain.der[0], req->chain.len[0], 1, 1, req->spki, sizeof req->spki, &n) != 0 ||
        n != sizeof req->spki) {
        decide(req, DANE_AUTH_REFUSED, DANE_WHY_BAD_CERT, "malformed client certificate");
        return false;
    }
    return true;
}

/* Returns false when the request was finished here. */
static bool admit(dane_validator_t *v, dane_auth_request_t *req)
{
    if (req->prepared)
        return true; /* the submitter did it, and only submits what needs a lookup */
    if (dane_validator_prepare(&v->cfg->dane, req))
        return true;
    finish(req, req->outcome, req->why, req->detail);
    return false;
}

/* Cache hit or join an in-flight lookup.  Returns true when handled. */
static bool answer_from_cache_or_join(dane_validator_t *v, dane_auth_request_t *req)
{
    uint64_t now = now_ms(v);
    const verdict_t *e = verdict_cache_get(v->vc, req->identity, req->spki, now);
    if (e) {
        metrics_inc(M_verdict_cache_hits);
        bool any = verdict_cache_get_any(v->vc, req->identity, now) == e;
        finish_cached(req, e->outcome, e->why, e->detail, e->expires_ms - now, any);
        return true;
    }
    for (lookup_t *l = v->lookups; l; l = l->next) {
        if (strcmp(l->identity, req->identity) == 0) {
            metrics_inc(M_tlsa_coalesced);
            req->vnext = l->waiters;
            l->waiters = req;
            return true;
        }
    }
    return false;
}

static void remove_lookup(dane_validator_t *v, lookup_t *l)
{
    lookup_t **pp = &v->lookups;
    while (*pp && *pp != l)
        pp = &(*pp)->next;
    if (*pp)
        *pp = l->next;
    v->in_flight--;
    v->domain_in_flight[l->domain]--;
    metrics_gauge_add(G_tlsa_in_flight, -1);
}

typedef struct {
    const uint8_t *pkt;
    size_t len;
    dane_tlsa_rr_t rrs[MAX_TLSA_RRS];
    size_t n;
} tlsa_collect_t;

static int collect_tlsa(const wire_rr_t *rr, void *arg)
{
    tlsa_collect_t *c = arg;
    /* Every TLSA record in the answer section counts: in a secure answer they
     * are the records at the identity or at the end of its CNAME chain
     * (RFC 7671 §7). */
    if (rr->section != 1 || rr->type != WIRE_T_TLSA)
        return 0;
    if (c->n >= MAX_TLSA_RRS)
        return 0;
    wire_tlsa_t t;
    if (wire_rdata_tlsa(c->pkt + rr->rdata_offset, rr->rdlength, &t) != 0)
        return 0; /* malformed record: skipped, as unknown ones are */
    c->rrs[c->n++] = (dane_tlsa_rr_t){t.usage, t.selector, t.mtype, t.data, t.data_len};
    return 0;
}

static dane_why_t why_from_reason(dane_reason_t r)
{
    switch (r) {
    case DANE_OK: return DANE_WHY_NONE;
    case DANE_R_EXPIRED: return DANE_WHY_EXPIRED;
    case DANE_R_PKIX_DISABLED: return DANE_WHY_PKIX;
    case DANE_R_BAD_CERT:
    case DANE_R_EMPTY_CHAIN: return DANE_WHY_BAD_CERT;
    default: return DANE_WHY_NO_MATCH;
    }
}

static void lookup_done(void *arg, int err, const upstream_result_t *res)
{
    lookup_t *l = arg;
    dane_validator_t *v = l->v;
    remove_lookup(v, l);
    dane_auth_request_t *waiters = l->waiters;
    const config_dane_t *dc = &v->cfg->dane;
    uint64_t neg_ms = (uint64_t)dc->negative_ttl * 1000;

    dane_auth_outcome_t outcome = DANE_AUTH_REFUSED;
    dane_why_t why = DANE_WHY_NONE;
    char detail[160] = "";
    tlsa_collect_t *col = NULL;
    if (err == DN_ECLOSED) {
        why = DANE_WHY_DEADLINE;
        snprintf(detail, sizeof detail, "server stopping");
    } else if (err == DN_ETIMEOUT) {
        why = DANE_WHY_TIMEOUT;
        snprintf(detail, sizeof detail, "TLSA lookup timed out");
    } else if (err != DN_OK || !res) {
        why = DANE_WHY_LOOKUP_ERROR;
        snprintf(detail, sizeof detail, "TLSA lookup failed");
    } else if (res->rcode != WIRE_RC_NOERROR && res->rcode != WIRE_RC_NXDOMAIN && !res->bogus) {
        /* SERVFAIL and friends (e.g. an unreachable or silent authority):
         * nothing was proven either way, so this is a failure, not
         * "insecure" — which would make the client anonymous on optional. */
        why = DANE_WHY_LOOKUP_ERROR;
        snprintf(detail, sizeof detail, "TLSA lookup failed (rcode %d)", res->rcode);
    } else if (res->bogus) {
        why = DANE_WHY_BOGUS;
        snprintf(detail, sizeof detail, "TLSA bogus%s%s", res->why_bogus ? ": " : "",
                 res->why_bogus ? res->why_bogus : "");
    } else if (!res->secure) {
        outcome = DANE_AUTH_NOT_AUTHENTICATED;
        why = DANE_WHY_INSECURE;
        snprintf(detail, sizeof detail, "insecure: TLSA answer not DNSSEC-signed");
    } else if (!res->havedata) {
        outcome = DANE_AUTH_NOT_AUTHENTICATED;
        why = DANE_WHY_NO_TLSA;
        snprintf(detail, sizeof detail, "no TLSA");
    } else {
        col = calloc(1, sizeof *col);
        if (col) {
            col->pkt = res->packet;
            col->len = res->len;
            if (wire_msg_walk(res->packet, res->len, collect_tlsa, col) < 0) {
                free(col);
                col = NULL;
            }
        }
        if (!col || col->n == 0) {
            outcome = DANE_AUTH_NOT_AUTHENTICATED;
            why = DANE_WHY_NO_TLSA;
            snprintf(detail, sizeof detail, "no usable TLSA");
            free(col);
            col = NULL;
        }
    }
    uint64_t now = now_ms(v);
    bool neg_cached = !col && err != DN_ECLOSED;
    if (neg_cached)
        verdict_cache_put(v->vc, l->identity, NULL, outcome, why, detail, now, neg_ms);

    int64_t now_s = (int64_t)time(NULL);
    uint64_t pos_ms = (uint64_t)(res && res->ttl < dc->cache_max_ttl ? res->ttl : dc->cache_max_ttl) * 1000;
    while (waiters) {
        dane_auth_request_t *req = waiters;
        waiters = req->vnext;
        if (atomic_load(&req->cancelled)) {
            finish_gone(req);
            continue;
        }
        if (!col) {
            finish_cached(req, outcome, why, detail, neg_cached ? neg_ms : 0, true);
            continue;
        }
        dane_der_t chain[DANE_CHAIN_MAX];
        size_t n = req->chain.n < DANE_CHAIN_MAX ? req->chain.n : DANE_CHAIN_MAX;
        for (size_t i = 0; i < n; i++)
            chain[i] = (dane_der_t){req->chain.der[i], req->chain.len[i]};
        dane_match_opts_t mo = {.pkix_enabled = false};
        dane_verdict_t vd;
        dane_reason_t r = dane_match(chain, n, col->rrs, col->n, req->identity, now_s, &mo, &vd);
        if (r == DANE_OK) {
            uint64_t ttl = pos_ms;
            if (vd.valid_until != INT64_MAX) {
                int64_t left = vd.valid_until - now_s;
                uint64_t left_ms = left > 0 ? (uint64_t)left * 1000 : 0;
                if (left_ms < ttl)
                    ttl = left_ms;
            }
            verdict_cache_put(v->vc, req->identity, req->spki, DANE_AUTH_OK, DANE_WHY_NONE, "authenticated", now, ttl);
            finish_cached(req, DANE_AUTH_OK, DANE_WHY_NONE, "authenticated", ttl, false);
        } else {
            char d[160];
            snprintf(d, sizeof d, "%s", dane_reason_text(r));
            verdict_cache_put(v->vc, req->identity, req->spki, DANE_AUTH_REFUSED, why_from_reason(r), d, now, neg_ms);
            finish_cached(req, DANE_AUTH_REFUSED, why_from_reason(r), d, neg_ms, false);
        }
    }
    free(col);
    free(l);
    if (!v->stopping)
        pump_queue(v);
}

static bool under_caps(dane_validator_t *v, unsigned domain)
{
    const config_dane_t *dc = &v->cfg->dane;
    return v->in_flight < dc->max_lookups_in_flight && v->domain_in_flight[domain] < dc->max_lookups_per_domain;
}

static void start_lookup(dane_validator_t *v, dane_auth_request_t *req)
{
    lookup_t *l = calloc(1, sizeof *l);
    if (!l) {
        finish(req, DANE_AUTH_REFUSED, DANE_WHY_LOOKUP_ERROR, "out of memory");
        return;
    }
    l->v = v;
    snprintf(l->identity, sizeof l->identity, "%s", req->identity);
    l->domain = req->domain_slot;
    req->vnext = NULL;
    l->waiters = req;
    int rc = upstream_resolve(v->up, l->identity, WIRE_T_TLSA, WIRE_C_IN, v->cfg->dane.lookup_timeout_ms, lookup_done,
                              l, NULL);
    if (rc != DN_OK) {
        free(l);
        finish(req, DANE_AUTH_REFUSED, DANE_WHY_LOOKUP_ERROR, "TLSA lookup could not start");
        return;
    }
    metrics_inc(M_tlsa_lookups);
    l->next = v->lookups;
    v->lookups = l;
    v->in_flight++;
    v->domain_in_flight[l->domain]++;
    metrics_gauge_peak(G_tlsa_in_flight_peak, metrics_gauge_add(G_tlsa_in_flight, 1));
}

static void start_or_queue(dane_validator_t *v, dane_auth_request_t *req)
{
    if (answer_from_cache_or_join(v, req))
        return;
    metrics_inc(M_verdict_cache_misses);
    if (under_caps(v, req->domain_slot)) {
        start_lookup(v, req);
        return;
    }
    if (v->queue_len >= v->cfg->dane.queue_length) {
        finish(req, DANE_AUTH_REFUSED, DANE_WHY_QUEUE_FULL, "authentication queue full");
        return;
    }
    metrics_inc(M_tlsa_queued);
    req->vnext = NULL;
    if (v->queue_tail)
        v->queue_tail->vnext = req;
    else
        v->queue_head = req;
    v->queue_tail = req;
    v->queue_len++;
    metrics_gauge_peak(G_tlsa_queue_len_peak, metrics_gauge_add(G_tlsa_queue_len, 1));
}

/* Start what the caps allow, in arrival order, skipping (not blocking on)
 * requests whose domain is at its cap: one slow domain cannot hold up the
 * others.  Abandoned requests are dropped. */
static void pump_queue(dane_validator_t *v)
{
    dane_auth_request_t **pp = &v->queue_head;
    dane_auth_request_t *prev = NULL;
    while (*pp) {
        dane_auth_request_t *req = *pp;
        bool gone = atomic_load(&req->cancelled);
        bool can = gone || under_caps(v, req->domain_slot) ||
                   verdict_cache_get(v->vc, req->identity, req->spki, now_ms(v)) != NULL;
        if (!can) {
            for (lookup_t *l = v->lookups; l && !can; l = l->next)
                can = strcmp(l->identity, req->identity) == 0;
        }
        if (!can) {
            if (v->in_flight >= v->cfg->dane.max_lookups_in_flight)
                break; /* nothing can start until a lookup ends */
            prev = req;
            pp = &req->vnext;
            continue;
        }
        *pp = req->vnext;
        if (v->queue_tail == req)
            v->queue_tail = prev;
        v->queue_len--;
        metrics_gauge_add(G_tlsa_queue_len, -1);
        req->vnext = NULL;
        if (gone)
            finish_gone(req);
        else
            start_or_queue(v, req);
    }
}

static void process_new(dane_validator_t *v, dane_auth_request_t *req)
{
    if (atomic_load(&req->cancelled)) {
        finish_gone(req);
        return;
    }
    if (!admit(v, req))
        return;
    start_or_queue(v, req);
}

/* ---- loop plumbing ---- */

static void sweep_cb(uv_timer_t *t)
{
    dane_validator_t *v = t->data;
    /* Drop abandoned waiters of coalesced lookups (their slot is the lookup's). */
    for (lookup_t *l = v->lookups; l; l = l->next) {
        dane_auth_request_t **pp = &l->waiters;
        while (*pp) {
            dane_auth_request_t *req = *pp;
            if (atomic_load(&req->cancelled)) {
                *pp = req->vnext;
                finish_gone(req);
            } else {
                pp = &req->vnext;
            }
        }
    }
    pump_queue(v);
}

static void close_noop(uv_handle_t *h)
{
    (void)h;
}

static void begin_stop(dane_validator_t *v)
{
    if (v->stopping)
        return;
    v->stopping = true;
    while (v->queue_head) {
        dane_auth_request_t *req = v->queue_head;
        v->queue_head = req->vnext;
        v->queue_len--;
        metrics_gauge_add(G_tlsa_queue_len, -1);
        finish(req, DANE_AUTH_REFUSED, DANE_WHY_DEADLINE, "server stopping");
    }
    v->queue_tail = NULL;
    if (v->up) {
        upstream_close(v->up); /* lookups end with DN_ECLOSED */
        v->up = NULL;
    }
    uv_timer_stop(&v->sweep);
    uv_close((uv_handle_t *)&v->sweep, close_noop);
    uv_close((uv_handle_t *)&v->wakeup, close_noop);
}

static void wakeup_cb(uv_async_t *a)
{
    dane_validator_t *v = a->data;
    uv_mutex_lock(&v->inbox_lock);
    dane_auth_request_t *list = v->inbox;
    v->inbox = NULL;
    uv_mutex_unlock(&v->inbox_lock);
    /* The inbox is LIFO: reverse to keep arrival order (fair queueing). */
    dane_auth_request_t *ordered = NULL;
    while (list) {
        dane_auth_request_t *next = list->vnext;
        list->vnext = ordered;
        ordered = list;
        list = next;
    }
    while (ordered) {
        dane_auth_request_t *next = ordered->vnext;
        ordered->vnext = NULL;
        if (v->stopping)
            finish(ordered, DANE_AUTH_REFUSED, DANE_WHY_DEADLINE, "server stopping");
        else
            process_new(v, ordered);
        ordered = next;
    }
    if (atomic_load(&v->stop))
        begin_stop(v);
}

static void validator_main(void *arg)
{
    dane_validator_t *v = arg;
    log_set_thread_worker(999);
    metrics_thread_init(METRICS_MAX_THREADS - 1);
    uv_run(&v->loop, UV_RUN_DEFAULT);
    /* Anything that raced with the stop. */
    uv_mutex_lock(&v->inbox_lock);
    dane_auth_request_t *list = v->inbox;
    v->inbox = NULL;
    uv_mutex_unlock(&v->inbox_lock);
    while (list) {
        dane_auth_request_t *next = list->vnext;
        finish(list, DANE_AUTH_REFUSED, DANE_WHY_DEADLINE, "server stopping");
        list = next;
    }
    tls_thread_cleanup(); /* signature checks filled wolfCrypt's per-thread ECC cache */
}

int dane_validator_start(const config_t *cfg, dane_validator_t **out, char *err, size_t err_cap)
{
    dane_validator_t *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(err, err_cap, "out of memory");
        return DN_ENOMEM;
    }
    v->cfg = cfg;
    v->vc = verdict_cache_new(cfg->dane.cache_entries);
    if (!v->vc) {
        free(v);
        snprintf(err, err_cap, "out of memory");
        return DN_ENOMEM;
    }
    v->domain_in_flight = calloc(cfg->dane.n_allow ? cfg->dane.n_allow : 1, sizeof *v->domain_in_flight);
    if (!v->domain_in_flight || uv_loop_init(&v->loop) != 0) {
        free(v->domain_in_flight);
        free(v);
        snprintf(err, err_cap, "out of memory");
        return DN_ENOMEM;
    }
    /* A context of its own: authentication lookups and client recursion
     * cannot fill each other's queues.  Same stubs and trust anchors. */
    config_resolver_t rc = cfg->resolver;
    rc.max_lookups_in_flight = cfg->dane.max_lookups_in_flight;
    int r = upstream_new(&v->loop, &rc, &v->up, err, err_cap);
    if (r != DN_OK) {
        uv_loop_close(&v->loop);
        free(v->domain_in_flight);
        free(v);
        return r;
    }
    uv_mutex_init(&v->inbox_lock);
    uv_async_init(&v->loop, &v->wakeup, wakeup_cb);
    v->wakeup.data = v;
    uv_timer_init(&v->loop, &v->sweep);
    v->sweep.data = v;
    uv_timer_start(&v->sweep, sweep_cb, SWEEP_MS, SWEEP_MS);
    if (uv_thread_create(&v->thread, validator_main, v) != 0) {
        snprintf(err, err_cap, "cannot start the validator thread");
        return DN_EIO;
    }
    *out = v;
    return DN_OK;
}

void dane_validator_submit(dane_validator_t *v, dane_auth_request_t *req)
{
    uv_mutex_lock(&v->inbox_lock);
    req->vnext = v->inbox;
    v->inbox = req;
    uv_mutex_unlock(&v->inbox_lock);
    uv_async_send(&v->wakeup);
}

void dane_validator_stop(dane_validator_t *v)
{
    atomic_store(&v->stop, true);
    uv_async_send(&v->wakeup);
    uv_thread_join(&v->thread);
    verdict_cache_free(v->vc);
    uv_loop_close(&v->loop);
    uv_mutex_destroy(&v->inbox_lock);
    free(v->domain_in_flight);
    free(v);
}
