/*
 * fuzz_timer_wait - a model-based fuzzer of the public timers
 * (<xpoll/timer.h>, src/timer.c) as xpoll_wait() (src/poll.c) folds them
 * into a wait, on a virtual clock.
 *
 * The test compiles src/poll.c, src/events.c, src/timer.c and
 * src/timers.c itself with XPOLL_TEST_CLOCK, which makes
 * xpoll__clock_ns() (src/sys/thread.h) return xpoll__test_clock_ns(),
 * defined here; the library is never built so.  The poll's only backend
 * is a fake selector defined here (xpoll__selectors), and its `interrupt`
 * operations are a fake wake-up:
 *
 *  - select() "sleeps" by moving the virtual clock: by its whole timeout,
 *    or later (scheduling delay), or returns early as the input says
 *    (-EINTR, made-up I/O events with tokens no timer has, or, in a wait
 *    with timers, 0 events: a spurious wake).  It records the timeout it
 *    was given.  With a timeout of -1 it cannot sleep for ever: it
 *    returns an I/O event after a while.
 *  - While in select(), the lock of the timers is not held: the input may
 *    act there as another thread would while the waiter is blocked (set,
 *    cancel, create a timer; the first timer of a poll included).
 *  - wake() records the call and makes the wake-up's event (the token
 *    register_fd was given) pending; select() then returns it at once,
 *    as a real one would.  As the poll backend does, a reported wake-up
 *    stays disarmed until rearm and pending until drained.  The input
 *    may make a wake() fail, as on a closed descriptor.
 *
 * Beside it runs a reference model: per timer (plain arrays) whether it
 * is armed, its deadline (clock at set + delay, saturated) and interval.
 * A timer is due once the clock reaches the start of its 1-ms tick
 * (ceil); a periodic one then moves to deadline + k * interval for the
 * smallest k that puts it after the time it was handed out.  The checks,
 * from the contract in <xpoll/timer.h>, src/timer.c and docs/timers.md:
 *
 *  - set: -EINVAL for a negative delay or interval with the timer
 *    unchanged; cancel and free: the timer is never reported again.
 *  - wake(): a set whose deadline comes before the time a waiter sleeps
 *    towards (select's start + its timeout; none with a timeout of 0)
 *    writes the wake-up, once per select (again after a failed one); no
 *    other set, cancel or expiry does (so the waiting thread's own never
 *    make that system call).  A new poll state counts as "a thread waits
 *    without limit" until its first wait: the first set after it writes
 *    the wake-up once.
 *  - timer events handed out before the selector was called (the part
 *    of the buffer below what select() is given) are due at the time of
 *    that call; those after the selector's events are due at the time
 *    the wait returns.  Never early, each timer at most once per batch,
 *    none after cancel or free, and the periodic re-arm as above (seen
 *    through the events, never the wheel's internals, which the layer
 *    is free to update when it likes).
 *  - none lost: whenever the layer read the clock and handed out timers
 *    into a buffer with room left (before each select(), and after it
 *    when nothing was handed out before), no timer due then is left
 *    behind.  With the cut below, a timer is at most one tick late.
 *  - the selector's events come back untouched and in order; the
 *    wake-up's never; it is drained and re-armed before the wait
 *    returns; events from select() are never dropped by waiting again.
 *  - the timeout given to select(): 0 once timers were handed out; else
 *    never past the caller's remaining timeout nor the earliest armed
 *    timer's tick start, and never 0 while time remains (no busy loop);
 *    -1 only with no armed timer in reach.  A poll without timers gives
 *    select() the caller's timeout as it is.  A poll whose first timer
 *    was created during that wait waits again, whole timeout, if the
 *    wake-up was all it got.
 *  - the wait returns 0 only once its timeout has passed (or was 0, or
 *    the clock reached INT64_MAX, its end), and -EINTR only as select()
 *    did with nothing handed out.
 *
 * A failed check prints the last operations and aborts (libFuzzer saves
 * the input).  Built as a libFuzzer target with clang (XPOLL_BUILD_FUZZ),
 * and as a replay of the checked-in corpus in every build (replay_main.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "xpoll.h"
#include "sys/selector.h"
#include "sys/thread.h"
#include "sys/env.h"
#include "timers.h"
#include "fuzz_check.h"
#include "fuzz_ops.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NT         16 /* timers */
#define EV_MAX     16 /* largest event buffer */
#define IO_MAX     4  /* I/O events one select() makes up */
#define MAX_OPS    300
#define MAX_SELECT 100000 /* per wait: more is an endless loop */
#define TICK       XPOLL__TIMER_TICK_NS
#define DAY        (INT64_C(86400) * 1000000000)
#define TOKEN0     0x5000u /* timer i: TOKEN0 + i */
#define IO_TOKEN0  0x7000u /* made-up I/O events: IO_TOKEN0 + 0..4095 */
#define FAKE_FD    0x10000 /* the fake wake-up's descriptor */
#define INF        INT64_MAX

