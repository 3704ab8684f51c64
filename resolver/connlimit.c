/* resolver/connlimit.c — open-addressing hash of counts; entries whose count
 * drops to zero are removed (backward-shift deletion), so memory follows the
 * number of distinct live sources, not history. */
#include "connlimit.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t used;
    uint8_t kind; /* 0 full address, 1 prefix */
    uint8_t family;
    uint8_t addr[16];
    uint32_t count;
} cl_slot_t;

struct connlimit {
    cl_slot_t *slots;
    size_t cap; /* power of two */
    size_t used;
    uint32_t per_ip, per_prefix;
};

connlimit_t *connlimit_new(uint32_t per_ip, uint32_t per_prefix)
{
    connlimit_t *cl = calloc(1, sizeof *cl);
    if (!cl)
        return NULL;
    cl->cap = 256;
    cl->slots = calloc(cl->cap, sizeof *cl->slots);
    if (!cl->slots) {
        free(cl);
        return NULL;
    }
    cl->per_ip = per_ip;
    cl->per_prefix = per_prefix;
    return cl;
}

void connlimit_set_limits(connlimit_t *cl, uint32_t per_ip, uint32_t per_prefix)
{
    cl->per_ip = per_ip;
    cl->per_prefix = per_prefix;
}

void connlimit_free(connlimit_t *cl)
{
    if (!cl)
        return;
    free(cl->slots);
    free(cl);
}

bool connlimit_addr_from_sockaddr(const struct sockaddr *sa, connlimit_addr_t *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        out->family = AF_INET;
        memcpy(out->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        /* IPv4-mapped addresses count as IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            out->family = AF_INET;
            memcpy(out->addr, &s6->sin6_addr.s6_addr[12], 4);
        } else {
            out->family = AF_INET6;
            memcpy(out->addr, &s6->sin6_addr, 16);
        }
        return true;
    }
    return false;
}

static void make_key(const connlimit_addr_t *a, uint8_t kind, cl_slot_t *k)
{
    memset(k, 0, sizeof *k);
    k->kind = kind;
    k->family = a->family;
    memcpy(k->addr, a->addr, 16);
    if (kind == 1) {
        size_t keep = a->family == AF_INET ? 3 : 7; /* /24 or /56 */
        memset(k->addr + keep, 0, 16 - keep);
    }
}

static size_t hash_key(const cl_slot_t *k)
{
    uint64_t h = 1469598103934665603ull ^ ((uint64_t)k->kind << 8 | k->family);
    for (int i = 0; i < 16; i++) {
        h ^= k->addr[i];
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 29));
}

static bool same_key(const cl_slot_t *a, const cl_slot_t *b)
{
    return a->kind == b->kind && a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
}

static cl_slot_t *find(const connlimit_t *cl, const cl_slot_t *k)
{
    size_t mask = cl->cap - 1;
    for (size_t i = hash_key(k) & mask;; i = (i + 1) & mask) {
        cl_slot_t *s = &cl->slots[i];
        if (!s->used)
            return NULL;
        if (same_key(s, k))
            return s;
    }
}

static bool grow(connlimit_t *cl)
{
    size_t ncap = cl->cap * 2;
    cl_slot_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < cl->cap; i++) {
        if (!cl->slots[i].used)
            continue;
        size_t j = hash_key(&cl->slots[i]) & (ncap - 1);
        while (ns[j].used)
            j = (j + 1) & (ncap - 1);
        ns[j] = cl->slots[i];
    }
    free(cl->slots);
    cl->slots = ns;
    cl->cap = ncap;
    return true;
}

static cl_slot_t *insert(connlimit_t *cl, const cl_slot_t *k)
{
    if ((cl->used + 1) * 2 > cl->cap && !grow(cl))
        return NULL;
    size_t mask = cl->cap - 1;
    size_t i = hash_key(k) & mask;
    while (cl->slots[i].used)
        i = (i + 1) & mask;
    cl->slots[i] = *k;
    cl->slots[i].used = 1;
    cl->slots[i].count = 0;
    cl->used++;
    return &cl->slots[i];
}

static void remove_slot(connlimit_t *cl, cl_slot_t *s)
{
    size_t mask = cl->cap - 1;
    size_t i = (size_t)(s - cl->slots);
    cl->slots[i].used = 0;
    cl->used--;
    /* Backward-shift the following cluster so that lookups stay correct. */
    for (size_t j = (i + 1) & mask; cl->slots[j].used; j = (j + 1) & mask) {
        size_t home = hash_key(&cl->slots[j]) & mask;
        bool between = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (between)
            continue;
        cl->slots[i] = cl->slots[j];
        cl->slots[j].used = 0;
        i = j;
    }
}

static void release_key(connlimit_t *cl, const cl_slot_t *k);

connlimit_result_t connlimit_acquire(connlimit_t *cl, const connlimit_addr_t *a)
{
    cl_slot_t kip, kpfx;
    make_key(a, 0, &kip);
    make_key(a, 1, &kpfx);
    cl_slot_t *sip = find(cl, &kip), *spfx = find(cl, &kpfx);
    if (sip && sip->count >= cl->per_ip)
        return CONNLIMIT_IP;
    if (spfx && spfx->count >= cl->per_prefix)
        return CONNLIMIT_PREFIX;
    if (!sip && !(sip = insert(cl, &kip)))
        return CONNLIMIT_NOMEM;
    sip->count++;
    /* insert may have moved slots: look the prefix up again. */
    spfx = find(cl, &kpfx);
    if (!spfx && !(spfx = insert(cl, &kpfx))) {
        release_key(cl, &kip); /* undo: never count half */
        return CONNLIMIT_NOMEM;
    }
    spfx->count++;
    return CONNLIMIT_OK;
}

static void release_key(connlimit_t *cl, const cl_slot_t *k)
{
    cl_slot_t *s = find(cl, k);
    if (!s)
        return;
    if (--s->count == 0)
        remove_slot(cl, s);
}

void connlimit_release(connlimit_t *cl, const connlimit_addr_t *a)
{
    cl_slot_t kip, kpfx;
    make_key(a, 0, &kip);
    make_key(a, 1, &kpfx);
    release_key(cl, &kip);
    /* release_key of the ip may shift slots; find the prefix afresh */
    release_key(cl, &kpfx);
}

uint32_t connlimit_count_ip(const connlimit_t *cl, const connlimit_addr_t *a)
{
    cl_slot_t k;
    make_key(a, 0, &k);
    const cl_slot_t *s = find(cl, &k);
    return s ? s->count : 0;
}

uint32_t connlimit_count_prefix(const connlimit_t *cl, const connlimit_addr_t *a)
{
    cl_slot_t k;
    make_key(a, 1, &k);
    const cl_slot_t *s = find(cl, &k);
    return s ? s->count : 0;
}
