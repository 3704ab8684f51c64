/* resolver/session.c — one DoT client connection.
 *
 * Read this first — the life of a session:
 *   accepted → handshaking (deadline: handshake-timeout-ms, which also covers
 *   authentication) → authenticating (reads paused; queries already received
 *   wait) → serving(identity or anonymous) → closing
 *   or, after a failed authentication: refusing (every query received within a
 *   short grace period is answered REFUSED + EDE 18 naming the reason) → closing.
 *
 * Ownership: the session memory holds the stream_t; it is freed only in the
 * stream's on_closed callback, after every pending upstream query has been
 * cancelled (their callbacks run synchronously) and any validator request has
 * been detached.  Everything here runs on the worker's loop. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "dane/validator.h"
#include "resolver/server.h"

#define REFUSE_GRACE_MS 1000
#define REFUSE_MAX_ANSWERS 16
#define CLOSE_LINGER_MS 2000

typedef enum {
    SESS_HANDSHAKING = 0,
    SESS_AUTHENTICATING,
    SESS_SERVING,
    SESS_REFUSING,
    SESS_CLOSING,
} session_state_t;

typedef struct pending_query {
    struct pending_query *prev, *next;
    session_t *s;
    upstream_query_t *uq;
    query_info_t qi;
} pending_query_t;

struct session {
    stream_t stream; /* first: on_closed hands back the stream */
    worker_t *w;
    worker_listener_t *wl;
    session_t *prev, *next; /* in w->sessions */
    connlimit_addr_t peer;
    char peer_text[64];
    session_state_t state;
    bool counted_limits;    /* holds a connlimit slot and a connection count */
    bool counted_handshake; /* holds a handshake slot */
    bool got_query;
    bool served;            /* reached SERVING once: the connection did not end as a strike */
    bool waiting;           /* in w->waiting_*: its prefix is suspect and has no handshake token yet */
    session_t *wait_prev, *wait_next;
    unsigned refused_answers;
    unsigned in_flight;
    pending_query_t *pending;
    dane_auth_request_t *auth;
    runtime_t *rt; /* the limits and TLS context this connection was accepted with (a reference) */
    /* Identity: NULL = anonymous.  The policy layer maps it to a tier. */
    char *identity;
    uint32_t view; /* answer cache view; 0 until policy tiers exist */
    dane_why_t refuse_why;
    char refuse_text[200];
};

static void on_closed(stream_t *st, stream_close_reason_t reason);
static int on_tls_start(stream_t *st);
static void on_established(stream_t *st);
static void on_message(stream_t *st, const uint8_t *msg, size_t len);

static const stream_cbs_t session_cbs = {
    .on_tls_start = on_tls_start,
    .on_established = on_established,
    .on_message = on_message,
    .on_closed = on_closed,
};

static inline session_t *from_stream(stream_t *st)
{
    return (session_t *)st;
}

static const config_limits_t *limits(const session_t *s)
{
    return &s->rt->limits;
}

static void enter_refusing(session_t *s, dane_why_t why, const char *detail);
static void waiting_remove(session_t *s);

/* Give up on a pending validator request: it is freed when it comes back
 * through the worker's inbox (owner NULL). */
static void detach_auth(session_t *s)
{
    if (!s->auth)
        return;
    atomic_store(&s->auth->cancelled, true);
    s->auth->owner = NULL;
    metrics_gauge_add(G_auth_pending, -1);
    s->auth = NULL;
}

/* ---- timers ---- */

static void timer_close_cb(uv_timer_t *t)
{
    session_t *s = from_stream(t->data);
    switch (s->state) {
    case SESS_HANDSHAKING:
        if (s->waiting) {
            metrics_inc(M_handshake_throttle_timeout);
            waiting_remove(s);
        } else {
            metrics_inc(s->stream.tls ? M_handshake_timeout : M_tls_no_client_hello);
        }
        LOG(LOG_DEBUG, s->stream.id, "%s: handshake timeout", s->peer_text);
        break;
    case SESS_AUTHENTICATING:
        /* Not a silent hang: detach from the validator and tell the client
         * why, through the usual refusal path. */
        detach_auth(s);
        metrics_inc(M_auth_reason_deadline);
        enter_refusing(s, DANE_WHY_DEADLINE, "timeout: authentication deadline passed");
        return;
    case SESS_SERVING:
        metrics_inc(s->got_query ? M_idle_timeout : M_first_query_timeout);
        break;
    default:
        break;
    }
    if (s->state == SESS_CLOSING) {
        stream_close(&s->stream, false); /* linger over: force */
        return;
    }
    s->state = SESS_CLOSING;
    uv_timer_start(&s->stream.timer, timer_close_cb, CLOSE_LINGER_MS, 0);
    stream_close(&s->stream, true);
}

