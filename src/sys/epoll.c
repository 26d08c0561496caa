/*
 * Linux epoll(7) backend.
 *
 * Every registration is edge-triggered (EPOLLET) and carries the token in
 * epoll_data, so the backend keeps no per-descriptor memory at all.  A
 * struct xpoll_event has the layout of struct epoll_event and its bits are
 * epoll's (asserted below), so epoll_wait writes the caller's events
 * directly: nothing is translated or copied.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "selector.h"

/* The caller's event buffer is handed to the kernel as is. */
_Static_assert(sizeof(struct xpoll_event) == sizeof(struct epoll_event),
               "xpoll_event must have epoll_event's layout");
_Static_assert(offsetof(struct xpoll_event, xpoll__readiness) ==
                   offsetof(struct epoll_event, events),
               "readiness where epoll_event.events is");
_Static_assert(offsetof(struct xpoll_event, xpoll__token) ==
                   offsetof(struct epoll_event, data),
               "token where epoll_event.data is");
_Static_assert(XPOLL__EV_IN == EPOLLIN && XPOLL__EV_PRI == EPOLLPRI &&
                   XPOLL__EV_OUT == EPOLLOUT && XPOLL__EV_ERR == EPOLLERR &&
                   XPOLL__EV_HUP == EPOLLHUP && XPOLL__EV_RDHUP == EPOLLRDHUP,
               "readiness bits are epoll's");

/* poll->flags: epoll_pwait2 returned ENOSYS once; stop trying. */
#define XPOLL__EPOLL_NO_PWAIT2 0x1u

/* epoll_wait() rejects maxevents above this (fs/eventpoll.c EP_MAX_EVENTS). */
#define XPOLL__EPOLL_MAX_EVENTS ((int)(INT_MAX / sizeof(struct epoll_event)))

#define NS_PER_MS 1000000LL
#define NS_PER_S  1000000000LL

/* The one place the interest -> epoll flag mapping lives.  EPOLLRDHUP comes
 * with READABLE so a peer's FIN is visible as read-closed (mio #939);
 * EPOLLERR and EPOLLHUP are always reported by the kernel. */
static uint32_t xpoll__epoll_flags(xpoll_interests interests)
{
    uint32_t flags = EPOLLET;

    if (interests & XPOLL_READABLE)
        flags |= EPOLLIN | EPOLLRDHUP;
    if (interests & XPOLL_WRITABLE)
        flags |= EPOLLOUT;
    if (interests & XPOLL_PRIORITY)
        flags |= EPOLLPRI;
    return flags;
}

static int xpoll__epoll_open(xpoll *poll)
{
    /* EPOLL_CLOEXEC atomically: an fcntl() afterwards races with fork+exec
     * in another thread (mio #1590). */
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        return -errno;
    poll->fd = fd;
    return 0;
}

static void xpoll__epoll_close(xpoll *poll)
{
    close(poll->fd);
}

static int xpoll__epoll_ctl_token(xpoll *poll, int op, int fd,
                                  xpoll_token token, xpoll_interests interests)
{
    struct epoll_event ev = {
        .events = xpoll__epoll_flags(interests),
        .data.u64 = (uint64_t)token,
    };
    return epoll_ctl(poll->fd, op, fd, &ev) < 0 ? -errno : 0;
}

static int xpoll__epoll_register(xpoll *poll, int fd, xpoll_token token,
                                 xpoll_interests interests)
{
    return xpoll__epoll_ctl_token(poll, EPOLL_CTL_ADD, fd, token, interests);
}

/* EPOLL_CTL_MOD also re-evaluates readiness, so an interest that already
 * holds is reported again, and events queued for a dropped interest are
 * not delivered (mio's reregister tests). */
static int xpoll__epoll_reregister(xpoll *poll, int fd, xpoll_token token,
                                   xpoll_interests interests)
{
    return xpoll__epoll_ctl_token(poll, EPOLL_CTL_MOD, fd, token, interests);
}

