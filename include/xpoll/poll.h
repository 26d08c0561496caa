/*
 * xpoll/poll.h - the reactor: Poll, Token, Interests, Events, Event, Waker.
 *
 * xpoll is an edge-triggered readiness reactor in the style of Rust's mio.
 * Register a file descriptor with a token and a set of interests, then call
 * xpoll_wait() to learn which descriptors became ready.  Another thread can
 * interrupt a blocked wait through an xpoll_waker.  On a level-triggered
 * kernel interface (poll(2)) the edge-triggered contract holds for programs
 * that follow the re-arm rule: see xpoll_rearm().
 *
 * Conventions used by every function below:
 *  - A function returning int returns 0 (or a count, where stated) on
 *    success and a negative errno value (-EINVAL, -EBADF, ...) on failure.
 *    errno is never the channel for the result.
 *  - Constructors take an out-parameter; on failure it is set to NULL and
 *    nothing leaks.  Every *_free(NULL) is a no-op.
 *  - A NULL pointer where an object is required returns -EINVAL (functions
 *    returning int) or is treated as empty (accessors).
 *
 * Copyright (c) 2026 the xpoll authors.  MIT licence, see LICENSE.
 */
#ifndef XPOLL_POLL_H
#define XPOLL_POLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The library is built with -fvisibility=hidden: only XPOLL_API names are
 * exported from the shared object.  On Windows a DLL exports what is
 * marked __declspec(dllexport), and a mingw-w64 link with no such mark
 * exports every global, internal ones included (ld's --export-all-symbols
 * default, "ld: Options specific to i386 PE targets"): the DLL's build
 * (XPOLL__BUILD) marks XPOLL_API so; a program linking the DLL imports,
 * and the static library and its users define XPOLL_STATIC (the CMake
 * target xpoll::xpoll_static does), so a program linked with it exports
 * nothing. */
#if defined(_WIN32)
#if defined(XPOLL_STATIC)
#define XPOLL_API
#elif defined(XPOLL__BUILD)
#define XPOLL_API __declspec(dllexport)
#else
#define XPOLL_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define XPOLL_API __attribute__((visibility("default")))
#else
#define XPOLL_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Poll
 * ---------------------------------------------------------------------- */

/** The reactor: one kernel selector (an epoll or kqueue descriptor, or a
 * poll(2) array). */
typedef struct xpoll xpoll;

/** The readiness mechanism behind an xpoll. */
typedef enum xpoll_backend {
    XPOLL_BACKEND_DEFAULT = 0, /**< the best backend this build has here */
    XPOLL_BACKEND_EPOLL,       /**< Linux epoll(7) */
    XPOLL_BACKEND_KQUEUE,      /**< BSD/macOS kqueue(2) */
    XPOLL_BACKEND_POLL,        /**< poll(2): any POSIX system; needs the
                                    re-arm rule (xpoll_rearm) */
    XPOLL_BACKEND_IO_URING,    /**< reserved until an io_uring backend exists */
    XPOLL_BACKEND_IOCP         /**< Windows: AFD polls on an I/O completion
                                    port, as wepoll and mio; needs the re-arm
                                    rule */
} xpoll_backend;

typedef struct xpoll_events xpoll_events;
typedef struct xpoll_event xpoll_event;
typedef struct xpoll_waker xpoll_waker;

/**
 * A descriptor, as every function below takes and returns it: on POSIX
 * systems an int, any file descriptor (source and ABI as plain int).  On
 * Windows, where only sockets can be polled, a SOCKET held in an intptr_t,
 * so that functions can return a descriptor or a negative errno alike, as
 * on POSIX (libevent's evutil_socket_t makes the same choice).
 */
#if defined(_WIN32)
typedef intptr_t xpoll_socket;
#else
typedef int xpoll_socket;
#endif

/** Any value the caller chooses; a pointer fits. Returned with each event. */
typedef uintptr_t xpoll_token;

/** A set of XPOLL_READABLE, XPOLL_WRITABLE, ... bits. */
typedef uint8_t xpoll_interests;

/** Data to read, a connection to accept, or end of file. */
#define XPOLL_READABLE 0x01u
/** Room to write, or a connect that finished. */
#define XPOLL_WRITABLE 0x02u
/** Urgent/priority data: epoll (EPOLLPRI), poll (POLLPRI), iocp (AFD
 *  RECEIVE_EXPEDITED); kqueue has none (-ENOTSUP). */
