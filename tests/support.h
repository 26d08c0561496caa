/*
 * Test support shared by every test binary: descriptor pairs, draining and
 * filling, waits that merge split events, a thread's proof that another
 * one is blocked in its wait, descriptor counts, and the runner.  Portable:
 * support.c holds what is the same everywhere; what needs POSIX or Winsock
 * comes from support_posix.c or support_windows.c (one of them is built),
 * and what needs more than either from platform/platform.h, answered per
 * system.  What exists on POSIX systems only is declared in
 * support_posix.h, which only the POSIX-only test files include.
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

/* xpoll.h first: on Windows it brings <winsock2.h>, which must come
 * before <windows.h> (mingw-w64's pthread.h includes that). */
#include "xpoll.h"

#include <cmocka.h>
#include <pthread.h> /* Windows: mingw-w64's winpthreads */
#include <stdbool.h>
#include <sys/types.h>

#include "platform/platform.h"

#define MS  (INT64_C(1000000))
#define SEC (INT64_C(1000000000))

/* Kinds of descriptor pair the edge-triggered tests run on.  fds[0] is
 * the end under test, fds[1] its peer (the writer).  Windows has TCP and
 * UDP only: AFD polls sockets, and Wine 8.0 has no AF_UNIX; the tests of
 * the other kinds are in files built for POSIX systems only. */
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

/* The kind a portable test uses where any pair of that sort will do: on
 * POSIX systems the one the suite has always used there, on Windows the
 * socket that behaves alike.
 *  - pair_simple: one end reads, the other writes (a pipe; TCP);
 *  - pair_stream: a connected stream socket (Unix; TCP);
 *  - pair_dgram:  a connected datagram socket (Unix; UDP). */
extern const enum pair_kind pair_simple, pair_stream, pair_dgram;

const char *pair_name(enum pair_kind kind);
/* Non-blocking, close-on-exec pair of `kind`; fails the test on error
 * (also for a kind the system does not have). */
void pair_open(enum pair_kind kind, xpoll_socket fds[2]);
void pair_close(enum pair_kind kind, xpoll_socket fds[2]);
/* A connected TCP pair over 127.0.0.1 (both non-blocking). */
void tcp_pair(xpoll_socket fds[2]);
/* A listener on 127.0.0.1:0 and its port. */
xpoll_socket tcp_listener(uint16_t *port);
/* A new non-blocking TCP socket, not connected. */
xpoll_socket tcp_socket(void);
/* connect() to 127.0.0.1:`port`: 0 once connected, else the errno value
 * (EINPROGRESS while it goes on, whatever the system calls that). */
int tcp_connect(xpoll_socket fd, uint16_t port);
/* getsockopt(IPPROTO_TCP, TCP_NODELAY): whether it is set. */
bool tcp_nodelay_of(xpoll_socket fd);
/* shutdown() of the sending half, of both halves; asserted to succeed. */
void shutdown_write(xpoll_socket fd);
void shutdown_both(xpoll_socket fd);
/* Closes a TCP socket with a reset instead of a FIN (SO_LINGER 0). */
void close_with_reset(xpoll_socket fd);

/* The I/O every pair kind takes: read(2), write(2) and close(2) on POSIX
 * systems, recv(), send() and closesocket() on Windows.  -1 with errno
 * set as read(2) and write(2) set it (EAGAIN when it would block). */
ssize_t fd_read(xpoll_socket fd, void *buf, size_t len);
ssize_t fd_write(xpoll_socket fd, const void *buf, size_t len);
int fd_close(xpoll_socket fd);

/* Make `fd` readable with one message (one byte, one datagram, +1). */
void put(enum pair_kind kind, xpoll_socket fds[2]);
/* Read from fds[0] until EAGAIN; returns the number of reads that
 * returned data (the eventfd read resets its counter). */
int drain(xpoll_socket fd);
/* Write to `fd` until EAGAIN; returns bytes written. */
size_t fill(xpoll_socket fd);
/* getsockopt(SO_ERROR): the pending error as an errno value. */
int so_error(xpoll_socket fd);
/* Waits (HANG_NS at most) until the system's own poll (poll(2), WSAPoll)
 * reports `fd` ready for `direction`, XPOLL_READABLE or XPOLL_WRITABLE. */
void wait_ready(xpoll_socket fd, xpoll_interests direction);
/* xpoll_accept once the listener polls readable: a connection is then in
 * its backlog (accept(2); Microsoft Learn, accept). */
xpoll_socket accept_wait(xpoll_socket listen_fd);
/* Sends `msg` (64 bytes at most) from `from` and checks that `to`
 * receives it intact. */
void assert_flows(xpoll_socket from, xpoll_socket to, const char *msg);
/* A descriptor that is closed (made and closed again): the calls under
 * test must find nothing open there. */
xpoll_socket closed_fd(void);
/* setenv(3), or unsetenv(3) when `value` is NULL; 0 or -1. */
int env_set(const char *name, const char *value);

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
/* expect_event() until `token` has reported every bit of `flags` (SEEN_*;
 * other events, such as an initial writable edge, may come first), ten
 * events at most; returns everything seen on the way. */
struct seen expect_flags(xpoll *poll, xpoll_events *events, xpoll_token token,
                         uint32_t flags);
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
 * or poll's waits, which the kqueue emulation uses too; on Windows: the
 * completion port's).  Such a call
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

/* Count of this process's open descriptors (Windows: handles), however
 * many (skips the test where the system cannot count them). */
int open_fd_count(void);

/* The backend under test (from a throwaway poll). */
xpoll_backend test_backend(void);
bool on_kqueue(void);
bool on_iocp(void);

/* For the known Wine gaps only (docs/windows.md, section 10), called
 * where the Windows behaviour the test asserts did not hold: under Wine
 * (platform_wine_version()), prints `what` as an expected failure and
 * ends the test as skipped; anywhere else, fails the test with it. */
void expected_failure_under_wine(const char *what);

/* Prepares the process (support_posix.c, support_windows.c: SIGPIPE
 * ignored, Winsock started) and runs the group; every main() calls
 * this. */
int run_group(const char *name, const struct CMUnitTest *tests, size_t count,
              CMFixtureFunction setup, CMFixtureFunction teardown);
#define RUN(tests, setup, teardown)                                            \
    run_group(__FILE__, tests, sizeof(tests) / sizeof(tests[0]), setup,        \
              teardown)

/* The system's part of run_group(), once per process. */
void support_system_init(void);

/* A fixture every test can use: a poll and a 64-event buffer. */
struct fixture {
    xpoll *poll;
    xpoll_events *events;
};
int fixture_setup(void **state);
int fixture_teardown(void **state);

#endif /* XPOLL_TESTS_SUPPORT_H */