static void start_timer(session_t *s, uint64_t ms)
{
    uv_timer_start(&s->stream.timer, timer_close_cb, ms, 0);
}

static void arm_idle(session_t *s)
{
    if (s->state != SESS_SERVING || s->in_flight > 0)
        return;
    start_timer(s, s->got_query ? limits(s)->idle_timeout_ms : limits(s)->first_query_timeout_ms);
}

static void session_close(session_t *s, bool graceful)
{
    if (s->state == SESS_CLOSING && graceful)
        return;
    s->state = SESS_CLOSING;
    if (graceful)
        start_timer(s, CLOSE_LINGER_MS);
    stream_close(&s->stream, graceful);
}

/* ---- responses ---- */

static void count_rcode(int rcode)
{
    metrics_inc(M_responses);
    switch (rcode) {
    case WIRE_RC_NOERROR: metrics_inc(M_rcode_noerror); break;
    case WIRE_RC_FORMERR: metrics_inc(M_rcode_formerr); break;
    case WIRE_RC_SERVFAIL: metrics_inc(M_rcode_servfail); break;
    case WIRE_RC_NXDOMAIN: metrics_inc(M_rcode_nxdomain); break;
    case WIRE_RC_NOTIMP: metrics_inc(M_rcode_notimp); break;
    case WIRE_RC_REFUSED: metrics_inc(M_rcode_refused); break;
    default: metrics_inc(M_rcode_other); break;
    }
}

static void resp_opts(const session_t *s, pipeline_resp_opts_t *ro, int ede, const char *text)
{
    ro->keepalive_100ms = (int)(limits(s)->idle_timeout_ms / 100);
    if (ro->keepalive_100ms > 65535)
        ro->keepalive_100ms = 65535;
    ro->ede_code = ede;
    ro->ede_text = text;
}

static void send_response(session_t *s, const uint8_t *msg, size_t len, int rcode)
{
    count_rcode(rcode);
    int rc = stream_send(&s->stream, msg, len);
    if (rc != DN_OK && rc != DN_ECLOSED)
        LOG(LOG_WARN, s->stream.id, "cannot queue response: %s", dn_strerror(rc));
}

static void send_error(session_t *s, const query_info_t *qi, int rcode, int ede, const char *text)
{
    pipeline_resp_opts_t ro;
    resp_opts(s, &ro, ede, text);
    size_t len;
    if (pipeline_error(qi, rcode, &ro, s->w->resp_buf, sizeof s->w->resp_buf, &len) == DN_OK)
        send_response(s, s->w->resp_buf, len, rcode);
}

static void send_body(session_t *s, const query_info_t *qi, const uint8_t *body, size_t len, bool secure)
{
    pipeline_resp_opts_t ro;
    resp_opts(s, &ro, -1, NULL);
    size_t out_len;
    int rc = pipeline_finish(qi, body, len, secure, &ro, s->w->resp_buf, sizeof s->w->resp_buf, &out_len);
    if (rc != DN_OK) {
        send_error(s, qi, WIRE_RC_SERVFAIL, WIRE_EDE_OTHER, "cannot build response");
        return;
    }
    send_response(s, s->w->resp_buf, out_len, WIRE_RCODE(body[3]));
}

/* ---- queries ---- */

static void cache_key_for(const session_t *s, const query_info_t *qi, cache_key_t *k)
{
    memset(k, 0, sizeof *k);
    k->view = s->view;
    k->qname = qi->qname;
    k->qtype = qi->qtype;
    k->qclass = qi->qclass;
    k->flags = (uint8_t)((qi->do_bit ? CACHE_KEY_DO : 0) | ((qi->flags & WIRE_F_CD) ? CACHE_KEY_CD : 0));
}

static void query_done(session_t *s)
{
    s->in_flight--;
    if (s->in_flight < limits(s)->max_queries_in_flight)
        stream_resume(&s->stream, STREAM_PAUSE_INFLIGHT);
    arm_idle(s);
}

