/* core/config.h — danced's configuration: YAML (libcyaml) -> validated structs.
 *
 * The YAML schema (documented for operators in docs/configuration.md, example
 * in examples/danced.yaml).  Keys are kebab-case; unknown keys and bad values
 * are errors.  Every key except `listeners` is optional; defaults below.
 *
 *   server:
 *     workers: 0                 # 0 = one per CPU core
 *     log-level: info            # error | warn | info | debug
 *     counters-file: ""          # if set, counters are dumped there (text) every second and on SIGUSR1
 *   listeners:                   # at least one
 *     - name: dot                # unique, used in logs/counters
 *       address: 127.0.0.1       # IPv4 or IPv6 literal
 *       port: 853
 *       certificate: server.crt  # PEM chain, leaf first; relative paths are relative to the config file
 *       key: server.key          # PEM private key
 *       client-auth: none        # none | optional | require
 *       tls-min-version: "1.3"   # "1.2" | "1.3" ("1.2" not allowed with client-auth optional/require... it is allowed, but such clients are anonymous at best)
 *       tickets: true            # TLS session tickets; forced off where client-auth != none (see docs)
 *   limits:
 *     max-connections: 10000            # total, all workers
 *     max-connections-per-ip: 64        # per IPv4 /32 or IPv6 /128
 *     max-connections-per-prefix: 256   # per IPv4 /24 or IPv6 /56
 *     max-handshakes: 512               # TLS handshakes in progress
 *     handshake-timeout-ms: 5000        # connect -> TLS established (+ authentication)
 *     first-query-timeout-ms: 5000      # TLS established -> first query
 *     idle-timeout-ms: 30000            # between queries; advertised with edns-tcp-keepalive
 *     max-queries-in-flight: 128        # per connection; reading pauses while over
 *     max-output-bytes: 262144          # queued per connection; reading pauses while over
 *     suspect-failures: 64              # unauthenticated connection ends (decaying, half-life 10 s) that make
 *                                       # a source prefix suspect; 0 = off
 *     suspect-handshake-rate: 10        # new TLS handshakes per second for each suspect prefix (others wait)
 *     suspect-exempt: []                # networks never made suspect: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
 *   resolver:
 *     mode: recursive                   # recursive | forward
 *     forward-addresses: []             # mode forward: ["127.0.0.1@5353", "::1"]
 *     root-hints: /usr/share/dns/root.hints
 *     trust-anchor-file: /usr/share/dns/root.key   # "" = no root trust anchor
 *     dnssec: true                      # validation on
 *     stub-zones:
 *       - zone: corp.example
 *         addresses: ["127.0.0.1@5353"]
 *         trust-anchor: "corp.example. IN DS 1234 13 2 ABCD..."   # optional, DS or DNSKEY text
 *         trust-anchor-file: ""         # optional, file with DS/DNSKEY lines
 *     outgoing-range: 4096
 *     num-queries-per-thread: 4096
 *     msg-cache-size: 16777216
 *     rrset-cache-size: 33554432
 *     key-cache-size: 4194304
 *     infra-host-ttl: 60
 *     query-timeout-ms: 10000           # danced's deadline for one client query
 *     max-lookups-in-flight: 2048       # per worker; kept below num-queries-per-thread
 *     unbound-options: []               # extra "name: value" strings passed to ub_ctx_set_option
 *   cache:
 *     max-bytes: 67108864               # answer cache, all workers together
 *     max-ttl: 86400
 *     min-ttl: 0
 *     negative-max-ttl: 3600
 *   dane:
 *     allow: []                         # domains whose names may authenticate (suffix at label boundary)
 *     identity-suffix: ""               # with several SAN dNSNames, the one under this suffix counts
 *     pkix-ca-file: ""                  # enables usages 0/1 (not supported yet: usages 0/1 are refused)
 *     lookup-timeout-ms: 3000           # deadline for one TLSA lookup
 *     max-lookups-in-flight: 256        # global
 *     max-lookups-per-domain: 16        # per allow-list entry / TLSA zone
 *     queue-length: 1024                # waiting authentications; beyond it refuse fast
 *     cache-max-ttl: 3600               # positive verdict cache upper bound
 *     negative-ttl: 30                  # failures (bogus, timeout, no TLSA, mismatch)
 *     cache-entries: 65536
 */
