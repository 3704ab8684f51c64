/* Unit tests for resolver/connlimit: per-address and per-prefix counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "resolver/connlimit.h"

static connlimit_addr_t v4(const char *s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, s, &sa.sin_addr);
    connlimit_addr_t a;
    assert_true(connlimit_addr_from_sockaddr((struct sockaddr *)&sa, &a));
    return a;
}

static connlimit_addr_t v6(const char *s)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, s, &sa.sin6_addr);
    connlimit_addr_t a;
    assert_true(connlimit_addr_from_sockaddr((struct sockaddr *)&sa, &a));
    return a;
}

static void test_per_ip(void **state)
{
    (void)state;
    connlimit_t *cl = connlimit_new(2, 100);
    connlimit_addr_t a = v4("192.0.2.1");
    assert_int_equal(connlimit_acquire(cl, &a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(cl, &a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(cl, &a), CONNLIMIT_IP);
    assert_int_equal(connlimit_count_ip(cl, &a), 2);
    connlimit_release(cl, &a);
    assert_int_equal(connlimit_acquire(cl, &a), CONNLIMIT_OK);
    connlimit_release(cl, &a);
    connlimit_release(cl, &a);
    assert_int_equal(connlimit_count_ip(cl, &a), 0);
    assert_int_equal(connlimit_count_prefix(cl, &a), 0);
    connlimit_free(cl);
}

static void test_per_prefix_v4(void **state)
{
    (void)state;
    connlimit_t *cl = connlimit_new(10, 3);
    connlimit_addr_t a = v4("198.51.100.1"), b = v4("198.51.100.2"), c = v4("198.51.100.250");
    connlimit_addr_t other = v4("198.51.101.1");
    assert_int_equal(connlimit_acquire(cl, &a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(cl, &b), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(cl, &c), CONNLIMIT_OK);
    /* same /24: refused; a failed acquire counts nothing */
    assert_int_equal(connlimit_acquire(cl, &a), CONNLIMIT_PREFIX);
    assert_int_equal(connlimit_count_ip(cl, &a), 1);
    /* another /24 is independent */
    assert_int_equal(connlimit_acquire(cl, &other), CONNLIMIT_OK);
    connlimit_free(cl);
}

static void test_prefix_v6_56(void **state)
{
    (void)state;
    connlimit_t *cl = connlimit_new(10, 2);
    connlimit_addr_t a = v6("2001:db8:0:ff00::1"), b = v6("2001:db8:0:ffff::2");
    connlimit_addr_t c = v6("2001:db8:0:ff80::3"); /* same /56 */
    connlimit_addr_t d = v6("2001:db8:0:fe00::1"); /* other /56 */
    assert_int_equal(connlimit_acquire(cl, &a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(cl, &b), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(cl, &c), CONNLIMIT_PREFIX);
    assert_int_equal(connlimit_acquire(cl, &d), CONNLIMIT_OK);
    connlimit_free(cl);
}

static void test_v4_mapped_counts_as_v4(void **state)
{
    (void)state;
    connlimit_t *cl = connlimit_new(1, 10);
    connlimit_addr_t a = v4("203.0.113.9"), m = v6("::ffff:203.0.113.9");
    assert_int_equal(connlimit_acquire(cl, &a), CONNLIMIT_OK);
    assert_int_equal(connlimit_acquire(cl, &m), CONNLIMIT_IP);
    connlimit_free(cl);
}

static void test_many_sources_and_removal(void **state)
{
    (void)state;
    /* Grow the table, then release everything: lookups must stay right while
     * entries are removed (backward-shift deletion). */
    connlimit_t *cl = connlimit_new(3, 1000);
    char buf[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3000; i++) {
            snprintf(buf, sizeof buf, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            connlimit_addr_t a = v4(buf);
            assert_int_equal(connlimit_acquire(cl, &a), CONNLIMIT_OK);
        }
        for (int i = 0; i < 3000; i += 2) {
            snprintf(buf, sizeof buf, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            connlimit_addr_t a = v4(buf);
            connlimit_release(cl, &a);
        }
        for (int i = 1; i < 3000; i += 2) {
            snprintf(buf, sizeof buf, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            connlimit_addr_t a = v4(buf);
            assert_int_equal(connlimit_count_ip(cl, &a), 1);
            connlimit_release(cl, &a);
        }
        connlimit_addr_t z = v4("10.0.0.5");
        assert_int_equal(connlimit_count_ip(cl, &z), 0);
        assert_int_equal(connlimit_count_prefix(cl, &z), 0);
    }
    connlimit_free(cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_ip),
        cmocka_unit_test(test_per_prefix_v4),
        cmocka_unit_test(test_prefix_v6_56),
        cmocka_unit_test(test_v4_mapped_counts_as_v4),
        cmocka_unit_test(test_many_sources_and_removal),
    };
    return cmocka_run_group_tests_name("connlimit", tests, NULL, NULL);
}