static void upstream_answer(void *arg, int err, const upstream_result_t *res)
{
    pending_query_t *pq = arg;
    session_t *s = pq->s;
    worker_t *w = s->w;
    metrics_gauge_add(G_upstream_in_flight, -1);
    /* unlink */
    if (pq->prev)
        pq->prev->next = pq->next;
    else
        s->pending = pq->next;
    if (pq->next)
        pq->next->prev = pq->prev;

    if (err == DN_ECLOSED) {
        /* Session is closing: nothing to answer. */
        s->in_flight--;
        free(pq);
        return;
    }
    const query_info_t *qi = &pq->qi;
    bool cd = (qi->flags & WIRE_F_CD) != 0;
    if (err == DN_ETIMEOUT) {
        metrics_inc(M_upstream_timeout);
        send_error(s, qi, WIRE_RC_SERVFAIL, WIRE_EDE_NO_REACHABLE_AUTHORITY, "resolution timed out");
    } else if (err != DN_OK || !res || res->len < WIRE_HEADER_LEN) {
        metrics_inc(M_upstream_error);
        send_error(s, qi, WIRE_RC_SERVFAIL, WIRE_EDE_OTHER, "resolver error");
    } else if (res->bogus && !cd) {
        metrics_inc(M_dnssec_bogus);
        char text[WIRE_EDE_TEXT_MAX + 1];
        snprintf(text, sizeof text, "%s", res->why_bogus ? res->why_bogus : "DNSSEC validation failed");
        send_error(s, qi, WIRE_RC_SERVFAIL, WIRE_EDE_DNSSEC_BOGUS, text);
    } else {
        size_t blen;
        int rc = pipeline_prepare_body(res->packet, res->len, qi->do_bit, qi->qtype, w->body_buf,
                                       sizeof w->body_buf, &blen);
        if (rc != DN_OK) {
            metrics_inc(M_upstream_error);
            send_error(s, qi, WIRE_RC_SERVFAIL, WIRE_EDE_OTHER, "malformed upstream answer");
        } else {
            bool secure = res->secure && !res->bogus;
            if (secure)
                metrics_inc(M_dnssec_secure);
            if (!res->bogus) {
                cache_key_t k;
                cache_key_for(s, qi, &k);
                (void)cache_store(w->cache, &k, w->body_buf, blen, secure ? 1u : 0u, uv_now(&w->loop));
            }
            send_body(s, qi, w->body_buf, blen, secure);
        }
    }
    free(pq);
    query_done(s);
}

static void refuse_query(session_t *s, const query_info_t *qi)
{
    send_error(s, qi, WIRE_RC_REFUSED, WIRE_EDE_PROHIBITED, s->refuse_text);
}

static void handle_query(session_t *s, const uint8_t *msg, size_t len)
{
    worker_t *w = s->w;
    metrics_inc(M_queries);
    if (len == 0) {
        /* No ID to answer with: close. */
        metrics_inc(M_frame_zero_length);
        session_close(s, true);
        return;
    }
    query_info_t qi;
    pipeline_action_t act = pipeline_classify(msg, len, &qi);
    if (act == PIPELINE_DROP) {
        session_close(s, true);
        return;
    }
    if (s->state == SESS_REFUSING) {
        /* The refusal grace timer keeps running: answer and let it close.
         * A refused pipeliner gets a few answers, not thousands. */
        if (++s->refused_answers > REFUSE_MAX_ANSWERS) {
            session_close(s, true);
            return;
        }
        refuse_query(s, &qi);
        return;
    }
    s->got_query = true;
    uv_timer_stop(&s->stream.timer); /* idle/first-query: re-armed when nothing is in flight */
    switch (act) {
    case PIPELINE_FORMERR:
        send_error(s, &qi, WIRE_RC_FORMERR, -1, NULL);
        arm_idle(s);
        return;
    case PIPELINE_NOTIMP:
        send_error(s, &qi, WIRE_RC_NOTIMP, -1, NULL);
        arm_idle(s);
        return;
    case PIPELINE_BADVERS:
        send_error(s, &qi, WIRE_RC_BADVERS, -1, NULL);
        arm_idle(s);
        return;
    case PIPELINE_REFUSED_XFR:
        send_error(s, &qi, WIRE_RC_REFUSED, WIRE_EDE_PROHIBITED, "zone transfer is not offered on this listener");
        arm_idle(s);
        return;
    case PIPELINE_REFUSED_CLASS:
        send_error(s, &qi, WIRE_RC_REFUSED, -1, NULL);
        arm_idle(s);
        return;
    default:
        break;
    }

    cache_key_t k;
    cache_key_for(s, &qi, &k);
    size_t blen;
    uint32_t meta = 0;
    if (cache_lookup(w->cache, &k, uv_now(&w->loop), w->body_buf, sizeof w->body_buf, &blen, &meta) == DN_OK) {
        metrics_inc(M_cache_hits);
        send_body(s, &qi, w->body_buf, blen, (meta & 1u) != 0);
        arm_idle(s);
        return;
    }
    metrics_inc(M_cache_misses);

    pending_query_t *pq = calloc(1, sizeof *pq);
    if (!pq) {
        send_error(s, &qi, WIRE_RC_SERVFAIL, WIRE_EDE_OTHER, "out of memory");
        return;
    }
    pq->s = s;
    pq->qi = qi;
    char name[WIRE_NAME_TEXT_MAX];
    if (wire_name_to_text(&qi.qname, name, sizeof name) != DN_OK) {
        free(pq);
        send_error(s, &qi, WIRE_RC_FORMERR, -1, NULL);
        return;
    }
    const config_t *cfg = w->srv->cfg;
    int rc = upstream_resolve(w->up, name, qi.qtype, qi.qclass, cfg->resolver.query_timeout_ms, upstream_answer, pq,
                              &pq->uq);
    if (rc != DN_OK) {
        free(pq);
        send_error(s, &qi, WIRE_RC_SERVFAIL, WIRE_EDE_OTHER,
                   rc == DN_ELIMIT ? "resolver busy" : "resolver unavailable");
        arm_idle(s);
        return;
    }
    metrics_inc(M_upstream_queries);
    metrics_gauge_add(G_upstream_in_flight, 1);
    pq->next = s->pending;
    if (s->pending)
        s->pending->prev = pq;
    s->pending = pq;
    s->in_flight++;
    if (s->in_flight >= limits(s)->max_queries_in_flight) {
        metrics_inc(M_read_paused_inflight);
        stream_pause(&s->stream, STREAM_PAUSE_INFLIGHT);
    }
}

