/*
 * fuzz_reactor - a state-machine fuzzer for the reactor.
 *
 * The input drives a sequence of operations on up to eight descriptor
 * pairs (AF_UNIX stream and datagram socketpairs, both ends of pipes,
 * eventfds) and one poll: register, reregister (new interests, new token),
 * deregister, writes and reads on either end, shutdown, closing the peer,
 * close-and-reopen (deregistered first, per the contract), closing without
 * deregistering, the waker, bad calls, xpoll_rearm() (good and bad calls),
 * and waits.  The program it drives follows the re-arm rule of
 * <xpoll/poll.h>: the registered end is read and written through the
 * net.h I/O helpers (read/write, recv/send, recvfrom/sendto), which re-arm
 * after EAGAIN and after a short transfer, or with plain read(2)/write(2)
 * and xpoll_rearm() at EAGAIN; some operations ignore the rule (plain
 * calls, no re-arm), and the model then expects nothing more of the poll
 * backend for that direction.  Beside the real descriptors runs a model of
 * what readiness the contract obliges the poll to report.  Each wait is
 * checked against it, on epoll, kqueue and poll:
 *
 *  - nothing crashes, no sanitizer report, no descriptor leaks;
 *  - every return code is the documented one for the backend in use
 *    (-EEXIST / -ENOENT on epoll and poll, 0 on kqueue, -EBADF, -EINVAL,
 *    -ENOTSUP; xpoll_rearm: -EBADF for fd < 0 before -EINVAL for bad
 *    interests, then 0 on epoll and kqueue, -ENOENT on poll for a number
 *    without a registration; docs/bad-input.md);
 *  - no event carries a token that is not the current token of a live
 *    registration (deregistered, replaced, closed or never used); on the
 *    poll backend, a registration left under a number closed without
 *    deregistering may report the file that reuses the number (the
 *    caller's bug, documented), but only until a wait has seen the number
 *    closed (POLLNVAL disarms it), and never while the number is closed;
 *  - a readable (writable) flag comes only through a registration that
 *    asked for it; priority/aio/lio never show up on these descriptors;
 *    closed/error flags never appear while the model says the condition
 *    cannot hold;
 *  - poll backend: a direction reported once is disarmed until it is
 *    re-armed or the registration replaced, and an error or hang-up is
 *    reported once per arming (xpoll_rearm in <xpoll/poll.h>): an event
 *    for what is disarmed is a failure (the busy loop it prevents);
 *  - no lost edge: every edge the model says must be reported is reported
 *    by the wait (epoll and poll: by the first wait that returns less than
 *    a full buffer; kqueue: within three more waits of 1 ms each, a
 *    bounded slack for the user-space emulation in tests/kqemu that runs
 *    the kqueue backend on Linux, whose event timing is approximate);
 *  - the waker: one event per burst of wakes, none without a wake.
 *
 * Edge-triggering allows spurious events but not lost ones, so the model
 * is conservative: an edge is "owed" only where <xpoll/poll.h> promises
 * one, i.e. after the reader drained to EAGAIN (or the writer filled to
 * EAGAIN) and, on the poll backend, re-armed that direction (a helper
 * did, or xpoll_rearm()); after a short read from a stream socket through
 * a helper (README, "The short-read rule"); at a registration or
 * reregistration while the readiness holds; and when a half of the
 * connection is shut (poll: while reading is armed) or an error or
 * hang-up begins (poll: while the registration has it armed).  A re-arm
 * that follows no EAGAIN makes nothing owed (a spurious event at most).
 *
 * A failed check prints the last operations and aborts (libFuzzer reports
 * it as a crash and saves the input).  Built as a libFuzzer target with
 * clang (XPOLL_BUILD_FUZZ=ON), and as a replay program over the checked-in
 * corpus in every other build (replay_main.c).
 *
 * The backend comes from XPOLL_BACKEND, as for the test suite.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xpoll.h"
#include "fuzz_check.h"

#ifdef XPOLL_FUZZ_KQEMU
#include "kqemu.h" /* personality and leak counters of the emulation */
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SLOTS   8
#define MAX_OPS     512
#define NS_PER_MS   INT64_C(1000000)
#define EVENTFD_MAX UINT64_C(0xfffffffffffffffe)
/* Descriptors a run may use: the lowest free numbers. */
#define FD_WINDOW   128

/* ---- what the process looks like (probed once) ----------------------------
 */

static xpoll_backend backend;
static xpoll_interests supported; /* what register accepts here */
static bool kq_freebsd;           /* kqueue with FreeBSD's rules rather
                                     than macOS's */
static int closed_fd = -1;        /* a number known to be closed */

/* ---- the model ------------------------------------------------------------
 */

enum kind { K_STREAM, K_DGRAM, K_PIPE_R, K_PIPE_W, K_EVENTFD, K_COUNT };
static const char *const kind_names[K_COUNT] = {"stream", "dgram", "pipe-r",
                                                "pipe-w", "eventfd"};

enum wstate { WS_WRITABLE, WS_FULL, WS_UNKNOWN };

struct dir {
    bool on; /* this direction is registered */
    /* kqueue said 0 but may not have attached: FreeBSD's pipe_kqfilter
     * refuses EVFILT_WRITE with EPIPE once the reader is gone, and the
     * backend ignores that EPIPE (docs/kqueue.md, section 2). */
    bool maybe_absent;
    xpoll_token token;
};

struct slot {
    enum kind kind;
    int w;    /* the watched end; -1 when the slot is empty */
    int peer; /* the other end; -1 when closed (eventfd: always -1) */
    struct dir r, wr;
    bool prio;    /* epoll: registered with PRIORITY only */
    uint64_t in;  /* readable at w: bytes, datagrams, eventfd count */
    uint64_t out; /* written by w, not yet read by the peer */
    bool w_rd_shut, w_wr_shut;       /* w's halves (any cause) */
    bool peer_rd_shut, peer_wr_shut; /* the peer's halves */
    bool peer_closed;
    bool pristine; /* no shutdown or close touched the pair: counts exact */
    enum wstate ws;
    /* The contract promises an event at the next readiness of this
     * direction: it was (re)registered, or drained to EAGAIN (and, on the
     * poll backend, re-armed then), and not reported since. */
    bool r_armed, w_armed;
    bool need_r, need_rclose, need_w, need_wclose;
    /* poll backend only: the registration's interests, and what the
     * backend has armed, exactly (<xpoll/poll.h>, xpoll_rearm): reading
     * (READABLE with PRIORITY), writing, and error/hang-up. */
    xpoll_interests reg;
    bool p_r, p_w, p_hup;
    bool need_hup; /* an error or hang-up event is owed (poll only) */
    int last_fd;   /* w's number before a close without deregistering */
};

/* poll backend: a registration whose descriptor was closed without
 * deregistering stays in its table under the number (<xpoll/poll.h>,
 * xpoll_register; docs/bad-input.md).  Its next poll() with the number
 * closed sees POLLNVAL and disarms it; a number reused before that reports
 * the new file under the old token (the caller's bug). */
struct ghost {
    bool on;
    bool armed; /* may still report: no POLLNVAL seen, or re-armed since */
    xpoll_token token;
    xpoll_interests reg;
    dev_t dev; /* the file it names, as the backend's fstat() saw it */
    ino_t ino;
};

struct run {
    xpoll *poll;
    xpoll_events *events;
    size_t capacity;
    xpoll_waker *waker;
    xpoll_token waker_token;
    bool wake_owed;
    uint64_t gen;
    int nslots;
    struct slot slots[MAX_SLOTS];
    struct ghost ghosts[FD_WINDOW]; /* by descriptor number (poll only) */
    /* the log printed on failure */
    int nlog;
    char log[64][96];
};

static struct run *current;

static void logf_op(struct run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->log[r->nlog % 64], sizeof r->log[0], fmt, ap);
    va_end(ap);
    r->nlog++;
}

/* The backend, the last operations and the model, printed when a check
 * fails. */
