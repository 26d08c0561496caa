/*
 * xpoll_wait and signals: a signal that lands in a blocked wait returns
 * -EINTR, SA_RESTART or not.  Built for POSIX systems only (the iocp
 * backend waits without alerts: no -EINTR there).
 */
#define _GNU_SOURCE
#include "support_posix.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

/* ---- signals --------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
}

struct killer {
    pthread_t target;
    int rc;
};

static void send_signal(void *arg)
{
    struct killer *k = arg;
    k->rc = pthread_kill(k->target, SIGUSR1);
}

/* The signal is sent once this thread is proven blocked in the wait, so it
 * lands inside the wait, not before it. */
static void interrupted_wait(struct fixture *f, int sa_flags)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = sa_flags;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);

    struct killer k = {.target = pthread_self(), .rc = -1};
    struct blocked_action b;
    blocked_action_start(&b, send_signal, &k);
    int n = xpoll_wait(f->poll, f->events, HANG_NS);
    blocked_action_finish(&b);
    assert_int_equal(k.rc, 0);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    /* Returned, not retried: the caller decides what a signal means. */
    assert_int_equal(n, -EINTR);
    assert_int_equal(xpoll_events_len(f->events), 0);
    /* And the poll keeps working. */
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
}

static void signal_interrupts_wait(void **state)
{
    interrupted_wait(*state, 0);
}

static void signal_interrupts_wait_despite_sa_restart(void **state)
{
    /* epoll_wait and kevent are never restarted (signal(7); FreeBSD
     * kqueue_scan turns ERESTART into EINTR). */
    interrupted_wait(*state, SA_RESTART);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(signal_interrupts_wait),
        T(signal_interrupts_wait_despite_sa_restart),
    };
    return RUN(tests, NULL, NULL);
}
