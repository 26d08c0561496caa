/*
 * Heap behaviour, observed by interposing malloc/calloc/realloc/free in
 * this executable (heap_inject.c):
 *  - the steady state allocates nothing: xpoll_wait, accessors, wakes,
 *    the I/O helpers and their re-arm;
 *  - epoll keeps no per-registration heap memory;
 *  - every constructor fails cleanly with -ENOMEM at each allocation it
 *    makes, leaving *out NULL, no descriptor and no allocation behind.
 *
 * Not built under sanitizers, which bring their own allocator.
 */
#define _GNU_SOURCE
#include "heap_inject.h"
#include "support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- steady state ---------------------------------------------------------
 */

enum { PIPES = 64 };

/* Counts the readable events and reads each pipe they name until EAGAIN
 * with xpoll_read(), which re-arms it (the re-arm rule: free on epoll and
 * kqueue, required on poll), so every later write is a new edge. */
static int handle_events(xpoll *poll, xpoll_events *events, int pipes[PIPES][2])
{
    int delivered = 0;
    for (size_t i = 0; i < xpoll_events_len(events); i++) {
        const xpoll_event *ev = xpoll_events_get(events, i);
        xpoll_token token = xpoll_event_token(ev);
        delivered += xpoll_event_is_readable(ev);
        (void)xpoll_event_is_writable(ev);
        (void)xpoll_event_is_error(ev);
        if (token >= PIPES)
            continue; /* the waker */
        char buf[8];
        ssize_t got;
        while ((got = xpoll_read(poll, pipes[token][0], buf, sizeof buf)) > 0)
            ;
        assert_int_equal(got, -EAGAIN);
    }
    return delivered;
}

static void wait_allocates_nothing(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    xpoll_waker *waker;
    int pipes[PIPES][2];

    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 16), 0);
    assert_int_equal(xpoll_waker_new(poll, 1000, &waker), 0);
    for (int i = 0; i < PIPES; i++) {
        pair_open(PAIR_PIPE, pipes[i]);
        assert_int_equal(
            xpoll_register(poll, pipes[i][0], (xpoll_token)i, XPOLL_READABLE),
            0);
    }
    heap_count_from(-1);
    int delivered = 0;
    for (int round = 0; round < 200; round++) {
        assert_int_equal(write(pipes[round % PIPES][1], "x", 1), 1);
        if (round % 7 == 0)
            assert_int_equal(xpoll_waker_wake(waker), 0);
        int n = xpoll_wait(poll, events, SEC);
        assert_true(n >= 1);
        delivered += handle_events(poll, events, pipes);
        assert_int_equal(xpoll_wait(poll, events, 0) >= 0, 1);
        delivered += handle_events(poll, events, pipes);
    }
    long calls = heap_stop().calls;
    assert_int_equal(calls, 0);
    assert_true(delivered >= 200);

    for (int i = 0; i < PIPES; i++)
        pair_close(PAIR_PIPE, pipes[i]);
    xpoll_waker_free(waker);
    xpoll_events_free(events);
    xpoll_free(poll);
}

/* epoll keeps the token in the kernel's epoll_data: no memory of ours. */
static void epoll_registration_allocates_nothing(void **state)
{
    (void)state;
    xpoll *poll;
    int pipes[PIPES][2];
    assert_int_equal(xpoll_new(&poll), 0);
    for (int i = 0; i < PIPES; i++)
        pair_open(PAIR_PIPE, pipes[i]);
    heap_count_from(-1);
    for (int i = 0; i < PIPES; i++) {
        assert_int_equal(
            xpoll_register(poll, pipes[i][0], (xpoll_token)i, XPOLL_READABLE),
            0);
        assert_int_equal(xpoll_reregister(poll, pipes[i][0], (xpoll_token)i,
                                          XPOLL_READABLE | XPOLL_PRIORITY),
                         0);
    }
    for (int i = 0; i < PIPES; i++)
        assert_int_equal(xpoll_deregister(poll, pipes[i][0]), 0);
    long calls = heap_stop().calls;
    assert_int_equal(calls, 0);
    for (int i = 0; i < PIPES; i++)
        pair_close(PAIR_PIPE, pipes[i]);
    xpoll_free(poll);
}

/* ---- allocation failure at each point -------------------------------------
 */

/* Calls `make` with the k-th allocation failing, for k = 0, 1, ... until
 * it succeeds; each failure must be a clean -ENOMEM.  Returns how many
 * allocation points there were. */
static int fail_each_allocation(int (*make)(void *ctx, void **out),
                                void (*destroy)(void *obj), void *ctx)
{
    for (long k = 0; k < 64; k++) {
        int fds_before = open_fd_count();
        void *obj = &obj;
        heap_count_from(k);
        int rc = make(ctx, &obj);
        struct heap_counts counts = heap_stop();
        if (rc == 0) {
            assert_true(counts.calls <= k); /* nothing left to fail */
            destroy(obj);
            return (int)k;
        }
        assert_int_equal(rc, -ENOMEM);
        assert_null(obj);
        assert_int_equal(counts.live, 0);
        assert_int_equal(open_fd_count(), fds_before);
    }
    fail_msg("constructor still failing after 64 allocation points");
    return -1;
}