static void fuzz_dump_state(void)
{
    struct run *r = current;

    fprintf(stderr, "backend: %s\n", xpoll_backend_name(backend));
    if (r != NULL) {
        int first = r->nlog > 64 ? r->nlog - 64 : 0;
        fprintf(stderr, "last operations:\n");
        for (int i = first; i < r->nlog; i++)
            fprintf(stderr, "  %4d %s\n", i, r->log[i % 64]);
        for (int i = 0; i < r->nslots; i++) {
            struct slot *s = &r->slots[i];
            fprintf(stderr,
                    "  slot %d %s w=%d peer=%d r=%d/%#lx wr=%d/%#lx in=%llu "
                    "out=%llu ws=%d shut(w:%d%d peer:%d%d closed:%d) "
                    "armed r%d w%d need r%d rc%d w%d wc%d",
                    i, kind_names[s->kind], s->w, s->peer, s->r.on,
                    (unsigned long)s->r.token, s->wr.on,
                    (unsigned long)s->wr.token, (unsigned long long)s->in,
                    (unsigned long long)s->out, (int)s->ws, s->w_rd_shut,
                    s->w_wr_shut, s->peer_rd_shut, s->peer_wr_shut,
                    s->peer_closed, s->r_armed, s->w_armed, s->need_r,
                    s->need_rclose, s->need_w, s->need_wclose);
            if (backend == XPOLL_BACKEND_POLL)
                fprintf(stderr, " poll: reg %#x armed r%d w%d hup%d need hup%d",
                        s->reg, s->p_r, s->p_w, s->p_hup, s->need_hup);
            fputc('\n', stderr);
        }
        if (backend == XPOLL_BACKEND_POLL)
            for (int fd = 0; fd < FD_WINDOW; fd++)
                if (r->ghosts[fd].on)
                    fprintf(stderr,
                            "  stale registration at fd %d: token %#lx reg %#x "
                            "armed %d\n",
                            fd, (unsigned long)r->ghosts[fd].token,
                            r->ghosts[fd].reg, r->ghosts[fd].armed);
    }
}

/* ---- input ----------------------------------------------------------------
 */

struct input {
    const uint8_t *data;
    size_t size, pos;
};

