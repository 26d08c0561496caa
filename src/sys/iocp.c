/*
 * The iocp backend (Windows): an I/O completion port per poll, waited on
 * with GetQueuedCompletionStatusEx (docs/windows.md).  Readiness of
 * sockets will come from IOCTL_AFD_POLL requests completing to the port,
 * as in wepoll and mio; that part is not written yet, so registration
 * answers -ENOTSUP.  What works: the port, the wait with its timeout, the
 * waker and the timers' wake-up, both packets posted to the port
 * (PostQueuedCompletionStatus) under completion keys of their own, as
 * mio's Waker::wake posts its token.
 */
#include <winsock2.h>
#include <windows.h>

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "selector.h"
#include "thread.h"

/* Completion keys: what a packet is, decided by the key alone.  AFD poll
 * completions (the next step) will carry XPOLL__IOCP_KEY_AFD. */
#define XPOLL__IOCP_KEY_WAKER     ((ULONG_PTR)1)
#define XPOLL__IOCP_KEY_INTERRUPT ((ULONG_PTR)2)

/* GetQueuedCompletionStatusEx takes milliseconds as a DWORD and
 * INFINITE (0xFFFFFFFF, <winbase.h>) means no limit: a finite timeout is
 * clamped one below it. */
#define XPOLL__IOCP_MAX_MS ((DWORD)0xFFFFFFFEu)

struct xpoll__iocp {
    HANDLE port;
    xpoll__mutex lock; /* guards the waker fields */
    /* The user's waker: its token while it exists.  `waker_gen` counts
     * the wakers closed; a wake posts the count it read, and a packet
     * whose count is not the current one (posted for a waker since
     * freed) yields no event. */
    bool waker_armed;
    xpoll_token waker_token;
    atomic_uint waker_gen;
};

static struct xpoll__iocp *iocp_of(const xpoll *poll)
{
    return poll->state;
}

/* GetLastError() as a negative errno (docs/windows.md, section 7). */
static int iocp_error(DWORD err)
{
    switch (err) {
    case ERROR_INVALID_HANDLE:
    case ERROR_ABANDONED_WAIT_0: /* the port was closed during the wait */
        return -EBADF;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_NO_SYSTEM_RESOURCES:
        return -ENOMEM;
    case ERROR_INVALID_PARAMETER:
        return -EINVAL;
    case ERROR_ACCESS_DENIED:
        return -EACCES;
    case ERROR_TOO_MANY_OPEN_FILES:
        return -EMFILE;
    case ERROR_NOT_SUPPORTED:
        return -ENOTSUP;
    default:
        return -EIO;
    }
}

static int xpoll__iocp_open(xpoll *poll)
{
    struct xpoll__iocp *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    /* A new port, no file: CreateIoCompletionPort(INVALID_HANDLE_VALUE,
     * NULL, 0, 0), as wepoll's port__create_iocp and mio's
     * CompletionPort::new. */
    s->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    if (s->port == NULL) {
        int err = iocp_error(GetLastError());
        free(s);
        return err;
    }
    xpoll__mutex_init(&s->lock);
    atomic_init(&s->waker_gen, 0);
    poll->state = s;
    /* The port is a HANDLE, not a descriptor: xpoll_fd() is -ENOTSUP. */
    poll->fd = -ENOTSUP;
    return 0;
}

static void xpoll__iocp_close(xpoll *poll)
{
    struct xpoll__iocp *s = iocp_of(poll);
    /* Packets still queued (wakes) go with the port. */
    CloseHandle(s->port);
    xpoll__mutex_destroy(&s->lock);
    free(s);
    poll->state = NULL;
}

/* Sockets are polled through AFD (docs/windows.md, sections 1-4): not
 * written yet. */
static int xpoll__iocp_register(xpoll *poll, int fd, xpoll_token token,
                                xpoll_interests interests)
{
    (void)poll;
    (void)fd;
    (void)token;
    (void)interests;
    return -ENOTSUP;
}

static int xpoll__iocp_deregister(xpoll *poll, int fd)
{
    (void)poll;
    (void)fd;
    return -ENOTSUP;
}

