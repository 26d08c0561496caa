/*
 * xpoll_timer: timers come back from xpoll_wait as events with their
 * token, never before their deadline (read against CLOCK_MONOTONIC), in
 * deadline order, rescheduled and cancelled from the waiting thread or
 * from another one while it is blocked, periodic ones once per wait
 * however far behind, and beyond the buffer's capacity in the next wait.
 *
 * Exact tick arithmetic and drift under a virtual clock are the wheel's,
 * pinned in test_timers.c; this file runs on every backend, and the
 * close-on-exec of the timers' descriptors is in test_timer_posix.c.
 */
#include "support.h"

#include <errno.h>
#include <stdlib.h>

enum { TOKEN = 0x7117, OTHER = 0x07e4, IO = 0x10 };

/* Busy-waits until CLOCK_MONOTONIC has reached `deadline`: the condition
 * is read from the clock itself, not assumed from a sleep. */
static void spin_until(int64_t deadline)
{
    while (now_ns() < deadline) {
    }
}

/* Called right after the set of a timer with `delay`: busy-waits until
 * that timer is certainly due.  Its deadline is at most now + delay (the
 * set read the clock before this call), and the wheel hands it out from
 * the start of the 1 ms tick the deadline falls in, at most a tick later
 * (src/timers.h). */
static void spin_until_due(int64_t delay)
{
    spin_until(now_ns() + delay + MS);
}

/* Waits (at most HANG_NS) until a wait returns something; returns its
 * count.  Fails the test if nothing came. */
static int wait_some(xpoll *poll, xpoll_events *events)
{
    int n = xpoll_wait(poll, events, HANG_NS);
    assert_true(n > 0);
    return n;
}

/* The n events of the last wait are exactly one timer event for `token`. */
static void assert_one_timer_event(xpoll_events *events, int n,
                                   xpoll_token token)
{
    assert_int_equal(n, 1);
    const xpoll_event *ev = xpoll_events_get(events, 0);
    assert_int_equal(xpoll_event_token(ev), token);
    assert_true(xpoll_event_is_timer(ev));
}

static xpoll_timer *new_timer(struct fixture *f, xpoll_token token)
{
    xpoll_timer *timer = NULL;
    assert_int_equal(xpoll_timer_new(f->poll, token, &timer), 0);
    assert_non_null(timer);
    return timer;
}

static void timer_fires_once_with_its_token(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_timer_set(t, 5 * MS, 0), 0);
    assert_one_timer_event(f->events, wait_some(f->poll, f->events), TOKEN);
    expect_no_event(f->poll, f->events, 20 * MS);
    xpoll_timer_free(t);
}

/* A timer's event carries no I/O readiness, and an I/O event is no
 * timer's. */
static void timer_event_has_no_io_flag(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_timer_set(t, 0, 0), 0);
    assert_one_timer_event(f->events, wait_some(f->poll, f->events), TOKEN);
    const xpoll_event *ev = xpoll_events_get(f->events, 0);
    assert_false(xpoll_event_is_readable(ev));
    assert_false(xpoll_event_is_writable(ev));
    assert_false(xpoll_event_is_error(ev));
    assert_false(xpoll_event_is_read_closed(ev));
    assert_false(xpoll_event_is_write_closed(ev));
    assert_false(xpoll_event_is_priority(ev));
    assert_false(xpoll_event_is_aio(ev));
    assert_false(xpoll_event_is_lio(ev));
    assert_false(xpoll_event_is_timer(NULL));

    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], IO, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    assert_int_equal(wait_some(f->poll, f->events), 1);
    ev = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(ev), IO);
    assert_true(xpoll_event_is_readable(ev));
    assert_false(xpoll_event_is_timer(ev));
    pair_close(pair_simple, fds);
    xpoll_timer_free(t);
}

/* Each delay is checked against the clock read before the set: the event
 * never comes earlier. */
static void never_before_the_deadline(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);
    const int64_t delays[] = {0,          1,       999999, 1 * MS,
                              1 * MS + 1, 2500000, 10 * MS};

    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
        int64_t before = now_ns();
        assert_int_equal(xpoll_timer_set(t, delays[i], 0), 0);
        assert_one_timer_event(f->events, wait_some(f->poll, f->events), TOKEN);
        int64_t elapsed = now_ns() - before;
        if (elapsed < delays[i])
            fail_msg("delay %lld ns fired after %lld ns", (long long)delays[i],
                     (long long)elapsed);
    }
    xpoll_timer_free(t);
}

