/* bench/dance-bench.c — DNS-over-TLS load generator with client certificates.
 *
 * One libuv loop per thread (--threads).  TLS is wolfSSL with custom I/O over
 * memory buffers: bytes read by libuv are handed to wolfSSL from the read
 * callback, and everything wolfSSL writes is collected and written with one
 * uv_try_write (falling back to uv_write).  Queries produced in one callback
 * are batched into one wolfSSL_write (one TLS record, one syscall).
 *
 * Modes: pipeline (persistent connections, --inflight queries outstanding),
 * connect (new connection, --queries-per-conn queries, close), mix (each
 * operation is a new connection with probability --mix-new-ratio, else a query
 * on the current one), attack (open-loop honest clients at --honest-rate while
 * attacker connections of several kinds run).
 *
 * Only loopback targets are accepted.  Every run stops by itself after
 * --duration seconds.  See bench/README.md. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/err.h"
#include "core/frame.h"
#include "core/wire.h"
#include "hist.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_S UINT64_C(1000000000)
#define TICK_MS 5
#define SCAN_INTERVAL_NS (50 * NS_PER_MS)
#define LINGER_NS (1000 * NS_PER_MS)
#define NOREAD_LIMIT (1024u * 1024u)
#define MAX_PIDS 16
#define SPAWN_PER_TICK 128
#define MAX_INFLIGHT 16384

/* ------------------------------------------------------------------ options */

enum mode { M_PIPELINE, M_CONNECT, M_MIX, M_ATTACK };
static const char *const mode_names[] = {"pipeline", "connect", "mix", "attack"};

typedef struct {
    const char *server;
    int port;
    int mode;
    double duration;
    int threads, clients, inflight, qpc;
    double mix_ratio;
    const char *cert_dir;
    const char *qname, *names_file;
    uint16_t qtype;
    const char *qtype_text;
    bool do_bit;
    int timeout_ms;
    double rate;
    int pids[MAX_PIDS];
    int n_pids;
    const char *json;
    const char *ciphers, *groups;
    int att_tcp, att_partial, att_silent, att_noread, att_certs;
    const char *att_cert_dir;
    double honest_rate;
    const char *att_source_base, *honest_source;
} opts_t;

static opts_t g_opt = {
    .port = 853, .mode = -1, .duration = 0, .threads = 1, .clients = 10, .inflight = 10, .qpc = 1,
    .mix_ratio = 0.1, .qtype = WIRE_T_A, .qtype_text = "A", .timeout_ms = 5000, .honest_rate = 20,
    .att_source_base = "127.0.1.1",
};

/* ------------------------------------------------------------------ globals */

typedef struct {
    char *name;
    WOLFSSL_CTX *ctx;
} ident_t;

typedef struct {
    ident_t *v;
    size_t n;
} idpool_t;

typedef struct {
    uint8_t *msg;
    uint16_t len;
} qtmpl_t;

static struct sockaddr_storage g_server;
static int g_family;
static bool g_has_honest_src;
static struct sockaddr_storage g_honest_src;
static bool g_att_bind;
static uint32_t g_att_base; /* host order */
static idpool_t g_ids, g_att_ids;
static WOLFSSL_CTX *g_anon;
static qtmpl_t *g_q;
static size_t g_nq;
static uint64_t g_t0;
static atomic_int g_stop;

/* ------------------------------------------------------------------ stats */

enum { ATT_TCP, ATT_PARTIAL, ATT_SILENT, ATT_NOREAD, ATT_CERT, ATT_KINDS };
static const char *const att_names[] = {"tcp-only", "partial-hello", "silent-tls", "no-read", "certs"};

typedef struct {
    uint64_t started, tcp_ok, tls_ok, connect_failed, closed_by_server, open_at_end, handshaking_at_end;
    uint64_t queries_sent, answers, bytes_sent;
} att_stats_t;

#define RCODE_SLOTS 17 /* 0..15, 16 = extended (> 15) */

typedef struct {
    uint64_t conn_attempts, conn_opened, connect_failed, hs_ok, hs_failed, hs_timeout;
    uint64_t queries_sent, answers, rcode[RCODE_SLOTS];
    uint64_t timeouts, closed_by_server, tls_error, malformed, lost_on_close, unanswered_at_end;
    uint64_t conns_done, in_progress_at_end;
    int last_hs_error;
    hist_t q_lat, first_lat, hs_lat;
    att_stats_t att[ATT_KINDS];
} stats_t;

/* ------------------------------------------------------------------ connections */

enum role { R_PIPE, R_CONNECT, R_MIX, R_HONEST, R_A_TCP, R_A_PARTIAL, R_A_SILENT, R_A_NOREAD, R_A_CERT };
enum state { S_CONNECTING, S_STALL, S_HANDSHAKING, S_OPEN, S_LINGER, S_CLOSED };
enum end { END_DONE, END_CONNECT_FAIL, END_HS_FAIL, END_HS_TIMEOUT, END_TIMEOUT, END_SERVER_CLOSED, END_TLS_ERROR, END_STOP };

static bool is_attacker(int role) { return role >= R_A_TCP; }

typedef struct {
    uint64_t t;
    uint16_t id;
    uint8_t busy;
} qslot_t;

struct worker;

typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_shutdown_t sreq;
    struct worker *w;
    struct conn *prev, *next;
    int role, slot, state;
    bool eof, counted_noread;
    WOLFSSL *ssl;
    uint64_t t_start, deadline;
    bool got_first;
    /* input: stash (unconsumed earlier bytes) then rx (current read) */
    const uint8_t *rx;
    size_t rx_len;
    uint8_t *stash;
    size_t stash_len, stash_pos, stash_cap;
    /* ciphertext waiting for the socket */
    uint8_t *tx;
    size_t tx_len, tx_cap;
    /* plaintext queries waiting for one wolfSSL_write */
    uint8_t *pt;
    size_t pt_len, pt_cap;
    size_t noread_bytes;
    frame_reader_t fr;
    qslot_t *qs;
    uint16_t *qfree;
    uint32_t qcap, nfree, q_out, q_left;
    unsigned qbits;
    uint16_t qgen;
} conn_t;

typedef struct {
    int role;
    conn_t *c;
    uint64_t restart_at;
    bool has_src;
    struct sockaddr_in src;
} slot_t;

typedef struct worker {
    int idx;
    pthread_t th;
    uv_loop_t loop;
    uv_timer_t tick;
    uint64_t deadline, last_scan, last_tick;
    bool stopping;
    conn_t *live;
    slot_t *slots;
    size_t nslots, idle_slots;
    double conn_rate, conn_tokens, honest_rate, honest_tokens;
    uint64_t rng;
    size_t id_rr, att_id_rr, name_rr;
    size_t n_noread;
    uint8_t hello[2048];
    size_t hello_len;
    uint8_t rbuf[65536];
    stats_t st;
} worker_t;

static worker_t *g_workers;

static void conn_end(conn_t *c, int why);
static void conn_start(worker_t *w, int role, int slot);
static void conn_process(conn_t *c);

static uint64_t rng_next(worker_t *w)
{
    /* xorshift64* */
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * UINT64_C(2685821657736338717);
}

static double rng_unit(worker_t *w) { return (double)(rng_next(w) >> 11) / 9007199254740992.0; }

static int buf_reserve(uint8_t **b, size_t *cap, size_t len, size_t add)
{
    if (*cap - len >= add)
        return 0;
    size_t ncap = *cap ? *cap : 1024;
    while (ncap - len < add)
        ncap *= 2;
    uint8_t *nb = realloc(*b, ncap);
    if (!nb)
        return -1;
    *b = nb;
    *cap = ncap;
    return 0;
}

/* ------------------------------------------------------------------ wolfSSL I/O over memory */

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    (void)ssl;
    conn_t *c = arg;
    size_t want = (size_t)sz, got = 0;
    if (c->stash_pos < c->stash_len) {
        size_t n = c->stash_len - c->stash_pos;
        if (n > want)
            n = want;
        memcpy(buf, c->stash + c->stash_pos, n);
        c->stash_pos += n;
        got += n;
        if (c->stash_pos == c->stash_len)
            c->stash_pos = c->stash_len = 0;
    }
    if (got < want && c->rx_len > 0) {
        size_t n = c->rx_len;
        if (n > want - got)
            n = want - got;
        memcpy(buf + got, c->rx, n);
        c->rx += n;
        c->rx_len -= n;
        got += n;
    }
    if (got == 0)
        return c->eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
    return (int)got;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    (void)ssl;
    conn_t *c = arg;
    if (buf_reserve(&c->tx, &c->tx_cap, c->tx_len, (size_t)sz))
        return WOLFSSL_CBIO_ERR_GENERAL;
    memcpy(c->tx + c->tx_len, buf, (size_t)sz);
    c->tx_len += (size_t)sz;
    return sz;
}

static void stash_rest(conn_t *c)
{
    if (c->rx_len == 0)
        return;
    if (c->stash_pos > 0) {
        memmove(c->stash, c->stash + c->stash_pos, c->stash_len - c->stash_pos);
        c->stash_len -= c->stash_pos;
        c->stash_pos = 0;
    }
    if (buf_reserve(&c->stash, &c->stash_cap, c->stash_len, c->rx_len) == 0) {
        memcpy(c->stash + c->stash_len, c->rx, c->rx_len);
        c->stash_len += c->rx_len;
    }
    c->rx = NULL;
    c->rx_len = 0;
}