static void on_message(stream_t *st, const uint8_t *msg, size_t len)
{
    session_t *s = from_stream(st);
    if (s->state != SESS_SERVING && s->state != SESS_REFUSING)
        return;
    handle_query(s, msg, len);
}

/* ---- authentication ---- */

static uint64_t mono_ms(void);

static void enter_serving(session_t *s)
{
    server_t *srv = s->w->srv;
    s->state = SESS_SERVING;
    if (!s->served && atomic_load_explicit(&srv->suspect_on, memory_order_relaxed)) {
        uv_mutex_lock(&srv->limit_lock);
        reputation_served(srv->reputation, &s->peer, mono_ms());
        uv_mutex_unlock(&srv->limit_lock);
    }
    s->served = true;
    stream_resume(&s->stream, STREAM_PAUSE_USER);
    arm_idle(s);
}

static void enter_refusing(session_t *s, dane_why_t why, const char *detail)
{
    s->state = SESS_REFUSING;
    s->refuse_why = why;
    snprintf(s->refuse_text, sizeof s->refuse_text, "DANE: %s", detail);
    metrics_inc(M_auth_refused);
    LOG(LOG_INFO, s->stream.id, "%s: refused: %s", s->peer_text, s->refuse_text);
    /* Answer what arrives within the grace period, then close. */
    start_timer(s, REFUSE_GRACE_MS);
    stream_resume(&s->stream, STREAM_PAUSE_USER);
}

static void count_why(dane_why_t why)
{
    static const metrics_counter_t map[] = {
        [DANE_WHY_NO_CERT] = M_auth_reason_no_cert,
        [DANE_WHY_NOT_ALLOWED] = M_auth_reason_not_allowed,
        [DANE_WHY_AMBIGUOUS] = M_auth_reason_ambiguous,
        [DANE_WHY_BAD_NAME] = M_auth_reason_bad_name,
        [DANE_WHY_BAD_CERT] = M_auth_reason_bad_cert,
        [DANE_WHY_BOGUS] = M_auth_reason_bogus,
        [DANE_WHY_INSECURE] = M_auth_reason_insecure,
        [DANE_WHY_NO_TLSA] = M_auth_reason_no_tlsa,
        [DANE_WHY_NO_MATCH] = M_auth_reason_no_match,
        [DANE_WHY_EXPIRED] = M_auth_reason_expired,
        [DANE_WHY_TIMEOUT] = M_auth_reason_timeout,
        [DANE_WHY_QUEUE_FULL] = M_auth_reason_queue_full,
        [DANE_WHY_LOOKUP_ERROR] = M_auth_reason_lookup_error,
        [DANE_WHY_TLS12] = M_auth_reason_tls12,
        [DANE_WHY_PKIX] = M_auth_reason_pkix,
        [DANE_WHY_DEADLINE] = M_auth_reason_deadline,
    };
    if (why > DANE_WHY_NONE && (size_t)why < sizeof map / sizeof map[0])
        metrics_inc(map[why]);
}

/* The verdict for a client that is not authenticated: anonymous where the
 * listener allows it, refused otherwise. */
