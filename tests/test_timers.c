/*
 * The timer core (src/timers.c) on a virtual clock: every call gets its
 * `now` from the test, so each result is exact and nothing depends on the
 * machine's speed.  The wheel's promises: a timer is due at the start of
 * the tick holding its deadline (never before the deadline, at most one
 * tick after it), in tick order across every level; reschedule and cancel
 * work from a slot and from the expired list; periodic timers keep their
 * phase and yield one event however far behind; a full event buffer
 * loses nothing; next() names the exact time to wake, 0 only when a
 * timer is due; and the work per timer is bounded by the number of
 * levels.
 */
#include "support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "timers.h"

#define TICK         XPOLL__TIMER_TICK_NS
#define LEVELS       XPOLL__TIMER_LEVELS
/* Ticks spanned by one slot of level l. */
#define SLOT_SPAN(l) (INT64_C(1) << (6 * (l)))
#define NTIMERS      1024
#define TOKEN(i)     ((xpoll_token)(0x7000 + (i)))
#define DAY          (INT64_C(86400) * SEC)

/* A start that is not on a tick boundary, so no test passes because its
 * times happen to be multiples of the tick. */
#define BASE (INT64_C(1000) * SEC + 123457)

struct tf {
    struct xpoll__timers wheel;
    struct xpoll_timer timers[NTIMERS];
    struct xpoll_event out[NTIMERS];
    int64_t now;
};

static int tf_setup(void **state)
{
    struct tf *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->now = BASE;
    xpoll__timers_init(&f->wheel, f->now);
    for (int i = 0; i < NTIMERS; i++)
        xpoll__timer_init(&f->timers[i], NULL, TOKEN(i));
    *state = f;
    return 0;
}

static int tf_teardown(void **state)
{
    free(*state);
    return 0;
}

/* The start of the tick a deadline belongs to: the earliest time it may
 * fire, and the time it must fire by. */
static int64_t tick_start(int64_t deadline)
{
    return (deadline / TICK + (deadline % TICK != 0)) * TICK;
}

static void set(struct tf *f, int i, int64_t delay, int64_t interval)
{
    assert_int_equal(
        xpoll__timers_set(&f->wheel, &f->timers[i], f->now, delay, interval),
        0);
}

static size_t expire(struct tf *f, size_t cap)
{
    assert_true(cap <= NTIMERS);
    return xpoll__timers_expire(&f->wheel, f->now, f->out, cap);
}

/* Expires at f->now and asserts that nothing came. */
static void expect_none(struct tf *f)
{
    assert_int_equal(expire(f, NTIMERS), 0);
}

/* Expires at f->now and asserts that exactly timer i came. */
static void expect_only(struct tf *f, int i)
{
    assert_int_equal(expire(f, NTIMERS), 1);
    assert_int_equal(f->out[0].xpoll__token, TOKEN(i));
}

/* Sleeps as next() says, then expires, until events come; returns their
 * number (0 if next() said -1 or after max_wakes sleeps) and counts the
 * sleeps in *wakes. */
static size_t follow_next(struct tf *f, int max_wakes, int *wakes)
{
    *wakes = 0;
    while (*wakes < max_wakes) {
        int64_t n = xpoll__timers_next(&f->wheel, f->now);
        if (n < 0)
            return 0;
        if (n > 0) {
            f->now += n;
            ++*wakes;
        }
        size_t got = expire(f, NTIMERS);
        if (got > 0)
            return got;
        /* next() said 0 only if something was due. */
        assert_true(n > 0);
    }
    return 0;
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

/* A delay whose tick lands at `level`, give or take a few ns. */
static int64_t delay_at_level(int level)
{
    int64_t lo = SLOT_SPAN(level) * 64 * TICK / 64; /* 64^level ticks */
    return lo + (int64_t)(rnd() % (uint64_t)(lo * 63));
}

/* ---- when a timer fires ------------------------------------------------
 */

static void unarmed_timer_never_fires(void **state)
{
    struct tf *f = *state;
    f->now += 10 * DAY;
    expect_none(f);
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now), -1);
    assert_false(xpoll__timer_is_armed(&f->timers[0]));
}