static uint8_t next_byte(struct input *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

/* ---- descriptors ----------------------------------------------------------
 */

static bool is_socket(const struct slot *s)
{
    return s->kind == K_STREAM || s->kind == K_DGRAM;
}

static void open_slot(struct slot *s, enum kind kind)
{
    int fds[2];

    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->pristine = true;
    s->last_fd = -1;
    switch (kind) {
    case K_STREAM:
    case K_DGRAM:
        FUZZ_CHECK(xpoll_socketpair(kind == K_STREAM ? SOCK_STREAM : SOCK_DGRAM,
                                    fds) == 0,
                   "socketpair: %s", strerror(errno));
        s->w = fds[0];
        s->peer = fds[1];
        s->ws = WS_WRITABLE;
        break;
    case K_PIPE_R:
    case K_PIPE_W:
        FUZZ_CHECK(xpoll_pipe(fds) == 0, "pipe: %s", strerror(errno));
        s->w = kind == K_PIPE_R ? fds[0] : fds[1];
        s->peer = kind == K_PIPE_R ? fds[1] : fds[0];
        /* A read end is never writable: owe nothing for WRITABLE. */
        s->ws = kind == K_PIPE_W ? WS_WRITABLE : WS_UNKNOWN;
        break;
    case K_EVENTFD:
        s->w = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        FUZZ_CHECK(s->w >= 0, "eventfd: %s", strerror(errno));
        s->peer = -1;
        s->ws = WS_WRITABLE;
        break;
    default:
        abort();
    }
}

static void close_fds(struct slot *s)
{
    if (s->w >= 0)
        close(s->w);
    if (s->peer >= 0)
        close(s->peer);
    s->w = s->peer = -1;
}

static bool registered(const struct slot *s)
{
    return s->r.on || s->wr.on || s->prio;
}

static void forget_registration(struct slot *s)
{
    memset(&s->r, 0, sizeof s->r);
    memset(&s->wr, 0, sizeof s->wr);
    s->prio = false;
    s->need_r = s->need_rclose = s->need_w = s->need_wclose = false;
    s->reg = 0;
    s->p_r = s->p_w = s->p_hup = s->need_hup = false;
}

/* The model's view of the closed/error flags (never set when the condition
 * does not hold, poll.h). */
static bool may_read_close(const struct slot *s)
{
    return s->w_rd_shut || s->peer_closed;
}

static bool may_write_close(const struct slot *s)
{
    return s->w_wr_shut || s->peer_closed;
}

static bool may_error(const struct slot *s)
{
    return s->peer_closed;
}

/* w's write half can no longer succeed in a way epoll and kqueue both see:
 * a stream whose both halves are shut (EPOLLHUP), a pipe write end whose
 * reader is gone (EPOLLERR). */
static bool write_closed_visible(const struct slot *s)
{
    if (s->kind == K_PIPE_W)
        return s->peer_closed;
    if (is_socket(s))
        return s->w_rd_shut && s->w_wr_shut;
    return false;
}

static bool readable_now(const struct slot *s)
{
    return s->in > 0 || s->w_rd_shut;
}

/* What poll(2) reports whatever it is asked (POLLHUP, POLLERR), on Linux:
 * a socket whose both halves are shut (unix_poll, unix_dgram_poll:
 * sk_shutdown == SHUTDOWN_MASK), a pipe read end whose writers are gone
 * and a pipe write end whose readers are gone (fs/pipe.c pipe_poll). */
static bool hup_visible(const struct slot *s)
{
    return write_closed_visible(s) || (s->kind == K_PIPE_R && s->peer_closed);
}

static bool is_poll(void)
{
    return backend == XPOLL_BACKEND_POLL;
}

/* The poll backend's xpoll_rearm(): whole directions, those the
 * registration has; arming any arms errors and hang-ups too
 * (src/sys/pollfd.c, xpoll__pollfd_arming). */
static bool arms_read(xpoll_interests in, xpoll_interests reg)
{
    const xpoll_interests rd = XPOLL_READABLE | XPOLL_PRIORITY;
    return (in & rd) != 0 && (reg & rd) != 0;
}

static bool arms_write(xpoll_interests in, xpoll_interests reg)
{
    return (in & XPOLL_WRITABLE) != 0 && (reg & XPOLL_WRITABLE) != 0;
}

static void poll_arm(struct slot *s, xpoll_interests in)
{
    bool r = arms_read(in, s->reg), w = arms_write(in, s->reg);
    s->p_r |= r;
    s->p_w |= w;
    s->p_hup |= r || w;
}

/* poll: an error or hang-up that starts to hold is reported if the
 * registration still has it armed. */
static void hup_began(struct slot *s, bool was_visible)
{
    if (is_poll() && !was_visible && hup_visible(s) && registered(s) &&
        s->p_hup)
        s->need_hup = true;
}

/* Register / reregister asked for READABLE: an edge is owed if readiness
 * holds ("asking for a readiness that already holds reports it again"). */
static void arm_read(struct slot *s)
{
    s->r_armed = true;
    if (s->kind == K_PIPE_W)
        return; /* a write end is never readable */
    if (readable_now(s))
        s->need_r = true;
    if (s->w_rd_shut)
        s->need_rclose = true;
}

static void arm_write(struct slot *s)
{
    s->w_armed = true;
    if (s->wr.maybe_absent)
        return;
    if (s->ws == WS_WRITABLE && !(s->kind == K_PIPE_W && s->peer_closed))
        s->need_w = true;
    /* poll: a registration arms errors and hang-ups (need_hup). */
    if (write_closed_visible(s) && !is_poll())
        s->need_wclose = true;
}

/* ---- checking a wait ------------------------------------------------------
 */

static bool owes(const struct run *r)
{
    if (r->wake_owed)
        return true;
    for (int i = 0; i < r->nslots; i++) {
        const struct slot *s = &r->slots[i];
        if (s->need_r || s->need_rclose || s->need_w || s->need_wclose ||
            s->need_hup)
            return true;
    }
    return false;
}

/* poll: what the event shows the backend reported, which it disarms
 * (src/sys/pollfd.c, xpoll__pollfd_reported): reading for POLLIN or
 * POLLRDHUP, writing for POLLOUT, everything for POLLERR or POLLHUP.  Each
 * needed that much armed, or poll() was not asked about it. */
static void check_poll_arming(struct slot *s, int i, xpoll_token t,
                              bool readable, bool writable, bool rclosed,
                              bool wclosed, bool error)
{
    /* Read-closed and write-closed at once: POLLHUP, or POLLERR (the
     * accessors of <xpoll/poll.h>; POLLRDHUP alone is read-closed only). */
    bool hup = error || (rclosed && wclosed);

    FUZZ_CHECK(!readable || s->p_r,
               "slot %d (%s): readable event for token %#lx while reading is "
               "disarmed (reported, not re-armed or reregistered since)",
               i, kind_names[s->kind], (unsigned long)t);
    FUZZ_CHECK(!writable || s->p_w,
               "slot %d (%s): writable event for token %#lx while writing is "
               "disarmed (reported, not re-armed or reregistered since)",
               i, kind_names[s->kind], (unsigned long)t);
    FUZZ_CHECK(!rclosed || hup || s->p_r,
               "slot %d (%s): read-closed (POLLRDHUP) for token %#lx while "
               "reading is disarmed",
               i, kind_names[s->kind], (unsigned long)t);
    FUZZ_CHECK(!hup || s->p_hup,
               "slot %d (%s): error/hang-up event for token %#lx although one "
               "was reported and nothing was re-armed since (the busy loop)",
               i, kind_names[s->kind], (unsigned long)t);
    if (readable || rclosed) {
        s->p_r = false;
        s->r_armed = false;
    }
    if (writable) {
        s->p_w = false;
        s->w_armed = false;
    }
    if (hup) {
        s->p_r = s->p_w = s->p_hup = false;
        s->r_armed = s->w_armed = false;
        s->need_hup = false;
    }
}

static struct ghost *ghost_at(struct run *r, int fd)
{
    if (!is_poll() || fd < 0 || fd >= FD_WINDOW || !r->ghosts[fd].on)
        return NULL;
    return &r->ghosts[fd];
}

static void check_event(struct run *r, const xpoll_event *ev, int *waker_events)
{
    xpoll_token t = xpoll_event_token(ev);
    bool readable = xpoll_event_is_readable(ev);
    bool writable = xpoll_event_is_writable(ev);
    bool rclosed = xpoll_event_is_read_closed(ev);
    bool wclosed = xpoll_event_is_write_closed(ev);
    bool error = xpoll_event_is_error(ev);

    FUZZ_CHECK(
        !xpoll_event_is_priority(ev) && !xpoll_event_is_aio(ev) &&
            !xpoll_event_is_lio(ev),
        "token %#lx: priority/aio/lio flag on a socketpair, pipe or eventfd",
        (unsigned long)t);

    if (r->waker != NULL && t == r->waker_token) {
        FUZZ_CHECK(readable && !writable && !error && !rclosed && !wclosed,
                   "waker event is not plain readable");
        FUZZ_CHECK(r->wake_owed,
                   "waker event without a wake since the last one");
        r->wake_owed = false;
        (*waker_events)++;
        FUZZ_CHECK(*waker_events == 1, "two waker events in one wait");
        return;
    }

    for (int i = 0; i < r->nslots; i++) {
        struct slot *s = &r->slots[i];
        bool via_r = s->r.on && s->r.token == t;
        bool via_w = s->wr.on && s->wr.token == t;
        bool via_p = s->prio && s->r.token == t;
        if (!via_r && !via_w && !via_p)
            continue;
        if (readable)
            FUZZ_CHECK(via_r,
                       "slot %d (%s): readable event for token %#lx without "
                       "READABLE interest under that token",
                       i, kind_names[s->kind], (unsigned long)t);
        if (writable)
            FUZZ_CHECK(via_w,
                       "slot %d (%s): writable event for token %#lx without "
                       "WRITABLE interest under that token",
                       i, kind_names[s->kind], (unsigned long)t);
        FUZZ_CHECK(!rclosed || may_read_close(s),
                   "slot %d (%s): read-closed while both read halves are open",
                   i, kind_names[s->kind]);
        FUZZ_CHECK(!wclosed || may_write_close(s),
                   "slot %d (%s): write-closed while the write half is open", i,
                   kind_names[s->kind]);
        FUZZ_CHECK(!error || may_error(s),
                   "slot %d (%s): error flag without any close", i,
                   kind_names[s->kind]);
        if (via_r && (readable || rclosed)) {
            s->need_r = false;
            s->r_armed = false;
        }
        if (via_r && rclosed)
            s->need_rclose = false;
        if (via_w && writable) {
            s->need_w = false;
            s->w_armed = false;
        }
        if (via_w && wclosed)
            s->need_wclose = false;
        if (is_poll())
            check_poll_arming(s, i, t, readable, writable, rclosed, wclosed,
                              error);
        return;
    }
    for (int fd = 0; fd < FD_WINDOW; fd++) {
        struct ghost *g = ghost_at(r, fd);
        if (g == NULL || g->token != t)
            continue;
        FUZZ_CHECK(
            g->armed,
            "event for token %#lx of the registration left at fd %d by "
            "a close without deregistering, after a poll() saw the "
            "number closed (POLLNVAL disarms it) and nothing re-armed it",
            (unsigned long)t, fd);
        FUZZ_CHECK(fcntl(fd, F_GETFD) >= 0,
                   "event for token %#lx of the registration left at fd %d, "
                   "which is closed (POLLNVAL makes no event)",
                   (unsigned long)t, fd);
        return;
    }
    FUZZ_CHECK(
        false,
        "event for token %#lx, which no live registration carries "
        "(stale, deregistered or never used); flags r%d w%d rc%d wc%d e%d",
        (unsigned long)t, readable, writable, rclosed, wclosed, error);
}

static void describe_owed(const struct run *r, char *buf, size_t len)
{
    size_t pos = 0;
    buf[0] = '\0';
    if (r->wake_owed)
        pos += (size_t)snprintf(buf + pos, len - pos, "waker ");
    for (int i = 0; i < r->nslots && pos < len; i++) {
        const struct slot *s = &r->slots[i];
        if (s->need_r || s->need_rclose || s->need_w || s->need_wclose ||
            s->need_hup)
            pos += (size_t)snprintf(
                buf + pos, len - pos, "slot%d(%s:%s%s%s%s%s) ", i,
                kind_names[s->kind], s->need_r ? " readable" : "",
                s->need_rclose ? " read-closed" : "",
                s->need_w ? " writable" : "",
                s->need_wclose ? " write-closed" : "",
                s->need_hup ? " error/hang-up" : "");
    }
}

static void op_wait(struct run *r)
{
    /* epoll queues the edge inside the write()/read()/close() that makes
     * it, for every descriptor kind used here, and poll(2) reads the
     * readiness as it is when called: the first wait that does not fill
     * the buffer must show it.  kqueue (the emulation) gets a bounded
     * grace: three more waits of 1 ms. */
    int grace = backend == XPOLL_BACKEND_KQUEUE ? 3 : 0;
    int rounds = 0;
    /* poll: the registrations left under numbers that are closed now. */
    bool nval[FD_WINDOW] = {false};
    for (int fd = 0; fd < FD_WINDOW; fd++)
        nval[fd] = ghost_at(r, fd) != NULL && fcntl(fd, F_GETFD) < 0;

    for (int iter = 0; iter < 4096; iter++) {
        int64_t timeout = rounds == 0 ? 0 : NS_PER_MS;
        int n = xpoll_wait(r->poll, r->events, timeout);
        /* A signal cut the wait short: the documented -EINTR (epoll_wait
         * and poll are never restarted, signal(7)).  libFuzzer's -timeout
         * watchdog is a SIGALRM every few seconds (setitimer), which lands
         * in a blocking wait now and then.  Wait again. */
        if (n == -EINTR)
            continue;
        FUZZ_CHECK(n >= 0, "xpoll_wait returned %d", n);
        FUZZ_CHECK((size_t)n <= r->capacity, "wait returned %d > capacity %zu",
                   n, r->capacity);
        FUZZ_CHECK(xpoll_events_len(r->events) == (size_t)n,
                   "events_len %zu != %d", xpoll_events_len(r->events), n);
        FUZZ_CHECK(xpoll_events_get(r->events, (size_t)n) == NULL,
                   "events_get past len is not NULL");
        char seen[96];
        size_t pos = (size_t)snprintf(seen, sizeof seen, "wait -> %d", n);
        for (int i = 0; i < n && pos < sizeof seen; i++) {
            const xpoll_event *ev = xpoll_events_get(r->events, (size_t)i);
            pos += (size_t)snprintf(
                seen + pos, sizeof seen - pos, " %04lx:%s%s%s%s%s",
                (unsigned long)(xpoll_event_token(ev) & 0xffff),
                xpoll_event_is_readable(ev) ? "r" : "",
                xpoll_event_is_writable(ev) ? "w" : "",
                xpoll_event_is_read_closed(ev) ? "R" : "",
                xpoll_event_is_write_closed(ev) ? "W" : "",
                xpoll_event_is_error(ev) ? "E" : "");
        }
        logf_op(r, "%s", seen);
        int waker_events = 0;
        for (int i = 0; i < n; i++)
            check_event(r, xpoll_events_get(r->events, (size_t)i),
                        &waker_events);
        if ((size_t)n == r->capacity)
            continue; /* more may be queued: not a round */
        /* A poll backend wait that did not fill the buffer went through
         * every revents poll() returned: POLLNVAL disarmed those. */
        for (int fd = 0; fd < FD_WINDOW; fd++)
            if (nval[fd])
                r->ghosts[fd].armed = false;
        if (!owes(r))
            return;
        if (rounds++ >= grace) {
            char owed[512];
            describe_owed(r, owed, sizeof owed);
            FUZZ_CHECK(false, "lost edge: after %d wait(s) still owed: %s",
                       rounds, owed);
        }
    }
    FUZZ_CHECK(false, "waits kept returning full buffers");
}

/* ---- operations -----------------------------------------------------------
 */

static xpoll_token new_token(struct run *r)
{
    /* Unique per run and spread over the full width (the first is 0). */
    return (xpoll_token)(r->gen++ * UINT64_C(0x9e3779b97f4a7c15));
}

/* The result the contract gives for a call with these interests on `fd`
 * before the backend's own rules: -EBADF, -EINVAL, -ENOTSUP or 1 (go on). */
static int precheck(int fd, xpoll_interests interests)
{
    if (fd < 0)
        return -EBADF;
    if (interests == 0 || (interests & ~0x1fu) != 0)
        return -EINVAL;
    if (interests & ~supported)
        return -ENOTSUP;
    if (fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    return 1;
}

static xpoll_interests interests_from(uint8_t b)
{
    /* Mostly READABLE/WRITABLE, sometimes PRIORITY/AIO/LIO, an unknown bit
     * or nothing. */
    static const xpoll_interests common[] = {
        XPOLL_READABLE, XPOLL_WRITABLE, XPOLL_READABLE | XPOLL_WRITABLE,
        XPOLL_READABLE, XPOLL_WRITABLE, XPOLL_READABLE | XPOLL_WRITABLE,
    };
    if (b < 0xc0)
        return common[b % 6];
    return (xpoll_interests)(b & 0x3f);
}

/* kqueue, FreeBSD rules: EVFILT_WRITE on a pipe write end whose reader is
 * gone fails with EPIPE and attaches nothing; the backend ignores EPIPE
 * (old macOS attached anyway, mio #582), so it reports 0.  Nothing can be
 * owed then. */
static bool write_knote_may_be_absent(const struct slot *s)
{
    return backend == XPOLL_BACKEND_KQUEUE && s->kind == K_PIPE_W &&
           s->peer_closed;
}

static void apply_registration(struct run *r, struct slot *s, xpoll_token t,
                               xpoll_interests in, bool replace)
{
    bool want_r = in & XPOLL_READABLE, want_w = in & XPOLL_WRITABLE;
    (void)r;

    if (backend != XPOLL_BACKEND_KQUEUE || replace) {
        /* epoll and poll: one registration, token and interests replaced.
         * kqueue reregister: wanted filters added, the others deleted. */
        if (!want_r) {
            memset(&s->r, 0, sizeof s->r);
            s->need_r = s->need_rclose = false;
        }
        if (!want_w) {
            memset(&s->wr, 0, sizeof s->wr);
            s->need_w = s->need_wclose = false;
        }
        s->prio = backend != XPOLL_BACKEND_KQUEUE && !want_r && !want_w &&
                  (in & XPOLL_PRIORITY);
        if (s->prio)
            s->r.token = t; /* the token an error/hang-up event would carry */
    }
    /* kqueue register: only the wanted filters are touched (each EV_ADD
     * creates or updates its knote); the others keep their old token. */
    if (want_r) {
        s->r.on = true;
        s->r.token = t;
        arm_read(s);
    }
    if (want_w) {
        bool existed = s->wr.on;
        s->wr.on = true;
        s->wr.token = t;
        s->wr.maybe_absent =
            existed ? s->wr.maybe_absent : write_knote_may_be_absent(s);
        arm_write(s);
    }
    if (is_poll()) {
        /* Every registered direction armed, and errors and hang-ups with
         * them: one that holds is reported. */
        s->reg = in;
        s->p_r = s->p_w = s->p_hup = false;
        poll_arm(s, in);
        s->need_hup = hup_visible(s);
    }
}

/* poll: a registration, or one left under the number, that the backend
 * finds for `fd`. */
static struct slot *registered_at(struct run *r, int fd)
{
    for (int i = 0; i < r->nslots; i++)
        if (r->slots[i].w == fd && fd >= 0 && registered(&r->slots[i]))
            return &r->slots[i];
    return NULL;
}

/* poll: the file `fd` names is the one a stale registration recorded
 * (register refuses it with -EEXIST, reregister takes it over). */
static bool same_file(const struct ghost *g, int fd)
{
    struct stat st;
    FUZZ_CHECK(fstat(fd, &st) == 0, "fstat(%d): %s", fd, strerror(errno));
    return st.st_dev == g->dev && st.st_ino == g->ino;
}

static void op_register(struct run *r, struct slot *s, int idx, uint8_t p,
                        bool re)
{
    xpoll_interests in = interests_from(p);
    int fd = s->w >= 0 ? s->w : closed_fd;
    xpoll_token t = new_token(r);
    int expect = precheck(fd, in);

    struct ghost *g = expect == 1 ? ghost_at(r, fd) : NULL;
    if (g != NULL) {
        /* The poll backend finds the registration a close without
         * deregistering left under the number: -EEXIST if it names this
         * very file (two eventfds share one anonymous inode), else it is
         * dropped.  Reregister takes it over, or drops it with -ENOENT. */
        bool same = same_file(g, fd);
        expect = re ? (same ? 0 : -ENOENT) : (same ? -EEXIST : 0);
        if (expect != -EEXIST)
            g->on = false;
    } else if (expect == 1) {
        if (backend != XPOLL_BACKEND_KQUEUE)
            expect = re ? (registered(s) ? 0 : -ENOENT)
                        : (registered(s) ? -EEXIST : 0);
        else
            expect = 0; /* kqueue updates / adds (<xpoll/poll.h>) */
    }
    int rc = re ? xpoll_reregister(r->poll, fd, t, in)
                : xpoll_register(r->poll, fd, t, in);
    logf_op(r, "%s slot%d fd %d interests %#x token %#lx -> %d",
            re ? "reregister" : "register", idx, fd, in, (unsigned long)t, rc);
    FUZZ_CHECK(rc == expect,
               "%s(fd %d, interests %#x) returned %d, expected %d",
               re ? "reregister" : "register", fd, in, rc, expect);
    if (rc == 0)
        apply_registration(r, s, t, in, re);
}

static void op_deregister(struct run *r, struct slot *s, int idx)
{
    int fd = s->w >= 0 ? s->w : closed_fd;
    int expect;

    struct ghost *g = ghost_at(r, s->w);
    if (s->w < 0)
        expect = -EBADF; /* a closed fd, on every backend */
    else if (g != NULL) {
        /* poll: the registration left under the number goes either way. */
        expect = same_file(g, fd) ? 0 : -ENOENT;
        g->on = false;
    } else if (backend != XPOLL_BACKEND_KQUEUE)
        expect = registered(s) ? 0 : -ENOENT;
    else
        expect = 0;
    int rc = xpoll_deregister(r->poll, fd);
    logf_op(r, "deregister slot%d fd %d -> %d", idx, fd, rc);
    FUZZ_CHECK(rc == expect, "deregister(fd %d) returned %d, expected %d", fd,
               rc, expect);
    if (s->w >= 0)
        forget_registration(s);
}

/* ---- the re-arm rule --------------------------------------------------------
 */

/* What xpoll_rearm(poll, fd, in) answers: the checks of registration, in
 * their order, then (poll only) -ENOENT for a number without a
 * registration (<xpoll/poll.h>; docs/bad-input.md, "Re-arming"). */
static int rearm_expect(struct run *r, int fd, xpoll_interests in)
{
    if (fd < 0)
        return -EBADF;
    if (in == 0 || (in & ~0x1fu) != 0)
        return -EINVAL;
    if (in & ~supported)
        return -ENOTSUP;
    if (!is_poll())
        return 0; /* no system call, no table: nothing to look up */
    return registered_at(r, fd) != NULL || ghost_at(r, fd) != NULL ? 0
                                                                   : -ENOENT;
}

/* A re-arm of `fd` for `in` that the poll backend took: the registration
 * under the number arms those of its directions. */
static void rearmed(struct run *r, int fd, xpoll_interests in)
{
    if (!is_poll())
        return;
    struct slot *s = registered_at(r, fd);
    if (s != NULL) {
        poll_arm(s, in);
        return;
    }
    struct ghost *g = ghost_at(r, fd);
    if (g != NULL && (arms_read(in, g->reg) || arms_write(in, g->reg)))
        g->armed = true;
}

/* xpoll_rearm() on w after an EAGAIN, the rule followed by hand. */
static void rearm_after_eagain(struct run *r, struct slot *s, int idx,
                               xpoll_interests dir)
{
    int expect = rearm_expect(r, s->w, dir);
    int rc = xpoll_rearm(r->poll, s->w, dir);
    logf_op(r, "rearm slot%d fd %d %#x after EAGAIN -> %d", idx, s->w, dir, rc);
    FUZZ_CHECK(rc == expect, "rearm(fd %d, %#x) returned %d, expected %d", s->w,
               dir, rc, expect);
    if (rc == 0)
        rearmed(r, s->w, dir);
}

/* The net.h helpers re-arm their direction after EAGAIN and after a short
 * transfer (<xpoll/net.h>). */
static void helper_result(struct run *r, int fd, ssize_t rc, size_t len,
                          xpoll_interests dir)
{
    if (rc == -EAGAIN || (rc > 0 && (size_t)rc < len))
        rearmed(r, fd, dir);
}

/* How an operation on w reads or writes: through a net.h helper
 * (read/write, recv/send, recvfrom/sendto), or with the plain system call
 * followed by xpoll_rearm() at EAGAIN, or with the plain system call alone,
 * which ignores the rule (the poll backend then owes nothing more for that
 * direction; epoll and kqueue re-arm in the kernel). */
enum how { IO_HELPER, IO_SOCKET, IO_SOCKET_TO, IO_SYSCALL_REARM, IO_SYSCALL };

static bool follows_rule(enum how how)
{
    return how != IO_SYSCALL;
}

static ssize_t read_w(struct run *r, struct slot *s, void *buf, size_t len,
                      enum how how)
{
    ssize_t n;

    if (how == IO_SYSCALL || how == IO_SYSCALL_REARM) {
        n = read(s->w, buf, len);
        return n < 0 ? -errno : n;
    }
    if (how == IO_SOCKET && is_socket(s))
        n = xpoll_recv(r->poll, s->w, buf, len, 0);
    else if (how == IO_SOCKET_TO && is_socket(s))
        n = xpoll_recvfrom(r->poll, s->w, buf, len, 0, NULL, NULL);
    else
        n = xpoll_read(r->poll, s->w, buf, len);
    helper_result(r, s->w, n, len, XPOLL_READABLE);
    return n;
}

static ssize_t write_w(struct run *r, struct slot *s, const void *buf,
                       size_t len, enum how how)
{
    ssize_t n;

    if (how == IO_SYSCALL || how == IO_SYSCALL_REARM) {
        n = write(s->w, buf, len);
        return n < 0 ? -errno : n;
    }
    if (how == IO_SOCKET && is_socket(s))
        n = xpoll_send(r->poll, s->w, buf, len, MSG_NOSIGNAL);
    else if (how == IO_SOCKET_TO && is_socket(s))
        n = xpoll_sendto(r->poll, s->w, buf, len, MSG_NOSIGNAL, NULL, 0);
    else
        n = xpoll_write(r->poll, s->w, buf, len);
    helper_result(r, s->w, n, len, XPOLL_WRITABLE);
    return n;
}

/* ---- operations on the descriptors -----------------------------------------
 */

/* New data (or a new datagram, or a larger count) for w. */
static void data_arrived(struct slot *s)
{
    if (s->r.on && s->r_armed)
        s->need_r = true;
}

static void op_write_peer(struct run *r, struct slot *s, int idx, uint8_t p)
{
    static char buf[65536];
    size_t len = p >= 0xf0 ? sizeof buf : (size_t)p + 1;
    ssize_t n;

    if (s->w < 0)
        return;
    if (s->kind == K_EVENTFD) {
        /* Written at w itself: through the helper, which re-arms WRITABLE
         * if the count has no room. */
        uint64_t v = (uint64_t)p + 1;
        n = write_w(r, s, &v, sizeof v, IO_HELPER);
        logf_op(r, "eventfd slot%d write %llu -> %zd", idx,
                (unsigned long long)v, n);
        if (n < 0) {
            FUZZ_CHECK(n == -EAGAIN && v > EVENTFD_MAX - s->in,
                       "eventfd write failed: %s", strerror((int)-n));
            return;
        }
        FUZZ_CHECK(n == (ssize_t)sizeof v, "eventfd write of %zd bytes", n);
        s->in += v;
        if (s->in == EVENTFD_MAX) {
            s->ws = WS_FULL; /* no longer writable: nothing owed */
            s->need_w = false;
        }
        data_arrived(s);
        return;
    }
    if (s->kind == K_PIPE_W || s->peer < 0)
        return; /* no peer that writes to w */
    n = write(s->peer, buf, len);
    logf_op(r, "write peer->slot%d %zu bytes -> %zd", idx, len, n);
    if (n < 0) {
        bool must_fail = s->peer_wr_shut || s->w_rd_shut;
        FUZZ_CHECK(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET ||
                       errno == ECONNREFUSED || errno == ENOTCONN,
                   "peer write failed: %s", strerror(errno));
        FUZZ_CHECK(errno != EPIPE || must_fail || !s->pristine,
                   "peer write EPIPE on an open pair");
        return;
    }
    FUZZ_CHECK(!(s->peer_wr_shut || s->w_rd_shut),
               "peer wrote %zd bytes although the model says its write half or "
               "w's read half is shut",
               n);
    s->in += s->kind == K_DGRAM ? 1 : (uint64_t)n;
    data_arrived(s);
}

/* w's input is gone.  `promise`: the read ended at EAGAIN and the program
 * followed the re-arm rule (or the kernel re-arms by itself: epoll,
 * kqueue), so the next data is owed an event. */
static void drained_in(struct slot *s, bool promise)
{
    s->in = 0;
    if (!s->w_rd_shut)
        s->need_r = false; /* readiness gone: no event is owed any more */
    if (promise)
        s->r_armed = true;
}

/* The peer's end, which nothing registers: plain read(2). */
static uint64_t read_all(int fd, bool *eof, bool dgram)
{
    static char buf[65536];
    uint64_t total = 0;
    *eof = false;
    for (int i = 0; i < 100000; i++) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            total += dgram ? 1 : (uint64_t)n;
            continue;
        }
        if (n == 0) {
            *eof = true;
            return total;
        }
        FUZZ_CHECK(errno == EAGAIN || errno == ECONNRESET, "read failed: %s",
                   strerror(errno));
        return total;
    }
    FUZZ_CHECK(false, "read never reached EAGAIN");
    return 0;
}

