/*
 * The re-arm rule (xpoll_rearm, <xpoll/poll.h>), on every backend:
 *
 *  - xpoll_rearm checks its arguments as registration does; the poll and
 *    iocp backends answer -ENOENT for a descriptor they do not have, epoll
 *    and kqueue 0 (they make no system call and keep no table);
 *  - on poll and iocp a reported direction is not reported again until it
 *    is re-armed (epoll and kqueue: until a new edge), and a re-arm from
 *    another thread reaches a wait already blocked;
 *  - registration, re-arming and deregistration from many threads during
 *    waits keep every token.
 *
 * The I/O helpers of <xpoll/net.h> and what needs pipes are in
 * test_rearm_posix.c.  Each "no event" below follows a proof that the
 * descriptor's state would make the system's own poll report it
 * (wait_ready), and is a wait with timeout 0 unless the point is that a
 * wait blocks: no result depends on timing.
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

enum { TOKEN = 0x4ea4, OTHER = 0x07 };

/* The backends that ask the kernel level-triggered questions and keep a
 * table of registrations: there a reported direction waits for its
 * re-arm, and an unregistered descriptor is -ENOENT. */
static bool rearm_needed(const struct fixture *f)
{
    xpoll_backend b = xpoll_get_backend(f->poll);
    return b == XPOLL_BACKEND_POLL || b == XPOLL_BACKEND_IOCP;
}

static void readable_once(struct fixture *f)
{
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_int_equal(seen.events, 1);
    assert_true(seen.flags & SEEN_READABLE);
}

static void rearm_rejects_bad_arguments(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);

    assert_int_equal(xpoll_rearm(NULL, fds[0], XPOLL_READABLE), -EINVAL);
    assert_int_equal(xpoll_rearm(f->poll, -1, XPOLL_READABLE), -EBADF);
    assert_int_equal(xpoll_rearm(f->poll, INT32_MIN, XPOLL_READABLE), -EBADF);
    assert_int_equal(xpoll_rearm(f->poll, fds[0], 0), -EINVAL);
    assert_int_equal(xpoll_rearm(f->poll, fds[0], 0x20), -EINVAL);
    assert_int_equal(xpoll_rearm(f->poll, fds[0], XPOLL_READABLE | 0x80),
                     -EINVAL);
    /* An interest the backend lacks, as for registration. */
    xpoll_interests lacking = on_kqueue() ? XPOLL_PRIORITY : XPOLL_AIO;
    assert_int_equal(xpoll_rearm(f->poll, fds[0], lacking), -ENOTSUP);

    /* Several wrong at once: the first in the order of registration. */
    assert_int_equal(xpoll_rearm(NULL, -1, 0), -EINVAL);
    assert_int_equal(xpoll_rearm(f->poll, -1, 0), -EBADF);
    assert_int_equal(xpoll_rearm(f->poll, -1, lacking), -EBADF);
    assert_int_equal(xpoll_rearm(f->poll, fds[0], 0x80 | lacking), -EINVAL);

    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    pair_close(pair_simple, fds);
}

/* poll keeps the table, so it knows; epoll and kqueue make no system call
 * and cannot. */
static void rearm_of_an_unregistered_fd(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    int want = rearm_needed(f) ? -ENOENT : 0;
    pair_open(pair_simple, fds);

    assert_int_equal(xpoll_rearm(f->poll, fds[0], XPOLL_READABLE), want);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_rearm(f->poll, fds[0], XPOLL_READABLE), 0);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    assert_int_equal(xpoll_rearm(f->poll, fds[0], XPOLL_READABLE), want);
    /* Nothing came back to life: data now makes no event. */
    put(pair_simple, fds);
    wait_ready(fds[0], XPOLL_READABLE);
    expect_no_event(f->poll, f->events, 0);
    pair_close(pair_simple, fds);
}

/* Any direction may be named: one the registration lacks is ignored. */
static void rearm_of_a_registered_fd_is_zero(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_stream, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_rearm(f->poll, fds[0], XPOLL_READABLE), 0);
    assert_int_equal(xpoll_rearm(f->poll, fds[0], XPOLL_WRITABLE), 0);
    assert_int_equal(
        xpoll_rearm(f->poll, fds[0], XPOLL_READABLE | XPOLL_WRITABLE), 0);
    /* WRITABLE is not registered: a connected stream is writable, and no
     * re-arm makes that an event. */
    wait_ready(fds[0], XPOLL_WRITABLE);
    expect_no_event(f->poll, f->events, 0);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    pair_close(pair_stream, fds);
}

