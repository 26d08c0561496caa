/*
 * Shared by the fault and load tests (tests/stress/): the load knob, the
 * descriptor limit, exact descriptor counts, and a minimal edge-triggered
 * echo server loop on xpoll that the tests drive step by step.
 *
 * The echo loop is the tests' own, not examples/tcp_echo_server.c: it
 * records what happened (accepted, closed, errors, bytes, the most
 * connections alive at once) so the tests can assert on it, and it never
 * asserts itself (it may run on a helper thread).
 */
#ifndef XPOLL_TESTS_STRESS_H
#define XPOLL_TESTS_STRESS_H

#include "support_posix.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* XPOLL_STRESS_SCALE (percent, default 100): `n` scaled, at least `min`.
 * tests/CMakeLists.txt sets 10 under TSan and valgrind. */
int stress_scaled(int n, int min);

/* Raise the soft RLIMIT_NOFILE to at least `want` (up to the hard limit);
 * returns the soft limit now in force. */
long stress_raise_nofile(long want);

/* ---- the echo loop ------------------------------------------------------- */

#define ECHO_LISTENER ((xpoll_token)-1)
#define ECHO_BUF      4096

struct echo_conn {
    int fd;
    bool may_read;        /* not known drained: read before trusting edges */
    bool eof;             /* the peer's FIN was read */
    bool want_write;      /* WRITABLE is registered */
    bool queued;          /* on the revisit list */
    unsigned long events; /* events delivered for it */
    size_t start, end;    /* pending output buf[start, end) */
    char buf[ECHO_BUF];
};

struct echo_stats {
    unsigned long accepted, closed;
    unsigned long read_errors, write_errors, accept_errors, emfile;
    unsigned long events, waits, eintr;
    unsigned long long bytes;
    int live, max_live;
};

struct echo_server {
    xpoll *poll;
    xpoll_events *events;
    int listen_fd;
    struct echo_conn **conns; /* indexed by fd */
    int nconns_cap;
    int *revisit; /* fds with unread input (fairness cap hit) */
    int nrevisit;
    xpoll_token stop_token; /* an extra token that ends echo_run (0: none) */
    bool stop_seen;
    int first_error; /* the first unexpected failure (negative) */
    struct echo_stats st;
};

/* A loopback listener (port 0) served by a new poll with `capacity` events
 * per wait.  Returns 0 or a negative errno; the address is in addr. */
int echo_init(struct echo_server *s, size_t capacity, char *addr, size_t len);
/* One wait (timeout as xpoll_wait; 0 if input is left to revisit) and the
 * handling of its events.  Returns the wait's result. */
int echo_pump(struct echo_server *s, int64_t timeout_ns);
/* Pumps until `done(arg)` or `timeout_ns` passes; returns done(arg). */
bool echo_run_until(struct echo_server *s, bool (*done)(void *), void *arg,
                    int64_t timeout_ns);
/* Deregisters and closes every connection and the listener, frees all. */
void echo_fini(struct echo_server *s);

#endif /* XPOLL_TESTS_STRESS_H */