/* w until EAGAIN, end of file or ECONNRESET; *eagain says which. */
static uint64_t read_w_all(struct run *r, struct slot *s, enum how how,
                           bool *eof, bool *eagain)
{
    static char buf[65536];
    uint64_t total = 0;
    *eof = *eagain = false;
    for (int i = 0; i < 100000; i++) {
        ssize_t n = read_w(r, s, buf, sizeof buf, how);
        if (n > 0) {
            total += s->kind == K_DGRAM ? 1 : (uint64_t)n;
            continue;
        }
        if (n == 0) {
            *eof = true;
            return total;
        }
        FUZZ_CHECK(n == -EAGAIN || n == -ECONNRESET, "read failed: %s",
                   strerror((int)-n));
        *eagain = n == -EAGAIN;
        return total;
    }
    FUZZ_CHECK(false, "read never reached EAGAIN");
    return 0;
}

static enum how how_from(uint8_t v)
{
    static const enum how hows[8] = {
        IO_HELPER,        IO_SOCKET,        IO_SOCKET_TO, IO_HELPER,
        IO_SYSCALL_REARM, IO_SYSCALL_REARM, IO_HELPER,    IO_SYSCALL,
    };
    return hows[v % 8];
}

static void op_read_eventfd(struct run *r, struct slot *s, int idx,
                            enum how how)
{
    uint64_t v = 0;
    ssize_t n = read_w(r, s, &v, sizeof v, how);
    bool eagain = n == -EAGAIN;

