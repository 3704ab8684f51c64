#include "metrics.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

metrics_slot_t metrics_slots[METRICS_MAX_THREADS];
_Atomic int64_t metrics_gauges[G__COUNT];
/* Threads that never called metrics_thread_init count in slot 0. */
_Thread_local metrics_slot_t *metrics_self = &metrics_slots[0];

static const char *counter_names[] = {
#define METRICS_NAME(name) #name,
    METRICS_COUNTERS(METRICS_NAME)
#undef METRICS_NAME
};
static const char *gauge_names[] = {
#define METRICS_NAME(name) #name,
    METRICS_GAUGES(METRICS_NAME)
#undef METRICS_NAME
};

void metrics_thread_init(unsigned slot)
{
    metrics_self = &metrics_slots[slot < METRICS_MAX_THREADS ? slot : 0];
}

uint64_t metrics_counter_total(metrics_counter_t c)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < METRICS_MAX_THREADS; i++)
        sum += atomic_load_explicit(&metrics_slots[i].v[c], memory_order_relaxed);
    return sum;
}

const char *metrics_counter_name(metrics_counter_t c) { return c < M__COUNT ? counter_names[c] : "?"; }
const char *metrics_gauge_name(metrics_gauge_t g) { return g < G__COUNT ? gauge_names[g] : "?"; }

void metrics_dump(FILE *out)
{
    for (int c = 0; c < M__COUNT; c++)
        fprintf(out, "%s %llu\n", counter_names[c], (unsigned long long)metrics_counter_total(c));
    for (int g = 0; g < G__COUNT; g++)
        fprintf(out, "%s %lld\n", gauge_names[g], (long long)metrics_gauge_get(g));
}

int metrics_dump_file(const char *path)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 8);
    if (!tmp)
        return DN_ENOMEM;
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(tmp);
        return DN_EIO;
    }
    metrics_dump(f);
    int bad = fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        free(tmp);
        return DN_EIO;
    }
    free(tmp);
    return DN_OK;
}
