/*
 * The platform-neutral poll: backend choice, argument checks, dispatch to
 * the selector.  Nothing here knows which kernel interface it drives.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xpoll.h"
#include "sys/env.h"
#include "sys/selector.h"
#include "timer_poll.h"

#define XPOLL__STR(x)  #x
#define XPOLL__XSTR(x) XPOLL__STR(x)

const char *xpoll_version(void)
{
    return XPOLL__XSTR(XPOLL_VERSION_MAJOR) "." XPOLL__XSTR(
        XPOLL_VERSION_MINOR) "." XPOLL__XSTR(XPOLL_VERSION_PATCH);
}

static const char *const backend_names[] = {
    [XPOLL_BACKEND_DEFAULT] = "default",   [XPOLL_BACKEND_EPOLL] = "epoll",
    [XPOLL_BACKEND_KQUEUE] = "kqueue",     [XPOLL_BACKEND_POLL] = "poll",
    [XPOLL_BACKEND_IO_URING] = "io_uring", [XPOLL_BACKEND_IOCP] = "iocp",
};

#define BACKEND_COUNT (sizeof backend_names / sizeof backend_names[0])

const char *xpoll_backend_name(xpoll_backend backend)
{
    if ((unsigned)backend >= BACKEND_COUNT)
        return NULL;
    return backend_names[backend];
}

static const struct xpoll__selector *find_selector(xpoll_backend backend)
{
    for (size_t i = 0; xpoll__selectors[i] != NULL; i++) {
        if (backend == XPOLL_BACKEND_DEFAULT ||
            xpoll__selectors[i]->backend == backend)
            return xpoll__selectors[i];
    }
    return NULL;
}

int xpoll_new_with_backend(xpoll **out, xpoll_backend backend)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if ((unsigned)backend >= BACKEND_COUNT)
        return -EINVAL;

    const struct xpoll__selector *selector = find_selector(backend);
    if (selector == NULL)
        return -ENOTSUP;

    xpoll *poll = calloc(1, sizeof *poll);
    if (poll == NULL)
        return -ENOMEM;
    poll->selector = selector;
    poll->fd = -1;
    poll->state = NULL;
    atomic_init(&poll->waker, NULL);
    atomic_init(&poll->timers, NULL);

    int err = selector->open(poll);
    if (err < 0) {
        free(poll);
        return err;
    }
    *out = poll;
    return 0;
}

/* XPOLL_BACKEND names a backend; unknown or not compiled in is -ENOTSUP,
 * never a silent fallback, so a test run that asked for kqueue cannot
 * quietly run on epoll.  A privileged (set-user-ID, set-group-ID) program
 * ignores it: its caller must not choose the backend. */
static int backend_from_env(xpoll_backend *backend)
{
    const char *name = xpoll__secure_getenv("XPOLL_BACKEND");

    *backend = XPOLL_BACKEND_DEFAULT;
    if (name == NULL || name[0] == '\0')
        return 0;
    for (unsigned i = XPOLL_BACKEND_DEFAULT + 1; i < BACKEND_COUNT; i++) {
        if (strcmp(name, backend_names[i]) == 0) {
            *backend = (xpoll_backend)i;
            return 0;
        }
    }
    return -ENOTSUP;
}

int xpoll_new(xpoll **out)
{
    xpoll_backend backend;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    int err = backend_from_env(&backend);
    if (err < 0)
        return err;
    return xpoll_new_with_backend(out, backend);
}

void xpoll_free(xpoll *poll)
{
    if (poll == NULL)
        return;
    xpoll__timer_state_free(poll);
    poll->selector->close(poll);
    free(poll);
}

xpoll_backend xpoll_get_backend(const xpoll *poll)
{
    return poll != NULL ? poll->selector->backend : XPOLL_BACKEND_DEFAULT;
}

int xpoll_fd(const xpoll *poll)
{
    return poll != NULL ? poll->fd : -EINVAL;
}

/* The checks every registration shares; the order fixes which error wins
 * when several apply. */
static int check_registration(const xpoll *poll, xpoll_socket fd,
                              xpoll_interests interests)
{
    if (poll == NULL)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    if (interests == 0 || (interests & ~XPOLL__ALL_INTERESTS) != 0)
        return -EINVAL;
    if ((interests & ~poll->selector->interests) != 0)
        return -ENOTSUP;
    return 0;
}

int xpoll_register(xpoll *poll, xpoll_socket fd, xpoll_token token,
                   xpoll_interests interests)
{
    int err = check_registration(poll, fd, interests);
    if (err < 0)
        return err;
    return poll->selector->register_fd(poll, fd, token, interests);
}

int xpoll_reregister(xpoll *poll, xpoll_socket fd, xpoll_token token,
                     xpoll_interests interests)
{
    int err = check_registration(poll, fd, interests);
    if (err < 0)
        return err;
    return poll->selector->reregister_fd(poll, fd, token, interests);
}

/* The same checks, in the same order, as registration: a program that
 * follows the rule gets the same argument errors on every backend. */
int xpoll_rearm(xpoll *poll, xpoll_socket fd, xpoll_interests interests)
{
    int err = check_registration(poll, fd, interests);
    if (err < 0)
        return err;
    return xpoll__rearm(poll, fd, interests);
}

int xpoll_deregister(xpoll *poll, xpoll_socket fd)
{
    if (poll == NULL)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    return poll->selector->deregister_fd(poll, fd);
}

int xpoll_wait(xpoll *poll, xpoll_events *events, int64_t timeout_ns)
{
    if (events == NULL)
        return -EINVAL;
    events->xpoll__len = 0;
    if (poll == NULL)
        return -EINVAL;
    struct xpoll__timer_state *timers =
        atomic_load_explicit(&poll->timers, memory_order_acquire);
    int n;
    if (timers != NULL) {
        n = xpoll__timer_wait(poll, timers, events, timeout_ns);
    } else {
        n = poll->selector->select(poll, events, timeout_ns);
        /* Another thread created the poll's first timer during this wait
         * (and may have set it): its wake-up may be among the events.
         * If nothing else is, wait again with timers, for the whole
         * timeout once more (late rather than early, and only in this
         * race). */
        if (n > 0 &&
            (timers = atomic_load_explicit(&poll->timers,
                                           memory_order_acquire)) != NULL &&
            (n = xpoll__timer_drop_wakeup(poll, timers, events, n)) == 0)
            n = xpoll__timer_wait(poll, timers, events, timeout_ns);
    }
    if (n > 0)
        xpoll__waker_settle(poll);
    return n;
}
