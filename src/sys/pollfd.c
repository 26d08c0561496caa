/*
 * poll(2) backend: any POSIX system.  The default only where neither epoll
 * nor kqueue exists; XPOLL_BACKEND=poll or XPOLL_BACKEND_POLL chooses it
 * everywhere else.
 *
 * What poll(2) gets wrong for an edge-triggered reactor, and how this file
 * handles it:
 *
 *  - It is level-triggered and stateless: every call reports every
 *    descriptor that is ready, again and again, and the kernel keeps no
 *    registration.  xpoll promises one event per edge.  So the registration
 *    table lives here, and each registration's pollfd.events holds the
 *    directions that are "armed" (reading: READABLE with PRIORITY;
 *    writing: WRITABLE).  An event disarms the directions it reports:
 *    their bits leave pollfd.events.  The program arms them again when it ran
 * into EAGAIN (xpoll_rearm(), which the net.h I/O helpers call) or by
 * reregistering. mio's poll selector does the same
 * (src/sys/unix/selector/poll.rs clears the reported bits from pollfd.events,
 * and its do_io wrapper re-registers on WouldBlock).
 *
 *  - POLLERR and POLLHUP cannot be masked (Linux fs/select.c do_pollfd
 *    adds EPOLLERR | EPOLLHUP to every descriptor's filter; POSIX poll():
 *    they are reported "even if not requested in events"), nor can
 *    POLLNVAL.  Clearing events is therefore not enough: a hung-up
 *    descriptor would end every wait at once, a busy loop.  Yet an error
 *    or a hang-up that comes after both directions were reported must
 *    still be heard, as epoll reports it (the state change wakes it).  So
 *    errors and hang-ups are armed on their own: a descriptor with no
 *    direction armed is still polled, with events 0, which only an error or a
 * hang-up can answer; reporting one disarms everything, since neither goes
 * away; and a descriptor with nothing armed is polled under a negative number
 * (~fd), which poll() skips, setting revents to 0 (POSIX poll(); do_pollfd's
 * `fd < 0` case).  A rearm or a reregister arms them again.  mio also polls
 * with events 0, but deregisters a descriptor that reported an error or a
 *    hang-up behind the caller's back, which makes the caller's own
 *    deregister fail later.
 *
 *  - POLLNVAL means the descriptor was closed while registered (the
 *    caller's bug).  epoll and kqueue drop such a registration without an
 *    event, so it is not reported here either, only disarmed; registering
 *    the number again replaces it when fstat(2) shows another file.
 *
 *  - The kernel reads the whole array on every call: a wait costs
 *    O(registered descriptors).  Registration is O(1): a table indexed by
 *    descriptor gives each one's slot in the array, and deregistration
 *    moves the last slot into the hole (libev's ev_poll.c keeps the same
 *    pollidxs table).  The array grows only in registration; a wait
 *    allocates nothing.
 *
 *  - The kernel refuses an array longer than the descriptor limit (Linux
 *    poll(2): EINVAL once nfds exceeds RLIMIT_NOFILE; macOS poll(2): EINVAL
 *    above OPEN_MAX, 10240 in <sys/syslimits.h>, whatever the rlimit).
 *    The array has one entry per registration and one for the
 *    notification descriptor, so on Linux it stays within the limit
 *    unless descriptors were closed without deregistering or the limit was
 *    lowered below the registrations; xpoll_wait() then returns -EINVAL.
 *
 *  - The array must not change under a poll() in progress: the kernel
 *    copies it in when the call starts and writes each revents back when
 *    it ends (Linux fs/select.c do_sys_poll), so a registration made
 *    meanwhile is not seen, and an entry moved or freed meanwhile gets
 *    another entry's result or a write into freed memory.  Thread protocol
 *    (mio's modify_fds, with the notification sent only when a thread is
 *    actually inside poll()): the state is guarded by `lock`; the waiting
 *    thread sets `polling` before poll() and clears it after.  A thread
 *    that changes the array while `polling` is set counts itself in
 *    `waiters`, writes the notification descriptor (slot 0, always armed)
 *    once, and sleeps on `idle` until poll() has returned.  The waiting
 *    thread then lets every waiter finish (`done`) before it turns revents
 *    into events under the lock, against the registrations as they are
 *    now: a deregistration takes effect also for the poll() it cut short.
 *    A change from the waiting thread itself (the common case: a rearm
 *    after EAGAIN between two waits) finds `polling` clear and costs the
 *    lock only; so does a rearm that arms nothing new.
 *
 *  - A fd-based waker would be disarmed after its first event like any
 *    descriptor.  Instead the waker sets `wake_pending` and writes the
 *    notification descriptor (async-signal-safe: an atomic store and a
 *    write()), and the wait turns the flag into an event with the waker's
 *    token (mio's pending_wake_token).  The waiting thread drains the
 *    notification descriptor.
 *
 *  - poll() takes milliseconds.  ppoll() (Linux, FreeBSD, NetBSD, OpenBSD;
 *    not macOS) takes a timespec, used where CMake found it; elsewhere the
 *    timeout is rounded up to whole milliseconds, never down to a busy
 *    loop.  EINTR is returned, never restarted.  A poll() cut short by a
 *    notification that produced no event polls again for the rest of the
 *    timeout, measured on CLOCK_MONOTONIC.
 *
 * Events get epoll's bits (POLLIN -> XPOLL__EV_IN, ..., POLLRDHUP ->
 * XPOLL__EV_RDHUP), so <xpoll/poll.h>'s accessors read them as on epoll.
 * READABLE asks for POLLRDHUP too where it exists (Linux), so a peer's FIN
 * is visible as read-closed, as epoll's EPOLLRDHUP makes it.
 */
