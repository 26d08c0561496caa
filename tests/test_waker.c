/*
 * The waker: one readable event per wake the loop has not yet seen, wakes
 * coalesce, it works from other threads and from signal handlers, one per
 * poll, and no wake is ever lost under contention.
 */
#define _GNU_SOURCE
#include "support_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { WAKER = 0xa11ce };

struct waker_fixture {
    xpoll *poll;
    xpoll_events *events;
    xpoll_waker *waker;
};

static int waker_setup(void **state)
{
    struct waker_fixture *f = calloc(1, sizeof *f);
    if (f == NULL || xpoll_new(&f->poll) != 0 ||
        xpoll_events_new(&f->events, 16) != 0 ||
        xpoll_waker_new(f->poll, WAKER, &f->waker) != 0)
        return -1;
    *state = f;
    return 0;
}

static int waker_teardown(void **state)
{
    struct waker_fixture *f = *state;
    xpoll_waker_free(f->waker);
    xpoll_events_free(f->events);
    xpoll_free(f->poll);
    free(f);
    return 0;
}

/* A wait that returned `n` got exactly one event, the waker's, readable
 * and nothing else. */
static void check_waker_event(struct waker_fixture *f, int n)
{
    assert_int_equal(n, 1);
    const xpoll_event *ev = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(ev), WAKER);
    assert_true(xpoll_event_is_readable(ev));
    assert_false(xpoll_event_is_writable(ev));
    assert_false(xpoll_event_is_error(ev));
    assert_false(xpoll_event_is_read_closed(ev));
}

static void expect_waker_event(struct waker_fixture *f, int64_t timeout_ns)
{
    check_waker_event(f, xpoll_wait(f->poll, f->events, timeout_ns));
}

static void no_wake_no_event(void **state)
{
    struct waker_fixture *f = *state;
    expect_no_event(f->poll, f->events, 20 * MS);
}

/* The wake is pending before the wait starts: even a wait that may not
 * block (timeout 0) reports it. */
static void wake_before_wait(void **state)
{
    struct waker_fixture *f = *state;
    assert_int_equal(xpoll_waker_wake(f->waker), 0);
    expect_waker_event(f, 0);
}

static void wakes_coalesce(void **state)
{
    struct waker_fixture *f = *state;
    for (int i = 0; i < 100; i++)
        assert_int_equal(xpoll_waker_wake(f->waker), 0);
    expect_waker_event(f, SEC);
    expect_no_event(f->poll, f->events, 10 * MS);
}

static void wake_after_delivery_is_new_event(void **state)
{
    struct waker_fixture *f = *state;
    for (int round = 0; round < 5; round++) {
        assert_int_equal(xpoll_waker_wake(f->waker), 0);
        expect_waker_event(f, SEC);
        expect_no_event(f->poll, f->events, 0);
    }
}

static void waker_beside_other_events(void **state)
{
    struct waker_fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 7, XPOLL_READABLE), 0);
    put(PAIR_PIPE, fds);
    assert_int_equal(xpoll_waker_wake(f->waker), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, SEC), 2);
    xpoll_token a = xpoll_event_token(xpoll_events_get(f->events, 0));
    xpoll_token b = xpoll_event_token(xpoll_events_get(f->events, 1));
    assert_true((a == 7 && b == WAKER) || (a == WAKER && b == 7));
    expect_no_event(f->poll, f->events, 0);
    pair_close(PAIR_PIPE, fds);
}

struct waking {
    xpoll_waker *waker;
    int rc;
};

static void wake(void *arg)
{
    struct waking *w = arg;
    w->rc = xpoll_waker_wake(w->waker);
}

/* Another thread wakes the poll once this thread is proven asleep in an
 * unbounded wait (a wake that is pending before the wait would prove
 * nothing); the wait must return with the waker's event.  If waking a
 * blocked wait did not work, the wait would never return: HANG_NS, not -1,
 * turns that into a failure. */