static void event_is_the_timer_bit_and_token(void **state)
{
    struct tf *f = *state;
    set(f, 5, 3 * MS, 0);
    f->now += 4 * MS;
    assert_int_equal(expire(f, NTIMERS), 1);
    assert_int_equal(f->out[0].xpoll__readiness, XPOLL__EV_TIMER);
    assert_int_equal(f->out[0].xpoll__token, TOKEN(5));
}

/* Mid-tick deadline: nothing 1 ns before the tick that holds it starts,
 * the event at that start. */
static void fires_at_tick_start_not_before(void **state)
{
    struct tf *f = *state;
    int64_t deadline = f->now + 2 * MS + 500000;
    assert_true(deadline % TICK != 0);
    set(f, 0, deadline - f->now, 0);
    f->now = deadline - 1;
    expect_none(f);
    f->now = deadline;
    expect_none(f);
    f->now = tick_start(deadline) - 1;
    expect_none(f);
    f->now = tick_start(deadline);
    expect_only(f, 0);
    assert_false(xpoll__timer_is_armed(&f->timers[0]));
}

/* A deadline on a tick boundary is due exactly then. */
static void deadline_on_boundary_fires_at_deadline(void **state)
{
    struct tf *f = *state;
    int64_t deadline = tick_start(f->now) + 7 * MS;
    set(f, 0, deadline - f->now, 0);
    f->now = deadline - 1;
    expect_none(f);
    f->now = deadline;
    expect_only(f, 0);
}

/* At every level, sleeping exactly as next() says delivers the timer at
 * its tick's start: never before the deadline, less than a tick after. */
static void next_wakes_at_exact_tick_on_every_level(void **state)
{
    struct tf *f = *state;
    for (int level = 0; level < LEVELS; level++) {
        for (int round = 0; round < 8; round++) {
            int64_t delay = delay_at_level(level) + (int64_t)(rnd() % TICK);
            int64_t deadline = f->now + delay;
            set(f, 0, delay, 0);
            int wakes;
            assert_int_equal(follow_next(f, 100, &wakes), 1);
            assert_int_equal(f->out[0].xpoll__token, TOKEN(0));
            assert_int_equal(f->now, tick_start(deadline));
            assert_true(f->now >= deadline && f->now < deadline + TICK);
        }
    }
}

/* A timer is processed once per level at most before it fires: next()
 * never wakes the caller more often than that. */
static void wakes_bounded_by_levels(void **state)
{
    struct tf *f = *state;
    for (int round = 0; round < 6 * LEVELS; round++) {
        set(f, 0, delay_at_level(round % LEVELS), 0);
        int level = (int)(f->timers[0].slot / 64);
        int wakes;
        assert_int_equal(follow_next(f, 100, &wakes), 1);
        assert_true(wakes >= 1 && wakes <= level + 1);
    }
}

static void delay_zero_on_boundary_fires_now(void **state)
{
    struct tf *f = *state;
    f->now = tick_start(f->now) + 3 * TICK;
    set(f, 0, 0, 0);
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now), 0);
    expect_only(f, 0);
}

/* Mid-tick, delay 0 waits for the next tick's start: never before its
 * deadline (now), within one tick. */
static void delay_zero_mid_tick_fires_next_tick(void **state)
{
    struct tf *f = *state;
    assert_true(f->now % TICK != 0);
    set(f, 0, 0, 0);
    int64_t next = xpoll__timers_next(&f->wheel, f->now);
    assert_int_equal(next, tick_start(f->now) - f->now);
    expect_none(f);
    f->now += next;
    expect_only(f, 0);
}

/* ---- order -------------------------------------------------------------
 */

