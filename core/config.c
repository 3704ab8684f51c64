/* core/config.c — YAML configuration: libcyaml schema -> raw tree -> config_t.
 *
 * How it works, in three passes over one bounded buffer:
 *
 *  1. scan_yaml() walks the libyaml event stream once.  It rejects syntax
 *     errors, aliases, nesting deeper than CONFIG_MAX_DEPTH and more than one
 *     document, each with the line and the key path at the point of failure.
 *     The same walker, given a target key path, answers "on which line is
 *     listeners[1].port?" — used only when composing an error message, so a
 *     valid file never pays for a line map and nothing is stored per key.
 *  2. libcyaml loads the document into a private "raw" tree whose every
 *     scalar is a pointer (CYAML_FLAG_OPTIONAL | pointer): NULL means the key
 *     was absent.  So presence is detected properly — an explicit 0 or "" is
 *     never confused with "not set" — and defaults are applied only to absent
 *     keys.  libcyaml reports details only through its log callback; those
 *     lines (message + backtrace) are captured and turned into one message
 *     "<file>:<line>: <key.path>: <what>".
 *  3. The raw tree is converted into config_t (our own allocations: absolute
 *     paths, lowercased domain names, enum values) and validated; then the raw
 *     tree is released with cyaml_free().  config_free() therefore frees only
 *     what this file allocated.
 *
 * Bounds: the input is at most CONFIG_MAX_FILE_BYTES, aliases are refused
 * (no billion-laughs expansion), every string and sequence has a maximum in
 * the schema, and nesting is capped, so memory is linear in a bounded input. */
#include "config.h"

#include "err.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <cyaml/cyaml.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* ------------------------------------------------------------------------ */
/* Raw tree: what libcyaml fills in.  Pointers everywhere: NULL = absent.   */

typedef struct {
    unsigned *workers;
    config_log_level_t *log_level;
    char *counters_file;
} raw_server_t;

typedef struct {
    char *name;
    char *address;
    uint64_t *port; /* wide so that 70000 reaches our own range check */
    char *certificate;
    char *key;
    config_client_auth_t *client_auth;
    int *tls_min_version;
    bool *tickets;
} raw_listener_t;

typedef struct {
    uint32_t *max_connections;
    uint32_t *max_connections_per_ip;
    uint32_t *max_connections_per_prefix;
    uint32_t *max_handshakes;
    uint32_t *handshake_timeout_ms;
    uint32_t *first_query_timeout_ms;
    uint32_t *idle_timeout_ms;
    uint32_t *max_queries_in_flight;
    uint32_t *max_output_bytes;
    uint32_t *suspect_failures;
    uint32_t *suspect_handshake_rate;
    char **suspect_exempt;
    unsigned n_suspect_exempt;
} raw_limits_t;

typedef struct {
    char *zone;
    char **addresses;
    unsigned n_addresses;
    char *trust_anchor;
    char *trust_anchor_file;
} raw_stub_t;

typedef struct {
    config_resolver_mode_t *mode;
    char **forward_addresses;
    unsigned n_forward_addresses;
    char *root_hints;
    char *trust_anchor_file;
    bool *dnssec;
    raw_stub_t *stub_zones;
    unsigned n_stub_zones;
    uint32_t *outgoing_range;
    uint32_t *num_queries_per_thread;
    uint64_t *msg_cache_size;
    uint64_t *rrset_cache_size;
    uint64_t *key_cache_size;
    uint32_t *infra_host_ttl;
    uint32_t *query_timeout_ms;
    uint32_t *max_lookups_in_flight;
    char **unbound_options;
    unsigned n_unbound_options;
} raw_resolver_t;

typedef struct {
    uint64_t *max_bytes;
    uint32_t *max_ttl;
    uint32_t *min_ttl;
    uint32_t *negative_max_ttl;
} raw_cache_t;

typedef struct {
    char **allow;
    unsigned n_allow;
    char *identity_suffix;
    char *pkix_ca_file;
    uint32_t *lookup_timeout_ms;
    uint32_t *max_lookups_in_flight;
    uint32_t *max_lookups_per_domain;
    uint32_t *queue_length;
    uint32_t *cache_max_ttl;
    uint32_t *negative_ttl;
    uint32_t *cache_entries;
} raw_dane_t;

typedef struct {
    raw_server_t *server;
    raw_listener_t *listeners;
    unsigned n_listeners;
    raw_limits_t *limits;
    raw_resolver_t *resolver;
    raw_cache_t *cache;
    raw_dane_t *dane;
} raw_t;

/* ------------------------------------------------------------------------ */
/* Schema                                                                    */

#define OPT CYAML_FLAG_OPTIONAL
#define STRICT_ENUM (CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT)

static const cyaml_strval_t log_level_strings[] = {
    {"error", CONFIG_LOG_ERROR}, {"warn", CONFIG_LOG_WARN}, {"info", CONFIG_LOG_INFO}, {"debug", CONFIG_LOG_DEBUG},
};
static const cyaml_strval_t client_auth_strings[] = {
    {"none", CONFIG_AUTH_NONE}, {"optional", CONFIG_AUTH_OPTIONAL}, {"require", CONFIG_AUTH_REQUIRE},
};
static const cyaml_strval_t mode_strings[] = {
    {"recursive", CONFIG_MODE_RECURSIVE}, {"forward", CONFIG_MODE_FORWARD},
};
static const cyaml_strval_t tls_version_strings[] = {{"1.2", 12}, {"1.3", 13}};
/* Booleans are a strict enum rather than CYAML_BOOL: libcyaml's bool reads
 * anything that is not false/no/off/0 as true ("tickets: maybe" would be
 * silently true).  Matched case-insensitively. */
static const cyaml_strval_t bool_strings[] = {
    {"true", 1}, {"false", 0}, {"yes", 1}, {"no", 0}, {"on", 1}, {"off", 0},
};
#define BOOL_FIELD(key, st, member)                                                                          \
    CYAML_FIELD_ENUM_PTR(key, STRICT_ENUM | CYAML_FLAG_CASE_INSENSITIVE, st, member, bool_strings,           \
                         CYAML_ARRAY_LEN(bool_strings))
#define ENUM_FIELD(key, st, member, strings)                                                                 \
    CYAML_FIELD_ENUM_PTR(key, STRICT_ENUM, st, member, strings, CYAML_ARRAY_LEN(strings))
#define STR_FIELD(key, st, member, max) CYAML_FIELD_STRING_PTR(key, OPT, st, member, 0, max)
#define STRLIST_FIELD(key, st, member, count, max)                                                           \
    CYAML_FIELD_SEQUENCE_COUNT(key, CYAML_FLAG_POINTER | OPT, st, member, count, &string_entry, 0, max)

static const cyaml_schema_value_t string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CONFIG_MAX_STRING),
};

static const cyaml_schema_field_t server_fields[] = {
    CYAML_FIELD_UINT_PTR("workers", OPT, raw_server_t, workers),
    ENUM_FIELD("log-level", raw_server_t, log_level, log_level_strings),
    STR_FIELD("counters-file", raw_server_t, counters_file, CONFIG_MAX_STRING),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t listener_fields[] = {
    STR_FIELD("name", raw_listener_t, name, CONFIG_MAX_STRING),
    STR_FIELD("address", raw_listener_t, address, CONFIG_MAX_STRING),
    CYAML_FIELD_UINT_PTR("port", OPT, raw_listener_t, port),
    STR_FIELD("certificate", raw_listener_t, certificate, CONFIG_MAX_STRING),
    STR_FIELD("key", raw_listener_t, key, CONFIG_MAX_STRING),
    ENUM_FIELD("client-auth", raw_listener_t, client_auth, client_auth_strings),
    ENUM_FIELD("tls-min-version", raw_listener_t, tls_min_version, tls_version_strings),
    BOOL_FIELD("tickets", raw_listener_t, tickets),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t listener_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, raw_listener_t, listener_fields),
};