#define XPOLL_PRIORITY 0x04u
/** POSIX AIO completions: kqueue EVFILT_AIO only. */
#define XPOLL_AIO      0x08u
/** lio_listio completions: FreeBSD EVFILT_LIO only. */
#define XPOLL_LIO      0x10u

/**
 * Create a poll with the platform's default backend: epoll on Linux, kqueue
 * on macOS and the BSDs, poll(2) where neither exists.
 *
 * If the environment variable XPOLL_BACKEND is set and non-empty, it must
 * name a backend compiled into this build and usable here ("epoll",
 * "kqueue", "poll", "io_uring"); that backend is used.  An unknown or
 * unavailable name is an error, never a silent fallback.  A set-user-ID or
 * set-group-ID program ignores the variable (secure_getenv(3) where the C
 * library has it, else issetugid(2)), so whoever runs it cannot choose its
 * backend.
 *
 * The selector's descriptors are close-on-exec.  A poll must not be used in
 * a child after fork() except to free it.
 *
 * Errors: -EINVAL (out is NULL), -ENOTSUP (XPOLL_BACKEND names no usable
 * backend), -ENOMEM, -EMFILE/-ENFILE (no descriptor left), or another
 * negative errno from the selector's creation.
 */
XPOLL_API int xpoll_new(xpoll **out);

/**
 * Create a poll with a given backend; XPOLL_BACKEND_DEFAULT picks the
 * platform default.  The environment is ignored.
 *
 * Errors: as xpoll_new(); -ENOTSUP if the backend is not compiled in or not
 * usable here; -EINVAL for a value outside the enum.
 */
XPOLL_API int xpoll_new_with_backend(xpoll **out, xpoll_backend backend);

/**
 * Close the selector and free the poll.  Free its waker first (if any).
 * Registered descriptors are not closed.  NULL is a no-op.
 */
XPOLL_API void xpoll_free(xpoll *poll);

/** The backend in use; never XPOLL_BACKEND_DEFAULT (DEFAULT for NULL). */
XPOLL_API xpoll_backend xpoll_get_backend(const xpoll *poll);

/**
 * The lower-case name of a backend ("epoll", "kqueue", "poll", "io_uring"),
 * "default" for XPOLL_BACKEND_DEFAULT, NULL for a value outside the enum.
 * Names are returned for every enum value, compiled in or not.
 */
XPOLL_API const char *xpoll_backend_name(xpoll_backend backend);

/**
 * The selector's own descriptor (the epoll or kqueue fd), or -EINVAL for
 * NULL.  It stays owned by the poll: do not close it.  Useful to nest the
 * poll inside another event loop (it reads as readable when events are
 * pending), or on kqueue to point an aiocb's SIGEV_KEVENT at it.  The poll
 * backend has no such descriptor (its registrations live in user space):
 * -ENOTSUP there.
 */
XPOLL_API int xpoll_fd(const xpoll *poll);

/**
 * Wait for readiness events.
 *
 * Clears `events` (also when it then fails), blocks until at least one
 * event is ready or the timeout passes, stores at most
 * xpoll_events_capacity(events) events and returns how many (0 on
 * timeout).  Events that do not fit stay queued in the kernel for the next
 * call; nothing is lost.
 *
 * timeout_ns < 0 blocks without limit; 0 returns at once.  A positive
 * timeout shorter than the backend's resolution is rounded up (epoll
 * without epoll_pwait2, poll without ppoll (macOS): whole milliseconds), so
 * a short timeout never turns into a busy loop.  Huge timeouts are clamped
 * (epoll and poll without ppoll: INT_MAX ms, about 24.8 days; poll with
 * ppoll: INT32_MAX s; kqueue: 100,000,000 s), never wrapped.
 *
 * A signal caught during the wait returns -EINTR: the call is not
 * restarted, so the caller can react to the signal; call again to go on.
 *
 * Thread rules: one thread at a time may wait on a given poll;
 * registration from other threads is allowed meanwhile.
 *
 * No memory is allocated.  On epoll and kqueue the only system call is
 * the wait itself.  The poll backend also reads its internal notification
 * descriptor after a wake or after a registration from another thread cut
 * its poll() short, and then polls again for the rest of the timeout (read
 * from CLOCK_MONOTONIC): such an interruption never returns early.
 *
 * Errors: -EINVAL (poll or events NULL), -EINTR, or another negative errno
 * from the kernel's wait.
 */
XPOLL_API int xpoll_wait(xpoll *poll, xpoll_events *events, int64_t timeout_ns);

