/* core/upstream.c — see upstream.h. */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "core/err.h"
#include "core/log.h"

struct upstream_query {
    upstream_t *u;
    upstream_query_t *prev, *next; /* in u's deadline-ordered list, while live */
    upstream_cb cb;
    void *arg;
    uint64_t deadline_ms;
    int async_id;
    bool live;       /* the caller's callback has not run yet */
    bool ub_pending; /* libunbound may still call us back */
};

struct upstream {
    uv_loop_t *loop;
    struct ub_ctx *ctx;
    uv_poll_t poll;
    uv_timer_t timer;
    upstream_query_t *head, *tail;
    unsigned in_flight;
    unsigned max_in_flight;
    unsigned handles_open;
    bool closing;
};

static int set_opt(struct ub_ctx *ctx, const char *name, const char *val, char *err, size_t cap)
{
    int rc = ub_ctx_set_option(ctx, name, val);
    if (rc != 0) {
        snprintf(err, cap, "libunbound option %s %s: %s", name, val, ub_strerror(rc));
        return DN_ECONFIG;
    }
    return DN_OK;
}

static int set_opt_u64(struct ub_ctx *ctx, const char *name, uint64_t v, char *err, size_t cap)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return set_opt(ctx, name, buf, err, cap);
}

static int configure(struct ub_ctx *ctx, const config_resolver_t *rc, char *err, size_t cap)
{
    int r;
    /* libunbound's defaults are sized for an embedded client (LIBRARIES.md). */
    if ((r = set_opt_u64(ctx, "outgoing-range:", rc->outgoing_range, err, cap)) ||
        (r = set_opt_u64(ctx, "num-queries-per-thread:", rc->num_queries_per_thread, err, cap)) ||
        (r = set_opt_u64(ctx, "msg-cache-size:", rc->msg_cache_size, err, cap)) ||
        (r = set_opt_u64(ctx, "rrset-cache-size:", rc->rrset_cache_size, err, cap)) ||
        (r = set_opt_u64(ctx, "key-cache-size:", rc->key_cache_size, err, cap)) ||
        (r = set_opt_u64(ctx, "infra-host-ttl:", rc->infra_host_ttl, err, cap)))
        return r;
    /* why_bogus is only filled in with val-log-level >= 2. */
    if ((r = set_opt(ctx, "val-log-level:", "2", err, cap)))
        return r;
    if (!rc->dnssec && (r = set_opt(ctx, "module-config:", "iterator", err, cap)))
        return r;
    if (rc->mode == CONFIG_MODE_FORWARD) {
        for (unsigned i = 0; i < rc->n_forward_addresses; i++) {
            int e = ub_ctx_set_fwd(ctx, rc->forward_addresses[i]);
            if (e != 0) {
                snprintf(err, cap, "forward address %s: %s", rc->forward_addresses[i], ub_strerror(e));
                return DN_ECONFIG;
            }
        }
    } else if (rc->root_hints && (r = set_opt(ctx, "root-hints:", rc->root_hints, err, cap))) {
        return r;
    }
    if (rc->dnssec && rc->trust_anchor_file) {
        int e = ub_ctx_add_ta_file(ctx, rc->trust_anchor_file);
        if (e != 0) {
            snprintf(err, cap, "trust anchor file %s: %s", rc->trust_anchor_file, ub_strerror(e));
            return DN_ECONFIG;
        }
    }
    for (unsigned i = 0; i < rc->n_stub_zones; i++) {
        const config_stub_zone_t *z = &rc->stub_zones[i];
        for (unsigned j = 0; j < z->n_addresses; j++) {
            int e = ub_ctx_set_stub(ctx, z->zone, z->addresses[j], 0);
            if (e != 0) {
                snprintf(err, cap, "stub zone %s address %s: %s", z->zone, z->addresses[j], ub_strerror(e));
                return DN_ECONFIG;
            }
        }
        if (rc->dnssec && z->trust_anchor && ub_ctx_add_ta(ctx, z->trust_anchor) != 0) {
            snprintf(err, cap, "stub zone %s: bad trust anchor", z->zone);
            return DN_ECONFIG;
        }
        if (rc->dnssec && z->trust_anchor_file && ub_ctx_add_ta_file(ctx, z->trust_anchor_file) != 0) {
            snprintf(err, cap, "stub zone %s: cannot read trust anchor file %s", z->zone, z->trust_anchor_file);
            return DN_ECONFIG;
        }
    }
    for (unsigned i = 0; i < rc->n_unbound_options; i++) {
        const char *o = rc->unbound_options[i];
        const char *colon = strchr(o, ':');
        if (!colon) {
            snprintf(err, cap, "unbound option '%s': expected 'name: value'", o);
            return DN_ECONFIG;
        }
        char name[128];
        size_t n = (size_t)(colon - o) + 1;
        if (n >= sizeof name) {
            snprintf(err, cap, "unbound option '%s': name too long", o);
            return DN_ECONFIG;
        }
        memcpy(name, o, n);
        name[n] = 0;
        const char *val = colon + 1;
        while (*val == ' ')
            val++;
        if ((r = set_opt(ctx, name, val, err, cap)))
            return r;
    }
    return DN_OK;
}

