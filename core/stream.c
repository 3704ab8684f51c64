/* core/stream.c — see stream.h for the life of a stream. */
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "metrics.h"

#define STREAM_READ_BUF (64 * 1024)
#define STREAM_PLAIN_BUF (16 * 1024 + 64) /* one TLS record's plaintext at most */

typedef struct {
    uv_write_t req;
    stream_t *s;
    uint8_t *data;
    size_t len;
} stream_write_t;

static void flush_check_cb(uv_prepare_t *h);
static void read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf);
static void pump(stream_t *s);
static void close_handles(stream_t *s);

int stream_loop_init(stream_loop_t *sl, uv_loop_t *loop)
{
    memset(sl, 0, sizeof *sl);
    sl->loop = loop;
    sl->read_buf = malloc(STREAM_READ_BUF);
    if (!sl->read_buf)
        return DN_ENOMEM;
    sl->read_buf_len = STREAM_READ_BUF;
    sl->plain_buf = malloc(STREAM_PLAIN_BUF);
    if (!sl->plain_buf) {
        free(sl->read_buf);
        return DN_ENOMEM;
    }
    if (uv_prepare_init(loop, &sl->flush_check) != 0) {
        free(sl->read_buf);
        free(sl->plain_buf);
        return DN_EIO;
    }
    sl->flush_check.data = sl;
    uv_prepare_start(&sl->flush_check, flush_check_cb);
    /* The flush handle must not keep the loop alive on its own. */
    uv_unref((uv_handle_t *)&sl->flush_check);
    return DN_OK;
}

static void loop_check_closed(uv_handle_t *h)
{
    stream_loop_t *sl = h->data;
    free(sl->read_buf);
    sl->read_buf = NULL;
    free(sl->plain_buf);
    sl->plain_buf = NULL;
}

void stream_loop_close(stream_loop_t *sl)
{
    uv_close((uv_handle_t *)&sl->flush_check, loop_check_closed);
}

static void flush_list_add(stream_t *s)
{
    if (s->in_flush_list)
        return;
    s->in_flush_list = true;
    s->flush_next = s->sl->flush_head;
    s->sl->flush_head = s;
}

static void flush_list_remove(stream_t *s)
{
    if (!s->in_flush_list)
        return;
    stream_t **pp = &s->sl->flush_head;
    while (*pp && *pp != s)
        pp = &(*pp)->flush_next;
    if (*pp)
        *pp = s->flush_next;
    s->in_flush_list = false;
    s->flush_next = NULL;
}

static void flush_check_cb(uv_prepare_t *h)
{
    stream_loop_t *sl = h->data;
    while (sl->flush_head) {
        stream_t *s = sl->flush_head;
        sl->flush_head = s->flush_next;
        s->flush_next = NULL;
        s->in_flush_list = false;
        stream_flush(s);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    stream_t *s = h->data;
    /* Reads are consumed (or stashed) synchronously in read_cb, so all streams
     * of the loop share one buffer. */
    buf->base = (char *)s->sl->read_buf;
    buf->len = s->sl->read_buf_len;
}

static void close_with(stream_t *s, stream_close_reason_t reason, bool graceful)
{
    if (!s->closing)
        s->close_reason = reason;
    stream_close(s, graceful);
}

static void write_cb(uv_write_t *req, int status)
{
    stream_write_t *w = (stream_write_t *)req;
    stream_t *s = w->s;
    s->out_queued -= w->len;
    free(w->data);
    free(w);
    if (status < 0) {
        if (status != UV_ECANCELED)
            close_with(s, STREAM_CLOSE_IO_ERROR, false);
        return;
    }
    if ((s->pause_reasons & STREAM_PAUSE_OUTPUT) && stream_output_queued(s) <= s->max_output_bytes / 2)
        stream_resume(s, STREAM_PAUSE_OUTPUT);
}

/* Write the ciphertext wolfSSL produced: synchronously when the socket takes
 * it, otherwise through a uv_write request that owns the bytes. */
static void write_tls_output(stream_t *s)
{
    if (!s->tls || s->handles_open < 2 || uv_is_closing((uv_handle_t *)&s->tcp))
        return;
    size_t len;
    uint8_t *data = tls_conn_take_output(s->tls, &len);
    if (!data)
        return;
    size_t off = 0;
    if (s->out_queued == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
        if (n > 0)
            off = (size_t)n;
        else if (n < 0 && n != UV_EAGAIN) {
            free(data);
            close_with(s, STREAM_CLOSE_IO_ERROR, false);
            return;
        }
    }
    if (off == len) {
        free(data);
        return;
    }
    stream_write_t *w = malloc(sizeof *w);
    if (!w) {
        free(data);
        close_with(s, STREAM_CLOSE_NOMEM, false);
        return;
    }
    if (off > 0)
        memmove(data, data + off, len - off);
    w->s = s;
    w->data = data;
    w->len = len - off;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, write_cb) != 0) {
        free(data);
        free(w);
        close_with(s, STREAM_CLOSE_IO_ERROR, false);
        return;
    }
    s->out_queued += w->len;
    if (stream_output_queued(s) > s->max_output_bytes)
        stream_pause(s, STREAM_PAUSE_OUTPUT);
}