/* ------------------------------------------------------------------ socket output */

typedef struct {
    uv_write_t req;
    size_t len;
    uint8_t data[];
} wreq_t;

static void on_write(uv_write_t *req, int status)
{
    wreq_t *wr = (wreq_t *)req;
    conn_t *c = req->handle->data;
    free(wr);
    if (status < 0 && status != UV_ECANCELED && c && c->state < S_LINGER)
        conn_end(c, END_SERVER_CLOSED);
}

/* Hand everything in tx to the socket.  0 or a libuv error. */
static int tx_flush(conn_t *c)
{
    if (c->tx_len == 0)
        return 0;
    if (uv_is_closing((uv_handle_t *)&c->tcp)) {
        c->tx_len = 0;
        return UV_ECANCELED;
    }
    uv_buf_t b = uv_buf_init((char *)c->tx, (unsigned)c->tx_len);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    size_t done = 0;
    if (r > 0)
        done = (size_t)r;
    else if (r < 0 && r != UV_EAGAIN) {
        c->tx_len = 0;
        return r;
    }
    if (is_attacker(c->role))
        c->w->st.att[c->role - R_A_TCP].bytes_sent += c->tx_len;
    if (done < c->tx_len) {
        size_t rem = c->tx_len - done;
        wreq_t *wr = malloc(sizeof *wr + rem);
        if (!wr) {
            c->tx_len = 0;
            return UV_ENOMEM;
        }
        memcpy(wr->data, c->tx + done, rem);
        wr->len = rem;
        uv_buf_t wb = uv_buf_init((char *)wr->data, (unsigned)rem);
        int e = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &wb, 1, on_write);
        if (e < 0) {
            free(wr);
            c->tx_len = 0;
            return e;
        }
    }
    c->tx_len = 0;
    if (c->tx_cap > 262144) {
        free(c->tx);
        c->tx = NULL;
        c->tx_cap = 0;
    }
    return 0;
}

/* Encrypt the batched plaintext in pt (one wolfSSL_write per 16 KiB). */
static int pt_flush(conn_t *c)
{
    size_t off = 0;
    while (off < c->pt_len) {
        size_t n = c->pt_len - off;
        if (n > 16384)
            n = 16384;
        int r = wolfSSL_write(c->ssl, c->pt + off, (int)n);
        if (r <= 0) {
            c->pt_len = 0;
            return -1;
        }
        off += (size_t)r;
    }
    c->pt_len = 0;
    return 0;
}

/* ------------------------------------------------------------------ queries */

static int q_append(conn_t *c, uint16_t id)
{
    worker_t *w = c->w;
    const qtmpl_t *t = &g_q[w->name_rr++ % g_nq];
    if (buf_reserve(&c->pt, &c->pt_cap, c->pt_len, (size_t)t->len + 2))
        return -1;
    uint8_t *p = c->pt + c->pt_len;
    p[0] = (uint8_t)(t->len >> 8);
    p[1] = (uint8_t)t->len;
    memcpy(p + 2, t->msg, t->len);
    p[2] = (uint8_t)(id >> 8);
    p[3] = (uint8_t)id;
    c->pt_len += (size_t)t->len + 2;
    return 0;
}

/* Queue one tracked query; false when no slot is free. */
static bool q_send(conn_t *c, uint64_t now)
{
    if (c->nfree == 0)
        return false;
    uint16_t idx = c->qfree[--c->nfree];
    uint16_t id = (uint16_t)(((uint32_t)c->qgen++ << c->qbits) | idx);
    if (q_append(c, id)) {
        c->qfree[c->nfree++] = idx;
        return false;
    }
    c->qs[idx].busy = 1;
    c->qs[idx].id = id;
    c->qs[idx].t = now;
    c->q_out++;
    if (is_attacker(c->role))
        c->w->st.att[c->role - R_A_TCP].queries_sent++;
    else
        c->w->st.queries_sent++;
    return true;
}

static void q_free(conn_t *c, uint16_t idx)
{
    c->qs[idx].busy = 0;
    c->qfree[c->nfree++] = idx;
    c->q_out--;
}

/* Untracked queries for the no-read attacker, bounded by NOREAD_LIMIT. */
static void noread_pump(conn_t *c)
{
    if (c->state != S_OPEN || c->noread_bytes >= NOREAD_LIMIT)
        return;
    if (c->tcp.write_queue_size > 262144)
        return;
    size_t before = c->pt_len;
    while (c->noread_bytes + (c->pt_len - before) < NOREAD_LIMIT && c->pt_len - before < 16384) {
        if (q_append(c, (uint16_t)rng_next(c->w)))
            break;
        c->w->st.att[ATT_NOREAD].queries_sent++;
    }
    c->noread_bytes += c->pt_len - before;
    if (pt_flush(c) || tx_flush(c))
        conn_end(c, END_SERVER_CLOSED);
}

/* ------------------------------------------------------------------ connection life */

static void link_conn(worker_t *w, conn_t *c)
{
    c->next = w->live;
    c->prev = NULL;
    if (w->live)
        w->live->prev = c;
    w->live = c;
}

static void unlink_conn(worker_t *w, conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void on_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    unlink_conn(c->w, c);
    if (c->ssl)
        wolfSSL_free(c->ssl);
    frame_reader_release(&c->fr);
    free(c->stash);
    free(c->tx);
    free(c->pt);
    free(c->qs);
    free(c->qfree);
    free(c);
}

static void close_handle(conn_t *c)
{
    c->state = S_CLOSED;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status;
}

static bool tcp_established(conn_t *c)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
        return false;
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return false;
    return ti.tcpi_state == TCP_ESTABLISHED;
}

static void slot_release(worker_t *w, conn_t *c, int why)
{
    if (c->slot < 0)
        return;
    slot_t *s = &w->slots[c->slot];
    s->c = NULL;
    c->slot = -1;
    if (w->stopping)
        return;
    uint64_t delay = 0;
    if (is_attacker(s->role))
        delay = 100 * NS_PER_MS;
    else if (why == END_CONNECT_FAIL || why == END_HS_FAIL || why == END_HS_TIMEOUT || why == END_TLS_ERROR)
        delay = 20 * NS_PER_MS;
    bool rate_limited = s->role == R_CONNECT && w->conn_rate > 0;
    if (delay == 0 && !rate_limited) {
        conn_start(w, s->role, (int)(s - w->slots));
        return;
    }
    s->restart_at = uv_hrtime() + delay;
    w->idle_slots++;
}