static int by_deadline(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Timers on every level, armed in random order, come out in tick order,
 * whether the clock moves in one jump or in random steps. */
static void check_order(struct tf *f, bool one_jump)
{
    enum { N = 600 };
    int64_t deadline[N], sorted[N];
    for (int i = 0; i < N; i++) {
        int64_t delay = delay_at_level(i % LEVELS) + (int64_t)(rnd() % TICK);
        set(f, i, delay, 0);
        deadline[i] = sorted[i] = f->now + delay;
    }
    qsort(sorted, N, sizeof sorted[0], by_deadline);
    int64_t last = sorted[N - 1];
    int seen = 0;
    int64_t prev_tick = 0;
    while (seen < N) {
        if (one_jump)
            f->now = tick_start(last);
        else
            f->now += (int64_t)(rnd() % (uint64_t)(3 * DAY));
        size_t got = expire(f, NTIMERS);
        for (size_t k = 0; k < got; k++) {
            int i = (int)(f->out[k].xpoll__token - TOKEN(0));
            assert_true(i >= 0 && i < N);
            /* Its tick, the same as the next deadline's in sorted order. */
            int64_t t = tick_start(deadline[i]);
            assert_int_equal(t, tick_start(sorted[seen]));
            assert_true(t >= prev_tick);
            assert_true(t <= f->now);
            prev_tick = t;
            seen++;
        }
    }
    assert_int_equal(f->wheel.armed, 0);
}

static void order_across_levels_one_jump(void **state)
{
    check_order(*state, true);
}

static void order_across_levels_random_steps(void **state)
{
    check_order(*state, false);
}

/* Timers due in one tick come out in the order they were armed. */
static void same_tick_in_arming_order(void **state)
{
    struct tf *f = *state;
    for (int i = 0; i < 10; i++)
        set(f, 9 - i, 100 * MS, 0);
    f->now += 101 * MS;
    assert_int_equal(expire(f, NTIMERS), 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(f->out[i].xpoll__token, TOKEN(9 - i));
}

/* ---- reschedule --------------------------------------------------------
 */

static void reschedule_later(void **state)
{
    struct tf *f = *state;
    int64_t start = f->now;
    set(f, 0, 10 * MS, 0);
    f->now += 5 * MS;
    set(f, 0, 50 * MS, 0);
    f->now = start + 20 * MS;
    expect_none(f);
    f->now = tick_start(start + 55 * MS) - 1;
    expect_none(f);
    f->now += 1;
    expect_only(f, 0);
    f->now += DAY;
    expect_none(f);
}

static void reschedule_earlier(void **state)
{
    struct tf *f = *state;
    set(f, 0, 3600 * SEC, 0);
    set(f, 0, 5 * MS, 0);
    f->now = tick_start(f->now + 5 * MS);
    expect_only(f, 0);
    f->now += 3601 * SEC;
    expect_none(f);
}

/* The idle-timeout pattern: a reset that lands in the slot the timer
 * occupies changes its deadline only -- same slot, same neighbours, no
 * slot processed -- and the new deadline is the one that counts. */
static void reschedule_same_slot_moves_nothing(void **state)
{
    struct tf *f = *state;
    /* From the start of a level-3 block, 100 s (100,000 ticks) ahead is
     * level 2, slot 24 of the block (slots of 4096 ticks), and so is 1 ms
     * later. */
    int64_t block = 64 * 64 * 64 * TICK;
    f->now = (f->now / block + 1) * block;
    xpoll__timers_advance(&f->wheel, f->now);
    set(f, 1, 100 * SEC, 0);
    set(f, 0, 100 * SEC, 0);
    set(f, 2, 100 * SEC, 0);
    struct xpoll_timer *t = &f->timers[0];
    uint32_t slot = t->slot;
    assert_true(slot / 64 == 2);
    struct xpoll__timer_link *next = t->link.next, *prev = t->link.prev;
    uint64_t processed = f->wheel.processed;
    f->now += MS;
    set(f, 0, 100 * SEC, 0);
    assert_int_equal(t->slot, slot);
    assert_ptr_equal(t->link.next, next);
    assert_ptr_equal(t->link.prev, prev);
    assert_int_equal(f->wheel.processed, processed);
    assert_int_equal(t->deadline, f->now + 100 * SEC);
    /* The others fire at the old time, timer 0 one tick later. */
    f->now = tick_start(f->now - MS + 100 * SEC);
    assert_int_equal(expire(f, NTIMERS), 2);
    f->now = tick_start(t->deadline) - 1;
    expect_none(f);
    f->now += 1;
    expect_only(f, 0);
}

/* A reset that leaves the slot moves the timer out of it (the old slot's
 * occupancy bit goes when it empties). */
static void reschedule_other_slot_moves(void **state)
{
    struct tf *f = *state;
    set(f, 0, 10 * MS, 0);
    uint32_t slot = f->timers[0].slot;
    set(f, 0, 200 * MS, 0);
    assert_true(f->timers[0].slot != slot);
    assert_int_equal(f->wheel.occupied[slot / 64] & (UINT64_C(1) << slot % 64),
                     0);
}

/* Due and waiting on the expired list (the buffer was full), then reset:
 * it leaves the list and fires at its new deadline only. */
static void reschedule_while_expired(void **state)
{
    struct tf *f = *state;
    set(f, 0, 2 * MS, 0);
    f->now += 3 * MS;
    xpoll__timers_advance(&f->wheel, f->now);
    assert_int_equal(f->timers[0].slot, XPOLL__TIMER_EXPIRED);
    set(f, 0, 10 * MS, 0);
    expect_none(f);
    f->now = tick_start(f->now + 10 * MS);
    expect_only(f, 0);
}

/* ---- cancel ------------------------------------------------------------
 */

static void cancel_from_slot(void **state)
{
    struct tf *f = *state;
    set(f, 0, 10 * MS, 0);
    assert_true(xpoll__timers_cancel(&f->wheel, &f->timers[0]));
    assert_false(xpoll__timer_is_armed(&f->timers[0]));
    assert_false(xpoll__timers_cancel(&f->wheel, &f->timers[0]));
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now), -1);
    f->now += DAY;
    expect_none(f);
    assert_int_equal(f->wheel.armed, 0);
}