static void not_authenticated(session_t *s, dane_why_t why, const char *detail)
{
    count_why(why);
    metrics_inc(M_auth_not_authenticated);
    if (s->wl->lst->cfg->client_auth == CONFIG_AUTH_OPTIONAL) {
        metrics_inc(M_auth_anonymous);
        LOG(LOG_INFO, s->stream.id, "%s: anonymous (%s)", s->peer_text, detail);
        enter_serving(s);
        return;
    }
    enter_refusing(s, why, detail);
}

static void apply_verdict(session_t *s, dane_auth_request_t *req)
{
    metrics_gauge_add(G_auth_pending, -1);
    s->auth = NULL;
    if (s->state != SESS_AUTHENTICATING)
        return; /* closing already (deadline, peer gone): nothing to apply */
    if (req->outcome == DANE_AUTH_OK) {
        s->identity = strdup(req->identity);
        if (!s->identity) {
            enter_refusing(s, DANE_WHY_LOOKUP_ERROR, "out of memory");
            return;
        }
        metrics_inc(M_auth_ok);
        LOG(LOG_INFO, s->stream.id, "%s: authenticated as %s", s->peer_text, s->identity);
        enter_serving(s);
        return;
    }
    char detail[sizeof req->detail + sizeof req->identity + 8];
    if (req->identity[0])
        snprintf(detail, sizeof detail, "%s for %s", req->detail, req->identity);
    else
        snprintf(detail, sizeof detail, "%s", req->detail);
    if (req->outcome == DANE_AUTH_NOT_AUTHENTICATED) {
        not_authenticated(s, req->why, detail);
        return;
    }
    count_why(req->why);
    enter_refusing(s, req->why, detail);
}

/* Runs on the worker loop when the validator hands a request back. */
void session_auth_done(dane_auth_request_t *req)
{
    session_t *s = req->owner;
    worker_t *w = req->owner_ctx;
    if (req->cache_ttl_ms > 0 && req->identity[0])
        verdict_cache_put(w->vcache, req->identity, req->cache_any_key ? NULL : req->spki, req->outcome, req->why,
                          req->detail, uv_now(&w->loop), req->cache_ttl_ms);
    if (s) {
        apply_verdict(s, req);
    }
    tls_chain_free(&req->chain);
    free(req);
}

/* Validator thread: queue the request on its worker and wake the loop. */
static void auth_done_cross_thread(dane_auth_request_t *req)
{
    /* Only owner_ctx (fixed at submission) is read here: owner belongs to
     * the worker thread. */
    worker_t *w = req->owner_ctx;
    uv_mutex_lock(&w->inbox_lock);
    req->owner_next = w->inbox;
    w->inbox = req;
    uv_mutex_unlock(&w->inbox_lock);
    uv_async_send(&w->wakeup);
}

static void start_authentication(session_t *s)
{
    worker_t *w = s->w;
    const config_listener_t *lc = s->wl->lst->cfg;
    if (lc->client_auth == CONFIG_AUTH_NONE) {
        enter_serving(s);
        return;
    }
    tls_chain_t chain;
    int rc = tls_conn_peer_chain(s->stream.tls, &chain);
    if (rc == DN_ENOTFOUND) {
        not_authenticated(s, DANE_WHY_NO_CERT, "no client certificate");
        return;
    }
    if (rc != DN_OK) {
        count_why(DANE_WHY_BAD_CERT);
        enter_refusing(s, DANE_WHY_BAD_CERT, "client certificate chain unreadable");
        return;
    }
    if (!tls_conn_is_tls13(s->stream.tls)) {
        tls_chain_free(&chain);
        not_authenticated(s, DANE_WHY_TLS12, "DANE client authentication needs TLS 1.3");
        return;
    }
    if (!w->srv->validator) {
        tls_chain_free(&chain);
        not_authenticated(s, DANE_WHY_LOOKUP_ERROR, "no validator");
        return;
    }
    dane_auth_request_t *req = calloc(1, sizeof *req);
    if (!req) {
        tls_chain_free(&chain);
        enter_refusing(s, DANE_WHY_LOOKUP_ERROR, "out of memory");
        return;
    }
    req->chain = chain;
    req->owner = s;
    req->done = auth_done_cross_thread;
    req->owner_ctx = w;
    s->state = SESS_AUTHENTICATING;
    metrics_gauge_add(G_auth_pending, 1);
    /* Decide here what needs no lookup (identity, allow-list) and what this
     * worker already knows (a verdict it received before): only the rest
     * crosses to the validator thread. */
    bool decided = !dane_validator_prepare(&w->srv->cfg->dane, req);
    if (!decided) {
        const verdict_t *vd = verdict_cache_get(w->vcache, req->identity, req->spki, uv_now(&w->loop));
        if (vd) {
            metrics_inc(M_verdict_cache_hits);
            req->outcome = vd->outcome;
            req->why = vd->why;
            snprintf(req->detail, sizeof req->detail, "%s", vd->detail);
            decided = true;
        }
    }
    if (decided) {
        apply_verdict(s, req);
        tls_chain_free(&req->chain);
        free(req);
        return;
    }
    s->auth = req;
    /* Reads stay paused until the verdict: queries already received wait. */
    stream_pause(&s->stream, STREAM_PAUSE_USER);
    dane_validator_submit(w->srv->validator, req);
}