static void conn_end(conn_t *c, int why)
{
    if (c->state >= S_LINGER)
        return;
    worker_t *w = c->w;
    stats_t *st = &w->st;
    int prev = c->state;
    if (is_attacker(c->role)) {
        att_stats_t *a = &st->att[c->role - R_A_TCP];
        if (why == END_CONNECT_FAIL)
            a->connect_failed++;
        else if (why != END_DONE && why != END_STOP)
            a->closed_by_server++;
    } else {
        switch (why) {
        case END_DONE: st->conns_done++; break;
        case END_CONNECT_FAIL: st->connect_failed++; break;
        case END_HS_FAIL: st->hs_failed++; break;
        case END_HS_TIMEOUT: st->hs_failed++; st->hs_timeout++; break;
        case END_SERVER_CLOSED: st->closed_by_server++; break;
        case END_TLS_ERROR: st->tls_error++; st->closed_by_server++; break;
        case END_STOP: if (prev < S_OPEN || c->q_out) st->in_progress_at_end++; break;
        default: break;
        }
        if (why == END_STOP)
            st->unanswered_at_end += c->q_out;
        else if (why != END_DONE)
            st->lost_on_close += c->q_out;
    }
    if (c->counted_noread) {
        w->n_noread--;
        c->counted_noread = false;
    }
    c->q_out = 0;
    bool graceful = why == END_DONE && c->ssl && !w->stopping;
    if (graceful) {
        c->state = S_LINGER;
        c->pt_len = 0;
        (void)wolfSSL_shutdown(c->ssl); /* close_notify into tx */
        wolfSSL_free(c->ssl);
        c->ssl = NULL;
        frame_reader_release(&c->fr);
        c->stash_len = c->stash_pos = 0;
        c->deadline = uv_hrtime() + LINGER_NS;
        c->sreq.data = c;
        if (tx_flush(c) != 0 || uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
            close_handle(c);
    } else {
        if (c->ssl) {
            wolfSSL_free(c->ssl);
            c->ssl = NULL;
        }
        close_handle(c);
    }
    slot_release(w, c, why);
}

static void on_open(conn_t *c, uint64_t now)
{
    worker_t *w = c->w;
    c->state = S_OPEN;
    c->deadline = 0;
    if (is_attacker(c->role))
        w->st.att[c->role - R_A_TCP].tls_ok++;
    else {
        w->st.hs_ok++;
        hist_add(&w->st.hs_lat, now - c->t_start);
    }
    switch (c->role) {
    case R_PIPE:
        while (q_send(c, now)) {
        }
        break;
    case R_CONNECT:
        c->q_left = (uint32_t)g_opt.qpc;
        while (c->q_left > 0 && q_send(c, now))
            c->q_left--;
        break;
    case R_MIX:
    case R_HONEST:
    case R_A_CERT:
        q_send(c, now);
        break;
    case R_A_NOREAD:
        uv_read_stop((uv_stream_t *)&c->tcp);
        w->n_noread++;
        c->counted_noread = true;
        noread_pump(c);
        break;
    default:
        break;
    }
}

static void on_answer(conn_t *c, const uint8_t *msg, size_t len, uint64_t now)
{
    worker_t *w = c->w;
    stats_t *st = &w->st;
    bool att = is_attacker(c->role);
    if (len < WIRE_HEADER_LEN) {
        if (!att)
            st->malformed++;
        return;
    }
    uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
    uint32_t idx = id & ((1u << c->qbits) - 1u);
    if (idx >= c->qcap || !c->qs[idx].busy || c->qs[idx].id != id) {
        if (!att)
            st->malformed++; /* unknown ID: late answer to a timed-out query or garbage */
        return;
    }
    uint64_t lat = now - c->qs[idx].t;
    q_free(c, (uint16_t)idx);
    if (att) {
        st->att[c->role - R_A_TCP].answers++;
        conn_end(c, END_DONE);
        return;
    }
    wire_msg_info_t info;
    if (wire_msg_info(msg, len, &info) != DN_OK || !(info.header.flags & WIRE_F_QR)) {
        st->malformed++;
    } else {
        unsigned rc = WIRE_RCODE(info.header.flags);
        if (info.edns.present)
            rc |= (unsigned)info.edns.ext_rcode << 4;
        st->rcode[rc < 16 ? rc : 16]++;
        st->answers++;
        hist_add(&st->q_lat, lat);
        if (!c->got_first) {
            c->got_first = true;
            hist_add(&st->first_lat, now - c->t_start);
        }
    }
    if (w->stopping)
        return;
    switch (c->role) {
    case R_PIPE:
        while (q_send(c, now)) {
        }
        break;
    case R_CONNECT:
        if (c->q_left > 0) {
            if (q_send(c, now))
                c->q_left--;
        } else if (c->q_out == 0) {
            conn_end(c, END_DONE);
        }
        break;
    case R_MIX:
        if (rng_unit(w) < g_opt.mix_ratio)
            conn_end(c, END_DONE);
        else
            q_send(c, now);
        break;
    case R_HONEST:
        conn_end(c, END_DONE);
        break;
    default:
        break;
    }
}

static void conn_process(conn_t *c)
{
    worker_t *w = c->w;
    uint64_t now = uv_hrtime();
    if (c->state == S_HANDSHAKING) {
        int r = wolfSSL_connect(c->ssl);
        if (r != WOLFSSL_SUCCESS) {
            int e = wolfSSL_get_error(c->ssl, r);
            if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) {
                if (tx_flush(c) != 0)
                    conn_end(c, END_HS_FAIL);
                return;
            }
            if (!is_attacker(c->role))
                w->st.last_hs_error = e;
            (void)tx_flush(c); /* the alert, if any */
            conn_end(c, END_HS_FAIL);
            return;
        }
        on_open(c, now);
        if (c->state != S_OPEN)
            return;
    }
    if (c->state == S_OPEN && c->role != R_A_NOREAD) {
        for (;;) {
            size_t avail = 0;
            uint8_t *sp = frame_reader_space(&c->fr, FRAME_CHUNK, &avail);
            if (!sp) {
                if (!is_attacker(c->role))
                    w->st.malformed++;
                conn_end(c, END_TLS_ERROR);
                return;
            }
            if (avail > INT32_MAX)
                avail = INT32_MAX;
            int n = wolfSSL_read(c->ssl, sp, (int)avail);
            if (n > 0) {
                frame_reader_commit(&c->fr, (size_t)n);
                const uint8_t *m;
                size_t l;
                now = uv_hrtime();
                while (c->state == S_OPEN && frame_reader_next(&c->fr, &m, &l) == 1)
                    on_answer(c, m, l, now);
                if (c->state != S_OPEN)
                    return;
                continue;
            }
            int e = wolfSSL_get_error(c->ssl, n);
            if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
                break;
            conn_end(c, (e == WOLFSSL_ERROR_ZERO_RETURN || c->eof) ? END_SERVER_CLOSED : END_TLS_ERROR);
            return;
        }
    }
    if (c->state == S_OPEN && c->role != R_A_NOREAD) {
        if ((c->pt_len && pt_flush(c)) || tx_flush(c))
            conn_end(c, END_SERVER_CLOSED);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn_t *c = h->data;
    *buf = uv_buf_init((char *)c->w->rbuf, sizeof c->w->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    (void)buf;
    if (nread == 0)
        return;
    if (nread < 0) {
        c->eof = true;
        switch (c->state) {
        case S_LINGER: close_handle(c); break;
        case S_HANDSHAKING: conn_end(c, END_HS_FAIL); break;
        case S_STALL:
        case S_OPEN: conn_end(c, END_SERVER_CLOSED); break;
        default: break;
        }
        return;
    }
    if (c->state != S_HANDSHAKING && c->state != S_OPEN)
        return; /* lingering or stalled attackers: discard */
    c->rx = (const uint8_t *)c->w->rbuf;
    c->rx_len = (size_t)nread;
    conn_process(c);
    if (c->state == S_HANDSHAKING || c->state == S_OPEN)
        stash_rest(c);
    c->rx = NULL;
    c->rx_len = 0;
}

static WOLFSSL_CTX *pick_ctx(worker_t *w, int role)
{
    const idpool_t *p;
    size_t i;
    if (is_attacker(role)) {
        p = &g_att_ids;
        i = w->att_id_rr++;
    } else {
        p = &g_ids;
        i = w->id_rr++;
    }
    if (p->n == 0)
        return g_anon;
    return p->v[((size_t)w->idx + i * (size_t)g_opt.threads) % p->n].ctx;
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    if (status == UV_ECANCELED || c->state != S_CONNECTING)
        return;
    worker_t *w = c->w;
    if (status < 0) {
        conn_end(c, END_CONNECT_FAIL);
        return;
    }
    bool att = is_attacker(c->role);
    if (att)
        w->st.att[c->role - R_A_TCP].tcp_ok++;
    else
        w->st.conn_opened++;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_end(c, END_SERVER_CLOSED);
        return;
    }
    if (c->role == R_A_TCP) {
        c->state = S_STALL;
        return;
    }
    if (c->role == R_A_PARTIAL) {
        c->state = S_STALL;
        size_t n = w->hello_len < 10 ? w->hello_len : 10;
        if (buf_reserve(&c->tx, &c->tx_cap, 0, n) == 0) {
            memcpy(c->tx, w->hello, n);
            c->tx_len = n;
            if (tx_flush(c))
                conn_end(c, END_SERVER_CLOSED);
        }
        return;
    }
    c->ssl = wolfSSL_new(pick_ctx(w, c->role));
    if (!c->ssl) {
        conn_end(c, END_HS_FAIL);
        return;
    }
    wolfSSL_SetIOReadCtx(c->ssl, c);
    wolfSSL_SetIOWriteCtx(c->ssl, c);
    static char alpn[] = "dot";
    (void)wolfSSL_UseALPN(c->ssl, alpn, 3, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
    c->state = S_HANDSHAKING;
    c->deadline = uv_hrtime() + (uint64_t)g_opt.timeout_ms * NS_PER_MS;
    conn_process(c);
}

static unsigned bits_for(uint32_t n)
{
    unsigned b = 0;
    while ((1u << b) < n)
        b++;
    return b;
}

static void conn_start(worker_t *w, int role, int slot)
{
    uint64_t now = uv_hrtime();
    bool att = is_attacker(role);
    if (att)
        w->st.att[role - R_A_TCP].started++;
    else
        w->st.conn_attempts++;
    conn_t *c = calloc(1, sizeof *c);
    uint32_t qcap = 0;
    switch (role) {
    case R_PIPE: qcap = (uint32_t)g_opt.inflight; break;
    case R_CONNECT: qcap = (uint32_t)(g_opt.inflight < g_opt.qpc ? g_opt.inflight : g_opt.qpc); break;
    case R_MIX:
    case R_HONEST:
    case R_A_CERT: qcap = 1; break;
    default: break;
    }
    if (c && qcap) {
        c->qs = calloc(qcap, sizeof *c->qs);
        c->qfree = calloc(qcap, sizeof *c->qfree);
        if (!c->qs || !c->qfree) {
            free(c->qs);
            free(c->qfree);
            free(c);
            c = NULL;
        }
    }
    int fd = c ? socket(g_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
    if (fd >= 0) {
        const struct sockaddr *src = NULL;
        socklen_t srclen = 0;
        if (slot >= 0 && w->slots[slot].has_src) {
            src = (const struct sockaddr *)&w->slots[slot].src;
            srclen = sizeof(struct sockaddr_in);
        } else if (!att && g_has_honest_src) {
            src = (const struct sockaddr *)&g_honest_src;
            srclen = g_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        }
        if (src) {
            int one = 1;
            if (g_family == AF_INET)
                (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            if (bind(fd, src, srclen) != 0) {
                close(fd);
                fd = -1;
            }
        }
    }
    if (fd < 0) {
        /* No handle exists yet: count and retry later. */
        if (c) {
            free(c->qs);
            free(c->qfree);
            free(c);
        }
        if (att)
            w->st.att[role - R_A_TCP].connect_failed++;
        else
            w->st.connect_failed++;
        if (slot >= 0 && !w->stopping) {
            w->slots[slot].c = NULL;
            w->slots[slot].restart_at = now + 100 * NS_PER_MS;
            w->idle_slots++;
        }
        return;
    }
    c->w = w;
    c->role = role;
    c->slot = slot;
    c->state = S_CONNECTING;
    c->t_start = now;
    c->deadline = now + (uint64_t)g_opt.timeout_ms * NS_PER_MS;
    c->qcap = qcap;
    c->nfree = qcap;
    c->qbits = bits_for(qcap);
    for (uint32_t i = 0; i < qcap; i++)
        c->qfree[i] = (uint16_t)(qcap - 1 - i);
    c->qgen = (uint16_t)rng_next(w);
    frame_reader_init(&c->fr);
    if (slot >= 0)
        w->slots[slot].c = c;
    uv_tcp_init(&w->loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    link_conn(w, c);
    if (uv_tcp_open(&c->tcp, fd) != 0) {
        close(fd);
        conn_end(c, END_CONNECT_FAIL);
        return;
    }
    (void)uv_tcp_nodelay(&c->tcp, 1);
    if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&g_server, on_connect) != 0)
        conn_end(c, END_CONNECT_FAIL);
}

/* ------------------------------------------------------------------ the tick */

static void worker_stop(worker_t *w)
{
    w->stopping = true;
    for (conn_t *c = w->live; c; c = c->next) {
        if (!is_attacker(c->role))
            continue;
        att_stats_t *a = &w->st.att[c->role - R_A_TCP];
        if ((c->state == S_STALL || c->state == S_OPEN) && tcp_established(c))
            a->open_at_end++;
        else if (c->state == S_HANDSHAKING && tcp_established(c))
            a->handshaking_at_end++;
    }
    conn_t *next;
    for (conn_t *c = w->live; c; c = next) {
        next = c->next;
        if (c->state < S_LINGER)
            conn_end(c, END_STOP);
        else if (c->state == S_LINGER)
            close_handle(c);
    }
    uv_timer_stop(&w->tick);
    uv_close((uv_handle_t *)&w->tick, NULL);
}

static void scan(worker_t *w, uint64_t now)
{
    uint64_t qto = (uint64_t)g_opt.timeout_ms * NS_PER_MS;
    conn_t *next;
    for (conn_t *c = w->live; c; c = next) {
        next = c->next;
        switch (c->state) {
        case S_CONNECTING:
            if (now > c->deadline)
                conn_end(c, END_CONNECT_FAIL);
            break;
        case S_HANDSHAKING:
            if (!is_attacker(c->role) && now > c->deadline)
                conn_end(c, END_HS_TIMEOUT);
            break;
        case S_OPEN:
            if (c->role == R_A_NOREAD) {
                if (!tcp_established(c))
                    conn_end(c, END_SERVER_CLOSED);
            } else if (!is_attacker(c->role) && c->q_out > 0) {
                uint32_t expired = 0;
                for (uint32_t i = 0; i < c->qcap; i++) {
                    if (c->qs[i].busy && now - c->qs[i].t > qto) {
                        q_free(c, (uint16_t)i);
                        expired++;
                    }
                }
                if (expired) {
                    w->st.timeouts += expired;
                    if (c->role == R_PIPE) {
                        while (q_send(c, now)) {
                        }
                        if (pt_flush(c) || tx_flush(c))
                            conn_end(c, END_SERVER_CLOSED);
                    } else {
                        conn_end(c, END_TIMEOUT);
                    }
                }
            }
            break;
        case S_LINGER:
            if (now > c->deadline)
                close_handle(c);
            break;
        default:
            break;
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    worker_t *w = t->data;
    uint64_t now = uv_hrtime();
    if (w->stopping)
        return;
    if (now >= w->deadline || atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        worker_stop(w);
        return;
    }
    double dt = (double)(now - w->last_tick) / 1e9;
    w->last_tick = now;
    if (w->conn_rate > 0) {
        w->conn_tokens += w->conn_rate * dt;
        double burst = w->conn_rate * 0.05 > 1 ? w->conn_rate * 0.05 : 1;
        if (w->conn_tokens > burst)
            w->conn_tokens = burst;
    }
    if (w->idle_slots > 0) {
        int spawned = 0;
        for (size_t i = 0; i < w->nslots && spawned < SPAWN_PER_TICK && w->idle_slots > 0; i++) {
            slot_t *s = &w->slots[i];
            if (s->c || s->restart_at > now)
                continue;
            if (s->role == R_CONNECT && w->conn_rate > 0) {
                if (w->conn_tokens < 1)
                    break;
                w->conn_tokens -= 1;
            }
            w->idle_slots--;
            spawned++;
            conn_start(w, s->role, (int)i);
        }
    }
    if (w->honest_rate > 0) {
        w->honest_tokens += w->honest_rate * dt;
        while (w->honest_tokens >= 1) {
            w->honest_tokens -= 1;
            conn_start(w, R_HONEST, -1);
        }
    }
    if (w->n_noread > 0) {
        conn_t *next;
        for (conn_t *c = w->live; c; c = next) {
            next = c->next;
            if (c->role == R_A_NOREAD && c->state == S_OPEN)
                noread_pump(c);
        }
    }
    if (now - w->last_scan >= SCAN_INTERVAL_NS) {
        w->last_scan = now;
        scan(w, now);
    }
}

static void make_hello(worker_t *w)
{
    conn_t tmp;
    memset(&tmp, 0, sizeof tmp);
    WOLFSSL *s = wolfSSL_new(g_anon);
    if (!s)
        return;
    wolfSSL_SetIOReadCtx(s, &tmp);
    wolfSSL_SetIOWriteCtx(s, &tmp);
    (void)wolfSSL_connect(s);
    size_t n = tmp.tx_len < sizeof w->hello ? tmp.tx_len : sizeof w->hello;
    if (n)
        memcpy(w->hello, tmp.tx, n);
    w->hello_len = n;
    wolfSSL_free(s);
    free(tmp.tx);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    if (uv_loop_init(&w->loop) != 0) {
        fprintf(stderr, "dance-bench: uv_loop_init failed\n");
        return NULL;
    }
    if (g_opt.mode == M_ATTACK && g_opt.att_partial > 0)
        make_hello(w);
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    w->deadline = g_t0 + (uint64_t)(g_opt.duration * 1e9);
    w->last_tick = w->last_scan = uv_hrtime();
    /* first wave now, the rest through the tick (SPAWN_PER_TICK every TICK_MS) */
    int spawned = 0;
    for (size_t i = 0; i < w->nslots && spawned < SPAWN_PER_TICK; i++) {
        slot_t *s = &w->slots[i];
        if (s->c)
            continue;
        if (s->role == R_CONNECT && w->conn_rate > 0)
            break;
        w->idle_slots--;
        spawned++;
        conn_start(w, s->role, (int)i);
    }
    uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&w->loop) != 0)
        fprintf(stderr, "dance-bench: worker %d: loop not empty at exit\n", w->idx);
#ifdef FP_ECC
    wc_ecc_fp_free(); /* wolfSSL's per-thread ECC fixed-point cache */
#endif
    return NULL;
}

/* ------------------------------------------------------------------ setup helpers */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dance-bench --server 127.0.0.1 --port 8853 --mode pipeline|connect|mix|attack --duration SECONDS\n"
            "  [--threads N] [--clients N] [--inflight N] [--queries-per-conn N] [--mix-new-ratio F]\n"
            "  [--cert-dir DIR] [--qname NAME | --names FILE] [--qtype A] [--do] [--timeout-ms N] [--rate N]\n"
            "  [--server-pid PID]... [--json FILE] [--tls-ciphers LIST] [--groups x25519|p256|x25519,p256]\n"
            "  attack: [--attack-tcp-only N] [--attack-partial-hello N] [--attack-silent-tls N] [--attack-no-read N]\n"
            "          [--attack-cert-dir DIR --attack-certs N] [--honest-rate N] [--attack-source-base 127.0.1.1]\n"
            "          [--honest-source ADDR]\n"
            "Targets must be loopback (127.0.0.0/8 or ::1).  See bench/README.md.\n");
}

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "dance-bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    exit(2);
}