static void timer_cb(uv_timer_t *t);

static uint64_t now_ms(uv_loop_t *loop)
{
    return uv_now(loop);
}

static void list_remove(upstream_t *u, upstream_query_t *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        u->head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        u->tail = q->prev;
    q->prev = q->next = NULL;
}

/* Insert keeping the list ordered by deadline (new ones usually go last). */
static void list_insert(upstream_t *u, upstream_query_t *q)
{
    upstream_query_t *after = u->tail;
    while (after && after->deadline_ms > q->deadline_ms)
        after = after->prev;
    q->prev = after;
    q->next = after ? after->next : u->head;
    if (q->next)
        q->next->prev = q;
    else
        u->tail = q;
    if (after)
        after->next = q;
    else
        u->head = q;
}

static void arm_timer(upstream_t *u)
{
    if (u->closing)
        return;
    if (!u->head) {
        uv_timer_stop(&u->timer);
        return;
    }
    uint64_t now = now_ms(u->loop);
    uint64_t due = u->head->deadline_ms > now ? u->head->deadline_ms - now : 0;
    uv_timer_start(&u->timer, timer_cb, due, 0);
}

/* Run the caller's callback once and detach the query from the live list. */
static void finish(upstream_query_t *q, int err, const upstream_result_t *res)
{
    upstream_t *u = q->u;
    if (!q->live)
        return;
    q->live = false;
    list_remove(u, q);
    u->in_flight--;
    q->cb(q->arg, err, res);
}

static void ub_answer_cb(void *mydata, int err, struct ub_result *result)
{
    upstream_query_t *q = mydata;
    q->ub_pending = false;
    if (q->live) {
        if (err != 0 || !result) {
            LOG(LOG_DEBUG, 0, "libunbound error: %s", ub_strerror(err));
            finish(q, DN_EIO, NULL);
        } else {
            upstream_result_t r = {
                .packet = result->answer_packet,
                .len = result->answer_len > 0 ? (size_t)result->answer_len : 0,
                .rcode = result->rcode,
                .secure = result->secure != 0,
                .bogus = result->bogus != 0,
                .nxdomain = result->nxdomain != 0,
                .havedata = result->havedata != 0,
                .why_bogus = result->why_bogus,
                .ttl = result->ttl > 0 ? (uint32_t)result->ttl : 0,
            };
            finish(q, DN_OK, &r);
        }
    }
    if (result)
        ub_resolve_free(result);
    free(q);
}

/* Try to withdraw the query from libunbound; free it when that worked. */
static void withdraw(upstream_query_t *q)
{
    if (q->ub_pending && ub_cancel(q->u->ctx, q->async_id) == 0)
        q->ub_pending = false;
    if (!q->ub_pending)
        free(q);
    /* else: delivery is under way; ub_answer_cb frees it. */
}