#define _GNU_SOURCE /* ppoll() and POLLRDHUP in glibc's <poll.h> */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "fd.h"
#include "selector.h"
#include "thread.h"

/* The notification descriptor: an eventfd where there is one (one
 * descriptor, a write never fills it in practice), else a pipe.  The
 * pipe-waker build uses the pipe here too, so that path is tested. */
#if defined(XPOLL_HAVE_EVENTFD) && !defined(XPOLL_FORCE_PIPE_WAKER)
#include <sys/eventfd.h>
#define XPOLL__POLLFD_EVENTFD 1
#else
#define XPOLL__POLLFD_EVENTFD 0
#endif

#ifdef POLLRDHUP
#define XPOLL__POLLFD_RDHUP POLLRDHUP
#else
#define XPOLL__POLLFD_RDHUP 0
#endif

/* The poll(2) bits of each direction, as arming and disarming take them:
 * reading (READABLE, and PRIORITY with it) and writing. */
#define XPOLL__POLLFD_READ  (POLLIN | XPOLL__POLLFD_RDHUP | POLLPRI)
#define XPOLL__POLLFD_WRITE POLLOUT
/* What poll(2) reports whatever it is asked. */
#define XPOLL__POLLFD_FAULT (POLLERR | POLLHUP | POLLNVAL)

#define XPOLL__POLLFD_INITIAL_SLOTS 16
#define XPOLL__POLLFD_INITIAL_MAP   64

#define NS_PER_MS 1000000LL
#define NS_PER_S  1000000000LL

/* One registration.  slots[i] describes fds[i]; slot 0 is the
 * notification descriptor.  What is armed lives in fds[i] alone: its
 * `events` are the directions armed, and its `fd` is the descriptor while
 * errors and hang-ups are armed, ~fd (which poll() skips) once they are
 * not (see the top of the file). */
struct xpoll__pollfd_slot {
    xpoll_token token;
    dev_t dev; /* the file registered (fstat), to recognise a number */
    ino_t ino; /* reused after a close without deregistering */
    int fd;
    short events; /* the poll(2) bits of the interests registered */
};

struct xpoll__pollfd_state {
    pthread_mutex_t lock; /* guards everything below but the atomics */
    pthread_cond_t idle;  /* `polling` went false */
    pthread_cond_t done;  /* `waiters` went to 0 */
    bool polling;         /* the waiting thread is in poll() with fds */
    bool notified;        /* a change wrote the notification since */
    unsigned waiters;     /* changes waiting for poll() to return */

