/* core/tls.h — the only code that uses wolfSSL's TLS API.
 *
 * A tls_conn_t is a wolfSSL object whose I/O goes through memory: the caller
 * lends it ciphertext read from the socket (tls_conn_set_input, zero copy; what
 * wolfSSL did not consume is copied by tls_conn_stash_input before the
 * caller's buffer goes away) and takes the ciphertext it produced
 * (tls_conn_take_output) to write to the socket.  No sockets, no loop here.
 *
 * Threading: a tls_ctx_t is built once and then only read, so connections on
 * any thread may share it; a tls_conn_t belongs to one thread.
 *
 * Client certificates: listeners with client-auth request a certificate and
 * accept any in the verify callback (the TLS handshake still proves
 * possession of the key through CertificateVerify); whether the certificate
 * means anything is decided by dane/.  With client-auth, tickets and the
 * session cache are off: Debian's wolfSSL forgets the peer certificate on
 * resumed sessions (LIBRARIES.md), and an identity must never be lost. */
#ifndef DANCED_CORE_TLS_H
#define DANCED_CORE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tls_ctx tls_ctx_t;
typedef struct tls_conn tls_conn_t;

typedef enum { TLS_CLIENT_AUTH_NONE = 0, TLS_CLIENT_AUTH_OPTIONAL, TLS_CLIENT_AUTH_REQUIRE } tls_client_auth_t;

typedef struct {
    const char *cert_file;  /* PEM chain, leaf first */
    const char *key_file;   /* PEM key */
    int min_version;        /* 12 or 13 */
    tls_client_auth_t client_auth;
    bool tickets;           /* ignored (off) when client_auth != NONE */
} tls_server_opts_t;

/* Returns 0 and *out, or DN_ETLS/DN_ENOMEM with a message in err. */
int tls_ctx_new_server(const tls_server_opts_t *opts, tls_ctx_t **out, char *err, size_t err_cap);
void tls_ctx_free(tls_ctx_t *ctx);

/* A new server-side connection; NULL on allocation failure. */
tls_conn_t *tls_conn_new(tls_ctx_t *ctx);
void tls_conn_free(tls_conn_t *c);

/* Lend ciphertext; it must be consumed by handshake/read calls or stashed
 * before the caller's buffer is reused.  Appends to stashed input if any. */
int tls_conn_set_input(tls_conn_t *c, const uint8_t *data, size_t len);
/* Copy lent input that wolfSSL has not consumed yet into the connection. */
int tls_conn_stash_input(tls_conn_t *c);
size_t tls_conn_input_left(const tls_conn_t *c);

/* 0: handshake complete; DN_EAGAIN: needs more input (flush output first);
 * DN_ETLS: failed (tls_conn_error says why). */
int tls_conn_handshake(tls_conn_t *c);
/* Decrypt into buf.  0 with *n > 0; DN_EAGAIN: no complete record buffered;
 * DN_ECLOSED: the peer sent close_notify; DN_ETLS: failure. */
int tls_conn_read(tls_conn_t *c, uint8_t *buf, size_t cap, size_t *n);
/* Encrypt all of data (one or more records) into the output buffer.
 * 0 or DN_ETLS/DN_ENOMEM. */
int tls_conn_write(tls_conn_t *c, const uint8_t *data, size_t len);
/* Send close_notify into the output buffer (best effort). */
void tls_conn_shutdown(tls_conn_t *c);

/* Bytes of ciphertext waiting to be written. */
size_t tls_conn_output_len(const tls_conn_t *c);
/* Hand the pending ciphertext to the caller (malloc'd; caller frees), or
 * NULL when there is none. */
uint8_t *tls_conn_take_output(tls_conn_t *c, size_t *len);

/* Why the last call failed: a static string from the one TLS error mapper. */
const char *tls_conn_error(const tls_conn_t *c);
/* Map a wolfSSL error code to a short human-readable reason. */
const char *tls_error_string(int wolfssl_error);

/* After the handshake. */
bool tls_conn_is_tls13(tls_conn_t *c);
bool tls_conn_resumed(tls_conn_t *c);
/* The ALPN protocol selected ("dot"), or NULL. */
const char *tls_conn_alpn(tls_conn_t *c);

/* The peer's certificate chain as DER, leaf first, copied into one block:
 * chain->der[i] / chain->len[i] point into chain->block (free with
 * tls_chain_free).  Returns DN_ENOTFOUND when the peer sent no certificate. */
#define TLS_CHAIN_MAX 8
typedef struct {
    unsigned n;
    const uint8_t *der[TLS_CHAIN_MAX];
    size_t len[TLS_CHAIN_MAX];
    uint8_t *block;
} tls_chain_t;
int tls_conn_peer_chain(tls_conn_t *c, tls_chain_t *chain);
void tls_chain_free(tls_chain_t *chain);

/* Process-wide init/cleanup of wolfSSL (call once from main). */
int tls_global_init(void);
void tls_global_cleanup(void);
/* Free wolfCrypt's per-thread caches (the ECC fixed-point cache of FP_ECC
 * builds); call at the end of every thread that did TLS or signature work. */
void tls_thread_cleanup(void);

#endif