/* poll: the direction an event reported is not asked about until a re-arm,
 * not even when new data comes; the re-arm reports data that is still
 * there (a spurious event the contract allows).  epoll and kqueue: new
 * data is a new edge, and a re-arm does nothing. */
static void reported_direction_waits_for_rearm(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    readable_once(f);
    expect_no_event(f->poll, f->events, 0); /* every backend: one per edge */
    assert_int_equal(xpoll_rearm(f->poll, fds[0], XPOLL_READABLE), 0);
    if (rearm_needed(f)) {
        readable_once(f); /* still readable, asked again */
        put(pair_simple, fds);
        wait_ready(fds[0], XPOLL_READABLE);
        expect_no_event(f->poll, f->events, 0); /* disarmed: not asked */
        assert_int_equal(xpoll_rearm(f->poll, fds[0], XPOLL_READABLE), 0);
        readable_once(f);
    } else {
        expect_no_event(f->poll, f->events, 0); /* no new edge */
        put(pair_simple, fds);
        readable_once(f); /* the new edge */
    }
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    pair_close(pair_simple, fds);
}

/* reregister arms every direction it names, as a re-arm does. */
static void reregister_rearms(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    readable_once(f);
    expect_no_event(f->poll, f->events, 0);
    assert_int_equal(xpoll_reregister(f->poll, fds[0], OTHER, XPOLL_READABLE),
                     0);
    struct seen seen = expect_event(f->poll, f->events, OTHER);
    assert_true(seen.flags & SEEN_READABLE);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    pair_close(pair_simple, fds);
}

struct rearm_arg {
    xpoll *poll;
    xpoll_socket fd;
    int result;
};

static void rearm_now(void *arg)
{
    struct rearm_arg *a = arg;
    a->result = xpoll_rearm(a->poll, a->fd, XPOLL_READABLE);
}

/* poll: a re-arm from another thread reaches the wait that is already
 * blocked (it interrupts that poll() as a registration does). */
static void rearm_from_another_thread_reaches_a_blocked_wait(void **state)
{
    struct fixture *f = *state;
    if (!rearm_needed(f)) {
        print_message("skipped: the kernel re-arms by itself on this "
                      "backend; a re-arm does nothing to wake\n");
        skip();
    }
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    readable_once(f);
    struct rearm_arg arg = {f->poll, fds[0], 1};
    struct blocked_action b;
    blocked_action_start(&b, rearm_now, &arg);
    struct seen seen = {0};
    assert_int_equal(wait_once(f->poll, f->events, HANG_NS, TOKEN, &seen), 1);
    blocked_action_finish(&b);
    assert_int_equal(arg.result, 0);
    assert_true(seen.flags & SEEN_READABLE);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    pair_close(pair_simple, fds);
}

enum { CHURNERS = 4, CHURN_ROUNDS = 300, WAKER = 0x77aa };

struct churner {
    xpoll *poll;
    xpoll_waker *waker;
    xpoll_socket fds[2];
    xpoll_token token;
    int errors;
    atomic_int *finished;
    pthread_t thread;
};

static void *churn_main(void *arg)
{
    struct churner *c = arg;
    for (int r = 0; r < CHURN_ROUNDS; r++) {
        c->errors +=
            xpoll_register(c->poll, c->fds[0], c->token, XPOLL_READABLE) != 0;
        c->errors += xpoll_rearm(c->poll, c->fds[0], XPOLL_READABLE) != 0;
        c->errors += xpoll_reregister(c->poll, c->fds[0], c->token,
                                      XPOLL_READABLE | XPOLL_WRITABLE) != 0;
        c->errors += xpoll_rearm(c->poll, c->fds[0],
                                 XPOLL_READABLE | XPOLL_WRITABLE) != 0;
        c->errors += xpoll_deregister(c->poll, c->fds[0]) != 0;
    }
    if (atomic_fetch_add(c->finished, 1) == CHURNERS - 1)
        c->errors += xpoll_waker_wake(c->waker) != 0;
    return NULL;
}

/* Registration, re-arming and deregistration from several threads at once
 * while another waits (the poll backend shares one table under a lock):
 * every call succeeds, every event names a token in use, and once all is
 * deregistered a wait reports nothing.  The last thread to finish wakes
 * the waiter, so nothing here waits on a clock. */