/* ---- the virtual clock -------------------------------------------------
 */

static int64_t vnow; /* never decreases */

int64_t xpoll__test_clock_ns(void)
{
    return vnow;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return b > INT64_MAX - a ? INT64_MAX : a + b;
}

static void advance(int64_t step)
{
    vnow = sat_add(vnow, step);
}

/* ---- the model ---------------------------------------------------------
 */

struct model {
    xpoll_timer *timer; /* NULL: slot free */
    bool armed;
    int64_t deadline;
    int64_t interval;
};
static struct model model[NT];

/* The layer's record of a waiting thread, as documented: set at each
 * select() of a wait with timers, "waits without limit" for a new state;
 * a set wakes it once when its deadline comes before wake_at. */
static struct {
    bool waiting;
    bool interrupted;
    int64_t wake_at;
} st;

static uint64_t tick_of(int64_t deadline)
{
    return (uint64_t)(deadline / TICK) + (deadline % TICK != 0);
}

static bool due_at(int i, int64_t at)
{
    return model[i].timer != NULL && model[i].armed &&
           tick_of(model[i].deadline) <= (uint64_t)at / TICK;
}

/* The earliest armed tick's start, if one is armed and within the int64
 * clock. */
static bool earliest_start(int64_t *start)
{
    bool any = false;
    for (int i = 0; i < NT; i++) {
        if (model[i].timer == NULL || !model[i].armed)
            continue;
        uint64_t tick = tick_of(model[i].deadline);
        if (tick > (uint64_t)(INT64_MAX / TICK))
            continue;
        if (!any || (int64_t)tick * TICK < *start)
            *start = (int64_t)tick * TICK;
        any = true;
    }
    return any;
}

/* The first deadline + k * interval (k >= 1) after `at`, by division;
 * INT64_MAX where it would not fit. */
static int64_t model_next_period(int64_t deadline, int64_t interval, int64_t at)
{
    int64_t k = (at - deadline) / interval + 1;
    if (k > (INT64_MAX - deadline) / interval)
        return INT64_MAX;
    return deadline + k * interval;
}

/* ---- the fake selector and wake-up ------------------------------------
 */

static xpoll *poll_;

static struct {
    bool opened, registered, armed, pending, reported;
    xpoll_token token; /* what register_fd was given */
    unsigned opens, closes, wakes, drains, rearms;
    unsigned io_seq;
    bool fail_next_wake;
} fk;

/* The wait in progress (op_wait) and its last select(). */
struct sel {
    int64_t start, timeout;
    size_t off; /* where in the caller's buffer select() was to write */
    bool with_timers;
    int ret;
    size_t io; /* I/O events returned (the wake-up not counted) */
    struct xpoll_event io_ev[IO_MAX];
    struct xpoll_event prefix[EV_MAX]; /* the buffer below off */
};
static struct {
    bool active;
    xpoll_events *events;
    struct xpoll_event *base;
    size_t cap;
    int64_t timeout, origin;
    unsigned selects;
    bool seen[NT];
    struct sel last;
} w;

static void fuzz_dump_state(void)
{
    fprintf(stderr, "now %" PRId64 " (tick %" PRIu64 ")\n", vnow,
            (uint64_t)vnow / TICK);
    for (int i = 0; i < NT; i++) {
        if (model[i].timer == NULL)
            continue;
        fprintf(stderr,
                "  timer %2d model: armed %d deadline %" PRId64
                " (tick %" PRIu64 ") interval %" PRId64
                " | layer: slot %" PRIu32 " deadline %" PRId64 "\n",
                i, model[i].armed, model[i].deadline,
                tick_of(model[i].deadline), model[i].interval,
                model[i].timer->slot, model[i].timer->deadline);
    }
    fprintf(stderr,
            "wake-up: registered %d armed %d pending %d; wakes %u drains %u "
            "rearms %u; model: waiting %d interrupted %d wake_at %" PRId64 "\n",
            fk.registered, fk.armed, fk.pending, fk.wakes, fk.drains, fk.rearms,
            st.waiting, st.interrupted, st.wake_at);
    if (w.active || w.selects > 0)
        fprintf(stderr,
                "wait: timeout %" PRId64 " origin %" PRId64 " cap %zu, "
                "%u select(s); last: start %" PRId64 " timeout %" PRId64
                " off %zu with_timers %d ret %d io %zu\n",
                w.timeout, w.origin, w.cap, w.selects, w.last.start,
                w.last.timeout, w.last.off, w.last.with_timers, w.last.ret,
                w.last.io);
    ops_print_log();
}

static int wk_open(xpoll_waker *waker)
{
    FUZZ_CHECK(!fk.opened, "a second wake-up opened");
    fk.opened = true;
    fk.opens++;
    waker->fds[0] = FAKE_FD;
    return 0;
}

