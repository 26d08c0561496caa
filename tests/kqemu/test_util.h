/*
 * Helpers shared by the kqemu fidelity tests.  "poll" means
 * kevent(kq, NULL, 0, ev, n, &{0,0}).
 */
#ifndef KQEMU_TEST_UTIL_H
#define KQEMU_TEST_UTIL_H

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
/* One change with EV_RECEIPT forced on; returns the receipt's data (0 or
 * errno) after asserting that exactly one EV_ERROR entry came back. */
int t_change(int kq, uintptr_t ident, short filter, unsigned short flags,
             unsigned int fflags, intptr_t data, void *udata);
/* kevent with a {0,0} timeout. */
int t_poll(int kq, struct kevent *ev, int n);
/* kevent with a timeout in milliseconds. */
int t_wait_ms(int kq, struct kevent *ev, int n, long ms);
void t_write(int fd, size_t n);
void t_read(int fd, size_t n);
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
/* Is knote (ident, filter) present?  Probed by EV_DELETE, so it is gone
 * afterwards. */
bool t_delete_ok(int kq, uintptr_t ident, short filter);

int kqt_run_changes(void);
int kqt_run_registration(void);
int kqt_run_filters(void);
int kqt_run_user_time_life(void);

#endif
