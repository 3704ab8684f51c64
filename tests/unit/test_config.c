/* tests/unit/test_config.c — config_load / config_load_buffer / config_free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/err.h"
#include <arpa/inet.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LISTENER                                                                                             \
    "listeners:\n"                                                                                           \
    "  - name: dot\n"                                                                                        \
    "    address: 127.0.0.1\n"                                                                               \
    "    certificate: server.crt\n"                                                                          \
    "    key: server.key\n"

static int load(const char *yaml, config_t **out, char *err, size_t cap)
{
    return config_load_buffer("danced.yaml", yaml, strlen(yaml), "/etc/danced", false, out, err, cap);
}

static void test_defaults(void **state)
{
    (void)state;
    config_t *c = NULL;
    char err[512] = "x";
    assert_int_equal(load(LISTENER, &c, err, sizeof err), DN_OK);
    assert_non_null(c);
    assert_string_equal(err, "");
    assert_string_equal(c->path, "danced.yaml");

    assert_int_equal(c->server.workers, 0);
    assert_int_equal(c->server.log_level, CONFIG_LOG_INFO);
    assert_null(c->server.counters_file);

    assert_int_equal(c->n_listeners, 1);
    const config_listener_t *l = &c->listeners[0];
    assert_string_equal(l->name, "dot");
    assert_string_equal(l->address, "127.0.0.1");
    assert_int_equal(l->port, 853);
    assert_string_equal(l->certificate, "/etc/danced/server.crt");
    assert_string_equal(l->key, "/etc/danced/server.key");
    assert_int_equal(l->client_auth, CONFIG_AUTH_NONE);
    assert_int_equal(l->tls_min_version, 13);
    assert_true(l->tickets);

    assert_int_equal(c->limits.max_connections, 10000);
    assert_int_equal(c->limits.max_connections_per_ip, 64);
    assert_int_equal(c->limits.max_connections_per_prefix, 256);
    assert_int_equal(c->limits.max_handshakes, 512);
    assert_int_equal(c->limits.handshake_timeout_ms, 5000);
    assert_int_equal(c->limits.first_query_timeout_ms, 5000);
    assert_int_equal(c->limits.idle_timeout_ms, 30000);
    assert_int_equal(c->limits.suspect_failures, 64);
    assert_int_equal(c->limits.suspect_handshake_rate, 10);
    assert_int_equal(c->limits.n_suspect_exempt, 0);
    assert_int_equal(c->limits.max_queries_in_flight, 128);
    assert_int_equal(c->limits.max_output_bytes, 262144);

    const config_resolver_t *r = &c->resolver;
    assert_int_equal(r->mode, CONFIG_MODE_RECURSIVE);
    assert_int_equal(r->n_forward_addresses, 0);
    assert_null(r->forward_addresses);
    assert_string_equal(r->root_hints, "/usr/share/dns/root.hints");
    assert_string_equal(r->trust_anchor_file, "/usr/share/dns/root.key");
    assert_true(r->dnssec);
    assert_int_equal(r->n_stub_zones, 0);
    assert_int_equal(r->outgoing_range, 4096);
    assert_int_equal(r->num_queries_per_thread, 4096);
    assert_int_equal(r->msg_cache_size, 16777216);
    assert_int_equal(r->rrset_cache_size, 33554432);
    assert_int_equal(r->key_cache_size, 4194304);
    assert_int_equal(r->infra_host_ttl, 60);
    assert_int_equal(r->query_timeout_ms, 10000);
    assert_int_equal(r->max_lookups_in_flight, 2048);
    assert_int_equal(r->n_unbound_options, 0);

    assert_int_equal(c->cache.max_bytes, 67108864);
    assert_int_equal(c->cache.max_ttl, 86400);
    assert_int_equal(c->cache.min_ttl, 0);
    assert_int_equal(c->cache.negative_max_ttl, 3600);

    const config_dane_t *d = &c->dane;
    assert_int_equal(d->n_allow, 0);
    assert_null(d->identity_suffix);
    assert_null(d->pkix_ca_file);
    assert_int_equal(d->lookup_timeout_ms, 3000);
    assert_int_equal(d->max_lookups_in_flight, 256);
    assert_int_equal(d->max_lookups_per_domain, 16);
    assert_int_equal(d->queue_length, 1024);
    assert_int_equal(d->cache_max_ttl, 3600);
    assert_int_equal(d->negative_ttl, 30);
    assert_int_equal(d->cache_entries, 65536);
    config_free(c);
}

static const char full_yaml[] =
    "server:\n"
    "  workers: 4\n"
    "  log-level: debug\n"
    "  counters-file: run/counters.txt\n"
    "listeners:\n"
    "  - name: dot\n"
    "    address: 127.0.0.1\n"
    "    port: 8853\n"
    "    certificate: ./demo/server.crt\n"
    "    key: /abs/server.key\n"
    "    client-auth: require\n"
    "    tls-min-version: \"1.2\"\n"
    "    tickets: true\n"
    "  - name: dot6\n"
    "    address: \"::1\"\n"
    "    certificate: c\n"
    "    key: k\n"
    "    client-auth: optional\n"
    "    tickets: off\n"
    "  - name: plain\n"
    "    address: 0.0.0.0\n"
    "    certificate: c\n"
    "    key: k\n"
    "    tls-min-version: 1.3\n"
    "    tickets: No\n"
    "limits:\n"
    "  max-connections: 1\n"
    "  max-connections-per-ip: 2\n"
    "  max-connections-per-prefix: 3\n"
    "  max-handshakes: 4\n"
    "  handshake-timeout-ms: 5\n"
    "  first-query-timeout-ms: 6\n"
    "  idle-timeout-ms: 7\n"
    "  max-queries-in-flight: 8\n"
    "  max-output-bytes: 4294967295\n"
    "  suspect-failures: 0\n"
    "  suspect-handshake-rate: 9\n"
    "  suspect-exempt: [10.0.0.0/8, \"2001:db8::/32\", 192.0.2.7]\n"
    "resolver:\n"
    "  mode: forward\n"
    "  forward-addresses: [\"127.0.0.1@5353\", \"::1\", \"2001:db8::1@53\"]\n"
    "  root-hints: \"\"\n"
    "  trust-anchor-file: keys/root.key\n"
    "  dnssec: false\n"
    "  stub-zones:\n"
    "    - zone: Corp.Example.\n"
    "      addresses: [\"127.0.0.1@5353\"]\n"
    "      trust-anchor: \"corp.example. IN DS 1234 13 2 ABCD\"\n"
    "    - zone: _lab.example\n"
    "      addresses: [\"::1@5300\", 10.0.0.1]\n"
    "      trust-anchor-file: lab.key\n"
    "  outgoing-range: 11\n"
    "  num-queries-per-thread: 12\n"
    "  msg-cache-size: 5000000000\n"
    "  rrset-cache-size: 14\n"
    "  key-cache-size: 15\n"
    "  infra-host-ttl: 0\n"
    "  query-timeout-ms: 17\n"
    "  max-lookups-in-flight: 12\n"
    "  unbound-options: [\"verbosity: 1\", \"outgoing-num-tcp: 10\"]\n"
    "cache:\n"
    "  max-bytes: 1000\n"
    "  max-ttl: 100\n"
    "  min-ttl: 100\n"
    "  negative-max-ttl: 0\n"
    "dane:\n"
    "  allow: [Clients.Example, \"x.org.\"]\n"
    "  identity-suffix: Clients.Example.\n"
    "  pkix-ca-file: ca.pem\n"
    "  lookup-timeout-ms: 21\n"
    "  max-lookups-in-flight: 22\n"
    "  max-lookups-per-domain: 23\n"
    "  queue-length: 24\n"
    "  cache-max-ttl: 25\n"
    "  negative-ttl: 26\n"
    "  cache-entries: 27\n";

static void test_full(void **state)
{
    (void)state;
    config_t *c = NULL;
    char err[512];
    int rc = load(full_yaml, &c, err, sizeof err);
    if (rc != DN_OK)
        fail_msg("%s", err);
    assert_int_equal(c->server.workers, 4);
    assert_int_equal(c->server.log_level, CONFIG_LOG_DEBUG);
    assert_string_equal(c->server.counters_file, "/etc/danced/run/counters.txt");

    assert_int_equal(c->n_listeners, 3);
    assert_int_equal(c->listeners[0].port, 8853);
    assert_string_equal(c->listeners[0].certificate, "/etc/danced/demo/server.crt");
    assert_string_equal(c->listeners[0].key, "/abs/server.key");
    assert_int_equal(c->listeners[0].client_auth, CONFIG_AUTH_REQUIRE);
    assert_int_equal(c->listeners[0].tls_min_version, 12);
    assert_false(c->listeners[0].tickets); /* forced off: client-auth != none */
    assert_string_equal(c->listeners[1].address, "::1");
    assert_int_equal(c->listeners[1].client_auth, CONFIG_AUTH_OPTIONAL);
    assert_int_equal(c->listeners[1].tls_min_version, 13);
    assert_false(c->listeners[1].tickets);
    assert_int_equal(c->listeners[2].client_auth, CONFIG_AUTH_NONE);
    assert_false(c->listeners[2].tickets); /* explicit "No" */

    assert_int_equal(c->limits.max_connections, 1);
    assert_int_equal(c->limits.max_connections_per_ip, 2);
    assert_int_equal(c->limits.max_connections_per_prefix, 3);
    assert_int_equal(c->limits.max_handshakes, 4);
    assert_int_equal(c->limits.handshake_timeout_ms, 5);
    assert_int_equal(c->limits.first_query_timeout_ms, 6);
    assert_int_equal(c->limits.idle_timeout_ms, 7);
    assert_int_equal(c->limits.max_queries_in_flight, 8);
    assert_int_equal(c->limits.max_output_bytes, 4294967295u);
    assert_int_equal(c->limits.suspect_failures, 0); /* 0 = off, accepted */
    assert_int_equal(c->limits.suspect_handshake_rate, 9);
    assert_int_equal(c->limits.n_suspect_exempt, 3);
    assert_int_equal(c->limits.suspect_exempt[0].prefix_len, 8);
    assert_int_equal(c->limits.suspect_exempt[1].family, AF_INET6);
    assert_int_equal(c->limits.suspect_exempt[2].prefix_len, 32);

    const config_resolver_t *r = &c->resolver;
    assert_int_equal(r->mode, CONFIG_MODE_FORWARD);
    assert_int_equal(r->n_forward_addresses, 3);
    assert_string_equal(r->forward_addresses[0], "127.0.0.1@5353");
    assert_string_equal(r->forward_addresses[2], "2001:db8::1@53");
    assert_null(r->root_hints);
    assert_string_equal(r->trust_anchor_file, "/etc/danced/keys/root.key");
    assert_false(r->dnssec);
    assert_int_equal(r->n_stub_zones, 2);
    assert_string_equal(r->stub_zones[0].zone, "corp.example");
    assert_int_equal(r->stub_zones[0].n_addresses, 1);
    assert_string_equal(r->stub_zones[0].trust_anchor, "corp.example. IN DS 1234 13 2 ABCD");
    assert_null(r->stub_zones[0].trust_anchor_file);
    assert_string_equal(r->stub_zones[1].zone, "_lab.example");
    assert_int_equal(r->stub_zones[1].n_addresses, 2);
    assert_string_equal(r->stub_zones[1].addresses[1], "10.0.0.1");
    assert_null(r->stub_zones[1].trust_anchor);
    assert_string_equal(r->stub_zones[1].trust_anchor_file, "/etc/danced/lab.key");
    assert_int_equal(r->outgoing_range, 11);
    assert_int_equal(r->num_queries_per_thread, 12);
    assert_int_equal(r->msg_cache_size, 5000000000ull);
    assert_int_equal(r->rrset_cache_size, 14);
    assert_int_equal(r->key_cache_size, 15);
    assert_int_equal(r->infra_host_ttl, 0);
    assert_int_equal(r->query_timeout_ms, 17);
    assert_int_equal(r->max_lookups_in_flight, 12);
    assert_int_equal(r->n_unbound_options, 2);
    assert_string_equal(r->unbound_options[1], "outgoing-num-tcp: 10");

    assert_int_equal(c->cache.max_bytes, 1000);
    assert_int_equal(c->cache.max_ttl, 100);
    assert_int_equal(c->cache.min_ttl, 100);
    assert_int_equal(c->cache.negative_max_ttl, 0);

    const config_dane_t *d = &c->dane;
    assert_int_equal(d->n_allow, 2);
    assert_string_equal(d->allow[0], "clients.example");
    assert_string_equal(d->allow[1], "x.org");
    assert_string_equal(d->identity_suffix, "clients.example");
    assert_string_equal(d->pkix_ca_file, "/etc/danced/ca.pem");
    assert_int_equal(d->lookup_timeout_ms, 21);
    assert_int_equal(d->max_lookups_in_flight, 22);
    assert_int_equal(d->max_lookups_per_domain, 23);
    assert_int_equal(d->queue_length, 24);
    assert_int_equal(d->cache_max_ttl, 25);
    assert_int_equal(d->negative_ttl, 26);
    assert_int_equal(d->cache_entries, 27);
    config_free(c);
}

