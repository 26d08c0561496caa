/*
 * tcp_echo_server - an edge-triggered TCP echo server.  The example to copy.
 *
 *   tcp_echo_server [ADDR]    ADDR: host:port, [v6]:port, or a bare port
 *                             (127.0.0.1:PORT); default 127.0.0.1:9000
 *
 * Prints the bound address as its first line (so port 0 works from
 * scripts), echoes every byte back, and exits 0 on SIGINT or SIGTERM after
 * closing every connection.
 *
 * What it shows:
 *  - tokens: a connection's token is its address; the listener and the
 *    waker have small constants of their own (tcp_echo.h);
 *  - edge-triggered I/O at the cost of a hand-written epoll loop: one wait,
 *    one read and one write per ping-pong message, no extra read to reach
 *    EAGAIN, no re-registration and no allocation after accept;
 *  - bounded buffering: a client that does not read its echo is not read
 *    from either, so it costs at most BUF_SIZE bytes of memory;
 *  - half-close, reset, EMFILE on accept, and SIGINT/SIGTERM turned into
 *    a waker event by a signal handler.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tcp_echo.h"

#define BUF_SIZE   (64 * 1024) /* per connection: the most a client can cost */
#define MAX_EVENTS 1024

struct conn {
    int fd;          /* -1 once closed */
    bool may_read;   /* input not known to be drained: read before waiting */
    bool fin_hint;   /* an event said read-closed: short reads prove nothing */
    bool eof;        /* read() returned 0: the peer sent FIN */
    bool want_write; /* WRITABLE is among the registered interests */
    size_t start, end; /* pending output is buf[start, end) */
    struct conn *prev, *next;
    unsigned char buf[BUF_SIZE];
};

struct loop {
    xpoll *poll;
    int listen_fd;
    int reserve_fd;   /* an fd kept open to give up on EMFILE (see shed()) */
    bool accept_owed; /* the backlog was not drained: retry when fds free up */
    struct conn *live;
    struct conn *dead; /* closed during this batch of events; freed after it */
    unsigned long accepted;
};

static void list_remove(struct conn **head, struct conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}

static void list_push(struct conn **head, struct conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head != NULL)
        (*head)->prev = c;
    *head = c;
}

/* The memory is freed only after the current batch of events: kqueue
 * reports readable and writable as two events with the same token, and the
 * second one must find a closed connection, not freed memory. */
static void conn_close(struct loop *l, struct conn *c)
{
    /* Deregister first: on epoll a registration lives as long as the open
     * file, which a forked child could keep alive after our close(). */
    xpoll_deregister(l->poll, c->fd);
    close(c->fd);
    c->fd = -1;
    list_remove(&l->live, c);
    list_push(&l->dead, c);
}

/*
 * Move bytes: write pending output, read more input, repeat until neither
 * can progress; then close, or fix the WRITABLE interest.
 *
 * The read rule.  Edge-triggered readiness promises a new event only after
 * the input was drained, which is normally proven by a read failing with
 * EAGAIN.  On a stream socket a read that returns less than it asked for
 * proves it too: the receive queue was empty when the read returned, and
 * any byte arriving later makes a new edge (epoll(7), "read(2) returns a
 * lower number of bytes").  Relying on that saves one failing read() per
 * message.  Its limits:
 *  - stream sockets (and pipes with a single writer) only.  A datagram
 *    socket returns one datagram per read, whatever is queued behind it;
 *    a pipe or FIFO with several writers can be refilled between the
 *    short read and any edge we would be waiting for;
 *  - not once the peer's FIN has been seen (fin_hint): data and FIN can
 *    arrive before one event, the short read returns the data, and no new
 *    edge comes for the EOF still queued - so read on to 0 or EAGAIN;
 *  - a TCP read also stops short at an urgent-data (MSG_OOB) mark; a peer
 *    that sends urgent data only delays its own echo until its next write.
 * Anything other than a stream socket: read until EAGAIN.
 */
/* Accounts for read() having returned `n` into the `room` free bytes at
 * the end of the buffer; false if the connection is beyond saving. */
static inline bool conn_took(struct conn *c, ssize_t n, size_t room)
{
    if (n > 0) {
        c->end += (size_t)n;
        if ((size_t)n < room && !c->fin_hint)
            c->may_read = false; /* a short read: drained (see above) */
    } else if (n == 0) {
        c->eof = true; /* half-close: flush what is pending, then close */
        c->may_read = false;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->may_read = false;
    } else if (errno != EINTR) {
        return false; /* ECONNRESET: an abrupt close */
    }
    return true;
}

/* Accounts for write() of the pending output having returned `n`: 0 after
 * progress, 1 when the socket is full, -1 when the peer is gone (EPIPE,
 * ECONNRESET). */
