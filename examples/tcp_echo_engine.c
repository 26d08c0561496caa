/*
 * tcp_echo_engine - an edge-triggered TCP echo loop on xpoll.  The code to
 * copy: tcp_echo_server runs it on one thread, tcp_echo_threads on several.
 *
 * Read it in this order:
 *  - echo_serve(), at the bottom: the loop - wait, dispatch each event by
 *    its token, free what was closed, repeat until told to stop;
 *  - accept_all() and shed(): new connections, and EMFILE on accept;
 *  - conn_event() and conn_pump(): moving the bytes of one connection.
 *
 * What it shows:
 *  - tokens: a connection's token is its address; the listener and the
 *    waker have small constants of their own (tcp_echo_engine.h);
 *  - edge-triggered reads and writes: after an event, read until the input
 *    is drained and write until the output is sent or the socket is full;
 *    ask for WRITABLE only while output waits;
 *  - bounded buffering: a client that does not read its echo is not read
 *    from either, so it costs at most BUF_SIZE bytes of memory;
 *  - half-close (echo everything, then close), resets, EMFILE on accept,
 *    and a clean shutdown that closes and frees every connection;
 *  - an idle timeout, if asked for: one xpoll_timer per connection under
 *    the connection's own token, set at accept and set again on every
 *    read; its expiry closes the connection (conn_event());
 *  - the re-arm rule: every read, write and accept goes through the I/O
 *    helpers of <xpoll/net.h> (xpoll_read, xpoll_write, xpoll_accept_on),
 *    which tell the poll when a direction was drained (-EAGAIN, or a short
 *    transfer).  epoll and kqueue need not be told, the poll(2) backend
 *    must be, so with the helpers this loop runs unchanged on every
 *    backend (XPOLL_BACKEND=poll).
 *
 * In the steady state a ping-pong message costs one read() and one write()
 * and a share of one xpoll_wait(): no extra read to reach EAGAIN (see the
 * read rule at conn_pump()), no re-registration, no allocation.
 */
#define _XOPEN_SOURCE 700

#include "tcp_echo_engine.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

#define BUF_SIZE   (64 * 1024) /* per connection: the most a client can cost */
#define MAX_EVENTS 1024

struct conn {
    xpoll_socket fd; /* -1 once closed */
    bool may_read;   /* input not known to be drained: read before waiting */
    bool fin_seen;   /* an event said read-closed: short reads prove nothing */
    bool eof;        /* read() returned 0: the peer sent FIN */
    bool want_write; /* WRITABLE is among the registered interests */
    xpoll_timer *idle;        /* NULL without an idle timeout */
    unsigned long read_in;    /* the batch (server.batch) of the last read */
    size_t start, end;        /* pending output is buf[start, end) */
    struct conn *prev, *next; /* in the server's live or closed list */
    unsigned char buf[BUF_SIZE];
};

struct server {
    xpoll *poll;
    xpoll_socket listen_fd;
    int spare_fd;        /* an fd kept open to give up on EMFILE (shed()) */
    bool accept_owed;    /* the backlog was not drained: retry when fds free */
    struct conn *live;   /* open connections */
    struct conn *closed; /* closed during this batch of events; freed after */
    unsigned long accepted;
    int64_t idle_ns;     /* the idle timeout; 0: none */
    unsigned long batch; /* counts the batches of events (waits) */
};

static void list_push(struct conn **head, struct conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head != NULL)
        (*head)->prev = c;
    *head = c;
}

static void list_remove(struct conn **head, struct conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}

/* The memory is freed only after the current batch of events (free_closed):
 * kqueue reports readable and writable as two events with the same token,
 * and the second one must find a closed connection, not freed memory. */
static void conn_close(struct server *s, struct conn *c)
{
    /* Deregister first: on epoll a registration lives as long as the open
     * file, which a forked child could keep alive after our close(). */
    xpoll_deregister(s->poll, c->fd);
    xpoll_close(c->fd);
    c->fd = -1;
    /* Freeing cancels it; an expiry already in this batch finds fd -1. */
    xpoll_timer_free(c->idle);
    list_remove(&s->live, c);
    list_push(&s->closed, c);
}