static long parse_long(const char *s, const char *opt, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        die_usage("bad value for %s", opt);
    return v;
}

static double parse_double(const char *s, const char *opt, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        die_usage("bad value for %s", opt);
    return v;
}

static const struct {
    const char *name;
    uint16_t type;
} type_table[] = {
    {"A", WIRE_T_A},         {"NS", WIRE_T_NS},     {"CNAME", WIRE_T_CNAME}, {"SOA", WIRE_T_SOA},
    {"PTR", WIRE_T_PTR},     {"MX", WIRE_T_MX},     {"TXT", WIRE_T_TXT},     {"AAAA", WIRE_T_AAAA},
    {"SRV", WIRE_T_SRV},     {"NAPTR", WIRE_T_NAPTR}, {"DS", WIRE_T_DS},     {"DNSKEY", WIRE_T_DNSKEY},
    {"TLSA", WIRE_T_TLSA},   {"SVCB", WIRE_T_SVCB}, {"HTTPS", WIRE_T_HTTPS}, {"ANY", WIRE_T_ANY},
    {"AXFR", WIRE_T_AXFR},   {"IXFR", WIRE_T_IXFR},
};

static int parse_type(const char *s, uint16_t *out)
{
    for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++)
        if (strcasecmp(s, type_table[i].name) == 0) {
            *out = type_table[i].type;
            return 0;
        }
    const char *d = s;
    if (strncasecmp(s, "TYPE", 4) == 0)
        d = s + 4;
    char *end;
    errno = 0;
    unsigned long v = strtoul(d, &end, 10);
    if (errno || end == d || *end || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int add_template(const char *name, uint16_t qtype, size_t *cap)
{
    wire_name_t wn;
    if (wire_name_from_text(name, &wn) != DN_OK)
        return -1;
    uint8_t buf[WIRE_HEADER_LEN + WIRE_NAME_MAX + 4 + 64];
    wire_out_t o;
    wire_out_init(&o, buf, sizeof buf, false);
    wire_header_t h = {.id = 0, .flags = WIRE_F_RD, .qdcount = 1};
    wire_put_header(&o, &h);
    wire_put_name(&o, &wn);
    wire_put_u16(&o, qtype);
    wire_put_u16(&o, WIRE_C_IN);
    if (g_opt.do_bit) {
        wire_opt_spec_t spec = {.udp_size = 1232, .do_bit = true, .keepalive = -1, .ede_code = -1};
        wire_put_opt(&o, &spec);
    }
    if (o.err)
        return -1;
    if (g_nq == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        qtmpl_t *nv = realloc(g_q, ncap * sizeof *nv);
        if (!nv)
            return -1;
        g_q = nv;
        *cap = ncap;
    }
    g_q[g_nq].msg = malloc(o.len);
    if (!g_q[g_nq].msg)
        return -1;
    memcpy(g_q[g_nq].msg, buf, o.len);
    g_q[g_nq].len = (uint16_t)o.len;
    g_nq++;
    return 0;
}

static void build_templates(void)
{
    size_t cap = 0;
    if (g_opt.names_file) {
        FILE *f = fopen(g_opt.names_file, "r");
        if (!f)
            die_usage("cannot read --names file %s", g_opt.names_file);
        char line[2048];
        unsigned lineno = 0;
        while (fgets(line, sizeof line, f)) {
            lineno++;
            char *save = NULL;
            char *name = strtok_r(line, " \t\r\n", &save);
            if (!name || name[0] == '#' || name[0] == ';')
                continue;
            char *type = strtok_r(NULL, " \t\r\n", &save);
            uint16_t qt = g_opt.qtype;
            if (type && type[0] != '#' && parse_type(type, &qt)) {
                fprintf(stderr, "dance-bench: %s:%u: bad type '%s'\n", g_opt.names_file, lineno, type);
                exit(2);
            }
            if (add_template(name, qt, &cap)) {
                fprintf(stderr, "dance-bench: %s:%u: bad name '%s'\n", g_opt.names_file, lineno, name);
                exit(2);
            }
        }
        fclose(f);
        if (g_nq == 0)
            die_usage("no names in %s", g_opt.names_file);
    } else {
        const char *n = g_opt.qname ? g_opt.qname : ".";
        if (add_template(n, g_opt.qtype, &cap))
            die_usage("bad --qname %s", n);
    }
}

static WOLFSSL_CTX *make_ctx(const char *crt, const char *key)
{
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
    if (!ctx)
        return NULL;
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    wolfSSL_CTX_SetIORecv(ctx, io_recv);
    wolfSSL_CTX_SetIOSend(ctx, io_send);
    int groups[2];
    int ng = 0;
    const char *gl = g_opt.groups ? g_opt.groups : "x25519,p256";
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s", gl);
    char *save = NULL;
    for (char *t = strtok_r(tmp, ",:", &save); t && ng < 2; t = strtok_r(NULL, ",:", &save)) {
        if (strcasecmp(t, "x25519") == 0)
            groups[ng++] = WOLFSSL_ECC_X25519;
        else if (strcasecmp(t, "p256") == 0 || strcasecmp(t, "p-256") == 0 || strcasecmp(t, "secp256r1") == 0)
            groups[ng++] = WOLFSSL_ECC_SECP256R1;
        else {
            fprintf(stderr, "dance-bench: unknown group '%s' (x25519, p256)\n", t);
            exit(2);
        }
    }
    if (ng == 0 || wolfSSL_CTX_set_groups(ctx, groups, ng) != WOLFSSL_SUCCESS) {
        fprintf(stderr, "dance-bench: wolfSSL_CTX_set_groups failed for '%s'\n", gl);
        exit(2);
    }
    if (g_opt.ciphers && wolfSSL_CTX_set_cipher_list(ctx, g_opt.ciphers) != WOLFSSL_SUCCESS) {
        fprintf(stderr, "dance-bench: bad --tls-ciphers '%s'\n", g_opt.ciphers);
        exit(2);
    }
    if (crt) {
        if (wolfSSL_CTX_use_certificate_chain_file(ctx, crt) != WOLFSSL_SUCCESS ||
            wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
            wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
            fprintf(stderr, "dance-bench: cannot load identity %s / %s\n", crt, key);
            wolfSSL_CTX_free(ctx);
            exit(2);
        }
    }
    return ctx;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void load_ids(const char *dir, idpool_t *pool, const char *opt)
{
    DIR *d = opendir(dir);
    if (!d)
        die_usage("cannot open %s directory", opt);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= 4 || strcmp(e->d_name + l - 4, ".crt") != 0)
            continue;
        char key[4096];
        snprintf(key, sizeof key, "%s/%.*s.key", dir, (int)(l - 4), e->d_name);
        if (access(key, R_OK) != 0)
            continue; /* e.g. ca.crt without its key, or a CA certificate */
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(names, cap * sizeof *nv);
            if (!nv)
                exit(1);
            names = nv;
        }
        names[n++] = strndup(e->d_name, l - 4);
    }
    closedir(d);
    if (n == 0)
        die_usage("no NAME.crt with NAME.key in the %s directory", opt);
    qsort(names, n, sizeof *names, cmp_str);
    pool->v = calloc(n, sizeof *pool->v);
    if (!pool->v)
        exit(1);
    for (size_t i = 0; i < n; i++) {
        char crt[4096], key[4096];
        snprintf(crt, sizeof crt, "%s/%s.crt", dir, names[i]);
        snprintf(key, sizeof key, "%s/%s.key", dir, names[i]);
        pool->v[i].name = names[i];
        pool->v[i].ctx = make_ctx(crt, key);
        if (!pool->v[i].ctx)
            exit(1);
    }
    pool->n = n;
    free(names);
}

