#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_int log_level = LOG_INFO;
static _Thread_local int thread_worker = -1;

void log_set_level(log_level_t level) { atomic_store(&log_level, (int)level); }
log_level_t log_get_level(void) { return (log_level_t)atomic_load_explicit(&log_level, memory_order_relaxed); }
void log_set_thread_worker(int worker) { thread_worker = worker; }

void log_msg(log_level_t level, uint64_t conn_id, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char who[48];
    if (thread_worker >= 0 && conn_id)
        snprintf(who, sizeof who, "w%d c%llu", thread_worker, (unsigned long long)conn_id);
    else if (thread_worker >= 0)
        snprintf(who, sizeof who, "w%d", thread_worker);
    else
        snprintf(who, sizeof who, "main");
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s %s\n", tm.tm_year + 1900, tm.tm_mon + 1,
            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
            names[level <= LOG_DEBUG ? level : LOG_DEBUG], who, text);
}
