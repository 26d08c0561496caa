/*
 * timers - timer micro-benchmark: xpoll's public timers and its timer core
 * beside libuv, libev and libevent (plain timeouts and common timeouts).
 *
 *   timers [-r REPS] [-q]     (REPS default 5; -q: 1,000 and 100,000 only)
 *
 * Two xpoll columns:
 *  xpoll       the public API of <xpoll/timer.h>, what a user calls: each
 *              xpoll_timer_set and xpoll_timer_cancel takes the poll's
 *              timer mutex (any thread may set or cancel while another
 *              waits) and xpoll_timer_set reads CLOCK_MONOTONIC itself
 *              (src/timer.c), where the peers use the time cached per loop
 *              iteration; expiry is xpoll_wait with timeout 0 on a poll of
 *              the default backend, the analogue of the peers' loop runs
 *              (it locks, reads the clock and polls the backend's
 *              descriptor as they do).  Every timer comes from
 *              xpoll_timer_new, one malloc each (the peers' timer objects
 *              sit in one array allocated up front): the API allocates
 *              timers itself, and that is how it is meant to be used.
 *  xpoll-core  the platform-neutral wheel under it (src/timers.c:
 *              xpoll__timers_set, xpoll__timers_cancel,
 *              xpoll__timers_expire) on timers in one array, with no lock
 *              and one clock read per pass: xpoll minus xpoll-core is what
 *              the mutex, the clock reads and (for expiry) the wait's
 *              bookkeeping and epoll_wait cost.
 *
 * Each library is used as its documentation intends:
 *  libuv       uv_timer_start (set, repeat = the delay), uv_timer_again
 *              (reset), uv_timer_stop (cancel); uv_run(UV_RUN_NOWAIT)
 *  libev       ev_timer_set + ev_timer_start (set, repeat = the delay),
 *              ev_timer_again (reset), ev_timer_stop (cancel);
 *              ev_run(EVRUN_NOWAIT)
 *  libevent    evtimer_assign once, evtimer_add (set and reset: adding a
 *              pending event reschedules it), evtimer_del (cancel);
 *              event_base_loop(EVLOOP_NONBLOCK).  "libevent-ct": the same
 *              with every timeval from event_base_init_common_timeout(),
 *              one per distinct delay (libevent allows 256 per base)
 *  xpoll       xpoll_timer_set (set and reset: setting an armed timer
 *              reschedules it), xpoll_timer_cancel; xpoll_wait(poll,
 *              events, 0)
 *  xpoll-core  xpoll__timers_set (set and reset), xpoll__timers_cancel,
 *              xpoll__timers_expire
 *
 * At each N (1,000, 100,000, 1,000,000 armed timers), per library, per
 * rep: N timer objects (in one array allocated up front; the public
 * xpoll's from xpoll_timer_new), all armed with delays in [10 s, 69 s)
 * (NDELAYS distinct values, the same draw for every library, so common
 * timeouts fit; the first arm, untimed, adds 60 s, so that none of those
 * comes due while the slower libraries take over a second for the passes
 * below at 1,000,000; libevent-ct's first arm uses plain timeouts), then,
 * in the order of a precomputed random permutation of the N timers (so
 * caches are not flattered by sequential access):
 *  cancel  / set: ten chunks of N/10, each cancelled, then armed again
 *          (set arms an unarmed timer), so N*0.9 to N stay armed;
 *  reset   every armed timer re-armed to now + its delay (the idle
 *          timeout reset on every message), milliseconds to seconds
 *          after the set above armed it: most deadlines move a little,
 *          as a reset on every message moves them;
 *  expire  BATCHES times: B = min(N/4, 1000) armed timers re-armed
 *          (untimed) to a 1 ms one-shot, 5 ms of busy waiting (see
 *          spin_ms), then one loop run (xpoll: one xpoll_wait with
 *          timeout 0; xpoll-core: one xpoll__timers_expire; both also
 *          move down whatever else the wheel's 5 ms advance reaches)
 *          timed, minus one run timed before the batch was armed, with
 *          nothing due (the fixed cost of an iteration: for the peers
 *          clock reads and an epoll_wait with timeout 0, for xpoll the
 *          same plus its mutex): the cost per fired timer.
 *          Exactly B must fire (callbacks counted, timer events counted,
 *          or expire's return), or the program fails.  The batch is then
 *          armed again with its long delays (untimed).
 *
 * No peer's clock can be advanced by hand (libuv, libev and libevent
 * read CLOCK_MONOTONIC themselves in uv_update_time, ev_now_update and
 * their loops), so expiry uses real short timers for all, xpoll too.  The
 * peers cache the time per loop iteration (libuv's uv_now, libev's
 * ev_now, libevent's cache while a callback runs): each timed pass here
 * refreshes it once first (uv_update_time, ev_now_update; libevent's
 * passes run inside a callback of a loop iteration, where the cache is
 * valid, so evtimer_add reads no clock), and xpoll-core's passes likewise
 * read the clock once and pass that now_ns to every call.  The public
 * xpoll_timer_set has no cached time to use: it reads the clock on every
 * call (a vDSO call on Linux, no system call).
 *
 * Reported: ns/op, the median over reps (each rep's figure is the total
 * time of its passes over their operations), and the ratio of every other
 * column's median to the public xpoll's (above 1: xpoll cheaper; core/xp
 * below 1 is what the lock and the clock cost); then bytes per timer:
 * sizeof each library's timer object and what else each armed timer holds.
 *
 * libev.so also exports libevent's old API under the same names
 * (event_add, event_del, ...), so libevent comes first in the link; the
 * program checks at start that those names resolve into libevent.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <uv.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include <xpoll.h>

#include "timers.h"

#define MAX_REPS      31
#define SETUP_MS      60000 /* added to the delays of the untimed first arm */
/* The delays: DELAY_MIN_MS + k * DELAY_SPAN_MS / NDELAYS, k < NDELAYS.
 * The minimum bounds how long the reset pass and the batches after it
 * may take before a timer comes due (libuv's reset pass alone took 1.5 s
 * at 1,000,000 timers on a loaded 2-vCPU VM). */
