/* bench/handshake_ceiling.c — wolfSSL's own ceiling for danced's benchmarks.
 *
 * A client and a server WOLFSSL object talk over memory buffers in one thread.
 * Only the server side is timed: wolfSSL_new + every wolfSSL_accept call +
 * wolfSSL_free.  TLS 1.3, tickets and the session cache off on the server,
 * client certificate requested with an accept-any verify callback (as danced's
 * client-authenticating listeners do).  Also reports the server object's heap
 * bytes (counted with wolfSSL_SetAllocators) right after wolfSSL_new and after
 * a handshake plus one query record in and one answer record out: the
 * "wolfSSL floor" per connection.
 *
 *   cc -O2 -o handshake_ceiling bench/handshake_ceiling.c -lwolfssl
 *   handshake_ceiling --server-cert S.crt --server-key S.key [--client-cert C.crt --client-key C.key]
 *                     [--group x25519|p256] [--seconds 3]
 * Prints one JSON object on stdout. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/memory.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- allocator */
typedef struct {
    size_t size;
    size_t owner; /* 1 = allocated inside a server-side call */
} hdr_t;
#define HDR ((sizeof(hdr_t) + 15) & ~(size_t)15)

static int g_owner;            /* who is calling into wolfSSL now */
static long long g_live[2];    /* live bytes per owner */

static void *cnt_malloc(size_t n)
{
    unsigned char *p = malloc(n + HDR);
    if (!p)
        return NULL;
    hdr_t *h = (hdr_t *)p;
    h->size = n;
    h->owner = (size_t)g_owner;
    g_live[g_owner] += (long long)n;
    return p + HDR;
}

static void cnt_free(void *q)
{
    if (!q)
        return;
    hdr_t *h = (hdr_t *)((unsigned char *)q - HDR);
    g_live[h->owner] -= (long long)h->size;
    free(h);
}

static void *cnt_realloc(void *q, size_t n)
{
    if (!q)
        return cnt_malloc(n);
    hdr_t *h = (hdr_t *)((unsigned char *)q - HDR);
    size_t old = h->size, owner = h->owner;
    unsigned char *p = realloc(h, n + HDR);
    if (!p)
        return NULL;
    h = (hdr_t *)p;
    h->size = n;
    g_live[owner] += (long long)n - (long long)old;
    return p + HDR;
}

/* ---------------------------------------------------------------- memory I/O */
typedef struct {
    unsigned char buf[1 << 16];
    size_t head, tail;
} pipe_t;

static pipe_t c2s, s2c;

typedef struct {
    pipe_t *in, *out;
} ends_t;

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    (void)ssl;
    pipe_t *p = ((ends_t *)ctx)->in;
    size_t avail = p->tail - p->head;
    if (avail == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = avail < (size_t)sz ? avail : (size_t)sz;
    memcpy(buf, p->buf + p->head, n);
    p->head += n;
    if (p->head == p->tail)
        p->head = p->tail = 0;
    return (int)n;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    (void)ssl;
    pipe_t *p = ((ends_t *)ctx)->out;
    if (p->tail + (size_t)sz > sizeof p->buf)
        return WOLFSSL_CBIO_ERR_WANT_WRITE;
    memcpy(p->buf + p->tail, buf, (size_t)sz);
    p->tail += (size_t)sz;
    return sz;
}

static ends_t g_cend = {&s2c, &c2s}, g_send = {&c2s, &s2c};

static int accept_any(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    (void)preverify;
    (void)store;
    return 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "handshake_ceiling: %s\n", what);
    exit(1);
}

/* ---------------------------------------------------------------- one connection */
static double g_server_time;

static WOLFSSL *srv_new(WOLFSSL_CTX *sctx)
{
    g_owner = 1;
    double t0 = now_s();
    WOLFSSL *s = wolfSSL_new(sctx);
    g_server_time += now_s() - t0;
    g_owner = 0;
    if (!s)
        die("wolfSSL_new(server) failed");
    wolfSSL_SetIOReadCtx(s, &g_send);
    wolfSSL_SetIOWriteCtx(s, &g_send);
    return s;
}

