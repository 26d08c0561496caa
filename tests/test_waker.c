/*
 * The waker: one readable event per wake the loop has not yet seen, wakes
 * coalesce, it works from other threads, one per poll, and no wake is ever
 * lost under contention.  Its descriptors and signal handlers are in
 * test_waker_posix.c.
 */
#define _GNU_SOURCE
#include "waker_fixture.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

static void no_wake_no_event(void **state)
{
    struct waker_fixture *f = *state;
    expect_no_event(f->poll, f->events, 20 * MS);
}

/* The wake is pending before the wait starts: even a wait that may not
 * block (timeout 0) reports it. */
static void wake_before_wait(void **state)
{
    struct waker_fixture *f = *state;
    assert_int_equal(xpoll_waker_wake(f->waker), 0);
    expect_waker_event(f, 0);
}

static void wakes_coalesce(void **state)
{
    struct waker_fixture *f = *state;
    for (int i = 0; i < 100; i++)
        assert_int_equal(xpoll_waker_wake(f->waker), 0);
    expect_waker_event(f, SEC);
    expect_no_event(f->poll, f->events, 10 * MS);
}

static void wake_after_delivery_is_new_event(void **state)
{
    struct waker_fixture *f = *state;
    for (int round = 0; round < 5; round++) {
        assert_int_equal(xpoll_waker_wake(f->waker), 0);
        expect_waker_event(f, SEC);
        expect_no_event(f->poll, f->events, 0);
    }
}

static void waker_beside_other_events(void **state)
{
    struct waker_fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 7, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    assert_int_equal(xpoll_waker_wake(f->waker), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, SEC), 2);
    xpoll_token a = xpoll_event_token(xpoll_events_get(f->events, 0));
    xpoll_token b = xpoll_event_token(xpoll_events_get(f->events, 1));
    assert_true((a == 7 && b == WAKER) || (a == WAKER && b == 7));
    expect_no_event(f->poll, f->events, 0);
    pair_close(pair_simple, fds);
}

struct waking {
    xpoll_waker *waker;
    int rc;
};

static void wake(void *arg)
{
    struct waking *w = arg;
    w->rc = xpoll_waker_wake(w->waker);
}

/* Another thread wakes the poll once this thread is proven asleep in an
 * unbounded wait (a wake that is pending before the wait would prove
 * nothing); the wait must return with the waker's event.  If waking a
 * blocked wait did not work, the wait would never return: HANG_NS, not -1,
 * turns that into a failure. */
static void wake_from_thread_while_blocked(void **state)
{
    struct waker_fixture *f = *state;
    struct waking w = {.waker = f->waker, .rc = 1};
    struct blocked_action b;
    blocked_action_start(&b, wake, &w);
    int n = xpoll_wait(f->poll, f->events, HANG_NS);
    blocked_action_finish(&b);
    assert_int_equal(w.rc, 0);
    check_waker_event(f, n);
    expect_no_event(f->poll, f->events, 0);
}

static void second_waker_is_eexist(void **state)
{
    struct waker_fixture *f = *state;
    xpoll_waker *second = (xpoll_waker *)&second;
    assert_int_equal(xpoll_waker_new(f->poll, 1, &second), -EEXIST);
    assert_null(second);
    /* The first one is unharmed. */
    assert_int_equal(xpoll_waker_wake(f->waker), 0);
    expect_waker_event(f, SEC);
}

static void waker_can_be_replaced(void **state)
{
    struct waker_fixture *f = *state;
    xpoll_waker_free(f->waker);
    f->waker = NULL;
    expect_no_event(f->poll, f->events, 0);
    assert_int_equal(xpoll_waker_new(f->poll, WAKER, &f->waker), 0);
    assert_int_equal(xpoll_waker_wake(f->waker), 0);
    expect_waker_event(f, SEC);
}

static void waker_new_rejects_null(void **state)
{
    struct waker_fixture *f = *state;
    xpoll_waker *w = (xpoll_waker *)&w;
    assert_int_equal(xpoll_waker_new(NULL, 1, &w), -EINVAL);
    assert_null(w);
    assert_int_equal(xpoll_waker_new(f->poll, 1, NULL), -EINVAL);
    assert_int_equal(xpoll_waker_wake(NULL), -EINVAL);
}

/* ---- no lost wake under contention --------------------------------------- */

enum { PRODUCERS = 4, ITEMS = 20000 };

struct contention {
    xpoll_waker *waker;
    atomic_int produced;
    int failures;
    pthread_t threads[PRODUCERS];
};

static void *produce(void *arg)
{
    struct contention *c = arg;
    for (int i = 0; i < ITEMS; i++) {
        atomic_fetch_add(&c->produced, 1);
        if (xpoll_waker_wake(c->waker) != 0)
            c->failures++;
    }
    return NULL;
}

/* The libuv async pattern: publish, then wake; the loop consumes after
 * each waker event.  A lost wake leaves items unseen and the loop waiting
 * for an event that never comes. */
static void no_wake_lost_under_contention(void **state)
{
    struct waker_fixture *f = *state;
    struct contention c = {.waker = f->waker};
    atomic_init(&c.produced, 0);
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_create(&c.threads[i], NULL, produce, &c), 0);

    int consumed = 0, wakeups = 0;
    while (consumed < PRODUCERS * ITEMS) {
        /* Every item published after the last load comes with a wake,
         * so the wait ends at once unless a wake was lost. */
        int n = xpoll_wait(f->poll, f->events, HANG_NS);
        if (n == 0)
            fail_msg("lost wake: %d of %d items seen", consumed,
                     PRODUCERS * ITEMS);
        assert_int_equal(n, 1);
        wakeups++;
        consumed = atomic_load(&c.produced);
    }
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_join(c.threads[i], NULL), 0);
    assert_int_equal(c.failures, 0);
    /* Never more events than wakes. */
    assert_true(wakeups <= PRODUCERS * ITEMS);
    /* Quiet afterwards, unless the last wakes raced with the last event. */
    int n = xpoll_wait(f->poll, f->events, 0);
    assert_true(n == 0 || n == 1);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, waker_setup, waker_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(no_wake_no_event),
        T(wake_before_wait),
        T(wakes_coalesce),
        T(wake_after_delivery_is_new_event),
        T(waker_beside_other_events),
        T(wake_from_thread_while_blocked),
        T(second_waker_is_eexist),
        T(waker_can_be_replaced),
        T(waker_new_rejects_null),
        T(no_wake_lost_under_contention),
    };
    return RUN(tests, NULL, NULL);
}