/* A wait without a timeout of its own (-1) returns for the timer: its
 * timeout was cut to the deadline. */
static void unbounded_wait_returns_for_the_timer(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_timer_set(t, 10 * MS, 0), 0);
    assert_one_timer_event(f->events, xpoll_wait(f->poll, f->events, -1),
                           TOKEN);
    xpoll_timer_free(t);
}

/* Once the deadline has passed (read from the clock), even a wait that
 * may not block returns the timer. */
static void nonblocking_wait_returns_a_due_timer(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_timer_set(t, 2 * MS, 0), 0);
    spin_until_due(2 * MS);
    assert_one_timer_event(f->events, xpoll_wait(f->poll, f->events, 0), TOKEN);
    xpoll_timer_free(t);
}

/* A wait whose own timeout ends before the deadline returns 0, not the
 * timer, and the timer still comes later. */
static void wait_timeout_before_deadline_returns_nothing(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    int64_t before = now_ns();
    assert_int_equal(xpoll_timer_set(t, HANG_NS, 0), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 5 * MS), 0);
    assert_true(now_ns() - before < HANG_NS);
    assert_int_equal(xpoll_timer_set(t, 1 * MS, 0), 0);
    assert_one_timer_event(f->events, wait_some(f->poll, f->events), TOKEN);
    xpoll_timer_free(t);
}

/* Timers come in deadline order, not in the order they were set.  Each
 * deadline is only known to lie between the clock read just before its
 * set and the one just after, plus the delay; so the order is asserted
 * for every pair whose ranges are at least a tick apart (timers of one
 * tick may come in either order).  With 10 ms between the delays that is
 * every pair, unless the thread stalled for 10 ms between two sets: then
 * the round is repeated, so that all three pairs are proven. */
static int deadline_order_round(struct fixture *f)
{
    enum { COUNT = 3 };
    xpoll_timer *t[COUNT];
    const int64_t delays[COUNT] = {30 * MS, 10 * MS, 20 * MS};
    int64_t earliest[COUNT], latest[COUNT];
    int position[COUNT] = {-1, -1, -1};

    for (int i = 0; i < COUNT; i++) {
        t[i] = new_timer(f, (xpoll_token)i);
        earliest[i] = now_ns() + delays[i];
        assert_int_equal(xpoll_timer_set(t[i], delays[i], 0), 0);
        latest[i] = now_ns() + delays[i];
    }
    int got = 0;
    while (got < COUNT) {
        int n = wait_some(f->poll, f->events);
        for (int k = 0; k < n; k++) {
            const xpoll_event *ev = xpoll_events_get(f->events, (size_t)k);
            assert_true(xpoll_event_is_timer(ev));
            xpoll_token token = xpoll_event_token(ev);
            assert_true(token < COUNT && position[token] < 0);
            position[token] = got++;
        }
    }
    int pairs = 0;
    for (int i = 0; i < COUNT; i++) {
        for (int j = 0; j < COUNT; j++) {
            if (latest[i] + MS <= earliest[j]) {
                assert_true(position[i] < position[j]);
                pairs++;
            }
        }
    }
    expect_no_event(f->poll, f->events, 0);
    for (int i = 0; i < COUNT; i++)
        xpoll_timer_free(t[i]);
    return pairs;
}

static void timers_come_in_deadline_order(void **state)
{
    int pairs = 0;
    for (int round = 0; round < 5 && pairs < 3; round++)
        pairs = deadline_order_round(*state);
    assert_int_equal(pairs, 3);
}

/* Setting an armed timer moves its deadline, later or earlier; one event
 * either way. */
static void set_reschedules_later(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    int64_t before = now_ns();
    assert_int_equal(xpoll_timer_set(t, 5 * MS, 0), 0);
    assert_int_equal(xpoll_timer_set(t, 40 * MS, 0), 0);
    assert_one_timer_event(f->events, wait_some(f->poll, f->events), TOKEN);
    assert_true(now_ns() - before >= 40 * MS);
    expect_no_event(f->poll, f->events, 10 * MS);
    xpoll_timer_free(t);
}

