/* Unit tests for resolver/reputation: per-prefix failure scores, suspicion
 * with hysteresis, the token bucket of a suspect prefix, and the table bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "resolver/reputation.h"

static connlimit_addr_t v4(const char *s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, s, &sa.sin_addr), 1);
    connlimit_addr_t a;
    assert_true(connlimit_addr_from_sockaddr((struct sockaddr *)&sa, &a));
    return a;
}

static connlimit_addr_t v6(const char *s)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, s, &sa.sin6_addr), 1);
    connlimit_addr_t a;
    assert_true(connlimit_addr_from_sockaddr((struct sockaddr *)&sa, &a));
    return a;
}

static reputation_t *make(uint32_t failures, uint32_t rate, uint32_t max)
{
    reputation_limits_t l = {.suspect_failures = failures, .handshakes_per_second = rate, .max_prefixes = max};
    reputation_t *r = reputation_new(&l);
    assert_non_null(r);
    return r;
}

static void test_off_admits_everything(void **state)
{
    (void)state;
    reputation_limits_t l = {.suspect_failures = 0, .handshakes_per_second = 10, .max_prefixes = 100};
    reputation_t *r = reputation_new(&l);
    assert_non_null(r);
    connlimit_addr_t a = v4("192.0.2.1");
    for (int i = 0; i < 1000; i++)
        assert_false(reputation_strike(r, &a, 1000));
    assert_int_equal(reputation_admit(r, &a, 1000), REPUTATION_ADMIT);
    assert_false(reputation_is_suspect(r, &a, 1000));
    assert_int_equal(reputation_tracked(r), 0);
    reputation_free(r);
    /* NULL is off too. */
    assert_false(reputation_strike(NULL, &a, 1000));
    assert_int_equal(reputation_admit(NULL, &a, 1000), REPUTATION_ADMIT);
}

static void test_suspect_at_threshold_then_tokens(void **state)
{
    (void)state;
    reputation_t *r = make(10, 8, 100); /* burst: 8 / 4 = 2 tokens */
    connlimit_addr_t a = v4("192.0.2.1");
    uint64_t t = 5000;
    for (int i = 0; i < 9; i++) {
        assert_false(reputation_strike(r, &a, t));
        assert_int_equal(reputation_admit(r, &a, t), REPUTATION_ADMIT);
    }
    assert_true(reputation_strike(r, &a, t)); /* the 10th: suspect now, said once */
    assert_false(reputation_strike(r, &a, t));
    assert_true(reputation_is_suspect(r, &a, t));
    /* The bucket starts empty: the prefix is flooding right now. */
    assert_int_equal(reputation_admit(r, &a, t), REPUTATION_WAIT);
    /* 8/s: one token after 125 ms. */
    assert_int_equal(reputation_admit(r, &a, t + 100), REPUTATION_WAIT);
    assert_int_equal(reputation_admit(r, &a, t + 125), REPUTATION_ADMIT_TOKEN);
    assert_int_equal(reputation_admit(r, &a, t + 125), REPUTATION_WAIT);
    /* Saving up is bounded by the burst (2), however long the prefix waits. */
    assert_int_equal(reputation_admit(r, &a, t + 2000), REPUTATION_ADMIT_TOKEN);
    assert_int_equal(reputation_admit(r, &a, t + 2000), REPUTATION_ADMIT_TOKEN);
    assert_int_equal(reputation_admit(r, &a, t + 2000), REPUTATION_WAIT);
    reputation_free(r);
}

static void test_prefix_grouping_v4(void **state)
{
    (void)state;
    reputation_t *r = make(5, 10, 100);
    connlimit_addr_t a = v4("198.51.100.1"), same = v4("198.51.100.250"), other = v4("198.51.101.1");
    for (int i = 0; i < 5; i++)
        (void)reputation_strike(r, &a, 1000);
    assert_true(reputation_is_suspect(r, &same, 1000));
    assert_int_equal(reputation_admit(r, &same, 1000), REPUTATION_WAIT);
    assert_false(reputation_is_suspect(r, &other, 1000));
    assert_int_equal(reputation_admit(r, &other, 1000), REPUTATION_ADMIT);
    reputation_free(r);
}

static void test_prefix_grouping_v6(void **state)
{
    (void)state;
    reputation_t *r = make(5, 10, 100);
    connlimit_addr_t a = v6("2001:db8:0:100::1"), same = v6("2001:db8:0:1ff::9"), other = v6("2001:db8:0:200::1");
    connlimit_addr_t mapped_v4 = v6("::ffff:198.51.100.7");
    for (int i = 0; i < 5; i++)
        (void)reputation_strike(r, &a, 1000);
    assert_true(reputation_is_suspect(r, &same, 1000));
    assert_false(reputation_is_suspect(r, &other, 1000));
    /* An IPv4-mapped address is its IPv4 /24. */
    connlimit_addr_t b = v4("198.51.100.1");
    for (int i = 0; i < 5; i++)
        (void)reputation_strike(r, &b, 1000);
    assert_true(reputation_is_suspect(r, &mapped_v4, 1000));
    reputation_free(r);
}