static const cyaml_schema_field_t limits_fields[] = {
    CYAML_FIELD_UINT_PTR("max-connections", OPT, raw_limits_t, max_connections),
    CYAML_FIELD_UINT_PTR("max-connections-per-ip", OPT, raw_limits_t, max_connections_per_ip),
    CYAML_FIELD_UINT_PTR("max-connections-per-prefix", OPT, raw_limits_t, max_connections_per_prefix),
    CYAML_FIELD_UINT_PTR("max-handshakes", OPT, raw_limits_t, max_handshakes),
    CYAML_FIELD_UINT_PTR("handshake-timeout-ms", OPT, raw_limits_t, handshake_timeout_ms),
    CYAML_FIELD_UINT_PTR("first-query-timeout-ms", OPT, raw_limits_t, first_query_timeout_ms),
    CYAML_FIELD_UINT_PTR("idle-timeout-ms", OPT, raw_limits_t, idle_timeout_ms),
    CYAML_FIELD_UINT_PTR("max-queries-in-flight", OPT, raw_limits_t, max_queries_in_flight),
    CYAML_FIELD_UINT_PTR("max-output-bytes", OPT, raw_limits_t, max_output_bytes),
    CYAML_FIELD_UINT_PTR("suspect-failures", OPT, raw_limits_t, suspect_failures),
    CYAML_FIELD_UINT_PTR("suspect-handshake-rate", OPT, raw_limits_t, suspect_handshake_rate),
    STRLIST_FIELD("suspect-exempt", raw_limits_t, suspect_exempt, n_suspect_exempt, CONFIG_MAX_CIDRS),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t stub_fields[] = {
    STR_FIELD("zone", raw_stub_t, zone, CONFIG_MAX_STRING),
    STRLIST_FIELD("addresses", raw_stub_t, addresses, n_addresses, CONFIG_MAX_ADDRESSES),
    STR_FIELD("trust-anchor", raw_stub_t, trust_anchor, CONFIG_MAX_TRUST_ANCHOR),
    STR_FIELD("trust-anchor-file", raw_stub_t, trust_anchor_file, CONFIG_MAX_STRING),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t stub_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, raw_stub_t, stub_fields),
};

static const cyaml_schema_field_t resolver_fields[] = {
    ENUM_FIELD("mode", raw_resolver_t, mode, mode_strings),
    STRLIST_FIELD("forward-addresses", raw_resolver_t, forward_addresses, n_forward_addresses,
                  CONFIG_MAX_ADDRESSES),
    STR_FIELD("root-hints", raw_resolver_t, root_hints, CONFIG_MAX_STRING),
    STR_FIELD("trust-anchor-file", raw_resolver_t, trust_anchor_file, CONFIG_MAX_STRING),
    BOOL_FIELD("dnssec", raw_resolver_t, dnssec),
    CYAML_FIELD_SEQUENCE_COUNT("stub-zones", CYAML_FLAG_POINTER | OPT, raw_resolver_t, stub_zones, n_stub_zones,
                               &stub_entry, 0, CONFIG_MAX_STUB_ZONES),
    CYAML_FIELD_UINT_PTR("outgoing-range", OPT, raw_resolver_t, outgoing_range),
    CYAML_FIELD_UINT_PTR("num-queries-per-thread", OPT, raw_resolver_t, num_queries_per_thread),
    CYAML_FIELD_UINT_PTR("msg-cache-size", OPT, raw_resolver_t, msg_cache_size),
    CYAML_FIELD_UINT_PTR("rrset-cache-size", OPT, raw_resolver_t, rrset_cache_size),
    CYAML_FIELD_UINT_PTR("key-cache-size", OPT, raw_resolver_t, key_cache_size),
    CYAML_FIELD_UINT_PTR("infra-host-ttl", OPT, raw_resolver_t, infra_host_ttl),
    CYAML_FIELD_UINT_PTR("query-timeout-ms", OPT, raw_resolver_t, query_timeout_ms),
    CYAML_FIELD_UINT_PTR("max-lookups-in-flight", OPT, raw_resolver_t, max_lookups_in_flight),
    STRLIST_FIELD("unbound-options", raw_resolver_t, unbound_options, n_unbound_options,
                  CONFIG_MAX_UNBOUND_OPTIONS),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t cache_fields[] = {
    CYAML_FIELD_UINT_PTR("max-bytes", OPT, raw_cache_t, max_bytes),
    CYAML_FIELD_UINT_PTR("max-ttl", OPT, raw_cache_t, max_ttl),
    CYAML_FIELD_UINT_PTR("min-ttl", OPT, raw_cache_t, min_ttl),
    CYAML_FIELD_UINT_PTR("negative-max-ttl", OPT, raw_cache_t, negative_max_ttl),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t dane_fields[] = {
    STRLIST_FIELD("allow", raw_dane_t, allow, n_allow, CONFIG_MAX_ALLOW),
    STR_FIELD("identity-suffix", raw_dane_t, identity_suffix, CONFIG_MAX_STRING),
    STR_FIELD("pkix-ca-file", raw_dane_t, pkix_ca_file, CONFIG_MAX_STRING),
    CYAML_FIELD_UINT_PTR("lookup-timeout-ms", OPT, raw_dane_t, lookup_timeout_ms),
    CYAML_FIELD_UINT_PTR("max-lookups-in-flight", OPT, raw_dane_t, max_lookups_in_flight),
    CYAML_FIELD_UINT_PTR("max-lookups-per-domain", OPT, raw_dane_t, max_lookups_per_domain),
    CYAML_FIELD_UINT_PTR("queue-length", OPT, raw_dane_t, queue_length),
    CYAML_FIELD_UINT_PTR("cache-max-ttl", OPT, raw_dane_t, cache_max_ttl),
    CYAML_FIELD_UINT_PTR("negative-ttl", OPT, raw_dane_t, negative_ttl),
    CYAML_FIELD_UINT_PTR("cache-entries", OPT, raw_dane_t, cache_entries),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t top_fields[] = {
    CYAML_FIELD_MAPPING_PTR("server", OPT, raw_t, server, server_fields),
    /* Optional for libcyaml: "at least one listener" is checked by us, with
     * a better message than libcyaml's "Missing required mapping field". */
    CYAML_FIELD_SEQUENCE_COUNT("listeners", CYAML_FLAG_POINTER | OPT, raw_t, listeners, n_listeners,
                               &listener_entry, 0, CONFIG_MAX_LISTENERS),
    CYAML_FIELD_MAPPING_PTR("limits", OPT, raw_t, limits, limits_fields),
    CYAML_FIELD_MAPPING_PTR("resolver", OPT, raw_t, resolver, resolver_fields),
    CYAML_FIELD_MAPPING_PTR("cache", OPT, raw_t, cache, cache_fields),
    CYAML_FIELD_MAPPING_PTR("dane", OPT, raw_t, dane, dane_fields),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t top_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, raw_t, top_fields),
};

/* ------------------------------------------------------------------------ */
/* Error messages                                                            */

typedef struct {
    const char *name; /* file name as given, for messages */
    const char *buf;  /* the YAML text, for line look-ups */
    size_t len;
    size_t root_line; /* where the top-level mapping starts */
    char *err;
    size_t err_cap;
} ctx_t;

/* Copy untrusted text into dst for a message: at most max characters,
 * non-printable bytes replaced by '?', "..." when cut. */
static void sanitize(char *dst, size_t cap, const char *src, size_t max)
{
    size_t i = 0, n = 0;
    if (cap == 0)
        return;
    for (; src[i] && n + 1 < cap && i < max; i++)
        dst[n++] = isprint((unsigned char)src[i]) ? src[i] : '?';
    if (src[i] && i >= max && n + 4 < cap) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
}

/* Write "<file>:<line>: <path>: <what>" (line 0 = unknown, empty path = none). */
static void put_error(ctx_t *c, size_t line, const char *path, const char *fmt, ...)
{
    if (!c->err || c->err_cap == 0)
        return;
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char lines[32] = "";
    if (line)
        snprintf(lines, sizeof lines, ":%zu", line);
    snprintf(c->err, c->err_cap, "%s%s: %s%s%s", c->name, lines, path ? path : "", path && *path ? ": " : "",
             what);
}

/* ------------------------------------------------------------------------ */
/* Pass 1: libyaml scan (syntax, aliases, depth, documents; line look-up)   */

#define SCAN_PATH_MAX 1024

typedef struct {
    bool is_map;
    bool want_key;
    size_t base_len; /* path length of the collection itself */
    unsigned idx;    /* next sequence index */
} scan_frame_t;

typedef struct {
    /* look-up mode: find the `want`-th key or entry whose path is target */
    const char *target;
    unsigned want, seen;
    size_t found_line;
    size_t root_line; /* line of the document's root node */
    /* results of a validating scan */
    bool empty;       /* no document, or a document holding only an empty value */
    size_t err_line;  /* 0 = no error */
    char err_path[256];
    char err_msg[256];
} scan_t;

static void path_append(char *path, size_t *plen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(path + *plen, SCAN_PATH_MAX - *plen, fmt, ap);
    va_end(ap);
    if (n > 0)
        *plen += (size_t)n < SCAN_PATH_MAX - *plen ? (size_t)n : SCAN_PATH_MAX - 1 - *plen;
}

static void scan_record(scan_t *s, const char *path, size_t line)
{
    if (s->target && !s->found_line && strcmp(path, s->target) == 0 && ++s->seen == s->want)
        s->found_line = line;
}

/* Walk the event stream.  Returns true when the stream is acceptable;
 * otherwise s->err_* describe the first problem.  In look-up mode it stops as
 * soon as the target is found. */
static bool scan_yaml(const char *buf, size_t len, scan_t *s)
{
    yaml_parser_t p;
    scan_frame_t st[CONFIG_MAX_DEPTH];
    unsigned depth = 0, docs = 0;
    char path[SCAN_PATH_MAX] = "";
    size_t plen = 0;
    bool done = false, ok = true, root_seen = false;

    s->empty = true;
    if (!yaml_parser_initialize(&p)) {
        snprintf(s->err_msg, sizeof s->err_msg, "out of memory");
        s->err_line = 1;
        return false;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    while (!done && !(s->target && s->found_line)) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            s->err_line = p.problem_mark.line + 1;
            snprintf(s->err_msg, sizeof s->err_msg, "YAML syntax error: %s%s%s", p.problem ? p.problem : "invalid YAML",
                     p.context ? " " : "", p.context ? p.context : "");
            ok = false;
            break;
        }
        size_t line = ev.start_mark.line + 1;
        scan_frame_t *f = depth ? &st[depth - 1] : NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                s->err_line = line;
                snprintf(s->err_msg, sizeof s->err_msg, "only one YAML document is allowed");
                ok = false;
                done = true;
            }
            break;
        case YAML_ALIAS_EVENT:
            s->err_line = line;
            snprintf(s->err_msg, sizeof s->err_msg, "YAML aliases are not supported");
            ok = false;
            done = true;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            bool scalar = ev.type == YAML_SCALAR_EVENT;
            if (!f) {
                /* The root node: an empty/null scalar means "empty file". */
                const char *v = scalar ? (const char *)ev.data.scalar.value : NULL;
                if (!root_seen && !(scalar && ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                                    (!*v || !strcmp(v, "~") || !strcmp(v, "null"))))
                    s->empty = false;
                if (!root_seen)
                    s->root_line = line;
                root_seen = true;
            } else if (f->is_map && f->want_key) {
                plen = f->base_len;
                path[plen] = '\0';
                if (scalar)
                    path_append(path, &plen, "%s%s", plen ? "." : "", (const char *)ev.data.scalar.value);
                else {
                    s->err_line = line;
                    snprintf(s->err_msg, sizeof s->err_msg, "mapping keys must be plain words, not %s",
                             ev.type == YAML_MAPPING_START_EVENT ? "mappings" : "lists");
                    ok = false;
                    done = true;
                    break;
                }
                scan_record(s, path, line);
            } else if (!f->is_map) {
                plen = f->base_len;
                path[plen] = '\0';
                path_append(path, &plen, "[%u]", f->idx);
                scan_record(s, path, line);
            }
            if (!scalar) {
                if (depth == CONFIG_MAX_DEPTH) {
                    s->err_line = line;
                    snprintf(s->err_msg, sizeof s->err_msg, "nesting too deep (more than %d levels)",
                             CONFIG_MAX_DEPTH);
                    ok = false;
                    done = true;
                    break;
                }
                st[depth++] = (scan_frame_t){.is_map = ev.type == YAML_MAPPING_START_EVENT,
                                             .want_key = true, .base_len = plen};
                break;
            }
            goto complete;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth)
                depth--;
            f = depth ? &st[depth - 1] : NULL;
        complete:
            /* A node finished inside f: advance f's state. */
            if (f && f->is_map) {
                if (f->want_key) {
                    f->want_key = false; /* path now names the key: the value follows */
                } else {
                    f->want_key = true;
                    plen = f->base_len;
                    path[plen] = '\0';
                }
            } else if (f) {
                f->idx++;
                plen = f->base_len;
                path[plen] = '\0';
            }
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    if (!ok)
        sanitize(s->err_path, sizeof s->err_path, path, 200);
    yaml_parser_delete(&p);
    return ok;
}

