/*
 * test_waker.c's subjects where they need POSIX: the waker's descriptors
 * are close-on-exec and freed with it, and a wake from a signal handler
 * works, also while the thread is inside the library.  Built for POSIX
 * systems only.
 */
#define _GNU_SOURCE
#include "support_posix.h"
#include "waker_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void waker_descriptors_are_cloexec_and_freed(void **state)
{
    (void)state;
    struct fd_set_snapshot before;
    int fds[8];
    xpoll *poll;
    xpoll_waker *waker;

    fd_snapshot(&before);
    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_waker_new(poll, 1, &waker), 0);
    int n = fds_opened_since(&before, fds, 8);
    assert_true(n >= 1 && n <= 8);
    for (int i = 0; i < n; i++) {
        int fl = fcntl(fds[i], F_GETFD);
        assert_true(fl >= 0);
        assert_true(fl & FD_CLOEXEC);
    }
    xpoll_waker_free(waker);
    xpoll_free(poll);
    assert_int_equal(fds_opened_since(&before, fds, 8), 0);
}

/* ---- from a signal handler ----------------------------------------------- */

static xpoll_waker *signal_waker;
static volatile sig_atomic_t handler_rc = 1;
static volatile sig_atomic_t handler_runs;

static void wake_in_handler(int sig)
{
    (void)sig;
    handler_rc = xpoll_waker_wake(signal_waker);
    handler_runs++;
}

/* SIGUSR2 now runs wake_in_handler on `waker`; the old action goes to
 * `old`, for the test to restore. */
static void wake_on_sigusr2(xpoll_waker *waker, struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wake_in_handler;
    sigemptyset(&sa.sa_mask);
    signal_waker = waker;
    assert_int_equal(sigaction(SIGUSR2, &sa, old), 0);
}

static void wake_from_signal_handler(void **state)
{
    struct waker_fixture *f = *state;
    struct sigaction old;
    wake_on_sigusr2(f->waker, &old);
    handler_rc = 1;

    errno = 12345;
    assert_int_equal(raise(SIGUSR2), 0);
    assert_int_equal(errno, 12345); /* the handler preserved errno */
    assert_int_equal(handler_rc, 0);
    expect_waker_event(f, SEC);
    assert_int_equal(sigaction(SIGUSR2, &old, NULL), 0);
}

/* A handler may interrupt the thread anywhere, including inside the
 * library or the kernel interface (an emulated kevent holding its lock, a
 * close() being interposed): waking from there must not deadlock. */
struct signaller {
    pthread_t target, thread;
    atomic_int stop;
    int sent;
};

static void *signal_storm(void *arg)
{
    struct signaller *s = arg;
    while (!atomic_load(&s->stop)) {
        if (pthread_kill(s->target, SIGUSR2) == 0)
            s->sent++;
        struct timespec ts = {0, 20 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void *watchdog(void *arg)
{
    atomic_int *done = arg;
    int64_t deadline = now_ns() + HANG_NS;
    while (!atomic_load(done) && now_ns() < deadline)
        sleep_ms(50);
    if (!atomic_load(done)) {
        static const char msg[] = "deadlock: wake from a signal handler\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(1);
    }
    return NULL;
}

static void wake_from_handler_during_registration(void **state)
{
    struct waker_fixture *f = *state;
    struct sigaction old;
    wake_on_sigusr2(f->waker, &old);

    atomic_int done;
    atomic_init(&done, 0);
    pthread_t dog;
    assert_int_equal(pthread_create(&dog, NULL, watchdog, &done), 0);
    struct signaller s = {.target = pthread_self()};
    atomic_init(&s.stop, 0);
    assert_int_equal(pthread_create(&s.thread, NULL, signal_storm, &s), 0);

    /* At least 200 handled signals over at least 20 rounds of
     * registration (and 300 ms): how long that takes depends on the
     * machine, so only the watchdog bounds it, to catch a deadlock. */
    handler_runs = 0;
    int64_t start = now_ns();
    int rounds = 0;
    while (now_ns() - start < 300 * MS || handler_runs < 200 || rounds < 20) {
        int fds[2];
        pair_open(PAIR_PIPE, fds);
        assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
        assert_int_equal(xpoll_reregister(f->poll, fds[0], 2, XPOLL_READABLE),
                         0);
        assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
        pair_close(PAIR_PIPE, fds);
        int n = xpoll_wait(f->poll, f->events, 0);
        assert_true(n >= 0 || n == -EINTR);
        rounds++;
    }
    atomic_store(&s.stop, 1);
    assert_int_equal(pthread_join(s.thread, NULL), 0);
    atomic_store(&done, 1);
    assert_int_equal(pthread_join(dog, NULL), 0);
    assert_int_equal(sigaction(SIGUSR2, &old, NULL), 0);
    assert_int_equal(handler_rc, 0);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, waker_setup, waker_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(waker_descriptors_are_cloexec_and_freed),
        T(wake_from_signal_handler),
        T(wake_from_handler_during_registration),
    };
    return RUN(tests, NULL, NULL);
}
