/*
 * Test support shared by every test binary: descriptor pairs of every
 * kind, draining/filling, waits that merge split events, a thread's proof
 * that another one is blocked in its wait, descriptor counts, and the
 * runner.  Portable: what needs more than POSIX comes from
 * platform/platform.h, answered per system.
 *
 * Every test binary runs once per backend; the backend comes from the
 * XPOLL_BACKEND environment variable that ctest sets, so tests create
 * polls with xpoll_new() and ask xpoll_get_backend() where the contract
 * lets backends differ.
 */
#ifndef XPOLL_TESTS_SUPPORT_H
#define XPOLL_TESTS_SUPPORT_H

#include <setjmp.h> /* cmocka needs these first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "platform/platform.h"
#include "xpoll.h"

#define MS  (INT64_C(1000000))
#define SEC (INT64_C(1000000000))

/* Kinds of descriptor pair the edge-triggered tests run on.  fds[0] is
 * the end under test, fds[1] its peer (the writer). */
enum pair_kind {
    PAIR_TCP,
    PAIR_UDP,
    PAIR_UNIX_STREAM,
    PAIR_UNIX_DGRAM,
    PAIR_PIPE,    /* fds[0] read end, fds[1] write end */
    PAIR_EVENTFD, /* one eventfd in both slots (fds[1] == fds[0]); the test
                     skips where the system has none */
    PAIR_KIND_COUNT
};

const char *pair_name(enum pair_kind kind);
/* Non-blocking, close-on-exec pair of `kind`; fails the test on error. */
void pair_open(enum pair_kind kind, int fds[2]);
void pair_close(enum pair_kind kind, int fds[2]);
/* A connected TCP pair over 127.0.0.1 (both non-blocking). */
void tcp_pair(int fds[2]);
/* A listener on 127.0.0.1:0 and its port. */
int tcp_listener(uint16_t *port);

/* Make `fd` readable with one message (one byte, one datagram, +1). */
void put(enum pair_kind kind, int fds[2]);
/* Read from fds[0] until EAGAIN; returns the number of reads that
 * returned data (the eventfd read resets its counter). */
int drain(int fd);
/* Write to `fd` until EAGAIN; returns bytes written. */
size_t fill(int fd);
void set_nonblock(int fd);
/* getsockopt(SO_ERROR): the pending error (cleared by reading it). */
int so_error(int fd);
/* Waits (HANG_NS at most) until `fd` reports `events` to poll(2). */
void wait_fd(int fd, short events);
/* xpoll_accept once the listener polls readable: a connection is then in
 * its backlog (accept(2)). */
int accept_wait(int listen_fd);
/* Sends `msg` (64 bytes at most) from `from` and checks that `to`
 * receives it intact. */
void assert_flows(int from, int to, const char *msg);
/* A Unix socket path for this process and `tag` in $TMPDIR (or /tmp),
 * with no file there. */
void unix_tmp_path(char *buf, size_t len, const char *tag);
/* A descriptor number that is closed (both ends of a new pipe, closed
 * again): the calls under test must find nothing open there. */
int closed_fd(void);

/* What one wait reported for one token, merged over split events. */
struct seen {
    int events;     /* events carrying the token */
    uint32_t flags; /* union of SEEN_* below */
};
enum {
    SEEN_READABLE = 1u << 0,
    SEEN_WRITABLE = 1u << 1,
    SEEN_ERROR = 1u << 2,
    SEEN_READ_CLOSED = 1u << 3,
    SEEN_WRITE_CLOSED = 1u << 4,
    SEEN_PRIORITY = 1u << 5,
};
uint32_t event_flags(const xpoll_event *event);

/* One xpoll_wait; returns its result and merges what `token` got. */
int wait_once(xpoll *poll, xpoll_events *events, int64_t timeout_ns,
              xpoll_token token, struct seen *seen);
