/*
 * The timer core: a hierarchical timing wheel (docs/timers.md).
 *
 * The layout and the level arithmetic follow tokio's time driver
 * (tokio/src/runtime/time/wheel/mod.rs and level.rs): 6 levels of 64
 * slots, one 64-bit occupancy word per level, a timer's level chosen from
 * the most significant 6-bit group in which its tick differs from the
 * wheel's elapsed tick, its slot the tick's 6 bits at that level.  A slot
 * at level L > 0 is processed at its start, which is never after any of
 * its timers' ticks; its timers then move down ("cascade") by their own
 * ticks.  So set and cancel are O(1), and advancing costs O(timers moved
 * + cascades) with at most LEVELS cascades per timer (plus one per span
 * of distance, docs/timers.md): the occupancy words find the next
 * non-empty slot without visiting empty ones.
 */
#include "timers.h"

#include <errno.h>

#define TICK   XPOLL__TIMER_TICK_NS
#define BITS   XPOLL__TIMER_LEVEL_BITS
#define SLOTS  XPOLL__TIMER_SLOTS
#define LEVELS XPOLL__TIMER_LEVELS
/* Ticks the wheel spans: 64^6 = 2^36. */
#define SPAN   (UINT64_C(1) << (BITS * LEVELS))

_Static_assert(SLOTS == 1 << BITS, "a level's slots are its 6-bit group");
_Static_assert(LEVELS *SLOTS < XPOLL__TIMER_EXPIRED,
               "slot ids stay below the special values");

/* ---- intrusive lists ---------------------------------------------------
 */

static void list_init(struct xpoll__timer_link *head)
{
    head->next = head;
    head->prev = head;
}

static bool list_is_empty(const struct xpoll__timer_link *head)
{
    return head->next == head;
}