static int xpoll__iocp_rearm(xpoll *poll, int fd, xpoll_interests interests)
{
    (void)poll;
    (void)fd;
    (void)interests;
    return -ENOTSUP;
}

/* ---- the waker ----------------------------------------------------------
 * PostQueuedCompletionStatus from any thread ends a wait in
 * GetQueuedCompletionStatusEx with that packet (Microsoft Learn,
 * "PostQueuedCompletionStatus"); coalescing stays in src/waker.c. */

static int xpoll__iocp_waker_open(xpoll_waker *waker)
{
    (void)waker;
    return 0;
}

static int xpoll__iocp_waker_arm(xpoll_waker *waker)
{
    struct xpoll__iocp *s = iocp_of(waker->poll);
    xpoll__mutex_lock(&s->lock);
    s->waker_token = waker->token;
    s->waker_armed = true;
    xpoll__mutex_unlock(&s->lock);
    return 0;
}

static int xpoll__iocp_waker_wake(xpoll_waker *waker)
{
    struct xpoll__iocp *s = iocp_of(waker->poll);
    DWORD gen = atomic_load_explicit(&s->waker_gen, memory_order_relaxed);
    if (!PostQueuedCompletionStatus(s->port, gen, XPOLL__IOCP_KEY_WAKER, NULL))
        return iocp_error(GetLastError());
    return 0;
}

static void xpoll__iocp_waker_close(xpoll_waker *waker, int armed)
{
    struct xpoll__iocp *s = iocp_of(waker->poll);
    if (!armed)
        return;
    xpoll__mutex_lock(&s->lock);
    s->waker_armed = false;
    atomic_fetch_add_explicit(&s->waker_gen, 1, memory_order_relaxed);
    xpoll__mutex_unlock(&s->lock);
}

static const struct xpoll__waker_ops xpoll__iocp_waker = {
    .open = xpoll__iocp_waker_open,
    .arm = xpoll__iocp_waker_arm,
    .wake = xpoll__iocp_waker_wake,
    .close = xpoll__iocp_waker_close,
    .drain = NULL,
};

/* ---- the timers' wake-up ------------------------------------------------
 * No descriptor (fds[] stay -1): a packet under its own key carries the
 * wake-up's token as its lpOverlapped, which the port hands back
 * untouched, and select() turns it into a readable event with that token,
 * which src/timer.c drops.  The timers' state lives until the poll is
 * freed, so every such packet carries the current state's token. */

static int xpoll__iocp_interrupt_arm(xpoll_waker *waker)
{
    (void)waker;
    return 0;
}

static int xpoll__iocp_interrupt_wake(xpoll_waker *waker)
{
    struct xpoll__iocp *s = iocp_of(waker->poll);
    if (!PostQueuedCompletionStatus(s->port, 0, XPOLL__IOCP_KEY_INTERRUPT,
                                    (LPOVERLAPPED)waker->token))
        return iocp_error(GetLastError());
    return 0;
}

static void xpoll__iocp_interrupt_close(xpoll_waker *waker, int armed)
{
    (void)waker;
    (void)armed;
}

static const struct xpoll__waker_ops xpoll__iocp_interrupt = {
    .open = xpoll__iocp_waker_open,
    .arm = xpoll__iocp_interrupt_arm,
    .wake = xpoll__iocp_interrupt_wake,
    .close = xpoll__iocp_interrupt_close,
    .drain = NULL,
};

/* ---- the wait ----------------------------------------------------------- */

/* What is left of a wait until `deadline` (ns on xpoll__clock_ns), in
 * milliseconds rounded up, so that a sub-millisecond rest waits 1 ms
 * rather than spinning (mio's duration_millis), and clamped below
 * INFINITE.  0 when the deadline has passed. */
static DWORD iocp_ms_left(int64_t deadline)
{
    int64_t left = deadline - xpoll__clock_ns();
    if (left <= 0)
        return 0;
    int64_t ms = left / 1000000 + (left % 1000000 != 0);
    return ms > (int64_t)XPOLL__IOCP_MAX_MS ? XPOLL__IOCP_MAX_MS : (DWORD)ms;
}