    struct pollfd *fds; /* what poll() gets; fds[0]: notification */
    struct xpoll__pollfd_slot *slots;
    size_t nfds, cap;
    /* Descriptor -> its slot; 0 (the notification's slot) = none. */
    size_t *slot_of;
    size_t map_len;
    size_t cursor; /* where the next harvest starts, for fairness */

    int notify_fds[2]; /* read end, write end (one eventfd: both) */
    atomic_int wake_pending;
    bool waker_armed;
    xpoll_token waker_token;
};

/* ------------------------------------------------------------------------
 * Interests <-> poll(2) bits
 * ---------------------------------------------------------------------- */

/* The poll(2) bits of `interests`. */
static short xpoll__pollfd_events(xpoll_interests interests)
{
    short events = 0;

    if (interests & XPOLL_READABLE)
        events |= POLLIN | XPOLL__POLLFD_RDHUP;
    if (interests & XPOLL_PRIORITY)
        events |= POLLPRI;
    if (interests & XPOLL_WRITABLE)
        events |= POLLOUT;
    return events;
}

/* The readiness of an event from the bits of revents that count: those of
 * the directions armed, and errors and hang-ups, which concern both. */
static uint32_t xpoll__pollfd_readiness(short bits)
{
    uint32_t r = 0;

    if (bits & POLLIN)
        r |= XPOLL__EV_IN;
    if (bits & XPOLL__POLLFD_RDHUP)
        r |= XPOLL__EV_RDHUP;
    if (bits & POLLPRI)
        r |= XPOLL__EV_PRI;
    if (bits & POLLOUT)
        r |= XPOLL__EV_OUT;
    if (bits & POLLERR)
        r |= XPOLL__EV_ERR;
    if (bits & POLLHUP)
        r |= XPOLL__EV_HUP;
    return r;
}

/* The directions (poll(2) bits) that arming `interests` arms: whole
 * directions, PRIORITY going with READABLE.  The caller keeps those the
 * registration has. */
static short xpoll__pollfd_arming(xpoll_interests interests)
{
    short bits = 0;

    if (interests & (XPOLL_READABLE | XPOLL_PRIORITY))
        bits |= XPOLL__POLLFD_READ;
    if (interests & XPOLL_WRITABLE)
        bits |= XPOLL__POLLFD_WRITE;
    return bits;
}

/* Arms the directions `bits` of slot i that its registration has, and
 * errors and hang-ups with any of them. */
static void xpoll__pollfd_arm(struct xpoll__pollfd_state *s, size_t i,
                              short bits)
{
    bits &= s->slots[i].events;
    if (bits != 0) {
        s->fds[i].events |= bits;
        s->fds[i].fd = s->slots[i].fd;
    }
}

/* Whether arming `bits` of slot i would change nothing. */
static bool xpoll__pollfd_armed(const struct xpoll__pollfd_state *s, size_t i,
                                short bits)
{
    bits &= s->slots[i].events;
    return bits == 0 ||
           ((s->fds[i].events & bits) == bits && s->fds[i].fd >= 0);
}

/* Disarms what slot i just reported (revents): its directions, or
 * everything after an error or a hang-up, which do not go away. */
static void xpoll__pollfd_disarm(struct xpoll__pollfd_state *s, size_t i,
                                 short revents)
{
    struct pollfd *p = &s->fds[i];

    if (revents & XPOLL__POLLFD_FAULT) {
        p->events = 0;
        p->fd = ~s->slots[i].fd; /* ~fd: descriptor 0 becomes -1 */
        return;
    }
    if (revents & XPOLL__POLLFD_READ)
        p->events &= (short)~XPOLL__POLLFD_READ;
    if (revents & XPOLL__POLLFD_WRITE)
        p->events &= (short)~XPOLL__POLLFD_WRITE;
}

/* ------------------------------------------------------------------------
 * The notification descriptor
 * ---------------------------------------------------------------------- */

static int xpoll__pollfd_notify_open(int fds[2])
{
#if XPOLL__POLLFD_EVENTFD
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    fds[0] = fds[1] = fd;
    return 0;
#else
    return xpoll__pipe(fds);
#endif
}