void stream_flush(stream_t *s)
{
    flush_list_remove(s);
    if (s->tls && s->established && s->pt_len > 0) {
        int rc = tls_conn_write(s->tls, s->pt, s->pt_len);
        /* Freed after every batch: an idle connection holds no plaintext
         * buffer (a malloc per batch costs less than 2 KiB on every idle one). */
        free(s->pt);
        s->pt = NULL;
        s->pt_len = s->pt_cap = 0;
        if (rc != DN_OK) {
            s->tls_error = tls_conn_error(s->tls);
            close_with(s, STREAM_CLOSE_TLS_ERROR, false);
            return;
        }
    }
    write_tls_output(s);
}

int stream_send(stream_t *s, const uint8_t *msg, size_t len)
{
    if (s->closing || !s->established)
        return DN_ECLOSED;
    if (len > 65535)
        return DN_ERANGE;
    size_t need = s->pt_len + 2 + len;
    if (need > s->pt_cap) {
        size_t ncap = s->pt_cap ? s->pt_cap : 512;
        while (ncap < need)
            ncap *= 2;
        uint8_t *nb = realloc(s->pt, ncap);
        if (!nb)
            return DN_ENOMEM;
        s->pt = nb;
        s->pt_cap = ncap;
    }
    s->pt[s->pt_len] = (uint8_t)(len >> 8);
    s->pt[s->pt_len + 1] = (uint8_t)len;
    memcpy(s->pt + s->pt_len + 2, msg, len);
    s->pt_len += 2 + len;
    flush_list_add(s);
    if (stream_output_queued(s) > s->max_output_bytes)
        stream_pause(s, STREAM_PAUSE_OUTPUT);
    return DN_OK;
}

static void update_reading(stream_t *s)
{
    /* A lingering close keeps reading (and discarding) until the peer's EOF so
     * that unread input does not turn our close into a RST that could destroy
     * the last answers before the peer reads them. */
    bool want = s->lingering || (!s->closing && s->pause_reasons == 0);
    if (uv_is_closing((uv_handle_t *)&s->tcp))
        want = false;
    if (want && !s->reading) {
        if (uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb) == 0)
            s->reading = true;
    } else if (!want && s->reading) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->reading = false;
    }
}

void stream_pause(stream_t *s, unsigned reason)
{
    if ((reason & STREAM_PAUSE_OUTPUT) && !(s->pause_reasons & STREAM_PAUSE_OUTPUT))
        metrics_inc(M_read_paused_output);
    s->pause_reasons |= reason;
    update_reading(s);
}

void stream_resume(stream_t *s, unsigned reason)
{
    unsigned before = s->pause_reasons;
    s->pause_reasons &= ~reason;
    if (before == s->pause_reasons)
        return;
    update_reading(s);
    if (s->pause_reasons == 0)
        pump(s); /* deliver what was buffered while paused */
}

