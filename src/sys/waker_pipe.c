/*
 * Pipe waker, for platforms with neither eventfd nor EVFILT_USER (and
 * forced with XPOLL_FORCE_PIPE_WAKER so it is tested on Linux): the read
 * end is registered, a wake writes one byte to the write end.
 *
 * A wake drains the pipe before writing its byte.  Linux 5.5 to 5.13
 * woke epoll only when a pipe went from empty to non-empty (fixed by "pipe:
 * make pipe writes always wake up readers", 5.14), and illumos still does
 * (mio drains there for illumos bug 13436): a byte written into an empty
 * pipe is an edge everywhere.  The waking thread pays the read, and only
 * once per delivered wake (the coalescing flag); the poll never touches
 * the pipe.  If the drain empties the pipe under an event not yet
 * harvested, the byte written right after is a new edge.
 */
#include <errno.h>
#include <unistd.h>

#include "fd.h"
#include "waker_fd.h"

static int xpoll__waker_pipe_open(xpoll_waker *waker)
{
    return xpoll__pipe(waker->fds);
}

static void xpoll__waker_pipe_drain(xpoll_waker *waker)
{
    char buf[512];
    ssize_t n;

    do {
        n = read(waker->fds[0], buf, sizeof buf);
    } while (n > 0 || (n < 0 && errno == EINTR));
}

/* Async-signal-safe: read(2) and write(2) only (xpoll_waker_wake keeps
 * errno). */
static int xpoll__waker_pipe_wake(xpoll_waker *waker)
{
    int err = 0;
    char one = 1;

    xpoll__waker_pipe_drain(waker);
    while (write(waker->fds[1], &one, 1) < 0) {
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            err = -errno;
            break;
        }
        /* Filled by concurrent wakes: make room. */
        xpoll__waker_pipe_drain(waker);
    }
    return err;
}

static void xpoll__waker_pipe_close(xpoll_waker *waker, int armed)
{
    xpoll__waker_fd_close(waker, armed);
}

const struct xpoll__waker_ops xpoll__waker_pipe = {
    .open = xpoll__waker_pipe_open,
    .arm = xpoll__waker_fd_arm,
    .wake = xpoll__waker_pipe_wake,
    .close = xpoll__waker_pipe_close,
    .drain = xpoll__waker_pipe_drain,
};
