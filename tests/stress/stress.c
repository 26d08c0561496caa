#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int stress_scaled(int n, int min)
{
    const char *v = getenv("XPOLL_STRESS_SCALE");
    long pct = v != NULL && v[0] != '\0' ? strtol(v, NULL, 10) : 100;
    if (pct <= 0)
        pct = 100;
    long r = (long)n * pct / 100;
    return r < min ? min : (int)r;
}

long stress_raise_nofile(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if ((long)rl.rlim_cur < want) {
        rl.rlim_cur = (rlim_t)want < rl.rlim_max ? (rlim_t)want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            return -1;
    }
    return (long)rl.rlim_cur;
}

/* ---- the echo loop ----------------------------------------------------- */

/* The loop does its I/O through the helpers of <xpoll/net.h>
 * (xpoll_read, xpoll_write, xpoll_accept_on), which retry EINTR and
 * re-arm the direction on EAGAIN: the re-arm rule every program follows,
 * free on epoll and kqueue and required on the poll(2) backend. */

#define note_error(s, err) note_error_at(s, err, __LINE__)

static void note_error_at(struct echo_server *s, int err, int line)
{
    if (s->first_error == 0) {
        s->first_error = err;
        fprintf(stderr, "echo loop: unexpected %s (stress.c:%d)\n",
                strerror(-err), line);
    }
}

static int set_interest(struct echo_server *s, struct echo_conn *c, bool write)
{
    if (c->want_write == write)
        return 0;
    int rc = xpoll_reregister(s->poll, c->fd, (xpoll_token)c->fd,
                              XPOLL_READABLE | (write ? XPOLL_WRITABLE : 0));
    if (rc < 0)
        note_error(s, rc);
    else
        c->want_write = write;
    return rc;
}

static void conn_close(struct echo_server *s, struct echo_conn *c)
{
    int rc = xpoll_deregister(s->poll, c->fd); /* always before close() */
    if (rc < 0)
        note_error(s, rc);
    close(c->fd);
    s->conns[c->fd] = NULL;
    free(c);
    s->st.closed++;
    s->st.live--;
}

/* Write what is pending.  Returns 0 (all out), 1 (blocked), -1 (closed). */
static int flush(struct echo_server *s, struct echo_conn *c)
{
    while (c->start < c->end) {
        ssize_t n =
            xpoll_write(s->poll, c->fd, c->buf + c->start, c->end - c->start);
        if (n > 0) {
            c->start += (size_t)n;
            s->st.bytes += (unsigned long long)n;
            continue;
        }
        if (n == -EAGAIN) /* xpoll_write re-armed WRITABLE */
            return set_interest(s, c, true) < 0 ? -1 : 1;
        s->st.write_errors++; /* EPIPE, ECONNRESET: the peer is gone */
        conn_close(s, c);
        return -1;
    }
    c->start = c->end = 0;
    if (c->eof) { /* everything echoed after the peer's FIN: done */
        conn_close(s, c);
        return -1;
    }
    return set_interest(s, c, false) < 0 ? -1 : 0;
}

static void revisit_later(struct echo_server *s, struct echo_conn *c)
{
    if (!c->queued) {
        c->queued = true;
        s->revisit[s->nrevisit++] = c->fd;
    }
}

/* Read and echo, at most 16 reads per turn (a busy client must not starve
 * the others); input left unread is remembered, since no new edge comes
 * for it. */
static void serve(struct echo_server *s, struct echo_conn *c)
{
    c->may_read = true; /* until a read says EAGAIN or EOF */
    for (int turn = 0; turn < 16; turn++) {
        if (c->end > 0) { /* back-pressure: echo before reading more */
            int rc = flush(s, c);
            if (rc != 0)
                return; /* closed, or blocked: WRITABLE resumes us */
        }
        ssize_t n = xpoll_read(s->poll, c->fd, c->buf, sizeof c->buf);
        if (n > 0) {
            c->end = (size_t)n;
            continue;
        }
        if (n == 0) {
            c->eof = true;
            c->may_read = false;
            flush(s, c); /* closes once the echo is out */
            return;
        }
        if (n == -EAGAIN) { /* xpoll_read re-armed READABLE */
            c->may_read = false;
            return;
        }
        s->st.read_errors++; /* ECONNRESET */
        conn_close(s, c);
        return;
    }
    revisit_later(s, c);
}

