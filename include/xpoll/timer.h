/*
 * xpoll/timer.h - timers: one more source of events, named by a token.
 *
 * A timer belongs to one poll.  Armed with xpoll_timer_set(), it comes
 * back from that poll's xpoll_wait() as an event carrying its token, for
 * which xpoll_event_is_timer() is true and every other xpoll_event_is_*()
 * false.  It is the idle timeout, the retry and the deadline of a server,
 * without a heap of its own and without folding deadlines into the wait's
 * timeout by hand.
 *
 * Every timer of every backend (epoll, kqueue, poll) is kept by the same
 * code: a hierarchical timing wheel of 1 ms ticks in the library (its
 * design is in docs/timers.md).  Setting, resetting and cancelling are
 * O(1) whatever the number of armed timers, and make no system call and
 * no allocation on the thread that waits; only xpoll_timer_new()
 * allocates.
 *
 * Deadlines are on CLOCK_MONOTONIC.  A timer is never reported before its
 * deadline, and at most one tick (1 ms) after it plus the time the
 * scheduler keeps the waiting thread from running.  While timers are
 * armed, xpoll_wait() cuts its timeout to the nearest deadline (rounded up,
 * so it never wakes early and never spins) and keeps waiting when it wakes
 * with nothing to report before its own timeout.
 *
 * Thread rules, as for registration: any thread may set or cancel a timer
 * while another thread waits.  A deadline earlier than the one the waiter
 * sleeps towards cuts its wait short (one internal wake-up, a system call
 * made by the setting thread); the wake-up itself is never reported.
 *
 * Copyright (c) 2026 the xpoll authors.  MIT licence, see LICENSE.
 */
#ifndef XPOLL_TIMER_H
#define XPOLL_TIMER_H

#include "xpoll/poll.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A timer of one poll. */
typedef struct xpoll_timer xpoll_timer;

/**
 * Create an unarmed timer of `poll` whose events carry `token`.  The
 * token is the caller's, as for registration; a timer and a descriptor
 * may share one (xpoll_event_is_timer() tells their events apart).
 *
 * The first timer of a poll also creates the poll's internal wake-up (an
 * eventfd on Linux, else a pipe), registered with the poll under a token
 * equal to the address of memory the library allocated for the poll's
 * timers; an event with that token is never handed out.  No pointer the
 * caller owns can equal it, so tokens that are pointers never collide;
 * an integer token that happened to equal it would see its events
 * dropped while the poll has timers.
 *
 * Errors: -EINVAL (poll or out NULL), -ENOMEM, -EMFILE/-ENFILE (the first
 * timer's wake-up descriptor), or another negative errno from registering
 * it.  On error *out is NULL (unless out is NULL) and nothing leaks.
 */
XPOLL_API int xpoll_timer_new(xpoll *poll, xpoll_token token,
                              xpoll_timer **out);

/**
 * Arm the timer: its first expiry comes `delay_ns` (>= 0) nanoseconds
 * from now on CLOCK_MONOTONIC.  interval_ns > 0 makes it periodic: it
 * expires again at deadline + k * interval_ns, with no drift however late
 * each event is handled; a periodic timer that fell several intervals
 * behind yields one event, then goes on from the next interval after now.
 * interval_ns == 0 fires once.  Deadlines past the clock's range saturate.
 *
 * Setting an armed timer reschedules it (the idle-timeout pattern: reset
 * on every message), at the cost of a first set; an expiry that is due
 * but not yet handed out is withdrawn.
 *
 * Any thread; see the thread rules above.  Returns 0, or -EINVAL (timer
 * NULL, delay_ns or interval_ns negative), leaving the timer as it was.
 */
XPOLL_API int xpoll_timer_set(xpoll_timer *timer, int64_t delay_ns,
                              int64_t interval_ns);

/**
 * Disarm the timer: no later xpoll_wait() returns its event.  An event
 * already stored in a batch a wait returned stays there, as for a
 * descriptor deregistered after its event was handed out.  Cancelling an
 * unarmed timer does nothing.
 *
 * Any thread.  Returns 0, or -EINVAL (timer NULL).
 */
XPOLL_API int xpoll_timer_cancel(xpoll_timer *timer);

/**
 * Cancel and free the timer.  Must be called before freeing its poll, and
 * not while another thread may still set or cancel it.  NULL is a no-op.
 */
XPOLL_API void xpoll_timer_free(xpoll_timer *timer);

/** Whether the event is a timer's expiry (false for NULL). */
XPOLL_INLINE bool xpoll_event_is_timer(const xpoll_event *event)
{
    return (XPOLL__READINESS(event) & XPOLL__EV_TIMER) != 0;
}

#ifdef __cplusplus
}
#endif

#endif /* XPOLL_TIMER_H */