static void test_cidr(void **state)
{
    (void)state;
    config_cidr_t c;
    uint8_t a4[4], a6[16];
    assert_int_equal(config_parse_cidr("10.0.0.0/8", &c), 0);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.prefix_len, 8);
    inet_pton(AF_INET, "10.200.3.4", a4);
    assert_true(config_cidr_contains(&c, AF_INET, a4));
    inet_pton(AF_INET, "11.0.0.1", a4);
    assert_false(config_cidr_contains(&c, AF_INET, a4));
    assert_int_equal(config_parse_cidr("192.0.2.128/25", &c), 0);
    inet_pton(AF_INET, "192.0.2.200", a4);
    assert_true(config_cidr_contains(&c, AF_INET, a4));
    inet_pton(AF_INET, "192.0.2.127", a4);
    assert_false(config_cidr_contains(&c, AF_INET, a4));
    /* a bare address is a /32 or /128 */
    assert_int_equal(config_parse_cidr("192.0.2.7", &c), 0);
    assert_int_equal(c.prefix_len, 32);
    inet_pton(AF_INET, "192.0.2.7", a4);
    assert_true(config_cidr_contains(&c, AF_INET, a4));
    inet_pton(AF_INET, "192.0.2.8", a4);
    assert_false(config_cidr_contains(&c, AF_INET, a4));
    assert_int_equal(config_parse_cidr("2001:db8::/32", &c), 0);
    assert_int_equal(c.family, AF_INET6);
    inet_pton(AF_INET6, "2001:db8:ffff::1", a6);
    assert_true(config_cidr_contains(&c, AF_INET6, a6));
    inet_pton(AF_INET6, "2001:db9::1", a6);
    assert_false(config_cidr_contains(&c, AF_INET6, a6));
    assert_false(config_cidr_contains(&c, AF_INET, a6)); /* family mismatch */
    assert_int_equal(config_parse_cidr("0.0.0.0/0", &c), 0);
    inet_pton(AF_INET, "203.0.113.1", a4);
    assert_true(config_cidr_contains(&c, AF_INET, a4));
    assert_int_equal(config_parse_cidr("::1", &c), 0);
    assert_int_equal(c.prefix_len, 128);
    /* errors */
    assert_int_equal(config_parse_cidr("10.0.0.1/8", &c), DN_ERANGE);
    assert_int_equal(config_parse_cidr("2001:db8::1/32", &c), DN_ERANGE);
    const char *bad[] = {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/8x", "10.0.0.0/-1", "host/8",
                         "10.0.0.0/0008", "10.0.0.0/8/8", "1.2.3.4.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(config_parse_cidr(bad[i], &c), DN_EINVAL);
}