#define DELAY_MIN_MS  10000
#define DELAY_SPAN_MS 59000
#define NDELAYS       200 /* distinct delays: below libevent's 256 common */
#define BATCHES       10
#define BMAX          1000
#define NSIZES        3

enum lib { L_XP, L_XC, L_UV, L_EV, L_LE, L_LEC, NLIBS };
enum op { OP_SET, OP_RESET, OP_CANCEL, OP_EXPIRE, NOPS };
enum phase { PH_RESET, PH_CANCEL, PH_SET, PH_SHORT, PH_RUN };

static const char *const lib_names[NLIBS] = {
    "xpoll", "xpoll-core", "libuv", "libev", "libevent", "libevent-ct"};
static const char *const lib_short[NLIBS] = {"xp", "core", "uv",
                                             "ev", "le",   "lect"};
static const char *const op_names[NOPS] = {"set", "reset", "cancel", "expire"};
static const size_t sizes[NSIZES] = {1000, 100000, 1000000};

static int64_t delay_ms[NDELAYS];
static struct timeval delay_tv[NDELAYS];
static const struct timeval short_tv = {0, 1000};

struct ctx {
    enum lib lib;
    size_t n;
    const uint32_t *perm;       /* a permutation of 0..n-1 */
    const uint8_t *dk;          /* timer i's delay: delay_ms[dk[i]] */
    xpoll *poll;                /* L_XP */
    xpoll_timer **pt;           /* L_XP: n from xpoll_timer_new */
    xpoll_events *events;       /* L_XP: capacity BMAX */
    struct xpoll__timers wheel; /* L_XC */
    struct xpoll_timer *xt;     /* L_XC: n in one array */
    struct xpoll_event *xev;    /* L_XC: BMAX */
    int64_t now;                /* L_XC: now_ns for the current pass */
    uv_loop_t uv;
    uv_timer_t *ut;
    struct ev_loop *evl;
    ev_timer *et;
    struct event_base *base;
    unsigned char *le; /* n events of evsz bytes */
    size_t evsz;
    const struct timeval *ctv[NDELAYS]; /* common timeouts (L_LEC) */
    const struct timeval *cshort;
};