static void set_reschedules_earlier(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_timer_set(t, 2 * HANG_NS, 0), 0);
    assert_int_equal(xpoll_timer_set(t, 1 * MS, 0), 0);
    /* The old deadline is past the wait's timeout: only the new one can
     * end this wait with an event. */
    assert_one_timer_event(f->events, xpoll_wait(f->poll, f->events, HANG_NS),
                           TOKEN);
    xpoll_timer_free(t);
}

/* A due timer not yet handed out is withdrawn by a set that moves it. */
static void set_withdraws_a_due_expiry(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_timer_set(t, 1 * MS, 0), 0);
    spin_until_due(1 * MS);
    assert_int_equal(xpoll_timer_set(t, HANG_NS, 0), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    xpoll_timer_free(t);
}

static void cancel_prevents_the_event(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_timer_set(t, 2 * MS, 0), 0);
    assert_int_equal(xpoll_timer_cancel(t), 0);
    spin_until_due(2 * MS);
    expect_no_event(f->poll, f->events, 0);
    expect_no_event(f->poll, f->events, 10 * MS);
    xpoll_timer_free(t);
}

/* Due (its deadline passed) but not handed out yet: cancel still wins. */
static void cancel_withdraws_a_due_expiry(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_timer_set(t, 1 * MS, 0), 0);
    spin_until_due(1 * MS);
    assert_int_equal(xpoll_timer_cancel(t), 0);
    expect_no_event(f->poll, f->events, 0);
    xpoll_timer_free(t);
}

static void cancel_unarmed_timer_is_a_no_op(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_timer_cancel(t), 0);
    assert_int_equal(xpoll_timer_cancel(t), 0);
    expect_no_event(f->poll, f->events, 0);
    /* Still usable. */
    assert_int_equal(xpoll_timer_set(t, 0, 0), 0);
    assert_one_timer_event(f->events, wait_some(f->poll, f->events), TOKEN);
    xpoll_timer_free(t);
}

/* A one-shot timer that fired can be set again. */
static void fired_timer_can_be_set_again(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    for (int i = 0; i < 3; i++) {
        assert_int_equal(xpoll_timer_set(t, 1 * MS, 0), 0);
        assert_one_timer_event(f->events, wait_some(f->poll, f->events), TOKEN);
    }
    xpoll_timer_free(t);
}

/* Event k of a periodic timer comes no earlier than k intervals after
 * the first deadline. */
static void periodic_repeats_on_its_grid(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);
    const int64_t interval = 5 * MS;

    int64_t before = now_ns();
    assert_int_equal(xpoll_timer_set(t, 2 * MS, interval), 0);
    for (int k = 0; k < 5; k++) {
        assert_one_timer_event(f->events, wait_some(f->poll, f->events), TOKEN);
        assert_true(now_ns() - before >= 2 * MS + k * interval);
    }
    assert_int_equal(xpoll_timer_cancel(t), 0);
    expect_no_event(f->poll, f->events, 2 * interval);
    xpoll_timer_free(t);
}

/* Ten intervals behind (the clock proves it), a periodic timer yields
 * one event in a buffer with room for many, not one per missed interval. */
static void periodic_behind_yields_one_event(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);
    const int64_t interval = 2 * MS;

    assert_int_equal(xpoll_timer_set(t, interval, interval), 0);
    spin_until_due(11 * interval);
    assert_true(xpoll_events_capacity(f->events) >= 12);
    assert_one_timer_event(f->events, xpoll_wait(f->poll, f->events, 0), TOKEN);
    /* And it goes on. */
    assert_one_timer_event(f->events, wait_some(f->poll, f->events), TOKEN);
    xpoll_timer_free(t);
}

/* More due timers than the buffer holds: the rest come in the next waits,
 * each exactly once. */