/* ------------------------------------------------------------------------
 * Registration
 *
 * Thread-safe: may run concurrently with xpoll_wait() on another thread; a
 * registration made during a blocked wait takes effect in that wait.  On
 * the poll backend a registration from another thread interrupts that wait
 * (and waits for it to leave poll()): the registration table is shared
 * under a mutex, so these calls are not async-signal-safe there.
 *
 * Readiness is edge-triggered on every backend: an event is delivered when
 * the descriptor becomes ready; read (or write, or accept) until the call
 * fails with EAGAIN before another event for the same readiness is
 * guaranteed, and on the poll backend tell the poll so (xpoll_rearm(), or
 * the I/O helpers of <xpoll/net.h>).  Spurious events are possible: treat
 * EAGAIN as "wait again".
 *
 * Deregister before close().  A descriptor closed while registered is the
 * caller's bug: on epoll the registration lives as long as the open file
 * (a dup'd or inherited copy keeps reporting events with the old token).
 * ---------------------------------------------------------------------- */

/**
 * Start watching `fd` for `interests`; its events carry `token`.
 *
 * Errors: -EINVAL (poll NULL, interests 0 or unknown bits; epoll and
 * kqueue: fd is the poll's own descriptor), -EBADF (fd < 0 or not open),
 * -ENOTSUP (an interest this backend cannot honour: PRIORITY on kqueue,
 * AIO/LIO on epoll and poll), -EEXIST (epoll and poll: fd
 * already registered; kqueue instead updates the directions named in
 * `interests` and leaves any other direction registered with its old
 * token: use reregister to replace a registration), -EPERM (epoll: the fd
 * does not support polling, e.g. a regular file; poll accepts it, always
 * ready), -ENOMEM (poll: growing its table; epoll, kqueue: the kernel's
 * entry), -ENOSPC (epoll: max_user_watches reached), -ELOOP (epoll: fd is
 * an epoll descriptor that watches this poll, or nesting too deep),
 * -ENODEV (FreeBSD 14 and earlier: a device kqueue cannot watch, e.g.
 * /dev/null), -ENOTSOCK (iocp: a handle that is not a socket), or another
 * negative errno from the kernel.
 *
 * poll: a registration whose descriptor was closed without deregistering
 * is recognised by the file it named (fstat(2) device and inode) and
 * replaced when its number is registered again; descriptors on one
 * anonymous inode (Linux eventfd, timerfd) cannot be told apart that way.
 */
XPOLL_API int xpoll_register(xpoll *poll, xpoll_socket fd, xpoll_token token,
                             xpoll_interests interests);

/**
 * Replace the token and interests of a registered `fd`.  Removing a
 * direction stops its events, including ones already queued; asking for a
 * readiness that already holds reports it again.
 *
 * Errors: -EINVAL (poll NULL, interests 0 or unknown bits), -EBADF (fd < 0
 * or not open), -ENOTSUP (an interest this backend cannot honour),
 * -ENOENT (epoll, poll and iocp: fd not registered; kqueue adds the wanted
 * filters and returns 0), -EPERM (epoll: the fd does not support
 * polling), -ENOMEM (kqueue: adding a filter), or another negative errno
 * from the kernel.
 */
XPOLL_API int xpoll_reregister(xpoll *poll, xpoll_socket fd, xpoll_token token,
                               xpoll_interests interests);

/**
 * Stop watching `fd`, at once: no event for it is delivered afterwards,
 * including events already queued, so the caller may close() right after.
 *
 * Errors: -EINVAL (poll NULL), -EBADF (fd < 0 or not open; poll also drops
 * a registration left under the closed number), -ENOENT (epoll and poll: fd
 * not registered; kqueue returns 0).
 */
XPOLL_API int xpoll_deregister(xpoll *poll, xpoll_socket fd);

/* ------------------------------------------------------------------------
 * The re-arm rule
 *
 * epoll (EPOLLET) and kqueue (EV_CLEAR) are edge-triggered in the kernel:
 * it reports a descriptor again once new data or room arrives.  poll(2) is
 * level-triggered: it reports a descriptor as long as it is ready, and
 * keeps no memory of what the program already heard.  Edge-triggered
 * delivery on such a kernel needs the program to say when it has drained a
 * direction, which it learns from EAGAIN.  That is the re-arm rule:
 *
 *   After an operation on fd failed with EAGAIN (or EWOULDBLOCK) for some
 *   directions, call xpoll_rearm(poll, fd, those directions), or do the
 *   operation through a helper of <xpoll/net.h> that does it for you.
 *
 * A program that follows it sees the same edge-triggered behaviour on every
 * backend: no lost edge, spurious events allowed.
 * ---------------------------------------------------------------------- */

