/*
 * eventfd(2) waker (Linux): one descriptor, registered edge-triggered.
 * Every write is a new edge for epoll, even while the counter is non-zero,
 * so the waker never needs draining.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "waker_fd.h"

static int xpoll__waker_eventfd_open(xpoll_waker *waker)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    waker->fds[0] = fd;
    return 0;
}

/* Async-signal-safe: write(2) and read(2) only (xpoll_waker_wake keeps
 * errno). */
static int xpoll__waker_eventfd_wake(xpoll_waker *waker)
{
    int err = 0;
    uint64_t one = 1, drain;

    while (write(waker->fds[0], &one, sizeof one) < 0) {
        if (errno == EINTR)
            continue;
        /* EAGAIN: the counter would pass 2^64-2.  A read resets it to 0
         * and the write then succeeds (as mio does). */
        if (errno != EAGAIN || (read(waker->fds[0], &drain, sizeof drain) < 0 &&
                                errno != EAGAIN)) {
            err = -errno;
            break;
        }
    }
    return err;
}

/* One read resets the counter to 0 (eventfd(2)). */
static void xpoll__waker_eventfd_drain(xpoll_waker *waker)
{
    uint64_t value;

    while (read(waker->fds[0], &value, sizeof value) < 0 && errno == EINTR)
        ;
}

static void xpoll__waker_eventfd_close(xpoll_waker *waker, int armed)
{
    xpoll__waker_fd_close(waker, armed);
}

const struct xpoll__waker_ops xpoll__waker_eventfd = {
    .open = xpoll__waker_eventfd_open,
    .arm = xpoll__waker_fd_arm,
    .wake = xpoll__waker_eventfd_wake,
    .close = xpoll__waker_eventfd_close,
    .drain = xpoll__waker_eventfd_drain,
};
