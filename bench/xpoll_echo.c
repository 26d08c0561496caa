/*
 * xpoll_echo - the benchmark's xpoll entrant: an edge-triggered echo
 * server on xpoll, single-threaded, written to be compared with
 * raw_epoll_echo.c: the same structure and the same fast path, on xpoll
 * instead of epoll.
 *
 *   xpoll_echo PORT           (listens on 127.0.0.1:PORT; prints the address;
 *                             any ADDR of tcp_echo_server works too)
 *   XPOLL_ECHO_IDLE_MS=MS xpoll_echo PORT
 *                             the same with an idle timeout: each connection
 *                             has an xpoll_timer (<xpoll/timer.h>), set to MS
 *                             milliseconds at accept and set again on every
 *                             read that returns data, that closes it when it
 *                             fires; freed on close
 *
 * Same behaviour as raw_epoll_echo and as the examples' engine
 * (examples/tcp_echo_engine.c): every byte is echoed; output that does not
 * fit in the socket is buffered, at most BUF_SIZE per connection, and
 * reading pauses while the buffer is full; WRITABLE is wanted only while
 * output is pending; a half-closed connection is flushed, then closed.
 * One malloc per connection (at accept), none after.  SIGTERM and SIGINT
 * end it with status 0: the handler wakes the loop through the waker, so
 * the process stays single-threaded (in a process with a second thread
 * glibc's read() and write() take their cancellation-point slow path;
 * bench/RESULTS.md measured what that costs).  The idle timeout is the
 * common server pattern (a timer reset on every message) that bench/run.sh
 * measures against the same server without it (PARTS=timeouts, with a
 * timeout of 60 s, which never fires during a run: what is measured is
 * the resets and the waits with timers armed).  It follows the re-arm rule
 * (drained()), so it runs on every backend: XPOLL_BACKEND=poll picks
 * poll(2), as for every xpoll program.  Unlike the
 * examples it does not shed connections on EMFILE, which the benchmark
 * never reaches, as raw_epoll_echo does not.
 *
 * The fast path (conn_event()).  When an event finds a connection with no
 * output pending and no FIN seen, on a backend that re-arms in the kernel
 * (epoll, kqueue: see drained()), it reads once into the empty buffer; a
 * short read - the whole message, and proof that the input is drained -
 * is written straight back, and if the write takes it all the event is
 * done.  Anything else (a read that filled the buffer, EAGAIN, EOF, an
 * error, a partial write) is accounted for and left to the general path,
 * conn_pump(), the same pump as the examples' engine.
 *
 * What it saves: no system call and no wake-up.  For a ping-pong message
 * the general path makes the same calls - one read(), short, so no second
 * read to reach EAGAIN; one write(); both after the same xpoll_wait() -
 * because it follows the same short-read rule.  What the fast path skips
 * is user-space bookkeeping: the pump goes round its loop twice per
 * message (read, then write and find nothing more to do), checking for
 * pending output, resetting the buffer, testing may_read, eof and the
 * room left, then the WRITABLE interest: about two fifths of the server's
 * user-space instructions per message at 100 connections (callgrind).  A
 * loopback round trip's cost is almost all the kernel's (the TCP send and
 * receive paths and the wait), so those instructions are well under one percent
 * of the server's CPU per round trip.  A user gains from the fast path
 * only where the loop's own instructions are what limits the server -
 * small messages answered at once, a loop at its CPU limit, a kernel path
 * much cheaper than loopback TCP - and pays with a second copy of the read
 * and write rules.  Anywhere else the examples' single path, with one place
 * for every rule, is the one to copy.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <xpoll.h>

#define BUF_SIZE   (64 * 1024)
#define MAX_EVENTS 1024

struct conn {
    int fd;        /* -1 once closed */
    bool may_read; /* input not known to be drained */
    bool fin;      /* the peer's FIN was reported: short reads prove nothing */
    bool general;  /* the fast path is off: FIN seen, or a poll that needs
                      the re-arm rule (see drained()) */
    bool eof;      /* read() returned 0 */
    bool want_out; /* WRITABLE registered */
    xpoll_timer *idle; /* the idle timeout, if XPOLL_ECHO_IDLE_MS is set */
    size_t start, end; /* pending output: buf[start, end) */
    struct conn *next_closed;
    unsigned char buf[BUF_SIZE];
};

/* Connections are tokened by their heap address, which malloc aligns, so
 * these small values can never collide with one. */
