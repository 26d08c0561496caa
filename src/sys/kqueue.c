/*
 * kqueue(2) backend: FreeBSD, macOS and the other BSDs; on Linux, for
 * testing, the user-space emulation in tests/kqemu provides <sys/event.h>.
 *
 * Every registration adds only the filters asked for (EVFILT_READ,
 * EVFILT_WRITE), each EV_ADD|EV_CLEAR|EV_RECEIPT, and sends all changes of
 * one call in one kevent() whose receipts come back in the same array.
 * The token travels in udata, so no per-descriptor memory is kept.
 *
 * Rules honoured here (docs/kqueue.md gives each with its source and the
 * FreeBSD/macOS difference):
 *  - EV_ERROR is tested as a bit: FreeBSD's kqueue_kevent sets flags to
 *    exactly EV_ERROR, xnu's kevent_register ORs it into the change's own
 *    flags (sys/kern/kern_event.c, bsd/kern/kern_event.c; oven-sh/bun
 *    #37791).
 *  - EINTR from a kevent() that carries changes means they were applied
 *    (FreeBSD kevent(2), ERRORS).
 *  - The timeout's tv_sec is clamped to 100,000,000 s: macOS rejects more
 *    with EINVAL (swift-nio #1642, bitcoin #12375), FreeBSD's kqueue_scan
 *    treats anything above INT32_MAX as forever.  Sub-microsecond parts
 *    round up to a whole microsecond.
 *  - The waker's trigger is a separate change without EV_CLEAR: FreeBSD
 *    ignores NOTE_TRIGGER on the initial EV_ADD (kqueue_register clears
 *    the change's fflags before filt_userattach reads them) and cancels a
 *    trigger whose change carries EV_CLEAR (filt_usertouch).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include "fd.h"
#include "selector.h"

/* NetBSD widened filter and flags to 32 bits and, before NetBSD 10, typed
 * udata as intptr_t (mio #621, #1923; libevent #909). */
#if defined(__NetBSD__)
typedef uint32_t xpoll__kqueue_filter;
typedef uint32_t xpoll__kqueue_flags;
#if __NetBSD_Version__ < 1000000000
typedef intptr_t xpoll__kqueue_udata;
#else
typedef void *xpoll__kqueue_udata;
#endif
#else
typedef short xpoll__kqueue_filter;
typedef unsigned short xpoll__kqueue_flags;
typedef void *xpoll__kqueue_udata;
#endif

/* macOS answers EINVAL above this many seconds (itimerfix). */
#define XPOLL__KQUEUE_MAX_TIMEOUT_SEC 100000000
#define US_PER_S                      1000000LL

/* The waker's EVFILT_USER ident: one waker per poll, so one ident. */
#define XPOLL__KQUEUE_WAKER_IDENT 0

/* Adds use EV_CLEAR for edge triggering; every change asks for a
 * receipt so errors come back per change and no event is drained. */
#define XPOLL__KQUEUE_ADD    (EV_ADD | EV_CLEAR | EV_RECEIPT)
#define XPOLL__KQUEUE_DELETE (EV_DELETE | EV_RECEIPT)

enum xpoll__kqueue_op {
    XPOLL__KQUEUE_REGISTER,
    XPOLL__KQUEUE_REREGISTER,
    XPOLL__KQUEUE_DEREGISTER,
};

/* The one list of per-change errnos that mean "already in the wanted
 * state" for each operation. */
static int xpoll__kqueue_ignored_errno(enum xpoll__kqueue_op op, int err)
{
    switch (err) {
    case EPIPE:
        /* macOS 10.10/10.11 refused a pipe end whose peer was closed, yet
         * reported its events (mio #582, #584). */
        return op != XPOLL__KQUEUE_DEREGISTER;
    case ENOENT:
        /* EV_DELETE of a filter that was never added: reregister and
         * deregister do not track which filters exist. */
        return op != XPOLL__KQUEUE_REGISTER;
    default:
        return 0;
    }
}

