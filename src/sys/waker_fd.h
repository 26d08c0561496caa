/*
 * Shared by the descriptor-based wakers (eventfd, pipe): fds[0] is
 * registered READABLE with the poll's own selector, under the waker's
 * token.
 */
#ifndef XPOLL_SYS_WAKER_FD_H
#define XPOLL_SYS_WAKER_FD_H

#include <unistd.h>

#include "selector.h"

static inline int xpoll__waker_fd_arm(xpoll_waker *waker)
{
    xpoll *poll = waker->poll;
    return poll->selector->register_fd(poll, waker->fds[0], waker->token,
                                       XPOLL_READABLE);
}

static inline void xpoll__waker_fd_close(xpoll_waker *waker, int armed)
{
    if (armed)
        waker->poll->selector->deregister_fd(waker->poll, waker->fds[0]);
    for (int i = 0; i < 2; i++) {
        if (waker->fds[i] >= 0)
            close(waker->fds[i]);
        waker->fds[i] = -1;
    }
}

#endif /* XPOLL_SYS_WAKER_FD_H */