static unsigned changes(const char *a_yaml, const char *b_yaml, char *out, size_t cap)
{
    config_t *a = NULL, *b = NULL;
    char err[512];
    assert_int_equal(load(a_yaml, &a, err, sizeof err), DN_OK);
    assert_int_equal(load(b_yaml, &b, err, sizeof err), DN_OK);
    unsigned n = config_restart_changes(a, b, out, cap);
    config_free(a);
    config_free(b);
    return n;
}

static void test_restart_changes(void **state)
{
    (void)state;
    char out[256];
    /* Reloadable: log level, limits, certificate and key. */
    assert_int_equal(changes(LISTENER, LISTENER, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(changes(LISTENER "server:\n  log-level: warn\nlimits:\n  max-connections: 5\n"
                             "  suspect-exempt: [10.0.0.0/8]\n",
                             LISTENER "server:\n  log-level: debug\nlimits:\n  max-connections: 7\n", out,
                             sizeof out),
                     0);
    const char *other_cert = "listeners:\n  - name: dot\n    address: 127.0.0.1\n    certificate: new.crt\n"
                             "    key: new.key\n";
    assert_int_equal(changes(LISTENER, other_cert, out, sizeof out), 0);
    /* Not reloadable: named, one by one. */
    assert_int_equal(changes(LISTENER, LISTENER "server:\n  workers: 3\n", out, sizeof out), 1);
    assert_string_equal(out, "server.workers");
    const char *moved = "listeners:\n  - name: dot\n    address: ::1\n    port: 8853\n    certificate: server.crt\n"
                        "    key: server.key\n    client-auth: require\n";
    /* client-auth forces tickets off: a fourth difference */
    assert_int_equal(changes(LISTENER, moved, out, sizeof out), 4);
    assert_string_equal(out, "listeners[0].address, listeners[0].port, listeners[0].client-auth, "
                             "listeners[0].tickets");
    assert_int_equal(changes(LISTENER, LISTENER "resolver:\n  query-timeout-ms: 99\n", out, sizeof out), 1);
    assert_string_equal(out, "resolver");
    assert_int_equal(changes(LISTENER, LISTENER "resolver:\n  stub-zones:\n    - zone: a.example\n"
                                                "      addresses: [\"::1\"]\n", out, sizeof out), 1);
    assert_int_equal(changes(LISTENER, LISTENER "dane:\n  allow: [corp.example]\n", out, sizeof out), 1);
    assert_string_equal(out, "dane");
    assert_int_equal(changes(LISTENER, LISTENER "cache:\n  max-ttl: 60\n", out, sizeof out), 1);
    assert_string_equal(out, "cache");
    assert_int_equal(changes(LISTENER, LISTENER "server:\n  counters-file: /tmp/c\n", out, sizeof out), 1);
    const char *two = LISTENER "  - name: two\n    address: 127.0.0.2\n    certificate: a\n    key: b\n";
    assert_int_equal(changes(LISTENER, two, out, sizeof out), 1);
    assert_string_equal(out, "listeners (added or removed)");
    /* A small buffer is truncated, never overrun; the count stays exact. */
    char tiny[20];
    assert_int_equal(changes(LISTENER, moved, tiny, sizeof tiny), 4);
    assert_true(strlen(tiny) < sizeof tiny);
    assert_non_null(strstr(tiny, "..."));
    assert_int_equal(changes(LISTENER, moved, NULL, 0), 4);
}

/* One bad input and the pieces its message must contain. */
typedef struct {
    const char *yaml;
    const char *prefix; /* "danced.yaml:LINE: KEY: " */
    const char *what;   /* a substring of the explanation */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    /* the ten cases the message format is specified for */
    {"bogus: 1\n" LISTENER, "danced.yaml:1: bogus: ", "unknown top-level key 'bogus'"},
    {"server:\n  workers: 1\n  bogus: 2\n" LISTENER, "danced.yaml:3: server: ", "unknown key 'bogus'"},
    {LISTENER "limits:\n  max-handshakes: 4\n  idle-timeout-ms: abc\n", "danced.yaml:8: limits.idle-timeout-ms: ",
     "invalid value 'abc'"},
    {LISTENER "limits:\n  idle-timeout-ms: -5\n", "danced.yaml:7: limits.idle-timeout-ms: ", "must not be negative"},
    {LISTENER "    client-auth: maybe\n", "danced.yaml:6: listeners[0].client-auth: ",
     "invalid value 'maybe' (expected one of: none, optional, require)"},
    {LISTENER "    tickets: maybe\n", "danced.yaml:6: listeners[0].tickets: ", "expected true or false"},
    {"# config\nserver:\n  workers: 2\n", "danced.yaml:2: listeners: ", "at least one listener"},
    {"", "danced.yaml:1: listeners: ", "empty"},
    {"server:\n  workers: [1, 2\n" LISTENER, "danced.yaml:3: server.workers: ", "YAML syntax error"},
    {"server:\n  - workers\n" LISTENER, "danced.yaml:2: server: ", "expected a mapping"},
    /* more parse errors */
    {"# nothing but comments\n", "danced.yaml:1: listeners: ", "empty"},
    {LISTENER "limits:\n  idle-timeout-ms: 99999999999\n", "danced.yaml:7: limits.idle-timeout-ms: ", "too large"},
    {LISTENER "server:\n  log-level: loud\n", "danced.yaml:7: server.log-level: ", "error, warn, info, debug"},
    {LISTENER "resolver:\n  mode: both\n", "danced.yaml:7: resolver.mode: ", "recursive, forward"},
    {LISTENER "    tls-min-version: \"1.1\"\n", "danced.yaml:6: listeners[0].tls-min-version: ", "1.2, 1.3"},
    {LISTENER "resolver:\n  dnssec: 2\n", "danced.yaml:7: resolver.dnssec: ", "true or false"},
    {LISTENER "limits:\n  suspect-exempt: [\"10.0.0.1/8\"]\n", "danced.yaml:7: limits.suspect-exempt[0]: ",
     "host bits set"},
    {LISTENER "limits:\n  suspect-exempt:\n    - 10.0.0.0/8\n    - nonsense\n",
     "danced.yaml:9: limits.suspect-exempt[1]: ", "not an address block"},
    {LISTENER "limits:\n  suspect-exempt: [\"::1/129\"]\n", "danced.yaml:7: limits.suspect-exempt[0]: ",
     "not an address block"},
    {LISTENER "    bogus: 1\n", "danced.yaml:6: listeners[0]: ", "unknown key 'bogus'"},
    {LISTENER "resolver:\n  stub-zones:\n    - zone: a.example\n      adresses: [\"::1\"]\n",
     "danced.yaml:9: resolver.stub-zones[0]: ", "unknown key 'adresses'"},
    {LISTENER "resolver:\n  unbound-options:\n    - verbosity: 1\n", "danced.yaml:8: resolver.unbound-options[0]: ",
     "quote"},
    {"server:\n  workers: 1\nserver:\n  workers: 2\n" LISTENER, "danced.yaml:3: server: ", "given twice"},
    {"a: &x 1\nb: *x\n", "danced.yaml:2: b: ", "aliases"},
    {LISTENER "---\n" LISTENER, "danced.yaml:6: ", "only one YAML document"},
    {"- 1\n- 2\n", "danced.yaml:1: ", "top level must be a mapping"},
    {"server:\n\tworkers: 1\n", "danced.yaml:2: server: ", "YAML syntax error"},
    {"listeners:\n  - name: a\n    address: ::1\n    certificate: c\n    key: k\n    key: k2\n",
     "danced.yaml:6: listeners[0].key: ", "given twice"},
    {"listeners: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
     "danced.yaml:1: listeners", "nesting too deep"},
    {"? [a]\n: 1\n", "danced.yaml:1: ", "plain words"},
    {LISTENER "resolver:\n  forward-addresses: [1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, "
              "1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, "
              "1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, "
              "1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, "
              "1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, "
              "1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, 1.1.1.1, "
              "1.1.1.1, 1.1.1.1, 1.1.1.1]\n",
     "danced.yaml:7: resolver.forward-addresses: ", "too many entries (at most 64)"},
    /* semantic errors */
    {"listeners: []\n", "danced.yaml:1: listeners: ", "at least one listener"},
    {LISTENER "  - name: dot\n    address: ::1\n    certificate: c\n    key: k\n", "danced.yaml:6: listeners[1].name: ",
     "duplicate listener name 'dot'"},
    {LISTENER "  - name: dot2\n    address: 127.0.0.1\n    certificate: c\n    key: k\n",
     "danced.yaml:7: listeners[1].address: ", "same address and port"},
    {"listeners:\n  - name: a\n    address: localhost\n    certificate: c\n    key: k\n",
     "danced.yaml:3: listeners[0].address: ", "not an IPv4 or IPv6 address"},
    {"listeners:\n  - name: a\n    address: 1.2.3.4\n    certificate: c\n    key: k\n    port: 0\n",
     "danced.yaml:6: listeners[0].port: ", "out of range (1..65535)"},
    {"listeners:\n  - name: a\n    address: 1.2.3.4\n    certificate: c\n    key: k\n    port: 65536\n",
     "danced.yaml:6: listeners[0].port: ", "out of range"},
    {"listeners:\n  - name: a\n    address: 1.2.3.4\n    key: k\n", "danced.yaml:2: listeners[0].certificate: ",
     "missing"},
    {"listeners:\n  - name: a\n    address: 1.2.3.4\n    certificate: c\n    key: \"\"\n",
     "danced.yaml:5: listeners[0].key: ", "missing"},
    {"listeners:\n  - address: 1.2.3.4\n    certificate: c\n    key: k\n", "danced.yaml:2: listeners[0].name: ",
     "missing"},
    {"listeners:\n  - name: a b\n    address: 1.2.3.4\n    certificate: c\n    key: k\n",
     "danced.yaml:2: listeners[0].name: ", "not a valid name"},
    {LISTENER "resolver:\n  mode: forward\n", "danced.yaml:7: resolver.mode: ", "needs forward-addresses"},
    {LISTENER "resolver:\n  forward-addresses: [\"1.2.3.4@0\"]\n", "danced.yaml:7: resolver.forward-addresses[0]: ",
     "not an IP address"},
    {LISTENER "resolver:\n  forward-addresses: [\"1.2.3.4@\"]\n", "danced.yaml:7: resolver.forward-addresses[0]: ",
     "not an IP address"},
    {LISTENER "resolver:\n  stub-zones:\n    - zone: bad..example\n      addresses: [\"::1\"]\n",
     "danced.yaml:8: resolver.stub-zones[0].zone: ", "not a valid domain name"},
    {LISTENER "resolver:\n  stub-zones:\n    - zone: a.example\n",
     "danced.yaml:8: resolver.stub-zones[0].addresses: ", "at least one address"},
    {LISTENER "resolver:\n  stub-zones:\n    - zone: a.example\n      addresses: [\"::1\"]\n"
              "    - zone: A.example.\n      addresses: [\"::1\"]\n",
     "danced.yaml:10: resolver.stub-zones[1].zone: ", "duplicate stub zone"},
    {LISTENER "resolver:\n  unbound-options: [\"no colon\"]\n", "danced.yaml:7: resolver.unbound-options[0]: ",
     "name: value"},
    {LISTENER "resolver:\n  num-queries-per-thread: 100\n", "danced.yaml:6: resolver.max-lookups-in-flight: ",
     "exceeds resolver.num-queries-per-thread"},
    {LISTENER "resolver:\n  outgoing-range: 0\n", "danced.yaml:7: resolver.outgoing-range: ", "greater than 0"},
    {LISTENER "dane:\n  allow: [ok.example, \"-\xc3\xa9.example\"]\n", "danced.yaml:7: dane.allow[1]: ",
     "not a valid domain name"},
    {LISTENER "dane:\n  allow:\n    - a.example\n    - "
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\n",
     "danced.yaml:9: dane.allow[1]: ", "not a valid domain name"},
    {LISTENER "dane:\n  identity-suffix: \".\"\n", "danced.yaml:7: dane.identity-suffix: ", "not a valid domain"},
    {LISTENER "dane:\n  queue-length: 0\n", "danced.yaml:7: dane.queue-length: ", "greater than 0"},
    {LISTENER "dane:\n  negative-ttl: 0\n", "danced.yaml:7: dane.negative-ttl: ", "greater than 0"},
    {LISTENER "limits:\n  max-connections: 0\n", "danced.yaml:7: limits.max-connections: ", "greater than 0"},
    {LISTENER "cache:\n  max-ttl: 10\n  min-ttl: 20\n", "danced.yaml:8: cache.min-ttl: ", "greater than cache.max-ttl"},
    {LISTENER "server:\n  workers: 257\n", "danced.yaml:7: server.workers: ", "at most 256"},
};

static void test_error_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case_t *b = &bad_cases[i];
        config_t *c = (config_t *)(uintptr_t)0x1; /* must stay untouched */
        char err[1024] = "";
        int rc = load(b->yaml, &c, err, sizeof err);
        if (rc != DN_ECONFIG || c != (config_t *)(uintptr_t)0x1 || strncmp(err, b->prefix, strlen(b->prefix)) != 0 ||
            strstr(err, b->what) == NULL)
            fail_msg("case %zu: rc=%d message \"%s\"; want prefix \"%s\" and \"%s\"", i, rc, err, b->prefix,
                     b->what);
    }
}