static void cancel_from_expired_list(void **state)
{
    struct tf *f = *state;
    set(f, 0, 1 * MS, 0);
    set(f, 1, 1 * MS, 0);
    f->now += 2 * MS;
    /* Both due; a full buffer leaves timer 1 queued. */
    assert_int_equal(expire(f, 1), 1);
    assert_int_equal(f->out[0].xpoll__token, TOKEN(0));
    assert_int_equal(f->timers[1].slot, XPOLL__TIMER_EXPIRED);
    assert_true(xpoll__timers_cancel(&f->wheel, &f->timers[1]));
    expect_none(f);
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now), -1);
}

/* Cancelling one timer of a slot leaves the others there. */
static void cancel_keeps_slot_neighbours(void **state)
{
    struct tf *f = *state;
    for (int i = 0; i < 3; i++)
        set(f, i, 30 * MS, 0);
    assert_true(xpoll__timers_cancel(&f->wheel, &f->timers[1]));
    f->now += 31 * MS;
    assert_int_equal(expire(f, NTIMERS), 2);
    assert_int_equal(f->out[0].xpoll__token, TOKEN(0));
    assert_int_equal(f->out[1].xpoll__token, TOKEN(2));
}

/* ---- periodic ----------------------------------------------------------
 */

/* Late deliveries do not shift the schedule: deadlines stay start + k *
 * interval. */
static void periodic_keeps_phase(void **state)
{
    struct tf *f = *state;
    int64_t first = f->now + 10 * MS;
    set(f, 0, 10 * MS, 10 * MS);
    for (int k = 0; k < 50; k++) {
        /* Deliver each one 1 to 9 ms late (its tick has begun). */
        f->now = first + k * 10 * MS + TICK + (int64_t)(rnd() % (8 * MS));
        expect_only(f, 0);
        assert_int_equal(f->timers[0].deadline, first + (k + 1) * 10 * MS);
        assert_true(xpoll__timer_is_armed(&f->timers[0]));
    }
}

/* Fell behind by several intervals: one event, and the next deadline is
 * the first multiple after now. */
static void periodic_behind_yields_one_event(void **state)
{
    struct tf *f = *state;
    int64_t first = f->now + 10 * MS;
    set(f, 0, 10 * MS, 10 * MS);
    f->now = first + 95 * MS;
    expect_only(f, 0);
    assert_int_equal(f->timers[0].deadline, first + 100 * MS);
    expect_none(f);
    f->now = tick_start(first + 100 * MS);
    expect_only(f, 0);
}

/* A periodic timer reset with interval 0 is one-shot: not re-armed
 * after its event. */
static void periodic_reset_to_one_shot(void **state)
{
    struct tf *f = *state;
    set(f, 0, 10 * MS, 10 * MS);
    set(f, 0, 10 * MS, 0);
    f->now += 11 * MS;
    expect_only(f, 0);
    assert_false(xpoll__timer_is_armed(&f->timers[0]));
}