static void srv_free(WOLFSSL *s)
{
    g_owner = 1;
    double t0 = now_s();
    wolfSSL_free(s);
    g_server_time += now_s() - t0;
    g_owner = 0;
}

static void handshake(WOLFSSL *c, WOLFSSL *s)
{
    int cdone = 0, sdone = 0;
    for (int step = 0; step < 64 && !(cdone && sdone); step++) {
        if (!cdone) {
            int rc = wolfSSL_connect(c);
            if (rc == WOLFSSL_SUCCESS)
                cdone = 1;
            else {
                int e = wolfSSL_get_error(c, rc);
                if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) {
                    char b[96];
                    fprintf(stderr, "client error %d %s\n", e, wolfSSL_ERR_error_string((unsigned long)e, b));
                    die("client handshake failed");
                }
            }
        }
        if (!sdone) {
            g_owner = 1;
            double t0 = now_s();
            int rc = wolfSSL_accept(s);
            g_server_time += now_s() - t0;
            g_owner = 0;
            if (rc == WOLFSSL_SUCCESS)
                sdone = 1;
            else {
                int e = wolfSSL_get_error(s, rc);
                if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) {
                    char b[96];
                    fprintf(stderr, "server error %d %s\n", e, wolfSSL_ERR_error_string((unsigned long)e, b));
                    die("server handshake failed");
                }
            }
        }
    }
    if (!(cdone && sdone))
        die("handshake did not finish");
}

/* one DNS query record in, one answer record out (framed sizes as DoT) */
static void one_query(WOLFSSL *c, WOLFSSL *s)
{
    unsigned char q[2 + 40], a[2 + 120], buf[512];
    memset(q, 0x11, sizeof q);
    memset(a, 0x22, sizeof a);
    if (wolfSSL_write(c, q, sizeof q) != (int)sizeof q)
        die("client write");
    g_owner = 1;
    int n = wolfSSL_read(s, buf, sizeof buf);
    int w = wolfSSL_write(s, a, sizeof a);
    g_owner = 0;
    if (n != (int)sizeof q || w != (int)sizeof a)
        die("server read/write");
    if (wolfSSL_read(c, buf, sizeof buf) != (int)sizeof a)
        die("client read");
}

