/*
 * The internal selector interface: what a backend (src/sys/<name>.c)
 * provides to the platform-neutral core (the files in src/), and the layouts
 * both share.  Not installed.
 *
 * A backend is a const table of operations.  The core picks one at
 * xpoll_new() time from xpoll__selectors[], so one build can carry several
 * (epoll beside kqueue-through-emulation on Linux, later poll or io_uring).
 */
#ifndef XPOLL_SYS_SELECTOR_H
#define XPOLL_SYS_SELECTOR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "xpoll/poll.h"

/* Internal names are xpoll__*: hidden by -fvisibility=hidden. */
#define XPOLL__ALL_INTERESTS \
    (XPOLL_READABLE | XPOLL_WRITABLE | XPOLL_PRIORITY | XPOLL_AIO | XPOLL_LIO)

/*
 * Readiness bits of a delivered event.  A backend translates its kernel
 * event into these once, in select(); the public accessors then only test
 * a bit.  Each backend's translation is the single place where its
 * per-flag meaning (mio's table, see poll.h) is written down.
 */
enum {
    XPOLL__EV_READABLE = 1u << 0,
    XPOLL__EV_WRITABLE = 1u << 1,
    XPOLL__EV_ERROR = 1u << 2,
    XPOLL__EV_READ_CLOSED = 1u << 3,
    XPOLL__EV_WRITE_CLOSED = 1u << 4,
    XPOLL__EV_PRIORITY = 1u << 5,
    XPOLL__EV_AIO = 1u << 6,
    XPOLL__EV_LIO = 1u << 7,
};

struct xpoll_event {
    xpoll_token token;
    uint32_t readiness; /* XPOLL__EV_* */
};

struct xpoll_events {
    size_t len;
    size_t capacity;
    /* Room for `capacity` kernel events of the largest compiled-in backend
     * (see xpoll__native_event_size()): the kernel writes there, select()
     * translates into items[].  Same allocation as this struct. */
    void *native;
    struct xpoll_event items[];
};

struct xpoll__selector;

struct xpoll {
    const struct xpoll__selector *selector;
    int fd;         /* the epoll / kqueue descriptor */
    unsigned flags; /* backend-private; touched only by the waiting thread */
    /* Set while a waker exists; read by select() to recognise its event. */
    _Atomic(struct xpoll_waker *) waker;
};

/*
 * Wakers.  Every waker registration carries the waker's own address as its
 * kernel token (epoll data, kevent udata).  select() compares each event's
 * token with poll->waker to report it with waker->token and call
 * xpoll__waker_seen(); user tokens cannot equal the address of a live
 * allocation of ours.
 */
struct xpoll_waker {
    xpoll *poll;
    xpoll_token token;
    /* 1 from the first wake until the poll has delivered the event: later
     * wakes skip the system call (coalescing, as libuv's uv_async_send). */
    atomic_int pending;
    int fds[2]; /* mechanism-specific descriptors, -1 when unused */
};

struct xpoll__waker_ops {
    /* Create the mechanism's descriptors; nothing is registered yet. */
    int (*open)(xpoll_waker *waker);
    /* Register with waker->poll so that wake() produces an event. */
    int (*arm)(xpoll_waker *waker);
    /* Make the poll report the waker: one system call, async-signal-safe. */
    int (*wake)(xpoll_waker *waker);
    /* The poll delivered the waker's event (may be NULL). */
    void (*seen)(xpoll_waker *waker);
    /* Deregister (if armed) and close what open() created. */
    void (*close)(xpoll_waker *waker, int armed);
};

/* Portable fd-based wakers (src/sys/waker_*.c). */
extern const struct xpoll__waker_ops xpoll__waker_pipe;
extern const struct xpoll__waker_ops xpoll__waker_eventfd;

struct xpoll__selector {
    xpoll_backend backend;
    xpoll_interests interests;    /* what register accepts */
    size_t native_event_size;     /* one kernel event, for xpoll_events */
    const struct xpoll__waker_ops *waker;

    /* Set poll->fd (close-on-exec).  Returns 0 or a negative errno. */
    int (*open)(xpoll *poll);
    void (*close)(xpoll *poll);
    /* Arguments are already validated: fd >= 0, interests non-zero and
     * within this->interests. */
    int (*register_fd)(xpoll *poll, int fd, xpoll_token token,
                       xpoll_interests interests);
    int (*reregister_fd)(xpoll *poll, int fd, xpoll_token token,
                         xpoll_interests interests);
    int (*deregister_fd)(xpoll *poll, int fd);
    /* Wait and fill events->items / events->len; returns the count or a
     * negative errno.  events->len is already 0. */
    int (*select)(xpoll *poll, xpoll_events *events, int64_t timeout_ns);
};

/* The backends compiled into this build, best first, NULL-terminated
 * (src/sys/selectors.c). */
extern const struct xpoll__selector *const xpoll__selectors[];

/* Largest native_event_size among xpoll__selectors. */
size_t xpoll__native_event_size(void);

/* Called by select() for the waker's event, before returning it. */
void xpoll__waker_seen(xpoll_waker *waker);

/* The token to report for a kernel event carrying `token`: the waker's
 * own event (tagged with its address) reports the waker's token, and marks
 * the wake as seen.  `waker` is poll->waker, loaded once per select(). */
static inline xpoll_token xpoll__event_token(xpoll_token token,
                                             xpoll_waker *waker)
{
    if (waker != NULL && token == (xpoll_token)waker) {
        xpoll__waker_seen(waker);
        return waker->token;
    }
    return token;
}

#endif /* XPOLL_SYS_SELECTOR_H */