static void free_ids(idpool_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        wolfSSL_CTX_free(p->v[i].ctx);
        free(p->v[i].name);
    }
    free(p->v);
}

static int parse_loopback(const char *s, struct sockaddr_storage *ss, int port)
{
    memset(ss, 0, sizeof *ss);
    if (strcmp(s, "localhost") == 0)
        s = "127.0.0.1";
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        return (ntohl(a4->sin_addr.s_addr) >> 24) == 127 ? AF_INET : -1;
    }
    if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr) ? AF_INET6 : -1;
    }
    return -1;
}

static double read_pid_cpu(int pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* after ") ": field 3 state ... field 14 utime, 15 stime */
    unsigned long long ut = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stime) != 2)
        return -1;
    return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double servers_cpu(void)
{
    double sum = 0;
    for (int i = 0; i < g_opt.n_pids; i++) {
        double v = read_pid_cpu(g_opt.pids[i]);
        if (v < 0)
            return -1;
        sum += v;
    }
    return sum;
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&g_stop, 1);
}

/* ------------------------------------------------------------------ report */

static const char *rcode_name(int i)
{
    static const char *const n[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
                                    "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11",
                                    "RCODE12", "RCODE13", "RCODE14", "RCODE15", "EXTENDED"};
    return n[i];
}

typedef struct {
    double elapsed, self_cpu, server_cpu;
    stats_t *st;
} result_t;

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static void print_lat_row(FILE *f, const char *label, const hist_t *h)
{
    if (h->count == 0) {
        fprintf(f, "  %-22s %10s\n", label, "0");
        return;
    }
    fprintf(f, "  %-22s %10llu %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", label, (unsigned long long)h->count,
            ms(hist_quantile(h, 0.5)), ms(hist_quantile(h, 0.9)), ms(hist_quantile(h, 0.99)),
            ms(hist_quantile(h, 0.999)), ms(h->max), ms(h->sum / h->count));
}

static uint64_t other_rcodes(const stats_t *st)
{
    uint64_t n = 0;
    for (int i = 0; i < RCODE_SLOTS; i++)
        if (i != WIRE_RC_NOERROR && i != WIRE_RC_NXDOMAIN && i != WIRE_RC_SERVFAIL && i != WIRE_RC_REFUSED)
            n += st->rcode[i];
    return n;
}

static int att_targets(int k)
{
    switch (k) {
    case ATT_TCP: return g_opt.att_tcp;
    case ATT_PARTIAL: return g_opt.att_partial;
    case ATT_SILENT: return g_opt.att_silent;
    case ATT_NOREAD: return g_opt.att_noread;
    default: return g_opt.att_certs;
    }
}