/* Waits (timeout 100 ms each, up to 1 s) until `token` shows up, then one
 * more wait of `settle_ns` to collect split events (kqueue); returns what
 * the token got.  Fails the test if no event arrives. */
struct seen expect_event(xpoll *poll, xpoll_events *events, xpoll_token token);
/* One xpoll_wait of `timeout_ns` (asserted not to fail); the tokens of
 * its first `max` events go to `out`.  Returns the number of events. */
int wait_tokens(xpoll *poll, xpoll_events *events, int64_t timeout_ns,
                xpoll_token *out, int max);
/* Whether `token` is among the `n` tokens of `tokens`. */
bool has_token(const xpoll_token *tokens, int n, xpoll_token token);
/* Asserts that a wait of `timeout_ns` reports nothing for any token. */
void expect_no_event(xpoll *poll, xpoll_events *events, int64_t timeout_ns);

/* Asserts that `poll` (which has no waker) accepts a new one and that it
 * wakes the next wait with `token`; frees it again. */
void expect_new_waker_works(xpoll *poll, xpoll_events *events,
                            xpoll_token token);

int64_t now_ns(void);
void sleep_ms(int ms);

/* A deadline that only catches a hang: a test waits this long for a
 * condition that a working library reaches in milliseconds, so load on the
 * machine (valgrind, a busy shared VM) never decides a result. */
#define HANG_NS (30 * SEC)

/* Polls platform_blocked_in_wait() until thread `tid` of this process is
 * asleep in the system call in which xpoll_wait blocks (on Linux: epoll's
 * or poll's waits, which the kqueue emulation uses too).  Such a call
 * sleeps only after it found nothing ready, on wait queues that any later
 * readiness wakes: so 0 proves the wait was blocked and will see what
 * happens next.  Returns 0, -ETIMEDOUT once `timeout_ns` passed, -ENOTSUP
 * where the system cannot tell, or another -errno if the thread's state
 * cannot be read.  Asserts nothing, so any thread may call it. */
int wait_until_blocked_in_wait(uint64_t tid, int64_t timeout_ns);

/* Runs act(arg) on a new thread once the calling thread is blocked in
 * xpoll_wait (proven by wait_until_blocked_in_wait, within HANG_NS; act
 * runs then in any case, so that the wait cannot hang).  Usage: start,
 * call xpoll_wait, finish.  finish joins the thread and fails the test
 * unless the waiter was proven blocked before act ran; where the system
 * cannot tell, it skips the test, which then has proven nothing. */
struct blocked_action {
    void (*act)(void *arg);
    void *arg;
    uint64_t waiter;
    int proof;
    pthread_t thread;
};
void blocked_action_start(struct blocked_action *b, void (*act)(void *arg),
                          void *arg);
void blocked_action_finish(struct blocked_action *b);

/* Count of this process's open descriptors, however many (skips the test
 * where the system cannot count them). */
int open_fd_count(void);
/* Descriptors 0 to 4095 opened since `before` (a snapshot from
 * fd_snapshot). */
struct fd_set_snapshot {
    unsigned char open[4096];
};
void fd_snapshot(struct fd_set_snapshot *snap);
int fds_opened_since(const struct fd_set_snapshot *before, int *out, int max);

/* The backend under test (from a throwaway poll). */
xpoll_backend test_backend(void);
bool on_kqueue(void);

/* Ignore SIGPIPE and run the group; every main() calls this. */
int run_group(const char *name, const struct CMUnitTest *tests, size_t count,
              CMFixtureFunction setup, CMFixtureFunction teardown);
#define RUN(tests, setup, teardown)                                            \
    run_group(__FILE__, tests, sizeof(tests) / sizeof(tests[0]), setup,        \
              teardown)

/* A fixture every test can use: a poll and a 64-event buffer. */
struct fixture {
    xpoll *poll;
    xpoll_events *events;
};
int fixture_setup(void **state);
int fixture_teardown(void **state);

#endif /* XPOLL_TESTS_SUPPORT_H */