static void test_err_buffer(void **state)
{
    (void)state;
    config_t *c = NULL;
    char small[12];
    memset(small, 'z', sizeof small);
    assert_int_equal(load("bogus: 1\n", &c, small, sizeof small), DN_ECONFIG);
    assert_null(c);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, "danced.yaml", 11);
    /* No buffer at all is allowed. */
    assert_int_equal(load("bogus: 1\n", &c, NULL, 0), DN_ECONFIG);
    assert_int_equal(config_load_buffer("x", LISTENER, strlen(LISTENER), NULL, false, NULL, NULL, 0), DN_EINVAL);
}

static void test_not_nul_terminated(void **state)
{
    (void)state;
    /* The buffer is used by length: bytes after len are never read. */
    char *buf = malloc(sizeof LISTENER - 1);
    assert_non_null(buf);
    memcpy(buf, LISTENER, sizeof LISTENER - 1);
    config_t *c = NULL;
    char err[256];
    assert_int_equal(config_load_buffer("b", buf, sizeof LISTENER - 1, "/x", false, &c, err, sizeof err), DN_OK);
    assert_string_equal(c->listeners[0].key, "/x/server.key");
    config_free(c);
    free(buf);
    config_free(NULL);
}

static void test_base_dir_default_cwd(void **state)
{
    (void)state;
    char cwd[4096], want[4200];
    assert_non_null(getcwd(cwd, sizeof cwd));
    config_t *c = NULL;
    char err[256];
    assert_int_equal(config_load_buffer("b", LISTENER, strlen(LISTENER), NULL, false, &c, err, sizeof err), DN_OK);
    snprintf(want, sizeof want, "%s/server.crt", cwd);
    assert_string_equal(c->listeners[0].certificate, want);
    config_free(c);
}

