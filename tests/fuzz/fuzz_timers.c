/*
 * fuzz_timers - a model-based fuzzer of the timer core (src/timers.c).
 *
 * The input drives up to 64 timers on one wheel and a virtual clock:
 * set and reset (delays of 0, sub-tick, on every level of the wheel,
 * beyond its span, up to INT64_MAX; negative ones), periodic intervals,
 * cancel (one timer, or all of them with clear), moves of the clock (0,
 * sub-tick, ticks, days, years, or exactly to the earliest deadline's tick),
 * expire with small capacities, next(), and sleeping as next() says.  Beside
 * the wheel runs a reference model: one plain array entry per timer (armed,
 * deadline, interval), scanned in O(n).  A timer is due once the clock reaches
 * the start of its tick, ceil(deadline / 1 ms).  Checked after every operation:
 *
 *  - each event carries the timer bit and the token of a timer the model
 *    has armed and due (deadline <= now, tick start <= now): never early,
 *    never after cancel, never for a timer that was reset to later;
 *  - events come in tick order, across calls too;
 *  - a call that returns fewer events than its capacity leaves no timer
 *    due: a due timer is delivered by the first call with room, so at
 *    most one tick after its deadline at the times expire is called;
 *  - a periodic timer moves to deadline + k * interval, the first such
 *    time after now (computed here by division, not as the core does);
 *    a one-shot one is unarmed;
 *  - -EINVAL for a negative delay or interval, with nothing changed;
 *    set and cancel never process a slot (their cost is O(1));
 *  - next(): -1 with nothing armed (or only beyond the int64 clock), 0
 *    exactly when a timer is due, otherwise positive and never past the
 *    earliest armed tick's start; sleeping as it says reaches that tick
 *    exactly, within one wake per level of each armed timer (plus one
 *    per 2^36 ticks of distance);
 *  - the wheel's own structure: occupancy bits match non-empty slots,
 *    each timer's slot id matches where it is linked, every timer in a
 *    slot belongs to a later tick than the elapsed one, the armed count
 *    is the model's.
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

#include "timers.h"
#include "fuzz_check.h"
#include "fuzz_ops.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NT      64
#define MAX_OPS 400
#define TICK    XPOLL__TIMER_TICK_NS
#define LEVELS  XPOLL__TIMER_LEVELS
#define DAY     (INT64_C(86400) * 1000000000)
#define SPAN    (UINT64_C(1) << 36) /* ticks the wheel spans */
#define TOKEN0  0x5000u

static struct xpoll__timers wheel;
static struct xpoll_timer timers[NT];
static struct xpoll_event out[16];

/* ---- the model --------------------------------------------------------
 */

struct model {
    bool armed;
    int64_t deadline;
    int64_t interval;
};
static struct model model[NT];
static int64_t now;        /* the virtual clock, never decreasing */
static uint64_t last_tick; /* tick of the last event (order check) */

static uint64_t tick_of(int64_t deadline)
{
    return (uint64_t)(deadline / TICK) + (deadline % TICK != 0);
}

static uint64_t now_tick(void)
{
    return (uint64_t)now / TICK;
}

static bool due(int i)
{
    return model[i].armed && tick_of(model[i].deadline) <= now_tick();
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return b > INT64_MAX - a ? INT64_MAX : a + b;
}

/* The first deadline + k * interval (k >= 1) after now, by division;
 * INT64_MAX where it would not fit. */
static int64_t model_next_period(int64_t deadline, int64_t interval)
{
    int64_t k = (now - deadline) / interval + 1;
    if (k > (INT64_MAX - deadline) / interval)
        return INT64_MAX;
    return deadline + k * interval;
}

/* The earliest armed tick; false if nothing is armed. */
static bool earliest_tick(uint64_t *tick)
{
    bool any = false;
    for (int i = 0; i < NT; i++) {
        if (model[i].armed && (!any || tick_of(model[i].deadline) < *tick)) {
            *tick = tick_of(model[i].deadline);
            any = true;
        }
    }
    return any;
}

/* ---- what a failed check prints --------------------------------------
 */