static int make_poll(void *ctx, void **out)
{
    (void)ctx;
    return xpoll_new((xpoll **)out);
}

static void destroy_poll(void *obj)
{
    xpoll_free(obj);
}

static int make_events(void *ctx, void **out)
{
    (void)ctx;
    return xpoll_events_new((xpoll_events **)out, 128);
}

static void destroy_events(void *obj)
{
    xpoll_events_free(obj);
}

static int make_waker(void *ctx, void **out)
{
    return xpoll_waker_new(ctx, 7, (xpoll_waker **)out);
}

static void destroy_waker(void *obj)
{
    xpoll_waker_free(obj);
}

static void poll_new_fails_cleanly(void **state)
{
    (void)state;
    assert_true(fail_each_allocation(make_poll, destroy_poll, NULL) >= 1);
}

static void events_new_fails_cleanly(void **state)
{
    (void)state;
    assert_true(fail_each_allocation(make_events, destroy_events, NULL) >= 1);
}

static void waker_new_fails_cleanly(void **state)
{
    (void)state;
    xpoll *poll;
    assert_int_equal(xpoll_new(&poll), 0);
    assert_true(fail_each_allocation(make_waker, destroy_waker, poll) >= 1);
    /* The failed attempts left no waker registered: a real one works. */
    xpoll_events *events;
    assert_int_equal(xpoll_events_new(&events, 4), 0);
    expect_new_waker_works(poll, events, 8);
    xpoll_events_free(events);
    xpoll_free(poll);
}

static int make_timer(void *ctx, void **out)
{
    return xpoll_timer_new(ctx, 7, (xpoll_timer **)out);
}

static void destroy_timer(void *obj)
{
    xpoll_timer_free(obj);
}

/* The poll's first timer also allocates the poll's timer state; every
 * failure leaves neither behind, and a later timer works. */
static void timer_new_fails_cleanly(void **state)
{
    (void)state;
    xpoll *poll;
    assert_int_equal(xpoll_new(&poll), 0);
    assert_true(fail_each_allocation(make_timer, destroy_timer, poll) >= 2);
    xpoll_timer *timer;
    assert_int_equal(xpoll_timer_new(poll, 1, &timer), 0);
    assert_int_equal(xpoll_timer_set(timer, 0, 0), 0);
    xpoll_events *events;
    assert_int_equal(xpoll_events_new(&events, 4), 0);
    assert_int_equal(xpoll_wait(poll, events, 10 * SEC), 1);
    assert_true(xpoll_event_is_timer(xpoll_events_get(events, 0)));
    xpoll_events_free(events);
    xpoll_timer_free(timer);
    xpoll_free(poll);
}

/* Once created, timers cost no allocation: set, reset, cancel and the
 * waits that hand out their expiries, periodic ones included. */
static void timers_allocate_nothing_after_new(void **state)
{
    (void)state;
    enum { TIMERS = 8 };
    xpoll *poll;
    xpoll_events *events;
    xpoll_timer *timers[TIMERS];

    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 4), 0);
    for (int i = 0; i < TIMERS; i++)
        assert_int_equal(xpoll_timer_new(poll, (xpoll_token)i, &timers[i]), 0);
    heap_count_from(-1);
    int fired = 0;
    for (int round = 0; round < 50; round++) {
        xpoll_timer *t = timers[round % TIMERS];
        assert_int_equal(xpoll_timer_set(t, SEC, 0), 0);
        assert_int_equal(xpoll_timer_set(t, 0, round % 2 ? MS : 0), 0);
        assert_int_equal(xpoll_timer_cancel(timers[(round + 1) % TIMERS]), 0);
        int n = xpoll_wait(poll, events, 10 * SEC);
        assert_true(n >= 1);
        fired += n;
    }
    long calls = heap_stop().calls;
    assert_int_equal(calls, 0);
    assert_true(fired >= 50);
    for (int i = 0; i < TIMERS; i++)
        xpoll_timer_free(timers[i]);
    xpoll_events_free(events);
    xpoll_free(poll);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wait_allocates_nothing),
        cmocka_unit_test(poll_new_fails_cleanly),
        cmocka_unit_test(events_new_fails_cleanly),
        cmocka_unit_test(waker_new_fails_cleanly),
        cmocka_unit_test(timer_new_fails_cleanly),
        cmocka_unit_test(timers_allocate_nothing_after_new),
        /* epoll only: last, so other backends run the rest. */
        cmocka_unit_test(epoll_registration_allocates_nothing),
    };
    const char *backend = getenv("XPOLL_BACKEND");
    size_t count = sizeof tests / sizeof tests[0];
    if (backend == NULL || strcmp(backend, "epoll") != 0)
        count--;
    return run_group(__FILE__, tests, count, NULL, NULL);
}