static void expiries_beyond_capacity_come_next_wait(void **state)
{
    struct fixture *f = *state;
    enum { COUNT = 5, CAP = 2 };
    xpoll_events *small = NULL;
    xpoll_timer *t[COUNT];
    int seen[COUNT] = {0};

    assert_int_equal(xpoll_events_new(&small, CAP), 0);
    for (int i = 0; i < COUNT; i++) {
        t[i] = new_timer(f, (xpoll_token)i);
        assert_int_equal(xpoll_timer_set(t[i], 1 * MS, 0), 0);
    }
    spin_until_due(1 * MS);
    const int expected[] = {CAP, CAP, COUNT - 2 * CAP, 0};
    for (size_t w = 0; w < sizeof expected / sizeof expected[0]; w++) {
        int n = xpoll_wait(f->poll, small, 0);
        assert_int_equal(n, expected[w]);
        for (int k = 0; k < n; k++) {
            const xpoll_event *ev = xpoll_events_get(small, (size_t)k);
            assert_true(xpoll_event_is_timer(ev));
            xpoll_token token = xpoll_event_token(ev);
            assert_true(token < COUNT);
            seen[token]++;
        }
    }
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal(seen[i], 1);
        xpoll_timer_free(t[i]);
    }
    xpoll_events_free(small);
}

/* A due timer and a ready descriptor come in the same wait: neither
 * starves the other. */
static void timer_and_descriptor_in_one_wait(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);
    xpoll_socket fds[2];

    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], IO, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    wait_ready(fds[0], XPOLL_READABLE);
    assert_int_equal(xpoll_timer_set(t, 1 * MS, 0), 0);
    spin_until_due(1 * MS);

    xpoll_token tokens[4];
    int n = wait_tokens(f->poll, f->events, 0, tokens, 4);
    assert_true(has_token(tokens, n, TOKEN));
    assert_true(has_token(tokens, n, IO));
    pair_close(pair_simple, fds);
    xpoll_timer_free(t);
}

/* A timer and a descriptor may share a token; the accessor tells their
 * events apart. */
static void timer_may_share_a_token_with_a_descriptor(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, IO);
    xpoll_socket fds[2];

    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], IO, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_timer_set(t, 0, 0), 0);
    assert_one_timer_event(f->events, wait_some(f->poll, f->events), IO);
    put(pair_simple, fds);
    struct seen seen = expect_event(f->poll, f->events, IO);
    assert_true(seen.flags & SEEN_READABLE);
    pair_close(pair_simple, fds);
    xpoll_timer_free(t);
}

/* The waker and the timers' internal wake-up are separate: a wake is
 * reported with the waker's token, and a timer beside it with its own. */
static void timers_and_waker_coexist(void **state)
{
    struct fixture *f = *state;
    xpoll_waker *waker = NULL;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_waker_new(f->poll, OTHER, &waker), 0);
    assert_int_equal(xpoll_waker_wake(waker), 0);
    struct seen seen = expect_event(f->poll, f->events, OTHER);
    assert_true(seen.flags & SEEN_READABLE);
    assert_int_equal(xpoll_timer_set(t, 1 * MS, 0), 0);
    assert_one_timer_event(f->events, wait_some(f->poll, f->events), TOKEN);
    xpoll_waker_free(waker);
    xpoll_timer_free(t);
}

/* ---- other threads ---------------------------------------------------- */

struct setting {
    xpoll_timer *timer;
    int64_t delay;
    int rc;
};

static void set_timer(void *arg)
{
    struct setting *s = arg;
    s->rc = xpoll_timer_set(s->timer, s->delay, 0);
}

/* The poll's first timer is set by another thread while this one is
 * blocked in a wait that began with no timer armed: the wait returns with
 * the timer, not at its own timeout, and without the internal wake-up. */
static void set_from_thread_wakes_a_wait_without_deadline(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);
    struct setting s = {.timer = t, .delay = 1 * MS, .rc = 1};
    struct blocked_action b;

    int64_t start = now_ns();
    blocked_action_start(&b, set_timer, &s);
    int n = xpoll_wait(f->poll, f->events, HANG_NS);
    /* Before the wait's own timeout, at which the timer would be due
     * anyway: the set woke it. */
    assert_true(now_ns() - start < HANG_NS);
    blocked_action_finish(&b);
    assert_int_equal(s.rc, 0);
    assert_one_timer_event(f->events, n, TOKEN);
    expect_no_event(f->poll, f->events, 0);
    xpoll_timer_free(t);
}

/* The waiter sleeps towards a deadline past its own timeout; another
 * thread moves the deadline close: only a wake-up ends this wait with an
 * event. */