int main(int argc, char **argv)
{
    const char *scrt = NULL, *skey = NULL, *ccrt = NULL, *ckey = NULL, *group = "x25519";
    double seconds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--server-cert")) scrt = argv[i + 1];
        else if (!strcmp(argv[i], "--server-key")) skey = argv[i + 1];
        else if (!strcmp(argv[i], "--client-cert")) ccrt = argv[i + 1];
        else if (!strcmp(argv[i], "--client-key")) ckey = argv[i + 1];
        else if (!strcmp(argv[i], "--group")) group = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else die("unknown option");
    }
    if (!scrt || !skey || (!ccrt) != (!ckey))
        die("usage: --server-cert F --server-key F [--client-cert F --client-key F] [--group x25519|p256] [--seconds S]");

    if (wolfSSL_SetAllocators(cnt_malloc, cnt_free, cnt_realloc) != 0)
        die("wolfSSL_SetAllocators failed");
    wolfSSL_Init();

    int grp = strcmp(group, "p256") == 0 ? WOLFSSL_ECC_SECP256R1 : WOLFSSL_ECC_X25519;
    int groups[1] = {grp};

    WOLFSSL_CTX *sctx = wolfSSL_CTX_new(wolfTLSv1_3_server_method());
    WOLFSSL_CTX *cctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
    if (!sctx || !cctx)
        die("CTX_new");
    if (wolfSSL_CTX_use_certificate_chain_file(sctx, scrt) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_use_PrivateKey_file(sctx, skey, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
        die("cannot load server certificate/key");
    if (wolfSSL_CTX_set_groups(sctx, groups, 1) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_groups(cctx, groups, 1) != WOLFSSL_SUCCESS)
        die("set_groups failed");
    /* danced's suite order: ChaCha20 first (no AES-NI in this build) */
    wolfSSL_CTX_set_cipher_list(sctx, "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384");
    wolfSSL_CTX_no_ticket_TLSv13(sctx);
    wolfSSL_CTX_set_session_cache_mode(sctx, WOLFSSL_SESS_CACHE_OFF);
    if (ccrt) {
        wolfSSL_CTX_set_verify(sctx, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
        if (wolfSSL_CTX_use_certificate_chain_file(cctx, ccrt) != WOLFSSL_SUCCESS ||
            wolfSSL_CTX_use_PrivateKey_file(cctx, ckey, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
            die("cannot load client certificate/key");
    } else {
        wolfSSL_CTX_set_verify(sctx, WOLFSSL_VERIFY_NONE, NULL);
    }
    wolfSSL_CTX_set_verify(cctx, WOLFSSL_VERIFY_NONE, NULL);
    wolfSSL_SetIORecv(sctx, io_recv);
    wolfSSL_SetIOSend(sctx, io_send);
    wolfSSL_SetIORecv(cctx, io_recv);
    wolfSSL_SetIOSend(cctx, io_send);

    /* warm-up: global caches (ECC tables, RNG) out of the way */
    for (int i = 0; i < 30; i++) {
        c2s.head = c2s.tail = s2c.head = s2c.tail = 0;
        WOLFSSL *c = wolfSSL_new(cctx);
        wolfSSL_SetIOReadCtx(c, &g_cend);
        wolfSSL_SetIOWriteCtx(c, &g_cend);
        WOLFSSL *s = srv_new(sctx);
        handshake(c, s);
        one_query(c, s);
        srv_free(s);
        wolfSSL_free(c);
    }

    /* memory: the server object's live heap bytes */
    c2s.head = c2s.tail = s2c.head = s2c.tail = 0;
    long long base = g_live[1];
    WOLFSSL *c = wolfSSL_new(cctx);
    wolfSSL_SetIOReadCtx(c, &g_cend);
    wolfSSL_SetIOWriteCtx(c, &g_cend);
    WOLFSSL *s = srv_new(sctx);
    long long after_new = g_live[1] - base;
    handshake(c, s);
    one_query(c, s);
    long long after_query = g_live[1] - base;
    srv_free(s);
    wolfSSL_free(c);

    /* rate: server-side time only */
    g_server_time = 0;
    long n = 0;
    double start = now_s();
    while (now_s() - start < seconds) {
        c2s.head = c2s.tail = s2c.head = s2c.tail = 0;
        c = wolfSSL_new(cctx);
        wolfSSL_SetIOReadCtx(c, &g_cend);
        wolfSSL_SetIOWriteCtx(c, &g_cend);
        s = srv_new(sctx);
        handshake(c, s);
        srv_free(s);
        wolfSSL_free(c);
        n++;
    }
    double wall = now_s() - start;
    printf("{\"group\": \"%s\", \"client_cert\": %s, \"handshakes\": %ld, \"server_seconds\": %.6f, "
           "\"server_handshakes_per_s\": %.1f, \"both_sides_handshakes_per_s\": %.1f, "
           "\"server_bytes_after_new\": %lld, \"server_bytes_after_handshake_and_query\": %lld, "
           "\"wolfssl_version\": \"%s\"}\n",
           group, ccrt ? "true" : "false", n, g_server_time, (double)n / g_server_time, (double)n / wall, after_new,
           after_query, wolfSSL_lib_version());
    wolfSSL_CTX_free(sctx);
    wolfSSL_CTX_free(cctx);
    wolfSSL_Cleanup();
    return 0;
}