static int wk_arm(xpoll_waker *waker)
{
    return waker->poll->selector->register_fd(waker->poll, waker->fds[0],
                                              waker->token, XPOLL_READABLE);
}

static int wk_wake(xpoll_waker *waker)
{
    FUZZ_CHECK(fk.registered && waker->fds[0] == FAKE_FD &&
                   waker->token == fk.token,
               "wake() of an unregistered wake-up");
    fk.wakes++;
    note("  wake() #%u%s", fk.wakes, fk.fail_next_wake ? " fails" : "");
    if (fk.fail_next_wake) {
        fk.fail_next_wake = false;
        return -EBADF;
    }
    fk.pending = true;
    return 0;
}

static void wk_close(xpoll_waker *waker, int armed)
{
    FUZZ_CHECK(fk.opened && armed == fk.registered,
               "close(armed %d), registered %d", armed, fk.registered);
    if (armed)
        waker->poll->selector->deregister_fd(waker->poll, waker->fds[0]);
    fk.opened = false;
    fk.closes++;
}

static void wk_drain(xpoll_waker *waker)
{
    FUZZ_CHECK(waker->fds[0] == FAKE_FD, "drain of fd %d", waker->fds[0]);
    fk.pending = false;
    fk.reported = false;
    fk.drains++;
}

static const struct xpoll__waker_ops fake_wakeup = {
    .open = wk_open,
    .arm = wk_arm,
    .wake = wk_wake,
    .close = wk_close,
    .drain = wk_drain,
};

static int fake_open(xpoll *poll)
{
    poll->fd = -ENOTSUP;
    return 0;
}

static void fake_close(xpoll *poll)
{
    (void)poll;
}

static int fake_register(xpoll *poll, int fd, xpoll_token token,
                         xpoll_interests interests)
{
    FUZZ_CHECK(poll == poll_ && fd == FAKE_FD && !fk.registered &&
                   interests == XPOLL_READABLE,
               "register_fd(%d, %#x), registered %d", fd, (unsigned)interests,
               fk.registered);
    /* The reserved token must not look like any event this test makes. */
    FUZZ_CHECK(token - TOKEN0 >= NT && token - IO_TOKEN0 >= 4096,
               "wake-up token %#" PRIx64, (uint64_t)token);
    fk.registered = fk.armed = true;
    fk.token = token;
    return 0;
}

static int fake_reregister(xpoll *poll, int fd, xpoll_token token,
                           xpoll_interests interests)
{
    (void)poll;
    (void)token;
    (void)interests;
    FUZZ_CHECK(false, "reregister_fd(%d)", fd);
    return -ENOSYS;
}

static int fake_deregister(xpoll *poll, int fd)
{
    (void)poll;
    FUZZ_CHECK(fd == FAKE_FD && fk.registered, "deregister_fd(%d)", fd);
    fk.registered = false;
    return 0;
}

static int fake_rearm(xpoll *poll, int fd, xpoll_interests interests)
{
    (void)poll;
    FUZZ_CHECK(fd == FAKE_FD && fk.registered && interests == XPOLL_READABLE,
               "rearm(%d, %#x)", fd, (unsigned)interests);
    fk.armed = true;
    fk.rearms++;
    return 0;
}

static int fake_select(xpoll *poll, xpoll_events *events, int64_t timeout);

static const struct xpoll__selector fake_selector = {
    .backend = XPOLL_BACKEND_POLL,
    .interests = XPOLL__ALL_INTERESTS,
    .native_event_size = 0,
    .waker = NULL,
    .interrupt = &fake_wakeup,
    .open = fake_open,
    .close = fake_close,
    .register_fd = fake_register,
    .reregister_fd = fake_reregister,
    .deregister_fd = fake_deregister,
    .rearm = fake_rearm,
    .select = fake_select,
};

/* The poll's only backend (src/sys/selectors.c is not compiled in). */
const struct xpoll__selector *const xpoll__selectors[] = {&fake_selector, NULL};

/* No environment steers this poll (src/sys/env.c is not compiled in). */
const char *xpoll__secure_getenv(const char *name)
{
    (void)name;
    return NULL;
}

static bool has_state(void)
{
    return atomic_load(&poll_->timers) != NULL;
}

/* ---- operations on timers (the caller's thread, or "another thread"
 * inside select()) --------------------------------------------------------
 */

static int64_t gen_level_delay(unsigned level)
{
    uint64_t ticks =
        (UINT64_C(1) << (6 * level)) + take(4) % (UINT64_C(63) << (6 * level));
    return (int64_t)ticks * TICK + (int64_t)(take(3) % (uint64_t)TICK);
}

