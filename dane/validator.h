/* dane/validator.h — asynchronous DANE authentication of client certificates.
 *
 * One validator runs its own thread and loop with its own libunbound context
 * (so TLSA lookups and client recursion cannot starve each other).  Workers
 * submit requests; the validator decides and calls req->done ON THE VALIDATOR
 * THREAD, which must only hand the request back to its owner's loop (e.g.
 * push it on a locked inbox + uv_async_send).
 *
 * Pipeline for one request (PROTOCOL.md §1):
 *   identity = dane_identity_from_chain(chain)          (SAN dNSName)
 *   allow-list admits identity?  no → NOT_AUTHENTICATED "not allowed", no lookup
 *   verdict cache (identity, SPKI sha256) → verdict
 *   lookup for identity in flight → join it (coalescing)
 *   in flight at cap (global / per domain) → bounded wait queue, or refuse fast
 *   TLSA lookup (secure required) with a deadline → match → cache → verdict
 *
 * Ownership: the request (and the chain it holds) belongs to the submitter;
 * the validator only reads the chain until it calls done.  A submitter that
 * loses interest sets `cancelled` (atomic); the validator then skips work it
 * has not started, but still calls done exactly once. */
#ifndef DANCED_DANE_VALIDATOR_H
#define DANCED_DANE_VALIDATOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/tls.h"

typedef struct dane_validator dane_validator_t;

typedef enum {
    DANE_AUTH_OK = 0,            /* authenticated as `identity` */
    DANE_AUTH_NOT_AUTHENTICATED, /* no claim that holds: anonymous where allowed (insecure, no TLSA, not allowed) */
    DANE_AUTH_REFUSED,           /* a claim that fails: refuse (bogus, mismatch, expired, ambiguous, timeout...) */
} dane_auth_outcome_t;

/* Reason classes; each has a counter and a short text for EDE EXTRA-TEXT. */
typedef enum {
    DANE_WHY_NONE = 0,
    DANE_WHY_NO_CERT,
    DANE_WHY_NOT_ALLOWED,
    DANE_WHY_AMBIGUOUS,
    DANE_WHY_BAD_NAME,
    DANE_WHY_BAD_CERT,
    DANE_WHY_BOGUS,
    DANE_WHY_INSECURE,
    DANE_WHY_NO_TLSA,
    DANE_WHY_NO_MATCH,
    DANE_WHY_EXPIRED,
    DANE_WHY_TIMEOUT,
    DANE_WHY_QUEUE_FULL,
    DANE_WHY_LOOKUP_ERROR,
    DANE_WHY_TLS12,
    DANE_WHY_PKIX,
    DANE_WHY_DEADLINE,
} dane_why_t;

const char *dane_why_text(dane_why_t why);

typedef struct dane_auth_request {
    /* in */
    tls_chain_t chain;
    void (*done)(struct dane_auth_request *req); /* runs on the validator thread */
    void *owner;                                 /* for the submitter (e.g. its session) */
    void *owner_ctx;                             /* for the submitter (e.g. its worker); never touched by the validator */
    struct dane_auth_request *owner_next;        /* for the submitter's inbox list */
    atomic_bool cancelled;
    /* filled by dane_validator_prepare (by the submitter, or by the validator
     * when the submitter did not) */
    bool prepared;
    char identity[256];   /* lowercase, no trailing dot; "" when none could be derived */
    uint8_t spki[32];     /* SHA-256 of the leaf's SubjectPublicKeyInfo */
    /* out (valid when done runs) */
    dane_auth_outcome_t outcome;
    dane_why_t why;
    char detail[160];     /* human text for logs and EDE, e.g. "TLSA bogus: <why_bogus>" */
    uint64_t cache_ttl_ms; /* how long the submitter may reuse this verdict (0: not) */
    bool cache_any_key;    /* the verdict holds for every key of the identity */
    /* validator-private */
    struct dane_auth_request *vnext;
    uint32_t domain_slot;
} dane_auth_request_t;

/* The decisions that need no lookup, for any thread: identity from the leaf,
 * allow-list, SPKI digest.  Returns true when a TLSA lookup (or cached
 * verdict) is needed; false when req->outcome/why/detail hold the final
 * verdict (done is NOT called).  Cheap: a DER walk and one SHA-256. */
bool dane_validator_prepare(const config_dane_t *dc, dane_auth_request_t *req);

/* Start the validator thread.  cfg must outlive it. */
int dane_validator_start(const config_t *cfg, dane_validator_t **out, char *err, size_t err_cap);
/* Hand over a request (any thread).  done runs exactly once, later. */
void dane_validator_submit(dane_validator_t *v, dane_auth_request_t *req);
/* Stop the thread; requests not yet decided get done with DANE_WHY_DEADLINE. */
void dane_validator_stop(dane_validator_t *v);

#endif