/* ---- stream callbacks ---- */

static void release_handshake(session_t *s);

/* Shedding order under pressure: never an authenticated client.  First the
 * oldest connection still in its TLS handshake, then one waiting for (or
 * refused by) authentication, then an idle anonymous one. */
static int shed_rank(const session_t *s, bool handshakes_only)
{
    switch (s->state) {
    case SESS_HANDSHAKING: return (!handshakes_only || s->counted_handshake) ? 3 : 0;
    case SESS_AUTHENTICATING:
    case SESS_REFUSING: return handshakes_only ? 0 : 2;
    case SESS_SERVING: return (!handshakes_only && !s->identity && s->in_flight == 0) ? 1 : 0;
    default: return 0;
    }
}

bool session_shed_oldest(worker_t *w, bool handshakes_only, const session_t *except)
{
    session_t *victim = NULL;
    int best = 0;
    /* The list is newest first: the last candidate of the best rank is the oldest. */
    for (session_t *s = w->sessions; s; s = s->next) {
        if (s == except)
            continue;
        int r = shed_rank(s, handshakes_only);
        if (r > 0 && r >= best) {
            best = r;
            victim = s;
        }
    }
    if (!victim)
        return false;
    metrics_inc(M_conn_shed_unauthenticated);
    LOG(LOG_DEBUG, victim->stream.id, "%s: shed under pressure", victim->peer_text);
    release_handshake(victim);
    victim->state = SESS_CLOSING;
    stream_close(&victim->stream, false);
    return true;
}

/* Take a slot of max-handshakes (shedding this worker's oldest handshake
 * when full).  0, or -1 when no slot could be had. */
static int take_handshake_slot(session_t *s)
{
    server_t *srv = s->w->srv;
    uint32_t max_handshakes = limits(s)->max_handshakes;
    unsigned now = atomic_fetch_add(&srv->handshakes, 1) + 1;
    if (now > max_handshakes) {
        atomic_fetch_sub(&srv->handshakes, 1);
        metrics_inc(M_conn_limit_handshakes);
        /* Make room by shedding this worker's oldest handshake: an honest
         * handshake takes one round trip, so the oldest is the likeliest
         * to be a stalled (slowloris) peer. */
        if (!session_shed_oldest(s->w, true, s))
            return -1;
        now = atomic_fetch_add(&srv->handshakes, 1) + 1;
        if (now > max_handshakes) {
            atomic_fetch_sub(&srv->handshakes, 1);
            return -1;
        }
    }
    s->counted_handshake = true;
    metrics_gauge_peak(G_handshakes_peak, metrics_gauge_add(G_handshakes, 1));
    return 0;
}

static uint64_t mono_ms(void)
{
    return uv_hrtime() / 1000000u;
}

/* ---- suspect prefixes: handshakes wait for a token (resolver/reputation.h) ---- */

#define ADMIT_TICK_MS 20

static void admit_tick_cb(uv_timer_t *t)
{
    session_admit_waiting(t->data);
}

static void waiting_add(session_t *s)
{
    worker_t *w = s->w;
    s->waiting = true;
    s->wait_next = NULL;
    s->wait_prev = w->waiting_tail;
    if (w->waiting_tail)
        w->waiting_tail->wait_next = s;
    else
        w->waiting_head = s;
    w->waiting_tail = s;
    metrics_gauge_peak(G_handshakes_waiting_peak, metrics_gauge_add(G_handshakes_waiting, 1));
    if (!uv_is_active((uv_handle_t *)&w->admit_tick))
        uv_timer_start(&w->admit_tick, admit_tick_cb, ADMIT_TICK_MS, ADMIT_TICK_MS);
}

static void waiting_remove(session_t *s)
{
    if (!s->waiting)
        return;
    worker_t *w = s->w;
    if (s->wait_prev)
        s->wait_prev->wait_next = s->wait_next;
    else
        w->waiting_head = s->wait_next;
    if (s->wait_next)
        s->wait_next->wait_prev = s->wait_prev;
    else
        w->waiting_tail = s->wait_prev;
    s->waiting = false;
    s->wait_prev = s->wait_next = NULL;
    metrics_gauge_add(G_handshakes_waiting, -1);
    if (!w->waiting_head)
        uv_timer_stop(&w->admit_tick);
}