static void accept_all(struct echo_server *s)
{
    for (;;) {
        int fd = xpoll_accept_on(s->poll, s->listen_fd);
        if (fd == -EAGAIN) /* READABLE re-armed */
            return;
        if (fd < 0) {
            s->st.accept_errors++;
            if (fd == -EMFILE || fd == -ENFILE)
                s->st.emfile++;
            else
                note_error(s, fd);
            return;
        }
        if (fd >= s->nconns_cap) {
            note_error(s, -ERANGE);
            close(fd);
            return;
        }
        struct echo_conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            note_error(s, -ENOMEM);
            close(fd);
            return;
        }
        c->fd = fd;
        c->may_read = true;
        int rc = xpoll_register(s->poll, fd, (xpoll_token)fd, XPOLL_READABLE);
        if (rc < 0) {
            note_error(s, rc);
            free(c);
            close(fd);
            return;
        }
        s->conns[fd] = c;
        s->st.accepted++;
        if (++s->st.live > s->st.max_live)
            s->st.max_live = s->st.live;
        /* Data may have arrived before the registration: the ADD reports it,
         * but serving now costs nothing and saves a wait. */
    }
}

int echo_init(struct echo_server *s, size_t capacity, char *addr, size_t len)
{
    memset(s, 0, sizeof *s);
    s->listen_fd = -1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -errno;
    s->nconns_cap = (int)rl.rlim_cur;
    s->conns = calloc((size_t)s->nconns_cap, sizeof *s->conns);
    s->revisit = calloc((size_t)s->nconns_cap, sizeof *s->revisit);
    if (s->conns == NULL || s->revisit == NULL)
        return -ENOMEM;
    int rc = xpoll_new(&s->poll);
    if (rc == 0)
        rc = xpoll_events_new(&s->events, capacity);
    if (rc == 0) {
        s->listen_fd = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
        rc = s->listen_fd < 0 ? s->listen_fd : 0;
    }
    if (rc == 0)
        rc = xpoll_register(s->poll, s->listen_fd, ECHO_LISTENER,
                            XPOLL_READABLE);
    if (rc == 0 && addr != NULL) {
        int n = xpoll_local_addr(s->listen_fd, addr, len);
        rc = n < 0 ? n : 0;
    }
    return rc;
}

int echo_pump(struct echo_server *s, int64_t timeout_ns)
{
    int n = xpoll_wait(s->poll, s->events, s->nrevisit > 0 ? 0 : timeout_ns);
    s->st.waits++;
    if (n == -EINTR) {
        s->st.eintr++;
        return n;
    }
    if (n < 0) {
        note_error(s, n);
        return n;
    }
    for (int i = 0; i < n; i++) {
        const xpoll_event *ev = xpoll_events_get(s->events, (size_t)i);
        xpoll_token t = xpoll_event_token(ev);
        s->st.events++;
        if (t == ECHO_LISTENER) {
            accept_all(s);
            continue;
        }
        if (s->stop_token != 0 && t == s->stop_token) {
            s->stop_seen = true;
            continue;
        }
        /* A token of a connection closed earlier in this batch (kqueue
         * splits read and write): look it up, never trust it. */
        if (t >= (xpoll_token)s->nconns_cap || s->conns[t] == NULL)
            continue;
        struct echo_conn *c = s->conns[t];
        c->events++;
        if (xpoll_event_is_writable(ev) && c->end > 0 && flush(s, c) != 0)
            continue;
        if (xpoll_event_is_readable(ev) || xpoll_event_is_read_closed(ev) ||
            xpoll_event_is_error(ev) || c->may_read)
            serve(s, c);
    }
    /* Input left over from earlier turns, oldest first. */
    int pending = s->nrevisit;
    for (int i = 0; i < pending; i++) {
        int fd = s->revisit[i];
        struct echo_conn *c = s->conns[fd];
        if (c != NULL) {
            c->queued = false;
            serve(s, c); /* flushes what the last turn read, then reads */
        }
    }
    memmove(s->revisit, s->revisit + pending,
            (size_t)(s->nrevisit - pending) * sizeof *s->revisit);
    s->nrevisit -= pending;
    return n;
}

bool echo_run_until(struct echo_server *s, bool (*done)(void *), void *arg,
                    int64_t timeout_ns)
{
    int64_t deadline = now_ns() + timeout_ns;
    while (!done(arg)) {
        int64_t left = deadline - now_ns();
        if (left <= 0)
            return done(arg);
        echo_pump(s, left < 10 * MS ? left : 10 * MS);
    }
    return true;
}

void echo_fini(struct echo_server *s)
{
    for (int fd = 0; s->conns != NULL && fd < s->nconns_cap; fd++)
        if (s->conns[fd] != NULL)
            conn_close(s, s->conns[fd]);
    if (s->listen_fd >= 0) {
        xpoll_deregister(s->poll, s->listen_fd);
        close(s->listen_fd);
    }
    xpoll_events_free(s->events);
    xpoll_free(s->poll);
    free(s->conns);
    free(s->revisit);
    memset(s, 0, sizeof *s);
    s->listen_fd = -1;
}