/* ---- capacity ----------------------------------------------------------
 */

static void capacity_overflow_carries_over(void **state)
{
    struct tf *f = *state;
    for (int i = 0; i < 10; i++)
        set(f, i, (1 + i) * MS, 0);
    f->now += DAY;
    int seen = 0;
    for (int call = 0; call < 3; call++) {
        assert_int_equal(expire(f, 3), 3);
        for (int k = 0; k < 3; k++)
            assert_int_equal(f->out[k].xpoll__token, TOKEN(seen++));
    }
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now), 0);
    expect_only(f, 9);
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now), -1);
}

static void capacity_zero_only_advances(void **state)
{
    struct tf *f = *state;
    set(f, 0, 1 * MS, 0);
    f->now += 2 * MS;
    assert_int_equal(xpoll__timers_expire(&f->wheel, f->now, NULL, 0), 0);
    assert_int_equal(f->timers[0].slot, XPOLL__TIMER_EXPIRED);
    expect_only(f, 0);
}

/* ---- bad and extreme input ---------------------------------------------
 */

static void negative_values_are_einval(void **state)
{
    struct tf *f = *state;
    set(f, 0, 10 * MS, 5 * MS);
    struct xpoll_timer before = f->timers[0];
    struct xpoll__timers wheel_before = f->wheel;
    assert_int_equal(xpoll__timers_set(&f->wheel, &f->timers[0], f->now, -1, 0),
                     -EINVAL);
    assert_int_equal(xpoll__timers_set(&f->wheel, &f->timers[0], f->now, 0, -1),
                     -EINVAL);
    assert_int_equal(xpoll__timers_set(&f->wheel, &f->timers[1], f->now,
                                       INT64_MIN, INT64_MIN),
                     -EINVAL);
    assert_memory_equal(&before, &f->timers[0], sizeof before);
    assert_memory_equal(&wheel_before, &f->wheel, sizeof wheel_before);
    assert_false(xpoll__timer_is_armed(&f->timers[1]));
}

/* now + INT64_MAX saturates (UBSan would report the overflow); the timer
 * waits (292 years) and next() stays positive. */
static void huge_delay_saturates(void **state)
{
    struct tf *f = *state;
    set(f, 0, INT64_MAX, 0);
    assert_int_equal(f->timers[0].deadline, INT64_MAX);
    set(f, 1, INT64_MAX - 1, INT64_MAX);
    assert_int_equal(f->timers[1].deadline, INT64_MAX);
    for (int i = 0; i < 5; i++) {
        f->now += 1000 * DAY;
        expect_none(f);
        int64_t next = xpoll__timers_next(&f->wheel, f->now);
        assert_true(next > 0 || next == -1);
    }
    assert_int_equal(f->wheel.armed, 2);
}

/* A deadline beyond the wheel's span (2^36 ticks, 2.2 years) waits in
 * the top level's ring and still fires at its tick, after a bounded
 * number of wakes (one per span, plus one per level). */
static void beyond_span_fires_at_tick(void **state)
{
    struct tf *f = *state;
    int64_t span = (INT64_C(1) << 36) * TICK;
    int64_t delay = 2 * span + 12345 * SEC + 777;
    int64_t deadline = f->now + delay;
    set(f, 0, delay, 0);
    int wakes;
    assert_int_equal(follow_next(f, 20, &wakes), 1);
    assert_int_equal(f->now, tick_start(deadline));
    assert_true(wakes <= 4 + LEVELS);
}

/* The top level's slots form a ring: a far deadline clamped into the
 * slot the elapsed tick is in waits one rotation, and does not hide the
 * slots after it in the current rotation.  Timer 0 (INT64_MAX, slot 13
 * of the top level from tick 0) is met at slot 13's start and linked in
 * again there; timer 1 (slot 16) must still fire in this rotation. */