/**
 * Say that an operation on `fd` failed with EAGAIN (or EWOULDBLOCK) for the
 * directions in `interests`: from now on, expect a new event for them.
 *
 * epoll and kqueue: checks its arguments, returns 0 and makes no system
 * call (the kernel re-arms by itself).
 *
 * poll: required.  Each event reports a direction once; that direction
 * then stays disarmed (poll(2) is not asked about it) until xpoll_rearm()
 * names it or xpoll_reregister() replaces the registration.  The
 * directions are reading (XPOLL_READABLE, with XPOLL_PRIORITY) and writing
 * (XPOLL_WRITABLE); a direction the registration does not have is
 * ignored.  An error or a hang-up (which poll(2) reports whatever it is
 * asked) is reported once even when both directions are disarmed, and
 * then disarms both and itself until the next re-arm: a descriptor that
 * stays hung up does not end every wait.  It makes no system call; from
 * another thread while a wait blocks, it interrupts that wait as a
 * registration does.
 *
 * Calling it when the direction is not drained is harmless: at worst the
 * next wait reports that readiness again (a spurious event, which the
 * contract allows).  So a program that skips the last read after a short
 * one (README, "The short-read rule") calls it after the short read.
 *
 * A program that ignores the rule runs unchanged on epoll and kqueue.  On
 * the poll backend it hears about each direction of each descriptor once:
 * after the first readable event of a connection, no later data on it
 * makes the wait report it again (nor after the first writable event any
 * later room), so the program stalls with data unread, never busy-loops.
 *
 * Errors, in this order (the same checks as registration): -EINVAL (poll
 * NULL), -EBADF (fd < 0), -EINVAL (interests 0 or unknown bits), -ENOTSUP
 * (an interest this backend cannot honour); then, on poll and iocp only,
 * -ENOENT (fd is not registered).  With no system call, a closed fd is not
 * detected: 0 on epoll and kqueue.
 */
XPOLL_API int xpoll_rearm(xpoll *poll, xpoll_socket fd,
                          xpoll_interests interests);

/* ------------------------------------------------------------------------
 * Events
 *
 * A caller-owned buffer xpoll_wait() fills.  One descriptor that is both
 * readable and writable may come back as one event (epoll) or as two
 * events with the same token (kqueue): accept both.  So a token can appear
 * again later in the same batch: if handling an event frees the object
 * the token points to, defer the free until the whole batch is handled
 * (or mark the object closed and skip its later events).  Not thread-safe:
 * use a buffer from one thread at a time.
 * ---------------------------------------------------------------------- */

/**
 * Allocate an event buffer for up to `capacity` events per wait.
 * Errors: -EINVAL (out NULL, capacity 0), -ENOMEM.
 */
XPOLL_API int xpoll_events_new(xpoll_events **out, size_t capacity);

/** Free an event buffer.  NULL is a no-op. */
XPOLL_API void xpoll_events_free(xpoll_events *events);

/** The capacity given to xpoll_events_new() (0 for NULL). */
XPOLL_API size_t xpoll_events_capacity(const xpoll_events *events);

/** Forget the stored events (xpoll_wait() does this itself). */
XPOLL_API void xpoll_events_clear(xpoll_events *events);

/*
 * Event accessors.  They follow mio's meaning on each backend; a NULL
 * event reads as token 0 with every flag false.
 *
 *                      epoll (and poll: POLLIN...)    kqueue
 *  is_readable         EPOLLIN or EPOLLPRI            EVFILT_READ, or the
 *                                                     waker (EVFILT_USER)
 *  is_writable         EPOLLOUT                       EVFILT_WRITE
 *  is_error            EPOLLERR                       EV_ERROR, or EV_EOF
 *                                                     with fflags != 0
 *  is_read_closed      EPOLLHUP, or EPOLLIN with      EVFILT_READ with EV_EOF
 *                      EPOLLRDHUP
 *  is_write_closed     EPOLLHUP, or EPOLLOUT with     EVFILT_WRITE with EV_EOF
 *                      EPOLLERR, or exactly EPOLLERR
 *                      (read end of a pipe closed)
 *  is_priority         EPOLLPRI                       never
 *  is_aio / is_lio     never                          EVFILT_AIO / EVFILT_LIO
 *
 * The poll backend reports poll(2)'s POLLIN, POLLPRI, POLLOUT, POLLERR,
 * POLLHUP and (Linux) POLLRDHUP as the epoll bits of the same name, so
 * the epoll column holds for it (without POLLRDHUP a FIN is readable only).
 *
 * is_read_closed: the read half is shut (peer sent FIN, or hang-up).
 * is_write_closed: writing can no longer succeed (peer reset or closed).
 * is_error: an error is pending; read it with getsockopt(SO_ERROR).
 * The closed/error flags are hints: the read or write that follows is the
 * authority.  They are never set when the condition does not hold.
 *
 * These and the event-buffer queries below are inline functions, so a
 * loop over events costs no calls (the shared library also exports every
 * one of them, for bindings and for builds without optimisation).
 */