/* Deliver buffered messages and decrypt more input while nothing pauses us. */
static void pump(stream_t *s)
{
    if (s->delivering || !s->established)
        return;
    s->delivering = true;
    while (!s->closing && s->pause_reasons == 0) {
        const uint8_t *msg;
        size_t len;
        if (frame_reader_next(&s->frames, &msg, &len) == 1) {
            s->cbs->on_message(s, msg, len);
            continue;
        }
        stream_loop_t *sl = s->sl;
        size_t n = 0;
        int rc;
        if (frame_reader_pending(&s->frames) == 0 && !sl->plain_busy) {
            /* Fast path: decrypt into the loop's buffer, deliver whole frames
             * in place, keep only what is left over. */
            sl->plain_busy = true;
            rc = tls_conn_read(s->tls, sl->plain_buf, STREAM_PLAIN_BUF, &n);
            if (rc == DN_OK) {
                size_t off = 0;
                while (n - off >= 2 && !s->closing && s->pause_reasons == 0) {
                    size_t mlen = (size_t)sl->plain_buf[off] << 8 | sl->plain_buf[off + 1];
                    if (n - off - 2 < mlen)
                        break;
                    s->cbs->on_message(s, sl->plain_buf + off + 2, mlen);
                    off += 2 + mlen;
                }
                if (off < n && frame_reader_feed(&s->frames, sl->plain_buf + off, n - off) != n - off) {
                    sl->plain_busy = false;
                    close_with(s, STREAM_CLOSE_NOMEM, false);
                    break;
                }
            }
            sl->plain_busy = false;
        } else {
            size_t avail;
            uint8_t *dst = frame_reader_space(&s->frames, STREAM_PLAIN_BUF, &avail);
            if (!dst) {
                close_with(s, STREAM_CLOSE_NOMEM, false);
                break;
            }
            rc = tls_conn_read(s->tls, dst, avail, &n);
            if (rc == DN_OK)
                frame_reader_commit(&s->frames, n);
        }
        if (rc == DN_OK)
            continue;
        if (rc == DN_EAGAIN)
            break;
        if (rc == DN_ECLOSED) {
            close_with(s, STREAM_CLOSE_EOF, true);
            break;
        }
        s->tls_error = tls_conn_error(s->tls);
        close_with(s, STREAM_CLOSE_TLS_ERROR, false);
        break;
    }
    s->delivering = false;
    /* Release an empty frame buffer (idle connections hold none). */
    const uint8_t *dummy;
    size_t dlen;
    if (frame_reader_pending(&s->frames) == 0)
        (void)frame_reader_next(&s->frames, &dummy, &dlen);
}

/* TLS record header: type 22 (handshake), version 3.x, length <= 2^14
 * (RFC 8446 §5.1). */
#define TLS_RECORD_HEADER 5
#define TLS_RECORD_MAX 16384

/* Collect the first TLS record before creating any TLS state.  Consumes
 * from the input (in, in_len) what belongs to the record.  DN_OK: s->hello
 * holds the whole record and the input is what follows it; DN_EAGAIN: need
 * more; DN_EFORMAT: not a TLS handshake record; DN_ENOMEM. */
static int collect_hello(stream_t *s, const uint8_t **in, size_t *in_len)
{
    for (;;) {
        size_t need = TLS_RECORD_HEADER;
        if (s->hello_len >= TLS_RECORD_HEADER) {
            const uint8_t *h = s->hello;
            if (h[0] != 22 || h[1] != 3)
                return DN_EFORMAT;
            size_t rlen = (size_t)h[3] << 8 | h[4];
            if (rlen == 0 || rlen > TLS_RECORD_MAX)
                return DN_EFORMAT;
            need = TLS_RECORD_HEADER + rlen;
        }
        if (s->hello_len == need && need > TLS_RECORD_HEADER)
            return DN_OK;
        if (*in_len == 0)
            return DN_EAGAIN;
        size_t take = need - s->hello_len;
        if (take > *in_len)
            take = *in_len;
        /* Grow to exactly what is needed: a stalled ClientHello holds only
         * the bytes it sent. */
        uint8_t *nb = realloc(s->hello, s->hello_len + take);
        if (!nb)
            return DN_ENOMEM;
        s->hello = nb;
        memcpy(s->hello + s->hello_len, *in, take);
        s->hello_len += (uint32_t)take;
        *in += take;
        *in_len -= take;
    }
}