static void top_level_ring_keeps_slot_order(void **state)
{
    struct tf *f = *state;
    int64_t slot5 = INT64_C(1) << 30; /* ticks per top-level slot */
    f->now = 0;
    xpoll__timers_init(&f->wheel, f->now);
    set(f, 0, INT64_MAX, 0);
    assert_int_equal(f->timers[0].slot, 5 * 64 + 13);
    int64_t tick1 = 16 * slot5 + 5;
    set(f, 1, tick1 * TICK, 0);
    assert_int_equal(f->timers[1].slot, 5 * 64 + 16);
    /* One jump past slot 13's start one rotation later. */
    f->now = ((INT64_C(1) << 36) + 14 * slot5) * TICK;
    expect_only(f, 1);
    assert_true(xpoll__timer_is_armed(&f->timers[0]));
}

/* A clock read before the wheel's latest one counts as the latest: time
 * does not go back, nothing is un-expired. */
static void earlier_now_is_the_latest(void **state)
{
    struct tf *f = *state;
    set(f, 0, 5 * MS, 0);
    f->now += 10 * MS;
    xpoll__timers_advance(&f->wheel, f->now);
    assert_int_equal(
        xpoll__timers_expire(&f->wheel, f->now - 9 * MS, f->out, NTIMERS), 1);
    set(f, 1, 20 * MS, 0);
    /* Counted from the latest clock reading, not from the stale one. */
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now - 9 * MS),
                     tick_start(f->now + 20 * MS) - f->now);
}

/* CLOCK_MONOTONIC is never negative; a negative now counts as 0. */
static void negative_now_counts_as_zero(void **state)
{
    struct tf *f = *state;
    xpoll__timers_init(&f->wheel, -5 * MS);
    assert_int_equal(f->wheel.now, 0);
    assert_int_equal(
        xpoll__timers_set(&f->wheel, &f->timers[0], -SEC, 5 * MS, 0), 0);
    assert_int_equal(f->timers[0].deadline, 5 * MS);
    assert_int_equal(xpoll__timers_next(&f->wheel, -SEC), 5 * MS);
}

/* Near the end of the int64 clock a periodic timer saturates and stops
 * instead of firing at every call. */
static void periodic_at_end_of_clock_stops(void **state)
{
    struct tf *f = *state;
    f->now = INT64_MAX - 10 * MS;
    xpoll__timers_advance(&f->wheel, f->now);
    set(f, 0, 1 * MS, INT64_MAX / 2);
    f->now = INT64_MAX;
    expect_only(f, 0);
    assert_false(xpoll__timer_is_armed(&f->timers[0]));
    expect_none(f);
}

/* ---- next() ------------------------------------------------------------
 */

/* Over every sub-tick position before a deadline: next() is positive,
 * and exactly the time to the deadline's tick at level 0. */
static void next_exact_and_never_zero_early(void **state)
{
    struct tf *f = *state;
    int64_t deadline = f->now + 20 * MS + 3;
    set(f, 0, deadline - f->now, 0);
    int64_t due = tick_start(deadline);
    f->now = due - 3 * TICK;
    xpoll__timers_advance(&f->wheel, f->now);
    assert_true(f->timers[0].slot < 64); /* at level 0 by now */
    for (int64_t t = due - 3 * TICK; t < due; t += TICK / 7) {
        f->now = t;
        assert_int_equal(xpoll__timers_next(&f->wheel, f->now), due - t);
    }
    f->now = due;
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now), 0);
}

/* A timer at a higher level: next() names a cascade point before its
 * tick, never after it, and never 0. */
static void next_cascade_point_not_after_deadline(void **state)
{
    struct tf *f = *state;
    for (int level = 1; level < LEVELS; level++) {
        int64_t delay = delay_at_level(level);
        int64_t due = tick_start(f->now + delay);
        set(f, 0, delay, 0);
        int64_t next = xpoll__timers_next(&f->wheel, f->now);
        assert_true(next > 0);
        assert_true(next <= due - f->now);
        xpoll__timers_cancel(&f->wheel, &f->timers[0]);
    }
}

/* With a timer due, next() is 0 until it is handed out. */
static void next_zero_while_due(void **state)
{
    struct tf *f = *state;
    set(f, 0, 1 * MS, 0);
    set(f, 1, 1 * MS, 0);
    f->now += 2 * MS;
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now), 0);
    assert_int_equal(expire(f, 1), 1);
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now), 0);
    assert_int_equal(expire(f, 1), 1);
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now), -1);
}

/* ---- work bounds -------------------------------------------------------
 */