static void list_push_back(struct xpoll__timer_link *head,
                           struct xpoll__timer_link *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static void list_unlink(struct xpoll__timer_link *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = NULL;
    node->prev = NULL;
}

/* Moves every node of `from` (non-empty) to `to` (empty), in order. */
static void list_move_all(struct xpoll__timer_link *from,
                          struct xpoll__timer_link *to)
{
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    list_init(from);
}

static struct xpoll_timer *timer_of(struct xpoll__timer_link *link)
{
    /* link is the first member (C11 6.7.2.1p15). */
    return (struct xpoll_timer *)link;
}

/* ---- ticks and positions -----------------------------------------------
 */

/* The tick a deadline (>= 0) belongs to: ceil(deadline / TICK), so that
 * the tick's start is never before the deadline. */
static uint64_t tick_of(int64_t deadline)
{
    return (uint64_t)(deadline / TICK) + (deadline % TICK != 0);
}

/* The level for `tick` seen from `elapsed`: the most significant 6-bit
 * group in which they differ.  A tick more than the wheel's span ahead
 * differs above the top level's group; like tokio's level_for(), it is
 * clamped into the top level, whose slots then act as a ring: the timer
 * is found at that slot's next start (before its tick) and cascades again
 * from there. */
static unsigned level_for(uint64_t elapsed, uint64_t tick)
{
    /* The low group ORed in keeps masked non-zero: level 0 at least. */
    uint64_t masked = (elapsed ^ tick) | (SLOTS - 1);
    if (masked >= SPAN)
        masked = SPAN - 1;
    unsigned significant = 63u - (unsigned)__builtin_clzll(masked);
    return significant / BITS;
}

static unsigned slot_for(uint64_t tick, unsigned level)
{
    return (unsigned)(tick >> (BITS * level)) & (SLOTS - 1);
}

/* x rotated right by r (0..63). */
static uint64_t rotate_right(uint64_t x, unsigned r)
{
    return r == 0 ? x : (x >> r) | (x << (64 - r));
}

/* The start tick of the next slot to process, its level and slot; false
 * if the wheel is empty.  The lowest non-empty level holds it: a level
 * L's timers all lie in the elapsed tick's current level-(L+1) range, so
 * its next slot starts before any slot of a higher level (tokio's
 * Wheel::next_expiration()). */
static bool next_slot(const struct xpoll__timers *timers, unsigned *level,
                      unsigned *slot, uint64_t *start)
{
    for (unsigned l = 0; l < LEVELS; l++) {
        uint64_t occupied = timers->occupied[l];
        if (occupied == 0)
            continue;
        unsigned shift = BITS * l;
        /* The search starts just after the elapsed tick's own slot, which
         * comes last: below the top level it is always empty, and at the
         * top level it can only hold clamped ticks linked in again one
         * rotation later.  Starting at that slot itself, as tokio's
         * next_occupied_slot() does, would here let such a timer hide the
         * later slots of the current rotation. */
        unsigned from = (slot_for(timers->elapsed, l) + 1) & (SLOTS - 1);
        unsigned s =
            ((unsigned)__builtin_ctzll(rotate_right(occupied, from)) + from) &
            (SLOTS - 1);
        uint64_t level_range = UINT64_C(1) << (shift + BITS);
        uint64_t at =
            (timers->elapsed & ~(level_range - 1)) + ((uint64_t)s << shift);
        /* Only the top level, holding a tick clamped into it, can name a
         * slot at or before the elapsed tick: that slot comes round again
         * one span later (tokio's Level::next_expiration()). */
        if (at <= timers->elapsed)
            at += level_range;
        *level = l;
        *slot = s;
        *start = at;
        return true;
    }
    return false;
}

/* Puts an unlinked timer where its tick belongs: the expired list if that
 * tick has been processed, else its slot. */
static void link_in(struct xpoll__timers *timers, struct xpoll_timer *timer,
                    uint64_t tick)
{
    if (tick <= timers->elapsed) {
        list_push_back(&timers->expired, &timer->link);
        timer->slot = XPOLL__TIMER_EXPIRED;
        return;
    }
    unsigned level = level_for(timers->elapsed, tick);
    unsigned slot = slot_for(tick, level);
    list_push_back(&timers->slots[level][slot], &timer->link);
    timers->occupied[level] |= UINT64_C(1) << slot;
    timer->slot = (uint32_t)(level * SLOTS + slot);
}

/* Takes a linked timer out of its slot or the expired list. */
static void unlink_timer(struct xpoll__timers *timers,
                         struct xpoll_timer *timer)
{
    uint32_t id = timer->slot;
    list_unlink(&timer->link);
    if (id < LEVELS * SLOTS) {
        unsigned level = id / SLOTS;
        unsigned slot = id % SLOTS;
        if (list_is_empty(&timers->slots[level][slot]))
            timers->occupied[level] &= ~(UINT64_C(1) << slot);
    }
    timer->slot = XPOLL__TIMER_UNARMED;
}

/* ---- the entry points --------------------------------------------------
 */

void xpoll__timers_init(struct xpoll__timers *timers, int64_t now_ns)
{
    timers->now = now_ns > 0 ? now_ns : 0;
    timers->elapsed = (uint64_t)timers->now / TICK;
    timers->armed = 0;
    for (unsigned l = 0; l < LEVELS; l++) {
        timers->occupied[l] = 0;
        for (unsigned s = 0; s < SLOTS; s++)
            list_init(&timers->slots[l][s]);
    }
    list_init(&timers->expired);
    timers->processed = 0;
    timers->cascades = 0;
}

static void unarm_all(struct xpoll__timer_link *head)
{
    while (!list_is_empty(head)) {
        struct xpoll__timer_link *node = head->next;
        list_unlink(node);
        timer_of(node)->slot = XPOLL__TIMER_UNARMED;
    }
}

void xpoll__timers_clear(struct xpoll__timers *timers)
{
    for (unsigned l = 0; l < LEVELS; l++) {
        for (unsigned s = 0; s < SLOTS; s++)
            unarm_all(&timers->slots[l][s]);
        timers->occupied[l] = 0;
    }
    unarm_all(&timers->expired);
    timers->armed = 0;
}

void xpoll__timer_init(struct xpoll_timer *timer, struct xpoll *poll,
                       xpoll_token token)
{
    timer->link.next = NULL;
    timer->link.prev = NULL;
    timer->deadline = 0;
    timer->interval_ns = 0;
    timer->token = token;
    timer->poll = poll;
    timer->slot = XPOLL__TIMER_UNARMED;
    timer->flags = 0;
}

int xpoll__timers_set(struct xpoll__timers *timers, struct xpoll_timer *timer,
                      int64_t now_ns, int64_t delay_ns, int64_t interval_ns)
{
    if (delay_ns < 0 || interval_ns < 0)
        return -EINVAL;
    if (now_ns < 0)
        now_ns = 0;
    /* Saturates instead of overflowing: INT64_MAX ns is 292 years. */
    int64_t deadline =
        delay_ns > INT64_MAX - now_ns ? INT64_MAX : now_ns + delay_ns;
    uint64_t tick = tick_of(deadline);

    if (timer->slot < LEVELS * SLOTS) {
        /* The idle-timeout pattern resets a timer on every message, mostly
         * into the slot it is in already: then only the deadline moves. */
        if (tick > timers->elapsed) {
            unsigned level = level_for(timers->elapsed, tick);
            if (timer->slot == level * SLOTS + slot_for(tick, level)) {
                timer->deadline = deadline;
                timer->interval_ns = interval_ns;
                return 0;
            }
        }
        unlink_timer(timers, timer);
    } else if (timer->slot == XPOLL__TIMER_EXPIRED) {
        unlink_timer(timers, timer);
    } else {
        timers->armed++;
    }
    timer->deadline = deadline;
    timer->interval_ns = interval_ns;
    link_in(timers, timer, tick);
    return 0;
}

bool xpoll__timers_cancel(struct xpoll__timers *timers,
                          struct xpoll_timer *timer)
{
    if (!xpoll__timer_is_armed(timer))
        return false;
    unlink_timer(timers, timer);
    timers->armed--;
    return true;
}

/* Empties one slot whose start tick `at` has come: its timers due by then
 * go to the expired list, the others back into the wheel, seen from `at`
 * (all of a slot is taken first, as tokio's process_expiration() does, so
 * that a timer put back into the same top-level slot is not met again). */
static void process_slot(struct xpoll__timers *timers, unsigned level,
                         unsigned slot, uint64_t at)
{
    struct xpoll__timer_link batch;
    list_move_all(&timers->slots[level][slot], &batch);
    timers->occupied[level] &= ~(UINT64_C(1) << slot);
    timers->elapsed = at;
    timers->processed++;
    while (!list_is_empty(&batch)) {
        struct xpoll__timer_link *node = batch.next;
        list_unlink(node);
        struct xpoll_timer *timer = timer_of(node);
        uint64_t tick = tick_of(timer->deadline);
        if (tick > at)
            timers->cascades++;
        link_in(timers, timer, tick);
    }
}

void xpoll__timers_advance(struct xpoll__timers *timers, int64_t now_ns)
{
    if (now_ns > timers->now)
        timers->now = now_ns;
    uint64_t target = (uint64_t)timers->now / TICK;
    unsigned level, slot;
    uint64_t at;
    while (next_slot(timers, &level, &slot, &at) && at <= target)
        process_slot(timers, level, slot, at);
    if (target > timers->elapsed)
        timers->elapsed = target;
}

int64_t xpoll__timers_next(struct xpoll__timers *timers, int64_t now_ns)
{
    xpoll__timers_advance(timers, now_ns);
    if (!list_is_empty(&timers->expired))
        return 0;
    unsigned level, slot;
    uint64_t at;
    if (!next_slot(timers, &level, &slot, &at) ||
        at > (uint64_t)(INT64_MAX / TICK))
        return -1;
    /* at > elapsed = floor(now / TICK), so the result is > 0. */
    return (int64_t)at * TICK - timers->now;
}

/* The periodic timer's next deadline after now: deadline + k * interval
 * for the smallest k >= 1 that passes now, saturated at INT64_MAX.  It
 * keeps the phase and yields one event however far behind it fell:
 * tokio's MissedTickBehavior::Skip.  libuv restarts a repeating timer
 * from the loop's time (uv__run_timers() calls uv_timer_again()), which
 * drifts by every lateness; libev adds the repeat to the old deadline but
 * moves one still in the past to now (ev.c, timers_reify()).  Unsigned
 * arithmetic: every intermediate value is below 2^64. */
static int64_t next_period(int64_t deadline, int64_t interval, int64_t now)
{
    uint64_t d = (uint64_t)deadline;
    uint64_t i = (uint64_t)interval;
    uint64_t n = (uint64_t)now;
    uint64_t next = d > n ? d + i : n + (i - (n - d) % i);
    return next > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)next;
}

size_t xpoll__timers_expire(struct xpoll__timers *timers, int64_t now_ns,
                            struct xpoll_event *out, size_t cap)
{
    xpoll__timers_advance(timers, now_ns);
    size_t n = 0;
    while (n < cap && !list_is_empty(&timers->expired)) {
        struct xpoll_timer *timer = timer_of(timers->expired.next);
        unlink_timer(timers, timer);
        out[n].xpoll__readiness = XPOLL__EV_TIMER;
        out[n].xpoll__token = timer->token;
        n++;
        if (timer->interval_ns > 0) {
            int64_t next =
                next_period(timer->deadline, timer->interval_ns, timers->now);
            /* Past now, so its tick is past the elapsed tick: it cannot
             * come round again in this call.  Only at the end of the
             * int64 clock does the saturated value fail to pass now. */
            if (next > timers->now) {
                timer->deadline = next;
                link_in(timers, timer, tick_of(next));
                continue;
            }
        }
        timers->armed--;
    }
    return n;
}