static void fuzz_dump_state(void)
{
    fprintf(stderr,
            "now %" PRId64 " (tick %" PRIu64 "), wheel elapsed %" PRIu64
            ", wheel now %" PRId64 ", armed %zu\n",
            now, now_tick(), wheel.elapsed, wheel.now, wheel.armed);
    for (int i = 0; i < NT; i++) {
        if (model[i].armed || xpoll__timer_is_armed(&timers[i]))
            fprintf(stderr,
                    "  timer %2d model: armed %d deadline %" PRId64
                    " (tick %" PRIu64 ") interval %" PRId64
                    " | wheel: slot %" PRIu32 " deadline %" PRId64 "\n",
                    i, model[i].armed, model[i].deadline,
                    tick_of(model[i].deadline), model[i].interval,
                    timers[i].slot, timers[i].deadline);
    }
    ops_print_log();
}

/* ---- checks -----------------------------------------------------------
 */

/* The wheel's structure and its agreement with the model. */
static void check_wheel(void)
{
    size_t linked = 0;
    for (unsigned l = 0; l < LEVELS; l++) {
        for (unsigned s = 0; s < 64; s++) {
            struct xpoll__timer_link *head = &wheel.slots[l][s];
            bool bit = (wheel.occupied[l] >> s) & 1;
            FUZZ_CHECK(bit == (head->next != head),
                       "level %u slot %u: occupancy bit %d", l, s, bit);
            for (struct xpoll__timer_link *n = head->next; n != head;
                 n = n->next) {
                struct xpoll_timer *t = (struct xpoll_timer *)n;
                FUZZ_CHECK(n->next->prev == n, "broken link");
                FUZZ_CHECK(t->slot == l * 64 + s, "timer in %u/%u says %u", l,
                           s, t->slot);
                FUZZ_CHECK(tick_of(t->deadline) > wheel.elapsed,
                           "a processed tick left in slot %u/%u", l, s);
                linked++;
            }
        }
    }
    for (struct xpoll__timer_link *n = wheel.expired.next; n != &wheel.expired;
         n = n->next) {
        FUZZ_CHECK(((struct xpoll_timer *)n)->slot == XPOLL__TIMER_EXPIRED,
                   "expired list entry with slot %u",
                   ((struct xpoll_timer *)n)->slot);
        linked++;
    }
    size_t armed = 0;
    for (int i = 0; i < NT; i++) {
        FUZZ_CHECK(xpoll__timer_is_armed(&timers[i]) == model[i].armed,
                   "timer %d: armed %d in the wheel, %d in the model", i,
                   xpoll__timer_is_armed(&timers[i]), model[i].armed);
        if (model[i].armed) {
            armed++;
            FUZZ_CHECK(timers[i].deadline == model[i].deadline,
                       "timer %d: deadline %" PRId64 ", model %" PRId64, i,
                       timers[i].deadline, model[i].deadline);
        }
    }
    FUZZ_CHECK(linked == armed && wheel.armed == armed,
               "%zu linked, %zu counted, %zu in the model", linked, wheel.armed,
               armed);
}

/* One expire at now with capacity cap; returns the number of events. */
static size_t do_expire(size_t cap)
{
    size_t n = xpoll__timers_expire(&wheel, now, out, cap);
    note("expire cap %zu -> %zu", cap, n);
    FUZZ_CHECK(n <= cap, "%zu events for capacity %zu", n, cap);
    for (size_t k = 0; k < n; k++) {
        FUZZ_CHECK(out[k].xpoll__readiness == XPOLL__EV_TIMER, "readiness %#x",
                   (unsigned)out[k].xpoll__readiness);
        uint64_t i = out[k].xpoll__token - TOKEN0;
        FUZZ_CHECK(i < NT, "token %#" PRIx64, (uint64_t)out[k].xpoll__token);
        FUZZ_CHECK(model[i].armed, "timer %" PRIu64 " fired, not armed", i);
        FUZZ_CHECK(model[i].deadline <= now && due((int)i),
                   "timer %" PRIu64 " fired early: deadline %" PRId64, i,
                   model[i].deadline);
        uint64_t tick = tick_of(model[i].deadline);
        FUZZ_CHECK(tick >= last_tick,
                   "timer %" PRIu64 " (tick %" PRIu64 ") after tick %" PRIu64,
                   i, tick, last_tick);
        last_tick = tick;
        if (model[i].interval > 0) {
            int64_t next =
                model_next_period(model[i].deadline, model[i].interval);
            if (next > now)
                model[i].deadline = next;
            else
                model[i].armed = false;
        } else {
            model[i].armed = false;
        }
    }
    if (n < cap) {
        for (int i = 0; i < NT; i++)
            FUZZ_CHECK(!due(i),
                       "timer %d due (deadline %" PRId64 ") but not delivered",
                       i, model[i].deadline);
    }
    return n;
}

