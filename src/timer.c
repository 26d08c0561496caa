/*
 * Timers (<xpoll/timer.h>): the wheel of src/timers.c behind a mutex, read
 * against CLOCK_MONOTONIC and folded into xpoll_wait().  The same code for
 * every backend; what it needs of one is a descriptor-based internal
 * wake-up (the selector's `interrupt` operations).
 *
 * A poll's timer state is created with its first timer and lives until
 * xpoll_free(), so a poll without timers pays one pointer load per wait.
 *
 * A wait with timers (xpoll__timer_wait):
 *  1. under the lock, reads the clock and hands out due timers first, so
 *     that a busy descriptor set cannot starve them;
 *  2. cuts the timeout to the wheel's next point (0 once a timer was
 *     handed out: the selector is then only polled) and records that a
 *     thread waits, and until when;
 *  3. waits in the selector without the lock, into what is left of the
 *     buffer, and drops the internal wake-up's event if it came;
 *  4. under the lock again, reads the clock and hands out the timers that
 *     came due meanwhile, into what is left;
 *  5. returns if it stored anything or the caller's timeout is over; else
 *     goes back to 2: the wait ended for a cascade of the wheel (a point
 *     earlier than any timer in it) or for a wake-up whose timer was
 *     cancelled since.
 *
 * Another thread's set, whose deadline comes before the end of the wait
 * in progress, writes the wake-up once (interrupted), under the lock.
 * The waiting thread itself never does: it is not waiting when it sets,
 * so its set, cancel and expiry make no system call.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime() under -std=c11 */
#include <errno.h>
#include <stdlib.h>

#include "xpoll.h"
#include "timer_poll.h"
#include "timers.h"
#include "sys/thread.h"

struct xpoll__timer_state {
    xpoll__mutex lock; /* guards everything below */
    /* A thread is in the selector's wait, which ends by itself at
     * wake_at (ns on CLOCK_MONOTONIC; INT64_MAX: never).  `interrupted`:
     * it has been sent the wake-up since it began. */
    bool waiting;
    bool interrupted;
    int64_t wake_at;
    /* The wheel needs no processing before this time (ns): never later
     * than the start of the earliest armed timer's tick, nor than the
     * wheel's next cascade point; INT64_MAX when nothing is armed.  A set
     * lowers it; a cancel leaves it early, which costs one wake that
     * finds nothing.  It spares a wait with nothing due the wheel's work
     * (xpoll__timers_next walks the occupancy words). */
    int64_t next_at;
    /* The internal wake-up: registered READABLE with the poll under the
     * token wakeup_token(state).  Not poll->waker. */
    struct xpoll_waker wakeup;
    struct xpoll__timers wheel;
};

/* The wake-up's token: the state's own address, which no pointer the
 * caller owns can equal while the state exists. */
static xpoll_token wakeup_token(const struct xpoll__timer_state *t)
{
    return (xpoll_token)(uintptr_t)t;
}

static const struct xpoll__waker_ops *wakeup_ops(const xpoll *poll)
{
    return poll->selector->interrupt;
}