static inline int conn_sent(struct conn *c, ssize_t n)
{
    if (n > 0) {
        c->start += (size_t)n;
        if (c->start == c->end)
            c->start = c->end = 0;
        return 0;
    }
    if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
        return 1;
    return errno == EINTR ? 0 : -1;
}

static void conn_pump(struct loop *l, struct conn *c)
{
    bool out_blocked = false;

    for (;;) {
        while (c->start < c->end && !out_blocked) {
            ssize_t n = write(c->fd, c->buf + c->start, c->end - c->start);
            int r = conn_sent(c, n);
            if (r < 0)
                goto close;
            out_blocked = r > 0;
        }

        /* Bounded buffering: with the buffer full, stop reading and leave
         * may_read set.  The kernel's buffers then fill and TCP flow control
         * slows the client down.  The input that waited made no new edge,
         * so resuming means reading on our own: once a WRITABLE event has
         * emptied the buffer, this loop reads again because may_read is
         * still set.  (The reregistration below happens to report waiting
         * input again on epoll; nothing in the contract promises it.) */
        if (!c->may_read || c->eof || c->end == BUF_SIZE)
            break;
        size_t room = BUF_SIZE - c->end;
        if (!conn_took(c, read(c->fd, c->buf + c->end, room), room))
            goto close;
    }

    if (c->eof && c->start == c->end)
        goto close;
    /* WRITABLE only while output is pending: otherwise every ACK of ours
     * would wake the loop.  In the steady state nothing changes here. */
    bool want_write = c->start < c->end;
    if (want_write != c->want_write) {
        xpoll_interests in = XPOLL_READABLE | (want_write ? XPOLL_WRITABLE : 0);
        if (xpoll_reregister(l->poll, c->fd, (xpoll_token)c, in) < 0)
            goto close;
        c->want_write = want_write;
    }
    return;
close:
    conn_close(l, c);
}

static void conn_event(struct loop *l, struct conn *c, const xpoll_event *ev)
{
    if (c->fd < 0)
        return; /* closed earlier in this batch */
    if (xpoll_event_is_read_closed(ev))
        c->fin_hint = true;
    if (xpoll_event_is_readable(ev) || xpoll_event_is_read_closed(ev) ||
        xpoll_event_is_error(ev))
        c->may_read = true; /* a read reports a pending error, too */

    /* The ping-pong fast path: nothing pending, one short read brings the
     * whole message (and proves the input drained), one write sends it
     * all.  Then nothing changed - no reregistration, no loop.  Whatever
     * else happened is accounted for and left to the pump.  (With nothing
     * pending, WRITABLE is off already: the pump's rule.) */
    if (c->may_read && c->end == 0 && !c->fin_hint) {
        ssize_t n = read(c->fd, c->buf, BUF_SIZE);
        if (n > 0 && n < BUF_SIZE) {
            c->may_read = false;
            ssize_t sent = write(c->fd, c->buf, (size_t)n);
            if (sent == n)
                return;
            c->end = (size_t)n;
            if (conn_sent(c, sent) < 0)
                goto close;
        } else if (!conn_took(c, n, BUF_SIZE)) {
            goto close;
        }
    }
    conn_pump(l, c);
    return;
close:
    conn_close(l, c);
}