static void earlier_deadline_from_thread_cuts_the_wait(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);
    struct setting s = {.timer = t, .delay = 1 * MS, .rc = 1};
    struct blocked_action b;

    assert_int_equal(xpoll_timer_set(t, 2 * HANG_NS, 0), 0);
    /* A first wait settles the poll's state (the first set from any
     * thread wakes the poll once, see xpoll_timer_new). */
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    int64_t start = now_ns();
    blocked_action_start(&b, set_timer, &s);
    int n = xpoll_wait(f->poll, f->events, HANG_NS);
    /* Before the wait's own timeout, at which the timer would be due
     * anyway: the set woke it. */
    assert_true(now_ns() - start < HANG_NS);
    blocked_action_finish(&b);
    assert_int_equal(s.rc, 0);
    assert_one_timer_event(f->events, n, TOKEN);
    expect_no_event(f->poll, f->events, 0);
    xpoll_timer_free(t);
}

/* A timer created by another thread (the poll's first, so its state is
 * made while this thread is blocked in a wait) and set there. */
struct creating {
    xpoll *poll;
    xpoll_timer *timer;
    int rc;
};

static void create_and_set(void *arg)
{
    struct creating *c = arg;
    c->rc = xpoll_timer_new(c->poll, TOKEN, &c->timer);
    if (c->rc == 0)
        c->rc = xpoll_timer_set(c->timer, 1 * MS, 0);
}

static void first_timer_created_by_thread_while_blocked(void **state)
{
    struct fixture *f = *state;
    struct creating c = {.poll = f->poll, .rc = 1};
    struct blocked_action b;

    blocked_action_start(&b, create_and_set, &c);
    int n = xpoll_wait(f->poll, f->events, HANG_NS);
    blocked_action_finish(&b);
    assert_int_equal(c.rc, 0);
    /* The wait that began without timers returns the timer, or (if the
     * wake-up alone ended it) waits on with them. */
    assert_one_timer_event(f->events, n, TOKEN);
    expect_no_event(f->poll, f->events, 0);
    xpoll_timer_free(c.timer);
}

struct cancelling {
    xpoll_timer *cancelled, *later;
    int64_t cancelled_due; /* earliest time its event could come */
    int64_t cancel_done;
    int rc;
};

static void cancel_then_set_later(void *arg)
{
    struct cancelling *c = arg;
    c->rc = xpoll_timer_cancel(c->cancelled);
    c->cancel_done = now_ns();
    if (c->rc == 0)
        c->rc = xpoll_timer_set(c->later, 100 * MS, 0);
}

/* Another thread cancels a timer the waiter sleeps towards, then sets a
 * later one: the first event is the later timer's, and the cancelled one
 * never comes, although its deadline passes during the wait. */
static void cancel_from_thread_while_blocked(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *cancelled = new_timer(f, TOKEN);
    xpoll_timer *later = new_timer(f, OTHER);
    struct cancelling c = {.cancelled = cancelled, .later = later, .rc = 1};
    struct blocked_action b;

    c.cancelled_due = now_ns() + 1 * SEC;
    assert_int_equal(xpoll_timer_set(cancelled, 1 * SEC, 0), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    blocked_action_start(&b, cancel_then_set_later, &c);
    int n = xpoll_wait(f->poll, f->events, HANG_NS);
    blocked_action_finish(&b);
    assert_int_equal(c.rc, 0);
    /* The proof needs the cancel to come before the deadline; a thread
     * held off the processor for a whole second cannot prove it. */
    if (c.cancel_done >= c.cancelled_due)
        fail_msg("the cancelling thread ran only after the deadline");
    assert_one_timer_event(f->events, n, OTHER);
    spin_until(c.cancelled_due + 2 * MS);
    expect_no_event(f->poll, f->events, 0);
    xpoll_timer_free(cancelled);
    xpoll_timer_free(later);
}

/* ---- life cycle and bad input ----------------------------------------- */

static void free_with_armed_timers(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t[3];

    for (int i = 0; i < 3; i++) {
        t[i] = new_timer(f, (xpoll_token)i);
        assert_int_equal(xpoll_timer_set(t[i], 1 * MS, i == 2 ? MS : 0), 0);
    }
    xpoll_timer_free(t[0]);
    spin_until_due(1 * MS);
    xpoll_timer_free(t[2]); /* periodic, due */
    /* Only the timer left can come; the freed ones are gone. */
    assert_one_timer_event(f->events, xpoll_wait(f->poll, f->events, 0), 1);
    expect_no_event(f->poll, f->events, 5 * MS);
    xpoll_timer_free(t[1]);
    xpoll_timer_free(NULL);
}

/* A poll freed with timers that were freed first, armed or not, leaks
 * nothing (the sanitizers and valgrind check it), and its descriptors,
 * the timers' wake-up included, are closed. */
static void poll_with_timers_frees_everything(void **state)
{
    (void)state;
    int before = open_fd_count();
    xpoll *poll = NULL;
    xpoll_timer *a = NULL, *b = NULL;

    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_timer_new(poll, 1, &a), 0);
    assert_int_equal(xpoll_timer_new(poll, 2, &b), 0);
    assert_int_equal(xpoll_timer_set(a, HANG_NS, 0), 0);
    assert_true(open_fd_count() > before);
    xpoll_timer_free(a);
    xpoll_timer_free(b);
    xpoll_free(poll);
    assert_int_equal(open_fd_count(), before);
}