    logf_op(r, "eventfd slot%d read (%d) -> %zd (%llu)", idx, (int)how, n,
            (unsigned long long)v);
    if (n < 0) {
        FUZZ_CHECK(eagain && s->in == 0, "eventfd read: %s (count %llu)",
                   strerror((int)-n), (unsigned long long)s->in);
    } else {
        FUZZ_CHECK(n == (ssize_t)sizeof v && v == s->in,
                   "eventfd read %zd: %llu, model %llu", n,
                   (unsigned long long)v, (unsigned long long)s->in);
        if (how != IO_SYSCALL) {
            /* A read resets the count: the next one meets EAGAIN. */
            n = read_w(r, s, &v, sizeof v, how);
            FUZZ_CHECK(n == -EAGAIN, "eventfd read after a reset: %zd", n);
            eagain = true;
        }
    }
    if (eagain && how == IO_SYSCALL_REARM)
        rearm_after_eagain(r, s, idx, XPOLL_READABLE);
    drained_in(s, (eagain && follows_rule(how)) || !is_poll());
    /* The count is 0: writable again. */
    if (s->ws == WS_FULL && s->wr.on && s->w_armed)
        s->need_w = true;
    s->ws = WS_WRITABLE;
}

/* The short-read rule (README): a read from a stream socket that returns
 * fewer bytes than asked proves the receive buffer empty (AF_UNIX:
 * unix_stream_read_generic copies until the queue is empty), so the
 * program may stop there; the helper re-arms READABLE for it. */