static long fired;

static _Noreturn void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("timers: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static int64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void)
{
    /* xorshift64* (Vigna, "An experimental exploration of Marsaglia's
     * xorshift generators, scrambled", 2016) */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}

static void libuv_cb(uv_timer_t *t)
{
    (void)t;
    fired++;
}

static void libev_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
    fired++;
}

static void libevent_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    fired++;
}

static inline struct event *le_ev(const struct ctx *c, size_t i)
{
    return (struct event *)(void *)(c->le + i * c->evsz);
}

static inline const struct timeval *le_tv(const struct ctx *c, size_t i)
{
    return c->lib == L_LEC ? c->ctv[c->dk[i]] : &delay_tv[c->dk[i]];
}

static void setup(struct ctx *c)
{
    size_t n = c->n;
    switch (c->lib) {
    case L_XP:
        c->pt = calloc(n, sizeof *c->pt);
        if (c->pt == NULL || xpoll_new(&c->poll) < 0 ||
            xpoll_events_new(&c->events, BMAX) < 0)
            fail("xpoll setup");
        for (size_t i = 0; i < n; i++) {
            if (xpoll_timer_new(c->poll, (xpoll_token)i, &c->pt[i]) < 0)
                fail("xpoll_timer_new");
            if (xpoll_timer_set(c->pt[i],
                                (delay_ms[c->dk[i]] + SETUP_MS) * 1000000,
                                0) != 0)
                fail("xpoll_timer_set");
        }
        break;
    case L_XC:
        c->xt = calloc(n, sizeof *c->xt);
        if (c->xt == NULL)
            fail("calloc");
        c->now = clock_ns();
        xpoll__timers_init(&c->wheel, c->now);
        for (size_t i = 0; i < n; i++) {
            xpoll__timer_init(&c->xt[i], NULL, (xpoll_token)i);
            if (xpoll__timers_set(&c->wheel, &c->xt[i], c->now,
                                  (delay_ms[c->dk[i]] + SETUP_MS) * 1000000,
                                  0) != 0)
                fail("xpoll__timers_set");
        }
        break;
    case L_UV:
        c->ut = calloc(n, sizeof *c->ut);
        if (c->ut == NULL || uv_loop_init(&c->uv) != 0)
            fail("libuv setup");
        for (size_t i = 0; i < n; i++) {
            uint64_t d = (uint64_t)delay_ms[c->dk[i]];
            uv_timer_init(&c->uv, &c->ut[i]);
            uv_timer_start(&c->ut[i], libuv_cb, d + SETUP_MS, d);
        }
        break;
    case L_EV:
        c->et = calloc(n, sizeof *c->et);
        c->evl = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
        if (c->et == NULL || c->evl == NULL)
            fail("libev setup");
        for (size_t i = 0; i < n; i++) {
            double d = (double)delay_ms[c->dk[i]] / 1000.0;
            ev_timer_init(&c->et[i], libev_cb, d + SETUP_MS / 1000.0, d);
            ev_timer_start(c->evl, &c->et[i]);
        }
        break;
    case L_LE:
    case L_LEC:
        c->evsz = (event_get_struct_event_size() + 15) & ~(size_t)15;
        c->le = calloc(n, c->evsz);
        c->base = event_base_new();
        if (c->le == NULL || c->base == NULL)
            fail("libevent setup");
        if (c->lib == L_LEC) {
            for (int k = 0; k < NDELAYS; k++) {
                c->ctv[k] =
                    event_base_init_common_timeout(c->base, &delay_tv[k]);
                if (c->ctv[k] == NULL)
                    fail("event_base_init_common_timeout");
            }
            c->cshort = event_base_init_common_timeout(c->base, &short_tv);
            if (c->cshort == NULL)
                fail("event_base_init_common_timeout");
        }
        for (size_t i = 0; i < n; i++) {
            evtimer_assign(le_ev(c, i), c->base, libevent_cb, NULL);
            struct timeval tv = delay_tv[c->dk[i]];
            tv.tv_sec += SETUP_MS / 1000;
            if (evtimer_add(le_ev(c, i), &tv) != 0)
                fail("evtimer_add");
        }
        break;
    default:
        break;
    }
}

