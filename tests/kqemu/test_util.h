/*
 * Helpers shared by the kqemu fidelity tests.  "poll" means
 * kevent(kq, NULL, 0, ev, n, &{0,0}).
 */
#ifndef KQEMU_TEST_UTIL_H
#define KQEMU_TEST_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include "kqemu.h"

#define IS_DARWIN (kqemu_personality() == KQEMU_DARWIN)

int t_kqueue(void);
void t_pipe(int p[2]);
void t_socketpair(int s[2]);
void t_close(int fd);
struct kevent t_kev(uintptr_t ident, short filter, unsigned short flags,
                    unsigned int fflags, intptr_t data, void *udata);
/* One change with EV_RECEIPT forced on; asserts that exactly one EV_ERROR
 * entry for (ident, filter) came back and returns it. */
struct kevent t_receipt(int kq, uintptr_t ident, short filter,
                        unsigned short flags, unsigned int fflags,
                        intptr_t data, void *udata);
/* t_receipt's data: 0 or the errno of the change. */
int t_change(int kq, uintptr_t ident, short filter, unsigned short flags,
             unsigned int fflags, intptr_t data, void *udata);
/* One change whose receipt must carry err (0: applied). */
void t_expect_receipt(int kq, uintptr_t ident, short filter,
                      unsigned short flags, int err);
/* EV_ADD | flags, which must be applied; t_add_udata with that udata. */
void t_add(int kq, uintptr_t ident, short filter, unsigned short flags);
void t_add_udata(int kq, uintptr_t ident, short filter, unsigned short flags,
                 void *udata);
/* Is knote (ident, filter) present?  Probed by EV_DELETE, so it is gone
 * afterwards. */
bool t_delete_ok(int kq, uintptr_t ident, short filter);
/* Asserts that the call returns -1 with errno err.  errno is cleared
 * before the call, so a value left by an earlier call cannot pass. */
#define t_expect_errno(call, err) t_expect_errno_((errno = 0, (call)), (err))
void t_expect_errno_(long r, int err);

/* kevent with a {0,0} timeout. */
int t_poll(int kq, struct kevent *ev, int n);
/* kevent with a timeout in milliseconds. */
int t_wait_ms(int kq, struct kevent *ev, int n, long ms);

/* ---- Expected events --------------------------------------------------
 * In the manner of mio's expect_events (mio tests/util/mod.rs): a test
 * names the events a poll must report, and the helper finds each among the
 * reported ones, in any order.  Stricter than mio's, which polls up to
 * three times and lets sporadic events pass: here one poll with a zero
 * timeout must report exactly the events named, because every test first
 * proves the state it asks about and the emulator reads that state when it
 * collects.  An event is matched by ident and filter (a kqueue holds one
 * knote per pair, so a poll reports a pair at most once; entries of one
 * pair in a list of receipts are matched in order) and then checked on the
 * fields its T_EV names:
 *
 *   t_expect(kq, T_EV(rd, EVFILT_READ, T_DATA(2), T_WITHOUT(EV_EOF)),
 *            T_EV(wr, EVFILT_WRITE));
 *   t_expect_none(kq);
 */
struct t_ev {
    uintptr_t ident;
    short filter;
    unsigned short with;    /* T_WITH: flag bits that must be set */
    unsigned short without; /* T_WITHOUT: flag bits that must be clear */
    bool has_flags, has_fflags, has_data, has_data_min, has_udata;
    unsigned short flags; /* T_FLAGS: the exact flags */
    unsigned int fflags;  /* T_FFLAGS */
    intptr_t data;        /* T_DATA */
    intptr_t data_min;    /* T_DATA_MIN: data >= this */
    void *udata;          /* T_UDATA */
};
#define T_EV(id, ...)                                                          \
    {                                                                          \
        .ident = (uintptr_t)(id), .filter = __VA_ARGS__                        \
    }
#define T_WITH(bits)    .with = (bits)
#define T_WITHOUT(bits) .without = (bits)
#define T_FLAGS(f)      .has_flags = true, .flags = (f)
#define T_FFLAGS(f)     .has_fflags = true, .fflags = (f)
#define T_DATA(n)       .has_data = true, .data = (n)
#define T_DATA_MIN(n)   .has_data_min = true, .data_min = (n)
#define T_UDATA(p)      .has_udata = true, .udata = (p)

/* The most events one t_expect poll collects. */
#define T_MAX_EVENTS 8
#define T_EVS_(...)                                                            \
    (const struct t_ev[]){__VA_ARGS__},                                        \
        (int)(sizeof((const struct t_ev[]){__VA_ARGS__}) /                     \
              sizeof(struct t_ev))
/* Polls kq once and asserts it reports exactly the events given. */
#define t_expect(kq, ...) t_expect_events((kq), NULL, T_EVS_(__VA_ARGS__))
/* The same, and copies the event that matched the i-th T_EV to got[i]. */
#define t_expect_into(kq, got, ...)                                            \
    t_expect_events((kq), (got), T_EVS_(__VA_ARGS__))
/* Asserts that the n events in ev (from a kevent() the test made itself)
 * are exactly the events given, in any order. */
#define t_expect_in(ev, n, ...)                                                \
    t_match_events((ev), (n), false, NULL, T_EVS_(__VA_ARGS__))
/* Asserts that the n entries in ev are EV_ERROR entries (receipts, or the
 * errors of changes), exactly the ones given and in that order: kevent()
 * writes them in the order of the changelist (kevent(2)). */
#define t_expect_receipts(ev, n, ...)                                          \
    t_match_events((ev), (n), true, NULL, T_EVS_(__VA_ARGS__))