static int64_t add_saturated(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* The start of the tick a deadline belongs to: when the wheel hands the
 * timer out (src/timers.h). */
static int64_t tick_start(int64_t deadline)
{
    const int64_t tick = XPOLL__TIMER_TICK_NS;
    /* Without overflow: the last tick of the int64 clock starts below
     * INT64_MAX and must not read as "never". */
    int64_t ticks = deadline / tick + (deadline % tick != 0);
    return ticks > INT64_MAX / tick ? INT64_MAX : ticks * tick;
}

static void state_destroy(struct xpoll__timer_state *t, int armed)
{
    wakeup_ops(t->wakeup.poll)->close(&t->wakeup, armed);
    xpoll__mutex_destroy(&t->lock);
    free(t);
}

static int state_create(xpoll *poll, struct xpoll__timer_state **out)
{
    struct xpoll__timer_state *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    int err = xpoll__mutex_init(&t->lock);
    if (err < 0) {
        free(t);
        return err;
    }
    xpoll__timers_init(&t->wheel, xpoll__clock_ns());
    /* A wait that began before the state existed cut its timeout to no
     * deadline and recorded nothing: the first set from another thread
     * must assume a thread sleeps without limit, and wake it.  (Its
     * event is then dropped by xpoll_wait(), or by the next wait.) */
    t->waiting = true;
    t->wake_at = INT64_MAX;
    t->next_at = INT64_MAX;
    t->wakeup.poll = poll;
    t->wakeup.token = wakeup_token(t);
    t->wakeup.fds[0] = t->wakeup.fds[1] = -1;
    atomic_init(&t->wakeup.pending, 0);

    const struct xpoll__waker_ops *ops = wakeup_ops(poll);
    err = ops->open(&t->wakeup);
    if (err < 0) {
        ops->close(&t->wakeup, 0);
        xpoll__mutex_destroy(&t->lock);
        free(t);
        return err;
    }
    err = ops->arm(&t->wakeup);
    if (err < 0) {
        state_destroy(t, 0);
        return err;
    }
    *out = t;
    return 0;
}

/* The poll's state, created on first use; two threads creating it at
 * once keep the first one published. */
static int state_get(xpoll *poll, struct xpoll__timer_state **out)
{
    struct xpoll__timer_state *t =
        atomic_load_explicit(&poll->timers, memory_order_acquire);
    if (t == NULL) {
        struct xpoll__timer_state *mine, *none = NULL;
        int err = state_create(poll, &mine);
        if (err < 0)
            return err;
        if (atomic_compare_exchange_strong(&poll->timers, &none, mine)) {
            t = mine;
        } else {
            state_destroy(mine, 1);
            t = none;
        }
    }
    *out = t;
    return 0;
}

static struct xpoll__timer_state *state_of(const xpoll_timer *timer)
{
    return atomic_load_explicit(&timer->poll->timers, memory_order_acquire);
}

void xpoll__timer_state_free(xpoll *poll)
{
    struct xpoll__timer_state *t = atomic_load(&poll->timers);
    if (t == NULL)
        return;
    /* Timers the caller did not free are left unarmed, not dangling in
     * freed memory. */
    xpoll__timers_clear(&t->wheel);
    atomic_store(&poll->timers, NULL);
    state_destroy(t, 1);
}

int xpoll_timer_new(xpoll *poll, xpoll_token token, xpoll_timer **out)
{
    struct xpoll__timer_state *t;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (poll == NULL)
        return -EINVAL;
    /* The timer first: a failure after it leaves no state behind. */
    xpoll_timer *timer = malloc(sizeof *timer);
    if (timer == NULL)
        return -ENOMEM;
    int err = state_get(poll, &t);
    if (err < 0) {
        free(timer);
        return err;
    }
    xpoll__timer_init(timer, poll, token);
    *out = timer;
    return 0;
}

int xpoll_timer_set(xpoll_timer *timer, int64_t delay_ns, int64_t interval_ns)
{
    if (timer == NULL || delay_ns < 0 || interval_ns < 0)
        return -EINVAL;
    struct xpoll__timer_state *t = state_of(timer);

    xpoll__mutex_lock(&t->lock);
    int err = xpoll__timers_set(&t->wheel, timer, xpoll__clock_ns(), delay_ns,
                                interval_ns);
    if (err == 0 && tick_start(timer->deadline) < t->next_at)
        t->next_at = tick_start(timer->deadline);
    if (err == 0 && t->waiting && !t->interrupted &&
        timer->deadline < t->wake_at) {
        /* Only another thread gets here (see the top of the file).  A
         * wake-up that fails (it cannot, short of a closed descriptor)
         * leaves the waiter to its own timeout; the next set tries
         * again. */
        t->interrupted = wakeup_ops(timer->poll)->wake(&t->wakeup) == 0;
    }
    xpoll__mutex_unlock(&t->lock);
    return err;
}

int xpoll_timer_cancel(xpoll_timer *timer)
{
    if (timer == NULL)
        return -EINVAL;
    struct xpoll__timer_state *t = state_of(timer);

    /* A wait cut short for this timer finds nothing due and goes on
     * waiting: no wake-up is needed. */
    xpoll__mutex_lock(&t->lock);
    xpoll__timers_cancel(&t->wheel, timer);
    xpoll__mutex_unlock(&t->lock);
    return 0;
}

void xpoll_timer_free(xpoll_timer *timer)
{
    if (timer == NULL)
        return;
    xpoll_timer_cancel(timer);
    free(timer);
}

int xpoll__timer_drop_wakeup(xpoll *poll, struct xpoll__timer_state *t,
                             xpoll_events *events, int n)
{
    struct xpoll_event *items = events->xpoll__items;
    xpoll_token token = wakeup_token(t);
    int kept = 0;

    for (int i = 0; i < n; i++) {
        if (items[i].xpoll__token != token)
            items[kept++] = items[i];
    }
    if (kept < n && t->wakeup.fds[0] >= 0) {
        /* Emptied, then re-armed (the poll backend disarmed it when it
         * reported it): a later write is a new event on every backend.
         * A wake-up without a descriptor (iocp's posted packet) is
         * consumed by being read. */
        const struct xpoll__waker_ops *ops = wakeup_ops(poll);
        if (ops->drain != NULL)
            ops->drain(&t->wakeup);
        (void)xpoll__rearm(poll, t->wakeup.fds[0], XPOLL_READABLE);
    }
    events->xpoll__len = (size_t)kept;
    return kept;
}

/* Hands out due timers into out[0..cap) and renews next_at, unless
 * next_at says nothing can be due yet.  With the lock held. */
static size_t expire(struct xpoll__timer_state *t, int64_t now,
                     struct xpoll_event *out, size_t cap)
{
    if (now < t->next_at || cap == 0)
        return 0;
    size_t n = xpoll__timers_expire(&t->wheel, now, out, cap);
    int64_t next = xpoll__timers_next(&t->wheel, now);
    t->next_at = next < 0 ? INT64_MAX : add_saturated(now, next);
    return n;
}

/* The selector's wait into items[off..capacity): the selector fills a
 * buffer from its start, so it is handed the rest as one. */
static int select_from(xpoll *poll, struct xpoll__timer_state *t,
                       xpoll_events *events, size_t off, int64_t timeout_ns)
{
    struct xpoll_event *items = events->xpoll__items;
    size_t capacity = events->xpoll__capacity;

    events->xpoll__items = items + off;
    events->xpoll__capacity = capacity - off;
    events->xpoll__len = 0;
    int n = poll->selector->select(poll, events, timeout_ns);
    if (n > 0)
        n = xpoll__timer_drop_wakeup(poll, t, events, n);
    events->xpoll__items = items;
    events->xpoll__capacity = capacity;
    return n;
}

int xpoll__timer_wait(xpoll *poll, struct xpoll__timer_state *t,
                      xpoll_events *events, int64_t timeout_ns)
{
    struct xpoll_event *items = events->xpoll__items;
    size_t cap = events->xpoll__capacity;
    size_t n;

    xpoll__mutex_lock(&t->lock);
    int64_t now = xpoll__clock_ns();
    int64_t end = timeout_ns < 0 ? INT64_MAX : add_saturated(now, timeout_ns);
    for (;;) {
        n = expire(t, now, items, cap);
        if (n == cap)
            break;
        int64_t cut = 0;
        if (n == 0) {
            cut = timeout_ns < 0 ? -1 : end - now;
            if (t->next_at != INT64_MAX && (cut < 0 || t->next_at - now < cut))
                cut = t->next_at - now;
        }
        t->waiting = cut != 0;
        t->interrupted = false;
        t->wake_at = cut < 0 ? INT64_MAX : add_saturated(now, cut);
        xpoll__mutex_unlock(&t->lock);

        int got = select_from(poll, t, events, n, cut);

        xpoll__mutex_lock(&t->lock);
        t->waiting = false;
        if (got < 0) {
            if (n == 0) {
                xpoll__mutex_unlock(&t->lock);
                return got; /* -EINTR included, as without timers */
            }
            got = 0; /* the timers handed out must not be lost */
        }
        now = xpoll__clock_ns();
        if (n == 0) {
            /* Only when step 1 handed out nothing: then the selector was
             * only polled, and a periodic timer handed out there could
             * come due again here, twice in one batch. */
            n = (size_t)got;
            n += expire(t, now, items + n, cap - n);
        } else {
            n += (size_t)got;
        }
        if (n > 0 || now >= end)
            break;
    }
    xpoll__mutex_unlock(&t->lock);
    events->xpoll__len = n;
    return (int)n;
}