/* ---- Implementation details, published only for inlining ---------------
 * The layouts behind the inline functions.  Their fields are not API (use
 * the functions); they change only with the library's SONAME.  An event
 * has the layout of Linux's struct epoll_event (packed on x86-64, as the
 * kernel's) and epoll's readiness bits, so epoll fills the caller's buffer
 * directly; kqueue translates into the same bits plus four of its own. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define XPOLL__PACKED __attribute__((packed))
#else
#define XPOLL__PACKED
#endif
struct xpoll_event {
    uint32_t xpoll__readiness; /* XPOLL__EV_* */
    uint64_t xpoll__token;
} XPOLL__PACKED;

struct xpoll_events {
    size_t xpoll__len;
    size_t xpoll__capacity;
    struct xpoll_event *xpoll__items; /* capacity of them */
    void *xpoll__native;              /* backend scratch (kqueue's kevents) */
};

#define XPOLL__EV_IN        0x001u     /* EPOLLIN */
#define XPOLL__EV_PRI       0x002u     /* EPOLLPRI */
#define XPOLL__EV_OUT       0x004u     /* EPOLLOUT */
#define XPOLL__EV_ERR       0x008u     /* EPOLLERR */
#define XPOLL__EV_HUP       0x010u     /* EPOLLHUP */
#define XPOLL__EV_RDHUP     0x2000u    /* EPOLLRDHUP */
#define XPOLL__EV_WRITE_EOF (1u << 24) /* kqueue: EVFILT_WRITE with EV_EOF */
#define XPOLL__EV_KQ_ERROR  (1u << 25) /* kqueue: EV_ERROR, EV_EOF+fflags */
#define XPOLL__EV_AIO       (1u << 26) /* kqueue: EVFILT_AIO */
#define XPOLL__EV_LIO       (1u << 27) /* kqueue: EVFILT_LIO */
/* A timer's expiry (<xpoll/timer.h>).  Bit 28 is EPOLLEXCLUSIVE, an
 * input-only flag of epoll_ctl(2) that epoll_wait(2) never reports
 * (fs/eventpoll.c, ep_item_poll() masks a file's poll result with the
 * registered events, and no file's poll returns it), so no backend's
 * event can carry it. */
#define XPOLL__EV_TIMER     (1u << 28)

/* XPOLL_INLINE: an inline definition that never emits a copy of its own
 * (C99 `inline` semantics in every language mode, via gnu_inline); the
 * library compiles these bodies once more, out of line, in src/events.c
 * (XPOLL__EMIT_INLINES), and exports them. */
#if defined(XPOLL__EMIT_INLINES)
#define XPOLL_INLINE XPOLL_API
#elif defined(_WIN32) && (defined(__GNUC__) || defined(__clang__))
/* Not dllimport: GCC ignores it on an inline function, with a warning
 * (-Wattributes); an out-of-line call links to the import library's stub. */
#define XPOLL_INLINE extern inline __attribute__((gnu_inline))
#elif defined(__GNUC__) || defined(__clang__)
#define XPOLL_INLINE XPOLL_API extern inline __attribute__((gnu_inline))
#else
#define XPOLL_INLINE static inline
#endif

/* A NULL event reads as no readiness at all. */
#define XPOLL__READINESS(event)                                                \
    ((event) != NULL ? (event)->xpoll__readiness : 0u)

/** How many events the last wait stored (0 for NULL). */
XPOLL_INLINE size_t xpoll_events_len(const xpoll_events *events)
{
    return events != NULL ? events->xpoll__len : 0;
}

/** xpoll_events_len() == 0. */
XPOLL_INLINE bool xpoll_events_is_empty(const xpoll_events *events)
{
    return events == NULL || events->xpoll__len == 0;
}