static int xpoll__epoll_deregister(xpoll *poll, int fd)
{
    /* Kernels before 2.6.9 required a non-NULL event even for DEL. */
    struct epoll_event unused = {0};
    return epoll_ctl(poll->fd, EPOLL_CTL_DEL, fd, &unused) < 0 ? -errno : 0;
}

/* Milliseconds for epoll_wait(): rounded up, so 1 ns waits 1 ms instead of
 * spinning (mio #1615), and clamped to INT_MAX, so INT64_MAX does not wrap
 * negative and block forever (mio #1948). */
static int xpoll__epoll_timeout_ms(int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return -1;
    int64_t ms = timeout_ns / NS_PER_MS + (timeout_ns % NS_PER_MS != 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* epoll_pwait2 (Linux 5.11) takes a timespec: nanosecond timeouts without
 * rounding.  Called through syscall() so older C libraries build too; a
 * kernel without it (or a seccomp filter that blocks it) answers ENOSYS or
 * EPERM, and the backend falls back to epoll_wait for good. */
/* Kept out of line: its seven-argument system call would otherwise make
 * every wait save and restore registers it does not need. */
__attribute__((noinline)) static int
xpoll__epoll_wait_ns(xpoll *poll, struct epoll_event *native, int max,
                     int64_t timeout_ns)
{
#ifdef SYS_epoll_pwait2
    if (!(poll->flags & XPOLL__EPOLL_NO_PWAIT2)) {
        struct timespec ts = {
            .tv_sec = (time_t)(timeout_ns / NS_PER_S),
            .tv_nsec = (long)(timeout_ns % NS_PER_S),
        };
        long n = syscall(SYS_epoll_pwait2, poll->fd, native, max, &ts, NULL,
                         (size_t)(_NSIG / 8));
        if (n >= 0 || (errno != ENOSYS && errno != EPERM))
            return (int)n;
        poll->flags |= XPOLL__EPOLL_NO_PWAIT2;
    }
#endif
    return epoll_wait(poll->fd, native, max,
                      xpoll__epoll_timeout_ms(timeout_ns));
}

static int xpoll__epoll_select(xpoll *poll, xpoll_events *events,
                               int64_t timeout_ns)
{
    struct epoll_event *native =
        (struct epoll_event *)(void *)events->xpoll__items;
    int max = events->xpoll__capacity > (size_t)XPOLL__EPOLL_MAX_EVENTS
                  ? XPOLL__EPOLL_MAX_EVENTS
                  : (int)events->xpoll__capacity;
    int n;

    /* Whole milliseconds (and 0, and infinite) need no timespec. */
    if (timeout_ns <= 0 || timeout_ns % NS_PER_MS == 0)
        n = epoll_wait(poll->fd, native, max,
                       xpoll__epoll_timeout_ms(timeout_ns));
    else
        n = xpoll__epoll_wait_ns(poll, native, max, timeout_ns);
    if (n < 0)
        return -errno; /* EINTR included: the caller decides (mio) */
    events->xpoll__len = (size_t)n;
    return n;
}

const struct xpoll__selector xpoll__epoll_selector = {
    .backend = XPOLL_BACKEND_EPOLL,
    .interests = XPOLL_READABLE | XPOLL_WRITABLE | XPOLL_PRIORITY,
    .native_event_size = 0, /* epoll writes struct xpoll_event itself */
#ifdef XPOLL_FORCE_PIPE_WAKER
    .waker = &xpoll__waker_pipe,
    .interrupt = &xpoll__waker_pipe,
#else
    .waker = &xpoll__waker_eventfd,
    .interrupt = &xpoll__waker_eventfd,
#endif
    .open = xpoll__epoll_open,
    .close = xpoll__epoll_close,
    .register_fd = xpoll__epoll_register,
    .reregister_fd = xpoll__epoll_reregister,
    .deregister_fd = xpoll__epoll_deregister,
    .rearm = NULL, /* EPOLLET: the kernel reports every new edge itself */
    .select = xpoll__epoll_select,
};
