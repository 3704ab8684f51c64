/* Unit tests for core/frame: the 2-byte length assembler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/frame.h"

static void test_single_message(void **state)
{
    (void)state;
    frame_reader_t r;
    frame_reader_init(&r);
    const uint8_t in[] = {0, 3, 'a', 'b', 'c'};
    assert_int_equal(frame_reader_feed(&r, in, sizeof in), sizeof in);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(frame_reader_next(&r, &msg, &len), 1);
    assert_int_equal(len, 3);
    assert_memory_equal(msg, "abc", 3);
    assert_int_equal(frame_reader_next(&r, &msg, &len), 0);
    /* Empty reader holds no memory. */
    assert_null(r.buf);
    frame_reader_release(&r);
}

static void test_byte_by_byte_and_many(void **state)
{
    (void)state;
    frame_reader_t r;
    frame_reader_init(&r);
    uint8_t stream[3 * 1000];
    size_t n = 0;
    for (int i = 0; i < 1000; i++) {
        stream[n++] = 0;
        stream[n++] = 1;
        stream[n++] = (uint8_t)i;
    }
    int got = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(frame_reader_feed(&r, &stream[i], 1), 1);
        const uint8_t *msg;
        size_t len;
        while (frame_reader_next(&r, &msg, &len) == 1) {
            assert_int_equal(len, 1);
            assert_int_equal(msg[0], (uint8_t)got);
            got++;
        }
    }
    assert_int_equal(got, 1000);
    frame_reader_release(&r);
}

static void test_zero_and_max_length(void **state)
{
    (void)state;
    frame_reader_t r;
    frame_reader_init(&r);
    uint8_t *big = calloc(1, 2 + 65535 + 2);
    assert_non_null(big);
    big[0] = 0xff;
    big[1] = 0xff;
    big[2] = 0x42;
    big[2 + 65535 - 1] = 0x43;
    /* then a zero-length frame */
    assert_int_equal(frame_reader_feed(&r, big, 2 + 65535 + 2), 2 + 65535 + 2);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(frame_reader_next(&r, &msg, &len), 1);
    assert_int_equal(len, 65535);
    assert_int_equal(msg[0], 0x42);
    assert_int_equal(msg[65534], 0x43);
    assert_int_equal(frame_reader_next(&r, &msg, &len), 1);
    assert_int_equal(len, 0);
    assert_int_equal(frame_reader_next(&r, &msg, &len), 0);
    free(big);
    frame_reader_release(&r);
}

static void test_bounded_buffer(void **state)
{
    (void)state;
    /* A peer that sends endless data without completing frames cannot make
     * the reader grow past FRAME_BUF_MAX. */
    frame_reader_t r;
    frame_reader_init(&r);
    uint8_t junk[4096];
    memset(junk, 0xff, sizeof junk);
    size_t total = 0;
    for (int i = 0; i < 100; i++)
        total += frame_reader_feed(&r, junk, sizeof junk);
    assert_true(r.cap <= FRAME_BUF_MAX);
    assert_true(total <= FRAME_BUF_MAX);
    frame_reader_release(&r);
}

static void test_partial_header_kept(void **state)
{
    (void)state;
    frame_reader_t r;
    frame_reader_init(&r);
    const uint8_t a[] = {0};
    const uint8_t b[] = {2, 'h', 'i'};
    frame_reader_feed(&r, a, 1);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(frame_reader_next(&r, &msg, &len), 0);
    frame_reader_feed(&r, b, 3);
    assert_int_equal(frame_reader_next(&r, &msg, &len), 1);
    assert_int_equal(len, 2);
    assert_memory_equal(msg, "hi", 2);
    frame_reader_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_message),
        cmocka_unit_test(test_byte_by_byte_and_many),
        cmocka_unit_test(test_zero_and_max_length),
        cmocka_unit_test(test_bounded_buffer),
        cmocka_unit_test(test_partial_header_kept),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