static int64_t gen_delay(void)
{
    unsigned kind = (unsigned)take(1) % 10;
    switch (kind) {
    case 0:
        return 0;
    case 1:
        return (int64_t)(take(3) % (uint64_t)(3 * TICK));
    case 2:
    case 3:
    case 4:
    case 5:
        return gen_level_delay(kind - 2);
    case 6:
        return gen_level_delay(4 + (unsigned)take(1) % 2);
    case 7:
        return INT64_MAX - (int64_t)take(4);
    case 8:
        return (int64_t)take(1) * DAY + (int64_t)take(4);
    default:
        return -1 - (int64_t)take(2);
    }
}

static int64_t gen_interval(void)
{
    switch (take(1) % 8) {
    case 5:
        return 1 + (int64_t)(take(3) % (uint64_t)(64 * TICK));
    case 6:
        return 1 + gen_level_delay((unsigned)take(1) % 4);
    case 7:
        return take(1) & 1 ? -1 : INT64_MAX - (int64_t)take(2);
    default:
        return 0;
    }
}

static void do_new(int i)
{
    bool had_state = has_state();
    xpoll_timer *timer = NULL;
    int rc = xpoll_timer_new(poll_, TOKEN0 + (xpoll_token)i, &timer);
    note("new %d%s -> %d", i, had_state ? "" : " (first)", rc);
    FUZZ_CHECK(rc == 0 && timer != NULL, "xpoll_timer_new: %d", rc);
    FUZZ_CHECK(!xpoll__timer_is_armed(timer), "a new timer is armed");
    model[i].timer = timer;
    model[i].armed = false;
    if (!had_state) {
        FUZZ_CHECK(has_state() && fk.opens == 1 && fk.registered && fk.armed,
                   "the first timer left no registered wake-up");
        st.waiting = true;
        st.interrupted = false;
        st.wake_at = INF;
    }
}

/* xpoll_timer_set and the model; `fail` makes the wake-up's write fail. */
static void do_set(int i, int64_t delay, int64_t interval, bool fail)
{
    struct xpoll_timer before = *model[i].timer;
    unsigned wakes = fk.wakes;
    fk.fail_next_wake = fail;
    int rc = xpoll_timer_set(model[i].timer, delay, interval);
    note("set %d delay %" PRId64 " interval %" PRId64 " at %" PRId64 " -> %d",
         i, delay, interval, vnow, rc);
    fk.fail_next_wake = false;
    if (delay < 0 || interval < 0) {
        FUZZ_CHECK(rc == -EINVAL, "set with negative values: %d", rc);
        FUZZ_CHECK(memcmp(&before, model[i].timer, sizeof before) == 0,
                   "-EINVAL changed the timer");
        FUZZ_CHECK(fk.wakes == wakes, "a failed set wrote the wake-up");
        return;
    }
    FUZZ_CHECK(rc == 0, "set: %d", rc);
    int64_t deadline = sat_add(vnow, delay);
    bool wake = st.waiting && !st.interrupted && deadline < st.wake_at;
    FUZZ_CHECK(fk.wakes - wakes == (unsigned)wake,
               "set to %" PRId64 " (waiter wakes at %" PRId64
               ", waiting %d, woken %d): %u wake-up(s)",
               deadline, st.wake_at, st.waiting, st.interrupted,
               fk.wakes - wakes);
    if (wake && !fail) {
        st.interrupted = true;
        FUZZ_CHECK(fk.armed, "wake-up written while its registration is "
                             "disarmed: the waiter would not see it");
    }
    model[i].armed = true;
    model[i].deadline = deadline;
    model[i].interval = interval;
}

static void do_cancel(int i)
{
    unsigned wakes = fk.wakes;
    int rc = xpoll_timer_cancel(model[i].timer);
    note("cancel %d -> %d", i, rc);
    FUZZ_CHECK(rc == 0, "cancel: %d", rc);
    FUZZ_CHECK(fk.wakes == wakes, "cancel wrote the wake-up");
    model[i].armed = false;
}

/* Picks a timer for set or cancel, creating one if there is none. */
static int pick_timer(void)
{
    int i = (int)(take(1) % NT);
    for (int k = 0; k < NT; k++) {
        if (model[(i + k) % NT].timer != NULL)
            return (i + k) % NT;
    }
    do_new(i);
    return i;
}

static void op_set(bool reset_like)
{
    int i = pick_timer();
    int64_t delay = gen_delay();
    int64_t interval = gen_interval();
    /* The idle-timeout pattern: about the same deadline again. */
    if (reset_like && model[i].armed && model[i].deadline > vnow && delay >= 0)
        delay = sat_add(model[i].deadline - vnow, delay % (2 * TICK));
    do_set(i, delay, interval, false);
}

/* As another thread would, while the waiter is in select(). */
static void concurrent_op(void)
{
    switch (take(1) % 5) {
    case 0:
    case 1:
    case 2: {
        int i = pick_timer();
        int64_t delay = gen_delay();
        do_set(i, delay, gen_interval(), (take(1) & 15) == 15);
        break;
    }
    case 3:
        do_cancel(pick_timer());
        break;
    default: {
        int i = (int)(take(1) % NT);
        if (model[i].timer == NULL)
            do_new(i);
        do_set(i, gen_delay(), gen_interval(), false);
        break;
    }
    }
}

