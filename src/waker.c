/*
 * The waker: one per poll, coalescing wakes through an atomic flag so a
 * burst of wakes from many threads costs one system call until the poll
 * has delivered the event.  The mechanism (eventfd, pipe, EVFILT_USER)
 * belongs to the backend.
 */
#include <errno.h>
#include <stdlib.h>

#include "sys/selector.h"

int xpoll_waker_new(xpoll *poll, xpoll_token token, xpoll_waker **out)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (poll == NULL)
        return -EINVAL;
    if (atomic_load(&poll->waker) != NULL)
        return -EEXIST;

    const struct xpoll__waker_ops *ops = poll->selector->waker;
    xpoll_waker *waker = calloc(1, sizeof *waker);
    if (waker == NULL)
        return -ENOMEM;
    waker->poll = poll;
    waker->token = token;
    waker->fds[0] = waker->fds[1] = -1;
    atomic_init(&waker->pending, 0);

    int err = ops->open(waker);
    if (err < 0)
        goto fail_free;

    /* Publish before arming, so a wait that returns the first event finds
     * the waker to settle; the exchange also settles a race between two
     * xpoll_waker_new() calls. */
    xpoll_waker *none = NULL;
    if (!atomic_compare_exchange_strong(&poll->waker, &none, waker)) {
        err = -EEXIST;
        goto fail_close;
    }
    err = ops->arm(waker);
    if (err < 0) {
        atomic_store(&poll->waker, NULL);
        goto fail_close;
    }
    *out = waker;
    return 0;

fail_close:
    ops->close(waker, 0);
fail_free:
    free(waker);
    return err;
}

int xpoll_waker_wake(xpoll_waker *waker)
{
    if (waker == NULL)
        return -EINVAL;
    if (atomic_exchange(&waker->pending, 1) != 0)
        return 0; /* an event is already on its way */
    /* A signal handler may call this between a failing call and its errno
     * check in the interrupted code: leave errno as it was (signal-safety(7)
     * asks handlers to).  Every waker's wake relies on this one save. */
    int saved = errno;
    int err = waker->poll->selector->waker->wake(waker);
    errno = saved;
    if (err < 0)
        atomic_store(&waker->pending, 0);
    return err;
}

void xpoll_waker_free(xpoll_waker *waker)
{
    if (waker == NULL)
        return;
    waker->poll->selector->waker->close(waker, 1);
    atomic_store(&waker->poll->waker, NULL);
    free(waker);
}