/* Packets into events; returns how many events they made. */
static int iocp_translate(struct xpoll__iocp *s,
                          const OVERLAPPED_ENTRY *entries, ULONG removed,
                          struct xpoll_event *out)
{
    int n = 0;

    xpoll__mutex_lock(&s->lock);
    for (ULONG i = 0; i < removed; i++) {
        const OVERLAPPED_ENTRY *e = &entries[i];
        if (e->lpCompletionKey == XPOLL__IOCP_KEY_WAKER) {
            /* Dropped when posted for a waker freed since. */
            if (!s->waker_armed || e->dwNumberOfBytesTransferred !=
                                       (DWORD)atomic_load_explicit(
                                           &s->waker_gen, memory_order_relaxed))
                continue;
            out[n].xpoll__readiness = XPOLL__EV_IN;
            out[n].xpoll__token = s->waker_token;
            n++;
        } else if (e->lpCompletionKey == XPOLL__IOCP_KEY_INTERRUPT) {
            out[n].xpoll__readiness = XPOLL__EV_IN;
            out[n].xpoll__token = (xpoll_token)e->lpOverlapped;
            n++;
        }
    }
    xpoll__mutex_unlock(&s->lock);
    return n;
}

/* A negative timeout waits without limit, 0 polls once; a positive one
 * is a deadline on the monotonic clock: a call that times out early
 * (libuv's uv__poll in src/win/core.c notes it "can occasionally return a
 * little early"), or at the clamp, or whose packets made no event, waits
 * again for what is left (wepoll's port_wait loops the same way).
 * fAlertable is FALSE (wepoll, mio, libuv): no APC ends the wait, so
 * there is no -EINTR on this backend. */
static int xpoll__iocp_select(xpoll *poll, xpoll_events *events,
                              int64_t timeout_ns)
{
    struct xpoll__iocp *s = iocp_of(poll);
    OVERLAPPED_ENTRY *entries = events->xpoll__native;
    size_t cap = events->xpoll__capacity;
    ULONG room = cap > (size_t)ULONG_MAX ? ULONG_MAX : (ULONG)cap;
    int64_t deadline = 0;

    if (room == 0)
        return 0;
    if (timeout_ns > 0) {
        int64_t now = xpoll__clock_ns();
        deadline = now > INT64_MAX - timeout_ns ? INT64_MAX : now + timeout_ns;
    }
    for (;;) {
        DWORD ms = timeout_ns < 0    ? INFINITE
                   : timeout_ns == 0 ? 0
                                     : iocp_ms_left(deadline);
        ULONG removed = 0;
        if (!GetQueuedCompletionStatusEx(s->port, entries, room, &removed, ms,
                                         FALSE)) {
            DWORD err = GetLastError();
            if (err != WAIT_TIMEOUT)
                return iocp_error(err);
            removed = 0;
        }
        int n = iocp_translate(s, entries, removed, events->xpoll__items);
        if (n > 0) {
            events->xpoll__len = (size_t)n;
            return n;
        }
        if (timeout_ns == 0 || (timeout_ns > 0 && iocp_ms_left(deadline) == 0))
            return 0;
    }
}

const struct xpoll__selector xpoll__iocp_selector = {
    .backend = XPOLL_BACKEND_IOCP,
    .interests = XPOLL_READABLE | XPOLL_WRITABLE | XPOLL_PRIORITY,
    .native_event_size = sizeof(OVERLAPPED_ENTRY),
    .waker = &xpoll__iocp_waker,
    .interrupt = &xpoll__iocp_interrupt,
    .open = xpoll__iocp_open,
    .close = xpoll__iocp_close,
    .register_fd = xpoll__iocp_register,
    .reregister_fd = xpoll__iocp_register,
    .deregister_fd = xpoll__iocp_deregister,
    .rearm = xpoll__iocp_rearm,
    .select = xpoll__iocp_select,
};