static void print_table(FILE *f, const result_t *r)
{
    const stats_t *st = r->st;
    char srv[INET6_ADDRSTRLEN + 2];
    snprintf(srv, sizeof srv, "%s", g_opt.server);
    fprintf(f, "dance-bench  mode %s  server %s port %d  threads %d  duration %.2f s (measured %.3f s)\n",
            mode_names[g_opt.mode], srv, g_opt.port, g_opt.threads, g_opt.duration, r->elapsed);
    if (g_opt.mode == M_ATTACK)
        fprintf(f, "  honest clients: %.1f new connections/s (open loop)", g_opt.honest_rate);
    else
        fprintf(f, "  clients %d", g_opt.clients);
    if (g_opt.mode == M_PIPELINE)
        fprintf(f, "  inflight %d", g_opt.inflight);
    if (g_opt.mode == M_CONNECT)
        fprintf(f, "  queries-per-conn %d%s", g_opt.qpc, g_opt.rate > 0 ? "" : "");
    if (g_opt.mode == M_CONNECT && g_opt.rate > 0)
        fprintf(f, "  rate %.1f/s", g_opt.rate);
    if (g_opt.mode == M_MIX)
        fprintf(f, "  mix-new-ratio %.3f", g_opt.mix_ratio);
    fprintf(f, "  identities %zu%s  names %zu  qtype %s%s\n", g_ids.n, g_ids.n ? "" : " (anonymous)", g_nq,
            g_opt.qtype_text, g_opt.do_bit ? "  DO" : "");
    fprintf(f, "connections    attempted %llu  opened %llu  handshakes ok %llu  failed %llu (timeouts %llu)  "
               "closed by us %llu  unfinished at end %llu\n",
            (unsigned long long)st->conn_attempts, (unsigned long long)st->conn_opened,
            (unsigned long long)st->hs_ok, (unsigned long long)st->hs_failed, (unsigned long long)st->hs_timeout,
            (unsigned long long)st->conns_done, (unsigned long long)st->in_progress_at_end);
    if (st->hs_failed && st->last_hs_error) {
        char eb[WOLFSSL_MAX_ERROR_SZ];
        wolfSSL_ERR_error_string_n((unsigned long)st->last_hs_error, eb, sizeof eb);
        fprintf(f, "               last handshake error: %d (%s)\n", st->last_hs_error, eb);
    }
    fprintf(f, "queries        sent %llu  answers %llu  unanswered at end %llu  lost on close %llu\n",
            (unsigned long long)st->queries_sent, (unsigned long long)st->answers,
            (unsigned long long)st->unanswered_at_end, (unsigned long long)st->lost_on_close);
    fprintf(f, "rcodes        ");
    bool any = false;
    for (int i = 0; i < RCODE_SLOTS; i++)
        if (st->rcode[i]) {
            fprintf(f, " %s %llu", rcode_name(i), (unsigned long long)st->rcode[i]);
            any = true;
        }
    fprintf(f, "%s\n", any ? "" : " (none)");
    fprintf(f, "throughput     %.1f answers/s", (double)st->answers / r->elapsed);
    if (g_opt.mode != M_PIPELINE)
        fprintf(f, "  %.1f new connections/s (handshakes ok)", (double)st->hs_ok / r->elapsed);
    fprintf(f, "\n");
    fprintf(f, "latency (ms)                count       p50       p90       p99     p99.9       max      mean\n");
    print_lat_row(f, "query", &st->q_lat);
    print_lat_row(f, "connect->handshake", &st->hs_lat);
    print_lat_row(f, "connect->first answer", &st->first_lat);
    fprintf(f, "errors         connect_failed %llu  handshake_failed %llu  timeout %llu  closed_by_server %llu  "
               "refused %llu  servfail %llu  other_rcode %llu  malformed %llu  (tls_error %llu)\n",
            (unsigned long long)st->connect_failed, (unsigned long long)st->hs_failed,
            (unsigned long long)st->timeouts, (unsigned long long)st->closed_by_server,
            (unsigned long long)st->rcode[WIRE_RC_REFUSED], (unsigned long long)st->rcode[WIRE_RC_SERVFAIL],
            (unsigned long long)other_rcodes(st), (unsigned long long)st->malformed,
            (unsigned long long)st->tls_error);
    fprintf(f, "cpu            dance-bench %.3f s (%.0f%% of one core)", r->self_cpu, 100 * r->self_cpu / r->elapsed);
    if (g_opt.n_pids) {
        if (r->server_cpu >= 0) {
            fprintf(f, "  server %.3f s (%.0f%% of one core)", r->server_cpu, 100 * r->server_cpu / r->elapsed);
            if (st->answers)
                fprintf(f, "  server CPU per answer %.1f us", r->server_cpu * 1e6 / (double)st->answers);
        } else {
            fprintf(f, "  server: unreadable");
        }
    }
    fprintf(f, "\n");
    if (g_opt.mode == M_ATTACK) {
        fprintf(f, "honest         connect->first answer p50 %.3f ms  p99 %.3f ms  ok %llu of %llu started\n",
                ms(hist_quantile(&st->first_lat, 0.5)), ms(hist_quantile(&st->first_lat, 0.99)),
                (unsigned long long)st->first_lat.count, (unsigned long long)st->conn_attempts);
        fprintf(f, "attackers      kind            target  started   tcp_ok   tls_ok conn_fail closed_by_srv open_at_end "
                   "(handshaking)  queries  answers    bytes\n");
        for (int k = 0; k < ATT_KINDS; k++) {
            const att_stats_t *a = &st->att[k];
            if (!att_targets(k))
                continue;
            fprintf(f, "               %-14s %7d %8llu %8llu %8llu %9llu %13llu %11llu %13llu %8llu %8llu %8llu\n",
                    att_names[k], att_targets(k), (unsigned long long)a->started, (unsigned long long)a->tcp_ok,
                    (unsigned long long)a->tls_ok, (unsigned long long)a->connect_failed,
                    (unsigned long long)a->closed_by_server, (unsigned long long)a->open_at_end,
                    (unsigned long long)a->handshaking_at_end, (unsigned long long)a->queries_sent,
                    (unsigned long long)a->answers, (unsigned long long)a->bytes_sent);
        }
    }
}