static int conn_open(struct loop *l, int fd)
{
    /* The one allocation per connection; malloc, not calloc: only the
     * bookkeeping needs zeroing, the buffer pages stay untouched until
     * used. */
    struct conn *c = malloc(sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    memset(c, 0, offsetof(struct conn, buf));
    c->fd = fd;
    /* Echo replies are small writes that must go out now, not wait for the
     * ACK of the previous one (Nagle). */
    xpoll_tcp_nodelay(fd, true);
    /* A connection with data already queued is reported at once: register
     * checks the current readiness. */
    int err = xpoll_register(l->poll, fd, (xpoll_token)c, XPOLL_READABLE);
    if (err < 0) {
        free(c);
        return err;
    }
    list_push(&l->live, c);
    l->accepted++;
    return 0;
}

/*
 * EMFILE/ENFILE: the connection stays in the backlog, so the listener stays
 * readable.  A level-triggered loop would spin on it; this edge-triggered
 * one would stall, since no new edge comes until another client connects.
 * Give up the reserve fd, accept and close what is waiting, take the
 * reserve back (libuv's trick).  Those clients see a closed connection
 * instead of a hang.  Returns true if the backlog is now empty.
 *
 * Linux reserves the descriptor before it looks at the backlog, so at the
 * limit accept() says EMFILE even when nothing is waiting: after shedding,
 * do not accept again to "check" - that EMFILE would start another round,
 * forever.
 */
static bool shed(struct loop *l)
{
    if (l->reserve_fd < 0)
        l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (l->reserve_fd < 0)
        return false;
    close(l->reserve_fd);
    int fd;
    while ((fd = xpoll_accept(l->listen_fd)) >= 0)
        close(fd);
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd == -EAGAIN;
}

static void accept_all(struct loop *l)
{
    l->accept_owed = false;
    for (;;) {
        int fd = xpoll_accept(l->listen_fd);
        if (fd >= 0) {
            if (conn_open(l, fd) < 0)
                close(fd);
        } else if (fd == -EAGAIN) {
            return;
        } else if (fd == -EMFILE || fd == -ENFILE) {
            l->accept_owed = !shed(l);
            return;
        } else {
            /* ENOBUFS, ENOMEM: transient; retry when a connection closes. */
            fprintf(stderr, "accept: %s\n", strerror(-fd));
            l->accept_owed = true;
            return;
        }
    }
}

int echo_serve(xpoll *poll, int listen_fd, const atomic_bool *stop,
               unsigned long *accepted)
{
    struct loop l = {.poll = poll, .listen_fd = listen_fd, .reserve_fd = -1};
    xpoll_events *events = NULL;
    int err = xpoll_events_new(&events, MAX_EVENTS);
    if (err == 0)
        err = xpoll_register(poll, listen_fd, ECHO_LISTENER_TOKEN,
                             XPOLL_READABLE);
    if (err < 0) {
        xpoll_events_free(events);
        return err;
    }
    l.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    while (!atomic_load(stop)) {
        int n = xpoll_wait(poll, events, -1);
        if (n == -EINTR)
            continue; /* a signal: the loop condition decides */
        if (n < 0) {
            err = n;
            break;
        }
        for (int i = 0; i < n; i++) {
            const xpoll_event *ev = xpoll_events_get(events, (size_t)i);
            xpoll_token token = xpoll_event_token(ev);
            if (token == ECHO_WAKER_TOKEN)
                continue; /* the loop condition reads *stop */
            if (token == ECHO_LISTENER_TOKEN)
                accept_all(&l);
            else
                conn_event(&l, (struct conn *)token, ev);
        }
        bool freed = l.dead != NULL;
        while (l.dead != NULL) {
            struct conn *c = l.dead;
            l.dead = c->next;
            free(c);
        }
        if (freed && l.accept_owed)
            accept_all(&l);
    }

    while (l.live != NULL)
        conn_close(&l, l.live);
    while (l.dead != NULL) {
        struct conn *c = l.dead;
        l.dead = c->next;
        free(c);
    }
    xpoll_deregister(poll, listen_fd);
    if (l.reserve_fd >= 0)
        close(l.reserve_fd);
    xpoll_events_free(events);
    *accepted = l.accepted;
    return err;
}

#ifndef TCP_ECHO_NO_MAIN

static atomic_bool stop_requested;
static xpoll_waker *waker;

/* SIGINT/SIGTERM: the wake is async-signal-safe (one system call, errno
 * preserved), so the handler hands the stop to the loop directly.  If the
 * signal lands while the loop waits, xpoll_wait returns -EINTR first. */
static void on_stop_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true);
    xpoll_waker_wake(waker);
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Thousands of connections need more descriptors than the usual soft limit
 * of 1024; the hard limit is ours to take. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int die(const char *what, int err)
{
    fprintf(stderr, "tcp_echo_server: %s: %s\n", what, strerror(-err));
    return 1;
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:9000";
    char name[XPOLL_ADDRSTRLEN];
    xpoll *poll = NULL;
    unsigned long accepted = 0;

    if (argc > 2) {
        fprintf(stderr, "usage: %s [ADDR]\n", argv[0]);
        return 2;
    }
    /* A write to a client that has gone must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    int listen_fd = xpoll_tcp_listen(addr, 0, 0);
    if (listen_fd < 0)
        return die(addr, listen_fd);
    int err = xpoll_local_addr(listen_fd, name, sizeof name);
    if (err < 0)
        return die("local address", err);
    if ((err = xpoll_new(&poll)) < 0)
        return die("xpoll_new", err);
    if ((err = xpoll_waker_new(poll, ECHO_WAKER_TOKEN, &waker)) < 0)
        return die("xpoll_waker_new", err);

    catch_stop_signals(); /* only once the waker exists */

    printf("%s\n", name);
    fflush(stdout);

    err = echo_serve(poll, listen_fd, &stop_requested, &accepted);
    signal(SIGINT, SIG_DFL); /* no handler may touch the waker once freed */
    signal(SIGTERM, SIG_DFL);
    xpoll_waker_free(waker);
    xpoll_free(poll);
    close(listen_fd);
    if (err < 0)
        return die("xpoll_wait", err);
    fprintf(stderr, "tcp_echo_server: %lu connections served\n", accepted);
    return 0;
}

#endif /* TCP_ECHO_NO_MAIN */