static void test_decay_and_hysteresis(void **state)
{
    (void)state;
    reputation_t *r = make(10, 10, 100);
    connlimit_addr_t a = v4("203.0.113.9");
    uint64_t t = 1000;
    for (int i = 0; i < 10; i++)
        (void)reputation_strike(r, &a, t);
    assert_true(reputation_is_suspect(r, &a, t));
    /* One half-life: score 5, exactly half the threshold: still suspect. */
    assert_true(reputation_is_suspect(r, &a, t + REPUTATION_HALF_LIFE_MS));
    /* Below half: no longer suspect, and everything is admitted. */
    assert_false(reputation_is_suspect(r, &a, t + REPUTATION_HALF_LIFE_MS + 1000));
    assert_int_equal(reputation_admit(r, &a, t + REPUTATION_HALF_LIFE_MS + 1000), REPUTATION_ADMIT);
    /* A few more strikes do not make it suspect again (score ~4.7 + 3 < 10). */
    uint64_t t2 = t + REPUTATION_HALF_LIFE_MS + 1000;
    for (int i = 0; i < 3; i++)
        assert_false(reputation_strike(r, &a, t2));
    assert_false(reputation_is_suspect(r, &a, t2));
    /* A slow trickle of failures never adds up: 1 every 2 s stays below 10. */
    reputation_t *r2 = make(10, 10, 100);
    for (uint64_t s = 0; s < 600; s++)
        assert_false(reputation_strike(r2, &a, 1000 + s * 2000));
    reputation_free(r2);
    reputation_free(r);
}

static void test_table_bound_and_purge(void **state)
{
    (void)state;
    reputation_t *r = make(3, 10, 16);
    char ip[32];
    /* 100 distinct /24s fail at once: at most 16 are tracked. */
    for (int i = 0; i < 100; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.1", i / 256, i % 256);
        connlimit_addr_t a = v4(ip);
        (void)reputation_strike(r, &a, 1000);
        assert_true(reputation_tracked(r) <= 16);
    }
    assert_int_equal(reputation_tracked(r), 16);
    /* A prefix that found no room is not tracked: never suspect. */
    connlimit_addr_t late = v4("10.0.99.1");
    for (int i = 0; i < 10; i++)
        (void)reputation_strike(r, &late, 1000);
    assert_false(reputation_is_suspect(r, &late, 1000));
    /* After the old scores decayed (8 half-lives: 1 -> 1/256), room again. */
    uint64_t later = 1000 + 8 * REPUTATION_HALF_LIFE_MS;
    for (int i = 0; i < 3; i++)
        (void)reputation_strike(r, &late, later);
    assert_true(reputation_is_suspect(r, &late, later));
    assert_true(reputation_tracked(r) <= 16);
    reputation_free(r);
}

static void test_suspect_entries_survive_purge(void **state)
{
    (void)state;
    reputation_t *r = make(3, 10, 16);
    connlimit_addr_t bad = v4("192.0.2.1");
    for (int i = 0; i < 50; i++)
        (void)reputation_strike(r, &bad, 1000);
    char ip[32];
    for (int i = 0; i < 40; i++) {
        snprintf(ip, sizeof ip, "10.1.%d.1", i);
        connlimit_addr_t a = v4(ip);
        (void)reputation_strike(r, &a, 3000 + (uint64_t)i * 1000);
    }
    assert_true(reputation_is_suspect(r, &bad, 3000 + 40 * 1000));
    reputation_free(r);
}

static void test_set_limits(void **state)
{
    (void)state;
    reputation_t *r = make(100, 10, 100);
    connlimit_addr_t a = v4("192.0.2.1");
    for (int i = 0; i < 20; i++)
        (void)reputation_strike(r, &a, 1000);
    assert_false(reputation_is_suspect(r, &a, 1000));
    /* Lowered threshold: the prefix's 20 strikes now make it suspect. */
    reputation_limits_t lower = {.suspect_failures = 10, .handshakes_per_second = 10, .max_prefixes = 100};
    reputation_set_limits(r, &lower);
    assert_true(reputation_is_suspect(r, &a, 1000));
    assert_int_equal(reputation_admit(r, &a, 1000), REPUTATION_WAIT);
    /* Off: everything forgotten and admitted; on again: starts from nothing. */
    reputation_limits_t off = {.suspect_failures = 0, .handshakes_per_second = 10, .max_prefixes = 100};
    reputation_set_limits(r, &off);
    assert_int_equal(reputation_admit(r, &a, 1000), REPUTATION_ADMIT);
    assert_int_equal(reputation_tracked(r), 0);
    reputation_set_limits(r, &lower);
    assert_false(reputation_is_suspect(r, &a, 1000));
    for (int i = 0; i < 10; i++)
        (void)reputation_strike(r, &a, 2000);
    assert_true(reputation_is_suspect(r, &a, 2000));
    reputation_free(r);
}