static void json_hist(FILE *f, const char *key, const hist_t *h, bool comma)
{
    fprintf(f, "    \"%s\": {\"count\": %llu, \"p50\": %.6f, \"p90\": %.6f, \"p99\": %.6f, \"p99_9\": %.6f, "
               "\"max\": %.6f, \"mean\": %.6f}%s\n",
            key, (unsigned long long)h->count, ms(hist_quantile(h, 0.5)), ms(hist_quantile(h, 0.9)),
            ms(hist_quantile(h, 0.99)), ms(hist_quantile(h, 0.999)), h->count ? ms(h->max) : 0.0,
            h->count ? ms(h->sum / h->count) : 0.0, comma ? "," : "");
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static int write_json(const char *path, const result_t *r)
{
    const stats_t *st = r->st;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
#define U(x) ((unsigned long long)(x))
    fprintf(f, "{\n  \"mode\": \"%s\",\n  \"server\": ", mode_names[g_opt.mode]);
    json_str(f, g_opt.server);
    fprintf(f, ",\n  \"port\": %d,\n  \"threads\": %d,\n  \"clients\": %d,\n  \"inflight\": %d,\n"
               "  \"queries_per_conn\": %d,\n  \"mix_new_ratio\": %g,\n  \"rate\": %g,\n  \"identities\": %zu,\n"
               "  \"names\": %zu,\n  \"qtype\": ",
            g_opt.port, g_opt.threads, g_opt.clients, g_opt.inflight, g_opt.qpc, g_opt.mix_ratio, g_opt.rate, g_ids.n,
            g_nq);
    json_str(f, g_opt.qtype_text);
    fprintf(f, ",\n  \"do\": %s,\n  \"duration\": %g,\n  \"elapsed\": %.6f,\n", g_opt.do_bit ? "true" : "false",
            g_opt.duration, r->elapsed);
    fprintf(f, "  \"connections\": {\"attempted\": %llu, \"opened\": %llu, \"handshakes_ok\": %llu, "
               "\"handshakes_failed\": %llu, \"handshake_timeouts\": %llu, \"closed_by_us\": %llu, "
               "\"unfinished_at_end\": %llu, \"last_handshake_error\": %d},\n",
            U(st->conn_attempts), U(st->conn_opened), U(st->hs_ok), U(st->hs_failed), U(st->hs_timeout),
            U(st->conns_done), U(st->in_progress_at_end), st->last_hs_error);
    fprintf(f, "  \"queries\": {\"sent\": %llu, \"answers\": %llu, \"unanswered_at_end\": %llu, \"lost_on_close\": %llu},\n",
            U(st->queries_sent), U(st->answers), U(st->unanswered_at_end), U(st->lost_on_close));
    fprintf(f, "  \"rcodes\": {");
    bool first = true;
    for (int i = 0; i < RCODE_SLOTS; i++)
        if (st->rcode[i]) {
            fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", rcode_name(i), U(st->rcode[i]));
            first = false;
        }
    fprintf(f, "},\n");
    fprintf(f, "  \"throughput\": {\"answers_per_s\": %.3f, \"new_connections_per_s\": %.3f},\n",
            (double)st->answers / r->elapsed, (double)st->hs_ok / r->elapsed);
    fprintf(f, "  \"latency_ms\": {\n");
    json_hist(f, "query", &st->q_lat, true);
    json_hist(f, "handshake", &st->hs_lat, true);
    json_hist(f, "connect_to_first_answer", &st->first_lat, false);
    fprintf(f, "  },\n");
    fprintf(f, "  \"errors\": {\"connect_failed\": %llu, \"handshake_failed\": %llu, \"timeout\": %llu, "
               "\"closed_by_server\": %llu, \"refused\": %llu, \"servfail\": %llu, \"other_rcode\": %llu, "
               "\"malformed\": %llu, \"tls_error\": %llu},\n",
            U(st->connect_failed), U(st->hs_failed), U(st->timeouts), U(st->closed_by_server),
            U(st->rcode[WIRE_RC_REFUSED]), U(st->rcode[WIRE_RC_SERVFAIL]), U(other_rcodes(st)), U(st->malformed),
            U(st->tls_error));
    fprintf(f, "  \"cpu\": {\"self_s\": %.6f", r->self_cpu);
    if (g_opt.n_pids && r->server_cpu >= 0) {
        fprintf(f, ", \"server_s\": %.6f, \"server_pids\": [", r->server_cpu);
        for (int i = 0; i < g_opt.n_pids; i++)
            fprintf(f, "%s%d", i ? ", " : "", g_opt.pids[i]);
        fprintf(f, "], \"server_us_per_answer\": %.3f",
                st->answers ? r->server_cpu * 1e6 / (double)st->answers : 0.0);
    }
    fprintf(f, "}");
    if (g_opt.mode == M_ATTACK) {
        fprintf(f, ",\n  \"attack\": {\n    \"honest_rate\": %g,\n", g_opt.honest_rate);
        fprintf(f, "    \"honest\": {\"started\": %llu, \"answered\": %llu, \"connect_to_first_answer_p50_ms\": %.6f, "
                   "\"connect_to_first_answer_p99_ms\": %.6f, \"failures\": {\"connect_failed\": %llu, "
                   "\"handshake_failed\": %llu, \"timeout\": %llu, \"closed_by_server\": %llu, \"refused\": %llu, "
                   "\"servfail\": %llu, \"other_rcode\": %llu, \"malformed\": %llu}},\n",
                U(st->conn_attempts), U(st->first_lat.count), ms(hist_quantile(&st->first_lat, 0.5)),
                ms(hist_quantile(&st->first_lat, 0.99)), U(st->connect_failed), U(st->hs_failed), U(st->timeouts),
                U(st->closed_by_server), U(st->rcode[WIRE_RC_REFUSED]), U(st->rcode[WIRE_RC_SERVFAIL]),
                U(other_rcodes(st)), U(st->malformed));
        fprintf(f, "    \"attackers\": {");
        bool firstk = true;
        for (int k = 0; k < ATT_KINDS; k++) {
            const att_stats_t *a = &st->att[k];
            if (!att_targets(k))
                continue;
            fprintf(f, "%s\n      \"%s\": {\"target\": %d, \"started\": %llu, \"tcp_established\": %llu, "
                       "\"tls_established\": %llu, \"connect_failed\": %llu, \"closed_by_server\": %llu, "
                       "\"open_at_end\": %llu, \"handshaking_at_end\": %llu, \"queries_sent\": %llu, "
                       "\"answers\": %llu, \"bytes_sent\": %llu}",
                    firstk ? "" : ",", att_names[k], att_targets(k), U(a->started), U(a->tcp_ok), U(a->tls_ok),
                    U(a->connect_failed), U(a->closed_by_server), U(a->open_at_end), U(a->handshaking_at_end),
                    U(a->queries_sent), U(a->answers), U(a->bytes_sent));
            firstk = false;
        }
        fprintf(f, "\n    }\n  }");
    }
    fprintf(f, "\n}\n");
#undef U
    return fclose(f) == 0 ? 0 : -1;
}

static void merge_stats(stats_t *dst, const stats_t *s)
{
    dst->conn_attempts += s->conn_attempts;
    dst->conn_opened += s->conn_opened;
    dst->connect_failed += s->connect_failed;
    dst->hs_ok += s->hs_ok;
    dst->hs_failed += s->hs_failed;
    dst->hs_timeout += s->hs_timeout;
    dst->queries_sent += s->queries_sent;
    dst->answers += s->answers;
    for (int i = 0; i < RCODE_SLOTS; i++)
        dst->rcode[i] += s->rcode[i];
    dst->timeouts += s->timeouts;
    dst->closed_by_server += s->closed_by_server;
    dst->tls_error += s->tls_error;
    dst->malformed += s->malformed;
    dst->lost_on_close += s->lost_on_close;
    dst->unanswered_at_end += s->unanswered_at_end;
    dst->conns_done += s->conns_done;
    dst->in_progress_at_end += s->in_progress_at_end;
    if (s->last_hs_error)
        dst->last_hs_error = s->last_hs_error;
    hist_merge(&dst->q_lat, &s->q_lat);
    hist_merge(&dst->first_lat, &s->first_lat);
    hist_merge(&dst->hs_lat, &s->hs_lat);
    for (int k = 0; k < ATT_KINDS; k++) {
        att_stats_t *a = &dst->att[k];
        const att_stats_t *b = &s->att[k];
        a->started += b->started;
        a->tcp_ok += b->tcp_ok;
        a->tls_ok += b->tls_ok;
        a->connect_failed += b->connect_failed;
        a->closed_by_server += b->closed_by_server;
        a->open_at_end += b->open_at_end;
        a->handshaking_at_end += b->handshaking_at_end;
        a->queries_sent += b->queries_sent;
        a->answers += b->answers;
        a->bytes_sent += b->bytes_sent;
    }
}

/* ------------------------------------------------------------------ main */

enum {
    O_SERVER = 256, O_PORT, O_MODE, O_DURATION, O_THREADS, O_CLIENTS, O_INFLIGHT, O_QPC, O_MIX, O_CERTDIR,
    O_QNAME, O_NAMES, O_QTYPE, O_DO, O_TIMEOUT, O_RATE, O_PID, O_JSON, O_CIPHERS, O_GROUPS, O_A_TCP,
    O_A_PARTIAL, O_A_SILENT, O_A_NOREAD, O_A_CERTDIR, O_A_CERTS, O_HONEST_RATE, O_A_SRC, O_HONEST_SRC, O_HELP,
};

static const struct option long_opts[] = {
    {"server", required_argument, NULL, O_SERVER},
    {"port", required_argument, NULL, O_PORT},
    {"mode", required_argument, NULL, O_MODE},
    {"duration", required_argument, NULL, O_DURATION},
    {"threads", required_argument, NULL, O_THREADS},
    {"clients", required_argument, NULL, O_CLIENTS},
    {"inflight", required_argument, NULL, O_INFLIGHT},
    {"queries-per-conn", required_argument, NULL, O_QPC},
    {"mix-new-ratio", required_argument, NULL, O_MIX},
    {"cert-dir", required_argument, NULL, O_CERTDIR},
    {"qname", required_argument, NULL, O_QNAME},
    {"names", required_argument, NULL, O_NAMES},
    {"qtype", required_argument, NULL, O_QTYPE},
    {"do", no_argument, NULL, O_DO},
    {"timeout-ms", required_argument, NULL, O_TIMEOUT},
    {"rate", required_argument, NULL, O_RATE},
    {"server-pid", required_argument, NULL, O_PID},
    {"json", required_argument, NULL, O_JSON},
    {"tls-ciphers", required_argument, NULL, O_CIPHERS},
    {"groups", required_argument, NULL, O_GROUPS},
    {"attack-tcp-only", required_argument, NULL, O_A_TCP},
    {"attack-partial-hello", required_argument, NULL, O_A_PARTIAL},
    {"attack-silent-tls", required_argument, NULL, O_A_SILENT},
    {"attack-no-read", required_argument, NULL, O_A_NOREAD},
    {"attack-cert-dir", required_argument, NULL, O_A_CERTDIR},
    {"attack-certs", required_argument, NULL, O_A_CERTS},
    {"honest-rate", required_argument, NULL, O_HONEST_RATE},
    {"attack-source-base", required_argument, NULL, O_A_SRC},
    {"honest-source", required_argument, NULL, O_HONEST_SRC},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static void parse_args(int argc, char **argv)
{
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (o) {
        case O_SERVER: g_opt.server = optarg; break;
        case O_PORT: g_opt.port = (int)parse_long(optarg, "--port", 1, 65535); break;
        case O_MODE:
            g_opt.mode = -1;
            for (int i = 0; i < 4; i++)
                if (strcmp(optarg, mode_names[i]) == 0)
                    g_opt.mode = i;
            if (g_opt.mode < 0)
                die_usage("unknown --mode %s", optarg);
            break;
        case O_DURATION: g_opt.duration = parse_double(optarg, "--duration", 0.01, 86400); break;
        case O_THREADS: g_opt.threads = (int)parse_long(optarg, "--threads", 1, 64); break;
        case O_CLIENTS: g_opt.clients = (int)parse_long(optarg, "--clients", 1, 200000); break;
        case O_INFLIGHT: g_opt.inflight = (int)parse_long(optarg, "--inflight", 1, MAX_INFLIGHT); break;
        case O_QPC: g_opt.qpc = (int)parse_long(optarg, "--queries-per-conn", 1, 1000000); break;
        case O_MIX: g_opt.mix_ratio = parse_double(optarg, "--mix-new-ratio", 0, 1); break;
        case O_CERTDIR: g_opt.cert_dir = optarg; break;
        case O_QNAME: g_opt.qname = optarg; break;
        case O_NAMES: g_opt.names_file = optarg; break;
        case O_QTYPE:
            if (parse_type(optarg, &g_opt.qtype))
                die_usage("bad --qtype %s", optarg);
            g_opt.qtype_text = optarg;
            break;
        case O_DO: g_opt.do_bit = true; break;
        case O_TIMEOUT: g_opt.timeout_ms = (int)parse_long(optarg, "--timeout-ms", 1, 3600000); break;
        case O_RATE: g_opt.rate = parse_double(optarg, "--rate", 0, 1e7); break;
        case O_PID:
            if (g_opt.n_pids >= MAX_PIDS)
                die_usage("too many %s", "--server-pid");
            g_opt.pids[g_opt.n_pids++] = (int)parse_long(optarg, "--server-pid", 1, 0x7fffffff);
            break;
        case O_JSON: g_opt.json = optarg; break;
        case O_CIPHERS: g_opt.ciphers = optarg; break;
        case O_GROUPS: g_opt.groups = optarg; break;
        case O_A_TCP: g_opt.att_tcp = (int)parse_long(optarg, "--attack-tcp-only", 0, 200000); break;
        case O_A_PARTIAL: g_opt.att_partial = (int)parse_long(optarg, "--attack-partial-hello", 0, 200000); break;
        case O_A_SILENT: g_opt.att_silent = (int)parse_long(optarg, "--attack-silent-tls", 0, 200000); break;
        case O_A_NOREAD: g_opt.att_noread = (int)parse_long(optarg, "--attack-no-read", 0, 200000); break;
        case O_A_CERTDIR: g_opt.att_cert_dir = optarg; break;
        case O_A_CERTS: g_opt.att_certs = (int)parse_long(optarg, "--attack-certs", 0, 200000); break;
        case O_HONEST_RATE: g_opt.honest_rate = parse_double(optarg, "--honest-rate", 0, 1e6); break;
        case O_A_SRC: g_opt.att_source_base = optarg; break;
        case O_HONEST_SRC: g_opt.honest_source = optarg; break;
        case O_HELP:
        case 'h': usage(stdout); exit(0);
        default:
            die_usage("unknown or incomplete option %s", optind > 0 && optind <= argc ? argv[optind - 1] : "?");
        }
    }
    if (optind < argc)
        die_usage("unexpected argument %s", argv[optind]);
    if (!g_opt.server)
        die_usage("%s is required", "--server");
    if (g_opt.mode < 0)
        die_usage("%s is required", "--mode");
    if (g_opt.duration <= 0)
        die_usage("%s is required", "--duration");
    if (g_opt.qname && g_opt.names_file)
        die_usage("%s: give --qname or --names, not both", "--names");
    g_family = parse_loopback(g_opt.server, &g_server, g_opt.port);
    if (g_family < 0)
        die_usage("--server %s is not a loopback address (127.0.0.0/8 or ::1)", g_opt.server);
    if (g_opt.honest_source) {
        if (parse_loopback(g_opt.honest_source, &g_honest_src, 0) != g_family)
            die_usage("--honest-source %s must be a loopback address of the server's family", g_opt.honest_source);
        g_has_honest_src = true;
    }
    int natt = g_opt.att_tcp + g_opt.att_partial + g_opt.att_silent + g_opt.att_noread + g_opt.att_certs;
    if (g_opt.mode != M_ATTACK && natt > 0)
        die_usage("%s: attacker options need --mode attack", "--attack-*");
    if (g_opt.att_certs > 0 && !g_opt.att_cert_dir)
        die_usage("%s needs --attack-cert-dir", "--attack-certs");
    if (g_opt.mode == M_ATTACK) {
        struct sockaddr_storage tmp;
        if (parse_loopback(g_opt.att_source_base, &tmp, 0) != AF_INET)
            die_usage("--attack-source-base %s must be an IPv4 address in 127.0.0.0/8", g_opt.att_source_base);
        g_att_base = ntohl(((struct sockaddr_in *)&tmp)->sin_addr.s_addr);
        g_att_bind = g_family == AF_INET;
        if (!g_att_bind && natt > 0)
            fprintf(stderr, "dance-bench: note: IPv6 server: attackers do not bind distinct source addresses\n");
    }
}

static void setup_slots(void)
{
    int T = g_opt.threads;
    size_t *count = calloc((size_t)T, sizeof *count);
    if (!count)
        exit(1);
    int roles_n[ATT_KINDS] = {g_opt.att_tcp, g_opt.att_partial, g_opt.att_silent, g_opt.att_noread, g_opt.att_certs};
    size_t total = 0;
    if (g_opt.mode == M_ATTACK) {
        for (int k = 0; k < ATT_KINDS; k++)
            total += (size_t)roles_n[k];
    } else {
        total = (size_t)g_opt.clients;
    }
    for (int t = 0; t < T; t++) {
        g_workers[t].slots = calloc(total / (size_t)T + 1, sizeof(slot_t));
        if (!g_workers[t].slots)
            exit(1);
    }
    size_t g = 0;
    if (g_opt.mode == M_ATTACK) {
        for (int k = 0; k < ATT_KINDS; k++) {
            for (int i = 0; i < roles_n[k]; i++, g++) {
                worker_t *w = &g_workers[g % (size_t)T];
                slot_t *s = &w->slots[w->nslots++];
                s->role = R_A_TCP + k;
                if (g_att_bind) {
                    uint32_t low = g_att_base & 0xFFFFFFu;
                    if (low == 0)
                        low = 1;
                    uint32_t v = ((low - 1 + (uint32_t)g) % 0xFFFFFEu) + 1;
                    s->has_src = true;
                    s->src.sin_family = AF_INET;
                    s->src.sin_addr.s_addr = htonl((127u << 24) | v);
                }
            }
        }
    } else {
        int role = g_opt.mode == M_PIPELINE ? R_PIPE : g_opt.mode == M_CONNECT ? R_CONNECT : R_MIX;
        for (size_t i = 0; i < total; i++) {
            worker_t *w = &g_workers[i % (size_t)T];
            w->slots[w->nslots++].role = role;
        }
    }
    for (int t = 0; t < T; t++)
        g_workers[t].idle_slots = g_workers[t].nslots;
    free(count);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
        fprintf(stderr, "dance-bench: wolfSSL_Init failed\n");
        return 1;
    }
    g_anon = make_ctx(NULL, NULL);
    if (!g_anon)
        return 1;
    if (g_opt.cert_dir)
        load_ids(g_opt.cert_dir, &g_ids, "--cert-dir");
    if (g_opt.att_cert_dir)
        load_ids(g_opt.att_cert_dir, &g_att_ids, "--attack-cert-dir");
    build_templates();

    for (int i = 0; i < g_opt.n_pids; i++)
        if (read_pid_cpu(g_opt.pids[i]) < 0) {
            fprintf(stderr, "dance-bench: cannot read /proc/%d/stat\n", g_opt.pids[i]);
            return 2;
        }

    int T = g_opt.threads;
    g_workers = calloc((size_t)T, sizeof *g_workers);
    if (!g_workers)
        return 1;
    setup_slots();
    for (int t = 0; t < T; t++) {
        worker_t *w = &g_workers[t];
        w->idx = t;
        w->rng = (uint64_t)time(NULL) * 2654435761u + (uint64_t)t * 0x9E3779B97F4A7C15ull + 1;
        hist_init(&w->st.q_lat);
        hist_init(&w->st.first_lat);
        hist_init(&w->st.hs_lat);
        if (g_opt.mode == M_CONNECT && g_opt.rate > 0) {
            w->conn_rate = g_opt.rate / T;
            w->conn_tokens = 1;
        }
        if (g_opt.mode == M_ATTACK)
            w->honest_rate = g_opt.honest_rate / T;
    }

    double srv0 = g_opt.n_pids ? servers_cpu() : 0;
    double self0 = self_cpu();
    g_t0 = uv_hrtime();
    for (int t = 0; t < T; t++)
        if (pthread_create(&g_workers[t].th, NULL, worker_main, &g_workers[t]) != 0) {
            fprintf(stderr, "dance-bench: pthread_create failed\n");
            return 1;
        }
    uint64_t end = g_t0 + (uint64_t)(g_opt.duration * 1e9);
    for (;;) {
        uint64_t now = uv_hrtime();
        if (now >= end || atomic_load(&g_stop))
            break;
        uint64_t left = end - now;
        if (left > 20 * NS_PER_MS)
            left = 20 * NS_PER_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left};
        nanosleep(&ts, NULL);
    }
    double srv1 = g_opt.n_pids ? servers_cpu() : 0;
    double self1 = self_cpu();
    uint64_t t_end = uv_hrtime();
    atomic_store(&g_stop, 1);
    for (int t = 0; t < T; t++)
        pthread_join(g_workers[t].th, NULL);

    stats_t *total = calloc(1, sizeof *total);
    if (!total)
        return 1;
    hist_init(&total->q_lat);
    hist_init(&total->first_lat);
    hist_init(&total->hs_lat);
    for (int t = 0; t < T; t++)
        merge_stats(total, &g_workers[t].st);
    result_t r = {.elapsed = (double)(t_end - g_t0) / 1e9, .self_cpu = self1 - self0, .st = total,
                  .server_cpu = (g_opt.n_pids && srv0 >= 0 && srv1 >= 0) ? srv1 - srv0 : -1};
    print_table(stdout, &r);
    fflush(stdout);
    int rc = 0;
    if (g_opt.json && write_json(g_opt.json, &r) != 0) {
        fprintf(stderr, "dance-bench: cannot write %s\n", g_opt.json);
        rc = 1;
    }

    for (int t = 0; t < T; t++)
        free(g_workers[t].slots);
    free(g_workers);
    free(total);
    for (size_t i = 0; i < g_nq; i++)
        free(g_q[i].msg);
    free(g_q);
    free_ids(&g_ids);
    free_ids(&g_att_ids);
    wolfSSL_CTX_free(g_anon);
    wolfSSL_Cleanup();
    return rc;
}