static void xpoll__kqueue_change(struct kevent *kev, uintptr_t ident,
                                 xpoll__kqueue_filter filter,
                                 xpoll__kqueue_flags flags, unsigned fflags,
                                 uintptr_t udata)
{
    EV_SET(kev, ident, filter, flags, fflags, 0, (xpoll__kqueue_udata)udata);
}

/* Applies `n` changes in one kevent() call; the receipts overwrite the
 * same array.  Returns 0 or the first error not ignored for `op`. */
static int xpoll__kqueue_apply(xpoll *poll, struct kevent *changes, int n,
                               enum xpoll__kqueue_op op)
{
    if (kevent(poll->fd, changes, n, changes, n, NULL) < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        int err = (int)changes[i].data;
        if ((changes[i].flags & EV_ERROR) && err != 0 &&
            !xpoll__kqueue_ignored_errno(op, err))
            return -err;
    }
    return 0;
}

/* One change per direction: `wanted` directions are added, the others
 * deleted when `delete_others`.  WRITE goes first, as in mio. */
static int xpoll__kqueue_changes(struct kevent changes[2], int fd,
                                 xpoll_token token, xpoll_interests wanted,
                                 int delete_others)
{
    static const struct {
        xpoll_interests interest;
        xpoll__kqueue_filter filter;
    } directions[] = {
        {XPOLL_WRITABLE, EVFILT_WRITE},
        {XPOLL_READABLE, EVFILT_READ},
    };
    int n = 0;

    for (size_t i = 0; i < sizeof directions / sizeof directions[0]; i++) {
        if (wanted & directions[i].interest)
            xpoll__kqueue_change(&changes[n++], (uintptr_t)fd,
                                 directions[i].filter, XPOLL__KQUEUE_ADD, 0,
                                 token);
        else if (delete_others)
            xpoll__kqueue_change(&changes[n++], (uintptr_t)fd,
                                 directions[i].filter, XPOLL__KQUEUE_DELETE, 0,
                                 token);
    }
    return n;
}

/* AIO/LIO add no filter: the aiocb's sigevent names the kqueue
 * (SIGEV_KEVENT, see xpoll_fd()) and the token, as in mio.  With no filter
 * the kernel never looks at the descriptor, so check it here: a closed fd
 * is -EBADF on every path. */
static int xpoll__kqueue_fd_open(int fd)
{
    return fcntl(fd, F_GETFD) < 0 ? -errno : 0;
}

static int xpoll__kqueue_register(xpoll *poll, int fd, xpoll_token token,
                                  xpoll_interests interests)
{
    struct kevent changes[2];
    int n = xpoll__kqueue_changes(changes, fd, token, interests, 0);

    return n == 0
               ? xpoll__kqueue_fd_open(fd)
               : xpoll__kqueue_apply(poll, changes, n, XPOLL__KQUEUE_REGISTER);
}

static int xpoll__kqueue_reregister(xpoll *poll, int fd, xpoll_token token,
                                    xpoll_interests interests)
{
    struct kevent changes[2];
    int n = xpoll__kqueue_changes(changes, fd, token, interests, 1);

    /* Deleting absent filters is ignored (ENOENT), and macOS answers
     * ENOENT even for a closed fd: without an add, check it here. */
    if (!(interests & (XPOLL_READABLE | XPOLL_WRITABLE))) {
        int err = xpoll__kqueue_fd_open(fd);
        if (err < 0)
            return err;
    }
    return xpoll__kqueue_apply(poll, changes, n, XPOLL__KQUEUE_REREGISTER);
}

/* Did any change of the last xpoll__kqueue_apply() take effect?  Only a
 * receipt with data 0 says so (after EINTR there may be no receipts at
 * all). */
static int xpoll__kqueue_any_applied(const struct kevent *changes, int n)
{
    for (int i = 0; i < n; i++)
        if ((changes[i].flags & EV_ERROR) && changes[i].data == 0)
            return 1;
    return 0;
}