#define LISTENER_TOKEN ((xpoll_token)1)
#define WAKER_TOKEN    ((xpoll_token)2)

static xpoll *loop;
static xpoll_waker *waker;
/* The re-arm rule (<xpoll/poll.h>): a level-triggered backend (poll) must
 * be told when a direction was drained.  epoll and kqueue re-arm in the
 * kernel and xpoll_rearm() there only checks its arguments, so the fast
 * path, whose user-space instructions are compared with raw epoll's
 * (bench/RESULTS.md), leaves the rule out and runs only where it is not
 * needed; on poll every event takes the general path, which follows it. */
static bool rearm_needed;

/* A direction of c ran dry (EAGAIN, or a short transfer): arm it again. */
static void drained(const struct conn *c, xpoll_interests dir)
{
    if (rearm_needed)
        (void)xpoll_rearm(loop, c->fd, dir);
}
static unsigned long live;
/* XPOLL_ECHO_IDLE_MS in nanoseconds; 0: no idle timeout. */
static int64_t idle_ns;

/* Data came in: the connection is not idle; its timeout starts again. */
static void touched(const struct conn *c)
{
    if (c->idle != NULL)
        (void)xpoll_timer_set(c->idle, idle_ns, 0); /* cannot fail here */
}
/* Closed during this batch of events, freed after it: kqueue reports read
 * and write readiness as two events with the same token. */
static struct conn *closed;

static void conn_close(struct conn *c)
{
    xpoll_deregister(loop, c->fd);
    close(c->fd);
    c->fd = -1;
    /* Cancelled: no later wait reports it.  An expiry already in this
     * batch finds fd < 0; the connection is freed after the batch. */
    xpoll_timer_free(c->idle);
    c->idle = NULL;
    c->next_closed = closed;
    closed = c;
    live--;
}

/* The general path: write pending output, read more input, repeat until
 * neither can progress; then close, or fix the WRITABLE interest. */
static void conn_pump(struct conn *c)
{
    bool out_full = false;

    for (;;) {
        while (c->start < c->end && !out_full) {
            ssize_t n = write(c->fd, c->buf + c->start, c->end - c->start);
            if (n > 0)
                c->start += (size_t)n;
            else if (n < 0 && errno == EINTR)
                continue;
            else if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
                out_full = true;
                drained(c, XPOLL_WRITABLE);
            } else
                goto close;
        }
        if (c->start == c->end)
            c->start = c->end = 0;

        size_t room = BUF_SIZE - c->end;
        if (!c->may_read || c->eof || room == 0)
            break;
        ssize_t n = read(c->fd, c->buf + c->end, room);
        if (n > 0) {
            touched(c);
            c->end += (size_t)n;
            if ((size_t)n < room && !c->fin) {
                c->may_read = false; /* short read: drained */
                drained(c, XPOLL_READABLE);
            }
        } else if (n == 0) {
            c->eof = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->may_read = false;
            drained(c, XPOLL_READABLE);
        } else if (errno != EINTR) {
            goto close;
        }
    }

    if (c->eof && c->start == c->end)
        goto close;
    bool want_out = c->start < c->end;
    if (want_out != c->want_out) {
        xpoll_interests in = XPOLL_READABLE | (want_out ? XPOLL_WRITABLE : 0);
        if (xpoll_reregister(loop, c->fd, (xpoll_token)c, in) < 0)
            goto close;
        c->want_out = want_out;
    }
    return;
close:
    conn_close(c);
}

static void conn_event(struct conn *c, const xpoll_event *ev)
{
    if (c->fd < 0)
        return; /* closed by an earlier event of this batch */
    if (xpoll_event_is_read_closed(ev))
        c->fin = c->general = true;
    if (xpoll_event_is_readable(ev) || xpoll_event_is_read_closed(ev) ||
        xpoll_event_is_error(ev))
        c->may_read = true; /* a read reports a pending error, too */

    /* The fast path (see the top of the file).  With nothing pending,
     * WRITABLE is off already, so nothing else needs checking. */
    if (c->may_read && c->end == 0 && !c->general) {
        ssize_t n = read(c->fd, c->buf, BUF_SIZE);
        if (n > 0)
            touched(c);
        if (n > 0 && n < BUF_SIZE) {
            c->may_read = false;
            ssize_t w = write(c->fd, c->buf, (size_t)n);
            if (w == n)
                return;
            c->end = (size_t)n; /* the socket is full: the pump goes on */
            if (w > 0)
                c->start = (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                     errno != EINTR)
                goto close;
        } else if (n == BUF_SIZE) {
            c->end = BUF_SIZE; /* maybe more to read: the pump reads on */
        } else if (n == 0) {
            c->eof = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->may_read = false;
        } else if (errno != EINTR) {
            goto close;
        }
    }
    conn_pump(c);
    return;
close:
    conn_close(c);
}

