/*
 * The fixture test_waker.c and test_waker_posix.c share: a poll with a
 * waker and an event buffer, and the check of the waker's event.
 */
#ifndef XPOLL_TESTS_WAKER_FIXTURE_H
#define XPOLL_TESTS_WAKER_FIXTURE_H

#include "support.h"

#include <stdlib.h>

enum { WAKER = 0xa11ce };

struct waker_fixture {
    xpoll *poll;
    xpoll_events *events;
    xpoll_waker *waker;
};

static inline int waker_setup(void **state)
{
    struct waker_fixture *f = calloc(1, sizeof *f);
    if (f == NULL || xpoll_new(&f->poll) != 0 ||
        xpoll_events_new(&f->events, 16) != 0 ||
        xpoll_waker_new(f->poll, WAKER, &f->waker) != 0)
        return -1;
    *state = f;
    return 0;
}

static inline int waker_teardown(void **state)
{
    struct waker_fixture *f = *state;
    xpoll_waker_free(f->waker);
    xpoll_events_free(f->events);
    xpoll_free(f->poll);
    free(f);
    return 0;
}

/* A wait that returned `n` got exactly one event, the waker's, readable
 * and nothing else. */
static inline void check_waker_event(struct waker_fixture *f, int n)
{
    assert_int_equal(n, 1);
    const xpoll_event *ev = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(ev), WAKER);
    assert_true(xpoll_event_is_readable(ev));
    assert_false(xpoll_event_is_writable(ev));
    assert_false(xpoll_event_is_error(ev));
    assert_false(xpoll_event_is_read_closed(ev));
}

static inline void expect_waker_event(struct waker_fixture *f,
                                      int64_t timeout_ns)
{
    check_waker_event(f, xpoll_wait(f->poll, f->events, timeout_ns));
}

#endif /* XPOLL_TESTS_WAKER_FIXTURE_H */
