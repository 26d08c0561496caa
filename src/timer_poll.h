/*
 * What xpoll_wait() and xpoll_free() (src/poll.c) need from the timers of
 * <xpoll/timer.h> (src/timer.c).  Not installed.
 */
#ifndef XPOLL_TIMER_POLL_H
#define XPOLL_TIMER_POLL_H

#include "sys/selector.h"

/* xpoll_wait() on a poll that has timers (`timers` is poll->timers):
 * hands out due timers and the selector's events together.  The same
 * contract as xpoll_wait(), events->xpoll__len already 0. */
int xpoll__timer_wait(xpoll *poll, struct xpoll__timer_state *timers,
                      xpoll_events *events, int64_t timeout_ns);

/* For a wait that began before the poll had timers and returned n > 0
 * events: removes the timers' internal wake-up from them and returns how
 * many are left. */
int xpoll__timer_drop_wakeup(xpoll *poll, struct xpoll__timer_state *timers,
                             xpoll_events *events, int n);

/* Frees the timers' state, if any (xpoll_free). */
void xpoll__timer_state_free(xpoll *poll);

#endif /* XPOLL_TIMER_POLL_H */