void session_admit_waiting(worker_t *w)
{
    server_t *srv = w->srv;
    uint64_t now = mono_ms();
    session_t *admitted = NULL, **tail = &admitted;
    /* Decide under the lock (oldest first, so each prefix's waiters go in
     * arrival order), handshake after it: a handshake runs callbacks. */
    uv_mutex_lock(&srv->limit_lock);
    for (session_t *s = w->waiting_head, *next; s; s = next) {
        next = s->wait_next;
        bool gone = s->state != SESS_HANDSHAKING || s->stream.closing; /* no token for those */
        if (gone || reputation_admit(srv->reputation, &s->peer, now) != REPUTATION_WAIT) {
            waiting_remove(s);
            *tail = s;
            tail = &s->wait_next; /* reused as the local list link */
        }
    }
    uv_mutex_unlock(&srv->limit_lock);
    for (session_t *s = admitted, *next; s; s = next) {
        next = s->wait_next;
        s->wait_next = NULL;
        if (s->state != SESS_HANDSHAKING || s->stream.closing)
            continue;
        if (take_handshake_slot(s) != 0) {
            session_close(s, false);
            continue;
        }
        stream_tls_admit(&s->stream);
    }
}

static int on_tls_start(stream_t *st)
{
    session_t *s = from_stream(st);
    server_t *srv = s->w->srv;
    if (atomic_load_explicit(&srv->suspect_on, memory_order_relaxed)) {
        uv_mutex_lock(&srv->limit_lock);
        reputation_admit_t ra = reputation_admit(srv->reputation, &s->peer, mono_ms());
        uv_mutex_unlock(&srv->limit_lock);
        if (ra == REPUTATION_ADMIT_GOOD_ADDRESS)
            metrics_inc(M_handshake_good_address);
        if (ra == REPUTATION_WAIT) {
            metrics_inc(M_handshake_throttled);
            LOG(LOG_DEBUG, st->id, "%s: source prefix is suspect: handshake waits for a token", s->peer_text);
            waiting_add(s);
            return STREAM_TLS_DEFER;
        }
    }
    return take_handshake_slot(s) == 0 ? STREAM_TLS_GO : STREAM_TLS_REFUSE;
}

static void release_handshake(session_t *s)
{
    if (!s->counted_handshake)
        return;
    s->counted_handshake = false;
    atomic_fetch_sub(&s->w->srv->handshakes, 1);
    metrics_gauge_add(G_handshakes, -1);
}

static void on_established(stream_t *st)
{
    session_t *s = from_stream(st);
    release_handshake(s);
    metrics_inc(M_handshake_ok);
    LOG(LOG_DEBUG, st->id, "%s: TLS established (%s%s)", s->peer_text, tls_conn_is_tls13(st->tls) ? "TLS 1.3" : "TLS 1.2",
        tls_conn_alpn(st->tls) ? ", ALPN dot" : "");
    start_authentication(s);
}

/* limits.suspect-exempt: networks the operator vouches for (NAT gateways,
 * monitoring) never collect strikes, so they are never throttled. */
static bool suspect_exempt(const config_limits_t *lim, const connlimit_addr_t *a)
{
    for (unsigned i = 0; i < lim->n_suspect_exempt; i++)
        if (config_cidr_contains(&lim->suspect_exempt[i], a->family, a->addr))
            return true;
    return false;
}

/* The connection ends without ever having been served: count it against
 * its source prefix. */
static void strike(session_t *s)
{
    server_t *srv = s->w->srv;
    metrics_inc(M_unserved_strikes);
    uv_mutex_lock(&srv->limit_lock);
    bool now_suspect = reputation_strike(srv->reputation, &s->peer, mono_ms());
    uv_mutex_unlock(&srv->limit_lock);
    if (now_suspect) {
        char pfx[64];
        reputation_prefix_text(&s->peer, pfx, sizeof pfx);
        metrics_inc(M_suspect_prefixes_flagged);
        LOG(LOG_WARN, 0,
            "source prefix %s is suspect: %u or more of its connections ended unserved (decaying, half-life %u s); "
            "its new handshakes are limited to %u/s",
            pfx, limits(s)->suspect_failures, REPUTATION_HALF_LIFE_MS / 1000, limits(s)->suspect_handshake_rate);
    }
}