static void teardown(struct ctx *c)
{
    switch (c->lib) {
    case L_XP:
        for (size_t i = 0; i < c->n; i++)
            xpoll_timer_free(c->pt[i]);
        free(c->pt);
        xpoll_events_free(c->events);
        xpoll_free(c->poll);
        break;
    case L_XC:
        xpoll__timers_clear(&c->wheel);
        free(c->xt);
        break;
    case L_UV:
        for (size_t i = 0; i < c->n; i++)
            uv_close((uv_handle_t *)&c->ut[i], NULL);
        uv_run(&c->uv, UV_RUN_DEFAULT);
        if (uv_loop_close(&c->uv) != 0)
            fail("uv_loop_close");
        free(c->ut);
        break;
    case L_EV:
        ev_loop_destroy(c->evl);
        free(c->et);
        break;
    case L_LE:
    case L_LEC:
        for (size_t i = 0; i < c->n; i++)
            evtimer_del(le_ev(c, i));
        event_base_free(c->base);
        free(c->le);
        break;
    default:
        break;
    }
}

/* One timed pass of `ph` over perm[from..to); returns its nanoseconds. */
static int64_t pass(struct ctx *c, enum phase ph, size_t from, size_t to)
{
    const uint32_t *p = c->perm;
    int64_t t0 = 0, t1 = 0;
    switch (c->lib) {
    case L_XP: {
        xpoll_timer **pt = c->pt;
        t0 = clock_ns();
        switch (ph) {
        case PH_RESET:
        case PH_SET:
            for (size_t k = from; k < to; k++) {
                size_t i = p[k];
                xpoll_timer_set(pt[i], delay_ms[c->dk[i]] * 1000000, 0);
            }
            break;
        case PH_CANCEL:
            for (size_t k = from; k < to; k++)
                xpoll_timer_cancel(pt[p[k]]);
            break;
        case PH_SHORT:
            for (size_t k = from; k < to; k++)
                xpoll_timer_set(pt[p[k]], 1000000, 0);
            break;
        case PH_RUN: {
            int got = xpoll_wait(c->poll, c->events, 0);
            t1 = clock_ns();
            if (got < 0)
                fail("xpoll_wait: %d", got);
            for (int e = 0; e < got; e++) {
                if (!xpoll_event_is_timer(
                        xpoll_events_get(c->events, (size_t)e)))
                    fail("xpoll_wait returned an event not a timer's");
            }
            fired += got;
            return t1 - t0;
        }
        }
        t1 = clock_ns();
        break;
    }
    case L_XC: {
        struct xpoll__timers *w = &c->wheel;
        struct xpoll_timer *xt = c->xt;
        t0 = clock_ns();
        int64_t now = c->now = t0;
        switch (ph) {
        case PH_RESET:
        case PH_SET:
            for (size_t k = from; k < to; k++) {
                size_t i = p[k];
                xpoll__timers_set(w, &xt[i], now, delay_ms[c->dk[i]] * 1000000,
                                  0);
            }
            break;
        case PH_CANCEL:
            for (size_t k = from; k < to; k++)
                xpoll__timers_cancel(w, &xt[p[k]]);
            break;
        case PH_SHORT:
            for (size_t k = from; k < to; k++)
                xpoll__timers_set(w, &xt[p[k]], now, 1000000, 0);
            break;
        case PH_RUN:
            fired += (long)xpoll__timers_expire(w, now, c->xev, BMAX);
            break;
        }
        t1 = clock_ns();
        break;
    }
    case L_UV: {
        uv_timer_t *ut = c->ut;
        if (ph != PH_RUN)
            uv_update_time(&c->uv);
        t0 = clock_ns();
        switch (ph) {
        case PH_RESET:
            for (size_t k = from; k < to; k++)
                uv_timer_again(&ut[p[k]]);
            break;
        case PH_CANCEL:
            for (size_t k = from; k < to; k++)
                uv_timer_stop(&ut[p[k]]);
            break;
        case PH_SET:
            for (size_t k = from; k < to; k++) {
                size_t i = p[k];
                uint64_t d = (uint64_t)delay_ms[c->dk[i]];
                uv_timer_start(&ut[i], libuv_cb, d, d);
            }
            break;
        case PH_SHORT:
            for (size_t k = from; k < to; k++)
                uv_timer_start(&ut[p[k]], libuv_cb, 1, 0);
            break;
        case PH_RUN:
            uv_run(&c->uv, UV_RUN_NOWAIT);
            break;
        }
        t1 = clock_ns();
        break;
    }
    case L_EV: {
        ev_timer *et = c->et;
        struct ev_loop *l = c->evl;
        if (ph != PH_RUN)
            ev_now_update(l);
        t0 = clock_ns();
        switch (ph) {
        case PH_RESET:
            for (size_t k = from; k < to; k++)
                ev_timer_again(l, &et[p[k]]);
            break;
        case PH_CANCEL:
            for (size_t k = from; k < to; k++)
                ev_timer_stop(l, &et[p[k]]);
            break;
        case PH_SET:
            for (size_t k = from; k < to; k++) {
                size_t i = p[k];
                double d = (double)delay_ms[c->dk[i]] / 1000.0;
                ev_timer_set(&et[i], d, d);
                ev_timer_start(l, &et[i]);
            }
            break;
        case PH_SHORT:
            for (size_t k = from; k < to; k++) {
                ev_timer_stop(l, &et[p[k]]);
                ev_timer_set(&et[p[k]], 0.001, 0.);
                ev_timer_start(l, &et[p[k]]);
            }
            break;
        case PH_RUN:
            ev_run(l, EVRUN_NOWAIT);
            break;
        }
        t1 = clock_ns();
        break;
    }
    case L_LE:
    case L_LEC: {
        const struct timeval *stv = c->lib == L_LEC ? c->cshort : &short_tv;
        t0 = clock_ns();
        switch (ph) {
        case PH_RESET:
        case PH_SET:
            for (size_t k = from; k < to; k++)
                evtimer_add(le_ev(c, p[k]), le_tv(c, p[k]));
            break;
        case PH_CANCEL:
            for (size_t k = from; k < to; k++)
                evtimer_del(le_ev(c, p[k]));
            break;
        case PH_SHORT:
            for (size_t k = from; k < to; k++)
                evtimer_add(le_ev(c, p[k]), stv);
            break;
        case PH_RUN:
            event_base_loop(c->base, EVLOOP_NONBLOCK);
            break;
        }
        t1 = clock_ns();
        break;
    }
    default:
        break;
    }
    return t1 - t0;
}

