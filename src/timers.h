/*
 * The timer core (src/timers.c): a hierarchical timing wheel that holds
 * timers the caller allocated and hands expired ones out as events.  Not
 * installed.  docs/timers.md describes the design and its sources.
 *
 * The core is platform-neutral and passive:
 *  - it never reads a clock: every entry point takes `now_ns`, the
 *    caller's CLOCK_MONOTONIC reading in nanoseconds (>= 0; a value below
 *    an earlier one is taken as that earlier one).  Production passes
 *    clock_gettime(CLOCK_MONOTONIC), tests pass a virtual time;
 *  - it makes no system call and allocates nothing (the caller owns every
 *    struct xpoll_timer and the struct xpoll__timers);
 *  - it takes no lock: the caller serialises every call on one wheel.
 *
 * Time is counted in ticks of XPOLL__TIMER_TICK_NS (1 ms).  A deadline D
 * belongs to tick ceil(D / tick); the timer becomes due once now reaches
 * that tick's start, so it is never delivered before D and, if the caller
 * processes the wheel at the time next() names, at most one tick after.
 */
#ifndef XPOLL_TIMERS_H
#define XPOLL_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xpoll/poll.h"

/* One tick: the wheel's resolution. */
#define XPOLL__TIMER_TICK_NS    INT64_C(1000000)
/* 6 levels of 64 slots: level L's slot spans 64^L ticks, the whole wheel
 * 64^6 ticks (2^36 ms, about 2.2 years) -- tokio's layout
 * (tokio/src/runtime/time/wheel/mod.rs, NUM_LEVELS and level.rs,
 * LEVEL_MULT). */
#define XPOLL__TIMER_LEVEL_BITS 6
#define XPOLL__TIMER_SLOTS      64
#define XPOLL__TIMER_LEVELS     6

/* struct xpoll_timer.slot when the timer is not in a slot: not armed, or
 * due and queued on the expired list until expire() hands it out.
 * Otherwise slot is level * 64 + slot index. */
#define XPOLL__TIMER_UNARMED UINT32_MAX
#define XPOLL__TIMER_EXPIRED (UINT32_MAX - 1)

/* A node of the intrusive doubly-linked lists (slots, expired list); a
 * list is a sentinel node, empty when it points at itself. */
struct xpoll__timer_link {
    struct xpoll__timer_link *next;
    struct xpoll__timer_link *prev;
};

/* A timer.  The public <xpoll/timer.h> names it (typedef struct
 * xpoll_timer xpoll_timer); its fields are the core's and the owner's,
 * never the user's. */
struct xpoll_timer {
    struct xpoll__timer_link link; /* first: a link is its timer */
    int64_t deadline;              /* ns, CLOCK_MONOTONIC; valid if armed */
    int64_t interval_ns;           /* > 0: periodic; 0: one-shot */
    xpoll_token token;             /* carried by its events */
    struct xpoll *poll;            /* the owner's; the core only keeps it */
    uint32_t slot;                 /* level*64+slot, or the values above */
    uint32_t flags;                /* the owner's; the core never uses them */
};

/* 56 bytes are what glibc's malloc serves from a 64-byte chunk (8 bytes
 * of chunk header; malloc/malloc.c, request2size), so one timer costs 64
 * bytes with its allocation. */
_Static_assert(sizeof(struct xpoll_timer) <= 56,
               "a timer must fit a 64-byte malloc chunk");

/* The wheel.  About 6 KiB; the caller embeds or allocates it. */
struct xpoll__timers {
    /* Every tick <= elapsed has been processed: each timer in a slot
     * belongs to a later tick. */
    uint64_t elapsed;
    int64_t now;  /* the latest now_ns seen (the clock never goes back) */
    size_t armed; /* timers in a slot or on the expired list */
    uint64_t occupied[XPOLL__TIMER_LEVELS]; /* bit s: slot s non-empty */
    struct xpoll__timer_link expired;       /* due, FIFO, not handed out */
    struct xpoll__timer_link slots[XPOLL__TIMER_LEVELS][XPOLL__TIMER_SLOTS];
    /* Work counters, for tests and benchmarks (wrap-around harmless). */
    uint64_t processed; /* slots emptied by advance */
    uint64_t cascades;  /* timers moved from a slot back into the wheel */
};

/* An empty wheel whose clock starts at now_ns. */
void xpoll__timers_init(struct xpoll__timers *timers, int64_t now_ns);

/* Leaves every timer still in the wheel or on the expired list unarmed
 * and the wheel empty (at its current time).  O(armed timers + 384). */
void xpoll__timers_clear(struct xpoll__timers *timers);

/* A new, unarmed timer whose events carry `token`. */
void xpoll__timer_init(struct xpoll_timer *timer, struct xpoll *poll,
                       xpoll_token token);

/* Whether the timer is in the wheel or on the expired list. */
static inline bool xpoll__timer_is_armed(const struct xpoll_timer *timer)
{
    return timer->slot != XPOLL__TIMER_UNARMED;
}

/*
 * Arms (or re-arms) `timer` to expire at now_ns + delay_ns (saturated at
 * INT64_MAX), then every interval_ns if that is > 0.  A timer that is
 * armed already, in a slot or on the expired list, is moved: O(1), and
 * only its deadline changes when it stays in the same slot.  A timer
 * whose tick has already been processed goes to the end of the expired
 * list.  -EINVAL (delay_ns or interval_ns negative), leaving everything
 * as it was; otherwise 0.
 */
int xpoll__timers_set(struct xpoll__timers *timers, struct xpoll_timer *timer,
                      int64_t now_ns, int64_t delay_ns, int64_t interval_ns);

/* Disarms `timer`, whether in a slot or on the expired list (O(1)): no
 * later expire() reports it.  Returns whether it was armed. */
bool xpoll__timers_cancel(struct xpoll__timers *timers,
                          struct xpoll_timer *timer);

/* Processes the wheel up to now_ns: every timer whose tick start is <=
 * now_ns moves to the expired list, in tick order.  O(timers moved +
 * cascades), each timer cascading at most LEVELS times, plus once per
 * 2^36 ticks (the wheel's span) between the elapsed tick and its own. */
void xpoll__timers_advance(struct xpoll__timers *timers, int64_t now_ns);

/*
 * Advances to now_ns, then the nanoseconds until the wheel next needs
 * processing: 0 if a timer is due (on the expired list); otherwise the
 * start of the next occupied slot, which is the earliest timer's tick when
 * it is at level 0 and a cascade point (earlier than any of its timers)
 * above; -1 if no timer is armed, or if that point lies past INT64_MAX ns
 * (no int64 clock reaches it).  Never 0 when no timer is due, never later
 * than the earliest armed timer's tick start.
 */
int64_t xpoll__timers_next(struct xpoll__timers *timers, int64_t now_ns);

/*
 * Advances to now_ns, then pops up to `cap` timers off the expired list
 * into out[0..n) (readiness XPOLL__EV_TIMER, the timer's token) and
 * returns n.  The rest stay queued, first for the next call.  A one-shot
 * timer is unarmed when popped; a periodic one is re-armed at deadline +
 * k * interval for the smallest k that puts it after now (one event
 * however many intervals it fell behind, and no drift).
 */
size_t xpoll__timers_expire(struct xpoll__timers *timers, int64_t now_ns,
                            struct xpoll_event *out, size_t cap);

#endif /* XPOLL_TIMERS_H */