/* Line of the `occurrence`-th key or sequence entry named `path`; when it is
 * not in the text (e.g. a missing key), the line of its nearest ancestor.
 * 0 when unknown. */
static size_t find_line(const ctx_t *c, const char *path, unsigned occurrence)
{
    char p[256];
    snprintf(p, sizeof p, "%s", path);
    while (*p) {
        scan_t s = {.target = p, .want = occurrence};
        scan_yaml(c->buf, c->len, &s);
        if (s.found_line)
            return s.found_line;
        occurrence = 1;
        char *cut = strrchr(p, '.');
        char *br = strrchr(p, '[');
        if (br && (!cut || br > cut))
            cut = br;
        if (!cut)
            break;
        *cut = '\0';
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Pass 2: libcyaml, with its log lines captured                             */

#define CY_FRAMES 16

typedef struct {
    enum { FR_FIELD, FR_ENTRY, FR_MAPPING } kind;
    char name[64];
    unsigned entry;
    size_t line;
} cy_frame_t;

typedef struct {
    bool have_msg;
    char msg[320];
    unsigned n;
    cy_frame_t fr[CY_FRAMES]; /* innermost first, as libcyaml prints them */
} cy_log_t;

static void cy_log_fn(cyaml_log_t level, void *vctx, const char *fmt, va_list args)
{
    cy_log_t *l = vctx;
    char line[512];
    if (level < CYAML_LOG_WARNING)
        return;
    vsnprintf(line, sizeof line, fmt, args);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (strncmp(line, "  in ", 5) == 0) {
        if (!l->have_msg || l->n == CY_FRAMES)
            return;
        cy_frame_t *f = &l->fr[l->n];
        size_t col;
        if (sscanf(line, "  in mapping field '%63[^']' (line: %zu, column: %zu)", f->name, &f->line, &col) == 3)
            f->kind = FR_FIELD;
        else if (sscanf(line, "  in sequence entry '%u' (line: %zu, column: %zu)", &f->entry, &f->line, &col) == 3)
            f->kind = FR_ENTRY;
        else if (sscanf(line, "  in mapping (line: %zu, column: %zu)", &f->line, &col) == 2)
            f->kind = FR_MAPPING;
        else
            return;
        l->n++;
        return;
    }
    const char *m = strncmp(line, "Load: ", 6) == 0 ? line + 6 : line;
    if (strcmp(m, "Backtrace:") == 0 || l->have_msg)
        return;
    sanitize(l->msg, sizeof l->msg, m, sizeof l->msg - 4);
    l->have_msg = true;
}

static const char *type_noun(const char *t)
{
    static const struct {
        const char *k, *v;
    } names[] = {
        {"MAPPING", "a mapping (key: value)"}, {"SEQUENCE", "a list"},     {"SEQUENCE_FIXED", "a list"},
        {"STRING", "a string"},                {"UINT", "a number"},       {"INT", "a number"},
        {"ENUM", "a word"},                    {"BOOL", "true or false"},  {"FLOAT", "a number"},
        {"SCALAR", "a single value"},          {"SEQUENCE_START", "a list"}, {"MAPPING_START", "a mapping"},
        {"ALIAS", "an alias"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(t, names[i].k) == 0)
            return names[i].v;
    return "something else";
}

/* Turn the captured libcyaml message + backtrace into our message. */
static void cyaml_message(ctx_t *c, const cy_log_t *l, cyaml_err_t cerr)
{
    char path[256] = "", val[96];
    size_t plen = 0, line = 0;
    const cyaml_schema_value_t *sv = &top_schema;

    /* Frames outermost first: build the dotted path and walk the schema. */
    for (unsigned i = l->n; i-- > 0;) {
        const cy_frame_t *f = &l->fr[i];
        if (f->kind == FR_FIELD) {
            const cyaml_schema_field_t *fld = NULL;
            if (sv && sv->type == CYAML_MAPPING)
                for (fld = sv->mapping.fields; fld->key && strcmp(fld->key, f->name) != 0; fld++)
                    ;
            sv = fld && fld->key ? &fld->value : NULL;
            plen += (size_t)snprintf(path + plen, sizeof path - plen, "%s%s", plen ? "." : "", f->name);
        } else if (f->kind == FR_ENTRY) {
            sv = sv && sv->type == CYAML_SEQUENCE ? sv->sequence.entry : NULL;
            plen += (size_t)snprintf(path + plen, sizeof path - plen, "[%u]", f->entry ? f->entry - 1 : 0);
        }
        if (plen >= sizeof path)
            plen = sizeof path - 1;
        line = f->line; /* innermost wins */
    }

    const char *m = l->msg;
    char key[96];
    if (!l->have_msg) {
        put_error(c, line, path, "%s", cyaml_strerror(cerr));
    } else if (sscanf(m, "Unexpected key: %95[^\n]", key) == 1) {
        char full[400], keys[400] = "";
        size_t kl = 0;
        snprintf(full, sizeof full, "%s%s%s", path, *path ? "." : "", key);
        size_t kline = find_line(c, full, 1);
        if (sv && sv->type == CYAML_MAPPING)
            for (const cyaml_schema_field_t *fld = sv->mapping.fields; fld->key && kl < sizeof keys; fld++)
                kl += (size_t)snprintf(keys + kl, sizeof keys - kl, "%s%s", kl ? ", " : "", fld->key);
        sanitize(val, sizeof val, key, 64);
        if (*path)
            put_error(c, kline ? kline : line, path, "unknown key '%s' (expected one of: %s)", val, keys);
        else
            put_error(c, kline ? kline : line, val, "unknown top-level key '%s' (expected one of: %s)", val, keys);
    } else if (strncmp(m, "Invalid uint64_t value: '", 25) == 0 || strncmp(m, "Invalid UINT value: '", 21) == 0 ||
               strncmp(m, "Invalid INT value: '", 20) == 0) {
        const char *v = strchr(m, '\'') + 1;
        size_t vl = strlen(v);
        char raw[96];
        snprintf(raw, sizeof raw, "%.*s", (int)(vl && v[vl - 1] == '\'' ? vl - 1 : vl), v);
        sanitize(val, sizeof val, raw, 64);
        uint64_t max = sv && sv->data_size < 8 ? (UINT64_C(1) << (8 * sv->data_size)) - 1 : UINT64_MAX;
        const char *d = raw;
        while (*d == ' ')
            d++;
        bool digits = *d != '\0' && strspn(d, "0123456789") == strlen(d);
        if (*d == '-')
            put_error(c, line, path, "invalid value '%s': must not be negative", val);
        else if (digits)
            put_error(c, line, path, "invalid value '%s': too large (maximum %llu)", val, (unsigned long long)max);
        else
            put_error(c, line, path, "invalid value '%s' (expected an unsigned integer, 0..%llu)", val,
                      (unsigned long long)max);
    } else if (strncmp(m, "Invalid ENUM value: ", 20) == 0) {
        char opts[200] = "";
        size_t ol = 0;
        sanitize(val, sizeof val, m + 20, 64);
        if (sv && sv->type == CYAML_ENUM && sv->enumeration.strings == bool_strings) {
            snprintf(opts, sizeof opts, "true or false");
        } else if (sv && sv->type == CYAML_ENUM) {
            ol += (size_t)snprintf(opts, sizeof opts, "one of: ");
            for (uint32_t i = 0; i < sv->enumeration.count && ol < sizeof opts; i++)
                ol += (size_t)snprintf(opts + ol, sizeof opts - ol, "%s%s", i ? ", " : "",
                                       sv->enumeration.strings[i].str);
        }
        put_error(c, line, path, "invalid value '%s'%s%s%s", val, *opts ? " (expected " : "", opts, *opts ? ")" : "");
    } else if (strncmp(m, "Expecting ", 10) == 0) {
        char want[32], got[32];
        if (sscanf(m, "Expecting %31s got event: %31s", want, got) == 2) {
            size_t wl = strlen(want);
            if (wl && want[wl - 1] == ',')
                want[wl - 1] = '\0';
            if (!*path)
                put_error(c, line ? line : 1, "", "the top level must be a mapping of sections, got %s",
                          type_noun(got));
            else
                put_error(c, line, path, "expected %s, got %s%s", type_noun(want), type_noun(got),
                          strcmp(want, "STRING") == 0 && strcmp(got, "MAPPING_START") == 0
                              ? " (quote values that contain \": \")"
                              : "");
        } else {
            sanitize(val, sizeof val, m, 90);
            put_error(c, line, path, "%s", val);
        }
    } else if (sscanf(m, "Mapping field already seen: %95[^\n]", key) == 1) {
        /* The innermost frame may be the duplicated field itself. */
        size_t pl = strlen(path), kl = strlen(key);
        char parent[256];
        snprintf(parent, sizeof parent, "%s", path);
        if (pl >= kl && strcmp(path + pl - kl, key) == 0 && (pl == kl || path[pl - kl - 1] == '.'))
            parent[pl == kl ? 0 : pl - kl - 1] = '\0';
        char full[400];
        snprintf(full, sizeof full, "%s%s%s", parent, *parent ? "." : "", key);
        size_t dline = find_line(c, full, 2);
        sanitize(val, sizeof val, full, 90);
        put_error(c, dline ? dline : line, val, "key given twice");
    } else if (strncmp(m, "Excessive entries (", 19) == 0) {
        char *br = strrchr(path, '[');
        if (br)
            *br = '\0';
        unsigned max = 0;
        sscanf(m, "Excessive entries (%u", &max);
        put_error(c, line, path, "too many entries (at most %u)", max);
    } else if (strncmp(m, "STRING length > ", 16) == 0) {
        put_error(c, line, path, "value too long (at most %lu bytes)", strtoul(m + 16, NULL, 10));
    } else if (sscanf(m, "Missing required mapping field: %95[^\n]", key) == 1) {
        put_error(c, line, path, "missing required key '%s'", key);
    } else {
        sanitize(val, sizeof val, m, 90);
        put_error(c, line, path, "%s", val);
    }
}

/* ------------------------------------------------------------------------ */
/* Pass 3: conversion, defaults and semantic checks                          */

static int oom(ctx_t *c)
{
    put_error(c, 0, "", "out of memory");
    return DN_ENOMEM;
}

/* Semantic error at a key path; the line is looked up in the text. */
static int sem(ctx_t *c, const char *path, const char *fmt, ...)
{
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    put_error(c, find_line(c, path, 1), path, "%s", what);
    return DN_ECONFIG;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* "dir/rel", or rel itself when absolute. */
static char *join_path(const char *dir, const char *rel)
{
    if (rel[0] == '/')
        return dup_str(rel);
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    size_t dl = strlen(dir), rl = strlen(rel);
    char *p = malloc(dl + rl + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    size_t n = dl;
    if (n == 0 || p[n - 1] != '/')
        p[n++] = '/';
    memcpy(p + n, rel, rl + 1);
    return p;
}

/* A regular, readable file?  Opened for real rather than access(2), which
 * answers for the real uid, not the effective one. */
static int check_readable(ctx_t *c, const char *key, const char *path)
{
    char shown[200];
    sanitize(shown, sizeof shown, path, 160);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return sem(c, key, "cannot read '%s': %s", shown, strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st);
    close(fd);
    if (rc != 0 || !S_ISREG(st.st_mode))
        return sem(c, key, "'%s' is not a regular file", shown);
    return 0;
}

/* Path-valued key: absent -> default (may be NULL), "" -> NULL, relative ->
 * absolute against base.  Checked for readability when check is set. */
static int take_path(ctx_t *c, const char *key, const char *raw, const char *dflt, const char *base, bool check,
                     char **out)
{
    const char *v = raw ? raw : dflt;
    *out = NULL;
    if (!v || !*v)
        return 0;
    if (strlen(v) > PATH_MAX)
        return sem(c, key, "path too long");
    char *p = join_path(base, v);
    if (!p)
        return oom(c);
    *out = p;
    return check ? check_readable(c, key, p) : 0;
}

/* Optional free-text value: absent or "" -> NULL. */
static int take_text(ctx_t *c, const char *raw, char **out)
{
    *out = NULL;
    if (!raw || !*raw)
        return 0;
    if (!(*out = dup_str(raw)))
        return oom(c);
    return 0;
}

int config_normalize_domain(const char *in, char *out, size_t cap)
{
    char tmp[254];
    size_t n = strlen(in);
    if (n && in[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return DN_EINVAL;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == '.') {
            if (label == 0)
                return DN_EINVAL;
            label = 0;
        } else if (isalnum(ch) || ch == '-' || ch == '_') {
            if (++label > 63)
                return DN_EINVAL;
        } else {
            return DN_EINVAL;
        }
        tmp[i] = (char)tolower(ch);
    }
    if (label == 0)
        return DN_EINVAL;
    if (n + 1 > cap)
        return DN_ERANGE;
    memcpy(out, tmp, n);
    out[n] = '\0';
    return DN_OK;
}

static int take_domain(ctx_t *c, const char *key, const char *raw, char **out)
{
    char buf[256], shown[100];
    if (config_normalize_domain(raw, buf, sizeof buf) != DN_OK) {
        sanitize(shown, sizeof shown, raw, 80);
        return sem(c, key,
                   "'%s' is not a valid domain name (labels of letters, digits, '-' or '_', "
                   "1..63 characters each, at most 253 in total)",
                   shown);
    }
    if (!(*out = dup_str(buf)))
        return oom(c);
    return 0;
}

/* Parse the IP literal in s up to `end` (NULL: the whole string) into bin.
 * Returns AF_INET, AF_INET6, or 0 when it is not an address. */
static int parse_ip_prefix(const char *s, const char *end, uint8_t bin[16])
{
    char host[INET6_ADDRSTRLEN + 1];
    size_t hl = end ? (size_t)(end - s) : strlen(s);
    if (hl == 0 || hl >= sizeof host)
        return 0;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (inet_pton(AF_INET, host, bin) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, host, bin) == 1)
        return AF_INET6;
    return 0;
}

/* A decimal number of 1..max_digits digits (no sign, nothing else) into *v. */
static bool parse_small_decimal(const char *d, size_t max_digits, unsigned long *v)
{
    size_t dl = strlen(d);
    if (dl == 0 || dl > max_digits || strspn(d, "0123456789") != dl)
        return false;
    *v = strtoul(d, NULL, 10);
    return true;
}

int config_check_address(const char *s)
{
    uint8_t bin[16];
    const char *at = strrchr(s, '@');
    if (!parse_ip_prefix(s, at, bin))
        return DN_EINVAL;
    unsigned long port;
    if (at && (!parse_small_decimal(at + 1, 5, &port) || port < 1 || port > 65535))
        return DN_EINVAL;
    return DN_OK;
}

int config_parse_cidr(const char *s, config_cidr_t *out)
{
    config_cidr_t c;
    memset(&c, 0, sizeof c);
    const char *slash = strchr(s, '/');
    int family = parse_ip_prefix(s, slash, c.addr);
    if (!family)
        return DN_EINVAL;
    c.family = (uint8_t)family;
    unsigned max_len = family == AF_INET ? 32 : 128;
    unsigned long len = max_len;
    if (slash && (!parse_small_decimal(slash + 1, 3, &len) || len > max_len))
        return DN_EINVAL;
    c.prefix_len = (uint8_t)len;
    for (unsigned bit = len; bit < max_len; bit++)
        if (c.addr[bit / 8] & (0x80u >> (bit % 8)))
            return DN_ERANGE;
    *out = c;
    return DN_OK;
}

bool config_cidr_contains(const config_cidr_t *c, int family, const uint8_t *addr)
{
    if (family != c->family)
        return false;
    unsigned full = c->prefix_len / 8, rest = c->prefix_len % 8;
    if (memcmp(addr, c->addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (addr[full] & mask) == c->addr[full];
}

static int take_cidrs(ctx_t *c, const char *key, char **raw, unsigned n, config_cidr_t **out, unsigned *n_out)
{
    char kp[300], shown[100];
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    config_cidr_t *v = calloc(n, sizeof *v);
    if (!v)
        return oom(c);
    *out = v; /* owned by the config from here, so config_free releases it */
    for (unsigned i = 0; i < n; i++) {
        int rc = config_parse_cidr(raw[i], &v[i]);
        if (rc != DN_OK) {
            snprintf(kp, sizeof kp, "%s[%u]", key, i);
            sanitize(shown, sizeof shown, raw[i], 80);
            if (rc == DN_ERANGE)
                return sem(c, kp, "'%s' has host bits set beyond its prefix length (write the network address)",
                           shown);
            return sem(c, kp, "'%s' is not an address block (e.g. 10.0.0.0/8, 2001:db8::/32, 192.0.2.7)", shown);
        }
        *n_out = i + 1;
    }
    return 0;
}

static int take_addresses(ctx_t *c, const char *key, char **raw, unsigned n, char ***out, unsigned *n_out)
{
    char kp[300], shown[100];
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    char **v = calloc(n, sizeof *v);
    if (!v)
        return oom(c);
    *out = v; /* owned by the config from here, so config_free releases it */
    for (unsigned i = 0; i < n; i++) {
        if (config_check_address(raw[i]) != DN_OK) {
            snprintf(kp, sizeof kp, "%s[%u]", key, i);
            sanitize(shown, sizeof shown, raw[i], 80);
            return sem(c, kp, "'%s' is not an IP address, optionally followed by @port (e.g. 127.0.0.1@5353, ::1)",
                       shown);
        }
        if (!(v[i] = dup_str(raw[i])))
            return oom(c);
        *n_out = i + 1;
    }
    return 0;
}

/* Value of an optional raw scalar, or its default when the key was absent. */
#define VAL(raw, field, dflt) ((raw) && (raw)->field ? *(raw)->field : (dflt))

static int check_positive(ctx_t *c, const char *path, uint64_t v)
{
    return v == 0 ? sem(c, path, "must be greater than 0") : 0;
}

static int convert_listener(ctx_t *c, const raw_listener_t *r, unsigned i, const char *base, bool check_files,
                            config_listener_t *l)
{
    char kp[96];
    int rc;
#define LKEY(k) (snprintf(kp, sizeof kp, "listeners[%u]%s%s", i, *(k) ? "." : "", (k)), kp)
    if (!r->name || !*r->name)
        return sem(c, LKEY("name"), "missing: every listener needs a name");
    if (strlen(r->name) > 63 || strspn(r->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
                                    strlen(r->name)) {
        char shown[100];
        sanitize(shown, sizeof shown, r->name, 80);
        return sem(c, LKEY("name"), "'%s' is not a valid name (1..63 of letters, digits, '-', '_', '.')", shown);
    }
    if (!(l->name = dup_str(r->name)))
        return oom(c);
    if (!r->address || !*r->address)
        return sem(c, LKEY("address"), "missing: every listener needs an address");
    unsigned char bin[16];
    if (inet_pton(AF_INET, r->address, bin) != 1 && inet_pton(AF_INET6, r->address, bin) != 1) {
        char shown[100];
        sanitize(shown, sizeof shown, r->address, 80);
        return sem(c, LKEY("address"), "'%s' is not an IPv4 or IPv6 address literal", shown);
    }
    if (!(l->address = dup_str(r->address)))
        return oom(c);
    uint64_t port = r->port ? *r->port : 853;
    if (port < 1 || port > 65535)
        return sem(c, LKEY("port"), "%llu is out of range (1..65535)", (unsigned long long)port);
    l->port = (uint16_t)port;
    if (!r->certificate || !*r->certificate)
        return sem(c, LKEY("certificate"), "missing: every listener needs a certificate (PEM chain)");
    if ((rc = take_path(c, LKEY("certificate"), r->certificate, NULL, base, check_files, &l->certificate)) != 0)
        return rc;
    if (!r->key || !*r->key)
        return sem(c, LKEY("key"), "missing: every listener needs a private key (PEM)");
    if ((rc = take_path(c, LKEY("key"), r->key, NULL, base, check_files, &l->key)) != 0)
        return rc;
    l->client_auth = r->client_auth ? *r->client_auth : CONFIG_AUTH_NONE;
    l->tls_min_version = r->tls_min_version ? *r->tls_min_version : 13;
    /* Tickets are forced off (silently) where clients authenticate: after a
     * ticket resumption Debian's wolfSSL 5.5.4 has the client certificate only
     * while its internal session cache still holds it (never for Ed25519), so
     * a resumed session could lose its DANE identity. */
    l->tickets = r->tickets ? *r->tickets : true;
    if (l->client_auth != CONFIG_AUTH_NONE)
        l->tickets = false;
#undef LKEY
    return 0;
}

static int convert(ctx_t *c, const raw_t *r, const char *base, bool check_files, config_t *cfg)
{
    int rc;
    char kp[128];

    /* server */
    const raw_server_t *rs = r->server;
    cfg->server.workers = VAL(rs, workers, 0);
    if (cfg->server.workers > CONFIG_MAX_WORKERS)
        return sem(c, "server.workers", "%u is too many (at most %d; 0 = one per CPU core)", cfg->server.workers,
                   CONFIG_MAX_WORKERS);
    cfg->server.log_level = rs && rs->log_level ? *rs->log_level : CONFIG_LOG_INFO;
    if ((rc = take_path(c, "server.counters-file", rs ? rs->counters_file : NULL, NULL, base, false,
                        &cfg->server.counters_file)) != 0)
        return rc;

    /* listeners */
    if (r->n_listeners == 0) {
        /* Absent altogether: point at the top-level mapping. */
        size_t line = find_line(c, "listeners", 1);
        put_error(c, line ? line : c->root_line, "listeners", "at least one listener is required");
        return DN_ECONFIG;
    }
    if (!(cfg->listeners = calloc(r->n_listeners, sizeof *cfg->listeners)))
        return oom(c);
    for (unsigned i = 0; i < r->n_listeners; i++) {
        cfg->n_listeners = i + 1;
        if ((rc = convert_listener(c, &r->listeners[i], i, base, check_files, &cfg->listeners[i])) != 0)
            return rc;
        for (unsigned j = 0; j < i; j++) {
            const config_listener_t *a = &cfg->listeners[j], *b = &cfg->listeners[i];
            if (strcmp(a->name, b->name) == 0) {
                snprintf(kp, sizeof kp, "listeners[%u].name", i);
                return sem(c, kp, "duplicate listener name '%s' (also listeners[%u])", b->name, j);
            }
            unsigned char ba[16] = {0}, bb[16] = {0};
            int fa = strchr(a->address, ':') ? AF_INET6 : AF_INET, fb = strchr(b->address, ':') ? AF_INET6 : AF_INET;
            if (fa == fb && a->port == b->port && inet_pton(fa, a->address, ba) == 1 &&
                inet_pton(fb, b->address, bb) == 1 && memcmp(ba, bb, sizeof ba) == 0) {
                snprintf(kp, sizeof kp, "listeners[%u].address", i);
                return sem(c, kp, "same address and port as listener '%s'", a->name);
            }
        }
    }

    /* limits: every one of them bounds something, so 0 is never meaningful */
    const raw_limits_t *rl = r->limits;
    config_limits_t *L = &cfg->limits;
    static const struct {
        const char *key;
        size_t off;
        size_t raw_off;
        uint32_t dflt;
    } lim[] = {
#define LIM(k, f, d) {"limits." k, offsetof(config_limits_t, f), offsetof(raw_limits_t, f), d}
        LIM("max-connections", max_connections, 10000),
        LIM("max-connections-per-ip", max_connections_per_ip, 64),
        LIM("max-connections-per-prefix", max_connections_per_prefix, 256),
        LIM("max-handshakes", max_handshakes, 512),
        LIM("handshake-timeout-ms", handshake_timeout_ms, 5000),
        LIM("first-query-timeout-ms", first_query_timeout_ms, 5000),
        LIM("idle-timeout-ms", idle_timeout_ms, 30000),
        LIM("max-queries-in-flight", max_queries_in_flight, 128),
        LIM("max-output-bytes", max_output_bytes, 262144),
        LIM("suspect-handshake-rate", suspect_handshake_rate, 10),
#undef LIM
    };
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
        const uint32_t *rp = NULL;
        if (rl)
            memcpy(&rp, (const char *)rl + lim[i].raw_off, sizeof rp);
        uint32_t v = rp ? *rp : lim[i].dflt;
        if ((rc = check_positive(c, lim[i].key, v)) != 0)
            return rc;
        memcpy((char *)L + lim[i].off, &v, sizeof v);
    }
    /* The one limit where 0 means something: off. */
    L->suspect_failures = rl && rl->suspect_failures ? *rl->suspect_failures : 64;
    if (rl && (rc = take_cidrs(c, "limits.suspect-exempt", rl->suspect_exempt, rl->n_suspect_exempt,
                               &L->suspect_exempt, &L->n_suspect_exempt)) != 0)
        return rc;

    /* resolver */
    const raw_resolver_t *rr = r->resolver;
    config_resolver_t *R = &cfg->resolver;
    R->mode = rr && rr->mode ? *rr->mode : CONFIG_MODE_RECURSIVE;
    R->dnssec = rr && rr->dnssec ? *rr->dnssec : true;
    if (rr && (rc = take_addresses(c, "resolver.forward-addresses", rr->forward_addresses, rr->n_forward_addresses,
                                   &R->forward_addresses, &R->n_forward_addresses)) != 0)
        return rc;
    if (R->mode == CONFIG_MODE_FORWARD && R->n_forward_addresses == 0)
        return sem(c, rr && rr->mode ? "resolver.mode" : "resolver", "mode forward needs forward-addresses");
    if ((rc = take_path(c, "resolver.root-hints", rr ? rr->root_hints : NULL, "/usr/share/dns/root.hints", base,
                        check_files && R->mode == CONFIG_MODE_RECURSIVE, &R->root_hints)) != 0)
        return rc;
    if ((rc = take_path(c, "resolver.trust-anchor-file", rr ? rr->trust_anchor_file : NULL, "/usr/share/dns/root.key",
                        base, check_files && R->dnssec, &R->trust_anchor_file)) != 0)
        return rc;
    R->outgoing_range = VAL(rr, outgoing_range, 4096);
    R->num_queries_per_thread = VAL(rr, num_queries_per_thread, 4096);
    R->msg_cache_size = VAL(rr, msg_cache_size, 16777216);
    R->rrset_cache_size = VAL(rr, rrset_cache_size, 33554432);
    R->key_cache_size = VAL(rr, key_cache_size, 4194304);
    R->infra_host_ttl = VAL(rr, infra_host_ttl, 60); /* 0 allowed: do not remember unresponsive servers */
    R->query_timeout_ms = VAL(rr, query_timeout_ms, 10000);
    R->max_lookups_in_flight = VAL(rr, max_lookups_in_flight, 2048);
    if ((rc = check_positive(c, "resolver.outgoing-range", R->outgoing_range)) != 0 ||
        (rc = check_positive(c, "resolver.num-queries-per-thread", R->num_queries_per_thread)) != 0 ||
        (rc = check_positive(c, "resolver.msg-cache-size", R->msg_cache_size)) != 0 ||
        (rc = check_positive(c, "resolver.rrset-cache-size", R->rrset_cache_size)) != 0 ||
        (rc = check_positive(c, "resolver.key-cache-size", R->key_cache_size)) != 0 ||
        (rc = check_positive(c, "resolver.query-timeout-ms", R->query_timeout_ms)) != 0 ||
        (rc = check_positive(c, "resolver.max-lookups-in-flight", R->max_lookups_in_flight)) != 0)
        return rc;
    /* Beyond num-queries-per-thread libunbound drops new requests: danced's
     * own cap must stop it first. */
    if (R->max_lookups_in_flight > R->num_queries_per_thread)
        return sem(c, "resolver.max-lookups-in-flight", "%u exceeds resolver.num-queries-per-thread (%u)",
                   R->max_lookups_in_flight, R->num_queries_per_thread);
    if (rr && rr->n_stub_zones) {
        if (!(R->stub_zones = calloc(rr->n_stub_zones, sizeof *R->stub_zones)))
            return oom(c);
        for (unsigned i = 0; i < rr->n_stub_zones; i++) {
            const raw_stub_t *rz = &rr->stub_zones[i];
            config_stub_zone_t *z = &R->stub_zones[i];
            R->n_stub_zones = i + 1;
            snprintf(kp, sizeof kp, "resolver.stub-zones[%u].zone", i);
            if (!rz->zone)
                return sem(c, kp, "missing: every stub zone needs a zone name");
            if ((rc = take_domain(c, kp, rz->zone, &z->zone)) != 0)
                return rc;
            for (unsigned j = 0; j < i; j++)
                if (strcmp(R->stub_zones[j].zone, z->zone) == 0)
                    return sem(c, kp, "duplicate stub zone '%s' (also stub-zones[%u])", z->zone, j);
            snprintf(kp, sizeof kp, "resolver.stub-zones[%u].addresses", i);
            if (rz->n_addresses == 0)
                return sem(c, kp, "missing: a stub zone needs at least one address");
            if ((rc = take_addresses(c, kp, rz->addresses, rz->n_addresses, &z->addresses, &z->n_addresses)) != 0)
                return rc;
            if ((rc = take_text(c, rz->trust_anchor, &z->trust_anchor)) != 0)
                return rc;
            snprintf(kp, sizeof kp, "resolver.stub-zones[%u].trust-anchor-file", i);
            if ((rc = take_path(c, kp, rz->trust_anchor_file, NULL, base, check_files, &z->trust_anchor_file)) != 0)
                return rc;
        }
    }
    if (rr && rr->n_unbound_options) {
        if (!(R->unbound_options = calloc(rr->n_unbound_options, sizeof *R->unbound_options)))
            return oom(c);
        for (unsigned i = 0; i < rr->n_unbound_options; i++) {
            const char *o = rr->unbound_options[i];
            size_t nl = strspn(o, "abcdefghijklmnopqrstuvwxyz0123456789-");
            if (nl == 0 || o[nl] != ':') {
                char shown[100];
                snprintf(kp, sizeof kp, "resolver.unbound-options[%u]", i);
                sanitize(shown, sizeof shown, o, 80);
                return sem(c, kp, "'%s' is not of the form \"name: value\"", shown);
            }
            if (!(R->unbound_options[i] = dup_str(o)))
                return oom(c);
            R->n_unbound_options = i + 1;
        }
    }

    /* cache */
    const raw_cache_t *rcache = r->cache;
    cfg->cache.max_bytes = rcache && rcache->max_bytes ? *rcache->max_bytes : 67108864;
    cfg->cache.max_ttl = VAL(rcache, max_ttl, 86400);
    cfg->cache.min_ttl = VAL(rcache, min_ttl, 0);
    cfg->cache.negative_max_ttl = VAL(rcache, negative_max_ttl, 3600); /* 0: negative answers not cached */
    if ((rc = check_positive(c, "cache.max-bytes", cfg->cache.max_bytes)) != 0 ||
        (rc = check_positive(c, "cache.max-ttl", cfg->cache.max_ttl)) != 0)
        return rc;
    if (cfg->cache.min_ttl > cfg->cache.max_ttl)
        return sem(c, "cache.min-ttl", "%u is greater than cache.max-ttl (%u)", cfg->cache.min_ttl,
                   cfg->cache.max_ttl);

    /* dane */
    const raw_dane_t *rd = r->dane;
    config_dane_t *D = &cfg->dane;
    if (rd && rd->n_allow) {
        if (!(D->allow = calloc(rd->n_allow, sizeof *D->allow)))
            return oom(c);
        for (unsigned i = 0; i < rd->n_allow; i++) {
            snprintf(kp, sizeof kp, "dane.allow[%u]", i);
            if ((rc = take_domain(c, kp, rd->allow[i], &D->allow[i])) != 0)
                return rc;
            D->n_allow = i + 1;
        }
    }
    if (rd && rd->identity_suffix && *rd->identity_suffix &&
        (rc = take_domain(c, "dane.identity-suffix", rd->identity_suffix, &D->identity_suffix)) != 0)
        return rc;
    if ((rc = take_path(c, "dane.pkix-ca-file", rd ? rd->pkix_ca_file : NULL, NULL, base, check_files,
                        &D->pkix_ca_file)) != 0)
        return rc;
    D->lookup_timeout_ms = VAL(rd, lookup_timeout_ms, 3000);
    D->max_lookups_in_flight = VAL(rd, max_lookups_in_flight, 256);
    D->max_lookups_per_domain = VAL(rd, max_lookups_per_domain, 16);
    D->queue_length = VAL(rd, queue_length, 1024);
    D->cache_max_ttl = VAL(rd, cache_max_ttl, 3600);
    D->negative_ttl = VAL(rd, negative_ttl, 30);
    D->cache_entries = VAL(rd, cache_entries, 65536);
    if ((rc = check_positive(c, "dane.lookup-timeout-ms", D->lookup_timeout_ms)) != 0 ||
        (rc = check_positive(c, "dane.max-lookups-in-flight", D->max_lookups_in_flight)) != 0 ||
        (rc = check_positive(c, "dane.max-lookups-per-domain", D->max_lookups_per_domain)) != 0 ||
        (rc = check_positive(c, "dane.queue-length", D->queue_length)) != 0 ||
        (rc = check_positive(c, "dane.cache-max-ttl", D->cache_max_ttl)) != 0 ||
        (rc = check_positive(c, "dane.negative-ttl", D->negative_ttl)) != 0 ||
        (rc = check_positive(c, "dane.cache-entries", D->cache_entries)) != 0)
        return rc;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                */

static void free_strv(char **v, unsigned n)
{
    if (!v)
        return;
    for (unsigned i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- reload: what differs outside the reloadable keys ---- */

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(char *const *a, unsigned na, char *const *b, unsigned nb)
{
    if (na != nb)
        return false;
    for (unsigned i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return false;
    return true;
}

static bool resolver_eq(const config_resolver_t *a, const config_resolver_t *b)
{
    if (a->mode != b->mode || a->dnssec != b->dnssec || a->outgoing_range != b->outgoing_range ||
        a->num_queries_per_thread != b->num_queries_per_thread || a->msg_cache_size != b->msg_cache_size ||
        a->rrset_cache_size != b->rrset_cache_size || a->key_cache_size != b->key_cache_size ||
        a->infra_host_ttl != b->infra_host_ttl || a->query_timeout_ms != b->query_timeout_ms ||
        a->max_lookups_in_flight != b->max_lookups_in_flight || !str_eq(a->root_hints, b->root_hints) ||
        !str_eq(a->trust_anchor_file, b->trust_anchor_file) ||
        !strv_eq(a->forward_addresses, a->n_forward_addresses, b->forward_addresses, b->n_forward_addresses) ||
        !strv_eq(a->unbound_options, a->n_unbound_options, b->unbound_options, b->n_unbound_options) ||
        a->n_stub_zones != b->n_stub_zones)
        return false;
    for (unsigned i = 0; i < a->n_stub_zones; i++) {
        const config_stub_zone_t *x = &a->stub_zones[i], *y = &b->stub_zones[i];
        if (!str_eq(x->zone, y->zone) || !str_eq(x->trust_anchor, y->trust_anchor) ||
            !str_eq(x->trust_anchor_file, y->trust_anchor_file) ||
            !strv_eq(x->addresses, x->n_addresses, y->addresses, y->n_addresses))
            return false;
    }
    return true;
}

static bool dane_eq(const config_dane_t *a, const config_dane_t *b)
{
    return strv_eq(a->allow, a->n_allow, b->allow, b->n_allow) && str_eq(a->identity_suffix, b->identity_suffix) &&
           str_eq(a->pkix_ca_file, b->pkix_ca_file) && a->lookup_timeout_ms == b->lookup_timeout_ms &&
           a->max_lookups_in_flight == b->max_lookups_in_flight &&
           a->max_lookups_per_domain == b->max_lookups_per_domain && a->queue_length == b->queue_length &&
           a->cache_max_ttl == b->cache_max_ttl && a->negative_ttl == b->negative_ttl &&
           a->cache_entries == b->cache_entries;
}

typedef struct {
    char *out;
    size_t cap, len;
    unsigned n;
    bool truncated;
} change_list_t;

static void change_add(change_list_t *cl, const char *key)
{
    cl->n++;
    if (!cl->out || cl->cap == 0 || cl->truncated)
        return;
    const char *sep = cl->n > 1 ? ", " : "";
    size_t need = strlen(sep) + strlen(key);
    if (cl->len + need + 4 >= cl->cap) { /* no room: end with "..." (4 bytes with the NUL, always kept free) */
        cl->truncated = true;
        if (cl->len + 4 <= cl->cap)
            memcpy(cl->out + cl->len, "...", 4);
        return;
    }
    cl->len += (size_t)snprintf(cl->out + cl->len, cl->cap - cl->len, "%s%s", sep, key);
}

unsigned config_restart_changes(const config_t *running, const config_t *next, char *out, size_t cap)
{
    change_list_t cl = {.out = out, .cap = cap};
    if (out && cap)
        out[0] = '\0';
    char key[96];
    if (running->server.workers != next->server.workers)
        change_add(&cl, "server.workers");
    if (!str_eq(running->server.counters_file, next->server.counters_file))
        change_add(&cl, "server.counters-file");
    if (running->n_listeners != next->n_listeners) {
        change_add(&cl, "listeners (added or removed)");
    } else {
        for (unsigned i = 0; i < running->n_listeners; i++) {
            const config_listener_t *a = &running->listeners[i], *b = &next->listeners[i];
            static const char *const what[] = {"name", "address", "port", "client-auth", "tls-min-version",
                                               "tickets"};
            bool differs[] = {!str_eq(a->name, b->name), !str_eq(a->address, b->address), a->port != b->port,
                              a->client_auth != b->client_auth, a->tls_min_version != b->tls_min_version,
                              a->tickets != b->tickets};
            for (size_t k = 0; k < sizeof differs / sizeof differs[0]; k++) {
                if (differs[k]) {
                    snprintf(key, sizeof key, "listeners[%u].%s", i, what[k]);
                    change_add(&cl, key);
                }
            }
        }
    }
    if (!resolver_eq(&running->resolver, &next->resolver))
        change_add(&cl, "resolver");
    const config_cache_t *ca = &running->cache, *cb = &next->cache;
    if (ca->max_bytes != cb->max_bytes || ca->max_ttl != cb->max_ttl || ca->min_ttl != cb->min_ttl ||
        ca->negative_max_ttl != cb->negative_max_ttl)
        change_add(&cl, "cache");
    if (!dane_eq(&running->dane, &next->dane))
        change_add(&cl, "dane");
    return cl.n;
}

void config_free(config_t *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->server.counters_file);
    for (unsigned i = 0; cfg->listeners && i < cfg->n_listeners; i++) {
        config_listener_t *l = &cfg->listeners[i];
        free(l->name);
        free(l->address);
        free(l->certificate);
        free(l->key);
    }
    free(cfg->listeners);
    free(cfg->limits.suspect_exempt);
    config_resolver_t *R = &cfg->resolver;
    free_strv(R->forward_addresses, R->n_forward_addresses);
    free(R->root_hints);
    free(R->trust_anchor_file);
    for (unsigned i = 0; R->stub_zones && i < R->n_stub_zones; i++) {
        config_stub_zone_t *z = &R->stub_zones[i];
        free(z->zone);
        free_strv(z->addresses, z->n_addresses);
        free(z->trust_anchor);
        free(z->trust_anchor_file);
    }
    free(R->stub_zones);
    free_strv(R->unbound_options, R->n_unbound_options);
    free_strv(cfg->dane.allow, cfg->dane.n_allow);
    free(cfg->dane.identity_suffix);
    free(cfg->dane.pkix_ca_file);
    free(cfg);
}

/* The core of both loaders.  base_dir must be absolute; path_for_cfg is what
 * lands in cfg->path. */
static int load(ctx_t *c, const char *base_dir, const char *path_for_cfg, bool check_files, config_t **out)
{
    if (c->len > CONFIG_MAX_FILE_BYTES) {
        put_error(c, 0, "", "file too large (%zu bytes; at most %d)", c->len, CONFIG_MAX_FILE_BYTES);
        return DN_ECONFIG;
    }
    scan_t s = {0};
    if (!scan_yaml(c->buf, c->len, &s)) {
        put_error(c, s.err_line, s.err_path, "%s", s.err_msg);
        return DN_ECONFIG;
    }
    c->root_line = s.root_line;
    if (s.empty) {
        put_error(c, 1, "listeners", "the file is empty; at least one listener is required");
        return DN_ECONFIG;
    }

    cy_log_t log = {0};
    const cyaml_config_t cy = {
        .log_fn = cy_log_fn,
        .log_ctx = &log,
        .mem_fn = cyaml_mem,
        .log_level = CYAML_LOG_WARNING,
        .flags = CYAML_CFG_NO_ALIAS,
    };
    raw_t *raw = NULL;
    cyaml_err_t cerr = cyaml_load_data((const uint8_t *)c->buf, c->len, &cy, &top_schema, (cyaml_data_t **)&raw, NULL);
    if (cerr != CYAML_OK) {
        cyaml_message(c, &log, cerr);
        return cerr == CYAML_ERR_OOM ? DN_ENOMEM : DN_ECONFIG;
    }
    if (!raw) { /* a mapping with nothing libcyaml kept: cannot happen after the scan, but be safe */
        put_error(c, 1, "listeners", "at least one listener is required");
        return DN_ECONFIG;
    }

    int rc;
    config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        rc = oom(c);
    else if (!(cfg->path = dup_str(path_for_cfg)))
        rc = oom(c);
    else
        rc = convert(c, raw, base_dir, check_files, cfg);
    cyaml_free(&cy, &top_schema, raw, 0);
    if (rc != 0) {
        config_free(cfg);
        return rc;
    }
    *out = cfg;
    return DN_OK;
}

/* Absolute form of dir (which may be relative to the working directory). */
static char *absolute_dir(const char *dir)
{
    if (dir && dir[0] == '/')
        return dup_str(dir);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return NULL;
    return dir && *dir && strcmp(dir, ".") != 0 ? join_path(cwd, dir) : dup_str(cwd);
}

int config_load_buffer(const char *name, const char *yaml, size_t len, const char *base_dir, bool check_files,
                       config_t **out, char *err, size_t err_cap)
{
    ctx_t c = {.name = name ? name : "<config>", .buf = yaml ? yaml : "", .len = yaml ? len : 0, .err = err,
               .err_cap = err_cap};
    if (err && err_cap)
        err[0] = '\0';
    if (!out)
        return DN_EINVAL;
    char *base = absolute_dir(base_dir);
    if (!base) {
        put_error(&c, 0, "", "cannot determine the base directory: %s", strerror(errno));
        return DN_EIO;
    }
    int rc = load(&c, base, c.name, check_files, out);
    free(base);
    return rc;
}

int config_load(const char *path, config_t **out, char *err, size_t err_cap)
{
    ctx_t c = {.name = path ? path : "<config>", .err = err, .err_cap = err_cap};
    if (err && err_cap)
        err[0] = '\0';
    if (!path || !out)
        return DN_EINVAL;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = fd < 0 ? errno : EINVAL;
        if (fd >= 0)
            close(fd);
        put_error(&c, 0, "", "cannot read: %s", fd >= 0 ? "not a regular file" : strerror(e));
        return DN_EIO;
    }
    /* Read at most one byte past the limit: enough to know it is too big. */
    size_t cap = st.st_size > CONFIG_MAX_FILE_BYTES ? CONFIG_MAX_FILE_BYTES + 1 : (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    size_t n = 0;
    ssize_t r = 0;
    while (buf && n < cap && (r = read(fd, buf + n, cap - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        n += (size_t)r;
    }
    int rerr = errno;
    close(fd);
    if (!buf)
        return oom(&c);
    if (r < 0) {
        free(buf);
        put_error(&c, 0, "", "cannot read: %s", strerror(rerr));
        return DN_EIO;
    }
    c.buf = buf;
    c.len = n;

    /* Relative paths inside the file are relative to its directory. */
    const char *slash = strrchr(path, '/');
    char *dir = NULL, *abs_dir = NULL, *abs_path = NULL;
    if (slash == path)
        dir = dup_str("/");
    else if (slash)
        dir = strndup(path, (size_t)(slash - path));
    int rc;
    abs_dir = absolute_dir(dir ? dir : ".");
    abs_path = abs_dir ? join_path(abs_dir, slash ? slash + 1 : path) : NULL;
    if (!abs_dir || !abs_path) {
        put_error(&c, 0, "", "cannot determine the file's directory: %s", strerror(errno));
        rc = DN_EIO;
    } else {
        rc = load(&c, abs_dir, abs_path, true, out);
    }
    free(dir);
    free(abs_dir);
    free(abs_path);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Small helpers for the daemon and tools                                    */

const char *config_log_level_name(config_log_level_t v)
{
    return v <= CONFIG_LOG_DEBUG ? log_level_strings[v].str : "?";
}

const char *config_client_auth_name(config_client_auth_t v)
{
    return v <= CONFIG_AUTH_REQUIRE ? client_auth_strings[v].str : "?";
}

const char *config_mode_name(config_resolver_mode_t v)
{
    return v <= CONFIG_MODE_FORWARD ? mode_strings[v].str : "?";
}

int config_listener_endpoint(const config_listener_t *l, char *buf, size_t cap)
{
    bool v6 = strchr(l->address, ':') != NULL;
    int n = snprintf(buf, cap, "%s%s%s:%u", v6 ? "[" : "", l->address, v6 ? "]" : "", (unsigned)l->port);
    return n < 0 || (size_t)n >= cap ? DN_ERANGE : DN_OK;
}