/* next() against the model; returns it. */
static int64_t check_next(void)
{
    int64_t n = xpoll__timers_next(&wheel, now);
    note("next -> %" PRId64, n);
    uint64_t first;
    bool any_due = false;
    for (int i = 0; i < NT; i++)
        any_due |= due(i);
    if (!earliest_tick(&first)) {
        FUZZ_CHECK(n == -1, "next %" PRId64 " with nothing armed", n);
    } else if (any_due) {
        FUZZ_CHECK(n == 0, "next %" PRId64 " with a timer due", n);
    } else if (n == -1) {
        FUZZ_CHECK(first > (uint64_t)(INT64_MAX / TICK),
                   "next -1 but tick %" PRIu64 " is reachable", first);
    } else {
        int64_t bound = first > (uint64_t)(INT64_MAX / TICK)
                            ? INT64_MAX
                            : (int64_t)first * TICK;
        FUZZ_CHECK(n > 0 && n <= bound - now,
                   "next %" PRId64 ", earliest tick %" PRIu64, n, first);
    }
    return n;
}

/* ---- operations --------------------------------------------------------
 */

static int64_t gen_level_delay(unsigned level)
{
    uint64_t ticks =
        (UINT64_C(1) << (6 * level)) + take(5) % (UINT64_C(63) << (6 * level));
    return (int64_t)ticks * TICK + (int64_t)(take(3) % (uint64_t)TICK);
}

static int64_t gen_delay(void)
{
    unsigned kind = (unsigned)take(1) % 12;
    switch (kind) {
    case 0:
        return 0;
    case 1:
        return (int64_t)(take(3) % (uint64_t)(3 * TICK)); /* sub-tick-ish */
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
        return gen_level_delay(kind - 2);
    case 8:
        return INT64_MAX - (int64_t)take(4);
    case 9: /* beyond the wheel's span */
        return (int64_t)(SPAN + take(5) % (4 * SPAN)) * TICK + (int64_t)take(2);
    case 10: /* close to the current deadline: the reset pattern */
        return (int64_t)(take(2) % (uint64_t)(4 * TICK));
    default:
        return -1 - (int64_t)take(2);
    }
}

static int64_t gen_interval(void)
{
    unsigned kind = (unsigned)take(1) % 8;
    switch (kind) {
    case 5:
        return 1 + (int64_t)(take(3) % (uint64_t)(64 * TICK));
    case 6:
        return 1 + gen_level_delay((unsigned)take(1) % LEVELS);
    case 7:
        return take(1) & 1 ? -1 : INT64_MAX - (int64_t)take(2);
    default:
        return 0;
    }
}

static void op_set(bool reset_like)
{
    int i = (int)(take(1) % NT);
    int64_t delay = gen_delay();
    int64_t interval = gen_interval();
    /* The idle-timeout pattern: the same delay again, a little later. */
    if (reset_like && model[i].armed && model[i].deadline > now && delay >= 0)
        delay = sat_add(model[i].deadline - now, delay % (2 * TICK));
    note("set %d delay %" PRId64 " interval %" PRId64, i, delay, interval);
    struct xpoll_timer before = timers[i];
    uint64_t processed = wheel.processed;
    int rc = xpoll__timers_set(&wheel, &timers[i], now, delay, interval);
    FUZZ_CHECK(wheel.processed == processed, "set processed a slot");
    if (delay < 0 || interval < 0) {
        FUZZ_CHECK(rc == -EINVAL, "set with negative values: %d", rc);
        FUZZ_CHECK(memcmp(&before, &timers[i], sizeof before) == 0,
                   "-EINVAL changed the timer");
        return;
    }
    FUZZ_CHECK(rc == 0, "set: %d", rc);
    model[i].armed = true;
    model[i].deadline = sat_add(now, delay);
    model[i].interval = interval;
}

