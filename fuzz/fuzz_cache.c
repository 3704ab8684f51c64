/* Fuzz the answer cache: the whole input is stored as a response under the
 * key named by its own question (so that well-formed inputs get past the
 * question check), then looked up at several times and buffer sizes.  Must
 * never crash, and a hit must return exactly the stored length with every
 * byte outside the TTL fields unchanged (checked on the header and the
 * question, which hold no TTL). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/wire.h"
#include "resolver/cache.h"

typedef struct {
    cache_key_t key;
    size_t question_end;
    bool found;
} fuzz_q_t;

static int first_question(const wire_rr_t *rr, void *arg)
{
    fuzz_q_t *q = arg;
    if (rr->section != 0)
        return 1; /* past the question: stop */
    if (!q->found) {
        q->found = true;
        q->key.qname = rr->owner;
        q->key.qtype = rr->type;
        q->key.qclass = rr->rclass;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_q_t q;
    memset(&q, 0, sizeof q);
    q.key.qname.len = 1; /* root, for inputs without a readable question */
    (void)wire_msg_walk(data, size, first_question, &q);
    /* Vary the rest of the key with a byte the packet barely cares about
     * (the low ID octet). */
    uint8_t sel = size > 1 ? data[1] : 0;
    q.key.view = sel & 0x3u;
    q.key.flags = (uint8_t)((sel >> 2) & (CACHE_KEY_DO | CACHE_KEY_CD));

    const cache_limits_t limits[2] = {
        {.max_bytes = 1u << 20, .min_ttl = 0, .max_ttl = 86400, .negative_max_ttl = 3600},
        {.max_bytes = 2048, .min_ttl = 60, .max_ttl = 120, .negative_max_ttl = 30},
    };
    static uint8_t out[WIRE_MSG_MAX];
    for (int li = 0; li < 2; li++) {
        cache_t *c = cache_new(&limits[li]);
        if (!c)
            return 0;
        int rc = cache_store(c, &q.key, data, size, 42, 1000);
        if (rc == 0) {
            /* replace with itself, then look up at several times */
            if (cache_store(c, &q.key, data, size, 43, 1000) != 0)
                abort();
            const uint64_t times[] = {0, 1000, 2500, 61000, 4000000000ull};
            for (size_t t = 0; t < sizeof times / sizeof times[0]; t++) {
                size_t len = 0;
                uint32_t meta = 0;
                int lr = cache_lookup(c, &q.key, times[t], out, size ? size - 1 : 0, &len, &meta);
                if (lr != DN_ERANGE && lr != DN_ENOTFOUND)
                    abort();
                lr = cache_lookup(c, &q.key, times[t], out, sizeof out, &len, &meta);
                if (lr == 0) {
                    if (len != size || meta != 43 || memcmp(out, data, WIRE_HEADER_LEN) != 0)
                        abort();
                } else if (lr != DN_ENOTFOUND) {
                    abort();
                }
            }
        } else if (rc != DN_ENOTFOUND && rc != DN_EFORMAT && rc != DN_ERANGE && rc != DN_EINVAL) {
            abort();
        }
        cache_stats_t st;
        cache_get_stats(c, &st);
        if (st.bytes > limits[li].max_bytes)
            abort();
        cache_free(c);
    }
    return 0;
}