static void op_read_stream_once(struct run *r, struct slot *s, int idx,
                                uint8_t p)
{
    static char buf[65536];
    size_t len = 1 + (size_t)(p >> 3) * 2000;
    ssize_t n = read_w(r, s, buf, len, IO_HELPER);

    logf_op(r, "read slot%d once %zu -> %zd", idx, len, n);
    if (n == -EAGAIN) {
        FUZZ_CHECK(!s->pristine || s->in == 0,
                   "slot %d: EAGAIN, model says %llu bytes", idx,
                   (unsigned long long)s->in);
        drained_in(s, true);
    } else if (n == 0) {
        FUZZ_CHECK(s->w_rd_shut, "slot %d: EOF although w's read half is open",
                   idx);
        drained_in(s, !is_poll());
    } else if (n < 0) {
        FUZZ_CHECK(n == -ECONNRESET, "read failed: %s", strerror((int)-n));
        drained_in(s, !is_poll());
    } else if ((size_t)n < len) {
        FUZZ_CHECK(!s->pristine || (uint64_t)n == s->in,
                   "slot %d: short read of %zd, model says %llu", idx, n,
                   (unsigned long long)s->in);
        drained_in(s, true);
    } else {
        FUZZ_CHECK(!s->pristine || (uint64_t)n <= s->in,
                   "slot %d: read %zd, model says %llu", idx, n,
                   (unsigned long long)s->in);
        s->in = s->in > (uint64_t)n ? s->in - (uint64_t)n : 0;
        if (s->in == 0 && !s->w_rd_shut)
            s->need_r = false; /* readiness gone */
    }
}

static void op_read_w(struct run *r, struct slot *s, int idx, uint8_t p)
{
    enum how how = how_from(p);

    if (s->w < 0 || s->kind == K_PIPE_W)
        return;
    if (s->kind == K_EVENTFD) {
        op_read_eventfd(r, s, idx, how);
        return;
    }
    if (p % 8 == 3 && s->kind == K_STREAM) {
        op_read_stream_once(r, s, idx, p);
        return;
    }
    bool eof, eagain;
    uint64_t got = read_w_all(r, s, how, &eof, &eagain);
    logf_op(r, "read slot%d (%d) -> %llu%s%s", idx, (int)how,
            (unsigned long long)got, eof ? " EOF" : "",
            eagain ? " EAGAIN" : "");
    if (s->pristine)
        FUZZ_CHECK(got == s->in && !eof,
                   "slot %d: read %llu%s, model says %llu", idx,
                   (unsigned long long)got, eof ? " and EOF" : "",
                   (unsigned long long)s->in);
    if (eof)
        FUZZ_CHECK(s->w_rd_shut, "slot %d: EOF although w's read half is open",
                   idx);
    if (eagain && how == IO_SYSCALL_REARM)
        rearm_after_eagain(r, s, idx, XPOLL_READABLE);
    drained_in(s, (eagain && follows_rule(how)) || !is_poll());
}

static void op_fill_w(struct run *r, struct slot *s, int idx, uint8_t p)
{
    static char buf[65536];
    /* Until EAGAIN (even p) in one of four ways, or one write (odd p) of
     * p / 2 * 64 + 1 bytes through the helper. */
    bool until_full = (p & 1) == 0;
    static const enum how hows[4] = {IO_HELPER, IO_SOCKET, IO_SYSCALL_REARM,
                                     IO_SYSCALL};
    enum how how = until_full ? hows[(p >> 1) % 4] : IO_HELPER;
    if (how == IO_SOCKET && (p & 0x10))
        how = IO_SOCKET_TO;

    if (s->w < 0 || s->kind == K_PIPE_R)
        return;
    if (s->kind == K_EVENTFD) {
        /* Up to the maximum count, then a write of 1 must fail. */
        uint64_t v = EVENTFD_MAX - s->in;
        if (v > 0) {
            FUZZ_CHECK(write_w(r, s, &v, sizeof v, how) == (ssize_t)sizeof v,
                       "eventfd fill: %s", strerror(errno));
            s->in = EVENTFD_MAX;
            data_arrived(s);
        }
        uint64_t one = 1;
        ssize_t n = write_w(r, s, &one, sizeof one, how);
        FUZZ_CHECK(n == -EAGAIN, "a full eventfd took a write: %zd", n);
        logf_op(r, "eventfd slot%d filled (%d)", idx, (int)how);
        if (how == IO_SYSCALL_REARM)
            rearm_after_eagain(r, s, idx, XPOLL_WRITABLE);
        s->ws = WS_FULL;
        s->need_w = false;
        if (follows_rule(how) || !is_poll())
            s->w_armed = true;
        return;
    }
    size_t chunk = s->kind == K_DGRAM ? 1024 : sizeof buf;
    size_t once = (size_t)(p >> 1) * 64 + 1;
    uint64_t wrote = 0;
    int err = 0;
    for (int i = 0; i < 100000; i++) {
        ssize_t n = write_w(r, s, buf, until_full ? chunk : once, how);
        if (n < 0) {
            err = (int)-n;
            break;
        }
        wrote += s->kind == K_DGRAM ? 1 : (uint64_t)n;
        if (!until_full)
            break;
    }
    logf_op(r, "fill slot%d %s (%d) -> %llu, %s", idx,
            until_full ? "to EAGAIN" : "once", (int)how,
            (unsigned long long)wrote, err ? strerror(err) : "ok");
    s->out += wrote;
    if (wrote > 0) {
        /* A socket stops polling writable long before a write fails
         * (AF_UNIX: at a quarter of the send buffer), so a writable edge
         * still owed may have vanished: owe nothing until EAGAIN. */
        s->need_w = false;
        if (s->ws == WS_WRITABLE)
            s->ws = WS_UNKNOWN;
    }
    if (err == 0)
        return;
    if (err == EAGAIN) {
        if (how == IO_SYSCALL_REARM)
            rearm_after_eagain(r, s, idx, XPOLL_WRITABLE);
        s->ws = WS_FULL;
        s->need_w = false; /* writability gone: nothing is owed */
        if (follows_rule(how) || !is_poll())
            s->w_armed = true;
        return;
    }
    if (s->kind == K_DGRAM && err == ECONNREFUSED) {
        /* Linux: a send to a dead datagram peer disconnects w and purges
         * its receive queue (unix_dgram_disconnected): the data is lost. */
        s->in = 0;
        if (!s->w_rd_shut)
            s->need_r = false;
    }
    bool must_fail = s->w_wr_shut || s->peer_closed || s->peer_rd_shut;
    /* A datagram socket whose peer is gone: ECONNREFUSED, then
     * ENOTCONN (Linux disconnects it). */
    FUZZ_CHECK(err == EPIPE || err == ECONNRESET || err == ECONNREFUSED ||
                   err == ENOTCONN,
               "slot %d: write failed: %s", idx, strerror(err));
    FUZZ_CHECK(must_fail, "slot %d: write failed with %s on an open pair", idx,
               strerror(err));
}

static void op_drain_peer(struct run *r, struct slot *s, int idx, uint8_t p)
{
    if (s->w < 0)
        return;
    if (s->kind == K_EVENTFD) {
        op_read_w(r, s, idx, p);
        return;
    }
    if (s->kind == K_PIPE_R || s->peer < 0)
        return;
    bool eof;
    uint64_t got = read_all(s->peer, &eof, s->kind == K_DGRAM);
    logf_op(r, "drain peer of slot%d -> %llu%s", idx, (unsigned long long)got,
            eof ? " EOF" : "");
    if (s->pristine)
        FUZZ_CHECK(got == s->out && !eof,
                   "slot %d: peer read %llu%s, model %llu", idx,
                   (unsigned long long)got, eof ? " and EOF" : "",
                   (unsigned long long)s->out);
    s->out = 0;
    /* Everything w sent has been consumed: w's send space is all free. */
    if (s->ws == WS_FULL && s->wr.on && s->w_armed && !s->wr.maybe_absent)
        s->need_w = true;
    s->ws = WS_WRITABLE;
}