/* ---- the fake select() ------------------------------------------------
 */

/* A timer event handed out at `at`: due then, once per batch; fires the
 * model's timer. */
static void fire(const struct xpoll_event *event, int64_t at)
{
    struct xpoll_event e = *event;
    uint64_t i = e.xpoll__token - TOKEN0;
    FUZZ_CHECK(e.xpoll__readiness == XPOLL__EV_TIMER && i < NT,
               "unexpected event: token %#" PRIx64 " readiness %#x",
               (uint64_t)e.xpoll__token, (unsigned)e.xpoll__readiness);
    FUZZ_CHECK(xpoll_event_is_timer(event) && !xpoll_event_is_readable(event),
               "the accessors do not see a timer");
    FUZZ_CHECK(model[i].timer != NULL && model[i].armed,
               "timer %" PRIu64 " fired, not armed", i);
    FUZZ_CHECK(due_at((int)i, at),
               "timer %" PRIu64 " fired early: deadline %" PRId64
               " handed out at %" PRId64,
               i, model[i].deadline, at);
    FUZZ_CHECK(!w.seen[i], "timer %" PRIu64 " twice in one batch", i);
    w.seen[i] = true;
    note("  timer %" PRIu64 " out at %" PRId64, i, at);
    if (model[i].interval > 0) {
        int64_t next =
            model_next_period(model[i].deadline, model[i].interval, at);
        if (next > at)
            model[i].deadline = next;
        else
            model[i].armed = false;
    } else {
        model[i].armed = false;
    }
}

/* None of the model's timers is due at `at`. */
static void check_none_due(int64_t at, const char *when)
{
    for (int i = 0; i < NT; i++)
        FUZZ_CHECK(!due_at(i, at),
                   "timer %d (deadline %" PRId64 ") due at %" PRId64
                   " but not handed out %s",
                   i, model[i].deadline, at, when);
}

/* Moves the clock within select(), never past `until` unless the
 * select() has no limit. */
static void advance_within(bool unlimited, int64_t until)
{
    if (unlimited) {
        switch (take(1) % 3) {
        case 0:
            advance((int64_t)(take(3) % (uint64_t)(4 * TICK)));
            break;
        case 1:
            advance((int64_t)take(2) * TICK);
            break;
        default:
            advance((int64_t)take(1) * DAY);
            break;
        }
        return;
    }
    uint64_t room = (uint64_t)(until - vnow) + 1;
    switch (take(1) % 3) {
    case 0:
        vnow += (int64_t)(take(3) % room);
        break;
    case 1:
        vnow += (int64_t)(((room - 1) / 256) * take(1));
        break;
    default: /* just before the end */
        vnow = until - (int64_t)(take(2) % room);
        break;
    }
}

/* Fills events with n_io made-up I/O events and, if `wakeup`, the
 * wake-up's event among them; returns their number. */
static int report(xpoll_events *events, size_t n_io, bool wakeup)
{
    struct xpoll_event *items = events->xpoll__items;
    size_t total = n_io + wakeup;
    size_t at = wakeup ? (size_t)(take(1) % (n_io + 1)) : SIZE_MAX;
    static const uint32_t kinds[] = {
        XPOLL__EV_IN,
        XPOLL__EV_OUT,
        XPOLL__EV_IN | XPOLL__EV_OUT,
        XPOLL__EV_IN | XPOLL__EV_RDHUP,
        XPOLL__EV_ERR | XPOLL__EV_HUP,
    };
    size_t k = 0;
    for (size_t j = 0; j < total; j++) {
        struct xpoll_event e;
        if (j == at) {
            e.xpoll__readiness = XPOLL__EV_IN;
            e.xpoll__token = fk.token;
        } else {
            e.xpoll__readiness = kinds[take(1) % 5];
            e.xpoll__token = IO_TOKEN0 + (fk.io_seq++ % 4096);
            w.last.io_ev[k++] = e;
        }
        items[j] = e;
    }
    if (wakeup) {
        fk.armed = false; /* as the poll backend, until rearm */
        fk.reported = true;
    }
    w.last.io = n_io;
    w.last.ret = (int)total;
    events->xpoll__len = total;
    note("  select -> %zu event(s)%s at %" PRId64, total,
         wakeup ? " with the wake-up" : "", vnow);
    return (int)total;
}

