/* core/frame.h — the 2-byte length framing of DNS over TCP/TLS (RFC 1035
 * §4.2.2, RFC 7766 §8).  Pure: no I/O.
 *
 * The reader owns one buffer that the caller fills in place (zero copy:
 * decrypt straight into frame_reader_space), then pulls complete messages
 * with frame_reader_next.  A message returned by frame_reader_next stays valid
 * until the next call to any frame_reader_* function on the same reader.  An empty reader holds no memory (idle connections
 * cost nothing here).
 *
 * A 0-length frame is returned as a message of length 0: the caller decides
 * (danced answers nothing and closes: there is no ID to echo). */
#ifndef DANCED_CORE_FRAME_H
#define DANCED_CORE_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Largest buffer a reader ever allocates: two maximum frames, so that a full
 * frame can always be completed while one more is partly buffered. */
#define FRAME_BUF_MAX (2 * (2 + 65535))
#define FRAME_CHUNK 16384

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t start; /* first unconsumed byte */
    size_t end;   /* one past the last buffered byte */
} frame_reader_t;

void frame_reader_init(frame_reader_t *r);
/* Frees the buffer. */
void frame_reader_release(frame_reader_t *r);
/* Room to write at least min(want, what the cap allows) bytes at the end of the
 * buffer.  Returns NULL (and *avail = 0) when the buffer is at FRAME_BUF_MAX
 * and full, or on allocation failure. */
uint8_t *frame_reader_space(frame_reader_t *r, size_t want, size_t *avail);
/* Declare that n bytes were written into the space returned last. */
void frame_reader_commit(frame_reader_t *r, size_t n);
/* 1: a complete message is at *msg with *len octets (consumed from the
 * reader); 0: more bytes are needed.  When the reader becomes empty its
 * buffer is freed. */
int frame_reader_next(frame_reader_t *r, const uint8_t **msg, size_t *len);
/* Bytes buffered and not yet returned. */
static inline size_t frame_reader_pending(const frame_reader_t *r) { return r->end - r->start; }
/* Convenience for tests and fuzzers: copy bytes in (as space+commit). Returns
 * the number of bytes accepted (less than len when the buffer is full). */
size_t frame_reader_feed(frame_reader_t *r, const uint8_t *data, size_t len);

#endif
