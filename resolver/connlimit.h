/* resolver/connlimit.h — connection counts per source address and prefix.
 * Pure (no locks, no I/O); the server wraps it in a mutex because connections
 * of one source may land on different workers.
 *
 * Keys: the full address (IPv4 /32, IPv6 /128) and its prefix (IPv4 /24,
 * IPv6 /56).  connlimit_acquire checks both limits and counts both, or
 * neither; connlimit_release undoes one acquire. */
#ifndef DANCED_RESOLVER_CONNLIMIT_H
#define DANCED_RESOLVER_CONNLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct connlimit connlimit_t;

typedef struct {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
} connlimit_addr_t;

typedef enum { CONNLIMIT_OK = 0, CONNLIMIT_IP, CONNLIMIT_PREFIX, CONNLIMIT_NOMEM } connlimit_result_t;

connlimit_t *connlimit_new(uint32_t per_ip, uint32_t per_prefix);
void connlimit_free(connlimit_t *cl);
/* New caps (a reload): they apply to the next acquire; counts are kept, so
 * a source already above a lowered cap keeps its connections. */
void connlimit_set_limits(connlimit_t *cl, uint32_t per_ip, uint32_t per_prefix);
/* From a socket address; false for other families. */
bool connlimit_addr_from_sockaddr(const struct sockaddr *sa, connlimit_addr_t *out);
connlimit_result_t connlimit_acquire(connlimit_t *cl, const connlimit_addr_t *a);
void connlimit_release(connlimit_t *cl, const connlimit_addr_t *a);
/* Current count for the address (full) and its prefix. */
uint32_t connlimit_count_ip(const connlimit_t *cl, const connlimit_addr_t *a);
uint32_t connlimit_count_prefix(const connlimit_t *cl, const connlimit_addr_t *a);

#endif
