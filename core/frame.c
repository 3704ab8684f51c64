#include "frame.h"

#include <stdlib.h>
#include <string.h>

void frame_reader_init(frame_reader_t *r)
{
    memset(r, 0, sizeof *r);
}

void frame_reader_release(frame_reader_t *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

uint8_t *frame_reader_space(frame_reader_t *r, size_t want, size_t *avail)
{
    *avail = 0;
    if (want == 0)
        want = 1;
    /* Move unconsumed bytes to the front before growing. */
    if (r->start > 0 && r->cap - r->end < want) {
        size_t pending = r->end - r->start;
        memmove(r->buf, r->buf + r->start, pending);
        r->start = 0;
        r->end = pending;
    }
    if (r->cap - r->end < want && r->cap < FRAME_BUF_MAX) {
        size_t need = r->end + want;
        size_t ncap = r->cap ? r->cap : FRAME_CHUNK;
        while (ncap < need && ncap < FRAME_BUF_MAX)
            ncap *= 2;
        if (ncap > FRAME_BUF_MAX)
            ncap = FRAME_BUF_MAX;
        uint8_t *nbuf = realloc(r->buf, ncap);
        if (!nbuf)
            return NULL;
        r->buf = nbuf;
        r->cap = ncap;
    }
    if (r->cap == r->end)
        return NULL;
    *avail = r->cap - r->end;
    return r->buf + r->end;
}

void frame_reader_commit(frame_reader_t *r, size_t n)
{
    if (n > r->cap - r->end)
        n = r->cap - r->end; /* defensive: never move past the buffer */
    r->end += n;
}

int frame_reader_next(frame_reader_t *r, const uint8_t **msg, size_t *len)
{
    size_t pending = r->end - r->start;
    if (pending < 2) {
        if (pending == 0 && r->buf) {
            /* Idle: give the memory back. */
            frame_reader_release(r);
        }
        return 0;
    }
    const uint8_t *p = r->buf + r->start;
    size_t mlen = ((size_t)p[0] << 8) | p[1];
    if (pending < 2 + mlen)
        return 0;
    *msg = p + 2;
    *len = mlen;
    r->start += 2 + mlen;
    return 1;
}

size_t frame_reader_feed(frame_reader_t *r, const uint8_t *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t avail;
        uint8_t *dst = frame_reader_space(r, len - done, &avail);
        if (!dst)
            break;
        size_t n = len - done < avail ? len - done : avail;
        memcpy(dst, data + done, n);
        frame_reader_commit(r, n);
        done += n;
    }
    return done;
}
