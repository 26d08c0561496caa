/*
 * xpoll_wait: a buffer smaller than the ready set loses nothing, and
 * timeouts (zero, positive, negative, huge) behave.  A signal's -EINTR is
 * in test_wait_posix.c.
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

/* ---- capacity ------------------------------------------------------------ */

enum { READY = 10, CAPACITY = 4 };

static void small_capacity_loses_nothing(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    xpoll_socket pipes[READY][2];
    int seen[READY] = {0};

    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, CAPACITY), 0);
    for (int i = 0; i < READY; i++) {
        pair_open(pair_simple, pipes[i]);
        assert_int_equal(
            xpoll_register(poll, pipes[i][0], (xpoll_token)i, XPOLL_READABLE),
            0);
        put(pair_simple, pipes[i]);
    }
    /* Edge-triggered: what did not fit stays on the kernel's ready list. */
    const int expected[] = {CAPACITY, CAPACITY, READY - 2 * CAPACITY, 0};
    for (size_t round = 0; round < sizeof expected / sizeof expected[0];
         round++) {
        int n = xpoll_wait(poll, events, round < 3 ? SEC : 0);
        assert_int_equal(n, expected[round]);
        for (int i = 0; i < n; i++) {
            xpoll_token t =
                xpoll_event_token(xpoll_events_get(events, (size_t)i));
            assert_true(t < READY);
            seen[t]++;
        }
    }
    for (int i = 0; i < READY; i++) {
        assert_int_equal(seen[i], 1);
        pair_close(pair_simple, pipes[i]);
    }
    xpoll_events_free(events);
    xpoll_free(poll);
}

/* The token of the one event a capacity-1 wait returns. */
static xpoll_token next_token(xpoll *poll, xpoll_events *events)
{
    assert_int_equal(xpoll_wait(poll, events, SEC), 1);
    return xpoll_event_token(xpoll_events_get(events, 0));
}

/* A capacity-1 buffer takes turns: descriptors come back in the order they
 * became ready, and one that is ready again after its turn queues behind
 * those still waiting, so none starves.  Both kernels keep one FIFO ready
 * list: epoll appends in ep_poll_callback (list_add_tail to rdllist) and
 * ep_send_events puts what did not fit back at the head (fs/eventpoll.c);
 * kqueue appends in knote_enqueue (TAILQ_INSERT_TAIL; FreeBSD and XNU
 * kern_event.c) and kqueue_scan takes from the head.  The poll backend
 * has no ready list: its harvest starts after the slot it reported last
 * (src/sys/pollfd.c), which gives the same turns for two descriptors.
 * Each one is read until EAGAIN and then re-armed (xpoll_rearm), as the
 * contract asks: free on epoll and kqueue, required on poll. */
static void capacity_one_round_robin(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    xpoll_socket a[2], b[2];
    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 1), 0);
    pair_open(pair_simple, a);
    pair_open(pair_simple, b);
    assert_int_equal(xpoll_register(poll, a[0], 1, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_register(poll, b[0], 2, XPOLL_READABLE), 0);
    put(pair_simple, a);
    put(pair_simple, b);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(next_token(poll, events), 1);
        /* a's turn is over; ready again, it must wait behind b. */
        assert_int_equal(drain(a[0]), 1);
        assert_int_equal(xpoll_rearm(poll, a[0], XPOLL_READABLE), 0);
        put(pair_simple, a);
        assert_int_equal(next_token(poll, events), 2);
        assert_int_equal(drain(b[0]), 1);
        assert_int_equal(xpoll_rearm(poll, b[0], XPOLL_READABLE), 0);
        put(pair_simple, b);
    }
    assert_int_equal(next_token(poll, events), 1);
    assert_int_equal(next_token(poll, events), 2);
    expect_no_event(poll, events, 0);
    pair_close(pair_simple, a);
    pair_close(pair_simple, b);
    xpoll_events_free(events);
    xpoll_free(poll);
}

/* ---- timeouts ------------------------------------------------------------ */

/* Voluntary context switches of the calling thread: the kernel counts one
 * each time the thread sleeps (getrusage(2), RUSAGE_THREAD). */