/* Polls kq once and asserts that it reports nothing. */
void t_expect_none(int kq);
void t_expect_events(int kq, struct kevent *got, const struct t_ev *want,
                     int nwant);
void t_match_events(const struct kevent *ev, int n, bool receipts,
                    struct kevent *got, const struct t_ev *want, int nwant);

/* ---- Fixtures ----------------------------------------------------------
 * cmocka setups that hand a test (through *state) a kqueue and up to two
 * non-blocking descriptors; t_teardown closes those of kq, fd[0] and fd[1]
 * that are still >= 0, in that order.  A test that closes one of them
 * itself does it with t_fx_close, which sets it to -1, so that the
 * teardown does not close the number again. */
struct t_fx {
    int kq;
    union {
        int fd[2];
        struct {
            int rd, wr; /* t_setup_pipe: the read and the write end */
        };
        struct {
            int client, server; /* t_setup_tcp */
        };
    };
};
int t_setup_kqueue(void **state);     /* no descriptor: fd[] is -1 */
int t_setup_pipe(void **state);       /* rd, wr */
int t_setup_socketpair(void **state); /* fd[]: an AF_UNIX stream pair */
int t_setup_tcp(void **state);        /* client, server: from t_tcp_pair */
int t_teardown(void **state);
void t_fx_close(struct t_fx *f, int fd);
#define T_TEST(test, setup)                                                    \
    cmocka_unit_test_setup_teardown(test, setup, t_teardown)

/* Writes (reads) exactly n bytes, n <= T_IO_MAX, in one call. */
#define T_IO_MAX 65536
void t_write(int fd, size_t n);
void t_read(int fd, size_t n);
/* Writes to the non-blocking fd until it fails with EAGAIN (a pipe or a
 * socket buffer is full); returns the bytes written. */
size_t t_fill(int fd);
/* Reads from the non-blocking fd until it fails with EAGAIN (nothing is
 * left to read yet); returns the bytes read. */
size_t t_drain(int fd);
const struct kevent *t_find(const struct kevent *ev, int n, uintptr_t ident,
                            short filter);
double t_now_ms(void);
void t_sleep_ms(long ms);

/* How long a helper below waits for a condition before it reports a hang.
 * Only a hang ever takes this long: the conditions are events the kernel
 * delivers (a TCP segment on loopback, a thread going to sleep). */
#define T_HANG_MS 30000L

/* Blocks until poll(2) reports every bit of `events` on fd; fails the test
 * after T_HANG_MS. */
void t_wait_poll(int fd, short events);
/* tcp_info.tcpi_state of a TCP socket (TCP_SYN_SENT, TCP_ESTABLISHED...). */
int t_tcp_state(int fd);
/* Blocks until the accept queue of TCP listener l holds n connections:
 * tcp_info.tcpi_unacked of a listener is its sk_ack_backlog (Linux
 * net/ipv4/tcp.c, tcp_get_info).  Fails the test after T_HANG_MS. */
void t_wait_accept_queue(int l, unsigned int n);

/* The calling thread's id, for t_wait_blocked from another thread. */
pid_t t_gettid(void);
/* The system call a blocked thread sleeps in, and its arguments. */
struct t_blocked {
    long nr;
    unsigned long arg[6];
};
/* Waits until thread tid of this process sleeps in the system call that a
 * waiting kevent() makes (epoll_pwait2, or epoll_wait on a kernel without
 * it) and fills *out.  Returns 0, or -1 after T_HANG_MS.  Asserts nothing,
 * so any thread may call it. */
int t_wait_blocked(pid_t tid, struct t_blocked *out);
/* Is the wait in *b one without a timeout (NULL timespec, or -1 ms)? */
bool t_blocked_forever(const struct t_blocked *b);

/* A thread that makes one kevent(kq, NULL, 0, ev, 4, timeout) call. */
struct t_waiter {
    int kq;
    const struct timespec *timeout;
    int n;   /* what kevent() returned */
    int err; /* errno when n is -1 */
    struct kevent ev[4];
    pid_t tid;
    pthread_t th;
    pthread_barrier_t started;
};
/* Starts the thread; returns once w->tid is set, before the call. */
void t_waiter_start(struct t_waiter *w, int kq, const struct timespec *timeout);
/* Starts a waiter without a timeout and asserts that it is seen asleep in
 * the kernel's wait, with no timeout either (t_wait_blocked). */
void t_waiter_asleep(struct t_waiter *w, int kq);
/* Joins it; fails the test if the call has not returned after T_HANG_MS. */
void t_waiter_join(struct t_waiter *w);

/* Every epoll wait the emulator asks the kernel for goes through this
 * executable's epoll_pwait2 and epoll_wait (test_util.c), which count the
 * ones that may sleep, made by the thread that last called t_waits_reset()
 * since that call (a thread another test left blocked does not count). */
struct t_waits {
    long sleeping;     /* calls with a timeout other than zero */
    long long longest; /* their longest timeout in ns, LLONG_MAX for a call
                        * without one; 0 when there was no call */
};
void t_waits_reset(void);
void t_waits(struct t_waits *out);

/* TCP loopback pair: *listener (unless NULL is wanted, closed), client,
 * accepted server side; all non-blocking. */
void t_tcp_pair(int *client, int *server);
/* A non-blocking socket of `type` bound to 127.0.0.1 on a free port;
 * its address in *a. */
struct sockaddr_in;
int t_loopback_socket(int type, struct sockaddr_in *a);
int t_tcp_listener(uint16_t *port);
/* A non-blocking TCP socket connecting to 127.0.0.1:port, the connection
 * in progress or made. */
int t_tcp_connect(uint16_t port);

int kqt_run_changes(void);
int kqt_run_registration(void);
int kqt_run_filters(void);
int kqt_run_user_time_life(void);

#endif