static void free_closed(struct server *s)
{
    while (s->closed != NULL) {
        struct conn *c = s->closed;
        s->closed = c->next;
        free(c);
    }
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
 * message; nginx does the same on epoll (ngx_unix_recv() in
 * src/os/unix/ngx_recv.c clears its ready flag after a short recv unless
 * EPOLLRDHUP reported a pending FIN).  Its limits:
 *  - stream sockets (and pipes with a single writer) only.  A datagram
 *    socket returns one datagram per read, whatever is queued behind it;
 *    a pipe or FIFO with several writers can be refilled between the
 *    short read and any edge we would be waiting for;
 *  - not once the peer's FIN has been seen (fin_seen): data and FIN can
 *    arrive before one event, the short read returns the data, and no new
 *    edge comes for the EOF still queued - so read on to 0 or EAGAIN;
 *  - a TCP read also stops short at an urgent-data (MSG_OOB) mark; a peer
 *    that sends urgent data only delays its own echo until its next write.
 * Anything other than a stream socket: read until EAGAIN.
 */
static void conn_pump(struct server *s, struct conn *c)
{
    bool out_full = false; /* write() said EAGAIN: wait for WRITABLE */

    for (;;) {
        /* Write what is pending, until it is all sent or the socket is
         * full. */
        while (c->start < c->end && !out_full) {
            /* xpoll_write retries EINTR and, on -EAGAIN, re-arms WRITABLE:
             * on the poll backend no WRITABLE event would come otherwise. */
            ssize_t n = xpoll_write(s->poll, c->fd, c->buf + c->start,
                                    c->end - c->start);
            if (n > 0)
                c->start += (size_t)n;
            else if (n == 0 || n == -EAGAIN)
                out_full = true;
            else
                goto close; /* EPIPE, ECONNRESET: the peer is gone */
        }
        if (c->start == c->end)
            c->start = c->end = 0; /* all sent: the whole buffer is free */

        /* Bounded buffering: with the buffer full, stop reading and leave
         * may_read set.  The kernel's buffers then fill and TCP flow control
         * slows the client down.  The input that waited made no new edge,
         * so resuming means reading on our own: once a WRITABLE event has
         * emptied the buffer, this loop reads again because may_read is
         * still set. */
        size_t room = BUF_SIZE - c->end;
        if (!c->may_read || c->eof || room == 0)
            break;
        /* xpoll_read re-arms READABLE after -EAGAIN and after a short
         * read, the two ways this loop stops reading until the next event
         * (the poll backend reports a direction once, then waits for the
         * re-arm).  Stopping on a full buffer re-arms nothing, and needs
         * nothing: this loop resumes reading by itself (may_read). */
        ssize_t n = xpoll_read(s->poll, c->fd, c->buf + c->end, room);
        if (n > 0) {
            c->end += (size_t)n;
            if ((size_t)n < room && !c->fin_seen)
                c->may_read = false; /* a short read: drained (see above) */
            if (c->idle != NULL) {   /* not idle: the timeout starts again */
                xpoll_timer_set(c->idle, s->idle_ns, 0);
                c->read_in = s->batch;
            }
        } else if (n == 0) {
            c->eof = true; /* half-close: flush what is pending, then close */
        } else if (n == -EAGAIN) {
            c->may_read = false;
        } else {
            goto close; /* ECONNRESET: an abrupt close */
        }
    }

    if (c->eof && c->start == c->end)
        goto close;
    /* WRITABLE only while output is pending: otherwise every ACK that
     * frees room in the socket would wake the loop.  In the steady state
     * nothing changes here. */
    bool want_write = c->start < c->end;
    if (want_write != c->want_write) {
        xpoll_interests in = XPOLL_READABLE | (want_write ? XPOLL_WRITABLE : 0);
        if (xpoll_reregister(s->poll, c->fd, (xpoll_token)c, in) < 0)
            goto close;
        c->want_write = want_write;
    }
    return;
close:
    conn_close(s, c);
}

static void conn_event(struct server *s, struct conn *c, const xpoll_event *ev)
{
    if (c->fd < 0)
        return; /* closed by an earlier event of this batch */
    if (xpoll_event_is_timer(ev)) {
        /* Idle: nothing read since the timer was set.  Unless a read
         * earlier in this batch set it again: a set withdraws only the
         * expiries not yet handed out, and this one already was
         * (<xpoll/timer.h>). */
        if (c->read_in != s->batch)
            conn_close(s, c);
        return;
    }
    if (xpoll_event_is_read_closed(ev))
        c->fin_seen = true;
    if (xpoll_event_is_readable(ev) || xpoll_event_is_read_closed(ev) ||
        xpoll_event_is_error(ev))
        c->may_read = true; /* a read reports a pending error, too */
    /* A WRITABLE event needs no flag: the pump writes whatever is pending. */
    conn_pump(s, c);
}

static int conn_open(struct server *s, xpoll_socket fd)
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
    /* The idle timer shares the connection's token: xpoll_event_is_timer()
     * tells its expiry from the socket's readiness. */
    int err = 0;
    if (s->idle_ns > 0 &&
        (err = xpoll_timer_new(s->poll, (xpoll_token)c, &c->idle)) == 0)
        xpoll_timer_set(c->idle, s->idle_ns, 0);
    /* A connection with data already queued is reported at once: register
     * checks the current readiness. */
    if (err == 0)
        err = xpoll_register(s->poll, fd, (xpoll_token)c, XPOLL_READABLE);
    if (err < 0) {
        xpoll_timer_free(c->idle);
        free(c);
        return err;
    }
    list_push(&s->live, c);
    s->accepted++;
    return 0;
}