static long sleeps_so_far(void)
{
    long n = platform_thread_sleeps();
    if (n == -ENOTSUP) {
        print_message("skipped: this system counts no sleeps per thread\n");
        skip();
    }
    assert_true(n >= 0);
    return n;
}

/* A wait with timeout 0 on an idle poll returns 0 without the thread ever
 * going to sleep: neither epoll_wait (fs/eventpoll.c ep_poll()) nor kevent
 * (FreeBSD sys/kern/kern_event.c kqueue_scan()) sleeps on a zero timeout,
 * whereas any positive timeout on an idle poll always does.  Something else may
 * put the thread to sleep now and then (a page fault, a sanitizer's lock), so a
 * wait that slept is retried: a zero timeout passed on as anything else
 * sleeps every time. */
static void zero_timeout_returns_without_sleeping(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0); /* warm up */
    long slept = -1;
    for (int i = 0; i < 100 && slept != 0; i++) {
        long before = sleeps_so_far();
        assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
        slept = sleeps_so_far() - before;
    }
    assert_int_equal(slept, 0);
}

static void zero_timeout_still_reports_ready(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 9, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    /* mio's zero_duration_polls_events: 0 still asks the kernel. */
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 1);
    pair_close(pair_simple, fds);
}

static void positive_timeout_never_returns_early(void **state)
{
    struct fixture *f = *state;
    const int64_t timeouts[] = {1, 999, MS / 2, MS, 3 * MS / 2, 20 * MS};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int64_t start = now_ns();
        assert_int_equal(xpoll_wait(f->poll, f->events, timeouts[i]), 0);
        assert_true(now_ns() - start >= timeouts[i]);
    }
}

/* Waits with `timeout_ns` while another thread makes a pair readable once
 * this thread is proven blocked in the wait: the wait must have blocked
 * (not returned at once: a wrapped or rejected timeout) and must report
 * the pair (not time out).  A wait that returned early would leave the
 * other thread looking for a blocked wait until HANG_NS, then fail. */
struct delayed_write {
    xpoll_socket fd;
    ssize_t written;
};

static void write_byte(void *arg)
{
    struct delayed_write *dw = arg;
    dw->written = fd_write(dw->fd, "x", 1);
}

static void blocks_until_ready(struct fixture *f, int64_t timeout_ns)
{
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 42, XPOLL_READABLE), 0);
    struct delayed_write dw = {.fd = fds[1], .written = -2};
    struct blocked_action b;
    blocked_action_start(&b, write_byte, &dw);
    int n = xpoll_wait(f->poll, f->events, timeout_ns);
    blocked_action_finish(&b);
    assert_int_equal(dw.written, 1);
    assert_int_equal(n, 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), 42);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    pair_close(pair_simple, fds);
}

static void negative_timeout_blocks(void **state)
{
    blocks_until_ready(*state, -1);
}

static void int64_min_timeout_blocks(void **state)
{
    blocks_until_ready(*state, INT64_MIN);
}

static void int64_max_timeout_does_not_wrap(void **state)
{
    blocks_until_ready(*state, INT64_MAX);
}

static void huge_timeouts_are_clamped(void **state)
{
    const int64_t huge[] = {
        INT64_MAX - 1,
        ((int64_t)INT_MAX + 1) * MS,    /* just past epoll's INT_MAX ms */
        (int64_t)UINT32_MAX * MS + 1,   /* wraps to 1 ms if cast to int */
        (int64_t)100000001 * SEC,       /* just past macOS's limit */
        (int64_t)INT32_MAX * SEC + SEC, /* FreeBSD's "forever" boundary */
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++)
        blocks_until_ready(*state, huge[i]);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_capacity_loses_nothing),
        cmocka_unit_test(capacity_one_round_robin),
        T(zero_timeout_returns_without_sleeping),
        T(zero_timeout_still_reports_ready),
        T(positive_timeout_never_returns_early),
        T(negative_timeout_blocks),
        T(int64_min_timeout_blocks),
        T(int64_max_timeout_does_not_wrap),
        T(huge_timeouts_are_clamped),
    };
    return RUN(tests, NULL, NULL);
}