#ifndef DANCED_CORE_CONFIG_H
#define DANCED_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CONFIG_LOG_ERROR = 0, CONFIG_LOG_WARN, CONFIG_LOG_INFO, CONFIG_LOG_DEBUG } config_log_level_t;
typedef enum { CONFIG_AUTH_NONE = 0, CONFIG_AUTH_OPTIONAL, CONFIG_AUTH_REQUIRE } config_client_auth_t;
typedef enum { CONFIG_MODE_RECURSIVE = 0, CONFIG_MODE_FORWARD } config_resolver_mode_t;

typedef struct {
    char *name;
    char *address;
    uint16_t port;
    char *certificate; /* absolute path after loading */
    char *key;         /* absolute path after loading */
    config_client_auth_t client_auth;
    int tls_min_version; /* 12 or 13 */
    bool tickets;
} config_listener_t;

typedef struct {
    char *zone;
    char **addresses;
    unsigned n_addresses;
    char *trust_anchor;      /* may be NULL */
    char *trust_anchor_file; /* may be NULL; absolute */
} config_stub_zone_t;

typedef struct {
    unsigned workers;
    config_log_level_t log_level;
    char *counters_file; /* may be NULL */
} config_server_t;

/* An address block: family AF_INET or AF_INET6, the network (host bits zero)
 * and its prefix length (0..32 or 0..128). */
typedef struct {
    uint8_t family;
    uint8_t prefix_len;
    uint8_t addr[16];
} config_cidr_t;

typedef struct {
    uint32_t max_connections;
    uint32_t max_connections_per_ip;
    uint32_t max_connections_per_prefix;
    uint32_t max_handshakes;
    uint32_t handshake_timeout_ms;
    uint32_t first_query_timeout_ms;
    uint32_t idle_timeout_ms;
    uint32_t max_queries_in_flight;
    uint32_t max_output_bytes;
    uint32_t suspect_failures;       /* 0: off */
    uint32_t suspect_handshake_rate; /* per suspect prefix, per second */
    config_cidr_t *suspect_exempt;   /* clients here never count as strikes */
    unsigned n_suspect_exempt;
} config_limits_t;

typedef struct {
    config_resolver_mode_t mode;
    char **forward_addresses;
    unsigned n_forward_addresses;
    char *root_hints;        /* may be NULL */
    char *trust_anchor_file; /* may be NULL */
    bool dnssec;
    config_stub_zone_t *stub_zones;
    unsigned n_stub_zones;
    uint32_t outgoing_range;
    uint32_t num_queries_per_thread;
    uint64_t msg_cache_size;
    uint64_t rrset_cache_size;
    uint64_t key_cache_size;
    uint32_t infra_host_ttl;
    uint32_t query_timeout_ms;
    uint32_t max_lookups_in_flight;
    char **unbound_options; /* "name: value" */
    unsigned n_unbound_options;
} config_resolver_t;

typedef struct {
    uint64_t max_bytes;
    uint32_t max_ttl;
    uint32_t min_ttl;
    uint32_t negative_max_ttl;
} config_cache_t;

typedef struct {
    char **allow;
    unsigned n_allow;
    char *identity_suffix; /* may be NULL */
    char *pkix_ca_file;    /* may be NULL */
    uint32_t lookup_timeout_ms;
    uint32_t max_lookups_in_flight;
    uint32_t max_lookups_per_domain;
    uint32_t queue_length;
    uint32_t cache_max_ttl;
    uint32_t negative_ttl;
    uint32_t cache_entries;
} config_dane_t;

typedef struct config {
    char *path; /* the file it was loaded from */
    config_server_t server;
    config_listener_t *listeners;
    unsigned n_listeners;
    config_limits_t limits;
    config_resolver_t resolver;
    config_cache_t cache;
    config_dane_t dane;
} config_t;