static int xpoll__kqueue_deregister(xpoll *poll, int fd)
{
    struct kevent changes[2];
    int n = xpoll__kqueue_changes(changes, fd, 0, 0, 1);
    int err = xpoll__kqueue_apply(poll, changes, n, XPOLL__KQUEUE_DEREGISTER);

    /* EV_DELETE of a closed fd: FreeBSD looks the fd up first (EBADF),
     * macOS only looks for the knote (ENOENT, ignored above; xnu
     * bsd/kern/kern_event.c kevent_register calls fp_lookup only to
     * attach).  So when nothing was deleted, check the fd here; a
     * deregistration that removed a filter costs one kevent() as before. */
    if (err == 0 && !xpoll__kqueue_any_applied(changes, n))
        return xpoll__kqueue_fd_open(fd);
    return err;
}

static int xpoll__kqueue_open(xpoll *poll)
{
    /* kqueue() has no close-on-exec flag on macOS (nor before FreeBSD
     * 14's kqueuex): a fork+exec racing with this call can inherit the
     * descriptor, though a kqueue is useless in the child ("The queue is
     * not inherited by a child created with fork(2)", kqueue(2)).  mio
     * once leaked the descriptor when that fcntl failed (41e68807);
     * xpoll__cloexec() closes it. */
    int fd = xpoll__cloexec(kqueue());
    if (fd < 0)
        return fd;
    poll->fd = fd;
    return 0;
}

static void xpoll__kqueue_close(xpoll *poll)
{
    close(poll->fd);
}

/* The one place kevent fields become readiness (mio's kqueue table), in
 * the bits the public accessors read (<xpoll/poll.h>). */
static uint32_t xpoll__kqueue_readiness(const struct kevent *ev)
{
    uint32_t r = 0;

    /* With EV_EOF, fflags carries the socket error, 0 for a clean FIN
     * (kevent(2), Sockets; FreeBSD uipc_socket.c filt_soread). */
    if ((ev->flags & EV_ERROR) || ((ev->flags & EV_EOF) && ev->fflags != 0))
        r |= XPOLL__EV_KQ_ERROR;
    switch (ev->filter) {
    case EVFILT_READ:
        r |= XPOLL__EV_IN;
        if (ev->flags & EV_EOF)
            r |= XPOLL__EV_RDHUP; /* with IN: read-closed */
        break;
    case EVFILT_WRITE:
        r |= XPOLL__EV_OUT;
        if (ev->flags & EV_EOF)
            r |= XPOLL__EV_WRITE_EOF;
        break;
#ifdef EVFILT_USER
    case EVFILT_USER: /* only the waker uses it; it reads as readable */
        r |= XPOLL__EV_IN;
        break;
#endif
#ifdef EVFILT_AIO
    case EVFILT_AIO:
        r |= XPOLL__EV_AIO;
        break;
#endif
#ifdef EVFILT_LIO
    case EVFILT_LIO:
        r |= XPOLL__EV_LIO;
        break;
#endif
    default:
        break;
    }
    return r;
}

static int xpoll__kqueue_select(xpoll *poll, xpoll_events *events,
                                int64_t timeout_ns)
{
    struct kevent *native = events->xpoll__native;
    int max = events->xpoll__capacity > (size_t)INT_MAX
                  ? INT_MAX
                  : (int)events->xpoll__capacity;
    struct timespec ts, *timeout = NULL;

    if (timeout_ns >= 0) {
        /* Whole microseconds, rounded up: older xnu turns the timespec
         * into a timeval, so 999 ns would become a zero-length poll. */
        int64_t us = timeout_ns / 1000 + (timeout_ns % 1000 != 0);
        int64_t sec = us / US_PER_S;
        ts.tv_sec = sec > XPOLL__KQUEUE_MAX_TIMEOUT_SEC
                        ? XPOLL__KQUEUE_MAX_TIMEOUT_SEC
                        : (time_t)sec;
        ts.tv_nsec = sec > XPOLL__KQUEUE_MAX_TIMEOUT_SEC
                         ? 0
                         : (long)(us % US_PER_S) * 1000;
        timeout = &ts;
    }
    int n = kevent(poll->fd, NULL, 0, native, max, timeout);
    if (n < 0)
        return -errno; /* EINTR included: never restarted (FreeBSD
                        * kqueue_scan: "don't restart after signals") */

    struct xpoll_event *items = events->xpoll__items;
    for (int i = 0; i < n; i++) {
        items[i].xpoll__readiness = xpoll__kqueue_readiness(&native[i]);
        items[i].xpoll__token = (uintptr_t)native[i].udata;
    }
    events->xpoll__len = (size_t)n;
    return n;
}