static int fake_select(xpoll *poll, xpoll_events *events, int64_t timeout)
{
    FUZZ_CHECK(w.active && poll == poll_ && events == w.events,
               "select outside a wait");
    uintptr_t at = (uintptr_t)events->xpoll__items;
    uintptr_t base = (uintptr_t)w.base;
    FUZZ_CHECK(at >= base && (at - base) % sizeof *w.base == 0 &&
                   (at - base) / sizeof *w.base < w.cap,
               "select into %p, buffer %p", (void *)events->xpoll__items,
               (void *)w.base);
    size_t off = (at - base) / sizeof *w.base;
    FUZZ_CHECK(events->xpoll__capacity == w.cap - off &&
                   events->xpoll__len == 0,
               "select given capacity %zu len %zu at offset %zu of %zu",
               events->xpoll__capacity, events->xpoll__len, off, w.cap);
    bool with_timers = has_state();
    int64_t start = vnow;
    note("  select timeout %" PRId64 " off %zu%s at %" PRId64, timeout, off,
         with_timers ? "" : " (no timers)", start);

    if (w.selects > 0) {
        /* Only a wait that got nothing goes back to the selector. */
        FUZZ_CHECK(w.last.ret >= 0 && w.last.io == 0 && w.last.off == 0,
                   "waited again after select returned %d (%zu I/O "
                   "events, %zu timers before it)",
                   w.last.ret, w.last.io, w.last.off);
    }
    bool first_timed = with_timers && (w.selects == 0 || !w.last.with_timers);
    if (with_timers && w.selects > 0 && !w.last.with_timers)
        w.origin = start; /* the first timer came during the last select */
    int64_t end = w.timeout < 0 ? INF : sat_add(w.origin, w.timeout);

    if (!with_timers) {
        FUZZ_CHECK(w.selects == 0 && off == 0 && timeout == w.timeout,
                   "a poll without timers: select timeout %" PRId64
                   " for the caller's %" PRId64,
                   timeout, w.timeout);
    } else {
        FUZZ_CHECK(first_timed || w.timeout < 0 || start < end,
                   "waits again at %" PRId64 ", the timeout ended at %" PRId64,
                   start, end);
        /* What was handed out before this call, at its time. */
        for (size_t k = 0; k < off; k++)
            fire(&w.base[k], start);
        memcpy(w.last.prefix, w.base, off * sizeof *w.base);
        check_none_due(start, "before select");

        int64_t first;
        bool armed = earliest_start(&first);
        if (off > 0) {
            FUZZ_CHECK(timeout == 0,
                       "select timeout %" PRId64 " with %zu timers in hand",
                       timeout, off);
        } else if (w.timeout >= 0) {
            FUZZ_CHECK(timeout >= 0 && timeout <= end - start,
                       "select timeout %" PRId64 ", %" PRId64
                       " left of the caller's",
                       timeout, end - start);
            FUZZ_CHECK(timeout > 0 || end == start,
                       "select timeout 0 with nothing due and %" PRId64
                       " left: a busy loop",
                       end - start);
        } else {
            FUZZ_CHECK(timeout != 0, "select timeout 0 with nothing due");
        }
        if (off == 0 && armed) {
            FUZZ_CHECK(timeout >= 0 && timeout <= first - start,
                       "select timeout %" PRId64 " past the earliest tick "
                       "start %" PRId64 " (in %" PRId64 ")",
                       timeout, first, first - start);
        }
        st.waiting = timeout != 0;
        st.interrupted = false;
        st.wake_at = timeout < 0 ? INF : sat_add(start, timeout);
    }

    FUZZ_CHECK(++w.selects <= MAX_SELECT, "%u selects in one wait", w.selects);
    w.last.start = start;
    w.last.timeout = timeout;
    w.last.off = off;
    w.last.with_timers = with_timers;
    w.last.ret = 0;
    w.last.io = 0;

    size_t room = events->xpoll__capacity;
    size_t io_room = room < IO_MAX ? room : IO_MAX;
    bool unlimited = timeout < 0;
    int64_t until = unlimited ? INF : sat_add(start, timeout);
    int ret;
    for (int ops = 0;; ops++) {
        if (fk.pending && fk.armed) {
            /* A real selector returns at once with the wake-up. */
            size_t n_io = (size_t)(take(1) % io_room);
            ret = report(events, n_io, true);
            break;
        }
        unsigned action = (unsigned)take(1) % 10;
        if (action >= 7 && ops < 4) {
            advance_within(unlimited, until);
            note("  another thread, at %" PRId64 ":", vnow);
            concurrent_op();
            continue;
        }
        /* An early wake with nothing, which a wait with timers must take
         * in its stride.  Not without timers: there xpoll_wait() returns
         * what select() does, and a real one returns 0 only once its
         * timeout has passed (<xpoll/poll.h>, xpoll_wait). */
        if (action == 4 && with_timers) {
            advance_within(unlimited, until);
            ret = report(events, 0, false);
        } else if (action == 5) {
            advance_within(unlimited, until);
            note("  select -> -EINTR at %" PRId64, vnow);
            w.last.ret = ret = -EINTR;
        } else if (action == 6) {
            advance_within(unlimited, until);
            ret = report(events, 1 + (size_t)(take(1) % io_room), false);
        } else if (unlimited) {
            /* It cannot sleep for ever: something comes. */
            advance_within(unlimited, until);
            ret = report(events, 1, false);
        } else { /* the whole timeout, maybe late */
            vnow = until;
            if (take(1) & 1)
                advance((int64_t)take(2) * 1000);
            ret = report(events, 0, false);
        }
        break;
    }
    if (with_timers)
        st.waiting = false;
    return ret;
}