static void on_closed(stream_t *st, stream_close_reason_t reason)
{
    session_t *s = from_stream(st);
    worker_t *w = s->w;
    if (reason == STREAM_CLOSE_TLS_ERROR || reason == STREAM_CLOSE_NOT_TLS) {
        metrics_inc(M_handshake_failed);
        LOG(LOG_DEBUG, st->id, "%s: TLS error: %s", s->peer_text,
            reason == STREAM_CLOSE_NOT_TLS ? "not a TLS handshake" : st->tls_error ? st->tls_error : "?");
    } else if (s->state == SESS_HANDSHAKING && !s->stream.tls) {
        metrics_inc(M_tls_no_client_hello);
    }
    release_handshake(s);
    waiting_remove(s);
    if (s->counted_limits && !s->served && atomic_load_explicit(&w->srv->suspect_on, memory_order_relaxed) &&
        !suspect_exempt(limits(s), &s->peer))
        strike(s);
    while (s->pending)
        upstream_cancel(s->pending->uq); /* callbacks unlink and free */
    detach_auth(s); /* the validator may still hold the request */
    if (s->prev)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->counted_limits) {
        uv_mutex_lock(&w->srv->limit_lock);
        connlimit_release(w->srv->connlimit, &s->peer);
        uv_mutex_unlock(&w->srv->limit_lock);
        atomic_fetch_sub(&w->srv->connections, 1);
        metrics_gauge_add(G_connections, -1);
    }
    metrics_inc(M_conn_closed);
    runtime_unref(s->rt);
    free(s->identity);
    free(s);
    worker_connection_released(w);
}

/* ---- accept ---- */

static void format_peer(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(buf, cap, "%s:%d", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(buf, cap, "[%s]:%d", host, port);
    } else {
        snprintf(buf, cap, "?");
    }
}

session_t *session_accept(worker_t *w, worker_listener_t *wl)
{
    server_t *srv = w->srv;
    session_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->w = w;
    s->wl = wl;
    s->state = SESS_HANDSHAKING;
    s->rt = server_runtime(srv); /* released in on_closed, which every path below ends in */
    const config_limits_t *lim = &s->rt->limits;
    if (stream_init(&s->stream, &w->sl, s->rt->tls[wl->lst->index], &session_cbs, s, lim->max_output_bytes,
                    ((uint64_t)w->id << 48) | ++w->next_conn_id) != DN_OK) {
        /* Handles that were initialised must be closed; on_closed frees s. */
        s->next = w->sessions;
        if (w->sessions)
            w->sessions->prev = s;
        w->sessions = s;
        stream_close(&s->stream, false);
        return NULL;
    }
    s->next = w->sessions;
    if (w->sessions)
        w->sessions->prev = s;
    w->sessions = s;
    if (uv_accept((uv_stream_t *)&wl->tcp, (uv_stream_t *)&s->stream.tcp) != 0) {
        stream_close(&s->stream, false);
        return NULL;
    }
    metrics_inc(M_conn_accepted);
    struct sockaddr_storage ss;
    int sslen = sizeof ss;
    memset(&ss, 0, sizeof ss);
    uv_tcp_getpeername(&s->stream.tcp, (struct sockaddr *)&ss, &sslen);
    format_peer(&ss, s->peer_text, sizeof s->peer_text);
    if (!connlimit_addr_from_sockaddr((struct sockaddr *)&ss, &s->peer)) {
        stream_close(&s->stream, false);
        return NULL;
    }
    uv_mutex_lock(&srv->limit_lock);
    connlimit_result_t lr = connlimit_acquire(srv->connlimit, &s->peer);
    uv_mutex_unlock(&srv->limit_lock);
    if (lr != CONNLIMIT_OK) {
        metrics_inc(lr == CONNLIMIT_PREFIX ? M_conn_limit_prefix : M_conn_limit_ip);
        LOG(LOG_DEBUG, s->stream.id, "%s: per-%s connection limit", s->peer_text,
            lr == CONNLIMIT_PREFIX ? "prefix" : "address");
        stream_close(&s->stream, false);
        return NULL;
    }
    s->counted_limits = true;
    atomic_fetch_add(&srv->connections, 1);
    metrics_gauge_peak(G_connections_peak, metrics_gauge_add(G_connections, 1));
    uv_tcp_nodelay(&s->stream.tcp, 1);
    start_timer(s, lim->handshake_timeout_ms);
    if (stream_start(&s->stream) != DN_OK) {
        stream_close(&s->stream, false);
        return NULL;
    }
    return s;
}

void session_close_all(worker_t *w)
{
    for (session_t *s = w->sessions; s; s = s->next)
        if (s->state != SESS_CLOSING) {
            s->state = SESS_CLOSING;
            stream_close(&s->stream, false);
        }
}