/* Create the TLS object and feed it the collected first record, then
 * (in, in_len): what followed it.  false when the stream was closed. */
static bool begin_tls(stream_t *s, const uint8_t *in, size_t in_len)
{
    s->tls = tls_conn_new(s->tls_ctx);
    if (!s->tls) {
        close_with(s, STREAM_CLOSE_NOMEM, false);
        return false;
    }
    /* The collected record first, then the rest of this read. */
    int rc1 = tls_conn_set_input(s->tls, s->hello, s->hello_len);
    if (rc1 == DN_OK)
        rc1 = tls_conn_stash_input(s->tls);
    free(s->hello);
    s->hello = NULL;
    s->hello_len = 0;
    if (rc1 == DN_OK)
        rc1 = tls_conn_set_input(s->tls, in, in_len);
    if (rc1 != DN_OK) {
        close_with(s, STREAM_CLOSE_NOMEM, false);
        return false;
    }
    return true;
}

/* Run the TLS engine over the input set on s->tls: handshake steps until
 * established, then decryption and delivery. */
static void process_tls_input(stream_t *s)
{
    if (!s->established) {
        int rc = tls_conn_handshake(s->tls);
        write_tls_output(s);
        if (rc == DN_EAGAIN) {
            if (!s->closing && tls_conn_stash_input(s->tls) != DN_OK)
                close_with(s, STREAM_CLOSE_NOMEM, false);
            return;
        }
        if (rc != DN_OK) {
            s->tls_error = tls_conn_error(s->tls);
            close_with(s, STREAM_CLOSE_TLS_ERROR, true); /* let the alert out */
            return;
        }
        s->established = true;
        s->cbs->on_established(s);
    }
    if (!s->closing)
        pump(s);
    /* Whatever was not decrypted (paused) must outlive the shared buffer. */
    if (s->tls && tls_conn_stash_input(s->tls) != DN_OK)
        close_with(s, STREAM_CLOSE_NOMEM, false);
}

/* While the owner defers the TLS start, bytes that follow the first record
 * are kept behind it in s->hello (an honest TLS 1.3 client sends nothing
 * more before the server's flight; a bounded few bytes are tolerated). */
static bool keep_deferred_input(stream_t *s, const uint8_t *in, size_t in_len)
{
    if (in_len == 0)
        return true;
    if ((size_t)s->hello_len + in_len > 2 * (TLS_RECORD_HEADER + TLS_RECORD_MAX)) {
        close_with(s, STREAM_CLOSE_NOT_TLS, false);
        return false;
    }
    uint8_t *nb = realloc(s->hello, s->hello_len + in_len);
    if (!nb) {
        close_with(s, STREAM_CLOSE_NOMEM, false);
        return false;
    }
    s->hello = nb;
    memcpy(s->hello + s->hello_len, in, in_len);
    s->hello_len += (uint32_t)in_len;
    return true;
}