/* Load and validate a config file.  On success *out is a new config (free
 * with config_free) and 0 is returned.  On failure returns DN_ECONFIG (or
 * DN_EIO when the file cannot be read) and writes one human-readable message
 * into err (NUL-terminated, truncated to err_cap) that names the file, the
 * line and the key, e.g.
 *   "danced.yaml:12: limits.idle-timeout-ms: invalid value 'abc' (expected an unsigned integer)"
 *   "danced.yaml:3: server: unknown key 'bogus' (expected one of: ...)"
 * Semantic checks too: at least one listener, unique listener names, valid
 * address literals, port != 0, certificate and key readable, mode forward
 * needs forward-addresses, stub zone names and allow-list entries are valid
 * domain names, dane limits > 0, workers <= 256. */
int config_load(const char *path, config_t **out, char *err, size_t err_cap);

/* Same from a memory buffer (used by the fuzzer and unit tests); `name` is
 * used in messages and relative paths are relative to base_dir (may be NULL:
 * current directory).  Does not check that files exist when check_files is false. */
int config_load_buffer(const char *name, const char *yaml, size_t len, const char *base_dir,
                       bool check_files, config_t **out, char *err, size_t err_cap);

void config_free(config_t *cfg);

/* ---- Additions (config.c): bounds, names and small helpers. ---- */

/* Hard bounds on the input, so that no file can make the loader allocate
 * without limit (see docs/configuration.md). */
#define CONFIG_MAX_FILE_BYTES (1024 * 1024)
#define CONFIG_MAX_DEPTH 32            /* YAML nesting levels */
#define CONFIG_MAX_STRING 4096         /* bytes in one string value */
#define CONFIG_MAX_TRUST_ANCHOR 16384  /* bytes in stub-zones[].trust-anchor */
#define CONFIG_MAX_LISTENERS 64
#define CONFIG_MAX_ADDRESSES 64        /* forward-addresses, stub-zones[].addresses */
#define CONFIG_MAX_STUB_ZONES 1024
#define CONFIG_MAX_UNBOUND_OPTIONS 256
#define CONFIG_MAX_ALLOW 4096          /* dane.allow entries */
#define CONFIG_MAX_CIDRS 1024          /* limits.suspect-exempt entries */
#define CONFIG_MAX_WORKERS 256

/* The YAML spelling of enum values ("info", "require", "forward"); "?" when out of range. */
const char *config_log_level_name(config_log_level_t v);
const char *config_client_auth_name(config_client_auth_t v);
const char *config_mode_name(config_resolver_mode_t v);

/* Render a listener's endpoint as "127.0.0.1:853" or "[::1]:853" into buf.
 * Returns 0, or DN_ERANGE when cap is too small (buf then holds a truncated,
 * NUL-terminated string when cap > 0). */
int config_listener_endpoint(const config_listener_t *l, char *buf, size_t cap);

/* Validate a domain name as the config does (labels of letters, digits, '-',
 * '_', 1..63 each, at most 253 in total, one trailing dot allowed) and write
 * it lowercased without the trailing dot into out (cap >= strlen(in) + 1
 * suffices).  Returns 0, DN_EINVAL (not a valid name) or DN_ERANGE (cap too
 * small); out is written only on success. */
int config_normalize_domain(const char *in, char *out, size_t cap);

/* 0 when s is "IP" or "IP@port" (IPv4 or IPv6 literal, port 1..65535), the
 * address syntax of forward-addresses and stub-zones[].addresses; else DN_EINVAL. */
int config_check_address(const char *s);

/* What a reload cannot apply: the keys in which `next` differs from `running`
 * outside the reloadable set (server.log-level, limits.*, and each
 * listener's certificate and key).  Writes them comma-separated into out
 * (e.g. "server.workers, listeners[0].port, dane"; truncated with "..." to
 * cap) and returns how many there are (0: everything can be applied). */
unsigned config_restart_changes(const config_t *running, const config_t *next, char *out, size_t cap);

/* Parse "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128).
 * 0, DN_EINVAL (not an address block), or DN_ERANGE (host bits set beyond the
 * prefix length: almost always a typo, so it is not silently masked). */
int config_parse_cidr(const char *s, config_cidr_t *out);
/* Whether the address (family AF_INET with 4 bytes, or AF_INET6 with 16)
 * lies in the block. */
bool config_cidr_contains(const config_cidr_t *c, int family, const uint8_t *addr);

#endif
