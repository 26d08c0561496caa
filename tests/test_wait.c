/*
 * xpoll_wait: a buffer smaller than the ready set loses nothing, timeouts
 * (zero, positive, negative, huge) behave, and a signal returns -EINTR.
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- capacity ------------------------------------------------------------ */

enum { READY = 10, CAPACITY = 4 };

static void small_capacity_loses_nothing(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    int pipes[READY][2];
    int seen[READY] = {0};

    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, CAPACITY), 0);
    for (int i = 0; i < READY; i++) {
        pair_open(PAIR_PIPE, pipes[i]);
        assert_int_equal(xpoll_register(poll, pipes[i][0], (xpoll_token)i,
                                        XPOLL_READABLE),
                         0);
        put(PAIR_PIPE, pipes[i]);
    }
    /* Edge-triggered: what did not fit stays on the kernel's ready list. */
    const int expected[] = {CAPACITY, CAPACITY, READY - 2 * CAPACITY, 0};
    for (size_t round = 0; round < sizeof expected / sizeof expected[0];
         round++) {
        int n = xpoll_wait(poll, events, round < 3 ? SEC : 0);
        assert_int_equal(n, expected[round]);
        for (int i = 0; i < n; i++) {
            xpoll_token t = xpoll_event_token(xpoll_events_get(events, (size_t)i));
            assert_true(t < READY);
            seen[t]++;
        }
    }
    for (int i = 0; i < READY; i++) {
        assert_int_equal(seen[i], 1);
        pair_close(PAIR_PIPE, pipes[i]);
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
 * kern_event.c) and kqueue_scan takes from the head. */
static void capacity_one_round_robin(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    int a[2], b[2];
    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 1), 0);
    pair_open(PAIR_PIPE, a);
    pair_open(PAIR_PIPE, b);
    assert_int_equal(xpoll_register(poll, a[0], 1, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_register(poll, b[0], 2, XPOLL_READABLE), 0);
    put(PAIR_PIPE, a);
    put(PAIR_PIPE, b);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(next_token(poll, events), 1);
        /* a's turn is over; ready again, it must wait behind b. */
        assert_int_equal(drain(a[0]), 1);
        put(PAIR_PIPE, a);
        assert_int_equal(next_token(poll, events), 2);
        assert_int_equal(drain(b[0]), 1);
        put(PAIR_PIPE, b);
    }
    assert_int_equal(next_token(poll, events), 1);
    assert_int_equal(next_token(poll, events), 2);
    expect_no_event(poll, events, 0);
    pair_close(PAIR_PIPE, a);
    pair_close(PAIR_PIPE, b);
    xpoll_events_free(events);
    xpoll_free(poll);
}

/* ---- timeouts ------------------------------------------------------------ */

static void zero_timeout_returns_at_once(void **state)
{
    struct fixture *f = *state;
    int64_t start = now_ns();
    for (int i = 0; i < 100; i++)
        assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    assert_true(now_ns() - start < 500 * MS);
}

static void zero_timeout_still_reports_ready(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 9, XPOLL_READABLE), 0);
    put(PAIR_PIPE, fds);
    /* mio's zero_duration_polls_events: 0 still asks the kernel. */
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 1);
    pair_close(PAIR_PIPE, fds);
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

/* Helper threads record results; the main thread asserts them, since
 * cmocka's failures must happen on the test's own thread. */
struct delayed_write {
    int fd;
    int delay_ms;
    ssize_t written;
    pthread_t thread;
};

static void *write_later(void *arg)
{
    struct delayed_write *dw = arg;
    sleep_ms(dw->delay_ms);
    dw->written = write(dw->fd, "x", 1);
    return NULL;
}

/* Waits with `timeout_ns` while a thread makes a pipe readable after
 * 100 ms: the wait must block until then and report the pipe, not return
 * early (a wrapped or rejected timeout) and not time out. */
static void blocks_until_ready(struct fixture *f, int64_t timeout_ns)
{
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 42, XPOLL_READABLE), 0);
    struct delayed_write dw = {.fd = fds[1], .delay_ms = 100};
    assert_int_equal(pthread_create(&dw.thread, NULL, write_later, &dw), 0);
    int64_t start = now_ns();
    int n = xpoll_wait(f->poll, f->events, timeout_ns);
    int64_t elapsed = now_ns() - start;
    assert_int_equal(pthread_join(dw.thread, NULL), 0);
    assert_int_equal(dw.written, 1);
    assert_int_equal(n, 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), 42);
    assert_true(elapsed >= 90 * MS);
    pair_close(PAIR_PIPE, fds);
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
        ((int64_t)INT_MAX + 1) * MS,       /* just past epoll's INT_MAX ms */
        (int64_t)UINT32_MAX * MS + 1,      /* wraps to 1 ms if cast to int */
        (int64_t)100000001 * SEC,          /* just past macOS's limit */
        (int64_t)INT32_MAX * SEC + SEC,    /* FreeBSD's "forever" boundary */
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++)
        blocks_until_ready(*state, huge[i]);
}

/* ---- signals --------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
}

struct killer {
    pthread_t target, thread;
    int rc;
};

static void *signal_later(void *arg)
{
    struct killer *k = arg;
    sleep_ms(50);
    k->rc = pthread_kill(k->target, SIGUSR1);
    return NULL;
}

static void interrupted_wait(struct fixture *f, int sa_flags)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = sa_flags;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);

    struct killer k = {.target = pthread_self()};
    assert_int_equal(pthread_create(&k.thread, NULL, signal_later, &k), 0);
    int n = xpoll_wait(f->poll, f->events, 10 * SEC);
    assert_int_equal(pthread_join(k.thread, NULL), 0);
    assert_int_equal(k.rc, 0);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    /* Returned, not retried: the caller decides what a signal means. */
    assert_int_equal(n, -EINTR);
    assert_int_equal(xpoll_events_len(f->events), 0);
    /* And the poll keeps working. */
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
}

static void signal_interrupts_wait(void **state)
{
    interrupted_wait(*state, 0);
}

static void signal_interrupts_wait_despite_sa_restart(void **state)
{
    /* epoll_wait and kevent are never restarted (signal(7), R42). */
    interrupted_wait(*state, SA_RESTART);
}

#define T(name) \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_capacity_loses_nothing),
        cmocka_unit_test(capacity_one_round_robin),
        T(zero_timeout_returns_at_once),
        T(zero_timeout_still_reports_ready),
        T(positive_timeout_never_returns_early),
        T(negative_timeout_blocks),
        T(int64_min_timeout_blocks),
        T(int64_max_timeout_does_not_wrap),
        T(huge_timeouts_are_clamped),
        T(signal_interrupts_wait),
        T(signal_interrupts_wait_despite_sa_restart),
    };
    return RUN(tests, NULL, NULL);
}