static void op_cancel(void)
{
    int i = (int)(take(1) % (NT + 1));
    if (i == NT) { /* all of them at once */
        note("clear");
        xpoll__timers_clear(&wheel);
        for (int k = 0; k < NT; k++)
            model[k].armed = false;
        return;
    }
    note("cancel %d", i);
    uint64_t processed = wheel.processed;
    bool was = xpoll__timers_cancel(&wheel, &timers[i]);
    FUZZ_CHECK(wheel.processed == processed, "cancel processed a slot");
    FUZZ_CHECK(was == model[i].armed, "cancel %d returned %d", i, was);
    model[i].armed = false;
}

static void op_advance(void)
{
    unsigned kind = (unsigned)take(1) % 8;
    int64_t step = 0;
    uint64_t first;
    switch (kind) {
    case 0:
        break;
    case 1:
        step = (int64_t)(take(3) % (uint64_t)TICK);
        break;
    case 2:
        step = (int64_t)(take(1) % 70) * TICK + (int64_t)take(1);
        break;
    case 3:
        step = (int64_t)(take(3) % (64 * 64 * 64)) * TICK;
        break;
    case 4:
        step = (int64_t)take(1) * DAY + (int64_t)take(3);
        break;
    case 5:
        step = (int64_t)take(1) * 365 * DAY;
        break;
    case 6: /* exactly to the earliest tick's start, or 1 ns before */
        if (earliest_tick(&first) && first <= (uint64_t)(INT64_MAX / TICK) &&
            (int64_t)first * TICK > now)
            step = (int64_t)first * TICK - now - (int64_t)(take(1) & 1);
        break;
    default:
        step = (int64_t)take(1) * TICK * 64 * 64;
        break;
    }
    now = sat_add(now, step);
    note("advance %" PRId64 " -> now %" PRId64, step, now);
    if (take(1) & 1)
        xpoll__timers_advance(&wheel, now);
}

/* Sleeps as next() says and expires, as a loop would, until events come:
 * they come exactly at the earliest armed tick's start.  Each wake
 * processes a slot holding some timer, and each timer is met at most
 * once per level, once more across a span boundary and once per span of
 * distance before that tick: that bounds the wakes. */
static void op_follow(void)
{
    uint64_t first;
    note("follow");
    if (!earliest_tick(&first))
        return;
    for (int i = 0; i < NT; i++) {
        if (due(i))
            return; /* check_next and do_expire cover that case */
    }
    if (first > (uint64_t)(INT64_MAX / TICK))
        return; /* never reachable */
    uint64_t armed = 0;
    for (int i = 0; i < NT; i++)
        armed += model[i].armed;
    uint64_t wakes_max = armed * (LEVELS + 1 + (first - now_tick()) / SPAN);
    for (uint64_t wakes = 0;; wakes++) {
        FUZZ_CHECK(wakes <= wakes_max,
                   "%" PRIu64 " wakes and tick %" PRIu64 " not reached", wakes,
                   first);
        int64_t n = check_next();
        FUZZ_CHECK(n > 0, "next %" PRId64 " before the tick", n);
        now += n;
        if (do_expire(sizeof out / sizeof out[0]) > 0)
            break;
    }
    FUZZ_CHECK(now == (int64_t)first * TICK,
               "woke at %" PRId64 " for tick %" PRIu64, now, first);
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
    last_tick = 0;
    /* The clock starts anywhere in the first ~2.3 years (2^56 ns). */
    now = (int64_t)(take(7) & ((UINT64_C(1) << 56) - 1));
    xpoll__timers_init(&wheel, now);
    for (int i = 0; i < NT; i++) {
        xpoll__timer_init(&timers[i], NULL, TOKEN0 + (xpoll_token)i);
        model[i].armed = false;
    }
    note("start at %" PRId64, now);
    for (int ops = 0; ops < MAX_OPS && input_pos < input_len; ops++) {
        switch (take(1) % 8) {
        case 0:
        case 1:
            op_set(false);
            break;
        case 2:
            op_cancel();
            break;
        case 3:
            op_advance();
            break;
        case 4:
            do_expire((size_t)(take(1) % 9));
            break;
        case 5:
            check_next();
            break;
        case 6:
            op_follow();
            break;
        default:
            op_set(true);
            break;
        }
        check_wheel();
    }
    return 0;
}