static void timer_cb(uv_timer_t *t)
{
    upstream_t *u = t->data;
    uint64_t now = now_ms(u->loop);
    while (u->head && u->head->deadline_ms <= now) {
        upstream_query_t *q = u->head;
        finish(q, DN_ETIMEOUT, NULL);
        withdraw(q);
    }
    arm_timer(u);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
    (void)events;
    upstream_t *u = p->data;
    if (status < 0)
        return;
    int rc = ub_process(u->ctx);
    if (rc != 0)
        LOG(LOG_WARN, 0, "ub_process: %s", ub_strerror(rc));
    arm_timer(u);
}

int upstream_new(uv_loop_t *loop, const config_resolver_t *rc, upstream_t **out, char *err, size_t err_cap)
{
    upstream_t *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, err_cap, "out of memory");
        return DN_ENOMEM;
    }
    u->loop = loop;
    u->max_in_flight = rc->max_lookups_in_flight ? rc->max_lookups_in_flight : 1024;
    u->ctx = ub_ctx_create();
    if (!u->ctx) {
        snprintf(err, err_cap, "ub_ctx_create failed");
        free(u);
        return DN_ENOMEM;
    }
    int r = configure(u->ctx, rc, err, err_cap);
    if (r == DN_OK && ub_ctx_async(u->ctx, 1) != 0) {
        snprintf(err, err_cap, "ub_ctx_async failed");
        r = DN_EIO;
    }
    /* ub_fd finalises the context (starts its thread). */
    int fd = r == DN_OK ? ub_fd(u->ctx) : -1;
    if (r == DN_OK && fd < 0) {
        snprintf(err, err_cap, "libunbound context could not start (check the resolver settings)");
        r = DN_EIO;
    }
    if (r != DN_OK) {
        ub_ctx_delete(u->ctx);
        free(u);
        return r;
    }
    uv_poll_init(loop, &u->poll, fd);
    u->poll.data = u;
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    u->handles_open = 2;
    uv_poll_start(&u->poll, UV_READABLE, poll_cb);
    *out = u;
    return DN_OK;
}

int upstream_resolve(upstream_t *u, const char *name, uint16_t qtype, uint16_t qclass, uint32_t timeout_ms,
                     upstream_cb cb, void *arg, upstream_query_t **handle)
{
    if (u->closing)
        return DN_ECLOSED;
    if (u->in_flight >= u->max_in_flight)
        return DN_ELIMIT;
    upstream_query_t *q = calloc(1, sizeof *q);
    if (!q)
        return DN_ENOMEM;
    q->u = u;
    q->cb = cb;
    q->arg = arg;
    q->deadline_ms = now_ms(u->loop) + timeout_ms;
    int rc = ub_resolve_async(u->ctx, name, qtype, qclass, q, ub_answer_cb, &q->async_id);
    if (rc != 0) {
        LOG(LOG_WARN, 0, "ub_resolve_async(%s): %s", name, ub_strerror(rc));
        free(q);
        return DN_EIO;
    }
    q->live = true;
    q->ub_pending = true;
    u->in_flight++;
    bool was_empty = u->head == NULL;
    list_insert(u, q);
    if (was_empty || u->head == q)
        arm_timer(u);
    if (handle)
        *handle = q;
    return DN_OK;
}

void upstream_cancel(upstream_query_t *q)
{
    if (!q->live)
        return;
    finish(q, DN_ECLOSED, NULL);
    withdraw(q);
}

unsigned upstream_in_flight(const upstream_t *u)
{
    return u->in_flight;
}

static void handle_closed(uv_handle_t *h)
{
    upstream_t *u = h->data;
    if (--u->handles_open > 0)
        return;
    /* ub_ctx_delete waits for libunbound's thread; queries still pending in it
     * are dropped without callbacks, so free those structs ourselves. */
    ub_ctx_delete(u->ctx);
    free(u);
}

void upstream_close(upstream_t *u)
{
    if (u->closing)
        return;
    while (u->head)
        upstream_cancel(u->head);
    u->closing = true;
    uv_close((uv_handle_t *)&u->poll, handle_closed);
    uv_close((uv_handle_t *)&u->timer, handle_closed);
}