/* libevent's passes run inside a callback, where its time cache is valid
 * (event.c: gettime() uses base->tv_cache while the loop runs callbacks),
 * as a server's evtimer_add calls do. */
struct job {
    struct ctx *c;
    enum phase ph;
    size_t from, to;
    int64_t ns;
    bool done;
};

static void job_cb(evutil_socket_t fd, short what, void *arg)
{
    struct job *j = arg;
    (void)fd;
    (void)what;
    j->ns = pass(j->c, j->ph, j->from, j->to);
    j->done = true;
}

static int64_t timed(struct ctx *c, enum phase ph, size_t from, size_t to)
{
    if ((c->lib != L_LE && c->lib != L_LEC) || ph == PH_RUN)
        return pass(c, ph, from, to);
    static const struct timeval zero = {0, 0};
    struct job j = {c, ph, from, to, 0, false};
    if (event_base_once(c->base, -1, EV_TIMEOUT, job_cb, &j, &zero) != 0)
        fail("event_base_once");
    long before = fired;
    event_base_loop(c->base, EVLOOP_ONCE);
    if (!j.done || fired != before)
        fail("%s: a libevent pass did not run alone", lib_names[c->lib]);
    return j.ns;
}

/* A busy wait, not a sleep: the run timed after a sleep pays for the
 * wake-up (caches another process used meanwhile, the core's idle state)
 * in every library alike, several times what the libraries' own expiry
 * costs at 1,000 timers, which would hide the differences measured. */
static void spin_ms(long ms)
{
    int64_t end = clock_ns() + ms * 1000000;
    while (clock_ns() < end)
        ;
}