/* ---- the caller's operations -------------------------------------------
 */

static int64_t gen_timeout(void)
{
    int64_t first;
    switch (take(1) % 10) {
    case 0:
        return 0;
    case 1:
        return -1;
    case 2:
        return (int64_t)(take(3) % (uint64_t)(2 * TICK));
    case 3:
        return (int64_t)(take(1) % 100) * TICK + (int64_t)take(1);
    case 4:
        return (int64_t)take(2) * TICK;
    case 5: /* about until the earliest tick's start */
        if (earliest_start(&first) && first > vnow)
            return first - vnow - 1 + (int64_t)(take(1) % 3);
        return 0;
    case 6:
        return (int64_t)take(1) * DAY;
    case 7:
        return INT64_MAX - (int64_t)take(2);
    case 8:
        return INT64_MIN;
    default:
        return (int64_t)take(4);
    }
}

static void op_wait(void)
{
    int64_t timeout = gen_timeout();
    size_t cap = 1 + (size_t)(take(1) % EV_MAX);
    xpoll_events *events;
    FUZZ_CHECK(xpoll_events_new(&events, cap) == 0, "xpoll_events_new");
    note("wait timeout %" PRId64 " cap %zu at %" PRId64, timeout, cap, vnow);

    bool with_timers = has_state();
    w.active = true;
    w.events = events;
    w.base = events->xpoll__items;
    w.cap = cap;
    w.timeout = timeout;
    w.origin = vnow;
    w.selects = 0;
    memset(w.seen, 0, sizeof w.seen);
    int r = xpoll_wait(poll_, events, timeout);
    w.active = false;
    note("wait -> %d at %" PRId64, r, vnow);

    struct sel *last = w.selects > 0 ? &w.last : NULL;
    struct xpoll_event *items = w.base;
    FUZZ_CHECK(events->xpoll__items == w.base && events->xpoll__capacity == cap,
               "the buffer was not given back as it was");
    if (r < 0) {
        FUZZ_CHECK(r == -EINTR && last != NULL && last->ret == -EINTR &&
                       last->off == 0,
                   "wait returned %d", r);
        FUZZ_CHECK(xpoll_events_len(events) == 0, "%zu events with %d",
                   xpoll_events_len(events), r);
    } else {
        FUZZ_CHECK((size_t)r == xpoll_events_len(events) && (size_t)r <= cap,
                   "wait returned %d, %zu events, capacity %zu", r,
                   xpoll_events_len(events), cap);
        size_t pos = 0;
        if (last != NULL) {
            FUZZ_CHECK(
                last->off <= (size_t)r &&
                    memcmp(items, last->prefix, last->off * sizeof *items) == 0,
                "the timers handed out before select changed");
            pos = last->off;
            if (last->ret > 0) {
                FUZZ_CHECK(pos + last->io <= (size_t)r,
                           "%zu I/O events, %d returned", last->io, r);
                for (size_t k = 0; k < last->io; k++, pos++) {
                    struct xpoll_event got = items[pos];
                    struct xpoll_event want = last->io_ev[k];
                    FUZZ_CHECK(got.xpoll__token == want.xpoll__token &&
                                   got.xpoll__readiness ==
                                       want.xpoll__readiness,
                               "I/O event %zu: token %#" PRIx64
                               " readiness %#x, select gave %#" PRIx64 " %#x",
                               k, (uint64_t)got.xpoll__token,
                               (unsigned)got.xpoll__readiness,
                               (uint64_t)want.xpoll__token,
                               (unsigned)want.xpoll__readiness);
                }
            }
        }
        for (size_t k = 0; k < (size_t)r; k++) {
            struct xpoll_event e = items[k];
            FUZZ_CHECK(!fk.registered || e.xpoll__token != fk.token,
                       "the wake-up's event reached the caller");
        }
        /* The rest: timers handed out after the selector's events. */
        for (; pos < (size_t)r; pos++)
            fire(&items[pos], vnow);
        bool expired_at_end;
        if (last == NULL) {
            /* Only a full buffer at the start ends a wait unwaited. */
            FUZZ_CHECK(with_timers && (size_t)r == cap,
                       "a wait without select: %d of %zu", r, cap);
            expired_at_end = true;
        } else if (!last->with_timers) {
            /* The first timer came during the select: the wake-up alone
             * is followed by a wait with timers. */
            FUZZ_CHECK(last->ret <= 0 || last->io > 0 || (size_t)r == cap,
                       "the wake-up alone, then %d of %zu events", r, cap);
            expired_at_end = last->ret > 0 && last->io == 0;
        } else {
            expired_at_end = last->off == 0;
        }
        if (expired_at_end && (size_t)r < cap)
            check_none_due(vnow, "when the wait returned");
        /* The end of the int64 clock (292 years of uptime, which no
         * CLOCK_MONOTONIC reaches) ends even a wait without limit: the
         * layer takes INT64_MAX for "no end", as the core does. */
        if (r == 0)
            FUZZ_CHECK(timeout == 0 || vnow == INT64_MAX ||
                           (timeout > 0 && vnow >= sat_add(w.origin, timeout)),
                       "0 events at %" PRId64 ", the timeout %" PRId64
                       " from %" PRId64,
                       vnow, timeout, w.origin);
    }
    if (fk.registered)
        FUZZ_CHECK(fk.armed && !fk.reported,
                   "the wake-up left %s after the wait",
                   fk.armed ? "undrained" : "disarmed");
    xpoll_events_free(events);
}

