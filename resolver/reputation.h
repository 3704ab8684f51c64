/* resolver/reputation.h — which source prefixes keep failing, and how many
 * new TLS handshakes they get.
 *
 * Why: a client that presents a certificate forces a full TLS 1.3 handshake
 * (the server's key exchange and signature, the check of the client's
 * signature) before DANE can refuse it.  An attacker whose identities are
 * refused reconnects at once and turns that into a CPU flood that delays every
 * honest handshake.  Connections that end without ever being served (refused
 * authentication, a failed or timed-out handshake, no ClientHello, shed) are
 * "strikes" against the source prefix (IPv4 /24, IPv6 /56, the unit that
 * connlimit also counts).  The score decays exponentially (half-life
 * REPUTATION_HALF_LIFE_MS).  A prefix whose score reaches `suspect_failures`
 * is suspect: its new handshakes are admitted through a token bucket of
 * `handshakes_per_second`; the others wait (holding only their ClientHello;
 * the handshake deadline still runs).  A prefix stops being suspect when its
 * score has decayed below half the threshold (hysteresis: no flapping).
 * Honest prefixes never wait; a prefix shared with an attacker is slowed, not
 * refused.  Inside a suspect prefix, an address that has recently been served
 * more often than it failed (reputation_served) does not wait either: a
 * returning honest client is not queued behind its neighbour's flood.  Only
 * addresses that have been served are kept per address (the failures of an
 * address are counted once it is known), so a flood from new addresses
 * (an IPv6 /64 has plenty) cannot fill that table.
 *
 * Pure (no locks, no I/O, the caller passes the time); the server wraps it in
 * its limit mutex because one prefix's connections land on every worker.
 * Memory: at most max_prefixes entries in each of the two tables; when one is
 * full, entries that have decayed below one strike (and one serving) are
 * dropped (at most once a second); a new prefix that still finds no room is
 * not tracked (never suspect: fail open for prioritisation only — every
 * other limit still applies), a new address gets no credit. */
#ifndef DANCED_RESOLVER_REPUTATION_H
#define DANCED_RESOLVER_REPUTATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolver/connlimit.h"

#define REPUTATION_HALF_LIFE_MS 10000u

typedef struct reputation reputation_t;

typedef struct {
    uint32_t suspect_failures;      /* score that makes a prefix suspect; 0 turns the mechanism off */
    uint32_t handshakes_per_second; /* admitted per suspect prefix, process-wide (>= 1) */
    uint32_t max_prefixes;          /* bound of each table, prefixes and served addresses (>= 16) */
} reputation_limits_t;

typedef enum {
    REPUTATION_ADMIT = 0,           /* not suspect (or not tracked) */
    REPUTATION_ADMIT_GOOD_ADDRESS,  /* suspect prefix, but this address is mostly served */
    REPUTATION_ADMIT_TOKEN,         /* suspect, and a token was taken */
    REPUTATION_WAIT,                /* suspect, no token now */
} reputation_admit_t;

/* NULL when out of memory.  suspect_failures == 0 makes an object that is
 * off (no strikes kept, everything admitted) until reputation_set_limits
 * turns it on.  The functions below also accept NULL: off. */
reputation_t *reputation_new(const reputation_limits_t *limits);
/* New threshold and rate (a reload).  Scores are kept; prefixes are judged
 * by the new threshold from now on; turning it off forgets everything.
 * max_prefixes is fixed at creation. */
void reputation_set_limits(reputation_t *r, const reputation_limits_t *limits);
void reputation_free(reputation_t *r);

/* A connection from `a` ended without being served.  Returns true when this
 * strike made the prefix suspect (the caller logs it once). */
bool reputation_strike(reputation_t *r, const connlimit_addr_t *a, uint64_t now_ms);

/* A connection from `a` was served (authenticated, or anonymous where the
 * listener allows it): credit for the address. */
void reputation_served(reputation_t *r, const connlimit_addr_t *a, uint64_t now_ms);

/* May a connection from `a` start its TLS handshake now? */
reputation_admit_t reputation_admit(reputation_t *r, const connlimit_addr_t *a, uint64_t now_ms);

/* Whether the prefix of `a` is suspect now (tests, logs). */
bool reputation_is_suspect(reputation_t *r, const connlimit_addr_t *a, uint64_t now_ms);

/* Prefixes tracked, and served addresses tracked (tests: the bounds hold). */
size_t reputation_tracked(const reputation_t *r);
size_t reputation_tracked_addresses(const reputation_t *r);

/* "192.0.2.0/24" or "2001:db8:0:100::/56". */
void reputation_prefix_text(const connlimit_addr_t *a, char *buf, size_t cap);

#endif