/*
 * EMFILE/ENFILE: the connection stays in the backlog, so the listener stays
 * readable.  A level-triggered loop would spin on it; this edge-triggered
 * one would stall, since no new edge comes until another client connects.
 * Give up the spare fd, accept and close what is waiting, take the spare
 * back (libuv's uv__emfile_trick() in src/unix/stream.c).  Those clients
 * see a closed connection instead of a hang.  Returns true if the backlog
 * is now empty.  (Where there is no spare, on Windows, it returns false:
 * accept is retried once a connection closes.)
 *
 * Linux reserves the descriptor before it looks at the backlog, so at the
 * limit accept() says EMFILE even when nothing is waiting: after shedding,
 * do not accept again to "check" - that EMFILE would start another round,
 * forever.
 *
 * The descriptor limit is the process's: with several threads (as in
 * tcp_echo_threads) another one can take the freed descriptor first, as
 * libuv's comment on the trick warns.  Then the backlog is not emptied,
 * and accept is retried once this loop closes a connection.
 */
static bool shed(struct server *s)
{
    if (s->spare_fd < 0)
        s->spare_fd = platform_spare_open();
    if (s->spare_fd < 0)
        return false;
    platform_spare_close(s->spare_fd);
    xpoll_socket fd;
    while ((fd = xpoll_accept_on(s->poll, s->listen_fd)) >= 0)
        xpoll_close(fd);
    s->spare_fd = platform_spare_open();
    return fd == -EAGAIN;
}

/* Accept until the backlog is empty (edge-triggered: no new event for the
 * connections left waiting).  xpoll_accept_on re-arms the listener when it
 * returns -EAGAIN; on the other errors it re-arms nothing, so on the poll
 * backend the listener stays quiet until accept_owed retries it, instead
 * of reporting the backlog that could not be taken at every wait. */
static void accept_all(struct server *s)
{
    s->accept_owed = false;
    for (;;) {
        xpoll_socket fd = xpoll_accept_on(s->poll, s->listen_fd);
        if (fd >= 0) {
            if (conn_open(s, fd) < 0)
                xpoll_close(fd);
        } else if (fd == -EAGAIN) {
            return;
        } else if (fd == -EMFILE || fd == -ENFILE) {
            s->accept_owed = !shed(s);
            return;
        } else {
            /* ENOBUFS, ENOMEM: transient; retry when a connection closes. */
            fprintf(stderr, "accept: %s\n", strerror((int)-fd));
            s->accept_owed = true;
            return;
        }
    }
}

int echo_serve(xpoll *poll, xpoll_socket listen_fd, int64_t idle_ns,
               const atomic_bool *stop, unsigned long *accepted)
{
    struct server s = {.poll = poll,
                       .listen_fd = listen_fd,
                       .spare_fd = -1,
                       .idle_ns = idle_ns};
    xpoll_events *events = NULL;
    int err = xpoll_events_new(&events, MAX_EVENTS);
    if (err == 0)
        err = xpoll_register(poll, listen_fd, ECHO_LISTENER_TOKEN,
                             XPOLL_READABLE);
    if (err < 0) {
        xpoll_events_free(events);
        return err;
    }
    s.spare_fd = platform_spare_open();

    while (!atomic_load(stop)) {
        int n = xpoll_wait(poll, events, -1);
        if (n == -EINTR)
            continue; /* a signal: the loop condition decides */
        if (n < 0) {
            err = n;
            break;
        }
        s.batch++;
        for (int i = 0; i < n; i++) {
            const xpoll_event *ev = xpoll_events_get(events, (size_t)i);
            xpoll_token token = xpoll_event_token(ev);
            if (token == ECHO_WAKER_TOKEN)
                continue; /* the loop condition reads *stop */
            if (token == ECHO_LISTENER_TOKEN)
                accept_all(&s);
            else
                conn_event(&s, (struct conn *)token, ev);
        }
        /* Free what this batch closed.  The descriptors given back let a
         * backlog that EMFILE left be accepted now. */
        bool any_closed = s.closed != NULL;
        free_closed(&s);
        if (any_closed && s.accept_owed)
            accept_all(&s);
    }

    while (s.live != NULL)
        conn_close(&s, s.live);
    free_closed(&s);
    xpoll_deregister(poll, listen_fd);
    if (s.spare_fd >= 0)
        platform_spare_close(s.spare_fd);
    xpoll_events_free(events);
    *accepted = s.accepted;
    return err;
}