static void xpoll__pollfd_notify_close(const int fds[2])
{
    close(fds[0]);
    if (fds[1] != fds[0])
        close(fds[1]);
}

/* Makes the notification descriptor readable.  Async-signal-safe: write(2)
 * only.  EAGAIN means it is readable already (a full pipe, an eventfd
 * counter at its maximum). */
static int xpoll__pollfd_notify(const struct xpoll__pollfd_state *s)
{
#if XPOLL__POLLFD_EVENTFD
    uint64_t one = 1;
#else
    char one = 1;
#endif
    while (write(s->notify_fds[1], &one, sizeof one) < 0) {
        if (errno == EAGAIN)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

static void xpoll__pollfd_drain(const struct xpoll__pollfd_state *s)
{
    char buf[64]; /* an eventfd read needs 8 bytes; a pipe, any */
    ssize_t n;

    do {
        n = read(s->notify_fds[0], buf, sizeof buf);
    } while ((n > 0 && !XPOLL__POLLFD_EVENTFD) || (n < 0 && errno == EINTR));
}

/* ------------------------------------------------------------------------
 * Changing the array while another thread may be in poll()
 * ---------------------------------------------------------------------- */

static void xpoll__pollfd_lock(struct xpoll__pollfd_state *s)
{
    pthread_mutex_lock(&s->lock);
}

static void xpoll__pollfd_unlock(struct xpoll__pollfd_state *s)
{
    pthread_mutex_unlock(&s->lock);
}

/* With the lock held: returns once no poll() uses the array, the lock held
 * again.  Returns whether it had to wait; pass that to _release().  Any
 * lookup made before must be made again after. */
static bool xpoll__pollfd_acquire(struct xpoll__pollfd_state *s)
{
    if (!s->polling)
        return false;
    s->waiters++;
    if (!s->notified) {
        s->notified = true;
        /* Cannot fail but for a closed descriptor, which would be a bug
         * here: poll() then reports POLLNVAL for slot 0 and returns. */
        (void)xpoll__pollfd_notify(s);
    }
    while (s->polling)
        pthread_cond_wait(&s->idle, &s->lock);
    return true;
}

static void xpoll__pollfd_release(struct xpoll__pollfd_state *s, bool waited)
{
    if (waited && --s->waiters == 0)
        pthread_cond_signal(&s->done);
}

/* The slot of `fd`, or 0. */
static size_t xpoll__pollfd_find(const struct xpoll__pollfd_state *s, int fd)
{
    return (size_t)fd < s->map_len ? s->slot_of[fd] : 0;
}

/* Room for one more slot and for `fd` in the map.  The only allocation
 * after open(). */
static int xpoll__pollfd_reserve(struct xpoll__pollfd_state *s, int fd)
{
    if (s->nfds == s->cap) {
        size_t cap = s->cap * 2;
        if (cap > SIZE_MAX / sizeof(struct xpoll__pollfd_slot))
            return -ENOMEM;
        struct pollfd *fds = realloc(s->fds, cap * sizeof *fds);
        if (fds == NULL)
            return -ENOMEM;
        s->fds = fds;
        struct xpoll__pollfd_slot *slots =
            realloc(s->slots, cap * sizeof *slots);
        if (slots == NULL)
            return -ENOMEM; /* fds is larger than needed; harmless */
        s->slots = slots;
        s->cap = cap;
    }
    if ((size_t)fd >= s->map_len) {
        size_t len = s->map_len * 2;
        if (len <= (size_t)fd)
            len = (size_t)fd + 1;
        if (len > SIZE_MAX / sizeof(size_t))
            return -ENOMEM;
        size_t *map = realloc(s->slot_of, len * sizeof *map);
        if (map == NULL)
            return -ENOMEM;
        memset(map + s->map_len, 0, (len - s->map_len) * sizeof *map);
        s->slot_of = map;
        s->map_len = len;
    }
    return 0;
}

/* Removes slot i: the last slot moves into its place, with the revents of
 * the poll() that just returned, so a harvest still finds them. */
static void xpoll__pollfd_remove(struct xpoll__pollfd_state *s, size_t i)
{
    size_t last = s->nfds - 1;

    s->slot_of[s->slots[i].fd] = 0;
    if (i != last) {
        s->fds[i] = s->fds[last];
        s->slots[i] = s->slots[last];
        s->slot_of[s->slots[i].fd] = i;
    }
    s->nfds--;
    if (s->cursor >= s->nfds)
        s->cursor = 1;
}

static bool xpoll__pollfd_same_file(const struct xpoll__pollfd_slot *slot,
                                    const struct stat *st)
{
    return slot->dev == st->st_dev && slot->ino == st->st_ino;
}

/* ------------------------------------------------------------------------
 * Registration
 * ---------------------------------------------------------------------- */

static int xpoll__pollfd_register(xpoll *poll, int fd, xpoll_token token,
                                  xpoll_interests interests)
{
    struct xpoll__pollfd_state *s = poll->state;
    struct stat st;

    /* poll() would take a closed descriptor (POLLNVAL): check it here, as
     * epoll_ctl() and kevent() do. */
    if (fstat(fd, &st) < 0)
        return -errno;
    xpoll__pollfd_lock(s);
    bool waited = xpoll__pollfd_acquire(s);
    int err = 0;
    size_t i = xpoll__pollfd_find(s, fd);
    if (i != 0) {
        if (xpoll__pollfd_same_file(&s->slots[i], &st)) {
            err = -EEXIST;
            goto out;
        }
        /* The file it named was closed without deregistering. */
        xpoll__pollfd_remove(s, i);
    }
    err = xpoll__pollfd_reserve(s, fd);
    if (err < 0)
        goto out;
    i = s->nfds++;
    s->slots[i] = (struct xpoll__pollfd_slot){
        .token = token,
        .dev = st.st_dev,
        .ino = st.st_ino,
        .fd = fd,
        .events = xpoll__pollfd_events(interests),
    };
    s->fds[i] = (struct pollfd){.fd = fd, .events = s->slots[i].events};
    s->slot_of[fd] = i;
out:
    xpoll__pollfd_release(s, waited);
    xpoll__pollfd_unlock(s);
    return err;
}

/* Replaces token and interests and arms every registered direction, so a
 * readiness that holds is reported again (as EPOLL_CTL_MOD does). */
static int xpoll__pollfd_reregister(xpoll *poll, int fd, xpoll_token token,
                                    xpoll_interests interests)
{
    struct xpoll__pollfd_state *s = poll->state;
    struct stat st;

    if (fstat(fd, &st) < 0)
        return -errno;
    xpoll__pollfd_lock(s);
    bool waited = xpoll__pollfd_acquire(s);
    int err = -ENOENT;
    size_t i = xpoll__pollfd_find(s, fd);
    if (i != 0 && !xpoll__pollfd_same_file(&s->slots[i], &st)) {
        xpoll__pollfd_remove(s, i); /* closed without deregistering */
    } else if (i != 0) {
        struct xpoll__pollfd_slot *slot = &s->slots[i];
        slot->token = token;
        slot->events = xpoll__pollfd_events(interests);
        s->fds[i].fd = fd;
        s->fds[i].events = slot->events;
        err = 0;
    }
    xpoll__pollfd_release(s, waited);
    xpoll__pollfd_unlock(s);
    return err;
}

static int xpoll__pollfd_deregister(xpoll *poll, int fd)
{
    struct xpoll__pollfd_state *s = poll->state;
    struct stat st;
    int err = fstat(fd, &st) < 0 ? -errno : 0;

    xpoll__pollfd_lock(s);
    bool waited = xpoll__pollfd_acquire(s);
    size_t i = xpoll__pollfd_find(s, fd);
    if (i != 0) {
        /* A closed number, or one reused for another file, loses the
         * registration it left behind all the same. */
        if (err == 0 && !xpoll__pollfd_same_file(&s->slots[i], &st))
            err = -ENOENT;
        xpoll__pollfd_remove(s, i);
    } else if (err == 0) {
        err = -ENOENT;
    }
    xpoll__pollfd_release(s, waited);
    xpoll__pollfd_unlock(s);
    return err;
}

/* xpoll__pollfd_rearm() while a poll() uses the array: kept out of line,
 * so that the common case (a rearm between two waits) stays small. */
__attribute__((noinline)) static int
xpoll__pollfd_rearm_polling(struct xpoll__pollfd_state *s, int fd, short bits)
{
    bool waited = xpoll__pollfd_acquire(s);
    size_t i = xpoll__pollfd_find(s, fd); /* another change may have run */
    if (i != 0)
        xpoll__pollfd_arm(s, i, bits);
    xpoll__pollfd_release(s, waited);
    xpoll__pollfd_unlock(s);
    return i != 0 ? 0 : -ENOENT;
}

/* No system call: the caller's EAGAIN proved the descriptor open. */
static int xpoll__pollfd_rearm(xpoll *poll, int fd, xpoll_interests interests)
{
    struct xpoll__pollfd_state *s = poll->state;
    short bits = xpoll__pollfd_arming(interests);

    xpoll__pollfd_lock(s);
    size_t i = xpoll__pollfd_find(s, fd);
    int err = i != 0 ? 0 : -ENOENT;
    if (i != 0 && !xpoll__pollfd_armed(s, i, bits)) {
        if (s->polling)
            return xpoll__pollfd_rearm_polling(s, fd, bits);
        xpoll__pollfd_arm(s, i, bits);
    }
    xpoll__pollfd_unlock(s);
    return err;
}

/* ------------------------------------------------------------------------
 * Waiting
 * ---------------------------------------------------------------------- */

static int xpoll__pollfd_call(struct pollfd *fds, size_t n, int64_t timeout_ns)
{
#ifdef XPOLL_HAVE_PPOLL
    struct timespec ts, *timeout = NULL;
    if (timeout_ns >= 0) {
        int64_t sec = timeout_ns / NS_PER_S;
        /* INT32_MAX s (68 years) fits every time_t. */
        ts.tv_sec = sec > INT32_MAX ? INT32_MAX : (time_t)sec;
        ts.tv_nsec = sec > INT32_MAX ? 0 : (long)(timeout_ns % NS_PER_S);
        timeout = &ts;
    }
    return ppoll(fds, (nfds_t)n, timeout, NULL);
#else
    /* Rounded up, so 1 ns waits 1 ms instead of spinning (mio #1615), and
     * clamped to INT_MAX, so INT64_MAX does not wrap negative. */
    int ms = -1;
    if (timeout_ns >= 0) {
        int64_t up = timeout_ns / NS_PER_MS + (timeout_ns % NS_PER_MS != 0);
        ms = up > INT_MAX ? INT_MAX : (int)up;
    }
    return poll(fds, (nfds_t)n, ms);
#endif
}

static void xpoll__pollfd_emit(xpoll_events *events, xpoll_token token,
                               uint32_t readiness)
{
    struct xpoll_event *ev = &events->xpoll__items[events->xpoll__len++];
    ev->xpoll__token = (uint64_t)token;
    ev->xpoll__readiness = readiness;
}

/* Turns the revents of fds[from, to) into events while some of the `ready`
 * are left and there is room; returns where it stopped. */
static size_t xpoll__pollfd_scan(struct xpoll__pollfd_state *s,
                                 xpoll_events *events, size_t cap, int *ready,
                                 size_t from, size_t to)
{
    size_t i;

    for (i = from; i<to && * ready> 0; i++) {
        struct pollfd *p = &s->fds[i];
        short revents = p->revents;
        if (revents == 0)
            continue;
        if (events->xpoll__len == cap)
            break;
        p->revents = 0;
        --*ready;
        /* A change made while poll() ran may have disarmed what it
         * reported: only what is armed now counts. */
        short bits = (short)(revents & (p->events | POLLERR | POLLHUP));
        /* POLLNVAL: closed while registered; no event, as on epoll and
         * kqueue, and no more polling of the number. */
        if (p->fd >= 0 && bits != 0 && !(revents & POLLNVAL))
            xpoll__pollfd_emit(events, s->slots[i].token,
                               xpoll__pollfd_readiness(bits));
        xpoll__pollfd_disarm(s, i, revents);
    }
    return i;
}

/* Turns the revents of the poll() that returned `ready` into events, under
 * the lock and against the registrations as they are now.  Events that do
 * not fit stay armed: the next poll() reports them again. */
static int xpoll__pollfd_harvest(struct xpoll__pollfd_state *s,
                                 xpoll_events *events, int ready, bool notified)
{
    size_t cap = events->xpoll__capacity > (size_t)INT_MAX
                     ? (size_t)INT_MAX
                     : events->xpoll__capacity;

    if (s->fds[0].revents != 0) {
        ready--;
        notified = true;
    }
    if (notified)
        xpoll__pollfd_drain(s);
    /* After the drain: a wake that comes later writes again. */
    if (s->waker_armed && atomic_exchange(&s->wake_pending, 0) != 0)
        xpoll__pollfd_emit(events, s->waker_token, XPOLL__EV_IN);

    /* Starts where the last harvest stopped, so that with a small buffer
     * every ready descriptor gets its turn: [cursor, nfds), then
     * [1, cursor). */
    size_t n = s->nfds, start = s->cursor;
    size_t i = xpoll__pollfd_scan(s, events, cap, &ready, start, n);
    if (i == n && ready > 0)
        i = xpoll__pollfd_scan(s, events, cap, &ready, 1, start);
    s->cursor = i < n ? i : 1;
    return (int)events->xpoll__len;
}

static int xpoll__pollfd_select(xpoll *poll, xpoll_events *events,
                                int64_t timeout_ns)
{
    struct xpoll__pollfd_state *s = poll->state;
    int64_t left = timeout_ns, deadline = 0;

    if (timeout_ns > 0) {
        int64_t now = xpoll__clock_ns();
        deadline = now > INT64_MAX - timeout_ns ? INT64_MAX : now + timeout_ns;
    }
    xpoll__pollfd_lock(s);
    for (;;) {
        s->polling = true;
        s->notified = false;
        struct pollfd *fds = s->fds;
        size_t n = s->nfds;
        xpoll__pollfd_unlock(s);

        int ready = xpoll__pollfd_call(fds, n, left);
        int err = ready < 0 ? errno : 0;

        xpoll__pollfd_lock(s);
        s->polling = false;
        if (s->waiters > 0) {
            pthread_cond_broadcast(&s->idle);
            while (s->waiters > 0)
                pthread_cond_wait(&s->done, &s->lock);
        }
        if (ready < 0) {
            xpoll__pollfd_unlock(s);
            return -err; /* EINTR included: the caller decides */
        }
        int count = ready > 0
                        ? xpoll__pollfd_harvest(s, events, ready, s->notified)
                        : 0;
        if (count > 0 || ready == 0 || timeout_ns == 0)
            break;
        /* Only a notification, or events a change filtered out: the
         * timeout has not passed, so poll again for what is left. */
        if (timeout_ns > 0) {
            left = deadline - xpoll__clock_ns();
            if (left <= 0)
                break;
        }
    }
    xpoll__pollfd_unlock(s);
    return (int)events->xpoll__len;
}

/* ------------------------------------------------------------------------
 * Life cycle
 * ---------------------------------------------------------------------- */

static void xpoll__pollfd_free_state(struct xpoll__pollfd_state *s)
{
    free(s->fds);
    free(s->slots);
    free(s->slot_of);
    free(s);
}

static int xpoll__pollfd_open(xpoll *poll)
{
    struct xpoll__pollfd_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->cap = XPOLL__POLLFD_INITIAL_SLOTS;
    s->map_len = XPOLL__POLLFD_INITIAL_MAP;
    s->fds = malloc(s->cap * sizeof *s->fds);
    s->slots = malloc(s->cap * sizeof *s->slots);
    s->slot_of = calloc(s->map_len, sizeof *s->slot_of);
    if (s->fds == NULL || s->slots == NULL || s->slot_of == NULL) {
        xpoll__pollfd_free_state(s);
        return -ENOMEM;
    }
    int err = -pthread_mutex_init(&s->lock, NULL);
    if (err < 0)
        goto fail_free;
    err = -pthread_cond_init(&s->idle, NULL);
    if (err < 0)
        goto fail_lock;
    err = -pthread_cond_init(&s->done, NULL);
    if (err < 0)
        goto fail_idle;
    err = xpoll__pollfd_notify_open(s->notify_fds);
    if (err < 0)
        goto fail_done;

    atomic_init(&s->wake_pending, 0);
    s->nfds = 1;
    s->cursor = 1;
    s->slots[0] = (struct xpoll__pollfd_slot){
        .fd = s->notify_fds[0],
        .events = POLLIN,
    };
    s->fds[0] = (struct pollfd){.fd = s->notify_fds[0], .events = POLLIN};
    poll->state = s;
    poll->fd = -ENOTSUP; /* xpoll_fd(): no kernel object to hand out */
    return 0;

fail_done:
    pthread_cond_destroy(&s->done);
fail_idle:
    pthread_cond_destroy(&s->idle);
fail_lock:
    pthread_mutex_destroy(&s->lock);
fail_free:
    xpoll__pollfd_free_state(s);
    return err;
}

static void xpoll__pollfd_close(xpoll *poll)
{
    struct xpoll__pollfd_state *s = poll->state;

    xpoll__pollfd_notify_close(s->notify_fds);
    pthread_cond_destroy(&s->done);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    xpoll__pollfd_free_state(s);
    poll->state = NULL;
}

/* ------------------------------------------------------------------------
 * The waker: a flag and the notification descriptor, no descriptor of its
 * own.
 * ---------------------------------------------------------------------- */

static int xpoll__pollfd_waker_open(xpoll_waker *waker)
{
    (void)waker;
    return 0;
}

static int xpoll__pollfd_waker_arm(xpoll_waker *waker)
{
    struct xpoll__pollfd_state *s = waker->poll->state;

    xpoll__pollfd_lock(s);
    s->waker_token = waker->token;
    s->waker_armed = true;
    xpoll__pollfd_unlock(s);
    return 0;
}

/* Async-signal-safe: an atomic store and write(2) (xpoll_waker_wake keeps
 * errno). */
static int xpoll__pollfd_waker_wake(xpoll_waker *waker)
{
    struct xpoll__pollfd_state *s = waker->poll->state;

    atomic_store(&s->wake_pending, 1);
    return xpoll__pollfd_notify(s);
}

static void xpoll__pollfd_waker_close(xpoll_waker *waker, int armed)
{
    struct xpoll__pollfd_state *s = waker->poll->state;

    if (!armed)
        return;
    xpoll__pollfd_lock(s);
    s->waker_armed = false;
    atomic_store(&s->wake_pending, 0);
    xpoll__pollfd_unlock(s);
}

static const struct xpoll__waker_ops xpoll__pollfd_waker = {
    .open = xpoll__pollfd_waker_open,
    .arm = xpoll__pollfd_waker_arm,
    .wake = xpoll__pollfd_waker_wake,
    .close = xpoll__pollfd_waker_close,
};

const struct xpoll__selector xpoll__pollfd_selector = {
    .backend = XPOLL_BACKEND_POLL,
    .interests = XPOLL_READABLE | XPOLL_WRITABLE | XPOLL_PRIORITY,
    .native_event_size = 0, /* events are written in place */
    .waker = &xpoll__pollfd_waker,
#if XPOLL__POLLFD_EVENTFD && defined(XPOLL_HAVE_EPOLL)
    .interrupt = &xpoll__waker_eventfd,
#else
    .interrupt = &xpoll__waker_pipe,
#endif
    .open = xpoll__pollfd_open,
    .close = xpoll__pollfd_close,
    .register_fd = xpoll__pollfd_register,
    .reregister_fd = xpoll__pollfd_reregister,
    .deregister_fd = xpoll__pollfd_deregister,
    .rearm = xpoll__pollfd_rearm,
    .select = xpoll__pollfd_select,
};