/* Linux AF_UNIX: shutdown() of one end shuts the matching half of the
 * other end too for stream sockets (not for datagram sockets). */
static void shut_w_halves(struct slot *s, bool rd, bool wr)
{
    bool was_rd = s->w_rd_shut, was_both = s->w_rd_shut && s->w_wr_shut;
    s->w_rd_shut |= rd;
    s->w_wr_shut |= wr;
    /* epoll and kqueue report the read half's end as a new edge; poll
     * only while reading is armed (POLLRDHUP is asked for with POLLIN). */
    if (rd && !was_rd && s->r.on && (!is_poll() || s->r_armed))
        s->need_rclose = true;
    /* poll: an error or hang-up is need_hup (hup_began). */
    if (write_closed_visible(s) && !was_both && s->wr.on &&
        !s->wr.maybe_absent && !is_poll())
        s->need_wclose = true;
}

static void op_shutdown(struct run *r, struct slot *s, int idx, uint8_t p)
{
    static const int hows[3] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
    bool on_peer = p & 1;
    int how = hows[(p >> 1) % 3];
    bool rd = how != SHUT_WR, wr = how != SHUT_RD;
    int fd = on_peer ? s->peer : s->w;

    if (s->w < 0 || !is_socket(s) || fd < 0)
        return;
    bool was_hup = hup_visible(s);
    int rc = shutdown(fd, how);
    logf_op(r, "shutdown slot%d %s how %d -> %d", idx, on_peer ? "peer" : "w",
            how, rc);
    FUZZ_CHECK(rc == 0, "shutdown failed: %s", strerror(errno));
    s->pristine = false;
    if (on_peer) {
        s->peer_rd_shut |= rd;
        s->peer_wr_shut |= wr;
        if (s->kind == K_STREAM)
            shut_w_halves(s, wr, rd);
    } else {
        if (s->kind == K_STREAM) {
            s->peer_rd_shut |= wr;
            s->peer_wr_shut |= rd;
        }
        shut_w_halves(s, rd, wr);
    }
    hup_began(s, was_hup);
}

static void op_close_peer(struct run *r, struct slot *s, int idx)
{
    if (s->w < 0 || s->peer < 0)
        return;
    bool was_hup = hup_visible(s);
    logf_op(r, "close peer of slot%d (fd %d)", idx, s->peer);
    close(s->peer);
    s->peer = -1;
    s->peer_closed = true;
    s->pristine = false;
    switch (s->kind) {
    case K_STREAM:
        shut_w_halves(s, true, true);
        break;
    case K_PIPE_R: /* the writer is gone: EOF */
        shut_w_halves(s, true, false);
        break;
    case K_PIPE_W: /* the reader is gone: EPIPE, EPOLLERR / EV_EOF */
        s->w_wr_shut = true;
        if (s->wr.on && !s->wr.maybe_absent && !is_poll())
            s->need_wclose = true;
        break;
    default: /* datagram: Linux changes nothing visible on w */
        break;
    }
    hup_began(s, was_hup);
    s->ws = WS_UNKNOWN;
    s->out = 0;
}

static void op_reopen(struct run *r, struct slot *s, int idx, uint8_t p)
{
    if (s->w >= 0 && registered(s)) {
        int rc = xpoll_deregister(r->poll, s->w);
        FUZZ_CHECK(rc == 0, "deregister before close returned %d", rc);
    }
    logf_op(r, "reopen slot%d (was fd %d) as %s", idx, s->w,
            kind_names[p % K_COUNT]);
    close_fds(s);
    open_slot(s, (enum kind)(p % K_COUNT));
}

/* The user's bug the contract documents: close without deregistering.
 * With no dup alive the registration dies with the file on both backends:
 * its token must never show up again. */
static void op_close_without_deregister(struct run *r, struct slot *s, int idx)
{
    if (s->w < 0)
        return;
    logf_op(r, "close slot%d (fd %d) without deregister", idx, s->w);
    if (is_poll() && registered(s)) {
        /* The poll backend keeps the registration under the number. */
        struct stat st;
        FUZZ_CHECK(s->w < FD_WINDOW && fstat(s->w, &st) == 0, "fd %d: %s", s->w,
                   strerror(errno));
        r->ghosts[s->w] = (struct ghost){
            .on = true,
            .armed = true,
            .token = s->r.on || s->prio ? s->r.token : s->wr.token,
            .reg = s->reg,
            .dev = st.st_dev,
            .ino = st.st_ino,
        };
    }
    s->last_fd = s->w;
    close_fds(s);
    forget_registration(s);
}

/* xpoll_rearm() on its own, good calls and bad: its answer, and on the
 * poll backend what it arms.  Outside a drain to EAGAIN it promises
 * nothing (epoll and kqueue: no new edge; poll: a readiness that holds is
 * reported again, a spurious event), so nothing becomes owed. */
static void op_rearm(struct run *r, struct slot *s, int idx, uint8_t p)
{
    static const xpoll_interests dirs[4] = {XPOLL_READABLE, XPOLL_WRITABLE,
                                            XPOLL_READABLE | XPOLL_WRITABLE,
                                            XPOLL_PRIORITY};
    static const xpoll_interests invalid[4] = {0, 0x20, XPOLL_READABLE | 0x80,
                                               0x40};
    uint8_t q = p & 0x7f, sub = (uint8_t)(q >> 3);
    xpoll *poll = r->poll;
    xpoll_interests in;
    int fd;

    /* Which number: w (or the one it had before a close without
     * deregistering), the peer (never registered), or a closed one. */
    switch (sub % 4) {
    case 0:
    case 1:
        fd = s->w >= 0 ? s->w : s->last_fd >= 0 ? s->last_fd : closed_fd;
        break;
    case 2:
        fd = s->peer >= 0 ? s->peer : closed_fd;
        break;
    default:
        fd = closed_fd;
        break;
    }
    switch (q % 8) {
    case 4: /* fd < 0 wins over bad interests */
        fd = sub & 1 ? INT_MIN : -1 - (int)(sub >> 1);
        in = sub & 2 ? 0 : XPOLL_READABLE;
        break;
    case 5:
        in = invalid[sub % 4];
        break;
    case 6:
        poll = NULL;
        in = XPOLL_READABLE;
        break;
    case 7: /* an interest this backend lacks */
        in = !(supported & XPOLL_AIO)        ? XPOLL_AIO
             : !(supported & XPOLL_LIO)      ? XPOLL_LIO
             : !(supported & XPOLL_PRIORITY) ? XPOLL_PRIORITY
                                             : XPOLL_READABLE;
        break;
    default:
        in = dirs[q % 4];
        break;
    }
    int expect = poll == NULL ? -EINVAL : rearm_expect(r, fd, in);
    int rc = xpoll_rearm(poll, fd, in);
    logf_op(r, "rearm%s fd %d (slot%d) %#x -> %d", poll == NULL ? "(NULL)" : "",
            fd, idx, in, rc);
    FUZZ_CHECK(rc == expect, "rearm(%s, fd %d, %#x) returned %d, expected %d",
               poll == NULL ? "NULL" : "poll", fd, in, rc, expect);
    if (rc == 0)
        rearmed(r, fd, in);
}

static void op_waker(struct run *r, uint8_t p)
{
    switch (p % 4) {
    case 0:
    case 1:
        if (r->waker != NULL) {
            int rc = xpoll_waker_wake(r->waker);
            logf_op(r, "wake -> %d", rc);
            FUZZ_CHECK(rc == 0, "wake returned %d", rc);
            r->wake_owed = true;
        }
        break;
    case 2:
        if (r->waker != NULL) {
            logf_op(r, "waker free");
            xpoll_waker_free(r->waker);
            r->waker = NULL;
            r->wake_owed = false;
        } else {
            r->waker_token = new_token(r);
            int rc = xpoll_waker_new(r->poll, r->waker_token, &r->waker);
            logf_op(r, "waker new token %#lx -> %d",
                    (unsigned long)r->waker_token, rc);
            FUZZ_CHECK(rc == 0 && r->waker != NULL, "waker_new returned %d",
                       rc);
        }
        break;
    default:
        if (r->waker != NULL) {
            xpoll_waker *second = (xpoll_waker *)&second;
            int rc = xpoll_waker_new(r->poll, new_token(r), &second);
            logf_op(r, "second waker -> %d", rc);
            FUZZ_CHECK(rc == -EEXIST && second == NULL,
                       "second waker returned %d", rc);
        }
        break;
    }
}