static void new_rejects_null(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = (xpoll_timer *)&t;

    assert_int_equal(xpoll_timer_new(NULL, 1, &t), -EINVAL);
    assert_null(t);
    assert_int_equal(xpoll_timer_new(f->poll, 1, NULL), -EINVAL);
}

/* Bad arguments: -EINVAL, and the timer keeps the deadline it had. */
static void set_rejects_negative_values(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_timer_set(NULL, 0, 0), -EINVAL);
    int64_t before = now_ns();
    assert_int_equal(xpoll_timer_set(t, 20 * MS, 0), 0);
    assert_int_equal(xpoll_timer_set(t, -1, 0), -EINVAL);
    assert_int_equal(xpoll_timer_set(t, 0, -1), -EINVAL);
    assert_int_equal(xpoll_timer_set(t, INT64_MIN, INT64_MIN), -EINVAL);
    assert_one_timer_event(f->events, wait_some(f->poll, f->events), TOKEN);
    assert_true(now_ns() - before >= 20 * MS);
    /* One-shot as set: nothing after. */
    expect_no_event(f->poll, f->events, 10 * MS);
    xpoll_timer_free(t);
}

static void cancel_rejects_null(void **state)
{
    (void)state;
    assert_int_equal(xpoll_timer_cancel(NULL), -EINVAL);
}

/* Deadlines past the clock's range saturate: armed, never due. */
static void huge_delay_saturates(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *t = new_timer(f, TOKEN);

    assert_int_equal(xpoll_timer_set(t, INT64_MAX, INT64_MAX), 0);
    expect_no_event(f->poll, f->events, 0);
    expect_no_event(f->poll, f->events, 5 * MS);
    xpoll_timer_free(t);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(timer_fires_once_with_its_token),
        T(timer_event_has_no_io_flag),
        T(never_before_the_deadline),
        T(unbounded_wait_returns_for_the_timer),
        T(nonblocking_wait_returns_a_due_timer),
        T(wait_timeout_before_deadline_returns_nothing),
        T(timers_come_in_deadline_order),
        T(set_reschedules_later),
        T(set_reschedules_earlier),
        T(set_withdraws_a_due_expiry),
        T(cancel_prevents_the_event),
        T(cancel_withdraws_a_due_expiry),
        T(cancel_unarmed_timer_is_a_no_op),
        T(fired_timer_can_be_set_again),
        T(periodic_repeats_on_its_grid),
        T(periodic_behind_yields_one_event),
        T(expiries_beyond_capacity_come_next_wait),
        T(timer_and_descriptor_in_one_wait),
        T(timer_may_share_a_token_with_a_descriptor),
        T(timers_and_waker_coexist),
        T(set_from_thread_wakes_a_wait_without_deadline),
        T(earlier_deadline_from_thread_cuts_the_wait),
        T(first_timer_created_by_thread_while_blocked),
        T(cancel_from_thread_while_blocked),
        T(free_with_armed_timers),
        cmocka_unit_test(poll_with_timers_frees_everything),
        T(new_rejects_null),
        T(set_rejects_negative_values),
        T(cancel_rejects_null),
        T(huge_delay_saturates),
    };
    return RUN(tests, NULL, NULL);
}