static void wake_from_thread_while_blocked(void **state)
{
    struct waker_fixture *f = *state;
    struct waking w = {.waker = f->waker, .rc = 1};
    struct blocked_action b;
    blocked_action_start(&b, wake, &w);
    int n = xpoll_wait(f->poll, f->events, HANG_NS);
    blocked_action_finish(&b);
    assert_int_equal(w.rc, 0);
    check_waker_event(f, n);
    expect_no_event(f->poll, f->events, 0);
}

static void second_waker_is_eexist(void **state)
{
    struct waker_fixture *f = *state;
    xpoll_waker *second = (xpoll_waker *)&second;
    assert_int_equal(xpoll_waker_new(f->poll, 1, &second), -EEXIST);
    assert_null(second);
    /* The first one is unharmed. */
    assert_int_equal(xpoll_waker_wake(f->waker), 0);
    expect_waker_event(f, SEC);
}

static void waker_can_be_replaced(void **state)
{
    struct waker_fixture *f = *state;
    xpoll_waker_free(f->waker);
    f->waker = NULL;
    expect_no_event(f->poll, f->events, 0);
    assert_int_equal(xpoll_waker_new(f->poll, WAKER, &f->waker), 0);
    assert_int_equal(xpoll_waker_wake(f->waker), 0);
    expect_waker_event(f, SEC);
}

static void waker_new_rejects_null(void **state)
{
    struct waker_fixture *f = *state;
    xpoll_waker *w = (xpoll_waker *)&w;
    assert_int_equal(xpoll_waker_new(NULL, 1, &w), -EINVAL);
    assert_null(w);
    assert_int_equal(xpoll_waker_new(f->poll, 1, NULL), -EINVAL);
    assert_int_equal(xpoll_waker_wake(NULL), -EINVAL);
}

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

/* ---- no lost wake under contention --------------------------------------- */

enum { PRODUCERS = 4, ITEMS = 20000 };

struct contention {
    xpoll_waker *waker;
    atomic_int produced;
    int failures;
    pthread_t threads[PRODUCERS];
};

static void *produce(void *arg)
{
    struct contention *c = arg;
    for (int i = 0; i < ITEMS; i++) {
        atomic_fetch_add(&c->produced, 1);
        if (xpoll_waker_wake(c->waker) != 0)
            c->failures++;
    }
    return NULL;
}

/* The libuv async pattern: publish, then wake; the loop consumes after
 * each waker event.  A lost wake leaves items unseen and the loop waiting
 * for an event that never comes. */
static void no_wake_lost_under_contention(void **state)
{
    struct waker_fixture *f = *state;
    struct contention c = {.waker = f->waker};
    atomic_init(&c.produced, 0);
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_create(&c.threads[i], NULL, produce, &c), 0);

    int consumed = 0, wakeups = 0;
    while (consumed < PRODUCERS * ITEMS) {
        /* Every item published after the last load comes with a wake,
         * so the wait ends at once unless a wake was lost. */
        int n = xpoll_wait(f->poll, f->events, HANG_NS);
        if (n == 0)
            fail_msg("lost wake: %d of %d items seen", consumed,
                     PRODUCERS * ITEMS);
        assert_int_equal(n, 1);
        wakeups++;
        consumed = atomic_load(&c.produced);
    }
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_join(c.threads[i], NULL), 0);
    assert_int_equal(c.failures, 0);
    /* Never more events than wakes. */
    assert_true(wakeups <= PRODUCERS * ITEMS);
    /* Quiet afterwards, unless the last wakes raced with the last event. */
    int n = xpoll_wait(f->poll, f->events, 0);
    assert_true(n == 0 || n == 1);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, waker_setup, waker_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(no_wake_no_event),
        T(wake_before_wait),
        T(wakes_coalesce),
        T(wake_after_delivery_is_new_event),
        T(waker_beside_other_events),
        T(wake_from_thread_while_blocked),
        T(second_waker_is_eexist),
        T(waker_can_be_replaced),
        T(waker_new_rejects_null),
        cmocka_unit_test(waker_descriptors_are_cloexec_and_freed),
        T(wake_from_signal_handler),
        T(wake_from_handler_during_registration),
        T(no_wake_lost_under_contention),
    };
    return RUN(tests, NULL, NULL);
}