static void changes_from_many_threads_during_waits(void **state)
{
    struct fixture *f = *state;
    struct churner c[CHURNERS];
    atomic_int finished;
    atomic_init(&finished, 0);
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(f->poll, WAKER, &waker), 0);
    for (int i = 0; i < CHURNERS; i++) {
        c[i] = (struct churner){
            .poll = f->poll,
            .waker = waker,
            .token = (xpoll_token)i,
            .finished = &finished,
        };
        pair_open(pair_stream, c[i].fds);
        put(pair_stream, c[i].fds); /* readable and writable */
        assert_int_equal(pthread_create(&c[i].thread, NULL, churn_main, &c[i]),
                         0);
    }
    long waits = 0, events = 0;
    bool woken = false;
    while (!woken || atomic_load(&finished) < CHURNERS) {
        int n = xpoll_wait(f->poll, f->events, -1);
        assert_true(n >= 0 || n == -EINTR);
        waits++;
        for (int e = 0; e < n; e++) {
            xpoll_token t =
                xpoll_event_token(xpoll_events_get(f->events, (size_t)e));
            woken = woken || t == WAKER;
            assert_true(t == WAKER || t < CHURNERS);
            events++;
        }
    }
    for (int i = 0; i < CHURNERS; i++) {
        assert_int_equal(pthread_join(c[i].thread, NULL), 0);
        assert_int_equal(c[i].errors, 0);
    }
    expect_no_event(f->poll, f->events, 0);
    for (int i = 0; i < CHURNERS; i++) {
        assert_int_equal(xpoll_rearm(f->poll, c[i].fds[0], XPOLL_READABLE),
                         rearm_needed(f) ? -ENOENT : 0);
        pair_close(pair_stream, c[i].fds);
    }
    xpoll_waker_free(waker);
    print_message("%ld waits, %ld events\n", waits, events);
}

/* Many registrations, half of them removed (poll moves the last entry into
 * each hole), then every remaining one drained and re-armed as the rule
 * says: each token arrives exactly once per round, and no removed one
 * comes back. */
static void registration_churn_keeps_every_token(void **state)
{
    struct fixture *f = *state;
    enum { N = 100 };
    xpoll_socket pipes[N][2];
    int seen[N];
    for (int i = 0; i < N; i++) {
        pair_open(pair_simple, pipes[i]);
        assert_int_equal(xpoll_register(f->poll, pipes[i][0], (xpoll_token)i,
                                        XPOLL_READABLE),
                         0);
    }
    for (int i = 1; i < N; i += 2)
        assert_int_equal(xpoll_deregister(f->poll, pipes[i][0]), 0);
    for (int round = 0; round < 3; round++) {
        memset(seen, 0, sizeof seen);
        for (int i = 0; i < N; i++)
            put(pair_simple, pipes[i]);
        int got = 0;
        int64_t deadline = now_ns() + HANG_NS;
        while (got < N / 2 && now_ns() < deadline) {
            int n = xpoll_wait(f->poll, f->events, 100 * MS);
            assert_true(n >= 0);
            for (int e = 0; e < n; e++) {
                xpoll_token t =
                    xpoll_event_token(xpoll_events_get(f->events, (size_t)e));
                assert_true(t < N);
                assert_int_equal(t % 2, 0); /* never a removed one */
                assert_int_equal(seen[t]++, 0);
                got++;
            }
        }
        assert_int_equal(got, N / 2);
        for (int i = 0; i < N; i += 2) {
            assert_true(drain(pipes[i][0]) >= 1);
            assert_int_equal(xpoll_rearm(f->poll, pipes[i][0], XPOLL_READABLE),
                             0);
        }
        for (int i = 1; i < N; i += 2)
            assert_true(drain(pipes[i][0]) >= 1);
        expect_no_event(f->poll, f->events, 0);
    }
    for (int i = 0; i < N; i++) {
        if (i % 2 == 0)
            assert_int_equal(xpoll_deregister(f->poll, pipes[i][0]), 0);
        pair_close(pair_simple, pipes[i]);
    }
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(rearm_rejects_bad_arguments),
        T(rearm_of_an_unregistered_fd),
        T(rearm_of_a_registered_fd_is_zero),
        T(reported_direction_waits_for_rearm),
        T(reregister_rearms),
        T(rearm_from_another_thread_reaches_a_blocked_wait),
        T(registration_churn_keeps_every_token),
        T(changes_from_many_threads_during_waits),
    };
    return RUN(tests, NULL, NULL);
}