static void accept_all(int lfd)
{
    for (;;) {
        int fd = xpoll_accept_on(loop, lfd); /* re-arms on EAGAIN */
        if (fd < 0) {
            if (fd != -EAGAIN)
                fprintf(stderr, "xpoll_echo: accept: %s\n", strerror(-fd));
            return;
        }
        struct conn *c = malloc(sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        memset(c, 0, offsetof(struct conn, buf));
        c->fd = fd;
        c->general = rearm_needed;
        xpoll_tcp_nodelay(fd, true);
        /* The timer shares the connection's token; xpoll_event_is_timer()
         * tells their events apart. */
        if (idle_ns > 0 &&
            (xpoll_timer_new(loop, (xpoll_token)c, &c->idle) < 0 ||
             xpoll_timer_set(c->idle, idle_ns, 0) < 0)) {
            xpoll_timer_free(c->idle);
            close(fd);
            free(c);
            continue;
        }
        if (xpoll_register(loop, fd, (xpoll_token)c, XPOLL_READABLE) < 0) {
            xpoll_timer_free(c->idle);
            close(fd);
            free(c);
            continue;
        }
        live++;
    }
}

/* The waker is woken by this handler only, so its event means "stop". */
static void on_stop_signal(int sig)
{
    (void)sig;
    xpoll_waker_wake(waker);
}

static int die(const char *what, int err)
{
    fprintf(stderr, "xpoll_echo: %s: %s\n", what, strerror(-err));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT|ADDR\n", argv[0]);
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    const char *idle_ms = getenv("XPOLL_ECHO_IDLE_MS");
    if (idle_ms != NULL && *idle_ms != '\0') {
        char *end;
        errno = 0;
        long long ms = strtoll(idle_ms, &end, 10);
        if (errno != 0 || *end != '\0' || ms <= 0 || ms > INT64_MAX / 1000000) {
            fprintf(stderr, "%s: XPOLL_ECHO_IDLE_MS: milliseconds > 0\n",
                    argv[0]);
            return 2;
        }
        idle_ns = (int64_t)ms * 1000000;
    }

    char name[XPOLL_ADDRSTRLEN];
    xpoll_events *events = NULL;
    int lfd = xpoll_tcp_listen(argv[1], 0, 0);
    if (lfd < 0)
        return die(argv[1], lfd);
    int err = xpoll_local_addr(lfd, name, sizeof name);
    if (err >= 0)
        err = xpoll_new(&loop);
    if (err >= 0) {
        xpoll_backend b = xpoll_get_backend(loop);
        rearm_needed = b != XPOLL_BACKEND_EPOLL && b != XPOLL_BACKEND_KQUEUE;
        err = xpoll_waker_new(loop, WAKER_TOKEN, &waker);
    }
    if (err >= 0)
        err = xpoll_events_new(&events, MAX_EVENTS);
    if (err >= 0)
        err = xpoll_register(loop, lfd, LISTENER_TOKEN, XPOLL_READABLE);
    if (err < 0)
        return die("set-up", err);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("%s\n", name);
    fflush(stdout);

    for (;;) {
        int n = xpoll_wait(loop, events, -1);
        if (n == -EINTR)
            continue; /* the handler's wake is the next event */
        if (n < 0)
            return die("xpoll_wait", n);
        for (int i = 0; i < n; i++) {
            const xpoll_event *ev = xpoll_events_get(events, (size_t)i);
            xpoll_token token = xpoll_event_token(ev);
            if (token == LISTENER_TOKEN) {
                accept_all(lfd);
            } else if (token == WAKER_TOKEN) {
                fprintf(stderr, "xpoll_echo: %lu connections open at exit\n",
                        live);
                return 0;
            } else if (xpoll_event_is_timer(ev)) {
                struct conn *c = (struct conn *)token;
                if (c->fd >= 0)
                    conn_close(c); /* idle for idle_ns */
            } else {
                conn_event((struct conn *)token, ev);
            }
        }
        while (closed != NULL) {
            struct conn *c = closed;
            closed = c->next_closed;
            free(c);
        }
    }
}