/* Misuse that must be refused without changing anything. */
static void op_bad(struct run *r, uint8_t p)
{
    int rc;
    switch (p % 8) {
    case 0:
        rc = xpoll_register(r->poll, -1 - (int)(p >> 3), 1, XPOLL_READABLE);
        FUZZ_CHECK(rc == -EBADF, "register(negative fd) returned %d", rc);
        break;
    case 1:
        rc = xpoll_register(r->poll, closed_fd, 1, XPOLL_READABLE);
        FUZZ_CHECK(rc == -EBADF, "register(closed fd) returned %d", rc);
        break;
    case 2:
        rc = xpoll_reregister(r->poll, closed_fd, 1, XPOLL_WRITABLE);
        FUZZ_CHECK(rc == -EBADF, "reregister(closed fd) returned %d", rc);
        break;
    case 3:
        rc = xpoll_wait(NULL, r->events, 0);
        FUZZ_CHECK(rc == -EINVAL && xpoll_events_len(r->events) == 0,
                   "wait(NULL poll) returned %d", rc);
        break;
    case 4:
        rc = xpoll_wait(r->poll, NULL, 0);
        FUZZ_CHECK(rc == -EINVAL, "wait(NULL events) returned %d", rc);
        break;
    case 5:
        /* The poll's own descriptor inside itself: epoll_ctl refuses it
         * (EINVAL), and so does kqueue (FreeBSD kqueue_register).  The
         * poll backend has none: xpoll_fd() is -ENOTSUP, a number < 0. */
        rc = xpoll_register(r->poll, xpoll_fd(r->poll), 1, XPOLL_READABLE);
        if (is_poll())
            FUZZ_CHECK(xpoll_fd(r->poll) == -ENOTSUP && rc == -EBADF,
                       "poll backend: xpoll_fd %d, registering it %d",
                       xpoll_fd(r->poll), rc);
        else
            FUZZ_CHECK(rc == -EINVAL, "register(the poll's own fd) returned %d",
                       rc);
        break;
    case 6:
        rc = xpoll_register(NULL, 0, 1, XPOLL_READABLE);
        FUZZ_CHECK(rc == -EINVAL, "register(NULL poll) returned %d", rc);
        break;
    default:
        FUZZ_CHECK(xpoll_events_get(r->events,
                                    xpoll_events_len(r->events) + p) == NULL,
                   "events_get past len is not NULL");
        break;
    }
    logf_op(r, "bad call %d", p % 8);
}

/* ---- one input ------------------------------------------------------------
 */

static void snapshot_open(unsigned char open[FD_WINDOW])
{
    for (int fd = 0; fd < FD_WINDOW; fd++)
        open[fd] = fcntl(fd, F_GETFD) >= 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);

    xpoll *poll;
    int fds[2];
    if (xpoll_new(&poll) != 0) {
        fprintf(stderr, "fuzz_reactor: xpoll_new failed (XPOLL_BACKEND=%s)\n",
                getenv("XPOLL_BACKEND") ? getenv("XPOLL_BACKEND") : "");
        exit(2);
    }
    backend = xpoll_get_backend(poll);
    supported = XPOLL_READABLE | XPOLL_WRITABLE;
    if (xpoll_pipe(fds) != 0)
        exit(2);
    static const xpoll_interests extra[] = {XPOLL_PRIORITY, XPOLL_AIO,
                                            XPOLL_LIO};
    for (size_t i = 0; i < 3; i++) {
        int rc = xpoll_register(poll, fds[0], 1, extra[i]);
        if (rc == 0) {
            supported |= extra[i];
            xpoll_deregister(poll, fds[0]);
        } else if (rc != -ENOTSUP) {
            fprintf(stderr, "fuzz_reactor: probing %#x: %d\n", extra[i], rc);
            exit(2);
        }
    }
    close(fds[0]);
    close(fds[1]);
    xpoll_free(poll);
#ifdef XPOLL_FUZZ_KQEMU
    kq_freebsd =
        backend == XPOLL_BACKEND_KQUEUE && kqemu_personality() == KQEMU_FREEBSD;
#else
    kq_freebsd = backend == XPOLL_BACKEND_KQUEUE;
#endif
    /* A descriptor number far above anything a run opens, checked closed. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        exit(2);
    closed_fd = rl.rlim_cur > 1024 ? 1000 : (int)rl.rlim_cur - 1;
    if (fcntl(closed_fd, F_GETFD) >= 0) {
        fprintf(stderr, "fuzz_reactor: fd %d is open\n", closed_fd);
        exit(2);
    }
    fprintf(stderr, "fuzz_reactor: backend %s, interests %#x%s\n",
            xpoll_backend_name(backend), supported,
            backend == XPOLL_BACKEND_KQUEUE
                ? (kq_freebsd ? " (FreeBSD rules)" : " (macOS rules)")
                : "");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct run run;
    struct run *r = &run;
    struct input in = {data, size, 0};

    unsigned char before[FD_WINDOW], after[FD_WINDOW];

    if (closed_fd < 0)
        LLVMFuzzerInitialize(NULL, NULL);
    snapshot_open(before);
    memset(r, 0, sizeof *r);
    current = r;

    uint8_t b0 = next_byte(&in), b1 = next_byte(&in);
    r->nslots = 1 + (b0 & 7);
    r->capacity = 1 + (b1 & 15);
    FUZZ_CHECK(xpoll_new(&r->poll) == 0, "xpoll_new");
    FUZZ_CHECK(xpoll_get_backend(r->poll) == backend, "backend %s",
               xpoll_backend_name(xpoll_get_backend(r->poll)));
    FUZZ_CHECK(xpoll_events_new(&r->events, r->capacity) == 0,
               "xpoll_events_new");
    if (b0 & 0x80) {
        r->waker_token = new_token(r);
        FUZZ_CHECK(xpoll_waker_new(r->poll, r->waker_token, &r->waker) == 0,
                   "xpoll_waker_new");
    }
    for (int i = 0; i < r->nslots; i++)
        open_slot(&r->slots[i], (enum kind)(next_byte(&in) % K_COUNT));

    for (int op = 0; op < MAX_OPS && in.pos < in.size; op++) {
        uint8_t code = next_byte(&in), which = next_byte(&in),
                p = next_byte(&in);
        int idx = which % r->nslots;
        struct slot *s = &r->slots[idx];
        switch (code % 16) {
        case 0:
        case 1:
            op_register(r, s, idx, p, false);
            break;
        case 2:
            op_register(r, s, idx, p, true);
            break;
        case 3:
            op_deregister(r, s, idx);
            break;
        case 4:
        case 5:
            op_write_peer(r, s, idx, p);
            break;
        case 6:
            op_read_w(r, s, idx, p);
            break;
        case 7:
            op_fill_w(r, s, idx, p);
            break;
        case 8:
            op_drain_peer(r, s, idx, p);
            break;
        case 9:
            op_shutdown(r, s, idx, p);
            break;
        case 10:
            op_close_peer(r, s, idx);
            break;
        case 11:
            op_reopen(r, s, idx, p);
            break;
        case 12:
            if (p < 0x20)
                op_close_without_deregister(r, s, idx);
            else
                op_bad(r, p);
            break;
        case 13:
            op_waker(r, p);
            break;
        case 15:
            if (p >= 0x80) {
                op_rearm(r, s, idx, p);
                break;
            }
            op_wait(r);
            break;
        default:
            op_wait(r);
            break;
        }
    }
    op_wait(r); /* whatever is owed at the end is owed now */

    for (int i = 0; i < r->nslots; i++) {
        struct slot *s = &r->slots[i];
        if (s->w >= 0 && registered(s))
            FUZZ_CHECK(xpoll_deregister(r->poll, s->w) == 0,
                       "final deregister");
        close_fds(s);
    }
    xpoll_waker_free(r->waker);
    xpoll_events_free(r->events);
    xpoll_free(r->poll);
    current = NULL;

    snapshot_open(after);
    for (int fd = 0; fd < FD_WINDOW; fd++)
        FUZZ_CHECK(after[fd] == before[fd], "descriptor %d %s during the run",
                   fd, after[fd] ? "leaked" : "closed behind our back");
#ifdef XPOLL_FUZZ_KQEMU
    struct kqemu_stats st;
    kqemu_stats(&st);
    FUZZ_CHECK(st.kqueues == 0 && st.knotes == 0,
               "emulation keeps %zu kqueue(s) and %zu knote(s) after the run",
               st.kqueues, st.knotes);
#endif
    return 0;
}
