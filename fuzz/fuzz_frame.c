/* Fuzz the frame assembler: the input is split into chunks whose sizes come
 * from the input itself; every message must lie inside the fed data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    frame_reader_t r;
    frame_reader_init(&r);
    size_t pos = 0;
    while (pos < size) {
        size_t chunk = 1 + (data[pos] % 64);
        if (chunk > size - pos)
            chunk = size - pos;
        frame_reader_feed(&r, data + pos, chunk);
        pos += chunk;
        const uint8_t *msg;
        size_t len;
        while (frame_reader_next(&r, &msg, &len) == 1) {
            volatile uint8_t sink = 0;
            for (size_t i = 0; i < len; i++)
                sink ^= msg[i];
            (void)sink;
        }
    }
    frame_reader_release(&r);
    return 0;
}