#if defined(EVFILT_USER) && !defined(XPOLL_FORCE_PIPE_WAKER)
/*
 * EVFILT_USER waker: no descriptor at all.  It is added before anyone can
 * trigger it (a trigger that found no knote would create one, and FreeBSD
 * drops NOTE_TRIGGER on the creating change), with EV_CLEAR so each
 * delivery resets it.
 */
static int xpoll__kqueue_user_open(xpoll_waker *waker)
{
    (void)waker;
    return 0;
}

static int xpoll__kqueue_user_arm(xpoll_waker *waker)
{
    struct kevent change;
    xpoll__kqueue_change(&change, XPOLL__KQUEUE_WAKER_IDENT, EVFILT_USER,
                         XPOLL__KQUEUE_ADD, 0, waker->token);
    return xpoll__kqueue_apply(waker->poll, &change, 1, XPOLL__KQUEUE_REGISTER);
}

/* Async-signal-safe: one kevent() system call (xpoll_waker_wake keeps
 * errno). */
static int xpoll__kqueue_user_wake(xpoll_waker *waker)
{
    struct kevent change;
    xpoll__kqueue_change(&change, XPOLL__KQUEUE_WAKER_IDENT, EVFILT_USER,
                         EV_ADD | EV_RECEIPT, NOTE_TRIGGER, waker->token);
    return xpoll__kqueue_apply(waker->poll, &change, 1, XPOLL__KQUEUE_REGISTER);
}

static void xpoll__kqueue_user_close(xpoll_waker *waker, int armed)
{
    if (armed) {
        struct kevent change;
        xpoll__kqueue_change(&change, XPOLL__KQUEUE_WAKER_IDENT, EVFILT_USER,
                             XPOLL__KQUEUE_DELETE, 0, 0);
        xpoll__kqueue_apply(waker->poll, &change, 1, XPOLL__KQUEUE_DEREGISTER);
    }
}

static const struct xpoll__waker_ops xpoll__kqueue_user_waker = {
    .open = xpoll__kqueue_user_open,
    .arm = xpoll__kqueue_user_arm,
    .wake = xpoll__kqueue_user_wake,
    .close = xpoll__kqueue_user_close,
};
#define XPOLL__KQUEUE_WAKER (&xpoll__kqueue_user_waker)
#else
/* OpenBSD before 7.x, NetBSD before 10 and DragonFly lack EVFILT_USER. */
#define XPOLL__KQUEUE_WAKER (&xpoll__waker_pipe)
#endif

const struct xpoll__selector xpoll__kqueue_selector = {
    .backend = XPOLL_BACKEND_KQUEUE,
    .interests = XPOLL_READABLE | XPOLL_WRITABLE
#ifdef EVFILT_AIO
                 | XPOLL_AIO
#endif
#ifdef EVFILT_LIO
                 | XPOLL_LIO
#endif
    ,
    .native_event_size = sizeof(struct kevent),
    .waker = XPOLL__KQUEUE_WAKER,
    .interrupt = &xpoll__waker_pipe,
    .open = xpoll__kqueue_open,
    .close = xpoll__kqueue_close,
    .register_fd = xpoll__kqueue_register,
    .reregister_fd = xpoll__kqueue_reregister,
    .deregister_fd = xpoll__kqueue_deregister,
    .rearm = NULL, /* EV_CLEAR: the kernel reports every new edge itself */
    .select = xpoll__kqueue_select,
};