/**
 * The event at `index`, or NULL if index >= xpoll_events_len().  The
 * pointer is valid until the next wait or clear on this buffer.
 */
XPOLL_INLINE const xpoll_event *xpoll_events_get(const xpoll_events *events,
                                                 size_t index)
{
    if (events == NULL || index >= events->xpoll__len)
        return NULL;
    return &events->xpoll__items[index];
}

/** The token the event's descriptor was registered with. */
XPOLL_INLINE xpoll_token xpoll_event_token(const xpoll_event *event)
{
    return event != NULL ? (xpoll_token)event->xpoll__token : 0;
}

XPOLL_INLINE bool xpoll_event_is_readable(const xpoll_event *event)
{
    return (XPOLL__READINESS(event) & (XPOLL__EV_IN | XPOLL__EV_PRI)) != 0;
}

XPOLL_INLINE bool xpoll_event_is_writable(const xpoll_event *event)
{
    return (XPOLL__READINESS(event) & XPOLL__EV_OUT) != 0;
}

XPOLL_INLINE bool xpoll_event_is_error(const xpoll_event *event)
{
    return (XPOLL__READINESS(event) & (XPOLL__EV_ERR | XPOLL__EV_KQ_ERROR)) !=
           0;
}

XPOLL_INLINE bool xpoll_event_is_read_closed(const xpoll_event *event)
{
    uint32_t r = XPOLL__READINESS(event);
    return (r & XPOLL__EV_HUP) != 0 || (r & (XPOLL__EV_IN | XPOLL__EV_RDHUP)) ==
                                           (XPOLL__EV_IN | XPOLL__EV_RDHUP);
}

XPOLL_INLINE bool xpoll_event_is_write_closed(const xpoll_event *event)
{
    uint32_t r = XPOLL__READINESS(event);
    /* Exactly EPOLLERR is what the write end of a pipe reports once its
     * read end is closed (mio #1350). */
    return (r & (XPOLL__EV_HUP | XPOLL__EV_WRITE_EOF)) != 0 ||
           (r & (XPOLL__EV_OUT | XPOLL__EV_ERR)) ==
               (XPOLL__EV_OUT | XPOLL__EV_ERR) ||
           r == XPOLL__EV_ERR;
}

XPOLL_INLINE bool xpoll_event_is_priority(const xpoll_event *event)
{
    return (XPOLL__READINESS(event) & XPOLL__EV_PRI) != 0;
}

XPOLL_INLINE bool xpoll_event_is_aio(const xpoll_event *event)
{
    return (XPOLL__READINESS(event) & XPOLL__EV_AIO) != 0;
}

XPOLL_INLINE bool xpoll_event_is_lio(const xpoll_event *event)
{
    return (XPOLL__READINESS(event) & XPOLL__EV_LIO) != 0;
}

/* ------------------------------------------------------------------------
 * Waker
 *
 * Wakes a thread blocked in xpoll_wait() from any thread or from a signal
 * handler.  A wake that happens after the waiting thread last saw the
 * waker's event produces one readable event carrying the waker's token;
 * many wakes before that coalesce into one event.  The waker needs no
 * draining by the caller.
 *
 * Mechanism: EVFILT_USER on kqueue (FreeBSD, macOS), an eventfd on Linux,
 * a non-blocking pipe elsewhere (or when forced by XPOLL_FORCE_PIPE_WAKER).
 * The poll backend wakes through its internal notification descriptor (an
 * eventfd or a pipe) and needs no re-arm for the waker.
 * ---------------------------------------------------------------------- */

/**
 * Create the waker of `poll`.  Its events carry `token`, which should not
 * be used for anything else.
 *
 * Errors: -EINVAL (poll or out NULL), -EEXIST (the poll already has a
 * waker), -ENOMEM, -EMFILE/-ENFILE, or another negative errno.
 */
XPOLL_API int xpoll_waker_new(xpoll *poll, xpoll_token token,
                              xpoll_waker **out);

/**
 * Wake the poll.  Any thread; async-signal-safe (no lock, no allocation;
 * errno is preserved).  Returns 0, -EINVAL for NULL, or a negative errno
 * from the kernel.
 */
XPOLL_API int xpoll_waker_wake(xpoll_waker *waker);

/**
 * Free the waker; its poll may get a new one afterwards.  Must be called
 * before freeing its poll, and not while another thread may still wake it.
 * NULL is a no-op.
 */
XPOLL_API void xpoll_waker_free(xpoll_waker *waker);

#ifdef __cplusplus
}
#endif

#endif /* XPOLL_POLL_H */