/* One rep of one library at one N: ns/op of each operation into out. */
static void run_one(struct ctx *c, double out[NOPS])
{
    size_t n = c->n;
    setup(c);
    fired = 0;

    size_t chunk = n / 10;
    int64_t tc = 0, ts = 0;
    for (size_t from = 0; from < n; from += chunk) {
        tc += timed(c, PH_CANCEL, from, from + chunk);
        ts += timed(c, PH_SET, from, from + chunk);
    }
    out[OP_CANCEL] = (double)tc / (double)n;
    out[OP_SET] = (double)ts / (double)n;
    /* Reset last: every timer's deadline is then at least DELAY_MIN_MS
     * after this pass began, later than the batches below end unless the
     * pass and the batches take that long (the checks below then fail). */
    int64_t reset_at = clock_ns();
    out[OP_RESET] = (double)timed(c, PH_RESET, 0, n) / (double)n;
    if (c->lib == L_XC && c->wheel.armed != n)
        fail("xpoll-core: %zu armed, not %zu", c->wheel.armed, n);
    if (c->lib == L_XP) {
        size_t armed = 0;
        for (size_t i = 0; i < n; i++)
            armed += xpoll__timer_is_armed(c->pt[i]);
        if (armed != n)
            fail("xpoll: %zu armed, not %zu", armed, n);
    }
    if (fired != 0)
        fail("%s: %ld timers fired early", lib_names[c->lib], fired);

    size_t b = n / 4 < BMAX ? n / 4 : BMAX;
    /* One untimed run first: the wheel (and each loop) catches up with
     * the time the passes above took, so no batch's empty run does. */
    timed(c, PH_RUN, 0, 0);
    if (fired != 0)
        fail("%s: %ld timers fired %.1f s after the reset pass began (the "
             "shortest delay: %d s)",
             lib_names[c->lib], fired, (double)(clock_ns() - reset_at) / 1e9,
             DELAY_MIN_MS / 1000);
    int64_t te = 0;
    for (int k = 0; k < BATCHES; k++) {
        size_t from = (size_t)k * b % n;
        long before = fired;
        int64_t empty = timed(c, PH_RUN, 0, 0);
        if (fired != before)
            fail("%s: a run with nothing due fired %.1f s after the reset "
                 "pass began (the shortest delay: %d s)",
                 lib_names[c->lib], (double)(clock_ns() - reset_at) / 1e9,
                 DELAY_MIN_MS / 1000);
        timed(c, PH_SHORT, from, from + b);
        spin_ms(5);
        int64_t full = timed(c, PH_RUN, 0, 0);
        if (fired - before != (long)b)
            fail("%s at %zu: %ld fired, expected %zu", lib_names[c->lib], n,
                 fired - before, b);
        te += full - empty;
        timed(c, PH_SET, from, from + b); /* back to N armed, untimed */
    }
    out[OP_EXPIRE] = (double)te / (double)(b * BATCHES);
    teardown(c);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* libev.so exports libevent's old API under the same names; the dynamic
 * linker binds each name to the first library in link order that defines
 * it (ld.so(8): the global lookup scope).  Check that these resolved to
 * libevent. */
static void check_libevent_binding(void)
{
    static const char *const names[] = {"event_add", "event_del",
                                        "event_base_loop", "event_base_free",
                                        "event_base_once"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *p = dlsym(RTLD_DEFAULT, names[i]);
        Dl_info info;
        if (p == NULL || dladdr(p, &info) == 0 || info.dli_fname == NULL ||
            strstr(info.dli_fname, "libevent") == NULL)
            fail("%s does not resolve into libevent: link libevent before "
                 "libev",
                 names[i]);
    }
}

static double res[NSIZES][NLIBS][NOPS][MAX_REPS];

int main(int argc, char **argv)
{
    int reps = 5;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0) {
            quick = true;
        } else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: timers [-r REPS] [-q]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS)
        fail("-r: 1 to %d", MAX_REPS);
    check_libevent_binding();
    int nsizes = quick ? 2 : NSIZES;

    for (int k = 0; k < NDELAYS; k++) {
        delay_ms[k] = DELAY_MIN_MS + (int64_t)k * DELAY_SPAN_MS / NDELAYS;
        delay_tv[k].tv_sec = (time_t)(delay_ms[k] / 1000);
        delay_tv[k].tv_usec = (suseconds_t)(delay_ms[k] % 1000 * 1000);
    }
    size_t nmax = sizes[nsizes - 1];
    uint32_t *perm = malloc(nmax * sizeof *perm);
    uint8_t *dk = malloc(nmax);
    struct xpoll_event *xev = malloc(BMAX * sizeof *xev);
    if (perm == NULL || dk == NULL || xev == NULL)
        fail("malloc");

    for (int s = 0; s < nsizes; s++) {
        size_t n = sizes[s];
        /* Fisher-Yates over 0..n-1, and the delays, the same for all. */
        for (size_t i = 0; i < n; i++) {
            perm[i] = (uint32_t)i;
            dk[i] = (uint8_t)(next_rand() % NDELAYS);
        }
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)(next_rand() % (i + 1));
            uint32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int r = 0; r < reps; r++) {
            for (int q = 0; q < NLIBS; q++) {
                enum lib lib = (enum lib)((q + r) % NLIBS);
                static struct ctx c;
                memset(&c, 0, sizeof c);
                c.lib = lib;
                c.n = n;
                c.perm = perm;
                c.dk = dk;
                c.xev = xev;
                double out[NOPS];
                run_one(&c, out);
                for (int o = 0; o < NOPS; o++)
                    res[s][lib][o][r] = out[o];
            }
        }
    }

    printf("ns/op, median of %d reps; X/xp = X / xpoll (above 1: xpoll "
           "cheaper); xpoll: the public API, core xpoll-core: its wheel "
           "alone, uv libuv, ev libev, le libevent, lect libevent-ct\n",
           reps);
    printf("%9s %-7s", "N", "op");
    for (int l = 0; l < NLIBS; l++)
        printf(" %11s", lib_names[l]);
    for (int l = 1; l < NLIBS; l++)
        printf(" %7s/xp", lib_short[l]);
    printf("\n");
    for (int s = 0; s < nsizes; s++) {
        for (int o = 0; o < NOPS; o++) {
            double m[NLIBS];
            for (int l = 0; l < NLIBS; l++)
                m[l] = median(res[s][l][o], reps);
            printf("%9zu %-7s", sizes[s], op_names[o]);
            for (int l = 0; l < NLIBS; l++)
                printf(" %11.1f", m[l]);
            for (int l = 1; l < NLIBS; l++)
                printf(" %10.2f", m[l] / m[0]);
            printf("\n");
        }
    }
    printf("\nbytes per timer (sizeof the timer object; what else an armed "
           "timer holds)\n");
    /* glibc's malloc_usable_size() is a chunk's size less its 8-byte
     * size field (malloc/malloc.c, musable()). */
    xpoll *poll;
    xpoll_timer *t;
    if (xpoll_new(&poll) < 0 || xpoll_timer_new(poll, 0, &t) < 0)
        fail("xpoll_timer_new");
    printf("  xpoll        %3zu  (xpoll_timer_new mallocs it: "
           "malloc_usable_size %zu, a %zu-byte glibc chunk)\n",
           sizeof(struct xpoll_timer), malloc_usable_size(t),
           malloc_usable_size(t) + sizeof(size_t));
    xpoll_timer_free(t);
    xpoll_free(poll);
    printf("  xpoll-core   %3zu  (in the caller's array)\n",
           sizeof(struct xpoll_timer));
    printf("  libuv        %3zu  (heap node inside it)\n", sizeof(uv_timer_t));
    printf("  libev        %3zu  (+ 16-byte 4-ary heap entry: ANHE, "
           "EV_HEAP_CACHE_AT)\n",
           sizeof(ev_timer));
    printf("  libevent     %3zu  (+ 8-byte min-heap pointer; event_new: "
           "malloc)\n",
           event_get_struct_event_size());
    printf("  libevent-ct  %3zu  (queue links inside it)\n",
           event_get_struct_event_size());
    free(perm);
    free(dk);
    free(xev);
    return 0;
}
