/* core/log.h — the one logging call.  Lines go to stderr:
 *   2026-11-23T18:40:00.123Z info  w1 c42 message...
 * (level, worker id, connection id).  Thread-safe: one fprintf per line. */
#ifndef DANCED_CORE_LOG_H
#define DANCED_CORE_LOG_H

#include <stdint.h>

typedef enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level_t;

void log_set_level(log_level_t level);
log_level_t log_get_level(void);
/* The worker id printed on lines logged from the calling thread (-1: main). */
void log_set_thread_worker(int worker);
void log_msg(log_level_t level, uint64_t conn_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_enabled(lvl) ((lvl) <= log_get_level())
#define LOG(lvl, conn, ...)                   \
    do {                                      \
        if (log_enabled(lvl))                 \
            log_msg((lvl), (conn), __VA_ARGS__); \
    } while (0)
#define LOG_ERR(...) LOG(LOG_ERROR, 0, __VA_ARGS__)
#define LOG_WARNING(...) LOG(LOG_WARN, 0, __VA_ARGS__)
#define LOG_INF(...) LOG(LOG_INFO, 0, __VA_ARGS__)
#define LOG_DBG(...) LOG(LOG_DEBUG, 0, __VA_ARGS__)

#endif