static void test_served_address_goes_ahead_in_a_suspect_prefix(void **state)
{
    (void)state;
    reputation_t *r = make(10, 10, 100);
    connlimit_addr_t honest = v4("192.0.2.200"), fresh = v4("192.0.2.201"), bad = v4("192.0.2.7");
    for (int i = 0; i < 3; i++)
        reputation_served(r, &honest, 1000);
    for (int i = 0; i < 10; i++)
        (void)reputation_strike(r, &bad, 1000);
    assert_true(reputation_is_suspect(r, &honest, 1000));
    /* The served address goes ahead, without a token; a new one waits. */
    assert_int_equal(reputation_admit(r, &honest, 1000), REPUTATION_ADMIT_GOOD_ADDRESS);
    assert_int_equal(reputation_admit(r, &fresh, 1000), REPUTATION_WAIT);
    assert_int_equal(reputation_admit(r, &bad, 1000), REPUTATION_WAIT);
    /* Failing addresses are not tracked one by one: only the served one is. */
    assert_int_equal(reputation_tracked_addresses(r), 1);
    /* An address that fails more than it is served loses the credit. */
    for (int i = 0; i < 4; i++)
        (void)reputation_strike(r, &honest, 1000);
    assert_int_equal(reputation_admit(r, &honest, 1000), REPUTATION_WAIT);
    /* Credit decays like strikes: served once, long ago, is no credit. */
    reputation_t *r2 = make(10, 10, 100);
    reputation_served(r2, &honest, 1000);
    for (int i = 0; i < 10; i++)
        (void)reputation_strike(r2, &bad, 1000 + 4 * REPUTATION_HALF_LIFE_MS);
    assert_int_equal(reputation_admit(r2, &honest, 1000 + 4 * REPUTATION_HALF_LIFE_MS), REPUTATION_WAIT);
    reputation_free(r2);
    reputation_free(r);
}

static void test_address_table_bound(void **state)
{
    (void)state;
    reputation_t *r = make(3, 10, 16);
    char ip[32];
    /* A flood of failing addresses adds nothing to the address table. */
    for (int i = 0; i < 1000; i++) {
        snprintf(ip, sizeof ip, "10.9.%d.%d", i / 250, i % 250 + 1);
        connlimit_addr_t a = v4(ip);
        (void)reputation_strike(r, &a, 1000);
    }
    assert_int_equal(reputation_tracked_addresses(r), 0);
    /* Served addresses: bounded. */
    for (int i = 0; i < 100; i++) {
        snprintf(ip, sizeof ip, "10.8.0.%d", i + 1);
        connlimit_addr_t a = v4(ip);
        reputation_served(r, &a, 1000);
        assert_true(reputation_tracked_addresses(r) <= 16);
    }
    /* IPv6 addresses are kept whole (/128), not by prefix. */
    reputation_t *r6 = make(3, 10, 100);
    connlimit_addr_t a6 = v6("2001:db8::1"), b6 = v6("2001:db8::2");
    reputation_served(r6, &a6, 1000);
    for (int i = 0; i < 3; i++)
        (void)reputation_strike(r6, &b6, 1000);
    assert_int_equal(reputation_admit(r6, &a6, 1000), REPUTATION_ADMIT_GOOD_ADDRESS);
    assert_int_equal(reputation_admit(r6, &b6, 1000), REPUTATION_WAIT);
    reputation_free(r6);
    reputation_free(r);
}

static void test_prefix_text(void **state)
{
    (void)state;
    char buf[64];
    connlimit_addr_t a = v4("192.0.2.77");
    reputation_prefix_text(&a, buf, sizeof buf);
    assert_string_equal(buf, "192.0.2.0/24");
    connlimit_addr_t b = v6("2001:db8:0:1ab::1");
    reputation_prefix_text(&b, buf, sizeof buf);
    assert_string_equal(buf, "2001:db8:0:100::/56");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_admits_everything),
        cmocka_unit_test(test_suspect_at_threshold_then_tokens),
        cmocka_unit_test(test_prefix_grouping_v4),
        cmocka_unit_test(test_prefix_grouping_v6),
        cmocka_unit_test(test_decay_and_hysteresis),
        cmocka_unit_test(test_table_bound_and_purge),
        cmocka_unit_test(test_suspect_entries_survive_purge),
        cmocka_unit_test(test_set_limits),
        cmocka_unit_test(test_served_address_goes_ahead_in_a_suspect_prefix),
        cmocka_unit_test(test_address_table_bound),
        cmocka_unit_test(test_prefix_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
