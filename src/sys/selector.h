/*
 * The internal selector interface: what a backend (src/sys/<name>.c)
 * provides to the platform-neutral core (the files in src/), and the layouts
 * both share.  Not installed.
 *
 * A backend is a const table of operations.  The core picks one at
 * xpoll_new() time from xpoll__selectors[], so one build can carry several
 * (epoll beside poll(2) and kqueue-through-emulation on Linux).
 */
#ifndef XPOLL_SYS_SELECTOR_H
#define XPOLL_SYS_SELECTOR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "xpoll/poll.h"

/* Internal names are xpoll__*: hidden by -fvisibility=hidden.  A backend's
 * file-scope names carry that prefix too, with the backend's name
 * (xpoll__epoll_*, xpoll__kqueue_*, xpoll__pollfd_*, xpoll__waker_pipe_*):
 * the short prefixes belong to system headers (<sys/epoll.h> declares
 * epoll_*, <sys/eventfd.h> eventfd_read and eventfd_write, <poll.h> poll*),
 * and wepoll exports epoll_close. */
#define XPOLL__ALL_INTERESTS                                                   \
    (XPOLL_READABLE | XPOLL_WRITABLE | XPOLL_PRIORITY | XPOLL_AIO | XPOLL_LIO)

/* Event and event-buffer layouts, and the XPOLL__EV_* readiness bits,
 * are in <xpoll/poll.h>, which publishes them for its inline accessors. */

struct xpoll__selector;
struct xpoll__timer_state;

struct xpoll {
    const struct xpoll__selector *selector;
    int fd;         /* the epoll / kqueue descriptor; poll: -ENOTSUP */
    unsigned flags; /* backend-private; touched only by the waiting thread */
    /* Backend-private state that lives in user space (the poll backend's
     * registration table); NULL where the kernel keeps it all. */
    void *state;
    /* Set while a waker exists (one per poll). */
    _Atomic(struct xpoll_waker *) waker;
    /* The timers' state (src/timer.c), created with the first timer and
     * kept until xpoll_free(); NULL until then, so a poll without timers
     * pays one load per wait. */
    _Atomic(struct xpoll__timer_state *) timers;
};

/*
 * Wakers.  A waker's kernel registration carries the caller's waker token
 * like any other, so select() never looks for it.  Coalescing (as libuv's
 * uv_async_send): `pending` goes 0 -> 1 with the first wake, whose system
 * call produces the event; later wakes see 1 and make none.  Every wait
 * that returns events ends with xpoll__waker_settle(), which sets it back
 * to 0, so a wake after that makes a new event.  Clearing after a wait
 * whose batch did not hold the event only costs a redundant write later.
 */
struct xpoll_waker {
    xpoll *poll;
    xpoll_token token;
    atomic_int pending;
    int fds[2]; /* mechanism-specific descriptors, -1 when unused */
};

struct xpoll__waker_ops {
    /* Create the mechanism's descriptors; nothing is registered yet. */
    int (*open)(xpoll_waker *waker);
    /* Register with waker->poll so that wake() produces an event. */
    int (*arm)(xpoll_waker *waker);
    /* Make the poll report the waker; async-signal-safe. */
    int (*wake)(xpoll_waker *waker);
    /* Deregister (if armed) and close what open() created. */
    void (*close)(xpoll_waker *waker, int armed);
    /* Empty the registered descriptor, so that a level-triggered poll
     * stops reporting it; NULL where nothing needs emptying.  Used only
     * by the timers' internal wake-up, which a wait consumes itself. */
    void (*drain)(xpoll_waker *waker);
};

/* Portable fd-based wakers (src/sys/waker_*.c). */
extern const struct xpoll__waker_ops xpoll__waker_pipe;
extern const struct xpoll__waker_ops xpoll__waker_eventfd;

struct xpoll__selector {
    xpoll_backend backend;
    xpoll_interests interests; /* what register accepts */
    /* One kernel event, for xpoll_events' scratch array; 0 when the
     * kernel writes struct xpoll_event itself (epoll). */
    size_t native_event_size;
    const struct xpoll__waker_ops *waker;
    /* The timers' internal wake-up (src/timer.c), which a setting thread
     * uses to cut a wait short; its event carries a reserved token (the
     * waker's) and src/timer.c drops it.  Never the user's waker, so both
     * can exist at once.  Either descriptor-based (eventfd or pipe),
     * registered READABLE through register_fd, with fds[0] its read end,
     * or without a descriptor (iocp: a packet posted to the port), with
     * fds[0] -1 and nothing to drain or re-arm. */
    const struct xpoll__waker_ops *interrupt;

    /* Set poll->fd (close-on-exec).  Returns 0 or a negative errno. */
    int (*open)(xpoll *poll);
    void (*close)(xpoll *poll);
    /* Arguments are already validated: fd >= 0, interests non-zero and
     * within this->interests. */
    int (*register_fd)(xpoll *poll, xpoll_socket fd, xpoll_token token,
                       xpoll_interests interests);
    int (*reregister_fd)(xpoll *poll, xpoll_socket fd, xpoll_token token,
                         xpoll_interests interests);
    int (*deregister_fd)(xpoll *poll, xpoll_socket fd);
    /* The re-arm rule (xpoll_rearm): `fd` ran into EAGAIN for `interests`
     * (validated as for register_fd), so a new event for them is expected.
     * NULL where the kernel re-arms by itself (edge-triggered epoll and
     * kqueue): the call then costs no system call and no lock. */
    int (*rearm)(xpoll *poll, xpoll_socket fd, xpoll_interests interests);
    /* Wait and fill events->xpoll__items / xpoll__len; returns the count
     * or a negative errno.  xpoll__len is already 0. */
    int (*select)(xpoll *poll, xpoll_events *events, int64_t timeout_ns);
};

/* The backends compiled into this build, best first, NULL-terminated
 * (src/sys/selectors.c). */
extern const struct xpoll__selector *const xpoll__selectors[];

/* Largest native_event_size among xpoll__selectors. */
size_t xpoll__native_event_size(void);

/* xpoll_rearm() without the argument checks, for callers that made them
 * (the net.h I/O helpers: poll non-NULL, fd >= 0, a direction every
 * backend has). */
static inline int xpoll__rearm(xpoll *poll, xpoll_socket fd,
                               xpoll_interests interests)
{
    if (poll->selector->rearm == NULL)
        return 0;
    return poll->selector->rearm(poll, fd, interests);
}

/* After a wait that returned events: wakes from now on need a new event.
 * The exchange (not a plain store) reads the last wake's write, so what
 * that wake published before it is visible to the caller's handling of
 * this batch. */
static inline void xpoll__waker_settle(xpoll *poll)
{
    xpoll_waker *waker =
        atomic_load_explicit(&poll->waker, memory_order_acquire);
    if (waker != NULL &&
        atomic_load_explicit(&waker->pending, memory_order_relaxed) != 0)
        atomic_exchange(&waker->pending, 0);
}

#endif /* XPOLL_SYS_SELECTOR_H */