/* Many timers over all levels, the clock moving in random steps: each
 * timer cascades at most LEVELS times (once per level below its own, one
 * more across a multiple of 2^36 ticks), and each slot processed holds at
 * least one timer (no empty slot is visited). */
static void cascades_bounded_by_levels(void **state)
{
    struct tf *f = *state;
    for (int i = 0; i < NTIMERS; i++)
        set(f, i, delay_at_level(i % LEVELS), 0);
    size_t fired = 0;
    while (fired < NTIMERS) {
        f->now += (int64_t)(rnd() % (uint64_t)(2 * DAY));
        fired += expire(f, NTIMERS);
    }
    assert_true(f->wheel.cascades <= (uint64_t)NTIMERS * LEVELS);
    assert_true(f->wheel.processed <= f->wheel.cascades + NTIMERS);
}

/* Set and cancel process no slot: their cost does not depend on how many
 * timers there are. */
static void set_and_cancel_process_nothing(void **state)
{
    struct tf *f = *state;
    for (int i = 0; i < NTIMERS; i++)
        set(f, i, delay_at_level(i % LEVELS), 0);
    for (int i = 0; i < NTIMERS; i += 2)
        xpoll__timers_cancel(&f->wheel, &f->timers[i]);
    for (int i = 1; i < NTIMERS; i += 2)
        set(f, i, delay_at_level((i + 3) % LEVELS), 0);
    assert_int_equal(f->wheel.processed, 0);
    assert_int_equal(f->wheel.cascades, 0);
    assert_int_equal(f->wheel.armed, NTIMERS / 2);
}

static void clear_unarms_everything(void **state)
{
    struct tf *f = *state;
    for (int i = 0; i < 100; i++)
        set(f, i, delay_at_level(i % LEVELS), i % 3 ? 0 : MS);
    set(f, 100, 0, 0);
    f->now += MS;
    xpoll__timers_advance(&f->wheel, f->now);
    xpoll__timers_clear(&f->wheel);
    for (int i = 0; i <= 100; i++)
        assert_false(xpoll__timer_is_armed(&f->timers[i]));
    assert_int_equal(f->wheel.armed, 0);
    assert_int_equal(xpoll__timers_next(&f->wheel, f->now), -1);
    f->now += 10 * 365 * DAY;
    expect_none(f);
    /* And the wheel works on. */
    set(f, 7, 3 * MS, 0);
    f->now += 3 * MS + TICK;
    expect_only(f, 7);
}

#define T(name) cmocka_unit_test_setup_teardown(name, tf_setup, tf_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(unarmed_timer_never_fires),
        T(event_is_the_timer_bit_and_token),
        T(fires_at_tick_start_not_before),
        T(deadline_on_boundary_fires_at_deadline),
        T(next_wakes_at_exact_tick_on_every_level),
        T(wakes_bounded_by_levels),
        T(delay_zero_on_boundary_fires_now),
        T(delay_zero_mid_tick_fires_next_tick),
        T(order_across_levels_one_jump),
        T(order_across_levels_random_steps),
        T(same_tick_in_arming_order),
        T(reschedule_later),
        T(reschedule_earlier),
        T(reschedule_same_slot_moves_nothing),
        T(reschedule_other_slot_moves),
        T(reschedule_while_expired),
        T(cancel_from_slot),
        T(cancel_from_expired_list),
        T(cancel_keeps_slot_neighbours),
        T(periodic_keeps_phase),
        T(periodic_behind_yields_one_event),
        T(periodic_reset_to_one_shot),
        T(capacity_overflow_carries_over),
        T(capacity_zero_only_advances),
        T(negative_values_are_einval),
        T(huge_delay_saturates),
        T(beyond_span_fires_at_tick),
        T(top_level_ring_keeps_slot_order),
        T(earlier_now_is_the_latest),
        T(periodic_at_end_of_clock_stops),
        T(negative_now_counts_as_zero),
        T(next_exact_and_never_zero_early),
        T(next_cascade_point_not_after_deadline),
        T(next_zero_while_due),
        T(cascades_bounded_by_levels),
        T(set_and_cancel_process_nothing),
        T(clear_unarms_everything),
    };
    return RUN(tests, NULL, NULL);
}