static void read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    stream_t *s = h->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        close_with(s, nread == UV_EOF ? STREAM_CLOSE_EOF : STREAM_CLOSE_IO_ERROR, false);
        return;
    }
    if (s->closing)
        return; /* lingering: discard */
    const uint8_t *in = (const uint8_t *)buf->base;
    size_t in_len = (size_t)nread;
    if (s->tls_deferred) {
        (void)keep_deferred_input(s, in, in_len);
        return;
    }
    if (!s->tls) {
        int hrc = collect_hello(s, &in, &in_len);
        if (hrc == DN_EAGAIN)
            return;
        if (hrc != DN_OK) {
            close_with(s, hrc == DN_ENOMEM ? STREAM_CLOSE_NOMEM : STREAM_CLOSE_NOT_TLS, false);
            return;
        }
        int start = s->cbs->on_tls_start ? s->cbs->on_tls_start(s) : STREAM_TLS_GO;
        if (start == STREAM_TLS_DEFER) {
            s->tls_deferred = true;
            (void)keep_deferred_input(s, in, in_len);
            return;
        }
        if (start != STREAM_TLS_GO) {
            close_with(s, STREAM_CLOSE_REFUSED, false);
            return;
        }
        if (!begin_tls(s, in, in_len))
            return;
    } else if (tls_conn_set_input(s->tls, in, in_len) != DN_OK) {
        close_with(s, STREAM_CLOSE_NOMEM, false);
        return;
    }
    process_tls_input(s);
}

void stream_tls_admit(stream_t *s)
{
    if (!s->tls_deferred || s->closing)
        return;
    s->tls_deferred = false;
    if (begin_tls(s, NULL, 0))
        process_tls_input(s);
}

int stream_init(stream_t *s, stream_loop_t *sl, tls_ctx_t *tls_ctx, const stream_cbs_t *cbs, void *user,
                size_t max_output_bytes, uint64_t id)
{
    memset(s, 0, sizeof *s);
    s->sl = sl;
    s->tls_ctx = tls_ctx;
    s->cbs = cbs;
    s->user = user;
    s->max_output_bytes = max_output_bytes ? max_output_bytes : 65536;
    s->id = id;
    frame_reader_init(&s->frames);
    if (uv_tcp_init(sl->loop, &s->tcp) != 0)
        return DN_EIO;
    s->tcp.data = s;
    s->handles_open = 1;
    if (uv_timer_init(sl->loop, &s->timer) != 0) {
        /* The caller must still call stream_close to release the tcp handle. */
        return DN_EIO;
    }
    s->timer.data = s;
    s->handles_open = 2;
    return DN_OK;
}

int stream_start(stream_t *s)
{
    update_reading(s);
    return s->reading ? DN_OK : DN_EIO;
}

static void handle_closed(uv_handle_t *h)
{
    stream_t *s = h->data;
    if (--s->handles_open > 0)
        return;
    frame_reader_release(&s->frames);
    tls_conn_free(s->tls);
    s->tls = NULL;
    free(s->hello);
    s->hello = NULL;
    free(s->pt);
    s->pt = NULL;
    s->cbs->on_closed(s, s->close_reason);
}

static void close_handles(stream_t *s)
{
    flush_list_remove(s);
    if (!uv_is_closing((uv_handle_t *)&s->tcp)) {
        uv_close((uv_handle_t *)&s->tcp, handle_closed);
        if (s->handles_open == 2)
            uv_close((uv_handle_t *)&s->timer, handle_closed);
    }
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    stream_t *s = req->data;
    free(req);
    if (status < 0) {
        close_handles(s);
        return;
    }
    /* FIN sent after our last byte: linger until the peer closes (EOF in
     * read_cb) or the owner's timer forces the close. */
    s->lingering = true;
    update_reading(s);
    if (!s->reading)
        close_handles(s);
}

void stream_close(stream_t *s, bool graceful)
{
    if (s->closing) {
        if (!graceful)
            close_handles(s); /* force an ongoing graceful close */
        return;
    }
    s->closing = true;
    update_reading(s);
    if (graceful && s->tls && s->handles_open == 2) {
        if (s->established) {
            stream_flush(s);
            tls_conn_shutdown(s->tls);
        }
        write_tls_output(s);
        {
            uv_shutdown_t *req = malloc(sizeof *req);
            if (req) {
                req->data = s;
                if (uv_shutdown(req, (uv_stream_t *)&s->tcp, shutdown_cb) == 0)
                    return;
                free(req);
            }
        }
    }
    close_handles(s);
}
