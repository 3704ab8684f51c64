/* core/stream.h — a DNS message stream over TCP + TLS + 2-byte framing on one
 * libuv loop, with backpressure.  Used by DoT sessions and (later) XoT alike.
 *
 * Read this first — life of a stream:
 *   stream_init → (caller uv_accept()s into &s->tcp) → stream_start
 *   the first TLS record (the ClientHello) is collected in a small buffer of
 *   the stream's own → once it is complete, cbs->on_tls_start may refuse
 *   (handshake cap) → the wolfSSL object is created only now: a silent peer,
 *   or one that stalls inside its ClientHello (a TLS slowloris), costs a
 *   socket and a few hundred bytes, never ~56 KiB nor a handshake slot
 *   → handshake → cbs->on_established → cbs->on_message for every complete
 *   message → ... → stream_close → cbs->on_closed exactly once, after both
 *   libuv handles are closed: only then may the owner free the memory that
 *   holds the stream_t.
 *
 * Backpressure: stream_pause(s, reason) stops reading from the socket AND
 * stops delivering buffered messages until every reason is cleared with
 * stream_resume.  The stream pauses itself (STREAM_PAUSE_OUTPUT) while more
 * than max_output_bytes are queued for a peer that does not read.
 *
 * Output: stream_send queues one message; queued messages are encrypted and
 * written together (one TLS record and one write for a batch) when the loop's
 * prepare phase runs (before the loop blocks again), or at once with stream_flush.
 *
 * Threading: a stream and its stream_loop_t belong to one loop/thread. */
#ifndef DANCED_CORE_STREAM_H
#define DANCED_CORE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "frame.h"
#include "tls.h"

typedef struct stream stream_t;

/* Per-loop state shared by the streams of one loop: the batch-flush list and
 * one read buffer (reads are consumed synchronously, so one buffer serves all). */
typedef struct stream_loop {
    uv_loop_t *loop;
    uv_prepare_t flush_check; /* prepare: runs before the loop blocks, after every callback of the iteration */
    stream_t *flush_head;
    uint8_t *read_buf;
    size_t read_buf_len;
    /* Decrypted bytes land here first; complete frames are delivered from it
     * in place and only a partial tail is copied to the connection's own
     * frame reader (no per-connection 16 KiB buffer per read). */
    uint8_t *plain_buf;
    bool plain_busy;
} stream_loop_t;

int stream_loop_init(stream_loop_t *sl, uv_loop_t *loop);
/* Closes the flush handle; call before closing the loop. */
void stream_loop_close(stream_loop_t *sl);

enum {
    STREAM_PAUSE_USER = 1u << 0,     /* owner: e.g. authenticating */
    STREAM_PAUSE_INFLIGHT = 1u << 1, /* owner: too many queries in flight */
    STREAM_PAUSE_OUTPUT = 1u << 2,   /* stream: too much output queued */
};

typedef enum {
    STREAM_CLOSE_LOCAL = 0,   /* stream_close by the owner */
    STREAM_CLOSE_EOF,         /* peer closed TCP or sent close_notify */
    STREAM_CLOSE_IO_ERROR,    /* socket error */
    STREAM_CLOSE_TLS_ERROR,   /* handshake or record failure */
    STREAM_CLOSE_REFUSED,     /* on_tls_start refused */
    STREAM_CLOSE_NOMEM,
    STREAM_CLOSE_NOT_TLS,     /* the first bytes are not a TLS handshake record */
} stream_close_reason_t;

/* What on_tls_start decides. */
enum {
    STREAM_TLS_GO = 0,     /* create the TLS object and handshake now */
    STREAM_TLS_REFUSE = -1, /* close (STREAM_CLOSE_REFUSED) */
    STREAM_TLS_DEFER = 1,  /* hold the first record; the owner calls stream_tls_admit later (or closes) */
};

typedef struct {
    /* A complete first TLS record arrived, before any TLS object exists.
     * Returns STREAM_TLS_GO, STREAM_TLS_REFUSE or STREAM_TLS_DEFER.  While
     * deferred the stream keeps reading (to notice EOF) and holds what
     * arrives, bounded; it costs the first record, no TLS object.  May be NULL. */
    int (*on_tls_start)(stream_t *s);
    /* The handshake completed.  The owner may pause here (authentication). */
    void (*on_established)(stream_t *s);
    /* One complete message (len may be 0).  The bytes are valid only during
     * the call. */
    void (*on_message)(stream_t *s, const uint8_t *msg, size_t len);
    /* Exactly once; after it the stream's handles are closed. */
    void (*on_closed)(stream_t *s, stream_close_reason_t reason);
} stream_cbs_t;

struct stream {
    uv_tcp_t tcp;              /* the caller accepts into this */
    uv_timer_t timer;          /* one timer for the owner's deadlines */
    stream_loop_t *sl;
    tls_ctx_t *tls_ctx;
    tls_conn_t *tls;           /* NULL until the first TLS record is complete */
    uint8_t *hello;            /* the first TLS record while it arrives */
    uint32_t hello_len;
    const stream_cbs_t *cbs;
    void *user;
    frame_reader_t frames;
    uint8_t *pt;               /* plaintext framed messages waiting for encryption */
    size_t pt_len, pt_cap;
    size_t out_queued;         /* ciphertext bytes in uv_write requests not yet done */
    size_t max_output_bytes;
    stream_t *flush_next;      /* link in sl->flush_head */
    uint64_t id;               /* connection id for logs */
    const char *tls_error;     /* why a TLS failure closed the stream */
    unsigned pause_reasons;
    unsigned handles_open;
    stream_close_reason_t close_reason;
    bool reading;
    bool established;
    bool in_flush_list;
    bool delivering;
    bool closing;
    bool lingering;            /* graceful close: FIN sent, draining until EOF */
    bool tls_deferred;         /* on_tls_start said STREAM_TLS_DEFER: waiting for stream_tls_admit */
};

/* Initialise handles on sl's loop.  0 or DN_EIO. */
int stream_init(stream_t *s, stream_loop_t *sl, tls_ctx_t *tls_ctx, const stream_cbs_t *cbs, void *user,
                size_t max_output_bytes, uint64_t id);
/* Start reading (after uv_accept into &s->tcp). */
int stream_start(stream_t *s);
/* Start the TLS handshake that on_tls_start deferred (no-op otherwise, or
 * when closing).  May run callbacks (on_established, ...) before returning. */
void stream_tls_admit(stream_t *s);
/* Queue one DNS message (the 2-byte length is added here).  DN_ERANGE when
 * len > 65535, DN_ECLOSED when closing, DN_ENOMEM. */
int stream_send(stream_t *s, const uint8_t *msg, size_t len);
/* Encrypt and write everything queued now. */
void stream_flush(stream_t *s);
void stream_pause(stream_t *s, unsigned reason);
void stream_resume(stream_t *s, unsigned reason);
/* Close.  graceful: write what is queued and a close_notify first (the
 * owner's timer should bound how long that may take; stream_close(s, false)
 * forces it).  Idempotent; on_closed runs exactly once. */
void stream_close(stream_t *s, bool graceful);
/* Output bytes queued (plaintext not yet encrypted + ciphertext not yet written). */
static inline size_t stream_output_queued(const stream_t *s) { return s->pt_len + s->out_queued; }

#endif
