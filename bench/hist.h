/* bench/hist.h — fixed log-linear latency histogram (HdrHistogram-like).
 *
 * Values are nanoseconds.  Below 256 ns every value has its own bucket; above,
 * every power of two is split into 128 equal buckets, so a bucket's width is at
 * most 1/128 (< 0.8 %) of its values.  Values above 2^45 ns (~9.8 hours) land
 * in the last bucket.  No allocation per sample: a histogram is one fixed
 * array; per-thread histograms are merged by adding counts. */
#ifndef DANCED_BENCH_HIST_H
#define DANCED_BENCH_HIST_H

#include <stdint.h>
#include <string.h>

#define HIST_LINEAR 256u
#define HIST_HALF 128u
#define HIST_MAX_BIT 45u
#define HIST_BUCKETS (HIST_LINEAR + (HIST_MAX_BIT - 8u + 1u) * HIST_HALF)

typedef struct {
    uint64_t count;
    uint64_t sum;
    uint64_t min, max;
    uint64_t b[HIST_BUCKETS];
} hist_t;

static inline void hist_init(hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

static inline unsigned hist_index(uint64_t v)
{
    if (v < HIST_LINEAR)
        return (unsigned)v;
    unsigned bit = 63u - (unsigned)__builtin_clzll(v);
    if (bit > HIST_MAX_BIT) {
        bit = HIST_MAX_BIT;
        v = (UINT64_C(1) << (HIST_MAX_BIT + 1)) - 1;
    }
    unsigned shift = bit - 7u;
    return HIST_LINEAR + (bit - 8u) * HIST_HALF + (unsigned)((v >> shift) - HIST_HALF);
}

/* Middle of bucket idx (its representative value). */
static inline uint64_t hist_bucket_value(unsigned idx)
{
    if (idx < HIST_LINEAR)
        return idx;
    unsigned k = idx - HIST_LINEAR;
    unsigned bit = k / HIST_HALF + 8u;
    uint64_t mant = k % HIST_HALF + HIST_HALF;
    unsigned shift = bit - 7u;
    return (mant << shift) + ((UINT64_C(1) << shift) >> 1);
}

static inline void hist_add(hist_t *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

static inline void hist_merge(hist_t *dst, const hist_t *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

/* Value at quantile q (0 < q <= 1), clamped to [min, max]; 0 when empty. */
static inline uint64_t hist_quantile(const hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = hist_bucket_value(i);
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}

#endif