static void test_too_large(void **state)
{
    (void)state;
    size_t n = CONFIG_MAX_FILE_BYTES + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, '#', n);
    config_t *c = NULL;
    char err[256];
    assert_int_equal(config_load_buffer("big.yaml", big, n, "/", false, &c, err, sizeof err), DN_ECONFIG);
    assert_non_null(strstr(err, "big.yaml: file too large"));
    free(big);
}

/* ---- config_load from real files, with check_files ---- */

typedef struct {
    char dir[64];
} tmp_t;

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int tmp_setup(void **state)
{
    tmp_t *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/danced-test-config-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    tmp_t *t = *state;
    static const char *names[] = {"danced.yaml", "server.crt", "server.key", "big.yaml", "sub/server.crt", "sub", NULL};
    char p[256];
    for (int i = 0; names[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", t->dir, names[i]);
        remove(p);
    }
    rmdir(t->dir);
    free(t);
    return 0;
}

#define FILE_YAML                                                                                            \
    "listeners:\n"                                                                                           \
    "  - name: dot\n"                                                                                        \
    "    address: 127.0.0.1\n"                                                                               \
    "    port: 8853\n"                                                                                       \
    "    certificate: sub/server.crt\n"                                                                      \
    "    key: server.key\n"                                                                                  \
    "resolver:\n"                                                                                            \
    "  root-hints: \"\"\n"                                                                                   \
    "  trust-anchor-file: \"\"\n"

static void test_load_file(void **state)
{
    tmp_t *t = *state;
    char p[256], sub[256], want[700], err[512];
    snprintf(sub, sizeof sub, "%s/sub", t->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(t->dir, "danced.yaml", FILE_YAML);
    write_file(t->dir, "server.key", "key\n");
    snprintf(p, sizeof p, "%s/danced.yaml", t->dir);

    /* The certificate is missing: named with its absolute path and its line. */
    config_t *c = NULL;
    assert_int_equal(config_load(p, &c, err, sizeof err), DN_ECONFIG);
    assert_null(c);
    snprintf(want, sizeof want, "%s:5: listeners[0].certificate: cannot read '%s/sub/server.crt'", p, t->dir);
    assert_non_null(strstr(err, want));

    write_file(t->dir, "sub/server.crt", "cert\n");
    assert_int_equal(config_load(p, &c, err, sizeof err), DN_OK);
    assert_string_equal(c->path, p);
    snprintf(want, sizeof want, "%s/sub/server.crt", t->dir);
    assert_string_equal(c->listeners[0].certificate, want);
    snprintf(want, sizeof want, "%s/server.key", t->dir);
    assert_string_equal(c->listeners[0].key, want);
    assert_int_equal(c->listeners[0].port, 8853);
    assert_null(c->resolver.root_hints);
    assert_null(c->resolver.trust_anchor_file);
    config_free(c);

    /* A relative config path: the result still holds absolute paths. */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir("/tmp"), 0);
    snprintf(p, sizeof p, "%s/danced.yaml", t->dir + strlen("/tmp/"));
    c = NULL;
    int rc = config_load(p, &c, err, sizeof err);
    assert_int_equal(chdir(cwd), 0);
    if (rc != DN_OK)
        fail_msg("%s", err);
    snprintf(want, sizeof want, "%s/server.key", t->dir);
    assert_string_equal(c->listeners[0].key, want);
    snprintf(want, sizeof want, "%s/danced.yaml", t->dir);
    assert_string_equal(c->path, want);
    config_free(c);

    /* A directory where a file is expected. */
    write_file(t->dir, "danced.yaml", "listeners:\n  - name: dot\n    address: ::1\n    certificate: sub\n    key: server.key\n"
                                      "resolver: {root-hints: \"\", trust-anchor-file: \"\"}\n");
    snprintf(p, sizeof p, "%s/danced.yaml", t->dir);
    assert_int_equal(config_load(p, &c, err, sizeof err), DN_ECONFIG);
    assert_non_null(strstr(err, ":4: listeners[0].certificate: "));
    assert_non_null(strstr(err, "not a regular file"));

    /* A readable pkix-ca-file / stub trust-anchor-file are checked too. */
    write_file(t->dir, "danced.yaml", FILE_YAML "  stub-zones:\n    - zone: x.example\n      addresses: [\"::1\"]\n"
                                                "      trust-anchor-file: nowhere.key\n");
    assert_int_equal(config_load(p, &c, err, sizeof err), DN_ECONFIG);
    assert_non_null(strstr(err, ":13: resolver.stub-zones[0].trust-anchor-file: cannot read"));
}

static void test_load_file_errors(void **state)
{
    tmp_t *t = *state;
    char p[256], err[512];
    config_t *c = NULL;
    snprintf(p, sizeof p, "%s/missing.yaml", t->dir);
    assert_int_equal(config_load(p, &c, err, sizeof err), DN_EIO);
    assert_null(c);
    assert_non_null(strstr(err, "missing.yaml: cannot read"));

    assert_int_equal(config_load(t->dir, &c, err, sizeof err), DN_EIO);
    assert_null(c);

    snprintf(p, sizeof p, "%s/big.yaml", t->dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < CONFIG_MAX_FILE_BYTES / 16 + 1; i++)
        fputs("# padding......\n", f);
    fclose(f);
    assert_int_equal(config_load(p, &c, err, sizeof err), DN_ECONFIG);
    assert_non_null(strstr(err, "file too large"));
    assert_null(c);
}

static void test_helpers(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(config_normalize_domain("Example.COM.", out, sizeof out), DN_OK);
    assert_string_equal(out, "example.com");
    assert_int_equal(config_normalize_domain("_dane._tcp.x-y.Z9", out, sizeof out), DN_OK);
    assert_string_equal(out, "_dane._tcp.x-y.z9");
    strcpy(out, "keep");
    assert_int_equal(config_normalize_domain("", out, sizeof out), DN_EINVAL);
    assert_int_equal(config_normalize_domain(".", out, sizeof out), DN_EINVAL);
    assert_int_equal(config_normalize_domain("a..b", out, sizeof out), DN_EINVAL);
    assert_int_equal(config_normalize_domain(".a", out, sizeof out), DN_EINVAL);
    assert_int_equal(config_normalize_domain("a b", out, sizeof out), DN_EINVAL);
    assert_int_equal(config_normalize_domain("a..", out, sizeof out), DN_EINVAL);
    assert_string_equal(out, "keep");
    assert_int_equal(config_normalize_domain("abc.de", out, 6), DN_ERANGE);
    assert_string_equal(out, "keep");
    char label63[64], label64[80], name[400];
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    assert_int_equal(config_normalize_domain(label63, out, sizeof out), DN_OK);
    assert_int_equal(config_normalize_domain(label64, out, sizeof out), DN_EINVAL);
    /* 4 x 63 + 3 dots = 255 > 253; 3 x 63 + 61 + 3 dots = 253 */
    snprintf(name, sizeof name, "%s.%s.%s.%s", label63, label63, label63, label63);
    assert_int_equal(config_normalize_domain(name, out, sizeof out), DN_EINVAL);
    snprintf(name, sizeof name, "%s.%s.%s.%.61s.", label63, label63, label63, label63);
    assert_int_equal(config_normalize_domain(name, out, sizeof out), DN_OK);
    assert_int_equal(strlen(out), 253);

    assert_int_equal(config_check_address("127.0.0.1"), DN_OK);
    assert_int_equal(config_check_address("127.0.0.1@5353"), DN_OK);
    assert_int_equal(config_check_address("::1"), DN_OK);
    assert_int_equal(config_check_address("fe80::1@65535"), DN_OK);
    assert_int_equal(config_check_address("::1@65536"), DN_EINVAL);
    assert_int_equal(config_check_address("::1@-1"), DN_EINVAL);
    assert_int_equal(config_check_address("@53"), DN_EINVAL);
    assert_int_equal(config_check_address("example.com"), DN_EINVAL);
    assert_int_equal(config_check_address("1.2.3.4:53"), DN_EINVAL);

    config_listener_t l4 = {.address = "127.0.0.1", .port = 853}, l6 = {.address = "::1", .port = 8853};
    assert_int_equal(config_listener_endpoint(&l4, out, sizeof out), DN_OK);
    assert_string_equal(out, "127.0.0.1:853");
    assert_int_equal(config_listener_endpoint(&l6, out, sizeof out), DN_OK);
    assert_string_equal(out, "[::1]:8853");
    assert_int_equal(config_listener_endpoint(&l6, out, 5), DN_ERANGE);

    assert_string_equal(config_log_level_name(CONFIG_LOG_WARN), "warn");
    assert_string_equal(config_client_auth_name(CONFIG_AUTH_REQUIRE), "require");
    assert_string_equal(config_mode_name(CONFIG_MODE_FORWARD), "forward");
}

static void test_corpus_shape(void **state)
{
    (void)state;
    /* Hostile but small inputs: each must fail cleanly, never crash. */
    static const char *const inputs[] = {
        "\x00\x01\x02", "\xff\xfe\xfd", "listeners: !!binary aGVsbG8=", "%YAML 1.1\n---\n",
        "listeners:\n  - !!map {}\n", "listeners: ~\n", "listeners:\n  -\n", "server: {workers: }\n",
        "\"\\uD800\": 1\n",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        config_t *c = NULL;
        char err[256] = "";
        size_t len = i == 0 ? 3 : strlen(inputs[i]);
        int rc = config_load_buffer("h.yaml", inputs[i], len, "/", false, &c, err, sizeof err);
        if (rc == DN_OK)
            fail_msg("input %zu loaded", i);
        assert_null(c);
        assert_true(strncmp(err, "h.yaml", 6) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_err_buffer),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_base_dir_default_cwd),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test_setup_teardown(test_load_file, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_load_file_errors, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_restart_changes),
        cmocka_unit_test(test_corpus_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