static void op_advance(void)
{
    int64_t first, step = 0;
    switch (take(1) % 6) {
    case 0:
        step = (int64_t)(take(3) % (uint64_t)TICK);
        break;
    case 1:
        step = (int64_t)(take(1) % 70) * TICK + (int64_t)take(1);
        break;
    case 2:
        step = (int64_t)take(3) * TICK;
        break;
    case 3:
        step = (int64_t)take(1) * DAY + (int64_t)take(3);
        break;
    case 4: /* exactly to the earliest tick's start, or 1 ns before */
        if (earliest_start(&first) && first > vnow)
            step = first - vnow - (int64_t)(take(1) & 1);
        break;
    default:
        break;
    }
    advance(step);
    note("advance %" PRId64 " -> now %" PRId64, step, vnow);
}

static void op_misc(void)
{
    static char somewhere;
    xpoll_timer *timer = (xpoll_timer *)(void *)&somewhere;
    FUZZ_CHECK(xpoll_timer_new(NULL, 1, &timer) == -EINVAL && timer == NULL,
               "xpoll_timer_new(NULL)");
    FUZZ_CHECK(xpoll_timer_new(poll_, 1, NULL) == -EINVAL,
               "xpoll_timer_new(out NULL)");
    FUZZ_CHECK(xpoll_timer_set(NULL, 0, 0) == -EINVAL, "set(NULL)");
    FUZZ_CHECK(xpoll_timer_cancel(NULL) == -EINVAL, "cancel(NULL)");
    xpoll_timer_free(NULL);
    FUZZ_CHECK(!xpoll_event_is_timer(NULL), "is_timer(NULL)");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ops_start(data, size);
    memset(&fk, 0, sizeof fk);
    memset(&w, 0, sizeof w);
    memset(model, 0, sizeof model);
    memset(&st, 0, sizeof st);
    /* The clock starts anywhere in the first ~2.3 years, or (1 in 256)
     * within 2^40 ns (18 min) of its end. */
    if (take(1) == 0xff)
        vnow = INT64_MAX - (int64_t)take(5);
    else
        vnow = (int64_t)(take(7) & ((UINT64_C(1) << 56) - 1));
    note("start at %" PRId64, vnow);
    FUZZ_CHECK(xpoll_new_with_backend(&poll_, XPOLL_BACKEND_DEFAULT) == 0 &&
                   poll_->selector == &fake_selector,
               "xpoll_new on the fake selector");

    for (int ops = 0; ops < MAX_OPS && input_pos < input_len; ops++) {
        switch (take(1) % 12) {
        case 0: {
            int i = (int)(take(1) % NT);
            if (model[i].timer == NULL)
                do_new(i);
            break;
        }
        case 1:
        case 2:
        case 3:
            op_set(false);
            break;
        case 4:
            op_set(true);
            break;
        case 5:
            do_cancel(pick_timer());
            break;
        case 6: {
            int i = pick_timer();
            unsigned wakes = fk.wakes;
            xpoll_timer_free(model[i].timer);
            note("free %d", i);
            FUZZ_CHECK(fk.wakes == wakes, "free wrote the wake-up");
            model[i].timer = NULL;
            break;
        }
        case 7:
            op_advance();
            break;
        case 11:
            op_misc();
            break;
        default:
            op_wait();
            break;
        }
    }

    for (int i = 0; i < NT; i++) {
        xpoll_timer_free(model[i].timer);
        model[i].timer = NULL;
    }
    bool had_state = has_state();
    xpoll_free(poll_);
    poll_ = NULL;
    FUZZ_CHECK(fk.closes == (unsigned)had_state && !fk.registered,
               "xpoll_free: %u close(s) of the wake-up, registered %d",
               fk.closes, fk.registered);
    return 0;
}
